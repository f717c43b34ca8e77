/* pg_wal.c: continuous WAL for point-in-time restore (pg.h): eng_pg_wal_stream receives a local
 * PostgreSQL's WAL through a persistent physical replication slot into a spool directory of whole
 * 16 MiB segment files; eng_pg_wal_seal stores the complete segments into the repository as one
 * snapshot and then removes them from the spool.
 *
 * How: a libpq replication connection (replication=true, no database) runs
 * IDENTIFY_SYSTEM, READ_REPLICATION_SLOT (CREATE_REPLICATION_SLOT <slot> PHYSICAL RESERVE_WAL when
 * absent) and START_REPLICATION SLOT <slot> PHYSICAL <start of the restart LSN's segment>. In COPY
 * BOTH mode, 'w' XLogData is written at its offset into <segment>.partial; a segment's last byte
 * makes it fsynced and renamed to its final name (then the directory fsynced). 'k' keepalives that
 * ask for it, and every second, are answered with an 'r' standby status update whose flush
 * position is what is durably spooled (the partial is fsynced first), so the slot's restart LSN
 * never passes WAL that is not on disk. A restart begins again at the restart LSN's segment start
 * and rewrites that segment's partial. Waits are poll()s of 100 ms; the loop ends on the cancel
 * flag, the caller's time or byte budget, or an error. Sealing is one file-engine backup whose
 * include paths are exactly the complete segment files listed (docs/databases.md). */
#include "engine/pg.h"
#include "engine/eng_internal.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAL_SEG ((uint64_t)ENG_PG_WAL_SEG_SIZE)
#define WAL_SEGS_PER_ID (0x100000000ULL / WAL_SEG)
#define PG_EPOCH_OFFSET_USECS 946684800000000LL   /* 2000-01-01 - 1970-01-01 */

static void wal_name(unsigned tli, uint64_t segno, char out[25])
{
    snprintf(out, 25, "%08X%08X%08X", tli, (unsigned)(segno / WAL_SEGS_PER_ID), (unsigned)(segno % WAL_SEGS_PER_ID));
}

static int wal_parse_lsn(const char *s, uint64_t *out)
{
    unsigned hi, lo;
    if (!s || sscanf(s, "%X/%X", &hi, &lo) != 2) return -EINVAL;
    *out = ((uint64_t)hi << 32) | lo;
    return 0;
}

void eng_pg_lsn_format(uint64_t lsn, char out[32])
{
    snprintf(out, 32, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) { p[i] = (unsigned char)v; v >>= 8; }
}

static uint64_t get64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | (unsigned char)p[i];
    return v;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
    if (fd < 0) return -errno;
    if (fsync(fd) != 0) rc = -errno;
    close(fd);
    return rc;
}

/* One replication command with a result of rows; *out to PQclear. */
static int wal_cmd(PGconn *c, const char *sql, PGresult **out, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        eng_errf(err, errlen, "PostgreSQL (%s): %s", sql, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return -EIO;
    }
    *out = r;
    return 0;
}

struct wal_st {
    PGconn *c;
    const char *spool;
    unsigned tli;
    int fd;                /* the open partial, or -1 */
    uint64_t fd_segno;
    uint64_t written;      /* next LSN expected */
    uint64_t flushed;      /* durable in the spool */
    int dirty;             /* the partial has writes not fsynced */
};

static int wal_status(struct wal_st *s, int reply, char *err, size_t errlen)
{
    if (s->dirty && s->fd >= 0) {
        if (fsync(s->fd) != 0) { int rc = -errno; eng_errf(err, errlen, "fsync partial: %s", strerror(-rc)); return rc; }
        s->dirty = 0;
    }
    if (s->fd >= 0 || s->written % WAL_SEG == 0) s->flushed = s->written;
    unsigned char m[34];
    m[0] = 'r';
    put64(m + 1, s->written);
    put64(m + 9, s->flushed);
    put64(m + 17, 0);   /* not applied: we are no server */
    put64(m + 25, (uint64_t)((int64_t)eng_now_usecs() - PG_EPOCH_OFFSET_USECS));
    m[33] = (unsigned char)reply;
    if (PQputCopyData(s->c, (const char *)m, sizeof m) != 1 || PQflush(s->c) != 0) {
        eng_errf(err, errlen, "sending the status update: %s", PQerrorMessage(s->c));
        return -EIO;
    }
    return 0;
}

/* Closes the partial of a complete segment: fsync, rename to its final name, fsync the directory. */
static int wal_complete(struct wal_st *s, char *err, size_t errlen)
{
    char name[25], a[4200], b[4200];
    wal_name(s->tli, s->fd_segno, name);
    snprintf(a, sizeof a, "%s/%s.partial", s->spool, name);
    snprintf(b, sizeof b, "%s/%s", s->spool, name);
    int rc = 0;
    if (fsync(s->fd) != 0) rc = -errno;
    if (close(s->fd) != 0 && !rc) rc = -errno;
    s->fd = -1;
    s->dirty = 0;
    if (!rc && rename(a, b) != 0) rc = -errno;
    if (!rc) rc = fsync_dir(s->spool);
    if (rc) eng_errf(err, errlen, "completing segment %s: %s", name, strerror(-rc));
    return rc;
}

static int wal_write(struct wal_st *s, uint64_t start, const char *data, size_t len, char *err, size_t errlen)
{
    if (start != s->written) {
        eng_errf(err, errlen, "WAL arrived at %llX, expected %llX", (unsigned long long)start, (unsigned long long)s->written);
        return -EPROTO;
    }
    while (len > 0) {
        uint64_t segno = s->written / WAL_SEG, off = s->written % WAL_SEG;
        if (s->fd < 0) {
            char name[25], p[4200];
            wal_name(s->tli, segno, name);
            snprintf(p, sizeof p, "%s/%s.partial", s->spool, name);
            /* a segment starts at its beginning (where streaming starts), so the partial is new */
            s->fd = open(p, O_WRONLY | O_CREAT | (off == 0 ? O_TRUNC : 0) | O_CLOEXEC, 0600);
            if (s->fd < 0) { int rc = -errno; eng_errf(err, errlen, "cannot open %s: %s", p, strerror(-rc)); return rc; }
            s->fd_segno = segno;
        }
        size_t n = len < WAL_SEG - off ? len : (size_t)(WAL_SEG - off);
        size_t done = 0;
        for (int tries = 0; done < n && tries < 1000; tries++) {
            ssize_t k = pwrite(s->fd, data + done, n - done, (off_t)(off + done));
            if (k < 0) {
                if (errno == EINTR) continue;
                int rc = -errno;
                eng_errf(err, errlen, "writing WAL: %s", strerror(-rc));
                return rc;
            }
            done += (size_t)k;
        }
        if (done < n) { eng_errf(err, errlen, "writing WAL: short writes"); return -EIO; }
        s->dirty = 1;
        s->written += n;
        data += n;
        len -= n;
        if (s->written % WAL_SEG == 0) {
            int rc = wal_complete(s, err, errlen);
            if (rc) return rc;
            s->flushed = s->written;
        }
    }
    return 0;
}

int eng_pg_wal_stream(const struct eng_pg_wal_stream_opts *o, struct eng_pg_wal_stream_result *out, char *err,
                      size_t errlen)
{
    struct wal_st s = { .fd = -1 };
    PGresult *r = NULL;
    char ci[2048], sql[512];
    int rc = 0;
    uint64_t t0 = eng_mono_msecs();

    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (!o || !o->conninfo || !o->slot || !o->spool_dir || o->spool_dir[0] != '/' || strlen(o->spool_dir) > 4000) {
        eng_errf(err, errlen, "conninfo, slot and an absolute spool directory are needed");
        return -EINVAL;
    }
    for (const char *p = o->slot; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') || p - o->slot > 60) {
            eng_errf(err, errlen, "a slot name is lower-case letters, digits and _ (at most 63)");
            return -EINVAL;
        }
    if (mkdir(o->spool_dir, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        eng_errf(err, errlen, "cannot make %s: %s", o->spool_dir, strerror(-rc));
        return rc;
    }
    s.spool = o->spool_dir;
    if (snprintf(ci, sizeof ci, "%s replication=true", o->conninfo) >= (int)sizeof ci) return -ENAMETOOLONG;
    s.c = PQconnectdb(ci);
    if (!s.c || PQstatus(s.c) != CONNECTION_OK) {
        eng_errf(err, errlen, "cannot connect for replication: %s", s.c ? PQerrorMessage(s.c) : "out of memory");
        rc = -ECONNREFUSED;
        goto done;
    }
    if ((rc = wal_cmd(s.c, "SHOW wal_segment_size", &r, err, errlen)) != 0) goto done;
    int seg_ok = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "16MB") == 0;
    PQclear(r);
    if (!seg_ok) { eng_errf(err, errlen, "only 16 MiB WAL segments are supported"); rc = -ENOTSUP; goto done; }
    if ((rc = wal_cmd(s.c, "IDENTIFY_SYSTEM", &r, err, errlen)) != 0) goto done;
    s.tli = (unsigned)strtoul(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    /* the slot's restart point; a missing slot is created (its reply carries no LSN for a
     * physical slot) and read again */
    int have = 0;
    uint64_t restart = 0;
    for (int pass = 0; pass < 2 && !have; pass++) {
        snprintf(sql, sizeof sql, "READ_REPLICATION_SLOT %s", o->slot);
        if ((rc = wal_cmd(s.c, sql, &r, err, errlen)) != 0) goto done;
        have = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0);
        if (have) {
            if (strcmp(PQgetvalue(r, 0, 0), "physical") != 0 || PQgetisnull(r, 0, 1) ||
                wal_parse_lsn(PQgetvalue(r, 0, 1), &restart) != 0 || restart == 0) {
                eng_errf(err, errlen, "slot %s is not a physical slot holding WAL", o->slot);
                PQclear(r);
                rc = -EINVAL;
                goto done;
            }
            if (!PQgetisnull(r, 0, 2)) s.tli = (unsigned)strtoul(PQgetvalue(r, 0, 2), NULL, 10);
        }
        PQclear(r);
        if (!have && pass == 0) {
            snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s PHYSICAL RESERVE_WAL", o->slot);
            if ((rc = wal_cmd(s.c, sql, &r, err, errlen)) != 0) goto done;
            PQclear(r);
            out->slot_created = 1;
        }
    }
    if (!have) { eng_errf(err, errlen, "slot %s: cannot be read after its creation", o->slot); rc = -EIO; goto done; }
    s.written = s.flushed = restart - restart % WAL_SEG;
    out->start_lsn = s.written;
    char lsn[32];
    eng_pg_lsn_format(s.written, lsn);
    snprintf(sql, sizeof sql, "START_REPLICATION SLOT %s PHYSICAL %s TIMELINE %u", o->slot, lsn, s.tli);
    r = PQexec(s.c, sql);
    if (!r || PQresultStatus(r) != PGRES_COPY_BOTH) {
        eng_errf(err, errlen, "START_REPLICATION: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(s.c));
        PQclear(r);
        rc = -EIO;
        goto done;
    }
    PQclear(r);
    if (o->on_started) o->on_started(o->hook_ctx);

    uint64_t last_status = eng_mono_msecs();
    /* bounded: by the caller's budget, else at most 864e6 turns (each a message or a 100 ms wait) */
    for (long it = 0; it < 864000000L; it++) {
        if (o->cancel && *o->cancel) break;
        if (o->max_msecs > 0 && eng_mono_msecs() - t0 >= o->max_msecs) break;
        if (o->max_bytes > 0 && out->bytes >= o->max_bytes) break;
        if (eng_mono_msecs() - last_status >= 1000) {   /* also during a long burst of data */
            if ((rc = wal_status(&s, 0, err, errlen)) != 0) goto done;
            last_status = eng_mono_msecs();
        }
        char *buf = NULL;
        int n = PQgetCopyData(s.c, &buf, 1);
        if (n == 0) {
            struct pollfd pfd = { .fd = PQsocket(s.c), .events = POLLIN };
            if (poll(&pfd, 1, 100) < 0 && errno != EINTR) { rc = -errno; eng_errf(err, errlen, "poll: %s", strerror(-rc)); goto done; }
            if (!PQconsumeInput(s.c)) { eng_errf(err, errlen, "replication connection: %s", PQerrorMessage(s.c)); rc = -EIO; goto done; }
            continue;
        }
        if (n == -1) {
            PGresult *e = PQgetResult(s.c);
            eng_errf(err, errlen, "the server ended the replication stream at %llX: %s", (unsigned long long)s.written,
                     e ? PQresultErrorMessage(e) : "");
            PQclear(e);
            rc = -EPIPE;
            goto done;
        }
        if (n < 0) { eng_errf(err, errlen, "replication connection: %s", PQerrorMessage(s.c)); rc = -EIO; goto done; }
        if (buf[0] == 'w' && n >= 25) {
            rc = wal_write(&s, get64(buf + 1), buf + 25, (size_t)n - 25, err, errlen);
            out->bytes += (uint64_t)n - 25;
        } else if (buf[0] == 'k' && n >= 18) {
            if (buf[17]) { rc = wal_status(&s, 0, err, errlen); last_status = eng_mono_msecs(); }
        }
        PQfreemem(buf);
        if (rc) goto done;
    }
    rc = wal_status(&s, 0, err, errlen);   /* the last durable position before we go */
    if (!rc) {
        PQputCopyEnd(s.c, NULL);
        PQflush(s.c);
    }

done:
    if (s.fd >= 0) {
        if (fsync(s.fd) == 0) s.flushed = s.written;
        close(s.fd);
    }
    out->end_lsn = s.written;
    out->flushed_lsn = s.flushed;
    out->timeline = s.tli;
    if (s.c) PQfinish(s.c);
    return rc;
}

/* ---------- sealing ---------- */

static int wal_is_segment(const char *n)
{
    if (strlen(n) != 24) return 0;
    for (int i = 0; i < 24; i++)
        if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'A' && n[i] <= 'F'))) return 0;
    return 1;
}

static int wal_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int eng_pg_wal_seal(struct repo *repo, const struct eng_pg_wal_seal_opts *o, struct eng_pg_wal_seal_result *out,
                    char *err, size_t errlen)
{
    char **names = NULL, **paths = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    json_t *meta = NULL;
    struct eng_backup_result br = { 0 };
    uint64_t tmin = 0, tmax = 0;

    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (!o || !o->spool_dir || o->spool_dir[0] != '/' || strlen(o->spool_dir) > 4000) {
        eng_errf(err, errlen, "an absolute spool directory is needed");
        return -EINVAL;
    }
    DIR *d = opendir(o->spool_dir);
    if (!d) { rc = -errno; eng_errf(err, errlen, "cannot open %s: %s", o->spool_dir, strerror(-rc)); return rc; }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!wal_is_segment(e->d_name)) continue;
        char p[4200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", o->spool_dir, e->d_name);
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != WAL_SEG) continue;
        uint64_t mt = (uint64_t)st.st_mtim.tv_sec * 1000000ULL + (uint64_t)st.st_mtim.tv_nsec / 1000;
        if (!tmin || mt < tmin) tmin = mt;
        if (mt > tmax) tmax = mt;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **a = realloc(names, nc * sizeof *a), **b2;
            if (!a) { rc = -ENOMEM; break; }
            names = a;
            b2 = realloc(paths, nc * sizeof *b2);
            if (!b2) { rc = -ENOMEM; break; }
            paths = b2;
            cap = nc;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) { rc = -ENOMEM; break; }
        n++;
    }
    closedir(d);
    if (rc) { eng_errf(err, errlen, "out of memory"); goto done; }
    if (n == 0) { eng_errf(err, errlen, "no complete segment in %s", o->spool_dir); rc = -ENODATA; goto done; }
    qsort(names, n, sizeof *names, wal_cmp);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(o->spool_dir) + 26;
        if (!(paths[i] = malloc(l))) { while (i > 0) free(paths[--i]); rc = -ENOMEM; goto done_names; }
        snprintf(paths[i], l, "%s/%s", o->spool_dir, names[i]);
    }
    /* LSN range: the first segment's start to the last one's end (segment numbers from the names) */
    unsigned tli = 0, hi, lo;
    sscanf(names[0], "%8X%8X%8X", &tli, &hi, &lo);
    uint64_t first = ((uint64_t)hi * WAL_SEGS_PER_ID + lo) * WAL_SEG;
    sscanf(names[n - 1], "%*8X%8X%8X", &hi, &lo);
    uint64_t last_end = ((uint64_t)hi * WAL_SEGS_PER_ID + lo + 1) * WAL_SEG;
    char a[32], b[32];
    eng_pg_lsn_format(first, a);
    eng_pg_lsn_format(last_end, b);
    json_t *segs = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(segs, json_string(names[i]));
    meta = json_pack("{s:{s:i, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:o}}", "pg_wal", "version", 1, "spool",
                     o->spool_dir, "timeline", (json_int_t)tli, "start_lsn", a, "end_lsn", b, "start_wal", names[0],
                     "end_wal", names[n - 1], "first_complete_usecs", (json_int_t)tmin, "last_complete_usecs",
                     (json_int_t)tmax, "segments", segs);
    if (meta && o->snapshot_meta) json_object_update_missing(meta, o->snapshot_meta);
    if (!meta) { rc = -ENOMEM; goto done_paths; }
    struct eng_backup_opts bo = { .include_paths = (const char *const *)paths, .n_include = n, .snapshot_meta = meta,
                                  .threads = o->threads, .cancel = o->cancel };
    if ((rc = eng_backup(repo, &bo, &br, err, errlen)) != 0) goto done_paths;
    /* the snapshot is durable: the sealed segments leave the spool */
    snprintf(out->snapshot_id, sizeof out->snapshot_id, "%s", br.snapshot_id);
    out->segments = n;
    out->start_lsn = first;
    out->end_lsn = last_end;
    out->first_complete_usecs = tmin;
    out->last_complete_usecs = tmax;
    out->bytes_added = br.bytes_added;
    for (size_t i = 0; i < n; i++)
        if (unlink(paths[i]) != 0 && errno != ENOENT) { rc = -errno; eng_errf(err, errlen, "unlink %s: %s", paths[i], strerror(-rc)); break; }
    if (!rc) rc = fsync_dir(o->spool_dir);
done_paths:
    for (size_t i = 0; i < n; i++) free(paths[i]);
done_names:
done:
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(paths);
    json_decref(meta);
    eng_backup_result_release(&br);
    return rc;
}

void eng_pg_time_text(int64_t usecs, char *out, size_t n)
{
    time_t t = (time_t)(usecs / 1000000);
    struct tm tm;
    char d[40];
    gmtime_r(&t, &tm);
    strftime(d, sizeof d, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, n, "%s.%06lld+00", d, (long long)(usecs % 1000000));
}
