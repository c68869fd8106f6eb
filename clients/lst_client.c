/* lst_client.c - the lstd client library: keys, signing, requests with resend, replies, events */
#include "lst_client.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "crypto.h"
#include "crypto_curve.h"
#include "ledger.h"
#include "rpc_config.h"
#include "rpc_curve.h"
#include "rpc_genesis.h"
#include "rpc_reply.h"

#define DEFAULT_RETRIES 2
#define DEFAULT_BUSY_RETRIES 15 /* resends of a BUSY transaction (and its tail) */
#define BUSY_BACKOFF_MS_MIN 5   /* the first wait before a BUSY resend; doubled each time */
#define BUSY_BACKOFF_MS_MAX 1000
#define ATTEMPT_BITS 8 /* a request's wire id: its id << 8 | the attempt (0..255) */
#define ATTEMPT_MAX ((1u << ATTEMPT_BITS) - 1)
#define EVENTS_PAGE 1000 /* events query page (the server's maximum) */
#define HISTORY_PAGE 500 /* history query page (the server's maximum) */
#define ENDPOINT_MAX 256
#define ENDPOINTS_MAX 8         /* entries of an endpoint list */
#define ROUND_BACKOFF_MS_MIN 50 /* the wait between full rounds of the list; doubled each time */
#define ROUND_BACKOFF_MS_MAX 1000
#define ERROR_MAX 320

/* Where a pipelined transaction is: an attempt is out (FLIGHT), it is to be resent at
 * resend_ms because it or one of its signer's with a lower nonce got BUSY (WAIT), or its
 * result is queued for lst_poll (DONE). */
enum pending_state { P_FLIGHT, P_WAIT, P_DONE };

/* A request sent with lst_send whose reply lst_poll has not returned yet. */
typedef struct pending {
    uint64_t id; /* as lst_send returned it; on the wire id << ATTEMPT_BITS | attempt */
    unsigned kind;
    uint64_t nonce;
    uint8_t hash[32];
    ledger_tx tx; /* the signed transaction, packed again for each attempt */
    uint8_t sig[64];
    char *bytes; /* the current attempt's request, kept for lst_resend_pending */
    size_t size;
    bool done;
    uint8_t state;      /* enum pending_state */
    uint8_t attempt;    /* 0..ATTEMPT_MAX */
    uint8_t busy;       /* BUSY answers so far (the backoff doubles with each) */
    bool probe;         /* answered BUSY: goes again alone, its signer's later ones after it */
    uint64_t resend_ms; /* P_WAIT: not before this (monotonic ms) */
    unsigned switches;  /* endpoint switches it was resent across (at most 2 x the entries) */
} pending;

/* A completed lst_send waiting for lst_poll. */
typedef struct completion {
    int rc;
    lst_result res;
} completion;

typedef struct nonce_entry {
    uint8_t pubkey[32];
    uint64_t next;
} nonce_entry;

struct lst_reply {
    msgpack_unpacked up;
    char *data; /* the received bytes: str and bin objects point into them */
    size_t size;
};

struct lst_client {
    void *ctx, *dealer, *monitor, *sub;
    char endpoint[ENDPOINT_MAX], events_endpoint[ENDPOINT_MAX]; /* the ones in use */
    char endpoints[ENDPOINTS_MAX][ENDPOINT_MAX];                /* the configured list */
    size_t endpoint_count, endpoint_at; /* entries, and the index of the one in use */
    uint64_t switches;                  /* moves to another entry since lst_client_new */
    unsigned dealer_gen;                /* DEALERs made so far (names each one's monitor) */
    bool switching;                     /* endpoint_switch is reading what the old one got */
    const msgpack_sbuffer *inflight;    /* call()'s request while it waits (resent on a move) */
    char leader[ENDPOINT_MAX];          /* the last NOT_LEADER's leader hint ("" for nil) */
    uint64_t jitter;                    /* xorshift state for the round backoff's jitter */
    int timeout_ms;
    unsigned retries, busy_retries;
    bool connected, ever_connected; /* from the DEALER's monitor */
    int handshake_failed;           /* from it too: 0, HS_AUTH or HS_PROTOCOL */
    bool curve;                     /* a CURVE client: keys below */
    lst_curve keys;
    bool refused;   /* a connection attempt failed while none was up */
    size_t waiting; /* pipelined transactions in P_WAIT */
    uint64_t next_id;
    bool have_ledger;
    char ledger_id[LST_LEDGER_ID_MAX + 1];
    uint64_t decimals;
    char error[ERROR_MAX];
    pending *pend; /* [pend_head, pend_count): oldest first */
    size_t pend_head, pend_count, pend_cap, pend_live;
    completion *done; /* FIFO [done_head, done_count) */
    size_t done_head, done_count, done_cap;
    nonce_entry *nonces;
    size_t nonce_count, nonce_cap;
    /* events */
    bool ev_account_mode;
    uint8_t ev_account[32];
    uint64_t ev_last;   /* last seq delivered */
    bool ev_catchup;    /* ask the server before waiting on the stream */
    lst_reply *ev_page; /* the last catch-up page */
    size_t ev_index;    /* next record of the page to look at */
    uint64_t ev_pushed, ev_fetched;
};

/* ---- small helpers ----------------------------------------------------------------------- */

static void set_error(lst_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(lst_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Copy at most size-1 bytes of a msgpack str and a NUL. */
static void copy_str(char *dst, size_t size, const char *src, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

const char *lst_code_name(int code)
{
    static const char *const names[] = {"LST_OK",          "LST_ERR_USAGE",    "LST_ERR_CONNECT",
                                        "LST_ERR_TIMEOUT", "LST_ERR_PROTOCOL", "LST_ERR_REJECTED",
                                        "LST_ERR_IO",      "LST_ERR_NOMEM"};
    if (code < 0 || (size_t)code >= sizeof names / sizeof names[0])
        return "LST_ERR_UNKNOWN";
    return names[code];
}

/* ---- keys -------------------------------------------------------------------------------- */

void lst_key_wipe(lst_key *key)
{
    if (key != NULL)
        crypto_wipe(key, sizeof *key);
}

int lst_key_generate(const char *path, lst_key *out)
{
    lst_key k;
    if (path == NULL) {
        errno = EINVAL;
        return LST_ERR_IO;
    }
    if (crypto_keygen(k.secret, k.pubkey) != 0) {
        errno = EIO;
        return LST_ERR_IO;
    }
    if (rpc_key_write(path, k.secret) != 0) {
        int e = errno;
        lst_key_wipe(&k);
        errno = e;
        return LST_ERR_IO;
    }
    if (out != NULL)
        *out = k;
    lst_key_wipe(&k);
    return LST_OK;
}

int lst_key_load(const char *path, lst_key *out)
{
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    errno = 0;
    if (path == NULL || rpc_key_read(path, out->secret) != 0) {
        if (errno == 0)
            errno = EINVAL;
        lst_key_wipe(out);
        return LST_ERR_IO;
    }
    if (crypto_pubkey(out->pubkey, out->secret) != 0) {
        lst_key_wipe(out);
        errno = EINVAL;
        return LST_ERR_IO;
    }
    return LST_OK;
}

int lst_curve_load(lst_curve *out, const char *server_key_path, const char *secret_key_path,
                   char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (rpc_curve_public_read(server_key_path, out->server_key, err, err_size) != 0 ||
        rpc_curve_secret_read(secret_key_path, out->secret_key, err, err_size) != 0 ||
        crypto_curve_public(out->public_key, out->secret_key) != 0) {
        lst_curve_wipe(out);
        return LST_ERR_IO;
    }
    return LST_OK;
}

int lst_curve_keygen(const char *name, char public_z85[LST_CURVE_Z85_LEN + 1], char *err,
                     size_t err_size)
{
    uint8_t pk[LST_KEY_SIZE];
    if (rpc_curve_keygen(name, pk, err, err_size) != 0)
        return LST_ERR_IO;
    rpc_curve_key_z85(public_z85, pk);
    return LST_OK;
}

void lst_curve_wipe(lst_curve *curve)
{
    crypto_wipe(curve, sizeof *curve);
}

void lst_hex_encode(char out[65], const uint8_t in[32])
{
    rpc_hex_encode32(out, in);
}

int lst_hex_decode(uint8_t out[32], const char *hex)
{
    if (hex == NULL || strlen(hex) != 64)
        return LST_ERR_USAGE;
    return rpc_hex_decode32(out, hex) == 0 ? LST_OK : LST_ERR_USAGE;
}

/* ---- kinds ------------------------------------------------------------------------------- */

const char *lst_kind_name(unsigned kind)
{
    const ledger_kind_info *k = ledger_kind_lookup(kind);
    return k != NULL ? k->name : NULL;
}

unsigned lst_kind_by_name(const char *name)
{
    return name != NULL ? ledger_kind_by_name(name) : 0;
}

unsigned lst_kind_field_count(unsigned kind)
{
    const ledger_kind_info *k = ledger_kind_lookup(kind);
    return k != NULL ? k->field_count : 0;
}

const char *lst_kind_field(unsigned kind, unsigned index, int *type)
{
    const ledger_kind_info *k = ledger_kind_lookup(kind);
    if (k == NULL || index >= k->field_count)
        return NULL;
    if (type != NULL)
        *type = k->fields[index].type;
    return k->fields[index].name;
}

const char *lst_kind_output(unsigned kind, unsigned index)
{
    const ledger_kind_info *k = ledger_kind_lookup(kind);
    return k != NULL && index < LST_OUTPUTS_MAX ? k->out_names[index] : NULL;
}

unsigned lst_param_by_name(const char *name)
{
    for (unsigned p = 1; name != NULL && p < LEDGER_PARAM_COUNT; p++)
        if (ledger_param_name(p) != NULL && strcasecmp(ledger_param_name(p), name) == 0)
            return p;
    return 0;
}

const char *lst_closest_name(const char *word, const char *const *names, size_t count)
{
    return rpc_closest_name(word, names, count);
}

/* ---- transactions ------------------------------------------------------------------------ */

int lst_tx_init(lst_tx *tx, const char *kind_name)
{
    assert(tx != NULL);
    memset(tx, 0, sizeof *tx);
    tx->kind = lst_kind_by_name(kind_name);
    return tx->kind != 0 ? LST_OK : LST_ERR_USAGE;
}

/* Returns: the index of the named field of type `type`, or -1. */
static int field_index(const lst_tx *tx, const char *field, int type)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    for (unsigned i = 0; k != NULL && field != NULL && i < k->field_count; i++)
        if (strcmp(k->fields[i].name, field) == 0)
            return k->fields[i].type == type ? (int)i : -1;
    return -1;
}

int lst_tx_set_u64(lst_tx *tx, const char *field, uint64_t value)
{
    int i = field_index(tx, field, LEDGER_F_U64);
    if (i < 0)
        return LST_ERR_USAGE;
    tx->u64[i] = value;
    tx->set |= 1u << i;
    return LST_OK;
}

static int set_bytes(lst_tx *tx, const char *field, const uint8_t b[32], int type)
{
    int i = field_index(tx, field, type);
    if (i < 0 || b == NULL)
        return LST_ERR_USAGE;
    memcpy(tx->bytes[i], b, 32);
    tx->set |= 1u << i;
    return LST_OK;
}

int lst_tx_set_key(lst_tx *tx, const char *field, const uint8_t key[32])
{
    return set_bytes(tx, field, key, LEDGER_F_KEY);
}

int lst_tx_set_ref(lst_tx *tx, const char *field, const uint8_t ref[32])
{
    return set_bytes(tx, field, ref, LEDGER_F_REF);
}

const char *lst_tx_missing(const lst_tx *tx)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    for (unsigned i = 0; k != NULL && i < k->field_count; i++)
        if ((tx->set & (1u << i)) == 0)
            return k->fields[i].name;
    return NULL;
}

/* Fill a kind's fields positionally: keys/refs from b[], integers from u[] (in table order). */
static void tx_fill(lst_tx *tx, unsigned kind, const uint8_t *const *b, const uint64_t *u)
{
    const ledger_kind_info *k = ledger_kind_lookup(kind);
    memset(tx, 0, sizeof *tx);
    tx->kind = kind;
    for (unsigned i = 0; i < k->field_count; i++) {
        if (k->fields[i].type == LEDGER_F_U64)
            tx->u64[i] = *u++;
        else
            memcpy(tx->bytes[i], *b++, 32);
        tx->set |= 1u << i;
    }
}

void lst_tx_deposit(lst_tx *tx, const uint8_t to[32], uint64_t amount,
                    const uint8_t external_ref[32], uint64_t min_shares_out)
{
    tx_fill(tx, LEDGER_TX_DEPOSIT, (const uint8_t *const[]){to, external_ref},
            (const uint64_t[]){amount, min_shares_out});
}

void lst_tx_transfer(lst_tx *tx, const uint8_t to[32], uint64_t shares)
{
    tx_fill(tx, LEDGER_TX_TRANSFER, (const uint8_t *const[]){to}, (const uint64_t[]){shares});
}

void lst_tx_approve(lst_tx *tx, const uint8_t spender[32], uint64_t shares)
{
    tx_fill(tx, LEDGER_TX_APPROVE, (const uint8_t *const[]){spender}, (const uint64_t[]){shares});
}

void lst_tx_transfer_from(lst_tx *tx, const uint8_t owner[32], const uint8_t to[32],
                          uint64_t shares)
{
    tx_fill(tx, LEDGER_TX_TRANSFER_FROM, (const uint8_t *const[]){owner, to},
            (const uint64_t[]){shares});
}

void lst_tx_lock(lst_tx *tx, const uint8_t beneficiary[32], uint64_t shares, uint64_t expiry)
{
    tx_fill(tx, LEDGER_TX_LOCK, (const uint8_t *const[]){beneficiary},
            (const uint64_t[]){shares, expiry});
}

void lst_tx_release(lst_tx *tx, uint64_t lien_id, uint64_t shares)
{
    tx_fill(tx, LEDGER_TX_RELEASE, NULL, (const uint64_t[]){lien_id, shares});
}

void lst_tx_seize(lst_tx *tx, uint64_t lien_id, uint64_t shares, const uint8_t to[32])
{
    tx_fill(tx, LEDGER_TX_SEIZE, (const uint8_t *const[]){to}, (const uint64_t[]){lien_id, shares});
}

void lst_tx_withdraw_request(lst_tx *tx, uint64_t shares, uint64_t min_amount_out)
{
    tx_fill(tx, LEDGER_TX_WITHDRAW_REQUEST, NULL, (const uint64_t[]){shares, min_amount_out});
}

void lst_tx_withdraw_cancel(lst_tx *tx, uint64_t request_id)
{
    tx_fill(tx, LEDGER_TX_WITHDRAW_CANCEL, NULL, (const uint64_t[]){request_id});
}

void lst_tx_withdraw_finalize(lst_tx *tx, uint64_t up_to_id)
{
    tx_fill(tx, LEDGER_TX_WITHDRAW_FINALIZE, NULL, (const uint64_t[]){up_to_id});
}

void lst_tx_withdraw_settle(lst_tx *tx, uint64_t request_id, const uint8_t payout_ref[32])
{
    tx_fill(tx, LEDGER_TX_WITHDRAW_SETTLE, (const uint8_t *const[]){payout_ref},
            (const uint64_t[]){request_id});
}

void lst_tx_operator_fund(lst_tx *tx, uint64_t operator_id, uint64_t amount)
{
    tx_fill(tx, LEDGER_TX_OPERATOR_FUND, NULL, (const uint64_t[]){operator_id, amount});
}

void lst_tx_operator_exit(lst_tx *tx, uint64_t operator_id, uint64_t amount)
{
    tx_fill(tx, LEDGER_TX_OPERATOR_EXIT, NULL, (const uint64_t[]){operator_id, amount});
}

void lst_tx_report(lst_tx *tx, uint64_t operator_id, uint64_t epoch, uint64_t balance)
{
    tx_fill(tx, LEDGER_TX_REPORT, NULL, (const uint64_t[]){operator_id, epoch, balance});
}

void lst_tx_report_accept(lst_tx *tx, uint64_t operator_id, uint64_t epoch, uint64_t balance)
{
    tx_fill(tx, LEDGER_TX_REPORT_ACCEPT, NULL, (const uint64_t[]){operator_id, epoch, balance});
}

void lst_tx_operator_reset(lst_tx *tx, uint64_t operator_id, uint64_t epoch, uint64_t balance)
{
    tx_fill(tx, LEDGER_TX_OPERATOR_RESET, NULL, (const uint64_t[]){operator_id, epoch, balance});
}

void lst_tx_oracle_add(lst_tx *tx, const uint8_t member[32], uint64_t quorum)
{
    tx_fill(tx, LEDGER_TX_ORACLE_ADD, (const uint8_t *const[]){member}, (const uint64_t[]){quorum});
}

void lst_tx_oracle_remove(lst_tx *tx, const uint8_t member[32], uint64_t quorum)
{
    tx_fill(tx, LEDGER_TX_ORACLE_REMOVE, (const uint8_t *const[]){member},
            (const uint64_t[]){quorum});
}

void lst_tx_quorum_set(lst_tx *tx, uint64_t mode, uint64_t quorum, uint64_t minority)
{
    tx_fill(tx, LEDGER_TX_QUORUM_SET, NULL, (const uint64_t[]){mode, quorum, minority});
}

void lst_tx_vote(lst_tx *tx, uint64_t operator_id, uint64_t epoch, uint64_t balance,
                 uint64_t performance_bps)
{
    tx_fill(tx, LEDGER_TX_VOTE, NULL,
            (const uint64_t[]){operator_id, epoch, balance, performance_bps});
}

bool lst_result_out(const lst_result *r, const char *name, uint64_t *value)
{
    for (unsigned i = 0; i < r->out_count && i < LST_OUTPUTS_MAX; i++)
        if (strcmp(r->out[i].name, name) == 0) {
            if (value != NULL)
                *value = r->out[i].value;
            return true;
        }
    return false;
}

/* The ledger's view of tx, signed by pubkey. */
static void tx_to_ledger(const lst_tx *tx, const uint8_t pubkey[32], ledger_tx *out)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    memset(out, 0, sizeof *out);
    out->kind = (uint8_t)tx->kind;
    memcpy(out->signer, pubkey, 32);
    out->nonce = tx->nonce;
    for (unsigned i = 0; i < k->field_count; i++) {
        void *slot = ledger_tx_slot(out, k->fields[i].slot);
        if (k->fields[i].type == LEDGER_F_U64)
            memcpy(slot, &tx->u64[i], sizeof(uint64_t));
        else
            memcpy(slot, tx->bytes[i], 32);
    }
}

/* ---- replies ----------------------------------------------------------------------------- */

static const msgpack_object *obj(const lst_value *v)
{
    return (const msgpack_object *)(const void *)v;
}

static const lst_value *val(const msgpack_object *o)
{
    return (const lst_value *)(const void *)o;
}

/* Decode exactly one msgpack map from data (copied). Returns: LST_OK, LST_ERR_PROTOCOL or
 * LST_ERR_NOMEM. */
static int reply_decode(const void *data, size_t size, lst_reply **out)
{
    size_t off = 0;
    lst_reply *r = calloc(1, sizeof *r);
    *out = NULL;
    if (r == NULL || (r->data = malloc(size + 1)) == NULL) {
        free(r);
        return LST_ERR_NOMEM;
    }
    memcpy(r->data, data, size);
    r->size = size;
    msgpack_unpacked_init(&r->up);
    msgpack_unpack_return ur = msgpack_unpack_next(&r->up, r->data, size, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        lst_reply_destroy(&r);
        return LST_ERR_NOMEM;
    }
    if (ur != MSGPACK_UNPACK_SUCCESS || off != size || r->up.data.type != MSGPACK_OBJECT_MAP) {
        lst_reply_destroy(&r);
        return LST_ERR_PROTOCOL;
    }
    *out = r;
    return LST_OK;
}

/* A standalone reply holding a copy of one object of another reply. */
static int reply_copy(const msgpack_object *o, lst_reply **out)
{
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    int rc =
        msgpack_pack_object(&pk, *o) != 0 ? LST_ERR_NOMEM : reply_decode(buf.data, buf.size, out);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

void lst_reply_destroy(lst_reply **reply_p)
{
    if (reply_p == NULL || *reply_p == NULL)
        return;
    lst_reply *r = *reply_p;
    *reply_p = NULL;
    msgpack_unpacked_destroy(&r->up);
    free(r->data);
    free(r);
}

static const msgpack_object *map_get(const msgpack_object *o, const char *key, size_t len)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
            memcmp(k->via.str.ptr, key, len) == 0)
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}

/* Walk "a.b[2].c" from o. Returns: the object, or NULL when absent or the path is bad. */
static const msgpack_object *path_get(const msgpack_object *o, const char *path)
{
    const char *p = path != NULL ? path : "";
    while (o != NULL && *p != '\0') {
        if (*p == '.') {
            p++;
        } else if (*p == '[') {
            char *end;
            unsigned long long i = strtoull(p + 1, &end, 10);
            if (end == p + 1 || *end != ']' || o->type != MSGPACK_OBJECT_ARRAY ||
                i >= o->via.array.size)
                return NULL;
            o = &o->via.array.ptr[i];
            p = end + 1;
        } else {
            size_t n = strcspn(p, ".[");
            o = map_get(o, p, n);
            p += n;
        }
    }
    return o;
}

const lst_value *lst_reply_get(const lst_reply *r, const char *path)
{
    return r != NULL ? val(path_get(&r->up.data, path)) : NULL;
}

const lst_value *lst_value_get(const lst_value *v, const char *path)
{
    return val(path_get(obj(v), path));
}

int lst_value_type(const lst_value *v)
{
    const msgpack_object *o = obj(v);
    if (o == NULL)
        return LST_T_NONE;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return LST_T_NIL;
    case MSGPACK_OBJECT_BOOLEAN:
        return LST_T_BOOL;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return LST_T_UINT;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return LST_T_INT;
    case MSGPACK_OBJECT_STR:
        return LST_T_STR;
    case MSGPACK_OBJECT_BIN:
        return LST_T_BIN;
    case MSGPACK_OBJECT_ARRAY:
        return LST_T_ARRAY;
    case MSGPACK_OBJECT_MAP:
        return LST_T_MAP;
    default:
        return LST_T_OTHER;
    }
}

uint64_t lst_value_u64(const lst_value *v)
{
    const msgpack_object *o = obj(v);
    return o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

bool lst_value_u128(const lst_value *v, lst_u128 *out)
{
    const msgpack_object *o = obj(v);
    lst_u128 x = 0;
    *out = 0;
    if (o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *out = o->via.u64;
        return true;
    }
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 ||
        o->via.str.size > LST_U128_DIGITS_MAX)
        return false;
    for (uint32_t i = 0; i < o->via.str.size; i++) {
        unsigned d = (unsigned)(o->via.str.ptr[i] - '0');
        if (d > 9 || x > (~(lst_u128)0 - d) / 10) /* not a digit, or past 2^128 - 1 */
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

int64_t lst_value_i64(const lst_value *v)
{
    const msgpack_object *o = obj(v);
    if (o != NULL && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o->via.i64;
    if (o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return o->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)o->via.u64;
    return 0;
}

bool lst_value_bool(const lst_value *v)
{
    const msgpack_object *o = obj(v);
    return o != NULL && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

size_t lst_value_len(const lst_value *v)
{
    const msgpack_object *o = obj(v);
    if (o != NULL && o->type == MSGPACK_OBJECT_ARRAY)
        return o->via.array.size;
    if (o != NULL && o->type == MSGPACK_OBJECT_MAP)
        return o->via.map.size;
    return 0;
}

const char *lst_value_str(const lst_value *v, size_t *len)
{
    const msgpack_object *o = obj(v);
    if (o == NULL || o->type != MSGPACK_OBJECT_STR)
        return NULL;
    if (len != NULL)
        *len = o->via.str.size;
    return o->via.str.size > 0 ? o->via.str.ptr : "";
}

const uint8_t *lst_value_bin(const lst_value *v, size_t *len)
{
    const msgpack_object *o = obj(v);
    if (o == NULL || o->type != MSGPACK_OBJECT_BIN)
        return NULL;
    if (len != NULL)
        *len = o->via.bin.size;
    return o->via.bin.size > 0 ? (const uint8_t *)o->via.bin.ptr : (const uint8_t *)"";
}

const lst_value *lst_value_at(const lst_value *v, size_t i)
{
    const msgpack_object *o = obj(v);
    if (o != NULL && o->type == MSGPACK_OBJECT_ARRAY && i < o->via.array.size)
        return val(&o->via.array.ptr[i]);
    if (o != NULL && o->type == MSGPACK_OBJECT_MAP && i < o->via.map.size)
        return val(&o->via.map.ptr[i].val);
    return NULL;
}

const char *lst_value_key(const lst_value *v, size_t i, size_t *len)
{
    const msgpack_object *o = obj(v);
    if (o == NULL || o->type != MSGPACK_OBJECT_MAP || i >= o->via.map.size)
        return NULL;
    return lst_value_str(val(&o->via.map.ptr[i].key), len);
}

int lst_reply_type(const lst_reply *r, const char *path)
{
    return lst_value_type(lst_reply_get(r, path));
}

uint64_t lst_reply_u64(const lst_reply *r, const char *path)
{
    return lst_value_u64(lst_reply_get(r, path));
}

bool lst_reply_u128(const lst_reply *r, const char *path, lst_u128 *out)
{
    return lst_value_u128(lst_reply_get(r, path), out);
}

bool lst_reply_bool(const lst_reply *r, const char *path)
{
    return lst_value_bool(lst_reply_get(r, path));
}

size_t lst_reply_len(const lst_reply *r, const char *path)
{
    return lst_value_len(lst_reply_get(r, path));
}

const uint8_t *lst_reply_bin(const lst_reply *r, const char *path, size_t *len)
{
    return lst_value_bin(lst_reply_get(r, path), len);
}

bool lst_reply_str(const lst_reply *r, const char *path, char *buf, size_t size)
{
    size_t len;
    const char *s = lst_value_str(lst_reply_get(r, path), &len);
    if (s == NULL || size == 0 || len >= size)
        return false;
    copy_str(buf, size, s, len);
    return true;
}

/* 32-byte bin at path into out. Returns: true when present with that size. */
static bool get_bin32(const msgpack_object *o, const char *path, uint8_t out[32])
{
    size_t len;
    const uint8_t *b = lst_value_bin(val(path_get(o, path)), &len);
    if (b == NULL || len != 32)
        return false;
    memcpy(out, b, 32);
    return true;
}

/* ---- JSON -------------------------------------------------------------------------------- */

static int json_string(const char *s, size_t len, FILE *out)
{
    int rc = fputc('"', out) == EOF;
    for (size_t i = 0; i < len && !rc; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            rc = fprintf(out, "\\%c", ch) < 0;
        else if (ch == '\n')
            rc = fputs("\\n", out) == EOF;
        else if (ch < 0x20 || ch == 0x7f)
            rc = fprintf(out, "\\u%04x", ch) < 0;
        else
            rc = fputc(ch, out) == EOF;
    }
    return rc || fputc('"', out) == EOF ? -1 : 0;
}

static int json_hex(const uint8_t *b, size_t len, FILE *out)
{
    int rc = fputc('"', out) == EOF;
    for (size_t i = 0; i < len && !rc; i++)
        rc = fprintf(out, "%02x", b[i]) < 0;
    return rc || fputc('"', out) == EOF ? -1 : 0;
}

static int json_object(const msgpack_object *o, const char *skip_key, FILE *out);

/* Returns: true when the key (len bytes) names a ref field of some kind (external_ref,
 * payout_ref): its 32 bytes are written as lst_ref_format writes them. */
static bool ref_key(const char *key, size_t len)
{
    for (unsigned kind = 1; kind <= LEDGER_TX_KIND_MAX; kind++) {
        const ledger_kind_info *k = ledger_kind_lookup(kind);
        for (unsigned i = 0; i < k->field_count; i++)
            if (k->fields[i].type == LEDGER_F_REF && strlen(k->fields[i].name) == len &&
                memcmp(k->fields[i].name, key, len) == 0)
                return true;
    }
    return false;
}

/* A map value: a ref as text or 0x-hex (lst_ref_format), anything else as json_object. */
static int json_value(const msgpack_object *key, const msgpack_object *v, FILE *out)
{
    char ref[LST_REF_TEXT_MAX];
    if (key->type == MSGPACK_OBJECT_STR && v->type == MSGPACK_OBJECT_BIN && v->via.bin.size == 32 &&
        ref_key(key->via.str.ptr, key->via.str.size)) {
        lst_ref_format(ref, (const uint8_t *)v->via.bin.ptr);
        return json_string(ref, strlen(ref), out);
    }
    return json_object(v, NULL, out);
}

static int json_map(const msgpack_object *o, const char *skip_key, FILE *out)
{
    int rc = fputc('{', out) == EOF;
    bool first = true;
    for (uint32_t i = 0; i < o->via.map.size && !rc; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (skip_key != NULL && k->type == MSGPACK_OBJECT_STR &&
            k->via.str.size == strlen(skip_key) &&
            memcmp(k->via.str.ptr, skip_key, k->via.str.size) == 0)
            continue;
        rc = (!first && fputc(',', out) == EOF);
        first = false;
        if (!rc && k->type == MSGPACK_OBJECT_STR)
            rc = json_string(k->via.str.ptr, k->via.str.size, out);
        else if (!rc) /* lstd never sends a key that is not a str */
            rc = fputs("\"?\"", out) == EOF;
        rc = rc || fputc(':', out) == EOF || json_value(k, &o->via.map.ptr[i].val, out);
    }
    return rc || fputc('}', out) == EOF ? -1 : 0;
}

static int json_object(const msgpack_object *o, const char *skip_key, FILE *out)
{
    int rc = 0;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return fputs("null", out) == EOF ? -1 : 0;
    case MSGPACK_OBJECT_BOOLEAN:
        return fputs(o->via.boolean ? "true" : "false", out) == EOF ? -1 : 0;
    /* integers as decimal strings: jq and JSON.parse round numbers above 2^53 */
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return fprintf(out, "\"%" PRIu64 "\"", o->via.u64) < 0 ? -1 : 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return fprintf(out, "\"%" PRId64 "\"", o->via.i64) < 0 ? -1 : 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return fprintf(out, "%.17g", o->via.f64) < 0 ? -1 : 0;
    case MSGPACK_OBJECT_STR:
        return json_string(o->via.str.ptr, o->via.str.size, out);
    case MSGPACK_OBJECT_BIN:
        return json_hex((const uint8_t *)o->via.bin.ptr, o->via.bin.size, out);
    case MSGPACK_OBJECT_ARRAY:
        rc = fputc('[', out) == EOF;
        for (uint32_t i = 0; i < o->via.array.size && !rc; i++)
            rc = (i > 0 && fputc(',', out) == EOF) || json_object(&o->via.array.ptr[i], NULL, out);
        return rc || fputc(']', out) == EOF ? -1 : 0;
    case MSGPACK_OBJECT_MAP:
        return json_map(o, skip_key, out);
    default:
        return fputs("null", out) == EOF ? -1 : 0;
    }
}

int lst_value_json(const lst_value *v, const char *skip_key, FILE *out)
{
    if (v == NULL)
        return fputs("null", out) == EOF ? -1 : 0;
    return json_object(obj(v), skip_key, out);
}

/* ---- the client: sockets ----------------------------------------------------------------- */

static bool drop_more(void *sock, zmq_msg_t *m);

enum { HS_AUTH = 1, HS_PROTOCOL = 2 };

static void *socket_new(lst_client *c, int type)
{
    int zero = 0;
    void *s = zmq_socket(c->ctx, type);
    if (s != NULL)
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    return s;
}

/* A socket to the server as this client is: CURVE keys set when it has them (before connect).
 * Returns: 0 or -1. */
static int curve_apply(lst_client *c, void *s)
{
    if (!c->curve)
        return 0;
    return zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, c->keys.server_key, LST_KEY_SIZE) == 0 &&
                   zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, c->keys.public_key, LST_KEY_SIZE) == 0 &&
                   zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, c->keys.secret_key, LST_KEY_SIZE) == 0
               ? 0
               : -1;
}

/* Watch the DEALER's connection (ZMQ_EVENT_CONNECTED / DISCONNECTED / CONNECT_RETRIED) through
 * an inproc PAIR, so that "nothing listening" fails at once instead of as a timeout. Each
 * DEALER gets a monitor of its own (named after the client and the DEALER's number). */
static int monitor_start(lst_client *c)
{
    char url[80];
    snprintf(url, sizeof url, "inproc://lst-monitor-%p-%u", (void *)c, c->dealer_gen);
    if (zmq_socket_monitor(
            c->dealer, url,
            ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_CONNECT_RETRIED) != 0)
        return -1;
    c->monitor = socket_new(c, ZMQ_PAIR);
    return c->monitor != NULL && zmq_connect(c->monitor, url) == 0 ? 0 : -1;
}

/* Read the monitor events that have arrived (each: a 6-byte event frame, an address frame). */
static void monitor_drain(lst_client *c)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        if (zmq_msg_size(&m) == 6) {
            uint16_t event;
            memcpy(&event, zmq_msg_data(&m), sizeof event);
            if (event == ZMQ_EVENT_CONNECTED) {
                c->connected = c->ever_connected = true;
                c->refused = false;
            } else if (event == ZMQ_EVENT_DISCONNECTED) {
                c->connected = false;
            } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
                c->handshake_failed = HS_AUTH;
            } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && c->handshake_failed == 0) {
                c->handshake_failed = HS_PROTOCOL;
            } else if (event == ZMQ_EVENT_CONNECT_RETRIED && !c->connected) {
                c->refused = true; /* an attempt failed: nothing listens there (now) */
            }
        }
        drop_more(c->monitor, &m);
        zmq_msg_close(&m);
    }
}

/* Close the DEALER and its monitor (unsent requests and unread replies are dropped). */
static void dealer_close(lst_client *c)
{
    if (c->dealer != NULL)
        zmq_socket_monitor(c->dealer, NULL, 0);
    if (c->monitor != NULL)
        zmq_close(c->monitor);
    if (c->dealer != NULL)
        zmq_close(c->dealer);
    c->dealer = c->monitor = NULL;
}

/* A new DEALER (and monitor) connected to the entry at index `at`, which becomes the one in
 * use; what is known about the connection starts afresh.
 * Returns: LST_OK, LST_ERR_IO (no socket) or LST_ERR_CONNECT (not a ZeroMQ address). */
static int dealer_open(lst_client *c, size_t at)
{
    c->endpoint_at = at;
    snprintf(c->endpoint, sizeof c->endpoint, "%s", c->endpoints[at]);
    c->connected = c->ever_connected = c->refused = false;
    c->handshake_failed = 0;
    c->dealer_gen++;
    c->dealer = socket_new(c, ZMQ_DEALER);
    if (c->dealer == NULL || monitor_start(c) != 0 || curve_apply(c, c->dealer) != 0) {
        set_error(c, "cannot make a socket for %s: %s", c->endpoint, zmq_strerror(errno));
        return LST_ERR_IO;
    }
    zmq_setsockopt(c->dealer, ZMQ_SNDTIMEO, &c->timeout_ms, sizeof c->timeout_ms);
    if (zmq_connect(c->dealer, c->endpoint) != 0) {
        set_error(c, "endpoint %s: %s", c->endpoint, zmq_strerror(errno));
        return LST_ERR_CONNECT;
    }
    return LST_OK;
}

/* Split a comma-separated list of 1..ENDPOINTS_MAX endpoints (no empty entry, each shorter
 * than ENDPOINT_MAX). Out: out[], *count. Returns: LST_OK or LST_ERR_USAGE. */
static int endpoints_split(const char *list, char out[][ENDPOINT_MAX], size_t *count)
{
    *count = 0;
    for (const char *p = list;; p++) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= ENDPOINT_MAX || *count == ENDPOINTS_MAX)
            return LST_ERR_USAGE;
        memcpy(out[*count], p, n);
        out[(*count)++][n] = '\0';
        p += n;
        if (*p == '\0')
            return LST_OK;
    }
}

/* Every entry but the first (which the client's DEALER connects to) is a ZeroMQ address:
 * checked by connecting a socket that is closed at once. Returns: LST_OK or LST_ERR_CONNECT. */
static int endpoints_check(lst_client *c)
{
    for (size_t i = 1; i < c->endpoint_count; i++) {
        void *s = socket_new(c, ZMQ_DEALER);
        int ok = s != NULL && zmq_connect(s, c->endpoints[i]) == 0;
        if (s != NULL)
            zmq_close(s);
        if (!ok)
            return LST_ERR_CONNECT;
    }
    return LST_OK;
}

int lst_client_new(lst_client **out, const char *endpoint, const char *events_endpoint,
                   int timeout_ms)
{
    return lst_client_new_curve(out, endpoint, events_endpoint, timeout_ms, NULL);
}

int lst_client_new_curve(lst_client **out, const char *endpoint, const char *events_endpoint,
                         int timeout_ms, const lst_curve *curve)
{
    char events[ENDPOINTS_MAX][ENDPOINT_MAX];
    size_t events_count = 0;
    *out = NULL;
    if (endpoint == NULL || timeout_ms <= 0 ||
        (events_endpoint != NULL && events_endpoint[0] != '\0' &&
         endpoints_split(events_endpoint, events, &events_count) != LST_OK))
        return LST_ERR_USAGE;
    lst_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return LST_ERR_NOMEM;
    if (endpoints_split(endpoint, c->endpoints, &c->endpoint_count) != LST_OK) {
        free(c);
        return LST_ERR_USAGE;
    }
    /* events are published by every replica: the first entry only, or each would come twice */
    snprintf(c->events_endpoint, sizeof c->events_endpoint, "%s",
             events_count > 0 ? events[0] : "");
    c->timeout_ms = timeout_ms;
    c->retries = DEFAULT_RETRIES;
    c->curve = curve != NULL;
    if (curve != NULL)
        c->keys = *curve;
    c->busy_retries = DEFAULT_BUSY_RETRIES;
    c->next_id = 1;
    c->jitter = now_ms() ^ (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15ull;
    c->ctx = zmq_ctx_new();
    int rc = c->ctx != NULL ? dealer_open(c, 0) : LST_ERR_IO;
    if (rc == LST_OK)
        rc = endpoints_check(c);
    if (rc != LST_OK) {
        lst_client_destroy(&c);
        return rc;
    }
    *out = c;
    return LST_OK;
}

void lst_client_destroy(lst_client **client_p)
{
    if (client_p == NULL || *client_p == NULL)
        return;
    lst_client *c = *client_p;
    *client_p = NULL;
    lst_events_close(c);
    dealer_close(c);
    if (c->ctx != NULL)
        zmq_ctx_term(c->ctx);
    for (size_t i = c->pend_head; i < c->pend_count; i++)
        free(c->pend[i].bytes);
    free(c->pend);
    free(c->done);
    free(c->nonces);
    lst_curve_wipe(&c->keys);
    free(c);
}

void lst_client_set_retries(lst_client *c, unsigned retries)
{
    c->retries = retries;
}

void lst_client_set_busy_retries(lst_client *c, unsigned retries)
{
    c->busy_retries = retries < 255 ? retries : 255;
}

const char *lst_client_error(const lst_client *c)
{
    return c->error;
}

const char *lst_client_endpoint(const lst_client *c)
{
    return c->endpoint;
}

uint64_t lst_client_switches(const lst_client *c)
{
    return c->switches;
}

const char *lst_client_leader(const lst_client *c)
{
    return c->leader;
}

/* "Nothing listening": LST_ERR_CONNECT, saying whether a connection was ever made. */
static int refused_code(lst_client *c)
{
    if (c->ever_connected)
        set_error(c,
                  "connection to %s lost and nothing listening there now (a request in flight "
                  "may or may not have been applied)",
                  c->endpoint);
    else
        set_error(c, "cannot connect to %s: nothing listening there (is lstd running?)",
                  c->endpoint);
    return LST_ERR_CONNECT;
}

/* The code for "no reply in time": LST_ERR_CONNECT when no connection was ever made, or its
 * handshake failed (libzmq does not retry then). */
static int timeout_code(lst_client *c, int waited_ms)
{
    monitor_drain(c);
    if (c->handshake_failed == HS_AUTH) {
        set_error(c, "%s refused this client's CURVE key (not in its curve_clients list)",
                  c->endpoint);
        return LST_ERR_CONNECT;
    }
    if (c->handshake_failed == HS_PROTOCOL) {
        set_error(c, "the handshake with %s failed: %s", c->endpoint,
                  c->curve ? "it does not serve CURVE, or its key is not the --curve-server-key "
                             "given"
                           : "it serves CURVE only (give --curve-server-key and --curve-key)");
        return LST_ERR_CONNECT;
    }
    if (!c->ever_connected || (c->refused && !c->connected))
        return refused_code(c);
    set_error(c, "no reply from %s within %d ms (%s)", c->endpoint, waited_ms,
              c->connected ? "connected" : "connection lost");
    return LST_ERR_TIMEOUT;
}

static int send_frame(lst_client *c, const void *data, size_t size)
{
    monitor_drain(c);
    if (c->refused && !c->connected)
        return refused_code(c);
    if (zmq_send(c->dealer, data, size, 0) >= 0)
        return LST_OK;
    if (errno == EAGAIN) {
        int rc = timeout_code(c, c->timeout_ms);
        if (rc == LST_ERR_TIMEOUT)
            set_error(c, "cannot send to %s within %d ms: its queue is full", c->endpoint,
                      c->timeout_ms);
        return rc;
    }
    set_error(c, "send to %s: %s", c->endpoint, zmq_strerror(errno));
    return LST_ERR_CONNECT;
}

/* Receive one frame from sock within timeout_ms (0: only what has arrived). Out: *m. On the
 * DEALER, a refused connection (the monitor) ends the wait at once.
 * Returns: LST_OK, LST_ERR_TIMEOUT (nothing arrived), LST_ERR_CONNECT (nothing listening),
 * LST_ERR_PROTOCOL (a socket error). */
static int recv_frame(lst_client *c, void *sock, int timeout_ms, zmq_msg_t *m)
{
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    bool watch = sock == c->dealer;
    for (;;) {
        zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, {c->monitor, 0, ZMQ_POLLIN, 0}};
        uint64_t now = now_ms();
        long wait = now < deadline ? (long)(deadline - now) : 0;
        int n = zmq_poll(items, watch ? 2 : 1, wait);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return LST_ERR_TIMEOUT;
        if (watch && (items[1].revents & ZMQ_POLLIN)) {
            monitor_drain(c);
            if (c->refused && !c->connected)
                return refused_code(c);
            if ((items[0].revents & ZMQ_POLLIN) == 0)
                continue;
        }
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) >= 0)
            return LST_OK;
        if (errno != EAGAIN && errno != EINTR) {
            set_error(c, "receive: %s", zmq_strerror(errno));
            return LST_ERR_PROTOCOL;
        }
    }
}

/* Drop the remaining frames of a multi-frame message. Returns: true when there were any. */
static bool drop_more(void *sock, zmq_msg_t *m)
{
    bool extra = false;
    while (zmq_msg_more(m)) {
        extra = true;
        zmq_msg_close(m);
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, 0) < 0)
            break;
    }
    return extra;
}

/* Receive and decode one reply. Returns: LST_OK, LST_ERR_TIMEOUT, LST_ERR_PROTOCOL (not one
 * frame holding one msgpack map), LST_ERR_NOMEM. */
static int recv_reply(lst_client *c, int timeout_ms, lst_reply **out)
{
    zmq_msg_t m;
    *out = NULL;
    zmq_msg_init(&m);
    int rc = recv_frame(c, c->dealer, timeout_ms, &m);
    if (rc == LST_OK) {
        if (drop_more(c->dealer, &m))
            rc = LST_ERR_PROTOCOL;
        else
            rc = reply_decode(zmq_msg_data(&m), zmq_msg_size(&m), out);
        if (rc == LST_ERR_PROTOCOL)
            set_error(c, "a reply from %s is not one msgpack map", c->endpoint);
    }
    zmq_msg_close(&m);
    return rc;
}

/* ---- pending pipelined requests and their completions ------------------------------------ */

static pending *pending_find(lst_client *c, uint64_t id)
{
    for (size_t i = c->pend_head; i < c->pend_count; i++)
        if (!c->pend[i].done && c->pend[i].id == id)
            return &c->pend[i];
    return NULL;
}

static int pending_add(lst_client *c, const pending *p)
{
    if (c->pend_head > 0 && c->pend_head * 2 >= c->pend_count) { /* compact */
        memmove(c->pend, c->pend + c->pend_head, (c->pend_count - c->pend_head) * sizeof *c->pend);
        c->pend_count -= c->pend_head;
        c->pend_head = 0;
    }
    if (c->pend_count == c->pend_cap) {
        size_t cap = c->pend_cap ? c->pend_cap * 2 : 64;
        pending *n = realloc(c->pend, cap * sizeof *n);
        if (n == NULL)
            return LST_ERR_NOMEM;
        c->pend = n;
        c->pend_cap = cap;
    }
    c->pend[c->pend_count++] = *p;
    c->pend_live++;
    return LST_OK;
}

static void pending_done(lst_client *c, pending *p)
{
    free(p->bytes);
    p->bytes = NULL;
    p->done = true;
    if (p->state == P_WAIT)
        c->waiting--;
    p->state = P_DONE;
    c->pend_live--;
    while (c->pend_head < c->pend_count && c->pend[c->pend_head].done)
        c->pend_head++;
    if (c->pend_head == c->pend_count)
        c->pend_head = c->pend_count = 0;
}

static int completion_push(lst_client *c, int rc, const lst_result *res)
{
    if (c->done_head == c->done_count)
        c->done_head = c->done_count = 0;
    if (c->done_count == c->done_cap) {
        if (c->done_head > 0) {
            memmove(c->done, c->done + c->done_head,
                    (c->done_count - c->done_head) * sizeof *c->done);
            c->done_count -= c->done_head;
            c->done_head = 0;
        } else {
            size_t cap = c->done_cap ? c->done_cap * 2 : 64;
            completion *n = realloc(c->done, cap * sizeof *n);
            if (n == NULL)
                return LST_ERR_NOMEM;
            c->done = n;
            c->done_cap = cap;
        }
    }
    c->done[c->done_count].rc = rc;
    c->done[c->done_count++].res = *res;
    return LST_OK;
}

size_t lst_pending(const lst_client *c)
{
    return c->pend_live + (c->done_count - c->done_head);
}

/* ---- transaction replies ----------------------------------------------------------------- */

/* The result map of a recorded transaction. Returns: LST_OK or LST_ERR_PROTOCOL. */
static int result_fields(const msgpack_object *m, lst_result *res)
{
    const msgpack_object *seq = path_get(m, "seq"), *batch = path_get(m, "batch"),
                         *time = path_get(m, "time"), *out = path_get(m, "out");
    const msgpack_object *rec = path_get(m, "recorded"), *dup = path_get(m, "duplicate");
    uint8_t hash[32];
    if (seq == NULL || seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER || batch == NULL ||
        batch->type != MSGPACK_OBJECT_POSITIVE_INTEGER || time == NULL ||
        time->type != MSGPACK_OBJECT_POSITIVE_INTEGER || rec == NULL ||
        rec->type != MSGPACK_OBJECT_BOOLEAN || dup == NULL || dup->type != MSGPACK_OBJECT_BOOLEAN ||
        out == NULL || out->type != MSGPACK_OBJECT_MAP || out->via.map.size > LST_OUTPUTS_MAX ||
        !get_bin32(m, "hash", hash) || memcmp(hash, res->hash, 32) != 0)
        return LST_ERR_PROTOCOL;
    res->seq = seq->via.u64;
    res->batch = batch->via.u64;
    res->time = time->via.u64;
    res->recorded = rec->via.boolean;
    res->duplicate = dup->via.boolean;
    const msgpack_object *sim = path_get(m, "simulated");
    res->simulated = sim != NULL && sim->type == MSGPACK_OBJECT_BOOLEAN && sim->via.boolean;
    for (uint32_t i = 0; i < out->via.map.size; i++) {
        const msgpack_object_kv *kv = &out->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return LST_ERR_PROTOCOL;
        copy_str(res->out[i].name, sizeof res->out[i].name, kv->key.via.str.ptr,
                 kv->key.via.str.size);
        res->out[i].value = kv->val.via.u64;
    }
    res->out_count = out->via.map.size;
    return LST_OK;
}

/* Fill res (kind, nonce, hash and request_id already set) from a transaction reply.
 * Returns: LST_OK, LST_ERR_REJECTED or LST_ERR_PROTOCOL. */
static int result_from_reply(lst_client *c, const lst_reply *r, lst_result *res)
{
    const msgpack_object *root = &r->up.data, *ok = path_get(root, "ok");
    const msgpack_object *result = path_get(root, "result");
    size_t len;
    if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN)
        goto bad;
    res->ok = ok->via.boolean;
    if (!res->ok) {
        const char *e = lst_value_str(lst_reply_get(r, "error"), &len);
        if (e == NULL)
            goto bad;
        copy_str(res->error, sizeof res->error, e, len);
        const char *msg = lst_value_str(lst_reply_get(r, "message"), &len);
        if (msg != NULL)
            copy_str(res->message, sizeof res->message, msg, len);
    }
    if (result != NULL && (result->type != MSGPACK_OBJECT_MAP || result_fields(result, res) != 0))
        goto bad;
    if (res->ok)
        return LST_OK;
    set_error(c, "%s rejected: %s (%s)%s%s", lst_kind_name(res->kind), res->error, res->message,
              res->simulated  ? "; simulated: would be recorded, consuming the nonce"
              : res->recorded ? "; recorded, nonce consumed"
                              : "",
              strcmp(res->error, "NOT_LEADER") != 0 ? ""
              : c->leader[0] != '\0'                ? "; leader hint (not followed or spent): "
                                                    : "; no replica named a leader");
    if (strcmp(res->error, "NOT_LEADER") == 0 && c->leader[0] != '\0')
        snprintf(c->error + strlen(c->error), sizeof c->error - strlen(c->error), "%s", c->leader);
    return LST_ERR_REJECTED;
bad:
    set_error(c, "the reply to a %s transaction does not follow PROTOCOL.md",
              lst_kind_name(res->kind));
    return LST_ERR_PROTOCOL;
}

/* The request id and attempt of a reply (its wire id is id << ATTEMPT_BITS | attempt).
 * Returns: false when it has no uint id. */
static bool reply_id(const lst_reply *r, uint64_t *id, unsigned *attempt)
{
    const msgpack_object *o = path_get(&r->up.data, "id");
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *id = o->via.u64 >> ATTEMPT_BITS;
    *attempt = (unsigned)(o->via.u64 & ATTEMPT_MAX);
    return true;
}

static uint64_t wire_id(uint64_t id, unsigned attempt)
{
    return id << ATTEMPT_BITS | attempt;
}

/* ---- pipelined transactions: BUSY and the tail behind it ------------------------------- */

/* BUSY consumes no nonce: a pipelining signer's transactions behind a BUSY one get NONCE_GAP.
 * The BUSY'd transaction and its tail (the same signed transactions, each attempt under a wire
 * id of its own) wait out a backoff and go again in nonce order: the BUSY one first and alone
 * (a probe: the queue that refused it is full, and a whole tail sent into it would mostly be
 * refused again), the tail once the probe is recorded. A NONCE_GAP while a transaction of the
 * signer with a lower nonce is unsettled goes again behind it the same way. A reply to an
 * attempt that was superseded is dropped, unless it is a recorded result. */

static bool same_signer(const pending *a, const pending *b)
{
    return memcmp(a->tx.signer, b->tx.signer, 32) == 0;
}

/* Returns: true when a transaction of p's signer with a lower nonce is not done and, unless
 * any_state, waits to be sent again or is a probe not yet recorded (p goes after it). */
static bool earlier(const lst_client *c, const pending *p, bool any_state)
{
    for (size_t i = c->pend_head; i < c->pend_count; i++) {
        const pending *q = &c->pend[i];
        if (!q->done && q->nonce < p->nonce && same_signer(q, p) &&
            (any_state || q->state == P_WAIT || q->probe))
            return true;
    }
    return false;
}

static void set_wait(lst_client *c, pending *p, uint64_t at_ms)
{
    if (p->state != P_WAIT)
        c->waiting++;
    p->state = P_WAIT;
    if (p->resend_ms < at_ms)
        p->resend_ms = at_ms;
}

/* BUSY for p: it and every later transaction of its signer go again after the backoff. */
static void on_busy(lst_client *c, pending *p)
{
    uint64_t delay = (uint64_t)BUSY_BACKOFF_MS_MIN << (p->busy < 10 ? p->busy : 10);
    uint64_t at = now_ms() + (delay < BUSY_BACKOFF_MS_MAX ? delay : BUSY_BACKOFF_MS_MAX);
    p->busy++;
    p->probe = true;
    for (size_t i = c->pend_head; i < c->pend_count; i++) {
        pending *q = &c->pend[i];
        if (!q->done && q->nonce >= p->nonce && same_signer(q, p))
            set_wait(c, q, at);
    }
}

/* p's request as its current attempt (wire id), into p->bytes.
 * Returns: LST_OK or LST_ERR_NOMEM. */
static int pending_pack(lst_client *c, pending *p)
{
    msgpack_sbuffer buf;
    msgpack_packer pk;
    rpc_id rid = {.type = 1, .u = wire_id(p->id, p->attempt)};
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    if (rpc_pack_tx_request(&pk, &rid, &p->tx, p->sig, c->ledger_id) != 0) {
        msgpack_sbuffer_destroy(&buf);
        return LST_ERR_NOMEM;
    }
    free(p->bytes);
    p->size = buf.size;
    p->bytes = msgpack_sbuffer_release(&buf);
    return LST_OK;
}

/* A result for p as far as the client knows it: request id, kind, nonce, hash. */
static void result_start(const pending *p, lst_result *res)
{
    memset(res, 0, sizeof *res);
    res->request_id = p->id;
    res->kind = p->kind;
    res->nonce = p->nonce;
    memcpy(res->hash, p->hash, 32);
}

/* Complete p without a reply: code with error name and message (a failed resend, or the
 * resends spent). Returns: LST_OK or LST_ERR_NOMEM. */
static int complete_unsent(lst_client *c, pending *p, int code, const char *error)
{
    lst_result res;
    result_start(p, &res);
    copy_str(res.error, sizeof res.error, error, strlen(error));
    copy_str(res.message, sizeof res.message, c->error, strlen(c->error));
    int rc = completion_push(c, code, &res);
    if (rc == LST_OK)
        pending_done(c, p);
    return rc;
}

/* Send again the waiting transactions that are due, each signer's in nonce order; one whose
 * attempts are spent completes with its last answer (BUSY or NONCE_GAP).
 * Returns: LST_OK or LST_ERR_NOMEM. */
static int resend_due(lst_client *c)
{
    uint64_t now = now_ms();
    for (size_t i = c->pend_head; c->waiting > 0 && i < c->pend_count; i++) {
        pending *p = &c->pend[i];
        int rc = LST_OK;
        if (p->done || p->state != P_WAIT || p->resend_ms > now || earlier(c, p, false))
            continue;
        if (p->attempt >= ATTEMPT_MAX) {
            set_error(c, "%s: no room on the server after %u sends", lst_kind_name(p->kind),
                      p->attempt + 1u);
            rc = complete_unsent(c, p, LST_ERR_REJECTED, p->busy > 0 ? "BUSY" : "NONCE_GAP");
        } else {
            p->attempt++;
            p->state = P_FLIGHT;
            c->waiting--;
            rc = pending_pack(c, p);
            if (rc == LST_OK)
                rc = send_frame(c, p->bytes, p->size);
            if (rc != LST_OK && rc != LST_ERR_NOMEM)
                rc = complete_unsent(c, p, rc, "");
        }
        if (rc == LST_ERR_NOMEM)
            return rc;
    }
    return LST_OK;
}

/* Returns: when the first waiting transaction is due (monotonic ms), UINT64_MAX for none. */
static uint64_t next_resend_ms(const lst_client *c)
{
    uint64_t at = UINT64_MAX;
    for (size_t i = c->pend_head; c->waiting > 0 && i < c->pend_count; i++)
        if (!c->pend[i].done && c->pend[i].state == P_WAIT && c->pend[i].resend_ms < at)
            at = c->pend[i].resend_ms;
    return at;
}

static int failover(lst_client *c, const lst_reply *r, int code, unsigned used, bool *moved);

/* A pipelined transaction's reply (attempt: the one it answers). Takes no ownership.
 * Returns: LST_OK, or LST_ERR_NOMEM (a completion could not be queued). */
static int pending_reply(lst_client *c, pending *p, unsigned attempt, const lst_reply *r)
{
    lst_result res;
    result_start(p, &res);
    int code = result_from_reply(c, r, &res);
    if (!res.recorded && code == LST_ERR_REJECTED) {
        bool room = p->attempt < ATTEMPT_MAX;
        if (attempt != p->attempt || p->state != P_FLIGHT)
            return LST_OK; /* a superseded attempt's: the current one answers */
        if (strcmp(res.error, "NOT_LEADER") == 0) {
            bool moved = c->switching; /* then the move under way resends it */
            int rc = moved ? LST_OK : failover(c, r, 0, p->switches, &moved);
            if (rc != LST_OK || moved)
                return rc;
        }
        if (room && p->busy < c->busy_retries &&
            (strcmp(res.error, "BUSY") == 0 || strcmp(res.error, "NO_QUORUM") == 0)) {
            on_busy(c, p);
            return LST_OK;
        }
        if (room && strcmp(res.error, "NONCE_GAP") == 0 && earlier(c, p, true)) {
            set_wait(c, p, now_ms()); /* after the lower nonce, which may have got BUSY */
            return LST_OK;
        }
    }
    int rc = completion_push(c, code, &res);
    if (rc == LST_OK)
        pending_done(c, p);
    return rc;
}

/* Route a reply that arrived: the one awaited (id == want) goes to *out; a pipelined
 * request's reply goes to pending_reply; anything else (the reply to an earlier copy of a
 * resent request) is dropped. Takes ownership of r.
 * Returns: LST_OK, or LST_ERR_NOMEM (a completion could not be queued). */
static int route(lst_client *c, lst_reply *r, uint64_t want, lst_reply **out)
{
    uint64_t id;
    unsigned attempt;
    pending *p;
    int rc = LST_OK;
    if (!reply_id(r, &id, &attempt)) {
        lst_reply_destroy(&r);
        return LST_OK;
    }
    if (id == want && out != NULL) {
        *out = r;
        return LST_OK;
    }
    if ((p = pending_find(c, id)) != NULL)
        rc = pending_reply(c, p, attempt, r);
    lst_reply_destroy(&r);
    return rc;
}

/* Returns: true when r is an error reply named `name`. */
static bool reply_error_is(const lst_reply *r, const char *name)
{
    size_t len;
    const char *e = lst_value_str(lst_reply_get(r, "error"), &len);
    return !lst_reply_bool(r, "ok") && e != NULL && len == strlen(name) &&
           memcmp(e, name, len) == 0;
}

/* BUSY (the queue is full) and NO_QUORUM (the leader cannot replicate now): nothing applied,
 * retried at the same endpoint after a backoff. */
static bool reply_is_busy(const lst_reply *r)
{
    return reply_error_is(r, "BUSY") || reply_error_is(r, "NO_QUORUM");
}

/* ---- endpoint lists: the one rule for moving to another entry ----------------------------- */

/* Remember the leader hint of a NOT_LEADER reply ("" when nil, absent or unusable). */
static void note_leader(lst_client *c, const lst_reply *r)
{
    if (!lst_reply_str(r, "leader", c->leader, sizeof c->leader))
        c->leader[0] = '\0';
}

/* Wait out the backoff before round `round` (2, 3, ...) of the list: 50 ms doubling, at most
 * 1 s, of which a random half (jitter: clients that lost the same leader do not all come back
 * at the same instant). */
static void round_backoff(lst_client *c, unsigned round)
{
    uint64_t d = (uint64_t)ROUND_BACKOFF_MS_MIN << (round - 2 < 10 ? round - 2 : 10);
    if (d > ROUND_BACKOFF_MS_MAX)
        d = ROUND_BACKOFF_MS_MAX;
    c->jitter ^= c->jitter << 13;
    c->jitter ^= c->jitter >> 7;
    c->jitter ^= c->jitter << 17;
    uint64_t ms = d / 2 + c->jitter % (d / 2 + 1);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Move to entry `to`: route what the old DEALER has received already (results of pipelined
 * requests it answered; a NOT_LEADER among them is ignored, its request goes along), close it,
 * connect a new one and resend, byte for byte and in the order first sent, call()'s request
 * and every pipelined request in flight (PROTOCOL.md, "Endpoint lists and NOT_LEADER": a
 * resend is applied once or answered as the duplicate it is). A resend that cannot be sent now
 * is sent again at the next move or by lst_resend_pending.
 * Returns: LST_OK, LST_ERR_NOMEM, LST_ERR_IO or LST_ERR_CONNECT (no socket for the entry). */
static int endpoint_switch(lst_client *c, size_t to)
{
    int rc = LST_OK;
    lst_reply *r;
    c->switching = true;
    while (rc == LST_OK && recv_reply(c, 0, &r) == LST_OK)
        rc = route(c, r, 0, NULL);
    c->switching = false;
    if (rc != LST_OK)
        return rc;
    dealer_close(c);
    c->switches++;
    if ((rc = dealer_open(c, to)) != LST_OK)
        return rc;
    if (c->inflight != NULL)
        (void)send_frame(c, c->inflight->data, c->inflight->size);
    for (size_t i = c->pend_head; i < c->pend_count; i++) {
        pending *p = &c->pend[i];
        if (p->done || p->state != P_FLIGHT)
            continue; /* the waiting ones go when due, to the new entry */
        p->switches++;
        (void)send_frame(c, p->bytes, p->size);
    }
    return LST_OK;
}

/* The rule, for the single-request and the pipelined paths alike. r: a reply (only a
 * NOT_LEADER moves), or NULL for a transport failure `code` (LST_ERR_TIMEOUT or
 * LST_ERR_CONNECT). used: the switches the request has seen. With more than one entry the
 * client moves to the leader a NOT_LEADER names when it is one of the configured entries
 * (exact match; any other hint is never followed), else to the next entry; at most 2 x the
 * entries per request, waiting round_backoff before each full round after the first. One
 * entry: it stays (as a client without a list).
 * Out: *moved (true: resent at the new entry). Returns: LST_OK or as endpoint_switch. */
static int failover(lst_client *c, const lst_reply *r, int code, unsigned used, bool *moved)
{
    size_t n = c->endpoint_count, to = (c->endpoint_at + 1) % n;
    *moved = false;
    if (r != NULL && !reply_error_is(r, "NOT_LEADER"))
        return LST_OK;
    if (r == NULL && code != LST_ERR_TIMEOUT && code != LST_ERR_CONNECT)
        return LST_OK;
    if (r != NULL)
        note_leader(c, r);
    if (n < 2 || used >= 2 * n)
        return LST_OK;
    for (size_t i = 0; r != NULL && c->leader[0] != '\0' && i < n; i++)
        if (i != c->endpoint_at && strcmp(c->endpoints[i], c->leader) == 0)
            to = i;
    if ((used + 1) % n == 0)
        round_backoff(c, (unsigned)((used + 1) / n + 1));
    int rc = endpoint_switch(c, to);
    *moved = rc == LST_OK;
    return rc;
}

/* Wait out the backoff after the busy-th BUSY, routing the pipelined replies that arrive.
 * Returns: LST_OK, or an error of receiving. */
static int busy_backoff(lst_client *c, unsigned busy)
{
    uint64_t delay = (uint64_t)BUSY_BACKOFF_MS_MIN << (busy < 10 ? busy : 10);
    uint64_t deadline = now_ms() + (delay < BUSY_BACKOFF_MS_MAX ? delay : BUSY_BACKOFF_MS_MAX);
    for (uint64_t now = now_ms(); now < deadline; now = now_ms()) {
        lst_reply *r;
        int rc = recv_reply(c, (int)(deadline - now), &r);
        if (rc == LST_ERR_TIMEOUT)
            break;
        if (rc != LST_OK || (rc = route(c, r, 0, NULL)) != LST_OK)
            return rc;
    }
    return LST_OK;
}

/* Wait up to the client's timeout for the reply to id, routing the pipelined replies that
 * arrive meanwhile. Out: *out. Returns: LST_OK, LST_ERR_TIMEOUT, or an error of receiving. */
static int await_reply(lst_client *c, uint64_t id, lst_reply **out)
{
    uint64_t deadline = now_ms() + (uint64_t)c->timeout_ms;
    for (uint64_t now = now_ms(); now < deadline; now = now_ms()) {
        lst_reply *r;
        int rc = recv_reply(c, (int)(deadline - now), &r);
        if (rc == LST_ERR_TIMEOUT)
            break;
        if (rc != LST_OK || (rc = route(c, r, id, out)) != LST_OK)
            return rc;
        if (*out != NULL)
            return LST_OK;
    }
    return LST_ERR_TIMEOUT;
}

/* Send a request with this id and wait for its reply. After a NOT_LEADER, and with several
 * endpoints after a timeout or a refused connection, the client moves (failover) and sends
 * the same bytes there; with one endpoint the same bytes are resent after each timeout (no
 * resend while no connection was ever made). After a BUSY or NO_QUORUM, they are resent after
 * a backoff (up to the client's busy retries). Out: *out (a NOT_LEADER reply when the moves
 * are spent). Returns: LST_OK, LST_ERR_TIMEOUT, LST_ERR_CONNECT, LST_ERR_PROTOCOL,
 * LST_ERR_IO, LST_ERR_NOMEM. */
static int call(lst_client *c, const msgpack_sbuffer *req, uint64_t id, lst_reply **out)
{
    unsigned busy = 0, switches = 0;
    *out = NULL;
    for (unsigned attempt = 0; attempt <= c->retries;) {
        bool moved = false;
        int rc = send_frame(c, req->data, req->size);
        c->inflight = req; /* a move while it waits (a pipelined NOT_LEADER) resends it */
        if (rc == LST_OK)
            rc = await_reply(c, id, out);
        c->inflight = NULL;
        if (rc == LST_ERR_TIMEOUT)
            rc = timeout_code(c, c->timeout_ms); /* or LST_ERR_CONNECT: nothing listening */
        if (rc == LST_OK || rc == LST_ERR_TIMEOUT || rc == LST_ERR_CONNECT) {
            int frc = failover(c, *out, rc, switches, &moved);
            rc = frc != LST_OK ? frc : rc;
        }
        if (moved) { /* at another entry now: the same bytes go there */
            lst_reply_destroy(out);
            switches++;
            continue;
        }
        if (rc != LST_OK && rc != LST_ERR_TIMEOUT)
            return rc;
        if (rc == LST_OK && (!reply_is_busy(*out) || busy >= c->busy_retries))
            return LST_OK;
        if (rc == LST_OK) { /* BUSY, NO_QUORUM: nothing applied; the same bytes again */
            lst_reply_destroy(out);
            if ((rc = busy_backoff(c, busy++)) != LST_OK)
                return rc;
            continue;
        }
        monitor_drain(c);
        if (!c->ever_connected || c->handshake_failed != 0 || c->endpoint_count > 1)
            break; /* no retry will be answered (several entries: the moves are spent) */
        attempt++;
    }
    return timeout_code(c, c->timeout_ms);
}

/* ---- queries ----------------------------------------------------------------------------- */

typedef struct qfield {
    const char *name;
    uint64_t u;
    const uint8_t *bin; /* 32 bytes; NULL: the field is the uint u (or the str) */
    const char *str;    /* when not NULL: the field is this str */
} qfield;

/* Run a query {id, op, fields}. Out: *out (see the header). */
static int query(lst_client *c, const char *op, const qfield *f, size_t n, lst_reply **out)
{
    msgpack_sbuffer buf;
    msgpack_packer pk;
    uint64_t id = c->next_id++;
    *out = NULL;
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, (uint32_t)(2 + n)) || rpc_pack_u64(&pk, "id", wire_id(id, 0)) ||
             rpc_pack_str(&pk, "op", op);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = f[i].bin != NULL   ? rpc_pack_bin(&pk, f[i].name, f[i].bin, 32)
             : f[i].str != NULL ? rpc_pack_str(&pk, f[i].name, f[i].str)
                                : rpc_pack_u64(&pk, f[i].name, f[i].u);
    rc = rc != 0 ? LST_ERR_NOMEM : call(c, &buf, id, out);
    msgpack_sbuffer_destroy(&buf);
    if (rc != LST_OK)
        return rc;
    const msgpack_object *ok = path_get(&(*out)->up.data, "ok");
    if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN) {
        lst_reply_destroy(out);
        set_error(c, "the reply to the %s query has no ok", op);
        return LST_ERR_PROTOCOL;
    }
    if (ok->via.boolean)
        return LST_OK;
    char error[LST_NAME_MAX] = "?", message[LST_MESSAGE_MAX] = "";
    if (!lst_reply_str(*out, "error", error, sizeof error))
        snprintf(error, sizeof error, "?");
    if (!lst_reply_str(*out, "message", message, sizeof message))
        message[0] = '\0';
    if (strcmp(error, "NOT_LEADER") == 0)
        set_error(c, "%s query: NOT_LEADER (%s) at %s after %" PRIu64 " switches; leader hint: %s",
                  op, message, c->endpoint, c->switches, c->leader[0] ? c->leader : "none");
    else
        set_error(c, "%s query: %s (%s)", op, error, message);
    return LST_ERR_REJECTED;
}

int lst_query_pool(lst_client *c, lst_reply **out)
{
    return query(c, "pool", NULL, 0, out);
}

int lst_query_account(lst_client *c, const uint8_t account[32], lst_reply **out)
{
    return query(c, "account", (qfield[]){{"account", 0, account, NULL}}, 1, out);
}

int lst_query_tx(lst_client *c, const uint8_t hash[32], lst_reply **out)
{
    return query(c, "tx", (qfield[]){{"hash", 0, hash, NULL}}, 1, out);
}

int lst_query_history(lst_client *c, const uint8_t account[32], uint64_t after, uint64_t limit,
                      lst_reply **out)
{
    qfield f[] = {
        {"account", 0, account, NULL}, {"after", after, NULL, NULL}, {"limit", limit, NULL, NULL}};
    return query(c, "history", f, limit != 0 ? 3 : 2, out);
}

int lst_query_operator(lst_client *c, uint64_t operator_id, lst_reply **out)
{
    return query(c, "operator", (qfield[]){{"operator_id", operator_id, NULL, NULL}}, 1, out);
}

int lst_query_quote_amount(lst_client *c, uint64_t amount, lst_reply **out)
{
    return query(c, "quote", (qfield[]){{"amount", amount, NULL, NULL}}, 1, out);
}

int lst_query_quote_shares(lst_client *c, uint64_t shares, lst_reply **out)
{
    return query(c, "quote", (qfield[]){{"shares", shares, NULL, NULL}}, 1, out);
}

int lst_query_lien(lst_client *c, uint64_t lien_id, lst_reply **out)
{
    return query(c, "lien", (qfield[]){{"lien_id", lien_id, NULL, NULL}}, 1, out);
}

int lst_query_withdrawal(lst_client *c, uint64_t request_id, lst_reply **out)
{
    return query(c, "withdrawal", (qfield[]){{"request_id", request_id, NULL, NULL}}, 1, out);
}

int lst_query_queue(lst_client *c, lst_reply **out)
{
    return query(c, "queue", NULL, 0, out);
}

int lst_query_events(lst_client *c, uint64_t after, uint64_t limit, lst_reply **out)
{
    qfield f[] = {{"after", after, NULL, NULL}, {"limit", limit, NULL, NULL}};
    return query(c, "events", f, limit != 0 ? 2 : 1, out);
}

int lst_query_health(lst_client *c, lst_reply **out)
{
    return query(c, "health", NULL, 0, out);
}

int lst_query_rate_history(lst_client *c, uint64_t from, uint64_t limit, lst_reply **out)
{
    qfield f[] = {{"from", from, NULL, NULL}, {"limit", limit, NULL, NULL}};
    return query(c, "rate_history", f, limit != 0 ? 2 : 1, out);
}

int lst_query_votes(lst_client *c, uint64_t operator_id, uint64_t after, uint64_t limit,
                    uint64_t last, lst_reply **out)
{
    qfield f[4];
    size_t n = 0;
    f[n++] = (qfield){"operator_id", operator_id, NULL, NULL};
    f[n++] = (qfield){"after", after, NULL, NULL};
    if (limit != 0)
        f[n++] = (qfield){"limit", limit, NULL, NULL};
    if (last != 0)
        f[n++] = (qfield){"last", last, NULL, NULL};
    return query(c, "votes", f, n, out);
}

int lst_query_operators(lst_client *c, const char *order, bool active_only, bool reverse,
                        uint64_t limit, lst_reply **out)
{
    qfield f[4];
    size_t n = 0;
    if (order != NULL)
        f[n++] = (qfield){"order", 0, NULL, order};
    f[n++] = (qfield){"active_only", active_only, NULL, NULL};
    f[n++] = (qfield){"reverse", reverse, NULL, NULL};
    if (limit != 0)
        f[n++] = (qfield){"limit", limit, NULL, NULL};
    return query(c, "operators", f, n, out);
}

/* Read u64 figures named in `names` from result.<name> into out[]. Returns: true when all. */
static bool read_figures(const lst_reply *r, const char *const *names, uint64_t *const *out,
                         size_t n)
{
    char path[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "result.%s", names[i]);
        if (lst_reply_type(r, path) != LST_T_UINT)
            return false;
        *out[i] = lst_reply_u64(r, path);
    }
    return true;
}

int lst_pool(lst_client *c, lst_pool_info *out)
{
    lst_reply *r;
    memset(out, 0, sizeof *out);
    int rc = lst_query_pool(c, &r);
    if (rc != LST_OK) {
        lst_reply_destroy(&r);
        return rc;
    }
    static const char *const names[] = {"decimals", "assets",   "shares",    "buffer",
                                        "unvested", "vest_end", "held_loss", "epoch",
                                        "seq",      "batch",    "time",      "now"};
    uint64_t *const dst[] = {&out->decimals, &out->assets,   &out->shares,    &out->buffer,
                             &out->unvested, &out->vest_end, &out->held_loss, &out->epoch,
                             &out->seq,      &out->batch,    &out->time,      &out->now};
    bool ok = read_figures(r, names, dst, sizeof names / sizeof names[0]) &&
              lst_reply_u128(r, "result.payable", &out->payable) &&
              lst_reply_type(r, "result.bunker") == LST_T_BOOL &&
              lst_reply_str(r, "result.ledger_id", out->ledger_id, sizeof out->ledger_id) &&
              (lst_reply_str(r, "result.rate", out->rate, sizeof out->rate) ||
               lst_reply_type(r, "result.rate") == LST_T_NIL);
    out->bunker = lst_reply_bool(r, "result.bunker");
    lst_reply_destroy(&r);
    if (!ok || out->ledger_id[0] == '\0') {
        set_error(c, "the pool reply lacks a figure PROTOCOL.md lists");
        return LST_ERR_PROTOCOL;
    }
    if (!c->have_ledger) { /* the ledger id and decimals never change */
        memcpy(c->ledger_id, out->ledger_id, sizeof c->ledger_id);
        c->decimals = out->decimals;
        c->have_ledger = true;
    }
    return LST_OK;
}

int lst_account(lst_client *c, const uint8_t account[32], lst_account_info *out)
{
    lst_reply *r;
    memset(out, 0, sizeof *out);
    int rc = lst_query_account(c, account, &r);
    if (rc != LST_OK) {
        lst_reply_destroy(&r);
        return rc;
    }
    static const char *const names[] = {"shares", "locked",     "queued", "total",
                                        "value",  "free_value", "nonce",  "next_nonce"};
    uint64_t *const dst[] = {&out->shares, &out->locked,     &out->queued, &out->total,
                             &out->value,  &out->free_value, &out->nonce,  &out->next_nonce};
    bool ok = read_figures(r, names, dst, sizeof names / sizeof names[0]);
    lst_reply_destroy(&r);
    if (!ok) {
        set_error(c, "the account reply lacks a figure PROTOCOL.md lists");
        return LST_ERR_PROTOCOL;
    }
    return LST_OK;
}

int lst_client_ledger(lst_client *c, const char **ledger_id, uint64_t *decimals)
{
    if (!c->have_ledger) {
        lst_pool_info p;
        int rc = lst_pool(c, &p); /* fills the cache */
        if (rc != LST_OK)
            return rc;
    }
    if (ledger_id != NULL)
        *ledger_id = c->ledger_id;
    if (decimals != NULL)
        *decimals = c->decimals;
    return LST_OK;
}

/* ---- nonces ------------------------------------------------------------------------------ */

static nonce_entry *nonce_find(lst_client *c, const uint8_t pubkey[32])
{
    for (size_t i = 0; i < c->nonce_count; i++)
        if (memcmp(c->nonces[i].pubkey, pubkey, 32) == 0)
            return &c->nonces[i];
    return NULL;
}

int lst_nonce_next(lst_client *c, const uint8_t pubkey[32], uint64_t *nonce)
{
    nonce_entry *e = nonce_find(c, pubkey);
    if (e == NULL) {
        lst_account_info a;
        int rc = lst_account(c, pubkey, &a);
        if (rc != LST_OK)
            return rc;
        if (c->nonce_count == c->nonce_cap) {
            size_t cap = c->nonce_cap ? c->nonce_cap * 2 : 8;
            nonce_entry *n = realloc(c->nonces, cap * sizeof *n);
            if (n == NULL)
                return LST_ERR_NOMEM;
            c->nonces = n;
            c->nonce_cap = cap;
        }
        e = &c->nonces[c->nonce_count++];
        memcpy(e->pubkey, pubkey, 32);
        e->next = a.next_nonce;
    }
    *nonce = e->next++;
    return LST_OK;
}

void lst_nonce_forget(lst_client *c, const uint8_t pubkey[32])
{
    nonce_entry *e = nonce_find(c, pubkey);
    if (e != NULL)
        *e = c->nonces[--c->nonce_count];
}

/* ---- submitting -------------------------------------------------------------------------- */

/* Check tx, take a nonce when it has none (auto: account query, else the local count), hash,
 * sign and encode it as request `id` (the wire id). Out: buf, hash, ltx, sig.
 * Returns: LST_OK, LST_ERR_USAGE, LST_ERR_IO, LST_ERR_NOMEM, or a query's code. */
static int tx_prepare(lst_client *c, const lst_key *key, lst_tx *tx, bool counted_nonce,
                      bool simulate, uint64_t id, msgpack_sbuffer *buf, uint8_t hash[32],
                      ledger_tx *ltx, uint8_t sig[64])
{
    const char *ledger_id, *missing;
    if (lst_kind_name(tx->kind) == NULL) {
        set_error(c, "unknown transaction kind %u", tx->kind);
        return LST_ERR_USAGE;
    }
    if ((missing = lst_tx_missing(tx)) != NULL) {
        set_error(c, "%s: field %s is not set", lst_kind_name(tx->kind), missing);
        return LST_ERR_USAGE;
    }
    int rc = lst_client_ledger(c, &ledger_id, NULL);
    if (rc == LST_OK && tx->nonce == 0) {
        lst_account_info a;
        rc = counted_nonce ? lst_nonce_next(c, key->pubkey, &tx->nonce)
                           : lst_account(c, key->pubkey, &a);
        if (rc == LST_OK && !counted_nonce)
            tx->nonce = a.next_nonce;
    }
    if (rc != LST_OK)
        return rc;
    tx_to_ledger(tx, key->pubkey, ltx);
    if (ledger_tx_hash(hash, ledger_id, ltx) != LEDGER_OK || crypto_sign(sig, hash, key->secret)) {
        set_error(c, "cannot sign: invalid secret key or no OS randomness");
        return LST_ERR_IO;
    }
    msgpack_packer pk;
    rpc_id rid = {.type = 1, .u = id};
    msgpack_sbuffer_clear(buf);
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    return rpc_pack_tx_request_as(&pk, &rid, ltx, sig, ledger_id, simulate) != 0 ? LST_ERR_NOMEM
                                                                                 : LST_OK;
}

/* Sign, send and wait: recorded (lst_submit) or simulated (lst_simulate). */
static int submit_as(lst_client *c, const lst_key *key, lst_tx *tx, bool simulate,
                     lst_result *result)
{
    msgpack_sbuffer buf;
    lst_reply *r = NULL;
    ledger_tx ltx;
    uint8_t sig[64];
    uint64_t id = c->next_id++;
    memset(result, 0, sizeof *result);
    result->request_id = id;
    result->kind = tx->kind;
    msgpack_sbuffer_init(&buf);
    int rc = tx_prepare(c, key, tx, false, simulate, wire_id(id, 0), &buf, result->hash, &ltx, sig);
    result->nonce = tx->nonce;
    if (rc == LST_OK)
        rc = call(c, &buf, id, &r);
    if (rc == LST_OK)
        rc = result_from_reply(c, r, result);
    lst_reply_destroy(&r);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

int lst_submit(lst_client *c, const lst_key *key, lst_tx *tx, lst_result *result)
{
    return submit_as(c, key, tx, false, result);
}

int lst_simulate(lst_client *c, const lst_key *key, lst_tx *tx, lst_result *result)
{
    uint64_t nonce = tx->nonce;
    int rc = submit_as(c, key, tx, true, result);
    tx->nonce = nonce; /* nothing was consumed: a later lst_submit picks the nonce again */
    return rc;
}

/* Send a request not yet pending, moving along the list while the entry in use refuses it
 * (failover). Returns: as send_frame, or as failover. */
static int send_moving(lst_client *c, const void *data, size_t size)
{
    int rc = send_frame(c, data, size);
    for (unsigned used = 0; rc == LST_ERR_CONNECT || rc == LST_ERR_TIMEOUT; used++) {
        bool moved;
        int frc = failover(c, NULL, rc, used, &moved);
        if (frc != LST_OK || !moved)
            return frc != LST_OK ? frc : rc;
        rc = send_frame(c, data, size);
    }
    return rc;
}

/* A transport failure (code: LST_ERR_TIMEOUT or LST_ERR_CONNECT) while pipelined requests are
 * in flight, with several endpoints: those resent across 2 x the entries already complete with
 * it, and the client moves on with the others (failover resends them).
 * Returns: LST_OK (some moved or completed), code (nothing to do), or as failover. */
static int poll_failover(lst_client *c, int code)
{
    unsigned used = UINT_MAX;
    bool done = false, moved = false;
    if (c->endpoint_count < 2)
        return code;
    for (size_t i = c->pend_head; i < c->pend_count; i++) {
        pending *p = &c->pend[i];
        if (p->done || p->state != P_FLIGHT)
            continue;
        if (p->switches >= 2 * c->endpoint_count) {
            int rc = complete_unsent(c, p, code, "");
            if (rc != LST_OK)
                return rc;
            done = true;
        } else if (p->switches < used) {
            used = p->switches;
        }
    }
    if (used != UINT_MAX) {
        int rc = failover(c, NULL, code, used, &moved);
        if (rc != LST_OK)
            return rc;
    }
    return done || moved ? LST_OK : code;
}

int lst_send(lst_client *c, const lst_key *key, lst_tx *tx, uint64_t *request_id)
{
    msgpack_sbuffer buf;
    pending p = {.id = c->next_id++, .kind = tx->kind, .state = P_FLIGHT};
    msgpack_sbuffer_init(&buf);
    int rc = tx_prepare(c, key, tx, true, false, wire_id(p.id, 0), &buf, p.hash, &p.tx, p.sig);
    p.nonce = tx->nonce;
    if (rc == LST_OK)
        rc = send_moving(c, buf.data, buf.size);
    if (rc == LST_OK) {
        p.size = buf.size;
        p.bytes = msgpack_sbuffer_release(&buf);
        rc = pending_add(c, &p);
        if (rc != LST_OK)
            free(p.bytes);
    }
    msgpack_sbuffer_destroy(&buf);
    if (rc == LST_OK && request_id != NULL)
        *request_id = p.id;
    return rc;
}

int lst_poll(lst_client *c, int timeout_ms, lst_result *result)
{
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    memset(result, 0, sizeof *result);
    for (;;) {
        int rc = resend_due(c);
        if (rc != LST_OK)
            return rc;
        if (c->done_head < c->done_count) {
            completion *d = &c->done[c->done_head++];
            *result = d->res;
            return d->rc;
        }
        if (c->pend_live == 0) {
            set_error(c, "lst_poll: no request in flight");
            return LST_ERR_USAGE;
        }
        uint64_t now = now_ms(), until = next_resend_ms(c);
        if (until > deadline)
            until = deadline;
        lst_reply *r;
        rc = recv_reply(c, now < until ? (int)(until - now) : 0, &r);
        if (rc == LST_ERR_TIMEOUT && now_ms() < deadline)
            continue; /* a resend is due */
        if (rc == LST_ERR_TIMEOUT && timeout_ms > 0) {
            rc = timeout_code(c, timeout_ms); /* several entries: the next one has them now */
            int frc = poll_failover(c, rc);
            if (frc == LST_OK && c->done_head < c->done_count)
                continue;
            return frc == LST_OK || frc == rc ? rc : frc;
        }
        if (rc == LST_ERR_TIMEOUT) {
            set_error(c, "lst_poll: no reply has arrived yet");
            return rc;
        }
        if (rc == LST_ERR_CONNECT && (rc = poll_failover(c, rc)) == LST_OK)
            continue; /* moved to the next entry, or completed what had moved too often */
        if (rc != LST_OK || (rc = route(c, r, 0, NULL)) != LST_OK)
            return rc;
    }
}

int lst_resend_pending(lst_client *c)
{
    for (size_t i = c->pend_head; i < c->pend_count; i++) {
        if (c->pend[i].done || c->pend[i].state != P_FLIGHT) /* waiting ones go when due */
            continue;
        int rc = send_frame(c, c->pend[i].bytes, c->pend[i].size);
        if (rc != LST_OK)
            return rc;
    }
    return LST_OK;
}

/* ---- events ------------------------------------------------------------------------------ */

void lst_events_close(lst_client *c)
{
    if (c->sub != NULL)
        zmq_close(c->sub);
    c->sub = NULL;
    lst_reply_destroy(&c->ev_page);
    c->ev_index = 0;
    c->ev_account_mode = false;
}

int lst_events_open(lst_client *c, uint64_t after_seq, const uint8_t *account)
{
    char topic[80], hex[65];
    if (c->events_endpoint[0] == '\0') {
        set_error(c, "this client has no events endpoint");
        return LST_ERR_USAGE;
    }
    lst_events_close(c);
    if ((c->sub = socket_new(c, ZMQ_SUB)) == NULL || curve_apply(c, c->sub) != 0) {
        set_error(c, "cannot make a SUB socket: %s", zmq_strerror(errno));
        return LST_ERR_IO;
    }
    c->ev_account_mode = account != NULL;
    if (account != NULL) {
        memcpy(c->ev_account, account, 32);
        lst_hex_encode(hex, account);
        snprintf(topic, sizeof topic, "acct/%s/", hex);
    } else {
        snprintf(topic, sizeof topic, "tx/");
    }
    if (zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, topic, strlen(topic)) != 0 ||
        zmq_connect(c->sub, c->events_endpoint) != 0) {
        set_error(c, "events endpoint %s: %s", c->events_endpoint, zmq_strerror(errno));
        lst_events_close(c);
        return LST_ERR_CONNECT;
    }
    c->ev_last = after_seq;
    c->ev_catchup = true;
    c->ev_pushed = c->ev_fetched = 0;
    return LST_OK;
}

void lst_events_stats(const lst_client *c, uint64_t *pushed, uint64_t *fetched)
{
    if (pushed != NULL)
        *pushed = c->ev_pushed;
    if (fetched != NULL)
        *fetched = c->ev_fetched;
}

/* Ask the server for the records after the last delivered one (one page). */
static int events_fetch(lst_client *c)
{
    lst_reply_destroy(&c->ev_page);
    c->ev_index = 0;
    int rc = c->ev_account_mode
                 ? lst_query_history(c, c->ev_account, c->ev_last, HISTORY_PAGE, &c->ev_page)
                 : lst_query_events(c, c->ev_last, EVENTS_PAGE, &c->ev_page);
    if (rc == LST_OK && lst_reply_type(c->ev_page, "result.records") != LST_T_ARRAY) {
        set_error(c, "the %s reply has no records", c->ev_account_mode ? "history" : "events");
        rc = LST_ERR_PROTOCOL;
    }
    if (rc != LST_OK) {
        lst_reply_destroy(&c->ev_page);
        return rc;
    }
    /* a full page says where the next starts: keep asking until one is not full */
    c->ev_catchup = lst_reply_type(c->ev_page, "result.next") == LST_T_UINT;
    return LST_OK;
}

/* The next record of the catch-up page after the last delivered one.
 * Returns: LST_OK (*out), LST_ERR_TIMEOUT (the page is used up and freed), or a copy error. */
static int page_next(lst_client *c, lst_reply **out)
{
    const lst_value *records = lst_reply_get(c->ev_page, "result.records");
    while (c->ev_index < lst_value_len(records)) {
        const lst_value *rec = lst_value_at(records, c->ev_index++);
        if (lst_value_type(lst_value_get(rec, "seq")) != LST_T_UINT) {
            set_error(c, "a record without a seq");
            lst_reply_destroy(&c->ev_page);
            return LST_ERR_PROTOCOL;
        }
        uint64_t seq = lst_value_u64(lst_value_get(rec, "seq"));
        if (seq <= c->ev_last)
            continue;
        int rc = reply_copy(obj(rec), out);
        if (rc != LST_OK)
            return rc;
        c->ev_last = seq;
        c->ev_fetched++;
        return LST_OK;
    }
    lst_reply_destroy(&c->ev_page);
    return LST_ERR_TIMEOUT;
}

/* One published event: topic frame, record frame.
 * Returns: LST_OK (*out), LST_ERR_TIMEOUT, LST_ERR_PROTOCOL (a malformed event, consumed). */
static int stream_recv(lst_client *c, int timeout_ms, lst_reply **out)
{
    zmq_msg_t m;
    *out = NULL;
    zmq_msg_init(&m);
    int rc = recv_frame(c, c->sub, timeout_ms, &m);
    if (rc == LST_OK) {
        bool two = zmq_msg_more(&m);
        zmq_msg_close(&m);
        zmq_msg_init(&m);
        if (!two || zmq_msg_recv(&m, c->sub, 0) < 0 || drop_more(c->sub, &m))
            rc = LST_ERR_PROTOCOL;
        else
            rc = reply_decode(zmq_msg_data(&m), zmq_msg_size(&m), out);
    }
    zmq_msg_close(&m);
    return rc;
}

int lst_events_next(lst_client *c, int timeout_ms, lst_reply **record)
{
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    bool asked_last = false; /* the final question to the server before giving up */
    *record = NULL;
    if (c->sub == NULL) {
        set_error(c, "lst_events_next: no subscription (lst_events_open)");
        return LST_ERR_USAGE;
    }
    for (;;) {
        lst_reply *r;
        int rc;
        if (c->ev_page != NULL) {
            if ((rc = page_next(c, record)) != LST_ERR_TIMEOUT)
                return rc;
            continue;
        }
        if (c->ev_catchup) {
            if ((rc = events_fetch(c)) != LST_OK)
                return rc;
            continue;
        }
        if (asked_last) {
            set_error(c, "no new record within %d ms", timeout_ms);
            return LST_ERR_TIMEOUT;
        }
        uint64_t now = now_ms();
        rc = stream_recv(c, now < deadline ? (int)(deadline - now) : 0, &r);
        if (rc == LST_ERR_TIMEOUT)
            asked_last = true;
        if (rc == LST_ERR_NOMEM)
            return rc;
        if (rc != LST_OK || lst_reply_type(r, "seq") != LST_T_UINT) {
            lst_reply_destroy(&r);
            c->ev_catchup = true; /* lost or unreadable: the history is the truth */
            continue;
        }
        uint64_t seq = lst_reply_u64(r, "seq");
        if (seq == c->ev_last + 1) {
            c->ev_last = seq;
            c->ev_pushed++;
            *record = r;
            return LST_OK;
        }
        c->ev_catchup = c->ev_catchup || seq > c->ev_last; /* a gap (or another account's) */
        lst_reply_destroy(&r);
    }
}
