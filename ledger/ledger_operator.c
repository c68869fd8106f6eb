/* ledger_operator.c - operator registry and stake movements between buffer and validators */
#include "ledger_internal.h"

/* operator_fund(operator_id, amount) by the custodian: buffer -> validators; A unchanged.
 * out: amount, operator balance after. */
int op_operator_fund(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    ledger_pool *p = &b->pool;
    uint64_t balance;
    int rc = load_operator(b, tx->id, &o);
    if (rc != LEDGER_OK)
        return rc;
    if (!o.active)
        return LEDGER_OPERATOR_INACTIVE;
    if (tx->amount == 0)
        return LEDGER_AMOUNT_ZERO;
    if (tx->amount > p->buffer)
        return LEDGER_INSUFFICIENT_BUFFER;
    balance = o.balance + tx->amount; /* both parts of A + U: no overflow */
    uint64_t cap = p->params[LEDGER_PARAM_OPERATOR_CAP_BPS];
    /* cap check in 128 bits: balance * 10000 <= cap * (A + U) */
    if (cap != 0 &&
        (math_u128)balance * LEDGER_BPS > (math_u128)cap * ((math_u128)p->assets + p->unvested))
        return LEDGER_OPERATOR_CAP_EXCEEDED;
    o.balance = balance;
    o.funded_since += tx->amount;
    rc = save_operator(b, &o);
    if (rc != LEDGER_OK)
        return rc;
    p->buffer -= tx->amount;
    out[0] = tx->amount;
    out[1] = balance;
    return LEDGER_OK;
}

/* operator_exit(operator_id, amount) by the custodian or the operator: validators -> buffer.
 * out: amount, operator balance after. */
int op_operator_exit(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    int rc = load_operator(b, tx->id, &o);
    if (rc != LEDGER_OK)
        return rc;
    if (!key_eq(tx->signer, b->pool.custodian) && !key_eq(tx->signer, o.key))
        return LEDGER_NOT_OPERATOR_OR_CUSTODIAN;
    if (tx->amount == 0)
        return LEDGER_AMOUNT_ZERO;
    if (tx->amount > o.balance)
        return LEDGER_OPERATOR_BALANCE_EXCEEDED;
    o.balance -= tx->amount;
    o.exited_since += tx->amount;
    rc = save_operator(b, &o);
    if (rc != LEDGER_OK)
        return rc;
    b->pool.buffer += tx->amount;
    out[0] = tx->amount;
    out[1] = o.balance;
    return LEDGER_OK;
}

/* Key and fee-account checks shared by register and set_keys (id: the operator allowed to
 * already hold the key, 0 for none). */
static int check_operator_keys(ledger_batch *b, const ledger_tx *tx, uint64_t id)
{
    const uint8_t *v;
    size_t n;
    int rc = check_recipient(b, tx->account);
    if (rc == LEDGER_OK)
        rc = check_recipient(b, tx->account2);
    if (rc != LEDGER_OK)
        return rc;
    rc = b->st->get(b->st->self, LEDGER_T_OPERATOR_KEY, tx->account, LEDGER_KEY_SIZE, &v, &n);
    if (rc == LEDGER_STORE_NOTFOUND)
        return LEDGER_OK;
    if (rc != 0)
        return rc;
    return n == 8 && be64_get(v) == id ? LEDGER_OK : LEDGER_OPERATOR_KEY_IN_USE;
}

static int save_operator_key(ledger_batch *b, const ledger_operator *o)
{
    uint8_t id[8];
    be64_put(id, o->id);
    return st_put(b, LEDGER_T_OPERATOR_KEY, o->key, LEDGER_KEY_SIZE, id, 8);
}

/* operator_register(operator, fee_account, fee_bps) by the admin; out: operator id. */
int op_operator_register(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    ledger_pool *p = &b->pool;
    if (p->operator_count >= LEDGER_OPERATORS_MAX)
        return LEDGER_OPERATOR_LIMIT;
    int rc = check_operator_keys(b, tx, 0);
    if (rc != LEDGER_OK)
        return rc;
    uint64_t treasury = fee_ceiling(&p->treasury_fee);
    if (tx->amount > LEDGER_BPS - treasury)
        return LEDGER_FEE_TOO_HIGH;
    memset(&o, 0, sizeof o);
    o.id = p->operator_count + 1;
    memcpy(o.key, tx->account, LEDGER_KEY_SIZE);
    memcpy(o.fee_account, tx->account2, LEDGER_KEY_SIZE);
    o.fee.bps = tx->amount;
    o.active = 1;
    o.last_report_ts = b->now;
    o.period_fee_bps = o.fee.bps;
    o.period_treasury_bps = ledger_fee_in_force(&p->treasury_fee, b->now);
    rc = save_operator(b, &o);
    if (rc == LEDGER_OK)
        rc = save_operator_key(b, &o);
    if (rc != LEDGER_OK)
        return rc;
    p->operator_count++;
    out[0] = o.id;
    return LEDGER_OK;
}

/* operator_set_active(operator_id, active) by the admin. An inactive operator cannot be
 * funded but can still report and exit. out: active. */
int op_operator_set_active(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    int rc = load_operator(b, tx->id, &o);
    if (rc != LEDGER_OK)
        return rc;
    if (tx->limit > 1)
        return LEDGER_PARAM_OUT_OF_RANGE;
    o.active = tx->limit;
    out[0] = tx->limit;
    return save_operator(b, &o);
}

/* operator_set_keys(operator_id, operator, fee_account) by the admin: key rotation. */
int op_operator_set_keys(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    int rc = load_operator(b, tx->id, &o);
    if (rc == LEDGER_OK)
        rc = check_operator_keys(b, tx, o.id);
    if (rc != LEDGER_OK)
        return rc;
    rc = st_del(b, LEDGER_T_OPERATOR_KEY, o.key, LEDGER_KEY_SIZE);
    memcpy(o.key, tx->account, LEDGER_KEY_SIZE);
    memcpy(o.fee_account, tx->account2, LEDGER_KEY_SIZE);
    if (rc == LEDGER_OK)
        rc = save_operator(b, &o);
    out[0] = o.id;
    return rc == LEDGER_OK ? save_operator_key(b, &o) : rc;
}
