/* ledger_tx.c - the transaction kinds as data, their fixed signing layout and hash */
#include "ledger_internal.h"

#include "crypto.h"

#define TX_VERSION 1

#define ACCOUNT(n)                                                                                 \
    {                                                                                              \
        n, LEDGER_F_KEY, LEDGER_SLOT_ACCOUNT                                                       \
    }
#define ACCOUNT2(n)                                                                                \
    {                                                                                              \
        n, LEDGER_F_KEY, LEDGER_SLOT_ACCOUNT2                                                      \
    }
#define REF(n)                                                                                     \
    {                                                                                              \
        n, LEDGER_F_REF, LEDGER_SLOT_REF                                                           \
    }
#define ID(n)                                                                                      \
    {                                                                                              \
        n, LEDGER_F_U64, LEDGER_SLOT_ID                                                            \
    }
#define AMOUNT(n)                                                                                  \
    {                                                                                              \
        n, LEDGER_F_U64, LEDGER_SLOT_AMOUNT                                                        \
    }
#define LIMIT(n)                                                                                   \
    {                                                                                              \
        n, LEDGER_F_U64, LEDGER_SLOT_LIMIT                                                         \
    }
#define EXTRA(n)                                                                                   \
    {                                                                                              \
        n, LEDGER_F_U64, LEDGER_SLOT_EXTRA                                                         \
    }

static const ledger_field f_deposit[] = {ACCOUNT("to"), AMOUNT("amount"), REF("external_ref"),
                                         LIMIT("min_shares_out")};
static const ledger_field f_transfer[] = {ACCOUNT("to"), AMOUNT("shares")};
static const ledger_field f_approve[] = {ACCOUNT("spender"), AMOUNT("shares")};
static const ledger_field f_transfer_from[] = {ACCOUNT("owner"), ACCOUNT2("to"), AMOUNT("shares")};
static const ledger_field f_lock[] = {ACCOUNT("beneficiary"), AMOUNT("shares"), LIMIT("expiry")};
static const ledger_field f_release[] = {ID("lien_id"), AMOUNT("shares")};
static const ledger_field f_seize[] = {ID("lien_id"), AMOUNT("shares"), ACCOUNT("to")};
static const ledger_field f_wd_request[] = {AMOUNT("shares"), LIMIT("min_amount_out")};
static const ledger_field f_wd_cancel[] = {ID("request_id")};
static const ledger_field f_wd_finalize[] = {ID("up_to_id")};
static const ledger_field f_wd_settle[] = {ID("request_id"), REF("payout_ref")};
static const ledger_field f_op_amount[] = {ID("operator_id"), AMOUNT("amount")};
static const ledger_field f_report[] = {ID("operator_id"), LIMIT("epoch"), AMOUNT("balance")};
static const ledger_field f_op_register[] = {ACCOUNT("operator"), ACCOUNT2("fee_account"),
                                             AMOUNT("fee_bps")};
static const ledger_field f_op_active[] = {ID("operator_id"), LIMIT("active")};
static const ledger_field f_op_keys[] = {ID("operator_id"), ACCOUNT("operator"),
                                         ACCOUNT2("fee_account")};
static const ledger_field f_fee_set[] = {ID("operator_id"), AMOUNT("fee_bps")};
static const ledger_field f_param_set[] = {ID("param"), AMOUNT("value")};
static const ledger_field f_pause_set[] = {AMOUNT("flags")};
static const ledger_field f_role_set[] = {ID("role"), ACCOUNT("account")};
/* The committee: oracle_add / oracle_remove name the member and the quorum M that holds once the
 * committee has changed; quorum_set sets who books balances (mode), M and whether a quorum of at
 * most half the members is accepted (minority); a vote is a report with the validators' duty
 * performance (its four u64 fields take the id, limit, amount and extra slots). */
static const ledger_field f_oracle_member[] = {ACCOUNT("member"), AMOUNT("quorum")};
static const ledger_field f_quorum_set[] = {ID("mode"), AMOUNT("quorum"), LIMIT("minority")};
static const ledger_field f_vote[] = {ID("operator_id"), LIMIT("epoch"), AMOUNT("balance"),
                                      EXTRA("performance_bps")};

#define KIND(name, fields, ...)                                                                    \
    {                                                                                              \
        name, (uint8_t)(sizeof fields / sizeof fields[0]), fields,                                 \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

static const ledger_kind_info kinds[LEDGER_TX_KIND_MAX + 1] = {
    [LEDGER_TX_DEPOSIT] = KIND("deposit", f_deposit, "shares_minted", "amount_credited"),
    [LEDGER_TX_TRANSFER] = KIND("transfer", f_transfer, "shares_moved"),
    [LEDGER_TX_APPROVE] = KIND("approve", f_approve, "allowance"),
    [LEDGER_TX_TRANSFER_FROM] =
        KIND("transfer_from", f_transfer_from, "shares_moved", "allowance_left"),
    [LEDGER_TX_LOCK] = KIND("lock", f_lock, "lien_id", "shares_locked", "value"),
    [LEDGER_TX_RELEASE] = KIND("release", f_release, "shares_released", "shares_left"),
    [LEDGER_TX_SEIZE] = KIND("seize", f_seize, "shares_seized", "value", "shares_left"),
    [LEDGER_TX_WITHDRAW_REQUEST] =
        KIND("withdraw_request", f_wd_request, "request_id", "amount_at_request"),
    [LEDGER_TX_WITHDRAW_CANCEL] = KIND("withdraw_cancel", f_wd_cancel, "shares_returned"),
    [LEDGER_TX_WITHDRAW_FINALIZE] = KIND("withdraw_finalize", f_wd_finalize, "requests_paid",
                                         "amount_paid", "shares_burned", "requests_returned"),
    [LEDGER_TX_WITHDRAW_SETTLE] = KIND("withdraw_settle", f_wd_settle, "amount_paid"),
    [LEDGER_TX_OPERATOR_FUND] = KIND("operator_fund", f_op_amount, "amount", "balance"),
    [LEDGER_TX_OPERATOR_EXIT] = KIND("operator_exit", f_op_amount, "amount", "balance"),
    [LEDGER_TX_REPORT] =
        KIND("report", f_report, "gain", "loss", "treasury_fee_shares", "operator_fee_shares"),
    [LEDGER_TX_REPORT_ACCEPT] = KIND("report_accept", f_report, "gain", "loss",
                                     "treasury_fee_shares", "operator_fee_shares"),
    [LEDGER_TX_OPERATOR_REGISTER] = KIND("operator_register", f_op_register, "operator_id"),
    [LEDGER_TX_OPERATOR_SET_ACTIVE] = KIND("operator_set_active", f_op_active, "active"),
    [LEDGER_TX_OPERATOR_SET_KEYS] = KIND("operator_set_keys", f_op_keys, "operator_id"),
    [LEDGER_TX_FEE_SET] = KIND("fee_set", f_fee_set, "fee_bps", "effective_at"),
    [LEDGER_TX_PARAM_SET] = KIND("param_set", f_param_set, "value"),
    [LEDGER_TX_PAUSE_SET] = KIND("pause_set", f_pause_set, "flags"),
    [LEDGER_TX_ROLE_SET] = KIND("role_set", f_role_set, "role"),
    [LEDGER_TX_OPERATOR_RESET] = KIND("operator_reset", f_report, "gain", "loss",
                                      "treasury_fee_shares", "operator_fee_shares"),
    [LEDGER_TX_ORACLE_ADD] = KIND("oracle_add", f_oracle_member, "members", "quorum"),
    [LEDGER_TX_ORACLE_REMOVE] =
        KIND("oracle_remove", f_oracle_member, "members", "quorum", "votes_removed"),
    [LEDGER_TX_QUORUM_SET] = KIND("quorum_set", f_quorum_set, "mode", "quorum", "members"),
    [LEDGER_TX_VOTE] = KIND("vote", f_vote, "support", "quorum", "gain", "loss"),
};

const ledger_kind_info *ledger_kind_lookup(unsigned kind)
{
    if (kind == 0 || kind > LEDGER_TX_KIND_MAX)
        return NULL;
    return &kinds[kind];
}

unsigned ledger_kind_by_name(const char *name)
{
    for (unsigned k = 1; k <= LEDGER_TX_KIND_MAX; k++)
        if (strcmp(kinds[k].name, name) == 0)
            return k;
    return 0;
}

void *ledger_tx_slot(ledger_tx *tx, unsigned slot)
{
    switch (slot) {
    case LEDGER_SLOT_ACCOUNT:
        return tx->account;
    case LEDGER_SLOT_ACCOUNT2:
        return tx->account2;
    case LEDGER_SLOT_REF:
        return tx->ref;
    case LEDGER_SLOT_ID:
        return &tx->id;
    case LEDGER_SLOT_AMOUNT:
        return &tx->amount;
    case LEDGER_SLOT_LIMIT:
        return &tx->limit;
    default:
        return &tx->extra;
    }
}

/* Layout: version u8 (1), kind u8, signer 32, nonce be64, then each field of the kind in
 * table order: keys and refs as 32 raw bytes, integers as be64. */
size_t ledger_tx_encode(uint8_t out[LEDGER_TX_BYTES_MAX], const ledger_tx *tx)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    ledger_tx *t = (ledger_tx *)tx; /* ledger_tx_slot serves decode too; encode only reads */
    enc e = {.buf = out, .cap = LEDGER_TX_BYTES_MAX};
    uint8_t head[2] = {TX_VERSION, tx->kind};
    if (k == NULL)
        return 0;
    enc_bytes(&e, head, 2);
    enc_bytes(&e, tx->signer, LEDGER_KEY_SIZE);
    enc_u64(&e, tx->nonce);
    for (unsigned i = 0; i < k->field_count; i++) {
        void *p = ledger_tx_slot(t, k->fields[i].slot);
        if (k->fields[i].type == LEDGER_F_U64)
            enc_u64(&e, *(uint64_t *)p);
        else
            enc_bytes(&e, p, 32);
    }
    return e.fail ? 0 : e.len;
}

int ledger_tx_decode(ledger_tx *tx, const uint8_t *bytes, size_t len)
{
    dec d = {.buf = bytes, .len = len};
    uint8_t head[2];
    memset(tx, 0, sizeof *tx);
    dec_bytes(&d, head, 2);
    if (d.fail || head[0] != TX_VERSION)
        return LEDGER_TX_MALFORMED;
    const ledger_kind_info *k = ledger_kind_lookup(head[1]);
    if (k == NULL)
        return LEDGER_KIND_UNKNOWN;
    tx->kind = head[1];
    dec_bytes(&d, tx->signer, LEDGER_KEY_SIZE);
    tx->nonce = dec_u64(&d);
    for (unsigned i = 0; i < k->field_count; i++) {
        void *p = ledger_tx_slot(tx, k->fields[i].slot);
        if (k->fields[i].type == LEDGER_F_U64)
            *(uint64_t *)p = dec_u64(&d);
        else
            dec_bytes(&d, p, 32);
    }
    return dec_done(&d) ? LEDGER_OK : LEDGER_TX_MALFORMED;
}

void ledger_tx_hasher_init(ledger_tx_hasher *h, const char *ledger_id)
{
    static const char prefix[] = "lstd/tx/v1/";
    char tag[sizeof prefix + LEDGER_ID_MAX];
    size_t id_len = strnlen(ledger_id, LEDGER_ID_MAX);
    memcpy(tag, prefix, sizeof prefix - 1);
    memcpy(tag + sizeof prefix - 1, ledger_id, id_len);
    crypto_tag_init(&h->tag, tag, sizeof prefix - 1 + id_len);
}

int ledger_tx_hash_with(uint8_t hash[LEDGER_HASH_SIZE], const ledger_tx_hasher *h,
                        const ledger_tx *tx)
{
    uint8_t bytes[LEDGER_TX_BYTES_MAX];
    size_t len = ledger_tx_encode(bytes, tx);
    if (len == 0)
        return LEDGER_KIND_UNKNOWN;
    crypto_tag_hash(hash, &h->tag, bytes, len);
    return LEDGER_OK;
}

int ledger_tx_hash(uint8_t hash[LEDGER_HASH_SIZE], const char *ledger_id, const ledger_tx *tx)
{
    ledger_tx_hasher h;
    ledger_tx_hasher_init(&h, ledger_id);
    return ledger_tx_hash_with(hash, &h, tx);
}
