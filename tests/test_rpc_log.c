/* test_rpc_log.c - lstd's operator log: events and their fields, levels, the log file */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc_harness.h"
#include "test_util.h"

#define LOG_WAIT_MS 10000
#define TOKEN 1000000000ull /* base units per token (9 decimals) */

/* ---- helpers --------------------------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "test_rpc_log: cannot write %s\n", path);
        abort();
    }
}

/* Occurrences of text in the file (0 when it does not exist). */
static int count_in(const char *path, const char *text)
{
    if (access(path, F_OK) != 0)
        return 0;
    char *log = test_read_file(path);
    int n = 0;
    for (const char *p = log; (p = strstr(p, text)) != NULL; p += strlen(text))
        n++;
    free(log);
    return n;
}

/* Wait until path holds text at least n times; a failed check otherwise. */
static void wait_in(const char *path, const char *text, int n, int line)
{
    uint64_t deadline = rh_now_ms() + LOG_WAIT_MS;
    while (count_in(path, text) < n) {
        if (rh_now_ms() > deadline) {
            char *log = access(path, F_OK) == 0 ? test_read_file(path) : strdup("(no file)");
            fprintf(stderr, "%s:%d: %s lacks \"%s\" (x%d):\n%s---\n", __FILE__, line, path, text, n,
                    log);
            free(log);
            test_failures++;
            return;
        }
        rh_sleep_ms(10);
    }
}
#define WAIT_IN(path, text, n) wait_in((path), (text), (n), __LINE__)

/* Every line of the file starts `ts=YYYY-MM-DDTHH:MM:SS.mmmZ level=L event=`. */
static void check_shape(const char *path)
{
    char *log = test_read_file(path);
    int lines = 0;
    for (char *l = strtok(log, "\n"); l != NULL; l = strtok(NULL, "\n"), lines++) {
        char level[16];
        int y, mo, d, h, mi, s, ms, off = 0;
        bool ok = sscanf(l, "ts=%4d-%2d-%2dT%2d:%2d:%2d.%3dZ level=%15s event=%n", &y, &mo, &d, &h,
                         &mi, &s, &ms, level, &off) == 8 &&
                  off > 0 &&
                  (strcmp(level, "error") == 0 || strcmp(level, "warn") == 0 ||
                   strcmp(level, "info") == 0 || strcmp(level, "debug") == 0);
        if (!ok) {
            fprintf(stderr, "test_rpc_log: %s: a line of another shape: %s\n", path, l);
            test_failures++;
        }
    }
    CHECK(lines > 0);
    free(log);
}

static uint64_t nonce_of(rh_server *s, void *d, const rh_key *k)
{
    (void)s;
    return rh_next_nonce(d, k->pk);
}

/* Sign and submit tx with k; want: the result code name ("OK" or an error). */
static void submit(rh_server *s, void *d, ledger_tx *tx, const rh_key *k, const char *want)
{
    rh_reply r;
    rh_reply_init(&r);
    tx->nonce = nonce_of(s, d, k);
    CHECK(rh_submit(s, d, tx, k, &r, NULL) == 0);
    const msgpack_object *res = rh_get_map(r.root, "result");
    if (strcmp(want, "OK") == 0)
        CHECK_OK(&r);
    else if (res != NULL)
        CHECK_STR(res, "code", want);
    else
        CHECK_ERROR(&r, want);
    rh_reply_free(&r);
}

/* ---- events ---------------------------------------------------------------------------------- */

static void deposit(rh_server *s, void *d, const uint8_t to[32], uint64_t amount, uint8_t tag)
{
    uint8_t ref[32] = {tag, 0x10, 0x6};
    ledger_tx tx = rh_tx(LEDGER_TX_DEPOSIT);
    rh_tx_key(&tx, "to", to);
    rh_tx_u64(&tx, "amount", amount);
    rh_tx_key(&tx, "external_ref", ref);
    submit(s, d, &tx, &s->custodian, "OK");
}

static void report(rh_server *s, void *d, unsigned kind, const rh_key *k, uint64_t epoch,
                   uint64_t balance, const char *want)
{
    ledger_tx tx = rh_tx(kind);
    rh_tx_u64(&tx, "operator_id", 1);
    rh_tx_u64(&tx, "epoch", epoch);
    rh_tx_u64(&tx, "balance", balance);
    submit(s, d, &tx, k, want);
}

/* Each report and admin transaction is one line once committed, named by its kind, with its
 * result, seq, signer, fields and outputs; a held report is report_held at warn; a rejected
 * admin transaction is at warn; deposits and transfers write nothing at info. */
static void test_operator_events(void)
{
    char log[700], want[512], hex[65];
    rh_server *s = rh_prepare(NULL);
    snprintf(log, sizeof log, "%s/lstd.log", s->dir);
    s->extra[s->extra_count++] = strdup("--log-file");
    s->extra[s->extra_count++] = strdup(log);
    CHECK(rh_launch(s) == 0);
    void *d = rh_dealer(s);
    rh_key alice, treasury2;
    rh_keygen(&alice);
    rh_keygen(&treasury2);

    deposit(s, d, alice.pk, 100 * TOKEN, 1);
    ledger_tx tx = rh_tx(LEDGER_TX_TRANSFER);
    rh_tx_key(&tx, "to", treasury2.pk);
    rh_tx_u64(&tx, "shares", TOKEN);
    submit(s, d, &tx, &alice, "OK");
    tx = rh_tx(LEDGER_TX_OPERATOR_FUND);
    rh_tx_u64(&tx, "operator_id", 1);
    rh_tx_u64(&tx, "amount", 50 * TOKEN);
    submit(s, d, &tx, &s->custodian, "OK");

    report(s, d, LEDGER_TX_REPORT, &s->operator_key, 1, 50 * TOKEN, "OK");
    WAIT_IN(log, " level=info event=report result=OK seq=", 1);
    WAIT_IN(log, " operator_id=1 epoch=1 balance=50000000000 gain=0 loss=0 ", 1);
    report(s, d, LEDGER_TX_REPORT, &s->operator_key, 2, 50100000000, "REPORT_APR_EXCEEDED");
    rh_hex(hex, s->operator_key.pk);
    WAIT_IN(log, " level=warn event=report_held result=REPORT_APR_EXCEEDED seq=", 1);
    snprintf(want, sizeof want, " signer=%s nonce=2 operator_id=1 epoch=2 balance=50100000000\n",
             hex);
    WAIT_IN(log, want, 1);
    report(s, d, LEDGER_TX_REPORT_ACCEPT, &s->admin, 2, 50100000000, "OK");
    WAIT_IN(log, " level=info event=report_accept result=OK ", 1);
    WAIT_IN(log, " operator_id=1 epoch=2 balance=50100000000 gain=100000000 loss=0 ", 1);
    report(s, d, LEDGER_TX_OPERATOR_RESET, &s->admin, 3, 50100000000, "OK");
    WAIT_IN(log, " level=info event=operator_reset result=OK ", 1);

    tx = rh_tx(LEDGER_TX_FEE_SET);
    rh_tx_u64(&tx, "operator_id", 0);
    rh_tx_u64(&tx, "fee_bps", 400);
    submit(s, d, &tx, &s->admin, "OK");
    WAIT_IN(log, " level=info event=fee_set result=OK ", 1);
    WAIT_IN(log, " operator_id=0 fee_bps=400 effective_at=", 1);
    tx = rh_tx(LEDGER_TX_FEE_SET); /* not the admin: recorded, rejected, at warn */
    rh_tx_u64(&tx, "operator_id", 0);
    rh_tx_u64(&tx, "fee_bps", 100);
    submit(s, d, &tx, &s->custodian, "NOT_ADMIN");
    WAIT_IN(log, " level=warn event=fee_set result=NOT_ADMIN ", 1);

    tx = rh_tx(LEDGER_TX_PARAM_SET);
    rh_tx_u64(&tx, "param", LEDGER_PARAM_VEST_S);
    rh_tx_u64(&tx, "value", 3600);
    submit(s, d, &tx, &s->admin, "OK");
    WAIT_IN(log, " param=8 value=3600 param_name=VEST_S\n", 1);
    tx = rh_tx(LEDGER_TX_PAUSE_SET);
    rh_tx_u64(&tx, "flags", LEDGER_PAUSE_DEPOSITS | LEDGER_PAUSE_WITHDRAWALS);
    submit(s, d, &tx, &s->admin, "OK");
    WAIT_IN(log, " event=pause_set result=OK ", 1);
    WAIT_IN(log, " flags=5 paused=deposits,withdrawals\n", 1);
    tx = rh_tx(LEDGER_TX_PAUSE_SET);
    rh_tx_u64(&tx, "flags", 0);
    submit(s, d, &tx, &s->admin, "OK");
    WAIT_IN(log, " flags=0 paused=none\n", 1);
    tx = rh_tx(LEDGER_TX_ROLE_SET);
    rh_tx_u64(&tx, "role", LEDGER_ROLE_TREASURY);
    rh_tx_key(&tx, "account", treasury2.pk);
    submit(s, d, &tx, &s->admin, "OK");
    rh_hex(hex, treasury2.pk);
    snprintf(want, sizeof want, " event=role_set result=OK ");
    WAIT_IN(log, want, 1);
    snprintf(want, sizeof want, " role=3 account=%s role_name=treasury\n", hex);
    WAIT_IN(log, want, 1);

    /* the last line is in: the deposit, the transfer and the funding before it wrote nothing */
    CHECK_U64(count_in(log, " event=deposit "), 0);
    CHECK_U64(count_in(log, " event=transfer "), 0);
    CHECK_U64(count_in(log, " event=operator_fund "), 0);
    CHECK_U64(rh_stop(s, SIGTERM, 10000), 0);
    WAIT_IN(log, " level=info event=stopped exit=0\n", 1);
    check_shape(log);
    rh_close(d);
    rh_free(&s);
}

/* ---- the log file ------------------------------------------------------------------------------
 */

/* --log-file: the lines go there and nothing to stderr; after logrotate's rename a SIGHUP starts
 * a new file at the path, and the renamed one gets nothing more. */
static void test_log_file_reopen(void)
{
    char log[700], rotated[720], want[1024];
    rh_server *s = rh_prepare(NULL);
    snprintf(s->err_path, sizeof s->err_path, "%s/stderr.txt", s->dir);
    snprintf(log, sizeof log, "%s/lstd.log", s->dir);
    snprintf(rotated, sizeof rotated, "%s.1", log);
    s->extra[s->extra_count++] = strdup("--log-file");
    s->extra[s->extra_count++] = strdup(log);
    CHECK(rh_launch(s) == 0);
    snprintf(want, sizeof want, " level=info event=start version=%s pid=%d data=%s config=none",
             LSTD_VERSION, (int)s->pid, s->data_dir);
    WAIT_IN(log, want, 1);
    snprintf(want, sizeof want,
             " level=info event=ready ledger_id=%s requests=%s events=%s metrics=%s\n",
             s->ledger_id, s->requests, s->events, s->metrics);
    WAIT_IN(log, want, 1);
    WAIT_IN(log, " level=info event=open ledger=", 1);
    struct stat st;
    CHECK(stat(log, &st) == 0 && (st.st_mode & 0777) == 0640);

    CHECK(rename(log, rotated) == 0);
    rh_signal(s, SIGHUP);
    WAIT_IN(log, " event=reload config=none outcome=unchanged", 1);
    CHECK_U64(count_in(rotated, " event=reload "), 0);
    CHECK_U64(rh_stop(s, SIGTERM, 10000), 0);
    WAIT_IN(log, " event=stopped exit=0\n", 1);
    CHECK_U64(count_in(rotated, " event=stopping "), 0);
    CHECK_U64(count_in(rotated, " event=start "), 1);
    check_shape(log);
    check_shape(rotated);
    char *err = test_read_file(s->err_path);
    CHECK(err[0] == '\0'); /* everything went to the file */
    free(err);
    rh_free(&s);
}

/* log_level from the config file, applied live on SIGHUP: at warn nothing of a normal start is
 * written; at debug every batch and transaction is; back at info, a deposit writes nothing. A
 * changed log_file is applied too. */
static void test_level_reload(void)
{
    char conf[700], log[700], log2[720], text[1600], want[1600];
    rh_server *s = rh_prepare(NULL);
    snprintf(conf, sizeof conf, "%s/lstd.conf", s->dir);
    snprintf(log, sizeof log, "%s/lstd.log", s->dir);
    snprintf(log2, sizeof log2, "%s/other.log", s->dir);
    snprintf(text, sizeof text, "log_level = warn\nlog_file = %s\n", log);
    write_file(conf, text);
    s->extra[s->extra_count++] = strdup("--config");
    s->extra[s->extra_count++] = strdup(conf);
    CHECK(rh_launch(s) == 0);
    void *d = rh_dealer(s);
    rh_key alice;
    rh_keygen(&alice);

    snprintf(text, sizeof text, "log_level = debug\nlog_file = %s\n", log);
    write_file(conf, text);
    rh_signal(s, SIGHUP);
    snprintf(want, sizeof want,
             " level=info event=reload config=%s outcome=applied applied=log_level:warn->debug\n",
             conf);
    WAIT_IN(log, want, 1);
    CHECK_U64(count_in(log, " event=start "), 0);
    CHECK_U64(count_in(log, " event=ready "), 0);
    deposit(s, d, alice.pk, TOKEN, 2);
    WAIT_IN(log, " level=debug event=deposit result=OK ", 1);
    WAIT_IN(log, " level=debug event=batch requests=", 1);

    snprintf(text, sizeof text, "log_level = info\nlog_file = %s\n", log2);
    write_file(conf, text);
    rh_signal(s, SIGHUP);
    snprintf(want, sizeof want,
             " level=info event=reload config=%s outcome=applied "
             "applied=log_level:debug->info,log_file\n",
             conf);
    WAIT_IN(log2, want, 1);
    deposit(s, d, alice.pk, TOKEN, 3);
    ledger_tx tx = rh_tx(LEDGER_TX_PAUSE_SET);
    rh_tx_u64(&tx, "flags", 0);
    submit(s, d, &tx, &s->admin, "OK");
    WAIT_IN(log2, " event=pause_set result=OK ", 1);
    CHECK_U64(count_in(log2, " event=deposit "), 0);
    CHECK_U64(count_in(log2, " event=batch "), 0);
    CHECK_U64(count_in(log, " event=pause_set "), 0);
    CHECK_U64(rh_stop(s, SIGTERM, 10000), 0);
    check_shape(log);
    check_shape(log2);
    rh_close(d);
    rh_free(&s);
}

/* A log file that cannot be opened: exit 1 at start, saying why on stderr. */
static void test_log_file_refused(void)
{
    rh_server *s =
        rh_prepare((const char *const[]){"--log-file", "/nonexistent/dir/lstd.log", NULL});
    snprintf(s->err_path, sizeof s->err_path, "%s/stderr.txt", s->dir);
    CHECK(rh_launch(s) != 0);
    CHECK(s->has_status && WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 1);
    WAIT_IN(s->err_path,
            " level=error event=log_open_failed msg=\"cannot open /nonexistent/dir/lstd.log: No "
            "such file or directory\"\n",
            1);
    rh_free(&s);
}

int main(void)
{
    rh_init("test_rpc_log", 120);
    test_operator_events();
    test_log_file_reopen();
    test_level_reload();
    test_log_file_refused();
    return test_finish("test_rpc_log");
}
