/* rpc_reply.h - replies, records and query results encoded as msgpack maps */
#ifndef LSTD_RPC_REPLY_H
#define LSTD_RPC_REPLY_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"
#include "rpc_repl.h"
#include "rpc_rates.h"
#include "rpc_request.h"

/* The largest reply lstd makes (a page of records: at most RPC_REPLY_MAX_BYTES, pages stop
 * early to stay within it), the largest record without its listed accounts and what each
 * listed account adds (bin 8 header and 32 bytes), and the largest reply to a transaction or
 * an error reply. test_rpc_reply checks them against the largest records and replies it can
 * build. */
#define RPC_RECORD_MAX_BYTES 512
#define RPC_RECORD_ACCOUNT_BYTES 34
#define RPC_REPLY_MAX_BYTES (1024u * 1024u)
#define RPC_SMALL_REPLY_MAX 1024

/* Server-wide figures the health query reports (filled by the server). */
typedef struct rpc_counters {
    uint64_t requests, transactions, queries, batches, batch_size_max, commit_ms_total;
    uint64_t busy, malformed, bad_signatures, duplicates, replies_dropped, simulations;
    uint64_t busy_unread, paused_unread, paused_share, refused, protocol_drops, slow_drops;
    uint64_t auth_failures; /* CURVE: connections refused for their key, or revoked */
    uint64_t subscriptions_ignored, events_dropped;
    uint64_t queue_depth, queue_max, uptime_s;
    uint64_t connections, subscribers, subscriptions, reply_bytes; /* now */
    bool replicated; /* repl holds the replication figures */
    rpc_repl_status repl;
} rpc_counters;

/** Encode an error reply {id, ok: false, error, message} into buf (cleared first).
 *  Returns: 0, or -1 when out of memory. */
int rpc_reply_error(msgpack_sbuffer *buf, const rpc_id *id, int code, const char *message);

/** Encode a NOT_LEADER error reply: {id, ok: false, error, message, leader} where leader is
 *  the leading replica's advertised request endpoint, or nil when none is known (leader NULL
 *  or ""). Returns: 0, or -1 when out of memory. */
int rpc_reply_not_leader(msgpack_sbuffer *buf, const rpc_id *id, const char *message,
                         const char *leader);

/** Encode the reply to a transaction (PROTOCOL.md, "Transaction reply"): ok, error/message
 *  on failure, and result whenever res->seq != 0 (recorded). hash is the transaction hash.
 *  Returns: 0 or -1 (out of memory). */
int rpc_reply_tx(msgpack_sbuffer *buf, const rpc_id *id, const ledger_tx *tx,
                 const uint8_t hash[LEDGER_HASH_SIZE], const ledger_result *res);

/** Encode the reply to a simulated transaction (PROTOCOL.md, "Simulation"): as rpc_reply_tx
 *  for the result the transaction would have now, with simulated: true, the nonce it was
 *  simulated with, and recorded: false unless it is a duplicate of a recorded one.
 *  Returns: 0 or -1 (out of memory). */
int rpc_reply_simulated(msgpack_sbuffer *buf, const rpc_id *id, const ledger_tx *tx,
                        const uint8_t hash[LEDGER_HASH_SIZE], const ledger_result *res);

/** Pack one history record as the PROTOCOL.md record map.
 *  Returns: 0, or nonzero when out of memory. */
int rpc_pack_record(msgpack_packer *pk, const ledger_record *r);

/** Run a query on a read view and encode its reply (success or NOT_FOUND, OUT_OF_RANGE,
 *  POOL_EMPTY and OVERFLOW (quote), INTERNAL error replies). `now` is the server's clock
 *  (seconds): the query's time is max(now, the last batch time), the time the next batch would
 *  use, and every figure that depends on time (the rate as rewards vest, values, quotes, the
 *  stake limit, fees in force, the epoch) is given as of it. The same view and `now` give the
 *  same bytes. counters is used by the health query only, rates by rate_history and operators
 *  only (NULL: they answer INTERNAL). Returns: 0 or -1 (out of memory). */
int rpc_reply_query(msgpack_sbuffer *buf, ledger_store *view, const rpc_request *req, uint64_t now,
                    const rpc_counters *counters, rpc_rates *rates);

/* ---- packing helpers shared by rpc_reply.c and rpc_query.c ------------------------------ */

/** Open a reply map: {id (when present), ok, ...} with `more` further pairs for the caller.
 *  rpc_pack_key packs a key (str) alone; the other helpers a key and its value.
 *  Returns: 0, or nonzero when out of memory. */
int rpc_pack_head(msgpack_packer *pk, const rpc_id *id, bool ok, uint32_t more);
int rpc_pack_key(msgpack_packer *pk, const char *key);
int rpc_pack_u64(msgpack_packer *pk, const char *key, uint64_t v);
/** Pack key and a 128-bit total as a string of decimal digits (msgpack has no 128-bit int). */
int rpc_pack_u128(msgpack_packer *pk, const char *key, ledger_u128 v);
int rpc_pack_bool(msgpack_packer *pk, const char *key, bool v);
int rpc_pack_str(msgpack_packer *pk, const char *key, const char *s);
int rpc_pack_bin(msgpack_packer *pk, const char *key, const uint8_t *bytes, size_t len);

/** Pack a transaction request as PROTOCOL.md describes it (the client side): id (omitted
 *  when id is NULL or absent), op, signer, nonce, the kind's fields in table order, sig, and
 *  ledger when not NULL. Returns: 0, or nonzero when out of memory or the kind is unknown. */
int rpc_pack_tx_request(msgpack_packer *pk, const rpc_id *id, const ledger_tx *tx,
                        const uint8_t sig[LEDGER_SIG_SIZE], const char *ledger);

/** As rpc_pack_tx_request, with "simulate": true when simulate (PROTOCOL.md, "Simulation"):
 *  the server answers what the transaction would do now and records nothing. */
int rpc_pack_tx_request_as(msgpack_packer *pk, const rpc_id *id, const ledger_tx *tx,
                           const uint8_t sig[LEDGER_SIG_SIZE], const char *ledger, bool simulate);

#endif
