/* rpc_sched.h - requests in flight: queued per connection, verified and sequenced in turn */
#ifndef LSTD_RPC_SCHED_H
#define LSTD_RPC_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc_request.h"

/* The fairness rule. Every request waits in its connection's queue (a "flow"), in the order
 * the connection sent it. Admission: a connection is read only while it holds fewer than its
 * share, min(flow_max, capacity / n), n being the connections with requests in flight counting
 * its own (rpc_sched_within_share); a request is refused only when `capacity` are in flight in
 * all. Service: the verifiers
 * take the next unverified request of each connection in turn, one each (in runs: a verifier
 * takes several rounds at once), and the sequencer fills a batch the same way, one verified
 * request from the head of each connection's queue per round. So while others wait, a
 * connection gets 1/n of the verification and of each batch, however fast it sends, and its own
 * order is kept; one whose signatures fail gets much less of the verification. */

/* Where a reply goes: the connection (an rpc_net handle) and whether a REQ delimiter came. */
typedef struct rpc_envelope {
    uint64_t conn;
    bool delimiter;
} rpc_envelope;

/* One request in flight. Written by the receiver before rpc_sched_push returns; then owned by
 * one verifier until rpc_sched_verified, then by the sequencer until rpc_sched_release. */
typedef struct rpc_item {
    rpc_envelope env;
    rpc_request req;
    uint8_t hash[LEDGER_HASH_SIZE];
    int error; /* set by the verifier: BAD_SIGNATURE or LEDGER_MISMATCH */
    bool ready;
    bool charged; /* taken as a failure in advance (its connection failed lately) */
    uint32_t flow, next;
} rpc_item;

typedef struct rpc_sched rpc_sched;

enum rpc_sched_admit { RPC_SCHED_OK = 0, RPC_SCHED_FULL = 1 };

/** A scheduler for `capacity` requests in flight among `flows` connections (0..flows-1), each
 *  holding at most flow_max. Out: *out. Returns: 0, or -1 (no memory; *out NULL). */
int rpc_sched_new(rpc_sched **out, uint32_t capacity, uint32_t flows, uint32_t flow_max)
    __attribute__((warn_unused_result));

/** Free the scheduler (no thread may be using it); *s = NULL. NULL is allowed. */
void rpc_sched_free(rpc_sched **s);

/** Queue a request of connection `flow` (the receiver, which reads a connection only while
 *  it is within its share: a request already read is queued even when the share has just
 *  shrunk, as more connections came). Out: *at_share, whether the connection holds its share
 *  now, so the receiver need not ask rpc_sched_within_share before the next one unless so.
 *  Returns: RPC_SCHED_OK (queued), or RPC_SCHED_FULL (capacity in flight: nothing queued). */
int rpc_sched_push(rpc_sched *s, uint32_t flow, const rpc_envelope *env, const rpc_request *req,
                   bool *at_share);

/* Failed verifications (BAD_SIGNATURE, LEDGER_MISMATCH) have a budget, as a generic cell rate
 * (a virtual clock per connection, and one for all connections together): each failure moves
 * its connection's clock RPC_SCHED_FAIL_COST_US on (200 a second) and the shared one
 * RPC_SCHED_FAIL_ALL_COST_US (2000 a second); a connection whose clock, or the shared one
 * while it has failed lately, is more than a burst ahead of the real one is not given to a
 * verifier until it is no more, even when the verifiers are idle. So a flood of bad signatures
 * costs a bounded sliver of CPU, however many connections carry it, and clients whose
 * signatures verify never wait for it. */
#define RPC_SCHED_FAIL_COST_US 5000        /* a connection: 200 failures a second */
#define RPC_SCHED_FAIL_BURST_US 100000     /* after a burst of 20 */
#define RPC_SCHED_FAIL_ALL_COST_US 500     /* all connections: 2000 failures a second */
#define RPC_SCHED_FAIL_ALL_BURST_US 100000 /* after a burst of 200 */
#define RPC_SCHED_FAIL_MEMORY_US 10000000  /* a connection without a failure for 10 s is clean */

/** Up to max requests to verify, connections in turn (one each per round), but no more than
 *  half of those waiting, so the other verifiers get work too (at least one), and none of a
 *  connection over its failure budget (above); blocks until there is one.
 *  Out: items[0..n). Returns: n, or 0 once rpc_sched_quit was called and none is left. */
size_t rpc_sched_take_verify(rpc_sched *s, rpc_item **items, size_t max);

/** rpc_sched_take_verify without waiting. Out: *until_us (when nothing is eligible only
 *  because of the failure budget: the clock reading at which something will be; else
 *  UINT64_MAX). Returns: n (0: none now). */
size_t rpc_sched_try_verify(rpc_sched *s, rpc_item **items, size_t max, uint64_t *until_us);

/** A verifier is done with n items (each it->error set: 0 or the failure): they may be
 *  sequenced; each failure is charged to its connection's budget. */
void rpc_sched_verified(rpc_sched *s, rpc_item *const *items, size_t n);

/** A new connection on flow `flow`: its own budget starts full (the shared one does not). */
void rpc_sched_flow_reset(rpc_sched *s, uint32_t flow);

/** The connection on flow `flow` has gone. When it failed verifications lately, its requests
 *  not yet verified are not verified at all: each is marked with `error` (the server's BUSY:
 *  nothing was done; nobody reads the reply) and goes to the sequencer as a failure, so a
 *  flood's backlog does not outlive it, holding the queue. Any thread. */
void rpc_sched_flow_closed(rpc_sched *s, uint32_t flow, int error);

/** From now on the failure budget holds no request back (stopping: every request read is to
 *  be answered). Any thread. */
void rpc_sched_drain(rpc_sched *s);

/** The clock the failure budget reads (monotonic microseconds; default CLOCK_MONOTONIC),
 *  for tests. Call before any other thread uses s. */
void rpc_sched_set_clock(rpc_sched *s, uint64_t (*now_us)(void *ctx), void *ctx);

/** Wait until a batch can be taken (the head of some connection's queue is verified) or
 *  rpc_sched_kick was called. Returns: true then, or false once rpc_sched_quit was called and
 *  nothing is queued. */
bool rpc_sched_wait_batch(rpc_sched *s);

/** Fill items with up to max verified requests, one from the head of each connection's queue
 *  per round (the one thread that sequences; it does not wait). Returns: how many. The items
 *  stay in flight until rpc_sched_release. */
size_t rpc_sched_take_batch(rpc_sched *s, rpc_item **items, size_t max);

/** The sequencer is done with n items (they count no more against capacity and shares). */
void rpc_sched_release(rpc_sched *s, rpc_item *const *items, size_t n);

/** Make the sequencer's wait return true once even with no batch to take (it has other work:
 *  replicated batches to apply). Any thread. */
void rpc_sched_kick(rpc_sched *s);

/** Wake every waiter: from now on the take functions return NULL / 0 once nothing is left. */
void rpc_sched_quit(rpc_sched *s);

/** Returns: requests in flight (queued, being verified or in a batch being applied). */
uint64_t rpc_sched_depth(rpc_sched *s);

/** Returns: whether a request of connection `flow` is within its share now (the receiver does
 *  not read a connection that is not: it waits, in order, instead of being refused). */
bool rpc_sched_within_share(rpc_sched *s, uint32_t flow);

/** Returns: requests connection `flow` has in flight. */
uint32_t rpc_sched_flow_depth(rpc_sched *s, uint32_t flow);

#endif
