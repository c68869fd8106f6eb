/* test_property.c - random operation sequences checked step by step against a reference model */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "test_util.h"

/* The model keeps its own state and its own arithmetic (128- and 192-bit, from the documented
 * formulas of ledger/README.md); it never copies a value out of the ledger. After every step the
 * ledger must agree with it, and the pool invariants are checked on the ledger's own records.
 * Scripted sequences run inside the random walk, each attacker with an invariant on its outcome:
 * a reward sandwich, an exit while a loss is held, a report just after a fee increase; and a
 * wipe-out that leaves the pool at A = 0 for a while. */

__extension__ typedef unsigned __int128 u128;

enum {
    USERS = 9,                  /* FX_USER + 0 .. 8 */
    ATTACKER = FX_USER + USERS, /* a slot only the sandwich script uses: it starts empty */
    OP2 = FX_KEYS - 1,          /* operator 2: its key is also its fee account */
    DEAD = FX_KEYS,             /* model slot of ledger_dead_account */
    SLOTS = FX_KEYS + 1,
    OPS = 3,         /* operators 1 and 2 (index 0 unused) */
    ENT_BITS = 20,   /* fraction bits of the share entitlement */
    RUN_STEPS = 750, /* steps per run; LSTD_ITERATIONS is split into runs */
    CHECK_EVERY = 100,
    CODES = 1000,
    SANDWICH_VEST_S_MIN = 400, /* below this a reward vests too fast for the 1% bound */
};

#define BPS ((uint64_t)LEDGER_BPS)
#define YEAR_S UINT64_C(31536000)
#define TRILLION UINT64_C(1000000000000)
#define PPM UINT64_C(1000000)

static const int holders[] = {FX_USER,     FX_USER + 1, FX_USER + 2, FX_USER + 3,
                              FX_USER + 4, FX_USER + 5, FX_USER + 6, FX_USER + 7,
                              FX_USER + 8, FX_TREASURY, FX_OPFEE,    OP2};
#define HOLDERS ((int)(sizeof holders / sizeof holders[0]))

/* Parameter ranges as documented (ledger/README.md, Parameters), by number. */
static const struct {
    uint64_t lo, hi;
} param_range[LEDGER_PARAM_COUNT] = {
    {0, 0},     {0, UINT64_MAX}, {0, UINT64_MAX}, {0, 1000000}, {0, 10000},
    {0, 10000}, {0, 31536000},   {1, 86400},      {0, 2592000},
};

/* ---- 192-bit arithmetic: the reward fee and the APR limit need more than 128 bits ------------ */

typedef struct u192 {
    uint64_t w[3]; /* little-endian 64-bit limbs */
} u192;

static u192 wide(u128 a)
{
    return (u192){{(uint64_t)a, (uint64_t)(a >> 64), 0}};
}

static u192 wide_mul(u128 a, uint64_t b)
{
    u128 lo = (u128)(uint64_t)a * b;
    u128 hi = (u128)(uint64_t)(a >> 64) * b + (lo >> 64);
    return (u192){{(uint64_t)lo, (uint64_t)hi, (uint64_t)(hi >> 64)}};
}

static int wide_cmp(u192 a, u192 b)
{
    for (int i = 2; i >= 0; i--)
        if (a.w[i] != b.w[i])
            return a.w[i] < b.w[i] ? -1 : 1;
    return 0;
}

/* floor(n / d) for d > 0, one bit at a time. */
static u192 wide_div(u192 n, u128 d)
{
    u192 q = {{0, 0, 0}};
    u128 rem = 0;
    for (int i = 191; i >= 0; i--) {
        bool carry = (rem >> 127) != 0;
        rem = rem << 1 | ((n.w[i / 64] >> (i % 64)) & 1);
        if (carry || rem >= d) {
            rem -= d; /* wraps to the true remainder when carry was set */
            q.w[i / 64] |= UINT64_C(1) << (i % 64);
        }
    }
    return q;
}

/* Returns: true when w fits in 64 bits; *out holds its low limb either way. */
static bool narrow(u192 w, uint64_t *out)
{
    *out = w.w[0];
    return w.w[1] == 0 && w.w[2] == 0;
}

/* floor(a * b / d), saturated to 2^64 - 1. */
static uint64_t mul_div_sat(u128 a, uint64_t b, u128 d)
{
    uint64_t q;
    return narrow(wide_div(wide_mul(a, b), d), &q) ? q : UINT64_MAX;
}

/* ---- the reference model ------------------------------------------------------------------ */

typedef struct m_fee {
    uint64_t bps, pending_bps, pending_at;
} m_fee;

typedef struct m_account {
    uint64_t free, locked, queued, nonce;
    u128 ent; /* upper bound of the exact share entitlement, in units of 2^-ENT_BITS shares */
} m_account;

typedef struct m_report {
    uint64_t epoch, balance, ts, gain, loss, fee_shares;
} m_report;

typedef struct m_operator {
    int key, fee_slot;
    uint64_t active, balance, reported;
    u128 funded, exited, fees_earned;
    uint64_t last_epoch, last_report_ts, report_count, held_epoch, held_balance;
    uint64_t period_fee, period_treasury; /* fees in force when the period began */
    m_fee fee;
    m_report reports[LEDGER_REPORTS_KEPT];
} m_operator;

typedef struct m_lien {
    int owner, ben;
    uint64_t shares, expiry; /* shares 0: released or seized whole (deleted) */
} m_lien;

typedef struct m_request {
    int owner;
    uint64_t shares, quote, min_out, status, paid;
} m_request;

typedef struct model {
    m_account acct[SLOTS];
    uint64_t allowance[FX_KEYS][FX_KEYS];
    uint64_t A, S, U, buffer; /* U: reported reward not yet vested */
    uint64_t vest_ts, vest_end;
    uint64_t vested_at, last_batch; /* test bookkeeping: the model may vest only at batch times */
    u128 payable, deposited, rewards, slashed, paid;
    uint64_t pause, next_lien, next_req, finalized_through, op_count;
    uint64_t stake_current, stake_ts;
    uint64_t epoch_anchor, epoch_anchor_ts;
    uint64_t params[LEDGER_PARAM_COUNT];
    m_fee treasury_fee;
    m_operator ops[OPS];
    m_lien *liens;   /* by id */
    m_request *reqs; /* by id */
    size_t liens_cap, reqs_cap;
} model;

/* ---- scripted attackers ------------------------------------------------------------------- */

enum script { SCRIPT_NONE, SCRIPT_SANDWICH, SCRIPT_BUNKER, SCRIPT_FEE_UP, SCRIPT_WIPE };

/* Deposit X just before a report with a gain, request all of it just after. */
typedef struct sandwich {
    uint64_t op_id, X, shares, T_pre, S_pre; /* T_pre, S_pre: A + U and S before the deposit */
    uint64_t gain, fee_bps, quote, quote_cf, req;
    bool pending; /* the request waits for finalization */
    model cf;     /* the model just before the report: the world without it */
} sandwich;

/* A held negative report; a holder exits while it is held; then the admin accepts it. */
typedef struct bunker {
    uint64_t op_id, epoch, balance, req, shares, paid, paid_count, slack;
    int holder, exits_tried;
    bool exact; /* nothing else moved the loss: the exiter's fraction must equal the stayer's */
} bunker;

/* A fee increase matures; the operator reports at once, then once more a period later. */
typedef struct fee_up {
    uint64_t op_id, which; /* 0: the treasury fee, else the operator's */
    uint64_t before, raised, period_bps;
} fee_up;

typedef struct run {
    fixture f;
    model m;
    test_rng rng;
    uint64_t seed, run_no, step;
    uint64_t prev_A, prev_S; /* ledger pool after the previous step */
    char desc[200];
    bool failed;
    bool slashed;      /* this step applied a report with a loss */
    bool want_accept;  /* a report was just held: usually the admin accepts it next */
    bool want_unpause; /* something is paused: usually lifted soon */
    bool want_drain;   /* the buffer was left at the queue's needs: finalize it all next */
    int script, phase;
    bool unrecorded; /* the last submit's signer held nothing: the ledger records nothing */
    struct {
        uint64_t A, U, vest_ts, vested_at;
    } pre; /* the model's vesting before begin(), restored when nothing is recorded */
    sandwich sw;
    bunker bk;
    fee_up fu;
} run;

typedef struct expect {
    int code;
    uint64_t out[4];
} expect;

static unsigned long code_seen[CODES];

/* Rarer situations the walk should reach; printed so a weakened generator shows. */
static struct {
    unsigned long returned, slashes, accepted, owner_releases, fee_matured, unrecorded;
    unsigned long vested_gains, bunker_finalized, resets, future_epochs, params_set, reanchors;
    unsigned long sw_started, sw_requested, sw_checked, sw_literal, sw_abandoned, sw_pending_end;
    unsigned long bk_started, bk_exits, bk_exact, bk_abandoned;
    unsigned long fu_started, fu_old, fu_distinct, fu_new, fu_reach_back;
    unsigned long wipes, empty_steps;
    uint64_t sw_gain_ppm_max, sw_report_ppm_max, sw_holder_ppm_max, sw_fee_ppm_max;
    uint64_t bk_shortfall_ppm_max;
    u128 bk_escape_prevented;
} seen;
static int genesis_variant;
static uint64_t iterations; /* LSTD_ITERATIONS: printed so a failure can be replayed */

/* ---- failure reporting -------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
fail(run *r, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr,
            "FAIL (replay: LSTD_SEED=%" PRIu64 " LSTD_ITERATIONS=%" PRIu64 ") run %" PRIu64
            " step %" PRIu64 " op [%s]: ",
            r->seed, iterations, r->run_no, r->step, r->desc);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    test_failures++;
    r->failed = true;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
describe(run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->desc, sizeof r->desc, fmt, ap);
    va_end(ap);
}

static void eq(run *r, const char *what, int index, uint64_t got, uint64_t want)
{
    if (got != want)
        fail(r, "%s[%d] = %" PRIu64 ", model %" PRIu64, what, index, got, want);
}

/* ---- small helpers ------------------------------------------------------------------------ */

static uint64_t below(run *r, uint64_t n)
{
    return n == 0 ? 0 : test_rng_below(&r->rng, n);
}

static bool chance(run *r, uint64_t pct)
{
    return test_rng_below(&r->rng, 100) < pct;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int pick_holder(run *r)
{
    uint64_t x = below(r, 100);
    if (x < 88)
        return FX_USER + (int)below(r, USERS);
    return x < 92 ? FX_TREASURY : x < 96 ? FX_OPFEE : OP2;
}

/* A share count relative to what is available: sometimes zero, too many, all or tiny. */
static uint64_t pick_part(run *r, uint64_t have)
{
    uint64_t x = below(r, 100);
    if (x < 4)
        return 0;
    if (x < 12)
        return sat_add(have, 1 + (chance(r, 50) ? 0 : below(r, 1000)));
    if (x < 22 && have > 0)
        return have;
    if (have == 0)
        return 1 + below(r, 100);
    if (x < 35)
        return 1 + below(r, have < 10 ? have : 10);
    return 1 + below(r, have);
}

static uint64_t pick_op_id(run *r)
{
    uint64_t x = below(r, 100);
    return x < 47 ? 1 : x < 94 ? 2 : x < 98 ? 3 : 0;
}

static u128 ceil_div(u128 a, u128 b)
{
    return a / b + (a % b != 0);
}

static u128 ent_of(uint64_t shares)
{
    return (u128)shares << ENT_BITS;
}

/* ceil(amount * S / A * 2^ENT_BITS): a deposit's exact entitlement, rounded up. */
static u128 ent_deposit(uint64_t amount, uint64_t S, uint64_t A)
{
    u128 p = (u128)amount * S;
    return (p / A << ENT_BITS) + ceil_div((p % A) << ENT_BITS, A);
}

static m_operator *m_op(model *m, uint64_t id)
{
    return id >= 1 && id <= m->op_count ? &m->ops[id] : NULL;
}

/* Value of shares at the pool rate: floor(shares * A / S), 0 when A = 0 (S > 0 always: the
 * dead shares never move). */
static uint64_t m_value(const model *m, uint64_t shares)
{
    u128 v = (u128)shares * m->A / m->S;
    return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

static uint64_t fee_now(const m_fee *f, uint64_t now)
{
    return f->pending_at != 0 && now >= f->pending_at ? f->pending_bps : f->bps;
}

static uint64_t fee_ceiling(const m_fee *f)
{
    return f->pending_bps > f->bps ? f->pending_bps : f->bps;
}

static uint64_t max_operator_fee(const model *m)
{
    uint64_t max = 0;
    for (uint64_t i = 1; i <= m->op_count; i++)
        max = fee_ceiling(&m->ops[i].fee) > max ? fee_ceiling(&m->ops[i].fee) : max;
    return max;
}

/* The epoch running at `now`: anchor + floor((now - anchor_ts) / EPOCH_S). */
static uint64_t m_epoch_now(const model *m, uint64_t now)
{
    return m->epoch_anchor + (now - m->epoch_anchor_ts) / m->params[LEDGER_PARAM_EPOCH_S];
}

/* An operator's held loss: its balance E minus the held balance, 0 without a held loss. */
static uint64_t op_held_loss(uint64_t held_epoch, uint64_t held_balance, uint64_t balance)
{
    return held_epoch != 0 && held_balance < balance ? balance - held_balance : 0;
}

static uint64_t m_held_loss(const model *m)
{
    uint64_t sum = 0;
    for (uint64_t i = 1; i <= m->op_count; i++)
        sum += op_held_loss(m->ops[i].held_epoch, m->ops[i].held_balance, m->ops[i].balance);
    return sum;
}

/* A_f: the assets finalization pays from, A less the held losses (bunker mode). */
static uint64_t m_assets_final(const model *m)
{
    uint64_t held = m_held_loss(m);
    return m->A - min64(m->A, held);
}

static void m_credit(model *m, int slot, uint64_t shares)
{
    m->acct[slot].free += shares;
    m->acct[slot].ent += ent_of(shares);
}

static void m_move_free(model *m, int from, int to, uint64_t shares)
{
    if (from == to)
        return;
    m->acct[from].free -= shares;
    m->acct[from].ent -= ent_of(shares);
    m_credit(m, to, shares);
}

static void m_grow(run *r)
{
    model *m = &r->m;
    if (m->next_lien + 1 >= m->liens_cap) {
        m->liens_cap = m->liens_cap * 2 + 64;
        m->liens = realloc(m->liens, m->liens_cap * sizeof *m->liens);
    }
    if (m->next_req + 1 >= m->reqs_cap) {
        m->reqs_cap = m->reqs_cap * 2 + 64;
        m->reqs = realloc(m->reqs, m->reqs_cap * sizeof *m->reqs);
    }
    if (m->liens == NULL || m->reqs == NULL)
        abort();
}

/* Vest U up to `now`: floor(U * (now - vest_ts) / (vest_end - vest_ts)), all of it at vest_end. */
static void m_vest(model *m, uint64_t now)
{
    if (m->U > 0 && now > m->vest_ts) {
        uint64_t v = now >= m->vest_end
                         ? m->U
                         : (uint64_t)((u128)m->U * (now - m->vest_ts) / (m->vest_end - m->vest_ts));
        m->A += v;
        m->U -= v;
        m->vest_ts = now;
    }
    m->vested_at = now;
}

/* Every batch first vests to its time. Called before predicting a transaction, and only when one
 * is submitted at this time: vesting at a time no batch uses would round differently. */
static model *begin(run *r);

/* ---- submitting and comparing results ----------------------------------------------------- */

static ledger_result submit(run *r, int signer, unsigned kind, int account, int account2,
                            uint64_t id, uint64_t amount, uint64_t limit);

/* Compare the ledger's result with the prediction. Returns: true when the model must now apply
 * the operation (both said OK). */
static bool check_result(run *r, const ledger_result *res, const expect *e)
{
    if (r->unrecorded) {
        if (res->code != LEDGER_SIGNER_HOLDS_NOTHING || res->seq != 0)
            fail(r, "result %s (seq %" PRIu64 ") from a signer holding nothing",
                 ledger_err_name(res->code), res->seq);
        return false;
    }
    if (res->code != e->code) {
        fail(r, "result %s, model predicts %s", ledger_err_name(res->code),
             ledger_err_name(e->code));
        return false;
    }
    if (res->duplicate || res->seq == 0 || res->timestamp != r->f.now)
        fail(r, "result not recorded as a new transaction at the batch time");
    for (int i = 0; i < 4; i++)
        eq(r, "out", i, res->out[i], e->out[i]);
    return !r->failed && e->code == LEDGER_OK;
}

static model *begin(run *r)
{
    model *m = &r->m;
    if (m->vested_at != r->f.now && m->vested_at != m->last_batch)
        fail(r, "test bug: the model vested at %" PRIu64 ", a time no batch used", m->vested_at);
    if (m->vested_at == m->last_batch) /* as the ledger stored it */
        r->pre.A = m->A, r->pre.U = m->U, r->pre.vest_ts = m->vest_ts,
        r->pre.vested_at = m->vested_at;
    m_vest(m, r->f.now);
    return m;
}

/* Whether the ledger records a transaction of this signer (ledger/README.md, "Standing"): it
 * holds shares free, pledged or queued, a role or an operator's key, or is the spender of
 * this allowance (transfer_from) or the beneficiary of some lien (release, seize). */
static bool m_standing(const model *m, int signer, unsigned kind, int account)
{
    const m_account *a = &m->acct[signer];
    if (a->free != 0 || a->locked != 0 || a->queued != 0 || signer == FX_ADMIN ||
        signer == FX_CUSTODIAN || signer == FX_TREASURY)
        return true;
    for (uint64_t id = 1; id <= m->op_count; id++)
        if (m->ops[id].key == signer)
            return true;
    if (kind == LEDGER_TX_TRANSFER_FROM)
        return account >= 0 && account < FX_KEYS && m->allowance[account][signer] != 0;
    if (kind == LEDGER_TX_RELEASE || kind == LEDGER_TX_SEIZE)
        for (uint64_t id = 1; id < m->next_lien; id++)
            if (m->liens[id].shares > 0 && m->liens[id].ben == signer)
                return true;
    return false;
}

static ledger_result submit(run *r, int signer, unsigned kind, int account, int account2,
                            uint64_t id, uint64_t amount, uint64_t limit)
{
    if (r->m.vested_at != r->f.now)
        fail(r, "test bug: transaction predicted on a model not vested to the batch time");
    ledger_tx tx = fx_tx(&r->f, signer, kind, account, account2, id, amount, limit);
    r->unrecorded = !m_standing(&r->m, signer, kind, account);
    ledger_result res = fx_submit(&r->f, &tx);
    if (r->unrecorded) { /* nothing stored, not even the vesting */
        model *m = &r->m;
        m->A = r->pre.A, m->U = r->pre.U, m->vest_ts = r->pre.vest_ts;
        m->vested_at = r->pre.vested_at;
        seen.unrecorded++;
    } else {
        r->m.acct[signer].nonce++; /* every other code the test provokes is recorded */
        r->m.last_batch = r->f.now;
    }
    if (res.code >= 0 && res.code < CODES)
        code_seen[res.code]++;
    return res;
}

/* ---- operations: each predicts the code and outputs, submits, compares, then applies -------- */

typedef struct stake {
    bool limited;   /* STAKE_LIMIT_MAX > 0: a limit, whatever its value (2^64 - 1 included) */
    uint64_t avail; /* min(max, current + elapsed * refill) */
} stake;

static stake m_stake(const model *m, uint64_t now)
{
    uint64_t max = m->params[LEDGER_PARAM_STAKE_LIMIT_MAX];
    uint64_t elapsed = now > m->stake_ts ? now - m->stake_ts : 0;
    u128 avail =
        (u128)m->stake_current + (u128)elapsed * m->params[LEDGER_PARAM_STAKE_LIMIT_REFILL];
    return (stake){max != 0, avail < max ? (uint64_t)avail : max};
}

static uint64_t pick_deposit_amount(run *r)
{
    uint64_t x = below(r, 100);
    if (x < 3)
        return 0;
    if (genesis_variant == 3) /* small numbers: rounding matters everywhere */
        return x < 40 ? 1 + below(r, 10) : 1 + below(r, 1000);
    if (x < 15)
        return 1 + below(r, 10);
    if (x < 25)
        return 1 + below(r, 1000000);
    return 1 + below(r, TRILLION);
}

/* Returns: the shares minted (0 on a rejection). */
static uint64_t exec_deposit(run *r, int signer, int to, uint64_t amount, uint64_t min_out)
{
    model *m = begin(r);
    stake st = m_stake(m, r->f.now);
    u128 total = (u128)m->A + m->U; /* a deposit pays (A + U) / S */
    u128 minted = total > 0 ? (u128)amount * m->S / total : 0;
    expect e = {0};
    if (signer != FX_CUSTODIAN)
        e.code = LEDGER_NOT_CUSTODIAN;
    else if (m->pause & LEDGER_PAUSE_DEPOSITS)
        e.code = LEDGER_DEPOSITS_PAUSED;
    else if (amount == 0)
        e.code = LEDGER_AMOUNT_ZERO;
    else if (st.limited && amount > st.avail)
        e.code = LEDGER_STAKE_LIMIT_EXCEEDED;
    else if (total == 0)
        e.code = LEDGER_POOL_EMPTY;
    else if (minted == 0)
        e.code = LEDGER_DEPOSIT_TOO_SMALL;
    else if (minted < min_out)
        e.code = LEDGER_SHARES_OUT_TOO_LOW;
    else if ((u128)m->A + m->U + amount > UINT64_MAX || m->S + minted > UINT64_MAX)
        e.code = LEDGER_OVERFLOW;
    else
        e.out[0] = (uint64_t)minted, e.out[1] = amount;
    describe(r, "deposit by %d to %d amount %" PRIu64 " min_shares_out %" PRIu64, signer, to,
             amount, min_out);
    ledger_result res = submit(r, signer, LEDGER_TX_DEPOSIT, to, FX_NONE, 0, amount, min_out);
    if (!check_result(r, &res, &e))
        return 0;
    /* no rounding leak: minted * (A + U) <= amount * S, and the new shares are worth <= amount */
    uint64_t shares = (uint64_t)minted, A2 = m->A + amount, S2 = m->S + shares;
    if ((u128)shares * total > (u128)amount * m->S)
        fail(r, "minted %" PRIu64 " shares is more than amount * S / (A + U)", shares);
    if ((u128)shares * A2 / S2 > amount)
        fail(r, "minted shares are worth more than the deposit %" PRIu64, amount);
    m->acct[to].free += shares;
    m->acct[to].ent += ent_deposit(amount, m->S, (uint64_t)total);
    m->A = A2;
    m->S = S2;
    m->buffer += amount;
    m->deposited += amount;
    if (st.limited) {
        m->stake_current = st.avail - amount;
        m->stake_ts = r->f.now;
    }
    return shares;
}

static void do_deposit(run *r)
{
    model *m = begin(r);
    int signer = chance(r, 3) ? pick_holder(r) : FX_CUSTODIAN;
    int to = FX_USER + (int)below(r, USERS);
    stake st = m_stake(m, r->f.now);
    uint64_t amount = pick_deposit_amount(r), min_out = 0, x = below(r, 100);
    if (st.limited && chance(r, 10))
        amount = st.avail + below(r, 2); /* the stake limit exactly, or one over */
    else if (r->step > RUN_STEPS * 4 / 5 && chance(r, 2))
        amount = UINT64_MAX - (m->A + m->U) + below(r, 2); /* A + U at 2^64 - 1, or over */
    u128 total = (u128)m->A + m->U;
    u128 minted = total > 0 ? (u128)amount * m->S / total : 0;
    if (minted > 0 && minted < UINT64_MAX && x < 10)
        min_out = (uint64_t)minted;
    else if (minted > 0 && minted < UINT64_MAX && x < 15)
        min_out = (uint64_t)minted + 1;
    exec_deposit(r, signer, to, amount, min_out);
}

static void do_transfer(run *r)
{
    model *m = begin(r);
    int from = pick_holder(r), to = pick_holder(r);
    uint64_t amount = pick_part(r, m->acct[from].free);
    expect e = {0};
    if (m->pause & LEDGER_PAUSE_TRANSFERS)
        e.code = LEDGER_TRANSFERS_PAUSED;
    else if (amount == 0)
        e.code = LEDGER_AMOUNT_ZERO;
    else if (m->acct[from].free < amount)
        e.code = LEDGER_INSUFFICIENT_SHARES;
    else
        e.out[0] = amount;
    describe(r, "transfer %d -> %d shares %" PRIu64, from, to, amount);
    ledger_result res = submit(r, from, LEDGER_TX_TRANSFER, to, FX_NONE, 0, amount, 0);
    if (check_result(r, &res, &e))
        m_move_free(m, from, to, amount);
}

static void do_approve(run *r)
{
    model *m = begin(r);
    int owner = pick_holder(r), spender = chance(r, 5) ? owner : pick_holder(r);
    uint64_t amount = chance(r, 20) ? 0 : 1 + below(r, 2 * m->acct[owner].free + 100);
    expect e = {0};
    if (owner == spender)
        e.code = LEDGER_SELF_APPROVAL;
    else
        e.out[0] = amount;
    describe(r, "approve %d lets %d spend %" PRIu64, owner, spender, amount);
    ledger_result res = submit(r, owner, LEDGER_TX_APPROVE, spender, FX_NONE, 0, amount, 0);
    if (check_result(r, &res, &e))
        m->allowance[owner][spender] = amount;
}

static int pick_approver(run *r, int spender)
{
    int n = 0, pick = -1;
    for (int i = 0; i < HOLDERS; i++)
        if (r->m.allowance[holders[i]][spender] > 0 && below(r, (uint64_t)++n) == 0)
            pick = holders[i];
    return pick >= 0 && chance(r, 80) ? pick : pick_holder(r);
}

static void do_transfer_from(run *r)
{
    model *m = begin(r);
    int spender = pick_holder(r), owner = pick_approver(r, spender), to = pick_holder(r);
    uint64_t allow = m->allowance[owner][spender], free = m->acct[owner].free;
    uint64_t have = allow < free ? allow : free, x = below(r, 100), amount;
    expect e = {0};
    if (x < 4)
        amount = 0;
    else if (x < 12)
        amount = sat_add(allow, 1 + (chance(r, 50) ? 0 : below(r, 100)));
    else if (x < 20)
        amount = sat_add(free, 1 + (chance(r, 50) ? 0 : below(r, 100)));
    else if (x < 30 && have > 0)
        amount = have;
    else
        amount = 1 + below(r, have > 0 ? have : 100);
    if (m->pause & LEDGER_PAUSE_TRANSFERS)
        e.code = LEDGER_TRANSFERS_PAUSED;
    else if (amount == 0)
        e.code = LEDGER_AMOUNT_ZERO;
    else if (allow < amount)
        e.code = LEDGER_ALLOWANCE_EXCEEDED;
    else if (free < amount)
        e.code = LEDGER_INSUFFICIENT_SHARES;
    else
        e.out[0] = amount, e.out[1] = allow - amount;
    describe(r, "transfer_from by %d: %d -> %d shares %" PRIu64 " (allowance %" PRIu64 ")", spender,
             owner, to, amount, allow);
    ledger_result res = submit(r, spender, LEDGER_TX_TRANSFER_FROM, owner, to, 0, amount, 0);
    if (!check_result(r, &res, &e))
        return;
    m->allowance[owner][spender] -= amount;
    m_move_free(m, owner, to, amount);
}

static void do_lock(run *r)
{
    model *m = begin(r);
    int owner = pick_holder(r), ben = chance(r, 5) ? owner : pick_holder(r);
    uint64_t amount = pick_part(r, m->acct[owner].free), now = r->f.now, x = below(r, 100);
    uint64_t expiry = x < 40   ? 0
                      : x < 45 ? now - (chance(r, 50) ? 0 : below(r, 1000))
                               : now + 1 + below(r, 200000);
    expect e = {0};
    if (m->pause & LEDGER_PAUSE_TRANSFERS)
        e.code = LEDGER_TRANSFERS_PAUSED;
    else if (amount == 0)
        e.code = LEDGER_AMOUNT_ZERO;
    else if (owner == ben)
        e.code = LEDGER_LIEN_SELF;
    else if (expiry != 0 && expiry <= now)
        e.code = LEDGER_EXPIRY_IN_PAST;
    else if (m->acct[owner].free < amount)
        e.code = LEDGER_INSUFFICIENT_SHARES;
    else /* with A = 0 the lien is worth 0 */
        e.out[0] = m->next_lien, e.out[1] = amount, e.out[2] = m_value(m, amount);
    describe(r, "lock by %d for %d shares %" PRIu64 " expiry %" PRIu64 " (now %" PRIu64 ")", owner,
             ben, amount, expiry, now);
    ledger_result res = submit(r, owner, LEDGER_TX_LOCK, ben, FX_NONE, 0, amount, expiry);
    if (!check_result(r, &res, &e))
        return;
    m_grow(r);
    m->liens[m->next_lien++] = (m_lien){owner, ben, amount, expiry};
    m->acct[owner].free -= amount;
    m->acct[owner].locked += amount;
}

static bool lien_expired(const m_lien *l, uint64_t now)
{
    return l->expiry != 0 && now >= l->expiry;
}

/* A live lien, expired or not as asked (0 when there is none). */
static uint64_t pick_lien(run *r, bool expired)
{
    uint64_t n = 0, pick = 0;
    for (uint64_t id = 1; id < r->m.next_lien; id++) {
        const m_lien *l = &r->m.liens[id];
        if (l->shares > 0 && lien_expired(l, r->f.now) == expired && below(r, ++n) == 0)
            pick = id;
    }
    return pick;
}

static m_lien *live_lien(model *m, uint64_t id)
{
    return id >= 1 && id < m->next_lien && m->liens[id].shares > 0 ? &m->liens[id] : NULL;
}

static int lien_signer(run *r, const m_lien *l, uint64_t pct_ben, uint64_t pct_owner)
{
    uint64_t x = below(r, 100);
    if (l == NULL || x >= pct_ben + pct_owner)
        return pick_holder(r);
    return x < pct_ben ? l->ben : l->owner;
}

static void do_release(run *r)
{
    model *m = begin(r);
    uint64_t x = below(r, 100), id = x < 45 ? pick_lien(r, false) : pick_lien(r, true);
    if (id == 0 || x >= 85)
        id = below(r, m->next_lien + 2);
    m_lien *l = live_lien(m, id);
    int signer = lien_signer(r, l, 55, 35);
    uint64_t amount = l != NULL ? pick_part(r, l->shares) : 1 + below(r, 100);
    expect e = {0};
    if (l == NULL)
        e.code = LEDGER_LIEN_NOT_FOUND;
    else if (signer != l->ben && signer != l->owner)
        e.code = LEDGER_LIEN_NOT_BENEFICIARY;
    else if (signer != l->ben && !lien_expired(l, r->f.now))
        e.code = LEDGER_LIEN_NOT_EXPIRED;
    else if (amount == 0)
        e.code = LEDGER_AMOUNT_ZERO;
    else if (amount > l->shares)
        e.code = LEDGER_LIEN_SHARES_EXCEEDED;
    else
        e.out[0] = amount, e.out[1] = l->shares - amount;
    describe(r, "release lien %" PRIu64 " by %d shares %" PRIu64, id, signer, amount);
    ledger_result res = submit(r, signer, LEDGER_TX_RELEASE, FX_NONE, FX_NONE, id, amount, 0);
    if (!check_result(r, &res, &e))
        return;
    m->acct[l->owner].free += amount;
    m->acct[l->owner].locked -= amount;
    l->shares -= amount;
    seen.owner_releases += signer == l->owner;
}

static void do_seize(run *r)
{
    model *m = begin(r);
    uint64_t x = below(r, 100), id = x < 85 ? pick_lien(r, false) : pick_lien(r, true);
    if (id == 0 || x >= 93)
        id = below(r, m->next_lien + 2);
    m_lien *l = live_lien(m, id);
    int signer = lien_signer(r, l, 80, 10), to = pick_holder(r);
    uint64_t amount = l != NULL ? pick_part(r, l->shares) : 1 + below(r, 100);
    expect e = {0};
    if (m->pause & LEDGER_PAUSE_TRANSFERS)
        e.code = LEDGER_TRANSFERS_PAUSED;
    else if (l == NULL)
        e.code = LEDGER_LIEN_NOT_FOUND;
    else if (signer != l->ben)
        e.code = LEDGER_LIEN_NOT_BENEFICIARY;
    else if (lien_expired(l, r->f.now))
        e.code = LEDGER_LIEN_EXPIRED;
    else if (amount == 0)
        e.code = LEDGER_AMOUNT_ZERO;
    else if (amount > l->shares)
        e.code = LEDGER_LIEN_SHARES_EXCEEDED;
    else /* value 0 when A = 0 */
        e.out[0] = amount, e.out[1] = m_value(m, amount), e.out[2] = l->shares - amount;
    describe(r, "seize lien %" PRIu64 " by %d to %d shares %" PRIu64, id, signer, to, amount);
    ledger_result res = submit(r, signer, LEDGER_TX_SEIZE, to, FX_NONE, id, amount, 0);
    if (!check_result(r, &res, &e))
        return;
    m->acct[l->owner].locked -= amount;
    m->acct[l->owner].ent -= ent_of(amount);
    m_credit(m, to, amount);
    l->shares -= amount;
}

/* Returns: the request id (0 on a rejection). */
static uint64_t exec_request(run *r, int signer, uint64_t shares, uint64_t min_out)
{
    model *m = begin(r);
    uint64_t quote = m_value(m, shares);
    expect e = {0};
    if (m->pause & LEDGER_PAUSE_WITHDRAWALS)
        e.code = LEDGER_WITHDRAWALS_PAUSED;
    else if (shares == 0)
        e.code = LEDGER_AMOUNT_ZERO;
    else if (m->acct[signer].free < shares)
        e.code = LEDGER_INSUFFICIENT_SHARES;
    else if (quote == 0) /* also whenever A = 0 */
        e.code = LEDGER_WITHDRAWAL_TOO_SMALL;
    else if (quote < min_out)
        e.code = LEDGER_MIN_AMOUNT_OUT_NOT_MET;
    else
        e.out[0] = m->next_req, e.out[1] = quote;
    describe(r, "withdraw_request by %d shares %" PRIu64 " min_amount_out %" PRIu64, signer, shares,
             min_out);
    ledger_result res =
        submit(r, signer, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, shares, min_out);
    if (!check_result(r, &res, &e))
        return 0;
    m_grow(r);
    m->reqs[m->next_req] = (m_request){signer, shares, quote, min_out, LEDGER_WD_PENDING, 0};
    m->acct[signer].free -= shares;
    m->acct[signer].queued += shares;
    return m->next_req++;
}

static void do_withdraw_request(run *r)
{
    model *m = begin(r);
    int signer = pick_holder(r);
    uint64_t shares = pick_part(r, m->acct[signer].free), x = below(r, 100);
    uint64_t quote = m_value(m, shares);
    uint64_t min_out = x < 60   ? 0
                       : x < 80 ? quote
                       : x < 90 ? sat_add(quote, 1 + (chance(r, 50) ? 0 : below(r, 1000)))
                                : below(r, quote);
    exec_request(r, signer, shares, min_out);
}

static uint64_t pick_request(run *r, uint64_t status)
{
    uint64_t n = 0, pick = 0;
    for (uint64_t id = 1; id < r->m.next_req; id++)
        if (r->m.reqs[id].status == status && below(r, ++n) == 0)
            pick = id;
    return pick;
}

static m_request *m_req(model *m, uint64_t id)
{
    return id >= 1 && id < m->next_req ? &m->reqs[id] : NULL;
}

static void do_withdraw_cancel(run *r)
{
    model *m = begin(r);
    uint64_t id = chance(r, 75) ? pick_request(r, LEDGER_WD_PENDING) : 0;
    if (id == 0)
        id = below(r, m->next_req + 2);
    m_request *w = m_req(m, id);
    /* the sandwich attacker never cancels: its request must reach finalization */
    int signer = w != NULL && w->owner != ATTACKER && chance(r, 85) ? w->owner : pick_holder(r);
    expect e = {0};
    if (w == NULL)
        e.code = LEDGER_WITHDRAWAL_NOT_FOUND;
    else if (w->owner != signer)
        e.code = LEDGER_WITHDRAWAL_NOT_OWNER;
    else if (w->status != LEDGER_WD_PENDING)
        e.code = LEDGER_WITHDRAWAL_NOT_PENDING;
    else
        e.out[0] = w->shares;
    describe(r, "withdraw_cancel %" PRIu64 " by %d", id, signer);
    ledger_result res = submit(r, signer, LEDGER_TX_WITHDRAW_CANCEL, FX_NONE, FX_NONE, id, 0, 0);
    if (!check_result(r, &res, &e))
        return;
    m->acct[signer].queued -= w->shares;
    m->acct[signer].free += w->shares;
    w->status = LEDGER_WD_CANCELLED;
}

/* Payout of a pending request at the snapshot A_f / S: min(quote, floor(s * A_f / S)). */
static uint64_t m_payout(const model *m, const m_request *w, uint64_t assets_final)
{
    uint64_t v = (uint64_t)((u128)w->shares * assets_final / m->S);
    return v < w->quote ? v : w->quote;
}

/* Predict a finalize up to `up`; out as the ledger's. */
static int m_finalize_predict(const model *m, uint64_t up, uint64_t out[4])
{
    uint64_t af = m_assets_final(m);
    memset(out, 0, 4 * sizeof out[0]);
    if (m->pause & LEDGER_PAUSE_WITHDRAWALS)
        return LEDGER_WITHDRAWALS_PAUSED;
    if (up <= m->finalized_through)
        return LEDGER_FINALIZE_NOTHING;
    if (up >= m->next_req)
        return LEDGER_FINALIZE_BEYOND_QUEUE;
    if (up - m->finalized_through > LEDGER_FINALIZE_MAX)
        return LEDGER_FINALIZE_TOO_MANY;
    if (af == 0)
        return LEDGER_POOL_EMPTY;
    for (uint64_t id = m->finalized_through + 1; id <= up; id++) {
        const m_request *w = &m->reqs[id];
        if (w->status != LEDGER_WD_PENDING)
            continue;
        uint64_t pay = m_payout(m, w, af);
        if (pay < w->min_out) {
            out[3]++;
        } else {
            out[0]++;
            out[1] += pay;
            out[2] += w->shares;
        }
    }
    return out[1] > m->buffer ? LEDGER_INSUFFICIENT_BUFFER : LEDGER_OK;
}

static void sandwich_finalized(run *r, uint64_t pay);

static void m_finalize_apply(run *r, uint64_t up, const uint64_t out[4])
{
    model *m = &r->m;
    uint64_t af = m_assets_final(m);
    if (af < m->A && out[0] > 0)
        seen.bunker_finalized++;
    for (uint64_t id = m->finalized_through + 1; id <= up; id++) {
        m_request *w = &m->reqs[id];
        m_account *a = &m->acct[w->owner];
        if (w->status != LEDGER_WD_PENDING)
            continue;
        uint64_t pay = m_payout(m, w, af);
        if ((u128)pay * m->S > (u128)w->shares * m->A)
            fail(r, "model payout above the pro-rata value");
        a->queued -= w->shares;
        if (pay < w->min_out) {
            a->free += w->shares;
            w->status = LEDGER_WD_RETURNED;
            seen.returned++;
            continue;
        }
        a->ent -= ent_of(w->shares);
        w->status = LEDGER_WD_FINALIZED;
        w->paid = pay;
        if (r->sw.pending && id == r->sw.req)
            sandwich_finalized(r, pay);
    }
    m->A -= out[1];
    m->buffer -= out[1];
    m->S -= out[2];
    m->payable += out[1];
    m->paid += out[1];
    m->finalized_through = up;
}

static int exec_finalize(run *r, int signer, uint64_t up)
{
    model *m = begin(r);
    expect e = {0};
    if (signer != FX_CUSTODIAN)
        e.code = LEDGER_NOT_CUSTODIAN;
    else
        e.code = m_finalize_predict(m, up, e.out);
    if (e.code != LEDGER_OK)
        memset(e.out, 0, sizeof e.out);
    describe(r,
             "withdraw_finalize by %d up to %" PRIu64 " (finalized through %" PRIu64
             ", next %" PRIu64 ", held loss %" PRIu64 ")",
             signer, up, m->finalized_through, m->next_req, m_held_loss(m));
    ledger_result res = submit(r, signer, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, up, 0, 0);
    if (check_result(r, &res, &e))
        m_finalize_apply(r, up, e.out);
    return res.code;
}

static void do_withdraw_finalize(run *r)
{
    model *m = begin(r);
    int signer = chance(r, 3) ? pick_holder(r) : FX_CUSTODIAN;
    uint64_t last = m->next_req - 1, ft = m->finalized_through, x = below(r, 100), up;
    if (last > ft && (x < 85 || r->want_drain))
        up = chance(r, 30) || r->want_drain ? last : ft + 1 + below(r, last - ft);
    else if (x < 93)
        up = ft;
    else
        up = m->next_req + below(r, 3);
    exec_finalize(r, signer, up);
}

static void do_withdraw_settle(run *r)
{
    model *m = begin(r);
    uint64_t id = chance(r, 65) ? pick_request(r, LEDGER_WD_FINALIZED) : 0;
    if (id == 0)
        id = below(r, m->next_req + 2);
    m_request *w = m_req(m, id);
    int signer = chance(r, 3) ? pick_holder(r) : FX_CUSTODIAN;
    expect e = {0};
    if (signer != FX_CUSTODIAN)
        e.code = LEDGER_NOT_CUSTODIAN;
    else if (w == NULL)
        e.code = LEDGER_WITHDRAWAL_NOT_FOUND;
    else if (w->status == LEDGER_WD_SETTLED)
        e.code = LEDGER_WITHDRAWAL_ALREADY_SETTLED;
    else if (w->status != LEDGER_WD_FINALIZED)
        e.code = LEDGER_WITHDRAWAL_NOT_FINALIZED;
    else
        e.out[0] = w->paid;
    describe(r, "withdraw_settle %" PRIu64 " by %d", id, signer);
    ledger_result res = submit(r, signer, LEDGER_TX_WITHDRAW_SETTLE, FX_NONE, FX_NONE, id, 0, 0);
    if (!check_result(r, &res, &e))
        return;
    w->status = LEDGER_WD_SETTLED;
    m->payable -= w->paid;
}

static uint64_t pick_stake_move(run *r, uint64_t have)
{
    uint64_t x = below(r, 100);
    if (x < 4)
        return 0;
    if (x < 12)
        return sat_add(have, 1 + (chance(r, 50) ? 0 : below(r, 1000)));
    if (x < 20 && have > 0)
        return have;
    return 1 + below(r, have > 0 ? have : 1);
}

static int exec_fund(run *r, int signer, uint64_t id, uint64_t amount)
{
    model *m = begin(r);
    uint64_t cap = m->params[LEDGER_PARAM_OPERATOR_CAP_BPS];
    m_operator *o = m_op(m, id);
    expect e = {0};
    if (signer != FX_CUSTODIAN)
        e.code = LEDGER_NOT_CUSTODIAN;
    else if (o == NULL)
        e.code = LEDGER_OPERATOR_NOT_FOUND;
    else if (!o->active)
        e.code = LEDGER_OPERATOR_INACTIVE;
    else if (amount == 0)
        e.code = LEDGER_AMOUNT_ZERO;
    else if (amount > m->buffer)
        e.code = LEDGER_INSUFFICIENT_BUFFER;
    else if (cap != 0 && ((u128)o->balance + amount) * BPS > (u128)cap * ((u128)m->A + m->U))
        e.code = LEDGER_OPERATOR_CAP_EXCEEDED;
    else
        e.out[0] = amount, e.out[1] = o->balance + amount;
    describe(r, "operator_fund %" PRIu64 " by %d amount %" PRIu64, id, signer, amount);
    ledger_result res = submit(r, signer, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, id, amount, 0);
    if (!check_result(r, &res, &e))
        return res.code;
    o->balance += amount;
    o->funded += amount;
    m->buffer -= amount;
    return LEDGER_OK;
}

static void do_operator_fund(run *r)
{
    model *m = begin(r);
    int signer = chance(r, 3) ? pick_holder(r) : FX_CUSTODIAN;
    uint64_t id = pick_op_id(r), amount = pick_stake_move(r, m->buffer);
    uint64_t cap = m->params[LEDGER_PARAM_OPERATOR_CAP_BPS], due[4];
    m_operator *o = m_op(m, id);
    uint64_t cap_room = cap != 0 && o != NULL ? mul_div_sat((u128)m->A + m->U, cap, BPS) : 0;
    if (cap_room > (o != NULL ? o->balance : 0) && chance(r, 15))
        amount = cap_room - o->balance + below(r, 2); /* the cap exactly, or one over */
    else if (m->next_req - 1 > m->finalized_through && chance(r, 10) &&
             m_finalize_predict(m, m->next_req - 1, due) != LEDGER_WITHDRAWALS_PAUSED &&
             due[1] < m->buffer)
        amount = m->buffer - due[1] + below(r, 2), /* leave exactly what the queue needs, -1 */
            r->want_drain = true;
    exec_fund(r, signer, id, amount);
}

static int exec_exit(run *r, int signer, uint64_t id, uint64_t amount)
{
    model *m = begin(r);
    m_operator *o = m_op(m, id);
    expect e = {0};
    if (o == NULL)
        e.code = LEDGER_OPERATOR_NOT_FOUND;
    else if (signer != FX_CUSTODIAN && signer != o->key)
        e.code = LEDGER_NOT_OPERATOR_OR_CUSTODIAN;
    else if (amount == 0)
        e.code = LEDGER_AMOUNT_ZERO;
    else if (amount > o->balance)
        e.code = LEDGER_OPERATOR_BALANCE_EXCEEDED;
    else
        e.out[0] = amount, e.out[1] = o->balance - amount;
    describe(r, "operator_exit %" PRIu64 " by %d amount %" PRIu64, id, signer, amount);
    ledger_result res = submit(r, signer, LEDGER_TX_OPERATOR_EXIT, FX_NONE, FX_NONE, id, amount, 0);
    if (!check_result(r, &res, &e))
        return res.code;
    o->balance -= amount;
    o->exited += amount;
    m->buffer += amount;
    return LEDGER_OK;
}

static void do_operator_exit(run *r)
{
    model *m = begin(r);
    uint64_t id = pick_op_id(r), x = below(r, 100);
    m_operator *o = m_op(m, id);
    int signer = x < 50 ? FX_CUSTODIAN : x < 90 ? (o != NULL ? o->key : OP2) : pick_holder(r);
    exec_exit(r, signer, id, pick_stake_move(r, o != NULL ? o->balance : 0));
}

/* ---- reports ------------------------------------------------------------------------------ */

typedef struct effect {
    uint64_t gain, loss, fee_t, fee_o; /* fee shares minted to the treasury and the operator */
    uint64_t fee_assets;               /* part of the gain backing them: joins A at once */
    uint64_t ct, co;                   /* fees charged (bps): treasury, operator */
} effect;

/* Reward fee shares: floor(R*F*S / ((T+R)*P - R*F)) with T = A + U, P = 10000; 0 when R or F is
 * 0 or the denominator is 0 (only T = 0 at F = 100%). Returns: false when they need more than
 * 64 bits. F <= P. */
static bool fee_formula(uint64_t R, uint64_t F, u128 T, uint64_t S, uint64_t *fee)
{
    *fee = 0;
    if (R == 0 || F == 0)
        return true;
    u128 num = (u128)R * F, den = (T + R) * BPS - num;
    if (den == 0)
        return true;
    return narrow(wide_div(wide_mul(num, S), den), fee);
}

/* The fees a report of operator o is charged at `now`: for the treasury and the operator apart,
 * the lower of the fee in force when its period began and the fee in force now. */
static void m_charged(const model *m, const m_operator *o, uint64_t now, uint64_t *ct, uint64_t *co)
{
    *ct = min64(o->period_treasury, fee_now(&m->treasury_fee, now));
    *co = min64(o->period_fee, fee_now(&o->fee, now));
}

/* Gain, loss and fee shares of booking `balance` for operator o (FEE_TOO_HIGH/OVERFLOW). */
static int m_effect(const model *m, const m_operator *o, uint64_t now, uint64_t balance, effect *e)
{
    uint64_t fee;
    u128 T = (u128)m->A + m->U;
    memset(e, 0, sizeof *e);
    if (balance >= o->balance)
        e->gain = balance - o->balance;
    else
        e->loss = o->balance - balance;
    m_charged(m, o, now, &e->ct, &e->co);
    uint64_t f = e->ct + e->co;
    if (T + e->gain > UINT64_MAX)
        return LEDGER_OVERFLOW;
    if (e->gain > 0 && f > BPS)
        return LEDGER_FEE_TOO_HIGH;
    if (!fee_formula(e->gain, f, T, m->S, &fee))
        return LEDGER_OVERFLOW;
    e->fee_assets = (uint64_t)ceil_div((u128)fee * m->A, m->S);
    e->fee_o = f > 0 ? (uint64_t)((u128)fee * e->co / f) : 0;
    e->fee_t = fee - e->fee_o;
    if ((u128)m->S + fee > UINT64_MAX)
        return LEDGER_OVERFLOW;
    return LEDGER_OK;
}

/* Seconds the limits allow for: batch time minus the operator's last applied report's (or its
 * registration's). */
static uint64_t m_elapsed(const m_operator *o, uint64_t now)
{
    return now - min64(o->last_report_ts, now);
}

/* Sanity limits: R * year * P <= MAX_APR_BPS * E * elapsed_s (exact, 192 bits) and
 * -R * P <= MAX_DROP_BPS * E. */
static int m_limits(const model *m, const m_operator *o, uint64_t now, const effect *e)
{
    if (e->gain > 0) {
        u128 per_s = (u128)m->params[LEDGER_PARAM_MAX_APR_BPS] * o->balance;
        u192 lhs = wide((u128)e->gain * YEAR_S * BPS);
        if (per_s == 0 || wide_cmp(lhs, wide_mul(per_s, m_elapsed(o, now))) > 0)
            return LEDGER_REPORT_APR_EXCEEDED;
    }
    if (e->loss > 0 &&
        (u128)e->loss * BPS > (u128)m->params[LEDGER_PARAM_MAX_DROP_BPS] * o->balance)
        return LEDGER_REPORT_DROP_EXCEEDED;
    return LEDGER_OK;
}

/* The largest gain within the APR limit now (saturated). */
static uint64_t m_max_gain(const model *m, const m_operator *o, uint64_t now)
{
    u128 per_s = (u128)m->params[LEDGER_PARAM_MAX_APR_BPS] * o->balance;
    return mul_div_sat(per_s, m_elapsed(o, now), (u128)YEAR_S * BPS);
}

static void fee_settle(m_fee *f, uint64_t now)
{
    if (f->pending_at != 0 && now >= f->pending_at) {
        *f = (m_fee){f->pending_bps, 0, 0};
        seen.fee_matured++;
    }
}

/* Book a gain: the fee assets join A, the rest V joins U on a schedule ending at
 * now + ceil((U * max(0, vest_end - now) + V * VEST_S) / (U + V)); VEST_S = 0 vests at once.
 * A loss leaves A first, the rest U. */
static void m_book(model *m, const effect *e, uint64_t now)
{
    uint64_t vest_s = m->params[LEDGER_PARAM_VEST_S], v = e->gain - e->fee_assets;
    m->A += e->fee_assets;
    if (v > 0 && vest_s == 0) {
        m->A += v;
    } else if (v > 0) {
        uint64_t left = m->U > 0 && m->vest_end > now ? m->vest_end - now : 0;
        u128 span = ceil_div((u128)m->U * left + (u128)v * vest_s, (u128)m->U + v);
        m->vest_end = now + (uint64_t)span;
        m->U += v;
        m->vest_ts = now;
        seen.vested_gains++;
    }
    uint64_t from_assets = min64(m->A, e->loss);
    m->A -= from_assets;
    m->U -= e->loss - from_assets;
    m->S += e->fee_t + e->fee_o;
    m->rewards += e->gain;
    m->slashed += e->loss;
}

static void m_apply_effect(run *r, m_operator *o, uint64_t epoch, uint64_t balance, const effect *e)
{
    model *m = &r->m;
    uint64_t now = r->f.now, A0 = m->A, S0 = m->S;
    if (e->fee_assets > e->gain)
        fail(r, "model: fee assets %" PRIu64 " exceed the gain %" PRIu64, e->fee_assets, e->gain);
    m_credit(m, FX_TREASURY, e->fee_t);
    m_credit(m, o->fee_slot, e->fee_o);
    m_book(m, e, now);
    /* reward smoothing: a gain moves the rate only by the rounding up of the fee assets,
     * 0 <= A'S - AS' < S */
    if (e->gain > 0 && m->params[LEDGER_PARAM_VEST_S] > 0) {
        u128 after = (u128)m->A * S0, before = (u128)A0 * m->S;
        if (after < before || after - before >= S0)
            fail(r, "a gain moved the rate from %" PRIu64 "/%" PRIu64 " to %" PRIu64 "/%" PRIu64,
                 A0, S0, m->A, m->S);
    }
    fee_settle(&m->treasury_fee, now);
    fee_settle(&o->fee, now);
    o->period_treasury = fee_now(&m->treasury_fee, now);
    o->period_fee = fee_now(&o->fee, now);
    o->balance = o->reported = balance;
    o->funded = o->exited = 0;
    o->last_epoch = epoch;
    o->last_report_ts = now;
    o->fees_earned += e->fee_o;
    o->held_epoch = o->held_balance = 0;
    o->reports[o->report_count % LEDGER_REPORTS_KEPT] =
        (m_report){epoch, balance, now, e->gain, e->loss, e->fee_t + e->fee_o};
    o->report_count++;
    if (e->loss > 0)
        r->slashed = true, seen.slashes++;
}

/* A new reported balance: mostly within the limits, sometimes a big gain or slash. */
static uint64_t pick_report_balance(run *r, const m_operator *o)
{
    const uint64_t *prm = r->m.params;
    uint64_t bal = o->balance, x = below(r, 100);
    uint64_t max_gain = min64(m_max_gain(&r->m, o, r->f.now), TRILLION);
    uint64_t max_loss = (uint64_t)((u128)prm[LEDGER_PARAM_MAX_DROP_BPS] * bal / BPS);
    uint64_t big = bal == 0 ? TRILLION : (bal / 4 < TRILLION ? bal / 4 : TRILLION) + 1000;
    if (x < 3)
        return 0; /* wiped out: with an empty buffer the pool can reach A = 0 */
    if (x < 8)
        return sat_add(bal, max_gain + below(r, 2)); /* at the APR limit, or one over */
    if (x < 13)
        return bal - max_loss - (max_loss < bal ? below(r, 2) : 0); /* the drop limit, +1 */
    if (x < 55)
        return sat_add(bal, below(r, max_gain + 1));
    if (x < 62)
        return bal;
    if (x < 72)
        return bal - below(r, max_loss + 1);
    if (x < 87 || bal / 2 <= max_loss + 1)
        return sat_add(bal, max_gain + 1 + below(r, big));
    return bal - (max_loss + 1 + below(r, bal / 2 - max_loss));
}

/* An epoch for a report: mostly started and new, sometimes old, not started or huge. */
static uint64_t pick_epoch(run *r, const m_operator *o)
{
    uint64_t started = m_epoch_now(&r->m, r->f.now), last = o->last_epoch, x = below(r, 100);
    if (x < 4)
        return last - (last > 0 && chance(r, 50) ? 1 : 0); /* not increasing */
    if (x < 8)
        return started + 1 + below(r, 3); /* not started yet */
    if (x < 10)
        return UINT64_MAX; /* the audit's freeze attempt */
    if (x < 12)
        return last + 11184811; /* the audit's claim of 49 days, 384 s after the last report */
    if (started <= last)
        return last + 1;
    if (x < 30)
        return started; /* the newest started epoch */
    return last + 1 + below(r, started - last);
}

static void describe_report(run *r, const char *kind, uint64_t id, int signer, uint64_t epoch,
                            uint64_t balance, const m_operator *o)
{
    describe(r,
             "%s operator %" PRIu64 " by %d epoch %" PRIu64 " balance %" PRIu64 " (was %" PRIu64
             ", started epoch %" PRIu64 ")",
             kind, id, signer, epoch, balance, o != NULL ? o->balance : 0,
             m_epoch_now(&r->m, r->f.now));
}

static void effect_out(const effect *eff, expect *e)
{
    e->out[0] = eff->gain, e->out[1] = eff->loss, e->out[2] = eff->fee_t, e->out[3] = eff->fee_o;
}

/* Returns: the result code; *eff (may be NULL) the effect the model predicted. */
static int exec_report(run *r, int signer, uint64_t id, uint64_t epoch, uint64_t balance,
                       effect *eff)
{
    model *m = begin(r);
    m_operator *o = m_op(m, id);
    effect local;
    effect *ef = eff != NULL ? eff : &local;
    expect e = {0};
    memset(ef, 0, sizeof *ef);
    if (o == NULL)
        e.code = LEDGER_OPERATOR_NOT_FOUND;
    else if (signer != o->key)
        e.code = LEDGER_NOT_OPERATOR;
    else if (epoch <= o->last_epoch)
        e.code = LEDGER_EPOCH_NOT_INCREASING;
    else if (epoch > m_epoch_now(m, r->f.now))
        e.code = LEDGER_EPOCH_IN_FUTURE;
    else if ((e.code = m_effect(m, o, r->f.now, balance, ef)) == LEDGER_OK &&
             (e.code = m_limits(m, o, r->f.now, ef)) == LEDGER_OK)
        effect_out(ef, &e);
    describe_report(r, "report", id, signer, epoch, balance, o);
    ledger_result res = submit(r, signer, LEDGER_TX_REPORT, FX_NONE, FX_NONE, id, balance, epoch);
    if (res.code == e.code &&
        (e.code == LEDGER_REPORT_APR_EXCEEDED || e.code == LEDGER_REPORT_DROP_EXCEEDED)) {
        o->held_epoch = epoch; /* the only rejection that writes: the report is held */
        o->held_balance = balance;
        r->want_accept = true;
    }
    seen.future_epochs += res.code == LEDGER_EPOCH_IN_FUTURE;
    if (check_result(r, &res, &e))
        m_apply_effect(r, o, epoch, balance, ef);
    return res.code;
}

static void do_report(run *r)
{
    model *m = begin(r);
    uint64_t id = pick_op_id(r), epoch = 1, balance = 0;
    m_operator *o = m_op(m, id);
    int signer = o != NULL && chance(r, 95) ? o->key : pick_holder(r);
    if (o != NULL) {
        epoch = pick_epoch(r, o);
        balance = pick_report_balance(r, o);
    }
    exec_report(r, signer, id, epoch, balance, NULL);
}

/* The admin's bookings of a balance without the limits: report_accept (the held report
 * exactly: REPORT_NOT_PENDING otherwise) and operator_reset (OPERATOR_NOT_FOUND ->
 * EPOCH_IN_FUTURE -> FEE_TOO_HIGH/OVERFLOW; the epoch may go down; the hold is dropped). */
static int exec_admin_book(run *r, unsigned kind, int signer, uint64_t id, uint64_t epoch,
                           uint64_t balance)
{
    model *m = begin(r);
    m_operator *o = m_op(m, id);
    bool reset = kind == LEDGER_TX_OPERATOR_RESET;
    effect eff;
    expect e = {0};
    memset(&eff, 0, sizeof eff);
    if (signer != FX_ADMIN)
        e.code = LEDGER_NOT_ADMIN;
    else if (o == NULL)
        e.code = LEDGER_OPERATOR_NOT_FOUND;
    else if (!reset && (o->held_epoch == 0 || o->held_epoch != epoch || o->held_balance != balance))
        e.code = LEDGER_REPORT_NOT_PENDING;
    else if (reset && epoch > m_epoch_now(m, r->f.now))
        e.code = LEDGER_EPOCH_IN_FUTURE;
    else if ((e.code = m_effect(m, o, r->f.now, balance, &eff)) == LEDGER_OK)
        effect_out(&eff, &e);
    describe_report(r, reset ? "operator_reset" : "report_accept", id, signer, epoch, balance, o);
    ledger_result res = submit(r, signer, kind, FX_NONE, FX_NONE, id, balance, epoch);
    seen.future_epochs += res.code == LEDGER_EPOCH_IN_FUTURE;
    if (!check_result(r, &res, &e))
        return res.code;
    m_apply_effect(r, o, epoch, balance, &eff);
    if (reset)
        seen.resets++;
    else
        seen.accepted++;
    return LEDGER_OK;
}

static int exec_accept(run *r, int signer, uint64_t id, uint64_t epoch, uint64_t balance)
{
    return exec_admin_book(r, LEDGER_TX_REPORT_ACCEPT, signer, id, epoch, balance);
}

static void do_report_accept(run *r)
{
    model *m = begin(r);
    uint64_t id = 0, epoch, balance, n = 0;
    for (uint64_t i = 1; i <= m->op_count; i++)
        if (m->ops[i].held_epoch != 0 && below(r, ++n) == 0)
            id = i;
    if (id == 0 || chance(r, 10))
        id = pick_op_id(r);
    m_operator *o = m_op(m, id);
    int signer = chance(r, 3) ? pick_holder(r) : FX_ADMIN;
    epoch = o != NULL ? o->held_epoch : 1;
    balance = o != NULL ? o->held_balance : 0;
    if (chance(r, 8))
        epoch++;
    else if (chance(r, 8))
        balance++;
    exec_accept(r, signer, id, epoch, balance);
}

static int exec_reset(run *r, int signer, uint64_t id, uint64_t epoch, uint64_t balance)
{
    return exec_admin_book(r, LEDGER_TX_OPERATOR_RESET, signer, id, epoch, balance);
}

static void do_operator_reset(run *r)
{
    model *m = begin(r);
    uint64_t id = pick_op_id(r), started = m_epoch_now(m, r->f.now), x = below(r, 100);
    m_operator *o = m_op(m, id);
    int signer = chance(r, 5) ? pick_holder(r) : FX_ADMIN;
    uint64_t last = o != NULL ? o->last_epoch : 0, epoch, balance = 0;
    if (x < 10)
        epoch = started + 1 + below(r, 3); /* not started */
    else if (x < 13)
        epoch = UINT64_MAX;
    else if (x < 35)
        epoch = below(r, last + 1); /* back to an older epoch, or the same */
    else if (x < 55)
        epoch = started;
    else
        epoch = below(r, started + 1);
    if (o != NULL)
        balance = o->held_epoch != 0 && chance(r, 50) ? o->held_balance : pick_report_balance(r, o);
    exec_reset(r, signer, id, epoch, balance);
}

/* ---- admin -------------------------------------------------------------------------------- */

/* A decrease applies at once (and cancels a scheduled increase); an increase waits. */
static void fee_schedule(m_fee *f, uint64_t bps, uint64_t now, uint64_t delay)
{
    uint64_t current = fee_now(f, now);
    if (bps <= current) {
        *f = (m_fee){bps, 0, 0};
        return;
    }
    *f = (m_fee){current, bps, now > UINT64_MAX - delay ? UINT64_MAX : now + delay};
}

/* The highest fee the other side may charge: for the treasury every operator's, for an
 * operator the treasury's (now or once scheduled). */
static uint64_t fee_other(const model *m, uint64_t id)
{
    return id == 0 ? max_operator_fee(m) : fee_ceiling(&m->treasury_fee);
}

static int exec_fee_set(run *r, uint64_t id, uint64_t bps)
{
    model *m = begin(r);
    m_operator *o = m_op(m, id);
    m_fee *f = id == 0 ? &m->treasury_fee : o != NULL ? &o->fee : NULL, after = {0, 0, 0};
    uint64_t other = fee_other(m, id);
    expect e = {0};
    if (f == NULL) {
        e.code = LEDGER_OPERATOR_NOT_FOUND;
    } else if (bps > BPS || bps + other > BPS) {
        e.code = LEDGER_FEE_TOO_HIGH;
    } else {
        after = *f;
        fee_schedule(&after, bps, r->f.now, m->params[LEDGER_PARAM_FEE_DELAY_S]);
        e.out[0] = bps;
        e.out[1] = after.pending_at != 0 ? after.pending_at : r->f.now;
    }
    describe(r, "fee_set %" PRIu64 " bps %" PRIu64, id, bps);
    ledger_result res = submit(r, FX_ADMIN, LEDGER_TX_FEE_SET, FX_NONE, FX_NONE, id, bps, 0);
    if (!check_result(r, &res, &e))
        return res.code;
    *f = after;
    /* a decrease (or the same fee) also lowers the running periods' fees: a report pays the
     * lowest fee in force during its period (for the treasury fee, every operator's period) */
    for (uint64_t i = 1; after.pending_at == 0 && i <= m->op_count; i++) {
        m_operator *x = m_op(m, i);
        if (id == 0 && x->period_treasury > bps)
            x->period_treasury = bps;
        if (id == i && x->period_fee > bps)
            x->period_fee = bps;
    }
    return res.code;
}

static void do_fee_set(run *r)
{
    model *m = begin(r);
    uint64_t x = below(r, 100), id = x < 40 ? 0 : x < 65 ? 1 : x < 90 ? 2 : 3;
    x = below(r, 100);
    uint64_t amount = x < 80 ? below(r, 2500) : x < 95 ? below(r, BPS + 1) : BPS + 1 + below(r, 99);
    m_operator *o = m_op(m, id);
    const m_fee *f = id == 0 ? &m->treasury_fee : o != NULL ? &o->fee : NULL;
    uint64_t other = fee_other(m, id);
    x = below(r, 100);
    if (f != NULL && x < 15)
        amount = fee_now(f, r->f.now); /* the fee in force again */
    else if (x < 25 && other <= BPS)
        amount = BPS - other + below(r, 2); /* the highest allowed, or one over */
    exec_fee_set(r, id, amount);
}

static int exec_param_set(run *r, int signer, uint64_t param, uint64_t value)
{
    model *m = begin(r);
    uint64_t now = r->f.now;
    expect e = {0};
    if (signer != FX_ADMIN)
        e.code = LEDGER_NOT_ADMIN;
    else if (param == 0 || param >= LEDGER_PARAM_COUNT)
        e.code = LEDGER_PARAM_UNKNOWN;
    else if (value < param_range[param].lo || value > param_range[param].hi)
        e.code = LEDGER_PARAM_OUT_OF_RANGE;
    else
        e.out[0] = value;
    describe(r, "param_set by %d param %" PRIu64 " value %" PRIu64, signer, param, value);
    ledger_result res = submit(r, signer, LEDGER_TX_PARAM_SET, FX_NONE, FX_NONE, param, value, 0);
    if (!check_result(r, &res, &e))
        return res.code;
    seen.params_set++;
    if (param == LEDGER_PARAM_STAKE_LIMIT_MAX || param == LEDGER_PARAM_STAKE_LIMIT_REFILL) {
        /* accrue to now, then clamp to the new maximum; switched on from 0 it starts full */
        stake st = m_stake(m, now);
        m->params[param] = value;
        uint64_t max = m->params[LEDGER_PARAM_STAKE_LIMIT_MAX];
        m->stake_current = !st.limited || st.avail > max ? max : st.avail;
        m->stake_ts = now;
        return LEDGER_OK;
    }
    if (param == LEDGER_PARAM_EPOCH_S) { /* re-anchor at the start of the running epoch */
        uint64_t old = m->params[param], n = (now - m->epoch_anchor_ts) / old;
        m->epoch_anchor += n;
        m->epoch_anchor_ts += n * old;
        seen.reanchors++;
    }
    m->params[param] = value;
    return LEDGER_OK;
}

/* A value for a parameter: mostly a sensible one, sometimes its bounds or one past them. */
static uint64_t pick_param_value(run *r, uint64_t param)
{
    uint64_t x = below(r, 100), lo = param_range[param].lo, hi = param_range[param].hi;
    if (x < 5 && hi < UINT64_MAX)
        return hi + 1;
    if (x < 8 && lo > 0)
        return lo - 1;
    if (x < 12)
        return hi;
    if (x < 16)
        return lo;
    x = below(r, 100);
    switch (param) {
    case LEDGER_PARAM_STAKE_LIMIT_MAX:
        return x < 50 ? 0 : x < 90 ? TRILLION + below(r, 100 * TRILLION) : UINT64_MAX;
    case LEDGER_PARAM_STAKE_LIMIT_REFILL:
        return x < 30 ? 0 : 1000000 + below(r, 1000000000);
    case LEDGER_PARAM_MAX_APR_BPS:
        return x < 50 ? 1000 : 100 + below(r, 5000);
    case LEDGER_PARAM_MAX_DROP_BPS:
        return x < 50 ? 500 : 100 + below(r, 3000);
    case LEDGER_PARAM_OPERATOR_CAP_BPS:
        return x < 50 ? 0 : 3000 + below(r, 7001);
    case LEDGER_PARAM_FEE_DELAY_S:
        return x < 40 ? 604800 : x < 60 ? 0 : below(r, 86400);
    case LEDGER_PARAM_EPOCH_S:
        return x < 40 ? 384 : x < 60 ? 12 : 1 + below(r, 86400);
    case LEDGER_PARAM_VEST_S:
        return x < 40 ? 86400 : x < 55 ? 0 : x < 65 ? 1 + below(r, 1000) : 3600 + below(r, hi);
    default:
        return below(r, 1000);
    }
}

static void do_param_set(run *r)
{
    begin(r);
    uint64_t x = below(r, 100), param;
    int signer = chance(r, 3) ? pick_holder(r) : FX_ADMIN;
    if (x < 3)
        param = chance(r, 50) ? 0 : LEDGER_PARAM_COUNT + below(r, 5);
    else if (x < 35)
        param = LEDGER_PARAM_EPOCH_S;
    else if (x < 70)
        param = LEDGER_PARAM_VEST_S;
    else
        param = 1 + below(r, LEDGER_PARAM_COUNT - 1);
    uint64_t value = param >= 1 && param < LEDGER_PARAM_COUNT ? pick_param_value(r, param) : 1;
    exec_param_set(r, signer, param, value);
}

static void do_pause_set(run *r)
{
    begin(r);
    uint64_t x = below(r, 100), flags = x < 50 ? 0 : x < 97 ? below(r, 8) : 8 + below(r, 8);
    int signer = chance(r, 3) ? pick_holder(r) : FX_ADMIN;
    if (r->want_unpause)
        flags = 0, signer = FX_ADMIN;
    expect e = {0};
    if (signer != FX_ADMIN)
        e.code = LEDGER_NOT_ADMIN;
    else if (flags & ~(uint64_t)LEDGER_PAUSE_ALL)
        e.code = LEDGER_PAUSE_FLAGS_UNKNOWN;
    else
        e.out[0] = flags;
    describe(r, "pause_set by %d flags %" PRIu64, signer, flags);
    ledger_result res = submit(r, signer, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, flags, 0);
    if (check_result(r, &res, &e))
        r->m.pause = flags;
}

static void do_set_active(run *r)
{
    begin(r);
    uint64_t id = pick_op_id(r), x = below(r, 100), active = x < 70 ? 1 : x < 95 ? 0 : 2;
    m_operator *o = m_op(&r->m, id);
    expect e = {0};
    if (o == NULL)
        e.code = LEDGER_OPERATOR_NOT_FOUND;
    else if (active > 1)
        e.code = LEDGER_PARAM_OUT_OF_RANGE;
    else
        e.out[0] = active;
    describe(r, "operator_set_active %" PRIu64 " active %" PRIu64, id, active);
    ledger_result res =
        submit(r, FX_ADMIN, LEDGER_TX_OPERATOR_SET_ACTIVE, FX_NONE, FX_NONE, id, 0, active);
    if (check_result(r, &res, &e))
        o->active = active;
}

/* A future lien expiry, scheduled fee time or end of vesting (0 when none): time jumps land on
 * boundaries. */
static uint64_t pick_deadline(run *r)
{
    const model *m = &r->m;
    uint64_t n = 0, pick = 0, now = r->f.now;
    for (uint64_t id = 1; id < m->next_lien; id++)
        if (m->liens[id].shares > 0 && m->liens[id].expiry > now && below(r, ++n) == 0)
            pick = m->liens[id].expiry;
    for (uint64_t id = 0; id <= m->op_count; id++) {
        const m_fee *f = id == 0 ? &m->treasury_fee : &m->ops[id].fee;
        if (f->pending_at > now && below(r, ++n) == 0)
            pick = f->pending_at;
    }
    if (m->U > 0 && m->vest_end > now && below(r, ++n) == 0)
        pick = m->vest_end;
    return pick;
}

/* Time passes; no transaction, so the model does not vest (the ledger vests at the next batch). */
static void do_time(run *r)
{
    uint64_t dt = chance(r, 90) ? 1 + below(r, 3600) : 86400 + below(r, 8 * 86400);
    uint64_t deadline = chance(r, 30) ? pick_deadline(r) : 0;
    if (deadline != 0)
        dt = deadline - r->f.now - below(r, 2); /* exactly at a deadline, or just before */
    describe(r, "time +%" PRIu64 " s", dt);
    r->f.now += dt;
    if (chance(r, 20)) { /* a batch that records nothing stores nothing, not even the vesting */
        ledger_tx tx = fx_tx(&r->f, FX_USER, LEDGER_TX_TRANSFER, FX_USER + 1, FX_NONE, 0, 1, 0);
        tx.nonce++;
        ledger_result res = fx_submit(&r->f, &tx);
        code_seen[LEDGER_NONCE_GAP]++;
        if (res.code != LEDGER_NONCE_GAP || res.seq != 0)
            fail(r, "a transaction with a nonce gap: %s, seq %" PRIu64, ledger_err_name(res.code),
                 res.seq);
    }
}

/* ---- scripted attackers inside the walk ---------------------------------------------------- */

static uint64_t ppm_of(u128 part, u128 whole)
{
    return whole == 0 ? 0 : mul_div_sat(part, PPM, whole);
}

static void keep_max(uint64_t *max, uint64_t v)
{
    *max = v > *max ? v : *max;
}

/* An epoch an operator may report now (the caller knows one exists). */
static uint64_t valid_epoch(run *r, const m_operator *o)
{
    uint64_t started = m_epoch_now(&r->m, r->f.now);
    return o->last_epoch + 1 + below(r, started - o->last_epoch);
}

/* Move time forward so that operator o has an epoch to report. */
static void time_for_epoch(run *r, const m_operator *o)
{
    const model *m = &r->m;
    if (o->last_epoch + 1 > m->epoch_anchor) {
        uint64_t t = m->epoch_anchor_ts +
                     (o->last_epoch + 1 - m->epoch_anchor) * m->params[LEDGER_PARAM_EPOCH_S];
        r->f.now = t > r->f.now ? t : r->f.now;
    }
}

/* A gain within the APR limit that A + U can take: at the limit or below it (0 if none). */
static uint64_t pick_gain(run *r, const m_operator *o)
{
    const model *m = &r->m;
    uint64_t g = min64(m_max_gain(m, o, r->f.now), UINT64_MAX - (m->A + m->U));
    return g == 0 ? 0 : chance(r, 50) ? g : 1 + below(r, g);
}

/* 1. Sandwich. A fresh slot deposits X just before a report with a gain and requests all its
 * shares just after (same or next second). Invariants: the report raises its quote by at most 1%
 * of the gain R; its payout exceeds X by at most 1% of R plus what older rewards vesting in
 * that second paid any holder of X (nothing when none were vesting: the literal bound
 * 100 * (payout - X) <= R); and the holders from before keep their value once everything vests,
 * less the attacker's gain and the fee shares' part of what it left behind. */
static bool sandwich_start(run *r)
{
    const model *m = &r->m;
    const m_account *a = &m->acct[ATTACKER];
    uint64_t id = 1 + below(r, m->op_count);
    const m_operator *o = &m->ops[id];
    if (a->free != 0 || a->locked != 0 || a->queued != 0 || r->sw.pending ||
        (m->pause & (LEDGER_PAUSE_DEPOSITS | LEDGER_PAUSE_WITHDRAWALS)) != 0 || m->A == 0 ||
        m->params[LEDGER_PARAM_VEST_S] < SANDWICH_VEST_S_MIN || o->balance == 0 ||
        m_epoch_now(m, r->f.now) <= o->last_epoch || m_max_gain(m, o, r->f.now) == 0)
        return false;
    memset(&r->sw, 0, sizeof r->sw);
    r->sw.op_id = id;
    r->script = SCRIPT_SANDWICH;
    r->phase = 0;
    seen.sw_started++;
    return true;
}

static void sandwich_deposit(run *r)
{
    model *m = begin(r);
    sandwich *sw = &r->sw;
    const m_operator *o = &m->ops[sw->op_id];
    stake st = m_stake(m, r->f.now);
    uint64_t total = m->A + m->U, x = below(r, 100), X;
    uint64_t room = UINT64_MAX - total - min64(m_max_gain(m, o, r->f.now), UINT64_MAX - total);
    if (x < 40)
        X = m->A; /* as large as the pool, the audit's case */
    else if (x < 60)
        X = 1 + below(r, m->A < UINT64_MAX / 10 ? 10 * m->A : UINT64_MAX);
    else if (x < 80)
        X = 1 + below(r, PPM);
    else
        X = 1 + below(r, TRILLION);
    X = min64(X, st.limited ? min64(room, st.avail) : room);
    sw->T_pre = total;
    sw->S_pre = m->S;
    sw->X = X;
    sw->shares = exec_deposit(r, FX_CUSTODIAN, ATTACKER, X, 0);
    r->phase = 1;
    if (sw->shares == 0)
        r->script = SCRIPT_NONE, seen.sw_abandoned++;
}

static void sandwich_report(run *r)
{
    model *m = begin(r);
    sandwich *sw = &r->sw;
    m_operator *o = &m->ops[sw->op_id];
    effect eff;
    uint64_t gain = pick_gain(r, o), epoch = valid_epoch(r, o);
    sw->cf = *m; /* shallow: the copy only ever vests */
    int rc = exec_report(r, o->key, sw->op_id, epoch, o->balance + gain, &eff);
    if (rc == LEDGER_OK && eff.gain > 0) {
        sw->gain = eff.gain;
        sw->fee_bps = eff.ct + eff.co;
    }
    r->phase = 2;
}

static void sandwich_request_check(run *r)
{
    sandwich *sw = &r->sw;
    const model *m = &r->m;
    model cf = sw->cf;
    m_vest(&cf, r->f.now);
    sw->quote_cf = m_value(&cf, sw->shares);
    uint64_t R = sw->gain, Q = sw->quote, X = sw->X, s = sw->shares, fee0;
    if (Q > sw->quote_cf) { /* the report's part of the quote; 2 units for the two floors */
        uint64_t d = Q - sw->quote_cf;
        keep_max(&seen.sw_report_ppm_max, ppm_of(d - min64(d, 2), R));
        if ((u128)100 * (d - min64(d, 2)) > R)
            fail(r,
                 "sandwich: the report raised the attacker's quote by %" PRIu64
                 ", more than 1%% of its gain %" PRIu64 " (quote %" PRIu64 " for %" PRIu64 ")",
                 d, R, Q, X);
    }
    /* the holders from before, once everything vests: V0 without the attacker, V1 with it paid
     * its quote; A + U does not change as U vests, and nothing else happened in between */
    if (!fee_formula(R, sw->fee_bps, sw->T_pre, sw->S_pre, &fee0))
        return;
    uint64_t v0 = mul_div_sat((u128)sw->T_pre + R, sw->S_pre, (u128)sw->S_pre + fee0);
    uint64_t v1 = mul_div_sat((u128)m->A + m->U - Q, sw->S_pre, (u128)m->S - s);
    uint64_t gain = Q > X ? Q - X : 0;
    /* the fee shares, minted against the attacker's shares too, keep their part of what the
     * attacker leaves behind: at most R*F*s / (P*S_pre) */
    uint64_t fee_part = mul_div_sat((u128)R * sw->fee_bps, s, (u128)BPS * sw->S_pre) + 1;
    uint64_t slack = (uint64_t)ceil_div((u128)sw->T_pre + R, sw->S_pre) + 2;
    if (v0 > v1) {
        uint64_t loss = v0 - v1, beyond = loss > gain + slack ? loss - gain - slack : 0;
        keep_max(&seen.sw_holder_ppm_max, ppm_of(beyond, R));
        keep_max(&seen.sw_fee_ppm_max, ppm_of(beyond, fee_part));
        if (loss > gain + fee_part + slack)
            fail(r,
                 "sandwich: holders lost %" PRIu64 " of a gain %" PRIu64
                 " (attacker gained %" PRIu64 ", fee part %" PRIu64 ")",
                 loss, R, gain, fee_part);
    }
}

static void sandwich_request(run *r)
{
    sandwich *sw = &r->sw;
    if (chance(r, 50))
        r->f.now += 1; /* the next second rather than the same */
    model *m = begin(r);
    sw->req = exec_request(r, ATTACKER, sw->shares, 0);
    r->phase = 3;
    if (sw->req == 0) { /* the attacker keeps its shares: no further sandwich in this run */
        r->script = SCRIPT_NONE, seen.sw_abandoned++;
        return;
    }
    sw->quote = m->reqs[sw->req].quote;
    sw->pending = true;
    seen.sw_requested++;
    if (sw->gain > 0)
        sandwich_request_check(r);
}

/* Called when the attacker's request is finalized, now or later in the walk. */
static void sandwich_finalized(run *r, uint64_t pay)
{
    sandwich *sw = &r->sw;
    uint64_t R = sw->gain, X = sw->X;
    sw->pending = false;
    if (R == 0) {
        seen.sw_abandoned++;
        return;
    }
    /* what holding X for that second earned from rewards already vesting (the world without
     * the report): nothing when none were vesting */
    uint64_t earned = sw->quote_cf > X ? sw->quote_cf - X : 0;
    uint64_t gain = pay > X + earned ? pay - X - earned : 0;
    gain -= min64(gain, 2); /* the vesting and quote floors: at most two base units */
    seen.sw_checked++;
    seen.sw_literal += earned == 0;
    keep_max(&seen.sw_gain_ppm_max, ppm_of(gain, R));
    if ((u128)100 * gain > R)
        fail(r,
             "sandwich: deposited %" PRIu64 ", paid %" PRIu64 " (%" PRIu64
             " from older rewards): more than 1%% of the report's gain %" PRIu64
             " and 2 units of rounding",
             X, pay, earned, R);
}

static void sandwich_step(run *r)
{
    switch (r->phase) {
    case 0:
        sandwich_deposit(r);
        break;
    case 1:
        sandwich_report(r);
        break;
    case 2:
        sandwich_request(r);
        break;
    default:
        exec_finalize(r, FX_CUSTODIAN, r->sw.req); /* if refused, the walk finalizes it later */
        r->script = SCRIPT_NONE;
        break;
    }
}

/* 2. Exit during a held loss. A report beyond MAX_DROP is held; a holder requests and is
 * finalized while it is held (bunker mode); the admin then accepts it. The exiter's payout over
 * its shares' value before the hold must be at most the fraction a stayer keeps (the stayer's
 * rate after acceptance over before): paid / (s*A0/S0) <= (A2/S2) / (A0/S0), that is
 * paid * S2 <= s * A2, and no lower than rounding in the pool's favour explains. */
static bool bunker_start(run *r)
{
    const model *m = &r->m;
    uint64_t id = 1 + below(r, m->op_count), drop = m->params[LEDGER_PARAM_MAX_DROP_BPS];
    const m_operator *o = &m->ops[id];
    int holder = FX_USER + (int)below(r, USERS);
    if (m_held_loss(m) > 0 || (m->pause & LEDGER_PAUSE_WITHDRAWALS) != 0 || drop >= BPS ||
        m->A == 0 || o->balance == 0 || m_epoch_now(m, r->f.now) <= o->last_epoch ||
        m->acct[holder].free == 0 || (u128)drop * o->balance / BPS + 1 > o->balance)
        return false;
    memset(&r->bk, 0, sizeof r->bk);
    r->bk.op_id = id;
    r->bk.holder = holder;
    r->script = SCRIPT_BUNKER;
    r->phase = 0;
    seen.bk_started++;
    return true;
}

static void bunker_hold(run *r)
{
    model *m = begin(r);
    bunker *bk = &r->bk;
    m_operator *o = &m->ops[bk->op_id];
    uint64_t E = o->balance, x = below(r, 100);
    uint64_t least = (uint64_t)((u128)m->params[LEDGER_PARAM_MAX_DROP_BPS] * E / BPS) + 1;
    uint64_t loss = x < 40   ? least
                    : x < 80 ? (E / 5 > least ? E / 5 : least)
                             : least + below(r, E - least + 1);
    bk->epoch = valid_epoch(r, o);
    bk->balance = E - loss;
    r->phase = 1;
    if (exec_report(r, o->key, bk->op_id, bk->epoch, bk->balance, NULL) !=
        LEDGER_REPORT_DROP_EXCEEDED)
        r->script = SCRIPT_NONE, seen.bk_abandoned++;
}

static void bunker_request(run *r)
{
    model *m = begin(r);
    bunker *bk = &r->bk;
    uint64_t free = m->acct[bk->holder].free;
    bk->shares = chance(r, 50) ? free : 1 + below(r, free);
    bk->req = exec_request(r, bk->holder, bk->shares, 0);
    r->phase = bk->req != 0 ? 2 : 3;
}

static void bunker_finalize(run *r)
{
    model *m = begin(r);
    bunker *bk = &r->bk;
    uint64_t out[4], af = m_assets_final(m);
    int rc = m_finalize_predict(m, bk->req, out);
    if (rc == LEDGER_INSUFFICIENT_BUFFER && bk->exits_tried++ == 0) {
        uint64_t need = out[1] - m->buffer; /* from the other operator: the held loss stays */
        for (uint64_t id = 1; id <= m->op_count; id++)
            if (id != bk->op_id && m->ops[id].balance >= need) {
                exec_exit(r, FX_CUSTODIAN, id, need);
                return;
            }
    }
    /* requests paid their quote rather than the bunker rate leave more to the stayers */
    for (uint64_t id = m->finalized_through + 1; id <= bk->req; id++) {
        const m_request *w = &m->reqs[id];
        uint64_t pay = m_payout(m, w, af);
        if (w->status == LEDGER_WD_PENDING && pay >= w->min_out)
            bk->slack += (uint64_t)((u128)w->shares * af / m->S) - pay;
    }
    const m_operator *o = &m->ops[bk->op_id];
    bk->exact = m_held_loss(m) == op_held_loss(o->held_epoch, o->held_balance, o->balance);
    uint64_t booked = min64(m->reqs[bk->req].quote, m_value(m, bk->shares));
    r->phase = 3;
    if (exec_finalize(r, FX_CUSTODIAN, bk->req) != LEDGER_OK ||
        m->reqs[bk->req].status != LEDGER_WD_FINALIZED)
        return;
    bk->paid = m->reqs[bk->req].paid;
    bk->paid_count = out[0];
    seen.bk_exits++;
    seen.bk_escape_prevented += booked - bk->paid; /* what the old rate would have paid more */
}

static void bunker_check(run *r)
{
    const model *m = &r->m;
    const bunker *bk = &r->bk;
    u128 exiter = (u128)bk->paid * m->S, stayer = (u128)bk->shares * m->A;
    if (exiter > stayer) {
        fail(r,
             "exit during a held loss: paid %" PRIu64 " for %" PRIu64
             " shares, more than a stayer keeps at %" PRIu64 "/%" PRIu64,
             bk->paid, bk->shares, m->A, m->S);
        return;
    }
    if (!bk->exact)
        return;
    seen.bk_exact++;
    /* each payout rounds down by less than one unit; quote-bound payouts leave bk->slack */
    u128 left = (u128)bk->shares * bk->slack, gap = stayer - exiter;
    if (bk->paid >= PPM) /* the shortfall against a stayer where rounding is negligible */
        keep_max(&seen.bk_shortfall_ppm_max, ppm_of(gap > left ? gap - left : 0, stayer));
    if (gap > (u128)m->S + (u128)bk->shares * (bk->paid_count + bk->slack))
        fail(r,
             "exit during a held loss: paid %" PRIu64 " for %" PRIu64
             " shares, less than a stayer keeps at %" PRIu64 "/%" PRIu64 " beyond rounding",
             bk->paid, bk->shares, m->A, m->S);
}

static void bunker_step(run *r)
{
    switch (r->phase) {
    case 0:
        bunker_hold(r);
        break;
    case 1:
        bunker_request(r);
        break;
    case 2:
        bunker_finalize(r);
        break;
    default:
        begin(r);
        if (exec_accept(r, FX_ADMIN, r->bk.op_id, r->bk.epoch, r->bk.balance) == LEDGER_OK &&
            r->bk.paid > 0)
            bunker_check(r);
        r->want_accept = false;
        r->script = SCRIPT_NONE;
        break;
    }
}

/* 3. Report just after a fee increase. The increase (sometimes after a decrease in the same
 * period) matures and the operator reports at once: the fee charged is the lower of the fee in
 * force when its period began and the fee now, and the spec promises that no reward earned
 * before an increase pays it. A period later the new fee is charged. */
static bool fee_up_start(run *r)
{
    const model *m = &r->m;
    uint64_t id = 1 + below(r, m->op_count), which = chance(r, 50) ? 0 : id;
    const m_operator *o = &m->ops[id];
    const m_fee *f = which == 0 ? &m->treasury_fee : &o->fee;
    uint64_t cur = fee_now(f, r->f.now), other = fee_other(m, which);
    if (o->balance == 0 || other >= BPS || cur >= BPS - other)
        return false;
    memset(&r->fu, 0, sizeof r->fu);
    r->fu.op_id = id;
    r->fu.which = which;
    r->script = SCRIPT_FEE_UP;
    r->phase = cur > 0 && chance(r, 30) ? 0 : 1;
    seen.fu_started++;
    return true;
}

static const m_fee *fu_fee(const run *r)
{
    return r->fu.which == 0 ? &r->m.treasury_fee : &r->m.ops[r->fu.op_id].fee;
}

static void fee_up_raise(run *r)
{
    model *m = begin(r);
    fee_up *fu = &r->fu;
    const m_operator *o = &m->ops[fu->op_id];
    uint64_t cur = fee_now(fu_fee(r), r->f.now), other = fee_other(m, fu->which);
    fu->before = cur;
    fu->raised = cur + 1 + (other + cur < BPS ? below(r, BPS - other - cur) : 0);
    fu->period_bps = fu->which == 0 ? o->period_treasury : o->period_fee;
    r->phase = 2;
    if (exec_fee_set(r, fu->which, fu->raised) != LEDGER_OK)
        r->script = SCRIPT_NONE;
}

static void fee_up_report(run *r, bool first)
{
    fee_up *fu = &r->fu;
    const m_operator *o = &r->m.ops[fu->op_id];
    if (first) /* at the time the increase takes effect, or a second later */
        r->f.now =
            (fu_fee(r)->pending_at > r->f.now ? fu_fee(r)->pending_at : r->f.now) + below(r, 2);
    else /* a period later */
        r->f.now += r->m.params[LEDGER_PARAM_EPOCH_S] * (1 + below(r, 24)) + below(r, 3600);
    time_for_epoch(r, o);
    model *m = begin(r);
    effect eff;
    uint64_t T = m->A + m->U, S = m->S, gain = pick_gain(r, o), epoch = valid_epoch(r, o);
    int rc = exec_report(r, o->key, fu->op_id, epoch, o->balance + gain, &eff);
    r->phase = first ? 3 : 4;
    if (rc != LEDGER_OK || eff.gain == 0) {
        r->script = SCRIPT_NONE;
        return;
    }
    uint64_t charged = fu->which == 0 ? eff.ct : eff.co, alt;
    if (!first) {
        seen.fu_new++;
        if (charged != fu->raised)
            fail(r, "fee increase: the next period is charged %" PRIu64 " bps, not %" PRIu64,
                 charged, fu->raised);
        r->script = SCRIPT_NONE;
        return;
    }
    if (fee_now(fu_fee(r), r->f.now) != fu->raised || charged != min64(fu->period_bps, fu->raised))
        fail(r, "fee increase: charged %" PRIu64 " bps (period %" PRIu64 ", now %" PRIu64 ")",
             charged, fu->period_bps, fu->raised);
    /* the ledger's fee shares (equal to the model's) differ from the raised fee's */
    if (fee_formula(eff.gain, eff.ct + eff.co - charged + fu->raised, T, S, &alt) &&
        alt != eff.fee_t + eff.fee_o)
        seen.fu_distinct++;
    if (charged <= fu->before) {
        seen.fu_old++;
        return;
    }
    /* charged above the fee in force before the increase: the period began at a higher fee, a
     * decrease applied, and the increase now reaches back over the time at the lower fee */
    if (seen.fu_reach_back++ < 3)
        printf(
            "finding (spec, Fees charged): LSTD_SEED=%" PRIu64 " run %" PRIu64 " step %" PRIu64
            ": period began at %" PRIu64 " bps, fee %" PRIu64 " bps until the increase to %" PRIu64
            ", report of gain %" PRIu64 " charged %" PRIu64 " bps\n",
            r->seed, r->run_no, r->step, fu->period_bps, fu->before, fu->raised, eff.gain, charged);
}

static void fee_up_step(run *r)
{
    switch (r->phase) {
    case 0: { /* a decrease first: it applies at once, to the whole period */
        begin(r);
        exec_fee_set(r, r->fu.which, below(r, fee_now(fu_fee(r), r->f.now)));
        r->phase = 1;
        break;
    }
    case 1:
        fee_up_raise(r);
        break;
    case 2:
        fee_up_report(r, true);
        break;
    default:
        fee_up_report(r, false);
        break;
    }
}

/* 4. Wipe-out. The buffer goes to an operator and the admin resets every operator to a balance
 * of 0: A reaches 0 (deposits POOL_EMPTY, shares worth 0, finalization POOL_EMPTY) until a
 * recovery report is accepted. */
static bool wipe_start(run *r)
{
    if (r->m.A == 0 || r->step < RUN_STEPS * 9 / 10) /* late in a run: the pool may stay empty */
        return false;
    r->script = SCRIPT_WIPE;
    r->phase = 0;
    return true;
}

static void wipe_step(run *r)
{
    model *m = begin(r);
    if (r->phase == 0) { /* into an operator that may take it all */
        uint64_t id = m->ops[1].active ? 1 : 2;
        exec_fund(r, FX_CUSTODIAN, id, m->buffer);
        r->phase = 1;
        return;
    }
    uint64_t id = (uint64_t)r->phase;
    exec_reset(r, FX_ADMIN, id, m_epoch_now(m, r->f.now), 0);
    if (++r->phase > (int)m->op_count) {
        r->script = SCRIPT_NONE;
        seen.wipes += m->A == 0;
    }
}

static void script_step(run *r)
{
    switch (r->script) {
    case SCRIPT_SANDWICH:
        sandwich_step(r);
        break;
    case SCRIPT_BUNKER:
        bunker_step(r);
        break;
    case SCRIPT_WIPE:
        wipe_step(r);
        break;
    default:
        fee_up_step(r);
        break;
    }
}

/* ---- checks ------------------------------------------------------------------------------- */

typedef struct snapshot {
    ledger_pool pool;
    ledger_account acct[SLOTS];
    ledger_operator ops[OPS];
} snapshot;

/* Reads go through the durable ledger's view: every batch is durable once fx_submit returns,
 * so it shows what a read snapshot of the committed store did. */
static bool read_snapshot(run *r, snapshot *s)
{
    ledger_store *v = store_db_view(r->f.store);
    int rc = ledger_read_pool(v, &s->pool);
    for (int i = 0; rc == LEDGER_OK && i < FX_KEYS; i++)
        rc = ledger_read_account(v, r->f.pk[i], &s->acct[i]);
    if (rc == LEDGER_OK)
        rc = ledger_read_account(v, ledger_dead_account, &s->acct[DEAD]);
    for (uint64_t id = 1; rc == LEDGER_OK && id <= r->m.op_count; id++)
        rc = ledger_read_operator(v, id, &s->ops[id]);
    if (rc != LEDGER_OK)
        fail(r, "reading the ledger state: %s", ledger_err_name(rc));
    return rc == LEDGER_OK;
}

typedef struct field {
    const char *name;
    u128 got, want;
} field;

static void check_fields(run *r, const char *where, const field *fs, size_t n)
{
    char got[40], want[40];
    for (size_t i = 0; i < n; i++)
        if (fs[i].got != fs[i].want)
            fail(r, "%s %s = %s, model %s", where, fs[i].name, ledger_u128_str(got, fs[i].got),
                 ledger_u128_str(want, fs[i].want));
}

/* The model's queue totals: pending requests' count, shares and sum of quotes. */
static void m_queue(const model *m, uint64_t *count, uint64_t *shares, u128 *amount)
{
    *count = *shares = 0;
    *amount = 0;
    for (uint64_t id = 1; id < m->next_req; id++)
        if (m->reqs[id].status == LEDGER_WD_PENDING) {
            ++*count;
            *shares += m->reqs[id].shares;
            *amount += m->reqs[id].quote;
        }
}

static void check_pool(run *r, const ledger_pool *p)
{
    const model *m = &r->m;
    uint64_t qc, qs;
    u128 qa;
    m_queue(m, &qc, &qs, &qa);
    const field fs[] = {
        {"assets", p->assets, m->A},
        {"shares", p->shares, m->S},
        {"buffer", p->buffer, m->buffer},
        {"unvested", p->unvested, m->U},
        {"vest_ts", p->vest_ts, m->vest_ts},
        {"vest_end", p->vest_end, m->vest_end},
        {"held_loss", p->held_loss, m_held_loss(m)},
        {"payable", p->payable, m->payable},
        {"total_deposited", p->total_deposited, m->deposited},
        {"total_rewards", p->total_rewards, m->rewards},
        {"total_slashed", p->total_slashed, m->slashed},
        {"total_paid", p->total_paid, m->paid},
        {"pause_flags", p->pause_flags, m->pause},
        {"next_lien_id", p->next_lien_id, m->next_lien},
        {"next_request_id", p->next_request_id, m->next_req},
        {"finalized_through", p->finalized_through, m->finalized_through},
        {"queue_count", p->queue_count, qc},
        {"queue_shares", p->queue_shares, qs},
        {"queue_amount", p->queue_amount, qa},
        {"operator_count", p->operator_count, m->op_count},
        {"treasury fee bps", p->treasury_fee.bps, m->treasury_fee.bps},
        {"treasury fee pending_bps", p->treasury_fee.pending_bps, m->treasury_fee.pending_bps},
        {"treasury fee pending_at", p->treasury_fee.pending_at, m->treasury_fee.pending_at},
        {"stake_limit_current", p->stake_limit_current, m->stake_current},
        {"stake_limit_ts", p->stake_limit_ts, m->stake_ts},
        {"epoch_anchor", p->epoch_anchor, m->epoch_anchor},
        {"epoch_anchor_ts", p->epoch_anchor_ts, m->epoch_anchor_ts},
        {"dead_shares", p->dead_shares, r->f.genesis.dead_shares},
    };
    check_fields(r, "pool", fs, sizeof fs / sizeof fs[0]);
    for (unsigned i = 1; i < LEDGER_PARAM_COUNT; i++)
        if (p->params[i] != m->params[i])
            fail(r, "pool param %u = %" PRIu64 ", model %" PRIu64, i, p->params[i], m->params[i]);
}

static void check_operators(run *r, const snapshot *s)
{
    for (uint64_t id = 1; id <= r->m.op_count; id++) {
        const ledger_operator *g = &s->ops[id];
        const m_operator *o = &r->m.ops[id];
        const char *where = id == 1 ? "operator 1" : "operator 2";
        const field fs[] = {
            {"balance", g->balance, o->balance},
            {"reported_balance", g->reported_balance, o->reported},
            {"funded_since", g->funded_since, o->funded},
            {"exited_since", g->exited_since, o->exited},
            {"active", g->active, o->active},
            {"last_epoch", g->last_epoch, o->last_epoch},
            {"last_report_ts", g->last_report_ts, o->last_report_ts},
            {"period_fee_bps", g->period_fee_bps, o->period_fee},
            {"period_treasury_bps", g->period_treasury_bps, o->period_treasury},
            {"report_count", g->report_count, o->report_count},
            {"held_epoch", g->held_epoch, o->held_epoch},
            {"held_balance", g->held_balance, o->held_balance},
            {"fees_earned", g->fees_earned, o->fees_earned},
            {"fee bps", g->fee.bps, o->fee.bps},
            {"fee pending_bps", g->fee.pending_bps, o->fee.pending_bps},
            {"fee pending_at", g->fee.pending_at, o->fee.pending_at},
        };
        check_fields(r, where, fs, sizeof fs / sizeof fs[0]);
        for (int i = 0; i < LEDGER_REPORTS_KEPT; i++) {
            const ledger_report_entry *ge = &g->reports[i];
            const m_report *me = &o->reports[i];
            if (ge->epoch != me->epoch || ge->balance != me->balance || ge->timestamp != me->ts ||
                ge->gain != me->gain || ge->loss != me->loss || ge->fee_shares != me->fee_shares)
                fail(r,
                     "%s report slot %d: epoch %" PRIu64 " balance %" PRIu64 " time %" PRIu64
                     " gain %" PRIu64 " loss %" PRIu64 " fee shares %" PRIu64 ", model %" PRIu64
                     " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64,
                     where, i, ge->epoch, ge->balance, ge->timestamp, ge->gain, ge->loss,
                     ge->fee_shares, me->epoch, me->balance, me->ts, me->gain, me->loss,
                     me->fee_shares);
        }
    }
}

/* Model-internal bookkeeping: locked = liens owned, queued = pending requests, payable. */
static void check_model_sums(run *r)
{
    model *m = &r->m;
    uint64_t locked[SLOTS] = {0}, queued[SLOTS] = {0};
    u128 payable = 0;
    for (uint64_t id = 1; id < m->next_lien; id++)
        locked[m->liens[id].owner] += m->liens[id].shares;
    for (uint64_t id = 1; id < m->next_req; id++) {
        if (m->reqs[id].status == LEDGER_WD_PENDING)
            queued[m->reqs[id].owner] += m->reqs[id].shares;
        if (m->reqs[id].status == LEDGER_WD_FINALIZED)
            payable += m->reqs[id].paid;
    }
    for (int i = 0; i < SLOTS; i++) {
        eq(r, "model locked vs liens", i, m->acct[i].locked, locked[i]);
        eq(r, "model queued vs requests", i, m->acct[i].queued, queued[i]);
    }
    if (payable != m->payable)
        fail(r, "model payable differs from its finalized requests");
}

/* The documented invariants, on the ledger's own records. */
static void check_invariants(run *r, const snapshot *s)
{
    const ledger_pool *p = &s->pool;
    u128 total = 0, balances = 0;
    uint64_t held = 0;
    for (int i = 0; i < SLOTS; i++)
        total += (u128)s->acct[i].shares + s->acct[i].locked + s->acct[i].queued;
    if (total != p->shares)
        fail(r, "sum of free + liened + queued shares != S %" PRIu64, p->shares);
    for (uint64_t id = 1; id <= r->m.op_count; id++) {
        const ledger_operator *o = &s->ops[id];
        balances += o->balance;
        held += op_held_loss(o->held_epoch, o->held_balance, o->balance);
        if ((u128)o->reported_balance + o->funded_since != (u128)o->balance + o->exited_since)
            fail(r, "operator %" PRIu64 ": balance != reported + funded - exited", id);
    }
    u128 assets = (u128)p->assets + p->unvested;
    if (assets + p->total_slashed + p->total_paid != p->total_deposited + p->total_rewards)
        fail(r, "A + U != deposited + rewards - slashed - paid");
    if (assets != (u128)p->buffer + balances)
        fail(r, "A %" PRIu64 " + U %" PRIu64 " != buffer %" PRIu64 " + operator balances",
             p->assets, p->unvested, p->buffer);
    if (p->unvested > 0 && p->vest_end <= p->vest_ts)
        fail(r, "unvested %" PRIu64 " with no schedule left", p->unvested);
    if (held != p->held_loss)
        fail(r, "held loss %" PRIu64 " != sum over held reports %" PRIu64, p->held_loss, held);
    if (p->shares < p->dead_shares || s->acct[DEAD].shares != p->dead_shares)
        fail(r, "the dead shares moved");
    /* the rate A/S never falls except by a slash */
    if (!r->slashed && (u128)p->assets * r->prev_S < (u128)r->prev_A * p->shares)
        fail(r, "rate fell from %" PRIu64 "/%" PRIu64 " to %" PRIu64 "/%" PRIu64, r->prev_A,
             r->prev_S, p->assets, p->shares);
    r->prev_A = p->assets;
    r->prev_S = p->shares;
}

static void check_state(run *r)
{
    snapshot s;
    memset(&s, 0, sizeof s);
    if (!read_snapshot(r, &s))
        return;
    check_pool(r, &s.pool);
    check_operators(r, &s);
    check_model_sums(r);
    for (int i = 0; i < SLOTS; i++) {
        const ledger_account *a = &s.acct[i];
        const m_account *b = &r->m.acct[i];
        eq(r, "free shares of slot", i, a->shares, b->free);
        eq(r, "locked shares of slot", i, a->locked, b->locked);
        eq(r, "queued shares of slot", i, a->queued, b->queued);
        eq(r, "nonce of slot", i, a->nonce, b->nonce);
        /* no rounding leak: shares held never exceed the exact entitlement */
        if (i != DEAD && ent_of(a->shares) + ent_of(a->locked) + ent_of(a->queued) > b->ent)
            fail(r, "slot %d holds more shares than its exact entitlement", i);
    }
    check_invariants(r, &s);
}

static void check_liens(run *r, ledger_store *v)
{
    for (uint64_t id = 1; id < r->m.next_lien; id++) {
        const m_lien *l = &r->m.liens[id];
        ledger_lien g;
        int rc = ledger_read_lien(v, id, &g);
        if (l->shares == 0) {
            if (rc != LEDGER_STORE_NOTFOUND)
                fail(r, "lien %" PRIu64 " should be gone: %s", id, ledger_err_name(rc));
            continue;
        }
        if (rc != LEDGER_OK || g.shares != l->shares || g.expiry != l->expiry ||
            memcmp(g.owner, r->f.pk[l->owner], 32) != 0 ||
            memcmp(g.beneficiary, r->f.pk[l->ben], 32) != 0)
            fail(r, "lien %" PRIu64 " differs from the model (%s)", id, ledger_err_name(rc));
    }
}

static void check_requests(run *r, ledger_store *v)
{
    for (uint64_t id = 1; id < r->m.next_req; id++) {
        const m_request *w = &r->m.reqs[id];
        ledger_withdrawal g;
        int rc = ledger_read_withdrawal(v, id, &g);
        if (rc != LEDGER_OK || g.shares != w->shares || g.amount_at_request != w->quote ||
            g.min_amount_out != w->min_out || g.status != w->status || g.paid != w->paid ||
            memcmp(g.owner, r->f.pk[w->owner], 32) != 0)
            fail(r,
                 "withdrawal %" PRIu64 " differs from the model (%s, status %" PRIu64 "/%" PRIu64
                 ", paid %" PRIu64 "/%" PRIu64 ")",
                 id, ledger_err_name(rc), g.status, w->status, g.paid, w->paid);
    }
}

static void check_allowances(run *r, ledger_store *v)
{
    for (int i = 0; i < HOLDERS; i++)
        for (int j = 0; j < HOLDERS; j++) {
            uint64_t got = 0;
            int rc = ledger_read_allowance(v, r->f.pk[holders[i]], r->f.pk[holders[j]], &got);
            if (rc != LEDGER_OK || got != r->m.allowance[holders[i]][holders[j]])
                fail(r, "allowance %d -> %d = %" PRIu64 ", model %" PRIu64, holders[i], holders[j],
                     got, r->m.allowance[holders[i]][holders[j]]);
        }
}

/* The whole-store check plus every lien, request and allowance against the model. */
static void sweep(run *r)
{
    int before = test_failures;
    fx_check(&r->f);
    if (test_failures != before)
        fail(r, "ledger_check reported a violation (above)");
    ledger_store *v = store_db_view(r->f.store);
    check_liens(r, v);
    check_requests(r, v);
    check_allowances(r, v);
}

/* ---- the random walk ---------------------------------------------------------------------- */

typedef void (*op_fn)(run *r);

static const struct {
    op_fn fn;
    unsigned weight;
} op_table[] = {
    {do_deposit, 14},
    {do_transfer, 9},
    {do_approve, 5},
    {do_transfer_from, 6},
    {do_lock, 6},
    {do_release, 5},
    {do_seize, 4},
    {do_withdraw_request, 9},
    {do_withdraw_cancel, 3},
    {do_withdraw_finalize, 6},
    {do_withdraw_settle, 4},
    {do_operator_fund, 5},
    {do_operator_exit, 4},
    {do_report, 7},
    {do_report_accept, 1},
    {do_operator_reset, 1},
    {do_fee_set, 2},
    {do_param_set, 2},
    {do_pause_set, 1},
    {do_set_active, 1},
    {do_time, 6},
};

static op_fn pick_op(run *r)
{
    unsigned total = 0;
    if (r->script != SCRIPT_NONE)
        return script_step;
    uint64_t x = below(r, 1000);
    if ((x < 15 && sandwich_start(r)) || (x >= 15 && x < 27 && bunker_start(r)) ||
        (x >= 27 && x < 39 && fee_up_start(r)) || (x >= 39 && x < 49 && wipe_start(r)))
        return script_step;
    if (r->want_unpause && chance(r, 35))
        return do_pause_set;
    if (r->want_accept && chance(r, 70))
        return do_report_accept;
    if (r->want_drain && chance(r, 70))
        return do_withdraw_finalize;
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
        total += op_table[i].weight;
    x = below(r, total);
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++) {
        if (x < op_table[i].weight)
            return op_table[i].fn;
        x -= op_table[i].weight;
    }
    return do_time;
}

static void tweak(ledger_genesis *g)
{
    switch (genesis_variant) {
    case 1: /* no fees, many dead shares, generous limits, rewards vest at once */
        g->dead_shares = 1000000000;
        g->treasury_fee_bps = 0;
        g->operators[0].fee_bps = 0;
        g->params[LEDGER_PARAM_MAX_APR_BPS] = 5000;
        g->params[LEDGER_PARAM_MAX_DROP_BPS] = 2000;
        g->params[LEDGER_PARAM_VEST_S] = 0;
        break;
    case 2: /* high fees, short fee delay and vesting, operator cap and a stake limit */
        g->treasury_fee_bps = 2000;
        g->operators[0].fee_bps = 3000;
        g->params[LEDGER_PARAM_FEE_DELAY_S] = 3600;
        g->params[LEDGER_PARAM_OPERATOR_CAP_BPS] = 6000;
        g->params[LEDGER_PARAM_STAKE_LIMIT_MAX] = 5 * TRILLION;
        g->params[LEDGER_PARAM_STAKE_LIMIT_REFILL] = 50000000;
        g->params[LEDGER_PARAM_VEST_S] = 3600;
        break;
    case 3: /* small deposits, 12 s epochs from just before genesis, the shortest sandwich vest */
        g->treasury_fee_bps = 700;
        g->operators[0].fee_bps = 300;
        g->epoch_origin = g->timestamp - 7;
        g->params[LEDGER_PARAM_EPOCH_S] = 12;
        g->params[LEDGER_PARAM_VEST_S] = SANDWICH_VEST_S_MIN;
        break;
    default: /* the defaults: LEDGER_DEAD_SHARES_MIN dead shares */
        break;
    }
}

static void model_init(run *r)
{
    model *m = &r->m;
    const ledger_genesis *g = &r->f.genesis;
    m->acct[DEAD].free = g->dead_shares;
    m->A = m->S = m->buffer = g->dead_shares;
    m->deposited = g->dead_shares;
    m->vest_ts = m->vest_end = g->timestamp; /* an empty schedule, as genesis writes it */
    m->vested_at = m->last_batch = g->timestamp;
    m->epoch_anchor_ts = g->epoch_origin; /* epoch 0 starts at epoch_origin */
    m->next_lien = m->next_req = 1;
    m->op_count = 1;
    memcpy(m->params, g->params, sizeof m->params);
    m->stake_current = g->params[LEDGER_PARAM_STAKE_LIMIT_MAX];
    m->stake_ts = g->timestamp;
    m->treasury_fee.bps = g->treasury_fee_bps;
    m->ops[1] = (m_operator){.key = FX_OPERATOR, .fee_slot = FX_OPFEE, .active = 1};
    m->ops[1].fee.bps = m->ops[1].period_fee = g->operators[0].fee_bps;
    m->ops[1].period_treasury = g->treasury_fee_bps;
    m->ops[1].last_report_ts = g->timestamp;
    m_grow(r);
    r->prev_A = m->A;
    r->prev_S = m->S;
}

static void register_operator2(run *r)
{
    static const uint64_t fees[] = {1000, 0, 2000, 500};
    uint64_t fee = fees[genesis_variant];
    model *m = begin(r);
    expect e = {.out = {2}};
    describe(r, "operator_register 2 fee %" PRIu64, fee);
    ledger_result res = submit(r, FX_ADMIN, LEDGER_TX_OPERATOR_REGISTER, OP2, OP2, 0, fee, 0);
    if (!check_result(r, &res, &e))
        return;
    m->ops[2] = (m_operator){.key = OP2, .fee_slot = OP2, .active = 1};
    m->ops[2].fee.bps = m->ops[2].period_fee = fee;
    m->ops[2].period_treasury = fee_now(&m->treasury_fee, r->f.now);
    m->ops[2].last_report_ts = r->f.now;
    m->op_count = 2;
}

static void run_walk(uint64_t seed, uint64_t run_no, uint64_t steps)
{
    run *r = calloc(1, sizeof *r);
    if (r == NULL)
        abort();
    r->seed = seed;
    r->run_no = run_no;
    test_rng_seed(&r->rng, seed ^ (run_no * UINT64_C(0x9e3779b97f4a7c15)));
    genesis_variant = (int)(run_no % 4);
    fx_open(&r->f, tweak);
    model_init(r);
    register_operator2(r);
    if (!r->failed)
        check_state(r);
    for (r->step = 1; r->step <= steps && !r->failed; r->step++) {
        r->slashed = false;
        op_fn fn = pick_op(r);
        if (fn == do_report_accept)
            r->want_accept = false;
        fn(r);
        r->want_drain = r->want_drain && fn == do_operator_fund;
        r->want_unpause = r->m.pause != 0;
        if (!r->failed)
            check_state(r);
        seen.empty_steps += r->m.A == 0;
        if (!r->failed && r->step % CHECK_EVERY == 0)
            sweep(r);
    }
    if (!r->failed) {
        snprintf(r->desc, sizeof r->desc, "final sweep");
        sweep(r);
    }
    seen.sw_pending_end += r->sw.pending;
    fx_close(&r->f);
    free(r->m.liens);
    free(r->m.reqs);
    free(r);
}

/* ---- scripted scenarios ------------------------------------------------------------------- */

static uint64_t value_of(const ledger_pool *p, uint64_t shares)
{
    return (uint64_t)((u128)shares * p->assets / p->shares);
}

static uint64_t deposit_shares(const ledger_pool *p, uint64_t amount)
{
    return (uint64_t)((u128)amount * p->shares / p->assets);
}

/* A transaction that changes nothing, so that a batch vests the pool to the fixture's time. */
static void touch(fixture *f)
{
    ledger_result res = fx_do(f, FX_ADMIN, LEDGER_TX_PAUSE_SET, FX_NONE, FX_NONE, 0, 0, 0);
    CHECK_CODE(res.code, LEDGER_OK);
}

/* The epoch running at the fixture's time (the pool's anchors, the genesis EPOCH_S). */
static uint64_t fx_epoch(fixture *f)
{
    return ledger_epoch_at((ledger_pool[]){fx_pool(f)}, f->now);
}

/* ---- first-depositor inflation attack ------------------------------------------------------ */

typedef struct attack {
    fixture f;
    int attacker, victim;
    uint64_t a;            /* attacker's shares */
    uint64_t s_pre, a_pre; /* pool before the rewards */
    uint64_t gain;         /* total reward reported */
    bool strict;           /* fees > 0: the attacker stays below its pro-rata reward alone */
    uint64_t bound;        /* attacker value bound: pro-rata reward + share of victims' dust */
    uint64_t victim_shares, victim_floor;
} attack;

/* The victim deposits x: loss at most one share's worth; the attacker gains at most its
 * pro-rata part of that rounding loss. */
static void victim_deposit(attack *t, uint64_t x)
{
    ledger_pool p = fx_pool(&t->f);
    uint64_t m = deposit_shares(&p, x), rate_ceil = (p.assets + p.shares - 1) / p.shares;
    uint64_t att_before = value_of(&p, t->a);
    ledger_result res = fx_do(&t->f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, t->victim, FX_NONE, 0, x, 0);
    if (m == 0) {
        CHECK_CODE(res.code, LEDGER_DEPOSIT_TOO_SMALL);
        CHECK_U64(fx_pool(&t->f).assets, p.assets);
        return;
    }
    CHECK_CODE(res.code, LEDGER_OK);
    CHECK_U64(res.out[0], m);
    ledger_pool q = fx_pool(&t->f);
    uint64_t v = value_of(&q, m), loss = x > v ? x - v : 0, att = value_of(&q, t->a);
    if (v + rate_ceil < x) {
        fprintf(stderr,
                "inflation: victim deposit %" PRIu64 " is worth %" PRIu64
                ", more than one share (%" PRIu64 ") lost\n",
                x, v, rate_ceil);
        test_failures++;
    }
    t->bound += (uint64_t)ceil_div((u128)t->a * loss, p.shares);
    CHECK(att <= att_before + ceil_div((u128)t->a * loss, p.shares));
    CHECK(att <= t->bound);
    if (t->strict)
        CHECK((u128)att * t->s_pre <= (u128)t->a * (t->a_pre + t->gain));
    t->victim_shares += m;
    t->victim_floor += x - rate_ceil;
}

static void victims(attack *t)
{
    ledger_pool p = fx_pool(&t->f);
    uint64_t rate = (p.assets + p.shares - 1) / p.shares;
    const uint64_t xs[] = {1,          rate - 1,     rate,
                           rate + 1,   2 * rate - 1, 10 * rate + rate / 2,
                           1000000000, TRILLION,     123456789012};
    t->bound = (uint64_t)((u128)t->a * (t->a_pre + t->gain) / t->s_pre);
    CHECK(value_of(&p, t->a) <= t->bound);
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        if (xs[i] > 0)
            victim_deposit(t, xs[i]);
}

/* Both withdraw everything: the attacker gets no more than its bound, the victim no less than
 * what it put in minus one share's worth per deposit. */
static void attack_withdraw(attack *t)
{
    ledger_operator o = fx_operator(&t->f, 1);
    ledger_result res =
        fx_do(&t->f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_EXIT, FX_NONE, FX_NONE, 1, o.balance, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    res = fx_do(&t->f, t->attacker, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, t->a, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    res = fx_do(&t->f, t->victim, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, t->victim_shares,
                0);
    CHECK_CODE(res.code, LEDGER_OK);
    res = fx_do(&t->f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 0, 0, 0);
    CHECK_CODE(res.code, LEDGER_FINALIZE_NOTHING);
    res = fx_do(&t->f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 2, 0, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    CHECK_U64(res.out[0], 2);
    uint64_t paid_attacker = fx_withdrawal(&t->f, 1).paid,
             paid_victim = fx_withdrawal(&t->f, 2).paid;
    CHECK(paid_attacker <= t->bound);
    CHECK(paid_victim >= t->victim_floor);
    fx_check(&t->f);
}

static void attack_start(attack *t, void (*tw)(ledger_genesis *))
{
    memset(t, 0, sizeof *t);
    fx_open(&t->f, tw);
    t->attacker = FX_USER;
    t->victim = FX_USER + 1;
    ledger_result res =
        fx_do(&t->f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, t->attacker, FX_NONE, 0, 1, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    t->a = res.out[0];
    CHECK_U64(t->a, 1);
    ledger_pool p = fx_pool(&t->f);
    CHECK(p.shares >= LEDGER_DEAD_SHARES_MIN + 1);
    t->s_pre = p.shares;
    t->a_pre = p.assets;
    t->strict = t->f.genesis.treasury_fee_bps + t->f.genesis.operators[0].fee_bps > 0;
    res = fx_do(&t->f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 1000000, 0);
    CHECK_CODE(res.code, LEDGER_OK);
}

static void no_fees(ledger_genesis *g)
{
    g->treasury_fee_bps = 0;
    g->operators[0].fee_bps = 0;
}

/* A colluding operator reports a huge gain right after a 1-unit deposit; the admin accepts;
 * the victims come once it has vested into the rate. */
static void scenario_inflation_big(void (*tw)(ledger_genesis *))
{
    attack t;
    const uint64_t g = UINT64_C(1000000000000000);
    attack_start(&t, tw);
    t.f.now += 86400;
    uint64_t epoch = fx_epoch(&t.f);
    ledger_result res =
        fx_do(&t.f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, 1000000 + g, epoch);
    CHECK_CODE(res.code, LEDGER_REPORT_APR_EXCEEDED);
    res = fx_do(&t.f, FX_ADMIN, LEDGER_TX_REPORT_ACCEPT, FX_NONE, FX_NONE, 1, 1000000 + g, epoch);
    CHECK_CODE(res.code, LEDGER_OK);
    CHECK_U64(res.out[0], g);
    t.gain = g;
    t.f.now += t.f.genesis.params[LEDGER_PARAM_VEST_S];
    touch(&t.f);
    CHECK_U64(fx_pool(&t.f).unvested, 0);
    victims(&t);
    attack_withdraw(&t);
    fx_close(&t.f);
}

/* The same with many gains each at the APR limit (the limit + 1 is rejected first). */
static void scenario_inflation_small(void)
{
    attack t;
    attack_start(&t, NULL);
    uint64_t apr = t.f.genesis.params[LEDGER_PARAM_MAX_APR_BPS];
    uint64_t epoch_s = t.f.genesis.params[LEDGER_PARAM_EPOCH_S], epoch = 0;
    t.f.now += 30 * 86400;
    for (int i = 0; i < 200; i++) {
        ledger_operator o = fx_operator(&t.f, 1);
        uint64_t elapsed = t.f.now - o.last_report_ts;
        uint64_t max_gain = (uint64_t)((u128)apr * o.balance * elapsed / (YEAR_S * BPS));
        epoch += i == 0 ? 1 : 10000;
        if (i % 50 == 0) {
            ledger_result over = fx_do(&t.f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1,
                                       o.balance + max_gain + 1, epoch);
            CHECK_CODE(over.code, LEDGER_REPORT_APR_EXCEEDED);
        }
        ledger_result res = fx_do(&t.f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1,
                                  o.balance + max_gain, epoch);
        CHECK_CODE(res.code, LEDGER_OK);
        CHECK_U64(res.out[0], max_gain);
        t.gain += max_gain;
        t.f.now += 10000 * epoch_s;
    }
    CHECK(t.gain > 5 * t.a_pre); /* the rate grew several-fold */
    touch(&t.f);                 /* the last gain vests */
    victims(&t);
    attack_withdraw(&t);
    fx_close(&t.f);
}

/* ---- the audit's sandwich and held-slash exit, at its figures ------------------------------ */

/* Pool 10^12 (and the seed), one day's reward at the 10% APR limit (273,972,602), fees 10%: a
 * trader deposits 10^12 just before the report and requests everything a second after it. Before
 * reward smoothing it took 123,287,609 (45% of the reward); now at most 1%, and the holder keeps at
 * least 99% of its pro-rata reward once it has vested. */
static void scenario_sandwich(void)
{
    fixture f;
    const int holder = FX_USER, trader = FX_USER + 1;
    fx_open(&f, NULL);
    uint64_t dead = f.genesis.dead_shares, fee_bps = 500 + 500;
    ledger_result res = fx_do(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, holder, FX_NONE, 0, TRILLION, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    /* the seed stays in the buffer, which must pay the trader a little more than its deposit */
    res = fx_do(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, TRILLION, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    f.now += 86400;
    uint64_t gain = (uint64_t)((u128)1000 * TRILLION * 86400 / (YEAR_S * BPS));
    CHECK_U64(gain, 273972602);
    res = fx_do(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, trader, FX_NONE, 0, TRILLION, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    uint64_t shares = res.out[0];
    res = fx_do(&f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, TRILLION + gain,
                fx_epoch(&f));
    CHECK_CODE(res.code, LEDGER_OK);
    CHECK_U64(res.out[0], gain);
    f.now += 1;
    res = fx_do(&f, trader, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, shares, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    res = fx_do(&f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 1, 0, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    CHECK_U64(fx_withdrawal(&f, 1).status, LEDGER_WD_FINALIZED);
    uint64_t paid = fx_withdrawal(&f, 1).paid, taken = paid > TRILLION ? paid - TRILLION : 0;
    CHECK((u128)100 * taken <= gain);
    f.now += f.genesis.params[LEDGER_PARAM_VEST_S];
    touch(&f);
    ledger_pool p = fx_pool(&f);
    uint64_t h = fx_account(&f, holder).shares, kept = value_of(&p, h) - TRILLION;
    u128 fair = (u128)gain * (BPS - fee_bps) / BPS * h / (h + dead);
    CHECK((u128)100 * kept >= 99 * fair);
    printf("audit sandwich: trader took %" PRIu64 " of a reward of %" PRIu64 " (%" PRIu64
           " ppm); the holder kept %" PRIu64 " of its fair %" PRIu64 "\n",
           taken, gain, ppm_of(taken, gain), kept, (uint64_t)fair);
    fx_check(&f);
    fx_close(&f);
}

/* A -20% report is held; a holder of a fifth of the pool exits while it is held, then the admin
 * accepts it: the exiter keeps the same fraction of its value as the stayer (before bunker
 * mode it was paid in full and the stayers carried its part of the loss). */
static void scenario_bunker(void)
{
    fixture f;
    const int stayer = FX_USER, exiter = FX_USER + 1;
    const uint64_t unit = 1000000000;
    fx_open(&f, NULL);
    uint64_t dead = f.genesis.dead_shares;
    ledger_result res =
        fx_do(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, stayer, FX_NONE, 0, 4 * unit - dead, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    res = fx_do(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, exiter, FX_NONE, 0, unit, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    res = fx_do(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 4 * unit, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    f.now += 3600;
    uint64_t epoch = fx_epoch(&f), held = 4 * unit - 4 * unit / 5;
    res = fx_do(&f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, held, epoch);
    CHECK_CODE(res.code, LEDGER_REPORT_DROP_EXCEEDED);
    CHECK_U64(fx_pool(&f).held_loss, 4 * unit / 5);
    res = fx_do(&f, exiter, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, unit, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    CHECK_U64(res.out[1], unit); /* quoted at the booked rate */
    res = fx_do(&f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 1, 0, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    uint64_t paid = res.out[1];
    res = fx_do(&f, FX_ADMIN, LEDGER_TX_REPORT_ACCEPT, FX_NONE, FX_NONE, 1, held, epoch);
    CHECK_CODE(res.code, LEDGER_OK);
    ledger_pool p = fx_pool(&f);
    /* pre-hold rate 1: the exiter's fraction paid/unit, the stayer's A/S */
    CHECK((u128)paid * p.shares <= (u128)unit * p.assets);
    CHECK((u128)unit * p.assets - (u128)paid * p.shares <= (u128)p.shares + unit);
    printf("audit held slash: the exiter was paid %" PRIu64 " for %" PRIu64 " (%" PRIu64
           " ppm), a stayer keeps %" PRIu64 " ppm\n",
           paid, unit, ppm_of(paid, unit), ppm_of(p.assets, p.shares));
    fx_check(&f);
    fx_close(&f);
}

/* The operator's fee shares, valued once everything has vested, for a 7-day reward reported at
 * `offset` seconds from the time a fee increase takes effect, after the operator fee went
 * 5% -> 1% (at once) -> 5% (scheduled) in the same period. */
static uint64_t reach_back_fee(int64_t offset, uint64_t *gain)
{
    fixture f;
    fx_open(&f, NULL);
    ledger_result res =
        fx_do(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, FX_USER, FX_NONE, 0, TRILLION, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    res = fx_do(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, TRILLION, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    res = fx_do(&f, FX_ADMIN, LEDGER_TX_FEE_SET, FX_NONE, FX_NONE, 1, 100, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    res = fx_do(&f, FX_ADMIN, LEDGER_TX_FEE_SET, FX_NONE, FX_NONE, 1, 500, 0);
    CHECK_CODE(res.code, LEDGER_OK);
    f.now = (uint64_t)((int64_t)res.out[1] + offset);
    ledger_operator o = fx_operator(&f, 1);
    *gain = (uint64_t)((u128)1000 * o.balance * (f.now - o.last_report_ts) / (YEAR_S * BPS));
    res = fx_do(&f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, o.balance + *gain,
                fx_epoch(&f));
    CHECK_CODE(res.code, LEDGER_OK);
    uint64_t fee_shares = res.out[3];
    f.now += f.genesis.params[LEDGER_PARAM_VEST_S];
    touch(&f);
    ledger_pool p = fx_pool(&f);
    fx_close(&f);
    return value_of(&p, fee_shares);
}

/* "Fees charged" promises that no reward earned before an increase pays it; its rule, the lower
 * of the fee when the period began and the fee now, charges an increase that follows a decrease
 * in the same period on the whole period. Printed, not checked: the walk holds the ledger to the
 * rule, and this is the case for the spec to decide. */
static void scenario_fee_reach_back(void)
{
    uint64_t gain_before, gain_at;
    uint64_t before = reach_back_fee(-1, &gain_before), at = reach_back_fee(0, &gain_at);
    printf(
        "fee reach-back: operator fee 5%% -> 1%% -> 5%% in one period; a 7-day reward of %" PRIu64
        " reported 1 s before the raise takes effect pays the operator %" PRIu64
        ", reported at it (%" PRIu64 ") %" PRIu64 "\n",
        gain_before, before, gain_at, at);
}

/* ---- main --------------------------------------------------------------------------------- */

static void print_coverage(void)
{
    printf("result codes reached:");
    for (int c = 0; c < CODES; c++)
        if (code_seen[c] > 0)
            printf(" %s=%lu", ledger_err_name(c), code_seen[c]);
    printf("\nevents: returned %lu, slashes %lu, accepted %lu, owner releases %lu, fee increases "
           "applied %lu, vesting gains %lu, bunker finalizations %lu, resets %lu, future epochs "
           "%lu, parameters set %lu, epoch re-anchors %lu, unrecorded (signer holding nothing) "
           "%lu\n",
           seen.returned, seen.slashes, seen.accepted, seen.owner_releases, seen.fee_matured,
           seen.vested_gains, seen.bunker_finalized, seen.resets, seen.future_epochs,
           seen.params_set, seen.reanchors, seen.unrecorded);
    printf("sandwiches: %lu started, %lu requested, %lu checked at finalization (%lu with no "
           "older reward vesting), %lu abandoned, %lu pending at the end; max take from the "
           "report's gain %" PRIu64 " ppm of it (quote %" PRIu64 " ppm); holders' max loss "
           "beyond the attacker's take %" PRIu64 " ppm of the gain (%" PRIu64 " ppm of the "
           "fee-share bound)\n",
           seen.sw_started, seen.sw_requested, seen.sw_checked, seen.sw_literal, seen.sw_abandoned,
           seen.sw_pending_end, seen.sw_gain_ppm_max, seen.sw_report_ppm_max,
           seen.sw_holder_ppm_max, seen.sw_fee_ppm_max);
    printf("exits during a held loss: %lu started, %lu finalized in bunker mode (%lu checked "
           "exactly), %lu abandoned; the old rate would have paid %s base units more; max "
           "shortfall of an exit of 10^6 or more against a stayer %" PRIu64 " ppm\n",
           seen.bk_started, seen.bk_exits, seen.bk_exact, seen.bk_abandoned,
           ledger_u128_str((char[40]){0}, seen.bk_escape_prevented), seen.bk_shortfall_ppm_max);
    printf("wipe-outs: %lu reached A = 0, %lu steps taken at A = 0\n", seen.wipes,
           seen.empty_steps);
    printf("fee increases: %lu started, %lu reports charged the old fee (%lu distinguishable), "
           "%lu next-period reports charged the new one, %lu charged above the fee in force "
           "before the increase\n",
           seen.fu_started, seen.fu_old, seen.fu_distinct, seen.fu_new, seen.fu_reach_back);
}

int main(void)
{
    uint64_t seed = test_seed();
    iterations = test_env_u64("LSTD_ITERATIONS", 24000);
    for (uint64_t run_no = 0; run_no * RUN_STEPS < iterations; run_no++) {
        uint64_t left = iterations - run_no * RUN_STEPS;
        run_walk(seed, run_no, left < RUN_STEPS ? left : RUN_STEPS);
    }
    print_coverage();
    scenario_inflation_big(NULL);
    scenario_inflation_big(no_fees);
    scenario_inflation_small();
    scenario_sandwich();
    scenario_bunker();
    scenario_fee_reach_back();
    return test_finish("test_property");
}
