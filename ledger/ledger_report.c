/* ledger_report.c - operator balance reports: rewards with fee shares, slashing, sanity limits */
#include "ledger_internal.h"

#define ELAPSED_S_MAX (1ull << 32) /* bounds the limit arithmetic; ~136 years */

typedef struct report_effect {
    uint64_t gain, loss;
    uint64_t fee_treasury, fee_operator; /* shares minted */
    uint64_t fee_treasury_bps, fee_operator_bps;
} report_effect;

/* Seconds the report covers: epochs since the last report times EPOCH_S; for an operator's
 * first report, the time since it was registered. */
static uint64_t report_elapsed_s(const ledger_batch *b, const ledger_operator *o, uint64_t epoch)
{
    uint64_t s;
    if (o->report_count == 0)
        s = b->now - (o->last_report_ts < b->now ? o->last_report_ts : b->now);
    else if (__builtin_mul_overflow(epoch - o->last_epoch, b->pool.params[LEDGER_PARAM_EPOCH_S],
                                    &s))
        s = ELAPSED_S_MAX;
    return s < ELAPSED_S_MAX ? s : ELAPSED_S_MAX;
}

/* Sanity limits relative to the operator's expected balance E:
 *   gain: gain * year * 10000 <= MAX_APR_BPS * E * elapsed_s   (annualised increase)
 *   loss: loss * 10000 <= MAX_DROP_BPS * E                      (one-off decrease) */
static int check_limits(const ledger_batch *b, const ledger_operator *o, uint64_t epoch,
                        const report_effect *e)
{
    const uint64_t *prm = b->pool.params;
    if (e->gain > 0) {
        math_u128 lhs = (math_u128)e->gain * SECONDS_PER_YEAR * LEDGER_BPS;
        math_u128 rhs =
            (math_u128)prm[LEDGER_PARAM_MAX_APR_BPS] * o->balance * report_elapsed_s(b, o, epoch);
        if (lhs > rhs)
            return LEDGER_REPORT_APR_EXCEEDED;
    }
    if (e->loss > 0 &&
        (math_u128)e->loss * LEDGER_BPS > (math_u128)prm[LEDGER_PARAM_MAX_DROP_BPS] * o->balance)
        return LEDGER_REPORT_DROP_EXCEEDED;
    return LEDGER_OK;
}

/* Fee shares for reward R at fee F (bps of P = 10000), so that they are worth exactly F/P of R
 * after the reward: fee = floor(R*F*S / ((A+R)*P - R*F)) - rounds DOWN (holders keep dust).
 * The operator gets floor(fee * F_op / F), the treasury the remainder. */
static int compute_fees(const ledger_pool *p, report_effect *e)
{
    uint64_t f = e->fee_treasury_bps + e->fee_operator_bps, fee;
    if (e->gain == 0 || f == 0)
        return LEDGER_OK;
    if (f > LEDGER_BPS)
        return LEDGER_FEE_TOO_HIGH;
    math_u128 num = (math_u128)e->gain * f;
    math_u128 den = ((math_u128)p->assets + e->gain) * LEDGER_BPS - num;
    if (!math_mul_div_floor_wide(&fee, num, p->shares, den))
        return LEDGER_OVERFLOW;
    e->fee_operator = (uint64_t)((math_u128)fee * e->fee_operator_bps / f);
    e->fee_treasury = fee - e->fee_operator;
    return LEDGER_OK;
}

static int compute_effect(const ledger_batch *b, const ledger_operator *o, uint64_t balance,
                          report_effect *e)
{
    uint64_t t;
    memset(e, 0, sizeof *e);
    if (balance >= o->balance)
        e->gain = balance - o->balance;
    else
        e->loss = o->balance - balance;
    e->fee_treasury_bps = fee_effective(&b->pool.treasury_fee, b->now);
    e->fee_operator_bps = fee_effective(&o->fee, b->now);
    int rc = compute_fees(&b->pool, e);
    if (rc != LEDGER_OK)
        return rc;
    if (!math_add(&t, b->pool.assets, e->gain) || !math_add(&t, b->pool.total_rewards, e->gain) ||
        !math_add(&t, b->pool.shares, e->fee_treasury) || !math_add(&t, t, e->fee_operator))
        return LEDGER_OVERFLOW;
    return LEDGER_OK;
}

/* A matured scheduled fee increase becomes the fee in force. */
static void fee_settle(ledger_fee *f, uint64_t now)
{
    if (f->pending_at != 0 && now >= f->pending_at) {
        f->bps = f->pending_bps;
        f->pending_bps = f->pending_at = 0;
    }
}

static int apply_effect(ledger_batch *b, ledger_operator *o, uint64_t epoch, uint64_t balance,
                        const report_effect *e)
{
    ledger_pool *p = &b->pool;
    ledger_report_entry *r = &o->reports[o->report_count % LEDGER_REPORTS_KEPT];
    int rc = credit_shares(b, p->treasury, e->fee_treasury);
    if (rc == LEDGER_OK)
        rc = credit_shares(b, o->fee_account, e->fee_operator);
    if (rc != LEDGER_OK)
        return rc;
    fee_settle(&p->treasury_fee, b->now);
    fee_settle(&o->fee, b->now);
    p->assets = p->assets + e->gain - e->loss;
    p->shares += e->fee_treasury + e->fee_operator;
    p->total_rewards += e->gain;
    p->total_slashed += e->loss;
    o->balance = o->reported_balance = balance;
    o->funded_since = o->exited_since = 0;
    o->last_epoch = epoch;
    o->last_report_ts = b->now;
    o->fees_earned += e->fee_operator;
    o->held_epoch = o->held_balance = 0;
    *r = (ledger_report_entry){epoch,   balance, b->now,
                               e->gain, e->loss, e->fee_treasury + e->fee_operator};
    o->report_count++;
    return save_operator(b, o);
}

static void effect_out(const report_effect *e, uint64_t out[4])
{
    out[0] = e->gain;
    out[1] = e->loss;
    out[2] = e->fee_treasury;
    out[3] = e->fee_operator;
}

/* report(operator_id, epoch, balance) by the operator's key. A report outside the sanity
 * limits is rejected and held (the only rejection that writes) until the admin accepts it.
 * out: gain, loss, treasury fee shares, operator fee shares. */
int op_report(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    report_effect e;
    int rc = load_operator(b, tx->id, &o);
    if (rc != LEDGER_OK)
        return rc;
    if (!key_eq(tx->signer, o.key))
        return LEDGER_NOT_OPERATOR;
    if (tx->limit <= o.last_epoch)
        return LEDGER_EPOCH_NOT_INCREASING;
    rc = compute_effect(b, &o, tx->amount, &e);
    if (rc != LEDGER_OK)
        return rc;
    rc = check_limits(b, &o, tx->limit, &e);
    if (rc != LEDGER_OK) {
        o.held_epoch = tx->limit;
        o.held_balance = tx->amount;
        int wrc = save_operator(b, &o);
        return wrc != LEDGER_OK ? wrc : rc;
    }
    rc = apply_effect(b, &o, tx->limit, tx->amount, &e);
    effect_out(&e, out);
    return rc;
}

/* report_accept(operator_id, epoch, balance) by the admin: applies the held report with exactly
 * these values, bypassing the sanity limits. out: as report. */
int op_report_accept(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    report_effect e;
    int rc = load_operator(b, tx->id, &o);
    if (rc != LEDGER_OK)
        return rc;
    if (o.held_epoch == 0 || o.held_epoch != tx->limit || o.held_balance != tx->amount)
        return LEDGER_REPORT_NOT_PENDING;
    /* held_epoch > last_epoch always: applying any report clears the hold */
    rc = compute_effect(b, &o, tx->amount, &e);
    if (rc == LEDGER_OK)
        rc = apply_effect(b, &o, tx->limit, tx->amount, &e);
    effect_out(&e, out);
    return rc;
}
