/* rpc_zmtp.h - the server side of ZMTP 3 (ZeroMQ's wire protocol) as bytes: hello, frames */
#ifndef LSTD_RPC_ZMTP_H
#define LSTD_RPC_ZMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* lstd reads ZMTP itself (rpc_net.c) instead of leaving it to a libzmq ROUTER or PUB, which
 * hold every frame of a multipart message and every subscription a peer sends, without bound.
 * Here each frame is taken as it arrives and only what is kept is stored: a frame body up to
 * a limit, the first RPC_ZMTP_PREFIX bytes of a longer one. ZMTP 3.0 / 3.1 peers are served, as
 * libzmq 4.x and its bindings are, with the NULL mechanism or, when the endpoint has a secret
 * key, with CURVE only (RFC 26, CurveZMQ; rpc_zmtp_curve.c): HELLO, WELCOME, INITIATE, READY,
 * then every frame boxed in a MESSAGE (which libzmq sends as a frame of a message, flags 0).
 * PLAIN is never served. */

#define RPC_ZMTP_GREETING_BYTES 64
/* lstd sends the first bytes of its greeting (signature and major version) at once and the
 * rest (its mechanism; under NULL also READY) only once the peer's greeting has come whole: a
 * libzmq peer sends all of its greeting on seeing the major version, so a peer of the other
 * mechanism shows itself (and is counted) instead of hanging up when it reads ours. */
#define RPC_ZMTP_GREETING_SPLIT 11
#define RPC_ZMTP_HELLO_MAX 96     /* our greeting and READY command */
#define RPC_ZMTP_HEADER_MAX 9     /* a frame's flags byte and its 8-byte size */
#define RPC_ZMTP_COMMAND_MAX 8192 /* the largest command (a READY with metadata) taken */
#define RPC_ZMTP_PREFIX 128       /* bytes kept of a frame longer than the kept size */
#define RPC_ZMTP_PONG_MAX 32      /* a PONG command, framed */
#define RPC_ZMTP_REPLY_MAX 320    /* a CURVE handshake command lstd sends (WELCOME, READY) */
#define RPC_ZMTP_ERROR_MAX 16     /* the ERROR command refusing a CURVE client, framed */
#define RPC_ZMTP_KEY_SIZE 32      /* a CURVE public or secret key */
/* What a MESSAGE box adds to a frame's body: the command's name (8) and short nonce (8), the
 * box's MAC (16) and the flags byte inside it (1). */
#define RPC_ZMTP_CURVE_OVERHEAD 33

/* What lstd is to its peers: the request socket (a ROUTER to DEALER and REQ peers) or the
 * event socket (a PUB to SUB and XSUB peers). */
enum rpc_zmtp_role { RPC_ZMTP_ROUTER = 1, RPC_ZMTP_PUB = 2 };

/* What rpc_zmtp_next found: a frame, the end of the input, or why the peer is refused. */
enum rpc_zmtp_status {
    RPC_ZMTP_SEND = 2, /* a CURVE handshake step: write f->data (f->len bytes) to the peer */
    RPC_ZMTP_FRAME = 1,
    RPC_ZMTP_NEED = 0,
    RPC_ZMTP_E_GREETING = -1,  /* not a ZMTP 3 greeting, or not our mechanism (NULL server) */
    RPC_ZMTP_E_HANDSHAKE = -2, /* no valid READY first, or a socket type that cannot talk to ours */
    RPC_ZMTP_E_FRAMING = -3,   /* reserved flag bits, a command with MORE, a command too long */
    RPC_ZMTP_E_MESSAGE = -4,   /* a message of more frames or body bytes than the limits */
    RPC_ZMTP_E_NOMEM = -5,     /* no memory to keep a frame body */
    RPC_ZMTP_E_AUTH = -6,      /* CURVE server: a peer without CURVE, a HELLO not boxed for our
                                  key, a vouch that does not hold, a client key not allowed */
    RPC_ZMTP_E_CRYPTO = -7     /* CURVE: a box that does not open, a nonce that did not increase,
                                  a cookie that is not ours */
};

/* Whether a CURVE client's permanent public key may connect (lstd's allow-list). */
typedef bool (*rpc_zmtp_allow_fn)(void *ctx, const uint8_t client_key[RPC_ZMTP_KEY_SIZE]);

/* The CURVE side of one endpoint, shared by its connections (one thread): the server's
 * permanent key pair, the cookie keys (a fresh one every minute, the one before still
 * opening cookies made in its minute) and the authenticator. */
typedef struct rpc_zmtp_curve {
    uint8_t public_key[RPC_ZMTP_KEY_SIZE], secret_key[RPC_ZMTP_KEY_SIZE];
    uint8_t cookie_key[RPC_ZMTP_KEY_SIZE], cookie_key_before[RPC_ZMTP_KEY_SIZE];
    uint64_t cookie_minute;  /* the minute (of the clock rpc_zmtp_curve_tick is given) */
    rpc_zmtp_allow_fn allow; /* NULL: nobody is allowed */
    void *allow_ctx;
} rpc_zmtp_curve;

/* What one connection may send. */
typedef struct rpc_zmtp_limits {
    size_t frame_keep_max; /* bodies up to this are delivered whole; longer ones skipped */
    uint64_t message_max;  /* body bytes of all the frames of one message */
    unsigned frames_max;   /* frames of one message */
} rpc_zmtp_limits;

/* One frame as delivered. */
typedef struct rpc_zmtp_frame {
    const uint8_t *data; /* len bytes; valid until the next rpc_zmtp_next on this reader */
    size_t len;          /* the body, or the first RPC_ZMTP_PREFIX bytes of a skipped one */
    uint64_t size;       /* the body's size as sent */
    bool skipped;        /* size > the kept size: data holds only its prefix */
    bool more;           /* another frame of the same message follows */
    bool command;        /* a ZMTP command (PING, SUBSCRIBE, ...), not part of a message */
    unsigned index;      /* the frame's place in its message, 0 first */
} rpc_zmtp_frame;

/* The reading side of one connection, and under CURVE its session (the writing side's nonce
 * too: rpc_zmtp_put_frame). */
typedef struct rpc_zmtp_in {
    int role;
    rpc_zmtp_limits lim;
    const rpc_zmtp_curve *curve; /* NULL: the NULL mechanism */
    int state;
    uint8_t head[RPC_ZMTP_GREETING_BYTES]; /* the greeting, then a frame's size bytes */
    size_t head_have;
    uint8_t flags;
    uint64_t size, have; /* the current body: as sent, received so far */
    bool ready;          /* the peer's READY has come (CURVE: INITIATE, READY sent) */
    bool greeted;        /* the rest of our greeting went out */
    bool skip;
    unsigned frame_index;
    uint64_t message_bytes;
    uint8_t *buf; /* a body received in pieces (at most the kept size), or a box's contents */
    size_t buf_cap;
    /* CURVE: the session (rpc_zmtp_curve.c) */
    int cstate;
    uint8_t cn_client[RPC_ZMTP_KEY_SIZE];  /* C': the client's transient public key */
    uint8_t cn_secret[RPC_ZMTP_KEY_SIZE];  /* s': ours, until INITIATE */
    uint8_t cn_shared[RPC_ZMTP_KEY_SIZE];  /* C' and s' precomputed: every MESSAGE box */
    uint8_t client_key[RPC_ZMTP_KEY_SIZE]; /* C: the client's permanent key, once ready */
    uint64_t nonce_in, nonce_out;          /* the last short nonce received; the next sent */
    uint8_t reply[RPC_ZMTP_REPLY_MAX];     /* WELCOME or READY, framed */
} rpc_zmtp_in;

/** Set up the CURVE side of an endpoint: secret_key is its permanent secret key (the public key
 *  is derived), allow decides who may connect (NULL: nobody), now_ms starts the cookie clock.
 *  Out: *c. Returns: 0, or -1 (the random source or libsodium failed). */
int rpc_zmtp_curve_init(rpc_zmtp_curve *c, const uint8_t secret_key[RPC_ZMTP_KEY_SIZE],
                        rpc_zmtp_allow_fn allow, void *allow_ctx, uint64_t now_ms)
    __attribute__((warn_unused_result));

/** Move the cookie keys on when a new minute of now_ms has begun (call every turn). */
void rpc_zmtp_curve_tick(rpc_zmtp_curve *c, uint64_t now_ms);

/** Wipe the keys of c. */
void rpc_zmtp_curve_wipe(rpc_zmtp_curve *c);

/** Write our greeting (ZMTP 3.1, NULL mechanism) and READY (Socket-Type ROUTER or PUB) into
 *  out, what lstd sends first on every connection. Returns: the number of bytes. */
size_t rpc_zmtp_hello(uint8_t out[RPC_ZMTP_HELLO_MAX], int role);

/** Write what lstd sends first on a connection read by in: its greeting's first
 *  RPC_ZMTP_GREETING_SPLIT bytes. The rest (the mechanism, NULL or CURVE with as-server 1, and
 *  under NULL the READY of rpc_zmtp_hello) comes from rpc_zmtp_next as a SEND once the peer's
 *  greeting is good; under CURVE READY follows the client's INITIATE. Returns: the bytes. */
size_t rpc_zmtp_greet(const rpc_zmtp_in *in, uint8_t out[RPC_ZMTP_HELLO_MAX]);

/** Write the header of a frame of size bytes. Returns: its length (2 or 9). */
size_t rpc_zmtp_header(uint8_t out[RPC_ZMTP_HEADER_MAX], uint64_t size, bool more, bool command);

/** Start reading a connection of role (enum rpc_zmtp_role) under lim, with the NULL mechanism
 *  (curve NULL) or CURVE (curve outlives in). */
void rpc_zmtp_in_init(rpc_zmtp_in *in, int role, const rpc_zmtp_limits *lim,
                      const rpc_zmtp_curve *curve);

/** Release what in holds and wipe its session keys (it may be initialised again). */
void rpc_zmtp_in_free(rpc_zmtp_in *in);

/** Consume bytes from *data (*len of them) up to the end of the next frame after the
 *  handshake: the greeting and the READY command are checked here and not delivered.
 *  Out: *f; *data and *len advanced past what was consumed.
 *  Returns: RPC_ZMTP_FRAME (*f set), RPC_ZMTP_SEND (f->data, f->len are handshake bytes to
 *  write to the peer now, valid until the next call: the rest of the greeting, WELCOME, READY),
 * RPC_ZMTP_NEED (all consumed, no frame yet), or an RPC_ZMTP_E_* code: the peer breaks the protocol
 * or the limits and is to be dropped (the reader then stays in error). A body over frame_keep_max
 * is never stored whole; a message over message_max or frames_max fails at the header that crosses
 * the limit, before its body is read. Under CURVE a MESSAGE box is opened whole, so a box larger
 * than RPC_ZMTP_CURVE_OVERHEAD + rpc_zmtp_box_max fails at its header (E_MESSAGE); the frame in it
 *  is then held to frame_keep_max (delivered skipped beyond), message_max and frames_max as a
 *  frame of the NULL mechanism is. */
int rpc_zmtp_next(rpc_zmtp_in *in, const uint8_t **data, size_t *len, rpc_zmtp_frame *f);

/** Returns: the largest frame body a MESSAGE box may hold under lim: the larger of
 *  frame_keep_max and RPC_ZMTP_COMMAND_MAX (a subscription or PING travels boxed too). */
size_t rpc_zmtp_box_max(const rpc_zmtp_limits *lim);

/** Returns: the bytes one outgoing frame of len bytes takes on the wire on in's connection:
 *  its header and body, or under CURVE its MESSAGE command. */
size_t rpc_zmtp_frame_bytes(const rpc_zmtp_in *in, size_t len);

/** Write one outgoing frame (its header and body; under CURVE a MESSAGE command boxing the
 *  flags and body with the next nonce) into out, rpc_zmtp_frame_bytes(in, len) bytes.
 *  Returns: the bytes written, or 0 when nothing can be sent yet (CURVE, before READY) or the
 *  box could not be sealed. */
size_t rpc_zmtp_put_frame(rpc_zmtp_in *in, uint8_t *out, const void *data, size_t len, bool more,
                          bool command);

/** The ERROR command (framed) a CURVE server sends a client it refuses: reason "400", the
 *  ZAP status a libzmq client reports as ZMQ_EVENT_HANDSHAKE_FAILED_AUTH. Returns: its length. */
size_t rpc_zmtp_error(uint8_t out[RPC_ZMTP_ERROR_MAX]);

/** What to write to a peer refused with status (an RPC_ZMTP_E_* code) before closing, so that
 *  libzmq reports why instead of reconnecting: the rest of our greeting when it has not gone
 *  out (the peer then sees the mechanism it does not share), else for E_AUTH the ERROR of
 *  rpc_zmtp_error. Out: out. Returns: its length (0: nothing). */
size_t rpc_zmtp_refusal(const rpc_zmtp_in *in, int status, uint8_t out[RPC_ZMTP_REPLY_MAX]);

/** Whether f is the command `name` ("PING", "SUBSCRIBE"). Out: *arg, *arg_len (the bytes
 *  after the name). Returns: true when it is. */
bool rpc_zmtp_command_is(const rpc_zmtp_frame *f, const char *name, const uint8_t **arg,
                         size_t *arg_len);

/** The framed PONG answering a PING whose bytes after the name are arg (TTL, context).
 *  Returns: its length. */
size_t rpc_zmtp_pong(uint8_t out[RPC_ZMTP_PONG_MAX], const uint8_t *arg, size_t arg_len);

/** The PONG's body alone (for rpc_zmtp_put_frame). Returns: its length. */
size_t rpc_zmtp_pong_body(uint8_t out[RPC_ZMTP_PONG_MAX], const uint8_t *arg, size_t arg_len);

/** Returns: a short static description of an rpc_zmtp_status. */
const char *rpc_zmtp_status_text(int status);

#endif
