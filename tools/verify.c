/* verify.c - lstd-verify: check a ledger store, replay its history and compare the state */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger.h"
#include "store_db.h"

enum {
    EXIT_VERIFIED = 0,
    EXIT_FINDING = 1, /* divergence or corruption */
    EXIT_USAGE = 2,
    EXIT_UNREADABLE = 3, /* cannot open or read the store */
};

#define STATE_DIFFS_SHOWN_MAX 5 /* differing state entries described; the rest are counted */
#define MSG_MAX 512

static void usage(FILE *out)
{
    fputs("usage: lstd-verify [--help] DATA_DIR\n"
          "       lstd-verify --version      print \"lstd-verify VERSION\"\n"
          "\n"
          "Verifies an lstd ledger: DATA_DIR is lstd's --data directory (its ledger/ is used) or\n"
          "the ledger directory itself (the log data.mdb and checkpoint/). Both are opened\n"
          "read-only, so it works on an offline copy and beside a running lstd. Steps:\n"
          "  open    load the checkpoint and recompute its digest, check every history record's\n"
          "          link while indexing it, replay the log after the checkpoint and compare\n"
          "          the result with the log's chain head and digest (what lstd does at start)\n"
          "  check   every invariant, the history chain links, the tx index, and the state\n"
          "          digest recomputed from scratch (ledger_check) over the loaded state\n"
          "  replay  the whole history re-applied from genesis in memory; every recorded result\n"
          "          and record hash must be reproduced\n"
          "  state   the replayed state compared entry by entry with the loaded one (every table\n"
          "          but history, meta and the tx-hash index)\n"
          "  chain   the log's chain head and state digest against the replay's\n"
          "Findings are printed in that order, the first one first. Memory: about twice what\n"
          "lstd holds for the ledger (two copies of the state and indexes).\n"
          "\n"
          "Exit status: 0 everything holds, 1 divergence or corruption found, 2 usage,\n"
          "3 the store cannot be opened or read (also a truncated or mangled data file\n"
          "that LMDB cannot read).\n",
          out);
}

/* ---- output helpers -------------------------------------------------------------------- */

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static const char *table_name(unsigned table)
{
    static const char *const names[] = {
        [LEDGER_T_META] = "meta",
        [LEDGER_T_POOL] = "pool",
        [LEDGER_T_ACCOUNT] = "account",
        [LEDGER_T_ALLOWANCE] = "allowance",
        [LEDGER_T_LIEN] = "lien",
        [LEDGER_T_ACCOUNT_LIEN] = "account_lien",
        [LEDGER_T_WITHDRAWAL] = "withdrawal",
        [LEDGER_T_ACCOUNT_WD] = "account_wd",
        [LEDGER_T_OPERATOR] = "operator",
        [LEDGER_T_OPERATOR_KEY] = "operator_key",
        [LEDGER_T_DEPOSIT_REF] = "deposit_ref",
        [LEDGER_T_TX] = "tx",
        [LEDGER_T_HISTORY] = "history",
        [LEDGER_T_ACCOUNT_TX] = "account_tx",
        [LEDGER_T_ORACLE_MEMBER] = "oracle_member",
        [LEDGER_T_ORACLE_VOTE] = "oracle_vote",
    };
    return table < sizeof names / sizeof names[0] && names[table] ? names[table] : "?";
}

/* ---- the run ----------------------------------------------------------------------------- */

typedef struct verify {
    char dir[PATH_MAX]; /* the ledger directory */
    store_db *src;      /* as lstd opens it: checkpoint + replay of the log after it */
    ledger_store sv;
    ledger_chain chain;
    ledger_genesis genesis;
    store_db *scratch; /* the whole log replayed from genesis */
    ledger_store dv;
    unsigned findings;
    char first[MSG_MAX + 16]; /* the first finding, repeated in the verdict */
    bool unreadable;          /* a store error (not a finding): exit 3 */
} verify;

static void on_fatal_signal(int sig)
{
    static const char bus[] = "lstd-verify: the data file could not be read (truncated or "
                              "damaged: the process got SIGBUS/SIGSEGV reading it)\n";
    static const char stop[] = "lstd-verify: interrupted\n";
    bool io = sig == SIGBUS || sig == SIGSEGV;
    ssize_t w = write(2, io ? bus : stop, io ? sizeof bus - 1 : sizeof stop - 1);
    (void)w;
    _exit(io ? EXIT_UNREADABLE : 128 + sig);
}

static void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGBUS, SIGSEGV, SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
finding(verify *v, const char *phase, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("%-7s FAIL %s\n", phase, msg);
    if (v->findings++ == 0)
        snprintf(v->first, sizeof v->first, "%s: %s", phase, msg);
}

/* A store error that stops a step: reported, and the run ends with exit 3. */
static int store_failure(verify *v, const char *phase, int rc)
{
    fprintf(stderr, "lstd-verify: %s: cannot read the store: %s\n", phase, ledger_err_name(rc));
    v->unreadable = true;
    return rc;
}

/* ---- opening -------------------------------------------------------------------------------- */

/* Open the ledger read-only as lstd would and read genesis and chain.
 * Returns: EXIT_VERIFIED to go on, or the exit status. */
static int open_source(verify *v)
{
    store_db_options opt = {.read_only = true};
    char msg[MSG_MAX - 16];
    int rc = store_db_open(&v->src, v->dir, &opt, msg, sizeof msg);
    if (rc == LEDGER_STORE_CORRUPT) {
        /* lstd would refuse this; load it anyway, so the steps below name what is damaged */
        finding(v, "open", "%s (lstd does not serve it as it is)", msg);
        opt.lenient = true;
        rc = store_db_open(&v->src, v->dir, &opt, msg, sizeof msg);
        if (rc == LEDGER_STORE_CORRUPT) {
            finding(v, "open", "%s: nothing more can be checked", msg);
            return EXIT_FINDING;
        }
    }
    if (rc != LEDGER_OK) {
        fprintf(stderr, "lstd-verify: cannot open the ledger in %s: %s (%s)\n", v->dir, msg,
                ledger_err_name(rc));
        return EXIT_UNREADABLE;
    }
    v->sv = *store_db_view(v->src);
    rc = ledger_genesis_read(&v->sv, &v->genesis);
    if (rc == LEDGER_OK)
        rc = ledger_read_chain(&v->sv, &v->chain);
    if (rc != LEDGER_OK) {
        finding(v, "open", "the genesis or chain record does not decode: nothing can be checked");
        return EXIT_FINDING;
    }
    return EXIT_VERIFIED;
}

/* ---- step 1: ledger_check ------------------------------------------------------------------ */

static void step_check(verify *v)
{
    char msg[MSG_MAX];
    int rc = ledger_check(&v->sv, msg, sizeof msg);
    if (rc == LEDGER_OK)
        printf("%-7s ok   invariants, %" PRIu64 " chain links, tx index, recomputed digest\n",
               "check", v->chain.next_seq - 1);
    else if (rc == LEDGER_STORE_CORRUPT)
        finding(v, "check", "%s", msg[0] ? msg : "a stored record does not decode");
    else
        store_failure(v, "check", rc);
}

/* ---- step 2: replay from genesis ------------------------------------------------------------ */

/* Returns: true when the replay reproduced the whole history (the state can be compared). */
static bool step_replay(verify *v)
{
    char msg[MSG_MAX - 16];
    int rc = store_db_replay(&v->scratch, v->src, msg, sizeof msg);
    if (rc == LEDGER_OK) {
        v->dv = *store_db_view(v->scratch);
        printf("%-7s ok   %" PRIu64 " records in %" PRIu64 " batches reproduced from genesis\n",
               "replay", v->chain.next_seq - 1, v->chain.next_batch - 1);
        return true;
    }
    if (rc == LEDGER_STORE_CORRUPT) {
        finding(v, "replay", "%s", msg);
    } else {
        fprintf(stderr, "lstd-verify: replay: %s (%s)\n", msg, ledger_err_name(rc));
        v->unreadable = true;
    }
    printf("%-7s skip state and chain comparison: the replay did not complete\n", "state");
    return false;
}

/* ---- step 3: entry-by-entry state comparison ---------------------------------------------- */

/* Name an entry in human terms: "account <hex>", "lien 3", ... */
static void describe_key(char *out, size_t size, unsigned table, const uint8_t *k, size_t n)
{
    char a[2 * LEDGER_KEY_MAX + 1], b[2 * LEDGER_KEY_SIZE + 1];
    ledger_hex(a, k, n <= 32 ? n : 32);
    if (n == 64)
        ledger_hex(b, k + 32, 32);
    uint64_t id = n == 8 ? be64(k) : n == 40 ? be64(k + 32) : 0;
    switch (table * 100 + (unsigned)(n <= 99 ? n : 99)) {
    case LEDGER_T_POOL * 100 + 1:
        snprintf(out, size, "pool");
        return;
    case LEDGER_T_ACCOUNT * 100 + 32:
        snprintf(out, size, "account %s", a);
        return;
    case LEDGER_T_ALLOWANCE * 100 + 64:
        snprintf(out, size, "allowance of owner %s to spender %s", a, b);
        return;
    case LEDGER_T_LIEN * 100 + 8:
        snprintf(out, size, "lien %" PRIu64, id);
        return;
    case LEDGER_T_ACCOUNT_LIEN * 100 + 40:
        snprintf(out, size, "lien index of account %s, lien %" PRIu64, a, id);
        return;
    case LEDGER_T_WITHDRAWAL * 100 + 8:
        snprintf(out, size, "withdrawal request %" PRIu64, id);
        return;
    case LEDGER_T_ACCOUNT_WD * 100 + 40:
        snprintf(out, size, "withdrawal index of account %s, request %" PRIu64, a, id);
        return;
    case LEDGER_T_OPERATOR * 100 + 8:
        snprintf(out, size, "operator %" PRIu64, id);
        return;
    case LEDGER_T_OPERATOR_KEY * 100 + 32:
        snprintf(out, size, "operator key %s", a);
        return;
    case LEDGER_T_DEPOSIT_REF * 100 + 32:
        snprintf(out, size, "deposit reference %s", a);
        return;
    case LEDGER_T_TX * 100 + 32:
        snprintf(out, size, "tx index of hash %s", a);
        return;
    case LEDGER_T_ACCOUNT_TX * 100 + 40:
        snprintf(out, size, "history index of account %s, seq %" PRIu64, a, id);
        return;
    case LEDGER_T_ORACLE_MEMBER * 100 + 32:
        snprintf(out, size, "oracle member %s", a);
        return;
    case LEDGER_T_ORACLE_VOTE * 100 + 40:
        ledger_hex(a, k + 8, 32);
        snprintf(out, size, "vote of member %s for operator %" PRIu64, a, be64(k));
        return;
    default:
        ledger_hex(a, k, n <= LEDGER_KEY_MAX ? n : LEDGER_KEY_MAX);
        snprintf(out, size, "table %s, key %s", table_name(table), a);
    }
}

typedef struct field {
    const char *name;
    size_t offset;
    size_t size; /* 8: a uint64_t; 16: a ledger_u128; 32: a key or reference */
} field;

#define U64(type, member)                                                                          \
    {                                                                                              \
#member, offsetof(type, member), 8                                                         \
    }
#define U128(type, member)                                                                         \
    {                                                                                              \
#member, offsetof(type, member), 16                                                        \
    }
#define KEY(type, member)                                                                          \
    {                                                                                              \
#member, offsetof(type, member), 32                                                        \
    }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const field account_fields[] = {U64(ledger_account, shares), U64(ledger_account, locked),
                                       U64(ledger_account, queued), U64(ledger_account, nonce)};

/* Every field of the records, so that a difference is always named (one line per parameter:
 * the assertion below is a reminder when a parameter is added). */
_Static_assert(LEDGER_PARAM_COUNT == 9, "pool_fields lists params[1..8]");

static const field pool_fields[] = {U64(ledger_pool, assets),
                                    U64(ledger_pool, shares),
                                    U64(ledger_pool, buffer),
                                    U64(ledger_pool, unvested),
                                    U64(ledger_pool, vest_ts),
                                    U64(ledger_pool, vest_end),
                                    U64(ledger_pool, held_loss),
                                    U128(ledger_pool, payable),
                                    U128(ledger_pool, total_deposited),
                                    U128(ledger_pool, total_rewards),
                                    U128(ledger_pool, total_slashed),
                                    U128(ledger_pool, total_paid),
                                    U64(ledger_pool, stake_limit_current),
                                    U64(ledger_pool, stake_limit_ts),
                                    U64(ledger_pool, pause_flags),
                                    U64(ledger_pool, params[1]),
                                    U64(ledger_pool, params[2]),
                                    U64(ledger_pool, params[3]),
                                    U64(ledger_pool, params[4]),
                                    U64(ledger_pool, params[5]),
                                    U64(ledger_pool, params[6]),
                                    U64(ledger_pool, params[7]),
                                    U64(ledger_pool, params[8]),
                                    U64(ledger_pool, treasury_fee.bps),
                                    U64(ledger_pool, treasury_fee.pending_bps),
                                    U64(ledger_pool, treasury_fee.pending_at),
                                    KEY(ledger_pool, admin),
                                    KEY(ledger_pool, custodian),
                                    KEY(ledger_pool, treasury),
                                    U64(ledger_pool, operator_count),
                                    U64(ledger_pool, next_lien_id),
                                    U64(ledger_pool, next_request_id),
                                    U64(ledger_pool, finalized_through),
                                    U64(ledger_pool, queue_count),
                                    U64(ledger_pool, queue_shares),
                                    U128(ledger_pool, queue_amount),
                                    U64(ledger_pool, decimals),
                                    U64(ledger_pool, dead_shares),
                                    U64(ledger_pool, epoch_anchor),
                                    U64(ledger_pool, epoch_anchor_ts)};

static const field lien_fields[] = {U64(ledger_lien, id),          KEY(ledger_lien, owner),
                                    KEY(ledger_lien, beneficiary), U64(ledger_lien, shares),
                                    U64(ledger_lien, expiry),      U64(ledger_lien, created)};

static const field withdrawal_fields[] = {U64(ledger_withdrawal, id),
                                          KEY(ledger_withdrawal, owner),
                                          U64(ledger_withdrawal, shares),
                                          U64(ledger_withdrawal, amount_at_request),
                                          U64(ledger_withdrawal, min_amount_out),
                                          U64(ledger_withdrawal, requested),
                                          U64(ledger_withdrawal, status),
                                          U64(ledger_withdrawal, paid),
                                          U64(ledger_withdrawal, finalized),
                                          KEY(ledger_withdrawal, payout_ref),
                                          U64(ledger_withdrawal, settled)};

static const field operator_fields[] = {U64(ledger_operator, id),
                                        KEY(ledger_operator, key),
                                        KEY(ledger_operator, fee_account),
                                        U64(ledger_operator, active),
                                        U64(ledger_operator, fee.bps),
                                        U64(ledger_operator, fee.pending_bps),
                                        U64(ledger_operator, fee.pending_at),
                                        U64(ledger_operator, balance),
                                        U64(ledger_operator, reported_balance),
                                        U128(ledger_operator, funded_since),
                                        U128(ledger_operator, exited_since),
                                        U64(ledger_operator, last_epoch),
                                        U64(ledger_operator, last_report_ts),
                                        U64(ledger_operator, period_fee_bps),
                                        U64(ledger_operator, period_treasury_bps),
                                        U128(ledger_operator, fees_earned),
                                        U64(ledger_operator, held_epoch),
                                        U64(ledger_operator, held_balance),
                                        U64(ledger_operator, report_count)};

/* Name the first field that differs: "stored shares 5, replay gives 6". Returns: false if
 * every listed field is equal. */
static bool diff_fields(const void *stored, const void *replayed, const field *f, size_t n,
                        char *out, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *a = (const uint8_t *)stored + f[i].offset;
        const uint8_t *b = (const uint8_t *)replayed + f[i].offset;
        if (memcmp(a, b, f[i].size) == 0)
            continue;
        if (f[i].size == 8) {
            uint64_t x, y;
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            snprintf(out, size, "stored %s %" PRIu64 ", replay gives %" PRIu64, f[i].name, x, y);
        } else if (f[i].size == 16) {
            ledger_u128 x, y;
            char xs[40], ys[40];
            memcpy(&x, a, 16);
            memcpy(&y, b, 16);
            snprintf(out, size, "stored %s %s, replay gives %s", f[i].name, ledger_u128_str(xs, x),
                     ledger_u128_str(ys, y));
        } else {
            char x[65], y[65];
            ledger_hex(x, a, 32);
            ledger_hex(y, b, 32);
            snprintf(out, size, "stored %s %s, replay gives %s", f[i].name, x, y);
        }
        return true;
    }
    return false;
}

/* Both sides of a decoded comparison. */
typedef struct pair {
    ledger_store *stored, *replayed;
    const uint8_t *key;
    size_t key_len;
} pair;

/* Decode both sides of an entry of a decodable table and name the differing field.
 * Returns: true when a field was named in out. */
static bool diff_decoded(const pair *p, unsigned table, char *out, size_t size)
{
    union {
        ledger_account a;
        ledger_pool p;
        ledger_lien l;
        ledger_withdrawal w;
        ledger_operator o;
    } x, y;
    int ra, rb;
    const field *f;
    size_t n;
    uint64_t id = p->key_len == 8 ? be64(p->key) : 0;
    memset(&x, 0, sizeof x);
    memset(&y, 0, sizeof y);
    switch (table) {
    case LEDGER_T_ACCOUNT:
        if (p->key_len != 32)
            return false;
        ra = ledger_read_account(p->stored, p->key, &x.a);
        rb = ledger_read_account(p->replayed, p->key, &y.a);
        f = account_fields, n = COUNT(account_fields);
        break;
    case LEDGER_T_POOL:
        ra = ledger_read_pool(p->stored, &x.p);
        rb = ledger_read_pool(p->replayed, &y.p);
        f = pool_fields, n = COUNT(pool_fields);
        break;
    case LEDGER_T_LIEN:
        ra = ledger_read_lien(p->stored, id, &x.l);
        rb = ledger_read_lien(p->replayed, id, &y.l);
        f = lien_fields, n = COUNT(lien_fields);
        break;
    case LEDGER_T_WITHDRAWAL:
        ra = ledger_read_withdrawal(p->stored, id, &x.w);
        rb = ledger_read_withdrawal(p->replayed, id, &y.w);
        f = withdrawal_fields, n = COUNT(withdrawal_fields);
        break;
    case LEDGER_T_OPERATOR:
        ra = ledger_read_operator(p->stored, id, &x.o);
        rb = ledger_read_operator(p->replayed, id, &y.o);
        f = operator_fields, n = COUNT(operator_fields);
        break;
    default:
        return false;
    }
    if (ra != LEDGER_OK || rb != LEDGER_OK) {
        snprintf(out, size, "the %s record does not decode",
                 ra != LEDGER_OK ? "stored" : "replayed");
        return true;
    }
    if (diff_fields(&x, &y, f, n, out, size))
        return true;
    if (table == LEDGER_T_OPERATOR && memcmp(x.o.reports, y.o.reports, sizeof x.o.reports) != 0) {
        snprintf(out, size, "stored report history differs from the replay's");
        return true;
    }
    return false;
}

/* One side of the merge walk: the current entry of a table, copied out of the view. */
typedef struct cursor {
    ledger_store *view;
    unsigned table;
    bool done;
    uint8_t key[LEDGER_KEY_MAX];
    size_t key_len;
    uint8_t val[LEDGER_VALUE_MAX];
    size_t val_len;
} cursor;

/* Advance to the next entry. Returns: 0 (c->done at the end) or a store code. */
static int cursor_step(cursor *c)
{
    const uint8_t *k, *val;
    size_t kn, vn;
    int rc = c->view->next(c->view->self, c->table, c->key, c->key_len, &k, &kn, &val, &vn);
    if (rc == LEDGER_STORE_NOTFOUND) {
        c->done = true;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (kn == 0 || kn > LEDGER_KEY_MAX || vn > LEDGER_VALUE_MAX)
        return LEDGER_STORE_CORRUPT;
    memcpy(c->key, k, kn);
    c->key_len = kn;
    memcpy(c->val, val, vn);
    c->val_len = vn;
    return 0;
}

/* Key order of the store: bytes, then length. Done cursors sort last. */
static int cursor_cmp(const cursor *a, const cursor *b)
{
    if (a->done || b->done)
        return (int)a->done - (int)b->done;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);
    if (c != 0)
        return c;
    return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

typedef struct state_walk {
    verify *v;
    uint64_t entries, differing;
} state_walk;

/* Report one differing entry (c: the side whose key is reported; which: what is wrong). */
static void state_diff(state_walk *w, const cursor *c, int which, const pair *p)
{
    char key[2 * LEDGER_KEY_MAX + 96], detail[MSG_MAX / 2];
    if (w->differing++ >= STATE_DIFFS_SHOWN_MAX)
        return;
    describe_key(key, sizeof key, c->table, c->key, c->key_len);
    if (which < 0)
        finding(w->v, "state", "%s: in the store but not in the replay", key);
    else if (which > 0)
        finding(w->v, "state", "%s: missing from the store (the replay has it)", key);
    else if (diff_decoded(p, c->table, detail, sizeof detail))
        finding(w->v, "state", "%s: %s", key, detail);
    else
        finding(w->v, "state", "%s: stored value differs from the replay's (table %s)", key,
                table_name(c->table));
}

static int compare_table(state_walk *w, unsigned table)
{
    static cursor a, b; /* 8 KiB each: kept off the stack */
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.view = &w->v->sv, b.view = &w->v->dv;
    a.table = b.table = table;
    int rc = cursor_step(&a);
    if (rc == 0)
        rc = cursor_step(&b);
    while (rc == 0 && !(a.done && b.done)) {
        int order = cursor_cmp(&a, &b);
        pair p = {&w->v->sv, &w->v->dv, a.key, a.key_len};
        w->entries++;
        if (order != 0) {
            state_diff(w, order < 0 ? &a : &b, order, &p);
            rc = cursor_step(order < 0 ? &a : &b);
            continue;
        }
        if (a.val_len != b.val_len || memcmp(a.val, b.val, a.val_len) != 0)
            state_diff(w, &a, 0, &p);
        rc = cursor_step(&a);
        if (rc == 0)
            rc = cursor_step(&b);
    }
    return rc;
}

static void step_state(verify *v)
{
    state_walk w = {.v = v};
    int rc = 0;
    for (unsigned t = LEDGER_T_META; rc == 0 && t <= LEDGER_T_LAST; t++)
        if (t != LEDGER_T_META && t != LEDGER_T_HISTORY && t != LEDGER_T_TX)
            rc = compare_table(&w, t);
    if (rc == LEDGER_STORE_CORRUPT) {
        finding(v, "state", "a stored key or value is out of range");
    } else if (rc != 0) {
        store_failure(v, "state", rc);
    } else if (w.differing == 0) {
        printf("%-7s ok   %" PRIu64 " entries in 13 tables equal the replay's\n", "state",
               w.entries);
    } else if (w.differing > STATE_DIFFS_SHOWN_MAX) {
        printf("%-7s FAIL ... %" PRIu64 " differing entries in all\n", "state", w.differing);
    }
}

/* ---- step 4: chain head and digest ---------------------------------------------------------- */

static void step_chain(verify *v)
{
    ledger_chain r;
    char x[65], y[65];
    unsigned before = v->findings;
    int rc = ledger_read_chain(&v->dv, &r);
    if (rc != LEDGER_OK) {
        store_failure(v, "chain", rc);
        return;
    }
    if (r.next_seq != v->chain.next_seq || r.next_batch != v->chain.next_batch ||
        r.last_ts != v->chain.last_ts)
        finding(v, "chain",
                "stored seq %" PRIu64 " batch %" PRIu64 " time %" PRIu64
                ", replay gives seq %" PRIu64 " batch %" PRIu64 " time %" PRIu64,
                v->chain.next_seq - 1, v->chain.next_batch - 1, v->chain.last_ts, r.next_seq - 1,
                r.next_batch - 1, r.last_ts);
    ledger_hex(x, v->chain.head, 32);
    ledger_hex(y, r.head, 32);
    if (memcmp(v->chain.head, r.head, 32) != 0)
        finding(v, "chain", "stored head %s, replay gives %s", x, y);
    ledger_hex(x, v->chain.digest, 32);
    ledger_hex(y, r.digest, 32);
    if (memcmp(v->chain.digest, r.digest, 32) != 0)
        finding(v, "chain", "stored digest %s, replay gives %s", x, y);
    if (v->findings == before)
        printf("%-7s ok   head and state digest equal the replay's\n", "chain");
}

/* ---- main ----------------------------------------------------------------------------------- */

static void summary(const verify *v)
{
    char head[65], digest[65];
    ledger_hex(head, v->chain.head, 32);
    ledger_hex(digest, v->chain.digest, 32);
    printf("records %" PRIu64 ", batches %" PRIu64 ", last batch time %" PRIu64 "\n",
           v->chain.next_seq - 1, v->chain.next_batch - 1, v->chain.last_ts);
    printf("head    %s\ndigest  %s\n", head, digest);
}

static int run(verify *v)
{
    int status = open_source(v);
    if (status != EXIT_VERIFIED)
        return status;
    store_db_stats st;
    store_db_stats_get(v->src, &st);
    printf("lstd-verify: %s: ledger %s, %" PRIu64 " records\n", v->dir, v->genesis.ledger_id,
           v->chain.next_seq - 1);
    if (v->findings == 0)
        printf("%-7s ok   checkpoint before seq %" PRIu64 " and its digest, %" PRIu64
               " records linked and indexed, %" PRIu64 " replayed after it\n",
               "open", st.checkpoint_seq, st.checkpoint_seq - 1, st.replayed);
    step_check(v);
    if (!v->unreadable && step_replay(v)) {
        step_state(v);
        if (!v->unreadable)
            step_chain(v);
    }
    summary(v);
    if (v->unreadable)
        return EXIT_UNREADABLE;
    if (v->findings > 0) {
        printf("lstd-verify: FAILED, %u finding%s; first: %s\n", v->findings,
               v->findings == 1 ? "" : "s", v->first);
        return EXIT_FINDING;
    }
    printf("lstd-verify: OK\n");
    return EXIT_VERIFIED;
}

int main(int argc, char **argv)
{
    static verify v;
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("lstd-verify %s\n", LSTD_VERSION);
        return EXIT_VERIFIED;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return EXIT_VERIFIED;
    }
    if (argc != 2 || argv[1][0] == '-') {
        usage(stderr);
        return EXIT_USAGE;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (store_lmdb_locate("lstd-verify", argv[1], v.dir, sizeof v.dir) != 0)
        return EXIT_UNREADABLE;
    signals_install();
    int status = run(&v);
    store_db_close(&v.scratch);
    store_db_close(&v.src);
    return status;
}
