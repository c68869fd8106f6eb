/* test_rpc_config.c - production genesis from a config file, restarts, refusals, bad files */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc_harness.h"
#include "test_util.h"

typedef struct prod {
    rh_key admin, custodian, treasury, op1, op2, user;
} prod;

static void write_config(const rh_server *s, const prod *k, const char *extra_line)
{
    char path[700], a[65], c[65], t[65], o1[65], o2[65];
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
    fprintf(f,
            "# production genesis: public keys only\n"
            "ledger_id = lstd-prod-test\n"
            "admin = %s\ncustodian = %s\ntreasury = %s\n"
            "operator = %s %s 700\n"
            "operator = %s %s 300   # second operator\n"
            "decimals = 9\ndead_shares = 5000\ntreasury_fee_bps = 400\n"
            "max_apr_bps = 2000\nepoch_s = 12\n"
            "batch-max = 512\nverify-threads = 1\n%s\n",
            a, c, t, o1, o1, o2, o2, extra_line ? extra_line : "");
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
    CHECK(strcmp(s->ledger_id, "lstd-prod-test") == 0);
    CHECK(rh_query(d, &r, "pool", NULL, 0) == 0);
    const msgpack_object *res = rh_get_map(r.root, "result");
    rh_check_bin(res, "admin", k->admin.pk, 32, __FILE__, __LINE__);
    rh_check_bin(res, "custodian", k->custodian.pk, 32, __FILE__, __LINE__);
    CHECK_U64(rh_u64_at(res, "operator_count", __FILE__, __LINE__), 2);
    CHECK_U64(rh_u64_at(res, "dead_shares", __FILE__, __LINE__), 5000);
    CHECK_U64(
        rh_u64_at(rh_map_at(res, "params", __FILE__, __LINE__), "MAX_APR_BPS", __FILE__, __LINE__),
        2000);
    CHECK_U64(
        rh_u64_at(rh_map_at(res, "treasury_fee", __FILE__, __LINE__), "bps", __FILE__, __LINE__),
        400);
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
    rh_server *s = prepare(&k);
    CHECK(rh_launch(s) == 0);
    check_genesis(s, &k);
    CHECK_U64(deposit(s, &k, 1000000), 1);
    CHECK(rh_stop(s, SIGINT, 10000) == 0);

    /* restart with the same config: resumes, the genesis is not re-applied */
    CHECK(rh_launch(s) == 0);
    check_genesis(s, &k);
    CHECK_U64(deposit(s, &k, 2000000), 2);
    CHECK(rh_stop(s, SIGTERM, 10000) == 0);

    /* a config naming a different genesis is refused: exit 1, ledger untouched */
    rh_key other;
    rh_keygen(&other);
    prod changed = k;
    changed.admin = other;
    write_config(s, &changed, NULL);
    CHECK(rh_launch(s) != 0);
    CHECK(s->has_status && WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 1);

    /* a bad line is a usage error naming file and line: exit 2 */
    write_config(s, &k, "batch-max = lots");
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
    rh_free(&s);

    /* an invalid genesis (fees over 100%) is refused on an empty directory: exit 1 */
    s = prepare(&k);
    write_config(s, &k, "treasury_fee_bps = 9500");
    CHECK(rh_launch(s) != 0);
    CHECK(s->has_status && WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 1);
    rh_free(&s);
    return test_finish("test_rpc_config");
}
