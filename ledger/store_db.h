/* store_db.h - the durable ledger: state in memory, an appended batch log, background checkpoints
 */
#ifndef LSTD_STORE_DB_H
#define LSTD_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "store_lmdb.h"

/* A ledger directory holds two LMDB environments:
 *   DIR/data.mdb             the log: genesis, the chain head after the last durable batch,
 *                            and every history record (seq keys, appended with MDB_APPEND);
 *   DIR/checkpoint/data.mdb  the state as of some earlier batch (written in the background).
 * State, the tx-hash index and the account-history index live in memory. A batch is durable
 * once its records and chain head are in the log (one LMDB commit: one fsync of data, one of
 * the meta page). Opening loads the checkpoint, checks its digest, rebuilds the indexes from
 * the history and replays the log after the checkpoint. ledger/README.md ("Storage") has the
 * whole design. */
typedef struct store_db store_db;

typedef struct store_db_options {
    int durability;                  /* enum store_durability of the log (default STORE_SYNC) */
    uint64_t map_size_bytes;         /* initial LMDB map of each environment; 0 = 64 MiB */
    uint64_t map_size_max_bytes;     /* growth stops here; 0 = 1 TiB */
    uint64_t memory_limit_bytes;     /* 0: no limit; opening fails when the state needs more */
    uint64_t checkpoint_interval_ms; /* 0 = 10000: how often changed state is checkpointed */
    uint64_t commit_gather_us;       /* under load, a log commit waits until this long after
                                        the previous one began, so one fsync covers more
                                        batches (ledger/README.md); 0: none */
    bool read_only;                  /* load and replay in memory; never write (tools) */
    bool lenient;                    /* read_only: load a checkpoint whose digest or history
                                        links do not check (lstd-verify, to name what is
                                        damaged); the first such finding is in the message */
    uint64_t seed;                   /* layout seed of the in-memory tables; 0 = random */
} store_db_options;

/** Create a ledger in directory dir (made with mode 0700 when missing): the checkpoint holds
 *  the genesis state, the log the genesis. dir must not hold a ledger already.
 *  Returns: LEDGER_OK, LEDGER_ALREADY_INITIALIZED, LEDGER_GENESIS_INVALID, LEDGER_STORE_IO or
 *  LEDGER_NO_MEMORY (a message on stderr for I/O). */
LEDGER_WARN_UNUSED int store_db_create(const char *dir, const ledger_genesis *g,
                                       const store_db_options *opt);

/** Open the ledger in dir: load and verify the checkpoint, rebuild the indexes, replay the
 *  log after it, compare the result with the log's chain head and digest, then start the log
 *  writer and the checkpointer (unless read_only). A checkpoint that is missing, unreadable or
 *  damaged is rebuilt from the whole log (said on stderr, stats.rebuilt; the damaged file is
 *  kept as checkpoint/data.mdb.damaged) unless read_only, which reports it. opt may be NULL.
 *  Out: *out; on failure a one-line reason in msg.
 *  Returns: LEDGER_OK, LEDGER_NOT_INITIALIZED (no ledger in dir), LEDGER_STORE_CORRUPT
 *  (damaged or inconsistent), LEDGER_NO_MEMORY (including over memory_limit_bytes) or
 *  LEDGER_STORE_IO. */
LEDGER_WARN_UNUSED int store_db_open(store_db **out, const char *dir, const store_db_options *opt,
                                     char *msg, size_t msg_size);

/** A second, independent state for checking src: src's genesis, with every record src holds
 *  replayed from it in memory (read-only; src's log is read through src, whose view it uses,
 *  so both see the same history). Out: *out (close it before src); a reason in msg.
 *  Returns: LEDGER_OK, LEDGER_STORE_CORRUPT (a record does not reproduce: msg names it, or
 *  the end state differs from src's chain) or LEDGER_NO_MEMORY. */
LEDGER_WARN_UNUSED int store_db_replay(store_db **out, store_db *src, char *msg, size_t msg_size);

/** Stop retrying a failing log (the disk full, say): from now on a log commit that fails is
 *  given up, its batches answered with the failure (done rc != 0; nothing of them is
 *  durable), and later submits are refused at once. Until this is called the log thread
 *  retries every second for as long as it takes, so a disk that recovers loses nothing. The
 *  service calls it when it begins to stop, so a stop always ends. Any thread. */
void store_db_shutdown(store_db *db);

/** store_db_shutdown, wait until every submitted batch is durable (or given up), checkpoint
 *  what changed when the log holds everything (so the next open replays nothing), stop the
 *  threads and free everything; *db = NULL. NULL is ignored. */
void store_db_close(store_db **db);

/** The view of the current state: memory for state, the log and this process's pending
 *  batches for history. Only the thread that submits may use it; pointers it returns are
 *  valid until the next write or store_db call. */
ledger_store *store_db_view(store_db *db);

/** Called on the log thread once a batch is durable (rc 0) or can never be (rc != 0: fn
 *  failed, or the store is closing on a failed disk), in submission order; when submit cannot
 *  even queue the batch (no memory), on the submitting thread at once. */
typedef void (*store_db_done_fn)(void *ctx, int rc);

/** Run fn(ctx, view) as one batch: when it returns 0 the batch's writes are kept and its
 *  records queued for the log, otherwise every write is undone. done (may be NULL) is then
 *  called as above, also for a batch that wrote nothing, so replies can wait for it. Returns
 *  while the batch is still being written: the next batch is applied meanwhile. Blocks only
 *  while STORE_DB_PIPELINE batches wait for the disk. fn NULL: an empty batch (ordering only).
 *  Returns: fn's code (done is called with it too), or LEDGER_NO_MEMORY (nothing queued), or
 * LEDGER_INTERNAL on a read-only store (done is not called then). */
int store_db_submit(store_db *db, int (*fn)(void *ctx, ledger_store *view), void *ctx,
                    store_db_done_fn done, void *done_ctx);

/* Replication (rpc/rpc_repl.c, ledger/README.md "Replication"). A unit is the records of every
 * batch one log commit holds, as the log will hold them, and the chain record after the last. */
typedef struct store_db_unit {
    uint64_t first_seq, n; /* records first_seq .. first_seq + n - 1 */
    const uint8_t *rec;    /* their values back to back */
    const size_t *off;     /* n + 1 offsets into rec */
    const uint8_t *chain;  /* the chain record after them */
    size_t chain_len;
} store_db_unit;

/** Called on the log thread before each log commit that holds records, with those records as
 *  one unit, in order (so nothing is durable here that the replication log does not hold).
 *  Out: *position (0 leaves the batches' own, store_db_set_position). Returns: 0, or a code
 *  with which every batch of the commit and every later one is given up (done(rc); the store
 *  accepts no more batches: memory is ahead of the log). */
typedef int (*store_db_replicate_fn)(void *ctx, const store_db_unit *u, uint64_t *position);

/** Route every later batch through fn (NULL: none) before its log commit. Call before the
 *  first submit, or from the submitting thread while no batch waits for the log. */
void store_db_set_replicator(store_db *db, store_db_replicate_fn fn, void *ctx);

/** From a batch fn: the position (an opaque u64, e.g. the replication log's sequence of the
 *  batch's message) that the log commit holding this batch records (meta 4 of the log), in
 *  the same LMDB commit as the records. */
void store_db_set_position(store_db *db, uint64_t position);

/** Returns: the position recorded by the last durable log commit that held one (at open: the
 *  one in the log; 0: none). Any thread. */
uint64_t store_db_position(store_db *db);

#define STORE_DB_GATHER_US 3000 /* lstd's default commit_gather_us (its tools' too) */
#define STORE_DB_PIPELINE 64    /* batches queued for the log before submit waits */

/** store_db_submit, then wait until the batch is durable. Returns: fn's code, or the
 *  durability failure. */
int store_db_write(store_db *db, int (*fn)(void *ctx, ledger_store *view), void *ctx);

/** Wait until every submitted batch is durable. Returns: 0 or the log's failure code. */
int store_db_flush(store_db *db);

/** Write a checkpoint of everything durable now and wait for it. Returns: 0 or an error. */
int store_db_checkpoint(store_db *db);

#define STORE_DB_COMMIT_BUCKETS 12     /* log commit latency: 125 us, 250 us, ... 256 ms */
#define STORE_DB_COMMIT_BUCKET_US 125u /* the first bound; each next one doubles it */

typedef struct store_db_stats {
    uint64_t state_bytes;       /* memory of the state tables */
    uint64_t index_bytes;       /* memory of the tx-hash and account-history indexes */
    uint64_t accounts;          /* account records */
    uint64_t durable_seq;       /* records 1..durable_seq-1 are in the log */
    uint64_t checkpoint_seq;    /* the last checkpoint holds the state before this seq */
    uint64_t checkpoints;       /* written since open */
    uint64_t checkpoint_ms_max; /* longest checkpoint write */
    uint64_t log_commits;       /* log transactions (each may hold several batches) */
    uint64_t replayed;          /* records replayed at open */
    uint64_t open_ms;           /* time open took */
    bool rebuilt;               /* open found the checkpoint damaged or missing and rebuilt
                                   the state from the whole log */

    /* log commits that held records: their summed time (the append and its fsync), and how
     * many took at most STORE_DB_COMMIT_BUCKET_US << i microseconds (and more than the bound
     * before); the last slot counts the longer ones */
    uint64_t log_commit_us_total;
    uint64_t log_commit_buckets[STORE_DB_COMMIT_BUCKETS + 1];
} store_db_stats;

/** Counters (any thread). */
void store_db_stats_get(store_db *db, store_db_stats *out);

/** Copy the log and the checkpoint into dest_dir (a hot backup that opens as a ledger):
 *  the checkpoint first, then the log, each one LMDB snapshot. Returns: 0 or LEDGER_STORE_IO. */
int store_db_backup(const char *dir, const char *dest_dir, bool compact);

#endif
