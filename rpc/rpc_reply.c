/* rpc_reply.c - reply envelopes, transaction replies and history records as msgpack maps */
#include "rpc_reply.h"

#include "rpc_query.h"

#include <assert.h>
#include <string.h>

/* ---- packing helpers ------------------------------------------------------------------- */

int rpc_pack_key(msgpack_packer *pk, const char *key)
{
    return msgpack_pack_str_with_body(pk, key, strlen(key));
}

int rpc_pack_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
    return rpc_pack_key(pk, key) || msgpack_pack_uint64(pk, v);
}

int rpc_pack_u128(msgpack_packer *pk, const char *key, ledger_u128 v)
{
    char s[40];
    size_t n = strlen(ledger_u128_str(s, v));
    return rpc_pack_key(pk, key) || msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

int rpc_pack_bool(msgpack_packer *pk, const char *key, bool v)
{
    return rpc_pack_key(pk, key) || (v ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
}

int rpc_pack_str(msgpack_packer *pk, const char *key, const char *s)
{
    return rpc_pack_key(pk, key) || msgpack_pack_str_with_body(pk, s, strlen(s));
}

int rpc_pack_bin(msgpack_packer *pk, const char *key, const uint8_t *bytes, size_t len)
{
    return rpc_pack_key(pk, key) || msgpack_pack_bin_with_body(pk, bytes, len);
}

static int pack_id(msgpack_packer *pk, const rpc_id *id);

int rpc_pack_head(msgpack_packer *pk, const rpc_id *id, bool ok, uint32_t more)
{
    bool has_id = id != NULL && (id->type == 1 || id->type == 2);
    if (msgpack_pack_map(pk, (has_id ? 2u : 1u) + more) || pack_id(pk, has_id ? id : NULL))
        return -1;
    return rpc_pack_bool(pk, "ok", ok);
}

/* ---- replies ----------------------------------------------------------------------------- */

static void packer_start(msgpack_packer *pk, msgpack_sbuffer *buf)
{
    msgpack_sbuffer_clear(buf);
    msgpack_packer_init(pk, buf, msgpack_sbuffer_write);
}

int rpc_reply_error(msgpack_sbuffer *buf, const rpc_id *id, int code, const char *message)
{
    msgpack_packer pk;
    assert(buf != NULL);
    packer_start(&pk, buf);
    if (message == NULL)
        message = ledger_err_message(code);
    if (rpc_pack_head(&pk, id, false, 2) || rpc_pack_str(&pk, "error", ledger_err_name(code)) ||
        rpc_pack_str(&pk, "message", message))
        return -1;
    return 0;
}

int rpc_reply_not_leader(msgpack_sbuffer *buf, const rpc_id *id, const char *message,
                         const char *leader)
{
    msgpack_packer pk;
    packer_start(&pk, buf);
    if (rpc_pack_head(&pk, id, false, 3) ||
        rpc_pack_str(&pk, "error", ledger_err_name(LEDGER_NOT_LEADER)) ||
        rpc_pack_str(&pk, "message", message))
        return -1;
    return leader != NULL && leader[0] != '\0' ? rpc_pack_str(&pk, "leader", leader)
                                               : rpc_pack_nil(&pk, "leader");
}

/* The delivered amounts by the kind's output names; empty on a rejection. */
static int pack_out(msgpack_packer *pk, unsigned kind, const ledger_result *res)
{
    const ledger_kind_info *k = ledger_kind_lookup(kind);
    uint32_t n = 0;
    if (k != NULL && res->code == LEDGER_OK)
        while (n < 4 && k->out_names[n] != NULL)
            n++;
    if (rpc_pack_key(pk, "out") || msgpack_pack_map(pk, n))
        return -1;
    for (uint32_t i = 0; i < n; i++)
        if (rpc_pack_u64(pk, k->out_names[i], res->out[i]))
            return -1;
    return 0;
}

/* A transaction's reply; a simulated one adds simulated and nonce, and says recorded only for a
 * duplicate (the one thing a simulation finds in the history). */
static int reply_tx(msgpack_sbuffer *buf, const rpc_id *id, const ledger_tx *tx,
                    const uint8_t hash[LEDGER_HASH_SIZE], const ledger_result *res, bool simulated)
{
    msgpack_packer pk;
    assert(buf != NULL && tx != NULL && hash != NULL && res != NULL);
    bool ok = res->code == LEDGER_OK, recorded = res->seq != 0;
    packer_start(&pk, buf);
    if (rpc_pack_head(&pk, id, ok, (ok ? 0u : 2u) + (recorded ? 1u : 0u)))
        return -1;
    if (!ok && (rpc_pack_str(&pk, "error", ledger_err_name(res->code)) ||
                rpc_pack_str(&pk, "message", ledger_err_message(res->code))))
        return -1;
    if (!recorded)
        return 0;
    if (rpc_pack_key(&pk, "result") || msgpack_pack_map(&pk, simulated ? 10 : 8) ||
        rpc_pack_bin(&pk, "hash", hash, LEDGER_HASH_SIZE) ||
        rpc_pack_str(&pk, "code", ledger_err_name(res->code)) ||
        rpc_pack_bool(&pk, "recorded", !simulated || res->duplicate) ||
        rpc_pack_bool(&pk, "duplicate", res->duplicate) || rpc_pack_u64(&pk, "seq", res->seq) ||
        rpc_pack_u64(&pk, "batch", res->batch) || rpc_pack_u64(&pk, "time", res->timestamp) ||
        pack_out(&pk, tx->kind, res))
        return -1;
    if (simulated &&
        (rpc_pack_bool(&pk, "simulated", true) || rpc_pack_u64(&pk, "nonce", tx->nonce)))
        return -1;
    return 0;
}

int rpc_reply_tx(msgpack_sbuffer *buf, const rpc_id *id, const ledger_tx *tx,
                 const uint8_t hash[LEDGER_HASH_SIZE], const ledger_result *res)
{
    return reply_tx(buf, id, tx, hash, res, false);
}

int rpc_reply_simulated(msgpack_sbuffer *buf, const rpc_id *id, const ledger_tx *tx,
                        const uint8_t hash[LEDGER_HASH_SIZE], const ledger_result *res)
{
    return reply_tx(buf, id, tx, hash, res, true);
}

/* ---- records ----------------------------------------------------------------------------- */

/* The kind's fields by name: keys and refs as bin 32, everything else uint. */
static int pack_fields(msgpack_packer *pk, const ledger_tx *tx)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    ledger_tx copy = *tx; /* ledger_tx_slot takes a mutable transaction */
    uint32_t n = k != NULL ? k->field_count : 0;
    if (rpc_pack_key(pk, "fields") || msgpack_pack_map(pk, n))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const ledger_field *f = &k->fields[i];
        const void *p = ledger_tx_slot(&copy, f->slot);
        int rc = f->type == LEDGER_F_U64 ? rpc_pack_u64(pk, f->name, *(const uint64_t *)p)
                                         : rpc_pack_bin(pk, f->name, p, LEDGER_KEY_SIZE);
        if (rc)
            return -1;
    }
    return 0;
}

int rpc_pack_record(msgpack_packer *pk, const ledger_record *r)
{
    assert(pk != NULL && r != NULL);
    const ledger_kind_info *k = ledger_kind_lookup(r->tx.kind);
    const ledger_result *res = &r->result;
    if (msgpack_pack_map(pk, 14) || rpc_pack_u64(pk, "seq", r->seq) ||
        rpc_pack_u64(pk, "batch", res->batch) || rpc_pack_u64(pk, "time", res->timestamp) ||
        rpc_pack_bin(pk, "hash", r->tx_hash, LEDGER_HASH_SIZE) ||
        rpc_pack_bin(pk, "prev", r->prev, LEDGER_HASH_SIZE) ||
        rpc_pack_str(pk, "kind", k != NULL ? k->name : "unknown") ||
        rpc_pack_bin(pk, "signer", r->tx.signer, LEDGER_KEY_SIZE) ||
        rpc_pack_u64(pk, "nonce", r->tx.nonce) || pack_fields(pk, &r->tx) ||
        rpc_pack_bin(pk, "sig", r->sig, LEDGER_SIG_SIZE) ||
        rpc_pack_str(pk, "code", ledger_err_name(res->code)) ||
        rpc_pack_bool(pk, "ok", res->code == LEDGER_OK) || pack_out(pk, r->tx.kind, res) ||
        rpc_pack_key(pk, "accounts") || msgpack_pack_array(pk, (uint32_t)r->account_count))
        return -1;
    for (size_t i = 0; i < r->account_count; i++)
        if (msgpack_pack_bin_with_body(pk, r->accounts + i * LEDGER_KEY_SIZE, LEDGER_KEY_SIZE))
            return -1;
    return 0;
}

/* The id alone as a map entry (absent when id is NULL or of type 0). */
static int pack_id(msgpack_packer *pk, const rpc_id *id)
{
    if (id == NULL || id->type == 0)
        return 0;
    if (id->type == 1)
        return rpc_pack_u64(pk, "id", id->u);
    size_t len = id->len < RPC_ID_MAX ? id->len : RPC_ID_MAX;
    return rpc_pack_key(pk, "id") || msgpack_pack_str_with_body(pk, id->s, len);
}

int rpc_pack_tx_request(msgpack_packer *pk, const rpc_id *id, const ledger_tx *tx,
                        const uint8_t sig[LEDGER_SIG_SIZE], const char *ledger)
{
    return rpc_pack_tx_request_as(pk, id, tx, sig, ledger, false);
}

int rpc_pack_tx_request_as(msgpack_packer *pk, const rpc_id *id, const ledger_tx *tx,
                           const uint8_t sig[LEDGER_SIG_SIZE], const char *ledger, bool simulate)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    ledger_tx *t = (ledger_tx *)tx; /* only read through ledger_tx_slot */
    if (k == NULL)
        return -1;
    uint32_t entries =
        4u + k->field_count + (id != NULL && id->type != 0) + (ledger != NULL) + simulate;
    int rc = msgpack_pack_map(pk, entries) || pack_id(pk, id) || rpc_pack_str(pk, "op", k->name) ||
             rpc_pack_bin(pk, "signer", tx->signer, 32) || rpc_pack_u64(pk, "nonce", tx->nonce);
    for (unsigned i = 0; rc == 0 && i < k->field_count; i++) {
        const void *p = ledger_tx_slot(t, k->fields[i].slot);
        rc = k->fields[i].type == LEDGER_F_U64
                 ? rpc_pack_u64(pk, k->fields[i].name, *(const uint64_t *)p)
                 : rpc_pack_bin(pk, k->fields[i].name, p, 32);
    }
    rc = rc || rpc_pack_bin(pk, "sig", sig, LEDGER_SIG_SIZE);
    rc = rc || (ledger != NULL && rpc_pack_str(pk, "ledger", ledger));
    return rc || (simulate && rpc_pack_bool(pk, "simulate", true));
}
