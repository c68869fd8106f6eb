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

/* One request to verify (a run of one). */
static rpc_item *take1(rpc_sched *s)
{
    rpc_item *it = NULL;
    return rpc_sched_take_verify(s, &it, 1) == 1 ? it : NULL;
}

static void verified1(rpc_sched *s, rpc_item *it)
{
    rpc_sched_verified(s, &it, 1);
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
        it = take1(s);
        CHECK(it != NULL);
        verified1(s, it);
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
        got[i] = take1(s);
        CHECK(got[i] != NULL && got[i]->req.id.u == verify_order[i]);
    }
    /* only the first of flow 0 and both of flow 1 verified: flow 0 stops at its unverified 2 */
    verified1(s, got[0]);
    verified1(s, got[1]);
    verified1(s, got[3]);
    verified1(s, got[4]); /* 3: verified, behind 2 */
    CHECK(rpc_sched_wait_batch(s));
    size_t n = rpc_sched_take_batch(s, batch, 16);
    CHECK_U64(n, 3);
    CHECK(batch[0]->req.id.u == 1 && batch[1]->req.id.u == 101 && batch[2]->req.id.u == 102);
    rpc_sched_release(s, batch, n);
    for (int i = 0; i < 7; i++)
        if (i != 0 && i != 1 && i != 3 && i != 4)
            verified1(s, got[i]);
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
        it = take1(s);
        if (i < 2)
            CHECK(it->req.id.u == (i == 0 ? 10 : 300));
        verified1(s, it);
    }
    n = rpc_sched_take_batch(s, batch, 4);
    CHECK(n == 4 && batch[1]->req.id.u == 300);
    rpc_sched_release(s, batch, n);
    while ((n = rpc_sched_take_batch(s, batch, 16)) > 0)
        rpc_sched_release(s, batch, n);
    CHECK_U64(rpc_sched_depth(s), 0);
    rpc_sched_quit(s);
    CHECK(take1(s) == NULL);
    CHECK(!rpc_sched_wait_batch(s));
    rpc_sched_free(&s);
}

/* Runs: a verifier takes rounds at once, at most max and half of what waits (so a second
 * verifier has work), in the same turn order. */
static void test_runs(void)
{
    rpc_sched *s;
    rpc_item *run[8];
    CHECK(rpc_sched_new(&s, 64, 4, 64) == 0);
    for (uint64_t i = 1; i <= 6; i++)
        push(s, 0, i);
    for (uint64_t i = 101; i <= 104; i++)
        push(s, 1, i);
    size_t n = rpc_sched_take_verify(s, run, 8); /* 10 wait: half of them */
    static const uint64_t order[] = {1, 101, 2, 102, 3};
    CHECK_U64(n, 5);
    for (size_t i = 0; i < n && i < 5; i++)
        CHECK_U64(run[i]->req.id.u, order[i]);
    rpc_sched_verified(s, run, n);
    n = rpc_sched_take_verify(s, run, 2); /* 5 wait: max 2 */
    CHECK(n == 2 && run[0]->req.id.u == 103 && run[1]->req.id.u == 4);
    rpc_sched_verified(s, run, n);
    n = rpc_sched_take_verify(s, run, 8); /* 3 wait: 1 */
    CHECK(n == 1 && run[0]->req.id.u == 104);
    rpc_sched_verified(s, run, n);
    n = rpc_sched_take_verify(s, run, 8); /* the last 2: 1, then 1 */
    CHECK(n == 1 && run[0]->req.id.u == 5);
    rpc_sched_verified(s, run, n);
    CHECK(take1(s)->req.id.u == 6);
    rpc_sched_free(&s);
}

/* A connection whose signatures fail yields RPC_SCHED_PENALTY verify turns per failure while
 * another waits, and keeps its turn when alone; a new connection on its flow starts clean. */
static void test_penalty(void)
{
    rpc_sched *s;
    CHECK(rpc_sched_new(&s, 256, 4, 256) == 0);
    for (uint64_t i = 1; i <= 100; i++)
        push(s, 0, i); /* the flooder */
    for (uint64_t i = 1001; i <= 1100; i++)
        push(s, 1, i);
    rpc_item *it = take1(s);
    CHECK(it->req.id.u == 1);
    it->error = 1; /* BAD_SIGNATURE */
    verified1(s, it);
    /* now flow 1 gets RPC_SCHED_PENALTY turns before flow 0's next */
    int good = 0;
    while ((it = take1(s)) != NULL && it->flow == 1) {
        good++;
        verified1(s, it);
    }
    CHECK_U64(good, RPC_SCHED_PENALTY + 1); /* its turn after the failure, then the yielded */
    CHECK(it != NULL && it->req.id.u == 2);
    verified1(s, it); /* a success: no new penalty, the turns alternate again */
    CHECK(take1(s)->flow == 1);
    CHECK(take1(s)->flow == 0);
    /* failures verified together (a run) add up, to RPC_SCHED_PENALTY_MAX */
    rpc_item *run[16];
    size_t n = rpc_sched_take_verify(s, run, 16);
    CHECK_U64(n, 16); /* 8 of each, in turn */
    for (size_t i = 0; i < n; i++)
        run[i]->error = run[i]->flow == 0;
    rpc_sched_verified(s, run, n);
    good = 0;
    while ((it = take1(s)) != NULL && it->flow == 1) {
        good++;
        verified1(s, it);
    }
    CHECK(good == RPC_SCHED_PENALTY_MAX || good == RPC_SCHED_PENALTY_MAX + 1);
    it->error = 1;
    verified1(s, it);
    rpc_sched_flow_reset(s, 0); /* a new connection on flow 0: alternating again */
    CHECK(take1(s)->flow == 1);
    CHECK(take1(s)->flow == 0);
    CHECK(take1(s)->flow == 1);
    rpc_sched_free(&s);
}

int main(void)
{
    test_admission();
    test_turns();
    test_runs();
    test_penalty();
    return test_finish("test_rpc_sched");
}
