/* pg_discover.c: a registration's PostgreSQL instance into the catalog (pg_discover.h).
 *
 * Outside any transaction, the instance is asked what it holds (eng_pg_discover: version, data
 * directory, databases with owner and size, each database's tables with their size); then one
 * transaction syncs it as the kInstance subtree of the registration's host (cat_source_sync_scope
 * with scope {"kInstance"}, so the agent's volumes are untouched) and records the state. Objects:
 *   kInstance  key "pg:<port>", name "<host's name>:<port>" (the registered endpoint and port, e.g.
 *              "localhost:5432"); facts: version, version number, data directory, port, socket dir
 *   kDatabase  key and name = datname; facts: size (logical bytes), owner
 *   kTable     key and name = "schema.table"; facts: size (pg_total_relation_size)
 * all with environment kSQL (also under a kPhysical host registered with the kSQL application). The
 * message recorded for a server that cannot be reached names the socket, port and user, then the
 * server's (or libpq's) own words, e.g. "password authentication failed for user ...".
 * A host served by a coffer-agent (its root object CAT_AGENT_REMOTE) is not asked from here: the
 * instance on the registration's port is taken from what the agent reported in its heartbeats (the
 * same eng_pg_discover, run on its host: agentd/pg.c), and synced the same way, marked remote, with
 * the socket directory the agent found. */
#include "svc/pg_discover.h"
#include "svc/pg_target.h"
#include "catalog/cat_agent.h"
#include "catalog/cat_source.h"
#include "engine/pg.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const instance_scope[] = { "kInstance", NULL };

/* record: one transaction: the subtree (items, may be 0) and the state. */
static int record(struct cat *cat, const char *tenant, const struct cat_source *s, enum cat_agent_kind kind,
                  const struct cat_discovered *items, size_t n, const char *status, const char *error)
{
    int rc = cat_begin(cat);
    if (rc != 0) return rc;
    rc = cat_source_sync_scope(cat, tenant, s->id, s->environment, kind, NULL, NULL, instance_scope, items, n);
    if (rc == 0)
        rc = cat_source_set_state(cat, tenant, s->id, status, error,
                                  strcmp(status, "Finished") == 0 ? util_time_real() / 1000 : 0);
    if (rc == 0) return cat_commit(cat) == 0 ? 0 : -1;
    cat_rollback(cat);
    return rc;
}

/* sync_found: the instance, databases and tables of info as items under the host. */
static int sync_found(struct cat *cat, const char *tenant, const struct cat_source *s, const char *host_name,
                      const struct eng_pg_instance_info *info, enum cat_agent_kind kind, const char *socket_dir)
{
    size_t n = 1, k = 0;
    struct cat_discovered *items;
    struct cat_object_facts *facts;
    char key[32], name[600];
    int rc;
    for (size_t i = 0; i < info->n_dbs; i++) n += 1 + info->dbs[i].n_tables;
    items = calloc(n, sizeof *items);
    facts = calloc(n, sizeof *facts);
    if (!items || !facts) {
        free(items);
        free(facts);
        return -ENOMEM;
    }
    snprintf(key, sizeof key, "pg:%d", s->pg.port);
    snprintf(name, sizeof name, "%s:%d", host_name, s->pg.port);
    facts[0] = (struct cat_object_facts){ .os_type = (char *)"kLinux", .logical_bytes = -1,
                                          .pg_version = info->version, .pg_version_num = info->version_num,
                                          .data_directory = info->data_directory, .port = s->pg.port,
                                          .socket_dir = (char *)socket_dir };
    items[k++] = (struct cat_discovered){ .key = key, .name = name, .object_type = "kInstance", .facts = &facts[0],
                                          .parent = 0, .environment = "kSQL" };
    {
        int64_t total = 0;
        for (size_t i = 0; i < info->n_dbs; i++) {
            const struct eng_pg_database *d = &info->dbs[i];
            size_t db_item = k;
            if (d->bytes > 0) total += d->bytes;
            facts[k] = (struct cat_object_facts){ .os_type = (char *)"kLinux", .logical_bytes = d->bytes,
                                                  .owner = d->owner };
            items[k] = (struct cat_discovered){ .key = d->name, .name = d->name, .object_type = "kDatabase",
                                                .facts = &facts[k], .parent = 1, .environment = "kSQL" };
            k++;
            for (size_t j = 0; j < d->n_tables; j++) {
                facts[k] = (struct cat_object_facts){ .os_type = (char *)"kLinux",
                                                      .logical_bytes = d->tables[j].bytes };
                items[k] = (struct cat_discovered){ .key = d->tables[j].name, .name = d->tables[j].name,
                                                    .object_type = "kTable", .facts = &facts[k],
                                                    .parent = db_item + 1, .environment = "kSQL" };
                k++;
            }
        }
        facts[0].logical_bytes = total;
    }
    rc = record(cat, tenant, s, kind, items, k, "Finished", info->warnings);
    free(items);
    free(facts);
    return rc;
}

/* info_of_report: one instance of an agent's report (agent_proto.c checked its shape) as discovery's
 * result; release with eng_pg_instance_info_release. */
static int info_of_report(const json_t *j, struct eng_pg_instance_info *out)
{
    const json_t *dbs = json_object_get(j, "databases");
    const char *v;
    memset(out, 0, sizeof *out);
    out->version_num = (int)json_integer_value(json_object_get(j, "version_num"));
    out->databases_cut = json_is_true(json_object_get(j, "databases_cut"));
    if (((v = json_string_value(json_object_get(j, "version"))) && !(out->version = strdup(v))) ||
        ((v = json_string_value(json_object_get(j, "data_directory"))) && !(out->data_directory = strdup(v))) ||
        ((v = json_string_value(json_object_get(j, "warnings"))) && !(out->warnings = strdup(v))) ||
        (json_array_size(dbs) && !(out->dbs = calloc(json_array_size(dbs), sizeof *out->dbs))))
        goto oom;
    for (size_t i = 0; i < json_array_size(dbs); i++) {
        const json_t *d = json_array_get(dbs, i), *tabs = json_object_get(d, "tables");
        struct eng_pg_database *e = &out->dbs[out->n_dbs++];
        json_t *b = json_object_get(d, "bytes");
        e->bytes = json_is_integer(b) ? (int64_t)json_integer_value(b) : -1;
        e->tables_cut = json_is_true(json_object_get(d, "tables_cut"));
        if (!(e->name = strdup(json_string_value(json_object_get(d, "name")))) ||
            ((v = json_string_value(json_object_get(d, "owner"))) && !(e->owner = strdup(v))) ||
            (json_array_size(tabs) && !(e->tables = calloc(json_array_size(tabs), sizeof *e->tables))))
            goto oom;
        for (size_t k = 0; k < json_array_size(tabs); k++) {
            const json_t *t = json_array_get(tabs, k);
            struct eng_pg_table *x = &e->tables[e->n_tables++];
            json_t *tb = json_object_get(t, "bytes");
            x->bytes = json_is_integer(tb) ? (int64_t)json_integer_value(tb) : -1;
            if (!(x->name = strdup(json_string_value(json_object_get(t, "name"))))) goto oom;
        }
    }
    return 0;
oom:
    eng_pg_instance_info_release(out);
    return -ENOMEM;
}

/* refresh_remote: the registration's instance (its pgPort) among those the host's coffer-agent
 * reported in its heartbeats (cat_agent_pg_get); Pending with the reason when it is not there. */
static int refresh_remote(struct cat *cat, const char *tenant, const struct cat_source *s, const char *host_name)
{
    struct cat_agent a;
    json_t *insts = NULL, *mine = NULL, *v;
    char msg[1024], ports[256] = "";
    size_t i, pl = 0;
    int rc = s->endpoint_key ? cat_agent_for_host(cat, tenant, s->endpoint_key, &a) : CAT_NOT_FOUND;
    if (rc == CAT_NOT_FOUND) {
        snprintf(msg, sizeof msg, "host '%.255s' is no longer served by a registered coffer-agent", host_name);
        return record(cat, tenant, s, CAT_AGENT_REMOTE, NULL, 0, "Pending", msg);
    }
    if (rc != 0) return rc;
    if ((rc = cat_agent_pg_get(cat, tenant, a.connector_id, &insts)) != 0) {
        cat_agent_release(&a);
        return rc;
    }
    json_array_foreach(insts, i, v) {
        int port = (int)json_integer_value(json_object_get(v, "port"));
        if (port == s->pg.port) mine = v;
        if (pl + 8 < sizeof ports) pl += (size_t)snprintf(ports + pl, sizeof ports - pl, "%s%d", pl ? ", " : "", port);
    }
    if (!insts)
        snprintf(msg, sizeof msg, "coffer-agent connector %s on host '%.255s' has not reported its PostgreSQL instances "
                 "yet", a.connector_id, host_name);
    else if (!mine)
        snprintf(msg, sizeof msg, "coffer-agent connector %s on host '%.255s' reports no running PostgreSQL on port %d "
                 "(it found: %s); start it, or name its data directory with coffer-agent run --pg DIR", a.connector_id,
                 host_name, s->pg.port, pl ? ports : "none");
    else if (json_string_value(json_object_get(mine, "error")))
        snprintf(msg, sizeof msg, "PostgreSQL on port %d of host '%.255s' (coffer-agent connector %s): %.500s",
                 s->pg.port, host_name, a.connector_id, json_string_value(json_object_get(mine, "error")));
    if (mine && !json_string_value(json_object_get(mine, "error"))) {
        struct eng_pg_instance_info info;
        rc = info_of_report(mine, &info);
        if (rc == 0) {
            rc = sync_found(cat, tenant, s, host_name, &info, CAT_AGENT_REMOTE,
                            json_string_value(json_object_get(mine, "socket_dir")));
            eng_pg_instance_info_release(&info);
        }
    } else {
        log_warn("source %lld: %s", (long long)s->id, msg);
        rc = record(cat, tenant, s, CAT_AGENT_REMOTE, NULL, 0, "Pending", msg);
    }
    json_decref(insts);
    cat_agent_release(&a);
    return rc;
}

int svc_pg_refresh(struct cat *cat, struct repo *repo, const char *tenant, int64_t id)
{
    struct cat_source s;
    struct cat_object root;
    struct eng_pg_instance_info info;
    char err[512] = "", msg[1024];
    char *conninfo = NULL;
    int rc = cat_source_get(cat, tenant, id, &s);
    if (rc != 0) return rc;
    rc = cat_object_get(cat, tenant, id, &root);
    if (rc != 0) {   /* the host was not discovered: its state says why */
        cat_source_release(&s);
        return rc == CAT_NOT_FOUND ? 0 : rc;
    }
    if (!s.has_pg) {
        /* no PostgreSQL (any more: a PUT took the kSQL application away): an instance found before
         * is flagged vanished; the state is the agent's */
        if ((rc = cat_begin(cat)) == 0) {
            rc = cat_source_sync_scope(cat, tenant, id, s.environment, CAT_AGENT_LOCAL, NULL, NULL, instance_scope,
                                       NULL, 0);
            if (rc == 0) rc = cat_commit(cat) == 0 ? 0 : -1;
            else cat_rollback(cat);
        }
        cat_object_release(&root);
        cat_source_release(&s);
        return rc;
    }
    if (root.agent == CAT_AGENT_REMOTE) { /* a coffer-agent's host: what the agent reported */
        rc = refresh_remote(cat, tenant, &s, root.name ? root.name : "");
        cat_object_release(&root);
        cat_source_release(&s);
        return rc;
    }
    rc = svc_pg_source_conninfo(repo, &s, &conninfo, err, sizeof err);
    if (rc == 0) {
        rc = eng_pg_discover(conninfo, &info, err, sizeof err);
        svc_pg_conninfo_free(conninfo);
        if (rc == 0) {
            rc = sync_found(cat, tenant, &s, root.name ? root.name : "", &info, CAT_AGENT_LOCAL, s.pg.socket_dir);
            eng_pg_instance_info_release(&info);
            cat_object_release(&root);
            cat_source_release(&s);
            return rc;
        }
    }
    snprintf(msg, sizeof msg, "PostgreSQL at %s port %d as user %s: %s", s.pg.socket_dir, s.pg.port, s.pg.user, err);
    log_warn("source %lld: %s", (long long)id, msg);
    rc = record(cat, tenant, &s, CAT_AGENT_LOCAL, NULL, 0, "Pending", msg);
    cat_object_release(&root);
    cat_source_release(&s);
    return rc;
}
