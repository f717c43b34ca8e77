/* test_sched.c: the scheduling rules under an injected clock: the next slot of every unit, startTime
 * anchoring (UTC and a DST zone), endTimeUsecs, paused groups, blackout windows, a slot that comes
 * while the previous run is still going, coalescing after an outage, retention arithmetic and the
 * time-zone file reader. */
#include "check.h"
#include "api/wire_spec.h"
#include "sched/schedule.h"
#include "sched/spec.h"
#include <stdlib.h>
#include <string.h>

#define US 1000000LL
#define MIN (60 * US)
#define HOUR (3600 * US)
#define DAY (86400 * US)

/* utc: microseconds of a UTC civil time. */
static int64_t utc(int y, unsigned mo, unsigned d, int h, int mi)
{
    return sched_days_from_civil(y, mo, d) * DAY + h * HOUR + mi * MIN;
}

/* wire_plan: a group and a policy wire document through the API's translator (api/wire_spec.h) into
 * the typed specs, then the plan (sched/spec.h): what the scheduler does with the stored specs. */
static int wire_plan(const json_t *group, const json_t *policy, int64_t ref, struct sched_plan *p, char *err,
                     size_t errlen)
{
    struct spec_group g;
    struct spec_policy pol;
    int rc = api_wire_group(group, &g, err, errlen);
    if (rc >= 0) rc = api_wire_policy(policy, &pol, err, errlen);
    if (rc >= 0) rc = spec_plan(&g, &pol, ref, p, err, errlen);
    spec_group_free(&g);
    return rc;
}

static struct sched_rule rule_json(const char *text)
{
    struct sched_rule r;
    char err[256] = "";
    json_t *j = json_loads(text, 0, NULL);
    memset(&r, 0, sizeof r);
    if (!j || api_wire_rule(j, &r, err, sizeof err) != 0) {
        fprintf(stderr, "rule_json(%s): %s\n", text, err);
        r.unit = (enum sched_unit)99;
    }
    json_decref(j);
    return r;
}

TEST(calendar)
{
    int64_t y;
    unsigned m, d;
    CHECK_EQ_INT(sched_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ_INT(sched_days_from_civil(2000, 3, 1), 11017);
    CHECK_EQ_INT(sched_weekday(0), 4);                                   /* Thursday */
    CHECK_EQ_INT(sched_weekday(sched_days_from_civil(2024, 1, 1)), 1);   /* Monday */
    CHECK_EQ_INT(sched_weekday(sched_days_from_civil(1969, 12, 28)), 0); /* Sunday, before the epoch */
    sched_civil_from_days(sched_days_from_civil(2024, 2, 29), &y, &m, &d);
    CHECK(y == 2024 && m == 2 && d == 29);
    sched_civil_from_days(-1, &y, &m, &d);
    CHECK(y == 1969 && m == 12 && d == 31);
}

TEST(minutes_anchored_at_start_time)
{
    struct sched_rule r = rule_json("{\"unit\":\"Minutes\",\"minuteSchedule\":{\"frequency\":5}}");
    struct sched_anchor a = { .hour = 10, .minute = 2, .ref_usecs = utc(2024, 1, 1, 0, 0) };
    CHECK_EQ_INT(r.unit, SCHED_MINUTES);
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 1, 10, 3)), utc(2024, 1, 1, 10, 7));
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 1, 10, 7)), utc(2024, 1, 1, 10, 12)); /* strictly after */
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 1, 10, 7) - 1), utc(2024, 1, 1, 10, 7));
    /* Before the anchor hour the period continues backwards: 09:57 is a slot. */
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 1, 9, 55)), utc(2024, 1, 1, 9, 57));
    /* Days later it is still on the same grid. */
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 3, 5, 23, 59)), utc(2024, 3, 6, 0, 2));
}

TEST(hours_grid_is_absolute)
{
    struct sched_rule r = rule_json("{\"unit\":\"Hours\",\"hourSchedule\":{\"frequency\":7}}");
    struct sched_anchor a = { .hour = 0, .minute = 30, .ref_usecs = utc(2024, 1, 1, 12, 0) };
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 1, 12, 0)), utc(2024, 1, 1, 14, 30));
    /* 7 hours does not divide a day: the grid keeps counting across days (no daily reset). */
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 2, 0, 0)), utc(2024, 1, 2, 4, 30));
    r = rule_json("{\"unit\":\"Hours\",\"hourSchedule\":{\"frequency\":1}}");
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 6, 1, 10, 45)), utc(2024, 6, 1, 11, 30));
}

TEST(days_frequency_counts_from_reference_day)
{
    struct sched_rule r = rule_json("{\"unit\":\"Days\",\"daySchedule\":{\"frequency\":2}}");
    struct sched_anchor a = { .hour = 2, .minute = 0, .ref_usecs = utc(2024, 1, 1, 1, 0) };
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 1, 1, 0)), utc(2024, 1, 1, 2, 0));
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 1, 3, 0)), utc(2024, 1, 3, 2, 0));
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 2, 3, 0)), utc(2024, 1, 3, 2, 0));
    r = rule_json("{\"unit\":\"Days\",\"daySchedule\":{\"frequency\":1}}");
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 2, 28, 2, 0)), utc(2024, 2, 29, 2, 0));
}

TEST(weeks_on_listed_days)
{
    struct sched_rule r = rule_json("{\"unit\":\"Weeks\",\"weekSchedule\":{\"dayOfWeek\":[\"Monday\",\"Friday\"]}}");
    struct sched_anchor a = { .hour = 9, .minute = 0 };
    /* 2024-01-02 is a Tuesday: next is Friday the 5th, then Monday the 8th. */
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 2, 12, 0)), utc(2024, 1, 5, 9, 0));
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 5, 9, 0)), utc(2024, 1, 8, 9, 0));
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 8, 8, 59)), utc(2024, 1, 8, 9, 0));
}

TEST(months_day_and_week_rules)
{
    struct sched_rule r = rule_json("{\"unit\":\"Months\",\"monthSchedule\":{\"dayOfMonth\":31}}");
    struct sched_anchor a = { .hour = 1, .minute = 15 };
    /* A short month runs on its last day. */
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 2, 1, 0, 0)), utc(2024, 2, 29, 1, 15));
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 2, 29, 1, 15)), utc(2024, 3, 31, 1, 15));
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 4, 1, 0, 0)), utc(2024, 4, 30, 1, 15));
    r = rule_json("{\"unit\":\"Months\",\"monthSchedule\":{\"weekOfMonth\":\"Last\",\"dayOfWeek\":[\"Friday\"]}}");
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 1, 0, 0)), utc(2024, 1, 26, 1, 15));
    r = rule_json("{\"unit\":\"Months\",\"monthSchedule\":{\"weekOfMonth\":\"First\",\"dayOfWeek\":[\"Monday\"]}}");
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 27, 0, 0)), utc(2024, 2, 5, 1, 15));
    r = rule_json("{\"unit\":\"Months\",\"monthSchedule\":{\"weekOfMonth\":\"Third\",\"dayOfWeek\":[\"Sunday\"]}}");
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 3, 1, 0, 0)), utc(2024, 3, 17, 1, 15));
}

TEST(years_first_and_last)
{
    struct sched_rule r = rule_json("{\"unit\":\"Years\",\"yearSchedule\":{\"dayOfYear\":\"First\"}}");
    struct sched_anchor a = { .hour = 0, .minute = 0 };
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 1, 0, 0)), utc(2025, 1, 1, 0, 0));
    r = rule_json("{\"unit\":\"Years\",\"yearSchedule\":{\"dayOfYear\":\"Last\"}}");
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 3, 1, 0, 0)), utc(2024, 12, 31, 0, 0));
}

TEST(protect_once_runs_once)
{
    struct sched_rule r = rule_json("{\"unit\":\"ProtectOnce\"}");
    struct sched_anchor a = { .hour = 6, .minute = 0, .ref_usecs = utc(2024, 5, 1, 7, 0) };
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 5, 1, 7, 0)), utc(2024, 5, 2, 6, 0));
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 5, 2, 6, 0)), SCHED_NEVER);
}

TEST(bad_rules_are_refused)
{
    const char *bad[] = {
        "{\"unit\":\"Fortnights\"}",
        "{\"unit\":\"Minutes\",\"minuteSchedule\":{\"frequency\":0}}",
        "{\"unit\":\"Hours\",\"hourSchedule\":{\"frequency\":\"2\"}}",
        "{\"unit\":\"Weeks\",\"weekSchedule\":{\"dayOfWeek\":[\"Someday\"]}}",
        "{\"unit\":\"Weeks\",\"weekSchedule\":{\"dayOfWeek\":[]}}",
        "{\"unit\":\"Months\",\"monthSchedule\":{\"dayOfMonth\":32}}",
        "{\"unit\":\"Years\",\"yearSchedule\":{\"dayOfYear\":\"Middle\"}}",
        "{}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sched_rule r;
        char err[256] = "";
        json_t *j = json_loads(bad[i], 0, NULL);
        int rc = api_wire_rule(j, &r, err, sizeof err);
        json_decref(j);
        CHECKF(rc == -1 && err[0], "accepted %s", bad[i]);
    }
}

TEST(time_zone_anchoring_follows_dst)
{
    const struct sched_tz *ny = sched_tz_get("America/New_York");
    struct sched_rule r = rule_json("{\"unit\":\"Days\",\"daySchedule\":{\"frequency\":1}}");
    struct sched_anchor a = { .hour = 2, .minute = 0 };
    CHECK(ny != NULL);
    a.tz = ny;
    CHECK_EQ_INT(sched_tz_offset(ny, utc(2024, 1, 15, 12, 0) / US), -5 * 3600);
    CHECK_EQ_INT(sched_tz_offset(ny, utc(2024, 7, 15, 12, 0) / US), -4 * 3600);
    /* 02:00 EST = 07:00 UTC in winter, 02:00 EDT = 06:00 UTC in summer. */
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 1, 15, 12, 0)), utc(2024, 1, 16, 7, 0));
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 7, 15, 12, 0)), utc(2024, 7, 16, 6, 0));
    /* 2024-03-10 02:00 does not exist in New York (clocks jump to 03:00 EDT = 07:00 UTC). */
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 3, 9, 12, 0)), utc(2024, 3, 10, 7, 0));
    /* 2024-11-03 01:30 happens twice: the earlier (EDT, 05:30 UTC) is the slot. */
    a.hour = 1;
    a.minute = 30;
    CHECK_EQ_INT(sched_next_slot(&r, &a, utc(2024, 11, 2, 12, 0)), utc(2024, 11, 3, 5, 30));
    CHECK(sched_tz_get("../etc/passwd") == NULL);
    CHECK(sched_tz_get("No/Such_Zone") == NULL);
    CHECK(sched_tz_get("/etc/localtime") == NULL);
}

TEST(tzif_reader_refuses_damage)
{
    static const uint8_t hdr[44] = { 'T', 'Z', 'i', 'f', '2' };
    uint8_t buf[64];
    CHECK(sched_tz_parse(hdr, 10) == NULL);
    CHECK(sched_tz_parse(hdr, sizeof hdr) == NULL); /* typecnt 0 */
    memcpy(buf, hdr, 44);
    buf[32 + 3] = 200; /* 200 transitions announced, none present */
    buf[36 + 3] = 1;
    CHECK(sched_tz_parse(buf, sizeof buf) == NULL);
    {
        /* A minimal valid v1 file: no transitions, one type at +01:00. */
        uint8_t ok[44 + 6 + 4] = { 'T', 'Z', 'i', 'f', 0 };
        struct sched_tz *tz;
        ok[36 + 3] = 1;                               /* typecnt */
        ok[40 + 3] = 4;                               /* charcnt */
        ok[44 + 2] = 0x0e; ok[44 + 3] = 0x10;         /* utoff 3600 */
        memcpy(ok + 50, "CET", 4);
        tz = sched_tz_parse(ok, sizeof ok);
        CHECK(tz != NULL);
        CHECK_EQ_INT(sched_tz_offset(tz, 0), 3600);
        sched_tz_free(tz);
        CHECK(sched_tz_parse(ok, sizeof ok - 1) == NULL);
    }
}

TEST(due_slot_coalesces_an_outage)
{
    struct sched_rule r = rule_json("{\"unit\":\"Minutes\",\"minuteSchedule\":{\"frequency\":5}}");
    struct sched_anchor a = { .hour = 0, .minute = 0 };
    CHECK_EQ_INT(sched_due_slot(&r, &a, utc(2024, 1, 1, 10, 0), utc(2024, 1, 1, 10, 31)), utc(2024, 1, 1, 10, 30));
    CHECK_EQ_INT(sched_due_slot(&r, &a, utc(2024, 1, 1, 10, 0), utc(2024, 1, 1, 10, 4)), SCHED_NEVER);
    CHECK_EQ_INT(sched_due_slot(&r, &a, utc(2024, 1, 1, 10, 0), utc(2024, 1, 1, 10, 5)), utc(2024, 1, 1, 10, 5));
    /* A year-long outage of a minute schedule is arithmetic, not a walk. */
    CHECK_EQ_INT(sched_due_slot(&r, &a, utc(2023, 1, 1, 0, 0), utc(2024, 1, 1, 0, 3)), utc(2024, 1, 1, 0, 0));
    r = rule_json("{\"unit\":\"Weeks\",\"weekSchedule\":{\"dayOfWeek\":[\"Sunday\"]}}");
    CHECK_EQ_INT(sched_due_slot(&r, &a, utc(2020, 1, 1, 0, 0), utc(2024, 1, 10, 0, 0)), utc(2024, 1, 7, 0, 0));
}

static const char *g_policy =
    "{\"name\":\"p\",\"backupPolicy\":{\"regular\":{"
    "  \"incremental\":{\"schedule\":{\"unit\":\"Hours\",\"hourSchedule\":{\"frequency\":1}}},"
    "  \"full\":{\"schedule\":{\"unit\":\"Weeks\",\"weekSchedule\":{\"dayOfWeek\":[\"Sunday\"]}}},"
    "  \"retention\":{\"unit\":\"Days\",\"duration\":7}}},"
    " \"blackoutWindow\":[{\"day\":\"Wednesday\",\"startTime\":{\"hour\":22,\"minute\":0},"
    "                      \"endTime\":{\"hour\":2,\"minute\":0}}]}";

static int plan(const char *group, struct sched_plan *p)
{
    json_t *g = json_loads(group, 0, NULL), *pol = json_loads(g_policy, 0, NULL);
    char err[256] = "";
    int rc = wire_plan(g, pol, utc(2024, 1, 1, 0, 0), p, err, sizeof err);
    if (rc) fprintf(stderr, "plan: %s\n", err);
    json_decref(g);
    json_decref(pol);
    return rc;
}

TEST(decide_runs_the_latest_due_slot)
{
    struct sched_plan p;
    struct sched_decision d;
    CHECK_EQ_INT(plan("{\"name\":\"g\",\"startTime\":{\"hour\":0,\"minute\":10}}", &p), 0);
    CHECK(p.has_incr && p.nfull == 1 && p.nblackout == 1);
    /* Tuesday 2024-01-02: last handled 10:00, now 10:05 -> nothing; now 12:30 -> the 12:10 slot. */
    sched_decide(&p, utc(2024, 1, 2, 10, 0), utc(2024, 1, 2, 10, 5), 0, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_NOTHING);
    CHECK_EQ_INT(d.evaluated_to, utc(2024, 1, 2, 10, 5));
    sched_decide(&p, utc(2024, 1, 2, 10, 5), utc(2024, 1, 2, 12, 30), 0, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_START);
    CHECK_EQ_INT(d.full, 0);
    CHECK_EQ_INT(d.slot_usecs, utc(2024, 1, 2, 12, 10));
    CHECK_EQ_INT(d.evaluated_to, utc(2024, 1, 2, 12, 30));
    /* The clock going backwards does nothing and keeps what was handled. */
    sched_decide(&p, utc(2024, 1, 2, 12, 30), utc(2024, 1, 2, 9, 0), 0, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_NOTHING);
    CHECK_EQ_INT(d.evaluated_to, utc(2024, 1, 2, 12, 30));
}

TEST(decide_full_wins_on_sunday)
{
    struct sched_plan p;
    struct sched_decision d;
    CHECK_EQ_INT(plan("{\"startTime\":{\"hour\":0,\"minute\":10}}", &p), 0);
    /* Sunday 2024-01-07 00:10 is both an hourly and the weekly full slot. */
    sched_decide(&p, utc(2024, 1, 7, 0, 0), utc(2024, 1, 7, 0, 11), 0, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_START);
    CHECK_EQ_INT(d.full, 1);
    CHECK_EQ_INT(d.slot_usecs, utc(2024, 1, 7, 0, 10));
}

TEST(decide_missed_while_running)
{
    struct sched_plan p;
    struct sched_decision d;
    CHECK_EQ_INT(plan("{\"startTime\":{\"hour\":0,\"minute\":0}}", &p), 0);
    sched_decide(&p, utc(2024, 1, 2, 10, 30), utc(2024, 1, 2, 11, 1), 1, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_MISSED);
    CHECK_EQ_INT(d.slot_usecs, utc(2024, 1, 2, 11, 0));
}

TEST(decide_paused_and_ended)
{
    struct sched_plan p;
    struct sched_decision d;
    CHECK_EQ_INT(plan("{\"startTime\":{\"hour\":0,\"minute\":0},\"isPaused\":true}", &p), 0);
    sched_decide(&p, utc(2024, 1, 2, 10, 30), utc(2024, 1, 2, 11, 1), 0, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_PAUSED);
    CHECK_EQ_INT(d.evaluated_to, utc(2024, 1, 2, 11, 1)); /* the slot is dropped, not kept for later */
    CHECK_EQ_INT(plan("{\"startTime\":{\"hour\":0,\"minute\":0},\"endTimeUsecs\":1704189600000000}", &p), 0);
    /* endTimeUsecs = 2024-01-02T10:00Z: the 10:00 slot still runs, 11:00 does not. */
    sched_decide(&p, utc(2024, 1, 2, 9, 30), utc(2024, 1, 2, 10, 1), 0, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_START);
    sched_decide(&p, utc(2024, 1, 2, 10, 1), utc(2024, 1, 2, 13, 0), 0, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_NOTHING);
}

TEST(decide_blackout_skips)
{
    struct sched_plan p;
    struct sched_decision d;
    CHECK_EQ_INT(plan("{\"startTime\":{\"hour\":0,\"minute\":0}}", &p), 0);
    /* Wednesday 2024-01-03 22:00 .. Thursday 02:00 is a blackout. */
    sched_decide(&p, utc(2024, 1, 3, 22, 30), utc(2024, 1, 3, 23, 0), 0, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_BLACKOUT);
    sched_decide(&p, utc(2024, 1, 4, 0, 30), utc(2024, 1, 4, 1, 0), 0, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_BLACKOUT);
    sched_decide(&p, utc(2024, 1, 4, 1, 30), utc(2024, 1, 4, 2, 0), 0, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_START); /* the window ends at 02:00 */
    sched_decide(&p, utc(2024, 1, 3, 20, 30), utc(2024, 1, 3, 21, 0), 0, &d);
    CHECK_EQ_INT(d.verdict, SCHED_DO_START);
}

TEST(abort_in_blackouts)
{
    struct sched_plan p;
    CHECK_EQ_INT(plan("{\"startTime\":{\"hour\":0,\"minute\":0},\"abortInBlackouts\":true}", &p), 0);
    CHECK(sched_should_abort(&p, utc(2024, 1, 3, 23, 0)));   /* Wednesday 23:00: in the window */
    CHECK(!sched_should_abort(&p, utc(2024, 1, 3, 21, 59)));
    CHECK(sched_should_abort(&p, utc(2024, 1, 4, 1, 59)));   /* through midnight */
    CHECK(!sched_should_abort(&p, utc(2024, 1, 4, 2, 0)));
    CHECK_EQ_INT(plan("{\"startTime\":{\"hour\":0,\"minute\":0}}", &p), 0);
    CHECK(!sched_should_abort(&p, utc(2024, 1, 3, 23, 0)));  /* without abortInBlackouts */
}

TEST(plan_refuses_bad_documents_and_falls_back_to_utc)
{
    struct sched_plan p;
    char err[256] = "";
    json_t *g = json_loads("{\"startTime\":{\"hour\":25,\"minute\":0}}", 0, NULL);
    json_t *pol = json_loads(g_policy, 0, NULL);
    CHECK_EQ_INT(wire_plan(g, pol, 0, &p, err, sizeof err), -1);
    json_decref(g);
    g = json_loads("{\"startTime\":{\"hour\":1,\"minute\":0,\"timeZone\":\"Mars/Olympus\"}}", 0, NULL);
    CHECK_EQ_INT(wire_plan(g, pol, 0, &p, err, sizeof err), 1);
    CHECK(p.anchor.tz == NULL && strstr(err, "Mars/Olympus"));
    json_decref(g);
    json_decref(pol);
}

TEST(retention_arithmetic)
{
    int64_t t = utc(2024, 1, 31, 10, 0);
    CHECK_EQ_INT(sched_add_retention_unit(t, SCHED_RET_DAYS, 7), utc(2024, 2, 7, 10, 0));
    CHECK_EQ_INT(sched_add_retention_unit(t, SCHED_RET_WEEKS, 2), utc(2024, 2, 14, 10, 0));
    CHECK_EQ_INT(sched_add_retention_unit(t, SCHED_RET_MONTHS, 1), utc(2024, 2, 29, 10, 0));
    CHECK_EQ_INT(sched_add_retention_unit(t, SCHED_RET_MONTHS, 13), utc(2025, 2, 28, 10, 0));
    CHECK_EQ_INT(sched_add_retention_unit(t, SCHED_RET_YEARS, 1), utc(2025, 1, 31, 10, 0));
    CHECK_EQ_INT(sched_add_retention_unit(t, SCHED_RET_NONE, 1), -1);
}

int main(void)
{
    RUN(calendar);
    RUN(minutes_anchored_at_start_time);
    RUN(hours_grid_is_absolute);
    RUN(days_frequency_counts_from_reference_day);
    RUN(weeks_on_listed_days);
    RUN(months_day_and_week_rules);
    RUN(years_first_and_last);
    RUN(protect_once_runs_once);
    RUN(bad_rules_are_refused);
    RUN(time_zone_anchoring_follows_dst);
    RUN(tzif_reader_refuses_damage);
    RUN(due_slot_coalesces_an_outage);
    RUN(decide_runs_the_latest_due_slot);
    RUN(decide_full_wins_on_sunday);
    RUN(decide_missed_while_running);
    RUN(decide_paused_and_ended);
    RUN(decide_blackout_skips);
    RUN(abort_in_blackouts);
    RUN(plan_refuses_bad_documents_and_falls_back_to_utc);
    RUN(retention_arithmetic);
    sched_tz_release_all();
    return check_finish();
}
