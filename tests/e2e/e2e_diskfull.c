/* e2e_diskfull.c: the real daemon with its data directory on a small tmpfs (issue 16, item 3).
 *
 * The daemon is started once by the harness (which creates its data directory), stopped, a 48 MiB
 * tmpfs is mounted on that directory, and it is started again there (a fresh catalog and repository
 * on the tmpfs). A backup of a 72 MiB tree of random bytes fills the disk: the run must end Failed
 * within a bounded time with "No space left on device" in its messages through the API, leaving no
 * temporary pack behind. With the disk filled to the last byte, API writes answer 507 with a JSON
 * message naming the problem and change nothing (40 of them); the daemon's log holds the catalog's
 * disk-full error only a few times (rate-limited). A daemon whose file opens are slowed (test hook)
 * runs a backup while the disk is filled until the catalog itself refuses writes: the run still
 * ends Failed with the reason, recorded by releasing the catalog's space reserve (logged), which is
 * not re-created on the full disk. Then the tmpfs is grown: the catalog's space reserve comes back,
 * writes work again, the next run succeeds reusing the failed run's sealed pack (it stores less than
 * the tree), no temporary file is left in the repository, and the snapshot restored with the engine
 * (after the daemon stopped) equals the tree byte for byte.
 *
 * The catalog's own part, on a 4 MiB tmpfs of its own: filled to the last byte, a write fails with
 * -ENOSPC (not a bare -1) and says so through cat_last_error; releasing the space reserve lets the
 * same write succeed; the reserve is not re-created while the disk is full and is once it has room;
 * and a Running run of this daemon whose lease ran out is failed by the orphan sweep only when no
 * worker claims it.
 *
 * Needs root (mount); without it every test prints "SKIP <test>: <reason>" and none counts. */
#include "catalog/cat.h"
#include "catalog/cat_run.h"
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SRC "/v2/data-protect/sources/registrations"
#define POL "/v2/data-protect/policies"
#define GRP "/v2/data-protect/protection-groups"
#define T "disk-a"
#define T0 1893975000000000LL /* 2030-01-07T00:10:00Z: the test clock stays clear of the hourly slot */
#define TMPFS_SMALL "size=48m"
#define TMPFS_BIG "size=512m"
#define NFILES 36
#define FILE_BYTES (2u << 20) /* 36 x 2 MiB = 72 MiB of random bytes: more than the tmpfs holds */
#define RESERVE_BYTES (8LL << 20)

static struct daemon d;
static int g_mounted;
static char *g_tmp;
static char tree[600], policy[128], group[128], failed_run[64];
static long long host;
static const char *const env[] = { "COFFER_TEST_CLOCK=1", NULL };

static uint64_t g_rng = 0x2545f4914f6cdd1dull;
static void fill_random(unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_rng ^= g_rng << 13;
        g_rng ^= g_rng >> 7;
        g_rng ^= g_rng << 17;
        b[i] = (unsigned char)(g_rng >> 24);
    }
}

static int files_equal(const char *a, const char *b)
{
    void *da = NULL, *db = NULL;
    size_t la = 0, lb = 0;
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = 0;
    if (fa && fb) {
        struct stat sa, sb;
        if (fstat(fileno(fa), &sa) == 0 && fstat(fileno(fb), &sb) == 0 && sa.st_size == sb.st_size) {
            la = lb = (size_t)sa.st_size;
            da = malloc(la + 1);
            db = malloc(lb + 1);
            if (da && db && fread(da, 1, la, fa) == la && fread(db, 1, lb, fb) == lb) eq = memcmp(da, db, la) == 0;
        }
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    free(da);
    free(db);
    return eq;
}

static long call(const char *method, const char *path, const char *body, struct http_resp *r)
{
    if (http(&d, method, path, T, body, r) != 0) return -1;
    return r->status;
}

static long post_id(const char *path, const char *body, char *id, size_t idlen)
{
    struct http_resp r;
    long st = call("POST", path, body, &r);
    if (st >= 300) fprintf(stderr, "POST %s: %ld %s\n", path, st, r.body ? r.body : "");
    if (id) snprintf(id, idlen, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    http_resp_release(&r);
    return st;
}

static long start_run(char *run_id, size_t len)
{
    struct http_resp r;
    long st = call("POST", jfmt(GRP "/%s/runs", group), "{\"runType\":\"kRegular\"}", &r);
    snprintf(run_id, len, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    if (st != 202) fprintf(stderr, "POST runs: %ld %s\n", st, r.body ? r.body : "");
    http_resp_release(&r);
    return st;
}

static const char *run_status(json_t *run) { return jstr(run, "localBackupInfo.status"); }

/* msgs: the run's messages as compact JSON (a static buffer, for failure lines). */
static const char *msgs(json_t *run)
{
    static char buf[4096];
    char *s = json_dumps(jget(run, "localBackupInfo.messages"), JSON_COMPACT);
    snprintf(buf, sizeof buf, "%s", s ? s : "(none)");
    free(s);
    return buf;
}

static int finished(const char *s)
{
    return s && strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0 && strcmp(s, "Canceling") != 0;
}

/* wait_run_in: polls GET runs/{id} of group grp until the run finished (or timeout_s); its JSON or NULL. */
static json_t *wait_run_in(const char *grp, const char *run_id, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        struct http_resp r;
        json_t *run = NULL;
        if (call("GET", jfmt(GRP "/%s/runs/%s?includeObjectDetails=true", grp, run_id), NULL, &r) == 200)
            run = json_incref(r.json);
        http_resp_release(&r);
        if (run && finished(run_status(run))) return run;
        json_decref(run);
        usleep(100 * 1000);
    }
    fprintf(stderr, "run %s did not finish in %d s\n", run_id, timeout_s);
    return NULL;
}

static json_t *wait_run(const char *run_id, int timeout_s) { return wait_run_in(group, run_id, timeout_s); }

static int has_message(json_t *run, const char *part)
{
    size_t i;
    json_t *m;
    json_array_foreach(jget(run, "localBackupInfo.messages"), i, m)
        if (json_string_value(m) && strstr(json_string_value(m), part)) return 1;
    return 0;
}

/* count_temps: files under dir (recursively) that are temporaries: in data/tmp, or named *.tmp-*;
 * each is named on stderr unless g_quiet (when they were planted on purpose). */
static int g_quiet;
static int count_temps(const char *dir, int in_tmp)
{
    DIR *dh = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!dh) return 0;
    while ((e = readdir(dh))) {
        char p[1200];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            n += count_temps(p, in_tmp || strcmp(e->d_name, "tmp") == 0);
        } else if (in_tmp || strstr(e->d_name, ".tmp-") || strstr(e->d_name, ".new")) {
            if (!g_quiet) fprintf(stderr, "temporary file left: %s\n", p);
            n++;
        }
    }
    closedir(dh);
    return n;
}

/* fill_disk: writes data_dir/filler until the disk refuses (ENOSPC); bytes written, -1 on another error. */
static long long fill_disk(void)
{
    char p[700];
    static unsigned char buf[1 << 20];
    long long total = 0;
    int fd;
    snprintf(p, sizeof p, "%s/filler", d.data_dir);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    fill_random(buf, sizeof buf);
    for (size_t chunk = sizeof buf; chunk >= 512; chunk /= 8) { /* big writes, then the last pages */
        for (int i = 0; i < 4096; i++) {
            ssize_t n = write(fd, buf, chunk);
            if (n > 0) total += n;
            if (n < 0 && errno != ENOSPC) {
                close(fd);
                return -1;
            }
            if (n < (ssize_t)chunk) break;
        }
    }
    fsync(fd);
    close(fd);
    return total;
}

/* log_count: lines of the daemon's log holding part. */
static int log_count(const char *part)
{
    FILE *f = fopen(d.log_path, "r");
    char line[4096];
    int n = 0;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strstr(line, part)) n++;
    fclose(f);
    return n;
}

/* ---------- tests ---------- */

TEST(setup_on_a_small_tmpfs)
{
    struct http_resp r;
    unsigned char *buf = malloc(FILE_BYTES);
    CHECK(buf != NULL);
    snprintf(tree, sizeof tree, "%s/tree", g_tmp);
    CHECK(mkdir(tree, 0755) == 0);
    for (int i = 0; i < NFILES && !check_failed(); i++) {
        char p[700];
        FILE *f;
        snprintf(p, sizeof p, "%s/f%02d.bin", tree, i);
        fill_random(buf, FILE_BYTES);
        f = fopen(p, "wb");
        CHECKF(f && fwrite(buf, 1, FILE_BYTES, f) == FILE_BYTES && fclose(f) == 0, "cannot write %s", p);
    }
    free(buf);
    /* The daemon now runs on the tmpfs (main mounted it): a fresh catalog and repository there. */
    CHECK_EQ_INT(call("POST", "/v2/coffer-test/clock", jfmt("{'nowUsecs':%lld}", T0), &r), 200);
    http_resp_release(&r);
    CHECK_EQ_INT(call("POST", SRC, jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1',"
                                       "'hostType':'kLinux'}}"), &r), 201);
    host = jint(r.json, "sourceInfo.id");
    http_resp_release(&r);
    CHECK(host > 0);
    CHECK_EQ_INT(post_id(POL, jfmt("{'name':'hourly','backupPolicy':{'regular':{'incremental':{'schedule':{"
                                  "'unit':'Hours','hourSchedule':{'frequency':1}}},'retention':{'unit':'Days',"
                                  "'duration':7}}}}"), policy, sizeof policy), 201);
    CHECK_EQ_INT(post_id(GRP, jfmt("{'name':'big','policyId':'%s','environment':'kPhysical','startTime':{'hour':0,"
                                  "'minute':0},'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':"
                                  "{'objects':[{'id':%lld,'filePaths':[{'includedPath':'%s'}]}]}}}", policy, host, tree),
                         group, sizeof group), 201);
    {
        char p[700];
        struct stat st;
        snprintf(p, sizeof p, "%s/catalog.reserve", d.data_dir);
        CHECKF(stat(p, &st) == 0 && st.st_size == RESERVE_BYTES && st.st_blocks * 512 >= RESERVE_BYTES,
               "the catalog's space reserve %s is missing or sparse", p);
    }
}

TEST(a_backup_that_fills_the_disk_ends_failed_with_the_reason)
{
    json_t *run;
    char p[700];
    time_t t0 = time(NULL);
    CHECK_EQ_INT(start_run(failed_run, sizeof failed_run), 202);
    run = wait_run(failed_run, 180);
    CHECK(run != NULL);
    CHECKF(strcmp(run_status(run), "Failed") == 0, "status %s messages %s", run_status(run), msgs(run));
    CHECKF(has_message(run, "No space left on device"), "messages %s", msgs(run));
    CHECK(jint(run, "localBackupInfo.endTimeUsecs") > 0);
    CHECK(strcmp(jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.status"), "kFailed") == 0);
    {
        const char *m = jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.statusMessage");
        CHECKF(m && strstr(m, "No space left on device"), "object message %s", m ? m : "(none)");
    }
    json_decref(run);
    fprintf(stderr, "the run failed after %ld s\n", (long)(time(NULL) - t0));
    /* The list shows it too, and nothing is left Running. */
    {
        struct http_resp r;
        CHECK_EQ_INT(call("GET", jfmt(GRP "/%s/runs", group), NULL, &r), 200);
        CHECK_EQ_INT(json_array_size(jget(r.json, "runs")), 1);
        CHECK(strcmp(jstr(r.json, "runs.0.localBackupInfo.status"), "Failed") == 0);
        http_resp_release(&r);
    }
    /* The unfinished pack was removed at once (complete packs are kept for the next backup). */
    snprintf(p, sizeof p, "%s/repo", d.data_dir);
    CHECK_EQ_INT(count_temps(p, 0), 0);
}

TEST(writes_on_a_full_disk_answer_507_and_change_nothing)
{
    struct http_resp r;
    long long filled = fill_disk();
    int n507 = 0, n201 = 0, other = 0;
    char name[64] = "";
    CHECKF(filled >= 0, "cannot fill the disk: %s", strerror(errno));
    /* SQLite may still have room in its write-ahead log for a few rows; the disk-full answer must come
     * within a bounded number of writes, and no write may answer anything but 201 or 507. */
    for (int i = 0; i < 300 && n507 < 40; i++) { /* then 39 more: each one 507, and logged rarely */
        long st;
        snprintf(name, sizeof name, "full-%d", i);
        st = call("POST", POL, jfmt("{'name':'%s','backupPolicy':{'regular':{'incremental':{'schedule':{"
                                   "'unit':'Days','daySchedule':{'frequency':1}}},'retention':{'unit':'Days',"
                                   "'duration':7}}}}", name), &r);
        if (st == 201) {
            n201++;
            CHECKF(n507 == 0, "a write succeeded after a 507 on a disk still full");
        } else if (st == 507) {
            n507++;
            CHECKF(strcmp(jstr(r.json, "errorCode") ? jstr(r.json, "errorCode") : "", "InsufficientStorage") == 0,
                   "body %s", r.body);
            CHECKF(jstr(r.json, "message") && strstr(jstr(r.json, "message"), "No space left on device"), "body %s",
                   r.body);
        } else {
            other++;
            fprintf(stderr, "POST %s: %ld %s\n", POL, st, r.body ? r.body : "");
        }
        http_resp_release(&r);
    }
    fprintf(stderr, "disk filled with %lld more bytes; %d writes succeeded before the first 507\n", filled, n201);
    CHECK_EQ_INT(other, 0);
    CHECK_EQ_INT(n507, 40);
    /* The refused policy does not exist. */
    CHECK_EQ_INT(call("GET", POL, NULL, &r), 200);
    {
        size_t i;
        json_t *v;
        int found = 0;
        json_array_foreach(jget(r.json, "policies"), i, v)
            if (jstr(v, "name") && strcmp(jstr(v, "name"), name) == 0) found = 1;
        http_resp_release(&r);
        CHECKF(!found, "the refused policy %s was created", name);
    }
    /* A run requested on the full disk is refused the same way, or (if the log still had room) fails
     * with the reason: never a 500. */
    {
        char id[64];
        long st = call("POST", jfmt(GRP "/%s/runs", group), "{\"runType\":\"kRegular\"}", &r);
        snprintf(id, sizeof id, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
        CHECKF(st == 507 || st == 202, "POST runs on a full disk: %ld %s", st, r.body);
        http_resp_release(&r);
        if (st == 202) {
            json_t *run = wait_run(id, 120);
            CHECK(run != NULL);
            CHECKF(strcmp(run_status(run), "Failed") == 0 && has_message(run, "No space left on device"),
                   "the run on a full disk: %s", run_status(run));
            json_decref(run);
        }
    }
}

/* wait_running: polls until the run is Running; 1 when it is. */
static int wait_running(const char *grp, const char *run_id, int timeout_s)
{
    for (int i = 0; i < timeout_s * 20; i++) {
        struct http_resp r;
        int yes = 0;
        if (call("GET", jfmt(GRP "/%s/runs/%s", grp, run_id), NULL, &r) == 200)
            yes = run_status(r.json) && strcmp(run_status(r.json), "Running") == 0;
        http_resp_release(&r);
        if (yes) return 1;
        usleep(50 * 1000);
    }
    return 0;
}

/* restart_with: stops the daemon and starts it again on the same tmpfs with env e; the test clock is
 * set again (it starts from the real time), clear of the policy's hourly slot. */
static int restart_with(const char *const *e)
{
    struct http_resp r;
    long st;
    if (daemon_kill(&d, SIGTERM) != 0 || daemon_restart(&d, e) != 0) return -1;
    st = call("POST", "/v2/coffer-test/clock", jfmt("{'nowUsecs':%lld}", T0 + 600LL * 1000000), &r);
    http_resp_release(&r);
    return st == 200 ? 0 : -1;
}

static const char *const slow_env[] = { "COFFER_TEST_CLOCK=1", "COFFER_TEST_HOOKS=1", "COFFER_TEST_SLOW_OPEN_MS=3000",
                                        NULL };

TEST(a_run_that_ends_on_a_full_catalog_is_recorded_failed_through_the_reserve)
{
    struct http_resp r;
    char p[700], small[600], grp[128], id[64];
    json_t *run;
    int refused = 0;
    /* Room again, and a daemon whose file opens take 3 s (the run is Running while the disk fills). */
    snprintf(p, sizeof p, "%s/filler", d.data_dir);
    CHECK(unlink(p) == 0);
    CHECK(restart_with(slow_env) == 0);
    snprintf(small, sizeof small, "%s/small", g_tmp);
    CHECK(mkdir(small, 0755) == 0);
    for (int i = 0; i < 3; i++) {
        unsigned char buf[8192];
        FILE *f;
        snprintf(p, sizeof p, "%s/s%d.bin", small, i);
        fill_random(buf, sizeof buf);
        f = fopen(p, "wb");
        CHECK(f && fwrite(buf, 1, sizeof buf, f) == sizeof buf && fclose(f) == 0);
    }
    CHECK_EQ_INT(post_id(GRP, jfmt("{'name':'small','policyId':'%s','environment':'kPhysical','startTime':{'hour':0,"
                                  "'minute':0},'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':"
                                  "{'objects':[{'id':%lld,'filePaths':[{'includedPath':'%s'}]}]}}}", policy, host,
                                  small), grp, sizeof grp), 201);
    CHECK_EQ_INT(call("POST", jfmt(GRP "/%s/runs", grp), "{\"runType\":\"kRegular\"}", &r), 202);
    snprintf(id, sizeof id, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    CHECK(wait_running(grp, id, 30));
    /* Fill the disk, until the catalog itself refuses a write. */
    CHECK(fill_disk() >= 0);
    for (int i = 0; i < 300 && !refused; i++) {
        long st = call("POST", POL, jfmt("{'name':'probe-%d','backupPolicy':{'regular':{'incremental':{'schedule':{"
                                        "'unit':'Days','daySchedule':{'frequency':1}}},'retention':{'unit':'Days',"
                                        "'duration':7}}}}", i), &r);
        http_resp_release(&r);
        CHECKF(st == 201 || st == 507, "POST on a full disk: %ld", st);
        refused = st == 507;
    }
    CHECK(refused);
    /* The run meets the full disk in the repository and must still record its end. */
    run = wait_run_in(grp, id, 120);
    CHECK(run != NULL);
    CHECKF(strcmp(run_status(run), "Failed") == 0, "status %s messages %s", run_status(run), msgs(run));
    CHECKF(has_message(run, "No space left on device"), "messages %s", msgs(run));
    json_decref(run);
    CHECKF(log_count("released the space reserve") >= 1, "the reserve was not used");
    snprintf(p, sizeof p, "%s/catalog.reserve", d.data_dir);
    CHECK(access(p, F_OK) != 0); /* not re-created on a full disk */
}

TEST(the_log_holds_the_disk_full_error_a_few_times_only)
{
    int full = log_count("database or disk is full");
    fprintf(stderr, "'database or disk is full' lines in the daemon's log: %d\n", full);
    CHECK(full >= 1);  /* the catalog did meet the full disk */
    CHECKF(full <= 6, "%d lines", full); /* one per distinct message and 30 s window */
}

TEST(after_freeing_space_the_next_run_succeeds_and_restores)
{
    struct http_resp r;
    char p[700], id[64], snap[80];
    json_t *run;
    struct stat st;
    int back = 0, nt;
    snprintf(p, sizeof p, "%s/filler", d.data_dir);
    CHECK(unlink(p) == 0);
    CHECK(restart_with(env) == 0); /* back to normal file opens */
    CHECKF(mount("tmpfs", d.data_dir, "tmpfs", MS_REMOUNT, TMPFS_BIG) == 0, "remount: %s", strerror(errno));
    /* The space reserve is re-created once there is room (the monitor checks every 5 s). */
    snprintf(p, sizeof p, "%s/catalog.reserve", d.data_dir);
    for (int i = 0; i < 150 && !back; i++) {
        back = stat(p, &st) == 0 && st.st_size == RESERVE_BYTES;
        if (!back) usleep(100 * 1000);
    }
    CHECK(back);
    CHECK_EQ_INT(post_id(POL, jfmt("{'name':'after','backupPolicy':{'regular':{'incremental':{'schedule':{"
                                  "'unit':'Days','daySchedule':{'frequency':1}}},'retention':{'unit':'Days',"
                                  "'duration':7}}}}"), NULL, 0), 201);
    CHECK_EQ_INT(start_run(id, sizeof id), 202);
    run = wait_run(id, 180);
    CHECK(run != NULL);
    CHECKF(strcmp(run_status(run), "Succeeded") == 0, "status %s messages %s", run_status(run), msgs(run));
    CHECK_EQ_INT(jint(run, "localBackupInfo.localSnapshotStats.logicalSizeBytes"), (long long)NFILES * FILE_BYTES);
    /* The failed run's complete pack (32 MiB) is reused: less than the tree is stored again. */
    fprintf(stderr, "the run after the failure wrote %lld of %lld bytes\n",
            jint(run, "localBackupInfo.localSnapshotStats.bytesWritten"), (long long)NFILES * FILE_BYTES);
    CHECK(jint(run, "localBackupInfo.localSnapshotStats.bytesWritten") < (long long)NFILES * FILE_BYTES - (16LL << 20));
    snprintf(snap, sizeof snap, "%s", jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId") ?
                                          jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId") : "");
    json_decref(run);
    CHECK_EQ_INT(strlen(snap), 64);
    /* The first run stays Failed with its reason. */
    run = wait_run(failed_run, 5);
    CHECK(run && strcmp(run_status(run), "Failed") == 0 && has_message(run, "No space left on device"));
    json_decref(run);
    CHECK_EQ_INT(call("GET", POL, NULL, &r), 200);
    http_resp_release(&r);
    /* Stop the daemon; nothing temporary is left; the snapshot restores byte for byte. */
    CHECK_EQ_INT(daemon_kill(&d, SIGTERM), 0);
    snprintf(p, sizeof p, "%s/repo", d.data_dir);
    CHECK_EQ_INT(count_temps(p, 0), 0);
    CHECK_EQ_INT(count_temps(d.data_dir, 0), 0);
    /* Debris of a dead writer (a temp pack, temp index and snapshot files, an old-style temp index)
     * is removed when the repository is opened. */
    {
        char j[4][900];
        int dead = 4194000;
        while (dead > 1000 && (kill(dead, 0) == 0 || errno != ESRCH)) dead--;
        snprintf(j[0], sizeof j[0], "%s/repo/data/tmp/pack-%d-abcdef", d.data_dir, dead);
        snprintf(j[1], sizeof j[1], "%s/repo/index/%064d.tmp-%d-abcdef", d.data_dir, 0, dead);
        snprintf(j[2], sizeof j[2], "%s/repo/snapshots/%064d.tmp-%d-qwerty", d.data_dir, 0, dead);
        snprintf(j[3], sizeof j[3], "%s/repo/index/%064d.tmp-zxcvbn", d.data_dir, 0);
        for (int k = 0; k < 4; k++) CHECKF(close(open(j[k], O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) == 0, "%s", j[k]);
        g_quiet = 1;
        nt = count_temps(p, 0);
        g_quiet = 0;
        CHECK_EQ_INT(nt, 4);
        {
            struct repo *repo = NULL;
            char key[700], err[512] = "";
            snprintf(key, sizeof key, "%s/repo.key", d.data_dir);
            CHECKF(repo_open(p, key, &repo, err, sizeof err) == 0, "repo_open: %s", err);
            repo_close(repo);
        }
        CHECK_EQ_INT(count_temps(p, 0), 0);
    }
    {
        char repo_dir[700], key[700], target[700], a[1400], b[2200];
        struct repo *repo = NULL;
        struct eng_restore_opts o = { 0 };
        struct eng_restore_result res = { 0 };
        char err[512] = "";
        int rc, n = 0;
        DIR *dh;
        struct dirent *e;
        snprintf(repo_dir, sizeof repo_dir, "%s/repo", d.data_dir);
        snprintf(key, sizeof key, "%s/repo.key", d.data_dir);
        snprintf(target, sizeof target, "%s/restored", g_tmp);
        rc = repo_open(repo_dir, key, &repo, err, sizeof err);
        CHECKF(rc == 0, "repo_open: %s", err);
        o.target_dir = target;
        rc = eng_restore(repo, snap, &o, &res, err, sizeof err);
        eng_restore_result_release(&res);
        repo_close(repo);
        CHECKF(rc == 0, "eng_restore: %s", err);
        dh = opendir(tree);
        CHECK(dh != NULL);
        while ((e = readdir(dh))) {
            if (e->d_name[0] == '.') continue;
            snprintf(a, sizeof a, "%s/%s", tree, e->d_name);
            snprintf(b, sizeof b, "%s%s", target, a);
            if (!files_equal(a, b)) {
                closedir(dh);
                CHECKF(0, "%s differs from its restored copy %s", a, b);
            }
            n++;
        }
        closedir(dh);
        CHECK_EQ_INT(n, NFILES);
        snprintf(a, sizeof a, "%s%s", target, tree);
        dh = opendir(a);
        CHECK(dh != NULL);
        n = 0;
        while ((e = readdir(dh)))
            if (e->d_name[0] != '.') n++;
        closedir(dh);
        CHECK_EQ_INT(n, NFILES); /* nothing extra in the restore */
    }
}

static int live_yes(void *ud, const char *tenant, const char *group_id, int64_t start_usecs)
{
    (void)ud, (void)tenant, (void)group_id, (void)start_usecs;
    return 1;
}

static int live_no(void *ud, const char *tenant, const char *group_id, int64_t start_usecs)
{
    (void)ud, (void)tenant, (void)group_id, (void)start_usecs;
    return 0;
}

/* fill_dir: writes dir/filler until ENOSPC; 0, or -1 on another error. */
static int fill_dir(const char *dir)
{
    char p[800];
    static unsigned char buf[64 << 10];
    int fd;
    snprintf(p, sizeof p, "%s/filler", dir);
    fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    for (size_t chunk = sizeof buf; chunk >= 512; chunk /= 8) {
        for (int i = 0; i < 100000; i++) {
            ssize_t n = write(fd, buf, chunk);
            if (n < 0 && errno != ENOSPC) {
                close(fd);
                return -1;
            }
            if (n < (ssize_t)chunk) break;
        }
    }
    close(fd);
    return 0;
}

TEST(the_catalog_records_on_a_full_disk_through_its_reserve)
{
    char dir[700], path[800], reserve[800], msg[2100];
    struct cat *cat = NULL;
    struct cat_run run = { 0 };
    char err[256] = "";
    int rc = 0, i, n = -1;
    int64_t start = 0, leased_start;
    struct stat st;
    struct cat_run_new nr = { .tenant = "t", .group_name = "g", .group_seq = 1, .run_type = "kRegular",
                              .status = "Accepted", .message = msg };
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    snprintf(dir, sizeof dir, "%s/cat", g_tmp);
    CHECK(mkdir(dir, 0700) == 0);
    CHECKF(mount("tmpfs", dir, "tmpfs", 0, "size=4m") == 0, "mount: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    snprintf(reserve, sizeof reserve, "%s/catalog.reserve", dir);
    rc = cat_open(path, &cat, err, sizeof err);
    if (rc == 0) rc = cat_reserve_init(cat, reserve, 1 << 20);
    if (rc == 0) {
        nr.group_id = "g-first";
        start = 1000;
        rc = cat_run_insert(cat, &nr, &start); /* the run the orphan sweep looks at below */
    }
    if (rc == 0) rc = fill_dir(dir);
    /* Rows until the disk refuses one: SQLite may have room left in its files for a few. */
    for (i = 0; rc == 0 && i < 20000; i++) {
        char gid[32];
        snprintf(gid, sizeof gid, "g-%d", i);
        nr.group_id = gid;
        start = 2000 + i;
        rc = cat_run_insert(cat, &nr, &start);
    }
    if (rc == 0) rc = -1000; /* never refused */
    i--;
    if (rc == -ENOSPC) {
        char gid[32];
        int last = cat_last_error(), released = cat_reserve_release(cat);
        int gone = stat(reserve, &st) != 0, restore = cat_reserve_restore(cat); /* 1 MiB free: not room */
        snprintf(gid, sizeof gid, "g-%d", i);
        nr.group_id = gid;
        start = 2000 + i;
        rc = cat_run_insert(cat, &nr, &start); /* the same write, with the reserve's space */
        if (last != -ENOSPC || restore != -ENOSPC || released != 1 || !gone) {
            fprintf(stderr, "last error %d, restore %d, released %d, gone %d\n", last, restore, released, gone);
            rc = -2000;
        }
    }
    /* The orphan sweep: a Running run of "me" whose lease expired is failed only when no worker has it. */
    if (rc == 0) rc = cat_run_lease_next(cat, "me", 1, &run);
    leased_start = run.start_usecs;
    if (rc == 0) rc = cat_run_fail_orphans(cat, "me", 5, live_yes, NULL, "orphaned", 7000, &n);
    if (rc == 0 && n != 0) rc = -3000;
    if (rc == 0) rc = cat_run_fail_orphans(cat, "other", 5, live_no, NULL, "orphaned", 7000, &n);
    if (rc == 0 && n != 0) rc = -3001;
    if (rc == 0) rc = cat_run_fail_orphans(cat, "me", 5, live_no, NULL, "orphaned", 7000, &n);
    if (rc == 0 && n != 1) rc = -3002;
    cat_run_release(&run);
    if (rc == 0) rc = cat_run_get(cat, "t", "g-first", leased_start, &run);
    if (rc == 0 && (strcmp(run.status, "Failed") != 0 ||
                    !strstr(json_string_value(json_array_get(run.messages, json_array_size(run.messages) - 1)),
                            "orphaned")))
        rc = -4000;
    cat_run_release(&run);
    /* Room again: the reserve comes back. */
    snprintf(path, sizeof path, "%s/filler", dir);
    unlink(path);
    if (rc == 0 && cat_reserve_restore(cat) != 1) rc = -5000;
    if (rc == 0 && (stat(reserve, &st) != 0 || st.st_size != 1 << 20)) rc = -5001;
    cat_close(cat);
    umount2(dir, MNT_DETACH);
    CHECKF(rc == 0, "rc %d (after %d rows)", rc, i);
}

int main(void)
{
    static const char *const names[] = { "setup_on_a_small_tmpfs",
                                         "a_backup_that_fills_the_disk_ends_failed_with_the_reason",
                                         "writes_on_a_full_disk_answer_507_and_change_nothing",
                                         "a_run_that_ends_on_a_full_catalog_is_recorded_failed_through_the_reserve",
                                         "the_log_holds_the_disk_full_error_a_few_times_only",
                                         "after_freeing_space_the_next_run_succeeds_and_restores",
                                         "the_catalog_records_on_a_full_disk_through_its_reserve" };
    int rc;
    g_tmp = check_tmpdir("diskfull");
    if (daemon_start(&d, env) != 0) {
        fprintf(stderr, "cannot start cofferd\n");
        return 1;
    }
    /* Stop it, put a small tmpfs on its data directory and start it again there. */
    if (daemon_kill(&d, SIGTERM) != 0) {
        fprintf(stderr, "cofferd did not exit cleanly\n");
        return 1;
    }
    if (mount("tmpfs", d.data_dir, "tmpfs", 0, TMPFS_SMALL) != 0) {
        const char *why = strerror(errno);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            printf("SKIP %s: cannot mount a tmpfs on the data directory (%s)\n", names[i], why);
        daemon_stop(&d);
        check_rm_rf(g_tmp);
        free(g_tmp);
        return check_finish();
    }
    g_mounted = 1;
    chmod(d.data_dir, 0700);
    if (daemon_restart(&d, env) != 0) {
        fprintf(stderr, "cannot start cofferd on the tmpfs\n");
        umount2(d.data_dir, MNT_DETACH);
        return 1;
    }
    RUN(setup_on_a_small_tmpfs);
    RUN(a_backup_that_fills_the_disk_ends_failed_with_the_reason);
    RUN(writes_on_a_full_disk_answer_507_and_change_nothing);
    RUN(a_run_that_ends_on_a_full_catalog_is_recorded_failed_through_the_reserve);
    RUN(the_log_holds_the_disk_full_error_a_few_times_only);
    RUN(after_freeing_space_the_next_run_succeeds_and_restores);
    RUN(the_catalog_records_on_a_full_disk_through_its_reserve);
    rc = 0;
    if (d.pid > 0 && daemon_kill(&d, SIGTERM) != 0) {
        fprintf(stderr, "cofferd did not exit cleanly\n");
        rc = 1;
    }
    if (g_mounted && umount2(d.data_dir, MNT_DETACH) != 0) fprintf(stderr, "umount: %s\n", strerror(errno));
    if (getenv("E2E_KEEP_LOG")) { /* diagnostics: keep the daemon's log */
        char cmd[1400];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", d.log_path, getenv("E2E_KEEP_LOG"));
        if (system(cmd) != 0) fprintf(stderr, "cannot keep the log\n");
    }
    daemon_stop(&d);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish() || rc;
}
