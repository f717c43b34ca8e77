/* schedule.c: the scheduling rules of schedule.h: slots of each unit, blackout windows, and the
 * per-group decision the scheduler thread acts on. It reads no JSON: the rules come typed from the
 * specs (spec.h), which the API translates from the wire.
 *
 * Day-based units (days, weeks, months, years, once) walk the wall-clock calendar of the
 * group's time zone day by day from the day of t (starting one day early, so a DST shift near
 * midnight cannot hide a slot), turn each matching day's hour:minute into an instant with
 * sched_tz_local_to_utc and return the first one after t; the walk is bounded (a Months or Years
 * rule matches within 400 days, Days within frequency + 2). Minutes and Hours are a fixed period in
 * absolute time from the anchor instant, so they are plain arithmetic and never drift. Calendar
 * arithmetic is Howard Hinnant's days_from_civil / civil_from_days. */
#include "sched/schedule.h"
#include "util/checked.h"
#include <string.h>

#define USEC 1000000LL
#define DAY_SECS 86400LL

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

int64_t sched_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = floor_div(y, 400);
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void sched_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, yy;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = floor_div(z, 146097);
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

int sched_weekday(int64_t days)
{
    return (int)(days + 4 - floor_div(days + 4, 7) * 7); /* 1970-01-01 was a Thursday (4) */
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

/* ---------- slots ---------- */

static int64_t local_day_of(const struct sched_anchor *a, int64_t usecs)
{
    int64_t secs = floor_div(usecs, USEC);
    return floor_div(secs + sched_tz_offset(a->tz, secs), DAY_SECS);
}

/* slot_on_day: the instant of hour:minute on local day d, in microseconds. */
static int64_t slot_on_day(const struct sched_anchor *a, int64_t d)
{
    int64_t local = d * DAY_SECS + (int64_t)a->hour * 3600 + (int64_t)a->minute * 60;
    return sched_tz_local_to_utc(a->tz, local) * USEC;
}

static int day_matches(const struct sched_rule *r, const struct sched_anchor *a, int64_t d)
{
    int64_t y;
    unsigned m, dom;
    int wd = sched_weekday(d);
    switch (r->unit) {
    case SCHED_DAYS: {
        int64_t k = d - local_day_of(a, a->ref_usecs);
        return k % r->frequency == 0;
    }
    case SCHED_WEEKS:
        return (r->dow_mask >> wd) & 1;
    case SCHED_MONTHS:
        sched_civil_from_days(d, &y, &m, &dom);
        if (r->week_of_month) {
            if (!((r->dow_mask >> wd) & 1)) return 0;
            if (r->week_of_month > 0) return (int)((dom - 1) / 7) + 1 == r->week_of_month;
            return dom + 7 > days_in_month(y, m);
        }
        {
            unsigned want = (unsigned)r->day_of_month, dim = days_in_month(y, m);
            return dom == (want > dim ? dim : want);
        }
    case SCHED_YEARS:
        sched_civil_from_days(d, &y, &m, &dom);
        return r->day_of_year > 0 ? (m == 1 && dom == 1) : (m == 12 && dom == 31);
    default:
        return 0;
    }
}

int64_t sched_next_slot(const struct sched_rule *r, const struct sched_anchor *a, int64_t t)
{
    int64_t day0, limit;
    if (r->unit == SCHED_MINUTES || r->unit == SCHED_HOURS) {
        int64_t period = r->frequency * (r->unit == SCHED_MINUTES ? 60 : 3600) * USEC;
        int64_t base = slot_on_day(a, local_day_of(a, a->ref_usecs));
        int64_t diff, next;
        if (checked_sub(t, base, &diff) != 0 || checked_muladd(base, floor_div(diff, period) + 1, period, &next) != 0)
            return SCHED_NEVER;
        return next;
    }
    if (r->unit == SCHED_ONCE) {
        int64_t d = local_day_of(a, a->ref_usecs), s;
        for (s = slot_on_day(a, d - 1); s <= a->ref_usecs; s = slot_on_day(a, ++d)) {}
        return s > t ? s : SCHED_NEVER;
    }
    day0 = local_day_of(a, t) - 1;
    limit = r->unit == SCHED_DAYS ? r->frequency + 3 : r->unit == SCHED_WEEKS ? 10 : 800;
    for (int64_t d = day0; d < day0 + limit; d++) {
        int64_t s;
        if (!day_matches(r, a, d)) continue;
        s = slot_on_day(a, d);
        if (s > t) return s;
    }
    return SCHED_NEVER;
}

int64_t sched_due_slot(const struct sched_rule *r, const struct sched_anchor *a, int64_t after, int64_t upto)
{
    int64_t s, last = SCHED_NEVER;
    if (upto <= after) return SCHED_NEVER;
    if (r->unit == SCHED_MINUTES || r->unit == SCHED_HOURS) {
        /* The latest slot <= upto is the one before the first slot after upto. */
        int64_t period = r->frequency * (r->unit == SCHED_MINUTES ? 60 : 3600) * USEC;
        s = sched_next_slot(r, a, upto);
        if (s == SCHED_NEVER) return SCHED_NEVER;
        s -= period;
        return s > after ? s : SCHED_NEVER;
    }
    /* Day-based rules: at most a few hundred slots even after a long outage; skip ahead so the walk
     * stays short: start from a day before upto when the gap is long. */
    if (upto - after > 800 * DAY_SECS * USEC) after = upto - 800 * DAY_SECS * USEC;
    for (s = sched_next_slot(r, a, after); s != SCHED_NEVER && s <= upto; s = sched_next_slot(r, a, s)) last = s;
    return last;
}

int sched_in_blackout(const struct sched_blackout *w, size_t n, const struct sched_tz *tz, int64_t t)
{
    int64_t secs = floor_div(t, USEC), local = secs + sched_tz_offset(tz, secs);
    int64_t day = floor_div(local, DAY_SECS);
    int wd = sched_weekday(day), min = (int)((local - day * DAY_SECS) / 60), prev = (wd + 6) % 7;
    for (size_t i = 0; i < n; i++) {
        if (w[i].end_min > w[i].start_min) {
            if (w[i].day == wd && min >= w[i].start_min && min < w[i].end_min) return 1;
        } else { /* through midnight: [start, 24:00) on day, [00:00, end) on the next day */
            if (w[i].day == wd && min >= w[i].start_min) return 1;
            if (w[i].day == prev && min < w[i].end_min) return 1;
        }
    }
    return 0;
}

/* ---------- decisions ---------- */

void sched_decide(const struct sched_plan *p, int64_t last, int64_t now, int run_active, struct sched_decision *d)
{
    int64_t upto = now, incr = SCHED_NEVER, full = SCHED_NEVER, slot;
    memset(d, 0, sizeof *d);
    d->verdict = SCHED_DO_NOTHING;
    d->evaluated_to = now > last ? now : last;
    if (now <= last) return;
    if (p->end_usecs > 0 && upto > p->end_usecs) upto = p->end_usecs;
    if (p->has_incr) incr = sched_due_slot(&p->incr, &p->anchor, last, upto);
    for (size_t i = 0; i < p->nfull; i++) {
        int64_t s = sched_due_slot(&p->full[i], &p->anchor, last, upto);
        if (s != SCHED_NEVER && (full == SCHED_NEVER || s > full)) full = s;
    }
    if (incr == SCHED_NEVER && full == SCHED_NEVER) return;
    slot = incr == SCHED_NEVER ? full : full == SCHED_NEVER ? incr : (incr > full ? incr : full);
    d->full = full != SCHED_NEVER;
    d->slot_usecs = slot;
    if (p->paused) {
        d->verdict = SCHED_DO_PAUSED;
        return;
    }
    if (sched_in_blackout(p->blackout, p->nblackout, p->anchor.tz, slot)) {
        d->verdict = SCHED_DO_BLACKOUT;
        return;
    }
    d->verdict = run_active ? SCHED_DO_MISSED : SCHED_DO_START;
}

int sched_should_abort(const struct sched_plan *p, int64_t now)
{
    return p->abort_in_blackouts && p->nblackout > 0 && sched_in_blackout(p->blackout, p->nblackout, p->anchor.tz, now);
}

int64_t sched_add_retention_unit(int64_t start, enum sched_ret_unit unit, int64_t n)
{
    int64_t secs, days, rem, y;
    unsigned m, d;
    int64_t out;
    if (unit == SCHED_RET_NONE || n < 0 || n > 100000 || start < 0 || start > CHECKED_MAX_TIME_USECS) return -1;
    if (unit == SCHED_RET_DAYS || unit == SCHED_RET_WEEKS)
        return checked_time(start, unit == SCHED_RET_WEEKS ? n * 7 : n, DAY_SECS * USEC, &out) == 0 ? out : -1;
    if (unit != SCHED_RET_MONTHS && unit != SCHED_RET_YEARS) return -1;
    if (unit == SCHED_RET_YEARS) n *= 12;
    secs = floor_div(start, USEC);
    days = floor_div(secs, DAY_SECS);
    rem = start - days * DAY_SECS * USEC;
    sched_civil_from_days(days, &y, &m, &d);
    {
        int64_t months = y * 12 + (m - 1) + n;
        int64_t ny = floor_div(months, 12);
        unsigned nm = (unsigned)(months - ny * 12) + 1, dim = days_in_month(ny, nm);
        if (checked_time(rem, sched_days_from_civil(ny, nm, d > dim ? dim : d), DAY_SECS * USEC, &out) != 0) return -1;
        return out;
    }
}
