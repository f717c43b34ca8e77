/* gfs.c: extendedRetention selection (gfs.h): period starts by calendar arithmetic in UTC
 * (schedule.h's civil-day conversions), and the promotion of a run by asking the caller's history
 * whether an earlier successful run holds the same period. */
#include "sched/gfs.h"
#include "sched/schedule.h"
#include <stdio.h>
#include <string.h>

#define USEC 1000000LL
#define HOUR_USECS (3600LL * USEC)
#define DAY_USECS (86400LL * USEC)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t gfs_period_start(enum spec_ext_unit unit, int64_t every, int64_t t)
{
    int64_t days = floor_div(t, DAY_USECS), y, idx;
    unsigned m, d;
    if (every < 1) every = 1;
    switch (unit) {
    case SPEC_EXT_HOURS:
        return floor_div(t, HOUR_USECS * every) * HOUR_USECS * every;
    case SPEC_EXT_DAYS:
        return floor_div(days, every) * every * DAY_USECS;
    case SPEC_EXT_WEEKS: {
        /* 1970-01-01 was a Thursday: day d is in the week counted from Monday 1969-12-29 as (d+3)/7 */
        int64_t week = floor_div(days + 3, 7);
        return (floor_div(week, every) * every * 7 - 3) * DAY_USECS;
    }
    case SPEC_EXT_MONTHS:
    case SPEC_EXT_YEARS:
        sched_civil_from_days(days, &y, &m, &d);
        idx = unit == SPEC_EXT_MONTHS ? y * 12 + (m - 1) : y;
        idx = floor_div(idx, every) * every;
        if (unit == SPEC_EXT_YEARS) return sched_days_from_civil(idx, 1, 1) * DAY_USECS;
        return sched_days_from_civil(floor_div(idx, 12), (unsigned)(idx - floor_div(idx, 12) * 12) + 1, 1) * DAY_USECS;
    case SPEC_EXT_RUNS:
    default:
        return 0;
    }
}

int gfs_rule_applies(const struct spec_ext *rule, const char *run_type)
{
    int log = strcmp(run_type, "kLog") == 0;
    switch (rule->run) {
    case SPEC_EXT_RUN_ANY: return !log;
    case SPEC_EXT_RUN_REGULAR: return strcmp(run_type, "kRegular") == 0;
    case SPEC_EXT_RUN_FULL: return strcmp(run_type, "kFull") == 0;
    case SPEC_EXT_RUN_LOG: return log;
    }
    return 0;
}

int gfs_select(const struct spec_policy *p, const char *run_type, int64_t start, int64_t own_expiry,
               gfs_count_fn count, void *ud, int64_t *expiry, uint32_t *promoted)
{
    int ret = 0;
    *expiry = own_expiry;
    *promoted = 0;
    for (size_t i = 0; i < p->next && i < SPEC_MAX_EXT; i++) {
        const struct spec_ext *r = &p->ext[i];
        int64_t n = 0, e;
        int rc;
        if (!gfs_rule_applies(r, run_type)) continue;
        rc = count(ud, r, gfs_period_start(r->unit, r->every, start), start, &n);
        if (rc < 0) {
            if (!ret) ret = rc;
            continue;
        }
        if (r->unit == SPEC_EXT_RUNS ? n % r->every != 0 : n != 0) continue;
        *promoted |= 1u << i;
        if (*expiry == 0) continue; /* kept without expiry already */
        e = sched_add_retention_unit(start, r->retention.unit, r->retention.duration);
        if (e < 0) *expiry = 0; /* past the time range: kept, never shorter */
        else if (e > *expiry) *expiry = e;
    }
    return ret;
}

void gfs_describe(const struct spec_ext *r, char *buf, size_t len)
{
    static const char *const units[] = { "hour", "day", "week", "month", "year", "run" };
    static const char *const ret[] = { "", "days", "weeks", "months", "years" };
    if (r->unit == SPEC_EXT_RUNS)
        snprintf(buf, len, "every %lld. successful run (runs/%lld): kept %lld %s", (long long)r->every,
                 (long long)r->every, (long long)r->retention.duration, ret[r->retention.unit]);
    else
        snprintf(buf, len, "the first successful run of its %s (%ss/%lld): kept %lld %s", units[r->unit], units[r->unit],
                 (long long)r->every, (long long)r->retention.duration, ret[r->retention.unit]);
}
