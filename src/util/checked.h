/* checked.h: overflow-checked int64 arithmetic for every time or size computed from untrusted input
 * (a client's daysToKeep, a retention duration, an offset plus a length). Each helper stores the
 * exact result in *out and returns 0, or leaves *out unchanged and returns -ERANGE when the exact
 * result does not fit in int64_t. Built on the compiler's __builtin_*_overflow, so no wrap, no
 * undefined behaviour, and the sanitizer build never aborts on a client's number.
 *
 * Times are microseconds since the Unix epoch; CHECKED_MAX_TIME_USECS (9999-12-31T23:59:59Z) is the
 * latest instant Coffer stores, so a stored time always prints as a four-digit-year date. */
#ifndef COFFER_UTIL_CHECKED_H
#define COFFER_UTIL_CHECKED_H
#include <errno.h>
#include <stdint.h>

#define CHECKED_USECS_PER_SEC 1000000LL
#define CHECKED_USECS_PER_DAY (86400LL * CHECKED_USECS_PER_SEC)
#define CHECKED_MAX_TIME_USECS (253402300799LL * CHECKED_USECS_PER_SEC)

static inline int checked_add(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return -ERANGE;
    *out = r;
    return 0;
}

static inline int checked_sub(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) return -ERANGE;
    *out = r;
    return 0;
}

static inline int checked_mul(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return -ERANGE;
    *out = r;
    return 0;
}

/* checked_muladd: base + n * unit, the shape of every "start plus n days/hours/bytes". */
static inline int checked_muladd(int64_t base, int64_t n, int64_t unit, int64_t *out)
{
    int64_t prod;
    if (checked_mul(n, unit, &prod) != 0) return -ERANGE;
    return checked_add(base, prod, out);
}

/* checked_time: *out = base + n * unit when the result lies in [0, CHECKED_MAX_TIME_USECS];
 * -ERANGE otherwise (overflow included). */
static inline int checked_time(int64_t base, int64_t n, int64_t unit, int64_t *out)
{
    int64_t r;
    if (checked_muladd(base, n, unit, &r) != 0 || r < 0 || r > CHECKED_MAX_TIME_USECS) return -ERANGE;
    *out = r;
    return 0;
}
#endif
