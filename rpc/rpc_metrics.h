/* rpc_metrics.h - the Prometheus endpoint: a snapshot of the service rendered as text over HTTP */
#ifndef LSTD_RPC_METRICS_H
#define LSTD_RPC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "rpc_reply.h"
#include "rpc_request.h"
#include "store_db.h"

/* What the service counts for the endpoint (README.md, Operations: the metrics table). The
 * pipeline keeps these as atomic counters, each with one writer (the sequencer, the log thread
 * or the receiver), so the hot path pays a plain store per update; the endpoint's thread copies
 * them into a snapshot and renders it. */

#define RPC_METRICS_CODES 128         /* room for the result codes of ledger_error.h (checked) */
#define RPC_METRICS_QUERIES 16        /* query slots (enum rpc_query, with room) */
#define RPC_METRICS_BATCH_BUCKETS 17  /* batch size: 1, 2, 4, ... 65536 requests */
#define RPC_METRICS_COMMIT_BUCKETS 14 /* commit latency: 0.5 ms ... 10 s */

/** Returns: the slot of a result code in the by-code tables (0..RPC_METRICS_CODES-1), or
 *  RPC_METRICS_CODES for a number that is no code. */
unsigned rpc_metrics_code_slot(int code);

/** Returns: the bucket of a batch of n requests, and of a commit that took us microseconds
 *  (the last bucket, RPC_METRICS_*_BUCKETS, counts what is beyond every bound). */
unsigned rpc_metrics_batch_bucket(uint64_t n);
unsigned rpc_metrics_commit_bucket(uint64_t us);

/* One operator's figures as of the last batch that touched operators. */
typedef struct rpc_metrics_operator {
    uint64_t id, balance, last_report_ts;
    bool active, held;
} rpc_metrics_operator;

/* Everything the endpoint shows, copied at one scrape. */
typedef struct rpc_metrics_snapshot {
    rpc_counters counters; /* the health query's counters, queue depth and max, uptime */
    uint64_t start_time_s; /* Unix seconds */
    uint64_t wall_s;       /* the server clock at the scrape */
    char ledger_id[LEDGER_ID_MAX + 1];
    uint64_t tx[LEDGER_TX_KIND_MAX + 1][RPC_METRICS_CODES + 1]; /* by kind and code slot */
    uint64_t queries[RPC_METRICS_QUERIES];                      /* by enum rpc_query */
    uint64_t batch_buckets[RPC_METRICS_BATCH_BUCKETS + 1], batch_requests_sum;
    uint64_t commit_buckets[RPC_METRICS_COMMIT_BUCKETS + 1], commit_us_sum;
    uint64_t batches_failed;
    uint64_t clients_connected, connections_total;
    store_db_stats store;
    bool have_state;  /* pool and chain below are set */
    ledger_pool pool; /* as of the last batch (vested to the scrape when rendered) */
    ledger_chain chain;
    size_t operator_count;
    rpc_metrics_operator operators[LEDGER_OPERATORS_MAX];
} rpc_metrics_snapshot;

/** Render s in the Prometheus text format (version 0.0.4): HELP and TYPE for every metric,
 *  then its samples. Out: *text (malloc'd, NUL-terminated; the caller frees it), *len.
 *  Returns: 0, or -1 when out of memory. */
int rpc_metrics_render(const rpc_metrics_snapshot *s, char **text, size_t *len);

/** Check the syntax of a --metrics value: "off", or HOST:PORT with a numeric IPv4 host or an
 *  IPv6 host in brackets ("127.0.0.1:9440", "[::1]:0"; port 0 picks a free one).
 *  Returns: 0 or -1. */
int rpc_metrics_addr_valid(const char *addr);

typedef struct rpc_metrics rpc_metrics;

/** Fill a snapshot (the server's; called on the endpoint's thread, once per scrape). */
typedef void (*rpc_metrics_snapshot_fn)(void *ctx, rpc_metrics_snapshot *out);

/** Bind and listen on addr (rpc_metrics_addr_valid) and nothing else: no thread yet, so that a
 *  port already taken fails before any ledger is opened. "off": *out NULL, url "off".
 *  Out: *out; url (the actual address, "http://127.0.0.1:PORT/metrics").
 *  Returns: 0, or -1 with "lstd: cannot bind --metrics ADDR: REASON" on stderr. */
int rpc_metrics_bind(rpc_metrics **out, const char *addr, char *url, size_t url_size)
    __attribute__((warn_unused_result));

/** Serve GET /metrics (HEAD too) on the bound socket from one thread of its own
 *  (libmicrohttpd); any other path is 404, any other method 405. Each scrape calls
 *  snapshot(ctx, ...) and renders it. Returns: 0 or -1. NULL m: nothing to do, 0. */
int rpc_metrics_start(rpc_metrics *m, rpc_metrics_snapshot_fn snapshot, void *ctx)
    __attribute__((warn_unused_result));

/** Stop serving (waits for a scrape in progress), close the socket, free; *m = NULL. NULL is
 *  ignored. */
void rpc_metrics_stop(rpc_metrics **m);

#endif
