/* bench_ledger.c - lstd-bench-ledger: transactions/s and batch latency of the ledger's commit path
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "crypto.h"
#include "ledger.h"
#include "store_db.h"

#define START_S 1700000000u         /* genesis and first batch time: a realistic Unix time */
#define SETUP_AMOUNT 1000000000u    /* base units deposited to each account at setup */
#define DEPOSIT_AMOUNT_MIN 1000000u /* deposits scenario: 10^6 .. 10^6 + 10^9 base units */
#define TRANSFER_SHARES_MAX 1000u   /* transfers move 1 .. 1000 shares */
#define GROUP_TXS 5                 /* mix: report, lock, release, withdraw_request, finalize */
#define GROUP_SHARES 1000u          /* shares locked and requested by a mix group */
#define OPERATOR_ID 1u              /* registered at genesis, funded at setup in mix */
#define OPERATOR_FEE_BPS 500u
#define SECONDS_PER_YEAR 31536000u /* as the APR limit counts it (ledger/README.md) */
#define SUCCESS_FRACTION_MIN 0.99  /* per kind; below it the run warns (fails with --strict) */
#define KEYGEN_THREADS_MAX 8
#define KINDS (LEDGER_TX_KIND_MAX + 1)

enum scenario { SC_UNIFORM, SC_ZIPF, SC_DEPOSITS, SC_MIX, SC_COUNT };
static const char *const scenario_names[SC_COUNT] = {"uniform", "zipf", "deposits", "mix"};

static const char usage_text[] =
    "usage: lstd-bench-ledger [options] DIR\n"
    "       lstd-bench-ledger --version   print \"lstd-bench-ledger VERSION\"\n"
    "\n"
    "Creates a fresh ledger in DIR (which must not hold one), deposits to N accounts in large\n"
    "batches (the setup, timed too), optionally applies --history transfers, then measures\n"
    "--batches batches of --batch-size transactions of the scenario through the service's\n"
    "commit path: each batch is applied to the state in memory (ledger_batch_begin,\n"
    "ledger_apply each, ledger_batch_end) and handed to the log writer, which appends it and\n"
    "(--sync) fsyncs; the next batch is applied meanwhile, and checkpoints run in the\n"
    "background. A batch's latency runs from the start of its apply until it is durable;\n"
    "throughput counts the time outside filling batches (the service's verifiers do that).\n"
    "Signatures are not verified and transaction hashes are computed before timing (the\n"
    "service's verifiers do both before the ledger), so this measures the state machine and\n"
    "storage alone. The clock advances 1 s per batch. Every transaction's result is counted\n"
    "per kind; a kind with fewer than 99% successes prints a warning (exit 3 with --strict).\n"
    "\n"
    "  --scenario S       uniform: transfers between uniformly random accounts (default)\n"
    "                     zipf: sender and receiver Zipf-distributed over the accounts\n"
    "                     deposits: custodian deposits (unique refs) to random accounts\n"
    "                     mix: uniform transfers and, after every --mix-every transfers, a\n"
    "                     report by operator 1 (funded at setup, gain within the APR limit),\n"
    "                     a lock and its release, a withdraw_request and its finalize\n"
    "  --accounts N       accounts set up before measuring (default 10000)\n"
    "  --batches N        measured batches (default 200)\n"
    "  --batch-size N     transactions per measured batch (default 1000)\n"
    "  --setup-batch N    deposits per setup batch (default 10000)\n"
    "  --history N        transfers applied after setup and before measuring (default 0)\n"
    "  --report-every N   print a line per N transactions of each phase on stderr: that\n"
    "                     stretch's throughput (as transfers_per_s: time outside filling\n"
    "                     batches), applying thread's CPU per transaction and batch latency\n"
    "                     (0 = off, the default)\n"
    "  --mix-every N      transfers between two mix groups (default 2000)\n"
    "  --zipf-s X         Zipf exponent (default 1.0)\n"
    "  --seed N           random seed (default 1)\n"
    "  --map-mb N         initial LMDB map size of the log and the checkpoint in MiB (default\n"
    "                     64; it doubles when full)\n"
    "  --checkpoint-ms N  checkpoint interval (default 10000, as lstd)\n"
    "  --commit-gather-us N  a log commit under load waits until N us after the previous one\n"
    "                     began or 1024 records wait (default 3000, as lstd; 0: none)\n"
    "  --sync             fsync every log commit (default: no fsync)\n"
    "  --json             print one JSON line instead of the summary line\n"
    "  --strict           exit 3 when a kind falls below 99% successes\n";

typedef struct options {
    uint64_t accounts, batches, batch_size, setup_batch, history, report_every, mix_every;
    uint64_t seed, map_mb, checkpoint_ms, gather_us;
    double zipf_s;
    unsigned scenario;
    bool sync, json, strict;
    const char *dir;
} options;

/* Zipf over 1..n with exponent s by rejection-inversion (Hörmann and Derflinger 1996, as in
 * Apache Commons RNG): O(1) per sample and no table, so 10^7 accounts cost nothing. */
typedef struct zipf {
    uint64_t n;
    double s, h_x1, h_n, skip;
} zipf;

typedef struct tally {
    uint64_t intended, ok;
    int first_error; /* result code of the first failure (0: none) */
} tally;

/* One phase of a run (setup, history, measure): its batches and their results. */
typedef struct phase {
    const char *name;
    uint64_t batches, done; /* capacity of lat_ms, batches run */
    double *lat_ms;         /* from the start of each batch's apply until it is durable */
    double *start_s;        /* when each batch's apply started */
    struct batch_done *dones;
    double apply_s;     /* time spent outside filling batches, until the last one was durable */
    double apply_cpu_s; /* CPU time of the applying thread in those stretches */
    int failed;         /* a batch the log could not make durable */
    uint64_t txs, transfers;
    tally kinds[KINDS];
    uint64_t mark_batch, mark_txs;   /* start of the running --report-every stretch */
    double mark_apply_s, mark_cpu_s; /* apply_s and apply_cpu_s then */
} phase;

typedef struct batch_done {
    struct phase *ph;
    uint64_t i;
} batch_done;

typedef struct bench {
    const options *opt;
    store_db *store;
    uint8_t (*keys)[32]; /* 0: admin, custodian, treasury; 1..N: accounts; N+1: operator */
    uint64_t *nonces;    /* last nonce used by each key */
    uint64_t accounts, now, rng, ref_seq, setup_next;
    ledger_tx *txs;
    uint8_t (*hashes)[LEDGER_HASH_SIZE]; /* computed as the service's verifiers do, untimed */
    ledger_result *res;
    size_t n, cap; /* transactions in the current batch, room */
    ledger_tx_hasher hasher;
    zipf z;
    /* mix: what the next group needs, re-read from the store after every batch */
    uint64_t since_group, next_lien, next_request;
    uint64_t op_balance, op_epoch, op_report_ts, apr_bps, fund_amount;
} bench;

typedef void fill_fn(bench *b, size_t size);

/* ---- random numbers --------------------------------------------------------------------- */

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double rand_unit(uint64_t *s) /* uniform in [0, 1) */
{
    return (double)(next_rand(s) >> 11) * 0x1p-53;
}

static double helper1(double x) /* log1p(x) / x, continuous at 0 */
{
    return fabs(x) > 1e-8 ? log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
}

static double helper2(double x) /* expm1(x) / x, continuous at 0 */
{
    return fabs(x) > 1e-8 ? expm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x));
}

static double zipf_h(const zipf *z, double x)
{
    return exp(-z->s * log(x));
}

static double zipf_h_integral(const zipf *z, double x)
{
    double lx = log(x);
    return helper2((1 - z->s) * lx) * lx;
}

static double zipf_h_integral_inverse(const zipf *z, double x)
{
    double t = x * (1 - z->s);
    return exp(helper1(t < -1 ? -1 : t) * x);
}

static void zipf_init(zipf *z, uint64_t n, double s)
{
    z->n = n;
    z->s = s;
    z->h_x1 = zipf_h_integral(z, 1.5) - 1;
    z->h_n = zipf_h_integral(z, (double)n + 0.5);
    z->skip = 2 - zipf_h_integral_inverse(z, zipf_h_integral(z, 2.5) - zipf_h(z, 2));
}

/* Returns: a rank in 1..n, rank k with probability proportional to k^-s. */
static uint64_t zipf_sample(const zipf *z, uint64_t *rng)
{
    for (;;) {
        double u = z->h_n + rand_unit(rng) * (z->h_x1 - z->h_n);
        double x = zipf_h_integral_inverse(z, u);
        double kd = floor(x + 0.5);
        uint64_t k = kd < 1 ? 1 : kd > (double)z->n ? z->n : (uint64_t)kd;
        if ((double)k - x <= z->skip ||
            u >= zipf_h_integral(z, (double)k + 0.5) - zipf_h(z, (double)k))
            return k;
    }
}

/* An account index in 1..N by the scenario's distribution (rank 1 is the hottest). */
static uint64_t pick(bench *b)
{
    if (b->opt->scenario == SC_ZIPF)
        return zipf_sample(&b->z, &b->rng);
    return 1 + next_rand(&b->rng) % b->accounts;
}

/* Two different accounts (N >= 2). */
static void pick_pair(bench *b, uint64_t *from, uint64_t *to)
{
    *from = pick(b);
    do
        *to = pick(b);
    while (*to == *from);
}

/* ---- keys ------------------------------------------------------------------------------- */

typedef struct keygen_job {
    uint8_t (*keys)[32];
    uint64_t first, end;
    const crypto_tag *tag;
} keygen_job;

/* Key i: the first tagged hash of (i, t), t = 0, 1, ..., that is a valid x-only key. The
 * bench signs nothing, so it needs no secret keys, and this costs half of deriving them. */
static void *keygen_run(void *arg)
{
    const keygen_job *j = arg;
    for (uint64_t i = j->first; i < j->end; i++) {
        uint8_t msg[12];
        for (uint32_t t = 0;; t++) {
            memcpy(msg, &i, 8);
            memcpy(msg + 8, &t, 4);
            crypto_tag_hash(j->keys[i], j->tag, msg, sizeof msg);
            if (crypto_pubkey_valid(j->keys[i]))
                break;
        }
    }
    return NULL;
}

/* Derive `count` keys on up to one thread per core (on this one when a thread cannot start). */
static void make_keys(uint8_t (*keys)[32], uint64_t count)
{
    crypto_tag tag;
    crypto_tag_init(&tag, "lstd-bench/key", 14);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t threads = count < 10000 || cores < 1   ? 1
                       : cores > KEYGEN_THREADS_MAX ? KEYGEN_THREADS_MAX
                                                    : (uint64_t)cores;
    pthread_t th[KEYGEN_THREADS_MAX];
    keygen_job jobs[KEYGEN_THREADS_MAX];
    uint64_t started = 0;
    for (uint64_t t = 0; t < threads; t++) {
        jobs[t] = (keygen_job){keys, count * t / threads, count * (t + 1) / threads, &tag};
        if (t + 1 < threads && pthread_create(&th[started], NULL, keygen_run, &jobs[t]) == 0)
            started++;
        else
            keygen_run(&jobs[t]);
    }
    for (uint64_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
}

/* ---- transactions ----------------------------------------------------------------------- */

static ledger_tx *push(bench *b, unsigned kind, uint64_t signer)
{
    assert(b->n < b->cap);
    ledger_tx *t = &b->txs[b->n++];
    memset(t, 0, sizeof *t);
    t->kind = (uint8_t)kind;
    memcpy(t->signer, b->keys[signer], 32);
    t->nonce = ++b->nonces[signer];
    return t;
}

static void push_deposit(bench *b, uint64_t to, uint64_t amount)
{
    ledger_tx *t = push(b, LEDGER_TX_DEPOSIT, 0);
    uint64_t ref = ++b->ref_seq; /* unique in a fresh ledger */
    memcpy(t->account, b->keys[to], 32);
    t->amount = amount;
    memcpy(t->ref, &ref, sizeof ref);
}

static void push_transfer(bench *b)
{
    uint64_t from, to;
    pick_pair(b, &from, &to);
    ledger_tx *t = push(b, LEDGER_TX_TRANSFER, from);
    memcpy(t->account, b->keys[to], 32);
    t->amount = 1 + next_rand(&b->rng) % TRANSFER_SHARES_MAX;
}

/* A report with half the gain the APR limit allows over the batch time since the last one. */
static void push_report(bench *b)
{
    uint64_t elapsed_s = b->now - b->op_report_ts;
    ledger_u128 gain_max = (ledger_u128)b->apr_bps * b->op_balance * elapsed_s /
                           ((ledger_u128)SECONDS_PER_YEAR * LEDGER_BPS);
    uint64_t gain = (uint64_t)(gain_max / 2);
    ledger_tx *t = push(b, LEDGER_TX_REPORT, b->accounts + 1);
    t->id = OPERATOR_ID;
    t->limit = ++b->op_epoch; /* epochs up to now / EPOCH_S have started */
    t->amount = b->op_balance + gain;
    b->op_balance += gain;
    b->op_report_ts = b->now;
}

/* A mix group: report, lock + release of a lien, withdraw_request + its finalize. Ids come
 * from the pool as re-read after the last batch, counted on within this one. */
static void push_group(bench *b)
{
    uint64_t owner, beneficiary, requester = 1 + next_rand(&b->rng) % b->accounts;
    ledger_tx *t;
    push_report(b);
    pick_pair(b, &owner, &beneficiary);
    t = push(b, LEDGER_TX_LOCK, owner);
    memcpy(t->account, b->keys[beneficiary], 32);
    t->amount = GROUP_SHARES;
    t = push(b, LEDGER_TX_RELEASE, beneficiary);
    t->id = b->next_lien++;
    t->amount = GROUP_SHARES;
    t = push(b, LEDGER_TX_WITHDRAW_REQUEST, requester);
    t->amount = GROUP_SHARES;
    t = push(b, LEDGER_TX_WITHDRAW_FINALIZE, 0);
    t->id = b->next_request++;
}

static void fill_setup(bench *b, size_t size)
{
    while (b->n < size && b->setup_next < b->accounts)
        push_deposit(b, 1 + b->setup_next++, SETUP_AMOUNT);
}

static void fill_fund(bench *b, size_t size)
{
    (void)size;
    ledger_tx *t = push(b, LEDGER_TX_OPERATOR_FUND, 0);
    t->id = OPERATOR_ID;
    t->amount = b->fund_amount;
}

static void fill_transfers(bench *b, size_t size)
{
    while (b->n < size)
        push_transfer(b);
}

static void fill_deposits(bench *b, size_t size)
{
    while (b->n < size)
        push_deposit(b, 1 + next_rand(&b->rng) % b->accounts,
                     DEPOSIT_AMOUNT_MIN + next_rand(&b->rng) % SETUP_AMOUNT);
}

static void fill_mix(bench *b, size_t size)
{
    while (b->n < size) {
        if (b->since_group >= b->opt->mix_every && size - b->n >= GROUP_TXS) {
            push_group(b);
            b->since_group = 0;
        } else {
            push_transfer(b);
            b->since_group++;
        }
    }
}

/* ---- batches ---------------------------------------------------------------------------- */

static int apply_fn(void *ctx, ledger_store *view)
{
    bench *b = ctx;
    static const uint8_t sig[LEDGER_SIG_SIZE];
    ledger_batch batch;
    int rc = ledger_batch_begin(&batch, view, b->now);
    for (size_t i = 0; rc == LEDGER_OK && i < b->n; i++) {
        size_t first, k;
        if (ledger_prefetch_due(i, b->n, &first, &k)) /* as the service does */
            ledger_batch_prefetch(&batch, &b->txs[first], (const uint8_t(*)[32])b->hashes[first],
                                  k);
        rc = ledger_apply(&batch, &b->txs[i], b->hashes[i], sig, &b->res[i]);
    }
    return rc == LEDGER_OK ? ledger_batch_end(&batch) : rc;
}

/* Mix: the lien and request ids the next group gets and operator 1's report state, read
 * back from the store (untimed) so one failed transaction does not derail the rest. */
static int mix_resync(bench *b)
{
    ledger_store *view = store_db_view(b->store);
    ledger_pool p;
    ledger_operator o;
    int rc = ledger_read_pool(view, &p);
    if (rc == LEDGER_OK)
        rc = ledger_read_operator(view, OPERATOR_ID, &o);
    if (rc != LEDGER_OK)
        return -1;
    b->next_lien = p.next_lien_id;
    b->next_request = p.next_request_id;
    b->op_balance = o.balance;
    b->op_epoch = o.last_epoch;
    b->op_report_ts = o.last_report_ts;
    b->apr_bps = p.params[LEDGER_PARAM_MAX_APR_BPS];
    return 0;
}

static void tally_add(tally *t, const ledger_result *r)
{
    t->intended++;
    if (r->code == LEDGER_OK && !r->duplicate)
        t->ok++;
    else if (t->first_error == 0)
        t->first_error = r->code == LEDGER_OK ? -1 : r->code; /* -1: a duplicate */
}

/* The --report-every line for the stretch of ph since its last mark. */
static void report_stretch(phase *ph)
{
    uint64_t nb = ph->done - ph->mark_batch;
    double *v = malloc(nb * sizeof *v), s = 0;
    if (v == NULL || nb == 0) {
        free(v);
        return;
    }
    for (uint64_t i = 0; i < nb; i++)
        s += (v[i] = ph->lat_ms[ph->mark_batch + i]);
    bench_sort(v, nb);
    double txs = (double)(ph->txs - ph->mark_txs), took = ph->apply_s - ph->mark_apply_s;
    fprintf(stderr,
            "lstd-bench-ledger: %s transactions %" PRIu64 "-%" PRIu64 ": %.0f tx/s, %.3f us "
            "applying per tx, batch p50 %.2f ms, mean %.2f ms, p99 %.2f ms, max %.2f ms\n",
            ph->name, ph->mark_txs, ph->txs, took > 0 ? txs / took : 0,
            (ph->apply_cpu_s - ph->mark_cpu_s) * 1e6 / txs, bench_quantile(v, nb, 0.5),
            s / (double)nb, bench_quantile(v, nb, 0.99), v[nb - 1]);
    free(v);
    ph->mark_batch = ph->done;
    ph->mark_txs = ph->txs;
    ph->mark_apply_s = ph->apply_s;
    ph->mark_cpu_s = ph->apply_cpu_s;
}

/* The log thread: batch i of the phase is durable. */
static void on_durable(void *ctx, int rc)
{
    batch_done *d = ctx;
    d->ph->lat_ms[d->i] = (bench_now_s() - d->ph->start_s[d->i]) * 1000;
    if (rc != 0)
        d->ph->failed = rc;
}

/* Wait until every batch of the phase is durable (timed). Returns: 0 or -1. */
static int phase_flush(bench *b, phase *ph)
{
    double t0 = bench_now_s();
    int rc = store_db_flush(b->store);
    ph->apply_s += bench_now_s() - t0;
    if (rc != 0 || ph->failed != 0) {
        fprintf(stderr, "lstd-bench-ledger: %s: the log failed: %s\n", ph->name,
                ledger_err_name(rc != 0 ? rc : ph->failed));
        return -1;
    }
    return 0;
}

/* Fill one batch (untimed, hashes included), apply and submit it (timed), count the results.
 * Returns: 0, or -1 after a message (an internal or store error: the run cannot go on). */
static int run_batch(bench *b, phase *ph, fill_fn *fill, size_t size)
{
    b->n = 0;
    b->now++;
    fill(b, size);
    for (size_t i = 0; i < b->n; i++)
        if (ledger_tx_hash_with(b->hashes[i], &b->hasher, &b->txs[i]) != LEDGER_OK)
            return -1;
    double t0 = bench_now_s(), c0 = bench_thread_cpu_s();
    uint64_t slot = ph->done < ph->batches ? ph->done : ph->batches; /* spare slot past the end */
    ph->start_s[slot] = t0;
    ph->dones[slot] = (batch_done){ph, slot};
    int rc = store_db_submit(b->store, apply_fn, b, on_durable, &ph->dones[slot]);
    ph->apply_s += bench_now_s() - t0;
    ph->apply_cpu_s += bench_thread_cpu_s() - c0;
    if (rc != 0) {
        fprintf(stderr, "lstd-bench-ledger: %s batch %" PRIu64 ": %s\n", ph->name, ph->done + 1,
                ledger_err_name(rc));
        return -1;
    }
    ph->done++;
    ph->txs += b->n;
    for (size_t i = 0; i < b->n; i++) {
        tally_add(&ph->kinds[b->txs[i].kind], &b->res[i]);
        ph->transfers += b->txs[i].kind == LEDGER_TX_TRANSFER;
    }
    if (b->opt->report_every > 0 && ph->txs - ph->mark_txs >= b->opt->report_every) {
        if (phase_flush(b, ph) != 0) /* the stretch's latencies are all in */
            return -1;
        report_stretch(ph);
    }
    return b->opt->scenario == SC_MIX && mix_resync(b) != 0 ? -1 : 0;
}

/* Run `count` transactions of fill in batches of `size`. Returns: 0 or -1. */
static int run_phase(bench *b, phase *ph, fill_fn *fill, uint64_t count, uint64_t size)
{
    for (uint64_t done = 0; done < count;) {
        uint64_t n = count - done < size ? count - done : size;
        if (run_batch(b, ph, fill, (size_t)n) != 0)
            return -1;
        done += n;
    }
    if (phase_flush(b, ph) != 0)
        return -1;
    if (b->opt->report_every > 0 && ph->txs > ph->mark_txs)
        report_stretch(ph);
    return 0;
}

static int phase_init(phase *ph, const char *name, uint64_t batches)
{
    memset(ph, 0, sizeof *ph);
    ph->name = name;
    ph->batches = batches;
    ph->lat_ms = calloc(batches + 1, sizeof *ph->lat_ms);
    ph->start_s = calloc(batches + 1, sizeof *ph->start_s);
    ph->dones = calloc(batches + 1, sizeof *ph->dones);
    bool ok = ph->lat_ms && ph->start_s && ph->dones;
    if (!ok)
        fprintf(stderr, "lstd-bench-ledger: out of memory (%s: %" PRIu64 " batches)\n", name,
                batches);
    return ok ? 0 : -1;
}

/* ---- results ---------------------------------------------------------------------------- */

/* Warn about every kind of every phase below SUCCESS_FRACTION_MIN. Returns: warnings. */
static unsigned check_success(phase *const *phases, size_t count)
{
    unsigned warnings = 0;
    for (size_t p = 0; p < count; p++)
        for (unsigned k = 1; k < KINDS; k++) {
            const tally *t = &phases[p]->kinds[k];
            if (t->intended == 0 || (double)t->ok >= SUCCESS_FRACTION_MIN * (double)t->intended)
                continue;
            fprintf(stderr,
                    "lstd-bench-ledger: warning: %s: only %" PRIu64 " of %" PRIu64
                    " %s transactions succeeded (first failure: %s)\n",
                    phases[p]->name, t->ok, t->intended, ledger_kind_lookup(k)->name,
                    t->first_error < 0 ? "duplicate" : ledger_err_name(t->first_error));
            warnings++;
        }
    return warnings;
}

typedef struct summary {
    double tx_per_s, transfers_per_s, apply_cpu_us, p50, p99, p999, max, mean; /* latencies in ms */
    double setup_per_s, setup_s, keygen_s, history_per_s, rss_mb;
    uint64_t ok, intended, state_mb, db_mb, checkpoints, checkpoint_ms_max;
    unsigned warnings;
} summary;

static void summarize(summary *s, phase *m)
{
    bench_sort(m->lat_ms, m->done);
    s->tx_per_s = m->apply_s > 0 ? (double)m->txs / m->apply_s : 0;
    s->transfers_per_s = m->apply_s > 0 ? (double)m->transfers / m->apply_s : 0;
    s->apply_cpu_us = m->txs > 0 ? m->apply_cpu_s * 1e6 / (double)m->txs : 0;
    s->p50 = bench_quantile(m->lat_ms, m->done, 0.5);
    s->p99 = bench_quantile(m->lat_ms, m->done, 0.99);
    s->p999 = bench_quantile(m->lat_ms, m->done, 0.999);
    s->max = m->done ? m->lat_ms[m->done - 1] : 0;
    s->mean = m->done ? m->apply_s * 1000 / (double)m->done : 0;
    for (unsigned k = 1; k < KINDS; k++) {
        s->ok += m->kinds[k].ok;
        s->intended += m->kinds[k].intended;
    }
}

static void print_json(const options *o, const summary *s, const phase *m)
{
    printf("{\"scenario\":\"%s\",\"accounts\":%" PRIu64 ",\"batches\":%" PRIu64
           ",\"batch_size\":%" PRIu64 ",\"sync\":%s,\"commit_gather_us\":%" PRIu64
           ",\"history\":%" PRIu64 ",\"seed\":%" PRIu64
           ",\"tx_per_s\":%.1f,\"transfers_per_s\":%.1f,\"apply_cpu_us\":%.3f,\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f,"
           "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"mean_ms\":%.3f,\"setup_per_s\":%.1f,"
           "\"setup_s\":%.2f,\"keygen_s\":%.2f,\"history_per_s\":%.1f,\"rss_mb\":%.1f,"
           "\"state_mb\":%" PRIu64 ",\"db_mb\":%" PRIu64 ",\"checkpoints\":%" PRIu64
           ",\"checkpoint_ms_max\":%" PRIu64 ",\"intended\":%" PRIu64 ",\"ok\":%" PRIu64
           ",\"kinds\":{",
           scenario_names[o->scenario], o->accounts, m->done, o->batch_size,
           o->sync ? "true" : "false", o->gather_us, o->history, o->seed, s->tx_per_s,
           s->transfers_per_s, s->apply_cpu_us, s->p50, s->p99, s->p999, s->max, s->mean,
           s->setup_per_s, s->setup_s, s->keygen_s, s->history_per_s, s->rss_mb, s->state_mb,
           s->db_mb, s->checkpoints, s->checkpoint_ms_max, s->intended, s->ok);
    const char *sep = "";
    for (unsigned k = 1; k < KINDS; k++)
        if (m->kinds[k].intended > 0) {
            printf("%s\"%s\":{\"intended\":%" PRIu64 ",\"ok\":%" PRIu64 "}", sep,
                   ledger_kind_lookup(k)->name, m->kinds[k].intended, m->kinds[k].ok);
            sep = ",";
        }
    printf("},\"warnings\":%u}\n", s->warnings);
}

static void print_human(const options *o, const summary *s, const phase *m)
{
    printf("%s: accounts %" PRIu64 " (set up at %.0f/s), %" PRIu64 " batches of %" PRIu64
           " (%s): %.0f tx/s, %.0f transfers/s; batch p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, "
           "max %.2f ms; %" PRIu64 " of %" PRIu64 " succeeded; state %" PRIu64 " MiB, %" PRIu64
           " checkpoints (longest %" PRIu64 " ms), peak RSS %.0f MiB\n",
           scenario_names[o->scenario], o->accounts, s->setup_per_s, m->done, o->batch_size,
           o->sync ? "fsync" : "no fsync", s->tx_per_s, s->transfers_per_s, s->p50, s->p99, s->p999,
           s->max, s->ok, s->intended, s->state_mb, s->checkpoints, s->checkpoint_ms_max,
           s->rss_mb);
}

/* ---- options and main -------------------------------------------------------------------- */

/* Returns: 0 parsed, 1 --help, 2 a usage error (message on stderr). */
static int parse_options(options *o, int argc, char **argv)
{
    const bench_u64_flag nums[] = {{"--accounts", &o->accounts},
                                   {"--batches", &o->batches},
                                   {"--batch-size", &o->batch_size},
                                   {"--setup-batch", &o->setup_batch},
                                   {"--history", &o->history},
                                   {"--report-every", &o->report_every},
                                   {"--mix-every", &o->mix_every},
                                   {"--seed", &o->seed},
                                   {"--map-mb", &o->map_mb},
                                   {"--checkpoint-ms", &o->checkpoint_ms},
                                   {"--commit-gather-us", &o->gather_us}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int took = bench_u64_flag_take(nums, sizeof nums / sizeof nums[0], a, v);
        if (took < 0) {
            fprintf(stderr, "lstd-bench-ledger: %s needs a whole number\n", a);
            return 2;
        }
        if (took > 0) {
            i++;
        } else if (strcmp(a, "--scenario") == 0 && v) {
            for (o->scenario = 0; o->scenario < SC_COUNT; o->scenario++)
                if (strcmp(v, scenario_names[o->scenario]) == 0)
                    break;
            if (o->scenario == SC_COUNT) {
                fprintf(stderr, "lstd-bench-ledger: unknown scenario %s\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--zipf-s") == 0 && v) {
            char *end;
            o->zipf_s = strtod(v, &end);
            if (*end != '\0' || !(o->zipf_s > 0 && o->zipf_s <= 10)) {
                fprintf(stderr, "lstd-bench-ledger: --zipf-s needs a number in (0, 10]\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--sync") == 0)
            o->sync = true;
        else if (strcmp(a, "--json") == 0)
            o->json = true;
        else if (strcmp(a, "--strict") == 0)
            o->strict = true;
        else if (strcmp(a, "--help") == 0)
            return 1;
        else if (a[0] == '-' || o->dir != NULL) {
            fprintf(stderr, "lstd-bench-ledger: unexpected argument %s (--help)\n", a);
            return 2;
        } else
            o->dir = a;
    }
    if (o->dir == NULL || o->accounts < 2 || o->accounts > UINT32_MAX || o->batch_size == 0 ||
        o->batch_size > 1000000 || o->setup_batch == 0 || o->setup_batch > 1000000 ||
        o->mix_every == 0 || (o->scenario == SC_MIX && o->batch_size < GROUP_TXS)) {
        fputs("lstd-bench-ledger: need DIR, 2 <= accounts < 2^32, 1 <= batch sizes <= 10^6, "
              "--mix-every >= 1 (and mix batches of at least 5)\n",
              stderr);
        return 2;
    }
    return 0;
}

/* Genesis: keys[0] holds the three roles, keys[N+1] is operator 1 (its own fee account). */
static void genesis_config(const bench *b, ledger_genesis *g)
{
    ledger_genesis_defaults(g);
    strcpy(g->ledger_id, "lstd-bench");
    g->timestamp = START_S;
    memcpy(g->admin, b->keys[0], 32);
    memcpy(g->custodian, b->keys[0], 32);
    memcpy(g->treasury, b->keys[0], 32);
    g->operator_count = 1;
    memcpy(g->operators[0].key, b->keys[b->accounts + 1], 32);
    memcpy(g->operators[0].fee_account, b->keys[b->accounts + 1], 32);
    g->operators[0].fee_bps = OPERATOR_FEE_BPS;
}

static int bench_open(bench *b, const options *o)
{
    uint64_t cap = o->batch_size > o->setup_batch ? o->batch_size : o->setup_batch;
    store_db_options so = {.map_size_bytes = o->map_mb << 20,
                           .durability = o->sync ? STORE_SYNC : STORE_NOSYNC,
                           .checkpoint_interval_ms = o->checkpoint_ms,
                           .commit_gather_us = o->gather_us};
    char msg[512];
    ledger_genesis g;
    memset(b, 0, sizeof *b);
    b->opt = o;
    b->accounts = o->accounts;
    b->now = START_S;
    b->rng = o->seed * 0x9e3779b97f4a7c15ull + 88172645463325252ull;
    if (b->rng == 0)
        b->rng = 1;
    b->cap = (size_t)cap;
    b->keys = calloc(o->accounts + 2, 32);
    b->nonces = calloc(o->accounts + 2, sizeof *b->nonces);
    b->txs = calloc(cap, sizeof *b->txs);
    b->hashes = calloc(cap, sizeof *b->hashes);
    b->res = calloc(cap, sizeof *b->res);
    if (!b->keys || !b->nonces || !b->txs || !b->hashes || !b->res) {
        fprintf(stderr, "lstd-bench-ledger: out of memory\n");
        return -1;
    }
    zipf_init(&b->z, o->accounts, o->zipf_s);
    make_keys(b->keys, o->accounts + 2);
    genesis_config(b, &g);
    ledger_tx_hasher_init(&b->hasher, g.ledger_id);
    b->fund_amount = (o->accounts * SETUP_AMOUNT + g.dead_shares) / 2; /* half the buffer */
    int rc = store_db_create(o->dir, &g, &so);
    if (rc == LEDGER_ALREADY_INITIALIZED) {
        fprintf(stderr, "lstd-bench-ledger: %s already holds a ledger\n", o->dir);
        return -1;
    }
    if (rc != 0) {
        fprintf(stderr, "lstd-bench-ledger: cannot create a ledger in %s: %s\n", o->dir,
                ledger_err_name(rc));
        return -1;
    }
    if (store_db_open(&b->store, o->dir, &so, msg, sizeof msg) != 0) {
        fprintf(stderr, "lstd-bench-ledger: cannot open %s: %s\n", o->dir, msg);
        return -1;
    }
    return 0;
}

static void bench_close(bench *b)
{
    store_db_close(&b->store);
    free(b->keys);
    free(b->nonces);
    free(b->txs);
    free(b->hashes);
    free(b->res);
}

static uint64_t file_mb(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (uint64_t)st.st_size >> 20 : 0;
}

/* Setup (keys, genesis, deposits, mix: the operator's funding), history, measurement. */
static int run(bench *b, const options *o, phase *setup, phase *hist, phase *m, summary *s)
{
    static fill_fn *const measure_fill[SC_COUNT] = {fill_transfers, fill_transfers, fill_deposits,
                                                    fill_mix};
    double t0 = bench_now_s();
    if (bench_open(b, o) != 0)
        return -1;
    s->keygen_s = bench_now_s() - t0;
    if (run_phase(b, setup, fill_setup, o->accounts, o->setup_batch) != 0)
        return -1;
    s->setup_per_s = setup->apply_s > 0 ? (double)setup->txs / setup->apply_s : 0;
    if (o->scenario == SC_MIX && run_batch(b, setup, fill_fund, 1) != 0)
        return -1;
    s->setup_s = bench_now_s() - t0;
    if (run_phase(b, hist, fill_transfers, o->history, o->batch_size) != 0)
        return -1;
    s->history_per_s = hist->apply_s > 0 ? (double)hist->txs / hist->apply_s : 0;
    if (run_phase(b, m, measure_fill[o->scenario], o->batches * o->batch_size, o->batch_size) != 0)
        return -1;
    store_db_stats st;
    store_db_stats_get(b->store, &st);
    s->state_mb = (st.state_bytes + st.index_bytes) >> 20;
    s->checkpoints = st.checkpoints;
    s->checkpoint_ms_max = st.checkpoint_ms_max;
    s->db_mb = file_mb(o->dir, "data.mdb");
    return 0;
}

int main(int argc, char **argv)
{
    options o = {.accounts = 10000,
                 .batches = 200,
                 .batch_size = 1000,
                 .setup_batch = 10000,
                 .mix_every = 2000,
                 .seed = 1,
                 .gather_us = STORE_DB_GATHER_US,
                 .zipf_s = 1.0};
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("lstd-bench-ledger %s\n", LSTD_VERSION);
        return 0;
    }
    int prc = parse_options(&o, argc, argv);
    if (prc != 0) {
        fputs(usage_text, prc == 1 ? stdout : stderr);
        return prc == 1 ? 0 : 2;
    }
    bench b;
    phase setup, hist, m;
    summary s = {0};
    uint64_t setup_batches = (o.accounts + o.setup_batch - 1) / o.setup_batch + 1;
    memset(&b, 0, sizeof b);
    int rc = phase_init(&setup, "setup", setup_batches) |
             phase_init(&hist, "history", (o.history + o.batch_size - 1) / o.batch_size) |
             phase_init(&m, "measure", o.batches);
    if (rc == 0)
        rc = run(&b, &o, &setup, &hist, &m, &s);
    bench_close(&b);
    if (rc == 0) {
        phase *phases[] = {&setup, &hist, &m};
        s.warnings = check_success(phases, 3);
        summarize(&s, &m);
        s.rss_mb = bench_rss_mb();
        if (o.json)
            print_json(&o, &s, &m);
        else
            print_human(&o, &s, &m);
    }
    phase *all[] = {&setup, &hist, &m};
    for (int i = 0; i < 3; i++) {
        free(all[i]->lat_ms);
        free(all[i]->start_s);
        free(all[i]->dones);
    }
    return rc != 0 ? 1 : o.strict && s.warnings > 0 ? 3 : 0;
}
