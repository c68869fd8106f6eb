/* ledger_transfer.c - exact share transfers, allowances and transfer_from */
#include "ledger_internal.h"

/* Move exactly `shares` free shares from `from` to `to`. Validates, then writes. */
static int move_shares(ledger_batch *b, const uint8_t from[32], const uint8_t to[32],
                       uint64_t shares)
{
    ledger_account src, dst;
    if (b->pool.pause_flags & LEDGER_PAUSE_TRANSFERS)
        return LEDGER_TRANSFERS_PAUSED;
    if (shares == 0)
        return LEDGER_AMOUNT_ZERO;
    int rc = read_recipient(b, to, &dst);
    if (rc == LEDGER_OK)
        rc = ledger_read_account(b->st, from, &src);
    if (rc != LEDGER_OK)
        return rc;
    if (src.shares < shares)
        return LEDGER_INSUFFICIENT_SHARES;
    if (key_eq(from, to))
        return LEDGER_OK; /* a transfer to oneself moves nothing */
    if (!math_add(&dst.shares, dst.shares, shares))
        return LEDGER_OVERFLOW;
    src.shares -= shares;
    rc = save_account(b, from, &src);
    return rc == LEDGER_OK ? save_account(b, to, &dst) : rc;
}

/* transfer(to, shares); out: shares moved. */
int op_transfer(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    int rc = move_shares(b, tx->signer, tx->account, tx->amount);
    out[0] = tx->amount;
    return rc;
}

/* approve(spender, shares): sets the allowance (0 removes it); out: allowance. */
int op_approve(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    if (key_eq(tx->signer, tx->account))
        return LEDGER_SELF_APPROVAL;
    int rc = check_recipient(b, tx->account);
    if (rc != LEDGER_OK)
        return rc;
    out[0] = tx->amount;
    return save_allowance(b, tx->signer, tx->account, tx->amount);
}

/* transfer_from(owner, to, shares), signed by the spender; out: shares moved, allowance left. */
int op_transfer_from(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    uint64_t allowance;
    if (b->pool.pause_flags & LEDGER_PAUSE_TRANSFERS)
        return LEDGER_TRANSFERS_PAUSED;
    if (tx->amount == 0)
        return LEDGER_AMOUNT_ZERO;
    int rc = ledger_read_allowance(b->st, tx->account, tx->signer, &allowance);
    if (rc != LEDGER_OK)
        return rc;
    if (allowance < tx->amount)
        return LEDGER_ALLOWANCE_EXCEEDED;
    rc = move_shares(b, tx->account, tx->account2, tx->amount);
    if (rc != LEDGER_OK)
        return rc;
    out[0] = tx->amount;
    out[1] = allowance - tx->amount;
    return save_allowance(b, tx->account, tx->signer, allowance - tx->amount);
}
