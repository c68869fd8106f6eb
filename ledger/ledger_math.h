/* ledger_math.h - checked integer arithmetic for amounts and shares; rounding named per helper */
#ifndef LSTD_LEDGER_MATH_H
#define LSTD_LEDGER_MATH_H

#include <stdbool.h>
#include <stdint.h>

/* 128-bit intermediates (GCC and Clang); __extension__ keeps -Wpedantic quiet. */
__extension__ typedef unsigned __int128 math_u128;

/** *out = a + b.  Returns: false on overflow (then *out is unspecified). */
static inline bool math_add(uint64_t *out, uint64_t a, uint64_t b)
{
    return !__builtin_add_overflow(a, b, out);
}

/** *out = a - b.  Returns: false if b > a. */
static inline bool math_sub(uint64_t *out, uint64_t a, uint64_t b)
{
    return !__builtin_sub_overflow(a, b, out);
}

/** *out = floor(a * b / c) with a 128-bit intermediate (rounds DOWN).
 *  Returns: false if c == 0 or the quotient exceeds 64 bits. */
bool math_mul_div_floor(uint64_t *out, uint64_t a, uint64_t b, uint64_t c);

/** *out = ceil(a * b / c) with a 128-bit intermediate (rounds UP).
 *  Returns: false if c == 0 or the quotient exceeds 64 bits. */
bool math_mul_div_ceil(uint64_t *out, uint64_t a, uint64_t b, uint64_t c);

/** *out = floor(x * y / d) for a 128-bit x and d with a 192-bit intermediate (rounds DOWN).
 *  Returns: false if d == 0 or the quotient exceeds 64 bits. */
bool math_mul_div_floor_wide(uint64_t *out, math_u128 x, uint64_t y, math_u128 d);

#endif
