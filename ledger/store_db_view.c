/* store_db_view.c - one ledger_store over the state in memory, the indexes and the history */
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"
#include "store_db_internal.h"
#include "store_pages.h"

/* Tables by where they live:
 *   HISTORY     records below visible_seq in the log (one read snapshot per batch), the rest
 *               in this process's pending batches; a put appends to the current batch (a put
 *               below visible_seq is a replay re-creating a record the log already holds,
 *               and is dropped: the replay compares record hashes itself);
 *   TX          the tx-hash index, confirmed against the record it names;
 *   ACCOUNT_TX  the account-history index (store_acctidx: each account's seqs, ascending);
 *   the rest    the state store. */

/* ---- history ------------------------------------------------------------------------------ */

static int log_snapshot(store_db *db)
{
    if (db->rtxn != NULL)
        return 0;
    return store_lmdb_begin(db->log, false, &db->rtxn, &db->rview);
}

void db_read_end(store_db *db)
{
    store_lmdb_abort(&db->rtxn);
}

static bool pending_holds(const pending *p, uint64_t seq, const uint8_t **val, size_t *len)
{
    if (p == NULL || p->n == 0 || seq < p->first_seq || seq - p->first_seq >= p->n)
        return false;
    uint64_t i = seq - p->first_seq;
    *val = p->rec + p->off[i];
    *len = p->off[i + 1] - p->off[i];
    return true;
}

/* A record of a batch not yet readable from the log: queued, or the one being applied. */
static int pending_get(store_db *db, uint64_t seq, const uint8_t **val, size_t *len)
{
    for (pending *p = db->head; p != NULL; p = p->next)
        if (pending_holds(p, seq, val, len))
            return 0;
    return pending_holds(db->cur, seq, val, len) ? 0 : LEDGER_STORE_NOTFOUND;
}

static int history_get(store_db *db, uint64_t seq, const uint8_t **val, size_t *len)
{
    if (seq >= db->visible_seq)
        return pending_get(db, seq, val, len);
    uint8_t key[8];
    if (db->src != NULL) { /* a replay: the history is its source's */
        be64_put(key, seq);
        return db->src->view.get(db->src, LEDGER_T_HISTORY, key, 8, val, len);
    }
    int rc = log_snapshot(db);
    be64_put(key, seq);
    return rc != 0 ? rc : db->rview.get(db->rview.self, LEDGER_T_HISTORY, key, 8, val, len);
}

static bool grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *b = realloc(*buf, c * elem);
    if (b == NULL)
        return false;
    *buf = b;
    *cap = c;
    return true;
}

static int history_put(store_db *db, uint64_t seq, const uint8_t *val, size_t len)
{
    pending *p = db->cur;
    if (seq < db->visible_seq)
        return 0; /* replaying a record the log holds */
    if (p == NULL)
        return LEDGER_INTERNAL;
    if (p->n == 0)
        p->first_seq = seq;
    if (seq != p->first_seq + p->n)
        return LEDGER_STORE_CORRUPT; /* records are appended in seq order */
    if (!grow((void **)&p->off, &p->off_cap, p->n + 2, sizeof *p->off) ||
        !grow((void **)&p->rec, &p->rec_cap, p->rec_len + len, 1))
        return LEDGER_NO_MEMORY;
    if (p->n == 0)
        p->off[0] = 0;
    memcpy(p->rec + p->rec_len, val, len);
    p->rec_len += len;
    p->off[++p->n] = p->rec_len;
    return 0;
}

/* ---- tx hashes ---------------------------------------------------------------------------- */

typedef struct tx_probe {
    store_db *db;
    const uint8_t *hash;
} tx_probe;

/* Does record seq carry this tx hash? (value: version, prev hash, tx hash, ...) */
static bool record_has(void *ctx, uint64_t seq)
{
    tx_probe *t = ctx;
    const uint8_t *v;
    size_t n;
    return history_get(t->db, seq, &v, &n) == 0 && n >= 65 &&
           memcmp(v + 1 + LEDGER_HASH_SIZE, t->hash, LEDGER_HASH_SIZE) == 0;
}

static int tx_get(store_db *db, const uint8_t *hash, const uint8_t **val, size_t *len)
{
    tx_probe t = {db, hash};
    uint64_t seq = store_txindex_find(db->txs, hash, record_has, &t);
    if (seq == 0)
        return LEDGER_STORE_NOTFOUND;
    be64_put(db->val_out, seq);
    *val = db->val_out;
    *len = 8;
    return 0;
}

/* ---- account history ---------------------------------------------------------------------- */

static int acct_get(store_db *db, const uint8_t *key, size_t key_len)
{
    uint64_t seq = key_len == 40 ? be64_get(key + 32) : 0;
    return seq > 0 && store_acctidx_after(db->acct, key, seq - 1) == seq ? 0
                                                                         : LEDGER_STORE_NOTFOUND;
}

/* The next account ‖ seq key after key (0, 32 or 40 bytes): the account's next seq, else the
 * first seq of the next account. */
static int acct_next(store_db *db, const uint8_t *key, size_t key_len, const uint8_t **key_out,
                     size_t *key_out_len)
{
    uint64_t seq = 0;
    if (key_len != 0 && key_len != 32 && key_len != 40)
        return LEDGER_STORE_IO;
    if (key_len > 0)
        seq = store_acctidx_after(db->acct, key, key_len == 40 ? be64_get(key + 32) : 0);
    if (seq != 0) {
        memcpy(db->key_out, key, 32);
    } else {
        int rc = store_acctidx_next_account(db->acct, key, key_len < 32 ? key_len : 32, db->key_out,
                                            &seq);
        if (rc != 0)
            return rc;
    }
    be64_put(db->key_out + 32, seq);
    *key_out = db->key_out;
    *key_out_len = 40;
    return 0;
}

/* ---- the view ----------------------------------------------------------------------------- */

static int view_get(void *self, unsigned table, const uint8_t *key, size_t key_len,
                    const uint8_t **val, size_t *val_len)
{
    store_db *db = self;
    switch (table) {
    case LEDGER_T_HISTORY:
        return key_len == 8 ? history_get(db, be64_get(key), val, val_len) : LEDGER_STORE_NOTFOUND;
    case LEDGER_T_TX:
        return key_len == 32 ? tx_get(db, key, val, val_len) : LEDGER_STORE_NOTFOUND;
    case LEDGER_T_ACCOUNT_TX:
        *val = db->val_out;
        *val_len = 0;
        return acct_get(db, key, key_len);
    default: {
        ledger_store st;
        store_mem_view(db->state, &st);
        return st.get(st.self, table, key, key_len, val, val_len);
    }
    }
}

static int view_put(void *self, unsigned table, const uint8_t *key, size_t key_len,
                    const uint8_t *val, size_t val_len)
{
    store_db *db = self;
    switch (table) {
    case LEDGER_T_HISTORY:
        return key_len == 8 ? history_put(db, be64_get(key), val, val_len) : LEDGER_STORE_IO;
    case LEDGER_T_TX:
        if (key_len != 32 || val_len != 8)
            return LEDGER_STORE_IO;
        return store_txindex_add(db->txs, key, be64_get(val));
    case LEDGER_T_ACCOUNT_TX:
        if (key_len != 40)
            return LEDGER_STORE_IO;
        return store_acctidx_add(db->acct, key, be64_get(key + 32));
    default: {
        ledger_store st;
        store_mem_view(db->state, &st);
        return st.put(st.self, table, key, key_len, val, val_len);
    }
    }
}

static int view_del(void *self, unsigned table, const uint8_t *key, size_t key_len)
{
    store_db *db = self;
    ledger_store st;
    if (table == LEDGER_T_HISTORY || table == LEDGER_T_TX || table == LEDGER_T_ACCOUNT_TX)
        return LEDGER_STORE_IO; /* history is append-only */
    store_mem_view(db->state, &st);
    return st.del(st.self, table, key, key_len);
}

static int view_next(void *self, unsigned table, const uint8_t *key, size_t key_len,
                     const uint8_t **key_out, size_t *key_out_len, const uint8_t **val,
                     size_t *val_len)
{
    store_db *db = self;
    ledger_store st;
    switch (table) {
    case LEDGER_T_HISTORY: { /* seqs are dense from 1 */
        if (key_len != 0 && key_len != 8)
            return LEDGER_STORE_IO;
        uint64_t seq = key_len == 0 ? 1 : be64_get(key) + 1;
        int rc = seq == 0 ? LEDGER_STORE_NOTFOUND : history_get(db, seq, val, val_len);
        be64_put(db->key_out, seq);
        *key_out = db->key_out;
        *key_out_len = 8;
        return rc;
    }
    case LEDGER_T_TX:
        return LEDGER_STORE_IO; /* a hash table: no order (ledger/README.md, "Storage") */
    case LEDGER_T_ACCOUNT_TX:
        *val = db->val_out;
        *val_len = 0;
        return acct_next(db, key, key_len, key_out, key_out_len);
    default:
        store_mem_view(db->state, &st);
        return st.next(st.self, table, key, key_len, key_out, key_out_len, val, val_len);
    }
}

static int view_changed(void *self, ledger_changed_fn fn, void *ctx)
{
    store_db *db = self;
    return store_mem_changed(db->state, fn, ctx);
}

static void view_prefetch(void *self, unsigned table, const uint8_t *keys, size_t key_len, size_t n)
{
    store_db *db = self;
    if (table == LEDGER_T_TX && key_len == LEDGER_HASH_SIZE) {
        store_txindex_prefetch(db->txs, keys, n);
    } else if (table == LEDGER_T_ACCOUNT) { /* and the same accounts' history lists */
        store_mem_prefetch(db->state, table, keys, key_len, n);
        if (key_len == LEDGER_KEY_SIZE)
            store_acctidx_prefetch(db->acct, keys, n);
    }
}

void db_view_init(store_db *db)
{
    db->view = (ledger_store){.self = db,
                              .get = view_get,
                              .put = view_put,
                              .del = view_del,
                              .next = view_next,
                              .changed = view_changed,
                              .prefetch = view_prefetch};
}

/* ---- captures ---------------------------------------------------------------------------- */

/* A capture's chunks are 2 MiB huge-page regions (a bigger entry gets a region of its own) and
 * are reused by the next capture: a capture at ten million accounts is hundreds of megabytes,
 * and faulting in and zeroing fresh pages for each one had cost the applying thread 8% of its
 * time. So a process keeps about one capture's worth of chunks mapped between checkpoints. */

/* A chunk with room for need bytes: a reused one when it is big enough, else a new one.
 * Returns: NULL when out of memory. */
static chunk *chunk_get(capture_part *c, size_t need)
{
    chunk *k = c->reuse;
    if (k != NULL && k->cap >= need) {
        c->reuse = k->next;
    } else {
        size_t bytes =
            (sizeof *k + need + STORE_PAGE_BYTES - 1) / STORE_PAGE_BYTES * STORE_PAGE_BYTES;
        if ((k = store_pages_map(bytes)) == NULL)
            return NULL;
        k->mapped = bytes;
        k->cap = bytes - sizeof *k;
    }
    k->next = NULL;
    k->len = 0;
    return k;
}

bool capture_add(void *ctx, unsigned table, const uint8_t *key, size_t key_len, const uint8_t *val,
                 size_t val_len)
{
    capture_part *c = ctx;
    size_t need = 7 + key_len + val_len;
    chunk *k = c->last;
    if (k == NULL || k->cap - k->len < need) {
        chunk *n = chunk_get(c, need);
        if (n == NULL)
            return false;
        if (k != NULL)
            k->next = n;
        else
            c->first = n;
        c->last = k = n;
    }
    uint8_t *p = k->data + k->len;
    p[0] = (uint8_t)table;
    p[1] = (uint8_t)key_len;
    memcpy(p + 2, key, key_len);
    p += 2 + key_len;
    p[0] = val != NULL;
    p[1] = (uint8_t)(val_len >> 24);
    p[2] = (uint8_t)(val_len >> 16);
    p[3] = (uint8_t)(val_len >> 8);
    p[4] = (uint8_t)val_len;
    if (val_len > 0)
        memcpy(p + 5, val, val_len);
    k->len += need;
    c->count++;
    return true;
}

void chunks_free(chunk *k)
{
    for (chunk *next; k != NULL; k = next) {
        next = k->next;
        store_pages_unmap(k, k->mapped);
    }
}

/* Append a part's chunks and its unused reuse list to list. */
static chunk *part_chunks(capture_part *p, chunk *list)
{
    chunk *k = p->reuse;
    for (chunk *c = k; c != NULL; c = c->next)
        if (c->next == NULL) {
            c->next = list;
            break;
        }
    list = k != NULL ? k : list;
    if (p->first != NULL) {
        p->last->next = list;
        list = p->first;
    }
    return list;
}

chunk *capture_recycle(capture *c)
{
    chunk *k = part_chunks(&c->run, part_chunks(&c->own, NULL));
    free(c);
    return k;
}

void capture_free(capture *c)
{
    chunks_free(capture_recycle(c));
}
