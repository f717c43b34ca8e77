/* migrations.c: the catalog schema as a numbered list of migrations. A migration is applied once, in a
 * transaction together with the bump of PRAGMA user_version, so a crash leaves the schema at one
 * version or the next. Never edit a migration that has shipped: add the next number. */
#include "catalog/internal.h"

const struct cat_migration cat_migrations[] = {
    { 1,
      "CREATE TABLE installation (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE sequences (name TEXT PRIMARY KEY, next INTEGER NOT NULL);" },
    /* 2: protection policies and protection groups (src/catalog/policies.c, groups.c). Typed columns for
     * what lists filter on; doc holds the whole response JSON as last written. Groups are soft-deleted
     * (is_deleted) so runs and snapshots keep their group; a live group's name is unique per tenant.
     * Last-run columns are left to the migration that adds runs (ALTER TABLE ... ADD COLUMN). */
    { 2,
      "CREATE TABLE policies ("
      "  id TEXT PRIMARY KEY, tenant TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,"
      "  doc TEXT NOT NULL, mtime_usecs INTEGER NOT NULL, created_usecs INTEGER NOT NULL);"
      "CREATE UNIQUE INDEX policies_tenant_name ON policies(tenant, name);"
      "CREATE INDEX policies_tenant_seq ON policies(tenant, seq);"
      "CREATE TABLE protection_groups ("
      "  id TEXT PRIMARY KEY, tenant TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,"
      "  policy_id TEXT NOT NULL, environment TEXT NOT NULL,"
      "  is_active INTEGER NOT NULL DEFAULT 1, is_paused INTEGER NOT NULL DEFAULT 0,"
      "  is_deleted INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL, mtime_usecs INTEGER NOT NULL,"
      "  created_usecs INTEGER NOT NULL, deleted_usecs INTEGER);"
      "CREATE INDEX protection_groups_list ON protection_groups(tenant, is_deleted, seq);"
      "CREATE INDEX protection_groups_policy ON protection_groups(policy_id, is_deleted);"
      "CREATE UNIQUE INDEX protection_groups_live_name ON protection_groups(tenant, name) WHERE is_deleted = 0;"
      "CREATE TABLE protection_group_objects ("
      "  group_id TEXT NOT NULL REFERENCES protection_groups(id) ON DELETE CASCADE,"
      "  tenant TEXT NOT NULL, object_id INTEGER NOT NULL, PRIMARY KEY (group_id, object_id)) WITHOUT ROWID;"
      "CREATE INDEX protection_group_objects_object ON protection_group_objects(tenant, object_id);" },
    /* 3: source registrations, their discovered objects, data-source connections and connectors
     * (src/catalog/sources.c, connections.c). A registration's id is also its root object's id (both
     * from the "object" sequence); objects are unique per (tenant, source, parent, key) so a refresh
     * keeps ids, and vanished ones are flagged, not removed. A connection's registration token is kept
     * only as its SHA-256 with an expiry. */
    { 3,
      "CREATE TABLE sources ("
      "  tenant TEXT NOT NULL, id INTEGER NOT NULL, environment TEXT NOT NULL, name TEXT NOT NULL,"
      "  endpoint_key TEXT NOT NULL, connection_id TEXT, agent INTEGER NOT NULL, doc TEXT NOT NULL,"
      "  registered_ms INTEGER NOT NULL, refreshed_ms INTEGER NOT NULL DEFAULT 0,"
      "  modified_usecs INTEGER NOT NULL, auth_status TEXT NOT NULL, error TEXT,"
      "  PRIMARY KEY (tenant, id));"
      "CREATE UNIQUE INDEX sources_endpoint ON sources(tenant, environment, endpoint_key);"
      "CREATE INDEX sources_connection ON sources(tenant, connection_id);"
      "CREATE TABLE objects ("
      "  tenant TEXT NOT NULL, id INTEGER NOT NULL, source_id INTEGER NOT NULL, parent_id INTEGER NOT NULL,"
      "  key TEXT NOT NULL, name TEXT NOT NULL, environment TEXT NOT NULL, object_type TEXT NOT NULL,"
      "  path TEXT, uuid TEXT NOT NULL, os_type TEXT, agent INTEGER NOT NULL,"
      "  is_deleted INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL,"
      "  PRIMARY KEY (tenant, id),"
      "  FOREIGN KEY (tenant, source_id) REFERENCES sources(tenant, id) ON DELETE CASCADE);"
      "CREATE UNIQUE INDEX objects_key ON objects(tenant, source_id, parent_id, key);"
      "CREATE INDEX objects_parent ON objects(tenant, parent_id);"
      "CREATE TABLE connections ("
      "  tenant TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL, env_type TEXT,"
      "  token_sha256 BLOB, token_expires_ms INTEGER, created_ms INTEGER NOT NULL,"
      "  PRIMARY KEY (tenant, id));"
      "CREATE UNIQUE INDEX connections_name ON connections(tenant, name);"
      "CREATE INDEX connections_token ON connections(token_sha256);"
      "CREATE TABLE connectors ("
      "  tenant TEXT NOT NULL, id TEXT NOT NULL, connection_id TEXT NOT NULL, name TEXT NOT NULL,"
      "  doc TEXT NOT NULL, PRIMARY KEY (tenant, id));"
      "CREATE INDEX connectors_connection ON connectors(tenant, connection_id);" },
    /* 4: protection runs, their objects, the snapshots they made and the scheduler's memory
     * (src/catalog/runs.c, snapshots.c; see cat_run.h and cat_snapshot.h). A run is keyed by
     * (tenant, group, start time); its API id is "<group n>:<start usecs>". A Running run carries a
     * lease (owner, expiry) so that a restarted daemon can tell the runs it interrupted. */
    { 4,
      "CREATE TABLE runs ("
      "  tenant TEXT NOT NULL, group_id TEXT NOT NULL, group_seq INTEGER NOT NULL, group_name TEXT NOT NULL,"
      "  start_usecs INTEGER NOT NULL, end_usecs INTEGER NOT NULL DEFAULT 0, instance_id INTEGER NOT NULL,"
      "  run_type TEXT NOT NULL, status TEXT NOT NULL, scheduled INTEGER NOT NULL DEFAULT 0, objects TEXT,"
      "  messages TEXT NOT NULL DEFAULT '[]', logical_bytes INTEGER NOT NULL DEFAULT 0,"
      "  bytes_read INTEGER NOT NULL DEFAULT 0, bytes_written INTEGER NOT NULL DEFAULT 0,"
      "  cancel_requested INTEGER NOT NULL DEFAULT 0, on_legal_hold INTEGER NOT NULL DEFAULT 0,"
      "  local_deleted INTEGER NOT NULL DEFAULT 0, expiry_usecs INTEGER NOT NULL DEFAULT 0, data_lock TEXT,"
      "  lease_owner TEXT, lease_expiry INTEGER NOT NULL DEFAULT 0,"
      "  PRIMARY KEY (tenant, group_id, start_usecs));"
      "CREATE UNIQUE INDEX runs_instance ON runs(instance_id);"
      "CREATE INDEX runs_status ON runs(status, start_usecs);"
      "CREATE INDEX runs_seq ON runs(tenant, group_seq, start_usecs);"
      "CREATE TABLE run_objects ("
      "  tenant TEXT NOT NULL, group_id TEXT NOT NULL, start_usecs INTEGER NOT NULL, object_id INTEGER NOT NULL,"
      "  object_name TEXT, source_id INTEGER NOT NULL DEFAULT 0, source_name TEXT, environment TEXT,"
      "  object_type TEXT, status TEXT NOT NULL, message TEXT, snapshot_id TEXT,"
      "  begin_usecs INTEGER NOT NULL DEFAULT 0, end_usecs INTEGER NOT NULL DEFAULT 0,"
      "  logical_bytes INTEGER NOT NULL DEFAULT 0, bytes_read INTEGER NOT NULL DEFAULT 0,"
      "  bytes_written INTEGER NOT NULL DEFAULT 0, files INTEGER NOT NULL DEFAULT 0,"
      "  dirs INTEGER NOT NULL DEFAULT 0, files_read INTEGER NOT NULL DEFAULT 0,"
      "  files_total INTEGER NOT NULL DEFAULT -1, bytes_total INTEGER NOT NULL DEFAULT -1, walk_done INTEGER NOT NULL DEFAULT 0,"
      "  pct REAL NOT NULL DEFAULT 0, warnings TEXT,"
      "  PRIMARY KEY (tenant, group_id, start_usecs, object_id),"
      "  FOREIGN KEY (tenant, group_id, start_usecs) REFERENCES runs(tenant, group_id, start_usecs)"
      "    ON DELETE CASCADE) WITHOUT ROWID;"
      "CREATE TABLE snapshots ("
      "  tenant TEXT NOT NULL, id TEXT NOT NULL, object_id INTEGER NOT NULL, object_name TEXT,"
      "  source_id INTEGER NOT NULL DEFAULT 0, environment TEXT NOT NULL, group_id TEXT NOT NULL,"
      "  group_name TEXT, group_seq INTEGER NOT NULL, run_usecs INTEGER NOT NULL, instance_id INTEGER NOT NULL,"
      "  run_type TEXT NOT NULL, snapshot_usecs INTEGER NOT NULL, end_usecs INTEGER NOT NULL,"
      "  status TEXT NOT NULL, logical_bytes INTEGER NOT NULL DEFAULT 0, bytes_read INTEGER NOT NULL DEFAULT 0,"
      "  bytes_written INTEGER NOT NULL DEFAULT 0, files INTEGER NOT NULL DEFAULT 0,"
      "  dirs INTEGER NOT NULL DEFAULT 0, parent_id TEXT, expiry_usecs INTEGER NOT NULL DEFAULT 0,"
      "  on_legal_hold INTEGER NOT NULL DEFAULT 0, is_deleted INTEGER NOT NULL DEFAULT 0,"
      "  PRIMARY KEY (tenant, id));"
      "CREATE INDEX snapshots_object ON snapshots(tenant, object_id, snapshot_usecs);"
      "CREATE INDEX snapshots_group ON snapshots(tenant, group_id, snapshot_usecs);"
      "CREATE INDEX snapshots_run ON snapshots(tenant, group_id, run_usecs);"
      "CREATE INDEX snapshots_expiry ON snapshots(is_deleted, expiry_usecs);"
      "CREATE TABLE sched_state ("
      "  tenant TEXT NOT NULL, group_id TEXT NOT NULL, last_usecs INTEGER NOT NULL,"
      "  PRIMARY KEY (tenant, group_id)) WITHOUT ROWID;" },
    /* 5: recoveries (restores and download archives) and the file index for search
     * (src/catalog/recoveries.c, file_index.c; see cat_recovery.h and cat_file_index.h).
     * A recovery's request (what the worker needs) and doc (the Recovery fields fixed at creation) are
     * JSON; status, times, counters and messages are columns the worker updates. The file index keeps
     * one row per unique path of an object (fidx_paths, with FTS5 trigram indexes over the name and over
     * the path, kept in step by triggers: two tables with detail=none, since one table over both
     * columns would answer a name query with every path whose directories match too) and one row per (path, snapshot) holding it (fidx_versions), so a file
     * deleted since is still found with the snapshots that have it. fidx_snapshots tracks which
     * snapshots the indexer has done; its small integer `no` keeps version rows short. */
    { 5,
      "CREATE TABLE recoveries ("
      "  tenant TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,"
      "  snapshot_environment TEXT NOT NULL, recovery_action TEXT NOT NULL, status TEXT NOT NULL,"
      "  start_usecs INTEGER NOT NULL, end_usecs INTEGER NOT NULL DEFAULT 0, snapshot_id TEXT NOT NULL,"
      "  object_id INTEGER NOT NULL DEFAULT 0, request TEXT NOT NULL, doc TEXT NOT NULL,"
      "  messages TEXT NOT NULL DEFAULT '[]', file_errors TEXT NOT NULL DEFAULT '[]',"
      "  files INTEGER NOT NULL DEFAULT 0, dirs INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
      "  errors INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,"
      "  archive_bytes INTEGER NOT NULL DEFAULT -1, cancel_requested INTEGER NOT NULL DEFAULT 0, lease_owner TEXT,"
      "  PRIMARY KEY (tenant, id));"
      "CREATE INDEX recoveries_list ON recoveries(tenant, start_usecs);"
      "CREATE INDEX recoveries_queue ON recoveries(status, seq);"
      "CREATE TABLE fidx_snapshots ("
      "  no INTEGER PRIMARY KEY, tenant TEXT NOT NULL, snapshot_id TEXT NOT NULL, object_id INTEGER NOT NULL,"
      "  status TEXT NOT NULL, message TEXT, entries INTEGER NOT NULL DEFAULT 0,"
      "  begin_usecs INTEGER NOT NULL DEFAULT 0, end_usecs INTEGER NOT NULL DEFAULT 0);"
      "CREATE UNIQUE INDEX fidx_snapshots_id ON fidx_snapshots(tenant, snapshot_id);"
      "CREATE TABLE fidx_paths ("
      "  id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, object_id INTEGER NOT NULL, path TEXT NOT NULL,"
      "  name TEXT NOT NULL, type INTEGER NOT NULL);"
      "CREATE UNIQUE INDEX fidx_paths_key ON fidx_paths(tenant, object_id, path);"
      "CREATE VIRTUAL TABLE fidx_name USING fts5(name, content='fidx_paths', content_rowid='id',"
      "  tokenize='trigram', detail='none', columnsize=0);"
      "CREATE VIRTUAL TABLE fidx_path USING fts5(path, content='fidx_paths', content_rowid='id',"
      "  tokenize='trigram', detail='none', columnsize=0);"
      "CREATE TRIGGER fidx_paths_ai AFTER INSERT ON fidx_paths BEGIN"
      "  INSERT INTO fidx_name(rowid, name) VALUES (new.id, new.name);"
      "  INSERT INTO fidx_path(rowid, path) VALUES (new.id, new.path); END;"
      "CREATE TRIGGER fidx_paths_ad AFTER DELETE ON fidx_paths BEGIN"
      "  INSERT INTO fidx_name(fidx_name, rowid, name) VALUES ('delete', old.id, old.name);"
      "  INSERT INTO fidx_path(fidx_path, rowid, path) VALUES ('delete', old.id, old.path); END;"
      "CREATE TABLE fidx_versions ("
      "  path_id INTEGER NOT NULL, no INTEGER NOT NULL, type INTEGER NOT NULL, size INTEGER NOT NULL,"
      "  mtime_usecs INTEGER NOT NULL, PRIMARY KEY (path_id, no)) WITHOUT ROWID;"
      "CREATE INDEX fidx_versions_no ON fidx_versions(no);" },
    /* 6: recovery leases expire like run leases (the job core renews every lease it holds); a
     * recovery leased before this migration has no expiry (0) and is failed on restart as before. */
    { 6, "ALTER TABLE recoveries ADD COLUMN lease_expiry INTEGER NOT NULL DEFAULT 0;" },
    /* 7: the typed specs (src/sched/spec.h) of policies and groups as their versioned internal
     * document, beside the wire document the API echoes back. NULL until written: the API writes it
     * with every create and update, and api_spec_backfill (api/wire_spec.c, at daemon start) fills
     * rows written before this migration. */
    { 7,
      "ALTER TABLE policies ADD COLUMN spec TEXT;"
      "ALTER TABLE protection_groups ADD COLUMN spec TEXT;" },
    /* 8: an object's doc becomes Coffer's internal facts document (cat_source.h: cat_object_facts)
     * instead of the wire-shaped one the agent used to store ({osType, logicalSizeBytes,
     * physicalProtectionSource: {fileSystemType, devicePath, isNetworkFileSystem, hostType,
     * hostName, ...}}): the same values under Coffer's names, absent ones left out (json_patch
     * drops the NULLs); the OS was already in the os_type column. The API rebuilds the wire shape. */
    { 8,
      "UPDATE objects SET os_type = json_extract(doc, '$.osType') WHERE os_type IS NULL AND json_valid(doc);"
      "UPDATE objects SET doc = json_patch('{}', json_object("
      "  'logical_bytes', json_extract(doc, '$.logicalSizeBytes'),"
      "  'fs_type', json_extract(doc, '$.physicalProtectionSource.fileSystemType'),"
      "  'device', json_extract(doc, '$.physicalProtectionSource.devicePath'),"
      "  'network', json_extract(doc, '$.physicalProtectionSource.isNetworkFileSystem'),"
      "  'host_type', json_extract(doc, '$.physicalProtectionSource.hostType'),"
      "  'host_name', json_extract(doc, '$.physicalProtectionSource.hostName')))"
      " WHERE json_valid(doc);" },
    /* 9: a group deleted with deleteSnapshots remembers it, so the snapshot of a run that was still
     * finishing when the group was deleted expires at once too (cat_run_object_finish). */
    { 9, "ALTER TABLE protection_groups ADD COLUMN snapshots_deleted INTEGER NOT NULL DEFAULT 0;" },
    /* 10: a registration's PostgreSQL connection as Coffer's typed document (cat_source.h: struct
     * cat_pg_conn; its password only sealed under the repository key). NULL: none. */
    { 10, "ALTER TABLE sources ADD COLUMN spec TEXT;" },
    /* 11: SQL snapshots (cat_snapshot.h): a base backup's start/stop LSN, timeline and consistent
     * point, a sealed WAL snapshot's LSN range and the time range its WAL covers, the databases a run
     * asked for; and the databases and tables a base backup held (snapshot_objects, listed by the
     * site restore API as an execution's objects). LSNs are stored as integers. */
    { 11,
      "ALTER TABLE snapshots ADD COLUMN sql_start_lsn INTEGER;"
      "ALTER TABLE snapshots ADD COLUMN sql_end_lsn INTEGER;"
      "ALTER TABLE snapshots ADD COLUMN sql_timeline INTEGER;"
      "ALTER TABLE snapshots ADD COLUMN sql_consistent_usecs INTEGER;"
      "ALTER TABLE snapshots ADD COLUMN sql_wal_from_usecs INTEGER;"
      "ALTER TABLE snapshots ADD COLUMN sql_wal_to_usecs INTEGER;"
      "ALTER TABLE snapshots ADD COLUMN sql_databases TEXT;"
      "CREATE TABLE snapshot_objects ("
      "  tenant TEXT NOT NULL, snapshot_id TEXT NOT NULL, no INTEGER NOT NULL, kind TEXT NOT NULL,"
      "  name TEXT NOT NULL, parent TEXT, bytes INTEGER NOT NULL,"
      "  PRIMARY KEY (tenant, snapshot_id, no)) WITHOUT ROWID;" },
    /* 15: retryOptions (cat_run.h: cat_run_retry): a run's attempt number, when its next attempt may
     * start (0: at once; a run Accepted with retry_at in the future waits for it), and the failed
     * attempts of its objects ([{"object_id","begin_usecs","end_usecs","message"}]); pause and
     * resume (cat_run_pause_request, cat_run_pause, cat_run_resume): a pause asked of a Running run,
     * and a Paused run's checkpoint snapshots ({"<object id>":"<snapshot id>"}). */
    { 15,
      "ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;"
      "ALTER TABLE runs ADD COLUMN retry_at INTEGER NOT NULL DEFAULT 0;"
      "ALTER TABLE runs ADD COLUMN failed_attempts TEXT;"
      "ALTER TABLE runs ADD COLUMN pause_requested INTEGER NOT NULL DEFAULT 0;"
      "ALTER TABLE runs ADD COLUMN checkpoints TEXT;" },
    /* 16: API keys (cat_key.h): a key's public id, its tenant ('' = a cluster key), name, roles (the
     * API's role bits), the SHA-256 (hex) of its secret token, when it was created, expires (0 =
     * never) and was revoked (0 = not), and when it was last used (updated at most once a minute). */
    { 16,
      "CREATE TABLE api_keys ("
      "  id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, roles BIGINT NOT NULL,"
      "  secret_sha256 TEXT NOT NULL, created_usecs BIGINT NOT NULL, expires_usecs BIGINT NOT NULL,"
      "  revoked_usecs BIGINT NOT NULL, last_used_usecs BIGINT NOT NULL);"
      "CREATE INDEX api_keys_tenant ON api_keys(tenant, created_usecs);" },
    /* 17: the audit log (cat_audit.h): one row per audited request or event, append-only. seq orders
     * the rows (the "audit" sequence); times are util_time_now. UPDATE is refused by a trigger; DELETE
     * only of rows older than audit_horizon.before_usecs, which only the retention sweep
     * (cat_audit_sweep) moves forward, in the same transaction as its delete. The triggers are
     * SQLite's syntax (the PostgreSQL port writes them as a trigger function); the tables are
     * portable. */
    { 17,
      "CREATE TABLE audit_log ("
      "  seq BIGINT PRIMARY KEY, time_usecs BIGINT NOT NULL, request_id TEXT NOT NULL, actor TEXT NOT NULL,"
      "  key_id TEXT, tenant TEXT NOT NULL, roles TEXT NOT NULL, client TEXT, method TEXT NOT NULL,"
      "  route TEXT, path TEXT, resource_id TEXT, status INTEGER NOT NULL, detail TEXT);"
      "CREATE INDEX audit_log_time ON audit_log(time_usecs);"
      "CREATE INDEX audit_log_tenant ON audit_log(tenant, seq);"
      "CREATE INDEX audit_log_resource ON audit_log(resource_id, seq);"
      "CREATE TABLE audit_horizon (id INTEGER PRIMARY KEY, before_usecs BIGINT NOT NULL);"
      "INSERT INTO audit_horizon (id, before_usecs) VALUES (1, 0);"
      "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
      " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
      "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
      " WHEN OLD.time_usecs >= (SELECT before_usecs FROM audit_horizon WHERE id = 1)"
      " BEGIN SELECT RAISE(ABORT, 'audit_log: only rows past the retention horizon may be deleted'); END;"
      "CREATE TRIGGER audit_horizon_no_delete BEFORE DELETE ON audit_horizon"
      " BEGIN SELECT RAISE(ABORT, 'audit_horizon is kept'); END;" },
    { 0, NULL }
};
