/* store_lmdb.c - the ledger_store interface over one LMDB environment and one unnamed database */
#include "store_lmdb.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger_error.h"

/* Layout: every key is one table byte followed by the caller's key bytes, so one table is
 * one contiguous range of the unnamed database and `next` is a cursor seek bounded by the
 * table byte.
 *
 * Remapping: mdb_env_set_mapsize unmaps and remaps the data file, which is only safe when
 * no transaction of this process is open (LMDB does not check). A small gate counts the
 * open transactions; grow waits until the count is zero and holds the gate's lock while it
 * remaps, so no transaction can begin meanwhile. While a grow waits, new transactions wait
 * too (so a stream of overlapping readers cannot starve it), but at most
 * STORE_GATE_WAIT_S: a thread that already holds a snapshot and begins another must not
 * deadlock against the grow waiting for its first one. (This timeout is the only clock use
 * here; it decides when, never what, and the state machine never sees it.) A thread must
 * not call store_lmdb_grow or store_lmdb_write while it holds a transaction itself: it
 * would wait for itself forever. */

#define STORE_MAP_DEFAULT_BYTES (64ull << 20)
#define STORE_MAP_MAX_DEFAULT_BYTES (1ull << 40)
#define STORE_WRITE_ATTEMPTS_MAX 64 /* doublings from one page pass 2^64 well before this */
#define STORE_GATE_WAIT_S 1         /* longest a begin defers to a waiting grow */

struct store_lmdb {
    MDB_env *env;
    MDB_dbi dbi;
    uint64_t map_size_max_bytes;
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_idle; /* signalled when txn_open drops to zero */
    pthread_cond_t gate_open; /* signalled when grow_waiting drops to zero (monotonic) */
    unsigned txn_open;        /* transactions begun and not yet ended */
    unsigned grow_waiting;    /* grows waiting for txn_open to reach zero */
    int broken;               /* LMDB code of a failed remap: the map is gone, refuse all */
};

struct store_txn {
    store_lmdb *store;
    MDB_txn *txn;
    MDB_cursor *cursor; /* opened by the first next, closed before the txn ends */
    bool write;
    int poison;     /* ledger code of the first failure of a write txn; 0 while healthy */
    int poison_mdb; /* the LMDB code behind it (MDB_MAP_FULL tells write to grow) */
};

/* Translate an LMDB or errno code; everything unexpected is reported once, here. */
static int store_error(int rc, const char *what)
{
    assert(rc != 0 && rc != MDB_NOTFOUND);
    if (rc == MDB_MAP_FULL)
        return LEDGER_STORE_FULL;
    if (rc == ENOMEM)
        return LEDGER_NO_MEMORY;
    fprintf(stderr, "store: %s: %s\n", what, mdb_strerror(rc));
    /* MDB_TXN_FULL: the batch dirtied more pages than one transaction can hold. It maps
     * to STORE_FULL so the batch is rejected like a full map, but store_lmdb_write does
     * not grow for it: a bigger map would not help. */
    return rc == MDB_TXN_FULL ? LEDGER_STORE_FULL : LEDGER_STORE_IO;
}

/* Record a failure inside a transaction; a write transaction is poisoned by it. */
static int txn_fail(store_txn *t, int rc, const char *what)
{
    int code = store_error(rc, what);
    if (t->write && t->poison == 0) {
        t->poison = code;
        t->poison_mdb = rc;
    }
    return code;
}

/* A failure the store itself detects (bad argument), reported like an LMDB one. */
static int txn_fail_arg(store_txn *t, const char *what)
{
    fprintf(stderr, "store: %s: table or key length out of range\n", what);
    if (t->write && t->poison == 0) {
        t->poison = LEDGER_STORE_IO;
        t->poison_mdb = EINVAL;
    }
    return LEDGER_STORE_IO;
}

/* Build the stored key (table byte + key) in buf. Returns: false if out of range. */
static bool key_make(uint8_t buf[1 + LEDGER_KEY_MAX], unsigned table, const uint8_t *key,
                     size_t key_len, MDB_val *out)
{
    if (table > UINT8_MAX || key_len > LEDGER_KEY_MAX)
        return false;
    buf[0] = (uint8_t)table;
    if (key_len > 0)
        memcpy(buf + 1, key, key_len);
    out->mv_data = buf;
    out->mv_size = key_len + 1;
    return true;
}

static int view_get(void *self, unsigned table, const uint8_t *key, size_t key_len,
                    const uint8_t **val, size_t *val_len)
{
    store_txn *t = self;
    uint8_t buf[1 + LEDGER_KEY_MAX];
    MDB_val k, v;
    if (t->poison)
        return t->poison;
    if (!key_make(buf, table, key, key_len, &k))
        return txn_fail_arg(t, "get");
    int rc = mdb_get(t->txn, t->store->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return LEDGER_STORE_NOTFOUND;
    if (rc != 0)
        return txn_fail(t, rc, "get");
    *val = v.mv_data;
    *val_len = v.mv_size;
    return 0;
}

/* The transaction's cursor, opened on first use. Writes go through it: LMDB then searches
 * only the leaf page it is on when the key falls inside it, so writes in key order (a
 * checkpoint's) skip the descent from the root. Returns: 0 or an LMDB code. */
static int cursor_of(store_txn *t)
{
    int rc = 0;
    if (t->cursor == NULL && (rc = mdb_cursor_open(t->txn, t->store->dbi, &t->cursor)) != 0)
        t->cursor = NULL;
    return rc;
}

static int view_put(void *self, unsigned table, const uint8_t *key, size_t key_len,
                    const uint8_t *val, size_t val_len)
{
    static const uint8_t empty[1];
    store_txn *t = self;
    uint8_t buf[1 + LEDGER_KEY_MAX];
    MDB_val k, v = {.mv_size = val_len, .mv_data = (void *)(val ? val : empty)};
    if (t->poison)
        return t->poison;
    /* An empty key would be returned forever by next(table, key_len 0): refuse it. */
    if (key_len == 0 || !key_make(buf, table, key, key_len, &k))
        return txn_fail_arg(t, "put");
    int rc = cursor_of(t);
    if (rc == 0)
        rc = mdb_cursor_put(t->cursor, &k, &v, 0);
    return rc == 0 ? 0 : txn_fail(t, rc, "put");
}

int store_lmdb_append(ledger_store *view, unsigned table, const uint8_t *key, size_t key_len,
                      const uint8_t *val, size_t val_len)
{
    store_txn *t = view->self;
    uint8_t buf[1 + LEDGER_KEY_MAX];
    MDB_val k, v = {.mv_size = val_len, .mv_data = (void *)val};
    assert(view->put == view_put && t->write);
    if (t->poison)
        return t->poison;
    if (key_len == 0 || !key_make(buf, table, key, key_len, &k))
        return txn_fail_arg(t, "append");
    int rc = mdb_put(t->txn, t->store->dbi, &k, &v, MDB_APPEND);
    return rc == 0 ? 0 : txn_fail(t, rc, rc == MDB_KEYEXIST ? "append (key not last)" : "append");
}

static int view_del(void *self, unsigned table, const uint8_t *key, size_t key_len)
{
    store_txn *t = self;
    uint8_t buf[1 + LEDGER_KEY_MAX];
    MDB_val k;
    if (t->poison)
        return t->poison;
    if (!key_make(buf, table, key, key_len, &k))
        return txn_fail_arg(t, "del");
    MDB_val v;
    int rc = cursor_of(t);
    if (rc == 0)
        rc = mdb_cursor_get(t->cursor, &k, &v, MDB_SET);
    if (rc == 0)
        rc = mdb_cursor_del(t->cursor, 0);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return txn_fail(t, rc, "del");
}

/* Returns: true if key a sorts strictly after key b (byte order, then length). */
static bool key_after(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    return c > 0 || (c == 0 && a_len > b_len);
}

static int view_next(void *self, unsigned table, const uint8_t *key, size_t key_len,
                     const uint8_t **key_out, size_t *key_out_len, const uint8_t **val,
                     size_t *val_len)
{
    store_txn *t = self;
    uint8_t buf[1 + LEDGER_KEY_MAX];
    MDB_val k, v;
    int rc;
    if (t->poison)
        return t->poison;
    if (!key_make(buf, table, key, key_len, &k))
        return txn_fail_arg(t, "next");
    if ((rc = cursor_of(t)) != 0)
        return txn_fail(t, rc, "cursor");
    size_t seek_len = k.mv_size;
    rc = mdb_cursor_get(t->cursor, &k, &v, MDB_SET_RANGE);
    /* Strictly greater: step over an exact match, except for key_len 0 (the first key). */
    if (rc == 0 && key_len > 0 && k.mv_size == seek_len && memcmp(k.mv_data, buf, seek_len) == 0)
        rc = mdb_cursor_get(t->cursor, &k, &v, MDB_NEXT);
    if (rc == MDB_NOTFOUND)
        return LEDGER_STORE_NOTFOUND;
    if (rc != 0)
        return txn_fail(t, rc, "next");
    const uint8_t *found = k.mv_data;
    if (k.mv_size < 1 || found[0] != table)
        return LEDGER_STORE_NOTFOUND;
    if (key_len > 0 && !key_after(found, k.mv_size, buf, seek_len)) {
        /* LMDB's pages are not checksummed: a damaged page can break the key order. Refuse
         * rather than hand back a key that would send a scan round in circles. */
        fprintf(stderr, "store: next: table %u holds a key out of order (damaged page)\n", table);
        return LEDGER_STORE_CORRUPT;
    }
    *key_out = found + 1;
    *key_out_len = k.mv_size - 1;
    *val = v.mv_data;
    *val_len = v.mv_size;
    return 0;
}

/* Count a transaction in, after any waiting grow (bounded). Returns: 0, or the code that
 * broke the map. */
static int gate_enter(store_lmdb *s)
{
    pthread_mutex_lock(&s->gate_lock);
    if (s->grow_waiting > 0) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += STORE_GATE_WAIT_S;
        while (s->grow_waiting > 0 &&
               pthread_cond_timedwait(&s->gate_open, &s->gate_lock, &deadline) == 0) {
        }
    }
    int broken = s->broken;
    if (broken == 0)
        s->txn_open++;
    pthread_mutex_unlock(&s->gate_lock);
    return broken;
}

static void gate_leave(store_lmdb *s)
{
    pthread_mutex_lock(&s->gate_lock);
    assert(s->txn_open > 0);
    if (--s->txn_open == 0)
        pthread_cond_broadcast(&s->gate_idle);
    pthread_mutex_unlock(&s->gate_lock);
}

/* After mdb_env_set_mapsize failed: unless it refused up front (EINVAL), LMDB has already
 * unmapped the old map and holds none, so every later transaction must be refused.
 * Called with gate_lock held. */
static void map_lost(store_lmdb *s, int rc)
{
    if (rc != 0 && rc != EINVAL)
        s->broken = rc;
}

/* Another process grew the map past ours: adopt its size, but only if no transaction of
 * this process is open (waiting could deadlock a thread that holds one). */
static int map_adopt(store_lmdb *s)
{
    int rc = MDB_MAP_RESIZED;
    pthread_mutex_lock(&s->gate_lock);
    if (s->txn_open == 0 && s->broken == 0) {
        rc = mdb_env_set_mapsize(s->env, 0);
        map_lost(s, rc);
    }
    pthread_mutex_unlock(&s->gate_lock);
    return rc;
}

/* Begin an LMDB transaction inside the gate (counted until txn_end). */
static int mdb_begin(store_lmdb *s, bool write, MDB_txn **out)
{
    for (int attempt = 0;; attempt++) {
        if (gate_enter(s) != 0) {
            fprintf(stderr, "store: begin: the map was lost by an earlier failed remap\n");
            return LEDGER_STORE_IO;
        }
        int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, out);
        if (rc == 0)
            return 0;
        gate_leave(s);
        if (rc != MDB_MAP_RESIZED || attempt > 0)
            return store_error(rc, "begin");
        rc = map_adopt(s);
        if (rc != 0)
            return store_error(rc, "begin: adopt the map size of another process");
    }
}

/* End a transaction (commit or abort) and free it. Out: *mdb_rc, the LMDB code behind a
 * failure. Returns: 0 or the ledger code of the failure (nothing committed then). */
static int txn_end(store_txn *t, bool commit, int *mdb_rc)
{
    store_lmdb *s = t->store;
    int code = 0;
    *mdb_rc = 0;
    if (t->cursor != NULL)
        mdb_cursor_close(t->cursor);
    if (commit && t->write && t->poison != 0) {
        code = t->poison;
        *mdb_rc = t->poison_mdb;
        commit = false;
    }
    if (commit && t->write) {
        int rc = mdb_txn_commit(t->txn); /* frees the txn, on failure too */
        if (rc != 0) {
            code = store_error(rc, "commit");
            *mdb_rc = rc;
        }
    } else {
        mdb_txn_abort(t->txn);
    }
    free(t);
    gate_leave(s);
    return code;
}

int store_lmdb_begin(store_lmdb *s, bool write, store_txn **txn, ledger_store *view)
{
    assert(s != NULL && txn != NULL && view != NULL);
    *txn = NULL;
    store_txn *t = calloc(1, sizeof *t);
    if (t == NULL)
        return LEDGER_NO_MEMORY;
    int code = mdb_begin(s, write, &t->txn);
    if (code != 0) {
        free(t);
        return code;
    }
    t->store = s;
    t->write = write;
    *view = (ledger_store){
        .self = t, .get = view_get, .put = view_put, .del = view_del, .next = view_next};
    *txn = t;
    return 0;
}

int store_lmdb_commit(store_txn **txn)
{
    assert(txn != NULL && *txn != NULL);
    int mdb_rc;
    store_txn *t = *txn;
    *txn = NULL;
    return txn_end(t, true, &mdb_rc);
}

void store_lmdb_abort(store_txn **txn)
{
    if (txn == NULL || *txn == NULL)
        return;
    int mdb_rc;
    store_txn *t = *txn;
    *txn = NULL;
    txn_end(t, false, &mdb_rc);
}

/* The map's size, 0 once a failed remap lost it (mdb_env_info would read the unmapped
 * meta pages). Called with gate_lock held. */
static size_t map_size_now(store_lmdb *s)
{
    MDB_envinfo info;
    if (s->broken != 0 || mdb_env_info(s->env, &info) != 0)
        return 0;
    return info.me_mapsize;
}

/* Double the map, unless it already outgrew seen_bytes (another thread grew it since the
 * caller looked; 0: grow regardless). Returns: 0, LEDGER_STORE_FULL or LEDGER_STORE_IO. */
static int map_grow(store_lmdb *s, uint64_t seen_bytes)
{
    int code = 0;
    pthread_mutex_lock(&s->gate_lock);
    s->grow_waiting++;
    while (s->txn_open > 0)
        pthread_cond_wait(&s->gate_idle, &s->gate_lock);
    uint64_t now = map_size_now(s);
    uint64_t want = now > s->map_size_max_bytes / 2 ? s->map_size_max_bytes : now * 2;
    if (seen_bytes != 0 && now > seen_bytes) {
        code = 0; /* another thread grew it since the caller looked: just retry */
    } else if (s->broken != 0) {
        fprintf(stderr, "store: grow: the map was lost by an earlier failed remap\n");
        code = LEDGER_STORE_IO;
    } else if (now == 0 || want <= now) {
        code = LEDGER_STORE_FULL;
    } else {
        int rc = mdb_env_set_mapsize(s->env, (size_t)want);
        if (rc != 0) {
            map_lost(s, rc);
            fprintf(stderr, "store: grow to %" PRIu64 " bytes: %s\n", want, mdb_strerror(rc));
            code = LEDGER_STORE_IO;
        }
    }
    if (--s->grow_waiting == 0)
        pthread_cond_broadcast(&s->gate_open);
    pthread_mutex_unlock(&s->gate_lock);
    return code;
}

int store_lmdb_grow(store_lmdb *s)
{
    assert(s != NULL);
    return map_grow(s, 0);
}

int store_lmdb_write(store_lmdb *s, int (*fn)(void *ctx, ledger_store *view), void *ctx)
{
    assert(s != NULL && fn != NULL);
    for (int attempt = 0; attempt < STORE_WRITE_ATTEMPTS_MAX; attempt++) {
        store_txn *txn;
        ledger_store view;
        int mdb_rc;
        uint64_t seen_bytes = store_lmdb_map_size(s);
        int code = store_lmdb_begin(s, true, &txn, &view);
        if (code != 0)
            return code;
        code = fn(ctx, &view);
        if (code == 0) {
            code = txn_end(txn, true, &mdb_rc);
        } else {
            mdb_rc = txn->poison_mdb;
            store_lmdb_abort(&txn);
        }
        /* Only a full map is worth a retry, whatever fn made of the error it saw. */
        if (mdb_rc != MDB_MAP_FULL)
            return code;
        int grown = map_grow(s, seen_bytes);
        if (grown != 0)
            return grown;
    }
    return LEDGER_STORE_FULL;
}

uint64_t store_lmdb_map_size(store_lmdb *s)
{
    assert(s != NULL);
    pthread_mutex_lock(&s->gate_lock);
    uint64_t size = map_size_now(s);
    pthread_mutex_unlock(&s->gate_lock);
    return size;
}

int store_lmdb_reserve(store_lmdb *s, uint64_t ahead_bytes, uint64_t step_bytes)
{
    static const uint8_t zeros[65536];
    MDB_envinfo info;
    MDB_stat ms;
    struct stat st;
    int fd, rc = mdb_env_info(s->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(s->env, &ms);
    if (rc == 0)
        rc = mdb_env_get_fd(s->env, &fd);
    if (rc == 0 && fstat(fd, &st) != 0)
        rc = errno;
    if (rc != 0)
        return -1;
    uint64_t used = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize, size = (uint64_t)st.st_size;
    if (size >= used + ahead_bytes)
        return 0;
    for (uint64_t at = size; at < size + step_bytes; at += sizeof zeros)
        if (pwrite(fd, zeros, sizeof zeros, (off_t)at) != (ssize_t)sizeof zeros)
            return -1; /* the disk is full, say: the commits themselves will say so */
    return 0;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A chunk whose sync took longer than this wrote something (a clean one takes microseconds). */
#define SYNC_WROTE_NS 100000u

int store_lmdb_sync_paced(store_lmdb *s, uint64_t chunk_bytes, uint64_t bytes_per_s)
{
    assert(s != NULL && chunk_bytes > 0 && chunk_bytes <= INT64_MAX);
    int fd;
    struct stat st;
    int rc = mdb_env_get_fd(s->env, &fd);
    if (rc == 0 && fstat(fd, &st) != 0)
        rc = errno;
    uint64_t chunk_ns = bytes_per_s > 0 ? chunk_bytes * 1000000000u / bytes_per_s : 0;
    for (uint64_t at = 0; rc == 0 && at < (uint64_t)st.st_size; at += chunk_bytes) {
        uint64_t t0 = mono_ns();
        if (sync_file_range(fd, (off_t)at, (off_t)chunk_bytes,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                SYNC_FILE_RANGE_WAIT_AFTER) != 0)
            rc = errno;
        uint64_t took = mono_ns() - t0;
        if (took > SYNC_WROTE_NS && took < chunk_ns) {
            uint64_t rest = chunk_ns - took;
            struct timespec ts = {(time_t)(rest / 1000000000u), (long)(rest % 1000000000u)};
            nanosleep(&ts, NULL);
        }
    }
    if (rc == 0)
        rc = mdb_env_sync(s->env, 1);
    return rc == 0 ? 0 : store_error(rc, "sync");
}

/* One copy attempt inside the gate, so no grow of this process remaps under it.
 * Returns: 0 or an LMDB/errno code. */
static int backup_once(store_lmdb *s, const char *dest_dir, unsigned flags)
{
    if (gate_enter(s) != 0) {
        fprintf(stderr, "store: backup: the map was lost by an earlier failed remap\n");
        return EIO;
    }
    int rc = mdb_env_copy2(s->env, dest_dir, flags);
    gate_leave(s);
    return rc;
}

/* Make the copy durable: the file, then the directory entry. Returns: 0 or an errno code. */
static int backup_sync(const char *path, const char *dest_dir)
{
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fchmod(fd, 0600) != 0 || fsync(fd) != 0)
        rc = errno;
    if (fd >= 0)
        close(fd);
    fd = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rc == 0 && (fd < 0 || fsync(fd) != 0))
        rc = errno;
    if (fd >= 0)
        close(fd);
    return rc;
}

int store_lmdb_backup(store_lmdb *s, const char *dest_dir, bool compact)
{
    assert(s != NULL && dest_dir != NULL);
    char path[4096];
    int rc;
    if (snprintf(path, sizeof path, "%s/data.mdb", dest_dir) >= (int)sizeof path) {
        fprintf(stderr, "store: backup: destination path too long\n");
        return LEDGER_STORE_IO;
    }
    if (mkdir(dest_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "store: backup: mkdir %s: %s\n", dest_dir, strerror(errno));
        return LEDGER_STORE_IO;
    }
    bool exists = access(path, F_OK) == 0;
    if (exists || errno != ENOENT) {
        fprintf(stderr, "store: backup: %s: %s\n", path,
                exists ? "already exists" : strerror(errno));
        return LEDGER_STORE_IO;
    }
    unsigned flags = compact ? MDB_CP_COMPACT : 0;
    rc = backup_once(s, dest_dir, flags);
    if (rc == MDB_MAP_RESIZED) { /* another process grew the map: adopt it, try once more */
        unlink(path);            /* the copy had created the file before it began */
        rc = map_adopt(s);
        if (rc == 0)
            rc = backup_once(s, dest_dir, flags);
    }
    if (rc == 0)
        rc = backup_sync(path, dest_dir);
    if (rc == 0)
        return 0;
    unlink(path); /* a partial copy must not pass for a backup */
    if (rc == MDB_NOTFOUND)
        rc = EIO; /* not expected from a copy; store_error does not take it */
    return store_error(rc, "backup");
}

/* Open the environment and its unnamed database. Returns: 0 or an LMDB/errno code. */
static int env_open(store_lmdb *s, const char *dir, const store_options *o)
{
    uint64_t map = o->map_size_bytes ? o->map_size_bytes : STORE_MAP_DEFAULT_BYTES;
    unsigned flags = MDB_NOTLS;
    int rc, dead = 0;
    MDB_txn *txn;
    map = map < s->map_size_max_bytes ? map : s->map_size_max_bytes;
    map = map < SIZE_MAX ? map : SIZE_MAX;
    if (o->durability == STORE_NOSYNC)
        flags |= MDB_NOSYNC;
    if (o->read_only)
        flags |= MDB_RDONLY;
    if ((rc = mdb_env_create(&s->env)) != 0)
        return rc;
    if ((rc = mdb_env_set_mapsize(s->env, (size_t)map)) != 0 ||
        (rc = mdb_env_open(s->env, dir, flags, 0600)) != 0)
        return rc;
    /* Free the reader slots of processes that died holding a snapshot. */
    if ((rc = mdb_reader_check(s->env, &dead)) != 0)
        fprintf(stderr, "store: reader check: %s\n", mdb_strerror(rc));
    if ((rc = mdb_txn_begin(s->env, NULL, o->read_only ? MDB_RDONLY : 0, &txn)) != 0)
        return rc;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* Returns: 0 or an errno code (nothing to destroy then). */
static int gate_init(store_lmdb *s)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc != 0)
        return rc;
    if ((rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
        (rc = pthread_mutex_init(&s->gate_lock, NULL)) != 0) {
        pthread_condattr_destroy(&attr);
        return rc;
    }
    if ((rc = pthread_cond_init(&s->gate_idle, NULL)) != 0) {
        pthread_mutex_destroy(&s->gate_lock);
    } else if ((rc = pthread_cond_init(&s->gate_open, &attr)) != 0) {
        pthread_cond_destroy(&s->gate_idle);
        pthread_mutex_destroy(&s->gate_lock);
    }
    pthread_condattr_destroy(&attr);
    return rc;
}

/* A data file shorter than the pages LMDB's meta page says are in use (a truncated copy)
 * would open fine and then fault on the first read: refuse it here. Returns: 0 or -1. */
static int file_complete(store_lmdb *s, const char *dir)
{
    MDB_envinfo info;
    MDB_stat st;
    struct stat fs;
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0 || stat(path, &fs) != 0)
        return -1;
    uint64_t needed = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if ((uint64_t)fs.st_size < needed) {
        fprintf(stderr, "store: %s is truncated: %" PRIu64 " bytes, %" PRIu64 " in use\n", path,
                (uint64_t)fs.st_size, needed);
        return -1;
    }
    return 0;
}

int store_lmdb_open(store_lmdb **out, const char *dir, const store_options *opt)
{
    assert(out != NULL && dir != NULL);
    store_options o = opt ? *opt : (store_options){0};
    *out = NULL;
    assert(o.durability == STORE_SYNC || o.durability == STORE_NOSYNC);
    if (!o.read_only && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "store: mkdir %s: %s\n", dir, strerror(errno));
        return LEDGER_STORE_IO;
    }
    store_lmdb *s = calloc(1, sizeof *s);
    if (s == NULL)
        return LEDGER_NO_MEMORY;
    s->map_size_max_bytes =
        o.map_size_max_bytes ? o.map_size_max_bytes : STORE_MAP_MAX_DEFAULT_BYTES;
    if (gate_init(s) != 0) {
        free(s);
        return LEDGER_NO_MEMORY;
    }
    int rc = env_open(s, dir, &o);
    if (rc != 0) {
        fprintf(stderr, "store: open %s: %s\n", dir, mdb_strerror(rc));
        store_lmdb_close(&s);
        return rc == ENOMEM ? LEDGER_NO_MEMORY : LEDGER_STORE_IO;
    }
    if (file_complete(s, dir) != 0) {
        store_lmdb_close(&s);
        return LEDGER_STORE_IO;
    }
    *out = s;
    return 0;
}

void store_lmdb_close(store_lmdb **s)
{
    if (s == NULL || *s == NULL)
        return;
    store_lmdb *st = *s;
    *s = NULL;
    assert(st->txn_open == 0);
    if (st->env != NULL)
        mdb_env_close(st->env);
    pthread_cond_destroy(&st->gate_idle);
    pthread_cond_destroy(&st->gate_open);
    pthread_mutex_destroy(&st->gate_lock);
    free(st);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int store_lmdb_locate(const char *tool, const char *arg, char *out, size_t size)
{
    char data[4096];
    struct stat st;
    if (!is_dir(arg)) {
        fprintf(stderr, "%s: %s: not a directory\n", tool, arg);
        return -1;
    }
    int n = snprintf(out, size, "%s/ledger", arg);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "%s: %s: path too long\n", tool, arg);
        return -1;
    }
    if (!is_dir(out))
        snprintf(out, size, "%s", arg);
    snprintf(data, sizeof data, "%s/data.mdb", out);
    if (stat(data, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: no LMDB data file %s\n", tool, data);
        return -1;
    }
    return 0;
}
