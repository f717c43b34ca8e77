/* e2e_retry.c: retryOptions on the real daemon under the test clock.
 *
 * The policy allows 2 retries 10 minutes apart. A group whose directory holds the failure marker
 * (test hook COFFER_TEST_FAIL_MARK: the object fails before reading) fails its first attempt; the
 * run goes back to Accepted as attempt 2 with its next attempt 10 minutes later (test clock) and is
 * not started before: 3 s of real time later it still waits, and still after a daemon restart. The
 * marker is removed and the clock moved 10 minutes: attempt 2 succeeds, the object shows its failed
 * first attempt (failedAttempts, with the failure's message), the run's messages name both, and the
 * file was stored (logical bytes). A second group's marker stays: the run ends Failed after 3
 * attempts, the object listing 3 failed attempts. A policy without retries fails at once. */
#include "check.h"
#include "e2e/harness.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRC "/v2/data-protect/sources/registrations"
#define POL "/v2/data-protect/policies"
#define GRP "/v2/data-protect/protection-groups"
#define T "retry-a"
#define MIN 60000000LL
#define T0 1894004600000000LL /* 2030-01-07T08:23:20Z */
#define MARK "coffer-fail-now"

static struct daemon d;
static char *g_tmp, g_heal[128], g_never[128], g_once[128];
static long long host;

static const char *const g_env[] = { "COFFER_TEST_CLOCK=1", "COFFER_TEST_HOOKS=1", "COFFER_TEST_FAIL_MARK=" MARK,
                                     NULL };

static int set_clock_now(long long now)
{
    struct http_resp r;
    int ok = http(&d, "POST", "/v2/coffer-test/clock", NULL, jfmt("{'nowUsecs':%lld}", now), &r) == 0 &&
             r.status == 200;
    http_resp_release(&r);
    return ok ? 0 : -1;
}

static int set_clock_adv(long long adv)
{
    struct http_resp r;
    int ok = http(&d, "POST", "/v2/coffer-test/clock", NULL, jfmt("{'advanceUsecs':%lld}", adv), &r) == 0 &&
             r.status == 200;
    http_resp_release(&r);
    return ok ? 0 : -1;
}

static json_t *get_run(const char *group, const char *id)
{
    struct http_resp r;
    json_t *j = NULL;
    if (http(&d, "GET", jfmt(GRP "/%s/runs/%s?includeObjectDetails=true", group, id), T, NULL, &r) == 0 &&
        r.status == 200)
        j = json_incref(r.json);
    http_resp_release(&r);
    return j;
}

/* wait_for: polls the run until its status is `status` and its attempt is `attempt` (30 s). */
static json_t *wait_for(const char *group, const char *id, const char *status, long long attempt)
{
    char seen[200] = "";
    for (int i = 0; i < 300; i++) {
        json_t *run = get_run(group, id);
        snprintf(seen, sizeof seen, "%s attempt %lld", jstr(run, "localBackupInfo.status") ? jstr(run, "localBackupInfo.status") : "?",
                 jint(run, "localBackupInfo.cofferStats.attempt"));
        const char *st = jstr(run, "localBackupInfo.status");
        if (st && strcmp(st, status) == 0 && jint(run, "localBackupInfo.cofferStats.attempt") == attempt) return run;
        json_decref(run);
        usleep(100 * 1000);
    }
    fprintf(stderr, "run %s never became %s at attempt %lld (last seen: %s)\n", id, status, attempt, seen);
    return NULL;
}

static int has_message(json_t *run, const char *part)
{
    size_t i;
    json_t *m;
    json_array_foreach(jget(run, "localBackupInfo.messages"), i, m)
        if (json_string_value(m) && strstr(json_string_value(m), part)) return 1;
    return 0;
}

static int make_group(const char *name, const char *policy, const char *dir, char *id, size_t len)
{
    struct http_resp r;
    int ok = http(&d, "POST", GRP, T, jfmt("{'name':'%s','policyId':'%s','environment':'kPhysical',"
                                           "'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':"
                                           "{'objects':[{'id':%lld,'filePaths':[{'includedPath':'%s'}]}]}}}",
                                           name, policy, host, dir), &r) == 0 && r.status == 201;
    snprintf(id, len, "%s", ok ? jstr(r.json, "id") : "");
    if (!ok) fprintf(stderr, "POST group: %ld %s\n", r.status, r.body ? r.body : "");
    http_resp_release(&r);
    return ok ? 0 : -1;
}

static int start(const char *group, char *id, size_t len)
{
    struct http_resp r;
    int ok = http(&d, "POST", jfmt(GRP "/%s/runs", group), T, "{\"runType\":\"kRegular\"}", &r) == 0 &&
             r.status == 202;
    snprintf(id, len, "%s", ok && jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    return ok ? 0 : -1;
}

static json_t *object0(json_t *run) { return json_array_get(jget(run, "objects"), 0); }

TEST(setup)
{
    struct http_resp r;
    char pol[128], pol0[128];
    CHECK(http(&d, "POST", "/v2/coffer-test/clock", NULL, jfmt("{'nowUsecs':%lld}", T0), &r) == 0 && r.status == 200);
    http_resp_release(&r);
    CHECK(http(&d, "POST", SRC, T, jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1',"
                                        "'hostType':'kLinux'}}"), &r) == 0 && r.status == 201);
    host = jint(r.json, "sourceInfo.id");
    http_resp_release(&r);
    for (int k = 0; k < 2; k++) {
        CHECK(http(&d, "POST", POL, T, jfmt("{'name':'p%d','backupPolicy':{'regular':{'incremental':{'schedule':"
                                            "{'unit':'Years','yearSchedule':{'dayOfYear':'First'}}},'retention':"
                                            "{'unit':'Days','duration':7}}}%s}", k,
                                            k ? "" : ",'retryOptions':{'retries':2,'retryIntervalMins':10}"), &r) == 0);
        CHECKF(r.status == 201, "%ld %s", r.status, r.body);
        snprintf(k ? pol0 : pol, sizeof pol, "%s", jstr(r.json, "id"));
        http_resp_release(&r);
    }
    for (int k = 0; k < 3; k++) {
        static const char *const names[] = { "heals", "never", "once" };
        FILE *f;
        CHECK(mkdir(jfmt("%s/%s", g_tmp, names[k]), 0755) == 0);
        CHECK((f = fopen(jfmt("%s/%s/data.txt", g_tmp, names[k]), "w")) != NULL);
        fputs("the second attempt reads me\n", f);
        CHECK(fclose(f) == 0);
        CHECK((f = fopen(jfmt("%s/%s/" MARK, g_tmp, names[k]), "w")) != NULL);
        CHECK(fclose(f) == 0);
    }
    CHECK(make_group("heals", pol, jfmt("%s/heals", g_tmp), g_heal, sizeof g_heal) == 0);
    CHECK(make_group("never", pol, jfmt("%s/never", g_tmp), g_never, sizeof g_never) == 0);
    CHECK(make_group("once", pol0, jfmt("%s/once", g_tmp), g_once, sizeof g_once) == 0);
}

TEST(failure_that_heals_succeeds_at_the_second_attempt)
{
    char id[64];
    json_t *run, *fa;
    CHECK(start(g_heal, id, sizeof id) == 0);
    run = wait_for(g_heal, id, "Accepted", 2);
    CHECK(run != NULL);
    CHECK(jint(run, "localBackupInfo.cofferStats.nextAttemptUsecs") >= T0 + 10 * MIN);
    CHECK(jint(run, "localBackupInfo.cofferStats.nextAttemptUsecs") < T0 + 11 * MIN);
    CHECK(has_message(run, "attempt 1 of 3 failed"));
    json_decref(run);
    /* the interval holds under the test clock: nothing starts while it has not passed */
    sleep(3);
    run = get_run(g_heal, id);
    CHECK(run && strcmp(jstr(run, "localBackupInfo.status"), "Accepted") == 0 &&
          jint(run, "localBackupInfo.cofferStats.attempt") == 2);
    json_decref(run);
    /* the wait survives a daemon restart (the run and its retry time are in the catalog) */
    CHECK(daemon_kill(&d, SIGTERM) == 0);
    CHECK(daemon_restart(&d, g_env) == 0);
    CHECK(set_clock_now(T0 + 5 * MIN) == 0);
    sleep(2);
    run = get_run(g_heal, id);
    CHECK(run && strcmp(jstr(run, "localBackupInfo.status"), "Accepted") == 0 &&
          jint(run, "localBackupInfo.cofferStats.attempt") == 2);
    json_decref(run);
    /* the failure heals; 10 minutes pass */
    CHECK(unlink(jfmt("%s/heals/" MARK, g_tmp)) == 0);
    CHECK(set_clock_adv(10 * MIN) == 0);
    run = wait_for(g_heal, id, "Succeeded", 2);
    CHECK(run != NULL);
    CHECK(has_message(run, "attempt 1 of 3 failed") && has_message(run, "succeeded at attempt 2"));
    CHECK(jint(run, "localBackupInfo.localSnapshotStats.logicalSizeBytes") == 28);
    fa = jget(object0(run), "localSnapshotInfo.failedAttempts");
    CHECKF(json_array_size(fa) == 1, "failedAttempts %zu", json_array_size(fa));
    CHECK(strcmp(jstr(json_array_get(fa, 0), "status"), "Failed") == 0 && jstr(json_array_get(fa, 0), "message"));
    CHECK(strcmp(jstr(object0(run), "localSnapshotInfo.snapshotInfo.status"), "kSuccessful") == 0);
    json_decref(run);
}

TEST(failure_that_never_heals_fails_after_three_attempts)
{
    char id[64];
    json_t *run;
    CHECK(start(g_never, id, sizeof id) == 0);
    run = wait_for(g_never, id, "Accepted", 2);
    CHECK(run != NULL);
    json_decref(run);
    CHECK(set_clock_adv(10 * MIN) == 0);
    run = wait_for(g_never, id, "Accepted", 3);
    CHECK(run != NULL);
    CHECK(has_message(run, "attempt 2 of 3 failed"));
    json_decref(run);
    CHECK(set_clock_adv(10 * MIN) == 0);
    run = wait_for(g_never, id, "Failed", 3);
    CHECK(run != NULL);
    CHECK(has_message(run, "attempt 3 of 3 failed: no retries left"));
    CHECKF(json_array_size(jget(object0(run), "localSnapshotInfo.failedAttempts")) == 3, "failedAttempts %zu",
           json_array_size(jget(object0(run), "localSnapshotInfo.failedAttempts")));
    json_decref(run);
}

TEST(no_retries_fails_at_once)
{
    char id[64];
    json_t *run;
    CHECK(start(g_once, id, sizeof id) == 0);
    run = wait_for(g_once, id, "Failed", 1);
    CHECK(run != NULL);
    CHECK(!has_message(run, "attempt") && has_message(run, "injected failure"));
    CHECK(json_array_size(jget(object0(run), "localSnapshotInfo.failedAttempts")) == 1);
    json_decref(run);
}

int main(void)
{
    g_tmp = check_tmpdir("retry-trees");
    if (daemon_start(&d, g_env) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup);
    RUN(failure_that_heals_succeeds_at_the_second_attempt);
    RUN(failure_that_never_heals_fails_after_three_attempts);
    RUN(no_retries_fails_at_once);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "the daemon did not exit cleanly");
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
