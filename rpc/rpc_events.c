/* rpc_events.c - publisher thread: subscriber connections, subscriptions, fan-out of events */
#include "rpc_events.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc_curve.h"
#include "rpc_net.h"
#include "rpc_topics.h"

#define EVENTS_ENDPOINT "inproc://lstd-events"
#define POLL_MS 100
#define LINGER_MS 2000
#define SUB_MESSAGE_MAX 8192 /* a subscription message longer than this drops the subscriber */
#define SUB_FRAMES_MAX 16

struct rpc_events {
    rpc_events_config cfg;
    rpc_net *net;
    rpc_topics *topics;
    void *push, *pull; /* the log thread publishes on push; the thread reads pull */
    pthread_t thread;
    bool started;
    unsigned *matched;     /* scratch: subscribers of one topic */
    zmq_pollitem_t *items; /* scratch: the pull socket, then rpc_net's items */
    _Atomic uint64_t subscribers, subscriptions, refused, protocol_drops, ignored, dropped;
    _Atomic uint64_t auth_failures;
    _Atomic uint64_t piped; /* bytes published and not yet fanned out */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- subscriptions ----------------------------------------------------------------------------
 */

static void subscribe(rpc_events *ev, unsigned slot, bool on, const uint8_t *topic, size_t len)
{
    if (!on) {
        rpc_topics_remove(ev->topics, slot, topic, len);
        return;
    }
    int rc = rpc_topics_add(ev->topics, slot, topic, len);
    if (rc == RPC_TOPICS_TOO_LONG || rc == RPC_TOPICS_TOO_MANY || rc == RPC_TOPICS_NOMEM)
        ev->ignored++;
}

/* A frame from a subscriber: a subscription (ZMTP 3.0: a message of one frame, 1 or 0 then
 * the topic; 3.1: a SUBSCRIBE or CANCEL command) or anything else, which is ignored. */
static int on_frame(void *ctx, unsigned slot, const rpc_zmtp_frame *f)
{
    rpc_events *ev = ctx;
    const uint8_t *arg;
    size_t n;
    if (f->skipped) {
        ev->ignored += f->index == 0 && !f->command;
        return 0;
    }
    if (rpc_zmtp_command_is(f, "SUBSCRIBE", &arg, &n))
        subscribe(ev, slot, true, arg, n);
    else if (rpc_zmtp_command_is(f, "CANCEL", &arg, &n))
        subscribe(ev, slot, false, arg, n);
    else if (!f->command && f->index == 0 && !f->more && f->len >= 1 && f->data[0] <= 1)
        subscribe(ev, slot, f->data[0] == 1, f->data + 1, f->len - 1);
    return 0;
}

static void on_closed(void *ctx, unsigned slot)
{
    rpc_events *ev = ctx;
    rpc_topics_remove_all(ev->topics, slot);
}

/* ---- publishing -------------------------------------------------------------------------------
 */

/* The n events described at index (rpc_event structs, not necessarily aligned) in bytes. */
static void fan_out(rpc_events *ev, const uint8_t *index, size_t n, const uint8_t *bytes,
                    size_t size)
{
    for (size_t i = 0; i < n; i++) {
        rpc_event e;
        memcpy(&e, index + i * sizeof e, sizeof e);
        if (e.at > size || e.topic_len > size - e.at || e.len > size - e.at - e.topic_len)
            break; /* cannot happen: the log thread wrote both */
        size_t m = rpc_topics_match(ev->topics, bytes + e.at, e.topic_len, ev->matched);
        rpc_net_part parts[2] = {{bytes + e.at, e.topic_len}, {bytes + e.at + e.topic_len, e.len}};
        for (size_t k = 0; k < m; k++)
            if (rpc_net_send(ev->net, ev->matched[k], parts, 2) == -1)
                ev->dropped++; /* its queue is full: it misses this one, as from a PUB */
    }
}

/* Read everything published so far. Returns: true when the stop message came. */
static bool drain(rpc_events *ev)
{
    for (;;) {
        zmq_msg_t index, bytes;
        zmq_msg_init(&index);
        if (zmq_msg_recv(&index, ev->pull, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&index);
            return false;
        }
        if (!zmq_msg_more(&index)) { /* one empty frame: stop */
            zmq_msg_close(&index);
            return true;
        }
        zmq_msg_init(&bytes);
        if (zmq_msg_recv(&bytes, ev->pull, 0) >= 0) {
            fan_out(ev, zmq_msg_data(&index), zmq_msg_size(&index) / sizeof(rpc_event),
                    zmq_msg_data(&bytes), zmq_msg_size(&bytes));
            atomic_fetch_sub(&ev->piped, zmq_msg_size(&index) + zmq_msg_size(&bytes));
        }
        zmq_msg_close(&bytes);
        zmq_msg_close(&index);
    }
}

static void publish_stats(rpc_events *ev)
{
    rpc_net_stats st;
    rpc_net_stats_get(ev->net, &st);
    ev->subscribers = st.connections;
    ev->refused = st.drops[RPC_NET_REFUSED];
    ev->protocol_drops = st.drops[RPC_NET_PROTOCOL];
    ev->auth_failures = st.auth_failures;
    ev->subscriptions = rpc_topics_count(ev->topics);
}

static void *events_main(void *arg)
{
    rpc_events *ev = arg;
    uint64_t deadline = 0;
    for (;;) {
        ev->items[0] = (zmq_pollitem_t){ev->pull, 0, ZMQ_POLLIN, 0};
        size_t k = 1 + rpc_net_poll_items(ev->net, ev->items + 1);
        if (deadline != 0 && (!rpc_net_pending(ev->net) || now_ms() >= deadline))
            break;
        long timeout = deadline != 0 ? 10 : rpc_net_poll_timeout(ev->net, POLL_MS);
        if (zmq_poll(ev->items, (int)k, timeout) < 0 && zmq_errno() != EINTR)
            break;
        bool stop = (ev->items[0].revents & ZMQ_POLLIN) && drain(ev);
        rpc_net_service(ev->net, ev->items + 1, k - 1);
        rpc_net_flush(ev->net);
        publish_stats(ev);
        if (stop && deadline == 0)
            deadline = now_ms() + LINGER_MS;
    }
    return NULL;
}

/* ---- start and stop ---------------------------------------------------------------------------
 */

static int pipe_open(rpc_events *ev, void *zctx)
{
    int zero = 0;
    ev->push = zmq_socket(zctx, ZMQ_PUSH);
    ev->pull = zmq_socket(zctx, ZMQ_PULL);
    if (ev->push == NULL || ev->pull == NULL)
        return -1;
    zmq_setsockopt(ev->push, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(ev->pull, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(ev->push, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(ev->pull, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(ev->pull, EVENTS_ENDPOINT) != 0 || zmq_connect(ev->push, EVENTS_ENDPOINT) != 0)
        return -1;
    return 0;
}

int rpc_events_bind(rpc_events **out, void *zctx, const char *endpoint,
                    const rpc_events_config *cfg, char *actual, size_t actual_size)
{
    rpc_events *ev = calloc(1, sizeof *ev);
    *out = NULL;
    if (ev == NULL)
        return -1;
    ev->cfg = *cfg;
    ev->cfg.curve_secret_key = NULL; /* not kept: rpc_net has its copy */
    rpc_net_config nc = {.role = RPC_ZMTP_PUB,
                         .conn_max = cfg->sub_max,
                         .out_max = cfg->sub_queue_bytes,
                         .limits = {.frame_keep_max = 1 + RPC_TOPIC_MAX,
                                    .message_max = SUB_MESSAGE_MAX,
                                    .frames_max = SUB_FRAMES_MAX},
                         .curve_secret_key = cfg->curve_secret_key,
                         .allow = rpc_curve_allowed,
                         .allow_generation = rpc_curve_allow_generation,
                         .allow_ctx = cfg->allow};
    rpc_net_handler h = {.ctx = ev, .frame = on_frame, .closed = on_closed};
    ev->matched = calloc(cfg->sub_max, sizeof *ev->matched);
    ev->items = calloc((size_t)cfg->sub_max + 2, sizeof *ev->items);
    if (ev->matched == NULL || ev->items == NULL ||
        rpc_topics_new(&ev->topics, cfg->sub_max, cfg->sub_topics_max) != 0 ||
        pipe_open(ev, zctx) != 0) {
        fprintf(stderr, "lstd: cannot set up the event socket\n");
        rpc_events_stop(&ev);
        return -1;
    }
    if (rpc_net_bind(&ev->net, endpoint, &nc, &h, actual, actual_size) != 0) {
        rpc_events_stop(&ev);
        return -1;
    }
    *out = ev;
    return 0;
}

int rpc_events_start(rpc_events *ev)
{
    if (pthread_create(&ev->thread, NULL, events_main, ev) != 0)
        return -1;
    ev->started = true;
    return 0;
}

bool rpc_events_listened(const rpc_events *ev)
{
    return atomic_load(&ev->subscribers) > 0;
}

void rpc_events_publish(rpc_events *ev, const rpc_event *evs, size_t n, const void *bytes,
                        size_t size)
{
    size_t total = n * sizeof *evs + size;
    if (n == 0 || !rpc_events_listened(ev))
        return;
    if (atomic_load(&ev->piped) + total > RPC_EVENTS_PIPE_MAX) {
        ev->dropped += n; /* the publisher is behind: subscribers see a gap */
        return;
    }
    atomic_fetch_add(&ev->piped, total);
    if (zmq_send(ev->push, evs, n * sizeof *evs, ZMQ_SNDMORE) < 0 ||
        zmq_send(ev->push, bytes, size, 0) < 0)
        atomic_fetch_sub(&ev->piped, total);
}

void rpc_events_stats_get(const rpc_events *ev, rpc_events_stats *out)
{
    out->subscribers = ev->subscribers;
    out->subscriptions = ev->subscriptions;
    out->refused = ev->refused;
    out->protocol_drops = ev->protocol_drops;
    out->auth_failures = ev->auth_failures;
    out->subscriptions_ignored = ev->ignored;
    out->dropped = ev->dropped;
}

void rpc_events_stop(rpc_events **evp)
{
    rpc_events *ev = *evp;
    if (ev == NULL)
        return;
    *evp = NULL;
    if (ev->started) {
        zmq_send(ev->push, "", 0, 0);
        pthread_join(ev->thread, NULL);
    }
    rpc_net_close(&ev->net);
    rpc_topics_free(&ev->topics);
    if (ev->push != NULL)
        zmq_close(ev->push);
    if (ev->pull != NULL)
        zmq_close(ev->pull);
    free(ev->matched);
    free(ev->items);
    free(ev);
}
