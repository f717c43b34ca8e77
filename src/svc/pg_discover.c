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
 * server's (or libpq's) own words, e.g. "password authentication failed for user ...". */
#include "svc/pg_discover.h"
#include "svc/pg_target.h"
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
static int record(struct cat *cat, const char *tenant, const struct cat_source *s, const struct cat_discovered *items,
                  size_t n, const char *status, const char *error)
{
    int rc = cat_begin(cat);
    if (rc != 0) return rc;
    rc = cat_source_sync_scope(cat, tenant, s->id, s->environment, CAT_AGENT_LOCAL, NULL, NULL, instance_scope,
                               items, n);
    if (rc == 0)
        rc = cat_source_set_state(cat, tenant, s->id, status, error,
                                  strcmp(status, "Finished") == 0 ? util_time_real() / 1000 : 0);
    if (rc == 0) return cat_commit(cat) == 0 ? 0 : -1;
    cat_rollback(cat);
    return rc;
}

/* sync_found: the instance, databases and tables of info as items under the host. */
static int sync_found(struct cat *cat, const char *tenant, const struct cat_source *s, const char *host_name,
                      const struct eng_pg_instance_info *info)
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
                                          .socket_dir = s->pg.socket_dir };
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
    rc = record(cat, tenant, s, items, k, "Finished", info->warnings);
    free(items);
    free(facts);
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
    rc = svc_pg_source_conninfo(repo, &s, &conninfo, err, sizeof err);
    if (rc == 0) {
        rc = eng_pg_discover(conninfo, &info, err, sizeof err);
        svc_pg_conninfo_free(conninfo);
        if (rc == 0) {
            rc = sync_found(cat, tenant, &s, root.name ? root.name : "", &info);
            eng_pg_instance_info_release(&info);
            cat_object_release(&root);
            cat_source_release(&s);
            return rc;
        }
    }
    snprintf(msg, sizeof msg, "PostgreSQL at %s port %d as user %s: %s", s.pg.socket_dir, s.pg.port, s.pg.user, err);
    log_warn("source %lld: %s", (long long)id, msg);
    rc = record(cat, tenant, &s, NULL, 0, "Pending", msg);
    cat_object_release(&root);
    cat_source_release(&s);
    return rc;
}
