/* db.c: opening the catalog, per-thread connections, the prepared-statement cache, migrations,
 * transactions, sequences, the installation identity, disk-full errors and the space reserve (see
 * cat.h).
 *
 * A statement that fails because the disk is full (SQLITE_FULL, or an I/O error whose system errno
 * is ENOSPC) is reported as -ENOSPC; the code of this thread's last failed statement is kept in a
 * thread-local (cat_last_error) for callers that only saw "it failed". The reserve is a file of
 * preallocated bytes beside the catalog: released (unlinked) when a failure must be recorded on a
 * full disk, re-created once the disk has room again (cat_reserve_restore).
 *
 * A struct cat holds only the path and a pthread key; each thread's connection lives in a struct
 * conn reached through that key and is closed by the key's destructor when the thread exits. The
 * statement cache is a small open-addressing table keyed by the address of the SQL literal. */
#include "catalog/internal.h"
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
    sqlite3 *db;
    struct { const char *sql; sqlite3_stmt *st; } stmts[STMT_SLOTS];
};

struct cat {
    char *path;
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
        if (c->stmts[i].st) sqlite3_finalize(c->stmts[i].st);
    sqlite3_close(c->db);
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

static int conn_setup(sqlite3 *db, char *err, size_t errlen)
{
    static const char *pragmas =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=FULL;"
        "PRAGMA foreign_keys=ON;"
        "PRAGMA temp_store=MEMORY;"
        "PRAGMA cache_size=-16000;";
    char *msg = NULL;
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_exec(db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "catalog setup failed: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

sqlite3 *cat_db(struct cat *cat)
{
    struct conn *c = pthread_getspecific(cat->key);
    char err[256];
    if (c) return c->db;
    c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->owner = cat;
    if (sqlite3_open_v2(cat->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        conn_setup(c->db, err, sizeof err) != 0) {
        log_error("catalog: cannot open %s: %s", cat->path, c->db ? sqlite3_errmsg(c->db) : "?");
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

sqlite3_stmt *cat_stmt(struct cat *cat, const char *sql)
{
    struct conn *c;
    size_t h;
    tl_last_err = 0;
    if (!cat_db(cat)) return NULL;
    c = pthread_getspecific(cat->key);
    h = ((uintptr_t)sql >> 3) % STMT_SLOTS;
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        size_t slot = (h + i) % STMT_SLOTS;
        if (c->stmts[slot].sql == sql) {
            sqlite3_stmt *st = c->stmts[slot].st;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
        if (!c->stmts[slot].sql) {
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
                log_error("catalog: prepare failed: %s: %s", sqlite3_errmsg(c->db), sql);
                return NULL;
            }
            c->stmts[slot].sql = sql;
            c->stmts[slot].st = st;
            return st;
        }
    }
    log_error("catalog: statement cache full");
    return NULL;
}

int cat_sql_error(struct cat *cat, int sqlite_rc, const char *what)
{
    sqlite3 *db = cat_db(cat);
    int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR, sys = db ? sqlite3_system_errno(db) : 0;
    if (sqlite_rc != 0 && sqlite_rc != SQLITE_DONE && sqlite_rc != SQLITE_ROW) code = sqlite_rc;
    if ((code & 0xff) == SQLITE_FULL || ((code & 0xff) == SQLITE_IOERR && sys == ENOSPC)) {
        tl_last_err = -ENOSPC;
        log_error("catalog: %s: %s (No space left on device)", what, db ? sqlite3_errstr(code) : "?");
        return -ENOSPC;
    }
    tl_last_err = -1;
    log_error("catalog: %s: %s", what, db ? sqlite3_errmsg(db) : "no connection");
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

int cat_exec_done(struct cat *cat, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return CAT_CONFLICT;
    return cat_sql_error(cat, rc, "step");
}

json_t *cat_col_json(sqlite3_stmt *st, int i)
{
    const char *text = (const char *)sqlite3_column_text(st, i);
    if (!text) return NULL;
    return json_loads(text, 0, NULL);
}

int cat_bind_json(sqlite3_stmt *st, int i, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    int rc;
    if (!text) return -1;
    rc = sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
    free(text);
    return rc == SQLITE_OK ? 0 : -1;
}

char *cat_col_strdup(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? strdup(t) : NULL;
}

void cat_bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

void cat_bind_opt_list(sqlite3_stmt *st, int i, const json_t *list)
{
    if (list && json_array_size(list) > 0)
        cat_bind_json(st, i, list);
    else
        sqlite3_bind_null(st, i);
}

int cat_bind_list(sqlite3_stmt *st, int i, const json_t *list)
{
    if (!list) return sqlite3_bind_null(st, i) == SQLITE_OK ? 0 : -1;
    return cat_bind_json(st, i, list);
}

int cat_each_id_doc(struct cat *cat, sqlite3_stmt *st, cat_id_doc_fn fn, void *ud, const char *what)
{
    int rc, out = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *doc = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        if (!id || !doc) continue;
        if ((out = fn(ud, id, doc, len)) != 0) break;
    }
    if (out == 0 && rc != SQLITE_DONE) {
        cat_log_error(cat, what);
        out = -1;
    }
    sqlite3_reset(st);
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

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int migrate(struct cat *cat, char *err, size_t errlen)
{
    sqlite3 *db = cat_db(cat);
    int version = cat_schema_version(cat);
    if (!db || version < 0) {
        snprintf(err, errlen, "cannot read schema version");
        return -1;
    }
    for (const struct cat_migration *m = cat_migrations; m->sql; m++) {
        char bump[64], e[512];
        if (m->version <= version) continue;
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d;", m->version);
        if (exec_sql(db, "BEGIN IMMEDIATE;", e, sizeof e) != 0 ||
            exec_sql(db, m->sql, e, sizeof e) != 0 || exec_sql(db, bump, e, sizeof e) != 0 ||
            exec_sql(db, "COMMIT;", e, sizeof e) != 0) {
            snprintf(err, errlen, "catalog migration %d failed: %s", m->version, e);
            exec_sql(db, "ROLLBACK;", e, sizeof e);
            return -1;
        }
        log_info("catalog: applied migration %d", m->version);
    }
    return 0;
}

int cat_schema_version(struct cat *cat)
{
    sqlite3_stmt *st = cat_stmt(cat, "PRAGMA user_version");
    int v = -1;
    if (!st) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return v;
}

static int installation_init(struct cat *cat)
{
    int64_t ids[2];
    sqlite3_stmt *st;
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
        sqlite3_bind_text(st, 1, i == 0 ? "cluster_id" : "incarnation_id", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v, -1, SQLITE_TRANSIENT);
        rc = cat_exec_done(cat, st);
    }
    return rc;
}

int cat_open(const char *path, struct cat **out, char *err, size_t errlen)
{
    struct cat *cat = calloc(1, sizeof *cat);
    if (!cat) return -1;
    cat->path = strdup(path);
    pthread_mutex_init(&cat->lock, NULL);
    if (!cat->path || pthread_key_create(&cat->key, conn_destructor) != 0) {
        free(cat->path);
        free(cat);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!cat_db(cat)) {
        snprintf(err, errlen, "cannot open catalog %s", path);
        cat_close(cat);
        return -1;
    }
    if (migrate(cat, err, errlen) != 0 || installation_init(cat) != 0) {
        if (!*err) snprintf(err, errlen, "cannot initialise catalog %s", path);
        cat_close(cat);
        return -1;
    }
    *out = cat;
    return 0;
}

void cat_close(struct cat *cat)
{
    if (!cat) return;
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
    sqlite3_stmt *st = cat_stmt(cat, "SELECT key, value FROM installation");
    int found = 0;
    if (!st) return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        long long v = strtoll((const char *)sqlite3_column_text(st, 1), NULL, 10);
        if (strcmp(k, "cluster_id") == 0) { *cluster_id = v; found |= 1; }
        if (strcmp(k, "incarnation_id") == 0) { *incarnation_id = v; found |= 2; }
    }
    sqlite3_reset(st);
    return found == 3 ? 0 : -1;
}

int cat_next_seq(struct cat *cat, const char *name, int64_t *out)
{
    sqlite3_stmt *st = cat_stmt(cat,
        "INSERT INTO sequences(name, next) VALUES (?1, 2) "
        "ON CONFLICT(name) DO UPDATE SET next = next + 1 RETURNING next - 1");
    int rc;
    if (!st) return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) return cat_sql_error(cat, rc, "next_seq");
    return 0;
}

int cat_begin(struct cat *cat)
{
    sqlite3_stmt *st = cat_stmt(cat, "BEGIN IMMEDIATE");
    return st ? cat_exec_done(cat, st) : -1;
}

int cat_commit(struct cat *cat)
{
    sqlite3_stmt *st = cat_stmt(cat, "COMMIT");
    return st ? cat_exec_done(cat, st) : -1;
}

void cat_rollback(struct cat *cat)
{
    int last = tl_last_err; /* the rollback must not hide why the transaction failed */
    sqlite3_stmt *st = cat_stmt(cat, "ROLLBACK");
    if (st && !sqlite3_get_autocommit(cat_db(cat))) cat_exec_done(cat, st);
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
