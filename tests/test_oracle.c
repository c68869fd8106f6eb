/* test_oracle.c - the oracle committee's rules: members, quorum, report mode, votes, every code */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fixture.h"
#include "ledger.h"
#include "store_mem.h"
#include "test_util.h"

/* Members are the last five key slots; holders the first user slots. */
enum { M0 = FX_USER + 6, M1, M2, M3, M4, HOLDER = FX_USER };

static const unsigned ADD = LEDGER_TX_ORACLE_ADD, REMOVE = LEDGER_TX_ORACLE_REMOVE,
                      QSET = LEDGER_TX_QUORUM_SET, VOTE = LEDGER_TX_VOTE;
static const uint64_t OPERATOR = LEDGER_REPORT_MODE_OPERATOR,
                      COMMITTEE = LEDGER_REPORT_MODE_COMMITTEE;
static const uint64_t FUNDED = 1000000000000u; /* operator 1's stake: 10^12 */

/* Result codes met; main checks that every committee code (200..299) was reached. */
static bool code_seen[900];

static ledger_result seen(ledger_result r)
{
    if (r.code >= 0 && r.code < 900)
        code_seen[r.code] = true;
    return r;
}

static void note(int failures_before, int line)
{
    if (test_failures != failures_before)
        fprintf(stderr, "  ^ from test_oracle.c:%d\n", line);
}

/* ---- the committee's state ------------------------------------------------------------------ */

/* The sum of the element hashes of the operator, member and vote tables and the pool's
 * committee fields: equal before and after a transaction that changed none of them. */
static void committee_state(fixture *f, uint8_t out[32])
{
    static const unsigned tables[] = {LEDGER_T_OPERATOR, LEDGER_T_ORACLE_MEMBER,
                                      LEDGER_T_ORACLE_VOTE};
    ledger_store *v = store_db_view(f->store);
    ledger_pool p = fx_pool(f);
    uint64_t fields[4] = {p.report_mode, p.oracle_members, p.oracle_quorum, p.oracle_minority};
    memset(out, 0, 32);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        const uint8_t *k = NULL, *val;
        size_t kn = 0, vn;
        while (v->next(v->self, tables[t], k, kn, &k, &kn, &val, &vn) == 0) {
            uint8_t h[32];
            ledger_element_hash(h, tables[t], k, kn, val, vn);
            ledger_digest_add(out, h);
        }
    }
    uint8_t h[32];
    crypto_tagged_hash(h, "test", 4, (const uint8_t *)fields, sizeof fields);
    ledger_digest_add(out, h);
}

static ledger_oracle_member member(fixture *f, int slot)
{
    ledger_oracle_member m;
    memset(&m, 0, sizeof m);
    CHECK_CODE(ledger_read_oracle_member(store_db_view(f->store), f->pk[slot], &m), LEDGER_OK);
    return m;
}

static bool is_member(fixture *f, int slot)
{
    ledger_oracle_member m;
    return ledger_read_oracle_member(store_db_view(f->store), f->pk[slot], &m) == LEDGER_OK;
}

static size_t votes_of(fixture *f, uint64_t operator_id, ledger_vote *out)
{
    size_t n = 0;
    CHECK_CODE(
        ledger_list_votes(store_db_view(f->store), operator_id, out, LEDGER_ORACLE_MEMBERS_MAX, &n),
        LEDGER_OK);
    return n;
}

/* The vote of one member for one operator, or false. */
static bool vote_of(fixture *f, uint64_t operator_id, int slot, ledger_vote *out)
{
    ledger_vote list[LEDGER_ORACLE_MEMBERS_MAX];
    size_t n = votes_of(f, operator_id, list);
    for (size_t i = 0; i < n; i++)
        if (memcmp(list[i].member, f->pk[slot], 32) == 0) {
            *out = list[i];
            return true;
        }
    return false;
}

/* ---- submitting ---------------------------------------------------------------------------- */

static ledger_tx vote_tx(fixture *f, int slot, uint64_t operator_id, uint64_t epoch,
                         uint64_t balance, uint64_t perf)
{
    ledger_tx tx = fx_tx(f, slot, VOTE, FX_NONE, FX_NONE, operator_id, balance, epoch);
    tx.extra = perf;
    return tx;
}

/* Expect a recorded rejection that changes nothing of the committee (the signer's nonce only). */
static ledger_result reject_at(fixture *f, const ledger_tx *tx, int code, int line)
{
    int failures = test_failures;
    uint8_t before[32], after[32];
    ledger_chain c = fx_chain(f);
    committee_state(f, before);
    ledger_result r = seen(fx_submit(f, tx));
    committee_state(f, after);
    CHECK_CODE(r.code, code);
    CHECK(code < 100 ? r.seq == 0 : r.seq == c.next_seq);
    CHECK(r.out[0] + r.out[1] + r.out[2] + r.out[3] == 0);
    CHECK(memcmp(before, after, 32) == 0);
    note(failures, line);
    return r;
}

static ledger_result accept_at(fixture *f, const ledger_tx *tx, int line)
{
    int failures = test_failures;
    ledger_result r = seen(fx_submit(f, tx));
    CHECK_CODE(r.code, LEDGER_OK);
    CHECK(r.seq != 0 && !r.duplicate);
    note(failures, line);
    return r;
}

static ledger_result admin_at(fixture *f, unsigned kind, int account, uint64_t id, uint64_t amount,
                              uint64_t limit, int code, int line)
{
    ledger_tx tx = fx_tx(f, FX_ADMIN, kind, account, FX_NONE, id, amount, limit);
    return code == LEDGER_OK ? accept_at(f, &tx, line) : reject_at(f, &tx, code, line);
}

static ledger_result vote_at(fixture *f, int slot, uint64_t operator_id, uint64_t epoch,
                             uint64_t balance, uint64_t perf, int code, int line)
{
    ledger_tx tx = vote_tx(f, slot, operator_id, epoch, balance, perf);
    return code == LEDGER_OK ? accept_at(f, &tx, line) : reject_at(f, &tx, code, line);
}

#define ADMIN(f, kind, account, id, amount, limit, code)                                           \
    admin_at(f, kind, account, id, amount, limit, code, __LINE__)
#define VOTE_AT(f, slot, op, epoch, balance, perf, code)                                           \
    vote_at(f, slot, op, epoch, balance, perf, code, __LINE__)

static uint64_t epoch_now(fixture *f)
{
    ledger_pool p = fx_pool(f);
    uint64_t last = fx_chain(f).last_ts;
    return ledger_epoch_at(&p, f->now > last ? f->now : last);
}

/* ---- fixtures ------------------------------------------------------------------------------- */

static void epoch_at_genesis(ledger_genesis *g)
{
    g->epoch_origin = g->timestamp; /* epoch e starts e * 384 s after the genesis */
}

/* A fixture whose genesis names members M0..M0+n-1 with quorum q in `mode`. */
static uint8_t member_keys[FX_KEYS][32];
static uint64_t genesis_members, genesis_quorum, genesis_mode;

static void genesis_committee(ledger_genesis *g)
{
    epoch_at_genesis(g);
    g->report_mode = genesis_mode;
    g->oracle_member_count = genesis_members;
    g->oracle_quorum = genesis_quorum;
    for (uint64_t i = 0; i < genesis_members; i++)
        memcpy(g->oracle_members[i], member_keys[M0 + i], 32);
}

static void open_committee(fixture *f, uint64_t members, uint64_t quorum, uint64_t mode)
{
    fixture probe;
    fx_open(&probe, NULL);
    memcpy(member_keys, probe.pk, sizeof member_keys);
    fx_close(&probe);
    genesis_members = members, genesis_quorum = quorum, genesis_mode = mode;
    fx_open(f, genesis_committee);
    /* a holder, and operator 1 funded with FUNDED */
    CHECK_CODE(fx_do(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, HOLDER, FX_NONE, 0, FUNDED, 0).code,
               LEDGER_OK);
    CHECK_CODE(fx_do(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, FUNDED, 0).code,
               LEDGER_OK);
}

/* ---- members, quorum, report mode --------------------------------------------------------- */

/* A genesis committee: the pool counts it, each member has a record from the genesis time. */
static void test_genesis_members(void)
{
    fixture f;
    open_committee(&f, 3, 2, COMMITTEE);
    ledger_pool p = fx_pool(&f);
    CHECK_U64(p.report_mode, COMMITTEE);
    CHECK_U64(p.oracle_members, 3);
    CHECK_U64(p.oracle_quorum, 2);
    CHECK_U64(p.oracle_minority, 0);
    for (int s = M0; s <= M2; s++) {
        ledger_oracle_member m = member(&f, s);
        CHECK_U64(m.added, f.genesis.timestamp);
        CHECK_U64(m.votes + m.compared + m.differed + m.recent_count + m.last_vote, 0);
    }
    CHECK(!is_member(&f, M3));
    ledger_oracle_member list[LEDGER_ORACLE_MEMBERS_MAX];
    size_t n = 0;
    CHECK_CODE(
        ledger_list_oracle_members(store_db_view(f.store), list, LEDGER_ORACLE_MEMBERS_MAX, &n),
        LEDGER_OK);
    CHECK_U64(n, 3);
    for (size_t i = 1; i < n; i++) /* by key ascending */
        CHECK(memcmp(list[i - 1].key, list[i].key, 32) < 0);
    fx_check(&f);
    fx_reopen(&f); /* the committee survives a restart (checkpoint, digest) */
    CHECK_U64(fx_pool(&f).oracle_members, 3);
    fx_check(&f);
    fx_close(&f);
}

/* oracle_add: admin only, a valid new key, at most 32, a quorum that keeps the rule. */
static void members_add(fixture *f)
{
    ledger_tx tx = fx_tx(f, HOLDER, ADD, M0, FX_NONE, 0, 1, 0);
    reject_at(f, &tx, LEDGER_NOT_ADMIN, __LINE__);
    ADMIN(f, ADD, FX_NONE, 0, 1, 0, LEDGER_INVALID_ACCOUNT); /* the zero key */
    tx = fx_tx(f, FX_ADMIN, ADD, FX_NONE, FX_NONE, 0, 1, 0);
    memset(tx.account, 0xFF, 32); /* not on the curve */
    reject_at(f, &tx, LEDGER_INVALID_ACCOUNT, __LINE__);
    ADMIN(f, ADD, M0, 0, 0, 0, LEDGER_QUORUM_OUT_OF_RANGE);
    ADMIN(f, ADD, M0, 0, 2, 0, LEDGER_QUORUM_OUT_OF_RANGE);
    ledger_result r = ADMIN(f, ADD, M0, 0, 1, 0, LEDGER_OK);
    CHECK(r.out[0] == 1 && r.out[1] == 1);
    CHECK_U64(member(f, M0).added, r.timestamp);
    ADMIN(f, ADD, M0, 0, 1, 0, LEDGER_ORACLE_MEMBER_EXISTS);
    ADMIN(f, ADD, M1, 0, 1, 0, LEDGER_QUORUM_NO_MAJORITY); /* 1 of 2 is not more than half */
    ADMIN(f, ADD, M1, 0, 2, 0, LEDGER_OK);
    ADMIN(f, ADD, M2, 0, 2, 0, LEDGER_OK);
    ADMIN(f, ADD, M3, 0, 2, 0, LEDGER_QUORUM_NO_MAJORITY);
    ADMIN(f, ADD, M3, 0, 3, 0, LEDGER_OK);
    r = ADMIN(f, ADD, M4, 0, 3, 0, LEDGER_OK);
    CHECK(r.out[0] == 5 && r.out[1] == 3);
    ledger_pool p = fx_pool(f);
    CHECK(p.oracle_members == 5 && p.oracle_quorum == 3 && p.report_mode == OPERATOR);
}

/* quorum_set: a known mode, minority 0 or 1, the quorum rule; minority 1 accepts M <= N/2. */
static void members_quorum(fixture *f)
{
    ledger_tx tx = fx_tx(f, M0, QSET, FX_NONE, FX_NONE, COMMITTEE, 3, 0);
    reject_at(f, &tx, LEDGER_NOT_ADMIN, __LINE__); /* a member has standing, not the role */
    ADMIN(f, QSET, FX_NONE, 0, 3, 0, LEDGER_REPORT_MODE_UNKNOWN);
    ADMIN(f, QSET, FX_NONE, 3, 3, 0, LEDGER_REPORT_MODE_UNKNOWN);
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 3, 2, LEDGER_PARAM_OUT_OF_RANGE);
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 6, 0, LEDGER_QUORUM_OUT_OF_RANGE);
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 0, 0, LEDGER_QUORUM_OUT_OF_RANGE);
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 2, 0, LEDGER_QUORUM_NO_MAJORITY);
    ledger_result r = ADMIN(f, QSET, FX_NONE, COMMITTEE, 2, 1, LEDGER_OK);
    CHECK(r.out[0] == COMMITTEE && r.out[1] == 2 && r.out[2] == 5);
    ledger_pool p = fx_pool(f);
    CHECK(p.report_mode == COMMITTEE && p.oracle_quorum == 2 && p.oracle_minority == 1);
    /* the accepted minority holds for later changes of the committee until quorum_set says 0 */
    ADMIN(f, REMOVE, M4, 0, 2, 0, LEDGER_OK); /* 2 of 4 */
    ADMIN(f, ADD, M4, 0, 2, 0, LEDGER_OK);    /* 2 of 5 */
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 3, 0, LEDGER_OK);
    CHECK_U64(fx_pool(f).oracle_minority, 0);
}

/* oracle_remove: a member; the quorum after; its pending votes go with it. */
static void members_remove(fixture *f)
{
    ADMIN(f, REMOVE, HOLDER, 0, 3, 0, LEDGER_ORACLE_MEMBER_NOT_FOUND);
    ADMIN(f, REMOVE, M4, 0, 5, 0, LEDGER_QUORUM_OUT_OF_RANGE);
    ADMIN(f, REMOVE, M4, 0, 2, 0, LEDGER_QUORUM_NO_MAJORITY);
    ledger_result r = ADMIN(f, REMOVE, M4, 0, 3, 0, LEDGER_OK);
    CHECK(r.out[0] == 4 && r.out[1] == 3 && r.out[2] == 0);
    CHECK(!is_member(f, M4));
    /* the last member cannot leave a committee that books balances */
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 1, 1, LEDGER_OK);
    ADMIN(f, REMOVE, M3, 0, 1, 0, LEDGER_OK);
    ADMIN(f, REMOVE, M2, 0, 1, 0, LEDGER_OK);
    ADMIN(f, REMOVE, M1, 0, 1, 0, LEDGER_OK);
    ADMIN(f, REMOVE, M0, 0, 0, 0, LEDGER_QUORUM_OUT_OF_RANGE);
    ADMIN(f, REMOVE, M0, 0, 1, 0, LEDGER_QUORUM_OUT_OF_RANGE);
    ADMIN(f, QSET, FX_NONE, OPERATOR, 1, 0, LEDGER_OK);
    ADMIN(f, REMOVE, M0, 0, 1, 0, LEDGER_QUORUM_OUT_OF_RANGE); /* no members: quorum 0 */
    r = ADMIN(f, REMOVE, M0, 0, 0, 0, LEDGER_OK);
    CHECK(r.out[0] == 0 && r.out[1] == 0);
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 0, 0, LEDGER_QUORUM_OUT_OF_RANGE); /* nobody to vote */
    ADMIN(f, QSET, FX_NONE, OPERATOR, 0, 0, LEDGER_OK);
}

/* At most LEDGER_ORACLE_MEMBERS_MAX members: keys made for the test (members need not sign). */
static void members_limit(fixture *f)
{
    uint8_t keys[LEDGER_ORACLE_MEMBERS_MAX + 1][32];
    for (unsigned i = 0; i <= LEDGER_ORACLE_MEMBERS_MAX; i++) {
        uint8_t sk[32] = {0};
        sk[0] = 0x42, sk[31] = (uint8_t)(i + 1);
        CHECK(crypto_pubkey(keys[i], sk) == 0);
    }
    for (unsigned i = 0; i <= LEDGER_ORACLE_MEMBERS_MAX; i++) {
        ledger_tx tx = fx_tx(f, FX_ADMIN, ADD, FX_NONE, FX_NONE, 0, i + 1, 0);
        memcpy(tx.account, keys[i], 32);
        if (i < LEDGER_ORACLE_MEMBERS_MAX)
            accept_at(f, &tx, __LINE__);
        else
            reject_at(f, &tx, LEDGER_ORACLE_MEMBER_LIMIT, __LINE__);
    }
    CHECK_U64(fx_pool(f).oracle_members, LEDGER_ORACLE_MEMBERS_MAX);
    fx_check(f);
    for (unsigned i = LEDGER_ORACLE_MEMBERS_MAX; i-- > 0;) {
        ledger_tx tx = fx_tx(f, FX_ADMIN, REMOVE, FX_NONE, FX_NONE, 0, i, 0);
        memcpy(tx.account, keys[i], 32);
        accept_at(f, &tx, __LINE__);
    }
    CHECK_U64(fx_pool(f).oracle_members, 0);
}

static void test_members(void)
{
    fixture f;
    open_committee(&f, 0, 0, OPERATOR);
    members_add(&f);
    members_quorum(&f);
    members_remove(&f);
    fx_check(&f);
    members_limit(&f);
    fx_check(&f);
    fx_close(&f);
}

/* ---- votes --------------------------------------------------------------------------------- */

/* Every rejection of a vote, in the documented order, and of an operator's own report once the
 * committee books balances. */
static void votes_rejected(fixture *f)
{
    ledger_tx tx;
    uint64_t e = epoch_now(f);
    /* a key holding nothing: not recorded; a holder that is not a member: recorded */
    tx = vote_tx(f, FX_USER + 3, 1, e, FUNDED, 10000);
    reject_at(f, &tx, LEDGER_SIGNER_HOLDS_NOTHING, __LINE__);
    VOTE_AT(f, HOLDER, 1, e, FUNDED, 10000, LEDGER_NOT_ORACLE_MEMBER);
    VOTE_AT(f, FX_OPERATOR, 1, e, FUNDED, 10000, LEDGER_NOT_ORACLE_MEMBER);
    ADMIN(f, QSET, FX_NONE, OPERATOR, 2, 0, LEDGER_OK);
    VOTE_AT(f, M0, 1, e, FUNDED, 10000, LEDGER_COMMITTEE_MODE_REQUIRED);
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 2, 0, LEDGER_OK);
    VOTE_AT(f, M0, 2, e, FUNDED, 10000, LEDGER_OPERATOR_NOT_FOUND);
    VOTE_AT(f, M0, 0, e, FUNDED, 10000, LEDGER_OPERATOR_NOT_FOUND);
    VOTE_AT(f, M0, 1, e, FUNDED, 10001, LEDGER_PERFORMANCE_OUT_OF_RANGE);
    VOTE_AT(f, M0, 1, 0, FUNDED, 10000, LEDGER_EPOCH_ALREADY_APPLIED); /* last epoch is 0 */
    VOTE_AT(f, M0, 1, e + 1, FUNDED, 10000, LEDGER_EPOCH_IN_FUTURE);
    VOTE_AT(f, M0, 1, UINT64_MAX, FUNDED, 10000, LEDGER_EPOCH_IN_FUTURE);
    /* in committee mode no operator key can book a balance, whatever it reports */
    tx = fx_tx(f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, FUNDED, e);
    reject_at(f, &tx, LEDGER_OPERATOR_REPORTS_DISABLED, __LINE__);
    tx = fx_tx(f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, FUNDED + 1, e);
    reject_at(f, &tx, LEDGER_OPERATOR_REPORTS_DISABLED, __LINE__);
    CHECK_U64(fx_operator(f, 1).report_count, 0);
    /* a quorum for a report that cannot be booked at all keeps nothing, not even the vote */
    f->now += 384;
    e = epoch_now(f);
    VOTE_AT(f, M2, 1, e, UINT64_MAX, 10000, LEDGER_OK); /* one vote: nothing is booked yet */
    VOTE_AT(f, M1, 1, e, UINT64_MAX, 10000, LEDGER_OVERFLOW);
}

/* One epoch: a vote counts, a second identical one (the quorum) books the report in the same
 * transaction and clears the operator's votes up to the epoch; the member who voted otherwise
 * is recorded as having differed. */
static void votes_quorum(fixture *f)
{
    f->now += 86400;
    uint64_t e = epoch_now(f), gain = 100000000; /* 0.01% in a day: inside the limits */
    ledger_result r = VOTE_AT(f, M0, 1, e, FUNDED + gain, 9900, LEDGER_OK);
    CHECK(r.out[0] == 1 && r.out[1] == 2 && r.out[2] == 0 && r.out[3] == 0);
    ledger_vote v;
    CHECK(vote_of(f, 1, M0, &v) && v.epoch == e && v.balance == FUNDED + gain &&
          v.performance_bps == 9900 && v.time == r.timestamp);
    ledger_oracle_member m = member(f, M0);
    CHECK(m.votes == 1 && m.last_vote == r.timestamp && m.compared == 0);
    r = VOTE_AT(f, M1, 1, e, FUNDED + gain + 1, 9900, LEDGER_OK); /* disagrees */
    CHECK(r.out[0] == 1 && r.out[1] == 2);
    r = VOTE_AT(f, M1, 1, e, FUNDED + gain, 9800, LEDGER_OK); /* replaced; still not the same */
    CHECK(r.out[0] == 1);
    CHECK(vote_of(f, 1, M1, &v) && v.balance == FUNDED + gain && v.performance_bps == 9800);
    CHECK_U64(member(f, M1).votes, 2);
    ledger_pool before = fx_pool(f);
    r = VOTE_AT(f, M2, 1, e, FUNDED + gain, 9900, LEDGER_OK); /* the quorum */
    CHECK(r.out[0] == 2 && r.out[1] == 2 && r.out[2] == gain && r.out[3] == 0);
    ledger_operator o = fx_operator(f, 1);
    CHECK(o.last_epoch == e && o.balance == FUNDED + gain && o.report_count == 1 &&
          o.last_report_ts == r.timestamp);
    CHECK(fx_pool(f).shares > before.shares); /* fee shares */
    CHECK_U64(votes_of(f, 1, (ledger_vote[LEDGER_ORACLE_MEMBERS_MAX]){0}), 0);
    m = member(f, M0);
    CHECK(m.compared == 1 && m.differed == 0 && m.recent_count == 1 && m.recent_mask == 0);
    m = member(f, M1);
    CHECK(m.compared == 1 && m.differed == 1 && m.recent_count == 1 && m.recent_mask == 1);
    CHECK_U64(ledger_oracle_recent_differed(&m, 8), 1);
    CHECK_U64(member(f, M2).compared, 1);
    /* the epoch is applied: late votes are refused */
    VOTE_AT(f, M1, 1, e, FUNDED + gain, 9900, LEDGER_EPOCH_ALREADY_APPLIED);
    VOTE_AT(f, M1, 1, e - 1, FUNDED + gain, 9900, LEDGER_EPOCH_ALREADY_APPLIED);
}

/* A later vote of a member supersedes its earlier one; a member ahead of the others keeps its
 * vote when an earlier epoch is booked; a vote for an epoch after the booked one is kept. */
static void votes_supersede(fixture *f)
{
    f->now += 3600;
    uint64_t e = epoch_now(f), bal = fx_operator(f, 1).balance;
    VOTE_AT(f, M0, 1, e - 2, bal, 10000, LEDGER_OK);
    VOTE_AT(f, M0, 1, e - 1, bal, 10000, LEDGER_OK); /* supersedes its e - 2 vote */
    ledger_vote v;
    CHECK(vote_of(f, 1, M0, &v) && v.epoch == e - 1);
    VOTE_AT(f, M2, 1, e, bal, 10000, LEDGER_OK);                       /* ahead */
    ledger_result r = VOTE_AT(f, M1, 1, e - 2, bal, 10000, LEDGER_OK); /* M0 left e - 2 */
    CHECK_U64(r.out[0], 1);
    r = VOTE_AT(f, M1, 1, e - 1, bal, 10000, LEDGER_OK); /* with M0: the quorum for e - 1 */
    CHECK(r.out[0] == 2 && r.out[2] == 0 && r.out[3] == 0);
    CHECK_U64(fx_operator(f, 1).last_epoch, e - 1);
    ledger_vote list[LEDGER_ORACLE_MEMBERS_MAX];
    CHECK_U64(votes_of(f, 1, list), 1);
    CHECK(vote_of(f, 1, M2, &v) && v.epoch == e); /* kept */
    CHECK_U64(member(f, M2).compared, 1);         /* not compared: it voted another epoch */
    r = VOTE_AT(f, M0, 1, e, bal, 10000, LEDGER_OK);
    CHECK(r.out[0] == 2);
    CHECK_U64(fx_operator(f, 1).last_epoch, e);
}

/* A quorum for a reward beyond the APR limit: the completing vote is recorded with the limit's
 * code, the report held with its performance and the votes kept; report_accept books it and
 * compares the votes as the quorum would have. A drop beyond the one-off limit likewise. */
static void votes_held(fixture *f)
{
    f->now += 384;
    uint64_t e = epoch_now(f), bal = fx_operator(f, 1).balance, big = bal + bal / 100;
    VOTE_AT(f, M0, 1, e, big, 9500, LEDGER_OK);
    VOTE_AT(f, M1, 1, e, big + 7, 9500, LEDGER_OK);
    ledger_tx tx = vote_tx(f, M2, 1, e, big, 9500);
    ledger_result r = seen(fx_submit(f, &tx));
    CHECK_CODE(r.code, LEDGER_REPORT_APR_EXCEEDED);
    CHECK(r.seq != 0 && r.out[0] == 0);
    ledger_operator o = fx_operator(f, 1);
    CHECK(o.held_epoch == e && o.held_balance == big && o.held_performance_bps == 9500);
    CHECK(o.last_epoch < e && o.balance == bal);
    ledger_vote list[LEDGER_ORACLE_MEMBERS_MAX];
    CHECK_U64(votes_of(f, 1, list), 3); /* the completing vote is kept with the hold */
    fx_check(f);
    ledger_oracle_member m1 = member(f, M1);
    r = ADMIN(f, LEDGER_TX_REPORT_ACCEPT, FX_NONE, 1, big, e, LEDGER_OK);
    CHECK(r.out[0] == big - bal && r.out[1] == 0);
    o = fx_operator(f, 1);
    CHECK(o.last_epoch == e && o.held_epoch == 0 && o.held_performance_bps == 0);
    CHECK_U64(votes_of(f, 1, list), 0);
    ledger_oracle_member m = member(f, M1);
    CHECK(m.compared == m1.compared + 1 && m.differed == m1.differed + 1 &&
          (m.recent_mask & 1) == 1);
    /* a slash beyond MAX_DROP_BPS (5%) is held the same way, then accepted */
    f->now += 384;
    e = epoch_now(f);
    uint64_t low = o.balance - o.balance / 10;
    VOTE_AT(f, M0, 1, e, low, 7000, LEDGER_OK);
    tx = vote_tx(f, M2, 1, e, low, 7000);
    r = seen(fx_submit(f, &tx));
    CHECK_CODE(r.code, LEDGER_REPORT_DROP_EXCEEDED);
    CHECK(fx_pool(f).held_loss == o.balance - low && fx_pool(f).report_mode == COMMITTEE);
    r = ADMIN(f, LEDGER_TX_REPORT_ACCEPT, FX_NONE, 1, low, e, LEDGER_OK);
    CHECK(r.out[0] == 0 && r.out[1] == o.balance - low);
    CHECK_U64(fx_pool(f).held_loss, 0);
    fx_check(f);
}

/* The committee changes while votes are pending: a removed member's votes go; a lowered quorum
 * books a tuple at its next vote (a member resubmits its own); back in operator mode votes are
 * refused and the operator's report clears what was pending; a reset clears them too. */
static void votes_committee_changes(fixture *f)
{
    f->now += 384;
    uint64_t e = epoch_now(f), bal = fx_operator(f, 1).balance;
    VOTE_AT(f, M0, 1, e, bal, 10000, LEDGER_OK);
    VOTE_AT(f, M1, 1, e, bal + 1, 10000, LEDGER_OK);
    ledger_tx tx;
    ledger_result r = ADMIN(f, REMOVE, M1, 0, 2, 0, LEDGER_OK); /* 2 of 2 now */
    CHECK_U64(r.out[2], 1);
    ledger_vote list[LEDGER_ORACLE_MEMBERS_MAX], v;
    CHECK_U64(votes_of(f, 1, list), 1);
    CHECK(!vote_of(f, 1, M1, &v));
    tx = vote_tx(f, M1, 1, e, bal, 10000); /* no longer a member, and it holds nothing */
    reject_at(f, &tx, LEDGER_SIGNER_HOLDS_NOTHING, __LINE__);
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 1, 0, LEDGER_QUORUM_NO_MAJORITY); /* 1 of 2 */
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 1, 1, LEDGER_OK);
    CHECK_U64(fx_operator(f, 1).last_epoch, e - 1);  /* a quorum change books nothing */
    r = VOTE_AT(f, M0, 1, e, bal, 10000, LEDGER_OK); /* the same vote again: now a quorum */
    CHECK(r.out[0] == 1 && r.out[1] == 1);
    CHECK_U64(fx_operator(f, 1).last_epoch, e);
    ADMIN(f, ADD, M1, 0, 2, 0, LEDGER_OK);
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 2, 0, LEDGER_OK);

    f->now += 384;
    e = epoch_now(f);
    VOTE_AT(f, M0, 1, e, bal, 10000, LEDGER_OK);
    VOTE_AT(f, M2, 1, e, bal + 5, 10000, LEDGER_OK);
    ADMIN(f, QSET, FX_NONE, OPERATOR, 2, 0, LEDGER_OK);
    VOTE_AT(f, M1, 1, e, bal, 10000, LEDGER_COMMITTEE_MODE_REQUIRED);
    tx = fx_tx(f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, bal, e);
    accept_at(f, &tx, __LINE__);
    CHECK_U64(votes_of(f, 1, list), 0);
    CHECK_U64(member(f, M2).compared, 4); /* an operator's report compares nobody */
    ADMIN(f, QSET, FX_NONE, COMMITTEE, 2, 0, LEDGER_OK);

    f->now += 384;
    e = epoch_now(f);
    VOTE_AT(f, M0, 1, e, bal, 10000, LEDGER_OK);
    r = ADMIN(f, LEDGER_TX_OPERATOR_RESET, FX_NONE, 1, bal, e, LEDGER_OK);
    CHECK_U64(votes_of(f, 1, list), 0);
    fx_check(f);
}

static void test_votes(void)
{
    fixture f;
    open_committee(&f, 3, 2, COMMITTEE);
    votes_rejected(&f);
    votes_quorum(&f);
    fx_check(&f);
    votes_supersede(&f);
    votes_held(&f);
    votes_committee_changes(&f);
    fx_reopen(&f);
    fx_check(&f);
    fx_close(&f);
}

/* ---- the committee books what an operator's report books --------------------------------------
 */

static void same_books(fixture *a, fixture *b, int line)
{
    int failures = test_failures;
    fx_same_books(a, b);
    note(failures, line);
}

/* The same balance through both: the operator's report on a, three votes on b (M1 dissents). */
static void book_both(fixture *a, fixture *b, uint64_t balance, uint64_t perf, int code, int line)
{
    int failures = test_failures;
    uint64_t e = epoch_now(a);
    ledger_tx tx = fx_tx(a, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, balance, e);
    ledger_result ra = seen(fx_submit(a, &tx));
    VOTE_AT(b, M0, 1, e, balance, perf, LEDGER_OK);
    VOTE_AT(b, M1, 1, e, balance + 1, perf, LEDGER_OK);
    tx = vote_tx(b, M2, 1, e, balance, perf);
    ledger_result rb = seen(fx_submit(b, &tx));
    CHECK_CODE(ra.code, code);
    CHECK_CODE(rb.code, code);
    if (code == LEDGER_OK) { /* the vote's gain and loss are the report's */
        CHECK(rb.out[0] == 2 && rb.out[1] == 2);
        CHECK(rb.out[2] == ra.out[0] && rb.out[3] == ra.out[1]);
    } else {
        CHECK_U64(fx_operator(b, 1).held_performance_bps, perf);
        CHECK_U64(fx_operator(a, 1).held_performance_bps, LEDGER_PERFORMANCE_NONE);
        tx = fx_tx(a, FX_ADMIN, LEDGER_TX_REPORT_ACCEPT, FX_NONE, FX_NONE, 1, balance, e);
        ra = accept_at(a, &tx, line);
        tx = fx_tx(b, FX_ADMIN, LEDGER_TX_REPORT_ACCEPT, FX_NONE, FX_NONE, 1, balance, e);
        rb = accept_at(b, &tx, line);
        CHECK(memcmp(ra.out, rb.out, sizeof ra.out) == 0);
    }
    same_books(a, b, line);
    note(failures, line);
}

static void test_same_books(void)
{
    fixture a, b;
    open_committee(&a, 0, 0, OPERATOR);
    open_committee(&b, 3, 2, COMMITTEE);
    same_books(&a, &b, __LINE__);
    static const struct {
        uint64_t dt_s;
        int64_t change; /* of the operator's balance */
        int code;
    } steps[] = {
        {86400, 200000000, LEDGER_OK},                           /* a reward inside the limits */
        {3600, -1000000, LEDGER_OK},                             /* a small slash */
        {384, 50000000000, LEDGER_REPORT_APR_EXCEEDED},          /* held, accepted */
        {86400 * 2, -100000000000, LEDGER_REPORT_DROP_EXCEEDED}, /* held slash, accepted */
        {86400 * 30, 0, LEDGER_OK},                              /* nothing to book */
        {86400, 1000, LEDGER_OK},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        a.now += steps[i].dt_s;
        b.now += steps[i].dt_s;
        uint64_t bal = fx_operator(&a, 1).balance + (uint64_t)steps[i].change;
        book_both(&a, &b, bal, 9000 + (uint64_t)i, steps[i].code, __LINE__);
        fx_check(&a);
        fx_check(&b);
    }
    fx_close(&a);
    fx_close(&b);
}

/* ---- replay -------------------------------------------------------------------------------- */

static int mem_commit(void *ctx, ledger_store **dst)
{
    (void)dst;
    store_mem_commit(ctx);
    return 0;
}

/* The committee's history replays into a fresh store to the same state and digest. */
static void test_replay(void)
{
    fixture f;
    open_committee(&f, 3, 2, COMMITTEE);
    votes_quorum(&f);
    votes_supersede(&f);
    votes_held(&f);
    ledger_store *src = store_db_view(f.store), v;
    store_mem *m;
    ledger_genesis g;
    ledger_chain ca, cb;
    uint64_t diverged = 0;
    CHECK_CODE(store_mem_new(&m, 3), 0);
    store_mem_view(m, &v);
    CHECK_CODE(ledger_genesis_read(src, &g), LEDGER_OK);
    CHECK_CODE(ledger_genesis_apply(&v, &g), LEDGER_OK);
    store_mem_commit(m);
    CHECK_CODE(ledger_replay(src, &v, mem_commit, m, &diverged), LEDGER_OK);
    CHECK_U64(diverged, 0);
    CHECK_CODE(ledger_read_chain(src, &ca), LEDGER_OK);
    CHECK_CODE(ledger_read_chain(&v, &cb), LEDGER_OK);
    CHECK(memcmp(ca.digest, cb.digest, 32) == 0 && memcmp(ca.head, cb.head, 32) == 0);
    char msg[256];
    CHECK_CODE(ledger_check(&v, msg, sizeof msg), LEDGER_OK);
    store_mem_free(&m);
    fx_close(&f);
}

/* ---- main -------------------------------------------------------------------------------------
 */

static bool committee_code(int code)
{
    return code >= 200 && code < 300;
}

int main(void)
{
    test_genesis_members();
    test_members();
    test_votes();
    test_same_books();
    test_replay();
    fx_codes_reached(code_seen, committee_code);
    return test_finish("test_oracle");
}
