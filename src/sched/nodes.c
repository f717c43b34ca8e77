/* nodes.c: several nodes on one catalog and one repository (nodes.h).
 *
 * The reload decision is one row of the catalog (cat_repo_sync_get): index_gen grows each time a
 * node wrote index files, prune_gen each time a prune ended. A node keeps the pair it last reloaded
 * at; when it differs, repo_index_refresh lists index/ and reads only the new files (or, after a prune
 * elsewhere, learns which packs are gone). A node's own bump that follows directly on its last
 * reload needs no reload. The take-over of expired runs first moves the lease to this node with one
 * conditional UPDATE (so two nodes never both retry one run, and a run another node leased meanwhile is
 * left alone), then queues the next attempt through cat_run_retry. */
#include "sched/nodes.h"
#include "sched/job.h"
#include "sched/spec.h"
#include "catalog/cat.h"
#include "catalog/cat_nodes.h"
#include "catalog/cat_run.h"
#include "repo/repo.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node_sync {
    struct cat *cat;
    struct repo *repo;
    char node[160];
    pthread_mutex_t mu;           /* one reload at a time; guards the pair below */
    int synced;
    int64_t index_gen, prune_gen; /* the counters at the last reload */
};

int node_sync_new(struct cat *cat, struct repo *repo, struct node_sync **out)
{
    struct node_sync *ns;
    char host[64] = "host";
    *out = NULL;
    if (!cat || !repo || !cat_shared(cat)) return 0;
    if (!(ns = calloc(1, sizeof *ns))) return -ENOMEM;
    ns->cat = cat;
    ns->repo = repo;
    gethostname(host, sizeof host - 1);
    snprintf(ns->node, sizeof ns->node, "%s:%d", host, (int)getpid());
    pthread_mutex_init(&ns->mu, NULL);
    repo_set_shared(repo, 1);
    *out = ns;
    return 0;
}

void node_sync_free(struct node_sync *ns)
{
    if (!ns) return;
    pthread_mutex_destroy(&ns->mu);
    free(ns);
}

int node_sync_before(struct node_sync *ns)
{
    struct cat_repo_sync row;
    struct repo_refresh_report rep;
    int rc;
    if (!ns) return 0;
    pthread_mutex_lock(&ns->mu);
    rc = cat_repo_sync_get(ns->cat, &row);
    if (rc == 0 && ns->synced && row.index_gen == ns->index_gen && row.prune_gen == ns->prune_gen) {
        pthread_mutex_unlock(&ns->mu);
        return 0;
    }
    if (rc == 0) rc = repo_index_refresh(ns->repo, &rep);
    if (rc == 0) {
        ns->synced = 1;
        ns->index_gen = row.index_gen;
        ns->prune_gen = row.prune_gen;
    }
    pthread_mutex_unlock(&ns->mu);
    if (rc != 0 && rc != -EBUSY) log_warn("nodes: cannot reload the index other nodes wrote (%d); going on", rc);
    return rc == -EBUSY ? 0 : rc;
}

void node_sync_wrote(struct node_sync *ns)
{
    int64_t gen = 0;
    if (!ns) return;
    if (cat_repo_index_bump(ns->cat, ns->node, &gen) != 0) {
        log_warn("nodes: cannot record the index files this node wrote; other nodes reload them on a miss");
        return;
    }
    pthread_mutex_lock(&ns->mu);
    if (ns->synced && gen == ns->index_gen + 1) ns->index_gen = gen; /* only ours since the last reload */
    pthread_mutex_unlock(&ns->mu);
}

int node_prune_elsewhere(struct cat *cat, const char *node, char *holder, size_t holder_len)
{
    struct cat_repo_sync row;
    if (holder && holder_len) holder[0] = 0;
    if (!cat || !cat_shared(cat) || cat_repo_sync_get(cat, &row) != 0) return 0;
    if (!row.prune_owner[0] || (node && strcmp(row.prune_owner, node) == 0) || row.prune_expiry < util_time_real())
        return 0;
    if (holder && holder_len) snprintf(holder, holder_len, "%s", row.prune_owner);
    return 1;
}

/* attempts_left: whether the run's policy allows an attempt after attempt (as retry_later decides). */
static int attempts_left(struct cat *cat, const char *tenant, const char *group_id, int64_t attempt, int64_t *total)
{
    struct spec_group gs = { 0 };
    struct spec_policy p;
    char err[160];
    int yes = 0;
    *total = 1;
    if (spec_group_load(cat, tenant, group_id, &gs, err, sizeof err) == 0 && gs.policy_id &&
        spec_policy_load(cat, tenant, gs.policy_id, &p, err, sizeof err) == 0) {
        *total = p.retries + 1;
        yes = p.retries > 0 && attempt <= p.retries;
    }
    spec_group_free(&gs);
    return yes;
}

int node_retry_expired(struct cat *cat, const char *owner, int64_t now_real, int64_t lease_until, int *n)
{
    struct cat_run_expired *v = NULL;
    size_t nv = 0;
    int rc;
    if (n) *n = 0;
    if (!cat || !cat_shared(cat)) return 0;
    if ((rc = cat_run_list_expired(cat, owner, now_real, 64, &v, &nv)) != 0) return rc;
    for (size_t k = 0; k < nv; k++) {
        struct cat_run_expired *e = &v[k];
        int64_t total = 1;
        json_t *m;
        char msg[400];
        if (!attempts_left(cat, e->tenant, e->group_id, e->attempt, &total)) continue;
        if (cat_run_take_expired(cat, e->tenant, e->group_id, e->start_usecs, e->owner, owner, now_real,
                                 lease_until) != 0)
            continue; /* taken by another node meanwhile */
        snprintf(msg, sizeof msg, "attempt %" PRId64 " of %" PRId64 " failed: the node running it (%s) stopped "
                 "answering (lease expired); the next attempt starts at once on any node",
                 e->attempt, total, e->owner ? e->owner : "?");
        m = json_pack("[s]", msg);
        rc = cat_run_retry(cat, e->tenant, e->group_id, e->start_usecs, util_time_now(), m);
        json_decref(m);
        if (rc == 0) {
            log_warn("nodes: run %" PRId64 " of group %s: %s", e->start_usecs, e->group_id, msg);
            if (n) (*n)++;
        }
    }
    cat_run_expired_free(v, nv);
    return 0;
}

void node_lease_config(int64_t *lease_usecs, int64_t *renew_usecs, int64_t *housekeeping_usecs)
{
    const char *v = getenv("COFFER_LEASE_SECS");
    long secs = v && *v ? strtol(v, NULL, 10) : 0;
    int64_t lease;
    if (secs < 2 || secs > 3600) {
        *lease_usecs = *renew_usecs = *housekeeping_usecs = 0; /* the job core's defaults */
        return;
    }
    lease = (int64_t)secs * 1000000;
    *lease_usecs = lease;
    *renew_usecs = lease / 6 < JOB_RENEW_USECS ? lease / 6 : JOB_RENEW_USECS;
    *housekeeping_usecs = lease / 2 < JOB_HOUSEKEEPING_USECS ? lease / 2 : JOB_HOUSEKEEPING_USECS;
}
