/* pg_plan.c: the restore planner of PostgreSQL instances (see pg_plan.h) over the catalog's SQL
 * snapshot rows (cat_snapshot.h: struct cat_snapshot_sql).
 *
 * How: the instance's live SQL snapshots are read once into two arrays, base backups (run type kFull
 * or kRegular) by consistent point and sealed WAL snapshots (kLog) by start LSN. From a base backup B
 * the WAL beyond B's own starts at the end of B's stop segment (B holds the WAL up to and including the
 * segment of its stop LSN); a chain of WAL snapshots continues it while each starts at or before the
 * LSN covered so far (a gap ends the chain). B then restores every moment from its consistent point to
 * the wal_to_usecs of the chain's last snapshot: the kLog run wrote a marker commit after that time
 * and before sealing (job_backup_sql.c), so a commit after each such moment is in the WAL, which
 * PostgreSQL needs to stop at a recovery_target_time. Ranges of successive base backups that overlap
 * or touch are merged (the oldest base backup names the range); a restore picks the newest base backup
 * whose range holds the point (the least WAL to replay). */
#include "svc/pg_plan.h"
#include "catalog/cat_snapshot.h"
#include "util/array.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_SEG_SIZE 0x1000000ULL /* 16 MiB: the only WAL segment size the engine supports */
#define MAX_SNAPSHOTS 100000     /* bounded read of one instance's rows */

struct row {
    char *id;
    char *group_id;
    int is_base;
    uint64_t start_lsn, end_lsn;
    int64_t consistent_usecs, wal_to_usecs;
};

struct rows {
    struct row *base, *wal;
    size_t nbase, nwal, capbase, capwal;
    const char *group_id; /* NULL: any group */
    int overflow;
};

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->nbase; i++) free(r->base[i].id), free(r->base[i].group_id);
    for (size_t i = 0; i < r->nwal; i++) free(r->wal[i].id), free(r->wal[i].group_id);
    free(r->base);
    free(r->wal);
    memset(r, 0, sizeof *r);
}

static int is_base_type(const char *t)
{
    return strcmp(t, "kFull") == 0 || strcmp(t, "kRegular") == 0;
}

static int collect(void *ud, const struct cat_snapshot *s)
{
    struct rows *r = ud;
    struct row x = { 0 };
    if (!s->sql.present) return 0;
    if (r->group_id && strcmp(r->group_id, s->group_id) != 0) return 0;
    if (r->nbase + r->nwal >= MAX_SNAPSHOTS) {
        r->overflow = 1;
        return 1;
    }
    x.is_base = is_base_type(s->run_type);
    if (!x.is_base && strcmp(s->run_type, "kLog") != 0) return 0;
    x.start_lsn = s->sql.start_lsn;
    x.end_lsn = s->sql.end_lsn;
    x.consistent_usecs = s->sql.consistent_usecs;
    x.wal_to_usecs = s->sql.wal_to_usecs;
    if (!(x.id = strdup(s->id)) || !(x.group_id = strdup(s->group_id))) goto oom;
    if (x.is_base) {
        if (ARRAY_RESERVE(r->base, r->capbase, r->nbase + 1) != 0) goto oom;
        r->base[r->nbase++] = x;
    } else {
        if (ARRAY_RESERVE(r->wal, r->capwal, r->nwal + 1) != 0) goto oom;
        r->wal[r->nwal++] = x;
    }
    return 0;
oom:
    free(x.id);
    free(x.group_id);
    return -ENOMEM;
}

static int by_consistent(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    return x->consistent_usecs < y->consistent_usecs ? -1 : x->consistent_usecs > y->consistent_usecs;
}

static int by_start_lsn(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->start_lsn != y->start_lsn) return x->start_lsn < y->start_lsn ? -1 : 1;
    return x->end_lsn < y->end_lsn ? 1 : x->end_lsn > y->end_lsn ? -1 : 0; /* the longer first */
}

/* load: the live SQL snapshots of the instance (optionally of one group), sorted. */
static int load(struct cat *cat, const char *tenant, int64_t instance_id, const char *group_id, struct rows *r)
{
    struct cat_snapshot_filter f = { .object_id = instance_id, .source_id = -1, .environment = "kSQL" };
    int rc;
    memset(r, 0, sizeof *r);
    r->group_id = group_id;
    rc = cat_snapshot_list(cat, tenant, &f, collect, r);
    if (rc < 0) {
        rows_free(r);
        return rc == -ENOMEM ? rc : -EIO;
    }
    if (r->base) qsort(r->base, r->nbase, sizeof *r->base, by_consistent);
    if (r->wal) qsort(r->wal, r->nwal, sizeof *r->wal, by_start_lsn);
    return 0;
}

/* chain: the WAL snapshots continuing base b without a gap, in order, as indexes into r->wal
 * (*idx malloc'd, *n entries); *end_usecs the last one's wal_to_usecs (b's consistent point when none). */
static int chain(const struct rows *r, const struct row *b, size_t **idx, size_t *n, int64_t *end_usecs)
{
    uint64_t cover = (b->end_lsn + PG_SEG_SIZE - 1) / PG_SEG_SIZE * PG_SEG_SIZE;
    size_t cap = 0;
    *idx = NULL;
    *n = 0;
    *end_usecs = b->consistent_usecs;
    for (size_t i = 0; i < r->nwal; i++) {
        const struct row *w = &r->wal[i];
        if (w->end_lsn <= cover) continue; /* nothing beyond what is covered already */
        if (w->start_lsn > cover) break;   /* a gap: the chain ends */
        if (ARRAY_RESERVE(*idx, cap, *n + 1) != 0) {
            free(*idx);
            *idx = NULL;
            return -ENOMEM;
        }
        (*idx)[(*n)++] = i;
        cover = w->end_lsn;
        if (w->wal_to_usecs > *end_usecs) *end_usecs = w->wal_to_usecs;
    }
    return 0;
}

void svc_pg_plan_release(struct svc_pg_plan *p)
{
    if (!p) return;
    free(p->base_snapshot_id);
    for (size_t i = 0; i < p->n_wal; i++) free(p->wal_snapshot_ids[i]);
    free(p->wal_snapshot_ids);
    memset(p, 0, sizeof *p);
}

void svc_pg_ranges_free(struct svc_pg_range *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i].base_snapshot_id);
    free(v);
}

/* ranges_of: every base backup's range, merged when they overlap or touch, oldest first. */
static int ranges_of(const struct rows *r, struct svc_pg_range **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < r->nbase; i++) {
        size_t *idx = NULL, k = 0;
        int64_t end;
        const struct row *b = &r->base[i];
        if (chain(r, b, &idx, &k, &end) != 0) goto oom;
        free(idx);
        if (*n > 0 && b->consistent_usecs <= (*out)[*n - 1].end_usecs) {
            if (end > (*out)[*n - 1].end_usecs) (*out)[*n - 1].end_usecs = end;
            continue;
        }
        if (ARRAY_RESERVE(*out, cap, *n + 1) != 0) goto oom;
        (*out)[*n] = (struct svc_pg_range){ .start_usecs = b->consistent_usecs, .end_usecs = end,
                                            .base_snapshot_id = strdup(b->id) };
        if (!(*out)[*n].base_snapshot_id) goto oom;
        (*n)++;
    }
    return 0;
oom:
    svc_pg_ranges_free(*out, *n);
    *out = NULL;
    *n = 0;
    return -ENOMEM;
}

int svc_pg_restore_ranges(struct cat *cat, const char *tenant, int64_t instance_id, const char *group_id,
                          int64_t from_usecs, int64_t to_usecs, struct svc_pg_range **out, size_t *n)
{
    struct rows r;
    struct svc_pg_range *all = NULL;
    size_t nall = 0, k = 0;
    int rc = load(cat, tenant, instance_id, group_id, &r);
    *out = NULL;
    *n = 0;
    if (rc != 0) return rc;
    rc = ranges_of(&r, &all, &nall);
    rows_free(&r);
    if (rc != 0) return rc;
    for (size_t i = 0; i < nall; i++) {
        if (all[i].end_usecs < from_usecs || (to_usecs > 0 && all[i].start_usecs > to_usecs)) {
            free(all[i].base_snapshot_id);
            continue;
        }
        all[k++] = all[i];
    }
    if (k == 0) {
        free(all);
        return 0;
    }
    *out = all;
    *n = k;
    return 0;
}

/* describe: the instance's ranges as a sentence for err. */
static void describe(const struct rows *r, char *err, size_t errlen, int64_t point)
{
    struct svc_pg_range *v = NULL;
    size_t n = 0, len;
    snprintf(err, errlen, "no restorable range holds %" PRId64 " (usecs); ranges:", point);
    if (ranges_of(r, &v, &n) != 0 || n == 0) {
        len = strlen(err);
        snprintf(err + len, errlen - len, " none");
    }
    for (size_t i = 0; i < n; i++) {
        len = strlen(err);
        snprintf(err + len, errlen - len, " [%" PRId64 ", %" PRId64 "]", v[i].start_usecs, v[i].end_usecs);
    }
    svc_pg_ranges_free(v, n);
}

int svc_pg_plan_restore(struct cat *cat, const char *tenant, const char *snapshot_id, int64_t point_usecs,
                        struct svc_pg_plan *out, char *err, size_t errlen)
{
    struct cat_snapshot s;
    struct rows r;
    int rc, is_base;
    memset(out, 0, sizeof *out);
    rc = cat_snapshot_get(cat, tenant, snapshot_id, &s);
    if (rc == CAT_NOT_FOUND || (rc == 0 && (!s.sql.present || s.is_deleted))) {
        snprintf(err, errlen, "snapshot %.64s is not a SQL snapshot of this tenant", snapshot_id);
        if (rc == 0) cat_snapshot_release(&s);
        return -ENOENT;
    }
    if (rc != 0) {
        snprintf(err, errlen, "the catalog cannot be read");
        return -EIO;
    }
    is_base = is_base_type(s.run_type);
    out->instance_id = s.object_id;
    if (point_usecs == 0 && is_base) { /* the base backup's own point: nothing but itself */
        out->base_snapshot_id = strdup(s.id);
        cat_snapshot_release(&s);
        return out->base_snapshot_id ? 0 : -ENOMEM;
    }
    if (point_usecs == 0) point_usecs = s.sql.wal_to_usecs; /* a kLog snapshot: the end of its WAL */
    cat_snapshot_release(&s);
    if ((rc = load(cat, tenant, out->instance_id, NULL, &r)) != 0) {
        snprintf(err, errlen, "the catalog cannot be read");
        return rc;
    }
    /* The newest base backup whose range holds the point. */
    for (size_t i = r.nbase; i-- > 0;) {
        const struct row *b = &r.base[i];
        size_t *idx = NULL, k = 0, need = 0;
        int64_t end;
        if (b->consistent_usecs > point_usecs) continue;
        if ((rc = chain(&r, b, &idx, &k, &end)) != 0) break;
        if (point_usecs > end) {
            free(idx);
            continue;
        }
        out->base_snapshot_id = strdup(b->id);
        if (point_usecs == b->consistent_usecs) {
            need = 0; /* exactly the base's own point: recover to it, no WAL beyond */
        } else {
            out->target_usecs = point_usecs;
            /* WAL up to the first snapshot whose marker commit lies at or after the point. */
            while (need < k && r.wal[idx[need]].wal_to_usecs < point_usecs) need++;
            if (need < k) need++;
        }
        if (need && !(out->wal_snapshot_ids = calloc(need, sizeof *out->wal_snapshot_ids))) rc = -ENOMEM;
        for (size_t w = 0; rc == 0 && w < need; w++) {
            if (!(out->wal_snapshot_ids[w] = strdup(r.wal[idx[w]].id))) rc = -ENOMEM;
            else out->n_wal++;
        }
        free(idx);
        if (!out->base_snapshot_id) rc = -ENOMEM;
        if (rc != 0) svc_pg_plan_release(out);
        rows_free(&r);
        return rc;
    }
    if (rc == 0) {
        describe(&r, err, errlen, point_usecs);
        rc = -ERANGE;
    }
    rows_free(&r);
    return rc;
}
