/* e2e_cli_more.c: the `coffer` CLI as a new user meets it (issue 13), against the real daemon.
 *
 * Each test runs the built CLI (build/asan/coffer, or $COFFER_CLI; never a non-sanitizer fallback) as a
 * subprocess with COFFER_URL and COFFER_KEY pointing at a daemon started by the harness (slow file opens
 * and held recoveries, so a cancel lands while the work goes on), and checks its stdout, stderr and
 * exit status against what the server holds (read back over HTTP). It covers every command added for
 * the issue end to end (run cancel, recovery list|get|cancel, snapshot list, download create with the
 * archive's bytes compared with the source, policy update, group update, group delete
 * --delete-snapshots, source delete) and each thing that was wrong: group get shows the last run,
 * policy get names its groups, the --wait summary gives the run's own times, a CJK name keeps the
 * columns (offsets compared in display cells), --json errors are JSON, a trailing slash is tidied, a
 * wrong key and a missing key say different things, a URL without /v2 is named, a 400 names the
 * option, a missing include path is named (at create and in the run's messages), and every command's
 * --help has an example. */
#include "e2e/e2e_recover_fixture.h"
#include "e2e/clirun.h"
#include <locale.h>
#include <sys/wait.h>
#include <time.h>
#include <wchar.h>

#define T "default" /* the CLI's default tenant */

static struct daemon d;
static char url[128], *g_tmp, src[600], slow_dir[600];
static long long host;
static char policy[128], group[128], snap[80], run_id[64];
static long long snap_usecs;

static struct cli_run last; /* released by the next run, so a failed CHECK leaks nothing */

/* How a run of the CLI is set up: the service URL (NULL: the daemon's /v2), the key (NULL: none at all,
 * COFFER_KEY unset), the working directory (NULL: this one). */
struct env {
    const char *url, *key, *cwd;
};

static struct cli_run *cli_v(const struct env *e, const char *first, va_list ap)
{
    struct cli_env ce = { .tmp = g_tmp, .url = e->url ? e->url : url, .key = e->key, .cwd = e->cwd };
    return clirun_v(&last, &ce, first, ap);
}

/* cli: runs the CLI with the words (NULL-terminated) against the daemon with its key. */
static struct cli_run *cli(const char *first, ...)
{
    struct env e = { NULL, HARNESS_KEY, NULL };
    struct cli_run *r;
    va_list ap;
    va_start(ap, first);
    r = cli_v(&e, first, ap);
    va_end(ap);
    return r;
}

static struct cli_run *cli_env(const struct env *e, const char *first, ...)
{
    struct cli_run *r;
    va_list ap;
    va_start(ap, first);
    r = cli_v(e, first, ap);
    va_end(ap);
    return r;
}

/* after: the id printed after prefix in text ("created group ID (...)"), into buf. */
static int after(const char *text, const char *prefix, char *buf, size_t size)
{
    const char *p = strstr(text, prefix);
    if (!p) return -1;
    p += strlen(prefix);
    snprintf(buf, size, "%.*s", (int)strcspn(p, " \n"), p);
    return buf[0] ? 0 : -1;
}

/* local_time: usecs as the CLI prints it (local time, "2026-12-06 07:05:09"). */
static const char *local_time(long long usecs, char *buf, size_t size)
{
    time_t t = (time_t)(usecs / 1000000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

/* cells: the display width (terminal cells) of the first n bytes of s. */
static size_t cells(const char *s, size_t n)
{
    mbstate_t st;
    size_t w = 0;
    memset(&st, 0, sizeof st);
    while (n > 0) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, s, n, &st);
        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) return (size_t)-1;
        w += wcwidth(wc) > 0 ? (size_t)wcwidth(wc) : 0;
        s += k;
        n -= k;
    }
    return w;
}

/* line_with: the line of text holding needle (copied into buf), or NULL. */
static const char *line_with(const char *text, const char *needle, char *buf, size_t size)
{
    const char *p = strstr(text, needle), *b, *e;
    if (!p) return NULL;
    for (b = p; b > text && b[-1] != '\n'; b--) {}
    e = strchr(p, '\n');
    if (!e) e = p + strlen(p);
    snprintf(buf, size, "%.*s", (int)(e - b), b);
    return buf;
}

/* column_cells: the display column (in cells) where needle starts on the line of text holding key. */
static long column_cells(const char *text, const char *key, const char *needle)
{
    char line[4096];
    const char *p;
    if (!line_with(text, key, line, sizeof line) || !(p = strstr(line, needle))) return -1;
    return (long)cells(line, (size_t)(p - line));
}

/* run_json: GET the group's run; its JSON (caller decrefs) or NULL. */
static json_t *run_json(const char *gid, const char *rid)
{
    json_t *j = NULL;
    if (get_json(&d, fmt("%s/%s/runs/%s", FX_GRP, gid, rid), T, &j) != 200) {
        json_decref(j);
        return NULL;
    }
    return j;
}

TEST(setup)
{
    char p[800];
    snprintf(url, sizeof url, "%s/v2", d.base);
    snprintf(src, sizeof src, "%s/src", g_tmp);
    CHECK(mkdir(src, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs", src);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs/report.bin", src);
    CHECK(write_random(p, 300000, 0640) == 0);
    snprintf(p, sizeof p, "%s/a.txt", src);
    CHECK(write_text(p, "alpha\n", 0644) == 0);
    /* a tree slow to read (each open waits COFFER_TEST_SLOW_OPEN_MS): a run to cancel */
    snprintf(slow_dir, sizeof slow_dir, "%s/slow", g_tmp);
    CHECK(mkdir(slow_dir, 0755) == 0);
    for (int i = 0; i < 60; i++) {
        snprintf(p, sizeof p, "%s/f%02d.txt", slow_dir, i);
        CHECK(write_text(p, "slow\n", 0644) == 0);
    }
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
}

/* Group create refuses an include path missing on this machine (the object's host is this machine),
 * naming it; with --allow-missing it is sent, and the run's warning names the exact path. The --wait
 * summary gives the run's own duration and start (from its record), and run list and group get show
 * the run with local dates and its snapshot. */
TEST(missing_path_named_and_the_run_shown)
{
    char obj[32], missing_group[128], line[4096], when[32], secs[32];
    struct cli_run *r;
    json_t *j, *msgs;
    long long s, e;
    long c_start, c_head;
    snprintf(obj, sizeof obj, "%lld", host);
    r = cli("group", "create", "--name", "cli-more", "--policy", policy, "--source-object", obj, "--path", src,
            "--path", "/does/not/exist2", NULL);
    CHECKF(r->status == 1, "exit %d: %s %s", r->status, r->out, r->err);
    CHECKF(strstr(r->err, "/does/not/exist2") != NULL && strstr(r->err, "does not exist") != NULL, "%s", r->err);
    r = cli("group", "list", NULL);
    CHECKF(r->status == 0 && strstr(r->out, "cli-more") == NULL, "created anyway: %s", r->out);
    r = cli("group", "create", "--name", "cli-more", "--policy", policy, "--source-object", obj, "--path", src,
            "--path", "/does/not/exist2", "--allow-missing", NULL);
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    CHECK(after(r->out, "created group ", group, sizeof group) == 0);

    r = cli("run", "start", group, "--wait", NULL);
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    CHECKF(strstr(r->out, "SucceededWithWarning") != NULL, "%s", r->out);
    CHECKF(strstr(r->out, "/does/not/exist2: included path not found") != NULL, "the warning: %s", r->out);
    CHECKF(strstr(r->out, "/does: ") == NULL, "the warning names a component: %s", r->out);
    CHECK(sscanf(r->out, "run %63s", run_id) == 1);
    j = run_json(group, run_id);
    CHECK(j != NULL);
    s = jint(j, "localBackupInfo.startTimeUsecs");
    e = jint(j, "localBackupInfo.endTimeUsecs");
    msgs = jget(j, "localBackupInfo.messages");
    CHECK(has_message(msgs, "/does/not/exist2: included path not found"));
    json_decref(j);
    /* the summary's time is the run's: its duration from start to end, and its start */
    snprintf(secs, sizeof secs, "read in %.1f s (started %s)", (double)(e - s) / 1e6, local_time(s, when, sizeof when));
    CHECKF(strstr(r->out, secs) != NULL, "want '%s' in: %s", secs, r->out);

    /* run list: STARTED is the local date under its header, SNAPSHOT the snapshot the run made */
    r = cli("run", "list", group, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    c_head = column_cells(r->out, "RUN ID", "STARTED");
    c_start = column_cells(r->out, run_id, local_time(s, when, sizeof when));
    CHECKF(c_head >= 0 && c_head == c_start, "STARTED at %ld, the date at %ld: %s", c_head, c_start, r->out);
    j = NULL;
    CHECK(get_json(&d, fmt("/v2/data-protect/objects/%lld/snapshots", host), T, &j) == 200);
    for (size_t i = 0; i < json_array_size(jget(j, "snapshots")); i++) {
        json_t *sn = json_array_get(jget(j, "snapshots"), i);
        if (jstr(sn, "protectionGroupRunId") && strcmp(jstr(sn, "protectionGroupRunId"), run_id) == 0) {
            snprintf(snap, sizeof snap, "%s", jstr(sn, "id"));
            snap_usecs = jint(sn, "snapshotTimestampUsecs");
        }
    }
    json_decref(j);
    CHECK(snap[0] != '\0');
    CHECKF(column_cells(r->out, run_id, snap) == column_cells(r->out, "RUN ID", "SNAPSHOT"), "%s", r->out);

    /* group get asks for the last run: its status, start and id; and names the policy */
    r = cli("group", "get", group, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECKF(line_with(r->out, "Policy:", line, sizeof line) && strstr(line, "daily (") && strstr(line, policy), "%s",
           r->out);
    CHECKF(line_with(r->out, "Last run:", line, sizeof line) && strstr(line, "SucceededWithWarning") &&
               strstr(line, local_time(s, when, sizeof when)) && strstr(line, run_id),
           "%s", r->out);

    /* a group whose only path is missing: the run fails and its message names the path */
    r = cli("group", "create", "--name", "cli-missing", "--policy", policy, "--source-object", obj, "--path",
            "/does/not/exist2", "--allow-missing", NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(after(r->out, "created group ", missing_group, sizeof missing_group) == 0);
    r = cli("run", "start", missing_group, "--wait", NULL);
    CHECKF(r->status == 1 && strstr(r->out, "Failed") && strstr(r->out, "/does/not/exist2"), "exit %d: %s %s",
           r->status, r->out, r->err);
    r = cli("group", "delete", missing_group, NULL);
    CHECK_EQ_INT(r->status, 0);
}

/* snapshot list: the object's snapshots with the run and time of each. */
TEST(snapshot_list_shows_run_and_time)
{
    char when[32];
    struct cli_run *r;
    json_t *j;
    char obj[32];
    CHECK(snap[0]);
    snprintf(obj, sizeof obj, "%lld", host);
    r = cli("snapshot", "list", obj, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECKF(column_cells(r->out, snap, run_id) == column_cells(r->out, "SNAPSHOT ID", "RUN"), "%s", r->out);
    CHECKF(column_cells(r->out, snap, local_time(snap_usecs, when, sizeof when)) ==
               column_cells(r->out, "SNAPSHOT ID", "TAKEN"), "%s", r->out);
    r = cli("snapshot", "list", obj, "--json", NULL);
    j = json_loads(r->out, 0, NULL);
    CHECKF(r->status == 0 && j && json_array_size(jget(j, "snapshots")) > 0, "%s", r->out);
    json_decref(j);
    r = cli("snapshot", "list", "not-a-number", NULL);
    CHECK_EQ_INT(r->status, 2);
}

/* download create --output: a download recovery of a directory (given with a trailing slash), waited
 * for and fetched; the archive extracts to the source's bytes. recovery list and get show it. */
TEST(download_create_fetches_the_bytes)
{
    char docs[700], tarp[700], x[700], cmd[2200], a[900], b[900], id[128];
    struct cli_run *r;
    snprintf(docs, sizeof docs, "%s/docs/", src);
    snprintf(tarp, sizeof tarp, "%s/docs.tar", g_tmp);
    r = cli("download", "create", "--snapshot", snap, "--path", docs, "--output", tarp, NULL);
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    CHECK(after(r->out, "download ", id, sizeof id) == 0);
    snprintf(x, sizeof x, "%s/x", g_tmp);
    CHECK(mkdir(x, 0755) == 0);
    snprintf(cmd, sizeof cmd, "tar -xf '%s' -C '%s'", tarp, x);
    CHECK(system(cmd) == 0);
    snprintf(a, sizeof a, "%s/docs/report.bin", src);
    snprintf(b, sizeof b, "%s/docs/report.bin", x);
    CHECKF(files_equal(a, b), "%s differs from %s", b, a);

    r = cli("recovery", "list", NULL);
    CHECKF(r->status == 0 && line_with(r->out, id, cmd, sizeof cmd) && strstr(cmd, "download") &&
               strstr(cmd, "Succeeded"),
           "%s", r->out);
    r = cli("recovery", "get", id, NULL);
    CHECKF(r->status == 0 && strstr(r->out, "Succeeded") && strstr(r->out, snap), "%s", r->out);
    snprintf(a, sizeof a, "%s/docs", src); /* the path as tidied */
    CHECKF(line_with(r->out, "Path:", cmd, sizeof cmd) && strstr(cmd, a) && !strstr(cmd, docs), "%s", r->out);

    /* without --output: queued, then the old fetch command gets the same archive */
    r = cli("download", "create", "--snapshot", snap, "--path", a, "--wait", NULL);
    CHECKF(r->status == 0 && strstr(r->out, "Succeeded"), "exit %d: %s %s", r->status, r->out, r->err);
    CHECK(after(r->out, "download ", id, sizeof id) == 0);
    snprintf(b, sizeof b, "%s/again.tar", g_tmp);
    r = cli("download", "--recovery", id, "-o", b, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(files_equal(tarp, b));
    /* a path the snapshot does not hold: the server's 404 names the option */
    r = cli("download", "create", "--snapshot", snap, "--path", "/nowhere/at/all", NULL);
    CHECKF(r->status == 1 && strstr(r->err, "--path") && strstr(r->err, "/nowhere/at/all"), "exit %d: %s", r->status,
           r->err);
}

/* restore: a trailing slash in --path is tidied, not refused. */
TEST(restore_tidies_a_trailing_slash)
{
    char p[700], to[700], a[900], b[900];
    struct cli_run *r;
    snprintf(p, sizeof p, "%s/a.txt/", src);
    snprintf(to, sizeof to, "%s/restored", g_tmp);
    r = cli("restore", "--snapshot", snap, "--path", p, "--to", to, "--wait", NULL);
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    snprintf(a, sizeof a, "%s/a.txt", src);
    snprintf(b, sizeof b, "%s/a.txt", to);
    CHECK(files_equal(a, b));
}

/* recovery cancel: a download held Running by the delay hook is canceled. */
TEST(recovery_cancel)
{
    char id[128];
    struct cli_run *r;
    r = cli("download", "create", "--snapshot", snap, "--path", src, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(after(r->out, "download ", id, sizeof id) == 0);
    r = cli("recovery", "cancel", id, NULL);
    CHECKF(r->status == 0 && strstr(r->out, "cancel of recovery"), "exit %d: %s %s", r->status, r->out, r->err);
    CHECK(fx_wait_status(&d, T, id, "Canceled", 60));
    r = cli("recovery", "get", id, NULL);
    CHECKF(r->status == 0 && strstr(r->out, "Canceled"), "%s", r->out);
    r = cli("recovery", "get", "1:2:987654", NULL);
    CHECKF(r->status == 1 && strstr(r->err, "HTTP 404"), "exit %d: %s", r->status, r->err);
    r = cli("recovery", "get", NULL);
    CHECK_EQ_INT(r->status, 2);
}

/* run cancel: a slow run is canceled while it reads. */
TEST(run_cancel)
{
    char obj[32], g[128], rid[64], path[800];
    struct cli_run *r;
    json_t *j = NULL;
    const char *st = NULL;
    int running = 0;
    snprintf(obj, sizeof obj, "%lld", host);
    r = cli("group", "create", "--name", "cli-slow", "--policy", policy, "--source-object", obj, "--path", slow_dir,
            NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(after(r->out, "created group ", g, sizeof g) == 0);
    r = cli("run", "start", g, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(sscanf(r->out, "run %63s", rid) == 1);
    snprintf(path, sizeof path, "%s/%s/runs/%s", FX_GRP, g, rid);
    for (int i = 0; i < 200 && !running; i++) {
        json_decref(j);
        j = NULL;
        if (get_json(&d, path, T, &j) == 200) running = jstr(j, "localBackupInfo.status") &&
                                                        strcmp(jstr(j, "localBackupInfo.status"), "Running") == 0;
        if (!running) usleep(50 * 1000);
    }
    json_decref(j);
    j = NULL;
    CHECK(running);
    r = cli("run", "cancel", g, rid, NULL);
    CHECKF(r->status == 0 && strstr(r->out, "cancel of run"), "exit %d: %s %s", r->status, r->out, r->err);
    for (int i = 0; i < 300; i++) {
        json_decref(j);
        j = NULL;
        if (get_json(&d, path, T, &j) != 200) break;
        st = jstr(j, "localBackupInfo.status");
        if (st && strcmp(st, "Running") != 0 && strcmp(st, "Accepted") != 0 && strcmp(st, "Canceling") != 0) break;
        usleep(100 * 1000);
    }
    CHECKF(st && strcmp(st, "Canceled") == 0, "status %s", st ? st : "?");
    json_decref(j);
    r = cli("run", "list", g, NULL);
    CHECKF(r->status == 0 && line_with(r->out, rid, path, sizeof path) && strstr(path, "Canceled"), "%s", r->out);
    r = cli("run", "cancel", g, rid, NULL);
    CHECKF(r->status == 1 && strstr(r->err, "already finished"), "exit %d: %s", r->status, r->err);
    r = cli("run", "cancel", g, NULL);
    CHECK_EQ_INT(r->status, 2);
    r = cli("group", "delete", g, NULL);
    CHECK_EQ_INT(r->status, 0);
}

/* policy get names the groups that use the policy; policy update changes what its options say. */
TEST(policy_get_groups_and_update)
{
    char pid[128], obj[32], g[3][128], line[4096], path[300];
    static const char *const names[3] = { "pg-one", "pg-two", "pg-three" };
    struct cli_run *r;
    json_t *j = NULL;
    snprintf(obj, sizeof obj, "%lld", host);
    r = cli("policy", "create", "--name", "cli-shared", NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(after(r->out, "created policy ", pid, sizeof pid) == 0);
    for (int i = 0; i < 3; i++) {
        r = cli("group", "create", "--name", names[i], "--policy", pid, "--source-object", obj, "--path", src, NULL);
        CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
        CHECK(after(r->out, "created group ", g[i], sizeof g[i]) == 0);
    }
    r = cli("policy", "get", pid, NULL);
    CHECKF(r->status == 0 && line_with(r->out, "Groups:", line, sizeof line), "%s %s", r->out, r->err);
    CHECKF(strstr(line, "3 (") && strstr(line, "pg-one") && strstr(line, "pg-two") && strstr(line, "pg-three"), "%s",
           line);

    r = cli("policy", "update", pid, "--retention-days", "9", "--every-hours", "3", "--name", "cli-shared-2", NULL);
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    snprintf(path, sizeof path, "%s/%s", FX_POL, pid);
    CHECK(get_json(&d, path, T, &j) == 200);
    CHECK(jstr(j, "name") && strcmp(jstr(j, "name"), "cli-shared-2") == 0);
    CHECK_EQ_INT(jint(j, "backupPolicy.regular.retention.duration"), 9);
    CHECK_EQ_INT(jint(j, "backupPolicy.regular.incremental.schedule.hourSchedule.frequency"), 3);
    json_decref(j);
    r = cli("policy", "update", pid, NULL);
    CHECK_EQ_INT(r->status, 2);

    /* group delete --delete-snapshots: the group's snapshots go with it */
    r = cli("run", "start", g[0], "--wait", NULL);
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    r = cli("group", "delete", g[0], "--delete-snapshots", NULL);
    CHECKF(r->status == 0 && strstr(r->out, "snapshots"), "exit %d: %s %s", r->status, r->out, r->err);
    j = NULL;
    CHECK(get_json(&d, fmt("/v2/data-protect/objects/%lld/snapshots", host), T, &j) == 200);
    for (size_t i = 0; i < json_array_size(jget(j, "snapshots")); i++) {
        const char *gid = jstr(json_array_get(jget(j, "snapshots"), i), "protectionGroupId");
        CHECKF(!gid || strcmp(gid, g[0]) != 0, "a snapshot of the deleted group is still listed");
    }
    json_decref(j);
    for (int i = 1; i < 3; i++) {
        r = cli("group", "delete", g[i], NULL);
        CHECK_EQ_INT(r->status, 0);
    }
    r = cli("policy", "delete", pid, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
}

/* group update: names, paths added and removed, excludes; a 400 names the option the user typed. */
TEST(group_update_and_option_names)
{
    char path[300], docs[700], line[4096];
    struct cli_run *r;
    json_t *j = NULL, *fps;
    snprintf(docs, sizeof docs, "%s/docs", src);
    r = cli("group", "update", group, "--remove-path", "/does/not/exist2", "--exclude", docs, "--description",
            "updated by the CLI", NULL);
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    snprintf(path, sizeof path, "%s/%s", FX_GRP, group);
    CHECK(get_json(&d, path, T, &j) == 200);
    CHECK(jstr(j, "description") && strcmp(jstr(j, "description"), "updated by the CLI") == 0);
    fps = json_object_get(json_array_get(jget(j, "physicalParams.fileProtectionTypeParams.objects"), 0), "filePaths");
    CHECK_EQ_INT(json_array_size(fps), 1);
    CHECK(strcmp(jstr(json_array_get(fps, 0), "includedPath"), src) == 0);
    CHECK(strcmp(json_string_value(json_array_get(json_object_get(json_array_get(fps, 0), "excludedPaths"), 0)),
                 docs) == 0);
    json_decref(j);
    /* a path missing on this machine is refused, named as the option that brought it */
    r = cli("group", "update", group, "--add-path", "/does/not/exist3", NULL);
    CHECKF(r->status == 1 && strstr(r->err, "--add-path /does/not/exist3"), "exit %d: %s", r->status, r->err);
    /* the server's field policyId is the user's --policy */
    r = cli("group", "update", group, "--policy", "not-a-policy", NULL);
    CHECKF(r->status == 1 && strstr(r->err, "--policy") && strstr(r->err, "not-a-policy"), "exit %d: %s", r->status,
           r->err);
    r = cli("group", "create", "--name", "x", "--policy", "bad-id", "--source-object", "1", "--path", src, NULL);
    CHECKF(r->status == 1 && line_with(r->err, "bad-id", line, sizeof line) && strstr(line, "--policy"), "exit %d: %s",
           r->status, r->err);
}

/* A CJK group name keeps the table's columns: each cell starts at its header's display column. */
TEST(cjk_names_keep_the_columns)
{
    char obj[32], g1[128], g2[128];
    static const char cjk[] = "日本語のグループ";
    struct cli_run *r;
    long head, c1, c2;
    snprintf(obj, sizeof obj, "%lld", host);
    r = cli("group", "create", "--name", cjk, "--policy", policy, "--source-object", obj, "--path", src, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(after(r->out, "created group ", g1, sizeof g1) == 0);
    r = cli("group", "create", "--name", "plain-name", "--policy", policy, "--source-object", obj, "--path", src, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(after(r->out, "created group ", g2, sizeof g2) == 0);
    r = cli("group", "list", NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    head = column_cells(r->out, "ID  ", "ENVIRONMENT");
    c1 = column_cells(r->out, cjk, "kPhysical");
    c2 = column_cells(r->out, "plain-name", "kPhysical");
    CHECKF(head > 0 && c1 == head && c2 == head, "ENVIRONMENT at %ld, CJK row %ld, plain row %ld:\n%s", head, c1, c2,
           r->out);
    CHECK(cli("group", "delete", g1, NULL)->status == 0);
    CHECK(cli("group", "delete", g2, NULL)->status == 0);
}

/* With --json every error is one JSON object on stderr (stdout stays empty). */
TEST(json_errors_are_json)
{
    struct cli_run *r;
    json_t *j;
    r = cli("--json", "policy", "get", "nope", NULL);
    CHECK_EQ_INT(r->status, 1);
    CHECKF(r->out[0] == '\0', "stdout: %s", r->out);
    j = json_loads(r->err, 0, NULL);
    CHECKF(j != NULL, "not JSON: %s", r->err);
    CHECK(jstr(j, "error.message") && strstr(jstr(j, "error.message"), "nope"));
    CHECK_EQ_INT(jint(j, "error.exitStatus"), 1);
    CHECK_EQ_INT(jint(j, "error.httpStatus"), 400);
    json_decref(j);
    r = cli("policy", "get", "--json", NULL); /* a usage error */
    CHECK_EQ_INT(r->status, 2);
    j = json_loads(r->err, 0, NULL);
    CHECKF(j != NULL, "not JSON: %s", r->err);
    CHECK_EQ_INT(jint(j, "error.exitStatus"), 2);
    CHECK(jstr(j, "error.usage") && strstr(jstr(j, "error.usage"), "policy get"));
    json_decref(j);
    r = cli("--json", "nosuchnoun", NULL);
    CHECK_EQ_INT(r->status, 2);
    j = json_loads(r->err, 0, NULL);
    CHECKF(j != NULL, "not JSON: %s", r->err);
    json_decref(j);
    r = cli("--json", "policy", "get", "a", "b\xff", NULL); /* a word that is not UTF-8 */
    CHECK_EQ_INT(r->status, 2);
    j = json_loads(r->err, 0, NULL);
    CHECKF(j != NULL && jstr(j, "error.message") && strstr(jstr(j, "error.message"), "b?"), "%s", r->err);
    json_decref(j);
    r = cli("policy", "get", "nope", NULL); /* without --json: a line */
    CHECK(r->status == 1 && strncmp(r->err, "coffer: ", 8) == 0);
}

/* A wrong key and no key say different things, each how to set it; a URL without /v2 is named. */
TEST(key_and_url_messages)
{
    struct env wrong = { NULL, "not-the-key", NULL }, none = { NULL, NULL, g_tmp }, bare = { d.base, HARNESS_KEY, NULL };
    char want[300];
    struct cli_run *r;
    char *wrong_err;
    r = cli_env(&wrong, "policy", "list", NULL);
    CHECK_EQ_INT(r->status, 1);
    CHECKF(strstr(r->err, "refused the API key from COFFER_KEY") && strstr(r->err, "HTTP 401") &&
               strstr(r->err, "--key"),
           "%s", r->err);
    wrong_err = strdup(r->err);
    r = cli_env(&none, "policy", "list", NULL);
    CHECK_EQ_INT(r->status, 2);
    CHECKF(strstr(r->err, "no API key is configured") && strstr(r->err, "COFFER_KEY") && strcmp(r->err, wrong_err) != 0,
           "%s", r->err);
    free(wrong_err);
    r = cli_env(&bare, "policy", "list", NULL);
    CHECK_EQ_INT(r->status, 1);
    snprintf(want, sizeof want, "did you mean %s/v2?", d.base);
    CHECKF(strstr(r->err, "HTTP 404") && strstr(r->err, want), "%s", r->err);
}

/* source delete: a registration no group uses goes; one in use is refused with the server's reason. */
TEST(source_delete)
{
    char id[32];
    struct cli_run *r;
    r = cli("--tenant", "cli-src", "source", "register", "--endpoint", "127.0.0.1", NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(after(r->out, "registered source ", id, sizeof id) == 0);
    r = cli("--tenant", "cli-src", "source", "delete", id, NULL);
    CHECKF(r->status == 0 && strstr(r->out, "deleted source"), "exit %d: %s %s", r->status, r->out, r->err);
    r = cli("--tenant", "cli-src", "source", "list", NULL);
    CHECKF(r->status == 0 && !strstr(r->out, "127.0.0.1"), "%s", r->out);
    r = cli("--tenant", "cli-src", "source", "delete", id, NULL);
    CHECKF(r->status == 1 && strstr(r->err, "HTTP 404"), "exit %d: %s", r->status, r->err);
    snprintf(id, sizeof id, "%lld", host);
    r = cli("source", "delete", id, NULL); /* the groups of the tests protect it */
    CHECKF(r->status == 1 && strstr(r->err, "HTTP 409"), "exit %d: %s", r->status, r->err);
    /* the endpoint's field is the user's --endpoint */
    r = cli("source", "register", "--endpoint", "127.0.0.1", NULL);
    CHECKF(r->status == 1 && strstr(r->err, "--endpoint"), "exit %d: %s", r->status, r->err);
}

/* Every command's --help prints its usage and an example, without a server. */
TEST(every_command_has_help_with_an_example)
{
    char *list, *p;
    int n = 0;
    struct cli_run *r = cli("help", NULL);
    CHECK(r->status == 0);
    list = strdup(r->out);
    for (p = list; (p = strstr(p, "\n  coffer ")) != NULL;) {
        char words[3][64] = { "", "", "" };
        struct env none = { "http://127.0.0.1:1/v2", NULL, g_tmp };
        int k = sscanf(p, "\n  coffer %63s %63s", words[0], words[1]);
        p += 9;
        if (k < 1) continue;
        if (k < 2 || words[1][0] == '-' || words[1][0] < 'a' || words[1][0] > 'z' || strcmp(words[1], "TEXT") == 0)
            words[1][0] = '\0';
        r = words[1][0] ? cli_env(&none, words[0], words[1], "--help", NULL) : cli_env(&none, words[0], "--help", NULL);
        if (words[1][0]) {
            CHECKF(r->status == 0 && strstr(r->out, "usage: coffer ") && strstr(r->out, "example:\n  coffer "),
                   "coffer %s %s --help: exit %d: %s %s", words[0], words[1], r->status, r->out, r->err);
            n++;
        }
    }
    free(list);
    CHECKF(n >= 27, "only %d commands checked", n);
    /* the nouns that are a whole command */
    {
        static const char *const whole[] = { "search", "restore", "prune", "verify" };
        for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
            r = cli(whole[i], "--help", NULL);
            CHECKF(r->status == 0 && strstr(r->out, "example:\n  coffer "), "coffer %s --help: %s", whole[i], r->out);
        }
    }
    r = cli("group", "create", "--help", NULL);
    CHECKF(strstr(r->out, "usage: coffer group create --name N") && strstr(r->out, "coffer group create --name home"),
           "%s", r->out);
}

int main(void)
{
    static const char *const env[] = { "COFFER_TEST_HOOKS=1", "COFFER_TEST_SLOW_OPEN_MS=100",
                                       "COFFER_TEST_RECOVERY_DELAY_MS=1500", NULL };
    if (!setlocale(LC_CTYPE, "C.UTF-8")) setlocale(LC_CTYPE, "");
    if (access(clirun_bin(), X_OK) != 0) {
        check_fail(__FILE__, __LINE__, "no CLI binary at %s (make test-bin)", clirun_bin());
        return check_finish();
    }
    g_tmp = check_tmpdir("e2e-cli-more");
    if (daemon_start(&d, env) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup);
    if (!check_failed()) {
        RUN(missing_path_named_and_the_run_shown);
        RUN(snapshot_list_shows_run_and_time);
        RUN(download_create_fetches_the_bytes);
        RUN(restore_tidies_a_trailing_slash);
        RUN(recovery_cancel);
        RUN(run_cancel);
        RUN(policy_get_groups_and_update);
        RUN(group_update_and_option_names);
        RUN(cjk_names_keep_the_columns);
    }
    RUN(json_errors_are_json);
    RUN(key_and_url_messages);
    RUN(source_delete);
    RUN(every_command_has_help_with_an_example);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    free(last.out);
    free(last.err);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
