/* rpc_query_oracle.c - the committee's queries: pending votes, agreement, operators scorecard */
#include "rpc_query.h"

#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

#define WEEK_S (7u * 86400u)
#define MONTH_S (30u * 86400u)

/* ---- votes ------------------------------------------------------------------------------- */

/* The members and their agreement with applied results over their last `last` comparisons. */
typedef struct committee {
    ledger_oracle_member m[LEDGER_ORACLE_MEMBERS_MAX];
    size_t n;
    uint64_t last;
} committee;

static int pack_member(msgpack_packer *pk, const ledger_oracle_member *m, uint64_t last)
{
    uint64_t recent = last < m->recent_count ? last : m->recent_count;
    return msgpack_pack_map(pk, 8) || rpc_pack_bin(pk, "member", m->key, LEDGER_KEY_SIZE) ||
           rpc_pack_u64(pk, "added", m->added) || rpc_pack_u64(pk, "votes", m->votes) ||
           rpc_pack_u64(pk, "last_vote", m->last_vote) ||
           rpc_pack_u64(pk, "compared", m->compared) || rpc_pack_u64(pk, "differed", m->differed) ||
           rpc_pack_u64(pk, "recent", recent) ||
           rpc_pack_u64(pk, "recent_differed", ledger_oracle_recent_differed(m, last));
}

/* members: every member's record; differed: the keys of those whose last K votes include one
 * that differed from the applied result. */
static int pack_members(msgpack_packer *pk, const committee *c)
{
    uint32_t dissent = 0;
    if (rpc_pack_key(pk, "members") || msgpack_pack_array(pk, (uint32_t)c->n))
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        if (pack_member(pk, &c->m[i], c->last))
            return -1;
        dissent += ledger_oracle_recent_differed(&c->m[i], c->last) > 0;
    }
    if (rpc_pack_key(pk, "differed") || msgpack_pack_array(pk, dissent))
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        if (ledger_oracle_recent_differed(&c->m[i], c->last) == 0)
            continue;
        if (msgpack_pack_bin(pk, LEDGER_KEY_SIZE) ||
            msgpack_pack_bin_body(pk, c->m[i].key, LEDGER_KEY_SIZE))
            return -1;
    }
    return 0;
}

static bool same_tuple(const ledger_vote *a, const ledger_vote *b)
{
    return a->epoch == b->epoch && a->balance == b->balance &&
           a->performance_bps == b->performance_bps;
}

/* The votes for one epoch grouped by tuple, most votes first (then by balance, performance):
 * {balance, performance_bps, votes, members}. */
static int pack_tuples(msgpack_packer *pk, const ledger_vote *v, size_t n, uint64_t epoch)
{
    size_t heads[LEDGER_ORACLE_MEMBERS_MAX], count[LEDGER_ORACLE_MEMBERS_MAX], nt = 0;
    for (size_t i = 0; i < n; i++) {
        size_t t = 0;
        if (v[i].epoch != epoch)
            continue;
        while (t < nt && !same_tuple(&v[heads[t]], &v[i]))
            t++;
        if (t == nt)
            heads[nt] = i, count[nt++] = 0;
        count[t]++;
    }
    for (size_t i = 1; i < nt; i++) /* insertion sort: at most 32 */
        for (size_t j = i; j > 0; j--) {
            const ledger_vote *a = &v[heads[j - 1]], *b = &v[heads[j]];
            bool after = count[j - 1] < count[j] ||
                         (count[j - 1] == count[j] &&
                          (a->balance > b->balance ||
                           (a->balance == b->balance && a->performance_bps > b->performance_bps)));
            if (!after)
                break;
            size_t h = heads[j], c = count[j];
            heads[j] = heads[j - 1], count[j] = count[j - 1];
            heads[j - 1] = h, count[j - 1] = c;
        }
    if (rpc_pack_key(pk, "tuples") || msgpack_pack_array(pk, (uint32_t)nt))
        return -1;
    for (size_t t = 0; t < nt; t++) {
        const ledger_vote *h = &v[heads[t]];
        if (msgpack_pack_map(pk, 4) || rpc_pack_u64(pk, "balance", h->balance) ||
            rpc_pack_u64(pk, "performance_bps", h->performance_bps) ||
            rpc_pack_u64(pk, "votes", count[t]) || rpc_pack_key(pk, "members") ||
            msgpack_pack_array(pk, (uint32_t)count[t]))
            return -1;
        for (size_t i = 0; i < n; i++)
            if (same_tuple(&v[i], h) && (msgpack_pack_bin(pk, LEDGER_KEY_SIZE) ||
                                         msgpack_pack_bin_body(pk, v[i].member, LEDGER_KEY_SIZE)))
                return -1;
    }
    return 0;
}

static bool voted(const ledger_vote *v, size_t n, const uint8_t key[LEDGER_KEY_SIZE], uint64_t e)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].epoch == e && memcmp(v[i].member, key, LEDGER_KEY_SIZE) == 0)
            return true;
    return false;
}

/* One pending epoch: {epoch, votes, tuples, not_voted} (not_voted: the members with no vote
 * for it, whether silent or voting another epoch). */
static int pack_epoch_votes(msgpack_packer *pk, const ledger_vote *v, size_t n, uint64_t epoch,
                            const committee *c)
{
    uint32_t votes = 0, missing = 0;
    for (size_t i = 0; i < n; i++)
        votes += v[i].epoch == epoch;
    for (size_t i = 0; i < c->n; i++)
        missing += !voted(v, n, c->m[i].key, epoch);
    if (msgpack_pack_map(pk, 4) || rpc_pack_u64(pk, "epoch", epoch) ||
        rpc_pack_u64(pk, "votes", votes) || pack_tuples(pk, v, n, epoch) ||
        rpc_pack_key(pk, "not_voted") || msgpack_pack_array(pk, missing))
        return -1;
    for (size_t i = 0; i < c->n; i++)
        if (!voted(v, n, c->m[i].key, epoch) &&
            (msgpack_pack_bin(pk, LEDGER_KEY_SIZE) ||
             msgpack_pack_bin_body(pk, c->m[i].key, LEDGER_KEY_SIZE)))
            return -1;
    return 0;
}

/* The distinct epochs of the votes, ascending. Returns: how many. */
static size_t epochs_of(const ledger_vote *v, size_t n, uint64_t *epochs)
{
    size_t ne = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < ne && epochs[j] != v[i].epoch)
            j++;
        if (j < ne)
            continue;
        for (j = ne++; j > 0 && epochs[j - 1] > v[i].epoch; j--)
            epochs[j] = epochs[j - 1];
        epochs[j] = v[i].epoch;
    }
    return ne;
}

/* {operator_id, last_epoch, held, epochs} for one operator. */
static int pack_operator_votes(rpc_query_ctx *q, const ledger_operator *o, const committee *c)
{
    ledger_vote v[LEDGER_ORACLE_MEMBERS_MAX];
    uint64_t epochs[LEDGER_ORACLE_MEMBERS_MAX];
    size_t n;
    int rc = ledger_list_votes(q->view, o->id, v, LEDGER_ORACLE_MEMBERS_MAX, &n);
    if (rc != LEDGER_OK)
        return rc;
    size_t ne = epochs_of(v, n, epochs);
    msgpack_packer *pk = q->pk;
    bool held = o->held_epoch != 0;
    rc = rpc_packed(msgpack_pack_map(pk, 4) || rpc_pack_u64(pk, "operator_id", o->id) ||
                    rpc_pack_u64(pk, "last_epoch", o->last_epoch) ||
                    (held ? rpc_pack_key(pk, "held") || msgpack_pack_map(pk, 3) ||
                                rpc_pack_u64(pk, "epoch", o->held_epoch) ||
                                rpc_pack_u64(pk, "balance", o->held_balance) ||
                                (o->held_performance_bps == LEDGER_PERFORMANCE_NONE
                                     ? rpc_pack_nil(pk, "performance_bps")
                                     : rpc_pack_u64(pk, "performance_bps", o->held_performance_bps))
                          : rpc_pack_nil(pk, "held")) ||
                    rpc_pack_key(pk, "epochs") || msgpack_pack_array(pk, (uint32_t)ne));
    for (size_t i = 0; rc == LEDGER_OK && i < ne; i++)
        rc = rpc_packed(pack_epoch_votes(pk, v, n, epochs[i], c));
    return rc;
}

#define VOTES_PAGE_MAX 16 /* operators per votes page (PROTOCOL.md: limit 1..16) */

/* The operators to show: the one asked for (NOT_FOUND when there is none), or those with pending
 * votes after `after`, at most `limit`. Out: ids[0..*n), *more. */
static int votes_page(rpc_query_ctx *q, uint64_t ids[VOTES_PAGE_MAX], size_t *n, bool *more)
{
    uint64_t at = q->req->after, id;
    *n = 0;
    *more = false;
    if (q->req->number != 0) {
        ledger_operator o;
        int rc = ledger_read_operator(q->view, q->req->number, &o);
        if (rc == LEDGER_STORE_NOTFOUND)
            q->message = "no such operator";
        if (rc != LEDGER_OK)
            return rc == LEDGER_STORE_NOTFOUND ? LEDGER_NOT_FOUND : rc;
        ids[(*n)++] = q->req->number;
        return LEDGER_OK;
    }
    for (;;) {
        int rc = ledger_next_voted_operator(q->view, at, &id);
        if (rc == LEDGER_STORE_NOTFOUND)
            return LEDGER_OK;
        if (rc != LEDGER_OK)
            return rc;
        if (*n == q->req->limit || *n == VOTES_PAGE_MAX) {
            *more = true;
            return LEDGER_OK;
        }
        ids[(*n)++] = at = id;
    }
}

/* {report_mode, quorum, last, members, differed, operators, next}. */
int rpc_q_votes(rpc_query_ctx *q)
{
    static _Thread_local committee c;
    uint64_t ids[VOTES_PAGE_MAX];
    size_t n;
    bool more;
    ledger_pool p;
    c.last = q->req->last;
    int rc = ledger_read_pool(q->view, &p);
    if (rc == LEDGER_OK)
        rc = ledger_list_oracle_members(q->view, c.m, LEDGER_ORACLE_MEMBERS_MAX, &c.n);
    if (rc == LEDGER_OK)
        rc = votes_page(q, ids, &n, &more);
    if (rc != LEDGER_OK)
        return rc;
    msgpack_packer *pk = q->pk;
    bool committee_mode = p.report_mode == LEDGER_REPORT_MODE_COMMITTEE;
    rc = rpc_packed(msgpack_pack_map(pk, 7) ||
                    rpc_pack_str(pk, "report_mode", committee_mode ? "committee" : "operator") ||
                    rpc_pack_u64(pk, "quorum", p.oracle_quorum) ||
                    rpc_pack_u64(pk, "last", c.last) || pack_members(pk, &c) ||
                    rpc_pack_key(pk, "operators") || msgpack_pack_array(pk, (uint32_t)n));
    for (size_t i = 0; rc == LEDGER_OK && i < n; i++) {
        ledger_operator o;
        rc = ledger_read_operator(q->view, ids[i], &o);
        if (rc == LEDGER_OK)
            rc = pack_operator_votes(q, &o, &c);
    }
    if (rc != LEDGER_OK)
        return rc;
    return rpc_packed(more && n > 0 ? rpc_pack_u64(pk, "next", ids[n - 1])
                                    : rpc_pack_nil(pk, "next"));
}

/* ---- the operators scorecard ------------------------------------------------------------- */

#define SLASHES_SHOWN 4 /* slashing events listed per operator (all are counted and summed) */

typedef struct card {
    ledger_operator o;
    rpc_score_window w7, w30, all;
    uint64_t treasury_bps, operator_bps; /* what its next report would be charged */
    uint64_t share_bps, stake_share_bps;
} card;

/* qsort has no context: the order of the sort running on this thread. */
static _Thread_local unsigned sort_order;
static _Thread_local bool sort_reverse;

/* -1, 0, 1 for a before b by a figure that may be absent (absent last, whatever the direction);
 * `desc`: larger first. */
static int by_figure(bool ha, int64_t a, bool hb, int64_t b, bool desc)
{
    if (ha != hb)
        return ha ? -1 : 1;
    if (!ha || a == b)
        return 0;
    int c = (a < b) == desc ? 1 : -1;
    return sort_reverse ? -c : c;
}

static int card_cmp(const void *pa, const void *pb)
{
    const card *a = pa, *b = pb;
    int c = 0;
    switch (sort_order) {
    case RPC_ORDER_FEE: /* cheapest first */
        c = by_figure(true, (int64_t)(a->treasury_bps + a->operator_bps), true,
                      (int64_t)(b->treasury_bps + b->operator_bps), false);
        break;
    case RPC_ORDER_APR_7D:
        c = by_figure(a->w7.has_apr, a->w7.apr_bps, b->w7.has_apr, b->w7.apr_bps, true);
        break;
    case RPC_ORDER_APR_30D:
        c = by_figure(a->w30.has_apr, a->w30.apr_bps, b->w30.has_apr, b->w30.apr_bps, true);
        break;
    case RPC_ORDER_APR:
        c = by_figure(a->all.has_apr, a->all.apr_bps, b->all.has_apr, b->all.apr_bps, true);
        break;
    case RPC_ORDER_SHARE: /* largest first: where the stake is concentrated */
        c = by_figure(true, (int64_t)a->share_bps, true, (int64_t)b->share_bps, true);
        break;
    case RPC_ORDER_PERFORMANCE_7D:
        c = by_figure(a->w7.has_performance, (int64_t)a->w7.performance_bps, b->w7.has_performance,
                      (int64_t)b->w7.performance_bps, true);
        break;
    case RPC_ORDER_PERFORMANCE_30D:
        c = by_figure(a->w30.has_performance, (int64_t)a->w30.performance_bps,
                      b->w30.has_performance, (int64_t)b->w30.performance_bps, true);
        break;
    case RPC_ORDER_PERFORMANCE:
        c = by_figure(a->all.has_performance, (int64_t)a->all.performance_bps,
                      b->all.has_performance, (int64_t)b->all.performance_bps, true);
        break;
    default: /* id */
        return sort_reverse ? (a->o.id < b->o.id) - (a->o.id > b->o.id)
                            : (a->o.id > b->o.id) - (a->o.id < b->o.id);
    }
    return c != 0 ? c : (a->o.id > b->o.id) - (a->o.id < b->o.id);
}

static void card_fill(card *k, const rpc_scores *sc, const ledger_pool *p, uint64_t now, u128 stake)
{
    rpc_scores_window(sc, k->o.id, now, WEEK_S, &k->w7);
    rpc_scores_window(sc, k->o.id, now, MONTH_S, &k->w30);
    rpc_scores_window(sc, k->o.id, now, 0, &k->all);
    ledger_report_fees(p, &k->o, now, &k->treasury_bps, &k->operator_bps);
    k->share_bps = rpc_share_of_pooled_bps(k->o.balance, p);
    k->stake_share_bps =
        stake == 0 ? 0
                   : (uint64_t)((__extension__(unsigned __int128) k->o.balance) * 10000 / stake);
}

static int pack_apr(msgpack_packer *pk, const char *key, const rpc_score_window *w)
{
    return w->has_apr ? rpc_pack_key(pk, key) || msgpack_pack_int64(pk, w->apr_bps)
                      : rpc_pack_nil(pk, key);
}

static int pack_perf(msgpack_packer *pk, const char *key, const rpc_score_window *w)
{
    return w->has_performance ? rpc_pack_u64(pk, key, w->performance_bps) : rpc_pack_nil(pk, key);
}

/* slashes, slashed (decimal string), slashing [{seq, time, loss}] newest first. */
static int pack_slashing(msgpack_packer *pk, const rpc_scores *sc, uint64_t id)
{
    rpc_score_slash s[SLASHES_SHOWN];
    uint64_t count;
    rpc_scores_u128 total;
    size_t n = rpc_scores_slashes(sc, id, s, SLASHES_SHOWN, &count, &total);
    if (rpc_pack_u64(pk, "slashes", count) || rpc_pack_u128(pk, "slashed", total) ||
        rpc_pack_key(pk, "slashing") || msgpack_pack_array(pk, (uint32_t)n))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (msgpack_pack_map(pk, 3) || rpc_pack_u64(pk, "seq", s[i].seq) ||
            rpc_pack_u64(pk, "time", s[i].time) || rpc_pack_u64(pk, "loss", s[i].loss))
            return -1;
    return 0;
}

/* registered, last_report_time and last_report_age_s (nil before a report), held. */
static int pack_times(msgpack_packer *pk, const card *k, const rpc_scores *sc, uint64_t now)
{
    uint64_t start = k->o.last_report_ts, last = 0;
    bool reported = rpc_scores_span(sc, k->o.id, &start, &last);
    return rpc_pack_u64(pk, "registered", start) ||
           (reported
                ? rpc_pack_u64(pk, "last_report_time", k->o.last_report_ts) ||
                      rpc_pack_u64(pk, "last_report_age_s",
                                   now > k->o.last_report_ts ? now - k->o.last_report_ts : 0)
                : rpc_pack_nil(pk, "last_report_time") || rpc_pack_nil(pk, "last_report_age_s")) ||
           rpc_pack_bool(pk, "held", k->o.held_epoch != 0);
}

/* One operator's scorecard: 24 pairs. */
static int pack_card(msgpack_packer *pk, const card *k, const rpc_scores *sc, uint64_t now)
{
    return msgpack_pack_map(pk, 24) || rpc_pack_u64(pk, "operator_id", k->o.id) ||
           rpc_pack_bool(pk, "active", k->o.active != 0) ||
           rpc_pack_fee(pk, "fee", &k->o.fee, now) || rpc_pack_key(pk, "next_report_fees") ||
           msgpack_pack_map(pk, 2) || rpc_pack_u64(pk, "treasury_bps", k->treasury_bps) ||
           rpc_pack_u64(pk, "operator_bps", k->operator_bps) ||
           rpc_pack_u64(pk, "fee_total_bps", k->treasury_bps + k->operator_bps) ||
           rpc_pack_u64(pk, "balance", k->o.balance) ||
           rpc_pack_u64(pk, "share_bps", k->share_bps) ||
           rpc_pack_u64(pk, "stake_share_bps", k->stake_share_bps) ||
           pack_apr(pk, "apr_7d_bps", &k->w7) || pack_apr(pk, "apr_30d_bps", &k->w30) ||
           pack_apr(pk, "apr_bps", &k->all) || pack_perf(pk, "performance_7d_bps", &k->w7) ||
           pack_perf(pk, "performance_30d_bps", &k->w30) ||
           pack_perf(pk, "performance_bps", &k->all) ||
           rpc_pack_u64(pk, "reports_7d", k->w7.reports) ||
           rpc_pack_u64(pk, "reports_30d", k->w30.reports) ||
           rpc_pack_u64(pk, "reports", k->all.reports) || pack_times(pk, k, sc, now) ||
           pack_slashing(pk, sc, k->o.id);
}

/* The cards of every operator (the active ones with active_only). Out: *cards (malloc'd), *n. */
static int cards_read(rpc_query_ctx *q, const ledger_pool *p, uint64_t now, card **cards, size_t *n)
{
    const rpc_scores *sc = rpc_rates_scores(q->rates);
    uint64_t count =
        p->operator_count < LEDGER_OPERATORS_MAX ? p->operator_count : LEDGER_OPERATORS_MAX;
    u128 stake = (u128)p->assets + p->unvested - p->buffer; /* A + U = buffer + the balances */
    *n = 0;
    *cards = malloc((size_t)count * sizeof **cards + 1);
    if (*cards == NULL)
        return RPC_QUERY_NOMEM;
    for (uint64_t id = 1; id <= count; id++) {
        card *k = &(*cards)[*n];
        memset(k, 0, sizeof *k);
        int rc = ledger_read_operator(q->view, id, &k->o);
        if (rc != LEDGER_OK)
            return rc;
        if (q->req->active_only && !k->o.active)
            continue;
        card_fill(k, sc, p, now, stake);
        (*n)++;
    }
    return LEDGER_OK;
}

/* {now, order, operators}: sorted by `order` (ties by id), reversed with `reverse`, the first
 * `limit`. */
int rpc_q_operators(rpc_query_ctx *q)
{
    ledger_pool p;
    uint64_t now;
    card *cards = NULL;
    size_t n = 0;
    if (q->rates == NULL)
        return LEDGER_INTERNAL;
    int rc = rpc_query_pool_now(q, &p, NULL, &now);
    if (rc == LEDGER_OK)
        rc = cards_read(q, &p, now, &cards, &n);
    if (rc == LEDGER_OK) {
        sort_order = q->req->order;
        sort_reverse = q->req->reverse;
        qsort(cards, n, sizeof *cards, card_cmp);
        n = n < q->req->limit ? n : (size_t)q->req->limit;
        rc = rpc_packed(msgpack_pack_map(q->pk, 3) || rpc_pack_u64(q->pk, "now", now) ||
                        rpc_pack_str(q->pk, "order", rpc_operator_order_name(q->req->order)) ||
                        rpc_pack_key(q->pk, "operators") || msgpack_pack_array(q->pk, (uint32_t)n));
    }
    for (size_t i = 0; rc == LEDGER_OK && i < n; i++)
        rc = rpc_packed(pack_card(q->pk, &cards[i], rpc_rates_scores(q->rates), now));
    free(cards);
    return rc;
}
