/* rpc_zmtp.h - the server side of ZMTP 3 (ZeroMQ's wire protocol) as bytes: hello, frames */
#ifndef LSTD_RPC_ZMTP_H
#define LSTD_RPC_ZMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* lstd reads ZMTP itself (rpc_net.c) instead of leaving it to a libzmq ROUTER or PUB, which
 * hold every frame of a multipart message and every subscription a peer sends, without bound.
 * Here each frame is taken as it arrives and only what is kept is stored: a frame body up to
 * a limit, the first RPC_ZMTP_PREFIX bytes of a longer one. Only the NULL mechanism (no
 * CURVE, no PLAIN) and ZMTP 3.0 / 3.1 peers are served, as libzmq 4.x and its bindings are. */

#define RPC_ZMTP_GREETING_BYTES 64
#define RPC_ZMTP_HELLO_MAX 96     /* our greeting and READY command */
#define RPC_ZMTP_HEADER_MAX 9     /* a frame's flags byte and its 8-byte size */
#define RPC_ZMTP_COMMAND_MAX 8192 /* the largest command (a READY with metadata) taken */
#define RPC_ZMTP_PREFIX 128       /* bytes kept of a frame longer than the kept size */
#define RPC_ZMTP_PONG_MAX 32      /* a PONG command, framed */

/* What lstd is to its peers: the request socket (a ROUTER to DEALER and REQ peers) or the
 * event socket (a PUB to SUB and XSUB peers). */
enum rpc_zmtp_role { RPC_ZMTP_ROUTER = 1, RPC_ZMTP_PUB = 2 };

/* What rpc_zmtp_next found: a frame, the end of the input, or why the peer is refused. */
enum rpc_zmtp_status {
    RPC_ZMTP_FRAME = 1,
    RPC_ZMTP_NEED = 0,
    RPC_ZMTP_E_GREETING = -1,  /* not a ZMTP 3 greeting offering the NULL mechanism */
    RPC_ZMTP_E_HANDSHAKE = -2, /* no valid READY first, or a socket type that cannot talk to ours */
    RPC_ZMTP_E_FRAMING = -3,   /* reserved flag bits, a command with MORE, a command too long */
    RPC_ZMTP_E_MESSAGE = -4,   /* a message of more frames or body bytes than the limits */
    RPC_ZMTP_E_NOMEM = -5      /* no memory to keep a frame body */
};

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

/* The reading side of one connection. */
typedef struct rpc_zmtp_in {
    int role;
    rpc_zmtp_limits lim;
    int state;
    uint8_t head[RPC_ZMTP_GREETING_BYTES]; /* the greeting, then a frame's size bytes */
    size_t head_have;
    uint8_t flags;
    uint64_t size, have; /* the current body: as sent, received so far */
    bool ready;          /* the peer's READY has come */
    bool skip;
    unsigned frame_index;
    uint64_t message_bytes;
    uint8_t *buf; /* a body received in pieces (at most the kept size) */
    size_t buf_cap;
} rpc_zmtp_in;

/** Write our greeting (ZMTP 3.1, NULL mechanism) and READY (Socket-Type ROUTER or PUB) into
 *  out, what lstd sends first on every connection. Returns: the number of bytes. */
size_t rpc_zmtp_hello(uint8_t out[RPC_ZMTP_HELLO_MAX], int role);

/** Write the header of a frame of size bytes. Returns: its length (2 or 9). */
size_t rpc_zmtp_header(uint8_t out[RPC_ZMTP_HEADER_MAX], uint64_t size, bool more, bool command);

/** Start reading a connection of role (enum rpc_zmtp_role) under lim. */
void rpc_zmtp_in_init(rpc_zmtp_in *in, int role, const rpc_zmtp_limits *lim);

/** Release what in holds (it may be initialised again). */
void rpc_zmtp_in_free(rpc_zmtp_in *in);

/** Consume bytes from *data (*len of them) up to the end of the next frame after the
 *  handshake: the greeting and the READY command are checked here and not delivered.
 *  Out: *f; *data and *len advanced past what was consumed.
 *  Returns: RPC_ZMTP_FRAME (*f set), RPC_ZMTP_NEED (all consumed, no frame yet), or an
 *  RPC_ZMTP_E_* code: the peer breaks the protocol or the limits and is to be dropped (the
 *  reader then stays in error). A body over frame_keep_max is never stored whole; a message
 *  over message_max or frames_max fails at the header that crosses the limit, before its body
 *  is read. */
int rpc_zmtp_next(rpc_zmtp_in *in, const uint8_t **data, size_t *len, rpc_zmtp_frame *f);

/** Whether f is the command `name` ("PING", "SUBSCRIBE"). Out: *arg, *arg_len (the bytes
 *  after the name). Returns: true when it is. */
bool rpc_zmtp_command_is(const rpc_zmtp_frame *f, const char *name, const uint8_t **arg,
                         size_t *arg_len);

/** The framed PONG answering a PING whose bytes after the name are arg (TTL, context).
 *  Returns: its length. */
size_t rpc_zmtp_pong(uint8_t out[RPC_ZMTP_PONG_MAX], const uint8_t *arg, size_t arg_len);

/** Returns: a short static description of an rpc_zmtp_status. */
const char *rpc_zmtp_status_text(int status);

#endif
