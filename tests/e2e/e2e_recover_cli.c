/* e2e_recover_cli.c: `coffer run`, `coffer search`, `coffer restore` and `coffer download` against the
 * real daemon; and two groups backing up into the one repository at once.
 * Each test runs the CLI binary (build/asan/coffer, or $COFFER_CLI; never a non-sanitizer fallback) as a
 * subprocess with COFFER_URL and COFFER_KEY set, over a tree backed up by a run: search prints the
 * paths with the snapshot that holds them; restore --wait restores under a directory and back to the
 * original paths (with --overwrite) and exits 0 only when the recovery Succeeded; a path not in the
 * snapshot exits 1 with the server's message; download writes the archive and resumes a partial
 * file to the same bytes. Usage errors exit 2. */
#include "e2e/e2e_recover_fixture.h"
#include "e2e/clirun.h"
#include <sys/wait.h>

#define T "default" /* the CLI's default tenant */

static struct daemon d;
static char url[128], *g_tmp, src[600];
static long long host;
static char policy[128], group[128], snap[80];

static struct cli_run last; /* released by the next run, so a failed CHECK leaks nothing */

/* cli: runs the CLI with the words (NULL-terminated). */
static struct cli_run *cli(const char *first, ...)
{
    struct cli_env e = { .tmp = g_tmp, .url = url, .key = HARNESS_KEY };
    struct cli_run *r;
    va_list ap;
    va_start(ap, first);
    r = clirun_v(&last, &e, first, ap);
    va_end(ap);
    return r;
}

TEST(setup)
{
    char p[800];
    snprintf(url, sizeof url, "%s/v2", d.base);
    snprintf(src, sizeof src, "%s/src", g_tmp);
    CHECK(mkdir(src, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs", src);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs/big.bin", src);
    CHECK(write_random(p, 3u << 20, 0640) == 0);
    snprintf(p, sizeof p, "%s/docs/letter.txt", src);
    CHECK(write_text(p, "dear reader\n", 0644) == 0);
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
    CHECK(fx_group(&d, T, "cli-files", policy, host, src, group, sizeof group) == 0);
    CHECK(fx_run(&d, T, group, snap, sizeof snap) == 0);
    CHECK(fx_wait_indexed(&d, T, host, snap, 60));
}

/* run start --wait follows the run to its end and exits 0; run list shows it; the kRegular run
 * re-reads only what changed since the setup's run. */
TEST(run_start_wait_and_list)
{
    struct cli_run *r = cli("run", "start", group, "--wait", NULL);
    char first_id[64];
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    /* Incremental: only letter.txt, rewritten by the restore test, is read again, not the 3 MiB file. */
    CHECKF(strstr(r->out, "Succeeded") && strstr(r->out, " B read") && !strstr(r->out, "MiB read"), "%s", r->out);
    r = cli("run", "start", group, "--full", NULL);
    CHECKF(r->status == 0 && strstr(r->out, " started"), "exit %d: %s %s", r->status, r->out, r->err);
    CHECK(sscanf(r->out, "run %63s started", first_id) == 1);
    for (int i = 0; i < 600; i++) { /* wait for the kFull run to end */
        r = cli("run", "list", group, "--limit", "1", NULL);
        if (r->status != 0 || strstr(r->out, "Succeeded")) break;
        usleep(100 * 1000);
    }
    r = cli("run", "list", group, NULL);
    CHECKF(r->status == 0 && strstr(r->out, "RUN ID") && strstr(r->out, first_id) && strstr(r->out, "kFull") &&
               strstr(r->out, "kRegular"), "%s", r->out);
    r = cli("--json", "run", "list", group, NULL);
    CHECK(r->status == 0 && strstr(r->out, "\"runs\"") != NULL);
    r = cli("run", "start", "1:2:999999", NULL);
    CHECKF(r->status == 1 && strstr(r->err, "HTTP 404"), "exit %d: %s", r->status, r->err);
    r = cli("run", "start", NULL);
    CHECK_EQ_INT(r->status, 2);
}

/* Two groups over different trees run at the same time into the one repository; both succeed and
 * both snapshots restore to their trees' bytes. */
TEST(two_groups_back_up_at_once)
{
    char dir[2][700], gid[2][128], rid[2][128], alt[700];
    long long start[2] = { 0, 0 }, end[2] = { 0, 0 };
    json_t *j = NULL;
    for (int k = 0; k < 2; k++) {
        snprintf(dir[k], sizeof dir[k], "%s/conc%d", g_tmp, k);
        CHECK(mkdir(dir[k], 0755) == 0);
        for (int i = 0; i < 6; i++) CHECK(write_random(fmt("%s/f%d.bin", dir[k], i), 4u << 20, 0644) == 0);
        CHECK(fx_group(&d, T, k ? "conc-b" : "conc-a", policy, host, dir[k], gid[k], sizeof gid[k]) == 0);
    }
    for (int k = 0; k < 2; k++) {
        struct http_resp hr;
        CHECK(call(&d, "POST", fmt(FX_GRP "/%s/runs", gid[k]), T, "{\"runType\":\"kRegular\"}", &hr) == 202);
        snprintf(rid[k], sizeof rid[k], "%s", jstr(hr.json, "runId") ? jstr(hr.json, "runId") : "");
        http_resp_release(&hr);
        CHECK(rid[k][0] != '\0');
    }
    for (int k = 0; k < 2; k++) {
        const char *status = NULL;
        char sid[80] = "";
        for (int i = 0; i < 1200; i++) {
            CHECK(get_json(&d, fmt(FX_GRP "/%s/runs/%s?includeObjectDetails=true", gid[k], rid[k]), T, &j) == 200);
            status = json_string_value(json_object_get(json_object_get(j, "localBackupInfo"), "status"));
            if (fx_finished(status)) break;
            json_decref(j);
            j = NULL;
            usleep(50 * 1000);
        }
        CHECKF(status && strcmp(status, "Succeeded") == 0, "group %d: %s", k, status ? status : "(no status)");
        /* when a worker really backed the object up (the run's own startTimeUsecs is when it was queued,
         * which would "overlap" even if one worker ran them one after the other) */
        {
            json_t *p = NULL;
            CHECK(get_json(&d, fmt("/v2/data-protect/runs/%s/progress", rid[k]), T, &p) == 200);
            start[k] = jint(p, "localRun.objects.0.startTimeUsecs");
            end[k] = jint(p, "localRun.objects.0.endTimeUsecs");
            json_decref(p);
        }
        CHECKF(start[k] > 0 && end[k] > start[k], "group %d: object start %lld end %lld", k, start[k], end[k]);
        snprintf(sid, sizeof sid, "%s", jstr(j, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId"));
        json_decref(j);
        snprintf(alt, sizeof alt, "%s/conc-restore%d", g_tmp, k);
        {
            struct cli_run *r = cli("restore", "--snapshot", sid, "--path", dir[k], "--to", alt, "--wait", NULL);
            CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
        }
        for (int i = 0; i < 6; i++)
            CHECK(files_equal(fmt("%s/f%d.bin", dir[k], i), fmt("%s/conc%d/f%d.bin", alt, k, i)));
    }
    printf("info: run a %.3f s, run b %.3f s, overlapping %.3f s\n", (double)(end[0] - start[0]) / 1e6,
           (double)(end[1] - start[1]) / 1e6,
           (double)((end[0] < end[1] ? end[0] : end[1]) - (start[0] > start[1] ? start[0] : start[1])) / 1e6);
    /* "at once": each backup began before the other ended (the API's times, not ours) */
    CHECKF(start[0] < end[1] && start[1] < end[0], "the backups did not overlap: [%lld, %lld] and [%lld, %lld]", start[0],
           end[0], start[1], end[1]);
}

TEST(search)
{
    struct cli_run *r = cli("search", "big.b", NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(strstr(r->out, "PATH") && strstr(r->out, "NEWEST SNAPSHOT"));
    CHECKF(strstr(r->out, fmt("%s/docs/big.bin", src)) != NULL, "%s", r->out);
    CHECK(strstr(r->out, snap) != NULL);
    CHECK(strstr(r->out, "3.0 MiB") != NULL);
    r = cli("search", "docs", "--type", "Directory", NULL);
    CHECK(r->status == 0 && strstr(r->out, "Directory") && !strstr(r->out, "big.bin"));
    r = cli("--json", "search", "letter", NULL);
    CHECK(r->status == 0 && strstr(r->out, "\"objectType\": \"Files\"") && strstr(r->out, "letter.txt"));
    r = cli("search", "nothing-like-this", NULL);
    CHECK(r->status == 0 && !strstr(r->out, "/docs"));
    r = cli("search", NULL);
    CHECK_EQ_INT(r->status, 2);
    r = cli("search", "x", "--type", "Pipe", NULL);
    CHECK_EQ_INT(r->status, 2);
}

TEST(restore_to_a_directory_and_back)
{
    char alt[700];
    struct cli_run *r;
    snprintf(alt, sizeof alt, "%s/alt", g_tmp);
    r = cli("restore", "--snapshot", snap, "--path", fmt("%s/docs", src), "--to", alt, "--wait", NULL);
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    CHECK(strstr(r->out, "Succeeded") != NULL);
    CHECK(files_equal(fmt("%s/docs/big.bin", src), fmt("%s/docs/big.bin", alt)));
    CHECK(files_equal(fmt("%s/docs/letter.txt", src), fmt("%s/docs/letter.txt", alt)));
    /* back to the original path, over a changed file */
    CHECK(write_text(fmt("%s/docs/letter.txt", src), "scribbled over\n", 0644) == 0);
    r = cli("restore", "--snapshot", snap, "--path", fmt("%s/docs/letter.txt", src), "--overwrite", "--wait", NULL);
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    CHECK(files_equal(fmt("%s/docs/letter.txt", src), fmt("%s/docs/letter.txt", alt)));
    /* without --wait: queued */
    r = cli("restore", "--snapshot", snap, "--path", fmt("%s/docs/letter.txt", src), "--to", fmt("%s/alt2", g_tmp), NULL);
    CHECK(r->status == 0 && strstr(r->out, "recovery ") != NULL);
}

TEST(restore_refusals)
{
    struct cli_run *r = cli("restore", "--snapshot", snap, "--path", fmt("%s/docs/missing.txt", src), "--wait", NULL);
    CHECK_EQ_INT(r->status, 1);
    CHECKF(strstr(r->err, "missing.txt") && strstr(r->err, "HTTP 404"), "%s", r->err);
    r = cli("restore", "--path", "/x", NULL);
    CHECK_EQ_INT(r->status, 2);
    r = cli("restore", "--snapshot", snap, NULL);
    CHECK_EQ_INT(r->status, 2);
    r = cli("restore", "--snapshot", snap, "--path", "/x", "--to", "relative", NULL);
    CHECK_EQ_INT(r->status, 2);
}

TEST(download_and_resume)
{
    json_t *c = NULL, *rec;
    char id[96], out[700];
    struct http_resp whole;
    struct cli_run *r;
    char *got;
    size_t n;
    CHECK(post_json(&d, FX_REC "/download-files-folders", T,
                    fmt("{'name':'cli-dl','object':{'snapshotId':'%s'},'filesAndFolders':[{'absolutePath':'%s/docs'}]}",
                        snap, src), 201, &c) == 201);
    snprintf(id, sizeof id, "%s", jstr(c, "id"));
    json_decref(c);
    rec = fx_wait_recovery(&d, T, id, 60);
    CHECK(rec != NULL && strcmp(jstr(rec, "status"), "Succeeded") == 0);
    json_decref(rec);
    CHECK(call(&d, "GET", fmt(FX_REC "/%s/download-files", id), T, NULL, &whole) == 200);
    snprintf(out, sizeof out, "%s/a.tar", g_tmp);
    r = cli("download", "--recovery", id, "-o", out, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(read_all(out, &got, &n) == 0);
    CHECK(n == whole.len && memcmp(got, whole.body, n) == 0);
    free(got);
    /* a partial file is resumed */
    CHECK(truncate(out, 1000000) == 0);
    r = cli("download", "--recovery", id, "--output", out, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(strstr(r->out, "resuming") != NULL);
    CHECK(read_all(out, &got, &n) == 0);
    CHECK(n == whole.len && memcmp(got, whole.body, n) == 0);
    free(got);
    http_resp_release(&whole);
    r = cli("download", "--recovery", id, NULL);
    CHECK_EQ_INT(r->status, 2);
    r = cli("download", "--recovery", "1:2:99999", "-o", out, NULL);
    CHECK_EQ_INT(r->status, 1);
}

int main(void)
{
    if (access(clirun_bin(), X_OK) != 0) {
        check_fail(__FILE__, __LINE__, "no CLI binary at %s (make test-bin)", clirun_bin());
        return check_finish();
    }
    g_tmp = check_tmpdir("recover-cli");
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup);
    RUN(search);
    RUN(restore_to_a_directory_and_back);
    RUN(restore_refusals);
    RUN(download_and_resume);
    RUN(run_start_wait_and_list); /* after the tests that expect the setup's snapshot to be the newest */
    RUN(two_groups_back_up_at_once);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "the daemon did not exit cleanly");
    free(last.out);
    free(last.err);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
