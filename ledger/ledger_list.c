/* ledger_list.c - listings over an account's indexes and allowances, operator reward rate */
#include "ledger_internal.h"

static unsigned list_table(unsigned list)
{
    switch (list) {
    case LEDGER_LIST_LIENS:
        return LEDGER_T_ACCOUNT_LIEN;
    case LEDGER_LIST_WITHDRAWALS:
        return LEDGER_T_ACCOUNT_WD;
    case LEDGER_LIST_HISTORY:
        return LEDGER_T_ACCOUNT_TX;
    default:
        return 0;
    }
}

/* Walk keys prefix32 || suffix after the given start; call `take` for each until it says stop.
 * Returns: LEDGER_OK or a store error; *more when an entry was left over. */
static int walk_prefix(ledger_store *st, unsigned table, const uint8_t prefix[32],
                       const uint8_t *start, size_t start_len, size_t max, bool *more,
                       int (*take)(void *ctx, const uint8_t *key, size_t key_len,
                                   const uint8_t *val, size_t val_len),
                       void *ctx)
{
    uint8_t cur[LEDGER_KEY_MAX];
    size_t cur_len = 32 + start_len, taken = 0;
    memcpy(cur, prefix, 32);
    if (start_len > 0)
        memcpy(cur + 32, start, start_len);
    *more = false;
    for (;;) {
        const uint8_t *k, *v;
        size_t kn, vn;
        int rc = st->next(st->self, table, cur, cur_len, &k, &kn, &v, &vn);
        if (rc == LEDGER_STORE_NOTFOUND)
            return LEDGER_OK;
        if (rc != 0)
            return rc;
        if (kn < 32 || kn > LEDGER_KEY_MAX || memcmp(k, prefix, 32) != 0)
            return LEDGER_OK;
        if (taken == max) {
            *more = true;
            return LEDGER_OK;
        }
        memcpy(cur, k, kn);
        cur_len = kn;
        rc = take(ctx, k, kn, v, vn);
        if (rc != LEDGER_OK)
            return rc;
        taken++;
    }
}

typedef struct id_sink {
    uint64_t *ids;
    size_t n;
} id_sink;

static int take_id(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *val,
                   size_t val_len)
{
    id_sink *s = ctx;
    (void)val;
    (void)val_len;
    if (key_len != 40)
        return LEDGER_STORE_CORRUPT;
    s->ids[s->n++] = be64_get(key + 32);
    return LEDGER_OK;
}

int ledger_list(ledger_store *st, unsigned list, const uint8_t key[LEDGER_KEY_SIZE], uint64_t after,
                uint64_t *ids, size_t max, size_t *n, bool *more)
{
    uint8_t start[8];
    id_sink sink = {ids, 0};
    unsigned table = list_table(list);
    *n = 0;
    *more = false;
    if (table == 0)
        return LEDGER_STORE_CORRUPT;
    be64_put(start, after);
    int rc = walk_prefix(st, table, key, start, 8, max, more, take_id, &sink);
    *n = sink.n;
    return rc;
}

typedef struct allowance_sink {
    uint8_t (*spenders)[LEDGER_KEY_SIZE];
    uint64_t *amounts;
    size_t n;
} allowance_sink;

static int take_allowance(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *val,
                          size_t val_len)
{
    allowance_sink *s = ctx;
    if (key_len != 64 || val_len != 8)
        return LEDGER_STORE_CORRUPT;
    memcpy(s->spenders[s->n], key + 32, 32);
    s->amounts[s->n++] = be64_get(val);
    return LEDGER_OK;
}

int ledger_list_allowances(ledger_store *st, const uint8_t owner[LEDGER_KEY_SIZE],
                           const uint8_t *after_spender, uint8_t (*spenders)[LEDGER_KEY_SIZE],
                           uint64_t *amounts, size_t max, size_t *n, bool *more)
{
    allowance_sink sink = {spenders, amounts, 0};
    int rc = walk_prefix(st, LEDGER_T_ALLOWANCE, owner, after_spender, after_spender ? 32 : 0, max,
                         more, take_allowance, &sink);
    *n = sink.n;
    return rc;
}

bool ledger_operator_apr_bps(const ledger_operator *o, int64_t *bps)
{
    __extension__ typedef __int128 i128;
    uint64_t kept = o->report_count < LEDGER_REPORTS_KEPT ? o->report_count : LEDGER_REPORTS_KEPT;
    if (kept < 2)
        return false;
    /* oldest kept report is the base; the later ones are the rewards over the span */
    const ledger_report_entry *first = &o->reports[(o->report_count - kept) % LEDGER_REPORTS_KEPT];
    const ledger_report_entry *last = &o->reports[(o->report_count - 1) % LEDGER_REPORTS_KEPT];
    i128 net = 0;
    for (uint64_t i = o->report_count - kept + 1; i < o->report_count; i++) {
        const ledger_report_entry *r = &o->reports[i % LEDGER_REPORTS_KEPT];
        net += (i128)r->gain - (i128)r->loss;
    }
    i128 elapsed = (i128)last->timestamp - (i128)first->timestamp; /* batch times: monotone */
    if (elapsed == 0 || first->balance == 0)
        return false;
    i128 v = net * LEDGER_BPS * SECONDS_PER_YEAR / ((i128)first->balance * elapsed);
    *bps = v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
    return true;
}
