/* rpc_sched.c - per-connection queues of requests, admitted by share and served in turn */
#include "rpc_sched.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONE UINT32_MAX

typedef struct flow {
    uint32_t head, tail; /* the queue: items not yet taken into a batch */
    uint32_t vnext;      /* the first of them not yet given to a verifier */
    uint32_t queued;     /* items in the queue */
    uint32_t inflight;   /* queued, plus taken into a batch and not yet released */
    uint64_t fail_at_us; /* its failure clock (0: no failure since it connected) */
    bool in_vq, in_sq;   /* in the verify turn, in the sequence turn */
} flow;

/* A turn: a FIFO of flow ids, each at most once. */
typedef struct turn {
    uint32_t *ids;
    uint32_t head, count, cap;
} turn;

struct rpc_sched {
    pthread_mutex_t lock;
    pthread_cond_t work_cv, seq_cv;
    rpc_item *items;
    uint32_t capacity, *free_items, nfree;
    flow *flows;
    uint32_t nflows, flow_max;
    uint32_t active;      /* flows with inflight > 0 */
    uint64_t queued;      /* items in all queues */
    uint64_t unverified;  /* items not yet given to a verifier */
    uint32_t ready_heads; /* flows whose head is verified: a batch can be taken */
    turn vq, sq;
    uint32_t *skipped;       /* scratch of take_batch */
    uint64_t fail_all_at_us; /* the failure clock of all connections together */
    uint64_t (*now_us)(void *ctx);
    void *clock_ctx;
    bool draining; /* rpc_sched_drain: budgets hold nothing back */
    bool quit;
    bool kicked; /* rpc_sched_kick: the sequencer has other work (replication) */
};

static uint64_t monotonic_us(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void turn_push(turn *t, uint32_t id)
{
    t->ids[(t->head + t->count++) % t->cap] = id;
}

static uint32_t turn_pop(turn *t)
{
    uint32_t id = t->ids[t->head];
    t->head = (t->head + 1) % t->cap;
    t->count--;
    return id;
}

int rpc_sched_new(rpc_sched **out, uint32_t capacity, uint32_t flows, uint32_t flow_max)
{
    rpc_sched *s = calloc(1, sizeof *s);
    *out = NULL;
    if (s == NULL)
        return -1;
    s->capacity = capacity;
    s->nflows = flows;
    s->flow_max = flow_max;
    s->items = calloc(capacity, sizeof *s->items);
    s->free_items = calloc(capacity, sizeof *s->free_items);
    s->flows = calloc(flows, sizeof *s->flows);
    s->vq.ids = calloc(flows, sizeof *s->vq.ids);
    s->sq.ids = calloc(flows, sizeof *s->sq.ids);
    s->skipped = calloc(flows, sizeof *s->skipped);
    if (!s->items || !s->free_items || !s->flows || !s->vq.ids || !s->sq.ids || !s->skipped) {
        rpc_sched_free(&s);
        return -1;
    }
    s->vq.cap = s->sq.cap = flows;
    for (uint32_t i = 0; i < capacity; i++)
        s->free_items[i] = capacity - 1 - i;
    s->nfree = capacity;
    for (uint32_t f = 0; f < flows; f++)
        s->flows[f] = (flow){.head = NONE, .tail = NONE, .vnext = NONE};
    s->now_us = monotonic_us;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t a; /* timed waits on the monotonic clock, as the budget's */
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&s->work_cv, &a);
    pthread_condattr_destroy(&a);
    pthread_cond_init(&s->seq_cv, NULL);
    *out = s;
    return 0;
}

void rpc_sched_free(rpc_sched **sp)
{
    rpc_sched *s = *sp;
    if (s == NULL)
        return;
    *sp = NULL;
    if (s->items != NULL && s->free_items != NULL && s->flows != NULL && s->vq.ids != NULL &&
        s->sq.ids != NULL && s->skipped != NULL) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->work_cv);
        pthread_cond_destroy(&s->seq_cv);
    }
    free(s->items);
    free(s->free_items);
    free(s->flows);
    free(s->vq.ids);
    free(s->sq.ids);
    free(s->skipped);
    free(s);
}

/* The most a flow may hold now (called with the lock held). */
static uint32_t share(const rpc_sched *s, const flow *f)
{
    uint32_t n = s->active + (f->inflight == 0);
    uint32_t fair = s->capacity / n;
    uint32_t cap = fair < s->flow_max ? fair : s->flow_max;
    return cap > 0 ? cap : 1;
}

int rpc_sched_push(rpc_sched *s, uint32_t flow_id, const rpc_envelope *env, const rpc_request *req,
                   bool *at_share)
{
    pthread_mutex_lock(&s->lock);
    flow *f = &s->flows[flow_id];
    if (s->nfree == 0) {
        *at_share = f->inflight >= share(s, f);
        pthread_mutex_unlock(&s->lock);
        return RPC_SCHED_FULL;
    }
    uint32_t idx = s->free_items[--s->nfree];
    rpc_item *it = &s->items[idx];
    it->env = *env;
    it->req = *req;
    it->error = 0;
    it->ready = false;
    it->flow = flow_id;
    it->next = NONE;
    if (f->tail == NONE)
        f->head = idx;
    else
        s->items[f->tail].next = idx;
    f->tail = idx;
    if (f->vnext == NONE)
        f->vnext = idx;
    s->active += f->inflight == 0;
    f->inflight++;
    f->queued++;
    s->queued++;
    s->unverified++;
    if (!f->in_vq) {
        f->in_vq = true;
        turn_push(&s->vq, flow_id);
    }
    if (!f->in_sq) {
        f->in_sq = true;
        turn_push(&s->sq, flow_id);
    }
    *at_share = f->inflight >= share(s, f);
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->lock);
    return RPC_SCHED_OK;
}

/* Whether flow f failed a verification lately (the lock held). */
static bool failing(const rpc_sched *s, const flow *f, uint64_t now)
{
    return !s->draining && f->fail_at_us != 0 && f->fail_at_us + RPC_SCHED_FAIL_MEMORY_US >= now;
}

/* When flow f may be verified again (0: now, as far as its failures go; the lock held). */
static uint64_t eligible_at(const rpc_sched *s, const flow *f, uint64_t now)
{
    if (!failing(s, f, now))
        return 0;
    uint64_t own =
        f->fail_at_us > RPC_SCHED_FAIL_BURST_US ? f->fail_at_us - RPC_SCHED_FAIL_BURST_US : 0;
    uint64_t all = s->fail_all_at_us > RPC_SCHED_FAIL_ALL_BURST_US
                       ? s->fail_all_at_us - RPC_SCHED_FAIL_ALL_BURST_US
                       : 0;
    uint64_t at = own > all ? own : all;
    return at > now ? at : 0;
}

/* A failed verification moves its flow's clock and the shared one on (the lock held). */
static void charge(rpc_sched *s, flow *f, uint64_t now)
{
    f->fail_at_us = (f->fail_at_us > now ? f->fail_at_us : now) + RPC_SCHED_FAIL_COST_US;
    s->fail_all_at_us =
        (s->fail_all_at_us > now ? s->fail_all_at_us : now) + RPC_SCHED_FAIL_ALL_COST_US;
}

/* A request charged in advance verified after all: the charge is given back (the lock held). */
static void refund(rpc_sched *s, flow *f)
{
    f->fail_at_us -= f->fail_at_us > RPC_SCHED_FAIL_COST_US ? RPC_SCHED_FAIL_COST_US : 0;
    s->fail_all_at_us -=
        s->fail_all_at_us > RPC_SCHED_FAIL_ALL_COST_US ? RPC_SCHED_FAIL_ALL_COST_US : 0;
}

/* The next request to verify, flows in turn, passing over those held back by their failure
 * budget; a request of a flow that failed lately is charged as it is taken (given back if it
 * verifies), so a verifier's run cannot overdraw the budget (the lock held). Out: *until (the
 * earliest a held one is eligible). Returns: the request, or NULL when every waiting flow is
 * held back. */
static rpc_item *next_to_verify(rpc_sched *s, uint64_t now, uint64_t *until)
{
    for (uint32_t tries = s->vq.count; tries > 0; tries--) {
        uint32_t id = turn_pop(&s->vq);
        flow *f = &s->flows[id];
        uint64_t at = eligible_at(s, f, now);
        if (at != 0) {
            turn_push(&s->vq, id);
            *until = at < *until ? at : *until;
            continue;
        }
        rpc_item *it = &s->items[f->vnext];
        f->vnext = it->next;
        if (f->vnext != NONE)
            turn_push(&s->vq, id);
        else
            f->in_vq = false;
        s->unverified--;
        it->charged = failing(s, f, now);
        if (it->charged)
            charge(s, f, now);
        return it;
    }
    return NULL;
}

/* Up to max requests eligible now (the lock held). */
static size_t take_eligible(rpc_sched *s, rpc_item **items, size_t max, uint64_t *until)
{
    size_t n = 0, want = (size_t)(s->unverified / 2); /* leave half to the other verifiers */
    uint64_t now = s->now_us(s->clock_ctx);
    rpc_item *it;
    want = want < 1 ? 1 : want > max ? max : want;
    *until = UINT64_MAX;
    while (n < want && s->vq.count > 0 && (it = next_to_verify(s, now, until)) != NULL)
        items[n++] = it;
    return n;
}

size_t rpc_sched_try_verify(rpc_sched *s, rpc_item **items, size_t max, uint64_t *until_us)
{
    pthread_mutex_lock(&s->lock);
    size_t n = take_eligible(s, items, max, until_us);
    pthread_mutex_unlock(&s->lock);
    return n;
}

size_t rpc_sched_take_verify(rpc_sched *s, rpc_item **items, size_t max)
{
    size_t n = 0;
    uint64_t until;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->quit && s->vq.count == 0)
            pthread_cond_wait(&s->work_cv, &s->lock);
        if (s->vq.count == 0 || (n = take_eligible(s, items, max, &until)) > 0)
            break;
        struct timespec ts = {(time_t)(until / 1000000), (long)(until % 1000000) * 1000};
        pthread_cond_timedwait(&s->work_cv, &s->lock, &ts); /* every waiting flow held back */
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

void rpc_sched_verified(rpc_sched *s, rpc_item *const *items, size_t n)
{
    pthread_mutex_lock(&s->lock);
    uint64_t now = s->now_us(s->clock_ctx);
    for (size_t i = 0; i < n; i++) {
        rpc_item *it = items[i];
        flow *f = &s->flows[it->flow];
        it->ready = true;
        if (f->head == (uint32_t)(it - s->items))
            s->ready_heads++;
        if (it->error != 0 && !it->charged)
            charge(s, f, now);
        else if (it->error == 0 && it->charged)
            refund(s, f);
    }
    pthread_cond_signal(&s->seq_cv);
    pthread_mutex_unlock(&s->lock);
}

void rpc_sched_flow_reset(rpc_sched *s, uint32_t flow_id)
{
    pthread_mutex_lock(&s->lock);
    s->flows[flow_id].fail_at_us = 0;
    pthread_mutex_unlock(&s->lock);
}

/* Take flow id out of the verify turn (the lock held). */
static void turn_remove(turn *t, uint32_t id)
{
    for (uint32_t i = 0, n = t->count; i < n; i++) {
        uint32_t got = turn_pop(t);
        if (got != id)
            turn_push(t, got);
    }
}

void rpc_sched_flow_closed(rpc_sched *s, uint32_t flow_id, int error)
{
    pthread_mutex_lock(&s->lock);
    flow *f = &s->flows[flow_id];
    if (failing(s, f, s->now_us(s->clock_ctx)) && f->vnext != NONE) {
        for (uint32_t i = f->vnext; i != NONE; i = s->items[i].next) {
            s->items[i].error = error;
            s->items[i].ready = true;
            s->unverified--;
            if (i == f->head)
                s->ready_heads++;
        }
        f->vnext = NONE;
        f->in_vq = false;
        turn_remove(&s->vq, flow_id);
        pthread_cond_signal(&s->seq_cv);
    }
    pthread_mutex_unlock(&s->lock);
}

void rpc_sched_drain(rpc_sched *s)
{
    pthread_mutex_lock(&s->lock);
    s->draining = true;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->lock);
}

void rpc_sched_set_clock(rpc_sched *s, uint64_t (*now_us)(void *ctx), void *ctx)
{
    s->now_us = now_us;
    s->clock_ctx = ctx;
}

/* Take the (verified) head of flow f (the lock held). */
static rpc_item *take_head(rpc_sched *s, flow *f)
{
    rpc_item *it = &s->items[f->head];
    f->head = it->next;
    if (f->head == NONE)
        f->tail = NONE;
    if (f->head == NONE || !s->items[f->head].ready)
        s->ready_heads--;
    f->queued--;
    s->queued--;
    return it;
}

/* One verified head per flow and round, until max or none is ready (the lock held). */
static size_t gather(rpc_sched *s, rpc_item **items, size_t max)
{
    size_t n = 0;
    uint32_t nskipped = 0;
    while (n < max && s->sq.count > 0) {
        uint32_t id = turn_pop(&s->sq);
        flow *f = &s->flows[id];
        if (f->head != NONE && s->items[f->head].ready)
            items[n++] = take_head(s, f);
        if (f->queued == 0)
            f->in_sq = false;
        else if (s->items[f->head].ready)
            turn_push(&s->sq, id); /* the next round */
        else
            s->skipped[nskipped++] = id; /* its head is not verified: not this batch */
    }
    for (uint32_t i = 0; i < nskipped; i++)
        turn_push(&s->sq, s->skipped[i]);
    return n;
}

bool rpc_sched_wait_batch(rpc_sched *s)
{
    pthread_mutex_lock(&s->lock);
    bool ready;
    while (!(ready = s->ready_heads > 0) && !s->kicked && !(s->quit && s->queued == 0))
        pthread_cond_wait(&s->seq_cv, &s->lock);
    bool go = ready || (s->kicked && !(s->quit && s->queued == 0));
    s->kicked = false;
    pthread_mutex_unlock(&s->lock);
    return go;
}

void rpc_sched_kick(rpc_sched *s)
{
    pthread_mutex_lock(&s->lock);
    s->kicked = true;
    pthread_cond_signal(&s->seq_cv);
    pthread_mutex_unlock(&s->lock);
}

size_t rpc_sched_take_batch(rpc_sched *s, rpc_item **items, size_t max)
{
    pthread_mutex_lock(&s->lock);
    size_t n = gather(s, items, max);
    pthread_mutex_unlock(&s->lock);
    return n;
}

void rpc_sched_release(rpc_sched *s, rpc_item *const *items, size_t n)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        flow *f = &s->flows[items[i]->flow];
        if (--f->inflight == 0)
            s->active--;
        s->free_items[s->nfree++] = (uint32_t)(items[i] - s->items);
    }
    pthread_mutex_unlock(&s->lock);
}

void rpc_sched_quit(rpc_sched *s)
{
    pthread_mutex_lock(&s->lock);
    s->quit = true;
    s->draining = true;
    pthread_cond_broadcast(&s->work_cv);
    pthread_cond_broadcast(&s->seq_cv);
    pthread_mutex_unlock(&s->lock);
}

uint64_t rpc_sched_depth(rpc_sched *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t d = s->capacity - s->nfree;
    pthread_mutex_unlock(&s->lock);
    return d;
}

bool rpc_sched_within_share(rpc_sched *s, uint32_t flow_id)
{
    pthread_mutex_lock(&s->lock);
    const flow *f = &s->flows[flow_id];
    bool ok = f->inflight < share(s, f);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

uint32_t rpc_sched_flow_depth(rpc_sched *s, uint32_t flow_id)
{
    pthread_mutex_lock(&s->lock);
    uint32_t d = s->flows[flow_id].inflight;
    pthread_mutex_unlock(&s->lock);
    return d;
}
