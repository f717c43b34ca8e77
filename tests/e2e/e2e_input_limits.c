/* e2e_input_limits.c: hostile numbers, JSON nulls and boolean spellings against the real daemon.
 *
 * One daemon (test clock on) backs up a small tree. Then:
 *   - daysToKeep of UpdateProtectionGroupRun at its extremes (0, +-1, INT32_MAX, INT64_MAX, INT64_MIN,
 *     1e300, 2^63, the 106751992, and just inside and outside the documented range): never a
 *     5xx, an out-of-range value is a 400 naming the field, an extension never moves the expiry
 *     earlier, the stored expiry always lies in [run start, 9999-12-31]; a run kept without expiry
 *     stays kept when extended; and after the retention pass (30 s) the extended snapshot is still
 *     there while a snapshot whose retention was explicitly reduced to the past is gone (the control);
 *   - every integer body field and query parameter that becomes a time or a size (policies, groups,
 *     runs, recoveries, downloads, search, restore points, source pages, the test clock) at the same
 *     extremes and at each side of its range: inside is accepted, outside is a 400 naming the field,
 *     never a 5xx;
 *   - null for every optional field of every body is accepted exactly as if the field were absent
 *     (same status, same stored document, no null stored or echoed), a null for a required field is
 *     a 400 naming it, and a group created with "startTime": null runs on its schedule;
 *   - boolean query parameters accept true/false in any case (True, FALSE) with the same effect, and
 *     an unknown value of a known parameter (includeTenants=bogus) is a 400 naming it on every route. */
#include "check.h"
#include "e2e/harness.h"
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRC "/v2/data-protect/sources/registrations"
#define POL "/v2/data-protect/policies"
#define GRP "/v2/data-protect/protection-groups"
#define REC "/v2/data-protect/recoveries"
#define T "limits-a"
#define T0 1893975000000000LL /* 2030-01-07T00:10:00Z */
#define DAY 86400000000LL
#define MAX_TIME 253402300799000000LL /* 9999-12-31T23:59:59Z */
#define MAX_DAYS (MAX_TIME / DAY)     /* the documented bound of daysToKeep */

static struct daemon d;
static char *g_tmp;
static char tree[600];
static long long host;
static char policy[128], policy_forever[128], group[128], group_forever[128];
static char run_a[64], run_b[64], run_forever[64], snap_a[96];
static int g_uniq;

/* subst: tmpl with every "@V" replaced by v and every "@N" by a fresh unique name (static buffer). */
static const char *subst(const char *tmpl, const char *v)
{
    static char buf[16384];
    char name[32];
    size_t o = 0;
    snprintf(name, sizeof name, "u%d", ++g_uniq);
    for (const char *p = tmpl; *p && o + 64 < sizeof buf;) {
        if (p[0] == '@' && (p[1] == 'V' || p[1] == 'N')) {
            const char *r = p[1] == 'V' ? v : name;
            size_t n = strlen(r);
            if (o + n + 1 >= sizeof buf) break;
            memcpy(buf + o, r, n);
            o += n;
            p += 2;
        } else {
            buf[o++] = *p == '\'' ? '"' : *p;
            p++;
        }
    }
    buf[o] = '\0';
    return buf;
}

static long call(const char *method, const char *path, const char *body, struct http_resp *r)
{
    if (http(&d, method, path, T, body, r) != 0) return -1;
    return r->status;
}

/* status_of: the status of one request (response dropped). */
static long status_of(const char *method, const char *path, const char *body)
{
    struct http_resp r;
    long st = call(method, path, body, &r);
    http_resp_release(&r);
    return st;
}

static long post_id(const char *path, const char *body, char *id, size_t len)
{
    struct http_resp r;
    long st = call("POST", path, body, &r);
    if (st >= 300) fprintf(stderr, "POST %s: %ld %s\n", path, st, r.body ? r.body : "");
    snprintf(id, len, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    http_resp_release(&r);
    return st;
}

static int has_null(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_null(j)) return 1;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v) if (has_null(v)) return 1;
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) if (has_null(v)) return 1;
    }
    return 0;
}

/* volatile_key: what legitimately differs between two creations of the same body. */
static int volatile_key(const char *k)
{
    static const char *const keys[] = { "id", "name", "lastModificationTimeUsecs", "lastModifiedTimestampUsecs",
                                        "connectionId", "connectionName", "registrationToken",
                                        "lastRefreshedTimeMsecs", "sourceInfo" /* live disk sizes */, NULL };
    for (const char *const *p = keys; *p; p++)
        if (strcmp(k, *p) == 0) return 1;
    return 0;
}

/* stripped: a deep copy of j without volatile keys at the top level. */
static json_t *stripped(json_t *j)
{
    json_t *c = json_deep_copy(j), *v;
    const char *k;
    void *tmp;
    json_object_foreach_safe(c, tmp, k, v) if (volatile_key(k)) json_object_del(c, k);
    return c;
}

static long long expiry_of(const char *grp, const char *run)
{
    struct http_resp r;
    long long e = -1;
    if (call("GET", jfmt(GRP "/%s/runs/%s?includeObjectDetails=true", grp, run), NULL, &r) == 200)
        e = jget(r.json, "objects.0.localSnapshotInfo.snapshotInfo.expiryTimeUsecs")
                ? jint(r.json, "objects.0.localSnapshotInfo.snapshotInfo.expiryTimeUsecs")
                : 0;
    http_resp_release(&r);
    return e;
}

static int wait_run(const char *grp, const char *run, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        struct http_resp r;
        const char *st = NULL;
        int done = 0, ok = 0;
        if (call("GET", jfmt(GRP "/%s/runs/%s", grp, run), NULL, &r) == 200) st = jstr(r.json, "localBackupInfo.status");
        if (st && strcmp(st, "Accepted") != 0 && strcmp(st, "Running") != 0) {
            done = 1;
            ok = strcmp(st, "Succeeded") == 0;
        }
        http_resp_release(&r);
        if (done) return ok;
        usleep(100 * 1000);
    }
    return 0;
}

static long start_run(const char *grp, char *run, size_t len)
{
    struct http_resp r;
    long st = call("POST", jfmt(GRP "/%s/runs", grp), "{\"runType\":\"kRegular\"}", &r);
    snprintf(run, len, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    return st;
}

#define HOURLY(name, unit, dur)                                                                               \
    jfmt("{'name':'%s','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Hours','hourSchedule':"   \
        "{'frequency':1}}},'retention':{'unit':'%s','duration':%d}}}}", name, unit, dur)

static const char *group_body(const char *name, const char *pol, const char *extra)
{
    return jfmt("{'name':'%s','policyId':'%s','environment':'kPhysical','physicalParams':{'protectionType':'kFile',"
               "'fileProtectionTypeParams':{'objects':[{'id':%lld,'filePaths':[{'includedPath':'%s'}]}]}}%s}",
               name, pol, host, tree, extra);
}

TEST(setup)
{
    struct http_resp r;
    char p[700];
    CHECK_EQ_INT(status_of("POST", "/v2/coffer-test/clock", jfmt("{'nowUsecs':%lld}", T0)), 200);
    snprintf(tree, sizeof tree, "%s/tree", g_tmp);
    CHECK(mkdir(tree, 0755) == 0);
    for (int i = 0; i < 3; i++) {
        FILE *f;
        snprintf(p, sizeof p, "%s/f%d.txt", tree, i);
        f = fopen(p, "w");
        CHECK(f != NULL);
        for (int k = 0; k < 1000 * (i + 1); k++) fprintf(f, "line %d of file %d\n", k, i);
        CHECK(fclose(f) == 0);
    }
    CHECK_EQ_INT(call("POST", SRC, "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"127.0.0.1\","
                                   "\"hostType\":\"kLinux\"}}", &r), 201);
    host = jint(r.json, "sourceInfo.id");
    http_resp_release(&r);
    CHECK(host > 0);
    CHECK_EQ_INT(post_id(POL, HOURLY("weekly-keep", "Days", 7), policy, sizeof policy), 201);
    /* 100000 years from 2030 is past 9999: the runs are kept without expiry */
    CHECK_EQ_INT(post_id(POL, HOURLY("forever", "Years", 100000), policy_forever, sizeof policy_forever), 201);
    CHECK_EQ_INT(post_id(GRP, group_body("files", policy, ",'isPaused':false"), group, sizeof group), 201);
    CHECK_EQ_INT(post_id(GRP, group_body("kept", policy_forever, ""), group_forever, sizeof group_forever), 201);
    CHECK_EQ_INT(start_run(group, run_a, sizeof run_a), 202);
    CHECK(wait_run(group, run_a, 120));
    CHECK_EQ_INT(start_run(group, run_b, sizeof run_b), 202);
    CHECK(wait_run(group, run_b, 120));
    CHECK_EQ_INT(start_run(group_forever, run_forever, sizeof run_forever), 202);
    CHECK(wait_run(group_forever, run_forever, 120));
    CHECK_EQ_INT(call("GET", jfmt("/v2/data-protect/objects/%lld/snapshots?protectionGroupIds=%s", host, group), NULL, &r),
                 200);
    for (size_t i = 0; i < json_array_size(jget(r.json, "snapshots")); i++) {
        json_t *s = json_array_get(jget(r.json, "snapshots"), i);
        if (jstr(s, "protectionGroupRunId") && strcmp(jstr(s, "protectionGroupRunId"), run_a) == 0)
            snprintf(snap_a, sizeof snap_a, "%s", jstr(s, "id"));
    }
    http_resp_release(&r);
    CHECKF(snap_a[0], "no snapshot of run %s listed", run_a);
    /* the policy's 7 days, from the run's start */
    CHECK(expiry_of(group, run_a) > T0 + 7 * DAY - 60000000LL && expiry_of(group, run_a) < T0 + 8 * DAY);
    CHECK_EQ_INT(expiry_of(group_forever, run_forever), 0);
}

/* ---------- daysToKeep ---------- */

static long put_days(const char *grp, const char *run, const char *days, struct http_resp *r)
{
    return call("PUT", jfmt(GRP "/%s/runs", grp),
                jfmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':{'daysToKeep':%s}}]}", run,
                    days), r);
}

TEST(days_to_keep_extremes_never_shorten_retention)
{
    /* want: 400 refused; 1 accepted (successfulRunIds); 2 failed for this run (failedRuns naming the field) */
    static const struct { const char *v; int want; long long delta_days; } cases[] = {
        { "106751992", 400, 0 },                { "9223372036854775807", 400, 0 },
        { "-9223372036854775808", 400, 0 },     { "2147483647", 400, 0 },
        { "-2147483648", 400, 0 },              { "1e300", 400, 0 },
        { "-1e300", 400, 0 },                   { "9223372036854775808", 400, 0 },
        { "1.5", 400, 0 },                      { "\"5\"", 400, 0 },
        { "2932897", 400, 0 },                  { "-2932897", 400, 0 },
        { "2932896", 2, 0 },                    { "0", 1, 0 },
        { "1", 1, 1 },                          { "36500", 1, 36500 },
    };
    long long before = expiry_of(group, run_a), start;
    CHECK(before > T0);
    CHECK(sscanf(run_a, "%*d:%lld", &start) == 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_resp r;
        long st = put_days(group, run_a, cases[i].v, &r);
        long long after;
        CHECKF(st > 0 && st < 500, "daysToKeep %s: %ld %s", cases[i].v, st, r.body);
        if (cases[i].want == 400) {
            CHECKF(st == 400, "daysToKeep %s: %ld %s", cases[i].v, st, r.body);
            /* the message names the field (a number too big for JSON is refused by the parser first) */
            if (strcmp(cases[i].v, "9223372036854775808") != 0)
                CHECKF(jstr(r.json, "message") && strstr(jstr(r.json, "message"), "daysToKeep"), "%s: %s", cases[i].v,
                       r.body);
        } else if (cases[i].want == 1) {
            CHECKF(st == 207 && json_array_size(jget(r.json, "successfulRunIds")) == 1, "%s: %s", cases[i].v, r.body);
        } else {
            CHECKF(st == 207 && json_array_size(jget(r.json, "failedRuns")) == 1 &&
                       strstr(jstr(r.json, "failedRuns.0.errorMessage"), "daysToKeep"),
                   "%s: %s", cases[i].v, r.body);
        }
        http_resp_release(&r);
        after = expiry_of(group, run_a);
        CHECKF(after == before + cases[i].delta_days * DAY, "daysToKeep %s: expiry %lld -> %lld", cases[i].v, before,
               after);
        CHECKF(after >= start && after <= MAX_TIME, "daysToKeep %s: expiry %lld", cases[i].v, after);
        before = after;
    }
    /* The biggest extension that still fits ends exactly at the last stored instant; more is refused. */
    {
        struct http_resp r;
        long long room = (MAX_TIME - before) / DAY;
        CHECK_EQ_INT(put_days(group, run_a, jfmt("%lld", room + 1), &r), 207);
        CHECK_EQ_INT(json_array_size(jget(r.json, "failedRuns")), 1);
        http_resp_release(&r);
        CHECK_EQ_INT(expiry_of(group, run_a), before);
        CHECK_EQ_INT(put_days(group, run_a, jfmt("%lld", room), &r), 207);
        CHECK_EQ_INT(json_array_size(jget(r.json, "successfulRunIds")), 1);
        http_resp_release(&r);
        CHECK_EQ_INT(expiry_of(group, run_a), before + room * DAY);
        CHECK(expiry_of(group, run_a) <= MAX_TIME);
    }
}

TEST(extending_a_run_kept_without_expiry_keeps_it)
{
    struct http_resp r;
    CHECK_EQ_INT(put_days(group_forever, run_forever, "5", &r), 207);
    CHECK_EQ_INT(json_array_size(jget(r.json, "successfulRunIds")), 1);
    http_resp_release(&r);
    CHECK_EQ_INT(expiry_of(group_forever, run_forever), 0); /* not start + 5 days */
    CHECK_EQ_INT(put_days(group_forever, run_forever, "9223372036854775807", &r), 400);
    http_resp_release(&r);
    CHECK_EQ_INT(expiry_of(group_forever, run_forever), 0);
}

static int snapshot_listed(const char *run)
{
    struct http_resp r;
    int found = 0;
    if (call("GET", jfmt("/v2/data-protect/objects/%lld/snapshots", host), NULL, &r) != 200) {
        http_resp_release(&r);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(jget(r.json, "snapshots")); i++) {
        const char *id = jstr(json_array_get(jget(r.json, "snapshots"), i), "protectionGroupRunId");
        if (id && strcmp(id, run) == 0) found = 1;
    }
    http_resp_release(&r);
    return found;
}

TEST(the_retention_pass_keeps_the_extended_snapshot)
{
    struct http_resp r;
    int gone = 0;
    /* The control: run_b's retention reduced far into the past (an explicit reduction) expires it. */
    CHECK_EQ_INT(put_days(group, run_b, jfmt("%lld", -MAX_DAYS), &r), 207);
    CHECK_EQ_INT(json_array_size(jget(r.json, "successfulRunIds")), 1);
    http_resp_release(&r);
    CHECK_EQ_INT(expiry_of(group, run_b), 1);
    CHECK_EQ_INT(snapshot_listed(run_a), 1);
    /* The housekeeping pass runs every 30 s of real time. */
    for (int i = 0; i < 450 && !gone; i++) {
        gone = snapshot_listed(run_b) == 0;
        if (!gone) usleep(100 * 1000);
    }
    CHECKF(gone, "the reduced snapshot of %s was not deleted within 45 s", run_b);
    CHECK_EQ_INT(snapshot_listed(run_a), 1);
    CHECK_EQ_INT(snapshot_listed(run_forever), 1);
    CHECK(expiry_of(group, run_a) > T0 + 36500 * DAY);
}

/* ---------- every other number that becomes a time or a size ---------- */

struct num_field {
    const char *method, *path, *body; /* @V: the value, @N: a fresh name; body NULL: path holds @V (query) */
    const char *field;                /* what the 400 must name */
    long long min, max;               /* the documented range */
    int strict;                       /* 1: inside is 2xx; 0: inside may also be a 4xx for another reason */
};

static const char *const g_extremes[] = { "0", "-1", "1", "2147483647", "-2147483648", "9223372036854775807",
                                          "-9223372036854775808", "1e300", "-1e300", "9223372036854775808", NULL };

static int is_int(const char *v, long long *out)
{
    char *end;
    long long n;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || *end) return 0;
    *out = n;
    return 1;
}

static void check_value(const struct num_field *f, const char *v)
{
    struct http_resp r;
    const char *path = f->body ? f->path : subst(f->path, v);
    char pathbuf[2048];
    long long n;
    long st;
    int inside;
    snprintf(pathbuf, sizeof pathbuf, "%s", path);
    st = call(f->method, pathbuf, f->body ? subst(f->body, v) : NULL, &r);
    inside = is_int(v, &n) && n >= f->min && n <= f->max;
    if (!(st > 0 && st < 500)) check_fail(__FILE__, __LINE__, "%s %s=%s: %ld %s", pathbuf, f->field, v, st, r.body);
    else if (inside && f->strict && (st < 200 || st > 299))
        check_fail(__FILE__, __LINE__, "%s %s=%s (inside [%lld, %lld]): %ld %s", pathbuf, f->field, v, f->min, f->max,
                   st, r.body);
    else if (!inside && st != 400)
        check_fail(__FILE__, __LINE__, "%s %s=%s (outside [%lld, %lld]): %ld %s, want 400", pathbuf, f->field, v,
                   f->min, f->max, st, r.body);
    else if (st == 400 && !(f->body && strcmp(v, "9223372036854775808") == 0) &&
             !(jstr(r.json, "message") && strstr(jstr(r.json, "message"), f->field)))
        check_fail(__FILE__, __LINE__, "%s %s=%s: 400 does not name the field: %s", pathbuf, f->field, v, r.body);
    http_resp_release(&r);
}

static void sweep(const struct num_field *fields, size_t n)
{
    for (size_t i = 0; i < n && !check_failed(); i++) {
        const struct num_field *f = &fields[i];
        for (const char *const *v = g_extremes; *v && !check_failed(); v++) check_value(f, *v);
        if (f->min > INT64_MIN && !check_failed()) check_value(f, jfmt("%lld", f->min - 1));
        if (!check_failed()) check_value(f, jfmt("%lld", f->min));
        if (!check_failed()) check_value(f, jfmt("%lld", f->max));
        if (f->max < INT64_MAX && !check_failed()) check_value(f, jfmt("%lld", f->max + 1));
    }
}

#define POLICY_T(retention, freq, extra)                                                                       \
    "{'name':'@N','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Hours','hourSchedule':"        \
    "{'frequency':" freq "}}},'retention':{'unit':'Days','duration':" retention "}}}" extra "}"

TEST(policy_numbers)
{
    static const struct num_field f[] = {
        { "POST", POL, POLICY_T("@V", "1", ""), "retention.duration", 1, 100000, 1 },
        { "POST", POL, POLICY_T("7", "@V", ""), "hourSchedule.frequency", 1, 100000, 1 },
        { "POST", POL, POLICY_T("7", "1", ",'retryOptions':{'retries':@V}"), "retryOptions.retries", 0, 1000, 1 },
        { "POST", POL, POLICY_T("7", "1", ",'retryOptions':{'retryIntervalMins':@V}"), "retryIntervalMins", 0, 100000,
          1 },
        { "POST", POL,
          "{'name':'@N','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Hours','hourSchedule':"
          "{'frequency':1}}},'retention':{'unit':'Days','duration':7,'dataLockConfig':{'mode':'Compliance',"
          "'unit':'Days','duration':@V}}}}}",
          "dataLockConfig.duration", 1, 100000, 1 },
        { "POST", POL,
          "{'name':'@N','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days','daySchedule':"
          "{'frequency':@V}}},'retention':{'unit':'Years','duration':1}}}}",
          "daySchedule.frequency", 1, 100000, 1 },
    };
    sweep(f, sizeof f / sizeof f[0]);
}

TEST(group_numbers)
{
    static char bodies[4][2048];
    struct num_field f[] = {
        { "POST", GRP, bodies[0], "endTimeUsecs", 0, MAX_TIME, 1 },
        { "POST", GRP, bodies[1], "slaMinutes", 1, 1000000, 1 },
        { "POST", GRP, bodies[2], "timeoutMins", 1, 1000000, 1 },
        { "POST", GRP, bodies[3], "startTime.hour", 0, 23, 1 },
    };
#define GROUP_T(top, params)                                                                                   \
    "{'name':'@N','policyId':'%s','environment':'kPhysical','isPaused':true," top                               \
    "'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':{" params "'objects':[{'id':%lld,"  \
    "'filePaths':[{'includedPath':'/tmp'}]}]}}}"
    snprintf(bodies[0], sizeof bodies[0], GROUP_T("'endTimeUsecs':@V,", ""), policy, host);
    snprintf(bodies[1], sizeof bodies[1], GROUP_T("'sla':[{'backupRunType':'kIncremental','slaMinutes':@V}],", ""),
             policy, host);
    snprintf(bodies[2], sizeof bodies[2], GROUP_T("", "'taskTimeouts':[{'timeoutMins':@V,'backupType':'kRegular'}],"),
             policy, host);
    snprintf(bodies[3], sizeof bodies[3], GROUP_T("'startTime':{'hour':@V,'minute':0},", ""), policy, host);
    sweep(f, sizeof f / sizeof f[0]);
}

TEST(query_and_search_numbers)
{
    static char p[12][1024];
    struct num_field f[] = {
        { "GET", p[0], NULL, "numRuns", 0, INT64_MAX, 1 },
        { "GET", p[1], NULL, "startTimeUsecs", 0, INT64_MAX, 1 },
        { "GET", p[2], NULL, "endTimeUsecs", 0, INT64_MAX, 1 },
        { "GET", REC "?startTimeUsecs=@V", NULL, "startTimeUsecs", INT64_MIN, INT64_MAX, 1 },
        { "GET", "/v2/data-protect/search/objects?count=@V", NULL, "count", 1, 1000, 1 },
        { "POST", "/v2/data-protect/search/indexed-objects", "{'objectType':'Files','count':@V}", "count", 1, 1000, 1 },
        { "GET", p[3], NULL, "startOffset", 0, INT64_MAX, 0 },   /* past the end: 416 */
        { "GET", p[4], NULL, "length", 1, 8388608, 1 },
        { "GET", "/irisservices/api/v1/public/protectionSources?pageSize=@V", NULL, "pageSize", 1, INT64_MAX, 1 },
        { "GET", p[5], NULL, "fromTimeUsecs", INT64_MIN, INT64_MAX, 1 },
        { "GET", "/v2/data-protect/search/protected-objects?filterSnapshotFromUsecs=@V", NULL,
          "filterSnapshotFromUsecs", INT64_MIN, INT64_MAX, 1 },
        { "POST", "/v2/data-protect/snapshots/restore-points",
          "{'startTimeUsecs':@V,'endTimeUsecs':9223372036854775807,'environment':'kPhysical',"
          "'protectionGroupIds':['x']}", "startTimeUsecs", 0, INT64_MAX, 1 },
        { "GET", p[6], NULL, "maxTasksNum", INT64_MIN, INT64_MAX, 1 },
        { "GET", p[7], NULL, "retryAttempt", 0, INT64_MAX, 1 },
    };
    snprintf(p[0], sizeof p[0], GRP "/%s/runs?numRuns=@V", group);
    snprintf(p[1], sizeof p[1], GRP "/%s/runs?startTimeUsecs=@V", group);
    snprintf(p[2], sizeof p[2], GRP "/%s/runs?endTimeUsecs=@V", group);
    snprintf(p[3], sizeof p[3], "/v2/data-protect/snapshots/%s/download-file?filePath=%s/f0.txt&startOffset=@V", snap_a,
             tree);
    snprintf(p[4], sizeof p[4], "/v2/data-protect/snapshots/%s/download-file?filePath=%s/f0.txt&length=@V", snap_a,
             tree);
    snprintf(p[5], sizeof p[5], "/v2/data-protect/objects/%lld/snapshots?fromTimeUsecs=@V", host);
    snprintf(p[6], sizeof p[6], "/v2/data-protect/runs/%s/progress?maxTasksNum=@V", run_a);
    snprintf(p[7], sizeof p[7], "/v2/data-protect/snapshots/%s/download-file?filePath=%s/f0.txt&retryAttempt=@V", snap_a,
             tree);
    sweep(f, sizeof f / sizeof f[0]);
}

TEST(test_clock_numbers)
{
    struct http_resp r;
    long long now;
    CHECK_EQ_INT(call("GET", "/v2/coffer-test/clock", NULL, &r), 200);
    now = jint(r.json, "nowUsecs");
    http_resp_release(&r);
    CHECK_EQ_INT(status_of("POST", "/v2/coffer-test/clock", "{\"advanceUsecs\":9223372036854775807}"), 400);
    CHECK_EQ_INT(status_of("POST", "/v2/coffer-test/clock", "{\"advanceUsecs\":-9223372036854775808}"), 400);
    CHECK_EQ_INT(status_of("POST", "/v2/coffer-test/clock", jfmt("{'advanceUsecs':%lld}", MAX_TIME - now + 1)), 400);
    CHECK_EQ_INT(status_of("POST", "/v2/coffer-test/clock", "{\"nowUsecs\":-1}"), 400);
    CHECK_EQ_INT(status_of("POST", "/v2/coffer-test/clock", jfmt("{'nowUsecs':%lld}", MAX_TIME + 1)), 400);
    CHECK_EQ_INT(call("GET", "/v2/coffer-test/clock", NULL, &r), 200);
    CHECK(jint(r.json, "nowUsecs") >= now && jint(r.json, "nowUsecs") < now + 60000000LL); /* unmoved */
    http_resp_release(&r);
}

/* ---------- nulls ---------- */

/* same_as_absent: POSTs/PUTs plain and with_nulls (to path, or to path_nulls for a second resource);
 * both must answer the same status; the documents answered (and, when get_fmt is given, read back)
 * must be equal but for volatile keys, and hold no null. */
static void same_as_absent(const char *method, const char *path, const char *path2, const char *plain,
                           const char *with_nulls, const char *get1, const char *get2)
{
    struct http_resp a, b;
    long sa = call(method, path, plain, &a), sb = call(method, path2 ? path2 : path, with_nulls, &b);
    json_t *ja, *jb;
    if (sa != sb || sa < 200 || sa > 299) {
        check_fail(__FILE__, __LINE__, "%s %s: plain %ld %s, with nulls %ld %s", method, path, sa, a.body, sb, b.body);
    } else if (has_null(b.json)) {
        check_fail(__FILE__, __LINE__, "%s %s echoed a null: %s", method, path, b.body);
    } else if (a.json && b.json) {
        ja = stripped(a.json);
        jb = stripped(b.json);
        if (!json_equal(ja, jb))
            check_fail(__FILE__, __LINE__, "%s %s: with nulls answered\n%s\nnot\n%s", method, path, b.body, a.body);
        json_decref(ja);
        json_decref(jb);
    }
    http_resp_release(&a);
    http_resp_release(&b);
    if (check_failed() || !get1) return;
    call("GET", get1, NULL, &a);
    call("GET", get2 ? get2 : get1, NULL, &b);
    if (a.status != 200 || b.status != 200 || has_null(b.json)) {
        check_fail(__FILE__, __LINE__, "GET %s: %ld %s / %ld %s", get1, a.status, a.body, b.status, b.body);
    } else {
        ja = stripped(a.json);
        jb = stripped(b.json);
        if (!json_equal(ja, jb)) check_fail(__FILE__, __LINE__, "stored with nulls:\n%s\nnot\n%s", b.body, a.body);
        json_decref(ja);
        json_decref(jb);
    }
    http_resp_release(&a);
    http_resp_release(&b);
}

static char *dup_id(const char *path, const char *body)
{
    char id[128];
    if (post_id(path, body, id, sizeof id) != 201) return NULL;
    return strdup(id);
}

#define POL_PLAIN(name)                                                                                        \
    jfmt("{'name':'%s','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Hours','hourSchedule':"    \
        "{'frequency':2}}},'retention':{'unit':'Days','duration':3}}}}", name)
#define POL_NULLS(name)                                                                                        \
    jfmt("{'name':'%s','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Hours','hourSchedule':"    \
        "{'frequency':2},'minuteSchedule':null,'daySchedule':null,'weekSchedule':null,'monthSchedule':null,"   \
        "'yearSchedule':null}},'full':null,'fullBackups':null,'retention':{'unit':'Days','duration':3,"        \
        "'dataLockConfig':null},'primaryBackupTarget':null},'log':null,'bmr':null,'cdp':null,"                 \
        "'storageArraySnapshot':null,'runTimeouts':null},'description':null,'blackoutWindow':null,"            \
        "'extendedRetention':null,'remoteTargetPolicy':null,'cascadedTargetsConfig':null,'retryOptions':null," \
        "'dataLock':null,'version':null,'isCBSEnabled':null,'lastModificationTimeUsecs':null,'templateId':null}", name)

TEST(null_means_absent_in_policies)
{
    char *p1 = NULL, *p2 = NULL;
    struct http_resp r;
    same_as_absent("POST", POL, NULL, POL_PLAIN("n-plain"), POL_NULLS("n-nulls"), NULL, NULL);
    CHECK(!check_failed());
    CHECK((p1 = dup_id(POL, POL_PLAIN("n-up1"))) != NULL);
    CHECK((p2 = dup_id(POL, POL_PLAIN("n-up2"))) != NULL);
    same_as_absent("PUT", jfmt(POL "/%s", p1), jfmt(POL "/%s", p2), POL_PLAIN("n-up1"), POL_NULLS("n-up2"),
                   jfmt(POL "/%s", p1), jfmt(POL "/%s", p2));
    free(p1);
    free(p2);
    /* null where a value is required: a 400 naming the field */
    CHECK_EQ_INT(call("POST", POL, "{\"name\":null,\"backupPolicy\":{}}", &r), 400);
    CHECK(strstr(jstr(r.json, "message"), "'name'") != NULL);
    http_resp_release(&r);
    CHECK_EQ_INT(call("POST", POL, jfmt("{'name':'n-x','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':"
                                       "'Hours','hourSchedule':{'frequency':2}}},'retention':null}}}"), &r), 400);
    CHECK(strstr(jstr(r.json, "message"), "retention") != NULL);
    http_resp_release(&r);
}

static const char *grp_plain(const char *name)
{
    return jfmt("{'name':'%s','policyId':'%s','environment':'kPhysical','isPaused':true,'physicalParams':{"
               "'protectionType':'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld,'filePaths':[{"
               "'includedPath':'%s'}]}]}}}", name, policy, host, tree);
}

static const char *grp_nulls(const char *name)
{
    return jfmt("{'name':'%s','policyId':'%s','environment':'kPhysical','isPaused':true,'priority':null,"
               "'description':null,'startTime':null,'endTimeUsecs':null,'lastModifiedTimestampUsecs':null,"
               "'alertPolicy':null,'sla':null,'qosPolicy':null,'abortInBlackouts':null,'pauseInBlackouts':null,"
               "'advancedConfigs':null,'mssqlParams':null,'kubernetesParams':null,'physicalParams':{"
               "'protectionType':'kFile','volumeProtectionTypeParams':null,'fileProtectionTypeParams':{"
               "'objects':[{'id':%lld,'name':null,'excludedVssWriters':null,'usesPathLevelSkipNestedVolumeSetting':null,"
               "'nestedVolumeTypesToSkip':null,'followNasSymlinkTarget':null,'metadataFilePath':null,'filePaths':[{"
               "'includedPath':'%s','excludedPaths':null,'skipNestedVolumes':null}]}],'indexingPolicy':null,"
               "'prePostScript':null,'taskTimeouts':null,'excludedVssWriters':null,'performSourceSideDeduplication':null,"
               "'quiesce':null,'continueOnQuiesceFailure':null,'cobmrBackup':null,'dedupExclusionSourceIds':null,"
               "'globalExcludePaths':null,'globalExcludeFS':null,'ignorableErrors':null,'allowParallelRuns':null}}}",
               name, policy, host, tree);
}

TEST(null_means_absent_in_groups)
{
    char *g1 = NULL, *g2 = NULL;
    struct http_resp r;
    same_as_absent("POST", GRP, NULL, grp_plain("ng-plain"), grp_nulls("ng-nulls"), NULL, NULL);
    CHECK(!check_failed());
    CHECK((g1 = dup_id(GRP, grp_plain("ng-up1"))) != NULL);
    CHECK((g2 = dup_id(GRP, grp_plain("ng-up2"))) != NULL);
    same_as_absent("PUT", jfmt(GRP "/%s", g1), jfmt(GRP "/%s", g2), grp_plain("ng-up1"), grp_nulls("ng-up2"),
                   jfmt(GRP "/%s", g1), jfmt(GRP "/%s", g2));
    free(g1);
    free(g2);
    CHECK_EQ_INT(call("POST", GRP, jfmt("{'name':'ng-x','policyId':null,'environment':'kPhysical'}"), &r), 400);
    CHECK(strstr(jstr(r.json, "message"), "policyId") != NULL);
    http_resp_release(&r);
}

TEST(null_means_absent_in_runs_recoveries_search_sources_connections)
{
    struct http_resp r;
    char *c1 = NULL;
    /* runs: update (create is checked by the schedule test below and here) */
    same_as_absent("PUT", jfmt(GRP "/%s/runs", group), NULL,
                   jfmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':{'enableLegalHold':false}}]}",
                       run_a),
                   jfmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':{'enableLegalHold':false,"
                       "'deleteSnapshot':null,'dataLock':null,'daysToKeep':null},'replicationSnapshotConfig':null,"
                       "'archivalSnapshotConfig':null}]}", run_a),
                   NULL, NULL);
    CHECK(!check_failed());
    CHECK_EQ_INT(call("PUT", jfmt(GRP "/%s/runs", group),
                      "{\"updateProtectionGroupRunParams\":[{\"runId\":null,\"localSnapshotConfig\":{}}]}", &r), 400);
    CHECK(strstr(jstr(r.json, "message"), "runId") != NULL);
    http_resp_release(&r);
    /* search */
    same_as_absent("POST", "/v2/data-protect/search/indexed-objects", NULL, "{\"objectType\":\"Files\"}",
                   "{\"objectType\":\"Files\",\"fileParams\":null,\"protectionGroupIds\":null,\"storageDomainIds\":null,"
                   "\"paginationCookie\":null,\"count\":null,\"tenantId\":null,\"includeTenants\":null,"
                   "\"useCachedData\":null}", NULL, NULL);
    CHECK(!check_failed());
    same_as_absent("POST", "/v2/data-protect/snapshots/restore-points", NULL,
                   jfmt("{'startTimeUsecs':0,'endTimeUsecs':%lld,'environment':'kPhysical','protectionGroupIds':['%s']}",
                       MAX_TIME, group),
                   jfmt("{'startTimeUsecs':0,'endTimeUsecs':%lld,'environment':'kPhysical','protectionGroupIds':['%s'],"
                       "'sourceId':null}", MAX_TIME, group),
                   NULL, NULL);
    CHECK(!check_failed());
    /* source registration update */
    same_as_absent("PUT", jfmt(SRC "/%lld", host), NULL,
                   "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"127.0.0.1\",\"hostType\":\"kLinux\"}}",
                   "{\"environment\":\"kPhysical\",\"name\":null,\"isInternalEncrypted\":null,\"encryptionKey\":null,"
                   "\"connectionId\":null,\"connections\":null,\"connectorGroupId\":null,\"advancedConfigs\":null,"
                   "\"lastModifiedTimestampUsecs\":null,\"physicalParams\":{\"endpoint\":\"127.0.0.1\","
                   "\"hostType\":\"kLinux\",\"forceRegister\":null,\"physicalType\":null,\"applications\":null}}",
                   jfmt(SRC "/%lld", host), NULL);
    CHECK(!check_failed());
    /* connections */
    same_as_absent("POST", "/v2/data-source-connections", NULL, "{\"connectionName\":\"c-plain\"}",
                   "{\"connectionName\":\"c-nulls\",\"connectionEnvType\":null,\"ipAddresses\":null}", NULL, NULL);
    CHECK(!check_failed());
    CHECK_EQ_INT(call("GET", "/v2/data-source-connections?connectionNames=c-nulls", NULL, &r), 200);
    CHECK(!has_null(r.json));
    c1 = strdup(jstr(r.json, "connections.0.connectionId") ? jstr(r.json, "connections.0.connectionId") : "");
    http_resp_release(&r);
    CHECK(c1 && *c1);
    CHECK_EQ_INT(status_of("PATCH", jfmt("/v2/data-source-connections/%s", c1), "{\"connectionName\":\"c-nulls2\"}"),
                 200);
    free(c1);
    /* recoveries and downloads: accepted, stored and echoed without nulls */
    {
        const char *plain =
            jfmt("{'name':'r-plain','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':'%s'}],"
                "'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':{'filesAndFolders':[{'absolutePath':"
                "'%s/f0.txt'}],'targetEnvironment':'kPhysical','physicalTargetParams':{'recoverTarget':{'id':%lld},"
                "'alternateRestoreDirectory':'%s/alt1/'}}}}", snap_a, tree, host, g_tmp);
        const char *nulls =
            jfmt("{'name':'r-nulls','snapshotEnvironment':'kPhysical','mssqlParams':null,'kubernetesParams':null,"
                "'physicalParams':{'objects':[{'snapshotId':'%s','pointInTimeUsecs':null,'protectionGroupId':null,"
                "'protectionGroupName':null,'recoverFromStandby':null}],'recoveryAction':'RecoverFiles',"
                "'recoverVolumeParams':null,'mountVolumeParams':null,'downloadFileAndFolderParams':null,"
                "'systemRecoveryParams':null,'recoverFileAndFolderParams':{'filesAndFolders':[{'absolutePath':"
                "'%s/f0.txt','isDirectory':null,'isViewFileRecovery':null}],'targetEnvironment':'kPhysical',"
                "'physicalTargetParams':{'recoverTarget':{'id':%lld,'name':null,'parentSourceId':null,"
                "'parentSourceName':null},'restoreToOriginalPaths':null,'overwriteExisting':null,"
                "'alternateRestoreDirectory':'%s/alt2/','preserveAttributes':null,'preserveTimestamps':null,"
                "'preserveAcls':null,'continueOnError':null,'saveSuccessLogs':null,'vlanConfig':null,"
                "'restoreEntityType':null}}}}", snap_a, tree, host, g_tmp);
        struct http_resp a, b;
        CHECK_EQ_INT(call("POST", REC, plain, &a), 201);
        CHECK_EQ_INT(call("POST", REC, nulls, &b), 201);
        CHECK(!has_null(b.json));
        CHECK(json_equal(jget(a.json, "physicalParams.recoverFileAndFolderParams.physicalTargetParams.recoverTarget"),
                         jget(b.json, "physicalParams.recoverFileAndFolderParams.physicalTargetParams.recoverTarget")));
        http_resp_release(&a);
        http_resp_release(&b);
        CHECK_EQ_INT(call("POST", REC "/download-files-folders",
                          jfmt("{'name':'d-nulls','object':{'snapshotId':'%s'},'filesAndFolders':[{'absolutePath':"
                              "'%s/f1.txt','isDirectory':null}],'documents':null,'parentRecoveryId':null,"
                              "'glacierRetrievalType':null}", snap_a, tree), &b), 201);
        CHECK(!has_null(b.json));
        http_resp_release(&b);
        CHECK_EQ_INT(call("GET", REC, NULL, &b), 200);
        CHECK(json_array_size(jget(b.json, "recoveries")) >= 3);
        CHECK(!has_null(b.json));
        http_resp_release(&b);
    }
}

/* ---------- booleans ---------- */

static int has_object(json_t *objects, long long id)
{
    for (size_t i = 0; i < json_array_size(objects); i++)
        if (jint(json_array_get(objects, i), "id") == id) return 1;
    return 0;
}

TEST(booleans_in_any_case_and_unknown_values_refused)
{
    struct http_resp r;
    char rec_id[128] = "";
    char run_path[256];
    const char *ok_paths[12];
    snprintf(run_path, sizeof run_path, GRP "/%s/runs/%s", group, run_a);
    {
    const char *const ok[] = {
        jfmt(POL "?includeStats=True"),
        jfmt(GRP "?includeLastRunInfo=True&isActive=TRUE&isPaused=False&isDeleted=FALSE"),
        jfmt(GRP "/%s?includeLastRunInfo=True", group),
        jfmt(GRP "/%s/runs?includeObjectDetails=True&excludeNonRestorableRuns=False&useCachedData=TRUE", group),
        jfmt("%s?includeObjectDetails=TRUE&includeTenants=True", run_path),
        jfmt("/v2/data-protect/runs/%s/progress?excludeObjectDetails=True&includeTenants=False", run_a),
        "/v2/data-protect/search/objects?isProtected=True&includeDeletedObjects=False",
        "/v2/data-protect/search/protected-objects?cdpProtectedOnly=False&useCachedData=True",
        REC "?returnOnlyChildRecoveries=False",
        SRC "?includeSourceCredentials=False",
        REC "?archivalTargetType=Tape",
        jfmt(GRP "/%s/runs?replicationRunStatus=Succeeded&snapshotTargetTypes=Local", group),
    };
    memcpy(ok_paths, ok, sizeof ok_paths);
    }
    for (size_t i = 0; i < sizeof ok_paths / sizeof ok_paths[0]; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s", ok_paths[i]);
        CHECKF(status_of("GET", p, NULL) == 200, "GET %s", p);
    }
    /* True has the effect of true, FALSE of false */
    CHECK_EQ_INT(call("GET", jfmt("%s?includeObjectDetails=True", run_path), NULL, &r), 200);
    CHECK(json_array_size(jget(r.json, "objects")) == 1);
    http_resp_release(&r);
    CHECK_EQ_INT(call("GET", jfmt("%s?includeObjectDetails=FALSE", run_path), NULL, &r), 200);
    CHECK(json_array_size(jget(r.json, "objects")) == 0);
    http_resp_release(&r);
    /* the host is protected: listed with isProtected=True, not with isProtected=FALSE */
    CHECK_EQ_INT(call("GET", "/v2/data-protect/search/objects?isProtected=True", NULL, &r), 200);
    CHECK(has_object(jget(r.json, "objects"), host));
    http_resp_release(&r);
    CHECK_EQ_INT(call("GET", "/v2/data-protect/search/objects?isProtected=FALSE", NULL, &r), 200);
    CHECK(!has_object(jget(r.json, "objects"), host));
    http_resp_release(&r);
    CHECK_EQ_INT(call("GET", REC, NULL, &r), 200);
    if (jstr(r.json, "recoveries.0.id")) snprintf(rec_id, sizeof rec_id, "%s", jstr(r.json, "recoveries.0.id"));
    http_resp_release(&r);
    CHECK(rec_id[0]);
    CHECK_EQ_INT(status_of("GET", jfmt(REC "/%s?includeTenants=True", rec_id), NULL), 200);
    /* unknown values of known parameters: 400 naming the parameter, on every route that takes one */
    {
        const char *bad[][2] = {
            { jfmt(REC "/%s?includeTenants=bogus", rec_id), "includeTenants" },
            { jfmt(REC "/%s/download-files?includeTenants=yes", rec_id), "includeTenants" },
            { jfmt("%s?includeTenants=bogus", run_path), "includeTenants" },
            { jfmt("%s?useCachedData=2", run_path), "useCachedData" },
            { jfmt(GRP "/%s/runs?filterByEndTime=maybe", group), "filterByEndTime" },
            { jfmt("/v2/data-protect/runs/%s/progress?includeEventLogs=on", run_a), "includeEventLogs" },
            { jfmt("/v2/data-protect/runs/%s/progress?maxLogLevel=high", run_a), "maxLogLevel" },
            { "/v2/data-protect/search/protected-objects?cdpProtectedOnly=nope", "cdpProtectedOnly" },
            { jfmt("/v2/data-protect/snapshots/%s/download-file?filePath=%s/f0.txt&nvramFile=x", snap_a, tree),
              "nvramFile" },
            { POL "?includeStats=ja", "includeStats" },
            { GRP "?isActive=yes", "isActive" },
            { "/v2/data-protect/search/objects?isProtected=T", "isProtected" },
            { REC "?archivalTargetType=Disk", "archivalTargetType" },
            { jfmt(GRP "/%s/runs?replicationRunStatus=Bogus", group), "replicationRunStatus" },
            { jfmt(GRP "/%s/runs?snapshotTargetTypes=Nope", group), "snapshotTargetTypes" },
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            char p[1024];
            snprintf(p, sizeof p, "%s", bad[i][0]);
            CHECKF(call("GET", p, NULL, &r) == 400 && jstr(r.json, "message") &&
                       strstr(jstr(r.json, "message"), bad[i][1]),
                   "GET %s: %ld %s", p, r.status, r.body);
            http_resp_release(&r);
        }
    }
    /* unknown parameter NAMES stay tolerated */
    CHECK_EQ_INT(status_of("GET", jfmt(REC "/%s?someFutureFlag=bogus", rec_id), NULL), 200);
}

/* ---------- a group created with startTime null runs on its schedule ---------- */

TEST(group_with_null_start_time_runs_on_schedule)
{
    struct http_resp r;
    char g[128];
    int found = 0;
    CHECK_EQ_INT(post_id(GRP, group_body("null-start", policy, ",'startTime':null,'endTimeUsecs':null,'isPaused':null"),
                         g, sizeof g), 201);
    CHECK_EQ_INT(call("GET", jfmt(GRP "/%s", g), NULL, &r), 200);
    CHECK(jget(r.json, "startTime") == NULL && !has_null(r.json));
    http_resp_release(&r);
    /* One scheduler pass now records the new group as evaluated up to its creation (a group first seen
     * long after it was created starts counting from then). */
    CHECK_EQ_INT(status_of("POST", "/v2/coffer-test/clock", "{\"advanceUsecs\":0}"), 200);
    /* The clock is at 00:10 (+ the tests' real seconds); 01:05 is past the hourly 01:00 slot. */
    CHECK_EQ_INT(call("GET", "/v2/coffer-test/clock", NULL, &r), 200);
    {
        long long now = jint(r.json, "nowUsecs");
        http_resp_release(&r);
        CHECK(now < T0 + 50 * 60000000LL);
        CHECK_EQ_INT(status_of("POST", "/v2/coffer-test/clock", jfmt("{'nowUsecs':%lld}", T0 + 55 * 60000000LL)), 200);
    }
    for (int k = 0; k < 600 && !found; k++) {
        CHECK_EQ_INT(call("GET", jfmt(GRP "/%s/runs", g), NULL, &r), 200);
        for (size_t i = 0; i < json_array_size(jget(r.json, "runs")); i++) {
            json_t *v = json_array_get(jget(r.json, "runs"), i);
            const char *st = jstr(v, "localBackupInfo.status");
            if (json_is_true(jget(v, "localBackupInfo.cofferStats.scheduled")) && st && strcmp(st, "Succeeded") == 0)
                found = 1;
        }
        http_resp_release(&r);
        if (!found) usleep(100 * 1000);
    }
    CHECKF(found, "the group with startTime null had no scheduled run after its 01:00 slot");
    /* and the scheduler did not complain about its startTime */
    {
        FILE *f = fopen(d.log_path, "r");
        char line[2048];
        int complaints = 0;
        CHECK(f != NULL);
        while (fgets(line, sizeof line, f))
            if (strstr(line, "startTime must have")) complaints++;
        fclose(f);
        CHECK_EQ_INT(complaints, 0);
    }
}

int main(void)
{
    static const char *const env[] = { "COFFER_TEST_CLOCK=1", NULL };
    int rc;
    g_tmp = check_tmpdir("limits");
    if (!g_tmp || daemon_start(&d, env) != 0) {
        fprintf(stderr, "cannot start the daemon\n");
        return 1;
    }
    RUN(setup);
    RUN(days_to_keep_extremes_never_shorten_retention);
    RUN(extending_a_run_kept_without_expiry_keeps_it);
    RUN(the_retention_pass_keeps_the_extended_snapshot);
    RUN(policy_numbers);
    RUN(group_numbers);
    RUN(query_and_search_numbers);
    RUN(test_clock_numbers);
    RUN(null_means_absent_in_policies);
    RUN(null_means_absent_in_groups);
    RUN(null_means_absent_in_runs_recoveries_search_sources_connections);
    RUN(booleans_in_any_case_and_unknown_values_refused);
    RUN(group_with_null_start_time_runs_on_schedule);
    rc = daemon_stop(&d);
    if (rc != 0) check_fail(__FILE__, __LINE__, "the daemon did not exit cleanly (status %d)", rc);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
