/* fixture.h - a ledger on the real durable store (LMDB log and checkpoint) with real keys and
 * signatures, for the tests */
#ifndef LSTD_TEST_FIXTURE_H
#define LSTD_TEST_FIXTURE_H

#include "ledger.h"
#include "store_db.h"
#include "test_util.h"

/* Key slots. Users are FX_USER + 0 .. FX_KEYS - 1. */
enum {
    FX_ADMIN = 0,
    FX_CUSTODIAN = 1,
    FX_TREASURY = 2,
    FX_OPERATOR = 3, /* operator 1 (registered at genesis) */
    FX_OPFEE = 4,    /* operator 1's fee account */
    FX_USER = 5,
    FX_KEYS = 16,
    FX_NONE = -1,
};

typedef struct fixture {
    char *dir;
    store_db *store;
    uint8_t sk[FX_KEYS][32], pk[FX_KEYS][32];
    uint64_t now;           /* batch time passed to the ledger; tests advance it */
    uint64_t ref_seq;       /* source of unique deposit references */
    uint64_t checkpoint_ms; /* the store's checkpoint interval at the next open; 0: default */
    uint64_t map_max_bytes; /* the LMDB maps' size and limit at the next open; 0: default */
    uint64_t gather_us;     /* the store's commit_gather_us at the next open; 0: none */
    ledger_genesis genesis;
} fixture;

/** Open a fresh store under $TMPDIR with a genesis: ledger id "lstd-test", the key slots
 *  above, one operator (FX_OPERATOR, fee 500 bps), treasury fee 500 bps, time 1000000.
 *  `tweak` (may be NULL) adjusts the genesis before it is applied. */
void fx_open(fixture *f, void (*tweak)(ledger_genesis *g));

/** Close the store and remove its directory. */
void fx_close(fixture *f);

/** Reopen the store (same directory) - for restart tests. */
void fx_reopen(fixture *f);

/** A transaction of `kind` signed by slot `signer` with its next nonce. account/account2 are
 *  key slots or FX_NONE. Deposit references come from ref_seq unless set afterwards. */
ledger_tx fx_tx(fixture *f, int signer, unsigned kind, int account, int account2, uint64_t id,
                uint64_t amount, uint64_t limit);

/** Sign tx (real BIP-340), verify the signature, apply it in its own batch and commit. */
ledger_result fx_submit(fixture *f, const ledger_tx *tx);

/** Sign and submit n transactions as one batch without waiting: done(ctx, rc) runs once it
 *  is durable (rc 0) or given up. res must stay valid until then. Returns: store_db_submit's
 *  code. */
int fx_submit_async(fixture *f, const ledger_tx *txs, size_t n, ledger_result *res,
                    store_db_done_fn done, void *ctx);

/** Apply n signed transactions in one batch and wait until it is durable. */
void fx_submit_batch(fixture *f, const ledger_tx *txs, size_t n, ledger_result *res);

/** Shorthand: fx_submit(fx_tx(...)). */
ledger_result fx_do(fixture *f, int signer, unsigned kind, int account, int account2, uint64_t id,
                    uint64_t amount, uint64_t limit);

ledger_pool fx_pool(fixture *f);
ledger_account fx_account(fixture *f, int slot);
ledger_operator fx_operator(fixture *f, uint64_t id);
ledger_withdrawal fx_withdrawal(fixture *f, uint64_t id);
ledger_chain fx_chain(fixture *f);

/** The two ledgers booked the same: the pool (its committee fields aside), operator 1 (its
 *  held report's performance aside) and the treasury's and fee account's shares; each
 *  difference is a failed CHECK. For comparing a committee ledger with an operator-report one. */
void fx_same_books(fixture *a, fixture *b);

/** Every result code wanted(code) selects was seen (seen[code], codes below 900); each one
 *  that was not is printed and counted as a failure. */
void fx_codes_reached(const bool seen[900], bool (*wanted)(int code));

/** Run ledger_check on a read snapshot; a violation is a failed CHECK with its message. */
void fx_check(fixture *f);

/** Apply a fixed history touching every family of operation: deposits, transfers (one
 *  rejected), allowance, lien lock/seize/release, operator funding, a report, a held report
 *  and its acceptance, withdrawals requested/finalized/settled, fee and parameter changes, and
 *  one multi-transaction batch holding a duplicate, then an oracle committee of three (U+8..U+10)
 *  booking one report by votes and left with one pending vote, operator reports on again.
 *  Record 7 is the lock. */
void fx_build_history(fixture *f);

/** A transaction of `kind` with random signer, nonce and fields (unused slots zero); integers
 *  are 0 or UINT64_MAX half the time, to reach the edges of the codecs. */
void fx_random_tx(ledger_tx *tx, unsigned kind, test_rng *r);

/* One byte of one stored value to flip (damage tests). */
typedef struct fx_damage {
    unsigned table;
    uint8_t key[40];
    size_t key_len;
    size_t byte; /* which value byte to flip */
} fx_damage;

/** Flip d->byte of the value at (table, key) in the LMDB environment in env_dir (the log:
 *  the ledger directory; the checkpoint: its checkpoint/ directory) through one write
 *  transaction, with the ledger closed: LMDB's own structure stays valid, so only the
 *  ledger's checks can notice. Returns: 0 or a code. */
int fx_damage_env(const char *env_dir, const fx_damage *d);

/** Sign a transaction with the secret key of slot `signer` (fills signer key and nonce is
 *  kept). Out: sig. */
void fx_sign(fixture *f, const ledger_tx *tx, uint8_t sig[LEDGER_SIG_SIZE]);

#endif
