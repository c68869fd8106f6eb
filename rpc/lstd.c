/* lstd.c - the lstd service: create a ledger once (init), or open one and serve it */
#include <errno.h>
#include <inttypes.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rpc_config.h"
#include "rpc_datadir.h"
#include "rpc_genesis.h"
#include "rpc_server.h"
#include "store_db.h"

#define RELOAD_LINE_MAX 1024

/* Returns: true if DATA/ledger/data.mdb exists and is not empty. */
static bool ledger_present(const rpc_config *cfg)
{
    char path[RPC_PATH_MAX + 32];
    struct stat st;
    snprintf(path, sizeof path, "%s/ledger/data.mdb", cfg->data_dir);
    return stat(path, &st) == 0 && st.st_size > 0;
}

static void ledger_dir(const rpc_config *cfg, char *out, size_t size)
{
    snprintf(out, size, "%s/ledger", cfg->data_dir);
}

/* Open (load, verify, replay) the ledger. Returns: 0 or -1 (message on stderr). */
static int open_store(const rpc_config *cfg, store_db **store)
{
    char path[RPC_PATH_MAX + 16], msg[512];
    uint64_t limit = (uint64_t)cfg->memory_limit_mb << 20;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (limit == 0 && pages > 0 && page > 0)
        limit = (uint64_t)pages * (uint64_t)page / 4 * 3;
    store_db_options opt = {.durability = cfg->durability,
                            .memory_limit_bytes = limit,
                            .checkpoint_interval_ms = (uint64_t)cfg->checkpoint_s * 1000};
    ledger_dir(cfg, path, sizeof path);
    int rc = store_db_open(store, path, &opt, msg, sizeof msg);
    if (rc != 0) {
        fprintf(stderr, "lstd: cannot open the ledger in %s: %s (%s)\n", path, msg,
                ledger_err_name(rc));
        return -1;
    }
    store_db_stats st;
    store_db_stats_get(*store, &st);
    fprintf(stderr,
            "lstd: opened %s in %" PRIu64 " ms: %" PRIu64 " accounts, %" PRIu64
            " MiB of state and indexes in memory, %" PRIu64
            " records replayed after the checkpoint\n",
            path, st.open_ms, st.accounts, (st.state_bytes + st.index_bytes) >> 20, st.replayed);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag;
    if (ftw->level == 0 || (ftw->level == 1 && strcmp(path + ftw->base, RPC_LOCK_FILE) == 0))
        return 0; /* the directory itself stays, and the lock this process holds in it */
    return remove(path);
}

/* Create the ledger in the unused data directory this process has locked; when that fails,
 * leave the directory as unused as it was (everything in it but the lock file is what this
 * attempt wrote), so it can be tried again. Returns: 0 or -1 (message on stderr). */
static int create_ledger(const rpc_config *cfg)
{
    char path[RPC_PATH_MAX + 16];
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "lstd: mkdir %s: %s\n", cfg->data_dir, strerror(errno));
        return -1;
    }
    ledger_dir(cfg, path, sizeof path);
    int rc = rpc_genesis_create(path, cfg, (uint64_t)time(NULL));
    if (rc != 0)
        nftw(cfg->data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

static void refuse_not_empty(const rpc_config *cfg)
{
    fprintf(stderr,
            "lstd: %s is not empty: refusing to create a ledger where one may have been "
            "(its signatures must never apply to a new one); use an empty directory\n",
            cfg->data_dir);
}

/* lstd init: the emptiness check comes before the lock, so that a directory that is not ours
 * is refused without a lock file left in it, and again under the lock (another lstd may have
 * created a ledger in between). Returns: the exit status. */
static int init(const rpc_config *cfg)
{
    int lock = -1;
    if (cfg->dev == cfg->has_genesis) {
        fprintf(stderr, "lstd: init needs exactly one of --dev and a --config with a genesis\n");
        return 1;
    }
    if (!rpc_datadir_unused(cfg->data_dir)) {
        refuse_not_empty(cfg);
        return 1;
    }
    if (rpc_datadir_lock(cfg->data_dir, &lock) != 0)
        return 1;
    int rc = 1;
    if (!rpc_datadir_unused(cfg->data_dir))
        refuse_not_empty(cfg);
    else
        rc = create_ledger(cfg) == 0 ? 0 : 1;
    rpc_datadir_unlock(&lock);
    return rc;
}

/* Whether serving may go ahead: a ledger is there, or (--dev, no genesis configured, unused
 * directory) a development one may be created. Out: *fresh (create one). Returns: 0 or -1
 * (message on stderr). */
static int check_servable(const rpc_config *cfg, bool *fresh)
{
    *fresh = !ledger_present(cfg);
    if (!*fresh)
        return 0;
    bool unused = rpc_datadir_unused(cfg->data_dir);
    if (cfg->dev && !cfg->has_genesis && unused)
        return 0;
    fprintf(stderr,
            "lstd: no ledger in %s (%s/ledger/data.mdb is missing or empty): create one with "
            "`lstd init`%s; a ledger is never created as a side effect of starting\n",
            cfg->data_dir, cfg->data_dir,
            unused ? " (or start with --dev for a development ledger)" : " in an empty directory");
    return -1;
}

/* Open the ledger to serve, creating the development one first when fresh. */
static int open_ledger(const rpc_config *cfg, bool fresh, store_db **store)
{
    if (fresh && create_ledger(cfg) != 0)
        return -1;
    if (open_store(cfg, store) != 0)
        return -1;
    if (rpc_genesis_check(*store, cfg) != 0) {
        store_db_close(store);
        return -1;
    }
    return 0;
}

/* Append ", name" (or "name" first) to a list. */
static void list_add(char *list, size_t size, const char *name)
{
    size_t used = strlen(list);
    snprintf(list + used, size - used, "%s%s", used > 0 ? ", " : "", name);
}

/* Name each bound (PROTOCOL.md, "Limits") that differs: all need a restart. */
static void list_bounds(char *list, size_t size, const rpc_config *a, const rpc_config *b)
{
    if (a->conn_max != b->conn_max)
        list_add(list, size, "conn-max");
    if (a->conn_queue_max != b->conn_queue_max)
        list_add(list, size, "conn-queue-max");
    if (a->conn_reply_bytes != b->conn_reply_bytes)
        list_add(list, size, "conn-reply-bytes");
    if (a->reply_bytes_max != b->reply_bytes_max)
        list_add(list, size, "reply-bytes-max");
    if (a->sub_max != b->sub_max)
        list_add(list, size, "sub-max");
    if (a->sub_topics_max != b->sub_topics_max)
        list_add(list, size, "sub-topics-max");
    if (a->sub_queue_bytes != b->sub_queue_bytes)
        list_add(list, size, "sub-queue-bytes");
}

/* SIGHUP: read the arguments again exactly as at start (the --config file where it appears,
 * the flags after it still overriding it), apply what is safe to change while running
 * (batch-max) and name what would need a restart. One line on stderr. */
static void reload(rpc_server *server, rpc_config *running, int argc, char **argv)
{
    rpc_config next;
    char err[512], applied[128] = "", restart[512] = "";
    if (running->config_path[0] == '\0') {
        fprintf(stderr, "lstd: SIGHUP: no --config file to read again; settings unchanged "
                        "(batch-max is the one setting a reload can change)\n");
        return;
    }
    rpc_config_defaults(&next);
    if (rpc_config_parse_args(&next, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "lstd: SIGHUP: kept the running settings: %s\n", err);
        return;
    }
    if (next.batch_max != running->batch_max) {
        snprintf(applied, sizeof applied, "batch-max %u -> %u", running->batch_max, next.batch_max);
        rpc_server_set_batch_max(server, next.batch_max);
        running->batch_max = next.batch_max;
    }
    if (strcmp(next.endpoint, running->endpoint) != 0)
        list_add(restart, sizeof restart, "endpoint");
    if (strcmp(next.events_endpoint, running->events_endpoint) != 0)
        list_add(restart, sizeof restart, "events");
    if (strcmp(next.data_dir, running->data_dir) != 0)
        list_add(restart, sizeof restart, "data");
    if (next.verify_threads != running->verify_threads)
        list_add(restart, sizeof restart, "verify-threads");
    if (next.queue_max != running->queue_max)
        list_add(restart, sizeof restart, "queue-max");
    if (next.durability != running->durability)
        list_add(restart, sizeof restart, "durability");
    if (next.memory_limit_mb != running->memory_limit_mb)
        list_add(restart, sizeof restart, "memory-limit-mb");
    if (next.checkpoint_s != running->checkpoint_s)
        list_add(restart, sizeof restart, "checkpoint-s");
    list_bounds(restart, sizeof restart, &next, running);
    if (next.has_genesis != running->has_genesis ||
        memcmp(&next.genesis, &running->genesis, sizeof next.genesis) != 0)
        list_add(restart, sizeof restart, "the genesis (it never changes: ignored)");
    char what[RELOAD_LINE_MAX];
    if (applied[0] == '\0' && restart[0] == '\0')
        snprintf(what, sizeof what, "nothing changed");
    else
        snprintf(what, sizeof what, "applied %s%s%s", applied[0] != '\0' ? applied : "nothing",
                 restart[0] != '\0' ? "; not applied, needs a restart: " : "", restart);
    fprintf(stderr, "lstd: SIGHUP: read %s again: %s\n", running->config_path, what);
}

/* Serve until SIGINT or SIGTERM; SIGHUP reloads. The order: check, lock the data directory,
 * bind the sockets, and only then create (--dev, unused directory) or open the ledger, so a
 * second lstd or a taken port fails before anything is written. Returns: the exit status. */
static int serve(rpc_config *cfg, int argc, char **argv, const sigset_t *signals)
{
    bool fresh;
    int lock = -1;
    rpc_server *server = NULL;
    store_db *store = NULL;
    if (check_servable(cfg, &fresh) != 0 || rpc_datadir_lock(cfg->data_dir, &lock) != 0)
        return 1;
    /* under the lock: another lstd may have created the ledger since the check */
    if (check_servable(cfg, &fresh) != 0 || rpc_server_bind(&server, cfg) != 0 ||
        open_ledger(cfg, fresh, &store) != 0 || rpc_server_start(server, store) != 0) {
        rpc_server_stop(&server);
        store_db_close(&store);
        rpc_datadir_unlock(&lock);
        return 1;
    }
    int sig = 0;
    while (sigwait(signals, &sig) == 0 && sig == SIGHUP)
        reload(server, cfg, argc, argv);
    fprintf(stderr, "lstd: %s: finishing requests in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    rpc_server_stop(&server);
    store_db_close(&store);
    rpc_datadir_unlock(&lock);
    fprintf(stderr, "lstd: stopped\n");
    return 0;
}

int main(int argc, char **argv)
{
    rpc_config cfg;
    char err[512];
    bool is_init = argc > 1 && strcmp(argv[1], "init") == 0;
    /* SIGHUP never ends lstd; serving also waits for the stop signals. All three are blocked
     * in every thread (ZeroMQ's too: before any is made); serve() waits for them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGHUP);
    if (!is_init) {
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
    }
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    rpc_config_defaults(&cfg);
    if (rpc_config_parse_args(&cfg, argc - is_init, argv + is_init, err, sizeof err) != 0) {
        fprintf(stderr, "lstd: %s\n", err);
        return 2;
    }
    if (cfg.version) {
        printf("lstd %s\n", LSTD_VERSION);
        return 0;
    }
    if (cfg.help) {
        rpc_config_help(stdout);
        return 0;
    }
    if (is_init)
        return init(&cfg);
    return serve(&cfg, argc, argv, &signals);
}
