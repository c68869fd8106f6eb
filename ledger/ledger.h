/* ledger.h - public interface of the deterministic share-token state machine */
#ifndef LSTD_LEDGER_H
#define LSTD_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "ledger_error.h"
#include "ledger_store.h"

#if defined(__GNUC__)
#define LEDGER_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define LEDGER_WARN_UNUSED
#endif

#define LEDGER_KEY_SIZE 32 /* x-only secp256k1 public key */
#define LEDGER_HASH_SIZE 32
#define LEDGER_SIG_SIZE 64
#define LEDGER_REF_SIZE 32
#define LEDGER_ID_MAX 32      /* ledger id: 1..32 bytes of printable ASCII */
#define LEDGER_BPS 10000u     /* basis points in one */
#define LEDGER_REPORTS_KEPT 8 /* report history kept per operator */
#define LEDGER_OPERATORS_MAX 1024
#define LEDGER_FINALIZE_MAX 1024 /* requests one finalize transaction may touch */
#define LEDGER_RECORD_ACCOUNTS_MAX                                                                 \
    LEDGER_FINALIZE_MAX /* accounts a record lists as changed without naming them */
#define LEDGER_TOUCHED_MAX (LEDGER_RECORD_ACCOUNTS_MAX + 8) /* and the named ones */
#define LEDGER_TX_BYTES_MAX 256
#define LEDGER_GENESIS_OPERATORS_MAX 16
#define LEDGER_GENESIS_BYTES_MAX 4096 /* encoded genesis (ledger_genesis_encode) fits in this */
#define LEDGER_ORACLE_MEMBERS_MAX 32  /* oracle committee members (N) */
#define LEDGER_ORACLE_RECENT_MAX 64   /* comparisons with an applied result kept per member */
#define LEDGER_PERFORMANCE_NONE UINT64_MAX /* a report that carries no performance figure */
#define LEDGER_DEAD_SHARES_MIN                                                                     \
    1000000u /* genesis dead shares: at least 10^6 (ledger/README.md)                              \
              */

/* Lifetime totals are 128-bit so that no amount of activity can exhaust them. */
__extension__ typedef unsigned __int128 ledger_u128;

/* ---- transactions --------------------------------------------------------------------- */

/* The transaction kinds. Numbers are part of the signing layout: append only.
 * X(name, number, role of the signer) */
#define LEDGER_KINDS(X)                                                                            \
    X(DEPOSIT, 1)                                                                                  \
    X(TRANSFER, 2)                                                                                 \
    X(APPROVE, 3)                                                                                  \
    X(TRANSFER_FROM, 4)                                                                            \
    X(LOCK, 5)                                                                                     \
    X(RELEASE, 6)                                                                                  \
    X(SEIZE, 7)                                                                                    \
    X(WITHDRAW_REQUEST, 8)                                                                         \
    X(WITHDRAW_CANCEL, 9)                                                                          \
    X(WITHDRAW_FINALIZE, 10)                                                                       \
    X(WITHDRAW_SETTLE, 11)                                                                         \
    X(OPERATOR_FUND, 12)                                                                           \
    X(OPERATOR_EXIT, 13)                                                                           \
    X(REPORT, 14)                                                                                  \
    X(REPORT_ACCEPT, 15)                                                                           \
    X(OPERATOR_REGISTER, 16)                                                                       \
    X(OPERATOR_SET_ACTIVE, 17)                                                                     \
    X(OPERATOR_SET_KEYS, 18)                                                                       \
    X(FEE_SET, 19)                                                                                 \
    X(PARAM_SET, 20)                                                                               \
    X(PAUSE_SET, 21)                                                                               \
    X(ROLE_SET, 22)                                                                                \
    X(OPERATOR_RESET, 23)                                                                          \
    X(ORACLE_ADD, 24)                                                                              \
    X(ORACLE_REMOVE, 25)                                                                           \
    X(QUORUM_SET, 26)                                                                              \
    X(VOTE, 27)

typedef enum ledger_kind {
#define LEDGER_KIND_ENUM(name, num) LEDGER_TX_##name = num,
    LEDGER_KINDS(LEDGER_KIND_ENUM)
#undef LEDGER_KIND_ENUM
        LEDGER_TX_KIND_MAX = 27
} ledger_kind;

/* A decoded transaction. Each kind uses a documented subset of the slots below (the kind's
 * field table in ledger_tx.c says which slot each field is in; ledger_kind_lookup); unused
 * slots are zero. Field names per kind are in ledger/README.md. The slots are storage only: the
 * signing layout is the kind's fields in table order, whatever slot holds them. */
typedef struct ledger_tx {
    uint8_t kind;
    uint8_t signer[LEDGER_KEY_SIZE];
    uint64_t nonce;                    /* per signer, first transaction carries 1 */
    uint8_t account[LEDGER_KEY_SIZE];  /* to (also seize) / spender / owner / beneficiary / key /
                                          member */
    uint8_t account2[LEDGER_KEY_SIZE]; /* to of transfer_from / fee_account */
    uint8_t ref[LEDGER_REF_SIZE];      /* external_ref / payout_ref */
    uint64_t id;     /* lien_id / request_id / operator_id / up_to_id / param / role / mode */
    uint64_t amount; /* amount / shares / balance / fee_bps / value / flags / quorum */
    uint64_t limit;  /* min_shares_out / min_amount_out / expiry / epoch / active / minority */
    uint64_t extra;  /* performance_bps (vote) */
} ledger_tx;

/* Field types of the signing layout. */
enum ledger_field_type { LEDGER_F_KEY = 1, LEDGER_F_REF = 2, LEDGER_F_U64 = 3 };

enum ledger_slot {
    LEDGER_SLOT_ACCOUNT,
    LEDGER_SLOT_ACCOUNT2,
    LEDGER_SLOT_REF,
    LEDGER_SLOT_ID,
    LEDGER_SLOT_AMOUNT,
    LEDGER_SLOT_LIMIT,
    LEDGER_SLOT_EXTRA
};

typedef struct ledger_field {
    const char *name; /* wire name, e.g. "min_shares_out" */
    uint8_t type;     /* enum ledger_field_type */
    uint8_t slot;     /* enum ledger_slot */
} ledger_field;

typedef struct ledger_kind_info {
    const char *name; /* wire name, e.g. "transfer_from" */
    uint8_t field_count;
    const ledger_field *fields; /* in signing-layout order */
    const char *out_names[4];   /* wire names of ledger_result.out[i]; NULL: unused */
} ledger_kind_info;

/** Returns: the address inside tx of a slot (enum ledger_slot): a uint8_t[32] for the key and
 *  ref slots, a uint64_t for the others. Lets callers fill fields from a kind's field table. */
void *ledger_tx_slot(ledger_tx *tx, unsigned slot);

/** Returns: the description of a kind, or NULL for an unknown kind. Static storage. */
const ledger_kind_info *ledger_kind_lookup(unsigned kind);

/** Returns: the kind number for a wire name, or 0 if unknown. */
unsigned ledger_kind_by_name(const char *name);

/** Encode the signing bytes of tx (layout in ledger/README.md).
 *  Returns: the number of bytes written (<= LEDGER_TX_BYTES_MAX), or 0 for an unknown kind. */
size_t ledger_tx_encode(uint8_t out[LEDGER_TX_BYTES_MAX], const ledger_tx *tx);

/** Decode signing bytes. Returns: LEDGER_OK, LEDGER_KIND_UNKNOWN or LEDGER_TX_MALFORMED. */
LEDGER_WARN_UNUSED int ledger_tx_decode(ledger_tx *tx, const uint8_t *bytes, size_t len);

/** The transaction hash that is signed: tagged SHA-256 of the signing bytes under the tag
 *  "lstd/tx/v1/" || ledger_id.  Returns: LEDGER_OK or LEDGER_KIND_UNKNOWN. */
int ledger_tx_hash(uint8_t hash[LEDGER_HASH_SIZE], const char *ledger_id, const ledger_tx *tx);

/* The transaction tag of one ledger, prepared once (a SHA-256 midstate): for callers that
 * hash many transactions. A plain value, shareable read-only between threads. */
typedef struct ledger_tx_hasher {
    crypto_tag tag;
} ledger_tx_hasher;

/** Prepare the hasher of ledger `ledger_id`. */
void ledger_tx_hasher_init(ledger_tx_hasher *h, const char *ledger_id);

/** As ledger_tx_hash, with a prepared hasher. Returns: LEDGER_OK or LEDGER_KIND_UNKNOWN. */
int ledger_tx_hash_with(uint8_t hash[LEDGER_HASH_SIZE], const ledger_tx_hasher *h,
                        const ledger_tx *tx);

/* ---- results -------------------------------------------------------------------------- */

/* What a transaction delivered; meaning of out[] per kind is in ledger/README.md. */
typedef struct ledger_result {
    int code;           /* ledger_err */
    bool duplicate;     /* the same transaction was already recorded: its recorded result */
    uint64_t seq;       /* history sequence number (0 when not recorded) */
    uint64_t batch;     /* batch number it was committed in */
    uint64_t timestamp; /* batch time, seconds */
    uint64_t out[4];
} ledger_result;

/* ---- parameters ---------------------------------------------------------------------- */

/* X(name, number, default, min, max) - settable by PARAM_SET. */
#define LEDGER_PARAMS(X)                                                                           \
    X(STAKE_LIMIT_MAX, 1, 0, 0, UINT64_MAX)    /* base units; 0 = no stake limit */                \
    X(STAKE_LIMIT_REFILL, 2, 0, 0, UINT64_MAX) /* base units per second */                         \
    X(MAX_APR_BPS, 3, 1000, 0, 1000000)        /* annualised increase limit per report */          \
    X(MAX_DROP_BPS, 4, 500, 0, 10000)          /* one-off decrease limit per report */             \
    X(OPERATOR_CAP_BPS, 5, 0, 0, 10000)        /* max operator share of A; 0 = no cap */           \
    X(FEE_DELAY_S, 6, 604800, 0, 31536000)     /* delay before a fee increase applies */           \
    X(EPOCH_S, 7, 384, 1, 86400)               /* seconds per epoch */                             \
    X(VEST_S, 8, 86400, 0, 2592000) /* a reward vests into the rate over this; 0 = at once */

enum ledger_param {
#define LEDGER_PARAM_ENUM(name, num, def, lo, hi) LEDGER_PARAM_##name = num,
    LEDGER_PARAMS(LEDGER_PARAM_ENUM)
#undef LEDGER_PARAM_ENUM
        LEDGER_PARAM_COUNT = 9 /* one more than the highest number */
};

/** Returns: the wire name of a parameter ("MAX_APR_BPS"), or NULL if unknown. */
const char *ledger_param_name(unsigned param);

enum ledger_pause {
    LEDGER_PAUSE_DEPOSITS = 1,
    LEDGER_PAUSE_TRANSFERS = 2,
    LEDGER_PAUSE_WITHDRAWALS = 4,
    LEDGER_PAUSE_ALL = 7
};

enum ledger_role { LEDGER_ROLE_ADMIN = 1, LEDGER_ROLE_CUSTODIAN = 2, LEDGER_ROLE_TREASURY = 3 };

/* Who books validator balances (quorum_set's mode; ledger/README.md, "Oracle committee"). */
enum ledger_report_mode {
    LEDGER_REPORT_MODE_OPERATOR = 1, /* each operator's key reports its own balance (report) */
    LEDGER_REPORT_MODE_COMMITTEE = 2 /* a quorum of oracle members' identical votes (vote) */
};

/* ---- state records -------------------------------------------------------------------- */

typedef struct ledger_fee {
    uint64_t bps;         /* in force */
    uint64_t pending_bps; /* scheduled increase (0 and pending_at 0: none) */
    uint64_t pending_at;  /* time it takes effect */
} ledger_fee;

typedef struct ledger_pool {
    uint64_t assets;   /* A: vested pooled assets, the numerator of the rate A / S */
    uint64_t shares;   /* S = all shares in existence */
    uint64_t buffer;   /* assets held by the custodian, not at validators */
    uint64_t unvested; /* U: reported reward not yet vested; A + U = buffer + operator balances */
    uint64_t vest_ts, vest_end; /* U vests linearly from vest_ts to vest_end */
    uint64_t held_loss;  /* sum of the losses the held reports would book (bunker mode when > 0) */
    ledger_u128 payable; /* finalized payouts not yet settled (not part of A) */
    ledger_u128 total_deposited, total_rewards, total_slashed, total_paid; /* lifetime */
    uint64_t stake_limit_current, stake_limit_ts;
    uint64_t pause_flags;
    uint64_t params[LEDGER_PARAM_COUNT];
    ledger_fee treasury_fee;
    uint8_t admin[LEDGER_KEY_SIZE], custodian[LEDGER_KEY_SIZE], treasury[LEDGER_KEY_SIZE];
    uint64_t operator_count;    /* ids 1..operator_count */
    uint64_t next_lien_id;      /* ids start at 1 */
    uint64_t next_request_id;   /* ids start at 1 */
    uint64_t finalized_through; /* every request id <= this is finalized, cancelled or returned */
    uint64_t queue_count, queue_shares; /* pending requests: count, shares */
    ledger_u128 queue_amount;           /* pending requests: sum of amount_at_request */
    uint64_t decimals;
    uint64_t dead_shares;
    uint64_t epoch_anchor, epoch_anchor_ts; /* epoch epoch_anchor started at epoch_anchor_ts */
    uint64_t report_mode;                   /* enum ledger_report_mode */
    uint64_t oracle_members;  /* N: oracle committee members (the oracle_member table) */
    uint64_t oracle_quorum;   /* M: identical votes that book a report (0 only while N is 0) */
    uint64_t oracle_minority; /* 1: the admin accepted a quorum of at most half the members */
} ledger_pool;

typedef struct ledger_account {
    uint64_t shares; /* free */
    uint64_t locked; /* pledged in liens this account owns */
    uint64_t queued; /* in pending withdrawal requests */
    uint64_t nonce;  /* last nonce used as signer (0: none yet) */
} ledger_account;

typedef struct ledger_lien {
    uint64_t id;
    uint8_t owner[LEDGER_KEY_SIZE], beneficiary[LEDGER_KEY_SIZE];
    uint64_t shares;
    uint64_t expiry; /* seconds; 0 = none */
    uint64_t created;
} ledger_lien;

enum ledger_wd_status {
    LEDGER_WD_PENDING = 1,
    LEDGER_WD_CANCELLED = 2,
    LEDGER_WD_FINALIZED = 3,
    LEDGER_WD_RETURNED = 4, /* payout would have been below min_amount_out: shares returned */
    LEDGER_WD_SETTLED = 5
};

typedef struct ledger_withdrawal {
    uint64_t id;
    uint8_t owner[LEDGER_KEY_SIZE];
    uint64_t shares;
    uint64_t amount_at_request; /* floor(s*A/S) when requested */
    uint64_t min_amount_out;
    uint64_t requested;
    uint64_t status;
    uint64_t paid;
    uint64_t finalized; /* time */
    uint8_t payout_ref[LEDGER_REF_SIZE];
    uint64_t settled; /* time */
} ledger_withdrawal;

typedef struct ledger_report_entry {
    uint64_t epoch, balance, timestamp;
    uint64_t gain, loss; /* reward or slashing of this report */
    uint64_t fee_shares;
} ledger_report_entry;

typedef struct ledger_operator {
    uint64_t id;
    uint8_t key[LEDGER_KEY_SIZE], fee_account[LEDGER_KEY_SIZE];
    uint64_t active;
    ledger_fee fee;
    uint64_t balance;          /* last reported balance + funded - exited since */
    uint64_t reported_balance; /* last reported balance */
    ledger_u128 funded_since, exited_since;
    uint64_t last_epoch, last_report_ts; /* last applied report (registration time before one) */
    uint64_t period_fee_bps, period_treasury_bps; /* fees in force when the period began */
    ledger_u128 fees_earned;                      /* fee shares minted to the fee account, ever */
    uint64_t held_epoch, held_balance; /* report held back by a sanity limit (0,0: none) */
    uint64_t held_performance_bps;     /* its performance when a committee quorum agreed on it;
                                          LEDGER_PERFORMANCE_NONE for the operator's own report;
                                          0 while nothing is held */
    uint64_t report_count;             /* reports applied, ever; history is a ring of the last 8 */
    ledger_report_entry reports[LEDGER_REPORTS_KEPT];
} ledger_operator;

/* An oracle committee member and its record of agreement with the applied results. */
typedef struct ledger_oracle_member {
    uint8_t key[LEDGER_KEY_SIZE];
    uint64_t added;        /* time it was added (genesis time for genesis members) */
    uint64_t votes;        /* votes it cast, ever (a replaced vote counts) */
    uint64_t last_vote;    /* time of its latest vote (0: none) */
    uint64_t compared;     /* its votes for an epoch whose committee result was applied */
    uint64_t differed;     /* of those, the ones whose balance or performance differed */
    uint64_t recent_mask;  /* the last recent_count comparisons, bit 0 the newest: 1 differed */
    uint64_t recent_count; /* <= LEDGER_ORACLE_RECENT_MAX */
} ledger_oracle_member;

/* A member's pending vote for one operator: at most one per member and operator (its latest). */
typedef struct ledger_vote {
    uint64_t operator_id;
    uint8_t member[LEDGER_KEY_SIZE];
    uint64_t epoch, balance, performance_bps;
    uint64_t time; /* batch time of the vote */
} ledger_vote;

typedef struct ledger_chain {
    uint64_t next_seq;   /* sequence number of the next recorded transaction (first is 1) */
    uint64_t next_batch; /* number of the next committed batch (first is 1) */
    uint64_t last_ts;    /* time of the last batch; batch time never goes backwards */
    uint8_t head[LEDGER_HASH_SIZE];   /* hash of the last history record (genesis hash at 0) */
    uint8_t digest[LEDGER_HASH_SIZE]; /* state digest: sum of element hashes mod 2^256 */
} ledger_chain;

/* ---- genesis -------------------------------------------------------------------------- */

typedef struct ledger_genesis_operator {
    uint8_t key[LEDGER_KEY_SIZE], fee_account[LEDGER_KEY_SIZE];
    uint64_t fee_bps;
} ledger_genesis_operator;

typedef struct ledger_genesis {
    char ledger_id[LEDGER_ID_MAX + 1];
    uint64_t decimals;  /* default 9 */
    uint64_t timestamp; /* genesis time, seconds */
    uint8_t admin[LEDGER_KEY_SIZE], custodian[LEDGER_KEY_SIZE], treasury[LEDGER_KEY_SIZE];
    uint64_t dead_shares;  /* seed assets = dead shares (1:1), held by the dead account */
    uint64_t epoch_origin; /* time epoch 0 starts (<= timestamp); default 0 */
    uint64_t treasury_fee_bps;
    uint64_t params[LEDGER_PARAM_COUNT];
    uint64_t operator_count;
    ledger_genesis_operator operators[LEDGER_GENESIS_OPERATORS_MAX];
    uint64_t report_mode;     /* enum ledger_report_mode; default operator */
    uint64_t oracle_quorum;   /* M (0 with no members) */
    uint64_t oracle_minority; /* 1: accept a quorum of at most half the members */
    uint64_t oracle_member_count;
    uint8_t oracle_members[LEDGER_ORACLE_MEMBERS_MAX][LEDGER_KEY_SIZE];
} ledger_genesis;

/** Fill g with the defaults (decimals 9, dead_shares 1000000, treasury fee 500 bps, param
 *  defaults, operator report mode with no oracle members); keys and ledger_id are left zero
 *  for the caller. */
void ledger_genesis_defaults(ledger_genesis *g);

/** Write the genesis state into an empty store view.
 *  Returns: LEDGER_OK, LEDGER_ALREADY_INITIALIZED (the store holds a genesis: nothing is
 *  written), LEDGER_GENESIS_INVALID (bad id, key, fee or parameter) or a store error. */
LEDGER_WARN_UNUSED int ledger_genesis_apply(ledger_store *st, const ledger_genesis *g);

/** Encode the genesis configuration: the genesis bytes of PROTOCOL.md ("History").
 *  Returns: bytes written, or 0 if cap is too small. */
size_t ledger_genesis_encode(uint8_t *out, size_t cap, const ledger_genesis *g);

/** Genesis hash: tagged SHA-256 "lstd/genesis/v1" over the genesis bytes; the first history
 *  record's prev. */
void ledger_genesis_hash(uint8_t out[LEDGER_HASH_SIZE], const uint8_t *bytes, size_t len);

/** Read the genesis configuration back. Returns: LEDGER_OK, LEDGER_NOT_INITIALIZED,
 *  LEDGER_STORE_CORRUPT or a store error. */
LEDGER_WARN_UNUSED int ledger_genesis_read(ledger_store *st, ledger_genesis *g);

/* The dead account: all-zero key, never a valid signer; holds the genesis dead shares. */
extern const uint8_t ledger_dead_account[LEDGER_KEY_SIZE];

/* ---- batches --------------------------------------------------------------------------- */

/* A batch in progress. Callers treat it as opaque; it lives on the caller's stack. */
typedef struct ledger_batch {
    ledger_store *st;
    char ledger_id[LEDGER_ID_MAX + 1];
    ledger_tx_hasher hasher; /* this ledger's transaction tag */
    ledger_pool pool;
    ledger_chain chain;
    uint64_t now;     /* effective batch time */
    uint64_t applied; /* transactions recorded in this batch */
    size_t touched;   /* accounts the transaction being applied wrote, so far */
    uint8_t touched_keys[LEDGER_TOUCHED_MAX][LEDGER_KEY_SIZE];
} ledger_batch;

/** Start a batch on a write view. `now` is the caller's clock in seconds; the effective
 *  time is max(now, last batch time) so time never goes backwards.
 *  Returns: LEDGER_OK, LEDGER_NOT_INITIALIZED, LEDGER_STORE_CORRUPT or a store error. */
LEDGER_WARN_UNUSED int ledger_batch_begin(ledger_batch *b, ledger_store *st, uint64_t now);

/** Apply one transaction whose signature the caller has verified (sig is kept in history).
 *  `hash` is the transaction hash the caller verified the signature against, computed with
 *  ledger_tx_hash (or ledger_tx_hash_with) for this ledger, so it is computed once; NULL lets
 *  the ledger compute it (replay does, to check every stored record).
 *  Out: *res. res->code is the transaction's result. A code < 100 means not recorded.
 *  Returns: LEDGER_OK when the transaction was handled (whatever res->code says), or an
 *  internal error (>= 900): the caller must abort the whole batch. */
LEDGER_WARN_UNUSED int ledger_apply(ledger_batch *b, const ledger_tx *tx,
                                    const uint8_t hash[LEDGER_HASH_SIZE],
                                    const uint8_t sig[LEDGER_SIG_SIZE], ledger_result *res);

/** Hint the store that the accounts (and the tx hashes, when hashes is not NULL) of these n
 *  transactions are about to be read: call before applying them. Changes nothing. */
void ledger_batch_prefetch(ledger_batch *b, const ledger_tx *txs,
                           const uint8_t (*hashes)[LEDGER_HASH_SIZE], size_t n);

/* Hints pay when they run a little ahead of the apply, a few at a time: a group of
 * LEDGER_PREFETCH_GROUP transactions is hinted while the group before it is applied. Hints
 * for hundreds of transactions at once ask the CPU for thousands of cache lines in one burst,
 * more than it keeps in flight, and many of them are lost (at a million accounts the
 * applying thread took about 4.5 us per transfer with 256 at a time, 3.4-3.6 with this). */
#define LEDGER_PREFETCH_GROUP 16

/** Which transactions to hint before applying transaction i of a batch's n (in order, from 0):
 *  at i = 0 the first two groups, at the start of each later group the group after it.
 *  Out: *first, *count. Returns: false when nothing is due before i. */
bool ledger_prefetch_due(size_t i, size_t n, size_t *first, size_t *count);

/** Write the batch's pool record, fold every entry the batch changed into the state digest
 *  (the view's `changed`: one hash per changed entry) and write the chain record. The caller
 *  then keeps the view's writes (or undoes them all). A batch that recorded no transaction
 *  writes nothing and consumes no batch number.
 *  Returns: LEDGER_OK, LEDGER_INTERNAL (a view that does not track its writes) or a store
 *  error. */
LEDGER_WARN_UNUSED int ledger_batch_end(ledger_batch *b);

/* ---- reads (any view) ------------------------------------------------------------------- */

/** Each read returns LEDGER_OK, LEDGER_STORE_NOTFOUND (no such record), LEDGER_STORE_CORRUPT
 *  or a store error. Missing accounts read as all zero and return LEDGER_OK. */
LEDGER_WARN_UNUSED int ledger_read_pool(ledger_store *st, ledger_pool *out);
LEDGER_WARN_UNUSED int ledger_read_chain(ledger_store *st, ledger_chain *out);
LEDGER_WARN_UNUSED int ledger_read_account(ledger_store *st, const uint8_t key[LEDGER_KEY_SIZE],
                                           ledger_account *out);
LEDGER_WARN_UNUSED int ledger_read_allowance(ledger_store *st, const uint8_t owner[32],
                                             const uint8_t spender[32], uint64_t *out);
LEDGER_WARN_UNUSED int ledger_read_lien(ledger_store *st, uint64_t id, ledger_lien *out);
LEDGER_WARN_UNUSED int ledger_read_withdrawal(ledger_store *st, uint64_t id,
                                              ledger_withdrawal *out);
LEDGER_WARN_UNUSED int ledger_read_operator(ledger_store *st, uint64_t id, ledger_operator *out);
LEDGER_WARN_UNUSED int ledger_read_oracle_member(ledger_store *st,
                                                 const uint8_t key[LEDGER_KEY_SIZE],
                                                 ledger_oracle_member *out);

/** Every oracle member, by key ascending (at most max, which should be
 *  LEDGER_ORACLE_MEMBERS_MAX). Out: out[0..*n).
 *  Returns: LEDGER_OK, LEDGER_STORE_CORRUPT or a store error. */
LEDGER_WARN_UNUSED int ledger_list_oracle_members(ledger_store *st, ledger_oracle_member *out,
                                                  size_t max, size_t *n);

/** The pending votes for one operator, by member key ascending (at most max; there are at
 *  most LEDGER_ORACLE_MEMBERS_MAX). Out: out[0..*n).
 *  Returns: LEDGER_OK, LEDGER_STORE_CORRUPT or a store error. */
LEDGER_WARN_UNUSED int ledger_list_votes(ledger_store *st, uint64_t operator_id, ledger_vote *out,
                                         size_t max, size_t *n);

/** The first operator id > after with a pending vote. Out: *operator_id.
 *  Returns: LEDGER_OK, LEDGER_STORE_NOTFOUND (none), LEDGER_STORE_CORRUPT or a store error. */
LEDGER_WARN_UNUSED int ledger_next_voted_operator(ledger_store *st, uint64_t after,
                                                  uint64_t *operator_id);

/** Of a member's last `last` comparisons with an applied result (at most recent_count), how
 *  many differed. */
uint64_t ledger_oracle_recent_differed(const ledger_oracle_member *m, uint64_t last);

/* A history record as stored: the chain link, the transaction and its result. */
typedef struct ledger_record {
    uint64_t seq;
    uint8_t prev[LEDGER_HASH_SIZE];
    uint8_t tx_hash[LEDGER_HASH_SIZE];
    ledger_result result;
    uint8_t sig[LEDGER_SIG_SIZE];
    ledger_tx tx;
    /* The accounts the transaction changed without naming them (ascending; none on a
     * rejection): a lien's owner (release, seize), the owners of the requests a finalize paid
     * or returned, a settled request's owner, the fee account and the treasury when a report
     * minted them fee shares. account_count keys of 32 bytes; read from a store, they point
     * into the stored value and are valid as long as it is (the view's lifetime). */
    const uint8_t *accounts;
    size_t account_count;
    uint8_t hash[LEDGER_HASH_SIZE]; /* this record's hash (computed, not stored) */
} ledger_record;

/** Read history record `seq`. Returns: LEDGER_OK, LEDGER_STORE_NOTFOUND, LEDGER_STORE_CORRUPT. */
LEDGER_WARN_UNUSED int ledger_read_record(ledger_store *st, uint64_t seq, ledger_record *out);

/** Write the index entries of a recorded transaction (tx hash -> seq; one account-history
 *  entry per account it names), as applying it did: a store rebuilding its indexes from the
 *  history calls this for each record. Returns: LEDGER_OK or a store error. */
LEDGER_WARN_UNUSED int ledger_index_record(ledger_store *st, const ledger_record *r);

/** Whether a table is covered by the state digest, and the element hash of one of its
 *  entries (PROTOCOL.md, "Verifying the history"): a store loading a checkpoint recomputes
 *  the digest from these. */
bool ledger_table_digested(unsigned table);
void ledger_element_hash(uint8_t out[LEDGER_HASH_SIZE], unsigned table, const uint8_t *key,
                         size_t key_len, const uint8_t *val, size_t val_len);
/** digest += h, digest -= h (mod 2^256, big-endian): the digest is order-independent. */
void ledger_digest_add(uint8_t digest[LEDGER_HASH_SIZE], const uint8_t h[LEDGER_HASH_SIZE]);
void ledger_digest_sub(uint8_t digest[LEDGER_HASH_SIZE], const uint8_t h[LEDGER_HASH_SIZE]);

/** Look up a recorded transaction by hash. Returns: as ledger_read_record. */
LEDGER_WARN_UNUSED int ledger_read_tx(ledger_store *st, const uint8_t hash[LEDGER_HASH_SIZE],
                                      ledger_record *out);

/* ---- listings (any view) ------------------------------------------------------------------ */

enum ledger_list {
    LEDGER_LIST_LIENS = 1,       /* lien ids where the account is owner or beneficiary */
    LEDGER_LIST_WITHDRAWALS = 2, /* withdrawal request ids the account owns */
    LEDGER_LIST_HISTORY = 3,     /* seqs of recorded transactions that name the account */
};

/** List ids (ascending, each > after) from one of an account's indexes, at most max.
 *  Out: ids[0..*n), *more (true when further ids exist).
 *  Returns: LEDGER_OK, LEDGER_STORE_CORRUPT or a store error. */
LEDGER_WARN_UNUSED int ledger_list(ledger_store *st, unsigned list,
                                   const uint8_t key[LEDGER_KEY_SIZE], uint64_t after,
                                   uint64_t *ids, size_t max, size_t *n, bool *more);

/** List the allowances `owner` granted, by spender key ascending, starting after
 *  `after_spender` (NULL: from the first). Out: spenders, amounts, *n, *more.
 *  Returns: LEDGER_OK, LEDGER_STORE_CORRUPT or a store error. */
LEDGER_WARN_UNUSED int ledger_list_allowances(ledger_store *st,
                                              const uint8_t owner[LEDGER_KEY_SIZE],
                                              const uint8_t *after_spender,
                                              uint8_t (*spenders)[LEDGER_KEY_SIZE],
                                              uint64_t *amounts, size_t max, size_t *n, bool *more);

/** Annualised net reward rate of an operator over its kept reports, in basis points of the
 *  balance before them: (Σ gain − Σ loss) · 10000 · year / (balance · elapsed seconds), the
 *  elapsed time between the batch times of the oldest and newest kept report (never the
 *  epochs, which the operator names). Out: *bps.
 *  Returns: false when fewer than two reports are kept or no time elapsed. */
bool ledger_operator_apr_bps(const ledger_operator *o, int64_t *bps);

/** Write n bytes as 2n lowercase hex characters and a NUL (out holds 2n + 1). */
void ledger_hex(char *out, const uint8_t *in, size_t n);

/* ---- rates ---------------------------------------------------------------------------- */

/** Value of shares at the pool's (vested) rate: floor(shares * A / S) (rounds DOWN, pool keeps
 *  dust): what an exit is paid, what a lien is worth. 0 when A = 0.
 *  Returns: LEDGER_OK, LEDGER_POOL_EMPTY (S = 0) or LEDGER_OVERFLOW. */
int ledger_shares_to_amount(const ledger_pool *p, uint64_t shares, uint64_t *amount);

/** Shares minted for a deposit: floor(amount * S / (A + U)) (rounds DOWN, in favour of the
 *  pool): a deposit pays for the reward still vesting, so nobody buys into it cheaply.
 *  Returns: LEDGER_OK, LEDGER_POOL_EMPTY (A + U = 0 or S = 0) or LEDGER_OVERFLOW. */
int ledger_amount_to_shares(const ledger_pool *p, uint64_t amount, uint64_t *shares);

/** Vest the pool's unvested reward up to `now`: A grows by floor(U * (now - vest_ts) /
 *  (vest_end - vest_ts)), all of U once now >= vest_end (rounds DOWN: the reward reaches the
 *  rate no sooner than scheduled). Pure; batches call it at their start, queries may call it on
 *  a copy to show the pool at their own time. */
void ledger_pool_vest(ledger_pool *p, uint64_t now);

/** The epoch running at `now` on the pool's epoch clock (EPOCH_S seconds per epoch from
 *  the anchor; ledger/README.md). A report's epoch may not exceed it. */
uint64_t ledger_epoch_at(const ledger_pool *p, uint64_t now);

/** The fee in force at `now` (a scheduled increase counts once its time has come). */
uint64_t ledger_fee_in_force(const ledger_fee *f, uint64_t now);

/** The fees an operator's next report would be charged at `now`: for each of the treasury and
 *  the operator, the lower of the fee in force when its report period began and the fee in
 *  force now (an increase waits for the next period; a decrease applies at once). */
void ledger_report_fees(const ledger_pool *p, const ledger_operator *o, uint64_t now,
                        uint64_t *treasury_bps, uint64_t *operator_bps);

/** The loss accepting an operator's held report would book now: its balance minus the held
 *  balance, 0 when nothing is held or the held report is not a loss. */
uint64_t ledger_held_loss(const ledger_operator *o);

/** Write a 128-bit value in decimal with a NUL; out holds at least 40 bytes. Returns: out. */
char *ledger_u128_str(char out[40], ledger_u128 v);

/* ---- whole-state checks ----------------------------------------------------------------- */

/** Check every invariant over the whole store (see ledger/README.md) and recompute the state
 *  digest from scratch. Out: msg (a description of the first violation, NUL-terminated).
 *  Returns: LEDGER_OK, LEDGER_STORE_CORRUPT (a violation), or a store error. */
LEDGER_WARN_UNUSED int ledger_check(ledger_store *st, char *msg, size_t msg_size);

/** Re-apply the history of `src` (records from_seq..) into `dst`, batch by batch as recorded,
 *  calling commit(ctx) after each batch. dst must hold the same genesis (ledger_genesis_apply).
 *  Every recorded result must be reproduced.
 *  Out: *diverged_seq: first record whose replay differs (0 when none).
 *  Returns: LEDGER_OK, LEDGER_STORE_CORRUPT (divergence or broken chain) or a store error. */
LEDGER_WARN_UNUSED int ledger_replay(ledger_store *src, ledger_store *dst,
                                     int (*commit)(void *ctx, ledger_store **dst), void *ctx,
                                     uint64_t *diverged_seq);

#endif
