/* lst_client.h - the lstd client library: keys, signed transactions, queries, pipelining, events */
#ifndef LST_CLIENT_H
#define LST_CLIENT_H

/*
 * A client speaks PROTOCOL.md to one lstd over ZeroMQ (or to one replica at a time of a
 * replicated one: an endpoint list, lst_client_new): one DEALER socket for requests (and
 * replies), one SUB socket for events, both in a ZeroMQ context of its own. A client is not
 * thread-safe: use one per thread.
 *
 * Conventions: functions that can fail return an lst_code; on failure a description is kept
 * for lst_client_error. Amounts and shares are u64 base units everywhere in this API, except
 * the ledger's lifetime totals (payable, total_deposited, ..., fees_earned), which are 128-bit
 * (lst_u128): the server sends those as strings of decimal digits and lst_value_u128 reads
 * them. lst_amount_parse and lst_amount_text convert to and from what people write (base units,
 * or tokens of the pool's `decimals`). Keys, hashes and refs are 32 raw bytes; lst_ref_parse and
 * lst_ref_format convert refs to and from text.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#define LST_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define LST_WARN_UNUSED
#endif

#define LST_KEY_SIZE 32     /* x-only public key, secret key, hash, ref */
#define LST_KIND_MAX 27     /* transaction kinds are numbered 1..LST_KIND_MAX */
#define LST_FIELDS_MAX 4    /* fields of one transaction kind */
#define LST_OUTPUTS_MAX 4   /* named outputs of one transaction */
#define LST_NAME_MAX 32     /* error, field and output names, NUL included */
#define LST_MESSAGE_MAX 192 /* a server's error message, NUL included (longer ones are cut) */
#define LST_LEDGER_ID_MAX 32
#define LST_U128_DIGITS_MAX 39 /* decimal digits of 2^128 - 1 */

/* A 128-bit unsigned integer (GCC and Clang). */
__extension__ typedef unsigned __int128 lst_u128;

/* ---- result codes ------------------------------------------------------------------------ */

typedef enum lst_code {
    LST_OK = 0,
    LST_ERR_USAGE = 1,    /* the caller's mistake: unknown kind/field, field not set, bad text */
    LST_ERR_CONNECT = 2,  /* bad endpoint, or nothing listening there (a connection attempt was
                             refused while none was up: at once, not after the timeout) */
    LST_ERR_TIMEOUT = 3,  /* connected, but no reply within the timeout, after every retry */
    LST_ERR_PROTOCOL = 4, /* the server's bytes are not what PROTOCOL.md describes */
    LST_ERR_REJECTED = 5, /* the server answered an error (result.error / the reply's error) */
    LST_ERR_IO = 6,       /* a file or the OS random source failed; errno tells which */
    LST_ERR_NOMEM = 7
} lst_code;

/** Returns: the name of a code ("LST_ERR_TIMEOUT"); "LST_ERR_UNKNOWN" for other values.
 *  Static storage. */
const char *lst_code_name(int code);

/* ---- keys -------------------------------------------------------------------------------- */

typedef struct lst_key {
    uint8_t secret[LST_KEY_SIZE]; /* wipe with lst_key_wipe when done */
    uint8_t pubkey[LST_KEY_SIZE]; /* x-only public key: the account address */
} lst_key;

/** Generate a key pair and write its secret to a new key file (64 hex characters and a
 *  newline, mode 0600: the format lstd writes for its development keys). Never overwrites.
 *  Out: *out (may be NULL; the caller wipes it).
 *  Returns: LST_OK, or LST_ERR_IO with errno set (EEXIST: the file exists; the open or write
 *  error; or the OS random source failed). */
LST_WARN_UNUSED int lst_key_generate(const char *path, lst_key *out);

/** Read a key file and derive its public key. Out: *out (the caller wipes it).
 *  Returns: LST_OK, or LST_ERR_IO with errno set (the open error; EPERM when group or others
 *  may read the file or others may write its directory, with how to fix it on stderr; EINVAL
 *  when the file does not hold 64 hex characters of a valid secret key). */
LST_WARN_UNUSED int lst_key_load(const char *path, lst_key *out);

/** Overwrite the secret in a way the compiler cannot elide. */
void lst_key_wipe(lst_key *key);

/* ---- CURVE (PROTOCOL.md, "Transport") ---------------------------------------------------- */

/* The keys of a CURVE client: the server's public key, and this client's key pair, whose
 * public key must be in the server's curve_clients list. */
typedef struct lst_curve {
    uint8_t server_key[LST_KEY_SIZE];
    uint8_t public_key[LST_KEY_SIZE];
    uint8_t secret_key[LST_KEY_SIZE]; /* wipe with lst_curve_wipe when done */
} lst_curve;

#define LST_CURVE_Z85_LEN 40 /* a CURVE key in Z85 text, without the NUL */

/** Read the server's public key file and this client's secret key file (each one key: 40 Z85
 *  or 64 hex characters, '#' comments; `lst curve-keygen` writes both kinds) and derive the
 *  client's public key. The secret key file must be the owner's alone, as for lst_key_load.
 *  Out: *out (the caller wipes it); err (why not, naming the file). Returns: LST_OK, or
 *  LST_ERR_IO (a file missing, unreadable, readable by others, or holding no key). */
LST_WARN_UNUSED int lst_curve_load(lst_curve *out, const char *server_key_path,
                                   const char *secret_key_path, char *err, size_t err_size);

/** Make a CURVE key pair: NAME.secret (mode 0600) and NAME.public (0644), the key in Z85 after
 *  a comment line; neither may exist. Out: public_z85 (the public key as text); err.
 *  Returns: LST_OK or LST_ERR_IO (nothing left behind). */
LST_WARN_UNUSED int lst_curve_keygen(const char *name, char public_z85[LST_CURVE_Z85_LEN + 1],
                                     char *err, size_t err_size);

/** Overwrite the secret key in a way the compiler cannot elide. */
void lst_curve_wipe(lst_curve *curve);

/** Write 32 bytes (an address, hash or ref) as 64 lowercase hex characters and a NUL. */
void lst_hex_encode(char out[2 * LST_KEY_SIZE + 1], const uint8_t in[LST_KEY_SIZE]);

/** Parse exactly 64 hex characters (either case). Returns: LST_OK or LST_ERR_USAGE. */
LST_WARN_UNUSED int lst_hex_decode(uint8_t out[LST_KEY_SIZE], const char *hex);

/* ---- amounts and references (the unit model: PROTOCOL.md, "Units") ----------------------- */

#define LST_TOKEN_SUFFIX "tok" /* "1.5tok": 1.5 tokens of the pool's decimals */
#define LST_AMOUNT_TEXT_MAX 64 /* lst_amount_text of any 128-bit value, NUL included */
#define LST_REF_TEXT_MAX 67    /* lst_ref_format: "0x", 64 hex digits, NUL */
#define LST_WHY_MAX 160        /* a parse failure's description, NUL included */

/** Parse an amount or a share count as a person writes it. Digits alone are base units
 *  ("1500000000"), and so are digits with a trailing u ("1500000000u", the explicit form);
 *  a value with a decimal point or the suffix tok is in tokens of `decimals` places ("1.5",
 *  "1.5tok", "2tok" = 2 * 10^decimals), exact, never rounded. No sign, exponent, space or
 *  separator. So whatever the server or `lst --json` prints (base units) reads back as is.
 *  Out: *out; why (may be NULL): on failure, what is wrong ("more than 9 decimals (the pool's
 *  decimals)", "exceeds u64 base units (18446744073709551615)", or the syntax).
 *  Returns: LST_OK or LST_ERR_USAGE. */
LST_WARN_UNUSED int lst_amount_parse(const char *text, unsigned decimals, uint64_t *out, char *why,
                                     size_t why_size);

/** Returns: true when text is written in tokens (a decimal point or the suffix tok), so that
 *  its value depends on the pool's decimals; false for base units (and for no amount). */
bool lst_amount_is_tokens(const char *text);

/** Format base units as an exact decimal in tokens without trailing zeros and without a unit
 *  ("1.5", "2", "0.000000001"); decimals > 19 prints base units. Out: buf (NUL-terminated,
 *  cut to size). Returns: the length of the full text (as snprintf). */
size_t lst_amount_format(char *buf, size_t size, uint64_t units, unsigned decimals);

/** lst_amount_format for a 128-bit total (decimals 0: its exact decimal digits). */
size_t lst_amount_format_u128(char *buf, size_t size, lst_u128 units, unsigned decimals);

/** An amount for people, with its unit: tokens and the suffix tok ("1.5tok", "2tok"), "0"
 *  for zero, base units without a suffix when decimals > 19. lst_amount_parse reads it back
 *  to the same value. Out: buf. Returns: the length of the full text (as snprintf). */
size_t lst_amount_text(char *buf, size_t size, lst_u128 units, unsigned decimals);

/** Parse a 32-byte reference (external_ref, payout_ref): "0x" and exactly 64 hex digits are
 *  the 32 raw bytes; anything else is UTF-8 text of 1 to 32 bytes, printable (no control
 *  character), zero-padded to 32. The two never overlap (such a hex form is 66 bytes, longer
 *  than any text ref); 64 hex digits without 0x are refused with a hint.
 *  Out: out; why (may be NULL): on failure, what is wrong. Returns: LST_OK or LST_ERR_USAGE. */
LST_WARN_UNUSED int lst_ref_parse(uint8_t out[LST_KEY_SIZE], const char *text, char *why,
                                  size_t why_size);

/** A reference as it came in: its text when the bytes are printable UTF-8 followed only by
 *  zero padding (at least one byte of text), else "0x" and 64 lowercase hex digits.
 *  lst_ref_parse reads it back to the same 32 bytes. Out: out (NUL-terminated). */
void lst_ref_format(char out[LST_REF_TEXT_MAX], const uint8_t ref[LST_KEY_SIZE]);

/* ---- transaction kinds (the table of ledger/README.md) ----------------------------------- */

enum lst_field_type { LST_FIELD_KEY = 1, LST_FIELD_REF = 2, LST_FIELD_U64 = 3 };

/** Returns: the wire name of kind 1..LST_KIND_MAX ("transfer_from"), or NULL. Static. */
const char *lst_kind_name(unsigned kind);

/** Returns: the kind number of a wire name, or 0 when unknown. */
unsigned lst_kind_by_name(const char *name);

/** Returns: the number of fields of a kind (0 for an unknown kind). */
unsigned lst_kind_field_count(unsigned kind);

/** The index-th field of a kind, in signing order. Out: *type (enum lst_field_type; may be
 *  NULL). Returns: its wire name, or NULL when out of range. Static storage. */
const char *lst_kind_field(unsigned kind, unsigned index, int *type);

/** Returns: the wire name of the index-th output of a kind ("shares_minted"), or NULL. */
const char *lst_kind_output(unsigned kind, unsigned index);

/** Returns: the number of a ledger parameter by its name ("MAX_APR_BPS", any case), or 0. */
unsigned lst_param_by_name(const char *name);

/** For "did you mean": the one of names[0..count) closest to word, at most 2 edits away
 *  (insert, delete or replace a character, or swap two neighbours; ASCII case ignored) and
 *  fewer edits than word has characters; the first of equally close names.
 *  Returns: that element of names, or NULL when none is that close. */
const char *lst_closest_name(const char *word, const char *const *names, size_t count);

/* ---- transactions ------------------------------------------------------------------------ */

/* A transaction being built. Plain data: lives wherever the caller puts it. Every field of
 * the kind must be set (also when zero) before it is sent. */
typedef struct lst_tx {
    unsigned kind;  /* 1..LST_KIND_MAX */
    uint64_t nonce; /* 0: chosen by lst_submit / lst_send, which write the nonce used here */
    unsigned set;   /* bit i: field i was set */
    uint64_t u64[LST_FIELDS_MAX];
    uint8_t bytes[LST_FIELDS_MAX][LST_KEY_SIZE];
} lst_tx;

/** Start a transaction of a kind by wire name, nonce 0 and no field set.
 *  Returns: LST_OK or LST_ERR_USAGE (unknown kind; tx is then cleared). */
LST_WARN_UNUSED int lst_tx_init(lst_tx *tx, const char *kind_name);

/** Set a field by wire name: _u64 for integer fields, _key for key fields (to, owner, ...),
 *  _ref for refs (external_ref, payout_ref).
 *  Returns: LST_OK or LST_ERR_USAGE (the kind has no such field, or it has another type). */
LST_WARN_UNUSED int lst_tx_set_u64(lst_tx *tx, const char *field, uint64_t value);
LST_WARN_UNUSED int lst_tx_set_key(lst_tx *tx, const char *field, const uint8_t key[32]);
LST_WARN_UNUSED int lst_tx_set_ref(lst_tx *tx, const char *field, const uint8_t ref[32]);

/** Returns: the name of the first field not yet set, or NULL when all are. Static storage. */
const char *lst_tx_missing(const lst_tx *tx);

/* The common kinds, all fields at once (nonce 0). Signers per ledger/README.md. */
void lst_tx_deposit(lst_tx *tx, const uint8_t to[32], uint64_t amount,
                    const uint8_t external_ref[32], uint64_t min_shares_out);
void lst_tx_transfer(lst_tx *tx, const uint8_t to[32], uint64_t shares);
void lst_tx_approve(lst_tx *tx, const uint8_t spender[32], uint64_t shares);
void lst_tx_transfer_from(lst_tx *tx, const uint8_t owner[32], const uint8_t to[32],
                          uint64_t shares);
void lst_tx_lock(lst_tx *tx, const uint8_t beneficiary[32], uint64_t shares, uint64_t expiry);
void lst_tx_release(lst_tx *tx, uint64_t lien_id, uint64_t shares);
void lst_tx_seize(lst_tx *tx, uint64_t lien_id, uint64_t shares, const uint8_t to[32]);
void lst_tx_withdraw_request(lst_tx *tx, uint64_t shares, uint64_t min_amount_out);
void lst_tx_withdraw_cancel(lst_tx *tx, uint64_t request_id);
void lst_tx_withdraw_finalize(lst_tx *tx, uint64_t up_to_id);
void lst_tx_withdraw_settle(lst_tx *tx, uint64_t request_id, const uint8_t payout_ref[32]);
void lst_tx_operator_fund(lst_tx *tx, uint64_t operator_id, uint64_t amount);
void lst_tx_operator_exit(lst_tx *tx, uint64_t operator_id, uint64_t amount);
void lst_tx_report(lst_tx *tx, uint64_t operator_id, uint64_t epoch, uint64_t balance);
/** report_accept and operator_reset (admin) take the same fields as report. */
void lst_tx_report_accept(lst_tx *tx, uint64_t operator_id, uint64_t epoch, uint64_t balance);
void lst_tx_operator_reset(lst_tx *tx, uint64_t operator_id, uint64_t epoch, uint64_t balance);
/** The oracle committee (ledger/README.md, "Oracle committee"): oracle_add, oracle_remove and
 *  quorum_set by the admin (mode 1 operator, 2 committee; minority 1 accepts a quorum of at most
 *  half the members), vote by a member (performance_bps: 10000 = every duty performed). */
void lst_tx_oracle_add(lst_tx *tx, const uint8_t member[32], uint64_t quorum);
void lst_tx_oracle_remove(lst_tx *tx, const uint8_t member[32], uint64_t quorum);
void lst_tx_quorum_set(lst_tx *tx, uint64_t mode, uint64_t quorum, uint64_t minority);
void lst_tx_vote(lst_tx *tx, uint64_t operator_id, uint64_t epoch, uint64_t balance,
                 uint64_t performance_bps);

/* What the ledger answered to one transaction. */
typedef struct lst_result {
    uint64_t request_id; /* the request's id (lst_send's *request_id) */
    unsigned kind;
    uint64_t nonce;
    uint8_t hash[LST_KEY_SIZE]; /* transaction hash (computed by the client, always set) */
    bool ok;                    /* applied: now, or earlier for a duplicate */
    char error[LST_NAME_MAX];   /* "" when ok, else the error name ("INSUFFICIENT_SHARES") */
    char message[LST_MESSAGE_MAX];
    bool recorded;  /* in the history with its nonce consumed (success or rule violation) */
    bool duplicate; /* recorded before: this is its recorded result */
    bool simulated; /* lst_simulate's: what it would do, nothing recorded */
    uint64_t seq, batch, time; /* 0 when not recorded */
    unsigned out_count;
    struct {
        char name[LST_NAME_MAX];
        uint64_t value;
    } out[LST_OUTPUTS_MAX]; /* delivered amounts by name; none on a rejection */
} lst_result;

/** Out: *value, the named output. Returns: true when the result has that output. */
bool lst_result_out(const lst_result *r, const char *name, uint64_t *value);

/* ---- the client -------------------------------------------------------------------------- */

typedef struct lst_client lst_client;

/** Make a client: its own ZeroMQ context, a DEALER connected to endpoint (ZeroMQ connects in
 *  the background), and events_endpoint remembered for lst_events_open (NULL or "": no events).
 *  endpoint may be a list of 1..8 replicas of one ledger, comma-separated without spaces
 *  ("tcp://127.0.0.1:7450,tcp://127.0.0.1:7460"); the client talks to one at a time, the
 *  first at start (PROTOCOL.md, "Endpoint lists and NOT_LEADER (clients)"): a NOT_LEADER
 *  answer moves it to the leader the answer names when that is one of the entries (exact
 *  match; a leader outside the list is never followed), else to the next entry; with several
 *  entries a timeout or a refused connection moves it to the next entry too (instead of the
 *  resends below). Each move resends the same bytes there (safe: a transaction is applied once,
 *  or answered as the duplicate it is), the pipelined requests in flight with it in the order
 *  sent; at most 2 x the entries moves per request, with a backoff between full rounds of the
 *  list (50 ms doubling to 1 s, jittered), then the last error is returned (LST_ERR_REJECTED
 *  with error NOT_LEADER and lst_client_leader, or the transport failure). NO_QUORUM is resent
 *  at the same entry as BUSY is. events_endpoint may be a list too: the SUB connects to its
 *  first entry only (every replica publishes every event: two would deliver each twice).
 *  Each request waits up to timeout_ms for its reply and is resent (the same bytes) up to 2
 *  more times (lst_client_set_retries). A refused connection attempt while no connection is
 *  up fails the waiting call at once with LST_ERR_CONNECT ("nothing listening at ...", or "lost
 *  ... and nothing listening there now" once one had been made), and so does every later send
 *  until ZeroMQ connects again. A BUSY answer is resent after a backoff (5 ms, doubling to 1 s)
 *  up to 15 times (lst_client_set_busy_retries): BUSY consumes no nonce.
 *  Out: *out (NULL on failure); free it with lst_client_destroy.
 *  Returns: LST_OK, LST_ERR_USAGE (NULL or overlong endpoint, an empty entry or more than 8,
 *  timeout_ms <= 0), LST_ERR_CONNECT (an entry is not a valid ZeroMQ address), LST_ERR_IO
 *  (ZeroMQ could not make a context or socket), LST_ERR_NOMEM. */
LST_WARN_UNUSED int lst_client_new(lst_client **out, const char *endpoint,
                                   const char *events_endpoint, int timeout_ms);

/** lst_client_new as a CURVE client (curve NULL: exactly lst_client_new): the DEALER, and the
 *  SUB of lst_events_open, connect with ZMQ_CURVE_SERVERKEY, _PUBLICKEY and _SECRETKEY set from
 *  *curve (copied). A server that refuses the key (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), or a
 *  handshake that fails (a server without CURVE, another server key), is reported by the
 *  request that waited for it as LST_ERR_CONNECT saying which; libzmq does not retry then.
 *  Returns: as lst_client_new. */
LST_WARN_UNUSED int lst_client_new_curve(lst_client **out, const char *endpoint,
                                         const char *events_endpoint, int timeout_ms,
                                         const lst_curve *curve);

/** Close the sockets (unsent requests are dropped), free everything, *client_p = NULL.
 *  Replies owned by the caller (lst_reply) stay valid. NULL is allowed. */
void lst_client_destroy(lst_client **client_p);

/** Resends after a timeout (default 2). A transaction resent is safe: the ledger answers a
 *  duplicate with its recorded result. */
void lst_client_set_retries(lst_client *c, unsigned retries);

/** BUSY answers one request may get before it fails with BUSY: each is resent after a
 *  backoff, a pipelined transaction with its tail (default 15, at most 255; 0: a BUSY is
 *  returned as it comes). */
void lst_client_set_busy_retries(lst_client *c, unsigned retries);

/** Returns: a description of the last failure of any call on c ("" before any). Valid until
 *  the next call on c. */
const char *lst_client_error(const lst_client *c);

/** Returns: the endpoint in use (an entry of the list given to lst_client_new). Valid until
 *  the next call on c. */
const char *lst_client_endpoint(const lst_client *c);

/** Returns: how many times the client moved to another entry of its endpoint list. */
uint64_t lst_client_switches(const lst_client *c);

/** Returns: the leader named by the last NOT_LEADER answer ("" when it named none, or none
 *  came). Followed only when it is one of the client's entries. Valid until the next call. */
const char *lst_client_leader(const lst_client *c);

/** The ledger id and decimals, from one pool query made on first use and cached.
 *  Out: *ledger_id (valid until lst_client_destroy; may be NULL), *decimals (may be NULL).
 *  Returns: as lst_query_pool, or LST_ERR_PROTOCOL when the pool reply lacks them. */
LST_WARN_UNUSED int lst_client_ledger(lst_client *c, const char **ledger_id, uint64_t *decimals);

/* ---- submitting transactions ------------------------------------------------------------- */

/** Sign tx with key and submit it, waiting for the reply. tx->nonce 0 takes the signer's
 *  next_nonce from an account query and writes it back to tx->nonce: submitting the same tx
 *  again after LST_ERR_TIMEOUT resends the same transaction and returns its recorded result
 *  as a duplicate (tx->nonce still 0 after a failure: nothing was sent). Signs with BIP-340
 *  over the tagged hash under the ledger id (lst_client_ledger); on a timeout the same bytes
 *  are resent, up to the retry count. Out: *result (always cleared; filled as far as known).
 *  Returns: LST_OK (applied; result->ok), LST_ERR_REJECTED (the server answered an error:
 *  result->error; result->recorded tells whether the nonce was consumed), LST_ERR_USAGE (kind
 *  unknown or a field not set), LST_ERR_TIMEOUT, LST_ERR_CONNECT, LST_ERR_PROTOCOL,
 *  LST_ERR_IO (random source), LST_ERR_NOMEM. */
LST_WARN_UNUSED int lst_submit(lst_client *c, const lst_key *key, lst_tx *tx, lst_result *result);

/** As lst_submit, but the server only simulates tx (PROTOCOL.md, "Simulation"): *result is
 *  what submitting it now would give, with result->simulated set and result->recorded false
 *  (true only for a duplicate of a recorded one); nothing is recorded, no nonce consumed (a
 *  nonce 0 stays 0 in tx: the signer's next one was used). Returns: as lst_submit. */
LST_WARN_UNUSED int lst_simulate(lst_client *c, const lst_key *key, lst_tx *tx, lst_result *result);

/** The signer's next nonce for pipelining: the first call per signer asks the server
 *  (account query), later calls count up locally. Out: *nonce.
 *  Returns: LST_OK or as lst_query_account. */
LST_WARN_UNUSED int lst_nonce_next(lst_client *c, const uint8_t pubkey[32], uint64_t *nonce);

/** Forget the local nonce count of a signer (after a rejection that consumed no nonce). */
void lst_nonce_forget(lst_client *c, const uint8_t pubkey[32]);

/** Sign and send without waiting (pipelining). tx->nonce 0 takes lst_nonce_next (written
 *  back). Replies come back through lst_poll. When the server answers BUSY (its queue is full;
 *  no nonce consumed), the transactions of the same signer behind it would get NONCE_GAP: the
 *  client sends the BUSY one again after a backoff, alone, and once it is recorded that
 *  tail, the same signed transactions, in nonce order, up to the busy retries per transaction
 *  (PROTOCOL.md, Limits); a NONCE_GAP while a transaction of the signer with a lower nonce is
 *  unsettled goes again behind it. Each attempt has a wire id of its own (request_id << 8 |
 *  attempt). Out: *request_id (may be NULL).
 *  Returns: LST_OK, LST_ERR_USAGE, LST_ERR_TIMEOUT (the send queue stayed full),
 *  LST_ERR_CONNECT, LST_ERR_IO, LST_ERR_NOMEM, or as lst_nonce_next. */
LST_WARN_UNUSED int lst_send(lst_client *c, const lst_key *key, lst_tx *tx, uint64_t *request_id);

/** The next completed lst_send, in the order replies arrive (for one signer: nonce order).
 *  Waits up to timeout_ms (0: only what has arrived), sending meanwhile what BUSY made wait
 *  (only lst_poll does: poll while transactions are pending). Out: *result (its request_id;
 *  BUSY or NONCE_GAP only once the resends are spent, or for a genuine gap).
 *  With an endpoint list, a NOT_LEADER, a timeout or a refused connection moves the client and
 *  resends every request in flight there, in the order sent (lst_client_new); one resent
 *  across 2 x the entries completes with the failure instead.
 *  Returns: LST_OK or LST_ERR_REJECTED (a completed request, as lst_submit), LST_ERR_TIMEOUT
 *  (nothing completed in time; the requests stay pending: poll again, or lst_resend_pending),
 *  LST_ERR_CONNECT (timeout_ms > 0 and no connection was ever made), LST_ERR_USAGE (nothing
 *  pending), LST_ERR_PROTOCOL (a reply that does not decode; its request stays pending),
 *  LST_ERR_NOMEM. */
LST_WARN_UNUSED int lst_poll(lst_client *c, int timeout_ms, lst_result *result);

/** Returns: requests sent with lst_send whose results lst_poll has not returned yet. */
size_t lst_pending(const lst_client *c);

/** Resend every pending request (the same bytes: safe). Returns: LST_OK or as lst_send. */
LST_WARN_UNUSED int lst_resend_pending(lst_client *c);

/* ---- replies ----------------------------------------------------------------------------- */

/* A decoded reply (or event record): one msgpack map. Values are read by path: map keys
 * separated by '.', array elements by [i]: "result.assets", "result.liens[0].lien_id". */
typedef struct lst_reply lst_reply;
typedef struct lst_value lst_value; /* a node inside a reply; valid while the reply lives */

enum lst_type {
    LST_T_NONE = 0, /* absent */
    LST_T_NIL,
    LST_T_BOOL,
    LST_T_UINT,
    LST_T_INT, /* negative integer */
    LST_T_STR,
    LST_T_BIN,
    LST_T_ARRAY,
    LST_T_MAP,
    LST_T_OTHER /* float, ext */
};

/** Free a reply, *reply_p = NULL. NULL is allowed. */
void lst_reply_destroy(lst_reply **reply_p);

/** Returns: the value at path ("" is the root), or NULL when absent. */
const lst_value *lst_reply_get(const lst_reply *r, const char *path);

/** Typed reads by path; absent or of another type: 0, false, NULL, LST_T_NONE. */
int lst_reply_type(const lst_reply *r, const char *path);
uint64_t lst_reply_u64(const lst_reply *r, const char *path);
/** A 128-bit total: a str of 1..39 decimal digits (how the server sends them) or a uint.
 *  Out: *out (0 when false). Returns: false when absent, of another type, or not a value
 *  below 2^128. */
bool lst_reply_u128(const lst_reply *r, const char *path, lst_u128 *out);
bool lst_reply_bool(const lst_reply *r, const char *path);
size_t lst_reply_len(const lst_reply *r, const char *path); /* array or map entries */
/** bin: returns its bytes (valid while the reply lives), *len its size (len may be NULL). */
const uint8_t *lst_reply_bin(const lst_reply *r, const char *path, size_t *len);
/** str: copies it NUL-terminated into buf. Returns: false when absent, not a str, or too long. */
bool lst_reply_str(const lst_reply *r, const char *path, char *buf, size_t size);

/** The same reads on a node (v may be NULL: absent). */
const lst_value *lst_value_get(const lst_value *v, const char *path);
int lst_value_type(const lst_value *v);
uint64_t lst_value_u64(const lst_value *v);
bool lst_value_u128(const lst_value *v, lst_u128 *out);
int64_t lst_value_i64(const lst_value *v); /* UINT above INT64_MAX: INT64_MAX */
bool lst_value_bool(const lst_value *v);
size_t lst_value_len(const lst_value *v);
/** Returns: the bytes of a str (not NUL-terminated) or bin, *len their count; else NULL. */
const char *lst_value_str(const lst_value *v, size_t *len);
const uint8_t *lst_value_bin(const lst_value *v, size_t *len);
/** Returns: element i of an array or the value of entry i of a map; NULL out of range. */
const lst_value *lst_value_at(const lst_value *v, size_t i);
/** Returns: the key of map entry i when it is a str (*len its length); else NULL. */
const char *lst_value_key(const lst_value *v, size_t i, size_t *len);

/** Write v as compact JSON on one line (no newline): bin as a hex string (a 32-byte ref under
 *  a ref key, external_ref or payout_ref, as lst_ref_format writes it: its text, or 0x and 64
 *  hex digits), every integer as a string of decimal digits in base units (exact in any JSON
 *  parser, as Ethereum JSON-RPC does), str escaped, map keys as strings; skip_key (may be
 *  NULL) leaves out one top-level key. Each value reads back as lst input as printed.
 *  Returns: 0, or -1 when writing failed. */
int lst_value_json(const lst_value *v, const char *skip_key, FILE *out);

/* ---- queries (PROTOCOL.md, Queries) ------------------------------------------------------ */

/* Each sends one query and waits for the reply (resent on a timeout like transactions).
 * Out: *out, the reply ({ok, result} on success; {ok: false, error, message} on a server
 * error) for the caller to free with lst_reply_destroy; NULL on the other codes.
 * Returns: LST_OK, LST_ERR_REJECTED (e.g. NOT_FOUND; *out holds the error reply),
 * LST_ERR_TIMEOUT, LST_ERR_CONNECT, LST_ERR_PROTOCOL, LST_ERR_NOMEM. */
LST_WARN_UNUSED int lst_query_pool(lst_client *c, lst_reply **out);
LST_WARN_UNUSED int lst_query_account(lst_client *c, const uint8_t account[32], lst_reply **out);
LST_WARN_UNUSED int lst_query_tx(lst_client *c, const uint8_t hash[32], lst_reply **out);
/** limit 0: the server's default (50). */
LST_WARN_UNUSED int lst_query_history(lst_client *c, const uint8_t account[32], uint64_t after,
                                      uint64_t limit, lst_reply **out);
LST_WARN_UNUSED int lst_query_operator(lst_client *c, uint64_t operator_id, lst_reply **out);
/** What a deposit of amount mints (floor(amount*S/A)). */
LST_WARN_UNUSED int lst_query_quote_amount(lst_client *c, uint64_t amount, lst_reply **out);
/** What shares are worth (floor(shares*A/S)). */
LST_WARN_UNUSED int lst_query_quote_shares(lst_client *c, uint64_t shares, lst_reply **out);
LST_WARN_UNUSED int lst_query_lien(lst_client *c, uint64_t lien_id, lst_reply **out);
LST_WARN_UNUSED int lst_query_withdrawal(lst_client *c, uint64_t request_id, lst_reply **out);
LST_WARN_UNUSED int lst_query_queue(lst_client *c, lst_reply **out);
/** limit 0: the server's default (100). */
LST_WARN_UNUSED int lst_query_events(lst_client *c, uint64_t after, uint64_t limit,
                                     lst_reply **out);
LST_WARN_UNUSED int lst_query_health(lst_client *c, lst_reply **out);
/** The exchange-rate changes with seq >= from (reports, accepted reports, resets, slashes:
 *  PROTOCOL.md, rate_history), result.entries and result.next (the `from` of the next page,
 *  nil at the end). limit 0: the server's default (100); at most 1000. */
LST_WARN_UNUSED int lst_query_rate_history(lst_client *c, uint64_t from, uint64_t limit,
                                           lst_reply **out);

/** The committee's pending votes and each member's agreement with applied results (PROTOCOL.md,
 *  votes): operator_id 0 lists the operators with pending votes after `after` (a page of
 *  `limit`, 0: the server's 8, at most 16; result.next for the following page); last: how many
 *  of each member's latest comparisons to look at (0: the server's 8, at most 64). */
LST_WARN_UNUSED int lst_query_votes(lst_client *c, uint64_t operator_id, uint64_t after,
                                    uint64_t limit, uint64_t last, lst_reply **out);
/** The operators scorecard (PROTOCOL.md, operators): order "id", "fee", "apr_7d", "apr_30d",
 *  "apr", "share", "performance_7d", "performance_30d" or "performance" (NULL: id); reverse
 *  flips it (operators without the figure stay last); limit 0: every operator. */
LST_WARN_UNUSED int lst_query_operators(lst_client *c, const char *order, bool active_only,
                                        bool reverse, uint64_t limit, lst_reply **out);

/* Typed summaries of the two most used queries. */
typedef struct lst_pool_info {
    char ledger_id[LST_LEDGER_ID_MAX + 1];
    uint64_t decimals, assets, shares, buffer; /* A (vested as of `now`), S, buffer */
    lst_u128 payable;                          /* finalized, not yet settled */
    uint64_t unvested, vest_end;               /* U (as of `now`) and when it will have vested */
    uint64_t held_loss;                        /* loss the held reports would book */
    bool bunker;                               /* held_loss > 0: finalization pays less */
    uint64_t epoch;                            /* the epoch running at `now` */
    uint64_t seq, batch, time;                 /* last recorded seq, last batch and its time */
    uint64_t now;                              /* the query's time (figures are as of it) */
    char rate[48];                             /* A/S with 18 fractional digits; "" when S is 0 */
} lst_pool_info;

typedef struct lst_account_info {
    uint64_t shares, locked, queued, total; /* free, in liens, queued, sum */
    uint64_t value, free_value;             /* floor(total*A/S), floor(shares*A/S) */
    uint64_t nonce, next_nonce;
} lst_account_info;

/** Out: *out. lst_pool also caches the ledger id and decimals (lst_client_ledger).
 *  Returns: as lst_query_pool / lst_query_account, or LST_ERR_PROTOCOL when a figure is
 *  missing. */
LST_WARN_UNUSED int lst_pool(lst_client *c, lst_pool_info *out);
LST_WARN_UNUSED int lst_account(lst_client *c, const uint8_t account[32], lst_account_info *out);

/* ---- events ------------------------------------------------------------------------------ */

/** Subscribe to events (SUB on the events endpoint): every recorded transaction ("tx/"), or
 *  only those naming account ("acct/<hex>"; NULL: all). Records will be delivered from
 *  seq after_seq + 1 on, in seq order with nothing skipped: records missing from the stream
 *  (committed before subscribing, or lost on a gap) are fetched with the events query (the
 *  history query for one account). Replaces an earlier subscription.
 *  Returns: LST_OK, LST_ERR_USAGE (the client has no events endpoint), LST_ERR_CONNECT (bad
 *  endpoint), LST_ERR_IO. */
LST_WARN_UNUSED int lst_events_open(lst_client *c, uint64_t after_seq, const uint8_t *account);

/** The next record (PROTOCOL.md, Records: paths "seq", "kind", "fields.to", "out.shares_moved")
 *  in seq order. Waits up to timeout_ms for one; before giving up it asks the server once
 *  more, so a record missed by the stream is still delivered.
 *  Out: *record, for the caller to free with lst_reply_destroy (NULL unless LST_OK).
 *  Returns: LST_OK, LST_ERR_TIMEOUT (no new record), LST_ERR_USAGE (not open), or as
 *  lst_query_events. */
LST_WARN_UNUSED int lst_events_next(lst_client *c, int timeout_ms, lst_reply **record);

/** Close the subscription (lst_client_destroy does it too). */
void lst_events_close(lst_client *c);

/** Out: records delivered from the stream (*pushed) and from catch-up queries (*fetched)
 *  since lst_events_open (either may be NULL). */
void lst_events_stats(const lst_client *c, uint64_t *pushed, uint64_t *fetched);

#endif
