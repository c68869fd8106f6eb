/* rpc_history_vector.c - PROTOCOL.md's history vector: a genesis and three records, chained */
#include "rpc_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "ledger.h"
#include "store_mem.h"

#define HISTORY_TIME 1700000000u
#define HISTORY_RECORDS 3

typedef struct history_job {
    ledger_genesis g;
    ledger_tx txs[HISTORY_RECORDS];
    uint8_t sigs[HISTORY_RECORDS][64];
    uint8_t values[HISTORY_RECORDS][1024];
    size_t value_len[HISTORY_RECORDS];
    ledger_chain chain;
} history_job;

static void hex_line(FILE *out, const char *label, const uint8_t *b, size_t n)
{
    fprintf(out, "%-16s ", label);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", b[i]);
    fputc('\n', out);
}

/* One batch of the three transactions, then the stored record values and the chain. */
static int batch_fn(void *ctx, ledger_store *view)
{
    history_job *j = ctx;
    ledger_batch b;
    ledger_result res;
    int rc = ledger_batch_begin(&b, view, HISTORY_TIME);
    for (int i = 0; rc == LEDGER_OK && i < HISTORY_RECORDS; i++)
        rc = ledger_apply(&b, &j->txs[i], NULL, j->sigs[i], &res);
    if (rc == LEDGER_OK)
        rc = ledger_batch_end(&b);
    for (uint64_t seq = 1; rc == LEDGER_OK && seq <= HISTORY_RECORDS; seq++) {
        uint8_t key[8];
        const uint8_t *v;
        size_t n;
        for (int k = 0; k < 8; k++)
            key[k] = (uint8_t)(seq >> (56 - 8 * k));
        rc = view->get(view->self, LEDGER_T_HISTORY, key, 8, &v, &n);
        if (rc == 0 && n <= sizeof j->values[0]) {
            memcpy(j->values[seq - 1], v, n);
            j->value_len[seq - 1] = n;
        } else if (rc == 0) {
            rc = LEDGER_INTERNAL;
        }
    }
    return rc == LEDGER_OK ? ledger_read_chain(view, &j->chain) : rc;
}

/* Keys as in the signing vectors: secret keys 0101..01 (admin and custodian), 0202..02 (a
 * holder), 0303..03 (treasury, and the transfer's recipient). */
static int history_setup(history_job *j, uint8_t sk[3][32])
{
    uint8_t pk[3][32];
    for (int i = 0; i < 3; i++) {
        memset(sk[i], i + 1, 32);
        if (crypto_pubkey(pk[i], sk[i]) != 0)
            return -1;
    }
    ledger_genesis_defaults(&j->g);
    strcpy(j->g.ledger_id, "lstd-vectors");
    j->g.timestamp = HISTORY_TIME;
    memcpy(j->g.admin, pk[0], 32);
    memcpy(j->g.custodian, pk[0], 32);
    memcpy(j->g.treasury, pk[2], 32);
    const struct {
        unsigned kind, signer, to;
        uint64_t nonce, amount;
    } plan[HISTORY_RECORDS] = {
        {LEDGER_TX_DEPOSIT, 0, 1, 1, 5000000000u},  /* deposit of 5 tokens to the holder */
        {LEDGER_TX_TRANSFER, 1, 2, 1, 1000000000u}, /* 1 token's shares onward */
        {LEDGER_TX_TRANSFER, 1, 2, 2, UINT64_MAX},  /* recorded: INSUFFICIENT_SHARES */
    };
    for (int i = 0; i < HISTORY_RECORDS; i++) {
        ledger_tx *t = &j->txs[i];
        uint8_t hash[32];
        memset(t, 0, sizeof *t);
        t->kind = (uint8_t)plan[i].kind;
        memcpy(t->signer, pk[plan[i].signer], 32);
        t->nonce = plan[i].nonce;
        memcpy(t->account, pk[plan[i].to], 32);
        t->amount = plan[i].amount;
        memset(t->ref, 0xab, 32);
        if (ledger_tx_hash(hash, j->g.ledger_id, t) != LEDGER_OK ||
            crypto_sign_aux(j->sigs[i], hash, sk[plan[i].signer], NULL) != 0)
            return -1;
    }
    return 0;
}

/* Apply genesis and batch on an in-memory store (the one the service applies to).
 * Returns: 0 or -1. */
static int history_run(history_job *j)
{
    store_mem *m;
    ledger_store view;
    if (store_mem_new(&m, 1) != 0)
        return -1;
    store_mem_view(m, &view);
    int rc = ledger_genesis_apply(&view, &j->g);
    store_mem_commit(m);
    if (rc == 0)
        rc = batch_fn(j, &view);
    store_mem_free(&m);
    return rc == 0 ? 0 : -1;
}

int rpc_history_vector_write(FILE *out)
{
    history_job *j = calloc(1, sizeof *j);
    uint8_t sk[3][32], genesis[LEDGER_GENESIS_BYTES_MAX];
    if (j == NULL || history_setup(j, sk) != 0 || history_run(j) != 0) {
        free(j);
        return -1;
    }
    size_t n = ledger_genesis_encode(genesis, sizeof genesis, &j->g);
    uint8_t ghash[32];
    ledger_genesis_hash(ghash, genesis, n);
    fprintf(out,
            "### history (a genesis and three records)\n\n"
            "A genesis with the defaults (ledger id `lstd-vectors`, genesis time %u; admin and "
            "custodian `0101…01`'s key, treasury `0303…03`'s, no operators), then one batch at "
            "that time: a deposit by the custodian to `0202…02`'s key, a transfer from it to "
            "`0303…03`'s key, and a transfer of 2^64−1 shares recorded as "
            "`INSUFFICIENT_SHARES`, signed as in the vectors above. Each `record n` is the "
            "record value of seq n ([Verifying the history](#verifying-the-history)).\n\n```\n",
            HISTORY_TIME);
    hex_line(out, "genesis bytes", genesis, n);
    hex_line(out, "genesis hash", ghash, 32);
    for (int i = 0; i < HISTORY_RECORDS; i++) {
        char label[32];
        snprintf(label, sizeof label, "record %d", i + 1);
        hex_line(out, label, j->values[i], j->value_len[i]);
    }
    hex_line(out, "head", j->chain.head, 32);
    hex_line(out, "digest", j->chain.digest, 32);
    fprintf(out, "```\n");
    free(j);
    return 0;
}
