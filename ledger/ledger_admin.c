/* ledger_admin.c - admin settings: fees (delayed increases), parameters, pauses, role keys */
#include "ledger_internal.h"

static int max_operator_fee(ledger_batch *b, uint64_t *max)
{
    *max = 0;
    for (uint64_t id = 1; id <= b->pool.operator_count; id++) {
        ledger_operator o;
        int rc = load_operator(b, id, &o);
        if (rc != LEDGER_OK)
            return rc == LEDGER_OPERATOR_NOT_FOUND ? LEDGER_STORE_CORRUPT : rc;
        if (fee_ceiling(&o.fee) > *max)
            *max = fee_ceiling(&o.fee);
    }
    return LEDGER_OK;
}

/* A decrease applies at once and cancels a scheduled increase; an increase is scheduled
 * FEE_DELAY_S after now, so holders see it coming. */
static void fee_schedule(ledger_fee *f, uint64_t bps, uint64_t now, uint64_t delay_s)
{
    uint64_t current = ledger_fee_in_force(f, now);
    if (bps <= current) {
        *f = (ledger_fee){bps, 0, 0};
        return;
    }
    f->bps = current;
    f->pending_bps = bps;
    f->pending_at = now > UINT64_MAX - delay_s ? UINT64_MAX : now + delay_s;
}

/* A decrease also lowers the fee recorded for the running report periods, so that a report is
 * charged the lowest fee in force at any time of its period (see ledger/README.md). For the
 * treasury fee that is every operator's period. */
static int period_fees_lower(ledger_batch *b, uint64_t id, ledger_operator *o, uint64_t bps)
{
    if (id != 0) {
        if (o->period_fee_bps > bps)
            o->period_fee_bps = bps;
        return LEDGER_OK;
    }
    for (uint64_t i = 1; i <= b->pool.operator_count; i++) {
        ledger_operator x;
        int rc = load_operator(b, i, &x);
        if (rc != LEDGER_OK)
            return rc == LEDGER_OPERATOR_NOT_FOUND ? LEDGER_STORE_CORRUPT : rc;
        if (x.period_treasury_bps <= bps)
            continue;
        x.period_treasury_bps = bps;
        rc = save_operator(b, &x);
        if (rc != LEDGER_OK)
            return rc;
    }
    return LEDGER_OK;
}

/* fee_set(operator_id, fee_bps): operator_id 0 is the treasury fee.
 * out: fee_bps, time it takes effect. */
int op_fee_set(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    ledger_pool *p = &b->pool;
    uint64_t other = 0, delay = p->params[LEDGER_PARAM_FEE_DELAY_S];
    ledger_fee *f = &p->treasury_fee;
    int rc = tx->id == 0 ? max_operator_fee(b, &other) : load_operator(b, tx->id, &o);
    if (rc != LEDGER_OK)
        return rc;
    if (tx->id != 0) {
        other = fee_ceiling(&p->treasury_fee);
        f = &o.fee;
    }
    if (tx->amount > LEDGER_BPS || tx->amount + other > LEDGER_BPS)
        return LEDGER_FEE_TOO_HIGH;
    fee_schedule(f, tx->amount, b->now, delay);
    if (f->pending_at == 0) {
        rc = period_fees_lower(b, tx->id, &o, tx->amount);
        if (rc != LEDGER_OK)
            return rc;
    }
    out[0] = tx->amount;
    out[1] = f->pending_at != 0 ? f->pending_at : b->now;
    return tx->id == 0 ? LEDGER_OK : save_operator(b, &o);
}

/* Changing EPOCH_S re-anchors the epoch clock at the start of the epoch running now, so the
 * epoch count stays continuous: epochs already started stay started. */
static void epoch_reanchor(ledger_pool *p, uint64_t now)
{
    uint64_t epoch_s = p->params[LEDGER_PARAM_EPOCH_S];
    uint64_t n = now > p->epoch_anchor_ts ? (now - p->epoch_anchor_ts) / epoch_s : 0;
    p->epoch_anchor = ledger_epoch_at(p, now);
    p->epoch_anchor_ts += n * epoch_s; /* <= now */
}

/* param_set(param, value). Changing the stake limit first accrues the limit to now, then
 * clamps it to the new maximum (a limit switched on from 0 starts full). Changing EPOCH_S
 * re-anchors the epoch clock; changing VEST_S applies to rewards reported afterwards.
 * out: value. */
int op_param_set(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_pool *p = &b->pool;
    if (ledger_param_name((unsigned)tx->id) == NULL || tx->id >= LEDGER_PARAM_COUNT)
        return LEDGER_PARAM_UNKNOWN;
    if (!param_in_range((unsigned)tx->id, tx->amount))
        return LEDGER_PARAM_OUT_OF_RANGE;
    if (tx->id == LEDGER_PARAM_STAKE_LIMIT_MAX || tx->id == LEDGER_PARAM_STAKE_LIMIT_REFILL) {
        uint64_t avail;
        bool was_off = !stake_limit_available(p, b->now, &avail);
        p->params[tx->id] = tx->amount;
        uint64_t max = p->params[LEDGER_PARAM_STAKE_LIMIT_MAX];
        p->stake_limit_current = was_off || avail > max ? max : avail;
        p->stake_limit_ts = b->now;
    } else {
        if (tx->id == LEDGER_PARAM_EPOCH_S)
            epoch_reanchor(p, b->now);
        p->params[tx->id] = tx->amount;
    }
    out[0] = tx->amount;
    return LEDGER_OK;
}

/* pause_set(flags): the new set of paused activities (bits: 1 deposits, 2 transfers,
 * 4 withdrawals). out: flags. */
int op_pause_set(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    if (tx->amount & ~(uint64_t)LEDGER_PAUSE_ALL)
        return LEDGER_PAUSE_FLAGS_UNKNOWN;
    b->pool.pause_flags = tx->amount;
    out[0] = tx->amount;
    return LEDGER_OK;
}

/* role_set(role, account): rotate the admin (1), custodian (2) or treasury (3) key. */
int op_role_set(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    uint8_t *slot;
    switch (tx->id) {
    case LEDGER_ROLE_ADMIN:
        slot = b->pool.admin;
        break;
    case LEDGER_ROLE_CUSTODIAN:
        slot = b->pool.custodian;
        break;
    case LEDGER_ROLE_TREASURY:
        slot = b->pool.treasury;
        break;
    default:
        return LEDGER_ROLE_UNKNOWN;
    }
    int rc = check_recipient(b, tx->account);
    if (rc != LEDGER_OK)
        return rc;
    memcpy(slot, tx->account, LEDGER_KEY_SIZE);
    out[0] = tx->id;
    return LEDGER_OK;
}
