/* job_sql_restore.c: the SQL restore kind (recovery kind "sql_restore" on the recoveries queue):
 * a PostgreSQL instance, databases or tables back from SQL snapshots (sql_restore_spec.h).
 *
 * Course: the spec is parsed from the recovery's request; svc_pg_plan_restore picks the base backup
 * and the sealed WAL snapshots for the moment asked (a recovery_target_time when not the base
 * backup's own point); svc_pg_target resolves the target instance (its conninfo, data directory,
 * port, socket directory). Then, by scope:
 *   INSTANCE_NEW        eng_pg_instance_new: restored into the new data directory, started on its port;
 *                       when host.id is on a coffer-agent's host, the agent does it there
 *                       (eng_remote_pg_restore; the base backup's own point only)
 *   INSTANCE_OVERWRITE  eng_pg_instance_replace over the target's data directory (refused with copy_only)
 *   OBJECTS             every item is checked first (FailIfExists: an existing target fails the recovery
 *                       before anything is written; copy_only: a target that is the source object itself
 *                       is refused), then a private server is started on the plan
 *                       (eng_pg_private_open) and the items are copied in order (eng_pg_copy); the
 *                       private server is always removed (eng_pg_private_close), on cancel too.
 * The first failing item ends the recovery Failed (items already copied stay: each is whole); skipped
 * items (continue_on_access_violation) and warnings make it SucceededWithWarning.
 *
 * Progress: bytes restored (the private or new instance's restore, then each object's size on the
 * target) and objects done (files), through recovery_flush. Per-object results are stored at the
 * end in the recovery's file_errors column (sql_restore_spec.h says the shape), messages in its
 * messages. A cancel (the job's cancel flag) reaches every engine call and every child process. */
#include "sched/job_recovery.h"
#include "sched/sched_int.h"
#include "sched/sql_restore_spec.h"
#include "engine/pg.h"
#include "engine/remote.h"
#include "svc/pg_plan.h"
#include "svc/pg_target.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct sqlr {
    struct job *j;
    const struct cat_recovery *r;
    struct sql_restore_spec spec;
    struct recovery_live live;
    struct cat_recovery_stats tot;
    json_t *messages;   /* strings */
    json_t *results;    /* per object (sql_restore_spec.h) */
    int warned;
};

static void sqlr_msg(struct sqlr *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sqlr_msg(struct sqlr *x, const char *fmt, ...)
{
    char m[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (json_array_size(x->messages) < RECOVERY_MAX_MESSAGES) json_array_append_new(x->messages, json_string(m));
}

/* One per-object result: {"path","message","kind","source","status","bytes","warnings"}; borrowed
 * (the results array holds it), NULL beyond the cap. */
static json_t *sqlr_result(struct sqlr *x, const char *kind, const char *source, const char *name)
{
    if (json_array_size(x->results) >= RECOVERY_MAX_FILE_ERRORS) return NULL;
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:[]}", "path", name, "message", "not started", "kind", kind,
                          "source", source, "status", "NotStarted", "bytes", (json_int_t)0, "warnings");
    if (!o || json_array_append_new(x->results, o) != 0) return NULL;
    return o;
}

static void sqlr_set(json_t *res, const char *status, const char *message, uint64_t bytes, json_t *warnings)
{
    if (!res) return;
    json_object_set_new(res, "status", json_string(status));
    json_object_set_new(res, "message", json_string(message));
    json_object_set_new(res, "bytes", json_integer((json_int_t)bytes));
    if (warnings) json_object_set(res, "warnings", warnings);
}

static void sqlr_progress(struct sqlr *x)
{
    job_lock(x->j);
    x->live.st = x->tot;
    job_unlock(x->j);
}

/* The object an item writes, as eng_pg_copy names it: "db" or "db.schema.table". */
static void item_target(const struct sql_restore_spec *s, const struct sql_restore_item *it, char *out, size_t n)
{
    if (it->kind == SQL_ITEM_DATABASE) {
        snprintf(out, n, "%s", s->target_database ? s->target_database : it->rename_to ? it->rename_to : it->database);
        return;
    }
    const char *db = s->target_database ? s->target_database : it->database;
    const char *t = it->rename_to ? it->rename_to : it->table;
    if (strchr(t, '.')) {
        snprintf(out, n, "%s.%s", db, t);
    } else {
        const char *dot = strchr(it->table, '.');
        snprintf(out, n, "%s.%.*s.%s", db, dot ? (int)(dot - it->table) : 6, dot ? it->table : "public", t);
    }
}

static void item_source(const struct sql_restore_item *it, char *out, size_t n)
{
    if (it->kind == SQL_ITEM_DATABASE) snprintf(out, n, "%s", it->database);
    else if (strchr(it->table, '.')) snprintf(out, n, "%s.%s", it->database, it->table);
    else snprintf(out, n, "%s.public.%s", it->database, it->table);
}

static void item_copy(const struct sql_restore_spec *s, const struct sql_restore_item *it, struct eng_pg_copy_item *c)
{
    memset(c, 0, sizeof *c);
    c->kind = it->kind == SQL_ITEM_DATABASE ? ENG_PG_COPY_DATABASE : ENG_PG_COPY_TABLE;
    c->database = it->database;
    c->table = it->table;
    c->excludes = (const char *const *)it->excludes;
    c->n_excludes = it->n_excludes;
    if (it->kind == SQL_ITEM_DATABASE) {
        c->rename_to = s->target_database ? s->target_database : it->rename_to;
    } else {
        c->rename_to = it->rename_to;
        c->target_database = s->target_database;
    }
}

/* check_item: item i may be written: not the source itself under copy_only (-EPERM), not existing
 * unless overwrite (-EEXIST); err says which. */
static int check_item(const struct sql_restore_spec *s, size_t i, const char *conninfo, char *err, size_t errlen)
{
    const struct sql_restore_item *it = &s->items[i];
    struct eng_pg_copy_item c;
    char src[400], dst[400], e2[1024];
    item_copy(s, it, &c);
    item_source(it, src, sizeof src);
    item_target(s, it, dst, sizeof dst);
    if (s->copy_only && s->target_instance_id == s->source_instance_id && strcmp(src, dst) == 0) {
        snprintf(err, errlen, "%s is the source object itself: a copy (CloneApps) must go under another name", src);
        return -EPERM;
    }
    if (s->overwrite) return 0;
    int ex = eng_pg_copy_target_exists(conninfo, &c, e2, sizeof e2);
    if (ex == 1) {
        snprintf(err, errlen, "%s %s already exists on the target instance and overwriting is not allowed",
                 it->kind == SQL_ITEM_DATABASE ? "database" : "table", dst);
        return -EEXIST;
    }
    if (ex < 0) snprintf(err, errlen, "%.300s: %.600s", dst, e2);
    return ex < 0 ? ex : 0;
}

int sql_restore_precheck(struct cat *cat, struct repo *repo, const char *tenant, const struct sql_restore_spec *s,
                         int *item, char *err, size_t errlen)
{
    struct svc_pg_target tgt;
    int rc;
    if (item) *item = -1;
    if (s->scope == SQL_RESTORE_INSTANCE_NEW) return 0;
    if ((rc = svc_pg_target(cat, repo, tenant, s->target_instance_id, &tgt, err, errlen)) != 0)
        return s->scope == SQL_RESTORE_OBJECTS ? rc : 0; /* over an instance: the job says why */
    if (tgt.connector) { /* a coffer-agent's host: only a new instance is restored there */
        snprintf(err, errlen, "instance %s is on a coffer-agent's host: restoring %s there is not built (restore the "
                 "whole instance to a new data directory on that host: recoverToNewSource)",
                 tgt.instance_name ? tgt.instance_name : "?",
                 s->scope == SQL_RESTORE_OBJECTS ? "databases or tables" : "over the instance");
        svc_pg_target_release(&tgt);
        return -ENOTSUP;
    }
    if (s->scope != SQL_RESTORE_OBJECTS) {
        svc_pg_target_release(&tgt);
        return 0;
    }
    for (size_t i = 0; i < s->n_items && !rc; i++)
        if ((rc = check_item(s, i, tgt.conninfo, err, errlen)) != 0 && item) *item = (int)i;
    svc_pg_target_release(&tgt);
    return rc;
}

static int objects_body(struct sqlr *x, struct repo *repo, const struct svc_pg_plan *plan,
                        const struct eng_pg_restore_opts *ro, char *err, size_t errlen)
{
    struct sql_restore_spec *s = &x->spec;
    struct svc_pg_target tgt;
    int rc;
    json_t **res = calloc(s->n_items ? s->n_items : 1, sizeof *res);
    if (!res) return -ENOMEM;
    if ((rc = svc_pg_target(job_cat(x->j), repo, x->r->tenant, s->target_instance_id, &tgt, err, errlen)) != 0) {
        free(res);
        return rc;
    }
    if (tgt.connector) {
        snprintf(err, errlen, "instance %s is on a coffer-agent's host: restoring databases or tables there is not built",
                 tgt.instance_name ? tgt.instance_name : "?");
        svc_pg_target_release(&tgt);
        free(res);
        return -ENOTSUP;
    }
    for (size_t i = 0; i < s->n_items; i++) {
        char src[400], dst[400];
        item_source(&s->items[i], src, sizeof src);
        item_target(s, &s->items[i], dst, sizeof dst);
        res[i] = sqlr_result(x, s->items[i].kind == SQL_ITEM_DATABASE ? "database" : "table", src, dst);
    }
    /* checks before anything is written */
    for (size_t i = 0; i < s->n_items && !rc; i++)
        if ((rc = check_item(s, i, tgt.conninfo, err, errlen)) != 0) sqlr_set(res[i], "Failed", err, 0, NULL);
    struct eng_pg_server priv;
    struct eng_pg_restore_result rr = { 0 };
    memset(&priv, 0, sizeof priv);
    if (!rc && !(rc = eng_pg_private_open(repo, plan->base_snapshot_id, ro, NULL, 0, &priv, &rr, err, errlen))) {
        x->tot.bytes += (int64_t)rr.bytes;
        sqlr_progress(x);
        sqlr_msg(x, "the snapshot was restored privately (%.1f MB) and recovered%s", rr.bytes / 1e6,
                 plan->target_usecs ? " to the point in time asked" : " to its own point");
    }
    uint64_t objects_bytes = 0;
    for (size_t i = 0; i < s->n_items && !rc; i++) {
        struct eng_pg_copy_item c;
        struct eng_pg_copy_result out;
        struct eng_pg_copy_opts o = { .target_conninfo = tgt.conninfo, .overwrite = s->overwrite,
                                      .skip_analyze = s->skip_analyze, .skip_indexes = s->skip_indexes,
                                      .continue_on_access_violation = s->continue_on_access_violation,
                                      .jobs = s->jobs, .cancel = &x->j->cancel };
        item_copy(s, &s->items[i], &c);
        sqlr_set(res[i], "Running", "being restored", 0, NULL);
        rc = eng_pg_copy(&priv, &c, &o, &out, err, errlen);
        if (rc == 0) {
            int warn = out.skipped || json_array_size(out.warnings) > 0;
            char m[600];
            snprintf(m, sizeof m, "%s %s", out.skipped ? "skipped:" : "restored", out.name);
            sqlr_set(res[i], out.skipped ? "Skipped" : warn ? "SucceededWithWarning" : "Succeeded", m, out.bytes,
                     out.warnings);
            size_t k;
            json_t *w;
            json_array_foreach(out.warnings, k, w) sqlr_msg(x, "%s: %s", out.name, json_string_value(w));
            if (warn) x->warned = 1;
            objects_bytes += out.bytes;
            x->tot.bytes += (int64_t)out.bytes;
            x->tot.files += 1;
            if (out.skipped) x->tot.skipped += 1;
            sqlr_progress(x);
        } else if (rc == -ECANCELED) {
            sqlr_set(res[i], "Canceled", "canceled", 0, NULL);
        } else {
            sqlr_set(res[i], "Failed", err, 0, out.warnings);
            x->tot.errors += 1;
        }
        eng_pg_copy_result_release(&out);
    }
    eng_pg_private_close(&priv);
    if (!rc) sqlr_msg(x, "%zu object(s) restored, %.1f MB on the target", s->n_items, objects_bytes / 1e6);
    svc_pg_target_release(&tgt);
    free(res);
    return rc;
}

static int instance_body(struct sqlr *x, struct repo *repo, const struct svc_pg_plan *plan,
                         const struct eng_pg_restore_opts *ro, char *err, size_t errlen)
{
    struct sql_restore_spec *s = &x->spec;
    struct eng_pg_server srv;
    struct eng_pg_restore_result rr = { 0 };
    int rc;
    if (s->scope == SQL_RESTORE_INSTANCE_NEW) {
        json_t *res = sqlr_result(x, "instance", "instance", s->data_dir);
        struct eng_pg_server_opts so = { .data_dir = s->data_dir, .port = s->port, .cancel = &x->j->cancel };
        char *conn = NULL;
        if (s->host_id > 0 && (rc = svc_pg_agent_of(job_cat(x->j), x->r->tenant, s->host_id, &conn, err, errlen)) != 0) {
            sqlr_set(res, "Failed", err, 0, NULL);
            return rc;
        }
        if (conn) { /* the new instance goes to a coffer-agent's host: the agent restores and starts it */
            struct eng_remote_pg_restored out;
            if (plan->n_wal > 0 || plan->target_usecs) {
                snprintf(err, errlen, "a point-in-time restore (WAL) to a coffer-agent's host is not built: restore the "
                         "base backup's own point");
                rc = -ENOTSUP;
            } else {
                rc = eng_remote_pg_restore(repo, x->r->tenant, conn, plan->base_snapshot_id, s->data_dir, s->port,
                                           &x->j->cancel, &out, err, errlen);
            }
            free(conn);
            if (rc == 0) {
                char m[2400];
                snprintf(m, sizeof m, "instance restored into %s on the coffer-agent's host, running on port %d (socket "
                         "directory %s)", out.data_dir, out.port, out.sock_dir);
                sqlr_set(res, "Succeeded", m, out.bytes, NULL);
                sqlr_msg(x, "%s", m);
                x->tot.bytes += (int64_t)out.bytes;
                x->tot.files += 1;
            } else {
                sqlr_set(res, rc == -ECANCELED ? "Canceled" : "Failed", err, 0, NULL);
            }
            return rc;
        }
        rc = eng_pg_instance_new(repo, plan->base_snapshot_id, ro, &so, &srv, &rr, err, errlen);
        if (rc == 0) {
            char m[4400];
            snprintf(m, sizeof m, "instance restored into %s, running on port %d (socket directory %s)", srv.data_dir,
                     srv.port, srv.sock_dir);
            sqlr_set(res, "Succeeded", m, rr.bytes, NULL);
            sqlr_msg(x, "%s", m);
            x->tot.bytes += (int64_t)rr.bytes;
            x->tot.files += 1;
        } else {
            sqlr_set(res, rc == -ECANCELED ? "Canceled" : "Failed", err, 0, NULL);
        }
        return rc;
    }
    /* over the original */
    struct svc_pg_target tgt;
    if ((rc = svc_pg_target(job_cat(x->j), repo, x->r->tenant, s->target_instance_id, &tgt, err, errlen)) != 0) return rc;
    json_t *res = sqlr_result(x, "instance", tgt.instance_name ? tgt.instance_name : "instance",
                              tgt.data_directory ? tgt.data_directory : "?");
    if (tgt.connector) {
        snprintf(err, errlen, "instance %s is on a coffer-agent's host: restoring over it is not built (restore to a new "
                 "data directory on that host)", tgt.instance_name ? tgt.instance_name : "?");
        rc = -ENOTSUP;
    } else if (s->copy_only) {
        snprintf(err, errlen, "a copy (CloneApps) never overwrites an instance: restore it to a new data directory");
        rc = -EPERM;
    } else if (!tgt.data_directory) {
        snprintf(err, errlen, "the data directory of instance %s is not known (refresh the registration)",
                 tgt.instance_name ? tgt.instance_name : "?");
        rc = -ENOENT;
    } else {
        char aside[2300];
        struct eng_pg_server_opts so = { .data_dir = tgt.data_directory, .socket_dir = tgt.socket_dir,
                                         .port = tgt.port, .cancel = &x->j->cancel };
        rc = eng_pg_instance_replace(repo, plan->base_snapshot_id, ro, &so, &srv, aside, sizeof aside, &rr, err, errlen);
        if (rc == 0) {
            char m[4800];
            snprintf(m, sizeof m, "instance %s restored over %s and running; the replaced data directory is kept as %s",
                     tgt.instance_name ? tgt.instance_name : "", tgt.data_directory, aside);
            sqlr_set(res, "Succeeded", m, rr.bytes, NULL);
            sqlr_msg(x, "%s", m);
            x->tot.bytes += (int64_t)rr.bytes;
            x->tot.files += 1;
        }
    }
    if (rc) sqlr_set(res, rc == -ECANCELED ? "Canceled" : "Failed", err, 0, NULL);
    svc_pg_target_release(&tgt);
    return rc;
}

static int sqlr_body(struct sqlr *x, char *err, size_t errlen)
{
    struct repo *repo = job_repo(x->j);
    struct svc_pg_plan plan;
    char when[64];
    int rc;
    if ((rc = svc_pg_plan_restore(job_cat(x->j), x->r->tenant, x->spec.snapshot_id, x->spec.point_usecs, &plan, err,
                                  errlen)) != 0)
        return rc;
    if (plan.target_usecs) eng_pg_time_text(plan.target_usecs, when, sizeof when);
    struct eng_pg_restore_opts ro = { .threads = 2, .cancel = &x->j->cancel,
                                      .recovery_target_time = plan.target_usecs ? when : NULL,
                                      .wal_snapshot_ids = (const char *const *)plan.wal_snapshot_ids,
                                      .n_wal_snapshots = plan.n_wal };
    if (plan.target_usecs) sqlr_msg(x, "recovering to %s from base backup %.16s... and %zu WAL snapshot(s)", when,
                                    plan.base_snapshot_id, plan.n_wal);
    rc = x->spec.scope == SQL_RESTORE_OBJECTS ? objects_body(x, repo, &plan, &ro, err, errlen)
                                              : instance_body(x, repo, &plan, &ro, err, errlen);
    svc_pg_plan_release(&plan);
    return rc;
}

static void sql_restore_run(struct job *j)
{
    const struct cat_recovery *r = j->row;
    struct sched *s = job_ctx(j);
    struct sqlr x = { .j = j, .r = r, .messages = json_array(), .results = json_array() };
    char err[1024] = "";
    const char *status;
    int rc;

    job_set_state(j, &x.live);
    log_info("recovery %s (sql_restore) of tenant %s started", r->id, r->tenant);
    for (int t = 0; s && t < s->recovery_delay_ms && !j->cancel; t += 20) usleep(20 * 1000);
    if (j->cancel) {
        rc = -ECANCELED;
    } else if (!job_repo(j)) {
        rc = -ENODEV;
        snprintf(err, sizeof err, "the repository is not available");
    } else if ((rc = sql_restore_spec_parse(r->request, &x.spec, err, sizeof err)) != 0) {
        /* err says why */
    } else {
        rc = sqlr_body(&x, err, sizeof err);
    }
    job_set_state(j, NULL);
    if (rc == -ECANCELED && job_user_canceled(j)) {
        status = "Canceled";
        sqlr_msg(&x, "canceled on request");
    } else if (rc == -ECANCELED) {
        status = "Failed";
        sqlr_msg(&x, "%s", job_lease_lost(j) ? "the recovery was taken away from this worker" : "interrupted by daemon shutdown");
    } else if (rc != 0) {
        status = "Failed";
        sqlr_msg(&x, "%s", err[0] ? err : strerror(-rc));
    } else {
        status = x.warned ? "SucceededWithWarning" : "Succeeded";
    }
    if (job_lease_lost(j)) {
        log_warn("recovery %s: the lease was lost; its new owner decides its status", r->id);
    } else {
        struct cat *cat = job_cat(j);
        int frc = cat_recovery_finish(cat, r->tenant, r->id, status, x.messages, x.results, &x.tot, -1, util_time_now());
        if (frc != 0 && (frc == -ENOSPC || cat_last_error() == -ENOSPC) && cat_reserve_release(cat))
            frc = cat_recovery_finish(cat, r->tenant, r->id, status, x.messages, x.results, &x.tot, -1, util_time_now());
        if (frc != 0) log_error("recovery %s: cannot record its end (%s)", r->id, status);
        job_set_outcome(j, status, x.tot.bytes, 0, 1);
        log_info("recovery %s ended %s (%" PRId64 " objects, %" PRId64 " bytes)", r->id, status, x.tot.files, x.tot.bytes);
    }
    sql_restore_spec_release(&x.spec);
    json_decref(x.messages);
    json_decref(x.results);
}

const struct job_kind job_kind_sql_restore = {
    .name = "sql_restore",
    .queue = &job_queue_recoveries,
    .run = sql_restore_run,
    .flush = recovery_flush,
};
