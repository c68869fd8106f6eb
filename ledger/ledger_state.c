/* ledger_state.c - typed reads and digest-keeping writes of state records */
#include "ledger_internal.h"

#include <pthread.h>

#include "crypto.h"

const uint8_t ledger_dead_account[LEDGER_KEY_SIZE];

/* The ledger's fixed hashing tags, prepared once per process (SHA-256 midstates). */
static struct {
    crypto_tag state, record;
} tags;
static pthread_once_t tags_once = PTHREAD_ONCE_INIT;

static void tags_init(void)
{
    static const char state[] = "lstd/state/v1", record[] = "lstd/record/v1";
    crypto_tag_init(&tags.state, state, sizeof state - 1);
    crypto_tag_init(&tags.record, record, sizeof record - 1);
}

const crypto_tag *tag_record(void)
{
    pthread_once(&tags_once, tags_init);
    return &tags.record;
}

static const crypto_tag *tag_state(void)
{
    pthread_once(&tags_once, tags_init);
    return &tags.state;
}

/* The history and its two indexes are covered by the chain of record hashes instead. */
bool ledger_table_digested(unsigned table)
{
    return table != LEDGER_T_META && table != LEDGER_T_HISTORY && table != LEDGER_T_TX &&
           table != LEDGER_T_ACCOUNT_TX;
}

void ledger_element_hash(uint8_t out[LEDGER_HASH_SIZE], unsigned table, const uint8_t *key,
                         size_t key_len, const uint8_t *val, size_t val_len)
{
    uint8_t head[2] = {(uint8_t)table, (uint8_t)key_len};
    crypto_part parts[3] = {{head, 2}, {key, key_len}, {val, val_len}};
    crypto_tag_hashv(out, tag_state(), parts, 3);
}

/* The digest is a 256-bit big-endian number; element hashes are added and removed mod 2^256,
 * so it depends only on the set of entries, not on the order they were written in. */
void ledger_digest_add(uint8_t digest[LEDGER_HASH_SIZE], const uint8_t h[LEDGER_HASH_SIZE])
{
    unsigned carry = 0;
    for (int i = LEDGER_HASH_SIZE - 1; i >= 0; i--) {
        unsigned s = (unsigned)digest[i] + h[i] + carry;
        digest[i] = (uint8_t)s;
        carry = s >> 8;
    }
}

void ledger_digest_sub(uint8_t digest[LEDGER_HASH_SIZE], const uint8_t h[LEDGER_HASH_SIZE])
{
    int borrow = 0;
    for (int i = LEDGER_HASH_SIZE - 1; i >= 0; i--) {
        int d = (int)digest[i] - h[i] - borrow;
        borrow = d < 0;
        digest[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

/* Writes go straight to the view; the digest is folded once per batch from what changed. */
int st_put(ledger_batch *b, unsigned table, const uint8_t *key, size_t key_len, const uint8_t *val,
           size_t val_len)
{
    return b->st->put(b->st->self, table, key, key_len, val, val_len);
}

int st_del(ledger_batch *b, unsigned table, const uint8_t *key, size_t key_len)
{
    return b->st->del(b->st->self, table, key, key_len);
}

/* One changed entry: its old element hash leaves the digest, the new value's comes in (and is
 * kept by the store for the next time the entry changes). */
static void fold_one(void *ctx, unsigned table, const uint8_t *key, size_t key_len,
                     const uint8_t *val, size_t val_len, const uint8_t *old_hash, uint8_t *new_hash)
{
    uint8_t *digest = ctx;
    if (!ledger_table_digested(table))
        return;
    if (old_hash != NULL)
        ledger_digest_sub(digest, old_hash);
    if (val != NULL) {
        ledger_element_hash(new_hash, table, key, key_len, val, val_len);
        ledger_digest_add(digest, new_hash);
    }
}

int digest_fold(ledger_store *st, uint8_t digest[LEDGER_HASH_SIZE])
{
    if (st->changed == NULL)
        return LEDGER_INTERNAL; /* batches are applied to a store that tracks its writes */
    return st->changed(st->self, fold_one, digest);
}

/* ---- typed reads ------------------------------------------------------------------------ */

typedef int (*decode_fn)(void *out, const uint8_t *in, size_t len);

static int read_record(ledger_store *st, unsigned table, const uint8_t *key, size_t key_len,
                       decode_fn decode, void *out)
{
    const uint8_t *v;
    size_t n;
    int rc = st->get(st->self, table, key, key_len, &v, &n);
    return rc != 0 ? rc : decode(out, v, n);
}

static int read_by_id(ledger_store *st, unsigned table, uint64_t id, decode_fn decode, void *out)
{
    uint8_t key[8];
    be64_put(key, id);
    return read_record(st, table, key, 8, decode, out);
}

int ledger_read_pool(ledger_store *st, ledger_pool *out)
{
    uint8_t key = POOL_KEY;
    int rc = read_record(st, LEDGER_T_POOL, &key, 1, (decode_fn)record_pool_decode, out);
    return rc == LEDGER_STORE_NOTFOUND ? LEDGER_NOT_INITIALIZED : rc;
}

int ledger_read_chain(ledger_store *st, ledger_chain *out)
{
    uint8_t key = META_CHAIN;
    int rc = read_record(st, LEDGER_T_META, &key, 1, (decode_fn)record_chain_decode, out);
    return rc == LEDGER_STORE_NOTFOUND ? LEDGER_NOT_INITIALIZED : rc;
}

int ledger_read_account(ledger_store *st, const uint8_t key[LEDGER_KEY_SIZE], ledger_account *out)
{
    int rc = read_record(st, LEDGER_T_ACCOUNT, key, LEDGER_KEY_SIZE,
                         (decode_fn)record_account_decode, out);
    if (rc == LEDGER_STORE_NOTFOUND) {
        memset(out, 0, sizeof *out);
        return LEDGER_OK;
    }
    return rc;
}

int ledger_read_allowance(ledger_store *st, const uint8_t owner[32], const uint8_t spender[32],
                          uint64_t *out)
{
    uint8_t key[64];
    const uint8_t *v;
    size_t n;
    memcpy(key, owner, 32);
    memcpy(key + 32, spender, 32);
    *out = 0;
    int rc = st->get(st->self, LEDGER_T_ALLOWANCE, key, 64, &v, &n);
    if (rc == LEDGER_STORE_NOTFOUND)
        return LEDGER_OK;
    if (rc != 0)
        return rc;
    if (n != 8)
        return LEDGER_STORE_CORRUPT;
    *out = be64_get(v);
    return LEDGER_OK;
}

int ledger_read_lien(ledger_store *st, uint64_t id, ledger_lien *out)
{
    return read_by_id(st, LEDGER_T_LIEN, id, (decode_fn)record_lien_decode, out);
}

int ledger_read_withdrawal(ledger_store *st, uint64_t id, ledger_withdrawal *out)
{
    return read_by_id(st, LEDGER_T_WITHDRAWAL, id, (decode_fn)record_withdrawal_decode, out);
}

int ledger_read_operator(ledger_store *st, uint64_t id, ledger_operator *out)
{
    return read_by_id(st, LEDGER_T_OPERATOR, id, (decode_fn)record_operator_decode, out);
}

int ledger_read_record(ledger_store *st, uint64_t seq, ledger_record *out)
{
    uint8_t key[8];
    const uint8_t *v;
    size_t n;
    be64_put(key, seq);
    int rc = st->get(st->self, LEDGER_T_HISTORY, key, 8, &v, &n);
    return rc != 0 ? rc : record_history_decode(out, seq, v, n);
}

int ledger_read_tx(ledger_store *st, const uint8_t hash[LEDGER_HASH_SIZE], ledger_record *out)
{
    const uint8_t *v;
    size_t n;
    int rc = st->get(st->self, LEDGER_T_TX, hash, LEDGER_HASH_SIZE, &v, &n);
    if (rc != 0)
        return rc;
    if (n != 8)
        return LEDGER_STORE_CORRUPT;
    return ledger_read_record(st, be64_get(v), out);
}

/* ---- typed writes ----------------------------------------------------------------------- */

#define SAVE_BY_ID(name, type, table)                                                              \
    int save_##name(ledger_batch *b, const type *v)                                                \
    {                                                                                              \
        uint8_t key[8], buf[LEDGER_VALUE_MAX];                                                     \
        size_t n = record_##name##_encode(buf, sizeof buf, v);                                     \
        be64_put(key, v->id);                                                                      \
        return st_put(b, table, key, 8, buf, n);                                                   \
    }

SAVE_BY_ID(lien, ledger_lien, LEDGER_T_LIEN)

/* A request changes what its owner is owed even when no balance moves (settle). */
int save_withdrawal(ledger_batch *b, const ledger_withdrawal *w)
{
    uint8_t key[8], buf[LEDGER_VALUE_MAX];
    size_t n = record_withdrawal_encode(buf, sizeof buf, w);
    be64_put(key, w->id);
    batch_touch(b, w->owner);
    return st_put(b, LEDGER_T_WITHDRAWAL, key, 8, buf, n);
}

uint64_t ledger_held_loss(const ledger_operator *o)
{
    return o->held_epoch != 0 && o->held_balance < o->balance ? o->balance - o->held_balance : 0;
}

/* Saving an operator also keeps the pool's held_loss equal to the sum of ledger_held_loss over
 * all operators: the old record's part comes out, the new one's goes in. */
int save_operator(ledger_batch *b, const ledger_operator *o)
{
    uint8_t key[8], buf[LEDGER_VALUE_MAX];
    ledger_operator old;
    size_t n = record_operator_encode(buf, sizeof buf, o);
    be64_put(key, o->id);
    int rc = ledger_read_operator(b->st, o->id, &old);
    if (rc == LEDGER_OK)
        b->pool.held_loss -= ledger_held_loss(&old);
    else if (rc != LEDGER_STORE_NOTFOUND)
        return rc;
    b->pool.held_loss += ledger_held_loss(o); /* each part <= its balance <= A + U */
    return st_put(b, LEDGER_T_OPERATOR, key, 8, buf, n);
}

int save_account(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE], const ledger_account *a)
{
    uint8_t buf[64];
    size_t n = record_account_encode(buf, sizeof buf, a);
    batch_touch(b, key);
    return st_put(b, LEDGER_T_ACCOUNT, key, LEDGER_KEY_SIZE, buf, n);
}

int save_allowance(ledger_batch *b, const uint8_t owner[32], const uint8_t spender[32],
                   uint64_t shares)
{
    uint8_t key[64], val[8];
    memcpy(key, owner, 32);
    memcpy(key + 32, spender, 32);
    if (shares == 0)
        return st_del(b, LEDGER_T_ALLOWANCE, key, 64);
    be64_put(val, shares);
    return st_put(b, LEDGER_T_ALLOWANCE, key, 64, val, 8);
}

int save_pool(ledger_batch *b)
{
    uint8_t key = POOL_KEY, buf[LEDGER_VALUE_MAX];
    size_t n = record_pool_encode(buf, sizeof buf, &b->pool);
    return st_put(b, LEDGER_T_POOL, &key, 1, buf, n);
}

int save_index(ledger_batch *b, unsigned table, const uint8_t prefix[32], uint64_t id,
               const uint8_t *val, size_t val_len)
{
    uint8_t key[40];
    memcpy(key, prefix, 32);
    be64_put(key + 32, id);
    return st_put(b, table, key, 40, val, val_len);
}

int delete_index(ledger_batch *b, unsigned table, const uint8_t prefix[32], uint64_t id)
{
    uint8_t key[40];
    memcpy(key, prefix, 32);
    be64_put(key + 32, id);
    return st_del(b, table, key, 40);
}

int write_chain(ledger_store *st, const ledger_chain *c)
{
    uint8_t key = META_CHAIN, buf[256];
    size_t n = record_chain_encode(buf, sizeof buf, c);
    return st->put(st->self, LEDGER_T_META, &key, 1, buf, n);
}

/* ---- shared helpers for handlers --------------------------------------------------------- */

int read_recipient(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE], ledger_account *out)
{
    const uint8_t *v;
    size_t n;
    if (key_is_zero(key))
        return LEDGER_INVALID_ACCOUNT;
    int rc = b->st->get(b->st->self, LEDGER_T_ACCOUNT, key, LEDGER_KEY_SIZE, &v, &n);
    if (rc == 0)
        return out == NULL ? LEDGER_OK : record_account_decode(out, v, n);
    if (rc != LEDGER_STORE_NOTFOUND)
        return rc;
    if (out != NULL)
        memset(out, 0, sizeof *out);
    return crypto_pubkey_valid(key) ? LEDGER_OK : LEDGER_INVALID_ACCOUNT;
}

int credit_shares(ledger_batch *b, const uint8_t key[LEDGER_KEY_SIZE], uint64_t shares)
{
    ledger_account a;
    if (shares == 0)
        return LEDGER_OK; /* nothing moves: no write, and no empty account made */
    int rc = ledger_read_account(b->st, key, &a);
    if (rc != LEDGER_OK)
        return rc;
    if (!math_add(&a.shares, a.shares, shares))
        return LEDGER_OVERFLOW;
    return save_account(b, key, &a);
}

int load_operator(ledger_batch *b, uint64_t id, ledger_operator *o)
{
    int rc = ledger_read_operator(b->st, id, o);
    return rc == LEDGER_STORE_NOTFOUND ? LEDGER_OPERATOR_NOT_FOUND : rc;
}

uint64_t ledger_fee_in_force(const ledger_fee *f, uint64_t now)
{
    return f->pending_at != 0 && now >= f->pending_at ? f->pending_bps : f->bps;
}

int ledger_shares_to_amount(const ledger_pool *p, uint64_t shares, uint64_t *amount)
{
    if (p->shares == 0)
        return LEDGER_POOL_EMPTY;
    return math_mul_div_floor(amount, shares, p->assets, p->shares) ? LEDGER_OK : LEDGER_OVERFLOW;
}

int ledger_amount_to_shares(const ledger_pool *p, uint64_t amount, uint64_t *shares)
{
    uint64_t total;
    if (!math_add(&total, p->assets, p->unvested))
        return LEDGER_OVERFLOW;
    if (p->shares == 0 || total == 0)
        return LEDGER_POOL_EMPTY;
    return math_mul_div_floor(shares, amount, p->shares, total) ? LEDGER_OK : LEDGER_OVERFLOW;
}
