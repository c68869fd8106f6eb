/* test_rpc_zmtp.c - the ZMTP reader: handshake, frames split anywhere, limits, refusals */
#include <stdlib.h>
#include <string.h>

#include "crypto_curve.h"
#include "rpc_zmtp.h"
#include "test_util.h"
#include "zmtp_raw.h"

static const rpc_zmtp_limits lim = {.frame_keep_max = 100, .message_max = 1000, .frames_max = 4};

/* A peer's bytes, built up. */
typedef struct wire {
    uint8_t b[4096];
    size_t n;
} wire;

static void put(wire *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

/* A libzmq-like greeting (ZMTP 3.1, NULL) and READY with Socket-Type type, Identity "". */
static void hello(wire *w, const char *type)
{
    uint8_t g[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1, 'N', 'U', 'L', 'L'};
    put(w, g, sizeof g);
    uint8_t body[64];
    size_t n = 0, tl = strlen(type);
    body[n++] = 5;
    memcpy(body + n, "READY", 5);
    n += 5;
    body[n++] = 11;
    memcpy(body + n, "Socket-Type", 11);
    n += 11;
    body[n++] = 0, body[n++] = 0, body[n++] = 0, body[n++] = (uint8_t)tl;
    memcpy(body + n, type, tl);
    n += tl;
    body[n++] = 8;
    memcpy(body + n, "Identity", 8);
    n += 8;
    body[n++] = 0, body[n++] = 0, body[n++] = 0, body[n++] = 0;
    uint8_t h[RPC_ZMTP_HEADER_MAX];
    put(w, h, rpc_zmtp_header(h, n, false, true));
    put(w, body, n);
}

static void frame(wire *w, const void *p, size_t n, bool more)
{
    uint8_t h[RPC_ZMTP_HEADER_MAX];
    put(w, h, rpc_zmtp_header(h, n, more, false));
    put(w, p, n);
}

/* Feed w in pieces of `step` bytes; record every frame (its first byte, length, flags) until
 * an error. Returns: the last status (NEED when all went through). */
typedef struct seen {
    int frames;
    size_t len[16];
    uint64_t size[16];
    bool more[16], skipped[16], command[16];
    unsigned index[16];
    uint8_t first[16];
} seen;

static int feed(const wire *w, size_t step, int role, const rpc_zmtp_limits *l, seen *out)
{
    rpc_zmtp_in in;
    rpc_zmtp_in_init(&in, role, l, NULL);
    memset(out, 0, sizeof *out);
    int st = RPC_ZMTP_NEED;
    for (size_t at = 0; at < w->n && st >= 0;) {
        size_t len = w->n - at < step ? w->n - at : step;
        const uint8_t *p = w->b + at;
        at += len;
        while (st >= 0) {
            rpc_zmtp_frame f;
            st = rpc_zmtp_next(&in, &p, &len, &f);
            if (st == RPC_ZMTP_SEND) /* the rest of our greeting and READY */
                continue;
            if (st != RPC_ZMTP_FRAME)
                break;
            int k = out->frames++;
            if (k < 16) {
                out->len[k] = f.len;
                out->size[k] = f.size;
                out->more[k] = f.more;
                out->skipped[k] = f.skipped;
                out->command[k] = f.command;
                out->index[k] = f.index;
                out->first[k] = f.len > 0 ? f.data[0] : 0;
            }
        }
    }
    rpc_zmtp_in_free(&in);
    return st;
}

/* Frames come out the same whatever the pieces the bytes arrive in. */
static void test_frames_any_split(void)
{
    wire w = {0};
    uint8_t big[300];
    memset(big, 'b', sizeof big);
    hello(&w, "DEALER");
    frame(&w, "hello", 5, false);
    frame(&w, "", 0, true); /* REQ: delimiter, payload */
    frame(&w, "x", 1, false);
    frame(&w, big, 99, false);
    frame(&w, big, 300, false); /* longer than kept: skipped, its prefix delivered */
    for (size_t step = 1; step <= w.n; step++) {
        seen s;
        int st = feed(&w, step, RPC_ZMTP_ROUTER, &lim, &s);
        CHECK(st == RPC_ZMTP_NEED);
        CHECK_U64(s.frames, 5);
        CHECK(s.len[0] == 5 && s.first[0] == 'h' && !s.more[0] && s.index[0] == 0);
        CHECK(s.len[1] == 0 && s.more[1] && s.index[1] == 0);
        CHECK(s.len[2] == 1 && s.first[2] == 'x' && s.index[2] == 1);
        CHECK(s.len[3] == 99 && !s.skipped[3] && s.index[3] == 0);
        CHECK(s.size[4] == 300 && s.skipped[4] && s.len[4] == RPC_ZMTP_PREFIX && s.first[4] == 'b');
        if (test_failures > 0)
            break;
    }
}

/* Commands: PING is delivered as a command (rpc_net answers it), PONG echoes its context. */
static void test_commands(void)
{
    wire w = {0};
    uint8_t h[RPC_ZMTP_HEADER_MAX];
    static const uint8_t ping[] = "\x04PING\x00\x0a"
                                  "ctx";
    hello(&w, "SUB");
    put(&w, h, rpc_zmtp_header(h, sizeof ping - 1, false, true));
    put(&w, ping, sizeof ping - 1);
    rpc_zmtp_in in;
    rpc_zmtp_in_init(&in, RPC_ZMTP_PUB, &lim, NULL);
    const uint8_t *p = w.b;
    size_t len = w.n;
    rpc_zmtp_frame f;
    CHECK_U64(rpc_zmtp_next(&in, &p, &len, &f), RPC_ZMTP_SEND); /* greeting's rest and READY */
    uint8_t ours[RPC_ZMTP_HELLO_MAX];
    size_t ol = rpc_zmtp_hello(ours, RPC_ZMTP_PUB);
    CHECK(f.len == ol - RPC_ZMTP_GREETING_SPLIT);
    CHECK(memcmp(f.data, ours + RPC_ZMTP_GREETING_SPLIT, f.len) == 0);
    CHECK_U64(rpc_zmtp_next(&in, &p, &len, &f), RPC_ZMTP_FRAME);
    const uint8_t *arg;
    size_t n;
    CHECK(f.command && rpc_zmtp_command_is(&f, "PING", &arg, &n) && n == 5);
    CHECK(!rpc_zmtp_command_is(&f, "PONG", &arg, &n));
    uint8_t pong[RPC_ZMTP_PONG_MAX];
    size_t pl = rpc_zmtp_pong(pong, arg, n);
    CHECK(pl == 2 + 5 + 3 && pong[0] == 0x04 && pong[1] == 8 &&
          memcmp(pong + 2, "\x04PONGctx", 8) == 0);
    CHECK_U64(rpc_zmtp_next(&in, &p, &len, &f), RPC_ZMTP_NEED);
    rpc_zmtp_in_free(&in);
}

/* Every refusal, and where it happens. */
static void test_refusals(void)
{
    seen s;
    wire w = {0};
    put(&w, "GET / HTTP/1.1\r\n", 16);
    CHECK(feed(&w, 1, RPC_ZMTP_ROUTER, &lim, &s) == RPC_ZMTP_E_GREETING);
    uint8_t g[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 2, 0}; /* ZMTP 2.0 */
    w.n = 0;
    put(&w, g, sizeof g);
    CHECK(feed(&w, 64, RPC_ZMTP_ROUTER, &lim, &s) == RPC_ZMTP_E_GREETING);
    memcpy(g + 10,
           "\x03\x01"
           "CURVE",
           7); /* another mechanism */
    w.n = 0;
    put(&w, g, sizeof g);
    CHECK(feed(&w, 64, RPC_ZMTP_ROUTER, &lim, &s) == RPC_ZMTP_E_GREETING);
    w.n = 0;
    hello(&w, "PUB"); /* a PUB cannot talk to a ROUTER */
    CHECK(feed(&w, 7, RPC_ZMTP_ROUTER, &lim, &s) == RPC_ZMTP_E_HANDSHAKE);
    w.n = 0;
    hello(&w, "DEALER"); /* nor a DEALER to a PUB */
    CHECK(feed(&w, 7, RPC_ZMTP_PUB, &lim, &s) == RPC_ZMTP_E_HANDSHAKE);
    w.n = 0;
    memcpy(g + 10,
           "\x03\x01"
           "NULL\0",
           7);
    put(&w, g, sizeof g);
    frame(&w, "x", 1, false); /* data before READY */
    CHECK(feed(&w, 100, RPC_ZMTP_ROUTER, &lim, &s) == RPC_ZMTP_E_HANDSHAKE);
    w.n = 0;
    hello(&w, "REQ");
    put(&w, "\x08\x01x", 3); /* a reserved flag bit */
    CHECK(feed(&w, 100, RPC_ZMTP_ROUTER, &lim, &s) == RPC_ZMTP_E_FRAMING);
    w.n = 0;
    hello(&w, "REQ");
    put(&w, "\x05\x01x", 3); /* a command with MORE */
    CHECK(feed(&w, 100, RPC_ZMTP_ROUTER, &lim, &s) == RPC_ZMTP_E_FRAMING);
    w.n = 0;
    hello(&w, "REQ");
    put(&w, "\x06\x00\x00\x00\x00\x00\x01\x00\x00", 9); /* a 64 KiB command */
    CHECK(feed(&w, 100, RPC_ZMTP_ROUTER, &lim, &s) == RPC_ZMTP_E_FRAMING);
}

/* The message limits fail at the header that crosses them, before any body byte is read. */
static void test_message_limits(void)
{
    seen s;
    wire w = {0};
    uint8_t body[600];
    memset(body, 'm', sizeof body);
    hello(&w, "DEALER");
    for (int i = 0; i < 4; i++) /* 4 frames: allowed */
        frame(&w, "f", 1, i < 3);
    for (int i = 0; i < 5; i++) /* 5: the fifth header fails */
        frame(&w, "f", 1, i < 4);
    CHECK(feed(&w, 3, RPC_ZMTP_ROUTER, &lim, &s) == RPC_ZMTP_E_MESSAGE);
    CHECK_U64(s.frames, 4 + 4);
    w.n = 0;
    hello(&w, "DEALER");
    frame(&w, body, 600, true);
    frame(&w, body, 400, false); /* 1000 in all: allowed */
    frame(&w, body, 600, true);
    put(&w, "\x02\x00\x00\x00\x00\x00\x00\x01\x91", 9); /* 600 + 401 > 1000 */
    CHECK(feed(&w, 50, RPC_ZMTP_ROUTER, &lim, &s) == RPC_ZMTP_E_MESSAGE);
    CHECK_U64(s.frames, 3);
    /* a frame declaring 64 MiB is refused at its header */
    w.n = 0;
    hello(&w, "SUB");
    put(&w, "\x02\x00\x00\x00\x00\x04\x00\x00\x00", 9);
    CHECK(feed(&w, 4096, RPC_ZMTP_PUB, &lim, &s) == RPC_ZMTP_E_MESSAGE);
    /* endless MORE frames end at frames_max */
    w.n = 0;
    hello(&w, "DEALER");
    for (int i = 0; i < 100; i++)
        frame(&w, "", 0, true);
    CHECK(feed(&w, 4096, RPC_ZMTP_ROUTER, &lim, &s) == RPC_ZMTP_E_MESSAGE);
    CHECK_U64(s.frames, 4);
}

/* Our hello is what a reader of the other side accepts: greeting then READY. */
static void test_hello(void)
{
    uint8_t out[RPC_ZMTP_HELLO_MAX];
    size_t n = rpc_zmtp_hello(out, RPC_ZMTP_ROUTER);
    CHECK(n > 64 && out[0] == 0xff && out[9] == 0x7f && out[10] == 3 && out[11] == 1);
    CHECK(memcmp(out + 12, "NULL", 4) == 0 && out[16] == 0 && out[32] == 0);
    CHECK(out[64] == 0x04 && out[65] == n - 66 && memcmp(out + 66, "\x05READY", 6) == 0);
    CHECK(memcmp(out + n - 6, "ROUTER", 6) == 0);
    n = rpc_zmtp_hello(out, RPC_ZMTP_PUB);
    CHECK(memcmp(out + n - 3, "PUB", 3) == 0);
    uint8_t h[RPC_ZMTP_HEADER_MAX];
    CHECK(rpc_zmtp_header(h, 255, true, false) == 2 && h[0] == 1 && h[1] == 255);
    CHECK(rpc_zmtp_header(h, 256, false, false) == 9 && h[0] == 2 && h[7] == 1 && h[8] == 0);
}

/* ---- CURVE, as bytes: a reader fed by the raw client of tools/zmtp_raw.c ------------------- */

typedef struct curve_keys {
    uint8_t server_pk[32], server_sk[32], client_pk[32], client_sk[32];
} curve_keys;

static curve_keys keys;
static const uint8_t *allowed_key; /* the one key allow_one accepts */

static bool allow_one(void *ctx, const uint8_t key[32])
{
    (void)ctx;
    return allowed_key != NULL && memcmp(key, allowed_key, 32) == 0;
}

/* One server endpoint and one connection to it, and the client's side. */
typedef struct curve_pair {
    rpc_zmtp_curve server;
    rpc_zmtp_in in;
    zmtp_raw_curve client;
    rpc_zmtp_frame f;   /* the last frame delivered */
    uint8_t sent[1024]; /* what the reader last asked to send */
    size_t sent_len;
    int frames;
} curve_pair;

static void pair_open(curve_pair *p, int role, const rpc_zmtp_limits *l, uint64_t now_ms)
{
    memset(p, 0, sizeof *p);
    CHECK(rpc_zmtp_curve_init(&p->server, keys.server_sk, allow_one, NULL, now_ms) == 0);
    CHECK(memcmp(p->server.public_key, keys.server_pk, 32) == 0);
    rpc_zmtp_in_init(&p->in, role, l, &p->server);
    CHECK(zmtp_raw_curve_init(&p->client, keys.server_pk, keys.client_pk, keys.client_sk) == 0);
}

static void pair_close(curve_pair *p)
{
    rpc_zmtp_in_free(&p->in);
    rpc_zmtp_curve_wipe(&p->server);
}

/* Feed n bytes in pieces of step. Returns: the first error, else the last SEND or FRAME
 * (both recorded), else NEED. */
static int pair_feed(curve_pair *p, const uint8_t *b, size_t n, size_t step)
{
    int st = RPC_ZMTP_NEED, last = RPC_ZMTP_NEED;
    for (size_t at = 0; at < n && st >= 0;) {
        size_t len = n - at < step ? n - at : step;
        const uint8_t *q = b + at;
        at += len;
        while (st >= 0) {
            st = rpc_zmtp_next(&p->in, &q, &len, &p->f);
            if (st == RPC_ZMTP_SEND && p->f.len <= sizeof p->sent) {
                memcpy(p->sent, p->f.data, p->f.len);
                p->sent_len = p->f.len;
            } else if (st == RPC_ZMTP_FRAME) {
                p->frames++;
            } else {
                break;
            }
            last = st;
        }
    }
    return st < 0 ? st : last;
}

/* The body of the command the reader sent (after its 2-byte header). */
static const uint8_t *sent_body(const curve_pair *p, size_t *n)
{
    *n = p->sent_len >= 2 ? p->sent_len - 2 : 0;
    return p->sent + 2;
}

/* Greeting and HELLO; the WELCOME taken by the client. Returns: the last status. */
static int pair_hello(curve_pair *p, size_t step)
{
    uint8_t g[64], hello[202];
    zmtp_raw_greeting(g, "CURVE");
    int st = pair_feed(p, g, 64, step);
    if (st < 0)
        return st;
    CHECK(st == RPC_ZMTP_SEND && p->sent_len == 64 - RPC_ZMTP_GREETING_SPLIT);
    CHECK(memcmp(p->sent + 1, "CURVE", 6) == 0 && p->sent[32 - RPC_ZMTP_GREETING_SPLIT] == 1);
    CHECK(zmtp_raw_curve_hello(&p->client, hello) == 202);
    st = pair_feed(p, hello, 202, step);
    size_t n;
    const uint8_t *w = sent_body(p, &n);
    if (st >= 0)
        CHECK(zmtp_raw_curve_welcome(&p->client, w, n) == 0);
    return st;
}

/* INITIATE as `type`; READY taken by the client. Returns: the last status. */
static int pair_initiate(curve_pair *p, const char *type, size_t step)
{
    uint8_t buf[512];
    size_t len = zmtp_raw_curve_initiate(&p->client, buf, sizeof buf, type);
    CHECK(len > 0);
    int st = pair_feed(p, buf, len, step);
    size_t n;
    const uint8_t *r = sent_body(p, &n);
    if (st >= 0)
        CHECK(zmtp_raw_curve_ready(&p->client, r, n) == 0 && p->in.ready);
    return st;
}

static int pair_message(curve_pair *p, const void *data, size_t len, bool more, bool command,
                        uint64_t nonce)
{
    static uint8_t buf[70000];
    size_t n = zmtp_raw_curve_message(&p->client, buf, sizeof buf, data, len, more, command, nonce);
    CHECK(n > 0);
    return pair_feed(p, buf, n, 4096);
}

/* The whole handshake in pieces of every size, then frames both ways. */
static void test_curve_handshake(void)
{
    allowed_key = keys.client_pk;
    for (size_t step = 1; step <= 300; step += step < 8 ? 1 : 37) {
        curve_pair p;
        pair_open(&p, RPC_ZMTP_ROUTER, &lim, 1000);
        uint8_t out[RPC_ZMTP_HELLO_MAX];
        size_t gl = rpc_zmtp_greet(&p.in, out);
        CHECK(gl == RPC_ZMTP_GREETING_SPLIT && out[0] == 0xff && out[10] == 3); /* the rest later */
        CHECK(pair_hello(&p, step) == RPC_ZMTP_SEND && !p.in.ready);
        CHECK(pair_initiate(&p, "DEALER", step) == RPC_ZMTP_SEND);
        CHECK(memcmp(p.in.client_key, keys.client_pk, 32) == 0);
        CHECK(pair_message(&p, "", 0, true, false, 0) == RPC_ZMTP_FRAME);
        CHECK(p.f.size == 0 && p.f.more && !p.f.command && p.f.index == 0);
        CHECK(pair_message(&p, "hello", 5, false, false, 0) == RPC_ZMTP_FRAME);
        CHECK(p.f.len == 5 && memcmp(p.f.data, "hello", 5) == 0 && !p.f.more && p.f.index == 1);
        CHECK(pair_message(&p, "\x04PING\0\x01", 7, false, true, 0) == RPC_ZMTP_FRAME);
        CHECK(p.f.command && p.f.len == 7);
        /* the server's frames: boxed, nonces increasing, flags inside */
        uint8_t frame[256], plain[256], flags;
        size_t len;
        for (int i = 0; i < 3; i++) {
            size_t n = rpc_zmtp_put_frame(&p.in, frame, "reply", 5, i == 0, false);
            CHECK(n == rpc_zmtp_frame_bytes(&p.in, 5) && n == 2 + 5 + RPC_ZMTP_CURVE_OVERHEAD);
            CHECK(frame[0] == 0x00 && frame[1] == n - 2); /* a frame of a message */
            CHECK(zmtp_raw_curve_open(&p.client, frame + 2, n - 2, plain, sizeof plain, &len,
                                      &flags) == 0);
            CHECK(len == 5 && memcmp(plain, "reply", 5) == 0 && flags == (i == 0 ? 1 : 0));
        }
        pair_close(&p);
        if (test_failures > 0)
            break;
    }
}

/* Who is refused, and with which status. */
static void test_curve_refusals(void)
{
    curve_pair p;
    uint8_t g[64], hello[202], buf[512];
    allowed_key = keys.client_pk;
    /* a NULL-mechanism peer at a CURVE endpoint did not authenticate */
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    zmtp_raw_greeting(g, "NULL");
    CHECK(pair_feed(&p, g, 64, 64) == RPC_ZMTP_E_AUTH);
    uint8_t why[RPC_ZMTP_REPLY_MAX]; /* told: the rest of our greeting, naming CURVE; later ERROR */
    CHECK(rpc_zmtp_refusal(&p.in, RPC_ZMTP_E_AUTH, why) == 64 - RPC_ZMTP_GREETING_SPLIT);
    CHECK(memcmp(why + 1, "CURVE", 6) == 0);
    pair_close(&p);
    /* a CURVE peer at a NULL endpoint */
    rpc_zmtp_in in;
    rpc_zmtp_in_init(&in, RPC_ZMTP_ROUTER, &lim, NULL);
    const uint8_t *q = g;
    size_t n = 64;
    rpc_zmtp_frame f;
    zmtp_raw_greeting(g, "CURVE");
    CHECK(rpc_zmtp_next(&in, &q, &n, &f) == RPC_ZMTP_E_GREETING);
    rpc_zmtp_in_free(&in);
    /* a HELLO box that does not open: every byte of the box flipped in turn */
    for (size_t at = 2 + 120; at < 202; at += 7) {
        pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
        CHECK(pair_feed(&p, g, 64, 64) == RPC_ZMTP_SEND);
        CHECK(zmtp_raw_curve_hello(&p.client, hello) == 202);
        hello[at] ^= 1;
        CHECK(pair_feed(&p, hello, 202, 202) == RPC_ZMTP_E_AUTH);
        CHECK(rpc_zmtp_refusal(&p.in, RPC_ZMTP_E_AUTH, why) == 12);
        CHECK(memcmp(why,
                     "\x04\x0a\x05"
                     "ERROR\x03"
                     "400",
                     12) == 0);
        CHECK(rpc_zmtp_refusal(&p.in, RPC_ZMTP_E_CRYPTO, why) == 0);
        pair_close(&p);
    }
    /* a HELLO boxed for another server key */
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_feed(&p, g, 64, 64) == RPC_ZMTP_SEND);
    memcpy(p.client.server_key, keys.client_pk, 32);
    CHECK(zmtp_raw_curve_hello(&p.client, hello) == 202);
    CHECK(pair_feed(&p, hello, 202, 202) == RPC_ZMTP_E_AUTH);
    pair_close(&p);
    /* a HELLO of the wrong size, data before HELLO, INITIATE before HELLO */
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_feed(&p, g, 64, 64) == RPC_ZMTP_SEND);
    CHECK(zmtp_raw_curve_hello(&p.client, hello) == 202);
    hello[1] = 199;
    CHECK(pair_feed(&p, hello, 201, 201) == RPC_ZMTP_E_HANDSHAKE);
    pair_close(&p);
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_feed(&p, g, 64, 64) == RPC_ZMTP_SEND);
    CHECK(pair_feed(&p, (const uint8_t *)"\x00\x01x", 3, 3) == RPC_ZMTP_E_HANDSHAKE);
    pair_close(&p);
    /* a client key not in the list: refused at INITIATE, after its vouch was checked */
    allowed_key = keys.server_pk;
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND);
    CHECK(zmtp_raw_curve_initiate(&p.client, buf, sizeof buf, "DEALER") > 0);
    CHECK(pair_feed(&p, buf, zmtp_raw_curve_initiate(&p.client, buf, sizeof buf, "DEALER"), 512) ==
          RPC_ZMTP_E_AUTH);
    CHECK(!p.in.ready);
    pair_close(&p);
    allowed_key = NULL; /* no list: nobody */
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND);
    size_t il = zmtp_raw_curve_initiate(&p.client, buf, sizeof buf, "DEALER");
    CHECK(pair_feed(&p, buf, il, 512) == RPC_ZMTP_E_AUTH);
    pair_close(&p);
    allowed_key = keys.client_pk;
    /* a vouch made with another permanent key than the one INITIATE names */
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND);
    memcpy(p.client.secret_key, keys.server_sk, 32);
    il = zmtp_raw_curve_initiate(&p.client, buf, sizeof buf, "DEALER");
    CHECK(pair_feed(&p, buf, il, 512) == RPC_ZMTP_E_AUTH);
    pair_close(&p);
    /* a truncated INITIATE: under 257 bytes, or its box cut short */
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND);
    il = zmtp_raw_curve_initiate(&p.client, buf, sizeof buf, "DEALER");
    CHECK(il > 9 + 257 && buf[0] == 0x06); /* a long command: 9 bytes of header */
    uint8_t cut[512], h[RPC_ZMTP_HEADER_MAX];
    size_t hl = rpc_zmtp_header(h, 200, false, true); /* its first 200 bytes */
    memcpy(cut, h, hl);
    memcpy(cut + hl, buf + 9, 200);
    CHECK(pair_feed(&p, cut, hl + 200, 512) == RPC_ZMTP_E_HANDSHAKE);
    pair_close(&p);
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND);
    il = zmtp_raw_curve_initiate(&p.client, buf, sizeof buf, "DEALER");
    hl = rpc_zmtp_header(h, il - 9 - 3, false, true); /* all but its last 3 bytes */
    memcpy(cut, h, hl);
    memcpy(cut + hl, buf + 9, il - 9 - 3);
    CHECK(pair_feed(&p, cut, hl + il - 9 - 3, 512) == RPC_ZMTP_E_CRYPTO);
    pair_close(&p);
    /* a socket type that cannot talk to ours, inside the INITIATE box */
    pair_open(&p, RPC_ZMTP_PUB, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND);
    il = zmtp_raw_curve_initiate(&p.client, buf, sizeof buf, "DEALER");
    CHECK(pair_feed(&p, buf, il, 512) == RPC_ZMTP_E_HANDSHAKE);
    pair_close(&p);
}

/* A cookie opens only on the connection it was made for, in its minute or the next. */
static void test_curve_cookie(void)
{
    curve_pair a, b;
    uint8_t buf[512];
    allowed_key = keys.client_pk;
    pair_open(&a, RPC_ZMTP_ROUTER, &lim, 0);
    pair_open(&b, RPC_ZMTP_ROUTER, &lim, 0);
    b.in.curve = &a.server; /* two connections of one endpoint */
    CHECK(pair_hello(&a, 64) == RPC_ZMTP_SEND && pair_hello(&b, 64) == RPC_ZMTP_SEND);
    memcpy(a.client.cookie, b.client.cookie, 96); /* a's INITIATE with b's cookie */
    size_t il = zmtp_raw_curve_initiate(&a.client, buf, sizeof buf, "DEALER");
    CHECK(pair_feed(&a, buf, il, 512) == RPC_ZMTP_E_CRYPTO);
    pair_close(&a);
    rpc_zmtp_in_free(&b.in);
    for (unsigned minutes = 0; minutes <= 2; minutes++) {
        pair_open(&a, RPC_ZMTP_ROUTER, &lim, 59000);
        CHECK(pair_hello(&a, 64) == RPC_ZMTP_SEND);
        rpc_zmtp_curve_tick(&a.server, 59000 + minutes * 60000u);
        il = zmtp_raw_curve_initiate(&a.client, buf, sizeof buf, "DEALER");
        CHECK(pair_feed(&a, buf, il, 512) == (minutes < 2 ? RPC_ZMTP_SEND : RPC_ZMTP_E_CRYPTO));
        pair_close(&a);
    }
}

/* After the handshake: nonces, boxes and the limits inside them. */
static void test_curve_messages(void)
{
    curve_pair p;
    static uint8_t big[9000];
    memset(big, 'b', sizeof big);
    allowed_key = keys.client_pk;
    /* a replayed nonce, then a smaller one */
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND && pair_initiate(&p, "DEALER", 64) == RPC_ZMTP_SEND);
    CHECK(pair_message(&p, "a", 1, false, false, 10) == RPC_ZMTP_FRAME);
    CHECK(pair_message(&p, "b", 1, false, false, 10) == RPC_ZMTP_E_CRYPTO);
    pair_close(&p);
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND && pair_initiate(&p, "DEALER", 64) == RPC_ZMTP_SEND);
    CHECK(pair_message(&p, "a", 1, false, false, 10) == RPC_ZMTP_FRAME);
    CHECK(pair_message(&p, "b", 1, false, false, 9) == RPC_ZMTP_E_CRYPTO);
    pair_close(&p);
    /* a box with a flipped byte */
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND && pair_initiate(&p, "DEALER", 64) == RPC_ZMTP_SEND);
    uint8_t buf[512];
    size_t n = zmtp_raw_curve_message(&p.client, buf, sizeof buf, "abc", 3, false, false, 0);
    buf[n - 1] ^= 0x80;
    CHECK(pair_feed(&p, buf, n, n) == RPC_ZMTP_E_CRYPTO);
    pair_close(&p);
    /* a plain frame after the handshake, and a box larger than any frame kept: refused at
     * the header, before its body */
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND && pair_initiate(&p, "DEALER", 64) == RPC_ZMTP_SEND);
    CHECK(pair_feed(&p, (const uint8_t *)"\x00\x01x", 3, 3) == RPC_ZMTP_E_FRAMING);
    pair_close(&p);
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND && pair_initiate(&p, "DEALER", 64) == RPC_ZMTP_SEND);
    CHECK(rpc_zmtp_box_max(&lim) == RPC_ZMTP_COMMAND_MAX);
    uint8_t head[9] = {0x06, 0, 0, 0, 0, 0, 0, 0x20, 0x22}; /* 8226 = 8192 + 33 + 1 */
    CHECK(pair_feed(&p, head, 9, 9) == RPC_ZMTP_E_MESSAGE);
    pair_close(&p);
    /* inside boxes: a frame over frame_keep_max comes skipped, the message limits hold */
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND && pair_initiate(&p, "DEALER", 64) == RPC_ZMTP_SEND);
    CHECK(pair_message(&p, big, 150, false, false, 0) == RPC_ZMTP_FRAME);
    CHECK(p.f.skipped && p.f.size == 150 && p.f.len == RPC_ZMTP_PREFIX);
    CHECK(pair_message(&p, big, 600, true, false, 0) == RPC_ZMTP_FRAME);
    CHECK(pair_message(&p, big, 401, false, false, 0) == RPC_ZMTP_E_MESSAGE); /* > 1000 */
    pair_close(&p);
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND && pair_initiate(&p, "DEALER", 64) == RPC_ZMTP_SEND);
    for (int i = 0; i < 4; i++)
        CHECK(pair_message(&p, "f", 1, true, false, 0) == RPC_ZMTP_FRAME);
    CHECK(pair_message(&p, "f", 1, true, false, 0) == RPC_ZMTP_E_MESSAGE); /* a fifth frame */
    pair_close(&p);
    /* a subscription as a command inside a box, at a PUB */
    pair_open(&p, RPC_ZMTP_PUB, &lim, 0);
    CHECK(pair_hello(&p, 64) == RPC_ZMTP_SEND && pair_initiate(&p, "SUB", 64) == RPC_ZMTP_SEND);
    CHECK(pair_message(&p, "\x09SUBSCRIBEtx/", 13, false, true, 0) == RPC_ZMTP_FRAME);
    const uint8_t *arg;
    size_t al;
    CHECK(rpc_zmtp_command_is(&p.f, "SUBSCRIBE", &arg, &al) && al == 3);
    pair_close(&p);
    /* nothing can be sent before READY */
    pair_open(&p, RPC_ZMTP_ROUTER, &lim, 0);
    CHECK(rpc_zmtp_put_frame(&p.in, buf, "x", 1, false, false) == 0);
    pair_close(&p);
}

int main(void)
{
    CHECK(crypto_curve_keypair(keys.server_pk, keys.server_sk) == 0);
    CHECK(crypto_curve_keypair(keys.client_pk, keys.client_sk) == 0);
    test_curve_handshake();
    test_curve_refusals();
    test_curve_cookie();
    test_curve_messages();
    test_hello();
    test_frames_any_split();
    test_commands();
    test_refusals();
    test_message_limits();
    return test_finish("test_rpc_zmtp");
}
