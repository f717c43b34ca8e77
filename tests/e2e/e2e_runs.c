/* e2e_runs.c: protection runs that really back up, through the API of the real daemon.
 *
 * One daemon (test clock and test hooks on) backs up a temporary tree of this machine, registered as
 * the local host: a run is accepted (202), runs, succeeds with the right file and byte counts; a
 * second kRegular run reads nothing and a kFull run reads everything but stores almost nothing
 * (dedup); object snapshots, protected objects and restore points list the snapshots; a file that vanishes during the
 * backup makes the run SucceededWithWarning and is named; filters, run ids, progress, retention and
 * legal-hold updates, bad input (400), unknown or foreign ids (404), paused groups and concurrent
 * runs (409); the group's lastRun; a scheduled run when the test clock passes a slot; and after the
 * daemon stops, the snapshot restored from its repository with the engine equals the source byte
 * for byte.
 *
 * A second daemon runs slowly (each file open delayed) over a ~96 MiB tree: the run's progress while
 * it runs, a scheduled slot that comes while it runs (Missed), cancel, SIGKILL in the middle (after
 * restart: Failed "interrupted by daemon restart", and the next run succeeds storing less than the
 * tree because the killed run's packs are reused), and SIGTERM in the middle (the run is queued
 * again and completes after restart). */
#include "check.h"
#include "e2e/harness.h"
#include "engine/engine.h"
#include "repo/repo.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SRC "/v2/data-protect/sources/registrations"
#define POL "/v2/data-protect/policies"
#define GRP "/v2/data-protect/protection-groups"
#define T "runs-a"
#define T0 1893975000000000LL /* 2030-01-07T00:10:00Z: the test clock starts 50 minutes before a slot */
#define HOUR 3600000000LL

static struct daemon d, slow;
static char *g_tmp;                        /* our trees */
static char tree_a[600], tree_w[600], tree_big[600];
static long long host, nfiles_a, bytes_a, bytes_big;
static char policy[128], g_files[128], g_warn[128], g_paused[128], g_big[128];
static long long g_files_seq;
static char run1[64], run2[64], run3[64]; /* the files group's kRegular, kRegular, kFull runs */
static char snap1[80], snap2[80], snap3[80];

/* ---------- trees ---------- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static void fill_random(unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_rng ^= g_rng << 13;
        g_rng ^= g_rng >> 7;
        g_rng ^= g_rng << 17;
        b[i] = (unsigned char)(g_rng >> 24);
    }
}

static int write_file(const char *path, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    FILE *f = fopen(path, "wb");
    int ok = buf && f;
    if (ok) {
        fill_random(buf, size);
        ok = fwrite(buf, 1, size, f) == size;
    }
    if (f && fclose(f) != 0) ok = 0;
    free(buf);
    return ok ? 0 : -1;
}

/* ---------- HTTP helpers ---------- */

static long call(struct daemon *dm, const char *method, const char *path, const char *tenant, const char *body,
                 struct http_resp *r)
{
    if (http(dm, method, path, tenant, body, r) != 0) return -1;
    return r->status;
}

static long post_id(struct daemon *dm, const char *path, const char *body, char *id, size_t idlen, long long *num)
{
    struct http_resp r;
    long st = call(dm, "POST", path, T, body, &r);
    if (st >= 300) fprintf(stderr, "POST %s: %ld %s\n", path, st, r.body ? r.body : "");
    if (id) snprintf(id, idlen, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    if (num) *num = jint(r.json, "id");
    http_resp_release(&r);
    return st;
}

/* start_run: POST a run; returns the status and fills run_id from Coffer's runId. */
static long start_run(struct daemon *dm, const char *group, const char *body, char *run_id, size_t len)
{
    struct http_resp r;
    char path[256];
    long st;
    snprintf(path, sizeof path, GRP "/%s/runs", group);
    st = call(dm, "POST", path, T, body, &r);
    if (run_id) snprintf(run_id, len, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    if (st == 202 && (!jstr(r.json, "protectionGroupId") || strcmp(jstr(r.json, "protectionGroupId"), group) != 0)) st = -2;
    if (st != 202 && st != 409 && st != 400 && st != 404) fprintf(stderr, "POST %s: %ld %s\n", path, st, r.body);
    http_resp_release(&r);
    return st;
}

/* get_run: GET the run (with object details); *out is the JSON (caller decrefs) or NULL. */
static long get_run(struct daemon *dm, const char *group, const char *run_id, json_t **out)
{
    struct http_resp r;
    char path[300];
    long st;
    snprintf(path, sizeof path, GRP "/%s/runs/%s?includeObjectDetails=true", group, run_id);
    st = call(dm, "GET", path, T, NULL, &r);
    *out = st == 200 ? json_incref(r.json) : NULL;
    http_resp_release(&r);
    return st;
}

static const char *run_status(json_t *run) { return jstr(run, "localBackupInfo.status"); }

/* has_message: whether one of the run's messages contains part. */
static int has_message(json_t *run, const char *part)
{
    size_t i;
    json_t *m;
    json_array_foreach(jget(run, "localBackupInfo.messages"), i, m)
        if (json_string_value(m) && strstr(json_string_value(m), part)) return 1;
    return 0;
}

static int finished(const char *s)
{
    return s && strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0 && strcmp(s, "Canceling") != 0;
}

/* wait_run: polls until the run has finished (or timeout_s); returns its JSON or NULL. */
static json_t *wait_run(struct daemon *dm, const char *group, const char *run_id, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        json_t *run;
        if (get_run(dm, group, run_id, &run) == 200 && finished(run_status(run))) return run;
        json_decref(run);
        usleep(100 * 1000);
    }
    fprintf(stderr, "run %s of %s did not finish in %d s\n", run_id, group, timeout_s);
    return NULL;
}

/* progress: GET runs/{id}/progress (caller decrefs). */
static json_t *progress(struct daemon *dm, const char *run_id)
{
    struct http_resp r;
    char path[200];
    json_t *j = NULL;
    snprintf(path, sizeof path, "/v2/data-protect/runs/%s/progress", run_id);
    if (call(dm, "GET", path, T, NULL, &r) == 200) j = json_incref(r.json);
    http_resp_release(&r);
    return j;
}

/* wait_bytes: waits until the run is Running with at least min_bytes read; 1 when reached. */
static int wait_bytes(struct daemon *dm, const char *run_id, long long min_bytes, int timeout_s)
{
    for (int i = 0; i < timeout_s * 20; i++) {
        json_t *p = progress(dm, run_id);
        long long b = jint(p, "localRun.cofferStats.bytesRead");
        const char *st = jstr(p, "localRun.cofferStats.runStatus");
        int done = st && finished(st);
        json_decref(p);
        if (b >= min_bytes && !done) return 1;
        if (done) {
            fprintf(stderr, "run %s finished before reading %lld bytes\n", run_id, min_bytes);
            return 0;
        }
        usleep(50 * 1000);
    }
    return 0;
}

static long expect_error(struct daemon *dm, const char *method, const char *path, const char *tenant,
                         const char *body, long want, const char *msg_part)
{
    struct http_resp r;
    long st = call(dm, method, path, tenant, body, &r);
    const char *msg = jstr(r.json, "message");
    if (st != want || !msg || (msg_part && !strstr(msg, msg_part))) {
        check_fail(__FILE__, __LINE__, "%s %s: got %ld %s, want %ld with '%s'", method, path, st,
                   r.body ? r.body : "", want, msg_part ? msg_part : "");
        st = -1;
    }
    http_resp_release(&r);
    return st;
}

#define HOURLY "{'name':'hourly','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Hours'," \
    "'hourSchedule':{'frequency':1}}},'retention':{'unit':'Days','duration':7}}}}"

static const char *group_body(const char *name, const char *dir, const char *extra)
{
    return jfmt("{'name':'%s','policyId':'%s','environment':'kPhysical','startTime':{'hour':0,'minute':0},"
               "'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld,"
               "'filePaths':[{'includedPath':'%s','excludedPaths':['%s/excluded']}]}],"
               "'globalExcludePaths':['*.tmp']}}%s}", name, policy, host, dir, dir, extra);
}

static int set_clock(struct daemon *dm, const char *body)
{
    struct http_resp r;
    long st = call(dm, "POST", "/v2/coffer-test/clock", NULL, body, &r);
    http_resp_release(&r);
    return st == 200 ? 0 : -1;
}

/* ---------- the fast daemon ---------- */

TEST(setup)
{
    struct http_resp r;
    char p[700];
    CHECK(set_clock(&d, jfmt("{'nowUsecs':%lld}", T0)) == 0);
    snprintf(tree_a, sizeof tree_a, "%s/a", g_tmp);
    snprintf(tree_w, sizeof tree_w, "%s/w", g_tmp);
    CHECK(mkdir(tree_a, 0755) == 0 && mkdir(tree_w, 0755) == 0);
    snprintf(p, sizeof p, "%s/sub", tree_a);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/excluded", tree_a);
    CHECK(mkdir(p, 0755) == 0);
    for (int i = 0; i < 12; i++) {
        size_t size = (size_t)(i * 37000 + 5);
        snprintf(p, sizeof p, "%s/%s/f%02d.bin", tree_a, i % 2 ? "sub" : ".", i);
        CHECK(write_file(p, size) == 0);
        nfiles_a++;
        bytes_a += (long long)size;
    }
    snprintf(p, sizeof p, "%s/excluded/skip.bin", tree_a);
    CHECK(write_file(p, 300000) == 0);
    snprintf(p, sizeof p, "%s/sub/scratch.tmp", tree_a);
    CHECK(write_file(p, 1000) == 0);
    snprintf(p, sizeof p, "%s/ok.txt", tree_w);
    CHECK(write_file(p, 5000) == 0);
    snprintf(p, sizeof p, "%s/vanish-me.bin", tree_w);
    CHECK(write_file(p, 5000) == 0);

    CHECK(call(&d, "POST", SRC, T, jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1',"
                                        "'hostType':'kLinux'}}"), &r) == 201);
    host = jint(r.json, "sourceInfo.id");
    http_resp_release(&r);
    CHECK(host > 0);
    CHECK_EQ_INT(post_id(&d, POL, jfmt(HOURLY), policy, sizeof policy, NULL), 201);
    CHECK_EQ_INT(post_id(&d, GRP, group_body("files", tree_a, ""), g_files, sizeof g_files, NULL), 201);
    CHECK(sscanf(g_files, "%*d:%*d:%lld", &g_files_seq) == 1);
    CHECK_EQ_INT(post_id(&d, GRP, group_body("warn", tree_w, ""), g_warn, sizeof g_warn, NULL), 201);
    CHECK_EQ_INT(post_id(&d, GRP, group_body("paused", tree_a, ",'isPaused':true"), g_paused, sizeof g_paused, NULL),
                 201);
}

TEST(first_run_backs_up_the_tree)
{
    json_t *run;
    char prefix[64];
    CHECK_EQ_INT(start_run(&d, g_files, "{\"runType\":\"kRegular\"}", run1, sizeof run1), 202);
    snprintf(prefix, sizeof prefix, "%lld:", g_files_seq);
    CHECKF(strncmp(run1, prefix, strlen(prefix)) == 0, "run id %s", run1);
    run = wait_run(&d, g_files, run1, 120);
    CHECK(run != NULL);
    CHECKF(strcmp(run_status(run), "Succeeded") == 0, "status %s", run_status(run));
    CHECK(strcmp(jstr(run, "id"), run1) == 0);
    CHECK(strcmp(jstr(run, "protectionGroupId"), g_files) == 0);
    CHECK(strcmp(jstr(run, "protectionGroupName"), "files") == 0);
    CHECK(strcmp(jstr(run, "localBackupInfo.runType"), "kRegular") == 0);
    CHECK(jint(run, "localBackupInfo.startTimeUsecs") >= T0);
    CHECK(jint(run, "localBackupInfo.endTimeUsecs") >= jint(run, "localBackupInfo.startTimeUsecs"));
    CHECK_EQ_INT(jint(run, "localBackupInfo.successfulObjectsCount"), 1);
    CHECK_EQ_INT(jint(run, "localBackupInfo.failedObjectsCount"), 0);
    /* Excluded paths (a prefix and a glob) are not read. */
    CHECK_EQ_INT(jint(run, "localBackupInfo.localSnapshotStats.logicalSizeBytes"), bytes_a);
    CHECK_EQ_INT(jint(run, "localBackupInfo.localSnapshotStats.bytesRead"), bytes_a);
    CHECK(jint(run, "localBackupInfo.localSnapshotStats.bytesWritten") > bytes_a / 2);
    CHECK_EQ_INT(jint(run, "objects.0.object.id"), host);
    CHECK_EQ_INT(jint(run, "objects.0.localSnapshotInfo.snapshotInfo.totalFileCount"), nfiles_a);
    CHECK(strcmp(jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.status"), "kSuccessful") == 0);
    CHECK(jint(run, "objects.0.localSnapshotInfo.snapshotInfo.directoryCount") >= 2);
    CHECK(jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId") != NULL);
    snprintf(snap1, sizeof snap1, "%s", jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId"));
    CHECK_EQ_INT(strlen(snap1), 64);
    CHECK(json_is_true(jget(run, "hasLocalSnapshot")));
    json_decref(run);
}

TEST(second_runs_reuse_the_data)
{
    json_t *run;
    CHECK_EQ_INT(start_run(&d, g_files, "{\"runType\":\"kRegular\"}", run2, sizeof run2), 202);
    run = wait_run(&d, g_files, run2, 120);
    CHECK(run != NULL);
    CHECK(strcmp(run_status(run), "Succeeded") == 0);
    /* Unchanged files are taken from the parent: nothing read, only tree metadata written. */
    CHECK_EQ_INT(jint(run, "localBackupInfo.localSnapshotStats.bytesRead"), 0);
    CHECK_EQ_INT(jint(run, "localBackupInfo.localSnapshotStats.logicalSizeBytes"), bytes_a);
    CHECKF(jint(run, "localBackupInfo.localSnapshotStats.bytesWritten") < 16384, "wrote %lld",
           jint(run, "localBackupInfo.localSnapshotStats.bytesWritten"));
    CHECK_EQ_INT(jint(run, "objects.0.localSnapshotInfo.snapshotInfo.backupFileCount"), 0);
    snprintf(snap2, sizeof snap2, "%s", jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId"));
    CHECK(strlen(snap2) == 64 && strcmp(snap1, snap2) != 0);
    json_decref(run);
    /* kFull reads everything again, and dedup stores (almost) nothing new. */
    CHECK_EQ_INT(start_run(&d, g_files, "{\"runType\":\"kFull\"}", run3, sizeof run3), 202);
    run = wait_run(&d, g_files, run3, 120);
    CHECK(run != NULL);
    CHECK(strcmp(run_status(run), "Succeeded") == 0);
    CHECK(strcmp(jstr(run, "localBackupInfo.runType"), "kFull") == 0);
    CHECK_EQ_INT(jint(run, "localBackupInfo.localSnapshotStats.bytesRead"), bytes_a);
    CHECKF(jint(run, "localBackupInfo.localSnapshotStats.bytesWritten") < 16384, "wrote %lld",
           jint(run, "localBackupInfo.localSnapshotStats.bytesWritten"));
    snprintf(snap3, sizeof snap3, "%s", jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId"));
    CHECK(strlen(snap3) == 64 && strcmp(snap3, snap2) != 0 && strcmp(snap3, snap1) != 0);
    json_decref(run);
}

TEST(vanished_file_is_a_warning)
{
    json_t *run;
    char id[64];
    CHECK_EQ_INT(start_run(&d, g_warn, "{\"runType\":\"kRegular\"}", id, sizeof id), 202);
    run = wait_run(&d, g_warn, id, 120);
    CHECK(run != NULL);
    CHECKF(strcmp(run_status(run), "SucceededWithWarning") == 0, "status %s", run_status(run));
    CHECK(has_message(run, "vanish-me.bin"));
    CHECK(strcmp(jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.status"), "kWarning") == 0);
    CHECK(strstr(jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.warnings.0"), "vanish-me.bin") != NULL);
    CHECK_EQ_INT(jint(run, "objects.0.localSnapshotInfo.snapshotInfo.totalFileCount"), 1);
    CHECK_EQ_INT(jint(run, "localBackupInfo.successfulObjectsCount"), 1);
    json_decref(run);
}

TEST(object_snapshots_list_them)
{
    struct http_resp r;
    char path[512];
    snprintf(path, sizeof path, "/v2/data-protect/objects/%lld/snapshots?protectionGroupIds=%s", host, g_files);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "snapshots")), 3);
    CHECK(strcmp(jstr(r.json, "snapshots.0.id"), snap1) == 0);
    CHECK(strcmp(jstr(r.json, "snapshots.2.id"), snap3) == 0);
    CHECK(strcmp(jstr(r.json, "snapshots.0.protectionGroupRunId"), run1) == 0);
    CHECK(strcmp(jstr(r.json, "snapshots.0.protectionGroupName"), "files") == 0);
    CHECK(strcmp(jstr(r.json, "snapshots.0.environment"), "kPhysical") == 0);
    CHECK(strcmp(jstr(r.json, "snapshots.0.runType"), "kRegular") == 0);
    CHECK_EQ_INT(jint(r.json, "snapshots.0.objectId"), host);
    CHECK_EQ_INT(jint(r.json, "snapshots.0.sourceId"), host);
    CHECK(jint(r.json, "snapshots.0.runInstanceId") > 0);
    CHECK(jint(r.json, "snapshots.0.snapshotTimestampUsecs") >= T0);
    CHECK(jint(r.json, "snapshots.0.expiryTimeUsecs") > jint(r.json, "snapshots.0.runStartTimeUsecs"));
    http_resp_release(&r);
    /* Both groups' snapshots without the group filter; filters by run type and time. */
    snprintf(path, sizeof path, "/v2/data-protect/objects/%lld/snapshots", host);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "snapshots")), 4);
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/objects/%lld/snapshots?runTypes=kFull", host);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "snapshots")), 1);
    CHECK(strcmp(jstr(r.json, "snapshots.0.id"), snap3) == 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/objects/%lld/snapshots?fromTimeUsecs=%lld", host, T0 + 100 * HOUR);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "snapshots")), 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/objects/%lld/snapshots?runTypes=kNope", host);
    expect_error(&d, "GET", path, T, NULL, 400, "runTypes");
    expect_error(&d, "GET", "/v2/data-protect/objects/abc/snapshots", T, NULL, 400, "'id'");
    expect_error(&d, "GET", "/v2/data-protect/objects/987654321/snapshots", T, NULL, 404, "987654321");
    /* Another tenant does not see the object nor its snapshots. */
    snprintf(path, sizeof path, "/v2/data-protect/objects/%lld/snapshots", host);
    expect_error(&d, "GET", path, "runs-other", NULL, 404, NULL);
}

TEST(protected_objects_search)
{
    struct http_resp r;
    char path[512];
    CHECK_EQ_INT(call(&d, "GET", "/v2/data-protect/search/protected-objects", T, NULL, &r), 200);
    CHECK_EQ_INT(jint(r.json, "numResults"), 1);
    CHECK_EQ_INT(jint(r.json, "objects.0.id"), host);
    CHECK_EQ_INT(json_array_size(jget(r.json, "objects.0.latestSnapshotsInfo")), 2); /* files and warn */
    CHECK_EQ_INT(json_array_size(jget(r.json, "metadata.uniqueProtectionGroupIdentifiers")), 2);
    http_resp_release(&r);
    CHECK_EQ_INT(call(&d, "GET", "/v2/data-protect/search/protected-objects?searchString=fil*", T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "objects.0.latestSnapshotsInfo")), 1);
    CHECK(strcmp(jstr(r.json, "objects.0.latestSnapshotsInfo.0.protectionGroupId"), g_files) == 0);
    CHECK(strcmp(jstr(r.json, "objects.0.latestSnapshotsInfo.0.localSnapshotInfo.snapshotId"), snap3) == 0);
    CHECK(strcmp(jstr(r.json, "objects.0.latestSnapshotsInfo.0.protectionRunId"), run3) == 0);
    CHECK(strcmp(jstr(r.json, "objects.0.latestSnapshotsInfo.0.runType"), "kFull") == 0);
    CHECK_EQ_INT(jint(r.json, "objects.0.latestSnapshotsInfo.0.localSnapshotInfo.logicalSizeBytes"), bytes_a);
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/search/protected-objects?protectionGroupIds=%s", g_warn);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "objects.0.latestSnapshotsInfo")), 1);
    CHECK(strcmp(jstr(r.json, "objects.0.latestSnapshotsInfo.0.protectionGroupName"), "warn") == 0);
    http_resp_release(&r);
    CHECK_EQ_INT(call(&d, "GET", "/v2/data-protect/search/protected-objects?environments=kSQL", T, NULL, &r), 200);
    CHECK_EQ_INT(jint(r.json, "numResults"), 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/search/protected-objects?filterSnapshotFromUsecs=%lld", T0 + 100 * HOUR);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(jint(r.json, "numResults"), 0);
    http_resp_release(&r);
    CHECK_EQ_INT(call(&d, "GET", "/v2/data-protect/search/protected-objects", "runs-other", NULL, &r), 200);
    CHECK_EQ_INT(jint(r.json, "numResults"), 0);
    http_resp_release(&r);
    expect_error(&d, "GET", "/v2/data-protect/search/protected-objects?environments=kVMware", T, NULL, 400,
                 "environments");
    expect_error(&d, "GET", "/v2/data-protect/search/protected-objects?objectIds=x", T, NULL, 400, "objectIds");
}

TEST(restore_points_list_them)
{
    struct http_resp r;
    const char *body = jfmt("{'startTimeUsecs':%lld,'endTimeUsecs':%lld,'environment':'kPhysical',"
                           "'protectionGroupIds':['%s']}", T0 - HOUR, T0 + 10 * HOUR, g_files);
    CHECK_EQ_INT(call(&d, "POST", "/v2/data-protect/snapshots/restore-points", T, body, &r), 201);
    CHECK_EQ_INT(json_array_size(jget(r.json, "fullSnapshotInfo")), 3);
    CHECK(strcmp(jstr(r.json, "fullSnapshotInfo.0.restoreInfo.protectionGroupId"), g_files) == 0);
    CHECK_EQ_INT(jint(r.json, "fullSnapshotInfo.0.restoreInfo.objectInfo.id"), host);
    CHECK(strcmp(jstr(r.json, "fullSnapshotInfo.0.restoreInfo.snapshotId"), snap1) == 0);
    CHECK(jint(r.json, "fullSnapshotInfo.0.restoreInfo.runStartTimeUsecs") >= T0);
    CHECK(json_is_array(jget(r.json, "timeRangeInfo.timeRanges")));
    http_resp_release(&r);
    body = jfmt("{'startTimeUsecs':%lld,'endTimeUsecs':%lld,'environment':'kSQL','protectionGroupIds':['%s']}",
               T0 - HOUR, T0 + 10 * HOUR, g_files);
    CHECK_EQ_INT(call(&d, "POST", "/v2/data-protect/snapshots/restore-points", T, body, &r), 201);
    CHECK_EQ_INT(json_array_size(jget(r.json, "fullSnapshotInfo")), 0);
    http_resp_release(&r);
    body = jfmt("{'startTimeUsecs':%lld,'endTimeUsecs':%lld,'environment':'kPhysical','protectionGroupIds':['%s']}",
               T0 - HOUR, T0 + 10 * HOUR, g_files);
    CHECK_EQ_INT(call(&d, "POST", "/v2/data-protect/snapshots/restore-points", "runs-other", body, &r), 201);
    CHECK_EQ_INT(json_array_size(jget(r.json, "fullSnapshotInfo")), 0);
    http_resp_release(&r);
    expect_error(&d, "POST", "/v2/data-protect/snapshots/restore-points", T,
                 jfmt("{'startTimeUsecs':1,'endTimeUsecs':2,'protectionGroupIds':['%s']}", g_files), 400, "environment");
    expect_error(&d, "POST", "/v2/data-protect/snapshots/restore-points", T,
                 jfmt("{'startTimeUsecs':5,'endTimeUsecs':2,'environment':'kPhysical','protectionGroupIds':['%s']}",
                     g_files), 400, "endTimeUsecs");
    expect_error(&d, "POST", "/v2/data-protect/snapshots/restore-points", T,
                 "{\"startTimeUsecs\":1,\"endTimeUsecs\":2,\"environment\":\"kPhysical\"}", 400, "protectionGroupIds");
    expect_error(&d, "POST", "/v2/data-protect/snapshots/restore-points", T,
                 "{\"startTimeUsecs\":\"1\",\"endTimeUsecs\":2,\"environment\":\"kPhysical\",\"protectionGroupIds\":[]}",
                 400, "startTimeUsecs");
}

TEST(list_get_and_progress)
{
    struct http_resp r;
    char path[512];
    json_t *p;
    snprintf(path, sizeof path, GRP "/%s/runs", g_files);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(jint(r.json, "totalRuns"), 3);
    CHECK(strcmp(jstr(r.json, "runs.0.id"), run3) == 0); /* newest first */
    CHECK(strcmp(jstr(r.json, "runs.2.id"), run1) == 0);
    CHECK(jget(r.json, "runs.0.objects") == NULL);      /* only with includeObjectDetails */
    CHECK(jint(r.json, "runs.0.protectionGroupInstanceId") > jint(r.json, "runs.2.protectionGroupInstanceId"));
    http_resp_release(&r);
    snprintf(path, sizeof path, GRP "/%s/runs?numRuns=1&includeObjectDetails=true", g_files);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "runs")), 1);
    CHECK_EQ_INT(jint(r.json, "totalRuns"), 3);
    CHECK(strcmp(jstr(r.json, "runs.0.objects.0.localSnapshotInfo.snapshotInfo.snapshotId"), snap3) == 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, GRP "/%s/runs?runTypes=kIncremental", g_files);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "runs")), 2);
    http_resp_release(&r);
    snprintf(path, sizeof path, GRP "/%s/runs?localBackupRunStatus=Failed,Canceled", g_files);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "runs")), 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, GRP "/%s/runs?runId=%s", g_files, run2);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "runs")), 1);
    CHECK(strcmp(jstr(r.json, "runs.0.id"), run2) == 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, GRP "/%s/runs?startTimeUsecs=%lld", g_files, T0 + 100 * HOUR);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "runs")), 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, GRP "/%s/runs?runId=12", g_files);
    expect_error(&d, "GET", path, T, NULL, 400, "runId");
    snprintf(path, sizeof path, GRP "/%s/runs?localBackupRunStatus=Done", g_files);
    expect_error(&d, "GET", path, T, NULL, 400, "localBackupRunStatus");
    snprintf(path, sizeof path, GRP "/%s/runs?numRuns=x", g_files);
    expect_error(&d, "GET", path, T, NULL, 400, "numRuns");
    /* One run. */
    snprintf(path, sizeof path, GRP "/%s/runs/%s", g_files, run1);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK(strcmp(jstr(r.json, "id"), run1) == 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, GRP "/%s/runs/nope", g_files);
    expect_error(&d, "GET", path, T, NULL, 400, "runId");
    snprintf(path, sizeof path, GRP "/%s/runs/%lld:%s", g_files, g_files_seq + 1000, strchr(run1, ':') + 1);
    expect_error(&d, "GET", path, T, NULL, 404, NULL);
    snprintf(path, sizeof path, GRP "/%s/runs/%lld:1", g_files, g_files_seq);
    expect_error(&d, "GET", path, T, NULL, 404, NULL);
    snprintf(path, sizeof path, GRP "/%s/runs/%s", g_files, run1);
    expect_error(&d, "GET", path, "runs-other", NULL, 404, NULL);
    snprintf(path, sizeof path, GRP "/%s/runs", g_files);
    expect_error(&d, "GET", path, "runs-other", NULL, 404, NULL);
    expect_error(&d, "GET", GRP "/bad-id/runs", T, NULL, 400, "'id'");
    /* Progress of a finished run. */
    p = progress(&d, run1);
    CHECK(p != NULL);
    CHECK(strcmp(jstr(p, "localRun.status"), "Finished") == 0);
    CHECK(json_real_value(jget(p, "localRun.percentageCompleted")) == 100.0);
    CHECK_EQ_INT(jint(p, "localRun.stats.backupFileCount"), nfiles_a);
    CHECK(json_is_true(jget(p, "localRun.stats.fileWalkDone")));
    CHECK_EQ_INT(jint(p, "localRun.objects.0.id"), host);
    CHECK_EQ_INT(jint(p, "localRun.cofferStats.bytesRead"), bytes_a);
    json_decref(p);
    snprintf(path, sizeof path, "/v2/data-protect/runs/%s/progress", run1);
    expect_error(&d, "GET", path, "runs-other", NULL, 404, NULL);
    expect_error(&d, "GET", "/v2/data-protect/runs/x:1/progress", T, NULL, 400, "runId");
}

TEST(bad_run_requests)
{
    char path[256];
    snprintf(path, sizeof path, GRP "/%s/runs", g_files);
    expect_error(&d, "POST", path, T, "{\"runType\":\"kLog\"}", 400, "kLog");
    expect_error(&d, "POST", path, T, "{\"runType\":\"kWhatever\"}", 400, "runType");
    expect_error(&d, "POST", path, T, "{}", 400, "runType");
    expect_error(&d, "POST", path, T, "{\"runType\":\"kRegular\",\"objects\":[{\"id\":424242}]}", 400, "objects[0].id");
    expect_error(&d, "POST", path, T, "{\"runType\":\"kRegular\",\"objects\":[{}]}", 400, "objects[0].id");
    expect_error(&d, "POST", path, T, "{\"runType\":\"kRegular\",\"objects\":{}}", 400, "objects");
    expect_error(&d, "POST", path, T, "not json", 400, NULL);
    expect_error(&d, "POST", path, "runs-other", "{\"runType\":\"kRegular\"}", 404, NULL);
    expect_error(&d, "POST", GRP "/1:2:99999/runs", T, "{\"runType\":\"kRegular\"}", 404, NULL);
    expect_error(&d, "POST", GRP "/zz/runs", T, "{\"runType\":\"kRegular\"}", 400, "'id'");
    snprintf(path, sizeof path, GRP "/%s/runs", g_paused);
    expect_error(&d, "POST", path, T, "{\"runType\":\"kRegular\"}", 409, "paused");
    /* Nothing was queued by any of these. */
    {
        struct http_resp r;
        snprintf(path, sizeof path, GRP "/%s/runs", g_files);
        CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
        CHECK_EQ_INT(jint(r.json, "totalRuns"), 3);
        http_resp_release(&r);
    }
    /* A subset naming the group's object is fine. */
    {
        char id[64];
        json_t *run;
        CHECK_EQ_INT(start_run(&d, g_warn, jfmt("{'runType':'kRegular','objects':[{'id':%lld}]}", host), id, sizeof id),
                     202);
        run = wait_run(&d, g_warn, id, 120);
        CHECK(run != NULL);
        CHECK(strcmp(run_status(run), "Succeeded") == 0); /* the vanished file is gone for good now */
        json_decref(run);
    }
}

TEST(update_retention_and_legal_hold)
{
    struct http_resp r;
    char path[256], snaps[512];
    json_t *run;
    snprintf(path, sizeof path, GRP "/%s/runs", g_files);
    /* Legal hold: deleting is refused. */
    CHECK_EQ_INT(call(&d, "PUT", path, T, jfmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':"
                                               "{'enableLegalHold':true,'daysToKeep':3}}]}", run1), &r), 207);
    CHECK(strcmp(jstr(r.json, "successfulRunIds.0"), run1) == 0);
    http_resp_release(&r);
    CHECK_EQ_INT(get_run(&d, g_files, run1, &run), 200);
    CHECK(json_is_true(jget(run, "onLegalHold")));
    CHECK(jint(run, "objects.0.localSnapshotInfo.snapshotInfo.expiryTimeUsecs") > T0 + 9 * 24 * HOUR);
    json_decref(run);
    CHECK_EQ_INT(call(&d, "PUT", path, T, jfmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':"
                                               "{'deleteSnapshot':true}},{'runId':'%lld:5'}]}", run1, g_files_seq), &r), 207);
    CHECK_EQ_INT(json_array_size(jget(r.json, "successfulRunIds")), 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "failedRuns")), 2);
    CHECK(strstr(jstr(r.json, "failedRuns.0.errorMessage"), "legal hold") != NULL);
    http_resp_release(&r);
    /* Released, then deleted: the run shows it and its snapshot is no longer listed. */
    CHECK_EQ_INT(call(&d, "PUT", path, T, jfmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':"
                                               "{'enableLegalHold':false,'deleteSnapshot':true}}]}", run1), &r), 207);
    CHECK(strcmp(jstr(r.json, "successfulRunIds.0"), run1) == 0);
    http_resp_release(&r);
    CHECK_EQ_INT(get_run(&d, g_files, run1, &run), 200);
    CHECK(json_is_true(jget(run, "isLocalSnapshotsDeleted")));
    CHECK(json_is_false(jget(run, "hasLocalSnapshot")));
    json_decref(run);
    snprintf(snaps, sizeof snaps, "/v2/data-protect/objects/%lld/snapshots?protectionGroupIds=%s", host, g_files);
    CHECK_EQ_INT(call(&d, "GET", snaps, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "snapshots")), 2);
    http_resp_release(&r);
    snprintf(snaps, sizeof snaps, GRP "/%s/runs?excludeNonRestorableRuns=true", g_files);
    CHECK_EQ_INT(call(&d, "GET", snaps, T, NULL, &r), 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "runs")), 2);
    http_resp_release(&r);
    expect_error(&d, "PUT", path, T, "{\"updateProtectionGroupRunParams\":[]}", 400, "updateProtectionGroupRunParams");
    expect_error(&d, "PUT", path, T, "{\"updateProtectionGroupRunParams\":[{\"localSnapshotConfig\":{}}]}", 400, "runId");
    expect_error(&d, "PUT", path, T,
                 jfmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':{'dataLock':'Forever'}}]}",
                     run2), 400, "dataLock");
}

TEST(cancel_of_a_finished_run_is_409)
{
    char path[256];
    snprintf(path, sizeof path, GRP "/%s/runs/actions", g_files);
    expect_error(&d, "POST", path, T, jfmt("{'action':'Cancel','cancelParams':[{'runId':'%s'}]}", run2), 409, "finished");
    expect_error(&d, "POST", path, T, "{\"action\":\"Stop\"}", 400, "action");
    expect_error(&d, "POST", path, T, "{\"action\":\"Cancel\"}", 400, "cancelParams");
    expect_error(&d, "POST", path, T, jfmt("{'action':'Cancel','cancelParams':[{'runId':'%lld:77'}]}", g_files_seq), 404,
                 NULL);
}

/* DELETE of a group with deleteSnapshots: its snapshots expire at once (the retention pass then
 * removes them), and the other group's snapshots of the same object are untouched. */
TEST(delete_group_with_snapshots_expires_them)
{
    struct http_resp r;
    char path[512];
    long long now;
    json_t *files_before;
    snprintf(path, sizeof path, "/v2/data-protect/objects/%lld/snapshots?protectionGroupIds=%s", host, g_files);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    files_before = json_incref(jget(r.json, "snapshots"));
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/objects/%lld/snapshots?protectionGroupIds=%s", host, g_warn);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK(json_array_size(jget(r.json, "snapshots")) >= 1);
    CHECK(jint(r.json, "snapshots.0.expiryTimeUsecs") > T0 + 24 * HOUR);
    http_resp_release(&r);
    snprintf(path, sizeof path, GRP "/%s?deleteSnapshots=true", g_warn);
    CHECK_EQ_INT(call(&d, "DELETE", path, T, NULL, &r), 204);
    http_resp_release(&r);
    CHECK_EQ_INT(call(&d, "POST", "/v2/coffer-test/clock", NULL, "{\"advanceUsecs\":1}", &r), 200);
    now = jint(r.json, "nowUsecs");
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/objects/%lld/snapshots?protectionGroupIds=%s", host, g_warn);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    for (size_t i = 0; i < json_array_size(jget(r.json, "snapshots")); i++) {
        json_t *sn = json_array_get(jget(r.json, "snapshots"), i);
        CHECKF(now == 0 || json_integer_value(json_object_get(sn, "expiryTimeUsecs")) <= now,
               "snapshot %zu still expires at %lld (now %lld)", i,
               (long long)json_integer_value(json_object_get(sn, "expiryTimeUsecs")), now);
    }
    http_resp_release(&r);
    /* The other group's snapshots are all still listed (moving the clock may have added a scheduled one). */
    snprintf(path, sizeof path, "/v2/data-protect/objects/%lld/snapshots?protectionGroupIds=%s", host, g_files);
    if (call(&d, "GET", path, T, NULL, &r) != 200) {
        json_decref(files_before);
        http_resp_release(&r);
        CHECK(!"listing the other group's snapshots");
    }
    for (size_t i = 0; i < json_array_size(files_before); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(files_before, i), "id"));
        int found = 0;
        for (size_t k = 0; k < json_array_size(jget(r.json, "snapshots")); k++)
            if (id && strcmp(id, jstr(json_array_get(jget(r.json, "snapshots"), k), "id")) == 0) found = 1;
        if (!found) {
            check_fail(__FILE__, __LINE__, "snapshot %s of the other group is gone", id ? id : "?");
            break;
        }
    }
    json_decref(files_before);
    http_resp_release(&r);
}

TEST(group_last_run)
{
    struct http_resp r;
    char path[256];
    snprintf(path, sizeof path, GRP "/%s?includeLastRunInfo=true", g_files);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK(jstr(r.json, "lastRun.id") != NULL && strcmp(jstr(r.json, "lastRun.id"), run3) == 0);
    CHECK(strcmp(jstr(r.json, "lastRun.localBackupInfo.status"), "Succeeded") == 0);
    http_resp_release(&r);
}

TEST(scheduled_run_under_the_test_clock)
{
    struct http_resp r;
    char path[256];
    json_t *runs, *v;
    size_t i;
    int found = 0;
    /* 00:10 + 55 min = 01:05: the hourly slot at 01:00 has come. */
    CHECK(set_clock(&d, "{\"advanceUsecs\":3300000000}") == 0);
    for (int k = 0; k < 600 && !found; k++) {
        snprintf(path, sizeof path, GRP "/%s/runs?includeObjectDetails=true", g_files);
        CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
        runs = jget(r.json, "runs");
        json_array_foreach(runs, i, v) {
            if (json_is_true(jget(v, "localBackupInfo.cofferStats.scheduled")) &&
                strcmp(run_status(v), "Succeeded") == 0) {
                found = 1;
                CHECK(strcmp(jstr(v, "localBackupInfo.runType"), "kRegular") == 0);
                CHECK(jint(v, "localBackupInfo.startTimeUsecs") >= T0 + 55 * 60 * 1000000LL);
                CHECK_EQ_INT(jint(v, "localBackupInfo.localSnapshotStats.bytesRead"), 0);
            }
        }
        http_resp_release(&r);
        if (!found) usleep(100 * 1000);
    }
    CHECK(found);
    /* The paused group did not run. */
    snprintf(path, sizeof path, GRP "/%s/runs", g_paused);
    CHECK_EQ_INT(call(&d, "GET", path, T, NULL, &r), 200);
    CHECK_EQ_INT(jint(r.json, "totalRuns"), 0);
    http_resp_release(&r);
    /* The clock route refuses a bad body. */
    CHECK_EQ_INT(call(&d, "POST", "/v2/coffer-test/clock", NULL, "{\"advanceUsecs\":1,\"nowUsecs\":1}", &r), 400);
    http_resp_release(&r);
}

/* total_runs: how many runs the group has (queued ones included), or -1. */
static long long total_runs(const char *group)
{
    struct http_resp r;
    char path[256];
    long long n = -1;
    snprintf(path, sizeof path, GRP "/%s/runs", group);
    if (call(&d, "GET", path, T, NULL, &r) == 200) n = jint(r.json, "totalRuns");
    http_resp_release(&r);
    return n;
}

TEST(the_scheduler_follows_edits_between_passes)
{
    /* A pass keeps each group's plan while no group or policy changed (sched.c): an edit of either
     * through the API is what the next pass follows. The clock is at 01:05. */
    struct http_resp r;
    char path[256];
    long long files0 = total_runs(g_files);
    CHECK(files0 > 0);
    snprintf(path, sizeof path, POL "/%s", policy);
    CHECK_EQ_INT(call(&d, "PUT", path, T, jfmt("{'name':'hourly','backupPolicy':{'regular':{'incremental':{"
                                                "'schedule':{'unit':'Days','daySchedule':{'frequency':1}}},"
                                                "'retention':{'unit':'Days','duration':7}}}}"), &r), 200);
    http_resp_release(&r);
    CHECK(set_clock(&d, "{\"advanceUsecs\":3600000000}") == 0); /* 02:05: daily now, at 00:00 */
    CHECK_EQ_INT(total_runs(g_files), files0);
    CHECK_EQ_INT(call(&d, "PUT", path, T, jfmt(HOURLY), &r), 200);
    http_resp_release(&r);
    CHECK(set_clock(&d, "{\"advanceUsecs\":3600000000}") == 0); /* 03:05: hourly again */
    CHECK_EQ_INT(total_runs(g_files), files0 + 1);
    /* the paused group, resumed, runs at the next slot */
    CHECK_EQ_INT(total_runs(g_paused), 0);
    snprintf(path, sizeof path, GRP "/%s", g_paused);
    CHECK_EQ_INT(call(&d, "PUT", path, T, group_body("paused", tree_a, ",'isPaused':false"), &r), 200);
    http_resp_release(&r);
    CHECK(set_clock(&d, "{\"advanceUsecs\":3600000000}") == 0); /* 04:05 */
    CHECK_EQ_INT(total_runs(g_paused), 1);
}

/* not_backed_up: what the files group leaves out of tree_a: the excluded directory and *.tmp. */
static int not_backed_up(const char *rel, const struct stat *st, void *ctx)
{
    size_t n = strlen(rel);
    (void)st; (void)ctx;
    return strcmp(rel, "excluded") == 0 || (n >= 4 && strcmp(rel + n - 4, ".tmp") == 0);
}

/* restore_compare: after the daemon stopped, restores snapshot id from its repository with the engine
 * and compares the restored tree with the source both ways (check_trees_equal: every file byte for
 * byte, nothing missing, nothing extra such as the excluded files). */
static void restore_compare(const char *data_dir, const char *id, const char *tree, int expect_files)
{
    char repo_dir[700], key[700], target[700], inner[1400], msg[1024];
    struct repo *repo = NULL;
    struct eng_restore_opts o = { 0 };
    struct eng_restore_result res = { 0 };
    char err[512] = "";
    int count = 0, rc;
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", data_dir);
    snprintf(key, sizeof key, "%s/repo.key", data_dir);
    snprintf(target, sizeof target, "%s/restored", g_tmp);
    rc = repo_open(repo_dir, key, &repo, err, sizeof err);
    CHECKF(rc == 0, "repo_open: %s", err);
    o.target_dir = target;
    rc = eng_restore(repo, id, &o, &res, err, sizeof err);
    eng_restore_result_release(&res);
    repo_close(repo);
    CHECKF(rc == 0, "eng_restore: %s", err);
    /* Restoring "/" puts the original absolute paths under target. */
    snprintf(inner, sizeof inner, "%s%s", target, tree);
    CHECKF(check_trees_equal(tree, inner, 0, not_backed_up, NULL, msg, sizeof msg, &count) == 0, "%s", msg);
    CHECK_EQ_INT(count, expect_files + 2); /* the files, the root and sub: nothing left unread */
    snprintf(inner, sizeof inner, "%s%s/excluded", target, tree);
    CHECK(access(inner, F_OK) != 0); /* excluded, so not in the snapshot */
    check_rm_rf(target);
}

TEST(restored_bytes_equal_the_source)
{
    CHECK_EQ_INT(daemon_kill(&d, SIGTERM), 0);
    restore_compare(d.data_dir, snap2, tree_a, (int)nfiles_a);
}

/* ---------- the slow daemon ---------- */

static const char *const slow_env[] = { "COFFER_TEST_CLOCK=1", "COFFER_TEST_HOOKS=1", "COFFER_TEST_SLOW_OPEN_MS=20",
                                        NULL };
static const char *const fast_env[] = { "COFFER_TEST_CLOCK=1", NULL };

TEST(slow_setup)
{
    struct http_resp r;
    char p[700];
    long long h;
    CHECK(set_clock(&slow, jfmt("{'nowUsecs':%lld}", T0)) == 0);
    snprintf(tree_big, sizeof tree_big, "%s/big", g_tmp);
    CHECK(mkdir(tree_big, 0755) == 0);
    for (int i = 0; i < 384; i++) {
        snprintf(p, sizeof p, "%s/r%03d.bin", tree_big, i);
        CHECK(write_file(p, 256 * 1024) == 0);
        bytes_big += 256 * 1024;
    }
    CHECK(call(&slow, "POST", SRC, T, jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1',"
                                           "'hostType':'kLinux'}}"), &r) == 201);
    h = jint(r.json, "sourceInfo.id");
    http_resp_release(&r);
    host = h;
    CHECK_EQ_INT(post_id(&slow, POL, jfmt(HOURLY), policy, sizeof policy, NULL), 201);
    CHECK_EQ_INT(post_id(&slow, GRP, group_body("big", tree_big, ""), g_big, sizeof g_big, NULL), 201);
    /* The scheduler notes the group at 00:10 (its next slot is 01:00). */
    CHECK(set_clock(&slow, "{\"advanceUsecs\":0}") == 0);
}

TEST(sigkill_mid_run_then_the_next_run_reuses_its_data)
{
    char id[64], id2[64];
    json_t *run, *p;
    CHECK_EQ_INT(start_run(&slow, g_big, "{\"runType\":\"kRegular\"}", id, sizeof id), 202);
    CHECK(wait_bytes(&slow, id, 64ll << 20, 120));
    /* While it runs: progress, a second run is refused, a slot that comes is Missed. */
    p = progress(&slow, id);
    CHECK(p != NULL);
    CHECK(strcmp(jstr(p, "localRun.status"), "Active") == 0);
    CHECKF(json_real_value(jget(p, "localRun.percentageCompleted")) > 0 &&
           json_real_value(jget(p, "localRun.percentageCompleted")) < 100, "pct %f",
           json_real_value(jget(p, "localRun.percentageCompleted")));
    CHECK_EQ_INT(jint(p, "localRun.stats.totalFileCount"), 384);
    json_decref(p);
    CHECK_EQ_INT(start_run(&slow, g_big, "{\"runType\":\"kFull\"}", NULL, 0), 409);
    CHECK(set_clock(&slow, "{\"advanceUsecs\":3600000000}") == 0); /* 01:10: the 01:00 slot */
    {
        struct http_resp r;
        char path[256];
        snprintf(path, sizeof path, GRP "/%s/runs?localBackupRunStatus=Missed", g_big);
        CHECK_EQ_INT(call(&slow, "GET", path, T, NULL, &r), 200);
        CHECK_EQ_INT(json_array_size(jget(r.json, "runs")), 1);
        CHECK(strstr(jstr(r.json, "runs.0.localBackupInfo.messages.0"), "missed") != NULL);
        CHECK(json_is_true(jget(r.json, "runs.0.localBackupInfo.cofferStats.scheduled")));
        http_resp_release(&r);
    }
    {
        char how[96];
        CHECKF(daemon_kill_how(&slow, SIGKILL, how, sizeof how) == SIGKILL,
               "the daemon was not killed mid-run by SIGKILL: %s", how);
    }
    CHECK(daemon_restart(&slow, fast_env) == 0);
    CHECK_EQ_INT(get_run(&slow, g_big, id, &run), 200);
    CHECKF(strcmp(run_status(run), "Failed") == 0, "status %s", run_status(run));
    CHECK(has_message(run, "interrupted by daemon restart"));
    CHECK_EQ_INT(jint(run, "localBackupInfo.failedObjectsCount"), 1);
    json_decref(run);
    /* The next run works and stores less than the tree: the killed run's sealed packs are reused. */
    CHECK_EQ_INT(start_run(&slow, g_big, "{\"runType\":\"kRegular\"}", id2, sizeof id2), 202);
    run = wait_run(&slow, g_big, id2, 240);
    CHECK(run != NULL);
    CHECKF(strcmp(run_status(run), "Succeeded") == 0, "status %s", run_status(run));
    CHECK_EQ_INT(jint(run, "localBackupInfo.localSnapshotStats.bytesRead"), bytes_big);
    CHECKF(jint(run, "localBackupInfo.localSnapshotStats.bytesWritten") < bytes_big - (16ll << 20),
           "wrote %lld of %lld", jint(run, "localBackupInfo.localSnapshotStats.bytesWritten"), bytes_big);
    json_decref(run);
}

TEST(cancel_a_running_run)
{
    char id[64], path[256];
    json_t *run;
    struct http_resp r;
    CHECK(daemon_kill(&slow, SIGTERM) == 0);
    CHECK(daemon_restart(&slow, slow_env) == 0);
    CHECK_EQ_INT(start_run(&slow, g_big, "{\"runType\":\"kFull\"}", id, sizeof id), 202);
    CHECK(wait_bytes(&slow, id, 1, 120));
    snprintf(path, sizeof path, GRP "/%s/runs/actions", g_big);
    CHECK_EQ_INT(call(&slow, "POST", path, T, jfmt("{'action':'Cancel','cancelParams':[{'runId':'%s'}]}", id), &r), 202);
    CHECK(strcmp(jstr(r.json, "action"), "Cancel") == 0);
    CHECK(strcmp(jstr(r.json, "cancelParams.0.runId"), id) == 0);
    http_resp_release(&r);
    run = wait_run(&slow, g_big, id, 60);
    CHECK(run != NULL);
    CHECKF(strcmp(run_status(run), "Canceled") == 0, "status %s", run_status(run));
    CHECK(jint(run, "localBackupInfo.endTimeUsecs") > 0);
    json_decref(run);
    /* A finished run cannot be paused (e2e_pause has pause and resume). */
    CHECK_EQ_INT(call(&slow, "POST", path, T, jfmt("{'action':'Pause','pauseParams':[{'runId':'%s'}]}", id), &r), 409);
    CHECK(jstr(r.json, "message") && strstr(jstr(r.json, "message"), "is Canceled"));
    http_resp_release(&r);
}

TEST(sigterm_mid_run_requeues_it)
{
    char id[64];
    json_t *run;
    CHECK_EQ_INT(start_run(&slow, g_big, "{\"runType\":\"kFull\"}", id, sizeof id), 202);
    CHECK(wait_bytes(&slow, id, 1, 120));
    CHECK_EQ_INT(daemon_kill(&slow, SIGTERM), 0); /* a clean exit: the backup stopped at a safe point */
    CHECK(daemon_restart(&slow, fast_env) == 0);
    run = wait_run(&slow, g_big, id, 240);
    CHECK(run != NULL);
    CHECKF(strcmp(run_status(run), "Succeeded") == 0, "status %s", run_status(run));
    CHECK(has_message(run, "queued again"));
    json_decref(run);
}

TEST(test_clock_is_off_by_default)
{
    struct daemon plain;
    struct http_resp r;
    CHECK(daemon_start(&plain, NULL) == 0);
    CHECK_EQ_INT(call(&plain, "POST", "/v2/coffer-test/clock", NULL, "{\"advanceUsecs\":1}", &r), 404);
    http_resp_release(&r);
    CHECK_EQ_INT(daemon_stop(&plain), 0);
}

int main(void)
{
    static const char *const env[] = { "COFFER_TEST_CLOCK=1", "COFFER_TEST_HOOKS=1", "COFFER_TEST_VANISH=vanish-me",
                                       NULL };
    g_tmp = check_tmpdir("runs-trees");
    if (daemon_start(&d, env) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup);
    RUN(first_run_backs_up_the_tree);
    RUN(second_runs_reuse_the_data);
    RUN(vanished_file_is_a_warning);
    RUN(object_snapshots_list_them);
    RUN(protected_objects_search);
    RUN(restore_points_list_them);
    RUN(list_get_and_progress);
    RUN(bad_run_requests);
    RUN(update_retention_and_legal_hold);
    RUN(cancel_of_a_finished_run_is_409);
    RUN(group_last_run);
    RUN(scheduled_run_under_the_test_clock);
    RUN(the_scheduler_follows_edits_between_passes);
    RUN(delete_group_with_snapshots_expires_them);
    RUN(restored_bytes_equal_the_source); /* stops the daemon, then reads its repository */
    check_rm_rf(d.data_dir);
    free(d.data_dir);
    d.data_dir = NULL;

    if (daemon_start(&slow, slow_env) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(slow_setup);
    RUN(sigkill_mid_run_then_the_next_run_reuses_its_data);
    RUN(cancel_a_running_run);
    RUN(sigterm_mid_run_requeues_it);
    if (daemon_stop(&slow) != 0) check_fail(__FILE__, __LINE__, "the slow daemon did not exit cleanly");
    RUN(test_clock_is_off_by_default);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
