/* test_gfs.c: extendedRetention (sched/gfs.h) over a simulated year of daily runs, with a history kept
 * by the test: which snapshots are still alive at the year's end under 7 daily, 4 weekly, 12 monthly
 * and 3 yearly rules; period starts (Monday weeks, calendar months, every > 1); never shorter; kept
 * stays kept; run-type filters; every n-th run; and the policy spec round trip (v3) and refusals. */
#include "check.h"
#include "sched/gfs.h"
#include "sched/schedule.h"
#include "sched/spec.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000LL
#define HOUR (3600 * SEC)
#define DAY (86400 * SEC)

static int64_t at(int64_t y, unsigned m, unsigned d, int64_t hour)
{
    return sched_days_from_civil(y, m, d) * DAY + hour * HOUR;
}

/* The history: successful runs (start, type) so far. */
struct hist {
    int64_t start[800];
    const char *type[800];
    size_t n;
};

static int hist_count(void *ud, const struct spec_ext *rule, int64_t from, int64_t before, int64_t *count)
{
    const struct hist *h = ud;
    *count = 0;
    for (size_t i = 0; i < h->n; i++)
        if (h->start[i] >= from && h->start[i] < before && gfs_rule_applies(rule, h->type[i])) (*count)++;
    return 0;
}

static struct spec_ext rule(enum spec_ext_unit u, int64_t every, enum sched_ret_unit ru, int64_t n)
{
    return (struct spec_ext){ .unit = u, .every = every, .retention = { ru, n }, .run = SPEC_EXT_RUN_ANY };
}

/* gfs_policy: retention 1 day; 7 daily, 4 weekly, 12 monthly, 3 yearly. */
static void gfs_policy(struct spec_policy *p)
{
    memset(p, 0, sizeof *p);
    p->retention = (struct spec_retention){ SCHED_RET_DAYS, 1 };
    p->ext[p->next++] = rule(SPEC_EXT_DAYS, 1, SCHED_RET_DAYS, 7);
    p->ext[p->next++] = rule(SPEC_EXT_WEEKS, 1, SCHED_RET_WEEKS, 4);
    p->ext[p->next++] = rule(SPEC_EXT_MONTHS, 1, SCHED_RET_MONTHS, 12);
    p->ext[p->next++] = rule(SPEC_EXT_YEARS, 1, SCHED_RET_YEARS, 3);
}

/* simulate: a run at 01:00 every day of 2026; the runs on the days in `failed` (month*100+day) fail
 * (not in the history, no snapshot). Writes the alive snapshots at 2026-12-31 01:30 as month*100+day. */
static int simulate(const int *failed, size_t nfailed, int *alive, size_t *nalive)
{
    static struct hist h;
    struct spec_policy p;
    int64_t end = at(2026, 12, 31, 1) + 30 * 60 * SEC;
    gfs_policy(&p);
    memset(&h, 0, sizeof h);
    *nalive = 0;
    for (int64_t day = sched_days_from_civil(2026, 1, 1); day <= sched_days_from_civil(2026, 12, 31); day++) {
        int64_t y, start = day * DAY + HOUR, own, expiry;
        unsigned m, d;
        uint32_t promoted;
        int skip = 0;
        sched_civil_from_days(day, &y, &m, &d);
        for (size_t k = 0; k < nfailed; k++)
            if (failed[k] == (int)(m * 100 + d)) skip = 1;
        if (skip) continue;
        own = spec_policy_expiry(&p, start);
        if (gfs_select(&p, "kRegular", start, own, hist_count, &h, &expiry, &promoted) != 0) return -1;
        if (expiry < own) return -1; /* never shorter */
        h.start[h.n] = start;
        h.type[h.n++] = "kRegular";
        if (expiry > end) alive[(*nalive)++] = (int)(m * 100 + d);
    }
    return 0;
}

static int same(const int *a, size_t na, const int *b, size_t nb)
{
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static void print_days(const char *what, const int *a, size_t n)
{
    fprintf(stderr, "%s:", what);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %02d-%02d", a[i] / 100, a[i] % 100);
    fprintf(stderr, "\n");
}

/* 2026-01-01 is a Thursday. At 2026-12-31 01:30: the 1st of every month (12 monthly; Jan 1 also the
 * yearly), the Mondays Dec 7, 14, 21 (and 28) whose 4 weeks have not passed (Nov 30's ended Dec 28
 * 01:00), and the 7 daily Dec 25..31 (Dec 24's ended Dec 31 01:00). */
TEST(gfs_year_of_daily_runs)
{
    static const int want[] = { 101, 201, 301, 401, 501, 601, 701, 801, 901, 1001, 1101, 1201,
                                1207, 1214, 1221, 1225, 1226, 1227, 1228, 1229, 1230, 1231 };
    int alive[400];
    size_t n;
    CHECK(simulate(NULL, 0, alive, &n) == 0);
    if (!same(alive, n, want, sizeof want / sizeof want[0])) print_days("alive", alive, n);
    CHECK(same(alive, n, want, sizeof want / sizeof want[0]));
}

/* A failed run promotes nothing: the next successful run of the period is its first. Dec 1 and Dec 2
 * fail: Dec 3 is December's monthly; Monday Dec 14 fails: Tuesday Dec 15 is its week's weekly. */
TEST(gfs_failed_runs_pass_the_promotion_on)
{
    static const int failed[] = { 1201, 1202, 1214 };
    static const int want[] = { 101, 201, 301, 401, 501, 601, 701, 801, 901, 1001, 1101, 1203,
                                1207, 1215, 1221, 1225, 1226, 1227, 1228, 1229, 1230, 1231 };
    int alive[400];
    size_t n;
    CHECK(simulate(failed, 3, alive, &n) == 0);
    if (!same(alive, n, want, sizeof want / sizeof want[0])) print_days("alive", alive, n);
    CHECK(same(alive, n, want, sizeof want / sizeof want[0]));
}

TEST(gfs_period_starts)
{
    int64_t t = at(2026, 12, 31, 13) + 17 * SEC; /* a Thursday */
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_HOURS, 1, t), at(2026, 12, 31, 13));
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_HOURS, 6, t), at(2026, 12, 31, 12));
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_DAYS, 1, t), at(2026, 12, 31, 0));
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_WEEKS, 1, t), at(2026, 12, 28, 0)); /* Monday */
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_WEEKS, 1, at(2026, 12, 28, 0)), at(2026, 12, 28, 0));
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_WEEKS, 1, at(2026, 12, 27, 23)), at(2026, 12, 21, 0)); /* Sunday */
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_MONTHS, 1, t), at(2026, 12, 1, 0));
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_MONTHS, 3, t), at(2026, 10, 1, 0)); /* quarters */
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_MONTHS, 3, at(2026, 2, 28, 0)), at(2026, 1, 1, 0));
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_YEARS, 1, t), at(2026, 1, 1, 0));
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_YEARS, 5, t), at(2025, 1, 1, 0));
    CHECK_EQ_INT(gfs_period_start(SPEC_EXT_RUNS, 3, t), 0);
}

TEST(gfs_never_shorter_and_kept_stays_kept)
{
    struct spec_policy p;
    struct hist h = { .n = 0 };
    int64_t start = at(2026, 3, 1, 1), expiry;
    uint32_t promoted;
    memset(&p, 0, sizeof p);
    p.ext[p.next++] = rule(SPEC_EXT_MONTHS, 1, SCHED_RET_DAYS, 10);
    /* its own 30 days are longer than the rule's 10 */
    CHECK(gfs_select(&p, "kRegular", start, start + 30 * DAY, hist_count, &h, &expiry, &promoted) == 0);
    CHECK_EQ_INT(promoted, 1);
    CHECK_EQ_INT(expiry, start + 30 * DAY);
    /* kept without expiry stays kept */
    CHECK(gfs_select(&p, "kRegular", start, 0, hist_count, &h, &expiry, &promoted) == 0);
    CHECK_EQ_INT(expiry, 0);
    /* a second run in March is not promoted */
    h.start[h.n] = start;
    h.type[h.n++] = "kRegular";
    CHECK(gfs_select(&p, "kRegular", start + DAY, start + 2 * DAY, hist_count, &h, &expiry, &promoted) == 0);
    CHECK_EQ_INT(promoted, 0);
    CHECK_EQ_INT(expiry, start + 2 * DAY);
}

TEST(gfs_run_types_and_every_nth_run)
{
    struct spec_policy p;
    struct hist h = { .n = 0 };
    int64_t start = at(2026, 5, 4, 1), expiry;
    uint32_t promoted;
    memset(&p, 0, sizeof p);
    p.ext[p.next++] = rule(SPEC_EXT_WEEKS, 1, SCHED_RET_MONTHS, 1);
    p.ext[0].run = SPEC_EXT_RUN_FULL;
    p.ext[p.next++] = rule(SPEC_EXT_RUNS, 3, SCHED_RET_DAYS, 5);
    /* an incremental earlier in the week does not take the Full rule's place */
    h.start[h.n] = start;
    h.type[h.n++] = "kRegular";
    CHECK(gfs_select(&p, "kFull", start + HOUR, start + DAY, hist_count, &h, &expiry, &promoted) == 0);
    CHECK_EQ_INT(promoted & 1, 1);
    CHECK_EQ_INT(expiry, sched_add_retention_unit(start + HOUR, SCHED_RET_MONTHS, 1));
    /* a kLog run is not considered by an "any" rule; a kRegular one is not by a Full rule */
    CHECK(gfs_select(&p, "kLog", start + HOUR, start + DAY, hist_count, &h, &expiry, &promoted) == 0);
    CHECK_EQ_INT(promoted, 0);
    /* every 3rd run: the history has 1 run, so the 2nd is not promoted; with 3, the 4th is */
    CHECK(gfs_select(&p, "kRegular", start + HOUR, start + DAY, hist_count, &h, &expiry, &promoted) == 0);
    CHECK_EQ_INT(promoted, 0);
    h.start[h.n] = start + 2 * SEC;
    h.type[h.n++] = "kRegular";
    h.start[h.n] = start + 3 * SEC;
    h.type[h.n++] = "kRegular";
    CHECK(gfs_select(&p, "kRegular", start + HOUR, start + DAY, hist_count, &h, &expiry, &promoted) == 0);
    CHECK_EQ_INT(promoted, 2);
    CHECK_EQ_INT(expiry, start + HOUR + 5 * DAY);
}

TEST(gfs_spec_round_trip)
{
    struct spec_policy p, q;
    char err[200], *text;
    gfs_policy(&p);
    p.ext[1].run = SPEC_EXT_RUN_FULL;
    p.ext[2].every = 3;
    text = spec_policy_encode(&p);
    CHECK(text && strncmp(text, "{\"v\":3,", 7) == 0);
    CHECKF(spec_policy_decode(text, strlen(text), &q, err, sizeof err) == 0, "%s", err);
    free(text);
    CHECK_EQ_INT(q.next, 4);
    CHECK(memcmp(q.ext, p.ext, 4 * sizeof p.ext[0]) == 0);
    /* v2 does not know "ext"; a rule without a retention unit is refused, naming the field */
    {
        const char *bad2 = "{\"v\":2,\"full\":[],\"blackouts\":[],\"retries\":0,\"retry_interval_min\":0,\"ext\":[]}";
        const char *bad3 = "{\"v\":3,\"full\":[],\"blackouts\":[],\"retries\":0,\"retry_interval_min\":0,"
                           "\"ext\":[{\"unit\":\"weeks\",\"every\":1,\"run\":\"any\",\"retention\":{\"n\":4}}]}";
        CHECK(spec_policy_decode(bad2, strlen(bad2), &q, err, sizeof err) < 0 && strstr(err, "ext"));
        CHECK(spec_policy_decode(bad3, strlen(bad3), &q, err, sizeof err) < 0 && strstr(err, "ext[0].retention.unit"));
    }
}

int main(void)
{
    RUN(gfs_year_of_daily_runs);
    RUN(gfs_failed_runs_pass_the_promotion_on);
    RUN(gfs_period_starts);
    RUN(gfs_never_shorter_and_kept_stays_kept);
    RUN(gfs_run_types_and_every_nth_run);
    RUN(gfs_spec_round_trip);
    return check_finish();
}
