/* test_rpc_request.c - request decoding: every kind and query, ids, hostile bytes, mutations */
#include <msgpack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_request.h"
#include "fixture.h"
#include "test_util.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static char msg[256];
static uint8_t pattern[128]; /* bin values are prefixes of this */

/* ---- building requests with msgpack-c's packer ------------------------------------------ */

static void pk_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pk_bin(msgpack_packer *pk, const uint8_t *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

static int decode_buf(rpc_request *r, const void *buf, size_t len)
{
    return rpc_request_decode(r, buf, len, msg, sizeof msg);
}

static int decode_sbuf(rpc_request *r, const msgpack_sbuffer *sb)
{
    return decode_buf(r, sb->data, sb->size);
}

/* A map entry for the table-driven cases: a str key and a value of a chosen msgpack type. */
enum vtype { V_OMIT = 1, V_STR, V_BIN, V_UINT, V_NEG, V_FLOAT, V_NIL, V_TRUE, V_ARRAY, V_MAP };

typedef struct kv {
    const char *key;
    int t;         /* enum vtype */
    uint64_t u;    /* V_UINT: the value; V_BIN: length; V_STR without s: length of "xx..";
                      V_ARRAY: element count (nils) */
    const char *s; /* V_STR */
    bool append;   /* an override added even when the base has the key: a duplicate */
} kv;

#define S(k, str)                                                                                  \
    {                                                                                              \
        k, V_STR, 0, str, false                                                                    \
    }
#define SN(k, n)                                                                                   \
    {                                                                                              \
        k, V_STR, n, NULL, false                                                                   \
    }
#define B(k, n)                                                                                    \
    {                                                                                              \
        k, V_BIN, n, NULL, false                                                                   \
    }
#define U(k, v)                                                                                    \
    {                                                                                              \
        k, V_UINT, v, NULL, false                                                                  \
    }
#define T(k, type)                                                                                 \
    {                                                                                              \
        k, type, 1, NULL, false                                                                    \
    }
#define OMIT(k)                                                                                    \
    {                                                                                              \
        k, V_OMIT, 0, NULL, false                                                                  \
    }
#define DUP_U(k, v)                                                                                \
    {                                                                                              \
        k, V_UINT, v, NULL, true                                                                   \
    }

static void pk_value(msgpack_packer *pk, const kv *e)
{
    switch (e->t) {
    case V_STR:
        if (e->s != NULL) {
            pk_str(pk, e->s);
        } else {
            char long_str[80];
            size_t n = (size_t)e->u < sizeof long_str ? (size_t)e->u : sizeof long_str;
            memset(long_str, 'x', n);
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, long_str, n);
        }
        break;
    case V_BIN:
        pk_bin(pk, pattern, (size_t)e->u);
        break;
    case V_UINT:
        msgpack_pack_uint64(pk, e->u);
        break;
    case V_NEG:
        msgpack_pack_int64(pk, -1);
        break;
    case V_FLOAT:
        msgpack_pack_double(pk, 1.5);
        break;
    case V_NIL:
        msgpack_pack_nil(pk);
        break;
    case V_TRUE:
        msgpack_pack_true(pk);
        break;
    case V_ARRAY:
        msgpack_pack_array(pk, (size_t)e->u);
        for (uint64_t i = 0; i < e->u; i++)
            msgpack_pack_nil(pk);
        break;
    default:
        msgpack_pack_map(pk, 0);
        break;
    }
}

static const kv *find_over(const kv *over, const char *key)
{
    for (; over != NULL && over->key != NULL; over++)
        if (!over->append && strcmp(over->key, key) == 0)
            return over;
    return NULL;
}

static bool in_base(const kv *base, const char *key)
{
    for (; base->key != NULL; base++)
        if (strcmp(base->key, key) == 0)
            return true;
    return false;
}

/* Pack base with over applied: an override replaces the base entry of the same key (V_OMIT
 * removes it), is added when the base lacks the key, and is added again when append is set. */
static void pack_kvs(msgpack_sbuffer *sb, const kv *base, const kv *over)
{
    msgpack_packer pk;
    size_t n = 0;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            msgpack_pack_map(&pk, n);
        for (const kv *b = base; b->key != NULL; b++) {
            const kv *o = find_over(over, b->key);
            const kv *e = o != NULL ? o : b;
            if (e->t == V_OMIT)
                continue;
            if (pass == 0) {
                n++;
            } else {
                pk_str(&pk, e->key);
                pk_value(&pk, e);
            }
        }
        for (const kv *o = over; o != NULL && o->key != NULL; o++) {
            if (o->t == V_OMIT || (!o->append && in_base(base, o->key)))
                continue;
            if (pass == 0) {
                n++;
            } else {
                pk_str(&pk, o->key);
                pk_value(&pk, o);
            }
        }
    }
}

static int decode_kvs(rpc_request *r, const kv *base, const kv *over)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_kvs(&sb, base, over);
    int rc = decode_sbuf(r, &sb);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static const kv b_empty[] = {{0}};
static const kv b_transfer[] = {S("op", "transfer"),
                                B("signer", 32),
                                U("nonce", 1),
                                B("sig", 64),
                                B("to", 32),
                                U("shares", 5),
                                {0}};
static const kv b_deposit[] = {
    S("op", "deposit"), B("signer", 32),       U("nonce", 1),          B("sig", 64), B("to", 32),
    U("amount", 7),     B("external_ref", 32), U("min_shares_out", 0), {0}};
static const kv b_pool[] = {S("op", "pool"), {0}};
static const kv b_account[] = {S("op", "account"), B("account", 32), {0}};
static const kv b_tx[] = {S("op", "tx"), B("hash", 32), {0}};
static const kv b_history[] = {S("op", "history"), B("account", 32), {0}};
static const kv b_operator[] = {S("op", "operator"), U("operator_id", 3), {0}};
static const kv b_quote[] = {S("op", "quote"), U("amount", 10), {0}};
static const kv b_lien[] = {S("op", "lien"), U("lien_id", 4), {0}};
static const kv b_withdrawal[] = {S("op", "withdrawal"), U("request_id", 6), {0}};
static const kv b_queue[] = {S("op", "queue"), {0}};
static const kv b_events[] = {S("op", "events"), {0}};
static const kv b_health[] = {S("op", "health"), {0}};
static const kv b_rates[] = {S("op", "rate_history"), {0}};
static const kv b_votes[] = {S("op", "votes"), {0}};
static const kv b_operators[] = {S("op", "operators"), {0}};

/* ---- transactions: every kind, built from the ledger's field table ---------------------- */

/* Pack tx as a request; entries in table order, or reversed (order must not matter). */
static void pack_tx(msgpack_sbuffer *sb, const ledger_tx *txc, const uint8_t sig[LEDGER_SIG_SIZE],
                    const char *ledger, bool reverse)
{
    const ledger_kind_info *k = ledger_kind_lookup(txc->kind);
    ledger_tx tx = *txc;
    msgpack_packer pk;
    size_t n = 5 + k->field_count;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n - (ledger == NULL));
    for (size_t i = 0; i < n; i++) {
        size_t j = reverse ? n - 1 - i : i;
        if (j == 0) {
            pk_str(&pk, "op");
            pk_str(&pk, k->name);
        } else if (j == 1) {
            pk_str(&pk, "signer");
            pk_bin(&pk, tx.signer, LEDGER_KEY_SIZE);
        } else if (j == 2) {
            pk_str(&pk, "nonce");
            msgpack_pack_uint64(&pk, tx.nonce);
        } else if (j == 3) {
            pk_str(&pk, "sig");
            pk_bin(&pk, sig, LEDGER_SIG_SIZE);
        } else if (j == 4) {
            if (ledger != NULL) {
                pk_str(&pk, "ledger");
                pk_str(&pk, ledger);
            }
        } else {
            const ledger_field *f = &k->fields[j - 5];
            void *p = ledger_tx_slot(&tx, f->slot);
            pk_str(&pk, f->name);
            if (f->type == LEDGER_F_U64) {
                uint64_t v;
                memcpy(&v, p, sizeof v);
                msgpack_pack_uint64(&pk, v);
            } else {
                pk_bin(&pk, p, 32);
            }
        }
    }
}

static bool tx_equal(const ledger_tx *a, const ledger_tx *b)
{
    return a->kind == b->kind && memcmp(a->signer, b->signer, 32) == 0 && a->nonce == b->nonce &&
           memcmp(a->account, b->account, 32) == 0 && memcmp(a->account2, b->account2, 32) == 0 &&
           memcmp(a->ref, b->ref, 32) == 0 && a->id == b->id && a->amount == b->amount &&
           a->limit == b->limit;
}

/* Every prefix of a valid encoding is MALFORMED; so is any trailing byte. */
static void check_prefixes(const msgpack_sbuffer *sb)
{
    rpc_request r;
    uint8_t *copy = malloc(sb->size + 1);
    if (copy == NULL)
        abort();
    memcpy(copy, sb->data, sb->size);
    for (size_t n = 0; n < sb->size; n++) {
        /* a fresh heap copy of exactly n bytes so ASan sees any read past len */
        uint8_t *p = malloc(n ? n : 1);
        if (p == NULL)
            abort();
        memcpy(p, copy, n);
        CHECK_CODE(rpc_msgpack_check(p, n), LEDGER_MALFORMED);
        CHECK_CODE(decode_buf(&r, p, n), LEDGER_MALFORMED);
        CHECK(r.id.type == 0);
        free(p);
    }
    copy[sb->size] = 0xc0;
    CHECK_CODE(decode_buf(&r, copy, sb->size + 1), LEDGER_MALFORMED);
    free(copy);
}

static void test_every_kind(test_rng *rng)
{
    for (unsigned kind = 1; kind <= LEDGER_TX_KIND_MAX; kind++) {
        for (int variant = 0; variant < 4; variant++) {
            ledger_tx want;
            uint8_t sig[LEDGER_SIG_SIZE];
            rpc_request r;
            msgpack_sbuffer sb;
            const char *ledger = variant & 1 ? "lstd-test-1" : NULL;
            fx_random_tx(&want, kind, rng);
            test_rng_fill(rng, sig, sizeof sig);
            msgpack_sbuffer_init(&sb);
            pack_tx(&sb, &want, sig, ledger, variant & 2);
            memset(&r, 0xa5, sizeof r);
            CHECK_CODE(decode_sbuf(&r, &sb), LEDGER_OK);
            CHECK(r.is_tx);
            CHECK(r.id.type == 0);
            CHECK_U64(r.tx.kind, kind);
            CHECK(tx_equal(&r.tx, &want));
            CHECK(memcmp(r.sig, sig, sizeof sig) == 0);
            CHECK(r.has_ledger == (ledger != NULL));
            if (ledger != NULL)
                CHECK(strcmp(r.ledger, ledger) == 0);
            if (variant == 0)
                check_prefixes(&sb);
            msgpack_sbuffer_destroy(&sb);
        }
    }
}

/* Each kind field, built from the ledger's table: missing, and wrong-typed, named in the
 * message. */
static void test_kind_fields_required(void)
{
    for (unsigned kind = 1; kind <= LEDGER_TX_KIND_MAX; kind++) {
        const ledger_kind_info *k = ledger_kind_lookup(kind);
        kv base[16];
        size_t n = 0;
        base[n++] = (kv)S("op", k->name);
        base[n++] = (kv)B("signer", 32);
        base[n++] = (kv)U("nonce", 1);
        base[n++] = (kv)B("sig", 64);
        for (unsigned j = 0; j < k->field_count; j++) {
            if (k->fields[j].type == LEDGER_F_U64)
                base[n++] = (kv)U(k->fields[j].name, 1);
            else
                base[n++] = (kv)B(k->fields[j].name, 32);
        }
        base[n] = (kv){0};
        rpc_request r;
        CHECK_CODE(decode_kvs(&r, base, NULL), LEDGER_OK);
        for (unsigned i = 0; i < k->field_count; i++) {
            const char *name = k->fields[i].name;
            bool is_u64 = k->fields[i].type == LEDGER_F_U64;
            char want[80];
            kv over[2] = {OMIT(name), {0}};
            snprintf(want, sizeof want, "\"%s\"", name);
            CHECK_CODE(decode_kvs(&r, base, over), LEDGER_MISSING_FIELD);
            CHECK(strstr(msg, want) != NULL);
            over[0] = is_u64 ? (kv)B(name, 8) : (kv)U(name, 1);
            CHECK_CODE(decode_kvs(&r, base, over), LEDGER_WRONG_TYPE);
            CHECK(strstr(msg, want) != NULL);
            over[0] = (kv)T(name, V_NEG);
            CHECK_CODE(decode_kvs(&r, base, over), LEDGER_WRONG_TYPE);
            over[0] = is_u64 ? (kv)T(name, V_FLOAT) : (kv)B(name, 31);
            CHECK_CODE(decode_kvs(&r, base, over), LEDGER_WRONG_TYPE);
        }
    }
}

/* ---- queries ---------------------------------------------------------------------------- */

static void test_queries(void)
{
    rpc_request r;
    static const struct {
        const kv *base;
        unsigned query;
    } plain[] = {{b_pool, RPC_Q_POOL},
                 {b_account, RPC_Q_ACCOUNT},
                 {b_tx, RPC_Q_TX},
                 {b_history, RPC_Q_HISTORY},
                 {b_operator, RPC_Q_OPERATOR},
                 {b_quote, RPC_Q_QUOTE},
                 {b_lien, RPC_Q_LIEN},
                 {b_withdrawal, RPC_Q_WITHDRAWAL},
                 {b_queue, RPC_Q_QUEUE},
                 {b_events, RPC_Q_EVENTS},
                 {b_health, RPC_Q_HEALTH},
                 {b_rates, RPC_Q_RATE_HISTORY}};
    for (size_t i = 0; i < ARRAY_LEN(plain); i++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        pack_kvs(&sb, plain[i].base, NULL);
        CHECK_CODE(decode_sbuf(&r, &sb), LEDGER_OK);
        CHECK(!r.is_tx);
        CHECK_U64(r.query, plain[i].query);
        check_prefixes(&sb);
        msgpack_sbuffer_destroy(&sb);
    }

    CHECK_CODE(decode_kvs(&r, b_account, NULL), LEDGER_OK);
    CHECK(memcmp(r.key, pattern, 32) == 0);
    CHECK_CODE(decode_kvs(&r, b_tx, NULL), LEDGER_OK);
    CHECK(memcmp(r.key, pattern, 32) == 0);
    CHECK_CODE(decode_kvs(&r, b_operator, NULL), LEDGER_OK);
    CHECK_U64(r.number, 3);
    CHECK_CODE(decode_kvs(&r, b_lien, NULL), LEDGER_OK);
    CHECK_U64(r.number, 4);
    CHECK_CODE(decode_kvs(&r, b_withdrawal, NULL), LEDGER_OK);
    CHECK_U64(r.number, 6);

    /* quote: exactly one of amount / shares */
    CHECK_CODE(decode_kvs(&r, b_quote, NULL), LEDGER_OK);
    CHECK_U64(r.number, 10);
    CHECK(!r.quote_shares);
    const kv q_shares[] = {OMIT("amount"), U("shares", 11), {0}};
    CHECK_CODE(decode_kvs(&r, b_quote, q_shares), LEDGER_OK);
    CHECK_U64(r.number, 11);
    CHECK(r.quote_shares);
    const kv q_max[] = {U("amount", UINT64_MAX), {0}};
    CHECK_CODE(decode_kvs(&r, b_quote, q_max), LEDGER_OK);
    CHECK_U64(r.number, UINT64_MAX);

    /* history: defaults and bounds */
    CHECK_CODE(decode_kvs(&r, b_history, NULL), LEDGER_OK);
    CHECK(memcmp(r.key, pattern, 32) == 0);
    CHECK_U64(r.after, 0);
    CHECK_U64(r.limit, 50);
    const kv h_set[] = {U("after", 77), U("limit", 500), {0}};
    CHECK_CODE(decode_kvs(&r, b_history, h_set), LEDGER_OK);
    CHECK_U64(r.after, 77);
    CHECK_U64(r.limit, 500);
    const kv h_one[] = {U("limit", 1), {0}};
    CHECK_CODE(decode_kvs(&r, b_history, h_one), LEDGER_OK);
    CHECK_U64(r.limit, 1);

    /* events: defaults and bounds */
    CHECK_CODE(decode_kvs(&r, b_events, NULL), LEDGER_OK);
    CHECK_U64(r.after, 0);
    CHECK_U64(r.limit, 100);
    const kv e_set[] = {U("after", UINT64_MAX), U("limit", 1000), {0}};
    CHECK_CODE(decode_kvs(&r, b_events, e_set), LEDGER_OK);
    CHECK_U64(r.after, UINT64_MAX);
    CHECK_U64(r.limit, 1000);

    /* rate_history: `from` (into after) and limit, defaults and bounds */
    CHECK_CODE(decode_kvs(&r, b_rates, NULL), LEDGER_OK);
    CHECK_U64(r.after, 0);
    CHECK_U64(r.limit, 100);
    const kv r_set[] = {U("from", 12), U("limit", 1000), {0}};
    CHECK_CODE(decode_kvs(&r, b_rates, r_set), LEDGER_OK);
    CHECK_U64(r.after, 12);
    CHECK_U64(r.limit, 1000);

    /* votes: operator_id (0: every operator with votes), after, limit 1..16, last 1..64 */
    CHECK_CODE(decode_kvs(&r, b_votes, NULL), LEDGER_OK);
    CHECK(r.number == 0 && r.after == 0 && r.limit == 8 && r.last == 8);
    const kv v_set[] = {U("operator_id", 3), U("after", 2), U("limit", 16), U("last", 64), {0}};
    CHECK_CODE(decode_kvs(&r, b_votes, v_set), LEDGER_OK);
    CHECK(r.number == 3 && r.after == 2 && r.limit == 16 && r.last == 64);

    /* operators: order by name (default id), active_only, reverse, limit 1..1024 */
    CHECK_CODE(decode_kvs(&r, b_operators, NULL), LEDGER_OK);
    CHECK(r.order == RPC_ORDER_ID && !r.active_only && !r.reverse && r.limit == 1024);
    const kv o_set[] = {
        S("order", "performance_30d"), U("active_only", 1), U("reverse", 1), U("limit", 5), {0}};
    CHECK_CODE(decode_kvs(&r, b_operators, o_set), LEDGER_OK);
    CHECK(r.order == RPC_ORDER_PERFORMANCE_30D && r.active_only && r.reverse && r.limit == 5);
    for (unsigned o = 0; o < RPC_ORDER_COUNT; o++) {
        const kv one[] = {S("order", rpc_operator_order_name(o)), {0}};
        CHECK_CODE(decode_kvs(&r, b_operators, one), LEDGER_OK);
        CHECK_U64(r.order, o);
    }
    CHECK(rpc_operator_order_name(RPC_ORDER_COUNT) == NULL);
}

static void test_query_names(void)
{
    static const char *const want[] = {
        NULL,         "pool",  "account", "tx",     "history",      "operator", "quote",    "lien",
        "withdrawal", "queue", "events",  "health", "rate_history", "votes",    "operators"};
    for (unsigned q = 0; q < ARRAY_LEN(want); q++) {
        const char *got = rpc_query_name(q);
        CHECK(want[q] == NULL ? got == NULL : got != NULL && strcmp(got, want[q]) == 0);
    }
    CHECK(rpc_query_name(ARRAY_LEN(want)) == NULL);
    CHECK(rpc_query_name(~0u) == NULL);
}

/* ---- the id ---------------------------------------------------------------------------- */

static void test_id(void)
{
    rpc_request r;
    const kv id_u[] = {U("id", 42), {0}};
    CHECK_CODE(decode_kvs(&r, b_pool, id_u), LEDGER_OK);
    CHECK_U64(r.id.type, 1);
    CHECK_U64(r.id.u, 42);
    const kv id_max[] = {U("id", UINT64_MAX), {0}};
    CHECK_CODE(decode_kvs(&r, b_pool, id_max), LEDGER_OK);
    CHECK_U64(r.id.type, 1);
    CHECK_U64(r.id.u, UINT64_MAX);
    const kv id_s[] = {S("id", "req-7"), {0}};
    CHECK_CODE(decode_kvs(&r, b_transfer, id_s), LEDGER_OK);
    CHECK_U64(r.id.type, 2);
    CHECK_U64(r.id.len, 5);
    CHECK(memcmp(r.id.s, "req-7", 5) == 0);
    const kv id_empty[] = {S("id", ""), {0}};
    CHECK_CODE(decode_kvs(&r, b_pool, id_empty), LEDGER_OK);
    CHECK_U64(r.id.type, 2);
    CHECK_U64(r.id.len, 0);
    const kv id_64[] = {SN("id", RPC_ID_MAX), {0}};
    CHECK_CODE(decode_kvs(&r, b_pool, id_64), LEDGER_OK);
    CHECK_U64(r.id.type, 2);
    CHECK_U64(r.id.len, RPC_ID_MAX);
    CHECK(r.id.s[0] == 'x' && r.id.s[RPC_ID_MAX - 1] == 'x');
    CHECK_CODE(decode_kvs(&r, b_empty, NULL), LEDGER_MISSING_FIELD);
    CHECK_U64(r.id.type, 0);

    /* wrong-typed ids: WRONG_TYPE, and no id to echo */
    static const kv bad_ids[][2] = {{SN("id", RPC_ID_MAX + 1), {0}}, {B("id", 4), {0}},
                                    {T("id", V_NEG), {0}},           {T("id", V_FLOAT), {0}},
                                    {T("id", V_NIL), {0}},           {T("id", V_TRUE), {0}},
                                    {T("id", V_ARRAY), {0}},         {T("id", V_MAP), {0}}};
    for (size_t i = 0; i < ARRAY_LEN(bad_ids); i++) {
        CHECK_CODE(decode_kvs(&r, b_pool, bad_ids[i]), LEDGER_WRONG_TYPE);
        CHECK(strstr(msg, "\"id\"") != NULL);
        CHECK_U64(r.id.type, 0);
    }
    /* a bad id is reported before the op is looked at */
    const kv bad_id_op[] = {B("id", 1), S("op", "nope"), {0}};
    CHECK_CODE(decode_kvs(&r, b_pool, bad_id_op), LEDGER_WRONG_TYPE);

    /* echoed on every later error */
    static const kv later[][3] = {
        {U("id", 9), S("op", "nope"), {0}},   /* UNKNOWN_OP */
        {U("id", 9), OMIT("op"), {0}},        /* MISSING_FIELD op */
        {U("id", 9), U("op", 1), {0}},        /* WRONG_TYPE op */
        {U("id", 9), U("memo", 1), {0}},      /* UNKNOWN_FIELD */
        {U("id", 9), OMIT("sig"), {0}},       /* MISSING_FIELD */
        {U("id", 9), B("to", 31), {0}},       /* WRONG_TYPE */
        {U("id", 9), DUP_U("nonce", 2), {0}}, /* DUPLICATE_FIELD */
    };
    static const int later_code[] = {LEDGER_UNKNOWN_OP,     LEDGER_MISSING_FIELD, LEDGER_WRONG_TYPE,
                                     LEDGER_UNKNOWN_FIELD,  LEDGER_MISSING_FIELD, LEDGER_WRONG_TYPE,
                                     LEDGER_DUPLICATE_FIELD};
    for (size_t i = 0; i < ARRAY_LEN(later); i++) {
        CHECK_CODE(decode_kvs(&r, b_transfer, later[i]), later_code[i]);
        CHECK_U64(r.id.type, 1);
        CHECK_U64(r.id.u, 9);
    }
    const kv h_oor[] = {S("id", "h"), U("limit", 0), {0}};
    CHECK_CODE(decode_kvs(&r, b_history, h_oor), LEDGER_OUT_OF_RANGE);
    CHECK_U64(r.id.type, 2);

    /* a duplicated id is not echoed (which one would be?) */
    const kv id_twice[] = {U("id", 1), DUP_U("id", 2), {0}};
    CHECK_CODE(decode_kvs(&r, b_pool, id_twice), LEDGER_DUPLICATE_FIELD);
    CHECK_U64(r.id.type, 0);

    /* a non-str key after the id: WRONG_TYPE, id echoed ({"id": 5, 1: 2}) */
    static const uint8_t int_key[] = {0x82, 0xa2, 'i', 'd', 0x05, 0x01, 0x02};
    CHECK_CODE(decode_buf(&r, int_key, sizeof int_key), LEDGER_WRONG_TYPE);
    CHECK_U64(r.id.type, 1);
    CHECK_U64(r.id.u, 5);
}

/* ---- hostile requests: a table of inputs and their codes --------------------------------- */

typedef struct sem_case {
    const char *name;
    const kv *base;
    kv over[4];
    int want;
    const char *msg_has; /* NULL: not checked */
} sem_case;

static const sem_case sem_cases[] = {
    {"empty map", b_empty, {{0}}, LEDGER_MISSING_FIELD, "\"op\""},
    {"missing op", b_transfer, {OMIT("op")}, LEDGER_MISSING_FIELD, "\"op\""},
    {"op uint", b_transfer, {U("op", 2)}, LEDGER_WRONG_TYPE, "\"op\" must be str, got uint"},
    {"op bin", b_transfer, {B("op", 8)}, LEDGER_WRONG_TYPE, "\"op\""},
    {"op nil", b_transfer, {T("op", V_NIL)}, LEDGER_WRONG_TYPE, "\"op\""},
    {"unknown op", b_transfer, {S("op", "transfers")}, LEDGER_UNKNOWN_OP, "\"transfers\""},
    {"empty op", b_transfer, {S("op", "")}, LEDGER_UNKNOWN_OP, NULL},
    {"long op", b_transfer, {SN("op", 70)}, LEDGER_UNKNOWN_OP, "..."},
    {"op case", b_transfer, {S("op", "Transfer")}, LEDGER_UNKNOWN_OP, NULL},
    {"missing signer", b_transfer, {OMIT("signer")}, LEDGER_MISSING_FIELD, "\"signer\""},
    {"missing nonce", b_transfer, {OMIT("nonce")}, LEDGER_MISSING_FIELD, "\"nonce\""},
    {"missing sig", b_transfer, {OMIT("sig")}, LEDGER_MISSING_FIELD, "\"sig\""},
    {"missing to", b_transfer, {OMIT("to")}, LEDGER_MISSING_FIELD, "\"to\" is required"},
    {"missing shares", b_transfer, {OMIT("shares")}, LEDGER_MISSING_FIELD, "\"shares\""},
    {"signer bin 31", b_transfer, {B("signer", 31)}, LEDGER_WRONG_TYPE, "got bin of 31 bytes"},
    {"signer bin 33", b_transfer, {B("signer", 33)}, LEDGER_WRONG_TYPE, "\"signer\""},
    {"signer str", b_transfer, {SN("signer", 32)}, LEDGER_WRONG_TYPE, "got str of 32 bytes"},
    {"to bin 31",
     b_transfer,
     {B("to", 31)},
     LEDGER_WRONG_TYPE,
     "field \"to\" must be bin of 32 bytes, got bin of 31 bytes"},
    {"to bin 33", b_transfer, {B("to", 33)}, LEDGER_WRONG_TYPE, "\"to\""},
    {"to str",
     b_transfer,
     {SN("to", 32)},
     LEDGER_WRONG_TYPE,
     "field \"to\" must be bin of 32 bytes, got str of 32 bytes"},
    {"sig bin 63", b_transfer, {B("sig", 63)}, LEDGER_WRONG_TYPE, "bin of 64 bytes"},
    {"sig bin 65", b_transfer, {B("sig", 65)}, LEDGER_WRONG_TYPE, "\"sig\""},
    {"sig bin 32", b_transfer, {B("sig", 32)}, LEDGER_WRONG_TYPE, "\"sig\""},
    {"negative nonce", b_transfer, {T("nonce", V_NEG)}, LEDGER_WRONG_TYPE, "got negative int"},
    {"float nonce", b_transfer, {T("nonce", V_FLOAT)}, LEDGER_WRONG_TYPE, "got float"},
    {"float amount",
     b_deposit,
     {T("amount", V_FLOAT)},
     LEDGER_WRONG_TYPE,
     "field \"amount\" must be uint, got float"},
    {"str amount", b_deposit, {S("amount", "7")}, LEDGER_WRONG_TYPE, "got str of 1 bytes"},
    {"nil shares", b_transfer, {T("shares", V_NIL)}, LEDGER_WRONG_TYPE, "got nil"},
    {"bool shares", b_transfer, {T("shares", V_TRUE)}, LEDGER_WRONG_TYPE, "got bool"},
    {"array shares", b_transfer, {T("shares", V_ARRAY)}, LEDGER_WRONG_TYPE, "got array"},
    {"map shares", b_transfer, {T("shares", V_MAP)}, LEDGER_WRONG_TYPE, "got map"},
    {"bin ref", b_deposit, {B("external_ref", 0)}, LEDGER_WRONG_TYPE, "\"external_ref\""},
    {"missing min_shares_out",
     b_deposit,
     {OMIT("min_shares_out")},
     LEDGER_MISSING_FIELD,
     "\"min_shares_out\""},
    {"unknown field",
     b_transfer,
     {U("memo", 1)},
     LEDGER_UNKNOWN_FIELD,
     "field \"memo\" is not defined for op \"transfer\""},
    {"query field on tx", b_transfer, {B("account", 32)}, LEDGER_UNKNOWN_FIELD, "\"account\""},
    {"other kind's field", b_transfer, {U("amount", 1)}, LEDGER_UNKNOWN_FIELD, "\"amount\""},
    {"tx field on query", b_pool, {B("signer", 32)}, LEDGER_UNKNOWN_FIELD, "\"signer\""},
    {"odd key bytes", b_pool, {U("a\x01\"b", 1)}, LEDGER_UNKNOWN_FIELD, "\"a??b\""},
    {"ledger ok", b_transfer, {S("ledger", "main")}, LEDGER_OK, NULL},
    {"ledger 32", b_transfer, {SN("ledger", LEDGER_ID_MAX)}, LEDGER_OK, NULL},
    {"ledger too long",
     b_transfer,
     {SN("ledger", LEDGER_ID_MAX + 1)},
     LEDGER_WRONG_TYPE,
     "\"ledger\""},
    {"ledger empty", b_transfer, {S("ledger", "")}, LEDGER_WRONG_TYPE, "\"ledger\""},
    {"ledger space", b_transfer, {S("ledger", "a b")}, LEDGER_WRONG_TYPE, "printable"},
    {"ledger bin", b_transfer, {B("ledger", 4)}, LEDGER_WRONG_TYPE, "\"ledger\""},
    {"ledger on query", b_pool, {S("ledger", "main")}, LEDGER_UNKNOWN_FIELD, "\"ledger\""},
    {"duplicate to", b_transfer, {DUP_U("to", 1)}, LEDGER_DUPLICATE_FIELD, "\"to\" appears twice"},
    {"duplicate op", b_pool, {{"op", V_STR, 0, "pool", true}}, LEDGER_DUPLICATE_FIELD, "\"op\""},
    {"duplicate unknown", b_pool, {U("x", 1), DUP_U("x", 1)}, LEDGER_DUPLICATE_FIELD, "\"x\""},
    /* the order of checks */
    {"duplicate before op",
     b_transfer,
     {S("op", "nope"), DUP_U("to", 1)},
     LEDGER_DUPLICATE_FIELD,
     NULL},
    {"op before unknown", b_transfer, {S("op", "nope"), U("memo", 1)}, LEDGER_UNKNOWN_OP, NULL},
    {"unknown before missing", b_transfer, {U("memo", 1), OMIT("sig")}, LEDGER_UNKNOWN_FIELD, NULL},
    {"missing before type", b_transfer, {OMIT("sig"), B("to", 1)}, LEDGER_MISSING_FIELD, NULL},
    {"type before range", b_history, {B("account", 1), U("limit", 0)}, LEDGER_WRONG_TYPE, NULL},
    {"missing in table order",
     b_transfer,
     {OMIT("shares"), OMIT("signer")},
     LEDGER_MISSING_FIELD,
     "\"signer\""},
    /* queries */
    {"account missing", b_account, {OMIT("account")}, LEDGER_MISSING_FIELD, "\"account\""},
    {"account bin 31", b_account, {B("account", 31)}, LEDGER_WRONG_TYPE, "\"account\""},
    {"tx hash str", b_tx, {SN("hash", 32)}, LEDGER_WRONG_TYPE, "\"hash\""},
    {"tx key name", b_tx, {OMIT("hash"), B("key", 32)}, LEDGER_UNKNOWN_FIELD, "\"key\""},
    {"history no account", b_history, {OMIT("account")}, LEDGER_MISSING_FIELD, "\"account\""},
    {"history limit 0",
     b_history,
     {U("limit", 0)},
     LEDGER_OUT_OF_RANGE,
     "field \"limit\" must be 1..500, got 0"},
    {"history limit 501", b_history, {U("limit", 501)}, LEDGER_OUT_OF_RANGE, "got 501"},
    {"history limit max", b_history, {U("limit", UINT64_MAX)}, LEDGER_OUT_OF_RANGE, NULL},
    {"history limit str", b_history, {S("limit", "5")}, LEDGER_WRONG_TYPE, "\"limit\""},
    {"history after neg", b_history, {T("after", V_NEG)}, LEDGER_WRONG_TYPE, "\"after\""},
    {"events limit 0", b_events, {U("limit", 0)}, LEDGER_OUT_OF_RANGE, "1..1000"},
    {"events limit 1001", b_events, {U("limit", 1001)}, LEDGER_OUT_OF_RANGE, "got 1001"},
    {"events account", b_events, {B("account", 32)}, LEDGER_UNKNOWN_FIELD, "\"account\""},
    {"rate_history limit 0", b_rates, {U("limit", 0)}, LEDGER_OUT_OF_RANGE, "1..1000"},
    {"rate_history limit 1001", b_rates, {U("limit", 1001)}, LEDGER_OUT_OF_RANGE, "got 1001"},
    {"rate_history after", b_rates, {U("after", 1)}, LEDGER_UNKNOWN_FIELD, "\"after\""},
    {"rate_history from str", b_rates, {S("from", "1")}, LEDGER_WRONG_TYPE, "\"from\""},
    {"votes limit 17", b_votes, {U("limit", 17)}, LEDGER_OUT_OF_RANGE, "1..16"},
    {"votes last 0", b_votes, {U("last", 0)}, LEDGER_OUT_OF_RANGE, "1..64"},
    {"votes last 65", b_votes, {U("last", 65)}, LEDGER_OUT_OF_RANGE, "got 65"},
    {"votes member", b_votes, {B("member", 32)}, LEDGER_UNKNOWN_FIELD, "\"member\""},
    {"operators order unknown",
     b_operators,
     {S("order", "apr_1d")},
     LEDGER_OUT_OF_RANGE,
     "one of id, fee"},
    {"operators order uint", b_operators, {U("order", 1)}, LEDGER_WRONG_TYPE, "must be str"},
    {"operators active_only 2", b_operators, {U("active_only", 2)}, LEDGER_OUT_OF_RANGE, "0..1"},
    {"operators limit 0", b_operators, {U("limit", 0)}, LEDGER_OUT_OF_RANGE, "1..1024"},
    {"operators reverse bool",
     b_operators,
     {T("reverse", V_NIL)},
     LEDGER_WRONG_TYPE,
     "\"reverse\""},
    {"operator missing",
     b_operator,
     {OMIT("operator_id")},
     LEDGER_MISSING_FIELD,
     "\"operator_id\""},
    {"operator bin", b_operator, {B("operator_id", 8)}, LEDGER_WRONG_TYPE, "\"operator_id\""},
    {"lien missing", b_lien, {OMIT("lien_id")}, LEDGER_MISSING_FIELD, "\"lien_id\""},
    {"withdrawal missing",
     b_withdrawal,
     {OMIT("request_id")},
     LEDGER_MISSING_FIELD,
     "\"request_id\""},
    {"quote neither",
     b_quote,
     {OMIT("amount")},
     LEDGER_MISSING_FIELD,
     "one of \"amount\" or \"shares\""},
    {"quote both", b_quote, {U("shares", 1)}, LEDGER_OUT_OF_RANGE, "exactly one of"},
    {"quote neg amount", b_quote, {T("amount", V_NEG)}, LEDGER_WRONG_TYPE, "\"amount\""},
    {"quote both, one wrong", b_quote, {T("shares", V_FLOAT)}, LEDGER_WRONG_TYPE, "\"shares\""},
    {"pool extra", b_pool, {U("limit", 1)}, LEDGER_UNKNOWN_FIELD, "\"limit\""},
    {"queue extra", b_queue, {U("after", 1)}, LEDGER_UNKNOWN_FIELD, NULL},
    {"health extra", b_health, {T("x", V_NIL)}, LEDGER_UNKNOWN_FIELD, NULL},
};

static void test_sem_cases(void)
{
    for (size_t i = 0; i < ARRAY_LEN(sem_cases); i++) {
        const sem_case *c = &sem_cases[i];
        rpc_request r;
        int rc = decode_kvs(&r, c->base, c->over);
        if (rc != c->want)
            fprintf(stderr, "case \"%s\": %s (%s)\n", c->name, ledger_err_name(rc), msg);
        CHECK_CODE(rc, c->want);
        if (c->msg_has != NULL && strstr(msg, c->msg_has) == NULL) {
            fprintf(stderr, "case \"%s\": message \"%s\" lacks \"%s\"\n", c->name, msg, c->msg_has);
            test_failures++;
        }
        if (rc != LEDGER_OK && msg[0] == '\0') {
            fprintf(stderr, "case \"%s\": no message\n", c->name);
            test_failures++;
        }
    }
}

/* Raw bytes: what the packer cannot make (or would not). */
typedef struct raw_case {
    const char *name;
    const char *bytes; /* a string literal; len gives the length (embedded NULs allowed) */
    size_t len;
    int want;
} raw_case;

#define RAW(name, lit, want)                                                                       \
    {                                                                                              \
        name, lit, sizeof(lit) - 1, want                                                           \
    }

static const raw_case raw_cases[] = {
    {"empty input", "", 0, LEDGER_MALFORMED},
    RAW("0xc1 alone", "\xc1", LEDGER_MALFORMED),
    RAW("nil", "\xc0", LEDGER_MALFORMED),
    RAW("uint", "\x05", LEDGER_MALFORMED),
    RAW("str", "\xa2op", LEDGER_MALFORMED),
    RAW("top-level array", "\x91\x80", LEDGER_MALFORMED),
    RAW("top-level empty array", "\x90", LEDGER_MALFORMED),
    RAW("empty map", "\x80", LEDGER_MISSING_FIELD),
    RAW("two maps", "\x80\x80", LEDGER_MALFORMED),
    RAW("trailing byte", "\x81\xa2op\xa4pool\x00", LEDGER_MALFORMED),
    RAW("int key", "\x81\x01\x02", LEDGER_WRONG_TYPE),
    RAW("nil key", "\x82\xa2op\xa4pool\xc0\xc0", LEDGER_WRONG_TYPE),
    RAW("bin key", "\x81\xc4\x02op\xa4pool", LEDGER_WRONG_TYPE),
    RAW("map key", "\x81\x80\x01", LEDGER_WRONG_TYPE),
    RAW("key 0xc1", "\x81\xc1\x01", LEDGER_MALFORMED),
    RAW("value 0xc1", "\x81\xa2op\xc1", LEDGER_MALFORMED),
    RAW("op with NUL", "\x81\xa2op\xa9transfer\x00", LEDGER_UNKNOWN_OP),
    RAW("op with NUL inside", "\x81\xa2op\xa5po\x00ol", LEDGER_UNKNOWN_OP),
    RAW("key with NUL", "\x82\xa2op\xa4pool\xa3op\x00\x01", LEDGER_UNKNOWN_FIELD),
    /* 5-byte (and shorter) inputs declaring huge sizes: rejected from the header alone */
    RAW("map32 2^32-1", "\xdf\xff\xff\xff\xff", LEDGER_MALFORMED),
    RAW("array32 2^32-1", "\xdd\xff\xff\xff\xff", LEDGER_MALFORMED),
    RAW("str32 2^32-1", "\xdb\xff\xff\xff\xff", LEDGER_MALFORMED),
    RAW("bin32 2^32-1", "\xc6\xff\xff\xff\xff", LEDGER_MALFORMED),
    RAW("ext32 2^32-1", "\xc9\xff\xff\xff\xff\x01", LEDGER_MALFORMED),
    RAW("map16 65535", "\xde\xff\xff", LEDGER_MALFORMED),
    RAW("array16 65535", "\xdc\xff\xff", LEDGER_MALFORMED),
    RAW("str16 65535", "\xda\xff\xff", LEDGER_MALFORMED),
    RAW("bin16 65535", "\xc5\xff\xff", LEDGER_MALFORMED),
    RAW("ext16 65535", "\xc8\xff\xff\x01", LEDGER_MALFORMED),
    RAW("str8 255", "\xd9\xff", LEDGER_MALFORMED),
    RAW("bin8 255", "\xc4\xff", LEDGER_MALFORMED),
    RAW("ext8 255", "\xc7\xff\x01", LEDGER_MALFORMED),
    RAW("nested huge array", "\x81\xa1x\xdd\xff\xff\xff\xff", LEDGER_MALFORMED),
    RAW("nested huge map", "\x81\xa1x\xdf\x7f\xff\xff\xff", LEDGER_MALFORMED),
    RAW("map32 of 1 truncated", "\xdf\x00\x00\x00\x01", LEDGER_MALFORMED),
    RAW("fixmap 2 in 3 bytes", "\x82\x01\x02\x03", LEDGER_MALFORMED),
    RAW("fixmap 15 empty", "\x8f", LEDGER_MALFORMED),
    RAW("fixarray 15 empty", "\x81\xa1x\x9f", LEDGER_MALFORMED),
    RAW("fixstr 31 empty", "\x81\xa1x\xbf", LEDGER_MALFORMED),
    RAW("array16 header cut", "\x81\xa1x\xdc\x00", LEDGER_MALFORMED),
    RAW("map32 header cut", "\xdf\x00\x00", LEDGER_MALFORMED),
    RAW("uint64 cut", "\x81\xa1x\xcf\x00\x00", LEDGER_MALFORMED),
    RAW("int32 cut", "\x81\xa1x\xd2\x00", LEDGER_MALFORMED),
    RAW("float32 cut", "\x81\xa1x\xca\x00", LEDGER_MALFORMED),
    RAW("float64 cut", "\x81\xa1x\xcb\x00\x00\x00\x00\x00\x00\x00", LEDGER_MALFORMED),
    RAW("fixext16 cut", "\x81\xa1x\xd8\x01\x00", LEDGER_MALFORMED),
    RAW("fixext1 no data", "\x81\xa1x\xd4\x01", LEDGER_MALFORMED),
    RAW("ext8 no type", "\x81\xa1x\xc7\x00", LEDGER_MALFORMED),
    /* well-formed in wide encodings: accepted */
    RAW("map32 of 1", "\xdf\x00\x00\x00\x01\xa2op\xa4pool", LEDGER_OK),
    RAW("map16 of 1", "\xde\x00\x01\xa2op\xa4pool", LEDGER_OK),
    RAW("str8 key", "\x81\xd9\x02op\xa4pool", LEDGER_OK),
    RAW("str32 value", "\x81\xa2op\xdb\x00\x00\x00\x04pool", LEDGER_OK),
    RAW("int8 id", "\x82\xa2id\xd0\x05\xa2op\xa4pool", LEDGER_OK),
    RAW("uint16 operator_id", "\x82\xa2op\xa8operator\xaboperator_id\xcd\x01\x00", LEDGER_OK),
    RAW("int8 negative operator_id", "\x82\xa2op\xa8operator\xaboperator_id\xd0\xff",
        LEDGER_WRONG_TYPE),
    RAW("float32 operator_id", "\x82\xa2op\xa8operator\xaboperator_id\xca\x3f\x80\x00\x00",
        LEDGER_WRONG_TYPE),
    RAW("fixext operator_id", "\x82\xa2op\xa8operator\xaboperator_id\xd4\x01\x05",
        LEDGER_WRONG_TYPE),
    RAW("ext8 value", "\x82\xa2op\xa4pool\xa1x\xc7\x02\x01\xaa\xbb", LEDGER_UNKNOWN_FIELD),
    RAW("fixext16 value",
        "\x82\xa2op\xa4pool\xa1x\xd8\x01"
        "0123456789abcdef",
        LEDGER_UNKNOWN_FIELD),
    RAW("empty bin value", "\x82\xa2op\xa4pool\xa1x\xc4\x00", LEDGER_UNKNOWN_FIELD),
    RAW("negative fixint value", "\x82\xa2op\xa4pool\xa1x\xff", LEDGER_UNKNOWN_FIELD),
    /* nesting: the top map is level 1 */
    RAW("depth 4", "\x82\xa2op\xa4pool\xa1x\x91\x91\x91\x01", LEDGER_UNKNOWN_FIELD),
    RAW("depth 5", "\x82\xa2op\xa4pool\xa1x\x91\x91\x91\x91\x01", LEDGER_MALFORMED),
    RAW("depth 5 empty", "\x82\xa2op\xa4pool\xa1x\x91\x91\x91\x90", LEDGER_MALFORMED),
    RAW("depth 5 maps", "\x82\xa2op\xa4pool\xa1x\x81\xa1y\x81\xa1z\x81\xa1w\x80", LEDGER_MALFORMED),
    RAW("depth 4 maps", "\x82\xa2op\xa4pool\xa1x\x81\xa1y\x81\xa1z\x80", LEDGER_UNKNOWN_FIELD),
};

static void test_raw_cases(void)
{
    for (size_t i = 0; i < ARRAY_LEN(raw_cases); i++) {
        const raw_case *c = &raw_cases[i];
        rpc_request r;
        /* an exact-size heap copy: ASan flags any read past len */
        uint8_t *p = malloc(c->len ? c->len : 1);
        if (p == NULL)
            abort();
        memcpy(p, c->bytes, c->len);
        int rc = decode_buf(&r, p, c->len);
        if (rc != c->want)
            fprintf(stderr, "raw case \"%s\": %s (%s)\n", c->name, ledger_err_name(rc), msg);
        CHECK_CODE(rc, c->want);
        if (c->want == LEDGER_MALFORMED && strstr(msg, "must be a msgpack map") == NULL)
            CHECK_CODE(rpc_msgpack_check(p, c->len), LEDGER_MALFORMED);
        free(p);
    }
    /* NULL with length 0 */
    rpc_request r;
    CHECK_CODE(rpc_msgpack_check(NULL, 0), LEDGER_MALFORMED);
    CHECK_CODE(rpc_request_decode(&r, NULL, 0, msg, sizeof msg), LEDGER_MALFORMED);
}

/* {"op": "pool", "x": [nil x n]}: 5 + n objects. */
static void pack_objects(msgpack_sbuffer *sb, size_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "op");
    pk_str(&pk, "pool");
    pk_str(&pk, "x");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_nil(&pk);
}

static void test_object_limit(void)
{
    rpc_request r;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_objects(&sb, RPC_OBJECTS_MAX - 5);
    CHECK_CODE(rpc_msgpack_check((const uint8_t *)sb.data, sb.size), LEDGER_OK);
    CHECK_CODE(decode_sbuf(&r, &sb), LEDGER_UNKNOWN_FIELD);
    msgpack_sbuffer_clear(&sb);
    pack_objects(&sb, RPC_OBJECTS_MAX - 4);
    CHECK_CODE(rpc_msgpack_check((const uint8_t *)sb.data, sb.size), LEDGER_MALFORMED);
    CHECK_CODE(decode_sbuf(&r, &sb), LEDGER_MALFORMED);
    msgpack_sbuffer_clear(&sb);
    pack_objects(&sb, 60000); /* array16 with every element present */
    CHECK_CODE(decode_sbuf(&r, &sb), LEDGER_MALFORMED);
    msgpack_sbuffer_destroy(&sb);
}

/* {"op": "pool", "pad": bin of n}. Returns: the encoded size. */
static size_t pack_padded(msgpack_sbuffer *sb, size_t n)
{
    static uint8_t zeros[RPC_REQUEST_MAX_BYTES];
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "op");
    pk_str(&pk, "pool");
    pk_str(&pk, "pad");
    pk_bin(&pk, zeros, n);
    return sb->size;
}

static void test_size_limit(void)
{
    rpc_request r;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    size_t overhead = pack_padded(&sb, 60000) - 60000;
    CHECK_U64(pack_padded(&sb, RPC_REQUEST_MAX_BYTES - overhead), RPC_REQUEST_MAX_BYTES);
    CHECK_CODE(decode_sbuf(&r, &sb), LEDGER_UNKNOWN_FIELD);
    CHECK_U64(pack_padded(&sb, RPC_REQUEST_MAX_BYTES - overhead + 1), RPC_REQUEST_MAX_BYTES + 1);
    CHECK_CODE(decode_sbuf(&r, &sb), LEDGER_TOO_LARGE);
    CHECK(strstr(msg, "65537") != NULL);
    msgpack_sbuffer_destroy(&sb);

    /* TOO_LARGE parses nothing, but a leading id (the map's first key) is read so the reply
     * can echo it: a uint, a short UTF-8 str; garbage or anything else leaves no id */
    uint8_t *big = calloc(RPC_MESSAGE_MAX_BYTES, 1);
    if (big == NULL)
        abort();
    big[0] = 0xc1;
    CHECK_CODE(decode_buf(&r, big, RPC_REQUEST_MAX_BYTES + 1), LEDGER_TOO_LARGE);
    CHECK_U64(r.id.type, 0);
    CHECK_CODE(decode_buf(&r, big, RPC_MESSAGE_MAX_BYTES), LEDGER_TOO_LARGE);
    memcpy(big, "\x82\xa2id\x07", 5);
    CHECK_CODE(decode_buf(&r, big, RPC_REQUEST_MAX_BYTES + 1), LEDGER_TOO_LARGE);
    CHECK(r.id.type == 1 && r.id.u == 7);
    memcpy(big, "\x82\xa2id\xcd\x12\x34", 7);
    CHECK_CODE(decode_buf(&r, big, RPC_REQUEST_MAX_BYTES + 1), LEDGER_TOO_LARGE);
    CHECK(r.id.type == 1 && r.id.u == 0x1234);
    memcpy(big,
           "\x82\xa2id\xa3"
           "abc",
           8);
    CHECK_CODE(decode_buf(&r, big, RPC_REQUEST_MAX_BYTES + 1), LEDGER_TOO_LARGE);
    CHECK(r.id.type == 2 && r.id.len == 3 && memcmp(r.id.s, "abc", 3) == 0);
    memcpy(big, "\x82\xa2id\xa2\xc3\x28", 7); /* not UTF-8: not echoed */
    CHECK_CODE(decode_buf(&r, big, RPC_REQUEST_MAX_BYTES + 1), LEDGER_TOO_LARGE);
    CHECK_U64(r.id.type, 0);
    memcpy(big, "\x82\xa2op\x07", 5); /* id not first: not looked for */
    CHECK_CODE(decode_buf(&r, big, RPC_REQUEST_MAX_BYTES + 1), LEDGER_TOO_LARGE);
    CHECK_U64(r.id.type, 0);
    free(big);
}

/* Every str must be UTF-8 (a reply that echoes it must stay decodable): an id, a key, the op
 * that are not are MALFORMED, and a bad id is never echoed; a readable id of a request with
 * trailing bytes is. */
static void test_utf8(void)
{
    rpc_request r;
    static const uint8_t bad_id[] = "\x82\xa2id\xa2\xc3\x28\xa2op\xa4pool";
    CHECK_CODE(decode_buf(&r, bad_id, sizeof bad_id - 1), LEDGER_MALFORMED);
    CHECK(strstr(msg, "UTF-8") != NULL);
    CHECK_U64(r.id.type, 0);
    static const uint8_t bad_key[] = "\x82\xa2id\x05\xa2\xed\xa0\xa4pool"; /* surrogate */
    CHECK_CODE(decode_buf(&r, bad_key, sizeof bad_key - 1), LEDGER_MALFORMED);
    CHECK(r.id.type == 1 && r.id.u == 5);
    static const uint8_t bad_op[] = "\x82\xa2id\x05\xa2op\xa2\xc0\xaf"; /* overlong */
    CHECK_CODE(decode_buf(&r, bad_op, sizeof bad_op - 1), LEDGER_MALFORMED);
    static const uint8_t good[] = "\x82\xa2id\xa5\xc3\xa9t\xc3\xa9\xa2op\xa4pool"; /* été */
    CHECK_CODE(decode_buf(&r, good, sizeof good - 1), LEDGER_OK);
    CHECK(r.id.type == 2 && r.id.len == 5);
    /* not one well-formed object (trailing bytes), but the leading id is readable */
    static const uint8_t extra[] = "\x82\xa2id\x09\xa2op\xa4pool\xc0";
    CHECK_CODE(decode_buf(&r, extra, sizeof extra - 1), LEDGER_MALFORMED);
    CHECK(r.id.type == 1 && r.id.u == 9);
}

/* The message is NUL-terminated in any buffer, and optional. */
static void test_message_buffer(void)
{
    rpc_request r;
    char small[8];
    msgpack_sbuffer sb;
    const kv bad[] = {U("memo", 1), {0}};
    msgpack_sbuffer_init(&sb);
    pack_kvs(&sb, b_transfer, bad);
    memset(small, 'z', sizeof small);
    CHECK_CODE(rpc_request_decode(&r, (const uint8_t *)sb.data, sb.size, small, sizeof small),
               LEDGER_UNKNOWN_FIELD);
    CHECK(memchr(small, '\0', sizeof small) != NULL);
    CHECK_CODE(rpc_request_decode(&r, (const uint8_t *)sb.data, sb.size, NULL, 0),
               LEDGER_UNKNOWN_FIELD);
    memset(small, 'z', sizeof small);
    CHECK_CODE(rpc_request_decode(&r, (const uint8_t *)sb.data, sb.size, small, 0),
               LEDGER_UNKNOWN_FIELD);
    CHECK(small[0] == 'z');
    msgpack_sbuffer_clear(&sb);
    pack_kvs(&sb, b_transfer, NULL);
    strcpy(msg, "stale");
    CHECK_CODE(decode_sbuf(&r, &sb), LEDGER_OK);
    CHECK(msg[0] == '\0');
    msgpack_sbuffer_destroy(&sb);
}

/* ---- random mutation ---------------------------------------------------------------------- */

/* msgpack-c as an oracle for the walk: depth (top = 1) and object count of a decoded tree. */
static void tree_size(const msgpack_object *o, unsigned level, unsigned *depth, size_t *objects)
{
    (*objects)++;
    if (o->type == MSGPACK_OBJECT_ARRAY || o->type == MSGPACK_OBJECT_MAP) {
        if (level > *depth)
            *depth = level;
    }
    if (o->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < o->via.array.size; i++)
            tree_size(&o->via.array.ptr[i], level + 1, depth, objects);
    if (o->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            tree_size(&o->via.map.ptr[i].key, level + 1, depth, objects);
            tree_size(&o->via.map.ptr[i].val, level + 1, depth, objects);
        }
}

/* Compare rpc_msgpack_check with msgpack-c. Only for inputs without 32-bit array/map headers
 * anywhere: msgpack-c reserves memory for a claimed count before reading the elements, and
 * 2^32 claimed elements would be gigabytes (the very thing the check prevents). */
static void oracle(const uint8_t *p, size_t len)
{
    if (len == 0 || memchr(p, 0xdd, len) != NULL || memchr(p, 0xdf, len) != NULL)
        return;
    msgpack_unpacked up;
    size_t off = 0, objects = 0;
    unsigned depth = 0;
    msgpack_unpacked_init(&up);
    msgpack_unpack_return ur = msgpack_unpack_next(&up, (const char *)p, len, &off);
    bool parsed = (ur == MSGPACK_UNPACK_SUCCESS || ur == MSGPACK_UNPACK_EXTRA_BYTES) && off == len;
    if (parsed)
        tree_size(&up.data, 1, &depth, &objects);
    int want = parsed && depth <= RPC_DEPTH_MAX && objects <= RPC_OBJECTS_MAX ? LEDGER_OK
                                                                              : LEDGER_MALFORMED;
    int got = rpc_msgpack_check(p, len);
    if (got != want) {
        fprintf(stderr, "oracle: msgpack-c %d (off %zu of %zu, depth %u, %zu objects), check %s\n",
                (int)ur, off, len, depth, objects, ledger_err_name(got));
        test_failures++;
    }
    msgpack_unpacked_destroy(&up);
}

static bool expected_code(int rc)
{
    switch (rc) {
    case LEDGER_OK:
    case LEDGER_MALFORMED:
    case LEDGER_WRONG_TYPE:
    case LEDGER_MISSING_FIELD:
    case LEDGER_UNKNOWN_FIELD:
    case LEDGER_DUPLICATE_FIELD:
    case LEDGER_UNKNOWN_OP:
    case LEDGER_OUT_OF_RANGE:
        return true;
    default:
        return false;
    }
}

static void mutate(test_rng *rng, uint8_t *p, size_t *len, size_t cap)
{
    static const uint8_t special[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
                                      0xc4, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcf, 0xd0, 0xd3,
                                      0xd4, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};
    size_t at = *len ? (size_t)test_rng_below(rng, *len) : 0;
    switch (test_rng_below(rng, 6)) {
    case 0: /* flip a bit */
        if (*len)
            p[at] ^= (uint8_t)(1u << test_rng_below(rng, 8));
        break;
    case 1: /* a random byte */
        if (*len)
            p[at] = (uint8_t)test_rng_next(rng);
        break;
    case 2: /* a format byte */
        if (*len)
            p[at] = special[test_rng_below(rng, sizeof special)];
        break;
    case 3: /* insert */
        if (*len < cap) {
            memmove(p + at + 1, p + at, *len - at);
            p[at] = test_rng_below(rng, 2) ? (uint8_t)test_rng_next(rng)
                                           : special[test_rng_below(rng, sizeof special)];
            (*len)++;
        }
        break;
    case 4: /* delete */
        if (*len) {
            memmove(p + at, p + at + 1, *len - at - 1);
            (*len)--;
        }
        break;
    default: /* truncate */
        *len = at;
        break;
    }
}

static void test_mutations(test_rng *rng, uint64_t iters)
{
    enum { SEEDS_MAX = 64, CAP = 512 };
    msgpack_sbuffer seeds[SEEDS_MAX];
    size_t nseeds = 0;
    static const kv *const query_bases[] = {b_pool,     b_account, b_tx,     b_history,
                                            b_operator, b_quote,   b_lien,   b_withdrawal,
                                            b_queue,    b_events,  b_health, b_deposit};
    for (unsigned kind = 1; kind <= LEDGER_TX_KIND_MAX; kind++) {
        ledger_tx tx;
        uint8_t sig[LEDGER_SIG_SIZE];
        fx_random_tx(&tx, kind, rng);
        test_rng_fill(rng, sig, sizeof sig);
        msgpack_sbuffer_init(&seeds[nseeds]);
        pack_tx(&seeds[nseeds++], &tx, sig, kind & 1 ? "main" : NULL, false);
    }
    for (size_t i = 0; i < ARRAY_LEN(query_bases); i++) {
        const kv id[] = {U("id", 12345), U("limit", 5), {0}};
        msgpack_sbuffer_init(&seeds[nseeds]);
        pack_kvs(&seeds[nseeds++], query_bases[i], i % 3 == 0 ? id : NULL);
    }
    uint8_t *buf = malloc(CAP);
    if (buf == NULL)
        abort();
    uint64_t ok = 0, by_code[4] = {0};
    for (uint64_t it = 0; it < iters; it++) {
        const msgpack_sbuffer *s = &seeds[test_rng_below(rng, nseeds)];
        size_t len = s->size < CAP ? s->size : CAP;
        memcpy(buf, s->data, len);
        for (uint64_t m = 1 + test_rng_below(rng, 4); m > 0; m--)
            mutate(rng, buf, &len, CAP);
        /* an exact-size copy so ASan catches any read past len */
        uint8_t *p = malloc(len ? len : 1);
        if (p == NULL)
            abort();
        memcpy(p, buf, len);
        rpc_request r;
        memset(msg, 'z', sizeof msg);
        int rc = decode_buf(&r, p, len);
        if (!expected_code(rc) || memchr(msg, '\0', sizeof msg) == NULL ||
            (rc != LEDGER_OK && msg[0] == '\0')) {
            fprintf(stderr, "mutation %" PRIu64 ": %s\n", it, ledger_err_name(rc));
            test_failures++;
        }
        /* MALFORMED after a passing check can only mean "not a map": msgpack-c never
         * disagrees with the walk */
        if (rc == LEDGER_MALFORMED && rpc_msgpack_check(p, len) == LEDGER_OK)
            CHECK(strstr(msg, "must be a msgpack map") != NULL ||
                  strstr(msg, "not valid UTF-8") != NULL || strstr(msg, "trailing") != NULL);
        if (rc == LEDGER_OK && r.is_tx)
            CHECK(ledger_kind_lookup(r.tx.kind) != NULL);
        oracle(p, len);
        ok += rc == LEDGER_OK;
        by_code[rc == LEDGER_MALFORMED    ? 0
                : rc == LEDGER_WRONG_TYPE ? 1
                : rc == LEDGER_OK         ? 2
                                          : 3]++;
        free(p);
    }
    printf("mutations: %" PRIu64 " (malformed %" PRIu64 ", wrong type %" PRIu64 ", ok %" PRIu64
           ", other %" PRIu64 ")\n",
           iters, by_code[0], by_code[1], by_code[2], by_code[3]);
    (void)ok;
    free(buf);
    for (size_t i = 0; i < nseeds; i++)
        msgpack_sbuffer_destroy(&seeds[i]);
}

int main(void)
{
    uint64_t seed = test_seed();
    uint64_t iters = test_env_u64("LSTD_FUZZ_ITERS", 20000);
    test_rng rng;
    test_rng_seed(&rng, seed);
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(0x40 + i * 7);

    test_every_kind(&rng);
    test_kind_fields_required();
    test_queries();
    test_query_names();
    test_id();
    test_sem_cases();
    test_raw_cases();
    test_object_limit();
    test_size_limit();
    test_message_buffer();
    test_utf8();
    test_mutations(&rng, iters);
    return test_finish("test_rpc_request");
}
