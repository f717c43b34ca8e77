/* recoveries.h: what the recovery resources share (recoveries.c, downloads.c): path checks, the
 * snapshot a request names, and how a recovery is shown (the Recovery model). */
#ifndef COFFER_API_RECOVERIES_H
#define COFFER_API_RECOVERIES_H
#include "api/api.h"
#include "catalog/cat_recovery.h"
#include "catalog/cat_snapshot.h"

/* api_rec_path_problem: NULL when p is an absolute, normalized path ("/" or "/a/b": no empty,
 * "." or ".." component, no trailing '/', shorter than 4096 bytes); else why not. */
const char *api_rec_path_problem(const char *p);

/* api_rec_snapshot: the tenant's live snapshot named at field (a body field path, for messages);
 * 0, or fills resp (404 unknown or deleted, 400 not a file snapshot) and returns -1. The caller
 * releases *out with cat_snapshot_release. */
int api_rec_snapshot(struct api_req *req, struct api_resp *resp, const char *field, const char *id,
                     struct cat_snapshot *out);

/* api_rec_check_items: every element of items (FilesAndFoldersObject-like objects at field, e.g.
 * "filesAndFolders") has an absolute normalized absolutePath present in the snapshot, of the kind
 * isDirectory says when given. 0, or fills resp (400 bad path or kind, 404 not in the snapshot) and
 * returns -1. Nothing is written anywhere. */
int api_rec_check_items(struct api_req *req, struct api_resp *resp, const char *field, json_t *items,
                        const char *snapshot_id);

/* api_rec_object_info: the CommonRecoverObjectSnapshotParams fields Coffer fills in for a snapshot
 * (protection group, snapshot time, target type, objectInfo) merged into obj where absent. */
void api_rec_enrich_object(struct api_req *req, json_t *obj, const struct cat_snapshot *s);

/* api_recovery_json: the Recovery model of r (a new reference). */
json_t *api_recovery_json(const struct cat_recovery *r);

/* api_rec_queue: allocates the recovery's id (into id, at least API_ID_MAX bytes), inserts it Accepted
 * with the job's persisted request (its kind's versioned document) and doc, and wakes the workers; it
 * answers nothing on success (the caller shapes the answer: 201 Recovery, the site API's 202). 0, or
 * -1 after a 500/507. Everything in q is borrowed. */
struct api_rec_new {
    const char *name, *kind, *environment, *action, *snapshot_id;
    int64_t object_id;
    json_t *request, *doc;
};
int api_rec_queue(struct api_req *req, struct api_resp *resp, const struct api_rec_new *q, char *id, size_t idlen);

/* api_rec_insert: allocates the id, inserts the recovery, wakes the workers and answers 201 with the
 * Recovery (or a 500). spec (the job, persisted as its versioned document) and doc are borrowed. */
struct job_recovery_spec;
void api_rec_insert(struct api_req *req, struct api_resp *resp, const char *name, const char *kind,
                    const char *environment, const char *action, const struct cat_snapshot *s,
                    const struct job_recovery_spec *spec, json_t *doc);
#endif
