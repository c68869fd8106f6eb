/* test_rpc_notify.c - lstd under systemd's notify protocol, on a datagram socket of the test's */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc_harness.h"
#include "test_util.h"

#define WAIT_MS 30000
#define WATCHDOG_USEC "200000" /* pings every 100 ms */
#define QUIET_MS 1000

/* Whose pid $WATCHDOG_PID names in lstd's environment. */
enum watchdog_pid { PID_UNSET, PID_SELF, PID_OTHER };

/* One lstd started here: its stdout (for the ready line) and the notify socket it writes. */
typedef struct proc {
    pid_t pid;
    int out;   /* read end of its stdout */
    int sock;  /* the notify socket, bound by the test */
    char *dir; /* data in dir/data, notify socket dir/notify */
    char stdout_text[8192];
    size_t stdout_len;
    bool ready_line; /* "lstd: ready " seen on stdout */
} proc;

/* A unix datagram socket bound at path, as systemd's notify socket is. Returns: it, or -1. */
static int notify_bind(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    size_t len = strlen(path);
    if (len >= sizeof a.sun_path) {
        fprintf(stderr, "test_rpc_notify: %s: too long for a socket path\n", path);
        return -1;
    }
    memcpy(a.sun_path, path, len + 1);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("test_rpc_notify: bind the notify socket");
        return -1;
    }
    return fd;
}

static void child(const proc *p, const char *notify, const char *usec, enum watchdog_pid wpid,
                  int out_fd)
{
    char data[600], err[600], pid[32];
    snprintf(data, sizeof data, "%s/data", p->dir);
    snprintf(err, sizeof err, "%s/stderr.txt", p->dir);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int err_fd = open(err, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (err_fd < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(127);
    if (notify != NULL)
        setenv("NOTIFY_SOCKET", notify, 1);
    if (usec != NULL)
        setenv("WATCHDOG_USEC", usec, 1);
    /* systemd names the service's main pid: known here, after the fork, before the exec */
    snprintf(pid, sizeof pid, "%ld", (long)(wpid == PID_SELF ? getpid() : getppid()));
    if (wpid != PID_UNSET)
        setenv("WATCHDOG_PID", pid, 1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execl(LSTD_BINARY, LSTD_BINARY, "--dev", "--data", data, "--endpoint", "tcp://127.0.0.1:*",
          "--events", "tcp://127.0.0.1:*", "--metrics", "127.0.0.1:0", "--durability", "nosync",
          (char *)NULL);
    _exit(127);
}

/* Start lstd with $NOTIFY_SOCKET (notify_path NULL: this test's socket; "" : unset),
 * $WATCHDOG_USEC (NULL: unset) and $WATCHDOG_PID. Returns: 0 or -1. */
static int start(proc *p, const char *notify_path, const char *usec, enum watchdog_pid wpid)
{
    char path[600];
    int pfd[2];
    memset(p, 0, sizeof *p);
    p->dir = test_tmpdir("lstd-notify");
    snprintf(path, sizeof path, "%s/notify", p->dir);
    p->sock = notify_bind(path);
    if (p->sock < 0 || pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    const char *notify = notify_path == NULL ? path : notify_path[0] != '\0' ? notify_path : NULL;
    fflush(stdout);
    fflush(stderr);
    p->pid = fork();
    if (p->pid == 0)
        child(p, notify, usec, wpid, pfd[1]);
    close(pfd[1]);
    p->out = pfd[0];
    fcntl(p->out, F_SETFL, O_NONBLOCK);
    return p->pid > 0 ? 0 : -1;
}

/* Read what lstd wrote on stdout so far; note the ready line. */
static void drain_stdout(proc *p)
{
    ssize_t n;
    while (p->stdout_len < sizeof p->stdout_text - 1 &&
           (n = read(p->out, p->stdout_text + p->stdout_len,
                     sizeof p->stdout_text - 1 - p->stdout_len)) > 0)
        p->stdout_len += (size_t)n;
    p->stdout_text[p->stdout_len] = '\0';
    p->ready_line = strstr(p->stdout_text, "lstd: ready ") != NULL;
}

/* The next notify datagram within timeout_ms, stdout drained first (lstd prints the ready line
 * before it sends READY=1, so a READY=1 in hand means the line is already in the pipe).
 * Out: msg. Returns: 0, or -1 on timeout. */
static int next_message(proc *p, char *msg, size_t size, int timeout_ms)
{
    uint64_t deadline = rh_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        drain_stdout(p);
        ssize_t n = recv(p->sock, msg, size - 1, 0);
        if (n >= 0) {
            msg[n] = '\0';
            drain_stdout(p);
            return 0;
        }
        uint64_t now = rh_now_ms();
        if (now >= deadline)
            return -1;
        struct pollfd fds[2] = {{p->sock, POLLIN, 0}, {p->out, POLLIN, 0}};
        poll(fds, 2, (int)(deadline - now < 50 ? deadline - now : 50));
    }
}

/* Wait for a datagram holding line (e.g. "READY=1"). Out: *before_ready_line (whether it came
 * before the ready line was on stdout). Returns: 0, or -1 (a failed check). */
static int wait_for(proc *p, const char *line, bool *ready_line_first, int at)
{
    char msg[4096], want[64];
    snprintf(want, sizeof want, "%s", line);
    uint64_t deadline = rh_now_ms() + WAIT_MS;
    while (rh_now_ms() < deadline) {
        if (next_message(p, msg, sizeof msg, (int)(deadline - rh_now_ms())) != 0)
            break;
        /* a message is newline-separated assignments: look for the whole line */
        for (char *l = strtok(msg, "\n"); l != NULL; l = strtok(NULL, "\n"))
            if (strcmp(l, want) == 0) {
                if (ready_line_first != NULL)
                    *ready_line_first = p->ready_line;
                return 0;
            }
    }
    fprintf(stderr, "%s:%d: no %s on the notify socket within %d ms\n", __FILE__, at, line,
            WAIT_MS);
    test_failures++;
    return -1;
}
#define WAIT_FOR(p, line, first) wait_for((p), (line), (first), __LINE__)

/* Count datagrams holding line within ms. */
static int count_for(proc *p, const char *line, int ms)
{
    char msg[4096];
    int count = 0;
    uint64_t deadline = rh_now_ms() + (uint64_t)ms;
    while (rh_now_ms() < deadline)
        if (next_message(p, msg, sizeof msg, (int)(deadline - rh_now_ms())) == 0)
            count += strstr(msg, line) != NULL;
    return count;
}

/* Send sig (0: none, it was sent) and wait for the exit. Returns: the exit code, or -1. */
static int stop(proc *p, int sig)
{
    int st;
    if (sig != 0)
        kill(p->pid, sig);
    uint64_t deadline = rh_now_ms() + WAIT_MS;
    while (waitpid(p->pid, &st, WNOHANG) == 0) {
        if (rh_now_ms() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            return -1;
        }
        rh_sleep_ms(10);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void finish(proc *p)
{
    if (p->pid > 0 && waitpid(p->pid, NULL, WNOHANG) == 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    close(p->out);
    close(p->sock);
    test_rmtree(p->dir);
    free(p->dir);
}

/* READY=1 comes after the ready line, with a STATUS= line; a SIGHUP is RELOADING=1 then
 * READY=1; SIGTERM is STOPPING=1, then exit 0. No watchdog pings without WATCHDOG_USEC. */
static void test_ready_reload_stop(void)
{
    proc p;
    bool line_first = false;
    CHECK(start(&p, NULL, NULL, PID_UNSET) == 0);
    if (WAIT_FOR(&p, "READY=1", &line_first) == 0)
        CHECK(line_first);
    CHECK(p.ready_line);
    kill(p.pid, SIGHUP);
    WAIT_FOR(&p, "RELOADING=1", NULL);
    WAIT_FOR(&p, "READY=1", NULL);
    kill(p.pid, SIGTERM);
    WAIT_FOR(&p, "STOPPING=1", NULL);
    CHECK_U64(stop(&p, 0), 0);
    finish(&p);
}

/* The STATUS= lines: opening, then serving (naming the ledger), then stopping. */
static void test_status(void)
{
    proc p;
    char msg[4096];
    bool opening = false, serving = false;
    CHECK(start(&p, NULL, NULL, PID_UNSET) == 0);
    while (!serving && next_message(&p, msg, sizeof msg, WAIT_MS) == 0) {
        opening = opening || strstr(msg, "STATUS=opening the ledger in ") != NULL;
        serving = strstr(msg, "READY=1\nSTATUS=serving ledger lstd-dev-") != NULL;
    }
    CHECK(opening && serving);
    kill(p.pid, SIGTERM);
    serving = false;
    while (!serving && next_message(&p, msg, sizeof msg, WAIT_MS) == 0)
        serving = strstr(msg, "STOPPING=1\nSTATUS=SIGTERM: finishing requests in flight") != NULL;
    CHECK(serving);
    CHECK_U64(stop(&p, 0), 0);
    finish(&p);
}

/* WATCHDOG_USEC with WATCHDOG_PID = lstd's own pid: pings every half interval once ready;
 * with another pid (the watchdog is not lstd's): none; no pings either without the variable. */
static void test_watchdog(void)
{
    proc p;
    CHECK(start(&p, NULL, WATCHDOG_USEC, PID_SELF) == 0);
    WAIT_FOR(&p, "READY=1", NULL);
    int pings = count_for(&p, "WATCHDOG=1", QUIET_MS);
    if (pings < 5) {
        fprintf(stderr, "test_rpc_notify: %d watchdog pings in %d ms, want 5 or more\n", pings,
                QUIET_MS);
        test_failures++;
    }
    CHECK_U64(stop(&p, SIGTERM), 0);
    finish(&p);

    CHECK(start(&p, NULL, WATCHDOG_USEC, PID_OTHER) == 0);
    WAIT_FOR(&p, "READY=1", NULL);
    CHECK_U64(count_for(&p, "WATCHDOG=1", QUIET_MS), 0);
    CHECK_U64(stop(&p, SIGTERM), 0);
    finish(&p);

    CHECK(start(&p, NULL, NULL, PID_UNSET) == 0);
    WAIT_FOR(&p, "READY=1", NULL);
    CHECK_U64(count_for(&p, "WATCHDOG=1", QUIET_MS), 0);
    CHECK_U64(stop(&p, SIGTERM), 0);
    finish(&p);
}

/* A notify socket nobody listens on changes nothing: lstd serves and stops as without one. */
static void test_socket_gone(void)
{
    proc p;
    CHECK(start(&p, "/nonexistent/lstd-notify", NULL, PID_UNSET) == 0);
    uint64_t deadline = rh_now_ms() + WAIT_MS;
    while (!p.ready_line && rh_now_ms() < deadline) {
        rh_sleep_ms(10);
        drain_stdout(&p);
    }
    CHECK(p.ready_line);
    CHECK_U64(stop(&p, SIGTERM), 0);
    finish(&p);
}

int main(void)
{
    rh_init("test_rpc_notify", 120);
    test_ready_reload_stop();
    test_status();
    test_watchdog();
    test_socket_gone();
    return test_finish("test_rpc_notify");
}
