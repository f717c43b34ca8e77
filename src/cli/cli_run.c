/* cli_run.c: `coffer run start GROUP [--full] [--wait]`, `coffer run list GROUP` and `coffer run cancel
 * GROUP RUN`.
 *
 * start POSTs a run (kRegular, or kFull with --full) and prints its id; with --wait it polls
 * GET /data-protect/runs/{runId}/progress every half second and draws one progress line on stderr
 * (status, percent, files, bytes read, read rate) until the run ends, then prints the outcome with the
 * run's own duration (its start and end times, not how long we polled) and the run's messages; the
 * exit status is 0 only for Succeeded and SucceededWithWarning. list shows start times as local dates
 * and the snapshot each run made (includeObjectDetails); cancel is the runs/actions Cancel action. */
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

/* print_run_end: the summary line of a finished run from its final record (GET .../runs/{runId}): its
 * duration from its own start and end times, then its messages. */
static void print_run_end(struct cli *c, const char *group, const char *run_id, const char *status, long long files,
                          const char *read_s, double polled)
{
    char path[512], tb[32];
    struct cli_resp r;
    json_t *msgs = NULL;
    long long s = 0, e = 0;
    int have = cli_path(path, sizeof path, "/data-protect/protection-groups/%s/runs/%s", group, run_id) == 0 &&
               cli_call(c, "GET", path, NULL, &r) == CLI_OK;
    if (have) {
        s = json_integer_value(cli_jget(r.json, "localBackupInfo.startTimeUsecs"));
        e = json_integer_value(cli_jget(r.json, "localBackupInfo.endTimeUsecs"));
        msgs = cli_jget(r.json, "localBackupInfo.messages");
    }
    if (s > 0 && e >= s)
        printf("run %s %s: %lld files, %s read in %.1f s (started %s)\n", run_id, status, files, read_s,
               (double)(e - s) / 1e6, cli_time_text(s, tb, sizeof tb) ? tb : "-");
    else
        printf("run %s %s: %lld files, %s read (followed for %.1f s)\n", run_id, status, files, read_s, polled);
    for (size_t i = 0; i < json_array_size(msgs); i++) printf("  %s\n", json_string_value(json_array_get(msgs, i)));
    if (have) cli_resp_release(&r);
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
                print_run_end(c, group, run_id, status, files, read_s, secs);
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

/* run_snapshot: the snapshot the run made of its first object, with "+N" when it made more. */
static const char *run_snapshot(json_t *run, char *buf, size_t size)
{
    json_t *objs = json_object_get(run, "objects");
    const char *first = NULL;
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(objs); i++) {
        const char *id = cli_jstr(json_array_get(objs, i), "localSnapshotInfo.snapshotInfo.snapshotId");
        if (!id) continue;
        if (!first) first = id;
        n++;
    }
    if (!first) return NULL;
    if (n == 1) return first;
    snprintf(buf, size, "%s +%zu", first, n - 1);
    return buf;
}

int cli_run_list(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "RUN ID", "TYPE", "STATUS", "STARTED", "SECONDS", "READ", "WRITTEN",
                                        "SNAPSHOT" };
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
    if (cli_path(path, sizeof path, "/data-protect/protection-groups/%s/runs?includeObjectDetails=true", pos[0]) != 0)
        return cli_usage_error(c, "group id too long");
    snprintf(path + strlen(path), sizeof path - strlen(path), "&numRuns=%lld", limit);
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    runs = cli_jget(r.json, "runs");
    cli_table_init(&t, 8, head);
    json_array_foreach(runs, i, run) {
        char start[32], secs[32], rd[32], wr[32], sn[160];
        long long s = json_integer_value(cli_jget(run, "localBackupInfo.startTimeUsecs"));
        long long e = json_integer_value(cli_jget(run, "localBackupInfo.endTimeUsecs"));
        const char *cells[8];
        if (e > 0) snprintf(secs, sizeof secs, "%.1f", (double)(e - s) / 1e6);
        else snprintf(secs, sizeof secs, "-");
        cli_human_bytes(json_integer_value(cli_jget(run, "localBackupInfo.localSnapshotStats.bytesRead")), rd, sizeof rd);
        cli_human_bytes(json_integer_value(cli_jget(run, "localBackupInfo.localSnapshotStats.bytesWritten")), wr,
                        sizeof wr);
        cells[0] = cli_jstr(run, "id");
        cells[1] = cli_jstr(run, "localBackupInfo.runType");
        cells[2] = cli_jstr(run, "localBackupInfo.status");
        cells[3] = cli_time_text(s, start, sizeof start);
        cells[4] = secs;
        cells[5] = rd;
        cells[6] = wr;
        cells[7] = run_snapshot(run, sn, sizeof sn);
        if ((rc = cli_table_row(&t, cells)) != CLI_OK) break;
    }
    if (rc == CLI_OK) cli_table_print(&t, stdout);
    cli_table_release(&t);
    cli_resp_release(&r);
    return rc;
}

int cli_run_cancel(struct cli *c, int argc, char **argv)
{
    const char *pos[2];
    char path[600];
    struct cli_resp r;
    json_t *body;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 2, 2, pos, &np)) != CLI_OK) return rc;
    if (cli_path(path, sizeof path, "/data-protect/protection-groups/%s/runs/actions", pos[0]) != 0)
        return cli_usage_error(c, "group id too long");
    body = json_pack("{s:s,s:[{s:s}]}", "action", "Cancel", "cancelParams", "runId", pos[1]);
    if (!body) return cli_fail("cannot build the request (is the run id valid UTF-8?)");
    rc = cli_call(c, "POST", path, body, &r);
    json_decref(body);
    if (rc != CLI_OK) return rc;
    if (c->json) cli_print_json(r.json);
    else printf("cancel of run %s requested (it stops at its next safe point; coffer run list %s shows it)\n",
                pos[1], pos[0]);
    cli_resp_release(&r);
    return CLI_OK;
}
