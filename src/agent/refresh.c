/* refresh.c: discovery of a registered host into the catalog. The registration's endpoint decides who
 * serves it: this machine -> the local agent lists its volumes and they are synced as the
 * registration's objects (ids kept, see cat_source_sync_objects) in one transaction together with the
 * new state (Finished, refreshed now); anything else -> no agent is reachable, which is recorded as
 * the state (Pending, with the reason) and no objects are made. What is found is recorded as typed
 * facts in Coffer's names (cat_object_facts: OS, size, file system, device, host name); the API
 * builds the wire shapes from them. This sync speaks for the host and its volumes only (scope kVolume):
 * a PostgreSQL instance under the same host is discovered by svc/pg_discover.c, which the API calls
 * after this. */
#include "agent/agent.h"
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

static int sync_local(struct cat *cat, const char *tenant, const struct cat_source *s, const char *endpoint)
{
    struct agent_mounts mounts = { 0 };
    struct cat_discovered *items = NULL;
    struct cat_object_facts *facts = NULL, root_facts;
    char err[512], host[256];
    int64_t total = 0;
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
                                            .host_type = (char *)"kLinux", .host_name = host };
    if ((rc = cat_begin(cat)) == 0) {
        static const char *const volumes_only[] = { "kVolume", NULL };   /* PostgreSQL's are svc/pg_discover.c's */
        rc = cat_source_sync_scope(cat, tenant, s->id, s->environment, CAT_AGENT_LOCAL, endpoint, &root_facts,
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
    agent_mounts_release(&mounts);
    return rc;
}

int agent_refresh_source(struct cat *cat, const char *tenant, int64_t id, const char *endpoint)
{
    struct cat_source s;
    char msg[512];
    int rc = cat_source_get(cat, tenant, id, &s);
    if (rc != 0) return rc;
    if (endpoint && agent_endpoint_is_local(endpoint)) {
        rc = sync_local(cat, tenant, &s, endpoint);
    } else {
        agent_unreachable_message(endpoint ? endpoint : "(no endpoint)", msg, sizeof msg);
        rc = cat_source_set_state(cat, tenant, id, "Pending", msg, 0);
    }
    cat_source_release(&s);
    return rc;
}
