/* bench_util.h - what the two benchmarks share: clock, percentiles, peak RSS, number arguments */
#ifndef LSTD_BENCH_UTIL_H
#define LSTD_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Monotonic clock in seconds. */
double bench_now_s(void);

/** Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/** CPU time of the calling thread in seconds (CLOCK_THREAD_CPUTIME_ID). */
double bench_thread_cpu_s(void);

/** Sort v[0..n) ascending in place. */
void bench_sort(double *v, size_t n);

/** The q-quantile (0 < q <= 1) of sorted values by nearest rank: the smallest value with at
 *  least q·n values at or below it. Returns: that value, 0 when n is 0. */
double bench_quantile(const double *sorted, size_t n, double q);

/** Peak resident set size of this process in MiB (getrusage ru_maxrss). */
double bench_rss_mb(void);

/** Parse a whole decimal argument. Out: *out. Returns: false unless s is 1..20 digits that
 *  fit a u64 (no sign, no suffix). */
bool bench_parse_u64(const char *s, uint64_t *out);

/* A numeric flag: its name ("--count") and where its value goes. */
typedef struct bench_u64_flag {
    const char *name;
    uint64_t *v;
} bench_u64_flag;

/** When arg is the name of one of flags[0..n), parse value (the next argument, may be NULL)
 *  into it with bench_parse_u64. Returns: 1 taken (the caller skips value), 0 arg is none of
 *  them, -1 arg is one of them but value is missing or not a whole number. */
int bench_u64_flag_take(const bench_u64_flag *flags, size_t n, const char *arg, const char *value);

#endif
