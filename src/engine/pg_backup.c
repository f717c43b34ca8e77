/* pg_backup.c: the PostgreSQL base backup (pg.h): a consistent physical copy of a local
 * PostgreSQL 15 instance, stored by the file engine as one snapshot.
 *
 * How: over libpq (one session, kept open throughout) a temporary physical replication slot is
 * created with its WAL reserved at once, so nothing from the backup's start on is recycled; then
 * pg_backup_start(label, fast) (the non-exclusive API: the backup belongs to this session, and
 * ends with it if we fail). Run 1 of the file engine reads the data directory with PostgreSQL's
 * documented exclusions (eng_pg_excludes); with a parent base backup, files are reused by identity
 * unless "racily clean" (mtime not older than the parent's read start minus a margin: re-read).
 * pg_backup_stop(false) then returns the stop LSN, the backup_label and the tablespace_map; the
 * WAL segments from the label's start segment to the stop LSN's segment (and the timeline's
 * history file) are copied from pg_wal into a private staging directory next to the label files.
 * Run 2 composes the final snapshot: the data directory grafted from run 1 unread
 * (eng_backup_opts.graft_paths) plus the staging directory read now, with the "pg" metadata.
 * Run 1's snapshot document is forgotten (its blobs are the final snapshot's), the slot dropped
 * and the staging directory removed. */
#include "engine/pg.h"
#include "engine/eng_internal.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------- exclusions ---------- */

char **eng_pg_excludes(const char *dd)
{
    /* directories whose content is not needed (PostgreSQL's "Backing Up the Data Directory" and
     * pg_basebackup's lists): kept as empty directories */
    static const char *const contents[] = { "pg_wal", "pg_replslot", "pg_stat_tmp", "pg_dynshmem", "pg_notify",
                                            "pg_serial", "pg_snapshots", "pg_subtrans" };
    /* files of the data directory's top level */
    static const char *const files[] = { "postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map",
                                         "backup_manifest", "postgresql.auto.conf.tmp", "current_logfiles.tmp" };
    /* names anywhere: temporary files and relation cache init files */
    static const char *const names[] = { "pgsql_tmp*", "pg_internal.init" };
    size_t n = sizeof contents / sizeof *contents + sizeof files / sizeof *files + sizeof names / sizeof *names;
    if (!dd || dd[0] != '/' || strpbrk(dd, "*?[\\")) return NULL;
    char **v = calloc(n + 1, sizeof *v);
    size_t k = 0;
    if (!v) return NULL;
    for (size_t i = 0; i < sizeof contents / sizeof *contents; i++)
        if (asprintf(&v[k++], "%s/%s/*", dd, contents[i]) < 0) goto oom;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (asprintf(&v[k++], "%s/%s", dd, files[i]) < 0) goto oom;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!(v[k++] = strdup(names[i]))) goto oom;
    return v;
oom:
    v[k - 1] = NULL;
    eng_pg_excludes_free(v);
    return NULL;
}

void eng_pg_excludes_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}

/* ---------- libpq ---------- */

/* One query with text parameters; a result with tuples (or a command) is *out (PQclear it). */
static int pg_bk_query(PGconn *c, const char *sql, int n, const char *const *params, PGresult **out, char *err,
                     size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        eng_errf(err, errlen, "PostgreSQL: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        size_t l = err && errlen ? strlen(err) : 0;
        while (l && (err[l - 1] == '\n' || err[l - 1] == ' ')) err[--l] = '\0';
        PQclear(r);
        return -EIO;
    }
    *out = r;
    return 0;
}

/* ---------- files ---------- */

static int pg_bk_copy(const char *src, const char *dst, uid_t uid, gid_t gid, uint64_t *bytes)
{
    enum { BUFSZ = 1 << 20 };
    int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), out = -1, rc = 0;
    if (in < 0) return -errno;
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) { rc = -errno; close(in); return rc; }
    char *buf = malloc(BUFSZ);
    if (!buf) { close(in); close(out); return -ENOMEM; }
    for (;;) {   /* to the end of the file: a WAL segment's size */
        ssize_t k = read(in, buf, BUFSZ);
        if (k < 0) { rc = -errno; break; }
        if (k == 0) break;
        for (ssize_t w = 0; w < k;) {
            ssize_t m = write(out, buf + w, (size_t)(k - w));
            if (m < 0) { rc = -errno; break; }
            w += m;
        }
        if (rc) break;
        *bytes += (uint64_t)k;
    }
    free(buf);
    if (!rc && fchown(out, uid, gid) != 0) rc = -errno;
    if (close(out) != 0 && !rc) rc = -errno;
    close(in);
    return rc;
}

static int pg_bk_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

/* A WAL file name "TTTTTTTTLLLLLLLLSSSSSSSS" as (timeline, segment number). */
static int pg_bk_walname(const char *name, uint64_t seg_per_id, unsigned *tli, uint64_t *segno)
{
    unsigned t;
    uint32_t log, seg;
    if (strlen(name) != 24 || sscanf(name, "%08X%08X%08X", &t, &log, &seg) != 3) return -EINVAL;
    *tli = t;
    *segno = (uint64_t)log * seg_per_id + seg;
    return 0;
}

/* The value after "KEY: " on a backup_label line, up to the end of line, into out. */
static int pg_bk_label_field(const char *label, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    for (const char *p = label; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ':' && p[kl + 1] == ' ') {
            const char *v = p + kl + 2, *e = strchr(v, '\n');
            size_t l = e ? (size_t)(e - v) : strlen(v);
            if (l >= n) return -ENAMETOOLONG;
            memcpy(out, v, l);
            out[l] = '\0';
            return 0;
        }
    }
    return -ENOENT;
}

/* ---------- the backup ---------- */

struct pg_bk {
    PGconn *conn;
    char slot[64];
    char dd[1024];
    uid_t uid;
    gid_t gid;
    char stage[1024];
    char run1[REPO_ID_HEX_LEN + 1];
};

void eng_pg_backup_result_release(struct eng_pg_backup_result *r)
{
    if (!r) return;
    json_decref(r->warnings);
    r->warnings = NULL;
    json_decref(r->inventory);
    r->inventory = NULL;
}

static void pg_bk_phase(const struct eng_pg_backup_opts *o, const char *phase)
{
    if (o->on_phase) o->on_phase(o->hook_ctx, phase);
}

/* The parent's read start and data directory, if it is a base backup of this data directory:
 * 0 and *before_ns set, else -ENOENT (read everything). */
static int pg_bk_parent(struct repo *repo, const char *id, const char *dd, int64_t margin, int64_t *before_ns)
{
    json_t *doc = NULL;
    int rc = repo_snapshot_read(repo, id, &doc);
    if (rc) return rc;
    json_t *pg = json_object_get(doc, "pg");
    const char *pdd = json_string_value(json_object_get(pg, "data_directory"));
    json_int_t t = json_integer_value(json_object_get(pg, "read_start_usecs"));
    rc = pdd && strcmp(pdd, dd) == 0 && t > 0 ? 0 : -ENOENT;
    if (!rc) *before_ns = (int64_t)t * 1000 - margin;
    json_decref(doc);
    return rc;
}

static int pg_bk_stage_wal(struct pg_bk *s, const char *start_wal, const char *stop_wal, uint64_t seg_size,
                         uint64_t *wal_bytes, char *err, size_t errlen)
{
    char src[1400], dst[1400], name[32];
    uint64_t seg_per_id = 0x100000000ull / seg_size, a, b;
    unsigned ta, tb;
    int rc;
    if (pg_bk_walname(start_wal, seg_per_id, &ta, &a) || pg_bk_walname(stop_wal, seg_per_id, &tb, &b) || ta != tb ||
        b < a || b - a > 1000000) {
        eng_errf(err, errlen, "unexpected WAL range %s .. %s", start_wal, stop_wal);
        return -EPROTO;
    }
    snprintf(dst, sizeof dst, "%s/pg_wal", s->stage);
    if (mkdir(dst, 0700) != 0 || chown(dst, s->uid, s->gid) != 0) {
        rc = -errno;
        eng_errf(err, errlen, "cannot make %s: %s", dst, strerror(-rc));
        return rc;
    }
    if (ta > 1) {   /* the timeline's history: recovery reads it to follow the timeline */
        snprintf(name, sizeof name, "%08X.history", ta);
        snprintf(src, sizeof src, "%s/pg_wal/%s", s->dd, name);
        snprintf(dst, sizeof dst, "%s/pg_wal/%s", s->stage, name);
        if ((rc = pg_bk_copy(src, dst, s->uid, s->gid, wal_bytes)) != 0) {
            eng_errf(err, errlen, "cannot copy %s: %s", src, strerror(-rc));
            return rc;
        }
    }
    for (uint64_t seg = a; seg <= b; seg++) {
        snprintf(name, sizeof name, "%08X%08X%08X", ta, (unsigned)(seg / seg_per_id), (unsigned)(seg % seg_per_id));
        snprintf(src, sizeof src, "%s/pg_wal/%s", s->dd, name);
        snprintf(dst, sizeof dst, "%s/pg_wal/%s", s->stage, name);
        uint64_t before = *wal_bytes;
        if ((rc = pg_bk_copy(src, dst, s->uid, s->gid, wal_bytes)) != 0) {
            eng_errf(err, errlen, "cannot copy WAL segment %s: %s", src, strerror(-rc));
            return rc;
        }
        if (*wal_bytes - before != seg_size) {
            eng_errf(err, errlen, "WAL segment %s has %" PRIu64 " bytes, not %" PRIu64, src, *wal_bytes - before,
                     seg_size);
            return -EPROTO;
        }
    }
    return 0;
}

int eng_pg_backup(struct repo *repo, const struct eng_pg_backup_opts *o, struct eng_pg_backup_result *out,
                  char *err, size_t errlen)
{
    struct pg_bk s = { 0 };
    PGresult *r = NULL;
    char **excl = NULL;
    json_t *pg = NULL, *meta = NULL;
    struct eng_backup_result r1 = { 0 }, r2 = { 0 };
    char label_text[8192] = "", spcmap[8192] = "", stop_lsn[32] = "", start_wal[64] = "", stop_wal[64] = "";
    char version[64] = "", field[128];
    uint64_t t0 = eng_now_usecs(), start_usecs = 0, read_start = 0, stop_usecs = 0, seg_size = 0;
    int64_t before_ns = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (!(out->warnings = json_array())) return -ENOMEM;
    if (!o || !o->conninfo) {
        eng_errf(err, errlen, "no connection string");
        return -EINVAL;
    }
    s.conn = PQconnectdb(o->conninfo);
    if (!s.conn || PQstatus(s.conn) != CONNECTION_OK) {
        eng_errf(err, errlen, "cannot connect to PostgreSQL: %s", s.conn ? PQerrorMessage(s.conn) : "out of memory");
        rc = -ECONNREFUSED;
        goto done;
    }
    /* what and where the instance is */
    rc = pg_bk_query(s.conn,
                   "SELECT current_setting('data_directory'), current_setting('server_version'),"
                   " current_setting('server_version_num')::int, pg_is_in_recovery(),"
                   " (SELECT count(*) FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')),"
                   " (SELECT bytes_per_wal_segment FROM pg_control_init())",
                   0, NULL, &r, err, errlen);
    if (rc) goto done;
    snprintf(s.dd, sizeof s.dd, "%s", PQgetvalue(r, 0, 0));
    snprintf(version, sizeof version, "%s", PQgetvalue(r, 0, 1));
    out->server_version_num = atoi(PQgetvalue(r, 0, 2));
    int in_recovery = strcmp(PQgetvalue(r, 0, 3), "t") == 0, n_spc = atoi(PQgetvalue(r, 0, 4));
    seg_size = strtoull(PQgetvalue(r, 0, 5), NULL, 10);
    PQclear(r);
    r = NULL;
    snprintf(out->data_directory, sizeof out->data_directory, "%s", s.dd);
    if (out->server_version_num < 150000) {
        eng_errf(err, errlen, "PostgreSQL %s: 15 or later is needed (pg_backup_start)", version);
        rc = -ENOTSUP;
        goto done;
    }
    if (in_recovery || n_spc > 0) {
        eng_errf(err, errlen, "%s", in_recovery ? "the server is a standby: back up its primary"
                                                : "tablespaces outside the data directory are not supported yet");
        rc = -ENOTSUP;
        goto done;
    }
    if (seg_size < (1u << 20) || (seg_size & (seg_size - 1))) {
        eng_errf(err, errlen, "unexpected WAL segment size %" PRIu64, seg_size);
        rc = -EPROTO;
        goto done;
    }
    struct stat st;
    if (stat(s.dd, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = errno ? -errno : -ENOTDIR;
        eng_errf(err, errlen, "the data directory %s is not readable here (the server must be local): %s", s.dd,
                 strerror(-rc));
        goto done;
    }
    s.uid = st.st_uid;
    s.gid = st.st_gid;
    if (!(excl = eng_pg_excludes(s.dd))) {
        rc = -EINVAL;
        eng_errf(err, errlen, "the data directory path %s holds glob characters", s.dd);
        goto done;
    }
    int64_t margin = o->racy_margin_ns > 0 ? o->racy_margin_ns : ENG_PG_RACY_MARGIN_NS;
    const char *parent = o->parent_snapshot_id && *o->parent_snapshot_id ? o->parent_snapshot_id : NULL;
    if (parent && pg_bk_parent(repo, parent, s.dd, margin, &before_ns) != 0) {
        eng_problem(out->warnings, s.dd, "parent snapshot %.64s is not a base backup of this data directory: "
                    "reading everything", parent);
        parent = NULL;
    }

    /* the WAL from here on stays until we have copied it */
    snprintf(s.slot, sizeof s.slot, "coffer_bk_%ld_%" PRIu64, (long)getpid(), (uint64_t)(t0 % 1000000000u));
    const char *sp[] = { s.slot, o->label ? o->label : "coffer" };
    if ((rc = pg_bk_query(s.conn, "SELECT pg_create_physical_replication_slot($1, true, true)", 1, sp, &r, err,
                        errlen)) != 0)
        goto done;
    PQclear(r);
    r = NULL;
    start_usecs = eng_now_usecs();
    if ((rc = pg_bk_query(s.conn, "SELECT pg_backup_start($1, true)::text", 1, sp + 1, &r, err, errlen)) != 0)
        goto done;
    snprintf(out->start_lsn, sizeof out->start_lsn, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    pg_bk_phase(o, "started");

    /* run 1: the data directory */
    read_start = eng_now_usecs();
    const char *inc1[] = { s.dd };
    struct eng_backup_opts b1 = {
        .include_paths = inc1, .n_include = 1, .exclude_paths = (const char *const *)excl,
        .parent_snapshot_id = parent, .progress = o->progress, .progress_ctx = o->progress_ctx,
        .cancel = o->cancel, .threads = o->threads, .reuse_mtime_before_ns = parent ? before_ns : 0,
        .on_before_open = o->on_before_open, .hook_ctx = o->hook_ctx,
    };
    for (b1.n_exclude = 0; excl[b1.n_exclude]; b1.n_exclude++) {}
    if ((rc = eng_backup(repo, &b1, &r1, err, errlen)) != 0) goto done;
    snprintf(s.run1, sizeof s.run1, "%s", r1.snapshot_id);
    pg_bk_phase(o, "copied");

    if ((rc = pg_bk_query(s.conn, "SELECT lsn::text, labelfile, spcmapfile, pg_walfile_name(lsn) FROM pg_backup_stop(false)",
                        0, NULL, &r, err, errlen)) != 0)
        goto done;
    stop_usecs = eng_now_usecs();
    snprintf(stop_lsn, sizeof stop_lsn, "%s", PQgetvalue(r, 0, 0));
    if (strlen(PQgetvalue(r, 0, 1)) >= sizeof label_text || strlen(PQgetvalue(r, 0, 2)) >= sizeof spcmap) {
        eng_errf(err, errlen, "backup_label or tablespace_map too long");
        rc = -EPROTO;
        goto done;
    }
    snprintf(label_text, sizeof label_text, "%s", PQgetvalue(r, 0, 1));
    snprintf(spcmap, sizeof spcmap, "%s", PQgetvalue(r, 0, 2));
    snprintf(stop_wal, sizeof stop_wal, "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    r = NULL;
    snprintf(out->stop_lsn, sizeof out->stop_lsn, "%s", stop_lsn);
    /* "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)", "START TIMELINE: 1" */
    if (pg_bk_label_field(label_text, "START WAL LOCATION", field, sizeof field) != 0 ||
        sscanf(field, "%*s (file %63[0-9A-F])", start_wal) != 1 ||
        pg_bk_label_field(label_text, "START TIMELINE", field, sizeof field) != 0 ||
        sscanf(field, "%u", &out->timeline) != 1) {
        eng_errf(err, errlen, "cannot read the start WAL file and timeline from the backup_label");
        rc = -EPROTO;
        goto done;
    }

    /* the staging directory: label files and WAL, owned like the data directory */
    const char *base = o->staging_parent ? o->staging_parent : getenv("TMPDIR");
    snprintf(s.stage, sizeof s.stage, "%s/coffer-pg-stage-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(s.stage)) {
        rc = -errno;
        eng_errf(err, errlen, "cannot make a staging directory under %s: %s", base ? base : "/tmp", strerror(-rc));
        s.stage[0] = '\0';
        goto done;
    }
    char path[1400];
    if (chown(s.stage, s.uid, s.gid) != 0) { rc = -errno; eng_errf(err, errlen, "chown %s: %s", s.stage, strerror(-rc)); goto done; }
    snprintf(path, sizeof path, "%s/backup_label", s.stage);
    if ((rc = eng_write_text_owned(path, label_text, O_EXCL, s.uid, s.gid)) != 0) { eng_errf(err, errlen, "writing %s: %s", path, strerror(-rc)); goto done; }
    if (spcmap[0]) {
        snprintf(path, sizeof path, "%s/tablespace_map", s.stage);
        if ((rc = eng_write_text_owned(path, spcmap, O_EXCL, s.uid, s.gid)) != 0) { eng_errf(err, errlen, "writing %s: %s", path, strerror(-rc)); goto done; }
    }
    if ((rc = pg_bk_stage_wal(&s, start_wal, stop_wal, seg_size, &out->wal_bytes, err, errlen)) != 0) goto done;
    if ((rc = pg_bk_query(s.conn, "SELECT pg_drop_replication_slot($1)", 1, sp, &r, err, errlen)) != 0) goto done;
    PQclear(r);
    r = NULL;
    s.slot[0] = '\0';

    /* run 2: the final snapshot */
    pg = json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:s*}",
                   "version", 1, "data_directory", s.dd, "staging", s.stage, "start_lsn", out->start_lsn,
                   "stop_lsn", stop_lsn, "timeline", (int)out->timeline, "start_wal", start_wal, "stop_wal", stop_wal,
                   "server_version", version, "server_version_num", out->server_version_num,
                   "label", o->label ? o->label : "coffer", "start_time_usecs", (json_int_t)start_usecs,
                   "stop_time_usecs", (json_int_t)stop_usecs, "read_start_usecs", (json_int_t)read_start,
                   "racy_before_ns", (json_int_t)before_ns, "wal_bytes", (json_int_t)out->wal_bytes,
                   "parent_base_backup", parent);
    meta = json_object();
    if (!pg || !meta) { rc = -ENOMEM; goto done; }
    if (o->snapshot_meta && json_is_object(o->snapshot_meta)) json_object_update(meta, o->snapshot_meta);
    json_object_set(meta, "pg", pg);
    const char *inc2[] = { s.dd, s.stage }, *graft[] = { s.dd };
    struct eng_backup_opts b2 = {
        .include_paths = inc2, .n_include = 2, .parent_snapshot_id = s.run1, .snapshot_meta = meta,
        .cancel = o->cancel, .threads = o->threads, .graft_paths = graft, .n_graft = 1,
    };
    if ((rc = eng_backup(repo, &b2, &r2, err, errlen)) != 0) goto done;
    snprintf(out->snapshot_id, sizeof out->snapshot_id, "%s", r2.snapshot_id);
    out->files = r1.files;
    out->files_unchanged = r1.files_unchanged;
    out->logical_bytes = r1.logical_bytes + r2.logical_bytes;
    out->bytes_read = r1.bytes_read + r2.bytes_read;
    out->data_bytes_read = r1.bytes_read;
    out->bytes_added = r1.bytes_added + r2.bytes_added;
    json_array_extend(out->warnings, r1.warnings);
    json_array_extend(out->warnings, r2.warnings);

done:
    if (r) PQclear(r);
    if (s.conn) {
        if (rc && s.slot[0] && PQstatus(s.conn) == CONNECTION_OK) {   /* temporary: also gone at disconnect */
            const char *sp2[] = { s.slot };
            PGresult *x = PQexecParams(s.conn, "SELECT pg_drop_replication_slot($1)", 1, NULL, sp2, NULL, NULL, 0);
            PQclear(x);
        }
        PQfinish(s.conn);   /* a backup still in progress is aborted with the session */
    }
    if (s.run1[0]) repo_snapshot_forget(repo, s.run1);
    if (s.stage[0]) nftw(s.stage, pg_bk_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    eng_pg_excludes_free(excl);
    eng_backup_result_release(&r1);
    eng_backup_result_release(&r2);
    json_decref(pg);
    json_decref(meta);
    out->usecs = eng_now_usecs() - t0;
    if (rc) out->snapshot_id[0] = '\0';
    return rc;
}
