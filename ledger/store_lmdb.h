/* store_lmdb.h - the ledger_store interface implemented over one LMDB environment */
#ifndef LSTD_STORE_LMDB_H
#define LSTD_STORE_LMDB_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger_store.h"

typedef struct store_lmdb store_lmdb;
typedef struct store_txn store_txn;

enum store_durability {
    STORE_SYNC = 0,   /* fsync on every commit: survives power loss (default) */
    STORE_NOSYNC = 1, /* no fsync: survives a killed process, not a machine crash */
};

typedef struct store_options {
    uint64_t map_size_bytes;     /* initial map size; 0 = 64 MiB */
    uint64_t map_size_max_bytes; /* growth stops here; 0 = 1 TiB */
    int durability;              /* enum store_durability */
    bool read_only;              /* open an existing store without writing (verify, inspect) */
} store_options;

/** Open (creating if absent, unless read_only) the store in directory `dir`, which is
 *  created with mode 0700 when missing. opt may be NULL for the defaults.
 *  Out: *out (free with store_lmdb_close).
 *  Returns: 0, LEDGER_STORE_IO (errno-level failure, message on stderr) or LEDGER_NO_MEMORY. */
int store_lmdb_open(store_lmdb **out, const char *dir, const store_options *opt);

/** Close the store and set *s to NULL. No transaction may be open. NULL is ignored. */
void store_lmdb_close(store_lmdb **s);

/** Begin a transaction: a write transaction (one at a time, blocking) or a read snapshot
 *  (any number, any thread). Out: *txn, *view (valid until commit or abort).
 *  Returns: 0, LEDGER_STORE_IO or LEDGER_NO_MEMORY. */
int store_lmdb_begin(store_lmdb *s, bool write, store_txn **txn, ledger_store *view);

/** Put (table, key) -> val in a write view of this store, where the key sorts after every
 *  key in the store (MDB_APPEND: no page search, pages filled completely). Returns: 0, or an
 *  error (LEDGER_STORE_IO when the key is not the last; the transaction is then poisoned). */
int store_lmdb_append(ledger_store *view, unsigned table, const uint8_t *key, size_t key_len,
                      const uint8_t *val, size_t val_len);

/** Commit a write transaction durably (per the durability mode) and free it; *txn = NULL.
 *  A read transaction is simply ended. Returns: 0, LEDGER_STORE_FULL or LEDGER_STORE_IO
 *  (in both cases nothing was committed). */
int store_lmdb_commit(store_txn **txn);

/** Abandon a transaction; nothing it wrote persists. *txn = NULL; NULL is ignored. */
void store_lmdb_abort(store_txn **txn);

/** Grow the map (double, capped by map_size_max_bytes). No transaction may be open.
 *  Returns: 0, LEDGER_STORE_FULL (already at the cap) or LEDGER_STORE_IO. */
int store_lmdb_grow(store_lmdb *s);

/** Run fn(ctx, view) in one write transaction and commit if it returns 0; otherwise abort
 *  and return its code. When the map fills (fn or commit returns LEDGER_STORE_FULL) the
 *  transaction is aborted, the map grown and fn run again from scratch, so fn must be
 *  repeatable (all its effects go through the view). Returns: 0, fn's code or a store error. */
int store_lmdb_write(store_lmdb *s, int (*fn)(void *ctx, ledger_store *view), void *ctx);

/** Write what committed transactions left in the page cache (an environment opened
 *  STORE_NOSYNC) to disk chunk_bytes at a time, each chunk waited for before the next is
 *  started, and chunks that wrote something at most bytes_per_s (0: no limit), then fsync the
 *  file: the same durability as a synced commit, but the disk's queue never holds more than
 *  one chunk of this file, so another file's small fsync (the log's) waits for one chunk at
 *  most instead of the whole write; and on a virtual disk whose host caches writes (where a
 *  guest's fsync makes the host write out everything the guest wrote before it) the rate keeps
 *  what the log's next fsync inherits small. Any thread; concurrent commits are allowed (they
 *  are covered only if they finished before the final fsync).
 *  Returns: 0 or LEDGER_STORE_IO (message on stderr). */
int store_lmdb_sync_paced(store_lmdb *s, uint64_t chunk_bytes, uint64_t bytes_per_s);

/** Keep at least ahead_bytes of zeroed file after the last page LMDB uses, writing step_bytes
 *  of zeros at the file's end when there is less (no fsync: the next commit's covers it).
 *  Commits that then land inside the file change no file size or block map, so their
 *  fdatasync writes data alone, no filesystem journal commit (ledger/README.md, "The commit
 *  path"). Only on the thread that commits to s, between its transactions.
 *  Returns: 0, or -1 (the zeros could not be written, the disk full say; nothing is lost:
 *  later commits extend the file as before). */
int store_lmdb_reserve(store_lmdb *s, uint64_t ahead_bytes, uint64_t step_bytes);

/** Copy the last committed state into dest_dir/data.mdb (a hot backup): one read snapshot,
 *  so the copy is consistent even while this or another process writes, and writers are not
 *  blocked. compact: leave out free pages and renumber (mdb_env_copy2 with MDB_CP_COMPACT);
 *  otherwise a page-for-page copy. dest_dir is created with mode 0700 when missing and must
 *  not already hold a data.mdb; the file is left with mode 0600 and fsynced, and a failed
 *  copy is removed. A grow in this process waits until the copy is done; the calling thread
 *  must not hold a transaction. Only the data file is written: opening the copy creates its
 *  lock file.
 *  Returns: 0, LEDGER_STORE_IO (message on stderr; also when dest_dir/data.mdb exists) or
 *  LEDGER_NO_MEMORY. */
int store_lmdb_backup(store_lmdb *s, const char *dest_dir, bool compact);

/** Find the LMDB directory a command-line argument names: DIR/ledger when it exists (an lstd
 *  data directory), else DIR itself; either way it must hold a data.mdb file.
 *  Out: out (size bytes). Returns: 0, or -1 with a message on stderr prefixed by `tool`. */
int store_lmdb_locate(const char *tool, const char *arg, char *out, size_t size);

/** Current map size in bytes (for tests and counters). */
uint64_t store_lmdb_map_size(store_lmdb *s);

#endif
