/* rpc_harness.c - start, stop and restart a real lstd process; build, send and read requests */
#include "rpc_harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto.h"
#include "rpc_config.h"
#include "rpc_reply.h"
#include "zmtp_raw.h"
#include "test_util.h"

#ifndef LSTD_BINARY
#error "LSTD_BINARY (path of the lstd executable) must be defined by the build"
#endif

#define READY_TIMEOUT_MS 30000
#define SERVERS_MAX 16

static const char *test_name = "test";
static void *zctx;
static pid_t running[SERVERS_MAX]; /* process groups to kill if the test dies */
static uint64_t id_counter;

/* ---- safety nets ------------------------------------------------------------------------- */

static void track(pid_t pid)
{
    for (int i = 0; i < SERVERS_MAX; i++)
        if (running[i] == 0) {
            running[i] = pid;
            return;
        }
    fprintf(stderr, "%s: too many servers\n", test_name);
    abort();
}

static void untrack(pid_t pid)
{
    for (int i = 0; i < SERVERS_MAX; i++)
        if (running[i] == pid)
            running[i] = 0;
}

/* Async-signal-safe: SIGKILL every server's process group. */
static void kill_all(void)
{
    for (int i = 0; i < SERVERS_MAX; i++)
        if (running[i] > 0) {
            kill(-running[i], SIGKILL);
            kill(running[i], SIGKILL);
        }
}

static void at_exit(void)
{
    for (int i = 0; i < SERVERS_MAX; i++)
        if (running[i] > 0) {
            kill(-running[i], SIGKILL);
            kill(running[i], SIGKILL);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
}

static void on_alarm(int sig)
{
    static const char msg[] = "rpc_harness: test-wide timeout: killing the servers\n";
    (void)sig;
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    kill_all();
    _exit(3);
}

static void on_fatal(int sig)
{
    kill_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

void rh_init(const char *name, unsigned timeout_s)
{
    test_name = name;
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint64_t t = test_env_u64("LSTD_TEST_TIMEOUT_S", timeout_s);
    atexit(at_exit);
    signal(SIGALRM, on_alarm);
    signal(SIGINT, on_fatal);
    signal(SIGTERM, on_fatal);
    signal(SIGHUP, on_fatal);
    signal(SIGABRT, on_fatal);
    alarm((unsigned)t);
}

void *rh_ctx(void)
{
    if (zctx == NULL) {
        zctx = zmq_ctx_new();
        if (zctx == NULL) {
            fprintf(stderr, "%s: zmq_ctx_new failed\n", test_name);
            abort();
        }
    }
    return zctx;
}

uint64_t rh_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void rh_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- keys --------------------------------------------------------------------------------- */

void rh_hex(char out[65], const uint8_t in[32])
{
    rpc_hex_encode32(out, in);
}

void rh_keygen(rh_key *k)
{
    if (crypto_keygen(k->sk, k->pk) != 0) {
        fprintf(stderr, "%s: crypto_keygen failed\n", test_name);
        abort();
    }
}

int rh_load_key(const rh_server *s, const char *role, rh_key *k)
{
    char path[700], line[128];
    snprintf(path, sizeof path, "%s/keys/%s.key", s->data_dir, role);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot open %s: %s\n", test_name, path, strerror(errno));
        return -1;
    }
    char *got = fgets(line, sizeof line, f);
    fclose(f);
    if (got == NULL || strlen(line) != 65 || line[64] != '\n') {
        fprintf(stderr, "%s: %s is not 64 hex characters and a newline\n", test_name, path);
        return -1;
    }
    line[64] = '\0';
    if (rpc_hex_decode32(k->sk, line) != 0) {
        fprintf(stderr, "%s: %s: bad hex\n", test_name, path);
        return -1;
    }
    if (crypto_pubkey(k->pk, k->sk) != 0) {
        fprintf(stderr, "%s: %s: not a valid secret key\n", test_name, path);
        return -1;
    }
    return 0;
}

/* ---- process control ------------------------------------------------------------------------ */

static void child_exec(char **argv, int out_fd, int err_fd, pid_t parent)
{
    sigset_t none;
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    if (dup2(out_fd, 1) < 0 || (err_fd >= 0 && dup2(err_fd, 2) < 0))
        _exit(127);
    close_range(3, ~0u, 0);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(argv[0], argv);
    _exit(127);
}

static void describe_status(const char *what, int st)
{
    if (WIFEXITED(st))
        fprintf(stderr, "%s: lstd %s: exited with status %d\n", test_name, what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        fprintf(stderr, "%s: lstd %s: killed by signal %d\n", test_name, what, WTERMSIG(st));
}

/* Read the child's stdout until the ready line. Returns: 0 or -1. */
static int read_ready(rh_server *s, int fd)
{
    char buf[8192];
    size_t used = 0;
    uint64_t deadline = rh_now_ms() + READY_TIMEOUT_MS;
    for (;;) {
        uint64_t now = rh_now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (now >= deadline) {
            fprintf(stderr, "%s: lstd printed no ready line within %d ms\n", test_name,
                    READY_TIMEOUT_MS);
            return -1;
        }
        int rc = poll(&p, 1, (int)(deadline - now));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            continue;
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "%s: lstd closed stdout before the ready line\n", test_name);
            return -1;
        }
        used += (size_t)n;
        buf[used] = '\0';
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = '\0';
            if (strncmp(line, "lstd: ready ", 12) == 0) {
                const char *m = strstr(line, " metrics=");
                if (sscanf(line, "lstd: ready requests=%255s events=%255s", s->requests,
                           s->events) != 2 ||
                    m == NULL || sscanf(m, " metrics=%255s", s->metrics) != 1) {
                    fprintf(stderr, "%s: bad ready line: %s\n", test_name, line);
                    return -1;
                }
                return 0;
            }
            line = nl + 1;
        }
        used = strlen(line);
        memmove(buf, line, used);
        if (used >= sizeof buf - 1)
            used = 0; /* an absurdly long line: drop it */
    }
}

static int fetch_ledger_id(rh_server *s)
{
    void *d = rh_dealer(s);
    rh_reply r;
    rh_reply_init(&r);
    int rc = rh_query(d, &r, "pool", NULL, 0);
    const msgpack_object *res = rc == 0 ? rh_get_map(r.root, "result") : NULL;
    if (res == NULL || !rh_get_str(res, "ledger_id", s->ledger_id, sizeof s->ledger_id)) {
        fprintf(stderr, "%s: the pool query gave no ledger_id (rc %d)\n", test_name, rc);
        if (r.root != NULL)
            rh_print("reply", r.root);
        rc = -1;
    }
    rh_reply_free(&r);
    rh_close(d);
    return rc == 0 ? 0 : -1;
}

int rh_launch(rh_server *s)
{
    char *argv[16 + RH_ARGS_MAX];
    int n = 0, pfd[2];
    argv[n++] = (char *)LSTD_BINARY;
    argv[n++] = (char *)"--data";
    argv[n++] = s->data_dir;
    argv[n++] = (char *)"--endpoint";
    argv[n++] = (char *)"tcp://127.0.0.1:*";
    argv[n++] = (char *)"--events";
    argv[n++] = (char *)"tcp://127.0.0.1:*";
    argv[n++] = (char *)"--metrics"; /* a free port: tests run side by side */
    argv[n++] = (char *)"127.0.0.1:0";
    argv[n++] = (char *)"--durability";
    argv[n++] = (char *)"nosync";
    if (!s->production)
        argv[n++] = (char *)"--dev"; /* creates the development ledger on the first launch */
    for (int i = 0; i < s->extra_count; i++)
        argv[n++] = s->extra[i];
    argv[n] = NULL;
    int err_fd = s->err_path[0] != '\0'
                     ? open(s->err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
                     : -1;
    if (s->err_path[0] != '\0' && err_fd < 0) {
        perror(s->err_path);
        return -1;
    }
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        perror("pipe2");
        if (err_fd >= 0)
            close(err_fd);
        return -1;
    }
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0)
        child_exec(argv, pfd[1], err_fd, parent);
    setpgid(pid, pid); /* also done by the child; whichever runs first */
    track(pid);
    close(pfd[1]);
    if (err_fd >= 0)
        close(err_fd);
    s->pid = pid;
    s->has_status = false;
    int rc = read_ready(s, pfd[0]);
    close(pfd[0]); /* the server ignores SIGPIPE; nothing more is expected on stdout */
    if (rc != 0) {
        rh_wait(s, 100);
        return -1;
    }
    bool keys_ok = s->production || (rh_load_key(s, "admin", &s->admin) == 0 &&
                                     rh_load_key(s, "custodian", &s->custodian) == 0 &&
                                     rh_load_key(s, "operator", &s->operator_key) == 0 &&
                                     rh_load_key(s, "treasury", &s->treasury) == 0);
    if (!keys_ok || (!s->no_ledger_id && fetch_ledger_id(s) != 0)) {
        rh_stop(s, SIGKILL, 5000);
        return -1;
    }
    return 0;
}

int rh_init_ledger(rh_server *s)
{
    char *argv[8 + RH_ARGS_MAX];
    int n = 0, st;
    argv[n++] = (char *)LSTD_BINARY;
    argv[n++] = (char *)"init";
    argv[n++] = (char *)"--data";
    argv[n++] = s->data_dir;
    for (int i = 0; i < s->extra_count; i++)
        argv[n++] = s->extra[i];
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

rh_server *rh_prepare(const char *const *extra)
{
    rh_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        abort();
    s->dir = test_tmpdir("lstd-it");
    snprintf(s->data_dir, sizeof s->data_dir, "%s/data", s->dir);
    for (; extra != NULL && extra[s->extra_count] != NULL; s->extra_count++) {
        if (s->extra_count >= RH_ARGS_MAX)
            abort();
        s->extra[s->extra_count] = strdup(extra[s->extra_count]);
    }
    return s;
}

rh_server *rh_start(const char *const *extra)
{
    rh_server *s = rh_prepare(extra);
    if (rh_launch(s) != 0) {
        rh_free(&s);
        return NULL;
    }
    return s;
}

void rh_signal(const rh_server *s, int sig)
{
    if (s->pid > 0)
        kill(s->pid, sig);
}

static void reaped(rh_server *s, int st)
{
    untrack(s->pid);
    kill(-s->pid, SIGKILL); /* anything left in its group */
    s->pid = 0;
    s->has_status = true;
    s->wait_status = st;
}

bool rh_running(rh_server *s)
{
    int st;
    if (s->pid <= 0)
        return false;
    pid_t r = waitpid(s->pid, &st, WNOHANG);
    if (r == s->pid) {
        reaped(s, st);
        return false;
    }
    return true;
}

static int status_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

int rh_wait(rh_server *s, unsigned timeout_ms)
{
    uint64_t deadline = rh_now_ms() + timeout_ms;
    while (rh_running(s)) {
        if (rh_now_ms() >= deadline) {
            int st;
            fprintf(stderr, "%s: lstd (pid %d) did not exit within %u ms: SIGKILL\n", test_name,
                    (int)s->pid, timeout_ms);
            kill(-s->pid, SIGKILL);
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            reaped(s, st);
            return -1;
        }
        rh_sleep_ms(5);
    }
    if (!s->has_status)
        return -1;
    if (status_code(s->wait_status) != 0)
        describe_status("stopped", s->wait_status);
    return status_code(s->wait_status);
}

int rh_stop(rh_server *s, int sig, unsigned timeout_ms)
{
    rh_signal(s, sig);
    return rh_wait(s, timeout_ms);
}

void rh_free(rh_server **sp)
{
    rh_server *s = *sp;
    if (s == NULL)
        return;
    *sp = NULL;
    if (rh_running(s))
        rh_stop(s, SIGKILL, 10000);
    for (int i = 0; i < s->extra_count; i++)
        free(s->extra[i]);
    if (getenv("LSTD_KEEP_TMP") == NULL)
        test_rmtree(s->dir);
    free(s->dir);
    free(s);
}

long rh_status_kb(const rh_server *s, const char *field)
{
    char path[64], line[256];
    long kb = -1;
    size_t fl = strlen(field);
    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, fl) == 0 && line[fl] == ':' &&
            sscanf(line + fl + 1, "%ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

long rh_rss_kb(const rh_server *s)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* ---- transactions ---------------------------------------------------------------------------- */

ledger_tx rh_tx(unsigned kind)
{
    ledger_tx tx;
    memset(&tx, 0, sizeof tx);
    tx.kind = (uint8_t)kind;
    return tx;
}

static const ledger_field *field_of(const ledger_tx *tx, const char *name)
{
    const ledger_kind_info *k = ledger_kind_lookup(tx->kind);
    for (unsigned i = 0; k != NULL && i < k->field_count; i++)
        if (strcmp(k->fields[i].name, name) == 0)
            return &k->fields[i];
    fprintf(stderr, "%s: kind %u has no field %s\n", test_name, tx->kind, name);
    abort();
}

void rh_tx_u64(ledger_tx *tx, const char *name, uint64_t v)
{
    const ledger_field *f = field_of(tx, name);
    if (f->type != LEDGER_F_U64)
        abort();
    memcpy(ledger_tx_slot(tx, f->slot), &v, sizeof v);
}

void rh_tx_key(ledger_tx *tx, const char *name, const uint8_t key[32])
{
    const ledger_field *f = field_of(tx, name);
    if (f->type == LEDGER_F_U64)
        abort();
    memcpy(ledger_tx_slot(tx, f->slot), key, 32);
}

void rh_sign_for(const char *ledger_id, ledger_tx *tx, const rh_key *k, uint8_t hash[32],
                 uint8_t sig[64])
{
    memcpy(tx->signer, k->pk, 32);
    if (ledger_tx_hash(hash, ledger_id, tx) != LEDGER_OK || crypto_sign(sig, hash, k->sk) != 0) {
        fprintf(stderr, "%s: cannot sign a transaction of kind %u\n", test_name, tx->kind);
        abort();
    }
}

void rh_sign(const rh_server *s, ledger_tx *tx, const rh_key *k, uint8_t hash[32], uint8_t sig[64])
{
    rh_sign_for(s->ledger_id, tx, k, hash, sig);
}

static void pack_key(msgpack_packer *pk, const char *key)
{
    msgpack_pack_str_with_body(pk, key, strlen(key));
}

void rh_pack_tx(msgpack_sbuffer *buf, const ledger_tx *tx, const uint8_t sig[64], uint64_t id,
                const char *id_str, const char *ledger)
{
    msgpack_packer pk;
    rpc_id rid = {.type = 1, .u = id};
    if (id_str != NULL) {
        rid.type = 2;
        rid.len = (uint8_t)strnlen(id_str, RPC_ID_MAX);
        memcpy(rid.s, id_str, rid.len);
    }
    msgpack_sbuffer_clear(buf);
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    if (rpc_pack_tx_request(&pk, &rid, tx, sig, ledger) != 0)
        abort();
}

void rh_pack_map(msgpack_sbuffer *buf, uint64_t id, const char *op, const rh_field *f, size_t n)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(buf);
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (uint32_t)(n + (id != 0) + (op != NULL)));
    if (id != 0) {
        pack_key(&pk, "id");
        msgpack_pack_uint64(&pk, id);
    }
    if (op != NULL) {
        pack_key(&pk, "op");
        msgpack_pack_str_with_body(&pk, op, strlen(op));
    }
    for (size_t i = 0; i < n; i++) {
        pack_key(&pk, f[i].name);
        switch (f[i].type) {
        case RH_F_UINT:
            msgpack_pack_uint64(&pk, f[i].u);
            break;
        case RH_F_BIN:
            msgpack_pack_bin_with_body(&pk, f[i].p, f[i].len);
            break;
        case RH_F_STR:
            msgpack_pack_str_with_body(&pk, f[i].p, f[i].len);
            break;
        case RH_F_BOOL:
            if (f[i].u)
                msgpack_pack_true(&pk);
            else
                msgpack_pack_false(&pk);
            break;
        default:
            msgpack_pack_nil(&pk);
        }
    }
}

uint64_t rh_next_id(void)
{
    return ++id_counter;
}

/* ---- sockets ----------------------------------------------------------------------------------
 */

void *rh_socket_curve(int type, const char *url, const uint8_t *server_key,
                      const uint8_t *public_key, const uint8_t *secret_key)
{
    void *sock = zmq_socket(rh_ctx(), type);
    int timeout = RH_RCVTIMEO_MS, zero = 0, hwm = 1000000;
    if (sock == NULL)
        abort();
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (server_key != NULL && (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key, 32) != 0 ||
                               zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, public_key, 32) != 0 ||
                               zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret_key, 32) != 0)) {
        fprintf(stderr, "%s: CURVE options: %s\n", test_name, zmq_strerror(zmq_errno()));
        abort();
    }
    if (zmq_connect(sock, url) != 0) {
        fprintf(stderr, "%s: connect %s: %s\n", test_name, url, zmq_strerror(zmq_errno()));
        abort();
    }
    return sock;
}

/* A socket of type to url, a CURVE client when the server has client keys set. */
static void *socket_to(const rh_server *s, int type, const char *url)
{
    if (!s->curve)
        return rh_socket_curve(type, url, NULL, NULL, NULL);
    return rh_socket_curve(type, url, s->curve_server, s->curve_public, s->curve_secret);
}

void *rh_dealer(const rh_server *s)
{
    return socket_to(s, ZMQ_DEALER, s->requests);
}

void *rh_req(const rh_server *s)
{
    return socket_to(s, ZMQ_REQ, s->requests);
}

void *rh_sub(const rh_server *s, const char *topic)
{
    void *sock = socket_to(s, ZMQ_SUB, s->events);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_RCVHWM, &zero, sizeof zero);
    if (topic != NULL)
        zmq_setsockopt(sock, ZMQ_SUBSCRIBE, topic, strlen(topic));
    return sock;
}

void rh_close(void *sock)
{
    if (sock != NULL)
        zmq_close(sock);
}

void rh_set_timeout(void *sock, int timeout_ms)
{
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
}

int rh_send(void *sock, const void *data, size_t len)
{
    return zmq_send(sock, data, len, 0) == (int)len ? 0 : -1;
}

bool rh_dir_unused(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT;
    bool only_lock = true;
    for (const struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, "lstd.lock") != 0) {
            fprintf(stderr, "%s: %s holds %s\n", test_name, dir, e->d_name);
            only_lock = false;
        }
    closedir(d);
    return only_lock;
}

/* ---- raw ZMTP ------------------------------------------------------------------------------- */

int rh_zmtp_open(const char *url, const char *type, int rcvbuf)
{
    return zmtp_raw_open(url, type, rcvbuf, 5000); /* a send blocked 5 s fails: no test hangs */
}

int rh_zmtp_raw(int fd, const void *data, size_t len)
{
    return zmtp_raw_write(fd, data, len);
}

int rh_zmtp_frame(int fd, const void *data, size_t len, bool more)
{
    uint8_t h[9];
    size_t hl = 2;
    h[0] = more ? 1 : 0;
    if (len <= 255) {
        h[1] = (uint8_t)len;
    } else {
        h[0] |= 2;
        for (int i = 0; i < 8; i++)
            h[1 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 9;
    }
    return zmtp_raw_write(fd, h, hl) == 0 && zmtp_raw_write(fd, data, len) == 0 ? 0 : -1;
}

bool rh_zmtp_closed(int fd, int timeout_ms)
{
    uint64_t deadline = rh_now_ms() + (uint64_t)timeout_ms;
    uint8_t buf[4096];
    while (rh_now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
            return true;
    }
    return false;
}

/* ---- replies ----------------------------------------------------------------------------------
 */

void rh_reply_init(rh_reply *r)
{
    memset(r, 0, sizeof *r);
    msgpack_unpacked_init(&r->up);
}

void rh_reply_free(rh_reply *r)
{
    msgpack_unpacked_destroy(&r->up);
    free(r->data);
    r->data = NULL;
    r->root = NULL;
    r->size = 0;
    msgpack_unpacked_init(&r->up);
}

static int decode(rh_reply *r, const void *data, size_t len)
{
    size_t off = 0;
    rh_reply_free(r);
    r->data = malloc(len ? len : 1);
    if (r->data == NULL)
        abort();
    memcpy(r->data, data, len);
    r->size = len;
    if (msgpack_unpack_next(&r->up, r->data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        fprintf(stderr, "%s: a message of %zu bytes is not exactly one msgpack object\n", test_name,
                len);
        return -2;
    }
    r->root = r->up.data.type == MSGPACK_OBJECT_MAP ? &r->up.data : NULL;
    return 0;
}

/* Receive one frame into r. Returns: 0, -1 timeout, -2 bad (more frames / undecodable). */
static int recv_frame(void *sock, rh_reply *r, bool want_more)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    bool more = zmq_msg_more(&m);
    int rc = decode(r, zmq_msg_data(&m), zmq_msg_size(&m));
    zmq_msg_close(&m);
    if (more != want_more) {
        fprintf(stderr, "%s: %s\n", test_name,
                more ? "a reply has more than one frame" : "a frame is missing");
        while (more) { /* drain the rest of the message */
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, 0) < 0)
                more = false;
            else
                more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        return -2;
    }
    return rc;
}

int rh_recv(void *sock, rh_reply *r)
{
    return recv_frame(sock, r, false);
}

int rh_recv_event(void *sub, char *topic, size_t topic_size, rh_reply *r)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sub, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    size_t n = zmq_msg_size(&m) < topic_size - 1 ? zmq_msg_size(&m) : topic_size - 1;
    memcpy(topic, zmq_msg_data(&m), n);
    topic[n] = '\0';
    bool more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    if (!more) {
        fprintf(stderr, "%s: event %s has no record frame\n", test_name, topic);
        return -2;
    }
    return recv_frame(sub, r, false);
}

int rh_call(void *sock, const msgpack_sbuffer *req, uint64_t id, rh_reply *r)
{
    if (rh_send(sock, req->data, req->size) != 0) {
        fprintf(stderr, "%s: send failed: %s\n", test_name, zmq_strerror(zmq_errno()));
        return -1;
    }
    int rc = rh_recv(sock, r);
    if (rc == -1)
        fprintf(stderr, "%s: no reply to request %llu within the timeout\n", test_name,
                (unsigned long long)id);
    if (rc == 0 && id != 0) {
        uint64_t got = 0;
        if (!rh_get_uint(r->root, "id", &got) || got != id) {
            fprintf(stderr, "%s: reply does not echo id %llu\n", test_name, (unsigned long long)id);
            rh_print("reply", &r->up.data);
            test_failures++;
        }
    }
    return rc;
}

int rh_query(void *sock, rh_reply *r, const char *op, const rh_field *f, size_t n)
{
    msgpack_sbuffer buf;
    uint64_t id = rh_next_id();
    msgpack_sbuffer_init(&buf);
    rh_pack_map(&buf, id, op, f, n);
    int rc = rh_call(sock, &buf, id, r);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

uint64_t rh_next_nonce(void *sock, const uint8_t pk[32])
{
    rh_reply r;
    rh_field f = RH_BIN("account", pk, 32);
    uint64_t n = 0;
    rh_reply_init(&r);
    if (rh_query(sock, &r, "account", &f, 1) != 0 ||
        !rh_get_uint(rh_get_map(r.root, "result"), "next_nonce", &n)) {
        fprintf(stderr, "%s: account query gave no next_nonce\n", test_name);
        test_failures++;
        n = 0;
    }
    rh_reply_free(&r);
    return n;
}

int rh_submit(const rh_server *s, void *sock, ledger_tx *tx, const rh_key *k, rh_reply *r,
              uint8_t hash[32])
{
    uint8_t h[32], sig[64];
    msgpack_sbuffer buf;
    uint64_t id = rh_next_id();
    if (tx->nonce == 0)
        tx->nonce = rh_next_nonce(sock, k->pk);
    rh_sign(s, tx, k, h, sig);
    if (hash != NULL)
        memcpy(hash, h, 32);
    msgpack_sbuffer_init(&buf);
    rh_pack_tx(&buf, tx, sig, id, NULL, NULL);
    int rc = rh_call(sock, &buf, id, r);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------------
 */

bool rh_str_is(const msgpack_object *v, const char *s)
{
    size_t n = strlen(s);
    return v != NULL && v->type == MSGPACK_OBJECT_STR && v->via.str.size == n &&
           memcmp(v->via.str.ptr, s, n) == 0;
}

const msgpack_object *rh_get(const msgpack_object *o, const char *key)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (rh_str_is(&o->via.map.ptr[i].key, key))
            return &o->via.map.ptr[i].val;
    return NULL;
}

bool rh_get_uint(const msgpack_object *o, const char *key, uint64_t *out)
{
    const msgpack_object *v = rh_get(o, key);
    if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *out = v->via.u64;
    return true;
}

bool rh_get_u128(const msgpack_object *o, const char *key, ledger_u128 *out)
{
    const msgpack_object *v = rh_get(o, key);
    ledger_u128 x = 0;
    if (v == NULL || v->type != MSGPACK_OBJECT_STR || v->via.str.size == 0 ||
        v->via.str.size > 39 || (v->via.str.size > 1 && v->via.str.ptr[0] == '0'))
        return false;
    for (uint32_t i = 0; i < v->via.str.size; i++) {
        unsigned d = (unsigned)(v->via.str.ptr[i] - '0');
        if (d > 9 || x > (~(ledger_u128)0 - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

bool rh_get_bool(const msgpack_object *o, const char *key, bool *out)
{
    const msgpack_object *v = rh_get(o, key);
    if (v == NULL || v->type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    *out = v->via.boolean;
    return true;
}

bool rh_get_str(const msgpack_object *o, const char *key, char *out, size_t size)
{
    const msgpack_object *v = rh_get(o, key);
    if (v == NULL || v->type != MSGPACK_OBJECT_STR || v->via.str.size >= size)
        return false;
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = '\0';
    return true;
}

const uint8_t *rh_get_bin(const msgpack_object *o, const char *key, size_t len)
{
    const msgpack_object *v = rh_get(o, key);
    if (v == NULL || v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != len)
        return NULL;
    return (const uint8_t *)v->via.bin.ptr;
}

const msgpack_object *rh_get_map(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = rh_get(o, key);
    return v != NULL && v->type == MSGPACK_OBJECT_MAP ? v : NULL;
}

const msgpack_object *rh_get_array(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = rh_get(o, key);
    return v != NULL && v->type == MSGPACK_OBJECT_ARRAY ? v : NULL;
}

bool rh_is_nil(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = rh_get(o, key);
    return v != NULL && v->type == MSGPACK_OBJECT_NIL;
}

static void fail_at(const char *file, int line, const char *what, const char *key,
                    const msgpack_object *o)
{
    fprintf(stderr, "%s:%d: %s \"%s\"\n", file, line, what, key);
    if (o != NULL)
        rh_print("  in", o);
    test_failures++;
}

uint64_t rh_u64_at(const msgpack_object *o, const char *key, const char *file, int line)
{
    uint64_t v;
    if (rh_get_uint(o, key, &v))
        return v;
    fail_at(file, line, "no uint", key, o);
    return UINT64_MAX;
}

ledger_u128 rh_u128_at(const msgpack_object *o, const char *key, const char *file, int line)
{
    ledger_u128 v;
    if (rh_get_u128(o, key, &v))
        return v;
    fail_at(file, line, "no decimal string (a 128-bit total)", key, o);
    return ~(ledger_u128)0;
}

bool rh_bool_at(const msgpack_object *o, const char *key, const char *file, int line)
{
    bool v;
    if (rh_get_bool(o, key, &v))
        return v;
    fail_at(file, line, "no bool", key, o);
    return false;
}

const msgpack_object *rh_map_at(const msgpack_object *o, const char *key, const char *file,
                                int line)
{
    const msgpack_object *v = rh_get_map(o, key);
    if (v == NULL)
        fail_at(file, line, "no map", key, o);
    return v;
}

const msgpack_object *rh_array_at(const msgpack_object *o, const char *key, const char *file,
                                  int line)
{
    const msgpack_object *v = rh_get_array(o, key);
    if (v == NULL)
        fail_at(file, line, "no array", key, o);
    return v;
}

void rh_check_str(const msgpack_object *o, const char *key, const char *want, const char *file,
                  int line)
{
    if (rh_str_is(rh_get(o, key), want))
        return;
    fprintf(stderr, "%s:%d: \"%s\" is not the str \"%s\"\n", file, line, key, want);
    if (o != NULL)
        rh_print("  in", o);
    test_failures++;
}

void rh_check_bin(const msgpack_object *o, const char *key, const void *want, size_t len,
                  const char *file, int line)
{
    const uint8_t *v = rh_get_bin(o, key, len);
    if (v != NULL && memcmp(v, want, len) == 0)
        return;
    fprintf(stderr, "%s:%d: \"%s\" is not the expected bin of %zu bytes\n", file, line, key, len);
    if (o != NULL)
        rh_print("  in", o);
    test_failures++;
}

void rh_check_nil(const msgpack_object *o, const char *key, const char *file, int line)
{
    if (!rh_is_nil(o, key))
        fail_at(file, line, "not nil:", key, o);
}

void rh_check_ok(const rh_reply *r, const char *file, int line)
{
    bool ok = false;
    if (r->root != NULL && rh_get_bool(r->root, "ok", &ok) && ok &&
        rh_get(r->root, "error") == NULL)
        return;
    fprintf(stderr, "%s:%d: reply is not ok\n", file, line);
    if (r->size > 0)
        rh_print("  reply", &r->up.data);
    test_failures++;
}

void rh_check_error(const rh_reply *r, const char *want, const char *file, int line)
{
    bool ok = true;
    const msgpack_object *msg = rh_get(r->root, "message");
    if (r->root != NULL && rh_get_bool(r->root, "ok", &ok) && !ok &&
        rh_str_is(rh_get(r->root, "error"), want) && msg != NULL && msg->type == MSGPACK_OBJECT_STR)
        return;
    fprintf(stderr, "%s:%d: reply is not the error %s\n", file, line, want);
    if (r->size > 0)
        rh_print("  reply", &r->up.data);
    else
        fprintf(stderr, "  (no reply)\n");
    test_failures++;
}

void rh_check_keys(const msgpack_object *o, const char *const *keys, const char *file, int line)
{
    size_t n = 0;
    if (o == NULL || o->type != MSGPACK_OBJECT_MAP) {
        fprintf(stderr, "%s:%d: not a map\n", file, line);
        test_failures++;
        return;
    }
    for (; keys[n] != NULL; n++)
        if (rh_get(o, keys[n]) == NULL) {
            fprintf(stderr, "%s:%d: key \"%s\" missing\n", file, line, keys[n]);
            test_failures++;
        }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        bool known = false;
        for (size_t j = 0; j < n && !known; j++)
            known = rh_str_is(k, keys[j]);
        if (!known) {
            fprintf(stderr, "%s:%d: unexpected key ", file, line);
            msgpack_object_print(stderr, *k);
            fprintf(stderr, "\n");
            test_failures++;
        }
    }
    if (o->via.map.size != n) {
        fprintf(stderr, "%s:%d: map has %u keys, want %zu (a duplicate?)\n", file, line,
                (unsigned)o->via.map.size, n);
        test_failures++;
    }
}

void rh_print(const char *label, const msgpack_object *o)
{
    fprintf(stderr, "%s: ", label);
    msgpack_object_print(stderr, *o);
    fprintf(stderr, "\n");
}

int rh_pause(rh_server *s)
{
    char dir[64];
    rh_signal(s, SIGSTOP);
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)s->pid);
    for (int tries = 0; tries < 400; tries++) {
        DIR *d = opendir(dir);
        bool all = d != NULL;
        for (struct dirent *e; all && (e = readdir(d)) != NULL;) {
            char path[400], buf[512];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
            FILE *f = fopen(path, "r");
            size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
            if (f != NULL)
                fclose(f);
            buf[n] = '\0';
            const char *state = strrchr(buf, ')'); /* "pid (name) S ..." */
            all = state != NULL && (state[2] == 'T' || state[2] == 't');
        }
        if (d != NULL)
            closedir(d);
        if (all)
            return 0;
        rh_sleep_ms(5);
    }
    fprintf(stderr, "%s: the server did not stop on SIGSTOP\n", test_name);
    return -1;
}

/* ---- acknowledged transactions ------------------------------------------------------------ */

bool rh_ack_take(rh_ack *a, const uint8_t hash[32], const rh_reply *r)
{
    const msgpack_object *res = rh_get_map(r->root, "result");
    uint64_t seq = 0;
    if (res == NULL || !rh_get_uint(res, "seq", &seq) || seq == 0)
        return false;
    memcpy(a->hash, hash, 32);
    a->seq = seq;
    if (!rh_get_str(res, "code", a->code, sizeof a->code))
        a->code[0] = '\0';
    return true;
}

size_t rh_acks_missing(void *sock, const rh_ack *acks, size_t n, const char *label)
{
    rh_reply r;
    size_t lost = 0;
    rh_reply_init(&r);
    for (size_t i = 0; i < n; i++) {
        rh_field f = RH_BIN("hash", acks[i].hash, 32);
        uint64_t seq = 0;
        if (rh_query(sock, &r, "tx", &f, 1) != 0) { /* no answer: the rest are not known */
            fprintf(stderr, "%s: no answer; %zu acknowledgements not checked\n", label, n - i);
            lost += n - i;
            break;
        }
        const msgpack_object *res = rh_get_map(r.root, "result");
        if (res != NULL && rh_get_uint(res, "seq", &seq) && seq == acks[i].seq &&
            rh_str_is(rh_get(res, "code"), acks[i].code))
            continue;
        if (++lost <= 5)
            fprintf(stderr, "%s: acknowledged seq %llu (%s) is not in the history\n", label,
                    (unsigned long long)acks[i].seq, acks[i].code);
    }
    rh_reply_free(&r);
    return lost;
}

/* ---- HTTP (the metrics endpoint) ------------------------------------------------------ */

void rh_http_free(rh_http_reply *r)
{
    free(r->head);
    r->head = r->body = NULL;
}

/* Send `METHOD PATH HTTP/1.1` to the host and port of url (http://HOST:PORT/...) and read the
 * whole reply (Connection: close). Returns: 0 or -1 (message on stderr). */
int rh_http(const char *url, const char *method, const char *path, rh_http_reply *out)
{
    char host[64], req[512];
    int port = 0;
    memset(out, 0, sizeof *out);
    if (sscanf(url, "http://%63[^:/]:%d", host, &port) != 2) {
        fprintf(stderr, "%s: not an http URL: %s\n", test_name, url);
        return -1;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {RH_HTTP_TIMEOUT_S, 0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "%s: cannot connect to %s: %s\n", test_name, url, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: lstd-tests\r\n"
                     "Connection: close\r\n\r\n",
                     method, path, host, port);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL || write(fd, req, (size_t)n) != n) {
        free(buf);
        close(fd);
        return -1;
    }
    for (;;) {
        if (len + 4096 >= cap) {
            char *grown = realloc(buf, cap *= 2);
            if (grown == NULL)
                break;
            buf = grown;
        }
        ssize_t k = read(fd, buf + len, cap - len - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (sep == NULL || sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        fprintf(stderr, "%s: not an HTTP reply:\n%s\n", test_name, buf);
        free(buf);
        return -1;
    }
    *sep = '\0';
    out->head = buf;
    out->body = sep + 4;
    return 0;
}
