/* test_rpc_sched.c - the fairness rule: shares at admission, connections in turn at service */
#include <string.h>

#include "rpc_sched.h"
#include "test_util.h"

static bool last_at_share;

/* A request of connection flow numbered n (its id); last_at_share: the flow at its share. */
static int push(rpc_sched *s, uint32_t flow, uint64_t n)
{
    rpc_envelope env = {.conn = flow, .delimiter = false};
    rpc_request req;
    bool at_share;
    memset(&req, 0, sizeof req);
    req.id.type = 1;
    req.id.u = n;
    int rc = rpc_sched_push(s, flow, &env, &req, &at_share);
    CHECK(at_share == !rpc_sched_within_share(s, flow));
    last_at_share = at_share;
    return rc;
}

/* Admission: alone a connection may take min(flow_max, capacity); with n connections in
 * flight, capacity / n; the queue full is FULL. */
static void test_admission(void)
{
    rpc_sched *s;
    CHECK(rpc_sched_new(&s, 8, 4, 6) == 0);
    for (uint64_t i = 0; i < 6; i++) {
        CHECK(rpc_sched_within_share(s, 0));
        CHECK_U64(push(s, 0, i), RPC_SCHED_OK);
        CHECK(last_at_share == (i == 5)); /* flow_max */
    }
    CHECK(!rpc_sched_within_share(s, 0));
    CHECK(rpc_sched_within_share(s, 1));
    CHECK_U64(push(s, 1, 100), RPC_SCHED_OK); /* share 8/2 = 4: flow 0 is over it now */
    CHECK(!last_at_share && !rpc_sched_within_share(s, 0));
    CHECK_U64(push(s, 1, 101), RPC_SCHED_OK);
    CHECK_U64(push(s, 2, 200), RPC_SCHED_FULL); /* 8 in flight */
    CHECK(!last_at_share);                      /* its share is 8/3 = 2; it holds none */
    CHECK_U64(rpc_sched_depth(s), 8);
    CHECK_U64(rpc_sched_flow_depth(s, 0), 6);
    CHECK_U64(rpc_sched_flow_depth(s, 1), 2);
    /* verify and sequence everything; the depth counts until release */
    rpc_item *it, *batch[16];
    for (int i = 0; i < 8; i++) {
        it = rpc_sched_take_verify(s);
        CHECK(it != NULL);
        rpc_sched_verified(s, it);
    }
    CHECK(rpc_sched_wait_batch(s));
    size_t n = rpc_sched_take_batch(s, batch, 16);
    CHECK_U64(n, 8);
    CHECK_U64(rpc_sched_depth(s), 8);
    CHECK_U64(push(s, 2, 200), RPC_SCHED_FULL);
    rpc_sched_release(s, batch, n);
    CHECK_U64(rpc_sched_depth(s), 0);
    CHECK_U64(push(s, 2, 200), RPC_SCHED_OK); /* alone again: up to 6 */
    rpc_sched_free(&s);
    CHECK(s == NULL);
}

/* Service: verification and batches take the connections in turn, one request each, and keep
 * each connection's order. */
static void test_turns(void)
{
    rpc_sched *s;
    rpc_item *it, *batch[16];
    CHECK(rpc_sched_new(&s, 64, 4, 64) == 0);
    for (uint64_t i = 1; i <= 5; i++)
        push(s, 0, i); /* a flooder */
    push(s, 1, 101);
    push(s, 1, 102);
    static const uint64_t verify_order[] = {1, 101, 2, 102, 3, 4, 5};
    rpc_item *got[7];
    for (int i = 0; i < 7; i++) {
        got[i] = rpc_sched_take_verify(s);
        CHECK(got[i] != NULL && got[i]->req.id.u == verify_order[i]);
    }
    /* only the first of flow 0 and both of flow 1 verified: flow 0 stops at its unverified 2 */
    rpc_sched_verified(s, got[0]);
    rpc_sched_verified(s, got[1]);
    rpc_sched_verified(s, got[3]);
    rpc_sched_verified(s, got[4]); /* 3: verified, behind 2 */
    CHECK(rpc_sched_wait_batch(s));
    size_t n = rpc_sched_take_batch(s, batch, 16);
    CHECK_U64(n, 3);
    CHECK(batch[0]->req.id.u == 1 && batch[1]->req.id.u == 101 && batch[2]->req.id.u == 102);
    rpc_sched_release(s, batch, n);
    for (int i = 0; i < 7; i++)
        if (i != 0 && i != 1 && i != 3 && i != 4)
            rpc_sched_verified(s, got[i]);
    /* a batch of at most 2: the rest waits its turn */
    n = rpc_sched_take_batch(s, batch, 2);
    CHECK(n == 2 && batch[0]->req.id.u == 2 && batch[1]->req.id.u == 3);
    rpc_sched_release(s, batch, n);
    n = rpc_sched_take_batch(s, batch, 16);
    CHECK(n == 2 && batch[0]->req.id.u == 4 && batch[1]->req.id.u == 5);
    rpc_sched_release(s, batch, n);
    /* a flood behind and a newcomer: the newcomer's first request is in the first round */
    for (uint64_t i = 10; i < 40; i++)
        push(s, 2, i);
    push(s, 3, 300);
    for (int i = 0; i < 31; i++) {
        it = rpc_sched_take_verify(s);
        if (i < 2)
            CHECK(it->req.id.u == (i == 0 ? 10 : 300));
        rpc_sched_verified(s, it);
    }
    n = rpc_sched_take_batch(s, batch, 4);
    CHECK(n == 4 && batch[1]->req.id.u == 300);
    rpc_sched_release(s, batch, n);
    while ((n = rpc_sched_take_batch(s, batch, 16)) > 0)
        rpc_sched_release(s, batch, n);
    CHECK_U64(rpc_sched_depth(s), 0);
    rpc_sched_quit(s);
    CHECK(rpc_sched_take_verify(s) == NULL);
    CHECK(!rpc_sched_wait_batch(s));
    rpc_sched_free(&s);
}

int main(void)
{
    test_admission();
    test_turns();
    return test_finish("test_rpc_sched");
}
