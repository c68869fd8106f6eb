/* zmtp_raw.h - a raw ZMTP 3 client over a plain TCP socket, for tests and floods that must
 * send what libzmq never would (endless MORE frames, huge topics) */
#ifndef LSTD_ZMTP_RAW_H
#define LSTD_ZMTP_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Write all of data to fd (a send timeout set on fd ends a stalled write).
 *  Returns: 0, or -1 (errno from send). */
int zmtp_raw_write(int fd, const void *data, size_t len);

/** A TCP connection to url ("tcp://IPv4:PORT"), nothing sent yet. rcvbuf, send_timeout_ms: as
 *  for zmtp_raw_open. Returns: the socket, or -1. */
int zmtp_raw_connect(const char *url, int rcvbuf, int send_timeout_ms);

/** Read exactly len bytes. Returns: 0, or -1 (closed or failed first). */
int zmtp_raw_read(int fd, uint8_t *p, size_t len);

/** Connect to url ("tcp://IPv4:PORT"), send a ZMTP 3.0 NULL greeting and READY as socket
 *  `type` ("DEALER", "SUB"), and read the peer's greeting and READY. rcvbuf: SO_RCVBUF when
 *  > 0; send_timeout_ms: SO_SNDTIMEO. Returns: the socket, or -1. */
int zmtp_raw_open(const char *url, const char *type, int rcvbuf, int send_timeout_ms);

/* ---- a CURVE client (RFC 26), step by step, for tests that break one step ---------------- */

/* One client session: its keys, the server's, and what the handshake brought. */
typedef struct zmtp_raw_curve {
    uint8_t server_key[32];                 /* S: the server's permanent public key */
    uint8_t public_key[32], secret_key[32]; /* C, c: the client's permanent keys */
    uint8_t cn_public[32], cn_secret[32];   /* C', c': this session's */
    uint8_t cn_server[32];                  /* S', from WELCOME */
    uint8_t cookie[96];                     /* from WELCOME, sent back in INITIATE */
    uint8_t shared[32];                     /* c' and S', precomputed */
    uint64_t nonce;                         /* the next short nonce to send (from 1) */
    uint64_t peer_nonce;                    /* the last one received */
} zmtp_raw_curve;

#define ZMTP_RAW_CURVE_OVERHEAD 33 /* a MESSAGE's bytes beyond its frame's body */

/** Start a session with fresh transient keys. Returns: 0 or -1. */
int zmtp_raw_curve_init(zmtp_raw_curve *c, const uint8_t server_key[32],
                        const uint8_t public_key[32], const uint8_t secret_key[32]);

/** A ZMTP 3.1 greeting offering mechanism ("CURVE", "NULL") as a client. */
void zmtp_raw_greeting(uint8_t out[64], const char *mechanism);

/** HELLO, framed (202 bytes). Returns: its length. */
size_t zmtp_raw_curve_hello(zmtp_raw_curve *c, uint8_t out[202]);

/** Take WELCOME's body (168 bytes): S' and the cookie. Returns: 0, or -1 (not a WELCOME
 *  boxed by the server's key). */
int zmtp_raw_curve_welcome(zmtp_raw_curve *c, const uint8_t *body, size_t n);

/** INITIATE (framed) with Socket-Type type, the client's vouch and its next nonce, into out
 *  (cap bytes). Returns: its length, or 0. */
size_t zmtp_raw_curve_initiate(zmtp_raw_curve *c, uint8_t *out, size_t cap, const char *type);

/** Take READY's body: its box must open with the session's key. Returns: 0 or -1. */
int zmtp_raw_curve_ready(zmtp_raw_curve *c, const uint8_t *body, size_t n);

/** One frame boxed in a MESSAGE command (framed) with short nonce `nonce` (0: the next one),
 *  into out (cap bytes). Returns: its length, or 0. */
size_t zmtp_raw_curve_message(zmtp_raw_curve *c, uint8_t *out, size_t cap, const void *data,
                              size_t len, bool more, bool command, uint64_t nonce);

/** Open the body of a MESSAGE from the server. Out: out (*len bytes), *flags (1 MORE, 2
 *  COMMAND). Returns: 0, or -1 (not a MESSAGE, a nonce that did not increase, not authentic). */
int zmtp_raw_curve_open(zmtp_raw_curve *c, const uint8_t *body, size_t n, uint8_t *out, size_t cap,
                        size_t *len, uint8_t *flags);

/** Read one frame's header and body (at most cap bytes). Out: *command, *n.
 *  Returns: 0, or -1 (closed, or longer than cap). */
int zmtp_raw_read_frame(int fd, uint8_t *body, size_t cap, size_t *n, bool *command);

/** Connect to url and go through the whole CURVE handshake as socket `type`.
 *  Returns: the socket, or -1. */
int zmtp_raw_curve_connect(const char *url, const char *type, zmtp_raw_curve *c,
                           int send_timeout_ms);

#endif
