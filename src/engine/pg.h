/* pg.h: the SQL mover's engine for PostgreSQL 15: a consistent physical base backup of a local
 * instance into a repository (eng_pg_backup), continuous WAL through a persistent replication slot
 * sealed into the repository (eng_pg_wal_stream, eng_pg_wal_seal), and the restore into a new data
 * directory that a server starts on, recovers to the backup's end or to a point in time and
 * accepts queries (eng_pg_restore).
 *
 * A base backup is one snapshot written by the file engine (engine.h), so chunking, dedup, zstd
 * and AES-GCM are the file engine's. It holds the data directory under its absolute path (without
 * what PostgreSQL documents as not needed: pg_wal's content, pg_replslot, pg_stat_tmp, ...; see
 * eng_pg_excludes) and a staging directory holding what only exists at the backup's end: the
 * backup_label and tablespace_map that pg_backup_stop returns and the WAL segments from the start
 * to the stop LSN. The snapshot document carries {"pg": {...}} (eng_pg_backup below).
 * docs/databases.md describes the layout, the incremental rule and the restore.
 *
 * Every int function returns 0 or a negative errno code, with a human sentence in err. */
#ifndef COFFER_ENGINE_PG_H
#define COFFER_ENGINE_PG_H
#include <stdint.h>
#include <jansson.h>
#include "engine/engine.h"

/* The margin below the parent's start under which a file's mtime must lie for the file to be
 * taken from the parent unread (the racily-clean rule): covers coarse file system timestamps. */
#define ENG_PG_RACY_MARGIN_NS (2LL * 1000000000LL)

struct eng_pg_backup_opts {
    /* libpq connection string of the instance (e.g. "host=/run/pg port=5432 user=backup
     * dbname=postgres"); the role needs REPLICATION (a temporary physical slot holds the WAL) and
     * the right to call pg_backup_start/stop. The server must run on this machine: its data
     * directory is read from the file system. */
    const char *conninfo;
    const char *parent_snapshot_id;  /* an earlier base backup of the same instance, or NULL/"" */
    const char *staging_parent;      /* where the staging directory is made; NULL = $TMPDIR or /tmp */
    const char *label;               /* pg_backup_start's label; NULL = "coffer" */
    int64_t racy_margin_ns;          /* <= 0: ENG_PG_RACY_MARGIN_NS */
    json_t *snapshot_meta;           /* borrowed: more fields for the snapshot document */
    eng_progress_fn progress;
    void *progress_ctx;
    volatile int *cancel;
    int threads;                     /* the file engine's workers; <= 0 = number of cores */
    /* Test hook: called with "started" right after pg_backup_start and "copied" right before
     * pg_backup_stop (the data directory has been read). */
    void (*on_phase)(void *ctx, const char *phase);
    /* Test hook: the file engine's on_before_open for the data directory's files. */
    void (*on_before_open)(void *ctx, const char *path);
    void *hook_ctx;
};

struct eng_pg_backup_result {
    char snapshot_id[REPO_ID_HEX_LEN + 1];
    char start_lsn[32], stop_lsn[32];   /* "0/2000028" */
    unsigned timeline;
    int server_version_num;             /* 150018 */
    char data_directory[1024];
    uint64_t files, files_unchanged;    /* the data directory's regular files, reused ones */
    uint64_t logical_bytes;             /* data directory + staging */
    uint64_t bytes_read;                /* data directory + staging, actually read */
    uint64_t data_bytes_read;           /* the data directory's part of bytes_read */
    uint64_t bytes_added;               /* to packs */
    uint64_t wal_bytes;                 /* WAL segments stored */
    uint64_t usecs;                     /* wall time of the whole backup */
    json_t *warnings;                   /* owned: the file engine's warnings */
};

/* eng_pg_backup: connects, creates a temporary physical replication slot (so the WAL from the
 * start on is not recycled), pg_backup_start(label, fast => true), reads the data directory with
 * the file engine (excludes from eng_pg_excludes; with a parent, files are reused by identity
 * unless racily clean: mtime >= the parent's start - margin), pg_backup_stop(false), copies the
 * WAL segments from the start LSN's to the stop LSN's (and timeline history files) and the label
 * files into a staging directory owned like the data directory, and writes the final snapshot
 * (the data directory grafted from the first run plus the staging directory). The first run's
 * snapshot document is forgotten again; the staging directory is removed. Tablespaces outside the
 * data directory are refused (-ENOTSUP). The snapshot document gets
 *   "pg": {"version":1, "data_directory", "staging", "start_lsn", "stop_lsn", "timeline",
 *          "start_wal", "stop_wal", "server_version", "server_version_num", "label",
 *          "start_time_usecs", "stop_time_usecs", "read_start_usecs", "racy_before_ns"}
 * out is always filled; release with eng_pg_backup_result_release. */
int eng_pg_backup(struct repo *repo, const struct eng_pg_backup_opts *opts, struct eng_pg_backup_result *out,
                  char *err, size_t errlen);
void eng_pg_backup_result_release(struct eng_pg_backup_result *r);

/* eng_pg_excludes: the exclude patterns (eng_backup_opts syntax) for a data directory: a NULL-
 * terminated malloc'd array of malloc'd strings, released with eng_pg_excludes_free. NULL on
 * -ENOMEM or -EINVAL (a data directory path holding glob characters). */
char **eng_pg_excludes(const char *data_directory);
void eng_pg_excludes_free(char **v);

struct eng_pg_restore_opts {
    /* The new data directory: created (mode 0700) if missing, else it must be empty. It and
     * everything restored into it are owned by the data directory's owner recorded in the
     * snapshot (postgres), so a server running as that user can start on it. */
    const char *target_dir;
    /* Recovery target. Default (both NULL): recover exactly to the backup's stop LSN
     * (recovery_target = 'immediate': stop as soon as consistent, i.e. right after the backup-end
     * record; then promote): the state the backup stands for.
     * Point in time: a recovery_target_time (or recovery_target_lsn below) replaces it; the WAL
     * past the backup's own comes from wal_snapshot_ids. restore_command: NULL = '/bin/false'
     * (PostgreSQL requires one for a targeted recovery; the WAL is in pg_wal). */
    const char *recovery_target_time;
    const char *restore_command;
    /* Point-in-time restore (pg_wal.c): an LSN target ("0/5000060") instead of a time (both given:
     * -EINVAL), and the sealed WAL snapshots (eng_pg_wal_seal) whose segments are restored into
     * the new pg_wal next to the backup's own (a name already there is kept: same segment), so
     * recovery replays them from pg_wal; restore_command stays as given (default: one that finds
     * nothing). */
    const char *recovery_target_lsn;
    const char *const *wal_snapshot_ids;
    size_t n_wal_snapshots;
    int threads;
    volatile int *cancel;
};

struct eng_pg_restore_result {
    uint64_t files, bytes;       /* restored */
    uint64_t usecs;
    char stop_lsn[32];
};

/* eng_pg_restore: restores the data directory and the staging directory of a base-backup snapshot
 * into target_dir (backup_label, tablespace_map, pg_wal/<segments>), writes recovery.signal and the
 * recovery settings into postgresql.auto.conf. Starting the server is the caller's: as the owner,
 * with its own port and socket directory. -EINVAL: the snapshot is not a PostgreSQL base backup;
 * -EEXIST: target_dir is not empty. */
int eng_pg_restore(struct repo *repo, const char *snapshot_id, const struct eng_pg_restore_opts *opts,
                   struct eng_pg_restore_result *out, char *err, size_t errlen);

/* ---------- continuous WAL (pg_wal.c) ---------- */

#define ENG_PG_WAL_SEG_SIZE (16u * 1024u * 1024u)   /* the only segment size supported */

struct eng_pg_wal_stream_opts {
    /* libpq connection string (replication=true is appended); the role needs REPLICATION. */
    const char *conninfo;
    /* A persistent physical slot, created (RESERVE_WAL) when absent: it holds the WAL not yet
     * reported durable while nobody streams. Lower-case letters, digits and _. */
    const char *slot;
    /* Absolute; created 0700 if missing. Holds <segment> (complete, fsynced) and <segment>.partial. */
    const char *spool_dir;
    volatile int *cancel;        /* nonzero: stop (status update sent first), return 0 */
    uint64_t max_msecs;          /* > 0: return 0 after this long */
    uint64_t max_bytes;          /* > 0: return 0 once this much WAL has been received */
    void (*on_started)(void *ctx);   /* test hook: the stream is running */
    void *hook_ctx;
};

struct eng_pg_wal_stream_result {
    uint64_t start_lsn;          /* where streaming began: the slot's restart LSN's segment start */
    uint64_t end_lsn;            /* the next byte expected */
    uint64_t flushed_lsn;        /* durable in the spool (last reported flush position) */
    uint64_t bytes;              /* WAL received */
    unsigned timeline;
    int slot_created;
};

/* eng_pg_wal_stream: streams WAL from the slot's restart point into the spool (pg_wal.c's comment
 * says how) until cancel or the budget; 0 then, else a negative errno (-EPROTO on a gap). */
int eng_pg_wal_stream(const struct eng_pg_wal_stream_opts *o, struct eng_pg_wal_stream_result *out, char *err,
                      size_t errlen);

struct eng_pg_wal_seal_opts {
    const char *spool_dir;       /* as given to eng_pg_wal_stream */
    json_t *snapshot_meta;       /* borrowed: more fields for the snapshot document */
    int threads;
    volatile int *cancel;
};

struct eng_pg_wal_seal_result {
    char snapshot_id[REPO_ID_HEX_LEN + 1];
    uint64_t segments, bytes_added;
    uint64_t start_lsn, end_lsn;                      /* first segment's start, last one's end */
    uint64_t first_complete_usecs, last_complete_usecs;   /* when they were complete in the spool */
};

/* eng_pg_wal_seal: one file-engine snapshot of exactly the complete segments in the spool (the
 * partial stays), with "pg_wal": {"version":1, "spool", "timeline", "start_lsn", "end_lsn",
 * "start_wal", "end_wal", "first_complete_usecs", "last_complete_usecs", "segments": [names]};
 * once it is written the sealed segments are removed from the spool. -ENODATA: nothing complete. */
int eng_pg_wal_seal(struct repo *repo, const struct eng_pg_wal_seal_opts *o, struct eng_pg_wal_seal_result *out,
                    char *err, size_t errlen);

/* "X/Y" of an LSN. */
void eng_pg_lsn_format(uint64_t lsn, char out[32]);

/* ---- Discovery (pg_info.c) ---- */

#define ENG_PG_MAX_TABLES 10000     /* tables listed per database */
#define ENG_PG_MAX_DATABASES 1000   /* databases looked into per instance */
#define ENG_PG_DISCOVER_BUDGET_S 60 /* no database's tables are asked for after this */

struct eng_pg_table {
    char *name;                      /* "schema.table" */
    int64_t bytes;                   /* pg_total_relation_size; -1 unknown */
};
struct eng_pg_database {
    char *name;
    char *owner;                     /* NULL unknown */
    int64_t bytes;                   /* pg_database_size; -1 when the role may not ask */
    struct eng_pg_table *tables;
    size_t n_tables;
    int tables_cut;                  /* more than ENG_PG_MAX_TABLES: the first by name are listed */
};
struct eng_pg_instance_info {
    char *version;                   /* server_version */
    int version_num;                 /* server_version_num */
    char *data_directory;            /* NULL when the role may not read it */
    struct eng_pg_database *dbs;     /* by name; not templates, only those accepting connections */
    size_t n_dbs;
    int databases_cut;
    char *warnings;                  /* "; "-separated sentences (a cut list, a database not entered), or NULL */
};
/* eng_pg_discover: connects with conninfo (connect_timeout=10 and a statement_timeout are added),
 * reads the version, data directory and databases, then each database's user tables through a
 * session of its own. -ECONNREFUSED (the connection failed: err holds the server's or libpq's
 * message, e.g. a password authentication failure), -EIO (a query failed), -ENOMEM. out is filled
 * on 0; release with eng_pg_instance_info_release. */
int eng_pg_discover(const char *conninfo, struct eng_pg_instance_info *out, char *err, size_t errlen);
void eng_pg_instance_info_release(struct eng_pg_instance_info *info);
/* eng_pg_conninfo_db: conninfo (a libpq connection string or URI) as a keyword='value' string with
 * dbname replaced by dbname (malloc'd into *out; it carries the password if conninfo did). -EINVAL
 * when conninfo does not parse. */
int eng_pg_conninfo_db(const char *conninfo, const char *dbname, char **out);
#endif
