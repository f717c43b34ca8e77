/* internal.h: what the catalog's own files share: this thread's connection, the prepared-statement
 * cache and small binding helpers, over the statement seam (sqldb.h). Not for use outside
 * src/catalog (tests may use cat_exec_sql and cat_engine). */
#ifndef COFFER_CATALOG_INTERNAL_H
#define COFFER_CATALOG_INTERNAL_H
#include "catalog/cat.h"
#include "catalog/cat_gen.h"
#include "catalog/sqldb.h"

/* cat_db: this thread's connection to the catalog (opened on first use). */
sqldb_conn *cat_db(struct cat *cat);
/* cat_engine: which engine the catalog runs on. */
enum sqldb_engine cat_engine(const struct cat *cat);
/* cat_stmt: a prepared statement for sql from this connection's cache, reset and with bindings
 * cleared. sql must be a string literal (the cache is keyed by its address). NULL on error (logged). */
sqldb_stmt *cat_stmt(struct cat *cat, const char *sql);
/* cat_stmt_alt: cat_stmt with a PostgreSQL form of the statement (pg_sql, also a literal, in the
 * same dialect conventions: ?N placeholders) for what the driver's translation cannot express. */
sqldb_stmt *cat_stmt_alt(struct cat *cat, const char *sqlite_sql, const char *pg_sql);
/* cat_exec_sql: runs SQL without parameters on this thread's connection (several statements
 * allowed; the PostgreSQL driver translates it); 0 or the seam's error code (logged). */
int cat_exec_sql(struct cat *cat, const char *sql);
/* cat_exec_done: steps a statement that returns no rows; 0, CAT_CONFLICT on a constraint, -ENOSPC
 * when the disk is full, or -1. */
int cat_exec_done(struct cat *cat, sqldb_stmt *st);
/* cat_exec_done_touch: cat_exec_done, then cat_gen_touch(family) AFTER the statement (cat_gen.h: an
 * autocommit write is visible before its generation moves); the statement's result. */
int cat_exec_done_touch(struct cat *cat, sqldb_stmt *st, enum cat_gen_family family);
/* cat_col_json: column i parsed as JSON (a new reference) or NULL. */
json_t *cat_col_json(sqldb_stmt *st, int i);
/* cat_bind_json: binds a JSON value's compact text (SQLDB_TRANSIENT). */
int cat_bind_json(sqldb_stmt *st, int i, const json_t *v);
/* cat_sql_error: logs a failed statement (rc: what step returned, or 0 to read the connection's
 * error), records it for cat_last_error and returns -ENOSPC when the disk is full (the driver says:
 * SQLITE_FULL or an I/O error with errno ENOSPC; PostgreSQL's disk_full SQLSTATE 53100), else -1.
 * cat_log_error: the same, result unused. */
int cat_sql_error(struct cat *cat, int rc, const char *what);
void cat_log_error(struct cat *cat, const char *what);
/* cat_col_strdup: column i as a malloc'd string (the caller frees), NULL for SQL NULL. */
char *cat_col_strdup(sqldb_stmt *st, int i);
/* cat_bind_opt_text: binds s, or NULL when s is NULL. */
void cat_bind_opt_text(sqldb_stmt *st, int i, const char *s);
/* cat_bind_opt_list: binds a non-empty JSON array as its text (for json_each filters), else NULL,
 * so that "?N IS NULL OR x IN (SELECT value FROM json_each(?N))" means "no filter". */
void cat_bind_opt_list(sqldb_stmt *st, int i, const json_t *list);
/* cat_bind_list: binds a JSON array's text, or NULL when list is NULL (an empty array then matches
 * nothing, unlike cat_bind_opt_list). 0 or -1. */
int cat_bind_list(sqldb_stmt *st, int i, const json_t *list);
/* cat_each_id_doc: steps st, whose rows are (id, doc), calling fn(ud, id, doc, len) for each until
 * fn returns nonzero (returned as is); resets st. -1 (logged with what) on a SQL error. */
typedef int (*cat_id_doc_fn)(void *ud, const char *id, const char *doc, size_t len);
int cat_each_id_doc(struct cat *cat, sqldb_stmt *st, cat_id_doc_fn fn, void *ud, const char *what);
/* cat_json_has_str: whether the JSON array arr holds the string s. */
int cat_json_has_str(const json_t *arr, const char *s);

struct cat_object_facts;
/* sources.c: an object's facts from its row: doc_col (the internal facts document) and os_col. */
void cat_object_facts_from_row(sqldb_stmt *st, int doc_col, int os_col, struct cat_object_facts *f);

/* migrations.c */
/* A migration: its SQL for SQLite and, where the dialects differ, for PostgreSQL (pg_sql NULL: sql
 * serves both, through the driver's translation). */
struct cat_migration { int version; const char *sql; const char *pg_sql; };
extern const struct cat_migration cat_migrations[];
/* spec_rows.c: the typed-spec column of a (tenant, id) row: select_sql/update_sql bind ?1 id, ?2
 * tenant (and ?3 the document). get: 0 (*spec NULL when the row has none; malloc'd, the caller frees),
 * CAT_NOT_FOUND, -1. set: 0, CAT_NOT_FOUND, <0; it touches family's generation (cat_gen.h) after the write. */
int cat_spec_column_get(struct cat *cat, const char *select_sql, const char *what, const char *tenant,
                        const char *id, char **spec, size_t *len);
int cat_spec_column_set(struct cat *cat, enum cat_gen_family family, const char *update_sql, const char *tenant, const char *id,
                        const char *spec);
#endif
