/* rpc_server.h - the lstd service: receive, verify in parallel, sequence, group commit, reply */
#ifndef LSTD_RPC_SERVER_H
#define LSTD_RPC_SERVER_H

#include "rpc_config.h"
#include "store_lmdb.h"

typedef struct rpc_server rpc_server;

/** Bind the sockets and start the threads: one receiving thread (owns the ROUTER socket),
 *  cfg->verify_threads signature verifiers, one sequencer that applies batches in arrival
 *  order, commits each durably, then replies and publishes. The store must hold a genesis.
 *  The actual endpoints (useful with port 0 / "*") are printed on stdout as one line:
 *  "lstd: ready requests=<url> events=<url>".
 *  Out: *out. Returns: 0, or -1 with a message on stderr (nothing left running). */
int rpc_server_start(rpc_server **out, const rpc_config *cfg, store_lmdb *store);

/** Stop accepting (new requests are answered SHUTTING_DOWN), finish, commit and answer every
 *  request already accepted, publish its events, then stop the threads and free the server.
 *  *s is set to NULL. */
void rpc_server_stop(rpc_server **s);

#endif
