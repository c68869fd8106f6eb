/* bench_util.c - what the two benchmarks share: clock, percentiles, peak RSS, number arguments */
#include "bench_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_sort(double *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_double);
}

double bench_quantile(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    double rank = q * (double)n; /* 1-based rank: ceil(q·n) */
    size_t i = (size_t)rank;
    if ((double)i < rank)
        i++;
    return sorted[i == 0 ? 0 : (i > n ? n : i) - 1];
}

double bench_rss_mb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

bool bench_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = (uint64_t)v;
    return true;
}

int bench_u64_flag_take(const bench_u64_flag *flags, size_t n, const char *arg, const char *value)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(arg, flags[k].name) == 0)
            return bench_parse_u64(value, flags[k].v) ? 1 : -1;
    return 0;
}
