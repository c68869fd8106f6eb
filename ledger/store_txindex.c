/* store_txindex.c - linear probing over (hash prefix, seq) slots, grown incrementally */
#include "store_txindex.h"

#include <stdlib.h>
#include <string.h>

#include "ledger_error.h"
#include "store_pages.h"

#define SLOTS_MIN 4096u
#define TOMB UINT64_MAX /* a removed slot: probes continue past it */
#define MOVE_PER_ADD 8  /* old slots moved per addition while growing: done long before full */

typedef struct slot {
    uint64_t tag, seq; /* seq 0: empty */
} slot;

/* One open-addressing table. */
typedef struct table {
    slot *slots;
    uint64_t cap, used; /* used: live entries and tombstones */
} table;

/* Growing never stops the world: a table twice the size is made, each addition moves a few
 * slots of the old one into it, and lookups look in both until the old one is empty. */
struct store_txindex {
    table t, old;   /* old.slots NULL unless growing */
    uint64_t moved; /* old slots handled so far */
    uint64_t count; /* live entries, over both tables */
    uint64_t seed;
    slot *added; /* entries added since the last commit */
    size_t added_len, added_cap;
    slot *spare;          /* the table the next growth takes, made ahead (twice t's size) */
    store_prefault fault; /* faulting the spare in meanwhile, off the applying thread */
};

static uint64_t tag_of(const uint8_t hash[32])
{
    uint64_t t;
    memcpy(&t, hash, 8);
    return t;
}

/* The top bits of a keyed multiplicative hash: a table twice the size puts what was at slot i
 * near slot 2i, so growing reads the old table and writes the new one front to back (memory
 * streams) instead of a cache miss per moved entry. */
static uint64_t home(const store_txindex *x, const table *t, uint64_t tag)
{
    uint64_t h = (tag ^ x->seed) * 0x9e3779b97f4a7c15ull;
    return h >> (64 - __builtin_ctzll(t->cap));
}

static void place(const store_txindex *x, table *t, uint64_t tag, uint64_t seq)
{
    uint64_t i = home(x, t, tag);
    while (t->slots[i].seq != 0 && t->slots[i].seq != TOMB)
        i = (i + 1) & (t->cap - 1);
    t->used += t->slots[i].seq == 0;
    t->slots[i] = (slot){tag, seq};
}

/* Move the next few old slots over; free the old table once it is all moved. Entries stay in
 * the old table too until it is freed, so its probe chains stay intact. */
static void move_some(store_txindex *x)
{
    for (int k = 0; k < MOVE_PER_ADD && x->old.slots != NULL; k++, x->moved++) {
        if (x->moved == x->old.cap) {
            store_prefault_wait(&x->fault); /* t's, begun before the growth: long done */
            store_pages_array_free(x->old.slots, x->old.cap, sizeof(slot));
            x->old = (table){0};
            return;
        }
        const slot *s = &x->old.slots[x->moved];
        if (s->seq != 0 && s->seq != TOMB)
            place(x, &x->t, s->tag, s->seq);
    }
}

/* Past half full, make the table the next growth takes and have it faulted in meanwhile: a
 * fresh table is written at random at once, so without this nearly every one of its huge
 * pages would fault on the applying thread within the first few thousand additions. */
static void prepare(store_txindex *x)
{
    if (x->spare != NULL || x->old.slots != NULL || x->t.used * 2 < x->t.cap)
        return;
    x->spare = store_pages_array(x->t.cap * 2, sizeof(slot));
    if (x->spare != NULL)
        store_prefault_start(&x->fault, x->spare,
                             store_pages_array_mapped(x->t.cap * 2, sizeof(slot)));
}

/* Begin growing into a table of twice the live entries' room (or the same size, when it is
 * mostly tombstones). Returns: 0 or LEDGER_NO_MEMORY. */
static int grow(store_txindex *x)
{
    uint64_t cap = x->count * 10 > x->t.cap * 4 ? x->t.cap * 2 : x->t.cap;
    slot *s =
        x->spare != NULL && cap == x->t.cap * 2 ? x->spare : store_pages_array(cap, sizeof *s);
    if (s == NULL)
        return LEDGER_NO_MEMORY;
    if (s == x->spare)
        x->spare = NULL;
    x->old = x->t;
    x->t = (table){s, cap, 0};
    x->moved = 0;
    return 0;
}

int store_txindex_add(store_txindex *x, const uint8_t hash[32], uint64_t seq)
{
    /* a new table is never more than half full when it is made; MOVE_PER_ADD old slots per
     * addition empty the old one before the new one reaches 70% */
    if (x->old.slots == NULL && (x->t.used + 1) * 10 > x->t.cap * 7 && grow(x) != 0)
        return LEDGER_NO_MEMORY;
    if (x->added_len == x->added_cap) {
        size_t cap = x->added_cap ? x->added_cap * 2 : 1024;
        slot *a = realloc(x->added, cap * sizeof *a);
        if (a == NULL)
            return LEDGER_NO_MEMORY;
        x->added = a;
        x->added_cap = cap;
    }
    move_some(x);
    prepare(x);
    x->added[x->added_len++] = (slot){tag_of(hash), seq};
    place(x, &x->t, tag_of(hash), seq);
    x->count++;
    return 0;
}

static uint64_t find_in(const store_txindex *x, const table *t, uint64_t tag,
                        bool (*is)(void *ctx, uint64_t seq), void *ctx)
{
    for (uint64_t i = home(x, t, tag), n = 0; n < t->cap; i = (i + 1) & (t->cap - 1), n++) {
        const slot *s = &t->slots[i];
        if (s->seq == 0)
            return 0;
        if (s->seq != TOMB && s->tag == tag && is(ctx, s->seq))
            return s->seq;
    }
    return 0;
}

uint64_t store_txindex_find(const store_txindex *x, const uint8_t hash[32],
                            bool (*is)(void *ctx, uint64_t seq), void *ctx)
{
    uint64_t tag = tag_of(hash), seq = find_in(x, &x->t, tag, is, ctx);
    return seq != 0 || x->old.slots == NULL ? seq : find_in(x, &x->old, tag, is, ctx);
}

void store_txindex_prefetch(const store_txindex *x, const uint8_t *hashes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        __builtin_prefetch(&x->t.slots[home(x, &x->t, tag_of(hashes + 32 * i))]);
}

void store_txindex_commit(store_txindex *x)
{
    x->added_len = 0;
}

/* Turn the slot holding (tag, seq) into a tombstone, if the table has it. */
static void remove_from(const store_txindex *x, table *t, uint64_t tag, uint64_t seq)
{
    for (uint64_t i = home(x, t, tag); t->slots[i].seq != 0; i = (i + 1) & (t->cap - 1))
        if (t->slots[i].seq == seq && t->slots[i].tag == tag) {
            t->slots[i].seq = TOMB;
            return;
        }
}

void store_txindex_abort(store_txindex *x)
{
    for (size_t k = x->added_len; k-- > 0;) {
        const slot *a = &x->added[k];
        remove_from(x, &x->t, a->tag, a->seq);
        if (x->old.slots != NULL) /* never placed there, but moved entries are copies */
            remove_from(x, &x->old, a->tag, a->seq);
        x->count--;
    }
    x->added_len = 0;
}

uint64_t store_txindex_count(const store_txindex *x)
{
    return x->count;
}

uint64_t store_txindex_bytes(const store_txindex *x)
{
    uint64_t spare = x->spare != NULL ? x->t.cap * 2 : 0;
    return sizeof *x + (x->t.cap + x->old.cap + spare + x->added_cap) * sizeof(slot);
}

int store_txindex_new(store_txindex **out, uint64_t seed)
{
    store_txindex *x = calloc(1, sizeof *x);
    *out = NULL;
    if (x == NULL)
        return LEDGER_NO_MEMORY;
    x->seed = seed;
    x->t.cap = SLOTS_MIN;
    x->t.slots = store_pages_array(x->t.cap, sizeof(slot));
    if (x->t.slots == NULL) {
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
    store_prefault_wait(&(*xp)->fault);
    if ((*xp)->spare != NULL)
        store_pages_array_free((*xp)->spare, (*xp)->t.cap * 2, sizeof(slot));
    store_pages_array_free((*xp)->t.slots, (*xp)->t.cap, sizeof(slot));
    store_pages_array_free((*xp)->old.slots, (*xp)->old.cap, sizeof(slot));
    free((*xp)->added);
    free(*xp);
    *xp = NULL;
}
