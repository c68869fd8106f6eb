/* test_rpc_bounds.c - floods from one client stay within the documented bounds; fair service */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "rpc_harness.h"
#include "test_util.h"

/* Memory is measured as lstd's VmHWM (its peak) after a flood minus its VmRSS before. The
 * sanitizers' allocators keep freed memory (ASan's quarantine) and TSan shadows every byte,
 * so there the bound is only a sanity check; the normal build checks the documented one. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLACK_KB (512L * 1024)
#else
#define SLACK_KB (16L * 1024)
#endif

static rh_reply rp;

typedef struct mem {
    long rss_before, rss_after, hwm_after;
} mem;

static void mem_before(const rh_server *s, mem *m)
{
    m->rss_before = rh_status_kb(s, "VmRSS");
}

/* The peak since before stays under bound_kb (+ the slack of the build). */
static void mem_check(const rh_server *s, mem *m, const char *what, long bound_kb)
{
    m->rss_after = rh_status_kb(s, "VmRSS");
    m->hwm_after = rh_status_kb(s, "VmHWM");
    printf("%s: VmRSS %ld -> %ld KiB, VmHWM %ld KiB (peak growth %ld KiB, bound %ld + %ld)\n", what,
           m->rss_before, m->rss_after, m->hwm_after, m->hwm_after - m->rss_before, bound_kb,
           SLACK_KB);
    CHECK(m->rss_before > 0 && m->hwm_after > 0);
    if (m->hwm_after - m->rss_before > bound_kb + SLACK_KB) {
        fprintf(stderr, "%s: lstd grew by %ld KiB, over %ld KiB\n", what,
                m->hwm_after - m->rss_before, bound_kb + SLACK_KB);
        test_failures++;
    }
}

/* The health counters (a map) and the health result. */
static const msgpack_object *health(void *sock, const msgpack_object **counters)
{
    CHECK(rh_query(sock, &rp, "health", NULL, 0) == 0);
    const msgpack_object *h = RH_MAP(rp.root, "result");
    *counters = RH_MAP(h, "counters");
    return h;
}

static uint64_t counter(void *sock, const char *name)
{
    const msgpack_object *c;
    health(sock, &c);
    return RH_U64(c, name);
}

/* Wait up to timeout_ms for a health counter to reach at least want. */
static bool wait_counter(void *sock, const char *name, uint64_t want, unsigned timeout_ms)
{
    uint64_t deadline = rh_now_ms() + timeout_ms;
    while (counter(sock, name) < want) {
        if (rh_now_ms() > deadline)
            return false;
        rh_sleep_ms(20);
    }
    return true;
}

/* Another client is answered. */
static void answered(void *sock, const char *when)
{
    uint64_t t0 = rh_now_ms();
    if (rh_query(sock, &rp, "pool", NULL, 0) != 0) {
        fprintf(stderr, "%s: another client's query was not answered\n", when);
        test_failures++;
        return;
    }
    CHECK_OK(&rp);
    printf("%s: another client answered in %llu ms\n", when,
           (unsigned long long)(rh_now_ms() - t0));
}

/* Pipeline n deposits from the custodian to `to`, then read every reply. */
static void deposits(rh_server *s, void *sock, const uint8_t to[32], unsigned n)
{
    static uint64_t refs;
    uint64_t nonce = rh_next_nonce(sock, s->custodian.pk);
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    for (unsigned i = 0; i < n; i++) {
        uint8_t hash[32], sig[64], ref[32] = {0};
        uint64_t r = ++refs;
        memcpy(ref, &r, sizeof r);
        memcpy(ref + 8, &s->pid, sizeof s->pid);
        ledger_tx t = rh_tx(LEDGER_TX_DEPOSIT);
        rh_tx_key(&t, "to", to);
        rh_tx_u64(&t, "amount", 1000000);
        rh_tx_key(&t, "external_ref", ref);
        t.nonce = nonce + i;
        rh_sign(s, &t, &s->custodian, hash, sig);
        rh_pack_tx(&b, &t, sig, rh_next_id(), NULL, NULL);
        rh_send(sock, b.data, b.size);
    }
    for (unsigned i = 0; i < n; i++) {
        CHECK(rh_recv(sock, &rp) == 0);
        CHECK_OK(&rp);
    }
    msgpack_sbuffer_destroy(&b);
}

/* ---- endless MORE frames ---------------------------------------------------------------------
 * A message is read frame by frame and never kept: past 1 MiB of bodies or 16 frames the
 * connection is dropped (counted), so 64 connections each sending an endless message cost
 * lstd nothing that lasts. */
static void test_endless_message(rh_server *s, void *dl)
{
    enum { ROUNDS = 64, CAP = 4u << 20 };
    static uint8_t chunk[64 * 1024 + 9];
    mem m;
    uint64_t drops = counter(dl, "protocol_drops");
    mem_before(s, &m);
    memset(chunk, 'm', sizeof chunk);
    size_t sent = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int fd = rh_zmtp_open(s->requests, "DEALER", 0);
        CHECK(fd >= 0);
        size_t this_round = 0;
        if (round % 2 == 0) { /* frames of 64 KiB, all with MORE: over 1 MiB */
            static const uint8_t head[9] = {3, 0, 0, 0, 0, 0, 1, 0, 0}; /* MORE, 65536 */
            memcpy(chunk, head, sizeof head);
            while (this_round < CAP && rh_zmtp_raw(fd, chunk, sizeof chunk) == 0)
                this_round += sizeof chunk;
        } else { /* 1-byte frames with MORE: over 16 frames */
            for (size_t i = 0; i + 3 <= sizeof chunk; i += 3)
                memcpy(chunk + i, "\x01\x01m", 3);
            while (this_round < CAP && rh_zmtp_raw(fd, chunk, sizeof chunk / 3 * 3) == 0)
                this_round += sizeof chunk / 3 * 3;
        }
        sent += this_round;
        if (!rh_zmtp_closed(fd, 5000)) {
            fprintf(stderr, "round %d: a message that never ends was not dropped\n", round);
            test_failures++;
        }
        close(fd);
        if (round % 16 == 0)
            answered(dl, "endless MORE frames");
    }
    printf("endless MORE frames: %d connections, %zu bytes written\n", ROUNDS, sent);
    answered(dl, "after endless MORE frames");
    CHECK(counter(dl, "protocol_drops") >= drops + ROUNDS);
    mem_check(s, &m, "endless MORE frames", 4 * 1024);
}

/* ---- unread replies --------------------------------------------------------------------------
 * 20,000 events queries of 1000 records each, never read: once conn-reply-bytes (4 MiB) of
 * replies wait, lstd stops reading the connection and answers its queries BUSY; others are
 * served all along. */
static void test_unread_replies(rh_server *s, void *dl)
{
    enum { QUERIES = 20000 };
    rh_key k;
    mem m;
    rh_keygen(&k);
    deposits(s, dl, k.pk, 1000); /* an events page is 1000 records: ~450 KB */
    void *fl = rh_dealer(s);
    int one = 1, small = 4096; /* libzmq would read on its behalf: let it hold almost nothing */
    zmq_setsockopt(fl, ZMQ_RCVHWM, &one, sizeof one);
    zmq_setsockopt(fl, ZMQ_RCVBUF, &small, sizeof small);
    answered(fl, "unread replies, the flooder connected");
    mem_before(s, &m);
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    rh_field f[] = {RH_UINT("after", 0), RH_UINT("limit", 1000)};
    rh_pack_map(&b, 1, "events", f, 2);
    for (int i = 0; i < QUERIES; i++)
        zmq_send(fl, b.data, b.size, ZMQ_DONTWAIT);
    msgpack_sbuffer_destroy(&b);
    answered(dl, "unread replies, during the flood");
    CHECK(wait_counter(dl, "paused_unread", 1, 10000));
    answered(dl, "unread replies, the flooder paused");
    const msgpack_object *c, *h = health(dl, &c);
    printf("unread replies: reply_bytes %llu, busy_unread %llu, paused_unread %llu\n",
           (unsigned long long)RH_U64(h, "reply_bytes"),
           (unsigned long long)RH_U64(c, "busy_unread"),
           (unsigned long long)RH_U64(c, "paused_unread"));
    CHECK(RH_U64(h, "reply_bytes") <= (4u + 1u + 4u + 1u) << 20);
    /* conn-reply-bytes + the largest reply + conn-queue-max small replies */
    mem_check(s, &m, "20000 unread events replies", (4 + 1 + 4) * 1024 + 8 * 1024);
    /* the flooder that reads again is served again */
    int got = 0;
    while (got < 4 && rh_recv(fl, &rp) == 0)
        got++;
    CHECK_U64(got, 4);
    rh_close(fl); /* its queries still queued are not answered: the connection is gone */
    answered(dl, "unread replies, the flooder gone");
}

/* ---- subscriptions ---------------------------------------------------------------------------
 * 200,000 random subscriptions on one connection: at most sub-topics-max (256) are held, the
 * rest ignored (counted); a 64 MiB topic drops its connection at the frame's header. */
static void test_topic_flood(rh_server *s, void *dl)
{
    enum { TOPICS = 200000 };
    mem m;
    test_rng rng;
    test_rng_seed(&rng, 9);
    uint64_t ignored = counter(dl, "subscriptions_ignored");
    mem_before(s, &m);
    int fd = rh_zmtp_open(s->events, "SUB", 0);
    CHECK(fd >= 0);
    static uint8_t buf[1 << 16];
    size_t n = 0, sent = 0;
    for (int i = 0; i < TOPICS; i++) {
        size_t len = 1 + (size_t)test_rng_below(&rng, 70);
        if (n + len + 3 > sizeof buf) {
            CHECK(rh_zmtp_raw(fd, buf, n) == 0);
            sent += n;
            n = 0;
        }
        buf[n++] = 0, buf[n++] = (uint8_t)(len + 1), buf[n++] = 1; /* a frame: 1, topic */
        test_rng_fill(&rng, buf + n, len);
        n += len;
    }
    CHECK(rh_zmtp_raw(fd, buf, n) == 0);
    sent += n;
    printf("topic flood: %d subscriptions, %zu bytes\n", TOPICS, sent);
    /* (a few of the short random topics are repeats of held ones: not ignored, already held) */
    CHECK(wait_counter(dl, "subscriptions_ignored", ignored + TOPICS * 9 / 10, 10000));
    const msgpack_object *c, *h = health(dl, &c);
    CHECK(RH_U64(h, "subscriptions") <= 256 + 4);
    /* one 64 MiB topic: refused at its header */
    int big = rh_zmtp_open(s->events, "SUB", 0);
    uint64_t drops = RH_U64(c, "protocol_drops");
    static const uint8_t head[] = {2, 0, 0, 0, 0, 4, 0, 0, 0, 1}; /* 64 MiB frame: 1, ... */
    CHECK(big >= 0 && rh_zmtp_raw(big, head, sizeof head) == 0);
    for (int i = 0; i < 64 && rh_zmtp_raw(big, buf, sizeof buf) == 0; i++)
        ;
    CHECK(rh_zmtp_closed(big, 5000));
    close(big);
    CHECK(counter(dl, "protocol_drops") >= drops + 1);
    answered(dl, "topic flood");
    /* a subscriber that asks for what exists still gets it */
    void *sub = rh_sub(s, "tx/");
    rh_key k;
    rh_keygen(&k);
    bool got = false;
    char topic[128];
    rh_reply ev;
    rh_reply_init(&ev);
    rh_set_timeout(sub, 200);
    for (int attempt = 0; attempt < 50 && !got; attempt++) { /* until it has joined */
        deposits(s, dl, k.pk, 1);
        got = rh_recv_event(sub, topic, sizeof topic, &ev) == 0;
    }
    CHECK(got);
    rh_reply_free(&ev);
    rh_close(sub);
    close(fd);
    mem_check(s, &m, "200000 subscriptions and a 64 MiB topic", 8 * 1024);
}

/* ---- subscribers that never read -------------------------------------------------------------
 * 20 subscribers to everything (and 255 random topics each) that never read: each holds at
 * most sub-queue-bytes (here 256 KiB) in lstd; the events beyond are dropped for it, counted;
 * a subscriber that reads still gets new events. */
static void test_slow_subscribers(void)
{
    enum { SUBS = 20, QUEUE_KB = 256 };
    const char *args[] = {"--sub-queue-bytes", "262144", NULL};
    rh_server *s = rh_start(args);
    if (s == NULL) {
        test_failures++;
        return;
    }
    void *dl = rh_dealer(s);
    mem m;
    int fds[SUBS];
    test_rng rng;
    test_rng_seed(&rng, 7);
    mem_before(s, &m);
    for (int i = 0; i < SUBS; i++) {
        fds[i] = rh_zmtp_open(s->events, "SUB", 4096);
        CHECK(fds[i] >= 0 && rh_zmtp_frame(fds[i], "\x01", 1, false) == 0);
        for (int t = 0; t < 255; t++) {
            uint8_t topic[40] = {1};
            test_rng_fill(&rng, topic + 1, sizeof topic - 1);
            rh_zmtp_frame(fds[i], topic, sizeof topic, false);
        }
    }
    const msgpack_object *c, *h;
    for (int i = 0; i < 500 && RH_U64(health(dl, &c), "subscriptions") < SUBS * 256; i++)
        rh_sleep_ms(20);
    h = health(dl, &c);
    CHECK_U64(RH_U64(h, "subscriptions"), SUBS * 256);
    rh_key k;
    rh_keygen(&k);
    for (int round = 0; round < 6; round++) /* 3000 records: ~1.3 MB per subscriber of tx/ */
        deposits(s, dl, k.pk, 500);
    CHECK(wait_counter(dl, "events_dropped", 1, 10000));
    answered(dl, "slow subscribers");
    h = health(dl, &c);
    printf("slow subscribers: %llu events dropped\n",
           (unsigned long long)RH_U64(c, "events_dropped"));
    mem_check(s, &m, "20 subscribers that never read", SUBS * QUEUE_KB + 4 * 1024);
    void *sub = rh_sub(s, "tx/");
    rh_reply ev;
    char topic[128];
    bool got = false;
    rh_reply_init(&ev);
    rh_set_timeout(sub, 200);
    for (int attempt = 0; attempt < 50 && !got; attempt++) {
        deposits(s, dl, k.pk, 1);
        got = rh_recv_event(sub, topic, sizeof topic, &ev) == 0;
    }
    CHECK(got);
    rh_reply_free(&ev);
    rh_close(sub);
    for (int i = 0; i < SUBS; i++)
        close(fds[i]);
    rh_close(dl);
    CHECK_U64(rh_stop(s, SIGTERM, 20000), 0);
    rh_free(&s);
}

/* ---- connections ------------------------------------------------------------------------------
 * With --conn-max 2 a third connection is closed as it connects (counted) until one leaves. */
static void test_conn_max(void)
{
    const char *args[] = {"--conn-max", "2", NULL};
    rh_server *s = rh_start(args); /* rh_start's own connection has gone by now */
    if (s == NULL) {
        test_failures++;
        return;
    }
    void *a = rh_dealer(s), *b = rh_dealer(s), *c3;
    answered(a, "conn-max: first");
    answered(b, "conn-max: second");
    c3 = rh_dealer(s);
    rh_set_timeout(c3, 500);
    CHECK(rh_query(c3, &rp, "pool", NULL, 0) != 0);
    CHECK(counter(a, "refused") >= 1);
    rh_close(b);
    rh_set_timeout(c3, 5000); /* libzmq connects again, and now gets in */
    CHECK(rh_recv(c3, &rp) == 0);
    CHECK_OK(&rp);
    rh_close(a);
    rh_close(c3);
    CHECK_U64(rh_stop(s, SIGTERM, 20000), 0);
    rh_free(&s);
}

/* ---- fairness ---------------------------------------------------------------------------------
 * Flooders send transfers with bad signatures as fast as they can (and read their replies)
 * on their own connections, with one verifier thread; a well-behaved client on another
 * connection still gets every one of its transfers answered, none BUSY. */
typedef struct flooder {
    rh_server *s;
    msgpack_sbuffer req;
    atomic_bool stop;
    _Atomic uint64_t replies, busy;
    pthread_t thread;
} flooder;

static void *flood_main(void *arg)
{
    flooder *f = arg;
    void *d = rh_dealer(f->s);
    while (!atomic_load(&f->stop)) {
        for (int i = 0; i < 64; i++)
            zmq_send(d, f->req.data, f->req.size, ZMQ_DONTWAIT);
        char buf[512];
        int n;
        while ((n = zmq_recv(d, buf, sizeof buf, ZMQ_DONTWAIT)) >= 0) {
            f->replies++;
            f->busy += n > 0 && memmem(buf, (size_t)n, "BUSY", 4) != NULL;
        }
    }
    rh_close(d);
    return NULL;
}

/* The good client: n transfers, 8 in flight at a time. Returns: transfers per second. */
static double good_client(rh_server *s, void *d, const rh_key *from, const uint8_t to[32],
                          unsigned n, unsigned *ok, unsigned *busy)
{
    uint64_t nonce = rh_next_nonce(d, from->pk), t0 = rh_now_ms();
    unsigned sent = 0, got = 0;
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    *ok = *busy = 0;
    while (got < n) {
        while (sent < n && sent - got < 8) {
            uint8_t hash[32], sig[64];
            ledger_tx t = rh_tx(LEDGER_TX_TRANSFER);
            rh_tx_key(&t, "to", to);
            rh_tx_u64(&t, "shares", 1);
            t.nonce = nonce + sent++;
            rh_sign(s, &t, from, hash, sig);
            rh_pack_tx(&b, &t, sig, rh_next_id(), NULL, NULL);
            rh_send(d, b.data, b.size);
        }
        if (rh_recv(d, &rp) != 0)
            break;
        got++;
        bool yes = false;
        *ok += rh_get_bool(rp.root, "ok", &yes) && yes;
        *busy += rh_str_is(rh_get(rp.root, "error"), "BUSY");
    }
    msgpack_sbuffer_destroy(&b);
    uint64_t ms = rh_now_ms() - t0;
    return got * 1000.0 / (double)(ms > 0 ? ms : 1);
}

static void fairness_round(rh_server *s, void *d, const rh_key *good, const rh_key *bad,
                           int flooders)
{
    enum { N = 300 };
    flooder fl[3];
    uint8_t hash[32], sig[64];
    ledger_tx t = rh_tx(LEDGER_TX_TRANSFER);
    rh_tx_key(&t, "to", good->pk);
    rh_tx_u64(&t, "shares", 1);
    t.nonce = 1;
    rh_sign(s, &t, bad, hash, sig);
    sig[5] ^= 1; /* never verifies */
    for (int i = 0; i < flooders; i++) {
        memset(&fl[i], 0, sizeof fl[i]);
        fl[i].s = s;
        msgpack_sbuffer_init(&fl[i].req);
        rh_pack_tx(&fl[i].req, &t, sig, 1, NULL, NULL);
        CHECK(pthread_create(&fl[i].thread, NULL, flood_main, &fl[i]) == 0);
    }
    /* the flood is on before the good client starts (past its burst: held to its budget) */
    for (int i = 0; i < flooders; i++)
        for (int wait = 0; wait < 2000 && fl[i].replies < 50; wait++)
            rh_sleep_ms(5);
    void *h = rh_dealer(s); /* lstd's own count of bad signatures: the flood ran alongside */
    uint64_t bad_before = counter(h, "bad_signatures");
    unsigned ok, busy;
    double rate = good_client(s, d, good, bad->pk, N, &ok, &busy);
    uint64_t during = counter(h, "bad_signatures") - bad_before;
    rh_close(h);
    for (int i = 0; i < flooders; i++) {
        atomic_store(&fl[i].stop, true);
        pthread_join(fl[i].thread, NULL);
        msgpack_sbuffer_destroy(&fl[i].req);
    }
    printf("fairness: %d flooder(s): the good client %u/%d ok, %u BUSY, %.0f transfers/s; lstd "
           "verified %llu bad signatures meanwhile\n",
           flooders, ok, N, busy, rate, (unsigned long long)during);
    CHECK_U64(ok, N);
    CHECK_U64(busy, 0);
    CHECK(flooders == 0 || during >= 1); /* the flood really ran alongside, within its budget */
}

static void test_fairness(void)
{
    const char *args[] = {"--verify-threads", "1", NULL};
    rh_server *s = rh_start(args);
    if (s == NULL) {
        test_failures++;
        return;
    }
    void *d = rh_dealer(s);
    rh_key good, bad;
    rh_keygen(&good);
    rh_keygen(&bad);
    deposits(s, d, good.pk, 1);
    fairness_round(s, d, &good, &bad, 0);
    fairness_round(s, d, &good, &bad, 1);
    fairness_round(s, d, &good, &bad, 3);
    const msgpack_object *c;
    health(d, &c);
    printf("fairness: paused_share %llu, bad_signatures %llu\n",
           (unsigned long long)RH_U64(c, "paused_share"),
           (unsigned long long)RH_U64(c, "bad_signatures"));
    rh_close(d);
    CHECK_U64(rh_stop(s, SIGTERM, 20000), 0);
    rh_free(&s);
}

/* ---- replies lost with their connection -------------------------------------------------------
 * A client pipelines 100,000 identical queries, reads nothing and closes. replies_dropped grows
 * by exactly the replies lstd still held for it: those not written whole to its socket (what
 * the operating system's buffers took is TCP's to deliver or lose, out of lstd's sight). */
static void test_replies_dropped(void)
{
    enum { N = 100000 }; /* 17 MB of replies: more than the sockets' buffers hold */
    const char *args[] = {"--conn-reply-bytes", "67108864", NULL};
    rh_server *s = rh_start(args);
    if (s == NULL) {
        test_failures++;
        return;
    }
    void *dl = rh_dealer(s);
    rh_key k;
    rh_keygen(&k);
    rh_field f = RH_BIN("account", k.pk, 32);
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    rh_pack_map(&b, 7, "account", &f, 1);
    CHECK(rh_call(dl, &b, 7, &rp) == 0); /* one reply's size: every one is the same bytes */
    uint64_t framed = rp.size + 2;       /* a short ZMTP frame: flags, size, body */
    CHECK(rp.size < 256);
    uint64_t queries0 = counter(dl, "queries"), dropped0 = counter(dl, "replies_dropped");
    int fd = rh_zmtp_open(s->requests, "DEALER", 4096);
    CHECK(fd >= 0);
    for (int i = 0; fd >= 0 && i < N; i++)
        CHECK(rh_zmtp_frame(fd, b.data, b.size, false) == 0);
    msgpack_sbuffer_destroy(&b);
    /* every query answered, and what lstd holds for the client no longer shrinks */
    uint64_t held = 0, last = UINT64_MAX, deadline = rh_now_ms() + 20000;
    int same = 0;
    while (same < 5 && rh_now_ms() < deadline) {
        const msgpack_object *c, *h = health(dl, &c);
        held = RH_U64(h, "reply_bytes");
        bool all = RH_U64(c, "queries") >= queries0 + N + 1; /* + this health query */
        same = all && held == last ? same + 1 : 0;
        last = held;
        rh_sleep_ms(50);
    }
    CHECK(same == 5);
    uint64_t want = (held + framed - 1) / framed; /* the first may be partly written */
    if (fd >= 0)
        close(fd);
    deadline = rh_now_ms() + 10000;
    uint64_t dropped = dropped0;
    while ((dropped = counter(dl, "replies_dropped")) == dropped0 && want > 0 &&
           rh_now_ms() < deadline)
        rh_sleep_ms(20);
    printf("replies dropped: %llu bytes held for the client (%llu replies of %llu bytes), "
           "replies_dropped +%llu\n",
           (unsigned long long)held, (unsigned long long)want, (unsigned long long)framed,
           (unsigned long long)(dropped - dropped0));
    CHECK(want > 0);
    CHECK_U64(dropped - dropped0, want);
    rh_close(dl);
    CHECK_U64(rh_stop(s, SIGTERM, 20000), 0);
    rh_free(&s);
}

int main(void)
{
    rh_init("test_rpc_bounds", 240);
    rh_reply_init(&rp);
    rh_server *s = rh_start(NULL);
    if (s == NULL) {
        test_failures++;
        return test_finish("test_rpc_bounds");
    }
    void *dl = rh_dealer(s);
    answered(dl, "start");
    test_endless_message(s, dl);
    test_topic_flood(s, dl);
    test_unread_replies(s, dl);
    rh_close(dl);
    CHECK_U64(rh_stop(s, SIGTERM, 20000), 0);
    rh_free(&s);
    test_replies_dropped();
    test_slow_subscribers();
    test_conn_max();
    test_fairness();
    rh_reply_free(&rp);
    return test_finish("test_rpc_bounds");
}
