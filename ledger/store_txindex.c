/* store_txindex.c - linear probing over (hash prefix, seq) slots, grown by doubling */
#include "store_txindex.h"

#include <stdlib.h>
#include <string.h>

#include "ledger_error.h"

#define SLOTS_MIN 4096u
#define TOMB UINT64_MAX /* a removed slot: probes continue past it */

typedef struct slot {
    uint64_t tag, seq; /* seq 0: empty */
} slot;

struct store_txindex {
    slot *slots;
    uint64_t cap, count, tombs, seed;
    slot *added; /* entries added since the last commit */
    size_t added_len, added_cap;
};

static uint64_t tag_of(const uint8_t hash[32])
{
    uint64_t t;
    memcpy(&t, hash, 8);
    return t;
}

static uint64_t home(const store_txindex *x, uint64_t tag)
{
    uint64_t h = (tag ^ x->seed) * 0x9e3779b97f4a7c15ull;
    return (h ^ (h >> 29)) & (x->cap - 1);
}

static void place(store_txindex *x, uint64_t tag, uint64_t seq)
{
    uint64_t i = home(x, tag);
    while (x->slots[i].seq != 0 && x->slots[i].seq != TOMB)
        i = (i + 1) & (x->cap - 1);
    if (x->slots[i].seq == TOMB)
        x->tombs--;
    x->slots[i] = (slot){tag, seq};
    x->count++;
}

/* Rebuild at twice the size (or the same size, to clear tombstones). */
static int rehash(store_txindex *x, uint64_t cap)
{
    slot *old = x->slots;
    uint64_t old_cap = x->cap;
    slot *s = calloc(cap, sizeof *s);
    if (s == NULL)
        return LEDGER_NO_MEMORY;
    x->slots = s;
    x->cap = cap;
    x->count = x->tombs = 0;
    for (uint64_t i = 0; i < old_cap; i++)
        if (old[i].seq != 0 && old[i].seq != TOMB)
            place(x, old[i].tag, old[i].seq);
    free(old);
    return 0;
}

int store_txindex_add(store_txindex *x, const uint8_t hash[32], uint64_t seq)
{
    if ((x->count + x->tombs + 1) * 10 > x->cap * 7 &&
        rehash(x, x->count * 10 > x->cap * 5 ? x->cap * 2 : x->cap) != 0)
        return LEDGER_NO_MEMORY;
    if (x->added_len == x->added_cap) {
        size_t cap = x->added_cap ? x->added_cap * 2 : 1024;
        slot *a = realloc(x->added, cap * sizeof *a);
        if (a == NULL)
            return LEDGER_NO_MEMORY;
        x->added = a;
        x->added_cap = cap;
    }
    x->added[x->added_len++] = (slot){tag_of(hash), seq};
    place(x, tag_of(hash), seq);
    return 0;
}

uint64_t store_txindex_find(const store_txindex *x, const uint8_t hash[32],
                            bool (*is)(void *ctx, uint64_t seq), void *ctx)
{
    uint64_t tag = tag_of(hash);
    for (uint64_t i = home(x, tag), n = 0; n < x->cap; i = (i + 1) & (x->cap - 1), n++) {
        const slot *s = &x->slots[i];
        if (s->seq == 0)
            return 0;
        if (s->seq != TOMB && s->tag == tag && is(ctx, s->seq))
            return s->seq;
    }
    return 0;
}

void store_txindex_prefetch(const store_txindex *x, const uint8_t *hashes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        __builtin_prefetch(&x->slots[home(x, tag_of(hashes + 32 * i))]);
}

void store_txindex_commit(store_txindex *x)
{
    x->added_len = 0;
}

void store_txindex_abort(store_txindex *x)
{
    for (size_t k = x->added_len; k-- > 0;) {
        const slot *a = &x->added[k];
        for (uint64_t i = home(x, a->tag); x->slots[i].seq != 0; i = (i + 1) & (x->cap - 1))
            if (x->slots[i].seq == a->seq) {
                x->slots[i].seq = TOMB;
                x->count--;
                x->tombs++;
                break;
            }
    }
    x->added_len = 0;
}

uint64_t store_txindex_count(const store_txindex *x)
{
    return x->count;
}

uint64_t store_txindex_bytes(const store_txindex *x)
{
    return sizeof *x + x->cap * sizeof(slot) + x->added_cap * sizeof(slot);
}

int store_txindex_new(store_txindex **out, uint64_t seed)
{
    store_txindex *x = calloc(1, sizeof *x);
    *out = NULL;
    if (x == NULL)
        return LEDGER_NO_MEMORY;
    x->cap = SLOTS_MIN;
    x->seed = seed;
    x->slots = calloc(x->cap, sizeof *x->slots);
    if (x->slots == NULL) {
        free(x);
        return LEDGER_NO_MEMORY;
    }
    *out = x;
    return 0;
}

void store_txindex_free(store_txindex **xp)
{
    if (*xp == NULL)
        return;
    free((*xp)->slots);
    free((*xp)->added);
    free(*xp);
    *xp = NULL;
}
