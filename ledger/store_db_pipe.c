/* store_db_pipe.c - submit, the log writer thread and the checkpointer thread */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ledger_internal.h"
#include "store_db_internal.h"

#define LOG_RETRY_MS 1000
#define CKPT_INTERVAL_DEFAULT_MS 10000
#define LOG_AHEAD_BYTES (4u << 20) /* zeroed log file kept past LMDB's last page */
#define LOG_STEP_BYTES (1u << 20)  /* written at a time, after a commit */
#define GATHER_RECORDS 1024        /* records queued that make a commit worth starting at once */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

#define SPARE_MAX 16               /* reclaimed batches kept for reuse, buffers and all */
#define SPARE_BYTES_MAX (8u << 20) /* a batch holding more record bytes is freed instead */

void db_pending_free(pending *p)
{
    free(p->rec);
    free(p->off);
    free(p);
}

/* A batch from the spares (its buffers already grown: no allocation or page fault per batch
 * in the steady state), or a new one. */
static pending *spare_take(store_db *db)
{
    pending *p = db->spare;
    if (p == NULL)
        return calloc(1, sizeof(pending));
    db->spare = p->next;
    db->spares--;
    uint8_t *rec = p->rec;
    size_t *off = p->off, rec_cap = p->rec_cap, off_cap = p->off_cap;
    memset(p, 0, sizeof *p);
    p->rec = rec;
    p->off = off;
    p->rec_cap = rec_cap;
    p->off_cap = off_cap;
    return p;
}

static void spare_give(store_db *db, pending *p)
{
    if (db->spares >= SPARE_MAX || p->rec_cap > SPARE_BYTES_MAX) {
        db_pending_free(p);
        return;
    }
    p->next = db->spare;
    db->spare = p;
    db->spares++;
}

/* ---- submitting --------------------------------------------------------------------------- */

/* Free the durable batches at the head of the queue: from now on their records are read from
 * the log (the next read snapshot begins after their commit). */
static void reclaim(store_db *db)
{
    pending *done = NULL;
    pthread_mutex_lock(&db->lock);
    while (db->head != NULL && db->head->durable) {
        pending *p = db->head;
        db->head = p->next;
        if (db->head == NULL)
            db->tail = NULL;
        p->next = done;
        done = p;
    }
    db->visible_seq = db->durable_seq;
    pthread_mutex_unlock(&db->lock);
    while (done != NULL) {
        pending *next = done->next;
        spare_give(db, done);
        done = next;
    }
}

/* Keep or undo the batch's writes in all three in-memory stores. */
static void batch_end(store_db *db, bool keep)
{
    if (keep) {
        store_mem_commit(db->state);
        store_acctidx_commit(db->acct);
        store_txindex_commit(db->txs);
    } else {
        store_mem_abort(db->state);
        store_acctidx_abort(db->acct);
        store_txindex_abort(db->txs);
    }
}

/* Does the batch change any state entry? */
static void any_change(void *ctx, unsigned table, const uint8_t *key, size_t key_len,
                       const uint8_t *val, size_t val_len, const uint8_t *old_hash,
                       uint8_t *new_hash)
{
    (void)table, (void)key, (void)key_len, (void)val, (void)val_len, (void)old_hash;
    (void)new_hash;
    *(bool *)ctx = true;
}

/* After fn: the chain record the log will carry. */
static int batch_seal(store_db *db, pending *p)
{
    const uint8_t key = META_CHAIN, *v;
    size_t n;
    bool changed = false;
    if (p->n == 0) { /* state may change only with a record: the log could not replay it */
        store_mem_changed(db->state, any_change, &changed);
        return changed ? LEDGER_INTERNAL : 0;
    }
    int rc = db->view.get(db->view.self, LEDGER_T_META, &key, 1, &v, &n);
    if (rc != 0 || n > sizeof p->chain)
        return LEDGER_INTERNAL;
    memcpy(p->chain, v, n);
    p->chain_len = n;
    return 0;
}

void db_stats_memory(store_db *db)
{
    pthread_mutex_lock(&db->lock);
    db->stats.state_bytes = store_mem_bytes(db->state);
    db->stats.index_bytes = store_acctidx_bytes(db->acct) + store_txindex_bytes(db->txs);
    db->stats.accounts = store_mem_count(db->state, LEDGER_T_ACCOUNT);
    pthread_mutex_unlock(&db->lock);
}

/* Records queued for the log and not yet being written (under lock). */
static uint64_t queued_records(const store_db *db)
{
    uint64_t n = 0;
    for (const pending *p = db->log_next; p != NULL; p = p->next)
        n += p->n;
    return n;
}

/* Whether the log thread should commit what is queued now rather than gather more: enough
 * records, a full pipeline or someone waiting for durability (flush, write), or stopping. */
static bool commit_now(const store_db *db)
{
    return db->stopping || db->waiters > 0 ||
           db->submitted_batches - db->durable_batches >= STORE_DB_PIPELINE ||
           queued_records(db) >= GATHER_RECORDS;
}

int store_db_submit(store_db *db, int (*fn)(void *ctx, ledger_store *view), void *ctx,
                    store_db_done_fn done, void *done_ctx)
{
    if (db->opt.read_only)
        return LEDGER_INTERNAL;
    db_read_end(db);
    pthread_mutex_lock(&db->lock); /* room: batches not yet durable (reclaim frees the rest) */
    while (db->log_failed == 0 && db->submitted_batches - db->durable_batches >= STORE_DB_PIPELINE)
        pthread_cond_wait(&db->durable_cv, &db->lock);
    int failed = db->log_failed;
    pthread_mutex_unlock(&db->lock);
    if (failed != 0) { /* memory is ahead of the log now: apply nothing more */
        if (done != NULL)
            done(done_ctx, failed);
        return failed;
    }
    reclaim(db);
    pending *p = spare_take(db);
    if (p == NULL) {
        if (done != NULL)
            done(done_ctx, LEDGER_NO_MEMORY); /* out of order, on this thread: nothing applied */
        return LEDGER_NO_MEMORY;
    }
    db->cur = p;
    int rc = fn != NULL ? fn(ctx, &db->view) : 0;
    if (rc == 0)
        rc = batch_seal(db, p);
    db_read_end(db);
    db->cur = NULL;
    batch_end(db, rc == 0);
    if (rc != 0)
        p->n = p->position = 0;
    db_capture_tick(db, false);
    p->rc = rc;
    p->done = done;
    p->done_ctx = done_ctx;
    pthread_mutex_lock(&db->lock);
    if (db->tail != NULL)
        db->tail->next = p;
    else
        db->head = p;
    db->tail = p;
    if (db->log_next == NULL)
        db->log_next = p;
    db->submitted_batches++;
    if (db->log_idle || commit_now(db)) /* not while it gathers: it wakes by itself */
        pthread_cond_signal(&db->log_cv);
    pthread_mutex_unlock(&db->lock);
    db_stats_memory(db);
    return rc;
}

typedef struct sync_wait {
    store_db *db;
    bool done;
    int rc;
} sync_wait;

static void sync_done(void *ctx, int rc)
{
    sync_wait *w = ctx;
    pthread_mutex_lock(&w->db->lock);
    w->done = true;
    w->rc = rc;
    pthread_cond_broadcast(&w->db->durable_cv);
    pthread_mutex_unlock(&w->db->lock);
}

int store_db_write(store_db *db, int (*fn)(void *ctx, ledger_store *view), void *ctx)
{
    sync_wait w = {db, false, 0};
    int rc = store_db_submit(db, fn, ctx, sync_done, &w);
    if (db->opt.read_only)
        return rc;
    pthread_mutex_lock(&db->lock);
    db->waiters++; /* the log thread commits at once rather than gather */
    pthread_cond_signal(&db->log_cv);
    while (!w.done)
        pthread_cond_wait(&db->durable_cv, &db->lock);
    db->waiters--;
    pthread_mutex_unlock(&db->lock);
    return rc != 0 ? rc : w.rc;
}

int store_db_flush(store_db *db)
{
    db_read_end(db);
    if (db->opt.read_only)
        return 0;
    pthread_mutex_lock(&db->lock);
    db->waiters++; /* the log thread commits at once rather than gather */
    pthread_cond_signal(&db->log_cv);
    while (db->durable_batches < db->submitted_batches)
        pthread_cond_wait(&db->durable_cv, &db->lock);
    db->waiters--;
    int rc = db->log_failed;
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int store_db_checkpoint(store_db *db)
{
    int rc = store_db_flush(db);
    if (rc != 0 || db->opt.read_only)
        return rc;
    db_capture_tick(db, true); /* finishes the running capture */
    db_capture_tick(db, true); /* and one of everything written since it began */
    pthread_mutex_lock(&db->lock);
    while (db->ckpt_written < db->ckpt_queued)
        pthread_cond_wait(&db->durable_cv, &db->lock);
    rc = db->ckpt_broken ? LEDGER_STORE_IO : db->ckpt_rc;
    pthread_mutex_unlock(&db->lock);
    return rc;
}

/* ---- the log writer ----------------------------------------------------------------------- */

typedef struct range {
    pending *first, *last;
} range;

/* Append the range's records, the chain after its last recording batch and the last position
 * set. Repeatable. */
static int log_write_fn(void *ctx, ledger_store *view)
{
    range *r = ctx;
    const pending *chain = NULL;
    uint8_t key[8];
    const uint8_t meta = META_CHAIN;
    for (pending *p = r->first;; p = p->next) {
        for (uint64_t i = 0; i < p->n; i++) {
            be64_put(key, p->first_seq + i);
            int rc = store_lmdb_append(view, LEDGER_T_HISTORY, key, 8, p->rec + p->off[i],
                                       p->off[i + 1] - p->off[i]);
            if (rc != 0)
                return rc;
        }
        if (p->n > 0)
            chain = p;
        if (p == r->last)
            break;
    }
    int rc = chain != NULL
                 ? view->put(view->self, LEDGER_T_META, &meta, 1, chain->chain, chain->chain_len)
                 : 0;
    const pending *at = NULL;
    for (pending *p = r->first;; p = p->next) {
        if (p->position != 0)
            at = p;
        if (p == r->last)
            break;
    }
    if (rc != 0 || at == NULL)
        return rc;
    const uint8_t pkey = META_POSITION;
    uint8_t pos[8];
    be64_put(pos, at->position);
    return view->put(view->self, LEDGER_T_META, &pkey, 1, pos, sizeof pos);
}

/* Write the range, retrying a failing disk every second until it works or the store closes.
 * Out: *wrote (the range held records). Returns: 0 or the failure closing gave up on. */
static int log_write(store_db *db, range *r, bool *wrote)
{
    bool any = false;
    for (pending *p = r->first;; p = p->next) {
        any = any || p->n > 0 || p->position != 0;
        if (p == r->last)
            break;
    }
    *wrote = any;
    for (int attempt = 0; any; attempt++) {
        int rc = store_lmdb_write(db->log, log_write_fn, r);
        if (rc == 0)
            return 0;
        if (attempt == 0)
            fprintf(stderr, "lstd: the log cannot be written (%s); retrying every second\n",
                    ledger_err_name(rc));
        pthread_mutex_lock(&db->lock);
        bool stop = db->closing || db->stopping;
        pthread_mutex_unlock(&db->lock);
        if (stop)
            return rc;
        sleep_ms(LOG_RETRY_MS);
    }
    return 0;
}

void store_db_shutdown(store_db *db)
{
    pthread_mutex_lock(&db->lock);
    db->closing = true;
    pthread_mutex_unlock(&db->lock);
}

/* Mark the range durable (lock held). */
static void range_durable(store_db *db, range *r, int rc)
{
    for (pending *p = r->first;; p = p->next) {
        p->durable = true;
        db->durable_batches++;
        if (rc == 0 && p->n > 0)
            db->durable_seq = p->first_seq + p->n;
        if (rc == 0 && p->position != 0)
            db->position = p->position;
        if (p == r->last)
            break;
    }
    db->log_next = r->last->next;
    db->stats.durable_seq = db->durable_seq;
    if (rc != 0)
        db->log_failed = rc;
}

/* Count one log commit that held records in the latency histogram (lock held). */
static void commit_latency(store_db_stats *st, uint64_t took_us)
{
    unsigned i = 0;
    while (i < STORE_DB_COMMIT_BUCKETS && took_us > (uint64_t)STORE_DB_COMMIT_BUCKET_US << i)
        i++;
    st->log_commit_buckets[i]++;
    st->log_commit_us_total += took_us;
}

void store_db_set_replicator(store_db *db, store_db_replicate_fn fn, void *ctx)
{
    pthread_mutex_lock(&db->lock);
    db->replicate = fn;
    db->replicate_ctx = ctx;
    pthread_mutex_unlock(&db->lock);
}

void store_db_set_position(store_db *db, uint64_t position)
{
    if (db->cur != NULL)
        db->cur->position = position;
}

uint64_t store_db_position(store_db *db)
{
    pthread_mutex_lock(&db->lock);
    uint64_t p = db->position;
    pthread_mutex_unlock(&db->lock);
    return p;
}

/* The records of every batch of the range, back to back in the log thread's buffers, as one
 * unit (the chain after the last batch holding records). Returns: the last batch holding
 * records (NULL: none), or NULL with *rc LEDGER_NO_MEMORY. */
static pending *range_unit(store_db *db, range *r, store_db_unit *u, int *rc)
{
    pending *last = NULL;
    size_t bytes = 0, n = 0;
    for (pending *p = r->first;; p = p->next) {
        if (p->n > 0)
            last = p, bytes += p->rec_len, n += p->n;
        if (p == r->last)
            break;
    }
    if (last == NULL)
        return NULL;
    if (bytes > db->unit_cap || n + 1 > db->unit_off_cap) {
        free(db->unit_rec);
        free(db->unit_off);
        db->unit_cap = bytes * 2, db->unit_off_cap = (n + 1) * 2;
        db->unit_rec = malloc(db->unit_cap);
        db->unit_off = malloc(db->unit_off_cap * sizeof *db->unit_off);
        if (db->unit_rec == NULL || db->unit_off == NULL) {
            db->unit_cap = db->unit_off_cap = 0;
            *rc = LEDGER_NO_MEMORY;
            return NULL;
        }
    }
    *u = (store_db_unit){0, 0, db->unit_rec, db->unit_off, last->chain, last->chain_len};
    size_t at = 0;
    db->unit_off[0] = 0;
    for (pending *p = r->first;; p = p->next) {
        if (p->n > 0 && u->n == 0)
            u->first_seq = p->first_seq;
        for (uint64_t i = 0; i < p->n; i++)
            db->unit_off[++u->n] = at + p->off[i + 1];
        if (p->n > 0)
            memcpy(db->unit_rec + at, p->rec, p->rec_len), at += p->rec_len;
        if (p == r->last)
            break;
    }
    return last;
}

/* Hand the range's records to the replicator as one unit: one message (or a few parts) for
 * every batch the log commits at once. Returns: 0, or the failure (the whole range is given
 * up). */
static int log_replicate(store_db *db, range *r)
{
    pthread_mutex_lock(&db->lock);
    store_db_replicate_fn fn = db->replicate;
    void *ctx = db->replicate_ctx;
    pthread_mutex_unlock(&db->lock);
    store_db_unit u;
    int rc = 0;
    pending *last = fn != NULL ? range_unit(db, r, &u, &rc) : NULL;
    uint64_t position = 0;
    if (last != NULL)
        rc = fn(ctx, &u, &position);
    if (rc == 0 && last != NULL && position != 0)
        last->position = position;
    return rc;
}

/* The range is written (rc 0) or given up (rc != 0): answer each batch, mark them durable. */
static void log_finish(store_db *db, range *r, int rc, bool wrote, uint64_t took_us)
{
    for (pending *p = r->first;; p = p->next) {
        if (p->done != NULL)
            p->done(p->done_ctx, rc != 0 ? rc : p->rc);
        if (p == r->last)
            break;
    }
    pthread_mutex_lock(&db->lock);
    range_durable(db, r, rc);
    db->stats.log_commits++;
    if (wrote && rc == 0)
        commit_latency(&db->stats, took_us);
    pthread_cond_broadcast(&db->durable_cv);
    pthread_cond_signal(&db->ckpt_cv);
    pthread_mutex_unlock(&db->lock);
}

/* Replicate and write one range; a range the replicator refuses is given up whole. */
static void log_range(store_db *db, range r)
{
    int prc = log_replicate(db, &r);
    if (prc != 0) {
        log_finish(db, &r, prc, false, 0);
        return;
    }
    bool wrote;
    uint64_t t0 = now_us();
    int rc = log_write(db, &r, &wrote);
    uint64_t took_us = now_us() - t0;
    if (wrote && db->fault_kill_after_commits != 0 && --db->fault_kill_after_commits == 0)
        kill(getpid(), SIGKILL); /* durable, not answered: the crash tests' window */
    log_finish(db, &r, rc, wrote, took_us);
    if (wrote && rc == 0) /* zeros ahead of the log: its next fsyncs journal nothing */
        (void)store_lmdb_reserve(db->log, LOG_AHEAD_BYTES, LOG_STEP_BYTES);
}

/* Under load, gather batches for one commit (ledger/README.md, "What is durable when"): wait
 * until gather_us after the previous commit began (last_start_us; 0: none yet), unless
 * commit_now says otherwise. A commit after a quiet moment (the previous one began longer
 * ago than gather_us) starts at once. Under lock. */
static void gather(store_db *db, uint64_t last_start_us)
{
    if (last_start_us == 0)
        return;
    uint64_t due = last_start_us + db->opt.commit_gather_us;
    for (uint64_t now = now_us(); now < due && !commit_now(db); now = now_us()) {
        struct timespec ts = {(time_t)(due / 1000000), (long)(due % 1000000) * 1000};
        pthread_cond_timedwait(&db->log_cv, &db->lock, &ts); /* log_cv: CLOCK_MONOTONIC */
    }
}

static void *log_main(void *arg)
{
    store_db *db = arg;
    uint64_t last_start_us = 0;
    pthread_mutex_lock(&db->lock);
    for (;;) {
        db->log_idle = true;
        while (db->log_next == NULL && !db->stopping)
            pthread_cond_wait(&db->log_cv, &db->lock);
        db->log_idle = false;
        if (db->log_next == NULL)
            break;
        gather(db, last_start_us);
        last_start_us = now_us();
        range r = {db->log_next, db->tail};
        pthread_mutex_unlock(&db->lock);
        log_range(db, r);
        pthread_mutex_lock(&db->lock);
    }
    pthread_mutex_unlock(&db->lock);
    return NULL;
}

/* ---- captures (the submitting thread) ------------------------------------------------------ */

/* Begin a capture when due: the interval passed (or forced), something changed, and the
 * checkpointer has written the previous one (so at most one capture waits in memory). */
static void capture_begin(store_db *db, bool all)
{
    uint64_t interval =
        db->opt.checkpoint_interval_ms ? db->opt.checkpoint_interval_ms : CKPT_INTERVAL_DEFAULT_MS;
    ledger_chain c;
    if (store_mem_dirty(db->state) == 0 || (!all && now_ms() < db->capture_began_ms + interval))
        return;
    pthread_mutex_lock(&db->lock);
    bool busy = db->ckpt_written < db->ckpt_queued;
    pthread_mutex_unlock(&db->lock);
    if ((busy && !all) || ledger_read_chain(&db->view, &c) != LEDGER_OK)
        return;
    capture *cap = calloc(1, sizeof *cap);
    if (cap == NULL)
        return; /* try again after the next batch */
    cap->seq = c.next_seq;
    if (store_mem_capture_begin(db->state, capture_add, &cap->own) != 0) {
        free(cap);
        return;
    }
    pthread_mutex_lock(&db->lock);
    cap->run.reuse = db->cap_chunks; /* the written captures' chunks */
    db->cap_chunks = NULL;
    db->cap_run = cap; /* the checkpointer emits the entries from here on */
    db->cap_begun++;
    pthread_cond_signal(&db->ckpt_cv);
    pthread_mutex_unlock(&db->lock);
    db->filling = cap;
    db->capture_began_ms = now_ms();
}

void db_capture_tick(store_db *db, bool all)
{
    bool done;
    if (db->opt.read_only || !db->ckpt_started)
        return;
    pthread_mutex_lock(&db->lock);
    bool broken = db->ckpt_broken;
    pthread_mutex_unlock(&db->lock);
    if (broken)
        return;
    if (db->filling == NULL)
        capture_begin(db, all);
    if (db->filling == NULL)
        return;
    if (all) { /* wait for the checkpointer to run it */
        pthread_mutex_lock(&db->lock);
        while (db->cap_ran < db->cap_begun)
            pthread_cond_wait(&db->durable_cv, &db->lock);
        pthread_mutex_unlock(&db->lock);
    }
    int rc = store_mem_capture_end(db->state, &done);
    if (!done)
        return;
    capture *cap = db->filling;
    db->filling = NULL;
    if (rc != 0) {
        /* the entries already emitted are marked clean: a later checkpoint would miss them */
        fprintf(stderr, "lstd: a checkpoint capture ran out of memory; no more checkpoints until "
                        "restart (the log keeps everything; the next start replays more)\n");
        capture_free(cap);
        pthread_mutex_lock(&db->lock);
        db->ckpt_broken = true;
        pthread_mutex_unlock(&db->lock);
        return;
    }
    pthread_mutex_lock(&db->lock);
    if (db->cap_tail != NULL)
        db->cap_tail->next = cap;
    else
        db->cap_head = cap;
    db->cap_tail = cap;
    db->ckpt_queued++;
    pthread_cond_signal(&db->ckpt_cv);
    pthread_mutex_unlock(&db->lock);
}

/* ---- the checkpointer --------------------------------------------------------------------- */

typedef struct entry {
    uint64_t prefix;   /* the table and the key's first 7 bytes (zero-padded), big-endian */
    const uint8_t *at; /* table, key_len, key, present, val_len, val */
} entry;

/* The value length of the capture entry at p (capture_add's layout). */
static size_t entry_val_len(const uint8_t *p)
{
    const uint8_t *e = p + 2 + p[1];
    return (size_t)e[1] << 24 | (size_t)e[2] << 16 | (size_t)e[3] << 8 | e[4];
}

/* The sort key's first 8 bytes: a smaller prefix is a smaller (table, key); equal prefixes
 * compare the whole key. Sorting reads the prefixes where they lie, one after another, instead
 * of two entries at random in the capture for each comparison. */
static uint64_t entry_prefix(const uint8_t *p)
{
    uint64_t v = p[0];
    for (unsigned i = 0; i < 7; i++)
        v = v << 8 | (i < p[1] ? p[2 + i] : 0);
    return v;
}

static int entry_cmp(const void *a, const void *b)
{
    const entry *ea = a, *eb = b;
    if (ea->prefix != eb->prefix)
        return ea->prefix < eb->prefix ? -1 : 1;
    const uint8_t *x = ea->at, *y = eb->at;
    int c = memcmp(x + 2, y + 2, x[1] < y[1] ? x[1] : y[1]);
    return c != 0 ? c : (x[1] > y[1]) - (x[1] < y[1]);
}

typedef struct sorted {
    entry *e;
    uint64_t n;
    bool kill_halfway; /* fault injection */
} sorted;

#define CKPT_AHEAD 16 /* entries the write hints ahead of the one it writes */

/* Write the capture's entries in key order (B-tree pages are then visited once). Repeatable. */
static int ckpt_write_fn(void *ctx, ledger_store *view)
{
    const sorted *s = ctx;
    for (uint64_t i = 0; i < s->n; i++) {
        if (i + CKPT_AHEAD < s->n) { /* entries lie at random in the capture: hint ahead */
            const uint8_t *a = s->e[i + CKPT_AHEAD].at;
            __builtin_prefetch(a);
            __builtin_prefetch(a + 64);
            __builtin_prefetch(a + 128);
        }
        const uint8_t *p = s->e[i].at, *key = p + 2, *e = key + p[1];
        size_t val_len = entry_val_len(p);
        int rc = e[0] ? view->put(view->self, p[0], key, p[1], e + 5, val_len)
                      : view->del(view->self, p[0], key, p[1]);
        if (rc != 0)
            return rc;
        if (s->kill_halfway && i == s->n / 2)
            kill(getpid(), SIGKILL); /* a checkpoint half written: the crash tests' window */
    }
    return 0;
}

#define CKPT_SYNC_CHUNK_BYTES (1u << 20)   /* the checkpoint reaches the disk 1 MiB at a time */
#define CKPT_SYNC_BYTES_PER_S (128u << 20) /* at most */

int db_ckpt_sync(store_db *db)
{
    return db->opt.durability == STORE_SYNC
               ? store_lmdb_sync_paced(db->ckpt, CKPT_SYNC_CHUNK_BYTES, CKPT_SYNC_BYTES_PER_S)
               : 0;
}

/* Sort and write one capture, retrying a failing disk until it works or the store closes. */
static int ckpt_write(store_db *db, capture *cap)
{
    sorted s = {calloc(cap->own.count + cap->run.count + 1, sizeof(entry)), 0,
                db->fault_kill_in_checkpoint};
    if (s.e == NULL)
        return LEDGER_NO_MEMORY;
    for (int part = 0; part < 2; part++)
        for (const chunk *k = (part ? &cap->run : &cap->own)->first; k != NULL; k = k->next)
            for (size_t at = 0; at < k->len; s.n++) {
                const uint8_t *p = k->data + at;
                s.e[s.n] = (entry){entry_prefix(p), p};
                at += 7 + p[1] + entry_val_len(p);
            }
    uint64_t t0 = now_ms();
    qsort(s.e, s.n, sizeof *s.e, entry_cmp);
    int rc;
    for (int attempt = 0;
         (rc = store_lmdb_write(db->ckpt, ckpt_write_fn, &s)) != 0 || (rc = db_ckpt_sync(db)) != 0;
         attempt++) {
        if (attempt == 0)
            fprintf(stderr, "lstd: checkpoint failed (%s); retrying every second\n",
                    ledger_err_name(rc));
        pthread_mutex_lock(&db->lock);
        bool stop = db->ckpt_stopping;
        pthread_mutex_unlock(&db->lock);
        if (stop)
            break;
        sleep_ms(LOG_RETRY_MS);
    }
    free(s.e);
    uint64_t ms = now_ms() - t0;
    pthread_mutex_lock(&db->lock);
    if (rc == 0) {
        db->stats.checkpoints++;
        db->stats.checkpoint_seq = cap->seq;
        if (ms > db->stats.checkpoint_ms_max)
            db->stats.checkpoint_ms_max = ms;
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

#define CKPT_NICE 10 /* the checkpointer yields the CPU to applying and logging batches */

static void *ckpt_main(void *arg)
{
    store_db *db = arg;
    /* Linux: a thread's nice value is its own (best effort: a failure only costs latency) */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), CKPT_NICE);
    pthread_mutex_lock(&db->lock);
    for (;;) {
        while (db->cap_run == NULL && db->cap_head == NULL && !db->ckpt_stopping)
            pthread_cond_wait(&db->ckpt_cv, &db->lock);
        if (db->cap_run != NULL) { /* emit a begun capture's entries (batches go on) */
            capture *run = db->cap_run;
            db->cap_run = NULL;
            pthread_mutex_unlock(&db->lock);
            (void)store_mem_capture_run(db->state, capture_add, &run->run); /* said at its end */
            pthread_mutex_lock(&db->lock);
            db->cap_ran++;
            pthread_cond_broadcast(&db->durable_cv);
            continue;
        }
        capture *cap = db->cap_head;
        if (cap == NULL)
            break;
        /* a checkpoint may only hold what the log holds */
        while (db->durable_seq < cap->seq && !db->log_failed && !db->ckpt_stopping)
            pthread_cond_wait(&db->durable_cv, &db->lock);
        bool writable = db->durable_seq >= cap->seq;
        pthread_mutex_unlock(&db->lock);
        int rc = writable ? ckpt_write(db, cap) : LEDGER_STORE_IO;
        pthread_mutex_lock(&db->lock);
        db->cap_head = cap->next;
        if (db->cap_head == NULL)
            db->cap_tail = NULL;
        if (rc != 0)
            db->ckpt_broken = true; /* later captures would not hold what this one had */
        db->ckpt_rc = rc;
        db->ckpt_written++;
        pthread_cond_broadcast(&db->durable_cv);
        chunk *k = capture_recycle(cap), *last = k;
        while (last != NULL && last->next != NULL)
            last = last->next;
        if (last != NULL) { /* the next capture fills these first */
            last->next = db->cap_chunks;
            db->cap_chunks = k;
        }
    }
    pthread_mutex_unlock(&db->lock);
    return NULL;
}

int db_threads_start(store_db *db)
{
    if (pthread_create(&db->log_thread, NULL, log_main, db) != 0)
        return LEDGER_NO_MEMORY;
    db->log_started = true;
    if (pthread_create(&db->ckpt_thread, NULL, ckpt_main, db) != 0)
        return LEDGER_NO_MEMORY;
    db->ckpt_started = true;
    return 0;
}

void db_threads_stop(store_db *db)
{
    pthread_mutex_lock(&db->lock);
    db->stopping = true; /* the log thread writes what is queued, then ends */
    pthread_cond_broadcast(&db->log_cv);
    pthread_mutex_unlock(&db->lock);
    if (db->log_started)
        pthread_join(db->log_thread, NULL);
    pthread_mutex_lock(&db->lock);
    db->ckpt_stopping = true; /* then the checkpointer writes what it holds, and ends */
    pthread_cond_broadcast(&db->ckpt_cv);
    pthread_mutex_unlock(&db->lock);
    if (db->ckpt_started)
        pthread_join(db->ckpt_thread, NULL);
    db->log_started = db->ckpt_started = false;
}
