/* nats_harness.c - nats-server processes on loopback: configs, ports, start, kill, restart, stop */
#include "nats_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#define PATH_LEN 512
#define URL_LEN 40
#define START_TRIES 3 /* whole starts tried while a chosen port turns out to be taken */
#define POLL_MS 20    /* between two health checks of a server */
#define HTTP_TIMEOUT_MS 1000
#define TRACKED_MAX 32
#define LOG_TAIL 3000 /* bytes of a log printed when its server did not come up */

typedef struct nats_node {
    char name[12];
    int client_port, route_port, http_port;
    char url[URL_LEN];
    char conf[PATH_LEN], log[PATH_LEN], store[PATH_LEN];
    pid_t pid; /* 0 when not running; also its process group */
} nats_node;

struct nats_cluster {
    int n;
    char *dir; /* from test_tmpdir (mkdtemp) */
    char urls[NATS_CLUSTER_MAX * URL_LEN];
    nats_node node[NATS_CLUSTER_MAX];
};

static char last_error[1200];
static pid_t tracked[TRACKED_MAX]; /* servers to SIGKILL if the test exits without stopping them */
static bool exit_hook;

/* ---- errors and the safety net ----------------------------------------------------------- */

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int err, const char *fmt, ...)
{
    va_list ap;
    int used = snprintf(last_error, sizeof last_error, "%s: ", nats_cluster_err_name(err));
    va_start(ap, fmt);
    vsnprintf(last_error + used, sizeof last_error - (size_t)used, fmt, ap);
    va_end(ap);
    fprintf(stderr, "nats_harness: %s\n", last_error);
    return err;
}

const char *nats_cluster_err_name(int err)
{
    static const char *const names[] = {
        "NATS_CLUSTER_OK",        "NATS_CLUSTER_NO_SERVER",  "NATS_CLUSTER_BAD_ARG",
        "NATS_CLUSTER_IO",        "NATS_CLUSTER_PORT_CLASH", "NATS_CLUSTER_EXITED",
        "NATS_CLUSTER_NOT_READY",
    };
    if (err < 0 || (size_t)err >= sizeof names / sizeof names[0])
        return "UNKNOWN";
    return names[err];
}

const char *nats_cluster_last_error(void)
{
    return last_error;
}

static void kill_tracked(void)
{
    for (int i = 0; i < TRACKED_MAX; i++)
        if (tracked[i] > 0) {
            kill(-tracked[i], SIGKILL);
            kill(tracked[i], SIGKILL);
            waitpid(tracked[i], NULL, 0);
            tracked[i] = 0;
        }
}

static void track(pid_t pid, bool on)
{
    if (!exit_hook) {
        atexit(kill_tracked);
        exit_hook = true;
    }
    for (int i = 0; i < TRACKED_MAX; i++)
        if (on ? tracked[i] == 0 : tracked[i] == pid) {
            tracked[i] = on ? pid : 0;
            return;
        }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the executable ----------------------------------------------------------------------- */

static bool executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

const char *nats_server_path(void)
{
    static char found[PATH_LEN];
    const char *env = getenv("LSTD_NATS_SERVER"), *path = getenv("PATH");
    if (env != NULL && *env != '\0')
        return executable(env) ? env : NULL;
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/local/sbin", path != NULL ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d != NULL;
         d = strtok_r(NULL, ":", &save)) {
        int len = snprintf(found, sizeof found, "%s/nats-server", d);
        if (len > 0 && (size_t)len < sizeof found && executable(found))
            return found;
    }
    return NULL;
}

bool nats_server_available(void)
{
    return nats_server_path() != NULL;
}

/* ---- ports and configs -------------------------------------------------------------------- */

/* Choose count distinct free ports on 127.0.0.1: bind each to port 0, all at once, read the
 * port, then release them all. Returns: 0 or -1 (errno). */
static int free_ports(int *ports, int count)
{
    int fds[3 * NATS_CLUSTER_MAX], rc = 0, made = 0;
    for (; made < count && rc == 0; made++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
        socklen_t len = sizeof a;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[made] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[made] < 0 || bind(fds[made], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[made], (struct sockaddr *)&a, &len) != 0)
            rc = -1;
        else
            ports[made] = ntohs(a.sin_port);
    }
    int saved = errno;
    for (int i = 0; i < made; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    errno = saved;
    return rc;
}

static bool path_ok(char *out, size_t size, const char *dir, const char *name, const char *ext)
{
    int len = snprintf(out, size, "%s/%s%s", dir, name, ext);
    return len > 0 && (size_t)len < size && strpbrk(out, "\"\\\n") == NULL;
}

/* Name, ports, URL and file paths of every server. Returns: NATS_CLUSTER_OK or an error. */
static int plan(nats_cluster *c)
{
    int ports[3 * NATS_CLUSTER_MAX];
    if (free_ports(ports, 3 * c->n) != 0)
        return fail(NATS_CLUSTER_IO, "choosing free ports on 127.0.0.1: %s", strerror(errno));
    c->urls[0] = '\0';
    for (int i = 0; i < c->n; i++) {
        nats_node *nd = &c->node[i];
        snprintf(nd->name, sizeof nd->name, "n%d", i);
        nd->client_port = ports[3 * i];
        nd->route_port = ports[3 * i + 1];
        nd->http_port = ports[3 * i + 2];
        snprintf(nd->url, sizeof nd->url, "nats://127.0.0.1:%d", nd->client_port);
        if (!path_ok(nd->conf, PATH_LEN, c->dir, nd->name, ".conf") ||
            !path_ok(nd->log, PATH_LEN, c->dir, nd->name, ".log") ||
            !path_ok(nd->store, PATH_LEN, c->dir, nd->name, "-store"))
            return fail(NATS_CLUSTER_IO, "temporary directory %s: path too long or has a quote",
                        c->dir);
        if (i > 0)
            strcat(c->urls, ",");
        strcat(c->urls, nd->url);
    }
    return NATS_CLUSTER_OK;
}

static void write_cluster_block(FILE *f, const nats_cluster *c, int self)
{
    fprintf(f, "cluster {\n  name: lstd-test\n  listen: 127.0.0.1:%d\n  routes: [\n",
            c->node[self].route_port);
    for (int j = 0; j < c->n; j++)
        if (j != self)
            fprintf(f, "    nats-route://127.0.0.1:%d\n", c->node[j].route_port);
    fprintf(f, "  ]\n}\n");
}

/* Write server i's config file. Returns: NATS_CLUSTER_OK or NATS_CLUSTER_IO. */
static int write_config(const nats_cluster *c, int i)
{
    const nats_node *nd = &c->node[i];
    FILE *f = fopen(nd->conf, "w");
    if (f == NULL)
        return fail(NATS_CLUSTER_IO, "%s: %s", nd->conf, strerror(errno));
    fprintf(f,
            "# %s.conf - written by tests/nats_harness.c: every listener on loopback\n"
            "server_name: %s\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\nmax_payload: 8MB\n"
            "jetstream {\n  store_dir: \"%s\"\n  max_memory_store: 64MB\n"
            "  max_file_store: 1GB\n}\n",
            nd->name, nd->name, nd->client_port, nd->http_port, nd->store);
    if (c->n > 1)
        write_cluster_block(f, c, i);
    if (ferror(f) | fclose(f))
        return fail(NATS_CLUSTER_IO, "writing %s failed", nd->conf);
    return NATS_CLUSTER_OK;
}

/* ---- processes ------------------------------------------------------------------------------ */

/* In the child: only async-signal-safe calls until execv (the parent may have threads). */
static void child_exec(char *const *argv, int log_fd, int null_fd, pid_t parent)
{
    sigset_t none;
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
        _exit(127);
    close_range(3, ~0u, 0);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(argv[0], argv);
    _exit(127);
}

/* Start server i on its config, output appended to its log. Returns: NATS_CLUSTER_OK or an
 * error. */
static int spawn(nats_cluster *c, int i)
{
    nats_node *nd = &c->node[i];
    const char *bin = nats_server_path();
    if (bin == NULL)
        return fail(NATS_CLUSTER_NO_SERVER, "nats-server is not on PATH nor in /usr/sbin");
    char *argv[] = {(char *)bin, (char *)"-c", nd->conf, NULL};
    int log_fd = open(nd->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) {
        int saved = errno;
        if (log_fd >= 0)
            close(log_fd);
        if (null_fd >= 0)
            close(null_fd);
        return fail(NATS_CLUSTER_IO, "%s: %s", nd->log, strerror(saved));
    }
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(argv, log_fd, null_fd, parent);
    int saved = errno;
    close(log_fd);
    close(null_fd);
    if (pid < 0)
        return fail(NATS_CLUSTER_IO, "fork: %s", strerror(saved));
    setpgid(pid, pid); /* also done by the child; whichever runs first */
    track(pid, true);
    nd->pid = pid;
    return NATS_CLUSTER_OK;
}

static void reaped(nats_node *nd)
{
    track(nd->pid, false);
    nd->pid = 0;
}

/* Returns: true while server i has not exited (reaps it when it has). Out: *status. */
static bool alive(nats_node *nd, int *status)
{
    if (nd->pid <= 0)
        return false;
    if (waitpid(nd->pid, status, WNOHANG) == nd->pid) {
        reaped(nd);
        return false;
    }
    return true;
}

/* SIGKILL the process group and wait for the process. */
static void kill_wait(nats_node *nd)
{
    kill(-nd->pid, SIGKILL);
    kill(nd->pid, SIGKILL);
    while (waitpid(nd->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    reaped(nd);
}

/* ---- readiness ------------------------------------------------------------------------------ */

static int connect_loopback(int port)
{
    struct timeval tv = {HTTP_TIMEOUT_MS / 1000, (HTTP_TIMEOUT_MS % 1000) * 1000};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A plain HTTP/1.0 GET of path from 127.0.0.1:port. Out: body, the response body (or why
 * there is none), NUL-terminated. Returns: the HTTP status, or -1 when there is no answer. */
static int http_get(int port, const char *path, char *body, size_t size)
{
    char req[256], buf[4096];
    size_t used = 0;
    int fd = connect_loopback(port), status = -1;
    snprintf(body, size, "no answer on 127.0.0.1:%d", port);
    if (fd < 0)
        return -1;
    int len =
        snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
    if (write(fd, req, (size_t)len) == len)
        for (ssize_t r;
             used < sizeof buf - 1 && (r = read(fd, buf + used, sizeof buf - 1 - used)) > 0;)
            used += (size_t)r;
    close(fd);
    buf[used] = '\0';
    const char *sep = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || sep == NULL)
        return -1;
    snprintf(body, size, "%s", sep + 4);
    body[strcspn(body, "\r\n")] = '\0';
    return status;
}

/* Print the last LOG_TAIL bytes of a server's log on stderr. */
static void print_log_tail(const nats_node *nd)
{
    char buf[LOG_TAIL + 1];
    int fd = open(nd->log, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > LOG_TAIL ? end - LOG_TAIL : 0;
    ssize_t n = pread(fd, buf, LOG_TAIL, from);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    fprintf(stderr, "---- %s (last %d bytes) ----\n%s---- end of %s ----\n", nd->log, LOG_TAIL, buf,
            nd->name);
}

static bool log_mentions(const nats_node *nd, const char *what)
{
    FILE *f = fopen(nd->log, "r");
    char line[1024];
    bool found = false;
    while (f != NULL && !found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, what) != NULL;
    if (f != NULL)
        fclose(f);
    return found;
}

static int exited_error(const nats_node *nd, int status)
{
    print_log_tail(nd);
    if (log_mentions(nd, "address already in use"))
        return fail(NATS_CLUSTER_PORT_CLASH, "server %s: a port was taken (log %s)", nd->name,
                    nd->log);
    return fail(NATS_CLUSTER_EXITED, "server %s exited (%s %d) before it was ready: see its log %s",
                nd->name, WIFSIGNALED(status) ? "signal" : "status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), nd->log);
}

/* Wait until server i answers /healthz with 200 (JetStream enabled, in contact with a meta
 * leader and current with it, every stream it holds current), it exits, or deadline_ms.
 * Returns: NATS_CLUSTER_OK, NATS_CLUSTER_EXITED, NATS_CLUSTER_PORT_CLASH or
 * NATS_CLUSTER_NOT_READY. */
static int wait_healthy(nats_cluster *c, int i, uint64_t deadline_ms)
{
    nats_node *nd = &c->node[i];
    char body[512];
    for (;;) {
        int status = 0;
        if (!alive(nd, &status))
            return exited_error(nd, status);
        int code = http_get(nd->http_port, "/healthz", body, sizeof body);
        if (code == 200)
            return NATS_CLUSTER_OK;
        if (now_ms() >= deadline_ms) {
            print_log_tail(nd);
            return fail(NATS_CLUSTER_NOT_READY,
                        "server %s (%s) not ready within %d ms: /healthz said %d %s; see its log "
                        "%s",
                        nd->name, nd->url, NATS_CLUSTER_READY_MS, code, body, nd->log);
        }
        sleep_ms(POLL_MS);
    }
}

/* ---- the cluster ----------------------------------------------------------------------------- */

static int start_once(nats_cluster *c)
{
    int err = plan(c);
    for (int i = 0; i < c->n && err == NATS_CLUSTER_OK; i++)
        err = write_config(c, i);
    for (int i = 0; i < c->n && err == NATS_CLUSTER_OK; i++)
        err = spawn(c, i);
    uint64_t deadline = now_ms() + NATS_CLUSTER_READY_MS;
    for (int i = 0; i < c->n && err == NATS_CLUSTER_OK; i++)
        err = wait_healthy(c, i, deadline);
    return err;
}

int nats_cluster_start(nats_cluster **out, int n)
{
    int err = NATS_CLUSTER_PORT_CLASH;
    *out = NULL;
    last_error[0] = '\0';
    if (n < 1 || n > NATS_CLUSTER_MAX)
        return fail(NATS_CLUSTER_BAD_ARG, "%d servers (1..%d)", n, NATS_CLUSTER_MAX);
    if (!nats_server_available())
        return fail(NATS_CLUSTER_NO_SERVER, "nats-server is not on PATH nor in /usr/sbin");
    for (int attempt = 0; attempt < START_TRIES && err == NATS_CLUSTER_PORT_CLASH; attempt++) {
        nats_cluster *c = calloc(1, sizeof *c);
        if (c == NULL)
            abort();
        c->n = n;
        c->dir = test_tmpdir("lstd-nats");
        err = start_once(c);
        if (err == NATS_CLUSTER_OK) {
            *out = c;
            return err;
        }
        nats_cluster_stop(&c);
    }
    return err;
}

static bool in_range(const nats_cluster *c, int i)
{
    return c != NULL && i >= 0 && i < c->n;
}

const char *nats_cluster_urls(const nats_cluster *c)
{
    return c->urls;
}

const char *nats_cluster_url(const nats_cluster *c, int i)
{
    return in_range(c, i) ? c->node[i].url : NULL;
}

const char *nats_cluster_name(const nats_cluster *c, int i)
{
    return in_range(c, i) ? c->node[i].name : NULL;
}

const char *nats_cluster_log(const nats_cluster *c, int i)
{
    return in_range(c, i) ? c->node[i].log : NULL;
}

int nats_cluster_index(const nats_cluster *c, const char *name)
{
    for (int i = 0; c != NULL && name != NULL && i < c->n; i++)
        if (strcmp(c->node[i].name, name) == 0)
            return i;
    return -1;
}

int nats_cluster_size(const nats_cluster *c)
{
    return c != NULL ? c->n : 0;
}

bool nats_cluster_running(nats_cluster *c, int i)
{
    int status;
    return in_range(c, i) && alive(&c->node[i], &status);
}

int nats_cluster_kill(nats_cluster *c, int i)
{
    if (!nats_cluster_running(c, i))
        return fail(NATS_CLUSTER_BAD_ARG, "kill: server %d is not a running server", i);
    kill_wait(&c->node[i]);
    return NATS_CLUSTER_OK;
}

int nats_cluster_restart(nats_cluster *c, int i)
{
    if (!in_range(c, i) || nats_cluster_running(c, i))
        return fail(NATS_CLUSTER_BAD_ARG, "restart: server %d is not a stopped server", i);
    int err = spawn(c, i);
    if (err == NATS_CLUSTER_OK)
        err = wait_healthy(c, i, now_ms() + NATS_CLUSTER_READY_MS);
    if (err != NATS_CLUSTER_OK && c->node[i].pid > 0)
        kill_wait(&c->node[i]);
    return err;
}

void nats_cluster_stop(nats_cluster **cp)
{
    nats_cluster *c = *cp;
    int status;
    if (c == NULL)
        return;
    *cp = NULL;
    for (int i = 0; i < c->n; i++)
        if (c->node[i].pid > 0)
            kill(c->node[i].pid, SIGTERM);
    uint64_t deadline = now_ms() + NATS_CLUSTER_STOP_MS;
    for (int i = 0; i < c->n; i++) {
        while (alive(&c->node[i], &status) && now_ms() < deadline)
            sleep_ms(5);
        if (c->node[i].pid > 0) {
            fprintf(stderr, "nats_harness: %s did not stop within %d ms of SIGTERM: SIGKILL\n",
                    c->node[i].name, NATS_CLUSTER_STOP_MS);
            kill_wait(&c->node[i]);
        }
    }
    const char *keep = getenv("LSTD_KEEP_NATS");
    if (keep != NULL && strcmp(keep, "1") == 0)
        fprintf(stderr, "nats_harness: kept %s (LSTD_KEEP_NATS=1)\n", c->dir);
    else
        test_rmtree(c->dir);
    free(c->dir);
    free(c);
}
