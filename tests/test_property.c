/* test_property.c - random operation sequences checked step by step against a reference model */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "test_util.h"

/* The model keeps its own state and its own arithmetic (128-bit, from the documented formulas);
 * it never copies a value out of the ledger. After every step the ledger must agree with it,
 * and the pool invariants are checked on the ledger's own records. */

__extension__ typedef unsigned __int128 u128;

enum {
    USERS = 10,        /* FX_USER + 0 .. 9 */
    OP2 = FX_KEYS - 1, /* operator 2: its key is also its fee account */
    DEAD = FX_KEYS,    /* model slot of ledger_dead_account */
    SLOTS = FX_KEYS + 1,
    OPS = 3,         /* operators 1 and 2 (index 0 unused) */
    ENT_BITS = 20,   /* fraction bits of the share entitlement */
    RUN_STEPS = 750, /* steps per run; LSTD_ITERATIONS is split into runs */
    CHECK_EVERY = 100,
    CODES = 1000,
};

#define BPS ((uint64_t)LEDGER_BPS)
#define YEAR_S UINT64_C(31536000)
#define ELAPSED_MAX (UINT64_C(1) << 32)
#define TRILLION UINT64_C(1000000000000)

static const int holders[] = {FX_USER,     FX_USER + 1, FX_USER + 2, FX_USER + 3, FX_USER + 4,
                              FX_USER + 5, FX_USER + 6, FX_USER + 7, FX_USER + 8, FX_USER + 9,
                              FX_TREASURY, FX_OPFEE,    OP2};
#define HOLDERS ((int)(sizeof holders / sizeof holders[0]))

/* ---- the reference model ------------------------------------------------------------------ */

typedef struct m_fee {
    uint64_t bps, pending_bps, pending_at;
} m_fee;

typedef struct m_account {
    uint64_t free, locked, queued, nonce;
    u128 ent; /* upper bound of the exact share entitlement, in units of 2^-ENT_BITS shares */
} m_account;

typedef struct m_operator {
    int key, fee_slot;
    uint64_t active, balance, reported, funded, exited;
    uint64_t last_epoch, last_report_ts, report_count, held_epoch, held_balance, fees_earned;
    m_fee fee;
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
    uint64_t A, S, buffer, payable, deposited, rewards, slashed, paid;
    uint64_t pause, next_lien, next_req, finalized_through, op_count;
    uint64_t stake_current, stake_ts;
    uint64_t params[LEDGER_PARAM_COUNT];
    m_fee treasury_fee;
    m_operator ops[OPS];
    m_lien *liens;   /* by id */
    m_request *reqs; /* by id */
    size_t liens_cap, reqs_cap;
} model;

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
} run;

typedef struct expect {
    int code;
    uint64_t out[4];
} expect;

static unsigned long code_seen[CODES];

/* Rarer situations the walk should reach; printed so a weakened generator shows. */
static struct {
    unsigned long returned, slashes, accepted, owner_releases, fee_matured;
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
        return have + 1 + (chance(r, 50) ? 0 : below(r, 1000));
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

/* floor(a * b / c). Returns: false when c == 0 or the quotient needs more than 64 bits. */
static bool mul_div(uint64_t *out, uint64_t a, uint64_t b, uint64_t c)
{
    if (c == 0)
        return false;
    u128 q = (u128)a * b / c;
    if (q > UINT64_MAX)
        return false;
    *out = (uint64_t)q;
    return true;
}

static u128 ceil_div(u128 a, u128 b)
{
    return a / b + (a % b != 0);
}

static u128 ent_of(uint64_t shares)
{
    return (u128)shares << ENT_BITS;
}

static bool add_ok(uint64_t a, uint64_t b)
{
    uint64_t t;
    return !__builtin_add_overflow(a, b, &t);
}

static m_operator *m_op(model *m, uint64_t id)
{
    return id >= 1 && id <= m->op_count ? &m->ops[id] : NULL;
}

static bool pool_empty(const model *m)
{
    return m->A == 0 || m->S == 0;
}

/* Value of shares at the pool rate: floor(shares * A / S). */
static int m_value(const model *m, uint64_t shares, uint64_t *v)
{
    if (pool_empty(m))
        return LEDGER_POOL_EMPTY;
    return mul_div(v, shares, m->A, m->S) ? LEDGER_OK : LEDGER_OVERFLOW;
}

static uint64_t fee_now(const m_fee *f, uint64_t now)
{
    return f->pending_at != 0 && now >= f->pending_at ? f->pending_bps : f->bps;
}

static uint64_t fee_ceiling(const m_fee *f)
{
    return f->pending_bps > f->bps ? f->pending_bps : f->bps;
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

/* ---- submitting and comparing results ----------------------------------------------------- */

static ledger_result submit(run *r, int signer, unsigned kind, int account, int account2,
                            uint64_t id, uint64_t amount, uint64_t limit)
{
    ledger_tx tx = fx_tx(&r->f, signer, kind, account, account2, id, amount, limit);
    ledger_result res = fx_submit(&r->f, &tx);
    r->m.acct[signer].nonce++; /* every code the test provokes is recorded */
    if (res.code >= 0 && res.code < CODES)
        code_seen[res.code]++;
    return res;
}

/* Compare the ledger's result with the prediction. Returns: true when the model must now apply
 * the operation (both said OK). */
static bool check_result(run *r, const ledger_result *res, const expect *e)
{
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

/* ---- operations: each predicts the code and outputs, submits, compares, then applies -------- */

static uint64_t m_stake_available(const model *m, uint64_t now)
{
    uint64_t max = m->params[LEDGER_PARAM_STAKE_LIMIT_MAX], refill, avail;
    if (max == 0)
        return UINT64_MAX;
    uint64_t elapsed = now > m->stake_ts ? now - m->stake_ts : 0;
    if (__builtin_mul_overflow(elapsed, m->params[LEDGER_PARAM_STAKE_LIMIT_REFILL], &refill) ||
        __builtin_add_overflow(m->stake_current, refill, &avail) || avail > max)
        return max;
    return avail;
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

static void do_deposit(run *r)
{
    model *m = &r->m;
    int signer = chance(r, 3) ? pick_holder(r) : FX_CUSTODIAN;
    int to = FX_USER + (int)below(r, USERS);
    uint64_t avail = m_stake_available(m, r->f.now);
    uint64_t amount = pick_deposit_amount(r), shares = 0, min_out = 0, x = below(r, 100);
    if (avail != UINT64_MAX && chance(r, 10))
        amount = avail + below(r, 2); /* the stake limit exactly, or one over */
    bool have = !pool_empty(m) && mul_div(&shares, amount, m->S, m->A);
    expect e = {0};
    if (have && x < 10)
        min_out = shares;
    else if (have && x < 15)
        min_out = shares + 1;
    if (signer != FX_CUSTODIAN)
        e.code = LEDGER_NOT_CUSTODIAN;
    else if (m->pause & LEDGER_PAUSE_DEPOSITS)
        e.code = LEDGER_DEPOSITS_PAUSED;
    else if (amount == 0)
        e.code = LEDGER_AMOUNT_ZERO;
    else if (amount > avail)
        e.code = LEDGER_STAKE_LIMIT_EXCEEDED;
    else if (pool_empty(m))
        e.code = LEDGER_POOL_EMPTY;
    else if (!have)
        e.code = LEDGER_OVERFLOW;
    else if (shares == 0)
        e.code = LEDGER_DEPOSIT_TOO_SMALL;
    else if (shares < min_out)
        e.code = LEDGER_SHARES_OUT_TOO_LOW;
    else if (!add_ok(m->A, amount) || !add_ok(m->S, shares) || !add_ok(m->deposited, amount))
        e.code = LEDGER_OVERFLOW;
    else
        e.out[0] = shares, e.out[1] = amount;
    describe(r, "deposit by %d to %d amount %" PRIu64 " min_shares_out %" PRIu64, signer, to,
             amount, min_out);
    ledger_result res = submit(r, signer, LEDGER_TX_DEPOSIT, to, FX_NONE, 0, amount, min_out);
    if (!check_result(r, &res, &e))
        return;
    /* no rounding leak: minted * A <= amount * S, and the new shares are worth <= amount */
    uint64_t A2 = m->A + amount, S2 = m->S + shares, worth = 0;
    if ((u128)shares * m->A > (u128)amount * m->S)
        fail(r, "minted %" PRIu64 " shares is more than amount * S / A", shares);
    if (!mul_div(&worth, shares, A2, S2) || worth > amount)
        fail(r, "minted shares are worth %" PRIu64 " > deposit %" PRIu64, worth, amount);
    m->acct[to].free += shares;
    m->acct[to].ent += ceil_div((u128)amount * m->S << ENT_BITS, m->A);
    m->A = A2;
    m->S = S2;
    m->buffer += amount;
    m->deposited += amount;
    if (avail != UINT64_MAX) {
        m->stake_current = avail - amount;
        m->stake_ts = r->f.now;
    }
}

static void do_transfer(run *r)
{
    model *m = &r->m;
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
    model *m = &r->m;
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
    model *m = &r->m;
    int spender = pick_holder(r), owner = pick_approver(r, spender), to = pick_holder(r);
    uint64_t allow = m->allowance[owner][spender], free = m->acct[owner].free;
    uint64_t have = allow < free ? allow : free, x = below(r, 100), amount;
    expect e = {0};
    if (x < 4)
        amount = 0;
    else if (x < 12)
        amount = allow + 1 + (chance(r, 50) ? 0 : below(r, 100));
    else if (x < 20)
        amount = free + 1 + (chance(r, 50) ? 0 : below(r, 100));
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
    model *m = &r->m;
    int owner = pick_holder(r), ben = chance(r, 5) ? owner : pick_holder(r);
    uint64_t amount = pick_part(r, m->acct[owner].free), now = r->f.now, x = below(r, 100);
    uint64_t expiry = x < 40   ? 0
                      : x < 45 ? now - (chance(r, 50) ? 0 : below(r, 1000))
                               : now + 1 + below(r, 200000);
    uint64_t value = 0;
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
    else if ((e.code = m_value(m, amount, &value)) == LEDGER_OK)
        e.out[0] = m->next_lien, e.out[1] = amount, e.out[2] = value;
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
    model *m = &r->m;
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
    model *m = &r->m;
    uint64_t x = below(r, 100), id = x < 85 ? pick_lien(r, false) : pick_lien(r, true), value = 0;
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
    else if ((e.code = m_value(m, amount, &value)) == LEDGER_OK)
        e.out[0] = amount, e.out[1] = value, e.out[2] = l->shares - amount;
    describe(r, "seize lien %" PRIu64 " by %d to %d shares %" PRIu64, id, signer, to, amount);
    ledger_result res = submit(r, signer, LEDGER_TX_SEIZE, to, FX_NONE, id, amount, 0);
    if (!check_result(r, &res, &e))
        return;
    m->acct[l->owner].locked -= amount;
    m->acct[l->owner].ent -= ent_of(amount);
    m_credit(m, to, amount);
    l->shares -= amount;
}

static void do_withdraw_request(run *r)
{
    model *m = &r->m;
    int signer = pick_holder(r);
    uint64_t amount = pick_part(r, m->acct[signer].free), quote = 0, x = below(r, 100), min_out;
    expect e = {0};
    int vrc = m_value(m, amount, &quote);
    min_out = x < 60   ? 0
              : x < 80 ? quote
              : x < 90 ? quote + 1 + (chance(r, 50) ? 0 : below(r, 1000))
                       : below(r, quote);
    if (m->pause & LEDGER_PAUSE_WITHDRAWALS)
        e.code = LEDGER_WITHDRAWALS_PAUSED;
    else if (amount == 0)
        e.code = LEDGER_AMOUNT_ZERO;
    else if (m->acct[signer].free < amount)
        e.code = LEDGER_INSUFFICIENT_SHARES;
    else if (vrc != LEDGER_OK)
        e.code = vrc;
    else if (quote == 0)
        e.code = LEDGER_WITHDRAWAL_TOO_SMALL;
    else if (quote < min_out)
        e.code = LEDGER_MIN_AMOUNT_OUT_NOT_MET;
    else
        e.out[0] = m->next_req, e.out[1] = quote;
    describe(r, "withdraw_request by %d shares %" PRIu64 " min_amount_out %" PRIu64, signer, amount,
             min_out);
    ledger_result res =
        submit(r, signer, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, amount, min_out);
    if (!check_result(r, &res, &e))
        return;
    m_grow(r);
    m->reqs[m->next_req++] = (m_request){signer, amount, quote, min_out, LEDGER_WD_PENDING, 0};
    m->acct[signer].free -= amount;
    m->acct[signer].queued += amount;
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
    model *m = &r->m;
    uint64_t id = chance(r, 75) ? pick_request(r, LEDGER_WD_PENDING) : 0;
    if (id == 0)
        id = below(r, m->next_req + 2);
    m_request *w = m_req(m, id);
    int signer = w != NULL && chance(r, 85) ? w->owner : pick_holder(r);
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

/* Payout of a pending request at the snapshot: min(quote, floor(s*A_f/S_f)). */
static int m_payout(run *r, const m_request *w, uint64_t *pay)
{
    uint64_t now_value;
    int rc = m_value(&r->m, w->shares, &now_value);
    if (rc != LEDGER_OK)
        return rc;
    *pay = now_value < w->quote ? now_value : w->quote;
    if ((u128)*pay * r->m.S > (u128)w->shares * r->m.A)
        fail(r, "model payout above the pro-rata value");
    return LEDGER_OK;
}

/* Predict a finalize up to `up`; out as the ledger's. */
static int m_finalize_predict(run *r, uint64_t up, uint64_t out[4])
{
    model *m = &r->m;
    if (m->pause & LEDGER_PAUSE_WITHDRAWALS)
        return LEDGER_WITHDRAWALS_PAUSED;
    if (up <= m->finalized_through)
        return LEDGER_FINALIZE_NOTHING;
    if (up >= m->next_req)
        return LEDGER_FINALIZE_BEYOND_QUEUE;
    if (up - m->finalized_through > LEDGER_FINALIZE_MAX)
        return LEDGER_FINALIZE_TOO_MANY;
    for (uint64_t id = m->finalized_through + 1; id <= up; id++) {
        const m_request *w = &m->reqs[id];
        uint64_t pay;
        if (w->status != LEDGER_WD_PENDING)
            continue;
        int rc = m_payout(r, w, &pay);
        if (rc != LEDGER_OK)
            return rc;
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

static void m_finalize_apply(run *r, uint64_t up, const uint64_t out[4])
{
    model *m = &r->m;
    for (uint64_t id = m->finalized_through + 1; id <= up; id++) {
        m_request *w = &m->reqs[id];
        m_account *a = &m->acct[w->owner];
        uint64_t pay = 0;
        if (w->status != LEDGER_WD_PENDING || m_payout(r, w, &pay) != LEDGER_OK)
            continue;
        a->queued -= w->shares;
        if (pay < w->min_out) {
            a->free += w->shares;
            w->status = LEDGER_WD_RETURNED;
            seen.returned++;
        } else {
            a->ent -= ent_of(w->shares);
            w->status = LEDGER_WD_FINALIZED;
            w->paid = pay;
        }
    }
    m->A -= out[1];
    m->buffer -= out[1];
    m->S -= out[2];
    m->payable += out[1];
    m->paid += out[1];
    m->finalized_through = up;
}

static void do_withdraw_finalize(run *r)
{
    model *m = &r->m;
    int signer = chance(r, 3) ? pick_holder(r) : FX_CUSTODIAN;
    uint64_t last = m->next_req - 1, ft = m->finalized_through, x = below(r, 100), up;
    if (last > ft && (x < 85 || r->want_drain))
        up = chance(r, 30) || r->want_drain ? last : ft + 1 + below(r, last - ft);
    else if (x < 93)
        up = ft;
    else
        up = m->next_req + below(r, 3);
    expect e = {0};
    if (signer != FX_CUSTODIAN)
        e.code = LEDGER_NOT_CUSTODIAN;
    else
        e.code = m_finalize_predict(r, up, e.out);
    if (e.code != LEDGER_OK)
        memset(e.out, 0, sizeof e.out);
    describe(r,
             "withdraw_finalize by %d up to %" PRIu64 " (finalized through %" PRIu64
             ", next %" PRIu64 ")",
             signer, up, ft, m->next_req);
    ledger_result res = submit(r, signer, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, up, 0, 0);
    if (check_result(r, &res, &e))
        m_finalize_apply(r, up, e.out);
}

static void do_withdraw_settle(run *r)
{
    model *m = &r->m;
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
        return have + 1 + (chance(r, 50) ? 0 : below(r, 1000));
    if (x < 20 && have > 0)
        return have;
    return 1 + below(r, have > 0 ? have : 1);
}

static void do_operator_fund(run *r)
{
    model *m = &r->m;
    int signer = chance(r, 3) ? pick_holder(r) : FX_CUSTODIAN;
    uint64_t id = pick_op_id(r), amount = pick_stake_move(r, m->buffer);
    uint64_t cap = m->params[LEDGER_PARAM_OPERATOR_CAP_BPS];
    m_operator *o = m_op(m, id);
    uint64_t cap_room = cap != 0 && o != NULL ? (uint64_t)((u128)cap * m->A / BPS) : 0;
    uint64_t due[4] = {0, 0, 0, 0};
    if (cap_room > (o != NULL ? o->balance : 0) && chance(r, 15))
        amount = cap_room - o->balance + below(r, 2); /* the cap exactly, or one over */
    else if (m->next_req - 1 > m->finalized_through && chance(r, 10) &&
             m_finalize_predict(r, m->next_req - 1, due) != LEDGER_WITHDRAWALS_PAUSED &&
             due[1] < m->buffer)
        amount = m->buffer - due[1] + below(r, 2), /* leave exactly what the queue needs, -1 */
            r->want_drain = true;
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
    else if (cap != 0 && (u128)(o->balance + amount) * BPS > (u128)cap * m->A)
        e.code = LEDGER_OPERATOR_CAP_EXCEEDED;
    else
        e.out[0] = amount, e.out[1] = o->balance + amount;
    describe(r, "operator_fund %" PRIu64 " by %d amount %" PRIu64, id, signer, amount);
    ledger_result res = submit(r, signer, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, id, amount, 0);
    if (!check_result(r, &res, &e))
        return;
    o->balance += amount;
    o->funded += amount;
    m->buffer -= amount;
}

static void do_operator_exit(run *r)
{
    model *m = &r->m;
    uint64_t id = pick_op_id(r), x = below(r, 100);
    m_operator *o = m_op(m, id);
    int signer = x < 50 ? FX_CUSTODIAN : x < 90 ? (o != NULL ? o->key : OP2) : pick_holder(r);
    uint64_t amount = pick_stake_move(r, o != NULL ? o->balance : 0);
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
        return;
    o->balance -= amount;
    o->exited += amount;
    m->buffer += amount;
}

/* ---- reports ------------------------------------------------------------------------------ */

typedef struct effect {
    uint64_t gain, loss, fee_t, fee_o;
} effect;

/* Seconds a report covers: since registration for the first, epochs * EPOCH_S after that. */
static uint64_t m_elapsed(run *r, const m_operator *o, uint64_t epoch)
{
    uint64_t s, now = r->f.now;
    if (o->report_count == 0)
        s = now > o->last_report_ts ? now - o->last_report_ts : 0;
    else if (__builtin_mul_overflow(epoch - o->last_epoch, r->m.params[LEDGER_PARAM_EPOCH_S], &s))
        s = ELAPSED_MAX;
    return s < ELAPSED_MAX ? s : ELAPSED_MAX;
}

/* Gain, loss and fee shares: fee = floor(R*F*S / ((A+R)*P - R*F)), operator part
 * floor(fee*F_op/F), treasury the rest. */
static int m_effect(run *r, const m_operator *o, uint64_t balance, effect *e)
{
    model *m = &r->m;
    uint64_t ft = fee_now(&m->treasury_fee, r->f.now), fo = fee_now(&o->fee, r->f.now);
    uint64_t f = ft + fo;
    memset(e, 0, sizeof *e);
    if (balance >= o->balance)
        e->gain = balance - o->balance;
    else
        e->loss = o->balance - balance;
    if (e->gain > 0 && f > 0) {
        u128 num = (u128)e->gain * f, top;
        if (f > BPS)
            return LEDGER_FEE_TOO_HIGH;
        u128 den = ((u128)m->A + e->gain) * BPS - num;
        if (__builtin_mul_overflow(num, (u128)m->S, &top)) {
            fail(r, "test range: fee numerator needs more than 128 bits");
            return LEDGER_OVERFLOW;
        }
        if (den == 0 || top / den > UINT64_MAX)
            return LEDGER_OVERFLOW;
        uint64_t fee = (uint64_t)(top / den);
        e->fee_o = (uint64_t)((u128)fee * fo / f);
        e->fee_t = fee - e->fee_o;
        if ((u128)fee * den > top)
            fail(r, "model fee rounds up");
    }
    if (!add_ok(m->A, e->gain) || !add_ok(m->rewards, e->gain) || !add_ok(m->S, e->fee_t) ||
        !add_ok(m->S + e->fee_t, e->fee_o))
        return LEDGER_OVERFLOW;
    return LEDGER_OK;
}

static int m_limits(run *r, const m_operator *o, uint64_t epoch, const effect *e)
{
    const uint64_t *prm = r->m.params;
    if (e->gain > 0 && (u128)e->gain * YEAR_S * BPS > (u128)prm[LEDGER_PARAM_MAX_APR_BPS] *
                                                          o->balance * m_elapsed(r, o, epoch))
        return LEDGER_REPORT_APR_EXCEEDED;
    if (e->loss > 0 && (u128)e->loss * BPS > (u128)prm[LEDGER_PARAM_MAX_DROP_BPS] * o->balance)
        return LEDGER_REPORT_DROP_EXCEEDED;
    return LEDGER_OK;
}

static void fee_settle(m_fee *f, uint64_t now)
{
    if (f->pending_at != 0 && now >= f->pending_at) {
        *f = (m_fee){f->pending_bps, 0, 0};
        seen.fee_matured++;
    }
}

static void m_apply_effect(run *r, m_operator *o, uint64_t epoch, uint64_t balance, const effect *e)
{
    model *m = &r->m;
    m_credit(m, FX_TREASURY, e->fee_t);
    m_credit(m, o->fee_slot, e->fee_o);
    fee_settle(&m->treasury_fee, r->f.now);
    fee_settle(&o->fee, r->f.now);
    m->A = m->A + e->gain - e->loss;
    m->S += e->fee_t + e->fee_o;
    m->rewards += e->gain;
    m->slashed += e->loss;
    o->balance = o->reported = balance;
    o->funded = o->exited = 0;
    o->last_epoch = epoch;
    o->last_report_ts = r->f.now;
    o->fees_earned += e->fee_o;
    o->held_epoch = o->held_balance = 0;
    o->report_count++;
    if (e->loss > 0)
        r->slashed = true, seen.slashes++;
}

/* A new reported balance: mostly within the limits, sometimes a big gain or slash. */
static uint64_t pick_report_balance(run *r, const m_operator *o, uint64_t epoch)
{
    const uint64_t *prm = r->m.params;
    uint64_t bal = o->balance, x = below(r, 100);
    u128 g = (u128)prm[LEDGER_PARAM_MAX_APR_BPS] * bal * m_elapsed(r, o, epoch) / (YEAR_S * BPS);
    uint64_t max_gain = g > TRILLION ? TRILLION : (uint64_t)g;
    uint64_t max_loss = (uint64_t)((u128)prm[LEDGER_PARAM_MAX_DROP_BPS] * bal / BPS);
    uint64_t big = (bal / 4 < TRILLION ? bal / 4 : TRILLION) + 1000;
    if (x < 3)
        return 0; /* wiped out: with an empty buffer the pool can reach A = 0 */
    if (x < 8)
        return bal + max_gain + below(r, 2); /* at the APR limit, or one over */
    if (x < 13)
        return bal - max_loss - (max_loss < bal ? below(r, 2) : 0); /* the drop limit, +1 */
    if (x < 55)
        return bal + below(r, max_gain + 1);
    if (x < 62)
        return bal;
    if (x < 72)
        return bal - below(r, max_loss + 1);
    if (x < 87 || bal / 2 <= max_loss + 1)
        return bal + max_gain + 1 + below(r, big);
    return bal - (max_loss + 1 + below(r, bal / 2 - max_loss));
}

static void do_report(run *r)
{
    model *m = &r->m;
    uint64_t id = pick_op_id(r), epoch = 1, balance = 0;
    m_operator *o = m_op(m, id);
    int signer = o != NULL && chance(r, 95) ? o->key : pick_holder(r);
    effect eff = {0, 0, 0, 0};
    expect e = {0};
    if (o != NULL) {
        epoch = chance(r, 5) ? o->last_epoch : o->last_epoch + 1 + below(r, 300);
        if (o->last_epoch < (UINT64_C(1) << 62) && chance(r, 2))
            epoch = o->last_epoch + (UINT64_C(1) << 57); /* elapsed seconds overflow */
        balance = pick_report_balance(r, o, epoch);
    }
    if (o == NULL)
        e.code = LEDGER_OPERATOR_NOT_FOUND;
    else if (signer != o->key)
        e.code = LEDGER_NOT_OPERATOR;
    else if (epoch <= o->last_epoch)
        e.code = LEDGER_EPOCH_NOT_INCREASING;
    else if ((e.code = m_effect(r, o, balance, &eff)) == LEDGER_OK &&
             (e.code = m_limits(r, o, epoch, &eff)) == LEDGER_OK)
        e.out[0] = eff.gain, e.out[1] = eff.loss, e.out[2] = eff.fee_t, e.out[3] = eff.fee_o;
    describe(r,
             "report operator %" PRIu64 " by %d epoch %" PRIu64 " balance %" PRIu64 " (was %" PRIu64
             ")",
             id, signer, epoch, balance, o != NULL ? o->balance : 0);
    ledger_result res = submit(r, signer, LEDGER_TX_REPORT, FX_NONE, FX_NONE, id, balance, epoch);
    if (res.code == e.code &&
        (e.code == LEDGER_REPORT_APR_EXCEEDED || e.code == LEDGER_REPORT_DROP_EXCEEDED)) {
        o->held_epoch = epoch; /* the only rejection that writes: the report is held */
        o->held_balance = balance;
        r->want_accept = true;
    }
    if (check_result(r, &res, &e))
        m_apply_effect(r, o, epoch, balance, &eff);
}

static void do_report_accept(run *r)
{
    model *m = &r->m;
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
    effect eff = {0, 0, 0, 0};
    expect e = {0};
    if (signer != FX_ADMIN)
        e.code = LEDGER_NOT_ADMIN;
    else if (o == NULL)
        e.code = LEDGER_OPERATOR_NOT_FOUND;
    else if (o->held_epoch == 0 || o->held_epoch != epoch || o->held_balance != balance)
        e.code = LEDGER_REPORT_NOT_PENDING;
    else if ((e.code = m_effect(r, o, balance, &eff)) == LEDGER_OK)
        e.out[0] = eff.gain, e.out[1] = eff.loss, e.out[2] = eff.fee_t, e.out[3] = eff.fee_o;
    describe(r, "report_accept operator %" PRIu64 " by %d epoch %" PRIu64 " balance %" PRIu64, id,
             signer, epoch, balance);
    ledger_result res =
        submit(r, signer, LEDGER_TX_REPORT_ACCEPT, FX_NONE, FX_NONE, id, balance, epoch);
    if (check_result(r, &res, &e)) {
        m_apply_effect(r, o, epoch, balance, &eff);
        seen.accepted++;
    }
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

static void do_fee_set(run *r)
{
    model *m = &r->m;
    uint64_t x = below(r, 100), id = x < 40 ? 0 : x < 65 ? 1 : x < 90 ? 2 : 3, other = 0;
    x = below(r, 100);
    uint64_t amount = x < 80 ? below(r, 2500) : x < 95 ? below(r, BPS + 1) : BPS + 1 + below(r, 99);
    m_operator *o = m_op(m, id);
    m_fee *f = id == 0 ? &m->treasury_fee : o != NULL ? &o->fee : NULL, after = {0, 0, 0};
    expect e = {0};
    if (id == 0)
        for (uint64_t i = 1; i <= m->op_count; i++)
            other = fee_ceiling(&m->ops[i].fee) > other ? fee_ceiling(&m->ops[i].fee) : other;
    else
        other = fee_ceiling(&m->treasury_fee);
    x = below(r, 100);
    if (f != NULL && x < 15)
        amount = fee_now(f, r->f.now); /* the fee in force again */
    else if (x < 25 && other <= BPS)
        amount = BPS - other + below(r, 2); /* the highest allowed, or one over */
    if (f == NULL) {
        e.code = LEDGER_OPERATOR_NOT_FOUND;
    } else if (amount > BPS || amount + other > BPS) {
        e.code = LEDGER_FEE_TOO_HIGH;
    } else {
        after = *f;
        fee_schedule(&after, amount, r->f.now, m->params[LEDGER_PARAM_FEE_DELAY_S]);
        e.out[0] = amount;
        e.out[1] = after.pending_at != 0 ? after.pending_at : r->f.now;
    }
    describe(r, "fee_set %" PRIu64 " bps %" PRIu64, id, amount);
    ledger_result res = submit(r, FX_ADMIN, LEDGER_TX_FEE_SET, FX_NONE, FX_NONE, id, amount, 0);
    if (check_result(r, &res, &e))
        *f = after;
}

static void do_pause_set(run *r)
{
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

/* A future lien expiry or scheduled fee time (0 when none): time jumps land on boundaries. */
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
    return pick;
}

static void do_time(run *r)
{
    uint64_t dt = chance(r, 90) ? 1 + below(r, 3600) : 86400 + below(r, 8 * 86400);
    uint64_t deadline = chance(r, 30) ? pick_deadline(r) : 0;
    if (deadline != 0)
        dt = deadline - r->f.now - below(r, 2); /* exactly at a deadline, or just before */
    describe(r, "time +%" PRIu64 " s", dt);
    r->f.now += dt;
}

/* ---- checks ------------------------------------------------------------------------------- */

typedef struct snapshot {
    ledger_pool pool;
    ledger_account acct[SLOTS];
    ledger_operator ops[OPS];
} snapshot;

static bool read_snapshot(run *r, snapshot *s)
{
    store_txn *t;
    ledger_store v;
    int rc = store_lmdb_begin(r->f.store, false, &t, &v);
    if (rc == 0)
        rc = ledger_read_pool(&v, &s->pool);
    for (int i = 0; rc == LEDGER_OK && i < FX_KEYS; i++)
        rc = ledger_read_account(&v, r->f.pk[i], &s->acct[i]);
    if (rc == LEDGER_OK)
        rc = ledger_read_account(&v, ledger_dead_account, &s->acct[DEAD]);
    for (uint64_t id = 1; rc == LEDGER_OK && id <= r->m.op_count; id++)
        rc = ledger_read_operator(&v, id, &s->ops[id]);
    store_lmdb_abort(&t);
    if (rc != LEDGER_OK)
        fail(r, "reading the ledger state: %s", ledger_err_name(rc));
    return rc == LEDGER_OK;
}

typedef struct field {
    const char *name;
    uint64_t got, want;
} field;

static void check_fields(run *r, const char *where, const field *fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fs[i].got != fs[i].want)
            fail(r, "%s %s = %" PRIu64 ", model %" PRIu64, where, fs[i].name, fs[i].got,
                 fs[i].want);
}

static void check_pool(run *r, const ledger_pool *p)
{
    const model *m = &r->m;
    const field fs[] = {
        {"assets", p->assets, m->A},
        {"shares", p->shares, m->S},
        {"buffer", p->buffer, m->buffer},
        {"payable", p->payable, m->payable},
        {"total_deposited", p->total_deposited, m->deposited},
        {"total_rewards", p->total_rewards, m->rewards},
        {"total_slashed", p->total_slashed, m->slashed},
        {"total_paid", p->total_paid, m->paid},
        {"pause_flags", p->pause_flags, m->pause},
        {"next_lien_id", p->next_lien_id, m->next_lien},
        {"next_request_id", p->next_request_id, m->next_req},
        {"finalized_through", p->finalized_through, m->finalized_through},
        {"operator_count", p->operator_count, m->op_count},
        {"treasury fee bps", p->treasury_fee.bps, m->treasury_fee.bps},
        {"treasury fee pending_bps", p->treasury_fee.pending_bps, m->treasury_fee.pending_bps},
        {"treasury fee pending_at", p->treasury_fee.pending_at, m->treasury_fee.pending_at},
        {"stake_limit_current", p->stake_limit_current, m->stake_current},
        {"stake_limit_ts", p->stake_limit_ts, m->stake_ts},
    };
    check_fields(r, "pool", fs, sizeof fs / sizeof fs[0]);
}

static void check_operators(run *r, const snapshot *s)
{
    for (uint64_t id = 1; id <= r->m.op_count; id++) {
        const ledger_operator *g = &s->ops[id];
        const m_operator *o = &r->m.ops[id];
        const field fs[] = {
            {"balance", g->balance, o->balance},
            {"reported_balance", g->reported_balance, o->reported},
            {"funded_since", g->funded_since, o->funded},
            {"exited_since", g->exited_since, o->exited},
            {"active", g->active, o->active},
            {"last_epoch", g->last_epoch, o->last_epoch},
            {"last_report_ts", g->last_report_ts, o->last_report_ts},
            {"report_count", g->report_count, o->report_count},
            {"held_epoch", g->held_epoch, o->held_epoch},
            {"held_balance", g->held_balance, o->held_balance},
            {"fees_earned", g->fees_earned, o->fees_earned},
            {"fee bps", g->fee.bps, o->fee.bps},
            {"fee pending_bps", g->fee.pending_bps, o->fee.pending_bps},
            {"fee pending_at", g->fee.pending_at, o->fee.pending_at},
        };
        check_fields(r, id == 1 ? "operator 1" : "operator 2", fs, sizeof fs / sizeof fs[0]);
    }
}

/* Model-internal bookkeeping: locked = liens owned, queued = pending requests, payable. */
static void check_model_sums(run *r)
{
    model *m = &r->m;
    uint64_t locked[SLOTS] = {0}, queued[SLOTS] = {0}, payable = 0;
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
    eq(r, "model payable vs finalized requests", 0, m->payable, payable);
}

static void check_state(run *r)
{
    snapshot s;
    memset(&s, 0, sizeof s);
    if (!read_snapshot(r, &s))
        return;
    const ledger_pool *p = &s.pool;
    check_pool(r, p);
    check_operators(r, &s);
    check_model_sums(r);
    u128 total = 0;
    for (int i = 0; i < SLOTS; i++) {
        const ledger_account *a = &s.acct[i];
        const m_account *b = &r->m.acct[i];
        eq(r, "free shares of slot", i, a->shares, b->free);
        eq(r, "locked shares of slot", i, a->locked, b->locked);
        eq(r, "queued shares of slot", i, a->queued, b->queued);
        eq(r, "nonce of slot", i, a->nonce, b->nonce);
        total += (u128)a->shares + a->locked + a->queued;
        /* no rounding leak: shares held never exceed the exact entitlement */
        if (i != DEAD && ent_of(a->shares) + ent_of(a->locked) + ent_of(a->queued) > b->ent)
            fail(r, "slot %d holds more shares than its exact entitlement", i);
    }
    if (total != p->shares)
        fail(r, "sum of free + liened + queued shares != S %" PRIu64, p->shares);
    uint64_t balances = 0;
    for (uint64_t id = 1; id <= r->m.op_count; id++)
        balances += s.ops[id].balance;
    if ((u128)p->assets + p->total_slashed + p->total_paid !=
        (u128)p->total_deposited + p->total_rewards)
        fail(r, "A != deposited + rewards - slashed - paid");
    if ((u128)p->buffer + balances != p->assets)
        fail(r, "A %" PRIu64 " != buffer %" PRIu64 " + operator balances %" PRIu64, p->assets,
             p->buffer, balances);
    /* the rate A/S never falls except by a slash */
    if (!r->slashed && (u128)p->assets * r->prev_S < (u128)r->prev_A * p->shares)
        fail(r, "rate fell from %" PRIu64 "/%" PRIu64 " to %" PRIu64 "/%" PRIu64, r->prev_A,
             r->prev_S, p->assets, p->shares);
    r->prev_A = p->assets;
    r->prev_S = p->shares;
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
    store_txn *t;
    ledger_store v;
    int before = test_failures;
    fx_check(&r->f);
    if (test_failures != before)
        fail(r, "ledger_check reported a violation (above)");
    if (store_lmdb_begin(r->f.store, false, &t, &v) != 0) {
        fail(r, "store_lmdb_begin");
        return;
    }
    check_liens(r, &v);
    check_requests(r, &v);
    check_allowances(r, &v);
    store_lmdb_abort(&t);
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
    {do_fee_set, 2},
    {do_pause_set, 1},
    {do_set_active, 1},
    {do_time, 6},
};

static op_fn pick_op(run *r)
{
    unsigned total = 0;
    if (r->want_unpause && chance(r, 35))
        return do_pause_set;
    if (r->want_accept && chance(r, 70))
        return do_report_accept;
    if (r->want_drain && chance(r, 70))
        return do_withdraw_finalize;
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
        total += op_table[i].weight;
    uint64_t x = below(r, total);
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
    case 1: /* no fees, few dead shares, generous limits */
        g->dead_shares = 1000;
        g->treasury_fee_bps = 0;
        g->operators[0].fee_bps = 0;
        g->params[LEDGER_PARAM_MAX_APR_BPS] = 5000;
        g->params[LEDGER_PARAM_MAX_DROP_BPS] = 2000;
        break;
    case 3: /* one dead share and small deposits */
        g->dead_shares = 1;
        g->treasury_fee_bps = 700;
        g->operators[0].fee_bps = 300;
        break;
    case 2: /* one dead share, high fees, short fee delay, operator cap and a stake limit */
        g->dead_shares = 1;
        g->treasury_fee_bps = 2000;
        g->operators[0].fee_bps = 3000;
        g->params[LEDGER_PARAM_FEE_DELAY_S] = 3600;
        g->params[LEDGER_PARAM_OPERATOR_CAP_BPS] = 6000;
        g->params[LEDGER_PARAM_STAKE_LIMIT_MAX] = 5 * TRILLION;
        g->params[LEDGER_PARAM_STAKE_LIMIT_REFILL] = 50000000;
        break;
    default:
        break;
    }
}

static void model_init(run *r)
{
    model *m = &r->m;
    const ledger_genesis *g = &r->f.genesis;
    m->acct[DEAD].free = g->dead_shares;
    m->A = m->S = m->buffer = m->deposited = g->dead_shares;
    m->next_lien = m->next_req = 1;
    m->op_count = 1;
    memcpy(m->params, g->params, sizeof m->params);
    m->stake_current = g->params[LEDGER_PARAM_STAKE_LIMIT_MAX];
    m->stake_ts = g->timestamp;
    m->treasury_fee.bps = g->treasury_fee_bps;
    m->ops[1] = (m_operator){.key = FX_OPERATOR, .fee_slot = FX_OPFEE, .active = 1};
    m->ops[1].fee.bps = g->operators[0].fee_bps;
    m->ops[1].last_report_ts = g->timestamp;
    m_grow(r);
    r->prev_A = m->A;
    r->prev_S = m->S;
}

static void register_operator2(run *r)
{
    static const uint64_t fees[] = {1000, 0, 2000, 500};
    uint64_t fee = fees[genesis_variant];
    expect e = {.out = {2}};
    describe(r, "operator_register 2 fee %" PRIu64, fee);
    ledger_result res = submit(r, FX_ADMIN, LEDGER_TX_OPERATOR_REGISTER, OP2, OP2, 0, fee, 0);
    if (!check_result(r, &res, &e))
        return;
    r->m.ops[2] = (m_operator){.key = OP2, .fee_slot = OP2, .active = 1};
    r->m.ops[2].fee.bps = fee;
    r->m.ops[2].last_report_ts = r->f.now;
    r->m.op_count = 2;
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
        if (!r->failed && r->step % CHECK_EVERY == 0)
            sweep(r);
    }
    if (!r->failed) {
        snprintf(r->desc, sizeof r->desc, "final sweep");
        sweep(r);
    }
    fx_close(&r->f);
    free(r->m.liens);
    free(r->m.reqs);
    free(r);
}

/* ---- first-depositor inflation attack ------------------------------------------------------ */

static uint64_t value_of(const ledger_pool *p, uint64_t shares)
{
    return (uint64_t)((u128)shares * p->assets / p->shares);
}

static uint64_t deposit_shares(const ledger_pool *p, uint64_t amount)
{
    return (uint64_t)((u128)amount * p->shares / p->assets);
}

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

/* A colluding operator reports a huge gain right after a 1-unit deposit; the admin accepts. */
static void scenario_inflation_big(void (*tw)(ledger_genesis *))
{
    attack t;
    const uint64_t g = UINT64_C(1000000000000000);
    attack_start(&t, tw);
    t.f.now += 86400;
    ledger_result res =
        fx_do(&t.f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, 1000000 + g, 1);
    CHECK_CODE(res.code, LEDGER_REPORT_APR_EXCEEDED);
    res = fx_do(&t.f, FX_ADMIN, LEDGER_TX_REPORT_ACCEPT, FX_NONE, FX_NONE, 1, 1000000 + g, 1);
    CHECK_CODE(res.code, LEDGER_OK);
    CHECK_U64(res.out[0], g);
    t.gain = g;
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
        uint64_t elapsed = i == 0 ? t.f.now - t.f.genesis.timestamp : 10000 * epoch_s;
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
    victims(&t);
    attack_withdraw(&t);
    fx_close(&t.f);
}

/* ---- main --------------------------------------------------------------------------------- */

static void print_coverage(void)
{
    printf("result codes reached:");
    for (int c = 0; c < CODES; c++)
        if (code_seen[c] > 0)
            printf(" %s=%lu", ledger_err_name(c), code_seen[c]);
    printf("\nevents: returned %lu, slashes %lu, accepted %lu, owner releases %lu, fee increases "
           "applied %lu\n",
           seen.returned, seen.slashes, seen.accepted, seen.owner_releases, seen.fee_matured);
}

int main(void)
{
    uint64_t seed = test_seed();
    iterations = test_env_u64("LSTD_ITERATIONS", 6000);
    for (uint64_t run_no = 0; run_no * RUN_STEPS < iterations; run_no++) {
        uint64_t left = iterations - run_no * RUN_STEPS;
        run_walk(seed, run_no, left < RUN_STEPS ? left : RUN_STEPS);
    }
    print_coverage();
    scenario_inflation_big(NULL);
    scenario_inflation_big(no_fees);
    scenario_inflation_small();
    return test_finish("test_property");
}
