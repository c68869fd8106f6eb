/* nats_harness.h - start, kill and restart a NATS JetStream cluster on loopback, for tests */
#ifndef LSTD_NATS_HARNESS_H
#define LSTD_NATS_HARNESS_H

#include <stdbool.h>

#define NATS_CLUSTER_MAX 5   /* servers in one cluster, at most */
#define NATS_CLUSTER_SKIP 77 /* exit status of a test that cannot run (ctest SKIP_RETURN_CODE) */
#define NATS_CLUSTER_READY_MS 20000 /* deadline for every server to be ready (start, restart) */
#define NATS_CLUSTER_STOP_MS 10000  /* SIGTERM, then SIGKILL after this long */

/* The named errors of this harness (nats_cluster_err_name gives the name). */
typedef enum nats_cluster_err {
    NATS_CLUSTER_OK = 0,
    NATS_CLUSTER_NO_SERVER,  /* no nats-server executable ($LSTD_NATS_SERVER, PATH, /usr/sbin) */
    NATS_CLUSTER_BAD_ARG,    /* n not in 1..NATS_CLUSTER_MAX, index out of range, wrong state */
    NATS_CLUSTER_IO,         /* temporary directory, config, log file, socket or fork failed */
    NATS_CLUSTER_PORT_CLASH, /* a port was taken between choosing and binding, on every try */
    NATS_CLUSTER_EXITED,     /* a server exited before it was ready (see its log) */
    NATS_CLUSTER_NOT_READY,  /* a server was not healthy by the deadline (see its log) */
} nats_cluster_err;

/* A cluster of nats-server processes, each with its own config, store directory and log under
 * one temporary directory, every listener on 127.0.0.1. */
typedef struct nats_cluster nats_cluster;

/** Returns: the path of the nats-server executable ($LSTD_NATS_SERVER when set, else the first
 *  on PATH, else /usr/sbin or /usr/local/sbin: Debian installs it in /usr/sbin), or NULL. */
const char *nats_server_path(void);

/** Returns: true when nats_server_path finds an executable. A test that needs NATS prints
 *  "skipped: no nats-server" and exits with NATS_CLUSTER_SKIP when this is false. */
bool nats_server_available(void);

/** Start n servers (1..NATS_CLUSTER_MAX) named n0, n1, ... in a fresh temporary directory:
 *  client, route and monitoring ports chosen free on 127.0.0.1, routes to all the others
 *  (n > 1; a single server runs without a cluster block), JetStream with its own store_dir,
 *  max_payload 8MB. Each server runs in its own process group, dies with the calling thread
 *  (PR_SET_PDEATHSIG) and logs to DIR/nI.log. Waits until every server answers /healthz with
 *  JetStream in contact with a meta leader; the whole start is retried on a port clash.
 *  Out: *out, the cluster (NULL on failure; nothing is left running or on disk).
 *  Returns: NATS_CLUSTER_OK or a nats_cluster_err (nats_cluster_last_error says which server
 *  and where its log is; the log's tail is printed on stderr). */
int nats_cluster_start(nats_cluster **out, int n);

/** Returns: "nats://127.0.0.1:P0,nats://127.0.0.1:P1,..." (lstd's --replicate form); valid
 *  until nats_cluster_stop. */
const char *nats_cluster_urls(const nats_cluster *c);

/** Returns: "nats://127.0.0.1:Pi" of server i, or NULL when i is out of range. */
const char *nats_cluster_url(const nats_cluster *c, int i);

/** Returns: the server_name of server i ("n0", ...), or NULL when i is out of range. */
const char *nats_cluster_name(const nats_cluster *c, int i);

/** Returns: the index of the server named name (as JetStream's cluster info reports it), or
 *  -1 when no server has that name. */
int nats_cluster_index(const nats_cluster *c, const char *name);

/** Returns: the path of server i's log file, or NULL when i is out of range. */
const char *nats_cluster_log(const nats_cluster *c, int i);

/** Returns: the number of servers, and whether server i is running (reaps it if it exited). */
int nats_cluster_size(const nats_cluster *c);
bool nats_cluster_running(nats_cluster *c, int i);

/** SIGKILL server i and wait for it to exit. Its store directory is kept.
 *  Returns: NATS_CLUSTER_OK, or NATS_CLUSTER_BAD_ARG when i is out of range or not running. */
int nats_cluster_kill(nats_cluster *c, int i);

/** Start server i again with the same config, store directory and ports, and wait until its
 *  /healthz is ok (in contact with the meta leader, every stream it holds current): it has
 *  rejoined. Returns: NATS_CLUSTER_OK, NATS_CLUSTER_BAD_ARG (out of range or running), or
 *  NATS_CLUSTER_IO, NATS_CLUSTER_EXITED, NATS_CLUSTER_NOT_READY (server i left stopped). */
int nats_cluster_restart(nats_cluster *c, int i);

/** SIGTERM every running server, wait, SIGKILL after NATS_CLUSTER_STOP_MS; remove the
 *  temporary directory unless $LSTD_KEEP_NATS=1 (its path is printed then). Safe on a partly
 *  started cluster and on *cp == NULL; sets *cp = NULL. */
void nats_cluster_stop(nats_cluster **cp);

/** Returns: the stable name of a nats_cluster_err ("NATS_CLUSTER_NOT_READY"), or "UNKNOWN". */
const char *nats_cluster_err_name(int err);

/** Returns: a message about the last failure of a function above ("" when none); valid until
 *  the next call of one. */
const char *nats_cluster_last_error(void);

#endif
