/* test_tools.c - lstd-verify, lstd-backup and lstd-inspect on intact, damaged and live stores */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "rpc_harness.h"
#include "test_util.h"

#if !defined(LSTD_VERIFY) || !defined(LSTD_BACKUP) || !defined(LSTD_INSPECT)
#error "LSTD_VERIFY, LSTD_BACKUP and LSTD_INSPECT (tool paths) must be defined by the build"
#endif

#define TOOL_TIMEOUT_MS 30000
#define PATH_SIZE 1024

static char *work; /* scratch directory of this test: tool outputs and store copies */
static unsigned outputs;

/* ---- running the tools ------------------------------------------------------------------- */

/* Start a tool with stdout and stderr into a fresh file. Out: path. Returns: its pid. */
static pid_t tool_spawn(const char *const *argv, char path[PATH_SIZE])
{
    snprintf(path, PATH_SIZE, "%s/out-%u.txt", work, ++outputs);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        abort();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fd);
    return pid;
}

/* Reap a tool without waiting. Returns: -1 while it runs, else its exit code or 128 + signal. */
static int tool_poll(pid_t pid)
{
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Wait for a tool, killing it after TOOL_TIMEOUT_MS (a hang is a failure). */
static int tool_wait(pid_t pid)
{
    uint64_t deadline = rh_now_ms() + TOOL_TIMEOUT_MS;
    int code;
    while ((code = tool_poll(pid)) < 0) {
        if (rh_now_ms() > deadline) {
            fprintf(stderr, "test_tools: a tool hung: killing it\n");
            kill(pid, SIGKILL);
            test_failures++;
        }
        rh_sleep_ms(2);
    }
    return code;
}

/* Run a tool to the end. Out: *out, its stdout and stderr (caller frees). Returns: as
 * tool_wait. */
static int tool_run(const char *const *argv, char **out)
{
    char path[PATH_SIZE];
    int code = tool_wait(tool_spawn(argv, path));
    *out = test_read_file(path);
    return code;
}

static int verify_run(const char *dir, char **out)
{
    return tool_run((const char *const[]){LSTD_VERIFY, dir, NULL}, out);
}

/* Print the findings and errors of an output (what the damaged-copy tests show). */
static void show_findings(const char *label, char *out)
{
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n"))
        if (strstr(line, "FAIL") != NULL || strstr(line, "could not") != NULL ||
            strstr(line, "cannot") != NULL || strncmp(line, "store:", 6) == 0)
            printf("  %s: %s\n", label, line);
}

/* A fresh, absent path under the work directory. */
static void work_path(char out[PATH_SIZE], const char *name)
{
    snprintf(out, PATH_SIZE, "%s/%s", work, name);
}

/* Back up an LMDB directory with lstd-backup into a fresh directory. Out: dest (the DATA_DIR)
 * and ledger (dest/ledger). */
static void copy_store(const char *src, const char *name, char dest[PATH_SIZE],
                       char ledger[PATH_SIZE])
{
    char *out;
    work_path(dest, name);
    snprintf(ledger, PATH_SIZE, "%s/ledger", dest);
    int code = tool_run((const char *const[]){LSTD_BACKUP, src, dest, NULL}, &out);
    CHECK_U64(code, 0);
    CHECK(strstr(out, "keys are NOT copied") != NULL);
    free(out);
}

/* ---- damage -----------------------------------------------------------------------------------
 */

/* Flip one byte of a stored value through a write view: LMDB's structure stays valid, so the
 * ledger-level checks are what must catch it. History lives in the log (the ledger
 * directory), state in its checkpoint/. */
static void damage_store(const char *ledger_dir, const fx_damage *d)
{
    char env[PATH_SIZE + 16];
    snprintf(env, sizeof env, "%s%s", ledger_dir,
             d->table == LEDGER_T_HISTORY ? "" : "/checkpoint");
    CHECK(fx_damage_env(env, d) == 0);
}

/* Overwrite data.mdb from byte `from` to its end with seeded noise (from = size: truncate to
 * half instead). */
static void spoil_file(const char *ledger_dir, long from, bool truncate_half)
{
    char path[PATH_SIZE + 16];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", ledger_dir);
    CHECK(stat(path, &st) == 0);
    if (truncate_half) {
        CHECK(truncate(path, st.st_size / 2) == 0);
        return;
    }
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL && fseek(f, from, SEEK_SET) == 0);
    if (f == NULL)
        return;
    test_rng rng;
    test_rng_seed(&rng, 42);
    for (long i = from; i < st.st_size; i++)
        fputc((int)(test_rng_next(&rng) & 0xff), f);
    fclose(f);
}

/* ---- tests on the fixture store ------------------------------------------------------------- */

static void test_usage(void)
{
    char *out;
    CHECK_U64(tool_run((const char *const[]){LSTD_VERIFY, NULL}, &out), 2);
    free(out);
    CHECK_U64(tool_run((const char *const[]){LSTD_VERIFY, "--help", NULL}, &out), 0);
    CHECK(strstr(out, "Exit status") != NULL);
    free(out);
    CHECK_U64(tool_run((const char *const[]){LSTD_BACKUP, "/nonexistent", NULL}, &out), 2);
    free(out);
    CHECK_U64(tool_run((const char *const[]){LSTD_BACKUP, "--help", NULL}, &out), 0);
    CHECK(strstr(out, "Keys are NOT copied") != NULL);
    free(out);
    CHECK_U64(tool_run((const char *const[]){LSTD_INSPECT, "--accounts", "x", work, NULL}, &out),
              2);
    free(out);
    CHECK_U64(verify_run("/nonexistent/lstd", &out), 3);
    free(out);
    CHECK_U64(verify_run(work, &out), 3); /* a directory without a store */
    CHECK(strstr(out, "data.mdb") != NULL);
    free(out);
}

static void test_intact(fixture *f)
{
    char *out, want[128];
    ledger_chain c = fx_chain(f);
    int code = verify_run(f->dir, &out);
    CHECK_U64(code, 0);
    snprintf(want, sizeof want, "records %" PRIu64 ", batches %" PRIu64, c.next_seq - 1,
             c.next_batch - 1);
    CHECK(strstr(out, want) != NULL);
    CHECK(strstr(out, "lstd-verify: OK") != NULL);
    if (code != 0)
        fputs(out, stderr);
    free(out);
}

static void test_inspect(fixture *f)
{
    char *out, want[128], hex[65];
    ledger_pool p = fx_pool(f);
    CHECK_U64(tool_run((const char *const[]){LSTD_INSPECT, "--history", "3", f->dir, NULL}, &out),
              0);
    CHECK(strstr(out, "lstd-test") != NULL);
    char total[40];
    snprintf(want, sizeof want, "assets (A)          %" PRIu64 " (vested", p.assets);
    CHECK(strstr(out, want) != NULL);
    snprintf(want, sizeof want, "shares (S)          %" PRIu64 "\n", p.shares);
    CHECK(strstr(out, want) != NULL);
    if (p.unvested > 0)
        snprintf(want, sizeof want, "unvested (U)        %" PRIu64 " vesting linearly from ",
                 p.unvested);
    else
        snprintf(want, sizeof want, "unvested (U)        0\n");
    CHECK(strstr(out, want) != NULL);
    snprintf(want, sizeof want, "total deposited     %s\n",
             ledger_u128_str(total, p.total_deposited));
    CHECK(strstr(out, want) != NULL); /* 128-bit totals in exact decimals */
    snprintf(want, sizeof want, "total paid          %s\n", ledger_u128_str(total, p.total_paid));
    CHECK(strstr(out, want) != NULL);
    if (p.held_loss == 0)
        snprintf(want, sizeof want, "held loss           0 (not in bunker mode)\n");
    else
        snprintf(want, sizeof want, "held loss           %" PRIu64 " (bunker mode: ", p.held_loss);
    CHECK(strstr(out, want) != NULL);
    snprintf(want, sizeof want, "  VEST_S              %" PRIu64 "\n",
             p.params[LEDGER_PARAM_VEST_S]);
    CHECK(strstr(out, want) != NULL);
    snprintf(want, sizeof want, "epoch clock         epoch %" PRIu64 " began at ", p.epoch_anchor);
    CHECK(strstr(out, want) != NULL);
    CHECK(strstr(out, "period fees  operator ") != NULL);
    /* fx_build_history's committee: three members, back in operator mode, one dissent */
    CHECK(strstr(out, "report mode         operator; oracle committee 3 members, quorum 2\n") !=
          NULL);
    CHECK(strstr(out, "  differed 1 of 1 compared (1 of its last 8)") != NULL);
    rh_hex(hex, f->pk[FX_USER]);
    CHECK(strstr(out, hex) != NULL);
    /* the last record (the committee handing reports back to the operators) is the last line */
    size_t n = strlen(out);
    const char *last = out;
    for (size_t i = 0; i + 1 < n; i++)
        if (out[i] == '\n')
            last = out + i + 1;
    CHECK(strstr(last, "quorum_set") != NULL && strstr(last, "members=3") != NULL);
    free(out);
}

static void test_backup_offline(fixture *f)
{
    char dest[PATH_SIZE], ledger[PATH_SIZE], *out;
    copy_store(f->dir, "offline", dest, ledger);
    CHECK_U64(verify_run(dest, &out), 0);
    free(out);
    /* a non-empty destination is refused */
    CHECK_U64(tool_run((const char *const[]){LSTD_BACKUP, f->dir, dest, NULL}, &out), 2);
    CHECK(strstr(out, "not empty") != NULL);
    free(out);
}

static void test_damaged_history(fixture *f)
{
    char dest[PATH_SIZE], ledger[PATH_SIZE], *out;
    fx_damage d = {.table = LEDGER_T_HISTORY, .key_len = 8, .byte = 250};
    d.key[7] = 7; /* record 7: a byte of its signed transaction */
    copy_store(f->dir, "bad-history", dest, ledger);
    damage_store(ledger, &d);
    CHECK_U64(verify_run(dest, &out), 1);
    CHECK(strstr(out, "between records 7 and 8") != NULL); /* the links, at open and check */
    CHECK(strstr(out, "diverges at record 7") != NULL);    /* the replay from genesis */
    show_findings("damaged history", out);
    free(out);
}

static void test_damaged_account(fixture *f)
{
    char dest[PATH_SIZE], ledger[PATH_SIZE], *out, want[160];
    fx_damage d = {.table = LEDGER_T_ACCOUNT, .key_len = 32, .byte = 7};
    memcpy(d.key, f->pk[FX_USER + 2], 32);
    copy_store(f->dir, "bad-account", dest, ledger);
    damage_store(ledger, &d);
    CHECK_U64(verify_run(dest, &out), 1);
    ledger_account a = fx_account(f, FX_USER + 2);
    rh_hex(want, f->pk[FX_USER + 2]);
    snprintf(want + 64, sizeof want - 64, ": stored shares %" PRIu64 ", replay gives %" PRIu64,
             a.shares ^ 1, a.shares);
    CHECK(strstr(out, want) != NULL);
    show_findings("damaged account", out);
    free(out);
}

static void test_damaged_pool(fixture *f)
{
    char dest[PATH_SIZE], ledger[PATH_SIZE], *out, want[128];
    fx_damage d = {.table = LEDGER_T_POOL, .key_len = 1, .byte = 8}; /* low byte of A */
    copy_store(f->dir, "bad-pool", dest, ledger);
    damage_store(ledger, &d);
    CHECK_U64(verify_run(dest, &out), 1);
    ledger_pool p = fx_pool(f);
    snprintf(want, sizeof want, "pool: stored assets %" PRIu64 ", replay gives %" PRIu64,
             p.assets ^ 1, p.assets);
    CHECK(strstr(out, want) != NULL);
    show_findings("damaged pool", out);
    free(out);
}

/* A pending vote differs (fx_build_history leaves U+9's for operator 1): named by its member
 * and operator. */
static void test_damaged_vote(fixture *f)
{
    char dest[PATH_SIZE], ledger[PATH_SIZE], *out, want[160];
    fx_damage d = {.table = LEDGER_T_ORACLE_VOTE, .key_len = 40, .byte = 16}; /* balance's low */
    d.key[7] = 1;
    memcpy(d.key + 8, f->pk[FX_USER + 9], 32);
    copy_store(f->dir, "bad-vote", dest, ledger);
    damage_store(ledger, &d);
    CHECK_U64(verify_run(dest, &out), 1);
    strcpy(want, "vote of member ");
    rh_hex(want + strlen(want), f->pk[FX_USER + 9]);
    strcat(want, " for operator 1");
    CHECK(strstr(out, want) != NULL);
    show_findings("damaged vote", out);
    free(out);
}

/* A 128-bit field differs: named with both values in exact decimals. */
static void test_damaged_total(fixture *f)
{
    char dest[PATH_SIZE], ledger[PATH_SIZE], *out, want[160], x[40], y[40];
    /* version 1 + assets, shares, buffer, unvested, vest_ts, vest_end, held_loss (8 each) +
     * payable (16) + total_deposited (16, big-endian): byte 88 is its lowest */
    fx_damage d = {.table = LEDGER_T_POOL, .key_len = 1, .byte = 88};
    copy_store(f->dir, "bad-total", dest, ledger);
    damage_store(ledger, &d);
    CHECK_U64(verify_run(dest, &out), 1);
    ledger_pool p = fx_pool(f);
    snprintf(want, sizeof want, "pool: stored total_deposited %s, replay gives %s",
             ledger_u128_str(x, p.total_deposited ^ 1), ledger_u128_str(y, p.total_deposited));
    CHECK(strstr(out, want) != NULL);
    show_findings("damaged total", out);
    free(out);
}

static void test_spoiled_file(fixture *f, const char *name, long from, bool truncate_half)
{
    char dest[PATH_SIZE], ledger[PATH_SIZE], *out;
    copy_store(f->dir, name, dest, ledger);
    spoil_file(ledger, from, truncate_half);
    int code = verify_run(dest, &out);
    printf("  %s: verify exit %d\n", name, code);
    CHECK(code == 1 || code == 3);
    CHECK(strstr(out, "lstd-verify:") != NULL || strstr(out, "store:") != NULL);
    show_findings(name, out);
    free(out);
    code = tool_run((const char *const[]){LSTD_INSPECT, dest, NULL}, &out);
    CHECK(code == 0 || code == 3); /* inspect only reads what it shows: never a crash */
    free(out);
}

static void tests_on_fixture(void)
{
    fixture f;
    fx_open(&f, NULL);
    fx_build_history(&f);
    fx_check(&f);
    test_intact(&f); /* the history in the log, after a checkpoint of genesis only */
    /* the damage tests flip bytes of state in the checkpoint: make it hold all of it */
    CHECK_CODE(store_db_checkpoint(f.store), 0);
    test_inspect(&f);
    test_backup_offline(&f);
    test_damaged_history(&f);
    test_damaged_account(&f);
    test_damaged_pool(&f);
    test_damaged_total(&f);
    test_damaged_vote(&f);
    test_spoiled_file(&f, "truncated", 0, true);
    test_spoiled_file(&f, "noise-all", 0, false);
    test_spoiled_file(&f, "noise-after-meta", 2 * 4096, false);
    fx_close(&f);
}

/* ---- tests beside a running lstd ---------------------------------------------------------------
 */

typedef struct live {
    rh_server *s;
    void *sock;
    rh_key user[3];
} live;

/* Submit one transaction (nonce from the server) and check its recorded code. */
static void live_tx(live *l, ledger_tx *t, const rh_key *k, const char *want)
{
    rh_reply r;
    rh_reply_init(&r);
    t->nonce = 0;
    rh_submit(l->s, l->sock, t, k, &r, NULL);
    if (strcmp(want, "OK") == 0)
        CHECK_OK(&r);
    else
        CHECK_ERROR(&r, want);
    rh_reply_free(&r);
}

static void live_deposit(live *l, const rh_key *to, uint64_t amount, uint8_t tag)
{
    uint8_t ref[32];
    memset(ref, tag, sizeof ref);
    ledger_tx t = rh_tx(LEDGER_TX_DEPOSIT);
    rh_tx_key(&t, "to", to->pk);
    rh_tx_u64(&t, "amount", amount);
    rh_tx_key(&t, "external_ref", ref);
    live_tx(l, &t, &l->s->custodian, "OK");
}

/* Deposits, transfers, an allowance, a lien, a withdrawal, operator stake and a report:
 * 11 recorded transactions. */
static void live_history(live *l)
{
    ledger_tx t;
    live_deposit(l, &l->user[0], 5000000000, 1);
    live_deposit(l, &l->user[1], 2000000000, 2);
    t = rh_tx(LEDGER_TX_TRANSFER);
    rh_tx_key(&t, "to", l->user[2].pk);
    rh_tx_u64(&t, "shares", 12345);
    live_tx(l, &t, &l->user[1], "OK");
    rh_tx_u64(&t, "shares", 1ull << 60);
    live_tx(l, &t, &l->user[1], "INSUFFICIENT_SHARES"); /* recorded rejection */
    t = rh_tx(LEDGER_TX_APPROVE);
    rh_tx_key(&t, "spender", l->user[2].pk);
    rh_tx_u64(&t, "shares", 1000);
    live_tx(l, &t, &l->user[1], "OK");
    t = rh_tx(LEDGER_TX_LOCK);
    rh_tx_key(&t, "beneficiary", l->user[2].pk);
    rh_tx_u64(&t, "shares", 50000);
    live_tx(l, &t, &l->user[1], "OK");
    t = rh_tx(LEDGER_TX_WITHDRAW_REQUEST);
    rh_tx_u64(&t, "shares", 1000000);
    live_tx(l, &t, &l->user[1], "OK");
    t = rh_tx(LEDGER_TX_OPERATOR_FUND);
    rh_tx_u64(&t, "operator_id", 1);
    rh_tx_u64(&t, "amount", 3000000000);
    live_tx(l, &t, &l->s->custodian, "OK");
    t = rh_tx(LEDGER_TX_REPORT);
    rh_tx_u64(&t, "operator_id", 1);
    rh_tx_u64(&t, "epoch", 1);
    rh_tx_u64(&t, "balance", 3000000000);
    live_tx(l, &t, &l->s->operator_key, "OK");
    t = rh_tx(LEDGER_TX_WITHDRAW_FINALIZE);
    rh_tx_u64(&t, "up_to_id", 1);
    live_tx(l, &t, &l->s->custodian, "OK");
}

/* A thread that streams transfers of one share from user 0 to user 1 on its own socket while
 * a tool runs. The main thread makes no harness calls meanwhile. */
typedef struct stream {
    const rh_server *s;
    const rh_key *from, *to;
    uint64_t nonce;
    atomic_uint_fast64_t sent;
    atomic_bool stop;
    unsigned failures;
    pthread_t thread;
} stream;

static void *stream_main(void *arg)
{
    stream *st = arg;
    void *sock = rh_dealer(st->s);
    rh_reply r;
    rh_reply_init(&r);
    while (!atomic_load(&st->stop)) {
        ledger_tx t = rh_tx(LEDGER_TX_TRANSFER);
        rh_tx_key(&t, "to", st->to->pk);
        rh_tx_u64(&t, "shares", 1);
        t.nonce = ++st->nonce;
        bool ok = false;
        if (rh_submit(st->s, sock, &t, st->from, &r, NULL) != 0 ||
            !rh_get_bool(r.root, "ok", &ok) || !ok) {
            st->failures++;
            break;
        }
        atomic_fetch_add(&st->sent, 1);
    }
    rh_reply_free(&r);
    rh_close(sock);
    return NULL;
}

/* Run a tool while transactions stream (some before it starts, some while it runs).
 * Out: *during, transactions committed while it ran. Returns: its exit code. */
static int tool_run_streaming(live *l, const char *const *argv, char path[PATH_SIZE],
                              uint64_t *during)
{
    static stream st; /* the nonce carries over from one run to the next */
    st.s = l->s, st.from = &l->user[0], st.to = &l->user[1];
    if (st.nonce == 0)
        st.nonce = rh_next_nonce(l->sock, l->user[0].pk) - 1;
    atomic_store(&st.stop, false);
    atomic_store(&st.sent, 0);
    CHECK(pthread_create(&st.thread, NULL, stream_main, &st) == 0);
    uint64_t deadline = rh_now_ms() + TOOL_TIMEOUT_MS;
    while (atomic_load(&st.sent) < 3 && st.failures == 0 && rh_now_ms() < deadline)
        rh_sleep_ms(1);
    uint64_t before = atomic_load(&st.sent);
    int code = tool_wait(tool_spawn(argv, path));
    *during = atomic_load(&st.sent) - before;
    atomic_store(&st.stop, true);
    pthread_join(st.thread, NULL);
    CHECK_U64(st.failures, 0);
    return code;
}

/* The backup's last seq, read from the copy itself. */
static uint64_t backup_seq(const char *ledger_dir)
{
    store_lmdb *s;
    store_txn *t;
    ledger_store v;
    ledger_chain c;
    store_options opt = {.read_only = true};
    memset(&c, 0, sizeof c);
    CHECK(store_lmdb_open(&s, ledger_dir, &opt) == 0);
    if (s == NULL)
        return 0;
    CHECK(store_lmdb_begin(s, false, &t, &v) == 0);
    CHECK_CODE(ledger_read_chain(&v, &c), LEDGER_OK);
    store_lmdb_abort(&t);
    store_lmdb_close(&s);
    return c.next_seq - 1;
}

static uint64_t pool_seq(const rh_server *s)
{
    rh_reply r;
    uint64_t seq = 0;
    void *d = rh_dealer(s);
    rh_reply_init(&r);
    CHECK(rh_query(d, &r, "pool", NULL, 0) == 0);
    const msgpack_object *res = rh_get_map(r.root, "result");
    CHECK(res != NULL && rh_get_uint(res, "seq", &seq));
    rh_reply_free(&r);
    rh_close(d);
    return seq;
}

/* lstd-verify beside the running server while transactions stream. */
static void test_live_verify(live *l)
{
    char path[PATH_SIZE];
    uint64_t during;
    int code = tool_run_streaming(l, (const char *const[]){LSTD_VERIFY, l->s->data_dir, NULL}, path,
                                  &during);
    printf("  verify beside lstd: exit %d, %" PRIu64 " transactions committed while it ran\n", code,
           during);
    CHECK_U64(code, 0);
    if (code != 0) {
        char *out = test_read_file(path);
        fputs(out, stderr);
        free(out);
    }
}

/* lstd-backup of the running server, then lstd started from the backup. */
static void test_live_backup(live *l)
{
    char path[PATH_SIZE], ledger[PATH_SIZE + 16], *out;
    uint64_t during;
    rh_server *b = rh_prepare(NULL); /* its data_dir is the backup's destination */
    b->production = true;            /* no keys in a backup */
    int code = tool_run_streaming(
        l, (const char *const[]){LSTD_BACKUP, l->s->data_dir, b->data_dir, NULL}, path, &during);
    printf("  backup of a running lstd: exit %d, %" PRIu64 " transactions committed while it ran\n",
           code, during);
    CHECK_U64(code, 0);
    CHECK_U64(verify_run(b->data_dir, &out), 0);
    free(out);
    snprintf(ledger, sizeof ledger, "%s/ledger", b->data_dir);
    uint64_t seq = backup_seq(ledger);
    CHECK(seq >= 14); /* the history and the first streamed transfers */
    CHECK(rh_launch(b) == 0);
    if (b->pid != 0) {
        CHECK_U64(pool_seq(b), seq);
        CHECK(strcmp(b->ledger_id, l->s->ledger_id) == 0);
        printf("  lstd started from the backup answers seq %" PRIu64 " (running server at %" PRIu64
               ")\n",
               seq, pool_seq(l->s));
        CHECK_U64(rh_stop(b, SIGTERM, 10000), 0);
    }
    rh_free(&b);
}

static void test_live_inspect(live *l)
{
    char *out;
    CHECK_U64(tool_run((const char *const[]){LSTD_INSPECT, "--accounts", "2", l->s->data_dir, NULL},
                       &out),
              0);
    CHECK(strstr(out, l->s->ledger_id) != NULL);
    CHECK(strstr(out, "transfer") != NULL);
    free(out);
}

static void tests_live(void)
{
    live l;
    memset(&l, 0, sizeof l);
    l.s = rh_start(NULL);
    CHECK(l.s != NULL);
    if (l.s == NULL)
        return;
    l.sock = rh_dealer(l.s);
    for (int i = 0; i < 3; i++)
        rh_keygen(&l.user[i]);
    live_history(&l);
    test_live_verify(&l);
    test_live_backup(&l);
    test_live_inspect(&l);
    rh_close(l.sock);
    CHECK_U64(rh_stop(l.s, SIGTERM, 10000), 0);
    rh_free(&l.s);
}

int main(void)
{
    uint64_t start = rh_now_ms();
    rh_init("test_tools", 120);
    work = test_tmpdir("lstd-tools");
    test_usage();
    tests_on_fixture();
    tests_live();
    if (getenv("LSTD_KEEP_TMP") == NULL)
        test_rmtree(work);
    free(work);
    printf("test_tools: %" PRIu64 " ms\n", rh_now_ms() - start);
    return test_finish("test_tools");
}
