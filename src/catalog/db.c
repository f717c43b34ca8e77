/* db.c: opening the catalog, per-thread connections, the prepared-statement cache, migrations,
 * transactions, sequences, the installation identity, disk-full errors and the space reserve (see
 * cat.h).
 *
 * Statements run through the seam (sqldb.h) on the engine the target names: a SQLite file or a
 * PostgreSQL database. A statement that fails because the disk is full (the driver says: SQLITE_FULL,
 * an I/O error whose system errno is ENOSPC, PostgreSQL's 53100) is reported as -ENOSPC; the code of this thread's last failed statement is kept in a
 * thread-local (cat_last_error) for callers that only saw "it failed". The reserve is a file of
 * preallocated bytes beside the catalog: released (unlinked) when a failure must be recorded on a
 * full disk, re-created once the disk has room again (cat_reserve_restore).
 *
 * A struct cat holds only the target, its engine and a pthread key; each thread's connection lives in a struct
 * conn reached through that key and is closed by the key's destructor when the thread exits. The
 * statement cache is a small open-addressing table keyed by the address of the SQL literal (the
 * SQLite one for a pair given to cat_stmt_alt). */
#include "catalog/internal.h"
#include "catalog/cat_gen.h"
#include "util/log.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define STMT_SLOTS 1024

struct conn {
    struct cat *owner;
    sqldb_conn *db;
    struct { const char *sql; sqldb_stmt *st; } stmts[STMT_SLOTS];
};

struct cat {
    char *path;                 /* the catalog's target: a SQLite path or a PostgreSQL conninfo */
    enum sqldb_engine engine;
    int shared;                 /* PostgreSQL with COFFER_SHARED_CATALOG=1: several nodes (cat_shared) */
    pthread_key_t key;
    pthread_mutex_t lock;       /* guards the list of connections for cat_close */
    struct conn **conns;
    size_t nconns, capconns;
    char *reserve_path;         /* NULL: no reserve (guarded by lock) */
    int64_t reserve_bytes;
};

static _Thread_local int tl_last_err;

static void conn_free(struct conn *c)
{
    if (!c) return;
    for (int i = 0; i < STMT_SLOTS; i++)
        if (c->stmts[i].st) sqldb_finalize(c->stmts[i].st);
    sqldb_close(c->db);
    free(c);
}

/* Thread exit: the thread's connection is taken off the owner's list and closed. */
static void conn_destructor(void *p)
{
    struct conn *c = p;
    struct cat *cat = c->owner;
    pthread_mutex_lock(&cat->lock);
    for (size_t i = 0; i < cat->nconns; i++) {
        if (cat->conns[i] == c) {
            cat->conns[i] = cat->conns[--cat->nconns];
            break;
        }
    }
    pthread_mutex_unlock(&cat->lock);
    conn_free(c);
}

enum sqldb_engine cat_engine(const struct cat *cat)
{
    return cat->engine;
}

int cat_shared(struct cat *cat)
{
    return cat->shared;
}

uint64_t cat_gen(struct cat *cat, enum cat_gen_family family)
{
    return cat && !cat->shared ? cat_gen_value(family) : 0; /* shared: other nodes write unseen (cat_gen.h) */
}

sqldb_conn *cat_db(struct cat *cat)
{
    struct conn *c = pthread_getspecific(cat->key);
    char err[512] = "";
    if (c && sqldb_broken(c->db)) {
        /* The server went away (PostgreSQL restarted): this connection and its prepared statements
         * are gone; the next use opens a new one. */
        log_warn("catalog: the connection was lost; opening a new one");
        pthread_setspecific(cat->key, NULL);
        conn_destructor(c);
        c = NULL;
    }
    if (c) return c->db;
    c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->owner = cat;
    c->db = sqldb_open(cat->path, err, sizeof err);
    if (!c->db) {
        log_error("catalog: cannot open %s: %s", cat->engine == SQLDB_PG ? "the PostgreSQL catalog" : cat->path,
                  err);
        conn_free(c);
        return NULL;
    }
    pthread_mutex_lock(&cat->lock);
    if (cat->nconns == cat->capconns) {
        size_t cap = cat->capconns ? cat->capconns * 2 : 16;
        struct conn **n = realloc(cat->conns, cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&cat->lock);
            conn_free(c);
            return NULL;
        }
        cat->conns = n;
        cat->capconns = cap;
    }
    cat->conns[cat->nconns++] = c;
    pthread_mutex_unlock(&cat->lock);
    pthread_setspecific(cat->key, c);
    return c->db;
}

static sqldb_stmt *stmt_cached(struct cat *cat, const char *key, const char *sql)
{
    struct conn *c;
    size_t h;
    tl_last_err = 0;
    if (!cat_db(cat)) return NULL;
    c = pthread_getspecific(cat->key);
    h = ((uintptr_t)key >> 3) % STMT_SLOTS;
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        size_t slot = (h + i) % STMT_SLOTS;
        if (c->stmts[slot].sql == key) {
            sqldb_stmt *st = c->stmts[slot].st;
            sqldb_reset(st);
            sqldb_clear_bindings(st);
            return st;
        }
        if (!c->stmts[slot].sql) {
            sqldb_stmt *st = sqldb_prepare(c->db, sql);
            if (!st) {
                log_error("catalog: prepare failed: %s: %s", sqldb_errmsg(c->db), sql);
                return NULL;
            }
            c->stmts[slot].sql = key;
            c->stmts[slot].st = st;
            return st;
        }
    }
    log_error("catalog: statement cache full");
    return NULL;
}

sqldb_stmt *cat_stmt(struct cat *cat, const char *sql)
{
    return stmt_cached(cat, sql, sql);
}

sqldb_stmt *cat_stmt_alt(struct cat *cat, const char *sqlite_sql, const char *pg_sql)
{
    return stmt_cached(cat, sqlite_sql, cat->engine == SQLDB_PG ? pg_sql : sqlite_sql);
}

int cat_exec_sql(struct cat *cat, const char *sql)
{
    sqldb_conn *db = cat_db(cat);
    int rc;
    if (!db) return SQLDB_ERROR;
    rc = sqldb_exec(db, sql);
    if (rc != SQLDB_OK) cat_sql_error(cat, rc, "exec");
    return rc;
}

int cat_sql_error(struct cat *cat, int rc, const char *what)
{
    struct conn *c = pthread_getspecific(cat->key); /* as it is: cat_db would replace a lost one */
    sqldb_conn *db = c ? c->db : NULL;
    if (db && sqldb_disk_full(db, rc)) {
        tl_last_err = -ENOSPC;
        log_error("catalog: %s: %s (No space left on device)", what, sqldb_errmsg(db));
        return -ENOSPC;
    }
    tl_last_err = -1;
    log_error("catalog: %s: %s", what, db ? sqldb_errmsg(db) : "no connection");
    return -1;
}

void cat_log_error(struct cat *cat, const char *what)
{
    cat_sql_error(cat, 0, what);
}

int cat_last_error(void)
{
    return tl_last_err;
}

int cat_exec_done(struct cat *cat, sqldb_stmt *st)
{
    int rc = sqldb_step(st);
    sqldb_reset(st);
    if (rc == SQLDB_DONE || rc == SQLDB_ROW) return 0;
    if ((rc & 0xff) == SQLDB_CONSTRAINT) return CAT_CONFLICT;
    return cat_sql_error(cat, rc, "step");
}

int cat_exec_done_touch(struct cat *cat, sqldb_stmt *st, enum cat_gen_family family)
{
    int rc = cat_exec_done(cat, st);
    cat_gen_touch(family);
    return rc;
}

json_t *cat_col_json(sqldb_stmt *st, int i)
{
    const char *text = (const char *)sqldb_column_text(st, i);
    if (!text) return NULL;
    return json_loads(text, 0, NULL);
}

int cat_bind_json(sqldb_stmt *st, int i, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    int rc;
    if (!text) return -1;
    rc = sqldb_bind_text(st, i, text, -1, SQLDB_TRANSIENT);
    free(text);
    return rc == SQLDB_OK ? 0 : -1;
}

char *cat_col_strdup(sqldb_stmt *st, int i)
{
    const char *t = (const char *)sqldb_column_text(st, i);
    return t ? strdup(t) : NULL;
}

void cat_bind_opt_text(sqldb_stmt *st, int i, const char *s)
{
    if (s)
        sqldb_bind_text(st, i, s, -1, SQLDB_TRANSIENT);
    else
        sqldb_bind_null(st, i);
}

void cat_bind_opt_list(sqldb_stmt *st, int i, const json_t *list)
{
    if (list && json_array_size(list) > 0)
        cat_bind_json(st, i, list);
    else
        sqldb_bind_null(st, i);
}

int cat_bind_list(sqldb_stmt *st, int i, const json_t *list)
{
    if (!list) return sqldb_bind_null(st, i) == SQLDB_OK ? 0 : -1;
    return cat_bind_json(st, i, list);
}

int cat_each_id_doc(struct cat *cat, sqldb_stmt *st, cat_id_doc_fn fn, void *ud, const char *what)
{
    int rc, out = 0;
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        const char *id = (const char *)sqldb_column_text(st, 0);
        const char *doc = (const char *)sqldb_column_text(st, 1);
        size_t len = (size_t)sqldb_column_bytes(st, 1);
        if (!id || !doc) continue;
        if ((out = fn(ud, id, doc, len)) != 0) break;
    }
    if (out == 0 && rc != SQLDB_DONE) {
        cat_log_error(cat, what);
        out = -1;
    }
    sqldb_reset(st);
    return out;
}

int cat_json_has_str(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    if (!s) return 0;
    json_array_foreach(arr, i, v) {
        const char *x = json_string_value(v);
        if (x && strcmp(x, s) == 0) return 1;
    }
    return 0;
}

/* migrate: each pending migration in its own write transaction (which on PostgreSQL also holds the
 * catalog's advisory lock, so nodes starting together apply it once), the version read again inside
 * it. */
static int migrate(struct cat *cat, char *err, size_t errlen)
{
    sqldb_conn *db = cat_db(cat);
    if (!db) {
        snprintf(err, errlen, "cannot open the catalog");
        return -1;
    }
    for (const struct cat_migration *m = cat_migrations; m->sql; m++) {
        const char *sql = cat->engine == SQLDB_PG && m->pg_sql ? m->pg_sql : m->sql;
        int version, rc;
        if (sqldb_begin(db) != SQLDB_OK) {
            snprintf(err, errlen, "catalog migration %d: cannot begin: %s", m->version, sqldb_errmsg(db));
            return -1;
        }
        version = sqldb_get_version(db);
        if (version < 0) {
            snprintf(err, errlen, "cannot read schema version: %s", sqldb_errmsg(db));
            sqldb_exec(db, "ROLLBACK");
            return -1;
        }
        if (m->version <= version) {
            sqldb_exec(db, "ROLLBACK");
            continue;
        }
        rc = sqldb_exec(db, sql);
        if (rc == SQLDB_OK) rc = sqldb_set_version(db, m->version);
        if (rc == SQLDB_OK) rc = sqldb_exec(db, "COMMIT");
        if (rc != SQLDB_OK) {
            snprintf(err, errlen, "catalog migration %d failed: %s", m->version, sqldb_errmsg(db));
            sqldb_exec(db, "ROLLBACK");
            return -1;
        }
        log_info("catalog: applied migration %d", m->version);
    }
    return 0;
}

int cat_schema_version(struct cat *cat)
{
    sqldb_conn *db = cat_db(cat);
    return db ? sqldb_get_version(db) : -1;
}

static int installation_init(struct cat *cat)
{
    int64_t ids[2];
    sqldb_stmt *st;
    int rc = 0;
    if (RAND_bytes((unsigned char *)ids, sizeof ids) != 1) return -1;
    /* Positive, and small enough to print the same in every client (below 2^53). */
    for (int i = 0; i < 2; i++) ids[i] = (int64_t)(((uint64_t)ids[i] % ((1ull << 52) - 1)) + 1);
    st = cat_stmt(cat, "INSERT OR IGNORE INTO installation(key, value) VALUES (?1, ?2)");
    if (!st) return -1;
    for (int i = 0; i < 2 && rc == 0; i++) {
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)ids[i]);
        st = cat_stmt(cat, "INSERT OR IGNORE INTO installation(key, value) VALUES (?1, ?2)");
        sqldb_bind_text(st, 1, i == 0 ? "cluster_id" : "incarnation_id", -1, SQLDB_STATIC);
        sqldb_bind_text(st, 2, v, -1, SQLDB_TRANSIENT);
        rc = cat_exec_done(cat, st);
    }
    return rc;
}

int cat_open(const char *path, struct cat **out, char *err, size_t errlen)
{
    struct cat *cat = calloc(1, sizeof *cat);
    if (!cat) return -1;
    cat->path = strdup(path);
    cat->engine = sqldb_is_pg(path) ? SQLDB_PG : SQLDB_SQLITE;
    {
        const char *sh = getenv("COFFER_SHARED_CATALOG");
        cat->shared = cat->engine == SQLDB_PG && sh && strcmp(sh, "1") == 0;
    }
    pthread_mutex_init(&cat->lock, NULL);
    if (!cat->path || pthread_key_create(&cat->key, conn_destructor) != 0) {
        free(cat->path);
        free(cat);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!cat_db(cat)) {
        snprintf(err, errlen, "cannot open catalog %s", cat->engine == SQLDB_PG ? "(PostgreSQL)" : path);
        cat_close(cat);
        return -1;
    }
    if (migrate(cat, err, errlen) != 0 || installation_init(cat) != 0) {
        if (!*err) snprintf(err, errlen, "cannot initialise catalog %s", cat->engine == SQLDB_PG ? "(PostgreSQL)" : path);
        cat_close(cat);
        return -1;
    }
    log_info("catalog: %s (schema version %d)", cat->engine == SQLDB_PG ? "PostgreSQL" : path, cat_schema_version(cat));
    *out = cat;
    return 0;
}

void cat_close(struct cat *cat)
{
    if (!cat) return;
    cat_gen_bump_all(); /* nothing cached from this catalog is served again (cat_gen.h) */
    pthread_setspecific(cat->key, NULL);
    pthread_key_delete(cat->key);
    for (size_t i = 0; i < cat->nconns; i++) conn_free(cat->conns[i]);
    free(cat->conns);
    pthread_mutex_destroy(&cat->lock);
    free(cat->reserve_path);
    free(cat->path);
    free(cat);
}

int cat_installation(struct cat *cat, int64_t *cluster_id, int64_t *incarnation_id)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT key, value FROM installation");
    int found = 0;
    if (!st) return -1;
    while (sqldb_step(st) == SQLDB_ROW) {
        const char *k = (const char *)sqldb_column_text(st, 0);
        long long v = strtoll((const char *)sqldb_column_text(st, 1), NULL, 10);
        if (strcmp(k, "cluster_id") == 0) { *cluster_id = v; found |= 1; }
        if (strcmp(k, "incarnation_id") == 0) { *incarnation_id = v; found |= 2; }
    }
    sqldb_reset(st);
    return found == 3 ? 0 : -1;
}

int cat_next_seq(struct cat *cat, const char *name, int64_t *out)
{
    sqldb_stmt *st = cat_stmt(cat,
        "INSERT INTO sequences(name, next) VALUES (?1, 2) "
        "ON CONFLICT(name) DO UPDATE SET next = sequences.next + 1 RETURNING next - 1");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, name, -1, SQLDB_TRANSIENT);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) *out = sqldb_column_int64(st, 0);
    sqldb_reset(st);
    if (rc != SQLDB_ROW) return cat_sql_error(cat, rc, "next_seq");
    return 0;
}

int cat_begin(struct cat *cat)
{
    sqldb_conn *db = cat_db(cat);
    int rc;
    tl_last_err = 0;
    if (!db) return -1;
    rc = sqldb_begin(db);
    return rc == SQLDB_OK ? 0 : cat_sql_error(cat, rc, "begin");
}

int cat_commit(struct cat *cat)
{
    sqldb_stmt *st = cat_stmt(cat, "COMMIT");
    int rc = st ? cat_exec_done(cat, st) : -1;
    cat_gen_tx_end(); /* after the commit: cat_gen.h */
    return rc;
}

void cat_rollback(struct cat *cat)
{
    int last = tl_last_err; /* the rollback must not hide why the transaction failed */
    sqldb_stmt *st = cat_stmt(cat, "ROLLBACK");
    if (st && sqldb_in_transaction(cat_db(cat))) cat_exec_done(cat, st);
    cat_gen_tx_end();
    tl_last_err = last;
}

/* ---------- the space reserve ---------- */

static int reserve_create(const char *path, int64_t bytes)
{
    char tmp[4200];
    int fd, rc;
    if (snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp) return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    rc = posix_fallocate(fd, 0, (off_t)bytes); /* real blocks: a sparse file would reserve nothing */
    if (rc == 0 && fsync(fd) < 0) rc = errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0) rc = errno;
    if (rc != 0) {
        unlink(tmp);
        return -rc;
    }
    return 0;
}

int cat_reserve_init(struct cat *cat, const char *path, int64_t bytes)
{
    struct stat st;
    char tmp[4200];
    int rc = 0;
    pthread_mutex_lock(&cat->lock);
    free(cat->reserve_path);
    cat->reserve_path = strdup(path);
    cat->reserve_bytes = bytes;
    if (!cat->reserve_path) rc = -ENOMEM;
    if (rc == 0 && snprintf(tmp, sizeof tmp, "%s.new", path) < (int)sizeof tmp) unlink(tmp); /* a leftover */
    if (rc == 0 && (stat(path, &st) != 0 || st.st_size != bytes)) rc = reserve_create(path, bytes);
    pthread_mutex_unlock(&cat->lock);
    if (rc != 0) log_warn("catalog: cannot create the space reserve %s: %s", path, strerror(-rc));
    return rc;
}

int cat_reserve_release(struct cat *cat)
{
    int released = 0;
    pthread_mutex_lock(&cat->lock);
    if (cat->reserve_path && unlink(cat->reserve_path) == 0) released = 1;
    pthread_mutex_unlock(&cat->lock);
    if (released)
        log_warn("catalog: the disk is full: released the space reserve so that failures can be recorded");
    return released;
}

int cat_reserve_restore(struct cat *cat)
{
    struct stat st;
    struct statvfs vfs;
    char dir[4200];
    int rc = 0;
    pthread_mutex_lock(&cat->lock);
    if (!cat->reserve_path || stat(cat->reserve_path, &st) == 0) {
        pthread_mutex_unlock(&cat->lock);
        return 0;
    }
    /* Only once the disk has room for the reserve and as much again: the reserve must not be what
     * fills the disk. */
    snprintf(dir, sizeof dir, "%s", cat->reserve_path);
    if (strrchr(dir, '/')) *strrchr(dir, '/') = '\0';
    else snprintf(dir, sizeof dir, ".");
    if (statvfs(dir[0] ? dir : "/", &vfs) != 0) rc = -errno;
    if (rc == 0 && (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize < 2 * cat->reserve_bytes) rc = -ENOSPC;
    if (rc == 0) rc = reserve_create(cat->reserve_path, cat->reserve_bytes);
    pthread_mutex_unlock(&cat->lock);
    if (rc == 0) log_info("catalog: the space reserve %s is back", cat->reserve_path);
    return rc == 0 ? 1 : rc;
}
