/* rpc_scores.c - per-operator prefix sums of the booked reports' rates and performance */
#include "rpc_scores.h"

#include <stdlib.h>
#include <string.h>

#include "ledger.h"

__extension__ typedef __int128 i128;
typedef rpc_scores_u128 u128;

#define YEAR_S 31536000
#define I128_MAX ((i128)(((u128)1 << 127) - 1))
#define I128_MIN (-I128_MAX - 1)

/* One booked report and the operator's sums up to and including it. */
typedef struct point {
    uint64_t seq, time, start, loss;
    i128 x;          /* sum of x_i (bps * s) */
    u128 p;          /* sum of p_i (bps * s) */
    uint64_t dx, pd; /* seconds behind x and p */
} point;

typedef struct op_sums {
    point *pts;
    size_t n, cap;
    size_t *slashes; /* indexes of points that booked a loss, ascending */
    size_t ns, scap;
    u128 slashed;
} op_sums;

struct rpc_scores {
    op_sums *ops; /* by operator id */
    size_t nops;
};

int rpc_scores_new(rpc_scores **out)
{
    *out = calloc(1, sizeof **out);
    return *out != NULL ? 0 : -1;
}

void rpc_scores_free(rpc_scores **sp)
{
    rpc_scores *s = *sp;
    if (s == NULL)
        return;
    *sp = NULL;
    for (size_t i = 0; i < s->nops; i++) {
        free(s->ops[i].pts);
        free(s->ops[i].slashes);
    }
    free(s->ops);
    free(s);
}

static const op_sums *op_of(const rpc_scores *s, uint64_t id)
{
    return id < s->nops ? &s->ops[id] : NULL;
}

/* floor(a / b) for b > 0 (C division truncates towards zero). */
static i128 floor_div(i128 a, i128 b)
{
    i128 q = a / b;
    return a % b != 0 && a < 0 ? q - 1 : q;
}

static i128 sat_add(i128 a, i128 b)
{
    i128 r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? I128_MAX : I128_MIN) : r;
}

/* A report's own terms (not summed): x, dx, p, pd. */
static void terms(const rpc_score_report *r, i128 *x, uint64_t *dx, u128 *p, uint64_t *pd)
{
    uint64_t d = r->time > r->start ? r->time - r->start : 0;
    *x = 0, *dx = 0, *p = 0, *pd = 0;
    if (d == 0)
        return;
    if (r->expected > 0) {
        i128 net = (i128)r->gain - (i128)r->loss; /* |net| < 2^64; * 3.2e11 < 2^103 */
        *x = floor_div(net * 10000 * YEAR_S, (i128)r->expected);
        *dx = d;
    }
    if (r->performance_bps != LEDGER_PERFORMANCE_NONE) {
        *p = (u128)r->performance_bps * d;
        *pd = d;
    }
}

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 8;
    while (c < need)
        c *= 2;
    void *g = realloc(*arr, c * size);
    if (g == NULL)
        return -1;
    *arr = g;
    *cap = c;
    return 0;
}

static int ops_reserve(rpc_scores *s, uint64_t id)
{
    if (id < s->nops)
        return 0;
    if (id >= LEDGER_OPERATORS_MAX + 1u) /* ids are 1..LEDGER_OPERATORS_MAX */
        return -1;
    op_sums *g = realloc(s->ops, (size_t)(id + 1) * sizeof *g);
    if (g == NULL)
        return -1;
    memset(g + s->nops, 0, (size_t)(id + 1 - s->nops) * sizeof *g);
    s->ops = g;
    s->nops = (size_t)id + 1;
    return 0;
}

int rpc_scores_add(rpc_scores *s, const rpc_score_report *r)
{
    i128 x;
    u128 p;
    uint64_t dx, pd;
    if (ops_reserve(s, r->operator_id) != 0)
        return -1;
    op_sums *o = &s->ops[r->operator_id];
    if (grow((void **)&o->pts, &o->cap, o->n + 1, sizeof *o->pts) != 0 ||
        (r->loss > 0 && grow((void **)&o->slashes, &o->scap, o->ns + 1, sizeof *o->slashes) != 0))
        return -1;
    terms(r, &x, &dx, &p, &pd);
    point pt = {r->seq, r->time, r->start, r->loss, x, p, dx, pd};
    if (o->n > 0) {
        const point *prev = &o->pts[o->n - 1];
        pt.x = sat_add(prev->x, x);
        pt.p = prev->p + p; /* 10000 * 2^64 per report: no 128-bit overflow in any history */
        pt.dx = prev->dx + dx;
        pt.pd = prev->pd + pd;
    }
    if (r->loss > 0) {
        o->slashes[o->ns++] = o->n;
        o->slashed += r->loss;
    }
    o->pts[o->n++] = pt;
    return 0;
}

void rpc_scores_pop(rpc_scores *s, const rpc_score_report *r)
{
    if (r->operator_id >= s->nops || s->ops[r->operator_id].n == 0)
        return;
    op_sums *o = &s->ops[r->operator_id];
    o->n--;
    if (o->ns > 0 && o->slashes[o->ns - 1] == o->n) {
        o->ns--;
        o->slashed -= o->pts[o->n].loss;
    }
}

/* The sums of one window, as the differences of the prefix sums. */
typedef struct sums {
    i128 x;
    u128 p;
    uint64_t dx, pd;
} sums;

static sums diff(const point *to, const point *from)
{
    sums d = {to->x, to->p, to->dx, to->pd};
    if (from != NULL) {
        d.x = sat_add(d.x, -from->x);
        d.p -= from->p;
        d.dx -= from->dx;
        d.pd -= from->pd;
    }
    return d;
}

/* The first point with time > t (n when none). */
static size_t first_after(const op_sums *o, uint64_t t)
{
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->pts[mid].time <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* floor(v * part / whole) for whole > 0 and part <= whole, exact in 128 bits: with
 * q = floor(v / whole) and 0 <= r < whole, it is q * part + floor(r * part / whole). */
static i128 scale(i128 v, uint64_t part, uint64_t whole)
{
    i128 q = floor_div(v, whole), r = v - q * (i128)whole, out;
    if (__builtin_mul_overflow(q, (i128)part, &out))
        return q > 0 ? I128_MAX : I128_MIN;
    return sat_add(out, (i128)((u128)r * part / whole));
}

/* Report j's period began before t0: count only the part of it inside the window. */
static void clip(sums *w, const op_sums *o, size_t j, uint64_t t0)
{
    const point *pt = &o->pts[j];
    sums own = diff(pt, j > 0 ? &o->pts[j - 1] : NULL);
    uint64_t d = pt->time - pt->start, part = pt->time - t0; /* start < t0 < time */
    w->x = sat_add(sat_add(w->x, -own.x), scale(own.x, part, d));
    w->p = w->p - own.p + (own.pd > 0 ? own.p / own.pd * part : 0); /* own.p = perf * d */
    w->dx = w->dx - own.dx + (own.dx > 0 ? part : 0);
    w->pd = w->pd - own.pd + (own.pd > 0 ? part : 0);
}

void rpc_scores_window(const rpc_scores *s, uint64_t operator_id, uint64_t now, uint64_t window_s,
                       rpc_score_window *out)
{
    const op_sums *o = op_of(s, operator_id);
    memset(out, 0, sizeof *out);
    if (o == NULL || o->n == 0)
        return;
    uint64_t t0 = window_s == 0 || now < window_s ? 0 : now - window_s;
    size_t j = window_s == 0 ? 0 : first_after(o, t0), end = first_after(o, now);
    if (j >= end) /* no report in (t0, now] */
        return;
    sums w = diff(&o->pts[end - 1], j > 0 ? &o->pts[j - 1] : NULL);
    if (window_s != 0 && o->pts[j].start < t0)
        clip(&w, o, j, t0);
    out->reports = end - j;
    if (w.dx > 0) {
        i128 apr = floor_div(w.x, w.dx);
        out->has_apr = true;
        out->apr_bps = apr > INT64_MAX ? INT64_MAX : apr < INT64_MIN ? INT64_MIN : (int64_t)apr;
        out->apr_s = w.dx;
    }
    if (w.pd > 0) {
        out->has_performance = true;
        out->performance_bps = (uint64_t)(w.p / w.pd);
        out->performance_s = w.pd;
    }
}

size_t rpc_scores_slashes(const rpc_scores *s, uint64_t operator_id, rpc_score_slash *out,
                          size_t max, uint64_t *count, rpc_scores_u128 *total)
{
    const op_sums *o = op_of(s, operator_id);
    size_t n = 0;
    *count = o != NULL ? o->ns : 0;
    *total = o != NULL ? o->slashed : 0;
    for (size_t i = o != NULL ? o->ns : 0; i-- > 0 && n < max;) {
        const point *pt = &o->pts[o->slashes[i]];
        out[n++] = (rpc_score_slash){pt->seq, pt->time, pt->loss};
    }
    return n;
}

bool rpc_scores_span(const rpc_scores *s, uint64_t operator_id, uint64_t *start, uint64_t *last)
{
    const op_sums *o = op_of(s, operator_id);
    if (o == NULL || o->n == 0)
        return false;
    *start = o->pts[0].start;
    *last = o->pts[o->n - 1].time;
    return true;
}
