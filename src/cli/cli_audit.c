/* cli_audit.c: `coffer audit [--since WHEN] [--all-tenants] [--key-id ID] [--resource ID] [--route PATTERN]
 * [--method M] [--status N] [--limit N (100)]` (GET /v2/coffer/audit, a Coffer extension; Admin keys).
 *
 * Lists the audit log newest first: time (UTC), key id, tenant, method, route (or the path when no
 * route matched), resource id, status. The tenant is the one in effect (--tenant, COFFER_TENANT or
 * "default", like every command); --all-tenants asks for every tenant and the cluster's own events
 * (a cluster key only). --since is a duration back from now (30s, 15m, 2h, 7d) or a UTC time
 * (2026-12-06T06:00:00Z). Pages of at most 1000 entries are followed by their nextCursor until --limit
 * entries were printed or none is left. --json prints {"entries": [...]} as the API answers them. */
#include "cli/cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUDIT_PAGE_MAX 1000
#define AUDIT_MAX_PAGES 1000 /* with --limit at most 100000, never reached */

/* since_usecs: WHEN as microseconds since the epoch, or -1. */
static long long since_usecs(const char *s)
{
    char *end;
    long long n = strtoll(s, &end, 10), unit = 0;
    struct tm tm;
    if (end != s && n >= 0 && end[0] && !end[1]) {
        switch (end[0]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return -1;
        }
        if (n > 100LL * 366 * 86400 / unit) return -1;
        return (long long)(cli_now_seconds() * 1e6) - n * unit * 1000000;
    }
    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) return -1;
    return (long long)timegm(&tm) * 1000000;
}

static void iso_time(long long usecs, char *buf, size_t size)
{
    time_t t = (time_t)(usecs / 1000000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(buf, size, "%lld", usecs);
}

/* add_query: appends "&name=value" (value percent-encoded) to path. CLI_OK or CLI_USAGE. */
static int add_query(struct cli *c, char *path, size_t size, const char *name, const char *value)
{
    size_t n = strlen(path);
    char fmtbuf[64];
    snprintf(fmtbuf, sizeof fmtbuf, "%c%s=%%s", strchr(path, '?') ? '&' : '?', name);
    if (!value) return CLI_OK;
    if (cli_path(path + n, size - n, fmtbuf, value) != 0) return cli_usage_error(c, "--%s is too long", name);
    return CLI_OK;
}

int cli_audit(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "TIME", "KEY", "TENANT", "METHOD", "ROUTE", "RESOURCE", "STATUS" };
    const char *since = NULL, *key = NULL, *resource = NULL, *route = NULL, *method = NULL, *status = NULL, *limit_s = NULL;
    int all = 0, rc = CLI_OK, npos = 0;
    const char *pos[1];
    const struct cli_opt opts[] = { { "--since", CLI_OPT_STR, &since }, { "--all-tenants", CLI_OPT_FLAG, &all },
                                    { "--key-id", CLI_OPT_STR, &key }, { "--resource", CLI_OPT_STR, &resource },
                                    { "--route", CLI_OPT_STR, &route },
                                    { "--method", CLI_OPT_STR, &method }, { "--status", CLI_OPT_STR, &status },
                                    { "--limit", CLI_OPT_STR, &limit_s }, { NULL, 0, NULL } };
    long long limit = 100, st = 0, printed = 0;
    char base[2048] = "/coffer/audit", num[32], cursor[64] = "";
    json_t *all_entries = json_array();
    struct cli_table t;
    if ((rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &npos)) != CLI_OK) goto out_json;
    if (limit_s && (rc = cli_parse_i64(c, "--limit", limit_s, 1, 100000, &limit)) != CLI_OK) goto out_json;
    if (status && (rc = cli_parse_i64(c, "--status", status, 100, 599, &st)) != CLI_OK) goto out_json;
    if (since) {
        long long us = since_usecs(since);
        if (us < 0) {
            rc = cli_usage_error(c, "--since must be a duration (30s, 15m, 2h, 7d) or a UTC time "
                                    "(2026-12-06T06:00:00Z), not '%s'", since);
            goto out_json;
        }
        snprintf(num, sizeof num, "%lld", us);
        if ((rc = add_query(c, base, sizeof base, "startTimeUsecs", num)) != CLI_OK) goto out_json;
    }
    if ((rc = add_query(c, base, sizeof base, "tenantId", all ? NULL : c->tenant)) != CLI_OK ||
        (rc = add_query(c, base, sizeof base, "keyId", key)) != CLI_OK ||
        (rc = add_query(c, base, sizeof base, "resourceId", resource)) != CLI_OK ||
        (rc = add_query(c, base, sizeof base, "route", route)) != CLI_OK ||
        (rc = add_query(c, base, sizeof base, "method", method)) != CLI_OK ||
        (rc = add_query(c, base, sizeof base, "status", status)) != CLI_OK)
        goto out_json;
    for (int page = 0; page < AUDIT_MAX_PAGES && printed < limit; page++) {
        char path[2200];
        struct cli_resp r;
        json_t *entries, *e;
        const char *next;
        size_t i;
        long long want = limit - printed > AUDIT_PAGE_MAX ? AUDIT_PAGE_MAX : limit - printed;
        snprintf(path, sizeof path, "%s%cpageSize=%lld%s%s", base, strchr(base, '?') ? '&' : '?', want,
                 cursor[0] ? "&cursor=" : "", cursor);
        if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) goto out_json;
        entries = cli_jget(r.json, "entries");
        json_array_foreach(entries, i, e) {
            if (printed >= limit) break;
            json_array_append(all_entries, e);
            printed++;
        }
        next = cli_jstr(r.json, "nextCursor");
        snprintf(cursor, sizeof cursor, "%s", next && strlen(next) < sizeof cursor ? next : "");
        cli_resp_release(&r);
        if (!cursor[0] || json_array_size(entries) == 0) break;
    }
    if (c->json) {
        json_t *o = json_pack("{s:O}", "entries", all_entries);
        cli_print_json(o);
        json_decref(o);
        goto out_json;
    }
    cli_table_init(&t, 7, head);
    {
        size_t i;
        json_t *e;
        json_array_foreach(all_entries, i, e) {
            char when[40], code[16];
            const char *cells[7];
            iso_time(json_integer_value(cli_jget(e, "timeUsecs")), when, sizeof when);
            snprintf(code, sizeof code, "%lld", (long long)json_integer_value(cli_jget(e, "status")));
            cells[0] = when;
            cells[1] = cli_jstr(e, "keyId");
            cells[2] = cli_jstr(e, "tenantId") && *cli_jstr(e, "tenantId") ? cli_jstr(e, "tenantId") : "(cluster)";
            cells[3] = cli_jstr(e, "method");
            cells[4] = cli_jstr(e, "route") ? cli_jstr(e, "route") : cli_jstr(e, "path");
            cells[5] = cli_jstr(e, "resourceId");
            cells[6] = code;
            cli_table_row(&t, cells);
        }
    }
    cli_table_print(&t, stdout);
    cli_table_release(&t);
out_json:
    json_decref(all_entries);
    return rc;
}
