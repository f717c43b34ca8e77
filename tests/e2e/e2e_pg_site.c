/* e2e_pg_site.c: the site restore API (/data-protection/v2/sites/..., api/site_api.c) end to end over
 * HTTP against the real daemon and two real PostgreSQL 15 servers started here (pgtest.h, ports
 * 55400 and 55401): A is registered as a kSQL source, B as a physical host with the kSQL application.
 * A kSQL group protects A; one kFull run is its execution. After the backup, A's tables are changed,
 * so that what a restore wrote (the backup's content) and what the source holds now differ.
 *
 * Every operation of the spec is driven: databases, jobs, executions (with their restores), execution
 * objects, restores (create: 202 + x-resource-id; get; list per site), restore-permissions. Every
 * class of bad input is a 4xx whose message names the field and changes nothing (the restores lists
 * and the target servers' relations are compared before and after). Restores compare real data
 * (row count and md5 of every row in key order) with what the table held at backup time: a table
 * copied under rename_to (the source keeps its changed rows), a table into another database of
 * another site, a whole database under a new name without its excluded table. */
#include "check.h"
#include "harness.h"
#include "pgtest.h"
#include "rawhttp.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T "tenant-site"
#define OTHER "tenant-other"
#define SITES "/data-protection/v2/sites"
#define REGS "/v2/data-protect/sources/registrations"
#define POL "/v2/data-protect/policies"
#define GRP "/v2/data-protect/protection-groups"
#define PORT_A 55400
#define PORT_B 55401

static const char *const TESTS[] = {
    "site_databases_lists_the_instance", "site_jobs_lists_the_protecting_groups", "executions_and_their_objects",
    "bad_input_is_4xx_naming_the_field_and_changes_nothing", "copy_under_rename_to_leaves_the_source_untouched",
    "table_into_another_database_of_another_site", "database_under_a_new_name_honours_exclude_objects",
    "restores_are_listed_per_site_and_execution", "restore_permissions", "backups_are_executions",
    "access_right_violations_fail_or_are_skipped_as_warnings",
};

static struct {
    struct pgtest a, b;
    struct daemon d;
    long long reg_a, reg_b, site_a, site_b, db_sales; /* registrations, kInstance ids, A's sales database */
    char inst_a[128];
    char policy[64], job[64], job2[64], exec[64], exec2[64];
    char sum_orders[128], sum_lines[128], sum_trail[128]; /* at backup time */
    char now_orders[128];                                  /* after the changes made past the backup */
    char restore_rename[32], restore_other[32], restore_db[32];
} fx;

/* ---------- PostgreSQL helpers ---------- */

static int sql(struct pgtest *p, const char *db, const char *q, char *why, size_t n)
{
    PGconn *c = pgtest_connect(p, db);
    int rc;
    if (!c) {
        snprintf(why, n, "cannot connect to %s on port %d", db, p->port);
        return -1;
    }
    rc = pgtest_exec(c, q, why, n);
    PQfinish(c);
    return rc;
}

/* value: the first column of the first row, or "" (with the error in out) */
static int value(struct pgtest *p, const char *db, const char *q, char *out, size_t n)
{
    PGconn *c = pgtest_connect(p, db);
    int rc;
    out[0] = '\0';
    if (!c) return -1;
    rc = pgtest_value(c, q, out, n);
    PQfinish(c);
    return rc;
}

/* table_sum: "count:md5" of a table's rows ordered by id; "missing" when there is no such table, "no
 * database" when the database cannot be entered. */
static void table_sum(struct pgtest *p, const char *db, const char *table, char *out, size_t n)
{
    char q[512], exists[16];
    PGconn *c = pgtest_connect(p, db);
    if (!c) {
        snprintf(out, n, "no database");
        return;
    }
    snprintf(q, sizeof q, "SELECT to_regclass('%s') IS NOT NULL", table);
    if (pgtest_value(c, q, exists, sizeof exists) != 0 || strcmp(exists, "t") != 0) {
        snprintf(out, n, "missing");
    } else {
        snprintf(q, sizeof q, "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') "
                              "FROM %s t", table);
        if (pgtest_value(c, q, out, n) != 0) snprintf(out, n, "error");
    }
    PQfinish(c);
}

/* relations: every relation of every database of server p, as one text (to compare before/after). */
static void relations(struct pgtest *p, char *out, size_t n)
{
    char dbs[2048], *save = NULL, *db;
    size_t used = 0;
    out[0] = '\0';
    if (value(p, "postgres", "SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database "
                             "WHERE NOT datistemplate", dbs, sizeof dbs) != 0)
        return;
    for (db = strtok_r(dbs, " ", &save); db; db = strtok_r(NULL, " ", &save)) {
        char rels[4096];
        value(p, db, "SELECT coalesce(string_agg(n.nspname || '.' || c.relname || ':' || c.reltuples::bigint, ',' "
                     "ORDER BY 1), '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')", rels, sizeof rels);
        used += (size_t)snprintf(out + used, used < n ? n - used : 0, "[%s] %s\n", db, rels);
        if (used >= n) break;
    }
}

/* ---------- HTTP helpers ---------- */

static long call(const char *method, const char *path, const char *tenant, const char *body, struct http_resp *r)
{
    if (http(&fx.d, method, path, tenant, body, r) != 0) return -1;
    return r->status;
}

/* expect: method path answers want with msg_part in its message; 1 when so (else prints why). */
static int expect(const char *method, const char *path, const char *tenant, const char *body, long want,
                  const char *msg_part)
{
    struct http_resp r;
    long st = call(method, path, tenant, body, &r);
    const char *msg = jstr(r.json, "message");
    int ok = st == want && msg && (!msg_part || strstr(msg, msg_part));
    if (!ok) fprintf(stderr, "%s %s: got %ld %s, want %ld with '%s'\n", method, path, st, r.body ? r.body : "", want,
                     msg_part ? msg_part : "");
    http_resp_release(&r);
    return ok;
}

/* get_text: the body of a GET that must answer 200 (malloc'd), or NULL. */
static char *get_text(const char *path, const char *tenant)
{
    struct http_resp r;
    char *s = NULL;
    if (call("GET", path, tenant, NULL, &r) == 200) s = strdup(r.body);
    else fprintf(stderr, "GET %s: %ld %s\n", path, r.status, r.body ? r.body : "");
    http_resp_release(&r);
    return s;
}

static const char *reg_body(const char *env, int port, const char *sock, const char *user)
{
    return jfmt("{'environment':'%s','physicalParams':{'endpoint':'localhost','hostType':'kLinux',"
                "'physicalType':'kHost'%s},'advancedConfigs':[{'key':'pgPort','value':'%d'},"
                "{'key':'pgSocketDir','value':'%s'},{'key':'pgUser','value':'%s'}]}",
                env, strcmp(env, "kPhysical") == 0 ? ",'applications':['kSQL']" : "", port, sock, user);
}

/* instance_of: the kInstance object id under registration reg (search by environment). */
static long long instance_of(long long reg, char *name, size_t n)
{
    struct http_resp r;
    long long id = 0;
    size_t i;
    json_t *o;
    if (call("GET", "/v2/data-protect/search/objects?environments=kSQL", T, NULL, &r) != 200) {
        fprintf(stderr, "search: %ld %s\n", r.status, r.body);
        http_resp_release(&r);
        return 0;
    }
    json_array_foreach(jget(r.json, "objects"), i, o) {
        if (jint(o, "sourceId") == reg && jstr(o, "objectType") && strcmp(jstr(o, "objectType"), "kInstance") == 0) {
            id = jint(o, "id");
            if (name) snprintf(name, n, "%s", jstr(o, "name") ? jstr(o, "name") : "");
        }
    }
    http_resp_release(&r);
    return id;
}

/* child_id: the id of the child named name of object parent (searching kSQL objects). */
static long long object_named(const char *type, const char *name)
{
    struct http_resp r;
    long long id = 0;
    size_t i;
    json_t *o;
    if (call("GET", "/v2/data-protect/search/objects?environments=kSQL", T, NULL, &r) == 200)
        json_array_foreach(jget(r.json, "objects"), i, o)
            if (jstr(o, "objectType") && strcmp(jstr(o, "objectType"), type) == 0 && jstr(o, "name") &&
                strcmp(jstr(o, "name"), name) == 0 && !id)
                id = jint(o, "id");
    http_resp_release(&r);
    return id;
}

static int finished_run(const char *s)
{
    return s && strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0 && strcmp(s, "Canceling") != 0;
}

/* run_group: starts a kFull run of group and waits for it (300 s); the run id into run. 0 on Succeeded. */
static int run_group(const char *group, char *run, size_t n, char *why, size_t wn)
{
    struct http_resp r;
    char path[200];
    snprintf(path, sizeof path, GRP "/%s/runs", group);
    if (call("POST", path, T, jfmt("{'runType':'kFull'}"), &r) != 202) {
        snprintf(why, wn, "POST %s: %ld %s", path, r.status, r.body);
        http_resp_release(&r);
        return -1;
    }
    snprintf(run, n, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    for (int i = 0; i < 3000; i++) {
        const char *st;
        snprintf(path, sizeof path, GRP "/%s/runs/%s", group, run);
        if (call("GET", path, T, NULL, &r) == 200 && finished_run(st = jstr(r.json, "localBackupInfo.status"))) {
            int ok = strcmp(st, "Succeeded") == 0;
            if (!ok) snprintf(why, wn, "run %s ended %s: %s", run, st, r.body);
            http_resp_release(&r);
            return ok ? 0 : -1;
        }
        http_resp_release(&r);
        usleep(100 * 1000);
    }
    snprintf(why, wn, "run %s of %s did not finish in 300 s", run, group);
    return -1;
}

static const char *exec_path(const char *site_fmt_tail)
{
    return jfmt("%s/%lld/jobs/%s/executions/%s%s", SITES, fx.site_a, fx.job, fx.exec, site_fmt_tail);
}

/* wait_restore: polls GET restore until it is finished (240 s); returns the restore (caller decrefs).
 * Prints how long it took from the POST (the figure docs/databases.md quotes). */
static struct timespec g_posted;
static json_t *wait_restore(const char *id)
{
    for (int i = 0; i < 2400; i++) {
        struct http_resp r;
        const char *st;
        json_t *j = NULL;
        if (call("GET", exec_path(jfmt("/restores/%s", id)), T, NULL, &r) == 200 &&
            (st = jstr(r.json, "status")) && strcmp(st, "NOT_STARTED") != 0 && strcmp(st, "RUNNING") != 0 &&
            strcmp(st, "ABORTING") != 0)
            j = json_incref(r.json);
        http_resp_release(&r);
        if (j) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            printf("restore %s (%s): %s in %.2f s from the POST\n", id, jstr(j, "restore_job_name"), jstr(j, "status"),
                   (double)(now.tv_sec - g_posted.tv_sec) + (double)(now.tv_nsec - g_posted.tv_nsec) / 1e9);
            return j;
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "restore %s did not finish in 240 s\n", id);
    return NULL;
}

/* post_restore: POST body to the execution's restores over a raw connection (to see the headers): 202
 * with an x-resource-id header equal to the body's restore_job_id (= restore_execution_id), the id
 * into id. Returns the status (-2: the 202 was not as the spec says). */
static long post_restore(const char *body, char *id, size_t n)
{
    static const char *const headers[] = { "Authorization: Bearer " HARNESS_KEY, "X-IBM-Tenant-Id: " T,
                                           "Content-Type: application/json", NULL };
    struct raw_resp r;
    size_t len;
    char *req = rawhttp_build("POST", exec_path("/restores"), 0, headers, body, strlen(body), &len);
    long st;
    clock_gettime(CLOCK_MONOTONIC, &g_posted);
    if (!req || rawhttp_send(fx.d.port, req, len, 60000, &r) != 0) {
        free(req);
        raw_resp_release(&r);
        return -1;
    }
    free(req);
    st = r.status;
    if (st == 202) {
        long long rid = jint(r.json, "restore_job_id");
        const char *h = r.head ? strcasestr(r.head, "\r\nx-resource-id: ") : NULL;
        snprintf(id, n, "%lld", rid);
        if (rid <= 0 || jint(r.json, "restore_execution_id") != rid || !jstr(r.json, "status") || !h ||
            atoll(h + strlen("\r\nx-resource-id: ")) != rid) {
            fprintf(stderr, "POST restores: 202 not as the spec says:\n%s\n%s\n", r.head, r.body);
            st = -2;
        }
    } else {
        fprintf(stderr, "POST restores: %ld %s\n", st, r.body ? r.body : "");
    }
    raw_resp_release(&r);
    return st;
}

/* execution: the element of a GET executions answer with this id, or NULL. */
static json_t *execution(json_t *arr, const char *id)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
        if (jstr(e, "execution_id") && strcmp(jstr(e, "execution_id"), id) == 0) return e;
    return NULL;
}

/* ---------- set-up ---------- */

static int load_source(char *why, size_t n)
{
    if (sql(&fx.a, "postgres", "CREATE DATABASE sales", why, n) != 0 || sql(&fx.a, "postgres", "CREATE DATABASE hr", why, n) != 0 ||
        sql(&fx.a, "sales",
            "CREATE TABLE orders (id int PRIMARY KEY, customer text, amount numeric);"
            "INSERT INTO orders SELECT g, 'customer ' || g, g * 1.5 FROM generate_series(1, 2000) g;"
            "CREATE INDEX orders_customer ON orders (customer);"
            "CREATE TABLE lines (id int PRIMARY KEY, order_id int, sku text);"
            "INSERT INTO lines SELECT g, g % 2000 + 1, md5(g::text) FROM generate_series(1, 5000) g;"
            "CREATE SCHEMA audit; CREATE TABLE audit.trail (id int PRIMARY KEY, what text);"
            "INSERT INTO audit.trail SELECT g, 'event ' || g FROM generate_series(1, 300) g;",
            why, n) != 0 ||
        sql(&fx.a, "hr", "CREATE TABLE staff (id int PRIMARY KEY, name text);"
                         "INSERT INTO staff SELECT g, 'person ' || g FROM generate_series(1, 50) g;", why, n) != 0)
        return -1;
    /* B: an empty warehouse database, and analytics with a table in the way of a rename */
    if (sql(&fx.b, "postgres", "CREATE DATABASE warehouse", why, n) != 0 ||
        sql(&fx.b, "postgres", "CREATE DATABASE analytics", why, n) != 0 ||
        sql(&fx.b, "analytics", "CREATE TABLE existing (id int PRIMARY KEY); INSERT INTO existing VALUES (1);", why,
            n) != 0)
        return -1;
    return 0;
}

static int setup(char *why, size_t n)
{
    struct http_resp r;
    long st;
    if (load_source(why, n) != 0) return -1;
    if (daemon_start(&fx.d, NULL) != 0) {
        snprintf(why, n, "cofferd did not start");
        return -1;
    }
    st = call("POST", REGS, T, reg_body("kSQL", PORT_A, fx.a.sock, "postgres"), &r);
    fx.reg_a = st == 201 ? jint(r.json, "id") : 0;
    if (!fx.reg_a) snprintf(why, n, "register A: %ld %s", st, r.body);
    http_resp_release(&r);
    if (!fx.reg_a) return -1;
    st = call("POST", REGS, T, reg_body("kPhysical", PORT_B, fx.b.sock, "postgres"), &r);
    fx.reg_b = st == 201 ? jint(r.json, "id") : 0;
    if (!fx.reg_b) snprintf(why, n, "register B: %ld %s", st, r.body);
    http_resp_release(&r);
    if (!fx.reg_b) return -1;
    fx.site_a = instance_of(fx.reg_a, fx.inst_a, sizeof fx.inst_a);
    fx.site_b = instance_of(fx.reg_b, NULL, 0);
    fx.db_sales = object_named("kDatabase", "sales");
    if (!fx.site_a || !fx.site_b || !fx.db_sales) {
        snprintf(why, n, "discovery: site A %lld, site B %lld, database sales %lld", fx.site_a, fx.site_b,
                 fx.db_sales);
        return -1;
    }
    st = call("POST", POL, T, jfmt("{'name':'daily','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':"
                                   "'Days','daySchedule':{'frequency':1}}},'retention':{'unit':'Days','duration':7}}}}"),
              &r);
    snprintf(fx.policy, sizeof fx.policy, "%s", st == 201 && jstr(r.json, "id") ? jstr(r.json, "id") : "");
    if (st != 201) snprintf(why, n, "policy: %ld %s", st, r.body);
    http_resp_release(&r);
    if (st != 201) return -1;
#define SQL_GROUP(name, obj) jfmt("{'name':'%s','policyId':'%s','environment':'kSQL',"              \
                                  "'mssqlParams':{'protectionType':'kNative','nativeProtectionTypeParams':{'objects':" \
                                  "[{'id':%lld}]}}}", name, fx.policy, (long long)(obj))
    st = call("POST", GRP, T, SQL_GROUP("site-a", fx.site_a), &r);
    snprintf(fx.job, sizeof fx.job, "%s", st == 201 && jstr(r.json, "id") ? jstr(r.json, "id") : "");
    if (st != 201) snprintf(why, n, "group: %ld %s", st, r.body);
    http_resp_release(&r);
    if (st != 201) return -1;
    st = call("POST", GRP, T, SQL_GROUP("site-b", fx.site_b), &r);
    snprintf(fx.job2, sizeof fx.job2, "%s", st == 201 && jstr(r.json, "id") ? jstr(r.json, "id") : "");
    if (st != 201) snprintf(why, n, "group 2: %ld %s", st, r.body);
    http_resp_release(&r);
    if (st != 201) return -1;
    return 0;
}

/* backups: one kFull run of each group (the executions), then A's tables change. */
static int backups(char *why, size_t n)
{
    if (run_group(fx.job, fx.exec, sizeof fx.exec, why, n) != 0 ||
        run_group(fx.job2, fx.exec2, sizeof fx.exec2, why, n) != 0)
        return -1;
    table_sum(&fx.a, "sales", "public.orders", fx.sum_orders, sizeof fx.sum_orders);
    table_sum(&fx.a, "sales", "public.lines", fx.sum_lines, sizeof fx.sum_lines);
    table_sum(&fx.a, "sales", "audit.trail", fx.sum_trail, sizeof fx.sum_trail);
    /* after the backup: the source changes */
    if (sql(&fx.a, "sales", "DELETE FROM orders WHERE id > 1500; UPDATE lines SET sku = 'changed' WHERE id < 100;",
            why, n) != 0)
        return -1;
    table_sum(&fx.a, "sales", "public.orders", fx.now_orders, sizeof fx.now_orders);
    if (strcmp(fx.now_orders, fx.sum_orders) == 0 || strncmp(fx.sum_orders, "2000:", 5) != 0) {
        snprintf(why, n, "the source did not change as planned: %s / %s", fx.sum_orders, fx.now_orders);
        return -1;
    }
    return 0;
}

/* ---------- tests ---------- */

TEST(site_databases_lists_the_instance)
{
    struct http_resp r;
    size_t i;
    json_t *e;
    int sales = 0, hr = 0;
    CHECK(call("GET", jfmt(SITES "/%lld/databases", fx.site_a), T, NULL, &r) == 200);
    CHECK(json_is_array(r.json));
    json_array_foreach(r.json, i, e) {
        CHECK(jstr(e, "dbKind") && strcmp(jstr(e, "dbKind"), "D") == 0);
        sales += strcmp(jstr(e, "name"), "sales") == 0;
        hr += strcmp(jstr(e, "name"), "hr") == 0;
        CHECK(strcmp(jstr(e, "name"), "warehouse") != 0); /* B's */
    }
    http_resp_release(&r);
    CHECK(sales == 1 && hr == 1);
    /* another tenant, a database's id, no number, an unknown id: 404 naming the site */
    CHECK(expect("GET", jfmt(SITES "/%lld/databases", fx.site_a), OTHER, NULL, 404, "site-id: site"));
    CHECK(expect("GET", jfmt(SITES "/%lld/databases", fx.db_sales), T, NULL, 404, "site-id: site"));
    CHECK(expect("GET", SITES "/abc/databases", T, NULL, 404, "site-id: site 'abc' not found"));
    CHECK(expect("GET", SITES "/987654321/databases", T, NULL, 404, "site-id"));
    CHECK(expect("GET", jfmt(SITES "/%lld/databases", fx.site_a), NULL, NULL, 400, "X-IBM-Tenant-Id"));
}

TEST(site_jobs_lists_the_protecting_groups)
{
    struct http_resp r;
    size_t i;
    json_t *e;
    int mine = 0, other = 0;
    CHECK(call("GET", jfmt(SITES "/%lld/jobs", fx.site_a), T, NULL, &r) == 200);
    json_array_foreach(r.json, i, e) {
        mine += strcmp(jstr(e, "job_id"), fx.job) == 0 && strcmp(jstr(e, "job_name"), "site-a") == 0 &&
                json_array_size(jget(e, "objects")) == 1;
        other += strcmp(jstr(e, "job_id"), fx.job2) == 0;
    }
    http_resp_release(&r);
    CHECK(mine == 1 && other == 0);
    CHECK(call("GET", jfmt(SITES "/%lld/jobs", fx.site_b), T, NULL, &r) == 200);
    CHECK(json_array_size(r.json) == 1 && strcmp(jstr(json_array_get(r.json, 0), "job_id"), fx.job2) == 0);
    http_resp_release(&r);
}

TEST(backups_are_executions)
{
    char why[2048] = "";
    CHECKF(backups(why, sizeof why) == 0, "%s", why);
}

TEST(executions_and_their_objects)
{
    struct http_resp r;
    json_t *x, *o;
    size_t i;
    int orders = 0, trail = 0, sales = 0;
    CHECK(call("GET", jfmt(SITES "/%lld/jobs/%s/executions", fx.site_a, fx.job), T, NULL, &r) == 200);
    x = execution(r.json, fx.exec);
    CHECKF(x != NULL, "%s", r.body);
    CHECK(strcmp(jstr(x, "status"), "COMPLETED_SUCCESSFULLY") == 0 && strcmp(jstr(x, "backup_type"), "FULL") == 0);
    CHECK(strlen(jstr(x, "snapshot_name")) == 64 && atoll(jstr(x, "snapshot_size")) > 0);
    CHECK(strlen(jstr(x, "start_time")) == 20 && jstr(x, "start_time")[19] == 'Z');
    CHECK(json_is_array(jget(x, "restores")) && json_array_size(jget(x, "restores")) == 0);
    http_resp_release(&r);
    CHECK(call("GET", exec_path("/objects"), T, NULL, &r) == 200);
    json_array_foreach(r.json, i, o) {
        const char *name = jstr(o, "object_name"), *type = jstr(o, "object_type"), *parent = jstr(o, "parent_name");
        CHECK(name && type && parent && jstr(o, "parent_type"));
        if (strcmp(type, "DATABASE") == 0) {
            CHECK(strcmp(parent, fx.inst_a) == 0 && strcmp(jstr(o, "parent_type"), "INSTANCE") == 0);
            sales += strcmp(name, "sales") == 0 && jint(o, "size_bytes") > 1000000;
        } else {
            CHECK(strcmp(type, "TABLE") == 0 && strcmp(jstr(o, "parent_type"), "DATABASE") == 0);
            orders += strcmp(name, "public.orders") == 0 && strcmp(parent, "sales") == 0 && jint(o, "size_bytes") > 0;
            trail += strcmp(name, "audit.trail") == 0 && strcmp(parent, "sales") == 0;
        }
    }
    CHECKF(sales == 1 && orders == 1 && trail == 1, "%s", r.body);
    http_resp_release(&r);
    /* another job's execution under this job, a made-up one, one that is no run id */
    CHECK(expect("GET", jfmt(SITES "/%lld/jobs/%s/executions/%s/objects", fx.site_a, fx.job, fx.exec2), T, NULL, 404,
                 "is an execution of job"));
    CHECK(expect("GET", jfmt(SITES "/%lld/jobs/%s/executions/%s/objects", fx.site_a, fx.job, "999:12345"), T, NULL,
                 404, "execution-id"));
    CHECK(expect("GET", jfmt(SITES "/%lld/jobs/%s/executions/x/objects", fx.site_a, fx.job), T, NULL, 404,
                 "execution-id"));
    CHECK(expect("GET", jfmt(SITES "/%lld/jobs/%s/executions", fx.site_a, fx.job2), T, NULL, 404,
                 "does not protect site"));
    CHECK(expect("GET", jfmt(SITES "/%lld/jobs/1:1:999/executions", fx.site_a), T, NULL, 404, "job-id"));
}

/* A valid body to vary: the orders table copied under a new name. */
#define TBL(extra, settings) "{'name':'r','job_settings':{'objects':[{'object_name':'orders','object_type':'TABLE'," \
    "'parent_name':'sales','parent_type':'DATABASE'" extra "}],'run_as_a_copy_job':true" settings "}}"

TEST(bad_input_is_4xx_naming_the_field_and_changes_nothing)
{
    char *before_a = get_text(jfmt(SITES "/%lld/restores", fx.site_a), T);
    char *before_b = get_text(jfmt(SITES "/%lld/restores", fx.site_b), T);
    char rel_a[16384], rel_b[16384], rel_a2[16384], rel_b2[16384], *after_a, *after_b;
    char post[256];
    snprintf(post, sizeof post, "%s", exec_path("/restores")); /* jfmt's buffers are reused */
    CHECK(before_a && before_b);
    relations(&fx.a, rel_a, sizeof rel_a);
    relations(&fx.b, rel_b, sizeof rel_b);
    /* the path: unknown site, another tenant, a job not protecting the site, another job's execution */
    CHECK(expect("POST", jfmt(SITES "/424242/jobs/%s/executions/%s/restores", fx.job, fx.exec), T,
                 jfmt(TBL(",'rename_to':'x1'", "")), 404, "site-id"));
    CHECK(expect("POST", post, OTHER, jfmt(TBL(",'rename_to':'x1'", "")), 404, "site-id"));
    CHECK(expect("POST", jfmt(SITES "/%lld/jobs/%s/executions/%s/restores", fx.site_a, fx.job2, fx.exec2), T,
                 jfmt(TBL(",'rename_to':'x1'", "")), 404, "job-id: job"));
    CHECK(expect("POST", jfmt(SITES "/%lld/jobs/%s/executions/%s/restores", fx.site_a, fx.job, fx.exec2), T,
                 jfmt(TBL(",'rename_to':'x1'", "")), 404, "is an execution of job"));
    /* the body: malformed, bad fields */
    CHECK(expect("POST", post, T, "{\"name\":", 400, NULL));
    CHECK(expect("POST", post, T, jfmt("{'job_settings':{'objects':[]}}"), 400, "'name' is required"));
    CHECK(expect("POST", post, T, jfmt(TBL(",'rename_to':'x1'", ",'skip_statistics':true")), 400,
                 "'job_settings.skip_statistics' is not a field"));
    CHECK(expect("POST", post, T, jfmt("{'name':'r','job_settings':{'objects':[{'object_name':'orders',"
                                       "'object_type':'VIEW','parent_name':'sales'}]}}"), 400,
                 "'job_settings.objects[0].object_type' has unknown value 'VIEW'"));
    CHECK(expect("POST", post, T, jfmt(TBL(",'rename_to':'a.b.c'", "")), 400, "'job_settings.objects[0].rename_to'"));
    CHECK(expect("POST", post, T, jfmt(TBL(",'rename_to':'x1'", ",'skip_statstics':'no'")), 400,
                 "'job_settings.skip_statstics' must be a boolean"));
    CHECK(expect("POST", post, T, jfmt("{'name':'r','target_site':'%lld','job_settings':{'objects':[{'object_name':"
                                       "'orders','object_type':'TABLE','parent_name':'sales'}]}}", fx.db_sales),
                 404, "field 'target_site'"));
    /* objects not in the execution */
    CHECK(expect("POST", post, T, jfmt("{'name':'r','job_settings':{'objects':[{'object_name':'nope','object_type':"
                                       "'TABLE','parent_name':'sales'}],'run_as_a_copy_job':true}}"),
                 404, "'job_settings.objects[0].object_name': table 'public.nope'"));
    CHECK(expect("POST", post, T, jfmt("{'name':'r','job_settings':{'objects':[{'object_name':'orders','object_type':"
                                       "'TABLE','parent_name':'nodb'}]}}"),
                 404, "'job_settings.objects[0].parent_name': database 'nodb'"));
    CHECK(expect("POST", post, T, jfmt("{'name':'r','job_settings':{'objects':[{'object_name':'sales','object_type':"
                                       "'DATABASE','rename_to':'s2','exclude_objects':['ghost']}]}}"),
                 404, "'job_settings.objects[0].exclude_objects[0]': table 'public.ghost'"));
    CHECK(expect("POST", post, T, jfmt("{'name':'r','job_settings':{'objects':[{'object_name':'sales','object_type':"
                                       "'DATABASE','parent_name':'elsewhere'}]}}"),
                 400, "'job_settings.objects[0].parent_name' ('elsewhere') must be the site's instance"));
    /* collisions: a rename onto an existing table, a copy onto itself, into a database holding the name */
    CHECK(expect("POST", post, T, jfmt(TBL(",'rename_to':'lines'", "")), 409,
                 "field 'job_settings.objects[0].rename_to': job_settings.objects[0]: table sales.public.lines "
                 "already exists"));
    CHECK(expect("POST", post, T, jfmt(TBL("", "")), 409,
                 "field 'job_settings.run_as_a_copy_job': job_settings.objects[0]: sales.public.orders is the source"));
    CHECK(expect("POST", post, T, jfmt("{'name':'r','job_settings':{'objects':[{'object_name':'sales','object_type':"
                                       "'DATABASE','rename_to':'hr'}]}}"),
                 409, "field 'job_settings.objects[0].rename_to': job_settings.objects[0]: database hr already exists"));
    CHECK(expect("POST", post, T, jfmt("{'name':'r','target_site':'%lld','job_settings':{'objects':[{'object_name':"
                                       "'orders','object_type':'TABLE','parent_name':'sales','rename_to':'existing'}],"
                                       "'restore_to_a_different_database_on_target_site':'analytics'}}", fx.site_b),
                 409, "field 'job_settings.objects[0].rename_to': job_settings.objects[0]: table "
                      "analytics.public.existing already exists"));
    /* nothing changed: no restore recorded, no relation created anywhere */
    after_a = get_text(jfmt(SITES "/%lld/restores", fx.site_a), T);
    after_b = get_text(jfmt(SITES "/%lld/restores", fx.site_b), T);
    relations(&fx.a, rel_a2, sizeof rel_a2);
    relations(&fx.b, rel_b2, sizeof rel_b2);
    CHECK(after_a && after_b && strcmp(before_a, after_a) == 0 && strcmp(before_b, after_b) == 0);
    CHECKF(strcmp(rel_a, rel_a2) == 0, "A before:\n%s\nafter:\n%s", rel_a, rel_a2);
    CHECKF(strcmp(rel_b, rel_b2) == 0, "B before:\n%s\nafter:\n%s", rel_b, rel_b2);
    CHECK(strstr(rel_a, "public.orders") != NULL); /* the comparison saw the tables */
    free(before_a);
    free(before_b);
    free(after_a);
    free(after_b);
}

TEST(copy_under_rename_to_leaves_the_source_untouched)
{
    json_t *j;
    char got[128], src[128];
    CHECK_EQ_INT(post_restore(jfmt("{'name':'copy orders','target_site':'%lld','job_settings':{'objects':[{"
                                   "'object_name':'orders','object_type':'TABLE','parent_name':'sales','parent_type':"
                                   "'DATABASE','exclude_objects':[],'include_all':true,'rename_to':'orders_restored'}],"
                                   "'continue_job_on_access_right_violation':false,'run_as_a_copy_job':true,"
                                   "'skip_statstics':false,'skip_join_or_hash_indexes':false}}", fx.site_a),
                              fx.restore_rename, sizeof fx.restore_rename),
                 202);
    CHECK((j = wait_restore(fx.restore_rename)) != NULL);
    CHECKF(strcmp(jstr(j, "status"), "COMPLETED_SUCCESSFULLY") == 0, "%s", json_dumps(j, 0));
    CHECK(strcmp(jstr(j, "restore_job_name"), "copy orders") == 0);
    CHECK(atoll(jstr(j, "source_site_id")) == fx.site_a && atoll(jstr(j, "target_site")) == fx.site_a);
    CHECK(strlen(jstr(j, "end_time")) == 20 && json_is_false(jget(j, "is_failover")));
    CHECK(json_array_size(jget(j, "restore_execution_sub_tasks")) == 1);
    {
        json_t *t = json_array_get(jget(j, "restore_execution_sub_tasks"), 0);
        CHECKF(strcmp(jstr(t, "sub_task_name"), "sales.public.orders") == 0 &&
               strcmp(jstr(t, "status"), "COMPLETED_SUCCESSFULLY") == 0 && jint(t, "restore_size") > 0,
               "%s", json_dumps(t, 0));
        CHECK(json_array_size(jget(j, "restored_objects_status")) == 1 &&
              strcmp(json_string_value(json_array_get(jget(j, "restored_objects_status"), 0)),
                     "sales.public.orders: COMPLETED_SUCCESSFULLY") == 0);
    }
    json_decref(j);
    table_sum(&fx.a, "sales", "public.orders_restored", got, sizeof got);
    table_sum(&fx.a, "sales", "public.orders", src, sizeof src);
    CHECKF(strcmp(got, fx.sum_orders) == 0, "restored %s, backed up %s", got, fx.sum_orders);
    CHECKF(strcmp(src, fx.now_orders) == 0, "source now %s, was %s", src, fx.now_orders);
    /* skip_join_or_hash_indexes false: the secondary index is rebuilt; skip_statstics false: ANALYZEd */
    CHECK(value(&fx.a, "sales", "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND "
                                "tablename = 'orders_restored'", got, sizeof got) == 0);
    CHECKF(strcmp(got, "2") == 0, "indexes of orders_restored: %s", got);
    CHECK(value(&fx.a, "sales", "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE "
                                "relname = 'orders_restored'", got, sizeof got) == 0);
    CHECKF(strcmp(got, "t") == 0, "orders_restored analyzed: %s", got);
}

TEST(table_into_another_database_of_another_site)
{
    json_t *j;
    char got[128], before[16384], after[16384];
    relations(&fx.a, before, sizeof before);
    CHECK_EQ_INT(post_restore(jfmt("{'name':'lines to B','target_site':'%lld','job_settings':{'objects':[{"
                                   "'object_name':'lines','object_type':'TABLE','parent_name':'sales'}],"
                                   "'run_as_a_copy_job':true,'restore_to_a_different_database_on_target_site':"
                                   "'warehouse'}}", fx.site_b),
                              fx.restore_other, sizeof fx.restore_other),
                 202);
    CHECK((j = wait_restore(fx.restore_other)) != NULL);
    CHECKF(strcmp(jstr(j, "status"), "COMPLETED_SUCCESSFULLY") == 0, "%s", json_dumps(j, 0));
    CHECK(atoll(jstr(j, "target_site")) == fx.site_b && atoll(jstr(j, "dr_site_id")) == fx.site_b);
    json_decref(j);
    table_sum(&fx.b, "warehouse", "public.lines", got, sizeof got);
    CHECKF(strcmp(got, fx.sum_lines) == 0, "restored %s, backed up %s", got, fx.sum_lines);
    relations(&fx.a, after, sizeof after);
    CHECKF(strcmp(before, after) == 0, "A changed:\n%s\n%s", before, after);
}

TEST(database_under_a_new_name_honours_exclude_objects)
{
    json_t *j;
    char got[128];
    CHECK_EQ_INT(post_restore(jfmt("{'name':'sales copy','job_settings':{'objects':[{'object_name':'sales',"
                                   "'object_type':'DATABASE','parent_name':'%s','parent_type':'INSTANCE',"
                                   "'include_all':true,'exclude_objects':['lines'],'rename_to':'sales_copy'}],"
                                   "'run_as_a_copy_job':true,'skip_statstics':true,'skip_join_or_hash_indexes':true}}",
                                   fx.inst_a),
                              fx.restore_db, sizeof fx.restore_db),
                 202);
    CHECK((j = wait_restore(fx.restore_db)) != NULL);
    CHECKF(strcmp(jstr(j, "status"), "COMPLETED_SUCCESSFULLY") == 0, "%s", json_dumps(j, 0));
    json_decref(j);
    table_sum(&fx.a, "sales_copy", "public.orders", got, sizeof got);
    CHECKF(strcmp(got, fx.sum_orders) == 0, "orders %s, backed up %s", got, fx.sum_orders);
    table_sum(&fx.a, "sales_copy", "audit.trail", got, sizeof got);
    CHECKF(strcmp(got, fx.sum_trail) == 0, "trail %s, backed up %s", got, fx.sum_trail);
    table_sum(&fx.a, "sales_copy", "public.lines", got, sizeof got);
    CHECKF(strcmp(got, "missing") == 0, "the excluded table is there: %s", got);
    /* skip_join_or_hash_indexes: the primary key stays, the secondary index is not rebuilt;
     * skip_statstics: no ANALYZE */
    CHECK(value(&fx.a, "sales_copy", "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes "
                                     "WHERE schemaname = 'public' AND tablename = 'orders'", got, sizeof got) == 0);
    CHECKF(strcmp(got, "orders_pkey") == 0, "indexes of the copy's orders: %s", got);
    CHECK(value(&fx.a, "sales_copy", "SELECT last_analyze IS NULL FROM pg_stat_user_tables WHERE relname = 'orders'",
                got, sizeof got) == 0);
    CHECKF(strcmp(got, "t") == 0, "the copy's orders analyzed: %s", got);
}

static int listed(json_t *arr, const char *id)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
        if (jint(e, "restore_job_id") == atoll(id)) return 1;
    return 0;
}

TEST(restores_are_listed_per_site_and_execution)
{
    struct http_resp r;
    CHECK(fx.restore_rename[0] && fx.restore_other[0] && fx.restore_db[0]);
    CHECK(call("GET", jfmt(SITES "/%lld/restores", fx.site_a), T, NULL, &r) == 200);
    CHECK(listed(r.json, fx.restore_rename) && listed(r.json, fx.restore_other) && listed(r.json, fx.restore_db));
    http_resp_release(&r);
    CHECK(call("GET", jfmt(SITES "/%lld/restores", fx.site_b), T, NULL, &r) == 200);
    CHECK(listed(r.json, fx.restore_other) && !listed(r.json, fx.restore_rename) && json_array_size(r.json) == 1);
    http_resp_release(&r);
    CHECK(call("GET", jfmt(SITES "/%lld/jobs/%s/executions", fx.site_a, fx.job), T, NULL, &r) == 200);
    CHECK(json_array_size(jget(execution(r.json, fx.exec), "restores")) == 3);
    http_resp_release(&r);
    /* a restore under another execution, or unknown: 404 */
    CHECK(expect("GET", jfmt(SITES "/%lld/jobs/%s/executions/%s/restores/%s", fx.site_b, fx.job2, fx.exec2,
                             fx.restore_rename), T, NULL, 404, "restore-id"));
    CHECK(expect("GET", exec_path("/restores/999999"), T, NULL, 404, "restore-id"));
    CHECK(expect("GET", exec_path("/restores/abc"), T, NULL, 404, "restore-id"));
    CHECK(expect("GET", exec_path(jfmt("/restores/%s", fx.restore_rename)), OTHER, NULL, 404, "site-id"));
}

TEST(restore_permissions)
{
    struct http_resp r;
    json_t *dbs;
    char path_b[128];
    snprintf(path_b, sizeof path_b, SITES "/%lld/restore-permissions", fx.site_b);
    CHECK(call("POST", jfmt(SITES "/%lld/restore-permissions", fx.site_a), T, NULL, &r) == 200);
    CHECKF(json_is_true(jget(r.json, "has_permission")) && json_is_true(jget(r.json, "credentials_valid")) &&
           json_is_true(jget(r.json, "can_create_databases")) && strcmp(jstr(r.json, "user"), "postgres") == 0,
           "%s", r.body);
    http_resp_release(&r);
    CHECK(call("POST", path_b, T, jfmt("{'databases':['warehouse','brand_new']}"), &r) == 200);
    dbs = jget(r.json, "databases");
    CHECKF(json_is_true(jget(r.json, "has_permission")) && json_array_size(dbs) == 2, "%s", r.body);
    CHECK(json_is_true(jget(json_array_get(dbs, 0), "exists")) && json_is_true(jget(json_array_get(dbs, 0), "writable")));
    CHECK(json_is_false(jget(json_array_get(dbs, 1), "exists")) && json_is_true(jget(json_array_get(dbs, 1), "writable")));
    http_resp_release(&r);
    CHECK(expect("POST", path_b, T, jfmt("{'databases':'warehouse'}"), 400, "'databases' must be an array"));
    CHECK(expect("POST", path_b, T, jfmt("{'database':['x']}"), 400, "'database' is not a field"));
    CHECK(expect("POST", SITES "/31337/restore-permissions", T, NULL, 404, "site-id"));
    /* B registered as a role without CREATEDB and without CREATE on public: not writable; then as a role that
     * does not exist: the credentials are not valid */
    {
        char why[256];
        long st;
        CHECK(sql(&fx.b, "postgres", "CREATE ROLE limited LOGIN", why, sizeof why) == 0);
        st = call("PUT", jfmt(REGS "/%lld", fx.reg_b), T, reg_body("kPhysical", PORT_B, fx.b.sock, "limited"), &r);
        http_resp_release(&r);
        CHECK(st == 200);
        CHECK(call("POST", path_b, T, jfmt("{'databases':['warehouse']}"), &r) == 200);
        CHECKF(json_is_false(jget(r.json, "has_permission")) && json_is_true(jget(r.json, "credentials_valid")) &&
               json_is_false(jget(r.json, "can_create_databases")) &&
               json_is_false(jget(json_array_get(jget(r.json, "databases"), 0), "can_create_tables")) &&
               json_array_size(jget(r.json, "reasons")) == 1, "%s", r.body);
        http_resp_release(&r);
        st = call("PUT", jfmt(REGS "/%lld", fx.reg_b), T, reg_body("kPhysical", PORT_B, fx.b.sock, "ghost"), &r);
        http_resp_release(&r);
        CHECK(st == 200);
        CHECK(call("POST", path_b, T, NULL, &r) == 200);
        CHECKF(json_is_false(jget(r.json, "has_permission")) && json_is_false(jget(r.json, "credentials_valid")) &&
               strstr(json_string_value(json_array_get(jget(r.json, "reasons"), 0)), "ghost") != NULL,
               "%s", r.body);
        http_resp_release(&r);
        st = call("PUT", jfmt(REGS "/%lld", fx.reg_b), T, reg_body("kPhysical", PORT_B, fx.b.sock, "postgres"), &r);
        http_resp_release(&r);
        CHECK(st == 200);
    }
}

/* find_task: the restore's sub-task status. */
static const char *task_status(json_t *restore)
{
    return jstr(json_array_get(jget(restore, "restore_execution_sub_tasks"), 0), "status");
}

TEST(access_right_violations_fail_or_are_skipped_as_warnings)
{
    char id[32], got[128];
    json_t *j;
    long st;
    struct http_resp r;
    /* B registered as a role that may not create tables in warehouse's public schema (PostgreSQL 15) */
    st = call("PUT", jfmt(REGS "/%lld", fx.reg_b), T, reg_body("kPhysical", PORT_B, fx.b.sock, "limited"), &r);
    http_resp_release(&r);
    CHECK(st == 200);
#define LIM(rename, cont) jfmt("{'name':'lim','target_site':'%lld','job_settings':{'objects':[{'object_name':'lines'," \
                               "'object_type':'TABLE','parent_name':'sales','rename_to':'%s'}],'run_as_a_copy_job':"  \
                               "true,'restore_to_a_different_database_on_target_site':'warehouse',"                 \
                               "'continue_job_on_access_right_violation':%s}}", fx.site_b, rename, cont)
    CHECK_EQ_INT(post_restore(LIM("lines_lim", "false"), id, sizeof id), 202);
    CHECK((j = wait_restore(id)) != NULL);
    CHECKF(strcmp(jstr(j, "status"), "FAILED") == 0 && json_array_size(jget(j, "errors")) >= 1 &&
           strcmp(task_status(j), "FAILED") == 0, "%s", json_dumps(j, 0));
    json_decref(j);
    CHECK_EQ_INT(post_restore(LIM("lines_lim2", "true"), id, sizeof id), 202);
    CHECK((j = wait_restore(id)) != NULL);
    CHECKF(strcmp(jstr(j, "status"), "COMPLETED_WITH_WARNINGS") == 0 && json_array_size(jget(j, "warnings")) >= 1 &&
           json_array_size(jget(j, "errors")) == 0 && strcmp(task_status(j), "SKIPPED") == 0,
           "%s", json_dumps(j, 0));
    json_decref(j);
    table_sum(&fx.b, "warehouse", "public.lines_lim", got, sizeof got);
    CHECKF(strcmp(got, "missing") == 0, "lines_lim: %s", got);
    table_sum(&fx.b, "warehouse", "public.lines_lim2", got, sizeof got);
    CHECKF(strcmp(got, "missing") == 0, "lines_lim2: %s", got);
    st = call("PUT", jfmt(REGS "/%lld", fx.reg_b), T, reg_body("kPhysical", PORT_B, fx.b.sock, "postgres"), &r);
    http_resp_release(&r);
    CHECK(st == 200);
}

int main(void)
{
    char why[2048] = "";
    int ready;
    setvbuf(stdout, NULL, _IOLBF, 0);
    ready = pgtest_available(why, sizeof why) == 0;
    if (ready && (pgtest_root(&fx.a, "pgsite-a", "data", PORT_A, why, sizeof why) != 0 ||
                  pgtest_initdb(&fx.a, why, sizeof why) != 0 || pgtest_start(&fx.a, why, sizeof why) != 0 ||
                  pgtest_root(&fx.b, "pgsite-b", "data", PORT_B, why, sizeof why) != 0 ||
                  pgtest_initdb(&fx.b, why, sizeof why) != 0 || pgtest_start(&fx.b, why, sizeof why) != 0))
        ready = 0;
    if (!ready) {
        for (size_t i = 0; i < sizeof TESTS / sizeof *TESTS; i++) SKIP(TESTS[i], "PostgreSQL: %s", why);
        pgtest_destroy(&fx.a);
        pgtest_destroy(&fx.b);
        return check_finish();
    }
    if (setup(why, sizeof why) != 0) check_abandon(why);
    RUN(site_databases_lists_the_instance);
    RUN(site_jobs_lists_the_protecting_groups);
    RUN(restore_permissions);
    RUN(backups_are_executions);
    if (check_failed()) check_abandon("no backups to restore");
    RUN(executions_and_their_objects);
    RUN(bad_input_is_4xx_naming_the_field_and_changes_nothing);
    RUN(copy_under_rename_to_leaves_the_source_untouched);
    RUN(table_into_another_database_of_another_site);
    RUN(database_under_a_new_name_honours_exclude_objects);
    RUN(restores_are_listed_per_site_and_execution);
    RUN(access_right_violations_fail_or_are_skipped_as_warnings);
    if (fx.d.pid > 0 && daemon_stop(&fx.d) != 0) check_fail(__FILE__, __LINE__, "cofferd did not exit cleanly");
    pgtest_destroy(&fx.a);
    pgtest_destroy(&fx.b);
    return check_finish();
}
