/* ledger_oracle.c - the oracle committee: members, quorum, report mode, votes and their settling */
#include "ledger_internal.h"

/* ---- records ------------------------------------------------------------------------------ */

static void vote_key(uint8_t key[40], uint64_t operator_id, const uint8_t member[LEDGER_KEY_SIZE])
{
    be64_put(key, operator_id);
    memcpy(key + 8, member, LEDGER_KEY_SIZE);
}

int oracle_is_member(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE])
{
    const uint8_t *v;
    size_t n;
    int rc = b->st->get(b->st->self, LEDGER_T_ORACLE_MEMBER, key, LEDGER_KEY_SIZE, &v, &n);
    if (rc == LEDGER_STORE_NOTFOUND)
        return 0;
    return rc == 0 ? 1 : rc;
}

int save_oracle_member(ledger_batch *b, const ledger_oracle_member *m)
{
    uint8_t buf[128];
    size_t n = record_member_encode(buf, sizeof buf, m);
    return st_put(b, LEDGER_T_ORACLE_MEMBER, m->key, LEDGER_KEY_SIZE, buf, n);
}

static int load_member(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE], ledger_oracle_member *m)
{
    int rc = ledger_read_oracle_member(b->st, key, m);
    return rc == LEDGER_STORE_NOTFOUND ? LEDGER_STORE_CORRUPT : rc; /* a vote without a member */
}

static int save_vote(ledger_batch *b, const ledger_vote *v)
{
    uint8_t key[40], buf[64];
    size_t n = record_vote_encode(buf, sizeof buf, v);
    vote_key(key, v->operator_id, v->member);
    return st_put(b, LEDGER_T_ORACLE_VOTE, key, sizeof key, buf, n);
}

static int delete_vote(ledger_batch *b, uint64_t operator_id, const uint8_t member[LEDGER_KEY_SIZE])
{
    uint8_t key[40];
    vote_key(key, operator_id, member);
    return st_del(b, LEDGER_T_ORACLE_VOTE, key, sizeof key);
}

/* ---- the quorum rule ------------------------------------------------------------------------ */

/* With no members the quorum is 0 and only the operators can report; otherwise 1 <= M <= N, and
 * M > N/2 (a majority, as Lido's HashConsensus and Rocket Pool's oDAO require) unless the admin
 * accepted a minority quorum explicitly (minority 1; the pool query shows it). */
int oracle_quorum_check(uint64_t mode, uint64_t members, uint64_t quorum, uint64_t minority)
{
    if (members == 0)
        return quorum == 0 && mode == LEDGER_REPORT_MODE_OPERATOR ? LEDGER_OK
                                                                  : LEDGER_QUORUM_OUT_OF_RANGE;
    if (quorum == 0 || quorum > members)
        return LEDGER_QUORUM_OUT_OF_RANGE;
    if (quorum * 2 <= members && minority == 0) /* quorum <= members <= 32: no overflow */
        return LEDGER_QUORUM_NO_MAJORITY;
    return LEDGER_OK;
}

/* ---- admin: members, quorum, report mode ---------------------------------------------------- */

/* oracle_add(member, quorum) by the admin: a new member; the quorum becomes `quorum`.
 * out: members, quorum. */
int op_oracle_add(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_pool *p = &b->pool;
    ledger_oracle_member m;
    int rc = check_recipient(b, tx->account);
    if (rc != LEDGER_OK)
        return rc;
    rc = oracle_is_member(b, tx->account);
    if (rc != 0)
        return rc == 1 ? LEDGER_ORACLE_MEMBER_EXISTS : rc;
    if (p->oracle_members >= LEDGER_ORACLE_MEMBERS_MAX)
        return LEDGER_ORACLE_MEMBER_LIMIT;
    rc = oracle_quorum_check(p->report_mode, p->oracle_members + 1, tx->amount, p->oracle_minority);
    if (rc != LEDGER_OK)
        return rc;
    memset(&m, 0, sizeof m);
    memcpy(m.key, tx->account, LEDGER_KEY_SIZE);
    m.added = b->now;
    rc = save_oracle_member(b, &m);
    if (rc != LEDGER_OK)
        return rc;
    p->oracle_members++;
    p->oracle_quorum = tx->amount;
    out[0] = p->oracle_members;
    out[1] = p->oracle_quorum;
    return LEDGER_OK;
}

/* Delete a leaving member's pending votes (at most one per operator). Out: *removed. */
static int remove_member_votes(ledger_batch *b, const uint8_t member[LEDGER_KEY_SIZE],
                               uint64_t *removed)
{
    *removed = 0;
    for (uint64_t id = 1; id <= b->pool.operator_count; id++) {
        uint8_t key[40];
        const uint8_t *v;
        size_t n;
        vote_key(key, id, member);
        int rc = b->st->get(b->st->self, LEDGER_T_ORACLE_VOTE, key, sizeof key, &v, &n);
        if (rc == LEDGER_STORE_NOTFOUND)
            continue;
        if (rc == 0)
            rc = st_del(b, LEDGER_T_ORACLE_VOTE, key, sizeof key);
        if (rc != LEDGER_OK)
            return rc;
        (*removed)++;
    }
    return LEDGER_OK;
}

/* oracle_remove(member, quorum) by the admin: the member and its pending votes go; the quorum
 * becomes `quorum`. Tuples that now reach it are booked by the next vote for them.
 * out: members, quorum, votes removed. */
int op_oracle_remove(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_pool *p = &b->pool;
    uint64_t removed;
    int rc = oracle_is_member(b, tx->account);
    if (rc != 1)
        return rc == 0 ? LEDGER_ORACLE_MEMBER_NOT_FOUND : rc;
    rc = oracle_quorum_check(p->report_mode, p->oracle_members - 1, tx->amount, p->oracle_minority);
    if (rc == LEDGER_OK)
        rc = st_del(b, LEDGER_T_ORACLE_MEMBER, tx->account, LEDGER_KEY_SIZE);
    if (rc == LEDGER_OK)
        rc = remove_member_votes(b, tx->account, &removed);
    if (rc != LEDGER_OK)
        return rc;
    p->oracle_members--;
    p->oracle_quorum = tx->amount;
    out[0] = p->oracle_members;
    out[1] = p->oracle_quorum;
    out[2] = removed;
    return LEDGER_OK;
}

/* quorum_set(mode, quorum, minority) by the admin: who books balances (1 the operators, 2 the
 * committee), the quorum, and whether a quorum of at most half the members is accepted.
 * out: mode, quorum, members. */
int op_quorum_set(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_pool *p = &b->pool;
    if (tx->id != LEDGER_REPORT_MODE_OPERATOR && tx->id != LEDGER_REPORT_MODE_COMMITTEE)
        return LEDGER_REPORT_MODE_UNKNOWN;
    if (tx->limit > 1)
        return LEDGER_PARAM_OUT_OF_RANGE;
    int rc = oracle_quorum_check(tx->id, p->oracle_members, tx->amount, tx->limit);
    if (rc != LEDGER_OK)
        return rc;
    p->report_mode = tx->id;
    p->oracle_quorum = tx->amount;
    p->oracle_minority = tx->limit;
    out[0] = p->report_mode;
    out[1] = p->oracle_quorum;
    out[2] = p->oracle_members;
    return LEDGER_OK;
}

/* ---- votes ------------------------------------------------------------------------------- */

static bool same_tuple(const ledger_vote *v, uint64_t epoch, uint64_t balance, uint64_t perf)
{
    return v->epoch == epoch && v->balance == balance && v->performance_bps == perf;
}

/* The members that would vote exactly this tuple once the signer's vote replaces its earlier
 * one. Out: *support. */
static int count_support(ledger_batch *b, const ledger_tx *tx, uint64_t *support)
{
    ledger_vote list[LEDGER_ORACLE_MEMBERS_MAX];
    size_t n;
    int rc = ledger_list_votes(b->st, tx->id, list, LEDGER_ORACLE_MEMBERS_MAX, &n);
    *support = 1;
    for (size_t i = 0; rc == LEDGER_OK && i < n; i++)
        *support += !key_eq(list[i].member, tx->signer) &&
                    same_tuple(&list[i], tx->limit, tx->amount, tx->extra);
    return rc;
}

/* Keep the vote (replacing the member's earlier one for this operator) and count it in the
 * member's record. */
static int keep_vote(ledger_batch *b, const ledger_tx *tx)
{
    ledger_vote v = {.operator_id = tx->id,
                     .epoch = tx->limit,
                     .balance = tx->amount,
                     .performance_bps = tx->extra,
                     .time = b->now};
    ledger_oracle_member m;
    memcpy(v.member, tx->signer, LEDGER_KEY_SIZE);
    int rc = save_vote(b, &v);
    if (rc == LEDGER_OK)
        rc = load_member(b, tx->signer, &m);
    if (rc != LEDGER_OK)
        return rc;
    m.votes++;
    m.last_vote = b->now;
    return save_oracle_member(b, &m);
}

/* vote(operator_id, epoch, balance, performance_bps) by an oracle member, in committee mode.
 * Once `quorum` members vote the identical tuple for the epoch, the report goes through the
 * sanity limits like an operator's (booked, or held with the vote kept: the only rejection that
 * writes besides a held report; a quorum for a report that cannot be booked at all, FEE_TOO_HIGH
 * or OVERFLOW, writes nothing). out: support, quorum, gain, loss. */
int op_vote(ledger_batch *b, const ledger_tx *tx, uint64_t out[4])
{
    ledger_operator o;
    uint64_t support = 0, booked[4] = {0};
    int rc = oracle_is_member(b, tx->signer);
    if (rc != 1)
        return rc == 0 ? LEDGER_NOT_ORACLE_MEMBER : rc;
    if (b->pool.report_mode != LEDGER_REPORT_MODE_COMMITTEE)
        return LEDGER_COMMITTEE_MODE_REQUIRED;
    rc = load_operator(b, tx->id, &o);
    if (rc != LEDGER_OK)
        return rc;
    if (tx->extra > LEDGER_BPS)
        return LEDGER_PERFORMANCE_OUT_OF_RANGE;
    if (tx->limit <= o.last_epoch)
        return LEDGER_EPOCH_ALREADY_APPLIED;
    rc = check_report_epoch(b, tx->limit);
    if (rc == LEDGER_OK)
        rc = count_support(b, tx, &support);
    bool reached = support >= b->pool.oracle_quorum;
    if (rc == LEDGER_OK && reached) { /* a report that cannot be booked keeps nothing */
        rc = report_check(b, &o, tx->amount);
        rc = rc == LEDGER_REPORT_APR_EXCEEDED || rc == LEDGER_REPORT_DROP_EXCEEDED ? LEDGER_OK : rc;
    }
    if (rc == LEDGER_OK)
        rc = keep_vote(b, tx);
    if (rc != LEDGER_OK)
        return rc;
    out[0] = support;
    out[1] = b->pool.oracle_quorum;
    if (!reached)
        return LEDGER_OK;
    oracle_tuple t = {tx->limit, tx->amount, tx->extra};
    rc = report_submit(b, &o, &t, true, booked);
    out[2] = booked[0];
    out[3] = booked[1];
    return rc;
}

/* Compare a member's vote for the applied epoch with the result and keep it in its record. */
static int record_comparison(ledger_batch *b, const ledger_vote *v, const oracle_tuple *agreed)
{
    ledger_oracle_member m;
    int rc = load_member(b, v->member, &m);
    if (rc != LEDGER_OK)
        return rc;
    uint64_t differed =
        v->balance != agreed->balance || v->performance_bps != agreed->performance_bps;
    m.compared++;
    m.differed += differed;
    m.recent_mask = m.recent_mask << 1 | differed;
    if (m.recent_count < LEDGER_ORACLE_RECENT_MAX)
        m.recent_count++;
    return save_oracle_member(b, &m);
}

int oracle_settle(ledger_batch *b, uint64_t operator_id, uint64_t epoch, const oracle_tuple *agreed)
{
    ledger_vote list[LEDGER_ORACLE_MEMBERS_MAX];
    size_t n;
    int rc = ledger_list_votes(b->st, operator_id, list, LEDGER_ORACLE_MEMBERS_MAX, &n);
    for (size_t i = 0; rc == LEDGER_OK && i < n; i++) {
        if (list[i].epoch > epoch)
            continue; /* a member ahead of the others keeps its vote */
        if (agreed != NULL && list[i].epoch == epoch)
            rc = record_comparison(b, &list[i], agreed);
        if (rc == LEDGER_OK)
            rc = delete_vote(b, operator_id, list[i].member);
    }
    return rc;
}
