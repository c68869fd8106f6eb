/* rpc_datadir.h - the data directory: whether a ledger may be made there, and its lock */
#ifndef LSTD_RPC_DATADIR_H
#define LSTD_RPC_DATADIR_H

#include <stdbool.h>

#define RPC_LOCK_FILE "lstd.lock" /* DATA/lstd.lock: held by the one lstd using DATA */

/** Returns: true if dir does not exist, or holds nothing but the lock file lstd leaves behind
 *  (a regular file named RPC_LOCK_FILE): a place a ledger may be created. */
bool rpc_datadir_unused(const char *dir);

/** Take the data directory for this process: create dir (mode 0700) when it is missing, open
 *  or create DATA/lstd.lock (mode 0600, never through a symlink), lock it exclusively with
 *  flock without waiting, and write this process's pid into it. The lock lasts until
 *  rpc_datadir_unlock or the process ends (it is not inherited across exec); the file stays.
 *  Out: *fd. Returns: 0; or -1 with a message on stderr, naming the directory and, when the
 *  file says, the pid of the process holding the lock. */
int rpc_datadir_lock(const char *dir, int *fd) __attribute__((warn_unused_result));

/** Release the lock taken by rpc_datadir_lock (the file stays); *fd = -1. -1 is allowed. */
void rpc_datadir_unlock(int *fd);

#endif
