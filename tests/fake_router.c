/* fake_router.c - fake lstd replicas for client tests: a ROUTER in a thread answering msgpack */
#include "fake_router.h"

#include <msgpack.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ledger.h"
#include "rpc_harness.h"
#include "rpc_reply.h"
#include "rpc_request.h"

typedef struct fake_tx {
    uint64_t nonce;
    char *bytes;
    size_t size;
} fake_tx;

struct fake_router {
    fake_config cfg;
    fake_book own_book;
    void *router, *monitor;
    char endpoint[64];
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu; /* guards log, tx_count and accepted */
    fake_tx log[FAKE_LOG_MAX];
    size_t tx_count;
    unsigned accepted, answered;
};

void fake_book_init(fake_book *b)
{
    pthread_mutex_init(&b->mu, NULL);
    b->next_nonce = 1;
    b->seq = 0;
}

/* The pool query's reply, every figure the C and JS clients read. */
static void pack_pool(msgpack_sbuffer *buf, const rpc_request *req, const fake_router *f)
{
    static const char *const figures[] = {"decimals", "assets",   "shares",    "buffer",
                                          "unvested", "vest_end", "held_loss", "epoch",
                                          "seq",      "batch",    "time",      "now"};
    size_t n = sizeof figures / sizeof figures[0];
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    rpc_pack_head(&pk, &req->id, true, 1);
    rpc_pack_key(&pk, "result");
    msgpack_pack_map(&pk, (uint32_t)n + 4);
    for (size_t i = 0; i < n; i++)
        rpc_pack_u64(&pk, figures[i], i == 0 ? 9 : 0);
    rpc_pack_str(&pk, "payable", "0");
    rpc_pack_bool(&pk, "bunker", false);
    rpc_pack_str(&pk, "ledger_id", f->cfg.ledger_id);
    rpc_pack_key(&pk, "rate");
    msgpack_pack_nil(&pk);
}

/* The account query's reply: nothing held, the book's next nonce. */
static void pack_account(msgpack_sbuffer *buf, const rpc_request *req, fake_book *b)
{
    static const char *const figures[] = {"shares", "locked",     "queued", "total",
                                          "value",  "free_value", "nonce",  "next_nonce"};
    msgpack_packer pk;
    pthread_mutex_lock(&b->mu);
    uint64_t next = b->next_nonce;
    pthread_mutex_unlock(&b->mu);
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    rpc_pack_head(&pk, &req->id, true, 1);
    rpc_pack_key(&pk, "result");
    msgpack_pack_map(&pk, 8);
    for (size_t i = 0; i < 8; i++)
        rpc_pack_u64(&pk, figures[i], i == 6 ? next - 1 : i == 7 ? next : 0);
}

/* NOT_LEADER as the server sends it (PROTOCOL.md): error, code, message and leader. */
static void pack_not_leader(msgpack_sbuffer *buf, const rpc_request *req, const char *leader)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    rpc_pack_head(&pk, &req->id, false, 4);
    rpc_pack_str(&pk, "error", "NOT_LEADER");
    rpc_pack_u64(&pk, "code", LEDGER_NOT_LEADER);
    rpc_pack_str(&pk, "message", "this replica is a follower");
    if (leader != NULL)
        rpc_pack_str(&pk, "leader", leader);
    else {
        rpc_pack_key(&pk, "leader");
        msgpack_pack_nil(&pk);
    }
}

/* A leader's answer: the nonce rules against the book (one signer; its seq is its nonce). */
static void pack_applied(msgpack_sbuffer *buf, const rpc_request *req, fake_router *f)
{
    fake_book *b = f->cfg.book;
    uint8_t hash[32];
    ledger_result res = {.code = LEDGER_OK, .batch = 1, .timestamp = 1};
    pthread_mutex_lock(&b->mu);
    if (req->tx.nonce > b->next_nonce) {
        pthread_mutex_unlock(&b->mu);
        rpc_reply_error(buf, &req->id, LEDGER_NONCE_GAP, NULL);
        return;
    }
    res.duplicate = req->tx.nonce < b->next_nonce;
    if (!res.duplicate) {
        b->next_nonce++;
        b->seq = req->tx.nonce;
    }
    res.seq = req->tx.nonce;
    res.out[0] = req->tx.nonce;
    pthread_mutex_unlock(&b->mu);
    if (ledger_tx_hash(hash, f->cfg.ledger_id, &req->tx) != LEDGER_OK)
        memset(hash, 0, sizeof hash);
    rpc_reply_tx(buf, &req->id, &req->tx, hash, &res);
}

/* Remember a transaction. */
static void log_tx(fake_router *f, const rpc_request *req, const void *data, size_t size)
{
    pthread_mutex_lock(&f->mu);
    if (f->tx_count < FAKE_LOG_MAX) {
        fake_tx *t = &f->log[f->tx_count];
        t->nonce = req->tx.nonce;
        t->bytes = malloc(size);
        if (t->bytes == NULL)
            abort();
        memcpy(t->bytes, data, size);
        t->size = size;
    }
    f->tx_count++;
    pthread_mutex_unlock(&f->mu);
}

/* The answer to one transaction by the fake's role; false: none. */
static bool answer_tx(fake_router *f, const rpc_request *req, msgpack_sbuffer *buf)
{
    unsigned n = f->answered++;
    if (f->cfg.role == FAKE_SILENT)
        return false;
    if (f->cfg.role == FAKE_FOLLOWER && n >= f->cfg.lead_first)
        pack_not_leader(buf, req, f->cfg.leader);
    else if (f->cfg.role == FAKE_LEADER && n < f->cfg.busy_first)
        rpc_reply_error(buf, &req->id, LEDGER_BUSY, NULL);
    else if (f->cfg.role == FAKE_LEADER && n < f->cfg.busy_first + f->cfg.no_quorum_first)
        rpc_reply_error(buf, &req->id, LEDGER_NO_QUORUM, NULL);
    else
        pack_applied(buf, req, f);
    return true;
}

/* Read one request (routing id, body) and answer it. */
static void serve_one(fake_router *f)
{
    zmq_msg_t peer, body;
    rpc_request req;
    char msg[160];
    msgpack_sbuffer buf;
    bool answer = false;
    zmq_msg_init(&peer);
    zmq_msg_init(&body);
    msgpack_sbuffer_init(&buf);
    if (zmq_msg_recv(&peer, f->router, ZMQ_DONTWAIT) < 0 || !zmq_msg_more(&peer) ||
        zmq_msg_recv(&body, f->router, 0) < 0)
        goto done;
    const void *data = zmq_msg_data(&body);
    size_t size = zmq_msg_size(&body);
    if (rpc_request_decode(&req, data, size, msg, sizeof msg) != LEDGER_OK)
        goto done;
    if (req.is_tx) {
        log_tx(f, &req, data, size);
        answer = answer_tx(f, &req, &buf);
    } else if (strcmp(rpc_query_name(req.query), "pool") == 0) {
        pack_pool(&buf, &req, f);
        answer = true;
    } else if (strcmp(rpc_query_name(req.query), "account") == 0) {
        pack_account(&buf, &req, f->cfg.book);
        answer = true;
    } else {
        answer = rpc_reply_error(&buf, &req.id, LEDGER_NOT_FOUND, NULL) == 0;
    }
    if (answer) {
        zmq_send(f->router, zmq_msg_data(&peer), zmq_msg_size(&peer), ZMQ_SNDMORE);
        zmq_send(f->router, buf.data, buf.size, 0);
    }
done:
    msgpack_sbuffer_destroy(&buf);
    zmq_msg_close(&peer);
    zmq_msg_close(&body);
}

/* Count ZMQ_EVENT_ACCEPTED (each event: a 6-byte frame and an address frame). */
static void monitor_read(fake_router *f)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, f->monitor, ZMQ_DONTWAIT) >= 0) {
        uint16_t event = 0;
        if (zmq_msg_size(&m) == 6)
            memcpy(&event, zmq_msg_data(&m), sizeof event);
        if (event == ZMQ_EVENT_ACCEPTED) {
            pthread_mutex_lock(&f->mu);
            f->accepted++;
            pthread_mutex_unlock(&f->mu);
        }
        while (zmq_msg_more(&m) && zmq_msg_recv(&m, f->monitor, 0) >= 0) {
        }
    }
    zmq_msg_close(&m);
}

static void *fake_main(void *arg)
{
    fake_router *f = arg;
    while (!atomic_load(&f->stop)) {
        zmq_pollitem_t items[2] = {{f->router, 0, ZMQ_POLLIN, 0}, {f->monitor, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, 20) <= 0)
            continue;
        if (items[1].revents & ZMQ_POLLIN)
            monitor_read(f);
        if (items[0].revents & ZMQ_POLLIN)
            serve_one(f);
    }
    return NULL;
}

fake_router *fake_start(const fake_config *cfg)
{
    static atomic_uint made;
    char url[64];
    int zero = 0;
    size_t len;
    fake_router *f = calloc(1, sizeof *f);
    if (f == NULL)
        abort();
    f->cfg = *cfg;
    if (f->cfg.ledger_id == NULL)
        f->cfg.ledger_id = "fake-ledger";
    if (f->cfg.book == NULL) {
        fake_book_init(&f->own_book);
        f->cfg.book = &f->own_book;
    }
    pthread_mutex_init(&f->mu, NULL);
    f->router = zmq_socket(rh_ctx(), ZMQ_ROUTER);
    f->monitor = zmq_socket(rh_ctx(), ZMQ_PAIR);
    snprintf(url, sizeof url, "inproc://fake-monitor-%u", atomic_fetch_add(&made, 1));
    len = sizeof f->endpoint;
    if (f->router == NULL || f->monitor == NULL ||
        zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(f->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_socket_monitor(f->router, url, ZMQ_EVENT_ACCEPTED) != 0 ||
        zmq_connect(f->monitor, url) != 0 || zmq_bind(f->router, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &len) != 0 ||
        pthread_create(&f->thread, NULL, fake_main, f) != 0) {
        fprintf(stderr, "fake_start: %s\n", zmq_strerror(zmq_errno()));
        abort();
    }
    return f;
}

const char *fake_endpoint(const fake_router *f)
{
    return f->endpoint;
}

size_t fake_tx_count(fake_router *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->tx_count;
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool fake_tx_at(fake_router *f, size_t i, uint64_t *nonce, char **bytes, size_t *size)
{
    bool ok = false;
    pthread_mutex_lock(&f->mu);
    if (i < f->tx_count && i < FAKE_LOG_MAX) {
        ok = true;
        *nonce = f->log[i].nonce;
        if (bytes != NULL) {
            *bytes = malloc(f->log[i].size);
            if (*bytes == NULL)
                abort();
            memcpy(*bytes, f->log[i].bytes, f->log[i].size);
            *size = f->log[i].size;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

unsigned fake_accepted(fake_router *f)
{
    pthread_mutex_lock(&f->mu);
    unsigned n = f->accepted;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fake_stop(fake_router **fp)
{
    fake_router *f = *fp;
    if (f == NULL)
        return;
    *fp = NULL;
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    zmq_socket_monitor(f->router, NULL, 0);
    zmq_close(f->monitor);
    zmq_close(f->router);
    for (size_t i = 0; i < f->tx_count && i < FAKE_LOG_MAX; i++)
        free(f->log[i].bytes);
    free(f);
}
