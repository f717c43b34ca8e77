/* cli_group.c: `coffer group list|get|create|update|pause|resume|delete`, over
 * /data-protect/protection-groups. A group made here protects files of one physical source object
 * (kPhysical, protectionType kFile): each --path is an included path and each --exclude goes to the
 * included path it lies under. When the source object's host is this machine (its registration is
 * served by the daemon's local agent and the service URL is a loopback address), create and update
 * check each new path here first and refuse one that does not exist, naming it (--allow-missing
 * sends it anyway). The API has no pause call of its own: pause, resume and update read the group,
 * then PUT it back (only the fields of the update request) with what changed. get asks for the last
 * run (includeLastRunInfo) and shows its status and time. */
#include "cli/cli.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The API fields a group command fills from its options (a 400 names the option). */
static const struct cli_field group_fields[] = {
    { "name", "--name" },
    { "policyId", "--policy" },
    { "description", "--description" },
    { "physicalParams.fileProtectionTypeParams.objects.id", "--source-object" },
    { "physicalParams.fileProtectionTypeParams.objects.filePaths.includedPath", "--path" },
    { "physicalParams.fileProtectionTypeParams.objects.filePaths.excludedPaths", "--exclude" },
    { NULL, NULL },
};

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
    if (strlen(path) + 32 > sizeof path) return cli_usage_error(c, "the group id is too long");
    strcat(path, "?includeLastRunInfo=true");
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    cli_kv("ID:", cli_jstr(r.json, "id"));
    cli_kv("Name:", cli_jstr(r.json, "name"));
    cli_kv("Description:", cli_jstr(r.json, "description"));
    {
        /* the policy's name beside its id (one more call; without an answer, the id alone) */
        const char *pid = cli_jstr(r.json, "policyId");
        char pp[1024], line[1200];
        struct cli_resp pr;
        int have = pid && cli_path(pp, sizeof pp, "/data-protect/policies?ids=%s", pid) == 0 &&
                   cli_call(c, "GET", pp, NULL, &pr) == CLI_OK;
        const char *pname = have ? policy_name(pr.json, pid) : pid;
        if (pid && pname && strcmp(pname, pid) != 0) snprintf(line, sizeof line, "%s (%s)", pname, pid);
        else snprintf(line, sizeof line, "%s", pid ? pid : "");
        cli_kv("Policy:", line);
        if (have) cli_resp_release(&pr);
    }
    cli_kv("Environment:", cli_jstr(r.json, "environment"));
    cli_kv("State:", state_text(r.json));
    {
        char line[256], tb[32];
        const char *st = cli_jstr(r.json, "lastRun.localBackupInfo.status");
        long long s0 = json_integer_value(cli_jget(r.json, "lastRun.localBackupInfo.startTimeUsecs"));
        long long e0 = json_integer_value(cli_jget(r.json, "lastRun.localBackupInfo.endTimeUsecs"));
        if (st) {
            int n = snprintf(line, sizeof line, "%s, started %s", st, cli_time_text(s0, tb, sizeof tb) ? tb : "-");
            if (e0 >= s0 && e0 > 0 && n > 0 && (size_t)n < sizeof line)
                snprintf(line + n, sizeof line - (size_t)n, ", %.1f s", (double)(e0 - s0) / 1e6);
            if (n > 0 && strlen(line) + 1 < sizeof line && cli_jstr(r.json, "lastRun.id"))
                snprintf(line + strlen(line), sizeof line - strlen(line), " (run %s)", cli_jstr(r.json, "lastRun.id"));
        }
        cli_kv("Last run:", st ? line : NULL);
    }
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

/* loopback: is host (a URL's host or an endpoint) this machine's loopback address? */
static int loopback(const char *h, size_t n)
{
    return (n == 9 && strncmp(h, "localhost", 9) == 0) || (n >= 4 && strncmp(h, "127.", 4) == 0) ||
           (n == 5 && strncmp(h, "[::1]", 5) == 0) || (n == 3 && strncmp(h, "::1", 3) == 0);
}

/* url_is_local: does the service URL name a loopback host (so the daemon runs on this machine)? */
static int url_is_local(const char *url)
{
    const char *h = strstr(url, "://"), *end;
    if (!h) return 0;
    h += 3;
    if (*h == '[') end = strchr(h, ']') ? strchr(h, ']') + 1 : h + strlen(h);
    else end = h + strcspn(h, ":/");
    return loopback(h, (size_t)(end - h));
}

/* object_is_local: is source object id (a host or one of its volumes) served by the daemon's local
 * agent or registered by a loopback endpoint? 0 when it cannot tell. */
static int object_is_local(struct cli *c, long long object)
{
    struct cli_resp r;
    json_t *regs;
    int local = 0;
    if (cli_call(c, "GET", "/data-protect/sources/registrations", NULL, &r) != CLI_OK) return 0;
    regs = json_object_get(r.json, "registrations");
    for (size_t i = 0; i < json_array_size(regs); i++) {
        json_t *g = json_array_get(regs, i), *kids = cli_jget(g, "sourceInfo.childObjects");
        const char *ep = cli_jstr(g, "physicalParams.endpoint"), *agent;
        int mine = json_integer_value(json_object_get(g, "sourceId")) == object;
        for (size_t k = 0; k < json_array_size(kids) && !mine; k++)
            mine = json_integer_value(json_object_get(json_array_get(kids, k), "id")) == object;
        if (!mine) continue;
        agent = cli_jstr(g, "sourceInfo.physicalProtectionSource.agent");
        local = (agent && strcmp(agent, "local") == 0) || (ep && loopback(ep, strlen(ep)));
        break;
    }
    cli_resp_release(&r);
    return local;
}

/* check_local_paths: when the object's host is this machine, every path must exist here. CLI_OK, or
 * CLI_FAIL naming the first path that does not. */
static int check_local_paths(struct cli *c, long long object, const struct cli_strlist *paths, const char *option)
{
    struct stat st;
    if (paths->n == 0 || !url_is_local(c->url) || !object_is_local(c, object)) return CLI_OK;
    for (size_t i = 0; i < paths->n; i++) {
        if (lstat(paths->items[i], &st) == 0 || errno != ENOENT) continue;
        return cli_fail("%s %s does not exist on this machine, the host of source object %lld (nothing was "
                        "changed; --allow-missing sends it anyway)", option, paths->items[i], object);
    }
    return CLI_OK;
}

int cli_group_create(struct cli *c, int argc, char **argv)
{
    const char *name = NULL, *policy = NULL, *object_s = NULL, *desc = NULL;
    struct cli_strlist paths = { 0 }, excl = { 0 };
    int allow_missing = 0;
    const struct cli_opt opts[] = {
        { "--name", CLI_OPT_STR, &name },
        { "--policy", CLI_OPT_STR, &policy },
        { "--source-object", CLI_OPT_STR, &object_s },
        { "--description", CLI_OPT_STR, &desc },
        { "--path", CLI_OPT_LIST, &paths },
        { "--exclude", CLI_OPT_LIST, &excl },
        { "--allow-missing", CLI_OPT_FLAG, &allow_missing },
        { NULL, 0, NULL },
    };
    const char *pos[1];
    long long object = 0;
    struct cli_resp r;
    json_t *body = NULL;
    int np, rc;
    c->fields = group_fields;
    rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &np);
    if (rc == CLI_OK && (!name || !*name)) rc = cli_usage_error(c, "--name is required");
    if (rc == CLI_OK && (!policy || !*policy)) rc = cli_usage_error(c, "--policy is required");
    if (rc == CLI_OK && !object_s) rc = cli_usage_error(c, "--source-object is required");
    if (rc == CLI_OK) rc = cli_parse_i64(c, "--source-object", object_s, 0, INT64_MAX, &object);
    if (rc == CLI_OK && paths.n == 0) rc = cli_usage_error(c, "at least one --path is required");
    for (size_t i = 0; rc == CLI_OK && i < paths.n; i++) cli_tidy_path((char *)paths.items[i]);
    for (size_t i = 0; rc == CLI_OK && i < excl.n; i++) cli_tidy_path((char *)excl.items[i]);
    if (rc == CLI_OK) body = build_group(c, name, policy, object, desc, &paths, &excl, &rc);
    if (rc == CLI_OK && !allow_missing) rc = check_local_paths(c, object, &paths, "--path");
    cli_strlist_release(&paths);
    cli_strlist_release(&excl);
    if (rc != CLI_OK) {
        json_decref(body);
        return rc;
    }
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
    int np, rc, snaps = 0;
    const struct cli_opt opts[] = { { "--delete-snapshots", CLI_OPT_FLAG, &snaps }, { NULL, 0, NULL } };
    if ((rc = cli_parse(c, argc, argv, opts, 1, 1, pos, &np)) != CLI_OK) return rc;
    if ((rc = group_path(c, path, sizeof path, pos[0])) != CLI_OK) return rc;
    if (snaps) {
        if (strlen(path) + 32 > sizeof path) return cli_usage_error(c, "the group id is too long");
        strcat(path, "?deleteSnapshots=true");
    }
    if ((rc = cli_call(c, "DELETE", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        json_t *j = json_pack("{s:s,s:b,s:b}", "id", pos[0], "deleted", 1, "snapshotsDeleted", snaps);
        cli_print_json(j);
        json_decref(j);
    } else printf("deleted group %s%s\n", pos[0], snaps ? " and its snapshots (those on legal hold are kept)" : "");
    cli_resp_release(&r);
    return CLI_OK;
}

/* file_paths: the filePaths array of the group's one object (borrowed), or NULL. */
static json_t *file_paths(json_t *g)
{
    return json_object_get(json_array_get(cli_jget(g, "physicalParams.fileProtectionTypeParams.objects"), 0),
                           "filePaths");
}

/* add_exclude: puts exclude x under the include path it lies in; CLI_USAGE when none. */
static int add_exclude(struct cli *c, json_t *fps, const char *x)
{
    for (size_t k = 0; k < json_array_size(fps); k++) {
        json_t *fp = json_array_get(fps, k), *ex;
        const char *inc = cli_jstr(fp, "includedPath");
        if (!inc || !under(x, inc)) continue;
        ex = json_object_get(fp, "excludedPaths");
        if (!json_is_array(ex)) {
            ex = json_array();
            json_object_set_new(fp, "excludedPaths", ex);
        }
        json_array_append_new(ex, json_string(x));
        return CLI_OK;
    }
    return cli_usage_error(c, "--exclude %s is not under any path of the group", x);
}

int cli_group_update(struct cli *c, int argc, char **argv)
{
    const char *name = NULL, *policy = NULL, *desc = NULL;
    struct cli_strlist paths = { 0 }, add = { 0 }, del = { 0 }, excl = { 0 }, fresh = { 0 };
    int allow_missing = 0;
    const struct cli_opt opts[] = {
        { "--name", CLI_OPT_STR, &name },
        { "--policy", CLI_OPT_STR, &policy },
        { "--description", CLI_OPT_STR, &desc },
        { "--path", CLI_OPT_LIST, &paths },
        { "--add-path", CLI_OPT_LIST, &add },
        { "--remove-path", CLI_OPT_LIST, &del },
        { "--exclude", CLI_OPT_LIST, &excl },
        { "--allow-missing", CLI_OPT_FLAG, &allow_missing },
        { NULL, 0, NULL },
    };
    const char *pos[1];
    char path[1024];
    struct cli_resp r = { 0 }, u;
    json_t *body = NULL, *fps;
    long long object;
    int np, rc, have = 0;
    c->fields = group_fields;
    if ((rc = cli_parse(c, argc, argv, opts, 1, 1, pos, &np)) != CLI_OK) goto out;
    if (!name && !policy && !desc && !paths.n && !add.n && !del.n && !excl.n) {
        rc = cli_usage_error(c, "nothing to change: give at least one option");
        goto out;
    }
    if (paths.n && (add.n || del.n)) {
        rc = cli_usage_error(c, "--path replaces the paths: give it without --add-path and --remove-path");
        goto out;
    }
    if ((name && !*name) || (policy && !*policy)) {
        rc = cli_usage_error(c, "--%s must not be empty", name && !*name ? "name" : "policy");
        goto out;
    }
    {
        struct cli_strlist *lists[] = { &paths, &add, &del, &excl };
        for (size_t l = 0; l < 4; l++)
            for (size_t i = 0; i < lists[l]->n; i++) {
                if (lists[l]->items[i][0] != '/') {
                    rc = cli_usage_error(c, "%s is not absolute", lists[l]->items[i]);
                    goto out;
                }
                cli_tidy_path((char *)lists[l]->items[i]);
            }
    }
    if ((rc = group_path(c, path, sizeof path, pos[0])) != CLI_OK) goto out;
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) goto out;
    have = 1;
    body = json_object();
    for (size_t i = 0; body && i < sizeof update_fields / sizeof update_fields[0]; i++) {
        json_t *v = json_object_get(r.json, update_fields[i]);
        if (v && !json_is_null(v)) json_object_set_new(body, update_fields[i], json_deep_copy(v));
    }
    if (!body) {
        rc = cli_fail("out of memory");
        goto out;
    }
    if (name) json_object_set_new(body, "name", json_string(name));
    if (policy) json_object_set_new(body, "policyId", json_string(policy));
    if (desc) json_object_set_new(body, "description", json_string(desc));
    fps = file_paths(body);
    if ((paths.n || add.n || del.n || excl.n) && !json_is_array(fps)) {
        rc = cli_fail("group %s is not a file group of one source object: change its paths through the API", pos[0]);
        goto out;
    }
    object = json_integer_value(json_object_get(json_array_get(
        cli_jget(body, "physicalParams.fileProtectionTypeParams.objects"), 0), "id"));
    if (paths.n) {
        json_array_clear(fps);
        for (size_t i = 0; i < paths.n; i++) json_array_append_new(fps, json_pack("{s:s}", "includedPath", paths.items[i]));
    }
    for (size_t i = 0; i < del.n; i++) {
        size_t k = 0;
        while (k < json_array_size(fps) && strcmp(cli_jstr(json_array_get(fps, k), "includedPath") ?
                                                  cli_jstr(json_array_get(fps, k), "includedPath") : "", del.items[i]) != 0)
            k++;
        if (k == json_array_size(fps)) {
            rc = cli_usage_error(c, "--remove-path %s is not a path of the group", del.items[i]);
            goto out;
        }
        json_array_remove(fps, k);
    }
    for (size_t i = 0; i < add.n; i++) json_array_append_new(fps, json_pack("{s:s}", "includedPath", add.items[i]));
    for (size_t i = 0; i < excl.n; i++)
        if ((rc = add_exclude(c, fps, excl.items[i])) != CLI_OK) goto out;
    if ((paths.n || add.n || del.n) && json_array_size(fps) == 0) {
        rc = cli_usage_error(c, "the group would have no path left");
        goto out;
    }
    /* the paths new to the group must exist when its host is this machine */
    fresh.items = paths.n ? paths.items : add.items;
    fresh.n = paths.n ? paths.n : add.n;
    if (!allow_missing && (rc = check_local_paths(c, object, &fresh, paths.n ? "--path" : "--add-path")) != CLI_OK)
        goto out;
    if ((rc = cli_call(c, "PUT", path, body, &u)) != CLI_OK) goto out;
    if (c->json) cli_print_json(u.json);
    else printf("updated group %s\n", pos[0]);
    cli_resp_release(&u);
out:
    if (have) cli_resp_release(&r);
    json_decref(body);
    cli_strlist_release(&paths);
    cli_strlist_release(&add);
    cli_strlist_release(&del);
    cli_strlist_release(&excl);
    return rc;
}
