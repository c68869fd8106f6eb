/* bench_rpc.c - lstd-bench-rpc: signed transfers/s and latency through a running lstd */
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_util.h"
#include "crypto.h"
#include "ledger.h"
#include "rpc_genesis.h"
#include "rpc_reply.h"

#define RECV_TIMEOUT_MS 30000 /* silence after which outstanding replies count as unanswered */
#define SETUP_WINDOW 1024     /* setup deposits in flight */
#define SETUP_CHUNK 65536     /* setup deposits signed at a time */
#define SIGNER_AMOUNT 1000000000000u /* base units deposited to each signer */
#define ACCOUNT_AMOUNT 1000000000u   /* base units deposited to each --accounts account */
#define VERIFY_ROUNDS 3              /* the verify timing is repeated; the fastest round counts */
#define THREADS_MAX 8                /* signing threads */
#define START_DELAY_NS 20000000u     /* load threads start together this long after creation */
#define TICK_NS 1000000u             /* open loop: sends go out at tick boundaries (1 ms) */
#define ERROR_NAME_MAX 40
#define RESENDS_MAX 15 /* BUSY answers one transfer may get before it counts as failed */
#define SENDS_MAX 255  /* sends of one transfer in all (BUSY, NONCE_GAP behind one) */
#define NO_PROBE UINT64_MAX
#define BLOCKED UINT64_MAX      /* resend_ns: every queued transfer waits for its signer's probe */
#define BACKOFF_NS_MIN 1000000u /* the wait before resending after a BUSY, doubled by each */
#define BACKOFF_NS_MAX 100000000u /* BUSY in a row, reset by any other answer */

static const char usage_text[] =
    "usage: lstd-bench-rpc [options]\n"
    "       lstd-bench-rpc --version   print \"lstd-bench-rpc VERSION\"\n"
    "\n"
    "Against a running development lstd: the custodian (DIR/custodian.key) deposits to\n"
    "`signers` fresh accounts per connection (and to --accounts further accounts), then each of\n"
    "`connections` DEALER sockets sends pre-signed transfers from its own signers. Before the\n"
    "load starts it times crypto_verify on one thread over --verify-samples pre-made signatures\n"
    "(verify_per_s_one_core: the whole check, the key lifted to a point each time; lstd's\n"
    "verifiers keep the points of recent signers, which saves about a tenth). Latency is per\n"
    "transfer, to its reply (which lstd sends once the batch holding it is durable).\n"
    "rss_mb is the peak RSS of this bench process, not of lstd.\n"
    "\n"
    "  --endpoint URL       default tcp://127.0.0.1:7440\n"
    "  --keys DIR           development keys, default ./lstd-data/keys\n"
    "  --connections N      default 4 (1..64)\n"
    "  --signers N          signing accounts per connection, default 16 (1..4096)\n"
    "  --count N            transfers in all, default 40000\n"
    "  --accounts N         further accounts created by deposits before the load; transfers then\n"
    "                       go to uniformly random ones of them (default 0: to the connection's\n"
    "                       next signer)\n"
    "  --window N           closed loop (default): at most N transfers in flight per connection\n"
    "                       (fewer while lstd answers BUSY: halved by each BUSY, one more by\n"
    "                       each success, as TCP's congestion window),\n"
    "                       latency from each one's send; default 256\n"
    "  --rate N             open loop: send N transfers/s in all, evenly spread over the\n"
    "                       connections on a fixed schedule whatever the replies do; latency from\n"
    "                       each one's scheduled send time, so a stall shows as latency\n"
    "                       (how late the bench itself sent them: send_late_p99_ms). Sends go\n"
    "                       out in 1 ms ticks, each tick every transfer scheduled up to it, so\n"
    "                       the bench wakes once a millisecond, not once a transfer; a transfer\n"
    "                       waits for its tick up to 1 ms, and that wait counts in its latency\n"
    "  --verify-samples N   signatures timed for verify_per_s_one_core, default 4000\n"
    "  --flood N            N more connections send transfers with bad signatures as fast as\n"
    "                       they can (reading their replies) from before the load starts until\n"
    "                       it ends: what the measured connections keep of their throughput\n"
    "                       under such a flood (lstd's fairness between connections); default 0\n"
    "  --json               print one JSON line instead of the summary line\n"
    "\n"
    "A transfer answered BUSY (the server's queue is full; no nonce consumed) is sent again\n"
    "after a backoff (1 ms, doubling to 100 ms), alone, and once it is answered the same\n"
    "signer's transfers behind it that were answered NONCE_GAP, in nonce order (busy_resends);\n"
    "one answered BUSY 15 times counts as failed. Latency runs from a transfer's first send.\n";

typedef struct options {
    const char *endpoint, *keys_dir;
    uint64_t connections, signers, count, window, accounts, rate, verify_samples, flood;
    bool json;
} options;

/* A flooding connection (--flood): its one request (a transfer whose signature cannot verify)
 * sent over and over, its replies read and counted. */
typedef struct flooder {
    void *sock;
    msgpack_sbuffer req;
    atomic_bool stop;
    _Atomic uint64_t replies;
    pthread_t thread;
    bool started;
} flooder;

typedef struct conn {
    void *sock;
    uint8_t (*sk)[32], (*pk)[32];
    msgpack_sbuffer *reqs; /* pre-signed requests; request i has id i */
    uint64_t count, window, index, connections, rate, signers;
    uint64_t cwnd; /* closed loop: transfers allowed in flight now (window, less after BUSY) */
    uint64_t t0_ns;
    uint64_t *sent_ns; /* closed loop: when sent; open loop: when scheduled */
    uint64_t *late_ns; /* open loop: actual send - scheduled */
    uint64_t *lat_ns;  /* 0: no reply */
    uint64_t ok, not_ok, last_reply_ns;
    char first_error[ERROR_NAME_MAX]; /* BUSY consumes no nonce: a BUSY transfer and those of its
                                       * signer behind it (NONCE_GAP) are sent again, the same
                                       * bytes, in index (so nonce) order, after a backoff: the BUSY
                                       * one alone first (its signer's probe), the others once it
                                       * has its final answer */
    uint8_t *busy;                    /* BUSY answers of transfer i */
    uint8_t *sends;                   /* resends of transfer i */
    uint64_t *first_open; /* per signer: its lowest transfer index not yet answered finally */
    uint64_t *probe;      /* per signer: the BUSY transfer resent alone, or NO_PROBE */
    uint64_t *queue;      /* transfers to resend */
    uint64_t queued, resends, busy_in_row, rng;
    uint64_t resend_ns; /* when to send the queue; BLOCKED: all of it waits for probes */
} conn;

/* A transaction to sign, and where its request goes. */
typedef struct sign_item {
    ledger_tx tx;
    const uint8_t *sk;
    uint64_t id;
    msgpack_sbuffer *out;
} sign_item;

typedef struct sign_job {
    sign_item *items;
    size_t first, end;
    const ledger_tx_hasher *hasher;
    int failed;
} sign_job;

/* ---- replies ---------------------------------------------------------------------------- */

typedef struct reply {
    uint64_t id;
    bool ok;
    char error[ERROR_NAME_MAX];
} reply;

static bool key_is(const msgpack_object *k, const char *name)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(name) &&
           memcmp(k->via.str.ptr, name, k->via.str.size) == 0;
}

/* Reply fields the bench needs: id, ok, error. Returns: 0 or -1 (no id). */
static int reply_parse(const void *data, size_t len, reply *r)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = -1;
    memset(r, 0, sizeof *r);
    if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        msgpack_object_map *m = &u.data.via.map;
        for (uint32_t i = 0; i < m->size; i++) {
            msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
            if (key_is(k, "id") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                r->id = v->via.u64;
                rc = 0;
            } else if (key_is(k, "ok") && v->type == MSGPACK_OBJECT_BOOLEAN) {
                r->ok = v->via.boolean;
            } else if (key_is(k, "error") && v->type == MSGPACK_OBJECT_STR &&
                       v->via.str.size < sizeof r->error) {
                memcpy(r->error, v->via.str.ptr, v->via.str.size);
            }
        }
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* Send one request and wait for its reply (setup only). Returns: ok. */
static bool roundtrip(void *sock, const msgpack_sbuffer *req, char *buf, size_t cap, int *len)
{
    reply r;
    if (zmq_send(sock, req->data, req->size, 0) < 0 || (*len = zmq_recv(sock, buf, cap, 0)) < 0)
        return false;
    return reply_parse(buf, (size_t)*len, &r) == 0 && r.ok;
}

static const msgpack_object *find_key(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (key_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

/* Run a query with one optional bin32 argument; copy result[field] out (str or uint). */
static int query_field(void *sock, const char *op, const char *arg, const uint8_t *arg_val,
                       const char *field, char *str_out, uint64_t *u_out)
{
    char buf[65536];
    int len, rc = -1;
    msgpack_sbuffer q;
    msgpack_packer pk;
    msgpack_unpacked u;
    msgpack_sbuffer_init(&q);
    msgpack_packer_init(&pk, &q, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, arg ? 3 : 2);
    rpc_pack_u64(&pk, "id", 1);
    rpc_pack_str(&pk, "op", op);
    if (arg)
        rpc_pack_bin(&pk, arg, arg_val, 32);
    bool ok = roundtrip(sock, &q, buf, sizeof buf, &len);
    msgpack_sbuffer_destroy(&q);
    msgpack_unpacked_init(&u);
    if (ok && msgpack_unpack_next(&u, buf, (size_t)len, NULL) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *v = find_key(find_key(&u.data, "result"), field);
        if (v && v->type == MSGPACK_OBJECT_STR && str_out && v->via.str.size <= LEDGER_ID_MAX) {
            memcpy(str_out, v->via.str.ptr, v->via.str.size);
            str_out[v->via.str.size] = '\0';
            rc = 0;
        } else if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && u_out) {
            *u_out = v->via.u64;
            rc = 0;
        }
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* ---- signing ----------------------------------------------------------------------------- */

static void *sign_run(void *arg)
{
    sign_job *j = arg;
    for (size_t i = j->first; i < j->end; i++) {
        sign_item *it = &j->items[i];
        uint8_t hash[32], sig[64];
        msgpack_packer pk;
        if (ledger_tx_hash_with(hash, j->hasher, &it->tx) != LEDGER_OK ||
            crypto_sign(sig, hash, it->sk) != 0) {
            j->failed = 1;
            return NULL;
        }
        msgpack_sbuffer_init(it->out);
        msgpack_packer_init(&pk, it->out, msgpack_sbuffer_write);
        rpc_pack_tx_request(&pk, &(rpc_id){.type = 1, .u = it->id}, &it->tx, sig, NULL);
    }
    return NULL;
}

static size_t thread_count(size_t n)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t t = cores < 1 ? 1 : cores > THREADS_MAX ? THREADS_MAX : (size_t)cores;
    return n < 1000 ? 1 : t;
}

/* Sign and pack every item, on one thread per core. Returns: 0 or -1. */
static int sign_all(sign_item *items, size_t n, const ledger_tx_hasher *h)
{
    size_t threads = thread_count(n), started = 0;
    pthread_t th[THREADS_MAX];
    sign_job jobs[THREADS_MAX];
    int failed = 0;
    for (size_t t = 0; t < threads; t++) {
        jobs[t] = (sign_job){items, n * t / threads, n * (t + 1) / threads, h, 0};
        if (t + 1 < threads && pthread_create(&th[started], NULL, sign_run, &jobs[t]) == 0)
            started++;
        else
            sign_run(&jobs[t]);
    }
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    for (size_t t = 0; t < threads; t++)
        failed |= jobs[t].failed;
    return failed || started + 1 != threads ? -1 : 0;
}

/* ---- setup ------------------------------------------------------------------------------- */

typedef struct setup {
    void *sock;
    char ledger_id[LEDGER_ID_MAX + 1];
    ledger_tx_hasher hasher;
    uint8_t csk[32], cpk[32]; /* the custodian */
    uint64_t cnonce;          /* its next nonce */
    uint8_t seed[32];         /* this run's: account keys and deposit refs derive from it */
    crypto_tag tag;
    uint64_t deposits; /* made so far: the index of the next ref */
    sign_item *items;
    msgpack_sbuffer *bufs;
    size_t n; /* deposits waiting in items */
} setup;

/* Sign and send the waiting deposits, at most SETUP_WINDOW in flight; every one must succeed.
 * Returns: 0 or -1 (message on stderr). */
static int setup_flush(setup *s)
{
    char buf[4096];
    size_t sent = 0, done = 0;
    int rc = sign_all(s->items, s->n, &s->hasher);
    while (rc == 0 && done < s->n) {
        while (sent < s->n && sent - done < SETUP_WINDOW) {
            if (zmq_send(s->sock, s->bufs[sent].data, s->bufs[sent].size, 0) < 0)
                rc = -1;
            sent++;
        }
        reply r;
        int len = zmq_recv(s->sock, buf, sizeof buf, 0);
        if (len < 0 || reply_parse(buf, (size_t)len, &r) != 0 || !r.ok) {
            fprintf(stderr, "lstd-bench-rpc: a setup deposit failed (%s)\n",
                    len < 0 ? "no reply" : r.error);
            rc = -1;
        }
        done++;
    }
    for (size_t i = 0; i < s->n; i++)
        msgpack_sbuffer_destroy(&s->bufs[i]);
    s->n = 0;
    return rc;
}

/* Queue a custodian deposit to `to` (unique ref). Returns: 0 or -1. */
static int setup_deposit(setup *s, const uint8_t to[32], uint64_t amount)
{
    sign_item *it = &s->items[s->n];
    uint8_t msg[40];
    memset(it, 0, sizeof *it);
    it->tx.kind = LEDGER_TX_DEPOSIT;
    it->tx.nonce = s->cnonce++;
    memcpy(it->tx.signer, s->cpk, 32);
    memcpy(it->tx.account, to, 32);
    it->tx.amount = amount;
    memcpy(msg, s->seed, 32);
    memcpy(msg + 32, &s->deposits, 8);
    s->deposits++;
    crypto_tag_hash(it->tx.ref, &s->tag, msg, sizeof msg); /* 40 bytes: keys hash 44 */
    it->sk = s->csk;
    it->id = s->n + 1;
    it->out = &s->bufs[s->n];
    return ++s->n == SETUP_CHUNK ? setup_flush(s) : 0;
}

/* Account key i of this run: the first valid x-only key among tagged hashes of (seed, i, t). */
static void derive_key(const setup *s, uint64_t i, uint8_t out[32])
{
    uint8_t msg[44];
    memcpy(msg, s->seed, 32);
    memcpy(msg + 32, &i, 8);
    for (uint32_t t = 0;; t++) {
        memcpy(msg + 40, &t, 4);
        crypto_tag_hash(out, &s->tag, msg, sizeof msg);
        if (crypto_pubkey_valid(out))
            return;
    }
}

static int setup_open(setup *s, const options *o, void *zctx)
{
    char path[1024];
    uint8_t throwaway[32];
    int timeout_ms = RECV_TIMEOUT_MS;
    memset(s, 0, sizeof *s);
    snprintf(path, sizeof path, "%s/custodian.key", o->keys_dir);
    s->sock = zmq_socket(zctx, ZMQ_DEALER);
    zmq_setsockopt(s->sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(s->sock, ZMQ_LINGER, &(int){0}, sizeof(int));
    if (rpc_key_read(path, s->csk) != 0 || crypto_pubkey(s->cpk, s->csk) != 0 ||
        zmq_connect(s->sock, o->endpoint) != 0 ||
        query_field(s->sock, "pool", NULL, NULL, "ledger_id", s->ledger_id, NULL) != 0 ||
        query_field(s->sock, "account", "account", s->cpk, "next_nonce", NULL, &s->cnonce) != 0) {
        fprintf(stderr, "lstd-bench-rpc: cannot read %s or query %s\n", path, o->endpoint);
        return -1;
    }
    ledger_tx_hasher_init(&s->hasher, s->ledger_id);
    crypto_tag_init(&s->tag, "lstd-bench-rpc", 14);
    s->items = calloc(SETUP_CHUNK, sizeof *s->items);
    s->bufs = calloc(SETUP_CHUNK, sizeof *s->bufs);
    if (s->items == NULL || s->bufs == NULL || crypto_keygen(throwaway, s->seed) != 0)
        return -1;
    crypto_wipe(throwaway, sizeof throwaway);
    return 0;
}

/* ---- connections and their transfers ------------------------------------------------------- */

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Keys, funding deposits and transfer items of connection c (signed later, all together). */
static int conn_prepare(conn *k, uint64_t c, const options *o, setup *s,
                        const uint8_t (*accounts)[32], sign_item *items)
{
    uint64_t per = o->count / o->connections, rng = 88172645463325252ull + c * 7919;
    k->index = c;
    k->rng = 0x9e3779b97f4a7c15ull ^ (c + 1) * 0xbf58476d1ce4e5b9ull; /* backoff jitter */
    k->signers = o->signers;
    k->connections = o->connections;
    k->count = per;
    k->window = k->cwnd = o->window;
    k->rate = o->rate;
    k->sk = calloc(o->signers, 32);
    k->pk = calloc(o->signers, 32);
    k->reqs = calloc(per ? per : 1, sizeof *k->reqs);
    k->sent_ns = calloc(per ? per : 1, sizeof *k->sent_ns);
    k->late_ns = calloc(per ? per : 1, sizeof *k->late_ns);
    k->lat_ns = calloc(per ? per : 1, sizeof *k->lat_ns);
    k->busy = calloc(per ? per : 1, sizeof *k->busy);
    k->sends = calloc(per ? per : 1, sizeof *k->sends);
    k->queue = calloc(per ? per : 1, sizeof *k->queue);
    k->first_open = calloc(o->signers, sizeof *k->first_open);
    k->probe = calloc(o->signers, sizeof *k->probe);
    uint64_t *nonce = calloc(o->signers, sizeof *nonce);
    if (!k->sk || !k->pk || !k->reqs || !k->sent_ns || !k->late_ns || !k->lat_ns || !nonce ||
        !k->busy || !k->sends || !k->queue || !k->first_open || !k->probe)
        return -1;
    for (uint64_t i = 0; i < o->signers; i++) {
        k->first_open[i] = i; /* transfer i is signer i % signers' */
        k->probe[i] = NO_PROBE;
    }
    for (uint64_t i = 0; i < o->signers; i++)
        if (crypto_keygen(k->sk[i], k->pk[i]) != 0 || setup_deposit(s, k->pk[i], SIGNER_AMOUNT))
            return -1;
    for (uint64_t i = 0; i < per; i++) {
        uint64_t from = i % o->signers;
        sign_item *it = &items[i];
        memset(it, 0, sizeof *it);
        it->tx.kind = LEDGER_TX_TRANSFER;
        it->tx.nonce = ++nonce[from];
        it->tx.amount = 1 + i % 7;
        memcpy(it->tx.signer, k->pk[from], 32);
        memcpy(it->tx.account,
               o->accounts ? accounts[next_rand(&rng) % o->accounts]
                           : k->pk[(from + 1) % o->signers],
               32);
        it->sk = k->sk[from];
        it->id = i;
        it->out = &k->reqs[i];
    }
    free(nonce);
    return 0;
}

/* Fund everything and pre-sign every transfer. Out: cs[], *accounts (caller frees).
 * Returns: 0 or -1 (message on stderr). */
static int prepare(conn *cs, const options *o, setup *s, uint8_t (**accounts)[32])
{
    uint64_t per = o->count / o->connections;
    sign_item *items = calloc(per * o->connections + 1, sizeof *items);
    int rc = 0;
    *accounts = calloc(o->accounts + 1, 32);
    if (items == NULL || *accounts == NULL)
        rc = -1;
    for (uint64_t i = 0; rc == 0 && i < o->accounts; i++) {
        derive_key(s, i, (*accounts)[i]);
        rc = setup_deposit(s, (*accounts)[i], ACCOUNT_AMOUNT);
    }
    for (uint64_t c = 0; rc == 0 && c < o->connections; c++)
        rc = conn_prepare(&cs[c], c, o, s, (const uint8_t(*)[32]) * accounts, items + c * per);
    if (rc == 0)
        rc = setup_flush(s);
    if (rc == 0 && sign_all(items, per * o->connections, &s->hasher) != 0) {
        fprintf(stderr, "lstd-bench-rpc: signing failed\n");
        rc = -1;
    }
    free(items);
    return rc;
}

/* verify_per_s_one_core: BIP-340 verifications per second on this thread, the fastest of
 * VERIFY_ROUNDS rounds over `samples` signatures made here. Returns: the rate, or 0. */
static double verify_rate(uint64_t samples)
{
    uint8_t sk[32], pk[32];
    uint8_t(*msg)[32] = calloc(samples, 32), (*sig)[64] = calloc(samples, 64);
    double best = 0;
    if (msg == NULL || sig == NULL || samples == 0 || crypto_keygen(sk, pk) != 0)
        goto out;
    for (uint64_t i = 0; i < samples; i++) {
        crypto_tagged_hash(msg[i], "lstd-bench-rpc/verify", 21, &i, sizeof i);
        if (crypto_sign(sig[i], msg[i], sk) != 0)
            goto out;
    }
    for (int r = 0; r < VERIFY_ROUNDS; r++) {
        uint64_t good = 0;
        double t0 = bench_now_s();
        for (uint64_t i = 0; i < samples; i++)
            good += crypto_verify(sig[i], msg[i], pk);
        double rate = (double)samples / (bench_now_s() - t0);
        if (good != samples) {
            best = 0;
            break;
        }
        best = rate > best ? rate : best;
    }
out:
    crypto_wipe(sk, sizeof sk);
    free(msg);
    free(sig);
    return best;
}

/* ---- load ---------------------------------------------------------------------------------- */

/* Returns: true when a transfer of i's signer with a lower index has no final answer yet. */
static bool earlier_open(conn *c, uint64_t i)
{
    uint64_t s = i % c->signers, *f = &c->first_open[s];
    while (*f < c->count && c->lat_ns[*f] != 0)
        *f += c->signers;
    return *f < i;
}

/* Keep transfer i to send again: BUSY (after the backoff; it becomes its signer's probe), or
 * NONCE_GAP behind one. */
static void queue_resend(conn *c, uint64_t i, bool busy, uint64_t now)
{
    uint64_t *probe = &c->probe[i % c->signers];
    c->sends[i]++;
    c->queue[c->queued++] = i;
    if (busy) {
        c->cwnd = c->cwnd > 1 ? c->cwnd / 2 : 1; /* the server is full: less in flight */
        c->busy[i]++;
        *probe = *probe < i ? *probe : i;
        uint64_t wait = BACKOFF_NS_MIN << (c->busy_in_row < 7 ? c->busy_in_row : 7);
        c->busy_in_row++;
        wait = wait < BACKOFF_NS_MAX ? wait : BACKOFF_NS_MAX;
        wait = wait / 2 + next_rand(&c->rng) % (wait / 2 + 1); /* jitter: connections apart */
        if (c->resend_ns == BLOCKED || c->resend_ns < now + wait)
            c->resend_ns = now + wait;
    } else if (c->resend_ns == 0 || c->resend_ns == BLOCKED) {
        c->resend_ns = now;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Send the queued transfers again, in index order, once their backoff is over; those behind
 * their signer's probe stay queued until it has its final answer. Returns: 0, or -1. */
static int flush_resends(conn *c, uint64_t now)
{
    uint64_t kept = 0;
    if (c->queued == 0 || now < c->resend_ns)
        return 0;
    qsort(c->queue, c->queued, sizeof *c->queue, cmp_u64);
    for (uint64_t k = 0; k < c->queued; k++) {
        uint64_t i = c->queue[k], probe = c->probe[i % c->signers];
        if (probe != NO_PROBE && i > probe) {
            c->queue[kept++] = i;
            continue;
        }
        if (zmq_send(c->sock, c->reqs[i].data, c->reqs[i].size, 0) < 0)
            return -1;
        c->resends++;
    }
    c->queued = kept;
    c->resend_ns = kept > 0 ? BLOCKED : 0; /* the probe's final answer lets them go */
    return 0;
}

/* Record a reply. Returns: true when it is the transfer's final answer (false: ignored, or
 * the transfer is to be sent again). */
static bool record_reply(conn *c, const char *buf, int len, uint64_t now)
{
    reply r;
    if (len < 0 || reply_parse(buf, (size_t)len, &r) != 0 || r.id >= c->count ||
        c->lat_ns[r.id] != 0)
        return false;
    bool again = !r.ok && c->sends[r.id] < SENDS_MAX;
    if (again && c->busy[r.id] < RESENDS_MAX && strcmp(r.error, "BUSY") == 0) {
        queue_resend(c, r.id, true, now);
        return false;
    }
    if (again && strcmp(r.error, "NONCE_GAP") == 0 && earlier_open(c, r.id)) {
        queue_resend(c, r.id, false, now);
        return false;
    }
    c->busy_in_row = 0;
    c->cwnd += c->cwnd < c->window;
    if (c->probe[r.id % c->signers] == r.id) { /* its signer's queued transfers may go now */
        c->probe[r.id % c->signers] = NO_PROBE;
        c->resend_ns = c->queued > 0 ? now : 0;
    }
    c->lat_ns[r.id] = now > c->sent_ns[r.id] ? now - c->sent_ns[r.id] : 1;
    c->last_reply_ns = now;
    if (r.ok) {
        c->ok++;
    } else {
        c->not_ok++;
        if (c->first_error[0] == '\0')
            snprintf(c->first_error, sizeof c->first_error, "%s", r.error[0] ? r.error : "?");
    }
    return true;
}

/* Wait up to timeout_ms (less when resends are due) for replies and record them.
 * Returns: final answers recorded, or -1 (a socket error, or RECV_TIMEOUT_MS of silence). */
static int closed_recv(conn *c)
{
    char buf[4096];
    uint64_t now = bench_now_ns();
    long wait = RECV_TIMEOUT_MS;
    bool due = c->queued > 0 && c->resend_ns != BLOCKED; /* a resend will be due */
    if (due && c->resend_ns <= now)
        wait = 0;
    else if (due && (c->resend_ns - now) / 1000000u < RECV_TIMEOUT_MS)
        wait = (long)((c->resend_ns - now) / 1000000u) + 1;
    zmq_pollitem_t item = {.socket = c->sock, .events = ZMQ_POLLIN};
    int n = zmq_poll(&item, 1, wait);
    if (n < 0 && errno != EINTR)
        return -1;
    if (n == 0 && !due)
        return -1; /* RECV_TIMEOUT_MS of silence: the rest are unanswered */
    int len, got = 0;
    while ((len = zmq_recv(c->sock, buf, sizeof buf, ZMQ_DONTWAIT)) >= 0)
        got += record_reply(c, buf, len, bench_now_ns());
    return got;
}

/* Closed loop: keep `window` transfers in flight; latency from each one's send. */
static void *conn_closed(void *arg)
{
    conn *c = arg;
    uint64_t sent = 0, done = 0;
    while (bench_now_ns() < c->t0_ns)
        usleep(100);
    while (done < c->count) {
        if (flush_resends(c, bench_now_ns()) != 0)
            return NULL;
        while (sent < c->count && sent - done < c->cwnd) {
            c->sent_ns[sent] = bench_now_ns();
            if (zmq_send(c->sock, c->reqs[sent].data, c->reqs[sent].size, 0) < 0)
                return NULL;
            sent++;
        }
        int got = closed_recv(c);
        if (got < 0)
            return NULL;
        done += (uint64_t)got;
    }
    return NULL;
}

/* Wait for replies until `until_ns` (or RECV_TIMEOUT_MS when 0) and record them. zmq_poll
 * counts whole milliseconds, so the last fraction of a millisecond is slept precisely instead
 * (a reply arriving then is read, and timed, at most that fraction late).
 * Returns: replies recorded, or -1 (a socket error). */
static int await_replies(conn *c, uint64_t until_ns)
{
    char buf[4096];
    zmq_pollitem_t item = {.socket = c->sock, .events = ZMQ_POLLIN};
    uint64_t now = bench_now_ns();
    if (c->queued > 0 && c->resend_ns != BLOCKED && (until_ns == 0 || c->resend_ns < until_ns))
        until_ns = c->resend_ns > now ? c->resend_ns : now; /* a resend is due first */
    uint64_t wait = until_ns > now ? until_ns - now : 0;
    long timeout_ms = until_ns == 0 ? RECV_TIMEOUT_MS : (long)(wait / 1000000u);
    if (timeout_ms == 0 && wait > 0) {
        struct timespec ts = {0, (long)wait};
        nanosleep(&ts, NULL);
    } else if (zmq_poll(&item, 1, timeout_ms) < 0 && errno != EINTR) {
        return -1;
    }
    int len, got = 0;
    while ((len = zmq_recv(c->sock, buf, sizeof buf, ZMQ_DONTWAIT)) >= 0)
        got += record_reply(c, buf, len, bench_now_ns());
    return got;
}

/* The first tick boundary (t0 + k * TICK_NS) at or after t. */
static uint64_t tick_at(const conn *c, uint64_t t)
{
    uint64_t k = (t - c->t0_ns + TICK_NS - 1) / TICK_NS;
    return c->t0_ns + k * TICK_NS;
}

/* Open loop: transfer i of connection c is due at t0 + (i·C + c) / rate and sent at the
 * first tick after that (or earlier, once due, when a reply wakes the thread), whatever is
 * outstanding; its latency runs from the scheduled time, so a stall anywhere (server or
 * bench) shows as latency. How late the sends went out is kept (late_ns). */
static void *conn_open(void *arg)
{
    conn *c = arg;
    uint64_t sent = 0, done = 0;
    double step_ns = 1e9 / (double)c->rate;
    for (uint64_t i = 0; i < c->count; i++)
        c->sent_ns[i] = c->t0_ns + (uint64_t)((double)(i * c->connections + c->index) * step_ns);
    while (done < c->count) {
        uint64_t now = bench_now_ns();
        if (flush_resends(c, now) != 0)
            return NULL;
        while (sent < c->count && c->sent_ns[sent] <= now) {
            if (zmq_send(c->sock, c->reqs[sent].data, c->reqs[sent].size, 0) < 0)
                return NULL;
            c->late_ns[sent] = bench_now_ns() - c->sent_ns[sent];
            sent++;
        }
        int got = await_replies(c, sent < c->count ? tick_at(c, c->sent_ns[sent]) : 0);
        if (got < 0 || (got == 0 && sent == c->count && c->queued == 0 &&
                        bench_now_ns() - now >= (uint64_t)RECV_TIMEOUT_MS * 1000000u))
            return NULL; /* RECV_TIMEOUT_MS of silence: the rest are unanswered */
        done += (uint64_t)got;
    }
    return NULL;
}

static int connect_all(conn *cs, const options *o, void *zctx)
{
    int timeout_ms = RECV_TIMEOUT_MS, unlimited = 0;
    for (uint64_t c = 0; c < o->connections; c++) {
        cs[c].sock = zmq_socket(zctx, ZMQ_DEALER);
        if (cs[c].sock == NULL)
            return -1;
        zmq_setsockopt(cs[c].sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
        zmq_setsockopt(cs[c].sock, ZMQ_LINGER, &unlimited, sizeof unlimited); /* 0: drop */
        zmq_setsockopt(cs[c].sock, ZMQ_SNDHWM, &unlimited, sizeof unlimited);
        zmq_setsockopt(cs[c].sock, ZMQ_RCVHWM, &unlimited, sizeof unlimited);
        if (zmq_connect(cs[c].sock, o->endpoint) != 0)
            return -1;
    }
    return 0;
}

/* ---- the flood (--flood) ------------------------------------------------------------------- */

#define FLOOD_BURST 64          /* requests sent before the flooder reads what came back */
#define FLOOD_WARM_REPLIES 1000 /* the flood counts as on once each flooder got this many */

static void *flood_main(void *arg)
{
    flooder *f = arg;
    char buf[512];
    while (!atomic_load(&f->stop)) {
        for (int i = 0; i < FLOOD_BURST; i++)
            zmq_send(f->sock, f->req.data, f->req.size, ZMQ_DONTWAIT);
        zmq_pollitem_t item = {.socket = f->sock, .events = ZMQ_POLLIN};
        zmq_poll(&item, 1, 1);
        while (zmq_recv(f->sock, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
            f->replies++;
    }
    return NULL;
}

/* Start o->flood flooders (each a transfer by the custodian signed with 64 zero bytes) and
 * wait until each has had FLOOD_WARM_REPLIES replies. Returns: 0 or -1. */
static int flood_start(flooder *fl, const options *o, const setup *s, void *zctx)
{
    int unlimited = 0;
    rpc_id id = {.type = 1, .u = 1};
    uint8_t sig[64] = {0};
    ledger_tx tx = {.kind = LEDGER_TX_TRANSFER, .nonce = 1, .amount = 1};
    memcpy(tx.signer, s->cpk, 32);
    memcpy(tx.account, s->cpk, 32);
    for (uint64_t i = 0; i < o->flood; i++) {
        flooder *f = &fl[i];
        msgpack_packer pk;
        msgpack_sbuffer_init(&f->req);
        msgpack_packer_init(&pk, &f->req, msgpack_sbuffer_write);
        f->sock = zmq_socket(zctx, ZMQ_DEALER);
        if (f->sock == NULL || rpc_pack_tx_request(&pk, &id, &tx, sig, NULL) != 0)
            return -1;
        zmq_setsockopt(f->sock, ZMQ_LINGER, &unlimited, sizeof unlimited);
        if (zmq_connect(f->sock, o->endpoint) != 0 ||
            pthread_create(&f->thread, NULL, flood_main, f) != 0)
            return -1;
        f->started = true;
    }
    for (uint64_t i = 0; i < o->flood; i++)
        for (int wait = 0; wait < 10000 && fl[i].replies < FLOOD_WARM_REPLIES; wait++)
            usleep(1000);
    return 0;
}

/* Stop the flooders. Returns: the replies they had, in all. */
static uint64_t flood_stop(flooder *fl, uint64_t n)
{
    uint64_t replies = 0;
    for (uint64_t i = 0; i < n; i++) {
        atomic_store(&fl[i].stop, true);
        if (fl[i].started)
            pthread_join(fl[i].thread, NULL);
        if (fl[i].sock != NULL)
            zmq_close(fl[i].sock);
        msgpack_sbuffer_destroy(&fl[i].req);
        replies += fl[i].replies;
    }
    return replies;
}

/* Run every connection on its own thread. Returns: the start time t0 (ns). */
static uint64_t run_load(conn *cs, const options *o)
{
    pthread_t *th = calloc(o->connections, sizeof *th);
    uint64_t t0 = bench_now_ns() + START_DELAY_NS;
    for (uint64_t c = 0; c < o->connections; c++) {
        cs[c].t0_ns = t0;
        if (th == NULL || pthread_create(&th[c], NULL, o->rate ? conn_open : conn_closed, &cs[c])) {
            fprintf(stderr, "lstd-bench-rpc: cannot start a connection thread\n");
            exit(1);
        }
    }
    for (uint64_t c = 0; c < o->connections; c++)
        pthread_join(th[c], NULL);
    free(th);
    return t0;
}

/* ---- results ------------------------------------------------------------------------------- */

typedef struct summary {
    double verify_per_s, transfers_per_s, p50, p99, p999, max, late_p99, setup_s, rss_mb;
    double flood_per_s; /* replies the flooders had per second of the load */
    uint64_t total, answered, ok, not_ok, accounts, resends;
    const char *first_error;
} summary;

/* Latency quantiles over every answered transfer, throughput over t0 .. the last reply. */
static int summarize(summary *s, const conn *cs, const options *o, uint64_t t0)
{
    uint64_t per = o->count / o->connections, last = t0;
    double *lat = calloc(per * o->connections + 1, sizeof *lat);
    double *late = calloc(per * o->connections + 1, sizeof *late);
    if (lat == NULL || late == NULL)
        return -1;
    s->total = per * o->connections;
    s->first_error = "";
    for (uint64_t c = 0; c < o->connections; c++) {
        s->ok += cs[c].ok;
        s->not_ok += cs[c].not_ok;
        s->resends += cs[c].resends;
        if (cs[c].first_error[0] && !s->first_error[0])
            s->first_error = cs[c].first_error;
        last = cs[c].last_reply_ns > last ? cs[c].last_reply_ns : last;
        for (uint64_t i = 0; i < per; i++) {
            late[c * per + i] = (double)cs[c].late_ns[i] / 1e6;
            if (cs[c].lat_ns[i] != 0)
                lat[s->answered++] = (double)cs[c].lat_ns[i] / 1e6;
        }
    }
    bench_sort(lat, s->answered);
    bench_sort(late, s->total);
    s->p50 = bench_quantile(lat, s->answered, 0.5);
    s->p99 = bench_quantile(lat, s->answered, 0.99);
    s->p999 = bench_quantile(lat, s->answered, 0.999);
    s->max = s->answered ? lat[s->answered - 1] : 0;
    s->late_p99 = o->rate ? bench_quantile(late, s->total, 0.99) : 0;
    s->transfers_per_s = last > t0 ? (double)s->ok * 1e9 / (double)(last - t0) : 0;
    free(lat);
    free(late);
    return 0;
}

static void print_json(const summary *s, const options *o)
{
    printf("{\"mode\":\"%s\",\"connections\":%" PRIu64 ",\"window\":%" PRIu64
           ",\"rate_per_s\":%" PRIu64 ",\"count\":%" PRIu64 ",\"accounts\":%" PRIu64
           ",\"verify_per_s_one_core\":%.1f,\"transfers_per_s\":%.1f,\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"send_late_p99_ms\":%.3f,"
           "\"ok\":%" PRIu64 ",\"not_ok\":%" PRIu64 ",\"unanswered\":%" PRIu64
           ",\"first_error\":\"%s\",\"busy_resends\":%" PRIu64 ",\"flood\":%" PRIu64
           ",\"flood_replies_per_s\":%.1f,\"setup_s\":%.2f,\"rss_mb\":%.1f,\"rss_of\":\"bench\"}\n",
           o->rate ? "open" : "closed", o->connections, o->rate ? 0 : o->window, o->rate, s->total,
           s->accounts, s->verify_per_s, s->transfers_per_s, s->p50, s->p99, s->p999, s->max,
           s->late_p99, s->ok, s->not_ok, s->total - s->answered, s->first_error, s->resends,
           o->flood, s->flood_per_s, s->setup_s, s->rss_mb);
}

static void print_human(const summary *s, const options *o)
{
    char mode[64], failed[ERROR_NAME_MAX + 16] = "", flood[96] = "";
    if (o->flood)
        snprintf(flood, sizeof flood, "; %" PRIu64 " flooding connections had %.0f replies/s",
                 o->flood, s->flood_per_s);
    if (o->rate)
        snprintf(mode, sizeof mode, "open loop at %" PRIu64 "/s", o->rate);
    else
        snprintf(mode, sizeof mode, "window %" PRIu64, o->window);
    if (s->first_error[0])
        snprintf(failed, sizeof failed, " (first: %s)", s->first_error);
    printf("%" PRIu64 " transfers among %" PRIu64 " accounts over %" PRIu64
           " connections (%s): %.0f/s; latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max "
           "%.2f ms; verify %.0f/s on one core; %" PRIu64 " not ok%s, %" PRIu64
           " unanswered, %" PRIu64 " resent after BUSY%s; bench peak RSS %.0f MiB\n",
           s->total, s->accounts, o->connections, mode, s->transfers_per_s, s->p50, s->p99, s->p999,
           s->max, s->verify_per_s, s->not_ok, failed, s->total - s->answered, s->resends, flood,
           s->rss_mb);
}

/* ---- main ---------------------------------------------------------------------------------- */

/* Returns: 0 parsed, 1 --help, 2 a usage error. */
static int parse_options(options *o, int argc, char **argv)
{
    const bench_u64_flag nums[] = {{"--connections", &o->connections},
                                   {"--signers", &o->signers},
                                   {"--count", &o->count},
                                   {"--window", &o->window},
                                   {"--accounts", &o->accounts},
                                   {"--rate", &o->rate},
                                   {"--verify-samples", &o->verify_samples},
                                   {"--flood", &o->flood}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int took = bench_u64_flag_take(nums, sizeof nums / sizeof nums[0], a, v);
        if (took < 0)
            return 2;
        if (took > 0)
            i++;
        else if (strcmp(a, "--endpoint") == 0 && v)
            o->endpoint = argv[++i];
        else if (strcmp(a, "--keys") == 0 && v)
            o->keys_dir = argv[++i];
        else if (strcmp(a, "--json") == 0)
            o->json = true;
        else
            return strcmp(a, "--help") == 0 ? 1 : 2;
    }
    if (o->connections == 0 || o->connections > 64 || o->signers == 0 || o->signers > 4096 ||
        o->count < o->connections || o->window == 0 || o->verify_samples == 0 ||
        o->accounts > UINT32_MAX || o->flood > 64)
        return 2;
    return 0;
}

static void conn_free(conn *k)
{
    for (uint64_t i = 0; k->reqs != NULL && i < k->count; i++)
        msgpack_sbuffer_destroy(&k->reqs[i]);
    if (k->sk != NULL)
        crypto_wipe(k->sk, k->signers * 32);
    if (k->sock != NULL)
        zmq_close(k->sock);
    free(k->sk);
    free(k->pk);
    free(k->reqs);
    free(k->sent_ns);
    free(k->late_ns);
    free(k->lat_ns);
    free(k->busy);
    free(k->sends);
    free(k->queue);
    free(k->first_open);
    free(k->probe);
}

static void setup_close(setup *s)
{
    for (size_t i = 0; i < s->n; i++)
        msgpack_sbuffer_destroy(&s->bufs[i]);
    if (s->sock != NULL)
        zmq_close(s->sock);
    free(s->items);
    free(s->bufs);
    crypto_wipe(s->csk, sizeof s->csk);
}

/* Setup, the verify timing, the load; Out: *sum. Returns: 0 or -1 (message on stderr). */
static int bench_run(const options *o, void *zctx, setup *s, conn *cs, uint8_t (**accounts)[32],
                     summary *sum)
{
    double t0 = bench_now_s();
    if (setup_open(s, o, zctx) != 0 || prepare(cs, o, s, accounts) != 0 ||
        connect_all(cs, o, zctx) != 0)
        return -1;
    sum->setup_s = bench_now_s() - t0;
    sum->verify_per_s = verify_rate(o->verify_samples); /* a quiet machine, before the load */
    if (sum->verify_per_s == 0) {
        fprintf(stderr, "lstd-bench-rpc: the verify timing failed\n");
        return -1;
    }
    flooder *fl = calloc(o->flood + 1, sizeof *fl);
    if (fl == NULL || flood_start(fl, o, s, zctx) != 0) {
        fprintf(stderr, "lstd-bench-rpc: cannot start the flood\n");
        free(fl);
        return -1;
    }
    uint64_t before = 0;
    for (uint64_t i = 0; i < o->flood; i++)
        before += fl[i].replies;
    uint64_t start = run_load(cs, o);
    double load_s = (double)(bench_now_ns() - start) / 1e9;
    sum->flood_per_s = (double)(flood_stop(fl, o->flood) - before) / (load_s > 0 ? load_s : 1);
    free(fl);
    return summarize(sum, cs, o, start);
}

int main(int argc, char **argv)
{
    options o = {.endpoint = "tcp://127.0.0.1:7440",
                 .keys_dir = "./lstd-data/keys",
                 .connections = 4,
                 .signers = 16,
                 .count = 40000,
                 .window = 256,
                 .verify_samples = 4000};
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("lstd-bench-rpc %s\n", LSTD_VERSION);
        return 0;
    }
    int prc = parse_options(&o, argc, argv);
    if (prc != 0) {
        fputs(usage_text, prc == 1 ? stdout : stderr);
        return prc == 1 ? 0 : 2;
    }
    void *zctx = zmq_ctx_new();
    setup s;
    summary sum = {.accounts = o.accounts + o.connections * o.signers};
    uint8_t(*accounts)[32] = NULL;
    conn *cs = calloc(o.connections, sizeof *cs);
    memset(&s, 0, sizeof s);
    int rc = zctx != NULL && cs != NULL ? bench_run(&o, zctx, &s, cs, &accounts, &sum) : -1;
    if (rc == 0) {
        sum.rss_mb = bench_rss_mb();
        if (o.json)
            print_json(&sum, &o);
        else
            print_human(&sum, &o);
    }
    for (uint64_t c = 0; cs != NULL && c < o.connections; c++)
        conn_free(&cs[c]);
    free(cs);
    free(accounts);
    setup_close(&s);
    if (zctx != NULL)
        zmq_ctx_term(zctx);
    return rc == 0 && sum.not_ok == 0 && sum.answered == sum.total ? 0 : 1;
}
