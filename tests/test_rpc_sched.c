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

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

/* One request to verify if one is eligible now. */
static rpc_item *try1(rpc_sched *s, uint64_t *until)
{
    rpc_item *it = NULL;
    return rpc_sched_try_verify(s, &it, 1, until) == 1 ? it : NULL;
}

/* Failed verifications have a budget: a burst, then one per RPC_SCHED_FAIL_COST_US, even with
 * the verifiers idle; a connection whose signatures verify is never held back; a new
 * connection starts with a full budget of its own; draining lifts the budget. */
static void test_fail_budget(void)
{
    rpc_sched *s;
    uint64_t until;
    rpc_item *it;
    CHECK(rpc_sched_new(&s, 512, 4, 512) == 0);
    fake_now = 1000000000;
    rpc_sched_set_clock(s, fake_clock, NULL);
    for (uint64_t i = 1; i <= 200; i++)
        push(s, 0, i); /* the flooder */
    unsigned passed = 0;
    while ((it = try1(s, &until)) != NULL) {
        CHECK_U64(it->flow, 0);
        it->error = 1; /* BAD_SIGNATURE */
        verified1(s, it);
        passed++;
    }
    unsigned burst = RPC_SCHED_FAIL_BURST_US / RPC_SCHED_FAIL_COST_US + 1;
    CHECK_U64(passed, burst); /* then held back, alone and with the verifiers idle */
    CHECK_U64(until, fake_now + RPC_SCHED_FAIL_COST_US);
    push(s, 1, 1001); /* a good connection is served meanwhile */
    it = try1(s, &until);
    CHECK(it != NULL && it->flow == 1);
    verified1(s, it);
    CHECK(try1(s, &until) == NULL);
    fake_now = until; /* one more failure per cost */
    it = try1(s, &until);
    CHECK(it != NULL && it->flow == 0);
    it->error = 1;
    verified1(s, it);
    CHECK(try1(s, &until) == NULL);
    fake_now += RPC_SCHED_FAIL_MEMORY_US + RPC_SCHED_FAIL_BURST_US; /* quiet for long: clean */
    it = try1(s, &until);
    CHECK(it != NULL && it->flow == 0);
    verified1(s, it);           /* verified: no charge */
    rpc_sched_flow_reset(s, 0); /* a new connection on flow 0: its own budget is full */
    passed = 0;
    while ((it = try1(s, &until)) != NULL) {
        it->error = 1;
        verified1(s, it);
        passed++;
    }
    CHECK_U64(passed, burst);
    rpc_sched_drain(s); /* stopping: everything is verified */
    it = try1(s, &until);
    CHECK(it != NULL && it->flow == 0);
    verified1(s, it);
    rpc_sched_free(&s);
}

/* A failing connection that goes takes its backlog with it: its requests not yet verified go
 * to the sequencer marked, unverified; a clean connection's are verified as usual. */
static void test_fail_closed(void)
{
    rpc_sched *s;
    uint64_t until;
    rpc_item *it, *batch[64];
    CHECK(rpc_sched_new(&s, 256, 4, 256) == 0);
    fake_now = 1000000000;
    rpc_sched_set_clock(s, fake_clock, NULL);
    for (uint64_t i = 1; i <= 40; i++)
        push(s, 0, i);
    push(s, 1, 1001);
    rpc_sched_flow_closed(s, 1, 99); /* clean: nothing happens */
    while ((it = try1(s, &until)) != NULL) {
        it->error = it->flow == 0;
        verified1(s, it);
    }
    CHECK_U64(rpc_sched_take_batch(s, batch, 64), 22); /* 21 failures, the clean one */
    rpc_sched_release(s, batch, 22);
    rpc_sched_flow_closed(s, 0, 99); /* held back, then gone */
    CHECK(try1(s, &until) == NULL);
    CHECK_U64(until, UINT64_MAX); /* nothing waits for verification */
    size_t n = rpc_sched_take_batch(s, batch, 64);
    CHECK_U64(n, 19);
    for (size_t i = 0; i < n; i++)
        CHECK(batch[i]->flow == 0 && batch[i]->error == 99);
    rpc_sched_release(s, batch, n);
    CHECK_U64(rpc_sched_depth(s), 0);
    rpc_sched_free(&s);
}

/* The shared budget bounds failures over all connections together (a flood spread over many
 * connections), and holds back only connections that failed. */
static void test_fail_budget_shared(void)
{
    enum { FLOWS = 16 };
    rpc_sched *s;
    uint64_t until;
    rpc_item *it;
    CHECK(rpc_sched_new(&s, 4096, FLOWS, 256) == 0);
    fake_now = 1000000000;
    rpc_sched_set_clock(s, fake_clock, NULL);
    for (uint32_t f = 0; f + 1 < FLOWS; f++)
        for (uint64_t i = 1; i <= 40; i++)
            push(s, f, f * 100 + i);
    unsigned failed = 0;
    while ((it = try1(s, &until)) != NULL) {
        it->error = 1;
        verified1(s, it);
        failed++;
    }
    CHECK_U64(failed, RPC_SCHED_FAIL_ALL_BURST_US / RPC_SCHED_FAIL_ALL_COST_US + 1);
    push(s, FLOWS - 1, 9999); /* a connection that never failed */
    it = try1(s, &until);
    CHECK(it != NULL && it->flow == FLOWS - 1);
    verified1(s, it);
    CHECK(try1(s, &until) == NULL);
    rpc_sched_free(&s);
}

int main(void)
{
    test_admission();
    test_turns();
    test_runs();
    test_fail_budget();
    test_fail_budget_shared();
    test_fail_closed();
    return test_finish("test_rpc_sched");
}
