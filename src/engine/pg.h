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
    json_t *inventory;                  /* owned: a backup through an agent (remote.h): its databases and
                                         * tables [{"table", "name", "database", "bytes"}]; NULL locally */
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
/* eng_pg_time_text: a moment (microseconds since the epoch) as a recovery_target_time in UTC,
 * "YYYY-MM-DD HH:MM:SS.uuuuuu+00" (at least 40 bytes). */
void eng_pg_time_text(int64_t usecs, char *out, size_t n);
/* ---------- servers and copies out of a restored instance (pg_copy.c) ---------- */

#define ENG_PG_BIN "/usr/lib/postgresql/15/bin"   /* pg_ctl, pg_dump, pg_restore */

/* A PostgreSQL server started on a restored data directory. The server runs as the data directory's
 * owner (the daemon switches to it when root), through pg_ctl, with its port and socket directory
 * forced on the command line. */
struct eng_pg_server {
    char root[2048];        /* a private server's 0700 directory (data/, sock/, its hba); "" otherwise */
    char data_dir[2100];
    char sock_dir[2100];
    char log[2200];         /* pg_ctl's -l file */
    int port;
    unsigned uid, gid;      /* the data directory's owner: the server's user */
    char user[64];          /* the role eng_pg_server_conninfo names: the owner's name (initdb's default superuser) */
    int private_server;
    int running;
};

struct eng_pg_server_opts {
    const char *data_dir;      /* absolute: a data directory (eng_pg_restore's output) */
    const char *socket_dir;    /* NULL: the data directory itself */
    int port;                  /* 0: a free one (a TCP port nothing is bound to on loopback) */
    /* persist: port and unix_socket_directories also written to postgresql.auto.conf (a server that
     * is left running restarts the same way), with archive_mode off (a copy never archives into its
     * source's archive). */
    int persist;
    int timeout_s;             /* start and promotion, each; 0 = 120 */
    volatile int *cancel;
};

/* eng_pg_server_start: pg_ctl start -w on data_dir, then waits (bounded) until recovery has promoted
 * (it answers PQping, no authentication needed, and has removed recovery.signal). A postgresql.conf missing from the data
 * directory (Debian keeps it in /etc) is created empty. On failure the server is stopped again and
 * err ends with the last lines of its log. Paths must consist of [A-Za-z0-9/._+-] (pg_ctl passes
 * its -o options through a shell): -EINVAL otherwise. */
int eng_pg_server_start(const struct eng_pg_server_opts *o, struct eng_pg_server *s, char *err, size_t errlen);
/* eng_pg_server_stop: pg_ctl stop (-m immediate for a private server, fast otherwise), bounded. */
int eng_pg_server_stop(struct eng_pg_server *s);
/* eng_pg_server_conninfo: a conninfo of database dbname on s (socket, port, s->user when set). */
void eng_pg_server_conninfo(const struct eng_pg_server *s, const char *dbname, char *out, size_t n);

/* eng_pg_private_open: a private copy of the instance a base backup is of: a new 0700 directory
 * (coffer-pg-private-XXXXXX under work_parent, NULL = $TMPDIR or /tmp) owned by the snapshot's data
 * directory owner, holding data/ (eng_pg_restore with ro's recovery target and WAL; ro->target_dir is
 * ignored), sock/ and its own pg_hba.conf ("local all all trust": only root and the owner can reach
 * the socket directory). Started with listen_addresses = '', archive_mode off, small shared_buffers,
 * on port (0: a free one), promoted and answering. On failure nothing is left (no process, no
 * directory). Close with eng_pg_private_close. */
int eng_pg_private_open(struct repo *repo, const char *snapshot_id, const struct eng_pg_restore_opts *ro,
                        const char *work_parent, int port, struct eng_pg_server *s, struct eng_pg_restore_result *rr,
                        char *err, size_t errlen);
/* eng_pg_private_close: stops it (immediate) and removes its directory. Safe to call twice. */
void eng_pg_private_close(struct eng_pg_server *s);

enum eng_pg_copy_kind { ENG_PG_COPY_DATABASE = 1, ENG_PG_COPY_TABLE };

/* One object copied out of a (private) server into a target instance. */
struct eng_pg_copy_item {
    enum eng_pg_copy_kind kind;
    const char *database;          /* the source database */
    const char *table;             /* TABLE: "schema.table" ("table" = public.table) */
    /* DATABASE: the new database's name; TABLE: "table" (same schema) or "schema.table"; NULL: same */
    const char *rename_to;
    const char *target_database;   /* TABLE: the database it goes into; NULL: database */
    const char *const *excludes;   /* DATABASE: tables "schema.table" left out (pg_dump --exclude-table) */
    size_t n_excludes;
};

struct eng_pg_copy_opts {
    /* libpq conninfo of the target instance (its dbname is replaced per connection). A password in it
     * reaches pg_restore through PGPASSWORD in its environment, never its command line. */
    const char *target_conninfo;
    int overwrite;                      /* an existing target object is replaced; else -EEXIST */
    int skip_analyze, skip_indexes;
    int continue_on_access_violation;   /* see eng_pg_copy */
    int jobs;                           /* pg_dump / pg_restore -j; <= 0: 2 */
    const char *work_dir;               /* where dumps are written (NULL: the server's root or $TMPDIR) */
    volatile int *cancel;
};

struct eng_pg_copy_result {
    char name[300];          /* what was written: "db" or "db.schema.table" */
    int skipped;             /* continue_on_access_violation: the object was not written (warnings say why) */
    uint64_t bytes;          /* its size on the target after the restore (pg_database_size /
                              * pg_total_relation_size) */
    uint64_t usecs;
    json_t *warnings;        /* owned array of strings; release with eng_pg_copy_result_release */
};

/* eng_pg_copy: copies one object from src (a private server) into the target instance with pg_dump
 * (directory format, -j) and pg_restore.
 *   DATABASE: CREATE DATABASE <temporary name> (template0, the source's encoding and locale) on the
 *     target, pg_restore into it, ANALYZE, then (Overwrite) DROP DATABASE <name> WITH (FORCE) and
 *     ALTER DATABASE <temporary> RENAME TO <name>: the name holds the old database or the whole new
 *     one, never a half-restored one; on failure the temporary database is dropped.
 *   TABLE: renamed inside the PRIVATE copy first (ALTER TABLE ... RENAME, its indexes and owned
 *     sequences renamed alike so they do not collide beside the original, SET SCHEMA; all renamed
 *     back after the dump), then only it is dumped and restored with pg_restore --single-transaction (Overwrite: --clean --if-exists
 *     in the same transaction): all or nothing.
 *   Owners: as in the source when the target role is a superuser; else the role keeps what it
 *     restores (pg_restore --no-owner), with a warning.
 *   skip_indexes: pg_restore -l's list without its INDEX entries (post-data), given back with -L:
 *     constraints (primary keys, unique, foreign keys) are kept.
 *   continue_on_access_violation: a table whose restore is refused for lack of privileges, or a
 *     database the role may not create, is skipped (out->skipped) with a warning; a database's
 *     objects pg_restore cannot create are warnings (pg_restore without --exit-on-error).
 * -EEXIST: the target exists and overwrite is 0 (nothing changed); -ENOENT: the object is not in
 * the source; -ECANCELED; -EIO with the tool's last words in err. */
int eng_pg_copy(const struct eng_pg_server *src, const struct eng_pg_copy_item *it, const struct eng_pg_copy_opts *o,
                struct eng_pg_copy_result *out, char *err, size_t errlen);
void eng_pg_copy_result_release(struct eng_pg_copy_result *r);

/* eng_pg_copy_target_exists: 1 when the object item would write already exists on the target, 0 when
 * not, or a negative errno (err says why: e.g. the target cannot be reached). A TABLE whose target
 * database is missing: -ENOENT. */
int eng_pg_copy_target_exists(const char *target_conninfo, const struct eng_pg_copy_item *it, char *err,
                              size_t errlen);

/* eng_pg_instance_new: the whole instance into a new data directory (missing or empty), started on
 * so->port (0: a free one) with its socket in so->socket_dir (NULL: the data directory) and left
 * running (persist). On failure the data directory is removed again (emptied when it existed). */
int eng_pg_instance_new(struct repo *repo, const char *snapshot_id, const struct eng_pg_restore_opts *ro,
                        const struct eng_pg_server_opts *so, struct eng_pg_server *out,
                        struct eng_pg_restore_result *rr, char *err, size_t errlen);

/* eng_pg_instance_replace: the whole instance over its original data directory so->data_dir: the
 * server there is stopped (pg_ctl -D stop -m fast), the directory renamed to
 * "<dir>.coffer-replaced-<UTC time>" (aside_out, kept), the snapshot restored into the original path
 * and started with so->port / so->socket_dir. If anything fails, the new directory is removed, the
 * old one put back and started, and the error returned. */
int eng_pg_instance_replace(struct repo *repo, const char *snapshot_id, const struct eng_pg_restore_opts *ro,
                            const struct eng_pg_server_opts *so, struct eng_pg_server *out, char *aside_out,
                            size_t aside_len, struct eng_pg_restore_result *rr, char *err, size_t errlen);

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
