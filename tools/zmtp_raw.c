/* zmtp_raw.c - a raw ZMTP 3 client (NULL, or CURVE step by step) over a plain TCP socket */
#include "zmtp_raw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "crypto.h"
#include "crypto_curve.h"

int zmtp_raw_write(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int zmtp_raw_read(int fd, uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t r = recv(fd, p, len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int zmtp_raw_connect(const char *url, int rcvbuf, int send_timeout_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char host[64];
    unsigned port;
    if (sscanf(url, "tcp://%63[^:]:%u", host, &port) != 2 ||
        inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    a.sin_port = htons((uint16_t)port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {send_timeout_ms / 1000, (send_timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int zmtp_raw_open(const char *url, const char *type, int rcvbuf, int send_timeout_ms)
{
    uint8_t g[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L'};
    uint8_t ready[64], head[66], body[256];
    size_t tl = strlen(type), n = 0;
    if (tl > 32)
        return -1;
    int fd = zmtp_raw_connect(url, rcvbuf, send_timeout_ms);
    if (fd < 0)
        return -1;
    ready[n++] = 0x04; /* a short command: READY with its Socket-Type property */
    ready[n++] = (uint8_t)(1 + 5 + 1 + 11 + 4 + tl);
    memcpy(ready + n, "\x05READY\x0bSocket-Type\0\0\0", 21);
    n += 21;
    ready[n++] = (uint8_t)tl;
    memcpy(ready + n, type, tl);
    n += tl;
    if (zmtp_raw_write(fd, g, sizeof g) != 0 || zmtp_raw_write(fd, ready, n) != 0 ||
        zmtp_raw_read(fd, head, sizeof head) != 0 || head[0] != 0xff || head[64] != 0x04 ||
        zmtp_raw_read(fd, body, head[65]) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- CURVE ------------------------------------------------------------------------------- */

static void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* A nonce: prefix (16 or 8 bytes) and the rest (8 or 16). */
static void nonce24(uint8_t out[24], const char *prefix, size_t plen, const uint8_t *rest)
{
    memcpy(out, prefix, plen);
    memcpy(out + plen, rest, 24 - plen);
}

/* A command header for a body of n bytes. Returns: its length. */
static size_t command_header(uint8_t *out, size_t n)
{
    if (n <= 255) {
        out[0] = 0x04, out[1] = (uint8_t)n;
        return 2;
    }
    out[0] = 0x06;
    be64_put(out + 1, n);
    return 9;
}

int zmtp_raw_curve_init(zmtp_raw_curve *c, const uint8_t server_key[32],
                        const uint8_t public_key[32], const uint8_t secret_key[32])
{
    memset(c, 0, sizeof *c);
    memcpy(c->server_key, server_key, 32);
    memcpy(c->public_key, public_key, 32);
    memcpy(c->secret_key, secret_key, 32);
    c->nonce = 1;
    return crypto_curve_keypair(c->cn_public, c->cn_secret);
}

void zmtp_raw_greeting(uint8_t out[64], const char *mechanism)
{
    memset(out, 0, 64);
    out[0] = 0xff, out[8] = 1, out[9] = 0x7f, out[10] = 3, out[11] = 1;
    memcpy(out + 12, mechanism, strlen(mechanism) < 20 ? strlen(mechanism) : 20);
}

size_t zmtp_raw_curve_hello(zmtp_raw_curve *c, uint8_t out[202])
{
    static const uint8_t zeros[64];
    uint8_t nonce[24], shared[32], *h = out + 2;
    out[0] = 0x04, out[1] = 200;
    memset(h, 0, 200);
    memcpy(h, "\x05HELLO\x01\x00", 8);
    memcpy(h + 80, c->cn_public, 32);
    be64_put(h + 112, c->nonce++);
    nonce24(nonce, "CurveZMQHELLO---", 16, h + 112);
    if (crypto_curve_shared(shared, c->server_key, c->cn_secret) != 0 ||
        crypto_curve_seal(h + 120, zeros, 64, nonce, shared) != 0)
        return 0;
    crypto_wipe(shared, sizeof shared);
    return 202;
}

int zmtp_raw_curve_welcome(zmtp_raw_curve *c, const uint8_t *body, size_t n)
{
    uint8_t nonce[24], shared[32], plain[128];
    if (n != 168 || memcmp(body, "\x07WELCOME", 8) != 0)
        return -1;
    nonce24(nonce, "WELCOME-", 8, body + 8);
    int rc = crypto_curve_shared(shared, c->server_key, c->cn_secret) == 0 &&
                     crypto_curve_open(plain, body + 24, 144, nonce, shared) == 0
                 ? 0
                 : -1;
    crypto_wipe(shared, sizeof shared);
    if (rc != 0)
        return -1;
    memcpy(c->cn_server, plain, 32);
    memcpy(c->cookie, plain + 32, 96);
    return crypto_curve_shared(c->shared, c->cn_server, c->cn_secret);
}

/* The vouch [C', S] from C to S'. Returns: 0 or -1. */
static int vouch_make(const zmtp_raw_curve *c, uint8_t out[96])
{
    uint8_t nonce[24], shared[32], plain[64];
    if (crypto_curve_random(out, 16) != 0)
        return -1;
    nonce24(nonce, "VOUCH---", 8, out);
    memcpy(plain, c->cn_public, 32);
    memcpy(plain + 32, c->server_key, 32);
    int rc = crypto_curve_shared(shared, c->cn_server, c->secret_key) == 0 &&
                     crypto_curve_seal(out + 16, plain, 64, nonce, shared) == 0
                 ? 0
                 : -1;
    crypto_wipe(shared, sizeof shared);
    return rc;
}

size_t zmtp_raw_curve_initiate(zmtp_raw_curve *c, uint8_t *out, size_t cap, const char *type)
{
    uint8_t plain[256], nonce[24];
    size_t tl = strlen(type), pl = 32 + 96;
    if (tl > 64 || cap < 9 + 113 + 16 + pl + 16 + tl)
        return 0;
    memcpy(plain, c->public_key, 32);
    if (vouch_make(c, plain + 32) != 0)
        return 0;
    plain[pl++] = 11;
    memcpy(plain + pl, "Socket-Type", 11);
    pl += 11;
    memset(plain + pl, 0, 4); /* the value's length, 4 bytes */
    plain[pl + 3] = (uint8_t)tl;
    pl += 4;
    memcpy(plain + pl, type, tl);
    pl += tl;
    size_t body = 113 + 16 + pl, h = command_header(out, body);
    uint8_t *b = out + h;
    memcpy(b, "\x08INITIATE", 9);
    memcpy(b + 9, c->cookie, 96);
    be64_put(b + 105, c->nonce++);
    nonce24(nonce, "CurveZMQINITIATE", 16, b + 105);
    if (crypto_curve_seal(b + 113, plain, pl, nonce, c->shared) != 0)
        return 0;
    return h + body;
}

int zmtp_raw_curve_ready(zmtp_raw_curve *c, const uint8_t *body, size_t n)
{
    uint8_t nonce[24], plain[256];
    if (n < 30 || n - 30 > sizeof plain || memcmp(body, "\x05READY", 6) != 0)
        return -1;
    nonce24(nonce, "CurveZMQREADY---", 16, body + 6);
    if (crypto_curve_open(plain, body + 14, n - 14, nonce, c->shared) != 0)
        return -1;
    c->peer_nonce = be64_get(body + 6);
    return 0;
}

size_t zmtp_raw_curve_message(zmtp_raw_curve *c, uint8_t *out, size_t cap, const void *data,
                              size_t len, bool more, bool command, uint64_t nonce_value)
{
    uint8_t nonce[24];
    size_t body = len + ZMTP_RAW_CURVE_OVERHEAD;
    if (cap < body + 9)
        return 0;
    size_t h = command_header(out, body);
    out[0] &= (uint8_t)~0x04; /* a MESSAGE travels as a frame of a message, as from libzmq */
    uint8_t *m = out + h;
    memcpy(m, "\x07MESSAGE", 8);
    be64_put(m + 8, nonce_value != 0 ? nonce_value : c->nonce++);
    nonce24(nonce, "CurveZMQMESSAGEC", 16, m + 8);
    m[32] = (uint8_t)((more ? 1 : 0) | (command ? 2 : 0));
    if (len > 0)
        memcpy(m + 33, data, len);
    if (crypto_curve_seal(m + 16, m + 32, len + 1, nonce, c->shared) != 0)
        return 0;
    return h + body;
}

int zmtp_raw_curve_open(zmtp_raw_curve *c, const uint8_t *body, size_t n, uint8_t *out, size_t cap,
                        size_t *len, uint8_t *flags)
{
    uint8_t nonce[24];
    if (n < ZMTP_RAW_CURVE_OVERHEAD || n - 32 > cap || memcmp(body, "\x07MESSAGE", 8) != 0 ||
        be64_get(body + 8) <= c->peer_nonce)
        return -1;
    nonce24(nonce, "CurveZMQMESSAGES", 16, body + 8);
    if (crypto_curve_open(out, body + 16, n - 16, nonce, c->shared) != 0)
        return -1;
    c->peer_nonce = be64_get(body + 8);
    *flags = out[0];
    *len = n - ZMTP_RAW_CURVE_OVERHEAD;
    memmove(out, out + 1, *len);
    return 0;
}

int zmtp_raw_read_frame(int fd, uint8_t *body, size_t cap, size_t *n, bool *command)
{
    uint8_t h[9];
    if (zmtp_raw_read(fd, h, 2) != 0)
        return -1;
    uint64_t size = h[1];
    if (h[0] & 0x02) {
        if (zmtp_raw_read(fd, h + 2, 7) != 0)
            return -1;
        size = be64_get(h + 1);
    }
    if (size > cap || zmtp_raw_read(fd, body, (size_t)size) != 0)
        return -1;
    *n = (size_t)size;
    *command = (h[0] & 0x04) != 0;
    return 0;
}

int zmtp_raw_curve_connect(const char *url, const char *type, zmtp_raw_curve *c,
                           int send_timeout_ms)
{
    uint8_t g[64], buf[1024];
    size_t n;
    bool command;
    int fd = zmtp_raw_connect(url, 0, send_timeout_ms);
    if (fd < 0)
        return -1;
    zmtp_raw_greeting(g, "CURVE");
    size_t hl = zmtp_raw_curve_hello(c, buf);
    if (hl == 0 || zmtp_raw_write(fd, g, 64) != 0 || zmtp_raw_write(fd, buf, hl) != 0 ||
        zmtp_raw_read(fd, g, 64) != 0 ||
        zmtp_raw_read_frame(fd, buf, sizeof buf, &n, &command) != 0 ||
        zmtp_raw_curve_welcome(c, buf, n) != 0 ||
        (hl = zmtp_raw_curve_initiate(c, buf, sizeof buf, type)) == 0 ||
        zmtp_raw_write(fd, buf, hl) != 0 ||
        zmtp_raw_read_frame(fd, buf, sizeof buf, &n, &command) != 0 ||
        zmtp_raw_curve_ready(c, buf, n) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}
