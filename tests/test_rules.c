/* test_rules.c - every rule of the state machine, every result code a transaction can get */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fixture.h"
#include "ledger.h"
#include "store_lmdb.h"
#include "store_mem.h"
#include "test_util.h"

__extension__ typedef unsigned __int128 u128;

#define YEAR_S 31536000u
#define SNAP_RECORDS 8 /* operators, liens and withdrawals compared by the snapshots */

/* Result codes met so far; main checks that every transaction code was reached. */
static bool code_seen[900];

static void seen(int code)
{
    if (code >= 0 && code < 900)
        code_seen[code] = true;
}

/* After a helper's CHECKs failed, name the test line that called it. */
static void note(int failures_before, int line)
{
    if (test_failures != failures_before)
        fprintf(stderr, "  ^ from test_rules.c:%d\n", line);
}

/* ---- arithmetic of the documented formulas, independent of ledger_math ---------------- */

static uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)((u128)a * b / c);
}

/* Largest gain a report may carry: gain * year * 10000 <= apr * E * elapsed. */
static uint64_t max_gain(uint64_t balance, uint64_t elapsed_s, uint64_t apr_bps)
{
    return (uint64_t)((u128)apr_bps * balance * elapsed_s / ((u128)YEAR_S * LEDGER_BPS));
}

/* Largest loss a report may carry: loss * 10000 <= drop * E. */
static uint64_t max_loss(uint64_t balance, uint64_t drop_bps)
{
    return mul_div(drop_bps, balance, LEDGER_BPS);
}

/* floor(x * y / d) for a 128-bit x and d, by long division over a 192-bit product: the
 * tests' own arithmetic, independent of ledger_math. */
static uint64_t mul_div_wide(u128 x, uint64_t y, u128 d)
{
    u128 lo = (u128)(uint64_t)x * y, mid = (x >> 64) * y; /* x*y = mid*2^64 + lo */
    u128 hi = (mid >> 64) + (((u128)(uint64_t)mid << 64) + lo < lo);
    lo += (u128)(uint64_t)mid << 64;
    u128 r = 0, q = 0; /* the 256-bit value (hi, lo): hi < 2^64 */
    for (int i = 191; i >= 0; i--) {
        unsigned bit = i >= 128 ? (unsigned)(hi >> (i - 128)) & 1 : (unsigned)(lo >> i) & 1;
        bool carry = r >> 127;
        r = r << 1 | bit;
        q <<= 1;
        if (carry || r >= d) {
            r -= d;
            q |= 1;
        }
    }
    return (uint64_t)q;
}

/* Fee shares for reward r at fee f over total assets t = A + U:
 * floor(r*f*S / ((t+r)*10000 - r*f)), 0 when the denominator is 0. */
static uint64_t fee_shares(uint64_t total, uint64_t shares, uint64_t r, uint64_t f)
{
    if (r == 0 || f == 0)
        return 0;
    u128 num = (u128)r * f, den = ((u128)total + r) * LEDGER_BPS - num;
    return den == 0 ? 0 : mul_div_wide(num, shares, den);
}

static u128 ceil_div(u128 a, u128 b)
{
    return a / b + (a % b != 0);
}

/* The documented vesting: U vests linearly from vest_ts to vest_end, floor of the fraction. */
static void vest_to(ledger_pool *p, uint64_t t)
{
    if (p->unvested == 0 || t <= p->vest_ts)
        return;
    uint64_t v = t >= p->vest_end ? p->unvested
                                  : mul_div(p->unvested, t - p->vest_ts, p->vest_end - p->vest_ts);
    p->assets += v;
    p->unvested -= v;
    p->vest_ts = t;
}

/* Add v at time t: the schedule ends at the amount-weighted mean, rounded up. */
static void vest_add(ledger_pool *p, uint64_t v, uint64_t t)
{
    uint64_t period = p->params[LEDGER_PARAM_VEST_S];
    if (v == 0)
        return;
    if (period == 0) {
        p->assets += v;
        return;
    }
    uint64_t left = p->unvested > 0 && p->vest_end > t ? p->vest_end - t : 0;
    p->vest_end =
        t + (uint64_t)ceil_div((u128)p->unvested * left + (u128)v * period, (u128)p->unvested + v);
    p->unvested += v;
    p->vest_ts = t;
}

/* Rewards reach the rate at once (VEST_S = 0): for tests about other rules' figures. */
static void no_vesting(ledger_genesis *g)
{
    g->params[LEDGER_PARAM_VEST_S] = 0;
}

/* ---- store reads ------------------------------------------------------------------------ */

/* The time the next batch will run at: the fixture's clock, never before the last batch. */
static uint64_t batch_time(fixture *f)
{
    uint64_t last = fx_chain(f).last_ts;
    return f->now > last ? f->now : last;
}

/* The pool as the next batch sees it: vested to its time. */
static ledger_pool pool_now(fixture *f)
{
    ledger_pool p = fx_pool(f);
    vest_to(&p, batch_time(f));
    return p;
}

static int slot_of(const fixture *f, const uint8_t key[32])
{
    for (int i = 0; i < FX_KEYS; i++)
        if (memcmp(f->pk[i], key, 32) == 0)
            return i;
    return -1;
}

/* The durable ledger's view of its current state (every batch is durable when fx_submit
 * returns, so this is what a read snapshot of the committed store showed). */
static ledger_store *read_view(fixture *f)
{
    return store_db_view(f->store);
}

static bool account_exists(fixture *f, int slot)
{
    ledger_store *v = read_view(f);
    const uint8_t *val;
    size_t n;
    return v->get(v->self, LEDGER_T_ACCOUNT, f->pk[slot], 32, &val, &n) == 0;
}

static uint64_t allowance(fixture *f, int owner, int spender)
{
    uint64_t out = UINT64_MAX;
    CHECK_CODE(ledger_read_allowance(read_view(f), f->pk[owner], f->pk[spender], &out), LEDGER_OK);
    return out;
}

static int read_lien(fixture *f, uint64_t id, ledger_lien *l)
{
    memset(l, 0, sizeof *l);
    return ledger_read_lien(read_view(f), id, l);
}

#define CHECK_OUT(r, o0, o1, o2, o3)                                                               \
    do {                                                                                           \
        CHECK_U64((r).out[0], o0);                                                                 \
        CHECK_U64((r).out[1], o1);                                                                 \
        CHECK_U64((r).out[2], o2);                                                                 \
        CHECK_U64((r).out[3], o3);                                                                 \
    } while (0)

#define CHECK_ACCT(f, slot, free_, locked_, queued_)                                               \
    do {                                                                                           \
        ledger_account a_ = fx_account(f, slot);                                                   \
        CHECK_U64(a_.shares, free_);                                                               \
        CHECK_U64(a_.locked, locked_);                                                             \
        CHECK_U64(a_.queued, queued_);                                                             \
    } while (0)

/* ---- snapshots: "nothing but the nonce changed" ------------------------------------------ */

typedef struct snapshot {
    ledger_chain chain;
    ledger_pool pool;
    ledger_account acct[FX_KEYS];
    ledger_operator op[SNAP_RECORDS];
    int lien_rc[SNAP_RECORDS], wd_rc[SNAP_RECORDS];
    ledger_lien lien[SNAP_RECORDS];
    ledger_withdrawal wd[SNAP_RECORDS];
} snapshot;

static void snap_take(fixture *f, snapshot *s)
{
    ledger_store *v = read_view(f);
    memset(s, 0, sizeof *s);
    int rc = ledger_read_chain(v, &s->chain);
    if (rc == LEDGER_OK)
        rc = ledger_read_pool(v, &s->pool);
    for (int i = 0; rc == LEDGER_OK && i < FX_KEYS; i++)
        rc = ledger_read_account(v, f->pk[i], &s->acct[i]);
    for (uint64_t id = 1; rc == LEDGER_OK && id <= SNAP_RECORDS; id++) {
        if (id <= s->pool.operator_count)
            rc = ledger_read_operator(v, id, &s->op[id - 1]);
        s->lien_rc[id - 1] = ledger_read_lien(v, id, &s->lien[id - 1]);
        s->wd_rc[id - 1] = ledger_read_withdrawal(v, id, &s->wd[id - 1]);
    }
    CHECK_CODE(rc, LEDGER_OK);
}

static void same_u64(const char *what, uint64_t before, uint64_t after)
{
    if (before == after)
        return;
    fprintf(stderr, "  %s changed: %" PRIu64 " -> %" PRIu64 "\n", what, before, after);
    test_failures++;
}

static void same_u128(const char *what, ledger_u128 before, ledger_u128 after)
{
    char a[40], b[40];
    if (before == after)
        return;
    fprintf(stderr, "  %s changed: %s -> %s\n", what, ledger_u128_str(a, before),
            ledger_u128_str(b, after));
    test_failures++;
}

static void same_bytes(const char *what, const void *before, const void *after, size_t n)
{
    if (memcmp(before, after, n) == 0)
        return;
    fprintf(stderr, "  %s changed\n", what);
    test_failures++;
}

// clang-format off
#define POOL_FIELDS(X) \
    X(assets) \
    X(shares) \
    X(buffer) \
    X(unvested) \
    X(vest_ts) \
    X(vest_end) \
    X(held_loss) \
    X(stake_limit_current) \
    X(stake_limit_ts) \
    X(pause_flags) \
    X(treasury_fee.bps) \
    X(treasury_fee.pending_bps) \
    X(treasury_fee.pending_at) \
    X(operator_count) \
    X(next_lien_id) \
    X(next_request_id) \
    X(finalized_through) \
    X(queue_count) \
    X(queue_shares) \
    X(decimals) \
    X(dead_shares) \
    X(epoch_anchor) \
    X(epoch_anchor_ts)
#define POOL_WIDE_FIELDS(X) \
    X(payable) \
    X(total_deposited) \
    X(total_rewards) \
    X(total_slashed) \
    X(total_paid) \
    X(queue_amount)
// clang-format on

static void pool_same(const ledger_pool *a, const ledger_pool *b)
{
    char what[64];
#define SAME_POOL(field) same_u64("pool." #field, a->field, b->field);
    POOL_FIELDS(SAME_POOL)
#undef SAME_POOL
#define SAME_WIDE(field) same_u128("pool." #field, a->field, b->field);
    POOL_WIDE_FIELDS(SAME_WIDE)
#undef SAME_WIDE
    for (int i = 1; i < LEDGER_PARAM_COUNT; i++) {
        snprintf(what, sizeof what, "pool.params[%d]", i);
        same_u64(what, a->params[i], b->params[i]);
    }
    same_bytes("pool.admin", a->admin, b->admin, 32);
    same_bytes("pool.custodian", a->custodian, b->custodian, 32);
    same_bytes("pool.treasury", a->treasury, b->treasury, 32);
}

/* Compare two snapshots around one transaction of `signer`: only the signer's nonce (and the
 * chain) may move when recorded; with `held`, operators' held report fields may change. */
static void snap_same(const snapshot *a, const snapshot *b, int signer, bool recorded, bool held)
{
    char what[64];
    ledger_pool pa = a->pool;
    if (recorded) /* a recorded batch stores the pool vested to its time */
        ledger_pool_vest(&pa, b->chain.last_ts);
    if (held) /* the hold is checked by the caller */
        pa.held_loss = b->pool.held_loss;
    pool_same(&pa, &b->pool);
    for (int i = 0; i < FX_KEYS; i++) {
        snprintf(what, sizeof what, "account[%d].shares", i);
        same_u64(what, a->acct[i].shares, b->acct[i].shares);
        snprintf(what, sizeof what, "account[%d].locked", i);
        same_u64(what, a->acct[i].locked, b->acct[i].locked);
        snprintf(what, sizeof what, "account[%d].queued", i);
        same_u64(what, a->acct[i].queued, b->acct[i].queued);
        snprintf(what, sizeof what, "account[%d].nonce (+ consumed)", i);
        same_u64(what, a->acct[i].nonce + (i == signer && recorded), b->acct[i].nonce);
    }
    for (int i = 0; i < SNAP_RECORDS; i++) {
        ledger_operator oa = a->op[i], ob = b->op[i];
        if (held)
            oa.held_epoch = ob.held_epoch = oa.held_balance = ob.held_balance =
                oa.held_performance_bps = ob.held_performance_bps = 0;
        snprintf(what, sizeof what, "operator %d", i + 1);
        same_bytes(what, &oa, &ob, sizeof oa);
        snprintf(what, sizeof what, "lien %d", i + 1);
        same_u64(what, (uint64_t)a->lien_rc[i], (uint64_t)b->lien_rc[i]);
        same_bytes(what, &a->lien[i], &b->lien[i], sizeof a->lien[i]);
        snprintf(what, sizeof what, "withdrawal %d", i + 1);
        same_u64(what, (uint64_t)a->wd_rc[i], (uint64_t)b->wd_rc[i]);
        same_bytes(what, &a->wd[i], &b->wd[i], sizeof a->wd[i]);
    }
    same_u64("chain.next_seq (+ recorded)", a->chain.next_seq + recorded, b->chain.next_seq);
    same_u64("chain.next_batch (+ recorded)", a->chain.next_batch + recorded, b->chain.next_batch);
    if (!recorded) {
        same_bytes("chain.head", a->chain.head, b->chain.head, 32);
        same_bytes("chain.digest", a->chain.digest, b->chain.digest, 32);
        same_u64("chain.last_ts", a->chain.last_ts, b->chain.last_ts);
    }
}

/* ---- submission helpers ---------------------------------------------------------------- */

/* Submit tx expecting rejection `code`: recorded with the nonce consumed for codes >= 100, not
 * recorded below; nothing else may change (a held report may set the operator's hold). */
static ledger_result reject_at(fixture *f, const ledger_tx *tx, int code, bool held, int line)
{
    int failures = test_failures, signer = slot_of(f, tx->signer);
    bool recorded = code >= 100;
    snapshot before, after;
    snap_take(f, &before);
    ledger_result r = fx_submit(f, tx);
    snap_take(f, &after);
    seen(r.code);
    CHECK_CODE(r.code, code);
    CHECK(!r.duplicate);
    CHECK(ledger_err_recorded(code) == (int)recorded);
    if (recorded) {
        CHECK_U64(r.seq, before.chain.next_seq);
        CHECK_U64(r.batch, before.chain.next_batch);
        CHECK_U64(r.timestamp, f->now > before.chain.last_ts ? f->now : before.chain.last_ts);
    } else {
        CHECK_U64(r.seq, 0);
    }
    CHECK_OUT(r, 0, 0, 0, 0);
    snap_same(&before, &after, signer, recorded, held);
    note(failures, line);
    return r;
}

/* Submit tx expecting success: recorded at the next sequence number, nonce consumed. */
static ledger_result accept_at(fixture *f, const ledger_tx *tx, int line)
{
    int failures = test_failures, signer = slot_of(f, tx->signer);
    ledger_chain c = fx_chain(f);
    ledger_result r = fx_submit(f, tx);
    CHECK_CODE(r.code, LEDGER_OK);
    CHECK(!r.duplicate);
    CHECK_U64(r.seq, c.next_seq);
    CHECK_U64(r.batch, c.next_batch);
    CHECK_U64(r.timestamp, f->now > c.last_ts ? f->now : c.last_ts);
    CHECK_U64(fx_chain(f).next_seq, c.next_seq + 1);
    if (signer >= 0)
        CHECK_U64(fx_account(f, signer).nonce, tx->nonce);
    note(failures, line);
    return r;
}

static ledger_result do_reject(fixture *f, int signer, unsigned kind, int account, int account2,
                               uint64_t id, uint64_t amount, uint64_t limit, int code, int line)
{
    ledger_tx tx = fx_tx(f, signer, kind, account, account2, id, amount, limit);
    return reject_at(f, &tx, code, false, line);
}

static ledger_result do_ok(fixture *f, int signer, unsigned kind, int account, int account2,
                           uint64_t id, uint64_t amount, uint64_t limit, int line)
{
    ledger_tx tx = fx_tx(f, signer, kind, account, account2, id, amount, limit);
    return accept_at(f, &tx, line);
}

#define TX_OK(f, tx) accept_at(f, tx, __LINE__)
#define TX_REJECT(f, tx, code) reject_at(f, tx, code, false, __LINE__)
#define DO_OK(f, s, k, a, a2, id, amt, lim) do_ok(f, s, k, a, a2, id, amt, lim, __LINE__)
#define DO_REJECT(f, s, k, a, a2, id, amt, lim, code)                                              \
    do_reject(f, s, k, a, a2, id, amt, lim, code, __LINE__)

/* Expect INVALID_ACCOUNT when account field `which` (1 or 2) is 32 bytes of 0xFF: not an x
 * coordinate on the curve. */
static void reject_bad_key_at(fixture *f, int signer, unsigned kind, int account, int account2,
                              int which, uint64_t id, uint64_t amount, uint64_t limit, int line)
{
    ledger_tx tx = fx_tx(f, signer, kind, account, account2, id, amount, limit);
    memset(which == 2 ? tx.account2 : tx.account, 0xFF, 32);
    reject_at(f, &tx, LEDGER_INVALID_ACCOUNT, false, line);
}
#define REJECT_BAD_KEY(f, s, k, a, a2, which, id, amt, lim)                                        \
    reject_bad_key_at(f, s, k, a, a2, which, id, amt, lim, __LINE__)

/* Deposit at the current rate: checks the minted shares floor(amount*S/A) and the pool. */
static uint64_t deposit_at(fixture *f, int to, uint64_t amount, int line)
{
    int failures = test_failures;
    ledger_pool p = pool_now(f);
    ledger_account a = fx_account(f, to);
    uint64_t shares = mul_div(amount, p.shares, p.assets + p.unvested); /* at (A + U) / S */
    ledger_result r = do_ok(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, to, FX_NONE, 0, amount, 0, line);
    CHECK_OUT(r, shares, amount, 0, 0);
    ledger_pool q = fx_pool(f);
    CHECK_U64(q.assets, p.assets + amount);
    CHECK_U64(q.shares, p.shares + shares);
    CHECK_U64(q.buffer, p.buffer + amount);
    CHECK_U128(q.total_deposited, p.total_deposited + amount);
    CHECK_U64(fx_account(f, to).shares, a.shares + shares);
    note(failures, line);
    return shares;
}
#define DEPOSIT(f, to, amount) deposit_at(f, to, amount, __LINE__)

/* The pool a report of gain/loss leaves, from the documented rules: fee shares over A + U,
 * their backing ceil(fee*A/S) vested at once, the rest of the gain vesting; a loss from A first. */
static ledger_pool pool_after_report(const ledger_pool *p, uint64_t gain, uint64_t loss,
                                     uint64_t fee, uint64_t t)
{
    ledger_pool q = *p;
    uint64_t backing = (uint64_t)ceil_div((u128)fee * p->assets, p->shares);
    uint64_t from_a = loss < q.assets ? loss : q.assets;
    q.assets += backing;
    vest_add(&q, gain - backing, t);
    q.assets -= from_a;
    q.unvested -= loss - from_a;
    q.shares += fee;
    return q;
}

/* A report (kind REPORT by the operator key, REPORT_ACCEPT or OPERATOR_RESET by the admin)
 * expected to be applied with treasury fee ft and operator fee fo charged: checks out[] and
 * every effect. */
static ledger_result report_at(fixture *f, int signer, unsigned kind, uint64_t id, uint64_t epoch,
                               uint64_t balance, uint64_t ft, uint64_t fo, int line)
{
    int failures = test_failures;
    uint64_t t = batch_time(f);
    ledger_pool p = pool_now(f);
    ledger_operator o = fx_operator(f, id);
    int ts = slot_of(f, p.treasury), fs = slot_of(f, o.fee_account);
    uint64_t t0 = ts >= 0 ? fx_account(f, ts).shares : 0;
    uint64_t a0 = fs >= 0 ? fx_account(f, fs).shares : 0;
    uint64_t gain = balance > o.balance ? balance - o.balance : 0;
    uint64_t loss = balance < o.balance ? o.balance - balance : 0;
    uint64_t fee = fee_shares(p.assets + p.unvested, p.shares, gain, ft + fo);
    uint64_t fee_op = ft + fo ? mul_div(fee, fo, ft + fo) : 0, fee_tr = fee - fee_op;
    ledger_pool want = pool_after_report(&p, gain, loss, fee, t);
    ledger_tx tx = fx_tx(f, signer, kind, FX_NONE, FX_NONE, id, balance, epoch);
    ledger_result r = accept_at(f, &tx, line);
    CHECK_OUT(r, gain, loss, fee_tr, fee_op);
    ledger_pool q = fx_pool(f);
    ledger_operator n = fx_operator(f, id);
    CHECK_U64(q.assets, want.assets);
    CHECK_U64(q.unvested, want.unvested);
    if (want.unvested > 0)
        CHECK(q.vest_ts == want.vest_ts && q.vest_end == want.vest_end);
    CHECK_U64(q.shares, p.shares + fee);
    CHECK_U64(q.buffer, p.buffer);
    CHECK_U128(q.total_rewards, p.total_rewards + gain);
    CHECK_U128(q.total_slashed, p.total_slashed + loss);
    CHECK_U64(q.held_loss, p.held_loss - ledger_held_loss(&o));
    if (ts >= 0)
        CHECK_U64(fx_account(f, ts).shares, t0 + fee_tr + (fs == ts ? fee_op : 0));
    if (fs >= 0 && fs != ts)
        CHECK_U64(fx_account(f, fs).shares, a0 + fee_op);
    CHECK_U64(n.balance, balance);
    CHECK_U64(n.reported_balance, balance);
    CHECK_U128(n.funded_since + n.exited_since, 0);
    CHECK_U64(n.last_epoch, epoch);
    CHECK_U64(n.last_report_ts, r.timestamp);
    CHECK_U64(n.report_count, o.report_count + 1);
    CHECK_U64(n.held_epoch + n.held_balance + n.held_performance_bps, 0);
    CHECK_U128(n.fees_earned, o.fees_earned + fee_op);
    CHECK_U64(n.period_treasury_bps, ledger_fee_in_force(&q.treasury_fee, t));
    CHECK_U64(n.period_fee_bps, ledger_fee_in_force(&n.fee, t));
    const ledger_report_entry *e = &n.reports[o.report_count % LEDGER_REPORTS_KEPT];
    CHECK(e->epoch == epoch && e->balance == balance && e->timestamp == r.timestamp &&
          e->gain == gain && e->loss == loss && e->fee_shares == fee);
    if (fee > 0) { /* once vested, the fee shares are worth F/P of the reward, less one share */
        u128 owed = (u128)gain * (ft + fo) * q.shares, total = (u128)q.assets + q.unvested;
        CHECK((u128)fee * total * LEDGER_BPS <= owed);
        CHECK((u128)(fee + 1) * total * LEDGER_BPS > owed);
    }
    if (loss == 0) /* minting the fee shares never lowers the rate */
        CHECK((u128)q.assets * p.shares >= (u128)p.assets * q.shares);
    else
        CHECK((u128)q.assets * p.shares < (u128)p.assets * q.shares || p.assets == 0);
    note(failures, line);
    return r;
}
#define REPORT_OK(f, id, epoch, balance, ft, fo)                                                   \
    report_at(f, FX_OPERATOR, LEDGER_TX_REPORT, id, epoch, balance, ft, fo, __LINE__)
#define ACCEPT_OK(f, id, epoch, balance, ft, fo)                                                   \
    report_at(f, FX_ADMIN, LEDGER_TX_REPORT_ACCEPT, id, epoch, balance, ft, fo, __LINE__)

/* A report outside a sanity limit: rejected with `code`, recorded, and held by the operator. */
static void report_held_at(fixture *f, int signer, uint64_t id, uint64_t epoch, uint64_t balance,
                           int code, int line)
{
    int failures = test_failures;
    ledger_tx tx = fx_tx(f, signer, LEDGER_TX_REPORT, FX_NONE, FX_NONE, id, balance, epoch);
    reject_at(f, &tx, code, true, line);
    ledger_operator o = fx_operator(f, id);
    CHECK_U64(o.held_epoch, epoch);
    CHECK_U64(o.held_balance, balance);
    note(failures, line);
}
#define REPORT_HELD(f, id, epoch, balance, code)                                                   \
    report_held_at(f, FX_OPERATOR, id, epoch, balance, code, __LINE__)

/* ---- deposit ------------------------------------------------------------------------------ */

static void deposit_basics(fixture *f)
{
    const unsigned D = LEDGER_TX_DEPOSIT;
    DO_REJECT(f, FX_USER + 4, D, FX_USER, FX_NONE, 0, 1000, 0, LEDGER_SIGNER_HOLDS_NOTHING);
    DO_REJECT(f, FX_ADMIN, D, FX_USER, FX_NONE, 0, 1000, 0, LEDGER_NOT_CUSTODIAN);
    DO_REJECT(f, FX_CUSTODIAN, D, FX_USER, FX_NONE, 0, 0, 0, LEDGER_AMOUNT_ZERO);
    DO_REJECT(f, FX_CUSTODIAN, D, FX_NONE, FX_NONE, 0, 1000, 0, LEDGER_INVALID_ACCOUNT);
    REJECT_BAD_KEY(f, FX_CUSTODIAN, D, FX_NONE, FX_NONE, 1, 0, 1000, 0);

    CHECK(!account_exists(f, FX_USER));
    ledger_tx first = fx_tx(f, FX_CUSTODIAN, D, FX_USER, FX_NONE, 0, 1000000, 0);
    ledger_result r = TX_OK(f, &first);
    CHECK_OUT(r, 1000000, 1000000, 0, 0); /* 1:1 at genesis */
    CHECK(account_exists(f, FX_USER));
    CHECK_ACCT(f, FX_USER, 1000000, 0, 0);
    ledger_pool p = fx_pool(f);
    CHECK(p.assets == 2000000 && p.shares == 2000000 && p.buffer == 2000000);

    ledger_tx again = fx_tx(f, FX_CUSTODIAN, D, FX_USER + 1, FX_NONE, 0, 5, 0);
    memcpy(again.ref, first.ref, LEDGER_REF_SIZE);
    TX_REJECT(f, &again, LEDGER_DEPOSIT_REF_USED);

    r = DO_OK(f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, LEDGER_PAUSE_DEPOSITS, 0);
    CHECK_U64(r.out[0], LEDGER_PAUSE_DEPOSITS);
    DO_REJECT(f, FX_CUSTODIAN, D, FX_USER, FX_NONE, 0, 1000, 0, LEDGER_DEPOSITS_PAUSED);
    DO_OK(f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, 0, 0);
    DEPOSIT(f, FX_USER, 1000);
}

static void deposit_stake_limit(fixture *f)
{
    const unsigned D = LEDGER_TX_DEPOSIT, PS = LEDGER_TX_PARAM_SET;
    ledger_result r =
        DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_STAKE_LIMIT_MAX, 5000, 0);
    CHECK_U64(r.out[0], 5000);
    ledger_pool p = fx_pool(f);
    CHECK_U64(p.stake_limit_current, 5000); /* switched on from 0: starts full */
    CHECK_U64(p.stake_limit_ts, r.timestamp);
    DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_STAKE_LIMIT_REFILL, 10, 0);
    CHECK_U64(fx_pool(f).stake_limit_current, 5000);

    DO_REJECT(f, FX_CUSTODIAN, D, FX_USER + 1, FX_NONE, 0, 5001, 0, LEDGER_STAKE_LIMIT_EXCEEDED);
    DEPOSIT(f, FX_USER + 1, 3000);
    p = fx_pool(f);
    CHECK_U64(p.stake_limit_current, 2000);
    CHECK_U64(p.stake_limit_ts, f->now);
    DO_REJECT(f, FX_CUSTODIAN, D, FX_USER + 1, FX_NONE, 0, 2001, 0, LEDGER_STAKE_LIMIT_EXCEEDED);

    f->now += 50; /* refills 50 * 10 */
    DO_REJECT(f, FX_CUSTODIAN, D, FX_USER + 1, FX_NONE, 0, 2501, 0, LEDGER_STAKE_LIMIT_EXCEEDED);
    DEPOSIT(f, FX_USER + 1, 2500);
    p = fx_pool(f);
    CHECK_U64(p.stake_limit_current, 0);
    CHECK_U64(p.stake_limit_ts, f->now);
    DO_REJECT(f, FX_CUSTODIAN, D, FX_USER + 1, FX_NONE, 0, 1, 0, LEDGER_STAKE_LIMIT_EXCEEDED);

    f->now += 1000; /* would refill 10000: capped at the maximum */
    DO_REJECT(f, FX_CUSTODIAN, D, FX_USER + 1, FX_NONE, 0, 5001, 0, LEDGER_STAKE_LIMIT_EXCEEDED);
    DEPOSIT(f, FX_USER + 1, 5000);
    CHECK_U64(fx_account(f, FX_USER + 1).shares, 10500);

    /* a new refill rate applies from now on: what accrued so far is kept */
    f->now += 100; /* 1000 accrued at 10/s */
    DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_STAKE_LIMIT_REFILL, 1, 0);
    p = fx_pool(f);
    CHECK(p.stake_limit_current == 1000 && p.stake_limit_ts == f->now);
    f->now += 100; /* 100 more at 1/s */
    DO_REJECT(f, FX_CUSTODIAN, D, FX_USER + 1, FX_NONE, 0, 1101, 0, LEDGER_STAKE_LIMIT_EXCEEDED);
    DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_STAKE_LIMIT_MAX, 600, 0);
    CHECK_U64(fx_pool(f).stake_limit_current, 600); /* clamped to the new maximum */
    DO_REJECT(f, FX_CUSTODIAN, D, FX_USER + 1, FX_NONE, 0, 601, 0, LEDGER_STAKE_LIMIT_EXCEEDED);
    DEPOSIT(f, FX_USER + 1, 600);
    CHECK_U64(fx_pool(f).stake_limit_current, 0);

    DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_STAKE_LIMIT_MAX, 0, 0);
    DEPOSIT(f, FX_USER + 2, 99400); /* no limit again */
}

/* Raise the rate above 1: fund the operator and have the admin accept a large gain. */
static void deposit_rate(fixture *f)
{
    const unsigned D = LEDGER_TX_DEPOSIT;
    ledger_result r =
        DO_OK(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 1000000, 0);
    CHECK_OUT(r, 1000000, 1000000, 0, 0);
    REPORT_HELD(f, 1, 1, 3000000, LEDGER_REPORT_APR_EXCEEDED);
    ACCEPT_OK(f, 1, 1, 3000000, 500, 500);
    ledger_pool p = fx_pool(f);
    CHECK(p.assets > p.shares);
    CHECK_U64(p.assets, 4111500);          /* 1000000 dead + 1111500 deposited + 2000000 gain */
    CHECK_U64(p.shares, 2111500 + 107963); /* fee floor(2e6*1000*S/((A+2e6)*10000-2e9)) */

    DO_REJECT(f, FX_CUSTODIAN, D, FX_USER + 3, FX_NONE, 0, 1, 0, LEDGER_DEPOSIT_TOO_SMALL);
    /* 1234567 * 2219463 / 4111500 = 666441.8...: minted 666441, the pool keeps the dust */
    uint64_t want = mul_div(1234567, p.shares, p.assets);
    CHECK_U64(want, 666441);
    ledger_tx low = fx_tx(f, FX_CUSTODIAN, D, FX_USER + 3, FX_NONE, 0, 1234567, want + 1);
    TX_REJECT(f, &low, LEDGER_SHARES_OUT_TOO_LOW);
    ledger_tx exact = fx_tx(f, FX_CUSTODIAN, D, FX_USER + 3, FX_NONE, 0, 1234567, want);
    memcpy(exact.ref, low.ref, LEDGER_REF_SIZE); /* a rejected deposit did not use its ref */
    r = TX_OK(f, &exact);
    CHECK_OUT(r, want, 1234567, 0, 0);
    CHECK_ACCT(f, FX_USER + 3, want, 0, 0);
    ledger_pool q = fx_pool(f);
    CHECK_U64(q.assets, p.assets + 1234567);
    CHECK_U64(q.shares, p.shares + want);
    CHECK_U64(q.buffer, p.buffer + 1234567);
    CHECK_U64(q.total_deposited, p.total_deposited + 1234567);
    DEPOSIT(f, FX_USER + 3, 2); /* 2 units mint floor(2*S/A) = 1 share */
    CHECK_U64(fx_account(f, FX_USER + 3).shares, want + 1);

    DO_REJECT(f, FX_CUSTODIAN, D, FX_USER + 3, FX_NONE, 0, UINT64_MAX, 0, LEDGER_OVERFLOW);
}

static void test_deposit(void)
{
    fixture f;
    fx_open(&f, no_vesting); /* figures of rate changes at once */
    deposit_basics(&f);
    deposit_stake_limit(&f);
    deposit_rate(&f);
    fx_check(&f);
    fx_close(&f);
}

/* ---- transfer ----------------------------------------------------------------------------- */

static void test_transfer(void)
{
    const unsigned T = LEDGER_TX_TRANSFER;
    const int U0 = FX_USER, U1 = FX_USER + 1, U2 = FX_USER + 2, U5 = FX_USER + 5;
    fixture f;
    fx_open(&f, NULL);
    DEPOSIT(&f, U0, 10000);

    CHECK(!account_exists(&f, U1));
    ledger_result r = DO_OK(&f, U0, T, U1, FX_NONE, 0, 300, 0);
    CHECK_OUT(r, 300, 0, 0, 0);
    CHECK(account_exists(&f, U1)); /* created on first receipt */
    CHECK_ACCT(&f, U0, 9700, 0, 0);
    CHECK_ACCT(&f, U1, 300, 0, 0);

    DO_REJECT(&f, U0, T, U1, FX_NONE, 0, 9701, 0, LEDGER_INSUFFICIENT_SHARES);
    DO_REJECT(&f, U0, T, U1, FX_NONE, 0, 0, 0, LEDGER_AMOUNT_ZERO);
    DO_REJECT(&f, U0, T, FX_NONE, FX_NONE, 0, 10, 0, LEDGER_INVALID_ACCOUNT);
    REJECT_BAD_KEY(&f, U0, T, FX_NONE, FX_NONE, 1, 0, 10, 0);
    DO_REJECT(&f, U0, T, U0, FX_NONE, 0, 9701, 0, LEDGER_INSUFFICIENT_SHARES);

    r = DO_OK(&f, U0, T, U0, FX_NONE, 0, 500, 0); /* to oneself: moves nothing */
    CHECK_OUT(r, 500, 0, 0, 0);
    CHECK_ACCT(&f, U0, 9700, 0, 0);

    DO_OK(&f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, LEDGER_PAUSE_TRANSFERS, 0);
    DO_REJECT(&f, U0, T, U1, FX_NONE, 0, 10, 0, LEDGER_TRANSFERS_PAUSED);
    /* other pause bits leave transfers alone */
    DO_OK(&f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0,
          LEDGER_PAUSE_DEPOSITS | LEDGER_PAUSE_WITHDRAWALS, 0);
    DO_OK(&f, U0, T, U1, FX_NONE, 0, 10, 0);
    DO_OK(&f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, 0, 0);

    DO_OK(&f, U1, T, U2, FX_NONE, 0, 310, 0); /* the whole balance */
    CHECK_ACCT(&f, U1, 0, 0, 0);
    CHECK_ACCT(&f, U2, 310, 0, 0);
    CHECK_ACCT(&f, U0, 9690, 0, 0);
    /* a fresh signer with no shares: not recorded, its nonce not consumed */
    DO_REJECT(&f, U5, T, U0, FX_NONE, 0, 1, 0, LEDGER_SIGNER_HOLDS_NOTHING);
    CHECK_U64(fx_account(&f, U5).nonce, 0);
    ledger_pool p = fx_pool(&f);
    CHECK(p.shares == 1010000 && p.assets == 1010000);
    fx_check(&f);
    fx_close(&f);
}

/* ---- approve / transfer_from ------------------------------------------------------------- */

static void test_allowance(void)
{
    const unsigned AP = LEDGER_TX_APPROVE, TF = LEDGER_TX_TRANSFER_FROM;
    const int U0 = FX_USER, U1 = FX_USER + 1, U2 = FX_USER + 2, U3 = FX_USER + 3;
    fixture f;
    fx_open(&f, NULL);
    DEPOSIT(&f, U0, 10000);
    DEPOSIT(&f, U3, 100);

    DO_REJECT(&f, U0, AP, U0, FX_NONE, 0, 1000, 0, LEDGER_SELF_APPROVAL);
    DO_REJECT(&f, U0, AP, FX_NONE, FX_NONE, 0, 1000, 0, LEDGER_INVALID_ACCOUNT);
    REJECT_BAD_KEY(&f, U0, AP, FX_NONE, FX_NONE, 1, 0, 1000, 0);
    DO_REJECT(&f, U1, TF, U0, U2, 0, 1, 0, LEDGER_SIGNER_HOLDS_NOTHING); /* no allowance yet */
    ledger_result r = DO_OK(&f, U0, AP, U1, FX_NONE, 0, 50, 0);
    CHECK_OUT(r, 50, 0, 0, 0);
    r = DO_OK(&f, U0, AP, U1, FX_NONE, 0, 1000, 0); /* sets, does not add */
    CHECK_OUT(r, 1000, 0, 0, 0);
    CHECK_U64(allowance(&f, U0, U1), 1000);
    CHECK_U64(allowance(&f, U1, U0), 0);

    DO_REJECT(&f, U1, TF, U0, U2, 0, 1001, 0, LEDGER_ALLOWANCE_EXCEEDED);
    DO_REJECT(&f, U1, TF, U0, U2, 0, 0, 0, LEDGER_AMOUNT_ZERO);
    DO_REJECT(&f, U1, TF, U0, FX_NONE, 0, 10, 0, LEDGER_INVALID_ACCOUNT);
    REJECT_BAD_KEY(&f, U1, TF, U0, FX_NONE, 2, 0, 10, 0);
    DO_REJECT(&f, U2, TF, U0, U2, 0, 10, 0, LEDGER_SIGNER_HOLDS_NOTHING); /* not the spender */
    r = DO_OK(&f, U1, TF, U0, U2, 0, 400, 0);
    CHECK_OUT(r, 400, 600, 0, 0);
    CHECK_U64(allowance(&f, U0, U1), 600);
    CHECK_ACCT(&f, U0, 9600, 0, 0);
    CHECK_ACCT(&f, U2, 400, 0, 0);
    CHECK_ACCT(&f, U1, 0, 0, 0);

    DO_OK(&f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, LEDGER_PAUSE_TRANSFERS, 0);
    DO_REJECT(&f, U1, TF, U0, U2, 0, 10, 0, LEDGER_TRANSFERS_PAUSED);
    DO_OK(&f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, 0, 0);

    /* an allowance does not give the owner shares it lacks */
    DO_OK(&f, U3, AP, U1, FX_NONE, 0, 1000, 0);
    DO_REJECT(&f, U1, TF, U3, U2, 0, 500, 0, LEDGER_INSUFFICIENT_SHARES);
    CHECK_U64(allowance(&f, U3, U1), 1000);
    r = DO_OK(&f, U1, TF, U3, U1, 0, 100, 0); /* the spender may pay itself */
    CHECK_OUT(r, 100, 900, 0, 0);
    CHECK_ACCT(&f, U3, 0, 0, 0);
    CHECK_ACCT(&f, U1, 100, 0, 0);

    r = DO_OK(&f, U0, AP, U1, FX_NONE, 0, 0, 0); /* approve 0 removes it */
    CHECK_OUT(r, 0, 0, 0, 0);
    CHECK_U64(allowance(&f, U0, U1), 0);
    DO_REJECT(&f, U1, TF, U0, U2, 0, 1, 0, LEDGER_ALLOWANCE_EXCEEDED);
    DO_REJECT(&f, U1, TF, U3, U2, 0, 1, 0, LEDGER_INSUFFICIENT_SHARES); /* U3 has none left */
    fx_check(&f);
    fx_close(&f);
}

/* ---- liens -------------------------------------------------------------------------------- */

static void lien_lock(fixture *f, uint64_t expiry)
{
    const unsigned LK = LEDGER_TX_LOCK;
    const int U0 = FX_USER, U1 = FX_USER + 1, U3 = FX_USER + 3;
    DO_REJECT(f, U0, LK, U0, FX_NONE, 0, 100, 0, LEDGER_LIEN_SELF);
    DO_REJECT(f, U0, LK, U1, FX_NONE, 0, 0, 0, LEDGER_AMOUNT_ZERO);
    DO_REJECT(f, U0, LK, FX_NONE, FX_NONE, 0, 100, 0, LEDGER_INVALID_ACCOUNT);
    REJECT_BAD_KEY(f, U0, LK, FX_NONE, FX_NONE, 1, 0, 100, 0);
    DO_REJECT(f, U0, LK, U1, FX_NONE, 0, 100, f->now, LEDGER_EXPIRY_IN_PAST);
    DO_REJECT(f, U0, LK, U1, FX_NONE, 0, 100, f->now - 1, LEDGER_EXPIRY_IN_PAST);
    DO_REJECT(f, U0, LK, U1, FX_NONE, 0, 10001, expiry, LEDGER_INSUFFICIENT_SHARES);
    DO_OK(f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, LEDGER_PAUSE_TRANSFERS, 0);
    DO_REJECT(f, U0, LK, U1, FX_NONE, 0, 100, expiry, LEDGER_TRANSFERS_PAUSED);
    DO_OK(f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, 0, 0);

    ledger_pool p = fx_pool(f);
    ledger_result r = DO_OK(f, U0, LK, U1, FX_NONE, 0, 4000, expiry);
    CHECK_OUT(r, 1, 4000, mul_div(4000, p.assets, p.shares), 0);
    CHECK(r.out[2] > 4000); /* the rate is above 1 here */
    CHECK_ACCT(f, U0, 6000, 4000, 0);
    ledger_lien l;
    CHECK_CODE(read_lien(f, 1, &l), LEDGER_OK);
    CHECK(l.id == 1 && memcmp(l.owner, f->pk[U0], 32) == 0 &&
          memcmp(l.beneficiary, f->pk[U1], 32) == 0 && l.shares == 4000 && l.expiry == expiry &&
          l.created == r.timestamp);
    r = DO_OK(f, U0, LK, U1, FX_NONE, 0, 3000, 0); /* no expiry */
    CHECK_OUT(r, 2, 3000, mul_div(3000, p.assets, p.shares), 0);
    r = DO_OK(f, U3, LK, U1, FX_NONE, 0, 2000, expiry);
    CHECK_OUT(r, 3, 2000, mul_div(2000, p.assets, p.shares), 0);
    CHECK_ACCT(f, U0, 3000, 7000, 0);
    CHECK_ACCT(f, U3, 3000, 2000, 0);
    ledger_pool q = fx_pool(f);
    CHECK(q.assets == p.assets && q.shares == p.shares && q.next_lien_id == 4);
    /* locked shares are not free */
    DO_REJECT(f, U0, LEDGER_TX_TRANSFER, U1, FX_NONE, 0, 3001, 0, LEDGER_INSUFFICIENT_SHARES);
    DO_REJECT(f, U0, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 3001, 0,
              LEDGER_INSUFFICIENT_SHARES);
}

static void lien_release(fixture *f)
{
    const unsigned RL = LEDGER_TX_RELEASE, SZ = LEDGER_TX_SEIZE;
    const int U0 = FX_USER, U1 = FX_USER + 1, U2 = FX_USER + 2, U4 = FX_USER + 4;
    ledger_lien l;
    ledger_result r = DO_OK(f, U1, RL, FX_NONE, FX_NONE, 1, 1500, 0);
    CHECK_OUT(r, 1500, 2500, 0, 0);
    CHECK_ACCT(f, U0, 4500, 5500, 0);
    CHECK(read_lien(f, 1, &l) == LEDGER_OK && l.shares == 2500);
    DO_REJECT(f, U1, RL, FX_NONE, FX_NONE, 1, 2501, 0, LEDGER_LIEN_SHARES_EXCEEDED);
    DO_REJECT(f, U1, RL, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_AMOUNT_ZERO);
    DO_REJECT(f, U2, RL, FX_NONE, FX_NONE, 1, 1, 0, LEDGER_SIGNER_HOLDS_NOTHING);
    DO_REJECT(f, U0, RL, FX_NONE, FX_NONE, 1, 100, 0, LEDGER_LIEN_NOT_EXPIRED);
    DO_REJECT(f, U0, RL, FX_NONE, FX_NONE, 2, 100, 0, LEDGER_LIEN_NOT_EXPIRED); /* never */
    DO_REJECT(f, U1, RL, FX_NONE, FX_NONE, 99, 1, 0, LEDGER_LIEN_NOT_FOUND);

    DO_REJECT(f, U2, SZ, U2, FX_NONE, 1, 100, 0, LEDGER_SIGNER_HOLDS_NOTHING);
    DO_REJECT(f, U0, SZ, U0, FX_NONE, 1, 100, 0, LEDGER_LIEN_NOT_BENEFICIARY);
    DO_REJECT(f, U1, SZ, FX_NONE, FX_NONE, 1, 100, 0, LEDGER_INVALID_ACCOUNT);
    REJECT_BAD_KEY(f, U1, SZ, FX_NONE, FX_NONE, 1, 1, 100, 0);
    DO_REJECT(f, U1, SZ, U4, FX_NONE, 1, 2501, 0, LEDGER_LIEN_SHARES_EXCEEDED);
    DO_REJECT(f, U1, SZ, U4, FX_NONE, 1, 0, 0, LEDGER_AMOUNT_ZERO);
    DO_REJECT(f, U1, SZ, U4, FX_NONE, 99, 1, 0, LEDGER_LIEN_NOT_FOUND);
    DO_OK(f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, LEDGER_PAUSE_TRANSFERS, 0);
    DO_REJECT(f, U1, SZ, U4, FX_NONE, 1, 100, 0, LEDGER_TRANSFERS_PAUSED);
    DO_OK(f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, 0, 0);

    ledger_pool p = fx_pool(f);
    CHECK(!account_exists(f, U4));
    r = DO_OK(f, U1, SZ, U4, FX_NONE, 1, 1000, 0); /* to a third account */
    CHECK_OUT(r, 1000, mul_div(1000, p.assets, p.shares), 1500, 0);
    CHECK_ACCT(f, U0, 4500, 4500, 0);
    CHECK_ACCT(f, U4, 1000, 0, 0);
    CHECK_ACCT(f, U1, 0, 0, 0);
    ledger_pool q = fx_pool(f);
    CHECK(q.assets == p.assets && q.shares == p.shares);
}

static void lien_expiry(fixture *f, uint64_t expiry)
{
    const unsigned RL = LEDGER_TX_RELEASE, SZ = LEDGER_TX_SEIZE;
    const int U0 = FX_USER, U1 = FX_USER + 1, U3 = FX_USER + 3, U4 = FX_USER + 4;
    ledger_lien l;
    ledger_pool p = fx_pool(f);
    f->now = expiry - 1; /* the last second the beneficiary may seize */
    ledger_result r = DO_OK(f, U1, SZ, U1, FX_NONE, 1, 100, 0);
    CHECK_OUT(r, 100, mul_div(100, p.assets, p.shares), 1400, 0);
    DO_REJECT(f, U0, RL, FX_NONE, FX_NONE, 1, 100, 0, LEDGER_LIEN_NOT_EXPIRED);

    f->now = expiry;
    DO_REJECT(f, U1, SZ, U4, FX_NONE, 1, 100, 0, LEDGER_LIEN_EXPIRED);
    r = DO_OK(f, U0, RL, FX_NONE, FX_NONE, 1, 400, 0); /* the owner, once expired */
    CHECK_OUT(r, 400, 1000, 0, 0);
    r = DO_OK(f, U1, RL, FX_NONE, FX_NONE, 1, 1000, 0); /* the rest: lien deleted */
    CHECK_OUT(r, 1000, 0, 0, 0);
    CHECK_CODE(read_lien(f, 1, &l), LEDGER_STORE_NOTFOUND);
    DO_REJECT(f, U1, RL, FX_NONE, FX_NONE, 1, 1, 0, LEDGER_LIEN_NOT_FOUND);
    DO_REJECT(f, U1, SZ, U1, FX_NONE, 1, 1, 0, LEDGER_LIEN_NOT_FOUND);
    CHECK_ACCT(f, U0, 5900, 3000, 0);

    r = DO_OK(f, U1, RL, FX_NONE, FX_NONE, 2, 3000, 0);
    CHECK_OUT(r, 3000, 0, 0, 0);
    CHECK_CODE(read_lien(f, 2, &l), LEDGER_STORE_NOTFOUND);
    CHECK_ACCT(f, U0, 8900, 0, 0);

    /* lien 3 expired too: the owner may take it back whole */
    r = DO_OK(f, U3, RL, FX_NONE, FX_NONE, 3, 2000, 0);
    CHECK_OUT(r, 2000, 0, 0, 0);
    CHECK_ACCT(f, U3, 5000, 0, 0);
    CHECK_ACCT(f, U1, 100, 0, 0);

    /* seizing a whole lien deletes it */
    r = DO_OK(f, U3, LEDGER_TX_LOCK, U1, FX_NONE, 0, 500, 0);
    CHECK_OUT(r, 4, 500, mul_div(500, p.assets, p.shares), 0);
    r = DO_OK(f, U1, SZ, U1, FX_NONE, 4, 500, 0);
    CHECK_OUT(r, 500, mul_div(500, p.assets, p.shares), 0, 0);
    CHECK_CODE(read_lien(f, 4, &l), LEDGER_STORE_NOTFOUND);
    CHECK_ACCT(f, U3, 4500, 0, 0);
    CHECK_ACCT(f, U1, 600, 0, 0);

    /* the beneficiary may seize to the owner itself: locked shares become free */
    r = DO_OK(f, U3, LEDGER_TX_LOCK, U1, FX_NONE, 0, 300, 0);
    CHECK_OUT(r, 5, 300, mul_div(300, p.assets, p.shares), 0);
    r = DO_OK(f, U1, SZ, U3, FX_NONE, 5, 100, 0);
    CHECK_OUT(r, 100, mul_div(100, p.assets, p.shares), 200, 0);
    CHECK_ACCT(f, U3, 4300, 200, 0);
    DO_OK(f, U1, RL, FX_NONE, FX_NONE, 5, 200, 0);
    CHECK_ACCT(f, U3, 4500, 0, 0);
}

static void test_lien(void)
{
    fixture f;
    fx_open(&f, no_vesting); /* figures of rate changes at once */
    DEPOSIT(&f, FX_USER, 10000);
    DEPOSIT(&f, FX_USER + 3, 5000);
    DO_OK(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 500000, 0);
    REPORT_HELD(&f, 1, 1, 800000, LEDGER_REPORT_APR_EXCEEDED);
    ACCEPT_OK(&f, 1, 1, 800000, 500, 500);
    uint64_t expiry = f.now + 1000;
    lien_lock(&f, expiry);
    lien_release(&f);
    lien_expiry(&f, expiry);
    fx_check(&f);
    fx_close(&f);
}

/* ---- withdrawals --------------------------------------------------------------------------- */

static void check_request(fixture *f, uint64_t id, uint64_t status, uint64_t shares,
                          uint64_t amount, uint64_t paid, int line)
{
    int failures = test_failures;
    ledger_withdrawal w = fx_withdrawal(f, id);
    CHECK_U64(w.id, id);
    CHECK_U64(w.status, status);
    CHECK_U64(w.shares, shares);
    CHECK_U64(w.amount_at_request, amount);
    CHECK_U64(w.paid, paid);
    note(failures, line);
}
#define CHECK_REQUEST(f, id, status, shares, amount, paid)                                         \
    check_request(f, id, status, shares, amount, paid, __LINE__)

static void withdrawal_queue(fixture *f)
{
    const unsigned WR = LEDGER_TX_WITHDRAW_REQUEST, WC = LEDGER_TX_WITHDRAW_CANCEL;
    const unsigned WF = LEDGER_TX_WITHDRAW_FINALIZE, WS = LEDGER_TX_WITHDRAW_SETTLE;
    const int U0 = FX_USER, U1 = FX_USER + 1, C = FX_CUSTODIAN;
    DEPOSIT(f, U0, 100000);
    DEPOSIT(f, U1, 50000);
    DO_OK(f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, LEDGER_PAUSE_WITHDRAWALS, 0);
    DO_REJECT(f, U0, WR, FX_NONE, FX_NONE, 0, 1000, 0, LEDGER_WITHDRAWALS_PAUSED);
    DO_REJECT(f, C, WF, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_WITHDRAWALS_PAUSED);
    DO_OK(f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, 0, 0);
    DO_REJECT(f, U0, WR, FX_NONE, FX_NONE, 0, 0, 0, LEDGER_AMOUNT_ZERO);
    DO_REJECT(f, U0, WR, FX_NONE, FX_NONE, 0, 100001, 0, LEDGER_INSUFFICIENT_SHARES);
    DO_REJECT(f, U0, WR, FX_NONE, FX_NONE, 0, 1000, 1001, LEDGER_MIN_AMOUNT_OUT_NOT_MET);

    ledger_result r = DO_OK(f, U0, WR, FX_NONE, FX_NONE, 0, 10000, 10000);
    CHECK_OUT(r, 1, 10000, 0, 0);
    ledger_withdrawal w = fx_withdrawal(f, 1);
    CHECK(memcmp(w.owner, f->pk[U0], 32) == 0 && w.min_amount_out == 10000 &&
          w.requested == r.timestamp);
    CHECK_REQUEST(f, 1, LEDGER_WD_PENDING, 10000, 10000, 0);
    CHECK_ACCT(f, U0, 90000, 0, 10000);
    DO_REJECT(f, U1, WC, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_WITHDRAWAL_NOT_OWNER);
    DO_REJECT(f, U0, WC, FX_NONE, FX_NONE, 99, 0, 0, LEDGER_WITHDRAWAL_NOT_FOUND);
    r = DO_OK(f, U0, WR, FX_NONE, FX_NONE, 0, 5000, 0);
    CHECK_OUT(r, 2, 5000, 0, 0);
    CHECK_ACCT(f, U0, 85000, 0, 15000);
    r = DO_OK(f, U0, WC, FX_NONE, FX_NONE, 2, 0, 0);
    CHECK_OUT(r, 5000, 0, 0, 0);
    CHECK_REQUEST(f, 2, LEDGER_WD_CANCELLED, 5000, 5000, 0);
    CHECK_ACCT(f, U0, 90000, 0, 10000);
    DO_REJECT(f, U0, WC, FX_NONE, FX_NONE, 2, 0, 0, LEDGER_WITHDRAWAL_NOT_PENDING);

    DO_REJECT(f, U0, WF, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_NOT_CUSTODIAN);
    DO_REJECT(f, C, WF, FX_NONE, FX_NONE, 3, 0, 0, LEDGER_FINALIZE_BEYOND_QUEUE);
    DO_REJECT(f, C, WF, FX_NONE, FX_NONE, 0, 0, 0, LEDGER_FINALIZE_NOTHING);
    DO_REJECT(f, C, WS, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_WITHDRAWAL_NOT_FINALIZED);
    DO_REJECT(f, C, WS, FX_NONE, FX_NONE, 99, 0, 0, LEDGER_WITHDRAWAL_NOT_FOUND);
    DO_REJECT(f, U0, WS, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_NOT_CUSTODIAN);

    ledger_pool p = fx_pool(f);
    r = DO_OK(f, C, WF, FX_NONE, FX_NONE, 2, 0, 0);
    CHECK_OUT(r, 1, 10000, 10000, 0);
    ledger_pool q = fx_pool(f);
    CHECK(q.assets == p.assets - 10000 && q.buffer == p.buffer - 10000 &&
          q.shares == p.shares - 10000 && q.payable == 10000 && q.total_paid == 10000 &&
          q.finalized_through == 2);
    CHECK_REQUEST(f, 1, LEDGER_WD_FINALIZED, 10000, 10000, 10000);
    CHECK_U64(fx_withdrawal(f, 1).finalized, r.timestamp);
    CHECK_REQUEST(f, 2, LEDGER_WD_CANCELLED, 5000, 5000, 0);
    CHECK_ACCT(f, U0, 90000, 0, 0);
    DO_REJECT(f, C, WF, FX_NONE, FX_NONE, 2, 0, 0, LEDGER_FINALIZE_NOTHING);
    DO_REJECT(f, U0, WC, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_WITHDRAWAL_NOT_PENDING);

    ledger_tx settle = fx_tx(f, C, WS, FX_NONE, FX_NONE, 1, 0, 0);
    memset(settle.ref, 0xAB, LEDGER_REF_SIZE);
    r = TX_OK(f, &settle);
    CHECK_OUT(r, 10000, 0, 0, 0);
    CHECK_U64(fx_pool(f).payable, 0);
    w = fx_withdrawal(f, 1);
    CHECK(w.status == LEDGER_WD_SETTLED && w.settled == r.timestamp && w.paid == 10000 &&
          memcmp(w.payout_ref, settle.ref, LEDGER_REF_SIZE) == 0);
    DO_REJECT(f, C, WS, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_WITHDRAWAL_ALREADY_SETTLED);
    DO_REJECT(f, C, WS, FX_NONE, FX_NONE, 2, 0, 0, LEDGER_WITHDRAWAL_NOT_FINALIZED);
}

/* The buffer, a rate rise (payout capped), a slash (request returned), rate below 1. */
static void withdrawal_rates(fixture *f)
{
    const unsigned WR = LEDGER_TX_WITHDRAW_REQUEST, WF = LEDGER_TX_WITHDRAW_FINALIZE;
    const unsigned WS = LEDGER_TX_WITHDRAW_SETTLE;
    const int U0 = FX_USER, U1 = FX_USER + 1, C = FX_CUSTODIAN;
    ledger_result r = DO_OK(f, U1, WR, FX_NONE, FX_NONE, 0, 40000, 0);
    CHECK_OUT(r, 3, 40000, 0, 0);
    DO_OK(f, C, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 1110000, 0);
    CHECK_U64(fx_pool(f).buffer, 30000);
    DO_REJECT(f, C, WF, FX_NONE, FX_NONE, 3, 0, 0, LEDGER_INSUFFICIENT_BUFFER);
    DO_OK(f, C, LEDGER_TX_OPERATOR_EXIT, FX_NONE, FX_NONE, 1, 300000, 0);

    REPORT_HELD(f, 1, 1, 910000, LEDGER_REPORT_APR_EXCEEDED);
    ACCEPT_OK(f, 1, 1, 910000, 500, 500);
    ledger_pool p = fx_pool(f);
    CHECK(mul_div(40000, p.assets, p.shares) > 40000);
    r = DO_OK(f, C, WF, FX_NONE, FX_NONE, 3, 0, 0); /* capped at the amount at request */
    CHECK_OUT(r, 1, 40000, 40000, 0);
    ledger_pool q = fx_pool(f);
    CHECK(q.assets == p.assets - 40000 && q.shares == p.shares - 40000 &&
          q.buffer == p.buffer - 40000 && q.payable == 40000);
    CHECK((u128)q.assets * p.shares > (u128)p.assets * q.shares); /* the pool kept the rise */
    CHECK_REQUEST(f, 3, LEDGER_WD_FINALIZED, 40000, 40000, 40000);

    uint64_t a4 = mul_div(5000, q.assets, q.shares), a5 = mul_div(20000, q.assets, q.shares);
    r = DO_OK(f, U1, WR, FX_NONE, FX_NONE, 0, 5000, a4);
    CHECK_OUT(r, 4, a4, 0, 0);
    r = DO_OK(f, U0, WR, FX_NONE, FX_NONE, 0, 20000, 0);
    CHECK_OUT(r, 5, a5, 0, 0);
    REPORT_OK(f, 1, 2, 870000, 500, 500); /* a slash within the drop limit */
    p = fx_pool(f);
    uint64_t pay4 = mul_div(5000, p.assets, p.shares), pay5 = mul_div(20000, p.assets, p.shares);
    CHECK(pay4 < a4 && pay5 < a5);
    r = DO_OK(f, C, WF, FX_NONE, FX_NONE, 5, 0, 0);
    CHECK_OUT(r, 1, pay5, 20000, 1);
    q = fx_pool(f);
    CHECK(q.assets == p.assets - pay5 && q.shares == p.shares - 20000 &&
          q.buffer == p.buffer - pay5 && q.payable == 40000 + pay5 && q.finalized_through == 5);
    CHECK_REQUEST(f, 4, LEDGER_WD_RETURNED, 5000, a4, 0);
    CHECK_REQUEST(f, 5, LEDGER_WD_FINALIZED, 20000, a5, pay5);
    CHECK_ACCT(f, U1, 10000, 0, 0); /* the returned shares are free again */
    CHECK_ACCT(f, U0, 70000, 0, 0);
    DO_REJECT(f, C, WS, FX_NONE, FX_NONE, 4, 0, 0, LEDGER_WITHDRAWAL_NOT_FINALIZED);
    r = DO_OK(f, C, WS, FX_NONE, FX_NONE, 5, 0, 0);
    CHECK_OUT(r, pay5, 0, 0, 0);
    CHECK_U64(fx_pool(f).payable, 40000);
    r = DO_OK(f, C, WS, FX_NONE, FX_NONE, 3, 0, 0);
    CHECK_OUT(r, 40000, 0, 0, 0);
    CHECK_U64(fx_pool(f).payable, 0);
}

/* A rate below 1 (shares worth 0), then a pool with no assets at all. */
static void withdrawal_losses(fixture *f)
{
    const unsigned WR = LEDGER_TX_WITHDRAW_REQUEST;
    const int U0 = FX_USER, U1 = FX_USER + 1, C = FX_CUSTODIAN;
    REPORT_HELD(f, 1, 3, 87000, LEDGER_REPORT_DROP_EXCEEDED);
    ACCEPT_OK(f, 1, 3, 87000, 500, 500);
    ledger_pool p = fx_pool(f);
    CHECK(p.assets < p.shares);
    DO_REJECT(f, U0, WR, FX_NONE, FX_NONE, 0, 1, 0, LEDGER_WITHDRAWAL_TOO_SMALL);
    uint64_t v = mul_div(1000, p.assets, p.shares);
    CHECK(v < 1000);
    DO_REJECT(f, U0, WR, FX_NONE, FX_NONE, 0, 1000, v + 1, LEDGER_MIN_AMOUNT_OUT_NOT_MET);
    ledger_result r = DO_OK(f, U1, WR, FX_NONE, FX_NONE, 0, 1000, v);
    CHECK_OUT(r, 6, v, 0, 0);

    DO_OK(f, C, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, p.buffer, 0);
    REPORT_HELD(f, 1, 4, 0, LEDGER_REPORT_DROP_EXCEEDED);
    ACCEPT_OK(f, 1, 4, 0, 500, 500);
    p = fx_pool(f);
    CHECK(p.assets == 0 && p.buffer == 0 && p.shares > 0);
    /* A = 0: shares are worth 0 (a request is too small, a lien is worth 0); nothing can be
     * paid and no deposit can be priced */
    DO_REJECT(f, U0, WR, FX_NONE, FX_NONE, 0, 1, 0, LEDGER_WITHDRAWAL_TOO_SMALL);
    DO_REJECT(f, C, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 6, 0, 0, LEDGER_POOL_EMPTY);
    DO_REJECT(f, C, LEDGER_TX_DEPOSIT, U0, FX_NONE, 0, 1000, 0, LEDGER_POOL_EMPTY);
    r = DO_OK(f, U0, LEDGER_TX_LOCK, U1, FX_NONE, 0, 1, 0);
    CHECK_OUT(r, r.out[0], 1, 0, 0);
    r = DO_OK(f, U1, LEDGER_TX_SEIZE, U0, FX_NONE, r.out[0], 1, 0);
    CHECK_OUT(r, 1, 0, 0, 0);
    r = DO_OK(f, U1, LEDGER_TX_WITHDRAW_CANCEL, FX_NONE, FX_NONE, 6, 0, 0);
    CHECK_OUT(r, 1000, 0, 0, 0);
}

/* LEDGER_FINALIZE_MAX + 1 requests in one batch: one finalize may not take them all. */
static void withdrawal_finalize_max(void)
{
    const unsigned WR = LEDGER_TX_WITHDRAW_REQUEST, WF = LEDGER_TX_WITHDRAW_FINALIZE;
    const int U5 = FX_USER + 5;
    const size_t n = LEDGER_FINALIZE_MAX + 1;
    fixture f;
    fx_open(&f, NULL);
    DEPOSIT(&f, U5, 2000);
    ledger_tx *txs = malloc(n * sizeof *txs);
    ledger_result *res = malloc(n * sizeof *res);
    if (txs == NULL || res == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        txs[i] = fx_tx(&f, U5, WR, FX_NONE, FX_NONE, 0, 1, 0);
        txs[i].nonce = i + 1;
    }
    fx_submit_batch(&f, txs, n, res);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++)
        if (res[i].code != LEDGER_OK || res[i].out[0] != i + 1 || res[i].out[1] != 1 ||
            res[i].batch != res[0].batch)
            wrong++;
    CHECK_U64(wrong, 0);
    CHECK_ACCT(&f, U5, 2000 - n, 0, n);
    DO_REJECT(&f, FX_CUSTODIAN, WF, FX_NONE, FX_NONE, n, 0, 0, LEDGER_FINALIZE_TOO_MANY);
    ledger_result r = DO_OK(&f, FX_CUSTODIAN, WF, FX_NONE, FX_NONE, n - 1, 0, 0);
    CHECK_OUT(r, n - 1, n - 1, n - 1, 0);
    r = DO_OK(&f, FX_CUSTODIAN, WF, FX_NONE, FX_NONE, n, 0, 0);
    CHECK_OUT(r, 1, 1, 1, 0);
    CHECK_ACCT(&f, U5, 2000 - n, 0, 0);
    free(txs);
    free(res);
    fx_check(&f);
    fx_close(&f);
}

static void test_withdrawal(void)
{
    fixture f;
    fx_open(&f, no_vesting); /* figures of rate changes at once */
    withdrawal_queue(&f);
    withdrawal_rates(&f);
    withdrawal_losses(&f);
    fx_check(&f);
    fx_close(&f);
    withdrawal_finalize_max();
}

/* ---- operators ---------------------------------------------------------------------------- */

static void operator_fund_exit(fixture *f)
{
    const unsigned FU = LEDGER_TX_OPERATOR_FUND, EX = LEDGER_TX_OPERATOR_EXIT;
    const unsigned SA = LEDGER_TX_OPERATOR_SET_ACTIVE, PS = LEDGER_TX_PARAM_SET;
    const int U0 = FX_USER, C = FX_CUSTODIAN, OP = FX_OPERATOR;
    DEPOSIT(f, U0, 1000000);
    DO_REJECT(f, C, FU, FX_NONE, FX_NONE, 2, 1000, 0, LEDGER_OPERATOR_NOT_FOUND);
    DO_REJECT(f, C, FU, FX_NONE, FX_NONE, 0, 1000, 0, LEDGER_OPERATOR_NOT_FOUND);
    DO_REJECT(f, U0, FU, FX_NONE, FX_NONE, 1, 1000, 0, LEDGER_NOT_CUSTODIAN);
    DO_REJECT(f, OP, FU, FX_NONE, FX_NONE, 1, 1000, 0, LEDGER_NOT_CUSTODIAN);
    DO_REJECT(f, C, FU, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_AMOUNT_ZERO);
    DO_REJECT(f, C, FU, FX_NONE, FX_NONE, 1, 2000001, 0, LEDGER_INSUFFICIENT_BUFFER);
    ledger_result r = DO_OK(f, C, FU, FX_NONE, FX_NONE, 1, 100000, 0);
    CHECK_OUT(r, 100000, 100000, 0, 0);
    ledger_pool p = fx_pool(f);
    CHECK(p.assets == 2000000 && p.buffer == 1900000 && p.shares == 2000000);
    ledger_operator o = fx_operator(f, 1);
    CHECK(o.balance == 100000 && o.funded_since == 100000 && o.reported_balance == 0);

    r = DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_OPERATOR_CAP_BPS, 2000, 0);
    CHECK_OUT(r, 2000, 0, 0, 0);
    DO_REJECT(f, C, FU, FX_NONE, FX_NONE, 1, 300001, 0, LEDGER_OPERATOR_CAP_EXCEEDED);
    r = DO_OK(f, C, FU, FX_NONE, FX_NONE, 1, 300000, 0); /* exactly 20% of A */
    CHECK_OUT(r, 300000, 400000, 0, 0);
    DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_OPERATOR_CAP_BPS, 0, 0);

    DO_REJECT(f, U0, SA, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_NOT_ADMIN);
    DO_REJECT(f, FX_ADMIN, SA, FX_NONE, FX_NONE, 1, 0, 2, LEDGER_PARAM_OUT_OF_RANGE);
    DO_REJECT(f, FX_ADMIN, SA, FX_NONE, FX_NONE, 99, 0, 0, LEDGER_OPERATOR_NOT_FOUND);
    r = DO_OK(f, FX_ADMIN, SA, FX_NONE, FX_NONE, 1, 0, 0);
    CHECK_OUT(r, 0, 0, 0, 0);
    CHECK_U64(fx_operator(f, 1).active, 0);
    DO_REJECT(f, C, FU, FX_NONE, FX_NONE, 1, 1, 0, LEDGER_OPERATOR_INACTIVE);
    r = DO_OK(f, OP, EX, FX_NONE, FX_NONE, 1, 50000, 0); /* an inactive operator may exit */
    CHECK_OUT(r, 50000, 350000, 0, 0);
    r = DO_OK(f, FX_ADMIN, SA, FX_NONE, FX_NONE, 1, 0, 1);
    CHECK_OUT(r, 1, 0, 0, 0);

    DO_REJECT(f, U0, EX, FX_NONE, FX_NONE, 1, 10, 0, LEDGER_NOT_OPERATOR_OR_CUSTODIAN);
    DO_REJECT(f, FX_ADMIN, EX, FX_NONE, FX_NONE, 1, 10, 0, LEDGER_NOT_OPERATOR_OR_CUSTODIAN);
    DO_REJECT(f, OP, EX, FX_NONE, FX_NONE, 99, 10, 0, LEDGER_OPERATOR_NOT_FOUND);
    DO_REJECT(f, OP, EX, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_AMOUNT_ZERO);
    DO_REJECT(f, C, EX, FX_NONE, FX_NONE, 1, 350001, 0, LEDGER_OPERATOR_BALANCE_EXCEEDED);
    r = DO_OK(f, C, EX, FX_NONE, FX_NONE, 1, 100000, 0);
    CHECK_OUT(r, 100000, 250000, 0, 0);
    p = fx_pool(f);
    CHECK(p.assets == 2000000 && p.buffer == 1750000 && p.shares == 2000000);
    o = fx_operator(f, 1);
    CHECK(o.balance == 250000 && o.funded_since == 400000 && o.exited_since == 150000);
}

static void operator_registry(fixture *f)
{
    const unsigned REG = LEDGER_TX_OPERATOR_REGISTER, SK = LEDGER_TX_OPERATOR_SET_KEYS;
    const int U0 = FX_USER, U6 = FX_USER + 6, U7 = FX_USER + 7, U8 = FX_USER + 8;
    const int U9 = FX_USER + 9, U10 = FX_USER + 10, A = FX_ADMIN;
    DO_REJECT(f, U0, REG, U6, U7, 0, 100, 0, LEDGER_NOT_ADMIN);
    DO_REJECT(f, A, REG, FX_OPERATOR, U7, 0, 100, 0, LEDGER_OPERATOR_KEY_IN_USE);
    DO_REJECT(f, A, REG, U6, FX_NONE, 0, 100, 0, LEDGER_INVALID_ACCOUNT);
    DO_REJECT(f, A, REG, FX_NONE, U7, 0, 100, 0, LEDGER_INVALID_ACCOUNT);
    REJECT_BAD_KEY(f, A, REG, FX_NONE, U9, 1, 0, 100, 0);
    REJECT_BAD_KEY(f, A, REG, U9, FX_NONE, 2, 0, 100, 0);
    DO_REJECT(f, A, REG, U6, U7, 0, 9501, 0, LEDGER_FEE_TOO_HIGH); /* treasury takes 500 */
    ledger_result r = DO_OK(f, A, REG, U6, U7, 0, 300, 0);
    CHECK_OUT(r, 2, 0, 0, 0);
    ledger_operator o = fx_operator(f, 2);
    CHECK(o.id == 2 && memcmp(o.key, f->pk[U6], 32) == 0 &&
          memcmp(o.fee_account, f->pk[U7], 32) == 0 && o.fee.bps == 300 && o.fee.pending_at == 0 &&
          o.active == 1 && o.last_report_ts == r.timestamp && o.balance == 0 &&
          o.report_count == 0);
    CHECK_U64(fx_pool(f).operator_count, 2);
    DO_REJECT(f, A, REG, U6, U8, 0, 100, 0, LEDGER_OPERATOR_KEY_IN_USE);
    r = DO_OK(f, A, REG, U8, U7, 0, 9500, 0); /* 9500 + 500 = 100% exactly */
    CHECK_OUT(r, 3, 0, 0, 0);
    DO_REJECT(f, A, LEDGER_TX_FEE_SET, FX_NONE, FX_NONE, 0, 501, 0, LEDGER_FEE_TOO_HIGH);

    DO_REJECT(f, U0, SK, U9, U10, 2, 0, 0, LEDGER_NOT_ADMIN);
    DO_REJECT(f, A, SK, U9, U10, 99, 0, 0, LEDGER_OPERATOR_NOT_FOUND);
    DO_REJECT(f, A, SK, FX_OPERATOR, U10, 2, 0, 0, LEDGER_OPERATOR_KEY_IN_USE);
    DO_REJECT(f, A, SK, U9, FX_NONE, 2, 0, 0, LEDGER_INVALID_ACCOUNT);
    r = DO_OK(f, A, SK, U9, U10, 2, 0, 0);
    CHECK_OUT(r, 2, 0, 0, 0);
    ledger_operator n = fx_operator(f, 2);
    CHECK(memcmp(n.key, f->pk[U9], 32) == 0 && memcmp(n.fee_account, f->pk[U10], 32) == 0 &&
          n.fee.bps == 300 && n.active == 1);
    /* the old key holds nothing now */
    DO_REJECT(f, U6, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 2, 0, 1, LEDGER_SIGNER_HOLDS_NOTHING);
    DO_REJECT(f, U6, LEDGER_TX_OPERATOR_EXIT, FX_NONE, FX_NONE, 2, 1, 0,
              LEDGER_SIGNER_HOLDS_NOTHING);
    report_at(f, U9, LEDGER_TX_REPORT, 2, 1, 0, 500, 300, __LINE__);
    r = DO_OK(f, A, SK, U9, U7, 2, 0, 0); /* keeping its own key is allowed */
    CHECK_OUT(r, 2, 0, 0, 0);
    r = DO_OK(f, A, REG, U6, U7, 0, 0, 0); /* the old key is free again */
    CHECK_OUT(r, 4, 0, 0, 0);
}

/* LEDGER_OPERATORS_MAX operators in all: one more is refused. */
static void operator_limit(void)
{
    const size_t n = LEDGER_OPERATORS_MAX - 1; /* operator 1 comes from the genesis */
    fixture f;
    fx_open(&f, NULL);
    ledger_tx *txs = malloc(n * sizeof *txs);
    ledger_result *res = malloc(n * sizeof *res);
    if (txs == NULL || res == NULL)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        uint8_t sk[32];
        txs[i] = fx_tx(&f, FX_ADMIN, LEDGER_TX_OPERATOR_REGISTER, FX_NONE, FX_OPFEE, 0, 100, 0);
        txs[i].nonce = i + 1;
        crypto_tagged_hash(sk, "lstd/test/operator", 18, &i, sizeof i);
        CHECK(crypto_pubkey(txs[i].account, sk) == 0);
    }
    fx_submit_batch(&f, txs, n, res);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++)
        if (res[i].code != LEDGER_OK || res[i].out[0] != i + 2)
            wrong++;
    CHECK_U64(wrong, 0);
    CHECK_U64(fx_pool(&f).operator_count, LEDGER_OPERATORS_MAX);
    DO_REJECT(&f, FX_ADMIN, LEDGER_TX_OPERATOR_REGISTER, FX_USER, FX_USER + 1, 0, 100, 0,
              LEDGER_OPERATOR_LIMIT);
    free(txs);
    free(res);
    fx_check(&f);
    fx_close(&f);
}

static void test_operator(void)
{
    fixture f;
    fx_open(&f, NULL);
    operator_fund_exit(&f);
    operator_registry(&f);
    fx_check(&f);
    fx_close(&f);
    operator_limit();
}

/* ---- reports ------------------------------------------------------------------------------ */

#define TOKENS 1000000000000u /* 1000 tokens of 9 decimals */

static uint64_t op_balance(fixture *f, uint64_t id)
{
    return fx_operator(f, id).balance;
}

static void report_first(fixture *f)
{
    const unsigned RE = LEDGER_TX_REPORT;
    DO_REJECT(f, FX_USER, RE, FX_NONE, FX_NONE, 1, TOKENS, 1, LEDGER_NOT_OPERATOR);
    DO_REJECT(f, FX_CUSTODIAN, RE, FX_NONE, FX_NONE, 1, TOKENS, 1, LEDGER_NOT_OPERATOR);
    DO_REJECT(f, FX_OPERATOR, RE, FX_NONE, FX_NONE, 99, TOKENS, 1, LEDGER_OPERATOR_NOT_FOUND);
    DO_REJECT(f, FX_OPERATOR, RE, FX_NONE, FX_NONE, 1, TOKENS, 0, LEDGER_EPOCH_NOT_INCREASING);

    /* first report: the time since registration (the genesis) counts */
    f->now += 86400;
    uint64_t g = max_gain(TOKENS, 86400, 1000);
    CHECK_U64(g, 273972602); /* 10% a year of 1000 tokens for one day */
    REPORT_HELD(f, 1, 10, TOKENS + g + 1, LEDGER_REPORT_APR_EXCEEDED);
    ledger_result r = REPORT_OK(f, 1, 10, TOKENS + g, 500, 500);
    /* fee floor(g*1000*S/((A+g)*10000 - g*1000)) with A = S = TOKENS + 1000000 */
    CHECK_U64(r.out[2] + r.out[3], 27390506);
    CHECK_U64(r.out[3], 27390506 / 2);
    DO_REJECT(f, FX_ADMIN, LEDGER_TX_REPORT_ACCEPT, FX_NONE, FX_NONE, 1, TOKENS + g + 1, 10,
              LEDGER_REPORT_NOT_PENDING); /* the applied report cleared the hold */
    DO_REJECT(f, FX_OPERATOR, RE, FX_NONE, FX_NONE, 1, TOKENS, 10, LEDGER_EPOCH_NOT_INCREASING);
    DO_REJECT(f, FX_OPERATOR, RE, FX_NONE, FX_NONE, 1, TOKENS, 9, LEDGER_EPOCH_NOT_INCREASING);
}

/* The epoch running at the next batch on the fixture's clock (origin 0, EPOCH_S 384). */
static uint64_t epoch_now(fixture *f)
{
    ledger_pool p = fx_pool(f);
    return p.epoch_anchor + (batch_time(f) - p.epoch_anchor_ts) / p.params[LEDGER_PARAM_EPOCH_S];
}

static void report_limits(fixture *f)
{
    const unsigned PS = LEDGER_TX_PARAM_SET, RE = LEDGER_TX_REPORT;
    /* later reports: elapsed = batch time since the last applied report; the epoch is a label */
    f->now += 86400;
    uint64_t e = op_balance(f, 1), g = max_gain(e, 86400, 1000);
    REPORT_HELD(f, 1, 235, e + g + 1, LEDGER_REPORT_APR_EXCEEDED);
    REPORT_OK(f, 1, 235, e + g, 500, 500);
    /* an epoch that has not started is refused before the limits: nothing is held */
    f->now += 384;
    e = op_balance(f, 1);
    uint64_t cur = epoch_now(f);
    CHECK_U64(cur, (1000000u + 2 * 86400 + 384) / 384);
    DO_REJECT(f, FX_OPERATOR, RE, FX_NONE, FX_NONE, 1, e, cur + 1, LEDGER_EPOCH_IN_FUTURE);
    DO_REJECT(f, FX_OPERATOR, RE, FX_NONE, FX_NONE, 1, e, UINT64_MAX, LEDGER_EPOCH_IN_FUTURE);
    CHECK_U64(fx_operator(f, 1).held_epoch, 0);
    /* the current epoch is valid; 384 s allow 384 s of reward, however far the epoch moved */
    g = max_gain(e, 384, 1000);
    REPORT_HELD(f, 1, cur, e + g + 1, LEDGER_REPORT_APR_EXCEEDED);
    REPORT_OK(f, 1, cur, e + g, 500, 500);

    f->now += 86400;
    e = op_balance(f, 1);
    g = max_gain(e, 86400, 2000);
    CHECK(g > max_gain(e, 86400, 1000));
    REPORT_HELD(f, 1, cur + 1, e + g, LEDGER_REPORT_APR_EXCEEDED);
    DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_MAX_APR_BPS, 2000, 0);
    REPORT_OK(f, 1, cur + 1, e + g, 500, 500);
    DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_MAX_APR_BPS, 1000, 0);

    /* EPOCH_S no longer stretches the limit; changing it re-anchors the epoch clock at the start
     * of the running epoch, so started epochs stay started and the count stays continuous */
    f->now += 1000;
    cur = epoch_now(f);
    uint64_t start = cur * 384; /* origin 0, never re-anchored so far */
    DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_EPOCH_S, 768, 0);
    ledger_pool p = fx_pool(f);
    CHECK(p.epoch_anchor == cur && p.epoch_anchor_ts == start);
    CHECK_U64(epoch_now(f), cur);
    f->now = start + 767;
    CHECK_U64(epoch_now(f), cur);
    DO_REJECT(f, FX_OPERATOR, RE, FX_NONE, FX_NONE, 1, op_balance(f, 1), cur + 1,
              LEDGER_EPOCH_IN_FUTURE);
    f->now = start + 768;
    e = op_balance(f, 1);
    g = max_gain(e, f->now - fx_operator(f, 1).last_report_ts, 1000);
    REPORT_HELD(f, 1, cur + 1, e + g + 1, LEDGER_REPORT_APR_EXCEEDED);
    REPORT_OK(f, 1, cur + 1, e + g, 500, 500);
    DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_EPOCH_S, 384, 0);
    p = fx_pool(f);
    CHECK(p.epoch_anchor == cur + 1 && p.epoch_anchor_ts == start + 768);
    uint64_t ep = cur + 2;

    e = op_balance(f, 1);
    if (e % 20 != 0) { /* make 5% of E whole, so the limit is met with equality */
        DO_OK(f, FX_OPERATOR, LEDGER_TX_OPERATOR_EXIT, FX_NONE, FX_NONE, 1, e % 20, 0);
        e -= e % 20;
    }
    f->now += 384;
    uint64_t l = max_loss(e, 500);
    CHECK_U64(l * 20, e);
    REPORT_HELD(f, 1, ep, e - l - 1, LEDGER_REPORT_DROP_EXCEEDED);
    ledger_result r = REPORT_OK(f, 1, ep, e - l, 500, 500); /* slashing: no fee */
    CHECK_OUT(r, 0, l, 0, 0);
    f->now += 384;
    e = op_balance(f, 1);
    l = max_loss(e, 1000);
    REPORT_HELD(f, 1, ep + 1, e - l, LEDGER_REPORT_DROP_EXCEEDED);
    DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_MAX_DROP_BPS, 1000, 0);
    REPORT_OK(f, 1, ep + 1, e - l, 500, 500);
    DO_OK(f, FX_ADMIN, PS, FX_NONE, FX_NONE, LEDGER_PARAM_MAX_DROP_BPS, 500, 0);

    f->now += 384;
    e = op_balance(f, 1);
    r = REPORT_OK(f, 1, ep + 2, e, 500, 500); /* no change */
    CHECK_OUT(r, 0, 0, 0, 0);
    /* funding and exits are not rewards: the expected balance follows them */
    DO_OK(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 500000, 0);
    DO_OK(f, FX_OPERATOR, LEDGER_TX_OPERATOR_EXIT, FX_NONE, FX_NONE, 1, 200000, 0);
    f->now += 384;
    r = REPORT_OK(f, 1, ep + 3, e + 300000, 500, 500);
    CHECK_OUT(r, 0, 0, 0, 0);
}

static void report_holds(fixture *f)
{
    const unsigned AC = LEDGER_TX_REPORT_ACCEPT;
    uint64_t e = op_balance(f, 1), b = fx_operator(f, 1).last_epoch;
    f->now += 86400; /* epochs b + 1 .. b + 4 have started */
    REPORT_HELD(f, 1, b + 1, e / 2, LEDGER_REPORT_DROP_EXCEEDED);
    CHECK_U64(fx_pool(f).held_loss, e - e / 2); /* bunker mode while it is held */
    DO_REJECT(f, FX_USER, AC, FX_NONE, FX_NONE, 1, e / 2, b + 1, LEDGER_NOT_ADMIN);
    DO_REJECT(f, FX_OPERATOR, AC, FX_NONE, FX_NONE, 1, e / 2, b + 1, LEDGER_NOT_ADMIN);
    DO_REJECT(f, FX_ADMIN, AC, FX_NONE, FX_NONE, 1, e / 2, b + 2, LEDGER_REPORT_NOT_PENDING);
    DO_REJECT(f, FX_ADMIN, AC, FX_NONE, FX_NONE, 1, e / 2 + 1, b + 1, LEDGER_REPORT_NOT_PENDING);
    DO_REJECT(f, FX_ADMIN, AC, FX_NONE, FX_NONE, 1, e / 2 - 1, b + 1, LEDGER_REPORT_NOT_PENDING);
    DO_REJECT(f, FX_ADMIN, AC, FX_NONE, FX_NONE, 99, e / 2, b + 1, LEDGER_OPERATOR_NOT_FOUND);
    /* funding while held: the held report would book the funding as lost too */
    DO_OK(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 1000, 0);
    CHECK_U64(fx_pool(f).held_loss, e + 1000 - e / 2);
    DO_OK(f, FX_OPERATOR, LEDGER_TX_OPERATOR_EXIT, FX_NONE, FX_NONE, 1, 1000, 0);
    CHECK_U64(fx_pool(f).held_loss, e - e / 2);
    ledger_result r = ACCEPT_OK(f, 1, b + 1, e / 2, 500, 500);
    CHECK_OUT(r, 0, e - e / 2, 0, 0);
    CHECK_U64(fx_pool(f).held_loss, 0);
    DO_REJECT(f, FX_ADMIN, AC, FX_NONE, FX_NONE, 1, e / 2, b + 1, LEDGER_REPORT_NOT_PENDING);

    /* a newer hold replaces an older one; an applied report clears it */
    e = op_balance(f, 1);
    REPORT_HELD(f, 1, b + 2, e * 2, LEDGER_REPORT_APR_EXCEEDED);
    CHECK_U64(fx_pool(f).held_loss, 0); /* a held gain is no loss */
    REPORT_HELD(f, 1, b + 3, e * 3, LEDGER_REPORT_APR_EXCEEDED);
    DO_REJECT(f, FX_ADMIN, AC, FX_NONE, FX_NONE, 1, e * 2, b + 2, LEDGER_REPORT_NOT_PENDING);
    f->now += 86400;
    REPORT_OK(f, 1, b + 4, e + 1000, 500, 500);
    DO_REJECT(f, FX_ADMIN, AC, FX_NONE, FX_NONE, 1, e * 3, b + 3, LEDGER_REPORT_NOT_PENDING);
}

/* An operator registered later: its first report covers the time since registration. */
static void report_new_operator(fixture *f)
{
    const int U6 = FX_USER + 6, U7 = FX_USER + 7;
    const uint64_t stake = 87600000000u; /* 10% a year of it for 3600 s: exactly 1000000 */
    DEPOSIT(f, FX_USER + 1, stake);
    ledger_result r = DO_OK(f, FX_ADMIN, LEDGER_TX_OPERATOR_REGISTER, U6, U7, 0, 300, 0);
    CHECK_OUT(r, 2, 0, 0, 0);
    DO_OK(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 2, stake, 0);
    f->now += 3600;
    uint64_t g = max_gain(stake, 3600, 1000);
    CHECK_U64(g, 1000000); /* the limit is met with equality: still allowed */
    report_held_at(f, U6, 2, 5, stake + g + 1, LEDGER_REPORT_APR_EXCEEDED, __LINE__);
    r = report_at(f, U6, LEDGER_TX_REPORT, 2, 5, stake + g, 500, 300, __LINE__);
    CHECK(r.out[3] > 0 && r.out[2] > r.out[3]); /* split 500 : 300 */
    DO_OK(f, FX_ADMIN, LEDGER_TX_OPERATOR_SET_ACTIVE, FX_NONE, FX_NONE, 2, 0, 0);
    report_at(f, U6, LEDGER_TX_REPORT, 2, 6, stake + g, 500, 300, __LINE__); /* inactive */
    /* operator 1's clock is its own */
    REPORT_OK(f, 1, fx_operator(f, 1).last_epoch + 1, op_balance(f, 1), 500, 500);
}

static void test_report(void)
{
    fixture f;
    fx_open(&f, NULL);
    DEPOSIT(&f, FX_USER, TOKENS);
    DO_OK(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, TOKENS, 0);
    report_first(&f);
    report_limits(&f);
    report_holds(&f);
    report_new_operator(&f);
    fx_check(&f);
    fx_close(&f);
}

/* ---- admin -------------------------------------------------------------------------------- */

static void check_fee(ledger_fee fee, uint64_t bps, uint64_t pending_bps, uint64_t pending_at,
                      int line)
{
    int failures = test_failures;
    CHECK_U64(fee.bps, bps);
    CHECK_U64(fee.pending_bps, pending_bps);
    CHECK_U64(fee.pending_at, pending_at);
    note(failures, line);
}
#define CHECK_FEE(fee, bps, pending, at) check_fee(fee, bps, pending, at, __LINE__)

static void admin_rejections(fixture *f)
{
    const unsigned FS = LEDGER_TX_FEE_SET, PS = LEDGER_TX_PARAM_SET, PA = LEDGER_TX_PAUSE_SET;
    const unsigned RS = LEDGER_TX_ROLE_SET;
    const int U0 = FX_USER, U6 = FX_USER + 6, U7 = FX_USER + 7, A = FX_ADMIN;
    DEPOSIT(f, U0, 1000); /* a holder, so its transactions are recorded (and refused) */
    DO_REJECT(f, U0, FS, FX_NONE, FX_NONE, 0, 100, 0, LEDGER_NOT_ADMIN);
    DO_REJECT(f, FX_CUSTODIAN, FS, FX_NONE, FX_NONE, 0, 100, 0, LEDGER_NOT_ADMIN);
    DO_REJECT(f, U0, PS, FX_NONE, FX_NONE, LEDGER_PARAM_MAX_APR_BPS, 100, 0, LEDGER_NOT_ADMIN);
    DO_REJECT(f, U0, PA, FX_NONE, FX_NONE, 0, LEDGER_PAUSE_ALL, 0, LEDGER_NOT_ADMIN);
    DO_REJECT(f, U0, RS, U0, FX_NONE, LEDGER_ROLE_ADMIN, 0, 0, LEDGER_NOT_ADMIN);
    DO_REJECT(f, U0, LEDGER_TX_OPERATOR_REGISTER, U6, U7, 0, 100, 0, LEDGER_NOT_ADMIN);
    DO_REJECT(f, U0, LEDGER_TX_OPERATOR_SET_ACTIVE, FX_NONE, FX_NONE, 1, 0, 0, LEDGER_NOT_ADMIN);
    DO_REJECT(f, U0, LEDGER_TX_OPERATOR_SET_KEYS, U6, U7, 1, 0, 0, LEDGER_NOT_ADMIN);

    DO_REJECT(f, A, FS, FX_NONE, FX_NONE, 0, 10001, 0, LEDGER_FEE_TOO_HIGH);
    DO_REJECT(f, A, FS, FX_NONE, FX_NONE, 0, 9501, 0, LEDGER_FEE_TOO_HIGH); /* + operator 500 */
    DO_REJECT(f, A, FS, FX_NONE, FX_NONE, 1, 9501, 0, LEDGER_FEE_TOO_HIGH); /* + treasury 500 */
    DO_REJECT(f, A, FS, FX_NONE, FX_NONE, 1, UINT64_MAX, 0, LEDGER_FEE_TOO_HIGH);
    DO_REJECT(f, A, FS, FX_NONE, FX_NONE, 99, 100, 0, LEDGER_OPERATOR_NOT_FOUND);
    /* an operator's scheduled increase already counts against the treasury's room */
    ledger_result r = DO_OK(f, A, FS, FX_NONE, FX_NONE, 1, 9000, 0);
    CHECK_OUT(r, 9000, f->now + 604800, 0, 0); /* FEE_DELAY_S default: a week */
    DO_REJECT(f, A, FS, FX_NONE, FX_NONE, 0, 1001, 0, LEDGER_FEE_TOO_HIGH);
    r = DO_OK(f, A, FS, FX_NONE, FX_NONE, 1, 500, 0); /* back to 500: cancels it */
    CHECK_FEE(fx_operator(f, 1).fee, 500, 0, 0);

    DO_REJECT(f, A, PS, FX_NONE, FX_NONE, 0, 1, 0, LEDGER_PARAM_UNKNOWN);
    DO_REJECT(f, A, PS, FX_NONE, FX_NONE, LEDGER_PARAM_COUNT, 1, 0, LEDGER_PARAM_UNKNOWN);
    DO_REJECT(f, A, PS, FX_NONE, FX_NONE, (1ull << 32) + 1, 1, 0, LEDGER_PARAM_UNKNOWN);
    DO_REJECT(f, A, PS, FX_NONE, FX_NONE, UINT64_MAX, 1, 0, LEDGER_PARAM_UNKNOWN);
    DO_REJECT(f, A, PS, FX_NONE, FX_NONE, LEDGER_PARAM_EPOCH_S, 0, 0, LEDGER_PARAM_OUT_OF_RANGE);
    DO_REJECT(f, A, PS, FX_NONE, FX_NONE, LEDGER_PARAM_EPOCH_S, 86401, 0,
              LEDGER_PARAM_OUT_OF_RANGE);
    DO_REJECT(f, A, PS, FX_NONE, FX_NONE, LEDGER_PARAM_MAX_APR_BPS, 1000001, 0,
              LEDGER_PARAM_OUT_OF_RANGE);
    DO_REJECT(f, A, PS, FX_NONE, FX_NONE, LEDGER_PARAM_MAX_DROP_BPS, 10001, 0,
              LEDGER_PARAM_OUT_OF_RANGE);
    DO_REJECT(f, A, PS, FX_NONE, FX_NONE, LEDGER_PARAM_OPERATOR_CAP_BPS, 10001, 0,
              LEDGER_PARAM_OUT_OF_RANGE);
    DO_REJECT(f, A, PS, FX_NONE, FX_NONE, LEDGER_PARAM_FEE_DELAY_S, 31536001, 0,
              LEDGER_PARAM_OUT_OF_RANGE);
    r = DO_OK(f, A, PS, FX_NONE, FX_NONE, LEDGER_PARAM_FEE_DELAY_S, 1000, 0);
    CHECK_OUT(r, 1000, 0, 0, 0);
    CHECK_U64(fx_pool(f).params[LEDGER_PARAM_FEE_DELAY_S], 1000);

    DO_REJECT(f, A, PA, FX_NONE, FX_NONE, 0, 8, 0, LEDGER_PAUSE_FLAGS_UNKNOWN);
    DO_REJECT(f, A, PA, FX_NONE, FX_NONE, 0, 1ull << 63, 0, LEDGER_PAUSE_FLAGS_UNKNOWN);
    r = DO_OK(f, A, PA, FX_NONE, FX_NONE, 0, LEDGER_PAUSE_ALL, 0);
    CHECK_OUT(r, LEDGER_PAUSE_ALL, 0, 0, 0);
    CHECK_U64(fx_pool(f).pause_flags, LEDGER_PAUSE_ALL);
    DO_REJECT(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, U0, FX_NONE, 0, 10, 0, LEDGER_DEPOSITS_PAUSED);
    DO_REJECT(f, U0, LEDGER_TX_TRANSFER, U6, FX_NONE, 0, 10, 0, LEDGER_TRANSFERS_PAUSED);
    DO_REJECT(f, U0, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 10, 0,
              LEDGER_WITHDRAWALS_PAUSED);
    DO_OK(f, A, PA, FX_NONE, FX_NONE, 0, 0, 0);

    DO_REJECT(f, A, RS, U0, FX_NONE, 4, 0, 0, LEDGER_ROLE_UNKNOWN);
    DO_REJECT(f, A, RS, U0, FX_NONE, 0, 0, 0, LEDGER_ROLE_UNKNOWN);
    DO_REJECT(f, A, RS, FX_NONE, FX_NONE, LEDGER_ROLE_ADMIN, 0, 0, LEDGER_INVALID_ACCOUNT);
    REJECT_BAD_KEY(f, A, RS, FX_NONE, FX_NONE, 1, LEDGER_ROLE_CUSTODIAN, 0, 0);
}

/* A report one day after the last, with `reward`, charged ft and fo. */
static ledger_result fee_report_at(fixture *f, uint64_t reward, uint64_t ft, uint64_t fo, int line)
{
    f->now += 86400;
    return report_at(f, FX_OPERATOR, LEDGER_TX_REPORT, 1, epoch_now(f), op_balance(f, 1) + reward,
                     ft, fo, line);
}
#define FEE_REPORT(f, reward, ft, fo) fee_report_at(f, reward, ft, fo, __LINE__)

/* Fee increases wait FEE_DELAY_S (1000 here) and are charged only from the first report period
 * that begins after that; decreases apply at once, to the whole period. */
static void admin_fees(fixture *f)
{
    const unsigned FS = LEDGER_TX_FEE_SET;
    const uint64_t reward = 100000000;
    DEPOSIT(f, FX_USER, TOKENS);
    DO_OK(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, TOKENS, 0);
    FEE_REPORT(f, reward, 500, 500);
    uint64_t t = f->now;
    ledger_result r = DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 0, 1000, 0);
    CHECK_OUT(r, 1000, t + 1000, 0, 0);
    ledger_pool p = fx_pool(f);
    CHECK_FEE(p.treasury_fee, 500, 1000, t + 1000);
    /* the scheduled fee already counts against the 100% ceiling */
    DO_REJECT(f, FX_ADMIN, LEDGER_TX_OPERATOR_REGISTER, FX_USER + 6, FX_USER + 7, 0, 9001, 0,
              LEDGER_FEE_TOO_HIGH);
    DO_REJECT(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 1, 9001, 0, LEDGER_FEE_TOO_HIGH);

    /* the period began before the increase took effect: the old fee, for all of it */
    FEE_REPORT(f, reward, 500, 500);
    p = fx_pool(f);
    CHECK_FEE(p.treasury_fee, 1000, 0, 0);
    CHECK_U64(fx_operator(f, 1).period_treasury_bps, 1000);
    FEE_REPORT(f, reward, 1000, 500); /* from the next period on: the new fee */

    r = DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 1, 200, 0); /* a decrease: at once */
    CHECK_OUT(r, 200, f->now, 0, 0);
    CHECK_FEE(fx_operator(f, 1).fee, 200, 0, 0);
    FEE_REPORT(f, reward, 1000, 200); /* for the whole period that began at 500 */
    r = DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 1, 800, 0);
    CHECK_OUT(r, 800, f->now + 1000, 0, 0);
    CHECK_FEE(fx_operator(f, 1).fee, 200, 800, f->now + 1000);
    /* above the fee in force it is still an increase: it replaces the scheduled one */
    f->now += 10;
    r = DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 1, 300, 0);
    CHECK_OUT(r, 300, f->now + 1000, 0, 0);
    CHECK_FEE(fx_operator(f, 1).fee, 200, 300, f->now + 1000);
    r = DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 1, 150, 0); /* a decrease cancels it */
    CHECK_OUT(r, 150, f->now, 0, 0);
    CHECK_FEE(fx_operator(f, 1).fee, 150, 0, 0);
    r = DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 1, 150, 0); /* the same fee: nothing to wait */
    CHECK_OUT(r, 150, f->now, 0, 0);
    CHECK_FEE(fx_operator(f, 1).fee, 150, 0, 0);
    FEE_REPORT(f, reward, 1000, 150);
    /* a decrease and an increase within one period: the period pays the lowest, even once the
     * increase is in force (the audit's 5% -> 1% -> 5%) */
    DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 1, 50, 0);
    CHECK_U64(fx_operator(f, 1).period_fee_bps, 50);
    DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 1, 150, 0);
    DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 0, 400, 0); /* treasury: every operator's period */
    CHECK_U64(fx_operator(f, 1).period_treasury_bps, 400);
    DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 0, 1000, 0);
    FEE_REPORT(f, reward, 400, 50); /* a day later: both increases are in force */
    FEE_REPORT(f, reward, 1000, 150);

    DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 0, 0, 0);
    DO_OK(f, FX_ADMIN, FS, FX_NONE, FX_NONE, 1, 0, 0);
    p = fx_pool(f);
    CHECK_FEE(p.treasury_fee, 0, 0, 0);
    r = FEE_REPORT(f, reward, 0, 0); /* no fee, no fee shares */
    CHECK_OUT(r, reward, 0, 0, 0);
}

static void admin_roles(fixture *f)
{
    const unsigned RS = LEDGER_TX_ROLE_SET;
    const int U0 = FX_USER, U1 = FX_USER + 1, U2 = FX_USER + 2, U3 = FX_USER + 3;
    ledger_result r = DO_OK(f, FX_ADMIN, RS, U0, FX_NONE, LEDGER_ROLE_ADMIN, 0, 0);
    CHECK_OUT(r, LEDGER_ROLE_ADMIN, 0, 0, 0);
    CHECK(memcmp(fx_pool(f).admin, f->pk[U0], 32) == 0);
    DO_REJECT(f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, 0, 0,
              LEDGER_SIGNER_HOLDS_NOTHING);
    DO_OK(f, U0, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, 0, 0);

    r = DO_OK(f, U0, RS, U1, FX_NONE, LEDGER_ROLE_CUSTODIAN, 0, 0);
    CHECK_OUT(r, LEDGER_ROLE_CUSTODIAN, 0, 0, 0);
    DO_REJECT(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, U3, FX_NONE, 0, 1000, 0,
              LEDGER_SIGNER_HOLDS_NOTHING);
    DO_REJECT(f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 1, 0, 0,
              LEDGER_SIGNER_HOLDS_NOTHING);
    ledger_pool p = pool_now(f);
    uint64_t minted = mul_div(1000000, p.shares, p.assets + p.unvested);
    r = DO_OK(f, U1, LEDGER_TX_DEPOSIT, U3, FX_NONE, 0, 1000000, 0);
    CHECK_OUT(r, minted, 1000000, 0, 0);
    CHECK_ACCT(f, U3, minted, 0, 0);
    /* the old custodian is not the operator either: it lost the exit right too (holding
     * nothing, it is not even recorded) */
    DO_REJECT(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_EXIT, FX_NONE, FX_NONE, 1, 1, 0,
              LEDGER_SIGNER_HOLDS_NOTHING);

    r = DO_OK(f, U0, RS, U2, FX_NONE, LEDGER_ROLE_TREASURY, 0, 0);
    CHECK_OUT(r, LEDGER_ROLE_TREASURY, 0, 0, 0);
    r = DO_OK(f, U0, LEDGER_TX_FEE_SET, FX_NONE, FX_NONE, 0, 500, 0);
    CHECK_OUT(r, 500, f->now + 1000, 0, 0);
    FEE_REPORT(f, 100000000, 0, 0); /* its period began before the increase */
    uint64_t old_treasury = fx_account(f, FX_TREASURY).shares;
    r = FEE_REPORT(f, 100000000, 500, 0);
    CHECK(r.out[2] > 0 && r.out[3] == 0);
    CHECK_U64(fx_account(f, U2).shares, r.out[2]); /* the new treasury key gets the fee */
    CHECK_U64(fx_account(f, FX_TREASURY).shares, old_treasury);
}

static void test_admin(void)
{
    fixture f;
    fx_open(&f, NULL);
    admin_rejections(&f);
    admin_fees(&f);
    admin_roles(&f);
    fx_check(&f);
    fx_close(&f);
}

/* ---- nonces and duplicates ------------------------------------------------------------------ */

typedef struct raw_job {
    fixture *f;
    const ledger_tx *tx;
    ledger_result *res;
} raw_job;

/* Apply without a signature (the fixture cannot sign a kind that has no hash). */
static int raw_fn(void *ctx, ledger_store *view)
{
    static const uint8_t zero_sig[LEDGER_SIG_SIZE];
    raw_job *j = ctx;
    ledger_batch b;
    int rc = ledger_batch_begin(&b, view, j->f->now);
    if (rc == LEDGER_OK)
        rc = ledger_apply(&b, j->tx, NULL, zero_sig, j->res);
    return rc == LEDGER_OK ? ledger_batch_end(&b) : rc;
}

static void unknown_kind(fixture *f, uint8_t kind)
{
    ledger_tx tx = fx_tx(f, FX_USER, LEDGER_TX_TRANSFER, FX_USER + 1, FX_NONE, 0, 1, 0);
    ledger_result r;
    snapshot before, after;
    tx.kind = kind;
    raw_job j = {f, &tx, &r};
    snap_take(f, &before);
    CHECK_CODE(store_db_write(f->store, raw_fn, &j), LEDGER_OK);
    snap_take(f, &after);
    seen(r.code);
    CHECK_CODE(r.code, LEDGER_KIND_UNKNOWN);
    CHECK(r.seq == 0 && !r.duplicate);
    snap_same(&before, &after, FX_USER, false, false);
}

static void nonce_rules(fixture *f)
{
    const unsigned T = LEDGER_TX_TRANSFER;
    const int U0 = FX_USER, U1 = FX_USER + 1;
    snapshot before, after;
    ledger_tx tx = fx_tx(f, U0, T, U1, FX_NONE, 0, 100, 0);
    CHECK_U64(tx.nonce, 1); /* a fresh signer's first transaction carries 1 */
    tx.nonce = 0;
    TX_REJECT(f, &tx, LEDGER_NONCE_USED);
    tx.nonce = 2;
    TX_REJECT(f, &tx, LEDGER_NONCE_GAP);
    TX_REJECT(f, &tx, LEDGER_NONCE_GAP); /* not recorded: the same answer again */
    tx.nonce = 1;
    ledger_result first = TX_OK(f, &tx);
    CHECK_OUT(first, 100, 0, 0, 0);

    f->now += 10;
    snap_take(f, &before);
    ledger_result r = fx_submit(f, &tx); /* the same transaction again */
    snap_take(f, &after);
    CHECK(r.duplicate && r.code == LEDGER_OK && r.seq == first.seq && r.batch == first.batch &&
          r.timestamp == first.timestamp && r.out[0] == 100);
    snap_same(&before, &after, U0, false, false);
    CHECK_ACCT(f, U1, 100, 0, 0);

    ledger_tx other = fx_tx(f, U0, T, U1, FX_NONE, 0, 101, 0);
    other.nonce = 1; /* a different transaction with a used nonce */
    TX_REJECT(f, &other, LEDGER_NONCE_USED);
    other.nonce = 3;
    TX_REJECT(f, &other, LEDGER_NONCE_GAP);

    ledger_tx big = fx_tx(f, U0, T, U1, FX_NONE, 0, 1000000, 0);
    ledger_result rejected = TX_REJECT(f, &big, LEDGER_INSUFFICIENT_SHARES);
    f->now += 10;
    snap_take(f, &before);
    r = fx_submit(f, &big); /* a recorded rejection is a result too */
    snap_take(f, &after);
    CHECK(r.duplicate && r.code == LEDGER_INSUFFICIENT_SHARES && r.seq == rejected.seq &&
          r.timestamp == rejected.timestamp);
    snap_same(&before, &after, U0, false, false);
}

static void nonce_batches(fixture *f)
{
    const unsigned T = LEDGER_TX_TRANSFER;
    const int U0 = FX_USER, U2 = FX_USER + 2;
    ledger_tx txs[2];
    ledger_result res[2];
    uint64_t nonce = fx_account(f, U0).nonce;
    txs[0] = txs[1] = fx_tx(f, U0, T, U2, FX_NONE, 0, 50, 0);
    fx_submit_batch(f, txs, 2, res); /* the same transaction twice in one batch */
    CHECK(res[0].code == LEDGER_OK && !res[0].duplicate);
    CHECK(res[1].code == LEDGER_OK && res[1].duplicate && res[1].seq == res[0].seq);
    CHECK_ACCT(f, U2, 50, 0, 0);
    CHECK_U64(fx_account(f, U0).nonce, nonce + 1);

    txs[0] = fx_tx(f, U0, T, U2, FX_NONE, 0, 10, 0);
    txs[1] = txs[0];
    txs[1].nonce++;
    txs[1].amount = 20;
    fx_submit_batch(f, txs, 2, res); /* consecutive nonces in one batch */
    CHECK(res[0].code == LEDGER_OK && res[1].code == LEDGER_OK && !res[1].duplicate);
    CHECK(res[1].seq == res[0].seq + 1 && res[1].batch == res[0].batch);
    CHECK_ACCT(f, U2, 80, 0, 0);

    txs[0] = fx_tx(f, U0, T, U2, FX_NONE, 0, 1, 0);
    txs[1] = txs[0];
    txs[0].nonce++; /* ahead first, then the one it waits for */
    fx_submit_batch(f, txs, 2, res);
    seen(res[0].code);
    CHECK_CODE(res[0].code, LEDGER_NONCE_GAP);
    CHECK_CODE(res[1].code, LEDGER_OK);
    CHECK_ACCT(f, U2, 81, 0, 0);
    CHECK_U64(fx_account(f, U0).nonce, nonce + 4);

    uint64_t last = fx_chain(f).last_ts;
    f->now = last - 1000; /* a clock that went back: batch time stays put */
    ledger_result r = DO_OK(f, U0, T, U2, FX_NONE, 0, 1, 0);
    CHECK_U64(r.timestamp, last);
    CHECK_U64(fx_chain(f).last_ts, last);
    f->now = last;
}

static void decode_rules(fixture *f)
{
    uint8_t buf[LEDGER_TX_BYTES_MAX + 1], bad[LEDGER_TX_BYTES_MAX + 1];
    ledger_tx tx = fx_tx(f, FX_USER, LEDGER_TX_TRANSFER_FROM, FX_USER + 1, FX_USER + 2, 7, 8, 9);
    ledger_tx back;
    size_t n = ledger_tx_encode(buf, &tx);
    CHECK_U64(n, 2 + 32 + 8 + 32 + 32 + 8);
    CHECK_CODE(ledger_tx_decode(&back, buf, n), LEDGER_OK);
    CHECK(back.kind == tx.kind && memcmp(back.signer, tx.signer, 32) == 0 &&
          back.nonce == tx.nonce && memcmp(back.account, tx.account, 32) == 0 &&
          memcmp(back.account2, tx.account2, 32) == 0 && back.amount == 8 && back.id == 0 &&
          back.limit == 0); /* transfer_from carries no id or limit */
    int code = ledger_tx_decode(&back, buf, n - 1);
    seen(code);
    CHECK_CODE(code, LEDGER_TX_MALFORMED);
    buf[n] = 0;
    CHECK_CODE(ledger_tx_decode(&back, buf, n + 1), LEDGER_TX_MALFORMED);
    CHECK_CODE(ledger_tx_decode(&back, buf, 0), LEDGER_TX_MALFORMED);
    CHECK_CODE(ledger_tx_decode(&back, buf, 1), LEDGER_TX_MALFORMED);
    CHECK_CODE(ledger_tx_decode(&back, buf, 2 + 32 + 4), LEDGER_TX_MALFORMED);
    memcpy(bad, buf, n);
    bad[0] = 2; /* unknown version */
    CHECK_CODE(ledger_tx_decode(&back, bad, n), LEDGER_TX_MALFORMED);
    memcpy(bad, buf, n);
    bad[1] = 99;
    CHECK_CODE(ledger_tx_decode(&back, bad, n), LEDGER_KIND_UNKNOWN);
    bad[1] = 0;
    CHECK_CODE(ledger_tx_decode(&back, bad, n), LEDGER_KIND_UNKNOWN);
    tx.kind = 99;
    CHECK_U64(ledger_tx_encode(buf, &tx), 0);
    CHECK_CODE(ledger_tx_hash(buf, "lstd-test", &tx), LEDGER_KIND_UNKNOWN);
}

static void test_nonce(void)
{
    fixture f;
    fx_open(&f, NULL);
    DEPOSIT(&f, FX_USER, 10000);
    nonce_rules(&f);
    nonce_batches(&f);
    unknown_kind(&f, 0);
    unknown_kind(&f, 99);
    decode_rules(&f);
    fx_check(&f);
    fx_close(&f);
}

/* ---- standing: who may be recorded ------------------------------------------------------- */

/* A signer holding nothing (no shares free, pledged or queued, no role, no operator key, not
 * the spender of the allowance it spends, no party to any lien) is refused before its nonce:
 * every kind gets SIGNER_HOLDS_NOTHING, not recorded, nothing changed (the audit's free
 * history growth: approve from fresh keys). Each way of holding something makes the signer's
 * transactions recorded again, and a holder gets the rule codes as before. */
static void test_standing(void)
{
    const int U1 = FX_USER + 1, U2 = FX_USER + 2, U3 = FX_USER + 3, U4 = FX_USER + 4;
    const int H = LEDGER_SIGNER_HOLDS_NOTHING;
    const unsigned T = LEDGER_TX_TRANSFER, TF = LEDGER_TX_TRANSFER_FROM;
    fixture f;
    fx_open(&f, NULL);
    for (unsigned kind = 1; kind <= LEDGER_TX_KIND_MAX; kind++)
        DO_REJECT(&f, U1, kind, U2, U3, 1, 1, 0, H);
    CHECK_U64(fx_account(&f, U1).nonce, 0);
    /* every role holds something, shares or not */
    DO_REJECT(&f, FX_ADMIN, T, U2, FX_NONE, 0, 1, 0, LEDGER_INSUFFICIENT_SHARES);
    DO_REJECT(&f, FX_CUSTODIAN, T, U2, FX_NONE, 0, 1, 0, LEDGER_INSUFFICIENT_SHARES);
    DO_REJECT(&f, FX_TREASURY, T, U2, FX_NONE, 0, 1, 0, LEDGER_INSUFFICIENT_SHARES);
    DO_REJECT(&f, FX_OPERATOR, T, U2, FX_NONE, 0, 1, 0, LEDGER_INSUFFICIENT_SHARES);

    /* free shares; a holder without the role gets the role codes, recorded */
    DEPOSIT(&f, U1, 1000);
    DO_REJECT(&f, U1, LEDGER_TX_DEPOSIT, U2, FX_NONE, 0, 1, 0, LEDGER_NOT_CUSTODIAN);
    DO_REJECT(&f, U1, LEDGER_TX_FEE_SET, FX_NONE, FX_NONE, 0, 1, 0, LEDGER_NOT_ADMIN);
    DO_REJECT(&f, U1, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, 0, 1, LEDGER_NOT_OPERATOR);
    DO_REJECT(&f, U1, LEDGER_TX_OPERATOR_EXIT, FX_NONE, FX_NONE, 1, 1, 0,
              LEDGER_NOT_OPERATOR_OR_CUSTODIAN);
    DO_REJECT(&f, U1, TF, U3, U1, 0, 1, 0, LEDGER_ALLOWANCE_EXCEEDED);
    DO_OK(&f, U1, LEDGER_TX_APPROVE, U2, FX_NONE, 0, 50, 0);

    /* the spender of this allowance, and of no other */
    DO_REJECT(&f, U2, TF, U1, U3, 0, 51, 0, LEDGER_ALLOWANCE_EXCEEDED);
    DO_OK(&f, U2, TF, U1, U3, 0, 50, 0);       /* U3 holds 50 now; U2 still nothing */
    DO_REJECT(&f, U2, TF, U1, U3, 0, 1, 0, H); /* spent: allowance 0 */
    DO_REJECT(&f, U2, TF, U3, U2, 0, 1, 0, H); /* U3 never approved U2 */

    /* pledged shares only, and the lien's beneficiary */
    ledger_result r = DO_OK(&f, U1, LEDGER_TX_LOCK, U4, FX_NONE, 0, 950, f.now + 1000);
    uint64_t lien = r.out[0];
    CHECK_ACCT(&f, U1, 0, 950, 0);
    DO_REJECT(&f, U1, T, U2, FX_NONE, 0, 1, 0, LEDGER_INSUFFICIENT_SHARES);
    DO_REJECT(&f, U4, LEDGER_TX_RELEASE, FX_NONE, FX_NONE, 99, 1, 0, LEDGER_LIEN_NOT_FOUND);
    DO_REJECT(&f, U4, T, U2, FX_NONE, 0, 1, 0, H); /* a beneficiary has standing for liens only */
    DO_OK(&f, U4, LEDGER_TX_RELEASE, FX_NONE, FX_NONE, lien, 950, 0);
    DO_REJECT(&f, U4, LEDGER_TX_RELEASE, FX_NONE, FX_NONE, lien, 1, 0, H); /* no lien left */

    /* queued shares only */
    DO_OK(&f, U3, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 50, 0);
    CHECK_ACCT(&f, U3, 0, 0, 50);
    DO_REJECT(&f, U3, T, U2, FX_NONE, 0, 1, 0, LEDGER_INSUFFICIENT_SHARES);

    /* a holder who gave everything away holds nothing again */
    DO_OK(&f, U1, T, U2, FX_NONE, 0, 950, 0);
    DO_REJECT(&f, U1, T, U2, FX_NONE, 0, 1, 0, H);
    fx_check(&f);
    fx_close(&f);
}

/* ---- genesis ------------------------------------------------------------------------------ */

/* Variant `which` of a valid genesis that breaks one rule (false when there are no more). */
static bool genesis_break(ledger_genesis *g, int which)
{
    switch (which) {
    case 0:
        g->ledger_id[0] = '\0';
        break;
    case 1:
        strcpy(g->ledger_id, "has space");
        break;
    case 2:
        g->ledger_id[3] = 0x7f;
        break;
    case 3:
        memset(g->ledger_id, 'a', sizeof g->ledger_id); /* 33 bytes, no NUL */
        break;
    case 4:
        memset(g->admin, 0, 32);
        break;
    case 5:
        memset(g->custodian, 0xFF, 32);
        break;
    case 6:
        memset(g->treasury, 0, 32);
        break;
    case 7:
        g->treasury_fee_bps = 10001;
        g->operator_count = 0;
        break;
    case 8:
        g->operators[0].fee_bps = 9501;
        break;
    case 9:
        g->params[LEDGER_PARAM_EPOCH_S] = 0;
        break;
    case 10:
        g->params[LEDGER_PARAM_MAX_DROP_BPS] = 10001;
        break;
    case 11:
        g->params[LEDGER_PARAM_FEE_DELAY_S] = 31536001;
        break;
    case 12:
        g->operator_count = 2;
        g->operators[1] = g->operators[0];
        break;
    case 13:
        memset(g->operators[0].key, 0xFF, 32);
        break;
    case 14:
        memset(g->operators[0].fee_account, 0, 32);
        break;
    case 15:
        g->operator_count = LEDGER_GENESIS_OPERATORS_MAX + 1;
        break;
    case 16:
        g->decimals = 19;
        break;
    case 17:
        g->dead_shares = 0;
        break;
    case 18: /* the audit's inflation case had 1 dead share: at least 10^6 */
        g->dead_shares = LEDGER_DEAD_SHARES_MIN - 1;
        break;
    case 19: /* epoch 0 may not start after the genesis */
        g->epoch_origin = g->timestamp + 1;
        break;
    case 20: /* the committee (ledger/README.md, "Oracle committee"): a member key on the curve */
        g->oracle_member_count = 1, g->oracle_quorum = 1;
        memset(g->oracle_members[0], 0xFF, 32);
        break;
    case 21: /* distinct members */
        g->oracle_member_count = 2, g->oracle_quorum = 2;
        memcpy(g->oracle_members[0], g->admin, 32);
        memcpy(g->oracle_members[1], g->admin, 32);
        break;
    case 22: /* members, but quorum 0 */
        g->oracle_member_count = 1;
        memcpy(g->oracle_members[0], g->admin, 32);
        break;
    case 23: /* a quorum above the members */
        g->oracle_member_count = 1, g->oracle_quorum = 2;
        memcpy(g->oracle_members[0], g->admin, 32);
        break;
    case 24: /* half the members is not a majority without minority 1 */
        g->oracle_member_count = 2, g->oracle_quorum = 1;
        memcpy(g->oracle_members[0], g->admin, 32);
        memcpy(g->oracle_members[1], g->custodian, 32);
        break;
    case 25: /* committee mode needs members */
        g->report_mode = LEDGER_REPORT_MODE_COMMITTEE;
        break;
    case 26:
        g->report_mode = 3;
        break;
    case 27:
        g->report_mode = 0;
        break;
    case 28:
        g->oracle_minority = 2;
        break;
    case 29:
        g->oracle_member_count = LEDGER_ORACLE_MEMBERS_MAX + 1;
        g->oracle_quorum = LEDGER_ORACLE_MEMBERS_MAX + 1;
        break;
    case 30: /* no members, a quorum */
        g->oracle_quorum = 1;
        break;
    default:
        return false;
    }
    return true;
}

/* ledger_genesis_apply as one batch of a scratch store: kept when it succeeds, undone
 * otherwise, as store_db does with a batch that fails. */
static int mem_genesis(store_mem *m, const ledger_genesis *g)
{
    ledger_store v;
    store_mem_view(m, &v);
    int rc = ledger_genesis_apply(&v, g);
    if (rc == LEDGER_OK)
        store_mem_commit(m);
    else
        store_mem_abort(m);
    return rc;
}

static void expect_uninitialized(ledger_store *v)
{
    ledger_batch b;
    ledger_pool p;
    ledger_genesis g;
    CHECK_CODE(ledger_batch_begin(&b, v, 5), LEDGER_NOT_INITIALIZED);
    CHECK_CODE(ledger_read_pool(v, &p), LEDGER_NOT_INITIALIZED);
    CHECK_CODE(ledger_genesis_read(v, &g), LEDGER_NOT_INITIALIZED);
}

static int lmdb_genesis_fn(void *ctx, ledger_store *view)
{
    return ledger_genesis_apply(view, ctx);
}

/* The rules of the genesis, on the writable view the state machine now needs (a store that
 * tracks its writes: store_mem). The test used to apply them to a raw LMDB write view; such a
 * view has no `changed`, so the genesis is refused there with LEDGER_INTERNAL and nothing is
 * written (checked below), and the durable path is store_db_create (genesis_durable). */
static void genesis_rules(const fixture *f)
{
    store_mem *m;
    ledger_store v;
    ledger_genesis g;
    CHECK_CODE(store_mem_new(&m, 7), 0);
    store_mem_view(m, &v);
    expect_uninitialized(&v);
    for (int which = 0;; which++) {
        g = f->genesis;
        if (!genesis_break(&g, which))
            break;
        int rc = mem_genesis(m, &g);
        if (rc != LEDGER_GENESIS_INVALID)
            fprintf(stderr, "  genesis variant %d\n", which);
        CHECK_CODE(rc, LEDGER_GENESIS_INVALID);
    }
    expect_uninitialized(&v);
    g = f->genesis;
    g.treasury_fee_bps = 9500; /* with the operator's 500: exactly 100% */
    CHECK_CODE(mem_genesis(m, &g), LEDGER_OK);
    /* a genesis never overwrites a ledger, valid or not */
    CHECK_CODE(mem_genesis(m, &g), LEDGER_ALREADY_INITIALIZED);
    CHECK_CODE(mem_genesis(m, &f->genesis), LEDGER_ALREADY_INITIALIZED);
    ledger_batch b;
    CHECK_CODE(ledger_batch_begin(&b, &v, 5), LEDGER_OK);
    CHECK_U64(b.now, f->genesis.timestamp); /* time never goes back before the genesis */
    store_mem_free(&m);

    /* a view that does not track its writes cannot take a genesis, and keeps nothing */
    store_lmdb *s;
    store_txn *t;
    store_options opt = {.durability = STORE_NOSYNC};
    char *dir = test_tmpdir("lstd-rules");
    CHECK(store_lmdb_open(&s, dir, &opt) == 0);
    CHECK_CODE(store_lmdb_write(s, lmdb_genesis_fn, (void *)&f->genesis), LEDGER_INTERNAL);
    CHECK(store_lmdb_begin(s, false, &t, &v) == 0);
    expect_uninitialized(&v);
    store_lmdb_abort(&t);
    store_lmdb_close(&s);
    test_rmtree(dir);
    free(dir);
}

/* The same rules through the durable ledger: store_db_create refuses every broken genesis and
 * leaves no ledger behind (store_db_open finds none); a valid one is created once and never
 * overwritten. */
static void genesis_durable(const fixture *f)
{
    store_db_options opt = {.durability = STORE_NOSYNC};
    store_db *db = NULL;
    ledger_genesis g;
    char msg[256];
    char *dir = test_tmpdir("lstd-rules-db");
    CHECK_CODE(store_db_open(&db, dir, &opt, msg, sizeof msg), LEDGER_NOT_INITIALIZED);
    for (int which = 0;; which++) {
        g = f->genesis;
        if (!genesis_break(&g, which))
            break;
        int rc = store_db_create(dir, &g, &opt);
        if (rc != LEDGER_GENESIS_INVALID)
            fprintf(stderr, "  genesis variant %d (store_db_create)\n", which);
        CHECK_CODE(rc, LEDGER_GENESIS_INVALID);
    }
    CHECK_CODE(store_db_open(&db, dir, &opt, msg, sizeof msg), LEDGER_NOT_INITIALIZED);
    CHECK(db == NULL);
    g = f->genesis;
    g.treasury_fee_bps = 9500;
    CHECK_CODE(store_db_create(dir, &g, &opt), LEDGER_OK);
    CHECK_CODE(store_db_create(dir, &g, &opt), LEDGER_ALREADY_INITIALIZED);
    CHECK_CODE(store_db_create(dir, &f->genesis, &opt), LEDGER_ALREADY_INITIALIZED);
    int rc = store_db_open(&db, dir, &opt, msg, sizeof msg);
    if (rc != LEDGER_OK)
        fprintf(stderr, "  store_db_open: %s\n", msg);
    CHECK_CODE(rc, LEDGER_OK);
    if (db != NULL) {
        ledger_genesis back;
        ledger_batch b;
        CHECK_CODE(ledger_genesis_read(store_db_view(db), &back), LEDGER_OK);
        CHECK_U64(back.treasury_fee_bps, 9500); /* the first genesis, not overwritten */
        CHECK_CODE(ledger_batch_begin(&b, store_db_view(db), 5), LEDGER_OK);
        CHECK_U64(b.now, f->genesis.timestamp);
        store_db_close(&db);
    }
    test_rmtree(dir);
    free(dir);
}

static void test_genesis(void)
{
    fixture f;
    fx_open(&f, NULL); /* for its keys and a valid configuration */
    genesis_rules(&f);
    genesis_durable(&f);
    fx_close(&f);
}

/* ---- economics: the audit's attacks, each shown not to pay ------------------------------- */

static const uint64_t BIG = 1000000000000u; /* 10^12 */

/* A pool of one holder (U0) with BIG deposited and funded to operator 1, one normal report a
 * day after genesis behind it. */
static void econ_open(fixture *f, void (*tweak)(ledger_genesis *g))
{
    fx_open(f, tweak);
    DEPOSIT(f, FX_USER, BIG);
    DO_OK(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, BIG, 0);
    f->now += 86400;
    REPORT_OK(f, 1, epoch_now(f), op_balance(f, 1) + max_gain(BIG, 86400, 1000), 500, 500);
}

/* value of shares at the pool's rate A / S, vested to the next batch */
static uint64_t value_now(fixture *f, uint64_t shares)
{
    ledger_pool p = pool_now(f);
    return mul_div(shares, p.assets, p.shares);
}

/* 1. An epoch far ahead with a 13.6x gain, 384 s after the last report: refused before the
 * limits (nothing held, rate unchanged); the largest valid epoch is held by the APR limit over
 * 384 s of batch time; 2^64-1 cannot freeze the operator; operator_reset repairs one. */
static void attack_epoch(void)
{
    fixture f;
    const unsigned RE = LEDGER_TX_REPORT, RS = LEDGER_TX_OPERATOR_RESET;
    econ_open(&f, NULL);
    f.now += 384;
    ledger_operator o = fx_operator(&f, 1);
    ledger_pool p = pool_now(&f);
    uint64_t inflated = o.balance + o.balance / 10 * 136; /* gain 13.6x the balance */
    DO_REJECT(&f, FX_OPERATOR, RE, FX_NONE, FX_NONE, 1, inflated, o.last_epoch + 11184811,
              LEDGER_EPOCH_IN_FUTURE);
    DO_REJECT(&f, FX_OPERATOR, RE, FX_NONE, FX_NONE, 1, inflated, UINT64_MAX,
              LEDGER_EPOCH_IN_FUTURE);
    ledger_pool q = pool_now(&f);
    CHECK((u128)q.assets * p.shares == (u128)p.assets * q.shares);
    CHECK_U64(q.held_loss + fx_operator(&f, 1).held_epoch, 0);
    REPORT_HELD(&f, 1, epoch_now(&f), inflated, LEDGER_REPORT_APR_EXCEEDED);
    /* the operator is not frozen: the next real report applies (and clears the hold) */
    f.now += 86400;
    REPORT_OK(&f, 1, epoch_now(&f), op_balance(&f, 1) + 1000, 500, 500);

    /* reset: admin only; the epoch must have started; it may go back */
    uint64_t cur = epoch_now(&f), e = op_balance(&f, 1);
    DO_REJECT(&f, FX_OPERATOR, RS, FX_NONE, FX_NONE, 1, e, 5, LEDGER_NOT_ADMIN);
    DO_REJECT(&f, FX_ADMIN, RS, FX_NONE, FX_NONE, 9, e, 5, LEDGER_OPERATOR_NOT_FOUND);
    DO_REJECT(&f, FX_ADMIN, RS, FX_NONE, FX_NONE, 1, e, cur + 1, LEDGER_EPOCH_IN_FUTURE);
    f.now += 384;
    cur = epoch_now(&f);
    REPORT_HELD(&f, 1, cur, e / 2, LEDGER_REPORT_DROP_EXCEEDED);
    CHECK_U64(fx_pool(&f).held_loss, e - e / 2);
    ledger_result r = report_at(&f, FX_ADMIN, RS, 1, 5, e, 500, 500, __LINE__);
    CHECK_OUT(r, 0, 0, 0, 0); /* the true balance: nothing booked, the hold dropped */
    CHECK_U64(fx_operator(&f, 1).last_epoch, 5);
    CHECK_U64(fx_pool(&f).held_loss, 0);
    f.now += 86400;
    REPORT_OK(&f, 1, 6, op_balance(&f, 1) + 1000, 500, 500);
    /* a reset books a balance without the limits: here a 60% loss at once */
    e = op_balance(&f, 1);
    r = report_at(&f, FX_ADMIN, RS, 1, 7, e - e / 10 * 6, 500, 500, __LINE__);
    CHECK_OUT(r, 0, e / 10 * 6, 0, 0);
    fx_check(&f);
    fx_close(&f);
}

/* Two holders of 10^9 each, the operator funded with 10^9 (dead shares 10^6): the audit's
 * pool for the held slash. */
static void bunker_pool(fixture *f)
{
    fx_open(f, NULL);
    DEPOSIT(f, FX_USER, 1000000000);
    DEPOSIT(f, FX_USER + 1, 1000000000);
    DO_OK(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 1000000000, 0);
    f->now += 3600;
}

/* 2. A -20% report is held; a holder who exits meanwhile is paid at the rate the held loss
 * implies (900,049,975, not 1,000,000,000) and bears the same fraction as the holder who stays. */
static void attack_held_slash(void)
{
    fixture f;
    const int U0 = FX_USER, U1 = FX_USER + 1;
    bunker_pool(&f);
    REPORT_HELD(&f, 1, epoch_now(&f), 800000000, LEDGER_REPORT_DROP_EXCEEDED);
    ledger_pool p = fx_pool(&f);
    CHECK_U64(p.held_loss, 200000000);
    ledger_result r = DO_OK(&f, U0, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 1000000000, 0);
    CHECK_OUT(r, 1, 1000000000, 0, 0); /* quoted at the booked rate ... */
    r = DO_OK(&f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 1, 0, 0);
    CHECK_OUT(r, 1, 900049975, 1000000000, 0); /* ... paid at (A - held loss) / S */
    CHECK_U64(mul_div(1000000000, p.assets - p.held_loss, p.shares), 900049975);
    ACCEPT_OK(&f, 1, fx_operator(&f, 1).held_epoch, 800000000, 500, 500);
    /* the stayer's 10^9 shares: 900,049,975 too (A 900,950,025 over S 1,001,000,000) */
    ledger_pool q = fx_pool(&f);
    CHECK(q.assets == 900950025 && q.shares == 1001000000);
    CHECK_U64(value_now(&f, fx_account(&f, U1).shares), 900049975);
    /* a held loss larger than A: nothing can be paid until it is resolved */
    DO_OK(&f, U1, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 1000, 0);
    f.now += 3600;
    DO_OK(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, q.buffer, 0);
    REPORT_HELD(&f, 1, epoch_now(&f), 0, LEDGER_REPORT_DROP_EXCEEDED);
    CHECK_U64(fx_pool(&f).held_loss, fx_pool(&f).assets);
    DO_REJECT(&f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 2, 0, 0,
              LEDGER_POOL_EMPTY);
    fx_check(&f);
    fx_close(&f);
}

/* 3. Raise the operator fee 5% -> 30%, let it take effect, report a 7-day reward just after:
 * the whole period is charged the old 5%; only the next period pays 30%. */
static void attack_fee_increase(void)
{
    fixture f;
    econ_open(&f, NULL);
    DO_OK(&f, FX_ADMIN, LEDGER_TX_FEE_SET, FX_NONE, FX_NONE, 1, 3000, 0);
    uint64_t due = fx_operator(&f, 1).fee.pending_at;
    CHECK_U64(due, f.now + 604800);
    f.now = due; /* 7 days: the increase is in force from this second */
    uint64_t reward = max_gain(op_balance(&f, 1), 604800, 1000);
    ledger_fee fee = fx_operator(&f, 1).fee;
    CHECK_U64(ledger_fee_in_force(&fee, f.now), 3000);
    ledger_result r = REPORT_OK(&f, 1, epoch_now(&f), op_balance(&f, 1) + reward, 500, 500);
    /* at 30% the operator's fee shares would have been about 6x as many */
    CHECK(r.out[3] > 0 && r.out[3] <= r.out[2] && r.out[2] - r.out[3] <= 1); /* 500 : 500 */
    CHECK_U64(fx_operator(&f, 1).period_fee_bps, 3000);
    f.now += 604800;
    reward = max_gain(op_balance(&f, 1), 604800, 1000);
    r = REPORT_OK(&f, 1, epoch_now(&f), op_balance(&f, 1) + reward, 500, 3000);
    CHECK(r.out[3] > 5 * r.out[2]);
    fx_close(&f);
}

/* 4. Reward sandwich: pool 10^12, one day's 10% reward (273,972,602), fees 10%. A trader
 * deposits 10^12 just before the report and requests a withdrawal just after. Without
 * smoothing (VEST_S = 0) the trader captures 45% of the reward; with the default one-day
 * vesting at most 1% (here: nothing), and the long-term holder gets the reward as it vests. */
static uint64_t sandwich(fixture *f, int trader)
{
    const uint64_t R = 273972602;
    f->now += 86400;
    uint64_t minted = DEPOSIT(f, trader, BIG);
    REPORT_OK(f, 1, epoch_now(f), op_balance(f, 1) + R, 500, 500);
    ledger_result r = DO_OK(f, trader, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, minted, 0);
    DO_OK(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_EXIT, FX_NONE, FX_NONE, 1, R, 0);
    r = DO_OK(f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, r.out[0], 0, 0);
    return r.out[1] > BIG ? r.out[1] - BIG : 0;
}

static void attack_sandwich(void)
{
    const uint64_t R = 273972602;
    fixture f;
    econ_open(&f, no_vesting);
    uint64_t gained = sandwich(&f, FX_USER + 1), exposed = gained;
    CHECK(gained * 100 > R * 40); /* the attack the audit found: about 45% of the reward */
    fx_close(&f);

    econ_open(&f, NULL);
    uint64_t holder = fx_account(&f, FX_USER).shares, before = value_now(&f, holder);
    gained = sandwich(&f, FX_USER + 1);
    CHECK(gained * 100 <= R);
    CHECK_U64(gained, 0);
    printf("sandwich of one day's reward %" PRIu64 ": gains %" PRIu64 " without smoothing, %" PRIu64
           " with VEST_S 86400\n",
           R, exposed, gained);
    /* half a day later about half of the holders' part has vested, all of it after a day */
    ledger_pool p = fx_pool(&f);
    CHECK(p.unvested > 0 && p.vest_end == p.vest_ts + 86400);
    f.now = p.vest_ts + 43200;
    ledger_pool half = pool_now(&f);
    CHECK_U64(half.assets - p.assets, p.unvested / 2);
    f.now = p.vest_end;
    uint64_t after = value_now(&f, holder);
    /* 90% of R belongs to the holders; U0 holds all but the dead and fee shares */
    CHECK(after > before && (u128)(after - before) * 100 > (u128)R * 89);
    DO_OK(&f, FX_USER, LEDGER_TX_TRANSFER, FX_USER + 2, FX_NONE, 0, 1, 0); /* a batch vests */
    CHECK_U64(fx_pool(&f).unvested, 0);
    fx_check(&f);
    fx_close(&f);

    /* just after a report: a deposit pays (A + U) / S, the price with the vesting reward in
     * it; leaving at once costs the spread; staying until vest_end gives back no more than
     * was paid (the reward belonged to the holders before) */
    econ_open(&f, NULL);
    f.now += 86400;
    REPORT_OK(&f, 1, epoch_now(&f), op_balance(&f, 1) + R, 500, 500);
    p = pool_now(&f);
    CHECK(p.unvested > R / 2);
    uint64_t late = DEPOSIT(&f, FX_USER + 3, BIG);
    CHECK_U64(late, mul_div(BIG, p.shares, p.assets + p.unvested));
    CHECK(value_now(&f, late) < BIG); /* the spread: an exit now forgoes U */
    f.now = fx_pool(&f).vest_end;
    CHECK(value_now(&f, late) <= BIG && BIG - value_now(&f, late) <= 2);
    fx_check(&f);
    fx_close(&f);
}

/* Vesting schedules merge by amount; a loss comes out of A first. */
static void vesting_rules(void)
{
    fixture f;
    econ_open(&f, NULL);
    ledger_pool p = fx_pool(&f);
    uint64_t u = p.unvested, end = p.vest_end;
    CHECK(u > 0 && end == f.now + 86400);
    f.now += 21600; /* a quarter of the schedule */
    uint64_t e = op_balance(&f, 1), g = max_gain(e, 21600, 1000);
    REPORT_OK(&f, 1, epoch_now(&f), e + g, 500, 500); /* report_at checks the merge */
    p = fx_pool(&f);
    CHECK(p.vest_end > end && p.vest_end < f.now + 86400);
    /* a loss larger than A would be booked partly from U: here A covers it */
    f.now += 3600;
    ledger_pool before = pool_now(&f);
    e = op_balance(&f, 1);
    REPORT_OK(&f, 1, epoch_now(&f), e - e / 100, 500, 500);
    p = fx_pool(&f);
    CHECK_U64(p.assets, before.assets - e / 100);
    CHECK_U64(p.unvested, before.unvested);
    /* VEST_S = 0 from now on: later rewards at once, the running schedule continues */
    DO_OK(&f, FX_ADMIN, LEDGER_TX_PARAM_SET, FX_NONE, FX_NONE, LEDGER_PARAM_VEST_S, 0, 0);
    f.now += 3600;
    e = op_balance(&f, 1);
    REPORT_OK(&f, 1, epoch_now(&f), e + max_gain(e, 3600, 1000), 500, 500);
    fx_check(&f);
    fx_close(&f);
}

/* 5. The minimum dead shares bound the inflation of a near-empty pool: after an accepted
 * windfall of 10^9 into 10^6 dead shares, a 10^9 deposit loses less than one share's worth. */
static void attack_inflation(void)
{
    fixture f;
    fx_open(&f, no_vesting);
    DO_OK(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 1000000, 0);
    f.now += 3600;
    REPORT_HELD(&f, 1, epoch_now(&f), 1001000000, LEDGER_REPORT_APR_EXCEEDED);
    ACCEPT_OK(&f, 1, epoch_now(&f), 1001000000, 500, 500);
    ledger_pool p = fx_pool(&f);
    uint64_t share = p.assets / p.shares + 1; /* one share's worth, rounded up */
    uint64_t minted = DEPOSIT(&f, FX_USER, 1000000000);
    uint64_t worth = value_now(&f, minted);
    CHECK(worth < 1000000000 && 1000000000 - worth <= share);
    CHECK((u128)(1000000000 - worth) * 1000000 <= (u128)1000000000 * 1000); /* 1 ppm of it */
    fx_close(&f);
}

static void huge_deposit(fixture *f, int to, uint64_t amount)
{
    ledger_tx tx = fx_tx(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, to, FX_NONE, 0, amount, 0);
    TX_OK(f, &tx);
}

/* Lifetime totals and since-counters beyond 2^64: exact, and the ledger stays consistent. */
static void totals_wide(void)
{
    const uint64_t half = UINT64_C(1) << 63, quarter = UINT64_C(1) << 62;
    const unsigned FU = LEDGER_TX_OPERATOR_FUND, EX = LEDGER_TX_OPERATOR_EXIT;
    const unsigned WR = LEDGER_TX_WITHDRAW_REQUEST, WF = LEDGER_TX_WITHDRAW_FINALIZE;
    fixture f;
    fx_open(&f, no_vesting);
    huge_deposit(&f, FX_USER, half);
    for (int i = 0; i < 2; i++) {
        DO_OK(&f, FX_CUSTODIAN, FU, FX_NONE, FX_NONE, 1, half, 0);
        DO_OK(&f, FX_CUSTODIAN, EX, FX_NONE, FX_NONE, 1, half, 0);
    }
    ledger_operator o = fx_operator(&f, 1);
    CHECK_U128(o.funded_since, (u128)2 * half);
    CHECK_U128(o.exited_since, (u128)2 * half);
    fx_check(&f);
    /* rewards and slashes of a quarter of 2^64 each, five times (accepted by the admin) */
    DO_OK(&f, FX_CUSTODIAN, FU, FX_NONE, FX_NONE, 1, quarter, 0);
    ledger_pool p = fx_pool(&f);
    for (int i = 0; i < 5; i++) {
        f.now += 3600;
        REPORT_HELD(&f, 1, epoch_now(&f), 2 * quarter, LEDGER_REPORT_APR_EXCEEDED);
        ACCEPT_OK(&f, 1, epoch_now(&f), 2 * quarter, 500, 500);
        f.now += 3600;
        REPORT_HELD(&f, 1, epoch_now(&f), quarter, LEDGER_REPORT_DROP_EXCEEDED);
        ACCEPT_OK(&f, 1, epoch_now(&f), quarter, 500, 500);
    }
    ledger_pool q = fx_pool(&f);
    CHECK_U128(q.total_slashed, p.total_slashed + (u128)5 * quarter);
    CHECK_U128(q.total_rewards, p.total_rewards + (u128)5 * quarter);
    CHECK(q.total_slashed > UINT64_MAX);
    /* deposits and payouts of a quarter, five times, never settled: payable passes 2^64 */
    for (int i = 0; i < 5; i++) {
        uint64_t minted = DEPOSIT(&f, FX_USER + 1, quarter);
        ledger_result r = DO_OK(&f, FX_USER + 1, WR, FX_NONE, FX_NONE, 0, minted, 0);
        DO_OK(&f, FX_CUSTODIAN, WF, FX_NONE, FX_NONE, r.out[0], 0, 0);
    }
    p = fx_pool(&f);
    CHECK(p.total_deposited > UINT64_MAX && p.total_paid > UINT64_MAX);
    CHECK(p.payable > UINT64_MAX && p.payable == p.total_paid);
    fx_check(&f);
    fx_close(&f);
}

static void full_fee(ledger_genesis *g)
{
    g->treasury_fee_bps = 9500; /* with the operator's 500: 100% */
    g->params[LEDGER_PARAM_VEST_S] = 0;
}

/* Edges the audit named: an elapsed time beyond 2^32 s; a stake limit of 2^64-1; a recovery
 * into an empty pool at a total fee of 100%. */
static void limits_wide(void)
{
    fixture f;
    fx_open(&f, no_vesting);
    DEPOSIT(&f, FX_USER, BIG);
    DO_OK(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, BIG, 0);
    f.now += UINT64_C(1) << 33; /* about 272 years idle */
    uint64_t g = max_gain(BIG, UINT64_C(1) << 33, 1000);
    REPORT_HELD(&f, 1, epoch_now(&f), BIG + g + 1, LEDGER_REPORT_APR_EXCEEDED);
    REPORT_OK(&f, 1, epoch_now(&f), BIG + g, 500, 500);
    DO_OK(&f, FX_ADMIN, LEDGER_TX_PARAM_SET, FX_NONE, FX_NONE, LEDGER_PARAM_STAKE_LIMIT_MAX,
          UINT64_MAX, 0);
    DEPOSIT(&f, FX_USER, 1000);
    CHECK_U64(fx_pool(&f).stake_limit_current, UINT64_MAX - 1000);
    fx_close(&f);

    fx_open(&f, full_fee);
    DO_OK(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 1000000, 0);
    f.now += 3600;
    REPORT_HELD(&f, 1, epoch_now(&f), 0, LEDGER_REPORT_DROP_EXCEEDED);
    ACCEPT_OK(&f, 1, epoch_now(&f), 0, 9500, 500);
    CHECK_U64(fx_pool(&f).assets, 0);
    f.now += 3600;
    REPORT_HELD(&f, 1, epoch_now(&f), 500000, LEDGER_REPORT_APR_EXCEEDED); /* E = 0 */
    ledger_result r = ACCEPT_OK(&f, 1, epoch_now(&f), 500000, 9500, 500);
    CHECK_OUT(r, 500000, 0, 0, 0); /* no finite fee: the holders keep the recovery */
    CHECK_U64(fx_pool(&f).assets, 500000);
    fx_check(&f);
    fx_close(&f);
}

static void test_economics(void)
{
    attack_epoch();
    attack_held_slash();
    attack_fee_increase();
    attack_sandwich();
    vesting_rules();
    attack_inflation();
    totals_wide();
    limits_wide();
}

/* ---- main --------------------------------------------------------------------------------- */

/* The ledger's rule codes: 10..99 are the service's request errors (rpc/), tested by the rpc
 * tests; 200..299 the oracle committee's, reached by test_oracle. */
static bool rule_code(int code)
{
    return (code > 0 && code < 10) || (code >= 100 && code < 200) || (code >= 300 && code < 900);
}

int main(void)
{
    test_deposit();
    test_transfer();
    test_allowance();
    test_lien();
    test_withdrawal();
    test_operator();
    test_report();
    test_admin();
    test_nonce();
    test_standing();
    test_genesis();
    test_economics();
    fx_codes_reached(code_seen, rule_code);
    return test_finish("test_rules");
}
