/* crypto_curve.c - libsodium wrapper: Curve25519 key pairs, boxes, secret boxes, random bytes */
#include "crypto_curve.h"

#include <pthread.h>
/* libsodium's headers one by one: sodium.h would bring its crypto_sign beside ours */
#include <sodium/core.h>
#include <sodium/crypto_box.h>
#include <sodium/crypto_scalarmult.h>
#include <sodium/crypto_secretbox.h>
#include <sodium/randombytes.h>
#include <sodium/utils.h>

_Static_assert(crypto_box_PUBLICKEYBYTES == CRYPTO_CURVE_KEY_SIZE, "public key size");
_Static_assert(crypto_box_SECRETKEYBYTES == CRYPTO_CURVE_KEY_SIZE, "secret key size");
_Static_assert(crypto_box_BEFORENMBYTES == CRYPTO_CURVE_KEY_SIZE, "shared key size");
_Static_assert(crypto_secretbox_KEYBYTES == CRYPTO_CURVE_KEY_SIZE, "secret box key size");
_Static_assert(crypto_box_NONCEBYTES == CRYPTO_CURVE_NONCE_SIZE, "nonce size");
_Static_assert(crypto_secretbox_NONCEBYTES == CRYPTO_CURVE_NONCE_SIZE, "secret box nonce size");
_Static_assert(crypto_box_MACBYTES == CRYPTO_CURVE_MAC_SIZE, "MAC size");
_Static_assert(crypto_secretbox_MACBYTES == CRYPTO_CURVE_MAC_SIZE, "secret box MAC size");

static pthread_once_t started_once = PTHREAD_ONCE_INIT;
static int started_rc = -1;

static void start(void)
{
    started_rc = sodium_init() >= 0 ? 0 : -1; /* 1: already started, by libzmq perhaps */
}

/* libsodium is started once, by whichever thread comes first. Returns: 0 or -1. */
static int started(void)
{
    pthread_once(&started_once, start);
    return started_rc;
}

int crypto_curve_keypair(uint8_t public_key[CRYPTO_CURVE_KEY_SIZE],
                         uint8_t secret_key[CRYPTO_CURVE_KEY_SIZE])
{
    if (started() != 0)
        return -1;
    return crypto_box_keypair(public_key, secret_key) == 0 ? 0 : -1;
}

int crypto_curve_public(uint8_t public_key[CRYPTO_CURVE_KEY_SIZE],
                        const uint8_t secret_key[CRYPTO_CURVE_KEY_SIZE])
{
    if (started() != 0)
        return -1;
    return crypto_scalarmult_base(public_key, secret_key) == 0 ? 0 : -1;
}

int crypto_curve_shared(uint8_t shared[CRYPTO_CURVE_KEY_SIZE],
                        const uint8_t public_key[CRYPTO_CURVE_KEY_SIZE],
                        const uint8_t secret_key[CRYPTO_CURVE_KEY_SIZE])
{
    if (started() != 0)
        return -1;
    return crypto_box_beforenm(shared, public_key, secret_key) == 0 ? 0 : -1;
}

int crypto_curve_seal(uint8_t *box, const uint8_t *msg, size_t len,
                      const uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE],
                      const uint8_t shared[CRYPTO_CURVE_KEY_SIZE])
{
    if (started() != 0)
        return -1;
    return crypto_box_easy_afternm(box, msg, len, nonce, shared) == 0 ? 0 : -1;
}

int crypto_curve_open(uint8_t *msg, const uint8_t *box, size_t box_len,
                      const uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE],
                      const uint8_t shared[CRYPTO_CURVE_KEY_SIZE])
{
    if (box_len < CRYPTO_CURVE_MAC_SIZE || started() != 0)
        return -1;
    return crypto_box_open_easy_afternm(msg, box, box_len, nonce, shared) == 0 ? 0 : -1;
}

int crypto_curve_secret_seal(uint8_t *box, const uint8_t *msg, size_t len,
                             const uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE],
                             const uint8_t key[CRYPTO_CURVE_KEY_SIZE])
{
    if (started() != 0)
        return -1;
    return crypto_secretbox_easy(box, msg, len, nonce, key) == 0 ? 0 : -1;
}

int crypto_curve_secret_open(uint8_t *msg, const uint8_t *box, size_t box_len,
                             const uint8_t nonce[CRYPTO_CURVE_NONCE_SIZE],
                             const uint8_t key[CRYPTO_CURVE_KEY_SIZE])
{
    if (box_len < CRYPTO_CURVE_MAC_SIZE || started() != 0)
        return -1;
    return crypto_secretbox_open_easy(msg, box, box_len, nonce, key) == 0 ? 0 : -1;
}

int crypto_curve_random(void *out, size_t n)
{
    if (started() != 0)
        return -1;
    randombytes_buf(out, n);
    return 0;
}

bool crypto_curve_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}
