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
    { 0, NULL }
};
