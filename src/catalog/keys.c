/* keys.c: API keys in the catalog (see cat_key.h).
 *
 * Table (migration 16): api_keys(id PRIMARY KEY, tenant, name, roles, secret_sha256 (hex text),
 * created_usecs, expires_usecs, revoked_usecs, last_used_usecs), indexed by (tenant, created_usecs)
 * for listing. A lookup by id is one primary-key read, cheap enough for every request. */
#include "catalog/cat_key.h"
#include "util/hex.h"
#include "catalog/internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cat_key_release(struct cat_key *k)
{
    if (!k) return;
    free(k->id);
    free(k->tenant);
    free(k->name);
    memset(k, 0, sizeof *k);
}

#define KEY_COLS "id, tenant, name, roles, secret_sha256, created_usecs, expires_usecs, revoked_usecs, last_used_usecs "

static int key_from_row(sqldb_stmt *st, struct cat_key *k)
{
    memset(k, 0, sizeof *k);
    k->id = cat_col_strdup(st, 0);
    k->tenant = cat_col_strdup(st, 1);
    k->name = cat_col_strdup(st, 2);
    k->roles = (unsigned)sqldb_column_int64(st, 3);
    if (util_hex_decode((const char *)sqldb_column_text(st, 4), k->sha256, sizeof k->sha256) != 0)
        memset(k->sha256, 0, sizeof k->sha256); /* matches no secret's digest in practice */
    k->created_usecs = sqldb_column_int64(st, 5);
    k->expires_usecs = sqldb_column_int64(st, 6);
    k->revoked_usecs = sqldb_column_int64(st, 7);
    k->last_used_usecs = sqldb_column_int64(st, 8);
    if (!k->id || !k->tenant || !k->name) {
        cat_key_release(k);
        return -1;
    }
    return 0;
}

int cat_key_insert(struct cat *cat, const struct cat_key *k)
{
    char hex[2 * CAT_KEY_SHA256_LEN + 1];
    sqldb_stmt *st = cat_stmt(cat, "INSERT INTO api_keys(" KEY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0)");
    if (!st) return -1;
    util_hex_encode(k->sha256, CAT_KEY_SHA256_LEN, hex);
    sqldb_bind_text(st, 1, k->id, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, k->tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 3, k->name, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 4, (int64_t)k->roles);
    sqldb_bind_text(st, 5, hex, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 6, k->created_usecs);
    sqldb_bind_int64(st, 7, k->expires_usecs);
    return cat_exec_done(cat, st);
}

int cat_key_get(struct cat *cat, const char *id, struct cat_key *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " KEY_COLS "FROM api_keys WHERE id = ?1");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_TRANSIENT);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        rc = key_from_row(st, out);
    } else if (rc == SQLDB_DONE) {
        rc = CAT_NOT_FOUND;
    } else {
        rc = cat_sql_error(cat, rc, "read an API key");
    }
    sqldb_reset(st);
    return rc;
}

int cat_key_list(struct cat *cat, const char *tenant, cat_key_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " KEY_COLS "FROM api_keys WHERE ?1 IS NULL OR tenant = ?1"
                                     " ORDER BY created_usecs, id");
    int rc = 0, s = SQLDB_DONE;
    if (!st) return -1;
    cat_bind_opt_text(st, 1, tenant);
    while (rc == 0 && (s = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_key k;
        if (key_from_row(st, &k) != 0) {
            rc = -1;
            break;
        }
        rc = fn(ud, &k);
        cat_key_release(&k);
    }
    if (rc == 0 && s != SQLDB_DONE) rc = cat_sql_error(cat, s, "list API keys");
    sqldb_reset(st);
    return rc;
}

int cat_key_revoke(struct cat *cat, const char *tenant, const char *id, int64_t now_usecs)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE api_keys SET revoked_usecs ="
                                     " CASE WHEN revoked_usecs = 0 THEN ?3 ELSE revoked_usecs END"
                                     " WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_TRANSIENT);
    cat_bind_opt_text(st, 2, tenant);
    sqldb_bind_int64(st, 3, now_usecs);
    rc = cat_exec_done(cat, st);
    if (rc != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

int cat_key_touch(struct cat *cat, const char *id, int64_t now_usecs)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE api_keys SET last_used_usecs = ?2 WHERE id = ?1");
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, now_usecs);
    return cat_exec_done(cat, st);
}
