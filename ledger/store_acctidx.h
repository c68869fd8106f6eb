/* store_acctidx.h - the account-history index: account -> ascending seqs, in memory */
#ifndef LSTD_STORE_ACCTIDX_H
#define LSTD_STORE_ACCTIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Each account with history has one entry in an ordered table (store_mem: hashed lookups,
 * ordered walks across accounts) whose 16-byte value says how many seqs it holds and where
 * its newest chunk is. The seqs themselves live in chunks of 2, 4, 8, ... seqs carved from
 * large blocks, each chunk linked to the one before: an append writes one slot (a new chunk
 * when the last is full), never moves a list and never calls the allocator except for a new
 * block. Additions since the last commit are undone by abort (the counts are put back and the
 * blocks rewound). One thread at a time; nothing here does I/O. */
typedef struct store_acctidx store_acctidx;

/** Make an empty index; seed keys the table's hashing. Out: *out.
 *  Returns: 0 or LEDGER_NO_MEMORY. */
int store_acctidx_new(store_acctidx **out, uint64_t seed);

/** Free the index; *x = NULL. NULL is ignored. */
void store_acctidx_free(store_acctidx **x);

/** Append seq to account's list; seq must exceed the list's last (appended in seq order:
 *  LEDGER_STORE_CORRUPT otherwise). Returns: 0, LEDGER_NO_MEMORY or LEDGER_STORE_CORRUPT. */
int store_acctidx_add(store_acctidx *x, const uint8_t account[32], uint64_t seq);

/** The first seq of account's list above after. Returns: that seq, or 0 when there is none
 *  (or no list). */
uint64_t store_acctidx_after(store_acctidx *x, const uint8_t account[32], uint64_t after);

/** The first account with a list whose key is above key (key_len bytes; 0: the first account
 *  of all), by key order. Out: account (32 bytes), *first (the first seq of its list).
 *  Returns: 0, LEDGER_STORE_NOTFOUND (none above) or LEDGER_STORE_IO (key_len above 32). */
int store_acctidx_next_account(store_acctidx *x, const uint8_t *key, size_t key_len,
                               uint8_t account[32], uint64_t *first);

/** Bring the entries of n accounts (32 bytes each, back to back) towards the cache. */
void store_acctidx_prefetch(store_acctidx *x, const uint8_t *accounts, size_t n);

/** Keep the additions since the last commit / remove them again. */
void store_acctidx_commit(store_acctidx *x);
void store_acctidx_abort(store_acctidx *x);

/** Accounts with a list; seqs held; bytes held from the allocator. */
uint64_t store_acctidx_accounts(const store_acctidx *x);
uint64_t store_acctidx_seqs(const store_acctidx *x);
uint64_t store_acctidx_bytes(const store_acctidx *x);

#endif
