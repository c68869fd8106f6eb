/* ledger_report.c - operator balance reports: time-bounded sanity limits, fees, vesting, slashing
 */
#include "ledger_internal.h"

typedef struct report_effect {
    uint64_t gain, loss;
    uint64_t fee_treasury, fee_operator; /* shares minted */
    uint64_t fee_assets; /* part of the gain that backs the fee shares: vested now */
    uint64_t fee_treasury_bps, fee_operator_bps;
} report_effect;

uint64_t ledger_epoch_at(const ledger_pool *p, uint64_t now)
{
    uint64_t n, epoch_s = p->params[LEDGER_PARAM_EPOCH_S];
    if (now < p->epoch_anchor_ts || epoch_s == 0) /* neither happens: genesis checks both */
        return p->epoch_anchor;
    n = (now - p->epoch_anchor_ts) / epoch_s;
    return p->epoch_anchor > UINT64_MAX - n ? UINT64_MAX : p->epoch_anchor + n;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

void ledger_report_fees(const ledger_pool *p, const ledger_operator *o, uint64_t now,
                        uint64_t *treasury_bps, uint64_t *operator_bps)
{
    *treasury_bps = min_u64(o->period_treasury_bps, ledger_fee_in_force(&p->treasury_fee, now));
    *operator_bps = min_u64(o->period_fee_bps, ledger_fee_in_force(&o->fee, now));
}

/* Sanity limits relative to the operator's expected balance E, over the seconds since its last
 * applied report (or its registration), measured in batch times:
 *   gain: gain * year * 10000 <= MAX_APR_BPS * E * elapsed_s   (annualised increase)
 *   loss: loss * 10000 <= MAX_DROP_BPS * E                      (one-off decrease)
 * The gain test is exact for any elapsed time: it compares ceil(lhs / (MAX_APR_BPS * E)) with
 * elapsed_s, so no product can overflow. */
static int check_limits(const ledger_batch *b, const ledger_operator *o, const report_effect *e)
{
    const uint64_t *prm = b->pool.params;
    uint64_t elapsed_s = b->now - min_u64(o->last_report_ts, b->now);
    if (e->gain > 0) {
        math_u128 lhs = (math_u128)e->gain * SECONDS_PER_YEAR * LEDGER_BPS;
        math_u128 per_s = (math_u128)prm[LEDGER_PARAM_MAX_APR_BPS] * o->balance;
        if (per_s == 0 || (lhs + per_s - 1) / per_s > elapsed_s)
            return LEDGER_REPORT_APR_EXCEEDED;
    }
    if (e->loss > 0 &&
        (math_u128)e->loss * LEDGER_BPS > (math_u128)prm[LEDGER_PARAM_MAX_DROP_BPS] * o->balance)
        return LEDGER_REPORT_DROP_EXCEEDED;
    return LEDGER_OK;
}

/* Fee shares for reward R at fee F (bps of P = 10000), worth exactly F/P of R once R and the
 * pool's unvested reward U have vested: with T = A + U,
 *   fee = floor(R*F*S / ((T+R)*P - R*F))  - rounds DOWN (holders keep the dust).
 * They are minted at once, backed by fee_assets = ceil(fee*A/S) of the gain, which vests at
 * once: the rate does not move when they are minted (ceil: it cannot fall). The rest of the
 * gain vests over VEST_S. The operator gets floor(fee * F_op / F), the treasury the rest.
 * When (T+R)*P = R*F (only A = U = 0 at F = 100%) no fee is due: holders keep the recovery. */
static int compute_fees(const ledger_pool *p, report_effect *e)
{
    uint64_t f = e->fee_treasury_bps + e->fee_operator_bps, fee;
    if (e->gain == 0 || f == 0)
        return LEDGER_OK;
    if (f > LEDGER_BPS)
        return LEDGER_FEE_TOO_HIGH;
    math_u128 num = (math_u128)e->gain * f;
    math_u128 den = ((math_u128)p->assets + p->unvested + e->gain) * LEDGER_BPS - num;
    if (den == 0)
        return LEDGER_OK;
    if (!math_mul_div_floor_wide(&fee, num, p->shares, den) ||
        !math_mul_div_ceil(&e->fee_assets, fee, p->assets, p->shares))
        return LEDGER_OVERFLOW;
    e->fee_operator = (uint64_t)((math_u128)fee * e->fee_operator_bps / f);
    e->fee_treasury = fee - e->fee_operator;
    return LEDGER_OK;
}

static int compute_effect(const ledger_batch *b, const ledger_operator *o, uint64_t balance,
                          report_effect *e)
{
    const ledger_pool *p = &b->pool;
    uint64_t t;
    memset(e, 0, sizeof *e);
    if (balance >= o->balance)
        e->gain = balance - o->balance;
    else
        e->loss = o->balance - balance;
    ledger_report_fees(p, o, b->now, &e->fee_treasury_bps, &e->fee_operator_bps);
    if (!math_add(&t, p->assets, p->unvested) || !math_add(&t, t, e->gain))
        return LEDGER_OVERFLOW;
    int rc = compute_fees(p, e);
    if (rc != LEDGER_OK)
        return rc;
    if (!math_add(&t, p->shares, e->fee_treasury) || !math_add(&t, t, e->fee_operator))
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

/* A gain: the fee part vests now, the rest over VEST_S. A loss lowers A at once (from the
 * vested assets first, so that nobody can exit at the old rate), the rest from U. */
static void pool_book(ledger_pool *p, const report_effect *e, uint64_t now)
{
    uint64_t from_assets = min_u64(p->assets, e->loss);
    p->assets += e->fee_assets; /* fee_assets <= gain; A + U + gain fits */
    pool_vest_add(p, e->gain - e->fee_assets, now);
    p->assets -= from_assets;
    p->unvested -= e->loss - from_assets; /* loss <= operator balance <= A + U */
    p->shares += e->fee_treasury + e->fee_operator;
    p->total_rewards += e->gain;
    p->total_slashed += e->loss;
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
    pool_book(p, e, b->now);
    fee_settle(&p->treasury_fee, b->now);
    fee_settle(&o->fee, b->now);
    o->period_treasury_bps = p->treasury_fee.bps;
    o->period_fee_bps = o->fee.bps;
    o->balance = o->reported_balance = balance;
    o->funded_since = o->exited_since = 0;
    o->last_epoch = epoch;
    o->last_report_ts = b->now;
    o->fees_earned += e->fee_operator;
    o->held_epoch = o->held_balance = o->held_performance_bps = 0;
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

int report_book(ledger_batch *b, ledger_operator *o, uint64_t epoch, uint64_t balance,
                const oracle_tuple *agreed, uint64_t out[4])
{
    report_effect e;
    int rc = compute_effect(b, o, balance, &e);
    if (rc == LEDGER_OK)
        rc = apply_effect(b, o, epoch, balance, &e);
    if (rc == LEDGER_OK)
        rc = oracle_settle(b, o->id, epoch, agreed);
    if (rc == LEDGER_OK)
        effect_out(&e, out);
    return rc;
}

int report_check(const ledger_batch *b, const ledger_operator *o, uint64_t balance)
{
    report_effect e;
    int rc = compute_effect(b, o, balance, &e);
    return rc == LEDGER_OK ? check_limits(b, o, &e) : rc;
}

int report_submit(ledger_batch *b, ledger_operator *o, const oracle_tuple *t, bool by_committee,
                  uint64_t out[4])
{
    report_effect e;
    int rc = compute_effect(b, o, t->balance, &e);
    if (rc != LEDGER_OK)
        return rc;
    rc = check_limits(b, o, &e);
    if (rc != LEDGER_OK) {
        o->held_epoch = t->epoch;
        o->held_balance = t->balance;
        o->held_performance_bps = by_committee ? t->performance_bps : LEDGER_PERFORMANCE_NONE;
        int wrc = save_operator(b, o);
        return wrc != LEDGER_OK ? wrc : rc;
    }
    return report_book(b, o, t->epoch, t->balance, by_committee ? t : NULL, out);
}

int check_report_epoch(const ledger_batch *b, uint64_t epoch)
{
    return epoch > ledger_epoch_at(&b->pool, b->now) ? LEDGER_EPOCH_IN_FUTURE : LEDGER_OK;
}

/* report(operator_id, epoch, balance) by the operator's key, in operator report mode. A report
 * outside the sanity limits is rejected and held (a rejection that writes) until the admin
 * accepts it. out: gain, loss, treasury fee shares, operator fee shares. */
int op_report(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    if (b->pool.report_mode == LEDGER_REPORT_MODE_COMMITTEE)
        return LEDGER_OPERATOR_REPORTS_DISABLED;
    int rc = load_operator(b, tx->id, &o);
    if (rc != LEDGER_OK)
        return rc;
    if (!key_eq(tx->signer, o.key))
        return LEDGER_NOT_OPERATOR;
    if (tx->limit <= o.last_epoch)
        return LEDGER_EPOCH_NOT_INCREASING;
    rc = check_report_epoch(b, tx->limit);
    if (rc != LEDGER_OK)
        return rc;
    oracle_tuple t = {tx->limit, tx->amount, LEDGER_PERFORMANCE_NONE};
    return report_submit(b, &o, &t, false, out);
}

/* report_accept(operator_id, epoch, balance) by the admin: applies the held report with exactly
 * these values, bypassing the sanity limits; a report a committee quorum agreed on is compared
 * with the members' votes as when a quorum applies one. out: as report. */
int op_report_accept(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    int rc = load_operator(b, tx->id, &o);
    if (rc != LEDGER_OK)
        return rc;
    if (o.held_epoch == 0 || o.held_epoch != tx->limit || o.held_balance != tx->amount)
        return LEDGER_REPORT_NOT_PENDING;
    /* held_epoch > last_epoch always (applying any report clears the hold), and it had started
     * when it was held */
    oracle_tuple t = {tx->limit, tx->amount, o.held_performance_bps};
    bool by_committee = o.held_performance_bps != LEDGER_PERFORMANCE_NONE;
    return report_book(b, &o, tx->limit, tx->amount, by_committee ? &t : NULL, out);
}

/* operator_reset(operator_id, epoch, balance) by the admin: re-anchors a frozen or misreported
 * operator. Its last epoch becomes `epoch` (lower or higher, but started), any held report is
 * dropped, and `balance` is booked as a report without the sanity limits. out: as report. */
int op_operator_reset(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    int rc = load_operator(b, tx->id, &o);
    if (rc == LEDGER_OK)
        rc = check_report_epoch(b, tx->limit);
    return rc == LEDGER_OK ? report_book(b, &o, tx->limit, tx->amount, NULL, out) : rc;
}
