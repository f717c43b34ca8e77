/* e2e_datalock.c: data locks (WORM) and legal hold through the real daemon (test clock on, a
 * data-security key configured). Three groups over three directories, one run each:
 *   - run 1 Compliance-locked (PUT runs dataLock): deleteSnapshot is a 409 whose message names the
 *     Compliance lock and its end; daysToKeep -1 (shorten) is a 409; daysToKeep 2 (extend) works and
 *     moves the lock's end; the lock object and the storage's retention record are in the repository;
 *     its group deleted with deleteSnapshots: the retention pass (clock past that expiry) keeps it;
 *   - run 2 Administrative-locked: deleteSnapshot with the admin key is a 403 naming the lock; with
 *     the data-security key it is deleted;
 *   - run 3 on legal hold: kept past its retention (clock + 8 days);
 *   - the daemon stopped, the catalog edited (SQL: run 1's snapshot row marked deleted), restarted:
 *     prune keeps run 1's snapshot (the repository's lock) and, the daemon stopped, it restores byte
 *     for byte and verify is clean; run 2's is gone; run 3's is there;
 *   - legal hold lifted: the retention pass deletes run 3 at once (it expired);
 *   - at the clock past run 1's lock: prune forgets it (the catalog said deleted) and the repository
 *     holds neither run 1's nor run 3's snapshot;
 *   - a policy's dataLockConfig locks its group's new run without any PUT. */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/e2e_recover_fixture.h"
#include "engine/engine.h"
#include "repo/backend.h"
#include "repo/repo.h"
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define T "tenant-lock"
#define DS_KEY "e2e-data-security-key-987654"
#define DAY (86400LL * 1000000)
#define PRUNE "/v2/coffer/repository/prune"

static struct daemon d;
static char *tmp;
static char src[4][512], copy[4][600], gid[4][256], runs[4][64], snaps[4][REPO_ID_HEX_LEN + 1];
static long long t0, host_id;
static const char *env[] = { "COFFER_TEST_CLOCK=1", "COFFER_PRUNE_INTERVAL_SECS=0",
                             "COFFER_DATA_SECURITY_KEY=" DS_KEY, NULL };

static int run_now(int k)
{
    json_t *j = NULL;
    char path[400];
    if (post_json(&d, fmt(FX_GRP "/%s/runs", gid[k]), T, "{\"runType\":\"kRegular\"}", 202, &j) != 202) return -1;
    snprintf(runs[k], sizeof runs[k], "%s", jstr(j, "runId") ? jstr(j, "runId") : "");
    json_decref(j);
    snprintf(path, sizeof path, FX_GRP "/%s/runs/%s?includeObjectDetails=true", gid[k], runs[k]);
    for (int i = 0; i < 1200; i++) {
        const char *st, *s;
        if (get_json(&d, path, T, &j) == 200 && (st = jstr(j, "localBackupInfo.status")) != NULL &&
            strcmp(st, "Accepted") != 0 && strcmp(st, "Running") != 0) {
            int ok = strcmp(st, "Succeeded") == 0;
            s = jstr(j, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId");
            snprintf(snaps[k], sizeof snaps[k], "%s", s ? s : "");
            json_decref(j);
            return ok && strlen(snaps[k]) == 64 ? 0 : -1;
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    return -1;
}

/* put_local: PUT runs with one localSnapshotConfig for run k; the status, the body in *r. */
static long put_local(int k, const char *auth, const char *config, struct http_resp *r)
{
    const char *body = fmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':%s}]}", runs[k],
                           config);
    const char *path = fmt(FX_GRP "/%s/runs", gid[k]);
    if (auth) {
        const char *hdr[] = { "Content-Type: application/json", "X-IBM-Tenant-Id: " T, NULL };
        if (http_raw(&d, "PUT", path, auth, hdr, body, strlen(body), r) != 0) return -1;
        return r->status;
    }
    return call(&d, "PUT", path, T, body, r);
}

/* put_ok: PUT answered 207 with the run among successfulRunIds. */
static int put_ok(int k, const char *auth, const char *config)
{
    struct http_resp r;
    long st = put_local(k, auth, config, &r);
    int ok = st == 207 && json_array_size(jget(r.json, "successfulRunIds")) == 1;
    if (!ok) fprintf(stderr, "PUT run %d %s: %ld %s\n", k, config, st, r.body ? r.body : "");
    http_resp_release(&r);
    return ok;
}

static json_t *get_run(int k)
{
    json_t *j = NULL;
    get_json(&d, fmt(FX_GRP "/%s/runs/%s", gid[k], runs[k]), T, &j);
    return j;
}

static const char *iso(long long usecs, char *buf, size_t len)
{
    time_t t = (time_t)(usecs / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static int set_clock(long long now)
{
    struct http_resp r;
    long st = call(&d, "POST", "/v2/coffer-test/clock", NULL, fmt("{'nowUsecs':%lld}", now), &r);
    http_resp_release(&r);
    return st == 200 ? 0 : -1;
}

static int prune_now(void)
{
    json_t *j = NULL;
    long long id;
    if (post_json(&d, PRUNE, NULL, "{}", 202, &j) != 202) return -1;
    id = jint(j, "id");
    json_decref(j);
    for (int i = 0; i < 600; i++) {
        json_t *last;
        if (get_json(&d, PRUNE, NULL, &j) == 200 && (last = json_object_get(j, "last")) != NULL &&
            jint(last, "id") == id) {
            int ok = jstr(last, "status") && strcmp(jstr(last, "status"), "Succeeded") == 0;
            if (!ok) fprintf(stderr, "prune: %s\n", jstr(last, "message") ? jstr(last, "message") : "?");
            json_decref(j);
            return ok ? 0 : -1;
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    return -1;
}

/* with_repo: the daemon stopped, opens its repository; the caller closes it and restarts. */
static struct repo *open_repo(void)
{
    char repo_dir[700], key[700], err[512];
    struct repo *r = NULL;
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", d.data_dir);
    snprintf(key, sizeof key, "%s/repo.key", d.data_dir);
    if (repo_open(repo_dir, key, &r, err, sizeof err) != 0) {
        fprintf(stderr, "repo_open: %s\n", err);
        return NULL;
    }
    return r;
}

static int repo_has(struct repo *r, const char *sid)
{
    json_t *ids = NULL, *v;
    size_t i;
    int found = 0;
    if (repo_snapshot_list(r, &ids) != 0) return -1;
    json_array_foreach(ids, i, v) found |= strcmp(json_string_value(v), sid) == 0;
    json_decref(ids);
    return found;
}

static int restores_equal(struct repo *r, int k)
{
    char target[700], got[1300], err[512], msg[512];
    struct eng_restore_opts o = { .target_dir = target, .overwrite = 1 };
    struct eng_restore_result res;
    int n = 0, rc;
    snprintf(target, sizeof target, "%s/restore", tmp);
    check_rm_rf(target);
    rc = eng_restore(r, snaps[k], &o, &res, err, sizeof err);
    eng_restore_result_release(&res);
    if (rc != 0) {
        fprintf(stderr, "restore: %s\n", err);
        return 0;
    }
    snprintf(got, sizeof got, "%s%s", target, src[k]);
    rc = check_trees_equal(copy[k], got, 0, NULL, NULL, msg, sizeof msg, &n);
    if (rc != 0) fprintf(stderr, "differs: %s\n", msg);
    check_rm_rf(target);
    return rc == 0 && n == 4;
}

TEST(setup_three_runs)
{
    long long host = 0;
    char policy[256], path[700], cmd[1400];
    json_t *j = NULL;
    CHECK(get_json(&d, "/v2/coffer-test/clock", NULL, &j) == 200);
    t0 = jint(j, "nowUsecs");
    json_decref(j);
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
    for (int k = 0; k < 3; k++) {
        snprintf(src[k], sizeof src[k], "%s/src%d", tmp, k);
        snprintf(copy[k], sizeof copy[k], "%s/copy%d", tmp, k);
        CHECK(mkdir(src[k], 0700) == 0);
        for (int f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/f%d", src[k], f);
            CHECK(write_random(path, 200000, 0644) == 0);
        }
        snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", src[k], copy[k]);
        CHECK(system(cmd) == 0);
        CHECK(fx_group(&d, T, fmt("lock-group-%d", k), policy, host, src[k], gid[k], sizeof gid[k]) == 0);
        CHECK(run_now(k) == 0);
    }
    host_id = host;
}

TEST(compliance_refuses_delete_and_shorten_allows_extend)
{
    struct http_resp r;
    json_t *j;
    long long end0, end1;
    char when[40], dir[800];
    long st;
    CHECK(put_ok(0, NULL, "{'dataLock':'Compliance'}"));
    j = get_run(0);
    end0 = jint(j, "localBackupInfo.dataLockConstraints.expiryTimeUsecs");
    json_decref(j);
    CHECK(end0 > t0 + 6 * DAY);
    /* delete: 409 naming the lock and its end, even with the data-security key */
    st = put_local(0, NULL, "{'deleteSnapshot':true}", &r);
    CHECKF(st == 409 && jstr(r.json, "message") && strstr(jstr(r.json, "message"), "Compliance") &&
           strstr(jstr(r.json, "message"), iso(end0, when, sizeof when)), "%ld %s", st, r.body ? r.body : "");
    http_resp_release(&r);
    st = put_local(0, "Bearer " DS_KEY, "{'deleteSnapshot':true}", &r);
    CHECKF(st == 409, "with the data-security key: %ld %s", st, r.body ? r.body : "");
    http_resp_release(&r);
    /* shorten: 409; extend: done, and the lock's end moves */
    st = put_local(0, NULL, "{'daysToKeep':-1}", &r);
    CHECKF(st == 409 && strstr(jstr(r.json, "message"), "never shortened"), "%ld %s", st, r.body ? r.body : "");
    http_resp_release(&r);
    CHECK(put_ok(0, NULL, "{'daysToKeep':2}"));
    j = get_run(0);
    end1 = jint(j, "localBackupInfo.dataLockConstraints.expiryTimeUsecs");
    CHECK(!json_is_true(json_object_get(j, "isLocalSnapshotsDeleted")));
    json_decref(j);
    CHECK_EQ_INT(end1, end0 + 2 * DAY);
    st = put_local(0, NULL, "{'deleteSnapshot':true}", &r);
    CHECKF(st == 409 && strstr(jstr(r.json, "message"), iso(end1, when, sizeof when)), "%ld %s", st,
           r.body ? r.body : "");
    http_resp_release(&r);
    /* in the repository: the lock's generations and the storage's retention record */
    snprintf(dir, sizeof dir, "%s/repo/retain/%s-%016x", d.data_dir, snaps[0], 2u);
    CHECKF(access(dir, F_OK) == 0, "no lock object %s", dir);
    snprintf(dir, sizeof dir, "%s/repo/retention/%d-%s", d.data_dir, REPO_OBJ_SNAPSHOT, snaps[0]);
    CHECKF(access(dir, F_OK) == 0, "no retention record %s", dir);
}

/* log_count: how many lines of the daemon's log contain what. */
static int log_count(const char *what)
{
    FILE *f = fopen(d.log_path, "r");
    char line[4096];
    int n = 0;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) n += strstr(line, what) != NULL;
    fclose(f);
    return n;
}

TEST(group_delete_and_retention_keep_it)
{
    struct http_resp r;
    char what[200];
    int n = 0, waited = 0;
    long st = call(&d, "DELETE", fmt(FX_GRP "/%s?deleteSnapshots=true", gid[0]), T, NULL, &r);
    http_resp_release(&r);
    CHECK_EQ_INT(st, 204);
    /* The group deletion's own attempt is refused and logged; the catalog expired the snapshot now, so
     * the next retention pass (every 30 s) tries again: refused and logged a second time. */
    snprintf(what, sizeof what, "refused to delete snapshot %s", snaps[0]);
    CHECK_EQ_INT(call(&d, "POST", "/v2/coffer-test/clock", NULL, "{\"advanceUsecs\":60000000}", &r), 200);
    http_resp_release(&r);
    for (; waited < 900 && (n = log_count(what)) < 2; waited++) usleep(100 * 1000);
    printf("info: second refusal after %.1f s\n", waited / 10.0);
    if (n < 2) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "cat '%s' >&2", d.log_path);
        if (system(cmd) != 0) fprintf(stderr, "(no such lines)\n");
    }
    CHECKF(n >= 2, "%d refusals logged", n);
}

TEST(administrative_needs_the_data_security_key)
{
    struct http_resp r;
    json_t *j;
    long st;
    CHECK(put_ok(1, NULL, "{'dataLock':'Administrative'}"));
    st = put_local(1, NULL, "{'deleteSnapshot':true}", &r);
    CHECKF(st == 403 && strstr(jstr(r.json, "message"), "Administrative") &&
           strstr(jstr(r.json, "message"), "data-security"), "%ld %s", st, r.body ? r.body : "");
    http_resp_release(&r);
    j = get_run(1);
    CHECK(!json_is_true(json_object_get(j, "isLocalSnapshotsDeleted")));
    json_decref(j);
    CHECK(put_ok(1, "Bearer " DS_KEY, "{'deleteSnapshot':true}"));
    j = get_run(1);
    CHECK(json_is_true(json_object_get(j, "isLocalSnapshotsDeleted")));
    json_decref(j);
}

TEST(legal_hold_keeps_past_retention)
{
    json_t *j;
    CHECK(put_ok(2, NULL, "{'enableLegalHold':true}"));
    CHECK(set_clock(t0 + 8 * DAY) == 0); /* past the 7 days of retention, before run 1's lock ends */
    j = get_run(2);
    CHECK(json_is_true(json_object_get(j, "onLegalHold")));
    CHECK(!json_is_true(json_object_get(j, "isLocalSnapshotsDeleted")));
    json_decref(j);
}

TEST(edited_catalog_then_prune_keeps_the_locked_snapshot)
{
    char db_path[700], *sql;
    sqlite3 *db = NULL;
    struct repo *r;
    json_t *rep = NULL;
    CHECK_EQ_INT(daemon_kill(&d, SIGTERM), 0);
    snprintf(db_path, sizeof db_path, "%s/catalog.db", d.data_dir);
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    sql = sqlite3_mprintf("UPDATE snapshots SET is_deleted = 1, expiry_usecs = 1 WHERE id = '%q'", snaps[0]);
    CHECK(sql && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_free(sql);
    CHECK_EQ_INT(sqlite3_changes(db), 1);
    sqlite3_close(db);
    CHECK(daemon_restart(&d, env) == 0);
    CHECK(set_clock(t0 + 8 * DAY) == 0);
    CHECK(prune_now() == 0);
    {   /* the prune's report says it kept a snapshot the catalog had deleted because of its lock */
        json_t *j = NULL;
        CHECK(get_json(&d, PRUNE, NULL, &j) == 200);
        CHECKF(jint(j, "last.report.snapshotsLocked") >= 1, "snapshotsLocked %lld", jint(j, "last.report.snapshotsLocked"));
        json_decref(j);
    }
    CHECK_EQ_INT(daemon_kill(&d, SIGTERM), 0);
    CHECK((r = open_repo()) != NULL);
    CHECK_EQ_INT(repo_has(r, snaps[0]), 1);
    CHECK_EQ_INT(repo_has(r, snaps[1]), 0);
    CHECK_EQ_INT(repo_has(r, snaps[2]), 1);
    CHECK(restores_equal(r, 0));
    CHECK(restores_equal(r, 2));
    CHECK(repo_verify(r, 1, &rep) == 0 && json_is_true(json_object_get(rep, "ok")));
    json_decref(rep);
    repo_close(r);
    CHECK(daemon_restart(&d, env) == 0);
    CHECK(set_clock(t0 + 8 * DAY) == 0);
}

TEST(hold_lifted_then_expired_and_lock_ended)
{
    json_t *j;
    struct repo *r;
    int deleted = 0;
    CHECK(put_ok(2, NULL, "{'enableLegalHold':false}"));
    for (int i = 0; i < 900 && !deleted; i++) { /* the next retention pass (every 30 s) deletes it */
        j = get_run(2);
        deleted = json_is_true(json_object_get(j, "isLocalSnapshotsDeleted"));
        json_decref(j);
        if (!deleted) usleep(100 * 1000);
    }
    CHECK(deleted);
    CHECK(set_clock(t0 + 10 * DAY) == 0); /* run 1's lock (start + 9 days) has ended */
    CHECK(prune_now() == 0);
    CHECK_EQ_INT(daemon_kill(&d, SIGTERM), 0);
    CHECK((r = open_repo()) != NULL);
    CHECK_EQ_INT(repo_has(r, snaps[0]), 0);
    CHECK_EQ_INT(repo_has(r, snaps[2]), 0);
    repo_close(r);
    CHECK(daemon_restart(&d, env) == 0);
}

/* A policy with retention.dataLockConfig (Compliance, 10 days, longer than its 7 days' retention):
 * its group's next run is locked without any PUT: the run shows the Compliance lock ending 10 days
 * after its start (the expiry extended to the lock's end), the lock object is in the repository, and
 * deleting the snapshot is a 409 naming the lock. */
TEST(policy_data_lock_locks_new_runs)
{
    struct http_resp r;
    json_t *j = NULL;
    char pol[256] = "", dir[800], when[40];
    long long now, end;
    long st;
    CHECK(get_json(&d, "/v2/coffer-test/clock", NULL, &j) == 200);
    now = jint(j, "nowUsecs");
    json_decref(j);
    CHECK(post_json(&d, FX_POL, T, fmt("{'name':'locked','backupPolicy':{'regular':{'incremental':{'schedule':"
                                       "{'unit':'Days','daySchedule':{'frequency':1}}},'retention':{'unit':'Days',"
                                       "'duration':7,'dataLockConfig':{'mode':'Compliance','unit':'Days',"
                                       "'duration':10}}}}}"), 201, &j) == 201);
    snprintf(pol, sizeof pol, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    snprintf(src[3], sizeof src[3], "%s/src3", tmp);
    CHECK(mkdir(src[3], 0700) == 0);
    CHECK(write_random(fmt("%s/f", src[3]), 100000, 0644) == 0);
    CHECK(fx_group(&d, T, "lock-group-policy", pol, host_id, src[3], gid[3], sizeof gid[3]) == 0);
    CHECK(run_now(3) == 0);
    j = get_run(3);
    CHECKF(jstr(j, "localBackupInfo.dataLock") && strcmp(jstr(j, "localBackupInfo.dataLock"), "Compliance") == 0,
           "the run shows no Compliance lock");
    end = jint(j, "localBackupInfo.dataLockConstraints.expiryTimeUsecs");
    json_decref(j);
    CHECKF(end >= now + 10 * DAY && end <= now + 10 * DAY + 600LL * 1000000, "lock end %lld, clock %lld", end, now);
    snprintf(dir, sizeof dir, "%s/repo/retain/%s-%016x", d.data_dir, snaps[3], 1u);
    CHECKF(access(dir, F_OK) == 0, "no lock object %s", dir);
    st = put_local(3, NULL, "{'deleteSnapshot':true}", &r);
    CHECKF(st == 409 && jstr(r.json, "message") && strstr(jstr(r.json, "message"), "Compliance") &&
           strstr(jstr(r.json, "message"), iso(end, when, sizeof when)), "%ld %s", st, r.body ? r.body : "");
    http_resp_release(&r);
}

int main(void)
{
    tmp = check_tmpdir("e2e-datalock");
    if (daemon_start(&d, env) != 0) check_abandon("the daemon did not start");
    RUN(setup_three_runs);
    RUN(compliance_refuses_delete_and_shorten_allows_extend);
    RUN(group_delete_and_retention_keep_it);
    RUN(administrative_needs_the_data_security_key);
    RUN(legal_hold_keeps_past_retention);
    RUN(edited_catalog_then_prune_keeps_the_locked_snapshot);
    RUN(hold_lifted_then_expired_and_lock_ended);
    RUN(policy_data_lock_locks_new_runs);
    daemon_stop(&d);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
