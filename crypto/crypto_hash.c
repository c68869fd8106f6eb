/* crypto_hash.c - tagged SHA-256 on OpenSSL's libcrypto (SHA extensions), tag prefix absorbed once
 */
#include "crypto.h"

#include <string.h>

/* The SHA256_* interface is deprecated in OpenSSL 3 in favour of EVP, whose per-call context
 * handling costs more than hashing a 200-byte record; the plain interface is still provided,
 * uses the CPU's SHA extensions, and its context is a value we can copy as a midstate. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((crypto_tag *)0)->opaque),
               "crypto_tag must hold a SHA256_CTX");
_Static_assert(CRYPTO_HASH_SIZE == SHA256_DIGEST_LENGTH, "SHA-256 digest size");

void crypto_tag_init(crypto_tag *t, const void *tag, size_t taglen)
{
    uint8_t th[SHA256_DIGEST_LENGTH];
    SHA256_CTX c;
    SHA256_Init(&c);
    if (taglen > 0)
        SHA256_Update(&c, tag, taglen);
    SHA256_Final(th, &c);
    SHA256_Init(&c);
    SHA256_Update(&c, th, sizeof th);
    SHA256_Update(&c, th, sizeof th); /* one whole block: the midstate */
    memset(t, 0, sizeof *t);
    memcpy(t->opaque, &c, sizeof c);
}

void crypto_tag_hashv(uint8_t out[CRYPTO_HASH_SIZE], const crypto_tag *t, const crypto_part *parts,
                      size_t n)
{
    SHA256_CTX c;
    memcpy(&c, t->opaque, sizeof c);
    for (size_t i = 0; i < n; i++)
        if (parts[i].len > 0)
            SHA256_Update(&c, parts[i].data, parts[i].len);
    SHA256_Final(out, &c);
}

void crypto_tag_hash(uint8_t out[CRYPTO_HASH_SIZE], const crypto_tag *t, const void *msg,
                     size_t len)
{
    crypto_part part = {msg, len};
    crypto_tag_hashv(out, t, &part, 1);
}

void crypto_tagged_hash(uint8_t out[CRYPTO_HASH_SIZE], const void *tag, size_t taglen,
                        const void *msg, size_t len)
{
    crypto_tag t;
    crypto_tag_init(&t, tag, taglen);
    crypto_tag_hash(out, &t, msg, len);
}
