/* crypto.h - keys, BIP-340 Schnorr signatures and tagged SHA-256 (the only libsecp256k1 user) */
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

/** Returns: true if the 32 bytes are the x coordinate of a point on secp256k1. */
CRYPTO_WARN_UNUSED bool crypto_pubkey_valid(const uint8_t pubkey[CRYPTO_PUBKEY_SIZE]);

/** BIP-340 tagged hash: SHA256(SHA256(tag) || SHA256(tag) || msg).  Never fails.
 *  Out: out (32 bytes).  In: tag (taglen bytes), msg (len bytes; may be NULL when len is 0). */
void crypto_tagged_hash(uint8_t out[CRYPTO_HASH_SIZE], const void *tag, size_t taglen,
                        const void *msg, size_t len);

/** Overwrite n bytes of secret material in a way the compiler cannot elide. */
void crypto_wipe(void *p, size_t n);

#endif
