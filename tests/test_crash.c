/* test_crash.c - a ledger process killed mid-batch reopens at a committed batch, intact */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "store_db_internal.h"
#include "store_pages.h"
#include "test_util.h"

#define BATCH_TXS 64

/* Child: apply batches of deposits and transfers forever, reporting each committed next_seq
 * on the pipe only after the batch is durable (store_db_write returned, as a server would
 * acknowledge). */
static void child_run(fixture *f, int fd, uint64_t seed)
{
    test_rng rng;
    ledger_tx txs[BATCH_TXS];
    ledger_result res[BATCH_TXS];
    test_rng_seed(&rng, seed);
    fx_reopen(f);
    for (;;) {
        for (int i = 0; i < BATCH_TXS; i++) {
            int from = FX_USER + (int)test_rng_below(&rng, 8);
            int to = FX_USER + (int)test_rng_below(&rng, 8);
            /* one signer per batch slot keeps nonces consecutive inside the batch */
            if (i % 2 == 0 || fx_account(f, from).shares == 0)
                txs[i] = fx_tx(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, to, FX_NONE, 0,
                               1 + test_rng_below(&rng, 1000000000), 0);
            else
                txs[i] = fx_tx(f, from, LEDGER_TX_TRANSFER, to, FX_NONE, 0, 1, 0);
            for (int j = 0; j < i; j++) /* same signer earlier in this batch: next nonce */
                if (memcmp(txs[j].signer, txs[i].signer, 32) == 0 && txs[j].nonce >= txs[i].nonce)
                    txs[i].nonce = txs[j].nonce + 1;
        }
        fx_submit_batch(f, txs, BATCH_TXS, res);
        f->now++;
        uint64_t seq = fx_chain(f).next_seq;
        if (write(fd, &seq, sizeof seq) != sizeof seq)
            _exit(2);
    }
}

static void one_round(fixture *f, test_rng *rng, int round)
{
    int fds[2];
    uint64_t acked = 0, seq;
    CHECK(pipe(fds) == 0);
    uint64_t child_seed = test_rng_next(rng);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child_run(f, fds[1], child_seed);
        _exit(0);
    }
    close(fds[1]);
    struct timespec d = {0, (long)(50000000 + test_rng_below(rng, 250000000))};
    nanosleep(&d, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    while (read(fds[0], &seq, sizeof seq) == sizeof seq)
        acked = seq;
    close(fds[0]);
    fx_reopen(f);
    ledger_chain c = fx_chain(f);
    printf("round %d: acknowledged next_seq %" PRIu64 ", reopened at %" PRIu64 "\n", round, acked,
           c.next_seq);
    /* nothing acknowledged is lost; at most the batch in flight is added */
    CHECK(c.next_seq >= acked);
    CHECK(c.next_seq <= (acked ? acked : 1) + BATCH_TXS);
    CHECK((c.next_seq - 1) % BATCH_TXS == 0); /* whole batches only */
    fx_check(f);
    store_db_close(&f->store); /* the next child opens its own ledger (store_db_open) */
}

/* A checkpoint half written when the process dies: the next open loads the one before it and
 * replays the log from there, losing nothing acknowledged. The child checkpoints every
 * millisecond with LSTD_FAULT_KILL_IN_CHECKPOINT set, so its first checkpoint kills it. */
static void kill_in_checkpoint(fixture *f, test_rng *rng)
{
    int fds[2], status = 0;
    uint64_t acked = 0, seq;
    CHECK(pipe(fds) == 0);
    uint64_t child_seed = test_rng_next(rng);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        setenv("LSTD_FAULT_KILL_IN_CHECKPOINT", "1", 1);
        f->checkpoint_ms = 1;
        child_run(f, fds[1], child_seed);
        _exit(0);
    }
    close(fds[1]);
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* it died in the checkpoint */
    while (read(fds[0], &seq, sizeof seq) == sizeof seq)
        acked = seq;
    close(fds[0]);
    fx_reopen(f);
    ledger_chain c = fx_chain(f);
    store_db_stats st;
    store_db_stats_get(f->store, &st);
    printf("killed in a checkpoint: acknowledged next_seq %" PRIu64 ", reopened at %" PRIu64
           ", %" PRIu64 " records replayed after the checkpoint before it\n",
           acked, c.next_seq, st.replayed);
    CHECK(c.next_seq >= acked && c.next_seq > 1); /* the checkpoint waited for a durable batch */
    CHECK(st.replayed > 0 && st.checkpoint_seq + st.replayed == c.next_seq);
    fx_check(f);
    store_db_close(&f->store);
}

/* The log cannot grow (a full disk): a batch applied in memory waits, unanswered, while the
 * log thread retries; store_db_shutdown gives it up, answered as failed; later submits are
 * refused; a reopen is at the last durable batch, and with room again the ledger goes on. */
typedef struct wait_done {
    int calls, rc;
} wait_done;

static void on_done(void *ctx, int rc)
{
    wait_done *w = ctx;
    __atomic_store_n(&w->rc, rc, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&w->calls, 1, __ATOMIC_SEQ_CST);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool wait_for(wait_done *w, int calls, unsigned ms)
{
    for (unsigned t = 0; t < ms; t++) {
        if (__atomic_load_n(&w->calls, __ATOMIC_SEQ_CST) >= calls)
            return true;
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
    return false;
}

static void full_log(void)
{
    fixture f;
    ledger_tx txs[32];
    ledger_result res[32];
    static wait_done w[4096];
    fx_open(&f, NULL);
    store_db_close(&f.store);
    f.map_max_bytes = 1u << 20;
    fx_reopen(&f);
    uint64_t durable = fx_chain(&f).next_seq;
    int stuck = -1;
    for (int b = 0; b < 4096 && stuck < 0; b++) {
        for (int i = 0; i < 32; i++)
            txs[i] =
                fx_tx(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, FX_USER + i % 8, FX_NONE, 0, 1000000, 0);
        for (int i = 1; i < 32; i++)
            txs[i].nonce = txs[0].nonce + (uint64_t)i;
        CHECK_CODE(fx_submit_async(&f, txs, 32, res, on_done, &w[b]), 0);
        if (!wait_for(&w[b], 1, 3000))
            stuck = b; /* three seconds and still not durable: the log is full */
        else if (w[b].rc == 0)
            durable = fx_chain(&f).next_seq;
        f.now++;
    }
    printf("full log: batch %d waits (the log retries); durable up to seq %" PRIu64 "\n", stuck,
           durable);
    CHECK(stuck > 0);
    if (stuck > 0) {
        CHECK_U64(__atomic_load_n(&w[stuck].calls, __ATOMIC_SEQ_CST), 0); /* never answered yet */
        store_db_shutdown(f.store);
        CHECK(wait_for(&w[stuck], 1, 5000));
        CHECK(w[stuck].rc != 0); /* given up: answered as failed */
        wait_done later = {0, 0};
        CHECK(fx_submit_async(&f, txs, 1, res, on_done, &later) != 0);
        CHECK(later.calls == 1 && later.rc != 0);
    }
    fx_reopen(&f); /* at the last durable batch */
    CHECK_U64(fx_chain(&f).next_seq, durable);
    fx_check(&f);
    store_db_close(&f.store);
    f.map_max_bytes = 0;
    fx_reopen(&f); /* room again: it goes on */
    ledger_result r = fx_do(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, FX_USER, FX_NONE, 0, 5, 0);
    CHECK_CODE(r.code, LEDGER_OK);
    CHECK_U64(r.seq, durable);
    fx_check(&f);
    fx_close(&f);
}

/* Under load the log thread gathers batches for one commit: a batch after a quiet moment
 * commits alone at once; batches submitted while the gap since that commit lasts share the
 * next commit; a flush does not wait out the gap. No timing is asserted, only commit counts
 * (the gap is far longer than submitting takes), and that the flush did not sit out the gap. */
static void gathering(void)
{
    fixture f;
    ledger_tx txs[1];
    ledger_result res[8];
    wait_done w[8] = {{0}};
    store_db_stats st;
    fx_open(&f, NULL);
    store_db_close(&f.store);
    f.gather_us = 30 * 1000 * 1000; /* 30 s: only the rules below can end a wait */
    fx_reopen(&f);
    store_db_stats_get(f.store, &st);
    uint64_t commits = st.log_commits;
    txs[0] = fx_tx(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, FX_USER, FX_NONE, 0, 1000, 0);
    CHECK_CODE(fx_submit_async(&f, txs, 1, &res[0], on_done, &w[0]), 0);
    CHECK(wait_for(&w[0], 1, 20000)); /* the first after the open: at once, not in 30 s */
    store_db_stats_get(f.store, &st);
    CHECK_U64(st.log_commits, commits + 1);
    for (int i = 1; i < 8; i++) { /* within the gap: gathered */
        txs[0] = fx_tx(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, FX_USER + i, FX_NONE, 0, 1000, 0);
        CHECK_CODE(fx_submit_async(&f, txs, 1, &res[i], on_done, &w[i]), 0);
    }
    CHECK_U64(__atomic_load_n(&w[7].calls, __ATOMIC_SEQ_CST), 0); /* waiting for more */
    uint64_t t0 = now_ms();
    CHECK_CODE(store_db_flush(f.store), 0); /* which ends the wait (not the 30 s gap) */
    CHECK(now_ms() - t0 < 20000);
    store_db_stats_get(f.store, &st);
    CHECK_U64(st.log_commits, commits + 2);
    for (int i = 0; i < 8; i++)
        CHECK(w[i].calls == 1 && w[i].rc == 0 && res[i].code == LEDGER_OK);
    fx_reopen(&f); /* all durable */
    CHECK_U64(fx_chain(&f).next_seq, res[7].seq + 1);
    fx_close(&f);
}

/* The byte j of entry i's value in pass `pass` (and its key bytes, j < 32). */
static uint8_t pattern(uint64_t pass, uint64_t i, uint64_t j)
{
    return (uint8_t)(i * 131 + j * 7 + pass * 29);
}

/* Entry i's value length: mostly small, one larger than a whole chunk. */
static size_t pattern_len(uint64_t i)
{
    return i == 1233 ? STORE_PAGE_BYTES + 4096 : (size_t)(i * 37 % 3000);
}

/* Fill a capture with n entries of pass `pass`; then read every one back in order. */
static void capture_fill_check(capture_part *c, uint64_t pass, uint64_t n)
{
    uint8_t key[32], *val = malloc(STORE_PAGE_BYTES + 4096);
    CHECK(val != NULL);
    for (uint64_t i = 0; i < n; i++) {
        for (unsigned j = 0; j < 32; j++)
            key[j] = pattern(pass, i, j);
        for (size_t j = 0; j < pattern_len(i); j++)
            val[j] = pattern(pass, i, j + 32);
        CHECK(capture_add(c, LEDGER_T_ACCOUNT, key, 32, i % 5 ? val : NULL,
                          i % 5 ? pattern_len(i) : 0)); /* every fifth deleted */
    }
    free(val);
    CHECK_U64(c->count, n);
    uint64_t i = 0, bad = 0;
    for (const chunk *k = c->first; k != NULL; k = k->next)
        for (size_t at = 0; at < k->len && i < n; i++) {
            const uint8_t *p = k->data + at, *e = p + 2 + p[1];
            size_t len = (size_t)e[1] << 24 | (size_t)e[2] << 16 | (size_t)e[3] << 8 | e[4];
            bad += p[0] != LEDGER_T_ACCOUNT || p[1] != 32 || e[0] != (i % 5 != 0) ||
                   len != (i % 5 ? pattern_len(i) : 0);
            for (unsigned j = 0; j < 32; j++)
                bad += p[2 + j] != pattern(pass, i, j);
            for (size_t j = 0; e[0] && j < len; j++)
                bad += e[5 + j] != pattern(pass, i, j + 32);
            at += 7 + p[1] + len;
        }
    CHECK_U64(i, n);
    CHECK_U64(bad, 0);
}

/* A capture's entries span chunks (one bigger than a chunk gets its own) and read back
 * whole; recycled, the next capture fills the same chunks first and reads back its own. */
static void capture_chunks(void)
{
    capture *c = calloc(1, sizeof *c);
    CHECK(c != NULL);
    capture_fill_check(&c->run, 1, 3000);
    unsigned chunks = 0;
    for (const chunk *k = c->run.first; k != NULL; k = k->next)
        chunks++;
    CHECK(chunks >= 3);
    const chunk *was_first = c->run.first;
    capture *d = calloc(1, sizeof *d);
    CHECK(d != NULL);
    d->run.reuse = capture_recycle(c);
    capture_fill_check(&d->run, 2, 2000);
    CHECK(d->run.first == was_first); /* reused, not mapped anew */
    capture_free(d);
}

/* Checkpoints every millisecond, so each capture fills the chunks of the one written before
 * it: the checkpoint they add up to must hold the whole state (the open recomputes its digest
 * and would rebuild from the log otherwise). */
static void checkpoints_reuse(void)
{
    fixture f;
    ledger_tx txs[BATCH_TXS];
    ledger_result res[BATCH_TXS];
    store_db_stats st;
    fx_open(&f, NULL);
    store_db_close(&f.store);
    f.checkpoint_ms = 1;
    fx_reopen(&f);
    for (int b = 0; b < 60; b++) {
        for (int i = 0; i < BATCH_TXS; i++) /* unique deposit refs: new entries each batch */
            txs[i] = fx_tx(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, FX_USER + (b + i) % 8, FX_NONE, 0,
                           1000 + (uint64_t)i, 0);
        for (int i = 1; i < BATCH_TXS; i++)
            txs[i].nonce = txs[i - 1].nonce + 1;
        fx_submit_batch(&f, txs, BATCH_TXS, res);
        for (int i = 0; i < BATCH_TXS; i++)
            CHECK_CODE(res[i].code, LEDGER_OK);
        f.now++;
        struct timespec d = {0, 2000000};
        nanosleep(&d, NULL);
    }
    store_db_stats_get(f.store, &st);
    printf("checkpoints reusing chunks: %" PRIu64 " written\n", st.checkpoints);
    CHECK(st.checkpoints >= 5);
    fx_reopen(&f);
    store_db_stats_get(f.store, &st);
    CHECK(!st.rebuilt);
    CHECK_U64(st.replayed, 0);
    fx_check(&f);
    fx_close(&f);
}

int main(void)
{
    fixture f;
    test_rng rng;
    test_rng_seed(&rng, test_seed());
    uint64_t rounds = test_env_u64("LSTD_CRASH_ROUNDS", 5);
    fx_open(&f, NULL);
    /* neither LMDB environments nor the store's log and checkpoint threads may cross fork():
     * close it here, each child opens its own with store_db_open (fx_reopen) */
    store_db_close(&f.store);
    for (uint64_t i = 0; i < rounds; i++)
        one_round(&f, &rng, (int)i);
    kill_in_checkpoint(&f, &rng);
    fx_reopen(&f);
    fx_close(&f);
    full_log();
    gathering();
    capture_chunks();
    checkpoints_reuse();
    return test_finish("test_crash");
}
