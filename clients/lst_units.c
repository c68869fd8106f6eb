/* lst_units.c - the one unit model (base units, tokens) and 32-byte references as text or hex */
#include "lst_client.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ledger.h"

#define DECIMALS_MAX 19 /* 10^19 < 2^64 <= 10^20 */

/* ---- amounts ----------------------------------------------------------------------------- */

enum digits_rc { DIGITS_OK, DIGITS_BAD, DIGITS_OVERFLOW };

/* n decimal digits (at least one) as a u64. Returns: enum digits_rc. */
static int parse_digits(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    bool overflow = false;
    if (n == 0)
        return DIGITS_BAD;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return DIGITS_BAD;
        overflow = overflow || __builtin_mul_overflow(v, 10u, &v) ||
                   __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v);
    }
    *out = v;
    return overflow ? DIGITS_OVERFLOW : DIGITS_OK;
}

static uint64_t pow10_u64(unsigned n)
{
    uint64_t p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* Describe a failure in why (may be NULL). Returns: LST_ERR_USAGE. */
static int fail(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why != NULL && why_size > 0)
        vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    return LST_ERR_USAGE;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

bool lst_amount_is_tokens(const char *text)
{
    size_t len = text != NULL ? strlen(text) : 0;
    return len > 0 && (strchr(text, '.') != NULL || ends_with(text, len, LST_TOKEN_SUFFIX));
}

#define SYNTAX_HINT                                                                                \
    "not an amount: base units are digits (1500000000, or 1500000000u), tokens have a "            \
    "decimal point or the suffix " LST_TOKEN_SUFFIX " (1.5, 1.5" LST_TOKEN_SUFFIX                  \
    ", 2" LST_TOKEN_SUFFIX ")"
#define OVERFLOW_TEXT "exceeds u64 base units (18446744073709551615)"

/* Tokens: digits, optionally '.' and 1..decimals digits, times 10^decimals. */
static int parse_tokens(const char *s, size_t len, unsigned decimals, uint64_t *out, char *why,
                        size_t why_size)
{
    uint64_t whole = 0, frac = 0, scaled;
    const char *dot = memchr(s, '.', len);
    size_t whole_len = dot != NULL ? (size_t)(dot - s) : len;
    size_t frac_len = dot != NULL ? len - whole_len - 1 : 0;
    int w = parse_digits(s, whole_len, &whole);
    int f = dot != NULL ? parse_digits(dot + 1, frac_len, &frac) : DIGITS_OK;
    if (w == DIGITS_BAD || f == DIGITS_BAD)
        return fail(why, why_size, SYNTAX_HINT);
    if (decimals > DECIMALS_MAX)
        return fail(why, why_size,
                    "the pool's %u decimals leave no whole token in u64 base units: "
                    "write base units",
                    decimals);
    if (frac_len > decimals)
        return fail(why, why_size, "more than %u decimals (the pool's decimals)", decimals);
    frac *= pow10_u64(decimals - (unsigned)frac_len);
    if (w == DIGITS_OVERFLOW || __builtin_mul_overflow(whole, pow10_u64(decimals), &scaled) ||
        __builtin_add_overflow(scaled, frac, &scaled))
        return fail(why, why_size, OVERFLOW_TEXT);
    *out = scaled;
    return LST_OK;
}

int lst_amount_parse(const char *text, unsigned decimals, uint64_t *out, char *why, size_t why_size)
{
    uint64_t v;
    fail(why, why_size, "%s", "");
    if (text == NULL || out == NULL)
        return fail(why, why_size, SYNTAX_HINT);
    size_t len = strlen(text);
    if (ends_with(text, len, LST_TOKEN_SUFFIX))
        return parse_tokens(text, len - strlen(LST_TOKEN_SUFFIX), decimals, out, why, why_size);
    if (strchr(text, '.') != NULL && !ends_with(text, len, "u"))
        return parse_tokens(text, len, decimals, out, why, why_size);
    size_t n = ends_with(text, len, "u") ? len - 1 : len;
    int rc = parse_digits(text, n, &v);
    if (rc == DIGITS_OVERFLOW)
        return fail(why, why_size, OVERFLOW_TEXT);
    if (rc == DIGITS_BAD && n < len && memchr(text, '.', n) != NULL)
        return fail(why, why_size,
                    "base units (the suffix u) are whole: write tokens without the u "
                    "(1.5 or 1.5" LST_TOKEN_SUFFIX ")");
    if (rc == DIGITS_BAD)
        return fail(why, why_size, SYNTAX_HINT);
    *out = v;
    return LST_OK;
}

size_t lst_amount_format_u128(char *buf, size_t size, lst_u128 units, unsigned decimals)
{
    char whole[LST_U128_DIGITS_MAX + 1], frac[24];
    if (decimals > DECIMALS_MAX)
        decimals = 0;
    uint64_t p = pow10_u64(decimals);
    ledger_u128_str(whole, units / p); /* lst_u128 is ledger_u128 */
    if (decimals == 0)
        return (size_t)snprintf(buf, size, "%s", whole);
    snprintf(frac, sizeof frac, "%0*" PRIu64, (int)decimals, (uint64_t)(units % p));
    size_t n = strlen(frac);
    while (n > 0 && frac[n - 1] == '0')
        frac[--n] = '\0';
    if (n == 0)
        return (size_t)snprintf(buf, size, "%s", whole);
    return (size_t)snprintf(buf, size, "%s.%s", whole, frac);
}

size_t lst_amount_format(char *buf, size_t size, uint64_t units, unsigned decimals)
{
    return lst_amount_format_u128(buf, size, units, decimals);
}

size_t lst_amount_text(char *buf, size_t size, lst_u128 units, unsigned decimals)
{
    char num[LST_U128_DIGITS_MAX + 2];
    if (units == 0 || decimals > DECIMALS_MAX)
        return lst_amount_format_u128(buf, size, units, 0);
    lst_amount_format_u128(num, sizeof num, units, decimals);
    return (size_t)snprintf(buf, size, "%s" LST_TOKEN_SUFFIX, num);
}

/* ---- references -------------------------------------------------------------------------- */

/* Decode one UTF-8 sequence of s[0..n) (well-formed: shortest form, no surrogates, at most
 * U+10FFFF). Out: *cp. Returns: its length, or 0 when it is not well-formed. */
static size_t utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
{
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xe0) == 0xc0 ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t v = len == 1 ? s[0] : (uint32_t)(s[0] & (0x7f >> len));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (uint32_t)(s[i] & 0x3f);
    }
    if (v < min_cp[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* A printable code point: no C0 or C1 control character, no DEL. */
static bool printable(uint32_t cp)
{
    return cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp <= 0x9f);
}

/* Returns: true when s[0..n) is well-formed UTF-8 of printable characters only. */
static bool printable_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_next(s + i, n - i, &cp);
        if (len == 0 || !printable(cp))
            return false;
        i += len;
    }
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Returns: true when s is exactly 64 hex digits (either case). */
static bool hex64(const char *s)
{
    for (size_t i = 0; i < 64; i++)
        if (hex_digit(s[i]) < 0)
            return false;
    return s[64] == '\0';
}

int lst_ref_parse(uint8_t out[LST_KEY_SIZE], const char *text, char *why, size_t why_size)
{
    fail(why, why_size, "%s", "");
    if (text == NULL)
        return fail(why, why_size, "a ref is text of 1 to 32 bytes, or 0x and 64 hex digits");
    size_t len = strlen(text);
    if (len == 66 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') && hex64(text + 2)) {
        for (size_t i = 0; i < LST_KEY_SIZE; i++)
            out[i] = (uint8_t)(hex_digit(text[2 + 2 * i]) * 16 + hex_digit(text[3 + 2 * i]));
        return LST_OK;
    }
    if (len == 64 && hex64(text))
        return fail(why, why_size,
                    "64 hex digits are 64 bytes of text, more than a ref holds: write 0x and "
                    "the 64 hex digits for 32 raw bytes");
    if (len == 0)
        return fail(why, why_size, "an empty ref: a text ref has 1 to 32 bytes");
    if (len > LST_KEY_SIZE)
        return fail(why, why_size, "%zu bytes of text: a text ref holds at most 32 bytes", len);
    if (!printable_utf8((const uint8_t *)text, len))
        return fail(why, why_size,
                    "a text ref is printable UTF-8 (no control characters): write 0x and 64 "
                    "hex digits for other bytes");
    memset(out, 0, LST_KEY_SIZE);
    memcpy(out, text, len);
    return LST_OK;
}

void lst_ref_format(char out[LST_REF_TEXT_MAX], const uint8_t ref[LST_KEY_SIZE])
{
    size_t n = LST_KEY_SIZE;
    while (n > 0 && ref[n - 1] == 0)
        n--;
    if (n > 0 && memchr(ref, 0, n) == NULL && printable_utf8(ref, n)) {
        memcpy(out, ref, n);
        out[n] = '\0';
        return;
    }
    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < LST_KEY_SIZE; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", ref[i]);
}
