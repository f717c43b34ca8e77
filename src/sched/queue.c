/* queue.c: putting runs in the queue (the same way for the API and the scheduler) and the retention
 * hook. A run's snapshots expire at its start plus the policy's regular retention (a kLog run's: its
 * log retention, or the regular one when it has none); the
 * retention pass deletes expired snapshots through svc_snapshot_expire, svc_snapshot_delete's variant
 * that deletes a row only while it is still expired (catalog row first, so the API stops offering it,
 * then the repository's document; prune reclaims the data later): on several nodes sharing a catalog
 * every node's pass runs, and each snapshot is deleted and counted by exactly one of them. */
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include "catalog/cat_snapshot.h"
#include "repo/repo.h"
#include "sched/job_spec.h"
#include "sched/sched_int.h"
#include "sched/schedule.h"
#include "sched/spec.h"
#include "svc/svc.h"
#include "util/log.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* policy_expiry: when a run started now expires under its group's policy (its typed spec); 0 keeps
 * it without expiry (no policy, no retention, or a sum past the time range: never shorter). */
static int64_t policy_expiry(struct cat *cat, const struct cat_group *g, int64_t now, int log)
{
    struct spec_policy p;
    char err[200];
    if (spec_policy_load(cat, g->tenant, g->policy_id, &p, err, sizeof err) != 0) return 0;
    return log ? spec_policy_log_expiry(&p, now) : spec_policy_expiry(&p, now);
}

int sched_enqueue(struct cat *cat, const struct cat_group *g, const struct job_run_spec *spec, int64_t now,
                  int64_t *start_usecs)
{
    json_t *objects = NULL;
    int rc;
    struct cat_run_new n = {
        .tenant = g->tenant, .group_id = g->id, .group_name = g->name, .group_seq = g->seq,
        .run_type = spec->type == JOB_RUN_FULL ? "kFull" : spec->type == JOB_RUN_LOG ? "kLog" : "kRegular",
        .status = "Accepted", .scheduled = spec->scheduled,
        .expiry_usecs = policy_expiry(cat, g, now, spec->type == JOB_RUN_LOG),
    };
    if (spec->objects) {
        if (!(objects = json_array())) return -ENOMEM;
        for (size_t i = 0; i < spec->n_objects; i++) json_array_append_new(objects, json_integer(spec->objects[i]));
    }
    n.objects = objects;
    *start_usecs = now;
    rc = cat_run_insert(cat, &n, start_usecs);
    json_decref(objects);
    return rc;
}

struct expired {
    json_t *list; /* [[tenant, id], ...] */
};

static int collect_expired(void *ud, const struct cat_snapshot *s)
{
    struct expired *e = ud;
    json_array_append_new(e->list, json_pack("[ss]", s->tenant, s->id));
    return json_array_size(e->list) >= 1000; /* a bounded batch per pass */
}

int sched_retention_pass(struct cat *cat, struct repo *repo, int64_t now)
{
    struct expired e = { json_array() };
    size_t i;
    json_t *v;
    int n = 0;
    if (cat_snapshot_expired(cat, now, collect_expired, &e) < 0) {
        json_decref(e.list);
        return -1;
    }
    json_array_foreach(e.list, i, v) {
        const char *tenant = json_string_value(json_array_get(v, 0)), *id = json_string_value(json_array_get(v, 1));
        int rc = svc_snapshot_expire(cat, repo, tenant, id, now);
        if (rc != 0) continue; /* -ENOENT: another node's pass deleted it first (or it was kept meanwhile) */
        n++;
        log_info("retention: snapshot %s of tenant %s expired and was deleted", id, tenant);
    }
    json_decref(e.list);
    return n;
}
