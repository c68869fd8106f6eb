/* rpc_genesis.h - creating a ledger once (production or development), checking it at start */
#ifndef LSTD_RPC_GENESIS_H
#define LSTD_RPC_GENESIS_H

#include "rpc_config.h"
#include "store_db.h"

#define RPC_SALT_BYTES 8 /* random part of every ledger id */
#define RPC_LEDGER_NAME_MAX (LEDGER_ID_MAX - 1 - 2 * RPC_SALT_BYTES) /* 15: the configured name */

/** Create the ledger in ledger_dir (store_db_create): the configured production genesis
 * (cfg->has_genesis) or else a development one (fresh admin, custodian, operator and treasury keys
 * written as DATA/keys/<role>.key, 64 hex characters and a newline, mode 0600, never overwritten;
 * their addresses printed). Its ledger id is the configured ledger_id (dev: "lstd-dev") followed by
 *  '-' and 16 random hex digits, so no two ledgers share an id. `now` is the genesis time;
 *  the epoch clock starts at epoch_origin (default 0, Unix time).
 *  Returns: 0, or -1 with a message on stderr (also when the store already holds a ledger). */
int rpc_genesis_create(const char *ledger_dir, const rpc_config *cfg, uint64_t now);

/** Check at start that the opened ledger, with a configured genesis, is
 *  that genesis (the stored id being its ledger_id with a salt). Never creates one.
 *  Returns: 0, or -1 with a message on stderr. */
int rpc_genesis_check(store_db *db, const rpc_config *cfg);

/** Write a secret key file (hex + newline) with mode 0600; refuses to overwrite.
 *  Returns: 0, or -1 with errno set (EEXIST when the file exists). */
int rpc_key_write(const char *path, const uint8_t seckey[32]);

/** Whether the open secret key file fd (named path) is the owner's alone: not readable or
 *  writable by group or others, its directory not writable by others (who could swap the
 *  file) unless sticky. Returns: 0, or -1 with errno EPERM and on stderr a message saying how
 *  to fix it (chmod). */
int rpc_key_mode_ok(const char *path, int fd);

/** Read a secret key file written by rpc_key_write. Refuses a file that group or others may
 *  read or write, or one in a directory others may write to (not sticky), saying on stderr how
 *  to fix it. Returns: 0, or -1 with errno set (EPERM: the modes; EINVAL: bad contents). */
int rpc_key_read(const char *path, uint8_t seckey[32]);

#endif
