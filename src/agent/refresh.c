/* refresh.c: discovery of a registered host into the catalog. The registration's endpoint decides who
 * serves it: this machine -> the local agent lists its volumes and they are synced as the
 * registration's objects (ids kept, see cat_source_sync_objects) in one transaction together with the
 * new state (Finished, refreshed now); a host a registered remote coffer-agent reports as its own
 * (host name or address, cat_agent_for_host) -> the volumes of that agent's last heartbeat are synced
 * the same way, with the objects marked CAT_AGENT_REMOTE (an agent that has not reported yet leaves
 * the state Pending; a kSQL registration gets the host without volumes: its instance comes from the
 * agent's report through svc/pg_discover.c); anything else -> no agent is reachable, which is recorded as the state
 * (Pending, with the reason) and no objects are made. What is found is recorded as typed
 * facts in Coffer's names (cat_object_facts: OS, size, file system, device, host name); the API
 * builds the wire shapes from them. This sync speaks for the host and its volumes only (scope kVolume):
 * a PostgreSQL instance under the same host is discovered by svc/pg_discover.c, which the API calls
 * after this. */
#include "agent/agent.h"
#include "catalog/cat_agent.h"
#include "catalog/cat_source.h"
#include "util/log.h"
#include <stdio.h>
#include "util/time.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void) { return util_time_real() / 1000; }

/* volume_facts: what the catalog keeps of a mount (strings borrowed from m). */
static struct cat_object_facts volume_facts(const struct agent_mount *m)
{
    struct cat_object_facts f = { .os_type = (char *)"kLinux", .logical_bytes = m->used_bytes >= 0 ? m->used_bytes : -1,
                                  .fs_type = m->fstype, .device = m->device, .is_network = m->network };
    return f;
}

/* sync_volumes: records mounts as the registration's volumes, served by kind, with the host name. */
static int sync_volumes(struct cat *cat, const char *tenant, const struct cat_source *s, const char *endpoint,
                        enum cat_agent_kind kind, const struct agent_mounts *m, const char *host);

static int sync_local(struct cat *cat, const char *tenant, const struct cat_source *s, const char *endpoint)
{
    struct agent_mounts mounts = { 0 };
    char err[512], host[256];
    int rc;
    /* Volumes are what a kPhysical host protects; a kSQL registration's host carries a PostgreSQL
     * instance, which svc/pg_discover.c discovers (the API calls it after this). */
    if (strcmp(s->environment, "kPhysical") == 0 &&
        agent_local_volumes(AGENT_MOUNTS_PATH, &mounts, err, sizeof err) != 0) {
        log_warn("source %lld: %s", (long long)s->id, err);
        return cat_source_set_state(cat, tenant, s->id, "Pending", err, 0);
    }
    if (gethostname(host, sizeof host) != 0) host[0] = '\0';
    host[sizeof host - 1] = '\0';
    rc = sync_volumes(cat, tenant, s, endpoint, CAT_AGENT_LOCAL, &mounts, host);
    agent_mounts_release(&mounts);
    return rc;
}

/* mounts_of_report: the volumes a remote agent reported (a JSON array of {path, fstype, device,
 * used_bytes, network}, validated by the API) as mounts; entries without a path are skipped. */
static int mounts_of_report(const json_t *vols, struct agent_mounts *out)
{
    size_t i, n = json_array_size(vols);
    json_t *v;
    memset(out, 0, sizeof *out);
    if (n == 0) return 0;
    if (!(out->v = calloc(n, sizeof *out->v))) return -1;
    json_array_foreach(vols, i, v) {
        const char *path = json_string_value(json_object_get(v, "path"));
        const char *fs = json_string_value(json_object_get(v, "fstype"));
        const char *dev = json_string_value(json_object_get(v, "device"));
        json_t *used = json_object_get(v, "used_bytes");
        struct agent_mount *m = &out->v[out->n];
        if (!path) continue;
        m->path = strdup(path);
        m->fstype = strdup(fs ? fs : "");
        m->device = strdup(dev ? dev : "");
        m->network = json_is_true(json_object_get(v, "network"));
        m->used_bytes = json_is_integer(used) ? (int64_t)json_integer_value(used) : -1;
        out->n++;
        if (!m->path || !m->fstype || !m->device) return -1;
    }
    return 0;
}

static int sync_remote(struct cat *cat, const char *tenant, const struct cat_source *s, const char *endpoint,
                       const struct cat_agent *a)
{
    struct agent_mounts mounts = { 0 };
    char msg[512];
    int rc;
    if (!a->volumes) {
        snprintf(msg, sizeof msg, "host '%.255s' is served by coffer-agent connector %s, which has not reported its "
                 "volumes yet (no heartbeat since it registered)", endpoint, a->connector_id);
        return cat_source_set_state(cat, tenant, s->id, "Pending", msg, 0);
    }
    /* a kSQL registration's host carries the PostgreSQL instance the agent reports (svc/pg_discover.c,
     * which the caller runs after this), no volumes */
    rc = strcmp(s->environment, "kPhysical") == 0 ? mounts_of_report(a->volumes, &mounts) : 0;
    if (rc == 0) rc = sync_volumes(cat, tenant, s, endpoint, CAT_AGENT_REMOTE, &mounts, a->hostname);
    agent_mounts_release(&mounts);
    return rc;
}

static int sync_volumes(struct cat *cat, const char *tenant, const struct cat_source *s, const char *endpoint,
                        enum cat_agent_kind kind, const struct agent_mounts *m, const char *host)
{
    const struct agent_mounts mounts = *m;
    struct cat_discovered *items = NULL;
    struct cat_object_facts *facts = NULL, root_facts;
    int64_t total = 0;
    int rc;
    items = calloc(mounts.n ? mounts.n : 1, sizeof *items);
    facts = calloc(mounts.n ? mounts.n : 1, sizeof *facts);
    if (!items || !facts) {
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < mounts.n; i++) {
        facts[i] = volume_facts(&mounts.v[i]);
        items[i].key = mounts.v[i].path;
        items[i].name = mounts.v[i].path;
        items[i].object_type = "kVolume";
        items[i].facts = &facts[i];
        if (mounts.v[i].used_bytes > 0) total += mounts.v[i].used_bytes;
    }
    root_facts = (struct cat_object_facts){ .os_type = (char *)"kLinux", .logical_bytes = total,
                                            .host_type = (char *)"kLinux", .host_name = (char *)host };
    if ((rc = cat_begin(cat)) == 0) {
        static const char *const volumes_only[] = { "kVolume", NULL };   /* PostgreSQL's are svc/pg_discover.c's */
        rc = cat_source_sync_scope(cat, tenant, s->id, s->environment, kind, endpoint, &root_facts,
                                   volumes_only, items, mounts.n);
        if (rc == 0) rc = cat_source_set_state(cat, tenant, s->id, "Finished", NULL, now_ms());
        if (rc == 0)
            rc = cat_commit(cat);
        else
            cat_rollback(cat);
    }
out:
    free(facts);
    free(items);
    return rc;
}

int agent_refresh_source(struct cat *cat, const char *tenant, int64_t id, const char *endpoint)
{
    struct cat_source s;
    char msg[512];
    int rc = cat_source_get(cat, tenant, id, &s);
    if (rc != 0) return rc;
    struct cat_agent a;
    if (endpoint && agent_endpoint_is_local(endpoint)) {
        rc = sync_local(cat, tenant, &s, endpoint);
    } else if (endpoint && (rc = cat_agent_for_host(cat, tenant, endpoint, &a)) != CAT_NOT_FOUND) {
        if (rc == 0) rc = sync_remote(cat, tenant, &s, endpoint, &a);
        cat_agent_release(&a);
    } else {
        agent_unreachable_message(endpoint ? endpoint : "(no endpoint)", msg, sizeof msg);
        rc = cat_source_set_state(cat, tenant, id, "Pending", msg, 0);
    }
    cat_source_release(&s);
    return rc;
}
