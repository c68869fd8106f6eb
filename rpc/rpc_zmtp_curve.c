/* rpc_zmtp_curve.c - CurveZMQ server side (RFC 26): the handshake and MESSAGE boxes */
#include <string.h>

#include "crypto.h"
#include "crypto_curve.h"
#include "rpc_zmtp_curve.h"

/* The handshake (the reader's cstate), after the greeting. */
enum { C_HELLO = 0, C_INITIATE, C_READY };

#define KEY RPC_ZMTP_KEY_SIZE
#define MAC CRYPTO_CURVE_MAC_SIZE
#define HELLO_BYTES 200     /* name 6, version 2, padding 72, C' 32, nonce 8, box 80 */
#define WELCOME_BYTES 168   /* name 8, nonce 16, box [S' 32, cookie 96] 144 */
#define COOKIE_BYTES 96     /* nonce 16, secret box [C' 32, s' 32] 80 */
#define INITIATE_MIN 257    /* name 9, cookie 96, nonce 8, box [C 32, vouch 96, metadata] */
#define INITIATE_BOX_AT 113 /* where the box starts */
#define VOUCH_BYTES 96      /* nonce 16, box [C' 32, S 32] 80 */
#define MINUTE_MS 60000u
#define MESSAGE_HEAD 16 /* "\x07MESSAGE" and the short nonce */

_Static_assert(RPC_ZMTP_KEY_SIZE == CRYPTO_CURVE_KEY_SIZE, "key sizes");
_Static_assert(RPC_ZMTP_CURVE_OVERHEAD == MESSAGE_HEAD + MAC + 1, "box overhead");

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* A full nonce: a 16-byte prefix and an 8-byte short nonce, or an 8-byte prefix and 16 bytes. */
static void nonce_make(uint8_t out[CRYPTO_CURVE_NONCE_SIZE], const char *prefix, size_t plen,
                       const uint8_t *rest)
{
    memcpy(out, prefix, plen);
    memcpy(out + plen, rest, CRYPTO_CURVE_NONCE_SIZE - plen);
}

/* ---- the endpoint ------------------------------------------------------------------------ */

int rpc_zmtp_curve_init(rpc_zmtp_curve *c, const uint8_t secret_key[RPC_ZMTP_KEY_SIZE],
                        rpc_zmtp_allow_fn allow, void *allow_ctx, uint64_t now_ms)
{
    memset(c, 0, sizeof *c);
    memcpy(c->secret_key, secret_key, KEY);
    c->allow = allow;
    c->allow_ctx = allow_ctx;
    c->cookie_minute = now_ms / MINUTE_MS;
    if (crypto_curve_public(c->public_key, c->secret_key) != 0 ||
        crypto_curve_random(c->cookie_key, KEY) != 0 ||
        crypto_curve_random(c->cookie_key_before, KEY) != 0) {
        rpc_zmtp_curve_wipe(c);
        return -1;
    }
    return 0;
}

void rpc_zmtp_curve_tick(rpc_zmtp_curve *c, uint64_t now_ms)
{
    uint64_t minute = now_ms / MINUTE_MS;
    if (minute == c->cookie_minute)
        return;
    if (minute == c->cookie_minute + 1) /* the key before opens cookies of the last minute */
        memcpy(c->cookie_key_before, c->cookie_key, KEY);
    else if (crypto_curve_random(c->cookie_key_before, KEY) != 0)
        return; /* cannot happen once libsodium has started; the keys stay as they were */
    if (crypto_curve_random(c->cookie_key, KEY) != 0)
        return;
    c->cookie_minute = minute;
}

void rpc_zmtp_curve_wipe(rpc_zmtp_curve *c)
{
    crypto_wipe(c, sizeof *c);
}

/* ---- HELLO and WELCOME ------------------------------------------------------------------- */

/* The cookie: [C', s'] sealed with this minute's cookie key. Returns: 0 or -1. */
static int cookie_make(const rpc_zmtp_in *in, uint8_t out[COOKIE_BYTES])
{
    uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE], plain[2 * KEY];
    if (crypto_curve_random(out, 16) != 0)
        return -1;
    nonce_make(nonce, "COOKIE--", 8, out);
    memcpy(plain, in->cn_client, KEY);
    memcpy(plain + KEY, in->cn_secret, KEY);
    int rc = crypto_curve_secret_seal(out + 16, plain, sizeof plain, nonce, in->curve->cookie_key);
    crypto_wipe(plain, sizeof plain);
    return rc;
}

/* WELCOME: [S', cookie] boxed from our permanent key to C', framed into in->reply.
 * Returns: its framed length, or 0 when it could not be made. */
static size_t welcome_make(rpc_zmtp_in *in, const uint8_t cn_public[KEY], const uint8_t shared[KEY])
{
    uint8_t *w = in->reply + 2, plain[KEY + COOKIE_BYTES], nonce[CRYPTO_CURVE_NONCE_SIZE];
    size_t n = rpc_zmtp_header(in->reply, WELCOME_BYTES, false, true);
    memcpy(w, "\x07WELCOME", 8);
    memcpy(plain, cn_public, KEY);
    if (n != 2 || crypto_curve_random(w + 8, 16) != 0 || cookie_make(in, plain + KEY) != 0)
        return 0;
    nonce_make(nonce, "WELCOME-", 8, w + 8);
    if (crypto_curve_seal(w + 24, plain, sizeof plain, nonce, shared) != 0)
        return 0;
    return n + WELCOME_BYTES;
}

/* HELLO: C' and a box of 64 zero bytes from C' to our permanent key, which shows the client
 * knows it. Answered with WELCOME and a fresh transient key pair. Returns: SEND or an error. */
static int on_hello(rpc_zmtp_in *in, const uint8_t *b, size_t n, rpc_zmtp_frame *f)
{
    static const uint8_t zeros[64];
    uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE], shared[KEY], sig[64], cn_public[KEY];
    if (n != HELLO_BYTES || memcmp(b, "\x05HELLO", 6) != 0 || b[6] != 1 || b[7] != 0)
        return RPC_ZMTP_E_HANDSHAKE;
    memcpy(in->cn_client, b + 80, KEY);
    nonce_make(nonce, "CurveZMQHELLO---", 16, b + 112);
    if (crypto_curve_shared(shared, in->cn_client, in->curve->secret_key) != 0 ||
        crypto_curve_open(sig, b + 120, 64 + MAC, nonce, shared) != 0 ||
        memcmp(sig, zeros, 64) != 0) {
        crypto_wipe(shared, sizeof shared);
        return RPC_ZMTP_E_AUTH; /* not boxed for our key: the client does not know this server */
    }
    in->nonce_in = get_be64(b + 112);
    size_t len = crypto_curve_keypair(cn_public, in->cn_secret) == 0
                     ? welcome_make(in, cn_public, shared)
                     : 0;
    crypto_wipe(shared, sizeof shared);
    if (len == 0)
        return RPC_ZMTP_E_CRYPTO;
    in->cstate = C_INITIATE;
    f->data = in->reply;
    f->len = len;
    return RPC_ZMTP_SEND;
}

/* ---- INITIATE and READY ------------------------------------------------------------------ */

/* The cookie sent back must be one we made for this connection, this minute or the last.
 * Returns: 0 or E_CRYPTO. */
static int cookie_check(const rpc_zmtp_in *in, const uint8_t cookie[COOKIE_BYTES])
{
    uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE], plain[2 * KEY];
    nonce_make(nonce, "COOKIE--", 8, cookie);
    int rc = crypto_curve_secret_open(plain, cookie + 16, 2 * KEY + MAC, nonce,
                                      in->curve->cookie_key) == 0 ||
                     crypto_curve_secret_open(plain, cookie + 16, 2 * KEY + MAC, nonce,
                                              in->curve->cookie_key_before) == 0
                 ? 0
                 : -1;
    if (rc == 0 && (!crypto_curve_equal(plain, in->cn_client, KEY) ||
                    !crypto_curve_equal(plain + KEY, in->cn_secret, KEY)))
        rc = -1;
    crypto_wipe(plain, sizeof plain);
    return rc == 0 ? 0 : RPC_ZMTP_E_CRYPTO;
}

/* The vouch: [C', S] boxed from the client's permanent key C to S', so the holder of C made
 * this session. Returns: 0 or E_AUTH. */
static int vouch_check(const rpc_zmtp_in *in, const uint8_t client_key[KEY],
                       const uint8_t vouch[VOUCH_BYTES])
{
    uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE], shared[KEY], plain[2 * KEY];
    nonce_make(nonce, "VOUCH---", 8, vouch);
    int rc = crypto_curve_shared(shared, client_key, in->cn_secret) == 0 &&
                     crypto_curve_open(plain, vouch + 16, 2 * KEY + MAC, nonce, shared) == 0 &&
                     crypto_curve_equal(plain, in->cn_client, KEY) &&
                     crypto_curve_equal(plain + KEY, in->curve->public_key, KEY)
                 ? 0
                 : RPC_ZMTP_E_AUTH;
    crypto_wipe(shared, sizeof shared);
    return rc;
}

/* READY: our metadata boxed from S' to C' with the first of our short nonces, framed into
 * in->reply. Returns: its length, or 0. */
static size_t ready_make(rpc_zmtp_in *in)
{
    uint8_t props[RPC_ZMTP_PROPS_MAX], nonce[CRYPTO_CURVE_NONCE_SIZE], shortn[8];
    size_t pl = rpc_zmtp_props_put(props, in->role), body = 6 + 8 + MAC + pl;
    size_t n = rpc_zmtp_header(in->reply, body, false, true);
    uint8_t *r = in->reply + n;
    put_be64(shortn, in->nonce_out++);
    memcpy(r, "\x05READY", 6);
    memcpy(r + 6, shortn, 8);
    nonce_make(nonce, "CurveZMQREADY---", 16, shortn);
    if (crypto_curve_seal(r + 14, props, pl, nonce, in->cn_shared) != 0)
        return 0;
    return n + body;
}

/* The INITIATE box opened: C, the vouch, the client's metadata. Returns: 0 or an error. */
static int initiate_contents(rpc_zmtp_in *in, const uint8_t *plain, size_t n)
{
    int rc = vouch_check(in, plain, plain + KEY);
    if (rc != 0)
        return rc;
    if (!rpc_zmtp_props_ok(in->role, plain + KEY + VOUCH_BYTES, n - KEY - VOUCH_BYTES))
        return RPC_ZMTP_E_HANDSHAKE;
    if (in->curve->allow == NULL || !in->curve->allow(in->curve->allow_ctx, plain))
        return RPC_ZMTP_E_AUTH; /* a key not in the allow-list, or no list: nobody */
    memcpy(in->client_key, plain, KEY);
    return 0;
}

/* INITIATE: our cookie back, then [C, vouch, metadata] boxed from C' to S'. The client is
 * then who C says, if C is allowed: answered with READY. Returns: SEND or an error. */
static int on_initiate(rpc_zmtp_in *in, const uint8_t *b, size_t n, rpc_zmtp_frame *f)
{
    uint8_t plain[RPC_ZMTP_COMMAND_MAX], nonce[CRYPTO_CURVE_NONCE_SIZE];
    if (n < INITIATE_MIN || n > RPC_ZMTP_COMMAND_MAX || memcmp(b, "\x08INITIATE", 9) != 0)
        return RPC_ZMTP_E_HANDSHAKE;
    int rc = cookie_check(in, b + 9);
    if (rc != 0)
        return rc;
    uint64_t shortn = get_be64(b + 105);
    if (shortn <= in->nonce_in)
        return RPC_ZMTP_E_CRYPTO;
    size_t box = n - INITIATE_BOX_AT;
    nonce_make(nonce, "CurveZMQINITIATE", 16, b + 105);
    if (crypto_curve_shared(in->cn_shared, in->cn_client, in->cn_secret) != 0 ||
        crypto_curve_open(plain, b + INITIATE_BOX_AT, box, nonce, in->cn_shared) != 0)
        return RPC_ZMTP_E_CRYPTO;
    if ((rc = initiate_contents(in, plain, box - MAC)) != 0)
        return rc;
    in->nonce_in = shortn;
    in->nonce_out = 1;
    crypto_wipe(in->cn_secret, KEY); /* the session key is all that is needed from now on */
    size_t len = ready_make(in);
    if (len == 0)
        return RPC_ZMTP_E_CRYPTO;
    in->cstate = C_READY;
    in->ready = true;
    f->data = in->reply;
    f->len = len;
    return RPC_ZMTP_SEND;
}

/* ---- MESSAGE ----------------------------------------------------------------------------- */

/* A MESSAGE (sent as a frame of a message, not as a command, as libzmq does; either is taken):
 * a short nonce above every one before, a box [flags, body] from C' to S'. Opened
 * into in->buf; f becomes the frame it holds. Returns: FRAME or an error. */
static int on_message(rpc_zmtp_in *in, const uint8_t *b, size_t n, rpc_zmtp_frame *f)
{
    uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE];
    if (n < RPC_ZMTP_CURVE_OVERHEAD || memcmp(b, "\x07MESSAGE", 8) != 0)
        return RPC_ZMTP_E_FRAMING;
    uint64_t shortn = get_be64(b + 8);
    if (shortn <= in->nonce_in)
        return RPC_ZMTP_E_CRYPTO; /* replayed, reordered or the counter wrapped */
    size_t plain = n - MESSAGE_HEAD - MAC;
    if (rpc_zmtp_buf_reserve(in, plain) != 0)
        return RPC_ZMTP_E_NOMEM;
    nonce_make(nonce, "CurveZMQMESSAGEC", 16, b + 8);
    if (crypto_curve_open(in->buf, b + MESSAGE_HEAD, n - MESSAGE_HEAD, nonce, in->cn_shared) != 0)
        return RPC_ZMTP_E_CRYPTO;
    in->nonce_in = shortn;
    uint8_t flags = in->buf[0];
    f->more = (flags & 0x01) != 0;
    f->command = (flags & 0x02) != 0;
    if (f->command && f->more)
        return RPC_ZMTP_E_FRAMING;
    f->data = in->buf + 1;
    f->size = plain - 1;
    size_t keep = f->command ? RPC_ZMTP_COMMAND_MAX : in->lim.frame_keep_max;
    f->skipped = f->size > keep;
    f->len = f->skipped ? RPC_ZMTP_PREFIX : (size_t)f->size;
    f->index = 0;
    return RPC_ZMTP_FRAME;
}

int rpc_zmtp_curve_frame(rpc_zmtp_in *in, rpc_zmtp_frame *f)
{
    const uint8_t *b = f->data;
    size_t n = f->len;
    if (in->cstate != C_READY && (!f->command || f->skipped))
        return RPC_ZMTP_E_HANDSHAKE; /* handshake steps are commands */
    switch (in->cstate) {
    case C_HELLO:
        return on_hello(in, b, n, f);
    case C_INITIATE:
        return on_initiate(in, b, n, f);
    default:
        return on_message(in, b, n, f);
    }
}

/* ---- writing ----------------------------------------------------------------------------- */

size_t rpc_zmtp_put_frame(rpc_zmtp_in *in, uint8_t *out, const void *data, size_t len, bool more,
                          bool command)
{
    if (in->curve == NULL) {
        size_t h = rpc_zmtp_header(out, len, more, command);
        if (len > 0)
            memcpy(out + h, data, len);
        return h + len;
    }
    if (!in->ready)
        return 0;
    uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE];
    size_t h = rpc_zmtp_header(out, len + RPC_ZMTP_CURVE_OVERHEAD, false, false); /* as libzmq */
    uint8_t *m = out + h;
    memcpy(m, "\x07MESSAGE", 8);
    put_be64(m + 8, in->nonce_out++);
    nonce_make(nonce, "CurveZMQMESSAGES", 16, m + 8);
    m[MESSAGE_HEAD + MAC] = (uint8_t)((more ? 0x01 : 0) | (command ? 0x02 : 0));
    if (len > 0)
        memcpy(m + MESSAGE_HEAD + MAC + 1, data, len);
    if (crypto_curve_seal(m + MESSAGE_HEAD, m + MESSAGE_HEAD + MAC, len + 1, nonce,
                          in->cn_shared) != 0)
        return 0;
    return h + len + RPC_ZMTP_CURVE_OVERHEAD;
}
