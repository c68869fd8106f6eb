/* test_property_oracle.c - 5 members, quorum 3, 2 liars or silent: the honest members' rate */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "ledger.h"
#include "test_util.h"

__extension__ typedef unsigned __int128 u128;

/* The walk: two ledgers from the same genesis but for the report mode, one where operator 1's
 * own key reports the true balance (the reference), one with a committee of 5 members and
 * quorum 3. Each round the truth changes (rewards, slashes, now and then beyond a sanity limit);
 * up to 2 members lie (alone, or colluding on one wrong balance) or stay silent; the others vote
 * the truth, everyone in a random order. After every round the two pools, operators and fee
 * shares must be equal: the rate follows the honest members exactly. The operator's own key
 * tries to report on the committee's ledger and is refused without moving the rate. */

enum { MEMBERS = 5, QUORUM = 3, M0 = FX_USER + 6, HOLDER = FX_USER, HOLDER2 = FX_USER + 1 };
#define YEAR_S 31536000u
#define STAKE 1000000000000u /* 10^12 */

static uint8_t member_keys[FX_KEYS][32];
static uint64_t seed, steps;

/* How the walk's steps went, printed at the end: the property must have been reached. */
static struct {
    uint64_t rounds, booked, held, liars, silent, lies_compared, late, operator_tries, deposits;
} seen;

static void fail_at(int line)
{
    fprintf(stderr,
            "  ^ test_property_oracle.c:%d (replay: LSTD_SEED=%" PRIu64 " LSTD_ITERATIONS=%" PRIu64
            ")\n",
            line, seed, steps);
}

static void committee(ledger_genesis *g)
{
    g->epoch_origin = g->timestamp;
    g->report_mode = LEDGER_REPORT_MODE_COMMITTEE;
    g->oracle_member_count = MEMBERS;
    g->oracle_quorum = QUORUM;
    for (int i = 0; i < MEMBERS; i++)
        memcpy(g->oracle_members[i], member_keys[M0 + i], 32);
}

static void operator_mode(ledger_genesis *g)
{
    g->epoch_origin = g->timestamp;
}

/* The ledgers agree on everything a holder sees: the pool (its committee fields aside), the
 * operator, the fee shares. */
static void same(fixture *h, fixture *c, int line)
{
    int failures = test_failures;
    fx_same_books(h, c);
    if (test_failures != failures)
        fail_at(line);
}

static ledger_result both(fixture *h, fixture *c, int signer, unsigned kind, int account,
                          uint64_t id, uint64_t amount, uint64_t limit)
{
    ledger_result rh = fx_do(h, signer, kind, account, FX_NONE, id, amount, limit);
    ledger_result rc = fx_do(c, signer, kind, account, FX_NONE, id, amount, limit);
    CHECK_CODE(rc.code, rh.code);
    return rh;
}

static ledger_result vote(fixture *c, int member, uint64_t epoch, uint64_t balance, uint64_t perf)
{
    ledger_tx tx = fx_tx(c, member, LEDGER_TX_VOTE, FX_NONE, FX_NONE, 1, balance, epoch);
    tx.extra = perf;
    return fx_submit(c, &tx);
}

/* The balance the operator's validators truly have: mostly a reward inside the APR limit over
 * the time since the last report, sometimes a small slash, now and then one beyond a limit
 * (held, then accepted by the admin on both ledgers). */
static uint64_t truth(test_rng *r, const ledger_operator *o, uint64_t elapsed_s)
{
    uint64_t e = o->balance, max_gain = (uint64_t)((u128)1000 * e * elapsed_s / YEAR_S / 10000);
    switch (test_rng_below(r, 10)) {
    case 0: /* a small slash: at most 1% */
        return e - test_rng_below(r, e / 100 + 1);
    case 1: /* beyond the APR limit: held */
        return e + max_gain + 1 + test_rng_below(r, e / 50 + 1);
    case 2: /* beyond the one-off drop limit: held */
        return e < 40 ? 0 : e - e / 20 - 1 - test_rng_below(r, e / 50 + 1);
    default:
        return e + test_rng_below(r, max_gain + 1);
    }
}

/* Each member's part this round: 0 honest, 1 liar, 2 silent; at most two are not honest. */
static void roles(test_rng *r, int role[MEMBERS])
{
    int faulty = (int)test_rng_below(r, 3);
    memset(role, 0, sizeof(int) * MEMBERS);
    for (int k = 0; k < faulty; k++) {
        int i;
        do
            i = (int)test_rng_below(r, MEMBERS);
        while (role[i] != 0);
        role[i] = 1 + (int)test_rng_below(r, 2);
        seen.liars += role[i] == 1;
        seen.silent += role[i] == 2;
    }
}

/* One round on the committee's ledger: every member that votes does so in a random order;
 * the liars (colluding on one wrong balance half the time) can never reach the quorum, so the
 * third honest vote books the truth, or holds it exactly where the operator's report was held
 * (later honest votes then meet the same hold, later liars are counted: the admin's accept
 * compares them all). Returns: the code of the vote that reached the quorum. */
static int committee_round(test_rng *r, fixture *c, uint64_t epoch, uint64_t bal, uint64_t perf,
                           const int role[MEMBERS], bool counted[MEMBERS])
{
    memset(counted, 0, sizeof(bool) * MEMBERS);
    int order[MEMBERS], code = -1, honest = 0;
    uint64_t lie = bal + 1 + test_rng_below(r, 1000000);
    bool collude = test_rng_below(r, 2) == 0;
    for (int i = 0; i < MEMBERS; i++)
        order[i] = i;
    for (int i = MEMBERS - 1; i > 0; i--) {
        int j = (int)test_rng_below(r, (uint64_t)i + 1), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (int k = 0; k < MEMBERS; k++) {
        int i = order[k];
        if (role[i] == 2)
            continue;
        uint64_t b = role[i] == 0 ? bal : collude ? lie : lie + (uint64_t)i;
        ledger_result res = vote(c, M0 + i, epoch, b, role[i] == 0 ? perf : perf / 2);
        honest += role[i] == 0;
        counted[i] = code != LEDGER_OK; /* kept, to be compared with the result */
        if (code == LEDGER_OK) {        /* the epoch is booked: late */
            CHECK_CODE(res.code, LEDGER_EPOCH_ALREADY_APPLIED);
            seen.late++;
        } else if (code != -1) { /* held: an honest vote meets the hold again */
            CHECK_CODE(res.code, role[i] == 0 ? code : LEDGER_OK);
        } else if (role[i] != 0 || honest < QUORUM) {
            CHECK_CODE(res.code, LEDGER_OK); /* counted: a liar never reaches the quorum */
            CHECK(res.out[0] < QUORUM);
        } else {
            code = res.code; /* the third honest vote */
            if (code == LEDGER_OK)
                CHECK(res.out[0] == QUORUM && res.out[1] == QUORUM);
        }
    }
    return code;
}

/* Every counted vote is compared with the result once: the liars' as differed, no one else's. */
static void check_agreement(fixture *c, const ledger_oracle_member before[MEMBERS],
                            const int role[MEMBERS], const bool counted[MEMBERS], int line)
{
    for (int i = 0; i < MEMBERS; i++) {
        ledger_oracle_member m;
        CHECK_CODE(ledger_read_oracle_member(store_db_view(c->store), member_keys[M0 + i], &m),
                   LEDGER_OK);
        int failures = test_failures;
        CHECK_U64(m.compared, before[i].compared + counted[i]);
        CHECK_U64(m.differed, before[i].differed + (counted[i] && role[i] == 1));
        seen.lies_compared += m.differed - before[i].differed;
        if (test_failures != failures)
            fail_at(line);
    }
}

static void read_members(fixture *c, ledger_oracle_member out[MEMBERS])
{
    for (int i = 0; i < MEMBERS; i++)
        CHECK_CODE(ledger_read_oracle_member(store_db_view(c->store), member_keys[M0 + i], &out[i]),
                   LEDGER_OK);
}

/* A lone operator key cannot move the committee's rate, whatever it reports. */
static void operator_tries(test_rng *r, fixture *c, uint64_t epoch)
{
    ledger_pool before = fx_pool(c);
    uint64_t any = test_rng_below(r, 2) == 0 ? UINT64_MAX : test_rng_next(r);
    ledger_result res = fx_do(c, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, any, epoch);
    CHECK_CODE(res.code, LEDGER_OPERATOR_REPORTS_DISABLED);
    ledger_pool after = fx_pool(c);
    ledger_pool_vest(&before, after.vest_ts > before.vest_ts ? after.vest_ts : before.vest_ts);
    CHECK(after.assets == before.assets && after.shares == before.shares &&
          after.unvested == before.unvested);
    seen.operator_tries++;
}

static void round_once(test_rng *r, fixture *h, fixture *c)
{
    static const uint64_t gaps[] = {384, 3600, 86400, 3 * 86400};
    uint64_t dt = gaps[test_rng_below(r, 4)] + test_rng_below(r, 384);
    int role[MEMBERS];
    bool counted[MEMBERS];
    ledger_oracle_member before[MEMBERS];
    h->now += dt, c->now += dt;
    if (fx_operator(h, 1).balance < STAKE / 10) /* slashes add up over a long walk: fund again */
        both(h, c, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, 1, STAKE / 2, 0);
    ledger_operator o = fx_operator(h, 1);
    ledger_pool p = fx_pool(h);
    uint64_t epoch = ledger_epoch_at(&p, h->now), bal = truth(r, &o, h->now - o.last_report_ts);
    uint64_t perf = 9000 + test_rng_below(r, 1001);
    if (epoch <= o.last_epoch)
        return; /* the same epoch again: nothing to report */
    if (test_rng_below(r, 4) == 0)
        operator_tries(r, c, epoch);
    if (test_rng_below(r, 3) == 0) {
        both(h, c, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, HOLDER2, 0, 1 + test_rng_below(r, STAKE), 0);
        seen.deposits++;
    }
    roles(r, role);
    read_members(c, before);
    ledger_result rh = fx_do(h, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, bal, epoch);
    int code = committee_round(r, c, epoch, bal, perf, role, counted);
    CHECK_CODE(code, rh.code);
    if (rh.code != LEDGER_OK) { /* held on both: the admin accepts it on both */
        CHECK_U64(fx_operator(c, 1).held_performance_bps, perf);
        both(h, c, FX_ADMIN, LEDGER_TX_REPORT_ACCEPT, FX_NONE, 1, bal, epoch);
        seen.held++;
    } else {
        seen.booked++;
    }
    check_agreement(c, before, role, counted, __LINE__);
    seen.rounds++;
    same(h, c, __LINE__);
}

int main(void)
{
    fixture h, c, probe;
    test_rng r;
    seed = test_seed();
    steps = test_env_u64("LSTD_ITERATIONS", 24000) / 40; /* rounds: a round is ~8 transactions */
    test_rng_seed(&r, seed);
    fx_open(&probe, NULL); /* the fixture's keys are deterministic: the members' for the genesis */
    memcpy(member_keys, probe.pk, sizeof member_keys);
    fx_close(&probe);
    fx_open(&h, operator_mode);
    fx_open(&c, committee);
    both(&h, &c, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, HOLDER, 0, STAKE, 0);
    both(&h, &c, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, 1, STAKE, 0);
    for (uint64_t i = 0; i < steps && test_failures == 0; i++) {
        round_once(&r, &h, &c);
        if (i % 50 == 49) {
            fx_check(&h);
            fx_check(&c);
        }
    }
    fx_check(&h);
    fx_check(&c);
    printf("committee walk: %" PRIu64 " rounds, %" PRIu64 " booked, %" PRIu64 " held and accepted, "
           "%" PRIu64 " liars, %" PRIu64 " silent, %" PRIu64 " lies recorded, %" PRIu64
           " late votes, %" PRIu64 " operator reports refused\n",
           seen.rounds, seen.booked, seen.held, seen.liars, seen.silent, seen.lies_compared,
           seen.late, seen.operator_tries);
    CHECK(seen.rounds > steps / 2 && seen.held > 0 && seen.liars > 0 && seen.silent > 0 &&
          seen.lies_compared > 0 && seen.operator_tries > 0);
    if (test_failures != 0)
        fail_at(__LINE__);
    fx_close(&h);
    fx_close(&c);
    return test_finish("test_property_oracle");
}
