/* rpc_query.h - what the query files share: the query being answered and packing helpers */
#ifndef LSTD_RPC_QUERY_H
#define LSTD_RPC_QUERY_H

#include "rpc_reply.h"

#define RPC_QUERY_NOMEM (-1000) /* a pack failed: out of memory (never a ledger code) */

/* One query being answered (rpc_reply_query). */
typedef struct rpc_query_ctx {
    msgpack_packer *pk;
    ledger_store *view;
    const rpc_request *req;
    const rpc_counters *counters;
    rpc_rates *rates;
    uint64_t clock;      /* the server's clock; the query's time is max(clock, last batch time) */
    const char *message; /* set with a NOT_FOUND or OUT_OF_RANGE to say what is wrong */
} rpc_query_ctx;

/** Returns: LEDGER_OK, or RPC_QUERY_NOMEM when the pack (nonzero) failed. */
static inline int rpc_packed(int pack_rc)
{
    return pack_rc ? RPC_QUERY_NOMEM : LEDGER_OK;
}

/** Pack key and nil. Returns: 0 or nonzero (out of memory). */
int rpc_pack_nil(msgpack_packer *pk, const char *key);

/** Pack key and a fee map {bps, pending_bps, pending_at, in_force_bps} (the fee in force at
 *  `now`). Returns: 0 or nonzero (out of memory). */
int rpc_pack_fee(msgpack_packer *pk, const char *key, const ledger_fee *f, uint64_t now);

/** The pool as the next batch would see it, vested to the query's time (max(clock, last batch
 *  time)). Out: *p, *c, *now (c and now may be NULL). Returns: LEDGER_OK or a store code. */
int rpc_query_pool_now(rpc_query_ctx *q, ledger_pool *p, ledger_chain *c, uint64_t *now);

/** Returns: floor(part * 10000 / (A + U)), a share of the pooled assets (0 when empty). */
uint64_t rpc_share_of_pooled_bps(uint64_t part, const ledger_pool *p);

/* The committee's queries (rpc_query_oracle.c). Returns: LEDGER_OK, a request code, a store
 * code or RPC_QUERY_NOMEM. */
int rpc_q_votes(rpc_query_ctx *q);
int rpc_q_operators(rpc_query_ctx *q);

#endif
