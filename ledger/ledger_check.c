/* ledger_check.c - whole-store invariant check, digest recomputation and history chain walk */
#include "ledger_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

typedef struct check {
    ledger_store *st;
    char *msg;
    size_t msg_size;
    ledger_pool pool;
    ledger_chain chain;
} check;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
fail(check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (c->msg_size > 0)
        vsnprintf(c->msg, c->msg_size, fmt, ap);
    va_end(ap);
    return LEDGER_STORE_CORRUPT;
}

/* Iterate a table (or, with a prefix, the keys starting with it) in key order. */
typedef int (*visit_fn)(check *c, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len, void *arg);

static int scan(check *c, unsigned table, const uint8_t *prefix, size_t prefix_len, visit_fn fn,
                void *arg)
{
    uint8_t cur[LEDGER_KEY_MAX];
    size_t cur_len = prefix_len;
    if (prefix_len > 0)
        memcpy(cur, prefix, prefix_len);
    for (;;) {
        const uint8_t *k, *v;
        size_t kn, vn;
        int rc = c->st->next(c->st->self, table, cur, cur_len, &k, &kn, &v, &vn);
        if (rc == LEDGER_STORE_NOTFOUND)
            return LEDGER_OK;
        if (rc != 0)
            return rc;
        if (kn > LEDGER_KEY_MAX || vn > LEDGER_VALUE_MAX)
            return fail(c, "table %u: oversized entry", table);
        if (kn < prefix_len || (prefix_len > 0 && memcmp(k, prefix, prefix_len) != 0))
            return LEDGER_OK;
        /* progress: every key must sort after the last, or a damaged store could loop us */
        int order = memcmp(k, cur, kn < cur_len ? kn : cur_len);
        if (cur_len > 0 && (order < 0 || (order == 0 && kn <= cur_len)))
            return fail(c, "table %u: keys out of order (damaged store)", table);
        memcpy(cur, k, kn);
        cur_len = kn;
        rc = fn(c, k, kn, v, vn, arg);
        if (rc != LEDGER_OK)
            return rc;
    }
}

typedef struct sums {
    uint64_t free, liened, queued, operator_balance, held_loss;
    ledger_u128 payable;
    uint64_t lien_table;                /* shares summed over the lien table itself */
    uint64_t queue_count, queue_shares; /* over pending requests */
    ledger_u128 queue_amount;
    uint8_t digest[LEDGER_HASH_SIZE];
} sums;

static bool add_to(uint64_t *acc, uint64_t v)
{
    return math_add(acc, *acc, v);
}

/* Sum the shares of this account's liens (as owner) or pending requests through its index. */
static int visit_owned(check *c, const uint8_t *key, size_t kn, const uint8_t *val, size_t vn,
                       void *arg)
{
    uint64_t *sum = arg, id = be64_get(key + 32);
    if (kn != 40)
        return fail(c, "index key of %zu bytes", kn);
    if (vn == 1) { /* lien index: role byte */
        ledger_lien l;
        if (val[0] != 1)
            return LEDGER_OK;
        if (ledger_read_lien(c->st, id, &l) != LEDGER_OK || memcmp(l.owner, key, 32) != 0)
            return fail(c, "lien %" PRIu64 " indexed but missing or not owned", id);
        return add_to(sum, l.shares) ? LEDGER_OK : fail(c, "lien sum overflows");
    }
    ledger_withdrawal w;
    if (ledger_read_withdrawal(c->st, id, &w) != LEDGER_OK || memcmp(w.owner, key, 32) != 0)
        return fail(c, "withdrawal %" PRIu64 " indexed but missing or not owned", id);
    if (w.status == LEDGER_WD_PENDING && !add_to(sum, w.shares))
        return fail(c, "queued sum overflows");
    return LEDGER_OK;
}

static int visit_account(check *c, const uint8_t *key, size_t kn, const uint8_t *val, size_t vn,
                         void *arg)
{
    sums *s = arg;
    ledger_account a;
    uint8_t k[32];
    uint64_t locked = 0, queued = 0;
    if (kn != 32 || record_account_decode(&a, val, vn) != LEDGER_OK)
        return fail(c, "account record does not decode");
    memcpy(k, key, 32);
    int rc = scan(c, LEDGER_T_ACCOUNT_LIEN, k, 32, visit_owned, &locked);
    if (rc == LEDGER_OK)
        rc = scan(c, LEDGER_T_ACCOUNT_WD, k, 32, visit_owned, &queued);
    if (rc != LEDGER_OK)
        return rc;
    if (locked != a.locked || queued != a.queued)
        return fail(c,
                    "account %02x%02x..: locked %" PRIu64 "/%" PRIu64 ", queued %" PRIu64
                    "/%" PRIu64 " (record/sum)",
                    k[0], k[1], a.locked, locked, a.queued, queued);
    if (!add_to(&s->free, a.shares) || !add_to(&s->liened, a.locked) ||
        !add_to(&s->queued, a.queued))
        return fail(c, "share sums overflow");
    return LEDGER_OK;
}

static int visit_operator(check *c, const uint8_t *key, size_t kn, const uint8_t *val, size_t vn,
                          void *arg)
{
    sums *s = arg;
    ledger_operator o;
    const uint8_t *v;
    size_t n;
    if (kn != 8 || record_operator_decode(&o, val, vn) != LEDGER_OK || o.id != be64_get(key))
        return fail(c, "operator record does not decode");
    if (c->st->get(c->st->self, LEDGER_T_OPERATOR_KEY, o.key, 32, &v, &n) != 0 || n != 8 ||
        be64_get(v) != o.id)
        return fail(c, "operator %" PRIu64 ": key index does not point back", o.id);
    if (o.balance + o.exited_since != o.reported_balance + o.funded_since)
        return fail(c, "operator %" PRIu64 ": balance != reported + funded - exited", o.id);
    if (o.held_epoch == 0 && (o.held_balance != 0 || o.held_performance_bps != 0))
        return fail(c, "operator %" PRIu64 ": a held balance without a held epoch", o.id);
    if (o.held_epoch != 0 && o.held_performance_bps > LEDGER_BPS &&
        o.held_performance_bps != LEDGER_PERFORMANCE_NONE)
        return fail(c, "operator %" PRIu64 ": held performance out of range", o.id);
    if (!add_to(&s->held_loss, ledger_held_loss(&o)))
        return fail(c, "held losses overflow");
    return add_to(&s->operator_balance, o.balance) ? LEDGER_OK : fail(c, "balances overflow");
}

static int visit_lien(check *c, const uint8_t *key, size_t kn, const uint8_t *val, size_t vn,
                      void *arg)
{
    sums *s = arg;
    ledger_lien l;
    if (kn != 8 || record_lien_decode(&l, val, vn) != LEDGER_OK || l.id != be64_get(key) ||
        l.shares == 0)
        return fail(c, "lien record does not decode");
    return add_to(&s->lien_table, l.shares) ? LEDGER_OK : fail(c, "lien sum overflows");
}

static int visit_withdrawal(check *c, const uint8_t *key, size_t kn, const uint8_t *val, size_t vn,
                            void *arg)
{
    sums *s = arg;
    ledger_withdrawal w;
    if (kn != 8 || record_withdrawal_decode(&w, val, vn) != LEDGER_OK || w.id != be64_get(key))
        return fail(c, "withdrawal record does not decode");
    bool settled_side = w.id <= c->pool.finalized_through;
    bool pending = w.status == LEDGER_WD_PENDING;
    if ((settled_side && pending) || (!settled_side && !pending && w.status != LEDGER_WD_CANCELLED))
        return fail(c, "withdrawal %" PRIu64 ": status %" PRIu64 " on the wrong side of %" PRIu64,
                    w.id, w.status, c->pool.finalized_through);
    if (w.status == LEDGER_WD_FINALIZED)
        s->payable += w.paid; /* 2^64 records of 2^64 each cannot reach 2^128 */
    if (pending && (!add_to(&s->queue_count, 1) || !add_to(&s->queue_shares, w.shares)))
        return fail(c, "queue sums overflow");
    if (pending)
        s->queue_amount += w.amount_at_request;
    return LEDGER_OK;
}

typedef struct digest_acc {
    uint8_t digest[LEDGER_HASH_SIZE];
    unsigned table;
} digest_acc;

static int visit_digest(check *c, const uint8_t *key, size_t kn, const uint8_t *val, size_t vn,
                        void *arg)
{
    digest_acc *d = arg;
    uint8_t h[LEDGER_HASH_SIZE];
    (void)c;
    ledger_element_hash(h, d->table, key, kn, val, vn);
    ledger_digest_add(d->digest, h);
    return LEDGER_OK;
}

/* Recompute the digest from every entry of every digested table. */
static int check_digest(check *c)
{
    digest_acc d;
    memset(&d, 0, sizeof d);
    for (d.table = LEDGER_T_META; d.table <= LEDGER_T_LAST; d.table++) {
        if (!ledger_table_digested(d.table))
            continue;
        int rc = scan(c, d.table, NULL, 0, visit_digest, &d);
        if (rc != LEDGER_OK)
            return rc;
    }
    if (memcmp(d.digest, c->chain.digest, LEDGER_HASH_SIZE) != 0)
        return fail(c, "state digest does not match the stored records");
    return LEDGER_OK;
}

/* Walk the history: each record links to its predecessor (record 1 to the genesis hash), the
 * last one is the chain head, and the tx-hash index points at each record. */
static int check_history(check *c)
{
    uint8_t prev[LEDGER_HASH_SIZE], gen[LEDGER_GENESIS_BYTES_MAX];
    ledger_genesis g;
    int rc = ledger_genesis_read(c->st, &g);
    if (rc != LEDGER_OK)
        return rc == LEDGER_STORE_CORRUPT ? fail(c, "genesis does not decode") : rc;
    size_t n = ledger_genesis_encode(gen, sizeof gen, &g);
    ledger_genesis_hash(prev, gen, n);
    for (uint64_t seq = 1; seq < c->chain.next_seq; seq++) {
        ledger_record r, by_hash;
        rc = ledger_read_record(c->st, seq, &r);
        if (rc == LEDGER_STORE_NOTFOUND || rc == LEDGER_STORE_CORRUPT)
            return fail(c, "history record %" PRIu64 " is missing or does not decode", seq);
        if (rc != LEDGER_OK)
            return rc;
        if (memcmp(r.prev, prev, LEDGER_HASH_SIZE) != 0)
            return fail(c, "history link broken between records %" PRIu64 " and %" PRIu64, seq - 1,
                        seq);
        rc = ledger_read_tx(c->st, r.tx_hash, &by_hash);
        if (rc != LEDGER_OK || by_hash.seq != seq)
            return fail(c, "history record %" PRIu64 ": tx index does not point at it", seq);
        memcpy(prev, r.hash, LEDGER_HASH_SIZE);
    }
    if (memcmp(prev, c->chain.head, LEDGER_HASH_SIZE) != 0)
        return fail(c, "chain head is not the hash of the last history record");
    return LEDGER_OK;
}

static int check_queue(check *c, const sums *s)
{
    const ledger_pool *p = &c->pool;
    char a[40], b[40];
    if (s->queue_count != p->queue_count || s->queue_shares != p->queue_shares ||
        s->queue_amount != p->queue_amount || s->queue_shares != s->queued)
        return fail(c,
                    "queue totals %" PRIu64 "/%" PRIu64 "/%s != pending requests %" PRIu64
                    "/%" PRIu64 "/%s",
                    p->queue_count, p->queue_shares, ledger_u128_str(a, p->queue_amount),
                    s->queue_count, s->queue_shares, ledger_u128_str(b, s->queue_amount));
    if (s->payable != p->payable)
        return fail(c, "payable %s != sum of unsettled payouts %s", ledger_u128_str(a, p->payable),
                    ledger_u128_str(b, s->payable));
    return LEDGER_OK;
}

/* Assets: A + U = buffer + operator balances = deposits + rewards - slashed - paid; the held
 * loss is the sum over operators; unvested reward has a schedule that ends after vest_ts. */
static int check_assets(check *c, const sums *s)
{
    const ledger_pool *p = &c->pool;
    ledger_u128 total = (ledger_u128)p->assets + p->unvested;
    if (total != (ledger_u128)p->buffer + s->operator_balance)
        return fail(
            c, "A %" PRIu64 " + U %" PRIu64 " != buffer %" PRIu64 " + operator balances %" PRIu64,
            p->assets, p->unvested, p->buffer, s->operator_balance);
    if (total + p->total_slashed + p->total_paid != p->total_deposited + p->total_rewards)
        return fail(c, "A + U %s != deposits + rewards - slashed - paid",
                    ledger_u128_str((char[40]){0}, total));
    if (p->unvested > 0 && p->vest_end <= p->vest_ts)
        return fail(c, "unvested %" PRIu64 " with no schedule left", p->unvested);
    if (s->held_loss != p->held_loss)
        return fail(c, "held loss %" PRIu64 " != sum over held reports %" PRIu64, p->held_loss,
                    s->held_loss);
    return LEDGER_OK;
}

/* ---- the oracle committee ---------------------------------------------------------------- */

static int visit_member(check *c, const uint8_t *key, size_t kn, const uint8_t *val, size_t vn,
                        void *arg)
{
    uint64_t *count = arg;
    ledger_oracle_member m;
    if (kn != 32 || record_member_decode(&m, val, vn) != LEDGER_OK)
        return fail(c, "oracle member record does not decode");
    if (m.recent_count > LEDGER_ORACLE_RECENT_MAX || m.differed > m.compared ||
        m.recent_count > m.compared ||
        (m.recent_count < 64 && (m.recent_mask >> m.recent_count) != 0))
        return fail(c, "oracle member %02x%02x..: agreement record out of range", key[0], key[1]);
    (*count)++;
    return LEDGER_OK;
}

/* A pending vote: of a member, for an operator that exists, for an epoch after the operator's
 * last applied one, with a performance of at most 10000; at most one per member and operator
 * (the key), so at most N per operator and epoch. */
static int visit_vote(check *c, const uint8_t *key, size_t kn, const uint8_t *val, size_t vn,
                      void *arg)
{
    ledger_vote v;
    ledger_operator o;
    const uint8_t *mv;
    size_t mn;
    (void)arg;
    if (kn != 40 || record_vote_decode(&v, val, vn) != LEDGER_OK)
        return fail(c, "vote record does not decode");
    uint64_t id = be64_get(key);
    if (c->st->get(c->st->self, LEDGER_T_ORACLE_MEMBER, key + 8, 32, &mv, &mn) != 0)
        return fail(c, "vote for operator %" PRIu64 " by a key that is not a member", id);
    if (id == 0 || id > c->pool.operator_count || ledger_read_operator(c->st, id, &o) != LEDGER_OK)
        return fail(c, "vote for operator %" PRIu64 ", which does not exist", id);
    if (v.epoch <= o.last_epoch || v.performance_bps > LEDGER_BPS)
        return fail(c,
                    "vote for operator %" PRIu64 ": epoch %" PRIu64 " already applied (%" PRIu64
                    ") or performance %" PRIu64 " beyond 10000",
                    id, v.epoch, o.last_epoch, v.performance_bps);
    return LEDGER_OK;
}

/* Members counted in the pool, the quorum rule, every vote well-formed. */
static int check_oracle(check *c)
{
    const ledger_pool *p = &c->pool;
    uint64_t members = 0;
    int rc = scan(c, LEDGER_T_ORACLE_MEMBER, NULL, 0, visit_member, &members);
    if (rc == LEDGER_OK)
        rc = scan(c, LEDGER_T_ORACLE_VOTE, NULL, 0, visit_vote, NULL);
    if (rc != LEDGER_OK)
        return rc;
    if (members != p->oracle_members)
        return fail(c, "pool counts %" PRIu64 " oracle members, the table holds %" PRIu64,
                    p->oracle_members, members);
    if (p->oracle_minority > 1 ||
        oracle_quorum_check(p->report_mode, p->oracle_members, p->oracle_quorum,
                            p->oracle_minority) != LEDGER_OK)
        return fail(c,
                    "quorum %" PRIu64 " of %" PRIu64 " members in report mode %" PRIu64
                    " breaks the quorum rule",
                    p->oracle_quorum, p->oracle_members, p->report_mode);
    return LEDGER_OK;
}

static int check_sums(check *c, const sums *s)
{
    const ledger_pool *p = &c->pool;
    uint64_t total = s->free;
    if (!add_to(&total, s->liened) || !add_to(&total, s->queued) || total != p->shares)
        return fail(c, "free %" PRIu64 " + liened %" PRIu64 " + queued %" PRIu64 " != S %" PRIu64,
                    s->free, s->liened, s->queued, p->shares);
    if (s->lien_table != s->liened)
        return fail(c, "liens hold %" PRIu64 " shares but accounts count %" PRIu64 " locked",
                    s->lien_table, s->liened);
    int rc = check_queue(c, s);
    return rc == LEDGER_OK ? check_assets(c, s) : rc;
}

int ledger_check(ledger_store *st, char *msg, size_t msg_size)
{
    check c = {.st = st, .msg = msg, .msg_size = msg_size};
    sums s;
    memset(&s, 0, sizeof s);
    if (msg_size > 0)
        msg[0] = '\0';
    int rc = ledger_read_pool(st, &c.pool);
    if (rc == LEDGER_OK)
        rc = ledger_read_chain(st, &c.chain);
    if (rc == LEDGER_STORE_CORRUPT)
        return fail(&c, "pool or chain record does not decode");
    if (rc == LEDGER_OK)
        rc = scan(&c, LEDGER_T_ACCOUNT, NULL, 0, visit_account, &s);
    if (rc == LEDGER_OK)
        rc = scan(&c, LEDGER_T_OPERATOR, NULL, 0, visit_operator, &s);
    if (rc == LEDGER_OK)
        rc = scan(&c, LEDGER_T_LIEN, NULL, 0, visit_lien, &s);
    if (rc == LEDGER_OK)
        rc = scan(&c, LEDGER_T_WITHDRAWAL, NULL, 0, visit_withdrawal, &s);
    if (rc == LEDGER_OK)
        rc = check_sums(&c, &s);
    if (rc == LEDGER_OK)
        rc = check_oracle(&c);
    if (rc == LEDGER_OK)
        rc = check_digest(&c);
    return rc == LEDGER_OK ? check_history(&c) : rc;
}
