/* e2e_s3.c: cofferd with its repository on S3 (COFFER_REPOSITORY=s3://bucket/prefix) against a
 * real S3-compatible server (versitygw, tests/e2e/s3test.c) with Object Lock on the bucket:
 *   - two backups of a changing directory through the API; the bucket holds the repository's
 *     objects under the prefix and the data directory holds no repository (only the key and the
 *     cache);
 *   - an unchanged third backup stores no file data again;
 *   - a Compliance data lock on a run: the server itself refuses a direct signed DELETE of the
 *     snapshot document's version;
 *   - a legal hold on a run is an object legal hold on its snapshot document (a direct DELETE is
 *     refused), lifted with the hold;
 *   - the first run's snapshot deleted, prune frees packs in the bucket, verify (reading every blob)
 *     is clean;
 *   - the daemon stopped, every kept snapshot restored from the bucket (a fresh cache) and compared
 *     byte for byte with a copy of the source as it was at its backup. */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/e2e_recover_fixture.h"
#include "e2e/s3test.h"
#include "engine/engine.h"
#include "repo/backend.h"
#include "repo/repo.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T "tenant-s3"
#define BUCKET "coffer-e2e"
#define PRUNE "/v2/coffer/repository/prune"
#define VERIFY "/v2/coffer/repository/verify"
#define STATS "/v2/coffer/repository/stats"

static struct s3test g_s3;
static struct daemon d;
static char *tmp;
static char src[512], copies[3][600];
static char gid[256], runs[3][64], snaps[3][REPO_ID_HEX_LEN + 1];

static int run_now(int k)
{
    json_t *j = NULL;
    char path[400];
    if (post_json(&d, fmt(FX_GRP "/%s/runs", gid), T, "{\"runType\":\"kRegular\"}", 202, &j) != 202) return -1;
    snprintf(runs[k], sizeof runs[k], "%s", jstr(j, "runId") ? jstr(j, "runId") : "");
    json_decref(j);
    snprintf(path, sizeof path, FX_GRP "/%s/runs/%s?includeObjectDetails=true", gid, runs[k]);
    for (int i = 0; i < 1800; i++) {
        const char *st, *s;
        if (get_json(&d, path, T, &j) == 200 && (st = jstr(j, "localBackupInfo.status")) != NULL &&
            strcmp(st, "Accepted") != 0 && strcmp(st, "Running") != 0) {
            int ok = strcmp(st, "Succeeded") == 0;
            s = jstr(j, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId");
            snprintf(snaps[k], sizeof snaps[k], "%s", s ? s : "");
            if (!ok) fprintf(stderr, "run %d ended %s: %s\n", k, st, jstr(j, "localBackupInfo.messages.0") ?: "");
            json_decref(j);
            return ok && strlen(snaps[k]) == 64 ? 0 : -1;
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    return -1;
}

static long long stat_of(const char *field)
{
    json_t *j = NULL;
    long long n = -1;
    if (get_json(&d, STATS, NULL, &j) == 200) n = jint(j, field);
    json_decref(j);
    return n;
}

/* wait_last: polls GET path until its "last" has id; that object (caller decrefs) or NULL. */
static json_t *wait_last(const char *path, long long id)
{
    for (int i = 0; i < 1200; i++) {
        json_t *j = NULL, *last;
        if (get_json(&d, path, NULL, &j) == 200 && (last = json_object_get(j, "last")) != NULL &&
            jint(last, "id") == id && jstr(last, "status") && strcmp(jstr(last, "status"), "Queued") != 0 &&
            strcmp(jstr(last, "status"), "Running") != 0) {
            json_incref(last);
            json_decref(j);
            return last;
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    return NULL;
}

static void snapshot_copy(int k)
{
    char cmd[1300];
    snprintf(copies[k], sizeof copies[k], "%s/copy%d", tmp, k);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", src, copies[k]);
    if (system(cmd) != 0) fprintf(stderr, "cp failed\n");
}

TEST(backups_land_in_the_bucket)
{
    long long host = 0;
    char policy[256], path[700];
    struct stat st;
    snprintf(src, sizeof src, "%s/src", tmp);
    CHECK(mkdir(src, 0700) == 0);
    for (int f = 0; f < 6; f++) {
        snprintf(path, sizeof path, "%s/f%d", src, f);
        CHECK(write_random(path, 400000 + (size_t)f * 1000, 0644) == 0);
    }
    snprintf(path, sizeof path, "%s/sub", src);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/sub/big", src);
    CHECK(write_random(path, 12u << 20, 0600) == 0); /* a pack large enough for a multipart upload */
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
    CHECK(fx_group(&d, T, "s3-group", policy, host, src, gid, sizeof gid) == 0);
    CHECK(run_now(0) == 0);
    snapshot_copy(0);
    for (int f = 0; f < 3; f++) { /* three files change */
        snprintf(path, sizeof path, "%s/f%d", src, f);
        CHECK(write_random(path, 300000, 0644) == 0);
    }
    CHECK(run_now(1) == 0);
    snapshot_copy(1);
    CHECKF(s3test_count_keys(&g_s3, BUCKET, "repo/snapshots/") == 2, "%d snapshot objects",
           s3test_count_keys(&g_s3, BUCKET, "repo/snapshots/"));
    CHECK(s3test_count_keys(&g_s3, BUCKET, "repo/data/") >= 2);
    CHECK(s3test_count_keys(&g_s3, BUCKET, "repo/index/") >= 2);
    CHECK_EQ_INT(s3test_count_keys(&g_s3, BUCKET, "repo/config"), 1);
    CHECK_EQ_INT(s3test_count_keys(&g_s3, BUCKET, "repo/keys/"), 1);
    snprintf(path, sizeof path, "%s/repo", d.data_dir);
    CHECKF(stat(path, &st) != 0, "%s exists: the repository must be in the bucket only", path);
    snprintf(path, sizeof path, "%s/repo.key", d.data_dir);
    CHECK(stat(path, &st) == 0);
}

TEST(unchanged_rebackup_stores_nothing_new)
{
    int packs = s3test_count_keys(&g_s3, BUCKET, "repo/data/");
    long long bytes = stat_of("packBytes");
    CHECK(run_now(2) == 0);
    snapshot_copy(2);
    /* no file data again: at most the new snapshot's trees in one small pack */
    CHECK(s3test_count_keys(&g_s3, BUCKET, "repo/data/") <= packs + 1);
    CHECKF(stat_of("packBytes") - bytes < 64 * 1024, "the unchanged backup added %lld bytes", stat_of("packBytes") - bytes);
}

TEST(compliance_lock_is_enforced_by_the_server)
{
    struct http_resp r;
    char path[400], vid[200], q[300], *out = NULL;
    long st = call(&d, "PUT", fmt(FX_GRP "/%s/runs", gid), T,
                   fmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':{'dataLock':'Compliance'}}]}",
                       runs[1]), &r);
    http_resp_release(&r);
    CHECKF(st == 207 || st == 200, "PUT dataLock: %ld", st);
    snprintf(path, sizeof path, "/" BUCKET "/repo/snapshots/%s", snaps[1]);
    CHECK_EQ_INT(s3test_version_id(&g_s3, path, vid, sizeof vid), 0);
    snprintf(q, sizeof q, "versionId=%s", vid);
    CHECK(s3test_request(&g_s3, "DELETE", path, vid[0] ? q : "", NULL, NULL, 0, &st, &out) == 0);
    free(out);
    CHECKF(st == 403, "a direct DELETE of the locked snapshot's version answered %ld", st);
    CHECK_EQ_INT(s3test_version_id(&g_s3, path, vid, sizeof vid), 0); /* still there */
    /* the API refuses too */
    st = call(&d, "PUT", fmt(FX_GRP "/%s/runs", gid), T,
              fmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':{'deleteSnapshot':true}}]}",
                  runs[1]), &r);
    http_resp_release(&r);
    CHECKF(st == 409, "deleteSnapshot of the locked run: %ld", st);
}

TEST(legal_hold_is_an_object_legal_hold)
{
    struct http_resp r;
    char path[400], vid[200], q[300], *out = NULL;
    const char *body;
    long st;
    body = fmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':{'enableLegalHold':true}}]}", runs[2]);
    st = call(&d, "PUT", fmt(FX_GRP "/%s/runs", gid), T, body, &r);
    http_resp_release(&r);
    CHECKF(st == 207 || st == 200, "PUT enableLegalHold: %ld", st);
    snprintf(path, sizeof path, "/" BUCKET "/repo/snapshots/%s", snaps[2]);
    CHECK(s3test_request(&g_s3, "GET", path, "legal-hold=", NULL, NULL, 0, &st, &out) == 0);
    CHECKF(st == 200 && out && strstr(out, "<Status>ON</Status>"), "legal hold: %ld %s", st, out ? out : "");
    free(out);
    out = NULL;
    CHECK_EQ_INT(s3test_version_id(&g_s3, path, vid, sizeof vid), 0);
    snprintf(q, sizeof q, "versionId=%s", vid);
    CHECK(s3test_request(&g_s3, "DELETE", path, vid[0] ? q : "", NULL, NULL, 0, &st, &out) == 0);
    free(out);
    out = NULL;
    CHECKF(st == 403, "a direct DELETE of the held snapshot's version answered %ld", st);
    body = fmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':{'enableLegalHold':false}}]}", runs[2]);
    st = call(&d, "PUT", fmt(FX_GRP "/%s/runs", gid), T, body, &r);
    http_resp_release(&r);
    CHECKF(st == 207 || st == 200, "PUT enableLegalHold false: %ld", st);
    CHECK(s3test_request(&g_s3, "GET", path, "legal-hold=", NULL, NULL, 0, &st, &out) == 0);
    CHECKF(st == 200 && out && strstr(out, "<Status>OFF</Status>"), "legal hold lifted: %ld %s", st, out ? out : "");
    free(out);
}

TEST(prune_and_verify_on_s3)
{
    struct http_resp r;
    json_t *j = NULL, *last;
    long long id;
    char *keys0 = NULL, *keys1 = NULL;
    long st = call(&d, "PUT", fmt(FX_GRP "/%s/runs", gid), T,
                   fmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':{'deleteSnapshot':true}}]}",
                       runs[0]), &r);
    http_resp_release(&r);
    CHECKF(st == 207 || st == 200, "deleteSnapshot: %ld", st);
    CHECK(s3test_request(&g_s3, "GET", "/" BUCKET, "list-type=2&prefix=repo%2Fdata%2F", NULL, NULL, 0, &st, &keys0) == 0);
    CHECKF(s3test_count_keys(&g_s3, BUCKET, "repo/snapshots/") == 2, "%d snapshot objects",
           s3test_count_keys(&g_s3, BUCKET, "repo/snapshots/"));
    CHECK(post_json(&d, PRUNE, NULL, "{}", 202, &j) == 202);
    id = jint(j, "id");
    json_decref(j);
    CHECK((last = wait_last(PRUNE, id)) != NULL);
    CHECKF(strcmp(jstr(last, "status"), "Succeeded") == 0, "prune %s", jstr(last, "status"));
    {
        char *txt = json_dumps(last, JSON_COMPACT);
        printf("info: prune %s\n", txt ? txt : "");
        free(txt);
    }
    CHECK(jint(last, "report.packsDeleted") + jint(last, "report.packsRepacked") > 0);
    CHECK(jint(last, "report.bytesFreed") > 0);
    json_decref(last);
    /* the repacked pack is gone from the bucket, its successor there */
    CHECK(s3test_request(&g_s3, "GET", "/" BUCKET, "list-type=2&prefix=repo%2Fdata%2F", NULL, NULL, 0, &st, &keys1) == 0);
    CHECK(keys0 && keys1 && strstr(keys0, "<Key>") && strstr(keys1, "<Key>"));
    CHECKF(strcmp(strstr(keys0, "<Key>"), strstr(keys1, "<Key>")) != 0, "the bucket's packs did not change");
    free(keys0);
    free(keys1);
    CHECK(post_json(&d, VERIFY, NULL, "{\"readData\":true}", 202, &j) == 202);
    id = jint(j, "id");
    json_decref(j);
    CHECK((last = wait_last(VERIFY, id)) != NULL);
    CHECKF(strcmp(jstr(last, "status"), "Succeeded") == 0 && json_is_true(jget(last, "report.ok")),
           "verify %s", jstr(last, "status"));
    json_decref(last);
}

TEST(kept_snapshots_restore_from_the_bucket)
{
    char key[700], err[512] = "", target[700], got[1500], msg[512], cache[700];
    struct repo_backend *be = NULL;
    struct repo *r = NULL;
    CHECK_EQ_INT(daemon_kill(&d, SIGTERM), 0);
    snprintf(key, sizeof key, "%s/repo.key", d.data_dir);
    snprintf(cache, sizeof cache, "%s/fresh-cache", tmp);
    s3test_env(&g_s3, NULL);
    CHECKF(repo_backend_for("s3://" BUCKET "/repo", cache, &be, err, sizeof err) == 0, "%s", err);
    CHECKF(repo_open_be(be, "s3://" BUCKET "/repo", key, &r, err, sizeof err) == 0, "%s", err);
    for (int k = 1; k < 3; k++) {
        struct eng_restore_opts o = { .target_dir = target, .overwrite = 1 };
        struct eng_restore_result res;
        int n = 0;
        snprintf(target, sizeof target, "%s/restore%d", tmp, k);
        CHECKF(eng_restore(r, snaps[k], &o, &res, err, sizeof err) == 0, "restore %d: %s", k, err);
        eng_restore_result_release(&res);
        snprintf(got, sizeof got, "%s%s", target, src);
        CHECKF(check_trees_equal(copies[k], got, 0, NULL, NULL, msg, sizeof msg, &n) == 0, "snapshot %d: %s", k, msg);
        CHECK_EQ_INT(n, 9);
    }
    repo_close(r);
}

int main(void)
{
    static const char *const TESTS[] = { "backups_land_in_the_bucket", "unchanged_rebackup_stores_nothing_new",
                                         "compliance_lock_is_enforced_by_the_server",
                                         "legal_hold_is_an_object_legal_hold", "prune_and_verify_on_s3",
                                         "kept_snapshots_restore_from_the_bucket" };
    char ep[128];
    const char *env[10];
    if (s3test_serve_or_skip(&g_s3, "e2es3", BUCKET, TESTS, sizeof TESTS / sizeof *TESTS) != 0) return check_finish();
    tmp = check_tmpdir("e2e-s3");
    snprintf(ep, sizeof ep, "COFFER_S3_ENDPOINT=%s", g_s3.endpoint);
    env[0] = "COFFER_PRUNE_INTERVAL_SECS=0";
    env[1] = "COFFER_REPOSITORY=s3://" BUCKET "/repo";
    env[2] = ep;
    env[3] = "COFFER_S3_REGION=" S3TEST_REGION;
    env[4] = "COFFER_S3_PATH_STYLE=1";
    env[5] = "AWS_ACCESS_KEY_ID=" S3TEST_ACCESS;
    env[6] = "AWS_SECRET_ACCESS_KEY=" S3TEST_SECRET;
    env[7] = NULL;
    if (daemon_start(&d, env) != 0) check_abandon("the daemon did not start on S3");
    RUN(backups_land_in_the_bucket);
    RUN(unchanged_rebackup_stores_nothing_new);
    RUN(compliance_lock_is_enforced_by_the_server);
    RUN(legal_hold_is_an_object_legal_hold);
    RUN(prune_and_verify_on_s3);
    RUN(kept_snapshots_restore_from_the_bucket);
    daemon_stop(&d);
    s3test_destroy(&g_s3);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
