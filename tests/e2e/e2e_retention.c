/* e2e_retention.c: extendedRetention (GFS) on the real daemon under the test clock.
 *
 * A policy keeps snapshots 1 day, and its extendedRetention keeps the first successful run of each
 * day 7 days, of each week 4 weeks, of each month 12 months, and the first kFull run of each year 3
 * years. Six runs across clock jumps (two on Monday 2030-01-07, Tuesday, the next Monday, a Sunday
 * in February, a kFull the same Sunday): each run's localSnapshotInfo expiryTimeUsecs is its start
 * plus the longest retention of the rules promoting it (never less than its own day), its messages
 * name those rules, and a run no rule promotes keeps its own day. The policy document keeps its
 * extendedRetention on the wire; more than 16 rules is a 400 naming the field. */
#include "check.h"
#include "e2e/harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRC "/v2/data-protect/sources/registrations"
#define POL "/v2/data-protect/policies"
#define GRP "/v2/data-protect/protection-groups"
#define T "gfs-a"
#define DAY 86400000000LL
#define MIN 60000000LL
#define T0 1894004600000000LL /* 2030-01-07T08:23:20Z, a Monday */

static struct daemon d;
static char *g_tmp, policy[128], group[128];

#define GFS_POLICY "{'name':'gfs','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Years'," \
    "'yearSchedule':{'dayOfYear':'First'}}},'retention':{'unit':'Days','duration':1}}}," \
    "'extendedRetention':[{'schedule':{'unit':'Days','frequency':1},'retention':{'unit':'Days','duration':7}}," \
    "{'schedule':{'unit':'Weeks','frequency':1},'retention':{'unit':'Weeks','duration':4}}," \
    "{'schedule':{'unit':'Months','frequency':1},'retention':{'unit':'Months','duration':12}}," \
    "{'schedule':{'unit':'Years','frequency':1},'retention':{'unit':'Years','duration':3},'runType':'Full'}]}"

static int set_clock(long long now)
{
    struct http_resp r;
    int ok = http(&d, "POST", "/v2/coffer-test/clock", NULL, jfmt("{'nowUsecs':%lld}", now), &r) == 0 && r.status == 200;
    http_resp_release(&r);
    return ok ? 0 : -1;
}

/* run_at: the clock to now, a run of type, waited for; *out its JSON (caller decrefs). */
static int run_at(long long now, const char *type, json_t **out)
{
    struct http_resp r;
    char id[64] = "", path[300];
    *out = NULL;
    if (set_clock(now) != 0) return -1;
    snprintf(path, sizeof path, GRP "/%s/runs", group);
    if (http(&d, "POST", path, T, jfmt("{'runType':'%s'}", type), &r) != 0 || r.status != 202) {
        fprintf(stderr, "POST runs: %ld %s\n", r.status, r.body ? r.body : "");
        http_resp_release(&r);
        return -1;
    }
    snprintf(id, sizeof id, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    snprintf(path, sizeof path, GRP "/%s/runs/%s?includeObjectDetails=true", group, id);
    for (int i = 0; i < 600; i++) {
        const char *st;
        if (http(&d, "GET", path, T, NULL, &r) == 0 && r.status == 200 && (st = jstr(r.json, "localBackupInfo.status")) &&
            strcmp(st, "Accepted") != 0 && strcmp(st, "Running") != 0) {
            *out = json_incref(r.json);
            http_resp_release(&r);
            return 0;
        }
        http_resp_release(&r);
        usleep(100 * 1000);
    }
    return -1;
}

static int has_message(json_t *run, const char *part)
{
    size_t i;
    json_t *m;
    json_array_foreach(jget(run, "localBackupInfo.messages"), i, m)
        if (json_string_value(m) && strstr(json_string_value(m), part)) return 1;
    return 0;
}

static long long expiry_of(json_t *run)
{
    return jint(json_array_get(jget(run, "objects"), 0), "localSnapshotInfo.snapshotInfo.expiryTimeUsecs");
}

TEST(setup)
{
    struct http_resp r;
    char p[600];
    long long host;
    FILE *f;
    CHECK(set_clock(T0) == 0);
    snprintf(p, sizeof p, "%s/tree", g_tmp);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/tree/a.txt", g_tmp);
    CHECK((f = fopen(p, "w")) != NULL);
    fputs("gfs keeps me\n", f);
    CHECK(fclose(f) == 0);
    CHECK(http(&d, "POST", SRC, T, jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1',"
                                        "'hostType':'kLinux'}}"), &r) == 0 && r.status == 201);
    host = jint(r.json, "sourceInfo.id");
    http_resp_release(&r);
    {
        /* more rules than Coffer keeps (16) is a 400 naming the field, and creates nothing */
        char rules[4096] = "";
        for (int k = 0; k < 17; k++)
            snprintf(rules + strlen(rules), sizeof rules - strlen(rules), "%s{'schedule':{'unit':'Days','frequency':%d},"
                     "'retention':{'unit':'Days','duration':7}}", k ? "," : "", k + 1);
        CHECK(http(&d, "POST", POL, T, jfmt("{'name':'too-many','backupPolicy':{'regular':{'incremental':{'schedule':"
                                            "{'unit':'Years','yearSchedule':{'dayOfYear':'First'}}},'retention':"
                                            "{'unit':'Days','duration':1}}},'extendedRetention':[%s]}", rules), &r) == 0);
        CHECKF(r.status == 400 && jstr(r.json, "message") && strstr(jstr(r.json, "message"), "extendedRetention"),
               "%ld %s", r.status, r.body);
        http_resp_release(&r);
        CHECK(http(&d, "GET", POL, T, NULL, &r) == 0 && r.status == 200);
        CHECK(!strstr(r.body, "too-many"));
        http_resp_release(&r);
    }
    CHECK(http(&d, "POST", POL, T, jfmt(GFS_POLICY), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(policy, sizeof policy, "%s", jstr(r.json, "id"));
    CHECK(json_array_size(jget(r.json, "extendedRetention")) == 4);
    http_resp_release(&r);
    CHECK(http(&d, "POST", GRP, T, jfmt("{'name':'gfs','policyId':'%s','environment':'kPhysical',"
                                       "'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':"
                                       "{'objects':[{'id':%lld,'filePaths':[{'includedPath':'%s/tree'}]}]}}}",
                                       policy, host, g_tmp), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(group, sizeof group, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
}

/* check_gfs_run: the run at `when` succeeded and expires at its start + keep (usecs); the messages name
 * the rules in `rules` ("day", "week", "month", "year") and no other. */
static void check_gfs_run(long long when, const char *type, long long keep, const char *const *rules)
{
    static const char *const all[] = { "of its day", "of its week", "of its month", "of its year" };
    json_t *run = NULL;
    long long start;
    CHECK(run_at(when, type, &run) == 0);
    CHECKF(strcmp(jstr(run, "localBackupInfo.status"), "Succeeded") == 0, "%s", jstr(run, "localBackupInfo.status"));
    start = jint(run, "localBackupInfo.startTimeUsecs");
    CHECK(start >= when && start < when + 60 * 1000000LL);
    CHECKF(expiry_of(run) == start + keep, "expiry %lld, want start %lld + %lld", expiry_of(run), start, keep);
    CHECK(jint(run, "localBackupInfo.localSnapshotStats.logicalSizeBytes") > 0);
    for (int k = 0; k < 4; k++) {
        int want = 0;
        for (const char *const *r = rules; *r; r++)
            if (strstr(all[k], *r)) want = 1;
        CHECKF(has_message(run, all[k]) == want, "rule '%s': message %s", all[k], want ? "missing" : "unexpected");
    }
    json_decref(run);
}

TEST(gfs_promotes_the_first_run_of_each_period)
{
    static const char *const dwm[] = { "day", "week", "month", NULL }, *const none[] = { NULL },
                             *const dw[] = { "day", "week", NULL }, *const d_only[] = { "day", NULL },
                             *const year[] = { "year", NULL };
    /* Monday Jan 7: the first of its day, week and month: 12 months (2030 is not a leap year) */
    check_gfs_run(T0, "kRegular", 365 * DAY, dwm);
    if (check_failed()) return;
    /* the same day again: its own day */
    check_gfs_run(T0 + 300 * MIN, "kRegular", DAY, none);
    if (check_failed()) return;
    /* Tuesday: 7 days */
    check_gfs_run(T0 + DAY, "kRegular", 7 * DAY, d_only);
    if (check_failed()) return;
    /* next Monday: 4 weeks */
    check_gfs_run(T0 + 7 * DAY, "kRegular", 28 * DAY, dw);
    if (check_failed()) return;
    /* Sunday Feb 3 (no run since Jan 14): 12 months, to Feb 3 2031 */
    check_gfs_run(T0 + 27 * DAY, "kRegular", 365 * DAY, dwm);
    if (check_failed()) return;
    /* a kFull the same Sunday: the first Full of 2030: 3 years (2032 is a leap year) */
    check_gfs_run(T0 + 27 * DAY + 60 * MIN, "kFull", (3 * 365 + 1) * DAY, year);
}

int main(void)
{
    static const char *const env[] = { "COFFER_TEST_CLOCK=1", NULL };
    g_tmp = check_tmpdir("gfs-trees");
    if (daemon_start(&d, env) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup);
    RUN(gfs_promotes_the_first_run_of_each_period);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "the daemon did not exit cleanly");
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
