/* test_rpc_reply.c - error, transaction and query replies decoded with msgpack-c and checked */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "rpc_reply.h"
#include "test_util.h"

__extension__ typedef unsigned __int128 u128;

enum { U0 = FX_USER, U1, U2, U3, U4, U5, U6, U7 };

#define YEAR_S 31536000u
#define VEST_S 86400u       /* the default: a reward vests over a day */
#define T0 1000000u         /* fixture genesis time */
#define T1 (T0 + YEAR_S)    /* first report: a year after the operator's registration */
#define T2 (T1 + YEAR_S)    /* second report and the slash, a year later */
#define T3 (T2 + 43200u)    /* the rest, half a day later: report 2's reward half vested */
#define Q (T3 + 3600u)      /* the queries' time: an hour after the last batch */
#define EPOCH2 (1 + 82125)  /* one year of 384 s epochs after epoch 1 */
#define EPOCH3 (EPOCH2 + 1) /* the slash */
#define BAL1 10500000u      /* first report: +5 % on the funded 10,000,000 */
#define BAL2 11025000u      /* second report: +5 % */
#define BAL3 10914750u      /* third report: -1 % */
#define EPOCH_HELD (EPOCH3 + 1)

/* ---- decoding helpers -------------------------------------------------------------------- */

static void fail(int line, const char *what, const char *key)
{
    fprintf(stderr, "%s:%d: %s (key \"%s\")\n", __FILE__, line, what, key);
    test_failures++;
}

/* Returns: the value of `key` in map m, or NULL (also when m is NULL or not a map). */
static const msgpack_object *mp_get(const msgpack_object *m, const char *key)
{
    size_t len = strlen(key);
    if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == len &&
            memcmp(kv->key.via.str.ptr, key, len) == 0)
            return &kv->val;
    }
    return NULL;
}

static const msgpack_object *get_typed(const msgpack_object *m, const char *key,
                                       msgpack_object_type type, int line)
{
    const msgpack_object *v = mp_get(m, key);
    if (v == NULL)
        fail(line, "missing", key);
    else if (v->type != type)
        fail(line, "wrong type", key);
    return v != NULL && v->type == type ? v : NULL;
}

static uint64_t get_u64(const msgpack_object *m, const char *key, int line)
{
    const msgpack_object *v = get_typed(m, key, MSGPACK_OBJECT_POSITIVE_INTEGER, line);
    return v != NULL ? v->via.u64 : UINT64_MAX;
}

/* A 128-bit total: a str of decimal digits (no sign, no leading zero) equal to want. */
static void check_dec(const msgpack_object *m, const char *key, u128 want, int line)
{
    char text[40];
    const msgpack_object *v = get_typed(m, key, MSGPACK_OBJECT_STR, line);
    ledger_u128_str(text, want);
    if (v != NULL &&
        (v->via.str.size != strlen(text) || memcmp(v->via.str.ptr, text, strlen(text))))
        fprintf(stderr, "%s:%d: \"%s\" = \"%.*s\", want \"%s\"\n", __FILE__, line, key,
                (int)v->via.str.size, v->via.str.ptr, text),
            test_failures++;
}

static void check_str(const msgpack_object *m, const char *key, const char *want, int line)
{
    const msgpack_object *v = get_typed(m, key, MSGPACK_OBJECT_STR, line);
    if (v == NULL ||
        (v->via.str.size == strlen(want) && memcmp(v->via.str.ptr, want, v->via.str.size) == 0))
        return;
    fprintf(stderr, "%s:%d: \"%s\" = \"%.*s\", want \"%s\"\n", __FILE__, line, key,
            (int)v->via.str.size, v->via.str.ptr, want);
    test_failures++;
}

static void check_bin(const msgpack_object *m, const char *key, const uint8_t *want, size_t len,
                      int line)
{
    const msgpack_object *v = get_typed(m, key, MSGPACK_OBJECT_BIN, line);
    if (v != NULL && (v->via.bin.size != len || memcmp(v->via.bin.ptr, want, len) != 0))
        fail(line, "bin differs", key);
}

static void check_bool(const msgpack_object *m, const char *key, bool want, int line)
{
    const msgpack_object *v = get_typed(m, key, MSGPACK_OBJECT_BOOLEAN, line);
    if (v != NULL && v->via.boolean != want)
        fail(line, want ? "false, want true" : "true, want false", key);
}

static void check_nil(const msgpack_object *m, const char *key, int line)
{
    (void)get_typed(m, key, MSGPACK_OBJECT_NIL, line);
}

/* The map's keys, exactly and in this order (NULL-terminated list). */
static void check_keys(const msgpack_object *m, const char *const *keys, int line)
{
    uint32_t n = 0;
    while (keys[n] != NULL)
        n++;
    if (m == NULL || m->type != MSGPACK_OBJECT_MAP || m->via.map.size != n) {
        fail(line, "not a map of the expected size", keys[0] != NULL ? keys[0] : "");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != strlen(keys[i]) ||
            memcmp(k->via.str.ptr, keys[i], k->via.str.size) != 0)
            fail(line, "key out of order or unexpected", keys[i]);
    }
}

/* Returns: the array under key, or NULL (a failed check) when it is not an array of n items. */
static const msgpack_object *get_array(const msgpack_object *m, const char *key, uint32_t n,
                                       int line)
{
    const msgpack_object *v = get_typed(m, key, MSGPACK_OBJECT_ARRAY, line);
    if (v != NULL && v->via.array.size != n) {
        fprintf(stderr, "%s:%d: \"%s\" has %u items, want %u\n", __FILE__, line, key,
                v->via.array.size, n);
        test_failures++;
        return NULL;
    }
    return v;
}

#define U64(m, k) get_u64((m), (k), __LINE__)
#define DEC_IS(m, k, want) check_dec((m), (k), (want), __LINE__)
#define STR_IS(m, k, s) check_str((m), (k), (s), __LINE__)
#define BIN_IS(m, k, b, n) check_bin((m), (k), (b), (n), __LINE__)
#define KEY_IS(m, k, b) check_bin((m), (k), (b), 32, __LINE__)
#define BOOL_IS(m, k, v) check_bool((m), (k), (v), __LINE__)
#define NIL_IS(m, k) check_nil((m), (k), __LINE__)
#define KEYS_ARE(m, ...) check_keys((m), (const char *const[]){__VA_ARGS__, NULL}, __LINE__)
#define ARRAY(m, k, n) get_array((m), (k), (n), __LINE__)
#define ITEM(a, i) (&(a)->via.array.ptr[i])

/* ---- running replies --------------------------------------------------------------------- */

typedef struct qt {
    fixture *f;
    msgpack_sbuffer buf;
    msgpack_unpacked up;
    rpc_counters counters;
    uint64_t now; /* the server clock passed to rpc_reply_query */
} qt;

/* Decode buf as exactly one map. Returns: the map, valid until the next decode. */
static const msgpack_object *decode(qt *t)
{
    size_t off = 0;
    msgpack_unpacked_destroy(&t->up);
    msgpack_unpacked_init(&t->up);
    if (msgpack_unpack_next(&t->up, t->buf.data, t->buf.size, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != t->buf.size || t->up.data.type != MSGPACK_OBJECT_MAP) {
        fail(__LINE__, "reply is not one msgpack map", "");
        return NULL;
    }
    return &t->up.data;
}

static const msgpack_object *reply_on(qt *t, ledger_store *view, const rpc_request *req)
{
    CHECK(rpc_reply_query(&t->buf, view, req, t->now, &t->counters, NULL) == 0);
    return decode(t);
}

static const msgpack_object *reply_of(qt *t, const rpc_request *req)
{
    return reply_on(t, store_db_view(t->f->store), req);
}

/* Run a query that must succeed. Returns: its result map. */
static const msgpack_object *query_ok(qt *t, const rpc_request *req, int line)
{
    const msgpack_object *r = reply_of(t, req);
    check_bool(r, "ok", true, line);
    const msgpack_object *res = get_typed(r, "result", MSGPACK_OBJECT_MAP, line);
    if (mp_get(r, "error") != NULL)
        fail(line, "error in a successful reply", "error");
    return res;
}

/* Check an error reply: [id], ok false, error `name`, a message. */
static void check_error(const msgpack_object *r, const char *name, bool has_id, int line)
{
    if (has_id)
        check_keys(r, (const char *const[]){"id", "ok", "error", "message", NULL}, line);
    else
        check_keys(r, (const char *const[]){"ok", "error", "message", NULL}, line);
    check_bool(r, "ok", false, line);
    check_str(r, "error", name, line);
    const msgpack_object *m = get_typed(r, "message", MSGPACK_OBJECT_STR, line);
    if (m != NULL && m->via.str.size == 0)
        fail(line, "empty message", "message");
}

static void query_err(qt *t, const rpc_request *req, const char *name, int line)
{
    check_error(reply_of(t, req), name, false, line);
}

#define QUERY_OK(t, req) query_ok((t), (req), __LINE__)
#define QUERY_ERR(t, req, name) query_err((t), (req), (name), __LINE__)

static rpc_request rq(unsigned query, const uint8_t *key, uint64_t number)
{
    rpc_request r;
    memset(&r, 0, sizeof r);
    r.query = query;
    if (key != NULL)
        memcpy(r.key, key, LEDGER_KEY_SIZE);
    r.number = number;
    return r;
}

static rpc_request rq_page(unsigned query, const uint8_t *key, uint64_t after, uint64_t limit)
{
    rpc_request r = rq(query, key, 0);
    r.after = after;
    r.limit = limit;
    return r;
}

/* floor(a * b / c) and A/S as 18-digit decimal by long division: independent of rpc_query.c. */
static uint64_t mdf(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)((u128)a * b / c);
}

static void rate_text(char *out, uint64_t a, uint64_t s)
{
    int n = sprintf(out, "%" PRIu64 ".", a / s);
    uint64_t r = a % s;
    for (int i = 0; i < 18; i++) {
        u128 x = (u128)r * 10;
        out[n++] = (char)('0' + (int)(x / s));
        r = (uint64_t)(x % s);
    }
    out[n] = '\0';
}

/* ---- the scenario ------------------------------------------------------------------------ */

typedef struct scenario {
    ledger_tx deposit_tx, second_deposit_tx, reject_tx;
    ledger_result deposit_res, reject_res;
    uint64_t u0_seqs[16];
    size_t u0_n;
    uint8_t payout_ref[LEDGER_REF_SIZE];
    uint64_t req3_min;
} scenario;

static ledger_result ok_do(fixture *f, int signer, unsigned kind, int a, int a2, uint64_t id,
                           uint64_t amount, uint64_t limit)
{
    ledger_result r = fx_do(f, signer, kind, a, a2, id, amount, limit);
    CHECK_CODE(r.code, LEDGER_OK);
    return r;
}

static void u0_do(fixture *f, scenario *sc, int signer, unsigned kind, int a, int a2,
                  uint64_t amount, uint64_t limit)
{
    sc->u0_seqs[sc->u0_n++] = ok_do(f, signer, kind, a, a2, 0, amount, limit).seq;
}

/* seqs 1..8: deposits, transfers, allowances, liens. */
static void build_accounts(fixture *f, scenario *sc)
{
    sc->deposit_tx = fx_tx(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, U0, FX_NONE, 0, 10000000, 0);
    sc->deposit_res = fx_submit(f, &sc->deposit_tx);
    CHECK_CODE(sc->deposit_res.code, LEDGER_OK);
    sc->u0_seqs[sc->u0_n++] = sc->deposit_res.seq;
    sc->second_deposit_tx = fx_tx(f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, U1, FX_NONE, 0, 5000000, 0);
    CHECK_CODE(fx_submit(f, &sc->second_deposit_tx).code, LEDGER_OK);
    u0_do(f, sc, U0, LEDGER_TX_TRANSFER, U2, FX_NONE, 1000000, 0);
    u0_do(f, sc, U0, LEDGER_TX_APPROVE, U3, FX_NONE, 500000, 0);
    u0_do(f, sc, U0, LEDGER_TX_APPROVE, U5, FX_NONE, 7, 0);
    u0_do(f, sc, U3, LEDGER_TX_TRANSFER_FROM, U0, U3, 100000, 0);
    u0_do(f, sc, U0, LEDGER_TX_LOCK, U4, FX_NONE, 2000000, T0 + 100000); /* lien 1 */
    u0_do(f, sc, U2, LEDGER_TX_LOCK, U0, FX_NONE, 100000, 0);            /* lien 2 */
}

/* seqs 9..24: operator stake, reports a year apart (the APR limit counts batch time),
 * withdrawals in every status, a recorded rejection. */
static void build_operators_withdrawals(fixture *f, scenario *sc)
{
    ok_do(f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 10000000, 0);
    f->now = T1;
    ok_do(f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, BAL1, 1);
    f->now = T2;
    ok_do(f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, BAL2, EPOCH2);
    ok_do(f, U1, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 1000000, 0); /* 1 */
    ok_do(f, U1, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 500000, 0);  /* 2 */
    ok_do(f, U1, LEDGER_TX_WITHDRAW_CANCEL, FX_NONE, FX_NONE, 2, 0, 0);
    ledger_pool p = fx_pool(f);
    CHECK_CODE(ledger_shares_to_amount(&p, 300000, &sc->req3_min), LEDGER_OK);
    ok_do(f, U1, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 300000, sc->req3_min); /* 3 */
    ok_do(f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, BAL3, EPOCH3);
    ledger_result r =
        ok_do(f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 3, 0, 0);
    CHECK_U64(r.out[0], 1); /* request 1 paid */
    CHECK_U64(r.out[3], 1); /* request 3 returned */
    f->now = T3;
    ledger_tx settle = fx_tx(f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_SETTLE, FX_NONE, FX_NONE, 1, 0, 0);
    memcpy(sc->payout_ref, settle.ref, LEDGER_REF_SIZE);
    CHECK_CODE(fx_submit(f, &settle).code, LEDGER_OK);
    ok_do(f, U1, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 100000, 0); /* 4 */
    ok_do(f, U1, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 50000, 0);  /* 5 */
    ok_do(f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, 4, 0, 0);
    ok_do(f, FX_ADMIN, LEDGER_TX_OPERATOR_REGISTER, U6, U7, 0, 300, 0); /* operator 2 */
    CHECK_CODE(fx_do(f, U2, LEDGER_TX_TRANSFER, U4, FX_NONE, 0, 1000000000000, 0).code,
               LEDGER_INSUFFICIENT_SHARES);
    sc->reject_tx =
        fx_tx(f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, 20000000, EPOCH_HELD);
    sc->reject_res = fx_submit(f, &sc->reject_tx);
    CHECK_CODE(sc->reject_res.code, LEDGER_REPORT_APR_EXCEEDED);
    CHECK_U64(fx_chain(f).next_seq, 25);
}

/* ---- transaction and error replies ------------------------------------------------------- */

static void test_error_replies(qt *t)
{
    rpc_id none = {0}, num = {.type = 1, .u = 42}, str = {.type = 2, .len = 3, .s = "abc"};
    CHECK(rpc_reply_error(&t->buf, &none, LEDGER_MALFORMED, "bad bytes") == 0);
    const msgpack_object *r = decode(t);
    check_error(r, "MALFORMED", false, __LINE__);
    STR_IS(r, "message", "bad bytes");
    CHECK(rpc_reply_error(&t->buf, NULL, LEDGER_BUSY, NULL) == 0);
    r = decode(t);
    check_error(r, "BUSY", false, __LINE__);
    STR_IS(r, "message", ledger_err_message(LEDGER_BUSY));
    CHECK(rpc_reply_error(&t->buf, &num, LEDGER_UNKNOWN_OP, "no such op") == 0);
    r = decode(t);
    check_error(r, "UNKNOWN_OP", true, __LINE__);
    CHECK_U64(U64(r, "id"), 42);
    CHECK(rpc_reply_error(&t->buf, &str, LEDGER_WRONG_TYPE, "x") == 0);
    r = decode(t);
    check_error(r, "WRONG_TYPE", true, __LINE__);
    STR_IS(r, "id", "abc");
}

static void check_tx_result(const msgpack_object *res, const ledger_tx *tx, const ledger_result *lr,
                            const char *code, bool duplicate)
{
    uint8_t hash[32];
    CHECK_CODE(ledger_tx_hash(hash, "lstd-test", tx), LEDGER_OK);
    KEYS_ARE(res, "hash", "code", "recorded", "duplicate", "seq", "batch", "time", "out");
    KEY_IS(res, "hash", hash);
    STR_IS(res, "code", code);
    BOOL_IS(res, "recorded", true);
    BOOL_IS(res, "duplicate", duplicate);
    CHECK_U64(U64(res, "seq"), lr->seq);
    CHECK_U64(U64(res, "batch"), lr->batch);
    CHECK_U64(U64(res, "time"), lr->timestamp);
}

static void test_tx_replies(qt *t, const scenario *sc)
{
    uint8_t hash[32];
    rpc_id num = {.type = 1, .u = 7}, str = {.type = 2, .len = 2, .s = "r1"};
    /* success */
    CHECK_CODE(ledger_tx_hash(hash, "lstd-test", &sc->deposit_tx), LEDGER_OK);
    CHECK(rpc_reply_tx(&t->buf, &num, &sc->deposit_tx, hash, &sc->deposit_res) == 0);
    const msgpack_object *r = decode(t);
    KEYS_ARE(r, "id", "ok", "result");
    CHECK_U64(U64(r, "id"), 7);
    BOOL_IS(r, "ok", true);
    const msgpack_object *res = mp_get(r, "result");
    check_tx_result(res, &sc->deposit_tx, &sc->deposit_res, "OK", false);
    CHECK_U64(sc->deposit_res.seq, 1);
    const msgpack_object *out = mp_get(res, "out");
    KEYS_ARE(out, "shares_minted", "amount_credited");
    CHECK_U64(U64(out, "shares_minted"), 10000000);
    CHECK_U64(U64(out, "amount_credited"), 10000000);
    /* a recorded rejection: error, message and a result with an empty out map */
    CHECK_CODE(ledger_tx_hash(hash, "lstd-test", &sc->reject_tx), LEDGER_OK);
    CHECK(rpc_reply_tx(&t->buf, &str, &sc->reject_tx, hash, &sc->reject_res) == 0);
    r = decode(t);
    KEYS_ARE(r, "id", "ok", "error", "message", "result");
    STR_IS(r, "id", "r1");
    BOOL_IS(r, "ok", false);
    STR_IS(r, "error", "REPORT_APR_EXCEEDED");
    STR_IS(r, "message", ledger_err_message(LEDGER_REPORT_APR_EXCEEDED));
    res = mp_get(r, "result");
    check_tx_result(res, &sc->reject_tx, &sc->reject_res, "REPORT_APR_EXCEEDED", false);
    KEYS_ARE(mp_get(res, "out"), NULL);
}

static void test_tx_duplicate(qt *t, const scenario *sc)
{
    uint8_t hash[32];
    ledger_result dup = fx_submit(t->f, &sc->deposit_tx);
    CHECK(dup.duplicate);
    CHECK_U64(dup.seq, sc->deposit_res.seq);
    CHECK_CODE(ledger_tx_hash(hash, "lstd-test", &sc->deposit_tx), LEDGER_OK);
    CHECK(rpc_reply_tx(&t->buf, NULL, &sc->deposit_tx, hash, &dup) == 0);
    const msgpack_object *r = decode(t);
    KEYS_ARE(r, "ok", "result");
    BOOL_IS(r, "ok", true);
    check_tx_result(mp_get(r, "result"), &sc->deposit_tx, &sc->deposit_res, "OK", true);
    CHECK_U64(U64(mp_get(mp_get(r, "result"), "out"), "shares_minted"), 10000000);
    /* not recorded: no result */
    ledger_result gap = {.code = LEDGER_NONCE_GAP};
    CHECK(rpc_reply_tx(&t->buf, NULL, &sc->deposit_tx, hash, &gap) == 0);
    r = decode(t);
    check_error(r, "NONCE_GAP", false, __LINE__);
}

/* ---- pool, queue, health ----------------------------------------------------------------- */

/* The stored pool vested to t, as a query at t sees it. */
static ledger_pool pool_at(fixture *f, uint64_t t)
{
    ledger_pool p = fx_pool(f);
    ledger_pool_vest(&p, t);
    return p;
}

/* Worked by hand from ledger/README.md's formulas (and in Python), batch by batch:
 *   T0: 1,000,000 dead + 15,000,000 deposited; 10,000,000 funded.
 *   T1: +500,000 at fees 500+500: fee shares floor(R*F*S/((A+U+R)*P-R*F)) = 48,632 backed by
 *       ceil(48,632*A/S) = 48,632 (rate 1) vesting at once; U = 451,368 until T1 + 86,400.
 *   T2: U has vested; +525,000: 49,642 fee shares backed by ceil(fee*A/S) = 51,039, so
 *       A = 16,551,039, U = 473,961 until T2 + 86,400; requests 1 and 3 quoted at A/S, the
 *       slash -110,250 leaves A at once (16,440,789), finalize pays request 1 1,021,276 and
 *       returns request 3 (its minimum was its quote).
 *   T3: half of U vests (236,980 -> A), request 4 paid 103,697, request 5 quoted 51,848:
 *       A = 15,552,796, U = 236,981 until T2 + 86,400, S = 14,998,274.
 *   Q = T3 + 3600: floor(236,981 * 3600 / 43,200) = 19,748 more has vested.
 * Stored: 16,000,000 deposited + 1,025,000 rewards - 110,250 slashed - 1,124,973 paid. */
static void check_pool_figures(const msgpack_object *res, fixture *f)
{
    ledger_pool p = pool_at(f, Q);
    char rate[64];
    rate_text(rate, p.assets, p.shares);
    CHECK_U64(fx_pool(f).assets, 15552796);
    CHECK_U64(fx_pool(f).unvested, 236981);
    CHECK_U64(p.assets, 15552796 + 19748);
    CHECK_U64(p.unvested, 236981 - 19748);
    CHECK_U64(p.shares, 14998274);
    STR_IS(res, "rate", "1.038289072462604697");
    STR_IS(res, "ledger_id", "lstd-test");
    CHECK_U64(U64(res, "decimals"), 9);
    CHECK_U64(U64(res, "assets"), p.assets);
    CHECK_U64(U64(res, "shares"), p.shares);
    CHECK_U64(U64(res, "rate_num"), p.assets);
    CHECK_U64(U64(res, "rate_den"), p.shares);
    STR_IS(res, "rate", rate);
    CHECK_U64(U64(res, "unvested"), 217233);
    CHECK_U64(U64(res, "vest_end"), T2 + VEST_S);
    CHECK_U64(U64(res, "buffer"), p.buffer);
    CHECK_U64(U64(res, "buffer"), 4875027);
    DEC_IS(res, "payable", 103697); /* request 4: finalized, not settled */
    DEC_IS(res, "total_deposited", 16000000);
    DEC_IS(res, "total_rewards", 1025000);
    DEC_IS(res, "total_slashed", 110250);
    DEC_IS(res, "total_paid", 1021276 + 103697);
    CHECK_U64(U64(res, "dead_shares"), 1000000);
    CHECK_U64(U64(res, "held_loss"), 0); /* the held report is a gain */
    BOOL_IS(res, "bunker", false);
    NIL_IS(res, "bunker_rate");
    NIL_IS(res, "stake_limit");
}

static void check_pool_settings(const msgpack_object *res, fixture *f)
{
    const msgpack_object *m = mp_get(res, "paused");
    KEYS_ARE(m, "deposits", "transfers", "withdrawals");
    BOOL_IS(m, "deposits", false);
    BOOL_IS(m, "withdrawals", false);
    m = mp_get(res, "params");
    KEYS_ARE(m, "STAKE_LIMIT_MAX", "STAKE_LIMIT_REFILL", "MAX_APR_BPS", "MAX_DROP_BPS",
             "OPERATOR_CAP_BPS", "FEE_DELAY_S", "EPOCH_S", "VEST_S");
    CHECK_U64(U64(m, "MAX_APR_BPS"), 1000);
    CHECK_U64(U64(m, "EPOCH_S"), 384);
    CHECK_U64(U64(m, "VEST_S"), VEST_S);
    m = mp_get(res, "treasury_fee");
    KEYS_ARE(m, "bps", "pending_bps", "pending_at", "in_force_bps");
    CHECK_U64(U64(m, "bps"), 500);
    CHECK_U64(U64(m, "pending_at"), 0);
    CHECK_U64(U64(m, "in_force_bps"), 500);
    KEY_IS(res, "admin", f->pk[FX_ADMIN]);
    KEY_IS(res, "custodian", f->pk[FX_CUSTODIAN]);
    KEY_IS(res, "treasury", f->pk[FX_TREASURY]);
    CHECK_U64(U64(res, "operator_count"), 2);
    CHECK_U64(U64(res, "next_lien_id"), 3);
    CHECK_U64(U64(res, "next_request_id"), 6);
    CHECK_U64(U64(res, "finalized_through"), 4);
    CHECK_U64(U64(res, "epoch"), Q / 384); /* epoch_origin 0: epoch e starts at e * 384 */
    CHECK_U64(U64(res, "epoch_start"), Q / 384 * 384);
    STR_IS(res, "report_mode", "operator"); /* no committee: each operator reports its own */
    m = mp_get(res, "oracle");
    KEYS_ARE(m, "members", "quorum", "majority", "minority");
    CHECK_U64(U64(m, "members") + U64(m, "quorum"), 0);
    BOOL_IS(m, "majority", false);
    BOOL_IS(m, "minority", false);
    CHECK_U64(U64(res, "top_operator_id"), 1);
    CHECK_U64(U64(res, "top_operator_share_bps"), 6912); /* 10,914,750 * 10000 / (A + U) */
    const msgpack_object *a = ARRAY(res, "last_reports", 1);
    if (a != NULL) {
        KEYS_ARE(ITEM(a, 0), "operator_id", "epoch", "balance", "time");
        CHECK_U64(U64(ITEM(a, 0), "operator_id"), 1);
        CHECK_U64(U64(ITEM(a, 0), "epoch"), EPOCH3);
        CHECK_U64(U64(ITEM(a, 0), "balance"), BAL3);
        CHECK_U64(U64(ITEM(a, 0), "time"), T2);
    }
    ledger_chain c = fx_chain(f);
    CHECK_U64(U64(res, "seq"), 24);
    CHECK_U64(U64(res, "batch"), 24);
    CHECK_U64(U64(res, "time"), T3);
    CHECK_U64(U64(res, "now"), Q);
    KEY_IS(res, "head", c.head);
    KEY_IS(res, "digest", c.digest);
}

static const char *const pool_keys[] = {"ledger_id",
                                        "decimals",
                                        "assets",
                                        "shares",
                                        "rate_num",
                                        "rate_den",
                                        "rate",
                                        "unvested",
                                        "vest_end",
                                        "buffer",
                                        "payable",
                                        "total_deposited",
                                        "total_rewards",
                                        "total_slashed",
                                        "total_paid",
                                        "dead_shares",
                                        "held_loss",
                                        "bunker",
                                        "bunker_rate",
                                        "stake_limit",
                                        "paused",
                                        "params",
                                        "treasury_fee",
                                        "admin",
                                        "custodian",
                                        "treasury",
                                        "operator_count",
                                        "next_lien_id",
                                        "next_request_id",
                                        "finalized_through",
                                        "epoch",
                                        "epoch_start",
                                        "report_mode",
                                        "oracle",
                                        "top_operator_id",
                                        "top_operator_share_bps",
                                        "last_reports",
                                        "seq",
                                        "batch",
                                        "time",
                                        "now",
                                        "head",
                                        "digest",
                                        NULL};

static void test_pool(qt *t)
{
    rpc_request req = rq(RPC_Q_POOL, NULL, 0);
    req.id = (rpc_id){.type = 1, .u = 99};
    const msgpack_object *r = reply_of(t, &req);
    KEYS_ARE(r, "id", "ok", "result");
    CHECK_U64(U64(r, "id"), 99);
    const msgpack_object *res = mp_get(r, "result");
    check_keys(res, pool_keys, __LINE__);
    check_pool_figures(res, t->f);
    check_pool_settings(res, t->f);
}

/* The query's time is max(clock, last batch time); the pool vests to it, no further. */
static void test_pool_times(qt *t)
{
    rpc_request req = rq(RPC_Q_POOL, NULL, 0);
    uint64_t clock = t->now;
    t->now = T0; /* a clock behind the last batch: the batch time */
    const msgpack_object *res = QUERY_OK(t, &req);
    CHECK_U64(U64(res, "now"), T3);
    CHECK_U64(U64(res, "assets"), 15552796);
    CHECK_U64(U64(res, "unvested"), 236981);
    STR_IS(res, "rate", "1.036972387622735789");
    t->now = T2 + VEST_S; /* the end of the schedule: all of U */
    res = QUERY_OK(t, &req);
    CHECK_U64(U64(res, "assets"), 15552796 + 236981);
    CHECK_U64(U64(res, "unvested"), 0);
    CHECK_U64(U64(res, "vest_end"), 0);
    STR_IS(res, "rate", "1.052772939072855983");
    t->now = UINT64_MAX; /* far beyond: the same, and the epoch clock saturates sanely */
    res = QUERY_OK(t, &req);
    CHECK_U64(U64(res, "assets"), 15552796 + 236981);
    CHECK_U64(U64(res, "epoch"), UINT64_MAX / 384);
    t->now = clock;
    /* the same view and clock give the same bytes */
    msgpack_sbuffer first;
    msgpack_sbuffer_init(&first);
    reply_of(t, &req);
    msgpack_sbuffer_write(&first, t->buf.data, t->buf.size);
    reply_of(t, &req);
    CHECK(first.size == t->buf.size && memcmp(first.data, t->buf.data, first.size) == 0);
    msgpack_sbuffer_destroy(&first);
}

static void test_queue_health(qt *t)
{
    ledger_pool p = fx_pool(t->f);
    ledger_withdrawal w5 = fx_withdrawal(t->f, 5), w4 = fx_withdrawal(t->f, 4);
    rpc_request req = rq(RPC_Q_QUEUE, NULL, 0);
    const msgpack_object *res = QUERY_OK(t, &req);
    KEYS_ARE(res, "next_request_id", "finalized_through", "pending_count", "pending_shares",
             "pending_amount", "buffer", "payable");
    CHECK_U64(U64(res, "next_request_id"), 6);
    CHECK_U64(U64(res, "finalized_through"), 4);
    CHECK_U64(U64(res, "pending_count"), 1);
    CHECK_U64(U64(res, "pending_shares"), 50000);
    DEC_IS(res, "pending_amount", w5.amount_at_request);
    DEC_IS(res, "pending_amount", 51848); /* floor(50,000 * A / S) at T3 */
    DEC_IS(res, "payable", 103697);
    CHECK_U64(U64(res, "buffer"), p.buffer);
    DEC_IS(res, "payable", w4.paid);
    t->counters = (rpc_counters){1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,    15,
                                 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, false, {0}};
    req = rq(RPC_Q_HEALTH, NULL, 0);
    res = QUERY_OK(t, &req);
    KEYS_ARE(res, "status", "ledger_id", "seq", "batch", "uptime_s", "queue_depth", "queue_max",
             "connections", "subscribers", "subscriptions", "reply_bytes", "replication",
             "counters");
    STR_IS(res, "status", "ok");
    STR_IS(res, "ledger_id", "lstd-test");
    CHECK_U64(U64(res, "seq"), 24);
    CHECK_U64(U64(res, "batch"), 24);
    CHECK_U64(U64(res, "queue_depth"), 22);
    CHECK_U64(U64(res, "queue_max"), 23);
    CHECK_U64(U64(res, "uptime_s"), 24);
    CHECK_U64(U64(res, "connections"), 25);
    CHECK_U64(U64(res, "subscribers"), 26);
    CHECK_U64(U64(res, "subscriptions"), 27);
    CHECK_U64(U64(res, "reply_bytes"), 28);
    const msgpack_object *c = mp_get(res, "counters");
    KEYS_ARE(c, "requests", "transactions", "queries", "batches", "batch_size_max",
             "commit_ms_total", "busy", "malformed", "bad_signatures", "duplicates",
             "replies_dropped", "simulations", "busy_unread", "paused_unread", "paused_share",
             "refused", "protocol_drops", "slow_drops", "auth_failures", "subscriptions_ignored",
             "events_dropped");
    const char *names[] = {"requests",
                           "transactions",
                           "queries",
                           "batches",
                           "batch_size_max",
                           "commit_ms_total",
                           "busy",
                           "malformed",
                           "bad_signatures",
                           "duplicates",
                           "replies_dropped",
                           "simulations",
                           "busy_unread",
                           "paused_unread",
                           "paused_share",
                           "refused",
                           "protocol_drops",
                           "slow_drops",
                           "auth_failures",
                           "subscriptions_ignored",
                           "events_dropped"};
    for (unsigned i = 0; i < 21; i++)
        CHECK_U64(U64(c, names[i]), i + 1);
}

/* ---- account, lien, withdrawal ----------------------------------------------------------- */

static void check_lien1(const msgpack_object *m, fixture *f)
{
    ledger_pool p = pool_at(f, Q);
    KEYS_ARE(m, "lien_id", "owner", "beneficiary", "shares", "expiry", "created", "value");
    CHECK_U64(U64(m, "lien_id"), 1);
    KEY_IS(m, "owner", f->pk[U0]);
    KEY_IS(m, "beneficiary", f->pk[U4]);
    CHECK_U64(U64(m, "shares"), 2000000);
    CHECK_U64(U64(m, "expiry"), T0 + 100000);
    CHECK_U64(U64(m, "created"), T0);
    CHECK_U64(U64(m, "value"), mdf(2000000, p.assets, p.shares));
    CHECK_U64(U64(m, "value"), 2076578); /* at the rate of Q */
}

static void test_account_u0(qt *t)
{
    fixture *f = t->f;
    ledger_pool p = pool_at(f, Q);
    ledger_account a = fx_account(f, U0);
    rpc_request req = rq(RPC_Q_ACCOUNT, f->pk[U0], 0);
    const msgpack_object *res = QUERY_OK(t, &req);
    KEYS_ARE(res, "account", "shares", "locked", "queued", "total", "value", "free_value", "nonce",
             "next_nonce", "liens", "allowances", "withdrawals", "truncated");
    KEY_IS(res, "account", f->pk[U0]);
    CHECK_U64(U64(res, "shares"), 10000000 - 1000000 - 100000 - 2000000);
    CHECK_U64(U64(res, "locked"), 2000000);
    CHECK_U64(U64(res, "queued"), 0);
    CHECK_U64(U64(res, "total"), a.shares + a.locked);
    CHECK_U64(U64(res, "value"), mdf(a.shares + a.locked, p.assets, p.shares));
    CHECK_U64(U64(res, "free_value"), mdf(a.shares, p.assets, p.shares));
    CHECK_U64(U64(res, "nonce"), 4);
    CHECK_U64(U64(res, "next_nonce"), 5);
    const msgpack_object *l = ARRAY(res, "liens", 2);
    if (l != NULL) {
        check_lien1(ITEM(l, 0), f);
        CHECK_U64(U64(ITEM(l, 1), "lien_id"), 2);
        KEY_IS(ITEM(l, 1), "beneficiary", f->pk[U0]);
    }
    const msgpack_object *al = ARRAY(res, "allowances", 2);
    if (al != NULL) {
        int first = memcmp(f->pk[U3], f->pk[U5], 32) < 0 ? U3 : U5;
        KEYS_ARE(ITEM(al, 0), "spender", "shares");
        KEY_IS(ITEM(al, 0), "spender", f->pk[first]);
        CHECK_U64(U64(ITEM(al, 0), "shares"), first == U3 ? 400000 : 7);
        KEY_IS(ITEM(al, 1), "spender", f->pk[first == U3 ? U5 : U3]);
        CHECK_U64(U64(ITEM(al, 1), "shares"), first == U3 ? 7 : 400000);
    }
    ARRAY(res, "withdrawals", 0);
    BOOL_IS(res, "truncated", false);
}

static void check_withdrawal1(const msgpack_object *m, const scenario *sc, fixture *f)
{
    ledger_withdrawal w = fx_withdrawal(f, 1);
    KEYS_ARE(m, "request_id", "owner", "shares", "amount_at_request", "min_amount_out", "requested",
             "status", "paid", "finalized", "payout_ref", "settled");
    CHECK_U64(U64(m, "request_id"), 1);
    KEY_IS(m, "owner", f->pk[U1]);
    CHECK_U64(U64(m, "shares"), 1000000);
    CHECK_U64(U64(m, "amount_at_request"), w.amount_at_request);
    CHECK_U64(U64(m, "min_amount_out"), 0);
    CHECK_U64(U64(m, "requested"), T2);
    STR_IS(m, "status", "settled");
    CHECK_U64(U64(m, "paid"), w.paid);
    CHECK_U64(U64(m, "amount_at_request"), 1028125); /* floor(1,000,000 * A / S) at T2 */
    CHECK_U64(U64(m, "paid"), 1021276);              /* after the slash: below the quote */
    CHECK(w.paid > 0 && w.paid <= w.amount_at_request);
    CHECK_U64(U64(m, "finalized"), T2);
    KEY_IS(m, "payout_ref", sc->payout_ref);
    CHECK_U64(U64(m, "settled"), T3);
}

static void test_account_u1(qt *t, const scenario *sc)
{
    static const char *const statuses[] = {"settled", "cancelled", "returned", "finalized",
                                           "pending"};
    rpc_request req = rq(RPC_Q_ACCOUNT, t->f->pk[U1], 0);
    const msgpack_object *res = QUERY_OK(t, &req);
    CHECK_U64(U64(res, "queued"), 50000);
    ARRAY(res, "liens", 0);
    ARRAY(res, "allowances", 0);
    const msgpack_object *w = ARRAY(res, "withdrawals", 5);
    for (uint32_t i = 0; w != NULL && i < 5; i++) {
        CHECK_U64(U64(ITEM(w, i), "request_id"), i + 1);
        STR_IS(ITEM(w, i), "status", statuses[i]);
    }
    if (w != NULL)
        check_withdrawal1(ITEM(w, 0), sc, t->f);
    /* the withdrawal query gives the same maps */
    for (uint64_t id = 1; id <= 5; id++) {
        req = rq(RPC_Q_WITHDRAWAL, NULL, id);
        res = QUERY_OK(t, &req);
        CHECK_U64(U64(res, "request_id"), id);
        STR_IS(res, "status", statuses[id - 1]);
        if (id == 1)
            check_withdrawal1(res, sc, t->f);
        if (id == 3)
            CHECK_U64(U64(res, "min_amount_out"), 308437);
    }
    req = rq(RPC_Q_WITHDRAWAL, NULL, 6);
    QUERY_ERR(t, &req, "NOT_FOUND");
    req = rq(RPC_Q_LIEN, NULL, 1);
    check_lien1(QUERY_OK(t, &req), t->f);
    req = rq(RPC_Q_LIEN, NULL, 3);
    QUERY_ERR(t, &req, "NOT_FOUND");
}

/* ---- records: tx, history, events -------------------------------------------------------- */

static void check_deposit_record(const msgpack_object *m, const scenario *sc, fixture *f)
{
    uint8_t hash[32];
    ledger_record rec;
    CHECK_CODE(ledger_read_record(store_db_view(f->store), 1, &rec), LEDGER_OK);
    CHECK_CODE(ledger_tx_hash(hash, "lstd-test", &sc->deposit_tx), LEDGER_OK);
    KEYS_ARE(m, "seq", "batch", "time", "hash", "prev", "kind", "signer", "nonce", "fields", "sig",
             "code", "ok", "out", "accounts");
    CHECK(ARRAY(m, "accounts", 0) != NULL); /* a deposit names its only account */
    CHECK_U64(U64(m, "seq"), 1);
    CHECK_U64(U64(m, "batch"), 1);
    CHECK_U64(U64(m, "time"), T0);
    KEY_IS(m, "hash", hash);
    KEY_IS(m, "prev", rec.prev);
    STR_IS(m, "kind", "deposit");
    KEY_IS(m, "signer", f->pk[FX_CUSTODIAN]);
    CHECK_U64(U64(m, "nonce"), 1);
    const msgpack_object *fl = mp_get(m, "fields");
    KEYS_ARE(fl, "to", "amount", "external_ref", "min_shares_out");
    KEY_IS(fl, "to", f->pk[U0]);
    CHECK_U64(U64(fl, "amount"), 10000000);
    KEY_IS(fl, "external_ref", sc->deposit_tx.ref);
    CHECK_U64(U64(fl, "min_shares_out"), 0);
    BIN_IS(m, "sig", rec.sig, 64);
    STR_IS(m, "code", "OK");
    BOOL_IS(m, "ok", true);
    KEYS_ARE(mp_get(m, "out"), "shares_minted", "amount_credited");
    CHECK_U64(U64(mp_get(m, "out"), "shares_minted"), 10000000);
}

static void test_tx_query(qt *t, const scenario *sc)
{
    uint8_t hash[32];
    CHECK_CODE(ledger_tx_hash(hash, "lstd-test", &sc->deposit_tx), LEDGER_OK);
    rpc_request req = rq(RPC_Q_TX, hash, 0);
    check_deposit_record(QUERY_OK(t, &req), sc, t->f);
    /* a recorded rejection: ok false, code named, empty out */
    CHECK_CODE(ledger_tx_hash(hash, "lstd-test", &sc->reject_tx), LEDGER_OK);
    req = rq(RPC_Q_TX, hash, 0);
    const msgpack_object *m = QUERY_OK(t, &req);
    CHECK_U64(U64(m, "seq"), 24);
    STR_IS(m, "kind", "report");
    STR_IS(m, "code", "REPORT_APR_EXCEEDED");
    BOOL_IS(m, "ok", false);
    KEYS_ARE(mp_get(m, "out"), NULL);
    KEYS_ARE(mp_get(m, "fields"), "operator_id", "epoch", "balance");
    CHECK_U64(U64(mp_get(m, "fields"), "epoch"), EPOCH_HELD);
    hash[0] ^= 1;
    req = rq(RPC_Q_TX, hash, 0);
    QUERY_ERR(t, &req, "NOT_FOUND");
}

/* Page through history or events with `limit`; the seqs must be `want` in order and every
 * `next` the last seq of its page, nil on the last page. */
static void check_pages(qt *t, unsigned query, const uint8_t *key, uint64_t limit,
                        const uint64_t *want, size_t want_n, int line)
{
    uint64_t after = 0;
    size_t got = 0;
    for (int pages = 0; pages < 64; pages++) {
        rpc_request req = rq_page(query, key, after, limit);
        const msgpack_object *res = query_ok(t, &req, line);
        const msgpack_object *recs = mp_get(res, "records");
        if (recs == NULL || recs->type != MSGPACK_OBJECT_ARRAY) {
            fail(line, "no records array", "records");
            return;
        }
        for (uint32_t i = 0; i < recs->via.array.size; i++, got++) {
            uint64_t seq = get_u64(ITEM(recs, i), "seq", line);
            if (got >= want_n || seq != want[got])
                fail(line, "unexpected record seq", "seq");
        }
        const msgpack_object *next = mp_get(res, "next");
        if (next != NULL && next->type == MSGPACK_OBJECT_NIL) {
            if (got != want_n || recs->via.array.size > limit)
                fail(line, "last page is short or long", "next");
            return;
        }
        if (next == NULL || next->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            recs->via.array.size != limit || next->via.u64 != want[got - 1]) {
            fail(line, "next is not the last seq of a full page", "next");
            return;
        }
        after = next->via.u64;
    }
    fail(line, "too many pages", "next");
}

static void test_history_events(qt *t, const scenario *sc)
{
    uint64_t all[24];
    for (uint64_t i = 0; i < 24; i++)
        all[i] = i + 1;
    CHECK_U64(sc->u0_n, 7);
    check_pages(t, RPC_Q_HISTORY, t->f->pk[U0], 3, sc->u0_seqs, sc->u0_n, __LINE__);
    check_pages(t, RPC_Q_HISTORY, t->f->pk[U0], 7, sc->u0_seqs, sc->u0_n, __LINE__);
    check_pages(t, RPC_Q_HISTORY, t->f->pk[U0], 500, sc->u0_seqs, sc->u0_n, __LINE__);
    check_pages(t, RPC_Q_HISTORY, t->f->pk[FX_USER + 10], 50, NULL, 0, __LINE__);
    check_pages(t, RPC_Q_EVENTS, NULL, 10, all, 24, __LINE__);
    check_pages(t, RPC_Q_EVENTS, NULL, 1, all, 24, __LINE__);
    check_pages(t, RPC_Q_EVENTS, NULL, 24, all, 24, __LINE__);
    check_pages(t, RPC_Q_EVENTS, NULL, 1000, all, 24, __LINE__);
    /* a page that ends exactly at the head has next nil */
    rpc_request req = rq_page(RPC_Q_EVENTS, NULL, 14, 10);
    const msgpack_object *res = QUERY_OK(t, &req);
    KEYS_ARE(res, "records", "next");
    const msgpack_object *recs = ARRAY(res, "records", 10);
    if (recs != NULL)
        CHECK_U64(U64(ITEM(recs, 9), "seq"), 24);
    NIL_IS(res, "next");
    req = rq_page(RPC_Q_EVENTS, NULL, 24, 10);
    res = QUERY_OK(t, &req);
    ARRAY(res, "records", 0);
    NIL_IS(res, "next");
    req = rq_page(RPC_Q_HISTORY, t->f->pk[U0], sc->u0_seqs[5], 10);
    res = QUERY_OK(t, &req);
    recs = ARRAY(res, "records", 1);
    if (recs != NULL)
        KEY_IS(mp_get(ITEM(recs, 0), "fields"), "beneficiary", t->f->pk[U0]);
    const uint64_t bad[][2] = {
        {RPC_Q_HISTORY, 0}, {RPC_Q_HISTORY, 501}, {RPC_Q_EVENTS, 0}, {RPC_Q_EVENTS, 1001}};
    for (size_t i = 0; i < 4; i++) {
        req = rq_page((unsigned)bad[i][0], t->f->pk[U0], 0, bad[i][1]);
        QUERY_ERR(t, &req, "OUT_OF_RANGE");
    }
}

static void test_record_chain(qt *t)
{
    ledger_record prev;
    ledger_store *view = store_db_view(t->f->store);
    CHECK_CODE(ledger_read_record(view, 1, &prev), LEDGER_OK);
    rpc_request req = rq_page(RPC_Q_EVENTS, NULL, 1, 1);
    const msgpack_object *recs = ARRAY(mp_get(reply_on(t, view, &req), "result"), "records", 1);
    if (recs != NULL) {
        KEY_IS(ITEM(recs, 0), "prev", prev.hash);
        STR_IS(ITEM(recs, 0), "kind", "deposit");
        KEY_IS(mp_get(ITEM(recs, 0), "fields"), "to", t->f->pk[U1]);
    }
}

/* ---- operator, quote --------------------------------------------------------------------- */

static void check_reports(const msgpack_object *res, const ledger_operator *o)
{
    const msgpack_object *a = ARRAY(res, "reports", 3);
    static const uint64_t epochs[] = {1, EPOCH2, EPOCH3}, balances[] = {BAL1, BAL2, BAL3};
    for (uint32_t i = 0; a != NULL && i < 3; i++) {
        const msgpack_object *m = ITEM(a, i);
        KEYS_ARE(m, "epoch", "balance", "time", "gain", "loss", "fee_shares");
        CHECK_U64(U64(m, "epoch"), epochs[i]);
        CHECK_U64(U64(m, "balance"), balances[i]);
        CHECK_U64(U64(m, "time"), i == 0 ? T1 : T2);
        CHECK_U64(U64(m, "fee_shares"), o->reports[i].fee_shares);
    }
    if (a != NULL) {
        CHECK_U64(U64(ITEM(a, 0), "gain"), 500000);
        CHECK_U64(U64(ITEM(a, 1), "gain"), 525000);
        CHECK_U64(U64(ITEM(a, 2), "gain"), 0);
        CHECK_U64(U64(ITEM(a, 2), "loss"), 110250);
    }
}

static void test_operator1(qt *t)
{
    ledger_operator o = fx_operator(t->f, 1);
    ledger_pool p = pool_at(t->f, Q);
    int64_t apr;
    CHECK(ledger_operator_apr_bps(&o, &apr));
    CHECK(apr == 395); /* (525000 - 110250) * 10000 * year / (10,500,000 * (T2 - T1 = year)) */
    rpc_request req = rq(RPC_Q_OPERATOR, NULL, 1);
    const msgpack_object *res = QUERY_OK(t, &req);
    KEYS_ARE(res, "operator_id", "key", "fee_account", "active", "fee", "period_fee_bps",
             "period_treasury_bps", "next_report_fees", "balance", "reported_balance",
             "funded_since", "exited_since", "last_epoch", "last_report_time", "epoch",
             "fees_earned", "share_bps", "apr_bps", "held", "reports");
    CHECK_U64(U64(res, "operator_id"), 1);
    KEY_IS(res, "key", t->f->pk[FX_OPERATOR]);
    KEY_IS(res, "fee_account", t->f->pk[FX_OPFEE]);
    BOOL_IS(res, "active", true);
    KEYS_ARE(mp_get(res, "fee"), "bps", "pending_bps", "pending_at", "in_force_bps");
    CHECK_U64(U64(mp_get(res, "fee"), "bps"), 500);
    CHECK_U64(U64(mp_get(res, "fee"), "in_force_bps"), 500);
    CHECK_U64(U64(res, "period_fee_bps"), 500);
    CHECK_U64(U64(res, "period_treasury_bps"), 500);
    KEYS_ARE(mp_get(res, "next_report_fees"), "treasury_bps", "operator_bps");
    CHECK_U64(U64(mp_get(res, "next_report_fees"), "treasury_bps"), 500);
    CHECK_U64(U64(mp_get(res, "next_report_fees"), "operator_bps"), 500);
    CHECK_U64(U64(res, "balance"), BAL3);
    CHECK_U64(U64(res, "reported_balance"), BAL3);
    DEC_IS(res, "funded_since", 0);
    DEC_IS(res, "exited_since", 0);
    CHECK_U64(U64(res, "last_epoch"), EPOCH3);
    CHECK_U64(U64(res, "last_report_time"), T2);
    CHECK_U64(U64(res, "epoch"), Q / 384);
    DEC_IS(res, "fees_earned", o.fees_earned);
    CHECK(o.fees_earned > 0);
    /* of A + U, which vesting does not change: 10,914,750 * 10000 / 15,789,777 */
    CHECK_U64(U64(res, "share_bps"), mdf(BAL3, 10000, p.assets + p.unvested));
    CHECK_U64(U64(res, "share_bps"), 6912);
    DEC_IS(res, "fees_earned", 24316 + 24821);
    CHECK_U64(U64(res, "apr_bps"), 395);
    const msgpack_object *held = mp_get(res, "held");
    KEYS_ARE(held, "epoch", "balance", "loss");
    CHECK_U64(U64(held, "epoch"), EPOCH_HELD);
    CHECK_U64(U64(held, "balance"), 20000000);
    CHECK_U64(U64(held, "loss"), 0); /* a held gain */
    check_reports(res, &o);
}

static void test_operator2(qt *t)
{
    rpc_request req = rq(RPC_Q_OPERATOR, NULL, 2);
    const msgpack_object *res = QUERY_OK(t, &req);
    CHECK_U64(U64(res, "operator_id"), 2);
    KEY_IS(res, "key", t->f->pk[U6]);
    KEY_IS(res, "fee_account", t->f->pk[U7]);
    CHECK_U64(U64(mp_get(res, "fee"), "bps"), 300);
    CHECK_U64(U64(res, "share_bps"), 0);
    NIL_IS(res, "apr_bps");
    NIL_IS(res, "held");
    ARRAY(res, "reports", 0);
    req = rq(RPC_Q_OPERATOR, NULL, 3);
    QUERY_ERR(t, &req, "NOT_FOUND");
    req = rq(RPC_Q_OPERATOR, NULL, 0);
    QUERY_ERR(t, &req, "NOT_FOUND");
}

static void test_quote(qt *t)
{
    ledger_pool p = pool_at(t->f, Q);
    rpc_request req = rq(RPC_Q_QUOTE, NULL, 1000000);
    const msgpack_object *res = QUERY_OK(t, &req);
    KEYS_ARE(res, "amount", "shares", "rate_num", "rate_den");
    CHECK_U64(U64(res, "amount"), 1000000);
    CHECK_U64(U64(res, "shares"), mdf(1000000, p.shares, p.assets + p.unvested));
    CHECK_U64(U64(res, "shares"), 949872); /* at (A + U) of Q: what a deposit would mint now */
    CHECK_U64(U64(res, "rate_num"), p.assets + p.unvested);
    CHECK_U64(U64(res, "rate_den"), p.shares);
    req.quote_shares = true;
    res = QUERY_OK(t, &req);
    CHECK_U64(U64(res, "shares"), 1000000);
    CHECK_U64(U64(res, "rate_num"), p.assets);
    CHECK_U64(U64(res, "amount"), mdf(1000000, p.assets, p.shares));
    CHECK_U64(U64(res, "amount"), 1038289);
    CHECK(p.assets > p.shares);
    req.number = UINT64_MAX;            /* worth more than 2^64 at a rate above 1 */
    QUERY_ERR(t, &req, "OUT_OF_RANGE"); /* a query code, not the rule code OVERFLOW */
    req.quote_shares = false;
    res = QUERY_OK(t, &req);
    CHECK_U64(U64(res, "shares"), mdf(UINT64_MAX, p.shares, p.assets + p.unvested));
}

/* ---- failures of the store and the request ------------------------------------------------ */

static int failing_get(void *self, unsigned table, const uint8_t *key, size_t key_len,
                       const uint8_t **val, size_t *val_len)
{
    (void)self, (void)table, (void)key, (void)key_len, (void)val, (void)val_len;
    return LEDGER_STORE_IO;
}

static int failing_next(void *self, unsigned table, const uint8_t *key, size_t key_len,
                        const uint8_t **key_out, size_t *key_out_len, const uint8_t **val,
                        size_t *val_len)
{
    (void)self, (void)table, (void)key, (void)key_len, (void)key_out, (void)key_out_len;
    (void)val, (void)val_len;
    return LEDGER_STORE_IO;
}

static void test_failures_of_store(qt *t)
{
    /* a read view: no put, del or changed */
    ledger_store broken = {NULL, failing_get, NULL, NULL, failing_next, NULL, NULL};
    static const unsigned queries[] = {RPC_Q_POOL,     RPC_Q_ACCOUNT, RPC_Q_TX,    RPC_Q_HISTORY,
                                       RPC_Q_OPERATOR, RPC_Q_QUOTE,   RPC_Q_LIEN,  RPC_Q_WITHDRAWAL,
                                       RPC_Q_QUEUE,    RPC_Q_EVENTS,  RPC_Q_HEALTH};
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        rpc_request req = rq_page(queries[i], t->f->pk[U0], 0, 10);
        req.number = 1;
        req.id = (rpc_id){.type = 2, .len = 1, .s = "q"};
        const msgpack_object *r = reply_on(t, &broken, &req);
        check_error(r, "INTERNAL", true, __LINE__);
        STR_IS(r, "id", "q");
        const msgpack_object *m = mp_get(r, "message");
        CHECK(m != NULL && m->type == MSGPACK_OBJECT_STR &&
              memmem(m->via.str.ptr, m->via.str.size, "STORE_IO", 8) != NULL);
    }
    rpc_request req = rq(RPC_Q_NONE, NULL, 0);
    QUERY_ERR(t, &req, "UNKNOWN_OP");
    req = rq(100, NULL, 0);
    QUERY_ERR(t, &req, "UNKNOWN_OP");
}

/* ---- other pools: a stake limit and truncated lists, an empty pool ----------------------- */

static void tweak_limit(ledger_genesis *g)
{
    g->params[LEDGER_PARAM_STAKE_LIMIT_MAX] = 1000000000000;
    g->params[LEDGER_PARAM_STAKE_LIMIT_REFILL] = 1000;
}

static void test_truncated_and_limit(void)
{
    fixture f;
    ledger_tx txs[101];
    ledger_result res[101];
    fx_open(&f, tweak_limit);
    qt t = {.f = &f};
    msgpack_sbuffer_init(&t.buf);
    msgpack_unpacked_init(&t.up);
    ok_do(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, U0, FX_NONE, 0, 1000000000, 0);
    f.now += 100;
    for (uint64_t i = 0; i < 101; i++) {
        txs[i] = fx_tx(&f, U0, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, 10, 0);
        txs[i].nonce = i + 1;
    }
    fx_submit_batch(&f, txs, 101, res);
    CHECK_CODE(res[100].code, LEDGER_OK);
    rpc_request req = rq(RPC_Q_ACCOUNT, f.pk[U0], 0);
    const msgpack_object *r = QUERY_OK(&t, &req);
    const msgpack_object *w = ARRAY(r, "withdrawals", 100);
    if (w != NULL) {
        CHECK_U64(U64(ITEM(w, 0), "request_id"), 1);
        CHECK_U64(U64(ITEM(w, 99), "request_id"), 100);
    }
    CHECK_U64(U64(r, "queued"), 1010);
    BOOL_IS(r, "truncated", true);
    req = rq(RPC_Q_POOL, NULL, 0);
    r = QUERY_OK(&t, &req);
    CHECK_U64(U64(r, "stake_limit"), 1000000000000 - 1000000000 + 100 * 1000);
    ARRAY(r, "last_reports", 0);
    STR_IS(r, "rate", "1.000000000000000000");
    msgpack_unpacked_destroy(&t.up);
    msgpack_sbuffer_destroy(&t.buf);
    fx_close(&f);
}

static void tweak_drop(ledger_genesis *g)
{
    g->params[LEDGER_PARAM_MAX_DROP_BPS] = 10000;
}

static void test_empty_pool(void)
{
    fixture f;
    fx_open(&f, tweak_drop);
    qt t = {.f = &f};
    msgpack_sbuffer_init(&t.buf);
    msgpack_unpacked_init(&t.up);
    ok_do(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 1000000, 0);
    f.now += 1000;
    ok_do(&f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, 0, 1); /* all assets lost */
    rpc_request req = rq(RPC_Q_QUOTE, NULL, 5);
    QUERY_ERR(&t, &req, "OUT_OF_RANGE"); /* no price to mint at: a query code */
    req.quote_shares = true;
    const msgpack_object *q = QUERY_OK(&t, &req); /* shares of an empty pool are worth 0 */
    CHECK_U64(U64(q, "amount"), 0);
    CHECK_U64(U64(q, "rate_num"), 0);
    req = rq(RPC_Q_POOL, NULL, 0);
    const msgpack_object *r = QUERY_OK(&t, &req);
    CHECK_U64(U64(r, "assets"), 0);
    STR_IS(r, "rate", "0.000000000000000000");
    CHECK_U64(U64(r, "top_operator_share_bps"), 0);
    NIL_IS(r, "top_operator_id"); /* nobody holds stake */
    req = rq(RPC_Q_ACCOUNT, ledger_dead_account, 0);
    r = QUERY_OK(&t, &req);
    CHECK_U64(U64(r, "shares"), 1000000);
    CHECK_U64(U64(r, "value"), 0);
    req = rq(RPC_Q_OPERATOR, NULL, 1);
    CHECK_U64(U64(QUERY_OK(&t, &req), "share_bps"), 0);
    msgpack_unpacked_destroy(&t.up);
    msgpack_sbuffer_destroy(&t.buf);
    fx_close(&f);
}

/* Lifetime totals beyond 2^64 arrive as exact decimal strings; a held loss is bunker mode. */
static void test_wide_totals_and_bunker(void)
{
    const uint64_t big = 10000000000000000000ull; /* 10^19: three of them exceed 2^64 */
    fixture f;
    fx_open(&f, NULL);
    qt t = {.f = &f};
    msgpack_sbuffer_init(&t.buf);
    msgpack_unpacked_init(&t.up);
    for (uint64_t round = 1; round <= 2; round++) {
        ok_do(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, U0, FX_NONE, 0, big, 0);
        ok_do(&f, U0, LEDGER_TX_WITHDRAW_REQUEST, FX_NONE, FX_NONE, 0, fx_account(&f, U0).shares,
              0);
        ok_do(&f, FX_CUSTODIAN, LEDGER_TX_WITHDRAW_FINALIZE, FX_NONE, FX_NONE, round, 0, 0);
    }
    ok_do(&f, FX_CUSTODIAN, LEDGER_TX_DEPOSIT, U0, FX_NONE, 0, big, 0);
    ledger_pool stored = fx_pool(&f);
    u128 paid = stored.total_paid;
    CHECK(stored.total_deposited == (u128)3 * big + 1000000);
    CHECK(paid > UINT64_MAX && stored.payable == paid);
    rpc_request req = rq(RPC_Q_POOL, NULL, 0);
    const msgpack_object *r = QUERY_OK(&t, &req);
    STR_IS(r, "total_deposited", "30000000000001000000");
    DEC_IS(r, "total_paid", paid);
    DEC_IS(r, "payable", paid);
    req = rq(RPC_Q_QUEUE, NULL, 0);
    DEC_IS(QUERY_OK(&t, &req), "payable", paid);
    /* a held loss: -50 % of operator 1's stake, beyond MAX_DROP_BPS */
    ok_do(&f, FX_CUSTODIAN, LEDGER_TX_OPERATOR_FUND, FX_NONE, FX_NONE, 1, 10000000, 0);
    f.now += 3600;
    CHECK_CODE(fx_do(&f, FX_OPERATOR, LEDGER_TX_REPORT, FX_NONE, FX_NONE, 1, 5000000, 1).code,
               LEDGER_REPORT_DROP_EXCEEDED);
    ledger_pool p = pool_at(&f, f.now);
    char rate[64];
    rate_text(rate, p.assets - 5000000, p.shares);
    req = rq(RPC_Q_POOL, NULL, 0);
    r = QUERY_OK(&t, &req);
    CHECK_U64(U64(r, "held_loss"), 5000000);
    BOOL_IS(r, "bunker", true);
    STR_IS(r, "bunker_rate", rate);
    req = rq(RPC_Q_OPERATOR, NULL, 1);
    const msgpack_object *held = mp_get(QUERY_OK(&t, &req), "held");
    CHECK_U64(U64(held, "epoch"), 1);
    CHECK_U64(U64(held, "balance"), 5000000);
    CHECK_U64(U64(held, "loss"), 5000000);
    msgpack_unpacked_destroy(&t.up);
    msgpack_sbuffer_destroy(&t.buf);
    fx_close(&f);
}

/* A record of kind with every value at its widest, listing `accounts` accounts: its encoding
 * within RPC_RECORD_MAX_BYTES and RPC_RECORD_ACCOUNT_BYTES each. */
static size_t widest_record(unsigned kind, int code, size_t accounts)
{
    static uint8_t keys[LEDGER_RECORD_ACCOUNTS_MAX][32];
    ledger_record r;
    msgpack_sbuffer b;
    msgpack_packer pk;
    memset(&r, 0xff, sizeof r);
    memset(keys, 0xff, sizeof keys);
    r.accounts = keys[0];
    r.account_count = accounts;
    r.tx.kind = (uint8_t)kind;
    r.result.code = code;
    r.result.duplicate = true;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    CHECK(rpc_pack_record(&pk, &r) == 0);
    size_t n = b.size;
    msgpack_sbuffer_destroy(&b);
    return n;
}

/* The sizes rpc_reply.h promises, which bound the memory of unread replies (PROTOCOL.md,
 * "Limits"): every record, a transaction reply and an error reply at their widest. */
static void test_size_bounds(void)
{
    static const int codes[] = {
#define CODE(name, num, msg) LEDGER_##name,
        LEDGER_ERRORS(CODE)
#undef CODE
    };
    size_t widest = 0, tx_widest = 0;
    rpc_id id = {.type = 2, .len = RPC_ID_MAX};
    memset(id.s, 'i', sizeof id.s);
    uint8_t hash[32];
    memset(hash, 0xff, sizeof hash);
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    for (unsigned k = 1; k <= LEDGER_TX_KIND_MAX; k++)
        for (size_t c = 0; c < sizeof codes / sizeof codes[0]; c++) {
            size_t n = widest_record(k, codes[c], 0);
            widest = n > widest ? n : widest;
            n = widest_record(k, codes[c], LEDGER_RECORD_ACCOUNTS_MAX);
            CHECK(n <=
                  RPC_RECORD_MAX_BYTES + LEDGER_RECORD_ACCOUNTS_MAX * RPC_RECORD_ACCOUNT_BYTES);
            ledger_tx tx;
            ledger_result res;
            memset(&tx, 0xff, sizeof tx);
            memset(&res, 0xff, sizeof res);
            tx.kind = (uint8_t)k;
            res.code = codes[c];
            res.duplicate = true;
            CHECK(rpc_reply_tx(&b, &id, &tx, hash, &res) == 0);
            tx_widest = b.size > tx_widest ? b.size : tx_widest;
        }
    char message[256];
    memset(message, 'm', sizeof message - 1);
    message[sizeof message - 1] = '\0';
    CHECK(rpc_reply_error(&b, &id, LEDGER_PAUSE_FLAGS_UNKNOWN, message) == 0);
    printf("widest record %zu bytes, transaction reply %zu, error reply %zu\n", widest, tx_widest,
           b.size);
    CHECK(widest <= RPC_RECORD_MAX_BYTES);
    CHECK(tx_widest <= RPC_SMALL_REPLY_MAX && b.size <= RPC_SMALL_REPLY_MAX);
    /* an events page (1000 records) of records listing nothing, and its envelope and id, fits
     * whole (pages of larger records stop early); and the largest record alone fits */
    CHECK(1000u * RPC_RECORD_MAX_BYTES + 1024 <= RPC_REPLY_MAX_BYTES);
    CHECK(RPC_RECORD_MAX_BYTES + LEDGER_RECORD_ACCOUNTS_MAX * RPC_RECORD_ACCOUNT_BYTES + 1024 <=
          RPC_REPLY_MAX_BYTES);
    msgpack_sbuffer_destroy(&b);
}

int main(void)
{
    fixture f;
    scenario sc;
    memset(&sc, 0, sizeof sc);
    fx_open(&f, NULL);
    qt t = {.f = &f, .now = Q};
    msgpack_sbuffer_init(&t.buf);
    msgpack_unpacked_init(&t.up);
    test_error_replies(&t);
    build_accounts(&f, &sc);
    build_operators_withdrawals(&f, &sc);
    fx_check(&f);
    test_tx_replies(&t, &sc);
    test_tx_duplicate(&t, &sc);
    test_pool(&t);
    test_pool_times(&t);
    test_queue_health(&t);
    test_account_u0(&t);
    test_account_u1(&t, &sc);
    test_tx_query(&t, &sc);
    test_history_events(&t, &sc);
    test_record_chain(&t);
    test_operator1(&t);
    test_operator2(&t);
    test_quote(&t);
    test_failures_of_store(&t);
    msgpack_unpacked_destroy(&t.up);
    msgpack_sbuffer_destroy(&t.buf);
    fx_close(&f);
    test_truncated_and_limit();
    test_empty_pool();
    test_wide_totals_and_bunker();
    test_size_bounds();
    return test_finish("test_rpc_reply");
}
