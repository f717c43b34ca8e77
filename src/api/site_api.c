/* site_api.c: the site restore API (../shared/spec/vantagecloud-baas-restore-api.txt), every operation
 * the spec lists plus the two it relies on (the jobs of a site, the objects of an execution):
 *
 *   GET  /data-protection/v2/sites/{site-id}/databases                       [{"name","dbKind"}]
 *   GET  /data-protection/v2/sites/{site-id}/jobs                            the jobs protecting it
 *   GET  .../sites/{site-id}/jobs/{job-id}/executions                        runs, each with its restores
 *   GET  .../jobs/{job-id}/executions/{execution-id}/objects                 databases and tables it holds
 *   POST .../jobs/{job-id}/executions/{execution-id}/restores                202 + x-resource-id
 *   GET  .../jobs/{job-id}/executions/{execution-id}/restores/{restore-id}   one restore
 *   GET  /data-protection/v2/sites/{site-id}/restores                        restores from or to the site
 *   POST /data-protection/v2/sites/{site-id}/restore-permissions             may we restore there?
 *
 * site.h says what a site, job, execution and restore are. Auth and tenant are the data-protect
 * API's (routes.c: bearer key, X-IBM-Tenant-Id): a site, job or execution of another tenant is 404.
 * A POST validates the whole body (site_req.c), then resolves everything against the catalog
 * (unknown site, job not protecting it, execution of another job or without a snapshot, object not
 * in the execution's base backup: 404/409 naming the field), builds the SQL restore job's typed spec
 * (sched/sql_restore_spec.h), asks the target instance through the job's own check
 * (sql_restore_precheck) whether the restore may write (a copy never writes its source; a copy, a
 * rename or a restore into another database never replaces an existing object: 409), and only then
 * queues it as a recovery of kind "sql_restore" (api_rec_queue). restore-permissions asks the
 * instance through svc/pg_check.h.
 * Nothing is written before every check passed. docs/databases.md ("The site restore API") has the
 * mappings, including what each job_settings option does to PostgreSQL. */
#include "api/site.h"
#include "api/auth.h"
#include "api/jv.h"
#include "api/recoveries.h"
#include "api/resid.h"
#include "api/routes.h"
#include "api/run_json.h"
#include "catalog/cat_group.h"
#include "catalog/cat_recovery.h"
#include "catalog/cat_run.h"
#include "catalog/cat_snapshot.h"
#include "catalog/cat_source.h"
#include "sched/sql_restore_spec.h"
#include "svc/pg_check.h"
#include "svc/pg_plan.h"
#include "svc/pg_target.h"
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SITE_KIND "sql_restore"
#define SITE_MAX_RUNS 100          /* executions listed, newest first */
#define SITE_MAX_PERMISSION_DBS 16 /* databases one restore-permissions call may name */

/* ---------- resolving the path ---------- */

/* site_load: the tenant's kInstance object named by s (one that vanished at the last discovery too:
 * its backups still restore elsewhere); 0, or -1 after a 404 (field names it). */
static int site_load(struct api_req *req, struct api_resp *resp, const char *field, const char *s,
                     struct cat_object *out)
{
    int64_t id = 0;
    int rc = site_id_parse(s, &id) ? cat_object_get(api_ctx(req)->cat, req->tenant, id, out) : CAT_NOT_FOUND;
    if (rc == 0 && (!out->environment || strcmp(out->environment, "kSQL") != 0 ||
                    !out->object_type || strcmp(out->object_type, "kInstance") != 0)) {
        cat_object_release(out);
        rc = CAT_NOT_FOUND;
    }
    if (rc == CAT_NOT_FOUND) {
        api_error(resp, 404, "NotFound", "%s: site '%.80s' not found (a site id is the object id of a registered "
                                         "PostgreSQL instance)", field, s);
        return -1;
    }
    if (rc != 0) {
        api_catalog_error(resp, rc, "reading the site");
        return -1;
    }
    return 0;
}

/* site_job_ids: the live groups listing the instance or one of its databases (a new array of ids,
 * in first-seen order), or NULL on a catalog error. */
static json_t *site_job_ids(struct api_req *req, int64_t site)
{
    struct cat *cat = api_ctx(req)->cat;
    struct cat_object *kids = NULL;
    size_t n = 0, i, k;
    json_t *ids = cat_object_group_ids(cat, req->tenant, site), *v;
    if (!ids) return NULL;
    if (cat_object_children(cat, req->tenant, site, &kids, &n) != 0) {
        json_decref(ids);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        json_t *more = cat_object_group_ids(cat, req->tenant, kids[i].id);
        json_array_foreach(more, k, v) {
            size_t j;
            json_t *w;
            int seen = 0;
            json_array_foreach(ids, j, w) seen |= json_equal(v, w);
            if (!seen) json_array_append(ids, v);
        }
        json_decref(more);
        cat_object_release(&kids[i]);
    }
    free(kids);
    return ids;
}

/* job_load: the group job_id, which must protect site; 0, or -1 after a 404. */
static int job_load(struct api_req *req, struct api_resp *resp, int64_t site, const char *job_id, struct cat_group *g)
{
    json_t *ids = site_job_ids(req, site), *v;
    size_t i;
    int found = 0, rc;
    if (!ids) {
        api_catalog_error(resp, 0, "listing the site's jobs");
        return -1;
    }
    json_array_foreach(ids, i, v) found |= strcmp(json_string_value(v), job_id) == 0;
    json_decref(ids);
    if (!found) {
        api_error(resp, 404, "NotFound", "job-id: job '%.80s' does not protect site %" PRId64, job_id, site);
        return -1;
    }
    rc = cat_group_get(api_ctx(req)->cat, req->tenant, job_id, g);
    if (rc != 0) {
        api_catalog_error(resp, rc, "reading the job");
        return -1;
    }
    return 0;
}

/* site_snapshot_of_run: the live snapshot of site made by the run (its protectionGroupInstanceId)
 * of group_id, into out (release with cat_snapshot_release); 0, CAT_NOT_FOUND, or <0. */
struct find_snap {
    int64_t instance_id;
    char *id;
};
static int find_snap_fn(void *ud, const struct cat_snapshot *s)
{
    struct find_snap *f = ud;
    if (s->instance_id != f->instance_id || s->is_deleted) return 0;
    f->id = strdup(s->id);
    return f->id ? 1 : -ENOMEM;
}
static int site_snapshot_of_run(struct api_req *req, int64_t site, const char *group_id, int64_t instance_id,
                                struct cat_snapshot *out)
{
    json_t *groups = json_pack("[s]", group_id), *iids = json_pack("[I]", (json_int_t)instance_id);
    struct cat_snapshot_filter f = { .object_id = site, .group_ids = groups, .instance_ids = iids, .source_id = -1 };
    struct find_snap fs = { instance_id, NULL };
    int rc = cat_snapshot_list(api_ctx(req)->cat, req->tenant, &f, find_snap_fn, &fs);
    json_decref(groups);
    json_decref(iids);
    if (rc < 0) return rc;
    if (!fs.id) return CAT_NOT_FOUND;
    rc = cat_snapshot_get(api_ctx(req)->cat, req->tenant, fs.id, out);
    free(fs.id);
    return rc;
}

/* An execution: a run of the job, and the snapshot of the site it made (have_snap 0: none). */
struct site_exec {
    struct cat_run run;
    struct cat_snapshot snap;
    int have_snap;
    char id[API_RUN_ID_MAX];
};
static void site_exec_release(struct site_exec *x)
{
    cat_run_release(&x->run);
    if (x->have_snap) cat_snapshot_release(&x->snap);
    x->have_snap = 0;
}

/* exec_load: the execution named s of group g at site; 0, or -1 after a 404 (another job's run is
 * named as such). */
static int exec_load(struct api_req *req, struct api_resp *resp, int64_t site, const struct cat_group *g,
                     const char *s, struct site_exec *x)
{
    int64_t gseq = 0, start = 0;
    int rc;
    memset(x, 0, sizeof *x);
    if (!api_run_id_parse(s, &gseq, &start)) {
        api_error(resp, 404, "NotFound", "execution-id: execution '%.80s' not found (an execution id is a run id "
                                         "'n:startUsecs')", s);
        return -1;
    }
    rc = cat_run_find(api_ctx(req)->cat, req->tenant, gseq, start, &x->run);
    if (rc == CAT_NOT_FOUND) {
        api_error(resp, 404, "NotFound", "execution-id: execution '%.80s' not found", s);
        return -1;
    }
    if (rc != 0) {
        api_catalog_error(resp, rc, "reading the execution");
        return -1;
    }
    if (strcmp(x->run.group_id, g->id) != 0) {
        api_error(resp, 404, "NotFound", "execution-id: execution '%.80s' is an execution of job '%s', not of job '%s'",
                  s, x->run.group_id, g->id);
        cat_run_release(&x->run);
        return -1;
    }
    snprintf(x->id, sizeof x->id, "%s", s);
    rc = site_snapshot_of_run(req, site, g->id, x->run.instance_id, &x->snap);
    if (rc == 0) x->have_snap = 1;
    else if (rc != CAT_NOT_FOUND) {
        api_catalog_error(resp, rc, "reading the execution's snapshot");
        cat_run_release(&x->run);
        return -1;
    }
    return 0;
}

/* path_load: site, job and (when exec_param is not NULL) execution of the path; 0, or -1 answered. */
static int path_load(struct api_req *req, struct api_resp *resp, struct cat_object *site, struct cat_group *g,
                     const char *exec_param, struct site_exec *x)
{
    if (site_load(req, resp, "site-id", req->params[0], site) != 0) return -1;
    if (job_load(req, resp, site->id, req->params[1], g) != 0) {
        cat_object_release(site);
        return -1;
    }
    if (exec_param && exec_load(req, resp, site->id, g, exec_param, x) != 0) {
        cat_group_release(g);
        cat_object_release(site);
        return -1;
    }
    return 0;
}

/* ---------- restores: how a recovery is shown ---------- */

/* db_table_name: "database.table" (malloc'd), as the job names a table it restores. */
static char *db_table_name(const char *database, const char *table)
{
    size_t n = strlen(database) + strlen(table) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s.%s", database, table);
    return s;
}

/* restore_view_json: the spec's restore object of recovery r (kind sql_restore). Its sub-tasks are the
 * job's per-object results once it has recorded them (the recovery's file_errors column, in item
 * order: sql_restore_spec.h), else one per requested object with the restore's own status. */
static json_t *restore_view_json(struct api_req *req, const struct cat_recovery *r)
{
    struct site_restore_view v = { 0 };
    struct sql_restore_spec spec = { 0 };
    struct cat_snapshot snap;
    struct site_sub_task *tasks = NULL;
    char err[200], exec_id[API_RUN_ID_MAX] = "", **names = NULL;
    int have_snap = cat_snapshot_get(api_ctx(req)->cat, req->tenant, r->snapshot_id, &snap) == 0;
    int have_spec = sql_restore_spec_parse(r->request, &spec, err, sizeof err) == 0;
    size_t nres = json_array_size(r->file_errors), n = nres ? nres : have_spec ? spec.n_items : 0;
    json_t *j, *errors = json_array(), *warnings = json_array();
    api_id_parse(r->id, NULL, NULL, &v.restore_no);
    v.name = r->name;
    v.status_raw = r->status;
    v.start_usecs = r->start_usecs;
    v.end_usecs = r->end_usecs;
    v.source_site = r->object_id;
    v.target_site = have_spec && spec.target_instance_id > 0 ? spec.target_instance_id : r->object_id;
    v.snapshot_id = r->snapshot_id;
    v.messages = r->messages;
    v.errors = errors;
    v.warnings = warnings;
    if (have_snap) {
        api_run_id_format(exec_id, sizeof exec_id, snap.group_seq, snap.run_usecs);
        v.job_id = snap.group_id;
        v.snapshot_bytes = snap.logical_bytes;
    }
    v.execution_id = exec_id;
    if (n > 0 && (tasks = calloc(n, sizeof *tasks)) != NULL && (names = calloc(n, sizeof *names)) != NULL) {
        for (size_t i = 0; i < n; i++) {
            struct site_sub_task *t = &tasks[v.n_tasks];
            t->start_usecs = r->start_usecs;
            t->end_usecs = r->end_usecs;
            if (nres) { /* the job's result for this object */
                json_t *res = json_array_get(r->file_errors, i), *w;
                const char *src = json_string_value(json_object_get(res, "source"));
                const char *dst = json_string_value(json_object_get(res, "path"));
                const char *st = json_string_value(json_object_get(res, "status"));
                size_t k;
                if (!src && !(src = dst)) continue;
                names[i] = strdup(src);
                t->status = site_restore_status(st);
                t->details = json_string_value(json_object_get(res, "message"));
                t->bytes = json_integer_value(json_object_get(res, "bytes"));
                json_array_foreach(json_object_get(res, "warnings"), k, w)
                    if (json_is_string(w))
                        json_array_append_new(warnings, json_sprintf("%s: %s", src, json_string_value(w)));
                if (st && strcmp(st, "Failed") == 0 && t->details)
                    json_array_append_new(errors, json_sprintf("%s: %s", src, t->details));
                if (st && strcmp(st, "Skipped") == 0 && t->details)
                    json_array_append_new(warnings, json_sprintf("%s: %s", src, t->details));
            } else {
                const struct sql_restore_item *it = &spec.items[i];
                names[i] = it->table ? db_table_name(it->database, it->table) : strdup(it->database);
                t->status = site_restore_status(r->status);
                t->bytes = spec.n_items == 1 ? r->bytes : 0;
            }
            if (!names[i]) continue;
            t->name = names[i];
            v.n_tasks++;
        }
        v.tasks = tasks;
    }
    j = site_restore_json(&v);
    for (size_t i = 0; names && i < n; i++) free(names[i]);
    free(names);
    free(tasks);
    json_decref(errors);
    json_decref(warnings);
    if (have_spec) sql_restore_spec_release(&spec);
    if (have_snap) cat_snapshot_release(&snap);
    return j;
}

/* Every site restore of the tenant (recoveries of kind sql_restore), newest first, passed to fn. */
struct restore_scan {
    struct api_req *req;
    int (*keep)(struct restore_scan *sc, const struct cat_recovery *r);
    int64_t site;
    json_t *out;
};
static int restore_scan_fn(void *ud, const struct cat_recovery *r)
{
    struct restore_scan *sc = ud;
    if (strcmp(r->kind, SITE_KIND) != 0 || !sc->keep(sc, r)) return 0;
    json_array_append_new(sc->out, restore_view_json(sc->req, r));
    return 0;
}
static int restore_scan(struct restore_scan *sc)
{
    struct cat_recovery_filter f = { 0 };
    return cat_recovery_list(api_ctx(sc->req)->cat, sc->req->tenant, &f, restore_scan_fn, sc);
}
/* keep_of_site: restored from the site, or into it. */
static int keep_of_site(struct restore_scan *sc, const struct cat_recovery *r)
{
    struct sql_restore_spec spec = { 0 };
    char err[160];
    int yes = r->object_id == sc->site;
    if (!yes && sql_restore_spec_parse(r->request, &spec, err, sizeof err) == 0) {
        yes = spec.target_instance_id == sc->site;
        sql_restore_spec_release(&spec);
    }
    return yes;
}

/* ---------- GET databases, jobs ---------- */

static void get_databases(struct api_req *req, struct api_resp *resp)
{
    struct cat_object site, *kids = NULL;
    size_t n = 0;
    json_t *arr;
    if (site_load(req, resp, "site-id", req->params[0], &site) != 0) return;
    if (cat_object_children(api_ctx(req)->cat, req->tenant, site.id, &kids, &n) != 0) {
        api_catalog_error(resp, 0, "listing the site's databases");
        cat_object_release(&site);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (kids[i].object_type && strcmp(kids[i].object_type, "kDatabase") == 0)
            json_array_append_new(arr, json_pack("{s:s,s:s}", "name", kids[i].name, "dbKind", "D"));
        cat_object_release(&kids[i]);
    }
    free(kids);
    cat_object_release(&site);
    api_json(resp, 200, arr);
}

static void get_jobs(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    struct cat_object site;
    json_t *ids, *arr, *v;
    size_t i;
    if (site_load(req, resp, "site-id", req->params[0], &site) != 0) return;
    if (!(ids = site_job_ids(req, site.id))) {
        api_catalog_error(resp, 0, "listing the site's jobs");
        cat_object_release(&site);
        return;
    }
    arr = json_array();
    json_array_foreach(ids, i, v) {
        struct cat_group g;
        int64_t *oids = NULL;
        size_t no = 0;
        json_t *objs = json_array();
        if (cat_group_get(cat, req->tenant, json_string_value(v), &g) != 0) {
            json_decref(objs);
            continue;
        }
        if (cat_group_objects(cat, req->tenant, g.id, &oids, &no) == 0) {
            for (size_t k = 0; k < no; k++) {
                struct cat_object o;
                if (cat_object_get(cat, req->tenant, oids[k], &o) != 0) continue;
                if (o.id == site.id || o.parent_id == site.id)
                    json_array_append_new(objs, json_pack("{s:s,s:s}", "object_name", o.name, "object_type",
                                                          o.id == site.id ? "INSTANCE" : "DATABASE"));
                cat_object_release(&o);
            }
            free(oids);
        }
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:o}", "job_id", g.id, "job_name", g.name,
                                             "job_type", "BACKUP", "site_id", req->params[0], "is_active",
                                             g.is_active, "is_paused", g.is_paused, "objects", objs));
        cat_group_release(&g);
    }
    json_decref(ids);
    cat_object_release(&site);
    api_json(resp, 200, arr);
}

/* ---------- GET executions ---------- */

/* The runs of a job as listed (the callback keeps copies: the catalog is asked again afterwards). */
struct run_brief {
    int64_t group_seq, start_usecs, end_usecs, instance_id;
    char run_type[16], status[32];
};
struct run_list {
    struct run_brief *v;
    size_t n;
};
static int run_list_fn(void *ud, const struct cat_run *r)
{
    struct run_list *l = ud;
    struct run_brief *b;
    if (l->n >= SITE_MAX_RUNS) return 1;
    b = &l->v[l->n++];
    b->group_seq = r->group_seq;
    b->start_usecs = r->start_usecs;
    b->end_usecs = r->end_usecs;
    b->instance_id = r->instance_id;
    snprintf(b->run_type, sizeof b->run_type, "%s", r->run_type ? r->run_type : "");
    snprintf(b->status, sizeof b->status, "%s", r->status ? r->status : "");
    return 0;
}

/* by_snapshot: collects every site restore under its snapshot id (an object of arrays). */
static int keep_all(struct restore_scan *sc, const struct cat_recovery *r) { (void)sc; (void)r; return 1; }
static int by_snapshot_fn(void *ud, const struct cat_recovery *r)
{
    struct restore_scan *sc = ud;
    json_t *a;
    if (strcmp(r->kind, SITE_KIND) != 0 || !r->snapshot_id) return 0;
    if (!(a = json_object_get(sc->out, r->snapshot_id))) {
        json_object_set_new(sc->out, r->snapshot_id, json_array());
        a = json_object_get(sc->out, r->snapshot_id);
    }
    json_array_append_new(a, restore_view_json(sc->req, r));
    return 0;
}

static void get_executions(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    struct cat_object site;
    struct cat_group g;
    struct run_list l = { 0 };
    struct cat_run_filter f = { .limit = SITE_MAX_RUNS };
    struct restore_scan sc = { .req = req, .keep = keep_all };
    struct cat_recovery_filter rf = { 0 };
    json_t *arr;
    if (path_load(req, resp, &site, &g, NULL, NULL) != 0) return;
    if (!(l.v = calloc(SITE_MAX_RUNS, sizeof *l.v))) {
        api_error(resp, 500, "InternalError", "out of memory");
        goto out;
    }
    sc.out = json_object();
    if (cat_run_list(cat, req->tenant, g.id, &f, run_list_fn, &l, NULL) < 0 ||
        cat_recovery_list(cat, req->tenant, &rf, by_snapshot_fn, &sc) < 0) {
        api_catalog_error(resp, 0, "listing the job's executions");
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < l.n; i++) {
        const struct run_brief *b = &l.v[i];
        struct cat_snapshot s;
        char id[API_RUN_ID_MAX], t0[32], t1[32], sz[24] = "0";
        int have = site_snapshot_of_run(req, site.id, g.id, b->instance_id, &s) == 0;
        json_t *restores = have ? json_object_get(sc.out, s.id) : NULL;
        restores = restores ? json_incref(restores) : json_array();
        api_run_id_format(id, sizeof id, b->group_seq, b->start_usecs);
        if (have) snprintf(sz, sizeof sz, "%" PRId64, s.logical_bytes);
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:o}", "execution_id", id, "job_id", g.id,
                           "job_name", g.name, "status", site_execution_status(b->status), "backup_type",
                           site_backup_type(b->run_type), "start_time", site_time(b->start_usecs, t0, sizeof t0),
                           "end_time", site_time(b->end_usecs, t1, sizeof t1), "snapshot_name", have ? s.id : "",
                           "snapshot_size", sz, "restorable", have, "restores", restores));
        if (have) cat_snapshot_release(&s);
    }
    api_json(resp, 200, arr);
out:
    json_decref(sc.out);
    free(l.v);
    cat_group_release(&g);
    cat_object_release(&site);
}

/* ---------- GET objects ---------- */

/* exec_base: the base backup an execution restores from (malloc'd into *base): its own snapshot, or
 * for a kLog execution the newest base backup its WAL continues (svc_pg_plan_restore). 0, or -1 after
 * a 409 (no snapshot of the site, or nothing restorable). */
static int exec_base(struct api_req *req, struct api_resp *resp, const struct site_exec *x, char **base)
{
    struct svc_pg_plan plan = { 0 };
    char err[300];
    int rc;
    *base = NULL;
    if (!x->have_snap) {
        api_error(resp, 409, "NotRestorable", "execution-id: execution '%s' (%s) holds no snapshot of this site",
                  x->id, x->run.status);
        return -1;
    }
    rc = svc_pg_plan_restore(api_ctx(req)->cat, req->tenant, x->snap.id, 0, &plan, err, sizeof err);
    if (rc != 0) {
        api_error(resp, 409, "NotRestorable", "execution-id: execution '%s' cannot be restored: %s", x->id,
                  rc == -ENOENT ? "its snapshot is not a PostgreSQL snapshot" : err);
        return -1;
    }
    *base = strdup(plan.base_snapshot_id);
    svc_pg_plan_release(&plan);
    if (!*base) {
        api_error(resp, 500, "InternalError", "out of memory");
        return -1;
    }
    return 0;
}

/* The objects of a base backup as the spec's job objects. */
struct objs_ctx {
    const char *instance_name;
    json_t *arr;
};
static int objs_fn(void *ud, const struct cat_snapshot_object *o)
{
    struct objs_ctx *c = ud;
    int db = strcmp(o->kind, "database") == 0;
    json_array_append_new(c->arr, json_pack("{s:s,s:s,s:s,s:s,s:I}", "object_name", o->name, "object_type",
                                            db ? "DATABASE" : "TABLE", "parent_name",
                                            db ? c->instance_name : (o->parent ? o->parent : ""), "parent_type",
                                            db ? "INSTANCE" : "DATABASE", "size_bytes", (json_int_t)o->bytes));
    return 0;
}
/* exec_objects: the job objects of base (a new array), or NULL after a 500. */
static json_t *exec_objects(struct api_req *req, struct api_resp *resp, const struct cat_object *site,
                            const char *base)
{
    struct objs_ctx c = { site->name, json_array() };
    if (cat_snapshot_objects_list(api_ctx(req)->cat, req->tenant, base, objs_fn, &c) < 0) {
        api_catalog_error(resp, 0, "listing the execution's objects");
        json_decref(c.arr);
        return NULL;
    }
    return c.arr;
}

static void get_objects(struct api_req *req, struct api_resp *resp)
{
    struct cat_object site;
    struct cat_group g;
    struct site_exec x;
    char *base = NULL;
    json_t *arr;
    if (path_load(req, resp, &site, &g, req->params[2], &x) != 0) return;
    if (exec_base(req, resp, &x, &base) == 0 && (arr = exec_objects(req, resp, &site, base)) != NULL)
        api_json(resp, 200, arr);
    free(base);
    site_exec_release(&x);
    cat_group_release(&g);
    cat_object_release(&site);
}

/* ---------- POST restores ---------- */

/* find_object: the job object of objs with this type, name and (for a table) parent; NULL if none. */
static json_t *find_object(json_t *objs, const char *type, const char *name, const char *parent)
{
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o) {
        if (strcmp(json_string_value(json_object_get(o, "object_type")), type) != 0 ||
            strcmp(json_string_value(json_object_get(o, "object_name")), name) != 0)
            continue;
        if (!parent || strcmp(json_string_value(json_object_get(o, "parent_name")), parent) == 0) return o;
    }
    return NULL;
}

/* check_in_execution: every requested object (and every excluded table) is in the execution's base
 * backup; 0, or -1 after a 404/400 naming the field. */
static int check_in_execution(struct api_resp *resp, const struct site_restore_req *r, json_t *objs,
                              const struct cat_object *site, const char *exec_id, json_t *body)
{
    json_t *items = json_object_get(json_object_get(body, "job_settings"), "objects");
    for (size_t i = 0; i < r->n_objects; i++) {
        const struct site_req_object *o = &r->objects[i];
        const char *parent = json_string_value(json_object_get(json_array_get(items, i), "parent_name"));
        if (!find_object(objs, "DATABASE", o->database, NULL)) {
            api_error(resp, 404, "NotFound", "field 'job_settings.objects[%zu].%s': database '%.80s' is not in "
                                             "execution '%s'", i, o->kind == SITE_OBJ_TABLE ? "parent_name" :
                                             "object_name", o->database, exec_id);
            return -1;
        }
        if (o->kind == SITE_OBJ_DATABASE) {
            if (parent && strcmp(parent, site->name) != 0) {
                api_error(resp, 400, "InvalidField", "field 'job_settings.objects[%zu].parent_name' ('%.80s') must "
                                                     "be the site's instance ('%s')", i, parent, site->name);
                return -1;
            }
            for (size_t k = 0; k < o->n_excludes; k++)
                if (!find_object(objs, "TABLE", o->excludes[k], o->database)) {
                    api_error(resp, 404, "NotFound", "field 'job_settings.objects[%zu].exclude_objects[%zu]': table "
                                                     "'%s' is not in database '%s' of execution '%s'", i, k,
                              o->excludes[k], o->database, exec_id);
                    return -1;
                }
        } else if (!find_object(objs, "TABLE", o->table, o->database)) {
            api_error(resp, 404, "NotFound", "field 'job_settings.objects[%zu].object_name': table '%s' of database "
                                             "'%s' is not in execution '%s'", i, o->table, o->database, exec_id);
            return -1;
        }
    }
    return 0;
}

/* check_targets: asks the target instance, through the job's own check (sql_restore_precheck), whether
 * the restore may write: a copy never writes the source objects (409), and a copy, a rename or a
 * restore into another database never replaces an existing object (409); only a normal restore under
 * the objects' own names replaces them (those items are not asked about). 0, or -1 answered. */
static int check_targets(struct api_req *req, struct api_resp *resp, const struct site_restore_req *r,
                         const struct sql_restore_spec *spec)
{
    struct sql_restore_spec chk = { 0 };
    size_t *map = calloc(r->n_objects ? r->n_objects : 1, sizeof *map);
    char err[800];
    int item = -1, rc = 0;
    if (!map) goto oom;
    chk.scope = spec->scope;
    chk.source_instance_id = spec->source_instance_id;
    chk.target_instance_id = spec->target_instance_id;
    chk.copy_only = spec->copy_only;
    chk.overwrite = 0;
    if (spec->target_database && !(chk.target_database = strdup(spec->target_database))) goto oom;
    for (size_t i = 0; i < spec->n_items; i++) {
        const struct sql_restore_item *it = &spec->items[i];
        if (!r->copy && !it->rename_to && !r->target_database) continue;
        if (sql_restore_spec_add_item(&chk, it->kind, it->database, it->table, it->rename_to,
                                      (const char *const *)it->excludes, it->n_excludes) != 0)
            goto oom;
        map[chk.n_items - 1] = i;
    }
    if (chk.n_items > 0)
        rc = sql_restore_precheck(api_ctx(req)->cat, api_ctx(req)->repo, req->tenant, &chk, &item, err, sizeof err);
    if (rc != 0) {
        size_t i = item >= 0 ? map[item] : 0;
        char f[128];
        if (rc == -EPERM) {
            api_error(resp, 409, "Conflict", "field 'job_settings.run_as_a_copy_job': job_settings.objects[%zu]: %s; "
                      "give it rename_to, or restore_to_a_different_database_on_target_site, or another target_site",
                      i, err);
        } else if (rc == -EEXIST) {
            if (r->objects[i].rename_to) snprintf(f, sizeof f, "job_settings.objects[%zu].rename_to", i);
            else if (r->target_database) snprintf(f, sizeof f, "job_settings.restore_to_a_different_database_on_target_site");
            else snprintf(f, sizeof f, "job_settings.run_as_a_copy_job");
            api_error(resp, 409, "Conflict", "field '%s': job_settings.objects[%zu]: %s (a copy, a rename or a restore "
                      "into another database never replaces an existing object)", f, i, err);
        } else if (rc == -ENOENT) {
            api_error(resp, 404, "NotFound", "field 'target_site': %s", err);
        } else if (rc == -ENOTSUP) {
            api_error(resp, 400, "InvalidField", "field 'target_site': %s", err);
        } else if (rc == -EAGAIN) {
            api_error(resp, 503, "Unavailable", "the target site's password cannot be read now: %s", err);
        } else {
            api_error(resp, 502, "TargetUnavailable", "cannot check the target site %" PRId64 ": %s",
                      spec->target_instance_id, err);
        }
        rc = -1;
    }
    sql_restore_spec_release(&chk);
    free(map);
    return rc;
oom:
    sql_restore_spec_release(&chk);
    free(map);
    api_error(resp, 500, "InternalError", "out of memory");
    return -1;
}

/* build_spec: the SQL restore job of the validated request. 0 or -ENOMEM. */
static int build_spec(const struct site_restore_req *r, const char *snapshot_id, int64_t source, int64_t target,
                      struct sql_restore_spec *s)
{
    memset(s, 0, sizeof *s);
    s->scope = SQL_RESTORE_OBJECTS;
    s->source_instance_id = source;
    s->target_instance_id = target;
    s->overwrite = !r->copy;
    s->copy_only = r->copy;
    s->continue_on_access_violation = r->continue_on_violation;
    s->skip_analyze = r->skip_statistics;
    s->skip_indexes = r->skip_indexes;
    if (!(s->snapshot_id = strdup(snapshot_id))) return -ENOMEM;
    if (r->target_database && !(s->target_database = strdup(r->target_database))) return -ENOMEM;
    for (size_t i = 0; i < r->n_objects; i++) {
        const struct site_req_object *o = &r->objects[i];
        int rc = sql_restore_spec_add_item(s, o->kind == SITE_OBJ_DATABASE ? SQL_ITEM_DATABASE : SQL_ITEM_TABLE,
                                           o->database, o->kind == SITE_OBJ_TABLE ? o->table : NULL, o->rename_to,
                                           (const char *const *)o->excludes, o->n_excludes);
        if (rc != 0) return rc;
    }
    return 0;
}

/* answer_202: the restore as the spec shows it, with x-resource-id. */
static void answer_202(struct api_req *req, struct api_resp *resp, const char *id)
{
    struct cat_recovery rec;
    struct MHD_Response *mr;
    json_t *view;
    char *text;
    int64_t seq = 0;
    char hdr[24];
    if (cat_recovery_get(api_ctx(req)->cat, req->tenant, id, &rec) != 0) {
        api_error(resp, 500, "InternalError", "catalog error while reading the restore back");
        return;
    }
    view = restore_view_json(req, &rec);
    text = view ? json_dumps(view, JSON_COMPACT) : NULL;
    json_decref(view);
    cat_recovery_release(&rec);
    api_id_parse(id, NULL, NULL, &seq);
    snprintf(hdr, sizeof hdr, "%" PRId64, seq);
    if (!text || !(mr = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE))) {
        free(text);
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    MHD_add_response_header(mr, "Content-Type", "application/json");
    MHD_add_response_header(mr, "x-resource-id", hdr);
    resp->raw = mr;
    resp->status = 202;
}

static void post_restore(struct api_req *req, struct api_resp *resp)
{
    struct cat_object site, target;
    struct cat_group g;
    struct site_exec x;
    struct site_restore_req r;
    struct sql_restore_spec spec = { 0 };
    int have_r = 0, have_target = 0;
    int64_t target_id;
    char *base = NULL, id[API_ID_MAX];
    json_t *body = NULL, *objs = NULL, *request = NULL, *doc = NULL;
    if (path_load(req, resp, &site, &g, req->params[2], &x) != 0) return;
    if (!(body = api_body_object(req, resp)) || !(have_r = site_restore_req_parse(resp, body, &r))) goto out;
    if (exec_base(req, resp, &x, &base) != 0 || !(objs = exec_objects(req, resp, &site, base))) goto out;
    if (check_in_execution(resp, &r, objs, &site, x.id, body) != 0) goto out;
    target_id = r.target_site ? r.target_site : site.id;
    if (target_id != site.id) {
        char tid[24];
        snprintf(tid, sizeof tid, "%" PRId64, target_id);
        if (site_load(req, resp, "field 'target_site'", tid, &target) != 0) goto out;
        have_target = 1;
    }
    if (build_spec(&r, x.snap.id, site.id, target_id, &spec) != 0 || !(request = sql_restore_spec_doc(&spec))) {
        api_error(resp, 500, "InternalError", "out of memory");
        goto out;
    }
    if (check_targets(req, resp, &r, &spec) != 0) goto out;
    doc = json_pack("{s:O,s:s,s:s}", "siteRestoreRequest", body, "siteJobId", g.id, "siteExecutionId", x.id);
    {
        struct api_rec_new q = { .name = r.name, .kind = SITE_KIND, .environment = "kSQL",
                                 .action = r.copy ? "CloneApps" : "RecoverApps", .snapshot_id = x.snap.id,
                                 .object_id = site.id, .request = request, .doc = doc };
        if (api_rec_queue(req, resp, &q, id, sizeof id) != 0) goto out;
    }
    answer_202(req, resp, id);
out:
    json_decref(doc);
    json_decref(request);
    sql_restore_spec_release(&spec);
    if (have_target) cat_object_release(&target);
    json_decref(objs);
    free(base);
    if (have_r) site_restore_req_release(&r);
    json_decref(body);
    site_exec_release(&x);
    cat_group_release(&g);
    cat_object_release(&site);
}

/* ---------- GET restores ---------- */

static void get_restore(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    struct cat_object site;
    struct cat_group g;
    struct site_exec x;
    struct cat_recovery rec;
    int64_t no = 0, cluster, incarnation;
    char id[API_ID_MAX];
    int rc;
    if (path_load(req, resp, &site, &g, req->params[2], &x) != 0) return;
    if (!site_id_parse(req->params[3], &no) || cat_installation(cat, &cluster, &incarnation) != 0) {
        api_error(resp, 404, "NotFound", "restore-id: restore '%.80s' not found (a restore id is a positive integer)",
                  req->params[3]);
        goto out;
    }
    api_id_format(id, sizeof id, cluster, incarnation, no);
    rc = cat_recovery_get(cat, req->tenant, id, &rec);
    if (rc == 0 && (strcmp(rec.kind, SITE_KIND) != 0 || !x.have_snap || !rec.snapshot_id ||
                    strcmp(rec.snapshot_id, x.snap.id) != 0 || rec.object_id != site.id)) {
        cat_recovery_release(&rec);
        rc = CAT_NOT_FOUND;
    }
    if (rc == CAT_NOT_FOUND) {
        api_error(resp, 404, "NotFound", "restore-id: execution '%s' of job '%s' has no restore %" PRId64, x.id, g.id,
                  no);
        goto out;
    }
    if (rc != 0) {
        api_catalog_error(resp, rc, "reading the restore");
        goto out;
    }
    api_json(resp, 200, restore_view_json(req, &rec));
    cat_recovery_release(&rec);
out:
    site_exec_release(&x);
    cat_group_release(&g);
    cat_object_release(&site);
}

static void get_site_restores(struct api_req *req, struct api_resp *resp)
{
    struct cat_object site;
    struct restore_scan sc = { .req = req, .keep = keep_of_site };
    if (site_load(req, resp, "site-id", req->params[0], &site) != 0) return;
    sc.site = site.id;
    sc.out = json_array();
    if (restore_scan(&sc) < 0) {
        json_decref(sc.out);
        api_catalog_error(resp, 0, "listing the site's restores");
    } else {
        api_json(resp, 200, sc.out);
    }
    cat_object_release(&site);
}

/* ---------- POST restore-permissions ---------- */

/* Body (optional): {"databases": ["name", ...]} the databases the caller means to restore into.
 * Answer: whether the registration's role can connect (credentials valid), whether it may create
 * databases, and per named database whether it exists and can take new tables; has_permission is
 * the verdict (every named database writable, or creatable; with none named: databases creatable). */
static void post_permissions(struct api_req *req, struct api_resp *resp)
{
    static const char *const allowed[] = { "databases", NULL };
    struct cat_object site;
    struct svc_pg_target tgt = { 0 };
    struct svc_pg_role role;
    json_t *body = NULL, *dbs = NULL, *out_dbs = json_array(), *reasons = json_array(), *v;
    char err[400];
    int rc, ok, have_tgt = 0;
    size_t i;
    const char *key;
    if (site_load(req, resp, "site-id", req->params[0], &site) != 0) goto done;
    if (req->body && req->body_len > 0) {
        if (!(body = api_body_object(req, resp))) goto out;
        json_object_foreach(body, key, v)
            if (!jv_enum_ok(key, allowed)) {
                api_error(resp, 400, "InvalidField", "field '%.200s' is not a field of this request", key);
                goto out;
            }
        if (!jv_str_array(resp, body, NULL, "databases", 0, 1, &dbs)) goto out;
        if (json_array_size(dbs) > SITE_MAX_PERMISSION_DBS) {
            jv_fail(resp, NULL, "databases", "names more than %d databases", SITE_MAX_PERMISSION_DBS);
            goto out;
        }
        json_array_foreach(dbs, i, v) {
            const char *why = site_ident_problem(json_string_value(v));
            if (why || strlen(json_string_value(v)) != json_string_length(v)) {
                api_error(resp, 400, "InvalidField", "field 'databases[%zu]' ('%.80s') %s", i, json_string_value(v),
                          why ? why : "must not contain a NUL character");
                goto out;
            }
        }
    }
    rc = svc_pg_target(api_ctx(req)->cat, api_ctx(req)->repo, req->tenant, site.id, &tgt, err, sizeof err);
    if (rc != 0) {
        if (rc == -EAGAIN) api_error(resp, 503, "Unavailable", "the site's password cannot be read: %s", err);
        else api_catalog_error(resp, rc, "reading the site's registration");
        goto out;
    }
    have_tgt = 1;
    rc = svc_pg_role_rights(&tgt, &role, err, sizeof err);
    if (rc != 0) {
        json_array_append_new(reasons, json_string(err));
        api_json(resp, 200, json_pack("{s:s,s:b,s:b,s:n,s:b,s:o,s:o}", "site_id", req->params[0], "has_permission", 0,
                                      "credentials_valid", 0, "user", "can_create_databases", 0, "databases",
                                      out_dbs, "reasons", reasons));
        out_dbs = reasons = NULL;
        goto out;
    }
    ok = json_array_size(dbs) > 0 || role.createdb;
    if (!json_array_size(dbs) && !role.createdb) {
        snprintf(err, sizeof err, "role '%s' may not create databases (CREATEDB)", role.name);
        json_array_append_new(reasons, json_string(err));
    }
    json_array_foreach(dbs, i, v) {
        struct svc_pg_db_rights dr;
        const char *db = json_string_value(v);
        int writable;
        rc = svc_pg_db_rights(&tgt, db, &dr, err, sizeof err);
        if (rc != 0) {
            json_array_append_new(reasons, json_string(err));
            ok = 0;
            continue;
        }
        writable = dr.exists ? dr.can_connect && dr.can_create : role.createdb;
        if (!writable) {
            ok = 0;
            if (dr.exists)
                snprintf(err, sizeof err, "role '%s' may not %s database '%s'", role.name,
                         dr.can_connect ? "create tables in (schema public) of" : "connect to", db);
            else
                snprintf(err, sizeof err, "database '%s' does not exist and role '%s' may not create it", db,
                         role.name);
            json_array_append_new(reasons, json_string(err));
        }
        json_array_append_new(out_dbs, json_pack("{s:s,s:b,s:b,s:b,s:b}", "name", db, "exists", dr.exists,
                                                 "can_connect", dr.can_connect, "can_create_tables", dr.can_create,
                                                 "writable", writable));
    }
    api_json(resp, 200, json_pack("{s:s,s:b,s:b,s:s,s:b,s:o,s:o}", "site_id", req->params[0], "has_permission", ok,
                                  "credentials_valid", 1, "user", role.name, "can_create_databases", role.createdb,
                                  "databases", out_dbs, "reasons", reasons));
    out_dbs = reasons = NULL;
out:
    if (have_tgt) svc_pg_target_release(&tgt);
    json_decref(body);
    cat_object_release(&site);
done:
    json_decref(out_dbs);
    json_decref(reasons);
}

#define SITES "/data-protection/v2/sites/{site-id}"
#define EXEC SITES "/jobs/{job-id}/executions/{execution-id}"
const struct api_route api_routes_site[] = {
    { "GET", SITES "/databases", get_databases, 0, API_ROLE_VIEWER },
    { "GET", SITES "/jobs", get_jobs, 0, API_ROLE_VIEWER },
    { "GET", SITES "/jobs/{job-id}/executions", get_executions, 0, API_ROLE_VIEWER },
    { "GET", EXEC "/objects", get_objects, 0, API_ROLE_VIEWER },
    { "POST", EXEC "/restores", post_restore, 0, API_ROLE_OPERATOR },
    { "GET", EXEC "/restores/{restore-id}", get_restore, 0, API_ROLE_VIEWER },
    { "GET", SITES "/restores", get_site_restores, 0, API_ROLE_VIEWER },
    { "POST", SITES "/restore-permissions", post_permissions, 0, API_ROLE_OPERATOR },
    { NULL, NULL, NULL, 0, 0 },
};
