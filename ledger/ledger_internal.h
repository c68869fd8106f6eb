/* ledger_internal.h - byte codecs, record I/O and handler table shared inside ledger/ only */
#ifndef LSTD_LEDGER_INTERNAL_H
#define LSTD_LEDGER_INTERNAL_H

#include <string.h>

#include "ledger.h"
#include "ledger_math.h"

#define SECONDS_PER_YEAR 31536000u

/* ---- byte codecs: all integers big-endian, fixed width --------------------------------- */

typedef struct enc {
    uint8_t *buf;
    size_t len, cap;
    bool fail; /* set when a write did not fit */
} enc;

typedef struct dec {
    const uint8_t *buf;
    size_t len, pos;
    bool fail; /* set when a read ran past the end */
} dec;

static inline void enc_bytes(enc *e, const void *p, size_t n)
{
    if (e->fail || e->cap - e->len < n) {
        e->fail = true;
        return;
    }
    memcpy(e->buf + e->len, p, n);
    e->len += n;
}

static inline void be64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static inline uint64_t be64_get(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

static inline void enc_u64(enc *e, uint64_t v)
{
    uint8_t b[8];
    be64_put(b, v);
    enc_bytes(e, b, 8);
}

static inline void dec_bytes(dec *d, void *p, size_t n)
{
    if (d->fail || d->len - d->pos < n) {
        d->fail = true;
        memset(p, 0, n);
        return;
    }
    memcpy(p, d->buf + d->pos, n);
    d->pos += n;
}

static inline uint64_t dec_u64(dec *d)
{
    uint8_t b[8];
    dec_bytes(d, b, 8);
    return be64_get(b);
}

/** Returns: true when every byte was consumed and nothing ran past the end. */
static inline void enc_u128(enc *e, ledger_u128 v)
{
    enc_u64(e, (uint64_t)(v >> 64));
    enc_u64(e, (uint64_t)v);
}

static inline ledger_u128 dec_u128(dec *d)
{
    ledger_u128 hi = dec_u64(d);
    return hi << 64 | dec_u64(d);
}

static inline bool dec_done(const dec *d)
{
    return !d->fail && d->pos == d->len;
}

static inline bool key_is_zero(const uint8_t k[LEDGER_KEY_SIZE])
{
    static const uint8_t zero[LEDGER_KEY_SIZE];
    return memcmp(k, zero, LEDGER_KEY_SIZE) == 0;
}

static inline bool key_eq(const uint8_t a[LEDGER_KEY_SIZE], const uint8_t b[LEDGER_KEY_SIZE])
{
    return memcmp(a, b, LEDGER_KEY_SIZE) == 0;
}

/** Note that the transaction being applied writes account `key` or a request it owns (the
 *  record lists it unless the transaction names it; the account's history indexes it).
 *  save_account and save_withdrawal call it; a transaction that is rejected lists none. */
void batch_touch(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE]);

/* ---- record encodings (ledger_record.c) -------------------------------------------------- */

size_t record_pool_encode(uint8_t *out, size_t cap, const ledger_pool *p);
int record_pool_decode(ledger_pool *p, const uint8_t *in, size_t len);
size_t record_chain_encode(uint8_t *out, size_t cap, const ledger_chain *c);
int record_chain_decode(ledger_chain *c, const uint8_t *in, size_t len);
size_t record_account_encode(uint8_t *out, size_t cap, const ledger_account *a);
int record_account_decode(ledger_account *a, const uint8_t *in, size_t len);
size_t record_lien_encode(uint8_t *out, size_t cap, const ledger_lien *l);
int record_lien_decode(ledger_lien *l, const uint8_t *in, size_t len);
size_t record_withdrawal_encode(uint8_t *out, size_t cap, const ledger_withdrawal *w);
int record_withdrawal_decode(ledger_withdrawal *w, const uint8_t *in, size_t len);
size_t record_operator_encode(uint8_t *out, size_t cap, const ledger_operator *o);
int record_operator_decode(ledger_operator *o, const uint8_t *in, size_t len);
/* member and vote: the value only (the key, member / operator id and member, is the caller's) */
size_t record_member_encode(uint8_t *out, size_t cap, const ledger_oracle_member *m);
int record_member_decode(ledger_oracle_member *m, const uint8_t *in, size_t len);
size_t record_vote_encode(uint8_t *out, size_t cap, const ledger_vote *v);
int record_vote_decode(ledger_vote *v, const uint8_t *in, size_t len);
size_t record_history_encode(uint8_t *out, size_t cap, const ledger_record *r);
int record_history_decode(ledger_record *r, uint64_t seq, const uint8_t *in, size_t len);
/* version, prev, tx hash, batch, time, code, out[4], signature, the unnamed accounts (u16 count,
 * 32 bytes each), then the signing bytes */
#define HISTORY_VALUE_MAX                                                                          \
    (1 + 32 + 32 + 8 * 7 + LEDGER_SIG_SIZE + 2 + LEDGER_RECORD_ACCOUNTS_MAX * LEDGER_KEY_SIZE +    \
     LEDGER_TX_BYTES_MAX)

/** The prepared tag "lstd/record/v1" (ledger_state.c). */
const crypto_tag *tag_record(void);

/** Hash of a history record: tagged SHA-256 "lstd/record/v1" over seq (be64) || value. */
void record_history_hash(uint8_t out[LEDGER_HASH_SIZE], uint64_t seq, const uint8_t *value,
                         size_t len);

/* ---- state access inside a batch (ledger_state.c) --------------------------------------- */

/* Every state write goes through st_put/st_del; at the end of the batch digest_fold brings
 * b->chain.digest back to the sum over all digested entries of
 * H(table || key_len || key || value), hashing each changed entry once. */
int st_put(ledger_batch *b, unsigned table, const uint8_t *key, size_t key_len, const uint8_t *val,
           size_t val_len);
int st_del(ledger_batch *b, unsigned table, const uint8_t *key, size_t key_len);
/** Fold the entries changed in this batch into digest (through the view's `changed`).
 *  Returns: LEDGER_OK, LEDGER_INTERNAL (a view that does not track writes) or a store error. */
int digest_fold(ledger_store *st, uint8_t digest[LEDGER_HASH_SIZE]);

int save_account(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE], const ledger_account *a);
int save_lien(ledger_batch *b, const ledger_lien *l);
int save_withdrawal(ledger_batch *b, const ledger_withdrawal *w);
int save_operator(ledger_batch *b, const ledger_operator *o);
int save_allowance(ledger_batch *b, const uint8_t owner[32], const uint8_t spender[32],
                   uint64_t shares);
int save_pool(ledger_batch *b);
/** Put an index entry with an empty value (key = prefix32 || be64 id). */
int save_index(ledger_batch *b, unsigned table, const uint8_t prefix[32], uint64_t id,
               const uint8_t *val, size_t val_len);
int delete_index(ledger_batch *b, unsigned table, const uint8_t prefix[32], uint64_t id);
int write_chain(ledger_store *st, const ledger_chain *c);

/** Is this a key shares may be sent to? (an existing account, or a valid x-only key that is
 *  not the dead account). With `out`, also reads the account in the same lookup (zero when
 *  absent). Returns: LEDGER_OK, LEDGER_INVALID_ACCOUNT or a store error. */
int read_recipient(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE], ledger_account *out);

/** read_recipient without reading the account. */
static inline int check_recipient(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE])
{
    return read_recipient(b, key, NULL);
}

/** Credit shares to an account's free balance (loads, adds with overflow check, saves).
 *  Returns: LEDGER_OK, LEDGER_OVERFLOW or a store error. */
int credit_shares(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE], uint64_t shares);

/** Checked read of an operator by id. Returns: LEDGER_OK, LEDGER_OPERATOR_NOT_FOUND, ... */
int load_operator(ledger_batch *b, uint64_t id, ledger_operator *o);

/* ---- handlers (one file per family) ----------------------------------------------------- */

/* A handler validates every rule first and writes only when all pass.
 * Returns: LEDGER_OK, a rule code (100..899: recorded, nothing written) or an internal
 * code (>= 900: the batch is aborted). out[] carries the delivered amounts. */
typedef int (*ledger_handler)(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);

int op_deposit(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_transfer(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_approve(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_transfer_from(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_lock(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_release(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_seize(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_withdraw_request(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_withdraw_cancel(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_withdraw_finalize(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_withdraw_settle(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_operator_fund(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_operator_exit(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_report(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_report_accept(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_operator_register(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_operator_set_active(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_operator_set_keys(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_fee_set(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_param_set(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_pause_set(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_role_set(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_operator_reset(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_oracle_add(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_oracle_remove(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_quorum_set(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);
int op_vote(ledger_batch *b, const ledger_tx *tx, uint64_t out[4]);

/** The highest fee a side may charge now or once its scheduled increase applies. */
static inline uint64_t fee_ceiling(const ledger_fee *f)
{
    return f->pending_bps > f->bps ? f->pending_bps : f->bps;
}

/** Returns: true if value is within the parameter's documented range (ledger_genesis.c). */
bool param_in_range(unsigned param, uint64_t value);

/** Stake limit available at `now`. Returns: false when no limit is set (then *avail is 0). */
bool stake_limit_available(const ledger_pool *p, uint64_t now, uint64_t *avail);

/** Add a reward to the pool's unvested amount at `now`, merging it into the vesting schedule
 *  (ledger_vest.c). The caller vested the pool to now and checked that A + U + amount fits. */
void pool_vest_add(ledger_pool *p, uint64_t amount, uint64_t now);

/* A report's figures: what an operator reported, or what a committee quorum agreed on. */
typedef struct oracle_tuple {
    uint64_t epoch, balance, performance_bps; /* LEDGER_PERFORMANCE_NONE: an operator's own */
} oracle_tuple;

/** Book an operator's reported balance (report, report_accept, operator_reset, a vote that
 *  reached the quorum): a gain vests, pays fees and is bounded as the rules say; a loss lowers
 *  A at once; the pending votes for the operator up to `epoch` are cleared (oracle_settle,
 *  comparing them with `agreed` when a committee agreed on the report; NULL otherwise). The
 *  caller checked the rules that precede the effect. out: gain, loss, treasury and operator fee
 *  shares. Returns: LEDGER_OK, LEDGER_OVERFLOW or a store error (ledger_report.c). */
int report_book(ledger_batch *b, ledger_operator *o, uint64_t epoch, uint64_t balance,
                const oracle_tuple *agreed, uint64_t out[4]);

/** A report through the sanity limits (report, and a vote that reached the quorum): outside
 *  them it is held (the operator's held report, with the tuple's performance when by_committee)
 *  and the limit's code returned; inside them it is booked (report_book). out: as report_book.
 *  Returns: LEDGER_OK, LEDGER_REPORT_APR_EXCEEDED, LEDGER_REPORT_DROP_EXCEEDED (held),
 *  LEDGER_FEE_TOO_HIGH, LEDGER_OVERFLOW or a store error. */
int report_submit(ledger_batch *b, ledger_operator *o, const oracle_tuple *t, bool by_committee,
                  uint64_t out[4]);

/** What report_submit would answer for `balance`, writing nothing. Returns: LEDGER_OK,
 *  LEDGER_REPORT_APR_EXCEEDED, LEDGER_REPORT_DROP_EXCEEDED, LEDGER_FEE_TOO_HIGH or
 *  LEDGER_OVERFLOW. */
int report_check(const ledger_batch *b, const ledger_operator *o, uint64_t balance);

/** Returns: LEDGER_EPOCH_IN_FUTURE when `epoch` has not started at the batch time, else OK. */
int check_report_epoch(const ledger_batch *b, uint64_t epoch);

/** After a report for `epoch` was booked: delete the operator's pending votes for epochs up to
 *  it; with `agreed` (a committee's report), each member's vote for exactly that epoch is
 *  compared with it first and the comparison kept in the member's record (ledger_oracle.c).
 *  Returns: LEDGER_OK, LEDGER_STORE_CORRUPT or a store error. */
int oracle_settle(ledger_batch *b, uint64_t operator_id, uint64_t epoch,
                  const oracle_tuple *agreed);

/** Write an oracle member record (genesis, oracle_add, votes). Returns: LEDGER_OK or a store
 *  error. */
int save_oracle_member(ledger_batch *b, const ledger_oracle_member *m);

/** Whether a member may sign: Returns: 1 a member, 0 not, or a store error. */
int oracle_is_member(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE]);

/** The quorum rule (ledger/README.md, "Oracle committee") for a committee of `members` in
 *  `mode`. Returns: LEDGER_OK, LEDGER_QUORUM_OUT_OF_RANGE or LEDGER_QUORUM_NO_MAJORITY. */
int oracle_quorum_check(uint64_t mode, uint64_t members, uint64_t quorum, uint64_t minority);

#define META_GENESIS 1
#define META_CHAIN 2
#define POOL_KEY 0

#endif
