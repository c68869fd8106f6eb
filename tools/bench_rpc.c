/* bench_rpc.c - lstd-bench-rpc: signed transfers/s and latency through a running lstd */
#include <inttypes.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "crypto.h"
#include "ledger.h"
#include "rpc_genesis.h"
#include "rpc_reply.h"

static const char usage_text[] =
    "usage: lstd-bench-rpc [--endpoint URL] [--keys DIR] [--connections N] [--signers N]\n"
    "                      [--count N] [--window N]\n"
    "\n"
    "Against a running development lstd: the custodian (DIR/custodian.key, default\n"
    "./lstd-data/keys) deposits to `signers` fresh accounts per connection; then each of\n"
    "`connections` DEALER sockets pipelines pre-signed transfers (at most `window` in flight)\n"
    "among its own signers. Prints transfers/s and reply latency percentiles (send to durable\n"
    "reply). Defaults: tcp://127.0.0.1:7440, 4 connections, 16 signers, 40000 transfers,\n"
    "window 256.\n";

typedef struct conn {
    void *sock;
    uint8_t (*sk)[32], (*pk)[32];
    unsigned signers;
    msgpack_sbuffer *reqs; /* pre-signed requests */
    uint64_t count, window, failed;
    uint64_t *sent_ns, *lat_ns;
} conn;

static const char *endpoint = "tcp://127.0.0.1:7440";
static const char *keys_dir = "./lstd-data/keys";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reply fields the bench needs: id and ok. Returns: 0 or -1. */
static int reply_parse(const void *data, size_t len, uint64_t *id, bool *ok)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = -1;
    if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        msgpack_object_map *m = &u.data.via.map;
        for (uint32_t i = 0; i < m->size; i++) {
            msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
            if (k->type != MSGPACK_OBJECT_STR)
                continue;
            if (k->via.str.size == 2 && memcmp(k->via.str.ptr, "id", 2) == 0 &&
                v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                *id = v->via.u64;
                rc = 0;
            } else if (k->via.str.size == 2 && memcmp(k->via.str.ptr, "ok", 2) == 0 &&
                       v->type == MSGPACK_OBJECT_BOOLEAN) {
                *ok = v->via.boolean;
            }
        }
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

static void sign_into(msgpack_sbuffer *buf, uint64_t id, ledger_tx *tx, const uint8_t sk[32],
                      const char *ledger_id)
{
    uint8_t hash[32], sig[64];
    msgpack_packer pk;
    if (ledger_tx_hash(hash, ledger_id, tx) != LEDGER_OK || crypto_sign(sig, hash, sk) != 0) {
        fprintf(stderr, "lstd-bench-rpc: signing failed\n");
        exit(1);
    }
    msgpack_sbuffer_init(buf);
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    rpc_pack_tx_request(&pk, &(rpc_id){.type = 1, .u = id}, tx, sig, NULL);
}

/* Send one request and wait for its reply (setup only). Returns: ok. */
static bool roundtrip(void *sock, const msgpack_sbuffer *req, char *reply, size_t cap, int *len)
{
    uint64_t id;
    bool ok = false;
    if (zmq_send(sock, req->data, req->size, 0) < 0 || (*len = zmq_recv(sock, reply, cap, 0)) < 0)
        return false;
    return reply_parse(reply, (size_t)*len, &id, &ok) == 0 && ok;
}

static const msgpack_object *find_key(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* Run a query with one optional bin32 argument; copy result[field] out (str or uint). */
static int query_field(void *sock, const char *op, const char *arg, const uint8_t *arg_val,
                       const char *field, char *str_out, uint64_t *u_out)
{
    char reply[65536];
    int len, rc = -1;
    msgpack_sbuffer q;
    msgpack_packer pk;
    msgpack_unpacked u;
    msgpack_sbuffer_init(&q);
    msgpack_packer_init(&pk, &q, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, arg ? 3 : 2);
    rpc_pack_u64(&pk, "id", 1);
    rpc_pack_str(&pk, "op", op);
    if (arg)
        rpc_pack_bin(&pk, arg, arg_val, 32);
    bool ok = roundtrip(sock, &q, reply, sizeof reply, &len);
    msgpack_sbuffer_destroy(&q);
    msgpack_unpacked_init(&u);
    if (ok && msgpack_unpack_next(&u, reply, (size_t)len, NULL) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *v = find_key(find_key(&u.data, "result"), field);
        if (v && v->type == MSGPACK_OBJECT_STR && str_out && v->via.str.size <= LEDGER_ID_MAX) {
            memcpy(str_out, v->via.str.ptr, v->via.str.size);
            str_out[v->via.str.size] = '\0';
            rc = 0;
        } else if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && u_out) {
            *u_out = v->via.u64;
            rc = 0;
        }
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* The ledger id and the custodian's next nonce, from the pool and account queries. */
static int setup_info(void *sock, const uint8_t custodian[32], char ledger_id[33], uint64_t *nonce)
{
    if (query_field(sock, "pool", NULL, NULL, "ledger_id", ledger_id, NULL) != 0)
        return -1;
    return query_field(sock, "account", "account", custodian, "next_nonce", NULL, nonce);
}

static void *conn_run(void *arg)
{
    conn *c = arg;
    uint64_t sent = 0, done = 0;
    char reply[4096];
    while (done < c->count) {
        while (sent < c->count && sent - done < c->window) {
            c->sent_ns[sent] = now_ns();
            if (zmq_send(c->sock, c->reqs[sent].data, c->reqs[sent].size, 0) < 0)
                return NULL;
            sent++;
        }
        int len = zmq_recv(c->sock, reply, sizeof reply, 0);
        uint64_t id = 0;
        bool ok = false;
        if (len < 0 || reply_parse(reply, (size_t)len, &id, &ok) != 0 || id >= c->count)
            return NULL;
        c->lat_ns[id] = now_ns() - c->sent_ns[id];
        c->failed += !ok;
        done++;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint64_t connections = 4, signers = 16, count = 40000, window = 256;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--endpoint") == 0 && v)
            endpoint = argv[++i];
        else if (strcmp(a, "--keys") == 0 && v)
            keys_dir = argv[++i];
        else if (strcmp(a, "--connections") == 0 && v)
            connections = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--signers") == 0 && v)
            signers = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--count") == 0 && v)
            count = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--window") == 0 && v)
            window = strtoull(argv[++i], NULL, 10);
        else {
            fputs(usage_text, strcmp(a, "--help") == 0 ? stdout : stderr);
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
    }
    if (connections == 0 || connections > 64 || signers == 0 || signers > 4096 || count == 0 ||
        window == 0) {
        fputs(usage_text, stderr);
        return 2;
    }
    char path[1024], ledger_id[33];
    uint8_t csk[32], cpk[32];
    uint64_t cnonce;
    snprintf(path, sizeof path, "%s/custodian.key", keys_dir);
    void *zctx = zmq_ctx_new(), *setup = zmq_socket(zctx, ZMQ_DEALER);
    int timeout_ms = 30000;
    zmq_setsockopt(setup, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    if (rpc_key_read(path, csk) != 0 || crypto_pubkey(cpk, csk) != 0 ||
        zmq_connect(setup, endpoint) != 0 || setup_info(setup, cpk, ledger_id, &cnonce) != 0) {
        fprintf(stderr, "lstd-bench-rpc: cannot read %s or query %s\n", path, endpoint);
        return 1;
    }
    conn *cs = calloc(connections, sizeof *cs);
    uint64_t per = count / connections;
    /* keys, funding deposits, and pre-signed transfers */
    for (uint64_t c = 0; c < connections; c++) {
        conn *k = &cs[c];
        k->signers = (unsigned)signers;
        k->sk = calloc(signers, 32);
        k->pk = calloc(signers, 32);
        k->count = per;
        k->window = window;
        k->reqs = calloc(per, sizeof *k->reqs);
        k->sent_ns = calloc(per, sizeof *k->sent_ns);
        k->lat_ns = calloc(per, sizeof *k->lat_ns);
        uint64_t *nonce = calloc(signers, sizeof *nonce);
        for (uint64_t s = 0; s < signers; s++) {
            char reply[4096];
            int len;
            msgpack_sbuffer req;
            ledger_tx tx = {.kind = LEDGER_TX_DEPOSIT, .nonce = cnonce++, .amount = 1000000000000};
            if (crypto_keygen(k->sk[s], k->pk[s]) != 0)
                return 1;
            memcpy(tx.signer, cpk, 32);
            memcpy(tx.account, k->pk[s], 32);
            crypto_tagged_hash(tx.ref, "bench", 5, k->pk[s], 32);
            sign_into(&req, 0, &tx, csk, ledger_id);
            if (!roundtrip(setup, &req, reply, sizeof reply, &len)) {
                fprintf(stderr, "lstd-bench-rpc: funding deposit failed\n");
                return 1;
            }
            msgpack_sbuffer_destroy(&req);
        }
        for (uint64_t i = 0; i < per; i++) {
            uint64_t s = i % signers;
            ledger_tx tx = {.kind = LEDGER_TX_TRANSFER, .nonce = ++nonce[s], .amount = 1 + i % 7};
            memcpy(tx.signer, k->pk[s], 32);
            memcpy(tx.account, k->pk[(s + 1) % signers], 32);
            sign_into(&k->reqs[i], i, &tx, k->sk[s], ledger_id);
        }
        free(nonce);
        k->sock = zmq_socket(zctx, ZMQ_DEALER);
        zmq_setsockopt(k->sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
        zmq_connect(k->sock, endpoint);
    }
    pthread_t *th = calloc(connections, sizeof *th);
    uint64_t t0 = now_ns();
    for (uint64_t c = 0; c < connections; c++)
        pthread_create(&th[c], NULL, conn_run, &cs[c]);
    for (uint64_t c = 0; c < connections; c++)
        pthread_join(th[c], NULL);
    double secs = (double)(now_ns() - t0) / 1e9;
    uint64_t total = per * connections, failed = 0, *all = calloc(total, sizeof *all), n = 0;
    for (uint64_t c = 0; c < connections; c++) {
        failed += cs[c].failed;
        for (uint64_t i = 0; i < per; i++)
            if (cs[c].lat_ns[i] != 0)
                all[n++] = cs[c].lat_ns[i];
    }
    qsort(all, n, sizeof *all, cmp_u64);
    printf("%" PRIu64 " transfers over %" PRIu64 " connections (window %" PRIu64 "): %.0f/s; "
           "latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; %" PRIu64 " not ok, %" PRIu64
           " unanswered\n",
           total, connections, window, (double)n / secs, n ? (double)all[n / 2] / 1e6 : 0.0,
           n ? (double)all[n * 99 / 100] / 1e6 : 0.0, n ? (double)all[n - 1] / 1e6 : 0.0, failed,
           total - n);
    return failed == 0 && n == total ? 0 : 1;
}
