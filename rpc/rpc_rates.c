/* rpc_rates.c - the rate-history index: a file of fixed-size entries, checked or rebuilt at open */
#include "rpc_rates.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_mem.h"

/* The file: a header, then entries in seq order. Integers are little-endian u64.
 *   header (64 bytes): "lstdrate" | version | entry size | genesis hash (32) | zero (8)
 *   entry (152 bytes): seq batch time kind operator_id gain loss assets shares unvested
 *                      expected balance start performance_bps zero | record hash (32)
 * Version 2 added expected .. performance_bps (the scorecard's); a version 1 file is rebuilt. */
#define MAGIC "lstdrate"
#define VERSION 2
#define HEADER_BYTES 64
#define ENTRY_U64S 15
#define ENTRY_BYTES (ENTRY_U64S * 8 + LEDGER_HASH_SIZE)
#define GENESIS_BYTES_MAX LEDGER_GENESIS_BYTES_MAX

struct rpc_rates {
    int fd;
    bool sync;
    char path[4096];
    uint64_t count;    /* entries in the file */
    uint64_t last_seq; /* seq of the last one (0: none) */
    rpc_rate_entry *pending;
    size_t npending, pending_cap;
    rpc_scores *scores; /* over the file's entries and the pending ones */
};

const char *rpc_rate_kind_name(uint64_t kind)
{
    static const char *const names[] = {NULL, "report", "slash", "report_accept", "operator_reset"};
    return kind >= 1 && kind <= 4 ? names[kind] : "unknown";
}

static void le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void entry_encode(uint8_t out[ENTRY_BYTES], const rpc_rate_entry *e)
{
    const uint64_t v[ENTRY_U64S] = {
        e->seq,   e->batch,           e->time,   e->kind,     e->operator_id, e->gain,
        e->loss,  e->assets,          e->shares, e->unvested, e->expected,    e->balance,
        e->start, e->performance_bps, 0};
    for (int i = 0; i < ENTRY_U64S; i++)
        le64_put(out + 8 * i, v[i]);
    memcpy(out + 8 * ENTRY_U64S, e->record_hash, LEDGER_HASH_SIZE);
}

static void entry_decode(rpc_rate_entry *e, const uint8_t in[ENTRY_BYTES])
{
    uint64_t *const v[ENTRY_U64S - 1] = {
        &e->seq,      &e->batch,   &e->time,   &e->kind,           &e->operator_id,
        &e->gain,     &e->loss,    &e->assets, &e->shares,         &e->unvested,
        &e->expected, &e->balance, &e->start,  &e->performance_bps};
    for (int i = 0; i < ENTRY_U64S - 1; i++)
        *v[i] = le64_get(in + 8 * i);
    memcpy(e->record_hash, in + 8 * ENTRY_U64S, LEDGER_HASH_SIZE);
}

int rpc_rates_prior(ledger_store *view, const ledger_tx *tx, rpc_rate_prior *prior)
{
    memset(prior, 0, sizeof *prior);
    if (!rpc_rates_kind(tx->kind))
        return LEDGER_OK;
    int rc = ledger_read_operator(view, tx->id, &prior->op);
    prior->have = rc == LEDGER_OK;
    return rc == LEDGER_STORE_NOTFOUND ? LEDGER_OK : rc;
}

/* The performance a booked report carries: a vote's, an accepted committee report's. */
static uint64_t entry_performance(const ledger_tx *tx, const rpc_rate_prior *prior)
{
    if (tx->kind == LEDGER_TX_VOTE)
        return tx->extra;
    if (tx->kind == LEDGER_TX_REPORT_ACCEPT && prior->have && prior->op.held_epoch != 0)
        return prior->op.held_performance_bps;
    return LEDGER_PERFORMANCE_NONE;
}

/* The entry a rate change makes. */
static void entry_make(rpc_rate_entry *e, const ledger_tx *tx, const ledger_result *res,
                       const ledger_pool *after, const rpc_rate_prior *prior,
                       const uint8_t record_hash[LEDGER_HASH_SIZE])
{
    bool vote = tx->kind == LEDGER_TX_VOTE; /* out: support, quorum, gain, loss */
    memset(e, 0, sizeof *e);
    e->seq = res->seq;
    e->batch = res->batch;
    e->time = res->timestamp;
    e->operator_id = tx->id;
    e->gain = res->out[vote ? 2 : 0];
    e->loss = res->out[vote ? 3 : 1];
    e->kind = tx->kind == LEDGER_TX_REPORT_ACCEPT    ? RPC_RATE_REPORT_ACCEPT
              : tx->kind == LEDGER_TX_OPERATOR_RESET ? RPC_RATE_OPERATOR_RESET
              : e->loss > 0                          ? RPC_RATE_SLASH
                                                     : RPC_RATE_REPORT;
    e->assets = after->assets;
    e->shares = after->shares;
    e->unvested = after->unvested;
    e->expected = prior->have ? prior->op.balance : 0;
    e->balance = tx->amount;
    e->start = prior->have ? prior->op.last_report_ts : res->timestamp;
    e->performance_bps = entry_performance(tx, prior);
    memcpy(e->record_hash, record_hash, LEDGER_HASH_SIZE);
}

static rpc_score_report score_of(const rpc_rate_entry *e)
{
    return (rpc_score_report){e->seq,      e->time, e->operator_id, e->start,
                              e->expected, e->gain, e->loss,        e->performance_bps};
}

/* ---- file I/O -------------------------------------------------------------------------------- */

static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k, n -= (size_t)k, off += (uint64_t)k;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = pwrite(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k, n -= (size_t)k, off += (uint64_t)k;
    }
    return 0;
}

static int read_entry(const rpc_rates *r, uint64_t index, rpc_rate_entry *e)
{
    uint8_t b[ENTRY_BYTES];
    if (pread_all(r->fd, b, sizeof b, HEADER_BYTES + index * ENTRY_BYTES) != 0)
        return LEDGER_STORE_IO;
    entry_decode(e, b);
    return LEDGER_OK;
}

/* The index of the first file entry with seq >= from (count when none). */
static int lower_bound(const rpc_rates *r, uint64_t from, uint64_t *index)
{
    uint64_t lo = 0, hi = r->count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        uint8_t b[8];
        if (pread_all(r->fd, b, 8, HEADER_BYTES + mid * ENTRY_BYTES) != 0)
            return LEDGER_STORE_IO;
        if (le64_get(b) < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    *index = lo;
    return LEDGER_OK;
}

/* Keep the first `count` entries of the file. */
static int truncate_to(rpc_rates *r, uint64_t count)
{
    rpc_rate_entry e;
    if (ftruncate(r->fd, (off_t)(HEADER_BYTES + count * ENTRY_BYTES)) != 0)
        return LEDGER_STORE_IO;
    r->count = count;
    r->last_seq = 0;
    if (count > 0) {
        if (read_entry(r, count - 1, &e) != LEDGER_OK)
            return LEDGER_STORE_IO;
        r->last_seq = e.seq;
    }
    return LEDGER_OK;
}

static void header_encode(uint8_t out[HEADER_BYTES], const uint8_t genesis[LEDGER_HASH_SIZE])
{
    memset(out, 0, HEADER_BYTES);
    memcpy(out, MAGIC, 8);
    le64_put(out + 8, VERSION);
    le64_put(out + 16, ENTRY_BYTES);
    memcpy(out + 24, genesis, LEDGER_HASH_SIZE);
}

static int genesis_hash(ledger_store *view, uint8_t out[LEDGER_HASH_SIZE])
{
    ledger_genesis g;
    uint8_t bytes[GENESIS_BYTES_MAX];
    int rc = ledger_genesis_read(view, &g);
    if (rc != LEDGER_OK)
        return rc;
    size_t n = ledger_genesis_encode(bytes, sizeof bytes, &g);
    if (n == 0)
        return LEDGER_STORE_CORRUPT;
    ledger_genesis_hash(out, bytes, n);
    return LEDGER_OK;
}

/* ---- the rebuild ------------------------------------------------------------------------------
 */

typedef struct rebuild {
    int fd;
    uint64_t count;
    uint8_t buf[256 * ENTRY_BYTES];
    size_t used;
} rebuild;

static int rebuild_put(rebuild *w, const rpc_rate_entry *e)
{
    if (w->used == sizeof w->buf) {
        if (pwrite_all(w->fd, w->buf, w->used,
                       HEADER_BYTES + (w->count - w->used / ENTRY_BYTES) * ENTRY_BYTES) != 0)
            return LEDGER_STORE_IO;
        w->used = 0;
    }
    entry_encode(w->buf + w->used, e);
    w->used += ENTRY_BYTES;
    w->count++;
    return LEDGER_OK;
}

static int rebuild_flush(rebuild *w)
{
    uint64_t first = w->count - w->used / ENTRY_BYTES;
    if (w->used > 0 && pwrite_all(w->fd, w->buf, w->used, HEADER_BYTES + first * ENTRY_BYTES) != 0)
        return LEDGER_STORE_IO;
    w->used = 0;
    return LEDGER_OK;
}

/* Re-apply every record of src from its genesis into the scratch state m (batch by batch, as
 * recorded) and put an entry for each rate change. Out: *replayed. */
static int replay_into(ledger_store *src, store_mem *m, rebuild *w, uint64_t *replayed)
{
    ledger_store dst;
    ledger_genesis g;
    ledger_chain to;
    ledger_batch b;
    bool open = false;
    store_mem_view(m, &dst);
    int rc = ledger_genesis_read(src, &g);
    if (rc == LEDGER_OK)
        rc = ledger_genesis_apply(&dst, &g);
    store_mem_commit(m);
    if (rc == LEDGER_OK)
        rc = ledger_read_chain(src, &to);
    for (uint64_t seq = 1; rc == LEDGER_OK && seq < to.next_seq; seq++) {
        ledger_record r;
        ledger_result res;
        if ((rc = ledger_read_record(src, seq, &r)) != LEDGER_OK)
            break;
        if (open && r.result.batch != b.chain.next_batch) {
            rc = ledger_batch_end(&b);
            store_mem_commit(m);
            open = false;
        }
        if (rc == LEDGER_OK && !open &&
            (rc = ledger_batch_begin(&b, &dst, r.result.timestamp)) == 0)
            open = true;
        rpc_rate_prior prior;
        if (rc == LEDGER_OK)
            rc = rpc_rates_prior(&dst, &r.tx, &prior);
        if (rc == LEDGER_OK)
            rc = ledger_apply(&b, &r.tx, r.tx_hash, r.sig, &res);
        if (rc == LEDGER_OK && (res.seq != seq || memcmp(b.chain.head, r.hash, 32) != 0))
            rc = LEDGER_STORE_CORRUPT; /* not the history the log holds */
        if (rc == LEDGER_OK && rpc_rates_wanted(&r.tx, &res, &b.pool)) {
            rpc_rate_entry e;
            entry_make(&e, &r.tx, &res, &b.pool, &prior, b.chain.head);
            rc = rebuild_put(w, &e);
        }
        *replayed = seq;
    }
    if (rc == LEDGER_OK && open)
        rc = ledger_batch_end(&b);
    store_mem_commit(m);
    return rc;
}

/* Write a new index for the store's whole history at path (through path.tmp, renamed over it).
 * Out: *count, *replayed. */
static int rebuild_file(const char *path, store_db *store, uint64_t *count, uint64_t *replayed,
                        char *msg, size_t msg_size)
{
    char tmp[4200];
    uint8_t header[HEADER_BYTES], genesis[LEDGER_HASH_SIZE];
    uint64_t seed = 0;
    store_mem *m = NULL;
    rebuild *w = calloc(1, sizeof *w);
    ledger_store *view = store_db_view(store);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL);
    if (w != NULL)
        w->fd = -1;
    int rc = w == NULL || store_mem_new(&m, seed) != 0 ? LEDGER_NO_MEMORY : LEDGER_OK;
    if (rc == LEDGER_OK)
        rc = genesis_hash(view, genesis);
    if (rc == LEDGER_OK) {
        w->fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        header_encode(header, genesis);
        rc = w->fd < 0 || pwrite_all(w->fd, header, sizeof header, 0) != 0 ? LEDGER_STORE_IO
                                                                           : LEDGER_OK;
    }
    if (rc == LEDGER_OK)
        rc = replay_into(view, m, w, replayed);
    if (rc == LEDGER_OK)
        rc = rebuild_flush(w);
    if (rc == LEDGER_OK && (fdatasync(w->fd) != 0 || rename(tmp, path) != 0))
        rc = LEDGER_STORE_IO;
    if (rc != LEDGER_OK)
        snprintf(msg, msg_size, "cannot rebuild the rate index %s: %s%s%s", path,
                 ledger_err_name(rc), rc == LEDGER_STORE_IO ? ": " : "",
                 rc == LEDGER_STORE_IO ? strerror(errno) : "");
    if (w != NULL && w->fd >= 0)
        close(w->fd);
    if (rc != LEDGER_OK)
        unlink(tmp);
    *count = w != NULL ? w->count : 0;
    free(w);
    store_mem_free(&m);
    return rc;
}

/* ---- open -------------------------------------------------------------------------------------
 */

/* Check the file against the log: its header, whole entries, none beyond the log (those are
 * dropped), and its last entry naming the log's record of that seq. Out: why (when it does not
 * match). Returns: LEDGER_OK, LEDGER_STORE_CORRUPT (rebuild it) or LEDGER_STORE_IO. */
static int check_file(rpc_rates *r, ledger_store *view, char *why, size_t size)
{
    uint8_t header[HEADER_BYTES], want[HEADER_BYTES], genesis[LEDGER_HASH_SIZE];
    struct stat st;
    ledger_chain c;
    ledger_record rec;
    rpc_rate_entry e;
    uint64_t keep;
    int rc = genesis_hash(view, genesis);
    if (rc == LEDGER_OK)
        rc = ledger_read_chain(view, &c);
    if (rc != LEDGER_OK)
        return rc;
    header_encode(want, genesis);
    if (fstat(r->fd, &st) != 0)
        return LEDGER_STORE_IO;
    if (pread_all(r->fd, header, sizeof header, 0) != 0 || memcmp(header, want, 24) != 0) {
        snprintf(why, size, "not a rate index of this version");
        return LEDGER_STORE_CORRUPT;
    }
    if (memcmp(header, want, sizeof want) != 0) {
        snprintf(why, size, "made for another ledger (its genesis differs)");
        return LEDGER_STORE_CORRUPT;
    }
    r->count = ((uint64_t)st.st_size - HEADER_BYTES) / ENTRY_BYTES; /* a torn append: cut */
    if ((rc = lower_bound(r, c.next_seq, &keep)) != LEDGER_OK || (rc = truncate_to(r, keep)) != 0)
        return rc;
    if (r->count == 0)
        return LEDGER_OK;
    if ((rc = read_entry(r, r->count - 1, &e)) != LEDGER_OK)
        return rc;
    if (ledger_read_record(view, e.seq, &rec) != LEDGER_OK ||
        memcmp(rec.hash, e.record_hash, LEDGER_HASH_SIZE) != 0) {
        snprintf(why, size, "its entry for record %" PRIu64 " is not the log's record", e.seq);
        return LEDGER_STORE_CORRUPT;
    }
    return LEDGER_OK;
}

#define READ_CHUNK 64 /* entries read from the file per pread */

/* The scorecard's sums over the file's entries (at open, and after entries were dropped). */
static int scores_load(rpc_rates *r)
{
    uint8_t b[READ_CHUNK * ENTRY_BYTES];
    rpc_scores_free(&r->scores);
    if (rpc_scores_new(&r->scores) != 0)
        return LEDGER_NO_MEMORY;
    for (uint64_t at = 0; at < r->count;) {
        uint64_t k = r->count - at < READ_CHUNK ? r->count - at : READ_CHUNK;
        if (pread_all(r->fd, b, (size_t)k * ENTRY_BYTES, HEADER_BYTES + at * ENTRY_BYTES) != 0)
            return LEDGER_STORE_IO;
        for (uint64_t i = 0; i < k; i++) {
            rpc_rate_entry e;
            entry_decode(&e, b + i * ENTRY_BYTES);
            rpc_score_report sr = score_of(&e);
            if (rpc_scores_add(r->scores, &sr) != 0)
                return LEDGER_NO_MEMORY;
        }
        at += k;
    }
    return LEDGER_OK;
}

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int rpc_rates_open(rpc_rates **out, const char *path, store_db *store, bool sync,
                   rpc_rates_info *info, char *msg, size_t msg_size)
{
    uint64_t t0 = ms_now();
    rpc_rates *r = calloc(1, sizeof *r);
    *out = NULL;
    memset(info, 0, sizeof *info);
    msg[0] = '\0';
    if (r == NULL) {
        snprintf(msg, msg_size, "no memory for the rate index");
        return LEDGER_NO_MEMORY;
    }
    r->sync = sync;
    snprintf(r->path, sizeof r->path, "%s", path);
    r->fd = open(path, O_RDWR | O_CLOEXEC);
    int rc = LEDGER_STORE_CORRUPT;
    if (r->fd < 0 && errno != ENOENT)
        rc = LEDGER_STORE_IO;
    else if (r->fd < 0)
        snprintf(info->why, sizeof info->why, "missing");
    else
        rc = check_file(r, store_db_view(store), info->why, sizeof info->why);
    if (rc == LEDGER_STORE_CORRUPT) { /* missing, damaged or another history: rebuild */
        if (r->fd >= 0)
            close(r->fd);
        info->rebuilt = true;
        rc = rebuild_file(path, store, &r->count, &info->replayed, msg, msg_size);
        r->fd = rc == LEDGER_OK ? open(path, O_RDWR | O_CLOEXEC) : -1;
        if (rc == LEDGER_OK && (r->fd < 0 || truncate_to(r, r->count) != LEDGER_OK))
            rc = LEDGER_STORE_IO;
    }
    if (rc == LEDGER_OK && (rc = scores_load(r)) != LEDGER_OK)
        snprintf(msg, msg_size, "cannot read the rate index %s for the scorecard: %s", path,
                 ledger_err_name(rc));
    if (rc != LEDGER_OK) {
        if (msg[0] == '\0')
            snprintf(msg, msg_size, "cannot read the rate index %s: %s", path, strerror(errno));
        rpc_rates_close(&r);
        return rc;
    }
    info->entries = r->count;
    info->ms = ms_now() - t0;
    *out = r;
    return LEDGER_OK;
}

void rpc_rates_close(rpc_rates **rp)
{
    rpc_rates *r = *rp;
    if (r == NULL)
        return;
    *rp = NULL;
    if (r->fd >= 0)
        close(r->fd);
    free(r->pending);
    rpc_scores_free(&r->scores);
    free(r);
}

/* ---- the sequencer ------------------------------------------------------------------------------
 */

int rpc_rates_add(rpc_rates *r, const ledger_tx *tx, const ledger_result *res,
                  const ledger_pool *after, const rpc_rate_prior *prior,
                  const uint8_t record_hash[LEDGER_HASH_SIZE])
{
    if (r->npending == 0 && r->count > 0 && res->seq <= r->last_seq) {
        uint64_t keep; /* an undone batch wrote entries for seqs now reused */
        int rc = lower_bound(r, res->seq, &keep);
        if (rc == LEDGER_OK)
            rc = truncate_to(r, keep);
        if (rc == LEDGER_OK)
            rc = scores_load(r);
        if (rc != LEDGER_OK)
            return rc;
    }
    if (r->npending == r->pending_cap) {
        size_t cap = r->pending_cap ? r->pending_cap * 2 : 16;
        rpc_rate_entry *p = realloc(r->pending, cap * sizeof *p);
        if (p == NULL)
            return LEDGER_NO_MEMORY;
        r->pending = p;
        r->pending_cap = cap;
    }
    rpc_rate_entry *e = &r->pending[r->npending];
    entry_make(e, tx, res, after, prior, record_hash);
    rpc_score_report sr = score_of(e);
    if (rpc_scores_add(r->scores, &sr) != 0)
        return LEDGER_NO_MEMORY;
    r->npending++;
    return LEDGER_OK;
}

/* The pending entries leave the scorecard's sums, newest first. */
static void scores_drop_pending(rpc_rates *r)
{
    for (size_t i = r->npending; i-- > 0;) {
        rpc_score_report sr = score_of(&r->pending[i]);
        rpc_scores_pop(r->scores, &sr);
    }
}

int rpc_rates_commit(rpc_rates *r)
{
    uint8_t b[ENTRY_BYTES];
    if (r->npending == 0)
        return LEDGER_OK;
    int rc = LEDGER_OK;
    for (size_t i = 0; rc == LEDGER_OK && i < r->npending; i++) {
        entry_encode(b, &r->pending[i]);
        if (pwrite_all(r->fd, b, sizeof b, HEADER_BYTES + (r->count + i) * ENTRY_BYTES) != 0)
            rc = LEDGER_STORE_IO;
    }
    if (rc == LEDGER_OK && r->sync && fdatasync(r->fd) != 0)
        rc = LEDGER_STORE_IO;
    if (rc != LEDGER_OK) {
        (void)truncate_to(r, r->count); /* nothing of the batch stays */
        scores_drop_pending(r);
    } else {
        r->count += r->npending;
        r->last_seq = r->pending[r->npending - 1].seq;
    }
    r->npending = 0;
    return rc;
}

void rpc_rates_abort(rpc_rates *r)
{
    scores_drop_pending(r);
    r->npending = 0;
}

int rpc_rates_read(rpc_rates *r, uint64_t from, rpc_rate_entry *out, size_t max, size_t *n,
                   bool *more)
{
    uint8_t b[READ_CHUNK * ENTRY_BYTES];
    uint64_t at;
    *n = 0;
    *more = false;
    int rc = lower_bound(r, from, &at);
    while (rc == LEDGER_OK && at < r->count && *n < max) {
        uint64_t k = r->count - at;
        k = k < READ_CHUNK ? k : READ_CHUNK;
        k = k < max - *n ? k : max - *n;
        if (pread_all(r->fd, b, (size_t)k * ENTRY_BYTES, HEADER_BYTES + at * ENTRY_BYTES) != 0)
            return LEDGER_STORE_IO;
        for (uint64_t i = 0; i < k; i++)
            entry_decode(&out[(*n)++], b + i * ENTRY_BYTES);
        at += k;
    }
    if (rc != LEDGER_OK)
        return rc;
    *more = at < r->count;
    for (size_t i = 0; i < r->npending; i++) {
        if (r->pending[i].seq < from)
            continue;
        if (*n == max) {
            *more = true;
            break;
        }
        out[(*n)++] = r->pending[i];
    }
    return LEDGER_OK;
}

uint64_t rpc_rates_count(const rpc_rates *r)
{
    return r->count + r->npending;
}

const rpc_scores *rpc_rates_scores(const rpc_rates *r)
{
    return r->scores;
}
