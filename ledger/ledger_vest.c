/* ledger_vest.c - reward smoothing: reported rewards vest linearly into the rate */
#include "ledger_internal.h"

#define VEST_S_MAX 2592000u /* the range of param VEST_S (ledger.h) */

void ledger_pool_vest(ledger_pool *p, uint64_t now)
{
    uint64_t vested;
    if (p->unvested == 0 || now <= p->vest_ts)
        return;
    if (now >= p->vest_end)
        vested = p->unvested;
    else /* vest_end > now > vest_ts; the quotient is < unvested */
        vested =
            (uint64_t)((math_u128)p->unvested * (now - p->vest_ts) / (p->vest_end - p->vest_ts));
    p->assets += vested; /* A + U fits: checked when U was added */
    p->unvested -= vested;
    p->vest_ts = now;
}

/* Add `amount` to the unvested reward at `now` (the pool is vested to now). The schedule ends
 * at the amount-weighted mean of what remains of the old one and VEST_S for the new amount,
 * rounded UP (later), so each base unit vests over VEST_S on average. VEST_S = 0 vests at once. */
void pool_vest_add(ledger_pool *p, uint64_t amount, uint64_t now)
{
    uint64_t period = p->params[LEDGER_PARAM_VEST_S];
    if (amount == 0)
        return;
    if (period == 0) {
        p->assets += amount;
        return;
    }
    uint64_t remaining = p->unvested > 0 && p->vest_end > now ? p->vest_end - now : 0;
    if (remaining > VEST_S_MAX) /* only a schedule saturated at the end of time */
        remaining = VEST_S_MAX;
    /* remaining and period are at most VEST_S's maximum (< 2^22): no overflow in 128 bits */
    math_u128 weight = (math_u128)p->unvested * remaining + (math_u128)amount * period;
    math_u128 total = (math_u128)p->unvested + amount;
    p->unvested += amount;
    p->vest_ts = now;
    uint64_t span = (uint64_t)((weight + total - 1) / total);
    p->vest_end = now > UINT64_MAX - span ? UINT64_MAX : now + span;
}
