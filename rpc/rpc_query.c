/* rpc_query.c - the queries of PROTOCOL.md run on a read view and packed as result maps */
#include "rpc_query.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

#define ACCOUNT_LIST_MAX 100  /* liens, allowances, withdrawals in an account reply */
#define HISTORY_LIMIT_MAX 500 /* history page */
#define EVENTS_LIMIT_MAX 1000 /* events page */
#define RATES_LIMIT_MAX 1000  /* rate_history page */
#define RATE_DIGITS 18        /* fractional digits of the pool's decimal rate */

/* ---- helpers ----------------------------------------------------------------------------- */

int rpc_pack_nil(msgpack_packer *pk, const char *key)
{
    return rpc_pack_key(pk, key) || msgpack_pack_nil(pk);
}

/* floor(a * b / c) with a 128-bit intermediate; 0 when c is 0, saturating above 64 bits. */
static uint64_t mul_div_floor(uint64_t a, uint64_t b, uint64_t c)
{
    if (c == 0)
        return 0;
    u128 q = (u128)a * b / c;
    return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

/* The pool as the next batch would see it: read, then vested to the query's time, which is the
 * time the next batch would use, max(server clock, last batch time). Out: *p, *c and *now (both
 * may be NULL). Returns: LEDGER_OK or a store code. */
int rpc_query_pool_now(rpc_query_ctx *q, ledger_pool *p, ledger_chain *c, uint64_t *now)
{
    ledger_chain chain;
    if (c == NULL)
        c = &chain;
    int rc = ledger_read_pool(q->view, p);
    if (rc == LEDGER_OK)
        rc = ledger_read_chain(q->view, c);
    if (rc != LEDGER_OK)
        return rc;
    uint64_t t = q->clock > c->last_ts ? q->clock : c->last_ts;
    ledger_pool_vest(p, t);
    if (now != NULL)
        *now = t;
    return LEDGER_OK;
}

/* floor(part * 10000 / (A + U)): a share of the pooled assets, vested or not (0 when empty). */
uint64_t rpc_share_of_pooled_bps(uint64_t part, const ledger_pool *p)
{
    u128 pooled = (u128)p->assets + p->unvested;
    return pooled == 0 ? 0 : (uint64_t)((u128)part * LEDGER_BPS / pooled);
}

/* A read of an object the client named: a missing one is NOT_FOUND with `what` as message. */
static int read_named(rpc_query_ctx *q, int rc, const char *what)
{
    if (rc == LEDGER_STORE_NOTFOUND) {
        q->message = what;
        return LEDGER_NOT_FOUND;
    }
    return rc;
}

/* ---- shared maps ------------------------------------------------------------------------- */

/* {bps, pending_bps, pending_at, in_force_bps}: in_force_bps is the fee in force at `now`
 * (pending_bps once pending_at has come, before a report settles it into bps). */
int rpc_pack_fee(msgpack_packer *pk, const char *key, const ledger_fee *f, uint64_t now)
{
    return rpc_pack_key(pk, key) || msgpack_pack_map(pk, 4) || rpc_pack_u64(pk, "bps", f->bps) ||
           rpc_pack_u64(pk, "pending_bps", f->pending_bps) ||
           rpc_pack_u64(pk, "pending_at", f->pending_at) ||
           rpc_pack_u64(pk, "in_force_bps", ledger_fee_in_force(f, now));
}

/* The lien map of the lien query; value = floor(shares * A / S), the pool vested to now. */
static int pack_lien(msgpack_packer *pk, const ledger_lien *l, const ledger_pool *p)
{
    return msgpack_pack_map(pk, 7) || rpc_pack_u64(pk, "lien_id", l->id) ||
           rpc_pack_bin(pk, "owner", l->owner, LEDGER_KEY_SIZE) ||
           rpc_pack_bin(pk, "beneficiary", l->beneficiary, LEDGER_KEY_SIZE) ||
           rpc_pack_u64(pk, "shares", l->shares) || rpc_pack_u64(pk, "expiry", l->expiry) ||
           rpc_pack_u64(pk, "created", l->created) ||
           rpc_pack_u64(pk, "value", mul_div_floor(l->shares, p->assets, p->shares));
}

static const char *wd_status_name(uint64_t status)
{
    switch (status) {
    case LEDGER_WD_PENDING:
        return "pending";
    case LEDGER_WD_CANCELLED:
        return "cancelled";
    case LEDGER_WD_FINALIZED:
        return "finalized";
    case LEDGER_WD_RETURNED:
        return "returned";
    case LEDGER_WD_SETTLED:
        return "settled";
    default:
        return "unknown";
    }
}

static int pack_withdrawal(msgpack_packer *pk, const ledger_withdrawal *w)
{
    return msgpack_pack_map(pk, 11) || rpc_pack_u64(pk, "request_id", w->id) ||
           rpc_pack_bin(pk, "owner", w->owner, LEDGER_KEY_SIZE) ||
           rpc_pack_u64(pk, "shares", w->shares) ||
           rpc_pack_u64(pk, "amount_at_request", w->amount_at_request) ||
           rpc_pack_u64(pk, "min_amount_out", w->min_amount_out) ||
           rpc_pack_u64(pk, "requested", w->requested) ||
           rpc_pack_str(pk, "status", wd_status_name(w->status)) ||
           rpc_pack_u64(pk, "paid", w->paid) || rpc_pack_u64(pk, "finalized", w->finalized) ||
           rpc_pack_bin(pk, "payout_ref", w->payout_ref, LEDGER_REF_SIZE) ||
           rpc_pack_u64(pk, "settled", w->settled);
}

/* ---- pool -------------------------------------------------------------------------------- */

/* a/s as a decimal with RATE_DIGITS fractional digits, rounded down; nil when s is 0. */
static int pack_rate(msgpack_packer *pk, const char *key, uint64_t a, uint64_t s)
{
    char text[64];
    if (s == 0)
        return rpc_pack_nil(pk, key);
    uint64_t whole = a / s, frac = (uint64_t)((u128)(a % s) * 1000000000000000000u / s);
    snprintf(text, sizeof text, "%" PRIu64 ".%0*" PRIu64, whole, RATE_DIGITS, frac);
    return rpc_pack_str(pk, key, text);
}

/* Bunker mode (held reports would book a loss): held_loss, bunker, and bunker_rate, the rate
 * withdraw_finalize pays at, (A - held_loss) / S (nil when not in bunker mode). */
static int pack_bunker(msgpack_packer *pk, const ledger_pool *p)
{
    bool bunker = p->held_loss > 0;
    uint64_t a = p->assets - (p->held_loss < p->assets ? p->held_loss : p->assets);
    return rpc_pack_u64(pk, "held_loss", p->held_loss) || rpc_pack_bool(pk, "bunker", bunker) ||
           (bunker ? pack_rate(pk, "bunker_rate", a, p->shares) : rpc_pack_nil(pk, "bunker_rate"));
}

/* Available stake limit at `now` (the query's time): min(max, current + elapsed * refill);
 * nil when STAKE_LIMIT_MAX is 0 (no limit). The 128-bit sum cannot overflow. */
static int pack_stake_limit(msgpack_packer *pk, const ledger_pool *p, uint64_t now)
{
    uint64_t max = p->params[LEDGER_PARAM_STAKE_LIMIT_MAX];
    if (max == 0)
        return rpc_pack_nil(pk, "stake_limit");
    uint64_t elapsed = now > p->stake_limit_ts ? now - p->stake_limit_ts : 0;
    u128 avail =
        (u128)elapsed * p->params[LEDGER_PARAM_STAKE_LIMIT_REFILL] + p->stake_limit_current;
    return rpc_pack_u64(pk, "stake_limit", avail > max ? max : (uint64_t)avail);
}

static int pack_paused(msgpack_packer *pk, uint64_t flags)
{
    return rpc_pack_key(pk, "paused") || msgpack_pack_map(pk, 3) ||
           rpc_pack_bool(pk, "deposits", (flags & LEDGER_PAUSE_DEPOSITS) != 0) ||
           rpc_pack_bool(pk, "transfers", (flags & LEDGER_PAUSE_TRANSFERS) != 0) ||
           rpc_pack_bool(pk, "withdrawals", (flags & LEDGER_PAUSE_WITHDRAWALS) != 0);
}

static int pack_params(msgpack_packer *pk, const ledger_pool *p)
{
    uint32_t n = 0;
    for (unsigned i = 1; i < LEDGER_PARAM_COUNT; i++)
        n += ledger_param_name(i) != NULL;
    if (rpc_pack_key(pk, "params") || msgpack_pack_map(pk, n))
        return -1;
    for (unsigned i = 1; i < LEDGER_PARAM_COUNT; i++)
        if (ledger_param_name(i) != NULL && rpc_pack_u64(pk, ledger_param_name(i), p->params[i]))
            return -1;
    return 0;
}

typedef struct last_report {
    uint64_t operator_id;
    ledger_report_entry entry;
} last_report;

/* One pass over the operators: each reporting operator's latest report, and the operator
 * holding the largest balance (the lowest id among equals; 0 when none holds any). */
typedef struct operator_scan {
    last_report *list;
    size_t n;
    uint64_t top_id, top_balance;
} operator_scan;

static int scan_operators(rpc_query_ctx *q, const ledger_pool *p, operator_scan *sc)
{
    uint64_t count =
        p->operator_count < LEDGER_OPERATORS_MAX ? p->operator_count : LEDGER_OPERATORS_MAX;
    memset(sc, 0, sizeof *sc);
    sc->list = malloc((size_t)count * sizeof *sc->list + 1);
    int rc = sc->list != NULL ? LEDGER_OK : RPC_QUERY_NOMEM;
    for (uint64_t id = 1; rc == LEDGER_OK && id <= count; id++) {
        ledger_operator o;
        rc = ledger_read_operator(q->view, id, &o);
        if (rc == LEDGER_OK && o.report_count > 0)
            sc->list[sc->n++] =
                (last_report){id, o.reports[(o.report_count - 1) % LEDGER_REPORTS_KEPT]};
        if (rc == LEDGER_OK && o.balance > sc->top_balance) {
            sc->top_id = id;
            sc->top_balance = o.balance;
        }
    }
    return rc;
}

/* Concentration: the operator with the largest share of A + U and that share. */
static int pack_concentration(msgpack_packer *pk, const ledger_pool *p, const operator_scan *sc)
{
    return (sc->top_id != 0 ? rpc_pack_u64(pk, "top_operator_id", sc->top_id)
                            : rpc_pack_nil(pk, "top_operator_id")) ||
           rpc_pack_u64(pk, "top_operator_share_bps", rpc_share_of_pooled_bps(sc->top_balance, p));
}

/* Each reporting operator's latest report: {operator_id, epoch, balance, time}. */
static int pack_last_reports(rpc_query_ctx *q, const operator_scan *sc)
{
    const last_report *list = sc->list;
    size_t n = sc->n;
    int rc =
        rpc_packed(rpc_pack_key(q->pk, "last_reports") || msgpack_pack_array(q->pk, (uint32_t)n));
    for (size_t i = 0; rc == LEDGER_OK && i < n; i++)
        rc = rpc_packed(msgpack_pack_map(q->pk, 4) ||
                        rpc_pack_u64(q->pk, "operator_id", list[i].operator_id) ||
                        rpc_pack_u64(q->pk, "epoch", list[i].entry.epoch) ||
                        rpc_pack_u64(q->pk, "balance", list[i].entry.balance) ||
                        rpc_pack_u64(q->pk, "time", list[i].entry.timestamp));
    return rc;
}

/* The pool's figures from ledger_id to bunker_rate (19 pairs), vested to the query's time. */
static int pack_pool_figures(msgpack_packer *pk, const ledger_genesis *g, const ledger_pool *p)
{
    return rpc_pack_str(pk, "ledger_id", g->ledger_id) ||
           rpc_pack_u64(pk, "decimals", p->decimals) || rpc_pack_u64(pk, "assets", p->assets) ||
           rpc_pack_u64(pk, "shares", p->shares) || rpc_pack_u64(pk, "rate_num", p->assets) ||
           rpc_pack_u64(pk, "rate_den", p->shares) || pack_rate(pk, "rate", p->assets, p->shares) ||
           rpc_pack_u64(pk, "unvested", p->unvested) ||
           rpc_pack_u64(pk, "vest_end", p->unvested > 0 ? p->vest_end : 0) ||
           rpc_pack_u64(pk, "buffer", p->buffer) || rpc_pack_u128(pk, "payable", p->payable) ||
           rpc_pack_u128(pk, "total_deposited", p->total_deposited) ||
           rpc_pack_u128(pk, "total_rewards", p->total_rewards) ||
           rpc_pack_u128(pk, "total_slashed", p->total_slashed) ||
           rpc_pack_u128(pk, "total_paid", p->total_paid) ||
           rpc_pack_u64(pk, "dead_shares", p->dead_shares) || pack_bunker(pk, p);
}

/* The epoch clock at `now`: the epoch running (the highest a report may carry) and when it
 * began. */
static int pack_epoch(msgpack_packer *pk, const ledger_pool *p, uint64_t now)
{
    uint64_t epoch_s = p->params[LEDGER_PARAM_EPOCH_S], start = p->epoch_anchor_ts;
    if (now > start && epoch_s > 0)
        start += (now - start) / epoch_s * epoch_s; /* <= now: no overflow */
    return rpc_pack_u64(pk, "epoch", ledger_epoch_at(p, now)) ||
           rpc_pack_u64(pk, "epoch_start", start);
}

/* Who books balances: report_mode, and the committee {members, quorum, majority (M > N/2),
 * minority (the admin accepted a quorum of at most half the members)} (2 pairs). */
static int pack_report_mode(msgpack_packer *pk, const ledger_pool *p)
{
    bool committee = p->report_mode == LEDGER_REPORT_MODE_COMMITTEE;
    bool majority = p->oracle_members > 0 && p->oracle_quorum * 2 > p->oracle_members;
    return rpc_pack_str(pk, "report_mode", committee ? "committee" : "operator") ||
           rpc_pack_key(pk, "oracle") || msgpack_pack_map(pk, 4) ||
           rpc_pack_u64(pk, "members", p->oracle_members) ||
           rpc_pack_u64(pk, "quorum", p->oracle_quorum) ||
           rpc_pack_bool(pk, "majority", majority) ||
           rpc_pack_bool(pk, "minority", p->oracle_minority != 0);
}

/* The pool's settings and roles from stake_limit to oracle (15 pairs). */
static int pack_pool_settings(msgpack_packer *pk, const ledger_pool *p, uint64_t now)
{
    return pack_stake_limit(pk, p, now) || pack_paused(pk, p->pause_flags) || pack_params(pk, p) ||
           rpc_pack_fee(pk, "treasury_fee", &p->treasury_fee, now) ||
           rpc_pack_bin(pk, "admin", p->admin, LEDGER_KEY_SIZE) ||
           rpc_pack_bin(pk, "custodian", p->custodian, LEDGER_KEY_SIZE) ||
           rpc_pack_bin(pk, "treasury", p->treasury, LEDGER_KEY_SIZE) ||
           rpc_pack_u64(pk, "operator_count", p->operator_count) ||
           rpc_pack_u64(pk, "next_lien_id", p->next_lien_id) ||
           rpc_pack_u64(pk, "next_request_id", p->next_request_id) ||
           rpc_pack_u64(pk, "finalized_through", p->finalized_through) || pack_epoch(pk, p, now) ||
           pack_report_mode(pk, p);
}

/* seq, batch, time (last batch), now (the query's time), head, digest (6 pairs). */
static int pack_chain(msgpack_packer *pk, const ledger_chain *c, uint64_t now)
{
    return rpc_pack_u64(pk, "seq", c->next_seq - 1) ||
           rpc_pack_u64(pk, "batch", c->next_batch - 1) || rpc_pack_u64(pk, "time", c->last_ts) ||
           rpc_pack_u64(pk, "now", now) || rpc_pack_bin(pk, "head", c->head, LEDGER_HASH_SIZE) ||
           rpc_pack_bin(pk, "digest", c->digest, LEDGER_HASH_SIZE);
}

/* 19 figures, 15 settings, 2 concentration, last_reports, 6 chain: 43 pairs. */
static int q_pool(rpc_query_ctx *q)
{
    ledger_genesis g;
    ledger_pool p;
    ledger_chain c;
    operator_scan sc = {0};
    uint64_t now = 0;
    int rc = ledger_genesis_read(q->view, &g);
    if (rc == LEDGER_OK)
        rc = rpc_query_pool_now(q, &p, &c, &now);
    if (rc == LEDGER_OK)
        rc = scan_operators(q, &p, &sc);
    if (rc == LEDGER_OK)
        rc = rpc_packed(msgpack_pack_map(q->pk, 43) || pack_pool_figures(q->pk, &g, &p) ||
                        pack_pool_settings(q->pk, &p, now) || pack_concentration(q->pk, &p, &sc));
    if (rc == LEDGER_OK)
        rc = pack_last_reports(q, &sc);
    free(sc.list);
    return rc == LEDGER_OK ? rpc_packed(pack_chain(q->pk, &c, now)) : rc;
}

/* ---- account ----------------------------------------------------------------------------- */

static int pack_account_liens(rpc_query_ctx *q, const ledger_pool *p, bool *more)
{
    uint64_t ids[ACCOUNT_LIST_MAX];
    size_t n;
    int rc =
        ledger_list(q->view, LEDGER_LIST_LIENS, q->req->key, 0, ids, ACCOUNT_LIST_MAX, &n, more);
    if (rc == LEDGER_OK)
        rc = rpc_packed(rpc_pack_key(q->pk, "liens") || msgpack_pack_array(q->pk, (uint32_t)n));
    for (size_t i = 0; rc == LEDGER_OK && i < n; i++) {
        ledger_lien l;
        rc = ledger_read_lien(q->view, ids[i], &l);
        if (rc == LEDGER_OK)
            rc = rpc_packed(pack_lien(q->pk, &l, p));
    }
    return rc;
}

static int pack_account_allowances(rpc_query_ctx *q, bool *more)
{
    uint8_t spenders[ACCOUNT_LIST_MAX][LEDGER_KEY_SIZE];
    uint64_t amounts[ACCOUNT_LIST_MAX];
    size_t n;
    int rc = ledger_list_allowances(q->view, q->req->key, NULL, spenders, amounts, ACCOUNT_LIST_MAX,
                                    &n, more);
    if (rc == LEDGER_OK)
        rc =
            rpc_packed(rpc_pack_key(q->pk, "allowances") || msgpack_pack_array(q->pk, (uint32_t)n));
    for (size_t i = 0; rc == LEDGER_OK && i < n; i++)
        rc = rpc_packed(msgpack_pack_map(q->pk, 2) ||
                        rpc_pack_bin(q->pk, "spender", spenders[i], LEDGER_KEY_SIZE) ||
                        rpc_pack_u64(q->pk, "shares", amounts[i]));
    return rc;
}

static int pack_account_withdrawals(rpc_query_ctx *q, bool *more)
{
    uint64_t ids[ACCOUNT_LIST_MAX];
    size_t n;
    int rc = ledger_list(q->view, LEDGER_LIST_WITHDRAWALS, q->req->key, 0, ids, ACCOUNT_LIST_MAX,
                         &n, more);
    if (rc == LEDGER_OK)
        rc = rpc_packed(rpc_pack_key(q->pk, "withdrawals") ||
                        msgpack_pack_array(q->pk, (uint32_t)n));
    for (size_t i = 0; rc == LEDGER_OK && i < n; i++) {
        ledger_withdrawal w;
        rc = ledger_read_withdrawal(q->view, ids[i], &w);
        if (rc == LEDGER_OK)
            rc = rpc_packed(pack_withdrawal(q->pk, &w));
    }
    return rc;
}

static int pack_account_balances(msgpack_packer *pk, const uint8_t key[LEDGER_KEY_SIZE],
                                 const ledger_account *a, const ledger_pool *p)
{
    u128 sum = (u128)a->shares + a->locked + a->queued; /* <= S by the share invariant */
    uint64_t total = sum > UINT64_MAX ? UINT64_MAX : (uint64_t)sum;
    return rpc_pack_bin(pk, "account", key, LEDGER_KEY_SIZE) ||
           rpc_pack_u64(pk, "shares", a->shares) || rpc_pack_u64(pk, "locked", a->locked) ||
           rpc_pack_u64(pk, "queued", a->queued) || rpc_pack_u64(pk, "total", total) ||
           rpc_pack_u64(pk, "value", mul_div_floor(total, p->assets, p->shares)) ||
           rpc_pack_u64(pk, "free_value", mul_div_floor(a->shares, p->assets, p->shares)) ||
           rpc_pack_u64(pk, "nonce", a->nonce) || rpc_pack_u64(pk, "next_nonce", a->nonce + 1);
}

static int q_account(rpc_query_ctx *q)
{
    ledger_pool p;
    ledger_account a;
    bool more_liens = false, more_allowances = false, more_withdrawals = false;
    int rc = rpc_query_pool_now(q, &p, NULL, NULL);
    if (rc == LEDGER_OK)
        rc = ledger_read_account(q->view, q->req->key, &a);
    if (rc == LEDGER_OK)
        rc = rpc_packed(msgpack_pack_map(q->pk, 13) ||
                        pack_account_balances(q->pk, q->req->key, &a, &p));
    if (rc == LEDGER_OK)
        rc = pack_account_liens(q, &p, &more_liens);
    if (rc == LEDGER_OK)
        rc = pack_account_allowances(q, &more_allowances);
    if (rc == LEDGER_OK)
        rc = pack_account_withdrawals(q, &more_withdrawals);
    if (rc != LEDGER_OK)
        return rc;
    return rpc_packed(
        rpc_pack_bool(q->pk, "truncated", more_liens || more_allowances || more_withdrawals));
}

/* ---- records: tx, history, events -------------------------------------------------------- */

static int q_tx(rpc_query_ctx *q)
{
    ledger_record r;
    int rc =
        read_named(q, ledger_read_tx(q->view, q->req->key, &r), "no transaction with this hash");
    return rc == LEDGER_OK ? rpc_packed(rpc_pack_record(q->pk, &r)) : rc;
}

#define PAGE_RECORDS_BYTES_MAX (RPC_REPLY_MAX_BYTES - 1024) /* the envelope, the id and next */

/* {records, next}: the records ids[0..n) (or first, first+1, ... when ids is NULL), or as many
 * of them as keep the page within RPC_REPLY_MAX_BYTES (at least one: records that list many
 * accounts are large); next is the last seq returned when more exist, else nil. The records
 * are packed aside first, so each is read once and the array's count is known before it. */
static int pack_page(rpc_query_ctx *q, const uint64_t *ids, uint64_t first, size_t n, bool more)
{
    msgpack_sbuffer recs;
    msgpack_packer rp;
    uint64_t seq = 0;
    uint32_t taken = 0;
    int rc = LEDGER_OK;
    msgpack_sbuffer_init(&recs);
    msgpack_packer_init(&rp, &recs, msgpack_sbuffer_write);
    for (size_t i = 0; rc == LEDGER_OK && i < n; i++) {
        ledger_record r;
        size_t before = recs.size;
        rc = ledger_read_record(q->view, ids != NULL ? ids[i] : first + i, &r);
        if (rc == LEDGER_OK)
            rc = rpc_packed(rpc_pack_record(&rp, &r));
        if (rc == LEDGER_OK && taken > 0 && recs.size > PAGE_RECORDS_BYTES_MAX) {
            recs.size = before; /* the page is full: this one starts the next */
            more = true;
            break;
        }
        if (rc == LEDGER_OK)
            taken++, seq = r.seq;
    }
    if (rc == LEDGER_OK)
        rc = rpc_packed(msgpack_pack_map(q->pk, 2) || rpc_pack_key(q->pk, "records") ||
                        msgpack_pack_array(q->pk, taken) ||
                        (recs.size > 0 && q->pk->callback(q->pk->data, recs.data, recs.size)));
    msgpack_sbuffer_destroy(&recs);
    if (rc != LEDGER_OK)
        return rc;
    return rpc_packed(more && taken > 0 ? rpc_pack_u64(q->pk, "next", seq)
                                        : rpc_pack_nil(q->pk, "next"));
}

static int q_history(rpc_query_ctx *q)
{
    uint64_t ids[HISTORY_LIMIT_MAX];
    size_t n;
    bool more;
    if (q->req->limit == 0 || q->req->limit > HISTORY_LIMIT_MAX)
        return LEDGER_OUT_OF_RANGE;
    int rc = ledger_list(q->view, LEDGER_LIST_HISTORY, q->req->key, q->req->after, ids,
                         (size_t)q->req->limit, &n, &more);
    return rc == LEDGER_OK ? pack_page(q, ids, 0, n, more) : rc;
}

static int q_events(rpc_query_ctx *q)
{
    ledger_chain c;
    uint64_t after = q->req->after, limit = q->req->limit;
    if (limit == 0 || limit > EVENTS_LIMIT_MAX)
        return LEDGER_OUT_OF_RANGE;
    int rc = ledger_read_chain(q->view, &c);
    if (rc != LEDGER_OK)
        return rc;
    uint64_t last = c.next_seq - 1, left = last > after ? last - after : 0;
    uint64_t n = left < limit ? left : limit;
    return pack_page(q, NULL, after + 1, (size_t)n, n < left);
}

/* ---- operator ---------------------------------------------------------------------------- */

/* apr_bps, and held: {epoch, balance, loss} of a held report (loss: what accepting it would
 * book now, ledger_held_loss), or nil. */
static int pack_apr_held(msgpack_packer *pk, const ledger_operator *o)
{
    int64_t apr;
    int rc = ledger_operator_apr_bps(o, &apr)
                 ? rpc_pack_key(pk, "apr_bps") || msgpack_pack_int64(pk, apr)
                 : rpc_pack_nil(pk, "apr_bps");
    if (rc)
        return rc;
    if (o->held_epoch == 0)
        return rpc_pack_nil(pk, "held");
    return rpc_pack_key(pk, "held") || msgpack_pack_map(pk, 3) ||
           rpc_pack_u64(pk, "epoch", o->held_epoch) ||
           rpc_pack_u64(pk, "balance", o->held_balance) ||
           rpc_pack_u64(pk, "loss", ledger_held_loss(o));
}

/* The fees: the operator's own fee map, the fees in force when its report period began and
 * next_report_fees, what its next report would be charged at `now` (ledger_report_fees). */
static int pack_operator_fees(msgpack_packer *pk, const ledger_operator *o, const ledger_pool *p,
                              uint64_t now)
{
    uint64_t treasury_bps, operator_bps;
    ledger_report_fees(p, o, now, &treasury_bps, &operator_bps);
    return rpc_pack_fee(pk, "fee", &o->fee, now) ||
           rpc_pack_u64(pk, "period_fee_bps", o->period_fee_bps) ||
           rpc_pack_u64(pk, "period_treasury_bps", o->period_treasury_bps) ||
           rpc_pack_key(pk, "next_report_fees") || msgpack_pack_map(pk, 2) ||
           rpc_pack_u64(pk, "treasury_bps", treasury_bps) ||
           rpc_pack_u64(pk, "operator_bps", operator_bps);
}

/* The kept reports, oldest first. */
static int pack_reports(msgpack_packer *pk, const ledger_operator *o)
{
    uint64_t kept = o->report_count < LEDGER_REPORTS_KEPT ? o->report_count : LEDGER_REPORTS_KEPT;
    if (rpc_pack_key(pk, "reports") || msgpack_pack_array(pk, (uint32_t)kept))
        return -1;
    for (uint64_t i = o->report_count - kept; i < o->report_count; i++) {
        const ledger_report_entry *e = &o->reports[i % LEDGER_REPORTS_KEPT];
        if (msgpack_pack_map(pk, 6) || rpc_pack_u64(pk, "epoch", e->epoch) ||
            rpc_pack_u64(pk, "balance", e->balance) || rpc_pack_u64(pk, "time", e->timestamp) ||
            rpc_pack_u64(pk, "gain", e->gain) || rpc_pack_u64(pk, "loss", e->loss) ||
            rpc_pack_u64(pk, "fee_shares", e->fee_shares))
            return -1;
    }
    return 0;
}

/* 20 pairs; share_bps is of A + U (vested or not: the stake at risk with this operator). */
static int pack_operator(msgpack_packer *pk, const ledger_operator *o, const ledger_pool *p,
                         uint64_t now)
{
    return msgpack_pack_map(pk, 20) || rpc_pack_u64(pk, "operator_id", o->id) ||
           rpc_pack_bin(pk, "key", o->key, LEDGER_KEY_SIZE) ||
           rpc_pack_bin(pk, "fee_account", o->fee_account, LEDGER_KEY_SIZE) ||
           rpc_pack_bool(pk, "active", o->active != 0) || pack_operator_fees(pk, o, p, now) ||
           rpc_pack_u64(pk, "balance", o->balance) ||
           rpc_pack_u64(pk, "reported_balance", o->reported_balance) ||
           rpc_pack_u128(pk, "funded_since", o->funded_since) ||
           rpc_pack_u128(pk, "exited_since", o->exited_since) ||
           rpc_pack_u64(pk, "last_epoch", o->last_epoch) ||
           rpc_pack_u64(pk, "last_report_time", o->last_report_ts) ||
           rpc_pack_u64(pk, "epoch", ledger_epoch_at(p, now)) ||
           rpc_pack_u128(pk, "fees_earned", o->fees_earned) ||
           rpc_pack_u64(pk, "share_bps", rpc_share_of_pooled_bps(o->balance, p)) ||
           pack_apr_held(pk, o) || pack_reports(pk, o);
}

static int q_operator(rpc_query_ctx *q)
{
    ledger_operator o;
    ledger_pool p;
    uint64_t now = 0;
    int rc = read_named(q, ledger_read_operator(q->view, q->req->number, &o), "no such operator");
    if (rc == LEDGER_OK)
        rc = rpc_query_pool_now(q, &p, NULL, &now);
    return rc == LEDGER_OK ? rpc_packed(pack_operator(q->pk, &o, &p, now)) : rc;
}

/* ---- quote, lien, withdrawal, queue ------------------------------------------------------ */

/* A quote at the price that applies: an amount mints at (A + U) / S (a deposit's price), shares
 * are worth A / S (an exit's); rate_num / rate_den is that price. */
static int q_quote(rpc_query_ctx *q)
{
    ledger_pool p;
    uint64_t amount = q->req->number, shares = q->req->number;
    int rc = rpc_query_pool_now(q, &p, NULL, NULL);
    if (rc == LEDGER_OK)
        rc = q->req->quote_shares ? ledger_shares_to_amount(&p, shares, &amount)
                                  : ledger_amount_to_shares(&p, amount, &shares);
    /* a query answers with query codes: the ledger's rule codes are for transactions */
    if (rc == LEDGER_OVERFLOW || rc == LEDGER_POOL_EMPTY) {
        q->message = rc == LEDGER_OVERFLOW ? "the quote does not fit in 64 bits"
                                           : "the pool holds nothing: there is no price to mint at";
        return LEDGER_OUT_OF_RANGE;
    }
    if (rc != LEDGER_OK)
        return rc;
    uint64_t num = q->req->quote_shares ? p.assets : p.assets + p.unvested; /* A + U fits */
    return rpc_packed(msgpack_pack_map(q->pk, 4) || rpc_pack_u64(q->pk, "amount", amount) ||
                      rpc_pack_u64(q->pk, "shares", shares) ||
                      rpc_pack_u64(q->pk, "rate_num", num) ||
                      rpc_pack_u64(q->pk, "rate_den", p.shares));
}

static int q_lien(rpc_query_ctx *q)
{
    ledger_lien l;
    ledger_pool p;
    int rc = read_named(q, ledger_read_lien(q->view, q->req->number, &l), "no such lien");
    if (rc == LEDGER_OK)
        rc = rpc_query_pool_now(q, &p, NULL, NULL);
    return rc == LEDGER_OK ? rpc_packed(pack_lien(q->pk, &l, &p)) : rc;
}

static int q_withdrawal(rpc_query_ctx *q)
{
    ledger_withdrawal w;
    int rc = read_named(q, ledger_read_withdrawal(q->view, q->req->number, &w),
                        "no such withdrawal request");
    return rc == LEDGER_OK ? rpc_packed(pack_withdrawal(q->pk, &w)) : rc;
}

static int q_queue(rpc_query_ctx *q)
{
    ledger_pool p;
    int rc = ledger_read_pool(q->view, &p);
    if (rc != LEDGER_OK)
        return rc;
    return rpc_packed(
        msgpack_pack_map(q->pk, 7) || rpc_pack_u64(q->pk, "next_request_id", p.next_request_id) ||
        rpc_pack_u64(q->pk, "finalized_through", p.finalized_through) ||
        rpc_pack_u64(q->pk, "pending_count", p.queue_count) ||
        rpc_pack_u64(q->pk, "pending_shares", p.queue_shares) ||
        rpc_pack_u128(q->pk, "pending_amount", p.queue_amount) ||
        rpc_pack_u64(q->pk, "buffer", p.buffer) || rpc_pack_u128(q->pk, "payable", p.payable));
}

/* ---- health ------------------------------------------------------------------------------ */

/* The counters of the bounds (PROTOCOL.md, "Limits"). */
static int pack_bound_counters(msgpack_packer *pk, const rpc_counters *c)
{
    return rpc_pack_u64(pk, "busy_unread", c->busy_unread) ||
           rpc_pack_u64(pk, "paused_unread", c->paused_unread) ||
           rpc_pack_u64(pk, "paused_share", c->paused_share) ||
           rpc_pack_u64(pk, "refused", c->refused) ||
           rpc_pack_u64(pk, "protocol_drops", c->protocol_drops) ||
           rpc_pack_u64(pk, "slow_drops", c->slow_drops) ||
           rpc_pack_u64(pk, "auth_failures", c->auth_failures) ||
           rpc_pack_u64(pk, "subscriptions_ignored", c->subscriptions_ignored) ||
           rpc_pack_u64(pk, "events_dropped", c->events_dropped);
}

static int pack_counters(msgpack_packer *pk, const rpc_counters *c)
{
    return rpc_pack_key(pk, "counters") || msgpack_pack_map(pk, 21) ||
           rpc_pack_u64(pk, "requests", c->requests) ||
           rpc_pack_u64(pk, "transactions", c->transactions) ||
           rpc_pack_u64(pk, "queries", c->queries) || rpc_pack_u64(pk, "batches", c->batches) ||
           rpc_pack_u64(pk, "batch_size_max", c->batch_size_max) ||
           rpc_pack_u64(pk, "commit_ms_total", c->commit_ms_total) ||
           rpc_pack_u64(pk, "busy", c->busy) || rpc_pack_u64(pk, "malformed", c->malformed) ||
           rpc_pack_u64(pk, "bad_signatures", c->bad_signatures) ||
           rpc_pack_u64(pk, "duplicates", c->duplicates) ||
           rpc_pack_u64(pk, "replies_dropped", c->replies_dropped) ||
           rpc_pack_u64(pk, "simulations", c->simulations) || pack_bound_counters(pk, c);
}

static const char *role_name(rpc_repl_role role)
{
    switch (role) {
    case RPC_REPL_FOLLOWER:
        return "follower";
    case RPC_REPL_CANDIDATE:
        return "candidate";
    case RPC_REPL_LEADER:
        return "leader";
    case RPC_REPL_FENCED:
        return "stepping_down";
    }
    return "unknown";
}

/* Replication: role, lease, how far this replica is (PROTOCOL.md, "Replication"). */
static int pack_replication(msgpack_packer *pk, const rpc_counters *c)
{
    if (!c->replicated)
        return rpc_pack_nil(pk, "replication");
    const rpc_repl_status *r = &c->repl;
    uint64_t lag =
        r->role == RPC_REPL_LEADER || r->stream_last < r->applied ? 0 : r->stream_last - r->applied;
    return rpc_pack_key(pk, "replication") || msgpack_pack_map(pk, 13) ||
           rpc_pack_str(pk, "role", role_name(r->role)) || rpc_pack_str(pk, "node", r->node) ||
           rpc_pack_str(pk, "lease_holder", r->lease_holder) ||
           rpc_pack_str(pk, "leader", r->leader) || rpc_pack_str(pk, "stream", r->stream) ||
           rpc_pack_u64(pk, "applied", r->applied) ||
           rpc_pack_u64(pk, "stream_last", r->stream_last) ||
           rpc_pack_u64(pk, "lag_batches", lag) || rpc_pack_u64(pk, "lag_ms", r->lag_ms) ||
           rpc_pack_u64(pk, "published", r->published) ||
           rpc_pack_u64(pk, "publish_us_total", r->publish_us_total) ||
           rpc_pack_u64(pk, "stalled_ms", r->stalled_ms) || rpc_pack_str(pk, "problem", r->problem);
}

static int q_health(rpc_query_ctx *q)
{
    static const rpc_counters none;
    const rpc_counters *c = q->counters != NULL ? q->counters : &none;
    ledger_genesis g;
    ledger_chain ch;
    int rc = ledger_genesis_read(q->view, &g);
    if (rc == LEDGER_OK)
        rc = ledger_read_chain(q->view, &ch);
    if (rc != LEDGER_OK)
        return rc;
    return rpc_packed(msgpack_pack_map(q->pk, 13) || rpc_pack_str(q->pk, "status", "ok") ||
                      rpc_pack_str(q->pk, "ledger_id", g.ledger_id) ||
                      rpc_pack_u64(q->pk, "seq", ch.next_seq - 1) ||
                      rpc_pack_u64(q->pk, "batch", ch.next_batch - 1) ||
                      rpc_pack_u64(q->pk, "uptime_s", c->uptime_s) ||
                      rpc_pack_u64(q->pk, "queue_depth", c->queue_depth) ||
                      rpc_pack_u64(q->pk, "queue_max", c->queue_max) ||
                      rpc_pack_u64(q->pk, "connections", c->connections) ||
                      rpc_pack_u64(q->pk, "subscribers", c->subscribers) ||
                      rpc_pack_u64(q->pk, "subscriptions", c->subscriptions) ||
                      rpc_pack_u64(q->pk, "reply_bytes", c->reply_bytes) ||
                      pack_replication(q->pk, c) || pack_counters(q->pk, c));
}

/* ---- rate history ------------------------------------------------------------------------ */

static int pack_rate_entry(msgpack_packer *pk, const rpc_rate_entry *e)
{
    return msgpack_pack_map(pk, 11) || rpc_pack_u64(pk, "seq", e->seq) ||
           rpc_pack_u64(pk, "batch", e->batch) || rpc_pack_u64(pk, "time", e->time) ||
           rpc_pack_str(pk, "kind", rpc_rate_kind_name(e->kind)) ||
           rpc_pack_u64(pk, "operator_id", e->operator_id) || rpc_pack_u64(pk, "gain", e->gain) ||
           rpc_pack_u64(pk, "loss", e->loss) || rpc_pack_u64(pk, "assets", e->assets) ||
           rpc_pack_u64(pk, "shares", e->shares) || rpc_pack_u64(pk, "unvested", e->unvested) ||
           pack_rate(pk, "rate", e->assets, e->shares);
}

/* {entries: [...], next}: the rate changes with seq >= from; next is the `from` of the next
 * page (the last seq returned + 1) when more exist, else nil. */
static int q_rate_history(rpc_query_ctx *q)
{
    uint64_t limit = q->req->limit;
    size_t n;
    bool more;
    if (limit == 0 || limit > RATES_LIMIT_MAX)
        return LEDGER_OUT_OF_RANGE;
    if (q->rates == NULL)
        return LEDGER_INTERNAL;
    rpc_rate_entry *e = malloc((size_t)limit * sizeof *e);
    if (e == NULL)
        return RPC_QUERY_NOMEM;
    int rc = rpc_rates_read(q->rates, q->req->after, e, (size_t)limit, &n, &more);
    if (rc == LEDGER_OK)
        rc = rpc_packed(msgpack_pack_map(q->pk, 2) || rpc_pack_key(q->pk, "entries") ||
                        msgpack_pack_array(q->pk, (uint32_t)n));
    for (size_t i = 0; rc == LEDGER_OK && i < n; i++)
        rc = rpc_packed(pack_rate_entry(q->pk, &e[i]));
    if (rc == LEDGER_OK)
        rc = rpc_packed(more && n > 0 ? rpc_pack_u64(q->pk, "next", e[n - 1].seq + 1)
                                      : rpc_pack_nil(q->pk, "next"));
    free(e);
    return rc;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static int (*const handlers[])(rpc_query_ctx *q) = {
    [RPC_Q_POOL] = q_pool,
    [RPC_Q_ACCOUNT] = q_account,
    [RPC_Q_TX] = q_tx,
    [RPC_Q_HISTORY] = q_history,
    [RPC_Q_OPERATOR] = q_operator,
    [RPC_Q_QUOTE] = q_quote,
    [RPC_Q_LIEN] = q_lien,
    [RPC_Q_WITHDRAWAL] = q_withdrawal,
    [RPC_Q_QUEUE] = q_queue,
    [RPC_Q_EVENTS] = q_events,
    [RPC_Q_HEALTH] = q_health,
    [RPC_Q_RATE_HISTORY] = q_rate_history,
    [RPC_Q_VOTES] = rpc_q_votes,
    [RPC_Q_OPERATORS] = rpc_q_operators,
};

/* Answer a failed query: the client-facing codes as they are, anything else (a store error)
 * as INTERNAL naming the cause. */
static int reply_failure(msgpack_sbuffer *buf, const rpc_query_ctx *q, int rc)
{
    char message[96];
    if (rc == LEDGER_NOT_FOUND || rc == LEDGER_OUT_OF_RANGE || rc == LEDGER_UNKNOWN_OP)
        return rpc_reply_error(buf, &q->req->id, rc, q->message);
    snprintf(message, sizeof message, "internal server error: store read failed (%s)",
             rc == LEDGER_STORE_NOTFOUND ? "missing record" : ledger_err_name(rc));
    return rpc_reply_error(buf, &q->req->id, LEDGER_INTERNAL, message);
}

int rpc_reply_query(msgpack_sbuffer *buf, ledger_store *view, const rpc_request *req, uint64_t now,
                    const rpc_counters *counters, rpc_rates *rates)
{
    msgpack_packer pk;
    rpc_query_ctx q = {&pk, view, req, counters, rates, now, NULL};
    assert(buf != NULL && view != NULL && req != NULL);
    msgpack_sbuffer_clear(buf);
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    if (req->query >= sizeof handlers / sizeof handlers[0] || handlers[req->query] == NULL)
        return reply_failure(buf, &q, LEDGER_UNKNOWN_OP);
    if (rpc_pack_head(&pk, &req->id, true, 1) || rpc_pack_key(&pk, "result"))
        return -1;
    int rc = handlers[req->query](&q);
    if (rc == RPC_QUERY_NOMEM)
        return -1;
    return rc == LEDGER_OK ? 0 : reply_failure(buf, &q, rc);
}
