/* test_util.c - assertion reporting, temp directories and PRNG for the tests */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger_error.h"

int test_failures;

void test_check_code(int got, int want, const char *file, int line, const char *expr)
{
    if (got == want)
        return;
    fprintf(stderr, "%s:%d: %s = %s (%d), want %s (%d)\n", file, line, expr, ledger_err_name(got),
            got, ledger_err_name(want), want);
    test_failures++;
}

int test_finish(const char *name)
{
    if (test_failures) {
        fprintf(stderr, "%s: %d check(s) FAILED\n", name, test_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

char *test_tmpdir(const char *prefix)
{
    const char *base = getenv("TMPDIR");
    size_t n = strlen(base ? base : "/tmp") + strlen(prefix) + 16;
    char *path = malloc(n);
    if (path == NULL)
        abort();
    snprintf(path, n, "%s/%s-XXXXXX", base ? base : "/tmp", prefix);
    if (mkdtemp(path) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return path;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void test_rmtree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void test_rng_seed(test_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

uint64_t test_rng_next(test_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void test_rng_fill(test_rng *r, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)test_rng_next(r);
}

uint64_t test_rng_below(test_rng *r, uint64_t n)
{
    return test_rng_next(r) % n;
}

uint64_t test_env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    char *end;
    if (v == NULL || *v == '\0')
        return def;
    unsigned long long x = strtoull(v, &end, 0);
    return *end == '\0' ? (uint64_t)x : def;
}

uint64_t test_seed(void)
{
    uint64_t seed = test_env_u64("LSTD_SEED", 0);
    if (seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t sec = (uint64_t)ts.tv_sec, nsec = (uint64_t)ts.tv_nsec, pid = (uint64_t)getpid();
        seed = sec * UINT64_C(1000000007) ^ nsec ^ pid;
    }
    printf("seed: LSTD_SEED=%" PRIu64 "\n", seed);
    return seed;
}

char *test_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = calloc(1, (size_t)n + 1)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    return buf;
}

/* Append what fd has to *buf (*len bytes so far). Returns: 0 at end of file or on error, else 1. */
static int drain_fd(int fd, char **buf, size_t *len)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n <= 0)
        return 0;
    char *grown = realloc(*buf, *len + (size_t)n + 1);
    if (grown == NULL)
        abort();
    memcpy(grown + *len, chunk, (size_t)n);
    *len += (size_t)n;
    grown[*len] = '\0';
    *buf = grown;
    return 1;
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int test_run(const char *const *argv, unsigned timeout_ms, char **out, char **err)
{
    int pipes[2][2];
    char *text[2] = {calloc(1, 1), calloc(1, 1)};
    size_t len[2] = {0, 0};
    if (text[0] == NULL || text[1] == NULL || pipe2(pipes[0], O_CLOEXEC) != 0 ||
        pipe2(pipes[1], O_CLOEXEC) != 0)
        abort();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(pipes[0][1], 1) < 0 ||
            dup2(pipes[1][1], 2) < 0)
            _exit(127);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipes[0][1]);
    close(pipes[1][1]);
    struct pollfd p[2] = {{pipes[0][0], POLLIN, 0}, {pipes[1][0], POLLIN, 0}};
    uint64_t deadline = monotonic_ms() + timeout_ms;
    int open_fds = 2, st;
    while (open_fds > 0 && monotonic_ms() < deadline) {
        if (poll(p, 2, 100) <= 0)
            continue;
        for (int i = 0; i < 2; i++)
            if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP)) &&
                !drain_fd(p[i].fd, &text[i], &len[i])) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
            }
    }
    if (open_fds > 0) {
        fprintf(stderr, "%s did not finish within %u ms: killed\n", argv[0], timeout_ms);
        kill(pid, SIGKILL);
    }
    for (int i = 0; i < 2; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
    waitpid(pid, &st, 0);
    char **dest[2] = {out, err};
    for (int i = 0; i < 2; i++) {
        if (dest[i] != NULL)
            *dest[i] = text[i];
        else
            free(text[i]);
    }
    if (open_fds > 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
