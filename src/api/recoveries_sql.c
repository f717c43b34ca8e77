/* recoveries_sql.c: PostgreSQL recoveries through POST /v2/data-protect/recoveries with
 * snapshotEnvironment kSQL and mssqlParams (RecoverSqlParams), and how they are shown.
 *
 * mssqlParams.recoveryAction is RecoverApps or CloneApps (CloneApps: copy_only, the source objects
 * are never written). Each recoverAppParams[i] names a SQL snapshot (snapshotId: a kFull/kRegular
 * base backup or a kLog snapshot of an instance, as GetObjectSnapshots lists them), an optional
 * moment (pointInTimeUsecs, or the config's restoreTimeUsecs; absent: the snapshot's own point),
 * targetEnvironment kSQL, what to restore (objectInfo.id: a kDatabase or kTable object of the
 * snapshot's instance; absent or the kInstance: the whole instance) and where (sqlTargetParams):
 *   recoverToNewSource false, originalSourceConfig: the snapshot's own instance. An instance:
 *     over its data directory (overwritingPolicy Overwrite required; FailIfExists is 409). A
 *     database: under newDatabaseName (default its own name). A table: into the database
 *     newDatabaseName (default its own), same name.
 *   recoverToNewSource true, newSourceConfig: an instance with no databaseName: a new instance in
 *     dataFileDirectoryLocation (absolute; [A-Za-z0-9/._+-]), its port given as instanceName
 *     "port:NNNN", host.id a kSQL registration or instance of the tenant (the new server runs on
 *     this machine). A database or table: into the instance host.id names (a kInstance, or a kSQL
 *     registration whose instance is named instanceName), the database under databaseName (a
 *     table: into the database databaseName).
 *   overwritingPolicy FailIfExists (default: an existing target database/table is 409 before
 *   anything is queued, and the job checks again) or Overwrite.
 * Several recoverAppParams are one job when each names a database and all share the snapshot, the
 * moment, the target and the policy; an instance or a table is one recoverAppParams. withNoRecovery
 * true is refused (PostgreSQL has no such state); keepCdc, multiStageRestoreOptions, the native
 * clauses, logFileDirectoryLocation and secondaryDataFilesDirList have nothing to act on.
 *
 * The typed spec (sched/sql_restore_spec.h) is queued as a "sql_restore" recovery. A Recovery
 * shows mssqlParams as sent, each recoverAppParams with status, times, bytesRestored and messages,
 * and "cofferObjects": the per-object results (what was written, status, bytes). */
#include "api/recoveries_sql.h"
#include "api/recoveries.h"
#include "api/jv.h"
#include "api/resid.h"
#include "catalog/cat_snapshot.h"
#include "catalog/cat_source.h"
#include "sched/sched.h"
#include "sched/sql_restore_spec.h"
#include "svc/pg_plan.h"
#include "svc/pg_target.h"
#include "util/time.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APP_MAX 100
#define NAME_MAX_PG 63

static const char *const g_sql_actions[] = { "CloneApps", "RecoverApps", NULL };
static const char *const g_policies[] = { "FailIfExists", "Overwrite", NULL };
static const char *const g_target_envs[] = { "kSQL", NULL };

/* One validated recoverAppParams. */
struct app {
    char path[96];               /* "mssqlParams.recoverAppParams[i]" */
    const char *snapshot_id;
    int64_t point;
    int64_t instance_id;         /* the snapshot's instance */
    char *db, *table;            /* the source object (NULL, NULL: the instance) */
    int new_source;
    int64_t target_instance;
    const char *new_name;        /* database: its new name; table: the target database */
    const char *new_name_field;
    int overwrite;
    const char *policy_field;
    const char *data_dir;
    int port;
    int64_t host_id;             /* a new instance: the host.id it goes to */
};

static void app_release(struct app *a)
{
    free(a->db);
    free(a->table);
}

/* A PostgreSQL name from a client: 1..63 bytes, no control characters. */
static int name_ok(struct api_resp *resp, const char *field_path, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > NAME_MAX_PG) {
        api_error(resp, 400, "InvalidField", "field '%s' must be 1 to %d bytes long", field_path, NAME_MAX_PG);
        return 0;
    }
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            api_error(resp, 400, "InvalidField", "field '%s' must not hold control characters", field_path);
            return 0;
        }
    return 1;
}

/* An absolute, normalized directory of [A-Za-z0-9/._+-]: no empty, "." or ".." component. */
static int dir_ok(struct api_resp *resp, const char *field_path, const char *d)
{
    size_t n = strlen(d);
    int bad = d[0] != '/' || n < 2 || d[n - 1] == '/' || strstr(d, "//") || strstr(d, "/./") || strstr(d, "/../") ||
              (n >= 2 && strcmp(d + n - 2, "/.") == 0) || (n >= 3 && strcmp(d + n - 3, "/..") == 0);
    if (bad) {
        api_error(resp, 400, "InvalidField", "field '%s' ('%.200s') must be an absolute, normalized directory path "
                                             "(no '//', '.' or '..' component, no trailing '/')", field_path, d);
        return 0;
    }
    for (const char *c = d; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '/' ||
              *c == '.' || *c == '_' || *c == '+' || *c == '-')) {
            api_error(resp, 400, "InvalidField", "field '%s' may hold only letters, digits and / . _ + - (PostgreSQL's "
                                                 "pg_ctl passes it through a shell)", field_path);
            return 0;
        }
    if (strlen(d) > 1000) {
        api_error(resp, 400, "InvalidField", "field '%s' is longer than 1000 bytes", field_path);
        return 0;
    }
    return 1;
}

struct find_obj { const char *kind, *name, *parent; int found; };
static int find_obj_cb(void *ud, const struct cat_snapshot_object *o)
{
    struct find_obj *f = ud;
    if (strcmp(o->kind, f->kind) == 0 && strcmp(o->name, f->name) == 0 &&
        (!f->parent || (o->parent && strcmp(o->parent, f->parent) == 0)))
        f->found = 1;
    return f->found;
}

static int count_cb(void *ud, const struct cat_snapshot_object *o)
{
    (void)o;
    ++*(int *)ud;
    return 0;
}

/* The kInstance object host.id and instanceName name; 0 or -1 after answering. */
static int resolve_target(struct api_req *req, struct api_resp *resp, struct app *a, int64_t host_id,
                          const char *instance_name)
{
    struct cat *cat = api_ctx(req)->cat;
    struct cat_object o;
    char f[160];
    snprintf(f, sizeof f, "%.95s.sqlTargetParams.newSourceConfig.host.id", a->path);
    int rc = cat_object_get(cat, req->tenant, host_id, &o);
    if (rc == CAT_NOT_FOUND || (rc == 0 && o.is_deleted)) {
        if (rc == 0) cat_object_release(&o);
        api_error(resp, 404, "NotFound", "field '%s': no registered object %lld", f, (long long)host_id);
        return -1;
    }
    if (rc != 0) {
        api_error(resp, 500, "InternalError", "catalog error while reading object %lld", (long long)host_id);
        return -1;
    }
    int ok = 0;
    if (strcmp(o.environment, "kSQL") == 0 && strcmp(o.object_type, "kInstance") == 0) {
        a->target_instance = o.id;
        ok = 1;
    } else if (strcmp(o.object_type, "kHost") == 0) {
        struct cat_object *kids = NULL;
        size_t n = 0, k = 0;
        int64_t only = 0;
        if (cat_object_children(cat, req->tenant, o.id, &kids, &n) == 0) {
            for (size_t i = 0; i < n; i++) {
                if (strcmp(kids[i].object_type, "kInstance") != 0 || strcmp(kids[i].environment, "kSQL") != 0) continue;
                k++;
                only = kids[i].id;
                if (instance_name && strcmp(kids[i].name, instance_name) == 0) { a->target_instance = kids[i].id; ok = 1; }
            }
            for (size_t i = 0; i < n; i++) cat_object_release(&kids[i]);
            free(kids);
        }
        if (!ok && k == 1) { a->target_instance = only; ok = 1; }
    }
    cat_object_release(&o);
    if (!ok) {
        api_error(resp, 400, "InvalidField", "field '%s': object %lld is not a PostgreSQL instance, nor a kSQL "
                                             "registration with an instance named by instanceName ('%.100s')",
                  f, (long long)host_id, instance_name ? instance_name : "");
        return -1;
    }
    return 0;
}

/* Validates recoverAppParams[i] into a; 0 or -1 after answering. */
static int app_parse(struct api_req *req, struct api_resp *resp, json_t *p, size_t i, int copy_only, struct app *a)
{
    struct cat *cat = api_ctx(req)->cat;
    json_t *oi = NULL, *stp = NULL, *nsc = NULL, *osc = NULL, *host = NULL, *cfg;
    const char *policy = NULL, *instance_name = NULL, *dname = NULL;
    int64_t point = 0, rtime = 0, object_id = 0, host_id = 0;
    int has_point = 0, has_rtime = 0, has_object = 0, wnr = 0, tail_logs = 0;
    char pfx[160], cpfx[200], f[300], err[1024] = "";
    snprintf(a->path, sizeof a->path, "mssqlParams.recoverAppParams[%zu]", i);
    if (!json_is_object(p)) {
        api_error(resp, 400, "InvalidField", "field '%s' must be an object", a->path);
        return -1;
    }
    if (!jv_str_nonempty(resp, p, a->path, "snapshotId", 1, &a->snapshot_id) ||
        !jv_int_range(resp, p, a->path, "pointInTimeUsecs", 0, 0, INT64_MAX, &point, &has_point) ||
        !jv_enum(resp, p, a->path, "targetEnvironment", 1, g_target_envs, NULL) ||
        !jv_obj(resp, p, a->path, "objectInfo", 0, &oi) ||
        !jv_int(resp, oi, jv_path(pfx, sizeof pfx, a->path, "objectInfo"), "id", 0, &object_id, &has_object) ||
        !jv_obj(resp, p, a->path, "sqlTargetParams", 1, &stp) ||
        !jv_bool(resp, stp, jv_path(pfx, sizeof pfx, a->path, "sqlTargetParams"), "recoverToNewSource", 1,
                 &a->new_source, NULL))
        return -1;
    snprintf(pfx, sizeof pfx, "%.95s.sqlTargetParams", a->path);
    if (a->new_source) {
        if (!jv_obj(resp, stp, pfx, "newSourceConfig", 1, &nsc)) return -1;
        snprintf(cpfx, sizeof cpfx, "%.159s.newSourceConfig", pfx);
        if (!jv_obj(resp, nsc, cpfx, "host", 1, &host) ||
            !jv_int(resp, host, jv_path(f, sizeof f, cpfx, "host"), "id", 1, &host_id, NULL) ||
            !jv_str_nonempty(resp, nsc, cpfx, "instanceName", 1, &instance_name) ||
            !jv_str(resp, nsc, cpfx, "dataFileDirectoryLocation", 0, &a->data_dir) ||
            !jv_str(resp, nsc, cpfx, "logFileDirectoryLocation", 0, NULL) ||
            !jv_str(resp, nsc, cpfx, "databaseName", 0, &dname))
            return -1;
        cfg = nsc;
        a->new_name = dname && *dname ? dname : NULL;
        a->new_name_field = "newSourceConfig.databaseName";
    } else {
        if (!jv_obj(resp, stp, pfx, "originalSourceConfig", 0, &osc)) return -1;
        snprintf(cpfx, sizeof cpfx, "%.159s.originalSourceConfig", pfx);
        if (!jv_str(resp, osc, cpfx, "newDatabaseName", 0, &dname) ||
            !jv_str(resp, osc, cpfx, "dataFileDirectoryLocation", 0, NULL) ||
            !jv_str(resp, osc, cpfx, "logFileDirectoryLocation", 0, NULL) ||
            !jv_bool(resp, osc, cpfx, "captureTailLogs", 0, &tail_logs, NULL))
            return -1;
        cfg = osc;
        a->new_name = dname && *dname ? dname : NULL;
        a->new_name_field = "originalSourceConfig.newDatabaseName";
    }
    if (!jv_enum(resp, cfg, cpfx, "overwritingPolicy", 0, g_policies, &policy) ||
        !jv_int_range(resp, cfg, cpfx, "restoreTimeUsecs", 0, 0, INT64_MAX, &rtime, &has_rtime) ||
        !jv_bool(resp, cfg, cpfx, "withNoRecovery", 0, &wnr, NULL))
        return -1;
    a->overwrite = policy && strcmp(policy, "Overwrite") == 0;
    a->policy_field = a->new_source ? "newSourceConfig.overwritingPolicy" : "originalSourceConfig.overwritingPolicy";
    if (wnr) {
        api_error(resp, 400, "Unsupported", "field '%s.withNoRecovery' true is not supported: a restored PostgreSQL "
                                            "database is always recovered and open", cpfx);
        return -1;
    }
    if (has_point && has_rtime && point != rtime && point && rtime) {
        api_error(resp, 400, "InvalidField", "fields '%s.pointInTimeUsecs' (%lld) and '%s.restoreTimeUsecs' (%lld) "
                                             "contradict each other", a->path, (long long)point, cpfx, (long long)rtime);
        return -1;
    }
    a->point = point ? point : rtime;
    if (a->new_name) {
        snprintf(f, sizeof f, "%.95s.sqlTargetParams.%s", a->path, a->new_name_field);
        if (!name_ok(resp, f, a->new_name)) return -1;
    }

    /* the snapshot */
    struct cat_snapshot snap;
    snprintf(f, sizeof f, "%.95s.snapshotId", a->path);
    int rc = cat_snapshot_get(cat, req->tenant, a->snapshot_id, &snap);
    if (rc == CAT_NOT_FOUND || (rc == 0 && snap.is_deleted)) {
        if (rc == 0) cat_snapshot_release(&snap);
        api_error(resp, 404, "NotFound", "field '%s': snapshot '%.80s' not found", f, a->snapshot_id);
        return -1;
    }
    if (rc != 0) {
        api_error(resp, 500, "InternalError", "catalog error while reading snapshot '%.80s'", a->snapshot_id);
        return -1;
    }
    int sql = strcmp(snap.environment, "kSQL") == 0 && snap.sql.present;
    a->instance_id = snap.object_id;
    if (!sql) {
        api_error(resp, 400, "InvalidField", "field '%s': snapshot '%.80s' is a %s snapshot, not a SQL one (kSQL)", f,
                  a->snapshot_id, snap.environment);
        cat_snapshot_release(&snap);
        return -1;
    }
    cat_snapshot_release(&snap);
    /* the moment */
    struct svc_pg_plan plan;
    rc = svc_pg_plan_restore(cat, req->tenant, a->snapshot_id, a->point, &plan, err, sizeof err);
    if (rc == -ERANGE) {
        api_error(resp, 400, "InvalidField", "field '%s.pointInTimeUsecs' (%lld): %s", a->path, (long long)a->point, err);
        return -1;
    }
    if (rc == -ENOENT) {
        api_error(resp, 404, "NotFound", "field '%s': %s", f, err);
        return -1;
    }
    if (rc != 0) {
        api_error(resp, 500, "InternalError", "cannot plan the restore of snapshot '%.80s': %s", a->snapshot_id, err);
        return -1;
    }
    /* what to restore */
    if (has_object) {
        struct svc_pg_target t;
        snprintf(f, sizeof f, "%.95s.objectInfo.id", a->path);
        rc = svc_pg_target(cat, api_ctx(req)->repo, req->tenant, object_id, &t, err, sizeof err);
        if (rc == -ENOENT) {
            api_error(resp, 404, "NotFound", "field '%s': no kSQL object %lld", f, (long long)object_id);
        } else if (rc == -EAGAIN) {
            api_error(resp, 503, "Unavailable", "the repository is not available to open the registration's password");
        } else if (rc != 0) {
            api_error(resp, 500, "InternalError", "cannot resolve object %lld: %s", (long long)object_id, err);
        } else if (t.instance_id != a->instance_id) {
            api_error(resp, 400, "InvalidField", "field '%s': object %lld is not of the instance snapshot '%.80s' is of",
                      f, (long long)object_id, a->snapshot_id);
            rc = -1;
        } else if (t.database && (!(a->db = strdup(t.database)) || (t.table && !(a->table = strdup(t.table))))) {
            api_error(resp, 500, "InternalError", "out of memory");
            rc = -1;
        }
        svc_pg_target_release(&t);
        if (rc) {
            svc_pg_plan_release(&plan);
            return -1;
        }
        if (a->db) {   /* in the base backup the restore starts from (when it lists its objects) */
            struct find_obj fo = { .kind = a->table ? "table" : "database", .name = a->table ? a->table : a->db,
                                   .parent = a->table ? a->db : NULL };
            int listed = 0;
            if (cat_snapshot_objects_list(cat, req->tenant, plan.base_snapshot_id, count_cb, &listed) >= 0 &&
                listed > 0 && cat_snapshot_objects_list(cat, req->tenant, plan.base_snapshot_id, find_obj_cb, &fo) >= 0 &&
                !fo.found) {
                api_error(resp, 404, "NotFound", "field '%s': %s '%.100s' is not in base backup %.16s... of the snapshot",
                          f, a->table ? "table" : "database", a->table ? a->table : a->db, plan.base_snapshot_id);
                svc_pg_plan_release(&plan);
                return -1;
            }
        }
    }
    svc_pg_plan_release(&plan);
    if (a->table && a->new_name && strchr(a->new_name, '.')) {
        api_error(resp, 400, "InvalidField", "field '%s.sqlTargetParams.%s' names the database the table goes into: "
                                             "no '.'", a->path, a->new_name_field);
        return -1;
    }

    /* where to */
    if (!a->db) {   /* the whole instance */
        if (a->new_source) {
            snprintf(f, sizeof f, "%.95s.sqlTargetParams.newSourceConfig", a->path);
            if (a->new_name) {
                api_error(resp, 400, "InvalidField", "field '%s.databaseName': to restore one database, objectInfo.id "
                                                     "must name a database of the snapshot (it names the instance)", f);
                return -1;
            }
            if (!a->data_dir || !*a->data_dir) {
                api_error(resp, 400, "MissingField", "field '%s.dataFileDirectoryLocation' is required to restore the "
                                                     "instance to a new data directory", f);
                return -1;
            }
            char df[260];
            snprintf(df, sizeof df, "%.200s.dataFileDirectoryLocation", f);
            if (!dir_ok(resp, df, a->data_dir)) return -1;
            char *end = NULL;
            long port = strncmp(instance_name, "port:", 5) == 0 ? strtol(instance_name + 5, &end, 10) : 0;
            if (!end || *end || port < 1024 || port > 65535) {
                api_error(resp, 400, "InvalidField", "field '%s.instanceName' must be \"port:NNNN\" (1024..65535): the "
                                                     "port the new instance listens on", f);
                return -1;
            }
            a->port = (int)port;
            a->host_id = host_id;
            char t[32], e[32];
            snprintf(f, sizeof f, "%.95s.sqlTargetParams.newSourceConfig.host.id", a->path);
            rc = cat_object_type_get(cat, req->tenant, host_id, t, sizeof t, e, sizeof e);
            if (rc == CAT_NOT_FOUND || (rc == 0 && strcmp(e, "kSQL") != 0)) {
                api_error(resp, rc == CAT_NOT_FOUND ? 404 : 400, rc == CAT_NOT_FOUND ? "NotFound" : "InvalidField",
                          "field '%s': %lld is not a kSQL registration or instance of this tenant", f, (long long)host_id);
                return -1;
            }
            if (rc != 0) {
                api_error(resp, 500, "InternalError", "catalog error while reading object %lld", (long long)host_id);
                return -1;
            }
        } else {
            if (copy_only) {
                api_error(resp, 400, "InvalidField", "field 'mssqlParams.recoveryAction' CloneApps never overwrites an "
                                                     "instance: set %s.sqlTargetParams.recoverToNewSource", a->path);
                return -1;
            }
            if (!a->overwrite) {
                api_error(resp, 409, "Conflict", "field '%s.sqlTargetParams.%s': the instance exists and the policy is "
                                                 "FailIfExists; Overwrite replaces the whole instance", a->path,
                          a->policy_field);
                return -1;
            }
            a->target_instance = a->instance_id;
        }
        return 0;
    }
    if (a->new_source) return resolve_target(req, resp, a, host_id, instance_name);
    a->target_instance = a->instance_id;
    return 0;
}

static void add_app_info(json_t *p, const struct cat_snapshot *s)
{
    if (!json_object_get(p, "protectionGroupId")) json_object_set_new(p, "protectionGroupId", json_string(s->group_id));
    if (!json_object_get(p, "protectionGroupName") && s->group_name)
        json_object_set_new(p, "protectionGroupName", json_string(s->group_name));
    if (!json_object_get(p, "snapshotCreationTimeUsecs"))
        json_object_set_new(p, "snapshotCreationTimeUsecs", json_integer(s->snapshot_usecs));
    if (!json_object_get(p, "snapshotTargetType")) json_object_set_new(p, "snapshotTargetType", json_string("Local"));
}

int api_recovery_sql_create(struct api_req *req, struct api_resp *resp, json_t *body, const char *name, char *id_out,
                            size_t id_len)
{
    struct cat *cat = api_ctx(req)->cat;
    struct sql_restore_spec spec = { 0 };
    struct app apps[APP_MAX];
    size_t n = 0;
    json_t *ms = NULL, *params = NULL, *doc = NULL, *request = NULL;
    const char *action = NULL;
    char err[1024] = "", f[300];
    int rc, ret = -1;
    memset(apps, 0, sizeof apps);
    if (!jv_obj(resp, body, NULL, "mssqlParams", 1, &ms) ||
        !jv_enum(resp, ms, "mssqlParams", "recoveryAction", 1, g_sql_actions, &action) ||
        !jv_arr(resp, ms, "mssqlParams", "recoverAppParams", 1, &params))
        return -1;
    if (json_object_get(body, "physicalParams")) {
        api_error(resp, 400, "InvalidField", "field 'physicalParams' does not go with snapshotEnvironment kSQL");
        return -1;
    }
    if (json_array_size(params) == 0 || json_array_size(params) > APP_MAX) {
        api_error(resp, 400, "InvalidField", "field 'mssqlParams.recoverAppParams' must hold 1 to %d objects", APP_MAX);
        return -1;
    }
    int copy_only = strcmp(action, "CloneApps") == 0;
    for (n = 0; n < json_array_size(params); n++)
        if (app_parse(req, resp, json_array_get(params, n), n, copy_only, &apps[n]) != 0) {
            n++;
            goto out;
        }
    /* one job: one instance, one table, or databases sharing snapshot, moment, target and policy */
    for (size_t i = 1; i < n; i++) {
        const struct app *a = &apps[0], *b = &apps[i];
        if (!a->db || a->table || !b->db || b->table) {
            api_error(resp, 400, "InvalidField", "field 'mssqlParams.recoverAppParams': an instance or a table is "
                                                 "restored alone (one recoverAppParams); several must all be databases");
            goto out;
        }
        if (strcmp(a->snapshot_id, b->snapshot_id) != 0 || a->point != b->point ||
            a->target_instance != b->target_instance || a->overwrite != b->overwrite) {
            api_error(resp, 400, "InvalidField", "field '%s': every recoverAppParams of one recovery must share the "
                                                 "snapshot, the point in time, the target and the overwriting policy",
                      b->path);
            goto out;
        }
    }
    /* the spec */
    const struct app *a0 = &apps[0];
    if (!(spec.snapshot_id = strdup(a0->snapshot_id))) goto oom;
    spec.point_usecs = a0->point;
    spec.source_instance_id = a0->instance_id;
    spec.target_instance_id = a0->target_instance;
    spec.overwrite = a0->overwrite;
    spec.copy_only = copy_only;
    if (!a0->db) {
        spec.scope = a0->new_source ? SQL_RESTORE_INSTANCE_NEW : SQL_RESTORE_INSTANCE_OVERWRITE;
        if (a0->new_source) {
            if (!(spec.data_dir = strdup(a0->data_dir))) goto oom;
            spec.port = a0->port;
            spec.host_id = a0->host_id;
            spec.target_instance_id = 0;
        }
    } else {
        spec.scope = SQL_RESTORE_OBJECTS;
        for (size_t i = 0; i < n; i++) {
            const struct app *a = &apps[i];
            if (a->table) {
                if (a->new_name && !(spec.target_database = strdup(a->new_name))) goto oom;
                if (sql_restore_spec_add_item(&spec, SQL_ITEM_TABLE, a->db, a->table, NULL, NULL, 0) != 0) goto oom;
            } else if (sql_restore_spec_add_item(&spec, SQL_ITEM_DATABASE, a->db, NULL, a->new_name, NULL, 0) != 0) {
                goto oom;
            }
        }
        /* two items writing one database */
        for (size_t i = 0; i < spec.n_items; i++)
            for (size_t k = i + 1; k < spec.n_items; k++) {
                const char *x = spec.items[i].rename_to ? spec.items[i].rename_to : spec.items[i].database;
                const char *y = spec.items[k].rename_to ? spec.items[k].rename_to : spec.items[k].database;
                if (strcmp(x, y) == 0) {
                    api_error(resp, 400, "InvalidField", "field '%s': database '%.100s' is written twice", apps[k].path, y);
                    goto out;
                }
            }
        int item = -1;
        rc = sql_restore_precheck(cat, api_ctx(req)->repo, req->tenant, &spec, &item, err, sizeof err);
        const char *ip = item >= 0 && (size_t)item < n ? apps[item].path : "mssqlParams.recoverAppParams";
        if (rc == -EEXIST) {
            api_error(resp, 409, "Conflict", "field '%s.sqlTargetParams.%s' is FailIfExists: %s", ip,
                      item >= 0 ? apps[item].policy_field : "overwritingPolicy", err);
            goto out;
        }
        if (rc == -EPERM) {
            snprintf(f, sizeof f, "%.95s.sqlTargetParams.%s", ip, item >= 0 ? apps[item].new_name_field : "");
            api_error(resp, 400, "InvalidField", "field '%s': %s", f, err);
            goto out;
        }
        if (rc == -ENOENT) {
            api_error(resp, 404, "NotFound", "field '%s.sqlTargetParams': %s", ip, err);
            goto out;
        }
        if (rc == -ENOTSUP) {
            api_error(resp, 400, "InvalidField", "field '%s.sqlTargetParams': %s", ip, err);
            goto out;
        }
        if (rc == -EAGAIN) {
            api_error(resp, 503, "Unavailable", "the repository is not available to open the registration's password");
            goto out;
        }
        if (rc != 0) {
            api_error(resp, 502, "TargetUnreachable", "the target instance cannot be checked: %s", err);
            goto out;
        }
    }
    /* the Recovery as stored: mssqlParams as sent, with what Coffer knows of each snapshot */
    doc = json_pack("{s:O}", "mssqlParams", ms);
    json_t *cp = doc ? json_deep_copy(ms) : NULL;
    if (!cp) goto oom;
    json_object_set_new(doc, "mssqlParams", cp);
    for (size_t i = 0; i < n; i++) {
        struct cat_snapshot s;
        if (cat_snapshot_get(cat, req->tenant, apps[i].snapshot_id, &s) == 0) {
            add_app_info(json_array_get(json_object_get(cp, "recoverAppParams"), i), &s);
            cat_snapshot_release(&s);
        }
    }
    if (!(request = sql_restore_spec_doc(&spec))) goto oom;
    {
        char id[API_ID_MAX];
        struct api_rec_new q = { .name = name, .kind = "sql_restore", .environment = "kSQL", .action = action,
                                 .snapshot_id = spec.snapshot_id, .object_id = spec.source_instance_id,
                                 .request = request, .doc = doc };
        if (api_rec_queue(req, resp, &q, id, sizeof id) != 0) goto out;
        snprintf(id_out, id_len, "%s", id);
        ret = 0;
    }
    goto out;
oom:
    api_error(resp, 500, "InternalError", "out of memory");
out:
    for (size_t i = 0; i < n && i < APP_MAX; i++) app_release(&apps[i]);
    sql_restore_spec_release(&spec);
    json_decref(doc);
    json_decref(request);
    return ret;
}

void api_recovery_sql_render(json_t *j, const struct cat_recovery *r)
{
    char task[128];
    json_t *params = json_object_get(json_object_get(j, "mssqlParams"), "recoverAppParams"), *p;
    size_t i, nres = json_array_size(r->file_errors);
    snprintf(task, sizeof task, "recovery:%s", r->id);
    json_array_foreach(params, i, p) {
        if (!json_is_object(p)) continue;
        json_t *res = nres == json_array_size(params) ? json_array_get(r->file_errors, i) : NULL;
        json_t *msgs = json_deep_copy(r->messages);
        const char *st = json_string_value(json_object_get(res, "status"));
        json_object_set_new(p, "status", json_string(st && r->end_usecs > 0 && strcmp(st, "NotStarted") != 0 &&
                                                             strcmp(st, "Skipped") != 0 ? st : r->status));
        json_object_set_new(p, "progressTaskId", json_string(task));
        json_object_set_new(p, "startTimeUsecs", json_integer(r->start_usecs));
        if (r->end_usecs > 0) json_object_set_new(p, "endTimeUsecs", json_integer(r->end_usecs));
        json_object_set_new(p, "bytesRestored", res ? json_integer(json_integer_value(json_object_get(res, "bytes")))
                                                    : json_integer(r->bytes));
        if (res && msgs) {
            const char *m = json_string_value(json_object_get(res, "message"));
            size_t k;
            json_t *w;
            if (m) json_array_append_new(msgs, json_string(m));
            json_array_foreach(json_object_get(res, "warnings"), k, w) json_array_append(msgs, w);
        }
        json_object_set_new(p, "messages", msgs ? msgs : json_array());
    }
    json_object_set(j, "cofferObjects", r->file_errors);
}
