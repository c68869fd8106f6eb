/* rpc_repl.h - replication of the batch log through NATS JetStream: leader, followers, lease */
#ifndef LSTD_RPC_REPL_H
#define LSTD_RPC_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc_config.h"
#include "store_db.h"

/* One ledger, one JetStream stream (PROTOCOL.md, "Replication"): message 1 holds the genesis,
 * every later message a part of one batch's records as the leader's log holds them, the last
 * part of a batch also the chain record after it. The leader publishes each batch before its
 * log commit, every part with the expected last stream sequence set to the part before, so a
 * stale leader cannot extend the stream; followers consume it in order and apply each batch
 * with the state machine, comparing every record hash and the chain record byte for byte.
 * Leadership is a lease: one key in a JetStream key-value bucket with a TTL, created by the
 * replica that takes it and renewed by revision. */
typedef struct rpc_repl rpc_repl;

typedef enum rpc_repl_role {
    RPC_REPL_FOLLOWER = 1, /* applies the stream; answers transactions NOT_LEADER */
    RPC_REPL_CANDIDATE,    /* holds the lease, still applying the stream up to its end */
    RPC_REPL_LEADER,       /* sequences; publishes every batch before its log commit */
    RPC_REPL_FENCED        /* lost the lease or the stream to another replica: stepping down */
} rpc_repl_role;

/* A batch as the stream carries it, assembled from its parts (follower). */
typedef struct rpc_repl_unit {
    uint64_t first_seq, n; /* records first_seq .. first_seq + n - 1 */
    uint8_t *rec;          /* their values back to back */
    size_t len, cap;
    size_t *off; /* n + 1 offsets into rec */
    size_t off_cap;
    uint8_t chain[256]; /* the chain record after the batch; chain_len 0: not carried */
    size_t chain_len;
    uint64_t position; /* the stream sequence of its last part */
    struct rpc_repl_unit *next;
} rpc_repl_unit;

typedef struct rpc_repl_status {
    rpc_repl_role role;
    char node[RPC_PATH_MAX];         /* this replica's name */
    char lease_holder[RPC_PATH_MAX]; /* the lease's holder as last read ("" unknown) */
    char leader[RPC_PATH_MAX];       /* the holder's advertised request endpoint */
    char stream[64];
    uint64_t applied;     /* stream sequence of the last batch applied or published */
    uint64_t stream_last; /* the stream's last sequence as last seen */
    uint64_t lag_ms;      /* how long this follower has been behind the stream (0: caught up) */
    uint64_t published, publish_us_total, publish_retries;
    uint64_t stalled_ms; /* the leader has been failing to publish for this long (0: not) */
    char problem[256];   /* the last replication failure, for health ("" none) */
} rpc_repl_status;

/** The stop signal (SIGTERM or SIGINT: blocked, waited for by the main loop) pending, or 0;
 *  it is left pending. rpc_repl_open and rpc_repl_attach stop waiting for NATS when one is. */
int rpc_repl_stop_signal(void);

/** Connect to the NATS servers of cfg->replicate (a comma-separated list of nats:// URLs) and
 *  find the stream and lease bucket of ledger_id, creating them when create (replicas
 *  cfg->replicas); while NATS cannot be reached or JetStream is not ready, try again: with
 *  create (serving) until it works or SIGINT/SIGTERM is pending, else (joining) for 30 s (a
 *  log line every 30 s, event=replication_waiting). Nothing is published yet. Out: *out; a
 *  one-line reason in msg. Returns: 0, or -1 (cannot connect, JetStream unavailable, no such
 *  stream without create, the stream cannot be made). */
int rpc_repl_open(rpc_repl **out, const rpc_config *cfg, const char *ledger_id, bool create,
                  char *msg, size_t msg_size) __attribute__((warn_unused_result));

/** `lstd init --join ID`: read the genesis of ledger cfg->join from its stream (message 1) and
 *  create a ledger holding it in dir (store_db_create), to follow the stream from the start.
 *  Returns: 0, or -1 (msg). */
int rpc_repl_join(const rpc_config *cfg, const char *dir, char *msg, size_t msg_size)
    __attribute__((warn_unused_result));

/** Tie the open ledger db to the stream, on the thread that will submit (before the server
 *  starts): an empty stream gets the genesis and every record db holds (in batches of whole
 *  ledger batches; only the last carries the chain); otherwise db's position must be a
 *  batch of the stream whose chain is db's (a replica of this stream, not ahead of it).
 *  Installs the publisher on db and starts the replication thread as a follower.
 *  on_stop(ctx, diverged) is called once (any thread) when this replica must step down
 *  (diverged false: another replica leads now; restart as a follower) or stop (diverged: a
 *  batch of the stream does not reproduce here, or the stream holds what lstd never wrote).
 *  Returns: 0, or -1 (msg). */
int rpc_repl_attach(rpc_repl *r, store_db *db, void (*on_stop)(void *ctx, bool diverged), void *ctx,
                    char *msg, size_t msg_size) __attribute__((warn_unused_result));

/** Decode record seq of u (a ledger_read_record over its bytes). Returns: as that. */
int rpc_repl_unit_record(const rpc_repl_unit *u, uint64_t seq, ledger_record *out);

/** The role now (any thread). */
rpc_repl_role rpc_repl_role_now(rpc_repl *r);

/** Whether the leader accepts transactions now: false while its publishing has failed for
 *  longer than a second (NO_QUORUM at intake). Any thread. */
bool rpc_repl_accepting(rpc_repl *r);

/** Call fn(ctx) (on the replication thread) whenever a unit arrives or the role may change,
 *  and once now; fn NULL: no more calls (returns once a call under way has ended, so what fn
 *  uses may be freed then). Any thread. */
void rpc_repl_set_wake(rpc_repl *r, void (*fn)(void *ctx), void *ctx);

/** The sequencer: the next batch to apply (follower or candidate), or NULL. The caller
 *  applies it and then calls rpc_repl_unit_done. */
rpc_repl_unit *rpc_repl_take(rpc_repl *r);

/** The sequencer is done with u: applied (rc 0) or refused (the replica stops: the log line
 *  names the batch). */
void rpc_repl_unit_done(rpc_repl *r, rpc_repl_unit *u, int rc);

/** The sequencer, between batches: a candidate that has applied the whole stream becomes the
 *  leader; next_seq is the first record it will sequence. Returns: true when it is the leader
 *  now. */
bool rpc_repl_promote(rpc_repl *r, uint64_t next_seq);

/** A copy of the figures (any thread). */
void rpc_repl_status_get(rpc_repl *r, rpc_repl_status *out);

/** Stop the thread, give the lease back when held (so a follower takes over at once), and
 *  disconnect; *r = NULL. Call after the store stopped publishing (the server is stopped). NULL
 *  is allowed. */
void rpc_repl_close(rpc_repl **r);

/** Make every publish still retrying give up (NO_QUORUM) so that a stop always ends. */
void rpc_repl_shutdown(rpc_repl *r);

/** A stream name from a ledger id: "LSTD_" and its characters, any outside [A-Za-z0-9_-] as
 *  '_'. Out: out (at least 64 bytes). */
void rpc_repl_stream_name(char *out, size_t size, const char *ledger_id);

#endif
