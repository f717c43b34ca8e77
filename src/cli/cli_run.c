/* cli_run.c: `coffer run start GROUP [--full] [--wait]` and `coffer run list GROUP`.
 *
 * start POSTs a run (kRegular, or kFull with --full) and prints its id; with --wait it polls
 * GET /data-protect/runs/{runId}/progress every half second and draws one progress line on stderr
 * (status, percent, files, bytes read, read rate) until the run ends, then prints the outcome and the
 * run's messages; the exit status is 0 only for Succeeded and SucceededWithWarning. */
#include "cli/cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int run_finished(const char *s)
{
    return s && strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0;
}

/* print_run_messages: the messages of the run's final record (GET .../runs/{runId}). */
static void print_run_messages(struct cli *c, const char *group, const char *run_id)
{
    char path[512];
    struct cli_resp r;
    json_t *msgs;
    if (cli_path(path, sizeof path, "/data-protect/protection-groups/%s/runs/%s", group, run_id) != 0) return;
    if (cli_call(c, "GET", path, NULL, &r) != CLI_OK) return;
    msgs = cli_jget(r.json, "localBackupInfo.messages");
    for (size_t i = 0; i < json_array_size(msgs); i++) printf("  %s\n", json_string_value(json_array_get(msgs, i)));
    cli_resp_release(&r);
}

static int wait_run(struct cli *c, const char *group, const char *run_id)
{
    char path[512], read_s[32], rate_s[32];
    struct cli_resp r;
    double t0 = cli_now_seconds();
    int rc, tty = isatty(2);
    if (cli_path(path, sizeof path, "/data-protect/runs/%s/progress", run_id) != 0) return cli_fail("run id too long");
    for (;;) {
        const char *status;
        long long files, bytes;
        double pct, secs;
        if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
        status = cli_jstr(r.json, "localRun.cofferStats.runStatus");
        files = json_integer_value(cli_jget(r.json, "localRun.cofferStats.files"));
        bytes = json_integer_value(cli_jget(r.json, "localRun.cofferStats.bytesRead"));
        pct = json_number_value(cli_jget(r.json, "localRun.percentageCompleted"));
        secs = cli_now_seconds() - t0;
        cli_human_bytes(bytes, read_s, sizeof read_s);
        cli_human_bytes(secs > 0.1 ? (long long)(bytes / secs) : 0, rate_s, sizeof rate_s);
        if (tty)
            fprintf(stderr, "\r%-22s %5.1f%%  %lld files  %s read  %s/s   ", status ? status : "?", pct, files,
                    read_s, rate_s);
        if (run_finished(status)) {
            int ok = strcmp(status, "Succeeded") == 0 || strcmp(status, "SucceededWithWarning") == 0;
            if (tty) fputc('\n', stderr);
            if (c->json) {
                cli_print_json(r.json);
            } else {
                printf("run %s %s: %lld files, %s read in %.1f s\n", run_id, status, files, read_s, secs);
                print_run_messages(c, group, run_id);
            }
            cli_resp_release(&r);
            return ok ? CLI_OK : CLI_FAIL;
        }
        cli_resp_release(&r);
        usleep(500 * 1000);
    }
}

int cli_run_start(struct cli *c, int argc, char **argv)
{
    const char *pos[1];
    int full = 0, wait = 0, np, rc;
    const struct cli_opt opts[] = {
        { "--full", CLI_OPT_FLAG, &full },
        { "--wait", CLI_OPT_FLAG, &wait },
        { NULL, 0, NULL },
    };
    char path[512], run_id[128];
    struct cli_resp r;
    json_t *body;
    if ((rc = cli_parse(c, argc, argv, opts, 1, 1, pos, &np)) != CLI_OK) return rc;
    if (cli_path(path, sizeof path, "/data-protect/protection-groups/%s/runs", pos[0]) != 0)
        return cli_usage_error(c, "group id too long");
    body = json_pack("{s:s}", "runType", full ? "kFull" : "kRegular");
    rc = cli_call(c, "POST", path, body, &r);
    json_decref(body);
    if (rc != CLI_OK) return rc;
    if (!cli_jstr(r.json, "runId")) {
        cli_resp_release(&r);
        return cli_fail("the server accepted the run but did not say its id");
    }
    snprintf(run_id, sizeof run_id, "%s", cli_jstr(r.json, "runId"));
    if (!wait) {
        if (c->json) cli_print_json(r.json);
        else printf("run %s started (follow it with: coffer run list %s)\n", run_id, pos[0]);
    }
    cli_resp_release(&r);
    return wait ? wait_run(c, pos[0], run_id) : CLI_OK;
}

int cli_run_list(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "RUN ID", "TYPE", "STATUS", "STARTED (usecs)", "SECONDS", "READ", "WRITTEN" };
    const char *pos[1], *limit_s = NULL;
    const struct cli_opt opts[] = { { "--limit", CLI_OPT_STR, &limit_s }, { NULL, 0, NULL } };
    long long limit = 20;
    char path[600];
    struct cli_resp r;
    struct cli_table t;
    json_t *runs, *run;
    size_t i;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, opts, 1, 1, pos, &np)) != CLI_OK) return rc;
    if (limit_s && (rc = cli_parse_i64(c, "--limit", limit_s, 1, 1000, &limit)) != CLI_OK) return rc;
    if (cli_path(path, sizeof path, "/data-protect/protection-groups/%s/runs?includeObjectDetails=false", pos[0]) != 0)
        return cli_usage_error(c, "group id too long");
    snprintf(path + strlen(path), sizeof path - strlen(path), "&numRuns=%lld", limit);
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    runs = cli_jget(r.json, "runs");
    cli_table_init(&t, 7, head);
    json_array_foreach(runs, i, run) {
        char start[32], secs[32], rd[32], wr[32];
        long long s = json_integer_value(cli_jget(run, "localBackupInfo.startTimeUsecs"));
        long long e = json_integer_value(cli_jget(run, "localBackupInfo.endTimeUsecs"));
        const char *cells[7];
        snprintf(start, sizeof start, "%lld", s);
        if (e > 0) snprintf(secs, sizeof secs, "%.1f", (double)(e - s) / 1e6);
        else snprintf(secs, sizeof secs, "-");
        cli_human_bytes(json_integer_value(cli_jget(run, "localBackupInfo.localSnapshotStats.bytesRead")), rd, sizeof rd);
        cli_human_bytes(json_integer_value(cli_jget(run, "localBackupInfo.localSnapshotStats.bytesWritten")), wr,
                        sizeof wr);
        cells[0] = cli_jstr(run, "id");
        cells[1] = cli_jstr(run, "localBackupInfo.runType");
        cells[2] = cli_jstr(run, "localBackupInfo.status");
        cells[3] = start;
        cells[4] = secs;
        cells[5] = rd;
        cells[6] = wr;
        cli_table_row(&t, cells);
    }
    cli_table_print(&t, stdout);
    cli_table_release(&t);
    cli_resp_release(&r);
    return CLI_OK;
}
