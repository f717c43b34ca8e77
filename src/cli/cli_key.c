/* cli_key.c: `coffer key create|list|revoke` over Coffer's keys resource /v2/coffer/keys
 * (docs/operations.md, "Access: keys, roles, tenants"). A new key's secret is printed once, at
 * creation; the server never shows it again. The key's tenant is the global --tenant (COFFER_TENANT)
 * unless --cluster asks for a cluster key. */
#include "cli/cli.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* roles_text: a key's "roles" array as "Viewer,Operator" in buf. */
static const char *roles_text(json_t *k, char *buf, size_t size)
{
    json_t *roles = json_object_get(k, "roles"), *v;
    size_t i, o = 0;
    buf[0] = '\0';
    json_array_foreach(roles, i, v) {
        int n = snprintf(buf + o, size - o, "%s%s", o ? "," : "", json_string_value(v) ? json_string_value(v) : "?");
        if (n < 0 || (size_t)n >= size - o) break;
        o += (size_t)n;
    }
    return buf;
}

/* usecs_text: a time in microseconds as UTC "YYYY-MM-DD HH:MM", or NULL when absent. */
static const char *usecs_text(json_t *k, const char *field, char *buf, size_t size)
{
    json_t *v = json_object_get(k, field);
    time_t t;
    struct tm tm;
    if (!json_is_integer(v)) return NULL;
    t = (time_t)(json_integer_value(v) / 1000000);
    if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0) return NULL;
    return buf;
}

int cli_key_create(struct cli *c, int argc, char **argv)
{
    struct cli_strlist roles = { 0 };
    const char *days = NULL;
    int cluster = 0, np, rc;
    const struct cli_opt opts[] = {
        { "--role", CLI_OPT_LIST, &roles },
        { "--cluster", CLI_OPT_FLAG, &cluster },
        { "--expires-in-days", CLI_OPT_STR, &days },
        { NULL, 0, NULL },
    };
    const char *pos[1];
    struct cli_resp r;
    json_t *body, *arr;
    char rb[128];
    if ((rc = cli_parse(c, argc, argv, opts, 1, 1, pos, &np)) != CLI_OK) goto out;
    if (!pos[0][0]) {
        rc = cli_usage_error(c, "the key name is empty");
        goto out;
    }
    if (roles.n == 0) {
        rc = cli_usage_error(c, "give at least one --role (Viewer, Operator, Admin, DataSecurity, Agent)");
        goto out;
    }
    body = json_pack("{s:s}", "name", pos[0]);
    arr = json_array();
    if (!body || !arr) {
        json_decref(body);
        json_decref(arr);
        rc = cli_fail("cannot build the request (is the name valid UTF-8?)");
        goto out;
    }
    for (size_t i = 0; i < roles.n; i++) json_array_append_new(arr, json_string(roles.items[i]));
    json_object_set_new(body, "roles", arr);
    if (cluster) json_object_set_new(body, "cluster", json_true());
    else json_object_set_new(body, "tenantId", json_string(c->tenant));
    if (days) {
        long long d;
        if ((rc = cli_parse_i64(c, "--expires-in-days", days, 1, 36500, &d)) != CLI_OK) {
            json_decref(body);
            goto out;
        }
        json_object_set_new(body, "expiresAtUsecs", json_integer(((long long)time(NULL) + d * 86400) * 1000000));
    }
    rc = cli_call(c, "POST", "/coffer/keys", body, &r);
    json_decref(body);
    if (rc != CLI_OK) goto out;
    if (c->json) {
        cli_print_json(r.json);
    } else {
        printf("created key %s (%s) for %s%s with roles %s\n", cli_jstr(r.json, "id") ? cli_jstr(r.json, "id") : "?",
               pos[0], cluster ? "the cluster" : "tenant ", cluster ? "" : c->tenant, roles_text(r.json, rb, sizeof rb));
        printf("secret: %s\n(shown this once: store it now; send it as 'Authorization: Bearer <secret>' or --key)\n",
               cli_jstr(r.json, "secret") ? cli_jstr(r.json, "secret") : "?");
    }
    cli_resp_release(&r);
out:
    cli_strlist_release(&roles);
    return rc;
}

int cli_key_list(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "ID", "NAME", "TENANT", "ROLES", "STATE", "EXPIRES", "LAST USED" };
    const char *tenant = NULL;
    const struct cli_opt opts[] = {
        { "--for-tenant", CLI_OPT_STR, &tenant },
        { NULL, 0, NULL },
    };
    const char *pos[1];
    char path[600];
    struct cli_resp r;
    struct cli_table t;
    json_t *list;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &np)) != CLI_OK) return rc;
    if (tenant ? cli_path(path, sizeof path, "/coffer/keys?tenantId=%s", tenant) != 0
               : cli_path(path, sizeof path, "/coffer/keys") != 0)
        return cli_usage_error(c, "the tenant is too long");
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    list = json_object_get(r.json, "keys");
    cli_table_init(&t, 7, head);
    for (size_t i = 0; i < json_array_size(list) && rc == CLI_OK; i++) {
        json_t *k = json_array_get(list, i);
        char rb[128], eb[32], ub[32];
        const char *cells[7] = { cli_jstr(k, "id"), cli_jstr(k, "name"),
                                 json_is_true(json_object_get(k, "cluster")) ? "(cluster)" : cli_jstr(k, "tenantId"),
                                 roles_text(k, rb, sizeof rb), cli_jstr(k, "state"),
                                 usecs_text(k, "expiresAtUsecs", eb, sizeof eb),
                                 usecs_text(k, "lastUsedAtUsecs", ub, sizeof ub) };
        rc = cli_table_row(&t, cells);
    }
    if (rc == CLI_OK) cli_table_print(&t, stdout);
    cli_table_release(&t);
    cli_resp_release(&r);
    return rc;
}

int cli_key_revoke(struct cli *c, int argc, char **argv)
{
    const char *pos[1];
    char path[300];
    struct cli_resp r;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 1, 1, pos, &np)) != CLI_OK) return rc;
    if (cli_path(path, sizeof path, "/coffer/keys/%s", pos[0]) != 0) return cli_usage_error(c, "the key id is too long");
    if ((rc = cli_call(c, "DELETE", path, NULL, &r)) != CLI_OK) return rc;
    cli_resp_release(&r);
    printf("revoked key %s (refused from the next request on)\n", pos[0]);
    return CLI_OK;
}
