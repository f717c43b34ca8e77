/* e2e_verify.c: verify and repository stats through the real daemon (Coffer extension endpoints).
 * One backup through the API of a directory holding big.bin (2 MB) and small.txt, then:
 *   - POST /v2/coffer/repository/verify {} (structure): Succeeded, ok;
 *   - one byte flipped inside the repository's only pack, near its start (big.bin's first chunk):
 *     {"readData":true} names that pack, a blob, the run's snapshot and the path .../big.bin, and
 *     not small.txt; `coffer verify --read-data` (the CLI binary) exits 1 and prints the pack and
 *     the path; `coffer verify --read-data --subset 50%` reads the one pack and finds it too;
 *   - bad bodies are 400s naming the field (readData, subsetPercent, an unknown member) and queue
 *     nothing (the last verify's id does not move); no key is a 401;
 *   - GET /v2/coffer/repository/stats and `coffer repo stats`: one snapshot, logical bytes at least
 *     the files' bytes, a dedup ratio, the last verify (damage found); the configured schedule
 *     (COFFER_VERIFY_INTERVAL_SECS) is shown by GET .../verify. */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/clirun.h"
#include "e2e/e2e_recover_fixture.h"
#include "repo/repo.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T "tenant-verify"
#define VERIFY "/v2/coffer/repository/verify"
#define STATS "/v2/coffer/repository/stats"

static struct daemon d;
static char *tmp;
static char src[512], gid[256], snap[REPO_ID_HEX_LEN + 1], pack_hex[REPO_ID_HEX_LEN + 1];

static int run_now(void)
{
    json_t *j = NULL;
    char path[400], run[64];
    if (post_json(&d, fmt(FX_GRP "/%s/runs", gid), T, "{\"runType\":\"kRegular\"}", 202, &j) != 202) return -1;
    snprintf(run, sizeof run, "%s", jstr(j, "runId") ? jstr(j, "runId") : "");
    json_decref(j);
    snprintf(path, sizeof path, FX_GRP "/%s/runs/%s?includeObjectDetails=true", gid, run);
    for (int i = 0; i < 1200; i++) {
        const char *st, *s;
        if (get_json(&d, path, T, &j) == 200 && (st = jstr(j, "localBackupInfo.status")) != NULL &&
            strcmp(st, "Accepted") != 0 && strcmp(st, "Running") != 0) {
            int ok = strcmp(st, "Succeeded") == 0;
            s = jstr(j, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId");
            snprintf(snap, sizeof snap, "%s", s ? s : "");
            json_decref(j);
            return ok && strlen(snap) == 64 ? 0 : -1;
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    return -1;
}

/* verify: POSTs body, waits until that verify is the last one ended; its JSON (caller decrefs). */
static json_t *verify(const char *body)
{
    json_t *j = NULL;
    long long id;
    if (post_json(&d, VERIFY, NULL, body, 202, &j) != 202) return NULL;
    id = jint(j, "id");
    json_decref(j);
    for (int i = 0; i < 600; i++) {
        json_t *last;
        if (get_json(&d, VERIFY, NULL, &j) == 200 && (last = json_object_get(j, "last")) != NULL &&
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

static long long last_verify_id(void)
{
    json_t *j = NULL;
    long long id = -1;
    if (get_json(&d, VERIFY, NULL, &j) == 200) id = json_is_object(jget(j, "last")) ? jint(j, "last.id") : 0;
    json_decref(j);
    return id;
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

/* hurt_has: report.hurt names snapshot s and a path ending in suffix. */
static int hurt_has(json_t *rep, const char *s, const char *suffix)
{
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(rep, "hurt"), i, e) {
        const char *p = jstr(e, "path"), *es = jstr(e, "snapshot");
        size_t pl = p ? strlen(p) : 0, sl = strlen(suffix);
        if (p && es && strcmp(es, s) == 0 && pl >= sl && strcmp(p + pl - sl, suffix) == 0 &&
            jstr(e, "blob") && strlen(jstr(e, "blob")) == 64)
            return 1;
    }
    return 0;
}

TEST(setup_one_backup)
{
    long long host = 0;
    char policy[256], path[700];
    snprintf(src, sizeof src, "%s/src", tmp);
    CHECK(mkdir(src, 0700) == 0);
    snprintf(path, sizeof path, "%s/big.bin", src);
    CHECK(write_random(path, 2 << 20, 0644) == 0);
    snprintf(path, sizeof path, "%s/small.txt", src);
    CHECK(write_text(path, "a small file\n", 0644) == 0);
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
    CHECK(fx_group(&d, T, "verify-group", policy, host, src, gid, sizeof gid) == 0);
    CHECK(run_now() == 0);
}

TEST(structure_verify_of_a_whole_repository)
{
    json_t *v = verify("{}");
    CHECK(v != NULL);
    CHECKF(strcmp(jstr(v, "status"), "Succeeded") == 0, "status %s", jstr(v, "status"));
    CHECK(json_is_true(jget(v, "report.ok")));
    CHECK(json_is_false(jget(v, "readData")));
    CHECK_EQ_INT(jint(v, "report.snapshots"), 1);
    CHECK(jint(v, "report.trees") >= 2);
    json_decref(v);
    v = verify("{\"readData\":true}");
    CHECK(v && json_is_true(jget(v, "report.ok")));
    CHECK_EQ_INT(jint(v, "report.packsRead"), jint(v, "report.packs"));
    json_decref(v);
}

TEST(flipped_byte_named_by_read_data_verify)
{
    char cmd[800], line[1024], packp[1024] = "";
    FILE *p;
    int n = 0, fd;
    uint8_t b;
    json_t *v;
    snprintf(cmd, sizeof cmd, "find '%s/repo/data' -type f", d.data_dir);
    CHECK((p = popen(cmd, "r")) != NULL);
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(packp, sizeof packp, "%s", line);
        n++;
    }
    pclose(p);
    CHECK_EQ_INT(n, 1);
    snprintf(pack_hex, sizeof pack_hex, "%s", strrchr(packp, '/') + 1);
    CHECK((fd = open(packp, O_RDWR)) >= 0);
    CHECK(pread(fd, &b, 1, 1000) == 1);
    b ^= 0x5a;
    CHECK(pwrite(fd, &b, 1, 1000) == 1);
    close(fd);

    v = verify("{}"); /* structure: the pack's trailer and size are intact */
    CHECK(v && json_is_true(jget(v, "report.ok")));
    json_decref(v);
    v = verify("{\"readData\":true,\"subsetPercent\":100}");
    CHECK(v != NULL);
    CHECK(strcmp(jstr(v, "status"), "Succeeded") == 0);
    CHECK(json_is_false(jget(v, "report.ok")));
    {   /* the pack's hash, and the blob in it */
        json_t *e;
        size_t i;
        int whole = 0, blob = 0;
        json_array_foreach(jget(v, "report.errors"), i, e) {
            if (!jstr(e, "pack") || strcmp(jstr(e, "pack"), pack_hex) != 0) continue;
            if (jstr(e, "blob") && strlen(jstr(e, "blob")) == 64) blob++;
            else if (strstr(jstr(e, "message"), "does not match its name")) whole++;
        }
        CHECK(whole == 1 && blob == 1);
    }
    CHECK(hurt_has(jget(v, "report"), snap, "/src/big.bin"));
    CHECK(!hurt_has(jget(v, "report"), snap, "/src/small.txt"));
    CHECK_EQ_INT(json_array_size(jget(v, "report.snapshotsHurt")), 1);
    CHECK(strcmp(jstr(v, "report.snapshotsHurt.0"), snap) == 0);
    json_decref(v);
}

TEST(cli_verify_names_the_damage)
{
    char *out = NULL;
    int st = run_cli(&out, (const char *const[]){ "verify", "--read-data", NULL });
    CHECKF(st == 1, "exit %d: %s", st, out ? out : "");
    CHECKF(out && strstr(out, "DAMAGE FOUND") && strstr(out, pack_hex) && strstr(out, "/src/big.bin") &&
           strstr(out, snap), "output: %s", out ? out : "");
    free(out);
    st = run_cli(&out, (const char *const[]){ "verify", "--read-data", "--subset", "50%", NULL });
    CHECKF(st == 1 && out && strstr(out, "1 packs (50%)") && strstr(out, pack_hex), "exit %d: %s", st,
           out ? out : "");
    free(out);
    st = run_cli(&out, (const char *const[]){ "verify", "--subset", "50%", NULL });
    CHECKF(st == 2 && out && strstr(out, "--read-data"), "exit %d: %s", st, out ? out : "");
    free(out);
}

TEST(bad_requests_name_the_field_and_queue_nothing)
{
    struct http_resp r;
    long long before = last_verify_id();
    CHECK(before > 0);
    CHECK(expect(&d, "POST", VERIFY, NULL, "{\"readData\":\"yes\"}", 400, "readData"));
    CHECK(expect(&d, "POST", VERIFY, NULL, "{\"readData\":true,\"subsetPercent\":0}", 400, "subsetPercent"));
    CHECK(expect(&d, "POST", VERIFY, NULL, "{\"readData\":true,\"subsetPercent\":101}", 400, "subsetPercent"));
    CHECK(expect(&d, "POST", VERIFY, NULL, "{\"readData\":true,\"subsetPercent\":\"10%\"}", 400, "subsetPercent"));
    CHECK(expect(&d, "POST", VERIFY, NULL, "{\"subsetPercent\":10}", 400, "subsetPercent"));
    CHECK(expect(&d, "POST", VERIFY, NULL, "{\"readdata\":true}", 400, "readdata"));
    CHECK(expect(&d, "POST", VERIFY, NULL, "[]", 400, NULL));
    CHECK(http_raw(&d, "POST", VERIFY, NULL, NULL, "{}", 2, &r) == 0);
    CHECK_EQ_INT(r.status, 401);
    http_resp_release(&r);
    usleep(300 * 1000);
    CHECK_EQ_INT(last_verify_id(), before);
    {
        json_t *j = NULL;
        CHECK(get_json(&d, VERIFY, NULL, &j) == 200);
        CHECK(json_is_null(jget(j, "current")));
        CHECK_EQ_INT(jint(j, "intervalSecs"), 604800);
        CHECK_EQ_INT(jint(j, "scheduledReadPercent"), 20);
        CHECK(json_is_integer(jget(j, "nextScheduledTimeUsecs")));
        json_decref(j);
    }
}

TEST(stats_show_sizes_and_the_last_verify)
{
    json_t *j = NULL;
    char *out = NULL;
    int st;
    CHECK(get_json(&d, STATS, NULL, &j) == 200);
    CHECK_EQ_INT(jint(j, "snapshots"), 1);
    CHECKF(jint(j, "logicalBytes") >= (2 << 20) + 13, "logicalBytes %lld", jint(j, "logicalBytes"));
    CHECK(jint(j, "storedBytes") == jint(j, "packBytes") && jint(j, "storedBytes") > 0);
    CHECK(json_is_real(jget(j, "dedupRatio")));
    CHECK(json_real_value(jget(j, "dedupRatio")) > 0.5 && json_real_value(jget(j, "dedupRatio")) < 2.0);
    CHECK(jint(j, "packs") == 1);
    CHECK(json_is_null(jget(j, "garbageBytes"))); /* no prune has run in this daemon */
    CHECK(json_is_object(jget(j, "lastVerify")));
    CHECK(json_is_false(jget(j, "lastVerify.ok")));
    CHECK(jint(j, "lastVerify.hurtCount") >= 1);
    json_decref(j);
    st = run_cli(&out, (const char *const[]){ "repo", "stats", NULL });
    CHECKF(st == 0 && out && strstr(out, "Dedup ratio") && strstr(out, "damage found") && strstr(out, "Logical"),
           "exit %d: %s", st, out ? out : "");
    free(out);
}

int main(void)
{
    const char *env[] = { "COFFER_PRUNE_INTERVAL_SECS=0", "COFFER_VERIFY_INTERVAL_SECS=604800",
                          "COFFER_VERIFY_READ_PCT=20", NULL };
    tmp = check_tmpdir("e2e-verify");
    if (daemon_start(&d, env) != 0) check_abandon("the daemon did not start");
    RUN(setup_one_backup);
    RUN(structure_verify_of_a_whole_repository);
    RUN(flipped_byte_named_by_read_data_verify);
    RUN(cli_verify_names_the_damage);
    RUN(bad_requests_name_the_field_and_queue_nothing);
    RUN(stats_show_sizes_and_the_last_verify);
    daemon_stop(&d);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
