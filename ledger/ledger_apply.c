/* ledger_apply.c - batches: nonce rule, dispatch by kind, history chain and state digest */
#include <stdlib.h>

#include "ledger_internal.h"

enum signer_role { ROLE_ANY, ROLE_ADMIN, ROLE_CUSTODIAN };

/* The command table: handler and the role its signer must hold. Operator-key checks need
 * the operator record, so those handlers do them. */
static const struct {
    ledger_handler fn;
    uint8_t role;
} handlers[LEDGER_TX_KIND_MAX + 1] = {
    [LEDGER_TX_DEPOSIT] = {op_deposit, ROLE_CUSTODIAN},
    [LEDGER_TX_TRANSFER] = {op_transfer, ROLE_ANY},
    [LEDGER_TX_APPROVE] = {op_approve, ROLE_ANY},
    [LEDGER_TX_TRANSFER_FROM] = {op_transfer_from, ROLE_ANY},
    [LEDGER_TX_LOCK] = {op_lock, ROLE_ANY},
    [LEDGER_TX_RELEASE] = {op_release, ROLE_ANY},
    [LEDGER_TX_SEIZE] = {op_seize, ROLE_ANY},
    [LEDGER_TX_WITHDRAW_REQUEST] = {op_withdraw_request, ROLE_ANY},
    [LEDGER_TX_WITHDRAW_CANCEL] = {op_withdraw_cancel, ROLE_ANY},
    [LEDGER_TX_WITHDRAW_FINALIZE] = {op_withdraw_finalize, ROLE_CUSTODIAN},
    [LEDGER_TX_WITHDRAW_SETTLE] = {op_withdraw_settle, ROLE_CUSTODIAN},
    [LEDGER_TX_OPERATOR_FUND] = {op_operator_fund, ROLE_CUSTODIAN},
    [LEDGER_TX_OPERATOR_EXIT] = {op_operator_exit, ROLE_ANY},
    [LEDGER_TX_REPORT] = {op_report, ROLE_ANY},
    [LEDGER_TX_REPORT_ACCEPT] = {op_report_accept, ROLE_ADMIN},
    [LEDGER_TX_OPERATOR_REGISTER] = {op_operator_register, ROLE_ADMIN},
    [LEDGER_TX_OPERATOR_SET_ACTIVE] = {op_operator_set_active, ROLE_ADMIN},
    [LEDGER_TX_OPERATOR_SET_KEYS] = {op_operator_set_keys, ROLE_ADMIN},
    [LEDGER_TX_FEE_SET] = {op_fee_set, ROLE_ADMIN},
    [LEDGER_TX_PARAM_SET] = {op_param_set, ROLE_ADMIN},
    [LEDGER_TX_PAUSE_SET] = {op_pause_set, ROLE_ADMIN},
    [LEDGER_TX_ROLE_SET] = {op_role_set, ROLE_ADMIN},
    [LEDGER_TX_OPERATOR_RESET] = {op_operator_reset, ROLE_ADMIN},
    [LEDGER_TX_ORACLE_ADD] = {op_oracle_add, ROLE_ADMIN},
    [LEDGER_TX_ORACLE_REMOVE] = {op_oracle_remove, ROLE_ADMIN},
    [LEDGER_TX_QUORUM_SET] = {op_quorum_set, ROLE_ADMIN},
    [LEDGER_TX_VOTE] = {op_vote, ROLE_ANY},
};

int ledger_batch_begin(ledger_batch *b, ledger_store *st, uint64_t now)
{
    ledger_genesis g;
    memset(b, 0, sizeof *b);
    b->st = st;
    int rc = ledger_genesis_read(st, &g);
    if (rc == LEDGER_OK)
        rc = ledger_read_pool(st, &b->pool);
    if (rc == LEDGER_OK)
        rc = ledger_read_chain(st, &b->chain);
    if (rc != LEDGER_OK)
        return rc;
    memcpy(b->ledger_id, g.ledger_id, sizeof b->ledger_id);
    ledger_tx_hasher_init(&b->hasher, b->ledger_id);
    b->now = now > b->chain.last_ts ? now : b->chain.last_ts;
    ledger_pool_vest(&b->pool, b->now);
    return LEDGER_OK;
}

static int run_handler(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    switch (handlers[tx->kind].role) {
    case ROLE_ADMIN:
        if (!key_eq(tx->signer, b->pool.admin))
            return LEDGER_NOT_ADMIN;
        break;
    case ROLE_CUSTODIAN:
        if (!key_eq(tx->signer, b->pool.custodian))
            return LEDGER_NOT_CUSTODIAN;
        break;
    default:
        break;
    }
    return handlers[tx->kind].fn(b, tx, out);
}

static int account_tx_put(ledger_store *st, const uint8_t account[LEDGER_KEY_SIZE],
                          const uint8_t be_seq[8])
{
    uint8_t key[40];
    memcpy(key, account, 32);
    memcpy(key + 32, be_seq, 8);
    return st->put(st->self, LEDGER_T_ACCOUNT_TX, key, 40, NULL, 0);
}

/* Index a record: its tx hash, and under every account it names or lists, once each (the
 * listed ones are never named ones: record_accounts leaves those out). */
int ledger_index_record(ledger_store *st, const ledger_record *r)
{
    const ledger_tx *tx = &r->tx;
    const uint8_t *keys[3] = {tx->signer, tx->account, tx->account2};
    uint8_t be_seq[8];
    be64_put(be_seq, r->seq);
    int rc = st->put(st->self, LEDGER_T_TX, r->tx_hash, LEDGER_HASH_SIZE, be_seq, 8);
    for (int i = 0; rc == LEDGER_OK && i < 3; i++) {
        if (key_is_zero(keys[i]) || (i > 0 && key_eq(keys[i], keys[0])) ||
            (i == 2 && key_eq(keys[2], keys[1])))
            continue;
        rc = account_tx_put(st, keys[i], be_seq);
    }
    for (size_t i = 0; rc == LEDGER_OK && i < r->account_count; i++)
        rc = account_tx_put(st, r->accounts + i * LEDGER_KEY_SIZE, be_seq);
    return rc;
}

void batch_touch(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE])
{
    if (b->touched > 0 && key_eq(b->touched_keys[b->touched - 1], key))
        return; /* a finalize saves each owner's account, then its request */
    if (b->touched < LEDGER_TOUCHED_MAX)
        memcpy(b->touched_keys[b->touched], key, LEDGER_KEY_SIZE);
    b->touched++; /* beyond the room: ledger_apply aborts the batch (a bug, never seen) */
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, LEDGER_KEY_SIZE);
}

/* The record's unnamed accounts: the touched ones, ascending, each once, without the signer,
 * the kind's named keys and the dead account. Returns: how many (in b->touched_keys). */
static size_t record_accounts(ledger_batch *b, const ledger_tx *tx)
{
    size_t n = 0, kept = 0;
    for (size_t i = 0; i < b->touched; i++) { /* a transfer keeps none: no sort then */
        const uint8_t *k = b->touched_keys[i];
        if (key_eq(k, tx->signer) || key_eq(k, tx->account) || key_eq(k, tx->account2) ||
            key_is_zero(k))
            continue;
        memmove(b->touched_keys[kept++], k, LEDGER_KEY_SIZE);
    }
    if (kept > 1)
        qsort(b->touched_keys, kept, LEDGER_KEY_SIZE, key_cmp);
    for (size_t i = 0; i < kept; i++)
        if (n == 0 || !key_eq(b->touched_keys[i], b->touched_keys[n - 1]))
            memmove(b->touched_keys[n++], b->touched_keys[i], LEDGER_KEY_SIZE);
    return n;
}

/* Append the history record, the tx-hash index and the account indexes; advance the chain. */
static int record(ledger_batch *b, const ledger_tx *tx, const uint8_t hash[LEDGER_HASH_SIZE],
                  const uint8_t sig[LEDGER_SIG_SIZE], ledger_result *res)
{
    ledger_record r;
    static _Thread_local uint8_t val[HISTORY_VALUE_MAX];
    uint8_t key[8];
    memset(&r, 0, sizeof r);
    res->seq = b->chain.next_seq;
    res->batch = b->chain.next_batch;
    res->timestamp = b->now;
    memcpy(r.prev, b->chain.head, LEDGER_HASH_SIZE);
    memcpy(r.tx_hash, hash, LEDGER_HASH_SIZE);
    memcpy(r.sig, sig, LEDGER_SIG_SIZE);
    r.tx = *tx;
    r.result = *res;
    r.seq = res->seq;
    r.account_count = res->code == LEDGER_OK ? record_accounts(b, tx) : 0;
    r.accounts = b->touched_keys[0];
    size_t n = record_history_encode(val, sizeof val, &r);
    be64_put(key, res->seq);
    int rc = n == 0 ? LEDGER_KIND_UNKNOWN : st_put(b, LEDGER_T_HISTORY, key, 8, val, n);
    if (rc == LEDGER_OK)
        rc = ledger_index_record(b->st, &r);
    if (rc != LEDGER_OK)
        return rc;
    record_history_hash(b->chain.head, res->seq, val, n);
    b->chain.next_seq++;
    b->applied++;
    return LEDGER_OK;
}

/* Look for an already recorded identical transaction. Returns: 1 found, 0 not, or < 0 / >= 900. */
static int find_duplicate(ledger_batch *b, const uint8_t hash[LEDGER_HASH_SIZE], ledger_result *res)
{
    ledger_record r;
    int rc = ledger_read_tx(b->st, hash, &r);
    if (rc == LEDGER_STORE_NOTFOUND)
        return 0;
    if (rc != LEDGER_OK)
        return rc;
    *res = r.result;
    res->duplicate = true;
    return 1;
}

/* Whether the signer has standing, i.e. whether its transaction may be recorded: it holds
 * shares (free, pledged or queued), a role (admin, custodian, treasury, an operator's key, an
 * oracle member's key), or
 * is the party this transaction needs: the spender of this allowance (transfer_from), a
 * lien's beneficiary (release, seize). A key holding nothing would otherwise grow the history for
 * free with transactions that can only fail or change nothing of value.
 * Returns: 1 yes, 0 no, or a store error. */
static int signer_standing(ledger_batch *b, const ledger_tx *tx, const ledger_account *a)
{
    const uint8_t *v;
    size_t n;
    uint64_t allowance;
    if (a->shares != 0 || a->locked != 0 || a->queued != 0 || key_eq(tx->signer, b->pool.admin) ||
        key_eq(tx->signer, b->pool.custodian) || key_eq(tx->signer, b->pool.treasury))
        return 1;
    int rc = b->st->get(b->st->self, LEDGER_T_OPERATOR_KEY, tx->signer, LEDGER_KEY_SIZE, &v, &n);
    if (rc != LEDGER_STORE_NOTFOUND)
        return rc == LEDGER_OK ? 1 : rc;
    if ((rc = oracle_is_member(b, tx->signer)) != 0)
        return rc;
    if (tx->kind == LEDGER_TX_TRANSFER_FROM) {
        rc = ledger_read_allowance(b->st, tx->account, tx->signer, &allowance);
        return rc == LEDGER_OK ? allowance != 0 : rc;
    }
    if (tx->kind != LEDGER_TX_RELEASE && tx->kind != LEDGER_TX_SEIZE)
        return 0;
    /* a party to some lien (the owner of one holds locked shares: so a beneficiary) */
    const uint8_t *k;
    size_t kn;
    rc = b->st->next(b->st->self, LEDGER_T_ACCOUNT_LIEN, tx->signer, LEDGER_KEY_SIZE, &k, &kn, &v,
                     &n);
    if (rc == LEDGER_STORE_NOTFOUND)
        return 0;
    return rc != LEDGER_OK ? rc
                           : kn > LEDGER_KEY_SIZE && memcmp(k, tx->signer, LEDGER_KEY_SIZE) == 0;
}

int ledger_apply(ledger_batch *b, const ledger_tx *tx, const uint8_t hash_in[LEDGER_HASH_SIZE],
                 const uint8_t sig[LEDGER_SIG_SIZE], ledger_result *res)
{
    uint8_t computed[LEDGER_HASH_SIZE];
    const uint8_t *hash = hash_in;
    ledger_account signer;
    memset(res, 0, sizeof *res);
    if (ledger_kind_lookup(tx->kind) == NULL) {
        res->code = LEDGER_KIND_UNKNOWN;
        return LEDGER_OK;
    }
    if (hash == NULL) {
        if (ledger_tx_hash_with(computed, &b->hasher, tx) != LEDGER_OK)
            return LEDGER_INTERNAL; /* every known kind encodes */
        hash = computed;
    }
    int rc = find_duplicate(b, hash, res);
    if (rc != 0)
        return rc == 1 ? LEDGER_OK : rc;
    rc = ledger_read_account(b->st, tx->signer, &signer);
    if (rc != LEDGER_OK)
        return rc;
    if (tx->nonce <= signer.nonce) {
        res->code = LEDGER_NONCE_USED;
        return LEDGER_OK;
    }
    if (tx->nonce != signer.nonce + 1) {
        res->code = LEDGER_NONCE_GAP;
        return LEDGER_OK;
    }
    rc = signer_standing(b, tx, &signer);
    if (rc != 1) {
        res->code = LEDGER_SIGNER_HOLDS_NOTHING;
        return rc == 0 ? LEDGER_OK : rc;
    }
    /* The nonce is consumed whatever the handler decides; it reloads accounts it touches. */
    signer.nonce = tx->nonce;
    rc = save_account(b, tx->signer, &signer);
    if (rc != LEDGER_OK)
        return rc;
    b->touched = 0;
    res->code = run_handler(b, tx, res->out);
    if (res->code < 0) /* a store NOTFOUND leaked past a handler: a bug, abort the batch */
        return LEDGER_STORE_CORRUPT;
    if (res->code >= 900)
        return res->code;
    if (b->touched > LEDGER_TOUCHED_MAX)
        return LEDGER_INTERNAL;
    if (res->code != LEDGER_OK)
        memset(res->out, 0, sizeof res->out);
    return record(b, tx, hash, sig, res);
}

#define PREFETCH_CHUNK 256 /* transactions hinted at a time: 24 KiB of keys */

void ledger_batch_prefetch(ledger_batch *b, const ledger_tx *txs,
                           const uint8_t (*hashes)[LEDGER_HASH_SIZE], size_t n)
{
    ledger_store *st = b->st;
    uint8_t keys[3 * PREFETCH_CHUNK][LEDGER_KEY_SIZE];
    if (st->prefetch == NULL)
        return;
    for (size_t at = 0; at < n; at += PREFETCH_CHUNK) {
        size_t m = n - at < PREFETCH_CHUNK ? n - at : PREFETCH_CHUNK, k = 0;
        for (size_t i = 0; i < m; i++) {
            const ledger_tx *tx = &txs[at + i];
            memcpy(keys[k++], tx->signer, LEDGER_KEY_SIZE);
            if (!key_is_zero(tx->account))
                memcpy(keys[k++], tx->account, LEDGER_KEY_SIZE);
            if (!key_is_zero(tx->account2))
                memcpy(keys[k++], tx->account2, LEDGER_KEY_SIZE);
        }
        st->prefetch(st->self, LEDGER_T_ACCOUNT, keys[0], LEDGER_KEY_SIZE, k);
        if (hashes != NULL)
            st->prefetch(st->self, LEDGER_T_TX, hashes[at], LEDGER_HASH_SIZE, m);
    }
}

bool ledger_prefetch_due(size_t i, size_t n, size_t *first, size_t *count)
{
    const size_t g = LEDGER_PREFETCH_GROUP;
    if (i % g != 0 || i >= n)
        return false;
    *first = i == 0 ? 0 : i + g;
    if (*first >= n)
        return false;
    size_t want = i == 0 ? 2 * g : g;
    *count = n - *first < want ? n - *first : want;
    return true;
}

int ledger_batch_end(ledger_batch *b)
{
    if (b->applied == 0)
        return LEDGER_OK;
    int rc = save_pool(b);
    if (rc == LEDGER_OK)
        rc = digest_fold(b->st, b->chain.digest);
    if (rc != LEDGER_OK)
        return rc;
    b->chain.next_batch++;
    b->chain.last_ts = b->now;
    return write_chain(b->st, &b->chain);
}
