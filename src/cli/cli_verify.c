/* cli_verify.c: `coffer verify [--read-data [--subset N%]] [--no-wait] [--timeout SECS]` (the Coffer
 * extension POST/GET /v2/coffer/repository/verify, src/api/repo_ops.c).
 *
 * POSTs the request and, unless --no-wait, polls GET /coffer/repository/verify every quarter second
 * until that verify is the last one ended (at most --timeout seconds, default 86400), then prints
 * what it checked and names every damaged pack and blob and the snapshots and files they hurt.
 * Exit status 0 only when the verify ran and found the repository whole. */
#include "cli/cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static long long jint(json_t *j, const char *path) { return json_integer_value(cli_jget(j, path)); }

static void print_report(json_t *run)
{
    json_t *rep = cli_jget(run, "report"), *e;
    char line[512];
    size_t i;
    int read = json_is_true(cli_jget(run, "readData"));
    int ok = json_is_true(cli_jget(rep, "ok"));
    printf("verify %lld: %s\n", jint(run, "id"), ok ? "the repository is whole" : "DAMAGE FOUND");
    snprintf(line, sizeof line, "%lld packs, %lld blobs, %lld snapshots, %lld trees walked",
             jint(rep, "packs"), jint(rep, "blobs"), jint(rep, "snapshots"), jint(rep, "trees"));
    cli_kv("Checked", line);
    if (read) {
        snprintf(line, sizeof line, "%lld packs (%lld%%), %lld blobs re-hashed", jint(rep, "packsRead"),
                 jint(rep, "subsetPercent"), jint(rep, "blobsRead"));
        cli_kv("Data read", line);
    } else {
        cli_kv("Data read", "none (structure only; --read-data re-reads every blob)");
    }
    json_array_foreach(cli_jget(rep, "errors"), i, e) {
        const char *p = cli_jstr(e, "pack"), *b = cli_jstr(e, "blob");
        printf("  damaged: %s%s%s%s: %s\n", p ? "pack " : "", p ? p : "", b ? " blob " : "", b ? b : "",
               cli_jstr(e, "message") ? cli_jstr(e, "message") : "?");
    }
    json_array_foreach(cli_jget(rep, "hurt"), i, e)
        printf("  hurts: snapshot %s path %s (blob %.16s: %s)\n", cli_jstr(e, "snapshot"),
               cli_jstr(e, "path"), cli_jstr(e, "blob") ? cli_jstr(e, "blob") : "?",
               cli_jstr(e, "problem") ? cli_jstr(e, "problem") : "?");
    if ((size_t)jint(rep, "hurtCount") > json_array_size(cli_jget(rep, "hurt")))
        printf("  ... %lld paths hurt in all\n", jint(rep, "hurtCount"));
}

int cli_verify(struct cli *c, int argc, char **argv)
{
    int read = 0, no_wait = 0, rc;
    const char *timeout_s = NULL, *subset_s = NULL;
    long long timeout = 86400, id, pct = 100;
    const struct cli_opt opts[] = { { "--read-data", CLI_OPT_FLAG, &read }, { "--subset", CLI_OPT_STR, &subset_s },
                                    { "--no-wait", CLI_OPT_FLAG, &no_wait },
                                    { "--timeout", CLI_OPT_STR, &timeout_s }, { NULL, 0, NULL } };
    struct cli_resp r;
    json_t *body;
    json_t *last;
    int ran, ok;
    const char *pos[1];
    int npos = 0;
    if ((rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &npos)) != CLI_OK) return rc;
    if (timeout_s && (rc = cli_parse_i64(c, "--timeout", timeout_s, 1, 86400 * 7, &timeout)) != CLI_OK) return rc;
    if (subset_s) {
        char num[16];
        size_t n = strlen(subset_s);
        if (!read) return cli_usage_error(c, "--subset needs --read-data");
        if (n && subset_s[n - 1] == '%') n--;
        if (n == 0 || n >= sizeof num) return cli_usage_error(c, "--subset takes a percentage, e.g. 10%%");
        memcpy(num, subset_s, n);
        num[n] = '\0';
        if ((rc = cli_parse_i64(c, "--subset", num, 1, 100, &pct)) != CLI_OK) return rc;
    }
    body = read ? json_pack("{s:b, s:I}", "readData", 1, "subsetPercent", (json_int_t)pct)
                : json_pack("{s:b}", "readData", 0);
    rc = cli_call(c, "POST", "/coffer/repository/verify", body, &r);
    json_decref(body);
    if (rc != CLI_OK) return rc;
    id = jint(r.json, "id");
    cli_resp_release(&r);
    if (no_wait) {
        printf("verify %lld queued\n", id);
        return CLI_OK;
    }
    if ((rc = cli_await_last(c, "/coffer/repository/verify", "verify", id, timeout, &last)) != CLI_OK) return rc;
    ran = cli_jstr(last, "status") && strcmp(cli_jstr(last, "status"), "Succeeded") == 0;
    ok = ran && json_is_true(cli_jget(last, "report.ok"));
    if (c->json) cli_print_json(last);
    else if (ran) print_report(last);
    else cli_fail("verify %lld failed: %s", id, cli_jstr(last, "message") ? cli_jstr(last, "message") : "?");
    json_decref(last);
    return ok ? CLI_OK : CLI_FAIL;
}
