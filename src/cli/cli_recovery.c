/* cli_recovery.c: `coffer recovery list|get|cancel`, over /data-protect/recoveries: the restores and
 * downloads (one list, newest first, with their times as local dates, action, status, files and
 * bytes), one recovery in detail with its messages, and the cancel action. cli_recovery_wait follows
 * a recovery until it ends (restore --wait and download create --wait use it). */
#include "cli/cli.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_POLLS_MAX (7L * 24 * 3600 * 2) /* a week of half-second polls: the wait is bounded */

static int finished(const char *s)
{
    return s && strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0 && strcmp(s, "Canceling") != 0;
}

static int recovery_path(struct cli *c, char *buf, size_t size, const char *id, const char *tail)
{
    if (cli_path(buf, size, "/data-protect/recoveries/%s", id) != 0 || strlen(buf) + strlen(tail) + 1 > size)
        return cli_usage_error(c, "the recovery id is too long");
    strcat(buf, tail);
    return CLI_OK;
}

int cli_recovery_wait(struct cli *c, const char *id, int quiet_json)
{
    char path[512], bytes[32];
    struct cli_resp r;
    int rc, tty = isatty(2);
    if ((rc = recovery_path(c, path, sizeof path, id, "")) != CLI_OK) return rc;
    for (long polls = 0; polls < WAIT_POLLS_MAX; polls++) {
        const char *status;
        long long files, b;
        if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
        status = cli_jstr(r.json, "status");
        files = json_integer_value(cli_jget(r.json, "cofferStats.files"));
        b = json_integer_value(cli_jget(r.json, "cofferStats.bytes"));
        cli_human_bytes(b, bytes, sizeof bytes);
        if (tty) fprintf(stderr, "\r%-14s %lld files, %s   ", status ? status : "?", files, bytes);
        if (finished(status)) {
            json_t *msgs = json_object_get(r.json, "messages");
            int ok = strcmp(status, "Succeeded") == 0;
            if (tty) fputc('\n', stderr);
            if (c->json) {
                if (!quiet_json) cli_print_json(r.json);
            } else {
                printf("recovery %s %s: %lld files, %s\n", id, status, files, bytes);
                for (size_t i = 0; i < json_array_size(msgs); i++)
                    printf("  %s\n", json_string_value(json_array_get(msgs, i)));
            }
            cli_resp_release(&r);
            return ok ? CLI_OK : CLI_FAIL;
        }
        cli_resp_release(&r);
        usleep(500 * 1000);
    }
    return cli_fail("recovery %s has not ended after a week of waiting (it goes on in the daemon)", id);
}

/* by_start_desc: newest first. */
static int by_start_desc(const void *a, const void *b)
{
    long long x = json_integer_value(json_object_get(*(json_t *const *)a, "startTimeUsecs"));
    long long y = json_integer_value(json_object_get(*(json_t *const *)b, "startTimeUsecs"));
    return x < y ? 1 : x > y ? -1 : 0;
}

int cli_recovery_list(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "ID", "NAME", "ACTION", "STATUS", "STARTED", "SECONDS", "FILES", "BYTES" };
    const char *pos[1], *limit_s = NULL;
    const struct cli_opt opts[] = { { "--limit", CLI_OPT_STR, &limit_s }, { NULL, 0, NULL } };
    long long limit = 50;
    struct cli_resp r;
    struct cli_table t;
    json_t *list, **v = NULL;
    size_t n;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &np)) != CLI_OK) return rc;
    if (limit_s && (rc = cli_parse_i64(c, "--limit", limit_s, 1, 100000, &limit)) != CLI_OK) return rc;
    if ((rc = cli_call(c, "GET", "/data-protect/recoveries", NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    list = json_object_get(r.json, "recoveries");
    n = json_array_size(list);
    if (n > 0 && !(v = calloc(n, sizeof *v))) {
        cli_resp_release(&r);
        return cli_fail("out of memory");
    }
    for (size_t i = 0; i < n; i++) v[i] = json_array_get(list, i);
    if (n > 1) qsort(v, n, sizeof *v, by_start_desc);
    cli_table_init(&t, 8, head);
    for (size_t i = 0; i < n && i < (size_t)limit && rc == CLI_OK; i++) {
        char st[32], secs[32] = "-", files[32], bytes[32];
        long long s = json_integer_value(json_object_get(v[i], "startTimeUsecs"));
        long long e = json_integer_value(json_object_get(v[i], "endTimeUsecs"));
        const char *action = cli_jstr(v[i], "recoveryAction");
        if (e > 0 && e >= s) snprintf(secs, sizeof secs, "%.1f", (double)(e - s) / 1e6);
        snprintf(files, sizeof files, "%lld", (long long)json_integer_value(cli_jget(v[i], "cofferStats.files")));
        cli_human_bytes(json_integer_value(cli_jget(v[i], "cofferStats.bytes")), bytes, sizeof bytes);
        const char *cells[8] = { cli_jstr(v[i], "id"), cli_jstr(v[i], "name"),
                                 action && strcmp(action, "DownloadFilesAndFolders") == 0 ? "download"
                                 : action && strcmp(action, "RecoverFiles") == 0          ? "restore"
                                                                                          : action,
                                 cli_jstr(v[i], "status"), cli_time_text(s, st, sizeof st), secs, files, bytes };
        rc = cli_table_row(&t, cells);
    }
    if (rc == CLI_OK) {
        cli_table_print(&t, stdout);
        if (n > (size_t)limit) printf("(the newest %lld of %zu: raise --limit for more)\n", limit, n);
    }
    cli_table_release(&t);
    free(v);
    cli_resp_release(&r);
    return rc;
}

int cli_recovery_get(struct cli *c, int argc, char **argv)
{
    struct cli_resp r;
    const char *pos[1];
    char path[512], tb[32], nb[32], bb[32], line[128];
    json_t *msgs, *items;
    long long s, e;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 1, 1, pos, &np)) != CLI_OK) return rc;
    if ((rc = recovery_path(c, path, sizeof path, pos[0], "")) != CLI_OK) return rc;
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    s = json_integer_value(json_object_get(r.json, "startTimeUsecs"));
    e = json_integer_value(json_object_get(r.json, "endTimeUsecs"));
    cli_kv("ID:", cli_jstr(r.json, "id"));
    cli_kv("Name:", cli_jstr(r.json, "name"));
    cli_kv("Action:", cli_jstr(r.json, "recoveryAction"));
    cli_kv("Status:", cli_jstr(r.json, "status"));
    cli_kv("Snapshot:", cli_jstr(json_array_get(cli_jget(r.json, "physicalParams.objects"), 0), "snapshotId"));
    cli_kv("Started:", cli_time_text(s, tb, sizeof tb));
    if (e > 0 && e >= s) {
        snprintf(line, sizeof line, "%s (%.1f s)", cli_time_text(e, nb, sizeof nb) ? nb : "-", (double)(e - s) / 1e6);
        cli_kv("Ended:", line);
    } else {
        cli_kv("Ended:", NULL);
    }
    cli_human_bytes(json_integer_value(cli_jget(r.json, "cofferStats.bytes")), bb, sizeof bb);
    snprintf(line, sizeof line, "%lld files, %s", (long long)json_integer_value(cli_jget(r.json, "cofferStats.files")),
             bb);
    cli_kv("Done:", line);
    if (json_is_integer(cli_jget(r.json, "cofferStats.archiveBytes"))) {
        cli_human_bytes(json_integer_value(cli_jget(r.json, "cofferStats.archiveBytes")), bb, sizeof bb);
        cli_kv("Archive:", bb);
    }
    items = cli_jget(r.json, "physicalParams.downloadFileAndFolderParams.filesAndFolders");
    if (!items) items = cli_jget(r.json, "physicalParams.recoverFileAndFolderParams.filesAndFolders");
    for (size_t i = 0; i < json_array_size(items); i++) cli_kv("Path:", cli_jstr(json_array_get(items, i), "absolutePath"));
    msgs = json_object_get(r.json, "messages");
    for (size_t i = 0; i < json_array_size(msgs); i++) cli_kv("Message:", json_string_value(json_array_get(msgs, i)));
    cli_resp_release(&r);
    return CLI_OK;
}

int cli_recovery_cancel(struct cli *c, int argc, char **argv)
{
    struct cli_resp r;
    const char *pos[1];
    char path[512];
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 1, 1, pos, &np)) != CLI_OK) return rc;
    if ((rc = recovery_path(c, path, sizeof path, pos[0], "/cancel")) != CLI_OK) return rc;
    if ((rc = cli_call(c, "POST", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        json_t *j = json_pack("{s:s,s:b}", "id", pos[0], "cancelRequested", 1);
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("cancel of recovery %s requested\n", pos[0]);
    }
    cli_resp_release(&r);
    return CLI_OK;
}
