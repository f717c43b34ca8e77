/* cat.h: the catalog, Coffer's durable record of tenants' policies, groups, sources, runs,
 * snapshots and recoveries. SQLite in WAL mode (synchronous=FULL, foreign keys on, busy timeout) by
 * default, or PostgreSQL (sqldb.h: the statement seam and its two drivers), schema changed only by
 * numbered migrations (migrations.c). All SQL lives in src/catalog; the rest of
 * the program calls typed functions declared in the cat_*.h headers of this folder. Every row
 * belongs to a tenant and every query is scoped by it.
 *
 * Threads: each thread gets its own connection on first use (kept in thread-local storage,
 * closed when the thread exits), with a cache of prepared statements. Functions follow util/err.h:
 * 0 on success, CAT_NOT_FOUND (ERR_NOT_FOUND), CAT_CONFLICT (ERR_CONFLICT), -ENOSPC when the disk is
 * full (SQLITE_FULL, or an I/O error whose errno is ENOSPC), or another negative value on an internal
 * error (logged). Every result but 0 is negative; predicates (cat_*_exists, cat_*_is_*) return 1 or 0.
 *
 * Disk full: a run's failure must still be recorded. cat_reserve_init keeps a file of preallocated
 * bytes beside the catalog; whoever must record something on a full disk calls cat_reserve_release
 * (the bytes become free for SQLite) and retries; cat_reserve_restore, called periodically, re-creates
 * it once the disk has room for twice its size. */
#ifndef COFFER_CATALOG_CAT_H
#define COFFER_CATALOG_CAT_H
#include "util/err.h"
#include <stdint.h>
#include <jansson.h>

/* The catalog's two answers that are not faults (negative, like every error: util/err.h). */
#define CAT_NOT_FOUND ERR_NOT_FOUND
#define CAT_CONFLICT ERR_CONFLICT

struct cat;

/* cat_open: opens (creating if needed) the catalog at path and applies pending migrations. path is
 * a SQLite file, or a postgresql:// URL or libpq key=value string for a catalog on PostgreSQL. */
int cat_open(const char *path, struct cat **out, char *err, size_t errlen);
void cat_close(struct cat *cat);

/* cat_shared: 1 when several daemons use this catalog at once: PostgreSQL with
 * COFFER_SHARED_CATALOG=1 in the environment (every node of a cluster sets it); else 0 (SQLite: one
 * daemon per data directory). A shared catalog's Running jobs at start belong to other live nodes
 * until their leases expire. */
int cat_shared(struct cat *cat);

/* The installation's identity, generated once: cluster id and incarnation id (positive int64s). */
int cat_installation(struct cat *cat, int64_t *cluster_id, int64_t *incarnation_id);
/* cat_next_seq: the next value (1, 2, ...) of a named durable counter; used for ids. */
int cat_next_seq(struct cat *cat, const char *name, int64_t *out);
/* cat_schema_version: the number of migrations applied. */
int cat_schema_version(struct cat *cat);

/* cat_last_error: the code of the last statement that failed on this thread (-ENOSPC when the disk
 * was full, -1 otherwise), 0 when the last statement prepared since then has not failed. For callers
 * that were told only that a catalog call failed (the API's internal-error answer). */
int cat_last_error(void);

/* The space reserve (see above): init creates path with bytes preallocated if it is missing (0 or
 * -errno, logged); release unlinks it (1 released, 0 there was none); restore re-creates it when
 * missing and the disk has 2 * bytes free (1 re-created, 0 nothing to do, -ENOSPC not yet room). */
int cat_reserve_init(struct cat *cat, const char *path, int64_t bytes);
int cat_reserve_release(struct cat *cat);
int cat_reserve_restore(struct cat *cat);

/* Transactions around several typed calls on this thread's connection: a writer excluding every
 * other (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN and the catalog's advisory lock). */
int cat_begin(struct cat *cat);
int cat_commit(struct cat *cat);
void cat_rollback(struct cat *cat);
#endif
