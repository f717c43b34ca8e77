/* pg_stream.h: continuous WAL in the daemon: one streamer thread per PostgreSQL instance protected by
 * a live kSQL group, each keeping eng_pg_wal_stream (through the SQL mover) running into the
 * instance's spool, <data_dir>/pg-wal/<instance id>, on a persistent physical slot named
 * coffer_<12 hex of a repository-keyed hash>_<instance id> (one repository, one slot per instance;
 * lower-case letters, digits and _ as the engine asks).
 *
 * Lifecycle: the scheduler starts the manager (pg_stream_start), calls pg_stream_sync every few
 * seconds (the instances of live kSQL groups: new ones get a streamer, streamers of instances no
 * live group protects any more are stopped and their slot dropped, so it holds no WAL for nobody;
 * a sync that could not read every group or resolve every object stops nothing) and stops it on
 * shutdown (the slots stay: they hold the WAL until the next start) (pg_stream_stop: every streamer cancelled and
 * joined; the engine stops within its 100 ms poll). A streamer whose stream fails restarts after a
 * pause that doubles from 1 s to 30 s and is reset once a stream runs again. A base backup calls
 * pg_stream_ensure first, so the slot exists, and the WAL from its stop onwards reaches the spool,
 * before the backup's own temporary slot is dropped. While cofferd is down the slot holds the WAL;
 * the next stream starts at the slot's restart point, so nothing is lost.
 *
 * Functions return 0 or a negative errno code with a sentence in err (never a conninfo). */
#ifndef COFFER_SCHED_PG_STREAM_H
#define COFFER_SCHED_PG_STREAM_H
#include <stddef.h>
#include <stdint.h>

struct cat;
struct repo;
struct pg_stream;

struct pg_stream_config {
    struct cat *cat;
    struct repo *repo;        /* NULL: no streaming (nothing could be sealed) */
    const char *data_dir;     /* NULL: no streaming */
};

/* pg_stream_start: the manager (no thread runs until an instance is known). *out NULL when the
 * config cannot stream (no repository or data directory): every call below then answers -ENODEV. */
int pg_stream_start(const struct pg_stream_config *cfg, struct pg_stream **out);
void pg_stream_stop(struct pg_stream *m);

/* pg_stream_sync: streamers for the instances of every live kSQL group (objects resolved with
 * svc_pg_target); stops those of instances no group protects. Objects that cannot be resolved now
 * (a sealed password without a repository, a refresh in progress) keep their streamer. */
int pg_stream_sync(struct pg_stream *m);

/* pg_stream_ensure: the instance's streamer runs (started, or its conninfo updated) and its slot
 * exists: waits up to wait_ms for its first stream to start (checking *cancel, may be NULL, every
 * 250 ms: -ECANCELED). spool (may be NULL) receives the spool directory. -ETIMEDOUT, or -EIO with the
 * stream's own sentence when it failed to start. */
int pg_stream_ensure(struct pg_stream *m, const char *tenant, int64_t instance_id, const char *conninfo,
                     int64_t wait_ms, volatile int *cancel, char *spool, size_t spool_len, char *err, size_t errlen);

/* pg_stream_seal_lock: on 1 takes, on 0 releases the lock that makes seals of spools one at a time
 * (two groups protecting one instance seal one spool). NULL m: nothing. */
void pg_stream_seal_lock(struct pg_stream *m, int on);

/* pg_stream_spool_path: <data_dir>/pg-wal/<instance_id>; -ENAMETOOLONG when it does not fit. */
int pg_stream_spool_path(const char *data_dir, int64_t instance_id, char *buf, size_t len);
#endif
