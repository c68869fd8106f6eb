/* fixture.c - test harness: a durable ledger (store_db), signed submission in batches, snapshot
 * reads */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "test_util.h"

static void die(const char *what, int rc)
{
    fprintf(stderr, "fixture: %s failed: %s (%d)\n", what, ledger_err_name(rc), rc);
    abort();
}

static void keys_make(fixture *f)
{
    /* deterministic keys: secret = tagged hash of the slot number (valid with overwhelming
     * probability; crypto_pubkey confirms) */
    for (int i = 0; i < FX_KEYS; i++) {
        uint8_t slot = (uint8_t)i;
        crypto_tagged_hash(f->sk[i], "lstd/test/key", 13, &slot, 1);
        if (crypto_pubkey(f->pk[i], f->sk[i]) != 0)
            die("crypto_pubkey", -1);
    }
}

static void db_open(fixture *f)
{
    store_db_options opt = {.durability = STORE_NOSYNC,
                            .seed = 1,
                            .checkpoint_interval_ms = f->checkpoint_ms,
                            .map_size_bytes = f->map_max_bytes,
                            .map_size_max_bytes = f->map_max_bytes,
                            .commit_gather_us = f->gather_us};
    char msg[256];
    int rc = store_db_open(&f->store, f->dir, &opt, msg, sizeof msg);
    if (rc != 0) {
        fprintf(stderr, "fixture: open: %s\n", msg);
        die("store_db_open", rc);
    }
}

void fx_open(fixture *f, void (*tweak)(ledger_genesis *g))
{
    memset(f, 0, sizeof *f);
    keys_make(f);
    f->dir = test_tmpdir("lstd-fx");
    f->now = 1000000;
    ledger_genesis *g = &f->genesis;
    ledger_genesis_defaults(g);
    strcpy(g->ledger_id, "lstd-test");
    g->timestamp = f->now;
    memcpy(g->admin, f->pk[FX_ADMIN], 32);
    memcpy(g->custodian, f->pk[FX_CUSTODIAN], 32);
    memcpy(g->treasury, f->pk[FX_TREASURY], 32);
    g->operator_count = 1;
    memcpy(g->operators[0].key, f->pk[FX_OPERATOR], 32);
    memcpy(g->operators[0].fee_account, f->pk[FX_OPFEE], 32);
    g->operators[0].fee_bps = 500;
    if (tweak)
        tweak(g);
    store_db_options opt = {.durability = STORE_NOSYNC};
    int rc = store_db_create(f->dir, g, &opt);
    if (rc != 0)
        die("genesis", rc);
    db_open(f);
}

void fx_reopen(fixture *f)
{
    store_db_close(&f->store);
    db_open(f);
}

void fx_close(fixture *f)
{
    store_db_close(&f->store);
    test_rmtree(f->dir);
    free(f->dir);
    f->dir = NULL;
}

#define FX_READ(name, type, call)                                                                  \
    type fx_##name(fixture *f FX_ARGS)                                                             \
    {                                                                                              \
        ledger_store v = *store_db_view(f->store);                                                 \
        type out;                                                                                  \
        memset(&out, 0, sizeof out);                                                               \
        int rc = call;                                                                             \
        if (rc != LEDGER_OK)                                                                       \
            die(#name, rc);                                                                        \
        return out;                                                                                \
    }

#define FX_ARGS
FX_READ(pool, ledger_pool, ledger_read_pool(&v, &out))
FX_READ(chain, ledger_chain, ledger_read_chain(&v, &out))
#undef FX_ARGS
#define FX_ARGS , int slot
FX_READ(account, ledger_account, ledger_read_account(&v, f->pk[slot], &out))
#undef FX_ARGS
#define FX_ARGS , uint64_t id
FX_READ(operator, ledger_operator, ledger_read_operator(&v, id, &out))
FX_READ(withdrawal, ledger_withdrawal, ledger_read_withdrawal(&v, id, &out))
#undef FX_ARGS

ledger_tx fx_tx(fixture *f, int signer, unsigned kind, int account, int account2, uint64_t id,
                uint64_t amount, uint64_t limit)
{
    ledger_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.kind = (uint8_t)kind;
    memcpy(tx.signer, f->pk[signer], 32);
    tx.nonce = fx_account(f, signer).nonce + 1;
    if (account != FX_NONE)
        memcpy(tx.account, f->pk[account], 32);
    if (account2 != FX_NONE)
        memcpy(tx.account2, f->pk[account2], 32);
    tx.id = id;
    tx.amount = amount;
    tx.limit = limit;
    uint64_t r = ++f->ref_seq;
    for (int i = 0; i < 8; i++)
        tx.ref[24 + i] = (uint8_t)(r >> (56 - 8 * i));
    return tx;
}

void fx_sign(fixture *f, const ledger_tx *tx, uint8_t sig[LEDGER_SIG_SIZE])
{
    uint8_t hash[32];
    int slot = -1;
    for (int i = 0; i < FX_KEYS; i++)
        if (memcmp(f->pk[i], tx->signer, 32) == 0)
            slot = i;
    if (slot < 0 || ledger_tx_hash(hash, f->genesis.ledger_id, tx) != LEDGER_OK ||
        crypto_sign(sig, hash, f->sk[slot]) != 0)
        die("sign", -1);
    if (!crypto_verify(sig, hash, tx->signer))
        die("verify", -1);
}

typedef struct batch_job {
    fixture *f;
    const ledger_tx *txs;
    const uint8_t (*sigs)[LEDGER_SIG_SIZE];
    size_t n;
    ledger_result *res;
} batch_job;

static int batch_fn(void *ctx, ledger_store *view)
{
    batch_job *j = ctx;
    ledger_batch b;
    int rc = ledger_batch_begin(&b, view, j->f->now);
    for (size_t i = 0; rc == LEDGER_OK && i < j->n; i++)
        rc = ledger_apply(&b, &j->txs[i], NULL, j->sigs[i], &j->res[i]);
    return rc == LEDGER_OK ? ledger_batch_end(&b) : rc;
}

/* Sign the n transactions and run them as one batch: waiting until it is durable, or not
 * (done then says when). Returns: the store's code. */
static int submit_signed(fixture *f, const ledger_tx *txs, size_t n, ledger_result *res,
                         store_db_done_fn done, void *ctx, bool wait)
{
    uint8_t(*sigs)[LEDGER_SIG_SIZE] = malloc(n * LEDGER_SIG_SIZE + 1);
    if (sigs == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        fx_sign(f, &txs[i], sigs[i]);
    batch_job j = {f, txs, (const uint8_t(*)[LEDGER_SIG_SIZE])sigs, n, res};
    int rc = wait ? store_db_write(f->store, batch_fn, &j)
                  : store_db_submit(f->store, batch_fn, &j, done, ctx); /* applied on return */
    free(sigs);
    return rc;
}

void fx_submit_batch(fixture *f, const ledger_tx *txs, size_t n, ledger_result *res)
{
    int rc = submit_signed(f, txs, n, res, NULL, NULL, true);
    if (rc != 0)
        die("batch", rc);
}

int fx_submit_async(fixture *f, const ledger_tx *txs, size_t n, ledger_result *res,
                    store_db_done_fn done, void *ctx)
{
    return submit_signed(f, txs, n, res, done, ctx, false);
}

ledger_result fx_submit(fixture *f, const ledger_tx *tx)
{
    ledger_result res;
    fx_submit_batch(f, tx, 1, &res);
    return res;
}

ledger_result fx_do(fixture *f, int signer, unsigned kind, int account, int account2, uint64_t id,
                    uint64_t amount, uint64_t limit)
{
    ledger_tx tx = fx_tx(f, signer, kind, account, account2, id, amount, limit);
    return fx_submit(f, &tx);
}

void fx_check(fixture *f)
{
    char msg[256];
    int rc = ledger_check(store_db_view(f->store), msg, sizeof msg);
    if (rc != LEDGER_OK) {
        fprintf(stderr, "ledger_check: %s: %s\n", ledger_err_name(rc), msg);
        test_failures++;
    }
}

void fx_build_history(fixture *f)
{
    enum { U = FX_USER };
    fx_do(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, U, FX_NONE, 0, 5000000000, 0);
    fx_do(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, U + 1, FX_NONE, 0, 3000000000, 0);
    fx_do(f, U, LEDGER_TX_TRANSFER, U + 2, FX_NONE, 0, 777, 0);
    fx_do(f, U + 2, LEDGER_TX_TRANSFER, U, FX_NONE, 0, 778, 0); /* rejected */
    fx_do(f, U, LEDGER_TX_APPROVE, U + 3, FX_NONE, 0, 1000, 0);
    fx_do(f, U + 3, LEDGER_TX_TRANSFER_FROM, U, U + 4, 0, 600, 0);
    fx_do(f, U + 1, LEDGER_TX_LOCK, U + 5, FX_NONE, 0, 100000, f->now + 3600);
    fx_do(f, U + 5, LEDGER_TX_SEIZE, U + 6, FX_NONE, 1, 40000, 0);
    fx_do(f, U + 5, LEDGER_TX_RELEASE, FX_NONE, FX_NONE, 1, 10000, 0);
    fx_do(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 4000000000, 0);
    f->now += 7 * 86400;
    fx_do(f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, 4000500000, 1575);
    f->now += 384;
    fx_do(f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, 3000000000, 1576); /* held */
    fx_do(f, FX_ADMIN, LEDGER_TX_REPORT_ACCEPT, FX_NONE, FX_NONE, 1, 3000000000, 1576);
    fx_do(f, U, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 1000000, 0);
    fx_do(f, U + 1, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 2000000, 0);
    fx_do(f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 0, 2, 0);
    fx_do(f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 2, 0, 0);
    fx_do(f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_SETTLE, FX_NONE, FX_NONE, 1, 0, 0);
    fx_do(f, FX_ADMIN, LEDGER_TX_FEE_SET, FX_NONE, FX_NONE, 1, 800, 0);
    fx_do(f, FX_ADMIN, LEDGER_TX_PARAM_SET, FX_NONE, FX_NONE, LEDGER_PARAM_STAKE_LIMIT_MAX,
          1000000000000, 0);
    /* one batch of several transactions, including a duplicate and a nonce gap */
    ledger_tx txs[5];
    ledger_result res[5];
    txs[0] = fx_tx(f, U + 4, LEDGER_TX_TRANSFER, U, FX_NONE, 0, 100, 0);
    txs[1] = txs[0];
    txs[2] = fx_tx(f, U + 6, LEDGER_TX_TRANSFER, U, FX_NONE, 0, 5, 0);
    txs[3] = fx_tx(f, U + 6, LEDGER_TX_TRANSFER, U, FX_NONE, 0, 6, 0);
    txs[3].nonce = txs[2].nonce + 1;
    txs[4] = fx_tx(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, U + 7, FX_NONE, 0, 123456789, 0);
    fx_submit_batch(f, txs, 5, res);
    CHECK(res[1].duplicate);
    CHECK_CODE(res[3].code, LEDGER_OK);
    /* the oracle committee: three members, quorum 2, booking one report (one member dissents,
     * one is ahead); then operator reports again, the committee and the pending vote kept */
    fx_do(f, FX_ADMIN, LEDGER_TX_ORACLE_ADD, U + 8, FX_NONE, 0, 1, 0);
    fx_do(f, FX_ADMIN, LEDGER_TX_ORACLE_ADD, U + 9, FX_NONE, 0, 2, 0);
    fx_do(f, FX_ADMIN, LEDGER_TX_ORACLE_ADD, U + 10, FX_NONE, 0, 2, 0);
    fx_do(f, FX_ADMIN, LEDGER_TX_QUORUM_SET, FX_NONE, FX_NONE, LEDGER_REPORT_MODE_COMMITTEE, 2, 0);
    f->now += 384;
    static const struct {
        int member;
        uint64_t epoch, balance, perf;
    } votes[] = {{U + 8, 1577, 3000003000, 9950},
                 {U + 9, 1577, 3000003001, 9950},
                 {U + 10, 1577, 3000003000, 9950},
                 {U + 9, 1578, 3000003000, 9990}};
    for (size_t i = 0; i < sizeof votes / sizeof votes[0]; i++) {
        ledger_tx v = fx_tx(f, votes[i].member, LEDGER_TX_VOTE, FX_NONE, FX_NONE, 1,
                            votes[i].balance, votes[i].epoch);
        v.extra = votes[i].perf;
        CHECK_CODE(fx_submit(f, &v).code, LEDGER_OK);
    }
    fx_do(f, FX_ADMIN, LEDGER_TX_QUORUM_SET, FX_NONE, FX_NONE, LEDGER_REPORT_MODE_OPERATOR, 2, 0);
}

static int damage_fn(void *ctx, ledger_store *v)
{
    const fx_damage *d = ctx;
    const uint8_t *val;
    size_t n;
    uint8_t copy[LEDGER_VALUE_MAX];
    int rc = v->get(v->self, d->table, d->key, d->key_len, &val, &n);
    if (rc != 0 || d->byte >= n)
        return rc != 0 ? rc : LEDGER_STORE_CORRUPT;
    memcpy(copy, val, n);
    copy[d->byte] ^= 0x01;
    return v->put(v->self, d->table, d->key, d->key_len, copy, n);
}

int fx_damage_env(const char *env_dir, const fx_damage *d)
{
    store_lmdb *s;
    int rc = store_lmdb_open(&s, env_dir, NULL);
    if (rc == 0) {
        rc = store_lmdb_write(s, damage_fn, (void *)d);
        store_lmdb_close(&s);
    }
    return rc;
}

void fx_random_tx(ledger_tx *tx, unsigned kind, test_rng *r)
{
    const ledger_kind_info *k = ledger_kind_lookup(kind);
    memset(tx, 0, sizeof *tx);
    tx->kind = (uint8_t)kind;
    test_rng_fill(r, tx->signer, sizeof tx->signer);
    tx->nonce = test_rng_next(r);
    for (unsigned i = 0; i < k->field_count; i++) {
        void *p = ledger_tx_slot(tx, k->fields[i].slot);
        if (k->fields[i].type == LEDGER_F_U64) {
            uint64_t v = test_rng_next(r), pick = test_rng_below(r, 4);
            v = pick == 0 ? 0 : pick == 1 ? UINT64_MAX : v;
            memcpy(p, &v, sizeof v);
        } else {
            test_rng_fill(r, p, 32);
        }
    }
}

void fx_same_books(fixture *a, fixture *b)
{
    ledger_pool pa = fx_pool(a), pb = fx_pool(b);
    pa.report_mode = pb.report_mode = pa.oracle_members = pb.oracle_members = 0;
    pa.oracle_quorum = pb.oracle_quorum = pa.oracle_minority = pb.oracle_minority = 0;
    CHECK(memcmp(&pa, &pb, sizeof pa) == 0);
    ledger_operator oa = fx_operator(a, 1), ob = fx_operator(b, 1);
    oa.held_performance_bps = ob.held_performance_bps = 0;
    CHECK(memcmp(&oa, &ob, sizeof oa) == 0);
    CHECK_U64(fx_account(b, FX_TREASURY).shares, fx_account(a, FX_TREASURY).shares);
    CHECK_U64(fx_account(b, FX_OPFEE).shares, fx_account(a, FX_OPFEE).shares);
}

void fx_codes_reached(const bool seen[900], bool (*wanted)(int code))
{
    static const struct {
        int code;
        const char *name;
    } codes[] = {
#define CODE_ENTRY(name, num, msg) {num, #name},
        LEDGER_ERRORS(CODE_ENTRY)
#undef CODE_ENTRY
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (codes[i].code < 0 || codes[i].code >= 900 || !wanted(codes[i].code) ||
            seen[codes[i].code])
            continue;
        fprintf(stderr, "result code %s (%d) was never reached\n", codes[i].name, codes[i].code);
        test_failures++;
    }
}
