/* test_math.c - checked add/sub and the 128- and 192-bit mul-div helpers against references */
#include <string.h>

#include "ledger_math.h"
#include "test_util.h"

typedef math_u128 u128;

#define U128(hi, lo) (((u128)(uint64_t)(hi) << 64) | (uint64_t)(lo))

/* ---- a small independent reference: little-endian 32-bit limbs, 256 bits ---------------- */

#define LIMBS 8

typedef struct big {
    uint32_t w[LIMBS];
} big;

static big big_from_u128(u128 v)
{
    big b;
    for (int i = 0; i < LIMBS; i++) {
        b.w[i] = (uint32_t)v;
        v = i < 3 ? v >> 32 : 0;
    }
    return b;
}

/* Schoolbook product, one 32x32 -> 64 partial product at a time (truncated to 256 bits,
 * which no caller reaches: operands are at most 128 + 64 bits and 128 + 65 bits). */
static big big_mul(const big *a, const big *b)
{
    big r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < LIMBS; i++) {
        uint64_t carry = 0;
        for (int j = 0; i + j < LIMBS; j++) {
            uint64_t t = (uint64_t)a->w[i] * b->w[j] + r.w[i + j] + carry;
            r.w[i + j] = (uint32_t)t;
            carry = t >> 32;
        }
    }
    return r;
}

static int big_cmp(const big *a, const big *b)
{
    for (int i = LIMBS - 1; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

/* Check the wide helper's answer for (x, y, d) against the definition of floor division:
 * on success q*d <= x*y < (q+1)*d; on failure d == 0 or x*y >= 2^64 * d. */
static void check_wide(u128 x, uint64_t y, u128 d, uint64_t seed, int iter)
{
    uint64_t q = 0xdeadbeef;
    bool ok = math_mul_div_floor_wide(&q, x, y, d);
    big bx = big_from_u128(x), by = big_from_u128(y), bd = big_from_u128(d);
    big p = big_mul(&bx, &by);
    bool good;
    if (d == 0) {
        good = !ok;
    } else if (!ok) {
        big two64 = big_from_u128((u128)1 << 64);
        big lim = big_mul(&two64, &bd);
        good = big_cmp(&p, &lim) >= 0;
    } else {
        big bq = big_from_u128(q), bq1 = big_from_u128((u128)q + 1);
        big lo = big_mul(&bq, &bd), hi = big_mul(&bq1, &bd);
        good = big_cmp(&lo, &p) <= 0 && big_cmp(&p, &hi) < 0;
    }
    if (!good) {
        fprintf(stderr,
                "wide mismatch (seed %" PRIu64 ", iter %d): x=%016" PRIx64 "%016" PRIx64
                " y=%016" PRIx64 " d=%016" PRIx64 "%016" PRIx64 " -> ok=%d q=%" PRIu64 "\n",
                seed, iter, (uint64_t)(x >> 64), (uint64_t)x, y, (uint64_t)(d >> 64), (uint64_t)d,
                ok, q);
        test_failures++;
    }
}

/* A random value of exactly `bits` significant bits (0 gives 0). */
static u128 rand_bits(test_rng *r, unsigned bits)
{
    if (bits == 0)
        return 0;
    u128 v = U128(test_rng_next(r), test_rng_next(r));
    if (bits < 128)
        v &= ((u128)1 << bits) - 1;
    return v | (u128)1 << (bits - 1);
}

/* ---- add / sub ------------------------------------------------------------------------ */

static void test_add_sub(void)
{
    uint64_t v = 0;
    CHECK(math_add(&v, 1, 2));
    CHECK_U64(v, 3);
    CHECK(math_add(&v, UINT64_MAX, 0));
    CHECK_U64(v, UINT64_MAX);
    CHECK(math_add(&v, UINT64_MAX - 1, 1));
    CHECK_U64(v, UINT64_MAX);
    CHECK(!math_add(&v, UINT64_MAX, 1));
    CHECK(!math_add(&v, 1, UINT64_MAX));
    CHECK(!math_add(&v, UINT64_MAX, UINT64_MAX));
    CHECK(!math_add(&v, (uint64_t)1 << 63, (uint64_t)1 << 63));

    CHECK(math_sub(&v, 5, 3));
    CHECK_U64(v, 2);
    CHECK(math_sub(&v, 3, 3));
    CHECK_U64(v, 0);
    CHECK(math_sub(&v, UINT64_MAX, UINT64_MAX));
    CHECK_U64(v, 0);
    CHECK(math_sub(&v, UINT64_MAX, 0));
    CHECK_U64(v, UINT64_MAX);
    CHECK(!math_sub(&v, 0, 1));
    CHECK(!math_sub(&v, 3, 4));
    CHECK(!math_sub(&v, UINT64_MAX - 1, UINT64_MAX));
    CHECK(!math_sub(&v, 0, UINT64_MAX));
}

/* ---- 128-bit mul-div ------------------------------------------------------------------ */

static void test_mul_div_fixed(void)
{
    uint64_t v = 0;
    /* Exact division: floor and ceil agree. */
    CHECK(math_mul_div_floor(&v, 6, 7, 3));
    CHECK_U64(v, 14);
    CHECK(math_mul_div_ceil(&v, 6, 7, 3));
    CHECK_U64(v, 14);
    /* 21 / 2 = 10.5: floor rounds down, ceil rounds up. */
    CHECK(math_mul_div_floor(&v, 7, 3, 2));
    CHECK_U64(v, 10);
    CHECK(math_mul_div_ceil(&v, 7, 3, 2));
    CHECK_U64(v, 11);
    /* 1 / 3 */
    CHECK(math_mul_div_floor(&v, 1, 1, 3));
    CHECK_U64(v, 0);
    CHECK(math_mul_div_ceil(&v, 1, 1, 3));
    CHECK_U64(v, 1);
    /* Zero numerator. */
    CHECK(math_mul_div_floor(&v, 0, UINT64_MAX, 7));
    CHECK_U64(v, 0);
    CHECK(math_mul_div_ceil(&v, UINT64_MAX, 0, 7));
    CHECK_U64(v, 0);
    /* c == 0 */
    CHECK(!math_mul_div_floor(&v, 1, 1, 0));
    CHECK(!math_mul_div_ceil(&v, 1, 1, 0));
    CHECK(!math_mul_div_floor(&v, 0, 0, 0));
    CHECK(!math_mul_div_ceil(&v, 0, 0, 0));
    /* Full 128-bit intermediate. */
    CHECK(math_mul_div_floor(&v, UINT64_MAX, UINT64_MAX, UINT64_MAX));
    CHECK_U64(v, UINT64_MAX);
    CHECK(math_mul_div_ceil(&v, UINT64_MAX, UINT64_MAX, UINT64_MAX));
    CHECK_U64(v, UINT64_MAX);
    /* (2^64-1)^2 / (2^64-2) = 2^64 + 1/(2^64-2): quotient too big for both. */
    CHECK(!math_mul_div_floor(&v, UINT64_MAX, UINT64_MAX, UINT64_MAX - 1));
    CHECK(!math_mul_div_ceil(&v, UINT64_MAX, UINT64_MAX, UINT64_MAX - 1));
    CHECK(!math_mul_div_floor(&v, UINT64_MAX, UINT64_MAX, 1));
    /* Exactly 2^64: one past the edge. */
    CHECK(!math_mul_div_floor(&v, (uint64_t)1 << 63, 4, 2));
    CHECK(!math_mul_div_ceil(&v, (uint64_t)1 << 63, 4, 2));
    CHECK(math_mul_div_floor(&v, UINT64_MAX, 2, 2));
    CHECK_U64(v, UINT64_MAX);
    /* floor(a*b/c) = 2^64-1 with a remainder: floor fits, ceil would be 2^64. */
    {
        uint64_t a = 0x9e2feb89414c343cu, b = 0x74a558ada06a82a5u, c = 0x4813e268c386bbc4u;
        CHECK(math_mul_div_floor(&v, a, b, c));
        CHECK_U64(v, UINT64_MAX);
        CHECK(!math_mul_div_ceil(&v, a, b, c));
    }
    /* 10^18 * 10^18 / 10^18 with a 128-bit intermediate. */
    CHECK(math_mul_div_floor(&v, 1000000000000000000u, 1000000000000000000u, 1000000000000000000u));
    CHECK_U64(v, 1000000000000000000u);
    /* 2^64-1 * 3 / 2 = 1.5 * (2^64 - 1) > 2^64. */
    CHECK(!math_mul_div_floor(&v, UINT64_MAX, 3, 2));
}

static void test_mul_div_random(test_rng *r, uint64_t seed, uint64_t iters)
{
    for (uint64_t i = 0; i < iters; i++) {
        uint64_t a = test_rng_next(r) >> test_rng_below(r, 64);
        uint64_t b = test_rng_next(r) >> test_rng_below(r, 64);
        uint64_t c = test_rng_next(r) >> test_rng_below(r, 64);
        uint64_t f = 0, g = 0;
        bool okf = math_mul_div_floor(&f, a, b, c), okc = math_mul_div_ceil(&g, a, b, c);
        bool bad = false;
        if (c == 0) {
            bad = okf || okc;
        } else {
            u128 p = (u128)a * b, qf = p / c, rem = p % c, qc = qf + (rem != 0);
            bad = okf != (qf <= UINT64_MAX) || okc != (qc <= UINT64_MAX) ||
                  (okf && f != (uint64_t)qf) || (okc && g != (uint64_t)qc);
            /* The rounding direction, stated independently: f*c <= a*b <= g*c. */
            if (okf && (u128)f * c > p)
                bad = true;
            if (okc && (u128)g * c < p)
                bad = true;
        }
        if (bad) {
            fprintf(stderr,
                    "mul_div mismatch (seed %" PRIu64 "): a=%" PRIu64 " b=%" PRIu64 " c=%" PRIu64
                    "\n",
                    seed, a, b, c);
            test_failures++;
        }
    }
}

/* ---- 192-bit mul-div ------------------------------------------------------------------ */

static void test_wide_fixed(void)
{
    uint64_t v = 0;
    u128 max128 = ~(u128)0;
    CHECK(!math_mul_div_floor_wide(&v, 1, 1, 0));
    CHECK(!math_mul_div_floor_wide(&v, 0, 0, 0));
    CHECK(!math_mul_div_floor_wide(&v, max128, UINT64_MAX, 0));
    /* d == 1: the product itself, if it fits. */
    CHECK(math_mul_div_floor_wide(&v, 12345, 1000, 1));
    CHECK_U64(v, 12345000);
    CHECK(math_mul_div_floor_wide(&v, UINT64_MAX, 1, 1));
    CHECK_U64(v, UINT64_MAX);
    CHECK(math_mul_div_floor_wide(&v, (u128)1 << 32, ((uint64_t)1 << 32) - 1, 1));
    CHECK_U64(v, UINT64_MAX - ((uint64_t)1 << 32) + 1);
    CHECK(!math_mul_div_floor_wide(&v, (u128)1 << 64, 1, 1));
    CHECK(!math_mul_div_floor_wide(&v, (u128)1 << 32, (uint64_t)1 << 32, 1));
    CHECK(!math_mul_div_floor_wide(&v, UINT64_MAX, 2, 1));
    CHECK(!math_mul_div_floor_wide(&v, max128, UINT64_MAX, 1));
    /* Zero numerator. */
    CHECK(math_mul_div_floor_wide(&v, 0, UINT64_MAX, 1));
    CHECK_U64(v, 0);
    CHECK(math_mul_div_floor_wide(&v, max128, 0, 3));
    CHECK_U64(v, 0);
    /* d greater than the product: 0. */
    CHECK(math_mul_div_floor_wide(&v, 3, 5, 16));
    CHECK_U64(v, 0);
    CHECK(math_mul_div_floor_wide(&v, (u128)1 << 100, 7, max128));
    CHECK_U64(v, 0);
    CHECK(math_mul_div_floor_wide(&v, max128, 1, max128));
    CHECK_U64(v, 1);
    /* Rounding: 21 / 2 = 10. */
    CHECK(math_mul_div_floor_wide(&v, 7, 3, 2));
    CHECK_U64(v, 10);
    /* x around 2^127: 2^127 * 2^63 / 2^127 = 2^63;  (2^127 - 1) * 2 / 2^64 = 2^64 - 1 (floor). */
    CHECK(math_mul_div_floor_wide(&v, (u128)1 << 127, (uint64_t)1 << 63, (u128)1 << 127));
    CHECK_U64(v, (uint64_t)1 << 63);
    CHECK(math_mul_div_floor_wide(&v, ((u128)1 << 127) - 1, 2, (u128)1 << 64));
    CHECK_U64(v, UINT64_MAX);
    CHECK(!math_mul_div_floor_wide(&v, (u128)1 << 127, 2, (u128)1 << 64));
    /* 2^127 * (2^64-1) / 2^127 = 2^64-1: a 191-bit product. */
    CHECK(math_mul_div_floor_wide(&v, (u128)1 << 127, UINT64_MAX, (u128)1 << 127));
    CHECK_U64(v, UINT64_MAX);
    /* (2^128-1) * (2^64-1) / (2^128-1) = 2^64-1: the largest product, quotient fits. */
    CHECK(math_mul_div_floor_wide(&v, max128, UINT64_MAX, max128));
    CHECK_U64(v, UINT64_MAX);
    /* The same product P: over 2^128-2 the quotient still floors to 2^64-1; over
     * floor(P / 2^64) = 2^128 - 2^64 - 1 it is exactly 2^64 (too big), one more fits again. */
    CHECK(math_mul_div_floor_wide(&v, max128, UINT64_MAX, max128 - 1));
    CHECK_U64(v, UINT64_MAX);
    CHECK(!math_mul_div_floor_wide(&v, max128, UINT64_MAX, U128(UINT64_MAX - 1, UINT64_MAX)));
    CHECK(math_mul_div_floor_wide(&v, max128, UINT64_MAX, U128(UINT64_MAX, 0)));
    CHECK_U64(v, UINT64_MAX);
    /* Divisor with its top bit set (the remainder's shift carries out of 128 bits). */
    CHECK(math_mul_div_floor_wide(&v, max128, 3, ((u128)1 << 127) + 1));
    CHECK_U64(v, 5); /* 3*(2^128-1) / (2^127+1) = 5.99... */
    /* Agreement with the 128-bit helper where both apply. */
    CHECK(math_mul_div_floor_wide(&v, UINT64_MAX, UINT64_MAX, UINT64_MAX));
    CHECK_U64(v, UINT64_MAX);
    check_wide((u128)1 << 127, UINT64_MAX, 3, 0, -1);
    check_wide(max128, UINT64_MAX, (u128)UINT64_MAX << 64, 0, -1);
    check_wide(max128, UINT64_MAX, ((u128)UINT64_MAX << 64) - 1, 0, -1);
    check_wide(max128, UINT64_MAX, max128 >> 1, 0, -1);
}

static void test_wide_random(test_rng *r, uint64_t seed, uint64_t iters)
{
    for (uint64_t i = 0; i < iters; i++) {
        int it = (int)i;
        unsigned xb = (unsigned)test_rng_below(r, 129), yb = (unsigned)test_rng_below(r, 65);
        u128 x = rand_bits(r, xb);
        uint64_t y = (uint64_t)rand_bits(r, yb);
        unsigned pb = xb + yb; /* product has pb or pb-1 bits */
        u128 d;
        switch (test_rng_below(r, 3)) {
        case 0: /* any divisor */
            d = rand_bits(r, 1 + (unsigned)test_rng_below(r, 128));
            break;
        default: { /* a divisor that puts the quotient near 2^64 */
            int db = (int)pb - 64 + (int)test_rng_below(r, 5) - 2;
            d = rand_bits(r, db < 1 ? 1 : db > 128 ? 128 : (unsigned)db);
            break;
        }
        }
        check_wide(x, y, d, seed, it);
        /* Cross-check against the 128-bit helper where the inputs fit it. */
        if (x <= UINT64_MAX && d <= UINT64_MAX) {
            uint64_t a = 0, b = 0;
            bool oka = math_mul_div_floor_wide(&a, x, y, d);
            bool okb = math_mul_div_floor(&b, (uint64_t)x, y, (uint64_t)d);
            if (oka != okb || (oka && a != b)) {
                fprintf(stderr, "wide vs 128-bit mismatch (seed %" PRIu64 ", iter %d)\n", seed, it);
                test_failures++;
            }
        }
    }
}

int main(void)
{
    uint64_t seed = test_seed();
    uint64_t iters = test_env_u64("LSTD_MATH_ITERS", 100000);
    test_rng r;
    test_rng_seed(&r, seed);

    test_add_sub();
    test_mul_div_fixed();
    test_mul_div_random(&r, seed, iters);
    test_wide_fixed();
    test_wide_random(&r, seed, iters);
    return test_finish("test_math");
}
