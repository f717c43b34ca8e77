/* mover.h: the data-mover seam. A mover moves an object's data between its environment and the
 * repository: backup (into a snapshot), restore (out of one), stat (one entry of a snapshot) and
 * read (a snapshot's chosen paths as an archive stream). The job kinds (src/sched/job_*.c) reach
 * data only through a mover chosen by the object's environment (mover_for), never by comparing
 * environment strings: the file engine (mover_file.c) is the mover of physical hosts; the SQL mover
 * (mover_sql.c) is the file engine for file-level access to a SQL snapshot plus the database
 * operations of struct mover_sql (base backups, WAL streaming and sealing, point-in-time restore,
 * the inventory of databases and tables); the remote agent will add a row to the table.
 *
 * Every function returns 0 or a negative errno code, with a human sentence in err where given; the
 * option and result structs are the file engine's (engine.h), which every mover fills the same way. */
#ifndef COFFER_ENGINE_MOVER_H
#define COFFER_ENGINE_MOVER_H
#include "engine/engine.h"

/* The environments an object can live in. */
enum mover_env {
    MOVER_ENV_PHYSICAL = 0, /* a host's file systems, read by this machine's local agent */
    MOVER_ENV_SQL,          /* a PostgreSQL instance on this machine (kSQL) */
    MOVER_ENV_COUNT
};

struct mover_sql;

struct mover {
    const char *name; /* for log lines */
    const struct mover_sql *sql; /* MOVER_ENV_SQL: the database operations; NULL for other movers */
    int (*backup)(struct repo *repo, const struct eng_backup_opts *opts, struct eng_backup_result *out, char *err,
                  size_t errlen);
    int (*restore)(struct repo *repo, const char *snapshot_id, const struct eng_restore_opts *opts,
                   struct eng_restore_result *out, char *err, size_t errlen);
    int (*stat)(struct repo *repo, const char *snapshot_id, const char *path, struct tree_entry *out);
    /* read: a POSIX pax archive of paths (eng_write_tar's layout) to out_fd; unreadable files in errors. */
    int (*read)(struct repo *repo, const char *snapshot_id, const char *const *paths, size_t n, int out_fd,
                json_t *errors);
};

/* mover_for: the mover of an environment; NULL for one no mover serves yet. */
const struct mover *mover_for(enum mover_env env);

/* mover_env_from_catalog: THE one mapping of the environment string the catalog stores for a group,
 * an object or a snapshot to the enum (until the typed group spec carries the enum itself): 0, or
 * -EINVAL for a string no mover knows. */
int mover_env_from_catalog(const char *stored, enum mover_env *out);
/* mover_env_catalog_name: the inverse: the string the catalog stores for env. */
const char *mover_env_catalog_name(enum mover_env env);

/* The file engine as a mover (mover_file.c). */
extern const struct mover mover_file;

/* ---------- the SQL mover (mover_sql.c) ---------- */

#include "engine/pg.h"

/* One database or table an instance holds (mover_sql.inventory). */
struct mover_sql_item {
    int is_table;
    char *name;      /* database name, or "schema.table" */
    char *database;  /* a table's database; NULL for a database */
    int64_t bytes;   /* pg_database_size / pg_total_relation_size */
};
void mover_sql_items_free(struct mover_sql_item *v, size_t n);

/* The marker a log run writes before sealing (mover_sql.wal_mark). */
struct mover_sql_mark {
    int64_t mark_usecs;      /* the server's clock_timestamp() inside the marker transaction: its commit
                              * is later, so every moment up to mark_usecs has a commit after it */
    uint64_t switch_lsn;     /* pg_switch_wal()'s answer: the end of the segment holding the marker */
    unsigned timeline;
    char segment[25];        /* the name of the WAL segment holding the marker (complete after the switch) */
    int switched;            /* 0: pg_switch_wal was refused (privilege): the marker's segment completes
                              * only when the server fills or switches it */
};

struct mover_sql {
    int (*base_backup)(struct repo *repo, const struct eng_pg_backup_opts *o, struct eng_pg_backup_result *out,
                       char *err, size_t errlen);
    int (*wal_stream)(const struct eng_pg_wal_stream_opts *o, struct eng_pg_wal_stream_result *out, char *err,
                      size_t errlen);
    int (*wal_seal)(struct repo *repo, const struct eng_pg_wal_seal_opts *o, struct eng_pg_wal_seal_result *out,
                    char *err, size_t errlen);
    int (*restore)(struct repo *repo, const char *snapshot_id, const struct eng_pg_restore_opts *o,
                   struct eng_pg_restore_result *out, char *err, size_t errlen);
    /* inventory: the instance's databases (those accepting connections, not templates) with their
     * sizes, and each one's tables (at most max_tables per database, by name); *out malloc'd. */
    int (*inventory)(const char *conninfo, size_t max_tables, struct mover_sql_item **out, size_t *n, char *err,
                     size_t errlen);
    /* wal_mark: commits a marker transaction (txid_current) and switches the WAL segment. */
    int (*wal_mark)(const char *conninfo, struct mover_sql_mark *out, char *err, size_t errlen);
    /* drop_slot: drops a persistent replication slot (no error when it is absent). */
    int (*drop_slot)(const char *conninfo, const char *slot, char *err, size_t errlen);
};

/* mover_sql_lsn_parse: "X/Y" to an LSN; -EINVAL when malformed. */
int mover_sql_lsn_parse(const char *s, uint64_t *out);

extern const struct mover mover_sql_instance;
#endif
