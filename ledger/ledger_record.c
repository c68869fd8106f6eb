/* ledger_record.c - byte layouts of every stored record; one field list serves both ways */
#include "ledger_internal.h"

#include "crypto.h"

#define RECORD_VERSION 1  /* chain records */
#define HISTORY_VERSION 2 /* history records; 2: the unnamed accounts */
#define STATE_VERSION                                                                              \
    3                    /* pool and operator records; 2: vesting, held loss, epoch clock, u128;   \
                            3: report mode and oracle committee, held report's performance */
#define ORACLE_VERSION 1 /* oracle member and vote records */

/* One visitor per record type walks its fields in layout order, encoding or decoding. The
 * field visitors are forced inline so that each codec compiles to straight loads and stores
 * (an account is read and written several times per transfer). */
#define IO_INLINE static inline __attribute__((always_inline))

typedef struct io {
    enc e;
    dec d;
    bool decoding;
} io;

IO_INLINE void io_u64(io *x, uint64_t *v)
{
    if (x->decoding)
        *v = dec_u64(&x->d);
    else
        enc_u64(&x->e, *v);
}

IO_INLINE void io_u128(io *x, ledger_u128 *v)
{
    if (x->decoding)
        *v = dec_u128(&x->d);
    else
        enc_u128(&x->e, *v);
}

IO_INLINE void io_bytes(io *x, void *p, size_t n)
{
    if (x->decoding)
        dec_bytes(&x->d, p, n);
    else
        enc_bytes(&x->e, p, n);
}

/* A leading version byte lets a later layout be told apart from this one. */
static void io_version_of(io *x, uint8_t version)
{
    uint8_t v = version;
    io_bytes(x, &v, 1);
    if (x->decoding && v != version)
        x->d.fail = true;
}

static void io_version(io *x)
{
    io_version_of(x, RECORD_VERSION);
}

static void io_fee(io *x, ledger_fee *f)
{
    io_u64(x, &f->bps);
    io_u64(x, &f->pending_bps);
    io_u64(x, &f->pending_at);
}

static void pool_io(io *x, ledger_pool *p)
{
    io_version_of(x, STATE_VERSION);
    io_u64(x, &p->assets);
    io_u64(x, &p->shares);
    io_u64(x, &p->buffer);
    io_u64(x, &p->unvested);
    io_u64(x, &p->vest_ts);
    io_u64(x, &p->vest_end);
    io_u64(x, &p->held_loss);
    io_u128(x, &p->payable);
    io_u128(x, &p->total_deposited);
    io_u128(x, &p->total_rewards);
    io_u128(x, &p->total_slashed);
    io_u128(x, &p->total_paid);
    io_u64(x, &p->stake_limit_current);
    io_u64(x, &p->stake_limit_ts);
    io_u64(x, &p->pause_flags);
    for (unsigned i = 1; i < LEDGER_PARAM_COUNT; i++)
        io_u64(x, &p->params[i]);
    io_fee(x, &p->treasury_fee);
    io_bytes(x, p->admin, LEDGER_KEY_SIZE);
    io_bytes(x, p->custodian, LEDGER_KEY_SIZE);
    io_bytes(x, p->treasury, LEDGER_KEY_SIZE);
    io_u64(x, &p->operator_count);
    io_u64(x, &p->next_lien_id);
    io_u64(x, &p->next_request_id);
    io_u64(x, &p->finalized_through);
    io_u64(x, &p->queue_count);
    io_u64(x, &p->queue_shares);
    io_u128(x, &p->queue_amount);
    io_u64(x, &p->decimals);
    io_u64(x, &p->dead_shares);
    io_u64(x, &p->epoch_anchor);
    io_u64(x, &p->epoch_anchor_ts);
    io_u64(x, &p->report_mode);
    io_u64(x, &p->oracle_members);
    io_u64(x, &p->oracle_quorum);
    io_u64(x, &p->oracle_minority);
}

static void chain_io(io *x, ledger_chain *c)
{
    io_version(x);
    io_u64(x, &c->next_seq);
    io_u64(x, &c->next_batch);
    io_u64(x, &c->last_ts);
    io_bytes(x, c->head, LEDGER_HASH_SIZE);
    io_bytes(x, c->digest, LEDGER_HASH_SIZE);
}

static void account_io(io *x, ledger_account *a)
{
    io_u64(x, &a->shares);
    io_u64(x, &a->locked);
    io_u64(x, &a->queued);
    io_u64(x, &a->nonce);
}

static void lien_io(io *x, ledger_lien *l)
{
    io_u64(x, &l->id);
    io_bytes(x, l->owner, LEDGER_KEY_SIZE);
    io_bytes(x, l->beneficiary, LEDGER_KEY_SIZE);
    io_u64(x, &l->shares);
    io_u64(x, &l->expiry);
    io_u64(x, &l->created);
}

static void withdrawal_io(io *x, ledger_withdrawal *w)
{
    io_u64(x, &w->id);
    io_bytes(x, w->owner, LEDGER_KEY_SIZE);
    io_u64(x, &w->shares);
    io_u64(x, &w->amount_at_request);
    io_u64(x, &w->min_amount_out);
    io_u64(x, &w->requested);
    io_u64(x, &w->status);
    io_u64(x, &w->paid);
    io_u64(x, &w->finalized);
    io_bytes(x, w->payout_ref, LEDGER_REF_SIZE);
    io_u64(x, &w->settled);
}

static void operator_io(io *x, ledger_operator *o)
{
    io_version_of(x, STATE_VERSION);
    io_u64(x, &o->id);
    io_bytes(x, o->key, LEDGER_KEY_SIZE);
    io_bytes(x, o->fee_account, LEDGER_KEY_SIZE);
    io_u64(x, &o->active);
    io_fee(x, &o->fee);
    io_u64(x, &o->balance);
    io_u64(x, &o->reported_balance);
    io_u128(x, &o->funded_since);
    io_u128(x, &o->exited_since);
    io_u64(x, &o->last_epoch);
    io_u64(x, &o->last_report_ts);
    io_u64(x, &o->period_fee_bps);
    io_u64(x, &o->period_treasury_bps);
    io_u128(x, &o->fees_earned);
    io_u64(x, &o->held_epoch);
    io_u64(x, &o->held_balance);
    io_u64(x, &o->held_performance_bps);
    io_u64(x, &o->report_count);
    for (int i = 0; i < LEDGER_REPORTS_KEPT; i++) {
        ledger_report_entry *r = &o->reports[i];
        io_u64(x, &r->epoch);
        io_u64(x, &r->balance);
        io_u64(x, &r->timestamp);
        io_u64(x, &r->gain);
        io_u64(x, &r->loss);
        io_u64(x, &r->fee_shares);
    }
}

/* The key is the table key, not part of the value. */
static void member_io(io *x, ledger_oracle_member *m)
{
    io_version_of(x, ORACLE_VERSION);
    io_u64(x, &m->added);
    io_u64(x, &m->votes);
    io_u64(x, &m->last_vote);
    io_u64(x, &m->compared);
    io_u64(x, &m->differed);
    io_u64(x, &m->recent_mask);
    io_u64(x, &m->recent_count);
}

/* The key (operator id, member) is the table key, not part of the value. */
static void vote_io(io *x, ledger_vote *v)
{
    io_version_of(x, ORACLE_VERSION);
    io_u64(x, &v->epoch);
    io_u64(x, &v->balance);
    io_u64(x, &v->performance_bps);
    io_u64(x, &v->time);
}

#define RECORD_CODEC(name, type)                                                                   \
    size_t record_##name##_encode(uint8_t *out, size_t cap, const type *v)                         \
    {                                                                                              \
        io x = {.e = {.buf = out, .cap = cap}};                                                    \
        name##_io(&x, (type *)v); /* encoding only reads *v */                                     \
        return x.e.fail ? 0 : x.e.len;                                                             \
    }                                                                                              \
    int record_##name##_decode(type *v, const uint8_t *in, size_t len)                             \
    {                                                                                              \
        io x = {.d = {.buf = in, .len = len}, .decoding = true};                                   \
        memset(v, 0, sizeof *v);                                                                   \
        name##_io(&x, v);                                                                          \
        return dec_done(&x.d) ? LEDGER_OK : LEDGER_STORE_CORRUPT;                                  \
    }

RECORD_CODEC(pool, ledger_pool)
RECORD_CODEC(chain, ledger_chain)
RECORD_CODEC(account, ledger_account)
RECORD_CODEC(lien, ledger_lien)
RECORD_CODEC(withdrawal, ledger_withdrawal)
RECORD_CODEC(operator, ledger_operator)
RECORD_CODEC(member, ledger_oracle_member)
RECORD_CODEC(vote, ledger_vote)

/* History layout: version, prev, tx_hash, batch, timestamp, code, out[4], sig, the unnamed
 * accounts (u16 count, then the keys), tx bytes. */
size_t record_history_encode(uint8_t *out, size_t cap, const ledger_record *r)
{
    io x = {.e = {.buf = out, .cap = cap}};
    uint8_t tx_bytes[LEDGER_TX_BYTES_MAX],
        count[2] = {(uint8_t)(r->account_count >> 8), (uint8_t)r->account_count};
    size_t tx_len = ledger_tx_encode(tx_bytes, &r->tx);
    uint64_t code = (uint64_t)r->result.code;
    ledger_record *w = (ledger_record *)r; /* encoding only reads */
    if (r->account_count > LEDGER_RECORD_ACCOUNTS_MAX)
        return 0;
    io_version_of(&x, HISTORY_VERSION);
    io_bytes(&x, w->prev, LEDGER_HASH_SIZE);
    io_bytes(&x, w->tx_hash, LEDGER_HASH_SIZE);
    io_u64(&x, &w->result.batch);
    io_u64(&x, &w->result.timestamp);
    io_u64(&x, &code);
    for (int i = 0; i < 4; i++)
        io_u64(&x, &w->result.out[i]);
    io_bytes(&x, w->sig, LEDGER_SIG_SIZE);
    enc_bytes(&x.e, count, 2);
    if (r->account_count > 0)
        enc_bytes(&x.e, r->accounts, r->account_count * LEDGER_KEY_SIZE);
    enc_bytes(&x.e, tx_bytes, tx_len);
    return x.e.fail || tx_len == 0 ? 0 : x.e.len;
}

int record_history_decode(ledger_record *r, uint64_t seq, const uint8_t *in, size_t len)
{
    io x = {.d = {.buf = in, .len = len}, .decoding = true};
    uint64_t code = 0;
    uint8_t count[2];
    memset(r, 0, sizeof *r);
    io_version_of(&x, HISTORY_VERSION);
    io_bytes(&x, r->prev, LEDGER_HASH_SIZE);
    io_bytes(&x, r->tx_hash, LEDGER_HASH_SIZE);
    io_u64(&x, &r->result.batch);
    io_u64(&x, &r->result.timestamp);
    io_u64(&x, &code);
    for (int i = 0; i < 4; i++)
        io_u64(&x, &r->result.out[i]);
    io_bytes(&x, r->sig, LEDGER_SIG_SIZE);
    io_bytes(&x, count, 2);
    r->account_count = (size_t)count[0] << 8 | count[1];
    if (x.d.fail || code > 899 || r->account_count > LEDGER_RECORD_ACCOUNTS_MAX ||
        len - x.d.pos < r->account_count * LEDGER_KEY_SIZE)
        return LEDGER_STORE_CORRUPT;
    r->accounts = in + x.d.pos;
    x.d.pos += r->account_count * LEDGER_KEY_SIZE;
    if (ledger_tx_decode(&r->tx, in + x.d.pos, len - x.d.pos) != LEDGER_OK)
        return LEDGER_STORE_CORRUPT;
    r->seq = seq;
    r->result.seq = seq;
    r->result.code = (int)code;
    record_history_hash(r->hash, seq, in, len);
    return LEDGER_OK;
}

void record_history_hash(uint8_t out[LEDGER_HASH_SIZE], uint64_t seq, const uint8_t *value,
                         size_t len)
{
    uint8_t be_seq[8];
    be64_put(be_seq, seq);
    crypto_part parts[2] = {{be_seq, 8}, {value, len}};
    crypto_tag_hashv(out, tag_record(), parts, 2);
}
