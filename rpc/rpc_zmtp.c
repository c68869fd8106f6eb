/* rpc_zmtp.c - ZMTP 3 server side: greeting and READY, frames read one at a time within limits */
#include "rpc_zmtp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum in_state { S_GREETING, S_FLAGS, S_SIZE, S_BODY, S_ERROR };

#define FLAG_MORE 0x01
#define FLAG_LONG 0x02
#define FLAG_COMMAND 0x04

static const char null_mechanism[20] = "NULL";

/* The socket types that may talk to ours (ZMTP 23/ZMTP, socket compatibility). */
static bool peer_type_ok(int role, const uint8_t *v, size_t n)
{
    static const char *const router_peers[] = {"DEALER", "REQ"};
    static const char *const pub_peers[] = {"SUB", "XSUB"};
    const char *const *ok = role == RPC_ZMTP_ROUTER ? router_peers : pub_peers;
    for (size_t i = 0; i < 2; i++)
        if (strlen(ok[i]) == n && memcmp(ok[i], v, n) == 0)
            return true;
    return false;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t rpc_zmtp_hello(uint8_t out[RPC_ZMTP_HELLO_MAX], int role)
{
    const char *type = role == RPC_ZMTP_ROUTER ? "ROUTER" : "PUB";
    size_t tl = strlen(type), n = 0;
    memset(out, 0, RPC_ZMTP_GREETING_BYTES);
    out[0] = 0xff; /* signature: 0xff, 8 bytes of padding, 0x7f */
    out[8] = 1;
    out[9] = 0x7f;
    out[10] = 3; /* version 3.1 */
    out[11] = 1;
    memcpy(out + 12, null_mechanism, sizeof null_mechanism);
    n = RPC_ZMTP_GREETING_BYTES; /* as-server 0, filler zero */
    size_t body = 1 + 5 + 1 + 11 + 4 + tl;
    out[n++] = FLAG_COMMAND;
    out[n++] = (uint8_t)body;
    out[n++] = 5;
    memcpy(out + n, "READY", 5);
    n += 5;
    out[n++] = 11;
    memcpy(out + n, "Socket-Type", 11);
    n += 11;
    put_be32(out + n, (uint32_t)tl);
    n += 4;
    memcpy(out + n, type, tl);
    return n + tl;
}

size_t rpc_zmtp_header(uint8_t out[RPC_ZMTP_HEADER_MAX], uint64_t size, bool more, bool command)
{
    uint8_t flags = (uint8_t)((more ? FLAG_MORE : 0) | (command ? FLAG_COMMAND : 0));
    if (size <= 255) {
        out[0] = flags;
        out[1] = (uint8_t)size;
        return 2;
    }
    out[0] = flags | FLAG_LONG;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(size >> (56 - 8 * i));
    return 9;
}

void rpc_zmtp_in_init(rpc_zmtp_in *in, int role, const rpc_zmtp_limits *lim)
{
    memset(in, 0, sizeof *in);
    in->role = role;
    in->lim = *lim;
    in->state = S_GREETING;
}

void rpc_zmtp_in_free(rpc_zmtp_in *in)
{
    free(in->buf);
    in->buf = NULL;
    in->buf_cap = 0;
}

/* The greeting so far (head_have bytes): a fault as soon as it shows. Returns: 0 or E_GREETING. */
static int greeting_check(const rpc_zmtp_in *in)
{
    const uint8_t *g = in->head;
    size_t n = in->head_have;
    if ((n >= 1 && g[0] != 0xff) || (n >= 10 && (g[9] & 1) == 0) || (n >= 11 && g[10] < 3))
        return RPC_ZMTP_E_GREETING;
    if (n == RPC_ZMTP_GREETING_BYTES && memcmp(g + 12, null_mechanism, sizeof null_mechanism) != 0)
        return RPC_ZMTP_E_GREETING;
    return 0;
}

/* A READY command's body: its name, then properties (1-byte name length, name, 4-byte value
 * length, value); Socket-Type must be one that talks to ours. Returns: true when it is. */
static bool ready_ok(int role, const uint8_t *b, size_t n)
{
    bool typed = false;
    if (n < 6 || b[0] != 5 || memcmp(b + 1, "READY", 5) != 0)
        return false;
    for (size_t p = 6; p < n;) {
        size_t nl = b[p++];
        if (nl == 0 || n - p < nl + 4)
            return false;
        const uint8_t *name = b + p;
        p += nl;
        uint64_t vl =
            (uint64_t)b[p] << 24 | (uint64_t)b[p + 1] << 16 | (uint64_t)b[p + 2] << 8 | b[p + 3];
        p += 4;
        if (vl > n - p)
            return false;
        if (nl == 11 && strncasecmp((const char *)name, "Socket-Type", 11) == 0) {
            if (typed || !peer_type_ok(role, b + p, (size_t)vl))
                return false;
            typed = true;
        }
        p += (size_t)vl;
    }
    return typed;
}

static int fail(rpc_zmtp_in *in, int status)
{
    in->state = S_ERROR;
    return status;
}

/* The size is complete: check it against the state and the limits, and set up the body. */
static int header_done(rpc_zmtp_in *in)
{
    bool command = (in->flags & FLAG_COMMAND) != 0;
    if ((in->flags & FLAG_LONG) && in->size >> 63)
        return fail(in, RPC_ZMTP_E_FRAMING);
    if (command && in->size > RPC_ZMTP_COMMAND_MAX)
        return fail(in, RPC_ZMTP_E_FRAMING);
    if (!in->ready && !command)
        return fail(in, RPC_ZMTP_E_HANDSHAKE);
    if (!command) {
        if (in->frame_index >= in->lim.frames_max || in->size > in->lim.message_max ||
            in->message_bytes + in->size > in->lim.message_max)
            return fail(in, RPC_ZMTP_E_MESSAGE);
        in->message_bytes += in->size;
    }
    in->skip = in->size > (command ? RPC_ZMTP_COMMAND_MAX : in->lim.frame_keep_max);
    in->have = 0;
    in->state = S_BODY;
    return 0;
}

/* Keep n more body bytes (all of them, or of a skipped body only what fits the prefix).
 * Returns: 0 or E_NOMEM. */
static int body_store(rpc_zmtp_in *in, const uint8_t *p, size_t n)
{
    size_t want = in->skip ? RPC_ZMTP_PREFIX : (size_t)in->size;
    size_t at = (size_t)in->have;
    if (at >= want)
        return 0;
    if (n > want - at)
        n = want - at;
    if (in->buf_cap < want) {
        uint8_t *grown = realloc(in->buf, want);
        if (grown == NULL)
            return RPC_ZMTP_E_NOMEM;
        in->buf = grown;
        in->buf_cap = want;
    }
    memcpy(in->buf + at, p, n);
    return 0;
}

/* The body is complete: describe it in f and move to the next frame. Returns: 1 (a frame to
 * deliver), 0 (the READY, consumed here) or E_HANDSHAKE. */
static int frame_done(rpc_zmtp_in *in, const uint8_t *body, rpc_zmtp_frame *f)
{
    f->data = body;
    f->size = in->size;
    f->skipped = in->skip;
    f->len = in->skip ? (in->size < RPC_ZMTP_PREFIX ? (size_t)in->size : RPC_ZMTP_PREFIX)
                      : (size_t)in->size;
    f->more = (in->flags & FLAG_MORE) != 0;
    f->command = (in->flags & FLAG_COMMAND) != 0;
    f->index = f->command ? 0 : in->frame_index;
    in->state = S_FLAGS;
    in->head_have = 0;
    if (!in->ready) { /* the first command must be READY */
        if (f->skipped || !ready_ok(in->role, f->data, f->len))
            return fail(in, RPC_ZMTP_E_HANDSHAKE);
        in->ready = true;
        return 0;
    }
    if (!f->command) {
        in->frame_index = f->more ? in->frame_index + 1 : 0;
        if (!f->more)
            in->message_bytes = 0;
    }
    return 1;
}

/* Body bytes from the input. Returns: 1 frame, 0 consumed (READY or not complete), < 0 error. */
static int read_body(rpc_zmtp_in *in, const uint8_t **data, size_t *len, rpc_zmtp_frame *f)
{
    static const uint8_t empty[1];
    if (in->size == 0)
        return frame_done(in, empty, f);
    if (!in->skip && in->have == 0 && *len >= in->size) { /* whole in this chunk: no copy */
        const uint8_t *body = *data;
        *data += in->size;
        *len -= (size_t)in->size;
        return frame_done(in, body, f);
    }
    size_t n = *len < in->size - in->have ? *len : (size_t)(in->size - in->have);
    if (body_store(in, *data, n) != 0)
        return fail(in, RPC_ZMTP_E_NOMEM);
    *data += n;
    *len -= n;
    in->have += n;
    return in->have == in->size ? frame_done(in, in->buf, f) : 0;
}

/* The greeting's bytes from the input. Returns: 0 or E_GREETING. */
static int read_greeting(rpc_zmtp_in *in, const uint8_t **data, size_t *len)
{
    while (*len > 0 && in->head_have < RPC_ZMTP_GREETING_BYTES) {
        in->head[in->head_have++] = *(*data)++;
        (*len)--;
        if (greeting_check(in) != 0)
            return fail(in, RPC_ZMTP_E_GREETING);
    }
    if (in->head_have == RPC_ZMTP_GREETING_BYTES) {
        in->state = S_FLAGS;
        in->head_have = 0;
    }
    return 0;
}

/* A frame's flags byte, or its size bytes. Returns: 0 or an error. */
static int read_header(rpc_zmtp_in *in, const uint8_t **data, size_t *len)
{
    if (in->state == S_FLAGS) {
        in->flags = *(*data)++;
        (*len)--;
        if ((in->flags & ~(FLAG_MORE | FLAG_LONG | FLAG_COMMAND)) != 0 ||
            ((in->flags & FLAG_COMMAND) && (in->flags & FLAG_MORE)))
            return fail(in, RPC_ZMTP_E_FRAMING);
        in->state = S_SIZE;
        in->head_have = 0;
        in->size = 0;
        return 0;
    }
    size_t need = (in->flags & FLAG_LONG) ? 8 : 1;
    while (*len > 0 && in->head_have < need) {
        in->size = in->size << 8 | *(*data)++;
        (*len)--;
        in->head_have++;
    }
    return in->head_have == need ? header_done(in) : 0;
}

int rpc_zmtp_next(rpc_zmtp_in *in, const uint8_t **data, size_t *len, rpc_zmtp_frame *f)
{
    int rc = 0;
    while (rc == 0 && in->state != S_ERROR) {
        if (in->state == S_BODY) {
            rc = read_body(in, data, len, f); /* a zero-size body needs no input */
            if (rc == 0 && *len == 0 && in->state == S_BODY)
                return RPC_ZMTP_NEED;
            continue;
        }
        if (*len == 0)
            return RPC_ZMTP_NEED;
        rc = in->state == S_GREETING ? read_greeting(in, data, len) : read_header(in, data, len);
    }
    return in->state == S_ERROR && rc >= 0 ? RPC_ZMTP_E_FRAMING : rc;
}

bool rpc_zmtp_command_is(const rpc_zmtp_frame *f, const char *name, const uint8_t **arg,
                         size_t *arg_len)
{
    size_t n = strlen(name);
    if (!f->command || f->skipped || f->len < 1 + n || f->data[0] != n ||
        memcmp(f->data + 1, name, n) != 0)
        return false;
    *arg = f->data + 1 + n;
    *arg_len = f->len - 1 - n;
    return true;
}

size_t rpc_zmtp_pong(uint8_t out[RPC_ZMTP_PONG_MAX], const uint8_t *arg, size_t arg_len)
{
    /* PING: 2 bytes of TTL, then up to 16 bytes of context that PONG echoes */
    size_t ctx = arg_len > 2 ? arg_len - 2 : 0;
    if (ctx > 16)
        ctx = 16;
    size_t n = rpc_zmtp_header(out, 5 + ctx, false, true);
    memcpy(out + n, "\x04PONG", 5);
    if (ctx > 0)
        memcpy(out + n + 5, arg + 2, ctx);
    return n + 5 + ctx;
}

const char *rpc_zmtp_status_text(int status)
{
    switch (status) {
    case RPC_ZMTP_E_GREETING:
        return "not a ZMTP 3 greeting with the NULL mechanism";
    case RPC_ZMTP_E_HANDSHAKE:
        return "no valid READY, or a socket type that cannot talk to this one";
    case RPC_ZMTP_E_FRAMING:
        return "malformed frame";
    case RPC_ZMTP_E_MESSAGE:
        return "message over the frame or byte limit";
    case RPC_ZMTP_E_NOMEM:
        return "out of memory";
    default:
        return "ok";
    }
}
