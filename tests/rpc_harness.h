/* rpc_harness.h - run a real lstd process and talk to it over ZeroMQ, for integration tests */
#ifndef LSTD_RPC_HARNESS_H
#define LSTD_RPC_HARNESS_H

#include <msgpack.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ledger.h"

#define RH_RCVTIMEO_MS 10000 /* default receive timeout of the sockets made here */
#define RH_ARGS_MAX 24

/* A key pair: secret key and x-only public key. */
typedef struct rh_key {
    uint8_t sk[32], pk[32];
} rh_key;

/* One lstd process on its own data directory (kept across restarts). */
typedef struct rh_server {
    char *dir;          /* fresh temporary directory; removed by rh_free */
    char data_dir[512]; /* dir/data, given as --data */
    char *extra[RH_ARGS_MAX];
    int extra_count;
    pid_t pid;          /* 0 when not running; also its process group */
    char requests[256]; /* ROUTER url from the ready line */
    char events[256];   /* PUB url from the ready line */
    char metrics[256];  /* metrics url from the ready line ("off" when off) */
    char ledger_id[LEDGER_ID_MAX + 1];
    rh_key admin, custodian, operator_key, treasury; /* the development keys (DATA/keys) */
    bool production;    /* genesis from a config file: no development keys to load */
    char err_path[600]; /* when not "": the server's stderr is appended to this file */
    bool has_status;    /* exited and reaped: wait_status holds its status */
    int wait_status;
    /* CURVE: when curve is set, rh_dealer, rh_req and rh_sub are CURVE clients with these keys */
    bool curve;
    uint8_t curve_server[32], curve_public[32], curve_secret[32];
    bool no_ledger_id; /* rh_launch does not ask for the ledger id (no client may connect) */
} rh_server;

/* A decoded reply or event: one msgpack object; root is the top map (NULL if not a map). */
typedef struct rh_reply {
    msgpack_unpacked up;
    const msgpack_object *root;
    char *data;  /* the received bytes (the objects point into them) */
    size_t size; /* bytes received */
} rh_reply;

/* A field of a request map built by rh_pack_map. */
enum rh_field_type { RH_F_UINT = 1, RH_F_BIN, RH_F_STR, RH_F_NIL, RH_F_BOOL };

typedef struct rh_field {
    const char *name;
    int type;
    uint64_t u;
    const void *p;
    size_t len;
} rh_field;

#define RH_UINT(name, v) ((rh_field){(name), RH_F_UINT, (uint64_t)(v), NULL, 0})
#define RH_BIN(name, ptr, n) ((rh_field){(name), RH_F_BIN, 0, (ptr), (n)})
#define RH_STR(name, s) ((rh_field){(name), RH_F_STR, 0, (s), strlen(s)})
#define RH_NIL(name) ((rh_field){(name), RH_F_NIL, 0, NULL, 0})

/* ---- process control ------------------------------------------------------------------- */

/** Install the safety nets: a test-wide alarm (timeout_s, or $LSTD_TEST_TIMEOUT_S when set)
 *  that kills every server and fails the test, and an atexit/signal cleanup that SIGKILLs the
 *  process group of every server still running. Call first in main. */
void rh_init(const char *test_name, unsigned timeout_s);

/** The process-wide ZeroMQ context. */
void *rh_ctx(void);

/** Make a fresh directory and start lstd on it: --data DIR/data --endpoint tcp://127.0.0.1:*
 *  --events tcp://127.0.0.1:* --metrics 127.0.0.1:0 --durability nosync, then extra
 *  (NULL-terminated, may be NULL;
 *  later flags override earlier ones). Waits for the ready line, loads the development keys
 *  and reads the ledger id with a pool query. Returns: the server, or NULL (reason on stderr). */
rh_server *rh_start(const char *const *extra);

/** Make the directory and the server record without starting it (set production, write a
 *  config file, then rh_launch). Returns: the server (never NULL). */
rh_server *rh_prepare(const char *const *extra);

/** Run `lstd init --data DIR/data` with the server's extra flags (its --config) and wait.
 *  Returns: lstd's exit status (0: created), 128 + signal, or -1. */
int rh_init_ledger(rh_server *s);

/** (Re)start the process on the server's existing data directory with its extra flags
 *  (and --dev unless production, so the first launch creates a development ledger); its
 *  stderr goes to err_path when that is set, else to the test's.
 *  Returns: 0, or -1 (reason on stderr; nothing left running). */
int rh_launch(rh_server *s);

/** Send sig to the server (without waiting). */
void rh_signal(const rh_server *s, int sig);

/** Wait up to timeout_ms for the server to exit; on timeout SIGKILL its process group.
 *  Returns: its exit code, 128 + signal when killed by a signal, or -1 when it had to be
 *  killed here (a hang). The server is not running afterwards. */
int rh_wait(rh_server *s, unsigned timeout_ms);

/** Send sig and rh_wait. Returns: as rh_wait. */
int rh_stop(rh_server *s, int sig, unsigned timeout_ms);

/** Returns: true while the process has not exited (reaps it when it has). */
bool rh_running(rh_server *s);

/** Returns: true if dir is absent or holds nothing but lstd.lock (no ledger, no keys were
 *  made in it); each other entry is named on stderr. */
bool rh_dir_unused(const char *dir);

/** SIGSTOP the server and wait until every thread of it has stopped (delivery is
 *  asynchronous: a request sent right after kill() could otherwise still be answered).
 *  Returns: 0, or -1 (message on stderr) when it did not stop within 2 s. */
int rh_pause(rh_server *s);

/** SIGKILL a running server, remove its directory, free it, *sp = NULL. */
void rh_free(rh_server **sp);

/** Returns: the server's resident set size in KiB (VmRSS), or -1. */
long rh_rss_kb(const rh_server *s);

/** Returns: the server's field of /proc/PID/status in KiB ("VmRSS", "VmHWM": the peak), or -1. */
long rh_status_kb(const rh_server *s, const char *field);

/* ---- keys and transactions --------------------------------------------------------------- */

/** A fresh random key pair. */
void rh_keygen(rh_key *k);

/** Read DATA/keys/<role>.key of the server. Returns: 0 or -1. */
int rh_load_key(const rh_server *s, const char *role, rh_key *k);

/** Write 32 bytes as 64 lowercase hex characters and a NUL. */
void rh_hex(char out[65], const uint8_t in[32]);

/** A zeroed transaction of kind. */
ledger_tx rh_tx(unsigned kind);

/** Set a field of tx by its wire name from the kind's field table (aborts on a name the kind
 *  does not have: a mistake in the test). */
void rh_tx_u64(ledger_tx *tx, const char *field, uint64_t v);
void rh_tx_key(ledger_tx *tx, const char *field, const uint8_t key[32]);

/** Set tx->signer to k's public key, compute the hash under ledger_id and sign it.
 *  Out: hash, sig. */
void rh_sign_for(const char *ledger_id, ledger_tx *tx, const rh_key *k, uint8_t hash[32],
                 uint8_t sig[64]);
void rh_sign(const rh_server *s, ledger_tx *tx, const rh_key *k, uint8_t hash[32], uint8_t sig[64]);

/** Pack a transaction request (PROTOCOL.md): id (when id_str is NULL the uint id), op,
 *  signer, nonce, the kind's fields by the ledger's table, sig, and `ledger` when not NULL.
 *  buf is cleared first. */
void rh_pack_tx(msgpack_sbuffer *buf, const ledger_tx *tx, const uint8_t sig[64], uint64_t id,
                const char *id_str, const char *ledger);

/** Pack {id, op, fields...} (id omitted when 0). buf is cleared first. */
void rh_pack_map(msgpack_sbuffer *buf, uint64_t id, const char *op, const rh_field *f, size_t n);

/** A fresh request id (1, 2, ...). */
uint64_t rh_next_id(void);

/* ---- sockets and messages ------------------------------------------------------------------ */

/** Sockets connected to the server with RCVTIMEO RH_RCVTIMEO_MS and LINGER 0. A SUB is
 *  subscribed to topic (NULL: nothing yet) and has no receive high-water mark. */
void *rh_dealer(const rh_server *s);
void *rh_req(const rh_server *s);
void *rh_sub(const rh_server *s, const char *topic);

/** A socket of type connected to url as rh_dealer's are, a CURVE client with these keys when
 *  server_key is not NULL (32 bytes each). */
void *rh_socket_curve(int type, const char *url, const uint8_t *server_key,
                      const uint8_t *public_key, const uint8_t *secret_key);
void rh_close(void *sock);
void rh_set_timeout(void *sock, int timeout_ms);

/** Send one frame. Returns: 0 or -1. */
int rh_send(void *sock, const void *data, size_t len);

void rh_reply_init(rh_reply *r);
void rh_reply_free(rh_reply *r);

/** Receive one reply (one frame; a second frame is a failure) and decode it into r (its
 *  previous contents are released). Returns: 0 decoded, -1 nothing within the timeout,
 *  -2 received but not exactly one msgpack object (r->root NULL). */
int rh_recv(void *sock, rh_reply *r);

/** Receive one event: topic frame, then the record. Returns: as rh_recv. */
int rh_recv_event(void *sub, char *topic, size_t topic_size, rh_reply *r);

/** Send a request and receive its reply; checks the reply echoes the request id (CHECK).
 *  Returns: as rh_recv. */
int rh_call(void *sock, const msgpack_sbuffer *req, uint64_t id, rh_reply *r);

/** Run a query with a fresh id. Returns: as rh_recv. */
int rh_query(void *sock, rh_reply *r, const char *op, const rh_field *f, size_t n);

/** The account's next_nonce from the account query, or 0 on failure. */
uint64_t rh_next_nonce(void *sock, const uint8_t pk[32]);

/** Sign tx with k (nonce: tx->nonce, or the account's next nonce when 0), send it with a
 *  fresh id and receive the reply. Out: hash (may be NULL). Returns: as rh_recv. */
int rh_submit(const rh_server *s, void *sock, ledger_tx *tx, const rh_key *k, rh_reply *r,
              uint8_t hash[32]);

/* ---- raw ZMTP, for clients libzmq would not let a test be (a message that never ends) ---- */

/** A TCP connection to url ("tcp://HOST:PORT") that has sent a ZMTP 3.0 greeting and READY
 *  as socket type `type` ("DEALER", "SUB") and read the server's greeting and READY. rcvbuf:
 *  SO_RCVBUF set before connecting (0: the default). Returns: the socket, or -1. */
int rh_zmtp_open(const char *url, const char *type, int rcvbuf);

/** Write len raw bytes (blocking). Returns: 0, or -1 when the server has closed the connection. */
int rh_zmtp_raw(int fd, const void *data, size_t len);

/** Write one frame (blocking). Returns: 0, or -1 when the server has closed the connection. */
int rh_zmtp_frame(int fd, const void *data, size_t len, bool more);

/** Read and discard what comes until the server closes the connection or timeout_ms pass.
 *  Returns: true when it closed. */
bool rh_zmtp_closed(int fd, int timeout_ms);

/* ---- reading replies ------------------------------------------------------------------------- */

/** The value of key in a map object (NULL when o is not a map or has no such key). */
const msgpack_object *rh_get(const msgpack_object *o, const char *key);

/** Typed look-ups: false when absent or of another type (bin: another size too). */
bool rh_get_uint(const msgpack_object *o, const char *key, uint64_t *out);
/** A 128-bit total, sent as a str of decimal digits (PROTOCOL.md): false unless 1..39 digits
 *  without a leading zero, below 2^128. */
bool rh_get_u128(const msgpack_object *o, const char *key, ledger_u128 *out);
bool rh_get_bool(const msgpack_object *o, const char *key, bool *out);
bool rh_get_str(const msgpack_object *o, const char *key, char *out, size_t size);
const uint8_t *rh_get_bin(const msgpack_object *o, const char *key, size_t len);
const msgpack_object *rh_get_map(const msgpack_object *o, const char *key);
const msgpack_object *rh_get_array(const msgpack_object *o, const char *key);
bool rh_is_nil(const msgpack_object *o, const char *key);
bool rh_str_is(const msgpack_object *v, const char *s);

/* Checked look-ups: a missing key or a wrong type is a failed CHECK at the caller's line. */
uint64_t rh_u64_at(const msgpack_object *o, const char *key, const char *file, int line);
ledger_u128 rh_u128_at(const msgpack_object *o, const char *key, const char *file, int line);
bool rh_bool_at(const msgpack_object *o, const char *key, const char *file, int line);
const msgpack_object *rh_map_at(const msgpack_object *o, const char *key, const char *file,
                                int line);
const msgpack_object *rh_array_at(const msgpack_object *o, const char *key, const char *file,
                                  int line);
void rh_check_str(const msgpack_object *o, const char *key, const char *want, const char *file,
                  int line);
void rh_check_bin(const msgpack_object *o, const char *key, const void *want, size_t len,
                  const char *file, int line);
void rh_check_nil(const msgpack_object *o, const char *key, const char *file, int line);
void rh_check_ok(const rh_reply *r, const char *file, int line);
void rh_check_error(const rh_reply *r, const char *want, const char *file, int line);
void rh_check_keys(const msgpack_object *o, const char *const *keys, const char *file, int line);

#define RH_U64(o, k) rh_u64_at((o), (k), __FILE__, __LINE__)
#define RH_BOOL(o, k) rh_bool_at((o), (k), __FILE__, __LINE__)
#define RH_MAP(o, k) rh_map_at((o), (k), __FILE__, __LINE__)
#define RH_ARRAY(o, k) rh_array_at((o), (k), __FILE__, __LINE__)
#define CHECK_STR(o, k, want) rh_check_str((o), (k), (want), __FILE__, __LINE__)
#define CHECK_BIN(o, k, want, n) rh_check_bin((o), (k), (want), (n), __FILE__, __LINE__)
#define CHECK_NIL(o, k) rh_check_nil((o), (k), __FILE__, __LINE__)
#define CHECK_FIELD(o, k, want) CHECK_U64(RH_U64((o), (k)), (want))
#define RH_U128(o, k) rh_u128_at((o), (k), __FILE__, __LINE__)
/* A 128-bit total: a decimal string on the wire, equal to want. */
#define CHECK_DEC(o, k, want) CHECK_U128(RH_U128((o), (k)), (want))
/* The reply is {ok: true}; on failure its error and message are printed. */
#define CHECK_OK(r) rh_check_ok((r), __FILE__, __LINE__)
/* The reply is {ok: false, error: want, message: str}. */
#define CHECK_ERROR(r, want) rh_check_error((r), (want), __FILE__, __LINE__)
/* CHECK_OK when want is "OK", else CHECK_ERROR. */
#define CHECK_ANSWER(r, want)                                                                      \
    (strcmp((want), "OK") == 0 ? rh_check_ok((r), __FILE__, __LINE__)                              \
                               : rh_check_error((r), (want), __FILE__, __LINE__))
/* The map has exactly these keys (a NULL-terminated list). */
#define CHECK_KEYS(o, ...)                                                                         \
    rh_check_keys((o), (const char *const[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)

/** Print a msgpack object on stderr (for diagnostics). */
void rh_print(const char *label, const msgpack_object *o);

/** Monotonic milliseconds. */
uint64_t rh_now_ms(void);

/** Sleep ms milliseconds. */
void rh_sleep_ms(unsigned ms);

/* ---- acknowledged transactions ------------------------------------------------------------ */

/* A transaction a server acknowledged: every later state of the ledger must hold it. */
typedef struct rh_ack {
    uint8_t hash[32];
    uint64_t seq;
    char code[40];
} rh_ack;

/** Keep the acknowledgement in r for the transaction hash: its result's seq and code.
 *  Returns: false (a is unchanged) when r holds no recorded result. */
bool rh_ack_take(rh_ack *a, const uint8_t hash[32], const rh_reply *r);

/** Returns: how many of the n acknowledgements the server on sock does not hold at their seq
 *  with their code (the tx query by hash); the first five are named on stderr after label. */
size_t rh_acks_missing(void *sock, const rh_ack *acks, size_t n, const char *label);

/* ---- HTTP (the metrics endpoint) ---------------------------------------------------------- */

#define RH_HTTP_TIMEOUT_S 10

typedef struct rh_http_reply {
    int status;
    char *head; /* status line and headers */
    char *body;
} rh_http_reply;

/** Send `METHOD PATH HTTP/1.1` to the host and port of url (http://HOST:PORT/...) and read the
 *  whole reply (Connection: close). Out: *out (free with rh_http_free). Returns: 0 or -1
 *  (message on stderr). */
int rh_http(const char *url, const char *method, const char *path, rh_http_reply *out);
void rh_http_free(rh_http_reply *r);

#endif
