/* sql_restore_spec.h: the typed spec of a SQL restore job (a recovery of kind "sql_restore" on the
 * recoveries queue, carried out by job_sql_restore.c), what both APIs build from a validated body:
 * the data-protect API's mssqlParams recoveries (RecoverApps, CloneApps; api/recoveries_sql.c) and
 * the site restore API's restores (api/site_*.c). The persisted form is a versioned document with
 * Coffer's names ({"v":1,...}, sql_restore_spec_doc / _parse), stored as the recovery's request.
 *
 * Scopes:
 *   SQL_RESTORE_INSTANCE_NEW        the whole instance into a new data directory, started on a new
 *                                   port (left running; its socket in socket_dir or the data dir)
 *   SQL_RESTORE_INSTANCE_OVERWRITE  the whole instance over its original data directory (the server is
 *                                   stopped, the old directory kept aside until the new one runs)
 *   SQL_RESTORE_OBJECTS             databases / tables: the instance is restored privately (a temporary
 *                                   server on a socket in a private directory), the objects are copied
 *                                   out with pg_dump/pg_restore into the target instance, the
 *                                   temporary server is dropped
 * Results (for the site API and GET /recoveries): a sql_restore recovery's per-object results are
 * stored at its end in the recovery's file_errors column (struct cat_recovery.file_errors), an array
 * of objects, one per object restored, in the order of the items (one for an instance scope):
 *   {"path": what was written ("db", "db.schema.table", or the instance's data directory),
 *    "message": a sentence, "kind": "database" | "table" | "instance",
 *    "source": the object in the snapshot ("db", "db.schema.table", "instance" or the instance's name),
 *    "status": "Succeeded" | "SucceededWithWarning" | "Skipped" | "Failed" | "Canceled" | "NotStarted",
 *    "bytes": its size on the target after the restore, "warnings": [strings]}
 * The recovery's bytes counter (cat_recovery.bytes) is the bytes restored so far (the private or new
 * instance's data, then each object's size), its files counter the objects done, its messages the
 * course and the failure. "path" and "message" keep the column's generic shape.
 *
 * Returns: 0 or a negative errno code (-EINVAL with err naming the field). */
#ifndef COFFER_SCHED_SQL_RESTORE_SPEC_H
#define COFFER_SCHED_SQL_RESTORE_SPEC_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define SQL_RESTORE_SPEC_VERSION 1

enum sql_restore_scope { SQL_RESTORE_INSTANCE_NEW = 1, SQL_RESTORE_INSTANCE_OVERWRITE, SQL_RESTORE_OBJECTS };
enum sql_item_kind { SQL_ITEM_DATABASE = 1, SQL_ITEM_TABLE };

struct sql_restore_item {
    enum sql_item_kind kind;
    char *database;          /* the source database */
    char *table;             /* TABLE: "schema.table"; DATABASE: NULL (every table, minus excludes) */
    char *rename_to;         /* DATABASE: the new database name; TABLE: the new table name
                              * ("table" keeps the schema, "schema.table" moves it); NULL: same name */
    char **excludes;         /* DATABASE: tables "schema.table" left out */
    size_t n_excludes;
};

struct sql_restore_spec {
    char *snapshot_id;                /* a SQL snapshot (svc_pg_plan_restore picks the base + WAL) */
    int64_t point_usecs;              /* 0: the snapshot's own point */
    enum sql_restore_scope scope;
    int64_t source_instance_id;       /* the kInstance object the snapshot is of */
    int64_t target_instance_id;       /* OBJECTS / INSTANCE_OVERWRITE: the instance written to */
    char *target_database;            /* OBJECTS: every item goes into this database (site API's
                                       * restore_to_a_different_database_on_target_site); NULL: each
                                       * item's own (or renamed) database */
    char *data_dir;                   /* INSTANCE_NEW: the new data directory (absolute) */
    int port;                         /* INSTANCE_NEW: the new server's port */
    int64_t host_id;                  /* INSTANCE_NEW: the object host.id named (a kSQL registration or
                                       * instance; 0: not recorded): a coffer-agent's host restores there */
    struct sql_restore_item *items;   /* OBJECTS */
    size_t n_items;
    int overwrite;                    /* replace existing target objects (Overwrite); else they fail */
    int copy_only;                    /* CloneApps / run_as_a_copy_job: the source objects are never
                                       * written, even when the target is the source instance */
    int continue_on_access_violation; /* objects the role may not write are skipped as warnings */
    int skip_analyze;                 /* no ANALYZE after the restore */
    int skip_indexes;                 /* secondary indexes not rebuilt (pg_restore's post-data filtered) */
    int jobs;                         /* pg_dump/pg_restore parallel jobs; 0 = 2 */
};

/* sql_restore_spec_add_item: appends an item (strings copied; NULLs allowed where documented). */
int sql_restore_spec_add_item(struct sql_restore_spec *s, enum sql_item_kind kind, const char *database,
                              const char *table, const char *rename_to, const char *const *excludes,
                              size_t n_excludes);
json_t *sql_restore_spec_doc(const struct sql_restore_spec *s);  /* a new reference; NULL without memory */
int sql_restore_spec_parse(json_t *doc, struct sql_restore_spec *s, char *err, size_t errlen);
void sql_restore_spec_release(struct sql_restore_spec *s);

/* Added by pg-rest (job_sql_restore.c). sql_restore_precheck: what the job checks before writing
 * anything, for an API to answer at once: for OBJECTS, the target instance resolves (svc_pg_target:
 * -ENOENT), no item under copy_only names the source object itself (-EPERM) and, unless overwrite,
 * no item's target exists (-EEXIST); *item (may be NULL) gets the failing item's index (-1: none).
 * OBJECTS and INSTANCE_OVERWRITE into an instance on a coffer-agent's host: -ENOTSUP (only a new
 * instance is restored there). Other scopes: 0. err says what. */
struct cat;
struct repo;
int sql_restore_precheck(struct cat *cat, struct repo *repo, const char *tenant, const struct sql_restore_spec *s,
                         int *item, char *err, size_t errlen);
#endif
