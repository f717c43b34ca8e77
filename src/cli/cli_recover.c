/* cli_recover.c: getting files back with the coffer CLI.
 *
 *   coffer search TEXT [--type File|Directory|Symlink ...] [--group ID ...] [--limit N]
 *       POST /data-protect/search/indexed-objects: matching paths with their newest snapshot (the id
 *       a restore names), how many snapshots hold them, size and group.
 *   coffer restore --snapshot ID --path P [--path P2 ...] [--to DIR] [--overwrite]
 *                  [--continue-on-error] [--host ID] [--name N] [--wait]
 *       POST /data-protect/recoveries (RecoverFiles): back to the original paths, or under DIR as
 *       DIR/<basename of P>. With --wait, a progress line (files, bytes, status) until it ends; the
 *       exit status is then 0 only when it Succeeded.
 *
 * The host a restore writes to defaults to the snapshot's own object (the server's default when no
 * recoverTarget is given). A path given with a trailing slash ("/home/a/docs/") is tidied to the
 * directory's own path, as the snapshot names it. Downloads are cli_download.c. */
#include "cli/cli.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


/* The API fields a restore fills from its options (a 400 names the option). */
static const struct cli_field restore_fields[] = {
    { "name", "--name" },
    { "physicalParams.objects.snapshotId", "--snapshot" },
    { "physicalParams.recoverFileAndFolderParams.filesAndFolders.absolutePath", "--path" },
    { "physicalParams.recoverFileAndFolderParams.physicalTargetParams.alternateRestoreDirectory", "--to" },
    { "physicalParams.recoverFileAndFolderParams.physicalTargetParams.recoverTarget.id", "--host" },
    { NULL, NULL },
};

/* ---------- search ---------- */

int cli_search(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "PATH", "TYPE", "SIZE", "SNAPSHOTS", "NEWEST SNAPSHOT", "GROUP" };
    struct cli_strlist types = { 0 }, groups = { 0 };
    const char *limit_s = NULL, *pos[1] = { NULL };
    const struct cli_opt opts[] = {
        { "--type", CLI_OPT_LIST, &types },
        { "--group", CLI_OPT_LIST, &groups },
        { "--limit", CLI_OPT_STR, &limit_s },
        { NULL, 0, NULL },
    };
    long long limit = 100;
    struct cli_resp r;
    struct cli_table t;
    json_t *body = NULL, *files;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, opts, 1, 1, pos, &np)) != CLI_OK) goto out;
    if (limit_s && (rc = cli_parse_i64(c, "--limit", limit_s, 1, 1000, &limit)) != CLI_OK) goto out;
    for (size_t i = 0; i < types.n; i++) {
        if (strcmp(types.items[i], "File") != 0 && strcmp(types.items[i], "Directory") != 0 &&
            strcmp(types.items[i], "Symlink") != 0) {
            rc = cli_usage_error(c, "--type is File, Directory or Symlink, not '%s'", types.items[i]);
            goto out;
        }
    }
    body = json_pack("{s:s,s:I,s:{s:s}}", "objectType", "Files", "count", (json_int_t)limit, "fileParams",
                     "searchString", pos[0]);
    if (!body) {
        rc = cli_fail("cannot build the request (is the text valid UTF-8?)");
        goto out;
    }
    if (types.n) {
        json_t *a = json_array();
        for (size_t i = 0; i < types.n; i++) json_array_append_new(a, json_string(types.items[i]));
        json_object_set_new(json_object_get(body, "fileParams"), "types", a);
    }
    if (groups.n) {
        json_t *a = json_array();
        for (size_t i = 0; i < groups.n; i++) json_array_append_new(a, json_string(groups.items[i]));
        json_object_set_new(body, "protectionGroupIds", a);
    }
    if ((rc = cli_call(c, "POST", "/data-protect/search/indexed-objects", body, &r)) != CLI_OK) goto out;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        goto out;
    }
    files = json_object_get(r.json, "files");
    cli_table_init(&t, 6, head);
    for (size_t i = 0; i < json_array_size(files) && rc == CLI_OK; i++) {
        json_t *f = json_array_get(files, i), *snaps = json_object_get(f, "snapshots");
        char size[32] = "-", ns[16];
        json_t *sz = cli_jget(json_array_get(snaps, 0), "sizeBytes");
        const char *type = cli_jstr(f, "type");
        if (json_is_integer(sz) && type && strcmp(type, "File") == 0) cli_human_bytes(json_integer_value(sz), size, sizeof size);
        snprintf(ns, sizeof ns, "%zu", json_array_size(snaps));
        const char *cells[6] = { cli_jstr(f, "path"), type, size, ns,
                                 cli_jstr(json_array_get(snaps, 0), "snapshotId"), cli_jstr(f, "protectionGroupName") };
        rc = cli_table_row(&t, cells);
    }
    if (rc == CLI_OK) {
        cli_table_print(&t, stdout);
        if (cli_jget(r.json, "paginationCookie"))
            printf("(the first %zu of %lld or more matches: narrow the text or raise --limit)\n", json_array_size(files),
                   (long long)json_integer_value(cli_jget(r.json, "count")));
    }
    cli_table_release(&t);
    cli_resp_release(&r);
out:
    json_decref(body);
    cli_strlist_release(&types);
    cli_strlist_release(&groups);
    return rc;
}

/* ---------- restore ---------- */

int cli_restore(struct cli *c, int argc, char **argv)
{
    struct cli_strlist paths = { 0 };
    const char *snap = NULL, *to = NULL, *host_s = NULL, *name = NULL, *pos[1];
    int overwrite = 0, coe = 0, wait = 0, np, rc;
    const struct cli_opt opts[] = {
        { "--snapshot", CLI_OPT_STR, &snap },
        { "--path", CLI_OPT_LIST, &paths },
        { "--to", CLI_OPT_STR, &to },
        { "--overwrite", CLI_OPT_FLAG, &overwrite },
        { "--continue-on-error", CLI_OPT_FLAG, &coe },
        { "--host", CLI_OPT_STR, &host_s },
        { "--name", CLI_OPT_STR, &name },
        { "--wait", CLI_OPT_FLAG, &wait },
        { NULL, 0, NULL },
    };
    json_t *body = NULL, *items, *ptp;
    struct cli_resp r;
    char id[128], defname[64];
    long long host = 0;
    c->fields = restore_fields;
    if ((rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &np)) != CLI_OK) goto out;
    if (!snap || !*snap) {
        rc = cli_usage_error(c, "--snapshot is required (coffer search shows snapshot ids)");
        goto out;
    }
    if (paths.n == 0) {
        rc = cli_usage_error(c, "at least one --path is required");
        goto out;
    }
    if (host_s && (rc = cli_parse_i64(c, "--host", host_s, 1, INT64_MAX, &host)) != CLI_OK) goto out;
    if (to && to[0] != '/') {
        rc = cli_usage_error(c, "--to must be an absolute directory, not '%s'", to);
        goto out;
    }
    items = json_array();
    for (size_t i = 0; i < paths.n; i++) {
        cli_tidy_path((char *)paths.items[i]);
        json_array_append_new(items, json_pack("{s:s}", "absolutePath", paths.items[i]));
    }
    ptp = json_pack("{s:b,s:b}", "overwriteExisting", overwrite, "continueOnError", coe);
    if (to) json_object_set_new(ptp, "alternateRestoreDirectory", json_string(to));
    else json_object_set_new(ptp, "restoreToOriginalPaths", json_true());
    if (host) json_object_set_new(ptp, "recoverTarget", json_pack("{s:I}", "id", (json_int_t)host));
    snprintf(defname, sizeof defname, "coffer-restore-%lld", (long long)time(NULL));
    body = json_pack("{s:s,s:s,s:{s:[{s:s}],s:s,s:{s:o,s:s,s:o}}}", "name", name ? name : defname,
                     "snapshotEnvironment", "kPhysical", "physicalParams", "objects", "snapshotId", snap,
                     "recoveryAction", "RecoverFiles", "recoverFileAndFolderParams", "filesAndFolders", items,
                     "targetEnvironment", "kPhysical", "physicalTargetParams", ptp);
    if (!body) {
        rc = cli_fail("cannot build the request (are the paths valid UTF-8?)");
        goto out;
    }
    if ((rc = cli_call(c, "POST", "/data-protect/recoveries", body, &r)) != CLI_OK) goto out;
    snprintf(id, sizeof id, "%s", cli_jstr(r.json, "id") ? cli_jstr(r.json, "id") : "");
    if (!wait) {
        if (c->json) cli_print_json(r.json);
        else printf("recovery %s %s\n", id, cli_jstr(r.json, "status") ? cli_jstr(r.json, "status") : "queued");
        cli_resp_release(&r);
        goto out;
    }
    cli_resp_release(&r);
    if (!c->json) printf("recovery %s queued\n", id);
    rc = cli_recovery_wait(c, id, 0);
out:
    json_decref(body);
    cli_strlist_release(&paths);
    return rc;
}

