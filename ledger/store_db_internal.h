/* store_db_internal.h - the durable ledger's parts, shared by its three files only */
#ifndef LSTD_STORE_DB_INTERNAL_H
#define LSTD_STORE_DB_INTERNAL_H

#include <pthread.h>

#include "store_db.h"
#include "store_acctidx.h"
#include "store_mem.h"
#include "store_txindex.h"

/* One submitted batch. The submitting thread allocates and frees it; the log thread reads
 * its records and write set, calls done, then sets durable. */
typedef struct pending {
    uint64_t first_seq, n; /* records first_seq .. first_seq + n - 1 */
    uint8_t *rec;          /* their values back to back */
    size_t rec_len, rec_cap;
    size_t *off; /* n + 1 offsets into rec */
    size_t off_cap;
    uint8_t chain[256]; /* the chain record after the batch (n > 0) */
    size_t chain_len;
    store_db_done_fn done;
    void *done_ctx;
    uint64_t position; /* store_db_set_position, or the replicator's (0: none) */
    int rc;
    bool durable;
    struct pending *next;
} pending;

/* A checkpoint: the state entries changed since the previous one, as of the batch before seq
 * (entries: table u8, key_len u8, key, present u8, val_len be32, val). Filled by the
 * submitting thread a step per batch, then written by the checkpointer once seq is durable. */
typedef struct chunk {
    struct chunk *next;
    size_t len, cap, mapped; /* mapped: the bytes of its huge-page region */
    uint8_t data[];
} chunk;

typedef struct capture_part {
    chunk *first, *last; /* entries never span chunks: growing never copies */
    chunk *reuse;        /* chunks of a written capture, filled before any new one is mapped */
    uint64_t count;
} capture_part;

typedef struct capture {
    /* the entries the applying thread emitted before writing them, and the checkpointer's
     * (store_mem_capture_run) */
    capture_part own, run;
    uint64_t seq;
    struct capture *next;
} capture;

/** Free a capture and its chunks. */
void capture_free(capture *c);

/** Free a capture and hand back its chunks (a list through next) for the next one to reuse. */
chunk *capture_recycle(capture *c);

/** Unmap a list of chunks. */
void chunks_free(chunk *k);

struct store_db {
    store_db_options opt;
    char dir[4096];
    store_lmdb *log, *ckpt;
    store_db *src; /* store_db_replay: the ledger whose history this one re-applies */
    /* memory: state, account-history index, tx-hash index (submitting thread only) */
    store_mem *state;
    store_acctidx *acct;
    store_txindex *txs;
    ledger_store view;
    /* the submitting thread's read snapshot of the log, and what it may read there */
    store_txn *rtxn;
    ledger_store rview;
    uint64_t visible_seq; /* records below this are read from the log */
    pending *cur;         /* the batch being applied */
    pending *spare;       /* reclaimed batches for reuse */
    unsigned spares;
    uint8_t key_out[LEDGER_KEY_MAX], val_out[8];
    /* the pipeline, under lock */
    pthread_mutex_t lock;
    pthread_cond_t log_cv, durable_cv, ckpt_cv;
    pending *head, *tail, *log_next; /* submitted; first not yet written */
    uint64_t durable_seq, submitted_batches, durable_batches;
    unsigned waiters; /* threads waiting for durability (flush, write): no gathering */
    bool log_idle;    /* the log thread waits for a batch (not gathering) */
    int log_failed;
    capture *filling;             /* the capture in progress (submitting thread) */
    uint64_t capture_began_ms;    /* when it began */
    bool ckpt_broken;             /* a capture was lost: no more checkpoints in this process */
    capture *cap_head, *cap_tail; /* captures for the checkpointer, under lock */
    chunk *cap_chunks;            /* written captures' chunks for the next one, under lock */
    capture *cap_run;             /* begun: for the checkpointer to run, under lock */
    uint64_t cap_begun, cap_ran;  /* captures begun, and run by the checkpointer, under lock */
    uint64_t ckpt_queued, ckpt_written;
    int ckpt_rc;
    bool stopping, ckpt_stopping, log_started, ckpt_started;
    bool closing;                    /* store_db_shutdown: a failing log commit is given up */
    store_db_replicate_fn replicate; /* NULL: no replication */
    void *replicate_ctx;
    uint8_t *unit_rec; /* the log thread's: a range's records as one unit for the replicator */
    size_t *unit_off, unit_cap, unit_off_cap;
    uint64_t position; /* the last durable commit's position (under lock) */
    pthread_t log_thread, ckpt_thread;
    store_db_stats stats;
    /* fault injection for the crash tests (ledger/README.md, "Testing the commit path"):
     * SIGKILL this process after that many log commits, before their replies; in the middle
     * of writing the first checkpoint */
    uint64_t fault_kill_after_commits;
    bool fault_kill_in_checkpoint;
};

/* store_db_view.c */
void db_view_init(store_db *db);
/** Close the read snapshot of the log (before anything that may wait on the log thread). */
void db_read_end(store_db *db);
/** Append one entry to a capture's part (a store_mem_emit_fn on a capture_part). Returns:
 *  false when out of memory. */
bool capture_add(void *ctx, unsigned table, const uint8_t *key, size_t key_len, const uint8_t *val,
                 size_t val_len);

#define META_POSITION 4 /* the log's replication position: be64 (store_db_set_position) */

/* store_db_pipe.c */
/** Free a batch and its buffers. */
void db_pending_free(pending *p);
/** Refresh the memory counters in stats (the submitting thread). */
void db_stats_memory(store_db *db);
/** Make what the checkpoint's environment committed durable (paced; nothing with NOSYNC).
 *  Returns: 0 or LEDGER_STORE_IO. */
int db_ckpt_sync(store_db *db);
int db_threads_start(store_db *db);
void db_threads_stop(store_db *db);
/** Between batches: begin a capture when one is due, and take its next step. all: finish the
 *  running capture now, or begin one and finish it (a forced checkpoint). */
void db_capture_tick(store_db *db, bool all);

#endif
