/* rpc_repl_internal.h - the replication module's parts, shared by its three files only */
#ifndef LSTD_RPC_REPL_INTERNAL_H
#define LSTD_RPC_REPL_INTERNAL_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>

#include "rpc_repl.h"

#define LEASE_KEY "leader"
#define START_WAIT_MS 30000  /* NATS unreachable or JetStream not ready at start: wait this long */
#define API_WAIT_MS 2000     /* a JetStream request (publish, info, get) */
#define RETRY_MS 100         /* between attempts of a failing publish */
#define STALL_REFUSE_MS 1000 /* publishing failing this long: transactions get NO_QUORUM */
#define INBOX_BYTES_MAX (64u << 20) /* batches waiting for the sequencer (follower) */
#define HISTORY_UNIT 4096           /* records per batch when the history is first published */
#define DUPLICATE_WINDOW_NS (120ll * 1000000000ll)

struct rpc_repl {
    natsConnection *nc;
    jsCtx *js;
    kvStore *kv;
    char stream[64], subject[96], bucket[80], lease_value[2 * RPC_PATH_MAX + 2];
    char node[RPC_PATH_MAX], ledger_id[LEDGER_ID_MAX + 1];
    uint64_t lease_ms;
    int replicas;
    int64_t max_payload;
    store_db *db;
    uint8_t genesis[LEDGER_GENESIS_BYTES_MAX];
    size_t genesis_len;
    void (*on_stop)(void *ctx, bool diverged);
    void *stop_ctx;
    void (*wake)(void *ctx);
    void *wake_ctx;
    pthread_t thread;
    bool started;
    atomic_bool quit, shutdown;
    pthread_mutex_t lock;
    pthread_mutex_t wake_lock; /* wake and wake_ctx; held while wake runs */
    pthread_cond_t cv;
    /* under lock */
    rpc_repl_role role;
    bool fenced_said;
    uint64_t lease_rev;
    uint64_t consumed;  /* stream sequence of the last message taken off the stream */
    uint64_t last_seq;  /* leader: the stream's last sequence (its last publish) */
    uint64_t lead_from; /* leader: the first record seq it publishes (earlier: followed) */
    uint64_t target;    /* candidate: the stream's last sequence when the lease was taken */
    uint64_t taken;     /* units handed to the sequencer and not done yet */
    uint64_t behind_since_ms;
    uint64_t stall_since_ms;
    rpc_repl_unit *in_head, *in_tail;
    size_t in_bytes;
    rpc_repl_status st;
    /* the replication thread's */
    natsSubscription *sub;
    uint64_t next_stream_seq;
    rpc_repl_unit *building;
    uint32_t building_part;
};

/* rpc_repl.c */
uint64_t repl_now_ms(void);
uint64_t repl_now_us(void);
void repl_sleep_ms(uint64_t ms);
/** libnats' last error text, or the status's. */
const char *repl_nats_why(natsStatus s);
/** Note a problem for health and the log (once per distinct text); clear it. */
void repl_problem(rpc_repl *r, const char *event, const char *text);
void repl_problem_clear(rpc_repl *r);
/** Call the wake hook (rpc_repl_set_wake). */
void repl_wake(rpc_repl *r);

/* rpc_repl_publish.c */
/** This replica must step down (diverged: stop): once; the role becomes FENCED. */
void repl_fence(rpc_repl *r, const char *why, bool diverged);
/** Publish one message expecting the stream to end at expect, msg_id for deduplication.
 *  Out: *seq. Returns: 0, LEDGER_NOT_LEADER (fenced) or LEDGER_NO_QUORUM (stopping). */
int repl_publish_one(rpc_repl *r, const uint8_t *data, size_t len, uint64_t expect,
                     const char *msg_id, uint64_t *seq);
/** Publish a batch in parts. Out: *position (its last part's sequence). Returns: as above. */
int repl_publish_unit(rpc_repl *r, const store_db_unit *u, uint64_t *position);
/** The store's replicator (store_db_replicate_fn; ctx is the rpc_repl). */
int repl_replicate(void *ctx, const store_db_unit *u, uint64_t *position);

/* rpc_repl_thread.c */
void repl_unit_free(rpc_repl_unit *u);
/** The stream's first (0: empty) and last sequence. Returns: 0, or -1 (no answer). */
int repl_stream_state(rpc_repl *r, uint64_t *first, uint64_t *last);
/** The replication thread: following the stream, keeping the lease. */
void *repl_main(void *arg);

#endif
