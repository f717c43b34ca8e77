/* e2e_pg_recover.c: PostgreSQL recoveries through the data-protect API (POST /recoveries with
 * mssqlParams) against the real daemon and a real PostgreSQL 15 started here (ports 55350-55399).
 *
 * The server (databases shop and crm) is registered (kSQL), protected by a group over its instance;
 * kFull, changes recorded at two moments (count:md5 of every table and the server's time), kLog.
 * Then: RecoverApps of shop under a new name at the first moment (point in time: every table equals
 * what it was then, shop itself keeps its later state, the recovery shows Succeeded, bytesRestored
 * and the per-object result); CloneApps of shop into the registration under another name (the
 * backup's state) and a CloneApps onto the source itself refused; the whole instance to a new data
 * directory and port (running, every table as at the backup); FailIfExists onto an existing database
 * refused with 409 and nothing queued, bad bodies 400/404 naming the field; a cancel of a running
 * restore ends it Canceled with nothing left on the target; last, the whole instance over the
 * registered server (Overwrite): stopped, moved aside, the backup's state back and running. */
#include "check.h"
#include "harness.h"
#include "pgsource.h"
#include "pgtest.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T "t-pgrec"
#define PORT_SRC 55350
#define PORT_NEW 55351
#define REC "/v2/data-protect/recoveries"

static const char *const TESTS[] = { "pg_recover_database_new_name_point_in_time", "pg_clone_database",
                                     "pg_recover_instance_new_directory_and_port", "pg_recover_refusals",
                                     "pg_recover_cancel", "pg_recover_instance_over_original" };

#define N_TABLES 3
static const char *const T_DB[N_TABLES] = { "shop", "shop", "crm" };
static const char *const T_NAME[N_TABLES] = { "public.items", "public.orders", "public.contacts" };

struct moment {
    int64_t usecs;
    char sum[N_TABLES][128];
};

static struct {
    struct pgsource src;
    struct daemon d;
    int daemon_up;
    char policy[64], group[64];
    long long shop_id, crm_id;
    char full_snap[80], log_snap[80];
    struct moment m0, m1, m2;   /* at kFull, after batch 1, after batch 2 */
    char inst_name[200];
    char done_id[80];           /* a Succeeded recovery */
} fx;

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static long call(const char *method, const char *path, const char *body, struct http_resp *r)
{
    if (http(&fx.d, method, path, T, body, r) != 0) {
        memset(r, 0, sizeof *r);
        return -1;
    }
    return r->status;
}

static int msg_has(struct http_resp *r, const char *part)
{
    const char *m = jstr(r->json, "message");
    return m && strstr(m, part);
}

static int sum_of(const struct pgtest *p, const char *db, const char *table, char *out, size_t n)
{
    char sql[400];
    PGconn *c = pgtest_connect(p, db);
    snprintf(sql, sizeof sql, "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '-')"
             " FROM %s t", table);
    int rc = c ? pgtest_value(c, sql, out, n) : -1;
    PQfinish(c);
    return rc;
}

static int value_of(const struct pgtest *p, const char *db, const char *sql, char *out, size_t n)
{
    PGconn *c = pgtest_connect(p, db);
    int rc = c ? pgtest_value(c, sql, out, n) : -1;
    PQfinish(c);
    return rc;
}

/* record: the server's time and every table's sum, with a pause on both sides (a commit comes
 * strictly after the moment). */
static int record(struct moment *m)
{
    char v[64];
    sleep_ms(200);
    if (value_of(&fx.src.pg, "postgres", "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint", v, sizeof v))
        return -1;
    m->usecs = strtoll(v, NULL, 10);
    for (int i = 0; i < N_TABLES; i++)
        if (sum_of(&fx.src.pg, T_DB[i], T_NAME[i], m->sum[i], sizeof m->sum[i]) != 0) return -1;
    sleep_ms(200);
    return 0;
}

static int exec_in(const char *db, const char *sql, char *why, size_t n)
{
    PGconn *c = pgtest_connect(&fx.src.pg, db);
    int rc = c ? pgtest_exec(c, sql, why, n) : -1;
    PQfinish(c);
    return rc;
}

static int finished(const char *s)
{
    return s && strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0 && strcmp(s, "Canceling") != 0;
}

/* run: a run of the group to its end; its first object's snapshot id into snap. 1 when Succeeded. */
static int run(const char *type, char *snap, size_t n)
{
    struct http_resp r;
    char path[300], id[80];
    snprintf(path, sizeof path, "/v2/data-protect/protection-groups/%s/runs", fx.group);
    if (call("POST", path, jfmt("{'runType':'%s'}", type), &r) != 202) {
        fprintf(stderr, "run %s: %ld %s\n", type, r.status, r.body ? r.body : "");
        http_resp_release(&r);
        return 0;
    }
    snprintf(id, sizeof id, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/protection-groups/%s/runs/%s?includeObjectDetails=true", fx.group, id);
    for (int i = 0; i < 2400; i++) {
        if (call("GET", path, NULL, &r) == 200 && finished(jstr(r.json, "localBackupInfo.status"))) {
            int ok = strcmp(jstr(r.json, "localBackupInfo.status"), "Succeeded") == 0;
            const char *s = jstr(r.json, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId");
            snprintf(snap, n, "%s", s ? s : "");
            if (!ok) fprintf(stderr, "run %s: %s\n", type, r.body);
            http_resp_release(&r);
            return ok && snap[0];
        }
        http_resp_release(&r);
        sleep_ms(100);
    }
    return 0;
}

/* recover: POST /recoveries; the HTTP status, the id into id (when 201). */
static long recover(const char *body, char *id, size_t n, struct http_resp *out)
{
    struct http_resp r;
    long st = call("POST", REC, body, &r);
    if (id) snprintf(id, n, "%s", st == 201 && jstr(r.json, "id") ? jstr(r.json, "id") : "");
    if (out) *out = r;
    else http_resp_release(&r);
    return st;
}

/* wait_recovery: the Recovery once finished (caller decrefs), or NULL after timeout_s. */
static json_t *wait_recovery(const char *id, int timeout_s)
{
    char path[200];
    snprintf(path, sizeof path, REC "/%s", id);
    for (int i = 0; i < timeout_s * 10; i++) {
        struct http_resp r;
        json_t *j = NULL;
        if (call("GET", path, NULL, &r) == 200 && finished(jstr(r.json, "status"))) j = json_incref(r.json);
        http_resp_release(&r);
        if (j) return j;
        sleep_ms(100);
    }
    return NULL;
}

static int recovery_count(void)
{
    struct http_resp r;
    int n = -1;
    if (call("GET", REC, NULL, &r) == 200) n = (int)json_array_size(jget(r.json, "recoveries"));
    http_resp_release(&r);
    return n;
}

/* A RecoverApps / CloneApps body of one recoverAppParams. */
static const char *body_of(const char *action, const char *snap, long long object_id, long long point,
                           const char *target)
{
    char oi[64] = "";
    if (object_id) snprintf(oi, sizeof oi, "'objectInfo':{'id':%lld},", object_id);
    return jfmt("{'name':'pg-restore','snapshotEnvironment':'kSQL','mssqlParams':{'recoveryAction':'%s',"
                "'recoverAppParams':[{'snapshotId':'%s',%s'pointInTimeUsecs':%lld,'targetEnvironment':'kSQL',"
                "'sqlTargetParams':%s}]}}",
                action, snap, oi, point, target);
}

TEST(pg_recover_database_new_name_point_in_time)
{
    char id[80], v[128];
    CHECK(fx.full_snap[0] && fx.log_snap[0]);
    long st = recover(body_of("RecoverApps", fx.full_snap, fx.shop_id, fx.m1.usecs,
                              "{'recoverToNewSource':false,'originalSourceConfig':{'newDatabaseName':'shop_t1',"
                              "'overwritingPolicy':'FailIfExists'}}"), id, sizeof id, NULL);
    CHECK_EQ_INT(st, 201);
    json_t *j = wait_recovery(id, 300);
    CHECK(j != NULL);
    snprintf(fx.done_id, sizeof fx.done_id, "%s", id);
    const char *status = jstr(j, "status");
    int ok = status && strcmp(status, "Succeeded") == 0;
    long long bytes = jint(j, "mssqlParams.recoverAppParams.0.bytesRestored");
    const char *ostat = jstr(j, "cofferObjects.0.status"), *opath = jstr(j, "cofferObjects.0.path");
    int shape = ostat && strcmp(ostat, "Succeeded") == 0 && opath && strcmp(opath, "shop_t1") == 0 &&
                jint(j, "mssqlParams.recoverAppParams.0.endTimeUsecs") > 0 &&
                strcmp(jstr(j, "recoveryAction") ? jstr(j, "recoveryAction") : "", "RecoverApps") == 0 &&
                strcmp(jstr(j, "mssqlParams.recoverAppParams.0.status") ? jstr(j, "mssqlParams.recoverAppParams.0.status") : "",
                       "Succeeded") == 0;
    if (!ok || !shape) fprintf(stderr, "recovery: %s\n", json_dumps(j, JSON_COMPACT));
    json_decref(j);
    CHECKF(ok, "status %s", status ? status : "?");
    CHECK(shape);
    CHECKF(bytes > 100000, "bytesRestored %lld", bytes);
    for (int i = 0; i < 2; i++) {
        CHECK(sum_of(&fx.src.pg, "shop_t1", T_NAME[i], v, sizeof v) == 0);
        CHECKF(strcmp(v, fx.m1.sum[i]) == 0, "%s restored %s, at the moment %s (m0 %s, m2 %s)", T_NAME[i], v,
               fx.m1.sum[i], fx.m0.sum[i], fx.m2.sum[i]);
        CHECK(sum_of(&fx.src.pg, "shop", T_NAME[i], v, sizeof v) == 0);
        CHECKF(strcmp(v, fx.m2.sum[i]) == 0, "the source %s changed", T_NAME[i]);
    }
    /* listed, and filtered by environment */
    struct http_resp r;
    CHECK(call("GET", REC "?snapshotEnvironments=kSQL", NULL, &r) == 200);
    int listed = 0;
    size_t k;
    json_t *e;
    json_array_foreach(jget(r.json, "recoveries"), k, e) listed |= strcmp(jstr(e, "id"), id) == 0 &&
                                                                     jstr(e, "mssqlParams.recoverAppParams.0.status") != NULL;
    http_resp_release(&r);
    CHECK(listed);
}

TEST(pg_clone_database)
{
    char id[80], v[128], target[400];
    CHECK(fx.full_snap[0]);
    /* into the registration (its instance named), under another name: the base backup's own point */
    snprintf(target, sizeof target, "{'recoverToNewSource':true,'newSourceConfig':{'host':{'id':%lld},"
             "'instanceName':'%s','dataFileDirectoryLocation':'/unused','logFileDirectoryLocation':'/unused',"
             "'databaseName':'shop_clone'}}", fx.src.source_id, fx.inst_name);
    CHECK_EQ_INT(recover(body_of("CloneApps", fx.full_snap, fx.shop_id, 0, target), id, sizeof id, NULL), 201);
    json_t *j = wait_recovery(id, 300);
    CHECK(j != NULL);
    int ok = strcmp(jstr(j, "status"), "Succeeded") == 0 && strcmp(jstr(j, "recoveryAction"), "CloneApps") == 0;
    if (!ok) fprintf(stderr, "recovery: %s\n", json_dumps(j, JSON_COMPACT));
    json_decref(j);
    CHECK(ok);
    for (int i = 0; i < 2; i++) {
        CHECK(sum_of(&fx.src.pg, "shop_clone", T_NAME[i], v, sizeof v) == 0);
        CHECKF(strcmp(v, fx.m0.sum[i]) == 0, "%s cloned %s, at the backup %s", T_NAME[i], v, fx.m0.sum[i]);
    }
    /* a copy onto the source object itself is refused, and so is a copy over the instance */
    int before = recovery_count();
    struct http_resp r;
    CHECK_EQ_INT(recover(body_of("CloneApps", fx.full_snap, fx.shop_id, 0,
                                 "{'recoverToNewSource':false,'originalSourceConfig':{'overwritingPolicy':'Overwrite'}}"),
                         NULL, 0, &r), 400);
    CHECKF(msg_has(&r, "newDatabaseName") && msg_has(&r, "source object itself"), "%s", r.body);
    http_resp_release(&r);
    CHECK_EQ_INT(recover(body_of("CloneApps", fx.full_snap, 0, 0,
                                 "{'recoverToNewSource':false,'originalSourceConfig':{'overwritingPolicy':'Overwrite'}}"),
                         NULL, 0, &r), 400);
    CHECKF(msg_has(&r, "CloneApps"), "%s", r.body);
    http_resp_release(&r);
    CHECK_EQ_INT(recovery_count(), before);
}

TEST(pg_recover_instance_new_directory_and_port)
{
    char id[80], why[512], target[1600];
    struct pgtest dst;
    CHECK(fx.full_snap[0]);
    CHECK(pgtest_root(&dst, "pgrecnew", "newinst", PORT_NEW, why, sizeof why) == 0);
    memcpy(dst.sock, dst.data, sizeof dst.sock);   /* its socket is in its data directory */
    snprintf(target, sizeof target, "{'recoverToNewSource':true,'newSourceConfig':{'host':{'id':%lld},"
             "'instanceName':'port:%d','dataFileDirectoryLocation':'%s','logFileDirectoryLocation':'%s'}}",
             fx.src.source_id, PORT_NEW, dst.data, dst.data);
    long st = recover(body_of("RecoverApps", fx.full_snap, 0, 0, target), id, sizeof id, NULL);
    json_t *j = st == 201 ? wait_recovery(id, 300) : NULL;
    int ok = j && strcmp(jstr(j, "status"), "Succeeded") == 0 && jstr(j, "cofferObjects.0.path") &&
             strcmp(jstr(j, "cofferObjects.0.path"), dst.data) == 0;
    if (j && !ok) fprintf(stderr, "recovery: %s\n", json_dumps(j, JSON_COMPACT));
    json_decref(j);
    dst.running = ok;
    char got[N_TABLES][128] = { "", "", "" }, port[16] = "";
    int read = ok && value_of(&dst, "postgres", "SHOW port", port, sizeof port) == 0;
    for (int i = 0; read && i < N_TABLES; i++) read = sum_of(&dst, T_DB[i], T_NAME[i], got[i], sizeof got[i]) == 0;
    pgtest_destroy(&dst);
    CHECK_EQ_INT(st, 201);
    CHECK(ok);
    CHECK(read);
    CHECKF(atoi(port) == PORT_NEW, "port %s", port);
    for (int i = 0; i < N_TABLES; i++) CHECKF(strcmp(got[i], fx.m0.sum[i]) == 0, "%s: %s != %s", T_NAME[i], got[i], fx.m0.sum[i]);
}

TEST(pg_recover_refusals)
{
    struct http_resp r;
    char big[200];
    CHECK(fx.full_snap[0]);
    int before = recovery_count();
    /* FailIfExists onto an existing database: 409, nothing queued, crm untouched */
    CHECK_EQ_INT(recover(body_of("RecoverApps", fx.full_snap, fx.shop_id, 0,
                                 "{'recoverToNewSource':false,'originalSourceConfig':{'newDatabaseName':'crm'}}"),
                         NULL, 0, &r), 409);
    CHECKF(msg_has(&r, "overwritingPolicy") && msg_has(&r, "crm"), "%s", r.body);
    http_resp_release(&r);
    char v[128];
    CHECK(sum_of(&fx.src.pg, "crm", "public.contacts", v, sizeof v) == 0);
    CHECK(strcmp(v, fx.m2.sum[2]) == 0);
    /* the whole instance over itself without Overwrite */
    CHECK_EQ_INT(recover(body_of("RecoverApps", fx.full_snap, 0, 0, "{'recoverToNewSource':false}"), NULL, 0, &r), 409);
    CHECKF(msg_has(&r, "originalSourceConfig.overwritingPolicy"), "%s", r.body);
    http_resp_release(&r);
    /* unknown snapshot */
    CHECK_EQ_INT(recover(body_of("RecoverApps", "00aa", fx.shop_id, 0, "{'recoverToNewSource':false}"), NULL, 0, &r), 404);
    CHECKF(msg_has(&r, "recoverAppParams[0].snapshotId"), "%s", r.body);
    http_resp_release(&r);
    /* a moment before the backup */
    CHECK_EQ_INT(recover(body_of("RecoverApps", fx.full_snap, fx.shop_id, fx.m0.usecs - 3600LL * 1000000,
                                 "{'recoverToNewSource':false,'originalSourceConfig':{'newDatabaseName':'x1'}}"),
                         NULL, 0, &r), 400);
    CHECKF(msg_has(&r, "pointInTimeUsecs"), "%s", r.body);
    http_resp_release(&r);
    /* missing targetEnvironment, wrong action, bad port, bad directory, a too long name */
    CHECK_EQ_INT(call("POST", REC, jfmt("{'name':'x','snapshotEnvironment':'kSQL','mssqlParams':{'recoveryAction':"
                                        "'RecoverApps','recoverAppParams':[{'snapshotId':'%s','sqlTargetParams':"
                                        "{'recoverToNewSource':false}}]}}", fx.full_snap), &r), 400);
    CHECKF(msg_has(&r, "recoverAppParams[0].targetEnvironment"), "%s", r.body);
    http_resp_release(&r);
    CHECK_EQ_INT(call("POST", REC, "{\"name\":\"x\",\"snapshotEnvironment\":\"kSQL\",\"mssqlParams\":{\"recoveryAction\":"
                                   "\"RecoverVMs\",\"recoverAppParams\":[]}}", &r), 400);
    CHECKF(msg_has(&r, "mssqlParams.recoveryAction"), "%s", r.body);
    http_resp_release(&r);
    char target[600];
    snprintf(target, sizeof target, "{'recoverToNewSource':true,'newSourceConfig':{'host':{'id':%lld},"
             "'instanceName':'main','dataFileDirectoryLocation':'/tmp/x','logFileDirectoryLocation':'/tmp/x'}}",
             fx.src.source_id);
    CHECK_EQ_INT(recover(body_of("RecoverApps", fx.full_snap, 0, 0, target), NULL, 0, &r), 400);
    CHECKF(msg_has(&r, "newSourceConfig.instanceName") && msg_has(&r, "port:"), "%s", r.body);
    http_resp_release(&r);
    snprintf(target, sizeof target, "{'recoverToNewSource':true,'newSourceConfig':{'host':{'id':%lld},"
             "'instanceName':'port:55399','dataFileDirectoryLocation':'/tmp/a b','logFileDirectoryLocation':'/tmp/x'}}",
             fx.src.source_id);
    CHECK_EQ_INT(recover(body_of("RecoverApps", fx.full_snap, 0, 0, target), NULL, 0, &r), 400);
    CHECKF(msg_has(&r, "newSourceConfig.dataFileDirectoryLocation"), "%s", r.body);
    http_resp_release(&r);
    memset(big, 'n', 80);
    big[80] = '\0';
    snprintf(target, sizeof target, "{'recoverToNewSource':false,'originalSourceConfig':{'newDatabaseName':'%s'}}", big);
    CHECK_EQ_INT(recover(body_of("RecoverApps", fx.full_snap, fx.shop_id, 0, target), NULL, 0, &r), 400);
    CHECKF(msg_has(&r, "originalSourceConfig.newDatabaseName"), "%s", r.body);
    http_resp_release(&r);
    /* an object of another instance (the registration's host is not a SQL object of the snapshot) */
    CHECK_EQ_INT(recover(body_of("RecoverApps", fx.full_snap, fx.src.source_id, 0, "{'recoverToNewSource':false}"),
                         NULL, 0, &r) / 100, 4);
    CHECKF(msg_has(&r, "objectInfo.id"), "%s", r.body);
    http_resp_release(&r);
    CHECK_EQ_INT(recovery_count(), before);
}

TEST(pg_recover_cancel)
{
    char id[80], v[64], path[200];
    struct http_resp r;
    CHECK(fx.full_snap[0]);
    CHECK_EQ_INT(recover(body_of("RecoverApps", fx.full_snap, fx.shop_id, 0,
                                 "{'recoverToNewSource':false,'originalSourceConfig':{'newDatabaseName':'shop_cancel'}}"),
                         id, sizeof id, NULL), 201);
    /* the daemon holds each recovery 1.5 s before it starts (COFFER_TEST_RECOVERY_DELAY_MS): cancel it running */
    snprintf(path, sizeof path, REC "/%s", id);
    int running = 0;
    for (int i = 0; i < 100 && !running; i++) {
        if (call("GET", path, NULL, &r) == 200) running = strcmp(jstr(r.json, "status"), "Running") == 0;
        http_resp_release(&r);
        if (!running) sleep_ms(50);
    }
    CHECK(running);
    snprintf(path, sizeof path, REC "/%s/cancel", id);
    CHECK_EQ_INT(call("POST", path, NULL, &r), 200);
    http_resp_release(&r);
    json_t *j = wait_recovery(id, 120);
    CHECK(j != NULL);
    int canceled = strcmp(jstr(j, "status"), "Canceled") == 0;
    if (!canceled) fprintf(stderr, "recovery: %s\n", json_dumps(j, JSON_COMPACT));
    json_decref(j);
    CHECK(canceled);
    CHECK(value_of(&fx.src.pg, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop_cancel' OR datname"
                                           " LIKE 'coffer_restore%'", v, sizeof v) == 0);
    CHECKF(strcmp(v, "0") == 0, "%s databases left", v);
    /* a recovery that ended otherwise cannot be canceled */
    CHECK(fx.done_id[0]);
    snprintf(path, sizeof path, REC "/%s/cancel", fx.done_id);
    long st = call("POST", path, NULL, &r);
    http_resp_release(&r);
    CHECK_EQ_INT(st, 409);
}

TEST(pg_recover_instance_over_original)
{
    char id[80], v[128];
    CHECK(fx.full_snap[0]);
    /* the registered server is stopped, its directory moved aside, the backup restored in its place */
    long st = recover(body_of("RecoverApps", fx.full_snap, 0, 0,
                              "{'recoverToNewSource':false,'originalSourceConfig':{'overwritingPolicy':'Overwrite'}}"),
                      id, sizeof id, NULL);
    CHECK_EQ_INT(st, 201);
    json_t *j = wait_recovery(id, 300);
    CHECK(j != NULL);
    int ok = strcmp(jstr(j, "status"), "Succeeded") == 0 && jstr(j, "cofferObjects.0.message") &&
             strstr(jstr(j, "cofferObjects.0.message"), ".coffer-replaced-") != NULL;
    if (!ok) fprintf(stderr, "recovery: %s\n", json_dumps(j, JSON_COMPACT));
    json_decref(j);
    CHECK(ok);
    for (int i = 0; i < N_TABLES; i++) {
        CHECK(sum_of(&fx.src.pg, T_DB[i], T_NAME[i], v, sizeof v) == 0);
        CHECKF(strcmp(v, fx.m0.sum[i]) == 0, "%s after the restore over the original: %s, at the backup %s", T_NAME[i], v,
               fx.m0.sum[i]);
    }
    CHECK(value_of(&fx.src.pg, "postgres", "SELECT count(*) FROM pg_database WHERE datname IN ('shop_t1', 'shop_clone')",
                   v, sizeof v) == 0);
    CHECKF(strcmp(v, "0") == 0, "databases made after the backup are still there (%s)", v);
}

/* ---------- set-up ---------- */

static int setup(char *why, size_t n)
{
    struct http_resp r;
    char path[200];
    if (exec_in("postgres", "CREATE DATABASE crm", why, n) != 0 ||
        exec_in("shop", "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric);"
                        "CREATE INDEX items_name_idx ON items (name);"
                        "INSERT INTO items (name, price) SELECT 'item ' || g, g FROM generate_series(1, 20000) g;"
                        "CREATE TABLE orders (id int PRIMARY KEY, item int, qty int);"
                        "INSERT INTO orders SELECT g, g % 20000, g % 5 FROM generate_series(1, 30000) g;", why, n) != 0 ||
        exec_in("crm", "CREATE TABLE contacts (id int PRIMARY KEY, email text);"
                       "INSERT INTO contacts SELECT g, 'c' || g FROM generate_series(1, 3000) g;", why, n) != 0 ||
        exec_in("shop", "VACUUM (FREEZE, ANALYZE)", why, n) != 0 || exec_in("postgres", "CHECKPOINT", why, n) != 0)
        return -1;
    /* the objects: refresh the registration so crm and the tables are known */
    snprintf(path, sizeof path, "/v2/data-protect/sources/%lld/refresh", fx.src.source_id);
    if (call("POST", path, NULL, &r) / 100 != 2) {
        snprintf(why, n, "refresh: %ld %s", r.status, r.body ? r.body : "");
        http_resp_release(&r);
        return -1;
    }
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/sources/registrations/%lld", fx.src.source_id);
    if (call("GET", path, NULL, &r) != 200) { http_resp_release(&r); snprintf(why, n, "GET registration"); return -1; }
    fx.shop_id = pgsource_find(r.json, "kDatabase", "shop");
    fx.crm_id = pgsource_find(r.json, "kDatabase", "crm");
    http_resp_release(&r);
    /* the instance's name, as the target's instanceName */
    snprintf(path, sizeof path, "/v2/data-protect/search/objects?objectIds=%lld", fx.src.instance_id);
    if (call("GET", path, NULL, &r) == 200) {
        const char *nm = jstr(r.json, "objects.0.name");
        snprintf(fx.inst_name, sizeof fx.inst_name, "%s", nm ? nm : "");
    }
    http_resp_release(&r);
    if (!fx.shop_id || !fx.crm_id || !fx.inst_name[0]) {
        snprintf(why, n, "objects: shop %lld crm %lld instance '%s'", fx.shop_id, fx.crm_id, fx.inst_name);
        return -1;
    }
    if (call("POST", "/v2/data-protect/policies",
             "{\"name\":\"pg-daily\",\"backupPolicy\":{\"regular\":{\"incremental\":{\"schedule\":{\"unit\":\"Days\","
             "\"daySchedule\":{\"frequency\":1}}},\"retention\":{\"unit\":\"Days\",\"duration\":7}},\"log\":{"
             "\"schedule\":{\"unit\":\"Hours\",\"hourSchedule\":{\"frequency\":24}},\"retention\":{\"unit\":\"Days\","
             "\"duration\":7}}}}", &r) != 201) {
        snprintf(why, n, "policy: %ld %s", r.status, r.body ? r.body : "");
        http_resp_release(&r);
        return -1;
    }
    snprintf(fx.policy, sizeof fx.policy, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    if (call("POST", "/v2/data-protect/protection-groups",
             jfmt("{'name':'pg','policyId':'%s','environment':'kSQL','mssqlParams':{'protectionType':'kNative',"
                  "'nativeProtectionTypeParams':{'objects':[{'id':%lld}]}}}", fx.policy, fx.src.instance_id), &r) != 201) {
        snprintf(why, n, "group: %ld %s", r.status, r.body ? r.body : "");
        http_resp_release(&r);
        return -1;
    }
    snprintf(fx.group, sizeof fx.group, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    sleep_ms(2500);   /* the racily-clean margin, as in e2e_pg_runs */
    if (record(&fx.m0) != 0) { snprintf(why, n, "record m0"); return -1; }
    if (!run("kFull", fx.full_snap, sizeof fx.full_snap)) { snprintf(why, n, "kFull failed"); return -1; }
    if (exec_in("shop", "UPDATE items SET price = price + 1 WHERE id <= 500; INSERT INTO orders SELECT g, 1, 1 FROM"
                        " generate_series(30001, 31000) g", why, n) != 0 || record(&fx.m1) != 0)
        return -1;
    if (exec_in("shop", "DELETE FROM orders WHERE id > 29000; UPDATE items SET name = name || '!' WHERE id % 3 = 0",
                why, n) != 0 ||
        exec_in("crm", "INSERT INTO contacts VALUES (100000, 'late')", why, n) != 0 || record(&fx.m2) != 0)
        return -1;
    if (!run("kLog", fx.log_snap, sizeof fx.log_snap)) { snprintf(why, n, "kLog failed"); return -1; }
    for (int i = 0; i < 2; i++)
        if (strcmp(fx.m0.sum[i], fx.m1.sum[i]) == 0 || strcmp(fx.m1.sum[i], fx.m2.sum[i]) == 0) {
            snprintf(why, n, "%s did not change between the moments", T_NAME[i]);
            return -1;
        }
    return 0;
}

int main(void)
{
    char why[1024] = "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pgtest_available(why, sizeof why) != 0) {
        for (size_t i = 0; i < sizeof TESTS / sizeof *TESTS; i++) SKIP(TESTS[i], "PostgreSQL: %s", why);
        return check_finish();
    }
    static const char *const env[] = { "COFFER_TEST_HOOKS=1", "COFFER_TEST_RECOVERY_DELAY_MS=1500", NULL };
    if (daemon_start(&fx.d, env) != 0) {
        check_abandon("the daemon did not start");
    } else {
        fx.daemon_up = 1;
        if (pgsource_start(&fx.src, &fx.d, T, PORT_SRC, "shop", why, sizeof why) != 0 || setup(why, sizeof why) != 0)
            check_abandon(why);
    }
    RUN(pg_recover_database_new_name_point_in_time);
    RUN(pg_clone_database);
    RUN(pg_recover_instance_new_directory_and_port);
    RUN(pg_recover_refusals);
    RUN(pg_recover_cancel);
    RUN(pg_recover_instance_over_original);
    if (fx.daemon_up && daemon_stop(&fx.d) != 0) check_fail(__FILE__, __LINE__, "the daemon did not exit cleanly");
    pgsource_stop(&fx.src);
    return check_finish();
}
