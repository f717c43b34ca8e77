/* cli_group.c: `coffer group list|get|create|pause|resume|delete`, over
 * /data-protect/protection-groups. A group made here protects files of one physical source object
 * (kPhysical, protectionType kFile): each --path is an included path and each --exclude goes to the
 * included path it lies under. The API has no pause call of its own: pause and resume read the
 * group, then PUT it back (only the fields of the update request) with isPaused changed. */
#include "cli/cli.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *state_text(json_t *g)
{
    if (json_is_true(json_object_get(g, "isDeleted"))) return "deleted";
    if (json_is_true(json_object_get(g, "isPaused"))) return "paused";
    if (json_is_false(json_object_get(g, "isActive"))) return "inactive";
    return "active";
}

/* policy_name: the name of policy id in a ProtectionPoliciesResponse, else the id itself. */
static const char *policy_name(json_t *policies, const char *id)
{
    json_t *list = json_object_get(policies, "policies");
    for (size_t i = 0; id && i < json_array_size(list); i++) {
        json_t *p = json_array_get(list, i);
        const char *pid = cli_jstr(p, "id"), *name = cli_jstr(p, "name");
        if (pid && name && strcmp(pid, id) == 0) return name;
    }
    return id;
}

static int group_path(struct cli *c, char *buf, size_t size, const char *id)
{
    if (cli_path(buf, size, "/data-protect/protection-groups/%s", id) != 0)
        return cli_usage_error(c, "the group id is too long");
    return CLI_OK;
}

int cli_group_list(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "ID", "NAME", "POLICY", "ENVIRONMENT", "STATE", "LAST RUN" };
    struct cli_resp r, pr;
    int have_policies = 0;
    struct cli_table t;
    json_t *list;
    const char *pos[1];
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 0, 0, pos, &np)) != CLI_OK) return rc;
    rc = cli_call(c, "GET", "/data-protect/protection-groups?includeLastRunInfo=true", NULL, &r);
    if (rc != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    list = json_object_get(r.json, "protectionGroups");
    /* people read policy names, not ids: one more call; a policy it cannot name shows its id */
    if (json_array_size(list) > 0) {
        if (cli_call(c, "GET", "/data-protect/policies", NULL, &pr) == CLI_OK) have_policies = 1;
    }
    cli_table_init(&t, 6, head);
    for (size_t i = 0; i < json_array_size(list) && rc == CLI_OK; i++) {
        json_t *g = json_array_get(list, i);
        const char *cells[6] = { cli_jstr(g, "id"), cli_jstr(g, "name"),
                                 policy_name(have_policies ? pr.json : NULL, cli_jstr(g, "policyId")),
                                 cli_jstr(g, "environment"), state_text(g),
                                 cli_jstr(g, "lastRun.localBackupInfo.status") };
        rc = cli_table_row(&t, cells);
    }
    if (rc == CLI_OK) cli_table_print(&t, stdout);
    cli_table_release(&t);
    if (have_policies) cli_resp_release(&pr);
    cli_resp_release(&r);
    return rc;
}

int cli_group_get(struct cli *c, int argc, char **argv)
{
    struct cli_resp r;
    const char *pos[1];
    char path[1024];
    json_t *objs;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 1, 1, pos, &np)) != CLI_OK) return rc;
    if ((rc = group_path(c, path, sizeof path, pos[0])) != CLI_OK) return rc;
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    cli_kv("ID:", cli_jstr(r.json, "id"));
    cli_kv("Name:", cli_jstr(r.json, "name"));
    cli_kv("Description:", cli_jstr(r.json, "description"));
    cli_kv("Policy:", cli_jstr(r.json, "policyId"));
    cli_kv("Environment:", cli_jstr(r.json, "environment"));
    cli_kv("State:", state_text(r.json));
    cli_kv("Last run:", cli_jstr(r.json, "lastRun.localBackupInfo.status"));
    objs = cli_jget(r.json, "physicalParams.fileProtectionTypeParams.objects");
    for (size_t i = 0; i < json_array_size(objs); i++) {
        json_t *o = json_array_get(objs, i), *paths = json_object_get(o, "filePaths");
        char ib[32], line[512];
        const char *name = cli_jstr(o, "name");
        snprintf(line, sizeof line, "%s%s%s%s", cli_jtext(o, "id", ib, sizeof ib) ? ib : "?",
                 name ? " (" : "", name ? name : "", name ? ")" : "");
        cli_kv("Object:", line);
        for (size_t k = 0; k < json_array_size(paths); k++) {
            json_t *p = json_array_get(paths, k), *ex = json_object_get(p, "excludedPaths");
            cli_kv("  Path:", cli_jstr(p, "includedPath"));
            for (size_t e = 0; e < json_array_size(ex); e++)
                cli_kv("    Exclude:", json_string_value(json_array_get(ex, e)));
        }
    }
    cli_resp_release(&r);
    return CLI_OK;
}

/* under: is path inside (or equal to) dir? Both absolute; "/x" contains "/x/y" but not "/xy". */
static int under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (strncmp(path, dir, n) != 0) return 0;
    return path[n] == '\0' || path[n] == '/' || (n == 1 && dir[0] == '/');
}

static json_t *build_group(struct cli *c, const char *name, const char *policy, long long object,
                           const char *desc, const struct cli_strlist *paths, const struct cli_strlist *excl,
                           int *rc)
{
    json_t *fps = json_array(), *body;
    *rc = CLI_OK;
    for (size_t i = 0; i < excl->n && *rc == CLI_OK; i++) {
        size_t k = 0;
        while (k < paths->n && !under(excl->items[i], paths->items[k])) k++;
        if (k == paths->n) *rc = cli_usage_error(c, "--exclude %s is not under any --path", excl->items[i]);
    }
    for (size_t k = 0; k < paths->n && *rc == CLI_OK; k++) {
        json_t *ex = json_array(), *fp;
        if (paths->items[k][0] != '/') *rc = cli_usage_error(c, "--path %s is not absolute", paths->items[k]);
        for (size_t i = 0; i < excl->n; i++)
            if (under(excl->items[i], paths->items[k])) json_array_append_new(ex, json_string(excl->items[i]));
        fp = json_pack("{s:s}", "includedPath", paths->items[k]);
        /* an empty list is left out, as the SDK's omitempty does */
        if (fp && json_array_size(ex) > 0) json_object_set(fp, "excludedPaths", ex);
        json_decref(ex);
        if (!fp || json_array_append_new(fps, fp) != 0) *rc = cli_fail("cannot build the request (are the paths valid UTF-8?)");
    }
    if (*rc != CLI_OK) {
        json_decref(fps);
        return NULL;
    }
    body = json_pack("{s:s, s:s, s:s, s:{s:s, s:{s:[{s:I, s:o}]}}}",
                     "name", name, "policyId", policy, "environment", "kPhysical",
                     "physicalParams", "protectionType", "kFile", "fileProtectionTypeParams", "objects",
                     "id", (json_int_t)object, "filePaths", fps);
    if (!body) {
        *rc = cli_fail("cannot build the request (are the name and policy valid UTF-8?)");
        return NULL;
    }
    if (desc && json_object_set_new(body, "description", json_string(desc)) != 0) {
        json_decref(body);
        *rc = cli_fail("cannot build the request (is the description valid UTF-8?)");
        return NULL;
    }
    return body;
}

int cli_group_create(struct cli *c, int argc, char **argv)
{
    const char *name = NULL, *policy = NULL, *object_s = NULL, *desc = NULL;
    struct cli_strlist paths = { 0 }, excl = { 0 };
    const struct cli_opt opts[] = {
        { "--name", CLI_OPT_STR, &name },
        { "--policy", CLI_OPT_STR, &policy },
        { "--source-object", CLI_OPT_STR, &object_s },
        { "--description", CLI_OPT_STR, &desc },
        { "--path", CLI_OPT_LIST, &paths },
        { "--exclude", CLI_OPT_LIST, &excl },
        { NULL, 0, NULL },
    };
    const char *pos[1];
    long long object = 0;
    struct cli_resp r;
    json_t *body = NULL;
    int np, rc;
    rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &np);
    if (rc == CLI_OK && (!name || !*name)) rc = cli_usage_error(c, "--name is required");
    if (rc == CLI_OK && (!policy || !*policy)) rc = cli_usage_error(c, "--policy is required");
    if (rc == CLI_OK && !object_s) rc = cli_usage_error(c, "--source-object is required");
    if (rc == CLI_OK) rc = cli_parse_i64(c, "--source-object", object_s, 0, INT64_MAX, &object);
    if (rc == CLI_OK && paths.n == 0) rc = cli_usage_error(c, "at least one --path is required");
    if (rc == CLI_OK) body = build_group(c, name, policy, object, desc, &paths, &excl, &rc);
    cli_strlist_release(&paths);
    cli_strlist_release(&excl);
    if (rc != CLI_OK) return rc;
    rc = cli_call(c, "POST", "/data-protect/protection-groups", body, &r);
    json_decref(body);
    if (rc != CLI_OK) return rc;
    if (c->json) cli_print_json(r.json);
    else printf("created group %s (%s)\n", cli_jstr(r.json, "id") ? cli_jstr(r.json, "id") : "?", name);
    cli_resp_release(&r);
    return CLI_OK;
}

/* The fields of the update request (UpdateProtectionGroup); everything else in a group is the
 * server's to say. */
static const char *const update_fields[] = {
    "name", "policyId", "environment", "priority", "description", "startTime", "endTimeUsecs",
    "lastModifiedTimestampUsecs", "alertPolicy", "sla", "qosPolicy", "abortInBlackouts", "pauseInBlackouts",
    "isPaused", "advancedConfigs", "physicalParams", "mssqlParams", "kubernetesParams",
};

static int set_paused(struct cli *c, int argc, char **argv, int paused)
{
    struct cli_resp r, u;
    const char *pos[1];
    char path[1024];
    json_t *body;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 1, 1, pos, &np)) != CLI_OK) return rc;
    if ((rc = group_path(c, path, sizeof path, pos[0])) != CLI_OK) return rc;
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    body = json_object();
    for (size_t i = 0; body && i < sizeof update_fields / sizeof update_fields[0]; i++) {
        json_t *v = json_object_get(r.json, update_fields[i]);
        if (v && !json_is_null(v)) json_object_set(body, update_fields[i], v);
    }
    cli_resp_release(&r);
    if (!body || json_object_set_new(body, "isPaused", json_boolean(paused)) != 0) {
        json_decref(body);
        return cli_fail("out of memory");
    }
    rc = cli_call(c, "PUT", path, body, &u);
    json_decref(body);
    if (rc != CLI_OK) return rc;
    if (c->json) cli_print_json(u.json);
    else printf("%s group %s\n", paused ? "paused" : "resumed", pos[0]);
    cli_resp_release(&u);
    return CLI_OK;
}

int cli_group_pause(struct cli *c, int argc, char **argv) { return set_paused(c, argc, argv, 1); }
int cli_group_resume(struct cli *c, int argc, char **argv) { return set_paused(c, argc, argv, 0); }

int cli_group_delete(struct cli *c, int argc, char **argv)
{
    struct cli_resp r;
    const char *pos[1];
    char path[1024];
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 1, 1, pos, &np)) != CLI_OK) return rc;
    if ((rc = group_path(c, path, sizeof path, pos[0])) != CLI_OK) return rc;
    if ((rc = cli_call(c, "DELETE", path, NULL, &r)) != CLI_OK) return rc;
    if (!c->json) printf("deleted group %s\n", pos[0]);
    cli_resp_release(&r);
    return CLI_OK;
}
