/* test_util.h - tiny assertion helpers, temp directories and a seeded PRNG for the tests */
#ifndef LSTD_TEST_UTIL_H
#define LSTD_TEST_UTIL_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int test_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* 128-bit values (lifetime totals) compared in full and printed as decimals. */
#define CHECK_U128(got, want)                                                                      \
    do {                                                                                           \
        ledger_u128 got_ = (got), want_ = (want);                                                  \
        if (got_ != want_) {                                                                       \
            char g_[40], w_[40];                                                                   \
            fprintf(stderr, "%s:%d: %s = %s, want %s\n", __FILE__, __LINE__, #got,                 \
                    ledger_u128_str(g_, got_), ledger_u128_str(w_, want_));                        \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_U64(got, want)                                                                       \
    do {                                                                                           \
        uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want);                                 \
        if (got_ != want_) {                                                                       \
            fprintf(stderr, "%s:%d: %s = %" PRIu64 ", want %" PRIu64 "\n", __FILE__, __LINE__,     \
                    #got, got_, want_);                                                            \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* Compare result codes by name so failures read "INSUFFICIENT_SHARES, want OK". */
#define CHECK_CODE(got, want) test_check_code((got), (want), __FILE__, __LINE__, #got)

/* Two strings are equal; both are printed when not. */
#define CHECK_STR_EQ(got, want)                                                                    \
    do {                                                                                           \
        const char *got_ = (got), *want_ = (want);                                                 \
        if (strcmp(got_, want_) != 0) {                                                            \
            fprintf(stderr, "%s:%d: %s is\n  \"%s\", want\n  \"%s\"\n", __FILE__, __LINE__, #got,  \
                    got_, want_);                                                                  \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

void test_check_code(int got, int want, const char *file, int line, const char *expr);

/** Print a summary; returns the process exit status (0 when no CHECK failed). */
int test_finish(const char *name);

/** A fresh empty directory under $TMPDIR (or /tmp); the path is static per call slot.
 *  Returns: a malloc'd path the caller frees (the directory is removed by test_rmtree). */
char *test_tmpdir(const char *prefix);

/** Remove a directory tree made by test_tmpdir. */
void test_rmtree(const char *path);

/* Seeded PRNG (xoshiro256**). */
typedef struct test_rng {
    uint64_t s[4];
} test_rng;

void test_rng_seed(test_rng *r, uint64_t seed);
uint64_t test_rng_next(test_rng *r);
/** Fill n bytes with PRNG output. */
void test_rng_fill(test_rng *r, uint8_t *p, size_t n);
/** Uniform in [0, n); n > 0. */
uint64_t test_rng_below(test_rng *r, uint64_t n);

/** The seed from $LSTD_SEED, or one derived from the clock; printed either way so a failure
 *  can be reproduced with LSTD_SEED=<seed>. */
uint64_t test_seed(void);

/** The whole file as a NUL-terminated malloc'd string (caller frees); exits the test with a
 *  message when it cannot be read. */
char *test_read_file(const char *path);

/** $name parsed as an unsigned integer, or def when unset or unparsable. */
uint64_t test_env_u64(const char *name, uint64_t def);

/** Run argv (argv[0] a path; NULL-terminated) to its end, stdin from /dev/null, killing it
 *  after timeout_ms. Out: *out, *err: what it wrote on stdout and stderr, NUL-terminated and
 *  malloc'd (the caller frees; a NULL pointer discards that stream).
 *  Returns: its exit code, 128 + signal, or -1 when it had to be killed. */
int test_run(const char *const *argv, unsigned timeout_ms, char **out, char **err);

#endif
