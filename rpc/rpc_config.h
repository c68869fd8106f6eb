/* rpc_config.h - lstd's settings: embedded defaults, command-line flags and a config file */
#ifndef LSTD_RPC_CONFIG_H
#define LSTD_RPC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ledger.h"

#define RPC_PATH_MAX 512

typedef struct rpc_config {
    char endpoint[RPC_PATH_MAX];        /* ROUTER: requests */
    char events_endpoint[RPC_PATH_MAX]; /* PUB: events */
    char data_dir[RPC_PATH_MAX];
    char metrics[RPC_PATH_MAX]; /* Prometheus endpoint HOST:PORT, or "off" */
    unsigned verify_threads;
    unsigned batch_max;        /* transactions per batch (applied as one) */
    unsigned queue_max;        /* requests in flight before BUSY */
    int durability;            /* enum store_durability */
    unsigned memory_limit_mb;  /* state + indexes must fit; 0: three quarters of physical memory */
    unsigned checkpoint_s;     /* seconds between checkpoints of changed state (1..3600) */
    unsigned commit_gather_us; /* under load, log commits at most this often (0..100000) */
    int log_level;             /* enum rpc_log_level (default info) */
    char log_file[RPC_PATH_MAX]; /* "" : stderr */
    /* bounds per connection and in all (PROTOCOL.md, "Limits") */
    unsigned conn_max;         /* request connections at once */
    unsigned conn_queue_max;   /* requests one connection may have in flight */
    uint64_t conn_reply_bytes; /* replies waiting for one connection: past it, not read */
    uint64_t reply_bytes_max;  /* replies waiting for all connections together */
    unsigned sub_max;          /* subscriber connections at once */
    unsigned sub_topics_max;   /* subscriptions one subscriber may hold */
    uint64_t sub_queue_bytes;  /* events waiting for one subscriber: past it, dropped */
    /* CURVE on both sockets (PROTOCOL.md, "Transport"): "" when off */
    char curve_secret_key[RPC_PATH_MAX]; /* the server's secret key file (mode 0600) */
    char curve_clients[RPC_PATH_MAX];    /* the allow-list of client public keys */
    /* replication over NATS JetStream (README.md, "Replication"): replicate "" when off */
    char replicate[RPC_PATH_MAX]; /* nats:// URLs, comma-separated */
    char node[RPC_PATH_MAX];      /* this replica's name ("": its advertise endpoint) */
    char advertise[RPC_PATH_MAX]; /* the request endpoint clients reach it at ("": as bound) */
    unsigned lease_ms;            /* the leader lease's time to live (default 3000) */
    unsigned replicas;            /* the stream's and the lease bucket's replicas (default 3) */
    char join[LEDGER_ID_MAX + 1]; /* lstd init --join ID: a replica of that ledger's stream */
    bool help;
    bool version; /* --version: print "lstd VERSION" and exit */
    bool dev;     /* --dev: a development ledger may be created in an unused data directory */
    char config_path[RPC_PATH_MAX]; /* the last --config read ("" when none): SIGHUP re-reads */
    /* production genesis (config file only); has_genesis when any genesis key was given */
    bool has_genesis;
    ledger_genesis genesis;
} rpc_config;

/** Fill cfg with the embedded defaults: endpoints tcp://127.0.0.1:7440 and :7441, metrics
 *  127.0.0.1:9440, data directory ./lstd-data, verification threads = online CPUs, batch_max
 *  4096, queue_max 16384, durability sync, checkpoint_s 10, commit_gather_us 3000, log_level
 *  info, log_file "" (stderr), and the bounds of --help (conn_max 1024, conn_queue_max 4096,
 *  conn_reply_bytes 4 MiB, reply_bytes_max 256 MiB, sub_max 256, sub_topics_max 256,
 *  sub_queue_bytes 2 MiB). */
void rpc_config_defaults(rpc_config *cfg);

/** Apply command-line flags (argv[1..]); --config FILE is read where it appears, so later
 *  flags override the file. Every setting has one name: `batch_max` in a file, `--batch-max`
 *  as a flag (the key with '-' for '_'); the other spelling is unknown, with a suggestion. Out: err
 * (a message naming the bad flag or line; an unknown flag or key names the closest known one: "did
 * you mean --batch-max?"); curve_clients without curve_secret_key is one too. Returns: 0, or -1
 * on a usage error. */
int rpc_config_parse_args(rpc_config *cfg, int argc, char **argv, char *err, size_t err_size);

/** Read a config file of `key = value` lines ('#' comments). Returns: 0 or -1 (err set). */
int rpc_config_read_file(rpc_config *cfg, const char *path, char *err, size_t err_size);

/** The known name closest to word, for "did you mean": at most 2 edits away (inserting,
 *  deleting or replacing a character, or swapping two neighbours, each 1; ASCII case is
 *  ignored) and fewer edits than word has characters; the first of equally close names.
 *  Returns: one of names (not copied), or NULL when none is that close. */
const char *rpc_closest_name(const char *word, const char *const *names, size_t count);

/** Whether endpoint ("tcp://HOST:PORT") names a loopback host: 127.0.0.0/8, [::1] or
 *  localhost. Returns: true when it does (`*`, any other address or name: false). */
bool rpc_endpoint_loopback(const char *endpoint);

/** Write the --help text to out. */
void rpc_config_help(FILE *out);

/** Parse 64 hex characters into 32 bytes. Returns: 0 or -1. */
int rpc_hex_decode32(uint8_t out[32], const char *hex);

/** Write 32 bytes as 64 lowercase hex characters and a NUL. */
void rpc_hex_encode32(char out[65], const uint8_t in[32]);

#endif
