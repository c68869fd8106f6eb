/* rpc_repl_wire.h - the bytes of one replication stream message (PROTOCOL.md, "Replication") */
#ifndef LSTD_RPC_REPL_WIRE_H
#define LSTD_RPC_REPL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPL_WIRE_VERSION 1
#define REPL_WIRE_GENESIS 'G'
#define REPL_WIRE_RECORDS 'R'
#define REPL_WIRE_HEAD 28  /* version, type, first_seq, part, final, part_first, count */
#define REPL_CHAIN_MAX 256 /* a chain record fits in this */

/* A decoded message; pointers into the message's bytes. */
typedef struct repl_msg {
    uint8_t type;
    const uint8_t *genesis; /* 'G' */
    size_t genesis_len;
    uint64_t first_seq;   /* 'R': the batch's first record */
    uint32_t part;        /* 0, 1, ... within the batch */
    bool final;           /* the batch's last part */
    uint64_t part_first;  /* this part's first record */
    uint32_t count;       /* records in this part */
    const uint8_t *chain; /* final: the chain record after the batch (chain_len 0: none) */
    size_t chain_len;
    const uint8_t *records; /* count × (be32 length, record) */
    size_t records_len;
} repl_msg;

/** Decode and check a message (lengths, counts, every record's length within the message).
 *  Out: *m. Returns: 0, or -1 (malformed: the stream holds something lstd did not write). */
int repl_msg_decode(repl_msg *m, const uint8_t *in, size_t len);

/** Walk a decoded message's records. Out: *rec, *rec_len. Returns: false after the last. */
bool repl_msg_next(const repl_msg *m, size_t *at, const uint8_t **rec, size_t *rec_len);

/** Write the head of a records message into out (REPL_WIRE_HEAD + 2 + chain_len bytes).
 *  Returns: bytes written. */
size_t repl_msg_head(uint8_t *out, uint64_t first_seq, uint32_t part, bool final,
                     uint64_t part_first, uint32_t count, const uint8_t *chain, size_t chain_len);

/** Append one record (be32 length, the record value) after a head. Returns: bytes written
 *  (4 + len). */
size_t repl_msg_record(uint8_t *out, const uint8_t *rec, size_t len);

/** Write a genesis message. Returns: bytes written (out holds 6 + len). */
size_t repl_msg_genesis(uint8_t *out, const uint8_t *genesis, size_t len);

#endif
