/* test_client.c - the C client library against a real lstd: kinds, nonces, resends, queries, events
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lst_client.h"
#include "rpc_harness.h"
#include "test_util.h"

#define TOKEN 1000000000ull /* one token in base units (decimals 9) */
#define PIPELINE_COUNT 500

static rh_server *srv;
static lst_client *cl;
static lst_key admin, custodian, operator1, alice, bob, carol;

static lst_key from_rh(const rh_key *k)
{
    lst_key out;
    memcpy(out.secret, k->sk, 32);
    memcpy(out.pubkey, k->pk, 32);
    return out;
}

/* Submit and expect LST_OK; prints the client's error otherwise. */
static void submit_ok(lst_client *c, const lst_key *k, lst_tx *tx, lst_result *res, int line)
{
    int rc = lst_submit(c, k, tx, res);
    if (rc != LST_OK) {
        fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, line, lst_kind_name(tx->kind),
                lst_code_name(rc), lst_client_error(c));
        test_failures++;
    }
}
#define SUBMIT_OK(k, tx, res) submit_ok(cl, (k), (tx), (res), __LINE__)

/* Submit and expect a rejection named `error`. */
static void submit_rejected(const lst_key *k, lst_tx *tx, lst_result *res, const char *error,
                            bool recorded, int line)
{
    int rc = lst_submit(cl, k, tx, res);
    if (rc != LST_ERR_REJECTED || strcmp(res->error, error) != 0 || res->recorded != recorded ||
        res->ok) {
        fprintf(stderr, "%s:%d: %s: %s %s recorded=%d, want %s recorded=%d (%s)\n", __FILE__, line,
                lst_kind_name(tx->kind), lst_code_name(rc), res->error, res->recorded, error,
                recorded, lst_client_error(cl));
        test_failures++;
    }
}
#define SUBMIT_REJECTED(k, tx, res, err, rec)                                                      \
    submit_rejected((k), (tx), (res), (err), (rec), __LINE__)

static uint64_t out_at(const lst_result *r, const char *name, int line)
{
    uint64_t v = 0;
    if (!lst_result_out(r, name, &v)) {
        fprintf(stderr, "%s:%d: result has no output %s\n", __FILE__, line, name);
        test_failures++;
    }
    return v;
}
#define OUT(res, name) out_at(&(res), (name), __LINE__)

static void key_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s.key", srv->dir, name);
}

/* ---- keys, amounts, the builder (no server needed) ---------------------------------------- */

static void test_keys(void)
{
    char path[600], hex[65];
    struct stat st;
    lst_key k, again;
    uint8_t back[32];
    key_path(path, sizeof path, "alice");
    CHECK(lst_key_generate(path, &alice) == LST_OK);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    errno = 0;
    CHECK(lst_key_generate(path, &k) == LST_ERR_IO && errno == EEXIST); /* never overwrites */
    CHECK(lst_key_load(path, &again) == LST_OK);
    CHECK(memcmp(again.pubkey, alice.pubkey, 32) == 0 &&
          memcmp(again.secret, alice.secret, 32) == 0);
    key_path(path, sizeof path, "bob");
    CHECK(lst_key_generate(path, &bob) == LST_OK);
    key_path(path, sizeof path, "carol");
    CHECK(lst_key_generate(path, &carol) == LST_OK);
    key_path(path, sizeof path, "missing");
    errno = 0;
    CHECK(lst_key_load(path, &k) == LST_ERR_IO && errno == ENOENT);
    snprintf(path, sizeof path, "%s/bad.key", srv->dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("not a key\n", f);
        fclose(f);
    }
    /* a file others may read is refused before its contents are looked at (issue 9) */
    CHECK(lst_key_load(path, &k) == LST_ERR_IO && errno == EPERM);
    for (size_t i = 0; i < 3; i++) {
        static const mode_t modes[] = {0640, 0604, 0660};
        CHECK(chmod(path, modes[i]) == 0);
        errno = 0;
        CHECK(lst_key_load(path, &k) == LST_ERR_IO && errno == EPERM);
    }
    CHECK(chmod(path, 0600) == 0);
    CHECK(lst_key_load(path, &k) == LST_ERR_IO && errno == EINVAL);
    /* and so is a good key in a directory others may write to (they could swap it) */
    char dir[400], moved[480];
    snprintf(dir, sizeof dir, "%s/open-dir", srv->dir);
    CHECK(mkdir(dir, 0700) == 0 && chmod(dir, 0777) == 0);
    key_path(path, sizeof path, "alice");
    snprintf(moved, sizeof moved, "%s/alice.key", dir);
    CHECK(link(path, moved) == 0);
    errno = 0;
    CHECK(lst_key_load(moved, &k) == LST_ERR_IO && errno == EPERM);
    CHECK(chmod(dir, 01777) == 0); /* sticky, like /tmp: nobody else can replace it */
    CHECK(lst_key_load(moved, &k) == LST_OK);
    lst_key_wipe(&k);
    lst_hex_encode(hex, alice.pubkey);
    CHECK(strlen(hex) == 64 && lst_hex_decode(back, hex) == LST_OK);
    CHECK(memcmp(back, alice.pubkey, 32) == 0);
    CHECK(lst_hex_decode(back, "abc") == LST_ERR_USAGE);
    hex[3] = 'x';
    CHECK(lst_hex_decode(back, hex) == LST_ERR_USAGE);
    lst_key_wipe(&again);
}

static void test_builder(void)
{
    lst_tx tx;
    lst_result res;
    uint8_t key[32] = {1};
    CHECK(lst_tx_init(&tx, "no_such_kind") == LST_ERR_USAGE);
    CHECK(lst_tx_init(&tx, "transfer") == LST_OK);
    CHECK(lst_tx_set_u64(&tx, "to", 1) == LST_ERR_USAGE); /* a key field */
    CHECK(lst_tx_set_key(&tx, "shares", key) == LST_ERR_USAGE);
    CHECK(lst_tx_set_ref(&tx, "to", key) == LST_ERR_USAGE); /* a key, not a ref */
    CHECK(lst_tx_set_u64(&tx, "amount", 1) == LST_ERR_USAGE);
    CHECK(strcmp(lst_tx_missing(&tx), "to") == 0);
    CHECK(lst_tx_set_key(&tx, "to", bob.pubkey) == LST_OK);
    CHECK(strcmp(lst_tx_missing(&tx), "shares") == 0);
    CHECK(lst_submit(cl, &alice, &tx, &res) == LST_ERR_USAGE); /* every field is required */
    CHECK(strstr(lst_client_error(cl), "shares") != NULL);
    CHECK(lst_tx_set_u64(&tx, "shares", 0) == LST_OK);
    CHECK(lst_tx_missing(&tx) == NULL);
    /* the kind table */
    CHECK(strcmp(lst_kind_name(4), "transfer_from") == 0 && lst_kind_by_name("seize") == 7);
    CHECK(lst_kind_name(0) == NULL && lst_kind_name(LST_KIND_MAX + 1) == NULL);
    int type = 0;
    CHECK(strcmp(lst_kind_field(1, 2, &type), "external_ref") == 0 && type == LST_FIELD_REF);
    CHECK(lst_kind_field(1, 4, NULL) == NULL && lst_kind_field_count(2) == 2);
    CHECK(strcmp(lst_kind_output(1, 0), "shares_minted") == 0 && lst_kind_output(2, 1) == NULL);
    CHECK(lst_param_by_name("max_apr_bps") == 3 && lst_param_by_name("nope") == 0);
    CHECK(strcmp(lst_code_name(LST_ERR_TIMEOUT), "LST_ERR_TIMEOUT") == 0);
}

/* ---- every kind --------------------------------------------------------------------------- */

static void test_holder_kinds(void)
{
    lst_tx tx;
    lst_result r;
    uint8_t ref[32] = "deposit-0001";
    lst_tx_deposit(&tx, alice.pubkey, 100 * TOKEN, ref, 0);
    SUBMIT_OK(&custodian, &tx, &r);
    CHECK(r.ok && r.recorded && !r.duplicate && r.seq == 1 && r.batch >= 1 && r.time > 0);
    CHECK(r.nonce == 1 && tx.nonce == 1 && r.error[0] == '\0' && r.kind == 1);
    CHECK_U64(OUT(r, "shares_minted"), 100 * TOKEN);
    CHECK_U64(OUT(r, "amount_credited"), 100 * TOKEN);
    lst_tx_transfer(&tx, bob.pubkey, 25 * TOKEN);
    SUBMIT_OK(&alice, &tx, &r);
    CHECK_U64(OUT(r, "shares_moved"), 25 * TOKEN);
    CHECK_U64(r.seq, 2);
    lst_tx_approve(&tx, bob.pubkey, 10 * TOKEN);
    SUBMIT_OK(&alice, &tx, &r);
    CHECK_U64(OUT(r, "allowance"), 10 * TOKEN);
    lst_tx_transfer_from(&tx, alice.pubkey, carol.pubkey, 4 * TOKEN);
    SUBMIT_OK(&bob, &tx, &r);
    CHECK_U64(OUT(r, "shares_moved"), 4 * TOKEN);
    CHECK_U64(OUT(r, "allowance_left"), 6 * TOKEN);
    lst_tx_lock(&tx, bob.pubkey, 10 * TOKEN, 0);
    SUBMIT_OK(&alice, &tx, &r);
    CHECK_U64(OUT(r, "lien_id"), 1);
    CHECK_U64(OUT(r, "shares_locked"), 10 * TOKEN);
    CHECK_U64(OUT(r, "value"), 10 * TOKEN);
    lst_tx_release(&tx, 1, 2 * TOKEN);
    SUBMIT_OK(&bob, &tx, &r);
    CHECK_U64(OUT(r, "shares_released"), 2 * TOKEN);
    CHECK_U64(OUT(r, "shares_left"), 8 * TOKEN);
    lst_tx_seize(&tx, 1, 3 * TOKEN, bob.pubkey);
    SUBMIT_OK(&bob, &tx, &r);
    CHECK_U64(OUT(r, "shares_seized"), 3 * TOKEN);
    CHECK_U64(OUT(r, "value"), 3 * TOKEN);
    CHECK_U64(OUT(r, "shares_left"), 5 * TOKEN);
    CHECK_U64(tx.nonce, 3); /* bob: transfer_from, release, seize */
}

static void test_withdrawal_kinds(void)
{
    lst_tx tx;
    lst_result r;
    uint8_t payout[32] = "payout-0001";
    lst_tx_withdraw_request(&tx, 10 * TOKEN, 10 * TOKEN);
    SUBMIT_OK(&alice, &tx, &r);
    CHECK_U64(OUT(r, "request_id"), 1);
    CHECK_U64(OUT(r, "amount_at_request"), 10 * TOKEN);
    lst_tx_withdraw_request(&tx, 5 * TOKEN, 0);
    SUBMIT_OK(&alice, &tx, &r);
    CHECK_U64(OUT(r, "request_id"), 2);
    lst_tx_withdraw_cancel(&tx, 2);
    SUBMIT_OK(&alice, &tx, &r);
    CHECK_U64(OUT(r, "shares_returned"), 5 * TOKEN);
    lst_tx_withdraw_finalize(&tx, 1);
    SUBMIT_OK(&custodian, &tx, &r);
    CHECK_U64(OUT(r, "requests_paid"), 1);
    CHECK_U64(OUT(r, "amount_paid"), 10 * TOKEN);
    CHECK_U64(OUT(r, "shares_burned"), 10 * TOKEN);
    CHECK_U64(OUT(r, "requests_returned"), 0);
    lst_tx_withdraw_settle(&tx, 1, payout);
    SUBMIT_OK(&custodian, &tx, &r);
    CHECK_U64(OUT(r, "amount_paid"), 10 * TOKEN);
    lst_tx_withdraw_settle(&tx, 1, payout); /* a new nonce: a recorded rule violation */
    SUBMIT_REJECTED(&custodian, &tx, &r, "WITHDRAWAL_ALREADY_SETTLED", true);
    CHECK(r.seq > 0 && r.out_count == 0 && r.message[0] != '\0');
}

/* A kind through the generic builder: fields as name=value pairs (keys from `keys`). */
static void generic(const lst_key *signer, const char *kind, const char *const *u64_names,
                    const uint64_t *u64s, const char *const *key_names, const uint8_t *const *keys,
                    lst_result *r, int line)
{
    lst_tx tx;
    CHECK(lst_tx_init(&tx, kind) == LST_OK);
    for (size_t i = 0; u64_names != NULL && u64_names[i] != NULL; i++)
        CHECK(lst_tx_set_u64(&tx, u64_names[i], u64s[i]) == LST_OK);
    for (size_t i = 0; key_names != NULL && key_names[i] != NULL; i++)
        CHECK(lst_tx_set_key(&tx, key_names[i], keys[i]) == LST_OK);
    submit_ok(cl, signer, &tx, r, line);
}
#define GENERIC(signer, kind, un, uv, kn, kv, r)                                                   \
    generic((signer), (kind), (const char *const[])un, (const uint64_t[])uv,                       \
            (const char *const[])kn, (const uint8_t *const[])kv, (r), __LINE__)
#define NAMES(...)                                                                                 \
    {                                                                                              \
        __VA_ARGS__, NULL                                                                          \
    }
#define VALUES(...)                                                                                \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

static void test_operator_kinds(void)
{
    lst_tx tx;
    lst_result r;
    lst_key op2, op2b;
    char path[600];
    key_path(path, sizeof path, "op2");
    CHECK(lst_key_generate(path, &op2) == LST_OK);
    key_path(path, sizeof path, "op2b");
    CHECK(lst_key_generate(path, &op2b) == LST_OK);
    GENERIC(&admin, "operator_register", NAMES("fee_bps"), VALUES(300),
            NAMES("operator", "fee_account"), VALUES(op2.pubkey, op2.pubkey), &r);
    CHECK_U64(OUT(r, "operator_id"), 2);
    GENERIC(&admin, "operator_set_active", NAMES("operator_id", "active"), VALUES(2, 0), {NULL},
            {NULL}, &r);
    CHECK_U64(OUT(r, "active"), 0);
    GENERIC(&admin, "operator_set_keys", NAMES("operator_id"), VALUES(2),
            NAMES("operator", "fee_account"), VALUES(op2b.pubkey, op2b.pubkey), &r);
    CHECK_U64(OUT(r, "operator_id"), 2);
    lst_tx_operator_fund(&tx, 1, 50 * TOKEN);
    SUBMIT_OK(&custodian, &tx, &r);
    CHECK_U64(OUT(r, "amount"), 50 * TOKEN);
    CHECK_U64(OUT(r, "balance"), 50 * TOKEN);
    lst_tx_operator_exit(&tx, 1, 5 * TOKEN);
    SUBMIT_OK(&custodian, &tx, &r);
    CHECK_U64(OUT(r, "balance"), 45 * TOKEN);
    lst_tx_report(&tx, 1, 1, 45 * TOKEN);
    SUBMIT_OK(&operator1, &tx, &r);
    CHECK_U64(OUT(r, "gain"), 0);
    /* one epoch later, 1 token more: far beyond 10% a year, so held back */
    lst_tx_report(&tx, 1, 2, 46 * TOKEN);
    SUBMIT_REJECTED(&operator1, &tx, &r, "REPORT_APR_EXCEEDED", true);
    lst_tx_report_accept(&tx, 1, 2, 46 * TOKEN);
    SUBMIT_OK(&admin, &tx, &r);
    CHECK_U64(OUT(r, "gain"), TOKEN);
    CHECK(OUT(r, "treasury_fee_shares") > 0 && OUT(r, "operator_fee_shares") > 0);
    /* the reward vests over VEST_S (default a day): the pool shows what is left and when */
    lst_pool_info p;
    CHECK(lst_pool(cl, &p) == LST_OK);
    CHECK(p.unvested > 0 && p.unvested < TOKEN && p.vest_end == r.time + 86400);
    CHECK(p.now >= r.time && p.now >= p.time && !p.bunker && p.held_loss == 0);
    CHECK(p.epoch > 2 && p.payable == 0);
    /* operator_reset (admin): operator 2, at the epoch running now, nothing staked */
    lst_tx_operator_reset(&tx, 2, p.epoch + 100000, 0);
    SUBMIT_REJECTED(&admin, &tx, &r, "EPOCH_IN_FUTURE", true);
    lst_tx_operator_reset(&tx, 2, p.epoch, 0);
    SUBMIT_OK(&admin, &tx, &r);
    CHECK(r.out_count == 4 && OUT(r, "gain") == 0 && OUT(r, "loss") == 0);
    GENERIC(&admin, "fee_set", NAMES("operator_id", "fee_bps"), VALUES(0, 400), {NULL}, {NULL}, &r);
    CHECK_U64(OUT(r, "fee_bps"), 400);
    CHECK_U64(OUT(r, "effective_at"), r.time); /* a decrease applies at once */
    GENERIC(&admin, "param_set", NAMES("param", "value"),
            VALUES(lst_param_by_name("MAX_APR_BPS"), 2000), {NULL}, {NULL}, &r);
    CHECK_U64(OUT(r, "value"), 2000);
    GENERIC(&admin, "pause_set", NAMES("flags"), VALUES(1), {NULL}, {NULL}, &r);
    CHECK_U64(OUT(r, "flags"), 1);
    uint8_t ref[32] = "deposit-0002";
    lst_tx_deposit(&tx, carol.pubkey, TOKEN, ref, 0);
    SUBMIT_REJECTED(&custodian, &tx, &r, "DEPOSITS_PAUSED", true);
    GENERIC(&admin, "pause_set", NAMES("flags"), VALUES(0), {NULL}, {NULL}, &r);
    GENERIC(&admin, "role_set", NAMES("role"), VALUES(3), NAMES("account"), VALUES(carol.pubkey),
            &r);
    CHECK_U64(OUT(r, "role"), 3);
    lst_key_wipe(&op2);
    lst_key_wipe(&op2b);
}

/* Nonces: automatic, written back, and a gap is an unrecorded rejection. */
static void test_nonces(void)
{
    lst_tx tx;
    lst_result r;
    lst_account_info a;
    CHECK(lst_account(cl, alice.pubkey, &a) == LST_OK);
    lst_tx_transfer(&tx, bob.pubkey, 1);
    tx.nonce = a.next_nonce + 1;
    SUBMIT_REJECTED(&alice, &tx, &r, "NONCE_GAP", false);
    CHECK(r.seq == 0 && r.nonce == a.next_nonce + 1);
    tx.nonce = 0;
    SUBMIT_OK(&alice, &tx, &r);
    CHECK_U64(r.nonce, a.next_nonce);
    CHECK_U64(tx.nonce, a.next_nonce);
    /* the same tx again: same nonce, same hash: its recorded result, flagged duplicate */
    lst_result again;
    SUBMIT_OK(&alice, &tx, &again);
    CHECK(again.duplicate && again.seq == r.seq && memcmp(again.hash, r.hash, 32) == 0);
}

/* ---- resends -------------------------------------------------------------------------------- */

/* A reply that was never read: the request is sent, not awaited; submitting the same tx
 * returns the recorded result as a duplicate; the first reply still reaches lst_poll. */
static void test_unread_reply(void)
{
    lst_tx tx;
    lst_result r, first;
    uint64_t id;
    lst_tx_transfer(&tx, carol.pubkey, 7);
    CHECK(lst_send(cl, &alice, &tx, &id) == LST_OK);
    lst_nonce_forget(cl, alice.pubkey);
    SUBMIT_OK(&alice, &tx, &r);
    CHECK(r.duplicate && r.recorded && r.ok);
    CHECK_U64(OUT(r, "shares_moved"), 7);
    CHECK_U64(lst_pending(cl), 1);
    CHECK(lst_poll(cl, 1000, &first) == LST_OK);
    CHECK(first.request_id == id && !first.duplicate && first.seq == r.seq);
    CHECK(memcmp(first.hash, r.hash, 32) == 0);
    CHECK(lst_poll(cl, 0, &first) == LST_ERR_USAGE); /* nothing pending */
}

static void stop_server(void)
{
    if (rh_pause(srv) != 0)
        test_failures++;
}

static void *resume_later(void *arg)
{
    rh_sleep_ms(*(unsigned *)arg);
    rh_signal(srv, SIGCONT);
    return NULL;
}

static uint64_t duplicates_counter(void)
{
    lst_reply *h;
    CHECK(lst_query_health(cl, &h) == LST_OK);
    uint64_t n = lst_reply_u64(h, "result.counters.duplicates");
    lst_reply_destroy(&h);
    return n;
}

/* The server stops answering (SIGSTOP): the client resends the same bytes after each timeout;
 * once the retries are spent it fails with LST_ERR_TIMEOUT, and submitting the same tx again
 * later returns the result recorded meanwhile, as a duplicate. */
static void test_resend(void)
{
    lst_client *c;
    lst_tx tx;
    lst_result r, again;
    pthread_t th;
    unsigned wait_ms = 700;
    CHECK(lst_client_new(&c, srv->requests, NULL, 250) == LST_OK);
    lst_client_set_retries(c, 1);
    lst_pool_info p;
    CHECK(lst_pool(c, &p) == LST_OK); /* connected, ledger id known */
    uint64_t dups = duplicates_counter();
    lst_tx_transfer(&tx, carol.pubkey, 11);
    CHECK(lst_nonce_next(c, alice.pubkey, &tx.nonce) == LST_OK); /* no query while stopped */
    stop_server();
    uint64_t t0 = rh_now_ms();
    int rc = lst_submit(c, &alice, &tx, &r);
    uint64_t took = rh_now_ms() - t0;
    CHECK(rc == LST_ERR_TIMEOUT && tx.nonce != 0 && took >= 450 && took < 3000);
    CHECK(strstr(lst_client_error(c), "no reply") != NULL);
    rh_signal(srv, SIGCONT);
    submit_ok(c, &alice, &tx, &again, __LINE__);
    CHECK(again.duplicate && again.ok && again.nonce == tx.nonce);
    CHECK_U64(OUT(again, "shares_moved"), 11);
    CHECK(duplicates_counter() >= dups + 2); /* the resend and the new submission */

    /* the server resumes before the retries are spent: the first answer is taken */
    lst_client_set_retries(c, 10);
    lst_tx_transfer(&tx, carol.pubkey, 12);
    CHECK(lst_nonce_next(c, alice.pubkey, &tx.nonce) == LST_OK);
    stop_server();
    CHECK(pthread_create(&th, NULL, resume_later, &wait_ms) == 0);
    t0 = rh_now_ms();
    submit_ok(c, &alice, &tx, &r, __LINE__);
    took = rh_now_ms() - t0;
    pthread_join(th, NULL);
    CHECK(r.ok && !r.duplicate && took >= wait_ms - 50);
    CHECK_U64(OUT(r, "shares_moved"), 12);
    lst_client_destroy(&c);
    CHECK(c == NULL);
}

static void test_connect_failure(void)
{
    lst_client *c;
    lst_reply *r;
    lst_result res;
    lst_tx tx;
    CHECK(lst_client_new(&c, "not an endpoint", NULL, 100) == LST_ERR_CONNECT && c == NULL);
    CHECK(lst_client_new(&c, "tcp://127.0.0.1:1", NULL, 0) == LST_ERR_USAGE);
    /* nothing listening: LST_ERR_CONNECT at the refused attempt, not after the timeout (an
     * hour here: the test's alarm would end it first) */
    CHECK(lst_client_new(&c, "tcp://127.0.0.1:1", NULL, 3600000) == LST_OK);
    CHECK(lst_query_pool(c, &r) == LST_ERR_CONNECT && r == NULL);
    CHECK(strstr(lst_client_error(c), "cannot connect to tcp://127.0.0.1:1: nothing listening") !=
          NULL);
    lst_tx_transfer(&tx, bob.pubkey, 1);
    tx.nonce = 1;
    CHECK(lst_submit(c, &alice, &tx, &res) == LST_ERR_CONNECT); /* the ledger id: a pool query */
    CHECK(lst_events_open(c, 0, NULL) == LST_ERR_USAGE);        /* no events endpoint */
    lst_client_destroy(&c);
    lst_client_destroy(&c); /* NULL is fine */
}

/* The server goes away under a connected client: the call fails LST_ERR_CONNECT at once
 * ("lost"), not after its (hour-long) timeout. Stops srv. */
static void test_server_gone(void)
{
    lst_client *c;
    lst_reply *r;
    lst_pool_info p;
    CHECK(lst_client_new(&c, srv->requests, NULL, 3600000) == LST_OK);
    CHECK(lst_pool(c, &p) == LST_OK);
    CHECK(rh_stop(srv, SIGTERM, 10000) == 0);
    int rc = lst_query_health(c, &r);
    CHECK(rc == LST_ERR_CONNECT && r == NULL);
    CHECK(strstr(lst_client_error(c), "lost and nothing listening there now") != NULL);
    CHECK(lst_query_pool(c, &r) == LST_ERR_CONNECT); /* and so do later calls */
    lst_client_destroy(&c);
}

/* ---- pipelining ------------------------------------------------------------------------------ */

static void test_pipeline(void)
{
    lst_account_info bob_before, alice_before, a;
    lst_result r;
    lst_reply *pool;
    uint64_t ids[PIPELINE_COUNT], first_nonce = 0;
    CHECK(lst_account(cl, bob.pubkey, &bob_before) == LST_OK);
    CHECK(lst_account(cl, alice.pubkey, &alice_before) == LST_OK);
    lst_nonce_forget(cl, alice.pubkey);
    uint64_t t0 = rh_now_ms();
    for (int i = 0; i < PIPELINE_COUNT; i++) {
        lst_tx tx;
        lst_tx_transfer(&tx, bob.pubkey, (uint64_t)i + 1);
        CHECK(lst_send(cl, &alice, &tx, &ids[i]) == LST_OK);
        if (i == 0)
            first_nonce = tx.nonce;
        CHECK_U64(tx.nonce, first_nonce + (uint64_t)i); /* counted locally */
    }
    CHECK_U64(first_nonce, alice_before.next_nonce);
    /* a query in between: the transactions' replies that arrive first wait for lst_poll */
    CHECK(lst_query_pool(cl, &pool) == LST_OK);
    CHECK(lst_reply_u64(pool, "result.seq") >= 1);
    lst_reply_destroy(&pool);
    uint64_t last_seq = 0, total = 0;
    for (int i = 0; i < PIPELINE_COUNT; i++) {
        int rc = lst_poll(cl, 5000, &r);
        CHECK(rc == LST_OK);
        if (rc != LST_OK) {
            fprintf(stderr, "poll %d: %s (%s)\n", i, lst_code_name(rc), lst_client_error(cl));
            break;
        }
        CHECK(r.request_id == ids[i] && r.ok && !r.duplicate && r.seq > last_seq);
        CHECK_U64(r.nonce, first_nonce + (uint64_t)i);
        last_seq = r.seq;
        total += OUT(r, "shares_moved");
    }
    printf("test_client: %d pipelined transfers in %" PRIu64 " ms\n", PIPELINE_COUNT,
           rh_now_ms() - t0);
    CHECK_U64(total, (uint64_t)PIPELINE_COUNT * (PIPELINE_COUNT + 1) / 2);
    CHECK_U64(lst_pending(cl), 0);
    CHECK(lst_account(cl, bob.pubkey, &a) == LST_OK);
    CHECK_U64(a.shares, bob_before.shares + total);
    CHECK(lst_account(cl, alice.pubkey, &a) == LST_OK);
    CHECK_U64(a.nonce, alice_before.nonce + PIPELINE_COUNT);
    CHECK(lst_resend_pending(cl) == LST_OK); /* nothing pending: nothing sent */
}

/* ---- queries --------------------------------------------------------------------------------- */

static uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c)
{
    __extension__ typedef unsigned __int128 u128;
    return (uint64_t)((u128)a * b / c);
}

static void test_queries(void)
{
    lst_reply *r;
    lst_pool_info p;
    lst_account_info a;
    char text[64];
    CHECK(lst_pool(cl, &p) == LST_OK);
    CHECK(strcmp(p.ledger_id, srv->ledger_id) == 0 && p.decimals == 9 && p.seq > 0);
    CHECK(p.assets > 0 && p.shares > 0 && strlen(p.rate) == 20 && p.rate[1] == '.');
    const char *id;
    uint64_t decimals;
    CHECK(lst_client_ledger(cl, &id, &decimals) == LST_OK && strcmp(id, p.ledger_id) == 0);
    CHECK(lst_account(cl, carol.pubkey, &a) == LST_OK);
    CHECK(a.total == a.shares + a.locked + a.queued && a.nonce == 0 && a.next_nonce == 1);

    CHECK(lst_query_account(cl, alice.pubkey, &r) == LST_OK);
    CHECK(memcmp(lst_reply_bin(r, "result.account", NULL), alice.pubkey, 32) == 0);
    CHECK(lst_reply_len(r, "result.liens") == 1 &&
          lst_reply_u64(r, "result.liens[0].lien_id") == 1);
    CHECK(lst_reply_str(r, "result.withdrawals[0].status", text, sizeof text));
    CHECK(strcmp(text, "settled") == 0);
    CHECK(lst_reply_type(r, "result.truncated") == LST_T_BOOL &&
          !lst_reply_bool(r, "result.truncated"));
    CHECK(lst_reply_type(r, "result.nope") == LST_T_NONE &&
          lst_reply_get(r, "result.liens[5]") == NULL);
    lst_reply_destroy(&r);
}

/* tx, history: records */
static void test_record_queries(void)
{
    lst_reply *r;
    char text[64];
    /* tx by hash: the first deposit */
    CHECK(lst_query_events(cl, 0, 1, &r) == LST_OK);
    size_t len = 0;
    uint8_t hash[32];
    const uint8_t *h = lst_reply_bin(r, "result.records[0].hash", &len);
    CHECK(h != NULL && len == 32);
    if (h != NULL)
        memcpy(hash, h, 32);
    CHECK(lst_reply_u64(r, "result.next") == 1);
    lst_reply_destroy(&r);
    CHECK(lst_query_tx(cl, hash, &r) == LST_OK);
    CHECK(lst_reply_u64(r, "result.seq") == 1 &&
          lst_reply_str(r, "result.kind", text, sizeof text));
    CHECK(strcmp(text, "deposit") == 0);
    CHECK(memcmp(lst_reply_bin(r, "result.fields.to", NULL), alice.pubkey, 32) == 0);
    CHECK_U64(lst_reply_u64(r, "result.out.shares_minted"), 100 * TOKEN);
    lst_reply_destroy(&r);
    hash[0] ^= 1;
    CHECK(lst_query_tx(cl, hash, &r) == LST_ERR_REJECTED);
    CHECK(lst_reply_str(r, "error", text, sizeof text) && strcmp(text, "NOT_FOUND") == 0);
    lst_reply_destroy(&r);

    /* history, paged two at a time, ascending, ends with next nil */
    uint64_t after = 0, pages = 0, count = 0, last = 0;
    do {
        CHECK(lst_query_history(cl, bob.pubkey, after, 2, &r) == LST_OK);
        for (size_t i = 0; i < lst_reply_len(r, "result.records"); i++) {
            const lst_value *rec = lst_value_at(lst_reply_get(r, "result.records"), i);
            CHECK(lst_value_u64(lst_value_get(rec, "seq")) > last);
            last = lst_value_u64(lst_value_get(rec, "seq"));
            count++;
        }
        after = lst_reply_u64(r, "result.next");
        bool more = lst_reply_type(r, "result.next") == LST_T_UINT;
        lst_reply_destroy(&r);
        pages++;
        if (!more)
            break;
    } while (pages < 1000);
    CHECK(count >= PIPELINE_COUNT + 5 && pages == (count + 1) / 2);
    CHECK(lst_query_history(cl, bob.pubkey, 0, 501, &r) == LST_ERR_REJECTED);
    CHECK(lst_reply_str(r, "error", text, sizeof text) && strcmp(text, "OUT_OF_RANGE") == 0);
    lst_reply_destroy(&r);
}

/* operator, quote, lien, withdrawal, queue, events, health */
static void test_object_queries(void)
{
    lst_reply *r;
    lst_pool_info p;
    char text[64];
    CHECK(lst_query_operator(cl, 1, &r) == LST_OK);
    CHECK(lst_reply_u64(r, "result.balance") == 46 * TOKEN && lst_reply_bool(r, "result.active"));
    CHECK(lst_reply_len(r, "result.reports") == 2 && lst_reply_type(r, "result.held") == LST_T_NIL);
    /* annualised over the reports' batch times: none when both fell in one second */
    if (lst_reply_u64(r, "result.reports[0].time") == lst_reply_u64(r, "result.reports[1].time"))
        CHECK(lst_reply_type(r, "result.apr_bps") == LST_T_NIL);
    else
        CHECK(lst_reply_type(r, "result.apr_bps") == LST_T_UINT ||
              lst_reply_type(r, "result.apr_bps") == LST_T_INT);
    CHECK(lst_reply_u64(r, "result.reports[1].time") > 0);
    lst_reply_destroy(&r);
    CHECK(lst_query_operator(cl, 99, &r) == LST_ERR_REJECTED);
    lst_reply_destroy(&r);

    /* quotes: floor(amount*S/(A+U)) and floor(shares*A/S), at the rate of their own time (the
     * reward keeps vesting between two queries: A grows, A + U stays) */
    CHECK(lst_pool(cl, &p) == LST_OK);
    CHECK(lst_query_quote_amount(cl, 7 * TOKEN, &r) == LST_OK);
    uint64_t a = lst_reply_u64(r, "result.rate_num");
    CHECK_U64(a, p.assets + p.unvested); /* a deposit's price: A + U over S */
    CHECK_U64(lst_reply_u64(r, "result.rate_den"), p.shares);
    CHECK_U64(lst_reply_u64(r, "result.shares"), mul_div(7 * TOKEN, p.shares, a));
    lst_reply_destroy(&r);
    CHECK(lst_query_quote_shares(cl, 7 * TOKEN, &r) == LST_OK);
    a = lst_reply_u64(r, "result.rate_num");
    CHECK(a >= p.assets && a <= p.assets + p.unvested); /* A, vested a little further */
    CHECK_U64(lst_reply_u64(r, "result.amount"), mul_div(7 * TOKEN, a, p.shares));
    lst_reply_destroy(&r);
    /* 128-bit totals are decimal strings: lst_reply_u128 reads them, lst_reply_u64 does not */
    lst_u128 deposited = 0, fees = 0;
    CHECK(lst_query_pool(cl, &r) == LST_OK);
    CHECK(lst_reply_type(r, "result.total_deposited") == LST_T_STR);
    CHECK(lst_reply_u128(r, "result.total_deposited", &deposited) && deposited > 1000000);
    CHECK(lst_reply_u64(r, "result.total_deposited") == 0);
    CHECK(!lst_reply_u128(r, "result.ledger_id", &deposited) && deposited == 0);
    CHECK(lst_reply_u128(r, "result.buffer", &deposited) && deposited > 0); /* a uint too */
    lst_reply_destroy(&r);
    CHECK(lst_query_operator(cl, 1, &r) == LST_OK);
    CHECK(lst_reply_u128(r, "result.fees_earned", &fees) && fees > 0);
    CHECK(lst_reply_u64(r, "result.next_report_fees.operator_bps") == 500);
    lst_reply_destroy(&r);

    CHECK(lst_query_lien(cl, 1, &r) == LST_OK);
    CHECK_U64(lst_reply_u64(r, "result.shares"), 5 * TOKEN);
    CHECK(memcmp(lst_reply_bin(r, "result.beneficiary", NULL), bob.pubkey, 32) == 0);
    lst_reply_destroy(&r);
    CHECK(lst_query_withdrawal(cl, 2, &r) == LST_OK);
    CHECK(lst_reply_str(r, "result.status", text, sizeof text) && strcmp(text, "cancelled") == 0);
    lst_reply_destroy(&r);
    CHECK(lst_query_queue(cl, &r) == LST_OK);
    CHECK(lst_reply_u64(r, "result.next_request_id") == 3 &&
          lst_reply_u64(r, "result.pending_count") == 0);
    lst_reply_destroy(&r);
    CHECK(lst_query_events(cl, 3, 4, &r) == LST_OK);
    CHECK(lst_reply_len(r, "result.records") == 4 &&
          lst_reply_u64(r, "result.records[3].seq") == 7);
    lst_reply_destroy(&r);
    CHECK(lst_query_health(cl, &r) == LST_OK);
    CHECK(lst_reply_str(r, "result.status", text, sizeof text) && strcmp(text, "ok") == 0);
    CHECK(lst_reply_u64(r, "result.seq") == p.seq &&
          lst_reply_u64(r, "result.counters.transactions") > 0);
    lst_reply_destroy(&r);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void test_json(void)
{
    lst_reply *r;
    char *text = NULL;
    size_t size = 0;
    CHECK(lst_query_lien(cl, 1, &r) == LST_OK);
    FILE *f = open_memstream(&text, &size);
    CHECK(f != NULL && lst_value_json(lst_reply_get(r, ""), "id", f) == 0);
    fclose(f);
    char owner[65], want[400];
    lst_hex_encode(owner, alice.pubkey);
    /* integers as decimal strings, exact in any JSON parser */
    snprintf(want, sizeof want, "{\"ok\":true,\"result\":{\"lien_id\":\"1\",\"owner\":\"%s\",",
             owner);
    CHECK(text != NULL && strncmp(text, want, strlen(want)) == 0);
    CHECK(text != NULL && strstr(text, "\"shares\":\"5000000000\",") != NULL);
    free(text);
    lst_reply_destroy(&r);
}

/* ---- events ---------------------------------------------------------------------------------- */

/* Records after `after` up to `until`, consecutive, from catch-up and the stream. */
static void read_events(lst_client *c, uint64_t after, uint64_t until)
{
    for (uint64_t want = after + 1; want <= until; want++) {
        lst_reply *rec;
        int rc = lst_events_next(c, 3000, &rec);
        if (rc != LST_OK) {
            fprintf(stderr, "events: seq %" PRIu64 ": %s (%s)\n", want, lst_code_name(rc),
                    lst_client_error(c));
            test_failures++;
            return;
        }
        CHECK_U64(lst_reply_u64(rec, "seq"), want);
        CHECK(lst_reply_type(rec, "kind") == LST_T_STR &&
              lst_reply_type(rec, "fields") == LST_T_MAP);
        lst_reply_destroy(&rec);
    }
}

static void test_events(void)
{
    lst_client *c;
    lst_pool_info p;
    lst_reply *rec;
    uint64_t pushed, fetched;
    CHECK(lst_client_new(&c, srv->requests, srv->events, 3000) == LST_OK);
    CHECK(lst_events_next(c, 10, &rec) == LST_ERR_USAGE && rec == NULL); /* not open */
    CHECK(lst_pool(c, &p) == LST_OK);
    /* opened 30 records back: those come from the events query, consecutively */
    uint64_t start = p.seq - 30;
    CHECK(lst_events_open(c, start, NULL) == LST_OK);
    read_events(c, start, p.seq);
    lst_events_stats(c, &pushed, &fetched);
    CHECK(fetched == 30 && pushed == 0);
    /* once the subscription has reached the server (the stream delivers a record), records
     * committed after it come from the stream, none from the history */
    uint64_t seq = p.seq;
    for (int round = 0; round < 100 && pushed == 0; round++) {
        lst_tx tx;
        lst_result r;
        lst_tx_transfer(&tx, carol.pubkey, 1);
        SUBMIT_OK(&bob, &tx, &r);
        read_events(c, seq, r.seq);
        seq = r.seq;
        lst_events_stats(c, &pushed, &fetched);
    }
    CHECK(pushed > 0);
    uint64_t pushed_before = pushed, fetched_before = fetched;
    for (int i = 0; i < 40; i++) {
        lst_tx tx;
        uint64_t id;
        lst_tx_transfer(&tx, carol.pubkey, 1);
        CHECK(lst_send(cl, &bob, &tx, &id) == LST_OK);
    }
    for (int i = 0; i < 40; i++) {
        lst_result r;
        CHECK(lst_poll(cl, 5000, &r) == LST_OK);
    }
    read_events(c, seq, seq + 40);
    lst_events_stats(c, &pushed, &fetched);
    CHECK_U64(pushed - pushed_before, 40);
    CHECK_U64(fetched, fetched_before);
    CHECK(lst_events_next(c, 200, &rec) == LST_ERR_TIMEOUT && rec == NULL);

    lst_client_destroy(&c);
}

/* Events of one account: its records only, the same as its history; gaps are normal. */
static void test_account_events(void)
{
    lst_client *c;
    lst_reply *rec, *hist;
    CHECK(lst_client_new(&c, srv->requests, srv->events, 3000) == LST_OK);
    CHECK(lst_events_open(c, 0, carol.pubkey) == LST_OK);
    CHECK(lst_query_history(cl, carol.pubkey, 0, 500, &hist) == LST_OK);
    size_t n = lst_reply_len(hist, "result.records");
    CHECK(n > 40);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, "result.records[%zu].seq", i);
        int rc = lst_events_next(c, 3000, &rec);
        CHECK(rc == LST_OK);
        if (rc != LST_OK)
            break;
        CHECK_U64(lst_reply_u64(rec, "seq"), lst_reply_u64(hist, path));
        lst_reply_destroy(&rec);
    }
    lst_reply_destroy(&hist);
    /* a new transfer to carol arrives; one not naming carol does not */
    lst_tx tx;
    lst_result r;
    lst_tx_transfer(&tx, alice.pubkey, 1);
    SUBMIT_OK(&bob, &tx, &r);
    lst_tx_transfer(&tx, carol.pubkey, 1);
    SUBMIT_OK(&bob, &tx, &r);
    CHECK(lst_events_next(c, 3000, &rec) == LST_OK);
    CHECK_U64(lst_reply_u64(rec, "seq"), r.seq);
    lst_reply_destroy(&rec);
    CHECK(lst_events_next(c, 200, &rec) == LST_ERR_TIMEOUT);
    lst_client_destroy(&c);
}

/* ---- BUSY: the tail behind a refused transaction is resent --------------------------------- */

enum { BUSY_CONNS = 4, BUSY_PER = 250 };

/* Send BUSY_PER transfers on each client, interleaved, then poll them all round the clients
 * until every one completed. Out: ok, the completions that were not ok. */
static void busy_round(lst_client *const *c, const lst_key *keys, uint64_t *ok, uint64_t *bad)
{
    size_t left = 0;
    for (int i = 0; i < BUSY_PER; i++)
        for (int j = 0; j < BUSY_CONNS; j++) {
            lst_tx tx;
            lst_tx_transfer(&tx, keys[(j + 1) % BUSY_CONNS].pubkey, 1);
            CHECK(lst_send(c[j], &keys[j], &tx, NULL) == LST_OK);
            left++;
        }
    uint64_t deadline = rh_now_ms() + 120000; /* a safety net against a hang, not a bound */
    while (left > 0 && rh_now_ms() < deadline)
        for (int j = 0; j < BUSY_CONNS; j++) {
            lst_result r;
            if (lst_pending(c[j]) == 0)
                continue;
            int rc = lst_poll(c[j], 5, &r);
            if (rc == LST_ERR_TIMEOUT)
                continue;
            left--;
            if (rc == LST_OK && r.ok) {
                (*ok)++;
            } else {
                (*bad)++;
                if (*bad <= 3)
                    fprintf(stderr, "busy: %s %s (%s)\n", lst_code_name(rc), r.error, r.message);
            }
        }
    CHECK_U64(left, 0);
}

/* A tiny queue (--queue-max 4) and four connections pipelining transfers: the server answers
 * BUSY, and every transfer still ends applied exactly once, in nonce order, none NONCE_GAP. */
static void test_busy_pipeline(void)
{
    const char *args[] = {"--queue-max", "4", "--verify-threads", "1", NULL};
    rh_server *s = rh_start(args);
    lst_client *c[BUSY_CONNS], *setup;
    lst_key keys[BUSY_CONNS], cust;
    CHECK(s != NULL);
    if (s == NULL)
        return;
    cust = from_rh(&s->custodian);
    CHECK(lst_client_new(&setup, s->requests, NULL, 30000) == LST_OK);
    for (int j = 0; j < BUSY_CONNS; j++) {
        lst_tx tx;
        lst_result r;
        uint8_t ref[32] = "busy-0";
        ref[5] = (uint8_t)('0' + j);
        char path[600];
        snprintf(path, sizeof path, "%s/busy%d.key", s->dir, j);
        CHECK(lst_key_generate(path, &keys[j]) == LST_OK);
        lst_tx_deposit(&tx, keys[j].pubkey, TOKEN, ref, 0);
        submit_ok(setup, &cust, &tx, &r, __LINE__);
        CHECK(lst_client_new(&c[j], s->requests, NULL, 30000) == LST_OK);
    }
    lst_reply *h;
    CHECK(lst_query_health(setup, &h) == LST_OK);
    uint64_t busy0 = lst_reply_u64(h, "result.counters.busy"), busy = 0, ok = 0, bad = 0;
    lst_reply_destroy(&h);
    int rounds = 0;
    while (busy == 0 && rounds < 5) { /* until the server has answered BUSY at least once */
        rounds++;
        busy_round(c, keys, &ok, &bad);
        CHECK(lst_query_health(setup, &h) == LST_OK);
        busy = lst_reply_u64(h, "result.counters.busy") - busy0;
        lst_reply_destroy(&h);
    }
    printf("test_client: BUSY: %d x %d transfers x %d round(s): %" PRIu64 " BUSY answers, %" PRIu64
           " ok, %" PRIu64 " not\n",
           BUSY_CONNS, BUSY_PER, rounds, busy, ok, bad);
    CHECK(busy > 0);
    CHECK_U64(ok, (uint64_t)BUSY_CONNS * BUSY_PER * (uint64_t)rounds);
    CHECK_U64(bad, 0);
    for (int j = 0; j < BUSY_CONNS; j++) { /* each nonce once, in order: the history */
        lst_account_info a;
        CHECK(lst_account(setup, keys[j].pubkey, &a) == LST_OK);
        CHECK_U64(a.next_nonce, (uint64_t)BUSY_PER * (uint64_t)rounds + 1);
        CHECK_U64(a.shares, TOKEN); /* as many 1-unit transfers in as out */
        uint64_t after = 0, want = 1;
        for (bool more = true; more;) {
            lst_reply *page;
            CHECK(lst_query_history(setup, keys[j].pubkey, after, 500, &page) == LST_OK);
            const lst_value *recs = lst_reply_get(page, "result.records");
            for (size_t i = 0; i < lst_value_len(recs); i++) {
                const lst_value *rec = lst_value_at(recs, i);
                const uint8_t *signer = lst_value_bin(lst_value_get(rec, "signer"), NULL);
                if (signer != NULL && memcmp(signer, keys[j].pubkey, 32) == 0)
                    CHECK_U64(lst_value_u64(lst_value_get(rec, "nonce")), want++);
            }
            more = lst_reply_type(page, "result.next") == LST_T_UINT;
            after = lst_reply_u64(page, "result.next");
            lst_reply_destroy(&page);
        }
        CHECK_U64(want, (uint64_t)BUSY_PER * (uint64_t)rounds + 1);
        lst_client_destroy(&c[j]);
        lst_key_wipe(&keys[j]);
    }
    lst_client_destroy(&setup);
    CHECK(rh_stop(s, SIGTERM, 10000) == 0);
    rh_free(&s);
}

int main(void)
{
    rh_init("test_client", 60);
    srv = rh_start(NULL);
    CHECK(srv != NULL);
    if (srv == NULL)
        return test_finish("test_client");
    admin = from_rh(&srv->admin);
    custodian = from_rh(&srv->custodian);
    operator1 = from_rh(&srv->operator_key);
    CHECK(lst_client_new(&cl, srv->requests, srv->events, 5000) == LST_OK);
    test_keys();
    test_builder();
    test_holder_kinds();
    test_withdrawal_kinds();
    test_operator_kinds();
    test_nonces();
    test_unread_reply();
    test_pipeline();
    test_queries();
    test_record_queries();
    test_object_queries();
    test_json();
    test_events();
    test_account_events();
    test_resend();
    test_connect_failure();
    lst_client_destroy(&cl);
    test_server_gone();
    rh_free(&srv);
    test_busy_pipeline();
    lst_key_wipe(&alice);
    return test_finish("test_client");
}
