/* test_store_mem.c - the in-memory store against a model: order, undo, changes, captures */
#include <stdlib.h>
#include <string.h>

#include "ledger_error.h"
#include "store_mem.h"
#include "store_txindex.h"
#include "test_util.h"

#define TABLES 3   /* tables 2, 3, 4 */
#define KEYS 48    /* per table: small, so entries are rewritten, deleted and recreated often */
#define VAL_MAX 40 /* value lengths 0..VAL_MAX: empty ones, and past the 32 bytes kept inline */

typedef struct entry {
    bool present;
    uint8_t len, val[VAL_MAX];
} entry;

typedef entry model[TABLES][KEYS];

static unsigned table_of(int t)
{
    return (unsigned)(2 + t);
}

/* Distinct keys of 2..4 bytes sharing prefixes (the first two bytes tell them apart), so the
 * byte-then-length order is exercised. */
static size_t key_of(int k, uint8_t out[4])
{
    out[0] = (uint8_t)(k / 8);
    out[1] = (uint8_t)(k % 8);
    out[2] = 0;
    out[3] = (uint8_t)k;
    return 2 + (size_t)(k % 3);
}

static int key_cmp(int a, int b)
{
    uint8_t ka[4], kb[4];
    size_t la = key_of(a, ka), lb = key_of(b, kb);
    int c = memcmp(ka, kb, la < lb ? la : lb);
    return c != 0 ? c : (la > lb) - (la < lb);
}

/* Every entry of the model is in the store with its value, and `next` walks exactly the
 * model's entries in key order. */
static void check_equal(store_mem *m, model md)
{
    ledger_store v;
    store_mem_view(m, &v);
    for (int t = 0; t < TABLES; t++) {
        uint64_t n = 0;
        for (int k = 0; k < KEYS; k++) {
            uint8_t key[4];
            size_t kl = key_of(k, key);
            const uint8_t *val;
            size_t len;
            int rc = v.get(v.self, table_of(t), key, kl, &val, &len);
            const entry *e = &md[t][k];
            CHECK_CODE(rc, e->present ? 0 : LEDGER_STORE_NOTFOUND);
            if (rc == 0 && e->present) {
                CHECK(val != NULL);
                CHECK_U64(len, e->len);
                CHECK(len == 0 || memcmp(val, e->val, len) == 0);
            }
            n += e->present;
        }
        CHECK_U64(store_mem_count(m, table_of(t)), n);
        /* the walk: strictly increasing, and exactly the present keys */
        const uint8_t *k = NULL, *val;
        size_t kn = 0, vn;
        uint64_t seen = 0;
        int last = -1;
        while (v.next(v.self, table_of(t), k, kn, &k, &kn, &val, &vn) == 0) {
            int found = -1;
            for (int i = 0; i < KEYS; i++) {
                uint8_t key[4];
                size_t kl = key_of(i, key);
                if (kl == kn && memcmp(key, k, kn) == 0)
                    found = i;
            }
            CHECK(found >= 0 && md[t][found].present);
            CHECK(last < 0 || (found >= 0 && key_cmp(last, found) < 0));
            last = found;
            seen++;
        }
        CHECK_U64(seen, n);
    }
}

/* One random write to the store and the model. */
static void write_one(store_mem *m, model md, test_rng *r)
{
    ledger_store v;
    uint8_t key[4], val[VAL_MAX];
    int t = (int)test_rng_below(r, TABLES), k = (int)test_rng_below(r, KEYS);
    size_t kl = key_of(k, key), len = test_rng_below(r, VAL_MAX + 1);
    entry *e = &md[t][k];
    store_mem_view(m, &v);
    test_rng_fill(r, val, len);
    switch (test_rng_below(r, 3)) {
    case 0:
        CHECK_CODE(v.del(v.self, table_of(t), key, kl), 0);
        e->present = false;
        break;
    case 1: /* append, as the account-history index does */
        if (e->present && e->len + len <= VAL_MAX) {
            CHECK_CODE(store_mem_append(m, table_of(t), key, kl, val, len), 0);
            memcpy(e->val + e->len, val, len);
            e->len = (uint8_t)(e->len + len);
            break;
        }
        /* fall through */
    default:
        CHECK_CODE(v.put(v.self, table_of(t), key, kl, val, len), 0);
        e->present = true;
        e->len = (uint8_t)len;
        memcpy(e->val, val, len);
    }
}

typedef struct changes {
    model *before, *after;
    uint64_t visits;
    bool seen[TABLES][KEYS];
} changes;

static int index_of(const uint8_t *key, size_t kn)
{
    for (int i = 0; i < KEYS; i++) {
        uint8_t k[4];
        size_t kl = key_of(i, k);
        if (kl == kn && memcmp(k, key, kn) == 0)
            return i;
    }
    return -1;
}

/* `changed` hands each written entry once: its value now (NULL when gone) and whether it was
 * there before the batch. */
static void on_changed(void *ctx, unsigned table, const uint8_t *key, size_t key_len,
                       const uint8_t *val, size_t val_len, const uint8_t *old_hash,
                       uint8_t *new_hash)
{
    changes *c = ctx;
    int t = (int)table - 2, k = index_of(key, key_len);
    c->visits++;
    CHECK(t >= 0 && t < TABLES && k >= 0);
    if (t < 0 || t >= TABLES || k < 0)
        return;
    CHECK(!c->seen[t][k]);
    c->seen[t][k] = true;
    const entry *a = &(*c->after)[t][k];
    CHECK(a->present == (val != NULL));
    CHECK((new_hash != NULL) == (val != NULL));
    if (val != NULL && a->present)
        CHECK(val_len == a->len && (val_len == 0 || memcmp(val, a->val, val_len) == 0));
    CHECK((old_hash != NULL) == (*c->before)[t][k].present);
}

typedef struct snapshot {
    model held; /* what a checkpoint built from the captures so far holds */
    bool fail_next;
} snapshot;

static bool on_emit(void *ctx, unsigned table, const uint8_t *key, size_t key_len,
                    const uint8_t *val, size_t val_len)
{
    snapshot *s = ctx;
    int t = (int)table - 2, k = index_of(key, key_len);
    CHECK(t >= 0 && t < TABLES && k >= 0 && val_len <= VAL_MAX);
    if (t < 0 || t >= TABLES || k < 0 || val_len > VAL_MAX)
        return true;
    entry *e = &s->held[t][k];
    e->present = val != NULL;
    e->len = (uint8_t)val_len;
    if (val_len > 0)
        memcpy(e->val, val, val_len);
    return true;
}

static bool same(model a, model b)
{
    for (int t = 0; t < TABLES; t++)
        for (int k = 0; k < KEYS; k++) {
            const entry *x = &a[t][k], *y = &b[t][k];
            if (x->present != y->present ||
                (x->present && (x->len != y->len || memcmp(x->val, y->val, x->len) != 0)))
                return false;
        }
    return true;
}

/* Batches of random writes, each kept or undone; after each, the store equals the model.
 * Captures begin now and then and run a few entries per batch: each, once complete, brings
 * the checkpoint to exactly the state at its beginning, whatever was written meanwhile. */
static void walk(uint64_t seed, uint64_t steps)
{
    store_mem *m;
    test_rng r;
    static model md, before, at_begin;
    static snapshot snap;
    bool capturing = false;
    memset(md, 0, sizeof md);
    memset(&snap, 0, sizeof snap);
    test_rng_seed(&r, seed);
    CHECK_CODE(store_mem_new(&m, seed), 0);
    store_mem_inline(m, (uint32_t)(seed % 3) * 16); /* 0, 16 or 32 value bytes in the entry */
    store_mem_track(m);
    for (uint64_t step = 0; step < steps; step++) {
        memcpy(before, md, sizeof md);
        uint64_t writes = 1 + test_rng_below(&r, 12);
        for (uint64_t w = 0; w < writes; w++)
            write_one(m, md, &r);
        if (test_rng_below(&r, 3) == 0)
            check_equal(m, md); /* mid-batch: a walk sees the batch's new entries (then undone) */
        changes c = {&before, &md, 0, {{false}}};
        store_mem_changed(m, on_changed, &c);
        if (test_rng_below(&r, 4) == 0) {
            store_mem_abort(m);
            memcpy(md, before, sizeof md);
        } else {
            store_mem_commit(m);
        }
        check_equal(m, md);
        if (!capturing && test_rng_below(&r, 8) == 0) {
            CHECK_CODE(store_mem_capture_begin(m, on_emit, &snap), 0);
            CHECK_CODE(store_mem_capture_begin(m, on_emit, &snap), LEDGER_INTERNAL);
            memcpy(at_begin, md, sizeof md);
            capturing = true;
        }
        bool done = false;
        if (capturing) {
            CHECK_CODE(store_mem_capture_step(m, test_rng_below(&r, 6), &done), 0);
        }
        if (done) {
            CHECK(same(snap.held, at_begin));
            capturing = false;
        }
    }
    store_mem_free(&m);
}

/* ---- the tx-hash index ---------------------------------------------------------------------- */

typedef struct tx_model {
    uint8_t (*hash)[32]; /* hash of seq i at i (seq 0 unused) */
    uint64_t n;          /* seqs 1..n-1 are indexed */
} tx_model;

typedef struct probe {
    const tx_model *md;
    const uint8_t *hash;
} probe;

static bool has_hash(void *ctx, uint64_t seq)
{
    probe *p = ctx;
    return seq < p->md->n && memcmp(p->md->hash[seq], p->hash, 32) == 0;
}

/* Batches of additions, a quarter undone, across several doublings (grown a few slots per
 * addition): every indexed hash is found at its seq, and hashes undone or never added are
 * not, including ones sharing the 8-byte prefix the table keys on. */
static void txindex_walk(uint64_t seed, uint64_t total)
{
    store_txindex *x;
    test_rng r;
    tx_model md = {calloc(total + 1, 32), 1};
    test_rng_seed(&r, seed);
    CHECK_CODE(store_txindex_new(&x, seed), 0);
    while (md.hash != NULL && md.n < total) {
        uint64_t first = md.n, k = 1 + test_rng_below(&r, 400);
        for (uint64_t i = 0; i < k && md.n < total; i++, md.n++) {
            test_rng_fill(&r, md.hash[md.n], 32);
            if (md.n > 1 && test_rng_below(&r, 50) == 0) /* a prefix twin */
                memcpy(md.hash[md.n], md.hash[md.n - 1], 8);
            CHECK_CODE(store_txindex_add(x, md.hash[md.n], md.n), 0);
        }
        if (test_rng_below(&r, 4) == 0) {
            store_txindex_abort(x);
            for (uint64_t s = first; s < md.n; s++) {
                probe p = {&md, md.hash[s]};
                CHECK_U64(store_txindex_find(x, md.hash[s], has_hash, &p), 0);
            }
            md.n = first;
        } else {
            store_txindex_commit(x);
        }
        CHECK_U64(store_txindex_count(x), md.n - 1);
    }
    for (uint64_t s = 1; s < md.n; s++) {
        probe p = {&md, md.hash[s]};
        CHECK_U64(store_txindex_find(x, md.hash[s], has_hash, &p), s);
    }
    uint8_t absent[32];
    memset(absent, 0xee, 32);
    probe none = {&md, absent};
    CHECK_U64(store_txindex_find(x, absent, has_hash, &none), 0);
    store_txindex_free(&x);
    free(md.hash);
}

int main(void)
{
    uint64_t seed = test_seed(), steps = test_env_u64("LSTD_ITERATIONS", 20000);
    for (int run = 0; run < 4; run++)
        walk(seed + (uint64_t)run, steps / 4);
    txindex_walk(seed, 5 * steps); /* 4096 slots to start: several doublings */
    return test_finish("test_store_mem");
}
