/* test_store_crash.c - kill a writing process at random moments; batches stay all-or-nothing */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger_error.h"
#include "store_lmdb.h"
#include "test_util.h"

#define RECORDS_PER_BATCH 8u
#define KEY_LEN 12u                /* be64 batch, be32 index */
#define VALUE_HEAD 16u             /* be64 batch, be32 index, be32 payload length */
#define PAYLOAD_MAX 3000u          /* some values take LMDB overflow pages */
#define CHILD_BATCHES_MAX 1000000u /* a child whose parent vanished stops eventually */
#define KILL_DELAY_MS_MAX 120u     /* after the child reports it is writing */
#define START_WAIT_MS_MAX 10000u

static const uint8_t counter_key[1] = {1};

/* Written by the child, read by the parent: a MAP_SHARED page survives the SIGKILL. */
typedef struct shared_state {
    atomic_uint_fast64_t acked; /* last batch whose commit returned 0; UINT64_MAX: none yet */
    atomic_bool started;        /* the child has opened the store and begins writing */
} shared_state;

static void put_be(uint8_t *out, uint64_t x, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        out[i] = (uint8_t)(x >> (8 * (bytes - 1 - i)));
}

static uint64_t get_be(const uint8_t *in, unsigned bytes)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < bytes; i++)
        x = x << 8 | in[i];
    return x;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* The one value record (batch, index) may hold. Returns: its length. */
static size_t record_value(uint8_t *out, uint64_t batch, uint32_t index)
{
    uint64_t h = mix(batch * RECORDS_PER_BATCH + index);
    uint32_t payload = (uint32_t)(h % 400);
    if (index == 0 && batch % 5 == 0)
        payload = PAYLOAD_MAX;
    put_be(out, batch, 8);
    put_be(out + 8, index, 4);
    put_be(out + 12, payload, 4);
    for (uint32_t j = 0; j < payload; j++)
        out[VALUE_HEAD + j] = (uint8_t)(h >> (8 * (j % 8))) ^ (uint8_t)j;
    put_be(out + VALUE_HEAD + payload, fnv1a(out, VALUE_HEAD + payload), 8);
    return VALUE_HEAD + payload + 8;
}

static int batch_fn(void *ctx, ledger_store *v)
{
    uint64_t batch = *(const uint64_t *)ctx;
    uint8_t key[KEY_LEN], val[VALUE_HEAD + PAYLOAD_MAX + 8], ctr[8];
    for (uint32_t i = 0; i < RECORDS_PER_BATCH; i++) {
        put_be(key, batch, 8);
        put_be(key + 8, i, 4);
        size_t len = record_value(val, batch, i);
        int rc = v->put(v->self, LEDGER_T_HISTORY, key, sizeof key, val, len);
        if (rc != 0)
            return rc;
    }
    put_be(ctr, batch, 8);
    return v->put(v->self, LEDGER_T_META, counter_key, sizeof counter_key, ctr, sizeof ctr);
}

/* Returns: 0 and *batch (0 when no batch committed yet), or a store code. */
static int counter_read(ledger_store *v, uint64_t *batch)
{
    const uint8_t *val;
    size_t len;
    int rc = v->get(v->self, LEDGER_T_META, counter_key, sizeof counter_key, &val, &len);
    *batch = 0;
    if (rc == LEDGER_STORE_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (len != 8)
        return LEDGER_STORE_CORRUPT;
    *batch = get_be(val, 8);
    return 0;
}

static store_options store_opts(int durability, bool read_only)
{
    /* A small map, so children also get killed while growing it. */
    return (store_options){
        .map_size_bytes = 512 * 1024, .durability = durability, .read_only = read_only};
}

/* The child: continue from the stored counter, one batch after another, until killed. */
static _Noreturn void child_main(const char *dir, int durability, shared_state *sh)
{
    store_lmdb *s = NULL;
    store_txn *txn;
    ledger_store v;
    uint64_t batch;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    store_options opt = store_opts(durability, false);
    if (store_lmdb_open(&s, dir, &opt) != 0 || store_lmdb_begin(s, false, &txn, &v) != 0)
        _exit(2);
    int rc = counter_read(&v, &batch);
    store_lmdb_abort(&txn);
    if (rc != 0)
        _exit(3);
    atomic_store(&sh->acked, batch);
    atomic_store(&sh->started, true);
    for (uint64_t end = batch + CHILD_BATCHES_MAX; batch < end;) {
        uint64_t next = batch + 1;
        if (store_lmdb_write(s, batch_fn, &next) != 0)
            _exit(4);
        batch = next;
        atomic_store(&sh->acked, batch);
        /* A short snapshot between batches: some kills leave a stale reader slot. */
        if (store_lmdb_begin(s, false, &txn, &v) != 0 || counter_read(&v, &next) != 0 ||
            next != batch)
            _exit(5);
        store_lmdb_abort(&txn);
    }
    _exit(0);
}

/* Check one record against the record (batch, index) must be. Returns: true if intact. */
static bool record_ok(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len,
                      uint64_t batch, uint32_t index)
{
    uint8_t want[VALUE_HEAD + PAYLOAD_MAX + 8];
    if (key_len != KEY_LEN || get_be(key, 8) != batch || get_be(key + 8, 4) != index)
        return false;
    if (val_len < VALUE_HEAD + 8 || fnv1a(val, val_len - 8) != get_be(val + val_len - 8, 8))
        return false; /* the checksum alone catches a torn value */
    size_t want_len = record_value(want, batch, index);
    return val_len == want_len && memcmp(val, want, want_len) == 0;
}

/* Scan the history table: exactly the records of batches 1..k, in order, all intact.
 * Returns: k, or UINT64_MAX after reporting a failure. */
static uint64_t verify(ledger_store *v)
{
    uint64_t k;
    CHECK_CODE(counter_read(v, &k), 0);
    const uint8_t *key = NULL, *val;
    size_t key_len = 0, val_len;
    uint8_t prev[KEY_LEN];
    for (uint64_t batch = 1; batch <= k + 1; batch++) {
        for (uint32_t i = 0; i < RECORDS_PER_BATCH; i++) {
            int rc =
                v->next(v->self, LEDGER_T_HISTORY, key, key_len, &key, &key_len, &val, &val_len);
            if (batch == k + 1) { /* nothing of the batch after the counter, nor later */
                CHECK_CODE(rc, LEDGER_STORE_NOTFOUND);
                return rc == LEDGER_STORE_NOTFOUND ? k : UINT64_MAX;
            }
            if (rc != 0 || !record_ok(key, key_len, val, val_len, batch, i)) {
                fprintf(stderr, "record %u of batch %" PRIu64 " (counter %" PRIu64 "): %s\n", i,
                        batch, k, rc != 0 ? "missing" : "wrong or torn");
                test_failures++;
                return UINT64_MAX;
            }
            memcpy(prev, key, KEY_LEN);
            key = prev;
        }
    }
    return UINT64_MAX; /* not reached */
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* One round: start a child, kill it, reopen and verify. Returns: the counter found. */
static uint64_t crash_round(const char *dir, int durability, uint64_t prev, test_rng *rng,
                            shared_state *sh, bool read_only_check)
{
    atomic_store(&sh->acked, UINT64_MAX);
    atomic_store(&sh->started, false);
    bool early = test_rng_below(rng, 4) == 0; /* kill during open, or right after */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        abort();
    }
    if (pid == 0)
        child_main(dir, durability, sh);
    if (early) {
        sleep_ms(test_rng_below(rng, 4));
    } else {
        for (unsigned ms = 0; ms < START_WAIT_MS_MAX && !atomic_load(&sh->started); ms++)
            sleep_ms(1);
        CHECK(atomic_load(&sh->started));
        sleep_ms(test_rng_below(rng, KILL_DELAY_MS_MAX + 1));
    }
    kill(pid, SIGKILL);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* not an early exit */
    uint64_t acked = atomic_load(&sh->acked);

    store_lmdb *s = NULL;
    store_txn *txn;
    ledger_store v;
    store_options opt = store_opts(durability, read_only_check);
    uint64_t k = UINT64_MAX;
    CHECK_CODE(store_lmdb_open(&s, dir, &opt), 0);
    if (s != NULL) {
        CHECK_CODE(store_lmdb_begin(s, false, &txn, &v), 0);
        if (txn != NULL) {
            k = verify(&v);
            store_lmdb_abort(&txn);
        }
        store_lmdb_close(&s);
    }
    if (acked == UINT64_MAX) { /* killed before it wrote anything */
        CHECK_U64(k, prev);
    } else { /* every acknowledged commit survived; at most one more made it */
        CHECK(k != UINT64_MAX && k >= acked && k <= acked + 1);
    }
    printf("  %s round: counter %" PRIu64 " (acked %" PRId64 ")\n",
           durability == STORE_SYNC ? "sync" : "nosync", k,
           acked == UINT64_MAX ? -1 : (int64_t)acked);
    return k;
}

int main(void)
{
    test_rng rng;
    test_rng_seed(&rng, test_seed());
    uint64_t rounds = test_env_u64("LSTD_CRASH_ROUNDS", 5);
    shared_state *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (int durability = STORE_SYNC; durability <= STORE_NOSYNC; durability++) {
        char *dir = test_tmpdir("lstd-store-crash");
        uint64_t k = 0;
        for (uint64_t r = 0; r < rounds && k != UINT64_MAX; r++)
            k = crash_round(dir, durability, k, &rng, sh, r % 2 == 1);
        CHECK(k != UINT64_MAX);
        test_rmtree(dir);
        free(dir);
    }
    munmap(sh, sizeof *sh);
    return test_finish("test_store_crash");
}
