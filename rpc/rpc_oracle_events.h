/* rpc_oracle_events.h - the committee's events: a quorum reached, votes for an epoch disagreeing */
#ifndef LSTD_RPC_ORACLE_EVENTS_H
#define LSTD_RPC_ORACLE_EVENTS_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

/* Besides every record (tx/<kind>/, acct/<hex>/), a vote publishes, after its batch is durable:
 *   oracle/quorum/<operator_id>/    when it reached the quorum: the report booked or held;
 *   oracle/disagree/<operator_id>/  when another member's pending vote for the same operator and
 *                                   epoch names another balance or performance.
 * Whether votes disagree is a fact of the state just before the vote (a vote that reaches the
 * quorum clears the votes it is compared with), so the sequencer reads the operator's pending
 * votes before applying a vote (rpc_oracle_prior) and notes what it found once applied. */

/* The operator's pending votes before one vote is applied. */
typedef struct rpc_oracle_prior {
    ledger_vote v[LEDGER_ORACLE_MEMBERS_MAX];
    size_t n;
} rpc_oracle_prior;

/* One event to publish. */
typedef struct rpc_oracle_note {
    bool quorum;      /* oracle/quorum/, else oracle/disagree/ */
    ledger_vote vote; /* the vote (member, operator, epoch, balance, performance, time) */
    uint64_t seq;     /* its record */
    int code;         /* its result (quorum: OK booked, or the hold's code) */
    uint64_t support, quorum_needed, gain, loss;
    size_t nothers; /* disagree: the other tuples voted for the epoch */
    ledger_vote others[LEDGER_ORACLE_MEMBERS_MAX];
} rpc_oracle_note;

typedef struct rpc_oracle_notes {
    rpc_oracle_note *v;
    size_t n, cap;
} rpc_oracle_notes;

/** Read the pending votes of the operator a vote names (before applying it). Out: *prior.
 *  Returns: LEDGER_OK or a store error. */
int rpc_oracle_prior_read(ledger_store *view, const ledger_tx *tx, rpc_oracle_prior *prior);

/** After a vote was applied with res (the pool `after` it): note a quorum reached (booked or
 *  held) and a disagreement with the pending votes for its epoch. Nothing for a vote that was
 *  refused before being counted, or a duplicate. Returns: 0 or -1 (no memory: the event is
 *  lost, the history has the vote). */
int rpc_oracle_note_vote(rpc_oracle_notes *notes, const ledger_tx *tx, const ledger_result *res,
                         const ledger_pool *after, const rpc_oracle_prior *prior);

/** Encode every note as (topic, payload) through emit. Returns: 0 or -1 (no memory). */
int rpc_oracle_events_encode(const rpc_oracle_notes *notes,
                             int (*emit)(void *ctx, const char *topic,
                                         const msgpack_sbuffer *payload),
                             void *ctx);

/** Forget the notes (keeping the memory); free frees it. */
void rpc_oracle_notes_clear(rpc_oracle_notes *notes);
void rpc_oracle_notes_free(rpc_oracle_notes *notes);

#endif
