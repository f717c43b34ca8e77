/* cli_snapshot.c: `coffer snapshot list OBJECT [--group ID] [--limit N]`, over
 * GET /data-protect/objects/{id}/snapshots: the snapshots of one source object (the ids a restore or a
 * download names), newest first, each with the time it was taken (local), the run that made it, the
 * run's type, the group and when it expires. The API lists them oldest first: the table reverses it. */
#include "cli/cli.h"
#include <stdlib.h>
#include <string.h>

int cli_snapshot_list(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "SNAPSHOT ID", "TAKEN", "RUN", "TYPE", "GROUP", "EXPIRES" };
    const char *pos[1], *group = NULL, *limit_s = NULL;
    const struct cli_opt opts[] = {
        { "--group", CLI_OPT_STR, &group },
        { "--limit", CLI_OPT_STR, &limit_s },
        { NULL, 0, NULL },
    };
    long long object, limit = 100;
    char path[1024];
    struct cli_resp r;
    struct cli_table t;
    json_t *snaps;
    size_t n, shown = 0;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, opts, 1, 1, pos, &np)) != CLI_OK) return rc;
    if ((rc = cli_parse_i64(c, "OBJECT (a source object id: coffer object search)", pos[0], 1, 0x7fffffffffffffffLL,
                            &object)) != CLI_OK)
        return rc;
    if (limit_s && (rc = cli_parse_i64(c, "--limit", limit_s, 1, 100000, &limit)) != CLI_OK) return rc;
    snprintf(path, sizeof path, "/data-protect/objects/%lld/snapshots", object);
    if (group && cli_path(path + strlen(path), sizeof path - strlen(path), "?protectionGroupIds=%s", group) != 0)
        return cli_usage_error(c, "the group id is too long");
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    snaps = json_object_get(r.json, "snapshots");
    n = json_array_size(snaps);
    cli_table_init(&t, 6, head);
    for (size_t k = n; k > 0 && shown < (size_t)limit && rc == CLI_OK; k--, shown++) {
        json_t *s = json_array_get(snaps, k - 1);
        char taken[32], exp[32];
        const char *cells[6] = {
            cli_jstr(s, "id"),
            cli_time_text(json_integer_value(json_object_get(s, "snapshotTimestampUsecs")), taken, sizeof taken),
            cli_jstr(s, "protectionGroupRunId"),
            cli_jstr(s, "runType"),
            cli_jstr(s, "protectionGroupName") ? cli_jstr(s, "protectionGroupName") : cli_jstr(s, "protectionGroupId"),
            cli_time_text(json_integer_value(json_object_get(s, "expiryTimeUsecs")), exp, sizeof exp),
        };
        rc = cli_table_row(&t, cells);
    }
    if (rc == CLI_OK) {
        cli_table_print(&t, stdout);
        if (shown < n) printf("(the newest %zu of %zu snapshots: raise --limit for more)\n", shown, n);
    }
    cli_table_release(&t);
    cli_resp_release(&r);
    return rc;
}
