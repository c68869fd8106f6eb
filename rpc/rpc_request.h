/* rpc_request.h - requests decoded from untrusted msgpack bytes into plain C structs */
#ifndef LSTD_RPC_REQUEST_H
#define LSTD_RPC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

#define RPC_REQUEST_MAX_BYTES (64u * 1024u)   /* larger requests: TOO_LARGE */
#define RPC_MESSAGE_MAX_BYTES (1024u * 1024u) /* a message's frames in all: more drops the peer */
#define RPC_MESSAGE_FRAMES_MAX 16             /* a message's frames: more drops the peer */
#define RPC_ID_MAX 64
#define RPC_DEPTH_MAX 4     /* nesting of maps/arrays accepted in a request */
#define RPC_OBJECTS_MAX 256 /* msgpack objects accepted in a request */

/* Queries: X(enum suffix, wire name). Numbers are internal only. */
#define RPC_QUERIES(X)                                                                             \
    X(POOL, "pool")                                                                                \
    X(ACCOUNT, "account")                                                                          \
    X(TX, "tx")                                                                                    \
    X(HISTORY, "history")                                                                          \
    X(OPERATOR, "operator")                                                                        \
    X(QUOTE, "quote")                                                                              \
    X(LIEN, "lien")                                                                                \
    X(WITHDRAWAL, "withdrawal")                                                                    \
    X(QUEUE, "queue")                                                                              \
    X(EVENTS, "events")                                                                            \
    X(HEALTH, "health")                                                                            \
    X(RATE_HISTORY, "rate_history")                                                                \
    X(VOTES, "votes")                                                                              \
    X(OPERATORS, "operators")

enum rpc_query {
    RPC_Q_NONE = 0,
#define RPC_QUERY_ENUM(name, wire) RPC_Q_##name,
    RPC_QUERIES(RPC_QUERY_ENUM)
#undef RPC_QUERY_ENUM
};

/** Returns: the wire name of a query, or NULL. */
const char *rpc_query_name(unsigned query);

/* The operators query's orders: X(enum suffix, wire name). */
#define RPC_OPERATOR_ORDERS(X)                                                                     \
    X(ID, "id")                                                                                    \
    X(FEE, "fee")                                                                                  \
    X(APR_7D, "apr_7d")                                                                            \
    X(APR_30D, "apr_30d")                                                                          \
    X(APR, "apr")                                                                                  \
    X(SHARE, "share")                                                                              \
    X(PERFORMANCE_7D, "performance_7d")                                                            \
    X(PERFORMANCE_30D, "performance_30d")                                                          \
    X(PERFORMANCE, "performance")

enum rpc_operator_order {
#define RPC_ORDER_ENUM(name, wire) RPC_ORDER_##name,
    RPC_OPERATOR_ORDERS(RPC_ORDER_ENUM)
#undef RPC_ORDER_ENUM
        RPC_ORDER_COUNT
};

/** Returns: the wire name of an operators order, or NULL. */
const char *rpc_operator_order_name(unsigned order);

/* A query's field as the decoder checks it (for tools that describe the protocol). */
typedef struct rpc_query_field_info {
    const char *name;
    bool bin32;           /* a 32-byte bin; else a uint */
    bool required;        /* MISSING_FIELD when absent */
    bool one_of;          /* exactly one field of the query's one_of group must be given */
    uint64_t def, lo, hi; /* uint: the value when absent (optional ones), the accepted range */
} rpc_query_field_info;

/** The index-th field of query (enum rpc_query), in the decoder's table order.
 *  Out: *out. Returns: false when the query or the index is out of range. */
bool rpc_query_field(unsigned query, unsigned index, rpc_query_field_info *out);

/* The client's request id, echoed verbatim in the reply. */
typedef struct rpc_id {
    uint8_t type; /* 0 absent, 1 uint, 2 str */
    uint8_t len;  /* str length */
    uint64_t u;
    char s[RPC_ID_MAX];
} rpc_id;

typedef struct rpc_request {
    rpc_id id;
    bool is_tx;
    unsigned query; /* enum rpc_query when !is_tx */
    /* transactions */
    ledger_tx tx;
    uint8_t sig[LEDGER_SIG_SIZE];
    bool has_ledger;
    char ledger[LEDGER_ID_MAX + 1];
    bool simulate;  /* "simulate": true: answered as if applied now, nothing recorded */
    bool has_sig;   /* a simulation may leave sig out (then no signature is checked) */
    bool has_nonce; /* a simulation may leave nonce out (then the signer's next one) */
    /* query parameters (which are set depends on the query; see PROTOCOL.md) */
    uint8_t key[LEDGER_KEY_SIZE]; /* account / hash */
    uint64_t number;              /* operator_id / lien_id / request_id / amount / shares */
    bool quote_shares;            /* quote: number is shares (else amount) */
    uint64_t after;               /* history / events / votes: default 0; rate_history: from */
    uint64_t limit; /* history / events / rate_history / votes / operators: defaulted, checked */
    uint64_t last;  /* votes: comparisons per member to look at (K) */
    unsigned order; /* operators: enum rpc_operator_order */
    bool active_only, reverse; /* operators */
} rpc_request;

/** Check that buf holds exactly one msgpack object whose declared sizes are backed by bytes
 *  actually present, nested at most RPC_DEPTH_MAX deep with at most RPC_OBJECTS_MAX objects,
 *  before any allocation (msgpack-c would otherwise reserve memory for claimed sizes).
 *  Returns: LEDGER_OK or LEDGER_MALFORMED. */
int rpc_msgpack_check(const uint8_t *buf, size_t len);

/** Decode one request. Never trusts buf: every failure is a named code and *out->id is set
 *  whenever the id could be read, so the error reply can echo it.
 *  Out: *out; msg (a human explanation of a failure, NUL-terminated).
 *  Returns: LEDGER_OK, LEDGER_TOO_LARGE, LEDGER_MALFORMED, LEDGER_WRONG_TYPE,
 *  LEDGER_MISSING_FIELD, LEDGER_UNKNOWN_FIELD, LEDGER_DUPLICATE_FIELD, LEDGER_UNKNOWN_OP,
 *  LEDGER_OUT_OF_RANGE or LEDGER_NO_MEMORY. */
int rpc_request_decode(rpc_request *out, const uint8_t *buf, size_t len, char *msg,
                       size_t msg_size);

/** The answer to a request of size bytes (> RPC_REQUEST_MAX_BYTES) of which only the first
 *  prefix_len were kept: its id when readable from them (as rpc_request_decode reads it).
 *  Out: *out (only its id set), msg. Returns: LEDGER_TOO_LARGE. */
int rpc_request_too_large(rpc_request *out, const uint8_t *prefix, size_t prefix_len, uint64_t size,
                          char *msg, size_t msg_size);

#endif
