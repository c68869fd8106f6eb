/* test_replay.c - replaying the history into a fresh store reproduces state, digest and chain */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "test_util.h"

typedef struct replica {
    fixture f; /* its own directory and store, same keys */
    store_txn *txn;
    ledger_store view;
} replica;

static int replica_commit(void *ctx, ledger_store **dst)
{
    replica *r = ctx;
    int rc = store_lmdb_commit(&r->txn);
    if (rc == 0)
        rc = store_lmdb_begin(r->f.store, true, &r->txn, &r->view);
    *dst = &r->view;
    return rc;
}

static int genesis_fn(void *ctx, ledger_store *view)
{
    return ledger_genesis_apply(view, ctx);
}

/* Replay src into a fresh replica. Returns: the replay's code; *diverged as reported. */
static int replay_into(fixture *src, replica *r, uint64_t *diverged)
{
    store_txn *st;
    ledger_store sv;
    r->f.dir = test_tmpdir("lstd-replica");
    store_options opt = {.durability = STORE_NOSYNC};
    CHECK(store_lmdb_open(&r->f.store, r->f.dir, &opt) == 0);
    CHECK(store_lmdb_begin(src->store, false, &st, &sv) == 0);
    ledger_genesis g;
    CHECK_CODE(ledger_genesis_read(&sv, &g), LEDGER_OK);
    CHECK(store_lmdb_write(r->f.store, genesis_fn, &g) == 0);
    CHECK(store_lmdb_begin(r->f.store, true, &r->txn, &r->view) == 0);
    int rc = ledger_replay(&sv, &r->view, replica_commit, r, diverged);
    store_lmdb_abort(&r->txn);
    store_lmdb_abort(&st);
    return rc;
}

static void test_identical_digest(void)
{
    fixture f;
    replica r;
    uint64_t diverged;
    memset(&r, 0, sizeof r);
    fx_open(&f, NULL);
    fx_build_history(&f);
    fx_check(&f);
    CHECK_CODE(replay_into(&f, &r, &diverged), LEDGER_OK);
    CHECK_U64(diverged, 0);
    ledger_chain a = fx_chain(&f), b = fx_chain(&r.f);
    CHECK_U64(b.next_seq, a.next_seq);
    CHECK_U64(b.next_batch, a.next_batch);
    CHECK(memcmp(a.digest, b.digest, 32) == 0);
    CHECK(memcmp(a.head, b.head, 32) == 0);
    ledger_pool pa = fx_pool(&f), pb = fx_pool(&r.f);
    CHECK(memcmp(&pa, &pb, sizeof pa) == 0);
    fx_check(&r.f);
    fx_close(&r.f);
    fx_close(&f);
}

/* A flipped byte in a history record's signed transaction: the chain check and the replay
 * both name that record. */
static void test_damaged_history(void)
{
    fixture f;
    replica r;
    uint64_t diverged;
    char msg[256];
    store_txn *t;
    ledger_store v;
    memset(&r, 0, sizeof r);
    fx_open(&f, NULL);
    fx_build_history(&f);
    fx_damage d = {.table = LEDGER_T_HISTORY, .key_len = 8, .byte = 250};
    d.key[7] = 7; /* record 7 */
    CHECK(fx_damage_store(f.store, &d) == 0);
    CHECK(store_lmdb_begin(f.store, false, &t, &v) == 0);
    CHECK_CODE(ledger_check(&v, msg, sizeof msg), LEDGER_STORE_CORRUPT);
    printf("damaged history: %s\n", msg);
    CHECK(strstr(msg, "between records 7 and 8") != NULL);
    store_lmdb_abort(&t);
    CHECK_CODE(replay_into(&f, &r, &diverged), LEDGER_STORE_CORRUPT);
    CHECK_U64(diverged, 7);
    fx_close(&r.f);
    fx_close(&f);
}

/* A flipped byte in an account record: a balance breaks the share sum; a nonce (which no
 * sum covers) breaks the recomputed state digest. */
static void test_damaged_account(size_t byte, const char *expect)
{
    fixture f;
    char msg[256];
    store_txn *t;
    ledger_store v;
    fx_open(&f, NULL);
    fx_build_history(&f);
    fx_damage d = {.table = LEDGER_T_ACCOUNT, .key_len = 32, .byte = byte};
    memcpy(d.key, f.pk[FX_USER + 2], 32);
    CHECK(fx_damage_store(f.store, &d) == 0);
    CHECK(store_lmdb_begin(f.store, false, &t, &v) == 0);
    CHECK_CODE(ledger_check(&v, msg, sizeof msg), LEDGER_STORE_CORRUPT);
    printf("damaged account byte %zu: %s\n", byte, msg);
    CHECK(strstr(msg, expect) != NULL);
    store_lmdb_abort(&t);
    fx_close(&f);
}

/* A store whose order is broken (a damaged page): after `after` steps in the account history
 * index, next goes back to the first key of that table. Counts its calls. */
typedef struct looping {
    ledger_store inner;
    unsigned long calls, index_steps, after;
} looping;

static int loop_get(void *self, unsigned table, const uint8_t *key, size_t key_len,
                    const uint8_t **val, size_t *val_len)
{
    looping *l = self;
    return l->inner.get(l->inner.self, table, key, key_len, val, val_len);
}

static int loop_next(void *self, unsigned table, const uint8_t *key, size_t key_len,
                     const uint8_t **key_out, size_t *key_out_len, const uint8_t **val,
                     size_t *val_len)
{
    looping *l = self;
    if (++l->calls > 10000000) /* a check that never ends: fail the test, do not hang it */
        abort();
    if (table == LEDGER_T_ACCOUNT_TX && key_len > 0 && ++l->index_steps % l->after == 0)
        key_len = 0; /* back to the first key: a cycle */
    return l->inner.next(l->inner.self, table, key, key_len, key_out, key_out_len, val, val_len);
}

/* lstd-verify's loop (issue 9): with keys out of order the check ends with an answer. */
static void test_keys_out_of_order(void)
{
    fixture f;
    char msg[256];
    store_txn *t;
    fx_open(&f, NULL);
    fx_build_history(&f);
    looping l = {.after = 5};
    CHECK(store_lmdb_begin(f.store, false, &t, &l.inner) == 0);
    ledger_store v = {.self = &l, .get = loop_get, .next = loop_next};
    CHECK_CODE(ledger_check(&v, msg, sizeof msg), LEDGER_STORE_CORRUPT);
    printf("keys out of order: %s after %lu calls\n", msg, l.calls);
    CHECK(strstr(msg, "out of order") != NULL);
    store_lmdb_abort(&t);
    fx_close(&f);
}

int main(void)
{
    test_identical_digest();
    test_damaged_history();
    test_damaged_account(7, "!= S");
    test_damaged_account(31, "state digest");
    test_keys_out_of_order();
    return test_finish("test_replay");
}
