/* fake_router.h - fake lstd replicas for client tests: a ROUTER in a thread answering msgpack */
#ifndef LSTD_FAKE_ROUTER_H
#define LSTD_FAKE_ROUTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_LOG_MAX 256 /* transactions a fake remembers */

/* The state replicas share: one signer's next nonce and the last seq (a tiny ledger). */
typedef struct fake_book {
    pthread_mutex_t mu;
    uint64_t next_nonce; /* starts at 1 */
    uint64_t seq;
} fake_book;

enum fake_role {
    FAKE_LEADER = 1, /* transactions: applied to the book (nonce rules: ok, duplicate, NONCE_GAP) */
    FAKE_FOLLOWER,   /* transactions: NOT_LEADER with the leader hint */
    FAKE_SILENT      /* transactions: never answered */
};

typedef struct fake_config {
    int role;                 /* enum fake_role */
    const char *leader;       /* FAKE_FOLLOWER: the hint (NULL: nil) */
    unsigned lead_first;      /* FAKE_FOLLOWER: the first this many are answered as a leader */
    unsigned busy_first;      /* FAKE_LEADER: the first this many are answered BUSY */
    unsigned no_quorum_first; /* FAKE_LEADER: the next this many are answered NO_QUORUM */
    fake_book *book;          /* shared with the other replicas (NULL: one of its own) */
    const char *ledger_id;    /* NULL: "fake-ledger" */
} fake_config;

typedef struct fake_router fake_router;

/** Bind a ROUTER on tcp://127.0.0.1:* and answer in a thread of its own: pool and account
 *  queries always (as every replica does), transactions by role. Returns: the fake (aborts
 *  when ZeroMQ fails). */
fake_router *fake_start(const fake_config *cfg);

/** Returns: the endpoint it is bound to ("tcp://127.0.0.1:PORT"). */
const char *fake_endpoint(const fake_router *f);

/** Returns: the transactions received so far. */
size_t fake_tx_count(fake_router *f);

/** The i-th transaction received: its nonce and a copy of its bytes (malloc'd, the caller
 *  frees; bytes may be NULL). Returns: false when there is no such one. */
bool fake_tx_at(fake_router *f, size_t i, uint64_t *nonce, char **bytes, size_t *size);

/** Returns: the connections it has accepted. */
unsigned fake_accepted(fake_router *f);

/** Stop the thread, close the socket, free it, *fp = NULL. */
void fake_stop(fake_router **fp);

/** Initialise a book: next nonce 1, seq 0. */
void fake_book_init(fake_book *b);

#endif
