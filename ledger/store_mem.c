/* store_mem.c - hash tables threaded through treaps, with a per-batch undo log */
#include "store_mem.h"

#include <assert.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_error.h"
#include "store_pages.h"

#define TABLES 256
#define BUCKETS_MIN 1024u
#define BUCKETS_MAX ((uint64_t)1 << 32) /* bucket hashes keep 32 bits */
#define HEAP_EXTRA 16 /* what the allocator keeps beside each value block it hands out */

/* Laid out for the walks, in 112 bytes: what find() and a treap step read (bucket hash,
 * children, the key's first 8 bytes, where the value is) fills the first cache line; the batch
 * and checkpoint marks and the element hash the second; then the key and the value (inline
 * after the key while it fits in the store's inline bytes, at most VAL_INLINE: an account is
 * then one slab block of 192 bytes, three lines, read with no further pointer chase). */
typedef struct node {
    struct node *chain;        /* next in the bucket */
    struct node *left, *right; /* treap children */
    uint64_t prefix;           /* the key's first 8 bytes, big-endian, zero-padded */
    uint8_t *val;              /* the inline bytes or a heap block of val_cap */
    uint32_t bucket;           /* the bucket hash's low 32 bits: growing needs no rehash */
    uint32_t prio;             /* treap priority: a max-heap on it */
    uint32_t val_len;
    uint32_t val_cap;
    uint32_t undo_at; /* its undo record, while mark is the current batch */
    uint8_t table, key_len;
    bool gone;     /* deleted: a tombstone, still linked (one node per key) until it is no longer
                      needed: at the end of its batch, or once a capture has emitted it */
    bool in_treap; /* false: on the fresh list, not yet in its table's treap */
    uint64_t mark; /* batch number of the last write (== store's batch: written now) */
    _Atomic uint64_t ck_gen; /* 0 clean; CK_BUSY being emitted; else the array generation it
                                is on (read by a capture's runner on another thread) */
    uint8_t hash[32];
    uint8_t key[]; /* key_len bytes, then the store's inline bytes of value */
} node;

_Static_assert(sizeof(node) == 112, "an entry's header is under two cache lines");

#define VAL_INLINE 32u /* at most, and by default: an account's value, a deposit ref's seq */

enum undo_kind { UNDO_NEW, UNDO_VALUE };

typedef struct undo {
    node *n;
    uint8_t kind;
    bool was_gone;    /* a tombstone before the batch */
    uint32_t old_len; /* UNDO_VALUE: saved value's length */
    size_t old_at;    /* UNDO_VALUE: offset of the saved value in the arena */
    uint8_t old_hash[32];
} undo;

struct store_mem {
    node **buckets;
    uint64_t nbuckets, count, seed, seed2, rng;
    node *roots[TABLES];
    /* entries linked since the treaps were last brought up to date: sorted, built into a treap
     * and joined with their table's in one go (far fewer cache misses than inserting each as
     * it comes), at each commit and before any ordered walk */
    node **fresh;
    size_t fresh_len, fresh_cap;
    uint64_t counts[TABLES];
    store_slab slab;     /* the entries */
    uint64_t bytes;      /* everything else: values on the heap, buckets, the store itself */
    uint64_t heap_vals;  /* values that outgrew their entry's inline bytes */
    uint32_t inline_cap; /* value bytes kept in each entry */
    uint64_t batch;
    undo *undo;
    size_t undo_len, undo_cap;
    uint8_t *arena; /* saved values of this batch */
    size_t arena_len, arena_cap;
    /* checkpoint tracking: entries written since the last capture began (dirty, of generation
     * dirty_gen), and those a running capture still has to emit (pending from pending_at, of
     * dirty_gen - 1); arrays, so a capture can read ahead of where it is */
    bool tracking;
    uint64_t dirty_gen, pending_gen;
    node **dirty, **pending;
    size_t dirty_len, dirty_cap, pending_len, pending_cap;
    store_mem_emit_fn emit; /* the owner's: entries emitted before a write */
    void *emit_ctx;
    bool capturing, emit_failed;
    /* the runner's (store_mem_capture_run, another thread), read by the owner once run_done:
     * tombstones it emitted (the owner frees them), whether an emit failed */
    node **gone;
    size_t gone_len, gone_cap;
    bool run_failed;
    _Atomic bool run_done;
};

#define CK_BUSY UINT64_MAX /* ck_gen while a thread emits the entry */

/* ---- keys, hashing, allocation ------------------------------------------------------------ */

static bool val_inline(const node *n)
{
    return n->val == n->key + n->key_len;
}

static int key_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    return c != 0 ? c : (a_len > b_len) - (a_len < b_len);
}

/* A key's first 8 bytes as a big-endian number, zero-padded: prefixes order as the keys do,
 * and only equal prefixes need the keys themselves. */
static uint64_t key_prefix(const uint8_t *key, size_t len)
{
    uint64_t p = 0;
    for (size_t i = 0; i < 8; i++)
        p = p << 8 | (i < len ? key[i] : 0);
    return p;
}

/* key_cmp of a key whose prefix is known and an entry's key (mostly decided by the prefixes,
 * which the entry keeps in its first cache line). */
static int prefix_cmp(uint64_t prefix, const uint8_t *key, size_t len, const node *n)
{
    if (prefix != n->prefix)
        return prefix < n->prefix ? -1 : 1;
    return key_cmp(key, len, n->key, n->key_len);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* 64 x 64 -> 128-bit product, its halves folded together. */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
    __extension__ unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Keyed with the store's seed: clients choose keys, not where they land. One wide multiply
 * per 16 key bytes (a 32-byte key costs two), then a full mix. */
static uint64_t key_hash(const store_mem *m, unsigned table, const uint8_t *key, size_t len)
{
    uint64_t h = m->seed ^ (table * 0x9e3779b97f4a7c15ull) ^ len, a, b;
    size_t i = 0;
    for (; i + 16 <= len; i += 16) {
        memcpy(&a, key + i, 8);
        memcpy(&b, key + i + 8, 8);
        h = mum(a ^ m->seed2, b ^ h);
    }
    if (i < len) {
        a = b = 0;
        memcpy(&a, key + i, len - i < 8 ? len - i : 8);
        if (len - i > 8)
            memcpy(&b, key + i + 8, len - i - 8);
        h = mum(a ^ m->seed2, b ^ h ^ 0x94d049bb133111ebull);
    }
    return mix(h);
}

static uint32_t next_prio(store_mem *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return (uint32_t)(m->rng >> 32);
}

static bool key_valid(unsigned table, size_t key_len)
{
    return table < TABLES && key_len > 0 && key_len <= LEDGER_KEY_MAX;
}

/* Make room for len bytes of value. Returns: false when out of memory. */
static bool val_reserve(store_mem *m, node *n, size_t len)
{
    if (len <= n->val_cap)
        return true;
    if (len > UINT32_MAX)
        return false;
    bool was_inline = val_inline(n);
    uint8_t *v = was_inline ? malloc(len) : realloc(n->val, len);
    if (v == NULL)
        return false;
    if (was_inline) { /* the inline bytes stay allocated, unused */
        memcpy(v, n->val, n->val_len);
        m->bytes += len + HEAP_EXTRA;
        m->heap_vals++;
    } else {
        m->bytes += len - n->val_cap;
    }
    n->val = v;
    n->val_cap = (uint32_t)len;
    return true;
}

static void node_free(store_mem *m, node *n)
{
    if (!val_inline(n)) {
        m->bytes -= n->val_cap + HEAP_EXTRA;
        m->heap_vals--;
        free(n->val);
    }
    store_slab_free(&m->slab, n, sizeof *n + n->key_len + m->inline_cap);
}

/* ---- the treap ---------------------------------------------------------------------------- */

static node *rotate_right(node *t)
{
    node *l = t->left;
    t->left = l->right;
    l->right = t;
    return l;
}

static node *rotate_left(node *t)
{
    node *r = t->right;
    t->right = r->left;
    r->left = t;
    return r;
}

static node *treap_insert(node *t, node *n)
{
    if (t == NULL)
        return n;
    if (prefix_cmp(n->prefix, n->key, n->key_len, t) < 0) {
        t->left = treap_insert(t->left, n);
        if (t->left->prio > t->prio)
            t = rotate_right(t);
    } else {
        t->right = treap_insert(t->right, n);
        if (t->right->prio > t->prio)
            t = rotate_left(t);
    }
    return t;
}

static node *treap_merge(node *a, node *b)
{
    if (a == NULL)
        return b;
    if (b == NULL)
        return a;
    if (a->prio > b->prio) {
        a->right = treap_merge(a->right, b);
        return a;
    }
    b->left = treap_merge(a, b->left);
    return b;
}

static node *treap_remove(node *t, const node *n)
{
    if (t == n)
        return treap_merge(t->left, t->right);
    if (prefix_cmp(n->prefix, n->key, n->key_len, t) < 0)
        t->left = treap_remove(t->left, n);
    else
        t->right = treap_remove(t->right, n);
    return t;
}

/* The first entry whose key sorts strictly after (key, len); len 0: the first entry. */
static node *treap_after(node *t, const uint8_t *key, size_t len)
{
    node *best = NULL;
    uint64_t prefix = key_prefix(key, len);
    while (t != NULL) {
        if (len == 0 || prefix_cmp(prefix, key, len, t) < 0) {
            best = t;
            t = t->left;
        } else {
            t = t->right;
        }
    }
    return best;
}

/* ---- the hash table ----------------------------------------------------------------------- */

static node *find(const store_mem *m, unsigned table, const uint8_t *key, size_t len)
{
    uint64_t h = key_hash(m, table, key, len);
    for (node *n = m->buckets[h & (m->nbuckets - 1)]; n != NULL; n = n->chain)
        if (n->bucket == (uint32_t)h && n->table == table && n->key_len == len &&
            memcmp(n->key, key, len) == 0)
            return n;
    return NULL;
}

/* A zeroed bucket array (one bucket read per lookup, at random). */
static node **buckets_new(uint64_t nb)
{
    return store_pages_array(nb, sizeof(node *));
}

static void buckets_free(node **b, uint64_t nb)
{
    store_pages_array_free(b, nb, sizeof(node *));
}

/* Double the bucket array when entries outnumber buckets. Failure only costs speed. */
static void maybe_grow(store_mem *m)
{
    if (m->count < m->nbuckets || m->nbuckets >= BUCKETS_MAX)
        return;
    uint64_t nb = m->nbuckets * 2;
    node **b = buckets_new(nb);
    if (b == NULL)
        return;
    for (uint64_t i = 0; i < m->nbuckets; i++)
        for (node *n = m->buckets[i], *next; n != NULL; n = next) {
            next = n->chain;
            n->chain = b[n->bucket & (nb - 1)];
            b[n->bucket & (nb - 1)] = n;
        }
    buckets_free(m->buckets, m->nbuckets);
    m->bytes += (nb - m->nbuckets) * sizeof *b;
    m->buckets = b;
    m->nbuckets = nb;
}

static int fresh_cmp(const void *a, const void *b)
{
    const node *x = *(node *const *)a, *y = *(node *const *)b;
    if (x->table != y->table)
        return x->table < y->table ? -1 : 1;
    return prefix_cmp(x->prefix, x->key, x->key_len, y);
}

/* The sorted run n[0..len) of one table as one treap: a Cartesian tree on prio, built left to
 * right with its right spine kept in n itself (the spine never outgrows the entries read). */
static node *treap_build(node **n, size_t len)
{
    size_t sp = 0;
    for (size_t i = 0; i < len; i++) {
        node *x = n[i], *last = NULL;
        while (sp > 0 && n[sp - 1]->prio < x->prio)
            last = n[--sp];
        x->left = last;
        x->right = NULL;
        if (sp > 0)
            n[sp - 1]->right = x;
        n[sp++] = x;
    }
    return sp > 0 ? n[0] : NULL;
}

/* Split t into the entries before k's key (*l) and after it (*r); k's key is not in t. */
static void treap_split(node *t, const node *k, node **l, node **r)
{
    while (t != NULL) {
        if (prefix_cmp(k->prefix, k->key, k->key_len, t) > 0) {
            *l = t;
            l = &t->right;
            t = t->right;
        } else {
            *r = t;
            r = &t->left;
            t = t->left;
        }
    }
    *l = *r = NULL;
}

/* The union of two treaps with no key in common. It visits only the paths the smaller one's
 * keys split the larger along: for k entries joining n, about k log(n / k) entries instead of
 * the k log n of inserting each (the cache misses of a setup that creates millions). */
static node *treap_union(node *a, node *b)
{
    if (a == NULL || b == NULL)
        return a != NULL ? a : b;
    if (a->prio < b->prio) {
        node *t = a;
        a = b;
        b = t;
    }
    node *l, *r;
    treap_split(b, a, &l, &r);
    a->left = treap_union(a->left, l);
    a->right = treap_union(a->right, r);
    return a;
}

/* Bring the fresh entries into their treaps: sorted, each table's run built into a treap of
 * its own, then joined with the table's. */
static void treaps_update(store_mem *m)
{
    if (m->fresh_len == 0)
        return;
    qsort(m->fresh, m->fresh_len, sizeof *m->fresh, fresh_cmp);
    for (size_t i = 0, end; i < m->fresh_len; i = end) {
        unsigned table = m->fresh[i]->table;
        for (end = i; end < m->fresh_len && m->fresh[end]->table == table; end++)
            m->fresh[end]->in_treap = true;
        m->roots[table] = treap_union(m->roots[table], treap_build(m->fresh + i, end - i));
    }
    m->fresh_len = 0;
}

static void link_in(store_mem *m, node *n)
{
    node **slot = &m->buckets[n->bucket & (m->nbuckets - 1)];
    n->chain = *slot;
    *slot = n;
    n->left = n->right = NULL;
    if (m->fresh_len == m->fresh_cap) {
        size_t cap = m->fresh_cap ? m->fresh_cap * 2 : 1024;
        node **f = realloc(m->fresh, cap * sizeof *f);
        if (f != NULL) {
            m->fresh = f;
            m->fresh_cap = cap;
        }
    }
    if (m->fresh_len < m->fresh_cap) {
        m->fresh[m->fresh_len++] = n;
        n->in_treap = false;
    } else { /* no room to defer it: insert it now */
        m->roots[n->table] = treap_insert(m->roots[n->table], n);
        n->in_treap = true;
    }
    m->counts[n->table] += !n->gone;
    m->count++;
    maybe_grow(m);
}

static void unlink_out(store_mem *m, node *n)
{
    node **p = &m->buckets[n->bucket & (m->nbuckets - 1)];
    while (*p != n)
        p = &(*p)->chain;
    *p = n->chain;
    if (n->in_treap) {
        m->roots[n->table] = treap_remove(m->roots[n->table], n);
    } else { /* on the fresh list: mostly its last entry (an abort undoes newest first) */
        size_t i = m->fresh_len;
        while (i > 0 && m->fresh[i - 1] != n)
            i--;
        if (i > 0)
            m->fresh[i - 1] = m->fresh[--m->fresh_len];
    }
    m->counts[n->table] -= !n->gone;
    m->count--;
}

/* Mark an entry deleted or present again (it stays linked either way). */
static void set_gone(store_mem *m, node *n, bool gone)
{
    if (n->gone == gone)
        return;
    n->gone = gone;
    if (gone)
        m->counts[n->table]--;
    else
        m->counts[n->table]++;
}

static node *node_new(store_mem *m, unsigned table, const uint8_t *key, size_t len)
{
    node *n = store_slab_alloc(&m->slab, sizeof *n + len + m->inline_cap);
    if (n == NULL)
        return NULL;
    n->table = (uint8_t)table;
    n->key_len = (uint8_t)len;
    memcpy(n->key, key, len);
    n->prefix = key_prefix(key, len);
    n->val = n->key + len;
    n->val_cap = m->inline_cap;
    n->bucket = (uint32_t)key_hash(m, table, key, len);
    n->prio = next_prio(m);
    return n;
}

/* ---- the undo log ------------------------------------------------------------------------- */

/* Room on the dirty array for every entry the batch has logged and one more (each undo record
 * puts at most one entry on it, at the commit, which cannot fail). */
static bool dirty_reserve(store_mem *m)
{
    size_t need = m->dirty_len + m->undo_len + 1;
    if (!m->tracking || need <= m->dirty_cap)
        return true;
    size_t cap = m->dirty_cap ? m->dirty_cap * 2 : 1024;
    while (cap < need)
        cap *= 2;
    node **d = realloc(m->dirty, cap * sizeof *d);
    if (d == NULL)
        return false;
    m->dirty = d;
    m->dirty_cap = cap;
    return true;
}

static undo *undo_push(store_mem *m, node *n, enum undo_kind kind)
{
    if (!dirty_reserve(m))
        return NULL;
    if (m->undo_len == m->undo_cap) {
        size_t cap = m->undo_cap ? m->undo_cap * 2 : 256;
        undo *u = realloc(m->undo, cap * sizeof *u);
        if (u == NULL)
            return NULL;
        m->undo = u;
        m->undo_cap = cap;
    }
    undo *u = &m->undo[m->undo_len];
    u->n = n;
    u->kind = (uint8_t)kind;
    u->was_gone = n->gone;
    u->old_len = n->val_len;
    memcpy(u->old_hash, n->hash, 32);
    n->mark = m->batch;
    n->undo_at = (uint32_t)m->undo_len++;
    return u;
}

static void claim(store_mem *m, node *n);

/* Copy the first len bytes of n's value into the arena. Returns: false on no memory. */
static bool arena_save(store_mem *m, undo *u, const node *n, size_t len)
{
    if (m->arena_cap - m->arena_len < len) {
        size_t cap = m->arena_cap ? m->arena_cap : 65536;
        while (cap - m->arena_len < len)
            cap *= 2;
        uint8_t *a = realloc(m->arena, cap);
        if (a == NULL)
            return false;
        m->arena = a;
        m->arena_cap = cap;
    }
    u->old_at = m->arena_len;
    if (len > 0)
        memcpy(m->arena + m->arena_len, n->val, len);
    m->arena_len += len;
    return true;
}

static bool save_before(store_mem *m, node *n)
{
    if (n->mark == m->batch)
        return true;
    if (m->capturing)
        claim(m, n); /* the capture needs the value as of its start: emit it first */
    undo *u = undo_push(m, n, UNDO_VALUE);
    if (u == NULL)
        return false;
    if (!arena_save(m, u, n, n->val_len)) {
        m->undo_len--; /* not logged after all: the entry is unchanged */
        n->mark = m->batch - 1;
        return false;
    }
    return true;
}

/* A new entry, linked in and logged. Returns: NULL on no memory. */
static node *create(store_mem *m, unsigned table, const uint8_t *key, size_t len)
{
    node *n = node_new(m, table, key, len);
    if (n == NULL)
        return NULL;
    n->mark = m->batch - 1;
    if (undo_push(m, n, UNDO_NEW) == NULL) {
        node_free(m, n);
        return NULL;
    }
    link_in(m, n);
    return n;
}

static void batch_reset(store_mem *m)
{
    m->undo_len = 0;
    m->arena_len = 0;
    m->batch++;
}

/* Put a written entry on the dirty array (once per generation; room kept by dirty_reserve). */
static void mark_dirty(store_mem *m, node *n)
{
    if (atomic_load_explicit(&n->ck_gen, memory_order_relaxed) == m->dirty_gen)
        return;
    atomic_store_explicit(&n->ck_gen, m->dirty_gen, memory_order_release);
    m->dirty[m->dirty_len++] = n;
}

void store_mem_commit(store_mem *m)
{
    treaps_update(m);
    for (size_t i = 0; i < m->undo_len; i++) {
        node *n = m->undo[i].n;
        if (m->tracking) {
            mark_dirty(m, n); /* a tombstone stays until a capture has emitted it */
        } else if (n->gone) {
            unlink_out(m, n);
            node_free(m, n);
        }
    }
    batch_reset(m);
}

void store_mem_abort(store_mem *m)
{
    for (size_t i = m->undo_len; i-- > 0;) {
        undo *u = &m->undo[i];
        node *n = u->n;
        if (u->kind == UNDO_NEW) {
            unlink_out(m, n);
            node_free(m, n);
            continue;
        }
        if (u->kind == UNDO_VALUE && u->old_len > 0) /* it was at most this long when saved */
            memcpy(n->val, m->arena + u->old_at, u->old_len);
        n->val_len = u->old_len;
        memcpy(n->hash, u->old_hash, 32);
        set_gone(m, n, u->was_gone);
    }
    batch_reset(m);
}

#define CHANGED_AHEAD 4 /* entries `changed` hints ahead of the one it visits */

int store_mem_changed(store_mem *m, ledger_changed_fn fn, void *ctx)
{
    for (size_t i = 0; i < m->undo_len; i++) {
        if (i + CHANGED_AHEAD < m->undo_len) {
            const char *a = (const char *)m->undo[i + CHANGED_AHEAD].n;
            __builtin_prefetch(a + 64);
            __builtin_prefetch(a + 128);
        }
        undo *u = &m->undo[i];
        node *n = u->n;
        bool had = u->kind != UNDO_NEW && !u->was_gone;
        if (!had && n->gone)
            continue; /* absent before and after this batch: nothing changed */
        fn(ctx, n->table, n->key, n->key_len, n->gone ? NULL : n->val, n->gone ? 0 : n->val_len,
           had ? u->old_hash : NULL, n->gone ? NULL : n->hash);
    }
    return 0;
}

/* ---- the view ----------------------------------------------------------------------------- */

static int view_get(void *self, unsigned table, const uint8_t *key, size_t key_len,
                    const uint8_t **val, size_t *val_len)
{
    store_mem *m = self;
    if (!key_valid(table, key_len))
        return LEDGER_STORE_NOTFOUND;
    node *n = find(m, table, key, key_len);
    if (n == NULL || n->gone)
        return LEDGER_STORE_NOTFOUND;
    *val = n->val;
    *val_len = n->val_len;
    return 0;
}

/* The entry of (table, key), found or made, logged for abort and with room for size bytes of
 * value. Out: *out. Returns: 0, LEDGER_STORE_IO (key or size out of range) or
 * LEDGER_NO_MEMORY (a new entry stays, empty, until abort). */
static int writable(store_mem *m, unsigned table, const uint8_t *key, size_t key_len, size_t size,
                    node **out)
{
    if (!key_valid(table, key_len) || size > UINT32_MAX)
        return LEDGER_STORE_IO;
    node *n = find(m, table, key, key_len);
    if (n == NULL)
        n = create(m, table, key, key_len);
    else if (!save_before(m, n))
        return LEDGER_NO_MEMORY;
    if (n == NULL || !val_reserve(m, n, size))
        return LEDGER_NO_MEMORY;
    *out = n;
    return 0;
}

static int view_put(void *self, unsigned table, const uint8_t *key, size_t key_len,
                    const uint8_t *val, size_t val_len)
{
    store_mem *m = self;
    node *n;
    int rc = writable(m, table, key, key_len, val_len, &n);
    if (rc != 0)
        return rc;
    if (val_len > 0)
        memcpy(n->val, val, val_len);
    n->val_len = (uint32_t)val_len;
    set_gone(m, n, false);
    return 0;
}

static int view_del(void *self, unsigned table, const uint8_t *key, size_t key_len)
{
    store_mem *m = self;
    if (!key_valid(table, key_len))
        return LEDGER_STORE_IO;
    node *n = find(m, table, key, key_len);
    if (n == NULL || n->gone)
        return 0;
    if (!save_before(m, n))
        return LEDGER_NO_MEMORY;
    set_gone(m, n, true);
    return 0;
}

static int view_next(void *self, unsigned table, const uint8_t *key, size_t key_len,
                     const uint8_t **key_out, size_t *key_out_len, const uint8_t **val,
                     size_t *val_len)
{
    store_mem *m = self;
    if (table >= TABLES || key_len > LEDGER_KEY_MAX)
        return LEDGER_STORE_IO;
    treaps_update(m);
    node *n = treap_after(m->roots[table], key, key_len);
    while (n != NULL && n->gone) /* tombstones waiting for a capture */
        n = treap_after(m->roots[table], n->key, n->key_len);
    if (n == NULL)
        return LEDGER_STORE_NOTFOUND;
    *key_out = n->key;
    *key_out_len = n->key_len;
    *val = n->val;
    *val_len = n->val_len;
    return 0;
}

static int view_changed(void *self, ledger_changed_fn fn, void *ctx)
{
    return store_mem_changed(self, fn, ctx);
}

#define PREFETCH_MAX 1024

static void prefetch_entry(const node *e, size_t key_len)
{
    __builtin_prefetch(e);
    __builtin_prefetch(e->hash);
    __builtin_prefetch(e->key + key_len);
}

#define PREFETCH_CHAIN 2 /* chain steps followed past a bucket's first entry */

void store_mem_prefetch(store_mem *m, unsigned table, const uint8_t *keys, size_t key_len, size_t n)
{
    uint64_t h[PREFETCH_MAX];
    const node *e[PREFETCH_MAX];
    if (!key_valid(table, key_len))
        return;
    for (size_t at = 0; at < n; at += PREFETCH_MAX) {
        size_t k = n - at < PREFETCH_MAX ? n - at : PREFETCH_MAX;
        /* passes, each a dependent load further: the bucket; its first entry's lines (header,
         * hash, key and inline value); while that entry is another key's (by its bucket hash,
         * in the header line fetched a pass before), the next in the chain; a value that
         * outgrew the entry */
        for (size_t i = 0; i < k; i++) {
            h[i] = key_hash(m, table, keys + (at + i) * key_len, key_len);
            __builtin_prefetch(&m->buckets[h[i] & (m->nbuckets - 1)]);
        }
        for (size_t i = 0; i < k; i++) {
            e[i] = m->buckets[h[i] & (m->nbuckets - 1)];
            if (e[i] != NULL)
                prefetch_entry(e[i], key_len);
        }
        for (int step = 0; step < PREFETCH_CHAIN; step++)
            for (size_t i = 0; i < k; i++)
                if (e[i] != NULL && e[i]->bucket != (uint32_t)h[i] && (e[i] = e[i]->chain) != NULL)
                    prefetch_entry(e[i], key_len);
        for (size_t i = 0; i < k; i++)
            if (e[i] != NULL && !val_inline(e[i]))
                __builtin_prefetch(e[i]->val + e[i]->val_len);
    }
}

static void view_prefetch(void *self, unsigned table, const uint8_t *keys, size_t key_len, size_t n)
{
    store_mem_prefetch(self, table, keys, key_len, n);
}

void store_mem_view(store_mem *m, ledger_store *view)
{
    *view = (ledger_store){.self = m,
                           .get = view_get,
                           .put = view_put,
                           .del = view_del,
                           .next = view_next,
                           .changed = view_changed,
                           .prefetch = view_prefetch};
}

/* ---- checkpoint capture ------------------------------------------------------------------- */

/* An entry of the running capture (ck_gen == pending_gen) is emitted exactly once, by whichever
 * thread first moves its ck_gen to CK_BUSY: the runner walking the pending array, or the owner
 * about to write it. The emitter sets ck_gen to 0 (clean) with release order once the value is
 * copied; the owner reads ck_gen with acquire order before it writes an entry, so the runner's
 * reads of a value happen before the owner's writes to it. */

void store_mem_track(store_mem *m)
{
    m->tracking = true;
}

int store_mem_capture_begin(store_mem *m, store_mem_emit_fn emit, void *ctx)
{
    if (!m->tracking || m->capturing || m->undo_len > 0)
        return LEDGER_INTERNAL;
    node **was = m->pending; /* the finished capture's array is the next dirty one */
    size_t was_cap = m->pending_cap;
    m->pending = m->dirty;
    m->pending_len = m->dirty_len;
    m->pending_cap = m->dirty_cap;
    m->dirty = was;
    m->dirty_cap = was_cap;
    m->dirty_len = 0;
    m->pending_gen = m->dirty_gen++;
    m->emit = emit;
    m->emit_ctx = ctx;
    m->capturing = true;
    m->emit_failed = false;
    m->run_failed = false;
    m->gone_len = 0;
    atomic_store_explicit(&m->run_done, false, memory_order_relaxed);
    return 0;
}

/* The owner, before it writes n during a capture: emit n first if it is still to be emitted,
 * or wait while the runner emits it (a copy of one value: the wait is short). */
static void claim(store_mem *m, node *n)
{
    for (unsigned spins = 0;; spins++) {
        uint64_t g = atomic_load_explicit(&n->ck_gen, memory_order_acquire);
        if (g == CK_BUSY) {
            if (spins >= 64)
                sched_yield(); /* the runner was preempted holding it */
            continue;
        }
        if (g != m->pending_gen)
            return; /* not in the capture, or already emitted */
        if (!atomic_compare_exchange_weak_explicit(&n->ck_gen, &g, CK_BUSY, memory_order_acquire,
                                                   memory_order_relaxed))
            continue;
        if (!m->emit(m->emit_ctx, n->table, n->key, n->key_len, n->gone ? NULL : n->val,
                     n->gone ? 0 : n->val_len))
            m->emit_failed = true;
        atomic_store_explicit(&n->ck_gen, 0, memory_order_release);
        return;
    }
}

/* Note a tombstone the runner emitted, for the owner to free. Returns: false on no memory
 * (it then stays linked: harmless, it is only not reclaimed). */
static bool gone_push(store_mem *m, node *n)
{
    if (m->gone_len == m->gone_cap) {
        size_t cap = m->gone_cap ? m->gone_cap * 2 : 256;
        node **g = realloc(m->gone, cap * sizeof *g);
        if (g == NULL)
            return false;
        m->gone = g;
        m->gone_cap = cap;
    }
    m->gone[m->gone_len++] = n;
    return true;
}

#define CAPTURE_AHEAD 8 /* entries the runner hints ahead of the one it emits */

int store_mem_capture_run(store_mem *m, store_mem_emit_fn emit, void *ctx)
{
    const uint64_t g = m->pending_gen;
    bool failed = false;
    for (size_t i = 0; i < m->pending_len; i++) {
        if (i + CAPTURE_AHEAD < m->pending_len) {
            const char *a = (const char *)m->pending[i + CAPTURE_AHEAD];
            __builtin_prefetch(a); /* by offset: reading its key_len would wait for it */
            __builtin_prefetch(a + 64);
            __builtin_prefetch(a + 128);
        }
        node *n = m->pending[i];
        uint64_t want = g;
        if (atomic_load_explicit(&n->ck_gen, memory_order_relaxed) != g ||
            !atomic_compare_exchange_strong_explicit(&n->ck_gen, &want, CK_BUSY,
                                                     memory_order_acquire, memory_order_relaxed))
            continue; /* emitted by the owner before it wrote it */
        if (!emit(ctx, n->table, n->key, n->key_len, n->gone ? NULL : n->val,
                  n->gone ? 0 : n->val_len))
            failed = true;
        if (n->gone)
            (void)gone_push(m, n);
        atomic_store_explicit(&n->ck_gen, 0, memory_order_release);
    }
    m->run_failed = failed;
    atomic_store_explicit(&m->run_done, true, memory_order_release);
    return failed ? LEDGER_NO_MEMORY : 0;
}

int store_mem_capture_end(store_mem *m, bool *done)
{
    *done = false;
    if (!m->capturing || m->undo_len > 0)
        return LEDGER_INTERNAL;
    if (!atomic_load_explicit(&m->run_done, memory_order_acquire))
        return 0;
    for (size_t i = 0; i < m->gone_len; i++) {
        node *n = m->gone[i]; /* emitted as deleted: free it unless written since */
        if (n->gone && atomic_load_explicit(&n->ck_gen, memory_order_relaxed) == 0) {
            unlink_out(m, n);
            node_free(m, n);
        }
    }
    m->gone_len = 0;
    m->capturing = false;
    *done = true;
    return m->emit_failed || m->run_failed ? LEDGER_NO_MEMORY : 0;
}

uint64_t store_mem_dirty(const store_mem *m)
{
    return m->dirty_len;
}

/* ---- the rest ----------------------------------------------------------------------------- */

int store_mem_edit(store_mem *m, unsigned table, const uint8_t *key, size_t key_len, size_t size,
                   uint8_t **val)
{
    node *n;
    int rc = writable(m, table, key, key_len, size, &n);
    if (rc != 0)
        return rc;
    size_t kept = n->gone ? 0 : n->val_len < size ? n->val_len : size;
    memset(n->val + kept, 0, size - kept);
    n->val_len = (uint32_t)size;
    set_gone(m, n, false);
    *val = n->val;
    return 0;
}

int store_mem_load(store_mem *m, unsigned table, const uint8_t *key, size_t key_len,
                   const uint8_t *val, size_t val_len, const uint8_t hash[32])
{
    if (!key_valid(table, key_len) || val_len > UINT32_MAX)
        return LEDGER_STORE_IO;
    if (find(m, table, key, key_len) != NULL)
        return LEDGER_STORE_CORRUPT;
    node *n = node_new(m, table, key, key_len);
    if (n == NULL || !val_reserve(m, n, val_len)) {
        if (n != NULL)
            node_free(m, n);
        return LEDGER_NO_MEMORY;
    }
    if (val_len > 0)
        memcpy(n->val, val, val_len);
    n->val_len = (uint32_t)val_len;
    memcpy(n->hash, hash, 32);
    n->mark = m->batch - 1;
    link_in(m, n);
    return 0;
}

uint64_t store_mem_count(const store_mem *m, unsigned table)
{
    return table < TABLES ? m->counts[table] : 0;
}

uint64_t store_mem_bytes(const store_mem *m)
{
    return m->slab.mapped + m->bytes + m->undo_cap * sizeof(undo) + m->arena_cap +
           (m->dirty_cap + m->pending_cap) * sizeof(node *);
}

int store_mem_new(store_mem **out, uint64_t seed)
{
    store_mem *m = calloc(1, sizeof *m);
    *out = NULL;
    if (m == NULL)
        return LEDGER_NO_MEMORY;
    m->nbuckets = BUCKETS_MIN;
    m->buckets = buckets_new(m->nbuckets);
    if (m->buckets == NULL) {
        free(m);
        return LEDGER_NO_MEMORY;
    }
    m->bytes = sizeof *m + m->nbuckets * sizeof *m->buckets;
    m->seed = mix(seed);
    m->seed2 = mix(m->seed ^ 0xa0761d6478bd642full);
    m->rng = mix(seed ^ 0x5851f42d4c957f2dull) | 1;
    m->batch = 2;     /* marks start at 0: never the current batch */
    m->dirty_gen = 2; /* generations start at 0 too: clean */
    m->inline_cap = VAL_INLINE;
    *out = m;
    return 0;
}

void store_mem_inline(store_mem *m, uint32_t bytes)
{
    if (m->count == 0)
        m->inline_cap = bytes < VAL_INLINE ? bytes : VAL_INLINE;
}

void store_mem_free(store_mem **mp)
{
    store_mem *m = *mp;
    if (m == NULL)
        return;
    *mp = NULL;
    store_mem_abort(m);
    for (uint64_t i = 0; i < m->nbuckets && m->heap_vals > 0; i++) /* tombstones are linked too */
        for (node *n = m->buckets[i]; n != NULL; n = n->chain)
            if (!val_inline(n)) {
                free(n->val);
                m->heap_vals--;
            }
    store_slab_release(&m->slab);
    buckets_free(m->buckets, m->nbuckets);
    free(m->fresh);
    free(m->dirty);
    free(m->pending);
    free(m->gone);
    free(m->undo);
    free(m->arena);
    free(m);
}
