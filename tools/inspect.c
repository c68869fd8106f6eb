/* inspect.c - lstd-inspect: a readable dump of a ledger store (pool, operators, accounts, history)
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger.h"
#include "store_db.h"

enum { EXIT_SHOWN = 0, EXIT_USAGE = 2, EXIT_UNREADABLE = 3 };

#define LIST_DEFAULT 20
#define LIST_MAX 1000000
#define RATE_DIGITS 18

__extension__ typedef unsigned __int128 u128;

static void usage(FILE *out)
{
    fputs("usage: lstd-inspect [--help] [--accounts N] [--history N] DATA_DIR\n"
          "       lstd-inspect --version     print \"lstd-inspect VERSION\"\n"
          "\n"
          "Prints an lstd ledger in readable form: ledger id and chain head, the pool (A, S,\n"
          "the rate as an exact fraction and a decimal, the unvested reward and its schedule,\n"
          "held loss (bunker mode), buffer, payable, totals, pauses, parameters, fees, epoch\n"
          "clock, role keys), every operator (balance, share of A + U, fees, last epoch, fees\n"
          "earned, held report and its loss, recent reports), the first N accounts by key\n"
          "(default 20), the withdrawal queue, the liens, and the last N history records\n"
          "(default 20). The pool is shown as stored: vested to the last batch that recorded\n"
          "a transaction. DATA_DIR is lstd's --data directory (its ledger/ is read) or the\n"
          "ledger directory itself. Read-only: the ledger is loaded as lstd loads it (the\n"
          "checkpoint, then the log after it) into this process's memory; safe beside a\n"
          "running lstd, showing what its log holds.\n"
          "Amounts and shares are in base units; lifetime totals are exact 128-bit decimals.\n"
          "\n"
          "Exit status: 0 shown, 2 usage, 3 the store cannot be opened or read.\n",
          out);
}

typedef struct inspect {
    ledger_store *v;
    ledger_genesis genesis;
    ledger_pool pool;
    ledger_chain chain;
    uint64_t accounts_max, history_max;
} inspect;

/* ---- formatting ------------------------------------------------------------------------------ */

/* A key in full hex (static buffer: one call per printf argument list). */
static const char *key_hex(const uint8_t key[32])
{
    static char buf[65];
    ledger_hex(buf, key, 32);
    return buf;
}

/* The first 8 bytes of a key in hex and "..". */
static void short_hex(char out[19], const uint8_t key[32])
{
    ledger_hex(out, key, 8);
    memcpy(out + 16, "..", 3);
}

static void time_text(char out[32], uint64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t > (uint64_t)INT32_MAX * 64 || gmtime_r(&tt, &tm) == NULL ||
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%" PRIu64, t);
}

/* A / S as a decimal with RATE_DIGITS digits after the point (truncated). */
static void rate_text(char *out, size_t size, uint64_t a, uint64_t s)
{
    if (s == 0) {
        snprintf(out, size, "undefined (S = 0)");
        return;
    }
    u128 scale = 1;
    for (int i = 0; i < RATE_DIGITS; i++)
        scale *= 10;
    uint64_t frac = (uint64_t)((u128)(a % s) * scale / s);
    snprintf(out, size, "%" PRIu64 ".%0*" PRIu64, a / s, RATE_DIGITS, frac);
}

/* A 128-bit total in decimal (one buffer per call site: pass its own). */
static const char *wide(char out[40], ledger_u128 v)
{
    return ledger_u128_str(out, v);
}

/* floor(part * 10000 / (A + U)), 0 for an empty pool. */
static uint64_t pooled_bps(uint64_t part, const ledger_pool *p)
{
    u128 pooled = (u128)p->assets + p->unvested;
    return pooled == 0 ? 0 : (uint64_t)((u128)part * LEDGER_BPS / pooled);
}

static void pauses_text(char *out, size_t size, uint64_t flags)
{
    snprintf(out, size, "%s%s%s%s", flags == 0 ? "none" : "",
             flags & LEDGER_PAUSE_DEPOSITS ? "deposits " : "",
             flags & LEDGER_PAUSE_TRANSFERS ? "transfers " : "",
             flags & LEDGER_PAUSE_WITHDRAWALS ? "withdrawals " : "");
}

static void fee_text(char *out, size_t size, const ledger_fee *f)
{
    char at[32];
    if (f->pending_at == 0 && f->pending_bps == 0) {
        snprintf(out, size, "%" PRIu64 " bps", f->bps);
        return;
    }
    time_text(at, f->pending_at);
    snprintf(out, size, "%" PRIu64 " bps (rising to %" PRIu64 " bps at %s)", f->bps, f->pending_bps,
             at);
}

/* A store read failed: report it. Returns: EXIT_UNREADABLE. */
static int read_failed(const char *what, int rc)
{
    fprintf(stderr, "lstd-inspect: cannot read %s: %s\n", what, ledger_err_name(rc));
    return EXIT_UNREADABLE;
}

/* ---- sections ------------------------------------------------------------------------------- */

static void show_header(const inspect *in)
{
    char t[32], g[32];
    time_text(t, in->chain.last_ts);
    time_text(g, in->genesis.timestamp);
    printf("ledger id     %s\n", in->genesis.ledger_id);
    printf("genesis time  %s, decimals %" PRIu64 "\n", g, in->genesis.decimals);
    printf("chain         seq %" PRIu64 ", batch %" PRIu64 ", last batch time %s\n",
           in->chain.next_seq - 1, in->chain.next_batch - 1, t);
    printf("head          %s\n", key_hex(in->chain.head));
    printf("digest        %s\n", key_hex(in->chain.digest));
}

static void show_vesting(const ledger_pool *p)
{
    char from[32], to[32];
    if (p->unvested == 0) {
        printf("  unvested (U)        0\n");
        return;
    }
    time_text(from, p->vest_ts);
    time_text(to, p->vest_end);
    printf("  unvested (U)        %" PRIu64 " vesting linearly from %s to %s\n", p->unvested, from,
           to);
}

static void show_held_loss(const ledger_pool *p)
{
    char rate[64];
    if (p->held_loss == 0) {
        printf("  held loss           0 (not in bunker mode)\n");
        return;
    }
    uint64_t a = p->assets - (p->held_loss < p->assets ? p->held_loss : p->assets);
    rate_text(rate, sizeof rate, a, p->shares);
    printf("  held loss           %" PRIu64
           " (bunker mode: finalization pays (A - held loss)/S = %s)\n",
           p->held_loss, rate);
}

static void show_pool_money(const ledger_pool *p)
{
    char rate[64], t[32], w[5][40];
    u128 pooled = (u128)p->assets + p->unvested;
    rate_text(rate, sizeof rate, p->assets, p->shares);
    printf("\npool\n");
    printf("  assets (A)          %" PRIu64 " (vested: in the rate)\n", p->assets);
    show_vesting(p);
    printf("  shares (S)          %" PRIu64 "\n", p->shares);
    printf("  rate A/S            %" PRIu64 "/%" PRIu64 " = %s\n", p->assets, p->shares, rate);
    printf("  buffer              %" PRIu64 "\n", p->buffer);
    printf("  at operators        %s (A + U - buffer)\n",
           wide(w[0], pooled - (p->buffer <= pooled ? p->buffer : 0)));
    show_held_loss(p);
    printf("  payable             %s\n", wide(w[0], p->payable));
    printf("  total deposited     %s\n", wide(w[1], p->total_deposited));
    printf("  total rewards       %s\n", wide(w[2], p->total_rewards));
    printf("  total slashed       %s\n", wide(w[3], p->total_slashed));
    printf("  total paid          %s\n", wide(w[4], p->total_paid));
    printf("  dead shares         %" PRIu64 "\n", p->dead_shares);
    time_text(t, p->stake_limit_ts);
    if (p->params[LEDGER_PARAM_STAKE_LIMIT_MAX] == 0)
        printf("  stake limit         none\n");
    else
        printf("  stake limit         %" PRIu64 " available as of %s\n", p->stake_limit_current, t);
}

/* The epoch clock: its anchor, and the epoch running at the last batch time. */
static void show_epoch_clock(const ledger_pool *p, uint64_t last_ts)
{
    char at[32];
    time_text(at, p->epoch_anchor_ts);
    printf("  epoch clock         epoch %" PRIu64 " began at %s, %" PRIu64 " s each; epoch %" PRIu64
           " at the last batch time\n",
           p->epoch_anchor, at, p->params[LEDGER_PARAM_EPOCH_S], ledger_epoch_at(p, last_ts));
}

/* Who books balances, and the oracle committee with each member's agreement record. */
static void show_committee(ledger_store *v, const ledger_pool *p)
{
    ledger_oracle_member m[LEDGER_ORACLE_MEMBERS_MAX];
    size_t n = 0;
    printf("  report mode         %s; oracle committee %" PRIu64 " members, quorum %" PRIu64 "%s\n",
           p->report_mode == LEDGER_REPORT_MODE_COMMITTEE ? "committee" : "operator",
           p->oracle_members, p->oracle_quorum,
           p->oracle_members > 0 && p->oracle_quorum * 2 <= p->oracle_members
               ? " (not a majority: accepted by the admin)"
               : "");
    if (ledger_list_oracle_members(v, m, LEDGER_ORACLE_MEMBERS_MAX, &n) != LEDGER_OK)
        return;
    for (size_t i = 0; i < n; i++)
        printf("    member %s  votes %" PRIu64 "  differed %" PRIu64 " of %" PRIu64
               " compared (%" PRIu64 " of its last 8)\n",
               key_hex(m[i].key), m[i].votes, m[i].differed, m[i].compared,
               ledger_oracle_recent_differed(&m[i], 8));
}

static void show_pool_rules(const ledger_pool *p, uint64_t last_ts)
{
    char text[128];
    pauses_text(text, sizeof text, p->pause_flags);
    printf("  paused              %s\n", text);
    for (unsigned i = 1; i < LEDGER_PARAM_COUNT; i++)
        printf("  %-19s %" PRIu64 "\n", ledger_param_name(i), p->params[i]);
    fee_text(text, sizeof text, &p->treasury_fee);
    printf("  treasury fee        %s\n", text);
    show_epoch_clock(p, last_ts);
    printf("  admin               %s\n", key_hex(p->admin));
    printf("  custodian           %s\n", key_hex(p->custodian));
    printf("  treasury            %s\n", key_hex(p->treasury));
    printf("  operators           %" PRIu64 "\n", p->operator_count);
    printf("  next lien id        %" PRIu64 "\n", p->next_lien_id);
    printf("  next request id     %" PRIu64 "\n", p->next_request_id);
    printf("  finalized through   %" PRIu64 "\n", p->finalized_through);
}

static void show_reports(const ledger_operator *o)
{
    uint64_t kept = o->report_count < LEDGER_REPORTS_KEPT ? o->report_count : LEDGER_REPORTS_KEPT;
    if (kept == 0)
        return;
    printf("    recent reports (last %" PRIu64 " of %" PRIu64 "):\n", kept, o->report_count);
    for (uint64_t i = 0; i < kept; i++) {
        /* ring of the last 8: report n (from 0) sits at n % 8; newest first */
        const ledger_report_entry *r = &o->reports[(o->report_count - 1 - i) % LEDGER_REPORTS_KEPT];
        char t[32];
        time_text(t, r->timestamp);
        printf("      epoch %" PRIu64 "  balance %" PRIu64 "  at %s  gain %" PRIu64
               "  loss %" PRIu64 "  fee shares %" PRIu64 "\n",
               r->epoch, r->balance, t, r->gain, r->loss, r->fee_shares);
    }
}

static void show_operator(const inspect *in, const ledger_operator *o)
{
    char fee[128], held[128], w[3][40];
    int64_t apr;
    fee_text(fee, sizeof fee, &o->fee);
    printf("  operator %" PRIu64 " (%s)\n", o->id, o->active ? "active" : "inactive");
    printf("    key          %s\n", key_hex(o->key));
    printf("    fee account  %s\n", key_hex(o->fee_account));
    printf("    balance      %" PRIu64 " (last reported %" PRIu64 ", funded %s and exited %s"
           " since), %" PRIu64 " bps of A + U\n",
           o->balance, o->reported_balance, wide(w[0], o->funded_since),
           wide(w[1], o->exited_since), pooled_bps(o->balance, &in->pool));
    printf("    fee          %s, fees earned %s shares\n", fee, wide(w[2], o->fees_earned));
    printf("    period fees  operator %" PRIu64 " bps, treasury %" PRIu64
           " bps (in force when its report period began)\n",
           o->period_fee_bps, o->period_treasury_bps);
    if (o->held_epoch == 0 && o->held_balance == 0)
        snprintf(held, sizeof held, "none");
    else
        snprintf(held, sizeof held,
                 "epoch %" PRIu64 " balance %" PRIu64 " (would book loss %" PRIu64 ")",
                 o->held_epoch, o->held_balance, ledger_held_loss(o));
    printf("    last epoch   %" PRIu64 ", held report: %s\n", o->last_epoch, held);
    if (ledger_operator_apr_bps(o, &apr))
        printf("    net APR      %" PRId64 " bps over the kept reports\n", apr);
    show_reports(o);
}

static int show_operators(const inspect *in)
{
    printf("\noperators (%" PRIu64 ")\n", in->pool.operator_count);
    for (uint64_t id = 1; id <= in->pool.operator_count; id++) {
        ledger_operator o;
        int rc = ledger_read_operator(in->v, id, &o);
        if (rc != LEDGER_OK)
            return read_failed("an operator", rc);
        show_operator(in, &o);
    }
    return EXIT_SHOWN;
}

static void show_account(const inspect *in, const uint8_t key[32], const ledger_account *a)
{
    uint64_t total = a->shares + a->locked + a->queued, value = 0;
    bool dead = memcmp(key, ledger_dead_account, 32) == 0;
    if (ledger_shares_to_amount(&in->pool, total, &value) != LEDGER_OK)
        value = 0;
    printf("  %s%s\n    free %" PRIu64 "  locked %" PRIu64 "  queued %" PRIu64 "  nonce %" PRIu64
           "  value %" PRIu64 "\n",
           key_hex(key), dead ? " (dead account)" : "", a->shares, a->locked, a->queued, a->nonce,
           value);
}

/* Walk the account table: the first accounts_max in key order, and the count of all. */
static int show_accounts(const inspect *in)
{
    uint8_t cur[LEDGER_KEY_MAX];
    size_t cur_len = 0;
    uint64_t count = 0;
    printf("\naccounts (first %" PRIu64 " by key)\n", in->accounts_max);
    for (;;) {
        const uint8_t *k, *val;
        size_t kn, vn;
        ledger_account a;
        int rc = in->v->next(in->v->self, LEDGER_T_ACCOUNT, cur, cur_len, &k, &kn, &val, &vn);
        if (rc == LEDGER_STORE_NOTFOUND)
            break;
        if (rc != 0 || kn != 32)
            return read_failed("the account table", rc != 0 ? rc : LEDGER_STORE_CORRUPT);
        memcpy(cur, k, kn);
        cur_len = kn;
        if (count++ >= in->accounts_max)
            continue;
        rc = ledger_read_account(in->v, cur, &a);
        if (rc != LEDGER_OK)
            return read_failed("an account", rc);
        show_account(in, cur, &a);
    }
    printf("  %" PRIu64 " accounts in all\n", count);
    return EXIT_SHOWN;
}

/* Count the entries of a table. Out: *count. Returns: 0 or a store code. */
static int table_count(ledger_store *v, unsigned table, uint64_t *count)
{
    uint8_t cur[LEDGER_KEY_MAX];
    size_t cur_len = 0;
    *count = 0;
    for (;;) {
        const uint8_t *k, *val;
        size_t kn, vn;
        int rc = v->next(v->self, table, cur, cur_len, &k, &kn, &val, &vn);
        if (rc == LEDGER_STORE_NOTFOUND)
            return 0;
        if (rc != 0)
            return rc;
        if (kn == 0 || kn > LEDGER_KEY_MAX)
            return LEDGER_STORE_CORRUPT;
        memcpy(cur, k, kn);
        cur_len = kn;
        (*count)++;
    }
}

static int show_queue(const inspect *in)
{
    const ledger_pool *p = &in->pool;
    uint64_t requests, liens, by_status[6] = {0};
    int rc = table_count(in->v, LEDGER_T_WITHDRAWAL, &requests);
    if (rc == 0)
        rc = table_count(in->v, LEDGER_T_LIEN, &liens);
    for (uint64_t id = 1; rc == 0 && id < p->next_request_id; id++) {
        ledger_withdrawal w;
        rc = ledger_read_withdrawal(in->v, id, &w);
        if (rc == LEDGER_STORE_NOTFOUND)
            rc = 0;
        else if (rc == LEDGER_OK)
            by_status[w.status <= 5 ? w.status : 0]++;
    }
    if (rc != 0)
        return read_failed("the withdrawal and lien tables", rc);
    printf("\nwithdrawal queue\n");
    char w[2][40];
    printf("  pending             %" PRIu64 " requests, %" PRIu64 " shares, %s quoted\n",
           p->queue_count, p->queue_shares, wide(w[0], p->queue_amount));
    printf("  requests stored     %" PRIu64 " (pending %" PRIu64 ", cancelled %" PRIu64
           ", finalized %" PRIu64 ", returned %" PRIu64 ", settled %" PRIu64 ")\n",
           requests, by_status[1], by_status[2], by_status[3], by_status[4], by_status[5]);
    printf("  finalized through   %" PRIu64 ", next id %" PRIu64 ", payable %s\n",
           p->finalized_through, p->next_request_id, wide(w[1], p->payable));
    printf("\nliens\n  %" PRIu64 " open liens, next id %" PRIu64 "\n", liens, p->next_lien_id);
    return EXIT_SHOWN;
}

static void show_record(const ledger_record *r)
{
    const ledger_kind_info *k = ledger_kind_lookup(r->tx.kind);
    char signer[19], t[32], outs[256];
    size_t used = 0;
    short_hex(signer, r->tx.signer);
    time_text(t, r->result.timestamp);
    outs[0] = '\0';
    for (int i = 0; k != NULL && i < 4 && r->result.code == LEDGER_OK; i++) {
        if (k->out_names[i] == NULL)
            continue;
        int n = snprintf(outs + used, sizeof outs - used, " %s=%" PRIu64, k->out_names[i],
                         r->result.out[i]);
        if (n < 0 || (size_t)n >= sizeof outs - used)
            break;
        used += (size_t)n;
    }
    printf("  %6" PRIu64 "  batch %-6" PRIu64 " %s  %-19s %s  %s%s\n", r->seq, r->result.batch, t,
           k ? k->name : "?", signer, ledger_err_name(r->result.code), outs);
}

static int show_history(const inspect *in)
{
    uint64_t last = in->chain.next_seq - 1;
    uint64_t first = last > in->history_max ? last - in->history_max + 1 : 1;
    printf("\nhistory (last %" PRIu64 " of %" PRIu64 " records)\n",
           last >= first ? last - first + 1 : 0, last);
    for (uint64_t seq = first; seq <= last && in->history_max > 0; seq++) {
        ledger_record r;
        int rc = ledger_read_record(in->v, seq, &r);
        if (rc == LEDGER_STORE_CORRUPT) {
            printf("  %6" PRIu64 "  (does not decode)\n", seq);
            continue;
        }
        if (rc != LEDGER_OK)
            return read_failed("a history record", rc);
        show_record(&r);
    }
    return EXIT_SHOWN;
}

/* ---- main ------------------------------------------------------------------------------------ */

static bool parse_count(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v > LIST_MAX)
        return false;
    *out = v;
    return true;
}

/* Returns: the data directory argument, or NULL on a usage error. */
static const char *parse_args(int argc, char **argv, inspect *in)
{
    const char *dir = NULL;
    in->accounts_max = LIST_DEFAULT;
    in->history_max = LIST_DEFAULT;
    for (int i = 1; i < argc; i++) {
        uint64_t *target = strcmp(argv[i], "--accounts") == 0  ? &in->accounts_max
                           : strcmp(argv[i], "--history") == 0 ? &in->history_max
                                                               : NULL;
        if (target != NULL) {
            if (i + 1 >= argc || !parse_count(argv[++i], target))
                return NULL;
        } else if (argv[i][0] == '-' || dir != NULL) {
            return NULL;
        } else {
            dir = argv[i];
        }
    }
    return dir;
}

static void on_fault(int sig)
{
    static const char msg[] = "lstd-inspect: the data file could not be read (truncated or "
                              "damaged: SIGBUS/SIGSEGV while reading it)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    (void)sig;
    _exit(EXIT_UNREADABLE);
}

static int show_all(inspect *in)
{
    int rc = ledger_genesis_read(in->v, &in->genesis);
    if (rc == LEDGER_OK)
        rc = ledger_read_chain(in->v, &in->chain);
    if (rc == LEDGER_OK)
        rc = ledger_read_pool(in->v, &in->pool);
    if (rc != LEDGER_OK)
        return read_failed("the genesis, chain and pool records", rc);
    show_header(in);
    show_pool_money(&in->pool);
    show_pool_rules(&in->pool, in->chain.last_ts);
    show_committee(in->v, &in->pool);
    int status = show_operators(in);
    if (status == EXIT_SHOWN)
        status = show_accounts(in);
    if (status == EXIT_SHOWN)
        status = show_queue(in);
    if (status == EXIT_SHOWN)
        status = show_history(in);
    return status;
}

int main(int argc, char **argv)
{
    inspect in;
    char dir[PATH_MAX];
    memset(&in, 0, sizeof in);
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("lstd-inspect %s\n", LSTD_VERSION);
        return EXIT_SHOWN;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return EXIT_SHOWN;
    }
    const char *arg = parse_args(argc, argv, &in);
    if (arg == NULL) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (store_lmdb_locate("lstd-inspect", arg, dir, sizeof dir) != 0)
        return EXIT_UNREADABLE;
    signal(SIGBUS, on_fault);
    signal(SIGSEGV, on_fault);
    store_db *db;
    store_db_options opt = {.read_only = true};
    char msg[512];
    int rc = store_db_open(&db, dir, &opt, msg, sizeof msg);
    if (rc != 0) {
        fprintf(stderr, "lstd-inspect: cannot open the ledger in %s: %s (%s)\n", dir, msg,
                ledger_err_name(rc));
        return EXIT_UNREADABLE;
    }
    in.v = store_db_view(db);
    int status = show_all(&in);
    store_db_close(&db);
    return status;
}
