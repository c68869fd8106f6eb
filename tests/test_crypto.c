/* test_crypto.c - keys, BIP-340 sign/verify against the published vectors, tagged hash, wipe */
#include <stdlib.h>
#include <string.h>
#include <secp256k1.h> /* the reference for the tagged-hash and key-check cross-checks */
#include <secp256k1_extrakeys.h>

#include "crypto.h"
#include "crypto_curve.h"
#include "test_util.h"

/* Parse hex into exactly n bytes; aborts on a malformed literal (a mistake in this file). */
static void hex(uint8_t *out, size_t n, const char *s)
{
    if (strlen(s) != 2 * n)
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = s[2 * i + (size_t)j];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16;
            if (d == 16)
                abort();
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
}

/* BIP-340 test vectors, bitcoin/bips bip-0340/test-vectors.csv (final version, even-y R).
 * seckey and aux are empty for verification-only vectors. */
typedef struct vector {
    int index;
    const char *seckey, *pubkey, *aux, *msg, *sig;
    bool valid;
} vector;

static const vector vectors[] = {
    {0, "0000000000000000000000000000000000000000000000000000000000000003",
     "F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA8215"
     "25F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0",
     true},
    {1, "B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF",
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE3341"
     "8906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A",
     true},
    {2, "C90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B14E5C9",
     "DD308AFEC5777E13121FA72B9CC1B7CC0139715309B086C960E18FD969774EB8",
     "C87AA53824B4D7AE2EB035A2B5BBBCCC080E76CDC6D1692C4B0B62D798E6D906",
     "7E2D58D8B3BCDF1ABADEC7829054F90DDA9805AAB56C77333024B9D0A508B75C",
     "5831AAEED7B44BB74E5EAB94BA9D4294C49BCF2A60728D8B4C200F50DD313C1B"
     "AB745879A5AD954A72C45A91C3A51D3C7ADEA98D82F8481E0E1E03674A6F3FB7",
     true},
    {3, "0B432B2677937381AEF05BB02A66ECD012773062CF3FA2549E44F58ED2401710",
     "25D1DFF95105F5253C4022F628A996AD3A0D95FBF21D468A1B33F8C160D8F517",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
     "7EB0509757E246F19449885651611CB965ECC1A187DD51B64FDA1EDC9637D5EC"
     "97582B9CB13DB3933705B32BA982AF5AF25FD78881EBB32771FC5922EFC66EA3",
     true},
    {4, "", "D69C3509BB99E412E68B0FE8544E72837DFA30746D8BE2AA65975F29D22DC7B9", "",
     "4DF3C3F68FCC83B27E9D42C90431A72499F17875C81A599B566C9889B9696703",
     "00000000000000000000003B78CE563F89A0ED9414F5AA28AD0D96D6795F9C63"
     "76AFB1548AF603B3EB45C9F8207DEE1060CB71C04E80F593060B07D28308D7F4",
     true},
    /* public key not on the curve */
    {5, "", "EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false},
    /* has_even_y(R) is false */
    {6, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "FFF97BD5755EEEA420453A14355235D382F6472F8568A18B2F057A1460297556"
     "3CC27944640AC607CD107AE10923D9EF7A73C643E166BE5EBEAFA34B1AC553E2",
     false},
    /* negated message */
    {7, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "1FA62E331EDBC21C394792D2AB1100A7B432B013DF3F6FF4F99FCB33E0E1515F"
     "28890B3EDB6E7189B630448B515CE4F8622A954CFE545735AAEA5134FCCDB2BD",
     false},
    /* negated s value */
    {8, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "961764B3AA9B2FFCB6EF947B6887A226E8D7C93E00C5ED0C1834FF0D0C2E6DA6",
     false},
    /* sG - eP is infinite (x(inf) as 0) */
    {9, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "0000000000000000000000000000000000000000000000000000000000000000"
     "123DDA8328AF9C23A94C1FEECFD123BA4FB73476F0D594DCB65C6425BD186051",
     false},
    /* sG - eP is infinite (x(inf) as 1) */
    {10, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "0000000000000000000000000000000000000000000000000000000000000001"
     "7615FBAF5AE28864013C099742DEADB4DBA87F11AC6754F93780D5A1837CF197",
     false},
    /* sig[0:32] is not an X coordinate on the curve */
    {11, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "4A298DACAE57395A15D0795DDBFD1DCB564DA82B0F269BC70A74F8220429BA1D"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false},
    /* sig[0:32] is equal to field size */
    {12, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false},
    /* sig[32:64] is equal to curve order */
    {13, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
     false},
    /* public key is not a valid X coordinate because it exceeds the field size */
    {14, "", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC30", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false},
};

static void test_bip340_vectors(void)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const vector *v = &vectors[i];
        uint8_t pub[32], msg[32], sig[64];
        int failures = test_failures;
        hex(pub, 32, v->pubkey);
        hex(msg, 32, v->msg);
        hex(sig, 64, v->sig);
        CHECK(crypto_verify(sig, msg, pub) == v->valid);
        if (v->index == 5 || v->index == 14)
            CHECK(!crypto_pubkey_valid(pub));
        else
            CHECK(crypto_pubkey_valid(pub));
        if (v->seckey[0] != '\0') {
            uint8_t sec[32], aux[32], derived[32], made[64];
            hex(sec, 32, v->seckey);
            hex(aux, 32, v->aux);
            CHECK(crypto_pubkey(derived, sec) == 0);
            CHECK(memcmp(derived, pub, 32) == 0);
            CHECK(crypto_sign_aux(made, msg, sec, aux) == 0);
            CHECK(memcmp(made, sig, 64) == 0);
            CHECK(crypto_verify(made, msg, pub));
        }
        if (test_failures != failures)
            fprintf(stderr, "  (BIP-340 vector %d)\n", v->index);
    }
    /* aux32 NULL means all-zero aux: vector 0 again. */
    {
        uint8_t sec[32], msg[32] = {0}, sig[64], want[64];
        hex(sec, 32, vectors[0].seckey);
        hex(want, 64, vectors[0].sig);
        CHECK(crypto_sign_aux(sig, msg, sec, NULL) == 0);
        CHECK(memcmp(sig, want, 64) == 0);
    }
}

static void test_keys_and_signatures(void)
{
    uint8_t sec[32], pub[32], pub2[32], msg[32], sig[64], bad[64];
    for (int round = 0; round < 4; round++) {
        CHECK(crypto_keygen(sec, pub) == 0);
        CHECK(crypto_pubkey_valid(pub));
        CHECK(crypto_pubkey(pub2, sec) == 0);
        CHECK(memcmp(pub, pub2, 32) == 0);
        for (int i = 0; i < 32; i++)
            msg[i] = (uint8_t)(i * 7 + round);
        CHECK(crypto_sign(sig, msg, sec) == 0);
        CHECK(crypto_verify(sig, msg, pub));
        /* A flipped bit anywhere in the message or the signature breaks it. */
        for (int bit = 0; bit < 256; bit += 37) {
            msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            CHECK(!crypto_verify(sig, msg, pub));
            msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        for (int bit = 0; bit < 512; bit += 41) {
            memcpy(bad, sig, 64);
            bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            CHECK(!crypto_verify(bad, msg, pub));
        }
        memcpy(bad, sig, 64);
        bad[63] ^= 0x80;
        CHECK(!crypto_verify(bad, msg, pub));
        CHECK(crypto_verify(sig, msg, pub));
        /* Another key does not verify it. */
        {
            uint8_t sec_b[32], pub_b[32];
            CHECK(crypto_keygen(sec_b, pub_b) == 0);
            CHECK(memcmp(pub_b, pub, 32) != 0);
            CHECK(!crypto_verify(sig, msg, pub_b));
            crypto_wipe(sec_b, sizeof sec_b);
        }
        /* Fresh aux randomness: two signatures differ, both verify. */
        CHECK(crypto_sign(bad, msg, sec) == 0);
        CHECK(memcmp(bad, sig, 64) != 0);
        CHECK(crypto_verify(bad, msg, pub));
        /* crypto_sign_aux is deterministic. */
        {
            uint8_t aux[32], s1[64], s2[64];
            memset(aux, 0x5a, sizeof aux);
            CHECK(crypto_sign_aux(s1, msg, sec, aux) == 0);
            CHECK(crypto_sign_aux(s2, msg, sec, aux) == 0);
            CHECK(memcmp(s1, s2, 64) == 0);
            CHECK(crypto_verify(s1, msg, pub));
        }
    }
    crypto_wipe(sec, sizeof sec);
}

static void test_invalid_keys(void)
{
    uint8_t sec[32], pub[32], msg[32] = {1}, sig[64];
    /* Zero is not a secret key. */
    memset(sec, 0, sizeof sec);
    CHECK(crypto_pubkey(pub, sec) == -1);
    CHECK(crypto_sign_aux(sig, msg, sec, NULL) == -1);
    CHECK(crypto_sign(sig, msg, sec) == -1);
    /* Neither is the group order n, nor n + 1, nor 2^256 - 1. */
    hex(sec, 32, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
    CHECK(crypto_pubkey(pub, sec) == -1);
    CHECK(crypto_sign_aux(sig, msg, sec, NULL) == -1);
    hex(sec, 32, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364142");
    CHECK(crypto_pubkey(pub, sec) == -1);
    memset(sec, 0xff, sizeof sec);
    CHECK(crypto_pubkey(pub, sec) == -1);
    /* n - 1 and 1 are valid; 1 gives the generator's x coordinate. */
    hex(sec, 32, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140");
    CHECK(crypto_pubkey(pub, sec) == 0);
    {
        uint8_t g[32];
        hex(g, 32, "79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798");
        CHECK(memcmp(pub, g, 32) == 0); /* -G has the same x coordinate as G */
        memset(sec, 0, sizeof sec);
        sec[31] = 1;
        CHECK(crypto_pubkey(pub, sec) == 0);
        CHECK(memcmp(pub, g, 32) == 0);
    }

    /* x = 0: y^2 = 7, not a square mod p.  x = 1: y^2 = 8, a square.  x = 5: y^2 = 132, not a
     * square.  2^256 - 1 and p itself exceed the field. */
    uint8_t x[32];
    memset(x, 0, sizeof x);
    CHECK(!crypto_pubkey_valid(x));
    x[31] = 1;
    CHECK(crypto_pubkey_valid(x));
    x[31] = 5;
    CHECK(!crypto_pubkey_valid(x));
    memset(x, 0xff, sizeof x);
    CHECK(!crypto_pubkey_valid(x));
    hex(x, 32, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F");
    CHECK(!crypto_pubkey_valid(x));
    /* A signature cannot verify under an invalid key. */
    memset(x, 0, sizeof x);
    memset(sig, 0, sizeof sig);
    CHECK(!crypto_verify(sig, msg, x));
}

/* crypto_pubkey_valid (GMP's Jacobi symbol) agrees with libsecp256k1's x-only parse on random
 * x, on the 256 values either side of p, the 256 below 2^256 and the 256 smallest. */
static void test_pubkey_valid_matches_parse(uint64_t seed)
{
    test_rng r;
    test_rng_seed(&r, seed);
    uint8_t x[32];
    int valid = 0;
    const int n = 20000;
    for (int i = 0; i < n + 4 * 256; i++) {
        if (i < n) {
            test_rng_fill(&r, x, sizeof x);
        } else {
            int k = (i - n) % 256, band = (i - n) / 256;
            hex(x, 32, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F");
            if (band == 0) { /* p - 1 - k .. */
                x[31] = (uint8_t)(0x2F - 1 - k);
                x[30] = k >= 0x2F ? 0xFB : 0xFC;
            } else if (band == 1) { /* p + k */
                x[31] = (uint8_t)(0x2F + k);
                x[30] = k + 0x2F > 0xff ? 0xFD : 0xFC;
            } else if (band == 2) { /* 2^256 - 1 - k */
                memset(x, 0xff, sizeof x);
                x[31] = (uint8_t)(0xff - k);
            } else { /* k */
                memset(x, 0, sizeof x);
                x[31] = (uint8_t)k;
            }
        }
        secp256k1_xonly_pubkey xpk;
        bool ref = secp256k1_xonly_pubkey_parse(secp256k1_context_static, &xpk, x) == 1;
        CHECK(crypto_pubkey_valid(x) == ref);
        valid += i < n && ref;
    }
    CHECK(valid > n * 45 / 100 && valid < n * 55 / 100); /* about half of all x are valid */
}

/* crypto_verify_cached answers as crypto_verify: good and bad signatures, keys that share a
 * slot (each evicting the other), an invalid key (never cached), a key seen again. */
static void test_verify_cached(uint64_t seed)
{
    enum { KEYS = 160 };
    test_rng r;
    test_rng_seed(&r, seed);
    static crypto_key_cache cache;
    memset(&cache, 0, sizeof cache);
    uint8_t sec[KEYS][32], pub[KEYS][32];
    int a = -1, b = -1; /* two keys of one slot */
    for (int i = 0; i < KEYS; i++) {
        CHECK(crypto_keygen(sec[i], pub[i]) == 0);
        for (int j = 0; j < i && a < 0; j++)
            if (((unsigned)pub[i][30] << 8 | pub[i][31]) % CRYPTO_KEY_CACHE_SLOTS ==
                ((unsigned)pub[j][30] << 8 | pub[j][31]) % CRYPTO_KEY_CACHE_SLOTS)
                a = j, b = i;
    }
    CHECK(a >= 0); /* 160 keys in 1024 slots: no pair about 4 times in a million */
    for (int round = 0; round < 2000; round++) {
        int k = round % 3 == 0 && a >= 0 ? (round % 2 ? a : b) : (int)test_rng_below(&r, KEYS);
        int signer = test_rng_below(&r, 4) == 0 ? (int)test_rng_below(&r, KEYS) : k;
        uint8_t msg[32], sig[64];
        test_rng_fill(&r, msg, sizeof msg);
        CHECK(crypto_sign(sig, msg, sec[signer]) == 0);
        if (test_rng_below(&r, 4) == 0)
            sig[test_rng_below(&r, 64)] ^= (uint8_t)(1 + test_rng_below(&r, 255));
        CHECK(crypto_verify_cached(&cache, sig, msg, pub[k]) == crypto_verify(sig, msg, pub[k]));
    }
    /* a signature by a under b's key fails, whichever of them the slot holds */
    uint8_t msg[32] = {9}, sig[64];
    CHECK(crypto_sign(sig, msg, sec[a]) == 0);
    CHECK(crypto_verify_cached(&cache, sig, msg, pub[a]));
    CHECK(!crypto_verify_cached(&cache, sig, msg, pub[b]));
    CHECK(!crypto_verify_cached(&cache, sig, msg, pub[b]));
    CHECK(crypto_verify_cached(&cache, sig, msg, pub[a]));
    uint8_t bad[32] = {0}; /* x = 0: not a key */
    CHECK(!crypto_verify_cached(&cache, sig, msg, bad));
    CHECK(!crypto_verify_cached(&cache, sig, msg, bad));
}

static void test_tagged_hash(void)
{
    uint8_t h1[32], h2[32], want[32];
    /* libsecp256k1's own static vector (src/tests.c, run_tagged_sha256_tests). */
    hex(want, 32, "047A5E17B58647C13CC6EBC0AA583B62FB1643326877406CE276559A3BDE55B3");
    crypto_tagged_hash(h1, "tag", 3, "msg", 3);
    CHECK(memcmp(h1, want, 32) == 0);
    /* Deterministic; differs with the tag, the message, and the tag/message boundary. */
    crypto_tagged_hash(h2, "tag", 3, "msg", 3);
    CHECK(memcmp(h1, h2, 32) == 0);
    crypto_tagged_hash(h2, "tah", 3, "msg", 3);
    CHECK(memcmp(h1, h2, 32) != 0);
    crypto_tagged_hash(h2, "tag", 3, "msh", 3);
    CHECK(memcmp(h1, h2, 32) != 0);
    crypto_tagged_hash(h2, "tagm", 4, "sg", 2);
    CHECK(memcmp(h1, h2, 32) != 0);
    crypto_tagged_hash(h2, "tag", 3, "msg", 2);
    CHECK(memcmp(h1, h2, 32) != 0);
    /* Empty message (NULL allowed when len is 0) and empty tag. */
    crypto_tagged_hash(h1, "tag", 3, NULL, 0);
    crypto_tagged_hash(h2, "tag", 3, "", 0);
    CHECK(memcmp(h1, h2, 32) == 0);
    crypto_tagged_hash(h2, "", 0, NULL, 0);
    CHECK(memcmp(h1, h2, 32) != 0);
    crypto_tagged_hash(h1, NULL, 0, NULL, 0);
    CHECK(memcmp(h1, h2, 32) == 0);
}

/* Prepared tags and hashing in parts give exactly libsecp256k1's tagged SHA-256 (the reference
 * the protocol was defined with), at every length across the 64-byte block boundaries and
 * every split of the message. */
static void test_tag_midstate(void)
{
    uint8_t msg[300], a[32], b[32], c[32];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 37 + 11);
    const char *tags[] = {"", "lstd/state/v1", "lstd/tx/v1/lstd-dev-0123abcd",
                          "a tag longer than one SHA-256 block of sixty-four bytes, for the test"};
    for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
        crypto_tag tag;
        size_t tl = strlen(tags[t]);
        crypto_tag_init(&tag, tags[t], tl);
        for (size_t len = 0; len <= sizeof msg; len += len < 140 ? 1 : 37) {
            CHECK(secp256k1_tagged_sha256(secp256k1_context_static, a,
                                          (const uint8_t *)(tl ? tags[t] : "x"), tl, msg,
                                          len) == 1);
            crypto_tag_hash(b, &tag, msg, len);
            CHECK(memcmp(a, b, 32) == 0);
            size_t cut = len / 3, cut2 = len - len / 5;
            crypto_part parts[3] = {{msg, cut}, {msg + cut, cut2 - cut}, {msg + cut2, len - cut2}};
            crypto_tag_hashv(c, &tag, parts, 3);
            CHECK(memcmp(a, c, 32) == 0);
        }
    }
}

static void test_wipe(void)
{
    uint8_t buf[67];
    static const uint8_t zero[67];
    memset(buf, 0xa5, sizeof buf);
    crypto_wipe(buf + 1, 65);
    CHECK(buf[0] == 0xa5);
    CHECK(memcmp(buf + 1, zero, 65) == 0);
    CHECK(buf[66] == 0xa5);
    crypto_wipe(buf, 0);
    CHECK(buf[0] == 0xa5);
}

/* CurveZMQ's boxes: a box sealed by one side opens on the other, in place too; any flipped
 * byte, another nonce or another key does not open and leaves the output untouched. */
static void test_curve_boxes(void)
{
    uint8_t apk[32], ask[32], bpk[32], bsk[32], ab[32], ba[32], derived[32], nonce[24] = {1};
    CHECK(crypto_curve_keypair(apk, ask) == 0 && crypto_curve_keypair(bpk, bsk) == 0);
    CHECK(memcmp(apk, bpk, 32) != 0);
    CHECK(crypto_curve_public(derived, ask) == 0 && memcmp(derived, apk, 32) == 0);
    CHECK(crypto_curve_shared(ab, bpk, ask) == 0 && crypto_curve_shared(ba, apk, bsk) == 0);
    CHECK(memcmp(ab, ba, 32) == 0);
    static const uint8_t zero[32];
    CHECK(crypto_curve_shared(derived, zero, ask) == -1); /* a weak point: refused */
    uint8_t msg[40], box[40 + CRYPTO_CURVE_MAC_SIZE], out[40];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    CHECK(crypto_curve_seal(box, msg, sizeof msg, nonce, ab) == 0);
    CHECK(crypto_curve_open(out, box, sizeof box, nonce, ba) == 0 && memcmp(out, msg, 40) == 0);
    for (size_t i = 0; i < sizeof box; i++) {
        box[i] ^= 0x20;
        memset(out, 0xee, sizeof out);
        CHECK(crypto_curve_open(out, box, sizeof box, nonce, ba) == -1);
        CHECK(out[0] == 0xee && out[39] == 0xee);
        box[i] ^= 0x20;
    }
    nonce[23] = 9;
    CHECK(crypto_curve_open(out, box, sizeof box, nonce, ba) == -1);
    nonce[23] = 0;
    CHECK(crypto_curve_open(out, box, CRYPTO_CURVE_MAC_SIZE - 1, nonce, ba) == -1);
    /* in place: the message right after the MAC's room, opened back over the box's start */
    uint8_t buf[40 + CRYPTO_CURVE_MAC_SIZE];
    memcpy(buf + CRYPTO_CURVE_MAC_SIZE, msg, sizeof msg);
    CHECK(crypto_curve_seal(buf, buf + CRYPTO_CURVE_MAC_SIZE, sizeof msg, nonce, ab) == 0);
    CHECK(memcmp(buf, box, sizeof box) == 0);
    CHECK(crypto_curve_open(buf, buf, sizeof buf, nonce, ba) == 0 && memcmp(buf, msg, 40) == 0);
    /* secret boxes (the cookie): only the same key opens */
    uint8_t key[32], other[32];
    CHECK(crypto_curve_random(key, 32) == 0 && crypto_curve_random(other, 32) == 0);
    CHECK(memcmp(key, other, 32) != 0);
    CHECK(crypto_curve_secret_seal(box, msg, sizeof msg, nonce, key) == 0);
    CHECK(crypto_curve_secret_open(out, box, sizeof box, nonce, key) == 0);
    CHECK(memcmp(out, msg, 40) == 0);
    CHECK(crypto_curve_secret_open(out, box, sizeof box, nonce, other) == -1);
    CHECK(crypto_curve_equal(key, key, 32) && !crypto_curve_equal(key, other, 32));
    crypto_wipe(ask, 32);
    crypto_wipe(bsk, 32);
}

int main(void)
{
    test_curve_boxes();
    test_bip340_vectors();
    test_keys_and_signatures();
    test_invalid_keys();
    test_pubkey_valid_matches_parse(test_seed());
    test_verify_cached(test_seed());
    test_tagged_hash();
    test_tag_midstate();
    test_wipe();
    return test_finish("test_crypto");
}
