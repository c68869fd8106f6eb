/* test_crash.c - a ledger process killed mid-batch reopens at a committed batch, intact */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
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
    return test_finish("test_crash");
}
