/* job_backup_sql.c: the runs of kSQL protection groups (job_backup.c dispatches here by the group's
 * typed spec): one snapshot per PostgreSQL INSTANCE per run, through the SQL mover (mover.h).
 *
 * Objects: the group lists kInstance or kDatabase objects (svc_pg_target resolves each to its
 * instance and a conninfo); objects of one instance make one run object and one snapshot, whose
 * object is the kInstance. The databases a group lists are recorded on the snapshot row (all of the
 * instance is in the base backup either way; a restore chooses what to copy out).
 *
 * Run types:
 *   kFull      eng_pg_backup without parent.
 *   kRegular   eng_pg_backup with the instance's newest base backup of this group as parent (none: a
 *              full one).
 *   kLog       seals the instance's WAL spool into a snapshot (eng_pg_wal_seal). First, a marker
 *              transaction is committed and the WAL segment switched (mover_sql.wal_mark), and the
 *              seal waits (at most 30 s) until the streamer has the marker's segment complete, so a
 *              log run puts everything committed before it into the repository (the RPO is the log
 *              schedule) and its restorable range ends at the marker's time (wal_to_usecs).
 *              Without a base backup of the instance from this group, a kLog run takes a full base
 *              backup instead (its snapshot's run type is kFull; the run says so in a message).
 *              Nothing complete to seal (-ENODATA) is a successful run with a message and no snapshot.
 * Before any base backup the instance's WAL streamer is made to run (pg_stream_ensure): its slot then
 * exists, so the WAL from the backup's stop onwards reaches the spool.
 *
 * Stats of a base backup: logical bytes = data directory + staging, bytes read = the data directory's
 * bytes actually read + the WAL copied, written = bytes added to packs. Of a log run: the sealed
 * segments' bytes (logical and read) and the bytes added. The snapshot row (cat_snapshot.h) carries
 * the LSNs, timeline, the consistent point (pg_backup_stop's time, from the snapshot document) and
 * the databases and tables the instance held (mover_sql.inventory, at most 10000 tables per
 * database); an inventory that fails is a warning, not a failure.
 *
 * An instance on a host a coffer-agent serves (svc_pg_target gives its connector) is backed up by
 * that agent (engine/remote.h mover_remote_pg: the same eng_pg_backup on the agent's host, the
 * inventory listed there); it has no WAL streamer, and a kLog run of it fails saying so. */
#include "sched/job_backup_int.h"
#include "catalog/cat_snapshot.h"
#include "engine/remote.h"
#include "repo/repo.h"
#include "sched/pg_stream.h"
#include "sched/sched_int.h"
#include "svc/pg_target.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SQL_MAX_TABLES 10000
#define STREAM_START_WAIT_MS 30000
#define MARK_WAIT_MS 30000
#define MAX_INSTANCES 1000

/* One instance of the run, with what the group asked of it. */
struct sql_instance {
    struct svc_pg_target t;      /* of the instance (the first object resolved to it) */
    json_t *databases;           /* names asked for; NULL once the whole instance is asked */
    int whole;
};

static json_t *meta_of(struct backup_run *b, const struct sql_instance *in, const char *run_type)
{
    const struct cat_run *run = b->run;
    json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "tenant", run->tenant, "group_id", run->group_id,
                          "group_name", b->g->name, "run_id", b->run_id, "run_type", run_type, "object_id",
                          (json_int_t)in->t.instance_id, "object_name", in->t.instance_name ? in->t.instance_name : "",
                          "environment", mover_env_catalog_name(MOVER_ENV_SQL));
    if (m && in->databases) json_object_set(m, "sql_databases", in->databases);
    return m;
}

/* newest_base: the newest base backup (kFull / kRegular) of the instance made by this group. */
struct newest {
    char *id;
};
static int newest_cb(void *ud, const struct cat_snapshot *s)
{
    struct newest *n = ud;
    if (!s->sql.present) return 0;
    free(n->id);
    n->id = strdup(s->id); /* oldest first: the last one seen is the newest */
    return 0;
}
static char *newest_base(struct backup_run *b, int64_t instance_id)
{
    struct newest n = { NULL };
    json_t *groups = json_pack("[s]", b->run->group_id), *types = json_pack("[ss]", "kFull", "kRegular");
    struct cat_snapshot_filter f = { .object_id = instance_id, .source_id = -1, .group_ids = groups,
                                     .run_types = types, .environment = mover_env_catalog_name(MOVER_ENV_SQL) };
    if (groups && types && cat_snapshot_list(job_cat(b->j), b->run->tenant, &f, newest_cb, &n) < 0) {
        free(n.id);
        n.id = NULL;
    }
    json_decref(groups);
    json_decref(types);
    return n.id;
}

static void snap_base(struct backup_run *b, const struct sql_instance *in, const struct cat_run_object *o,
                      struct cat_snapshot *s, const char *run_type)
{
    const struct cat_run *run = b->run;
    *s = (struct cat_snapshot){
        .tenant = run->tenant, .object_id = in->t.instance_id, .object_name = in->t.instance_name,
        .source_id = in->t.source_id, .environment = (char *)mover_env_catalog_name(MOVER_ENV_SQL),
        .group_id = run->group_id, .group_name = b->g->name, .group_seq = run->group_seq,
        .run_usecs = run->start_usecs, .instance_id = run->instance_id, .run_type = (char *)run_type,
        .snapshot_usecs = o->begin_usecs, .end_usecs = util_time_now(), .logical_bytes = o->logical_bytes,
        .bytes_read = o->bytes_read, .bytes_written = o->bytes_written, .files = o->files, .dirs = o->dirs,
        .expiry_usecs = run->expiry_usecs, .on_legal_hold = run->on_legal_hold, .status = "kSuccessful",
    };
    s->sql.present = 1;
    s->sql.databases = in->databases;
}

/* stop_time: pg.stop_time_usecs of a base backup's snapshot document (0 when unreadable). */
static int64_t stop_time(struct repo *repo, const char *id)
{
    json_t *doc = NULL;
    int64_t t = 0;
    if (repo_snapshot_read(repo, id, &doc) == 0)
        t = json_integer_value(json_object_get(json_object_get(doc, "pg"), "stop_time_usecs"));
    json_decref(doc);
    return t;
}

/* slow_open: the COFFER_TEST_SLOW_OPEN_MS hook (sched.h) for the data directory's files: a base
 * backup slow enough for a test to kill the daemon in the middle of it. */
static void slow_open(void *ctx, const char *path)
{
    const struct sched *s = ctx;
    struct timespec ts = { s->slow_open_ms / 1000, (long)(s->slow_open_ms % 1000) * 1000000L };
    (void)path;
    nanosleep(&ts, NULL);
}

/* inventory_of: the databases and tables an agent listed after its base backup (remote.h), as
 * mover_sql.inventory gives them for a local instance. */
static int inventory_of(const json_t *inv, struct mover_sql_item **out, size_t *n, char *err, size_t errlen)
{
    size_t i, cap = json_array_size(inv);
    json_t *v;
    *out = NULL;
    *n = 0;
    if (!json_is_array(inv)) {
        snprintf(err, errlen, "the agent sent no list");
        return -ENODATA;
    }
    if (cap && !(*out = calloc(cap, sizeof **out))) return -ENOMEM;
    json_array_foreach(inv, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *db = json_string_value(json_object_get(v, "database"));
        struct mover_sql_item *x = &(*out)[*n];
        int is_table = json_is_true(json_object_get(v, "table"));
        if (!name || strlen(name) > 255 || (is_table && !db)) continue;
        x->is_table = is_table;
        x->bytes = json_integer_value(json_object_get(v, "bytes"));
        if (!(x->name = strdup(name)) || (is_table && !(x->database = strdup(db)))) {
            free(x->name);
            mover_sql_items_free(*out, *n);
            *out = NULL;
            *n = 0;
            return -ENOMEM;
        }
        (*n)++;
    }
    return 0;
}

/* base_backup: one base backup of the instance; full forces no parent. */
static void base_backup(struct backup_run *b, struct sql_instance *in, struct cat_run_object *o, int full,
                        const char *snap_type, struct run_tally *t)
{
    struct job *j = b->j;
    struct sched *s = b->s;
    const struct mover_sql *sql = in->t.connector ? &mover_remote_pg : b->mover->sql;
    struct eng_pg_backup_opts opts = { 0 };
    struct eng_pg_backup_result res = { 0 };
    struct mover_sql_item *items = NULL;
    struct cat_snapshot_object *objs = NULL;
    struct cat_snapshot snap;
    size_t nitems = 0;
    char err[512] = "", msg[1024], label[96], *parent = NULL;
    json_t *meta = NULL;
    int rc;

    /* an instance on a coffer-agent's host: the agent backs it up; its WAL is not streamed */
    rc = in->t.connector ? 0 : pg_stream_ensure(s->pg_stream, b->run->tenant, in->t.instance_id, in->t.conninfo,
                                                STREAM_START_WAIT_MS, &j->cancel, NULL, 0, err, sizeof err);
    if (rc == -ECANCELED) {
        t->stop = 1;
        if (!(job_stopping(j) && !job_user_canceled(j))) backup_finish_object(b, o, "kCanceled", "canceled", NULL, t);
        return;
    }
    if (rc != 0) {
        snprintf(msg, sizeof msg, "instance %" PRId64 " (%s): the WAL stream must run before a base backup: %s",
                 in->t.instance_id, in->t.instance_name, err);
        backup_object_fail(b, o, msg, t);
        return;
    }
    if (!full) parent = newest_base(b, in->t.instance_id);
    snprintf(label, sizeof label, "coffer run %s", b->run_id);
    meta = meta_of(b, in, snap_type);
    if (meta && in->t.connector) json_object_set_new(meta, ENG_REMOTE_META_CONNECTOR, json_string(in->t.connector));
    opts.conninfo = in->t.conninfo;
    opts.parent_snapshot_id = parent;
    opts.label = label;
    opts.snapshot_meta = meta;
    opts.progress = backup_on_progress;
    opts.progress_ctx = b;
    opts.cancel = &j->cancel;
    if (s->slow_open_ms > 0) {
        opts.on_before_open = slow_open;
        opts.hook_ctx = s;
    }
    o->begin_usecs = util_time_now();
    backup_publish(b, o, 1);
    rc = sql->base_backup(job_repo(j), &opts, &res, err, sizeof err);
    backup_publish(b, NULL, 0);
    o->files = (int64_t)res.files;
    o->logical_bytes = (int64_t)res.logical_bytes;
    o->bytes_read = (int64_t)(res.data_bytes_read + res.wal_bytes);
    o->bytes_written = (int64_t)res.bytes_added;
    o->files_read = res.files >= res.files_unchanged ? (int64_t)(res.files - res.files_unchanged) : 0;
    if (rc == -ECANCELED) {
        t->stop = 1;
        if (!(job_stopping(j) && !job_user_canceled(j)))
            backup_finish_object(b, o, "kCanceled", job_lease_lost(j) ? "the run was taken away from this worker"
                                                                       : "canceled", NULL, t);
        goto out;
    }
    if (rc != 0) {
        if (job_repo(j)) (void)repo_flush(job_repo(j));
        snprintf(msg, sizeof msg, "instance %" PRId64 " (%s): base backup failed: %s", in->t.instance_id,
                 in->t.instance_name, err[0] ? err : strerror(-rc));
        backup_object_fail(b, o, msg, t);
        goto out;
    }
    /* The databases and tables it held, for the site API's listing. */
    rc = in->t.connector ? inventory_of(res.inventory, &items, &nitems, err, sizeof err)
                         : sql->inventory(in->t.conninfo, SQL_MAX_TABLES, &items, &nitems, err, sizeof err);
    if (rc != 0) {
        backup_add_message(t, "instance %" PRId64 " (%s): the list of databases and tables could not be read: %s",
                           in->t.instance_id, in->t.instance_name, err);
        o->warnings = json_pack("[s]", "the list of databases and tables could not be read");
        nitems = 0;
    }
    if (nitems && (objs = calloc(nitems, sizeof *objs))) {
        for (size_t i = 0; i < nitems; i++)
            objs[i] = (struct cat_snapshot_object){ .kind = items[i].is_table ? "table" : "database",
                                                    .name = items[i].name, .parent = items[i].database,
                                                    .bytes = items[i].bytes };
    }
    snap_base(b, in, o, &snap, snap_type);
    snap.id = res.snapshot_id;
    snap.parent_id = parent;
    snap.status = o->warnings ? "kWarning" : "kSuccessful";
    snap.objects = objs;
    snap.n_objects = objs ? nitems : 0;
    if (mover_sql_lsn_parse(res.start_lsn, &snap.sql.start_lsn) != 0 ||
        mover_sql_lsn_parse(res.stop_lsn, &snap.sql.end_lsn) != 0)
        snap.sql.start_lsn = snap.sql.end_lsn = 0;
    snap.sql.timeline = res.timeline;
    snap.sql.consistent_usecs = stop_time(job_repo(j), res.snapshot_id);
    if (!snap.sql.consistent_usecs) snap.sql.consistent_usecs = util_time_real();
    o->snapshot_id = strdup(res.snapshot_id);
    backup_finish_object(b, o, snap.status, NULL, &snap, t);
    log_info("run %s of group %s: instance %" PRId64 " base backup %.16s (%s%s, read %" PRId64 " of %" PRId64
             " bytes, added %" PRId64 ", %zu databases/tables)", b->run_id, b->run->group_id, in->t.instance_id,
             res.snapshot_id, snap_type, parent ? ", incremental" : "", o->bytes_read, o->logical_bytes,
             o->bytes_written, nitems);
out:
    mover_sql_items_free(items, nitems);
    free(objs);
    free(parent);
    json_decref(meta);
    eng_pg_backup_result_release(&res);
}

/* segment_end: the LSN at which a WAL segment (its 24-hex-digit name) ends; 0 for a malformed name. */
static uint64_t segment_end(const char *name)
{
    unsigned tli, log, seg;
    if (strlen(name) != 24 || sscanf(name, "%8x%8x%8x", &tli, &log, &seg) != 3) return 0;
    return ((uint64_t)log << 32) + ((uint64_t)seg + 1) * ENG_PG_WAL_SEG_SIZE;
}

static void log_run(struct backup_run *b, struct sql_instance *in, struct cat_run_object *o, struct run_tally *t)
{
    struct job *j = b->j;
    struct sched *s = b->s;
    const struct mover_sql *sql = b->mover->sql;
    struct mover_sql_mark mark;
    struct eng_pg_wal_seal_opts opts = { 0 };
    struct eng_pg_wal_seal_result res = { 0 };
    struct cat_snapshot snap;
    char err[512] = "", msg[1024], spool[1100], *base = newest_base(b, in->t.instance_id);
    json_t *meta = NULL;
    int rc, marked;
    uint64_t mark_end = 0;

    if (in->t.connector) {
        free(base);
        snprintf(msg, sizeof msg, "instance %" PRId64 " (%s) is on a coffer-agent's host: log (WAL) backups through an "
                 "agent are not built; its base backups (kFull, kRegular) are", in->t.instance_id, in->t.instance_name);
        backup_object_fail(b, o, msg, t);
        return;
    }
    if (!base) {
        backup_add_message(t, "instance %" PRId64 " (%s) has no base backup from this group yet: this kLog run took a "
                              "full base backup instead", in->t.instance_id, in->t.instance_name);
        base_backup(b, in, o, 1, "kFull", t);
        return;
    }
    free(base);
    rc = pg_stream_ensure(s->pg_stream, b->run->tenant, in->t.instance_id, in->t.conninfo, STREAM_START_WAIT_MS,
                          &j->cancel, spool, sizeof spool, err, sizeof err);
    if (rc != 0) {
        /* The spool may still hold complete segments from before: they are sealed below. */
        backup_add_message(t, "instance %" PRId64 " (%s): %s", in->t.instance_id, in->t.instance_name, err);
        if (!s->cfg.data_dir ||
            pg_stream_spool_path(s->cfg.data_dir, in->t.instance_id, spool, sizeof spool) != 0)
            spool[0] = 0;
    }
    o->begin_usecs = util_time_now();
    marked = rc == 0 && sql->wal_mark(in->t.conninfo, &mark, err, sizeof err) == 0;
    if (rc == 0 && !marked)
        backup_add_message(t, "instance %" PRId64 " (%s): the log marker could not be written (%s): sealing what is "
                              "complete", in->t.instance_id, in->t.instance_name, err);
    if (marked) {
        /* Wait (bounded) for the streamer to complete the marker's segment. */
        char path[1200];
        struct stat st;
        int64_t deadline = util_time_mono() + (int64_t)(mark.switched ? MARK_WAIT_MS : 2000) * 1000;
        mark_end = segment_end(mark.segment);
        snprintf(path, sizeof path, "%s/%s", spool, mark.segment);
        while (stat(path, &st) != 0 && util_time_mono() < deadline && !j->cancel) {
            struct timespec ts = { 0, 100 * 1000000L };
            nanosleep(&ts, NULL);
        }
        if (stat(path, &st) != 0)
            log_warn("run %s: instance %" PRId64 ": the marker's WAL segment %s (switch at %" PRIX64 ", %s) did not "
                     "reach the spool %s in time", b->run_id, in->t.instance_id, mark.segment, mark.switch_lsn,
                     mark.switched ? "switched" : "not switched", spool);
        if (!mark.switched)
            backup_add_message(t, "instance %" PRId64 ": pg_switch_wal was refused to the registered role (grant "
                                  "EXECUTE on it): the log run seals only segments the server completed",
                               in->t.instance_id);
    }
    if (j->cancel) {
        t->stop = 1;
        if (!(job_stopping(j) && !job_user_canceled(j))) backup_finish_object(b, o, "kCanceled", "canceled", NULL, t);
        return;
    }
    meta = meta_of(b, in, "kLog");
    opts.spool_dir = spool;
    opts.snapshot_meta = meta;
    opts.cancel = &j->cancel;
    pg_stream_seal_lock(s->pg_stream, 1); /* one seal of a spool at a time (two groups, one instance) */
    rc = spool[0] ? sql->wal_seal(job_repo(j), &opts, &res, err, sizeof err) : -ENODEV;
    pg_stream_seal_lock(s->pg_stream, 0);
    if (rc == -ENODEV && !err[0]) snprintf(err, sizeof err, "no WAL spool (the daemon has no data directory)");
    json_decref(meta);
    o->logical_bytes = o->bytes_read = (int64_t)(res.segments * ENG_PG_WAL_SEG_SIZE);
    o->bytes_written = (int64_t)res.bytes_added;
    o->files = o->files_read = (int64_t)res.segments;
    if (rc == -ENODATA) {
        snprintf(msg, sizeof msg, "instance %" PRId64 " (%s): no complete WAL segment to seal: nothing was written",
                 in->t.instance_id, in->t.instance_name);
        backup_add_message(t, "%s", msg);
        backup_finish_object(b, o, "kSuccessful", msg, NULL, t);
        return;
    }
    if (rc != 0) {
        snprintf(msg, sizeof msg, "instance %" PRId64 " (%s): sealing the WAL failed: %s", in->t.instance_id,
                 in->t.instance_name, err[0] ? err : strerror(-rc));
        backup_object_fail(b, o, msg, t);
        return;
    }
    snap_base(b, in, o, &snap, "kLog");
    snap.id = res.snapshot_id;
    snap.sql.start_lsn = res.start_lsn;
    snap.sql.end_lsn = res.end_lsn;
    snap.sql.timeline = marked ? mark.timeline : 0;
    snap.sql.wal_from_usecs = (int64_t)res.first_complete_usecs;
    /* The restorable range ends at the marker when its segment is in this seal; else this snapshot
     * continues the WAL without extending what can be restored. */
    snap.sql.wal_to_usecs = marked && mark_end && res.end_lsn >= mark_end ? mark.mark_usecs : 0;
    if (marked && !snap.sql.wal_to_usecs)
        backup_add_message(t, "instance %" PRId64 ": the marker's WAL segment was not complete in time: the next log "
                              "run seals it", in->t.instance_id);
    o->snapshot_id = strdup(res.snapshot_id);
    backup_finish_object(b, o, "kSuccessful", NULL, &snap, t);
    log_info("run %s of group %s: instance %" PRId64 " WAL sealed as %.16s (%" PRIu64 " segments, added %" PRIu64
             " bytes)", b->run_id, b->run->group_id, in->t.instance_id, res.snapshot_id, res.segments, res.bytes_added);
}

static int id_in(json_t *arr, int64_t id)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_integer_value(v) == id) return 1;
    return 0;
}

/* register_object: the run's row for an object (an instance, or an object that could not be resolved). */
static int register_object(struct backup_run *b, struct cat_run_object *o, int64_t id, const char *name,
                           int64_t source_id, const char *type)
{
    o->object_id = id;
    o->files_total = o->bytes_total = -1;
    o->environment = (char *)mover_env_catalog_name(MOVER_ENV_SQL);
    o->object_name = (char *)name;
    o->source_id = source_id;
    o->object_type = (char *)type;
    int rc = cat_run_object_add(job_cat(b->j), b->run->tenant, b->run->group_id, b->run->start_usecs, o);
    o->object_name = o->environment = o->object_type = NULL; /* borrowed */
    return rc;
}

void backup_sql_objects(struct backup_run *b, const struct spec_group *gs, struct run_tally *t)
{
    struct job *j = b->j;
    struct cat *cat = job_cat(j);
    struct sql_instance *ins = NULL;
    struct cat_run_object *done = NULL;
    size_t nins = 0, ndone = 0, considered = 0;
    int is_log = strcmp(b->run->run_type, "kLog") == 0;

    if (cat_run_objects(cat, b->run->tenant, b->run->group_id, b->run->start_usecs, &done, &ndone) != 0) ndone = 0;
    for (size_t i = 0; i < ndone; i++) {
        const char *st = done[i].status;
        if (strcmp(st, "kSuccessful") == 0) t->ok++;
        else if (strcmp(st, "kWarning") == 0) t->warned++;
        else if (strcmp(st, "kCanceled") == 0) t->canceled++;
        else t->failed++;
    }
    if (!(ins = calloc(gs->nobjects ? gs->nobjects : 1, sizeof *ins))) {
        backup_add_message(t, "out of memory");
        t->failed++;
        goto out;
    }
    /* Resolve the objects to their instances (one run object and one snapshot per instance). */
    for (size_t i = 0; i < gs->nobjects && nins < MAX_INSTANCES; i++) {
        int64_t id = gs->objects[i].id;
        struct svc_pg_target tg;
        char err[512] = "";
        size_t k;
        int rc;
        if (b->run->objects && !id_in(b->run->objects, id)) continue;
        considered++;
        rc = svc_pg_target(cat, job_repo(j), b->run->tenant, id, &tg, err, sizeof err);
        if (rc != 0) {
            struct cat_run_object o = { 0 };
            char msg[700];
            int skip = 0;
            for (size_t d = 0; d < ndone; d++)
                if (done[d].object_id == id) skip = 1;
            if (skip) continue;
            snprintf(msg, sizeof msg, "object %" PRId64 ": %s", id, err[0] ? err : strerror(-rc));
            if (register_object(b, &o, id, gs->objects[i].name, 0, NULL) == 0) backup_object_fail(b, &o, msg, t);
            else t->failed++, backup_add_message(t, "%s", msg);
            cat_run_object_release(&o);
            continue;
        }
        for (k = 0; k < nins; k++)
            if (ins[k].t.instance_id == tg.instance_id) break;
        if (!ins[k].whole) {
            if (!tg.database || tg.object_id == tg.instance_id) {
                ins[k].whole = 1; /* the instance itself: every database */
                json_decref(ins[k].databases);
                ins[k].databases = NULL;
            } else {
                if (!ins[k].databases) ins[k].databases = json_array();
                json_array_append_new(ins[k].databases, json_string(tg.database));
            }
        }
        if (k == nins) ins[nins++].t = tg; /* the first object of an instance: its resolution is kept */
        else svc_pg_target_release(&tg);
    }
    for (size_t k = 0; k < nins; k++) {
        struct cat_run_object o = { 0 };
        int skip = 0;
        for (size_t d = 0; d < ndone; d++)
            if (done[d].object_id == ins[k].t.instance_id) skip = 1;
        if (skip) continue;
        if (t->stop || j->cancel) {
            t->stop = 1;
            break;
        }
        if (register_object(b, &o, ins[k].t.instance_id, ins[k].t.instance_name, ins[k].t.source_id, "kInstance") != 0) {
            t->failed++;
            backup_add_message(t, "instance %" PRId64 ": cannot record it in the catalog", ins[k].t.instance_id);
            continue;
        }
        if (!job_repo(j)) {
            backup_object_fail(b, &o, "the repository is not available", t);
        } else if (is_log) {
            log_run(b, &ins[k], &o, t);
        } else {
            const char *type = b->run->run_type;
            base_backup(b, &ins[k], &o, strcmp(type, "kFull") == 0, type, t);
        }
        cat_run_object_release(&o);
    }
    if (considered == 0) {
        backup_add_message(t, "the protection group has no objects to back up");
        t->failed++;
    }
out:
    for (size_t k = 0; k < nins; k++) {
        svc_pg_target_release(&ins[k].t);
        json_decref(ins[k].databases);
    }
    free(ins);
    for (size_t i = 0; i < ndone; i++) cat_run_object_release(&done[i]);
    free(done);
}
