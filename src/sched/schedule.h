/* schedule.h: when a protection group should run, as pure functions of the policy's schedules, the
 * group's settings and a time `now` given by the caller, so every rule is unit-tested under any
 * clock (tests/unit/test_sched.c). The scheduler thread (sched.h) feeds them the catalog's groups
 * and the daemon's clock.
 *
 * Slots: a schedule defines instants ("slots") at which a run is due, anchored at the group's
 * start time (hour:minute in its time zone, UTC when none):
 *   Minutes/Hours, frequency f: every f minutes/hours, counted from hour:minute (local) of the
 *     anchor day (the day of the group's reference instant), in absolute time (DST does not shift it);
 *   Days, frequency f: at hour:minute local on every f-th day counted from the anchor day;
 *   Weeks: at hour:minute local on each listed weekday;
 *   Months: on a day of the month (a short month runs on its last day), or on the n-th (1st .. 4th,
 *     last) listed weekday of the month, at hour:minute local;
 *   Years: on the first (Jan 1) or last (Dec 31) day of the year, at hour:minute local;
 *   Once (full only): once, at the first hour:minute after the reference instant.
 * The rules come typed (sched/spec.h); the API translates them from the wire (api/wire_spec.c).
 * All times are microseconds since the Unix epoch (UTC). */
#ifndef COFFER_SCHED_SCHEDULE_H
#define COFFER_SCHED_SCHEDULE_H
#include "sched/tz.h"
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_NEVER INT64_MAX
#define SCHED_MAX_FULL 8
#define SCHED_MAX_BLACKOUT 32

enum sched_unit { SCHED_MINUTES, SCHED_HOURS, SCHED_DAYS, SCHED_WEEKS, SCHED_MONTHS, SCHED_YEARS, SCHED_ONCE };

struct sched_rule {
    enum sched_unit unit;
    int64_t frequency;   /* Minutes, Hours, Days: every n (>= 1) */
    unsigned dow_mask;   /* Weeks, Months: bit d set = weekday d (0 Sunday .. 6 Saturday) */
    int week_of_month;   /* Months: 1..4, -1 Last, 0 not used */
    int day_of_month;    /* Months: 1..31, 0 not used */
    int day_of_year;     /* Years: 1 First, -1 Last */
};

struct sched_anchor {
    int hour, minute;             /* the group's start time, wall clock of tz */
    const struct sched_tz *tz;    /* NULL = UTC; owned by the tz cache */
    int64_t ref_usecs;            /* reference instant: anchor day for minutes/hours/days, once */
};

struct sched_blackout {
    int day;                      /* 0 Sunday .. 6 Saturday, wall clock of the anchor's tz */
    int start_min, end_min;       /* minutes of the day; end <= start means through midnight */
};

/* sched_next_slot: the first slot strictly after t, or SCHED_NEVER. */
int64_t sched_next_slot(const struct sched_rule *r, const struct sched_anchor *a, int64_t t);
/* sched_due_slot: the latest slot in (after, upto], or SCHED_NEVER if there is none. */
int64_t sched_due_slot(const struct sched_rule *r, const struct sched_anchor *a, int64_t after, int64_t upto);
/* sched_in_blackout: whether instant t falls in one of the windows (in tz's wall clock). */
int sched_in_blackout(const struct sched_blackout *w, size_t n, const struct sched_tz *tz, int64_t t);

/* What a group's policy and settings say about when it runs. */
struct sched_plan {
    struct sched_anchor anchor;
    int has_incr;
    struct sched_rule incr;
    size_t nfull;
    struct sched_rule full[SCHED_MAX_FULL];
    size_t nblackout;
    struct sched_blackout blackout[SCHED_MAX_BLACKOUT];
    int64_t end_usecs;            /* the group's end; 0 = never ends */
    int paused;                   /* the group is paused */
    int abort_in_blackouts;
};

enum sched_verdict {
    SCHED_DO_NOTHING,       /* nothing due */
    SCHED_DO_START,      /* start a run (full or regular) for slot */
    SCHED_DO_MISSED,     /* a slot came while the group's previous run was still going: record Missed */
    SCHED_DO_BLACKOUT,   /* the slot fell in a blackout window: skipped */
    SCHED_DO_PAUSED,     /* the group is paused (or ended): due slots are dropped */
};

struct sched_decision {
    enum sched_verdict verdict;
    int full;             /* the slot is a full backup, else an incremental one */
    int64_t slot_usecs;   /* the slot concerned (START, MISSED, BLACKOUT) */
    int64_t evaluated_to; /* the new "last evaluated" instant to store for the group */
};

/* sched_decide: given that slots up to last_usecs were already handled, what to do at now.
 * run_active: the group has a run Accepted or Running. Several due slots coalesce into the latest;
 * a full slot wins over a regular one at the same tick. */
void sched_decide(const struct sched_plan *p, int64_t last_usecs, int64_t now, int run_active,
                  struct sched_decision *d);

/* sched_should_abort: whether a run going at now must be canceled: the group aborts in blackouts
 * and now falls in one of the policy's blackout windows. */
int sched_should_abort(const struct sched_plan *p, int64_t now);

/* Calendar helpers (proleptic Gregorian, days since 1970-01-01). */
int64_t sched_days_from_civil(int64_t y, unsigned m, unsigned d);
void sched_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
int sched_weekday(int64_t days); /* 0 Sunday .. 6 Saturday */
/* Retention units. */
enum sched_ret_unit { SCHED_RET_NONE = 0, SCHED_RET_DAYS, SCHED_RET_WEEKS, SCHED_RET_MONTHS, SCHED_RET_YEARS };
/* sched_add_retention_unit: start plus duration units, calendar arithmetic in UTC (a month from Jan 31
 * is the last day of February). -1 for SCHED_RET_NONE, a duration outside 0..100000, or a start or
 * result outside 0..CHECKED_MAX_TIME_USECS (util/checked.h: nothing wraps; the caller then keeps the
 * snapshot without expiry, never shorter). */
int64_t sched_add_retention_unit(int64_t start_usecs, enum sched_ret_unit unit, int64_t duration);
#endif
