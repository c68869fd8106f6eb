/* rpc_scores.h - per-operator running sums over the booked reports, for the operators scorecard */
#ifndef LSTD_RPC_SCORES_H
#define LSTD_RPC_SCORES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The scorecard's windows (7 days, 30 days, since registration) need every booked report of an
 * operator, more than the 8 the ledger keeps in its operator record; the ledger state does not
 * grow for them. The rate index (rpc_rates.h) already holds one entry per booked report with
 * what the scorecard needs (batch time, the period it covers, the expected balance, gain, loss,
 * the agreed performance), and is rebuilt from the log when missing; these sums are made from
 * its entries in memory when it opens (about 80 bytes per booked report) and kept with it.
 *
 * Per report i of an operator, over its period d_i = time_i - start_i (start: the operator's
 * previous booked report, or its registration) with expected balance E_i:
 *   x_i = floor((gain_i - loss_i) * 10000 * 31536000 / E_i)   bps * seconds (floor: towards -inf)
 *   p_i = performance_i * d_i                                 (reports that carry one)
 * A window's annualised rate is floor(sum x / sum d) over reports with E > 0, its performance
 * floor(sum p / sum d) over reports with a performance: each period's rate weighted by its
 * batch-time length. A report whose period began before the window counts for the part inside
 * it (x, p and d scaled by that part / d_i, floor). Rounding down never shows an operator better
 * than it was. */

typedef struct rpc_scores rpc_scores;

__extension__ typedef unsigned __int128 rpc_scores_u128;

/* What a booked report brings (one rate-index entry). */
typedef struct rpc_score_report {
    uint64_t seq, time, operator_id;
    uint64_t start;           /* the period began: previous booked report or registration */
    uint64_t expected;        /* E: the operator's balance the report was measured against */
    uint64_t gain, loss;      /* what it booked */
    uint64_t performance_bps; /* LEDGER_PERFORMANCE_NONE: none */
} rpc_score_report;

/* One window's figures. */
typedef struct rpc_score_window {
    uint64_t reports;     /* booked reports with a batch time in the window */
    bool has_apr;         /* some time with an expected balance is covered */
    int64_t apr_bps;      /* annualised net reward, bps (saturated to int64) */
    uint64_t apr_s;       /* seconds the rate covers */
    bool has_performance; /* some time with a performance figure is covered */
    uint64_t performance_bps;
    uint64_t performance_s; /* seconds the performance covers */
} rpc_score_window;

typedef struct rpc_score_slash {
    uint64_t seq, time, loss;
} rpc_score_slash;

/** Empty sums. Out: *out. Returns: 0 or -1 (no memory). */
int rpc_scores_new(rpc_scores **out) __attribute__((warn_unused_result));

/** Free; *s = NULL (NULL ignored). */
void rpc_scores_free(rpc_scores **s);

/** Add a booked report (reports of one operator in seq order).
 *  Returns: 0, or -1 (no memory: nothing added). */
int rpc_scores_add(rpc_scores *s, const rpc_score_report *r) __attribute__((warn_unused_result));

/** Take back the last report added for r->operator_id (an undone batch), r as it was added. */
void rpc_scores_pop(rpc_scores *s, const rpc_score_report *r);

/** The figures over the window (now - window_s, now] (window_s 0: every report up to now).
 *  Out: *out. */
void rpc_scores_window(const rpc_scores *s, uint64_t operator_id, uint64_t now, uint64_t window_s,
                       rpc_score_window *out);

/** The operator's slashing events (reports that booked a loss), newest first, at most max.
 *  Out: out[0..return), *count (all of them), *total (the sum of their losses).
 *  Returns: how many were written. */
size_t rpc_scores_slashes(const rpc_scores *s, uint64_t operator_id, rpc_score_slash *out,
                          size_t max, uint64_t *count, rpc_scores_u128 *total);

/** Out: *start, when the operator's first booked report's period began (its registration),
 *  *last, the last one's batch time. Returns: false when it has booked none. */
bool rpc_scores_span(const rpc_scores *s, uint64_t operator_id, uint64_t *start, uint64_t *last);

#endif
