/* crypto.h - keys, BIP-340 signatures, tagged SHA-256: the only caller of the crypto libraries */
#ifndef LSTD_CRYPTO_H
#define LSTD_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SECKEY_SIZE 32
#define CRYPTO_PUBKEY_SIZE 32 /* x-only public key (BIP-340) */
#define CRYPTO_SIG_SIZE 64
#define CRYPTO_HASH_SIZE 32

#if defined(__GNUC__)
#define CRYPTO_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define CRYPTO_WARN_UNUSED
#endif

/** Generate a fresh secret key from the OS random source and its x-only public key.
 *  Returns: 0 on success, -1 if the OS random source failed.
 *  Out: seckey (32 bytes, caller wipes it with crypto_wipe), pubkey (32 bytes). */
CRYPTO_WARN_UNUSED int crypto_keygen(uint8_t seckey[CRYPTO_SECKEY_SIZE],
                                     uint8_t pubkey[CRYPTO_PUBKEY_SIZE]);

/** Derive the x-only public key of a secret key.
 *  Returns: 0 on success, -1 if seckey is not a valid secret key (zero or >= curve order).
 *  Out: pubkey.  In: seckey. */
CRYPTO_WARN_UNUSED int crypto_pubkey(uint8_t pubkey[CRYPTO_PUBKEY_SIZE],
                                     const uint8_t seckey[CRYPTO_SECKEY_SIZE]);

/** BIP-340 sign a 32-byte message hash with fresh auxiliary randomness from the OS.
 *  Returns: 0 on success, -1 on an invalid secret key or a failed random source.
 *  Out: sig.  In: msg32, seckey. */
CRYPTO_WARN_UNUSED int crypto_sign(uint8_t sig[CRYPTO_SIG_SIZE], const uint8_t msg32[32],
                                   const uint8_t seckey[CRYPTO_SECKEY_SIZE]);

/** BIP-340 sign with caller-chosen auxiliary randomness (aux32 may be NULL: all zero).
 *  Deterministic; used for published test vectors.
 *  Returns: 0 on success, -1 on an invalid secret key. */
CRYPTO_WARN_UNUSED int crypto_sign_aux(uint8_t sig[CRYPTO_SIG_SIZE], const uint8_t msg32[32],
                                       const uint8_t seckey[CRYPTO_SECKEY_SIZE],
                                       const uint8_t aux32[32]);

/** BIP-340 verify.  Returns: true only if sig is a valid signature of msg32 by pubkey;
 *  false for a bad signature or a pubkey that is not a valid x-only key. Thread-safe. */
CRYPTO_WARN_UNUSED bool crypto_verify(const uint8_t sig[CRYPTO_SIG_SIZE], const uint8_t msg32[32],
                                      const uint8_t pubkey[CRYPTO_PUBKEY_SIZE]);

/* Verifying with keys seen before. A BIP-340 verify first lifts the 32-byte key to a point
 * (a square root, about a tenth of the verify); a signer that sends many transactions needs
 * that once. A cache holds the points of the keys verified last, one slot per key's low bytes
 * (a key found there is compared whole, so a collision only costs the lift again). One per
 * thread: it is written by every verify. */

#define CRYPTO_KEY_CACHE_SLOTS 1024u /* about 100 KiB */

typedef struct crypto_key_cache {
    struct {
        uint8_t pubkey[CRYPTO_PUBKEY_SIZE];
        uint8_t point[64]; /* libsecp256k1's parsed x-only key */
        bool used;
    } slot[CRYPTO_KEY_CACHE_SLOTS];
} crypto_key_cache;

/** crypto_verify through a cache of lifted keys (zero it before the first use). Same result as
 *  crypto_verify for every input; an invalid key is never cached. */
CRYPTO_WARN_UNUSED bool crypto_verify_cached(crypto_key_cache *c,
                                             const uint8_t sig[CRYPTO_SIG_SIZE],
                                             const uint8_t msg32[32],
                                             const uint8_t pubkey[CRYPTO_PUBKEY_SIZE]);

/** Returns: true if the 32 bytes are the x coordinate of a point on secp256k1. */
CRYPTO_WARN_UNUSED bool crypto_pubkey_valid(const uint8_t pubkey[CRYPTO_PUBKEY_SIZE]);

/** BIP-340 tagged hash: SHA256(SHA256(tag) || SHA256(tag) || msg).  Never fails.
 *  Out: out (32 bytes).  In: tag (taglen bytes), msg (len bytes; may be NULL when len is 0).
 *  Hashes the tag on every call: for a tag used often, keep a crypto_tag. */
void crypto_tagged_hash(uint8_t out[CRYPTO_HASH_SIZE], const void *tag, size_t taglen,
                        const void *msg, size_t len);

/* A tag with its 64-byte prefix SHA256(tag) || SHA256(tag) already absorbed (a SHA-256
 * midstate), so each tagged hash costs only the blocks of its message. A plain value: copy
 * it, share it read-only between threads. */
typedef struct crypto_tag {
    uint64_t opaque[16];
} crypto_tag;

/* One piece of a message hashed in parts (crypto_tag_hashv). */
typedef struct crypto_part {
    const void *data; /* may be NULL when len is 0 */
    size_t len;
} crypto_part;

/** Prepare a tag for crypto_tag_hash. Out: *t.  In: tag (taglen bytes). */
void crypto_tag_init(crypto_tag *t, const void *tag, size_t taglen);

/** The tagged hash of msg under a prepared tag: equal to crypto_tagged_hash with that tag. */
void crypto_tag_hash(uint8_t out[CRYPTO_HASH_SIZE], const crypto_tag *t, const void *msg,
                     size_t len);

/** The tagged hash of the concatenation of n parts, without copying them together. */
void crypto_tag_hashv(uint8_t out[CRYPTO_HASH_SIZE], const crypto_tag *t, const crypto_part *parts,
                      size_t n);

/** Overwrite n bytes of secret material in a way the compiler cannot elide. */
void crypto_wipe(void *p, size_t n);

#endif
