/* rpc_zmtp.c - ZMTP 3 server side: greeting and READY, frames read one at a time within limits */
#include "rpc_zmtp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "rpc_zmtp_curve.h"

enum in_state { S_GREETING, S_FLAGS, S_SIZE, S_BODY, S_ERROR };

#define FLAG_MORE RPC_ZMTP_FLAG_MORE
#define FLAG_LONG RPC_ZMTP_FLAG_LONG
#define FLAG_COMMAND RPC_ZMTP_FLAG_COMMAND

static const char null_mechanism[20] = "NULL";
static const char curve_mechanism[20] = "CURVE";

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

size_t rpc_zmtp_props_put(uint8_t *out, int role)
{
    const char *type = role == RPC_ZMTP_ROUTER ? "ROUTER" : "PUB";
    size_t tl = strlen(type), n = 0;
    out[n++] = 11;
    memcpy(out + n, "Socket-Type", 11);
    n += 11;
    put_be32(out + n, (uint32_t)tl);
    n += 4;
    memcpy(out + n, type, tl);
    return n + tl;
}

/* Our greeting: ZMTP 3.1, the mechanism, as-server (CURVE: lstd is the server). */
static void greeting_put(uint8_t out[RPC_ZMTP_GREETING_BYTES], bool curve)
{
    memset(out, 0, RPC_ZMTP_GREETING_BYTES);
    out[0] = 0xff; /* signature: 0xff, 8 bytes of padding, 0x7f */
    out[8] = 1;
    out[9] = 0x7f;
    out[10] = 3; /* version 3.1 */
    out[11] = 1;
    memcpy(out + 12, curve ? curve_mechanism : null_mechanism, sizeof null_mechanism);
    out[32] = curve ? 1 : 0; /* as-server; filler zero */
}

size_t rpc_zmtp_hello(uint8_t out[RPC_ZMTP_HELLO_MAX], int role)
{
    uint8_t props[RPC_ZMTP_PROPS_MAX];
    size_t pl = rpc_zmtp_props_put(props, role), n = RPC_ZMTP_GREETING_BYTES;
    greeting_put(out, false);
    out[n++] = FLAG_COMMAND;
    out[n++] = (uint8_t)(6 + pl);
    memcpy(out + n, "\x05READY", 6);
    n += 6;
    memcpy(out + n, props, pl);
    return n + pl;
}

size_t rpc_zmtp_greet(const rpc_zmtp_in *in, uint8_t out[RPC_ZMTP_HELLO_MAX])
{
    greeting_put(out, in->curve != NULL);
    return RPC_ZMTP_GREETING_SPLIT;
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

void rpc_zmtp_in_init(rpc_zmtp_in *in, int role, const rpc_zmtp_limits *lim,
                      const rpc_zmtp_curve *curve)
{
    memset(in, 0, sizeof *in);
    in->role = role;
    in->lim = *lim;
    in->curve = curve;
    in->state = S_GREETING;
}

void rpc_zmtp_in_free(rpc_zmtp_in *in)
{
    free(in->buf);
    in->buf = NULL;
    in->buf_cap = 0;
    crypto_wipe(in->cn_secret, sizeof in->cn_secret);
    crypto_wipe(in->cn_shared, sizeof in->cn_shared);
}

int rpc_zmtp_buf_reserve(rpc_zmtp_in *in, size_t n)
{
    if (in->buf_cap >= n)
        return 0;
    uint8_t *grown = realloc(in->buf, n);
    if (grown == NULL)
        return -1;
    in->buf = grown;
    in->buf_cap = n;
    return 0;
}

size_t rpc_zmtp_box_max(const rpc_zmtp_limits *lim)
{
    return lim->frame_keep_max > RPC_ZMTP_COMMAND_MAX ? lim->frame_keep_max : RPC_ZMTP_COMMAND_MAX;
}

/* The greeting so far (head_have bytes): a fault as soon as it shows. The mechanism must be
 * ours: a peer without CURVE at a CURVE endpoint is one that did not authenticate.
 * Returns: 0, E_GREETING or E_AUTH. */
static int greeting_check(const rpc_zmtp_in *in)
{
    const uint8_t *g = in->head;
    size_t n = in->head_have;
    if ((n >= 1 && g[0] != 0xff) || (n >= 10 && (g[9] & 1) == 0) || (n >= 11 && g[10] < 3))
        return RPC_ZMTP_E_GREETING;
    const char *ours = in->curve != NULL ? curve_mechanism : null_mechanism;
    if (n == RPC_ZMTP_GREETING_BYTES && memcmp(g + 12, ours, sizeof null_mechanism) != 0)
        return in->curve != NULL ? RPC_ZMTP_E_AUTH : RPC_ZMTP_E_GREETING;
    return 0;
}

bool rpc_zmtp_props_ok(int role, const uint8_t *b, size_t n)
{
    bool typed = false;
    for (size_t p = 0; p < n;) {
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

/* A READY command's body: its name, then properties. Returns: true when it is one. */
static bool ready_ok(int role, const uint8_t *b, size_t n)
{
    return n >= 6 && b[0] == 5 && memcmp(b + 1, "READY", 5) == 0 &&
           rpc_zmtp_props_ok(role, b + 6, n - 6);
}

static int fail(rpc_zmtp_in *in, int status)
{
    in->state = S_ERROR;
    return status;
}

/* The size is complete: check it against the state and the limits, and set up the body. */
/* A CURVE connection's frame header after its handshake: one MESSAGE (libzmq sends it as a
 * frame of a message, flags 0) no larger than the largest box, which is opened whole.
 * Returns: 0 or an error. */
static int boxed_header(rpc_zmtp_in *in)
{
    if ((in->flags & FLAG_MORE) != 0) /* a box is one frame; MORE travels inside it */
        return fail(in, RPC_ZMTP_E_FRAMING);
    if (in->size > RPC_ZMTP_CURVE_OVERHEAD + rpc_zmtp_box_max(&in->lim))
        return fail(in, RPC_ZMTP_E_MESSAGE); /* never read this one */
    in->skip = false;
    in->have = 0;
    in->state = S_BODY;
    return 0;
}

static int header_done(rpc_zmtp_in *in)
{
    bool command = (in->flags & FLAG_COMMAND) != 0;
    if ((in->flags & FLAG_LONG) && in->size >> 63)
        return fail(in, RPC_ZMTP_E_FRAMING);
    if (in->curve != NULL && in->ready)
        return boxed_header(in);
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
    if (rpc_zmtp_buf_reserve(in, want) != 0)
        return RPC_ZMTP_E_NOMEM;
    memcpy(in->buf + at, p, n);
    return 0;
}

/* A frame out of a MESSAGE box, against the message limits (under the NULL mechanism its
 * header was). Returns: 0 or E_MESSAGE. */
static int boxed_limits(rpc_zmtp_in *in, const rpc_zmtp_frame *f)
{
    if (in->frame_index >= in->lim.frames_max || f->size > in->lim.message_max ||
        in->message_bytes + f->size > in->lim.message_max)
        return RPC_ZMTP_E_MESSAGE;
    in->message_bytes += f->size;
    return 0;
}

/* A CURVE connection's command, complete. Returns: as frame_done, or SEND. */
static int curve_done(rpc_zmtp_in *in, rpc_zmtp_frame *f)
{
    int rc = rpc_zmtp_curve_frame(in, f);
    if (rc < 0)
        return fail(in, rc);
    if (rc == RPC_ZMTP_FRAME && !f->command) {
        int lim = boxed_limits(in, f);
        if (lim != 0)
            return fail(in, lim);
        f->index = in->frame_index;
        in->frame_index = f->more ? in->frame_index + 1 : 0;
        if (!f->more)
            in->message_bytes = 0;
    }
    return rc;
}

/* The body is complete: describe it in f and move to the next frame. Returns: 1 (a frame to
 * deliver), 0 (the READY, consumed here), SEND (CURVE) or an error. */
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
    if (in->curve != NULL)
        return curve_done(in, f);
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

/* The greeting's bytes from the input. Returns: 0, SEND (the rest of ours, and under the NULL
 * mechanism our READY, once the peer's is complete and good), E_GREETING or E_AUTH. */
static int read_greeting(rpc_zmtp_in *in, const uint8_t **data, size_t *len, rpc_zmtp_frame *f)
{
    while (*len > 0 && in->head_have < RPC_ZMTP_GREETING_BYTES) {
        in->head[in->head_have++] = *(*data)++;
        (*len)--;
        int rc = greeting_check(in);
        if (rc != 0)
            return fail(in, rc);
    }
    if (in->head_have < RPC_ZMTP_GREETING_BYTES)
        return 0;
    in->state = S_FLAGS;
    in->head_have = 0;
    in->greeted = true;
    size_t n = RPC_ZMTP_GREETING_BYTES; /* the rest of our greeting, now that theirs is good */
    if (in->curve == NULL)
        n = rpc_zmtp_hello(in->reply, in->role); /* and READY */
    else
        greeting_put(in->reply, true);
    f->data = in->reply + RPC_ZMTP_GREETING_SPLIT;
    f->len = n - RPC_ZMTP_GREETING_SPLIT;
    return RPC_ZMTP_SEND;
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
        rc = in->state == S_GREETING ? read_greeting(in, data, len, f) : read_header(in, data, len);
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

size_t rpc_zmtp_pong_body(uint8_t out[RPC_ZMTP_PONG_MAX], const uint8_t *arg, size_t arg_len)
{
    /* PING: 2 bytes of TTL, then up to 16 bytes of context that PONG echoes */
    size_t ctx = arg_len > 2 ? arg_len - 2 : 0;
    if (ctx > 16)
        ctx = 16;
    memcpy(out, "\x04PONG", 5);
    if (ctx > 0)
        memcpy(out + 5, arg + 2, ctx);
    return 5 + ctx;
}

size_t rpc_zmtp_pong(uint8_t out[RPC_ZMTP_PONG_MAX], const uint8_t *arg, size_t arg_len)
{
    uint8_t body[RPC_ZMTP_PONG_MAX];
    size_t len = rpc_zmtp_pong_body(body, arg, arg_len);
    size_t n = rpc_zmtp_header(out, len, false, true);
    memcpy(out + n, body, len);
    return n + len;
}

size_t rpc_zmtp_error(uint8_t out[RPC_ZMTP_ERROR_MAX])
{
    static const uint8_t body[] = "\x05"
                                  "ERROR\x03"
                                  "400";
    size_t n = rpc_zmtp_header(out, sizeof body - 1, false, true);
    memcpy(out + n, body, sizeof body - 1);
    return n + sizeof body - 1;
}

size_t rpc_zmtp_refusal(const rpc_zmtp_in *in, int status, uint8_t out[RPC_ZMTP_REPLY_MAX])
{
    if (!in->greeted) {
        greeting_put(out, in->curve != NULL);
        memmove(out, out + RPC_ZMTP_GREETING_SPLIT,
                RPC_ZMTP_GREETING_BYTES - RPC_ZMTP_GREETING_SPLIT);
        return RPC_ZMTP_GREETING_BYTES - RPC_ZMTP_GREETING_SPLIT;
    }
    return status == RPC_ZMTP_E_AUTH ? rpc_zmtp_error(out) : 0;
}

size_t rpc_zmtp_frame_bytes(const rpc_zmtp_in *in, size_t len)
{
    size_t body = in->curve != NULL ? len + RPC_ZMTP_CURVE_OVERHEAD : len;
    return (body <= 255 ? 2 : 9) + body;
}

const char *rpc_zmtp_status_text(int status)
{
    switch (status) {
    case RPC_ZMTP_E_GREETING:
        return "not a ZMTP 3 greeting with this endpoint's mechanism";
    case RPC_ZMTP_E_AUTH:
        return "not authenticated: no CURVE, not our server key, or a client key not allowed";
    case RPC_ZMTP_E_CRYPTO:
        return "a CURVE box that does not open, or a nonce that did not increase";
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
