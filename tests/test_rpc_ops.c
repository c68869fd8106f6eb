/* test_rpc_ops.c - every transaction kind and every query through a real lstd, exact values */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rpc_harness.h"
#include "test_util.h"

__extension__ typedef unsigned __int128 u128;

#define YEAR_S 31536000u
#define DEAD 1000000u /* genesis dead shares, backed 1:1 */
#define RECS_MAX 160
#define EPOCH_ORIGIN 0u /* the default epoch_origin: epochs of Unix time */
#define VEST_S 86400u   /* the default */

/* A transaction the server recorded, as the test sent it and as the reply described it. */
typedef struct rec {
    ledger_tx tx;
    uint8_t hash[32], sig[64];
    uint64_t seq, batch, time;
    char code[48];
    uint64_t out[4];
    uint8_t accounts[4][32]; /* the unnamed accounts it changed, ascending */
    unsigned naccounts;
} rec;

static rh_server *srv;
static void *dl; /* the DEALER everything goes through */
static rh_reply rp;
static rec recs[RECS_MAX];
static size_t nrec;
static uint64_t last_batch, last_time;

/* The pool as the test expects it: as stored, vested to the last recorded batch. */
static struct {
    uint64_t assets, shares, buffer, payable, deposited, rewards, slashed, paid;
    uint64_t unvested, vest_ts, vest_end;
} m = {DEAD, DEAD, DEAD, 0, DEAD, 0, 0, 0, 0, 0, 0};

static uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)((u128)a * b / c);
}

/* A and U vested to t (ledger/README.md, reward smoothing): floor(U * (t - vest_ts) /
 * (vest_end - vest_ts)) joins A, all of U once t >= vest_end. */
static void m_at(uint64_t t, uint64_t *a, uint64_t *u)
{
    uint64_t v = 0;
    if (m.unvested > 0 && t > m.vest_ts)
        v = t >= m.vest_end ? m.unvested
                            : mul_div(m.unvested, t - m.vest_ts, m.vest_end - m.vest_ts);
    *a = m.assets + v;
    *u = m.unvested - v;
}

/* A recorded batch at time t: the ledger vests the pool to t first. */
static void m_vest(uint64_t t)
{
    if (m.unvested == 0 || t <= m.vest_ts)
        return;
    m_at(t, &m.assets, &m.unvested);
    m.vest_ts = t;
}

static void K(ledger_tx *t, const char *name, const uint8_t key[32])
{
    rh_tx_key(t, name, key);
}

static void U(ledger_tx *t, const char *name, uint64_t v)
{
    rh_tx_u64(t, name, v);
}

/* Sign with k at its next nonce, submit, and check the reply: ok/error per `code`, a result
 * with exactly the documented keys, the hash, consecutive seq, and `out` (want: the kind's
 * outputs in table order, NULL for a rejection: empty). Returns: the record, or NULL. */
static rec *tx_do(ledger_tx *t, const rh_key *k, const char *code, const uint64_t *want, int line)
{
    uint8_t hash[32], sig[64];
    msgpack_sbuffer buf;
    uint64_t id = rh_next_id(), t0 = (uint64_t)time(NULL);
    const ledger_kind_info *info = ledger_kind_lookup(t->kind);
    int failures = test_failures;
    t->nonce = rh_next_nonce(dl, k->pk);
    rh_sign(srv, t, k, hash, sig);
    msgpack_sbuffer_init(&buf);
    rh_pack_tx(&buf, t, sig, id, NULL, NULL);
    int rc = rh_call(dl, &buf, id, &rp);
    msgpack_sbuffer_destroy(&buf);
    if (rc != 0) {
        fprintf(stderr, "test_rpc_ops.c:%d: %s: no reply\n", line, info->name);
        test_failures++;
        return NULL;
    }
    CHECK_ANSWER(&rp, code);
    const msgpack_object *res = RH_MAP(rp.root, "result");
    if (res == NULL)
        return NULL;
    CHECK_KEYS(res, "hash", "code", "recorded", "duplicate", "seq", "batch", "time", "out");
    CHECK_BIN(res, "hash", hash, 32);
    CHECK_STR(res, "code", code);
    CHECK(RH_BOOL(res, "recorded"));
    CHECK(!RH_BOOL(res, "duplicate"));
    rec *r = &recs[nrec++];
    memset(r, 0, sizeof *r);
    r->tx = *t;
    memcpy(r->hash, hash, 32);
    memcpy(r->sig, sig, 64);
    snprintf(r->code, sizeof r->code, "%s", code);
    r->seq = RH_U64(res, "seq");
    r->batch = RH_U64(res, "batch");
    r->time = RH_U64(res, "time");
    CHECK_U64(r->seq, nrec);
    CHECK(r->batch >= last_batch && r->batch > 0);
    CHECK(r->time >= last_time && r->time + 2 >= t0 && r->time <= (uint64_t)time(NULL) + 1);
    last_batch = r->batch;
    last_time = r->time;
    const msgpack_object *out = RH_MAP(res, "out");
    unsigned nout = 0;
    while (want != NULL && nout < 4 && info->out_names[nout] != NULL)
        nout++;
    if (out != NULL && (want != NULL || strcmp(code, "OK") != 0)) {
        CHECK_U64(out->via.map.size, nout);
        for (unsigned i = 0; i < nout; i++) {
            r->out[i] = RH_U64(out, info->out_names[i]);
            CHECK_U64(r->out[i], want[i]);
        }
    } else if (out != NULL) { /* the caller checks the values */
        for (unsigned i = 0; i < 4 && info->out_names[i] != NULL; i++)
            r->out[i] = RH_U64(out, info->out_names[i]);
    }
    if (test_failures != failures)
        fprintf(stderr, "  ^ in %s at test_rpc_ops.c:%d\n", info->name, line);
    return r;
}

#define TX_OK(t, k, ...) tx_do((t), (k), "OK", (const uint64_t[]){__VA_ARGS__}, __LINE__)
#define TX_ERR(t, k, code) tx_do((t), (k), (code), NULL, __LINE__)

static const msgpack_object *query(const char *op, const rh_field *f, size_t n)
{
    if (rh_query(dl, &rp, op, f, n) != 0) {
        fprintf(stderr, "query %s: no reply\n", op);
        test_failures++;
        return NULL;
    }
    CHECK_OK(&rp);
    return RH_MAP(rp.root, "result");
}

static const msgpack_object *q_account(const uint8_t key[32])
{
    rh_field f = RH_BIN("account", key, 32);
    return query("account", &f, 1);
}

static const msgpack_object *q_num(const char *op, const char *field, uint64_t v)
{
    rh_field f = RH_UINT(field, v);
    return query(op, &f, 1);
}

static void q_not_found(const char *op, const rh_field *f)
{
    if (rh_query(dl, &rp, op, f, 1) != 0)
        test_failures++;
    CHECK_ERROR(&rp, "NOT_FOUND");
    CHECK(rh_get(rp.root, "result") == NULL);
}

/* The decimal A/S with 18 fractional digits, rounded down. */
static void rate_text(char *out, size_t size, uint64_t a, uint64_t s)
{
    uint64_t whole = a / s, frac = (uint64_t)((u128)(a % s) * 1000000000000000000u / s);
    snprintf(out, size, "%llu.%018llu", (unsigned long long)whole, (unsigned long long)frac);
}

/* ---- checks of the queries ------------------------------------------------------------------ */

static void check_record(const msgpack_object *o, const rec *r)
{
    const ledger_kind_info *info = ledger_kind_lookup(r->tx.kind);
    ledger_tx copy = r->tx;
    int failures = test_failures;
    CHECK_KEYS(o, "seq", "batch", "time", "hash", "prev", "kind", "signer", "nonce", "fields",
               "sig", "code", "ok", "out", "accounts");
    const msgpack_object *acc = RH_ARRAY(o, "accounts");
    if (acc != NULL) {
        CHECK_U64(acc->via.array.size, r->naccounts);
        for (unsigned i = 0; i < acc->via.array.size && i < r->naccounts; i++) {
            const msgpack_object *k = &acc->via.array.ptr[i];
            CHECK(k->type == MSGPACK_OBJECT_BIN && k->via.bin.size == 32 &&
                  memcmp(k->via.bin.ptr, r->accounts[i], 32) == 0);
        }
    }
    CHECK_FIELD(o, "seq", r->seq);
    CHECK_FIELD(o, "batch", r->batch);
    CHECK_FIELD(o, "time", r->time);
    CHECK_BIN(o, "hash", r->hash, 32);
    CHECK(rh_get_bin(o, "prev", 32) != NULL);
    CHECK_STR(o, "kind", info->name);
    CHECK_BIN(o, "signer", r->tx.signer, 32);
    CHECK_FIELD(o, "nonce", r->tx.nonce);
    CHECK_BIN(o, "sig", r->sig, 64);
    CHECK_STR(o, "code", r->code);
    CHECK(RH_BOOL(o, "ok") == (strcmp(r->code, "OK") == 0));
    const msgpack_object *fields = RH_MAP(o, "fields");
    if (fields != NULL) {
        CHECK_U64(fields->via.map.size, info->field_count);
        for (unsigned i = 0; i < info->field_count; i++) {
            const ledger_field *f = &info->fields[i];
            const void *p = ledger_tx_slot(&copy, f->slot);
            if (f->type == LEDGER_F_U64)
                CHECK_FIELD(fields, f->name, *(const uint64_t *)p);
            else
                CHECK_BIN(fields, f->name, p, 32);
        }
    }
    const msgpack_object *out = RH_MAP(o, "out");
    if (out != NULL && strcmp(r->code, "OK") == 0) {
        unsigned n = 0;
        while (n < 4 && info->out_names[n] != NULL)
            n++;
        CHECK_U64(out->via.map.size, n);
        for (unsigned i = 0; i < n; i++)
            CHECK_FIELD(out, info->out_names[i], r->out[i]);
    } else if (out != NULL) {
        CHECK_U64(out->via.map.size, 0);
    }
    if (failures != test_failures)
        fprintf(stderr, "  ^ record seq %llu (%s)\n", (unsigned long long)r->seq, info->name);
}

/* The record lists these accounts as changed without naming them (any order here). */
static void expect_accounts(rec *r, unsigned n, const uint8_t *const *keys)
{
    if (r == NULL)
        return;
    r->naccounts = n;
    for (unsigned i = 0; i < n; i++)
        memcpy(r->accounts[i], keys[i], 32);
    for (unsigned i = 1; i < n; i++) /* insertion sort: ascending, as lstd lists them */
        for (unsigned j = i; j > 0 && memcmp(r->accounts[j - 1], r->accounts[j], 32) > 0; j--) {
            uint8_t t[32];
            memcpy(t, r->accounts[j], 32);
            memcpy(r->accounts[j], r->accounts[j - 1], 32);
            memcpy(r->accounts[j - 1], t, 32);
        }
}

#define EXPECT_ACCOUNTS(r, ...)                                                                    \
    expect_accounts((r), sizeof((const uint8_t *const[]){__VA_ARGS__}) / sizeof(uint8_t *),        \
                    (const uint8_t *const[]){__VA_ARGS__})

static bool names(const rec *r, const uint8_t key[32])
{
    const ledger_kind_info *info = ledger_kind_lookup(r->tx.kind);
    ledger_tx copy = r->tx;
    if (memcmp(r->tx.signer, key, 32) == 0)
        return true;
    for (unsigned i = 0; i < r->naccounts; i++)
        if (memcmp(r->accounts[i], key, 32) == 0)
            return true;
    for (unsigned i = 0; i < info->field_count; i++)
        if (info->fields[i].type == LEDGER_F_KEY &&
            memcmp(ledger_tx_slot(&copy, info->fields[i].slot), key, 32) == 0)
            return true;
    return false;
}

/* Page through history (account != NULL) or events with `limit`, and compare with recs. */
static void check_paging(const uint8_t *account, uint64_t limit)
{
    size_t want[RECS_MAX], nwant = 0, got = 0;
    uint64_t after = 0;
    for (size_t i = 0; i < nrec; i++)
        if (account == NULL || names(&recs[i], account))
            want[nwant++] = i;
    for (int page = 0; page < 200; page++) {
        rh_field f[3];
        size_t n = 0;
        if (account != NULL)
            f[n++] = RH_BIN("account", account, 32);
        f[n++] = RH_UINT("after", after);
        f[n++] = RH_UINT("limit", limit);
        const msgpack_object *res = query(account != NULL ? "history" : "events", f, n);
        if (res == NULL)
            return;
        CHECK_KEYS(res, "records", "next");
        const msgpack_object *records = RH_ARRAY(res, "records");
        if (records == NULL)
            return;
        CHECK(records->via.array.size <= limit);
        for (uint32_t i = 0; i < records->via.array.size; i++, got++) {
            if (got >= nwant) {
                fprintf(stderr, "paging (limit %llu) returned more records than expected\n",
                        (unsigned long long)limit);
                test_failures++;
                return;
            }
            check_record(&records->via.array.ptr[i], &recs[want[got]]);
        }
        bool end = got == nwant;
        if (end) {
            CHECK_NIL(res, "next");
            break;
        }
        uint64_t next = RH_U64(res, "next");
        CHECK(records->via.array.size > 0);
        CHECK_U64(next, recs[want[got - 1]].seq);
        if (next == UINT64_MAX)
            return;
        after = next;
    }
    CHECK_U64(got, nwant);
}

static void check_fee(const msgpack_object *fee, uint64_t bps, uint64_t pending, uint64_t at,
                      uint64_t in_force)
{
    CHECK_KEYS(fee, "bps", "pending_bps", "pending_at", "in_force_bps");
    CHECK_FIELD(fee, "bps", bps);
    CHECK_FIELD(fee, "pending_bps", pending);
    CHECK_FIELD(fee, "pending_at", at);
    CHECK_FIELD(fee, "in_force_bps", in_force);
}

static void check_lien(const msgpack_object *l, uint64_t id, const uint8_t owner[32],
                       const uint8_t beneficiary[32], uint64_t shares, uint64_t expiry,
                       uint64_t created)
{
    CHECK_KEYS(l, "lien_id", "owner", "beneficiary", "shares", "expiry", "created", "value");
    CHECK_FIELD(l, "lien_id", id);
    CHECK_BIN(l, "owner", owner, 32);
    CHECK_BIN(l, "beneficiary", beneficiary, 32);
    CHECK_FIELD(l, "shares", shares);
    CHECK_FIELD(l, "expiry", expiry);
    CHECK_FIELD(l, "created", created);
    CHECK_FIELD(l, "value", mul_div(shares, m.assets, m.shares));
}

static const char *const withdrawal_keys[] = {
    "request_id", "owner", "shares",    "amount_at_request", "min_amount_out", "requested",
    "status",     "paid",  "finalized", "payout_ref",        "settled",        NULL};

static void check_withdrawal(const msgpack_object *w, uint64_t id, const char *status,
                             uint64_t shares, uint64_t at_request, uint64_t paid)
{
    rh_check_keys(w, withdrawal_keys, __FILE__, __LINE__);
    CHECK_FIELD(w, "request_id", id);
    CHECK_STR(w, "status", status);
    CHECK_FIELD(w, "shares", shares);
    CHECK_FIELD(w, "amount_at_request", at_request);
    CHECK_FIELD(w, "paid", paid);
}

static void check_account(const uint8_t key[32], uint64_t free, uint64_t locked, uint64_t queued,
                          uint64_t nonce)
{
    const msgpack_object *a = q_account(key);
    uint64_t total = free + locked + queued;
    CHECK_KEYS(a, "account", "shares", "locked", "queued", "total", "value", "free_value", "nonce",
               "next_nonce", "liens", "allowances", "withdrawals", "truncated");
    CHECK_BIN(a, "account", key, 32);
    CHECK_FIELD(a, "shares", free);
    CHECK_FIELD(a, "locked", locked);
    CHECK_FIELD(a, "queued", queued);
    CHECK_FIELD(a, "total", total);
    CHECK_FIELD(a, "value", mul_div(total, m.assets, m.shares));
    CHECK_FIELD(a, "free_value", mul_div(free, m.assets, m.shares));
    CHECK_FIELD(a, "nonce", nonce);
    CHECK_FIELD(a, "next_nonce", nonce + 1);
    CHECK(!RH_BOOL(a, "truncated"));
}

static void check_pool_model(const msgpack_object *p)
{
    char rate[64];
    CHECK_FIELD(p, "assets", m.assets);
    CHECK_FIELD(p, "shares", m.shares);
    CHECK_FIELD(p, "rate_num", m.assets);
    CHECK_FIELD(p, "rate_den", m.shares);
    rate_text(rate, sizeof rate, m.assets, m.shares);
    CHECK_STR(p, "rate", rate);
    CHECK_FIELD(p, "buffer", m.buffer);
    CHECK_DEC(p, "payable", m.payable); /* the 128-bit totals: decimal strings */
    CHECK_DEC(p, "total_deposited", m.deposited);
    CHECK_DEC(p, "total_rewards", m.rewards);
    CHECK_DEC(p, "total_slashed", m.slashed);
    CHECK_DEC(p, "total_paid", m.paid);
    CHECK_FIELD(p, "dead_shares", DEAD);
}

static const msgpack_object *operator_q(uint64_t id)
{
    return q_num("operator", "operator_id", id);
}

static rh_key u1, u2, op2, fee2, op2b, fee2b, t2, other, mem1, mem2;

/* An account with more than 100 allowances: the list stops at 100 and says truncated. The
 * approvals are pipelined (sent before any reply is read). */
static void test_truncated(void)
{
    enum { N = 101 };
    rh_key owner;
    static msgpack_sbuffer bufs[N];
    rh_keygen(&owner);
    /* a key holding nothing is not recorded: an error reply without a result, no nonce used */
    {
        uint8_t hash[32], sig[64];
        msgpack_sbuffer b;
        ledger_tx t = rh_tx(LEDGER_TX_APPROVE);
        K(&t, "spender", u2.pk), U(&t, "shares", 1);
        t.nonce = 1;
        rh_sign(srv, &t, &owner, hash, sig);
        msgpack_sbuffer_init(&b);
        rh_pack_tx(&b, &t, sig, 899999, NULL, NULL);
        rh_send(dl, b.data, b.size);
        msgpack_sbuffer_destroy(&b);
        CHECK(rh_recv(dl, &rp) == 0);
        CHECK_ERROR(&rp, "SIGNER_HOLDS_NOTHING");
        CHECK(rh_get(rp.root, "result") == NULL);
    }
    /* so give it one share */
    ledger_tx fund = rh_tx(LEDGER_TX_TRANSFER);
    K(&fund, "to", owner.pk), U(&fund, "shares", 1);
    TX_OK(&fund, &u1, 1);
    for (uint64_t i = 0; i < N; i++) {
        rh_key spender;
        uint8_t hash[32], sig[64];
        rh_keygen(&spender);
        ledger_tx t = rh_tx(LEDGER_TX_APPROVE);
        K(&t, "spender", spender.pk), U(&t, "shares", i + 1);
        t.nonce = i + 1;
        rh_sign(srv, &t, &owner, hash, sig);
        msgpack_sbuffer_init(&bufs[i]);
        rh_pack_tx(&bufs[i], &t, sig, 900000 + i, NULL, NULL);
        rh_send(dl, bufs[i].data, bufs[i].size);
    }
    for (uint64_t i = 0; i < N; i++) {
        CHECK(rh_recv(dl, &rp) == 0);
        CHECK_OK(&rp);
        CHECK_FIELD(rp.root, "id", 900000 + i);
        msgpack_sbuffer_destroy(&bufs[i]);
    }
    const msgpack_object *a = q_account(owner.pk);
    const msgpack_object *arr = RH_ARRAY(a, "allowances");
    CHECK(arr != NULL && arr->via.array.size == 100);
    CHECK(RH_BOOL(a, "truncated"));
    CHECK_FIELD(a, "nonce", N);
}

/* ---- --help --------------------------------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 20);
    if (f == NULL || buf == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Run lstd with args; Out: its stdout (malloc'd). Returns: its exit status or -1. */
static int run_lstd(const char *arg1, const char *arg2, char **out)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        execl(LSTD_BINARY, LSTD_BINARY, arg1, arg2, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 1 << 16, n = 0;
    char *buf = calloc(1, cap);
    ssize_t r;
    while (buf != NULL && n < cap - 1 && (r = read(pfd[0], buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Every `strcmp(key, "NAME")` in the body of rpc_config.c's function `fn` must appear in the
 * help text as prefix + NAME. Returns: how many names it found. */
static int check_keys_documented(const char *src, const char *fn, const char *prefix,
                                 const char *text)
{
    const char *body = strstr(src, fn);
    const char *end = body != NULL ? strstr(body, "\n}\n") : NULL;
    int found = 0;
    for (const char *p = body; p != NULL && p < end; p++) {
        if (strncmp(p, "strcmp(key, \"", 13) != 0)
            continue;
        char flag[64];
        const char *q = p + 13, *close_quote = strchr(q, '"');
        if (close_quote == NULL || close_quote - q > 60)
            break;
        snprintf(flag, sizeof flag, "%s%.*s", prefix, (int)(close_quote - q), q);
        for (char *c = flag; prefix[0] != '\0' && *c != '\0'; c++)
            *c = *c == '_' ? '-' : *c; /* a flag is its key with '-' for '_' */
        found++;
        if (text != NULL && strstr(text, flag) == NULL) {
            fprintf(stderr, "--help does not mention %s (rpc_config.c accepts it)\n", flag);
            test_failures++;
        }
    }
    return found;
}

/* --help exits 0 and names every flag rpc_config.c accepts (its set_service keys, --config,
 * --help) and every genesis key (the identity and setting keys, each parameter by its
 * lowercase name), found by reading the source so a new key cannot go undocumented. */
static void test_help(void)
{
    char *text = NULL, *src = slurp(LSTD_SOURCE_DIR "/rpc/rpc_config.c");
    CHECK_U64(run_lstd("--help", NULL, &text), 0);
    const char *fixed[] = {"--endpoint",       "--events",    "--data",
                           "--verify-threads", "--batch-max", "--queue-max",
                           "--durability",     "--config",    "--help"};
    for (size_t i = 0; text != NULL && i < sizeof fixed / sizeof fixed[0]; i++)
        if (strstr(text, fixed[i]) == NULL) {
            fprintf(stderr, "--help does not mention %s\n", fixed[i]);
            test_failures++;
        }
    CHECK(check_keys_documented(src, "static int set_service(", "--", text) >= 7);
    CHECK(check_keys_documented(src, "static int set_genesis_identity(", "", text) == 6);
    CHECK(check_keys_documented(src, "static int set_genesis_setting(", "", text) == 7);
    for (unsigned param = 1; param < LEDGER_PARAM_COUNT; param++) {
        char lower[40];
        const char *name = ledger_param_name(param);
        size_t i = 0;
        for (; name[i] != '\0' && i < sizeof lower - 1; i++)
            lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
        lower[i] = '\0';
        if (text != NULL && strstr(text, lower) == NULL) {
            fprintf(stderr, "--help does not mention the genesis key %s\n", lower);
            test_failures++;
        }
    }
    CHECK(text != NULL && strstr(text, "1606824023") != NULL); /* an Ethereum pool's origin */
    free(text);
    text = NULL;
    CHECK_U64(run_lstd("--no-such-flag", "1", &text), 2);
    free(text);
    free(src);
}

/* ---- the walk: what it did, for the checks after it --------------------------------------- */

static uint8_t ref1[32], ref2[32], ref3[32], payout[32];
static const rh_key *adm, *cus, *op1;
static uint8_t fee1[32]; /* operator 1's fee account */
static uint64_t u1_free, u1_locked, u1_queued, u2_free, u2_queued;
static rec *transfer_rec, *ref_used, *lock1, *lock2, *rep10, *rep11, *rep12, *rep13, *reset2;
static uint64_t reset2_epoch;
static uint64_t expiry, fee, fee_op, fee_tr, q1, q2, q3, p1, pending_at;
static uint8_t head[32];

/* The pool as a fresh development ledger has it. */
static void walk_genesis(void)
{
    const msgpack_object *p;
    p = query("pool", NULL, 0);
    check_pool_model(p);
    CHECK_FIELD(p, "seq", 0);
    CHECK_FIELD(p, "operator_count", 1);
    CHECK_BIN(p, "admin", adm->pk, 32);
    CHECK_BIN(p, "custodian", cus->pk, 32);
    CHECK_BIN(p, "treasury", srv->treasury.pk, 32);
    CHECK_STR(p, "ledger_id", srv->ledger_id);
    CHECK(strncmp(srv->ledger_id, "lstd-dev-", 9) == 0);
}

/* Deposits, transfer, approve, transfer_from. */
static void walk_shares(void)
{
    ledger_tx t;
    t = rh_tx(LEDGER_TX_DEPOSIT);
    K(&t, "to", u1.pk), U(&t, "amount", 1000000000), K(&t, "external_ref", ref1);
    TX_OK(&t, cus, 1000000000, 1000000000);
    m.assets += 1000000000, m.shares += 1000000000, m.buffer += 1000000000;
    m.deposited += 1000000000, u1_free += 1000000000;
    t = rh_tx(LEDGER_TX_DEPOSIT); /* the same reference again: recorded rejection */
    K(&t, "to", u1.pk), U(&t, "amount", 1000000000), K(&t, "external_ref", ref1);
    ref_used = TX_ERR(&t, cus, "DEPOSIT_REF_USED");
    t = rh_tx(LEDGER_TX_DEPOSIT);
    K(&t, "to", u2.pk), U(&t, "amount", 500000000), K(&t, "external_ref", ref2);
    U(&t, "min_shares_out", 500000000);
    TX_OK(&t, cus, 500000000, 500000000);
    m.assets += 500000000, m.shares += 500000000, m.buffer += 500000000;
    m.deposited += 500000000, u2_free += 500000000;
    t = rh_tx(LEDGER_TX_DEPOSIT); /* by someone else than the custodian */
    K(&t, "to", u2.pk), U(&t, "amount", 5), K(&t, "external_ref", ref3);
    TX_ERR(&t, &u1, "NOT_CUSTODIAN");

    /* shares: transfer, approve, transfer_from */
    t = rh_tx(LEDGER_TX_TRANSFER);
    K(&t, "to", u2.pk), U(&t, "shares", 100000000);
    transfer_rec = TX_OK(&t, &u1, 100000000);
    u1_free -= 100000000, u2_free += 100000000;
    t = rh_tx(LEDGER_TX_TRANSFER);
    K(&t, "to", u2.pk), U(&t, "shares", u1_free + 1);
    TX_ERR(&t, &u1, "INSUFFICIENT_SHARES");
    t = rh_tx(LEDGER_TX_APPROVE);
    K(&t, "spender", u2.pk), U(&t, "shares", 50000000);
    TX_OK(&t, &u1, 50000000);
    t = rh_tx(LEDGER_TX_TRANSFER_FROM);
    K(&t, "owner", u1.pk), K(&t, "to", u2.pk), U(&t, "shares", 20000000);
    TX_OK(&t, &u2, 20000000, 30000000);
    u1_free -= 20000000, u2_free += 20000000;
}

/* lock, release, seize; the lien query. */
static void walk_liens(void)
{
    ledger_tx t;
    const msgpack_object *p;
    expiry = (uint64_t)time(NULL) + 86400;
    t = rh_tx(LEDGER_TX_LOCK);
    K(&t, "beneficiary", u2.pk), U(&t, "shares", 10000000);
    lock1 = TX_OK(&t, &u1, 1, 10000000, 10000000);
    t = rh_tx(LEDGER_TX_LOCK);
    K(&t, "beneficiary", u2.pk), U(&t, "shares", 5000000), U(&t, "expiry", expiry);
    lock2 = TX_OK(&t, &u1, 2, 5000000, 5000000);
    u1_free -= 15000000, u1_locked += 15000000;
    t = rh_tx(LEDGER_TX_RELEASE);
    U(&t, "lien_id", 1), U(&t, "shares", 3000000);
    EXPECT_ACCOUNTS(TX_OK(&t, &u2, 3000000, 7000000), u1.pk); /* the lien's owner */
    u1_free += 3000000, u1_locked -= 3000000;
    t = rh_tx(LEDGER_TX_SEIZE);
    U(&t, "lien_id", 1), U(&t, "shares", 2000000), K(&t, "to", u2.pk);
    EXPECT_ACCOUNTS(TX_OK(&t, &u2, 2000000, 2000000, 5000000), u1.pk);
    u1_locked -= 2000000, u2_free += 2000000;
    t = rh_tx(LEDGER_TX_RELEASE); /* the owner before expiry */
    U(&t, "lien_id", 2), U(&t, "shares", 1);
    TX_ERR(&t, &u1, "LIEN_NOT_EXPIRED");
    p = q_num("lien", "lien_id", 1);
    check_lien(p, 1, u1.pk, u2.pk, 5000000, 0, lock1 ? lock1->time : 0);
    p = q_num("lien", "lien_id", 2);
    check_lien(p, 2, u1.pk, u2.pk, 5000000, expiry, lock2 ? lock2->time : 0);
}

/* operator_fund, report (held, accepted, slash), report_accept, operator_exit. The walk's
 * figures are exact, so rewards reach the rate at once here (VEST_S 0, parameter 8 through
 * param_set); walk_economics at the end shows them vesting at the default. */
static void walk_operators(void)
{
    ledger_tx t;
    const msgpack_object *p;
    t = rh_tx(LEDGER_TX_PARAM_SET);
    U(&t, "param", LEDGER_PARAM_VEST_S), U(&t, "value", 0);
    TX_OK(&t, adm, 0);
    t = rh_tx(LEDGER_TX_PARAM_SET); /* at most 30 days */
    U(&t, "param", LEDGER_PARAM_VEST_S), U(&t, "value", 2592001);
    TX_ERR(&t, adm, "PARAM_OUT_OF_RANGE");
    const uint8_t *f1 = rh_get_bin(operator_q(1), "fee_account", 32);
    CHECK(f1 != NULL);
    if (f1 != NULL)
        memcpy(fee1, f1, 32);
    t = rh_tx(LEDGER_TX_OPERATOR_FUND);
    U(&t, "operator_id", 1), U(&t, "amount", 500000000);
    TX_OK(&t, cus, 500000000, 500000000);
    m.buffer -= 500000000;
    t = rh_tx(LEDGER_TX_REPORT);
    U(&t, "operator_id", 1), U(&t, "epoch", 10), U(&t, "balance", 500000000);
    rep10 = TX_OK(&t, op1, 0, 0, 0, 0);
    t = rh_tx(LEDGER_TX_REPORT); /* an epoch that has not started: the freeze of issue 7 */
    U(&t, "operator_id", 1), U(&t, "epoch", UINT64_MAX), U(&t, "balance", 500000000);
    TX_ERR(&t, op1, "EPOCH_IN_FUTURE");
    t = rh_tx(LEDGER_TX_REPORT); /* +2% seconds later: held by the APR limit (batch times) */
    U(&t, "operator_id", 1), U(&t, "epoch", 11), U(&t, "balance", 510000000);
    TX_ERR(&t, op1, "REPORT_APR_EXCEEDED");
    p = operator_q(1);
    const msgpack_object *held = RH_MAP(p, "held");
    CHECK_KEYS(held, "epoch", "balance", "loss");
    CHECK_FIELD(held, "epoch", 11);
    CHECK_FIELD(held, "balance", 510000000);
    CHECK_FIELD(held, "loss", 0); /* a held gain books no loss: no bunker mode */
    CHECK(!RH_BOOL(query("pool", NULL, 0), "bunker"));
    p = operator_q(1);
    CHECK_NIL(p, "apr_bps");
    fee = mul_div(10000000ull * 1000, m.shares,
                  (m.assets + 10000000ull) * 10000 - 10000000ull * 1000);
    fee_op = fee * 500 / 1000, fee_tr = fee - fee_op;
    t = rh_tx(LEDGER_TX_REPORT_ACCEPT);
    U(&t, "operator_id", 1), U(&t, "epoch", 11), U(&t, "balance", 510000000);
    rep11 = TX_OK(&t, adm, 10000000, 0, fee_tr, fee_op);
    EXPECT_ACCOUNTS(rep11, srv->treasury.pk, fee1); /* minted fee shares */
    m.assets += 10000000, m.rewards += 10000000, m.shares += fee;
    t = rh_tx(LEDGER_TX_REPORT_ACCEPT); /* nothing held any more */
    U(&t, "operator_id", 1), U(&t, "epoch", 11), U(&t, "balance", 510000000);
    TX_ERR(&t, adm, "REPORT_NOT_PENDING");
    t = rh_tx(LEDGER_TX_REPORT);
    U(&t, "operator_id", 1), U(&t, "epoch", 12), U(&t, "balance", 505000000);
    rep12 = TX_OK(&t, op1, 0, 5000000, 0, 0);
    m.assets -= 5000000, m.slashed += 5000000;
    t = rh_tx(LEDGER_TX_OPERATOR_EXIT);
    U(&t, "operator_id", 1), U(&t, "amount", 100000000);
    TX_OK(&t, op1, 100000000, 405000000);
    m.buffer += 100000000;
    t = rh_tx(LEDGER_TX_OPERATOR_EXIT);
    U(&t, "operator_id", 1), U(&t, "amount", 1);
    TX_ERR(&t, &u1, "NOT_OPERATOR_OR_CUSTODIAN");
}

/* Withdrawals: one settled, one cancelled, one returned after a slash; queue and withdrawal queries
 * on the way. */
static void walk_withdrawals(void)
{
    ledger_tx t;
    const msgpack_object *p;
    q1 = mul_div(100000000, m.assets, m.shares);
    t = rh_tx(LEDGER_TX_WITHDRAW_REQUEST);
    U(&t, "shares", 100000000);
    rec *wd1 = TX_OK(&t, &u1, 1, q1);
    u1_free -= 100000000, u1_queued += 100000000;
    p = q_num("withdrawal", "request_id", 1);
    check_withdrawal(p, 1, "pending", 100000000, q1, 0);
    CHECK_BIN(p, "owner", u1.pk, 32);
    CHECK_FIELD(p, "min_amount_out", 0);
    CHECK_FIELD(p, "requested", wd1 ? wd1->time : 0);
    CHECK_FIELD(p, "finalized", 0);
    CHECK_FIELD(p, "settled", 0);
    q2 = mul_div(1000000, m.assets, m.shares);
    t = rh_tx(LEDGER_TX_WITHDRAW_REQUEST);
    U(&t, "shares", 1000000);
    TX_OK(&t, &u1, 2, q2);
    t = rh_tx(LEDGER_TX_WITHDRAW_CANCEL);
    U(&t, "request_id", 2);
    TX_OK(&t, &u1, 1000000);
    t = rh_tx(LEDGER_TX_WITHDRAW_CANCEL); /* not the owner */
    U(&t, "request_id", 1);
    TX_ERR(&t, &u2, "WITHDRAWAL_NOT_OWNER");
    q3 = mul_div(10000000, m.assets, m.shares);
    t = rh_tx(LEDGER_TX_WITHDRAW_REQUEST);
    U(&t, "shares", 10000000), U(&t, "min_amount_out", q3);
    TX_OK(&t, &u2, 3, q3);
    u2_free -= 10000000, u2_queued += 10000000;
    p = query("queue", NULL, 0);
    CHECK_KEYS(p, "next_request_id", "finalized_through", "pending_count", "pending_shares",
               "pending_amount", "buffer", "payable");
    CHECK_FIELD(p, "next_request_id", 4);
    CHECK_FIELD(p, "finalized_through", 0);
    CHECK_FIELD(p, "pending_count", 2);
    CHECK_FIELD(p, "pending_shares", 110000000);
    CHECK_DEC(p, "pending_amount", q1 + q3);
    CHECK_FIELD(p, "buffer", m.buffer);
    CHECK_DEC(p, "payable", 0);
    t = rh_tx(LEDGER_TX_REPORT);
    U(&t, "operator_id", 1), U(&t, "epoch", 13), U(&t, "balance", 404000000);
    rep13 = TX_OK(&t, op1, 0, 1000000, 0, 0);
    m.assets -= 1000000, m.slashed += 1000000;
    p1 = mul_div(100000000, m.assets, m.shares);
    p1 = p1 < q1 ? p1 : q1;
    CHECK(mul_div(10000000, m.assets, m.shares) < q3); /* so request 3 is returned */
    t = rh_tx(LEDGER_TX_WITHDRAW_FINALIZE);
    U(&t, "up_to_id", 3);
    rec *fin = TX_OK(&t, cus, 1, p1, 100000000, 1);
    EXPECT_ACCOUNTS(fin, u1.pk, u2.pk); /* request 1 paid, 3 returned */
    m.assets -= p1, m.shares -= 100000000, m.buffer -= p1, m.payable += p1, m.paid += p1;
    u1_queued -= 100000000, u2_queued -= 10000000, u2_free += 10000000;
    p = q_num("withdrawal", "request_id", 1);
    check_withdrawal(p, 1, "finalized", 100000000, q1, p1);
    CHECK_FIELD(p, "finalized", fin ? fin->time : 0);
    t = rh_tx(LEDGER_TX_WITHDRAW_SETTLE);
    U(&t, "request_id", 1), K(&t, "payout_ref", payout);
    rec *settle = TX_OK(&t, cus, p1);
    EXPECT_ACCOUNTS(settle, u1.pk);
    m.payable -= p1;
    t = rh_tx(LEDGER_TX_WITHDRAW_SETTLE);
    U(&t, "request_id", 1), K(&t, "payout_ref", payout);
    TX_ERR(&t, cus, "WITHDRAWAL_ALREADY_SETTLED");
    p = q_num("withdrawal", "request_id", 1);
    check_withdrawal(p, 1, "settled", 100000000, q1, p1);
    CHECK_BIN(p, "payout_ref", payout, 32);
    CHECK_FIELD(p, "settled", settle ? settle->time : 0);
    p = q_num("withdrawal", "request_id", 2);
    check_withdrawal(p, 2, "cancelled", 1000000, q2, 0);
    p = q_num("withdrawal", "request_id", 3);
    check_withdrawal(p, 3, "returned", 10000000, q3, 0);
    CHECK_FIELD(p, "min_amount_out", q3);
}

/* Admin: a second operator, its activity and keys, fees. */
static void walk_admin(void)
{
    ledger_tx t;
    const msgpack_object *p;
    t = rh_tx(LEDGER_TX_OPERATOR_REGISTER);
    K(&t, "operator", op2.pk), K(&t, "fee_account", fee2.pk), U(&t, "fee_bps", 300);
    TX_OK(&t, adm, 2);
    t = rh_tx(LEDGER_TX_OPERATOR_REGISTER); /* the same key again */
    K(&t, "operator", op2.pk), K(&t, "fee_account", fee2.pk), U(&t, "fee_bps", 300);
    TX_ERR(&t, adm, "OPERATOR_KEY_IN_USE");
    t = rh_tx(LEDGER_TX_OPERATOR_SET_ACTIVE);
    U(&t, "operator_id", 2), U(&t, "active", 0);
    TX_OK(&t, adm, 0);
    t = rh_tx(LEDGER_TX_OPERATOR_FUND);
    U(&t, "operator_id", 2), U(&t, "amount", 1000000);
    TX_ERR(&t, cus, "OPERATOR_INACTIVE");
    p = operator_q(2);
    CHECK(!RH_BOOL(p, "active"));
    t = rh_tx(LEDGER_TX_OPERATOR_SET_ACTIVE);
    U(&t, "operator_id", 2), U(&t, "active", 1);
    TX_OK(&t, adm, 1);
    t = rh_tx(LEDGER_TX_OPERATOR_SET_KEYS);
    U(&t, "operator_id", 2), K(&t, "operator", op2b.pk), K(&t, "fee_account", fee2b.pk);
    TX_OK(&t, adm, 2);
    t = rh_tx(LEDGER_TX_FEE_SET); /* a decrease: at once */
    U(&t, "operator_id", 0), U(&t, "fee_bps", 400);
    rec *fee_dec = tx_do(&t, adm, "OK", NULL, __LINE__);
    if (fee_dec != NULL) {
        const msgpack_object *out = RH_MAP(RH_MAP(rp.root, "result"), "out");
        CHECK_KEYS(out, "fee_bps", "effective_at");
        CHECK_FIELD(out, "fee_bps", 400);
        CHECK_FIELD(out, "effective_at", fee_dec->time);
    }
    t = rh_tx(LEDGER_TX_FEE_SET); /* an increase: FEE_DELAY_S later */
    U(&t, "operator_id", 1), U(&t, "fee_bps", 600);
    uint64_t before = last_time;
    rec *fee_inc = tx_do(&t, adm, "OK", NULL, __LINE__);
    pending_at = fee_inc != NULL ? fee_inc->time + 604800 : 0;
    if (fee_inc != NULL) {
        const msgpack_object *out = RH_MAP(RH_MAP(rp.root, "result"), "out");
        CHECK_KEYS(out, "fee_bps", "effective_at");
        CHECK_FIELD(out, "fee_bps", 600);
        CHECK_FIELD(out, "effective_at", pending_at);
        CHECK(fee_inc->time >= before);
    }
    t = rh_tx(LEDGER_TX_FEE_SET);
    U(&t, "operator_id", 2), U(&t, "fee_bps", 9700);
    TX_ERR(&t, adm, "FEE_TOO_HIGH");
    /* operator_reset: only at an epoch that has started, then booked like a report */
    uint64_t epoch = RH_U64(query("pool", NULL, 0), "epoch");
    t = rh_tx(LEDGER_TX_OPERATOR_RESET);
    U(&t, "operator_id", 2), U(&t, "epoch", epoch + 1000), U(&t, "balance", 0);
    TX_ERR(&t, adm, "EPOCH_IN_FUTURE");
    t = rh_tx(LEDGER_TX_OPERATOR_RESET);
    U(&t, "operator_id", 2), U(&t, "epoch", epoch), U(&t, "balance", 0);
    TX_ERR(&t, &op2b, "NOT_ADMIN");
    t = rh_tx(LEDGER_TX_OPERATOR_RESET);
    U(&t, "operator_id", 2), U(&t, "epoch", epoch), U(&t, "balance", 0);
    reset2 = TX_OK(&t, adm, 0, 0, 0, 0);
    reset2_epoch = epoch;
}

/* Admin: parameters (the stake limit in the pool query), pauses, roles. */
static void walk_params(void)
{
    ledger_tx t;
    const msgpack_object *p;
    t = rh_tx(LEDGER_TX_PARAM_SET);
    U(&t, "param", LEDGER_PARAM_STAKE_LIMIT_MAX), U(&t, "value", 2000000000);
    TX_OK(&t, adm, 2000000000);
    p = query("pool", NULL, 0);
    CHECK_FIELD(p, "stake_limit", 2000000000);
    uint64_t d3 = mul_div(100000000, m.shares, m.assets);
    t = rh_tx(LEDGER_TX_DEPOSIT);
    K(&t, "to", u1.pk), U(&t, "amount", 100000000), K(&t, "external_ref", ref3);
    TX_OK(&t, cus, d3, 100000000);
    m.assets += 100000000, m.shares += d3, m.buffer += 100000000, m.deposited += 100000000;
    u1_free += d3;
    p = query("pool", NULL, 0);
    CHECK_FIELD(p, "stake_limit", 1900000000);
    t = rh_tx(LEDGER_TX_PARAM_SET);
    U(&t, "param", LEDGER_PARAM_STAKE_LIMIT_MAX), U(&t, "value", 0);
    TX_OK(&t, adm, 0);
    t = rh_tx(LEDGER_TX_PARAM_SET);
    U(&t, "param", LEDGER_PARAM_MAX_APR_BPS), U(&t, "value", 2000);
    TX_OK(&t, adm, 2000);
    t = rh_tx(LEDGER_TX_PARAM_SET);
    U(&t, "param", 99), U(&t, "value", 1);
    TX_ERR(&t, adm, "PARAM_UNKNOWN");
    t = rh_tx(LEDGER_TX_PAUSE_SET);
    U(&t, "flags", LEDGER_PAUSE_TRANSFERS);
    TX_OK(&t, adm, LEDGER_PAUSE_TRANSFERS);
    p = query("pool", NULL, 0);
    const msgpack_object *paused = RH_MAP(p, "paused");
    CHECK_KEYS(paused, "deposits", "transfers", "withdrawals");
    CHECK(!RH_BOOL(paused, "deposits") && RH_BOOL(paused, "transfers") &&
          !RH_BOOL(paused, "withdrawals"));
    t = rh_tx(LEDGER_TX_TRANSFER);
    K(&t, "to", u2.pk), U(&t, "shares", 1);
    TX_ERR(&t, &u1, "TRANSFERS_PAUSED");
    t = rh_tx(LEDGER_TX_PAUSE_SET);
    U(&t, "flags", 0);
    TX_OK(&t, adm, 0);
    t = rh_tx(LEDGER_TX_ROLE_SET);
    U(&t, "role", LEDGER_ROLE_TREASURY), K(&t, "account", t2.pk);
    TX_OK(&t, adm, LEDGER_ROLE_TREASURY);
    t = rh_tx(LEDGER_TX_ROLE_SET);
    U(&t, "role", LEDGER_ROLE_ADMIN), K(&t, "account", u1.pk);
    TX_ERR(&t, &u1, "NOT_ADMIN");
}

/* The committee's kinds: two members, committee mode, one vote short of the quorum (booked later
 * by the operator's own report once the pool is back in operator mode, which clears it). */
static void walk_committee(void)
{
    ledger_tx t;
    const msgpack_object *p, *o;
    t = rh_tx(LEDGER_TX_ORACLE_ADD);
    K(&t, "member", mem1.pk), U(&t, "quorum", 1);
    TX_OK(&t, adm, 1, 1);
    t = rh_tx(LEDGER_TX_ORACLE_ADD);
    K(&t, "member", mem2.pk), U(&t, "quorum", 1);
    TX_ERR(&t, adm, "QUORUM_NO_MAJORITY");
    U(&t, "quorum", 2);
    TX_OK(&t, adm, 2, 2);
    t = rh_tx(LEDGER_TX_QUORUM_SET);
    U(&t, "mode", LEDGER_REPORT_MODE_COMMITTEE), U(&t, "quorum", 2), U(&t, "minority", 0);
    TX_OK(&t, adm, LEDGER_REPORT_MODE_COMMITTEE, 2, 2);
    p = query("pool", NULL, 0);
    CHECK_STR(p, "report_mode", "committee");
    o = RH_MAP(p, "oracle");
    CHECK_KEYS(o, "members", "quorum", "majority", "minority");
    CHECK(RH_U64(o, "members") == 2 && RH_U64(o, "quorum") == 2 && RH_BOOL(o, "majority") &&
          !RH_BOOL(o, "minority"));
    t = rh_tx(LEDGER_TX_REPORT);
    U(&t, "operator_id", 1), U(&t, "epoch", 14), U(&t, "balance", 1);
    TX_ERR(&t, op1, "OPERATOR_REPORTS_DISABLED");
    t = rh_tx(LEDGER_TX_VOTE);
    U(&t, "operator_id", 1), U(&t, "epoch", 14), U(&t, "balance", 1),
        U(&t, "performance_bps", 9999);
    TX_OK(&t, &mem1, 1, 2, 0, 0);
    U(&t, "performance_bps", 10001);
    TX_ERR(&t, &mem2, "PERFORMANCE_OUT_OF_RANGE");
    t = rh_tx(LEDGER_TX_ORACLE_REMOVE);
    K(&t, "member", mem2.pk), U(&t, "quorum", 1);
    TX_OK(&t, adm, 1, 1, 0);
    t = rh_tx(LEDGER_TX_QUORUM_SET);
    U(&t, "mode", LEDGER_REPORT_MODE_OPERATOR), U(&t, "quorum", 1), U(&t, "minority", 0);
    TX_OK(&t, adm, LEDGER_REPORT_MODE_OPERATOR, 1, 1);
    p = query("pool", NULL, 0);
    CHECK_STR(p, "report_mode", "operator");
}

/* every kind was applied successfully at least once */
static void check_kinds(void)
{
    for (unsigned kind = 1; kind <= LEDGER_TX_KIND_MAX; kind++) {
        bool applied = false;
        for (size_t i = 0; i < nrec && !applied; i++)
            applied = recs[i].tx.kind == kind && strcmp(recs[i].code, "OK") == 0;
        if (!applied) {
            fprintf(stderr, "kind %s was never applied\n", ledger_kind_lookup(kind)->name);
            test_failures++;
        }
    }
}

/* The pool query after the walk: every key, every value. */
static void check_pool(void)
{
    const msgpack_object *p;
    p = query("pool", NULL, 0);
    CHECK_KEYS(p, "ledger_id", "decimals", "assets", "shares", "rate_num", "rate_den", "rate",
               "unvested", "vest_end", "buffer", "payable", "total_deposited", "total_rewards",
               "total_slashed", "total_paid", "dead_shares", "held_loss", "bunker", "bunker_rate",
               "stake_limit", "paused", "params", "treasury_fee", "admin", "custodian", "treasury",
               "operator_count", "next_lien_id", "next_request_id", "finalized_through", "epoch",
               "epoch_start", "report_mode", "oracle", "top_operator_id", "top_operator_share_bps",
               "last_reports", "seq", "batch", "time", "now", "head", "digest");
    check_pool_model(p);
    CHECK_FIELD(p, "unvested", 0); /* VEST_S 0 in the walk */
    CHECK_FIELD(p, "vest_end", 0);
    CHECK_FIELD(p, "held_loss", 0);
    CHECK(!RH_BOOL(p, "bunker"));
    CHECK_NIL(p, "bunker_rate");
    uint64_t now = RH_U64(p, "now"), epoch = (now - EPOCH_ORIGIN) / 384;
    CHECK(now >= last_time && now <= (uint64_t)time(NULL) + 1);
    CHECK_FIELD(p, "epoch", epoch); /* the default clock: EPOCH_S 384 of Unix time */
    CHECK_FIELD(p, "epoch_start", EPOCH_ORIGIN + epoch * 384);
    CHECK_FIELD(p, "top_operator_id", 1); /* operator 2 holds nothing */
    CHECK_FIELD(p, "top_operator_share_bps", mul_div(404000000, 10000, m.assets));
    CHECK_STR(p, "ledger_id", srv->ledger_id);
    CHECK_FIELD(p, "decimals", 9);
    CHECK_NIL(p, "stake_limit");
    const msgpack_object *paused = RH_MAP(p, "paused");
    CHECK(!RH_BOOL(paused, "deposits") && !RH_BOOL(paused, "transfers") &&
          !RH_BOOL(paused, "withdrawals"));
    const msgpack_object *params = RH_MAP(p, "params");
    CHECK_KEYS(params, "STAKE_LIMIT_MAX", "STAKE_LIMIT_REFILL", "MAX_APR_BPS", "MAX_DROP_BPS",
               "OPERATOR_CAP_BPS", "FEE_DELAY_S", "EPOCH_S", "VEST_S");
    CHECK_FIELD(params, "STAKE_LIMIT_MAX", 0);
    CHECK_FIELD(params, "STAKE_LIMIT_REFILL", 0);
    CHECK_FIELD(params, "MAX_APR_BPS", 2000);
    CHECK_FIELD(params, "MAX_DROP_BPS", 500);
    CHECK_FIELD(params, "OPERATOR_CAP_BPS", 0);
    CHECK_FIELD(params, "FEE_DELAY_S", 604800);
    CHECK_FIELD(params, "EPOCH_S", 384);
    CHECK_FIELD(params, "VEST_S", 0);
    check_fee(RH_MAP(p, "treasury_fee"), 400, 0, 0, 400);
    CHECK_BIN(p, "admin", adm->pk, 32);
    CHECK_BIN(p, "custodian", cus->pk, 32);
    CHECK_BIN(p, "treasury", t2.pk, 32);
    CHECK_FIELD(p, "operator_count", 2);
    CHECK_FIELD(p, "next_lien_id", 3);
    CHECK_FIELD(p, "next_request_id", 4);
    CHECK_FIELD(p, "finalized_through", 3);
    CHECK_FIELD(p, "seq", nrec);
    CHECK_FIELD(p, "batch", last_batch);
    CHECK_FIELD(p, "time", last_time);
    CHECK(rh_get_bin(p, "digest", 32) != NULL);
    const msgpack_object *lr = RH_ARRAY(p, "last_reports");
    if (lr != NULL && lr->via.array.size == 2) {
        const msgpack_object *e = &lr->via.array.ptr[0];
        CHECK_KEYS(e, "operator_id", "epoch", "balance", "time");
        CHECK_FIELD(e, "operator_id", 1);
        CHECK_FIELD(e, "epoch", 13);
        CHECK_FIELD(e, "balance", 404000000);
        CHECK_FIELD(e, "time", rep13 ? rep13->time : 0);
        e = &lr->via.array.ptr[1]; /* operator_reset books like a report */
        CHECK_FIELD(e, "operator_id", 2);
        CHECK_FIELD(e, "epoch", reset2_epoch);
        CHECK_FIELD(e, "balance", 0);
        CHECK_FIELD(e, "time", reset2 ? reset2->time : 0);
    } else {
        fprintf(stderr, "pool.last_reports: want two entries (operators 1 and 2)\n");
        test_failures++;
    }
    if (rh_get_bin(p, "head", 32) != NULL)
        memcpy(head, rh_get_bin(p, "head", 32), 32);
}

/* After the walk, at the default VEST_S: a reward vests (the pool shows U and vest_end, the rate
 * grows by the second), a held loss is bunker mode and an exit during it pays at the rate the
 * loss implies, operator_reset books the loss and ends it, a fee increase is in force once due
 * but charged only from the next report period. Each figure is recomputed by the model at the
 * reply's time (a transaction's batch time, a pool query's `now`). */
static void walk_economics(void)
{
    ledger_tx t;
    const msgpack_object *p, *o;
    uint64_t now, a, u;
    char rate[64];
    rec *r;
    t = rh_tx(LEDGER_TX_PARAM_SET);
    U(&t, "param", LEDGER_PARAM_VEST_S), U(&t, "value", VEST_S);
    TX_OK(&t, adm, VEST_S);
    /* +1% seconds after report 13: held (the limit counts batch time), then accepted */
    const uint64_t b0 = 404000000, gain = 4040000, b1 = b0 + gain;
    t = rh_tx(LEDGER_TX_REPORT);
    U(&t, "operator_id", 1), U(&t, "epoch", 14), U(&t, "balance", b1);
    TX_ERR(&t, op1, "REPORT_APR_EXCEEDED");
    /* charged: treasury min(500 when the period began, 400 now), operator 500; U is 0 */
    const uint64_t f = 400 + 500;
    uint64_t fee_r = (uint64_t)((u128)gain * f * m.shares /
                                ((u128)(m.assets + m.unvested + gain) * 10000 - (u128)gain * f));
    uint64_t fop_r = fee_r * 500 / f, ftr_r = fee_r - fop_r;
    uint64_t backing = (uint64_t)(((u128)fee_r * m.assets + m.shares - 1) / m.shares); /* ceil */
    t = rh_tx(LEDGER_TX_REPORT_ACCEPT);
    U(&t, "operator_id", 1), U(&t, "epoch", 14), U(&t, "balance", b1);
    r = TX_OK(&t, adm, gain, 0, ftr_r, fop_r);
    EXPECT_ACCOUNTS(r, t2.pk, fee1);
    uint64_t ta = r != NULL ? r->time : 0;
    m.assets += backing, m.shares += fee_r, m.rewards += gain; /* the fee part vests at once */
    m.unvested = gain - backing, m.vest_ts = ta, m.vest_end = ta + VEST_S;
    CHECK(m.unvested > 0);
    p = query("pool", NULL, 0);
    now = RH_U64(p, "now");
    m_at(now, &a, &u);
    CHECK(now >= ta && now < ta + 60);
    CHECK_FIELD(p, "assets", a);
    CHECK_FIELD(p, "unvested", u);
    CHECK_FIELD(p, "vest_end", ta + VEST_S);
    CHECK(u > 0 && a + u == m.assets + m.unvested);
    CHECK_FIELD(p, "shares", m.shares);
    rate_text(rate, sizeof rate, a, m.shares);
    CHECK_STR(p, "rate", rate);
    CHECK_DEC(p, "total_rewards", m.rewards);
    CHECK_FIELD(p, "top_operator_id", 1);
    CHECK_FIELD(p, "top_operator_share_bps", mul_div(b1, 10000, m.assets + m.unvested));
    o = operator_q(1);
    CHECK_FIELD(o, "share_bps", mul_div(b1, 10000, m.assets + m.unvested)); /* of A + U */
    CHECK_FIELD(o, "period_fee_bps", 500);
    CHECK_FIELD(o, "period_treasury_bps", 400);
    CHECK_DEC(o, "fees_earned", fee_op + fop_r);

    /* -10% (over MAX_DROP_BPS 5%): held, and the pool is in bunker mode until it is booked */
    const uint64_t b2 = b1 / 10 * 9, loss = b1 - b2;
    t = rh_tx(LEDGER_TX_REPORT);
    U(&t, "operator_id", 1), U(&t, "epoch", 15), U(&t, "balance", b2);
    r = TX_ERR(&t, op1, "REPORT_DROP_EXCEEDED");
    m_vest(r != NULL ? r->time : 0);
    o = operator_q(1);
    const msgpack_object *held = RH_MAP(o, "held");
    CHECK_FIELD(held, "epoch", 15);
    CHECK_FIELD(held, "balance", b2);
    CHECK_FIELD(held, "loss", loss);
    p = query("pool", NULL, 0);
    m_at(RH_U64(p, "now"), &a, &u);
    CHECK_FIELD(p, "held_loss", loss);
    CHECK(RH_BOOL(p, "bunker"));
    rate_text(rate, sizeof rate, a - loss, m.shares);
    CHECK_STR(p, "bunker_rate", rate);
    /* an exit now is paid at (A - held loss) / S, not at the rate before the loss */
    const uint64_t x = 10000000;
    t = rh_tx(LEDGER_TX_WITHDRAW_REQUEST);
    U(&t, "shares", x);
    r = tx_do(&t, &u2, "OK", NULL, __LINE__);
    m_vest(r != NULL ? r->time : 0);
    uint64_t quote = mul_div(x, m.assets, m.shares);
    CHECK(r != NULL && r->out[0] == 4 && r->out[1] == quote);
    t = rh_tx(LEDGER_TX_WITHDRAW_FINALIZE);
    U(&t, "up_to_id", 4);
    r = tx_do(&t, cus, "OK", NULL, __LINE__);
    EXPECT_ACCOUNTS(r, u2.pk);
    m_vest(r != NULL ? r->time : 0);
    uint64_t pay = mul_div(x, m.assets - loss, m.shares);
    pay = pay < quote ? pay : quote;
    CHECK(pay < mul_div(x, m.assets, m.shares)); /* the loss was not escaped */
    CHECK(r != NULL && r->out[0] == 1 && r->out[1] == pay && r->out[2] == x && r->out[3] == 0);
    m.assets -= pay, m.shares -= x, m.buffer -= pay, m.payable += pay, m.paid += pay;
    u2_free -= x;

    /* operator_reset by the admin: the hold is dropped and the balance booked, here the loss */
    t = rh_tx(LEDGER_TX_OPERATOR_RESET);
    U(&t, "operator_id", 1), U(&t, "epoch", 16), U(&t, "balance", b2);
    r = TX_OK(&t, adm, 0, loss, 0, 0);
    m_vest(r != NULL ? r->time : 0);
    m.assets -= loss, m.slashed += loss; /* a loss leaves A at once */
    p = query("pool", NULL, 0);
    m_at(RH_U64(p, "now"), &a, &u);
    CHECK_FIELD(p, "assets", a);
    CHECK_FIELD(p, "unvested", u);
    CHECK_FIELD(p, "held_loss", 0);
    CHECK(!RH_BOOL(p, "bunker"));
    CHECK_NIL(p, "bunker_rate");
    CHECK_DEC(p, "total_slashed", m.slashed);
    CHECK_DEC(p, "total_paid", m.paid);
    CHECK_DEC(p, "payable", m.payable);
    o = operator_q(1);
    CHECK_NIL(o, "held");
    CHECK_FIELD(o, "last_epoch", 16);
    CHECK_FIELD(o, "balance", b2);

    /* a treasury fee increase: in force once due, charged from the next report period */
    t = rh_tx(LEDGER_TX_PARAM_SET);
    U(&t, "param", LEDGER_PARAM_FEE_DELAY_S), U(&t, "value", 1);
    TX_OK(&t, adm, 1);
    t = rh_tx(LEDGER_TX_FEE_SET);
    U(&t, "operator_id", 0), U(&t, "fee_bps", 700);
    r = tx_do(&t, adm, "OK", NULL, __LINE__);
    m_vest(r != NULL ? r->time : 0);
    uint64_t due = r != NULL ? r->time + 1 : 0;
    CHECK(r != NULL && r->out[0] == 700 && r->out[1] == due);
    p = query("pool", NULL, 0);
    now = RH_U64(p, "now");
    check_fee(RH_MAP(p, "treasury_fee"), 400, 700, due, now >= due ? 700 : 400);
    for (int i = 0; i < 40 && now < due; i++) {
        rh_sleep_ms(100);
        p = query("pool", NULL, 0);
        now = RH_U64(p, "now");
    }
    CHECK(now >= due);
    check_fee(RH_MAP(p, "treasury_fee"), 400, 700, due, 700); /* bps until a report settles it */
    o = operator_q(1);
    CHECK_FIELD(RH_MAP(o, "fee"), "in_force_bps", 500);
    CHECK_FIELD(o, "period_treasury_bps", 400); /* its period began at the reset */
    CHECK_FIELD(RH_MAP(o, "next_report_fees"), "treasury_bps", 400);
    CHECK_FIELD(RH_MAP(o, "next_report_fees"), "operator_bps", 500);
    t = rh_tx(LEDGER_TX_REPORT); /* no change: a new period begins */
    U(&t, "operator_id", 1), U(&t, "epoch", 17), U(&t, "balance", b2);
    r = TX_OK(&t, op1, 0, 0, 0, 0);
    m_vest(r != NULL ? r->time : 0);
    o = operator_q(1);
    CHECK_FIELD(o, "period_treasury_bps", 700);
    CHECK_FIELD(RH_MAP(o, "next_report_fees"), "treasury_bps", 700);
    p = query("pool", NULL, 0);
    check_fee(RH_MAP(p, "treasury_fee"), 700, 0, 0, 700);
    m_at(RH_U64(p, "now"), &a, &u);
    CHECK_FIELD(p, "assets", a);
    CHECK_FIELD(p, "top_operator_share_bps", mul_div(b2, 10000, m.assets + m.unvested));
}

/* Account queries: balances, values, nonces and the three lists. */
static void check_accounts(void)
{
    const msgpack_object *p;
    const msgpack_object *arr;
    size_t u1_signed = 0;
    for (size_t i = 0; i < nrec; i++)
        u1_signed += memcmp(recs[i].tx.signer, u1.pk, 32) == 0;
    check_account(u1.pk, u1_free, u1_locked, u1_queued, u1_signed);
    p = q_account(u1.pk);
    arr = RH_ARRAY(p, "liens");
    if (arr != NULL && arr->via.array.size == 2) {
        /* the order of the list is not specified */
        uint64_t first = RH_U64(&arr->via.array.ptr[0], "lien_id");
        const msgpack_object *l1 = &arr->via.array.ptr[first == 1 ? 0 : 1];
        const msgpack_object *l2 = &arr->via.array.ptr[first == 1 ? 1 : 0];
        check_lien(l1, 1, u1.pk, u2.pk, 5000000, 0, lock1 ? lock1->time : 0);
        check_lien(l2, 2, u1.pk, u2.pk, 5000000, expiry, lock2 ? lock2->time : 0);
    } else {
        fprintf(stderr, "account u1: want 2 liens\n");
        test_failures++;
    }
    arr = RH_ARRAY(p, "allowances");
    if (arr != NULL && arr->via.array.size == 1) {
        CHECK_KEYS(&arr->via.array.ptr[0], "spender", "shares");
        CHECK_BIN(&arr->via.array.ptr[0], "spender", u2.pk, 32);
        CHECK_FIELD(&arr->via.array.ptr[0], "shares", 30000000);
    } else {
        fprintf(stderr, "account u1: want 1 allowance\n");
        test_failures++;
    }
    arr = RH_ARRAY(p, "withdrawals");
    if (arr != NULL && arr->via.array.size == 2) {
        check_withdrawal(&arr->via.array.ptr[0], 1, "settled", 100000000, q1, p1);
        check_withdrawal(&arr->via.array.ptr[1], 2, "cancelled", 1000000, q2, 0);
    } else {
        fprintf(stderr, "account u1: want 2 withdrawals\n");
        test_failures++;
    }
    check_account(u2.pk, u2_free, 0, u2_queued, 5);
    p = q_account(u2.pk);
    arr = RH_ARRAY(p, "liens"); /* as beneficiary */
    CHECK(arr != NULL && arr->via.array.size == 2);
    arr = RH_ARRAY(p, "withdrawals");
    if (arr != NULL && arr->via.array.size == 1)
        check_withdrawal(&arr->via.array.ptr[0], 3, "returned", 10000000, q3, 0);
    else
        test_failures++;
    check_account(srv->treasury.pk, fee_tr, 0, 0, 0);
    check_account(other.pk, 0, 0, 0, 0); /* unknown: all zero, not NOT_FOUND */
}

/* Operator queries: fee schedule, balances, reports, share and annualised rate. */
static void check_operators(void)
{
    const msgpack_object *p;
    const msgpack_object *arr;
    p = operator_q(1);
    CHECK_KEYS(p, "operator_id", "key", "fee_account", "active", "fee", "period_fee_bps",
               "period_treasury_bps", "next_report_fees", "balance", "reported_balance",
               "funded_since", "exited_since", "last_epoch", "last_report_time", "epoch",
               "fees_earned", "share_bps", "apr_bps", "held", "reports");
    CHECK_FIELD(p, "operator_id", 1);
    CHECK_BIN(p, "key", op1->pk, 32);
    CHECK_BIN(p, "fee_account", op1->pk, 32);
    CHECK(RH_BOOL(p, "active"));
    check_fee(RH_MAP(p, "fee"), 500, 600, pending_at, 500); /* the increase is a week away */
    /* its period began at report 13, before the treasury fee fell 500 -> 400: a decrease
     * lowers the running period's fee at once, so the next report pays 400 */
    CHECK_FIELD(p, "period_fee_bps", 500);
    CHECK_FIELD(p, "period_treasury_bps", 400);
    const msgpack_object *next = RH_MAP(p, "next_report_fees");
    CHECK_KEYS(next, "treasury_bps", "operator_bps");
    CHECK_FIELD(next, "treasury_bps", 400);
    CHECK_FIELD(next, "operator_bps", 500);
    CHECK_FIELD(p, "balance", 404000000);
    CHECK_FIELD(p, "reported_balance", 404000000);
    CHECK_DEC(p, "funded_since", 0);
    CHECK_DEC(p, "exited_since", 0);
    CHECK_FIELD(p, "last_epoch", 13);
    CHECK_FIELD(p, "last_report_time", rep13 ? rep13->time : 0);
    CHECK(RH_U64(p, "epoch") > 13); /* the current epoch: Ethereum's */
    CHECK_DEC(p, "fees_earned", fee_op);
    CHECK_FIELD(p, "share_bps", mul_div(404000000, 10000, m.assets)); /* of A + U; U is 0 */
    /* (gain - losses after the oldest) * 10000 * year / (oldest balance * the seconds between
     * the oldest and newest report's batch times); nil when they share a second */
    uint64_t span = rep10 && rep13 ? rep13->time - rep10->time : 0;
    if (span == 0)
        CHECK_NIL(p, "apr_bps");
    else
        CHECK_FIELD(p, "apr_bps",
                    (10000000ull - 5000000 - 1000000) * 10000 * YEAR_S / (500000000ull * span));
    CHECK_NIL(p, "held");
    arr = RH_ARRAY(p, "reports");
    if (arr != NULL && arr->via.array.size == 4) {
        const uint64_t want[4][6] = {
            {10, 500000000, rep10 ? rep10->time : 0, 0, 0, 0},
            {11, 510000000, rep11 ? rep11->time : 0, 10000000, 0, fee},
            {12, 505000000, rep12 ? rep12->time : 0, 0, 5000000, 0},
            {13, 404000000, rep13 ? rep13->time : 0, 0, 1000000, 0},
        };
        for (int i = 0; i < 4; i++) {
            const msgpack_object *e = &arr->via.array.ptr[i];
            CHECK_KEYS(e, "epoch", "balance", "time", "gain", "loss", "fee_shares");
            CHECK_FIELD(e, "epoch", want[i][0]);
            CHECK_FIELD(e, "balance", want[i][1]);
            CHECK_FIELD(e, "time", want[i][2]);
            CHECK_FIELD(e, "gain", want[i][3]);
            CHECK_FIELD(e, "loss", want[i][4]);
            CHECK_FIELD(e, "fee_shares", want[i][5]);
        }
    } else {
        fprintf(stderr, "operator 1: want 4 reports\n");
        test_failures++;
    }
    p = operator_q(2);
    CHECK_BIN(p, "key", op2b.pk, 32);
    CHECK_BIN(p, "fee_account", fee2b.pk, 32);
    CHECK(RH_BOOL(p, "active"));
    check_fee(RH_MAP(p, "fee"), 300, 0, 0, 300);
    CHECK_FIELD(p, "period_fee_bps", 300); /* its period began at the reset */
    CHECK_FIELD(p, "period_treasury_bps", 400);
    CHECK_FIELD(RH_MAP(p, "next_report_fees"), "treasury_bps", 400);
    CHECK_FIELD(RH_MAP(p, "next_report_fees"), "operator_bps", 300);
    CHECK_FIELD(p, "balance", 0);
    CHECK_FIELD(p, "share_bps", 0);
    CHECK_FIELD(p, "last_epoch", reset2_epoch);
    CHECK_FIELD(p, "last_report_time", reset2 ? reset2->time : 0);
    CHECK_NIL(p, "apr_bps");
    CHECK_NIL(p, "held");
    arr = RH_ARRAY(p, "reports");
    if (arr != NULL && arr->via.array.size == 1) {
        CHECK_FIELD(&arr->via.array.ptr[0], "epoch", reset2_epoch);
        CHECK_FIELD(&arr->via.array.ptr[0], "gain", 0);
        CHECK_FIELD(&arr->via.array.ptr[0], "loss", 0);
    } else {
        fprintf(stderr, "operator 2: want the reset as its one report\n");
        test_failures++;
    }
}

/* quotes both ways */
static void check_quotes(void)
{
    const msgpack_object *p;
    p = q_num("quote", "amount", 1000000000);
    CHECK_KEYS(p, "amount", "shares", "rate_num", "rate_den");
    CHECK_FIELD(p, "amount", 1000000000);
    CHECK_FIELD(p, "shares", mul_div(1000000000, m.shares, m.assets));
    CHECK_FIELD(p, "rate_num", m.assets);
    CHECK_FIELD(p, "rate_den", m.shares);
    p = q_num("quote", "shares", 1000000000);
    CHECK_FIELD(p, "shares", 1000000000);
    CHECK_FIELD(p, "amount", mul_div(1000000000, m.assets, m.shares));
}

/* every record by hash, history and events paging */
static void check_records(void)
{
    for (size_t i = 0; i < nrec; i++) {
        rh_field f = RH_BIN("hash", recs[i].hash, 32);
        check_record(query("tx", &f, 1), &recs[i]);
    }
    check_paging(u1.pk, 3);
    check_paging(u1.pk, 500);
    check_paging(u2.pk, 1);
    check_paging(other.pk, 5); /* no history: an empty page, next nil */
    check_paging(NULL, 7);
    check_paging(NULL, 1000);
    {
        rh_field f[2] = {RH_BIN("account", u1.pk, 32), RH_UINT("after", 0)};
        const msgpack_object *res = query("history", f, 2); /* default limit 50 */
        const msgpack_object *records = RH_ARRAY(res, "records");
        CHECK_NIL(res, "next");
        CHECK(records != NULL && records->via.array.size > 3);
        rh_field e = RH_UINT("after", nrec);
        res = query("events", &e, 1);
        records = RH_ARRAY(res, "records");
        CHECK(records != NULL && records->via.array.size == 0);
        CHECK_NIL(res, "next");
    }
}

/* NOT_FOUND */
static void check_not_found(void)
{
    uint8_t zero_hash[32] = {0};
    rh_field nf = RH_BIN("hash", zero_hash, 32);
    q_not_found("tx", &nf);
    nf = RH_UINT("lien_id", 99);
    q_not_found("lien", &nf);
    nf = RH_UINT("request_id", 99);
    q_not_found("withdrawal", &nf);
    nf = RH_UINT("operator_id", 3);
    q_not_found("operator", &nf);
    nf = RH_UINT("operator_id", 0);
    q_not_found("operator", &nf);
}

/* Resubmitted transactions are their recorded results, flagged duplicate. */
static void check_duplicates(void)
{
    if (transfer_rec != NULL) {
        msgpack_sbuffer buf;
        uint64_t id = rh_next_id();
        msgpack_sbuffer_init(&buf);
        rh_pack_tx(&buf, &transfer_rec->tx, transfer_rec->sig, id, NULL, NULL);
        rh_call(dl, &buf, id, &rp);
        msgpack_sbuffer_destroy(&buf);
        CHECK_OK(&rp);
        const msgpack_object *res = RH_MAP(rp.root, "result");
        CHECK(RH_BOOL(res, "duplicate"));
        CHECK(RH_BOOL(res, "recorded"));
        CHECK_FIELD(res, "seq", transfer_rec->seq);
        CHECK_FIELD(res, "batch", transfer_rec->batch);
        CHECK_FIELD(res, "time", transfer_rec->time);
        CHECK_BIN(res, "hash", transfer_rec->hash, 32);
        CHECK_FIELD(RH_MAP(res, "out"), "shares_moved", 100000000);
    }
    /* a recorded rejection resubmitted: its recorded result, still not ok */
    if (ref_used != NULL) {
        msgpack_sbuffer buf;
        uint64_t id = rh_next_id();
        msgpack_sbuffer_init(&buf);
        rh_pack_tx(&buf, &ref_used->tx, ref_used->sig, id, NULL, NULL);
        rh_call(dl, &buf, id, &rp);
        msgpack_sbuffer_destroy(&buf);
        CHECK_ERROR(&rp, "DEPOSIT_REF_USED");
        const msgpack_object *res = RH_MAP(rp.root, "result");
        CHECK(RH_BOOL(res, "duplicate"));
        CHECK_STR(res, "code", "DEPOSIT_REF_USED");
        CHECK_FIELD(res, "seq", ref_used->seq);
        const msgpack_object *out = RH_MAP(res, "out");
        CHECK(out != NULL && out->via.map.size == 0);
    }
}

/* The health query and its counters (one bad signature and one malformed request first). */
static void check_health(void)
{
    ledger_tx t;
    const msgpack_object *p;
    {
        msgpack_sbuffer buf;
        uint8_t hash[32], sig[64];
        uint64_t id = rh_next_id();
        t = rh_tx(LEDGER_TX_TRANSFER);
        K(&t, "to", u2.pk), U(&t, "shares", 1);
        t.nonce = rh_next_nonce(dl, u1.pk);
        rh_sign(srv, &t, &u1, hash, sig);
        sig[5] ^= 1;
        msgpack_sbuffer_init(&buf);
        rh_pack_tx(&buf, &t, sig, id, NULL, NULL);
        rh_call(dl, &buf, id, &rp);
        CHECK_ERROR(&rp, "BAD_SIGNATURE");
        msgpack_sbuffer_destroy(&buf);
        rh_send(dl, "\xc1", 1);
        rh_recv(dl, &rp);
        CHECK_ERROR(&rp, "MALFORMED");
    }
    p = query("health", NULL, 0);
    CHECK_KEYS(p, "status", "ledger_id", "seq", "batch", "uptime_s", "queue_depth", "queue_max",
               "connections", "subscribers", "subscriptions", "reply_bytes", "replication",
               "counters");
    CHECK_STR(p, "status", "ok");
    CHECK_STR(p, "ledger_id", srv->ledger_id);
    CHECK_FIELD(p, "seq", nrec);
    CHECK_FIELD(p, "batch", last_batch);
    CHECK(RH_U64(p, "uptime_s") < 600);
    CHECK(RH_U64(p, "queue_depth") <= 1);
    CHECK_FIELD(p, "queue_max", 16384);
    CHECK(RH_U64(p, "connections") >= 1);
    CHECK(RH_U64(p, "reply_bytes") < 1u << 20);
    const msgpack_object *c = RH_MAP(p, "counters");
    CHECK_KEYS(c, "requests", "transactions", "queries", "batches", "batch_size_max",
               "commit_ms_total", "busy", "malformed", "bad_signatures", "duplicates",
               "replies_dropped", "simulations", "busy_unread", "paused_unread", "paused_share",
               "refused", "protocol_drops", "slow_drops", "auth_failures", "subscriptions_ignored",
               "events_dropped");
    uint64_t ids = rh_next_id() - 1; /* requests with an id so far, and one without */
    CHECK(RH_U64(c, "requests") >= ids && RH_U64(c, "requests") <= ids + 1);
    CHECK(RH_U64(c, "transactions") >= nrec + 1);
    CHECK(RH_U64(c, "queries") >= 50);
    /* every transaction here was sent alone, so each recorded one is a batch of its own; the
     * two duplicates make writes that record nothing (PROTOCOL.md does not say whether the
     * counter includes them) */
    CHECK(RH_U64(c, "batches") >= last_batch && RH_U64(c, "batches") <= last_batch + 2);
    CHECK(RH_U64(c, "batch_size_max") >= 1);
    CHECK(RH_U64(c, "commit_ms_total") < 60000);
    CHECK_FIELD(c, "busy", 0);
    CHECK_FIELD(c, "malformed", 1);
    CHECK_FIELD(c, "bad_signatures", 1);
    CHECK_FIELD(c, "duplicates", 2);
    CHECK_FIELD(c, "replies_dropped", 0);
    const char *zero[] = {"paused_share", "busy_unread",   "refused",       "protocol_drops",
                          "slow_drops",   "auth_failures", "events_dropped"};
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        CHECK_FIELD(c, zero[i], 0);
}

/* The pool's head is the next record's prev; approve 0 removes an allowance. */
static void check_head(void)
{
    ledger_tx t;
    const msgpack_object *p;
    const msgpack_object *arr;
    t = rh_tx(LEDGER_TX_APPROVE);
    K(&t, "spender", u2.pk), U(&t, "shares", 0);
    rec *last = TX_OK(&t, &u1, 0);
    if (last != NULL) {
        rh_field f = RH_BIN("hash", last->hash, 32);
        p = query("tx", &f, 1);
        check_record(p, last);
        CHECK_BIN(p, "prev", head, 32);
    }
    p = q_account(u1.pk);
    arr = RH_ARRAY(p, "allowances"); /* approve 0 removes it */
    CHECK(arr != NULL && arr->via.array.size == 0);
}

int main(void)
{
    rh_init("test_rpc_ops", 120);
    test_help();
    srv = rh_start(NULL);
    if (srv == NULL) {
        test_failures++;
        return test_finish("test_rpc_ops");
    }
    dl = rh_dealer(srv);
    rh_reply_init(&rp);
    rh_keygen(&u1);
    rh_keygen(&u2);
    rh_keygen(&op2);
    rh_keygen(&fee2);
    rh_keygen(&op2b);
    rh_keygen(&fee2b);
    rh_keygen(&t2);
    rh_keygen(&other);
    rh_keygen(&mem1);
    rh_keygen(&mem2);
    memset(ref1, 0xa1, 32);
    memset(ref2, 0xa2, 32);
    memset(ref3, 0xa3, 32);
    memset(payout, 0xbb, 32);
    adm = &srv->admin, cus = &srv->custodian, op1 = &srv->operator_key;
    walk_genesis();
    walk_shares();
    walk_liens();
    walk_operators();
    walk_withdrawals();
    walk_admin();
    walk_params();
    walk_committee();
    check_kinds();
    check_pool();
    check_accounts();
    check_operators();
    check_quotes();
    check_records();
    check_not_found();
    check_duplicates();
    check_health();
    check_head();
    walk_economics();
    test_truncated(); /* (its records are not in recs) */
    CHECK_U64(rh_stop(srv, SIGTERM, 20000), 0);
    rh_reply_free(&rp);
    rh_close(dl);
    rh_free(&srv);
    return test_finish("test_rpc_ops");
}
