/* test_rpc_hostile.c - hostile requests each get their named error; BUSY under overload */
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "rpc_harness.h"
#include "test_util.h"

static rh_server *srv;
static void *dl;
static rh_reply rp;
static rh_key user, stranger;
static ledger_tx good; /* a transfer by user at its next nonce: sent as is only at the end */
static uint8_t good_sig[64], good_hash[32];
static uint8_t recorded[64][32]; /* hashes of transactions this test got recorded */
static size_t nrecorded;

/* ---- building requests ------------------------------------------------------------------- */

/* How a value is replaced in a variant of the good transaction. */
enum with {
    W_NONE = 0,
    W_STR,
    W_BIN31,
    W_BIN33,
    W_NEG,
    W_BOOL,
    W_FLOAT,
    W_NIL,
    W_ARRAY,
    W_STR32,
    W_STR65,
    W_EMPTY_STR,
    W_STR33,
    W_BIN4,
    W_UINT,
    W_BIN63
};

typedef struct variant {
    const char *skip;    /* key left out */
    const char *replace; /* key whose value is `with` */
    int with;
    const char *extra;  /* a key the operation does not define (value uint 1) */
    const char *dup;    /* a key given twice */
    const char *ledger; /* the optional ledger field */
} variant;

static void pack_with(msgpack_packer *pk, int with)
{
    static const uint8_t zeros[64];
    static const char text[80] =
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    switch (with) {
    case W_STR:
        msgpack_pack_str_with_body(pk, "12", 2);
        break;
    case W_BIN31:
        msgpack_pack_bin_with_body(pk, zeros, 31);
        break;
    case W_BIN33:
        msgpack_pack_bin_with_body(pk, zeros, 33);
        break;
    case W_BIN63:
        msgpack_pack_bin_with_body(pk, zeros, 63);
        break;
    case W_BIN4:
        msgpack_pack_bin_with_body(pk, zeros, 4);
        break;
    case W_NEG:
        msgpack_pack_int64(pk, -1);
        break;
    case W_BOOL:
        msgpack_pack_true(pk);
        break;
    case W_FLOAT:
        msgpack_pack_double(pk, 1.0);
        break;
    case W_ARRAY:
        msgpack_pack_array(pk, 1);
        msgpack_pack_uint64(pk, 1);
        break;
    case W_STR32:
        msgpack_pack_str_with_body(pk, text, 32);
        break;
    case W_STR33:
        msgpack_pack_str_with_body(pk, text, 33);
        break;
    case W_STR65:
        msgpack_pack_str_with_body(pk, text, 65);
        break;
    case W_EMPTY_STR:
        msgpack_pack_str_with_body(pk, "", 0);
        break;
    case W_UINT:
        msgpack_pack_uint64(pk, 1);
        break;
    default:
        msgpack_pack_nil(pk);
    }
}

/* Pack the good transaction (id 7), varied by v. */
static void pack_variant(msgpack_sbuffer *b, const ledger_tx *tx, const uint8_t sig[64],
                         const variant *v)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    ledger_tx copy = *tx;
    const char *keys[16];
    size_t n = 0;
    keys[n++] = "id";
    keys[n++] = "op";
    keys[n++] = "signer";
    keys[n++] = "nonce";
    for (unsigned i = 0; i < k->field_count; i++)
        keys[n++] = k->fields[i].name;
    keys[n++] = "sig";
    if (v->ledger != NULL)
        keys[n++] = "ledger";
    uint32_t count = (uint32_t)n;
    count -= v->skip != NULL;
    count += v->extra != NULL;
    count += v->dup != NULL;
    msgpack_packer pk;
    msgpack_sbuffer_clear(b);
    msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, count);
    for (size_t i = 0; i < n; i++) {
        const char *key = keys[i];
        if (v->skip != NULL && strcmp(key, v->skip) == 0)
            continue;
        for (int twice = 0; twice < (v->dup != NULL && strcmp(key, v->dup) == 0 ? 2 : 1); twice++) {
            msgpack_pack_str_with_body(&pk, key, strlen(key));
            if (v->replace != NULL && strcmp(key, v->replace) == 0) {
                pack_with(&pk, v->with);
            } else if (strcmp(key, "id") == 0) {
                msgpack_pack_uint64(&pk, 7);
            } else if (strcmp(key, "op") == 0) {
                msgpack_pack_str_with_body(&pk, k->name, strlen(k->name));
            } else if (strcmp(key, "signer") == 0) {
                msgpack_pack_bin_with_body(&pk, tx->signer, 32);
            } else if (strcmp(key, "nonce") == 0) {
                msgpack_pack_uint64(&pk, tx->nonce);
            } else if (strcmp(key, "sig") == 0) {
                msgpack_pack_bin_with_body(&pk, sig, 64);
            } else if (strcmp(key, "ledger") == 0) {
                msgpack_pack_str_with_body(&pk, v->ledger, strlen(v->ledger));
            } else {
                for (unsigned f = 0; f < k->field_count; f++) {
                    if (strcmp(k->fields[f].name, key) != 0)
                        continue;
                    const void *p = ledger_tx_slot(&copy, k->fields[f].slot);
                    if (k->fields[f].type == LEDGER_F_U64)
                        msgpack_pack_uint64(&pk, *(const uint64_t *)p);
                    else
                        msgpack_pack_bin_with_body(&pk, p, 32);
                }
            }
        }
    }
    if (v->extra != NULL) {
        msgpack_pack_str_with_body(&pk, v->extra, strlen(v->extra));
        msgpack_pack_uint64(&pk, 1);
    }
}

/* ---- the table ----------------------------------------------------------------------------- */

typedef struct hostile {
    const char *name;
    const char *bytes; /* a literal request (len bytes), or NULL: built by `build` */
    size_t len;
    void (*build)(msgpack_sbuffer *b, const struct hostile *h);
    variant v;
    const char *want; /* error name */
    bool echo;        /* the reply must carry id 7 */
} hostile;

#define RAW(name, bytes, want)                                                                     \
    {                                                                                              \
        name, bytes, sizeof(bytes) - 1, NULL, {0}, want, false                                     \
    }
#define TXV(name, want, ...)                                                                       \
    {                                                                                              \
        name, NULL, 0, build_tx, __VA_ARGS__, want, true                                           \
    }
/* an id that cannot be echoed (PROTOCOL.md: id is uint or str of at most 64 bytes) */
#define TXV_NO_ECHO(name, want, ...)                                                               \
    {                                                                                              \
        name, NULL, 0, build_tx, __VA_ARGS__, want, false                                          \
    }
#define BUILD(name, fn, want, echo)                                                                \
    {                                                                                              \
        name, NULL, 0, fn, {0}, want, echo                                                         \
    }

static void build_tx(msgpack_sbuffer *b, const hostile *h)
{
    pack_variant(b, &good, good_sig, &h->v);
}

static void build_deposit_no_min(msgpack_sbuffer *b, const hostile *h)
{
    uint8_t hash[32], sig[64], ref[32];
    variant v = {.skip = "min_shares_out"};
    (void)h;
    memset(ref, 0x99, 32);
    ledger_tx t = rh_tx(LEDGER_TX_DEPOSIT);
    rh_tx_key(&t, "to", user.pk);
    rh_tx_u64(&t, "amount", 5);
    rh_tx_key(&t, "external_ref", ref);
    t.nonce = 1000;
    rh_sign(srv, &t, &srv->custodian, hash, sig);
    pack_variant(b, &t, sig, &v);
}

static void build_flipped_sig(msgpack_sbuffer *b, const hostile *h)
{
    uint8_t sig[64];
    variant v = {0};
    (void)h;
    memcpy(sig, good_sig, 64);
    sig[17] ^= 0x04;
    pack_variant(b, &good, sig, &v);
}

static void build_other_signature(msgpack_sbuffer *b, const hostile *h)
{
    uint8_t hash[32], sig[64];
    variant v = {0};
    ledger_tx t = good;
    (void)h;
    rh_sign(srv, &t, &stranger, hash, sig); /* valid for the stranger, not for user */
    pack_variant(b, &good, sig, &v);
}

static void build_other_ledger_sig(msgpack_sbuffer *b, const hostile *h)
{
    uint8_t hash[32], sig[64];
    variant v = {0};
    ledger_tx t = good;
    (void)h;
    rh_sign_for("lstd-some-other-ledger", &t, &user, hash, sig);
    pack_variant(b, &t, sig, &v);
}

static void build_invalid_signer(msgpack_sbuffer *b, const hostile *h)
{
    variant v = {0};
    ledger_tx t = good;
    (void)h;
    memset(t.signer, 0xff, 32); /* not an x coordinate on the curve */
    pack_variant(b, &t, good_sig, &v);
}

static void build_nonce_gap(msgpack_sbuffer *b, const hostile *h)
{
    uint8_t hash[32], sig[64];
    variant v = {0};
    ledger_tx t = good;
    (void)h;
    t.nonce += 5;
    rh_sign(srv, &t, &user, hash, sig);
    pack_variant(b, &t, sig, &v);
}

static void build_nonce_used(msgpack_sbuffer *b, const hostile *h)
{
    uint8_t hash[32], sig[64];
    variant v = {0};
    ledger_tx t = good;
    (void)h;
    t.nonce = 1; /* used by the first transfer, which moved another amount */
    t.amount = 4242;
    rh_sign(srv, &t, &user, hash, sig);
    pack_variant(b, &t, sig, &v);
}

static void pack_query(msgpack_sbuffer *b, uint32_t extra_pairs, const char *op)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(b);
    msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2 + extra_pairs);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_uint64(&pk, 7);
    msgpack_pack_str_with_body(&pk, "op", 2);
    msgpack_pack_str_with_body(&pk, op, strlen(op));
}

static void pack_kv_uint(msgpack_sbuffer *b, const char *key, uint64_t v)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
    msgpack_pack_str_with_body(&pk, key, strlen(key));
    msgpack_pack_uint64(&pk, v);
}

static void pack_kv_bin(msgpack_sbuffer *b, const char *key, const uint8_t *p, size_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
    msgpack_pack_str_with_body(&pk, key, strlen(key));
    msgpack_pack_bin_with_body(&pk, p, n);
}

static void build_pool_extra(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 1, "pool");
    pack_kv_bin(b, "account", user.pk, 32);
}

static void build_account_missing(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 0, "account");
}

static void build_account_short_key(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 1, "account");
    pack_kv_bin(b, "account", user.pk, 31);
}

static void build_history_limit0(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 2, "history");
    pack_kv_bin(b, "account", user.pk, 32);
    pack_kv_uint(b, "limit", 0);
}

static void build_history_limit501(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 2, "history");
    pack_kv_bin(b, "account", user.pk, 32);
    pack_kv_uint(b, "limit", 501);
}

static void build_events_limit1001(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 1, "events");
    pack_kv_uint(b, "limit", 1001);
}

static void build_quote_neither(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 0, "quote");
}

static void build_quote_both(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 2, "quote");
    pack_kv_uint(b, "amount", 5);
    pack_kv_uint(b, "shares", 5);
}

static void build_unknown_op(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 0, "steal_everything");
}

static void build_op_nul(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 0, "pool");
    b->data[b->size - 5]++;          /* fixstr length 4 -> 5 */
    msgpack_sbuffer_write(b, "", 1); /* "pool\0" */
}

static void build_deep(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 1, "pool");
    msgpack_sbuffer_write(b, "\xa1x", 2);
    for (int i = 0; i < 12; i++)
        msgpack_sbuffer_write(b, "\x91", 1);
    msgpack_sbuffer_write(b, "\x01", 1);
}

static void build_very_deep(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    msgpack_sbuffer_clear(b);
    for (int i = 0; i < 60000; i++) /* 60000 nested arrays: within 64 KiB, a stack breaker */
        msgpack_sbuffer_write(b, "\x91", 1);
    msgpack_sbuffer_write(b, "\xc0", 1);
}

static void build_deep_maps(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    msgpack_sbuffer_clear(b);
    for (int i = 0; i < 20000; i++) /* {"": {"": {...}}} */
        msgpack_sbuffer_write(b, "\x81\xa0", 2);
    msgpack_sbuffer_write(b, "\xc0", 1);
}

static void build_many_objects(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 1, "pool");
    msgpack_sbuffer_write(b, "\xa1x\xdc\x27\x10", 5); /* array16 of 10000 */
    for (int i = 0; i < 10000; i++)
        msgpack_sbuffer_write(b, "\xc0", 1);
}

static void build_huge_in_map(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    pack_query(b, 1, "pool");
    msgpack_sbuffer_write(b, "\xa1x\xdb\xff\xff\xff\xf0", 7);
}

/* {id, op: pool, pad: str} of exactly `total` bytes. */
static void build_padded(msgpack_sbuffer *b, size_t total)
{
    pack_query(b, 1, "pool");
    msgpack_sbuffer_write(b, "\xa3pad", 4);
    size_t head = b->size + 5; /* str32 header */
    size_t n = total - head;
    uint8_t hdr[5] = {0xdb, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    msgpack_sbuffer_write(b, (const char *)hdr, 5);
    char *pad = malloc(n);
    memset(pad, 'p', n);
    msgpack_sbuffer_write(b, pad, n);
    free(pad);
}

static void build_64k(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    build_padded(b, 65536);
}

static void build_64k_plus_1(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    build_padded(b, 65537);
}

static void build_1m(msgpack_sbuffer *b, const hostile *h)
{
    (void)h;
    build_padded(b, 1048576);
}

static void build_id_bin(msgpack_sbuffer *b, const hostile *h)
{
    msgpack_packer pk;
    (void)h;
    msgpack_sbuffer_clear(b);
    msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_bin_with_body(&pk, "ab", 2);
    msgpack_pack_str_with_body(&pk, "op", 2);
    msgpack_pack_str_with_body(&pk, "pool", 4);
}

static const hostile table[] = {
    RAW("empty frame", "", "MALFORMED"),
    RAW("garbage bytes", "hello, world", "MALFORMED"),
    RAW("0xc1 (never used)", "\xc1", "MALFORMED"),
    RAW("lone nil", "\xc0", "MALFORMED"),
    RAW("truncated map", "\x82\xa2op\xa4po", "MALFORMED"),
    RAW("truncated map count", "\x82\xa2op\xa4pool", "MALFORMED"),
    RAW("trailing bytes", "\x81\xa2op\xa4pool\xc0", "MALFORMED"),
    RAW("huge map (5 bytes)", "\xdf\xff\xff\xff\xff", "MALFORMED"),
    RAW("huge array (5 bytes)", "\xdd\xff\xff\xff\xff", "MALFORMED"),
    RAW("huge str (5 bytes)", "\xdb\xff\xff\xff\xff", "MALFORMED"),
    RAW("huge bin (5 bytes)", "\xc6\xff\xff\xff\xff", "MALFORMED"),
    RAW("huge ext", "\xc9\xff\xff\xff\xff\x01", "MALFORMED"),
    RAW("huge map16", "\xde\xff\xff", "MALFORMED"),
    BUILD("huge str inside a map", build_huge_in_map, "MALFORMED", false),
    RAW("top-level array", "\x91\xa4pool", "MALFORMED"),
    RAW("top-level str", "\xa4pool", "MALFORMED"),
    RAW("top-level uint", "\x07", "MALFORMED"),
    BUILD("nesting too deep", build_deep, "MALFORMED", false),
    BUILD("60000 nested arrays", build_very_deep, "MALFORMED", false),
    BUILD("20000 nested maps", build_deep_maps, "MALFORMED", false),
    BUILD("10000 objects", build_many_objects, "MALFORMED", false),
    RAW("non-str key", "\x81\x01\xa4pool", "WRONG_TYPE"),
    RAW("bin key", "\x81\xc4\x02op\xa4pool", "WRONG_TYPE"),
    RAW("duplicate op", "\x82\xa2op\xa4pool\xa2op\xa4pool", "DUPLICATE_FIELD"),
    RAW("missing op", "\x81\xa2id\x07", "MISSING_FIELD"),
    RAW("empty map", "\x80", "MISSING_FIELD"),
    BUILD("unknown op", build_unknown_op, "UNKNOWN_OP", true),
    BUILD("op with a NUL", build_op_nul, "UNKNOWN_OP", true),
    RAW("op not a string", "\x82\xa2id\x07\xa2op\x01", "WRONG_TYPE"),
    RAW("op as bin", "\x82\xa2id\x07\xa2op\xc4\x04pool", "WRONG_TYPE"),
    RAW("op nil", "\x82\xa2id\x07\xa2op\xc0", "WRONG_TYPE"),
    BUILD("id as bin", build_id_bin, "WRONG_TYPE", false),
    TXV_NO_ECHO("id negative", "WRONG_TYPE", {.replace = "id", .with = W_NEG}),
    TXV_NO_ECHO("id str of 65 bytes", "WRONG_TYPE", {.replace = "id", .with = W_STR65}),
    TXV_NO_ECHO("id array", "WRONG_TYPE", {.replace = "id", .with = W_ARRAY}),
    TXV("duplicate nonce", "DUPLICATE_FIELD", {.dup = "nonce"}),
    TXV("duplicate to", "DUPLICATE_FIELD", {.dup = "to"}),
    TXV("missing to", "MISSING_FIELD", {.skip = "to"}),
    TXV("missing shares", "MISSING_FIELD", {.skip = "shares"}),
    TXV("missing sig", "MISSING_FIELD", {.skip = "sig"}),
    TXV("missing signer", "MISSING_FIELD", {.skip = "signer"}),
    TXV("missing nonce", "MISSING_FIELD", {.skip = "nonce"}),
    BUILD("missing zero field min_shares_out", build_deposit_no_min, "MISSING_FIELD", true),
    TXV("extra field", "UNKNOWN_FIELD", {.extra = "memo"}),
    TXV("another kind's field", "UNKNOWN_FIELD", {.extra = "expiry"}),
    BUILD("query with an extra field", build_pool_extra, "UNKNOWN_FIELD", true),
    BUILD("account query without account", build_account_missing, "MISSING_FIELD", true),
    BUILD("account query with a 31-byte key", build_account_short_key, "WRONG_TYPE", true),
    TXV("shares as str", "WRONG_TYPE", {.replace = "shares", .with = W_STR}),
    TXV("shares as float", "WRONG_TYPE", {.replace = "shares", .with = W_FLOAT}),
    TXV("shares nil", "WRONG_TYPE", {.replace = "shares", .with = W_NIL}),
    TXV("shares bool", "WRONG_TYPE", {.replace = "shares", .with = W_BOOL}),
    TXV("shares negative", "WRONG_TYPE", {.replace = "shares", .with = W_NEG}),
    TXV("shares as bin", "WRONG_TYPE", {.replace = "shares", .with = W_BIN4}),
    TXV("nonce negative", "WRONG_TYPE", {.replace = "nonce", .with = W_NEG}),
    TXV("nonce bool", "WRONG_TYPE", {.replace = "nonce", .with = W_BOOL}),
    TXV("to as bin 31", "WRONG_TYPE", {.replace = "to", .with = W_BIN31}),
    TXV("to as bin 33", "WRONG_TYPE", {.replace = "to", .with = W_BIN33}),
    TXV("to as str of 32", "WRONG_TYPE", {.replace = "to", .with = W_STR32}),
    TXV("to as uint", "WRONG_TYPE", {.replace = "to", .with = W_UINT}),
    TXV("signer as str", "WRONG_TYPE", {.replace = "signer", .with = W_STR32}),
    TXV("sig as bin 63", "WRONG_TYPE", {.replace = "sig", .with = W_BIN63}),
    TXV("sig as array", "WRONG_TYPE", {.replace = "sig", .with = W_ARRAY}),
    TXV("ledger as uint", "WRONG_TYPE", {.ledger = "x", .replace = "ledger", .with = W_UINT}),
    TXV("ledger empty", "WRONG_TYPE", {.ledger = "x", .replace = "ledger", .with = W_EMPTY_STR}),
    TXV("ledger of 33 bytes", "WRONG_TYPE", {.ledger = "x", .replace = "ledger", .with = W_STR33}),
    BUILD("history limit 0", build_history_limit0, "OUT_OF_RANGE", true),
    BUILD("history limit 501", build_history_limit501, "OUT_OF_RANGE", true),
    BUILD("events limit 1001", build_events_limit1001, "OUT_OF_RANGE", true),
    BUILD("quote with neither amount nor shares", build_quote_neither, "MISSING_FIELD", true),
    BUILD("quote with both", build_quote_both, "OUT_OF_RANGE", true),
    BUILD("exactly 64 KiB (not too large)", build_64k, "UNKNOWN_FIELD", true),
    BUILD("64 KiB + 1", build_64k_plus_1, "TOO_LARGE", false),
    BUILD("1 MiB", build_1m, "TOO_LARGE", false),
    BUILD("bad signature (one bit)", build_flipped_sig, "BAD_SIGNATURE", true),
    BUILD("signature by another key", build_other_signature, "BAD_SIGNATURE", true),
    BUILD("signed for another ledger", build_other_ledger_sig, "BAD_SIGNATURE", true),
    BUILD("signer not a curve point", build_invalid_signer, "BAD_SIGNATURE", true),
    TXV("ledger field mismatching", "LEDGER_MISMATCH", {.ledger = "lstd-some-other-ledger"}),
    BUILD("nonce gap", build_nonce_gap, "NONCE_GAP", true),
    BUILD("old nonce, different content", build_nonce_used, "NONCE_USED", true),
};

/* ---- running it ------------------------------------------------------------------------------ */

/* No reply may be left over: every request got exactly one. */
static void stray(const char *after)
{
    zmq_pollitem_t p = {dl, 0, ZMQ_POLLIN, 0};
    while (zmq_poll(&p, 1, 100) > 0) {
        rh_recv(dl, &rp);
        fprintf(stderr, "a reply nobody asked for, after %s\n", after);
        rh_print("  reply", &rp.up.data);
        test_failures++;
        p.revents = 0;
    }
}

static void run_case(const hostile *h)
{
    msgpack_sbuffer b;
    int failures = test_failures;
    msgpack_sbuffer_init(&b);
    if (h->bytes == NULL)
        h->build(&b, h);
    else if (h->len > 0) /* (writing 0 bytes to an empty sbuffer is UB in msgpack-c) */
        msgpack_sbuffer_write(&b, h->bytes, h->len);
    uint64_t t0 = rh_now_ms();
    if (rh_send(dl, b.size ? b.data : "", b.size) != 0 || rh_recv(dl, &rp) != 0) {
        fprintf(stderr, "no reply\n");
        test_failures++;
    } else {
        CHECK_ERROR(&rp, h->want);
        CHECK(rh_get(rp.root, "result") == NULL);
        uint64_t id = 0;
        if (h->echo && !(rh_get_uint(rp.root, "id", &id) && id == 7)) {
            fprintf(stderr, "the reply does not echo id 7\n");
            test_failures++;
        }
    }
    if (rh_now_ms() - t0 > 2000) {
        fprintf(stderr, "answered after %llu ms\n", (unsigned long long)(rh_now_ms() - t0));
        test_failures++;
    }
    if (getenv("LSTD_STRAY") != NULL) /* debugging: look for a second reply after each case */
        stray(h->name);
    if (failures != test_failures)
        fprintf(stderr, "  ^ hostile input \"%s\" (%zu bytes)\n", h->name, b.size);
    msgpack_sbuffer_destroy(&b);
}

static void submit_ok(ledger_tx *t, const rh_key *k, const char *ledger)
{
    uint8_t hash[32], sig[64];
    msgpack_sbuffer b;
    uint64_t id = rh_next_id();
    t->nonce = rh_next_nonce(dl, k->pk);
    rh_sign(srv, t, k, hash, sig);
    msgpack_sbuffer_init(&b);
    rh_pack_tx(&b, t, sig, id, NULL, ledger);
    rh_call(dl, &b, id, &rp);
    msgpack_sbuffer_destroy(&b);
    CHECK_OK(&rp);
    memcpy(recorded[nrecorded++], hash, 32);
}

/* 5-byte messages declaring 4 GiB objects, many times: answered MALFORMED at once, and the
 * server does not reserve memory for what they claim. */
static void test_memory(void)
{
    static const char *const huge[] = {"\xdf\xff\xff\xff\xff", "\xdd\xff\xff\xff\xff",
                                       "\xdb\xff\xff\xff\xff", "\xc6\xff\xff\xff\xff",
                                       "\x81\xa2op\xdd\xff\xff\xff\xff"};
    rh_query(dl, &rp, "pool", NULL, 0);
    long before = rh_rss_kb(srv);
    uint64_t t0 = rh_now_ms();
    for (int round = 0; round < 100; round++)
        for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
            rh_send(dl, huge[i], strlen(huge[i]));
        }
    for (int round = 0; round < 100; round++)
        for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
            if (rh_recv(dl, &rp) != 0) {
                fprintf(stderr, "no reply to a huge declaration\n");
                test_failures++;
                return;
            }
            CHECK_ERROR(&rp, "MALFORMED");
        }
    long after = rh_rss_kb(srv);
    printf("500 huge declarations answered in %llu ms; VmRSS %ld -> %ld KiB\n",
           (unsigned long long)(rh_now_ms() - t0), before, after);
    CHECK(before > 0 && after > 0);
    CHECK(after - before < 8 * 1024);
    CHECK(rh_now_ms() - t0 < 5000);
}

/* A message above ZMQ_MAXMSGSIZE: no reply, that connection is dropped; a new one is served. */
/* Wait up to timeout_ms for a monitor event `want`. Returns: true when it came. */
static bool monitor_event(void *mon, uint16_t want, int timeout_ms)
{
    uint64_t deadline = rh_now_ms() + (uint64_t)timeout_ms;
    rh_set_timeout(mon, 100);
    while (rh_now_ms() < deadline) {
        uint8_t ev[6];
        char endpoint[256];
        if (zmq_recv(mon, ev, sizeof ev, 0) < 0)
            continue;
        zmq_recv(mon, endpoint, sizeof endpoint, 0); /* second frame: the endpoint */
        uint16_t event = (uint16_t)(ev[0] | ev[1] << 8);
        if (event == want)
            return true;
    }
    return false;
}

static void test_oversize(void)
{
    size_t n = 2u << 20;
    char *big = malloc(n);
    void *d2 = rh_dealer(srv), *d3, *mon;
    memset(big, 0x91, n);
    rh_query(d2, &rp, "pool", NULL, 0); /* connected */
    CHECK_OK(&rp);
    CHECK(zmq_socket_monitor(d2, "inproc://hostile-monitor", ZMQ_EVENT_DISCONNECTED) == 0);
    mon = zmq_socket(rh_ctx(), ZMQ_PAIR);
    CHECK(zmq_connect(mon, "inproc://hostile-monitor") == 0);
    rh_set_timeout(d2, 1500);
    rh_send(d2, big, n);
    if (!monitor_event(mon, ZMQ_EVENT_DISCONNECTED, 3000)) {
        fprintf(stderr, "a 2 MiB message did not make the server drop the connection\n");
        test_failures++;
    }
    if (rh_recv(d2, &rp) == 0) {
        fprintf(stderr, "a 2 MiB message was answered\n");
        rh_print("  reply", &rp.up.data);
        test_failures++;
    }
    free(big);
    zmq_socket_monitor(d2, NULL, 0);
    rh_close(mon);
    rh_close(d2);
    d3 = rh_dealer(srv);
    CHECK(rh_query(d3, &rp, "pool", NULL, 0) == 0);
    CHECK_OK(&rp);
    rh_close(d3);
}

/* Three payload frames from a DEALER are not one request. */
static void test_multiframe(void)
{
    static const char pool[] = "\x81\xa2op\xa4pool";
    zmq_send(dl, pool, sizeof pool - 1, ZMQ_SNDMORE);
    zmq_send(dl, pool, sizeof pool - 1, ZMQ_SNDMORE);
    zmq_send(dl, pool, sizeof pool - 1, 0);
    CHECK(rh_recv(dl, &rp) == 0);
    CHECK_ERROR(&rp, "MALFORMED");
    /* and the connection still works, one reply per request */
    CHECK(rh_query(dl, &rp, "pool", NULL, 0) == 0);
    CHECK_OK(&rp);
}

/* Valid edge cases around the table: a 64-byte str id, the right ledger field, a replay. */
static void test_valid_edges(void)
{
    static const char id64[] = "0123456789012345678901234567890123456789012345678901234567890123";
    msgpack_sbuffer b;
    msgpack_packer pk;
    char got[80];
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "op", 2);
    msgpack_pack_str_with_body(&pk, "pool", 4);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_str_with_body(&pk, id64, 64);
    rh_send(dl, b.data, b.size);
    CHECK(rh_recv(dl, &rp) == 0);
    CHECK_OK(&rp);
    CHECK(rh_get_str(rp.root, "id", got, sizeof got) && strcmp(got, id64) == 0);
    msgpack_sbuffer_destroy(&b);
    /* ids 0, 2^64-1 and "" are echoed as they came */
    rh_send(dl, "\x82\xa2id\x00\xa2op\xa4pool", 13);
    CHECK(rh_recv(dl, &rp) == 0);
    CHECK_OK(&rp);
    CHECK_FIELD(rp.root, "id", 0);
    rh_send(dl, "\x82\xa2id\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xa2op\xa4pool", 21);
    CHECK(rh_recv(dl, &rp) == 0);
    CHECK_OK(&rp);
    CHECK_FIELD(rp.root, "id", UINT64_MAX);
    rh_send(dl, "\x82\xa2id\xa0\xa2op\xa4pool", 13);
    CHECK(rh_recv(dl, &rp) == 0);
    CHECK_OK(&rp);
    CHECK(rh_get_str(rp.root, "id", got, sizeof got) && got[0] == '\0');
    /* no id at all: a reply without one */
    rh_send(dl, "\x81\xa2op\xa4pool", 9);
    CHECK(rh_recv(dl, &rp) == 0);
    CHECK_OK(&rp);
    CHECK(rh_get(rp.root, "id") == NULL);
    /* the good transaction with the matching ledger field */
    msgpack_sbuffer_init(&b);
    rh_pack_tx(&b, &good, good_sig, 8, NULL, srv->ledger_id);
    rh_call(dl, &b, 8, &rp);
    CHECK_OK(&rp);
    CHECK(!RH_BOOL(RH_MAP(rp.root, "result"), "duplicate"));
    memcpy(recorded[nrecorded++], good_hash, 32);
    /* replayed: its recorded result, flagged duplicate */
    rh_pack_tx(&b, &good, good_sig, 9, NULL, NULL);
    rh_call(dl, &b, 9, &rp);
    CHECK_OK(&rp);
    CHECK(RH_BOOL(RH_MAP(rp.root, "result"), "duplicate"));
    msgpack_sbuffer_destroy(&b);
}

/* A client that sends transactions and disconnects before the replies: they still apply, the
 * replies are dropped, and the server keeps serving others. */
static void test_vanishing_client(void)
{
    enum { N = 20 };
    void *gone = rh_dealer(srv);
    int linger = 2000;
    size_t first = nrecorded;
    zmq_setsockopt(gone, ZMQ_LINGER, &linger, sizeof linger);
    for (uint64_t i = 0; i < N; i++) {
        uint8_t sig[64];
        msgpack_sbuffer b;
        ledger_tx t = rh_tx(LEDGER_TX_TRANSFER);
        rh_tx_key(&t, "to", user.pk);
        rh_tx_u64(&t, "shares", 1);
        t.nonce = i + 1;
        rh_sign(srv, &t, &stranger, recorded[nrecorded++], sig);
        msgpack_sbuffer_init(&b);
        rh_pack_tx(&b, &t, sig, i + 1, NULL, NULL);
        rh_send(gone, b.data, b.size);
        msgpack_sbuffer_destroy(&b);
    }
    rh_close(gone); /* sends what is queued (linger), then the connection is gone */
    uint64_t deadline = rh_now_ms() + 10000;
    while (rh_now_ms() < deadline && rh_next_nonce(dl, stranger.pk) != N + 1)
        rh_sleep_ms(20);
    CHECK_U64(rh_next_nonce(dl, stranger.pk), N + 1);
    for (size_t i = first; i < nrecorded; i++) {
        rh_field f = RH_BIN("hash", recorded[i], 32);
        rh_query(dl, &rp, "tx", &f, 1);
        CHECK_OK(&rp);
    }
}

/* BUSY: a tiny queue and one verifier, blasted from several connections. Every request gets
 * exactly one reply; some are BUSY; the server keeps serving. */
enum { BUSY_CONNS = 4, BUSY_PER = 250 };

static struct {
    rh_server *srv;
    void *d[BUSY_CONNS], *setup;
    rh_key keys[BUSY_CONNS];
    msgpack_sbuffer bufs[BUSY_CONNS][BUSY_PER];
    uint8_t hashes[BUSY_CONNS][BUSY_PER][32];
    int replies[BUSY_CONNS][BUSY_PER];
    int state[BUSY_CONNS][BUSY_PER]; /* 1 ok, 2 BUSY, 3 NONCE_GAP */
    size_t total, busy, ok;
} bz;

static uint64_t busy_id(int c, int i)
{
    return (uint64_t)c * 1000 + (uint64_t)i + 1;
}

/* Fund one key per connection and prepare its requests: transfers with consecutive nonces,
 * every tenth a pool query. */
static void busy_prepare(void)
{
    for (int c = 0; c < BUSY_CONNS; c++)
        rh_keygen(&bz.keys[c]);
    for (int c = 0; c < BUSY_CONNS; c++) {
        uint8_t ref[32];
        memset(ref, 0x30 + c, 32);
        ledger_tx t = rh_tx(LEDGER_TX_DEPOSIT);
        rh_tx_key(&t, "to", bz.keys[c].pk);
        rh_tx_u64(&t, "amount", 1000000000);
        rh_tx_key(&t, "external_ref", ref);
        rh_submit(bz.srv, bz.setup, &t, &bz.srv->custodian, &rp, NULL);
        CHECK_OK(&rp);
        bz.d[c] = rh_dealer(bz.srv);
        for (int i = 0; i < BUSY_PER; i++) {
            uint8_t sig[64];
            msgpack_sbuffer_init(&bz.bufs[c][i]);
            if (i % 10 == 9) { /* queries count against the queue too */
                rh_pack_map(&bz.bufs[c][i], busy_id(c, i), "pool", NULL, 0);
                continue;
            }
            t = rh_tx(LEDGER_TX_TRANSFER);
            rh_tx_key(&t, "to", bz.keys[(c + 1) % BUSY_CONNS].pk);
            rh_tx_u64(&t, "shares", 1);
            t.nonce = 1 + (uint64_t)i - (uint64_t)(i / 10);
            rh_sign(bz.srv, &t, &bz.keys[c], bz.hashes[c][i], sig);
            rh_pack_tx(&bz.bufs[c][i], &t, sig, busy_id(c, i), NULL, NULL);
        }
        rh_query(bz.d[c], &rp, "pool", NULL, 0); /* connected before the blast */
    }
}

static void busy_on_reply(int c)
{
    uint64_t id = 0;
    bool ok = false;
    bz.total++;
    if (!rh_get_uint(rp.root, "id", &id) || id < busy_id(c, 0) || id > busy_id(c, BUSY_PER - 1)) {
        fprintf(stderr, "BUSY test: reply with a foreign id\n");
        test_failures++;
        return;
    }
    int i = (int)(id - busy_id(c, 0));
    if (bz.replies[c][i]++ > 0) {
        fprintf(stderr, "BUSY test: request %llu answered twice\n", (unsigned long long)id);
        test_failures++;
    }
    if (rh_get_bool(rp.root, "ok", &ok) && ok) {
        bz.state[c][i] = 1;
        bz.ok++;
    } else if (rh_str_is(rh_get(rp.root, "error"), "BUSY")) {
        bz.state[c][i] = 2;
        bz.busy++;
        CHECK(rh_get(rp.root, "result") == NULL);
    } else if (rh_str_is(rh_get(rp.root, "error"), "NONCE_GAP")) {
        bz.state[c][i] = 3; /* an earlier nonce was refused BUSY */
    } else {
        fprintf(stderr, "BUSY test: unexpected reply\n");
        rh_print("  reply", &rp.up.data);
        test_failures++;
    }
}

/* Send everything, then read until every request is answered and 500 ms pass quietly, or 3 s
 * pass without any reply. */
static void busy_blast(void)
{
    for (int i = 0; i < BUSY_PER; i++)
        for (int c = 0; c < BUSY_CONNS; c++)
            rh_send(bz.d[c], bz.bufs[c][i].data, bz.bufs[c][i].size);
    uint64_t deadline = rh_now_ms() + 20000, quiet = rh_now_ms();
    while (rh_now_ms() < deadline &&
           rh_now_ms() - quiet < (bz.total < BUSY_CONNS * BUSY_PER ? 3000u : 500u)) {
        zmq_pollitem_t p[BUSY_CONNS];
        for (int c = 0; c < BUSY_CONNS; c++)
            p[c] = (zmq_pollitem_t){bz.d[c], 0, ZMQ_POLLIN, 0};
        if (zmq_poll(p, BUSY_CONNS, 50) <= 0)
            continue;
        quiet = rh_now_ms();
        for (int c = 0; c < BUSY_CONNS; c++)
            if ((p[c].revents & ZMQ_POLLIN) && rh_recv(bz.d[c], &rp) == 0)
                busy_on_reply(c);
    }
    printf("BUSY: %zu replies to %d requests: %zu ok, %zu BUSY\n", bz.total, BUSY_CONNS * BUSY_PER,
           bz.ok, bz.busy);
}

static void busy_check(void)
{
    size_t unanswered = 0;
    CHECK_U64(bz.total, BUSY_CONNS * BUSY_PER);
    CHECK(bz.busy > 0);
    for (int c = 0; c < BUSY_CONNS; c++)
        for (int i = 0; i < BUSY_PER; i++) {
            unanswered += bz.replies[c][i] == 0;
            test_failures += bz.replies[c][i] > 1;
            if (bz.replies[c][i] > 1 || (bz.replies[c][i] == 0 && unanswered <= 3))
                fprintf(stderr, "BUSY test: request %d/%d got %d replies\n", c, i,
                        bz.replies[c][i]);
        }
    if (unanswered > 0)
        fprintf(stderr, "BUSY test: %zu requests never answered\n", unanswered);
    /* still serving; the acknowledged transactions are recorded; the counters match */
    CHECK(rh_query(bz.setup, &rp, "pool", NULL, 0) == 0);
    CHECK_OK(&rp);
    for (int c = 0; c < BUSY_CONNS; c++)
        for (int i = 0; i < BUSY_PER; i++)
            if (bz.state[c][i] == 1 && i % 10 != 9) {
                rh_field f = RH_BIN("hash", bz.hashes[c][i], 32);
                rh_query(bz.setup, &rp, "tx", &f, 1);
                CHECK_OK(&rp);
            }
    rh_query(bz.setup, &rp, "health", NULL, 0);
    const msgpack_object *h = RH_MAP(rp.root, "result");
    CHECK_FIELD(h, "queue_max", 4);
    CHECK_FIELD(RH_MAP(h, "counters"), "busy", bz.busy);
    CHECK_FIELD(RH_MAP(h, "counters"), "replies_dropped", 0);
}

static void test_busy(void)
{
    const char *args[] = {"--queue-max", "4", "--verify-threads", "1", NULL};
    bz.srv = rh_start(args);
    if (bz.srv == NULL) {
        test_failures++;
        return;
    }
    bz.setup = rh_dealer(bz.srv);
    busy_prepare();
    busy_blast();
    busy_check();
    for (int c = 0; c < BUSY_CONNS; c++) {
        rh_close(bz.d[c]);
        for (int i = 0; i < BUSY_PER; i++)
            msgpack_sbuffer_destroy(&bz.bufs[c][i]);
    }
    rh_close(bz.setup);
    CHECK_U64(rh_stop(bz.srv, SIGTERM, 20000), 0);
    rh_free(&bz.srv);
}

int main(void)
{
    rh_init("test_rpc_hostile", 120);
    srv = rh_start(NULL);
    if (srv == NULL) {
        test_failures++;
        return test_finish("test_rpc_hostile");
    }
    dl = rh_dealer(srv);
    rh_reply_init(&rp);
    rh_keygen(&user);
    rh_keygen(&stranger);
    uint8_t ref[32];
    memset(ref, 0x55, 32);
    ledger_tx t = rh_tx(LEDGER_TX_DEPOSIT);
    rh_tx_key(&t, "to", user.pk);
    rh_tx_u64(&t, "amount", 1000000000);
    rh_tx_key(&t, "external_ref", ref);
    submit_ok(&t, &srv->custodian, NULL);
    t = rh_tx(LEDGER_TX_TRANSFER);
    rh_tx_key(&t, "to", stranger.pk);
    rh_tx_u64(&t, "shares", 1000);
    submit_ok(&t, &user, NULL);
    good = rh_tx(LEDGER_TX_TRANSFER);
    rh_tx_key(&good, "to", stranger.pk);
    rh_tx_u64(&good, "shares", 77);
    good.nonce = rh_next_nonce(dl, user.pk);
    rh_sign(srv, &good, &user, good_hash, good_sig);

    uint64_t t0 = rh_now_ms();
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        run_case(&table[i]);
    printf("%zu hostile inputs in %llu ms\n", sizeof table / sizeof table[0],
           (unsigned long long)(rh_now_ms() - t0));
    test_multiframe();
    stray("multiframe");
    test_memory();
    stray("memory");
    test_oversize();
    stray("oversize");
    CHECK_U64(rh_next_nonce(dl, user.pk), good.nonce); /* nothing above consumed a nonce */
    test_valid_edges();
    test_vanishing_client();

    /* still serving, and everything committed is still there */
    CHECK(rh_query(dl, &rp, "pool", NULL, 0) == 0);
    CHECK_OK(&rp);
    CHECK_FIELD(RH_MAP(rp.root, "result"), "seq", nrecorded);
    for (size_t i = 0; i < nrecorded; i++) {
        rh_field f = RH_BIN("hash", recorded[i], 32);
        rh_query(dl, &rp, "tx", &f, 1);
        CHECK_OK(&rp);
        CHECK_FIELD(RH_MAP(rp.root, "result"), "seq", i + 1);
    }
    rh_close(dl);
    CHECK_U64(rh_stop(srv, SIGTERM, 20000), 0);
    rh_free(&srv);

    test_busy();
    rh_reply_free(&rp);
    return test_finish("test_rpc_hostile");
}
