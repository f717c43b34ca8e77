/* test_api_null.c: the API's null rule (jv_strip_nulls: a null member is an absent member, at any
 * depth; null elements of arrays are left for the list's validator to refuse) and the scheduler's
 * reading of a group stored with "startTime": null before the rule existed (midnight, no error). */
#include "api/jv.h"
#include "check.h"
#include "api/wire_spec.h"
#include "sched/schedule.h"
#include "sched/spec.h"
#include <string.h>

static json_t *parse(const char *s)
{
    json_error_t e;
    return json_loads(s, 0, &e);
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

TEST(null_members_vanish_at_every_depth)
{
    json_t *j = parse("{\"a\":null,\"b\":1,\"c\":{\"d\":null,\"e\":{\"f\":null,\"g\":\"x\"}},"
                      "\"h\":[{\"i\":null,\"k\":2},null,3],\"l\":{\"m\":null}}");
    json_t *want = parse("{\"b\":1,\"c\":{\"e\":{\"g\":\"x\"}},\"h\":[{\"k\":2},null,3],\"l\":{}}");
    CHECK(j && want);
    jv_strip_nulls(j);
    CHECKF(json_equal(j, want), "got %s", json_dumps(j, JSON_COMPACT));
    json_decref(j);
    json_decref(want);
}

TEST(every_member_null_leaves_an_empty_object)
{
    json_t *j = parse("{\"a\":null,\"b\":null,\"c\":null,\"d\":null,\"e\":null,\"f\":null,\"g\":null,\"h\":null}");
    CHECK(j != NULL);
    jv_strip_nulls(j);
    CHECK_EQ_INT(json_object_size(j), 0);
    json_decref(j);
    jv_strip_nulls(NULL); /* harmless */
}

TEST(a_required_null_is_reported_as_missing_with_its_path)
{
    struct api_resp resp = { 0 };
    json_t *j = parse("{\"p\":{\"name\":null}}");
    const char *s = "unchanged";
    CHECK(j != NULL);
    jv_strip_nulls(j);
    CHECK_EQ_INT(jv_str(&resp, json_object_get(j, "p"), "p", "name", 1, &s), 0);
    CHECK_EQ_INT(resp.status, 400);
    CHECK(strstr(json_string_value(json_object_get(resp.json, "message")), "'p.name' is required") != NULL);
    CHECK(strcmp(s, "unchanged") == 0);
    json_decref(resp.json);
    json_decref(j);
}

TEST(a_stored_null_start_time_schedules_at_midnight)
{
    json_t *group = parse("{\"startTime\":null,\"endTimeUsecs\":null,\"isPaused\":null}");
    json_t *policy = parse("{\"backupPolicy\":{\"regular\":{\"incremental\":{\"schedule\":{\"unit\":\"Days\","
                           "\"daySchedule\":{\"frequency\":1}}},\"retention\":{\"unit\":\"Days\",\"duration\":1}}}}");
    struct sched_plan p;
    char err[256] = "";
    const int64_t day = 86400LL * 1000000, t = sched_days_from_civil(2030, 1, 7) * day;
    CHECK(group && policy);
    CHECKF(wire_plan(group, policy, t, &p, err, sizeof err) == 0, "err: %s", err);
    CHECK_EQ_INT(p.anchor.hour, 0);
    CHECK_EQ_INT(p.anchor.minute, 0);
    CHECK_EQ_INT(p.end_usecs, 0);
    CHECK_EQ_INT(p.paused, 0);
    CHECK_EQ_INT(sched_next_slot(&p.incr, &p.anchor, t + 600000000LL), t + day); /* next midnight */
    json_decref(group);
    json_decref(policy);
}

int main(void)
{
    RUN(null_members_vanish_at_every_depth);
    RUN(every_member_null_leaves_an_empty_object);
    RUN(a_required_null_is_reported_as_missing_with_its_path);
    RUN(a_stored_null_start_time_schedules_at_midnight);
    return check_finish();
}
