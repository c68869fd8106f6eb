/* test_vectors.c - PROTOCOL.md's test vectors are current, decode, hash and verify */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "rpc_request.h"
#include "rpc_vectors.h"
#include "test_util.h"

/* Hex after `label` on the line starting with it inside [block, end). Returns: bytes or -1. */
static long hex_field(const char *block, const char *end, const char *label, uint8_t *out,
                      size_t cap)
{
    size_t n = strlen(label);
    for (const char *l = block; l && l < end; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (strncmp(l, label, n) != 0 || l[n] != ' ')
            continue;
        const char *h = l + n;
        while (*h == ' ')
            h++;
        size_t i = 0;
        for (; i < cap && h[2 * i] && h[2 * i] != '\n'; i++) {
            unsigned v;
            if (sscanf(h + 2 * i, "%2x", &v) != 1)
                return -1;
            out[i] = (uint8_t)v;
        }
        return (long)i;
    }
    return -1;
}

/* Each vector: the request decodes to a transaction whose signing bytes and hash are the
 * published ones, and the published signature verifies under the signer. */
static void check_vector(const char *block, const char *end)
{
    uint8_t bytes[LEDGER_TX_BYTES_MAX], enc[LEDGER_TX_BYTES_MAX], hash[32], h2[32], sig[64];
    uint8_t req_bytes[2048];
    rpc_request req;
    char msg[256];
    long nb = hex_field(block, end, "signing bytes", bytes, sizeof bytes);
    long nr = hex_field(block, end, "request", req_bytes, sizeof req_bytes);
    CHECK(nb > 0 && nr > 0);
    CHECK(hex_field(block, end, "hash", hash, 32) == 32);
    CHECK(hex_field(block, end, "signature", sig, 64) == 64);
    CHECK_CODE(rpc_request_decode(&req, req_bytes, (size_t)nr, msg, sizeof msg), LEDGER_OK);
    CHECK(req.is_tx);
    size_t n = ledger_tx_encode(enc, &req.tx);
    CHECK(n == (size_t)nb && memcmp(enc, bytes, n) == 0);
    CHECK_CODE(ledger_tx_hash(h2, "lstd-vectors", &req.tx), LEDGER_OK);
    CHECK(memcmp(h2, hash, 32) == 0);
    CHECK(memcmp(req.sig, sig, 64) == 0);
    CHECK(crypto_verify(sig, hash, req.tx.signer));
}

/* The history vector, checked from its printed bytes with the formulas of PROTOCOL.md only:
 * genesis hash = tagged("lstd/genesis/v1", genesis bytes); record hash = tagged(
 * "lstd/record/v1", be64(seq) || value); each value's prev (bytes 1..32) is the previous hash
 * (the first: the genesis hash); the head is the last record's hash. */
static void check_history(const char *block, const char *end)
{
    uint8_t genesis[LEDGER_GENESIS_BYTES_MAX], ghash[32], want[32], prev[32], head[32], value[1024],
        buf[8 + 1024];
    long gn = hex_field(block, end, "genesis bytes", genesis, sizeof genesis);
    CHECK(gn > 0 && hex_field(block, end, "genesis hash", want, 32) == 32);
    crypto_tagged_hash(ghash, "lstd/genesis/v1", 15, genesis, (size_t)gn);
    CHECK(memcmp(ghash, want, 32) == 0);
    memcpy(prev, ghash, 32);
    int records = 0;
    for (int seq = 1;; seq++, records++) {
        char label[32];
        snprintf(label, sizeof label, "record %d", seq);
        long n = hex_field(block, end, label, value, sizeof value);
        if (n < 0)
            break;
        CHECK(n > 187 && value[0] == 2 && memcmp(value + 1, prev, 32) == 0);
        /* after version, prev, tx hash, 7 u64 and the signature: the accounts, then the
         * signing bytes (their own version 01 first) */
        size_t accounts = n > 187 ? (size_t)value[185] << 8 | value[186] : 0;
        CHECK(n > (long)(187 + 32 * accounts) && value[187 + 32 * accounts] == 1);
        for (int k = 0; k < 8; k++)
            buf[k] = (uint8_t)((uint64_t)seq >> (56 - 8 * k));
        memcpy(buf + 8, value, (size_t)n);
        crypto_tagged_hash(prev, "lstd/record/v1", 14, buf, 8 + (size_t)n);
    }
    CHECK_U64(records, 3);
    CHECK(hex_field(block, end, "head", head, 32) == 32 && memcmp(head, prev, 32) == 0);
}

int main(void)
{
    char *doc = test_read_file(LSTD_SOURCE_DIR "/PROTOCOL.md"), *gen = NULL;
    size_t gen_len = 0;
    FILE *out = open_memstream(&gen, &gen_len);
    CHECK(out != NULL && rpc_vectors_write(out) == 0);
    fclose(out);
    const char *section = strstr(doc, "## Test vectors\n\n");
    CHECK(section != NULL);
    if (section != NULL) {
        section += strlen("## Test vectors\n\n");
        if (strcmp(section, gen) != 0) {
            fprintf(stderr, "PROTOCOL.md's test vectors are stale: regenerate with "
                            "build/lstd-vectors\n");
            test_failures++;
        }
    }
    int kinds = 0, histories = 0;
    for (const char *b = strstr(gen, "### "); b != NULL;) {
        const char *next = strstr(b + 4, "### ");
        if (strncmp(b, "### history", 11) == 0) {
            check_history(b, next ? next : gen + gen_len);
            histories++;
        } else {
            check_vector(b, next ? next : gen + gen_len);
            kinds++;
        }
        b = next;
    }
    CHECK_U64(kinds, LEDGER_TX_KIND_MAX);
    CHECK_U64(histories, 1);
    free(gen);
    free(doc);
    return test_finish("test_vectors");
}
