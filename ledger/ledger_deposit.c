/* ledger_deposit.c - custodian-credited deposits: mint floor(amount*S/A) under a stake limit */
#include "ledger_internal.h"

/* Limit available now = min(max, current + elapsed * refill), saturating. A maximum of
 * 2^64-1 is a limit like any other: the flag, not the value, says whether one is set. */
bool stake_limit_available(const ledger_pool *p, uint64_t now, uint64_t *avail)
{
    uint64_t max = p->params[LEDGER_PARAM_STAKE_LIMIT_MAX], refill;
    *avail = 0;
    if (max == 0)
        return false;
    uint64_t elapsed = now > p->stake_limit_ts ? now - p->stake_limit_ts : 0;
    if (__builtin_mul_overflow(elapsed, p->params[LEDGER_PARAM_STAKE_LIMIT_REFILL], &refill) ||
        !math_add(avail, p->stake_limit_current, refill) || *avail > max)
        *avail = max;
    return true;
}

static int record_ref(ledger_batch *b, const uint8_t ref[LEDGER_REF_SIZE])
{
    uint8_t seq[8];
    be64_put(seq, b->chain.next_seq);
    return st_put(b, LEDGER_T_DEPOSIT_REF, ref, LEDGER_REF_SIZE, seq, 8);
}

/* deposit(to, amount, external_ref, min_shares_out); out: shares minted, amount credited. */
int op_deposit(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_pool *p = &b->pool;
    uint64_t shares, assets, total, avail;
    bool limited = stake_limit_available(p, b->now, &avail);
    const uint8_t *v;
    size_t n;
    if (p->pause_flags & LEDGER_PAUSE_DEPOSITS)
        return LEDGER_DEPOSITS_PAUSED;
    if (tx->amount == 0)
        return LEDGER_AMOUNT_ZERO;
    int rc = check_recipient(b, tx->account);
    if (rc != LEDGER_OK)
        return rc;
    rc = b->st->get(b->st->self, LEDGER_T_DEPOSIT_REF, tx->ref, LEDGER_REF_SIZE, &v, &n);
    if (rc == 0)
        return LEDGER_DEPOSIT_REF_USED;
    if (rc != LEDGER_STORE_NOTFOUND)
        return rc;
    if (limited && tx->amount > avail)
        return LEDGER_STAKE_LIMIT_EXCEEDED;
    rc = ledger_amount_to_shares(p, tx->amount, &shares); /* floor: rounds toward the pool */
    if (rc != LEDGER_OK)
        return rc;
    if (shares == 0)
        return LEDGER_DEPOSIT_TOO_SMALL;
    if (shares < tx->limit)
        return LEDGER_SHARES_OUT_TOO_LOW;
    /* A + U + amount must fit: it is the buffer plus the operators' balances */
    if (!math_add(&assets, p->assets, tx->amount) || !math_add(&total, p->shares, shares) ||
        assets > UINT64_MAX - p->unvested)
        return LEDGER_OVERFLOW;
    /* every rule passed: write */
    rc = credit_shares(b, tx->account, shares);
    if (rc == LEDGER_OK)
        rc = record_ref(b, tx->ref);
    if (rc != LEDGER_OK)
        return rc;
    p->assets = assets;
    p->shares = total;
    p->buffer += tx->amount; /* buffer <= assets, which did not overflow */
    p->total_deposited += tx->amount;
    if (limited) {
        p->stake_limit_current = avail - tx->amount;
        p->stake_limit_ts = b->now;
    }
    out[0] = shares;
    out[1] = tx->amount;
    return LEDGER_OK;
}
