/* pgsource.c: a PostgreSQL registered through the API for end-to-end tests (see pgsource.h). */
#include "pgsource.h"
#include <stdio.h>
#include <string.h>

long long pgsource_find(json_t *j, const char *type, const char *name)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        const char *t = json_string_value(json_object_get(j, "objectType"));
        const char *nm = json_string_value(json_object_get(j, "name"));
        if (t && strcmp(t, type) == 0 && (!name || (nm && strcmp(nm, name) == 0)) &&
            json_is_integer(json_object_get(j, "id")))
            return json_integer_value(json_object_get(j, "id"));
        json_object_foreach(j, k, v) {
            long long id = pgsource_find(v, type, name);
            if (id > 0) return id;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            long long id = pgsource_find(v, type, name);
            if (id > 0) return id;
        }
    }
    return 0;
}

int pgsource_start(struct pgsource *s, struct daemon *d, const char *tenant, int port, const char *db, char *why,
                   size_t n)
{
    struct http_resp r;
    char sql[128], path[128], body[1024];
    PGconn *c;
    int rc;
    memset(s, 0, sizeof *s);
    if (pgtest_available(why, n) != 0 || pgtest_root(&s->pg, "pgsource", "data", port, why, n) != 0 ||
        pgtest_initdb(&s->pg, why, n) != 0 || pgtest_start(&s->pg, why, n) != 0)
        return -1;
    if (!(c = pgtest_connect(&s->pg, "postgres"))) {
        snprintf(why, n, "cannot connect to the test server");
        return -1;
    }
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    rc = pgtest_exec(c, sql, why, n);
    PQfinish(c);
    if (rc != 0) return -1;
    snprintf(body, sizeof body,
             "{\"environment\":\"kSQL\",\"name\":\"pg-%d\",\"physicalParams\":{\"endpoint\":\"localhost\"},"
             "\"advancedConfigs\":[{\"key\":\"pgPort\",\"value\":\"%d\"},{\"key\":\"pgSocketDir\",\"value\":\"%s\"}]}",
             port, port, s->pg.sock);
    if (http(d, "POST", "/v2/data-protect/sources/registrations", tenant, body, &r) != 0 || r.status != 201) {
        snprintf(why, n, "registration: %ld %s", r.status, r.body ? r.body : "");
        http_resp_release(&r);
        return -1;
    }
    s->source_id = jint(r.json, "id");
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/sources/registrations/%lld", s->source_id);
    if (http(d, "GET", path, tenant, NULL, &r) != 0 || r.status != 200) {
        snprintf(why, n, "GET registration: %ld", r.status);
        http_resp_release(&r);
        return -1;
    }
    s->instance_id = pgsource_find(r.json, "kInstance", NULL);
    s->db_id = pgsource_find(r.json, "kDatabase", db);
    http_resp_release(&r);
    if (!s->instance_id || !s->db_id) {
        snprintf(why, n, "the registration has no instance or database %s object", db);
        return -1;
    }
    return 0;
}

void pgsource_stop(struct pgsource *s)
{
    pgtest_destroy(&s->pg);
}
