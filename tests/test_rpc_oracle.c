/* test_rpc_oracle.c - a real lstd with an oracle committee: votes, events, queries on loopback */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "rpc_harness.h"
#include "test_util.h"

#define TOKEN 1000000000ull

static rh_server *srv;
static void *dl, *sub;
static rh_reply rp;
static rh_key m[3];

static const msgpack_object *send_tx(ledger_tx *t, const rh_key *k, const char *code, int line)
{
    int failures = test_failures;
    t->nonce = 0;
    if (rh_submit(srv, dl, t, k, &rp, NULL) != 0) {
        test_failures++;
        return NULL;
    }
    CHECK_ANSWER(&rp, code);
    if (test_failures != failures)
        fprintf(stderr, "  ^ from test_rpc_oracle.c:%d\n", line);
    return rh_get_map(rp.root, "result");
}

static const msgpack_object *query(const char *op, const rh_field *f, size_t n)
{
    CHECK(rh_query(dl, &rp, op, f, n) == 0);
    CHECK_OK(&rp);
    return rh_get_map(rp.root, "result");
}

static void admin(unsigned kind, const uint8_t *member, uint64_t a, uint64_t b, uint64_t c,
                  int line)
{
    ledger_tx t = rh_tx(kind);
    if (kind == LEDGER_TX_QUORUM_SET) {
        rh_tx_u64(&t, "mode", a), rh_tx_u64(&t, "quorum", b), rh_tx_u64(&t, "minority", c);
    } else {
        rh_tx_key(&t, "member", member), rh_tx_u64(&t, "quorum", a);
    }
    send_tx(&t, &srv->admin, "OK", line);
}

static const msgpack_object *vote(const rh_key *k, uint64_t epoch, uint64_t balance, uint64_t perf,
                                  int line)
{
    ledger_tx t = rh_tx(LEDGER_TX_VOTE);
    rh_tx_u64(&t, "operator_id", 1), rh_tx_u64(&t, "epoch", epoch);
    rh_tx_u64(&t, "balance", balance), rh_tx_u64(&t, "performance_bps", perf);
    return send_tx(&t, k, "OK", line);
}

/* ZeroMQ's slow joiner: the SUB holds "oracle/" and "tx/"; deposits are sent until one tx/
 * event arrives, so "oracle/" (subscribed first) has reached lstd too. */
static void join(void)
{
    static uint8_t ref[32] = {0x77};
    rh_reply ev;
    char topic[80];
    rh_reply_init(&ev);
    rh_set_timeout(sub, 200);
    for (int i = 0; i < 50; i++) {
        ledger_tx t = rh_tx(LEDGER_TX_DEPOSIT);
        ref[1]++;
        rh_tx_key(&t, "to", m[0].pk), rh_tx_u64(&t, "amount", TOKEN);
        rh_tx_key(&t, "external_ref", ref);
        send_tx(&t, &srv->custodian, "OK", __LINE__);
        if (rh_recv_event(sub, topic, sizeof topic, &ev) == 0)
            break;
    }
    while (rh_recv_event(sub, topic, sizeof topic, &ev) == 0) /* drain what joined */
        ;
    rh_reply_free(&ev);
    rh_set_timeout(sub, 10000);
}

/* The next event under "oracle/" (tx/ events are skipped). Out: topic. Returns: its map. */
static const msgpack_object *next_oracle_event(rh_reply *ev, char *topic, size_t size)
{
    for (int i = 0; i < 100; i++) {
        if (rh_recv_event(sub, topic, size, ev) != 0)
            return NULL;
        if (strncmp(topic, "oracle/", 7) == 0)
            return ev->root;
    }
    return NULL;
}

static bool bin_is(const msgpack_object *o, const uint8_t key[32])
{
    return o != NULL && o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == 32 &&
           memcmp(o->via.bin.ptr, key, 32) == 0;
}

/* Wait until the ledger's clock has left the second of the last batch, so the next report's
 * period is not empty (a report in its operator's registration second covers no time). */
static uint64_t pool_epoch_after(uint64_t t)
{
    for (int i = 0; i < 400; i++) {
        const msgpack_object *p = query("pool", NULL, 0);
        if (p != NULL && RH_U64(p, "now") > t)
            return RH_U64(p, "epoch");
        struct timespec ts = {0, 10000000}; /* 10 ms between polls */
        nanosleep(&ts, NULL);
    }
    test_failures++;
    return 0;
}

static void test_committee(void)
{
    rh_reply ev;
    char topic[80];
    rh_reply_init(&ev);
    for (int i = 0; i < 3; i++)
        rh_keygen(&m[i]);
    admin(LEDGER_TX_ORACLE_ADD, m[0].pk, 1, 0, 0, __LINE__);
    admin(LEDGER_TX_ORACLE_ADD, m[1].pk, 2, 0, 0, __LINE__);
    admin(LEDGER_TX_ORACLE_ADD, m[2].pk, 2, 0, 0, __LINE__);
    admin(LEDGER_TX_QUORUM_SET, NULL, LEDGER_REPORT_MODE_COMMITTEE, 2, 0, __LINE__);
    const msgpack_object *p = query("pool", NULL, 0);
    CHECK(rh_str_is(rh_get(p, "report_mode"), "committee"));
    join();
    ledger_tx t = rh_tx(LEDGER_TX_OPERATOR_FUND);
    rh_tx_u64(&t, "operator_id", 1), rh_tx_u64(&t, "amount", TOKEN);
    const msgpack_object *res = send_tx(&t, &srv->custodian, "OK", __LINE__);
    uint64_t funded_at = res != NULL ? RH_U64(res, "time") : 0;
    /* the operator's own key can no longer book a balance */
    t = rh_tx(LEDGER_TX_REPORT);
    rh_tx_u64(&t, "operator_id", 1), rh_tx_u64(&t, "epoch", 1), rh_tx_u64(&t, "balance", TOKEN);
    send_tx(&t, &srv->operator_key, "OPERATOR_REPORTS_DISABLED", __LINE__);

    uint64_t e = pool_epoch_after(funded_at);
    res = vote(&m[0], e, TOKEN, 9900, __LINE__);
    CHECK(res != NULL && RH_U64(RH_MAP(res, "out"), "support") == 1);
    vote(&m[1], e, TOKEN + 1, 9900, __LINE__); /* disagrees: an event */
    const msgpack_object *d = next_oracle_event(&ev, topic, sizeof topic);
    CHECK(d != NULL && strcmp(topic, "oracle/disagree/1/") == 0);
    if (d != NULL) {
        const msgpack_object *others = rh_get_array(d, "others");
        CHECK(bin_is(rh_get(d, "member"), m[1].pk) && RH_U64(d, "epoch") == e &&
              RH_U64(d, "balance") == TOKEN + 1);
        CHECK(others != NULL && others->via.array.size == 1 &&
              bin_is(rh_get(&others->via.array.ptr[0], "member"), m[0].pk) &&
              RH_U64(&others->via.array.ptr[0], "balance") == TOKEN);
    }
    /* the votes query: two tuples, m[2] has not voted */
    const rh_field one[] = {RH_UINT("operator_id", 1)};
    res = query("votes", one, 1);
    const msgpack_object *ops = res != NULL ? rh_get_array(res, "operators") : NULL;
    CHECK(ops != NULL && ops->via.array.size == 1);
    if (ops != NULL && ops->via.array.size == 1) {
        const msgpack_object *eps = rh_get_array(&ops->via.array.ptr[0], "epochs");
        CHECK(eps != NULL && eps->via.array.size == 1);
        if (eps != NULL && eps->via.array.size == 1) {
            const msgpack_object *ep = &eps->via.array.ptr[0];
            const msgpack_object *tuples = rh_get_array(ep, "tuples"),
                                 *missing = rh_get_array(ep, "not_voted");
            CHECK(tuples != NULL && tuples->via.array.size == 2);
            CHECK(missing != NULL && missing->via.array.size == 1 &&
                  bin_is(&missing->via.array.ptr[0], m[2].pk));
        }
    }
    /* the quorum: booked in the vote's own transaction, published */
    res = vote(&m[2], e, TOKEN, 9900, __LINE__);
    const msgpack_object *out = res != NULL ? RH_MAP(res, "out") : NULL;
    CHECK(out != NULL && RH_U64(out, "support") == 2 && RH_U64(out, "quorum") == 2);
    const msgpack_object *qe = next_oracle_event(&ev, topic, sizeof topic);
    CHECK(qe != NULL && strcmp(topic, "oracle/quorum/1/") == 0);
    if (qe != NULL)
        CHECK(rh_str_is(rh_get(qe, "code"), "OK") && RH_U64(qe, "support") == 2 &&
              RH_U64(qe, "epoch") == e && bin_is(rh_get(qe, "member"), m[2].pk));
    const rh_field nf[] = {RH_UINT("operator_id", 1)};
    const msgpack_object *o = query("operator", nf, 1);
    CHECK(o != NULL && RH_U64(o, "last_epoch") == e);
    /* the votes are cleared; m[1] differed from the applied result */
    res = query("votes", NULL, 0);
    CHECK(res != NULL && rh_get_array(res, "operators")->via.array.size == 0);
    const msgpack_object *differed = res != NULL ? rh_get_array(res, "differed") : NULL;
    CHECK(differed != NULL && differed->via.array.size == 1 &&
          bin_is(&differed->via.array.ptr[0], m[1].pk));
    /* the scorecard: one booked report with the committee's performance */
    const rh_field by[] = {RH_STR("order", "performance")};
    res = query("operators", by, 1);
    ops = res != NULL ? rh_get_array(res, "operators") : NULL;
    CHECK(ops != NULL && ops->via.array.size == 1);
    if (ops != NULL && ops->via.array.size == 1) {
        const msgpack_object *c = &ops->via.array.ptr[0];
        CHECK(RH_U64(c, "operator_id") == 1 && RH_U64(c, "reports") == 1 &&
              RH_U64(c, "performance_bps") == 9900 && RH_U64(c, "performance_7d_bps") == 9900);
    }
    const rh_field bad[] = {RH_STR("order", "luck")};
    CHECK(rh_query(dl, &rp, "operators", bad, 1) == 0);
    CHECK_ERROR(&rp, "OUT_OF_RANGE");
    rh_reply_free(&ev);
}

int main(void)
{
    rh_init("test_rpc_oracle", 120);
    srv = rh_start(NULL);
    if (srv == NULL) {
        test_failures++;
        return test_finish("test_rpc_oracle");
    }
    dl = rh_dealer(srv);
    sub = rh_sub(srv, "oracle/");
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "tx/", 3);
    rh_reply_init(&rp);
    test_committee();
    /* a restart keeps the committee and rebuilds nothing: the same scorecard */
    CHECK_U64(rh_stop(srv, SIGTERM, 20000), 0);
    CHECK(rh_launch(srv) == 0);
    rh_close(dl);
    dl = rh_dealer(srv);
    const msgpack_object *res = query("operators", NULL, 0);
    const msgpack_object *ops = res != NULL ? rh_get_array(res, "operators") : NULL;
    CHECK(ops != NULL && ops->via.array.size == 1 &&
          RH_U64(&ops->via.array.ptr[0], "performance_bps") == 9900);
    CHECK(rh_str_is(rh_get(query("pool", NULL, 0), "report_mode"), "committee"));
    CHECK_U64(rh_stop(srv, SIGTERM, 20000), 0);
    rh_reply_free(&rp);
    rh_close(sub);
    rh_close(dl);
    rh_free(&srv);
    return test_finish("test_rpc_oracle");
}
