/* rpc_net.h - a TCP endpoint serving ZeroMQ peers: accept, ZMTP handshake, frames in, bytes out */
#ifndef LSTD_RPC_NET_H
#define LSTD_RPC_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "rpc_zmtp.h"

/* lstd owns its listening sockets and connections (instead of a libzmq ROUTER or PUB), so that
 * everything a connection costs is memory lstd counts: at most RPC_NET_READ_MAX bytes read
 * from it at a time (kept only while it may not be read on), one frame body up to the limits'
 * frame_keep_max, and at most out_max bytes of output queued for it. Beyond those only the
 * kernel's socket buffers hold its bytes. One thread owns an rpc_net. */

#define RPC_NET_READ_MAX (64u * 1024u) /* bytes read from one connection per turn */
#define RPC_NET_HANDSHAKE_MS 30000     /* a connection not through its handshake by then: dropped */

typedef struct rpc_net rpc_net;

typedef struct rpc_net_config {
    int role;          /* enum rpc_zmtp_role: the socket type lstd presents */
    unsigned conn_max; /* connections at once; more are closed as they are accepted */
    size_t out_max;    /* bytes of output queued for one connection; rpc_net_send beyond fails */
    rpc_zmtp_limits limits;
    /* CURVE (rpc_zmtp.h): with a secret key every peer must be a CURVE client whose permanent
     * key `allow` accepts (NULL: none is); without one the NULL mechanism only. Whenever
     * allow_generation (may be NULL) returns another number than before, every connection
     * already authenticated is asked about again, and closed when no longer allowed. */
    const uint8_t *curve_secret_key; /* RPC_ZMTP_KEY_SIZE bytes (copied), or NULL */
    rpc_zmtp_allow_fn allow;
    uint64_t (*allow_generation)(void *allow_ctx);
    void *allow_ctx;
} rpc_net_config;

/* What the owner is told. Every callback gets the connection's slot (0..conn_max-1). */
typedef struct rpc_net_handler {
    void *ctx;
    /* A connection was accepted into slot (its greeting is queued). */
    void (*opened)(void *ctx, unsigned slot);
    /* A frame after the handshake; PING is answered here and not passed on.
     * Returns: 0 to go on, 1 to stop reading the connection while can_read says false. */
    int (*frame)(void *ctx, unsigned slot, const rpc_zmtp_frame *f);
    /* Whether the connection may be read now (NULL: always). */
    bool (*can_read)(void *ctx, unsigned slot);
    /* Its queued output is now `bytes` (after a send, a write or the close). May be NULL. */
    void (*queued)(void *ctx, unsigned slot, size_t bytes);
    /* The connection is gone (closed by the peer, by an error or by rpc_net_drop). */
    void (*closed)(void *ctx, unsigned slot);
} rpc_net_handler;

/* One frame of a message to send. */
typedef struct rpc_net_part {
    const void *data;
    size_t len;
} rpc_net_part;

/* Why lstd closed connections (counted). */
enum rpc_net_drop {
    RPC_NET_REFUSED = 0, /* accepted while conn_max were open */
    RPC_NET_PROTOCOL,    /* broke ZMTP or the limits, or no handshake in RPC_NET_HANDSHAKE_MS */
    RPC_NET_OWNER,       /* rpc_net_drop by the owner */
    RPC_NET_DROPS
};

typedef struct rpc_net_stats {
    uint64_t connections;          /* open now */
    uint64_t drops[RPC_NET_DROPS]; /* since bind */
    uint64_t messages_lost;        /* since bind: sent messages not written whole before their
                                      connection closed (the peer cannot have read them) */
    uint64_t auth_failures;        /* CURVE: refused at the handshake (also in drops[PROTOCOL]),
                                      or closed when their key left the allow-list */
} rpc_net_stats;

/** Listen on endpoint "tcp://HOST:PORT" (HOST: an IPv4 address, [an IPv6 address], a host
 *  name, or * for every IPv4 interface; PORT: a number, or * or 0 for any free port).
 *  Out: *out; actual (the bound endpoint, e.g. "tcp://127.0.0.1:40123").
 *  Returns: 0, or -1 with "lstd: cannot bind ENDPOINT: REASON" on stderr (*out NULL; also
 *  when CURVE cannot be set up). */
int rpc_net_bind(rpc_net **out, const char *endpoint, const rpc_net_config *cfg,
                 const rpc_net_handler *h, char *actual, size_t actual_size)
    __attribute__((warn_unused_result));

/** Stop listening, close every connection (unsent output is lost), free; *n = NULL. */
void rpc_net_close(rpc_net **n);

/** Fill items (room for conn_max + 1) for zmq_poll: the listener, and each connection that
 *  may be read (POLLIN) or has output queued (POLLOUT). Returns: the number of items. */
size_t rpc_net_poll_items(rpc_net *n, zmq_pollitem_t *items);

/** The zmq_poll timeout to use: 0 when bytes already read can be parsed now (a connection
 *  that could not be read on may be now), else idle_ms. */
long rpc_net_poll_timeout(const rpc_net *n, long idle_ms);

/** After zmq_poll on the items rpc_net_poll_items filled (count of them): accept, read and
 *  parse (the handler sees each frame), write queued output, and drop connections that have
 *  not finished their handshake within RPC_NET_HANDSHAKE_MS (call it at least every second). */
void rpc_net_service(rpc_net *n, const zmq_pollitem_t *items, size_t count);

/** Queue one message (parts are its frames, every one but the last with MORE) for slot; under
 *  CURVE each frame is boxed as it is queued. Returns: 0; -1 when it would take the queued
 *  output beyond out_max or memory ran out (nothing queued); -2 when there is no connection in
 *  slot (or, under CURVE, none through its handshake). */
int rpc_net_send(rpc_net *n, unsigned slot, const rpc_net_part *parts, size_t count);

/** Write queued output of every connection, as much as the kernel takes now. */
void rpc_net_flush(rpc_net *n);

/** Returns: bytes queued for slot (0 when there is no connection). */
size_t rpc_net_queued(const rpc_net *n, unsigned slot);

/** Returns: true while some connection has output queued. */
bool rpc_net_pending(const rpc_net *n);

/** Returns: a number naming the connection now in slot, never reused by a later one. */
uint64_t rpc_net_handle(const rpc_net *n, unsigned slot);

/** Returns: the slot of the connection handle names, or -1 when it has gone. */
int rpc_net_slot(const rpc_net *n, uint64_t handle);

/** Close the connection in slot now (counted as RPC_NET_OWNER). */
void rpc_net_drop(rpc_net *n, unsigned slot);

/** Out: *out, the current figures. */
void rpc_net_stats_get(const rpc_net *n, rpc_net_stats *out);

#endif
