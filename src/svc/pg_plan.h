/* pg_plan.h: which repository snapshots restore a protected PostgreSQL instance to a moment, and
 * which moments can be restored at all, from the catalog's SQL snapshot rows (cat_snapshot.h: a
 * base backup, run type kFull or kRegular, with its start/stop LSN and time; a sealed WAL snapshot,
 * run type kLog, with its LSN range and the time range its WAL covers).
 *
 * A moment t is restorable from base backup B when B's stop time <= t and the sealed WAL snapshots
 * after B cover B's stop LSN up to t without a gap (their LSN ranges touch). t == 0 means B's own
 * consistent point (its stop LSN; no WAL beyond B's own is needed).
 *
 * Functions return 0 or a negative errno code (-ENOENT: no such snapshot of tenant, or not a SQL
 * one; -ERANGE: the moment is not inside a restorable range: err says which ranges exist). */
#ifndef COFFER_SVC_PG_PLAN_H
#define COFFER_SVC_PG_PLAN_H
#include <stddef.h>
#include <stdint.h>

struct cat;

struct svc_pg_plan {
    int64_t instance_id;        /* the kInstance object the snapshots are of */
    char *base_snapshot_id;     /* the base backup to start from */
    char **wal_snapshot_ids;    /* sealed WAL snapshots to lay into pg_wal, oldest first */
    size_t n_wal;
    int64_t target_usecs;       /* 0: the base backup's own point; else recovery_target_time */
};
void svc_pg_plan_release(struct svc_pg_plan *p);

/* svc_pg_plan_restore: snapshot_id names any SQL snapshot of the instance (the one a client picked:
 * its run's base backup, or a kLog snapshot); point_usecs 0 = that base backup's own point (for a
 * kLog snapshot: the end of its WAL). Picks the newest base backup at or before the point. */
int svc_pg_plan_restore(struct cat *cat, const char *tenant, const char *snapshot_id, int64_t point_usecs,
                        struct svc_pg_plan *out, char *err, size_t errlen);

/* A continuous range of restorable moments [start, end] of an instance. */
struct svc_pg_range {
    int64_t start_usecs, end_usecs;
    char *base_snapshot_id;     /* the base backup the range starts from */
};
/* svc_pg_restore_ranges: the ranges of instance_id (optionally only snapshots made by group_id, NULL =
 * any group) that intersect [from, to]; *out malloc'd (*n entries), released with svc_pg_ranges_free. */
int svc_pg_restore_ranges(struct cat *cat, const char *tenant, int64_t instance_id, const char *group_id,
                          int64_t from_usecs, int64_t to_usecs, struct svc_pg_range **out, size_t *n);
void svc_pg_ranges_free(struct svc_pg_range *v, size_t n);
#endif
