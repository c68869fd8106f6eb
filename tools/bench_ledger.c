/* bench_ledger.c - lstd-bench-ledger: transfers/s through the state machine and LMDB store */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "ledger.h"
#include "store_lmdb.h"

static void usage(void)
{
    puts("usage: lstd-bench-ledger [--accounts N] [--batches N] [--batch-size N] [--sync] DIR\n"
         "\n"
         "Creates a fresh ledger in DIR (which must not hold one), deposits to N accounts, then\n"
         "applies batches of transfers between random accounts, one LMDB write transaction per\n"
         "batch, and prints transfers per second and the mean batch commit latency. Signatures\n"
         "are not verified and transaction hashes are computed before timing (the service's\n"
         "verifiers do both before the ledger), so this measures the state machine and storage\n"
         "alone. --sync fsyncs every commit (default: no fsync).\n"
         "Defaults: --accounts 10000 --batches 200 --batch-size 1000.");
}

typedef struct bench {
    uint8_t (*keys)[32];
    uint64_t *nonces;
    uint64_t accounts, now, rng;
    ledger_tx *txs;
    uint8_t (*hashes)[LEDGER_HASH_SIZE]; /* computed as the service's verifiers do, untimed */
    ledger_tx_hasher hasher;
    size_t n;
    uint64_t ok, ok_batch;
} bench;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int apply_fn(void *ctx, ledger_store *view)
{
    bench *b = ctx;
    static const uint8_t sig[LEDGER_SIG_SIZE];
    ledger_batch batch;
    ledger_result res;
    int rc = ledger_batch_begin(&batch, view, b->now);
    b->ok_batch = 0; /* the store may run this again after growing its map */
    for (size_t i = 0; rc == LEDGER_OK && i < b->n; i++) {
        rc = ledger_apply(&batch, &b->txs[i], b->hashes[i], sig, &res);
        b->ok_batch += res.code == LEDGER_OK;
    }
    return rc == LEDGER_OK ? ledger_batch_end(&batch) : rc;
}

static int genesis_fn(void *ctx, ledger_store *view)
{
    return ledger_genesis_apply(view, ctx);
}

static void make_keys(bench *b, ledger_genesis *g)
{
    uint8_t sk[32];
    for (uint64_t i = 0; i < b->accounts + 1; i++) {
        uint8_t seed[8];
        for (int j = 0; j < 8; j++)
            seed[j] = (uint8_t)(i >> (8 * j));
        crypto_tagged_hash(sk, "bench", 5, seed, 8);
        if (crypto_pubkey(b->keys[i], sk) != 0)
            exit(1);
    }
    ledger_genesis_defaults(g);
    strcpy(g->ledger_id, "lstd-bench");
    memcpy(g->admin, b->keys[0], 32);
    memcpy(g->custodian, b->keys[0], 32);
    memcpy(g->treasury, b->keys[0], 32);
}

/* Fill b->txs with deposits (custodian = keys[0]) or transfers. */
static void fill(bench *b, size_t first, bool deposits)
{
    for (size_t i = 0; i < b->n; i++) {
        ledger_tx *t = &b->txs[i];
        uint64_t from = deposits ? 0 : 1 + next_rand(&b->rng) % b->accounts;
        uint64_t to =
            deposits ? 1 + (first + i) % b->accounts : 1 + next_rand(&b->rng) % b->accounts;
        memset(t, 0, sizeof *t);
        t->kind = deposits ? LEDGER_TX_DEPOSIT : LEDGER_TX_TRANSFER;
        memcpy(t->signer, b->keys[from], 32);
        t->nonce = ++b->nonces[from];
        memcpy(t->account, b->keys[to], 32);
        t->amount = deposits ? 1000000000 : 1 + next_rand(&b->rng) % 1000;
        memcpy(t->ref, &first, sizeof first);
        memcpy(t->ref + 8, &i, sizeof i);
        if (ledger_tx_hash_with(b->hashes[i], &b->hasher, t) != LEDGER_OK)
            exit(1);
    }
}

int main(int argc, char **argv)
{
    uint64_t batches = 200, batch_size = 1000, accounts = 10000;
    store_options opt = {.durability = STORE_NOSYNC};
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--accounts") == 0 && i + 1 < argc)
            accounts = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
            batches = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--batch-size") == 0 && i + 1 < argc)
            batch_size = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--sync") == 0)
            opt.durability = STORE_SYNC;
        else if (argv[i][0] == '-') {
            usage();
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        } else
            dir = argv[i];
    }
    if (dir == NULL || accounts == 0 || batch_size == 0) {
        usage();
        return 2;
    }
    bench b = {.accounts = accounts, .now = 1000000, .rng = 88172645463325252ull};
    b.keys = calloc(accounts + 1, 32);
    b.nonces = calloc(accounts + 1, sizeof *b.nonces);
    b.txs = calloc(batch_size, sizeof *b.txs);
    b.hashes = calloc(batch_size, sizeof *b.hashes);
    store_lmdb *s;
    ledger_genesis g;
    if (!b.keys || !b.nonces || !b.txs || !b.hashes || store_lmdb_open(&s, dir, &opt) != 0)
        return 1;
    make_keys(&b, &g);
    ledger_tx_hasher_init(&b.hasher, g.ledger_id);
    if (store_lmdb_write(s, genesis_fn, &g) != 0) {
        fprintf(stderr, "lstd-bench-ledger: %s already holds a ledger (or cannot write)\n", dir);
        return 1;
    }
    for (uint64_t done = 0; done < accounts; done += b.n) {
        b.n = accounts - done < batch_size ? accounts - done : batch_size;
        fill(&b, done, true);
        if (store_lmdb_write(s, apply_fn, &b) != 0)
            return 1;
    }
    b.n = batch_size;
    b.ok = 0;
    double t = 0; /* the batches' apply and commit only, not filling them */
    for (uint64_t i = 0; i < batches; i++) {
        fill(&b, 0, false);
        b.now++;
        double t0 = now_s();
        if (store_lmdb_write(s, apply_fn, &b) != 0)
            return 1;
        t += now_s() - t0;
        b.ok += b.ok_batch;
    }
    uint64_t total = batches * batch_size;
    printf("accounts %" PRIu64 ", %" PRIu64 " batches of %" PRIu64 " transfers (%s): %.0f "
           "transfers/s, %.2f ms per batch, %" PRIu64 " succeeded, map %" PRIu64 " MiB\n",
           accounts, batches, batch_size, opt.durability == STORE_SYNC ? "fsync" : "no fsync",
           (double)total / t, t * 1000 / (double)batches, b.ok, store_lmdb_map_size(s) >> 20);
    store_lmdb_close(&s);
    free(b.keys);
    free(b.nonces);
    free(b.txs);
    free(b.hashes);
    return 0;
}
