/* rpc_vectors.c - deterministic signed example of every transaction kind, as markdown */
#include "rpc_vectors.h"

#include <inttypes.h>
#include <msgpack.h>
#include <string.h>

#include "crypto.h"
#include "ledger.h"
#include "rpc_reply.h"

#define VECTOR_LEDGER_ID "lstd-vectors"

static void hex_line(FILE *out, const char *label, const uint8_t *b, size_t n)
{
    fprintf(out, "%-14s ", label);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", b[i]);
    fputc('\n', out);
}

static void fill(ledger_tx *tx, unsigned kind, const uint8_t signer[32], const uint8_t a[32],
                 const uint8_t b[32])
{
    memset(tx, 0, sizeof *tx);
    tx->kind = (uint8_t)kind;
    memcpy(tx->signer, signer, 32);
    tx->nonce = 1;
    memcpy(tx->account, a, 32);
    memcpy(tx->account2, b, 32);
    memset(tx->ref, 0xab, 32);
    tx->id = 7;
    tx->amount = 1500000000;
    tx->limit = 42;
    tx->extra = 9950; /* the one kind with a fourth integer: vote's performance_bps */
}

static int one_vector(FILE *out, const ledger_tx *tx, const uint8_t seckey[32])
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    uint8_t bytes[LEDGER_TX_BYTES_MAX], hash[32], sig[64];
    size_t n = ledger_tx_encode(bytes, tx);
    msgpack_sbuffer buf;
    msgpack_packer pk;
    if (ledger_tx_hash(hash, VECTOR_LEDGER_ID, tx) != LEDGER_OK ||
        crypto_sign_aux(sig, hash, seckey, NULL) != 0)
        return -1;
    fprintf(out, "### %s (kind %u)\n\n```\n", k->name, tx->kind);
    hex_line(out, "secret key", seckey, 32);
    hex_line(out, "signer", tx->signer, 32);
    fprintf(out, "%-14s %" PRIu64 "\n", "nonce", tx->nonce);
    for (unsigned i = 0; i < k->field_count; i++) {
        void *p = ledger_tx_slot((ledger_tx *)tx, k->fields[i].slot);
        if (k->fields[i].type == LEDGER_F_U64)
            fprintf(out, "%-14s %" PRIu64 "\n", k->fields[i].name, *(uint64_t *)p);
        else
            hex_line(out, k->fields[i].name, p, 32);
    }
    hex_line(out, "signing bytes", bytes, n);
    hex_line(out, "hash", hash, 32);
    hex_line(out, "signature", sig, 64);
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    rpc_pack_tx_request(&pk, &(rpc_id){.type = 1, .u = 1}, tx, sig, NULL);
    hex_line(out, "request", (const uint8_t *)buf.data, buf.size);
    msgpack_sbuffer_destroy(&buf);
    fprintf(out, "```\n\n");
    return 0;
}

int rpc_vectors_write(FILE *out)
{
    uint8_t sk[3][32], pk[3][32];
    for (int i = 0; i < 3; i++) {
        memset(sk[i], i + 1, 32);
        if (crypto_pubkey(pk[i], sk[i]) != 0)
            return -1;
    }
    fprintf(out, "Every vector: ledger id `%s`, signer secret key `", VECTOR_LEDGER_ID);
    for (int i = 0; i < 32; i++)
        fprintf(out, "%02x", sk[0][i]);
    fprintf(out, "`, BIP-340 auxiliary randomness all zero (so the signatures are "
                 "reproducible; real clients use fresh randomness). Key fields use the public "
                 "keys of secret keys `0202…02` and `0303…03`; refs are 32 bytes `ab`. "
                 "`request` is the complete msgpack request with map keys in the order shown "
                 "(any order is accepted) and `id` 1.\n\n");
    for (unsigned kind = 1; kind <= LEDGER_TX_KIND_MAX; kind++) {
        ledger_tx tx;
        fill(&tx, kind, pk[0], pk[1], pk[2]);
        if (one_vector(out, &tx, sk[0]) != 0)
            return -1;
    }
    return rpc_history_vector_write(out);
}
