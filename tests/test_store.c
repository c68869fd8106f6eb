/* test_store.c - the LMDB store: tables, next, transactions, snapshots, growth, poisoning */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger_error.h"
#include "store_lmdb.h"
#include "test_util.h"

#define KIB 1024ull

static char *dir_new(const char *base, const char *name)
{
    size_t n = strlen(base) + strlen(name) + 2;
    char *path = malloc(n);
    if (path == NULL)
        abort();
    snprintf(path, n, "%s/%s", base, name);
    return path;
}

static int put_s(ledger_store *v, unsigned table, const char *key, const char *val)
{
    return v->put(v->self, table, (const uint8_t *)key, strlen(key), (const uint8_t *)val,
                  strlen(val));
}

/* Returns: 1 if (table, key) holds exactly want, 0 if not, the store code if get failed. */
static int get_is(ledger_store *v, unsigned table, const char *key, const char *want)
{
    const uint8_t *val;
    size_t len;
    int rc = v->get(v->self, table, (const uint8_t *)key, strlen(key), &val, &len);
    if (rc != 0)
        return rc;
    return len == strlen(want) && memcmp(val, want, len) == 0;
}

static const uint8_t NONE[1]; /* `want` for a next that must find nothing */

/* Returns: 1 if next(table, from) finds key `want`, else next's code (NOTFOUND) or 0. */
static int next_is(ledger_store *v, unsigned table, const uint8_t *from, size_t from_len,
                   const uint8_t *want, size_t want_len)
{
    const uint8_t *k, *val;
    size_t klen, vlen;
    int rc = v->next(v->self, table, from, from_len, &k, &klen, &val, &vlen);
    if (rc != 0)
        return rc;
    return klen == want_len && memcmp(k, want, klen) == 0;
}

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t j = 0; j < len; j++)
        buf[j] = (uint8_t)(seed * 131 + j * 7 + (j >> 8));
}

static bool val_ok(const uint8_t *val, size_t len, size_t want_len, uint64_t seed)
{
    uint8_t buf[LEDGER_VALUE_MAX];
    if (len != want_len || len > sizeof buf)
        return false;
    fill(buf, len, seed);
    return memcmp(val, buf, len) == 0;
}

static void be32(uint8_t out[4], uint32_t x)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(x >> (24 - 8 * i));
}

static void test_basic(const char *base)
{
    char *dir = dir_new(base, "basic"); /* does not exist yet: open creates it 0700 */
    store_lmdb *s = NULL;
    store_txn *txn;
    ledger_store v;
    struct stat st;
    CHECK_CODE(store_lmdb_open(&s, dir, NULL), 0);
    CHECK(s != NULL);
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK_U64(store_lmdb_map_size(s), 64 * KIB * KIB);
    CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_ACCOUNT, "alice", "1"), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_ALLOWANCE, "alice", "2"), 0);
    CHECK_CODE(get_is(&v, LEDGER_T_ACCOUNT, "alice", "1"), 1);
    CHECK_CODE(get_is(&v, LEDGER_T_ALLOWANCE, "alice", "2"), 1);
    CHECK_CODE(get_is(&v, LEDGER_T_LIEN, "alice", ""), LEDGER_STORE_NOTFOUND);
    CHECK_CODE(get_is(&v, LEDGER_T_ACCOUNT, "bob", ""), LEDGER_STORE_NOTFOUND);
    CHECK_CODE(get_is(&v, LEDGER_T_ACCOUNT, "", ""), LEDGER_STORE_NOTFOUND);
    CHECK_CODE(put_s(&v, LEDGER_T_ACCOUNT, "alice", "replaced"), 0);
    CHECK_CODE(get_is(&v, LEDGER_T_ACCOUNT, "alice", "replaced"), 1);
    CHECK_CODE(put_s(&v, LEDGER_T_ACCOUNT_WD, "empty", ""), 0); /* empty values are fine */
    CHECK_CODE(get_is(&v, LEDGER_T_ACCOUNT_WD, "empty", ""), 1);
    CHECK_CODE(v.del(v.self, LEDGER_T_ACCOUNT, (const uint8_t *)"alice", 5), 0);
    CHECK_CODE(v.del(v.self, LEDGER_T_ACCOUNT, (const uint8_t *)"alice", 5), 0); /* missing */
    CHECK_CODE(get_is(&v, LEDGER_T_ACCOUNT, "alice", ""), LEDGER_STORE_NOTFOUND);
    CHECK_CODE(get_is(&v, LEDGER_T_ALLOWANCE, "alice", "2"), 1); /* other table untouched */
    CHECK_CODE(store_lmdb_commit(&txn), 0);
    CHECK(txn == NULL);
    /* Misused keys are refused with an error, and the write txn is then poisoned. */
    uint8_t big[LEDGER_KEY_MAX + 1] = {0};
    CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
    CHECK_CODE(v.put(v.self, LEDGER_T_ACCOUNT, big, LEDGER_KEY_MAX, big, 1), 0);
    CHECK_CODE(get_is(&v, LEDGER_T_ACCOUNT, "", ""), LEDGER_STORE_NOTFOUND);
    CHECK_CODE(v.put(v.self, LEDGER_T_ACCOUNT, big, 0, big, 1), LEDGER_STORE_IO);
    CHECK_CODE(put_s(&v, LEDGER_T_ACCOUNT, "x", "y"), LEDGER_STORE_IO);
    CHECK_CODE(store_lmdb_commit(&txn), LEDGER_STORE_IO);
    CHECK(txn == NULL);
    CHECK_CODE(store_lmdb_begin(s, false, &txn, &v), 0);
    const uint8_t *val;
    size_t len;
    CHECK_CODE(v.get(v.self, LEDGER_T_ACCOUNT, big, LEDGER_KEY_MAX + 1, &val, &len),
               LEDGER_STORE_IO);
    CHECK_CODE(v.get(v.self, 256, big, 1, &val, &len), LEDGER_STORE_IO);
    CHECK_CODE(v.get(v.self, LEDGER_T_ACCOUNT, big, LEDGER_KEY_MAX, &val, &len),
               LEDGER_STORE_NOTFOUND); /* the poisoned batch left nothing */
    CHECK_CODE(get_is(&v, LEDGER_T_ALLOWANCE, "alice", "2"), 1);
    store_lmdb_abort(&txn);
    CHECK(txn == NULL);
    store_lmdb_abort(&txn); /* NULL is ignored */
    store_lmdb_close(&s);
    CHECK(s == NULL);
    store_lmdb_close(&s);
    store_lmdb_close(NULL);
    free(dir);
}

static void test_next(const char *base)
{
    char *dir = dir_new(base, "next");
    store_lmdb *s = NULL;
    store_txn *txn;
    ledger_store v;
    uint8_t ff[LEDGER_KEY_MAX];
    const uint8_t zero[1] = {0};
    memset(ff, 0xff, sizeof ff);
    CHECK_CODE(store_lmdb_open(&s, dir, NULL), 0);
    CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_POOL, "z", "pool"), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_ACCOUNT, "b", "3b"), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_ACCOUNT, "a", "3a"), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_ACCOUNT, "ab", "3ab"), 0);
    CHECK_CODE(v.put(v.self, LEDGER_T_ACCOUNT, ff, 1, ff, 1), 0);
    CHECK_CODE(v.put(v.self, LEDGER_T_ACCOUNT, ff, LEDGER_KEY_MAX, ff, 2), 0);
    CHECK_CODE(v.put(v.self, LEDGER_T_ALLOWANCE, zero, 1, zero, 1), 0);
    CHECK_CODE(store_lmdb_commit(&txn), 0);

    for (int round = 0; round < 2; round++) { /* in a read snapshot, then in a write txn */
        CHECK_CODE(store_lmdb_begin(s, round == 1, &txn, &v), 0);
        const uint8_t *a = (const uint8_t *)"a", *ab = (const uint8_t *)"ab";
        const uint8_t *aa = (const uint8_t *)"aa", *b = (const uint8_t *)"b";
        CHECK_CODE(next_is(&v, LEDGER_T_ACCOUNT, NULL, 0, a, 1), 1);
        CHECK_CODE(next_is(&v, LEDGER_T_ACCOUNT, a, 1, ab, 2), 1);
        CHECK_CODE(next_is(&v, LEDGER_T_ACCOUNT, aa, 2, ab, 2), 1); /* absent seek key */
        CHECK_CODE(next_is(&v, LEDGER_T_ACCOUNT, ab, 2, b, 1), 1);
        CHECK_CODE(next_is(&v, LEDGER_T_ACCOUNT, b, 1, ff, 1), 1);
        CHECK_CODE(next_is(&v, LEDGER_T_ACCOUNT, ff, 1, ff, LEDGER_KEY_MAX), 1);
        /* The last key of table 3: next must not wander into table 4. */
        CHECK_CODE(next_is(&v, LEDGER_T_ACCOUNT, ff, LEDGER_KEY_MAX, NONE, 0),
                   LEDGER_STORE_NOTFOUND);
        CHECK_CODE(next_is(&v, LEDGER_T_ALLOWANCE, NULL, 0, zero, 1), 1);
        CHECK_CODE(next_is(&v, LEDGER_T_ALLOWANCE, zero, 1, NONE, 0), LEDGER_STORE_NOTFOUND);
        CHECK_CODE(next_is(&v, LEDGER_T_META, NULL, 0, NONE, 0), LEDGER_STORE_NOTFOUND);
        CHECK_CODE(next_is(&v, LEDGER_T_LIEN, NULL, 0, NONE, 0), LEDGER_STORE_NOTFOUND);
        CHECK_CODE(next_is(&v, LEDGER_T_ACCOUNT_TX, NULL, 0, NONE, 0), LEDGER_STORE_NOTFOUND);
        CHECK_CODE(next_is(&v, 255, NULL, 0, NONE, 0), LEDGER_STORE_NOTFOUND);
        /* Walk table 3 with the returned key as the next seek; values come along. */
        const uint8_t *k = NULL, *val;
        size_t klen = 0, vlen, count = 0;
        uint8_t prev[LEDGER_KEY_MAX];
        while (count < 10 &&
               v.next(v.self, LEDGER_T_ACCOUNT, k, klen, &k, &klen, &val, &vlen) == 0) {
            CHECK(vlen >= 1 && val[0] == (k[0] == 0xff ? 0xff : '3'));
            memcpy(prev, k, klen); /* k stays valid only until the next call */
            k = prev;
            count++;
        }
        CHECK_U64(count, 5);
        if (round == 1) {
            /* next sees the transaction's own writes and deletes. */
            CHECK_CODE(put_s(&v, LEDGER_T_ACCOUNT, "aa", "3aa"), 0);
            CHECK_CODE(v.del(v.self, LEDGER_T_ACCOUNT, ab, 2), 0);
            CHECK_CODE(next_is(&v, LEDGER_T_ACCOUNT, a, 1, aa, 2), 1);
            CHECK_CODE(next_is(&v, LEDGER_T_ACCOUNT, aa, 2, b, 1), 1);
        }
        store_lmdb_abort(&txn);
    }
    store_lmdb_close(&s);
    free(dir);
}

static void test_persistence(const char *base)
{
    char *dir = dir_new(base, "persist");
    store_lmdb *s = NULL;
    store_txn *txn;
    ledger_store v;
    for (int durability = STORE_SYNC; durability <= STORE_NOSYNC; durability++) {
        store_options opt = {.durability = durability};
        CHECK_CODE(store_lmdb_open(&s, dir, &opt), 0);
        CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
        CHECK_CODE(put_s(&v, LEDGER_T_META, durability ? "nosync" : "sync", "kept"), 0);
        CHECK_CODE(store_lmdb_commit(&txn), 0);
        CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
        CHECK_CODE(put_s(&v, LEDGER_T_META, durability ? "nosync-abort" : "sync-abort", "x"), 0);
        store_lmdb_abort(&txn);
        CHECK_CODE(store_lmdb_begin(s, false, &txn, &v), 0);
        CHECK_CODE(get_is(&v, LEDGER_T_META, durability ? "nosync-abort" : "sync-abort", "x"),
                   LEDGER_STORE_NOTFOUND);
        CHECK_CODE(store_lmdb_commit(&txn), 0); /* ending a read snapshot */
        /* what a NOSYNC commit left in the page cache, synced in chunks (one page, paced and
         * not, and more than the file) */
        CHECK_CODE(store_lmdb_sync_paced(s, 4096, 16u << 20), 0);
        CHECK_CODE(store_lmdb_sync_paced(s, 4096, 0), 0);
        CHECK_CODE(store_lmdb_sync_paced(s, UINT64_C(1) << 40, 0), 0);
        store_lmdb_close(&s);
    }
    CHECK_CODE(store_lmdb_open(&s, dir, NULL), 0);
    CHECK_CODE(store_lmdb_begin(s, false, &txn, &v), 0);
    CHECK_CODE(get_is(&v, LEDGER_T_META, "sync", "kept"), 1);
    CHECK_CODE(get_is(&v, LEDGER_T_META, "nosync", "kept"), 1);
    CHECK_CODE(get_is(&v, LEDGER_T_META, "sync-abort", "x"), LEDGER_STORE_NOTFOUND);
    CHECK_CODE(get_is(&v, LEDGER_T_META, "nosync-abort", "x"), LEDGER_STORE_NOTFOUND);
    store_lmdb_abort(&txn);
    store_lmdb_close(&s);
    free(dir);
}

/* Replace the first occurrence of `from` in the file with `to` (same length). Returns: 0. */
static int patch_file(const char *path, const char *from, const char *to)
{
    FILE *f = fopen(path, "r+b");
    size_t n = strlen(from), len;
    static uint8_t buf[1 << 20];
    if (f == NULL)
        return -1;
    len = fread(buf, 1, sizeof buf, f);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(buf + i, from, n) != 0)
            continue;
        int rc = fseek(f, (long)i, SEEK_SET) == 0 && fwrite(to, 1, n, f) == n ? 0 : -1;
        return fclose(f) == 0 ? rc : -1;
    }
    fclose(f);
    return -1;
}

/* LMDB pages carry no checksum: a flipped byte in a key can break the order of a page. next
 * must refuse to step backwards (STORE_CORRUPT), or a scan over it never ends (issue 9). */
static void test_key_order_damage(const char *base)
{
    char *dir = dir_new(base, "order"), path[512];
    store_lmdb *s = NULL;
    store_txn *txn;
    ledger_store v;
    const uint8_t *k, *val;
    size_t kn, vn;
    CHECK_CODE(store_lmdb_open(&s, dir, NULL), 0);
    CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_ACCOUNT_TX, "key-0001", "a"), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_ACCOUNT_TX, "key-0002", "b"), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_ACCOUNT_TX, "key-0003", "c"), 0);
    CHECK_CODE(store_lmdb_commit(&txn), 0);
    store_lmdb_close(&s);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    CHECK_CODE(patch_file(path, "key-0003", "key-0000"), 0); /* the last now sorts first */
    CHECK_CODE(store_lmdb_open(&s, dir, NULL), 0);
    CHECK_CODE(store_lmdb_begin(s, false, &txn, &v), 0);
    /* an exact match, then the next slot of the page: key-0000, which is not after key-0002 */
    CHECK_CODE(
        v.next(v.self, LEDGER_T_ACCOUNT_TX, (const uint8_t *)"key-0002", 8, &k, &kn, &val, &vn),
        LEDGER_STORE_CORRUPT);
    store_lmdb_abort(&txn);
    store_lmdb_close(&s);
    free(dir);
}

static void test_snapshot(const char *base)
{
    char *dir = dir_new(base, "snapshot");
    store_lmdb *s = NULL;
    store_txn *txn, *old_txn, *w;
    ledger_store v, old, wv;
    CHECK_CODE(store_lmdb_open(&s, dir, NULL), 0);
    CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_POOL, "p", "v1"), 0);
    CHECK_CODE(store_lmdb_commit(&txn), 0);
    CHECK_CODE(store_lmdb_begin(s, false, &old_txn, &old), 0);
    CHECK_CODE(store_lmdb_begin(s, true, &w, &wv), 0);
    CHECK_CODE(put_s(&wv, LEDGER_T_POOL, "p", "v2"), 0);
    CHECK_CODE(put_s(&wv, LEDGER_T_POOL, "q", "new"), 0);
    CHECK_CODE(get_is(&old, LEDGER_T_POOL, "p", "v1"), 1); /* uncommitted: invisible */
    CHECK_CODE(store_lmdb_commit(&w), 0);
    CHECK_CODE(get_is(&old, LEDGER_T_POOL, "p", "v1"), 1); /* committed after: still invisible */
    CHECK_CODE(get_is(&old, LEDGER_T_POOL, "q", ""), LEDGER_STORE_NOTFOUND);
    CHECK_CODE(next_is(&old, LEDGER_T_POOL, (const uint8_t *)"p", 1, NONE, 0),
               LEDGER_STORE_NOTFOUND);
    CHECK_CODE(store_lmdb_begin(s, false, &txn, &v), 0);
    CHECK_CODE(get_is(&v, LEDGER_T_POOL, "p", "v2"), 1);
    CHECK_CODE(get_is(&v, LEDGER_T_POOL, "q", "new"), 1);
    store_lmdb_abort(&txn);
    store_lmdb_abort(&old_txn);
    store_lmdb_close(&s);
    free(dir);
}

static int count_fn(void *ctx, ledger_store *v)
{
    (void)v;
    ++*(int *)ctx;
    return 0;
}

static void test_read_only(const char *base)
{
    char *dir = dir_new(base, "ro");
    char *missing = dir_new(base, "ro-missing");
    store_lmdb *s = NULL;
    store_txn *txn;
    ledger_store v;
    store_options ro = {.read_only = true};
    struct stat st;
    CHECK_CODE(store_lmdb_open(&s, missing, &ro), LEDGER_STORE_IO);
    CHECK(s == NULL);
    CHECK(stat(missing, &st) != 0); /* read_only never creates */
    CHECK_CODE(store_lmdb_open(&s, dir, NULL), 0);
    CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_TX, "h", "1"), 0);
    CHECK_CODE(store_lmdb_commit(&txn), 0);
    store_lmdb_close(&s);

    CHECK_CODE(store_lmdb_open(&s, dir, &ro), 0);
    CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), LEDGER_STORE_IO);
    CHECK(txn == NULL);
    int calls = 0;
    CHECK_CODE(store_lmdb_write(s, count_fn, &calls), LEDGER_STORE_IO);
    CHECK_U64(calls, 0);
    CHECK_CODE(store_lmdb_begin(s, false, &txn, &v), 0);
    CHECK_CODE(get_is(&v, LEDGER_T_TX, "h", "1"), 1);
    CHECK(put_s(&v, LEDGER_T_TX, "h", "2") != 0);
    CHECK(v.del(v.self, LEDGER_T_TX, (const uint8_t *)"h", 1) != 0);
    CHECK_CODE(get_is(&v, LEDGER_T_TX, "h", "1"), 1);
    store_lmdb_abort(&txn);
    CHECK_CODE(store_lmdb_grow(s), 0); /* growing the map of a reader is harmless */
    store_lmdb_close(&s);
    free(missing);
    free(dir);
}

/* A batch for store_lmdb_write: records [first, first + count) of value_len bytes. */
typedef struct batch {
    uint32_t first, count;
    size_t value_len;
    int calls;
    int fail_with; /* returned after writing, to test that fn's code aborts */
} batch;

static int batch_fn(void *ctx, ledger_store *v)
{
    batch *b = ctx;
    uint8_t key[4], val[LEDGER_VALUE_MAX];
    b->calls++;
    for (uint32_t i = b->first; i < b->first + b->count; i++) {
        be32(key, i);
        fill(val, b->value_len, i);
        int rc = v->put(v->self, LEDGER_T_HISTORY, key, sizeof key, val, b->value_len);
        if (rc != 0)
            return rc;
    }
    return b->fail_with;
}

/* Returns: how many of records [first, first + count) read back intact. */
static uint32_t batch_count_ok(store_lmdb *s, uint32_t first, uint32_t count, size_t value_len)
{
    store_txn *txn;
    ledger_store v;
    uint32_t ok = 0;
    if (store_lmdb_begin(s, false, &txn, &v) != 0)
        return 0;
    for (uint32_t i = first; i < first + count; i++) {
        uint8_t key[4];
        const uint8_t *val;
        size_t len;
        be32(key, i);
        if (v.get(v.self, LEDGER_T_HISTORY, key, sizeof key, &val, &len) == 0 &&
            val_ok(val, len, value_len, i))
            ok++;
    }
    store_lmdb_abort(&txn);
    return ok;
}

static void test_growth(const char *base)
{
    char *dir = dir_new(base, "grow");
    store_lmdb *s = NULL;
    store_options opt = {.map_size_bytes = 256 * KIB, .durability = STORE_NOSYNC};
    CHECK_CODE(store_lmdb_open(&s, dir, &opt), 0);
    uint64_t initial = store_lmdb_map_size(s);
    CHECK_U64(initial, 256 * KIB);
    /* One batch far bigger than the map: it must be retried after growing. */
    batch big = {.first = 0, .count = 1500, .value_len = 1000};
    CHECK_CODE(store_lmdb_write(s, batch_fn, &big), 0);
    CHECK(big.calls > 1);
    CHECK(store_lmdb_map_size(s) > 1500 * KIB);
    CHECK_U64(batch_count_ok(s, 0, 1500, 1000), 1500);
    /* Many small batches, some of which hit the end of the map. */
    uint64_t before = store_lmdb_map_size(s);
    for (uint32_t i = 0; i < 100; i++) {
        batch small = {.first = 10000 + i * 40, .count = 40, .value_len = 700};
        CHECK_CODE(store_lmdb_write(s, batch_fn, &small), 0);
    }
    CHECK(store_lmdb_map_size(s) > before);
    CHECK_U64(batch_count_ok(s, 10000, 4000, 700), 4000);
    /* fn's own code aborts the batch. */
    batch failing = {.first = 50000, .count = 10, .value_len = 10, .fail_with = LEDGER_OVERFLOW};
    CHECK_CODE(store_lmdb_write(s, batch_fn, &failing), LEDGER_OVERFLOW);
    CHECK_U64(failing.calls, 1);
    CHECK_U64(batch_count_ok(s, 50000, 10, 10), 0);
    uint64_t grown = store_lmdb_map_size(s);
    store_lmdb_close(&s);
    /* Reopening with a smaller map adopts the size the data needs. */
    CHECK_CODE(store_lmdb_open(&s, dir, &opt), 0);
    CHECK(store_lmdb_map_size(s) > 4 * KIB * KIB && store_lmdb_map_size(s) <= grown);
    CHECK_U64(batch_count_ok(s, 0, 1500, 1000), 1500);
    batch more = {.first = 60000, .count = 500, .value_len = 2000};
    CHECK_CODE(store_lmdb_write(s, batch_fn, &more), 0);
    CHECK_U64(batch_count_ok(s, 60000, 500, 2000), 500);
    store_lmdb_close(&s);
    free(dir);
}

/* Address and thread sanitizers reserve more address space than any cap leaves. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif

#ifndef SANITIZER_BUILD
/* Address space of this process in bytes (/proc/self/statm), 0 if unknown. */
static uint64_t address_space_bytes(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu", &pages) != 1)
        pages = 0;
    fclose(f);
    return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* In a child with the address space capped just above its use: grow until the OS refuses the
 * new mapping (LMDB has unmapped the old one by then), then use the store. Exit 0 when every
 * call answered an error instead of touching the lost map. */
static void failed_grow_child(const char *dir)
{
    store_lmdb *s = NULL;
    store_options opt = {.map_size_bytes = 1024 * KIB, .durability = STORE_NOSYNC};
    if (store_lmdb_open(&s, dir, &opt) != 0)
        _exit(2);
    struct rlimit lim = {.rlim_cur = address_space_bytes() + 24 * KIB * KIB};
    lim.rlim_max = lim.rlim_cur;
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        _exit(3);
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < 4096; i++) { /* up to 256 MiB: past the cap */
        batch b = {.first = i * 64, .count = 64, .value_len = 1000};
        rc = store_lmdb_write(s, batch_fn, &b);
    }
    if (rc == 0)
        _exit(4); /* the cap did not bite */
    batch small = {.first = 1u << 30, .count = 1, .value_len = 10};
    store_txn *t;
    ledger_store v;
    if (store_lmdb_write(s, batch_fn, &small) == 0 || store_lmdb_begin(s, false, &t, &v) == 0)
        _exit(5);
    (void)store_lmdb_map_size(s); /* crashed here before */
    store_lmdb_close(&s);
    _exit(0);
}
#endif

/* A failed grow never crashes (issue 9: SIGSEGV in mdb_env_info after "map was lost"). */
static void test_failed_grow(const char *base)
{
#ifdef SANITIZER_BUILD
    (void)base;
    printf("test_store: failed grow skipped under a sanitizer (it needs the address space)\n");
#else
    char *dir = dir_new(base, "failed-grow");
    pid_t pid = fork();
    if (pid == 0)
        failed_grow_child(dir);
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "test_store: failed-grow child: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(dir);
#endif
}

static void test_cap(const char *base)
{
    char *dir = dir_new(base, "cap");
    store_lmdb *s = NULL;
    store_options opt = {.map_size_bytes = 256 * KIB, .map_size_max_bytes = 512 * KIB};
    CHECK_CODE(store_lmdb_open(&s, dir, &opt), 0);
    batch small = {.first = 0, .count = 10, .value_len = 100};
    CHECK_CODE(store_lmdb_write(s, batch_fn, &small), 0);
    batch big = {.first = 100, .count = 2000, .value_len = 1000};
    CHECK_CODE(store_lmdb_write(s, batch_fn, &big), LEDGER_STORE_FULL);
    CHECK_U64(big.calls, 2);
    CHECK_U64(store_lmdb_map_size(s), 512 * KIB);
    CHECK_CODE(store_lmdb_grow(s), LEDGER_STORE_FULL);
    CHECK_U64(batch_count_ok(s, 100, 2000, 1000), 0); /* all or nothing */
    CHECK_U64(batch_count_ok(s, 0, 10, 100), 10);
    batch after = {.first = 20, .count = 10, .value_len = 100};
    CHECK_CODE(store_lmdb_write(s, batch_fn, &after), 0); /* still usable */
    CHECK_U64(batch_count_ok(s, 20, 10, 100), 10);
    store_lmdb_close(&s);
    free(dir);
}

static void test_poison(const char *base)
{
    char *dir = dir_new(base, "poison");
    store_lmdb *s = NULL;
    store_txn *txn;
    ledger_store v;
    store_options opt = {.map_size_bytes = 256 * KIB, .map_size_max_bytes = 256 * KIB};
    uint8_t key[4], val[1000] = {0};
    CHECK_CODE(store_lmdb_open(&s, dir, &opt), 0);
    CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
    int rc = 0;
    uint32_t i;
    for (i = 0; i < 1000 && rc == 0; i++) {
        be32(key, i);
        rc = v.put(v.self, LEDGER_T_HISTORY, key, sizeof key, val, sizeof val);
    }
    CHECK_CODE(rc, LEDGER_STORE_FULL);
    CHECK(i > 10 && i < 1000);
    const uint8_t *out, *kout;
    size_t len, klen;
    be32(key, 0);
    CHECK_CODE(v.put(v.self, LEDGER_T_META, key, 1, val, 1), LEDGER_STORE_FULL);
    CHECK_CODE(v.get(v.self, LEDGER_T_HISTORY, key, sizeof key, &out, &len), LEDGER_STORE_FULL);
    CHECK_CODE(v.del(v.self, LEDGER_T_HISTORY, key, sizeof key), LEDGER_STORE_FULL);
    CHECK_CODE(v.next(v.self, LEDGER_T_HISTORY, NULL, 0, &kout, &klen, &out, &len),
               LEDGER_STORE_FULL);
    CHECK_CODE(store_lmdb_commit(&txn), LEDGER_STORE_FULL);
    CHECK(txn == NULL);
    CHECK_CODE(store_lmdb_begin(s, false, &txn, &v), 0);
    CHECK_CODE(v.next(v.self, LEDGER_T_HISTORY, NULL, 0, &kout, &klen, &out, &len),
               LEDGER_STORE_NOTFOUND);
    store_lmdb_abort(&txn);
    /* The store is fine afterwards: a small batch commits. */
    CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_META, "after", "ok"), 0);
    CHECK_CODE(store_lmdb_commit(&txn), 0);
    store_lmdb_close(&s);
    free(dir);
}

/* Readers on other threads while the map grows under them (through the gate). */
typedef struct reader {
    store_lmdb *store;
    atomic_bool *stop;
    atomic_uint_fast64_t *reads; /* records read, by all readers */
    int failures;
} reader;

static void *reader_main(void *arg)
{
    reader *r = arg;
    while (!atomic_load(r->stop)) {
        store_txn *txn;
        ledger_store v;
        if (store_lmdb_begin(r->store, false, &txn, &v) != 0) {
            r->failures++;
            continue;
        }
        const uint8_t *k = NULL, *val;
        size_t klen = 0, vlen;
        uint8_t prev[4];
        for (int n = 0; n < 50; n++) {
            if (v.next(v.self, LEDGER_T_HISTORY, k, klen, &k, &klen, &val, &vlen) != 0)
                break;
            if (klen != 4) {
                r->failures++;
                break;
            }
            uint32_t i = (uint32_t)k[0] << 24 | (uint32_t)k[1] << 16 | (uint32_t)k[2] << 8 | k[3];
            if (!val_ok(val, vlen, 600, i))
                r->failures++;
            memcpy(prev, k, 4);
            k = prev;
            atomic_fetch_add(r->reads, 1);
        }
        store_lmdb_abort(&txn);
    }
    return NULL;
}

static void *view_user(void *arg)
{
    ledger_store *v = arg;
    return (void *)(intptr_t)get_is(v, LEDGER_T_META, "t", "1");
}

static void test_threads(const char *base)
{
    char *dir = dir_new(base, "threads");
    store_lmdb *s = NULL;
    store_options opt = {.map_size_bytes = 256 * KIB, .durability = STORE_NOSYNC};
    atomic_bool stop = false;
    atomic_uint_fast64_t reads = 0;
    reader readers[4];
    pthread_t tids[4];
    CHECK_CODE(store_lmdb_open(&s, dir, &opt), 0);
    for (int i = 0; i < 4; i++) {
        readers[i] = (reader){.store = s, .stop = &stop, .reads = &reads};
        CHECK(pthread_create(&tids[i], NULL, reader_main, &readers[i]) == 0);
    }
    for (uint32_t i = 0; i < 60; i++) {
        batch b = {.first = i * 50, .count = 50, .value_len = 600};
        CHECK_CODE(store_lmdb_write(s, batch_fn, &b), 0);
        /* Let the readers get going before the map grows under them. */
        for (int ms = 0; i == 0 && ms < 5000 && atomic_load(&reads) < 200; ms++)
            usleep(1000);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(tids[i], NULL) == 0);
        CHECK_U64(readers[i].failures, 0);
    }
    CHECK(atomic_load(&reads) >= 200);
    CHECK(store_lmdb_map_size(s) >= 2048 * KIB);
    CHECK_U64(batch_count_ok(s, 0, 3000, 600), 3000);
    /* A snapshot begun on one thread is used on another and ended on the first (NOTLS). */
    store_txn *txn;
    ledger_store v;
    void *res = NULL;
    CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
    CHECK_CODE(put_s(&v, LEDGER_T_META, "t", "1"), 0);
    CHECK_CODE(store_lmdb_commit(&txn), 0);
    CHECK_CODE(store_lmdb_begin(s, false, &txn, &v), 0);
    pthread_t tid;
    CHECK(pthread_create(&tid, NULL, view_user, &v) == 0);
    CHECK(pthread_join(tid, &res) == 0);
    CHECK_U64((uintptr_t)res, 1);
    store_lmdb_abort(&txn);
    store_lmdb_close(&s);
    free(dir);
}

/* Another process grows the map past ours: the next begin adopts its size, but only when
 * no transaction of ours is open (an old snapshot would be unmapped under its user). */
static void test_resized_elsewhere(const char *base)
{
    char *dir = dir_new(base, "resized");
    store_lmdb *s = NULL;
    store_txn *txn, *old_txn;
    ledger_store v, old;
    store_options opt = {.map_size_bytes = 256 * KIB, .durability = STORE_NOSYNC};
    CHECK_CODE(store_lmdb_open(&s, dir, &opt), 0);
    batch first = {.first = 0, .count = 10, .value_len = 100};
    CHECK_CODE(store_lmdb_write(s, batch_fn, &first), 0);
    CHECK_CODE(store_lmdb_begin(s, false, &old_txn, &old), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) { /* the child never touches the parent's environment */
        store_lmdb *c = NULL;
        batch big = {.first = 1000, .count = 2000, .value_len = 1000};
        int rc = store_lmdb_open(&c, dir, &opt);
        if (rc == 0)
            rc = store_lmdb_write(c, batch_fn, &big);
        store_lmdb_close(&c);
        _exit(rc == 0 ? 0 : 1);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_CODE(store_lmdb_begin(s, false, &txn, &v), LEDGER_STORE_IO); /* old_txn is open */
    CHECK_CODE(get_is(&old, LEDGER_T_POOL, "none", ""), LEDGER_STORE_NOTFOUND);
    store_lmdb_abort(&old_txn);
    CHECK_U64(batch_count_ok(s, 1000, 2000, 1000), 2000); /* adopted, reads the new data */
    CHECK(store_lmdb_map_size(s) >= 2048 * KIB);
    batch more = {.first = 5000, .count = 100, .value_len = 1000};
    CHECK_CODE(store_lmdb_write(s, batch_fn, &more), 0);
    CHECK_U64(batch_count_ok(s, 5000, 100, 1000), 100);
    store_lmdb_close(&s);
    free(dir);
}

/* The data file's size, or 0. */
static uint64_t file_size(const char *dir)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Reserve keeps zeroed file past LMDB's last page, a step at a time; commits then land inside
 * the file (its size stays), and the environment reopens with everything committed. */
static void test_reserve(const char *base)
{
    char *dir = dir_new(base, "reserve");
    store_lmdb *s = NULL;
    char key[16], val[600];
    CHECK_CODE(store_lmdb_open(&s, dir, NULL), 0);
    uint64_t before = file_size(dir);
    CHECK_CODE(store_lmdb_reserve(s, 256 * KIB, 64 * KIB), 0);
    CHECK_U64(file_size(dir), before + 64 * KIB); /* one step */
    for (int i = 0; i < 3; i++)
        CHECK_CODE(store_lmdb_reserve(s, 256 * KIB, 64 * KIB), 0);
    uint64_t full = file_size(dir);
    CHECK_U64(full, before + 256 * KIB);
    CHECK_CODE(store_lmdb_reserve(s, 256 * KIB, 64 * KIB), 0); /* enough ahead: nothing */
    CHECK_U64(file_size(dir), full);
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    for (int i = 0; i < 100; i++) { /* about 60 KiB of pages: inside the zeros */
        store_txn *txn;
        ledger_store v;
        snprintf(key, sizeof key, "k%03d", i);
        CHECK_CODE(store_lmdb_begin(s, true, &txn, &v), 0);
        CHECK_CODE(put_s(&v, LEDGER_T_HISTORY, key, val), 0);
        CHECK_CODE(store_lmdb_commit(&txn), 0);
    }
    CHECK_U64(file_size(dir), full);
    CHECK_CODE(store_lmdb_reserve(s, 256 * KIB, 64 * KIB), 0); /* tops up again */
    CHECK(file_size(dir) > full);
    store_lmdb_close(&s);
    CHECK_CODE(store_lmdb_open(&s, dir, NULL), 0);
    store_txn *txn;
    ledger_store v;
    CHECK_CODE(store_lmdb_begin(s, false, &txn, &v), 0);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        CHECK_CODE(get_is(&v, LEDGER_T_HISTORY, key, val), 1);
    }
    store_lmdb_abort(&txn);
    store_lmdb_close(&s);
    free(dir);
}

int main(void)
{
    char *base = test_tmpdir("lstd-store");
    test_reserve(base);
    test_basic(base);
    test_next(base);
    test_persistence(base);
    test_snapshot(base);
    test_read_only(base);
    test_growth(base);
    test_cap(base);
    test_poison(base);
    test_threads(base);
    test_resized_elsewhere(base);
    test_key_order_damage(base);
    test_failed_grow(base);
    test_rmtree(base);
    free(base);
    return test_finish("test_store");
}
