/* sqldb_sqlite.c: the SQLite driver behind the statement seam (sqldb.h). A thin wrapper: each call
 * is the matching sqlite3_* call on the wrapped handle, result codes pass through unchanged (the
 * seam's codes are SQLite's primary codes). The connection runs in WAL mode with synchronous=FULL,
 * foreign keys on and a 10 s busy wait; statements are prepared persistent. The schema version is
 * PRAGMA user_version.
 *
 * The busy wait (lite_busy) polls every millisecond, not with sqlite3_busy_timeout's backoff (up to
 * 100 ms between tries): a long writer that commits in short batches and leaves a gap of a few
 * milliseconds between them (the search indexer) then lets a waiting API write in at the next gap,
 * where with the backoff the waiter slept through every gap and waited for the whole indexing (a
 * POST of 7 s behind an indexer of 10 s was measured). */
#include "catalog/sqldb.h"
#include "util/time.h"
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

_Static_assert(SQLDB_ROW == SQLITE_ROW && SQLDB_DONE == SQLITE_DONE && SQLDB_FULL == SQLITE_FULL &&
               SQLDB_CONSTRAINT == SQLITE_CONSTRAINT && SQLDB_NOMEM == SQLITE_NOMEM && SQLDB_OK == SQLITE_OK &&
               SQLDB_NULL == SQLITE_NULL && SQLDB_INTEGER == SQLITE_INTEGER && SQLDB_TEXT == SQLITE_TEXT &&
               SQLDB_BLOB == SQLITE_BLOB && SQLDB_FLOAT == SQLITE_FLOAT,
               "the seam's codes are SQLite's");

struct lite_conn { struct sqldb_conn base; sqlite3 *db; };
struct lite_stmt { struct sqldb_stmt base; sqlite3_stmt *st; };

#define LC(c) ((struct lite_conn *)(c))
#define LS(s) (((struct lite_stmt *)(s))->st)
#define LIFE(l) ((l) == SQLDB_STATIC ? SQLITE_STATIC : SQLITE_TRANSIENT)

static const struct sqldb_ops lite_ops;

static sqldb_stmt *lite_prepare(sqldb_conn *c, const char *sql)
{
    struct lite_stmt *s = malloc(sizeof *s);
    if (!s) return NULL;
    s->base.ops = &lite_ops;
    if (sqlite3_prepare_v3(LC(c)->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL) != SQLITE_OK) {
        free(s);
        return NULL;
    }
    return &s->base;
}

static void lite_finalize(sqldb_stmt *st)
{
    sqlite3_finalize(LS(st));
    free(st);
}

static int lite_bind_text(sqldb_stmt *st, int i, const char *s, int n, enum sqldb_lifetime l)
{ return sqlite3_bind_text(LS(st), i, s, n, LIFE(l)); }
static int lite_bind_blob(sqldb_stmt *st, int i, const void *p, int n, enum sqldb_lifetime l)
{ return sqlite3_bind_blob(LS(st), i, p, n, LIFE(l)); }
static int lite_bind_int64(sqldb_stmt *st, int i, int64_t v) { return sqlite3_bind_int64(LS(st), i, v); }
static int lite_bind_double(sqldb_stmt *st, int i, double v) { return sqlite3_bind_double(LS(st), i, v); }
static int lite_bind_null(sqldb_stmt *st, int i) { return sqlite3_bind_null(LS(st), i); }
static int lite_step(sqldb_stmt *st) { return sqlite3_step(LS(st)); }
static int lite_reset(sqldb_stmt *st) { return sqlite3_reset(LS(st)); }
static int lite_clear_bindings(sqldb_stmt *st) { return sqlite3_clear_bindings(LS(st)); }
static int lite_column_type(sqldb_stmt *st, int i) { return sqlite3_column_type(LS(st), i); }
static int64_t lite_column_int64(sqldb_stmt *st, int i) { return sqlite3_column_int64(LS(st), i); }
static double lite_column_double(sqldb_stmt *st, int i) { return sqlite3_column_double(LS(st), i); }
static const unsigned char *lite_column_text(sqldb_stmt *st, int i) { return sqlite3_column_text(LS(st), i); }
static const void *lite_column_blob(sqldb_stmt *st, int i) { return sqlite3_column_blob(LS(st), i); }
static int lite_column_bytes(sqldb_stmt *st, int i) { return sqlite3_column_bytes(LS(st), i); }
static int64_t lite_changes(sqldb_conn *c) { return sqlite3_changes(LC(c)->db); }

static int lite_exec(sqldb_conn *c, const char *sql)
{
    return sqlite3_exec(LC(c)->db, sql, NULL, NULL, NULL);
}

static const char *lite_errmsg(sqldb_conn *c) { return sqlite3_errmsg(LC(c)->db); }

static int lite_disk_full(sqldb_conn *c, int rc)
{
    int code = sqlite3_extended_errcode(LC(c)->db), sys = sqlite3_system_errno(LC(c)->db);
    if (rc != 0 && rc != SQLITE_DONE && rc != SQLITE_ROW) code = rc;
    return (code & 0xff) == SQLITE_FULL || ((code & 0xff) == SQLITE_IOERR && sys == ENOSPC);
}

static int lite_in_transaction(sqldb_conn *c) { return !sqlite3_get_autocommit(LC(c)->db); }
static int lite_broken(sqldb_conn *c) { return 0; }
#define LITE_BUSY_USECS (10LL * 1000 * 1000)

/* lite_busy: SQLite's busy handler: try again after 1 ms (10 ms after the first second) until
 * LITE_BUSY_USECS have passed since this wait's first try (tries == 0), then give up (SQLITE_BUSY). */
static int lite_busy(void *ud, int tries)
{
    static _Thread_local int64_t start;
    struct timespec pause = { 0, 1000 * 1000 };
    int64_t now = util_time_mono();
    (void)ud;
    if (tries == 0) start = now;
    if (now - start >= LITE_BUSY_USECS) return 0;
    if (now - start > 1000 * 1000) pause.tv_nsec = 10 * 1000 * 1000;
    nanosleep(&pause, NULL);
    return 1;
}

static int lite_begin(sqldb_conn *c) { return sqlite3_exec(LC(c)->db, "BEGIN IMMEDIATE", NULL, NULL, NULL); }

static int lite_get_version(sqldb_conn *c)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(LC(c)->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int lite_set_version(sqldb_conn *c, int version)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", version);
    return sqlite3_exec(LC(c)->db, sql, NULL, NULL, NULL);
}

static void lite_close(sqldb_conn *c)
{
    sqlite3_close(LC(c)->db);
    free(c);
}

static const struct sqldb_ops lite_ops = {
    SQLDB_SQLITE, lite_prepare, lite_finalize, lite_bind_text, lite_bind_blob, lite_bind_int64,
    lite_bind_double, lite_bind_null, lite_step, lite_reset, lite_clear_bindings, lite_column_type,
    lite_column_int64, lite_column_double, lite_column_text, lite_column_blob, lite_column_bytes, lite_changes,
    lite_exec, lite_errmsg, lite_disk_full, lite_in_transaction, lite_broken, lite_begin, lite_get_version, lite_set_version,
    lite_close,
};

sqldb_conn *sqldb_sqlite_open(const char *path, char *err, size_t errlen)
{
    static const char *pragmas =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=FULL;"
        "PRAGMA foreign_keys=ON;"
        "PRAGMA temp_store=MEMORY;"
        "PRAGMA cache_size=-16000;";
    struct lite_conn *c = calloc(1, sizeof *c);
    char *msg = NULL;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->base.ops = &lite_ops;
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "%s", c->db ? sqlite3_errmsg(c->db) : "out of memory");
        lite_close(&c->base);
        return NULL;
    }
    sqlite3_busy_handler(c->db, lite_busy, NULL);
    if (sqlite3_exec(c->db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "catalog setup failed: %s", msg ? msg : "?");
        sqlite3_free(msg);
        lite_close(&c->base);
        return NULL;
    }
    return &c->base;
}
