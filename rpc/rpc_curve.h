/* rpc_curve.h - CURVE key files (Z85 or hex) and the allow-list of client keys, reloadable */
#ifndef LSTD_RPC_CURVE_H
#define LSTD_RPC_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A CURVE key file holds one key: 40 Z85 characters (ZeroMQ's text form, zmq_z85_encode) or
 * 64 hex characters, on a line of its own; blank lines are ignored, and so is a comment: from
 * a '#' at the start of a line or after a blank to the line's end ('#' is one of Z85's
 * characters, so one inside a key is part of it). The allow-list (curve_clients) is such a file
 * with any number of client public keys, one a line. A secret key file must be the owner's alone
 * (rpc_key_mode_ok). */

#define RPC_CURVE_KEY_SIZE 32
#define RPC_CURVE_Z85_LEN 40        /* a key in Z85, without the NUL */
#define RPC_CURVE_CLIENTS_MAX 65536 /* keys in one allow-list */
#define RPC_CURVE_LINE_MAX 512      /* characters on one line of a key file */

/** Parse a key: 40 Z85 characters or 64 hex. Out: out. Returns: 0, or -1 (anything else). */
int rpc_curve_key_parse(uint8_t out[RPC_CURVE_KEY_SIZE], const char *text);

/** Write key as 40 Z85 characters and a NUL. */
void rpc_curve_key_z85(char out[RPC_CURVE_Z85_LEN + 1], const uint8_t key[RPC_CURVE_KEY_SIZE]);

/** Read the one key of a public key file. Out: out; msg (why not, naming the file and line).
 *  Returns: 0 or -1. */
int rpc_curve_public_read(const char *path, uint8_t out[RPC_CURVE_KEY_SIZE], char *msg,
                          size_t msg_size);

/** Read the one key of a secret key file, refusing a file group or others may read (as
 *  rpc_key_read does; how to fix it goes to stderr). Out: out (the caller wipes it), msg.
 *  Returns: 0 or -1. */
int rpc_curve_secret_read(const char *path, uint8_t out[RPC_CURVE_KEY_SIZE], char *msg,
                          size_t msg_size);

/** Make a key pair and write it as base.secret (mode 0600) and base.public (mode 0644), each a
 *  comment line and the key in Z85; neither file may exist. Out: public_key (on success);
 *  msg. Returns: 0, or -1 (nothing left behind). */
int rpc_curve_keygen(const char *base, uint8_t public_key[RPC_CURVE_KEY_SIZE], char *msg,
                     size_t msg_size);

/* The client keys allowed to connect, shared by the I/O threads (rpc_curve_allowed) and the
 * thread that reloads it (SIGHUP). */
typedef struct rpc_curve_allow rpc_curve_allow;

/** An empty allow-list (nobody allowed). Out: *out. Returns: 0 or -1 (no memory). */
int rpc_curve_allow_new(rpc_curve_allow **out);

/** Free; *a = NULL (NULL allowed). */
void rpc_curve_allow_free(rpc_curve_allow **a);

/** Replace the list with the keys of the file at path. A file that cannot be read, holds a
 *  line that is no key, or more than RPC_CURVE_CLIENTS_MAX keys, empties the list: nobody is
 *  allowed until a good file is loaded (never everybody). Either way the generation moves on.
 *  Out: *count (keys now allowed, duplicates counted once), msg (why not). Returns: 0 or -1. */
int rpc_curve_allow_load(rpc_curve_allow *a, const char *path, size_t *count, char *msg,
                         size_t msg_size);

/** Whether key is in the list (ctx: the rpc_curve_allow; an rpc_zmtp_allow_fn). Any thread. */
bool rpc_curve_allowed(void *ctx, const uint8_t key[RPC_CURVE_KEY_SIZE]);

/** A number that changes with every load (ctx: the rpc_curve_allow). Any thread. */
uint64_t rpc_curve_allow_generation(void *ctx);

#endif
