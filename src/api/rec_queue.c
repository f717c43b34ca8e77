/* rec_queue.c: THE way a recovery job is queued by the API (recoveries.h: api_rec_queue): its id
 * allocated, the row inserted Accepted with the kind's versioned request, the workers woken. Its own
 * file so the kinds' handlers (recoveries.c for files, recoveries_sql.c for PostgreSQL, site_api.c)
 * share it without calling each other. */
#include "api/recoveries.h"
#include "api/resid.h"
#include "catalog/cat_recovery.h"
#include "sched/sched.h"
#include "util/time.h"

int api_rec_queue(struct api_req *req, struct api_resp *resp, const struct api_rec_new *q, char *id, size_t idlen)
{
    struct cat *cat = api_ctx(req)->cat;
    int64_t seq = 0;
    struct cat_recovery_new n = { .tenant = req->tenant, .id = id, .name = q->name, .kind = q->kind,
                                  .snapshot_environment = q->environment, .recovery_action = q->action,
                                  .snapshot_id = q->snapshot_id, .object_id = q->object_id, .request = q->request,
                                  .doc = q->doc };
    if (api_id_new(cat, "recovery", id, idlen, &seq) != 0) {
        api_catalog_error(resp, 0, "allocating a recovery id");
        return -1;
    }
    n.seq = seq;
    n.start_usecs = util_time_now();
    int rc = cat_recovery_insert(cat, &n);
    if (rc != 0) {
        api_catalog_error(resp, rc, "queueing the recovery"); /* -ENOSPC: 507 */
        return -1;
    }
    sched_notify(api_ctx(req)->sched);
    return 0;
}
