/* store_txindex.h - transaction hash -> seq, an open-addressing table held in memory */
#ifndef LSTD_STORE_TXINDEX_H
#define LSTD_STORE_TXINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Each slot keeps the first 8 bytes of a transaction hash and the record's seq (16 bytes;
 * the table stays at most 70% full, so 16..23 bytes per recorded transaction). A lookup
 * yields the seqs whose hash starts the same; the caller confirms the whole hash against
 * the record. Additions since the last commit are undone by abort. One thread at a time. */
typedef struct store_txindex store_txindex;

/** Make an empty index; seed keys the slot choice. Out: *out.
 *  Returns: 0 or LEDGER_NO_MEMORY. */
int store_txindex_new(store_txindex **out, uint64_t seed);

/** Free the index; *x = NULL. NULL is ignored. */
void store_txindex_free(store_txindex **x);

/** Add hash -> seq (seq >= 1). Returns: 0 or LEDGER_NO_MEMORY. */
int store_txindex_add(store_txindex *x, const uint8_t hash[32], uint64_t seq);

/** Find the seq recorded for hash: each candidate seq is offered to is(ctx, seq), which says
 *  whether the record there really has this hash. Returns: the seq, or 0 when none. */
uint64_t store_txindex_find(const store_txindex *x, const uint8_t hash[32],
                            bool (*is)(void *ctx, uint64_t seq), void *ctx);

/** Bring the slots of n hashes (32 bytes each, back to back) towards the cache. */
void store_txindex_prefetch(const store_txindex *x, const uint8_t *hashes, size_t n);

/** Keep the additions since the last commit / remove them again. */
void store_txindex_commit(store_txindex *x);
void store_txindex_abort(store_txindex *x);

/** Hashes held; bytes held from the allocator. */
uint64_t store_txindex_count(const store_txindex *x);
uint64_t store_txindex_bytes(const store_txindex *x);

#endif
