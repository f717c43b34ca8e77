/* cli_source.c: the commands about what there is to protect: `coffer source list|register|delete` over
 * /data-protect/sources/registrations (a physical host registered by its endpoint), `coffer object
 * search [TEXT]` over /data-protect/search/objects (the source objects a group protects, by id), and
 * `coffer connection list|create` over /data-source-connections. */
#include "cli/cli.h"
#include <stdlib.h>
#include <string.h>

int cli_source_list(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "ID", "NAME", "ENVIRONMENT", "ENDPOINT", "SOURCE OBJECT", "STATUS" };
    struct cli_resp r;
    struct cli_table t;
    json_t *list;
    const char *pos[1];
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 0, 0, pos, &np)) != CLI_OK) return rc;
    if ((rc = cli_call(c, "GET", "/data-protect/sources/registrations", NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    list = json_object_get(r.json, "registrations");
    cli_table_init(&t, 6, head);
    for (size_t i = 0; i < json_array_size(list) && rc == CLI_OK; i++) {
        json_t *s = json_array_get(list, i);
        char ib[32], sb[32];
        const char *cells[6] = { cli_jtext(s, "id", ib, sizeof ib), cli_jstr(s, "name"), cli_jstr(s, "environment"),
                                 cli_jstr(s, "physicalParams.endpoint"), cli_jtext(s, "sourceId", sb, sizeof sb),
                                 cli_jstr(s, "authenticationStatus") };
        rc = cli_table_row(&t, cells);
    }
    if (rc == CLI_OK) cli_table_print(&t, stdout);
    cli_table_release(&t);
    cli_resp_release(&r);
    return rc;
}

/* The API fields source register fills from its options (a 400 or 409 names the option). */
static const struct cli_field register_fields[] = {
    { "name", "--name" },
    { "physicalParams.endpoint", "--endpoint" },
    { "physicalParams.hostType", "--host-type" },
    { NULL, NULL },
};

int cli_source_register(struct cli *c, int argc, char **argv)
{
    const char *endpoint = NULL, *name = NULL, *host_type = NULL;
    const struct cli_opt opts[] = {
        { "--endpoint", CLI_OPT_STR, &endpoint },
        { "--name", CLI_OPT_STR, &name },
        { "--host-type", CLI_OPT_STR, &host_type },
        { NULL, 0, NULL },
    };
    const char *pos[1];
    struct cli_resp r;
    json_t *body;
    char ib[32], sb[32];
    int np, rc;
    c->fields = register_fields;
    if ((rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &np)) != CLI_OK) return rc;
    if (!endpoint || !*endpoint) return cli_usage_error(c, "--endpoint is required");
    if (host_type && strcmp(host_type, "kLinux") != 0 && strcmp(host_type, "kWindows") != 0)
        return cli_usage_error(c, "--host-type is kLinux or kWindows, not '%s'", host_type);
    body = json_pack("{s:s, s:s, s:{s:s}}", "environment", "kPhysical", "name", name ? name : endpoint,
                     "physicalParams", "endpoint", endpoint);
    if (!body) return cli_fail("cannot build the request (are the endpoint and name valid UTF-8?)");
    if (host_type) json_object_set_new(json_object_get(body, "physicalParams"), "hostType", json_string(host_type));
    rc = cli_call(c, "POST", "/data-protect/sources/registrations", body, &r);
    json_decref(body);
    if (rc != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
    } else {
        const char *id = cli_jtext(r.json, "id", ib, sizeof ib), *sid = cli_jtext(r.json, "sourceId", sb, sizeof sb);
        printf("registered source %s (%s)", id ? id : "?", endpoint);
        if (sid) printf(", source object %s", sid);
        putchar('\n');
    }
    cli_resp_release(&r);
    return CLI_OK;
}

int cli_source_delete(struct cli *c, int argc, char **argv)
{
    struct cli_resp r;
    const char *pos[1];
    char path[1024];
    long long id;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 1, 1, pos, &np)) != CLI_OK) return rc;
    if ((rc = cli_parse_i64(c, "the source id", pos[0], 1, 0x7fffffffffffffffLL, &id)) != CLI_OK) return rc;
    snprintf(path, sizeof path, "/data-protect/sources/registrations/%lld", id);
    if ((rc = cli_call(c, "DELETE", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        json_t *j = json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1);
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("deleted source %lld\n", id);
    }
    cli_resp_release(&r);
    return CLI_OK;
}

int cli_object_search(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "ID", "NAME", "TYPE", "ENVIRONMENT", "SOURCE", "OS" };
    const char *pos[1] = { NULL };
    char path[2048], ib[32];
    struct cli_resp r;
    struct cli_table t;
    json_t *list;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 0, 1, pos, &np)) != CLI_OK) return rc;
    if (np == 1 && pos[0][0]) {
        if (cli_path(path, sizeof path, "/data-protect/search/objects?searchString=%s", pos[0]) != 0)
            return cli_usage_error(c, "the search text is too long");
    } else {
        snprintf(path, sizeof path, "/data-protect/search/objects");
    }
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    list = json_object_get(r.json, "objects");
    cli_table_init(&t, 6, head);
    for (size_t i = 0; i < json_array_size(list) && rc == CLI_OK; i++) {
        json_t *o = json_array_get(list, i);
        const char *cells[6] = { cli_jtext(o, "id", ib, sizeof ib), cli_jstr(o, "name"), cli_jstr(o, "objectType"),
                                 cli_jstr(o, "environment"), cli_jstr(o, "sourceName"), cli_jstr(o, "osType") };
        rc = cli_table_row(&t, cells);
    }
    if (rc == CLI_OK) cli_table_print(&t, stdout);
    cli_table_release(&t);
    cli_resp_release(&r);
    return rc;
}

int cli_connection_list(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "ID", "NAME", "TYPE", "CONNECTORS" };
    struct cli_resp r;
    struct cli_table t;
    json_t *list;
    const char *pos[1];
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 0, 0, pos, &np)) != CLI_OK) return rc;
    if ((rc = cli_call(c, "GET", "/data-source-connections", NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    list = json_object_get(r.json, "connections");
    cli_table_init(&t, 4, head);
    for (size_t i = 0; i < json_array_size(list) && rc == CLI_OK; i++) {
        json_t *k = json_array_get(list, i);
        char nb[32];
        const char *cells[4] = { cli_jstr(k, "connectionId"), cli_jstr(k, "connectionName"),
                                 cli_jstr(k, "connectionEnvType"), NULL };
        snprintf(nb, sizeof nb, "%zu", json_array_size(json_object_get(k, "connectorIds")));
        cells[3] = nb;
        rc = cli_table_row(&t, cells);
    }
    if (rc == CLI_OK) cli_table_print(&t, stdout);
    cli_table_release(&t);
    cli_resp_release(&r);
    return rc;
}

int cli_connection_create(struct cli *c, int argc, char **argv)
{
    const char *env_type = NULL;
    const struct cli_opt opts[] = {
        { "--env-type", CLI_OPT_STR, &env_type },
        { NULL, 0, NULL },
    };
    const char *pos[1];
    struct cli_resp r;
    json_t *body;
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, opts, 1, 1, pos, &np)) != CLI_OK) return rc;
    if (!pos[0][0]) return cli_usage_error(c, "the connection name is empty");
    body = json_pack("{s:s}", "connectionName", pos[0]);
    if (!body) return cli_fail("cannot build the request (is the name valid UTF-8?)");
    if (env_type) json_object_set_new(body, "connectionEnvType", json_string(env_type));
    rc = cli_call(c, "POST", "/data-source-connections", body, &r);
    json_decref(body);
    if (rc != CLI_OK) return rc;
    if (c->json) cli_print_json(r.json);
    else printf("created connection %s (%s)\n", cli_jstr(r.json, "connectionId") ? cli_jstr(r.json, "connectionId") : "?", pos[0]);
    cli_resp_release(&r);
    return CLI_OK;
}
