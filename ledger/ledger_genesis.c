/* ledger_genesis.c - validate a genesis configuration and write the initial state */
#include "ledger_internal.h"

#include "crypto.h"

#define GENESIS_VERSION 3 /* 2: epoch_origin; 3: report mode and oracle committee */

static const struct {
    uint64_t def, lo, hi;
    const char *name;
} param_info[LEDGER_PARAM_COUNT] = {
#define LEDGER_PARAM_INFO(name, num, d, l, h) [num] = {d, l, h, #name},
    LEDGER_PARAMS(LEDGER_PARAM_INFO)
#undef LEDGER_PARAM_INFO
};

const char *ledger_param_name(unsigned param)
{
    return param > 0 && param < LEDGER_PARAM_COUNT ? param_info[param].name : NULL;
}

bool param_in_range(unsigned param, uint64_t value)
{
    return param > 0 && param < LEDGER_PARAM_COUNT && value >= param_info[param].lo &&
           value <= param_info[param].hi;
}

void ledger_genesis_defaults(ledger_genesis *g)
{
    memset(g, 0, sizeof *g);
    g->decimals = 9;
    g->dead_shares = 1000000;
    g->treasury_fee_bps = 500;
    for (unsigned i = 1; i < LEDGER_PARAM_COUNT; i++)
        g->params[i] = param_info[i].def;
    g->report_mode = LEDGER_REPORT_MODE_OPERATOR;
}

static bool ledger_id_valid(const char *id)
{
    size_t n = strnlen(id, LEDGER_ID_MAX + 1);
    if (n == 0 || n > LEDGER_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (id[i] < 0x21 || id[i] > 0x7e)
            return false;
    return true;
}

/* The committee: distinct valid member keys, a known mode and a quorum that keeps the rule. */
static bool genesis_oracle_valid(const ledger_genesis *g)
{
    if (g->oracle_member_count > LEDGER_ORACLE_MEMBERS_MAX || g->oracle_minority > 1 ||
        (g->report_mode != LEDGER_REPORT_MODE_OPERATOR &&
         g->report_mode != LEDGER_REPORT_MODE_COMMITTEE) ||
        oracle_quorum_check(g->report_mode, g->oracle_member_count, g->oracle_quorum,
                            g->oracle_minority) != LEDGER_OK)
        return false;
    for (uint64_t i = 0; i < g->oracle_member_count; i++) {
        if (!crypto_pubkey_valid(g->oracle_members[i]))
            return false;
        for (uint64_t j = 0; j < i; j++)
            if (key_eq(g->oracle_members[i], g->oracle_members[j]))
                return false;
    }
    return true;
}

static bool genesis_valid(const ledger_genesis *g)
{
    if (!ledger_id_valid(g->ledger_id) || g->decimals > 18 ||
        g->dead_shares < LEDGER_DEAD_SHARES_MIN || g->epoch_origin > g->timestamp ||
        g->treasury_fee_bps > LEDGER_BPS || g->operator_count > LEDGER_GENESIS_OPERATORS_MAX)
        return false;
    if (!crypto_pubkey_valid(g->admin) || !crypto_pubkey_valid(g->custodian) ||
        !crypto_pubkey_valid(g->treasury))
        return false;
    for (unsigned i = 1; i < LEDGER_PARAM_COUNT; i++)
        if (!param_in_range(i, g->params[i]))
            return false;
    for (uint64_t i = 0; i < g->operator_count; i++) {
        const ledger_genesis_operator *o = &g->operators[i];
        if (!crypto_pubkey_valid(o->key) || !crypto_pubkey_valid(o->fee_account) ||
            o->fee_bps + g->treasury_fee_bps > LEDGER_BPS)
            return false;
        for (uint64_t j = 0; j < i; j++)
            if (key_eq(o->key, g->operators[j].key))
                return false;
    }
    return genesis_oracle_valid(g);
}

size_t ledger_genesis_encode(uint8_t *out, size_t cap, const ledger_genesis *g)
{
    enc e = {.buf = out, .cap = cap};
    uint8_t head[2] = {GENESIS_VERSION, (uint8_t)strnlen(g->ledger_id, LEDGER_ID_MAX)};
    enc_bytes(&e, head, 2);
    enc_bytes(&e, g->ledger_id, head[1]);
    enc_u64(&e, g->decimals);
    enc_u64(&e, g->timestamp);
    enc_bytes(&e, g->admin, LEDGER_KEY_SIZE);
    enc_bytes(&e, g->custodian, LEDGER_KEY_SIZE);
    enc_bytes(&e, g->treasury, LEDGER_KEY_SIZE);
    enc_u64(&e, g->dead_shares);
    enc_u64(&e, g->epoch_origin);
    enc_u64(&e, g->treasury_fee_bps);
    for (unsigned i = 1; i < LEDGER_PARAM_COUNT; i++)
        enc_u64(&e, g->params[i]);
    enc_u64(&e, g->operator_count);
    for (uint64_t i = 0; i < g->operator_count && i < LEDGER_GENESIS_OPERATORS_MAX; i++) {
        enc_bytes(&e, g->operators[i].key, LEDGER_KEY_SIZE);
        enc_bytes(&e, g->operators[i].fee_account, LEDGER_KEY_SIZE);
        enc_u64(&e, g->operators[i].fee_bps);
    }
    enc_u64(&e, g->report_mode);
    enc_u64(&e, g->oracle_quorum);
    enc_u64(&e, g->oracle_minority);
    enc_u64(&e, g->oracle_member_count);
    for (uint64_t i = 0; i < g->oracle_member_count && i < LEDGER_ORACLE_MEMBERS_MAX; i++)
        enc_bytes(&e, g->oracle_members[i], LEDGER_KEY_SIZE);
    return e.fail ? 0 : e.len;
}

static int genesis_decode(ledger_genesis *g, const uint8_t *in, size_t len)
{
    dec d = {.buf = in, .len = len};
    uint8_t head[2];
    memset(g, 0, sizeof *g);
    dec_bytes(&d, head, 2);
    if (d.fail || head[0] != GENESIS_VERSION || head[1] > LEDGER_ID_MAX)
        return LEDGER_STORE_CORRUPT;
    dec_bytes(&d, g->ledger_id, head[1]);
    g->decimals = dec_u64(&d);
    g->timestamp = dec_u64(&d);
    dec_bytes(&d, g->admin, LEDGER_KEY_SIZE);
    dec_bytes(&d, g->custodian, LEDGER_KEY_SIZE);
    dec_bytes(&d, g->treasury, LEDGER_KEY_SIZE);
    g->dead_shares = dec_u64(&d);
    g->epoch_origin = dec_u64(&d);
    g->treasury_fee_bps = dec_u64(&d);
    for (unsigned i = 1; i < LEDGER_PARAM_COUNT; i++)
        g->params[i] = dec_u64(&d);
    g->operator_count = dec_u64(&d);
    if (g->operator_count > LEDGER_GENESIS_OPERATORS_MAX)
        return LEDGER_STORE_CORRUPT;
    for (uint64_t i = 0; i < g->operator_count; i++) {
        dec_bytes(&d, g->operators[i].key, LEDGER_KEY_SIZE);
        dec_bytes(&d, g->operators[i].fee_account, LEDGER_KEY_SIZE);
        g->operators[i].fee_bps = dec_u64(&d);
    }
    g->report_mode = dec_u64(&d);
    g->oracle_quorum = dec_u64(&d);
    g->oracle_minority = dec_u64(&d);
    g->oracle_member_count = dec_u64(&d);
    if (g->oracle_member_count > LEDGER_ORACLE_MEMBERS_MAX)
        return LEDGER_STORE_CORRUPT;
    for (uint64_t i = 0; i < g->oracle_member_count; i++)
        dec_bytes(&d, g->oracle_members[i], LEDGER_KEY_SIZE);
    return dec_done(&d) ? LEDGER_OK : LEDGER_STORE_CORRUPT;
}

void ledger_genesis_hash(uint8_t out[LEDGER_HASH_SIZE], const uint8_t *bytes, size_t len)
{
    static const char tag[] = "lstd/genesis/v1";
    crypto_tagged_hash(out, tag, sizeof tag - 1, bytes, len);
}

int ledger_genesis_read(ledger_store *st, ledger_genesis *g)
{
    uint8_t key = META_GENESIS;
    const uint8_t *v;
    size_t n;
    int rc = st->get(st->self, LEDGER_T_META, &key, 1, &v, &n);
    if (rc == LEDGER_STORE_NOTFOUND)
        return LEDGER_NOT_INITIALIZED;
    return rc != 0 ? rc : genesis_decode(g, v, n);
}

static int genesis_operators(ledger_batch *b, const ledger_genesis *g)
{
    for (uint64_t i = 0; i < g->operator_count; i++) {
        ledger_operator o;
        uint8_t id[8];
        memset(&o, 0, sizeof o);
        o.id = i + 1;
        memcpy(o.key, g->operators[i].key, LEDGER_KEY_SIZE);
        memcpy(o.fee_account, g->operators[i].fee_account, LEDGER_KEY_SIZE);
        o.fee.bps = g->operators[i].fee_bps;
        o.active = 1;
        o.last_report_ts = g->timestamp;
        o.period_fee_bps = o.fee.bps;
        o.period_treasury_bps = g->treasury_fee_bps;
        be64_put(id, o.id);
        int rc = save_operator(b, &o);
        if (rc == LEDGER_OK)
            rc = st_put(b, LEDGER_T_OPERATOR_KEY, o.key, LEDGER_KEY_SIZE, id, 8);
        if (rc != LEDGER_OK)
            return rc;
    }
    return LEDGER_OK;
}

static int genesis_members(ledger_batch *b, const ledger_genesis *g)
{
    for (uint64_t i = 0; i < g->oracle_member_count; i++) {
        ledger_oracle_member m;
        memset(&m, 0, sizeof m);
        memcpy(m.key, g->oracle_members[i], LEDGER_KEY_SIZE);
        m.added = g->timestamp;
        int rc = save_oracle_member(b, &m);
        if (rc != LEDGER_OK)
            return rc;
    }
    return LEDGER_OK;
}

int ledger_genesis_apply(ledger_store *st, const ledger_genesis *g)
{
    ledger_batch b;
    uint8_t bytes[LEDGER_GENESIS_BYTES_MAX], key = META_GENESIS;
    ledger_account dead = {.shares = g->dead_shares};
    const uint8_t *old;
    size_t old_len;
    int found = st->get(st->self, LEDGER_T_META, &key, 1, &old, &old_len);
    if (found == 0)
        return LEDGER_ALREADY_INITIALIZED; /* never overwrite a ledger */
    if (found != LEDGER_STORE_NOTFOUND)
        return found;
    if (!genesis_valid(g))
        return LEDGER_GENESIS_INVALID;
    size_t n = ledger_genesis_encode(bytes, sizeof bytes, g);
    memset(&b, 0, sizeof b);
    b.st = st;
    b.now = g->timestamp;
    ledger_pool *p = &b.pool;
    p->assets = p->buffer = p->shares = g->dead_shares;
    p->total_deposited = g->dead_shares;
    memcpy(p->params, g->params, sizeof p->params);
    p->treasury_fee.bps = g->treasury_fee_bps;
    memcpy(p->admin, g->admin, LEDGER_KEY_SIZE);
    memcpy(p->custodian, g->custodian, LEDGER_KEY_SIZE);
    memcpy(p->treasury, g->treasury, LEDGER_KEY_SIZE);
    p->operator_count = g->operator_count;
    p->next_lien_id = p->next_request_id = 1;
    p->decimals = g->decimals;
    p->dead_shares = g->dead_shares;
    p->stake_limit_current = g->params[LEDGER_PARAM_STAKE_LIMIT_MAX];
    p->stake_limit_ts = g->timestamp;
    p->vest_ts = p->vest_end = g->timestamp;
    p->epoch_anchor_ts = g->epoch_origin;
    p->report_mode = g->report_mode;
    p->oracle_members = g->oracle_member_count;
    p->oracle_quorum = g->oracle_quorum;
    p->oracle_minority = g->oracle_minority;
    b.chain.next_seq = b.chain.next_batch = 1;
    b.chain.last_ts = g->timestamp;
    ledger_genesis_hash(b.chain.head, bytes, n);
    int rc = st->put(st->self, LEDGER_T_META, &key, 1, bytes, n);
    if (rc == LEDGER_OK)
        rc = save_account(&b, ledger_dead_account, &dead);
    if (rc == LEDGER_OK)
        rc = genesis_operators(&b, g);
    if (rc == LEDGER_OK)
        rc = genesis_members(&b, g);
    if (rc == LEDGER_OK)
        rc = save_pool(&b);
    if (rc == LEDGER_OK)
        rc = digest_fold(st, b.chain.digest);
    return rc == LEDGER_OK ? write_chain(st, &b.chain) : rc;
}
