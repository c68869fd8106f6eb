/* ledger_store.h - the narrow storage interface the state machine reads and writes through */
#ifndef LSTD_LEDGER_STORE_H
#define LSTD_LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Tables. A key is (table, bytes); values are opaque bytes encoded by ledger_record.c.
 * The numbers are part of the on-disk format: append only. */
enum ledger_table {
    LEDGER_T_META = 1,           /* u8 id -> chain head, genesis (not in the state digest) */
    LEDGER_T_POOL = 2,           /* 0 -> pool record */
    LEDGER_T_ACCOUNT = 3,        /* key32 -> account */
    LEDGER_T_ALLOWANCE = 4,      /* owner32 spender32 -> shares */
    LEDGER_T_LIEN = 5,           /* id be64 -> lien */
    LEDGER_T_ACCOUNT_LIEN = 6,   /* account32 id be64 -> role (1 owner, 2 beneficiary) */
    LEDGER_T_WITHDRAWAL = 7,     /* id be64 -> withdrawal request */
    LEDGER_T_ACCOUNT_WD = 8,     /* owner32 id be64 -> empty */
    LEDGER_T_OPERATOR = 9,       /* id be64 -> operator */
    LEDGER_T_OPERATOR_KEY = 10,  /* key32 -> operator id be64 */
    LEDGER_T_DEPOSIT_REF = 11,   /* ref32 -> seq be64 */
    LEDGER_T_TX = 12,            /* tx hash32 -> seq be64 */
    LEDGER_T_HISTORY = 13,       /* seq be64 -> history record (not in the state digest) */
    LEDGER_T_ACCOUNT_TX = 14,    /* account32 seq be64 -> empty */
    LEDGER_T_ORACLE_MEMBER = 15, /* key32 -> oracle member record */
    LEDGER_T_ORACLE_VOTE = 16,   /* operator id be64 member32 -> pending vote */
    LEDGER_T_LAST = 16           /* the highest table number (loops over every table) */
};

#define LEDGER_KEY_MAX 64
#define LEDGER_VALUE_MAX 4096

/* Return codes of every store function: 0, LEDGER_STORE_NOTFOUND, or a ledger_err code
 * of the internal range (LEDGER_STORE_IO, LEDGER_STORE_FULL, LEDGER_NO_MEMORY, and
 * LEDGER_STORE_CORRUPT when the store finds its own order broken). */
#define LEDGER_STORE_NOTFOUND (-1)

/** What `changed` hands the state machine for one entry written since the batch began.
 *  val is NULL when the entry is gone now; old_hash is NULL when it was absent before (else
 *  the element hash kept with its value as of the batch start); new_hash is the store's
 *  slot for the element hash of the current value (NULL when gone): fn writes it there. */
typedef void (*ledger_changed_fn)(void *ctx, unsigned table, const uint8_t *key, size_t key_len,
                                  const uint8_t *val, size_t val_len, const uint8_t *old_hash,
                                  uint8_t *new_hash);

/** A view of the store inside one transaction (a write batch or a read snapshot).
 *  Pointers returned by get and next stay valid until the next call on the same view. */
typedef struct ledger_store {
    void *self;
    /** Look up (table, key). Out: *val, *val_len. Returns: 0, NOTFOUND or an error. */
    int (*get)(void *self, unsigned table, const uint8_t *key, size_t key_len, const uint8_t **val,
               size_t *val_len);
    /** Insert or replace. Returns: 0 or an error (LEDGER_STORE_FULL when out of space). */
    int (*put)(void *self, unsigned table, const uint8_t *key, size_t key_len, const uint8_t *val,
               size_t val_len);
    /** Delete; deleting a missing key is not an error. Returns: 0 or an error. */
    int (*del)(void *self, unsigned table, const uint8_t *key, size_t key_len);
    /** Find the first key of `table` strictly greater than (key, key_len) in byte order
     *  (key_len 0: the first key). Out: *key_out, *key_out_len, *val, *val_len.
     *  Returns: 0, NOTFOUND when the table holds no such key, or an error (STORE_CORRUPT
     *  when what it found is not greater: a damaged store; scans rely on the progress). */
    int (*next)(void *self, unsigned table, const uint8_t *key, size_t key_len,
                const uint8_t **key_out, size_t *key_out_len, const uint8_t **val, size_t *val_len);
    /** Visit every entry put or deleted since the write batch began, once each, in any order
     *  (an entry written fifty times is visited once). The state digest is folded from these
     *  visits at the end of a batch, so each changed entry is hashed once. NULL in a read
     *  view. Returns: 0 or an error. */
    int (*changed)(void *self, ledger_changed_fn fn, void *ctx);
    /** A hint, NULL when the store takes none: the n keys (key_len bytes each, back to back)
     *  of `table` will be read soon, so bring them towards the CPU cache now. A batch's
     *  accounts are hinted before it is applied, as TigerBeetle prefetches a batch's objects:
     *  the memory latency of a million accounts is then paid in parallel, not one by one. */
    void (*prefetch)(void *self, unsigned table, const uint8_t *keys, size_t key_len, size_t n);
} ledger_store;

#endif
