/* test_rpc_metrics.c - the Prometheus endpoint of a real lstd, scraped over plain HTTP */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rpc_harness.h"
#include "test_util.h"

#define TOKEN 1000000000ull
#define SAMPLES_MAX 8192
#define FAMILIES_MAX 512
#define LOG_WAIT_MS 10000

/* ---- the text format
 * ----------------------------------------------------------------------------- */

typedef struct sample {
    char name[128], labels[256];
    double value;
} sample;

typedef struct family {
    char name[128], type[32];
    bool help;
} family;

typedef struct scrape {
    sample s[SAMPLES_MAX];
    size_t n;
    family f[FAMILIES_MAX];
    size_t nf;
} scrape;

static family *family_of(scrape *m, const char *name)
{
    for (size_t i = 0; i < m->nf; i++)
        if (strcmp(m->f[i].name, name) == 0)
            return &m->f[i];
    if (m->nf == FAMILIES_MAX)
        return NULL;
    family *f = &m->f[m->nf++];
    snprintf(f->name, sizeof f->name, "%s", name);
    return f;
}

static bool name_ok(const char *s)
{
    if (!(*s == '_' || *s == ':' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:") ==
           strlen(s);
}

/* The family a sample belongs to: a histogram's for name_bucket/_sum/_count, else its own. */
static family *sample_family(scrape *m, const char *name)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (int i = 0; i < 3; i++) {
        size_t ln = strlen(name), ls = strlen(suffixes[i]);
        char base[128];
        if (ln <= ls || strcmp(name + ln - ls, suffixes[i]) != 0 || ln - ls >= sizeof base)
            continue;
        memcpy(base, name, ln - ls);
        base[ln - ls] = '\0';
        for (size_t j = 0; j < m->nf; j++)
            if (strcmp(m->f[j].name, base) == 0 && strcmp(m->f[j].type, "histogram") == 0)
                return &m->f[j];
    }
    for (size_t j = 0; j < m->nf; j++)
        if (strcmp(m->f[j].name, name) == 0)
            return &m->f[j];
    return NULL;
}

/* Labels: `k="v"` pairs separated by commas, values with \\, \" and \n escapes. */
static bool labels_ok(const char *s)
{
    while (*s != '\0') {
        const char *eq = strchr(s, '=');
        char key[64];
        if (eq == NULL || (size_t)(eq - s) >= sizeof key || eq[1] != '"')
            return false;
        memcpy(key, s, (size_t)(eq - s));
        key[eq - s] = '\0';
        if (!name_ok(key))
            return false;
        s = eq + 2;
        while (*s != '"') {
            if (*s == '\0')
                return false;
            s += *s == '\\' ? 2 : 1;
        }
        s++;
        if (*s == ',')
            s++;
        else if (*s != '\0')
            return false;
    }
    return true;
}

/* Parse one line into m; a line of no known shape is a failed check. */
static void parse_line(scrape *m, char *line)
{
    char name[128], type[32];
    int off = 0;
    if (line[0] == '#') {
        family *f;
        if (sscanf(line, "# HELP %127s %n", name, &off) == 1 && off > 0) {
            CHECK((f = family_of(m, name)) != NULL && !f->help && line[off] != '\0');
            if (f != NULL)
                f->help = true;
        } else if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
            CHECK((f = family_of(m, name)) != NULL && f->type[0] == '\0');
            CHECK(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                  strcmp(type, "histogram") == 0);
            if (f != NULL)
                snprintf(f->type, sizeof f->type, "%s", type);
        } else {
            fprintf(stderr, "test_rpc_metrics: a comment of another shape: %s\n", line);
            test_failures++;
        }
        return;
    }
    sample *s = &m->s[m->n];
    char *brace = strchr(line, '{'), *space, *end;
    if (m->n == SAMPLES_MAX)
        return;
    if (brace != NULL) {
        char *close = strrchr(line, '}');
        CHECK(close != NULL && close > brace && close[1] == ' ');
        if (close == NULL || close < brace)
            return;
        *brace = *close = '\0';
        snprintf(s->labels, sizeof s->labels, "%s", brace + 1);
        CHECK(labels_ok(s->labels));
        space = close + 1;
    } else {
        space = strchr(line, ' ');
        s->labels[0] = '\0';
        if (space == NULL) {
            fprintf(stderr, "test_rpc_metrics: a sample without a value: %s\n", line);
            test_failures++;
            return;
        }
        *space = '\0';
    }
    snprintf(s->name, sizeof s->name, "%s", line);
    s->value = strtod(space + 1, &end);
    if (!name_ok(s->name) || end == space + 1 || *end != '\0') {
        fprintf(stderr, "test_rpc_metrics: a sample of another shape: %s %s\n", s->name, space + 1);
        test_failures++;
        return;
    }
    family *f = sample_family(m, s->name);
    if (f == NULL || !f->help || f->type[0] == '\0') {
        fprintf(stderr, "test_rpc_metrics: %s without HELP and TYPE before it\n", s->name);
        test_failures++;
    }
    CHECK(strncmp(s->name, "lstd_", 5) == 0);
    if (f != NULL && strcmp(f->type, "counter") == 0) {
        size_t ln = strlen(s->name);
        CHECK(ln > 6 && strcmp(s->name + ln - 6, "_total") == 0);
    }
    m->n++;
}

/* le of a bucket's labels, as a number (+Inf as INFINITY). */
static double le_of(const char *labels)
{
    const char *p = strstr(labels, "le=\"");
    if (p == NULL)
        return NAN;
    return strncmp(p + 4, "+Inf", 4) == 0 ? INFINITY : strtod(p + 4, NULL);
}

static const sample *find(const scrape *m, const char *name, const char *labels)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->s[i].name, name) == 0 && strcmp(m->s[i].labels, labels) == 0)
            return &m->s[i];
    return NULL;
}

/* Every histogram: buckets in increasing le, cumulative, ending in +Inf equal to _count, and a
 * _sum. */
static void check_histograms(const scrape *m)
{
    for (size_t j = 0; j < m->nf; j++) {
        const family *f = &m->f[j];
        char bucket[140], count[140], sum[140];
        if (strcmp(f->type, "histogram") != 0)
            continue;
        snprintf(bucket, sizeof bucket, "%s_bucket", f->name);
        snprintf(count, sizeof count, "%s_count", f->name);
        snprintf(sum, sizeof sum, "%s_sum", f->name);
        double last_le = -INFINITY, last_v = 0;
        int buckets = 0;
        for (size_t i = 0; i < m->n; i++) {
            if (strcmp(m->s[i].name, bucket) != 0)
                continue;
            double le = le_of(m->s[i].labels);
            CHECK(le > last_le);
            CHECK(m->s[i].value >= last_v);
            last_le = le, last_v = m->s[i].value;
            buckets++;
        }
        const sample *c = find(m, count, ""), *s = find(m, sum, "");
        CHECK(buckets >= 2 && isinf(last_le));
        CHECK(c != NULL && s != NULL);
        if (c != NULL)
            CHECK(c->value == last_v);
    }
}

/* Scrape url and parse it, checking its shape. Out: *ms (the scrape's time). Returns: the
 * scrape (free it), or NULL. */
static scrape *scrape_url(const char *url, double *ms)
{
    rh_http_reply r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (rh_http(url, "GET", "/metrics", &r) != 0) {
        test_failures++;
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ms != NULL)
        *ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK_U64(r.status, 200);
    CHECK(strstr(r.head, "Content-Type: text/plain; version=0.0.4") != NULL);
    scrape *m = calloc(1, sizeof *m);
    CHECK(m != NULL);
    for (char *line = strtok(r.body, "\n"); m != NULL && line != NULL; line = strtok(NULL, "\n"))
        parse_line(m, line);
    if (m != NULL)
        check_histograms(m);
    rh_http_free(&r);
    return m;
}

static double value(const scrape *m, const char *name, const char *labels, int line)
{
    const sample *s = find(m, name, labels);
    if (s == NULL) {
        fprintf(stderr, "%s:%d: no sample %s{%s}\n", __FILE__, line, name, labels);
        test_failures++;
        return NAN;
    }
    return s->value;
}
#define VALUE(m, name, labels) value((m), (name), (labels), __LINE__)
#define CHECK_METRIC(m, name, labels, want)                                                        \
    CHECK_U64((uint64_t)VALUE((m), (name), (labels)), (uint64_t)(want))

/* ---- the scrape --------------------------------------------------------------------------------
 */

static uint64_t submit_ok(rh_server *s, void *d, ledger_tx *t, const rh_key *k, rh_reply *r)
{
    CHECK(rh_submit(s, d, t, k, r, NULL) == 0);
    CHECK_OK(r);
    return RH_U64(RH_MAP(r->root, "result"), "seq");
}

/* Deposit, transfer, a rejected transfer, a bad signature, a duplicate, a malformed request,
 * an operator's funding and report, then one scrape checked against what was sent and against
 * the pool, operator and health queries. */
static void test_scrape(void)
{
    rh_server *s = rh_start(NULL);
    CHECK(s != NULL);
    if (s == NULL)
        return;
    CHECK(strncmp(s->metrics, "http://127.0.0.1:", 17) == 0);
    void *d = rh_dealer(s);
    rh_reply r;
    rh_key alice, bob;
    uint8_t ref[32] = {7}, hash[32], sig[64];
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    rh_reply_init(&r);
    rh_keygen(&alice);
    rh_keygen(&bob);

    ledger_tx dep = rh_tx(LEDGER_TX_DEPOSIT);
    rh_tx_key(&dep, "to", alice.pk), rh_tx_u64(&dep, "amount", 100 * TOKEN);
    rh_tx_key(&dep, "external_ref", ref);
    submit_ok(s, d, &dep, &s->custodian, &r);
    rh_sign(s, &dep, &s->custodian, hash, sig); /* the same transaction again: a duplicate */
    rh_pack_tx(&buf, &dep, sig, rh_next_id(), NULL, NULL);
    CHECK(rh_call(d, &buf, 0, &r) == 0);
    CHECK(RH_BOOL(RH_MAP(r.root, "result"), "duplicate"));

    ledger_tx tr = rh_tx(LEDGER_TX_TRANSFER);
    rh_tx_key(&tr, "to", bob.pk), rh_tx_u64(&tr, "shares", 25 * TOKEN);
    submit_ok(s, d, &tr, &alice, &r);
    ledger_tx big = rh_tx(LEDGER_TX_TRANSFER); /* more than alice holds: recorded, rejected */
    rh_tx_key(&big, "to", bob.pk), rh_tx_u64(&big, "shares", 1000 * TOKEN);
    CHECK(rh_submit(s, d, &big, &alice, &r, NULL) == 0);
    CHECK_ERROR(&r, "INSUFFICIENT_SHARES");
    ledger_tx bad = rh_tx(LEDGER_TX_TRANSFER); /* a signature by another key */
    rh_tx_key(&bad, "to", bob.pk), rh_tx_u64(&bad, "shares", 1);
    bad.nonce = 3;
    rh_sign(s, &bad, &bob, hash, sig);
    memcpy(bad.signer, alice.pk, 32);
    rh_pack_tx(&buf, &bad, sig, rh_next_id(), NULL, NULL);
    CHECK(rh_call(d, &buf, 0, &r) == 0);
    CHECK_ERROR(&r, "BAD_SIGNATURE");
    CHECK(rh_send(d, "\xc1\xc1", 2) == 0); /* not msgpack */
    CHECK(rh_recv(d, &r) == 0);
    CHECK_ERROR(&r, "MALFORMED");

    ledger_tx fund = rh_tx(LEDGER_TX_OPERATOR_FUND);
    rh_tx_u64(&fund, "operator_id", 1), rh_tx_u64(&fund, "amount", 40 * TOKEN);
    submit_ok(s, d, &fund, &s->custodian, &r);
    ledger_tx rep = rh_tx(LEDGER_TX_REPORT);
    rh_tx_u64(&rep, "operator_id", 1), rh_tx_u64(&rep, "epoch", 1);
    rh_tx_u64(&rep, "balance", 40 * TOKEN);
    submit_ok(s, d, &rep, &s->operator_key, &r);
    uint64_t report_time = RH_U64(RH_MAP(r.root, "result"), "time");

    /* the store marks a commit durable just after its replies go out: wait for the last one */
    double ms = 0;
    scrape *m = NULL;
    for (uint64_t deadline = rh_now_ms() + 5000;; rh_sleep_ms(10)) {
        free(m);
        m = scrape_url(s->metrics, &ms);
        const sample *ds = m != NULL ? find(m, "lstd_durable_seq", "") : NULL;
        const sample *sq = m != NULL ? find(m, "lstd_seq", "") : NULL;
        if (m == NULL || (ds != NULL && sq != NULL && ds->value == sq->value) ||
            rh_now_ms() > deadline)
            break;
    }
    CHECK(m != NULL);
    if (m == NULL)
        goto done;
    printf("test_rpc_metrics: %zu samples in %zu families, scraped in %.2f ms\n", m->n, m->nf, ms);
    CHECK_METRIC(m, "lstd_build_info", "version=\"" LSTD_VERSION "\"", 1);
    CHECK_METRIC(m, "lstd_transactions_total", "kind=\"deposit\",code=\"OK\"", 2); /* + dup */
    CHECK_METRIC(m, "lstd_transactions_total", "kind=\"transfer\",code=\"OK\"", 1);
    CHECK_METRIC(m, "lstd_transactions_total", "kind=\"transfer\",code=\"INSUFFICIENT_SHARES\"", 1);
    CHECK_METRIC(m, "lstd_transactions_total", "kind=\"transfer\",code=\"BAD_SIGNATURE\"", 1);
    CHECK_METRIC(m, "lstd_transactions_total", "kind=\"operator_fund\",code=\"OK\"", 1);
    CHECK_METRIC(m, "lstd_transactions_total", "kind=\"report\",code=\"OK\"", 1);
    CHECK_METRIC(m, "lstd_transactions_total", "kind=\"lock\",code=\"OK\"", 0);
    CHECK(find(m, "lstd_transactions_total", "kind=\"lock\",code=\"NOT_ADMIN\"") == NULL);
    CHECK_METRIC(m, "lstd_malformed_total", "", 1);
    CHECK_METRIC(m, "lstd_bad_signatures_total", "", 1);
    CHECK_METRIC(m, "lstd_duplicates_total", "", 1);
    CHECK_METRIC(m, "lstd_busy_total", "", 0);
    CHECK_METRIC(m, "lstd_replies_dropped_total", "", 0);
    CHECK_METRIC(m, "lstd_batches_failed_total", "", 0);
    CHECK_METRIC(m, "lstd_queue_depth", "", 0);
    CHECK_METRIC(m, "lstd_queue_max", "", 16384);
    CHECK(VALUE(m, "lstd_clients_connected", "") >= 1); /* this dealer (the harness's may linger) */
    CHECK(VALUE(m, "lstd_client_connections_total", "") >= 2); /* and the harness's first */
    CHECK(VALUE(m, "lstd_uptime_seconds", "") >= 0);
    CHECK(VALUE(m, "lstd_start_time_seconds", "") <= (double)time(NULL));

    /* the health query right after: its requests include itself */
    CHECK(rh_query(d, &r, "health", NULL, 0) == 0);
    const msgpack_object *c = RH_MAP(RH_MAP(r.root, "result"), "counters");
    CHECK_METRIC(m, "lstd_requests_total", "", RH_U64(c, "requests") - 1);
    CHECK_METRIC(m, "lstd_batch_size_requests_count", "", RH_U64(c, "batches"));
    CHECK_METRIC(m, "lstd_commit_latency_seconds_count", "", RH_U64(c, "batches"));
    CHECK_METRIC(m, "lstd_batch_size_max", "", RH_U64(c, "batch_size_max"));
    CHECK(VALUE(m, "lstd_queries_total", "op=\"account\"") >= 1); /* rh_submit's nonces */
    CHECK_METRIC(m, "lstd_queries_total", "op=\"health\"", 0);
    CHECK_METRIC(m, "lstd_batch_size_requests_sum", "", RH_U64(c, "batches")); /* one each */
    CHECK(VALUE(m, "lstd_log_commit_seconds_count", "") >= 1);

    /* the ledger's gauges against the pool and operator queries */
    CHECK(rh_query(d, &r, "pool", NULL, 0) == 0);
    const msgpack_object *p = RH_MAP(r.root, "result");
    CHECK_METRIC(m, "lstd_seq", "", RH_U64(p, "seq"));
    CHECK_METRIC(m, "lstd_durable_seq", "", RH_U64(p, "seq"));
    CHECK_METRIC(m, "lstd_last_batch_timestamp_seconds", "", RH_U64(p, "time"));
    CHECK_METRIC(m, "lstd_pool_assets_base_units", "", RH_U64(p, "assets"));
    CHECK_METRIC(m, "lstd_pool_shares", "", RH_U64(p, "shares"));
    CHECK_METRIC(m, "lstd_pool_unvested_base_units", "", RH_U64(p, "unvested"));
    CHECK_METRIC(m, "lstd_pool_buffer_base_units", "", RH_U64(p, "buffer"));
    CHECK_METRIC(m, "lstd_pool_decimals", "", 9);
    CHECK_METRIC(m, "lstd_pool_bunker", "", 0);
    CHECK_METRIC(m, "lstd_operators", "", RH_U64(p, "operator_count"));
    CHECK(fabs(VALUE(m, "lstd_pool_rate", "") -
               (double)RH_U64(p, "assets") / (double)RH_U64(p, "shares")) < 1e-12);
    CHECK_METRIC(m, "lstd_withdrawal_queue_requests", "", 0);
    CHECK(VALUE(m, "lstd_accounts", "") >= 3); /* the dead account, alice, bob, signers */
    CHECK_METRIC(m, "lstd_operator_balance_base_units", "operator_id=\"1\"", 40 * TOKEN);
    CHECK_METRIC(m, "lstd_operator_last_report_timestamp_seconds", "operator_id=\"1\"",
                 report_time);
    CHECK(VALUE(m, "lstd_operator_last_report_age_seconds", "operator_id=\"1\"") <= 5);
    CHECK_METRIC(m, "lstd_operator_active", "operator_id=\"1\"", 1);
    CHECK_METRIC(m, "lstd_operator_report_held", "operator_id=\"1\"", 0);
    CHECK(VALUE(m, "lstd_state_memory_bytes", "part=\"state\"") > 0);
    CHECK_METRIC(m, "lstd_checkpoints_total", "", 0);

    /* only GET (and HEAD) of /metrics */
    rh_http_reply h;
    CHECK(rh_http(s->metrics, "GET", "/", &h) == 0);
    CHECK_U64(h.status, 404);
    rh_http_free(&h);
    CHECK(rh_http(s->metrics, "GET", "/metrics/x", &h) == 0);
    CHECK_U64(h.status, 404);
    rh_http_free(&h);
    CHECK(rh_http(s->metrics, "POST", "/metrics", &h) == 0);
    CHECK_U64(h.status, 405);
    CHECK(h.head != NULL && strstr(h.head, "Allow: GET, HEAD") != NULL);
    rh_http_free(&h);
    CHECK(rh_http(s->metrics, "HEAD", "/metrics", &h) == 0);
    CHECK_U64(h.status, 200);
    rh_http_free(&h);

    /* scrape time over 20 scrapes */
    double total = 0, worst = 0;
    for (int i = 0; i < 20; i++) {
        scrape *again = scrape_url(s->metrics, &ms);
        total += ms, worst = ms > worst ? ms : worst;
        free(again);
    }
    printf("test_rpc_metrics: 20 scrapes: mean %.2f ms, max %.2f ms\n", total / 20, worst);
    free(m);
done:
    msgpack_sbuffer_destroy(&buf);
    rh_reply_free(&r);
    rh_close(d);
    /* every connection closed: the socket monitor's disconnects bring the gauge to 0 */
    double connected = -1;
    for (uint64_t deadline = rh_now_ms() + 5000; connected != 0 && rh_now_ms() < deadline;) {
        scrape *later = scrape_url(s->metrics, NULL);
        const sample *cc = later != NULL ? find(later, "lstd_clients_connected", "") : NULL;
        connected = cc != NULL ? cc->value : -1;
        free(later);
        if (connected != 0)
            rh_sleep_ms(20);
    }
    CHECK(connected == 0);
    CHECK_U64(rh_stop(s, SIGTERM, 10000), 0);
    rh_free(&s);
}

/* ---- off, and a port already taken -------------------------------------------------------------
 */

/* Listening TCP sockets the process holds (its fds matched against /proc/net/tcp{,6}). */
static int listening_sockets(pid_t pid)
{
    char path[64], link[64];
    unsigned long inodes[256];
    int n = 0, listening = 0;
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    for (const struct dirent *e; (e = readdir(d)) != NULL && n < 256;) {
        char fd_path[320];
        snprintf(fd_path, sizeof fd_path, "%s/%s", path, e->d_name);
        ssize_t k = readlink(fd_path, link, sizeof link - 1);
        unsigned long inode;
        if (k > 0 && (link[k] = '\0', sscanf(link, "socket:[%lu]", &inode) == 1))
            inodes[n++] = inode;
    }
    closedir(d);
    const char *tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (int t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        char line[512];
        while (f != NULL && fgets(line, sizeof line, f) != NULL) {
            unsigned state;
            unsigned long inode;
            if (sscanf(line, " %*d: %*s %*s %x %*s %*s %*s %*s %*s %lu", &state, &inode) != 2 ||
                state != 0x0A)
                continue;
            for (int i = 0; i < n; i++)
                listening += inodes[i] == inode;
        }
        if (f != NULL)
            fclose(f);
    }
    return listening;
}

/* --metrics off: the ready line says so and lstd listens on its two ZeroMQ sockets only (three
 * with metrics on). */
static void test_off(void)
{
    rh_server *on = rh_start(NULL),
              *off = rh_start((const char *const[]){"--metrics", "off", NULL});
    CHECK(on != NULL && off != NULL);
    if (on != NULL && off != NULL) {
        CHECK(strcmp(off->metrics, "off") == 0);
        CHECK_U64(listening_sockets(on->pid), 3);
        CHECK_U64(listening_sockets(off->pid), 2);
    }
    if (on != NULL)
        CHECK_U64(rh_stop(on, SIGTERM, 10000), 0);
    if (off != NULL)
        CHECK_U64(rh_stop(off, SIGTERM, 10000), 0);
    rh_free(&on);
    rh_free(&off);
}

/* A metrics port already taken: exit 1 with a clear message, before any ledger or key is made;
 * a malformed address is a usage error (exit 2). */
static void test_port_taken(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    char addr[64], want[160];
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 1) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));
    rh_server *s = rh_prepare((const char *const[]){"--metrics", addr, NULL});
    snprintf(s->err_path, sizeof s->err_path, "%s/stderr.txt", s->dir);
    CHECK(rh_launch(s) != 0);
    CHECK(s->has_status && WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 1);
    char *err = test_read_file(s->err_path);
    snprintf(want, sizeof want, "lstd: cannot bind --metrics %s: Address already in use", addr);
    if (strstr(err, want) == NULL) {
        fprintf(stderr, "test_rpc_metrics: stderr lacks \"%s\":\n%s\n", want, err);
        test_failures++;
    }
    free(err);
    CHECK(rh_dir_unused(s->data_dir));
    close(fd);
    rh_free(&s);

    char *out = NULL;
    int code = test_run((const char *const[]){LSTD_BINARY, "--metrics", "localhost:80", NULL},
                        30000, NULL, &out);
    CHECK_U64(code, 2);
    CHECK(out != NULL && strstr(out, "--metrics localhost:80: bad value") != NULL);
    free(out);
}

int main(void)
{
    rh_init("test_rpc_metrics", 120);
    test_scrape();
    test_off();
    test_port_taken();
    return test_finish("test_rpc_metrics");
}
