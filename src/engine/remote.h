/* remote.h: the remote mover (mover_remote.c): a backup of a host that a coffer-agent serves. The
 * job kind calls mover_remote.backup on its worker thread like any mover; instead of reading files it
 * queues a work item for the agent and waits for the agent to carry it out over the agent protocol
 * (docs/agent-protocol.md), which the API layer (src/api/agent_proto.c) serves through the
 * eng_remote_* functions below. The agent runs eng_backup itself on a writer-only repository handle
 * (repo.h repo_open_remote): it learns the id and chunker keys, never the encryption key.
 *
 * The server side checks everything the agent sends: every uploaded blob's id is recomputed from its
 * content (a lying agent cannot make other hosts' backups deduplicate against wrong data), a
 * snapshot is written only when every tree it names decodes and every blob those trees name exists,
 * with the job's own tags over whatever the agent put there, and the agent may read back only the
 * trees of the work's parent snapshot (its own host's previous backup).
 *
 * Leases: a queued item must be taken within COFFER_AGENT_TAKE_SECS (default 120) and a taken one
 * must hear from its agent at least every COFFER_AGENT_LEASE_SECS (default 60); otherwise the backup
 * fails with -ETIMEDOUT and the job's retry rules apply. Every function returns 0 or a negative
 * errno code with a sentence in err where given. */
#ifndef COFFER_ENGINE_REMOTE_H
#define COFFER_ENGINE_REMOTE_H
#include "engine/engine.h"
#include "engine/mover.h"

/* The snapshot_meta member naming the connector whose agent serves the object (a string); the job
 * sets it, with "tenant", before calling mover_remote.backup. */
#define ENG_REMOTE_META_CONNECTOR "agent_connector"

extern const struct mover mover_remote;

struct eng_remote_work;

/* eng_remote_take: the work queued for connector of tenant, as a JSON array (new reference) of
 * {"id", "includes", "excludes", "parent", "keys": {"id_key", "chunk_key" (hex), "cmin", "cavg",
 * "cmax"}}; each item becomes taken (its lease starts). Empty when there is none. */
json_t *eng_remote_take(struct repo *repo, const char *tenant, const char *connector);
/* eng_remote_get: the taken work id of connector of tenant (a reference: eng_remote_unref), and its
 * lease renewed. -ENOENT (none, or another connector's), -ECANCELED (it ended: canceled, timed
 * out, done). */
int eng_remote_get(const char *id, const char *tenant, const char *connector, struct eng_remote_work **out);
void eng_remote_unref(struct eng_remote_work *w);

/* eng_remote_missing: of the ids (a JSON array of hex strings, at most ENG_REMOTE_MAX_IDS), those
 * the repository lacks, as a new JSON array. -EINVAL for a malformed list. */
#define ENG_REMOTE_MAX_IDS 4096
int eng_remote_missing(struct eng_remote_work *w, struct repo *repo, const json_t *ids, json_t **missing, char *err,
                       size_t errlen);
/* eng_remote_blobs: stores a batch of blobs (the framing of docs/agent-protocol.md, "Blob upload"),
 * each only after its id is recomputed from its content and found equal. *stored: how many; the
 * bytes received and added are counted on the work. -EINVAL (malformed, err names the blob) or
 * -EPERM (an id that does not match its content) or the repository's error. */
int eng_remote_blobs(struct eng_remote_work *w, struct repo *repo, const void *body, size_t len, size_t *stored,
                     char *err, size_t errlen);
/* eng_remote_tree: a tree blob of the work's parent snapshot (malloc'd). -EPERM for any other id. */
int eng_remote_tree(struct eng_remote_work *w, struct repo *repo, const char *id_hex, void **data, size_t *len);
/* eng_remote_parent: the work's parent snapshot document (new reference); -ENOENT when it has none
 * or id_hex is not it. */
int eng_remote_parent(struct eng_remote_work *w, struct repo *repo, const char *id_hex, json_t **doc);
/* eng_remote_commit: checks the snapshot doc (borrowed; its "tree" and everything below it must be
 * in the repository) and writes it with the job's tags; its id into id_hex. -EINVAL / -ENOENT with
 * err naming the problem; -EALREADY when the work has a snapshot already. */
int eng_remote_commit(struct eng_remote_work *w, struct repo *repo, json_t *doc, char id_hex[REPO_ID_HEX_LEN + 1],
                      char *err, size_t errlen);
/* eng_remote_finish: the agent's end of the work: result (borrowed) its eng_backup figures, or
 * failure a sentence (then result is ignored). -EINVAL when a success names no committed snapshot. */
int eng_remote_finish(struct eng_remote_work *w, const json_t *result, const char *failure, char *err, size_t errlen);
/* eng_remote_restore: a restore to the host of connector of tenant: queues a restore work item (the
 * snapshot, o's paths, target directory and options) and waits for the agent to carry it out with
 * eng_restore on its host (same take and lease timeouts as a backup; o->cancel ends it). While it
 * runs the agent may read the snapshot's document and its read scope (eng_remote_read): the trees
 * on the way to each restored path, and every tree and data blob below it (plus the way to a
 * hardlink's first link outside the paths, and its data), nothing else. out gets the agent's counters and file errors. */
int eng_remote_restore(struct repo *repo, const char *tenant, const char *connector, const char *snapshot_id,
                       const struct eng_restore_opts *o, struct eng_restore_result *out, char *err, size_t errlen);
/* eng_remote_read: the blobs ids names (a JSON array of 1..ENG_REMOTE_MAX_READ hex ids), decrypted,
 * framed as uploads are (docs/agent-protocol.md; zstd per frame when it helps) into *out (malloc'd,
 * *outlen bytes, *n_out frames: the answer stops after ENG_REMOTE_READ_BYTES, the agent asks again
 * for the rest). Only a backup's parent trees, or a restore's read scope (eng_remote_restore):
 * -EPERM naming the first other id, before anything is read; -EINVAL
 * malformed; a repository error with err. */
#define ENG_REMOTE_MAX_READ 256
#define ENG_REMOTE_READ_BYTES (8u << 20)
int eng_remote_read(struct eng_remote_work *w, struct repo *repo, const json_t *ids, void **out, size_t *outlen,
                    size_t *n_out, char *err, size_t errlen);
/* eng_remote_cancel_connector: ends every work of connector of tenant (its credential was revoked):
 * the waiting backups fail at once. */
void eng_remote_cancel_connector(const char *tenant, const char *connector);
/* eng_remote_counters: bytes received from agents and bytes they added since start (for tests and
 * the benchmark's CPU-per-GB figure). */
void eng_remote_counters(uint64_t *received, uint64_t *added);

/* ---- PostgreSQL through the agent (docs/agent-protocol.md "PostgreSQL through the agent") ----
 * mover_remote_pg: the SQL mover's base_backup for an instance on an agent's host (the only
 * operation it has: WAL streaming and the rest are local only). opts->snapshot_meta must carry
 * ENG_REMOTE_META_CONNECTOR and "tenant"; opts->conninfo is handed to the agent, which connects
 * through its host's socket and runs eng_pg_backup on a writer-only handle. eng_pg_backup writes two
 * snapshots; the agent stages the first (eng_remote_stage: checked like a commit, kept in memory for
 * this work, never written, so nothing has to be forgotten) and commits the final one, which grafts
 * the data directory from the staged run. out->inventory gets the databases and tables the agent
 * listed right after the backup. */
extern const struct mover_sql mover_remote_pg;
/* eng_remote_stage: a base backup's first run (doc borrowed): its trees and blobs are checked as for
 * eng_remote_commit, then its trees become readable by the work and its document is answered by
 * eng_remote_parent under the returned id (random, 64 hex digits). Once per work; -EINVAL for a work
 * that is not a PostgreSQL base backup, -EALREADY after a stage or a commit. */
int eng_remote_stage(struct eng_remote_work *w, struct repo *repo, json_t *doc, char id_hex[REPO_ID_HEX_LEN + 1],
                     char *err, size_t errlen);
/* What an agent's PostgreSQL restore made. */
struct eng_remote_pg_restored {
    uint64_t files, bytes;
    char data_dir[1024], sock_dir[1024];
    int port;
};
/* eng_remote_pg_restore: the base backup snapshot_id into a new data directory data_dir on the host of
 * connector, started on port and left running (the agent runs eng_pg_instance_new on a read-only
 * handle whose reads are limited to the snapshot's trees and data, as for a file restore). */
int eng_remote_pg_restore(struct repo *repo, const char *tenant, const char *connector, const char *snapshot_id,
                          const char *data_dir, int port, volatile int *cancel, struct eng_remote_pg_restored *out,
                          char *err, size_t errlen);
#endif
