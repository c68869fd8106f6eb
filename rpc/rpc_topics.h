/* rpc_topics.h - event subscriptions: which subscribers a topic reaches, within limits */
#ifndef LSTD_RPC_TOPICS_H
#define LSTD_RPC_TOPICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest topic lstd publishes: "acct/" + 64 hex digits + "/". A subscription is a prefix
 * of the topics it receives, so a longer one can never match and is refused. */
#define RPC_TOPIC_MAX (5 + 64 + 1)

typedef struct rpc_topics rpc_topics;

enum rpc_topics_result {
    RPC_TOPICS_ADDED = 0,
    RPC_TOPICS_HAD = 1,      /* the subscriber had it already: nothing changes */
    RPC_TOPICS_TOO_LONG = 2, /* longer than RPC_TOPIC_MAX: refused */
    RPC_TOPICS_TOO_MANY = 3, /* the subscriber holds per_sub_max: refused */
    RPC_TOPICS_NOMEM = 4
};

/** An index for subscribers 0..subscribers-1, each holding at most per_sub_max subscriptions.
 *  Out: *out. Returns: 0 or -1 (no memory). */
int rpc_topics_new(rpc_topics **out, unsigned subscribers, unsigned per_sub_max)
    __attribute__((warn_unused_result));

/** Free the index; *t = NULL (NULL is allowed). */
void rpc_topics_free(rpc_topics **t);

/** Subscribe sub to the prefix topic (len bytes, any bytes). Returns: an rpc_topics_result. */
int rpc_topics_add(rpc_topics *t, unsigned sub, const uint8_t *topic, size_t len);

/** Cancel one subscription. Returns: true if sub had it. */
bool rpc_topics_remove(rpc_topics *t, unsigned sub, const uint8_t *topic, size_t len);

/** Cancel every subscription of sub (it disconnected). */
void rpc_topics_remove_all(rpc_topics *t, unsigned sub);

/** The subscribers holding a prefix of topic, each once. Out: subs (room for `subscribers`).
 *  Returns: how many. Costs one hash look-up per distinct subscription length in use. */
size_t rpc_topics_match(rpc_topics *t, const uint8_t *topic, size_t len, unsigned *subs);

/** Returns: subscriptions held in all. */
uint64_t rpc_topics_count(const rpc_topics *t);

#endif
