/* test_store_mem.c - the in-memory stores against models: order, undo, changes, captures */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "ledger.h"
#include "ledger_error.h"
#include "store_acctidx.h"
#include "store_mem.h"
#include "store_pages.h"
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
    switch (test_rng_below(r, 4)) {
    case 0:
        CHECK_CODE(v.del(v.self, table_of(t), key, kl), 0);
        e->present = false;
        break;
    case 1: { /* an edit in place: the old bytes kept (none when absent), zeros after them */
        uint8_t *at;
        size_t kept = e->present ? (e->len < len ? e->len : len) : 0;
        CHECK_CODE(store_mem_edit(m, table_of(t), key, kl, len, &at), 0);
        CHECK(kept == 0 || memcmp(at, e->val, kept) == 0);
        for (size_t i = kept; i < len; i++)
            CHECK(at[i] == 0);
        size_t change = len > 0 ? test_rng_below(r, len) : 0; /* change a byte of it */
        if (len > 0)
            at[change] ^= 0x5a;
        memcpy(e->val, at, len);
        e->present = true;
        e->len = (uint8_t)len;
        break;
    }
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

/* The runner's part of a capture, on its own thread: what it emitted, kept apart until the
 * capture ends (the owner's thread writes snapshot.held meanwhile). */
typedef struct runner {
    store_mem *m;
    snapshot got;
    bool seen[TABLES][KEYS];
    unsigned emitted;
    pthread_t thread;
} runner;

static bool on_emit_run(void *ctx, unsigned table, const uint8_t *key, size_t key_len,
                        const uint8_t *val, size_t val_len)
{
    runner *r = ctx;
    int t = (int)table - 2, k = index_of(key, key_len);
    if (t >= 0 && t < TABLES && k >= 0) {
        CHECK(!r->seen[t][k]); /* each entry once */
        r->seen[t][k] = true;
    }
    if (++r->emitted % 3 == 0) { /* slow now and then: the owner's batches overtake it */
        struct timespec d = {0, 20000};
        nanosleep(&d, NULL);
    }
    return on_emit(&r->got, table, key, key_len, val, val_len);
}

static void *runner_main(void *arg)
{
    runner *r = arg;
    CHECK_CODE(store_mem_capture_run(r->m, on_emit_run, r), 0);
    return NULL;
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
 * Captures begin now and then, each run by a thread of its own while the batches go on: each,
 * once ended, brings the checkpoint to exactly the state at its beginning, whatever was
 * written meanwhile, with every entry emitted once (by the runner or before a write). */
static void walk(uint64_t seed, uint64_t steps)
{
    store_mem *m;
    test_rng r;
    static model md, before, at_begin;
    static snapshot snap;
    static runner run;
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
            memset(&run, 0, sizeof run);
            run.m = m;
            CHECK(pthread_create(&run.thread, NULL, runner_main, &run) == 0);
            capturing = true;
        }
        bool done = false;
        if (capturing) {
            CHECK_CODE(store_mem_capture_end(m, &done), 0);
        }
        if (done) {
            CHECK(pthread_join(run.thread, NULL) == 0);
            for (int t = 0; t < TABLES; t++)
                for (int k = 0; k < KEYS; k++)
                    if (run.seen[t][k])
                        snap.held[t][k] = run.got.held[t][k];
            CHECK(same(snap.held, at_begin));
            capturing = false;
        }
    }
    if (capturing) { /* the last one: wait for it to end */
        bool done = false;
        CHECK(pthread_join(run.thread, NULL) == 0);
        CHECK_CODE(store_mem_capture_end(m, &done), 0);
        CHECK(done);
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

/* ---- the account-history index -------------------------------------------------------------- */

#define ACCTS 64

typedef struct acct_model {
    uint64_t *seq[ACCTS];
    uint64_t n[ACCTS], cap[ACCTS], total;
} acct_model;

/* Keys sharing a long prefix (only bytes 30..31 differ), so ordering is decided late. */
static void acct_key(int a, uint8_t key[32])
{
    memset(key, 0x5a, 32);
    key[30] = (uint8_t)(a * 37 % ACCTS);
    key[31] = (uint8_t)a;
}

/* The first model seq of account a above after (0: none). */
static uint64_t model_after(const acct_model *md, int a, uint64_t after)
{
    for (uint64_t i = 0; i < md->n[a]; i++)
        if (md->seq[a][i] > after)
            return md->seq[a][i];
    return 0;
}

/* Every account's list read back through `after` seq by seq, and next_account walking the
 * accounts with lists in key order, each with its first seq. */
static void acct_check_all(store_acctidx *x, const acct_model *md)
{
    uint64_t accounts = 0;
    for (int a = 0; a < ACCTS; a++) {
        uint8_t key[32];
        acct_key(a, key);
        uint64_t s = 0;
        for (uint64_t i = 0; i < md->n[a]; i++) {
            s = store_acctidx_after(x, key, s);
            CHECK_U64(s, md->seq[a][i]);
        }
        CHECK_U64(store_acctidx_after(x, key, s), 0);
        accounts += md->n[a] > 0;
    }
    CHECK_U64(store_acctidx_accounts(x), accounts);
    CHECK_U64(store_acctidx_seqs(x), md->total);
    uint8_t at[32], prev[32];
    size_t at_len = 0;
    uint64_t first, walked = 0;
    while (store_acctidx_next_account(x, at, at_len, at, &first) == 0) {
        CHECK(walked == 0 || memcmp(prev, at, 32) < 0);
        int a = at[31];
        CHECK(a < ACCTS && md->n[a] > 0 && first == md->seq[a][0]);
        memcpy(prev, at, 32);
        at_len = 32;
        walked++;
    }
    CHECK_U64(walked, accounts);
}

/* Add seq under n new accounts (keys counted from *next, outside the model's). */
static void acct_add_new(store_acctidx *x, uint32_t *next, uint32_t n, uint64_t seq)
{
    for (uint32_t i = 0; i < n; i++, (*next)++) {
        uint8_t key[32];
        memset(key, 0xa5, 32);
        memcpy(key, next, sizeof *next);
        CHECK_CODE(store_acctidx_add(x, key, seq), 0);
    }
}

/* Undone batches give their chunks back: after more undone chunks than a block holds, a kept
 * batch still fits in the block it began in. */
static void acct_undo_gives_back(store_acctidx *x, uint64_t seq)
{
    uint32_t next = 0;
    uint64_t bytes = store_acctidx_bytes(x), grew = 0;
    while (grew < (4u << 20)) { /* until a fresh block begins: it has nearly all its room */
        acct_add_new(x, &next, 100, seq);
        store_acctidx_commit(x);
        grew = store_acctidx_bytes(x) - bytes;
        bytes += grew;
    }
    for (int b = 0; b < 20000; b++) { /* 200,000 chunks of 24 bytes, never kept */
        acct_add_new(x, &next, 10, seq);
        store_acctidx_abort(x);
    }
    acct_add_new(x, &next, 10, seq);
    store_acctidx_commit(x);
    CHECK(store_acctidx_bytes(x) - bytes < (1u << 20));
}

/* Batches of appends over a few accounts (one of them hot, so its list grows past a block of
 * its own), each kept or undone; lookups after random seqs against the model. */
static void acctidx_walk(uint64_t seed, uint64_t total)
{
    store_acctidx *x;
    test_rng r;
    static acct_model md, before;
    memset(&md, 0, sizeof md);
    test_rng_seed(&r, seed);
    CHECK_CODE(store_acctidx_new(&x, seed), 0);
    uint64_t seq = 0, batches = 0;
    while (md.total < total) {
        before = md; /* the lists only grow: the counts are enough to undo */
        uint64_t k = 1 + test_rng_below(&r, 3000);
        for (uint64_t i = 0; i < k; i++) {
            seq += 1 + test_rng_below(&r, 3);
            int a = test_rng_below(&r, 2) ? 0 : (int)test_rng_below(&r, ACCTS);
            uint8_t key[32];
            acct_key(a, key);
            CHECK_CODE(store_acctidx_add(x, key, seq), 0);
            CHECK_CODE(store_acctidx_add(x, key, seq), LEDGER_STORE_CORRUPT); /* not ascending */
            if (md.n[a] == md.cap[a]) {
                md.cap[a] = md.cap[a] ? 2 * md.cap[a] : 64;
                md.seq[a] = realloc(md.seq[a], md.cap[a] * sizeof *md.seq[a]);
                CHECK(md.seq[a] != NULL);
            }
            md.seq[a][md.n[a]++] = seq;
            md.total++;
        }
        if (test_rng_below(&r, 4) == 0) {
            store_acctidx_abort(x);
            for (int a = 0; a < ACCTS; a++)
                md.n[a] = before.n[a];
            md.total = before.total;
        } else {
            store_acctidx_commit(x);
        }
        for (int p = 0; p < 16; p++) {
            int a = (int)test_rng_below(&r, ACCTS);
            uint8_t key[32];
            acct_key(a, key);
            uint64_t after = test_rng_below(&r, seq + 2);
            CHECK_U64(store_acctidx_after(x, key, after), model_after(&md, a, after));
        }
        if (++batches % 64 == 0)
            acct_check_all(x, &md);
    }
    acct_check_all(x, &md);
    CHECK(store_acctidx_bytes(x) >= md.total * 8);
    acct_undo_gives_back(x, seq + 1);
    store_acctidx_free(&x);
    for (int a = 0; a < ACCTS; a++)
        free(md.seq[a]);
}

/* ---- the slab ------------------------------------------------------------------------------ */

#define SLAB_LIVE 512

typedef struct live_block {
    uint8_t *p;
    size_t size;
    uint8_t fill;
} live_block;

/* A block is fresh: 64-byte aligned and zero, and no other live block's bytes changed. */
static void slab_take(store_slab *s, live_block *b, size_t size, uint8_t fill)
{
    b->p = store_slab_alloc(s, size);
    CHECK(b->p != NULL && (uintptr_t)b->p % 64 == 0);
    for (size_t i = 0; b->p != NULL && i < store_slab_size(size); i++)
        CHECK(b->p[i] == 0);
    if (b->p != NULL)
        memset(b->p, fill, size);
    b->size = size;
    b->fill = fill;
}

static void slab_check(const live_block *b)
{
    for (size_t i = 0; b->p != NULL && i < b->size; i++)
        CHECK(b->p[i] == b->fill);
}

static void slab_walk(uint64_t seed, uint64_t steps)
{
    test_rng r;
    test_rng_seed(&r, seed);
    store_slab s = {0};
    static live_block live[SLAB_LIVE];
    memset(live, 0, sizeof live);
    CHECK(store_slab_alloc(&s, 0) == NULL && store_slab_alloc(&s, STORE_SLAB_MAX + 1) == NULL);
    CHECK(store_slab_size(1) == 64 && store_slab_size(192) == 192 && store_slab_size(193) == 256);
    for (uint64_t k = 0; k < steps; k++) {
        live_block *b = &live[test_rng_below(&r, SLAB_LIVE)];
        if (b->p == NULL) {
            slab_take(&s, b, 1 + test_rng_below(&r, STORE_SLAB_MAX), (uint8_t)(k | 1));
            continue;
        }
        slab_check(b);
        void *was = b->p;
        size_t size = b->size;
        store_slab_free(&s, b->p, b->size);
        b->p = NULL;
        if (test_rng_below(&r, 2) == 0) { /* the same size again: the block just given back */
            slab_take(&s, b, store_slab_size(size) - test_rng_below(&r, 64), (uint8_t)(k | 1));
            CHECK(b->p == was);
        }
    }
    for (int i = 0; i < SLAB_LIVE; i++)
        slab_check(&live[i]);
    /* past one region: 200,000 entries of 192 bytes are 38 MB */
    uint8_t *first = store_slab_alloc(&s, 192), *last = first;
    for (int i = 0; i < 200000 && last != NULL; i++)
        last = store_slab_alloc(&s, 192);
    CHECK(last != NULL && s.mapped >= 2 * STORE_PAGE_BYTES * 16);
    CHECK(first != NULL && last != NULL && first[0] == 0 && last[191] == 0);
    store_slab_release(&s);
    CHECK(s.mapped == 0 && s.regions == NULL);
    uint8_t *again = store_slab_alloc(&s, 100); /* usable after a release */
    CHECK(again != NULL && again[99] == 0);
    store_slab_release(&s);
    CHECK(store_pages_map(0) == NULL && store_pages_map(4096) == NULL);
    uint8_t *pg = store_pages_map(STORE_PAGE_BYTES);
    CHECK(pg != NULL && (uintptr_t)pg % STORE_PAGE_BYTES == 0 && pg[STORE_PAGE_BYTES - 1] == 0);
    store_pages_unmap(pg, STORE_PAGE_BYTES);
}

/* ---- prefaulting ---------------------------------------------------------------------------- */

/* A prefault leaves the contents alone, while the owner writes the region meanwhile, and
 * leaves every page resident (where the kernel has MADV_POPULATE_WRITE). Arrays: zeroed, on
 * the heap while small, on huge pages from one huge page on. */
static void prefault_walk(uint64_t seed)
{
    enum { PAGES = 8 };
    const size_t bytes = PAGES * STORE_PAGE_BYTES;
    test_rng r;
    test_rng_seed(&r, seed);
    uint8_t *p = store_pages_map(bytes);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    store_prefault f = {0};
    store_prefault_start(&f, p, bytes);
    size_t at[512];
    for (size_t i = 0; i < 512; i++) {                /* the owner's writes race the prefault */
        at[i] = test_rng_below(&r, STORE_PAGE_BYTES); /* the rest only the prefault faults */
        p[at[i]] = (uint8_t)(i | 1);
    }
    store_prefault_start(&f, p, bytes); /* waits for the first, then faults again */
    store_prefault_wait(&f);
    store_prefault_wait(&f); /* idle: nothing to wait for */
#ifdef MADV_POPULATE_WRITE   /* before any read maps the zero page */
    unsigned char in[bytes / 4096];
    CHECK(mincore(p, bytes, in) == 0);
    size_t resident = 0;
    for (size_t i = 0; i < sizeof in; i++)
        resident += in[i] & 1;
    CHECK_U64(resident, sizeof in);
#endif
    size_t nonzero = 0;
    for (size_t i = 0; i < bytes; i++)
        nonzero += p[i] != 0;
    size_t distinct = 0;
    for (size_t i = 0; i < 512; i++) {
        bool later = false;
        for (size_t j = i + 1; j < 512 && !later; j++)
            later = at[j] == at[i];
        if (!later) {
            CHECK(p[at[i]] == (uint8_t)(i | 1));
            distinct++;
        }
    }
    CHECK_U64(nonzero, distinct);
    store_pages_unmap(p, bytes);
    uint64_t *small = store_pages_array(1000, 8), *big = store_pages_array(1u << 20, 16);
    CHECK(small != NULL && big != NULL && small[999] == 0 && big[(2u << 20) - 1] == 0);
    CHECK_U64(store_pages_array_mapped(1000, 8), 0);
    CHECK_U64(store_pages_array_mapped(1u << 20, 16), 16u << 20);
    CHECK_U64(store_pages_array_mapped((1u << 20) + 1, 16), 18u << 20);
    CHECK(big == NULL || (uintptr_t)big % STORE_PAGE_BYTES == 0);
    store_pages_array_free(small, 1000, 8);
    store_pages_array_free(big, 1u << 20, 16);
}

/* ---- the prefetch schedule ------------------------------------------------------------------ */

/* Every transaction of a batch is hinted exactly once, before it is applied and at most two
 * groups ahead of it, whatever the batch size. */
static void prefetch_schedule(void)
{
    enum { N_MAX = 5 * LEDGER_PREFETCH_GROUP + 3 };
    for (size_t n = 0; n <= N_MAX; n++) {
        int hinted[N_MAX] = {0};
        for (size_t i = 0; i < n; i++) {
            size_t first, k;
            if (ledger_prefetch_due(i, n, &first, &k)) {
                CHECK(k > 0 && first >= i && first + k <= n);
                CHECK(first + k <= i + 2 * LEDGER_PREFETCH_GROUP);
                for (size_t t = first; t < first + k && t < n; t++)
                    hinted[t]++;
            }
            CHECK(hinted[i] == 1); /* hinted by the time it is applied */
        }
        for (size_t t = 0; t < n; t++)
            CHECK(hinted[t] == 1);
    }
}

int main(void)
{
    uint64_t seed = test_seed(), steps = test_env_u64("LSTD_ITERATIONS", 20000);
    for (int run = 0; run < 4; run++)
        walk(seed + (uint64_t)run, steps / 4);
    txindex_walk(seed, 5 * steps);  /* 4096 slots to start: several doublings */
    acctidx_walk(seed, 15 * steps); /* the hot list passes 2^17 seqs: a block of its own */
    slab_walk(seed, 10 * steps);
    prefault_walk(seed);
    prefetch_schedule();
    return test_finish("test_store_mem");
}
