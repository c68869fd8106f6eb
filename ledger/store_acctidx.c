/* store_acctidx.c - per-account seq lists in doubling chunks carved from large blocks */
#include "store_acctidx.h"

#include <stdlib.h>
#include <string.h>

#include "ledger_error.h"
#include "ledger_store.h"
#include "store_mem.h"
#include "store_pages.h"

#define KEY 32                             /* an account key */
#define TABLE 1                            /* the one table of the entry store */
#define BLOCK_BYTES (2 * STORE_PAGE_BYTES) /* a block for many chunks, on huge pages */
#define AHEAD_MAX 128                      /* accounts whose list tails the next prefetch hints */
#define OWN_BLOCK (BLOCK_BYTES / 4)        /* a chunk this big or bigger: a heap block of its own */

/* Chunk k holds 2 << k seqs: the first 2^(k+1) - 2 seqs of a list are in the chunks before it,
 * so a list of n seqs is in floor(log2(n + 1)) chunks and never wastes more than half. */
typedef struct chunk {
    struct chunk *prev; /* the chunk before, NULL for chunk 0 */
    uint64_t seq[];
} chunk;

/* An entry's value: how many seqs the list holds, its newest chunk. */
typedef struct handle {
    uint64_t count;
    chunk *head;
} handle;

typedef struct block {
    struct block *prev;
    size_t used, cap;
    _Alignas(8) uint8_t data[];
} block;

/* Where the blocks stood at the last commit: an abort frees what came after. */
typedef struct mark {
    block *shared, *own;
    size_t used;
    uint64_t seqs;
} mark;

struct store_acctidx {
    store_mem *entries;
    block *shared;        /* carved a chunk at a time; the newest on top */
    block *own;           /* big chunks, one each */
    block *spare;         /* the next shared block, mapped ahead */
    store_prefault fault; /* faulting the spare in */
    mark kept;
    uint64_t seqs, bytes;
    uint8_t ahead[AHEAD_MAX][KEY]; /* the accounts of the last prefetch */
    size_t ahead_n;
};

static uint64_t base_of(unsigned k) /* seqs in the chunks before chunk k */
{
    return ((uint64_t)2 << k) - 2;
}

static unsigned chunk_of(uint64_t i) /* the chunk holding a list's i-th seq (from 0) */
{
    return (unsigned)(63 - __builtin_clzll(i + 2)) - 1;
}

/* A block of its own for a big chunk, from the heap. */
static block *own_new(store_acctidx *x, size_t cap)
{
    block *b = malloc(sizeof *b + cap);
    if (b != NULL) {
        *b = (block){x->own, cap, cap};
        x->own = b;
        x->bytes += sizeof *b + cap;
    }
    return b;
}

/* A block for many chunks, on huge pages (read at random, a chunk per account): the spare,
 * faulted in ahead, when there is one; then the next spare is mapped and faulted in on a
 * thread of its own, so the applying thread does not clear pages in the middle of a batch. */
static block *shared_new(store_acctidx *x)
{
    block *b = x->spare != NULL ? x->spare : store_pages_map(BLOCK_BYTES);
    if (b == NULL)
        return NULL;
    if (b == x->spare) {
        store_prefault_wait(&x->fault); /* begun a block ago: done, only joined */
        x->spare = NULL;
    } else {
        x->bytes += BLOCK_BYTES;
    }
    *b = (block){x->shared, 0, BLOCK_BYTES - sizeof *b};
    x->shared = b;
    if ((x->spare = store_pages_map(BLOCK_BYTES)) != NULL) {
        x->bytes += BLOCK_BYTES;
        store_prefault_start(&x->fault, x->spare, BLOCK_BYTES);
    }
    return b;
}

static chunk *chunk_new(store_acctidx *x, unsigned k)
{
    size_t size = sizeof(chunk) + ((size_t)2 << k) * sizeof(uint64_t);
    if (size >= OWN_BLOCK) {
        block *b = own_new(x, size);
        return b == NULL ? NULL : (chunk *)b->data;
    }
    if ((x->shared == NULL || x->shared->cap - x->shared->used < size) && shared_new(x) == NULL)
        return NULL;
    chunk *c = (chunk *)(x->shared->data + x->shared->used);
    x->shared->used += size;
    return c;
}

static bool handle_get(store_acctidx *x, const uint8_t account[KEY], handle *h)
{
    ledger_store v;
    const uint8_t *val;
    size_t len;
    store_mem_view(x->entries, &v);
    if (v.get(v.self, TABLE, account, KEY, &val, &len) != 0 || len != sizeof *h)
        return false;
    memcpy(h, val, sizeof *h);
    return true;
}

/* The i-th seq of a list (i < count), counting back from the newest chunk. */
static uint64_t seq_at(const handle *h, uint64_t i)
{
    const chunk *c = h->head;
    for (unsigned k = chunk_of(h->count - 1); k > chunk_of(i); k--)
        c = c->prev;
    return c->seq[i - base_of(chunk_of(i))];
}

int store_acctidx_add(store_acctidx *x, const uint8_t account[KEY], uint64_t seq)
{
    uint8_t *val;
    handle h;
    int rc = store_mem_edit(x->entries, TABLE, account, KEY, sizeof h, &val);
    if (rc != 0)
        return rc;
    memcpy(&h, val, sizeof h); /* a new entry's: zero */
    if (h.count > 0 && seq_at(&h, h.count - 1) >= seq)
        return LEDGER_STORE_CORRUPT;
    unsigned k = chunk_of(h.count);
    uint64_t at = h.count - base_of(k);
    if (at == 0) {
        chunk *c = chunk_new(x, k);
        if (c == NULL)
            return LEDGER_NO_MEMORY;
        c->prev = h.head;
        h.head = c;
    }
    h.head->seq[at] = seq;
    h.count++;
    memcpy(val, &h, sizeof h);
    x->seqs++;
    return 0;
}

/* The first seq above after in a list of count seqs. Returns: 0 when none. */
static uint64_t first_above(const handle *h, uint64_t after)
{
    if (h->count == 0)
        return 0;
    /* from the newest chunk back to the one whose first seq is at most after */
    uint64_t found = 0;
    const chunk *c = h->head;
    unsigned k = chunk_of(h->count - 1);
    uint64_t n = h->count - base_of(k); /* seqs in chunk c */
    while (c->seq[0] > after) {
        found = c->seq[0];
        if (k == 0)
            return found;
        c = c->prev;
        k--;
        n = (uint64_t)2 << k;
    }
    uint64_t lo = 0, hi = n; /* c->seq[0] <= after: the answer is past index 0 */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (c->seq[mid] > after)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo < n ? c->seq[lo] : found;
}

uint64_t store_acctidx_after(store_acctidx *x, const uint8_t account[KEY], uint64_t after)
{
    handle h;
    return handle_get(x, account, &h) ? first_above(&h, after) : 0;
}

int store_acctidx_next_account(store_acctidx *x, const uint8_t *key, size_t key_len,
                               uint8_t account[KEY], uint64_t *first)
{
    ledger_store v;
    const uint8_t *k, *val;
    size_t kn, vn;
    if (key_len > KEY)
        return LEDGER_STORE_IO;
    store_mem_view(x->entries, &v);
    int rc = v.next(v.self, TABLE, key, key_len, &k, &kn, &val, &vn);
    if (rc != 0)
        return rc;
    handle h;
    if (kn != KEY || vn != sizeof h)
        return LEDGER_INTERNAL;
    memcpy(&h, val, sizeof h);
    memcpy(account, k, KEY);
    *first = first_above(&h, 0); /* lists are never empty */
    return 0;
}

/* The cache line of a list's newest seq, which the next add reads and writes beside. */
static void prefetch_tail(store_acctidx *x, const uint8_t account[KEY])
{
    handle h;
    if (handle_get(x, account, &h) && h.count > 0) {
        uint64_t i = h.count - 1;
        __builtin_prefetch(&h.head->seq[i - base_of(chunk_of(i))]);
    }
}

void store_acctidx_prefetch(store_acctidx *x, const uint8_t *accounts, size_t n)
{
    /* in two stages: these accounts' entries now; the list tails the entries point to at the
     * next call, a group of transactions later, when the entries are in the cache */
    for (size_t i = 0; i < x->ahead_n; i++)
        prefetch_tail(x, x->ahead[i]);
    store_mem_prefetch(x->entries, TABLE, accounts, KEY, n);
    x->ahead_n = n < AHEAD_MAX ? n : AHEAD_MAX;
    memcpy(x->ahead, accounts + (n - x->ahead_n) * KEY, x->ahead_n * KEY);
}

void store_acctidx_commit(store_acctidx *x)
{
    store_mem_commit(x->entries);
    x->kept = (mark){x->shared, x->own, x->shared != NULL ? x->shared->used : 0, x->seqs};
}

/* Free blocks down to the one a mark names (which stays). */
static void blocks_down_to(store_acctidx *x, block **top, const block *keep)
{
    bool shared = top == &x->shared;
    while (*top != keep) {
        block *b = *top;
        *top = b->prev;
        x->bytes -= sizeof *b + b->cap;
        if (shared)
            store_pages_unmap(b, BLOCK_BYTES);
        else
            free(b);
    }
}

void store_acctidx_abort(store_acctidx *x)
{
    /* the counts go back first; the seqs after them are then unreachable */
    store_mem_abort(x->entries);
    blocks_down_to(x, &x->shared, x->kept.shared);
    blocks_down_to(x, &x->own, x->kept.own);
    if (x->shared != NULL)
        x->shared->used = x->kept.used;
    x->seqs = x->kept.seqs;
}

uint64_t store_acctidx_accounts(const store_acctidx *x)
{
    return store_mem_count(x->entries, TABLE);
}

uint64_t store_acctidx_seqs(const store_acctidx *x)
{
    return x->seqs;
}

uint64_t store_acctidx_bytes(const store_acctidx *x)
{
    return sizeof *x + store_mem_bytes(x->entries) + x->bytes;
}

int store_acctidx_new(store_acctidx **out, uint64_t seed)
{
    store_acctidx *x = calloc(1, sizeof *x);
    *out = NULL;
    if (x == NULL || store_mem_new(&x->entries, seed) != 0) {
        free(x);
        return LEDGER_NO_MEMORY;
    }
    store_mem_inline(x->entries, sizeof(handle));
    *out = x;
    return 0;
}

void store_acctidx_free(store_acctidx **xp)
{
    store_acctidx *x = *xp;
    if (x == NULL)
        return;
    *xp = NULL;
    store_mem_free(&x->entries);
    store_prefault_wait(&x->fault);
    store_pages_unmap(x->spare, BLOCK_BYTES);
    blocks_down_to(x, &x->shared, NULL);
    blocks_down_to(x, &x->own, NULL);
    free(x);
}
