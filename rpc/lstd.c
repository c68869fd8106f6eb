/* lstd.c - the lstd service: create a ledger once (init), or open one and serve it */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rpc_config.h"
#include "rpc_genesis.h"
#include "rpc_server.h"
#include "store_lmdb.h"

/* Returns: true if dir does not exist or holds nothing: a place a ledger may be created. */
static bool dir_unused(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT;
    const struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

/* Returns: true if DATA/ledger/data.mdb exists and is not empty. */
static bool ledger_present(const rpc_config *cfg)
{
    char path[RPC_PATH_MAX + 32];
    struct stat st;
    snprintf(path, sizeof path, "%s/ledger/data.mdb", cfg->data_dir);
    return stat(path, &st) == 0 && st.st_size > 0;
}

static int open_store(const rpc_config *cfg, store_lmdb **store)
{
    char path[RPC_PATH_MAX + 16];
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "lstd: mkdir %s: %s\n", cfg->data_dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/ledger", cfg->data_dir);
    store_options opt = {.durability = cfg->durability};
    return store_lmdb_open(store, path, &opt) == 0 ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag;
    return ftw->level == 0 ? 0 : remove(path); /* the directory itself stays, empty */
}

/* Create the ledger in an unused data directory; when that fails, leave the directory as
 * unused as it was (everything in it is what this attempt wrote), so init can be re-run.
 * Returns: 0 or -1 (message on stderr). */
static int create(const rpc_config *cfg)
{
    store_lmdb *store;
    if (cfg->dev == cfg->has_genesis) {
        fprintf(stderr, "lstd: init needs exactly one of --dev and a --config with a genesis\n");
        return -1;
    }
    if (!dir_unused(cfg->data_dir)) {
        fprintf(stderr,
                "lstd: %s is not empty: refusing to create a ledger where one may have been "
                "(its signatures must never apply to a new one); use an empty directory\n",
                cfg->data_dir);
        return -1;
    }
    int rc = open_store(cfg, &store);
    if (rc == 0) {
        rc = rpc_genesis_create(store, cfg, (uint64_t)time(NULL));
        store_lmdb_close(&store);
    }
    if (rc != 0)
        nftw(cfg->data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

/* Open the ledger to serve: an existing one, or (--dev, unused directory) a new dev one. */
static int open_ledger(const rpc_config *cfg, store_lmdb **store)
{
    bool fresh = false;
    if (!ledger_present(cfg)) {
        if (!cfg->dev || cfg->has_genesis || !dir_unused(cfg->data_dir)) {
            fprintf(stderr,
                    "lstd: no ledger in %s (%s/ledger/data.mdb is missing or empty): create one "
                    "with `lstd init`%s; a ledger is never created as a side effect of starting\n",
                    cfg->data_dir, cfg->data_dir,
                    dir_unused(cfg->data_dir) ? " (or start with --dev for a development ledger)"
                                              : " in an empty directory");
            return -1;
        }
        fresh = true;
    }
    if (open_store(cfg, store) != 0)
        return -1;
    int rc = fresh ? rpc_genesis_create(*store, cfg, (uint64_t)time(NULL))
                   : rpc_genesis_check(*store, cfg);
    if (rc != 0)
        store_lmdb_close(store);
    return rc;
}

int main(int argc, char **argv)
{
    rpc_config cfg;
    char err[512];
    bool init = argc > 1 && strcmp(argv[1], "init") == 0;
    rpc_config_defaults(&cfg);
    if (rpc_config_parse_args(&cfg, argc - init, argv + init, err, sizeof err) != 0) {
        fprintf(stderr, "lstd: %s\n", err);
        return 2;
    }
    if (cfg.help) {
        fputs(rpc_config_help(), stdout);
        return 0;
    }
    if (init)
        return create(&cfg) == 0 ? 0 : 1;
    /* Block the stop signals in every thread; this one waits for them below. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    store_lmdb *store;
    rpc_server *server;
    if (open_ledger(&cfg, &store) != 0)
        return 1;
    if (rpc_server_start(&server, &cfg, store) != 0) {
        store_lmdb_close(&store);
        return 1;
    }
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "lstd: %s: finishing requests in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    rpc_server_stop(&server);
    store_lmdb_close(&store);
    fprintf(stderr, "lstd: stopped\n");
    return 0;
}
