/* cli_prune.c: `coffer prune [--dry-run] [--no-wait] [--timeout SECS]` and `coffer repo stats`
 * (snapshots, logical and stored bytes, dedup ratio, packs, garbage, last prune, last verify)
 * (Coffer extension endpoints, src/api/repo_ops.c).
 *
 * prune POSTs /coffer/repository/prune and, unless --no-wait, polls GET /coffer/repository/prune
 * every quarter second until that prune is the last one ended (at most --timeout seconds, default
 * 3600), then prints what it removed (with --dry-run: what it would remove): snapshots forgotten,
 * unused blobs, packs deleted and repacked, bytes freed. Exit status 0 only when it succeeded. */
#include "cli/cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static long long jint(json_t *j, const char *path) { return json_integer_value(cli_jget(j, path)); }

static void print_report(json_t *run)
{
    char b1[32], b2[32], b3[32], line[256];
    int dry = json_is_true(cli_jget(run, "dryRun"));
    cli_human_bytes(jint(run, "report.bytesFreed"), b1, sizeof b1);
    cli_human_bytes(jint(run, "report.bytes"), b2, sizeof b2);
    cli_human_bytes(jint(run, "report.bytesUnused"), b3, sizeof b3);
    printf("prune %lld %s%s\n", jint(run, "id"), dry ? "(dry run) " : "",
           cli_jstr(run, "status") ? cli_jstr(run, "status") : "?");
    snprintf(line, sizeof line, "%lld kept, %lld %sforgotten", jint(run, "report.snapshots"),
             jint(run, "report.snapshotsForgotten"), dry ? "to be " : "");
    cli_kv("Snapshots", line);
    snprintf(line, sizeof line, "%lld of %lld unused", jint(run, "report.blobsUnused"),
             jint(run, "report.blobs"));
    cli_kv("Blobs", line);
    snprintf(line, sizeof line, "%lld of %lld %sdeleted, %lld %srepacked", jint(run, "report.packsDeleted"),
             jint(run, "report.packs"), dry ? "to be " : "", jint(run, "report.packsRepacked"),
             dry ? "to be " : "");
    cli_kv("Packs", line);
    snprintf(line, sizeof line, "%s %s (%s unused of %s)", b1, dry ? "to free" : "freed", b3, b2);
    cli_kv("Bytes", line);
}

int cli_prune(struct cli *c, int argc, char **argv)
{
    int dry = 0, no_wait = 0, rc;
    const char *timeout_s = NULL;
    long long timeout = 3600, id;
    const struct cli_opt opts[] = { { "--dry-run", CLI_OPT_FLAG, &dry }, { "--no-wait", CLI_OPT_FLAG, &no_wait },
                                    { "--timeout", CLI_OPT_STR, &timeout_s }, { NULL, 0, NULL } };
    struct cli_resp r;
    json_t *body;
    json_t *last;
    int ok;
    const char *pos[1];
    int npos = 0;
    if ((rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &npos)) != CLI_OK) return rc;
    if (timeout_s && (rc = cli_parse_i64(c, "--timeout", timeout_s, 1, 86400 * 7, &timeout)) != CLI_OK) return rc;
    body = json_pack("{s:b}", "dryRun", dry);
    rc = cli_call(c, "POST", "/coffer/repository/prune", body, &r);
    json_decref(body);
    if (rc != CLI_OK) return rc;
    id = jint(r.json, "id");
    cli_resp_release(&r);
    if (no_wait) {
        printf("prune %lld queued%s\n", id, dry ? " (dry run)" : "");
        return CLI_OK;
    }
    if ((rc = cli_await_last(c, "/coffer/repository/prune", "prune", id, timeout, &last)) != CLI_OK) return rc;
    ok = cli_jstr(last, "status") && strcmp(cli_jstr(last, "status"), "Succeeded") == 0;
    if (c->json) cli_print_json(last);
    else if (ok) print_report(last);
    else cli_fail("prune %lld failed: %s", id, cli_jstr(last, "message") ? cli_jstr(last, "message") : "?");
    json_decref(last);
    return ok ? CLI_OK : CLI_FAIL;
}

int cli_repo_stats(struct cli *c, int argc, char **argv)
{
    char b1[32], b2[32], n[64];
    struct cli_resp r;
    const char *pos[1];
    int rc, npos = 0;
    if ((rc = cli_parse(c, argc, argv, (const struct cli_opt[]){ { NULL, 0, NULL } }, 0, 0, pos, &npos)) != CLI_OK)
        return rc;
    if ((rc = cli_call(c, "GET", "/coffer/repository/stats", NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
    } else {
        cli_kv("Snapshots", cli_jtext(r.json, "snapshots", n, sizeof n));
        cli_kv("Packs", cli_jtext(r.json, "packs", n, sizeof n));
        cli_kv("Blobs", cli_jtext(r.json, "blobs", n, sizeof n));
        cli_human_bytes(jint(r.json, "logicalBytes"), b1, sizeof b1);
        cli_kv("Logical", b1);
        cli_human_bytes(jint(r.json, "packBytes"), b1, sizeof b1);
        cli_kv("Stored", b1);
        if (json_is_number(cli_jget(r.json, "dedupRatio"))) {
            snprintf(n, sizeof n, "%.2f", json_number_value(cli_jget(r.json, "dedupRatio")));
            cli_kv("Dedup ratio", n);
        } else {
            cli_kv("Dedup ratio", NULL);
        }
        if (json_is_integer(cli_jget(r.json, "garbageBytes"))) {
            cli_human_bytes(jint(r.json, "garbageBytes"), b2, sizeof b2);
            snprintf(n, sizeof n, "%s (%s)", b2, cli_jstr(r.json, "garbageBytesSource") &&
                     strcmp(cli_jstr(r.json, "garbageBytesSource"), "lastDryRun") == 0
                     ? "from the last dry-run prune" : "left by the last prune");
            cli_kv("Garbage", n);
        } else {
            cli_kv("Garbage", "unknown until a prune runs (coffer prune --dry-run)");
        }
        cli_human_bytes(jint(r.json, "indexBytesInMemory"), b2, sizeof b2);
        cli_kv("Index in memory", b2);
        if (json_is_object(cli_jget(r.json, "lastPrune"))) {
            cli_human_bytes(jint(r.json, "lastPrune.report.bytesFreed"), b1, sizeof b1);
            snprintf(n, sizeof n, "%s, %s freed", cli_jstr(r.json, "lastPrune.status"), b1);
            cli_kv("Last prune", n);
        } else {
            cli_kv("Last prune", NULL);
        }
        if (json_is_object(cli_jget(r.json, "lastVerify"))) {
            snprintf(n, sizeof n, "%s, %s", cli_jstr(r.json, "lastVerify.status"),
                     json_is_true(cli_jget(r.json, "lastVerify.ok")) ? "whole" : "damage found");
            cli_kv("Last verify", n);
        } else {
            cli_kv("Last verify", NULL);
        }
    }
    cli_resp_release(&r);
    return CLI_OK;
}
