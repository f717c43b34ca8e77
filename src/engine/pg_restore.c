/* pg_restore.c: restores a PostgreSQL base-backup snapshot (pg.h) into a new data directory.
 *
 * How: the snapshot document's "pg" object names the data directory and the staging directory as
 * the backup saw them. Both are restored with the file engine into a private work directory
 * inside the target (same file system), then moved into place: the data directory's entries
 * become the target's, backup_label and tablespace_map go to its top, the WAL segments into its
 * pg_wal. Owners and modes are the snapshot's (the data directory's owner, postgres); the target
 * itself gets that owner and mode 0700. recovery.signal and recovery settings appended to
 * postgresql.auto.conf make the server recover until consistent (recovery_target = 'immediate':
 * right after the backup-end record, i.e. to the stop LSN) and promote (or, the point-in-time
 * seam, to a recovery_target_time with a restore_command). Point in time (pg_wal.c): the segments
 * of the sealed WAL snapshots named are restored the same way and moved into pg_wal beside the
 * backup's own (given to the owner; a name already there is kept), and recovery_target_time or
 * recovery_target_lsn replaces 'immediate', so the server replays from pg_wal up to the target.
 * Nothing is started. */
#include "engine/pg.h"
#include "engine/eng_internal.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* snprintf into a path buffer; -ENAMETOOLONG when it does not fit. */
static int pg_rs_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pg_rs_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static int pg_rs_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

/* 0 if dir is empty (or missing: then created 0700), -EEXIST if it holds anything. */
static int pg_rs_target(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno != ENOENT) return -errno;
        return mkdir(dir, 0700) == 0 ? 0 : -errno;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) { rc = -EEXIST; break; }
    closedir(d);
    return rc;
}

/* A setting's value for postgresql.auto.conf: quoted, quotes doubled; -EINVAL on a newline. */
static int pg_rs_quote(const char *v, char *out, size_t n)
{
    size_t k = 0;
    if (k + 1 >= n) return -ENAMETOOLONG;
    out[k++] = '\'';
    for (const char *p = v; *p; p++) {
        if (*p == '\n' || *p == '\r') return -EINVAL;
        if (k + 3 >= n) return -ENAMETOOLONG;
        if (*p == '\'') out[k++] = '\'';
        out[k++] = *p;
    }
    out[k++] = '\'';
    out[k] = '\0';
    return 0;
}

/* Moves every entry of from/ into to/. keep_existing (WAL: the same segment, from the backup or an
 * earlier WAL snapshot): a name already in to/ is kept and the moved entry is given to uid:gid,
 * mode 0600; else a name already in to/ is an error. */
static int pg_rs_move(const char *from, const char *to, int keep_existing, uid_t uid, gid_t gid, char *err,
                      size_t errlen)
{
    DIR *d = opendir(from);
    struct dirent *e;
    char a[4200], b[4200];
    int rc = 0;
    if (!d) return -errno;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        pg_rs_fmt(a, sizeof a, "%s/%s", from, e->d_name);
        pg_rs_fmt(b, sizeof b, "%s/%s", to, e->d_name);
        if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_NOREPLACE) != 0) {
            if (errno == EEXIST && keep_existing) { unlink(a); continue; }
            rc = -errno;
            eng_errf(err, errlen, "cannot move %s to %s: %s", a, b, strerror(-rc));
            break;
        }
        if (keep_existing && (chown(b, uid, gid) != 0 || chmod(b, 0600) != 0)) {
            rc = -errno;
            eng_errf(err, errlen, "cannot give %s to its owner: %s", b, strerror(-rc));
            break;
        }
    }
    closedir(d);
    return rc;
}

static int pg_rs_run(struct repo *repo, const char *snap, const char *const *paths, size_t n, const char *target,
                   const struct eng_pg_restore_opts *o, struct eng_pg_restore_result *out, char *err, size_t errlen)
{
    struct eng_restore_opts ro = {
        .paths = paths, .n_paths = n, .target_dir = target, .preserve_attrs = 1, .threads = o->threads,
        .cancel = o->cancel,
    };
    struct eng_restore_result rr = { 0 };
    int rc = eng_restore(repo, snap, &ro, &rr, err, errlen);
    out->files += rr.files;
    out->bytes += rr.bytes;
    eng_restore_result_release(&rr);
    return rc;
}

int eng_pg_restore(struct repo *repo, const char *snap, const struct eng_pg_restore_opts *o,
                   struct eng_pg_restore_result *out, char *err, size_t errlen)
{
    json_t *doc = NULL;
    struct tree_entry dde = { 0 };
    char work[4200] = "", p[4200], q[4200], conf[8192];
    uint64_t t0 = eng_now_usecs();
    int rc;

    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (!o || !o->target_dir || o->target_dir[0] != '/' || strlen(o->target_dir) > 2048) {
        eng_errf(err, errlen, "the target data directory must be an absolute path (of at most 2048 bytes)");
        return -EINVAL;   /* so that every path made below fits its 4200-byte buffer */
    }
    if ((o->recovery_target_time && o->recovery_target_lsn) || (o->n_wal_snapshots && !o->wal_snapshot_ids)) {
        eng_errf(err, errlen, "give a recovery target time or an LSN, not both (and WAL snapshot ids when counted)");
        return -EINVAL;
    }
    if ((rc = repo_snapshot_read(repo, snap, &doc)) != 0) {
        eng_errf(err, errlen, "cannot read snapshot %.64s: %s", snap, strerror(-rc));
        return rc == -ENOENT ? -ENOENT : -EBADMSG;
    }
    json_t *pg = json_object_get(doc, "pg");
    const char *dd = json_string_value(json_object_get(pg, "data_directory"));
    const char *stage = json_string_value(json_object_get(pg, "staging"));
    const char *stop = json_string_value(json_object_get(pg, "stop_lsn"));
    if (!dd || !stage || !stop || dd[0] != '/' || stage[0] != '/') {
        eng_errf(err, errlen, "snapshot %.64s is not a PostgreSQL base backup", snap);
        rc = -EINVAL;
        goto done;
    }
    snprintf(out->stop_lsn, sizeof out->stop_lsn, "%s", stop);
    if ((rc = eng_stat_path(repo, snap, dd, &dde)) != 0) {
        eng_errf(err, errlen, "the data directory %s is not in snapshot %.64s", dd, snap);
        if (rc == -ENOENT) rc = -EBADMSG;
        goto done;
    }
    if ((rc = pg_rs_target(o->target_dir)) != 0) {
        eng_errf(err, errlen, "%s: %s", o->target_dir, rc == -EEXIST ? "not empty" : strerror(-rc));
        goto done;
    }
    pg_rs_fmt(work, sizeof work, "%s/.coffer-pg-restore", o->target_dir);
    if (mkdir(work, 0700) != 0) {
        rc = -errno;
        eng_errf(err, errlen, "cannot make %s: %s", work, strerror(-rc));
        work[0] = '\0';
        goto done;
    }
    /* the data directory, then the staging directory's label files and WAL */
    const char *dpaths[] = { dd };
    if ((rc = pg_rs_run(repo, snap, dpaths, 1, work, o, out, err, errlen)) != 0) goto done;
    pg_rs_fmt(p, sizeof p, "%s/%s", work, eng_basename(dd));
    if ((rc = pg_rs_move(p, o->target_dir, 0, 0, 0, err, errlen)) != 0) goto done;
    if (rmdir(p) != 0) { rc = -errno; eng_errf(err, errlen, "rmdir %s: %s", p, strerror(-rc)); goto done; }

    const char *spaths[] = { stage };
    if ((rc = pg_rs_run(repo, snap, spaths, 1, work, o, out, err, errlen)) != 0) goto done;
    const char *sb = eng_basename(stage);
    pg_rs_fmt(q, sizeof q, "%s/pg_wal", o->target_dir);
    if (mkdir(q, 0700) != 0 && errno != EEXIST) { rc = -errno; eng_errf(err, errlen, "mkdir %s: %s", q, strerror(-rc)); goto done; }
    if (chown(q, dde.uid, dde.gid) != 0) { rc = -errno; eng_errf(err, errlen, "chown %s: %s", q, strerror(-rc)); goto done; }
    pg_rs_fmt(p, sizeof p, "%s/%s/pg_wal", work, sb);
    if ((rc = pg_rs_move(p, q, 0, 0, 0, err, errlen)) != 0) goto done;
    if (rmdir(p) != 0) { rc = -errno; eng_errf(err, errlen, "rmdir %s: %s", p, strerror(-rc)); goto done; }
    pg_rs_fmt(p, sizeof p, "%s/%s", work, sb);
    if ((rc = pg_rs_move(p, o->target_dir, 0, 0, 0, err, errlen)) != 0) goto done;   /* backup_label, tablespace_map */
    pg_rs_fmt(p, sizeof p, "%s/backup_label", o->target_dir);
    if (access(p, F_OK) != 0) {
        eng_errf(err, errlen, "snapshot %.64s holds no backup_label", snap);
        rc = -EBADMSG;
        goto done;
    }

    /* the sealed WAL snapshots' segments */
    for (size_t i = 0; i < o->n_wal_snapshots; i++) {
        json_t *wd = NULL;
        const char *ws = o->wal_snapshot_ids[i];
        if ((rc = repo_snapshot_read(repo, ws, &wd)) != 0) {
            eng_errf(err, errlen, "cannot read WAL snapshot %.64s: %s", ws, strerror(-rc));
            if (rc != -ENOENT) rc = -EBADMSG;
            goto done;
        }
        const char *spool = json_string_value(json_object_get(json_object_get(wd, "pg_wal"), "spool"));
        char sp[2100];
        if (!spool || spool[0] != '/' || strlen(spool) >= sizeof sp) {
            eng_errf(err, errlen, "snapshot %.64s is not a sealed WAL snapshot", ws);
            json_decref(wd);
            rc = -EINVAL;
            goto done;
        }
        snprintf(sp, sizeof sp, "%s", spool);
        json_decref(wd);
        const char *wpaths[] = { sp };
        if ((rc = pg_rs_run(repo, ws, wpaths, 1, work, o, out, err, errlen)) != 0) goto done;
        pg_rs_fmt(p, sizeof p, "%s/%s", work, eng_basename(sp));
        if ((rc = pg_rs_move(p, q, 1, dde.uid, dde.gid, err, errlen)) != 0) goto done;
        if (rmdir(p) != 0) { rc = -errno; eng_errf(err, errlen, "rmdir %s: %s", p, strerror(-rc)); goto done; }
    }

    /* how far to recover */
    char v1[2048], v2[2048];
    if (o->recovery_target_lsn) {
        if ((rc = pg_rs_quote(o->recovery_target_lsn, v1, sizeof v1)) != 0) { eng_errf(err, errlen, "bad recovery_target_lsn"); goto done; }
        snprintf(conf, sizeof conf, "\n# coffer restore of snapshot %.64s\nrecovery_target_lsn = %s\n"
                 "recovery_target_action = 'promote'\n", snap, v1);
    } else if (o->recovery_target_time) {
        if ((rc = pg_rs_quote(o->recovery_target_time, v1, sizeof v1)) != 0) { eng_errf(err, errlen, "bad recovery_target_time"); goto done; }
        snprintf(conf, sizeof conf, "\n# coffer restore of snapshot %.64s\nrecovery_target_time = %s\n"
                 "recovery_target_action = 'promote'\n", snap, v1);
    } else {   /* as soon as consistent: right after the backup-end record (the stop LSN) */
        snprintf(conf, sizeof conf, "\n# coffer restore of snapshot %.64s: recover to the backup's end (%s)\n"
                 "recovery_target = 'immediate'\nrecovery_target_action = 'promote'\n", snap, stop);
    }
    /* Targeted recovery needs a restore_command: without an archive, one that finds nothing, so
     * the WAL comes from pg_wal (where the backup's own segments are). */
    if ((rc = pg_rs_quote(o->restore_command ? o->restore_command : "/bin/false", v2, sizeof v2)) != 0) {
        eng_errf(err, errlen, "bad restore_command");
        goto done;
    }
    size_t l = strlen(conf);
    snprintf(conf + l, sizeof conf - l, "restore_command = %s\n", v2);
    pg_rs_fmt(p, sizeof p, "%s/postgresql.auto.conf", o->target_dir);
    if ((rc = eng_write_text_owned(p, conf, O_APPEND | O_NOFOLLOW, dde.uid, dde.gid)) != 0) { eng_errf(err, errlen, "writing %s: %s", p, strerror(-rc)); goto done; }
    pg_rs_fmt(p, sizeof p, "%s/recovery.signal", o->target_dir);
    if ((rc = eng_write_text_owned(p, "", O_APPEND | O_NOFOLLOW, dde.uid, dde.gid)) != 0) { eng_errf(err, errlen, "writing %s: %s", p, strerror(-rc)); goto done; }
    if (chown(o->target_dir, dde.uid, dde.gid) != 0 || chmod(o->target_dir, 0700) != 0) {
        rc = -errno;
        eng_errf(err, errlen, "cannot give %s to its owner: %s", o->target_dir, strerror(-rc));
        goto done;
    }

done:
    if (work[0]) nftw(work, pg_rs_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    tree_entry_release(&dde);
    json_decref(doc);
    out->usecs = eng_now_usecs() - t0;
    return rc;
}
