/* ledger_lien.c - collateral liens: lock, release (part or whole) and seize */
#include "ledger_internal.h"

enum { LIEN_ROLE_OWNER = 1, LIEN_ROLE_BENEFICIARY = 2 };

static int load_lien(ledger_batch *b, uint64_t id, ledger_lien *l)
{
    int rc = ledger_read_lien(b->st, id, l);
    return rc == LEDGER_STORE_NOTFOUND ? LEDGER_LIEN_NOT_FOUND : rc;
}

static bool lien_expired(const ledger_lien *l, uint64_t now)
{
    return l->expiry != 0 && now >= l->expiry;
}

static int index_lien(ledger_batch *b, const ledger_lien *l)
{
    uint8_t owner = LIEN_ROLE_OWNER, ben = LIEN_ROLE_BENEFICIARY;
    int rc = save_index(b, LEDGER_T_ACCOUNT_LIEN, l->owner, l->id, &owner, 1);
    return rc == LEDGER_OK ? save_index(b, LEDGER_T_ACCOUNT_LIEN, l->beneficiary, l->id, &ben, 1)
                           : rc;
}

/* Take `shares` out of lien l (deleting it when empty); the owner's locked count drops. */
static int lien_reduce(ledger_batch *b, ledger_lien *l, ledger_account *owner, uint64_t shares)
{
    int rc;
    l->shares -= shares;
    owner->locked -= shares;
    if (l->shares > 0)
        rc = save_lien(b, l);
    else {
        uint8_t key[8];
        be64_put(key, l->id);
        rc = st_del(b, LEDGER_T_LIEN, key, 8);
        if (rc == LEDGER_OK)
            rc = delete_index(b, LEDGER_T_ACCOUNT_LIEN, l->owner, l->id);
        if (rc == LEDGER_OK)
            rc = delete_index(b, LEDGER_T_ACCOUNT_LIEN, l->beneficiary, l->id);
    }
    return rc == LEDGER_OK ? save_account(b, l->owner, owner) : rc;
}

/* lock(beneficiary, shares, expiry); out: lien id, shares, value at the current rate. */
int op_lock(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_account a;
    ledger_lien l;
    uint64_t value;
    if (b->pool.pause_flags & LEDGER_PAUSE_TRANSFERS)
        return LEDGER_TRANSFERS_PAUSED;
    if (tx->amount == 0)
        return LEDGER_AMOUNT_ZERO;
    if (key_eq(tx->signer, tx->account))
        return LEDGER_LIEN_SELF;
    int rc = check_recipient(b, tx->account);
    if (rc != LEDGER_OK)
        return rc;
    if (tx->limit != 0 && tx->limit <= b->now)
        return LEDGER_EXPIRY_IN_PAST;
    rc = ledger_read_account(b->st, tx->signer, &a);
    if (rc != LEDGER_OK)
        return rc;
    if (a.shares < tx->amount)
        return LEDGER_INSUFFICIENT_SHARES;
    rc = ledger_shares_to_amount(&b->pool, tx->amount, &value); /* floor */
    if (rc != LEDGER_OK)
        return rc;
    memset(&l, 0, sizeof l);
    l.id = b->pool.next_lien_id;
    memcpy(l.owner, tx->signer, LEDGER_KEY_SIZE);
    memcpy(l.beneficiary, tx->account, LEDGER_KEY_SIZE);
    l.shares = tx->amount;
    l.expiry = tx->limit;
    l.created = b->now;
    a.shares -= tx->amount;
    a.locked += tx->amount; /* locked <= S - free, cannot overflow */
    rc = save_account(b, tx->signer, &a);
    if (rc == LEDGER_OK)
        rc = save_lien(b, &l);
    if (rc == LEDGER_OK)
        rc = index_lien(b, &l);
    if (rc != LEDGER_OK)
        return rc;
    b->pool.next_lien_id++;
    out[0] = l.id;
    out[1] = l.shares;
    out[2] = value;
    return LEDGER_OK;
}

/* release(lien_id, shares): by the beneficiary at any time, by the owner once expired.
 * out: shares released, shares left in the lien. */
int op_release(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_lien l;
    ledger_account owner;
    int rc = load_lien(b, tx->id, &l);
    if (rc != LEDGER_OK)
        return rc;
    if (!key_eq(tx->signer, l.beneficiary)) {
        if (!key_eq(tx->signer, l.owner))
            return LEDGER_LIEN_NOT_BENEFICIARY;
        if (!lien_expired(&l, b->now))
            return LEDGER_LIEN_NOT_EXPIRED;
    }
    if (tx->amount == 0)
        return LEDGER_AMOUNT_ZERO;
    if (tx->amount > l.shares)
        return LEDGER_LIEN_SHARES_EXCEEDED;
    rc = ledger_read_account(b->st, l.owner, &owner);
    if (rc != LEDGER_OK)
        return rc;
    if (!math_add(&owner.shares, owner.shares, tx->amount))
        return LEDGER_OVERFLOW;
    rc = lien_reduce(b, &l, &owner, tx->amount);
    out[0] = tx->amount;
    out[1] = l.shares;
    return rc;
}

/* seize(lien_id, shares, to): the beneficiary liquidates up to the locked shares before expiry.
 * out: shares seized, their value at the current rate, shares left in the lien. */
int op_seize(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_lien l;
    ledger_account owner, dst;
    uint64_t value;
    if (b->pool.pause_flags & LEDGER_PAUSE_TRANSFERS)
        return LEDGER_TRANSFERS_PAUSED;
    int rc = load_lien(b, tx->id, &l);
    if (rc != LEDGER_OK)
        return rc;
    if (!key_eq(tx->signer, l.beneficiary))
        return LEDGER_LIEN_NOT_BENEFICIARY;
    if (lien_expired(&l, b->now))
        return LEDGER_LIEN_EXPIRED;
    if (tx->amount == 0)
        return LEDGER_AMOUNT_ZERO;
    if (tx->amount > l.shares)
        return LEDGER_LIEN_SHARES_EXCEEDED;
    rc = check_recipient(b, tx->account);
    if (rc == LEDGER_OK)
        rc = ledger_shares_to_amount(&b->pool, tx->amount, &value);
    if (rc == LEDGER_OK)
        rc = ledger_read_account(b->st, l.owner, &owner);
    if (rc != LEDGER_OK)
        return rc;
    rc = lien_reduce(b, &l, &owner, tx->amount);
    if (rc != LEDGER_OK)
        return rc;
    /* read the recipient after the owner is saved: the owner may seize to itself */
    rc = ledger_read_account(b->st, tx->account, &dst);
    if (rc != LEDGER_OK)
        return rc;
    dst.shares += tx->amount; /* free + locked <= S: no overflow */
    out[0] = tx->amount;
    out[1] = value;
    out[2] = l.shares;
    return save_account(b, tx->account, &dst);
}
