/* test_rpc_config.c - production genesis from a config file, restarts, refusals, bad files */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rpc_harness.h"
#include "test_util.h"

typedef struct prod {
    rh_key admin, custodian, treasury, op1, op2, user, m1, m2, m3;
} prod;

static void write_config(const rh_server *s, const prod *k, const char *extra_line)
{
    char path[700], a[65], c[65], t[65], o1[65], o2[65], m1[65], m2[65], m3[65];
    snprintf(path, sizeof path, "%s/lstd.conf", s->dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    rh_hex(a, k->admin.pk);
    rh_hex(c, k->custodian.pk);
    rh_hex(t, k->treasury.pk);
    rh_hex(o1, k->op1.pk);
    rh_hex(o2, k->op2.pk);
    rh_hex(m1, k->m1.pk);
    rh_hex(m2, k->m2.pk);
    rh_hex(m3, k->m3.pk);
    fprintf(f,
            "# production genesis: public keys only\n"
            "ledger_id = lstd-prod-test\n"
            "admin = %s\ncustodian = %s\ntreasury = %s\n"
            "operator = %s %s 700\n"
            "operator = %s %s 300   # second operator\n"
            "decimals = 9\ndead_shares = 5000000\ntreasury_fee_bps = 400\n"
            "max_apr_bps = 2000\nepoch_s = 12\nepoch_origin = 1606824023\nvest_s = 3600\n"
            "oracle_member = %s\noracle_member = %s\noracle_member = %s\n"
            "oracle_quorum = 2\nreport_mode = committee   # the committee books balances\n"
            "batch_max = 512\nverify_threads = 1\n%s\n",
            a, c, t, o1, o1, o2, o2, m1, m2, m3, extra_line ? extra_line : "");
    fclose(f);
}

static char config_arg[700];

static rh_server *prepare(prod *k)
{
    rh_server *s = rh_prepare(NULL);
    snprintf(config_arg, sizeof config_arg, "%s/lstd.conf", s->dir);
    s->extra[s->extra_count++] = strdup("--config");
    s->extra[s->extra_count++] = strdup(config_arg);
    s->production = true;
    write_config(s, k, NULL);
    return s;
}

/* The pool reflects the configured genesis; no development keys were written. */
static void check_genesis(rh_server *s, const prod *k)
{
    rh_reply r;
    char keys[700];
    void *d = rh_dealer(s);
    rh_reply_init(&r);
    /* the configured name and init's 16 random hex digits */
    CHECK(strncmp(s->ledger_id, "lstd-prod-test-", 15) == 0 && strlen(s->ledger_id) == 31 &&
          strspn(s->ledger_id + 15, "0123456789abcdef") == 16);
    CHECK(rh_query(d, &r, "pool", NULL, 0) == 0);
    const msgpack_object *res = rh_get_map(r.root, "result");
    rh_check_bin(res, "admin", k->admin.pk, 32, __FILE__, __LINE__);
    rh_check_bin(res, "custodian", k->custodian.pk, 32, __FILE__, __LINE__);
    CHECK_U64(rh_u64_at(res, "operator_count", __FILE__, __LINE__), 2);
    CHECK_U64(rh_u64_at(res, "dead_shares", __FILE__, __LINE__), 5000000);
    const msgpack_object *params = rh_map_at(res, "params", __FILE__, __LINE__);
    CHECK_U64(rh_u64_at(params, "MAX_APR_BPS", __FILE__, __LINE__), 2000);
    CHECK_U64(rh_u64_at(params, "VEST_S", __FILE__, __LINE__), 3600);
    /* the configured epoch clock: 12 s epochs counted from the beacon chain's genesis */
    uint64_t now = rh_u64_at(res, "now", __FILE__, __LINE__);
    CHECK_U64(rh_u64_at(res, "epoch", __FILE__, __LINE__), (now - 1606824023) / 12);
    CHECK_U64(
        rh_u64_at(rh_map_at(res, "treasury_fee", __FILE__, __LINE__), "bps", __FILE__, __LINE__),
        400);
    /* the configured committee: three members, quorum 2, booking balances */
    rh_check_str(res, "report_mode", "committee", __FILE__, __LINE__);
    const msgpack_object *oracle = rh_map_at(res, "oracle", __FILE__, __LINE__);
    CHECK_U64(rh_u64_at(oracle, "members", __FILE__, __LINE__), 3);
    CHECK_U64(rh_u64_at(oracle, "quorum", __FILE__, __LINE__), 2);
    CHECK(rh_bool_at(oracle, "majority", __FILE__, __LINE__));
    rh_reply_free(&r);
    CHECK(rh_query(d, &r, "operator", (rh_field[]){RH_UINT("operator_id", 2)}, 1) == 0);
    res = rh_get_map(r.root, "result");
    rh_check_bin(res, "key", k->op2.pk, 32, __FILE__, __LINE__);
    CHECK_U64(rh_u64_at(rh_map_at(res, "fee", __FILE__, __LINE__), "bps", __FILE__, __LINE__), 300);
    rh_reply_free(&r);
    snprintf(keys, sizeof keys, "%s/keys", s->data_dir);
    CHECK(access(keys, F_OK) != 0);
    rh_close(d);
}

static uint64_t deposit(rh_server *s, const prod *k, uint64_t amount)
{
    rh_reply r;
    void *d = rh_dealer(s);
    ledger_tx tx = rh_tx(LEDGER_TX_DEPOSIT);
    rh_reply_init(&r);
    memcpy(tx.signer, k->custodian.pk, 32);
    tx.nonce = rh_next_nonce(d, k->custodian.pk);
    rh_tx_key(&tx, "to", k->user.pk);
    rh_tx_u64(&tx, "amount", amount);
    memcpy(tx.ref, &tx.nonce, sizeof tx.nonce);
    CHECK(rh_submit(s, d, &tx, &k->custodian, &r, NULL) == 0);
    rh_check_ok(&r, __FILE__, __LINE__);
    uint64_t seq = rh_u64_at(rh_get_map(r.root, "result"), "seq", __FILE__, __LINE__);
    rh_reply_free(&r);
    rh_close(d);
    return seq;
}

/* The audit's replay (issue 9): the data file is lost (emptied), the operator re-creates the
 * ledger from the same config. Serving the damaged directory is refused; init refuses it too;
 * a ledger made from the same config in a fresh directory has another id, so a transaction
 * signed for the old one does not apply to it. */
static void test_recreated(rh_server *old, const prod *k)
{
    char path[700];
    rh_reply r;
    snprintf(path, sizeof path, "%s/ledger/data.mdb", old->data_dir);
    FILE *f = fopen(path, "w"); /* truncated to 0 bytes */
    CHECK(f != NULL && fclose(f) == 0);
    CHECK(rh_launch(old) != 0);
    CHECK(old->has_status && WIFEXITED(old->wait_status) && WEXITSTATUS(old->wait_status) == 1);
    CHECK_U64(rh_init_ledger(old), 1);
    rh_server *s = prepare((prod *)k);
    CHECK_U64(rh_init_ledger(s), 0);
    CHECK(rh_launch(s) == 0);
    CHECK(strcmp(s->ledger_id, old->ledger_id) != 0);
    /* the old ledger's first deposit, signed for its id, presented to the new one */
    void *d = rh_dealer(s);
    ledger_tx tx = rh_tx(LEDGER_TX_DEPOSIT);
    uint8_t hash[32], sig[64];
    tx.nonce = 1;
    rh_tx_key(&tx, "to", k->user.pk);
    rh_tx_u64(&tx, "amount", 1000000);
    memcpy(tx.ref, &tx.nonce, sizeof tx.nonce);
    rh_sign_for(old->ledger_id, &tx, &k->custodian, hash, sig);
    msgpack_sbuffer buf;
    uint64_t id = rh_next_id();
    msgpack_sbuffer_init(&buf);
    rh_pack_tx(&buf, &tx, sig, id, NULL, NULL);
    rh_reply_init(&r);
    CHECK(rh_call(d, &buf, id, &r) == 0);
    rh_check_error(&r, "BAD_SIGNATURE", __FILE__, __LINE__);
    rh_reply_free(&r);
    msgpack_sbuffer_destroy(&buf);
    CHECK_U64(rh_next_nonce(d, k->custodian.pk), 1); /* nothing consumed */
    rh_close(d);
    CHECK(rh_stop(s, SIGTERM, 10000) == 0);
    rh_free(&s);
}

/* Run lstd with --config path --help (the file is read before --help is acted on) and
 * capture its stderr. Returns: its exit status, or -1. */
static int config_stderr(const char *path, char *err, size_t size)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 2);
        close(pfd[0]);
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(127);
        execl(LSTD_BINARY, LSTD_BINARY, "--config", path, "--help", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    ssize_t r;
    while (n < size - 1 && (r = read(pfd[0], err + n, size - 1 - n)) > 0)
        n += (size_t)r;
    err[n] = '\0';
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A genesis setting out of its range is a usage error that says what the range is. */
static void check_setting_refused(const char *line, const char *says)
{
    char dir_path[256], path[300], err[2048];
    char *dir = test_tmpdir("lstd-cfg");
    snprintf(dir_path, sizeof dir_path, "%s", dir);
    snprintf(path, sizeof path, "%s/bad.conf", dir_path);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fprintf(f, "# a setting out of range\n%s\n", line);
        fclose(f);
    }
    CHECK_U64(config_stderr(path, err, sizeof err), 2);
    if (strstr(err, says) == NULL || strstr(err, "bad.conf:2") == NULL) {
        fprintf(stderr, "test_rpc_config: '%s' refused without \"%s\": %s\n", line, says, err);
        test_failures++;
    }
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    prod k;
    rh_init("test_rpc_config", 60);
    rh_keygen(&k.admin);
    rh_keygen(&k.custodian);
    rh_keygen(&k.treasury);
    rh_keygen(&k.op1);
    rh_keygen(&k.op2);
    rh_keygen(&k.user);
    rh_keygen(&k.m1);
    rh_keygen(&k.m2);
    rh_keygen(&k.m3);
    rh_server *s = prepare(&k);
    /* no ledger is ever created as a side effect of starting: exit 1, nothing written */
    CHECK(rh_launch(s) != 0);
    CHECK(s->has_status && WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 1);
    CHECK(access(s->data_dir, F_OK) != 0);
    CHECK_U64(rh_init_ledger(s), 0);
    CHECK_U64(rh_init_ledger(s), 1); /* once: the directory is no longer empty */
    CHECK(rh_launch(s) == 0);
    check_genesis(s, &k);
    CHECK_U64(deposit(s, &k, 1000000), 1);
    CHECK(rh_stop(s, SIGINT, 10000) == 0);

    /* restart with the same config: resumes, the genesis is not re-applied */
    CHECK(rh_launch(s) == 0);
    check_genesis(s, &k);
    CHECK_U64(deposit(s, &k, 2000000), 2);
    CHECK(rh_stop(s, SIGTERM, 10000) == 0);

    /* another epoch origin is another genesis */
    write_config(s, &k, "epoch_origin = 1606824024");
    CHECK(rh_launch(s) != 0);
    CHECK(s->has_status && WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 1);

    /* a config naming a different genesis is refused: exit 1, ledger untouched */
    rh_key other;
    rh_keygen(&other);
    prod changed = k;
    changed.admin = other;
    write_config(s, &changed, NULL);
    CHECK(rh_launch(s) != 0);
    CHECK(s->has_status && WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 1);

    /* a bad line is a usage error naming file and line: exit 2 */
    write_config(s, &k, "batch_max = lots");
    CHECK(rh_launch(s) != 0);
    CHECK(s->has_status && WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 2);
    write_config(s, &k, "no_such_key = 1");
    CHECK(rh_launch(s) != 0);
    CHECK(s->has_status && WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 2);

    /* the original config still works and the history is intact */
    write_config(s, &k, NULL);
    CHECK(rh_launch(s) == 0);
    CHECK_U64(deposit(s, &k, 3000000), 3);
    CHECK(rh_stop(s, SIGTERM, 10000) == 0);
    test_recreated(s, &k);
    rh_free(&s);

    /* an invalid genesis (fees over 100%) is refused by init: exit 1 */
    s = prepare(&k);
    write_config(s, &k, "treasury_fee_bps = 9500");
    CHECK_U64(rh_init_ledger(s), 1);
    write_config(s, &k, "oracle_quorum = 1"); /* 1 of 3 members is not a majority */
    CHECK_U64(rh_init_ledger(s), 1);
    write_config(s, &k, "oracle_quorum = 1\noracle_minority = 1"); /* unless accepted */
    CHECK_U64(rh_init_ledger(s), 0);
    rh_free(&s);
    s = prepare(&k);
    write_config(s, &k, NULL); /* a failed init leaves the directory unused: init again */
    CHECK_U64(rh_init_ledger(s), 0);
    rh_free(&s);

    /* an epoch clock that would start after the genesis: exit 1, nothing created */
    s = prepare(&k);
    char line[64];
    snprintf(line, sizeof line, "epoch_origin = %llu", (unsigned long long)time(NULL) + 100000);
    write_config(s, &k, line);
    CHECK_U64(rh_init_ledger(s), 1);
    rh_free(&s);

    /* --dev creates a development ledger only in an unused directory: a data directory that
     * lost its data file (here: only its keys are left) is refused, not re-created */
    s = rh_prepare(NULL);
    char stray[700];
    snprintf(stray, sizeof stray, "%s/keys", s->data_dir);
    CHECK(mkdir(s->data_dir, 0700) == 0 && mkdir(stray, 0700) == 0);
    CHECK(rh_launch(s) != 0);
    CHECK(s->has_status && WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 1);
    rh_free(&s);

    /* settings out of range: exit 2 and the reason */
    check_setting_refused("dead_shares = 999999", "dead_shares must be at least 1000000");
    check_setting_refused("dead_shares = 1", "at least 1000000");
    check_setting_refused("vest_s = 2592001", "vest_s must be a whole number in 0..2592000");
    check_setting_refused("epoch_s = 0", "epoch_s must be a whole number in 1..86400");
    check_setting_refused("epoch_origin = soon", "bad value");
    check_setting_refused("report_mode = majority", "report_mode must be operator or committee");
    check_setting_refused("oracle_quorum = 33", "bad value");
    check_setting_refused("oracle_minority = 2", "bad value");
    check_setting_refused("oracle_member = 12", "bad value");
    return test_finish("test_rpc_config");
}
