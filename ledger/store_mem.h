/* store_mem.h - ordered in-memory tables with a per-batch undo log and cached element hashes */
#ifndef LSTD_STORE_MEM_H
#define LSTD_STORE_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger_store.h"

/* The state the ledger applies batches to. Every table is a hash table (point reads and
 * writes in O(1)) threaded through a treap ordered by key bytes (`next` in O(log n); random
 * priorities, so no choice of keys can unbalance it). Each entry keeps the element hash the
 * state machine computed for its value, so replacing a value never re-hashes the old one.
 *
 * Writes since the last store_mem_commit form one batch: the first write to an entry saves
 * its value and hash, so store_mem_abort puts everything back, and `changed` visits each
 * written entry once. One thread at a time; nothing here does I/O. */
typedef struct store_mem store_mem;

/** Make an empty store. seed picks the treap priorities and the bucket hash (any value;
 *  the caller draws it at random so that no client can predict the layout).
 *  Out: *out (free with store_mem_free). Returns: 0 or LEDGER_NO_MEMORY. */
int store_mem_new(store_mem **out, uint64_t seed);

/** Values of up to bytes (default 32, at most 32) live inline in their entry; a longer value
 *  moves to a block of its own and its inline bytes stay unused. Only before the first
 *  entry. */
void store_mem_inline(store_mem *m, uint32_t bytes);

/** Free the store and everything in it; *m = NULL. NULL is ignored. */
void store_mem_free(store_mem **m);

/** The ledger_store view of the store (get, put, del, next, changed). Pointers it returns
 *  stay valid until the next write to the same entry or the end of the batch. */
void store_mem_view(store_mem *m, ledger_store *view);

/** End the batch: keep its writes and forget how to undo them. */
void store_mem_commit(store_mem *m);

/** End the batch by undoing every write since the last commit (values and hashes). */
void store_mem_abort(store_mem *m);

/** Visit the entries written in this batch (as the view's `changed`). Returns: 0. */
int store_mem_changed(store_mem *m, ledger_changed_fn fn, void *ctx);

/** Open (table, key)'s value for a change in place: it becomes size bytes, the old ones kept
 *  (an absent or deleted entry's: zero), logged for abort as a put is. One lookup where a get
 *  and a put take two. Out: *val, valid as a get's. Returns: 0, LEDGER_NO_MEMORY or
 *  LEDGER_STORE_IO (key or size out of range). */
int store_mem_edit(store_mem *m, unsigned table, const uint8_t *key, size_t key_len, size_t size,
                   uint8_t **val);

/** Insert an entry with its element hash outside any batch (loading a checkpoint): it is
 *  not visited by `changed` and not undone. Returns: 0, LEDGER_NO_MEMORY, LEDGER_STORE_IO
 *  (key out of range) or LEDGER_STORE_CORRUPT (the key is already present). */
int store_mem_load(store_mem *m, unsigned table, const uint8_t *key, size_t key_len,
                   const uint8_t *val, size_t val_len, const uint8_t hash[32]);

/* Checkpoint capture (a store that tracks it: store_mem_track). Every entry written since the
 * last capture began is on a dirty array. A capture takes that array and emits each entry's
 * value as of that moment: a runner on another thread walks the array (store_mem_capture_run)
 * while batches go on, and the owner emits any entry it is about to write first, before the
 * write. So the capture is a consistent snapshot of the changes, and the thread applying
 * batches copies only the entries it writes. Deleted entries are kept until their tombstone is
 * emitted. The store is otherwise one thread's (the owner's); store_mem_capture_run is the one
 * call another thread may make, once per capture, between its begin and its end. */

/** Receives one captured entry (val NULL: deleted). Returns: false when out of memory. */
typedef bool (*store_mem_emit_fn)(void *ctx, unsigned table, const uint8_t *key, size_t key_len,
                                  const uint8_t *val, size_t val_len);

/** Track written entries for captures from now on. */
void store_mem_track(store_mem *m);

/** Begin a capture of everything written since the last one began (the owner, between
 *  batches). emit(ctx) receives the entries the owner emits before writing them.
 *  Returns: 0, or LEDGER_INTERNAL (not tracking, a capture running, or inside a batch). */
int store_mem_capture_begin(store_mem *m, store_mem_emit_fn emit, void *ctx);

/** The capture's runner (one call per capture, on any thread, while the owner goes on with
 *  batches): emit(ctx) every entry of the capture the owner has not emitted. Returns: 0 or
 *  LEDGER_NO_MEMORY (an emit failed: the capture is incomplete). */
int store_mem_capture_run(store_mem *m, store_mem_emit_fn emit, void *ctx);

/** End the capture once its run has returned (the owner, between batches). Out: *done when it
 *  has (the capture is complete). Returns: 0, LEDGER_NO_MEMORY (done, but an emit failed: the
 *  capture is incomplete) or LEDGER_INTERNAL (no capture running, or inside a batch). */
int store_mem_capture_end(store_mem *m, bool *done);

/** Entries written since the last capture began. */
uint64_t store_mem_dirty(const store_mem *m);

/** The view's prefetch: bring the buckets, entries and values of n keys towards the cache. */
void store_mem_prefetch(store_mem *m, unsigned table, const uint8_t *keys, size_t key_len,
                        size_t n);

/** Entries held in one table. */
uint64_t store_mem_count(const store_mem *m, unsigned table);

/** Bytes the store holds from the allocator (entries, values, buckets, undo log). */
uint64_t store_mem_bytes(const store_mem *m);

#endif
