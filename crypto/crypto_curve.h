/* crypto_curve.h - Curve25519 boxes for CurveZMQ: key pairs, boxes, secret boxes, randomness */
#ifndef LSTD_CRYPTO_CURVE_H
#define LSTD_CRYPTO_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CRYPTO_CURVE_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define CRYPTO_CURVE_WARN_UNUSED
#endif

/* The boxes of CurveZMQ (RFC 26) are NaCl's: crypto_box (Curve25519, XSalsa20, Poly1305) and
 * crypto_secretbox, here in their "easy" form: a box of n bytes is the 16-byte MAC followed by
 * the n bytes of ciphertext. libsodium is called from crypto_curve.c only (its header is not
 * included with crypto.h: both name a crypto_sign). Wipe secrets with crypto_wipe. */

#define CRYPTO_CURVE_KEY_SIZE 32   /* a public key, a secret key, a shared (precomputed) key */
#define CRYPTO_CURVE_NONCE_SIZE 24 /* every nonce */
#define CRYPTO_CURVE_MAC_SIZE 16   /* a box is this much longer than what it holds */

/** Make a fresh key pair from the OS random source.
 *  Out: public_key, secret_key (the caller wipes it). Returns: 0, or -1 (libsodium could not
 *  start). */
CRYPTO_CURVE_WARN_UNUSED int crypto_curve_keypair(uint8_t public_key[CRYPTO_CURVE_KEY_SIZE],
                                                  uint8_t secret_key[CRYPTO_CURVE_KEY_SIZE]);

/** The public key of a secret key. Out: public_key. Returns: 0 or -1. */
CRYPTO_CURVE_WARN_UNUSED int crypto_curve_public(uint8_t public_key[CRYPTO_CURVE_KEY_SIZE],
                                                 const uint8_t secret_key[CRYPTO_CURVE_KEY_SIZE]);

/** The shared key of one side's secret and the other's public key (crypto_box_beforenm), for
 *  crypto_curve_seal and crypto_curve_open. Out: shared (the caller wipes it).
 *  Returns: 0, or -1 when public_key is a weak point (the shared key would be all zero). */
CRYPTO_CURVE_WARN_UNUSED int crypto_curve_shared(uint8_t shared[CRYPTO_CURVE_KEY_SIZE],
                                                 const uint8_t public_key[CRYPTO_CURVE_KEY_SIZE],
                                                 const uint8_t secret_key[CRYPTO_CURVE_KEY_SIZE]);

/** Seal len bytes of msg into box (len + CRYPTO_CURVE_MAC_SIZE bytes) under a shared key.
 *  box and msg may be the same bytes shifted: msg == box + CRYPTO_CURVE_MAC_SIZE seals in
 *  place. Returns: 0 or -1. */
CRYPTO_CURVE_WARN_UNUSED int crypto_curve_seal(uint8_t *box, const uint8_t *msg, size_t len,
                                               const uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE],
                                               const uint8_t shared[CRYPTO_CURVE_KEY_SIZE]);

/** Open a box of box_len bytes (at least CRYPTO_CURVE_MAC_SIZE) into msg (box_len -
 *  CRYPTO_CURVE_MAC_SIZE bytes); msg == box opens in place. Nothing is written to msg unless
 *  the box is authentic. Returns: 0, or -1 when it is not (or too short). */
CRYPTO_CURVE_WARN_UNUSED int crypto_curve_open(uint8_t *msg, const uint8_t *box, size_t box_len,
                                               const uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE],
                                               const uint8_t shared[CRYPTO_CURVE_KEY_SIZE]);

/** crypto_curve_seal with a secret (symmetric) key: crypto_secretbox. Returns: 0 or -1. */
CRYPTO_CURVE_WARN_UNUSED int crypto_curve_secret_seal(uint8_t *box, const uint8_t *msg, size_t len,
                                                      const uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE],
                                                      const uint8_t key[CRYPTO_CURVE_KEY_SIZE]);

/** crypto_curve_open with a secret (symmetric) key. Returns: 0, or -1 when not authentic. */
CRYPTO_CURVE_WARN_UNUSED int crypto_curve_secret_open(uint8_t *msg, const uint8_t *box,
                                                      size_t box_len,
                                                      const uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE],
                                                      const uint8_t key[CRYPTO_CURVE_KEY_SIZE]);

/** Fill out with n bytes from the OS random source (never fails once libsodium has started).
 *  Returns: 0, or -1 when libsodium could not start. */
CRYPTO_CURVE_WARN_UNUSED int crypto_curve_random(void *out, size_t n);

/** Compare n bytes in time that does not depend on where they differ.
 *  Returns: true when equal. */
bool crypto_curve_equal(const void *a, const void *b, size_t n);

#endif
