/* queue.c: putting runs in the queue (the same way for the API and the scheduler) and the retention
 * hook. A run's snapshots expire at its start plus the policy's backupPolicy.regular.retention; the
 * retention pass marks expired snapshots deleted in the catalog first (so the API stops offering
 * them), then forgets their documents in the repository (prune reclaims the data later). */
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include "catalog/cat_snapshot.h"
#include "repo/repo.h"
#include "sched/sched_int.h"
#include "sched/schedule.h"
#include "util/log.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int64_t policy_expiry(struct cat *cat, const struct cat_group *g, int64_t now)
{
    json_t *policy = NULL, *ret;
    int64_t expiry = 0;
    if (cat_policy_get_json(cat, g->tenant, g->policy_id, &policy) != 0) return 0;
    ret = json_object_get(json_object_get(json_object_get(policy, "backupPolicy"), "regular"), "retention");
    if (json_is_object(ret) && json_is_integer(json_object_get(ret, "duration"))) {
        int64_t e = sched_add_retention(now, json_string_value(json_object_get(ret, "unit")),
                                        json_integer_value(json_object_get(ret, "duration")));
        if (e > 0) expiry = e;
    }
    json_decref(policy);
    return expiry;
}

int sched_enqueue(struct cat *cat, const struct cat_group *g, const char *run_type, json_t *objects, int scheduled,
                  int64_t now, int64_t *start_usecs)
{
    struct cat_run_new n = {
        .tenant = g->tenant, .group_id = g->id, .group_name = g->name, .group_seq = g->seq,
        .run_type = run_type, .status = "Accepted", .scheduled = scheduled, .objects = objects,
        .expiry_usecs = policy_expiry(cat, g, now),
    };
    *start_usecs = now;
    return cat_run_insert(cat, &n, start_usecs);
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
        int rc = cat_snapshot_mark_deleted(cat, tenant, id);
        if (rc != 0) continue;
        n++;
        if (repo) {
            rc = repo_snapshot_forget(repo, id);
            if (rc != 0 && rc != -ENOENT) log_warn("retention: cannot forget snapshot %s: %s", id, strerror(-rc));
        }
        log_info("retention: snapshot %s of tenant %s expired and was deleted", id, tenant);
    }
    json_decref(e.list);
    return n;
}
