/* rpc_topics.c - subscriptions hashed by prefix, each subscriber's held in a small array */
#include "rpc_topics.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* One distinct subscription and the subscribers holding it. */
typedef struct entry {
    uint8_t topic[RPC_TOPIC_MAX];
    uint8_t len;
    uint32_t chain; /* next entry in its bucket, or in the free list */
    uint32_t *subs;
    uint32_t nsubs, cap;
} entry;

/* What one subscriber holds: entry ids. */
typedef struct holder {
    uint32_t *ids;
    uint32_t n, cap;
} holder;

struct rpc_topics {
    unsigned subscribers, per_sub_max;
    entry *entries;
    uint32_t nentries, entries_cap, free_head;
    uint32_t *buckets, nbuckets; /* a power of two */
    holder *holders;
    uint32_t *marks, stamp; /* match: subscriber already listed in this call */
    uint32_t len_count[RPC_TOPIC_MAX + 1];
    uint64_t count;
};

static uint32_t hash(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

int rpc_topics_new(rpc_topics **out, unsigned subscribers, unsigned per_sub_max)
{
    rpc_topics *t = calloc(1, sizeof *t);
    *out = NULL;
    if (t == NULL)
        return -1;
    t->subscribers = subscribers;
    t->per_sub_max = per_sub_max;
    t->free_head = NONE;
    t->nbuckets = 64;
    t->buckets = malloc(t->nbuckets * sizeof *t->buckets);
    t->holders = calloc(subscribers, sizeof *t->holders);
    t->marks = calloc(subscribers, sizeof *t->marks);
    if (t->buckets == NULL || t->holders == NULL || t->marks == NULL) {
        rpc_topics_free(&t);
        return -1;
    }
    memset(t->buckets, 0xff, t->nbuckets * sizeof *t->buckets);
    *out = t;
    return 0;
}

void rpc_topics_free(rpc_topics **tp)
{
    rpc_topics *t = *tp;
    if (t == NULL)
        return;
    *tp = NULL;
    for (uint32_t i = 0; i < t->nentries; i++)
        free(t->entries[i].subs);
    for (unsigned s = 0; t->holders != NULL && s < t->subscribers; s++)
        free(t->holders[s].ids);
    free(t->entries);
    free(t->buckets);
    free(t->holders);
    free(t->marks);
    free(t);
}

static uint32_t find(const rpc_topics *t, const uint8_t *topic, size_t len)
{
    uint32_t id = t->buckets[hash(topic, len) & (t->nbuckets - 1)];
    while (id != NONE &&
           (t->entries[id].len != len || memcmp(t->entries[id].topic, topic, len) != 0))
        id = t->entries[id].chain;
    return id;
}

/* Double the buckets when entries outnumber them. Returns: 0 or -1. */
static int rehash(rpc_topics *t)
{
    uint32_t n = t->nbuckets * 2, *b = malloc(n * sizeof *b);
    if (b == NULL)
        return -1;
    memset(b, 0xff, n * sizeof *b);
    for (uint32_t i = 0; i < t->nentries; i++) {
        entry *e = &t->entries[i];
        if (e->nsubs == 0)
            continue; /* free: its chain is the free list */
        uint32_t h = hash(e->topic, e->len) & (n - 1);
        e->chain = b[h];
        b[h] = i;
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
    return 0;
}

/* A new entry for topic, in its bucket. Returns: its id, or NONE (no memory). */
static uint32_t entry_new(rpc_topics *t, const uint8_t *topic, size_t len)
{
    uint32_t id = t->free_head;
    if (id != NONE) {
        t->free_head = t->entries[id].chain;
    } else {
        if (t->nentries == t->entries_cap) {
            uint32_t cap = t->entries_cap ? t->entries_cap * 2 : 64;
            entry *grown = realloc(t->entries, cap * sizeof *grown);
            if (grown == NULL)
                return NONE;
            t->entries = grown;
            t->entries_cap = cap;
        }
        id = t->nentries++;
    }
    entry *e = &t->entries[id];
    memset(e, 0, sizeof *e);
    memcpy(e->topic, topic, len);
    e->len = (uint8_t)len;
    uint32_t h = hash(topic, len) & (t->nbuckets - 1);
    e->chain = t->buckets[h];
    t->buckets[h] = id;
    return id;
}

static void entry_unlink(rpc_topics *t, uint32_t id)
{
    entry *e = &t->entries[id];
    uint32_t *p = &t->buckets[hash(e->topic, e->len) & (t->nbuckets - 1)];
    while (*p != id)
        p = &t->entries[*p].chain;
    *p = e->chain;
    free(e->subs);
    e->subs = NULL;
    e->cap = 0;
    e->chain = t->free_head;
    t->free_head = id;
    t->len_count[e->len]--;
}

static int grow_u32(uint32_t **arr, uint32_t *cap, uint32_t need)
{
    if (need <= *cap)
        return 0;
    uint32_t c = *cap ? *cap * 2 : 4;
    while (c < need)
        c *= 2;
    uint32_t *grown = realloc(*arr, c * sizeof *grown);
    if (grown == NULL)
        return -1;
    *arr = grown;
    *cap = c;
    return 0;
}

int rpc_topics_add(rpc_topics *t, unsigned sub, const uint8_t *topic, size_t len)
{
    if (len > RPC_TOPIC_MAX)
        return RPC_TOPICS_TOO_LONG;
    holder *h = &t->holders[sub];
    uint32_t id = find(t, topic, len);
    for (uint32_t i = 0; id != NONE && i < h->n; i++)
        if (h->ids[i] == id)
            return RPC_TOPICS_HAD;
    if (h->n >= t->per_sub_max)
        return RPC_TOPICS_TOO_MANY;
    if (grow_u32(&h->ids, &h->cap, h->n + 1) != 0)
        return RPC_TOPICS_NOMEM;
    if (id == NONE) {
        if (t->nentries >= t->nbuckets && rehash(t) != 0)
            return RPC_TOPICS_NOMEM;
        id = entry_new(t, topic, len);
        if (id == NONE)
            return RPC_TOPICS_NOMEM;
        t->len_count[len]++;
    }
    entry *e = &t->entries[id];
    if (grow_u32(&e->subs, &e->cap, e->nsubs + 1) != 0) {
        if (e->nsubs == 0)
            entry_unlink(t, id);
        return RPC_TOPICS_NOMEM;
    }
    e->subs[e->nsubs++] = sub;
    h->ids[h->n++] = id;
    t->count++;
    return RPC_TOPICS_ADDED;
}

/* Remove sub from entry id (and the entry when no one holds it any more). */
static void entry_drop_sub(rpc_topics *t, uint32_t id, uint32_t sub)
{
    entry *e = &t->entries[id];
    for (uint32_t i = 0; i < e->nsubs; i++)
        if (e->subs[i] == sub) {
            e->subs[i] = e->subs[--e->nsubs];
            break;
        }
    if (e->nsubs == 0)
        entry_unlink(t, id);
    t->count--;
}

bool rpc_topics_remove(rpc_topics *t, unsigned sub, const uint8_t *topic, size_t len)
{
    if (len > RPC_TOPIC_MAX)
        return false;
    uint32_t id = find(t, topic, len);
    holder *h = &t->holders[sub];
    for (uint32_t i = 0; id != NONE && i < h->n; i++)
        if (h->ids[i] == id) {
            h->ids[i] = h->ids[--h->n];
            entry_drop_sub(t, id, sub);
            return true;
        }
    return false;
}

void rpc_topics_remove_all(rpc_topics *t, unsigned sub)
{
    holder *h = &t->holders[sub];
    while (h->n > 0)
        entry_drop_sub(t, h->ids[--h->n], sub);
    free(h->ids);
    h->ids = NULL;
    h->cap = 0;
}

size_t rpc_topics_match(rpc_topics *t, const uint8_t *topic, size_t len, unsigned *subs)
{
    size_t n = 0;
    if (++t->stamp == 0) { /* wrapped: forget every old mark */
        memset(t->marks, 0, t->subscribers * sizeof *t->marks);
        t->stamp = 1;
    }
    for (size_t l = 0; l <= len && l <= RPC_TOPIC_MAX; l++) {
        if (t->len_count[l] == 0)
            continue;
        uint32_t id = find(t, topic, l);
        if (id == NONE)
            continue;
        const entry *e = &t->entries[id];
        for (uint32_t i = 0; i < e->nsubs; i++)
            if (t->marks[e->subs[i]] != t->stamp) {
                t->marks[e->subs[i]] = t->stamp;
                subs[n++] = e->subs[i];
            }
    }
    return n;
}

uint64_t rpc_topics_count(const rpc_topics *t)
{
    return t->count;
}
