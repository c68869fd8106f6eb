/* ledger_math.c - 128- and 192-bit mul-div with explicit rounding direction */
#include "ledger_math.h"

bool math_mul_div_floor(uint64_t *out, uint64_t a, uint64_t b, uint64_t c)
{
    if (c == 0)
        return false;
    math_u128 q = (math_u128)a * b / c;
    if (q > UINT64_MAX)
        return false;
    *out = (uint64_t)q;
    return true;
}

bool math_mul_div_ceil(uint64_t *out, uint64_t a, uint64_t b, uint64_t c)
{
    if (c == 0)
        return false;
    math_u128 p = (math_u128)a * b;
    math_u128 q = p / c + (p % c != 0);
    if (q > UINT64_MAX)
        return false;
    *out = (uint64_t)q;
    return true;
}

/* Schoolbook long division of a 192-bit numerator (hi:lo, hi < 2^64) by a 128-bit divisor,
 * one bit at a time. Used only by reward reports, so clarity beats speed here. */
bool math_mul_div_floor_wide(uint64_t *out, math_u128 x, uint64_t y, math_u128 d)
{
    if (d == 0)
        return false;
    math_u128 x_lo = (uint64_t)x, x_hi = x >> 64;
    math_u128 p0 = x_lo * y;              /* bits 0..127 */
    math_u128 p1 = x_hi * y + (p0 >> 64); /* bits 64..191 */
    math_u128 lo = (p1 << 64) | (uint64_t)p0;
    uint64_t hi = (uint64_t)(p1 >> 64);
    math_u128 rem = 0, quot = 0;
    for (int bit = 191; bit >= 0; bit--) {
        uint64_t in = bit >= 128 ? (hi >> (bit - 128)) & 1 : (uint64_t)(lo >> bit) & 1;
        bool carry = rem >> 127; /* rem << 1 would lose this bit: then rem >= d surely */
        rem = (rem << 1) | in;
        if (carry || rem >= d) {
            rem -= d;
            if (bit >= 64)
                return false; /* quotient bit at or above 2^64 */
            quot |= (math_u128)1 << bit;
        }
    }
    *out = (uint64_t)quot;
    return true;
}
