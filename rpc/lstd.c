/* lstd.c - the lstd service: parse settings, open the ledger, serve until SIGINT/SIGTERM */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rpc_config.h"
#include "rpc_genesis.h"
#include "rpc_server.h"
#include "store_lmdb.h"

int main(int argc, char **argv)
{
    rpc_config cfg;
    char err[512], path[RPC_PATH_MAX + 16];
    rpc_config_defaults(&cfg);
    if (rpc_config_parse_args(&cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "lstd: %s\n", err);
        return 2;
    }
    if (cfg.help) {
        fputs(rpc_config_help(), stdout);
        return 0;
    }
    /* Block the stop signals in every thread; this one waits for them below. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (mkdir(cfg.data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "lstd: mkdir %s: %s\n", cfg.data_dir, strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%s/ledger", cfg.data_dir);
    store_options opt = {.durability = cfg.durability};
    store_lmdb *store;
    rpc_server *server;
    if (store_lmdb_open(&store, path, &opt) != 0)
        return 1;
    if (rpc_genesis_ensure(store, &cfg, (uint64_t)time(NULL)) != 0 ||
        rpc_server_start(&server, &cfg, store) != 0) {
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
