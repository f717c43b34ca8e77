/* migrations.c: the catalog schema as a numbered list of migrations. A migration is applied once, in a
 * transaction together with the bump of PRAGMA user_version, so a crash leaves the schema at one
 * version or the next. Never edit a migration that has shipped: add the next number. */
#include "catalog/internal.h"

const struct cat_migration cat_migrations[] = {
    { 1,
      "CREATE TABLE installation (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE sequences (name TEXT PRIMARY KEY, next INTEGER NOT NULL);" },
    { 0, NULL }
};
