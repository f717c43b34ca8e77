/* e2e_prune.c: prune through the real daemon: three backups of a changing directory through the API,
 * the first two runs' snapshots deleted (PUT runs deleteSnapshot), then
 *   - POST /v2/coffer/repository/prune {"dryRun":true}: the report names packs and bytes to free and
 *     the repository's stored bytes do not move;
 *   - a body with a wrong type is a 400 naming dryRun; no key is a 401;
 *   - `coffer prune` (the CLI binary against the daemon) prunes and prints what it freed; the
 *     stored bytes drop by the report's figure (within the new packs' trailers);
 *   - `coffer repo stats` and GET /v2/coffer/repository/stats show the last prune;
 *   - the daemon is stopped and the kept snapshot is restored from its repository and compared
 *     byte for byte; verify (re-reading every blob) is clean. */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/clirun.h"
#include "e2e/e2e_recover_fixture.h"
#include "engine/engine.h"
#include "repo/repo.h"
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T "tenant-prune"
#define PRUNE "/v2/coffer/repository/prune"
#define STATS "/v2/coffer/repository/stats"

static struct daemon d;
static char *tmp;
static char src[512], copy[600];
static char gid[256], runs[3][64], snaps[3][REPO_ID_HEX_LEN + 1];

/* run_now: runs the group, waits for Succeeded; run id and snapshot id out. */
static int run_now(int k)
{
    json_t *j = NULL;
    char path[400];
    if (post_json(&d, fmt(FX_GRP "/%s/runs", gid), T, "{\"runType\":\"kRegular\"}", 202, &j) != 202) return -1;
    snprintf(runs[k], sizeof runs[k], "%s", jstr(j, "runId") ? jstr(j, "runId") : "");
    json_decref(j);
    snprintf(path, sizeof path, FX_GRP "/%s/runs/%s?includeObjectDetails=true", gid, runs[k]);
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

static long long stored_bytes(void)
{
    json_t *j = NULL;
    long long n = -1;
    if (get_json(&d, STATS, NULL, &j) == 200) n = jint(j, "packBytes");
    json_decref(j);
    return n;
}

/* wait_prune: polls until prune id is the last one ended; its JSON (caller decrefs) or NULL. */
static json_t *wait_prune(long long id)
{
    for (int i = 0; i < 600; i++) {
        json_t *j = NULL, *last;
        if (get_json(&d, PRUNE, NULL, &j) == 200 && (last = json_object_get(j, "last")) != NULL &&
            jint(last, "id") == id) {
            json_incref(last);
            json_decref(j);
            return last;
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    return NULL;
}

/* run_cli: the CLI with words against the daemon; its output (stdout and stderr, malloc'd) in *out
 * and its exit status. */
static int run_cli(char **out, const char *const *words)
{
    char url[128];
    struct cli_env e = { .tmp = tmp, .url = url, .key = HARNESS_KEY, .merge = 1 };
    int st;
    snprintf(url, sizeof url, "%s/v2", d.base);
    *out = clirun_out(&e, words, &st);
    return st;
}

TEST(setup_three_backups_and_delete_two)
{
    long long host = 0;
    char policy[256], path[700];
    snprintf(src, sizeof src, "%s/src", tmp);
    snprintf(copy, sizeof copy, "%s/copy", tmp);
    CHECK(mkdir(src, 0700) == 0);
    for (int f = 0; f < 6; f++) {
        snprintf(path, sizeof path, "%s/f%d", src, f);
        CHECK(write_random(path, 300000, 0644) == 0);
    }
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
    CHECK(fx_group(&d, T, "prune-group", policy, host, src, gid, sizeof gid) == 0);
    for (int k = 0; k < 3; k++) {
        if (k > 0) /* three of six files change between runs */
            for (int f = (k - 1) * 3; f < (k - 1) * 3 + 3; f++) {
                snprintf(path, sizeof path, "%s/f%d", src, f);
                CHECK(write_random(path, 300000, 0644) == 0);
            }
        CHECK(run_now(k) == 0);
    }
    {
        char cmd[1300];
        snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", src, copy);
        CHECK(system(cmd) == 0);
    }
    for (int k = 0; k < 2; k++) {
        struct http_resp r;
        long st = call(&d, "PUT", fmt(FX_GRP "/%s/runs", gid), T,
                       fmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':"
                           "{'deleteSnapshot':true}}]}", runs[k]), &r);
        http_resp_release(&r);
        CHECKF(st == 200 || st == 207, "PUT runs deleteSnapshot: %ld", st);
    }
}

TEST(dry_run_reports_and_changes_nothing)
{
    json_t *j = NULL, *last;
    long long before = stored_bytes(), id;
    CHECK(before > 0);
    CHECK(post_json(&d, PRUNE, NULL, "{\"dryRun\":true}", 202, &j) == 202);
    CHECK(json_is_true(json_object_get(j, "dryRun")));
    id = jint(j, "id");
    json_decref(j);
    CHECK(id > 0);
    last = wait_prune(id);
    CHECK(last != NULL);
    CHECKF(jstr(last, "status") && strcmp(jstr(last, "status"), "Succeeded") == 0, "status %s: %s",
           jstr(last, "status"), jstr(last, "message") ? jstr(last, "message") : "");
    CHECK(json_is_true(json_object_get(last, "dryRun")));
    CHECK_EQ_INT(jint(last, "report.snapshots"), 1);
    CHECK(jint(last, "report.packsDeleted") + jint(last, "report.packsRepacked") > 0);
    /* the two deleted runs held 6 file versions of 300000 bytes that the kept one does not */
    CHECKF(jint(last, "report.bytesUnused") >= 6 * 300000LL, "unused %lld",
           jint(last, "report.bytesUnused"));
    CHECK(jint(last, "report.bytesFreed") > 0);
    json_decref(last);
    CHECK_EQ_INT(stored_bytes(), before);
}

TEST(bad_requests)
{
    struct http_resp r;
    CHECK(expect(&d, "POST", PRUNE, NULL, "{\"dryRun\":\"yes\"}", 400, "dryRun"));
    CHECK(http_raw(&d, "POST", PRUNE, NULL, NULL, "{}", 2, &r) == 0);
    CHECK_EQ_INT(r.status, 401);
    http_resp_release(&r);
}

TEST(cli_prune_frees_the_space)
{
    char *out = NULL;
    const char *words[] = { "prune", NULL };
    const char *stats[] = { "repo", "stats", NULL };
    long long before = stored_bytes(), after, freed;
    json_t *j = NULL;
    int st = run_cli(&out, words);
    CHECKF(st == 0, "coffer prune exit %d: %s", st, out ? out : "");
    CHECKF(out && strstr(out, "freed") && strstr(out, "Succeeded"), "output: %s", out ? out : "");
    free(out);
    after = stored_bytes();
    CHECK(get_json(&d, PRUNE, NULL, &j) == 200);
    freed = jint(j, "last.report.bytesFreed");
    CHECK(!json_is_true(jget(j, "last.dryRun")));
    json_decref(j);
    CHECKF(before - after >= 6 * 300000LL, "stored %lld -> %lld", before, after);
    CHECKF(freed >= before - after && freed <= before - after + 2000, "report %lld, stats %lld",
           freed, before - after);
    st = run_cli(&out, stats);
    CHECKF(st == 0 && out && strstr(out, "Last prune") && strstr(out, "Succeeded"), "repo stats: %s",
           out ? out : "");
    free(out);
    CHECK(get_json(&d, STATS, NULL, &j) == 200);
    CHECK_EQ_INT(jint(j, "snapshots"), 1);
    CHECK(jstr(j, "lastPrune.status") && strcmp(jstr(j, "lastPrune.status"), "Succeeded") == 0);
    json_decref(j);
}

TEST(kept_snapshot_restores_after_the_daemon_stops)
{
    char repo_dir[700], key[700], err[512], target[700], got[1500], msg[512];
    struct repo *r = NULL;
    struct eng_restore_opts o = { .target_dir = target, .overwrite = 1 };
    struct eng_restore_result res;
    json_t *rep = NULL;
    int n = 0, st = daemon_kill(&d, SIGTERM);
    CHECK_EQ_INT(st, 0);
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", d.data_dir);
    snprintf(key, sizeof key, "%s/repo.key", d.data_dir);
    snprintf(target, sizeof target, "%s/restore", tmp);
    CHECKF(repo_open(repo_dir, key, &r, err, sizeof err) == 0, "%s", err);
    CHECK(repo_verify(r, 1, &rep) == 0);
    CHECKF(json_is_true(json_object_get(rep, "ok")), "verify not clean");
    json_decref(rep);
    CHECKF(eng_restore(r, snaps[2], &o, &res, err, sizeof err) == 0, "restore: %s", err);
    eng_restore_result_release(&res);
    snprintf(got, sizeof got, "%s%s", target, src);
    CHECK(check_trees_equal(copy, got, 0, NULL, NULL, msg, sizeof msg, &n) == 0);
    CHECK_EQ_INT(n, 7);
    repo_close(r);
}

int main(void)
{
    const char *env[] = { "COFFER_PRUNE_INTERVAL_SECS=0", NULL };
    tmp = check_tmpdir("e2e-prune");
    if (daemon_start(&d, env) != 0) check_abandon("the daemon did not start");
    RUN(setup_three_backups_and_delete_two);
    RUN(dry_run_reports_and_changes_nothing);
    RUN(bad_requests);
    RUN(cli_prune_frees_the_space);
    RUN(kept_snapshot_restores_after_the_daemon_stops);
    daemon_stop(&d);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
