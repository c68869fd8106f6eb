/* rpc_events.h - the event socket: a publisher thread, subscriptions and queues within limits */
#ifndef LSTD_RPC_EVENTS_H
#define LSTD_RPC_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* lstd publishes like a ZeroMQ PUB socket (SUB and XSUB peers, prefix subscriptions, a
 * subscriber that falls behind misses messages) but reads every subscription itself: one
 * longer than RPC_TOPIC_MAX can match nothing and is ignored, a subscriber holds at most
 * sub_topics_max, and at most sub_queue_bytes of events wait for one subscriber (the rest are
 * dropped for it, counted). */

/* Bytes of published batches waiting for the publisher thread to fan them out: a batch that
 * would take them beyond is not published (its events count as dropped). */
#define RPC_EVENTS_PIPE_MAX (32u << 20)

/* One event of a batch: its topic and then its payload, `at` bytes into the batch's bytes. */
typedef struct rpc_event {
    size_t at, topic_len, len;
} rpc_event;

typedef struct rpc_events_config {
    unsigned sub_max;        /* subscriber connections at once */
    unsigned sub_topics_max; /* subscriptions one subscriber may hold */
    size_t sub_queue_bytes;  /* bytes of events waiting for one subscriber */
    /* CURVE (rpc_net_config): the secret key (NULL: the NULL mechanism) and the allow-list */
    const uint8_t *curve_secret_key;
    void *allow; /* an rpc_curve_allow */
} rpc_events_config;

typedef struct rpc_events_stats {
    uint64_t subscribers, subscriptions;     /* now */
    uint64_t refused, protocol_drops;        /* connections closed at sub_max, for the protocol */
    uint64_t auth_failures;                  /* CURVE: refused for their key, or revoked */
    uint64_t subscriptions_ignored, dropped; /* subscriptions refused; events not sent (to one
                                                subscriber, or a batch's to all of them) */
} rpc_events_stats;

typedef struct rpc_events rpc_events;

/** Listen on endpoint for subscribers (nothing runs yet). zctx carries the publishing pipe.
 *  Out: *out; actual, the bound endpoint. Returns: 0, or -1 with a message on stderr. */
int rpc_events_bind(rpc_events **out, void *zctx, const char *endpoint,
                    const rpc_events_config *cfg, char *actual, size_t actual_size)
    __attribute__((warn_unused_result));

/** Start the publisher thread. Returns: 0 or -1. */
int rpc_events_start(rpc_events *ev) __attribute__((warn_unused_result));

/** Returns: true while some subscriber is connected (otherwise publishing is skipped). */
bool rpc_events_listened(const rpc_events *ev);

/** Publish the n events of one batch, held in bytes (copied): to every subscriber holding a
 *  prefix of each topic, in order, as two frames (topic, payload); not at all when the
 *  publisher thread has RPC_EVENTS_PIPE_MAX bytes still to fan out. One thread at a time. */
void rpc_events_publish(rpc_events *ev, const rpc_event *evs, size_t n, const void *bytes,
                        size_t size);

/** Out: *out, the current figures (any thread). */
void rpc_events_stats_get(const rpc_events *ev, rpc_events_stats *out);

/** Send what was published (for up to 2 s to subscribers that read), stop the thread, close
 *  every connection and free; *ev = NULL. Call before the ZeroMQ context ends. */
void rpc_events_stop(rpc_events **ev);

#endif
