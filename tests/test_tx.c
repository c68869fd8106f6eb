/* test_tx.c - the kind table, the transaction signing layout (encode/decode) and its hash */
#include <string.h>

#include "crypto.h"
#include "ledger.h"
#include "fixture.h"
#include "test_util.h"

/* The kinds and their fields as documented in ledger/README.md ("Kinds, fields, signer"). */
static const char *const doc_kinds[LEDGER_TX_KIND_MAX + 1][2] = {
    [LEDGER_TX_DEPOSIT] = {"deposit", "to,amount,external_ref,min_shares_out"},
    [LEDGER_TX_TRANSFER] = {"transfer", "to,shares"},
    [LEDGER_TX_APPROVE] = {"approve", "spender,shares"},
    [LEDGER_TX_TRANSFER_FROM] = {"transfer_from", "owner,to,shares"},
    [LEDGER_TX_LOCK] = {"lock", "beneficiary,shares,expiry"},
    [LEDGER_TX_RELEASE] = {"release", "lien_id,shares"},
    [LEDGER_TX_SEIZE] = {"seize", "lien_id,shares,to"},
    [LEDGER_TX_WITHDRAW_REQUEST] = {"withdraw_request", "shares,min_amount_out"},
    [LEDGER_TX_WITHDRAW_CANCEL] = {"withdraw_cancel", "request_id"},
    [LEDGER_TX_WITHDRAW_FINALIZE] = {"withdraw_finalize", "up_to_id"},
    [LEDGER_TX_WITHDRAW_SETTLE] = {"withdraw_settle", "request_id,payout_ref"},
    [LEDGER_TX_OPERATOR_FUND] = {"operator_fund", "operator_id,amount"},
    [LEDGER_TX_OPERATOR_EXIT] = {"operator_exit", "operator_id,amount"},
    [LEDGER_TX_REPORT] = {"report", "operator_id,epoch,balance"},
    [LEDGER_TX_REPORT_ACCEPT] = {"report_accept", "operator_id,epoch,balance"},
    [LEDGER_TX_OPERATOR_REGISTER] = {"operator_register", "operator,fee_account,fee_bps"},
    [LEDGER_TX_OPERATOR_SET_ACTIVE] = {"operator_set_active", "operator_id,active"},
    [LEDGER_TX_OPERATOR_SET_KEYS] = {"operator_set_keys", "operator_id,operator,fee_account"},
    [LEDGER_TX_FEE_SET] = {"fee_set", "operator_id,fee_bps"},
    [LEDGER_TX_PARAM_SET] = {"param_set", "param,value"},
    [LEDGER_TX_PAUSE_SET] = {"pause_set", "flags"},
    [LEDGER_TX_ROLE_SET] = {"role_set", "role,account"},
    [LEDGER_TX_OPERATOR_RESET] = {"operator_reset", "operator_id,epoch,balance"},
    [LEDGER_TX_ORACLE_ADD] = {"oracle_add", "member,quorum"},
    [LEDGER_TX_ORACLE_REMOVE] = {"oracle_remove", "member,quorum"},
    [LEDGER_TX_QUORUM_SET] = {"quorum_set", "mode,quorum,minority"},
    [LEDGER_TX_VOTE] = {"vote", "operator_id,epoch,balance,performance_bps"},
};

/* README: these names are keys, these are 32 opaque bytes, everything else is a u64. */
static int doc_type(const char *name)
{
    static const char *const keys[] = {"to",       "spender",     "owner",   "beneficiary",
                                       "operator", "fee_account", "account", "member"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(name, keys[i]) == 0)
            return LEDGER_F_KEY;
    if (strcmp(name, "external_ref") == 0 || strcmp(name, "payout_ref") == 0)
        return LEDGER_F_REF;
    return LEDGER_F_U64;
}

static size_t field_size(const ledger_field *f)
{
    return f->type == LEDGER_F_U64 ? 8 : 32;
}

/* ---- the kind table ------------------------------------------------------------------- */

static void test_kind_table(void)
{
    CHECK(ledger_kind_lookup(0) == NULL);
    CHECK(ledger_kind_lookup(LEDGER_TX_KIND_MAX + 1) == NULL);
    CHECK(ledger_kind_lookup(255) == NULL);
    CHECK(ledger_kind_lookup(256 + LEDGER_TX_TRANSFER) == NULL);
    CHECK(ledger_kind_by_name("") == 0);
    CHECK(ledger_kind_by_name("Transfer") == 0);
    CHECK(ledger_kind_by_name("transfe") == 0);
    CHECK(ledger_kind_by_name("transfer ") == 0);
    CHECK(ledger_kind_by_name("nonsense") == 0);
    for (unsigned kind = 1; kind <= LEDGER_TX_KIND_MAX; kind++) {
        const ledger_kind_info *k = ledger_kind_lookup(kind);
        int failures = test_failures;
        CHECK(k != NULL);
        if (k == NULL)
            continue;
        CHECK(k->name != NULL && k->name[0] != '\0');
        if (k->name == NULL)
            continue;
        CHECK(ledger_kind_by_name(k->name) == kind);
        CHECK(strcmp(k->name, doc_kinds[kind][0]) == 0);
        CHECK(k->field_count >= 1 && k->fields != NULL);

        char names[128] = "";
        unsigned slots_used = 0;
        for (unsigned i = 0; i < k->field_count; i++) {
            const ledger_field *f = &k->fields[i];
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s", i > 0 ? "," : "", f->name);
            CHECK(f->type == doc_type(f->name));
            /* keys live in account slots, refs in ref, integers in id/amount/limit/extra */
            if (f->type == LEDGER_F_KEY)
                CHECK(f->slot == LEDGER_SLOT_ACCOUNT || f->slot == LEDGER_SLOT_ACCOUNT2);
            else if (f->type == LEDGER_F_REF)
                CHECK(f->slot == LEDGER_SLOT_REF);
            else
                CHECK(f->slot == LEDGER_SLOT_ID || f->slot == LEDGER_SLOT_AMOUNT ||
                      f->slot == LEDGER_SLOT_LIMIT || f->slot == LEDGER_SLOT_EXTRA);
            CHECK(f->slot <= LEDGER_SLOT_EXTRA);
            CHECK((slots_used & (1u << f->slot)) == 0); /* no two fields share a slot */
            slots_used |= 1u << f->slot;
        }
        CHECK(strcmp(names, doc_kinds[kind][1]) == 0);
        if (test_failures != failures)
            fprintf(stderr, "  (kind %u %s: fields %s)\n", kind, k->name, names);
    }
}

/* ---- encode / decode ------------------------------------------------------------------ */

static void check_decode_errors(const uint8_t *bytes, size_t len, unsigned kind)
{
    uint8_t buf[LEDGER_TX_BYTES_MAX + 1];
    ledger_tx out;
    memcpy(buf, bytes, len);
    for (size_t cut = 0; cut < len; cut++)
        if (ledger_tx_decode(&out, buf, cut) != LEDGER_TX_MALFORMED) {
            fprintf(stderr, "kind %u: truncation to %zu of %zu bytes not TX_MALFORMED\n", kind, cut,
                    len);
            test_failures++;
        }
    buf[len] = 0;
    CHECK_CODE(ledger_tx_decode(&out, buf, len + 1), LEDGER_TX_MALFORMED);
    buf[len] = 0xff;
    CHECK_CODE(ledger_tx_decode(&out, buf, len + 1), LEDGER_TX_MALFORMED);

    static const uint8_t versions[] = {0, 2, 0x81, 255};
    for (size_t i = 0; i < sizeof versions; i++) {
        buf[0] = versions[i];
        CHECK_CODE(ledger_tx_decode(&out, buf, len), LEDGER_TX_MALFORMED);
    }
    buf[0] = bytes[0];
    static const uint8_t unknown[] = {0, LEDGER_TX_KIND_MAX + 1, 255};
    for (size_t i = 0; i < sizeof unknown; i++) {
        buf[1] = unknown[i];
        CHECK_CODE(ledger_tx_decode(&out, buf, len), LEDGER_KIND_UNKNOWN);
    }
    buf[1] = bytes[1];
    CHECK_CODE(ledger_tx_decode(&out, buf, len), LEDGER_OK);
}

/* Every single-byte change after the header decodes to a transaction with another hash. */
static void check_hash_sensitivity(const ledger_tx *tx, const uint8_t *bytes, size_t len,
                                   test_rng *r)
{
    uint8_t h0[LEDGER_HASH_SIZE], h1[LEDGER_HASH_SIZE], buf[LEDGER_TX_BYTES_MAX];
    ledger_tx t;
    CHECK_CODE(ledger_tx_hash(h0, "lstd-a", tx), LEDGER_OK);
    memcpy(buf, bytes, len);
    for (size_t i = 2; i < len; i++) {
        uint8_t delta = (uint8_t)(1 + test_rng_below(r, 255));
        buf[i] ^= delta;
        int rc = ledger_tx_decode(&t, buf, len);
        CHECK_CODE(rc, LEDGER_OK);
        CHECK_CODE(ledger_tx_hash(h1, "lstd-a", &t), LEDGER_OK);
        if (rc == LEDGER_OK && memcmp(h0, h1, sizeof h0) == 0) {
            fprintf(stderr, "kind %u: hash unchanged by byte %zu\n", tx->kind, i);
            test_failures++;
        }
        buf[i] ^= delta;
    }
    /* The kind byte: the same slots under another kind hash differently. */
    t = *tx;
    t.kind = (uint8_t)(tx->kind % LEDGER_TX_KIND_MAX + 1);
    CHECK_CODE(ledger_tx_hash(h1, "lstd-a", &t), LEDGER_OK);
    CHECK(memcmp(h0, h1, sizeof h0) != 0);
    /* The ledger id. */
    CHECK_CODE(ledger_tx_hash(h1, "lstd-b", tx), LEDGER_OK);
    CHECK(memcmp(h0, h1, sizeof h0) != 0);
    CHECK_CODE(ledger_tx_hash(h1, "lstd-a", tx), LEDGER_OK);
    CHECK(memcmp(h0, h1, sizeof h0) == 0);
}

/* Garbage in the slots the kind does not use changes neither the bytes nor the hash. */
static void check_unused_slots(const ledger_tx *tx, const uint8_t *bytes, size_t len)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    ledger_tx g = *tx;
    unsigned used = 0;
    for (unsigned i = 0; i < k->field_count; i++)
        used |= 1u << k->fields[i].slot;
    for (unsigned s = LEDGER_SLOT_ACCOUNT; s <= LEDGER_SLOT_EXTRA; s++)
        if ((used & (1u << s)) == 0)
            memset(ledger_tx_slot(&g, s), 0xa7, s <= LEDGER_SLOT_REF ? 32 : 8);
    uint8_t gb[LEDGER_TX_BYTES_MAX], h0[LEDGER_HASH_SIZE], h1[LEDGER_HASH_SIZE];
    CHECK(ledger_tx_encode(gb, &g) == len);
    CHECK(memcmp(gb, bytes, len) == 0);
    CHECK_CODE(ledger_tx_hash(h0, "lstd-a", tx), LEDGER_OK);
    CHECK_CODE(ledger_tx_hash(h1, "lstd-a", &g), LEDGER_OK);
    CHECK(memcmp(h0, h1, sizeof h0) == 0);
}

static void test_roundtrip(test_rng *r, uint64_t iters)
{
    for (unsigned kind = 1; kind <= LEDGER_TX_KIND_MAX; kind++) {
        const ledger_kind_info *k = ledger_kind_lookup(kind);
        if (k == NULL)
            continue;
        size_t want = 2 + 32 + 8;
        for (unsigned i = 0; i < k->field_count; i++)
            want += field_size(&k->fields[i]);
        CHECK(want <= LEDGER_TX_BYTES_MAX);
        for (uint64_t it = 0; it < iters; it++) {
            int failures = test_failures;
            ledger_tx tx, back;
            uint8_t bytes[LEDGER_TX_BYTES_MAX];
            fx_random_tx(&tx, kind, r);
            size_t len = ledger_tx_encode(bytes, &tx);
            CHECK_U64(len, want);
            if (len != want)
                break;
            CHECK(bytes[0] == 1 && bytes[1] == kind);
            CHECK(memcmp(bytes + 2, tx.signer, 32) == 0);
            memset(&back, 0x5c, sizeof back); /* decode must clear what the kind leaves unused */
            CHECK_CODE(ledger_tx_decode(&back, bytes, len), LEDGER_OK);
            CHECK(memcmp(&back, &tx, sizeof tx) == 0);
            check_decode_errors(bytes, len, kind);
            check_unused_slots(&tx, bytes, len);
            if (it < 4)
                check_hash_sensitivity(&tx, bytes, len, r);
            if (test_failures != failures) {
                fprintf(stderr, "  (kind %u %s, iteration %" PRIu64 ")\n", kind, k->name, it);
                return;
            }
        }
    }
}

/* ---- exact layout and hash for one transaction ---------------------------------------- */

static void test_transfer_layout(void)
{
    ledger_tx tx;
    uint8_t want[82], bytes[LEDGER_TX_BYTES_MAX], h[LEDGER_HASH_SIZE], h2[LEDGER_HASH_SIZE];
    memset(&tx, 0, sizeof tx);
    tx.kind = LEDGER_TX_TRANSFER;
    memset(tx.signer, 0x11, 32);
    tx.nonce = 1;
    memset(tx.account, 0x22, 32);
    tx.amount = 5;

    memset(want, 0, sizeof want);
    want[0] = 0x01;
    want[1] = 0x02;
    memset(want + 2, 0x11, 32);
    want[41] = 0x01; /* nonce, big-endian u64 at 34..41 */
    memset(want + 42, 0x22, 32);
    want[81] = 0x05; /* shares, big-endian u64 at 74..81 */
    CHECK_U64(ledger_tx_encode(bytes, &tx), sizeof want);
    CHECK(memcmp(bytes, want, sizeof want) == 0);

    /* Big-endian integers: a multi-byte nonce. */
    tx.nonce = 0x0102030405060708u;
    CHECK_U64(ledger_tx_encode(bytes, &tx), sizeof want);
    for (int i = 0; i < 8; i++)
        CHECK(bytes[34 + i] == i + 1);
    tx.nonce = 1;

    /* The hash is the tagged hash "lstd/tx/v1/" || ledger_id over the signing bytes. */
    CHECK_CODE(ledger_tx_hash(h, "lstd-a", &tx), LEDGER_OK);
    crypto_tagged_hash(h2, "lstd/tx/v1/lstd-a", 17, want, sizeof want);
    CHECK(memcmp(h, h2, sizeof h) == 0);
    /* Pinned value, computed independently (Python hashlib) from the README's definition. */
    static const uint8_t pinned[32] = {0xbd, 0x41, 0x8f, 0x1f, 0xc2, 0xae, 0x11, 0x79,
                                       0xbc, 0x4c, 0x39, 0x54, 0x60, 0xeb, 0xe2, 0xb1,
                                       0x4a, 0x10, 0x8c, 0xa4, 0x9d, 0x20, 0x59, 0xd8,
                                       0xaa, 0x12, 0x3f, 0x97, 0x6c, 0xab, 0xd7, 0x0a};
    CHECK(memcmp(h, pinned, sizeof h) == 0);

    /* account2 is not a transfer field: it changes nothing. */
    memset(tx.account2, 0x33, 32);
    tx.id = 77;
    tx.limit = 88;
    memset(tx.ref, 0x44, 32);
    CHECK_U64(ledger_tx_encode(bytes, &tx), sizeof want);
    CHECK(memcmp(bytes, want, sizeof want) == 0);
    CHECK_CODE(ledger_tx_hash(h2, "lstd-a", &tx), LEDGER_OK);
    CHECK(memcmp(h, h2, sizeof h) == 0);

    /* Another ledger id, another hash; a 32-byte id works. */
    CHECK_CODE(ledger_tx_hash(h2, "lstd-b", &tx), LEDGER_OK);
    CHECK(memcmp(h, h2, sizeof h) != 0);
    CHECK_CODE(ledger_tx_hash(h, "0123456789abcdef0123456789abcdeX", &tx), LEDGER_OK);
    CHECK_CODE(ledger_tx_hash(h2, "0123456789abcdef0123456789abcdeY", &tx), LEDGER_OK);
    CHECK(memcmp(h, h2, sizeof h) != 0);
}

static void test_unknown_kind_encode(void)
{
    ledger_tx tx;
    uint8_t bytes[LEDGER_TX_BYTES_MAX], h[LEDGER_HASH_SIZE];
    static const unsigned bad[] = {0, LEDGER_TX_KIND_MAX + 1, 255};
    memset(&tx, 0, sizeof tx);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tx.kind = (uint8_t)bad[i];
        CHECK_U64(ledger_tx_encode(bytes, &tx), 0);
        CHECK_CODE(ledger_tx_hash(h, "lstd-a", &tx), LEDGER_KIND_UNKNOWN);
    }
    /* Short inputs: the header decides. */
    static const uint8_t v1_unknown[2] = {1, 0}, v2_transfer[2] = {2, LEDGER_TX_TRANSFER};
    CHECK_CODE(ledger_tx_decode(&tx, v1_unknown, 2), LEDGER_KIND_UNKNOWN);
    CHECK_CODE(ledger_tx_decode(&tx, v2_transfer, 2), LEDGER_TX_MALFORMED);
    CHECK_CODE(ledger_tx_decode(&tx, v2_transfer, 1), LEDGER_TX_MALFORMED);
    CHECK_CODE(ledger_tx_decode(&tx, v2_transfer, 0), LEDGER_TX_MALFORMED);
}

int main(void)
{
    uint64_t seed = test_seed();
    uint64_t iters = test_env_u64("LSTD_TX_ITERS", 40);
    test_rng r;
    test_rng_seed(&r, seed);

    test_kind_table();
    test_transfer_layout();
    test_unknown_kind_encode();
    test_roundtrip(&r, iters);
    return test_finish("test_tx");
}
