/* test_cli.c - the lst command line against a real lstd: the README walkthrough, units, exit codes
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_router.h"
#include "lst_client.h"
#include "rpc_harness.h"
#include "test_util.h"

#ifndef LST_BINARY
#error "LST_BINARY (path of the lst executable) must be defined by the build"
#endif

#define RUN_TIMEOUT_MS 20000
#define TOKEN 1000000000ull

__extension__ typedef unsigned __int128 u128;

static rh_server *srv;

/* What a finished command printed and how it exited. */
typedef struct run_result {
    char *out, *err;
    int status; /* exit code, 128 + signal, or -1 when it had to be killed */
} run_result;

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Append what fd has to *buf. Returns: false at end of file. */
static bool drain(int fd, char **buf, size_t *len)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    char *grown = realloc(*buf, *len + (size_t)n + 1);
    if (grown == NULL)
        abort();
    memcpy(grown + *len, chunk, (size_t)n);
    *len += (size_t)n;
    grown[*len] = '\0';
    *buf = grown;
    return true;
}

/* Run argv (argv[0] a path) in the server's directory; capture stdout and stderr. */
static run_result run_argv(char *const *argv)
{
    run_result r = {calloc(1, 1), calloc(1, 1), -1};
    int out[2], err[2];
    size_t out_len = 0, err_len = 0;
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
        abort();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(srv->dir) != 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    uint64_t deadline = rh_now_ms() + RUN_TIMEOUT_MS;
    int open_fds = 2;
    while (open_fds > 0 && rh_now_ms() < deadline) {
        if (poll(p, 2, 100) <= 0)
            continue;
        for (int i = 0; i < 2; i++)
            if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP)) &&
                !drain(p[i].fd, i == 0 ? &r.out : &r.err, i == 0 ? &out_len : &err_len)) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
            }
    }
    int st;
    if (open_fds > 0) {
        fprintf(stderr, "test_cli: %s did not finish within %d ms: killed\n", argv[0],
                RUN_TIMEOUT_MS);
        kill(pid, SIGKILL);
    }
    for (int i = 0; i < 2; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
    waitpid(pid, &st, 0);
    if (open_fds == 0)
        r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

/* Run lst with the arguments (NULL-terminated). */
#define LST(...) run_argv((char *const[]){(char *)LST_BINARY, __VA_ARGS__, NULL})

/* Check the exit status; on a mismatch print what the command said. */
static void check_status(const run_result *r, int want, const char *what, int line)
{
    if (r->status != want) {
        fprintf(stderr, "%s:%d: %s exited %d, want %d\n--- stdout:\n%s--- stderr:\n%s---\n",
                __FILE__, line, what, r->status, want, r->out, r->err);
        test_failures++;
    }
}
#define CHECK_STATUS(r, want) check_status(&(r), (want), #r, __LINE__)

/* ---- a small JSON reader: the value at a path ("result.records[0].seq") ------------------- */

static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static const char *skip_value(const char *p);

static const char *skip_string(const char *p)
{
    for (p++; *p != '\0' && *p != '"'; p++)
        if (*p == '\\' && p[1] != '\0')
            p++;
    return *p == '"' ? p + 1 : NULL;
}

/* Skip the members of an object or array starting at '{' or '['. */
static const char *skip_container(const char *p, char close)
{
    p = ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (close == '}') {
            if (*p != '"' || (p = skip_string(p)) == NULL || *(p = ws(p)) != ':')
                return NULL;
            p = ws(p + 1);
        }
        if ((p = skip_value(p)) == NULL)
            return NULL;
        p = ws(p);
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p = ws(p + 1);
    }
}

static const char *skip_value(const char *p)
{
    p = ws(p);
    if (*p == '"')
        return skip_string(p);
    if (*p == '{' || *p == '[')
        return skip_container(p, *p == '{' ? '}' : ']');
    const char *start = p;
    while (*p != '\0' && strchr(",}] \n\t\r", *p) == NULL)
        p++;
    return p > start ? p : NULL;
}

/* The value at path in the JSON text at p, or NULL. */
static const char *json_find(const char *p, const char *path)
{
    p = ws(p);
    while (*path == '.')
        path++;
    if (*path == '\0')
        return p;
    if (*path == '[') {
        long index = strtol(path + 1, NULL, 10);
        path = strchr(path, ']') + 1;
        if (*p != '[')
            return NULL;
        p = ws(p + 1);
        for (long i = 0; i < index && p != NULL; i++)
            if ((p = skip_value(p)) != NULL && *(p = ws(p)) == ',')
                p = ws(p + 1);
            else
                return NULL;
        return p != NULL && *p != ']' ? json_find(p, path) : NULL;
    }
    size_t n = strcspn(path, ".[");
    if (*p != '{')
        return NULL;
    for (p = ws(p + 1); *p == '"';) {
        const char *key = p + 1, *end = skip_string(p);
        if (end == NULL || *(p = ws(end)) != ':')
            return NULL;
        if ((size_t)(end - 1 - key) == n && strncmp(key, path, n) == 0)
            return json_find(p + 1, path + n);
        if ((p = skip_value(p + 1)) == NULL || *(p = ws(p)) != ',')
            return NULL;
        p = ws(p + 1);
    }
    return NULL;
}

/* The text of the value at path (a string without its quotes). */
static bool json_text(const char *json, const char *path, char *out, size_t size)
{
    const char *v = json_find(json, path), *end;
    if (v == NULL || (end = skip_value(v)) == NULL)
        return false;
    if (*v == '"')
        v++, end--;
    snprintf(out, size, "%.*s", (int)(end - v), v);
    return true;
}

static uint64_t json_u64_at(const char *json, const char *path, int line)
{
    char text[64], *end;
    if (!json_text(json, path, text, sizeof text) || text[0] < '0' || text[0] > '9') {
        fprintf(stderr, "%s:%d: no number at %s in %s\n", __FILE__, line, path, json);
        test_failures++;
        return 0;
    }
    return strtoull(text, &end, 10);
}
#define JSON_U64(json, path) json_u64_at((json), (path), __LINE__)

static void json_check_str(const char *json, const char *path, const char *want, int line)
{
    char text[200];
    if (!json_text(json, path, text, sizeof text) || strcmp(text, want) != 0) {
        fprintf(stderr, "%s:%d: %s is not \"%s\" in %s\n", __FILE__, line, path, want, json);
        test_failures++;
    }
}
#define JSON_STR(json, path, want) json_check_str((json), (path), (want), __LINE__)

static void test_json_reader(void)
{
    const char *j =
        "{\"a\":{\"b\":[1,{\"c\":\"x\\\"y\"},[2,3]],\"d\":true},\"e\":18446744073709551615}";
    char t[32];
    CHECK(JSON_U64(j, "a.b[0]") == 1 && JSON_U64(j, "a.b[2][1]") == 3);
    CHECK(json_text(j, "a.b[1].c", t, sizeof t) && strcmp(t, "x\\\"y") == 0);
    CHECK(json_text(j, "a.d", t, sizeof t) && strcmp(t, "true") == 0);
    CHECK(JSON_U64(j, "e") == UINT64_MAX);
    CHECK(json_find(j, "a.z") == NULL && json_find(j, "a.b[3]") == NULL);
}

/* ---- human output: "key   value" lines ------------------------------------------------------ */

/* The value on the nth line (from 0) whose first word is key. */
static bool human_value(const char *out, const char *key, int nth, char *buf, size_t size)
{
    size_t klen = strlen(key);
    for (const char *p = out; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n'), *q = p;
        while (*q == ' ')
            q++;
        if (strncmp(q, key, klen) == 0 && q[klen] == ' ' && nth-- == 0) {
            for (q += klen; *q == ' ';)
                q++;
            snprintf(buf, size, "%.*s", (int)(nl != NULL ? (size_t)(nl - q) : strlen(q)), q);
            return true;
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    return false;
}

static void check_human(const char *out, const char *key, int nth, const char *want, int line)
{
    char got[200] = "(absent)";
    if (!human_value(out, key, nth, got, sizeof got) || strcmp(got, want) != 0) {
        fprintf(stderr, "%s:%d: %s is %s, want %s, in:\n%s", __FILE__, line, key, got, want, out);
        test_failures++;
    }
}
#define CHECK_HUMAN(out, key, nth, want) check_human((out), (key), (nth), (want), __LINE__)

/* ---- the README walkthrough ----------------------------------------------------------------- */

/* The nth (0: the first) ```sh block after "## Walkthrough" in README.md (malloc'd). */
static char *walkthrough_block(int nth)
{
    char *readme = test_read_file(LSTD_SOURCE_DIR "/README.md");
    char *section = strstr(readme, "\n## Walkthrough\n");
    char *start = section != NULL ? strstr(section, "\n```sh\n") : NULL;
    char *end = start != NULL ? strstr(start + 7, "\n```\n") : NULL;
    for (int i = 0; i < nth && end != NULL; i++) {
        start = strstr(end + 4, "\n```sh\n");
        end = start != NULL ? strstr(start + 7, "\n```\n") : NULL;
    }
    char *block = NULL;
    if (end != NULL) {
        block = strndup(start + 7, (size_t)(end - start - 7) + 1);
    } else {
        fprintf(stderr, "test_cli: README.md has no ```sh block under ## Walkthrough\n");
        test_failures++;
    }
    free(readme);
    return block;
}

/* fee shares for reward r: floor(r*f*s / ((a+u+r)*10000 - r*f)) with pooled = A + U
 * (ledger/README.md) */
static uint64_t fee_shares(uint64_t pooled, uint64_t s, uint64_t r, uint64_t f)
{
    return (uint64_t)((u128)r * f * s / ((u128)(pooled + r) * 10000 - (u128)r * f));
}

/* The human value of the nth line with key as a u64 (0 when absent). */
static uint64_t human_u64(const char *out, const char *key, int nth)
{
    char buf[64];
    return human_value(out, key, nth, buf, sizeof buf) ? strtoull(buf, NULL, 10) : 0;
}

/* A/S with 18 fractional digits, rounded down, as the pool query prints it. */
static void rate_text(char *out, size_t size, uint64_t a, uint64_t s)
{
    uint64_t frac = (uint64_t)((u128)(a % s) * 1000000000000000000ull / s);
    snprintf(out, size, "%" PRIu64 ".%018" PRIu64, a / s, frac);
}

/* Run the README's block exactly as written (sh -e), in a directory laid out as the
 * repository root after `tools/setup.sh start`: build/lst and
 * ./lstd-data. */
static void test_walkthrough(void)
{
    char path[700], rate[64], hex[65], text[64];
    char *block = walkthrough_block(0);
    if (block == NULL)
        return;
    snprintf(path, sizeof path, "%s/build", srv->dir);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/build/lst", srv->dir);
    CHECK(symlink(LST_BINARY, path) == 0);
    snprintf(path, sizeof path, "%s/lstd-data", srv->dir);
    CHECK(symlink(srv->data_dir, path) == 0);
    run_result r =
        run_argv((char *const[]){(char *)"/bin/sh", (char *)"-e", (char *)"-c", block, NULL});
    CHECK_STATUS(r, 0);
    /* the state it leaves, exactly: the accepted reward's fee part, ceil(fee*A/S), joins A at
     * once (the rate stays 1), the rest is U and vests over VEST_S from the accept's batch */
    uint64_t a = 100 * TOKEN + 1000000 - 20 * TOKEN, s = a; /* dead shares 1000000 */
    uint64_t gain = TOKEN / 10, fee = fee_shares(a, s, gain, 1000), u = gain - fee;
    a += fee; /* ceil(fee * A / S) = fee at rate 1 */
    s += fee;
    CHECK_U64(u, 90011238);
    CHECK_HUMAN(r.out, "rate", 0, "1.000000000000000000"); /* the first `lst pool` */
    uint64_t accepted = human_u64(r.out, "time", 1), now = human_u64(r.out, "now", 1);
    CHECK(accepted > 0 && now >= accepted && now < accepted + 60);
    uint64_t vested = (uint64_t)((u128)u * (now - accepted) / 86400);
    rate_text(rate, sizeof rate, a + vested, s);
    CHECK_HUMAN(r.out, "rate", 1, rate); /* after the report: what has vested by `now` */
    lst_amount_text(text, sizeof text, u - vested, 9);
    CHECK_HUMAN(r.out, "unvested", 1, text);
    snprintf(text, sizeof text, "%" PRIu64, accepted + 86400);
    CHECK_HUMAN(r.out, "vest_end", 1, text);
    CHECK_HUMAN(r.out, "shares_seized", 0, "4tok");
    CHECK_HUMAN(r.out, "gain", 1, "0.1tok");
    CHECK(strstr(r.out, "held\n") != NULL && strstr(r.err, "REPORT_APR_EXCEEDED") != NULL);
    run_free(&r);
    char *readme = test_read_file(LSTD_SOURCE_DIR "/README.md");
    char comment[96];
    lst_amount_text(text, sizeof text, u, 9);
    snprintf(comment, sizeof comment, "# unvested %s\n", text);
    CHECK(strstr(readme, comment) != NULL); /* the README shows what it gets at first */
    free(readme);
    r = LST("--json", "pool");
    CHECK_STATUS(r, 0);
    /* every integer is a decimal string: jq and JSON.parse keep all its digits (issue 10) */
    CHECK(strstr(r.out, "\"shares\":\"") != NULL && strstr(r.out, "\"seq\":\"") != NULL);
    for (const char *p = strchr(r.out, ':'); p != NULL; p = strchr(p + 1, ':'))
        CHECK(p[1] < '0' || p[1] > '9'); /* no bare number anywhere in the reply */
    now = JSON_U64(r.out, "result.now");
    vested = (uint64_t)((u128)u * (now - accepted) / 86400);
    CHECK_U64(JSON_U64(r.out, "result.assets"), a + vested);
    CHECK_U64(JSON_U64(r.out, "result.unvested"), u - vested);
    CHECK_U64(JSON_U64(r.out, "result.shares"), s);
    JSON_STR(r.out, "result.total_rewards", "100000000"); /* a 128-bit total: a string */
    JSON_STR(r.out, "result.total_paid", "20000000000");
    CHECK_U64(JSON_U64(r.out, "result.seq"), 11); /* the held report is recorded too */
    rate_text(rate, sizeof rate, a + vested, s);
    JSON_STR(r.out, "result.rate", rate);
    run_free(&r);
    r = LST("--json", "account", "alice.key");
    CHECK_STATUS(r, 0);
    CHECK_U64(JSON_U64(r.out, "result.shares"), 45 * TOKEN);
    CHECK_U64(JSON_U64(r.out, "result.locked"), 6 * TOKEN);
    CHECK_U64(JSON_U64(r.out, "result.nonce"), 3);
    JSON_STR(r.out, "result.withdrawals[0].status", "settled");
    JSON_STR(r.out, "result.liens[0].shares", "6000000000");
    run_free(&r);
    r = LST("--json", "account", "bob.key");
    CHECK_U64(JSON_U64(r.out, "result.shares"), 29 * TOKEN);
    run_free(&r);
    lst_hex_encode(hex, srv->operator_key.pk);
    r = LST("--json", "operator", "1");
    CHECK_U64(JSON_U64(r.out, "result.balance"), 50 * TOKEN + gain);
    CHECK_U64(JSON_U64(r.out, "result.last_epoch"), 2);
    JSON_STR(r.out, "result.key", hex);
    JSON_STR(r.out, "result.fees_earned", "4994381"); /* floor(fee * 500 / 1000) */
    run_free(&r);
    r = LST("operator", "1"); /* human units, the 128-bit total too */
    CHECK_HUMAN(r.out, "fees_earned", 0, "0.004994381tok");
    CHECK_HUMAN(r.out, "next_report_fees.treasury_bps", 0, "500");
    CHECK_HUMAN(r.out, "share_bps", 0, "6254"); /* 50.1 / (A + U) = 50.1 / 80.101 */
    run_free(&r);
    r = LST("--json", "withdrawal", "1");
    JSON_STR(r.out, "result.payout_ref", "eth-payout-0001"); /* shown as it came in */
    run_free(&r);
    free(block);
}

/* The README's second block, right after the first: a committee of three books operator 1's
 * next reward (held by the APR limit seconds after the last report, then accepted). */
static void test_walkthrough_committee(void)
{
    char *block = walkthrough_block(1);
    char hex[65];
    if (block == NULL)
        return;
    run_result r =
        run_argv((char *const[]){(char *)"/bin/sh", (char *)"-e", (char *)"-c", block, NULL});
    CHECK_STATUS(r, 0);
    CHECK(strstr(r.out, "refused\n") != NULL && strstr(r.err, "OPERATOR_REPORTS_DISABLED") != NULL);
    CHECK(strstr(r.out, "held\n") != NULL && strstr(r.err, "REPORT_APR_EXCEEDED") != NULL);
    CHECK_HUMAN(r.out, "support", 0, "1"); /* m1's vote: 1 of 2 */
    CHECK(strstr(r.out, "support              1\n  quorum               2\n") != NULL);
    CHECK(strstr(r.out, "report mode committee, quorum 2 of 3 members") != NULL);
    CHECK(strstr(r.out, "balance 50.2tok performance 9990: 1 (") != NULL);
    CHECK(strstr(r.out, "balance 50.3tok performance 9990: 1 (") != NULL);
    const char *accepted = strstr(r.out, "report_accept OK");
    CHECK(accepted != NULL && strstr(accepted, "\n  gain                 0.1tok\n") != NULL);
    CHECK(strstr(r.out, "  id act      fee    share   apr 7d") != NULL); /* the scorecard */
    run_free(&r);
    free(block);
    /* the state it leaves: the committee, m3's disagreement kept, the report booked */
    r = LST("--json", "pool");
    JSON_STR(r.out, "result.report_mode", "committee");
    CHECK_U64(JSON_U64(r.out, "result.oracle.members"), 3);
    CHECK_U64(JSON_U64(r.out, "result.oracle.quorum"), 2);
    run_free(&r);
    r = LST("--json", "votes");
    CHECK_STATUS(r, 0);
    CHECK(json_find(r.out, "result.operators[0]") == NULL); /* settled */
    CHECK(json_find(r.out, "result.differed[0]") != NULL &&
          json_find(r.out, "result.differed[1]") == NULL);
    run_free(&r);
    r = LST("--json", "address", "m3.key");
    snprintf(hex, sizeof hex, "%.64s", strstr(r.out, "\"address\":\"") + 11);
    run_free(&r);
    r = LST("--json", "votes");
    JSON_STR(r.out, "result.differed[0]", hex);
    run_free(&r);
    r = LST("--json", "operators", "--order", "fee");
    CHECK_STATUS(r, 0);
    JSON_STR(r.out, "result.order", "fee");
    CHECK_U64(JSON_U64(r.out, "result.operators[0].operator_id"), 1);
    CHECK_U64(JSON_U64(r.out, "result.operators[0].reports"), 3);
    CHECK_U64(JSON_U64(r.out, "result.operators[0].balance"), 50200000000);
    CHECK_U64(JSON_U64(r.out, "result.operators[0].fee_total_bps"), 1000);
    JSON_STR(r.out, "result.operators[0].slashed", "0");
    for (const char *p = strchr(r.out, ':'); p != NULL; p = strchr(p + 1, ':'))
        CHECK(p[1] < '0' || p[1] > '9'); /* exact integers: decimal strings */
    run_free(&r);
    r = LST("operators", "--order", "luck");
    CHECK_STATUS(r, 4);
    CHECK(strstr(r.err, "OUT_OF_RANGE") != NULL);
    run_free(&r);
}

/* ---- keys ------------------------------------------------------------------------------------ */

/* rate-history after the walkthrough: its baseline report and the accepted one, as JSON of
 * decimal strings, as lines, paged; --png draws them with gnuplot (skipped, saying why, only
 * when gnuplot is not installed: tools/setup.sh installs it, so CI runs it). */
static void test_rate_history(void)
{
    run_result r = LST("--json", "rate-history");
    CHECK_STATUS(r, 0);
    JSON_STR(r.out, "result.entries[0].kind", "report");
    JSON_STR(r.out, "result.entries[1].kind", "report_accept");
    JSON_STR(r.out, "result.entries[1].gain", "100000000");
    JSON_STR(r.out, "result.entries[0].rate", "1.000000000000000000");
    JSON_STR(r.out, "result.entries[2].kind", "report_accept"); /* the committee's */
    CHECK(json_find(r.out, "result.entries[3]") == NULL);
    CHECK(strstr(r.out, "\"next\":null") != NULL);
    for (const char *p = strchr(r.out, ':'); p != NULL; p = strchr(p + 1, ':'))
        CHECK(p[1] < '0' || p[1] > '9'); /* every integer a decimal string */
    uint64_t first = JSON_U64(r.out, "result.entries[0].seq");
    run_free(&r);
    r = LST("rate-history", "--limit", "1");
    CHECK_STATUS(r, 0);
    CHECK(strstr(r.out, " report ") != NULL && strstr(r.out, "rate 1.000000000000000000") != NULL);
    char more[64];
    snprintf(more, sizeof more, "(more: --from %" PRIu64 ")", first + 1); /* the last seq + 1 */
    CHECK(strstr(r.out, more) != NULL);
    run_free(&r);
    char from[24];
    snprintf(from, sizeof from, "%" PRIu64, first + 1);
    r = LST("rate-history", "--from", from);
    CHECK_STATUS(r, 0);
    CHECK(strstr(r.out, "report_accept") != NULL && strstr(r.out, "gain 0.1tok ") != NULL);
    run_free(&r);
    r = LST("rate-history", "--limit", "1001");
    CHECK_STATUS(r, 2);
    run_free(&r);

    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("test_cli: SKIPPED the rate-history --png check: gnuplot is not installed (the "
               "Debian package gnuplot-nox; tools/setup.sh installs it)\n");
        return;
    }
    char png[700];
    snprintf(png, sizeof png, "%s/rates.png", srv->dir);
    r = LST("rate-history", "--png", png);
    CHECK_STATUS(r, 0);
    CHECK(strstr(r.out, ": 3 points") != NULL);
    run_free(&r);
    FILE *f = fopen(png, "rb");
    unsigned char sig[8] = {0};
    CHECK(f != NULL && fread(sig, 1, 8, f) == 8);
    CHECK(memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK(f != NULL && fseek(f, 0, SEEK_END) == 0 && ftell(f) > 1000);
    if (f != NULL)
        fclose(f);
}

static void test_keygen(void)
{
    char path[700];
    struct stat st;
    run_result r = LST("keygen", "carol.key");
    CHECK_STATUS(r, 0);
    CHECK(strlen(r.out) == 65 && r.out[64] == '\n');
    snprintf(path, sizeof path, "%s/carol.key", srv->dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    run_result again = LST("keygen", "carol.key"); /* never overwrites */
    CHECK_STATUS(again, 1);
    CHECK(strstr(again.err, "exists") != NULL && strstr(again.err, "overwrite") != NULL);
    run_result addr = LST("address", "carol.key");
    CHECK_STATUS(addr, 0);
    CHECK(strcmp(addr.out, r.out) == 0);
    run_result json = LST("--json", "address", "carol.key");
    char want[80];
    snprintf(want, sizeof want, "{\"address\":\"%.64s\"}\n", r.out);
    CHECK(strcmp(json.out, want) == 0);
    run_result bad = LST("address", "no-such.key");
    CHECK_STATUS(bad, 1);
    CHECK(strstr(bad.err, "no-such.key") != NULL);
    run_free(&r);
    run_free(&again);
    run_free(&addr);
    run_free(&json);
    run_free(&bad);
}

/* ---- units, JSON, rejections ----------------------------------------------------------------- */

static void test_units(void)
{
    /* human units in: 1.5 is 1500000000 base units (decimals 9), in the JSON result */
    run_result r =
        LST("--json", "--key", "alice.key", "transfer", "--to", "carol.key", "--shares", "1.5");
    CHECK_STATUS(r, 0);
    JSON_STR(r.out, "kind", "transfer");
    CHECK(strncmp(r.out, "{\"ok\":true,", 11) == 0);
    CHECK_U64(JSON_U64(r.out, "result.out.shares_moved"), 1500000000);
    uint64_t seq = JSON_U64(r.out, "result.seq");
    char hash[80];
    CHECK(json_text(r.out, "result.hash", hash, sizeof hash) && strlen(hash) == 64);
    run_free(&r);
    /* the transaction by its hash */
    r = LST("--json", "tx", hash);
    CHECK_STATUS(r, 0);
    CHECK_U64(JSON_U64(r.out, "result.seq"), seq);
    CHECK_U64(JSON_U64(r.out, "result.fields.shares"), 1500000000);
    run_free(&r);
    /* base units in (digits, or the explicit u), tokens with the unit out */
    r = LST("--key", "carol.key", "transfer", "--to", "alice.key", "--shares", "1000000000u");
    CHECK_STATUS(r, 0);
    CHECK_HUMAN(r.out, "shares_moved", 0, "1tok");
    run_free(&r);
    r = LST("--key", "carol.key", "transfer", "--to", "alice.key", "--shares", "500000000");
    CHECK_STATUS(r, 0);
    CHECK_HUMAN(r.out, "shares_moved", 0, "0.5tok");
    run_free(&r);
    /* --base: base units out (in, digits are base units anyway) */
    r = LST("--base", "--key", "alice.key", "transfer", "--to", "carol.key", "--shares", "15");
    CHECK_STATUS(r, 0);
    CHECK_HUMAN(r.out, "shares_moved", 0, "15");
    run_free(&r);
    r = LST("--base", "account", "carol.key");
    CHECK_HUMAN(r.out, "shares", 0, "15");
    run_free(&r);
    r = LST("account", "carol.key");
    CHECK_HUMAN(r.out, "shares", 0, "0.000000015tok");
    run_free(&r);
    /* quote in human units: the server's answer in base units in JSON */
    r = LST("--json", "quote", "--shares", "2tok");
    CHECK_STATUS(r, 0);
    uint64_t num = JSON_U64(r.out, "result.rate_num"), den = JSON_U64(r.out, "result.rate_den");
    CHECK(num >= den); /* the rate rises from 1 as the reward vests */
    CHECK_U64(JSON_U64(r.out, "result.amount"), (uint64_t)((u128)2 * TOKEN * num / den));
    run_free(&r);
    /* a page of events, and the stream from the start */
    r = LST("--json", "events", "--after", "2", "--limit", "3");
    CHECK_U64(JSON_U64(r.out, "result.records[2].seq"), 5);
    CHECK_U64(JSON_U64(r.out, "result.next"), 5);
    run_free(&r);
    r = LST("--json", "watch", "--after", "0", "--count", "4");
    CHECK_STATUS(r, 0);
    const char *line = r.out;
    for (uint64_t i = 1; i <= 4 && line != NULL; i++) {
        CHECK_U64(JSON_U64(line, "seq"), i);
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    CHECK(line != NULL && *line == '\0');
    run_free(&r);
    r = LST("history", "carol.key");
    CHECK_STATUS(r, 0);
    CHECK(strstr(r.out, " transfer OK ") != NULL && strstr(r.out, "shares=1.5tok") != NULL);
    run_free(&r);
}

/* Whatever --json prints reads back as input verbatim: base units, addresses, refs (as text
 * or 0x-hex, the way they came in); a stake-limit parameter is an amount, others are not. */
static void test_round_trip(void)
{
    char hash[80], shares[32], to[80], ref[80], hex_ref[80];
    run_result r = LST("--json", "events", "--after", "0", "--limit", "1");
    CHECK_STATUS(r, 0);
    JSON_STR(r.out, "result.records[0].fields.external_ref", "bank-transfer-0001");
    CHECK(json_text(r.out, "result.records[0].fields.external_ref", ref, sizeof ref));
    run_free(&r);
    r = LST("--key", "lstd-data/keys/custodian.key", "deposit", "--to", "carol.key", "--amount",
            "1tok", "--external_ref", ref); /* the same 32 bytes: already credited */
    CHECK_STATUS(r, 4);
    CHECK(strstr(r.err, "DEPOSIT_REF_USED") != NULL);
    run_free(&r);
    snprintf(hex_ref, sizeof hex_ref, "0x%s",
             "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff");
    r = LST("--json", "--key", "lstd-data/keys/custodian.key", "deposit", "--to", "bob.key",
            "--amount", "1000000000", "--external_ref", hex_ref);
    CHECK_STATUS(r, 0);
    CHECK(json_text(r.out, "result.hash", hash, sizeof hash));
    run_free(&r);
    r = LST("--json", "tx", hash);
    JSON_STR(r.out, "result.fields.external_ref", hex_ref); /* raw bytes show as 0x-hex */
    JSON_STR(r.out, "result.fields.amount", "1000000000");
    CHECK(json_text(r.out, "result.fields.amount", shares, sizeof shares));
    CHECK(json_text(r.out, "result.fields.to", to, sizeof to));
    run_free(&r);
    r = LST("tx", hash);
    CHECK_HUMAN(r.out, "fields.external_ref", 0, hex_ref);
    CHECK_HUMAN(r.out, "fields.amount", 0, "1tok");
    run_free(&r);
    r = LST("--key", "lstd-data/keys/custodian.key", "deposit", "--to", to, "--amount", shares,
            "--external_ref", hex_ref);
    CHECK_STATUS(r, 4);
    CHECK(strstr(r.err, "DEPOSIT_REF_USED") != NULL);
    run_free(&r);
    /* bob's shares as JSON prints them, from the deposit's recipient as JSON printed it */
    r = LST("--json", "account", "bob.key");
    CHECK(json_text(r.out, "result.shares", shares, sizeof shares));
    run_free(&r);
    r = LST("--json", "--key", "bob.key", "transfer", "--to", "carol.key", "--shares", shares);
    CHECK_STATUS(r, 0);
    JSON_STR(r.out, "result.out.shares_moved", shares);
    run_free(&r);
    /* the stake limit is an amount (tokens or base units); MAX_APR_BPS is a plain number */
    r = LST("--key", "lstd-data/keys/admin.key", "param_set", "--param", "STAKE_LIMIT_MAX",
            "--value", "1000tok");
    CHECK_STATUS(r, 0);
    CHECK_HUMAN(r.out, "value", 0, "1000tok");
    run_free(&r);
    r = LST("pool");
    CHECK_HUMAN(r.out, "params.STAKE_LIMIT_MAX", 0, "1000tok");
    CHECK_HUMAN(r.out, "params.MAX_APR_BPS", 0, "1000"); /* basis points: no unit */
    run_free(&r);
    r = LST("--json", "pool");
    JSON_STR(r.out, "result.params.STAKE_LIMIT_MAX", "1000000000000");
    run_free(&r);
    r = LST("--key", "lstd-data/keys/admin.key", "param_set", "--param", "STAKE_LIMIT_MAX",
            "--value", "0");
    CHECK_STATUS(r, 0);
    run_free(&r);
    r = LST("pool");
    CHECK_HUMAN(r.out, "stake_limit", 0, "none");
    run_free(&r);
}

static void test_exit_codes(void)
{
    /* usage errors: 2, with a specific message */
    struct {
        run_result r;
        const char *says;
    } usage[] = {
        {LST("bogus"), "unknown command 'bogus'"},
        {LST("--key", "alice.key", "transfer", "--to", "carol.key"), "missing --shares"},
        {LST("--key", "alice.key", "transfer", "--to", "carol.key", "--shares", "1.0000000001"),
         "--shares: '1.0000000001': more than 9 decimals (the pool's decimals)"},
        {LST("--key", "alice.key", "transfer", "--to", "carol.key", "--shares", "20000000000tok"),
         "exceeds u64 base units (18446744073709551615)"},
        {LST("--key", "alice.key", "transfer", "--to", "carol.key", "--shares",
             "18446744073709551616"),
         "exceeds u64 base units (18446744073709551615)"},
        {LST("--key", "alice.key", "transfer", "--to", "carol.key", "--shares", "1,5"),
         "not an amount: base units are digits"},
        {LST("--key", "alice.key", "transfer", "--to", "carol.key", "--shares", "1.5u"),
         "the suffix u) are whole"},
        {LST("quote", "--amount", "99999999999tok"), "exceeds u64 base units"},
        {LST("--key", "lstd-data/keys/admin.key", "param_set", "--param", "MAX_APR_BPS", "--value",
             "1.5"),
         "--value: '1.5': not an amount: a whole number"},
        {LST("--key", "lstd-data/keys/admin.key", "fee_set", "--operator_id", "0", "--fee_bps",
             "5tok"),
         "--fee_bps: '5tok': not an amount"},
        {LST("--key", "lstd-data/keys/custodian.key", "deposit", "--to", "carol.key", "--amount",
             "1", "--external_ref",
             "abababababababababababababababababababababababababababababababab"),
         "write 0x and the 64 hex digits for 32 raw bytes"},
        {LST("--key", "lstd-data/keys/custodian.key", "deposit", "--to", "carol.key", "--amount",
             "1", "--external_ref", "a-reference-of-thirty-three-bytes"),
         "33 bytes of text: a text ref holds at most 32 bytes"},
        {LST("--key", "alice.key", "transfer", "--to", "nobody", "--shares", "1"),
         "neither an address"},
        {LST("--key", "alice.key", "transfer", "--to", "carol.key", "--shares", "1", "--fee", "2"),
         "unknown option --fee"},
        {LST("transfer", "--to", "carol.key", "--shares", "1"), "--key FILE"},
        {LST("lien", "one"), "needs the id"},
        {LST("--timeout", "soon", "pool"), "--timeout"},
        {LST("quote", "--amount", "1", "--shares", "1"), "exactly one"},
        /* "did you mean": commands, kinds, options and global flags */
        {LST("tranfer"), "lst: unknown command 'tranfer'; did you mean transfer? (lst help"},
        {LST("acount", "alice.key"), "did you mean account?"},
        {LST("withdraw_requets", "--shares", "1"), "did you mean withdraw_request?"},
        {LST("--key", "alice.key", "transfer", "--to", "carol.key", "--shars", "1"),
         "lst: transfer: unknown option --shars; did you mean --shares? (lst transfer --help)"},
        {LST("--key", "alice.key", "transfer", "--to", "carol.key", "--shares", "1", "--jsno"),
         "unknown option --jsno; did you mean --json?"},
        {LST("--jsn", "pool"), "lst: unknown flag '--jsn'; did you mean --json?"},
        {LST("help", "depost"), "no command 'depost'; did you mean deposit?"},
        {LST("frobnicate"), "lst: unknown command 'frobnicate' (lst help lists them)"},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        CHECK_STATUS(usage[i].r, 2);
        if (strstr(usage[i].r.err, usage[i].says) == NULL) {
            fprintf(stderr, "test_cli: usage case %zu: stderr lacks \"%s\": %s", i, usage[i].says,
                    usage[i].r.err);
            test_failures++;
        }
        run_free(&usage[i].r);
    }
    run_result r = LST(NULL);
    CHECK_STATUS(r, 2);
    CHECK(strstr(r.err, "usage: lst") != NULL);
    run_free(&r);
    r = LST("help");
    CHECK_STATUS(r, 0);
    for (unsigned k = 1; k <= LST_KIND_MAX; k++) {
        char want[64];
        snprintf(want, sizeof want, "\n  %s --", lst_kind_name(k));
        CHECK(strstr(r.out, want) != NULL);
    }
    run_free(&r);
    r = LST("deposit", "--help");
    CHECK_STATUS(r, 0);
    CHECK(strstr(r.out, "--external_ref REF") != NULL);
    run_free(&r);
}

static void stop_server(void)
{
    if (rh_pause(srv) != 0)
        test_failures++;
}

static void test_exit_connect(void)
{
    /* nothing listening: 3 at the refused connection, not after the hour-long timeout (the
     * run is killed after RUN_TIMEOUT_MS), and the message says why */
    run_result r = LST("--endpoint", "tcp://127.0.0.1:1", "--timeout", "3600000", "pool");
    CHECK_STATUS(r, 3);
    CHECK(strstr(r.err, "cannot connect to tcp://127.0.0.1:1: nothing listening there") != NULL);
    run_free(&r);
    /* connected but no answer (the server is stopped): 3 after the resends */
    stop_server();
    r = LST("--timeout", "150", "health");
    rh_signal(srv, SIGCONT);
    CHECK_STATUS(r, 3);
    CHECK(strstr(r.err, "no reply") != NULL);
    run_free(&r);
}

/* --endpoint as a list (issue 13): a first entry that is not listening, or a follower that
 * answers NOT_LEADER naming the real server, and the command still succeeds there. */
static void test_endpoint_list(void)
{
    char list[600], nonce[24];
    snprintf(list, sizeof list, "tcp://127.0.0.1:1,%s", srv->requests);
    run_result r = LST("--endpoint", list, "--key", "alice.key", "transfer", "--to", "carol.key",
                       "--shares", "1");
    CHECK_STATUS(r, 0);
    CHECK(strstr(r.out, "transfer OK") != NULL);
    run_free(&r);
    /* a follower first, naming the leader; it answers queries for the same ledger (the nonce
     * is given: a fake's account figures are not the ledger's) */
    fake_config cfg = {.role = FAKE_FOLLOWER, .leader = srv->requests, .ledger_id = srv->ledger_id};
    fake_router *f = fake_start(&cfg);
    void *d = rh_dealer(srv);
    lst_key a;
    char path[600];
    snprintf(path, sizeof path, "%s/alice.key", srv->dir);
    CHECK(lst_key_load(path, &a) == LST_OK);
    snprintf(nonce, sizeof nonce, "%" PRIu64, rh_next_nonce(d, a.pubkey));
    lst_key_wipe(&a);
    rh_close(d);
    snprintf(list, sizeof list, "%s,%s", fake_endpoint(f), srv->requests);
    r = LST("--endpoint", list, "--key", "alice.key", "transfer", "--to", "carol.key", "--shares",
            "1", "--nonce", nonce);
    CHECK_STATUS(r, 0);
    CHECK(strstr(r.out, "transfer OK") != NULL);
    CHECK_U64(fake_tx_count(f), 1);
    run_free(&r);
    /* the follower alone: NOT_LEADER, exit 4, the hint named */
    snprintf(list, sizeof list, "%s", fake_endpoint(f));
    r = LST("--endpoint", list, "--key", "alice.key", "transfer", "--to", "carol.key", "--shares",
            "1", "--nonce", nonce);
    CHECK_STATUS(r, 4);
    CHECK(strstr(r.err, "NOT_LEADER") != NULL && strstr(r.err, "leader hint") != NULL &&
          strstr(r.err, srv->requests) != NULL);
    run_free(&r);
    r = LST("--endpoint", "tcp://127.0.0.1:1,", "pool");
    CHECK_STATUS(r, 2);
    run_free(&r);
    fake_stop(&f);
}

static void test_exit_rejected(void)
{
    /* rejected by the ledger: 4, the error name on stderr; JSON still on stdout */
    run_result r =
        LST("--key", "carol.key", "transfer", "--to", "alice.key", "--shares", "1000tok");
    CHECK_STATUS(r, 4);
    CHECK(strstr(r.err, "INSUFFICIENT_SHARES") != NULL && strstr(r.err, "recorded as seq") != NULL);
    run_free(&r);
    r = LST("--json", "--key", "carol.key", "transfer", "--to", "alice.key", "--shares", "1000tok");
    CHECK_STATUS(r, 4);
    JSON_STR(r.out, "error", "INSUFFICIENT_SHARES");
    JSON_STR(r.out, "result.code", "INSUFFICIENT_SHARES");
    run_free(&r);
    r = LST("--key", "lstd-data/keys/admin.key", "transfer", "--to", "alice.key", "--shares", "1",
            "--nonce", "99");
    CHECK_STATUS(r, 4);
    CHECK(strstr(r.err, "NONCE_GAP") != NULL && strstr(r.err, "not recorded") != NULL);
    run_free(&r);
    r = LST("lien", "999");
    CHECK_STATUS(r, 4);
    CHECK(strstr(r.err, "NOT_FOUND") != NULL);
    run_free(&r);
    /* --dry-run: the result the transaction would get, nothing recorded, no nonce used */
    r = LST("--json", "account", "alice.key");
    uint64_t nonce0 = JSON_U64(r.out, "result.next_nonce"),
             shares0 = JSON_U64(r.out, "result.shares");
    run_free(&r);
    r = LST("--json", "pool");
    uint64_t seq0 = JSON_U64(r.out, "result.seq");
    run_free(&r);
    r = LST("--dry-run", "--key", "alice.key", "transfer", "--to", "carol.key", "--shares", "7");
    CHECK_STATUS(r, 0);
    CHECK(strstr(r.out, "transfer OK (simulated: nothing recorded") != NULL);
    CHECK_HUMAN(r.out, "shares_moved", 0, "0.000000007tok");
    run_free(&r);
    r = LST("--dry-run", "--json", "--key", "alice.key", "transfer", "--to", "carol.key",
            "--shares", "7");
    CHECK_STATUS(r, 0);
    CHECK_U64(JSON_U64(r.out, "result.seq"), seq0 + 1);
    CHECK_U64(JSON_U64(r.out, "nonce"), nonce0);
    CHECK(strstr(r.out, "\"recorded\":false") != NULL &&
          strstr(r.out, "\"simulated\":true") != NULL);
    run_free(&r);
    r = LST("--dry-run", "--key", "carol.key", "transfer", "--to", "alice.key", "--shares",
            "1000tok");
    CHECK_STATUS(r, 4);
    CHECK(strstr(r.err, "INSUFFICIENT_SHARES") != NULL &&
          strstr(r.err, "simulated: would be recorded as seq") != NULL);
    run_free(&r);
    r = LST("--json", "account", "alice.key");
    CHECK_U64(JSON_U64(r.out, "result.next_nonce"), nonce0);
    CHECK_U64(JSON_U64(r.out, "result.shares"), shares0);
    run_free(&r);
    r = LST("--json", "pool");
    CHECK_U64(JSON_U64(r.out, "result.seq"), seq0);
    run_free(&r);
    /* every other kind is reachable; names for params, roles and pause flags */
    r = LST("--key", "lstd-data/keys/admin.key", "param_set", "--param", "MAX_APR_BPS", "--value",
            "1500");
    CHECK_STATUS(r, 0);
    CHECK_HUMAN(r.out, "value", 0, "1500"); /* a plain number, not an amount */
    run_free(&r);
    r = LST("--key", "lstd-data/keys/admin.key", "param_set", "--param", "vest_s", "--value",
            "3600"); /* parameter 8, by its name in any case */
    CHECK_STATUS(r, 0);
    CHECK_HUMAN(r.out, "value", 0, "3600");
    run_free(&r);
    r = LST("--json", "pool");
    CHECK_U64(JSON_U64(r.out, "result.params.VEST_S"), 3600);
    run_free(&r);
    r = LST("--json", "--key", "lstd-data/keys/admin.key", "pause_set", "--flags",
            "deposits,withdrawals");
    CHECK_U64(JSON_U64(r.out, "result.out.flags"), 5);
    run_free(&r);
    r = LST("--key", "lstd-data/keys/custodian.key", "deposit", "--to", "carol.key", "--amount",
            "1", "--external_ref", "paused-1");
    CHECK_STATUS(r, 4);
    CHECK(strstr(r.err, "DEPOSITS_PAUSED") != NULL);
    run_free(&r);
    r = LST("--key", "lstd-data/keys/admin.key", "pause_set", "--flags", "none");
    CHECK_STATUS(r, 0);
    run_free(&r);
    /* operator_reset: refused for an epoch that has not started, else booked like a report */
    char epoch[32], later[32];
    r = LST("--json", "pool");
    uint64_t e = JSON_U64(r.out, "result.epoch");
    run_free(&r);
    snprintf(epoch, sizeof epoch, "%" PRIu64, e);
    snprintf(later, sizeof later, "%" PRIu64, e + 1000);
    r = LST("--key", "lstd-data/keys/admin.key", "operator_reset", "--operator_id", "1", "--epoch",
            later, "--balance", "50.1");
    CHECK_STATUS(r, 4);
    CHECK(strstr(r.err, "EPOCH_IN_FUTURE") != NULL);
    run_free(&r);
    r = LST("--key", "lstd-data/keys/admin.key", "operator_reset", "--operator_id", "1", "--epoch",
            epoch, "--balance", "50.3");
    CHECK_STATUS(r, 0);
    CHECK_HUMAN(r.out, "gain", 0, "0.1tok");
    CHECK_HUMAN(r.out, "loss", 0, "0");
    run_free(&r);
    r = LST("--json", "operator", "1");
    CHECK_U64(JSON_U64(r.out, "result.last_epoch"), e);
    CHECK_U64(JSON_U64(r.out, "result.balance"), 50300000000);
    run_free(&r);
    r = LST("operator_reset", "--help");
    CHECK_STATUS(r, 0);
    CHECK(strstr(r.out, "--operator_id N --epoch N --balance AMOUNT") != NULL);
    run_free(&r);
}

/* ---- CURVE ----------------------------------------------------------------------------------- */

/* lst curve-keygen writes the files lstd and lst read; a CURVE lstd answers lst with the
 * client's key, refuses lst without CURVE or with a key not in its list (exit 3, saying which),
 * and the client library's DEALER and SUB both work over CURVE. */
static void test_curve(void)
{
    rh_server *plain = srv;
    srv = rh_prepare(NULL);
    char path[700], list[700], cmd[1600];
    struct stat st;
    run_result r = LST("curve-keygen", "server");
    CHECK_STATUS(r, 0);
    CHECK(strlen(r.out) == LST_CURVE_Z85_LEN + 1);
    run_result c = LST("--json", "curve-keygen", "client");
    CHECK_STATUS(c, 0);
    CHECK(strstr(c.out, "\"public_key\":\"") != NULL);
    run_result o = LST("curve-keygen", "other");
    CHECK_STATUS(o, 0);
    run_result again = LST("curve-keygen", "client"); /* never overwrites */
    CHECK_STATUS(again, 1);
    CHECK(strstr(again.err, "exists") != NULL);
    snprintf(path, sizeof path, "%s/client.secret", srv->dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(path, sizeof path, "%s/client.public", srv->dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    /* the allow-list: the client's public file as it is (its comment line included) */
    snprintf(list, sizeof list, "%s/curve_clients", srv->dir);
    snprintf(cmd, sizeof cmd, "cat '%s' > '%s'", path, list);
    CHECK(system(cmd) == 0);
    const char *flags[] = {"--curve-secret-key", "server.secret", "--curve-clients", list};
    for (int i = 0; i < 4; i++) {
        char full[800];
        snprintf(full, sizeof full, "%s/%s", srv->dir, flags[i]);
        srv->extra[srv->extra_count++] = strdup(i == 1 ? full : flags[i]);
    }
    lst_curve keys;
    char err[700], server_pub[800], client_sec[800];
    snprintf(server_pub, sizeof server_pub, "%s/server.public", srv->dir);
    snprintf(client_sec, sizeof client_sec, "%s/client.secret", srv->dir);
    CHECK(lst_curve_load(&keys, server_pub, client_sec, err, sizeof err) == LST_OK);
    srv->curve = true;
    memcpy(srv->curve_server, keys.server_key, 32);
    memcpy(srv->curve_public, keys.public_key, 32);
    memcpy(srv->curve_secret, keys.secret_key, 32);
    CHECK(rh_launch(srv) == 0);
    setenv("LST_ENDPOINT", srv->requests, 1);
    setenv("LST_EVENTS", srv->events, 1);
    run_result ok = LST("--curve-server-key", "server.public", "--curve-key", "client.secret",
                        "--json", "health");
    CHECK_STATUS(ok, 0);
    CHECK(strstr(ok.out, "\"status\":\"ok\"") != NULL);
    run_result none = LST("--timeout", "500", "health");
    CHECK_STATUS(none, 3);
    if (strstr(none.err, "serves CURVE only") == NULL) {
        fprintf(stderr, "lst without CURVE said: %s\n", none.err);
        test_failures++;
    }
    run_result other = LST("--timeout", "500", "--curve-server-key", "server.public", "--curve-key",
                           "other.secret", "health");
    CHECK_STATUS(other, 3);
    CHECK(strstr(other.err, "refused this client's CURVE key") != NULL);
    run_result half = LST("--curve-server-key", "server.public", "health");
    CHECK_STATUS(half, 2);
    snprintf(path, sizeof path, "%s/other.secret", srv->dir);
    CHECK(chmod(path, 0644) == 0);
    run_result mode =
        LST("--curve-server-key", "server.public", "--curve-key", "other.secret", "health");
    CHECK_STATUS(mode, 1);
    CHECK(strstr(mode.err, "chmod 600") != NULL);
    /* the library: a transaction over the DEALER, its event over the SUB */
    lst_client *cl = NULL;
    CHECK(lst_client_new_curve(&cl, srv->requests, srv->events, 5000, &keys) == LST_OK);
    lst_curve_wipe(&keys);
    CHECK(lst_events_open(cl, 0, NULL) == LST_OK);
    lst_key custodian;
    char key_path[700];
    snprintf(key_path, sizeof key_path, "%s/keys/custodian.key", srv->data_dir);
    CHECK(lst_key_load(key_path, &custodian) == LST_OK);
    lst_tx tx;
    lst_result res;
    uint8_t ref[32] = "curve cli";
    lst_tx_deposit(&tx, custodian.pubkey, 3 * TOKEN, ref, 0);
    int src = lst_submit(cl, &custodian, &tx, &res);
    if (src != LST_OK) {
        fprintf(stderr, "lst_submit over CURVE: %s: %s\n", lst_code_name(src),
                lst_client_error(cl));
        test_failures++;
    }
    lst_reply *rec = NULL;
    bool seen = false;
    for (int i = 0; i < 5 && !seen; i++) {
        CHECK(lst_events_next(cl, 3000, &rec) == LST_OK);
        seen = rec != NULL && lst_reply_u64(rec, "seq") == res.seq;
        lst_reply_destroy(&rec);
    }
    CHECK(seen);
    lst_key_wipe(&custodian);
    lst_client_destroy(&cl);
    run_result *all[] = {&r, &c, &o, &again, &ok, &none, &other, &half, &mode};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        run_free(all[i]);
    CHECK(rh_stop(srv, SIGTERM, 10000) == 0);
    rh_free(&srv);
    srv = plain;
}

int main(void)
{
    rh_init("test_cli", 120);
    srv = rh_start(NULL); /* as the README starts it */
    CHECK(srv != NULL);
    if (srv == NULL)
        return test_finish("test_cli");
    setenv("LST_ENDPOINT", srv->requests, 1);
    setenv("LST_EVENTS", srv->events, 1);
    uint64_t t0 = rh_now_ms();
    test_json_reader();
    test_walkthrough();
    test_walkthrough_committee();
    printf("test_cli: README walkthrough in %" PRIu64 " ms\n", rh_now_ms() - t0);
    test_rate_history();
    test_keygen();
    test_units();
    test_round_trip();
    test_exit_codes();
    test_exit_connect();
    test_endpoint_list();
    test_exit_rejected();
    test_curve();
    CHECK(rh_stop(srv, SIGTERM, 10000) == 0);
    rh_free(&srv);
    return test_finish("test_cli");
}
