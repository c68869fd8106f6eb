/* crypto.c - libsecp256k1 wrapper: key generation, BIP-340 sign and verify, key checks */
#include "crypto.h"

#include <gmp.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static secp256k1_context *sign_ctx;
static pthread_once_t sign_ctx_once = PTHREAD_ONCE_INIT;

static int random_bytes(uint8_t *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(out + got, n - got, 0);
        if (r < 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* The signing context is randomized once (side-channel blinding); it is then only read. */
static void sign_ctx_create(void)
{
    uint8_t seed[32];
    sign_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (sign_ctx != NULL && random_bytes(seed, sizeof seed) == 0 &&
        !secp256k1_context_randomize(sign_ctx, seed)) {
        secp256k1_context_destroy(sign_ctx);
        sign_ctx = NULL;
    }
    crypto_wipe(seed, sizeof seed);
}

static const secp256k1_context *signing_context(void)
{
    pthread_once(&sign_ctx_once, sign_ctx_create);
    return sign_ctx;
}

int crypto_pubkey(uint8_t pubkey[CRYPTO_PUBKEY_SIZE], const uint8_t seckey[CRYPTO_SECKEY_SIZE])
{
    const secp256k1_context *ctx = signing_context();
    secp256k1_keypair kp;
    secp256k1_xonly_pubkey xpk;
    int ok = ctx != NULL && secp256k1_keypair_create(ctx, &kp, seckey) &&
             secp256k1_keypair_xonly_pub(ctx, &xpk, NULL, &kp) &&
             secp256k1_xonly_pubkey_serialize(ctx, pubkey, &xpk);
    crypto_wipe(&kp, sizeof kp);
    return ok ? 0 : -1;
}

int crypto_keygen(uint8_t seckey[CRYPTO_SECKEY_SIZE], uint8_t pubkey[CRYPTO_PUBKEY_SIZE])
{
    /* A random 32-byte string is a valid key except with negligible probability; retry. */
    for (int tries = 0; tries < 16; tries++) {
        if (random_bytes(seckey, CRYPTO_SECKEY_SIZE) != 0)
            break;
        if (crypto_pubkey(pubkey, seckey) == 0)
            return 0;
    }
    crypto_wipe(seckey, CRYPTO_SECKEY_SIZE);
    return -1;
}

int crypto_sign_aux(uint8_t sig[CRYPTO_SIG_SIZE], const uint8_t msg32[32],
                    const uint8_t seckey[CRYPTO_SECKEY_SIZE], const uint8_t aux32[32])
{
    static const uint8_t zero[32];
    const secp256k1_context *ctx = signing_context();
    secp256k1_keypair kp;
    int ok = ctx != NULL && secp256k1_keypair_create(ctx, &kp, seckey) &&
             secp256k1_schnorrsig_sign32(ctx, sig, msg32, &kp, aux32 ? aux32 : zero);
    crypto_wipe(&kp, sizeof kp);
    return ok ? 0 : -1;
}

int crypto_sign(uint8_t sig[CRYPTO_SIG_SIZE], const uint8_t msg32[32],
                const uint8_t seckey[CRYPTO_SECKEY_SIZE])
{
    uint8_t aux[32];
    int rc = random_bytes(aux, sizeof aux) == 0 ? crypto_sign_aux(sig, msg32, seckey, aux) : -1;
    crypto_wipe(aux, sizeof aux);
    return rc;
}

bool crypto_verify(const uint8_t sig[CRYPTO_SIG_SIZE], const uint8_t msg32[32],
                   const uint8_t pubkey[CRYPTO_PUBKEY_SIZE])
{
    secp256k1_xonly_pubkey xpk;
    if (!secp256k1_xonly_pubkey_parse(secp256k1_context_static, &xpk, pubkey))
        return false;
    return secp256k1_schnorrsig_verify(secp256k1_context_static, sig, msg32, 32, &xpk) == 1;
}

_Static_assert(sizeof(secp256k1_xonly_pubkey) == sizeof(((crypto_key_cache *)0)->slot[0].point),
               "a cache slot holds a parsed key");

bool crypto_verify_cached(crypto_key_cache *c, const uint8_t sig[CRYPTO_SIG_SIZE],
                          const uint8_t msg32[32], const uint8_t pubkey[CRYPTO_PUBKEY_SIZE])
{
    unsigned i = ((unsigned)pubkey[30] << 8 | pubkey[31]) % CRYPTO_KEY_CACHE_SLOTS;
    secp256k1_xonly_pubkey xpk;
    if (c->slot[i].used && memcmp(c->slot[i].pubkey, pubkey, CRYPTO_PUBKEY_SIZE) == 0) {
        memcpy(xpk.data, c->slot[i].point, sizeof xpk.data);
    } else {
        if (!secp256k1_xonly_pubkey_parse(secp256k1_context_static, &xpk, pubkey))
            return false;
        memcpy(c->slot[i].pubkey, pubkey, CRYPTO_PUBKEY_SIZE);
        memcpy(c->slot[i].point, xpk.data, sizeof xpk.data);
        c->slot[i].used = true;
    }
    return secp256k1_schnorrsig_verify(secp256k1_context_static, sig, msg32, 32, &xpk) == 1;
}

/* The field prime p = 2^256 - 2^32 - 977, least significant limb first. */
static const mp_limb_t field_p[4] = {0xFFFFFFFEFFFFFC2Full, ~(mp_limb_t)0, ~(mp_limb_t)0,
                                     ~(mp_limb_t)0};

/* r = a * b mod p (a, b < p; 4 limbs each). */
static void field_mul(mp_limb_t r[4], const mp_limb_t a[4], const mp_limb_t b[4])
{
    mp_limb_t t[8], q[5];
    mpn_mul_n(t, a, b, 4);
    mpn_tdiv_qr(q, r, 0, t, 8, field_p, 4);
}

/* A point with x-coordinate x exists when x < p and x^3 + 7 is a square mod p (BIP-340's
 * lift_x). libsecp256k1's parse answers that with a square root, about 9 us; GMP's Jacobi
 * symbol (p is prime, so it is the Legendre symbol) answers it in about a third of that, and
 * a ledger checks the key of every account it creates. test_crypto compares the two. */
bool crypto_pubkey_valid(const uint8_t pubkey[CRYPTO_PUBKEY_SIZE])
{
    mp_limb_t x[4], y[4];
    for (int i = 0; i < 4; i++) {
        x[i] = 0;
        for (int j = 0; j < 8; j++)
            x[i] = x[i] << 8 | pubkey[(3 - i) * 8 + j];
    }
    if (mpn_cmp(x, field_p, 4) >= 0)
        return false;
    field_mul(y, x, x);
    field_mul(y, y, x);
    if (mpn_add_1(y, y, 4, 7) != 0 || mpn_cmp(y, field_p, 4) >= 0)
        mpn_sub_n(y, y, field_p, 4); /* y + 7 < 2p: one subtraction, the carry cancels */
    mpz_t c, pz;
    return mpz_jacobi(mpz_roinit_n(c, y, 4), mpz_roinit_n(pz, field_p, 4)) >= 0;
}

void crypto_wipe(void *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}
