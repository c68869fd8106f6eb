/* ledger_withdrawal.c - FIFO withdrawal queue: request, cancel, finalize, settle */
#include "ledger_internal.h"

static int load_request(ledger_batch *b, uint64_t id, ledger_withdrawal *w)
{
    int rc = ledger_read_withdrawal(b->st, id, w);
    return rc == LEDGER_STORE_NOTFOUND ? LEDGER_WITHDRAWAL_NOT_FOUND : rc;
}

/* withdraw_request(shares, min_amount_out); records floor(s*A/S) (rounds toward the pool).
 * out: request id, amount at request. */
int op_withdraw_request(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_account a;
    ledger_withdrawal w;
    uint64_t amount;
    if (b->pool.pause_flags & LEDGER_PAUSE_WITHDRAWALS)
        return LEDGER_WITHDRAWALS_PAUSED;
    if (tx->amount == 0)
        return LEDGER_AMOUNT_ZERO;
    int rc = ledger_read_account(b->st, tx->signer, &a);
    if (rc != LEDGER_OK)
        return rc;
    if (a.shares < tx->amount)
        return LEDGER_INSUFFICIENT_SHARES;
    rc = ledger_shares_to_amount(&b->pool, tx->amount, &amount);
    if (rc != LEDGER_OK)
        return rc;
    if (amount == 0)
        return LEDGER_WITHDRAWAL_TOO_SMALL;
    if (amount < tx->limit)
        return LEDGER_MIN_AMOUNT_OUT_NOT_MET;
    memset(&w, 0, sizeof w);
    w.id = b->pool.next_request_id;
    memcpy(w.owner, tx->signer, LEDGER_KEY_SIZE);
    w.shares = tx->amount;
    w.amount_at_request = amount;
    w.min_amount_out = tx->limit;
    w.requested = b->now;
    w.status = LEDGER_WD_PENDING;
    a.shares -= tx->amount;
    a.queued += tx->amount;
    rc = save_account(b, tx->signer, &a);
    if (rc == LEDGER_OK)
        rc = save_withdrawal(b, &w);
    if (rc == LEDGER_OK)
        rc = save_index(b, LEDGER_T_ACCOUNT_WD, w.owner, w.id, NULL, 0);
    if (rc != LEDGER_OK)
        return rc;
    b->pool.next_request_id++;
    b->pool.queue_count++;            /* bounded by the request ids */
    b->pool.queue_shares += w.shares; /* queued shares <= S */
    b->pool.queue_amount += amount;   /* 128 bits: quotes at different rates can exceed 2^64 */
    out[0] = w.id;
    out[1] = amount;
    return LEDGER_OK;
}

/* withdraw_cancel(request_id) by the owner while pending; out: shares returned. */
int op_withdraw_cancel(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_withdrawal w;
    ledger_account a;
    int rc = load_request(b, tx->id, &w);
    if (rc != LEDGER_OK)
        return rc;
    if (!key_eq(w.owner, tx->signer))
        return LEDGER_WITHDRAWAL_NOT_OWNER;
    if (w.status != LEDGER_WD_PENDING)
        return LEDGER_WITHDRAWAL_NOT_PENDING;
    rc = ledger_read_account(b->st, w.owner, &a);
    if (rc != LEDGER_OK)
        return rc;
    a.queued -= w.shares;
    a.shares += w.shares; /* free + queued <= S */
    w.status = LEDGER_WD_CANCELLED;
    b->pool.queue_count--;
    b->pool.queue_shares -= w.shares;
    b->pool.queue_amount -= w.amount_at_request;
    rc = save_account(b, w.owner, &a);
    out[0] = w.shares;
    return rc == LEDGER_OK ? save_withdrawal(b, &w) : rc;
}

/* Payout of a pending request at the finalization snapshot (A_f, S_f):
 * min(amount at request, floor(s*A_f/S_f)) - rounds down, and never above what was quoted,
 * so a rate rise after the request stays with the pool. */
static int payout(const ledger_pool *snap, const ledger_withdrawal *w, uint64_t *pay)
{
    uint64_t now_value;
    int rc = ledger_shares_to_amount(snap, w->shares, &now_value);
    if (rc != LEDGER_OK)
        return rc;
    *pay = now_value < w->amount_at_request ? now_value : w->amount_at_request;
    return LEDGER_OK;
}

typedef struct finalize_sum {
    uint64_t paid, burned, count_paid, count_returned;
    uint64_t shares, quoted; /* of every pending request handled, paid or returned */
} finalize_sum;

/* Pass 1 (no writes) when write is false; pass 2 applies to requests and owners. */
static int finalize_pass(ledger_batch *b, const ledger_pool *snap, uint64_t up_to, bool write,
                         finalize_sum *sum)
{
    memset(sum, 0, sizeof *sum);
    for (uint64_t id = b->pool.finalized_through + 1; id <= up_to; id++) {
        ledger_withdrawal w;
        ledger_account a;
        uint64_t pay;
        int rc = load_request(b, id, &w);
        if (rc == LEDGER_OK && w.status != LEDGER_WD_PENDING)
            continue;
        if (rc == LEDGER_OK)
            rc = payout(snap, &w, &pay);
        if (rc != LEDGER_OK)
            return rc == LEDGER_WITHDRAWAL_NOT_FOUND ? LEDGER_STORE_CORRUPT : rc;
        bool returned = pay < w.min_amount_out;
        sum->shares += w.shares;
        sum->quoted += w.amount_at_request;
        if (returned) {
            sum->count_returned++;
        } else {
            sum->count_paid++;
            sum->paid += pay; /* sum of floors of parts of A_f <= A: no overflow */
            sum->burned += w.shares;
        }
        if (!write)
            continue;
        rc = ledger_read_account(b->st, w.owner, &a);
        if (rc != LEDGER_OK)
            return rc;
        a.queued -= w.shares;
        if (returned)
            a.shares += w.shares;
        w.status = returned ? LEDGER_WD_RETURNED : LEDGER_WD_FINALIZED;
        w.paid = returned ? 0 : pay;
        w.finalized = b->now;
        rc = save_account(b, w.owner, &a);
        if (rc == LEDGER_OK)
            rc = save_withdrawal(b, &w);
        if (rc != LEDGER_OK)
            return rc;
    }
    return LEDGER_OK;
}

/* withdraw_finalize(up_to_id) by the custodian: every pending request with id <= up_to_id is
 * paid from the buffer (or returned if below its min_amount_out), its shares burned.
 * Bunker mode: while held reports would book a loss, the snapshot rate is the rate accepting
 * them would leave, (A - held loss) / S, so that no exit escapes a known loss.
 * out: requests paid, total paid, shares burned, requests returned. */
int op_withdraw_finalize(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_pool *p = &b->pool, snap = b->pool;
    finalize_sum sum;
    snap.assets -= snap.held_loss < snap.assets ? snap.held_loss : snap.assets;
    if (p->pause_flags & LEDGER_PAUSE_WITHDRAWALS)
        return LEDGER_WITHDRAWALS_PAUSED;
    if (tx->id <= p->finalized_through)
        return LEDGER_FINALIZE_NOTHING;
    if (tx->id >= p->next_request_id)
        return LEDGER_FINALIZE_BEYOND_QUEUE;
    if (tx->id - p->finalized_through > LEDGER_FINALIZE_MAX)
        return LEDGER_FINALIZE_TOO_MANY;
    if (snap.assets == 0)
        return LEDGER_POOL_EMPTY;
    int rc = finalize_pass(b, &snap, tx->id, false, &sum);
    if (rc != LEDGER_OK)
        return rc;
    if (sum.paid > p->buffer)
        return LEDGER_INSUFFICIENT_BUFFER;
    rc = finalize_pass(b, &snap, tx->id, true, &sum);
    if (rc != LEDGER_OK)
        return rc;
    p->assets -= sum.paid;
    p->buffer -= sum.paid;
    p->shares -= sum.burned;
    p->payable += sum.paid; /* 128 bits, like total_paid, which bounds it */
    p->total_paid += sum.paid;
    p->finalized_through = tx->id;
    p->queue_count -= sum.count_paid + sum.count_returned;
    p->queue_shares -= sum.shares;
    p->queue_amount -= sum.quoted;
    out[0] = sum.count_paid;
    out[1] = sum.paid;
    out[2] = sum.burned;
    out[3] = sum.count_returned;
    return LEDGER_OK;
}

/* withdraw_settle(request_id, payout_ref) by the custodian; out: amount paid. */
int op_withdraw_settle(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_withdrawal w;
    int rc = load_request(b, tx->id, &w);
    if (rc != LEDGER_OK)
        return rc;
    if (w.status == LEDGER_WD_SETTLED)
        return LEDGER_WITHDRAWAL_ALREADY_SETTLED;
    if (w.status != LEDGER_WD_FINALIZED)
        return LEDGER_WITHDRAWAL_NOT_FINALIZED;
    w.status = LEDGER_WD_SETTLED;
    memcpy(w.payout_ref, tx->ref, LEDGER_REF_SIZE);
    w.settled = b->now;
    rc = save_withdrawal(b, &w);
    if (rc != LEDGER_OK)
        return rc;
    b->pool.payable -= w.paid;
    out[0] = w.paid;
    return LEDGER_OK;
}
