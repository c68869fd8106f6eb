/* rpc_datadir.c - whether a data directory is unused, and the flock that keeps one lstd on it */
#include "rpc_datadir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpc_log.h"

#define LOCK_PATH_MAX 1024
#define PID_TEXT_MAX 32

bool rpc_datadir_unused(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT;
    const struct dirent *e;
    bool unused = true;
    while (unused && (e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        /* only our own lock file is ignored: a regular file, not a link to one */
        unused = strcmp(e->d_name, RPC_LOCK_FILE) == 0 &&
                 fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    }
    closedir(d);
    return unused;
}

/* The pid the lock file names. Returns: it, or 0 when the file holds none (yet). */
static long holder_pid(int fd)
{
    char text[PID_TEXT_MAX];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    char *end;
    long pid = strtol(text, &end, 10);
    return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

/* Record this process as the holder: the file holds "PID\n" and nothing else. */
static int write_pid(int fd)
{
    char text[PID_TEXT_MAX];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != (ssize_t)n)
        return -1;
    return 0;
}

int rpc_datadir_lock(const char *dir, int *fd)
{
    char path[LOCK_PATH_MAX];
    *fd = -1;
    if (snprintf(path, sizeof path, "%s/%s", dir, RPC_LOCK_FILE) >= (int)sizeof path) {
        rpc_log_msg(RPC_LOG_ERROR, "lock_failed", "%s: path too long", dir);
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rpc_log_msg(RPC_LOG_ERROR, "lock_failed", "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f < 0) {
        rpc_log_msg(RPC_LOG_ERROR, "lock_failed", "cannot open the lock file %s: %s", path,
                    strerror(errno));
        return -1;
    }
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        long pid = err == EWOULDBLOCK ? holder_pid(f) : 0;
        if (err != EWOULDBLOCK)
            rpc_log_msg(RPC_LOG_ERROR, "lock_failed", "cannot lock %s: %s", path, strerror(err));
        else if (pid > 0)
            rpc_log_msg(RPC_LOG_ERROR, "datadir_in_use",
                        "%s is in use by another lstd (pid %ld holds %s); one process per "
                        "ledger: stop that one first",
                        dir, pid, path);
        else
            rpc_log_msg(RPC_LOG_ERROR, "datadir_in_use",
                        "%s is in use by another process (it holds %s); one process per "
                        "ledger: stop that one first",
                        dir, path);
        close(f);
        return -1;
    }
    if (write_pid(f) != 0) {
        rpc_log_msg(RPC_LOG_ERROR, "lock_failed", "cannot write %s: %s", path, strerror(errno));
        close(f);
        return -1;
    }
    *fd = f;
    return 0;
}

void rpc_datadir_unlock(int *fd)
{
    if (*fd >= 0)
        close(*fd); /* closing the only descriptor releases the flock */
    *fd = -1;
}
