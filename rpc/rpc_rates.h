/* rpc_rates.h - the rate-history index: the pool after every report, accepted report and reset */
#ifndef LSTD_RPC_RATES_H
#define LSTD_RPC_RATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "rpc_scores.h"
#include "store_db.h"

/* The history records say what each report booked (gain, loss, fee shares), not the pool it
 * left, so the exchange rate after a report cannot be read back from the log without replaying
 * the whole ledger. This index keeps it: one fixed-size entry per rate change, in a file of its
 * own beside the log (DATA/ledger/rate-index), appended by the sequencer when it applies the
 * change and written (fdatasync'd under sync durability) before the batch goes to the log, so
 * every durable record has its entry. At open, entries beyond the log are dropped and the last
 * entry is checked against the log's record (its record hash: the chain then vouches for every
 * earlier one); a missing, damaged or mismatched file is rebuilt by replaying the log from the
 * genesis into a scratch state (PROTOCOL.md, rate_history; README.md, Operations). */

enum rpc_rate_kind {
    RPC_RATE_REPORT = 1,        /* a report that booked a gain or nothing */
    RPC_RATE_SLASH = 2,         /* a report that booked a loss */
    RPC_RATE_REPORT_ACCEPT = 3, /* a held report the admin accepted */
    RPC_RATE_OPERATOR_RESET = 4 /* an operator re-anchored by the admin */
};

/* One rate change: the pool just after the record was applied (A vested to its batch time), and
 * the operator's side of it for the scorecard (rpc_scores.h). */
typedef struct rpc_rate_entry {
    uint64_t seq, batch, time; /* the record's */
    uint64_t kind;             /* enum rpc_rate_kind */
    uint64_t operator_id;
    uint64_t gain, loss;               /* what it booked (the record's outputs) */
    uint64_t assets, shares, unvested; /* A, S, U after it */
    uint64_t expected;                 /* the operator's balance before it (E) */
    uint64_t balance;                  /* the balance it booked */
    uint64_t start;                    /* the operator's previous booked report or registration */
    uint64_t performance_bps;          /* agreed by a committee; LEDGER_PERFORMANCE_NONE: none */
    uint8_t record_hash[LEDGER_HASH_SIZE];
} rpc_rate_entry;

/* What the sequencer reads before applying a transaction that may book a report: the
 * operator as it was (its balance, last report time and held report). */
typedef struct rpc_rate_prior {
    bool have;
    ledger_operator op;
} rpc_rate_prior;

/** Returns: the wire name of a kind ("report", "slash", "report_accept", "operator_reset"), or
 *  "unknown". Static storage. */
const char *rpc_rate_kind_name(uint64_t kind);

/** Returns: whether a transaction of this kind may book a report (and is worth a prior read). */
static inline bool rpc_rates_kind(unsigned kind)
{
    return kind == LEDGER_TX_REPORT || kind == LEDGER_TX_REPORT_ACCEPT ||
           kind == LEDGER_TX_OPERATOR_RESET || kind == LEDGER_TX_VOTE;
}

/** Returns: whether tx, applied with res leaving the pool `after`, changed the rate: a report, an
 *  accepted report or a reset that succeeded, or a vote that reached the quorum (its support
 *  at least the quorum, with code OK: it booked the report); a duplicate changes nothing. */
static inline bool rpc_rates_wanted(const ledger_tx *tx, const ledger_result *res,
                                    const ledger_pool *after)
{
    if (!rpc_rates_kind(tx->kind) || res->code != LEDGER_OK || res->duplicate)
        return false;
    return tx->kind != LEDGER_TX_VOTE ||
           (after->oracle_quorum > 0 && res->out[0] >= after->oracle_quorum);
}

/** Read what an entry for tx will need (before applying it). Out: *prior (have false for kinds
 *  that book nothing, or an operator that does not exist).
 *  Returns: LEDGER_OK or a store error. */
int rpc_rates_prior(ledger_store *view, const ledger_tx *tx, rpc_rate_prior *prior);

typedef struct rpc_rates rpc_rates;

/* What rpc_rates_open found. */
typedef struct rpc_rates_info {
    uint64_t entries;  /* entries held after opening */
    bool rebuilt;      /* the file was missing, damaged or did not match the log */
    uint64_t replayed; /* records replayed to rebuild it */
    uint64_t ms;       /* time taken */
    char why[160];     /* why it was rebuilt ("" when not) */
} rpc_rates_info;

/** Open the index at path for the opened store (from the thread that will submit, before
 *  serving: it reads the store's view), checking it against the log as above and rebuilding it
 *  when it must (as much memory again as the state holds, for as long as the replay takes).
 *  sync: fdatasync each append (the log's durability is STORE_SYNC).
 *  Out: *out, *info; msg (why, on failure).
 *  Returns: LEDGER_OK, LEDGER_STORE_IO (the file cannot be written), LEDGER_NO_MEMORY or
 *  LEDGER_STORE_CORRUPT (the log does not replay). */
int rpc_rates_open(rpc_rates **out, const char *path, store_db *store, bool sync,
                   rpc_rates_info *info, char *msg, size_t msg_size)
    __attribute__((warn_unused_result));

/** Close and free; *r = NULL (NULL ignored). */
void rpc_rates_close(rpc_rates **r);

/* The sequencer, per batch: add each change as it is applied, then commit the batch's changes
 * before it goes to the log, or abort them when the batch is undone. */

/** Keep one change of the batch being applied: tx applied with res, leaving the pool `after`,
 *  prior read before it (rpc_rates_prior); record_hash is the new record's hash (the chain head
 *  after it). A seq at or below entries already written (a batch undone earlier reused it)
 *  drops those entries first. The scorecard sums (rpc_rates_scores) count it at once.
 *  Returns: LEDGER_OK, LEDGER_NO_MEMORY or LEDGER_STORE_IO. */
int rpc_rates_add(rpc_rates *r, const ledger_tx *tx, const ledger_result *res,
                  const ledger_pool *after, const rpc_rate_prior *prior,
                  const uint8_t record_hash[LEDGER_HASH_SIZE]);

/** Write the batch's changes (and fdatasync them when sync). Nothing kept: 0 at once.
 *  Returns: LEDGER_OK or LEDGER_STORE_IO (nothing of them is kept then). */
int rpc_rates_commit(rpc_rates *r);

/** Forget the batch's changes (the batch was undone). */
void rpc_rates_abort(rpc_rates *r);

/** The entries with seq >= from, ascending, at most max, including the batch's uncommitted
 *  ones (a query in the same batch sees them). Out: out[0..*n), *more (further entries exist).
 *  Returns: LEDGER_OK or LEDGER_STORE_IO. */
int rpc_rates_read(rpc_rates *r, uint64_t from, rpc_rate_entry *out, size_t max, size_t *n,
                   bool *more);

/** Entries held (written and pending). */
uint64_t rpc_rates_count(const rpc_rates *r);

/** The scorecard's per-operator sums over every entry held (written and pending), valid while
 *  r is open; read them on the thread that adds entries. */
const rpc_scores *rpc_rates_scores(const rpc_rates *r);

#endif
