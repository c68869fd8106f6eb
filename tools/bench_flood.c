/* bench_flood.c - lstd-bench-flood: one client's flood against a running lstd, and lstd's RSS */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_util.h"
#include "crypto.h"
#include "ledger.h"
#include "rpc_genesis.h"
#include "rpc_reply.h"
#include "zmtp_raw.h"

static const char usage_text[] =
    "usage: lstd-bench-flood CASE --pid PID [options]\n"
    "       lstd-bench-flood --version   print \"lstd-bench-flood VERSION\"\n"
    "\n"
    "One client floods a running lstd (process PID) the way issue 9's audit did; lstd's VmRSS\n"
    "before, and its VmHWM (peak) and VmRSS after, come from /proc/PID/status, and another\n"
    "client's pool query is timed during the flood. One line (or --json: one JSON object).\n"
    "Cases (raw TCP speaking ZMTP 3.0 where libzmq would not send what the case needs):\n"
    "  more       frames of 64 KiB with MORE, never a last one: --bytes in all, connecting\n"
    "             again whenever lstd drops the connection (default 512 MiB)\n"
    "  events     --count events queries (limit 1000) on one DEALER that never reads (default\n"
    "             20000); the ledger is first given 1000 records (custodian deposits)\n"
    "  topics     --count random subscriptions of 1..195 bytes on one libzmq SUB (default\n"
    "             200000: ~19.6 MB)\n"
    "  bigtopic   one subscription of --bytes (a raw frame; default here 64 MiB)\n"
    "             (both: then custodian deposits until lstd's RSS stays put over 20 of them,\n"
    "             since a libzmq PUB reads subscriptions only when it publishes)\n"
    "  slowsubs   --subs subscribers to everything that never read (default 20), then --count\n"
    "             custodian deposits (default 20000: 3 events each)\n"
    "\n"
    "  --endpoint URL   requests, default tcp://127.0.0.1:7440\n"
    "  --events URL     events, default tcp://127.0.0.1:7441\n"
    "  --keys DIR       development keys (events, slowsubs), default ./lstd-data/keys\n"
    "  --settle-ms N    wait after the flood before measuring, default 2000\n";

typedef struct options {
    const char *what, *endpoint, *events, *keys;
    uint64_t pid, bytes, count, subs, settle_ms;
    bool json;
} options;

typedef struct result {
    long rss_before_kb, rss_after_kb, hwm_after_kb;
    double other_ms_max; /* the slowest pool query of the other client */
    uint64_t sent_bytes, drops;
} result;

/* ---- the measured process ---------------------------------------------------------------------
 */

static long status_kb(uint64_t pid, const char *field)
{
    char path[64], line[256];
    long kb = -1;
    size_t fl = strlen(field);
    snprintf(path, sizeof path, "/proc/%" PRIu64 "/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, fl) == 0 && line[fl] == ':' && sscanf(line + fl + 1, "%ld", &kb))
            break;
    fclose(f);
    return kb;
}

/* ---- a normal client ----------------------------------------------------------------------------
 */

static void *dealer(void *zctx, const char *url, int timeout_ms)
{
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_connect(d, url);
    return d;
}

/* Send req, wait for one reply into buf. Returns: its length, or -1. */
static int call(void *d, const msgpack_sbuffer *req, char *buf, size_t cap)
{
    if (zmq_send(d, req->data, req->size, 0) < 0)
        return -1;
    return zmq_recv(d, buf, cap, 0);
}

/* A pool query's time in ms (60 s at most: -1 then). */
static double pool_ms(void *d)
{
    static char buf[1 << 16];
    msgpack_sbuffer q;
    msgpack_packer pk;
    msgpack_sbuffer_init(&q);
    msgpack_packer_init(&pk, &q, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    rpc_pack_str(&pk, "op", "pool");
    double t0 = bench_now_s();
    int n = call(d, &q, buf, sizeof buf);
    msgpack_sbuffer_destroy(&q);
    return n < 0 ? -1 : (bench_now_s() - t0) * 1000;
}

static void other_client(void *d, result *r)
{
    double ms = pool_ms(d);
    if (ms < 0 || ms > r->other_ms_max)
        r->other_ms_max = ms < 0 ? 60000 : ms;
}

/* ---- raw ZMTP
 * ------------------------------------------------------------------------------------ */

typedef struct custodian {
    uint8_t sk[32], pk[32];
    ledger_tx_hasher hasher;
    uint64_t nonce;
    void *d; /* the other client's socket, which makes the deposits */
    bool ok;
} custodian;

static int deposits(custodian *c, void *d, uint64_t n);

/* Write everything to a subscriber connection; whenever lstd stops taking bytes for a while,
 * make it publish (a deposit): a libzmq PUB reads subscriptions only when it is used. */
static int write_sub(int fd, const void *data, size_t len, custodian *c)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c != NULL && c->ok)
                deposits(c, c->d, 1);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0 && getenv("FLOOD_DEBUG"))
            fprintf(stderr, "send: %s\n", strerror(errno));
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* A connection that has done the ZMTP 3.0 handshake as `type` (a send blocked 0.2 s fails). */
static int zmtp_open(const char *url, const char *type, int rcvbuf)
{
    return zmtp_raw_open(url, type, rcvbuf, 200);
}

/* ---- the cases
 * ------------------------------------------------------------------------------------ */

static void flood_more(const options *o, void *d, result *r)
{
    static uint8_t chunk[9 + 65536];
    memset(chunk, 'm', sizeof chunk);
    memcpy(chunk, (const uint8_t[]){3, 0, 0, 0, 0, 0, 1, 0, 0}, 9); /* MORE, 65536 bytes */
    int fd = -1;
    while (r->sent_bytes < o->bytes) {
        if (fd < 0 && (fd = zmtp_open(o->endpoint, "DEALER", 0)) < 0)
            break;
        if (write_sub(fd, chunk, sizeof chunk, NULL) != 0) {
            close(fd);
            fd = -1;
            r->drops++;
            other_client(d, r);
            continue;
        }
        r->sent_bytes += sizeof chunk;
        if (r->sent_bytes % (64u << 20) < sizeof chunk)
            other_client(d, r);
    }
    other_client(d, r);
    if (fd >= 0)
        close(fd);
}

static uint64_t result_u64(const char *buf, int len, const char *key)
{
    msgpack_unpacked u;
    uint64_t v = 0;
    msgpack_unpacked_init(&u);
    if (len > 0 && msgpack_unpack_next(&u, buf, (size_t)len, NULL) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *m = &u.data;
        for (uint32_t pass = 0; pass < 2 && m != NULL && m->type == MSGPACK_OBJECT_MAP; pass++) {
            const msgpack_object *next = NULL;
            for (uint32_t i = 0; i < m->via.map.size; i++) {
                const msgpack_object_kv *kv = &m->via.map.ptr[i];
                const char *want = pass == 0 ? "result" : key;
                if (kv->key.via.str.size == strlen(want) &&
                    memcmp(kv->key.via.str.ptr, want, strlen(want)) == 0)
                    next = &kv->val;
            }
            if (pass == 1 && next != NULL && next->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                v = next->via.u64;
            m = next;
        }
    }
    msgpack_unpacked_destroy(&u);
    return v;
}

/* The custodian's key, the ledger's hasher and the custodian's next nonce. Returns: 0 or -1. */
static int custodian_open(custodian *c, const options *o, void *d)
{
    static char buf[1 << 16];
    char path[1024], ledger_id[LEDGER_ID_MAX + 1] = "";
    snprintf(path, sizeof path, "%s/custodian.key", o->keys);
    if (rpc_key_read(path, c->sk) != 0 || crypto_pubkey(c->pk, c->sk) != 0)
        return -1;
    msgpack_sbuffer q;
    msgpack_packer pk;
    msgpack_sbuffer_init(&q);
    msgpack_packer_init(&pk, &q, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    rpc_pack_str(&pk, "op", "account");
    rpc_pack_bin(&pk, "account", c->pk, 32);
    int n = call(d, &q, buf, sizeof buf);
    c->nonce = result_u64(buf, n, "next_nonce");
    msgpack_sbuffer_clear(&q);
    msgpack_pack_map(&pk, 1);
    rpc_pack_str(&pk, "op", "pool");
    n = call(d, &q, buf, sizeof buf);
    msgpack_sbuffer_destroy(&q);
    const char *at = n > 0 ? memmem(buf, (size_t)n, "lstd-dev-", 9) : NULL;
    if (at == NULL || c->nonce == 0)
        return -1;
    memcpy(ledger_id, at, 25); /* "lstd-dev-" and 16 hex digits */
    ledger_tx_hasher_init(&c->hasher, ledger_id);
    return 0;
}

/* n custodian deposits to fresh accounts, 512 in flight. Returns: 0 or -1. */
static int deposits(custodian *c, void *d, uint64_t n)
{
    char buf[4096];
    uint64_t sent = 0, got = 0;
    msgpack_sbuffer b;
    msgpack_packer pk;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    while (got < n) {
        while (sent < n && sent - got < 512) {
            uint8_t hash[32], sig[64], to_sk[32];
            uint64_t ref[4] = {c->nonce, (uint64_t)getpid(), (uint64_t)bench_now_ns(), sent};
            ledger_tx tx = {.kind = LEDGER_TX_DEPOSIT, .nonce = c->nonce++, .amount = 1000000};
            memcpy(tx.signer, c->pk, 32);
            memcpy(tx.ref, ref, 32); /* unique per deposit */
            rpc_id id = {.type = 1, .u = sent};
            msgpack_sbuffer_clear(&b);
            if (crypto_keygen(to_sk, tx.account) != 0 ||
                ledger_tx_hash_with(hash, &c->hasher, &tx) != LEDGER_OK ||
                crypto_sign(sig, hash, c->sk) != 0 || rpc_pack_tx_request(&pk, &id, &tx, sig, NULL))
                return -1;
            zmq_send(d, b.data, b.size, 0);
            sent++;
        }
        if (zmq_recv(d, buf, sizeof buf, 0) < 0)
            return -1;
        got++;
    }
    msgpack_sbuffer_destroy(&b);
    return 0;
}

static void flood_events(const options *o, void *zctx, void *d, result *r, custodian *c)
{
    void *fl = dealer(zctx, o->endpoint, 1000);
    int one = 1, small = 4096;
    zmq_setsockopt(fl, ZMQ_RCVHWM, &one, sizeof one); /* libzmq must not read for it */
    zmq_setsockopt(fl, ZMQ_RCVBUF, &small, sizeof small);
    msgpack_sbuffer q;
    msgpack_packer pk;
    msgpack_sbuffer_init(&q);
    msgpack_packer_init(&pk, &q, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    rpc_pack_str(&pk, "op", "events");
    rpc_pack_u64(&pk, "after", 0);
    rpc_pack_u64(&pk, "limit", 1000);
    (void)c;
    for (uint64_t i = 0; i < o->count; i++)
        zmq_send(fl, q.data, q.size, 0);
    r->sent_bytes = q.size * o->count;
    msgpack_sbuffer_destroy(&q);
    other_client(d, r);
    other_client(d, r);
    usleep((useconds_t)o->settle_ms * 1000);
    other_client(d, r);
    r->rss_after_kb = status_kb(o->pid, "VmRSS");
    r->hwm_after_kb = status_kb(o->pid, "VmHWM");
    zmq_close(fl);
}

/* Deposits until lstd's RSS has not changed over 20 of them (at most 2000): a libzmq PUB
 * reads the subscriptions waiting in its pipes only when it publishes. */
static void settle_by_deposits(const options *o, custodian *c, void *d)
{
    long last = -1;
    for (int same = 0, i = 0; c->ok && same < 20 && i < 2000; i++) {
        deposits(c, d, 1);
        long now = status_kb(o->pid, "VmRSS");
        same = now == last ? same + 1 : 0;
        last = now;
    }
}

/* random subscriptions of 1..195 bytes through a libzmq SUB with no send high-water mark (or
 * a SUB would drop those its pipe cannot hold); one of 64 MiB as a raw ZMTP frame (libzmq's
 * SUB recurses once per byte of a topic it stores). */
static void flood_topics(const options *o, void *zctx, void *d, result *r, bool big, custodian *c)
{
    void *sub = zmq_socket(zctx, ZMQ_SUB);
    int zero = 0, fd = -1;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_connect(sub, o->events);
    usleep(100000);
    uint64_t x = 88172645463325252ull;
    char topic[256];
    for (uint64_t i = 0; !big && i < o->count; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = 1 + (size_t)(x % 195);
        for (size_t k = 0; k < len; k++)
            topic[k] = (char)('a' + (x >> (k % 56)) % 26);
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, len);
        r->sent_bytes += len + 1;
        if (c->ok && i % 10000 == 9999)
            deposits(c, d, 1);
    }
    if (big && (fd = zmtp_open(o->events, "SUB", 0)) >= 0) {
        static uint8_t body[1 << 16];
        uint64_t chunks = o->bytes / sizeof body; /* a frame of chunks * 64 KiB: 1, the topic */
        uint8_t head[9] = {2};
        for (int i = 0; i < 8; i++)
            head[1 + i] = (uint8_t)((chunks * sizeof body) >> (56 - 8 * i));
        memset(body, 't', sizeof body);
        body[0] = 1;
        write_sub(fd, head, sizeof head, c);
        for (uint64_t i = 0; i < chunks && write_sub(fd, body, sizeof body, c) == 0; i++) {
            r->sent_bytes += sizeof body;
            body[0] = 't';
        }
    }
    usleep(200000);
    settle_by_deposits(o, c, d);
    other_client(d, r);
    usleep((useconds_t)o->settle_ms * 1000);
    other_client(d, r);
    r->rss_after_kb = status_kb(o->pid, "VmRSS");
    r->hwm_after_kb = status_kb(o->pid, "VmHWM");
    if (fd >= 0)
        close(fd);
    zmq_close(sub);
}

static void flood_slowsubs(const options *o, void *d, result *r, custodian *c)
{
    int fds[64];
    uint64_t n = o->subs < 64 ? o->subs : 64;
    for (uint64_t i = 0; i < n; i++) {
        fds[i] = zmtp_open(o->events, "SUB", 4096);
        if (fds[i] >= 0)
            zmtp_raw_write(fds[i], "\x00\x01\x01", 3); /* subscribe to everything */
    }
    usleep(200000);
    if (deposits(c, d, o->count) != 0)
        fprintf(stderr, "lstd-bench-flood: the deposits failed\n");
    other_client(d, r);
    usleep((useconds_t)o->settle_ms * 1000);
    other_client(d, r);
    r->rss_after_kb = status_kb(o->pid, "VmRSS");
    r->hwm_after_kb = status_kb(o->pid, "VmHWM");
    for (uint64_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* ---- main
 * ---------------------------------------------------------------------------------------- */

static int parse_options(options *o, int argc, char **argv)
{
    const bench_u64_flag nums[] = {{"--pid", &o->pid},
                                   {"--bytes", &o->bytes},
                                   {"--count", &o->count},
                                   {"--subs", &o->subs},
                                   {"--settle-ms", &o->settle_ms}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int took = bench_u64_flag_take(nums, sizeof nums / sizeof nums[0], a, v);
        if (took < 0)
            return 2;
        if (took > 0)
            i++;
        else if (strcmp(a, "--endpoint") == 0 && v)
            o->endpoint = argv[++i];
        else if (strcmp(a, "--events") == 0 && v)
            o->events = argv[++i];
        else if (strcmp(a, "--keys") == 0 && v)
            o->keys = argv[++i];
        else if (strcmp(a, "--json") == 0)
            o->json = true;
        else if (a[0] != '-' && o->what == NULL)
            o->what = a;
        else
            return strcmp(a, "--help") == 0 ? 1 : 2;
    }
    static const char *const cases[] = {"more", "events", "topics", "bigtopic", "slowsubs"};
    bool known = false;
    for (size_t i = 0; o->what != NULL && i < sizeof cases / sizeof cases[0]; i++)
        known = known || strcmp(o->what, cases[i]) == 0;
    return known && o->pid != 0 ? 0 : 2;
}

static void print(const options *o, const result *r)
{
    if (o->json)
        printf("{\"case\":\"%s\",\"sent_bytes\":%" PRIu64 ",\"drops\":%" PRIu64
               ",\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,\"hwm_after_kb\":%ld,"
               "\"other_client_ms_max\":%.1f}\n",
               o->what, r->sent_bytes, r->drops, r->rss_before_kb, r->rss_after_kb, r->hwm_after_kb,
               r->other_ms_max);
    else
        printf("%s: %" PRIu64 " bytes sent (%" PRIu64 " drops); lstd VmRSS %ld -> %ld KiB, "
               "VmHWM %ld KiB; the other client's slowest pool query %.1f ms\n",
               o->what, r->sent_bytes, r->drops, r->rss_before_kb, r->rss_after_kb, r->hwm_after_kb,
               r->other_ms_max);
}

int main(int argc, char **argv)
{
    options o = {.endpoint = "tcp://127.0.0.1:7440",
                 .events = "tcp://127.0.0.1:7441",
                 .keys = "./lstd-data/keys",
                 .subs = 20,
                 .settle_ms = 2000};
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("lstd-bench-flood %s\n", LSTD_VERSION);
        return 0;
    }
    int prc = parse_options(&o, argc, argv);
    if (prc != 0) {
        fputs(usage_text, prc == 1 ? stdout : stderr);
        return prc == 1 ? 0 : 2;
    }
    bool topics = strcmp(o.what, "topics") == 0, slow = strcmp(o.what, "slowsubs") == 0;
    if (o.count == 0)
        o.count = topics ? 200000 : 20000;
    if (o.bytes == 0)
        o.bytes = strcmp(o.what, "bigtopic") == 0 ? 64u << 20 : 512u << 20;
    void *zctx = zmq_ctx_new(), *d = dealer(zctx, o.endpoint, 60000);
    result r = {0};
    custodian c = {.d = d};
    bool needs = strcmp(o.what, "events") == 0 || slow;
    c.ok = custodian_open(&c, &o, d) == 0;
    if (needs && (!c.ok || (!slow && deposits(&c, d, 1000) != 0))) {
        fprintf(stderr, "lstd-bench-flood: cannot use the custodian key in %s\n", o.keys);
        return 1;
    }
    other_client(d, &r);
    r.other_ms_max = 0;
    r.rss_before_kb = status_kb(o.pid, "VmRSS");
    if (strcmp(o.what, "more") == 0) {
        flood_more(&o, d, &r);
        usleep((useconds_t)o.settle_ms * 1000);
        r.rss_after_kb = status_kb(o.pid, "VmRSS");
        r.hwm_after_kb = status_kb(o.pid, "VmHWM");
    } else if (strcmp(o.what, "events") == 0) {
        flood_events(&o, zctx, d, &r, &c);
    } else if (slow) {
        flood_slowsubs(&o, d, &r, &c);
    } else {
        flood_topics(&o, zctx, d, &r, !topics, &c);
    }
    print(&o, &r);
    zmq_close(d);
    zmq_ctx_term(zctx);
    return 0;
}
