/* ledger_replay.c - re-apply a recorded history into another store and compare every result */
#include "ledger_internal.h"

static bool same_result(const ledger_result *a, const ledger_result *b)
{
    return a->code == b->code && a->seq == b->seq && a->batch == b->batch &&
           a->timestamp == b->timestamp && memcmp(a->out, b->out, sizeof a->out) == 0;
}

static int finish_batch(ledger_batch *b, int (*commit)(void *, ledger_store **), void *ctx,
                        ledger_store **dst)
{
    int rc = ledger_batch_end(b);
    return rc == LEDGER_OK ? commit(ctx, dst) : rc;
}

int ledger_replay(ledger_store *src, ledger_store *dst,
                  int (*commit)(void *ctx, ledger_store **dst), void *ctx, uint64_t *diverged_seq)
{
    ledger_chain from, to;
    ledger_batch b;
    bool open = false;
    *diverged_seq = 0;
    int rc = ledger_read_chain(src, &from);
    if (rc == LEDGER_OK)
        rc = ledger_read_chain(dst, &to);
    if (rc != LEDGER_OK)
        return rc;
    for (uint64_t seq = to.next_seq; seq < from.next_seq; seq++) {
        ledger_record r;
        ledger_result res;
        rc = ledger_read_record(src, seq, &r);
        if (rc != LEDGER_OK) {
            *diverged_seq = seq;
            return rc == LEDGER_STORE_NOTFOUND ? LEDGER_STORE_CORRUPT : rc;
        }
        if (open && r.result.batch != b.chain.next_batch) {
            rc = finish_batch(&b, commit, ctx, &dst);
            open = false;
        }
        if (rc == LEDGER_OK && !open) {
            rc = ledger_batch_begin(&b, dst, r.result.timestamp);
            open = rc == LEDGER_OK;
        }
        if (rc == LEDGER_OK)
            rc = ledger_apply(&b, &r.tx, NULL, r.sig, &res); /* recomputes the tx hash */
        if (rc != LEDGER_OK)
            return rc;
        /* the recomputed record must hash to exactly the stored record */
        if (!same_result(&res, &r.result) || memcmp(b.chain.head, r.hash, LEDGER_HASH_SIZE) != 0) {
            *diverged_seq = seq;
            return LEDGER_STORE_CORRUPT;
        }
    }
    if (open)
        rc = finish_batch(&b, commit, ctx, &dst);
    return rc;
}
