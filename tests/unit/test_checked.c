/* test_checked.c: util/checked.h at and around the int64 edges, and the time helpers built on it
 * (sched_add_retention_unit, sched_next_slot) given the extreme numbers a client can send: each either
 * gives the exact result or reports the overflow, never a wrapped value. */
#include "check.h"
#include "sched/schedule.h"
#include "util/checked.h"
#include <stdint.h>

TEST(add_sub_mul_exact_or_erange)
{
    int64_t r = 42;
    CHECK_EQ_INT(checked_add(1, 2, &r), 0);
    CHECK_EQ_INT(r, 3);
    CHECK_EQ_INT(checked_add(INT64_MAX, 0, &r), 0);
    CHECK(r == INT64_MAX);
    r = 42;
    CHECK_EQ_INT(checked_add(INT64_MAX, 1, &r), -ERANGE);
    CHECK_EQ_INT(r, 42); /* untouched on overflow */
    CHECK_EQ_INT(checked_add(INT64_MIN, -1, &r), -ERANGE);
    CHECK_EQ_INT(checked_add(INT64_MIN, INT64_MAX, &r), 0);
    CHECK_EQ_INT(r, -1);
    CHECK_EQ_INT(checked_sub(INT64_MIN, 1, &r), -ERANGE);
    CHECK_EQ_INT(checked_sub(0, INT64_MIN, &r), -ERANGE);
    CHECK_EQ_INT(checked_sub(-1, INT64_MIN, &r), 0);
    CHECK(r == INT64_MAX);
    CHECK_EQ_INT(checked_mul(INT64_MAX, -1, &r), 0);
    CHECK(r == -INT64_MAX);
    CHECK_EQ_INT(checked_mul(INT64_MIN, -1, &r), -ERANGE);
    CHECK_EQ_INT(checked_mul(INT64_MAX / 2 + 1, 2, &r), -ERANGE);
    CHECK_EQ_INT(checked_mul(0, INT64_MIN, &r), 0);
    CHECK_EQ_INT(r, 0);
}

TEST(the_issue_numbers_overflow_instead_of_wrapping)
{
    int64_t r = 7;
    /* 106751992 days in microseconds is 9223372108800000000 > INT64_MAX: it wrapped to a negative
     * expiry (then 1) before. */
    CHECK_EQ_INT(checked_muladd(0, 106751992, CHECKED_USECS_PER_DAY, &r), -ERANGE);
    CHECK_EQ_INT(checked_muladd(0, 106751991, CHECKED_USECS_PER_DAY, &r), 0);
    CHECK(r == 106751991LL * CHECKED_USECS_PER_DAY);
    CHECK_EQ_INT(checked_muladd(1, INT64_MAX, CHECKED_USECS_PER_DAY, &r), -ERANGE);
    CHECK_EQ_INT(checked_muladd(1, INT64_MIN, CHECKED_USECS_PER_DAY, &r), -ERANGE);
    /* base + n*unit where the product fits but the sum does not */
    CHECK_EQ_INT(checked_muladd(INT64_MAX - 5, 1, 6, &r), -ERANGE);
    CHECK_EQ_INT(checked_muladd(INT64_MAX - 5, 1, 5, &r), 0);
    CHECK(r == INT64_MAX);
}

TEST(checked_time_keeps_results_in_the_stored_range)
{
    int64_t r = -5, day = CHECKED_USECS_PER_DAY;
    CHECK_EQ_INT(checked_time(0, 0, day, &r), 0);
    CHECK_EQ_INT(r, 0);
    CHECK_EQ_INT(checked_time(0, -1, 1, &r), -ERANGE);     /* before the epoch */
    CHECK_EQ_INT(checked_time(CHECKED_MAX_TIME_USECS, 0, day, &r), 0);
    CHECK(r == CHECKED_MAX_TIME_USECS);
    CHECK_EQ_INT(checked_time(CHECKED_MAX_TIME_USECS, 1, 1, &r), -ERANGE); /* one microsecond past 9999 */
    CHECK_EQ_INT(checked_time(0, CHECKED_MAX_TIME_USECS / day, day, &r), 0);
    CHECK_EQ_INT(checked_time(0, CHECKED_MAX_TIME_USECS / day + 1, day, &r), -ERANGE);
    CHECK_EQ_INT(checked_time(0, INT32_MAX, day, &r), -ERANGE);
    CHECK_EQ_INT(checked_time(0, INT64_MAX, day, &r), -ERANGE);
    CHECK_EQ_INT(checked_time(0, INT64_MIN, day, &r), -ERANGE);
    /* 253402300799 s is 9999-12-31T23:59:59Z */
    CHECK_EQ_INT(sched_days_from_civil(9999, 12, 31) * 86400 + 86399, CHECKED_MAX_TIME_USECS / 1000000);
}

TEST(retention_never_wraps)
{
    const int64_t t = sched_days_from_civil(2026, 1, 1) * CHECKED_USECS_PER_DAY;
    const enum sched_ret_unit units[] = { SCHED_RET_DAYS, SCHED_RET_WEEKS, SCHED_RET_MONTHS, SCHED_RET_YEARS };
    const char *names[] = { "days", "weeks", "months", "years" };
    for (int u = 0; u < 4; u++) {
        const int64_t ns[] = { -1, 0, 1, 100000, 100001, INT32_MAX, INT64_MAX, INT64_MIN };
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            int64_t e = sched_add_retention_unit(t, units[u], ns[i]);
            /* either refused (-1: kept without expiry) or an instant not before the start */
            CHECKF(e == -1 || (e >= t && e <= CHECKED_MAX_TIME_USECS), "%s %lld -> %lld", names[u], (long long)ns[i],
                   (long long)e);
            if (ns[i] < 0 || ns[i] > 100000) CHECK_EQ_INT(e, -1);
        }
    }
    CHECK_EQ_INT(sched_add_retention_unit(t, SCHED_RET_DAYS, 3), t + 3 * CHECKED_USECS_PER_DAY);
    CHECK_EQ_INT(sched_add_retention_unit(t, SCHED_RET_DAYS, 100000), t + 100000 * CHECKED_USECS_PER_DAY);
    /* 100000 years from 2026 passes 9999: refused, not wrapped */
    CHECK_EQ_INT(sched_add_retention_unit(t, SCHED_RET_YEARS, 100000), -1);
    CHECK_EQ_INT(sched_add_retention_unit(t, SCHED_RET_YEARS, 7973), sched_days_from_civil(9999, 1, 1) * CHECKED_USECS_PER_DAY);
    CHECK_EQ_INT(sched_add_retention_unit(t, SCHED_RET_YEARS, 7974), -1);
    /* a start outside the stored range */
    CHECK_EQ_INT(sched_add_retention_unit(-1, SCHED_RET_DAYS, 1), -1);
    CHECK_EQ_INT(sched_add_retention_unit(INT64_MAX, SCHED_RET_DAYS, 1), -1);
}

TEST(minute_slots_at_the_end_of_time)
{
    struct sched_rule r = { .unit = SCHED_HOURS, .frequency = 100000 };
    struct sched_anchor a = { .hour = 0, .minute = 0, .tz = NULL, .ref_usecs = 0 };
    int64_t s;
    CHECK(sched_next_slot(&r, &a, INT64_MAX - 1) == SCHED_NEVER); /* the next slot is past INT64_MAX */
    s = sched_next_slot(&r, &a, 0);
    CHECK_EQ_INT(s, 100000LL * 3600 * 1000000);
    a.ref_usecs = 1000000000000000000LL; /* 2001-09-09: base > 0, so t - base wraps for t near INT64_MIN */
    CHECK(sched_next_slot(&r, &a, INT64_MIN + 1) == SCHED_NEVER);
}

int main(void)
{
    RUN(add_sub_mul_exact_or_erange);
    RUN(the_issue_numbers_overflow_instead_of_wrapping);
    RUN(checked_time_keeps_results_in_the_stored_range);
    RUN(retention_never_wraps);
    RUN(minute_slots_at_the_end_of_time);
    return check_finish();
}
