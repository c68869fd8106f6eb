/* store_db.c - create, open (load, verify, rebuild, replay) and close the durable ledger */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger_internal.h"
#include "store_db_internal.h"

#define META_FORMAT 3 /* log format marker: absent in directories of older lstd versions */
/* history records in the log, state in the checkpoint; 3: records list the accounts they
 * change unnamed (PROTOCOL.md, record layout 02) */
#define LOG_FORMAT 3

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
say(char *msg, size_t size, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (size > 0)
        vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    return code;
}

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void ckpt_dir(char *out, size_t size, const char *dir)
{
    snprintf(out, size, "%s/checkpoint", dir);
}

static store_options lmdb_options(const store_db_options *o)
{
    return (store_options){.map_size_bytes = o->map_size_bytes,
                           .map_size_max_bytes = o->map_size_max_bytes,
                           .durability = o->durability,
                           .read_only = o->read_only};
}

/* The checkpoint's environment: never synced by LMDB's commit; the checkpointer syncs it
 * a chunk at a time (db_ckpt_sync) so that its large write never queues ahead of the log's. */
static store_options ckpt_options(const store_db_options *o)
{
    store_options c = lmdb_options(o);
    c.durability = STORE_NOSYNC;
    return c;
}

/* The parts every store_db has; the environments are opened by the caller. */
static int db_new(store_db **out, const char *dir, const store_db_options *opt)
{
    store_db *db = calloc(1, sizeof *db);
    *out = NULL;
    if (db == NULL)
        return LEDGER_NO_MEMORY;
    db->opt = opt ? *opt : (store_db_options){0};
    if (db->opt.seed == 0 && getrandom(&db->opt.seed, sizeof db->opt.seed, 0) != 8)
        db->opt.seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)db;
    snprintf(db->dir, sizeof db->dir, "%s", dir);
    pthread_mutex_init(&db->lock, NULL);
    pthread_condattr_t mono; /* the log thread's gathering waits are not moved by clock steps */
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
    pthread_cond_init(&db->log_cv, &mono);
    pthread_condattr_destroy(&mono);
    pthread_cond_init(&db->durable_cv, NULL);
    pthread_cond_init(&db->ckpt_cv, NULL);
    db_view_init(db);
    db->visible_seq = 1;
    *out = db;
    if (store_mem_new(&db->state, db->opt.seed) != 0 ||
        store_acctidx_new(&db->acct, db->opt.seed ^ 0x61636374ull) != 0 ||
        store_txindex_new(&db->txs, db->opt.seed ^ 0x7478ull) != 0)
        return LEDGER_NO_MEMORY;
    store_mem_track(db->state);
    return 0;
}

static void db_free(store_db *db)
{
    db_read_end(db);
    for (int list = 0; list < 2; list++)
        for (pending *p = list ? db->spare : db->head, *next; p != NULL; p = next) {
            next = p->next;
            db_pending_free(p);
        }
    capture *filling = db->filling;
    if (filling != NULL)
        filling->next = db->cap_head;
    for (capture *c = filling != NULL ? filling : db->cap_head, *next; c != NULL; c = next) {
        next = c->next;
        capture_free(c);
    }
    chunks_free(db->cap_chunks);
    store_mem_free(&db->state);
    store_acctidx_free(&db->acct);
    store_txindex_free(&db->txs);
    store_lmdb_close(&db->log);
    store_lmdb_close(&db->ckpt);
    free(db->unit_rec);
    free(db->unit_off);
    pthread_cond_destroy(&db->log_cv);
    pthread_cond_destroy(&db->durable_cv);
    pthread_cond_destroy(&db->ckpt_cv);
    pthread_mutex_destroy(&db->lock);
    free(db);
}

ledger_store *store_db_view(store_db *db)
{
    return &db->view;
}

void store_db_stats_get(store_db *db, store_db_stats *out)
{
    pthread_mutex_lock(&db->lock);
    *out = db->stats;
    pthread_mutex_unlock(&db->lock);
}

/* ---- create ------------------------------------------------------------------------------- */

/* Every entry of the state store, into a checkpoint environment. */
static int dump_state(void *ctx, ledger_store *view)
{
    store_mem *m = ctx;
    ledger_store v;
    store_mem_view(m, &v);
    for (unsigned t = 1; t < 256; t++) {
        const uint8_t *k = NULL, *val;
        size_t kn = 0, vn;
        while (v.next(v.self, t, k, kn, &k, &kn, &val, &vn) == 0) {
            int rc = view->put(view->self, t, k, kn, val, vn);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* The log of a new ledger: its genesis, its chain and the format marker. */
static int log_init(void *ctx, ledger_store *view)
{
    store_mem *m = ctx;
    ledger_store v;
    const uint8_t format = LOG_FORMAT, keys[2] = {META_GENESIS, META_CHAIN};
    store_mem_view(m, &v);
    for (int i = 0; i < 2; i++) {
        const uint8_t *val;
        size_t n;
        int rc = v.get(v.self, LEDGER_T_META, &keys[i], 1, &val, &n);
        if (rc == 0)
            rc = view->put(view->self, LEDGER_T_META, &keys[i], 1, val, n);
        if (rc != 0)
            return rc;
    }
    uint8_t key = META_FORMAT;
    return view->put(view->self, LEDGER_T_META, &key, 1, &format, 1);
}

static int has_genesis(store_lmdb *s)
{
    store_txn *t;
    ledger_store v;
    const uint8_t key = META_GENESIS, *val;
    size_t n;
    int rc = store_lmdb_begin(s, false, &t, &v);
    if (rc != 0)
        return rc;
    rc = v.get(v.self, LEDGER_T_META, &key, 1, &val, &n);
    store_lmdb_abort(&t);
    return rc == 0 ? 1 : rc == LEDGER_STORE_NOTFOUND ? 0 : rc;
}

int store_db_create(const char *dir, const ledger_genesis *g, const store_db_options *opt)
{
    store_db *db;
    char cdir[4200];
    store_db_options o = opt ? *opt : (store_db_options){0};
    o.read_only = false;
    store_options lo = lmdb_options(&o), co = ckpt_options(&o);
    int rc = db_new(&db, dir, &o);
    ckpt_dir(cdir, sizeof cdir, dir);
    if (rc == 0)
        rc = store_lmdb_open(&db->log, dir, &lo);
    if (rc == 0)
        rc = store_lmdb_open(&db->ckpt, cdir, &co);
    int found = rc == 0 ? has_genesis(db->log) : rc;
    if (found == 0)
        found = has_genesis(db->ckpt);
    rc = found == 1 ? LEDGER_ALREADY_INITIALIZED : found;
    if (rc == 0)
        rc = ledger_genesis_apply(&db->view, g);
    if (rc == 0) {
        store_mem_commit(db->state);
        /* the checkpoint first: a log with a genesis is what makes the directory a ledger */
        rc = store_lmdb_write(db->ckpt, dump_state, db->state);
    }
    if (rc == 0)
        rc = db_ckpt_sync(db);
    if (rc == 0)
        rc = store_lmdb_write(db->log, log_init, db->state);
    if (db != NULL)
        db_free(db);
    return rc;
}

/* ---- open --------------------------------------------------------------------------------- */

/* Load every entry of the checkpoint into the state store, summing the digest as it goes. */
static int load_checkpoint(store_db *db, uint8_t digest[LEDGER_HASH_SIZE], char *msg, size_t size)
{
    store_txn *t;
    ledger_store v;
    int rc = store_lmdb_begin(db->ckpt, false, &t, &v);
    if (rc != 0)
        return say(msg, size, rc, "cannot read the checkpoint");
    memset(digest, 0, LEDGER_HASH_SIZE);
    for (unsigned table = 1; rc == 0 && table < 256; table++) {
        const uint8_t *k = NULL, *val;
        size_t kn = 0, vn;
        uint8_t h[LEDGER_HASH_SIZE] = {0};
        while ((rc = v.next(v.self, table, k, kn, &k, &kn, &val, &vn)) == 0) {
            if (ledger_table_digested(table)) {
                ledger_element_hash(h, table, k, kn, val, vn);
                ledger_digest_add(digest, h);
            }
            if ((rc = store_mem_load(db->state, table, k, kn, val, vn, h)) != 0)
                break;
        }
        rc = rc == LEDGER_STORE_NOTFOUND ? 0 : rc;
    }
    store_lmdb_abort(&t);
    return rc == 0 ? 0
                   : say(msg, size, rc, "the checkpoint does not load (%s)", ledger_err_name(rc));
}

/* The genesis bytes of a view, for comparing the checkpoint's with the log's. */
static int genesis_bytes(ledger_store *v, const uint8_t **val, size_t *n)
{
    const uint8_t key = META_GENESIS;
    return v->get(v->self, LEDGER_T_META, &key, 1, val, n);
}

/* Begin the log's read snapshot (kept for rebuilding and replaying) and check it is a ledger
 * of this format. Out: *log_chain. */
static int read_log(store_db *db, ledger_chain *log_chain, char *msg, size_t size)
{
    const uint8_t key = META_FORMAT, *a, *f;
    size_t an, fn;
    int rc = store_lmdb_begin(db->log, false, &db->rtxn, &db->rview);
    if (rc != 0)
        return say(msg, size, rc, "cannot read the log");
    rc = genesis_bytes(&db->rview, &a, &an);
    if (rc == LEDGER_STORE_NOTFOUND)
        return say(msg, size, LEDGER_NOT_INITIALIZED, "%s holds no ledger", db->dir);
    bool has_format =
        db->rview.get(db->rview.self, LEDGER_T_META, &key, 1, &f, &fn) == 0 && fn == 1;
    if (has_format && f[0] > LOG_FORMAT)
        return say(msg, size, LEDGER_STORE_CORRUPT,
                   "%s was written by a newer lstd (log format %u; this version reads %u): run "
                   "that version or a later one",
                   db->dir, f[0], LOG_FORMAT);
    if (!has_format)
        return say(msg, size, LEDGER_STORE_CORRUPT,
                   "%s was written by an older lstd (state inside the log); this version keeps "
                   "state in DIR/checkpoint and cannot open it",
                   db->dir);
    if (f[0] != LOG_FORMAT)
        return say(msg, size, LEDGER_STORE_CORRUPT,
                   "%s was written by an older lstd (log format %u; this version reads %u, whose "
                   "history records list the accounts they change): this pre-1.0 version cannot "
                   "open it",
                   db->dir, f[0], LOG_FORMAT);
    if (rc == 0)
        rc = ledger_read_chain(&db->rview, log_chain);
    const uint8_t pkey = META_POSITION, *pv;
    size_t pn;
    if (rc == 0 && db->rview.get(db->rview.self, LEDGER_T_META, &pkey, 1, &pv, &pn) == 0)
        db->position = pn == 8 ? be64_get(pv) : 0;
    return rc == 0
               ? 0
               : say(msg, size, LEDGER_STORE_CORRUPT, "the log's genesis or chain does not decode");
}

/* Load the checkpoint into the state store and check it against the log: the same genesis,
 * its state hashing to its digest, not ahead of the log. Out: *c (the checkpoint's chain). */
static int load_checked(store_db *db, const ledger_chain *l, ledger_chain *c, char *msg,
                        size_t size)
{
    uint8_t digest[LEDGER_HASH_SIZE];
    const uint8_t *a, *b;
    size_t an, bn;
    if (db->ckpt == NULL)
        return say(msg, size, LEDGER_STORE_CORRUPT, "the checkpoint cannot be opened");
    int rc = load_checkpoint(db, digest, msg, size);
    if (rc != 0)
        return rc;
    rc = genesis_bytes(&db->view, &b, &bn);
    if (rc == LEDGER_STORE_NOTFOUND)
        return say(msg, size, LEDGER_STORE_CORRUPT, "the checkpoint is empty (missing or lost)");
    if (rc != 0 || genesis_bytes(&db->rview, &a, &an) != 0 || an != bn || memcmp(a, b, an) != 0)
        return say(msg, size, LEDGER_STORE_CORRUPT, "the checkpoint is not of this ledger");
    if (ledger_read_chain(&db->view, c) != 0)
        return say(msg, size, LEDGER_STORE_CORRUPT, "the checkpoint holds no chain record");
    if (memcmp(digest, c->digest, LEDGER_HASH_SIZE) != 0 && !db->opt.lenient)
        return say(msg, size, LEDGER_STORE_CORRUPT,
                   "the checkpoint is damaged: its state does not hash to its digest");
    if (c->next_seq > l->next_seq)
        return say(msg, size, LEDGER_STORE_CORRUPT,
                   "the checkpoint (seq %" PRIu64 ") is ahead of the log (seq %" PRIu64 ")",
                   c->next_seq, l->next_seq);
    return 0;
}

/* Drop whatever a bad checkpoint loaded and start from the log's genesis: the replay of the
 * whole log then rebuilds the state (and checks it against the log's chain and digest).
 * Out: *c (the genesis state's chain). */
static int state_from_genesis(store_db *db, ledger_chain *c, char *msg, size_t size)
{
    ledger_genesis g;
    store_mem_free(&db->state);
    if (store_mem_new(&db->state, db->opt.seed) != 0)
        return say(msg, size, LEDGER_NO_MEMORY, "no memory for the state");
    store_mem_track(db->state);
    int rc = ledger_genesis_read(&db->rview, &g);
    if (rc == 0)
        rc = ledger_genesis_apply(&db->view, &g);
    store_mem_commit(db->state);
    if (rc == 0)
        rc = ledger_read_chain(&db->view, c);
    return rc == 0 ? 0
                   : say(msg, size, LEDGER_STORE_CORRUPT, "the log's genesis does not apply (%s)",
                         ledger_err_name(rc));
}

#define REBUILD_CHUNK 256 /* records read, then their index entries hinted, then indexed */

/* Hint the index entries a chunk of records is about to touch (as a batch hints its accounts):
 * the tx-hash slots and each named account's history entry. */
static void rebuild_prefetch(store_db *db, const ledger_record *r, size_t n)
{
    uint8_t keys[3 * REBUILD_CHUNK][LEDGER_KEY_SIZE], hashes[REBUILD_CHUNK][LEDGER_HASH_SIZE];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *named[3] = {r[i].tx.signer, r[i].tx.account, r[i].tx.account2};
        for (int j = 0; j < 3; j++)
            if (!key_is_zero(named[j]))
                memcpy(keys[k++], named[j], LEDGER_KEY_SIZE);
        memcpy(hashes[i], r[i].tx_hash, LEDGER_HASH_SIZE);
    }
    store_acctidx_prefetch(db->acct, keys[0], k);
    store_txindex_prefetch(db->txs, hashes[0], n);
}

/* Index every record the checkpoint covers, checking each links to the one before. */
static int rebuild_indexes(store_db *db, const ledger_chain *c, char *msg, size_t size)
{
    uint8_t prev[LEDGER_HASH_SIZE], gen[LEDGER_GENESIS_BYTES_MAX];
    ledger_genesis g;
    ledger_record *r = malloc(REBUILD_CHUNK * sizeof *r);
    int rc = r == NULL ? LEDGER_NO_MEMORY : ledger_genesis_read(&db->view, &g);
    if (rc != 0) {
        free(r);
        return say(msg, size, rc == LEDGER_NO_MEMORY ? rc : LEDGER_STORE_CORRUPT,
                   "the genesis does not decode");
    }
    ledger_genesis_hash(prev, gen, ledger_genesis_encode(gen, sizeof gen, &g));
    for (uint64_t first = 1; rc == 0 && first < c->next_seq; first += REBUILD_CHUNK) {
        size_t n = c->next_seq - first < REBUILD_CHUNK ? c->next_seq - first : REBUILD_CHUNK;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            uint64_t seq = first + i;
            if (ledger_read_record(&db->rview, seq, &r[i]) != 0)
                rc = say(msg, size, LEDGER_STORE_CORRUPT,
                         "history record %" PRIu64 " is missing or does not decode", seq);
            else if (memcmp(r[i].prev, prev, LEDGER_HASH_SIZE) != 0 && !db->opt.lenient)
                rc = say(msg, size, LEDGER_STORE_CORRUPT,
                         "history link broken between records %" PRIu64 " and %" PRIu64
                         " (one of them is damaged)",
                         seq - 1, seq);
            else
                memcpy(prev, r[i].hash, LEDGER_HASH_SIZE);
        }
        if (rc == 0)
            rebuild_prefetch(db, r, n);
        for (size_t i = 0; rc == 0 && i < n; i++)
            if ((rc = ledger_index_record(&db->view, &r[i])) != 0)
                say(msg, size, rc, "cannot index record %" PRIu64, first + i);
        store_acctidx_commit(db->acct); /* the undo logs stay small */
        store_txindex_commit(db->txs);
    }
    free(r);
    if (rc == 0 && memcmp(prev, c->head, LEDGER_HASH_SIZE) != 0 && !db->opt.lenient)
        rc = say(msg, size, LEDGER_STORE_CORRUPT, "the checkpoint's chain head is not the log's");
    return rc;
}

/* ledger_replay's commit: keep the batch (what it changed is on the dirty array, for the next
 * checkpoint). */
static int replay_commit(void *ctx, ledger_store **dst)
{
    store_db *db = ctx;
    (void)dst;
    store_mem_commit(db->state);
    store_acctidx_commit(db->acct);
    store_txindex_commit(db->txs);
    return 0;
}

/* Replay src's records after db's chain (from) up to src's (to) into db. */
static int replay_log(store_db *db, ledger_store *src, const ledger_chain *from,
                      const ledger_chain *to, char *msg, size_t size)
{
    uint64_t diverged;
    ledger_chain now;
    db->visible_seq = to->next_seq; /* every record replayed is already in the log */
    int rc = ledger_replay(src, &db->view, replay_commit, db, &diverged);
    if (rc != 0)
        return say(msg, size, LEDGER_STORE_CORRUPT,
                   "replaying the log diverges at record %" PRIu64 " (%s)", diverged,
                   ledger_err_name(rc));
    rc = ledger_read_chain(&db->view, &now);
    if (rc != 0 || now.next_seq != to->next_seq ||
        memcmp(now.head, to->head, LEDGER_HASH_SIZE) != 0 ||
        memcmp(now.digest, to->digest, LEDGER_HASH_SIZE) != 0)
        return say(msg, size, LEDGER_STORE_CORRUPT,
                   "state after replaying the log does not match its chain head and digest");
    db->stats.replayed = to->next_seq - from->next_seq;
    return 0;
}

static int check_memory(store_db *db, char *msg, size_t size)
{
    uint64_t need =
        store_mem_bytes(db->state) + store_acctidx_bytes(db->acct) + store_txindex_bytes(db->txs);
    uint64_t limit = db->opt.memory_limit_bytes;
    if (limit != 0 && need > limit)
        return say(msg, size, LEDGER_NO_MEMORY,
                   "the state needs %" PRIu64 " MiB of memory (%" PRIu64
                   " accounts), more than the limit of %" PRIu64 " MiB",
                   need >> 20, store_mem_count(db->state, LEDGER_T_ACCOUNT), limit >> 20);
    return 0;
}

/* Open the checkpoint's environment; db->ckpt stays NULL when it cannot be opened (missing,
 * truncated, not LMDB), which recovery then treats as a damaged checkpoint. */
static void ckpt_open(store_db *db)
{
    char cdir[4200];
    store_options co = ckpt_options(&db->opt);
    ckpt_dir(cdir, sizeof cdir, db->dir);
    if (store_lmdb_open(&db->ckpt, cdir, &co) != 0)
        db->ckpt = NULL;
}

/* Set a damaged checkpoint aside (DIR/checkpoint/data.mdb.damaged, replacing an older one)
 * and open an empty one in its place; the first checkpoint after open fills it. */
static int ckpt_replace(store_db *db, char *msg, size_t size)
{
    char cdir[4200], path[4300], aside[4320];
    ckpt_dir(cdir, sizeof cdir, db->dir);
    store_lmdb_close(&db->ckpt);
    snprintf(path, sizeof path, "%s/data.mdb", cdir);
    snprintf(aside, sizeof aside, "%s.damaged", path);
    if (rename(path, aside) != 0 && errno != ENOENT)
        return say(msg, size, LEDGER_STORE_IO, "cannot set %s aside: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/lock.mdb", cdir);
    if (unlink(path) != 0 && errno != ENOENT)
        return say(msg, size, LEDGER_STORE_IO, "cannot remove %s: %s", path, strerror(errno));
    ckpt_open(db);
    return db->ckpt != NULL
               ? 0
               : say(msg, size, LEDGER_STORE_IO, "cannot create a new checkpoint in %s", cdir);
}

/* Load the checkpoint, or, when it is damaged or missing, start over from the log's genesis
 * (read-only opens report the damage instead). Out: *c, the chain the state starts from. */
static int load_or_rebuild(store_db *db, const ledger_chain *l, ledger_chain *c, char *msg,
                           size_t size)
{
    int rc = load_checked(db, l, c, msg, size);
    if (rc != LEDGER_STORE_CORRUPT && rc != LEDGER_STORE_IO)
        return rc;
    if (db->opt.read_only) { /* the tools report it; lstd repairs it */
        size_t n = strlen(msg);
        if (n < size)
            snprintf(msg + n, size - n, "; lstd rebuilds the state from the log when it starts");
        return LEDGER_STORE_CORRUPT;
    }
    fprintf(stderr,
            "lstd: %s: %s; rebuilding the state from the log's %" PRIu64
            " records (checked against its chain and digest); the damaged file is kept as "
            "checkpoint/data.mdb.damaged\n",
            db->dir, msg, l->next_seq - 1);
    db->stats.rebuilt = true;
    rc = state_from_genesis(db, c, msg, size);
    return rc == 0 ? ckpt_replace(db, msg, size) : rc;
}

static int recover(store_db *db, char *msg, size_t size)
{
    ledger_chain c, l;
    int rc = read_log(db, &l, msg, size);
    if (rc == 0)
        rc = load_or_rebuild(db, &l, &c, msg, size);
    if (rc == 0)
        rc = rebuild_indexes(db, &c, msg, size);
    if (rc == 0)
        rc = replay_log(db, &db->rview, &c, &l, msg, size);
    if (rc == 0)
        rc = check_memory(db, msg, size);
    db_read_end(db);
    if (rc != 0)
        return rc;
    db->durable_seq = db->visible_seq = l.next_seq;
    db->stats.durable_seq = l.next_seq;
    db->stats.checkpoint_seq = c.next_seq;
    return 0;
}

int store_db_open(store_db **out, const char *dir, const store_db_options *opt, char *msg,
                  size_t msg_size)
{
    store_db *db;
    char path[4200];
    struct stat st;
    uint64_t t0 = ms_now();
    *out = NULL;
    if (msg_size > 0)
        msg[0] = '\0';
    int rc = db_new(&db, dir, opt);
    if (db != NULL && db->opt.lenient)
        db->opt.read_only = true;
    store_options lo = db != NULL ? lmdb_options(&db->opt) : (store_options){0};
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (rc == 0 && stat(path, &st) != 0)
        rc = say(msg, msg_size, LEDGER_NOT_INITIALIZED, "%s holds no ledger", dir);
    if (rc == 0 && (rc = store_lmdb_open(&db->log, dir, &lo)) != 0)
        say(msg, msg_size, rc, "cannot open the log in %s", dir);
    if (rc == 0) {
        ckpt_open(db);
        rc = recover(db, msg, msg_size);
    }
    if (rc == 0 && !db->opt.read_only) {
        const char *k = getenv("LSTD_FAULT_KILL_AFTER_COMMITS");
        db->fault_kill_after_commits = k != NULL ? strtoull(k, NULL, 10) : 0;
        db->fault_kill_in_checkpoint = getenv("LSTD_FAULT_KILL_IN_CHECKPOINT") != NULL;
        rc = db_threads_start(db);
        /* a rebuilt state goes into the new checkpoint before anything else happens */
        if (rc == 0 && db->stats.rebuilt && (rc = store_db_checkpoint(db)) != 0)
            say(msg, msg_size, rc, "cannot write the rebuilt state's checkpoint");
    }
    if (rc != 0) {
        if (db != NULL) {
            db_threads_stop(db);
            db_free(db);
        }
        return rc;
    }
    db->stats.open_ms = ms_now() - t0;
    db->capture_began_ms = ms_now(); /* the first checkpoint one interval after opening */
    db_stats_memory(db);
    *out = db;
    return 0;
}

int store_db_replay(store_db **out, store_db *src, char *msg, size_t msg_size)
{
    store_db *db;
    store_db_options o = {.read_only = true, .seed = src->opt.seed ^ 0x7265706c6179ull};
    ledger_genesis g;
    ledger_chain from, to;
    *out = NULL;
    int rc = db_new(&db, src->dir, &o);
    if (rc == 0) {
        db->src = src;
        rc = ledger_genesis_read(&src->view, &g);
    }
    if (rc == 0)
        rc = ledger_genesis_apply(&db->view, &g);
    if (db != NULL)
        store_mem_commit(db->state);
    if (rc == 0 &&
        (ledger_read_chain(&db->view, &from) != 0 || ledger_read_chain(&src->view, &to) != 0))
        rc = LEDGER_STORE_CORRUPT;
    if (rc != 0)
        say(msg, msg_size, rc, "the genesis does not apply (%s)", ledger_err_name(rc));
    else
        rc = replay_log(db, &src->view, &from, &to, msg, msg_size);
    if (rc != 0) {
        if (db != NULL)
            db_free(db);
        return rc;
    }
    *out = db;
    return 0;
}

void store_db_close(store_db **dbp)
{
    store_db *db = *dbp;
    if (db == NULL)
        return;
    *dbp = NULL;
    if (!db->opt.read_only) {
        store_db_shutdown(db);
        if (store_db_flush(db) == 0)
            (void)store_db_checkpoint(db);
        db_threads_stop(db);
    }
    db_free(db);
}

/* ---- backup ------------------------------------------------------------------------------- */

static int backup_env(const char *src, const char *dest, bool compact)
{
    store_lmdb *s;
    store_options o = {.read_only = true};
    int rc = store_lmdb_open(&s, src, &o);
    if (rc == 0) {
        rc = store_lmdb_backup(s, dest, compact);
        store_lmdb_close(&s);
    }
    return rc;
}

int store_db_backup(const char *dir, const char *dest_dir, bool compact)
{
    char src[4200], dst[4200];
    ckpt_dir(src, sizeof src, dir);
    ckpt_dir(dst, sizeof dst, dest_dir);
    if (mkdir(dest_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "backup: mkdir %s: %s\n", dest_dir, strerror(errno));
        return LEDGER_STORE_IO;
    }
    /* the checkpoint first: the log copied after it reaches at least as far */
    int rc = backup_env(src, dst, compact);
    return rc == 0 ? backup_env(dir, dest_dir, compact) : rc;
}
