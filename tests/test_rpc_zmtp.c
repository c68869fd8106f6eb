/* test_rpc_zmtp.c - the ZMTP reader: handshake, frames split anywhere, limits, refusals */
#include <stdlib.h>
#include <string.h>

#include "rpc_zmtp.h"
#include "test_util.h"

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
    rpc_zmtp_in_init(&in, role, l);
    memset(out, 0, sizeof *out);
    int st = RPC_ZMTP_NEED;
    for (size_t at = 0; at < w->n && st >= 0;) {
        size_t len = w->n - at < step ? w->n - at : step;
        const uint8_t *p = w->b + at;
        at += len;
        while (st >= 0) {
            rpc_zmtp_frame f;
            st = rpc_zmtp_next(&in, &p, &len, &f);
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
    rpc_zmtp_in_init(&in, RPC_ZMTP_PUB, &lim);
    const uint8_t *p = w.b;
    size_t len = w.n;
    rpc_zmtp_frame f;
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

int main(void)
{
    test_hello();
    test_frames_any_split();
    test_commands();
    test_refusals();
    test_message_limits();
    return test_finish("test_rpc_zmtp");
}
