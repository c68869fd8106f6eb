/* rpc_server.c - receiving thread, verification pool, sequencer with group commit, replies */
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
#include "crypto_curve.h"
#include "rpc_curve.h"
#include "rpc_events.h"
#include "rpc_log.h"
#include "rpc_metrics.h"
#include "rpc_net.h"
#include "rpc_oracle_events.h"
#include "rpc_rates.h"
#include "rpc_repl.h"
#include "rpc_reply.h"
#include "rpc_request.h"
#include "rpc_sched.h"

#define REPLY_ENDPOINT "inproc://lstd-replies"
#define POLL_MS 100
#define LINGER_MS 2000
#define QUIET_MS 100     /* stopping: no request for this long, and the replies written: done */
#define ENVELOPE_BYTES 9 /* a reply's connection handle (8 bytes, little end) and delimiter */
#define REPLY_HEAD_BYTES (ENVELOPE_BYTES + 4) /* and its length, on the reply pipe */
#define NO_CONN UINT64_MAX

/* Per connection slot: the message being received, and its replies not yet written out. */
typedef struct slot_state {
    bool delimiter;           /* receiver only: the message began with a REQ delimiter */
    bool bad;                 /* receiver only: the message cannot be a request */
    bool paused_unread;       /* receiver only: not read for its unread replies (counted once) */
    bool paused_share;        /* receiver only: not read, holding its share (counted once) */
    bool at_share;            /* receiver only: held its share at the last push or check */
    _Atomic uint64_t conn;    /* the handle of the connection in the slot, or NO_CONN */
    _Atomic uint64_t transit; /* reply bytes made by the sequencer, not yet taken by the receiver */
    _Atomic uint64_t queued;  /* reply bytes queued by the receiver, not yet written */
} slot_state;

typedef struct counters {
    _Atomic uint64_t requests, transactions, queries, batches, batch_size_max, commit_ms_total;
    _Atomic uint64_t busy, malformed, bad_signatures, duplicates, replies_dropped, simulations;
    _Atomic uint64_t busy_unread, paused_unread, paused_share, slow_drops;
    _Atomic uint64_t connections, refused, protocol_drops; /* the receiver's rpc_net figures */
    _Atomic uint64_t replies_unwritten; /* rpc_net: queued replies lost with their connection */
    _Atomic uint64_t auth_failures;
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
    void *zctx, *reply_pull, *reply_push;
    rpc_net *net;                             /* the request socket: the receiver's */
    rpc_events *events;                       /* the event socket and its thread */
    rpc_curve_allow *allow;                   /* CURVE: the client keys allowed (NULL: CURVE off) */
    uint8_t curve_secret[RPC_CURVE_KEY_SIZE]; /* CURVE: read at bind, wiped once bound */
    rpc_sched *sched;                         /* requests in flight */
    zmq_pollitem_t *items;
    slot_state *slots;              /* cfg.conn_max */
    _Atomic uint64_t pending_total; /* transit + queued of every slot */
    pthread_t io_thread, seq_thread, *workers;
    unsigned workers_started;
    bool io_started, seq_started;
    atomic_bool stopping;
    _Atomic uint64_t replies_made; /* by the sequencer, before it pushes each reply */
    uint64_t replies_forwarded;    /* by the receiver */
    counters c;
    metric_counts mc;
    gauge_cache g;
    rpc_metrics *metrics; /* NULL: --metrics off */
    rpc_rates *rates;     /* the sequencer's (rate_history, and each rate change) */
    rpc_repl *repl;       /* NULL: not replicated */
    char metrics_url[RPC_PATH_MAX];
    time_t started;
    /* sequencer scratch */
    rpc_item **batch;
    ledger_result *results;
    uint64_t results_cap; /* entries in batch and results; grown by the sequencer only */
    pthread_mutex_t lock; /* batch_max */
    unsigned batch_max;
    msgpack_sbuffer seq_buf, rx_buf;                           /* the sequencer's, the receiver's */
    char requests_url[RPC_PATH_MAX], events_url[RPC_PATH_MAX]; /* as bound */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- unread replies ----------------------------------------------------------------------------
 * A connection's replies not yet written to its socket: made by the sequencer and on their way
 * (transit), or queued by the receiver (queued). PROTOCOL.md, "Limits". */

static unsigned slot_of(uint64_t handle)
{
    return (unsigned)(uint32_t)handle;
}

static void transit_add(rpc_server *s, unsigned slot, int64_t delta)
{
    atomic_fetch_add(&s->slots[slot].transit, (uint64_t)delta);
    atomic_fetch_add(&s->pending_total, (uint64_t)delta);
}

static uint64_t unread(rpc_server *s, unsigned slot)
{
    return atomic_load(&s->slots[slot].transit) + atomic_load(&s->slots[slot].queued);
}

/* Whether the slot's connection is over its share of unread replies: its own, or (all
 * together over reply-bytes-max) any at all. */
static bool over_unread(rpc_server *s, unsigned slot)
{
    uint64_t mine = unread(s, slot);
    return mine >= s->cfg.conn_reply_bytes ||
           (mine > 0 && atomic_load(&s->pending_total) >= s->cfg.reply_bytes_max);
}

/* rpc_net: may this connection be read? Not while over its unread replies, nor while it holds
 * its share of the requests in flight (rpc_sched.h): it waits, in order, TCP holding back the
 * rest. Each pause is counted once. */
static bool on_can_read(void *ctx, unsigned slot)
{
    rpc_server *s = ctx;
    slot_state *st = &s->slots[slot];
    bool replies = over_unread(s, slot);
    if (!replies && st->at_share) /* only the receiver adds: below its share it stays below */
        st->at_share = !rpc_sched_within_share(s->sched, slot);
    bool share = !replies && st->at_share;
    if (replies && !st->paused_unread)
        s->c.paused_unread++;
    if (share && !st->paused_share)
        s->c.paused_share++;
    st->paused_unread = replies;
    st->paused_share = share;
    return !replies && !share;
}

static void on_queued(void *ctx, unsigned slot, size_t bytes)
{
    rpc_server *s = ctx;
    uint64_t was = atomic_exchange(&s->slots[slot].queued, bytes);
    atomic_fetch_add(&s->pending_total, (uint64_t)bytes - was);
}

/* ---- replies -------------------------------------------------------------------------------- */

static void envelope_pack(uint8_t out[ENVELOPE_BYTES], const rpc_envelope *env)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(env->conn >> (8 * i));
    out[8] = env->delimiter;
}

static void envelope_unpack(rpc_envelope *env, const uint8_t in[ENVELOPE_BYTES])
{
    env->conn = 0;
    for (int i = 0; i < 8; i++)
        env->conn |= (uint64_t)in[i] << (8 * i);
    env->delimiter = in[8] != 0;
}

/* Queue a reply on its connection (the receiver). A connection that would go beyond the hard
 * bound is dropped (it cannot, while the pause and the query rule hold). */
static void deliver(rpc_server *s, const rpc_envelope *env, const void *payload, size_t len)
{
    int slot = rpc_net_slot(s->net, env->conn);
    rpc_net_part parts[2] = {{"", 0}, {payload, len}};
    int rc = slot < 0 ? -2
                      : rpc_net_send(s->net, (unsigned)slot, parts + !env->delimiter,
                                     env->delimiter ? 2 : 1);
    if (rc == -1) {
        fprintf(stderr, "lstd: a connection with %zu bytes of unread replies dropped\n",
                rpc_net_queued(s->net, (unsigned)slot));
        s->c.slow_drops++;
        rpc_net_drop(s->net, (unsigned)slot);
    }
    if (rc != 0)
        s->c.replies_dropped++; /* its connection is gone */
}

/* The receiver answers directly (errors it found itself, BUSY, SHUTTING_DOWN). */
static void answer_now(rpc_server *s, const rpc_envelope *env, const rpc_id *id, int code,
                       const char *message)
{
    if (rpc_reply_error(&s->rx_buf, id, code, message) != 0)
        s->c.replies_dropped++;
    else
        deliver(s, env, s->rx_buf.data, s->rx_buf.size);
}

/* A request read while stopping: SHUTTING_DOWN; a transaction to a replica that is stepping
 * down (another leads now) NOT_LEADER, naming the leader it knows. */
static void answer_stopping(rpc_server *s, const rpc_envelope *env, const rpc_request *req)
{
    rpc_repl_status st;
    if (s->repl == NULL || !req->is_tx || rpc_repl_role_now(s->repl) != RPC_REPL_FENCED) {
        answer_now(s, env, &req->id, LEDGER_SHUTTING_DOWN, "server is shutting down");
        return;
    }
    rpc_repl_status_get(s->repl, &st);
    if (rpc_reply_not_leader(&s->rx_buf, &req->id,
                             "this replica is stepping down: another one leads; nothing was "
                             "applied here",
                             st.leader) != 0)
        s->c.replies_dropped++;
    else
        deliver(s, env, s->rx_buf.data, s->rx_buf.size);
}

/* Move replies from the PULL socket to their connections: each message holds a batch's, one
 * after another, each its envelope, its length (4 bytes, little end) and its bytes. */
static void forward_replies(rpc_server *s)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->reply_pull, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        const uint8_t *p = zmq_msg_data(&m), *end = p + zmq_msg_size(&m);
        while (end - p >= REPLY_HEAD_BYTES) {
            rpc_envelope env;
            envelope_unpack(&env, p);
            size_t len =
                (size_t)p[9] | (size_t)p[10] << 8 | (size_t)p[11] << 16 | (size_t)p[12] << 24;
            p += REPLY_HEAD_BYTES;
            if (len > (size_t)(end - p))
                break; /* cannot happen: job_done wrote it */
            transit_add(s, slot_of(env.conn), -(int64_t)len);
            deliver(s, &env, p, len);
            p += len;
            s->replies_forwarded++;
        }
        zmq_msg_close(&m);
    }
}

/* ---- receiving ------------------------------------------------------------------------------ */

/* Place a decoded request among its connection's, or answer BUSY (the queue is full). */
static void enqueue(rpc_server *s, unsigned slot, const rpc_envelope *env, const rpc_request *req)
{
    if (rpc_sched_push(s->sched, slot, env, req, &s->slots[slot].at_share) == RPC_SCHED_OK)
        return;
    s->c.busy++;
    answer_now(s, env, &req->id, LEDGER_BUSY, "request queue is full; retry later");
}

/* The last frame of a message from slot's connection: the request, answered or queued. */
static void on_request(rpc_server *s, unsigned slot, const rpc_zmtp_frame *f)
{
    slot_state *st = &s->slots[slot];
    rpc_envelope env = {rpc_net_handle(s->net, slot), st->delimiter};
    rpc_request req;
    char msg[256];
    int code;
    s->c.requests++;
    if (st->bad) {
        memset(&req.id, 0, sizeof req.id);
        snprintf(msg, sizeof msg, "a request is one frame (after a REQ delimiter)");
        code = LEDGER_MALFORMED;
    } else if (f->skipped) {
        code = rpc_request_too_large(&req, f->data, f->len, f->size, msg, sizeof msg);
    } else {
        code = rpc_request_decode(&req, f->data, f->len, msg, sizeof msg);
    }
    if (code != LEDGER_OK) {
        s->c.malformed++;
        answer_now(s, &env, &req.id, code, msg);
    } else if (atomic_load(&s->stopping)) {
        answer_stopping(s, &env, &req);
    } else {
        enqueue(s, slot, &env, &req);
    }
}

/* rpc_net: a frame of a request message. A request is one frame, after an empty delimiter
 * frame when it comes from a REQ socket; any other shape is MALFORMED, answered once the
 * message ends. Frames are not kept: only the payload frame is looked at, as it comes. */
static int on_frame(void *ctx, unsigned slot, const rpc_zmtp_frame *f)
{
    rpc_server *s = ctx;
    slot_state *st = &s->slots[slot];
    if (f->command)
        return 0; /* SUBSCRIBE and the like mean nothing here */
    if (f->index == 0) {
        st->delimiter = f->size == 0 && f->more;
        st->bad = false;
        if (st->delimiter)
            return 0;
    }
    if (f->more) { /* a frame after the payload follows */
        st->bad = true;
        return 0;
    }
    on_request(s, slot, f);
    return on_can_read(s, slot) ? 0 : 1;
}

static void on_opened(void *ctx, unsigned slot)
{
    rpc_server *s = ctx;
    slot_state *st = &s->slots[slot];
    st->delimiter = st->bad = st->paused_unread = st->paused_share = st->at_share = false;
    atomic_store(&s->slots[slot].conn, rpc_net_handle(s->net, slot));
    rpc_sched_flow_reset(s->sched, slot);
    bump(&s->mc.accepted, 1); /* connected clients: opened minus closed (the receiver's) */
}

static void on_closed(void *ctx, unsigned slot)
{
    rpc_server *s = ctx;
    atomic_store(&s->slots[slot].conn, NO_CONN);
    rpc_sched_flow_closed(s->sched, slot, LEDGER_BUSY); /* a flood's backlog goes with it */
    bump(&s->mc.disconnected, 1);
}

static bool drained(rpc_server *s)
{
    return rpc_sched_depth(s->sched) == 0 && s->replies_forwarded == atomic_load(&s->replies_made);
}

static void net_stats(rpc_server *s)
{
    rpc_net_stats st;
    rpc_net_stats_get(s->net, &st);
    s->c.connections = st.connections;
    s->c.refused = st.drops[RPC_NET_REFUSED];
    s->c.protocol_drops = st.drops[RPC_NET_PROTOCOL];
    s->c.replies_unwritten = st.messages_lost;
    s->c.auth_failures = st.auth_failures;
}

/* One turn of the receiver: wait for replies or sockets, forward, read, write. */
static int io_turn(rpc_server *s, long timeout_ms)
{
    s->items[0] = (zmq_pollitem_t){s->reply_pull, 0, ZMQ_POLLIN, 0};
    size_t k = 1 + rpc_net_poll_items(s->net, s->items + 1);
    if (zmq_poll(s->items, (int)k, rpc_net_poll_timeout(s->net, timeout_ms)) < 0 &&
        zmq_errno() != EINTR)
        return -1;
    if (s->items[0].revents & ZMQ_POLLIN)
        forward_replies(s);
    rpc_net_service(s->net, s->items + 1, k - 1);
    rpc_net_flush(s->net);
    net_stats(s);
    return 0;
}

static void *io_main(void *arg)
{
    rpc_server *s = arg;
    while (io_turn(s, POLL_MS) == 0 && !(atomic_load(&s->stopping) && drained(s)))
        ;
    /* every accepted request is answered; go on answering what still arrives (SHUTTING_DOWN)
     * until QUIET_MS pass without a request and the replies are written, for LINGER_MS at most */
    uint64_t deadline = now_ms() + LINGER_MS, quiet_from = now_ms(), seen = s->c.requests;
    while (now_ms() < deadline && io_turn(s, 10) == 0) {
        if (s->c.requests != seen) {
            seen = s->c.requests;
            quiet_from = now_ms();
        }
        if (!rpc_net_pending(s->net) && drained(s) && now_ms() - quiet_from >= QUIET_MS)
            break;
    }
    return NULL;
}

/* ---- verification --------------------------------------------------------------------------- */

static void verify(rpc_server *s, crypto_key_cache *keys, rpc_item *it)
{
    if (!it->req.is_tx)
        return;
    if (it->req.has_ledger && strcmp(it->req.ledger, s->ledger_id) != 0) {
        it->error = LEDGER_LEDGER_MISMATCH;
        return;
    }
    if (it->req.simulate && !it->req.has_sig)
        return; /* nothing to check: the sequencer hashes it once its nonce is known */
    if (ledger_tx_hash_with(it->hash, &s->hasher, &it->req.tx) != LEDGER_OK ||
        !(keys != NULL ? crypto_verify_cached(keys, it->req.sig, it->hash, it->req.tx.signer)
                       : crypto_verify(it->req.sig, it->hash, it->req.tx.signer)))
        it->error = LEDGER_BAD_SIGNATURE;
}

#define VERIFY_RUN 32 /* requests a verifier takes at a time: one handoff each way per run */

static void *worker_main(void *arg)
{
    rpc_server *s = arg;
    rpc_item *run[VERIFY_RUN];
    size_t n;
    crypto_key_cache *keys = calloc(1, sizeof *keys); /* the signers seen last; NULL: none */
    while ((n = rpc_sched_take_verify(s->sched, run, VERIFY_RUN)) > 0) {
        for (size_t i = 0; i < n; i++)
            verify(s, keys, run[i]);
        rpc_sched_verified(s->sched, run, n);
    }
    free(keys);
    return NULL;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- sequencing ----------------------------------------------------------------------------- */

/* A stream batch being applied, as one store batch per ledger batch it holds (as the leader
 * committed them: a ledger batch's digest is folded from the store batch's changes). The last
 * store batch's done hands the unit back, with the first failure. */
typedef struct follow_state {
    rpc_repl_unit *unit;
    _Atomic uint32_t left; /* store batches not yet done */
    _Atomic int rc;        /* the first failure */
} follow_state;

/* One reply of a batch: where it goes, what it answers, where its bytes are. */
typedef struct out_msg {
    rpc_envelope env;
    rpc_id id;
    bool final; /* a verifier's error: the same whatever the batch does */
    size_t at, len;
} out_msg;

/* A recorded transaction the log must show once its batch is durable (rpc_log_tx). */
typedef struct tx_note {
    ledger_tx tx;
    ledger_result res;
} tx_note;

/* A batch between the sequencer (which applies it and encodes every reply and event) and the
 * log thread (which sends them once the batch is durable, then frees this). */
typedef struct batch_job {
    rpc_server *s;
    rpc_item **items;            /* the sequencer's, valid while it applies the batch */
    uint64_t n, now, now_us;     /* now_us: monotonic, when the apply began */
    uint64_t seq_begin, seq_end; /* recorded seqs [begin, end) */
    out_msg *msgs;
    msgpack_sbuffer replies, events;
    rpc_event *evs;
    size_t nev, ev_cap;
    tx_note *notes; /* reports and admin kinds (every kind at debug) */
    size_t nnotes, notes_cap;
    bool simulate;                   /* one simulated transaction: applied, answered, then undone */
    struct follow_state *follow;     /* a follower's ledger batch from the stream (no items) */
    uint64_t follow_from, follow_to; /* its records [from, to) of the stream batch */
    rpc_oracle_notes oracle;         /* quorums and disagreements of the batch's votes */
} batch_job;

static void job_free(batch_job *j)
{
    msgpack_sbuffer_destroy(&j->replies);
    msgpack_sbuffer_destroy(&j->events);
    free(j->msgs);
    free(j->evs);
    free(j->notes);
    rpc_oracle_notes_free(&j->oracle);
    free(j);
}

static void counters_bounds(rpc_server *s, rpc_counters *out)
{
    rpc_events_stats ev;
    rpc_events_stats_get(s->events, &ev);
    out->busy_unread = s->c.busy_unread;
    out->paused_unread = s->c.paused_unread;
    out->paused_share = s->c.paused_share;
    out->refused = s->c.refused + ev.refused;
    out->protocol_drops = s->c.protocol_drops + ev.protocol_drops;
    out->slow_drops = s->c.slow_drops;
    out->auth_failures = s->c.auth_failures + ev.auth_failures;
    out->subscriptions_ignored = ev.subscriptions_ignored;
    out->events_dropped = ev.dropped;
    out->connections = s->c.connections;
    out->subscribers = ev.subscribers;
    out->subscriptions = ev.subscriptions;
    out->reply_bytes = atomic_load(&s->pending_total);
}

static void counters_snapshot(rpc_server *s, rpc_counters *out)
{
    counters *c = &s->c;
    out->queue_depth = rpc_sched_depth(s->sched);
    out->queue_max = s->cfg.queue_max;
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
    out->simulations = c->simulations;
    out->replies_dropped = c->replies_dropped + c->replies_unwritten;
    counters_bounds(s, out);
    out->replicated = s->repl != NULL;
    if (s->repl != NULL)
        rpc_repl_status_get(s->repl, &out->repl);
}

/* Encode the reply for one item of an applied batch. A query is answered from the state after
 * the batch, as of `now`, the clock reading the batch used; but BUSY when its connection's
 * unread replies are over their bound (PROTOCOL.md, "Limits"), and not at all (nothing
 * encoded) when its connection has gone. */
static int encode_item(rpc_server *s, rpc_item *it, const ledger_result *res, ledger_store *view,
                       uint64_t now, msgpack_sbuffer *buf)
{
    if (it->req.is_tx && it->req.simulate) {
        s->c.simulations++;
        return rpc_reply_simulated(buf, &it->req.id, &it->req.tx, it->hash, res);
    }
    if (it->req.is_tx) {
        s->c.transactions++;
        s->c.duplicates += res->duplicate;
        if (it->req.tx.kind <= LEDGER_TX_KIND_MAX)
            bump(&s->mc.tx[it->req.tx.kind][rpc_metrics_code_slot(res->code)], 1);
        return rpc_reply_tx(buf, &it->req.id, &it->req.tx, it->hash, res);
    }
    if (atomic_load(&s->slots[slot_of(it->env.conn)].conn) != it->env.conn)
        return 0;
    if (over_unread(s, slot_of(it->env.conn))) {
        s->c.busy++;
        s->c.busy_unread++;
        return rpc_reply_error(buf, &it->req.id, LEDGER_BUSY,
                               "too many bytes of replies to this connection are unread; read "
                               "them, then retry");
    }
    rpc_counters snap;
    s->c.queries++;
    if (it->req.query < RPC_METRICS_QUERIES)
        bump(&s->mc.queries[it->req.query], 1);
    counters_snapshot(s, &snap);
    return rpc_reply_query(buf, view, &it->req, now, &snap, s->rates);
}

/* Encode one reply into the job's buffer; its bytes count as unread for its connection from
 * now on (an encoder that writes nothing leaves the reply empty: it is not sent).
 * Returns: 0 or -1 (no memory). */
static int job_reply(batch_job *j, out_msg *m, int (*encode)(void *, msgpack_sbuffer *), void *ctx)
{
    msgpack_sbuffer *buf = &j->s->seq_buf;
    msgpack_sbuffer_clear(buf);
    if (encode(ctx, buf) != 0)
        return -1;
    if (buf->size == 0) { /* nothing to answer: the connection has gone */
        m->at = m->len = 0;
        return 0;
    }
    if (msgpack_sbuffer_write(&j->replies, buf->data, buf->size) != 0)
        return -1;
    m->at = j->replies.size - buf->size;
    m->len = buf->size;
    transit_add(j->s, slot_of(m->env.conn), (int64_t)m->len);
    return 0;
}

typedef struct item_enc {
    rpc_server *s;
    rpc_item *it;
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
    rpc_item *it = ctx;
    return rpc_reply_error(buf, &it->req.id, it->error, ledger_err_message(it->error));
}

typedef struct leader_enc {
    rpc_item *it;
    const char *leader;
} leader_enc;

static int enc_not_leader(void *ctx, msgpack_sbuffer *buf)
{
    leader_enc *e = ctx;
    return rpc_reply_not_leader(buf, &e->it->req.id,
                                "this replica is a follower: nothing was applied; send the "
                                "transaction to the leader",
                                e->leader);
}

/* Replicated: a transaction (not a simulation) reaches only the leader's batches. A follower
 * answers NOT_LEADER naming the leader it knows; a leader whose publishing has been failing
 * answers NO_QUORUM. Out: leader (the hint, for NOT_LEADER). Returns: what a group's
 * transactions are answered now, 0 when they are sequenced (once per group). */
static int repl_refusal(rpc_server *s, char *leader, size_t size)
{
    if (s->repl == NULL || rpc_repl_accepting(s->repl))
        return 0;
    rpc_repl_status st;
    rpc_repl_status_get(s->repl, &st);
    snprintf(leader, size, "%s", st.leader);
    return st.role == RPC_REPL_LEADER ? LEDGER_NO_QUORUM : LEDGER_NOT_LEADER;
}

/* Answer it with the group's refusal when it is a transaction. Returns: whether it was
 * answered here (msgs[i].final). */
static bool repl_refuse(batch_job *j, rpc_item *it, out_msg *m, int refusal, const char *leader)
{
    if (refusal == 0 || !it->req.is_tx || it->req.simulate || it->error != 0)
        return false;
    it->error = refusal;
    if (refusal == LEDGER_NO_QUORUM)
        return job_reply(j, m, enc_verify_error, it) == 0;
    leader_enc e = {it, leader};
    return job_reply(j, m, enc_not_leader, &e) == 0;
}

static int job_event(batch_job *j, const char *topic, const msgpack_sbuffer *payload)
{
    if (j->nev == j->ev_cap) {
        size_t cap = j->ev_cap ? j->ev_cap * 2 : 16;
        rpc_event *e = realloc(j->evs, cap * sizeof *e);
        if (e == NULL)
            return -1;
        j->evs = e;
        j->ev_cap = cap;
    }
    size_t tl = strlen(topic);
    rpc_event *e = &j->evs[j->nev];
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

/* One record under acct/<hex>/ of one account. Returns: 0 or -1 (no memory). */
static int account_event(batch_job *j, const uint8_t key[LEDGER_KEY_SIZE],
                         const msgpack_sbuffer *buf)
{
    char topic[80], hex[65];
    rpc_hex_encode32(hex, key);
    snprintf(topic, sizeof topic, "acct/%s/", hex);
    return job_event(j, topic, buf);
}

static int emit_event(void *ctx, const char *topic, const msgpack_sbuffer *payload)
{
    return job_event(ctx, topic, payload);
}

/* Every record of the batch, under its kind topic and each account it names or lists; then
 * the committee's events (rpc_oracle_events.h). */
static void encode_events(batch_job *j, ledger_store *view)
{
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    for (uint64_t seq = j->seq_begin; seq < j->seq_end; seq++) {
        ledger_record r;
        char topic[80];
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
            if (!seen && account_event(j, keys[a], &buf) != 0)
                break;
        }
        for (size_t a = 0; a < r.account_count; a++) /* never a named one */
            if (account_event(j, r.accounts + a * LEDGER_KEY_SIZE, &buf) != 0)
                break;
    }
    msgpack_sbuffer_destroy(&buf);
    (void)rpc_oracle_events_encode(&j->oracle, emit_event, j); /* no memory: they are lost */
}

#define PREFETCH_TXS (2 * LEDGER_PREFETCH_GROUP) /* the most hinted at once (the first two) */

/* Hint the store at the accounts and tx hashes of the n items from items. */
static void prefetch(ledger_batch *b, rpc_item *const *items, uint64_t n)
{
    static _Thread_local ledger_tx txs[PREFETCH_TXS];
    static _Thread_local uint8_t hashes[PREFETCH_TXS][LEDGER_HASH_SIZE];
    size_t k = 0;
    for (uint64_t i = 0; i < n; i++) {
        const rpc_item *it = items[i];
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
                          const ledger_result *res, const rpc_rate_prior *prior, bool *ops)
{
    *ops = *ops || res->seq != 0;
    if (s->rates == NULL || !rpc_rates_wanted(tx, res, &b->pool))
        return LEDGER_OK;
    return rpc_rates_add(s->rates, tx, res, &b->pool, prior, b->chain.head);
}

/* Apply one transaction; a kind that may book a report first has the operator read for the
 * rate index, and a vote (while someone listens) the operator's pending votes for its events.
 * Returns: ledger_apply's code, or the index's. */
static int apply_tx(rpc_server *s, batch_job *j, ledger_batch *b, const ledger_tx *tx,
                    const uint8_t *hash, const uint8_t *sig, ledger_result *res, bool *ops)
{
    static _Thread_local rpc_oracle_prior votes;
    rpc_rate_prior prior = {0};
    bool vote = tx->kind == LEDGER_TX_VOTE && rpc_events_listened(s->events);
    int rc = LEDGER_OK;
    if (s->rates != NULL && rpc_rates_kind(tx->kind))
        rc = rpc_rates_prior(b->st, tx, &prior);
    if (rc == LEDGER_OK && vote)
        rc = rpc_oracle_prior_read(b->st, tx, &votes);
    if (rc == LEDGER_OK)
        rc = ledger_apply(b, tx, hash, sig, res);
    if (rc == LEDGER_OK && tx->kind >= LEDGER_TX_OPERATOR_FUND)
        rc = note_rare_kind(s, b, tx, res, &prior, ops);
    if (rc == LEDGER_OK && vote)
        (void)rpc_oracle_note_vote(&j->oracle, tx, res, &b->pool,
                                   &votes); /* lost: history has it */
    return rc;
}

static int apply_one(rpc_server *s, batch_job *j, ledger_batch *b, rpc_item *it, ledger_result *res,
                     bool *ops)
{
    return apply_tx(s, j, b, &it->req.tx, it->hash, it->req.sig, res, ops);
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

#define APPLY_SIMULATED (-1) /* a simulation's fn result: the store undoes every write */

/* Apply one simulated transaction on top of the current state and encode its reply; the store
 * then undoes it all (the result is the fn's APPLY_SIMULATED). An unsigned one takes the
 * signer's next nonce when it names none and is hashed here, once that nonce is known. */
static int simulate_fn(batch_job *j, ledger_store *view)
{
    rpc_server *s = j->s;
    rpc_item *it = j->items[0];
    ledger_batch b;
    ledger_account a;
    int rc = ledger_batch_begin(&b, view, j->now);
    if (rc == LEDGER_OK && !it->req.has_nonce &&
        (rc = ledger_read_account(view, it->req.tx.signer, &a)) == LEDGER_OK)
        it->req.tx.nonce = a.nonce < UINT64_MAX ? a.nonce + 1 : a.nonce;
    if (rc == LEDGER_OK && !it->req.has_sig)
        rc = ledger_tx_hash_with(it->hash, &b.hasher, &it->req.tx);
    if (rc == LEDGER_OK)
        rc = ledger_apply(&b, &it->req.tx, it->hash, it->req.sig, &s->results[0]);
    item_enc e = {s, it, &s->results[0], view, j->now};
    if (rc == LEDGER_OK && job_reply(j, &j->msgs[0], enc_item, &e) != 0)
        rc = LEDGER_NO_MEMORY;
    return rc == LEDGER_OK ? APPLY_SIMULATED : rc;
}

static bool same_result(const ledger_result *a, const ledger_result *b)
{
    return a->code == b->code && a->seq == b->seq && a->batch == b->batch &&
           a->timestamp == b->timestamp && memcmp(a->out, b->out, sizeof a->out) == 0;
}

/* One record of a followed batch: its signature checked (the stream is not trusted with
 * them), applied as the leader did, its result and record hash reproduced exactly. Returns:
 * LEDGER_OK, LEDGER_STORE_CORRUPT (it does not reproduce) or a store error. */
static int follow_record(rpc_server *s, batch_job *j, ledger_batch *b, const ledger_record *r,
                         bool *ops)
{
    uint8_t hash[LEDGER_HASH_SIZE];
    ledger_result res;
    if (ledger_tx_hash_with(hash, &s->hasher, &r->tx) != LEDGER_OK ||
        memcmp(hash, r->tx_hash, LEDGER_HASH_SIZE) != 0 ||
        !crypto_verify(r->sig, hash, r->tx.signer))
        return LEDGER_STORE_CORRUPT;
    int rc = apply_tx(s, j, b, &r->tx, hash, r->sig, &res, ops);
    if (rc == LEDGER_OK &&
        (!same_result(&res, &r->result) || memcmp(b->chain.head, r->hash, LEDGER_HASH_SIZE) != 0))
        rc = LEDGER_STORE_CORRUPT;
    if (rc == LEDGER_OK && !res.duplicate && rpc_log_tx_wanted(r->tx.kind))
        job_note(j, &r->tx, &res);
    return rc;
}

/* The chain record the view holds now must be the one the stream's batch ends with. */
static int follow_chain(const rpc_repl_unit *u, ledger_store *view)
{
    const uint8_t key = 2, *v; /* meta 2: the chain */
    size_t n;
    if (u->chain_len == 0) /* a batch of the history published at the stream's creation */
        return LEDGER_OK;
    if (view->get(view->self, LEDGER_T_META, &key, 1, &v, &n) != 0 || n != u->chain_len ||
        memcmp(v, u->chain, n) != 0)
        return LEDGER_STORE_CORRUPT;
    return LEDGER_OK;
}

/* Apply a followed batch as recorded: ledger batches as the records number them, each record
 * reproduced, then the chain compared; its events as the leader's (the store's batch fn). */
static int follow_fn(batch_job *j, ledger_store *view)
{
    rpc_server *s = j->s;
    rpc_repl_unit *u = j->follow->unit;
    bool last = j->follow_to == u->first_seq + u->n, ops = false;
    ledger_batch b;
    int rc = atomic_load(&j->follow->rc) != 0 ? LEDGER_STORE_CORRUPT : LEDGER_OK;
    j->seq_begin = j->seq_end = j->follow_from;
    for (uint64_t seq = j->follow_from; rc == LEDGER_OK && seq < j->follow_to; seq++) {
        ledger_record r;
        if (rpc_repl_unit_record(u, seq, &r) != LEDGER_OK)
            rc = LEDGER_STORE_CORRUPT;
        if (rc == LEDGER_OK && seq == j->follow_from)
            rc = ledger_batch_begin(&b, view, r.result.timestamp);
        if (rc == LEDGER_OK)
            rc = follow_record(s, j, &b, &r, &ops);
    }
    if (rc == LEDGER_OK)
        rc = ledger_batch_end(&b);
    if (rc == LEDGER_OK && last)
        rc = follow_chain(u, view);
    if (rc != LEDGER_OK)
        return apply_failed(s, rc);
    j->seq_end = j->follow_to;
    if (rpc_events_listened(s->events))
        encode_events(j, view);
    if (last)
        store_db_set_position(s->store, u->position);
    return apply_keep(s, j, &b, view, ops);
}

/* Apply the group as one batch and encode its replies and events (the store's batch fn). */
static int apply_fn(void *ctx, ledger_store *view)
{
    batch_job *j = ctx;
    rpc_server *s = j->s;
    ledger_batch b;
    bool any_tx = false, ops = false;
    if (j->follow != NULL)
        return follow_fn(j, view);
    if (j->simulate)
        return j->msgs[0].final ? APPLY_SIMULATED : simulate_fn(j, view);
    for (uint64_t i = 0; i < j->n; i++)
        any_tx = any_tx || (j->items[i]->req.is_tx && j->items[i]->error == 0);
    int rc = any_tx ? ledger_batch_begin(&b, view, j->now) : LEDGER_OK;
    j->seq_begin = j->seq_end = any_tx ? b.chain.next_seq : 0;
    for (uint64_t i = 0; any_tx && rc == LEDGER_OK && i < j->n; i++) {
        rpc_item *it = j->items[i];
        size_t first, k;
        if (ledger_prefetch_due(i, j->n, &first, &k))
            prefetch(&b, j->items + first, k);
        if (it->req.is_tx && it->error == 0)
            rc = apply_one(s, j, &b, it, &s->results[i], &ops);
    }
    if (any_tx && rc == LEDGER_OK)
        rc = ledger_batch_end(&b);
    if (rc != LEDGER_OK)
        return apply_failed(s, rc);
    if (any_tx)
        j->seq_end = b.chain.next_seq;
    j->nnotes = 0;
    for (uint64_t i = 0; i < j->n; i++) {
        rpc_item *it = j->items[i];
        item_enc e = {s, it, &s->results[i], view, j->now};
        if (!j->msgs[i].final && job_reply(j, &j->msgs[i], enc_item, &e) != 0)
            return apply_failed(s, LEDGER_NO_MEMORY);
        if (it->req.is_tx && it->error == 0 && !s->results[i].duplicate &&
            rpc_log_tx_wanted(it->req.tx.kind))
            job_note(j, &it->req.tx, &s->results[i]);
    }
    if (rpc_events_listened(s->events))
        encode_events(j, view);
    return any_tx ? apply_keep(s, j, &b, view, ops) : LEDGER_OK;
}

/* The reply to each request of a batch that failed: NOT_LEADER when this replica lost the
 * stream to another one, NO_QUORUM when the stream could not confirm it before a stop, else
 * INTERNAL. Returns: 0 or -1 (no memory). */
static int failed_reply(rpc_server *s, msgpack_sbuffer *buf, const rpc_id *id, int rc)
{
    if (rc == LEDGER_NOT_LEADER && s->repl != NULL) {
        rpc_repl_status st;
        rpc_repl_status_get(s->repl, &st);
        return rpc_reply_not_leader(buf, id,
                                    "this replica is no longer the leader; nothing of the "
                                    "transaction was applied here: send it to the leader",
                                    st.leader);
    }
    if (rc == LEDGER_NO_QUORUM)
        return rpc_reply_error(buf, id, LEDGER_NO_QUORUM,
                               "the stream did not confirm the batch before the service stopped: "
                               "the transaction may or may not be committed; resend it (the "
                               "nonce makes a resend apply once) or look it up");
    return rpc_reply_error(buf, id, LEDGER_INTERNAL,
                           "the batch could not be committed; nothing was applied");
}

/* What one reply of the batch is: what was encoded, or for a failed batch INTERNAL (appended
 * to errs; a verifier's error keeps its own reply). Out: *at (in j->replies, or in errs when
 * *in_errs), *len. */
static void job_reply_bytes(batch_job *j, const out_msg *m, int rc, msgpack_sbuffer *errs,
                            size_t *at, size_t *len, bool *in_errs)
{
    msgpack_sbuffer one;
    *at = m->at;
    *len = m->len;
    *in_errs = false;
    if (rc == 0 || m->final)
        return;
    msgpack_sbuffer_init(&one);
    if (failed_reply(j->s, &one, &m->id, rc) == 0 &&
        msgpack_sbuffer_write(errs, one.data, one.size) == 0) {
        transit_add(j->s, slot_of(m->env.conn), (int64_t)one.size - (int64_t)m->len);
        *at = errs->size - one.size;
        *len = one.size;
        *in_errs = true;
    }
    msgpack_sbuffer_destroy(&one);
}

/* A reply that will not reach the receiver: it no longer waits for it, nor counts its bytes. */
static void reply_lost(rpc_server *s, const out_msg *m, size_t len)
{
    s->c.replies_dropped++;
    transit_add(s, slot_of(m->env.conn), -(int64_t)len);
    atomic_fetch_sub(&s->replies_made, 1);
}

/* Every reply of the batch, in one message to the receiver (push_lock held). */
static void job_push(batch_job *j, int rc)
{
    rpc_server *s = j->s;
    msgpack_sbuffer errs;
    msgpack_sbuffer_init(&errs);
    size_t *at = calloc(j->n, sizeof *at), *len = calloc(j->n, sizeof *len), total = 0;
    bool *in_errs = calloc(j->n, sizeof *in_errs);
    for (uint64_t i = 0; at != NULL && len != NULL && in_errs != NULL && i < j->n; i++) {
        job_reply_bytes(j, &j->msgs[i], rc, &errs, &at[i], &len[i], &in_errs[i]);
        total += len[i] > 0 ? REPLY_HEAD_BYTES + len[i] : 0;
    }
    uint8_t *buf = at != NULL && len != NULL && in_errs != NULL ? malloc(total + 1) : NULL;
    size_t used = 0;
    for (uint64_t i = 0; i < j->n; i++) {
        size_t l = len != NULL ? len[i] : j->msgs[i].len;
        if (buf == NULL || l == 0) {
            reply_lost(s, &j->msgs[i], l);
            continue;
        }
        envelope_pack(buf + used, &j->msgs[i].env);
        for (unsigned b = 0; b < 4; b++)
            buf[used + ENVELOPE_BYTES + b] = (uint8_t)(l >> (8 * b));
        memcpy(buf + used + REPLY_HEAD_BYTES, (in_errs[i] ? errs.data : j->replies.data) + at[i],
               l);
        used += REPLY_HEAD_BYTES + l;
    }
    /* copied into the pipe (not handed over): the receiver then reads memory libzmq wrote,
     * which ThreadSanitizer does not mistake for a race through the uninstrumented library */
    if (buf != NULL && zmq_send(s->reply_push, buf, used, 0) < 0)
        for (uint64_t i = 0; i < j->n; i++) /* cannot happen: an inproc pipe without a limit */
            if (len[i] > 0)
                reply_lost(s, &j->msgs[i], len[i]);
    free(buf);
    free(at);
    free(len);
    free(in_errs);
    msgpack_sbuffer_destroy(&errs);
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

/* One store batch of a stream batch is done: the last one hands the unit back with the first
 * failure (a divergence stops this replica). */
static void follow_done(rpc_server *s, follow_state *fs, int rc)
{
    int none = 0;
    if (rc != 0)
        (void)atomic_compare_exchange_strong(&fs->rc, &none, rc);
    if (atomic_fetch_sub(&fs->left, 1) == 1) {
        rpc_repl_unit_done(s->repl, fs->unit, atomic_load(&fs->rc));
        free(fs);
    }
}

/* The log thread, once the batch is durable (rc 0) or failed: count it, send every reply,
 * then the events. A failed batch applied nothing: each transaction and query in it is
 * answered INTERNAL (a verifier's error keeps its own reply). */
static void job_done(void *ctx, int rc)
{
    batch_job *j = ctx;
    rpc_server *s = j->s;
    uint64_t took_us = now_us() - j->now_us;
    if (j->simulate && rc == APPLY_SIMULATED)
        rc = 0; /* undone as it should be: its reply is what it would have done */
    if (rc == 0 && j->seq_end > j->seq_begin && j->follow == NULL)
        count_batch(s, j, took_us);
    if (j->follow != NULL)
        follow_done(s, j->follow, rc);
    if (rc != 0)
        atomic_fetch_add(&s->mc.batches_failed, 1);
    if (rc != 0 && j->follow == NULL && rc != LEDGER_NOT_LEADER && rc != LEDGER_NO_QUORUM)
        rpc_log(RPC_LOG_ERROR, "batch_failed",
                " requests=%" PRIu64 " code=%s msg=\"the batch could not be committed; nothing "
                "of it was applied and each of its requests was answered INTERNAL\"",
                j->n, ledger_err_name(rc));
    if (j->n > 0) {
        pthread_mutex_lock(&s->push_lock);
        job_push(j, rc);
        pthread_mutex_unlock(&s->push_lock);
    }
    if (rc == 0)
        rpc_events_publish(s->events, j->evs, j->nev, j->events.data, j->events.size);
    for (size_t i = 0; rc == 0 && i < j->nnotes; i++)
        rpc_log_tx(&j->notes[i].tx, &j->notes[i].res);
    if (rc == 0 && rpc_log_enabled(RPC_LOG_DEBUG))
        rpc_log(RPC_LOG_DEBUG, "batch",
                " requests=%" PRIu64 " first_seq=%" PRIu64 " records=%" PRIu64 " ms=%" PRIu64, j->n,
                j->seq_begin, j->seq_end - j->seq_begin, took_us / 1000);
    job_free(j);
}

/* One group: apply it as one batch on the store, which answers it through job_done once the
 * batch is durable; the next group is applied meanwhile. */
static void process(rpc_server *s, rpc_item **items, uint64_t n, bool simulate)
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
    *j = (batch_job){.s = s,
                     .items = items,
                     .n = n,
                     .now = (uint64_t)time(NULL),
                     .msgs = msgs,
                     .simulate = simulate};
    j->now_us = now_us();
    msgpack_sbuffer_init(&j->replies);
    msgpack_sbuffer_init(&j->events);
    char leader[RPC_PATH_MAX];
    int refusal = repl_refusal(s, leader, sizeof leader);
    for (uint64_t i = 0; i < n; i++) {
        rpc_item *it = items[i];
        msgs[i].env = it->env;
        msgs[i].id = it->req.id;
        if (repl_refuse(j, it, &msgs[i], refusal, leader)) {
            msgs[i].final = true;
            continue;
        }
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

/* A group in order: each simulation on its own (it sees the state the requests before it left
 * and leaves nothing behind), the runs between them as batches. */
static void process_group(rpc_server *s, rpc_item **items, uint64_t n)
{
    uint64_t from = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (!items[i]->req.is_tx || !items[i]->req.simulate)
            continue;
        if (i > from)
            process(s, items + from, i - from, false);
        process(s, items + i, 1, true);
        from = i + 1;
    }
    if (n > from)
        process(s, items + from, n - from, false);
}

/* The size limit of the next group: batch_max as last set, with the scratch arrays grown to
 * it first; if that fails, what they hold. */
static uint64_t group_max(rpc_server *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t want = s->batch_max;
    pthread_mutex_unlock(&s->lock);
    if (want > s->results_cap) {
        ledger_result *grown = realloc(s->results, want * sizeof *grown);
        if (grown != NULL)
            s->results = grown;
        rpc_item **items = grown != NULL ? realloc(s->batch, want * sizeof *items) : NULL;
        if (items != NULL) {
            s->batch = items;
            s->results_cap = want;
        }
    }
    return want < s->results_cap ? want : s->results_cap;
}

/* A follower's batch from the stream, applied as one store batch (replies: none; events: the
 * leader's). */
/* The end of the ledger batch that begins at record `from` of u. Out: *to. Returns: false
 * when a record does not decode. */
static bool ledger_batch_span(const rpc_repl_unit *u, uint64_t from, uint64_t *to)
{
    ledger_record r;
    uint64_t end = u->first_seq + u->n, batch = 0;
    for (*to = from; *to < end; (*to)++) {
        if (rpc_repl_unit_record(u, *to, &r) != LEDGER_OK)
            return false;
        if (*to > from && r.result.batch != batch)
            break;
        batch = r.result.batch;
    }
    return true;
}

/* Submit one ledger batch of a stream batch as a store batch. */
static void follow_submit(rpc_server *s, follow_state *fs, uint64_t from, uint64_t to)
{
    batch_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        follow_done(s, fs, LEDGER_NO_MEMORY);
        return;
    }
    *j = (batch_job){
        .s = s, .follow = fs, .follow_from = from, .follow_to = to, .now = (uint64_t)time(NULL)};
    j->now_us = now_us();
    msgpack_sbuffer_init(&j->replies);
    msgpack_sbuffer_init(&j->events);
    store_db_submit(s->store, apply_fn, j, job_done, j); /* job_done: follow_done */
}

/* A follower's stream batch: one store batch per ledger batch it holds. */
static void follow_unit(rpc_server *s, rpc_repl_unit *u)
{
    follow_state *fs = calloc(1, sizeof *fs);
    uint64_t spans = 0, end = u->first_seq + u->n, to;
    bool ok = fs != NULL;
    for (uint64_t from = u->first_seq; ok && from < end; from = to, spans++)
        ok = ledger_batch_span(u, from, &to);
    if (!ok) {
        free(fs);
        rpc_repl_unit_done(s->repl, u, fs == NULL ? LEDGER_NO_MEMORY : LEDGER_STORE_CORRUPT);
        return;
    }
    fs->unit = u;
    atomic_store(&fs->left, (uint32_t)spans);
    for (uint64_t from = u->first_seq; from < end; from = to) {
        (void)ledger_batch_span(u, from, &to);
        follow_submit(s, fs, from, to);
    }
}

/* Replicated, between groups: apply what the stream brought, and lead once a candidate has
 * applied all of it. */
static void follow(rpc_server *s)
{
    rpc_repl_unit *u;
    ledger_chain c;
    if (s->repl == NULL)
        return;
    while ((u = rpc_repl_take(s->repl)) != NULL)
        follow_unit(s, u);
    if (rpc_repl_role_now(s->repl) == RPC_REPL_CANDIDATE &&
        ledger_read_chain(store_db_view(s->store), &c) == LEDGER_OK)
        (void)rpc_repl_promote(s->repl, c.next_seq);
}

static void repl_wake(void *ctx)
{
    rpc_server *s = ctx;
    rpc_sched_kick(s->sched);
}

static void *seq_main(void *arg)
{
    rpc_server *s = arg;
    while (rpc_sched_wait_batch(s->sched)) { /* until quit and nothing left */
        follow(s);
        uint64_t max = group_max(s); /* batch-max as set now; may move s->batch */
        size_t n = rpc_sched_take_batch(s->sched, s->batch, max);
        process_group(s, s->batch, n);
        rpc_sched_release(s->sched, s->batch, n);
    }
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

/* The requests' rpc_net: the hard bound of queued replies is what the rules above allow. */
static int requests_bind(rpc_server *s)
{
    const rpc_config *cfg = &s->cfg;
    rpc_net_config nc = {.role = RPC_ZMTP_ROUTER,
                         .conn_max = cfg->conn_max,
                         .out_max = cfg->conn_reply_bytes + RPC_REPLY_MAX_BYTES +
                                    ((uint64_t)cfg->conn_queue_max + 1) * RPC_SMALL_REPLY_MAX,
                         .limits = {.frame_keep_max = RPC_REQUEST_MAX_BYTES,
                                    .message_max = RPC_MESSAGE_MAX_BYTES,
                                    .frames_max = RPC_MESSAGE_FRAMES_MAX},
                         .curve_secret_key = s->allow != NULL ? s->curve_secret : NULL,
                         .allow = rpc_curve_allowed,
                         .allow_generation = rpc_curve_allow_generation,
                         .allow_ctx = s->allow};
    rpc_net_handler h = {.ctx = s,
                         .opened = on_opened,
                         .frame = on_frame,
                         .can_read = on_can_read,
                         .queued = on_queued,
                         .closed = on_closed};
    return rpc_net_bind(&s->net, cfg->endpoint, &nc, &h, s->requests_url, sizeof s->requests_url);
}

static int sockets_open(rpc_server *s)
{
    int zero = 0;
    rpc_events_config ec = {.sub_max = s->cfg.sub_max,
                            .sub_topics_max = s->cfg.sub_topics_max,
                            .sub_queue_bytes = s->cfg.sub_queue_bytes,
                            .curve_secret_key = s->allow != NULL ? s->curve_secret : NULL,
                            .allow = s->allow};
    s->zctx = zmq_ctx_new();
    if (s->zctx == NULL)
        return -1;
    s->reply_pull = socket_new(s, ZMQ_PULL);
    s->reply_push = socket_new(s, ZMQ_PUSH);
    if (!s->reply_pull || !s->reply_push)
        return -1;
    zmq_setsockopt(s->reply_pull, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(s->reply_push, ZMQ_SNDHWM, &zero, sizeof zero);
    if (requests_bind(s) != 0 ||
        rpc_events_bind(&s->events, s->zctx, s->cfg.events_endpoint, &ec, s->events_url,
                        sizeof s->events_url) != 0 ||
        zmq_bind(s->reply_pull, REPLY_ENDPOINT) != 0 ||
        zmq_connect(s->reply_push, REPLY_ENDPOINT) != 0)
        return -1;
    return 0;
}

static void sockets_close(rpc_server *s)
{
    rpc_events_stop(&s->events);
    rpc_net_close(&s->net);
    void **socks[] = {&s->reply_pull, &s->reply_push};
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
    if (rpc_events_start(s->events) != 0)
        return -1;
    if (pthread_create(&s->io_thread, NULL, io_main, s) != 0)
        return -1;
    s->io_started = true;
    return 0;
}

int rpc_server_reload_curve(rpc_server *s, const char *path)
{
    char msg[RPC_PATH_MAX + 160], q[2 * RPC_PATH_MAX + 8], why[2 * sizeof msg];
    size_t keys = 0;
    if (s->allow == NULL)
        return 0;
    int rc = path[0] == '\0' ? (snprintf(msg, sizeof msg, "no curve_clients file is set"), -1)
                             : rpc_curve_allow_load(s->allow, path, &keys, msg, sizeof msg);
    if (rc != 0 && path[0] == '\0')
        rpc_curve_allow_load(s->allow, "/dev/null", &keys, why, sizeof why); /* nobody */
    rpc_log_quote(q, sizeof q, path[0] != '\0' ? path : "none");
    if (rc == 0) {
        rpc_log(RPC_LOG_INFO, "curve_clients", " file=%s keys=%zu outcome=loaded", q, keys);
        return 0;
    }
    char sentence[sizeof msg + 64];
    snprintf(sentence, sizeof sentence, "%s: refusing every CURVE client until it is fixed", msg);
    rpc_log(RPC_LOG_ERROR, "curve_clients", " file=%s keys=0 outcome=refusing_all msg=%s", q,
            rpc_log_quote(why, sizeof why, sentence));
    return -1;
}

/* CURVE (cfg.curve_secret_key set): the secret key (a file only its owner may read) and the
 * allow-list. A bad key file fails; a bad allow-list only refuses everybody (logged).
 * Returns: 0 or -1 (message on stderr). */
static int curve_setup(rpc_server *s)
{
    char msg[RPC_PATH_MAX + 160];
    if (s->cfg.curve_secret_key[0] == '\0')
        return 0;
    if (rpc_curve_secret_read(s->cfg.curve_secret_key, s->curve_secret, msg, sizeof msg) != 0) {
        fprintf(stderr, "lstd: --curve-secret-key: %s\n", msg);
        return -1;
    }
    if (rpc_curve_allow_new(&s->allow) != 0) {
        fprintf(stderr, "lstd: out of memory\n");
        return -1;
    }
    uint8_t pk[RPC_CURVE_KEY_SIZE];
    char z85[RPC_CURVE_Z85_LEN + 1];
    if (crypto_curve_public(pk, s->curve_secret) != 0) {
        fprintf(stderr, "lstd: --curve-secret-key: libsodium did not start\n");
        return -1;
    }
    rpc_curve_key_z85(z85, pk);
    rpc_log(RPC_LOG_INFO, "curve", " requests=on events=on server_key=%s", z85);
    rpc_server_reload_curve(s, s->cfg.curve_clients);
    return 0;
}

int rpc_server_bind(rpc_server **out, const rpc_config *cfg)
{
    rpc_server *s = calloc(1, sizeof *s);
    *out = NULL;
    if (s == NULL)
        return -1;
    s->cfg = *cfg;
    s->batch_max = cfg->batch_max;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->push_lock, NULL);
    msgpack_sbuffer_init(&s->seq_buf);
    msgpack_sbuffer_init(&s->rx_buf);
    pthread_mutex_init(&s->g.lock, NULL);
    s->slots = calloc(cfg->conn_max, sizeof *s->slots);
    for (unsigned i = 0; s->slots != NULL && i < cfg->conn_max; i++)
        s->slots[i].conn = NO_CONN;
    s->items = calloc((size_t)cfg->conn_max + 2, sizeof *s->items);
    if (curve_setup(s) != 0) {
        rpc_server_stop(&s);
        return -1;
    }
    int rc = s->slots == NULL || s->items == NULL ? -1 : sockets_open(s);
    crypto_wipe(s->curve_secret, sizeof s->curve_secret); /* each endpoint has its copy */
    if (rc != 0) {
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

/* Replicated: the stream's arrivals wake the sequencer. */
static int repl_start(rpc_server *s)
{
    if (s->repl != NULL)
        rpc_repl_set_wake(s->repl, repl_wake, s);
    return 0;
}

const char *rpc_server_requests_url(const rpc_server *s)
{
    return s->requests_url;
}

int rpc_server_start(rpc_server *s, store_db *store, rpc_rates *rates, rpc_repl *repl)
{
    s->store = store;
    s->rates = rates;
    s->repl = repl;
    s->started = time(NULL);
    s->results_cap = s->batch_max;
    s->results = calloc(s->results_cap, sizeof *s->results);
    s->batch = calloc(s->results_cap, sizeof *s->batch);
    if (s->results == NULL || s->batch == NULL ||
        rpc_sched_new(&s->sched, s->cfg.queue_max, s->cfg.conn_max, s->cfg.conn_queue_max) != 0 ||
        read_ledger_id(s) != 0 || gauges_start(s) != 0 || repl_start(s) != 0 ||
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

static void threads_stop(rpc_server *s)
{
    if (s->io_started)
        pthread_join(s->io_thread, NULL); /* returns once every accepted request is answered */
    if (s->sched != NULL)
        rpc_sched_quit(s->sched);
    for (unsigned i = 0; i < s->workers_started; i++)
        pthread_join(s->workers[i], NULL);
    if (s->seq_started)
        pthread_join(s->seq_thread, NULL);
}

void rpc_server_stop(rpc_server **sp)
{
    rpc_server *s = *sp;
    if (s == NULL)
        return;
    *sp = NULL;
    rpc_metrics_stop(&s->metrics); /* first: its scrapes read the server */
    atomic_store(&s->stopping, true);
    if (s->sched != NULL) /* every request read is answered: none is held back any more */
        rpc_sched_drain(s->sched);
    if (s->store != NULL) /* a log that cannot be written is given up: a stop always ends */
        store_db_shutdown(s->store);
    threads_stop(s);
    if (s->store != NULL) /* the store's log thread ends each batch in job_done: let it */
        (void)store_db_flush(s->store);
    if (s->repl != NULL) /* before the scheduler it kicks is freed */
        rpc_repl_set_wake(s->repl, NULL, NULL);
    sockets_close(s);
    rpc_curve_allow_free(&s->allow); /* after the sockets: their threads read it */
    crypto_wipe(s->curve_secret, sizeof s->curve_secret);
    msgpack_sbuffer_destroy(&s->seq_buf);
    msgpack_sbuffer_destroy(&s->rx_buf);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->push_lock);
    rpc_sched_free(&s->sched);
    pthread_mutex_destroy(&s->g.lock);
    free(s->g.ops);
    free(s->g.scratch);
    free(s->workers);
    free(s->batch);
    free(s->results);
    free(s->slots);
    free(s->items);
    free(s);
}
