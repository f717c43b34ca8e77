/* test_audit.c: the audit trail below the API (src/svc/audit.c, src/catalog/audit.c):
 *   - svc_audit_record writes the catalog row and then one JSON line to DIR/audit.log (0600, a file
 *     that was 0644 is set to 0600 by svc_audit_configure); the line and the row agree;
 *   - a file that cannot be written (its directory gone) is logged and the record still succeeds;
 *   - the sweep is bounded: 12 345 entries older than the retention are removed 10 000 by one sweep
 *     and the rest by the next; entries inside the retention stay; the sweep that svc_audit_record
 *     runs when due does the same from the recording path;
 *   - list: newest first, filters, the cursor, and a limit clamped to 1001;
 *   - the catalog refuses UPDATE and a DELETE younger than the horizon from any connection. */
#include "check.h"
#include "catalog/cat_audit.h"
#include "svc/audit.h"
#include "util/fsio.h"
#include "util/time.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY (86400LL * 1000000)

static struct cat *cat;
static char *dir;
static char path[512], logpath[600];

static long long count_rows(const char *where)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char sql[256];
    long long n = -1;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log WHERE %s", where);
    if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* bulk_old: n entries at time when, in one transaction of another connection. */
static int bulk_old(int n, long long when, long long first_seq)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(db, "INSERT INTO audit_log(seq, time_usecs, request_id, actor, tenant, roles, method,"
                                    " status) VALUES (?1, ?2, 'r', 'api', 't', 'Admin', 'POST', 201)", -1, &st,
                                NULL) == SQLITE_OK;
    for (int i = 0; ok && i < n; i++) {
        sqlite3_bind_int64(st, 1, first_seq + i);
        sqlite3_bind_int64(st, 2, when + i);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    ok = ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    return ok ? 0 : -1;
}

TEST(setup)
{
    char err[256];
    int fd;
    struct stat sb;
    dir = check_tmpdir("audit");
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    snprintf(logpath, sizeof logpath, "%s/audit.log", dir);
    CHECK(cat_open(path, &cat, err, sizeof err) == 0);
    fd = open(logpath, O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0);
    close(fd);
    CHECK(chmod(logpath, 0644) == 0);
    CHECK(svc_audit_configure(dir, 0) == -EINVAL);
    CHECK(svc_audit_configure(dir, SVC_AUDIT_MAX_RETENTION_DAYS + 1) == -EINVAL);
    CHECK(svc_audit_configure(dir, 30) == 0);
    CHECK(stat(logpath, &sb) == 0 && (sb.st_mode & 0777) == 0600);
}

struct got { int n; long long seq[8]; char method[8][16]; };

static int collect(void *ud, const struct cat_audit_entry *e)
{
    struct got *g = ud;
    if (g->n < 8) {
        g->seq[g->n] = e->seq;
        snprintf(g->method[g->n], sizeof g->method[0], "%s", e->method);
    }
    g->n++;
    return 0;
}

TEST(record_writes_row_then_line)
{
    struct svc_audit_event ev = { .actor = "api", .key_id = "k1", .tenant = "t", .roles = "Admin", .client = "::1",
                                  .method = "POST", .route = "/v2/x/{id}", .path = "/v2/x/7", .resource_id = "7",
                                  .status = 201, .detail = "{\"runs\":[{\"run\":\"1:2\",\"ok\":true}]}" };
    struct cat_audit_filter f = { .key_id = "k1", .limit = 10 };
    struct got g = { 0 };
    char *data = NULL;
    size_t len = 0;
    json_t *line;
    void *raw = NULL;
    CHECK(svc_audit_record(cat, &ev) == 0);
    CHECK(cat_audit_list(cat, &f, collect, &g) == 0);
    CHECK(g.n == 1 && strcmp(g.method[0], "POST") == 0);
    CHECK(fsio_read_all(logpath, 1 << 20, &raw, &len) == 0);
    data = raw;
    CHECK(len > 0 && data[len - 1] == '\n' && memchr(data, '\n', len) == data + len - 1);
    line = json_loadb(data, len, 0, NULL);
    free(data);
    CHECK(line != NULL);
    CHECK(json_integer_value(json_object_get(line, "seq")) == g.seq[0]);
    CHECK(strcmp(json_string_value(json_object_get(line, "key_id")), "k1") == 0);
    CHECK(strcmp(json_string_value(json_object_get(line, "route")), "/v2/x/{id}") == 0);
    CHECK(json_is_true(json_object_get(json_array_get(json_object_get(json_object_get(line, "detail"), "runs"), 0), "ok")));
    CHECK(strlen(json_string_value(json_object_get(line, "request_id"))) > 10);
    json_decref(line);
}

TEST(file_failure_does_not_fail_the_record)
{
    char gone[700];
    struct svc_audit_event ev = { .actor = "api", .key_id = "k2", .method = "DELETE", .status = 204 };
    struct cat_audit_filter f = { .key_id = "k2", .limit = 10 };
    struct got g = { 0 };
    snprintf(gone, sizeof gone, "%s/no-such-dir", dir);
    CHECK(svc_audit_configure(gone, 30) == 0);
    CHECK(svc_audit_record(cat, &ev) == 0);
    CHECK(cat_audit_list(cat, &f, collect, &g) == 0 && g.n == 1);
    CHECK(access(gone, F_OK) != 0);
    CHECK(svc_audit_configure(dir, 30) == 0);
}

TEST(sweep_is_bounded)
{
    long long now = util_time_now();
    long long old = now - 31 * DAY, young = now - 29 * DAY;
    CHECK(bulk_old(12345, old, 1000000) == 0);
    CHECK(bulk_old(5, young, 2000000) == 0);
    CHECK(count_rows("seq >= 1000000 AND seq < 2000000") == 12345);
    CHECK(svc_audit_sweep(cat, now) == 10000);
    CHECK(count_rows("seq >= 1000000 AND seq < 2000000") == 2345);
    CHECK(svc_audit_sweep(cat, now) == 2345);
    CHECK(svc_audit_sweep(cat, now) == 0);
    CHECK(count_rows("seq >= 2000000") == 5);
    CHECK(count_rows("seq < 1000000") == 2); /* the two recorded above */
}

TEST(record_sweeps_when_due)
{
    long long now = util_time_now();
    struct svc_audit_event ev = { .actor = "api", .key_id = "k3", .method = "PUT", .status = 200 };
    CHECK(bulk_old(10500, now - 40 * DAY, 3000000) == 0);
    CHECK(svc_audit_configure(dir, 30) == 0); /* the next record's sweep is due at once */
    CHECK(svc_audit_record(cat, &ev) == 0);   /* removes 10 000 and leaves the next one due */
    CHECK(count_rows("seq >= 3000000") == 500);
    CHECK(svc_audit_record(cat, &ev) == 0);
    CHECK(count_rows("seq >= 3000000") == 0);
    CHECK(svc_audit_record(cat, &ev) == 0);   /* not due again for an hour */
    CHECK(count_rows("key_id = 'k3'") == 3);
}

TEST(list_order_filters_cursor)
{
    struct cat_audit_filter f = { .method = "PUT", .limit = 2 };
    struct got g = { 0 }, g2 = { 0 };
    CHECK(cat_audit_list(cat, &f, collect, &g) == 0);
    CHECK(g.n == 2 && g.seq[0] > g.seq[1]);
    f.before_seq = g.seq[1];
    CHECK(cat_audit_list(cat, &f, collect, &g2) == 0);
    CHECK(g2.n == 1 && g2.seq[0] < g.seq[1]);
    memset(&g, 0, sizeof g);
    f = (struct cat_audit_filter){ .tenant = "t", .status = 201, .route = "/v2/x/{id}", .resource_id = "7", .limit = 5000 };
    CHECK(cat_audit_list(cat, &f, collect, &g) == 0 && g.n == 1);
    memset(&g, 0, sizeof g);
    CHECK(bulk_old(1100, util_time_now() - DAY, 4000000) == 0);
    f = (struct cat_audit_filter){ .limit = 5000 }; /* clamped */
    CHECK(cat_audit_list(cat, &f, collect, &g) == 0 && g.n == 1001);
}

TEST(catalog_refuses_changes)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE audit_log SET key_id = 'someone' WHERE key_id = 'k1'", NULL, NULL, NULL) != SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM audit_log WHERE key_id = 'k1'", NULL, NULL, NULL) != SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM audit_horizon", NULL, NULL, NULL) != SQLITE_OK);
    sqlite3_close(db);
    CHECK(count_rows("key_id = 'k1'") == 1);
}

int main(void)
{
    RUN(setup);
    RUN(record_writes_row_then_line);
    RUN(file_failure_does_not_fail_the_record);
    RUN(sweep_is_bounded);
    RUN(record_sweeps_when_due);
    RUN(list_order_filters_cursor);
    RUN(catalog_refuses_changes);
    cat_close(cat);
    check_rm_rf(dir);
    free(dir);
    return check_finish();
}
