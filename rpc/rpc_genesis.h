/* rpc_genesis.h - first start: a configured production genesis, or a development one */
#ifndef LSTD_RPC_GENESIS_H
#define LSTD_RPC_GENESIS_H

#include "rpc_config.h"
#include "store_lmdb.h"

/** Ensure the store holds a genesis. An empty store gets the configured production genesis
 *  (cfg->has_genesis), or else a development genesis: fresh admin, custodian, operator and
 *  treasury keys written as DATA/keys/<role>.key (64 hex characters of the secret key and a
 *  newline, mode 0600, never overwritten) and their addresses printed. `now` is the genesis
 *  time (seconds); the epoch clock starts at the configured epoch_origin (default 0, Unix
 *  time). A store that already holds a ledger must match a configured genesis.
 *  Returns: 0, or -1 with a message on stderr. */
int rpc_genesis_ensure(store_lmdb *store, const rpc_config *cfg, uint64_t now);

/** Write a secret key file (hex + newline) with mode 0600; refuses to overwrite.
 *  Returns: 0, or -1 with errno set (EEXIST when the file exists). */
int rpc_key_write(const char *path, const uint8_t seckey[32]);

/** Read a secret key file written by rpc_key_write. Refuses a file that group or others may
 *  read or write, or one in a directory others may write to (not sticky), saying on stderr how
 *  to fix it. Returns: 0, or -1 with errno set (EPERM: the modes; EINVAL: bad contents). */
int rpc_key_read(const char *path, uint8_t seckey[32]);

#endif
