/* e2e_pause.c: PerformActionOnProtectionGroupRun Pause and Resume on a running backup.
 *
 * A daemon whose file opens are slowed (COFFER_TEST_SLOW_OPEN_MS) backs up a 7.5 MiB tree of 480
 * random files in two directories. Once the run has read at least 1 MiB it is paused: it becomes
 * Paused (the file engine stopped before its next entry and wrote what it had as a checkpoint),
 * stays Paused, and stays Paused across a daemon restart. Resumed, it succeeds; the bytes it read
 * after the resume (the run's bytesRead) are at most the tree minus what was read before the pause,
 * its logical size is the whole tree, and the snapshot restored from the repository equals the tree
 * byte for byte; the checkpoint is gone from the repository (one snapshot). Pause again while
 * Paused, and Resume of a finished run, are 409. */
#include "check.h"
#include "e2e/harness.h"
#include "engine/engine.h"
#include "repo/repo.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRC "/v2/data-protect/sources/registrations"
#define POL "/v2/data-protect/policies"
#define GRP "/v2/data-protect/protection-groups"
#define T "pause-a"
#define NFILES 480
#define FSIZE (16 * 1024)

static struct daemon d;
static char *g_tmp, tree[600], group[128];
static const char *const g_env[] = { "COFFER_TEST_HOOKS=1", "COFFER_TEST_SLOW_OPEN_MS=10", NULL };
static uint64_t g_rng = 0x2545f4914f6cdd1dull;

static int write_random(const char *path, size_t size)
{
    unsigned char *buf = malloc(size);
    FILE *f = fopen(path, "wb");
    int ok = buf && f;
    for (size_t i = 0; ok && i < size; i++) {
        g_rng ^= g_rng << 13;
        g_rng ^= g_rng >> 7;
        g_rng ^= g_rng << 17;
        buf[i] = (unsigned char)(g_rng >> 24);
    }
    if (ok) ok = fwrite(buf, 1, size, f) == size;
    if (f && fclose(f) != 0) ok = 0;
    free(buf);
    return ok ? 0 : -1;
}

static json_t *get_run(const char *id)
{
    struct http_resp r;
    json_t *j = NULL;
    if (http(&d, "GET", jfmt(GRP "/%s/runs/%s?includeObjectDetails=true", group, id), T, NULL, &r) == 0 &&
        r.status == 200)
        j = json_incref(r.json);
    http_resp_release(&r);
    return j;
}

/* wait_status: polls until the run's status is want (timeout_s); its JSON or NULL. */
static json_t *wait_status(const char *id, const char *want, int timeout_s)
{
    char seen[64] = "";
    for (int i = 0; i < timeout_s * 10; i++) {
        json_t *run = get_run(id);
        const char *st = jstr(run, "localBackupInfo.status");
        snprintf(seen, sizeof seen, "%s", st ? st : "?");
        if (st && strcmp(st, want) == 0) return run;
        json_decref(run);
        usleep(100 * 1000);
    }
    fprintf(stderr, "run %s never became %s (last: %s)\n", id, want, seen);
    return NULL;
}

/* bytes_read_now: the running run's bytes read so far (progress), -1 when not running. */
static long long bytes_read_now(const char *id)
{
    struct http_resp r;
    long long b = -1;
    if (http(&d, "GET", jfmt("/v2/data-protect/runs/%s/progress", id), T, NULL, &r) == 0 && r.status == 200)
        b = jint(r.json, "localRun.cofferStats.bytesRead");
    http_resp_release(&r);
    return b;
}

static long action(const char *act, const char *id, struct http_resp *r)
{
    const char *field = strcmp(act, "Pause") == 0 ? "pauseParams" : "resumeParams";
    if (http(&d, "POST", jfmt(GRP "/%s/runs/actions", group), T,
             jfmt("{'action':'%s','%s':[{'runId':'%s'}]}", act, field, id), r) != 0)
        return -1;
    return r->status;
}

TEST(setup)
{
    struct http_resp r;
    char pol[128];
    long long host;
    snprintf(tree, sizeof tree, "%s/tree", g_tmp);
    CHECK(mkdir(tree, 0755) == 0);
    CHECK(mkdir(jfmt("%s/a", tree), 0755) == 0 && mkdir(jfmt("%s/b", tree), 0755) == 0);
    for (int i = 0; i < NFILES; i++) CHECK(write_random(jfmt("%s/%c/f%03d.bin", tree, i < NFILES / 2 ? 'a' : 'b', i), FSIZE) == 0);
    CHECK(http(&d, "POST", SRC, T, jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1',"
                                        "'hostType':'kLinux'}}"), &r) == 0 && r.status == 201);
    host = jint(r.json, "sourceInfo.id");
    http_resp_release(&r);
    CHECK(http(&d, "POST", POL, T, jfmt("{'name':'p','backupPolicy':{'regular':{'incremental':{'schedule':"
                                        "{'unit':'Years','yearSchedule':{'dayOfYear':'First'}}},'retention':"
                                        "{'unit':'Days','duration':7}}}}"), &r) == 0 && r.status == 201);
    snprintf(pol, sizeof pol, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    CHECK(http(&d, "POST", GRP, T, jfmt("{'name':'g','policyId':'%s','environment':'kPhysical',"
                                       "'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':"
                                       "{'objects':[{'id':%lld,'filePaths':[{'includedPath':'%s'}]}]}}}",
                                       pol, host, tree), &r) == 0 && r.status == 201);
    snprintf(group, sizeof group, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
}

/* restore_compare: after the daemon stopped, the snapshot restored from its repository equals the tree. */
static void restore_compare(const char *snap)
{
    char repo_dir[700], key[700], target[700], inner[1400], msg[1024], err[512] = "";
    struct repo *repo = NULL;
    struct eng_restore_opts o = { 0 };
    struct eng_restore_result res = { 0 };
    int count = 0, rc;
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", d.data_dir);
    snprintf(key, sizeof key, "%s/repo.key", d.data_dir);
    snprintf(target, sizeof target, "%s/restored", g_tmp);
    rc = repo_open(repo_dir, key, &repo, err, sizeof err);
    CHECKF(rc == 0, "repo_open: %s", err);
    {
        json_t *ids = NULL; /* the checkpoint was forgotten once the run's snapshot was written */
        CHECK(repo_snapshot_list(repo, &ids) == 0);
        rc = (int)json_array_size(ids);
        json_decref(ids);
        if (rc != 1) repo_close(repo);
        CHECKF(rc == 1, "%d snapshots in the repository", rc);
    }
    o.target_dir = target;
    rc = eng_restore(repo, snap, &o, &res, err, sizeof err);
    eng_restore_result_release(&res);
    repo_close(repo);
    CHECKF(rc == 0, "eng_restore: %s", err);
    snprintf(inner, sizeof inner, "%s%s", target, tree);
    CHECKF(check_trees_equal(tree, inner, 0, NULL, NULL, msg, sizeof msg, &count) == 0, "%s", msg);
    CHECK_EQ_INT(count, NFILES + 3); /* the files, the root, a and b */
    check_rm_rf(target);
}

TEST(pause_restart_resume_reads_only_the_rest)
{
    struct http_resp r;
    char id[64] = "", snap[128] = "";
    long long before = -1, total = (long long)NFILES * FSIZE;
    json_t *run;
    CHECK(http(&d, "POST", jfmt(GRP "/%s/runs", group), T, "{\"runType\":\"kRegular\"}", &r) == 0 && r.status == 202);
    snprintf(id, sizeof id, "%s", jstr(r.json, "runId"));
    http_resp_release(&r);
    for (int i = 0; i < 600 && before < (1 << 20); i++) {
        before = bytes_read_now(id);
        usleep(50 * 1000);
    }
    CHECKF(before >= (1 << 20) && before < total / 2, "read %lld of %lld before the pause", before, total);
    CHECK_EQ_INT(action("Pause", id, &r), 202);
    CHECK(jstr(r.json, "pauseParams.0.runId") && !jget(r.json, "pauseParams.0.error"));
    http_resp_release(&r);
    run = wait_status(id, "Paused", 60);
    CHECK(run != NULL);
    CHECK(jint(run, "localBackupInfo.endTimeUsecs") == 0);
    json_decref(run);
    /* it stays paused, and Pause again is refused */
    sleep(2);
    run = get_run(id);
    CHECK(run && strcmp(jstr(run, "localBackupInfo.status"), "Paused") == 0);
    json_decref(run);
    CHECK_EQ_INT(action("Pause", id, &r), 409);
    http_resp_release(&r);
    /* across a daemon restart */
    CHECK(daemon_kill(&d, SIGTERM) == 0);
    CHECK(daemon_restart(&d, g_env) == 0);
    sleep(2);
    run = get_run(id);
    CHECK(run && strcmp(jstr(run, "localBackupInfo.status"), "Paused") == 0);
    json_decref(run);
    /* resumed: only the rest is read */
    CHECK_EQ_INT(action("Resume", id, &r), 202);
    CHECK(jstr(r.json, "resumeParams.0.runId") && !jget(r.json, "resumeParams.0.error"));
    http_resp_release(&r);
    run = wait_status(id, "Succeeded", 120);
    CHECK(run != NULL);
    CHECK_EQ_INT(jint(run, "localBackupInfo.localSnapshotStats.logicalSizeBytes"), total);
    CHECKF(jint(run, "localBackupInfo.localSnapshotStats.bytesRead") <= total - before &&
               jint(run, "localBackupInfo.localSnapshotStats.bytesRead") > 0,
           "read %lld after the resume; %lld of %lld were read before the pause",
           jint(run, "localBackupInfo.localSnapshotStats.bytesRead"), before, total);
    fprintf(stderr, "bytes read: %lld before the pause (at least), %lld after the resume, tree %lld\n", before,
            jint(run, "localBackupInfo.localSnapshotStats.bytesRead"), total);
    snprintf(snap, sizeof snap, "%s", jstr(json_array_get(jget(run, "objects"), 0),
                                           "localSnapshotInfo.snapshotInfo.snapshotId")
                                          ? jstr(json_array_get(jget(run, "objects"), 0),
                                                 "localSnapshotInfo.snapshotInfo.snapshotId")
                                          : "");
    json_decref(run);
    CHECK(snap[0]);
    /* a finished run: Pause and Resume are 409 */
    CHECK_EQ_INT(action("Resume", id, &r), 409);
    CHECK(jstr(r.json, "message") && strstr(jstr(r.json, "message"), "only a Paused run"));
    http_resp_release(&r);
    CHECK_EQ_INT(daemon_kill(&d, SIGTERM), 0);
    restore_compare(snap);
}

int main(void)
{
    g_tmp = check_tmpdir("pause-trees");
    if (daemon_start(&d, g_env) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup);
    RUN(pause_restart_resume_reads_only_the_rest);
    check_rm_rf(d.data_dir);
    free(d.data_dir);
    d.data_dir = NULL;
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
