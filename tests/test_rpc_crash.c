/* test_rpc_crash.c - kill -9 under signed load of several kinds: nothing acknowledged is lost */
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "rpc_harness.h"
#include "test_util.h"

#define CONNS 4         /* the custodian's deposits, and three users' mixed transactions */
#define WINDOW 64       /* requests in flight per connection */
#define PER_ROUND 400   /* transactions signed per connection per round */
#define ACKED_MAX 40000 /* acknowledgements kept over every round */

/* A connection streaming the transactions of one signer, nonces consecutive. */
typedef struct conn {
    void *sock;
    const rh_key *key;
    uint64_t first_nonce, base_id;
    size_t count, sent, replied;
    ledger_tx tx[PER_ROUND];
    uint8_t hash[PER_ROUND][32];
    msgpack_sbuffer buf[PER_ROUND];
} conn;

static rh_server *srv;
static rh_key users[CONNS];    /* users[0] unused: connection 0 signs as the custodian */
static rh_ack acks[ACKED_MAX]; /* what the history must hold after any later crash */
static size_t nacks;
static uint64_t refs; /* deposit references, unique over the run */

/* The i-th transaction of connection c: the custodian deposits; a user cycles through a
 * transfer, an approve, a lock and a withdrawal request, each toward the next user. */
static ledger_tx make_tx(int c, uint64_t i)
{
    const uint8_t *other = users[1 + (c % (CONNS - 1))].pk;
    ledger_tx t;
    if (c == 0) {
        uint8_t ref[32] = {0};
        uint64_t r = ++refs;
        memcpy(ref, &r, sizeof r);
        ref[31] = 0xc7;
        t = rh_tx(LEDGER_TX_DEPOSIT);
        rh_tx_key(&t, "to", users[1 + i % (CONNS - 1)].pk);
        rh_tx_u64(&t, "amount", 1000000 + i);
        rh_tx_key(&t, "external_ref", ref);
        return t;
    }
    switch (i % 4) {
    case 0:
        t = rh_tx(LEDGER_TX_TRANSFER);
        rh_tx_key(&t, "to", other);
        rh_tx_u64(&t, "shares", 1 + i % 7);
        break;
    case 1:
        t = rh_tx(LEDGER_TX_APPROVE);
        rh_tx_key(&t, "spender", other);
        rh_tx_u64(&t, "shares", i);
        break;
    case 2:
        t = rh_tx(LEDGER_TX_LOCK);
        rh_tx_key(&t, "beneficiary", other);
        rh_tx_u64(&t, "shares", 3);
        break;
    default:
        t = rh_tx(LEDGER_TX_WITHDRAW_REQUEST);
        rh_tx_u64(&t, "shares", 2);
        break;
    }
    return t;
}

/* Sign the connection's next PER_ROUND transactions from first_nonce on. */
static void conn_build(conn *cn, int c, uint64_t first_nonce, uint64_t round)
{
    cn->first_nonce = first_nonce;
    cn->base_id = (round << 40) | ((uint64_t)c << 32);
    cn->count = PER_ROUND;
    cn->sent = cn->replied = 0;
    for (size_t i = 0; i < PER_ROUND; i++) {
        uint8_t sig[64];
        cn->tx[i] = make_tx(c, first_nonce + i);
        cn->tx[i].nonce = first_nonce + i;
        rh_sign(srv, &cn->tx[i], cn->key, cn->hash[i], sig);
        msgpack_sbuffer_clear(&cn->buf[i]);
        rh_pack_tx(&cn->buf[i], &cn->tx[i], sig, cn->base_id + 1 + i, NULL, NULL);
    }
}

/* A reply: an acknowledged transaction (recorded, OK or a rule violation) is kept. */
static void on_reply(conn *cn, const rh_reply *r)
{
    uint64_t id = 0;
    cn->replied++;
    if (!rh_get_uint(r->root, "id", &id) || id <= cn->base_id || id > cn->base_id + cn->count)
        return; /* a reply of the round before the crash, on its way: not counted */
    if (nacks < ACKED_MAX && rh_ack_take(&acks[nacks], cn->hash[id - cn->base_id - 1], r))
        nacks++;
}

/* Send and receive on every connection until `stop_at` acknowledgements in all. */
static void pump(conn *cns, size_t stop_at)
{
    uint64_t deadline = rh_now_ms() + 30000;
    rh_reply r;
    rh_reply_init(&r);
    while (nacks < stop_at && rh_now_ms() < deadline) {
        zmq_pollitem_t p[CONNS];
        bool all_done = true;
        for (int c = 0; c < CONNS; c++) {
            conn *cn = &cns[c];
            while (cn->sent < cn->count && cn->sent - cn->replied < WINDOW &&
                   rh_send(cn->sock, cn->buf[cn->sent].data, cn->buf[cn->sent].size) == 0)
                cn->sent++;
            all_done = all_done && cn->replied >= cn->count;
            p[c] = (zmq_pollitem_t){cn->sock, 0, ZMQ_POLLIN, 0};
        }
        if (all_done)
            break;
        if (zmq_poll(p, CONNS, 100) <= 0)
            continue;
        for (int c = 0; c < CONNS; c++)
            while ((p[c].revents & ZMQ_POLLIN) && nacks < ACKED_MAX) {
                zmq_setsockopt(cns[c].sock, ZMQ_RCVTIMEO, &(int){0}, sizeof(int));
                if (rh_recv(cns[c].sock, &r) != 0)
                    break;
                on_reply(&cns[c], &r);
            }
    }
    rh_reply_free(&r);
}

/* After a restart: every acknowledged transaction is in the history, at its seq, with its
 * code; the history has no gap. */
static void check_acks(void *dl, int round)
{
    char label[32];
    snprintf(label, sizeof label, "round %d", round);
    CHECK_U64(rh_acks_missing(dl, acks, nacks, label), 0);
}

static void open_conns(conn *cns, int round)
{
    void *dl = rh_dealer(srv);
    for (int c = 0; c < CONNS; c++) {
        cns[c].key = c == 0 ? &srv->custodian : &users[c];
        conn_build(&cns[c], c, rh_next_nonce(dl, cns[c].key->pk), (uint64_t)round + 1);
        cns[c].sock = rh_dealer(srv);
    }
    rh_close(dl);
}

static void close_conns(conn *cns)
{
    for (int c = 0; c < CONNS; c++) {
        rh_close(cns[c].sock);
        cns[c].sock = NULL;
    }
}

/* lstd-verify replays the ledger from genesis and agrees. */
static void verify_offline(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s %s > /dev/null 2>&1", LSTD_VERIFY, srv->data_dir);
    CHECK_U64(system(cmd), 0);
}

int main(void)
{
    static conn cns[CONNS];
    const char *args[] = {"--durability", "sync", "--checkpoint-s", "1", NULL};
    test_rng rng;
    test_rng_seed(&rng, test_seed());
    uint64_t rounds = test_env_u64("LSTD_CRASH_ROUNDS", 3);
    rh_init("test_rpc_crash", (unsigned)(60 + rounds * 20));
    srv = rh_start(args);
    if (srv == NULL) {
        test_failures++;
        return test_finish("test_rpc_crash");
    }
    void *dl = rh_dealer(srv);
    for (int c = 1; c < CONNS; c++) { /* fund the users */
        rh_keygen(&users[c]);
        ledger_tx t = make_tx(0, (uint64_t)c - 1);
        rh_tx_key(&t, "to", users[c].pk);
        rh_tx_u64(&t, "amount", 1000000000000ull);
        rh_reply r;
        rh_reply_init(&r);
        CHECK(rh_submit(srv, dl, &t, &srv->custodian, &r, NULL) == 0);
        CHECK_OK(&r);
        rh_reply_free(&r);
    }
    rh_close(dl);
    for (int c = 0; c < CONNS; c++)
        for (size_t i = 0; i < PER_ROUND; i++)
            msgpack_sbuffer_init(&cns[c].buf[i]);
    for (uint64_t round = 0; round < rounds && test_failures == 0; round++) {
        open_conns(cns, (int)round);
        size_t before = nacks, at = before + 20 + test_rng_below(&rng, CONNS * PER_ROUND / 2);
        pump(cns, at); /* then kill at once: batches are being applied and written */
        rh_signal(srv, SIGKILL);
        CHECK_U64(rh_wait(srv, 10000), 128 + SIGKILL);
        close_conns(cns);
        if (rh_launch(srv) != 0) {
            test_failures++;
            break;
        }
        dl = rh_dealer(srv);
        check_acks(dl, (int)round);
        printf("round %llu: killed after %zu acknowledgements (%zu in all), all present\n",
               (unsigned long long)round, nacks - before, nacks);
        rh_close(dl);
    }
    CHECK_U64(rh_stop(srv, SIGTERM, 20000), 0);
    verify_offline();
    for (int c = 0; c < CONNS; c++)
        for (size_t i = 0; i < PER_ROUND; i++)
            msgpack_sbuffer_destroy(&cns[c].buf[i]);
    rh_free(&srv);
    return test_finish("test_rpc_crash");
}
