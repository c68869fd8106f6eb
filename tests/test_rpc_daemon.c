/* test_rpc_daemon.c - lstd as a process: SIGHUP, one lstd per data directory, bind first */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "rpc_harness.h"
#include "store_lmdb.h"
#include "test_util.h"

#if !defined(LSTD_VERIFY) || !defined(LSTD_BACKUP) || !defined(LSTD_INSPECT)
#error "LSTD_VERIFY, LSTD_BACKUP and LSTD_INSPECT (tool paths) must be defined by the build"
#endif

#define RUN_TIMEOUT_MS 30000
#define LOG_WAIT_MS 10000
#define BURST 40

/* ---- helpers --------------------------------------------------------------------------------- */

/* A server record whose stderr is kept in DIR/stderr.txt. */
static rh_server *prepare(const char *const *extra)
{
    rh_server *s = rh_prepare(extra);
    snprintf(s->err_path, sizeof s->err_path, "%s/stderr.txt", s->dir);
    return s;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "test_rpc_daemon: cannot write %s\n", path);
        abort();
    }
}

/* Occurrences of text in what the server wrote on stderr. */
static int log_count(const rh_server *s, const char *text)
{
    char *log = test_read_file(s->err_path);
    int n = 0;
    for (const char *p = log; (p = strstr(p, text)) != NULL; p += strlen(text))
        n++;
    free(log);
    return n;
}

/* Wait until the server's stderr holds text at least n times; a failed check otherwise. */
static void wait_log(const rh_server *s, const char *text, int n, int line)
{
    uint64_t deadline = rh_now_ms() + LOG_WAIT_MS;
    while (log_count(s, text) < n) {
        if (rh_now_ms() > deadline) {
            char *log = test_read_file(s->err_path);
            fprintf(stderr, "%s:%d: lstd's stderr lacks \"%s\" (x%d):\n%s---\n", __FILE__, line,
                    text, n, log);
            free(log);
            test_failures++;
            return;
        }
        rh_sleep_ms(10);
    }
}
#define WAIT_LOG(s, text, n) wait_log((s), (text), (n), __LINE__)

/* The server answers a query. */
static void check_answers(const rh_server *s)
{
    rh_reply r;
    void *d = rh_dealer(s);
    rh_reply_init(&r);
    CHECK(rh_query(d, &r, "pool", NULL, 0) == 0);
    CHECK_OK(&r);
    rh_reply_free(&r);
    rh_close(d);
}

static uint64_t batch_size_max(const rh_server *s)
{
    rh_reply r;
    void *d = rh_dealer(s);
    rh_reply_init(&r);
    CHECK(rh_query(d, &r, "health", NULL, 0) == 0);
    uint64_t n = RH_U64(RH_MAP(RH_MAP(r.root, "result"), "counters"), "batch_size_max");
    rh_reply_free(&r);
    rh_close(d);
    return n;
}

/* BURST deposits sent while the server is stopped (SIGSTOP), so that they are all waiting when
 * it continues and the sequencer may group as many as batch-max allows. */
static void burst(rh_server *s, uint64_t *nonce)
{
    rh_key to;
    rh_reply r;
    msgpack_sbuffer buf;
    void *d = rh_dealer(s);
    rh_keygen(&to);
    rh_reply_init(&r);
    msgpack_sbuffer_init(&buf);
    if (rh_pause(s) != 0)
        test_failures++;
    for (int i = 0; i < BURST; i++) {
        uint8_t hash[32], sig[64];
        ledger_tx tx = rh_tx(LEDGER_TX_DEPOSIT);
        tx.nonce = ++*nonce;
        rh_tx_key(&tx, "to", to.pk);
        rh_tx_u64(&tx, "amount", 1000000);
        memcpy(tx.ref, &tx.nonce, sizeof tx.nonce);
        rh_sign(s, &tx, &s->custodian, hash, sig);
        rh_pack_tx(&buf, &tx, sig, rh_next_id(), NULL, NULL);
        CHECK(rh_send(d, buf.data, buf.size) == 0);
    }
    rh_signal(s, SIGCONT);
    for (int i = 0; i < BURST; i++) {
        CHECK(rh_recv(d, &r) == 0);
        CHECK_OK(&r);
    }
    rh_reply_free(&r);
    msgpack_sbuffer_destroy(&buf);
    rh_close(d);
}

static bool exited_with(const rh_server *s, int code)
{
    return s->has_status && WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == code;
}

/* ---- SIGHUP ---------------------------------------------------------------------------------- */

/* Without a config file there is nothing to read again: a line says so, and lstd serves on. */
static void test_sighup_without_config(void)
{
    rh_server *s = prepare(NULL);
    CHECK(rh_launch(s) == 0);
    rh_signal(s, SIGHUP);
    WAIT_LOG(s, " level=info event=reload config=none outcome=unchanged msg=", 1);
    rh_signal(s, SIGHUP);
    WAIT_LOG(s, " event=reload config=none outcome=unchanged", 2);
    CHECK(rh_running(s));
    check_answers(s);
    CHECK_U64(rh_stop(s, SIGTERM, 10000), 0);
    rh_free(&s);
}

/* With one: batch-max is applied (a burst is then committed in groups of at most that many),
 * other changes are named as needing a restart, and a file that no longer parses changes
 * nothing. Every time, lstd keeps serving; SIGTERM still stops it with 0. */
static void test_sighup_reload(void)
{
    char conf[700], want[2048];
    uint64_t nonce = 0;
    rh_server *s = prepare(NULL);
    snprintf(conf, sizeof conf, "%s/lstd.conf", s->dir);
    write_file(conf, "# service settings only (a development ledger)\nbatch_max = 4096\n");
    s->extra[s->extra_count++] = strdup("--config");
    s->extra[s->extra_count++] = strdup(conf);
    CHECK(rh_launch(s) == 0);

    write_file(conf, "batch_max = 2\nqueue_max = 99\n");
    rh_signal(s, SIGHUP);
    snprintf(want, sizeof want,
             " level=info event=reload config=%s outcome=applied applied=batch_max:4096->2 "
             "needs_restart=queue_max\n",
             conf);
    WAIT_LOG(s, want, 1);
    burst(s, &nonce);
    uint64_t max = batch_size_max(s);
    CHECK(max >= 1 && max <= 2);

    /* a file that no longer parses: reported, the running settings (batch-max 2) kept */
    write_file(conf, "batch_max = 64\nbatch-mx = 64\n");
    rh_signal(s, SIGHUP);
    snprintf(want, sizeof want,
             " level=error event=reload config=%s outcome=kept msg=\"kept the running settings: "
             "%s:2: unknown key 'batch-mx'; did you mean batch_max?\"\n",
             conf, conf);
    WAIT_LOG(s, want, 1);
    burst(s, &nonce);
    max = batch_size_max(s);
    CHECK(max >= 1 && max <= 2);

    write_file(conf, "batch_max = 2\n");
    rh_signal(s, SIGHUP);
    snprintf(want, sizeof want, " event=reload config=%s outcome=unchanged\n", conf);
    WAIT_LOG(s, want, 1);
    check_answers(s);
    CHECK_U64(rh_stop(s, SIGTERM, 10000), 0);
    rh_free(&s);
}

/* ---- one lstd per data directory ------------------------------------------------------------- */

static void run_tool(const char *const *argv, int want, const char *says)
{
    char *out = NULL;
    int code = test_run(argv, RUN_TIMEOUT_MS, &out, NULL);
    if (code != want || (says != NULL && strstr(out, says) == NULL)) {
        fprintf(stderr, "test_rpc_daemon: %s exited %d (want %d):\n%s---\n", argv[0], code, want,
                out);
        test_failures++;
    }
    free(out);
}

/* A second lstd on a served directory exits 1 naming the directory and the first one's pid;
 * the read-only tools work beside it; once the first stops, another starts there. */
static void test_second_refused(void)
{
    char lock[700], want[1600], backup[700];
    struct stat st;
    rh_server *first = prepare(NULL);
    CHECK(rh_launch(first) == 0);
    snprintf(lock, sizeof lock, "%s/lstd.lock", first->data_dir);
    CHECK(stat(lock, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600);
    char *text = test_read_file(lock);
    CHECK(atol(text) == (long)first->pid);
    free(text);

    rh_server *second = prepare(NULL);
    snprintf(second->data_dir, sizeof second->data_dir, "%s", first->data_dir);
    CHECK(rh_launch(second) != 0);
    CHECK(exited_with(second, 1));
    snprintf(want, sizeof want,
             " level=error event=datadir_in_use msg=\"%s is in use by another lstd (pid %d holds "
             "%s); one process per ledger: stop that one first\"\n",
             first->data_dir, (int)first->pid, lock);
    WAIT_LOG(second, want, 1);
    check_answers(first);

    run_tool((const char *const[]){LSTD_VERIFY, first->data_dir, NULL}, 0, "lstd-verify: OK");
    run_tool((const char *const[]){LSTD_INSPECT, first->data_dir, NULL}, 0, first->ledger_id);
    snprintf(backup, sizeof backup, "%s/backup", second->dir);
    run_tool((const char *const[]){LSTD_BACKUP, first->data_dir, backup, NULL}, 0, NULL);
    check_answers(first);

    CHECK_U64(rh_stop(first, SIGTERM, 10000), 0);
    CHECK(rh_launch(second) == 0);
    CHECK(strcmp(second->ledger_id, first->ledger_id) == 0);
    text = test_read_file(lock);
    CHECK(atol(text) == (long)second->pid);
    free(text);
    CHECK_U64(rh_stop(second, SIGTERM, 10000), 0);
    rh_free(&second);
    rh_free(&first);
}

/* Hold DIR/lstd.lock as lstd would (this test's pid in it). Returns: the descriptor. */
static int hold_lock(const char *dir)
{
    char path[700], pid[32];
    snprintf(path, sizeof path, "%s/lstd.lock", dir);
    snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    CHECK(write(fd, pid, strlen(pid)) == (ssize_t)strlen(pid));
    return fd;
}

/* init takes the lock too, after its emptiness check: refused while another holds it; a
 * directory holding only the lock file is empty to it (and unused to --dev). */
static void test_init_locked(void)
{
    char *dir = test_tmpdir("lstd-lock"), data[600], ledger[700], want[1400], *err = NULL;
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(ledger, sizeof ledger, "%s/ledger/data.mdb", data);
    CHECK(mkdir(data, 0700) == 0);
    int fd = hold_lock(data);
    /* init says it plainly ("lstd: ..."), serving in a log line (msg="..."): both this */
    snprintf(want, sizeof want, "%s is in use by another lstd (pid %d holds %s/lstd.lock)", data,
             (int)getpid(), data);
    CHECK_U64(test_run((const char *const[]){LSTD_BINARY, "init", "--dev", "--data", data, NULL},
                       RUN_TIMEOUT_MS, NULL, &err),
              1);
    CHECK(strstr(err, want) != NULL);
    free(err);
    CHECK_U64(
        test_run((const char *const[]){LSTD_BINARY, "--dev", "--data", data, "--endpoint",
                                       "tcp://127.0.0.1:*", "--events", "tcp://127.0.0.1:*", NULL},
                 RUN_TIMEOUT_MS, NULL, &err),
        1);
    CHECK(strstr(err, want) != NULL);
    free(err);
    CHECK(rh_dir_unused(data));
    close(fd);
    CHECK_U64(test_run((const char *const[]){LSTD_BINARY, "init", "--dev", "--data", data, NULL},
                       RUN_TIMEOUT_MS, NULL, NULL),
              0);
    CHECK(access(ledger, F_OK) == 0);
    /* a directory that is not empty is refused before any lock file is made in it */
    char other[600], stray[700];
    snprintf(other, sizeof other, "%s/other", dir);
    snprintf(stray, sizeof stray, "%s/notes.txt", other);
    CHECK(mkdir(other, 0700) == 0);
    write_file(stray, "not a ledger\n");
    CHECK_U64(test_run((const char *const[]){LSTD_BINARY, "init", "--dev", "--data", other, NULL},
                       RUN_TIMEOUT_MS, NULL, NULL),
              1);
    snprintf(stray, sizeof stray, "%s/lstd.lock", other);
    CHECK(access(stray, F_OK) != 0);
    test_rmtree(dir);
    free(dir);
}

/* ---- bind before creating anything ----------------------------------------------------------- */

/* A plain TCP listener on 127.0.0.1, some free port. Out: *port. Returns: its descriptor. */
static int tcp_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 1) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* With --dev on an unused directory and a port already taken, lstd exits 1 having created no
 * ledger and no keys; once the ports are free, the same directory gets its ledger. */
static void test_bind_first(void)
{
    char url[64], ev_url[256], want[300];
    size_t ev_len = sizeof ev_url;
    int port;
    int listener = tcp_listener(&port);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    rh_server *s = prepare((const char *const[]){"--endpoint", url, NULL});
    CHECK(rh_launch(s) != 0);
    CHECK(exited_with(s, 1));
    snprintf(want, sizeof want, "lstd: cannot bind %s: ", url);
    WAIT_LOG(s, want, 1);
    CHECK(rh_dir_unused(s->data_dir));

    /* the events port, taken by a ZeroMQ socket this time */
    void *pub = zmq_socket(rh_ctx(), ZMQ_PUB);
    CHECK(pub != NULL && zmq_bind(pub, "tcp://127.0.0.1:*") == 0 &&
          zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, ev_url, &ev_len) == 0);
    const char *more[] = {"--endpoint", "tcp://127.0.0.1:*", "--events", ev_url};
    for (int i = 0; i < 4; i++)
        s->extra[s->extra_count++] = strdup(more[i]); /* later flags override earlier ones */
    CHECK(rh_launch(s) != 0);
    CHECK(exited_with(s, 1));
    snprintf(want, sizeof want, "lstd: cannot bind %s: ", ev_url);
    WAIT_LOG(s, want, 1);
    CHECK(rh_dir_unused(s->data_dir));

    close(listener);
    zmq_close(pub);
    s->extra[s->extra_count++] = strdup("--events");
    s->extra[s->extra_count++] = strdup("tcp://127.0.0.1:*");
    CHECK(rh_launch(s) == 0); /* the development ledger, its keys loaded by the harness */
    check_answers(s);
    CHECK_U64(rh_stop(s, SIGTERM, 10000), 0);
    rh_free(&s);
}

/* ---- upgrades ----------------------------------------------------------------------------------
 */

/* Set the log's format marker (meta key 3, ledger/README.md "The data directory") to format.
 * Returns: 0 or -1. */
static int set_log_format(const rh_server *s, uint8_t format)
{
    char dir[700];
    const uint8_t key = 3;
    store_lmdb *db = NULL;
    store_txn *txn = NULL;
    ledger_store view;
    snprintf(dir, sizeof dir, "%s/ledger", s->data_dir);
    int rc = store_lmdb_open(&db, dir, NULL);
    if (rc == 0)
        rc = store_lmdb_begin(db, true, &txn, &view);
    if (rc == 0)
        rc = view.put(view.self, LEDGER_T_META, &key, 1, &format, 1);
    if (rc == 0)
        rc = store_lmdb_commit(&txn);
    store_lmdb_abort(&txn);
    store_lmdb_close(&db);
    return rc == 0 ? 0 : -1;
}

/* The whole file. Out: *len. Returns: malloc'd bytes (the caller frees), NULL when unreadable. */
static uint8_t *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    *len = 0;
    if (f == NULL)
        return NULL;
    for (size_t cap = 0;;) {
        if (*len == cap) {
            uint8_t *grown = realloc(buf, cap = cap * 2 + 65536);
            if (grown == NULL)
                abort();
            buf = grown;
        }
        size_t n = fread(buf + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    return buf;
}

/* A ledger whose log names a format this lstd does not know (one a newer lstd wrote, or an
 * older one) is refused at open, exit 1, naming the ledger, and left exactly as it was; with
 * its format back it is served again. */
static void test_newer_format(void)
{
    char log[700], want[800];
    rh_server *s = prepare(NULL);
    CHECK(rh_launch(s) == 0);
    CHECK_U64(rh_stop(s, SIGTERM, 10000), 0);
    CHECK(set_log_format(s, 4) == 0);
    snprintf(log, sizeof log, "%s/ledger/data.mdb", s->data_dir);
    size_t before_len, after_len;
    uint8_t *before = read_bytes(log, &before_len);
    CHECK(rh_launch(s) != 0);
    CHECK(exited_with(s, 1));
    snprintf(
        want, sizeof want,
        " level=error event=open_failed msg=\"cannot open the ledger in %s/ledger: ", s->data_dir);
    WAIT_LOG(s, want, 1);
    WAIT_LOG(s, "was written by a newer lstd (log format 4; this version reads 3)", 1);
    WAIT_LOG(s, "(STORE_CORRUPT)\"\n", 1);
    uint8_t *after = read_bytes(log, &after_len);
    CHECK(before != NULL && after != NULL && before_len == after_len && before_len > 0 &&
          memcmp(before, after, before_len) == 0);
    free(before);
    free(after);
    CHECK(set_log_format(s, 2) == 0); /* an older format: refused too, and told so */
    CHECK(rh_launch(s) != 0);
    CHECK(exited_with(s, 1));
    WAIT_LOG(s, "was written by an older lstd (log format 2; this version reads 3", 1);
    CHECK(set_log_format(s, 3) == 0);
    CHECK(rh_launch(s) == 0);
    check_answers(s);
    CHECK_U64(rh_stop(s, SIGTERM, 10000), 0);
    rh_free(&s);
}

/* ---- replication -------------------------------------------------------------------------- */

/* Up to size - 1 bytes of the file at path, NUL-terminated; "" while it does not exist (safe
 * on a helper thread: test_read_file would end the test). */
static void read_quietly(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n = f != NULL ? fread(out, 1, size - 1, f) : 0;
    out[n] = '\0';
    if (f != NULL)
        fclose(f);
}

/* Once lstd says it waits for NATS, SIGTERM it (found by its lock file's pid: the launch is
 * still waiting for a ready line on the other thread). */
static void *term_when_waiting(void *arg)
{
    const rh_server *s = arg;
    char path[700], text[8192];
    snprintf(path, sizeof path, "%s/lstd.lock", s->data_dir);
    uint64_t deadline = rh_now_ms() + LOG_WAIT_MS;
    for (text[0] = '\0'; rh_now_ms() < deadline && !strstr(text, "event=replication_waiting");
         rh_sleep_ms(10))
        read_quietly(s->err_path, text, sizeof text);
    read_quietly(path, text, sizeof text);
    if (atoi(text) > 1)
        kill(atoi(text), SIGTERM);
    return NULL;
}

/* Serving waits for NATS for as long as it takes; a SIGTERM meanwhile is a stop as asked:
 * exit 0, not a refusal. Nothing listens on port 1, so NATS is never reached. */
static void test_sigterm_waiting_for_nats(void)
{
    rh_server *s = prepare((const char *const[]){"--replicate", "nats://127.0.0.1:1", NULL});
    pthread_t t;
    CHECK(pthread_create(&t, NULL, term_when_waiting, s) == 0);
    CHECK(rh_launch(s) != 0); /* no ready line: it stopped before serving */
    pthread_join(t, NULL);
    CHECK(exited_with(s, 0));
    WAIT_LOG(s, "event=replication_waiting", 1);
    WAIT_LOG(s, "event=stopped signal=SIGTERM exit=0", 1);
    CHECK(log_count(s, "replication_refused") == 0);
    rh_free(&s);
}

int main(void)
{
    rh_init("test_rpc_daemon", 120);
    test_sighup_without_config();
    test_sighup_reload();
    test_second_refused();
    test_init_locked();
    test_bind_first();
    test_newer_format();
    test_sigterm_waiting_for_nats();
    return test_finish("test_rpc_daemon");
}
