/* test_bench.c - the benchmarks still run: lstd-bench-ledger per scenario, lstd-bench-rpc live */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "rpc_harness.h"
#include "test_util.h"

#if !defined(LSTD_BENCH_LEDGER) || !defined(LSTD_BENCH_RPC)
#error "LSTD_BENCH_LEDGER and LSTD_BENCH_RPC (tool paths) must be defined by the build"
#endif

#define TOOL_TIMEOUT_S 60
#define PATH_SIZE 1024
#define ARGS_MAX 40

static char *work; /* scratch directory: ledgers and the tools' outputs */

/* A finished tool run: exit code (128 + signal when killed), stdout, stderr. */
typedef struct run_out {
    int code;
    char *out, *err;
} run_out;

/* Run argv (NULL-terminated); a hang past TOOL_TIMEOUT_S is a failure, not a stuck test.
 * Out: *r (free with run_free). */
static void run_tool(const char *const *argv, run_out *r)
{
    r->code = test_run(argv, TOOL_TIMEOUT_S * 1000u, &r->out, &r->err);
}

static void run_free(run_out *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* The JSON line has "key": followed by a number. Out: *v. Returns: found. */
static bool json_number(const char *json, const char *key, double *v)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(json, pat);
    if (at == NULL)
        return false;
    char *end;
    *v = strtod(at + strlen(pat), &end);
    return end != at + strlen(pat);
}

/* Every key is present with a number, and the output is one JSON object on one line. */
static void check_json(const char *json, const char *const *keys)
{
    size_t n = strlen(json);
    CHECK(n > 2 && json[0] == '{' && json[n - 2] == '}' && json[n - 1] == '\n');
    CHECK(strchr(json, '\n') == json + n - 1);
    for (const char *const *k = keys; *k != NULL; k++) {
        double v;
        if (!json_number(json, *k, &v)) {
            fprintf(stderr, "JSON without number %s: %s", *k, json);
            test_failures++;
        }
    }
}

static double json_at(const char *json, const char *key)
{
    double v = -1;
    CHECK(json_number(json, key, &v));
    return v;
}

/* A kind's entry in "kinds": every intended transaction succeeded. */
static void check_kind_ok(const char *json, const char *kind, double want_min)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":{", kind);
    const char *at = strstr(json, pat);
    if (at == NULL) {
        fprintf(stderr, "no kind %s in %s", kind, json);
        test_failures++;
        return;
    }
    double intended = json_at(at, "intended"), ok = json_at(at, "ok");
    CHECK(intended >= want_min);
    CHECK(ok == intended);
}

/* ---- lstd-bench-ledger ----------------------------------------------------------------------- */

static const char *const ledger_keys[] = {
    "accounts",    "batches",  "batch_size", "tx_per_s", "transfers_per_s",
    "p50_ms",      "p99_ms",   "p999_ms",    "max_ms",   "rss_mb",
    "setup_per_s", "intended", "ok",         "warnings", NULL};

/* A fresh absent directory for a ledger. */
static void ledger_dir(char out[PATH_SIZE], const char *name)
{
    snprintf(out, PATH_SIZE, "%s/%s", work, name);
}

static void bench_ledger(const char *scenario, const char *dir, const char *extra, run_out *r)
{
    const char *argv[ARGS_MAX] = {LSTD_BENCH_LEDGER,
                                  "--json",
                                  "--strict",
                                  "--scenario",
                                  scenario,
                                  "--accounts",
                                  "200",
                                  "--batches",
                                  "3",
                                  "--batch-size",
                                  "100",
                                  "--setup-batch",
                                  "64",
                                  "--mix-every",
                                  "20"};
    size_t n = 15;
    if (extra != NULL)
        argv[n++] = extra;
    argv[n++] = dir;
    argv[n] = NULL;
    run_tool(argv, r);
}

static void test_scenario(const char *scenario)
{
    char dir[PATH_SIZE], want[64];
    run_out r;
    ledger_dir(dir, scenario);
    bench_ledger(scenario, dir, NULL, &r);
    CHECK_U64(r.code, 0);
    if (r.code != 0)
        fprintf(stderr, "lstd-bench-ledger %s: %s%s", scenario, r.out, r.err);
    check_json(r.out, ledger_keys);
    snprintf(want, sizeof want, "\"scenario\":\"%s\"", scenario);
    CHECK(strstr(r.out, want) != NULL);
    CHECK(strstr(r.out, "\"sync\":false") != NULL);
    CHECK(json_at(r.out, "accounts") == 200);
    CHECK(json_at(r.out, "batches") == 3);
    CHECK(json_at(r.out, "batch_size") == 100);
    CHECK(json_at(r.out, "intended") == 300);
    CHECK(json_at(r.out, "ok") == 300);
    CHECK(json_at(r.out, "warnings") == 0);
    CHECK(json_at(r.out, "tx_per_s") > 0);
    CHECK(json_at(r.out, "p50_ms") > 0);
    CHECK(json_at(r.out, "p50_ms") <= json_at(r.out, "p99_ms"));
    CHECK(json_at(r.out, "p99_ms") <= json_at(r.out, "max_ms"));
    CHECK(json_at(r.out, "setup_per_s") > 0);
    CHECK(json_at(r.out, "rss_mb") > 0);
    if (strcmp(scenario, "deposits") == 0) {
        check_kind_ok(r.out, "deposit", 300);
        CHECK(json_at(r.out, "transfers_per_s") == 0);
    } else {
        check_kind_ok(r.out, "transfer", 200);
        CHECK(json_at(r.out, "transfers_per_s") > 0);
    }
    if (strcmp(scenario, "mix") == 0) { /* 100 per batch, a group after every 20 transfers */
        const char *kinds[] = {"report", "lock", "release", "withdraw_request",
                               "withdraw_finalize"};
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            check_kind_ok(r.out, kinds[i], 9);
    }
    run_free(&r);
}

/* History, stretch lines, fsync; and the ledger it leaves is refused a second time. */
static void test_history_and_misuse(void)
{
    char dir[PATH_SIZE];
    run_out r;
    ledger_dir(dir, "history");
    const char *argv[] = {LSTD_BENCH_LEDGER,
                          "--json",
                          "--sync",
                          "--accounts",
                          "100",
                          "--history",
                          "250",
                          "--batches",
                          "2",
                          "--batch-size",
                          "100",
                          "--report-every",
                          "100",
                          dir,
                          NULL};
    run_tool(argv, &r);
    CHECK_U64(r.code, 0);
    check_json(r.out, ledger_keys);
    CHECK(strstr(r.out, "\"sync\":true") != NULL);
    CHECK(json_at(r.out, "history") == 250);
    CHECK(json_at(r.out, "history_per_s") > 0);
    CHECK(strstr(r.err, "history transactions 0-100:") != NULL);
    CHECK(strstr(r.err, "history transactions 200-250:") != NULL);
    CHECK(strstr(r.err, "measure transactions 100-200:") != NULL);
    CHECK(strstr(r.err, "us applying per tx, batch p50") != NULL);
    run_free(&r);

    run_tool(argv, &r); /* DIR now holds a ledger */
    CHECK_U64(r.code, 1);
    CHECK(strstr(r.err, "already holds a ledger") != NULL);
    CHECK(r.out[0] == '\0');
    run_free(&r);

    const char *bad[][4] = {
        {"--scenario", "nope", dir, NULL}, {"--accounts", "1", dir, NULL},
        {"--batches", "-3", dir, NULL},    {"--batch-size", "0", dir, NULL},
        {"--zipf-s", "x", dir, NULL},      {"--json", NULL, NULL, NULL}}; /* no DIR */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *a[6] = {LSTD_BENCH_LEDGER, bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL};
        run_tool(a, &r);
        CHECK_U64(r.code, 2);
        CHECK(r.out[0] == '\0');
        run_free(&r);
    }
    const char *help[] = {LSTD_BENCH_LEDGER, "--help", NULL};
    run_tool(help, &r);
    CHECK_U64(r.code, 0);
    CHECK(strstr(r.out, "--scenario") != NULL && strstr(r.out, "--report-every") != NULL);
    run_free(&r);
}

/* ---- lstd-bench-rpc against a real lstd ------------------------------------------------------ */

static const char *const rpc_keys[] = {"accounts",
                                       "verify_per_s_one_core",
                                       "transfers_per_s",
                                       "p50_ms",
                                       "p99_ms",
                                       "p999_ms",
                                       "max_ms",
                                       "rss_mb",
                                       "ok",
                                       "not_ok",
                                       "unanswered",
                                       "busy_resends",
                                       NULL};

static void bench_rpc(const rh_server *s, const char *const *extra, run_out *r)
{
    char keys[PATH_SIZE];
    snprintf(keys, sizeof keys, "%s/keys", s->data_dir);
    const char *argv[ARGS_MAX] = {LSTD_BENCH_RPC,     "--json", "--endpoint",    s->requests,
                                  "--keys",           keys,     "--connections", "2",
                                  "--signers",        "4",      "--count",       "400",
                                  "--verify-samples", "200"};
    size_t n = 14;
    for (; extra != NULL && *extra != NULL && n < ARGS_MAX - 1; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    run_tool(argv, r);
}

static void check_rpc(const run_out *r, const char *mode, double accounts)
{
    char want[64];
    CHECK_U64(r->code, 0);
    if (r->code != 0)
        fprintf(stderr, "lstd-bench-rpc: %s%s", r->out, r->err);
    check_json(r->out, rpc_keys);
    snprintf(want, sizeof want, "\"mode\":\"%s\"", mode);
    CHECK(strstr(r->out, want) != NULL);
    CHECK(strstr(r->out, "\"rss_of\":\"bench\"") != NULL);
    CHECK(json_at(r->out, "ok") == 400);
    CHECK(json_at(r->out, "not_ok") == 0);
    CHECK(json_at(r->out, "unanswered") == 0);
    CHECK(json_at(r->out, "accounts") == accounts);
    CHECK(json_at(r->out, "verify_per_s_one_core") > 0);
    CHECK(json_at(r->out, "transfers_per_s") > 0);
    CHECK(json_at(r->out, "p50_ms") <= json_at(r->out, "p99_ms"));
}

static void test_rpc(void)
{
    rh_server *s = rh_start(NULL);
    run_out r;
    CHECK(s != NULL);
    if (s == NULL)
        return;
    bench_rpc(s, NULL, &r);
    check_rpc(&r, "closed", 8);
    run_free(&r);
    bench_rpc(s, (const char *const[]){"--rate", "4000", "--accounts", "50", NULL}, &r);
    check_rpc(&r, "open", 58);
    CHECK(json_at(r.out, "rate_per_s") == 4000);
    run_free(&r);
    bench_rpc(s, (const char *const[]){"--connections", "0", NULL}, &r);
    CHECK_U64(r.code, 2);
    run_free(&r);
    rh_free(&s);
}

/* A tiny queue: the bench's transfers are answered BUSY, resent with their tails, and every
 * one ends ok (the BUSY'd ones are no longer counted as failures, nor their NONCE_GAP tails). */
static void test_rpc_busy(void)
{
    const char *args[] = {"--queue-max", "4", "--verify-threads", "1", NULL};
    rh_server *s = rh_start(args);
    run_out r;
    CHECK(s != NULL);
    if (s == NULL)
        return;
    /* one signer per connection: the two BUSY probes, resent alone, fit the queue of four with
     * room for the tails another connection resends meanwhile; windows of 16 are still four
     * times the queue (under a sanitizer, four connections of 256 could keep a probe BUSY
     * past its 15 tries) */
    bench_rpc(s,
              (const char *const[]){"--connections", "2", "--window", "16", "--signers", "1",
                                    "--count", "2000", NULL},
              &r);
    CHECK_U64(r.code, 0);
    if (r.code != 0)
        fprintf(stderr, "lstd-bench-rpc: %s%s", r.out, r.err);
    check_json(r.out, rpc_keys);
    CHECK(json_at(r.out, "ok") == 2000);
    CHECK(json_at(r.out, "not_ok") == 0);
    CHECK(json_at(r.out, "unanswered") == 0);
    CHECK(json_at(r.out, "busy_resends") > 0);
    printf("test_bench_rpc: --queue-max 4: %.0f transfers resent after BUSY, all ok\n",
           json_at(r.out, "busy_resends"));
    run_free(&r);
    rh_free(&s);
}

int main(int argc, char **argv)
{
    bool rpc = argc > 1 && strcmp(argv[1], "rpc") == 0;
    if (rpc)
        rh_init("test_bench_rpc", 60);
    work = test_tmpdir("lstd-test-bench");
    if (rpc) {
        test_rpc();
        test_rpc_busy();
    } else {
        test_scenario("uniform");
        test_scenario("zipf");
        test_scenario("deposits");
        test_scenario("mix");
        test_history_and_misuse();
    }
    test_rmtree(work);
    free(work);
    return test_finish(rpc ? "test_bench_rpc" : "test_bench");
}
