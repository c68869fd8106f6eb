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
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "rpc_config.h"
#include "rpc_datadir.h"
#include "rpc_genesis.h"
#include "rpc_log.h"
#include "rpc_rates.h"
#include "rpc_repl.h"
#include "rpc_server.h"
#include "store_db.h"

#define QUOTED_MAX (2 * RPC_PATH_MAX + 8) /* a path as a log field */
#define USEC_PER_S 1000000u

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
                            .checkpoint_interval_ms = (uint64_t)cfg->checkpoint_s * 1000,
                            .commit_gather_us = cfg->commit_gather_us};
    ledger_dir(cfg, path, sizeof path);
    char q[QUOTED_MAX];
    sd_notifyf(0, "STATUS=opening the ledger in %s", path);
    int rc = store_db_open(store, path, &opt, msg, sizeof msg);
    if (rc != 0) {
        rpc_log_msg(RPC_LOG_ERROR, "open_failed", "cannot open the ledger in %s: %s (%s)", path,
                    msg, ledger_err_name(rc));
        return -1;
    }
    store_db_stats st;
    store_db_stats_get(*store, &st);
    rpc_log(RPC_LOG_INFO, "open",
            " ledger=%s ms=%" PRIu64 " accounts=%" PRIu64 " memory_mib=%" PRIu64
            " replayed=%" PRIu64 " durable_seq=%" PRIu64 " rebuilt=%s",
            rpc_log_quote(q, sizeof q, path), st.open_ms, st.accounts,
            (st.state_bytes + st.index_bytes) >> 20, st.replayed, st.durable_seq,
            st.rebuilt ? "true" : "false");
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
        rpc_log_msg(RPC_LOG_ERROR, "create_failed", "mkdir %s: %s", cfg->data_dir, strerror(errno));
        return -1;
    }
    ledger_dir(cfg, path, sizeof path);
    char msg[512];
    int rc = cfg->join[0] == '\0' ? rpc_genesis_create(path, cfg, (uint64_t)time(NULL))
                                  : rpc_repl_join(cfg, path, msg, sizeof msg);
    if (rc != 0 && cfg->join[0] != '\0')
        rpc_log_msg(RPC_LOG_ERROR, "join_failed", "cannot join ledger %s: %s", cfg->join, msg);
    else if (cfg->join[0] != '\0')
        rpc_log_msg(RPC_LOG_INFO, "joined",
                    "created a replica of ledger %s in %s: serve it with --replicate to follow "
                    "its stream",
                    cfg->join, cfg->data_dir);
    if (rc != 0)
        nftw(cfg->data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

static void refuse_not_empty(const rpc_config *cfg)
{
    rpc_log_msg(RPC_LOG_ERROR, "init_refused",
                "%s is not empty: refusing to create a ledger where one may have been "
                "(its signatures must never apply to a new one); use an empty directory",
                cfg->data_dir);
}

/* lstd init: the emptiness check comes before the lock, so that a directory that is not ours
 * is refused without a lock file left in it, and again under the lock (another lstd may have
 * created a ledger in between). Returns: the exit status. */
static int init(const rpc_config *cfg)
{
    int lock = -1;
    if (cfg->join[0] != '\0' && (cfg->replicate[0] == '\0' || cfg->dev || cfg->has_genesis)) {
        rpc_log_msg(RPC_LOG_ERROR, "init_refused",
                    "init --join needs --replicate (the NATS servers of the ledger's stream) and "
                    "neither --dev nor a genesis: the replica's genesis is the stream's");
        return 1;
    }
    if (cfg->join[0] == '\0' && cfg->dev == cfg->has_genesis) {
        rpc_log_msg(RPC_LOG_ERROR, "init_refused",
                    "init needs exactly one of --dev and a --config with a genesis");
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
    rpc_log_msg(RPC_LOG_ERROR, "no_ledger",
                "no ledger in %s (%s/ledger/data.mdb is missing or empty): create one with "
                "`lstd init`%s; a ledger is never created as a side effect of starting",
                cfg->data_dir, cfg->data_dir,
                unused ? " (or start with --dev for a development ledger)"
                       : " in an empty directory");
    return -1;
}

/* Open the ledger to serve, creating the development one first when fresh.
 * Out: id (the ledger's id, for the status line). */
static int open_ledger(const rpc_config *cfg, bool fresh, store_db **store,
                       char id[LEDGER_ID_MAX + 1])
{
    ledger_genesis g;
    if (fresh && create_ledger(cfg) != 0)
        return -1;
    if (open_store(cfg, store) != 0)
        return -1;
    if (rpc_genesis_check(*store, cfg) != 0 ||
        ledger_genesis_read(store_db_view(*store), &g) != LEDGER_OK) {
        store_db_close(store);
        return -1;
    }
    memcpy(id, g.ledger_id, LEDGER_ID_MAX + 1);
    return 0;
}

/* Open the rate-history index beside the log (DATA/ledger/rate-index), rebuilding it from the
 * log when it is missing or does not match (said in one log line when there was a history to
 * replay). Returns: 0 or -1 (said in the log). */
static int open_rates(const rpc_config *cfg, store_db *store, rpc_rates **rates)
{
    char path[RPC_PATH_MAX + 32], msg[600], q[QUOTED_MAX], why[400];
    rpc_rates_info info;
    snprintf(path, sizeof path, "%s/ledger/rate-index", cfg->data_dir);
    int rc =
        rpc_rates_open(rates, path, store, cfg->durability == STORE_SYNC, &info, msg, sizeof msg);
    if (rc != LEDGER_OK) {
        rpc_log_msg(RPC_LOG_ERROR, "rate_index_failed", "%s (%s)", msg, ledger_err_name(rc));
        return -1;
    }
    if (info.rebuilt && info.replayed > 0)
        rpc_log(RPC_LOG_WARN, "rate_index",
                " file=%s rebuilt=true why=%s replayed=%" PRIu64 " entries=%" PRIu64 " ms=%" PRIu64,
                rpc_log_quote(q, sizeof q, path), rpc_log_quote(why, sizeof why, info.why),
                info.replayed, info.entries, info.ms);
    return 0;
}

/* Append ",item" (or "item" first) to a comma-separated list. */
static void list_add(char *list, size_t size, const char *item)
{
    size_t used = strlen(list);
    snprintf(list + used, size - used, "%s%s", used > 0 ? "," : "", item);
}

static uint64_t monotonic_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * USEC_PER_S + (uint64_t)ts.tv_nsec / 1000;
}

/* Point the log at path again (the same file after logrotate renamed it, or a new one).
 * Returns: 0, or -1 (said in the log, which stays where it was). */
static int log_reopen(const char *path)
{
    char err[RPC_PATH_MAX + 128];
    if (rpc_log_open(path, err, sizeof err) == 0)
        return 0;
    rpc_log_msg(RPC_LOG_ERROR, "log_reopen_failed", "%s; the log stays where it was", err);
    return -1;
}

/* The settings a reload applies (batch_max, log_level, log_file) go from running to next.
 * Out: applied (a list of what changed). */
static void reload_apply(rpc_server *server, rpc_config *running, const rpc_config *next,
                         char *applied, size_t size)
{
    char item[96];
    if (next->batch_max != running->batch_max) {
        snprintf(item, sizeof item, "batch_max:%u->%u", running->batch_max, next->batch_max);
        list_add(applied, size, item);
        rpc_server_set_batch_max(server, next->batch_max);
        running->batch_max = next->batch_max;
    }
    if (next->log_level != running->log_level) {
        snprintf(item, sizeof item, "log_level:%s->%s",
                 rpc_log_level_name((rpc_log_level)running->log_level),
                 rpc_log_level_name((rpc_log_level)next->log_level));
        list_add(applied, size, item);
        rpc_log_set_level((rpc_log_level)next->log_level);
        running->log_level = next->log_level;
    }
    if (strcmp(next->log_file, running->log_file) != 0 && log_reopen(next->log_file) == 0) {
        list_add(applied, size, "log_file");
        memcpy(running->log_file, next->log_file, sizeof running->log_file);
    } else {
        log_reopen(running->log_file); /* logrotate: the same path, a new file */
    }
}

/* Name each bound (PROTOCOL.md, "Limits") that differs: all need a restart. */
static void list_bounds(char *list, size_t size, const rpc_config *a, const rpc_config *b)
{
    if (a->conn_max != b->conn_max)
        list_add(list, size, "conn_max");
    if (a->conn_queue_max != b->conn_queue_max)
        list_add(list, size, "conn_queue_max");
    if (a->conn_reply_bytes != b->conn_reply_bytes)
        list_add(list, size, "conn_reply_bytes");
    if (a->reply_bytes_max != b->reply_bytes_max)
        list_add(list, size, "reply_bytes_max");
    if (a->sub_max != b->sub_max)
        list_add(list, size, "sub_max");
    if (a->sub_topics_max != b->sub_topics_max)
        list_add(list, size, "sub_topics_max");
    if (a->sub_queue_bytes != b->sub_queue_bytes)
        list_add(list, size, "sub_queue_bytes");
}

/* The settings that differ between running and next and would need a restart. Out: list. */
static void reload_restart_list(const rpc_config *running, const rpc_config *next, char *list,
                                size_t size)
{
    if (strcmp(next->endpoint, running->endpoint) != 0)
        list_add(list, size, "endpoint");
    if (strcmp(next->events_endpoint, running->events_endpoint) != 0)
        list_add(list, size, "events");
    if (strcmp(next->data_dir, running->data_dir) != 0)
        list_add(list, size, "data");
    if (strcmp(next->metrics, running->metrics) != 0)
        list_add(list, size, "metrics");
    if (next->verify_threads != running->verify_threads)
        list_add(list, size, "verify_threads");
    if (next->queue_max != running->queue_max)
        list_add(list, size, "queue_max");
    if (next->durability != running->durability)
        list_add(list, size, "durability");
    if (next->memory_limit_mb != running->memory_limit_mb)
        list_add(list, size, "memory_limit_mb");
    if (next->checkpoint_s != running->checkpoint_s)
        list_add(list, size, "checkpoint_s");
    if (next->commit_gather_us != running->commit_gather_us)
        list_add(list, size, "commit_gather_us");
    if (strcmp(next->curve_secret_key, running->curve_secret_key) != 0)
        list_add(list, size, "curve_secret_key");
    if (strcmp(next->replicate, running->replicate) != 0 || strcmp(next->node, running->node) ||
        strcmp(next->advertise, running->advertise) != 0 || next->lease_ms != running->lease_ms ||
        next->replicas != running->replicas)
        list_add(list, size, "replication");
    list_bounds(list, size, next, running);
}

/* SIGHUP: reopen the log, read the arguments again exactly as at start (the --config file
 * where it appears, the flags after it still overriding it), apply what is safe to change
 * while running (batch_max, log_level, log_file) and name what would need a restart. One
 * log line, event=reload. */
static void reload(rpc_server *server, rpc_config *running, int argc, char **argv)
{
    rpc_config next;
    char err[512], applied[256] = "", restart[256] = "", q[QUOTED_MAX];
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading", monotonic_usec());
    rpc_config_defaults(&next);
    if (running->config_path[0] == '\0') {
        log_reopen(running->log_file);
        rpc_log(RPC_LOG_INFO, "reload",
                " config=none outcome=unchanged msg=\"no --config file to read again; the log "
                "was reopened, settings are unchanged\"");
        rpc_server_reload_curve(server, running->curve_clients);
        return;
    }
    rpc_log_quote(q, sizeof q, running->config_path);
    if (rpc_config_parse_args(&next, argc, argv, err, sizeof err) != 0) {
        char why[sizeof err + 64];
        log_reopen(running->log_file);
        snprintf(why, sizeof why, "kept the running settings: %s", err);
        rpc_log(RPC_LOG_ERROR, "reload", " config=%s outcome=kept msg=%s", q,
                rpc_log_quote(err, sizeof err, why));
        rpc_server_reload_curve(server, running->curve_clients);
        return;
    }
    reload_apply(server, running, &next, applied, sizeof applied);
    if (strcmp(next.curve_clients, running->curve_clients) != 0) {
        list_add(applied, sizeof applied, "curve_clients");
        memcpy(running->curve_clients, next.curve_clients, sizeof running->curve_clients);
    }
    reload_restart_list(running, &next, restart, sizeof restart);
    bool genesis = next.has_genesis != running->has_genesis ||
                   memcmp(&next.genesis, &running->genesis, sizeof next.genesis) != 0;
    rpc_log(RPC_LOG_INFO, "reload", " config=%s outcome=%s%s%s%s%s%s", q,
            applied[0] != '\0' || restart[0] != '\0' || genesis ? "applied" : "unchanged",
            applied[0] != '\0' ? " applied=" : "", applied,
            restart[0] != '\0' ? " needs_restart=" : "", restart,
            genesis ? " ignored=genesis" : "");
    rpc_server_reload_curve(server, running->curve_clients); /* added or removed keys */
}

/* Wait for the next signal in signals; with the systemd watchdog on (every_usec > 0) wake
 * every every_usec to tell systemd the main loop is alive. Returns: the signal. */
static int next_signal(const sigset_t *signals, uint64_t every_usec)
{
    for (;;) {
        int sig = 0;
        if (every_usec == 0) {
            if (sigwait(signals, &sig) == 0)
                return sig;
            continue;
        }
        struct timespec t = {(time_t)(every_usec / USEC_PER_S),
                             (long)(every_usec % USEC_PER_S) * 1000};
        sig = sigtimedwait(signals, NULL, &t);
        if (sig > 0)
            return sig;
        if (errno == EAGAIN)
            sd_notify(0, "WATCHDOG=1");
    }
}

/* The watchdog interval: half of $WATCHDOG_USEC when systemd set it for this process, else 0. */
static uint64_t watchdog_every_usec(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    return usec / 2 > 0 ? usec / 2 : 1;
}

/* A socket anyone on the network may reach without CURVE: said in the log, once at start. */
static void warn_insecure(const rpc_config *cfg)
{
    const char *urls[2] = {cfg->endpoint, cfg->events_endpoint};
    char q[QUOTED_MAX];
    if (cfg->curve_secret_key[0] != '\0')
        return;
    for (int i = 0; i < 2; i++)
        if (!rpc_endpoint_loopback(urls[i]))
            rpc_log(RPC_LOG_WARN, "insecure_bind",
                    " endpoint=%s msg=\"bound to an address other than loopback without CURVE: "
                    "anyone who can reach it reads the traffic and may connect; set "
                    "curve_secret_key and curve_clients (README.md, CURVE)\"",
                    rpc_log_quote(q, sizeof q, urls[i]));
}

static void notify_serving(const rpc_config *cfg, const char *id)
{
    sd_notifyf(0, "READY=1\nSTATUS=serving ledger %s: requests %s, events %s", id, cfg->endpoint,
               cfg->events_endpoint);
}

/* Serve until SIGINT or SIGTERM; SIGHUP reloads. The order: check, lock the data directory,
 * bind the sockets, and only then create (--dev, unused directory) or open the ledger, so a
 * second lstd or a taken port fails before anything is written. Under systemd, READY=1 follows
 * the ready line and STOPPING=1 the stop signal. Returns: the exit status. */
/* Consume replication verdicts still pending: the restart starts from the log on disk. */
static void drain_repl_signals(void)
{
    sigset_t set;
    struct timespec zero = {0, 0};
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
}

/* Replication's verdicts reach the main loop as signals: SIGUSR1 another replica leads now
 * (restart as a follower), SIGUSR2 this replica cannot follow the stream (stop). */
static void on_repl_stop(void *ctx, bool diverged)
{
    (void)ctx;
    kill(getpid(), diverged ? SIGUSR2 : SIGUSR1);
}

/* --replicate: join the ledger's stream (rpc_repl.h) as a follower; the advertised endpoint
 * is the bound one unless set. Out: *repl (NULL when not replicated). Returns: 0, -1, or
 * the stop signal that ended the wait for NATS (a stop as requested, not a failure). */
static int open_repl(rpc_config *cfg, rpc_server *server, store_db *store, const char *id,
                     rpc_repl **repl)
{
    char msg[512];
    *repl = NULL;
    if (cfg->replicate[0] == '\0')
        return 0;
    if (cfg->advertise[0] == '\0')
        snprintf(cfg->advertise, sizeof cfg->advertise, "%s", rpc_server_requests_url(server));
    if (rpc_repl_open(repl, cfg, id, true, msg, sizeof msg) != 0 ||
        rpc_repl_attach(*repl, store, on_repl_stop, NULL, msg, sizeof msg) != 0) {
        rpc_repl_close(repl);
        int sig = rpc_repl_stop_signal();
        if (sig != 0) /* rpc_repl's waits end at a stop signal */
            return sig;
        rpc_log_msg(RPC_LOG_ERROR, "replication_refused", "cannot replicate ledger %s: %s", id,
                    msg);
        return -1;
    }
    rpc_repl_status st;
    rpc_repl_status_get(*repl, &st);
    rpc_log(RPC_LOG_INFO, "replicating",
            " stream=%s node=%s applied=%" PRIu64 " msg=\"following the stream; leading once "
            "the lease is free\"",
            st.stream, st.node, st.applied);
    return 0;
}

/* Stop serving: the replication gives up a publish it cannot finish, the server answers
 * what is in flight, then the lease is given back and the store closed. */
static void serve_stop(rpc_server **server, rpc_repl **repl, rpc_rates **rates, store_db **store,
                       int *lock)
{
    rpc_repl_shutdown(*repl);
    rpc_server_stop(server);
    rpc_repl_close(repl);
    rpc_rates_close(rates);
    store_db_close(store);
    rpc_datadir_unlock(lock);
}

static int serve(rpc_config *cfg, int argc, char **argv, const sigset_t *signals)
{
    bool fresh;
    int lock = -1;
    char id[LEDGER_ID_MAX + 1];
    rpc_server *server = NULL;
    store_db *store = NULL;
    rpc_rates *rates = NULL;
    rpc_repl *repl = NULL;
    if (check_servable(cfg, &fresh) != 0 || rpc_datadir_lock(cfg->data_dir, &lock) != 0)
        return 1;
    warn_insecure(cfg);
    /* under the lock: another lstd may have created the ledger since the check */
    int stopped = 0;
    if (check_servable(cfg, &fresh) != 0 || rpc_server_bind(&server, cfg) != 0 ||
        open_ledger(cfg, fresh, &store, id) != 0 || open_rates(cfg, store, &rates) != 0 ||
        (stopped = open_repl(cfg, server, store, id, &repl)) != 0 ||
        rpc_server_start(server, store, rates, repl) != 0) {
        serve_stop(&server, &repl, &rates, &store, &lock);
        if (stopped <= 0)
            return 1;
        rpc_log(RPC_LOG_INFO, "stopped",
                " signal=%s exit=0 msg=\"stopped while waiting for NATS; nothing was served\"",
                stopped == SIGINT ? "SIGINT" : "SIGTERM");
        return 0;
    }
    uint64_t watchdog_usec = watchdog_every_usec();
    notify_serving(cfg, id);
    if (watchdog_usec > 0)
        sd_notify(0, "WATCHDOG=1");
    int sig;
    while ((sig = next_signal(signals, watchdog_usec)) == SIGHUP) {
        reload(server, cfg, argc, argv);
        notify_serving(cfg, id);
    }
    if (sig == SIGUSR1 || sig == SIGUSR2) {
        const char *what = sig == SIGUSR1 ? "another replica leads: restarting as a follower"
                                          : "this replica cannot follow the stream: stopping";
        sd_notifyf(0, "STOPPING=1\nSTATUS=%s", what);
        rpc_log(RPC_LOG_WARN, "stopping", " signal=replication msg=\"%s\"", what);
        serve_stop(&server, &repl, &rates, &store, &lock);
        if (sig == SIGUSR2) {
            rpc_log(RPC_LOG_ERROR, "stopped", " exit=1");
            return 1;
        }
        rpc_log(RPC_LOG_INFO, "restarting", " msg=\"as a follower, from the log on disk\"");
        drain_repl_signals(); /* a pending one would survive the exec */
        execv("/proc/self/exe", argv);
        rpc_log_msg(RPC_LOG_ERROR, "restart_failed", "cannot restart: %s", strerror(errno));
        return 1;
    }
    const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    sd_notifyf(0, "STOPPING=1\nSTATUS=%s: finishing requests in flight", name);
    rpc_log(RPC_LOG_INFO, "stopping", " signal=%s msg=\"finishing requests in flight\"", name);
    serve_stop(&server, &repl, &rates, &store, &lock);
    rpc_log(RPC_LOG_INFO, "stopped", " exit=0");
    return 0;
}

/* Logging for serving: the level and the file from the settings, then the start line.
 * Returns: 0, or -1 (the file cannot be opened; said on stderr). */
static int log_start(const rpc_config *cfg)
{
    char err[RPC_PATH_MAX + 128], data[QUOTED_MAX], config[QUOTED_MAX], file[QUOTED_MAX];
    rpc_log_set_level((rpc_log_level)cfg->log_level);
    if (rpc_log_open(cfg->log_file, err, sizeof err) != 0) {
        rpc_log_msg(RPC_LOG_ERROR, "log_open_failed", "%s", err);
        return -1;
    }
    rpc_log(RPC_LOG_INFO, "start", " version=%s pid=%ld data=%s config=%s log_level=%s log_file=%s",
            LSTD_VERSION, (long)getpid(), rpc_log_quote(data, sizeof data, cfg->data_dir),
            cfg->config_path[0] != '\0' ? rpc_log_quote(config, sizeof config, cfg->config_path)
                                        : "none",
            rpc_log_level_name((rpc_log_level)cfg->log_level),
            cfg->log_file[0] != '\0' ? rpc_log_quote(file, sizeof file, cfg->log_file) : "stderr");
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
        sigaddset(&signals, SIGUSR1); /* replication: step down (on_repl_stop) */
        sigaddset(&signals, SIGUSR2); /* replication: cannot follow */
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
    if (is_init) {
        rpc_log_set_plain(true); /* an operator at a terminal: plain sentences on stderr */
        return init(&cfg);
    }
    if (log_start(&cfg) != 0)
        return 1;
    int rc = serve(&cfg, argc, argv, &signals);
    if (rc != 0)
        rpc_log(RPC_LOG_ERROR, "stopped", " exit=%d", rc);
    return rc;
}
