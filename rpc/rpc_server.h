/* rpc_server.h - the lstd service: receive, verify in parallel, sequence, group commit, reply */
#ifndef LSTD_RPC_SERVER_H
#define LSTD_RPC_SERVER_H

#include "rpc_config.h"
#include "rpc_rates.h"
#include "rpc_repl.h"
#include "store_db.h"

typedef struct rpc_server rpc_server;

/** Listen on the request endpoint (ZMTP, as a ROUTER: rpc_net), the event endpoint (as a
 *  PUB: rpc_events) and the metrics port (cfg->metrics, unless "off"), and nothing else: no
 *  thread, no store. lstd binds first, so that a port already taken fails before any ledger
 *  is created or opened. The bounds of cfg (conn_max and the rest; PROTOCOL.md, "Limits")
 *  hold from the first connection on.
 *  Out: *out. Returns: 0, or -1 with a message on stderr (*out NULL, nothing left). */
int rpc_server_bind(rpc_server **out, const rpc_config *cfg) __attribute__((warn_unused_result));

/** Serve store on a bound server: one receiving thread (owns the request connections),
 *  cfg->verify_threads signature verifiers and one sequencer that take the connections'
 *  queued requests in turn (rpc_sched.h) and hand each batch to the store's log; once a batch
 *  is durable the log thread passes its replies to the receiving thread and its events to the
 *  publisher thread (the sequencer applies the next batches meanwhile); the metrics endpoint
 *  on a thread of its own. rates (may be NULL: no rate_history) is the rate index the
 *  sequencer keeps and answers rate_history from. repl (may be NULL: not replicated; attached
 *  to store) makes this replica follow or lead (rpc_repl.h): a follower applies the stream's
 *  batches between groups and answers transactions NOT_LEADER; the leader's batches are
 *  published before their log commit. The store (and rates, repl) must hold a genesis and
 *  outlive the server. Then the actual endpoints (useful with port 0 / "*") are printed
 *  on stdout as one line: "lstd: ready requests=<url> events=<url> metrics=<url or off>".
 *  Returns: 0, or -1 with a message on stderr. Either way the caller ends with
 *  rpc_server_stop. */
int rpc_server_start(rpc_server *s, store_db *store, rpc_rates *rates, rpc_repl *repl)
    __attribute__((warn_unused_result));

/** The request endpoint as bound (port 0 resolved), after rpc_server_bind. */
const char *rpc_server_requests_url(const rpc_server *s);

/** Read the CURVE allow-list again from path (SIGHUP; its path may have changed): a good file
 *  replaces the list, any other (or path "") leaves nobody allowed; connections whose key is
 *  no longer allowed are closed by their threads at their next turn. One log line,
 *  event=curve_clients. Nothing when CURVE is off. Any one thread while the server runs.
 *  Returns: 0, or -1 (the file was not good: every client is refused). */
int rpc_server_reload_curve(rpc_server *s, const char *path);

/** Transactions per batch from the next batch on (1..65536; SIGHUP's reload). Safe to call from
 *  any one thread while the server runs: the sequencer picks it up between batches. */
void rpc_server_set_batch_max(rpc_server *s, unsigned batch_max);

/** Stop accepting (new requests are answered SHUTTING_DOWN), finish, commit and answer every
 *  request already accepted, publish its events, then stop the threads, close the sockets and
 *  free the server (also one that is only bound, or whose start failed). *s is set to NULL;
 *  NULL is allowed. */
void rpc_server_stop(rpc_server **s);

#endif
