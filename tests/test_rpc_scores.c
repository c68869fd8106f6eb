/* test_rpc_scores.c - the operators scorecard and the votes query against hand-computed figures */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fixture.h"
#include "rpc_harness.h"
#include "rpc_rates.h"
#include "rpc_reply.h"
#include "rpc_scores.h"
#include "test_util.h"

#define DAY 86400u
#define YEAR 31536000u
#define NONE LEDGER_PERFORMANCE_NONE

/* ---- the sums alone ---------------------------------------------------------------------- */

/* Three reports of operator 1, registered at 0, each with the figures written next to it:
 *   R1 day 1,  E 1,000,000,000  gain 100,000    perf 9900  x1 = floor(1e5*1e4*Y/1e9) = 31,536,000
 *   R2 day 11, E 1,000,100,000  loss 50,000     perf 8000  x2 = floor(-5e4*1e4*Y/E) = -15,766,424
 *   R3 day 31, E 1,000,050,000  gain 2,000,000  no perf    x3 = floor(2e6*1e4*Y/E) = 630,688,465
 * and `now` day 35:
 *   since registration: apr floor((x1+x2+x3) / 31 days) = 241, perf floor((9900*1d + 8000*10d)
 *     / 11 days) = 8172;
 *   30 days (from day 5): R2 counts 6 of its 10 days: floor(x2 * 6/10) = -9,459,855 (floor: -inf),
 *     apr floor((-9,459,855 + x3) / 26 days) = 276, perf 8000;
 *   7 days (from day 28): R3 counts 3 of its 20 days: floor(x3 * 3/20) = 94,603,269, apr
 *     floor(that / 3 days) = 364 (R3's own rate, 3.65% a year), no performance. */
static const rpc_score_report reports[] = {
    {11, 1 * DAY, 1, 0, 1000000000, 100000, 0, 9900},
    {22, 11 * DAY, 1, 1 * DAY, 1000100000, 0, 50000, 8000},
    {33, 31 * DAY, 1, 11 * DAY, 1000050000, 2000000, 0, NONE},
};

static void check_window(const rpc_scores *s, uint64_t now, uint64_t w, uint64_t reports_n,
                         bool has_apr, int64_t apr, bool has_perf, uint64_t perf, int line)
{
    rpc_score_window out;
    int failures = test_failures;
    rpc_scores_window(s, 1, now, w, &out);
    CHECK_U64(out.reports, reports_n);
    CHECK(out.has_apr == has_apr && (!has_apr || out.apr_bps == apr));
    CHECK(out.has_performance == has_perf && (!has_perf || out.performance_bps == perf));
    if (has_apr && out.apr_bps != apr)
        fprintf(stderr, "  apr %lld, want %lld\n", (long long)out.apr_bps, (long long)apr);
    if (test_failures != failures)
        fprintf(stderr, "  ^ from test_rpc_scores.c:%d\n", line);
}

static void test_sums(void)
{
    rpc_scores *s;
    CHECK(rpc_scores_new(&s) == 0);
    for (size_t i = 0; i < 3; i++)
        CHECK(rpc_scores_add(s, &reports[i]) == 0);
    check_window(s, 35 * DAY, 0, 3, true, 241, true, 8172, __LINE__);
    check_window(s, 35 * DAY, 30 * DAY, 2, true, 276, true, 8000, __LINE__);
    check_window(s, 35 * DAY, 7 * DAY, 1, true, 364, false, 0, __LINE__);
    check_window(s, 80 * DAY, 7 * DAY, 0, false, 0, false, 0, __LINE__); /* nothing recent */
    /* the window (day 1, day 11] holds R2 whole (it began at day 1, not before the window) and
     * not R1 (at day 1, not after it): floor(x2 / 10 days) = -19 (a slash: below zero), 8000 */
    check_window(s, 11 * DAY, 10 * DAY, 1, true, -19, true, 8000, __LINE__);
    /* one second shorter: R2 counts 863,999 of its 864,000 s, the same rate */
    check_window(s, 11 * DAY, 10 * DAY - 1, 1, true, -19, true, 8000, __LINE__);
    rpc_score_slash sl[4];
    uint64_t count;
    rpc_scores_u128 total;
    CHECK_U64(rpc_scores_slashes(s, 1, sl, 4, &count, &total), 1);
    CHECK(count == 1 && total == 50000 && sl[0].seq == 22 && sl[0].time == 11 * DAY &&
          sl[0].loss == 50000);
    uint64_t start, last;
    CHECK(rpc_scores_span(s, 1, &start, &last) && start == 0 && last == 31 * DAY);
    CHECK(!rpc_scores_span(s, 2, &start, &last));
    /* an undone batch takes its reports back */
    rpc_scores_pop(s, &reports[2]);
    rpc_scores_pop(s, &reports[1]);
    CHECK_U64(rpc_scores_slashes(s, 1, sl, 4, &count, &total), 0);
    check_window(s, 35 * DAY, 0, 1, true, 365, true, 9900, __LINE__);
    /* no expected balance: no rate, the performance still counts */
    rpc_score_report zero = {44, 2 * DAY, 1, 1 * DAY, 0, 5, 0, 10000};
    CHECK(rpc_scores_add(s, &zero) == 0);
    check_window(s, 2 * DAY, 0, 2, true, 365, true, 9950, __LINE__);
    rpc_scores_free(&s);
    CHECK(s == NULL);
}

/* ---- the scorecard of a ledger ------------------------------------------------------------ */

enum { M0 = FX_USER + 6, M1, M2, HOLDER = FX_USER };
static uint8_t member_keys[FX_KEYS][32];

static void committee(ledger_genesis *g)
{
    g->epoch_origin = g->timestamp;
    g->report_mode = LEDGER_REPORT_MODE_COMMITTEE;
    g->oracle_member_count = 3;
    g->oracle_quorum = 2;
    for (int i = 0; i < 3; i++)
        memcpy(g->oracle_members[i], member_keys[M0 + i], 32);
}

static uint64_t epoch_of(fixture *f)
{
    return (f->now - f->genesis.timestamp) / 384;
}

static ledger_result vote(fixture *f, int member, uint64_t balance, uint64_t perf)
{
    ledger_tx tx = fx_tx(f, member, LEDGER_TX_VOTE, FX_NONE, FX_NONE, 1, balance, epoch_of(f));
    tx.extra = perf;
    return fx_submit(f, &tx);
}

static void ok(ledger_result r, int line)
{
    if (r.code != LEDGER_OK)
        fprintf(stderr, "  ^ test_rpc_scores.c:%d\n", line);
    CHECK_CODE(r.code, LEDGER_OK);
}

/* The reports of test_sums on a ledger: T is the genesis; operator 1 holds 10^9 from it.
 * R1 (day 1) and R2 (day 11) by the committee (M2 dissents on R2), R3 (day 31) by the operator's
 * own report once the pool is back in operator mode; operator 2 registered on day 2, idle.
 * Returns: the seq of R2's record (the slash). */
static uint64_t build(fixture *f)
{
    uint64_t t = f->genesis.timestamp, r2;
    ok(fx_do(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, HOLDER, FX_NONE, 0, 1000000000, 0), __LINE__);
    ok(fx_do(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 1000000000, 0),
       __LINE__);
    f->now = t + 1 * DAY;
    ok(vote(f, M0, 1000100000, 9900), __LINE__);
    ledger_result r = vote(f, M1, 1000100000, 9900);
    ok(r, __LINE__);
    CHECK(r.out[0] == 2 && r.out[2] == 100000);
    f->now = t + 2 * DAY;
    ok(fx_do(f, FX_ADMIN, LEDGER_TX_OPERATOR_REGISTER, FX_USER + 1, FX_USER + 2, 0, 300, 0),
       __LINE__);
    f->now = t + 11 * DAY;
    ok(vote(f, M2, 1000050001, 8000), __LINE__); /* dissents */
    ok(vote(f, M0, 1000050000, 8000), __LINE__);
    r = vote(f, M1, 1000050000, 8000);
    ok(r, __LINE__);
    CHECK(r.out[0] == 2 && r.out[3] == 50000);
    r2 = r.seq;
    ok(fx_do(f, FX_ADMIN, LEDGER_TX_QUORUM_SET, FX_NONE, FX_NONE, LEDGER_REPORT_MODE_OPERATOR, 2,
             0),
       __LINE__);
    f->now = t + 31 * DAY;
    ok(fx_do(f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, 1002050000, epoch_of(f)),
       __LINE__);
    fx_check(f);
    return r2;
}

typedef struct q {
    msgpack_sbuffer buf;
    msgpack_unpacked up;
} q;

/* Answer req as the server would at `now` with the rate index. Returns: the result map. */
static const msgpack_object *ask(q *x, fixture *f, rpc_rates *rates, rpc_request *req, uint64_t now)
{
    size_t off = 0;
    msgpack_sbuffer_clear(&x->buf);
    CHECK(rpc_reply_query(&x->buf, store_db_view(f->store), req, now, NULL, rates) == 0);
    msgpack_unpacked_destroy(&x->up);
    msgpack_unpacked_init(&x->up);
    if (msgpack_unpack_next(&x->up, x->buf.data, x->buf.size, &off) != MSGPACK_UNPACK_SUCCESS)
        return NULL;
    bool good = false;
    CHECK(rh_get_bool(&x->up.data, "ok", &good) && good);
    return rh_get_map(&x->up.data, "result");
}

static rpc_request operators_req(unsigned order, bool active_only, bool reverse, uint64_t limit)
{
    rpc_request r;
    memset(&r, 0, sizeof r);
    r.query = RPC_Q_OPERATORS;
    r.order = order, r.active_only = active_only, r.reverse = reverse, r.limit = limit;
    return r;
}

static uint64_t id_at(const msgpack_object *res, uint32_t i)
{
    const msgpack_object *a = rh_get_array(res, "operators");
    return a != NULL && i < a->via.array.size ? RH_U64(&a->via.array.ptr[i], "operator_id") : 0;
}

static void check_card1(const msgpack_object *c, uint64_t t, uint64_t r2)
{
    int64_t v;
    static const char *const keys[] = {"operator_id",
                                       "active",
                                       "fee",
                                       "next_report_fees",
                                       "fee_total_bps",
                                       "balance",
                                       "share_bps",
                                       "stake_share_bps",
                                       "apr_7d_bps",
                                       "apr_30d_bps",
                                       "apr_bps",
                                       "performance_7d_bps",
                                       "performance_30d_bps",
                                       "performance_bps",
                                       "reports_7d",
                                       "reports_30d",
                                       "reports",
                                       "registered",
                                       "last_report_time",
                                       "last_report_age_s",
                                       "held",
                                       "slashes",
                                       "slashed",
                                       "slashing",
                                       NULL};
    rh_check_keys(c, keys, __FILE__, __LINE__);
    CHECK_U64(RH_U64(c, "operator_id"), 1);
    CHECK_U64(RH_U64(c, "fee_total_bps"), 1000); /* treasury 500 + operator 500 */
    CHECK_U64(RH_U64(c, "balance"), 1002050000);
    CHECK_U64(RH_U64(c, "share_bps"), 9990);        /* 1,002,050,000 * 10^4 / 1,003,050,000 */
    CHECK_U64(RH_U64(c, "stake_share_bps"), 10000); /* all of the validators' balance */
    const msgpack_object *a7 = rh_get(c, "apr_7d_bps"), *a30 = rh_get(c, "apr_30d_bps"),
                         *a = rh_get(c, "apr_bps");
    v = a7 != NULL ? a7->via.i64 : 0;
    CHECK_U64(v, 364);
    v = a30 != NULL ? a30->via.i64 : 0;
    CHECK_U64(v, 276);
    v = a != NULL ? a->via.i64 : 0;
    CHECK_U64(v, 241);
    CHECK(rh_is_nil(c, "performance_7d_bps"));
    CHECK_U64(RH_U64(c, "performance_30d_bps"), 8000);
    CHECK_U64(RH_U64(c, "performance_bps"), 8172);
    CHECK(RH_U64(c, "reports_7d") == 1 && RH_U64(c, "reports_30d") == 2 &&
          RH_U64(c, "reports") == 3);
    CHECK_U64(RH_U64(c, "registered"), t);
    CHECK_U64(RH_U64(c, "last_report_time"), t + 31 * DAY);
    CHECK_U64(RH_U64(c, "last_report_age_s"), 4 * DAY);
    CHECK(!RH_BOOL(c, "held"));
    CHECK_U64(RH_U64(c, "slashes"), 1);
    ledger_u128 slashed = 0;
    CHECK(rh_get_u128(c, "slashed", &slashed) && slashed == 50000);
    const msgpack_object *s = rh_get_array(c, "slashing");
    CHECK(s != NULL && s->via.array.size == 1);
    if (s != NULL && s->via.array.size == 1)
        CHECK(RH_U64(&s->via.array.ptr[0], "seq") == r2 &&
              RH_U64(&s->via.array.ptr[0], "time") == t + 11 * DAY &&
              RH_U64(&s->via.array.ptr[0], "loss") == 50000);
}

static void check_card2(const msgpack_object *c, uint64_t t)
{
    CHECK_U64(RH_U64(c, "operator_id"), 2);
    CHECK_U64(RH_U64(c, "fee_total_bps"), 800);
    CHECK(rh_is_nil(c, "apr_bps") && rh_is_nil(c, "apr_7d_bps") && rh_is_nil(c, "performance_bps"));
    CHECK(rh_is_nil(c, "last_report_time") && rh_is_nil(c, "last_report_age_s"));
    CHECK_U64(RH_U64(c, "registered"), t + 2 * DAY);
    CHECK_U64(RH_U64(c, "reports") + RH_U64(c, "slashes") + RH_U64(c, "balance"), 0);
}

static void test_scorecard(void)
{
    fixture f, probe;
    fx_open(&probe, NULL); /* the fixture's keys are deterministic: the members' for the genesis */
    memcpy(member_keys, probe.pk, sizeof member_keys);
    fx_close(&probe);
    fx_open(&f, committee);
    uint64_t t = f.genesis.timestamp, r2 = build(&f);
    char path[512], msg[256];
    rpc_rates *rates = NULL;
    rpc_rates_info info;
    snprintf(path, sizeof path, "%s/rate-index", f.dir);
    CHECK_CODE(rpc_rates_open(&rates, path, f.store, false, &info, msg, sizeof msg), LEDGER_OK);
    CHECK(info.rebuilt && info.entries == 3);
    q x;
    msgpack_sbuffer_init(&x.buf);
    msgpack_unpacked_init(&x.up);
    uint64_t now = t + 35 * DAY;
    rpc_request req = operators_req(RPC_ORDER_ID, false, false, 1024);
    const msgpack_object *res = ask(&x, &f, rates, &req, now);
    const msgpack_object *cards = rh_get_array(res, "operators");
    CHECK(res != NULL && RH_U64(res, "now") == now && cards != NULL && cards->via.array.size == 2);
    if (cards != NULL && cards->via.array.size == 2) {
        check_card1(&cards->via.array.ptr[0], t, r2);
        check_card2(&cards->via.array.ptr[1], t);
    }
    /* the orders: fee (cheapest first), apr (best first, none last, also reversed), id reversed,
     * a limit, and active_only once operator 2 is deactivated */
    req = operators_req(RPC_ORDER_FEE, false, false, 1024);
    res = ask(&x, &f, rates, &req, now);
    CHECK(id_at(res, 0) == 2 && id_at(res, 1) == 1);
    req = operators_req(RPC_ORDER_APR_7D, false, false, 1024);
    CHECK(id_at(ask(&x, &f, rates, &req, now), 0) == 1);
    req = operators_req(RPC_ORDER_APR_7D, false, true, 1024);
    CHECK(id_at(ask(&x, &f, rates, &req, now), 0) == 1); /* none stays last */
    req = operators_req(RPC_ORDER_ID, false, true, 1);
    res = ask(&x, &f, rates, &req, now);
    CHECK(id_at(res, 0) == 2 && rh_get_array(res, "operators")->via.array.size == 1);
    req = operators_req(RPC_ORDER_PERFORMANCE, false, false, 1024);
    CHECK(id_at(ask(&x, &f, rates, &req, now), 0) == 1);
    ok(fx_do(&f, FX_ADMIN, LEDGER_TX_OPERATOR_SET_ACTIVE, FX_NONE, FX_NONE, 2, 0, 0), __LINE__);
    req = operators_req(RPC_ORDER_FEE, true, false, 1024);
    res = ask(&x, &f, rates, &req, now);
    CHECK(id_at(res, 0) == 1 && rh_get_array(res, "operators")->via.array.size == 1);
    msgpack_unpacked_destroy(&x.up);
    msgpack_sbuffer_destroy(&x.buf);
    rpc_rates_close(&rates);
    fx_close(&f);
}

/* ---- the votes query ------------------------------------------------------------------------ */

static bool bin_is(const msgpack_object *o, const uint8_t key[32])
{
    return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == 32 &&
           memcmp(o->via.bin.ptr, key, 32) == 0;
}

/* After build(): M2 differed once (R2). Two pending votes for one epoch that disagree, M1
 * silent: grouped by tuple, M1 not voted, M2 among those whose last votes differed. */
static void test_votes_query(void)
{
    fixture f, probe;
    fx_open(&probe, NULL);
    memcpy(member_keys, probe.pk, sizeof member_keys);
    fx_close(&probe);
    fx_open(&f, committee);
    build(&f);
    ok(fx_do(&f, FX_ADMIN, LEDGER_TX_QUORUM_SET, FX_NONE, FX_NONE, LEDGER_REPORT_MODE_COMMITTEE, 2,
             0),
       __LINE__);
    f.now += DAY;
    uint64_t e = epoch_of(&f);
    ok(vote(&f, M0, 1002050000, 9900), __LINE__);
    ok(vote(&f, M2, 1002050001, 9900), __LINE__);
    q x;
    msgpack_sbuffer_init(&x.buf);
    msgpack_unpacked_init(&x.up);
    rpc_request req;
    memset(&req, 0, sizeof req);
    req.query = RPC_Q_VOTES;
    req.limit = 8, req.last = 8;
    const msgpack_object *res = ask(&x, &f, NULL, &req, f.now);
    static const char *const keys[] = {"report_mode", "quorum",    "last", "members",
                                       "differed",    "operators", "next", NULL};
    rh_check_keys(res, keys, __FILE__, __LINE__);
    CHECK(RH_U64(res, "quorum") == 2 && rh_is_nil(res, "next"));
    const msgpack_object *members = rh_get_array(res, "members"),
                         *d = rh_get_array(res, "differed");
    CHECK(members != NULL && members->via.array.size == 3);
    CHECK(d != NULL && d->via.array.size == 1 && bin_is(&d->via.array.ptr[0], f.pk[M2]));
    for (uint32_t i = 0; members != NULL && i < members->via.array.size; i++) {
        const msgpack_object *m = &members->via.array.ptr[i];
        bool is_m2 = bin_is(rh_get(m, "member"), f.pk[M2]);
        CHECK_U64(RH_U64(m, "recent_differed"), is_m2 ? 1 : 0);
        CHECK_U64(RH_U64(m, "differed"), is_m2 ? 1 : 0);
    }
    const msgpack_object *ops = rh_get_array(res, "operators");
    CHECK(ops != NULL && ops->via.array.size == 1);
    if (ops == NULL || ops->via.array.size != 1)
        goto out;
    const msgpack_object *o = &ops->via.array.ptr[0], *epochs = rh_get_array(o, "epochs");
    CHECK(RH_U64(o, "operator_id") == 1 && rh_is_nil(o, "held"));
    CHECK(epochs != NULL && epochs->via.array.size == 1);
    if (epochs == NULL || epochs->via.array.size != 1)
        goto out;
    const msgpack_object *ep = &epochs->via.array.ptr[0], *tuples = rh_get_array(ep, "tuples"),
                         *missing = rh_get_array(ep, "not_voted");
    CHECK(RH_U64(ep, "epoch") == e && RH_U64(ep, "votes") == 2);
    CHECK(missing != NULL && missing->via.array.size == 1 &&
          bin_is(&missing->via.array.ptr[0], f.pk[M1]));
    CHECK(tuples != NULL && tuples->via.array.size == 2);
    if (tuples != NULL && tuples->via.array.size == 2) {
        const msgpack_object *t0 = &tuples->via.array.ptr[0], *t1 = &tuples->via.array.ptr[1];
        CHECK(RH_U64(t0, "balance") == 1002050000 && RH_U64(t0, "votes") == 1 &&
              RH_U64(t0, "performance_bps") == 9900);
        CHECK(RH_U64(t1, "balance") == 1002050001);
        const msgpack_object *who = rh_get_array(t1, "members");
        CHECK(who != NULL && who->via.array.size == 1 && bin_is(&who->via.array.ptr[0], f.pk[M2]));
    }
    /* one operator by id, one with no votes, one that does not exist */
    req.number = 2;
    res = ask(&x, &f, NULL, &req, f.now);
    ops = rh_get_array(res, "operators");
    CHECK(ops != NULL && ops->via.array.size == 1 &&
          rh_get_array(&ops->via.array.ptr[0], "epochs")->via.array.size == 0);
    req.number = 3;
    msgpack_sbuffer_clear(&x.buf);
    CHECK(rpc_reply_query(&x.buf, store_db_view(f.store), &req, f.now, NULL, NULL) == 0);
    CHECK(memmem(x.buf.data, x.buf.size, "NOT_FOUND", 9) != NULL);
out:
    msgpack_unpacked_destroy(&x.up);
    msgpack_sbuffer_destroy(&x.buf);
    fx_close(&f);
}

int main(void)
{
    test_sums();
    test_scorecard();
    test_votes_query();
    return test_finish("test_rpc_scores");
}
