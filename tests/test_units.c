/* test_units.c - the unit model (base units, tokens) and text references of the client library */
#include <stdlib.h>
#include <string.h>

#include "lst_client.h"
#include "test_util.h"

#define TOKEN 1000000000ull /* one token in base units (decimals 9) */

/* Parse and expect LST_OK with want, or a failure whose description holds `says`. */
static void check_parse(const char *text, unsigned decimals, uint64_t want, const char *says,
                        int line)
{
    uint64_t v = 0;
    char why[LST_WHY_MAX];
    int rc = lst_amount_parse(text, decimals, &v, why, sizeof why);
    bool good =
        says == NULL ? rc == LST_OK && v == want : rc == LST_ERR_USAGE && strstr(why, says) != NULL;
    if (!good) {
        fprintf(stderr, "%s:%d: lst_amount_parse(\"%s\", %u) = %d, %" PRIu64 " (%s)\n", __FILE__,
                line, text, decimals, rc, v, why);
        test_failures++;
    }
}
#define PARSE_OK(text, d, want) check_parse((text), (d), (want), NULL, __LINE__)
#define PARSE_BAD(text, d, says) check_parse((text), (d), 0, (says), __LINE__)

static void check_text(lst_u128 units, unsigned decimals, const char *want, int line)
{
    char buf[LST_AMOUNT_TEXT_MAX];
    uint64_t back = 0;
    lst_amount_text(buf, sizeof buf, units, decimals);
    if (strcmp(buf, want) != 0) {
        fprintf(stderr, "%s:%d: lst_amount_text = %s, want %s\n", __FILE__, line, buf, want);
        test_failures++;
    }
    /* what is printed for people reads back to the same value */
    if (units <= UINT64_MAX &&
        (lst_amount_parse(buf, decimals, &back, NULL, 0) != LST_OK || back != units)) {
        fprintf(stderr, "%s:%d: %s does not read back\n", __FILE__, line, buf);
        test_failures++;
    }
}
#define TEXT(units, d, want) check_text((units), (d), (want), __LINE__)

static void test_amounts(void)
{
    /* digits alone are base units, whatever the decimals: what --json prints reads back */
    PARSE_OK("1500000000", 9, 1500000000);
    PARSE_OK("32000000000", 9, 32000000000);
    PARSE_OK("15", 9, 15);
    PARSE_OK("0", 9, 0);
    PARSE_OK("007", 9, 7);
    PARSE_OK("18446744073709551615", 9, UINT64_MAX);
    PARSE_OK("1500000000u", 9, 1500000000); /* the explicit form */
    PARSE_OK("18446744073709551615u", 0, UINT64_MAX);
    /* a decimal point or the suffix tok: tokens */
    PARSE_OK("1.5", 9, 1500000000);
    PARSE_OK("1.5tok", 9, 1500000000);
    PARSE_OK("2tok", 9, 2 * TOKEN);
    PARSE_OK("100.0", 9, 100 * TOKEN);
    PARSE_OK("0.000000001", 9, 1);
    PARSE_OK("0.000000001tok", 9, 1);
    PARSE_OK("18446744073.709551615", 9, UINT64_MAX);
    PARSE_OK("7tok", 0, 7);
    PARSE_OK("1.8446744073709551615", 19, UINT64_MAX);
    CHECK(lst_amount_is_tokens("1.5") && lst_amount_is_tokens("2tok"));
    CHECK(!lst_amount_is_tokens("15") && !lst_amount_is_tokens("15u") && !lst_amount_is_tokens(""));
    /* each failure says what is wrong */
    PARSE_BAD("1.0000000001", 9, "more than 9 decimals");
    PARSE_BAD("7.1", 0, "more than 0 decimals");
    PARSE_BAD("18446744073709551616", 9, "exceeds u64 base units (18446744073709551615)");
    PARSE_BAD("18446744073709551616u", 9, "exceeds u64 base units");
    PARSE_BAD("20000000000tok", 9, "exceeds u64 base units (18446744073709551615)");
    PARSE_BAD("18446744073.709551616", 9, "exceeds u64 base units");
    PARSE_BAD("99999999999999999999999.5", 9, "exceeds u64 base units");
    PARSE_BAD("1.5u", 9, "base units (the suffix u) are whole");
    PARSE_BAD("1tok", 20, "decimals leave no whole token");
    const char *bad[] = {"",    ".5",    "1.",      "-1",   "+1",      "1e9",
                         " 1",  "1 ",    "u",       "tok",  "1.5.5",   "0x10",
                         "1,5", "1_000", "1.5 tok", "1TOK", "1.5tokk", "12ab"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        PARSE_BAD(bad[i], 9, "not an amount: base units are digits");
    /* for people: tokens and the unit; 0 needs none */
    TEXT(1500000000, 9, "1.5tok");
    TEXT(2 * TOKEN, 9, "2tok");
    TEXT(0, 9, "0");
    TEXT(1, 9, "0.000000001tok");
    TEXT(UINT64_MAX, 9, "18446744073.709551615tok");
    TEXT(42, 0, "42tok");
    TEXT(42, 20, "42"); /* no whole token fits: base units */
    TEXT((lst_u128)UINT64_MAX * 3 + 7, 9, "55340232221.128654852tok");
    /* the plain decimal (no unit) */
    char buf[64];
    lst_amount_format(buf, sizeof buf, 1500000000, 9);
    CHECK(strcmp(buf, "1.5") == 0);
    lst_amount_format(buf, sizeof buf, UINT64_MAX, 19);
    CHECK(strcmp(buf, "1.8446744073709551615") == 0);
    lst_amount_format_u128(buf, sizeof buf, ~(lst_u128)0, 0);
    CHECK(strcmp(buf, "340282366920938463463374607431768211455") == 0);
    lst_amount_format_u128(buf, sizeof buf, (lst_u128)5 * TOKEN, 9);
    CHECK(strcmp(buf, "5") == 0);
}

/* ---- references: the table shared with the JS client ------------------------------------- */

/* Decode the table's escapes (\xNN, \\) in place. */
static void unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r != '\0';) {
        if (r[0] == '\\' && r[1] == '\\') {
            *w++ = '\\';
            r += 2;
        } else if (r[0] == '\\' && r[1] == 'x') {
            char hex[3] = {r[2], r[3], 0};
            *w++ = (char)strtoul(hex, NULL, 16);
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static void hex32(char out[65], const uint8_t b[32])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void ref_parse_case(const char *input, const char *want, int line_no)
{
    uint8_t b[32];
    char why[LST_WHY_MAX], got[65], shown[LST_REF_TEXT_MAX];
    int rc = lst_ref_parse(b, input, why, sizeof why);
    if (strcmp(want, "error") == 0) {
        if (rc != LST_ERR_USAGE || why[0] == '\0') {
            fprintf(stderr, "ref_cases.tsv:%d: '%s' accepted, want an error\n", line_no, input);
            test_failures++;
        }
        return;
    }
    if (rc == LST_OK)
        hex32(got, b);
    if (rc != LST_OK || strcmp(got, want) != 0) {
        fprintf(stderr, "ref_cases.tsv:%d: '%s': %s\n", line_no, input, rc == LST_OK ? got : why);
        test_failures++;
        return;
    }
    lst_ref_format(shown, b); /* text shows back as written */
    bool is_hex = input[0] == '0' && (input[1] == 'x' || input[1] == 'X') && strlen(input) == 66;
    if (!is_hex && strcmp(shown, input) != 0) {
        fprintf(stderr, "ref_cases.tsv:%d: '%s' shows as '%s'\n", line_no, input, shown);
        test_failures++;
    }
}

static void ref_show_case(const char *hex, const char *want, int line_no)
{
    uint8_t b[32], back[32];
    char shown[LST_REF_TEXT_MAX];
    CHECK(strlen(hex) == 64 && lst_hex_decode(b, hex) == LST_OK);
    lst_ref_format(shown, b);
    if (strcmp(shown, want) != 0) {
        fprintf(stderr, "ref_cases.tsv:%d: %s shows as '%s', want '%s'\n", line_no, hex, shown,
                want);
        test_failures++;
    }
    if (lst_ref_parse(back, shown, NULL, 0) != LST_OK || memcmp(back, b, 32) != 0) {
        fprintf(stderr, "ref_cases.tsv:%d: '%s' does not parse back\n", line_no, shown);
        test_failures++;
    }
}

static void test_refs(void)
{
    char *table = test_read_file(LSTD_SOURCE_DIR "/tests/ref_cases.tsv"), *save = NULL;
    int line_no = 0, parsed = 0, shown = 0;
    for (char *line = strtok_r(table, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        line_no++; /* strtok_r skips empty lines; the table has none */
        if (line[0] == '#')
            continue;
        char *a = strchr(line, '\t'), *b = a != NULL ? strchr(a + 1, '\t') : NULL;
        CHECK(a != NULL && b != NULL);
        if (a == NULL || b == NULL)
            continue;
        *a++ = '\0';
        *b++ = '\0';
        unescape(a);
        unescape(b);
        if (strcmp(line, "parse") == 0)
            ref_parse_case(a, b, line_no), parsed++;
        else if (strcmp(line, "show") == 0)
            ref_show_case(a, b, line_no), shown++;
        else
            CHECK(!"a row is parse or show");
    }
    CHECK(parsed >= 20 && shown >= 10);
    free(table);
    char why[LST_WHY_MAX];
    uint8_t ref[32];
    CHECK(lst_ref_parse(ref, "abababababababababababababababababababababababababababababababab",
                        why, sizeof why) == LST_ERR_USAGE);
    CHECK(strstr(why, "write 0x and the 64 hex digits") != NULL); /* the hint */
    CHECK(lst_ref_parse(ref, NULL, why, sizeof why) == LST_ERR_USAGE);
}

int main(void)
{
    test_amounts();
    test_refs();
    return test_finish("test_units");
}
