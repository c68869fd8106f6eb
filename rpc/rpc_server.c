/* rpc_server.c - receiving thread, verification pool, sequencer with group commit, events */
#include "rpc_server.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "crypto.h"
#include "rpc_log.h"
#include "rpc_metrics.h"
#include "rpc_rates.h"
#include "rpc_reply.h"
#include "rpc_request.h"

#define REPLY_ENDPOINT "inproc://lstd-replies"
#define MONITOR_ENDPOINT "inproc://lstd-monitor" /* the ROUTER's connection events */
#define POLL_MS 100
#define RECV_BURST 256 /* requests read per poll before replies get a turn */
#define LINGER_MS 2000
/* Replies queued per client before further ones are dropped (and counted): a client that
 * pipelines this many requests without reading any replies is not reading at all. */
#define REPLY_HWM 100000

/* Where a reply goes: the ROUTER identity frame, and whether a REQ delimiter came with it. */
typedef struct envelope {
    uint8_t ident[255];
    uint8_t ident_len;
    bool delimiter;
} envelope;

/* One slot of the in-flight ring. Owned by the receiver until published (head advanced),
 * then by one verifier until `ready`, then by the sequencer until tail passes it. */
typedef struct item {
    envelope env;
    rpc_request req;
    uint8_t hash[LEDGER_HASH_SIZE];
    int error; /* set by the verifier: BAD_SIGNATURE or LEDGER_MISMATCH */
    bool ready;
} item;

typedef struct counters {
    _Atomic uint64_t requests, transactions, queries, batches, batch_size_max, commit_ms_total;
    _Atomic uint64_t busy, malformed, bad_signatures, duplicates, replies_dropped;
} counters;

/* What the metrics endpoint adds to the health counters. Each has one writer, named, which
 * updates it with a relaxed load and store (no locked instruction on the hot path). */
typedef struct metric_counts {
    _Atomic uint64_t tx[LEDGER_TX_KIND_MAX + 1][RPC_METRICS_CODES + 1];     /* sequencer */
    _Atomic uint64_t queries[RPC_METRICS_QUERIES];                          /* sequencer */
    _Atomic uint64_t batch[RPC_METRICS_BATCH_BUCKETS + 1], batch_sum;       /* log thread */
    _Atomic uint64_t commit[RPC_METRICS_COMMIT_BUCKETS + 1], commit_us_sum; /* log thread */
    _Atomic uint64_t batches_failed;                                        /* any (fetch_add) */
    _Atomic uint64_t accepted, disconnected;                                /* receiver */
} metric_counts;

/* Gauges the sequencer caches after each batch that recorded something, for the endpoint:
 * the pool and chain as the batch left them, the operators after a batch that touched one. */
typedef struct gauge_cache {
    pthread_mutex_t lock;
    bool have;
    ledger_pool pool;
    ledger_chain chain;
    size_t nops;
    rpc_metrics_operator *ops, *scratch; /* scratch: the sequencer's, filled outside the lock */
} gauge_cache;

/* One writer's increment of a counter others only read. */
static inline void bump(_Atomic uint64_t *x, uint64_t by)
{
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

static inline uint64_t peek(_Atomic uint64_t *x)
{
    return atomic_load_explicit(x, memory_order_relaxed);
}

struct rpc_server {
    rpc_config cfg;
    store_db *store;
    pthread_mutex_t push_lock; /* reply_push: the log thread's, or the sequencer's on no memory */
    char ledger_id[LEDGER_ID_MAX + 1];
    ledger_tx_hasher hasher; /* the ledger's transaction tag, prepared once */
    void *zctx, *router, *pub, *reply_pull, *reply_push, *monitor;
    pthread_t io_thread, seq_thread, *workers;
    unsigned workers_started;
    bool io_started, seq_started;
    /* the ring */
    item *ring;
    uint64_t cap, head, verify_next, tail;
    bool quit; /* workers and sequencer exit once the ring is empty */
    pthread_mutex_t lock;
    pthread_cond_t work_cv, seq_cv;
    /* shutdown and accounting */
    atomic_bool stopping;
    _Atomic uint64_t replies_made; /* by the sequencer, before it pushes each reply */
    uint64_t replies_forwarded;    /* by the receiver */
    counters c;
    metric_counts mc;
    gauge_cache g;
    rpc_metrics *metrics; /* NULL: --metrics off */
    rpc_rates *rates;     /* the sequencer's (rate_history, and each rate change) */
    char metrics_url[RPC_PATH_MAX];
    time_t started;
    /* sequencer scratch */
    ledger_result *results;
    uint64_t results_cap; /* entries in results; grown by the sequencer only */
    unsigned batch_max;   /* under lock: set by rpc_server_set_batch_max, read per group */
    msgpack_sbuffer seq_buf;
    char requests_url[RPC_PATH_MAX], events_url[RPC_PATH_MAX]; /* as bound */
};

/* ---- replies -------------------------------------------------------------------------------- */

/* Send envelope + payload on a socket (the ROUTER, or the sequencer's PUSH).
 * Returns: 0 or -1 (errno from ZeroMQ). */
static int send_reply(void *sock, const envelope *env, const void *payload, size_t len, int flags)
{
    if (zmq_send(sock, env->ident, env->ident_len, flags | ZMQ_SNDMORE) < 0)
        return -1;
    if (env->delimiter && zmq_send(sock, "", 0, flags | ZMQ_SNDMORE) < 0)
        return -1;
    return zmq_send(sock, payload, len, flags) < 0 ? -1 : 0;
}

/* The receiver answers directly (errors it found itself, BUSY, SHUTTING_DOWN). */
static void answer_now(rpc_server *s, msgpack_sbuffer *buf, const envelope *env, const rpc_id *id,
                       int code, const char *message)
{
    if (rpc_reply_error(buf, id, code, message) != 0 ||
        send_reply(s->router, env, buf->data, buf->size, ZMQ_DONTWAIT) != 0)
        s->c.replies_dropped++;
}

/* Move replies the sequencer produced from the PULL socket to the ROUTER, frame by frame. */
static void forward_replies(rpc_server *s)
{
    for (;;) {
        zmq_msg_t m;
        int more = 1, dropped = 0;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->reply_pull, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        while (more) {
            more = zmq_msg_more(&m);
            if (!dropped &&
                zmq_msg_send(&m, s->router, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0)
                dropped = 1; /* peer gone (ROUTER_MANDATORY) or its queue full */
            zmq_msg_close(&m);
            if (more) {
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, s->reply_pull, 0) < 0) {
                    zmq_msg_close(&m);
                    break;
                }
            }
        }
        s->c.replies_dropped += (uint64_t)dropped;
        s->replies_forwarded++;
    }
}

/* ---- receiving ------------------------------------------------------------------------------ */

/* Read one whole multipart message: identity, optional empty delimiter, payload. Extra frames
 * make the request malformed. Out: env, *payload (zmq message to close).
 * Returns: 1 got one, 0 nothing waiting, -1 malformed framing (env valid). */
static int recv_frames(rpc_server *s, envelope *env, zmq_msg_t *payload)
{
    zmq_msg_t f;
    int frames = 0, bad = 0;
    zmq_msg_init(payload);
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, s->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&f);
        return 0;
    }
    env->ident_len = (uint8_t)(zmq_msg_size(&f) < 255 ? zmq_msg_size(&f) : 255);
    memcpy(env->ident, zmq_msg_data(&f), env->ident_len);
    env->delimiter = false;
    while (zmq_msg_more(&f)) {
        zmq_msg_close(&f);
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, s->router, 0) < 0)
            break;
        frames++;
        if (frames == 1 && zmq_msg_size(&f) == 0 && zmq_msg_more(&f))
            env->delimiter = true;
        else if (zmq_msg_size(payload) == 0 && !bad && frames <= 2)
            zmq_msg_copy(payload, &f);
        else
            bad = 1;
    }
    zmq_msg_close(&f);
    return bad || frames == 0 ? -1 : 1;
}

/* Place a decoded request in the ring, or answer BUSY. */
static void enqueue(rpc_server *s, msgpack_sbuffer *buf, const envelope *env,
                    const rpc_request *req)
{
    pthread_mutex_lock(&s->lock);
    bool full = s->head - s->tail >= s->cap;
    uint64_t at = s->head;
    pthread_mutex_unlock(&s->lock);
    if (full) {
        s->c.busy++;
        answer_now(s, buf, env, &req->id, LEDGER_BUSY, "request queue is full; retry later");
        return;
    }
    item *it = &s->ring[at % s->cap]; /* free and unseen until head moves past it */
    it->env = *env;
    it->req = *req;
    it->error = 0;
    it->ready = false;
    pthread_mutex_lock(&s->lock);
    s->head++;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->lock);
}

static void receive_requests(rpc_server *s, msgpack_sbuffer *buf)
{
    for (int n = 0; n < RECV_BURST; n++) {
        envelope env;
        zmq_msg_t payload;
        rpc_request req;
        char msg[256];
        int got = recv_frames(s, &env, &payload);
        if (got == 0) {
            zmq_msg_close(&payload);
            return;
        }
        s->c.requests++;
        int code = got < 0 ? LEDGER_MALFORMED
                           : rpc_request_decode(&req, zmq_msg_data(&payload),
                                                zmq_msg_size(&payload), msg, sizeof msg);
        zmq_msg_close(&payload);
        if (got < 0) {
            memset(&req.id, 0, sizeof req.id);
            snprintf(msg, sizeof msg, "a request is one frame (after a REQ delimiter)");
        }
        if (code != LEDGER_OK) {
            s->c.malformed++;
            answer_now(s, buf, &env, &req.id, code, msg);
        } else if (atomic_load(&s->stopping)) {
            answer_now(s, buf, &env, &req.id, LEDGER_SHUTTING_DOWN, "server is shutting down");
        } else {
            enqueue(s, buf, &env, &req);
        }
    }
}

/* Count the ROUTER's connections from its socket monitor's events (two frames each: event
 * number and value, then the endpoint). */
static void read_monitor(rpc_server *s)
{
    for (;;) {
        zmq_msg_t m;
        uint16_t event = 0;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        if (zmq_msg_size(&m) >= 2)
            memcpy(&event, zmq_msg_data(&m), 2);
        bool more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        while (more) {
            zmq_msg_init(&m);
            more = zmq_msg_recv(&m, s->monitor, 0) >= 0 && zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (event == ZMQ_EVENT_ACCEPTED)
            bump(&s->mc.accepted, 1);
        else if (event == ZMQ_EVENT_DISCONNECTED)
            bump(&s->mc.disconnected, 1);
    }
}

static bool drained(rpc_server *s)
{
    pthread_mutex_lock(&s->lock);
    bool empty = s->head == s->tail;
    pthread_mutex_unlock(&s->lock);
    return empty && s->replies_forwarded == atomic_load(&s->replies_made);
}

static void *io_main(void *arg)
{
    rpc_server *s = arg;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    for (;;) {
        zmq_pollitem_t p[3] = {{s->router, 0, ZMQ_POLLIN, 0},
                               {s->reply_pull, 0, ZMQ_POLLIN, 0},
                               {s->monitor, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(p, 3, POLL_MS) < 0 && zmq_errno() != EINTR)
            break;
        if (p[2].revents & ZMQ_POLLIN)
            read_monitor(s);
        if (p[1].revents & ZMQ_POLLIN)
            forward_replies(s);
        if (p[0].revents & ZMQ_POLLIN)
            receive_requests(s, &buf);
        if (atomic_load(&s->stopping) && drained(s))
            break;
    }
    msgpack_sbuffer_destroy(&buf);
    return NULL;
}

/* ---- verification --------------------------------------------------------------------------- */

static void verify(rpc_server *s, item *it)
{
    if (!it->req.is_tx)
        return;
    if (it->req.has_ledger && strcmp(it->req.ledger, s->ledger_id) != 0) {
        it->error = LEDGER_LEDGER_MISMATCH;
        return;
    }
    if (ledger_tx_hash_with(it->hash, &s->hasher, &it->req.tx) != LEDGER_OK ||
        !crypto_verify(it->req.sig, it->hash, it->req.tx.signer))
        it->error = LEDGER_BAD_SIGNATURE;
}

static void *worker_main(void *arg)
{
    rpc_server *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->quit && s->verify_next == s->head)
            pthread_cond_wait(&s->work_cv, &s->lock);
        if (s->verify_next == s->head)
            break; /* quit and nothing left */
        item *it = &s->ring[s->verify_next++ % s->cap];
        pthread_mutex_unlock(&s->lock);
        verify(s, it);
        pthread_mutex_lock(&s->lock);
        it->ready = true;
        pthread_cond_signal(&s->seq_cv);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- sequencing ----------------------------------------------------------------------------- */

/* One reply of a batch: where it goes, what it answers, where its bytes are. */
typedef struct out_msg {
    envelope env;
    rpc_id id;
    bool final; /* a verifier's error: the same whatever the batch does */
    size_t at, len;
} out_msg;

/* An event of a batch: topic and payload, back to back in events. */
typedef struct out_event {
    size_t at, topic_len, len;
} out_event;

/* A recorded transaction the log must show once its batch is durable (rpc_log_tx). */
typedef struct tx_note {
    ledger_tx tx;
    ledger_result res;
} tx_note;

/* A batch between the sequencer (which applies it and encodes every reply and event) and the
 * log thread (which sends them once the batch is durable, then frees this). */
typedef struct batch_job {
    rpc_server *s;
    uint64_t first, n, now, now_us; /* now_us: monotonic, when the apply began */
    uint64_t seq_begin, seq_end;    /* recorded seqs [begin, end) */
    out_msg *msgs;
    msgpack_sbuffer replies, events;
    out_event *evs;
    size_t nev, ev_cap;
    tx_note *notes; /* reports and admin kinds (every kind at debug) */
    size_t nnotes, notes_cap;
} batch_job;

static void job_free(batch_job *j)
{
    msgpack_sbuffer_destroy(&j->replies);
    msgpack_sbuffer_destroy(&j->events);
    free(j->msgs);
    free(j->evs);
    free(j->notes);
    free(j);
}

static void counters_snapshot(rpc_server *s, rpc_counters *out)
{
    counters *c = &s->c;
    pthread_mutex_lock(&s->lock);
    out->queue_depth = s->head - s->tail;
    pthread_mutex_unlock(&s->lock);
    out->queue_max = s->cap;
    out->uptime_s = (uint64_t)(time(NULL) - s->started);
    out->requests = c->requests;
    out->transactions = c->transactions;
    out->queries = c->queries;
    out->batches = c->batches;
    out->batch_size_max = c->batch_size_max;
    out->commit_ms_total = c->commit_ms_total;
    out->busy = c->busy;
    out->malformed = c->malformed;
    out->bad_signatures = c->bad_signatures;
    out->duplicates = c->duplicates;
    out->replies_dropped = c->replies_dropped;
}

/* Encode the reply for one item of an applied batch. A query is answered from the state after
 * the batch, as of `now`, the clock reading the batch used. */
static int encode_item(rpc_server *s, item *it, const ledger_result *res, ledger_store *view,
                       uint64_t now, msgpack_sbuffer *buf)
{
    if (it->req.is_tx) {
        s->c.transactions++;
        s->c.duplicates += res->duplicate;
        if (it->req.tx.kind <= LEDGER_TX_KIND_MAX)
            bump(&s->mc.tx[it->req.tx.kind][rpc_metrics_code_slot(res->code)], 1);
        return rpc_reply_tx(buf, &it->req.id, &it->req.tx, it->hash, res);
    }
    rpc_counters snap;
    s->c.queries++;
    if (it->req.query < RPC_METRICS_QUERIES)
        bump(&s->mc.queries[it->req.query], 1);
    counters_snapshot(s, &snap);
    return rpc_reply_query(buf, view, &it->req, now, &snap, s->rates);
}

/* Encode one reply into the job's buffer. Returns: 0 or -1 (no memory). */
static int job_reply(batch_job *j, out_msg *m, int (*encode)(void *, msgpack_sbuffer *), void *ctx)
{
    msgpack_sbuffer *buf = &j->s->seq_buf;
    msgpack_sbuffer_clear(buf);
    if (encode(ctx, buf) != 0 || msgpack_sbuffer_write(&j->replies, buf->data, buf->size) != 0)
        return -1;
    m->at = j->replies.size - buf->size;
    m->len = buf->size;
    return 0;
}

typedef struct item_enc {
    rpc_server *s;
    item *it;
    const ledger_result *res;
    ledger_store *view;
    uint64_t now;
} item_enc;

static int enc_item(void *ctx, msgpack_sbuffer *buf)
{
    item_enc *e = ctx;
    return encode_item(e->s, e->it, e->res, e->view, e->now, buf);
}

static int enc_verify_error(void *ctx, msgpack_sbuffer *buf)
{
    item *it = ctx;
    return rpc_reply_error(buf, &it->req.id, it->error, ledger_err_message(it->error));
}

static int job_event(batch_job *j, const char *topic, const msgpack_sbuffer *payload)
{
    if (j->nev == j->ev_cap) {
        size_t cap = j->ev_cap ? j->ev_cap * 2 : 16;
        out_event *e = realloc(j->evs, cap * sizeof *e);
        if (e == NULL)
            return -1;
        j->evs = e;
        j->ev_cap = cap;
    }
    size_t tl = strlen(topic);
    out_event *e = &j->evs[j->nev];
    e->at = j->events.size;
    e->topic_len = tl;
    e->len = payload->size;
    if (msgpack_sbuffer_write(&j->events, topic, tl) != 0 ||
        msgpack_sbuffer_write(&j->events, payload->data, payload->size) != 0)
        return -1;
    j->nev++;
    return 0;
}

/* Keep a transaction for the log (dropped when there is no memory: the history has it). */
static void job_note(batch_job *j, const ledger_tx *tx, const ledger_result *res)
{
    if (j->nnotes == j->notes_cap) {
        size_t cap = j->notes_cap ? j->notes_cap * 2 : 8;
        tx_note *n = realloc(j->notes, cap * sizeof *n);
        if (n == NULL)
            return;
        j->notes = n;
        j->notes_cap = cap;
    }
    j->notes[j->nnotes++] = (tx_note){*tx, *res};
}

/* Every record of the batch, under its kind topic and each account it names. */
static void encode_events(batch_job *j, ledger_store *view)
{
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    for (uint64_t seq = j->seq_begin; seq < j->seq_end; seq++) {
        ledger_record r;
        char topic[80], hex[65];
        msgpack_sbuffer_clear(&buf);
        if (ledger_read_record(view, seq, &r) != LEDGER_OK || rpc_pack_record(&pk, &r) != 0)
            break; /* out of memory: subscribers catch up with the events query */
        const ledger_kind_info *k = ledger_kind_lookup(r.tx.kind);
        snprintf(topic, sizeof topic, "tx/%s/", k->name); /* '/' ends it: exact match */
        if (job_event(j, topic, &buf) != 0)
            break;
        const uint8_t *keys[3] = {r.tx.signer, NULL, NULL}; /* kinds name at most 2 keys */
        int nkeys = 1;
        for (unsigned f = 0; f < k->field_count; f++)
            if (k->fields[f].type == LEDGER_F_KEY)
                keys[nkeys++] = ledger_tx_slot(&r.tx, k->fields[f].slot);
        for (int a = 0; a < nkeys; a++) {
            bool seen = false;
            for (int b = 0; b < a; b++)
                seen = seen || memcmp(keys[a], keys[b], 32) == 0;
            if (seen)
                continue;
            rpc_hex_encode32(hex, keys[a]);
            snprintf(topic, sizeof topic, "acct/%s/", hex);
            if (job_event(j, topic, &buf) != 0)
                break;
        }
    }
    msgpack_sbuffer_destroy(&buf);
}

#define PREFETCH_TXS 256 /* transactions whose accounts are hinted to the store at a time */

/* Hint the store at the accounts and tx hashes of the n items from ring position `from`. */
static void prefetch(rpc_server *s, ledger_batch *b, uint64_t from, uint64_t n)
{
    static _Thread_local ledger_tx txs[PREFETCH_TXS];
    static _Thread_local uint8_t hashes[PREFETCH_TXS][LEDGER_HASH_SIZE];
    size_t k = 0;
    for (uint64_t i = 0; i < n; i++) {
        const item *it = &s->ring[(from + i) % s->cap];
        if (!it->req.is_tx || it->error != 0)
            continue;
        txs[k] = it->req.tx;
        memcpy(hashes[k++], it->hash, LEDGER_HASH_SIZE);
    }
    ledger_batch_prefetch(b, txs, (const uint8_t(*)[LEDGER_HASH_SIZE])hashes, k);
}

/* Up to count operators from the view into the cache's scratch. Returns: how many. */
static size_t read_operators(rpc_server *s, ledger_store *view, uint64_t count)
{
    size_t n = 0;
    for (uint64_t id = 1; id <= count && n < LEDGER_OPERATORS_MAX; id++) {
        ledger_operator o;
        if (ledger_read_operator(view, id, &o) != LEDGER_OK)
            continue;
        s->g.scratch[n++] = (rpc_metrics_operator){o.id, o.balance, o.last_report_ts, o.active != 0,
                                                   o.held_epoch != 0};
    }
    return n;
}

/* Cache the gauges a batch left: its pool and chain, and the operators when ops (a kind that
 * may change one was recorded). */
static void cache_gauges(rpc_server *s, const ledger_pool *pool, const ledger_chain *chain,
                         ledger_store *view, bool ops)
{
    size_t n = ops ? read_operators(s, view, pool->operator_count) : 0;
    pthread_mutex_lock(&s->g.lock);
    s->g.pool = *pool;
    s->g.chain = *chain;
    s->g.have = true;
    if (ops) {
        memcpy(s->g.ops, s->g.scratch, n * sizeof *s->g.ops);
        s->g.nops = n;
    }
    pthread_mutex_unlock(&s->g.lock);
}

/* After applying a kind from OPERATOR_FUND on (rare): note that operators may have changed,
 * and keep a rate change for the index. Returns: LEDGER_OK or the index's error. */
static int note_rare_kind(rpc_server *s, const ledger_batch *b, const ledger_tx *tx,
                          const ledger_result *res, bool *ops)
{
    *ops = *ops || res->seq != 0;
    if (s->rates == NULL || !rpc_rates_wanted(tx->kind, res))
        return LEDGER_OK;
    return rpc_rates_add(s->rates, tx, res, &b->pool, b->chain.head);
}

/* A batch that must not be kept: the index forgets its changes. Returns: rc. */
static int apply_failed(rpc_server *s, int rc)
{
    if (s->rates != NULL)
        rpc_rates_abort(s->rates);
    return rc;
}

/* The batch's rate changes go to the index before the batch goes to the log; then the gauges.
 * Returns: LEDGER_OK, or LEDGER_STORE_IO (the index cannot be written: the batch is undone). */
static int apply_keep(rpc_server *s, batch_job *j, const ledger_batch *b, ledger_store *view,
                      bool ops)
{
    int rc = s->rates != NULL ? rpc_rates_commit(s->rates) : LEDGER_OK;
    if (rc != LEDGER_OK) {
        rpc_log(RPC_LOG_ERROR, "rate_index_failed",
                " code=%s msg=\"the rate index cannot be written; the batch is not applied\"",
                ledger_err_name(rc));
        return rc;
    }
    if (j->seq_end > j->seq_begin)
        cache_gauges(s, &b->pool, &b->chain, view, ops);
    return LEDGER_OK;
}

/* Apply the group as one batch and encode its replies and events (the store's batch fn). */
static int apply_fn(void *ctx, ledger_store *view)
{
    batch_job *j = ctx;
    rpc_server *s = j->s;
    ledger_batch b;
    bool any_tx = false, ops = false;
    for (uint64_t i = 0; i < j->n; i++) {
        item *it = &s->ring[(j->first + i) % s->cap];
        any_tx = any_tx || (it->req.is_tx && it->error == 0);
    }
    int rc = any_tx ? ledger_batch_begin(&b, view, j->now) : LEDGER_OK;
    j->seq_begin = j->seq_end = any_tx ? b.chain.next_seq : 0;
    for (uint64_t i = 0; any_tx && rc == LEDGER_OK && i < j->n; i++) {
        item *it = &s->ring[(j->first + i) % s->cap];
        if (i % PREFETCH_TXS == 0)
            prefetch(s, &b, j->first + i, j->n - i < PREFETCH_TXS ? j->n - i : PREFETCH_TXS);
        if (it->req.is_tx && it->error == 0) {
            rc = ledger_apply(&b, &it->req.tx, it->hash, it->req.sig, &s->results[i]);
            if (rc == LEDGER_OK && it->req.tx.kind >= LEDGER_TX_OPERATOR_FUND)
                rc = note_rare_kind(s, &b, &it->req.tx, &s->results[i], &ops);
        }
    }
    if (any_tx && rc == LEDGER_OK)
        rc = ledger_batch_end(&b);
    if (rc != LEDGER_OK)
        return apply_failed(s, rc);
    if (any_tx)
        j->seq_end = b.chain.next_seq;
    j->nnotes = 0;
    for (uint64_t i = 0; i < j->n; i++) {
        item *it = &s->ring[(j->first + i) % s->cap];
        item_enc e = {s, it, &s->results[i], view, j->now};
        if (!j->msgs[i].final && job_reply(j, &j->msgs[i], enc_item, &e) != 0)
            return apply_failed(s, LEDGER_NO_MEMORY);
        if (it->req.is_tx && it->error == 0 && !s->results[i].duplicate &&
            rpc_log_tx_wanted(it->req.tx.kind))
            job_note(j, &it->req.tx, &s->results[i]);
    }
    encode_events(j, view);
    return any_tx ? apply_keep(s, j, &b, view, ops) : LEDGER_OK;
}

/* A committed batch that recorded something, counted before its replies go out (so a client
 * holding a reply sees its batch in the health counters and the metrics): took_us from the
 * start of its apply until now, when the log thread learns it is durable. */
static void count_batch(rpc_server *s, const batch_job *j, uint64_t took_us)
{
    s->c.batches++;
    s->c.commit_ms_total += took_us / 1000;
    if (j->n > s->c.batch_size_max)
        s->c.batch_size_max = j->n;
    bump(&s->mc.batch[rpc_metrics_batch_bucket(j->n)], 1);
    bump(&s->mc.batch_sum, j->n);
    bump(&s->mc.commit[rpc_metrics_commit_bucket(took_us)], 1);
    bump(&s->mc.commit_us_sum, took_us);
}

/* The log thread, once the batch is durable (rc 0) or failed: count it, send every reply,
 * then the events. A failed batch applied nothing: each transaction and query in it is
 * answered INTERNAL (a verifier's error keeps its own reply). */
static void job_done(void *ctx, int rc)
{
    batch_job *j = ctx;
    rpc_server *s = j->s;
    msgpack_sbuffer err;
    msgpack_sbuffer_init(&err);
    uint64_t took_us = now_us() - j->now_us;
    if (rc == 0 && j->seq_end > j->seq_begin)
        count_batch(s, j, took_us);
    if (rc != 0)
        atomic_fetch_add(&s->mc.batches_failed, 1);
    if (rc != 0)
        rpc_log(RPC_LOG_ERROR, "batch_failed",
                " requests=%" PRIu64 " code=%s msg=\"the batch could not be committed; nothing "
                "of it was applied and each of its requests was answered INTERNAL\"",
                j->n, ledger_err_name(rc));
    pthread_mutex_lock(&s->push_lock);
    for (uint64_t i = 0; i < j->n; i++) {
        out_msg *m = &j->msgs[i];
        const void *data = j->replies.data + m->at;
        size_t len = m->len;
        if (rc != 0 && !m->final) {
            msgpack_sbuffer_clear(&err);
            rpc_reply_error(&err, &m->id, LEDGER_INTERNAL,
                            "the batch could not be committed; nothing was applied");
            data = err.data;
            len = err.size;
        }
        if (len == 0 || send_reply(s->reply_push, &m->env, data, len, 0) != 0) {
            s->c.replies_dropped++; /* the receiver no longer waits for this one */
            atomic_fetch_sub(&s->replies_made, 1);
        }
    }
    pthread_mutex_unlock(&s->push_lock);
    for (size_t e = 0; rc == 0 && e < j->nev; e++) {
        const out_event *ev = &j->evs[e];
        zmq_send(s->pub, j->events.data + ev->at, ev->topic_len, ZMQ_SNDMORE);
        zmq_send(s->pub, j->events.data + ev->at + ev->topic_len, ev->len, 0);
    }
    for (size_t i = 0; rc == 0 && i < j->nnotes; i++)
        rpc_log_tx(&j->notes[i].tx, &j->notes[i].res);
    if (rc == 0 && rpc_log_enabled(RPC_LOG_DEBUG))
        rpc_log(RPC_LOG_DEBUG, "batch",
                " requests=%" PRIu64 " first_seq=%" PRIu64 " records=%" PRIu64 " ms=%" PRIu64, j->n,
                j->seq_begin, j->seq_end - j->seq_begin, took_us / 1000);
    msgpack_sbuffer_destroy(&err);
    job_free(j);
}

/* One group: apply it as one batch on the store, which answers it through job_done once the
 * batch is durable; the next group is applied meanwhile. */
static void process(rpc_server *s, uint64_t first, uint64_t n)
{
    batch_job *j = calloc(1, sizeof *j);
    out_msg *msgs = j != NULL ? calloc(n, sizeof *msgs) : NULL;
    if (msgs == NULL) {
        free(j);
        rpc_log(RPC_LOG_ERROR, "batch_failed",
                " requests=%" PRIu64 " code=NO_MEMORY msg=\"no memory for the batch; its requests "
                "go unanswered\"",
                n);
        s->c.replies_dropped += n;
        atomic_fetch_add(&s->mc.batches_failed, 1);
        return;
    }
    *j = (batch_job){.s = s, .first = first, .n = n, .now = (uint64_t)time(NULL), .msgs = msgs};
    j->now_us = now_us();
    msgpack_sbuffer_init(&j->replies);
    msgpack_sbuffer_init(&j->events);
    for (uint64_t i = 0; i < n; i++) {
        item *it = &s->ring[(first + i) % s->cap];
        msgs[i].env = it->env;
        msgs[i].id = it->req.id;
        if (it->error != 0) {
            s->c.bad_signatures += it->error == LEDGER_BAD_SIGNATURE;
            if (it->req.tx.kind <= LEDGER_TX_KIND_MAX)
                bump(&s->mc.tx[it->req.tx.kind][rpc_metrics_code_slot(it->error)], 1);
            msgs[i].final = job_reply(j, &msgs[i], enc_verify_error, it) == 0;
        }
    }
    atomic_fetch_add(&s->replies_made, n);
    store_db_submit(s->store, apply_fn, j, job_done, j); /* job_done runs whatever it returns */
}

/* The size limit of the next group (called by the sequencer with s->lock held): batch_max as
 * last set, with results grown to it first; if that fails, what results holds. */
static uint64_t group_max(rpc_server *s)
{
    uint64_t want = s->batch_max;
    if (want > s->results_cap) {
        ledger_result *grown = realloc(s->results, want * sizeof *grown);
        if (grown != NULL) {
            s->results = grown;
            s->results_cap = want;
        }
    }
    return want < s->results_cap ? want : s->results_cap;
}

static void *seq_main(void *arg)
{
    rpc_server *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->quit && (s->tail == s->head || !s->ring[s->tail % s->cap].ready))
            pthread_cond_wait(&s->seq_cv, &s->lock);
        if (s->tail == s->head)
            break; /* quit and nothing left */
        if (!s->ring[s->tail % s->cap].ready) {
            pthread_cond_wait(&s->seq_cv, &s->lock);
            continue;
        }
        uint64_t first = s->tail, n = 0, max = group_max(s);
        while (n < max && first + n < s->head && s->ring[(first + n) % s->cap].ready)
            n++;
        pthread_mutex_unlock(&s->lock);
        process(s, first, n);
        pthread_mutex_lock(&s->lock);
        for (uint64_t i = 0; i < n; i++)
            s->ring[(first + i) % s->cap].ready = false;
        s->tail += n;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------------- */

static void *socket_new(rpc_server *s, int type)
{
    void *sock = zmq_socket(s->zctx, type);
    int linger = LINGER_MS;
    if (sock != NULL)
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    return sock;
}

static int bind_actual(void *sock, const char *endpoint, char *actual, size_t size)
{
    if (zmq_bind(sock, endpoint) != 0) {
        fprintf(stderr, "lstd: cannot bind %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        return -1;
    }
    return zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, actual, &size);
}

static int sockets_open(rpc_server *s)
{
    int one = 1, zero = 0;
    int64_t max_msg = RPC_MESSAGE_MAX_BYTES;
    int hwm = REPLY_HWM;
    s->zctx = zmq_ctx_new();
    if (s->zctx == NULL)
        return -1;
    s->router = socket_new(s, ZMQ_ROUTER);
    s->pub = socket_new(s, ZMQ_PUB);
    s->reply_pull = socket_new(s, ZMQ_PULL);
    s->reply_push = socket_new(s, ZMQ_PUSH);
    if (!s->router || !s->pub || !s->reply_pull || !s->reply_push)
        return -1;
    zmq_setsockopt(s->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    zmq_setsockopt(s->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->reply_pull, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(s->reply_push, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(s->pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (bind_actual(s->router, s->cfg.endpoint, s->requests_url, sizeof s->requests_url) != 0 ||
        bind_actual(s->pub, s->cfg.events_endpoint, s->events_url, sizeof s->events_url) != 0 ||
        zmq_bind(s->reply_pull, REPLY_ENDPOINT) != 0 ||
        zmq_connect(s->reply_push, REPLY_ENDPOINT) != 0)
        return -1;
    /* connected clients: the ROUTER's accepted and disconnected connections, counted by the
     * receiver from its socket monitor */
    if (zmq_socket_monitor(s->router, MONITOR_ENDPOINT,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0 ||
        (s->monitor = socket_new(s, ZMQ_PAIR)) == NULL ||
        zmq_setsockopt(s->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(s->monitor, MONITOR_ENDPOINT) != 0)
        return -1;
    return 0;
}

static void sockets_close(rpc_server *s)
{
    void **socks[] = {&s->monitor, &s->router, &s->pub, &s->reply_pull, &s->reply_push};
    if (s->router != NULL && s->monitor != NULL)
        zmq_socket_monitor(s->router, NULL, 0);
    for (size_t i = 0; i < sizeof socks / sizeof socks[0]; i++)
        if (*socks[i] != NULL) {
            zmq_close(*socks[i]);
            *socks[i] = NULL;
        }
    if (s->zctx != NULL)
        zmq_ctx_term(s->zctx);
    s->zctx = NULL;
}

static int read_ledger_id(rpc_server *s)
{
    ledger_genesis g;
    if (ledger_genesis_read(store_db_view(s->store), &g) != LEDGER_OK)
        return -1;
    memcpy(s->ledger_id, g.ledger_id, sizeof s->ledger_id);
    ledger_tx_hasher_init(&s->hasher, s->ledger_id);
    return 0;
}

static int threads_start(rpc_server *s)
{
    s->workers = calloc(s->cfg.verify_threads, sizeof *s->workers);
    if (s->workers == NULL)
        return -1;
    for (; s->workers_started < s->cfg.verify_threads; s->workers_started++)
        if (pthread_create(&s->workers[s->workers_started], NULL, worker_main, s) != 0)
            return -1;
    if (pthread_create(&s->seq_thread, NULL, seq_main, s) != 0)
        return -1;
    s->seq_started = true;
    if (pthread_create(&s->io_thread, NULL, io_main, s) != 0)
        return -1;
    s->io_started = true;
    return 0;
}

int rpc_server_bind(rpc_server **out, const rpc_config *cfg)
{
    rpc_server *s = calloc(1, sizeof *s);
    *out = NULL;
    if (s == NULL)
        return -1;
    s->cfg = *cfg;
    s->cap = cfg->queue_max;
    s->batch_max = cfg->batch_max;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->push_lock, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->seq_cv, NULL);
    msgpack_sbuffer_init(&s->seq_buf);
    pthread_mutex_init(&s->g.lock, NULL);
    if (sockets_open(s) != 0) {
        fprintf(stderr, "lstd: cannot start the service\n");
        rpc_server_stop(&s);
        return -1;
    }
    if (rpc_metrics_bind(&s->metrics, cfg->metrics, s->metrics_url, sizeof s->metrics_url) != 0) {
        rpc_server_stop(&s);
        return -1;
    }
    *out = s;
    return 0;
}

/* The endpoint's snapshot (its thread, once per scrape). */
static void metrics_snapshot(void *ctx, rpc_metrics_snapshot *out)
{
    rpc_server *s = ctx;
    counters_snapshot(s, &out->counters);
    out->start_time_s = (uint64_t)s->started;
    out->wall_s = (uint64_t)time(NULL);
    memcpy(out->ledger_id, s->ledger_id, sizeof out->ledger_id);
    for (unsigned k = 0; k <= LEDGER_TX_KIND_MAX; k++)
        for (unsigned c = 0; c <= RPC_METRICS_CODES; c++)
            out->tx[k][c] = peek(&s->mc.tx[k][c]);
    for (unsigned q = 0; q < RPC_METRICS_QUERIES; q++)
        out->queries[q] = peek(&s->mc.queries[q]);
    /* the sums before the buckets: a batch counted meanwhile shows in the buckets only */
    out->batch_requests_sum = peek(&s->mc.batch_sum);
    out->commit_us_sum = peek(&s->mc.commit_us_sum);
    for (unsigned i = 0; i <= RPC_METRICS_BATCH_BUCKETS; i++)
        out->batch_buckets[i] = peek(&s->mc.batch[i]);
    for (unsigned i = 0; i <= RPC_METRICS_COMMIT_BUCKETS; i++)
        out->commit_buckets[i] = peek(&s->mc.commit[i]);
    out->batches_failed = atomic_load(&s->mc.batches_failed);
    uint64_t closed = peek(&s->mc.disconnected), accepted = peek(&s->mc.accepted);
    out->connections_total = accepted;
    out->clients_connected = accepted > closed ? accepted - closed : 0;
    store_db_stats_get(s->store, &out->store);
    pthread_mutex_lock(&s->g.lock);
    out->have_state = s->g.have;
    out->pool = s->g.pool;
    out->chain = s->g.chain;
    out->operator_count = s->g.nops;
    memcpy(out->operators, s->g.ops, s->g.nops * sizeof *s->g.ops);
    pthread_mutex_unlock(&s->g.lock);
}

/* The gauges as the store holds them at start (this thread is the view's only user yet). */
static int gauges_start(rpc_server *s)
{
    ledger_pool pool;
    ledger_chain chain;
    s->g.ops = calloc(LEDGER_OPERATORS_MAX, sizeof *s->g.ops);
    s->g.scratch = calloc(LEDGER_OPERATORS_MAX, sizeof *s->g.scratch);
    ledger_store *view = store_db_view(s->store);
    if (s->g.ops == NULL || s->g.scratch == NULL || ledger_read_pool(view, &pool) != LEDGER_OK ||
        ledger_read_chain(view, &chain) != LEDGER_OK)
        return -1;
    cache_gauges(s, &pool, &chain, view, true);
    return 0;
}

int rpc_server_start(rpc_server *s, store_db *store, rpc_rates *rates)
{
    s->store = store;
    s->rates = rates;
    s->started = time(NULL);
    s->ring = calloc(s->cap, sizeof *s->ring);
    s->results_cap = s->batch_max;
    s->results = calloc(s->results_cap, sizeof *s->results);
    if (s->ring == NULL || s->results == NULL || read_ledger_id(s) != 0 || gauges_start(s) != 0 ||
        threads_start(s) != 0 || rpc_metrics_start(s->metrics, metrics_snapshot, s) != 0) {
        fprintf(stderr, "lstd: cannot start the service\n");
        return -1;
    }
    printf("lstd: ready requests=%s events=%s metrics=%s\n", s->requests_url, s->events_url,
           s->metrics_url);
    fflush(stdout);
    rpc_log(RPC_LOG_INFO, "ready", " ledger_id=%s requests=%s events=%s metrics=%s", s->ledger_id,
            s->requests_url, s->events_url, s->metrics_url);
    return 0;
}

void rpc_server_set_batch_max(rpc_server *s, unsigned batch_max)
{
    assert(batch_max >= 1);
    pthread_mutex_lock(&s->lock);
    s->batch_max = batch_max;
    pthread_mutex_unlock(&s->lock);
}

void rpc_server_stop(rpc_server **sp)
{
    rpc_server *s = *sp;
    if (s == NULL)
        return;
    *sp = NULL;
    rpc_metrics_stop(&s->metrics); /* first: its scrapes read the server */
    atomic_store(&s->stopping, true);
    if (s->store != NULL) /* a log that cannot be written is given up: a stop always ends */
        store_db_shutdown(s->store);
    if (s->io_started)
        pthread_join(s->io_thread, NULL); /* returns once every accepted request is answered */
    pthread_mutex_lock(&s->lock);
    s->quit = true;
    pthread_cond_broadcast(&s->work_cv);
    pthread_cond_broadcast(&s->seq_cv);
    pthread_mutex_unlock(&s->lock);
    for (unsigned i = 0; i < s->workers_started; i++)
        pthread_join(s->workers[i], NULL);
    if (s->seq_started)
        pthread_join(s->seq_thread, NULL);
    if (s->store != NULL) /* the store's log thread ends each batch in job_done: let it */
        (void)store_db_flush(s->store);
    sockets_close(s);
    msgpack_sbuffer_destroy(&s->seq_buf);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->seq_cv);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->push_lock);
    pthread_mutex_destroy(&s->g.lock);
    free(s->g.ops);
    free(s->g.scratch);
    free(s->workers);
    free(s->ring);
    free(s->results);
    free(s);
}
