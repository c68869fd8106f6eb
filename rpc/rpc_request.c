/* rpc_request.c - decode one untrusted msgpack request into a plain rpc_request */
#include "rpc_request.h"

#include <assert.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Order of checks. The first rule that fails decides the code, so one input always gets the
 * same answer:
 *   1. TOO_LARGE      the length alone (nothing else is looked at, not even the id);
 *   2. MALFORMED      rpc_msgpack_check (one object, sizes backed by bytes, depth, object
 *                     count), then msgpack-c's decoding, then "the top object is a map";
 *   -  the id is read here (first "id" key) so that every later error can echo it;
 *   3. WRONG_TYPE     a key that is not a str (first in map order);
 *   4. DUPLICATE_FIELD a key given twice (first in map order; a duplicated "id" is not echoed);
 *   5. WRONG_TYPE     an id that is not uint or str of at most RPC_ID_MAX bytes (not echoed);
 *   6. op: MISSING_FIELD (absent), WRONG_TYPE (not str), UNKNOWN_OP (no kind or query);
 *   7. UNKNOWN_FIELD  a key the operation does not define (first in map order);
 *   8. MISSING_FIELD  a required field (first in the operation's table order), then an empty
 *                     "exactly one of" group (quote: amount / shares);
 *   9. WRONG_TYPE     msgpack type or size of a field (table order);
 *  10. OUT_OF_RANGE   a uint outside its bounds (table order), then a "one of" group given
 *                     more than once.
 * NO_MEMORY only when msgpack-c cannot allocate its zone (a few KiB at most, as the check
 * bounds the object count). */

/* How a field's value must look on the wire. */
enum field_type { FT_BIN32 = 1, FT_BIN64, FT_UINT, FT_LEDGER_ID, FT_BOOL, FT_NAME };

enum field_flag {
    FF_REQUIRED = 1, /* MISSING_FIELD when absent */
    FF_ONE_OF = 2,   /* exactly one field of the operation's FF_ONE_OF group must be given */
    FF_UNSIGNED = 4  /* with FF_REQUIRED: may be absent when the request simulates */
};

/* Where a field's value goes in rpc_request. */
enum field_dest {
    D_SIGNER,
    D_NONCE,
    D_SIG,
    D_LEDGER,
    D_SIMULATE,
    D_KEY,
    D_NUMBER,
    D_SHARES, /* number, with quote_shares set */
    D_AFTER,
    D_LIMIT,
    D_LAST,
    D_ORDER,   /* FT_NAME: the index of the name in the field's list */
    D_ACTIVE,  /* a 0/1 uint into active_only */
    D_REVERSE, /* a 0/1 uint into reverse */
    D_SLOT     /* D_SLOT + enum ledger_slot: a transaction field */
};

typedef struct field_spec {
    const char *name;
    uint8_t type;  /* enum field_type */
    uint8_t flags; /* enum field_flag */
    uint8_t dest;  /* enum field_dest */
    uint64_t def;  /* FT_UINT, optional: the value when absent */
    uint64_t lo;   /* FT_UINT: accepted range, else OUT_OF_RANGE */
    uint64_t hi;
    const char *const *names; /* FT_NAME: the accepted strs (NULL-terminated), else OUT_OF_RANGE */
} field_spec;

#define QUERY_FIELDS_MAX 4
#define FIELDS_MAX 16 /* the transaction envelope (5) and the kind's fields */

typedef struct query_spec {
    uint8_t field_count;
    field_spec fields[QUERY_FIELDS_MAX];
} query_spec;

#define BIN32(n, d)                                                                                \
    {                                                                                              \
        n, FT_BIN32, FF_REQUIRED, d, 0, 0, 0, NULL                                                 \
    }
#define UINT(n, d)                                                                                 \
    {                                                                                              \
        n, FT_UINT, FF_REQUIRED, d, 0, 0, UINT64_MAX, NULL                                         \
    }
#define UINT_OPT(n, d, def, lo, hi)                                                                \
    {                                                                                              \
        n, FT_UINT, 0, d, def, lo, hi, NULL                                                        \
    }
#define UINT_ONE_OF(n, d)                                                                          \
    {                                                                                              \
        n, FT_UINT, FF_ONE_OF, d, 0, 0, UINT64_MAX, NULL                                           \
    }

static const char *const order_names[] = {
#define RPC_ORDER_NAME(name, wire) wire,
    RPC_OPERATOR_ORDERS(RPC_ORDER_NAME)
#undef RPC_ORDER_NAME
        NULL};

const char *rpc_operator_order_name(unsigned order)
{
    return order < RPC_ORDER_COUNT ? order_names[order] : NULL;
}

#define NAME_OPT(n, d, names)                                                                      \
    {                                                                                              \
        n, FT_NAME, 0, d, 0, 0, 0, names                                                           \
    }

/* The queries' fields (PROTOCOL.md, "Queries"); pool, queue and health take none. */
static const query_spec queries[] = {
    [RPC_Q_POOL] = {0, {{0}}},
    [RPC_Q_ACCOUNT] = {1, {BIN32("account", D_KEY)}},
    [RPC_Q_TX] = {1, {BIN32("hash", D_KEY)}},
    [RPC_Q_HISTORY] = {3,
                       {BIN32("account", D_KEY), UINT_OPT("after", D_AFTER, 0, 0, UINT64_MAX),
                        UINT_OPT("limit", D_LIMIT, 50, 1, 500)}},
    [RPC_Q_OPERATOR] = {1, {UINT("operator_id", D_NUMBER)}},
    [RPC_Q_QUOTE] = {2, {UINT_ONE_OF("amount", D_NUMBER), UINT_ONE_OF("shares", D_SHARES)}},
    [RPC_Q_LIEN] = {1, {UINT("lien_id", D_NUMBER)}},
    [RPC_Q_WITHDRAWAL] = {1, {UINT("request_id", D_NUMBER)}},
    [RPC_Q_EVENTS] = {2,
                      {UINT_OPT("after", D_AFTER, 0, 0, UINT64_MAX),
                       UINT_OPT("limit", D_LIMIT, 100, 1, 1000)}},
    [RPC_Q_QUEUE] = {0, {{0}}},
    [RPC_Q_HEALTH] = {0, {{0}}},
    [RPC_Q_RATE_HISTORY] = {2,
                            {UINT_OPT("from", D_AFTER, 0, 0, UINT64_MAX),
                             UINT_OPT("limit", D_LIMIT, 100, 1, 1000)}},
    [RPC_Q_VOTES] = {4,
                     {UINT_OPT("operator_id", D_NUMBER, 0, 0, UINT64_MAX),
                      UINT_OPT("after", D_AFTER, 0, 0, UINT64_MAX),
                      UINT_OPT("limit", D_LIMIT, 8, 1, 16),
                      UINT_OPT("last", D_LAST, 8, 1, LEDGER_ORACLE_RECENT_MAX)}},
    [RPC_Q_OPERATORS] = {4,
                         {NAME_OPT("order", D_ORDER, order_names),
                          UINT_OPT("active_only", D_ACTIVE, 0, 0, 1),
                          UINT_OPT("reverse", D_REVERSE, 0, 0, 1),
                          UINT_OPT("limit", D_LIMIT, LEDGER_OPERATORS_MAX, 1,
                                   LEDGER_OPERATORS_MAX)}},
};

/* Every transaction carries these before the kind's own fields (PROTOCOL.md, "Transactions"). */
static const field_spec tx_envelope[] = {
    BIN32("signer", D_SIGNER),
    {"nonce", FT_UINT, FF_REQUIRED | FF_UNSIGNED, D_NONCE, 0, 0, UINT64_MAX, NULL},
    {"sig", FT_BIN64, FF_REQUIRED | FF_UNSIGNED, D_SIG, 0, 0, 0, NULL},
    {"ledger", FT_LEDGER_ID, 0, D_LEDGER, 0, 0, 0, NULL},
    {"simulate", FT_BOOL, 0, D_SIMULATE, 0, 0, 0, NULL},
};

#define TX_ENVELOPE_COUNT (sizeof tx_envelope / sizeof tx_envelope[0])

static const char *const query_names[] = {
#define RPC_QUERY_NAME(name, wire) [RPC_Q_##name] = wire,
    RPC_QUERIES(RPC_QUERY_NAME)
#undef RPC_QUERY_NAME
};

#define QUERY_COUNT (sizeof query_names / sizeof query_names[0])
_Static_assert(sizeof queries / sizeof queries[0] == QUERY_COUNT, "a spec for every query");

const char *rpc_query_name(unsigned query)
{
    return query < QUERY_COUNT ? query_names[query] : NULL;
}

bool rpc_query_field(unsigned query, unsigned index, rpc_query_field_info *out)
{
    if (query == RPC_Q_NONE || query >= QUERY_COUNT || index >= queries[query].field_count)
        return false;
    const field_spec *f = &queries[query].fields[index];
    *out = (rpc_query_field_info){.name = f->name,
                                  .bin32 = f->type == FT_BIN32,
                                  .required = (f->flags & FF_REQUIRED) != 0,
                                  .one_of = (f->flags & FF_ONE_OF) != 0,
                                  .def = f->def,
                                  .lo = f->lo,
                                  .hi = f->hi};
    return true;
}

/* ---- messages -------------------------------------------------------------------------- */

typedef struct errbuf {
    char *msg;
    size_t size;
} errbuf;

#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif

/* Write the message and pass the code through. */
static int fail(errbuf *e, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int fail(errbuf *e, int code, const char *fmt, ...)
{
    if (e->msg != NULL && e->size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, e->size, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Client bytes quoted in a message: printable ASCII only (the reply must be valid UTF-8),
 * at most 32 of them. */
static void quote_bytes(char out[40], const char *p, size_t n)
{
    size_t i, w = 0;
    for (i = 0; i < n && i < 32; i++)
        out[w++] = p[i] >= 0x20 && p[i] <= 0x7e && p[i] != '"' && p[i] != '\\' ? p[i] : '?';
    if (i < n)
        for (int k = 0; k < 3; k++)
            out[w++] = '.';
    out[w] = '\0';
}

/* What a value is, for "got ..." in a message. */
static void describe(char out[48], const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        snprintf(out, 48, "nil");
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        snprintf(out, 48, "bool");
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(out, 48, "uint");
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(out, 48, "negative int");
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        snprintf(out, 48, "float");
        break;
    case MSGPACK_OBJECT_STR:
        snprintf(out, 48, "str of %u bytes", (unsigned)o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        snprintf(out, 48, "bin of %u bytes", (unsigned)o->via.bin.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        snprintf(out, 48, "array");
        break;
    case MSGPACK_OBJECT_MAP:
        snprintf(out, 48, "map");
        break;
    default:
        snprintf(out, 48, "ext");
        break;
    }
}

/* ---- keys and the envelope ------------------------------------------------------------- */

static bool key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

static bool keys_equal(const msgpack_object *a, const msgpack_object *b)
{
    return a->via.str.size == b->via.str.size &&
           memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0;
}

/* The value of the first key `name`, or NULL. */
static const msgpack_object *map_get(const msgpack_object_map *m, const char *name)
{
    for (uint32_t i = 0; i < m->size; i++)
        if (key_is(&m->ptr[i].key, name))
            return &m->ptr[i].val;
    return NULL;
}

/* Returns: true if the n bytes are well-formed UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF): every str a client sends must be, or replies echoing it would not be. */
static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i], len = c < 0x80                 ? 1
                                 : c >= 0xc2 && c <= 0xdf ? 2
                                 : (c & 0xf0) == 0xe0     ? 3
                                 : c >= 0xf0 && c <= 0xf4 ? 4
                                                          : 0;
        if (len == 0 || n - i < len)
            return false;
        for (unsigned k = 1; k < len; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        if ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] > 0x9f) ||
            (c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] > 0x8f))
            return false; /* overlong, surrogate, or beyond U+10FFFF */
        i += len;
    }
    return true;
}

static bool str_utf8(const msgpack_object *v)
{
    return v->type != MSGPACK_OBJECT_STR || utf8_valid(v->via.str.ptr, v->via.str.size);
}

/* Set out->id from v when it has an echoable type. Returns: false when v is ill-typed. */
static bool read_id(rpc_id *id, const msgpack_object *v)
{
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        id->type = 1;
        id->u = v->via.u64;
        return true;
    }
    if (v->type == MSGPACK_OBJECT_STR && v->via.str.size <= RPC_ID_MAX && str_utf8(v)) {
        id->type = 2;
        id->len = (uint8_t)v->via.str.size;
        if (v->via.str.size > 0)
            memcpy(id->s, v->via.str.ptr, v->via.str.size);
        return true;
    }
    return false;
}

/* Every key a str, none twice (the object count bounds the quadratic scan: < 128 keys). */
static int check_keys(rpc_request *out, const msgpack_object_map *m, errbuf *e)
{
    char got[48], name[40];
    for (uint32_t i = 0; i < m->size; i++) {
        if (m->ptr[i].key.type != MSGPACK_OBJECT_STR) {
            describe(got, &m->ptr[i].key);
            return fail(e, LEDGER_WRONG_TYPE, "map keys must be str, got %s", got);
        }
        if (!str_utf8(&m->ptr[i].key) || !str_utf8(&m->ptr[i].val))
            return fail(e, LEDGER_MALFORMED, "a str in the request is not valid UTF-8");
    }
    for (uint32_t i = 0; i < m->size; i++) {
        for (uint32_t j = 0; j < i; j++) {
            if (keys_equal(&m->ptr[i].key, &m->ptr[j].key)) {
                if (key_is(&m->ptr[i].key, "id"))
                    memset(&out->id, 0, sizeof out->id); /* which one to echo is unclear */
                quote_bytes(name, m->ptr[i].key.via.str.ptr, m->ptr[i].key.via.str.size);
                return fail(e, LEDGER_DUPLICATE_FIELD, "field \"%s\" appears twice", name);
            }
        }
    }
    return LEDGER_OK;
}

/* The op: a transaction kind (out->is_tx, out->tx.kind) or a query (out->query). */
static int read_op(rpc_request *out, const msgpack_object_map *m, errbuf *e)
{
    const msgpack_object *v = map_get(m, "op");
    char got[48], name[40], op[32];
    if (v == NULL)
        return fail(e, LEDGER_MISSING_FIELD, "field \"op\" is required");
    if (v->type != MSGPACK_OBJECT_STR) {
        describe(got, v);
        return fail(e, LEDGER_WRONG_TYPE, "field \"op\" must be str, got %s", got);
    }
    quote_bytes(name, v->via.str.ptr, v->via.str.size);
    if (v->via.str.size >= sizeof op || memchr(v->via.str.ptr, 0, v->via.str.size) != NULL)
        return fail(e, LEDGER_UNKNOWN_OP, "unknown op \"%s\"", name);
    memcpy(op, v->via.str.ptr, v->via.str.size);
    op[v->via.str.size] = '\0';
    unsigned kind = ledger_kind_by_name(op);
    if (kind != 0) {
        out->is_tx = true;
        out->tx.kind = (uint8_t)kind;
        return LEDGER_OK;
    }
    for (unsigned q = 1; q < QUERY_COUNT; q++) {
        if (strcmp(op, query_names[q]) == 0) {
            out->query = q;
            return LEDGER_OK;
        }
    }
    return fail(e, LEDGER_UNKNOWN_OP, "unknown op \"%s\"", name);
}

/* ---- the operation's fields, checked in one place ---------------------------------------- */

static int check_type(const field_spec *f, const msgpack_object *v, errbuf *e)
{
    char got[48];
    bool ok;
    describe(got, v);
    switch (f->type) {
    case FT_BIN32:
    case FT_BIN64: {
        uint32_t want = f->type == FT_BIN32 ? 32 : 64;
        if (v->type == MSGPACK_OBJECT_BIN && v->via.bin.size == want)
            return LEDGER_OK;
        return fail(e, LEDGER_WRONG_TYPE, "field \"%s\" must be bin of %u bytes, got %s", f->name,
                    (unsigned)want, got);
    }
    case FT_UINT:
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            return LEDGER_OK;
        return fail(e, LEDGER_WRONG_TYPE, "field \"%s\" must be uint, got %s", f->name, got);
    case FT_BOOL:
        if (v->type == MSGPACK_OBJECT_BOOLEAN)
            return LEDGER_OK;
        return fail(e, LEDGER_WRONG_TYPE, "field \"%s\" must be bool, got %s", f->name, got);
    case FT_NAME:
        if (v->type == MSGPACK_OBJECT_STR)
            return LEDGER_OK;
        return fail(e, LEDGER_WRONG_TYPE, "field \"%s\" must be str, got %s", f->name, got);
    default: /* FT_LEDGER_ID: as ledger ids are made (ledger_genesis_apply) */
        ok = v->type == MSGPACK_OBJECT_STR && v->via.str.size >= 1 &&
             v->via.str.size <= LEDGER_ID_MAX;
        for (uint32_t i = 0; ok && i < v->via.str.size; i++)
            ok = v->via.str.ptr[i] >= 0x21 && v->via.str.ptr[i] <= 0x7e;
        if (ok)
            return LEDGER_OK;
        return fail(e, LEDGER_WRONG_TYPE,
                    "field \"%s\" must be str of 1..%d printable ASCII bytes, got %s", f->name,
                    LEDGER_ID_MAX, got);
    }
}

/* The index of a str value in an FT_NAME field's list, or -1. */
static int name_index(const field_spec *f, const msgpack_object *v)
{
    for (int i = 0; f->names[i] != NULL; i++)
        if (strlen(f->names[i]) == v->via.str.size &&
            memcmp(f->names[i], v->via.str.ptr, v->via.str.size) == 0)
            return i;
    return -1;
}

/* OUT_OF_RANGE for a str that is not one of the field's names, listing them. */
static int name_unknown(const field_spec *f, const msgpack_object *v, errbuf *e)
{
    char got[40], list[160];
    size_t w = 0;
    list[0] = '\0';
    for (int i = 0; f->names[i] != NULL && w < sizeof list; i++) {
        int r = snprintf(list + w, sizeof list - w, "%s%s", i > 0 ? ", " : "", f->names[i]);
        w += r > 0 ? (size_t)r : 0;
    }
    quote_bytes(got, v->via.str.ptr, v->via.str.size);
    return fail(e, LEDGER_OUT_OF_RANGE, "field \"%s\" cannot be \"%s\": one of %s", f->name, got,
                list);
}

/* Store a checked value, or the default of an absent optional uint or name. */
static void store(rpc_request *out, const field_spec *f, const msgpack_object *v)
{
    uint64_t u = v != NULL && f->type == FT_UINT ? v->via.u64 : f->def;
    const char *bytes = v != NULL && f->type != FT_UINT && f->type != FT_BOOL && f->type != FT_NAME
                            ? v->via.bin.ptr
                            : NULL;
    if (f->type == FT_NAME) {
        out->order = v != NULL ? (unsigned)name_index(f, v) : (unsigned)f->def;
        return;
    }
    if (v == NULL && (f->type != FT_UINT || (f->flags & (FF_REQUIRED | FF_ONE_OF))))
        return;
    switch (f->dest) {
    case D_SIGNER:
        memcpy(out->tx.signer, bytes, LEDGER_KEY_SIZE);
        break;
    case D_NONCE:
        out->tx.nonce = u;
        out->has_nonce = true;
        break;
    case D_SIG:
        memcpy(out->sig, bytes, LEDGER_SIG_SIZE);
        out->has_sig = true;
        break;
    case D_SIMULATE:
        out->simulate = v->via.boolean;
        break;
    case D_LEDGER:
        out->has_ledger = true;
        memcpy(out->ledger, v->via.str.ptr, v->via.str.size);
        out->ledger[v->via.str.size] = '\0';
        break;
    case D_KEY:
        memcpy(out->key, bytes, LEDGER_KEY_SIZE);
        break;
    case D_NUMBER:
    case D_SHARES:
        out->number = u;
        out->quote_shares = f->dest == D_SHARES;
        break;
    case D_AFTER:
        out->after = u;
        break;
    case D_LIMIT:
        out->limit = u;
        break;
    case D_LAST:
        out->last = u;
        break;
    case D_ACTIVE:
        out->active_only = u != 0;
        break;
    case D_REVERSE:
        out->reverse = u != 0;
        break;
    default: {
        void *p = ledger_tx_slot(&out->tx, (unsigned)(f->dest - D_SLOT));
        if (f->type == FT_UINT)
            memcpy(p, &u, sizeof u);
        else
            memcpy(p, bytes, LEDGER_KEY_SIZE);
    }
    }
}

/* "\"amount\" or \"shares\"": the names of the FF_ONE_OF group, for messages. */
static void one_of_names(char out[96], const field_spec *f, size_t n)
{
    size_t w = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!(f[i].flags & FF_ONE_OF))
            continue;
        int r = snprintf(out + w, 96 - w, "%s\"%s\"", w ? " or " : "", f[i].name);
        if (r < 0 || (size_t)r >= 96 - w)
            return;
        w += (size_t)r;
    }
}

/* Match the map's keys (other than id and op) to the operation's fields, then check presence,
 * types and ranges in that order (see the top of this file) and store the values. */
static int decode_fields(rpc_request *out, const msgpack_object_map *m, const char *op,
                         const field_spec *f, size_t n, errbuf *e)
{
    const msgpack_object *vals[FIELDS_MAX] = {0}, *sim = map_get(m, "simulate");
    bool unsigned_ok = sim != NULL && sim->type == MSGPACK_OBJECT_BOOLEAN && sim->via.boolean;
    unsigned group = 0, given = 0;
    char name[40], names[96];
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        size_t j = 0;
        if (key_is(k, "id") || key_is(k, "op"))
            continue;
        while (j < n && !key_is(k, f[j].name))
            j++;
        if (j == n) {
            quote_bytes(name, k->via.str.ptr, k->via.str.size);
            return fail(e, LEDGER_UNKNOWN_FIELD, "field \"%s\" is not defined for op \"%s\"", name,
                        op);
        }
        vals[j] = &m->ptr[i].val;
    }
    for (size_t j = 0; j < n; j++) {
        if ((f[j].flags & FF_REQUIRED) && vals[j] == NULL &&
            !(unsigned_ok && (f[j].flags & FF_UNSIGNED)))
            return fail(e, LEDGER_MISSING_FIELD, "field \"%s\" is required for op \"%s\"",
                        f[j].name, op);
        group += (f[j].flags & FF_ONE_OF) != 0;
        given += (f[j].flags & FF_ONE_OF) != 0 && vals[j] != NULL;
    }
    one_of_names(names, f, n);
    if (group > 0 && given == 0)
        return fail(e, LEDGER_MISSING_FIELD, "op \"%s\" requires one of %s", op, names);
    for (size_t j = 0; j < n; j++) {
        int rc = vals[j] != NULL ? check_type(&f[j], vals[j], e) : LEDGER_OK;
        if (rc != LEDGER_OK)
            return rc;
    }
    for (size_t j = 0; j < n; j++) {
        if (vals[j] != NULL && f[j].type == FT_NAME && name_index(&f[j], vals[j]) < 0)
            return name_unknown(&f[j], vals[j], e);
        if (vals[j] == NULL || f[j].type != FT_UINT)
            continue;
        if (vals[j]->via.u64 < f[j].lo || vals[j]->via.u64 > f[j].hi)
            return fail(e, LEDGER_OUT_OF_RANGE, "field \"%s\" must be %llu..%llu, got %llu",
                        f[j].name, (unsigned long long)f[j].lo, (unsigned long long)f[j].hi,
                        (unsigned long long)vals[j]->via.u64);
    }
    if (given > 1)
        return fail(e, LEDGER_OUT_OF_RANGE, "op \"%s\" takes exactly one of %s, got %u", op, names,
                    given);
    for (size_t j = 0; j < n; j++)
        store(out, &f[j], vals[j]);
    return LEDGER_OK;
}

/* The field list of the op read_op found: a query's table, or the transaction envelope
 * followed by the kind's fields from the ledger's table. Returns: the count. */
static size_t op_fields(const rpc_request *out, field_spec f[FIELDS_MAX], const char **op)
{
    size_t n = 0;
    if (!out->is_tx) {
        *op = query_names[out->query];
        if (out->query >= sizeof queries / sizeof queries[0])
            return 0;
        memcpy(f, queries[out->query].fields, sizeof queries[out->query].fields);
        return queries[out->query].field_count;
    }
    const ledger_kind_info *k = ledger_kind_lookup(out->tx.kind);
    assert(k != NULL && k->field_count <= FIELDS_MAX - TX_ENVELOPE_COUNT);
    *op = k->name;
    for (; n < TX_ENVELOPE_COUNT; n++)
        f[n] = tx_envelope[n];
    for (unsigned i = 0; i < k->field_count; i++, n++) {
        field_spec s = UINT(k->fields[i].name, (uint8_t)(D_SLOT + k->fields[i].slot));
        if (k->fields[i].type != LEDGER_F_U64)
            s.type = FT_BIN32;
        f[n] = s;
    }
    return n;
}

static int decode_map(rpc_request *out, const msgpack_object *top, errbuf *e)
{
    char got[48];
    field_spec fields[FIELDS_MAX];
    const char *op = "";
    if (top->type != MSGPACK_OBJECT_MAP) {
        describe(got, top);
        return fail(e, LEDGER_MALFORMED, "request must be a msgpack map, got %s", got);
    }
    const msgpack_object_map *m = &top->via.map;
    const msgpack_object *id = map_get(m, "id");
    bool id_ok = id == NULL || read_id(&out->id, id);
    if (id != NULL && !str_utf8(id)) /* never echo bytes a strict decoder would refuse */
        return fail(e, LEDGER_MALFORMED, "field \"id\" is not valid UTF-8");
    int rc = check_keys(out, m, e);
    if (rc != LEDGER_OK)
        return rc;
    if (!id_ok) {
        describe(got, id);
        return fail(e, LEDGER_WRONG_TYPE,
                    "field \"id\" must be uint or str of at most %d bytes, got %s", RPC_ID_MAX,
                    got);
    }
    rc = read_op(out, m, e);
    if (rc != LEDGER_OK)
        return rc;
    size_t n = op_fields(out, fields, &op);
    return decode_fields(out, m, op, fields, n, e);
}

/* For a request refused before it could be decoded (too large, not well-formed): when it
 * starts as a map whose first key is "id" with a uint or a short UTF-8 str value, that id is
 * readable, so the error reply can echo it. Out: out->id (left zero otherwise). */
static void peek_id(rpc_id *id, const uint8_t *b, size_t len)
{
    size_t p = (b[0] & 0xf0) == 0x80 ? 1 : b[0] == 0xde ? 3 : b[0] == 0xdf ? 5 : 0;
    uint64_t v = 0;
    if (len == 0 || p == 0 || len < p + 4 || memcmp(b + p, "\xa2id", 3) != 0)
        return;
    p += 3;
    unsigned t = b[p++], n = t <= 0x7f ? 0 : t == 0xcc ? 1 : t == 0xcd ? 2 : t == 0xce ? 4 : 8;
    if (t <= 0x7f || (t >= 0xcc && t <= 0xcf)) {
        if (len - p < n)
            return;
        for (unsigned i = 0; i < n; i++)
            v = v << 8 | b[p + i];
        id->type = 1;
        id->u = t <= 0x7f ? t : v;
        return;
    }
    size_t sl = (t & 0xe0) == 0xa0 ? (t & 0x1f) : t == 0xd9 && p < len ? b[p++] : SIZE_MAX;
    if (sl > RPC_ID_MAX || len - p < sl || !utf8_valid((const char *)b + p, sl))
        return;
    id->type = 2;
    id->len = (uint8_t)sl;
    memcpy(id->s, b + p, sl);
}

int rpc_request_too_large(rpc_request *out, const uint8_t *prefix, size_t prefix_len, uint64_t size,
                          char *msg, size_t msg_size)
{
    errbuf e = {msg, msg_size};
    memset(out, 0, sizeof *out);
    if (prefix_len > 0)
        peek_id(&out->id, prefix, prefix_len);
    return fail(&e, LEDGER_TOO_LARGE, "request of %llu bytes exceeds the limit of %u bytes",
                (unsigned long long)size, RPC_REQUEST_MAX_BYTES);
}

int rpc_request_decode(rpc_request *out, const uint8_t *buf, size_t len, char *msg, size_t msg_size)
{
    errbuf e = {msg, msg_size};
    msgpack_unpacked up;
    size_t off = 0;
    int rc;
    memset(out, 0, sizeof *out);
    if (msg != NULL && msg_size > 0)
        msg[0] = '\0';
    if (len > 0)
        peek_id(&out->id, buf, len);
    if (len > RPC_REQUEST_MAX_BYTES)
        return fail(&e, LEDGER_TOO_LARGE, "request of %zu bytes exceeds the limit of %u bytes", len,
                    RPC_REQUEST_MAX_BYTES);
    if (rpc_msgpack_check(buf, len) != LEDGER_OK)
        return fail(&e, LEDGER_MALFORMED,
                    "request is not exactly one well-formed msgpack object (at most %d levels "
                    "deep and %d objects)",
                    RPC_DEPTH_MAX, RPC_OBJECTS_MAX);
    msgpack_unpacked_init(&up);
    switch (msgpack_unpack_next(&up, (const char *)buf, len, &off)) {
    case MSGPACK_UNPACK_SUCCESS:
        rc = off == len ? decode_map(out, &up.data, &e)
                        : fail(&e, LEDGER_MALFORMED, "trailing bytes after the request");
        break;
    case MSGPACK_UNPACK_NOMEM_ERROR:
        rc = fail(&e, LEDGER_NO_MEMORY, "out of memory decoding the request");
        break;
    default: /* the check and msgpack-c disagree: refuse rather than guess */
        rc = fail(&e, LEDGER_MALFORMED, "request is not well-formed msgpack");
        break;
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}
