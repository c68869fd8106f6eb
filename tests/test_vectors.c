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
    int kinds = 0;
    for (const char *b = strstr(gen, "### "); b != NULL; kinds++) {
        const char *next = strstr(b + 4, "### ");
        check_vector(b, next ? next : gen + gen_len);
        b = next;
    }
    CHECK_U64(kinds, LEDGER_TX_KIND_MAX);
    free(gen);
    free(doc);
    return test_finish("test_vectors");
}
