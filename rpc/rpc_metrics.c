/* rpc_metrics.c - the Prometheus text-format endpoint of lstd, served by libmicrohttpd */
#include "rpc_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 16
#define SCRAPE_CONNECTIONS_MAX 16 /* concurrent scrapers; more wait in the backlog */
#define SCRAPE_TIMEOUT_S 10       /* an idle connection is closed after this */
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- slots and buckets ------------------------------------------------------------------------
 */

enum {
#define CODE_INDEX(name, num, msg) CODE_INDEX_##name,
    LEDGER_ERRORS(CODE_INDEX)
#undef CODE_INDEX
        CODE_COUNT
};
_Static_assert(CODE_COUNT <= RPC_METRICS_CODES, "RPC_METRICS_CODES must hold every result code");

#define CODE_NUMBER_LIMIT 1000 /* result codes are below this (ledger_error.h's ranges) */

/* code number -> slot + 1 (0: no such code) */
static const uint8_t code_slots[CODE_NUMBER_LIMIT] = {
#define CODE_SLOT(name, num, msg) [num] = CODE_INDEX_##name + 1,
    LEDGER_ERRORS(CODE_SLOT)
#undef CODE_SLOT
};

/* slot -> code number */
static const int slot_codes[CODE_COUNT] = {
#define SLOT_CODE(name, num, msg) num,
    LEDGER_ERRORS(SLOT_CODE)
#undef SLOT_CODE
};

unsigned rpc_metrics_code_slot(int code)
{
    if (code < 0 || code >= CODE_NUMBER_LIMIT || code_slots[code] == 0)
        return RPC_METRICS_CODES;
    return code_slots[code] - 1u;
}

/* Commit latency bounds, microseconds (shown in seconds). */
static const uint64_t commit_bounds_us[RPC_METRICS_COMMIT_BUCKETS] = {
    500,    1000,   2000,   5000,    10000,   20000,   50000,
    100000, 200000, 500000, 1000000, 2000000, 5000000, 10000000};

unsigned rpc_metrics_batch_bucket(uint64_t n)
{
    unsigned i = 0;
    while (i < RPC_METRICS_BATCH_BUCKETS && n > (uint64_t)1 << i)
        i++;
    return i;
}

unsigned rpc_metrics_commit_bucket(uint64_t us)
{
    unsigned i = 0;
    while (i < RPC_METRICS_COMMIT_BUCKETS && us > commit_bounds_us[i])
        i++;
    return i;
}

/* ---- text -------------------------------------------------------------------------------------
 */

typedef struct text {
    char *p;
    size_t len, cap;
    bool failed;
} text;

__attribute__((format(printf, 2, 3))) static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_start(ap, fmt);
        int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *p = realloc(t->p, cap);
        if (p == NULL) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

static void head(text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(text *t, const char *name, const char *labels, uint64_t v)
{
    put(t, "%s%s%s%s %" PRIu64 "\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "", v);
}

static void sample_f(text *t, const char *name, const char *labels, double v)
{
    char num[40];
    if (isnan(v))
        snprintf(num, sizeof num, "NaN");
    else
        snprintf(num, sizeof num, "%.17g", v);
    put(t, "%s%s%s%s %s\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "", num);
}

static void counter(text *t, const char *name, const char *help, uint64_t v)
{
    head(t, name, "counter", help);
    sample_u64(t, name, "", v);
}

static void gauge(text *t, const char *name, const char *help, uint64_t v)
{
    head(t, name, "gauge", help);
    sample_u64(t, name, "", v);
}

static void counter_f(text *t, const char *name, const char *help, double v)
{
    head(t, name, "counter", help);
    sample_f(t, name, "", v);
}

static void gauge_f(text *t, const char *name, const char *help, double v)
{
    head(t, name, "gauge", help);
    sample_f(t, name, "", v);
}

/* A label value with '\', '"' and newlines escaped (the text format's rule). */
static void label_escape(char *out, size_t size, const char *s)
{
    size_t n = 0;
    for (; *s != '\0' && n + 3 < size; s++) {
        if (*s == '\\' || *s == '"') {
            out[n++] = '\\';
            out[n++] = *s;
        } else if (*s == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

/* name_bucket{le=...} cumulative, ending in +Inf = name_count; then name_sum. buckets holds
 * n + 1 per-bucket counts; bounds the n finite bounds, already in the unit shown; sum as text. */
static void histogram(text *t, const char *name, const char *help, const uint64_t *buckets,
                      const double *bounds, unsigned n, const char *sum)
{
    uint64_t cumulative = 0;
    head(t, name, "histogram", help);
    for (unsigned i = 0; i <= n; i++) {
        cumulative += buckets[i];
        if (i < n)
            put(t, "%s_bucket{le=\"%.9g\"} %" PRIu64 "\n", name, bounds[i], cumulative);
        else
            put(t, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
    }
    put(t, "%s_sum %s\n%s_count %" PRIu64 "\n", name, sum, name, cumulative);
}

/* ---- render -----------------------------------------------------------------------------------
 */

static void render_requests(text *t, const rpc_metrics_snapshot *s)
{
    const rpc_counters *c = &s->counters;
    char labels[96];
    counter(t, "lstd_requests_total", "Requests received (decoded or not).", c->requests);
    head(t, "lstd_queries_total", "counter", "Queries answered, by op.");
    for (unsigned q = 1; q < RPC_METRICS_QUERIES; q++)
        if (rpc_query_name(q) != NULL) {
            snprintf(labels, sizeof labels, "op=\"%s\"", rpc_query_name(q));
            sample_u64(t, "lstd_queries_total", labels, s->queries[q]);
        }
    head(t, "lstd_transactions_total", "counter",
         "Signed transactions answered by the sequencer, by kind and result code (verifier "
         "rejections BAD_SIGNATURE and LEDGER_MISMATCH included; duplicates carry their recorded "
         "code). Every kind shows code OK; other codes once seen.");
    for (unsigned k = 1; k <= LEDGER_TX_KIND_MAX; k++) {
        const ledger_kind_info *info = ledger_kind_lookup(k);
        for (unsigned slot = 0; info != NULL && slot < CODE_COUNT; slot++) {
            if (s->tx[k][slot] == 0 && slot_codes[slot] != LEDGER_OK)
                continue;
            snprintf(labels, sizeof labels, "kind=\"%s\",code=\"%s\"", info->name,
                     ledger_err_name(slot_codes[slot]));
            sample_u64(t, "lstd_transactions_total", labels, s->tx[k][slot]);
        }
    }
    counter(t, "lstd_busy_total", "Requests answered BUSY (the queue was full).", c->busy);
    counter(t, "lstd_malformed_total",
            "Requests refused before queueing: not decodable (MALFORMED, TOO_LARGE, WRONG_TYPE, "
            "...).",
            c->malformed);
    counter(t, "lstd_bad_signatures_total", "Transactions whose signature did not verify.",
            c->bad_signatures);
    counter(t, "lstd_duplicates_total",
            "Transactions already recorded, answered with their recorded result.", c->duplicates);
    counter(t, "lstd_simulations_total",
            "Simulated transactions answered (applied to the current state, then undone).",
            c->simulations);
    counter(t, "lstd_replies_dropped_total",
            "Replies not written whole to their connection: it had closed, or closed with them "
            "queued.",
            c->replies_dropped);
    counter(t, "lstd_auth_failures_total",
            "CURVE connections refused for their key (not allowed, no CURVE, not boxed for the "
            "server's key, a bad vouch) or closed when their key left the allow-list.",
            c->auth_failures);
    counter(t, "lstd_batches_failed_total",
            "Batches that could not be committed (each request answered INTERNAL).",
            s->batches_failed);
    gauge(t, "lstd_queue_depth", "Requests in flight (received, not yet applied).", c->queue_depth);
    gauge(t, "lstd_queue_max", "Requests in flight beyond which BUSY is answered (--queue-max).",
          c->queue_max);
    gauge(t, "lstd_batch_size_max", "Largest batch committed since the start, in requests.",
          c->batch_size_max);
}

/* Microseconds as seconds, exactly. */
static const char *seconds_us(char out[32], uint64_t us)
{
    snprintf(out, 32, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
    return out;
}

static void render_latency(text *t, const rpc_metrics_snapshot *s)
{
    double batch_bounds[RPC_METRICS_BATCH_BUCKETS], commit_bounds[RPC_METRICS_COMMIT_BUCKETS];
    double log_bounds[STORE_DB_COMMIT_BUCKETS];
    char sum[32];
    for (unsigned i = 0; i < RPC_METRICS_BATCH_BUCKETS; i++)
        batch_bounds[i] = (double)((uint64_t)1 << i);
    for (unsigned i = 0; i < RPC_METRICS_COMMIT_BUCKETS; i++)
        commit_bounds[i] = (double)commit_bounds_us[i] / 1e6;
    for (unsigned i = 0; i < STORE_DB_COMMIT_BUCKETS; i++)
        log_bounds[i] = (double)((uint64_t)STORE_DB_COMMIT_BUCKET_US << i) / 1e6;
    histogram(t, "lstd_batch_size_requests",
              "Requests per committed batch (batches that recorded a transaction).",
              s->batch_buckets, batch_bounds, RPC_METRICS_BATCH_BUCKETS,
              (snprintf(sum, sizeof sum, "%" PRIu64, s->batch_requests_sum), sum));
    histogram(t, "lstd_commit_latency_seconds",
              "Per committed batch: from the start of applying it until it is durable (when its "
              "replies go out).",
              s->commit_buckets, commit_bounds, RPC_METRICS_COMMIT_BUCKETS,
              seconds_us(sum, s->commit_us_sum));
    histogram(t, "lstd_log_commit_seconds",
              "Per log commit holding records (one may hold several batches): the append and "
              "its fsync.",
              s->store.log_commit_buckets, log_bounds, STORE_DB_COMMIT_BUCKETS,
              seconds_us(sum, s->store.log_commit_us_total));
}

static void render_store(text *t, const rpc_metrics_snapshot *s)
{
    const store_db_stats *st = &s->store;
    counter(t, "lstd_log_commits_total", "Log transactions (each may hold several batches).",
            st->log_commits);
    counter(t, "lstd_checkpoints_total", "Checkpoints written since the start.", st->checkpoints);
    gauge(t, "lstd_checkpoint_seq",
          "Last history seq the latest checkpoint holds the state after (a crash replays the "
          "records after it).",
          st->checkpoint_seq > 0 ? st->checkpoint_seq - 1 : 0);
    gauge_f(t, "lstd_checkpoint_duration_max_seconds",
            "Longest checkpoint write since the start (sorting and writing, in the background).",
            (double)st->checkpoint_ms_max / 1e3);
    gauge(t, "lstd_durable_seq", "Last history seq that is durable in the log.",
          st->durable_seq > 0 ? st->durable_seq - 1 : 0);
    head(t, "lstd_state_memory_bytes", "gauge",
         "Memory of the in-memory state (part=state) and its indexes (part=indexes).");
    sample_u64(t, "lstd_state_memory_bytes", "part=\"state\"", st->state_bytes);
    sample_u64(t, "lstd_state_memory_bytes", "part=\"indexes\"", st->index_bytes);
    gauge(t, "lstd_accounts", "Account records in the state.", st->accounts);
}

static double u128_f(ledger_u128 v)
{
    return (double)v;
}

static void render_pool(text *t, const rpc_metrics_snapshot *s)
{
    ledger_pool p = s->pool;
    uint64_t now = s->wall_s > s->chain.last_ts ? s->wall_s : s->chain.last_ts;
    ledger_pool_vest(&p, now);
    gauge(t, "lstd_seq", "Last recorded history seq.", s->chain.next_seq - 1);
    gauge(t, "lstd_last_batch_timestamp_seconds", "Batch time of the last committed batch.",
          s->chain.last_ts);
    gauge(t, "lstd_pool_decimals", "Decimals of the pooled asset and of shares.", p.decimals);
    gauge(t, "lstd_pool_assets_base_units",
          "A: vested pooled assets at the scrape (base units), the numerator of the rate.",
          p.assets);
    gauge(t, "lstd_pool_shares", "S: shares in existence (base units of shares).", p.shares);
    gauge_f(t, "lstd_pool_rate",
            "A/S as a float64 for graphs; not the exact rate (the pool query's rate_num/rate_den "
            "is). NaN while S is 0.",
            p.shares != 0 ? (double)p.assets / (double)p.shares : NAN);
    gauge(t, "lstd_pool_unvested_base_units",
          "U: reported reward not yet vested at the scrape (base units).", p.unvested);
    gauge(t, "lstd_pool_buffer_base_units", "Assets held by the custodian (base units).", p.buffer);
    gauge_f(t, "lstd_pool_payable_base_units",
            "Finalized withdrawals not yet settled (base units; a 128-bit total as a float64).",
            u128_f(p.payable));
    gauge(t, "lstd_pool_held_loss_base_units",
          "Loss the held reports would book if accepted (base units).", p.held_loss);
    gauge(t, "lstd_pool_bunker", "1 in bunker mode (a held report would book a loss), else 0.",
          p.held_loss > 0);
    gauge(t, "lstd_withdrawal_queue_requests", "Pending withdrawal requests.", p.queue_count);
    gauge(t, "lstd_withdrawal_queue_shares", "Shares in pending withdrawal requests.",
          p.queue_shares);
    gauge_f(t, "lstd_withdrawal_queue_amount_base_units",
            "Sum of the amounts quoted to pending withdrawal requests (base units, as a float64).",
            u128_f(p.queue_amount));
    gauge(t, "lstd_operators", "Registered operators.", p.operator_count);
}

static void render_operators(text *t, const rpc_metrics_snapshot *s)
{
    static const char *const names[] = {"lstd_operator_balance_base_units",
                                        "lstd_operator_last_report_timestamp_seconds",
                                        "lstd_operator_last_report_age_seconds",
                                        "lstd_operator_active", "lstd_operator_report_held"};
    static const char *const helps[] = {
        "Operator balance: last reported + funded - exited since (base units).",
        "Batch time of the operator's last applied report (its registration before one).",
        "Seconds from the operator's last applied report (or registration) to the scrape.",
        "1 when the operator is active.",
        "1 while the operator has a report held by a sanity limit (RUNBOOK.md, a held report)."};
    char labels[48];
    for (unsigned m = 0; m < 5; m++) {
        head(t, names[m], "gauge", helps[m]);
        for (size_t i = 0; i < s->operator_count; i++) {
            const rpc_metrics_operator *o = &s->operators[i];
            uint64_t v = m == 0   ? o->balance
                         : m == 1 ? o->last_report_ts
                         : m == 2
                             ? (s->wall_s > o->last_report_ts ? s->wall_s - o->last_report_ts : 0)
                         : m == 3 ? o->active
                                  : o->held;
            snprintf(labels, sizeof labels, "operator_id=\"%" PRIu64 "\"", o->id);
            sample_u64(t, names[m], labels, v);
        }
    }
}

static void render_process(text *t, const rpc_metrics_snapshot *s)
{
    char labels[LEDGER_ID_MAX * 2 + 32], id[LEDGER_ID_MAX * 2 + 1];
    head(t, "lstd_build_info", "gauge", "Always 1; the version in a label.");
    sample_u64(t, "lstd_build_info", "version=\"" LSTD_VERSION "\"", 1);
    head(t, "lstd_ledger_info", "gauge", "Always 1; the ledger id in a label.");
    label_escape(id, sizeof id, s->ledger_id);
    snprintf(labels, sizeof labels, "ledger_id=\"%s\"", id);
    sample_u64(t, "lstd_ledger_info", labels, 1);
    gauge(t, "lstd_start_time_seconds", "Unix time lstd started serving.", s->start_time_s);
    gauge(t, "lstd_uptime_seconds", "Seconds since lstd started serving.", s->counters.uptime_s);
    gauge(t, "lstd_clients_connected",
          "Connections open on the request socket (ZeroMQ socket monitor: accepted minus "
          "disconnected).",
          s->clients_connected);
    counter(t, "lstd_client_connections_total", "Connections accepted on the request socket.",
            s->connections_total);
}

/* Replication (--replicate): role, lease, how far behind, publishing. */
static void render_replication(text *t, const rpc_metrics_snapshot *s)
{
    static const char *const roles[] = {"follower", "candidate", "leader", "stepping_down"};
    const rpc_repl_status *r = &s->counters.repl;
    char labels[2 * RPC_PATH_MAX + 64], node[2 * RPC_PATH_MAX];
    label_escape(node, sizeof node, r->lease_holder);
    head(t, "lstd_replication_role", "gauge",
         "1 for this replica's role (follower, candidate, leader, stepping_down), 0 for the "
         "others.");
    for (unsigned i = 0; i < 4; i++) {
        snprintf(labels, sizeof labels, "role=\"%s\"", roles[i]);
        sample_u64(t, "lstd_replication_role", labels, (unsigned)r->role == i + 1);
    }
    head(t, "lstd_replication_lease_holder_info", "gauge",
         "Always 1; the lease holder as this replica last read it, in a label.");
    snprintf(labels, sizeof labels, "holder=\"%s\"", node);
    sample_u64(t, "lstd_replication_lease_holder_info", labels, 1);
    gauge(t, "lstd_replication_applied_sequence",
          "Stream sequence of the last batch this replica applied (follower) or published "
          "(leader).",
          r->applied);
    gauge(t, "lstd_replication_stream_last_sequence", "The stream's last sequence as last seen.",
          r->stream_last);
    gauge(t, "lstd_replication_lag_batches",
          "Stream messages this follower has not applied yet (0 on the leader).",
          r->role == RPC_REPL_LEADER || r->stream_last < r->applied ? 0
                                                                    : r->stream_last - r->applied);
    gauge_f(t, "lstd_replication_lag_seconds",
            "How long this follower has been behind the stream (0: caught up).",
            (double)r->lag_ms / 1000.0);
    counter(t, "lstd_replication_published_total", "Stream messages this replica published.",
            r->published);
    counter_f(t, "lstd_replication_publish_seconds_total",
              "Time spent publishing batches and waiting for their acknowledgement.",
              (double)r->publish_us_total / 1e6);
    gauge_f(t, "lstd_replication_stalled_seconds",
            "How long publishing has been failing (no quorum): 0 when it works.",
            (double)r->stalled_ms / 1000.0);
}

int rpc_metrics_render(const rpc_metrics_snapshot *s, char **out, size_t *len)
{
    text t = {malloc(64 << 10), 0, 64 << 10, false};
    *out = NULL;
    *len = 0;
    if (t.p == NULL)
        return -1;
    render_process(&t, s);
    render_requests(&t, s);
    render_latency(&t, s);
    render_store(&t, s);
    if (s->counters.replicated)
        render_replication(&t, s);
    if (s->have_state) {
        render_pool(&t, s);
        render_operators(&t, s);
    }
    if (t.failed) {
        free(t.p);
        return -1;
    }
    *out = t.p;
    *len = t.len;
    return 0;
}

/* ---- the address ------------------------------------------------------------------------------
 */

/* Parse HOST:PORT (IPv4) or [HOST]:PORT (IPv6), numeric only. Returns: 0 or -1. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *port;
    memset(ss, 0, sizeof *ss);
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - addr - 1) >= sizeof host)
            return -1;
        memcpy(host, addr + 1, (size_t)(end - addr - 1));
        host[end - addr - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (colon == NULL || (size_t)(colon - addr) >= sizeof host || strchr(addr, ':') != colon)
            return -1;
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = colon + 1;
    }
    unsigned long p = 0;
    if (*port == '\0' || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port) ||
        (p = strtoul(port, NULL, 10)) > 65535)
        return -1;
    if (addr[0] == '[') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)p);
        *len = sizeof *a;
        return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)p);
    *len = sizeof *a;
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

int rpc_metrics_addr_valid(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    return strcmp(addr, "off") == 0 || parse_addr(addr, &ss, &len) == 0 ? 0 : -1;
}

/* ---- the server -------------------------------------------------------------------------------
 */

struct rpc_metrics {
    int fd;                 /* the listening socket (MHD's once started) */
    struct MHD_Daemon *mhd; /* NULL until started */
    rpc_metrics_snapshot_fn snapshot;
    void *ctx;
};

static void url_of(int fd, char *url, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        } else {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        }
    }
    snprintf(url, size,
             ss.ss_family == AF_INET6 ? "http://[%s]:%u/metrics" : "http://%s:%u/metrics", host,
             port);
}

int rpc_metrics_bind(rpc_metrics **out, const char *addr, char *url, size_t url_size)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    *out = NULL;
    snprintf(url, url_size, "off");
    if (strcmp(addr, "off") == 0)
        return 0;
    if (parse_addr(addr, &ss, &len) != 0) {
        fprintf(stderr, "lstd: cannot bind --metrics %s: not HOST:PORT\n", addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        fprintf(stderr, "lstd: cannot bind --metrics %s: %s\n", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rpc_metrics *m = calloc(1, sizeof *m);
    if (m == NULL) {
        close(fd);
        fprintf(stderr, "lstd: cannot bind --metrics %s: out of memory\n", addr);
        return -1;
    }
    m->fd = fd;
    url_of(fd, url, url_size);
    *out = m;
    return 0;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                               const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            status == MHD_HTTP_OK ? CONTENT_TYPE : "text/plain; charset=utf-8");
    if (allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *msg,
                                    const char *allow)
{
    char *body = strdup(msg);
    return body != NULL ? respond(c, status, body, strlen(body), allow) : MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    static int seen; /* marks a request whose headers arrived */
    rpc_metrics *m = cls;
    (void)version, (void)upload;
    if (*req_cls == NULL) {
        *req_cls = &seen;
        return MHD_YES;
    }
    if (*upload_size != 0) { /* a body: read and ignored */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0)
        return respond_text(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n",
                            NULL);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n",
                            "GET, HEAD");
    rpc_metrics_snapshot *s = calloc(1, sizeof *s);
    char *body = NULL;
    size_t len = 0;
    if (s != NULL) {
        m->snapshot(m->ctx, s);
        if (rpc_metrics_render(s, &body, &len) != 0)
            body = NULL;
    }
    free(s);
    if (body == NULL)
        return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
    return respond(c, MHD_HTTP_OK, body, len, NULL);
}

int rpc_metrics_start(rpc_metrics *m, rpc_metrics_snapshot_fn snapshot, void *ctx)
{
    if (m == NULL)
        return 0;
    m->snapshot = snapshot;
    m->ctx = ctx;
    m->mhd = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET,
        (MHD_socket)m->fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)SCRAPE_CONNECTIONS_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SCRAPE_TIMEOUT_S, MHD_OPTION_END);
    if (m->mhd == NULL) {
        fprintf(stderr, "lstd: cannot start the metrics endpoint\n");
        return -1;
    }
    return 0;
}

void rpc_metrics_stop(rpc_metrics **mp)
{
    rpc_metrics *m = *mp;
    if (m == NULL)
        return;
    *mp = NULL;
    if (m->mhd != NULL)
        MHD_stop_daemon(m->mhd); /* closes the listening socket it was given */
    else
        close(m->fd);
    free(m);
}
