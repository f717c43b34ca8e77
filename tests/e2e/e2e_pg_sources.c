/* e2e_pg_sources.c: PostgreSQL registration and discovery against the real daemon and a real
 * PostgreSQL 15 started here (pgtest, port 55101). The server's pg_hba asks a password (scram) of
 * every role but postgres, so the role the daemon logs in as (coffer_disc, with pg_read_all_settings
 * and pg_read_all_stats, no superuser) works only with the registered password.
 *
 * Checked: a kSQL registration with advancedConfigs pg* keys discovers the instance (named
 * "localhost:<port>"), its databases (sizes near pg_database_size, owners) and their tables (sizes
 * exactly pg_total_relation_size: autovacuum is off); the same objects in the v1 protectionSources
 * tree (sqlProtectionSource: kInstance with the data directory, kDatabase with owner) and in the
 * object search (environments=kSQL, mssqlParams.hostInfo); the password in no response, not in any
 * file of the daemon's data directory (catalog, WAL, repository) and not in its log, while the stored
 * connection holds it sealed ("cfs1:"); a database created and one dropped (with its tables) and a
 * table dropped are seen by a refresh, ids kept; a PUT without pgPassword keeps the password; a wrong
 * password leaves the registration Pending with the server's own message and no instance, and the
 * right one brings back the same ids; bad advancedConfigs values are 400s naming the field and change
 * nothing; svc_pg_target on the daemon's catalog and repository resolves a table and a database to
 * a conninfo that connects as the registered role (and refuses a host, or a sealed password without
 * the repository). A kPhysical registration of this machine with the kSQL application gets the
 * instance beside its volumes, refreshing one does not flag the other, and a PUT without the kSQL
 * application flags the instance vanished. A database of 10001 tables is listed with its first 10000
 * and the refresh message says so (the time of that refresh is printed as a figure). */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/pgtest.h"
#include "catalog/cat.h"
#include "catalog/cat_source.h"
#include "repo/repo.h"
#include "svc/pg_target.h"
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REGS "/v2/data-protect/sources/registrations"
#define SEARCH "/v2/data-protect/search/objects"
#define V1 "/irisservices/api/v1/public/protectionSources"
#define PG_PORT 55101
#define PASSWORD "Zq7-pw-disc-5f3a91"
#define ROLE "coffer_disc"

static const char *const TESTS[] = { "register_discovers_instance_databases_tables", "v1_tree_shows_sql_nodes",
                                     "search_finds_sql_objects", "password_never_in_clear",
                                     "refresh_sees_created_and_dropped", "put_keeps_password_wrong_one_is_pending",
                                     "wrong_password_registration_is_pending", "bad_advanced_configs_are_400",
                                     "physical_host_with_sql_application", "table_list_is_cut_at_10000",
                                     "svc_pg_target_resolves_and_connects" };

static struct daemon d;
static struct pgtest pg;
static PGconn *admin;          /* postgres, trust */
static long long reg_id;       /* the registration of tenant "t-pg" */

/* body: a kSQL registration of this machine with the given password (NULL: no pgPassword pair) and
 * extra pairs appended (a JSON fragment starting with ',' or ""). */
static const char *body(const char *password, const char *extra)
{
    char pw[200] = "";
    if (password) snprintf(pw, sizeof pw, ",{'key':'pgPassword','value':'%s'}", password);
    return jfmt("{'environment':'kSQL','name':'pg-local','physicalParams':{'endpoint':'localhost'},"
                "'advancedConfigs':[{'key':'k1','value':'v1'},{'key':'pgPort','value':'%d'},"
                "{'key':'pgSocketDir','value':'%s'},{'key':'pgUser','value':'" ROLE "'},"
                "{'key':'pgDatabase','value':'postgres'}%s%s]}",
                PG_PORT, pg.sock, pw, extra);
}

/* child: the entry of j's childObjects named name, or NULL. */
static json_t *child(json_t *j, const char *name)
{
    json_t *kids = json_object_get(j, "childObjects"), *k;
    size_t i;
    json_array_foreach(kids, i, k) {
        if (jstr(k, "name") && strcmp(jstr(k, "name"), name) == 0) return k;
    }
    return NULL;
}

static long long sql_int(const char *db, const char *sql)
{
    char v[64] = "";
    PGconn *c = pgtest_connect(&pg, db);
    long long n = -1;
    if (c && pgtest_value(c, sql, v, sizeof v) == 0) n = strtoll(v, NULL, 10);
    PQfinish(c);
    return n;
}

static int get_reg(const char *tenant, long long id, struct http_resp *r)
{
    char path[128];
    snprintf(path, sizeof path, REGS "/%lld", id);
    return http(&d, "GET", path, tenant, NULL, r) == 0 && r->status == 200 ? 0 : -1;
}

TEST(register_discovers_instance_databases_tables)
{
    struct http_resp r;
    json_t *inst, *sales, *hr, *post, *t;
    size_t i;
    json_t *e;
    CHECK(http(&d, "POST", REGS, "t-pg", body(PASSWORD, ""), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    reg_id = jint(r.json, "id");
    CHECKF(strcmp(jstr(r.json, "authenticationStatus"), "Finished") == 0, "%s", r.body);
    CHECK(jget(r.json, "refreshErrorMessage") == NULL);
    CHECK(strcmp(jstr(r.json, "sourceInfo.environment"), "kSQL") == 0);
    CHECK(strcmp(jstr(r.json, "sourceInfo.objectType"), "kHost") == 0);
    CHECK(json_array_size(jget(r.json, "sourceInfo.childObjects")) == 1);
    inst = child(jget(r.json, "sourceInfo"), "localhost:55101");
    CHECKF(inst != NULL, "%s", r.body);
    CHECK(strcmp(jstr(inst, "objectType"), "kInstance") == 0 && strcmp(jstr(inst, "environment"), "kSQL") == 0);
    CHECK(jint(inst, "sourceId") == reg_id);
    /* the databases: not the templates */
    CHECK(json_array_size(json_object_get(inst, "childObjects")) == 3);
    CHECK((sales = child(inst, "sales")) && (hr = child(inst, "hr")) && (post = child(inst, "postgres")));
    CHECK(strcmp(jstr(sales, "objectType"), "kDatabase") == 0);
    {
        long long want = sql_int("sales", "SELECT pg_database_size('sales')"), got = jint(sales, "logicalSizeBytes");
        CHECKF(want > 0 && got > want * 9 / 10 && got < want * 11 / 10, "sales: %lld vs %lld", got, want);
    }
    CHECK(jint(inst, "logicalSizeBytes") >= jint(sales, "logicalSizeBytes") + jint(hr, "logicalSizeBytes"));
    /* the tables, with their exact sizes */
    CHECK(json_array_size(json_object_get(sales, "childObjects")) == 3);
    CHECK(json_array_size(json_object_get(hr, "childObjects")) == 1);
    CHECK(json_array_size(json_object_get(post, "childObjects")) == 0);
    CHECK((t = child(sales, "public.orders")) && strcmp(jstr(t, "objectType"), "kTable") == 0);
    CHECK_EQ_INT(jint(t, "logicalSizeBytes"), sql_int("sales", "SELECT pg_total_relation_size('public.orders')"));
    CHECK((t = child(sales, "acct.ledger")));
    CHECK_EQ_INT(jint(t, "logicalSizeBytes"), sql_int("sales", "SELECT pg_total_relation_size('acct.ledger')"));
    CHECK((t = child(hr, "public.staff")));
    CHECK_EQ_INT(jint(t, "logicalSizeBytes"), sql_int("hr", "SELECT pg_total_relation_size('public.staff')"));
    CHECK(strcmp(jstr(t, "mssqlParams.hostInfo.id"), jfmt("%lld", reg_id)) == 0);
    /* the pairs: pgPassword is not answered, the others are */
    json_array_foreach(jget(r.json, "advancedConfigs"), i, e) CHECK(strcmp(jstr(e, "key"), "pgPassword") != 0);
    CHECK(json_array_size(jget(r.json, "advancedConfigs")) == 5);
    CHECK(strstr(r.body, PASSWORD) == NULL);
    http_resp_release(&r);
}

/* v1_node: the node with protectionSource.id == id in a forest, or NULL. */
static json_t *v1_node(json_t *arr, long long id)
{
    size_t i;
    json_t *n;
    json_array_foreach(arr, i, n) {
        json_t *hit;
        if (jint(n, "protectionSource.id") == id) return n;
        if ((hit = v1_node(json_object_get(n, "nodes"), id))) return hit;
    }
    return NULL;
}

static json_t *v1_named(json_t *arr, const char *name)
{
    size_t i;
    json_t *n;
    json_array_foreach(arr, i, n) {
        if (strcmp(jstr(n, "protectionSource.name"), name) == 0) return n;
    }
    return NULL;
}

TEST(v1_tree_shows_sql_nodes)
{
    struct http_resp r;
    json_t *root, *inst, *sales, *orders;
    CHECK(reg_id > 0);
    CHECK(http(&d, "GET", V1 "?environments=kSQL", "t-pg", NULL, &r) == 0 && r.status == 200);
    CHECK(json_array_size(r.json) == 1);
    CHECK((root = v1_node(r.json, reg_id)) && json_array_size(json_object_get(root, "nodes")) == 1);
    inst = json_array_get(json_object_get(root, "nodes"), 0);
    CHECK(strcmp(jstr(inst, "protectionSource.environment"), "kSQL") == 0);
    CHECK(strcmp(jstr(inst, "protectionSource.sqlProtectionSource.type"), "kInstance") == 0);
    CHECK(strcmp(jstr(inst, "protectionSource.sqlProtectionSource.name"), "localhost:55101") == 0);
    CHECKF(strcmp(jstr(inst, "protectionSource.sqlProtectionSource.defaultDatabaseLocation"), pg.data) == 0, "%s",
           jstr(inst, "protectionSource.sqlProtectionSource.defaultDatabaseLocation"));
    CHECK(jget(inst, "protectionSource.physicalProtectionSource") == NULL);
    CHECK(json_array_size(json_object_get(inst, "nodes")) == 3);
    CHECK((sales = v1_named(json_object_get(inst, "nodes"), "sales")));
    CHECK(strcmp(jstr(sales, "protectionSource.sqlProtectionSource.type"), "kDatabase") == 0);
    CHECK(strcmp(jstr(sales, "protectionSource.sqlProtectionSource.databaseName"), "sales") == 0);
    CHECK(strcmp(jstr(sales, "protectionSource.sqlProtectionSource.dbOwnerUsername"), "sales_owner") == 0);
    CHECK(jint(sales, "protectionSource.parentId") == jint(inst, "protectionSource.id"));
    CHECK((orders = v1_named(json_object_get(sales, "nodes"), "public.orders")));
    CHECK(strcmp(jstr(orders, "protectionSource.sqlProtectionSource.databaseName"), "sales") == 0);
    CHECK(jint(orders, "logicalSize") == sql_int("sales", "SELECT pg_total_relation_size('public.orders')"));
    /* leaves: 4 tables + the empty postgres database, all unprotected */
    CHECK(jint(json_array_get(jget(root, "unprotectedSourcesSummary"), 0), "leavesCount") == 5);
    http_resp_release(&r);
}

TEST(search_finds_sql_objects)
{
    struct http_resp r;
    json_t *o, *sales = NULL;
    size_t i;
    int tables = 0;
    CHECK(reg_id > 0);
    CHECK(http(&d, "GET", SEARCH "?environments=kSQL", "t-pg", NULL, &r) == 0 && r.status == 200);
    /* the host, the instance, 3 databases, 4 tables */
    CHECKF(jint(r.json, "count") == 9, "%s", r.body);
    json_array_foreach(jget(r.json, "objects"), i, o) {
        if (strcmp(jstr(o, "objectType"), "kTable") == 0) tables++;
        if (strcmp(jstr(o, "name"), "sales") == 0) sales = o;
    }
    CHECK(tables == 4);
    CHECK(sales && strcmp(jstr(sales, "objectType"), "kDatabase") == 0);
    CHECK(strcmp(jstr(sales, "mssqlParams.hostInfo.id"), jfmt("%lld", reg_id)) == 0);
    CHECK(jint(sales, "sourceInfo.id") == reg_id);
    CHECK(json_array_size(json_object_get(sales, "childObjects")) == 3);
    http_resp_release(&r);
    CHECK(http(&d, "GET", SEARCH "?environments=kSQL&searchString=public.*", "t-pg", NULL, &r) == 0);
    CHECK(r.status == 200 && jint(r.json, "count") == 3);
    http_resp_release(&r);
}

/* scan: whether any regular file under the daemon's data directory holds the password. */
static const char *g_found;
static int scan_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)f;
    if (flag != FTW_F || st->st_size <= 0 || st->st_size > 256 * 1024 * 1024) return 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    char *buf = malloc((size_t)st->st_size);
    size_t n = buf ? fread(buf, 1, (size_t)st->st_size, fp) : 0;
    fclose(fp);
    if (buf && memmem(buf, n, PASSWORD, strlen(PASSWORD))) {
        static char where[600];
        snprintf(where, sizeof where, "%s", path);
        g_found = where;
    }
    free(buf);
    return 0;
}

TEST(password_never_in_clear)
{
    struct http_resp r;
    char path[700];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    const char *spec;
    int ok;
    CHECK(reg_id > 0);
    CHECK(http(&d, "GET", REGS, "t-pg", NULL, &r) == 0 && r.status == 200);
    CHECK(strstr(r.body, PASSWORD) == NULL && strstr(r.body, "pgPassword") == NULL);
    http_resp_release(&r);
    CHECK(http(&d, "GET", V1, "t-pg", NULL, &r) == 0 && r.status == 200 && strstr(r.body, PASSWORD) == NULL);
    http_resp_release(&r);
    CHECK(http(&d, "GET", V1 "/registrationInfo", "t-pg", NULL, &r) == 0 && r.status == 200 &&
          strstr(r.body, PASSWORD) == NULL);
    http_resp_release(&r);
    g_found = NULL;
    CHECK(nftw(d.data_dir, scan_one, 16, FTW_PHYS) == 0);
    CHECKF(g_found == NULL, "the password is in clear in %s", g_found);
    g_found = NULL;
    scan_one(d.log_path, &(struct stat){ .st_size = 64 * 1024 * 1024 }, FTW_F, NULL);
    CHECKF(g_found == NULL, "the password is in the daemon's log");
    /* what is stored is the sealed text */
    snprintf(path, sizeof path, "%s/catalog.db", d.data_dir);
    ok = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
         sqlite3_prepare_v2(db, "SELECT spec FROM sources WHERE id = ?1", -1, &st, NULL) == SQLITE_OK &&
         sqlite3_bind_int64(st, 1, reg_id) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
         (spec = (const char *)sqlite3_column_text(st, 0)) && strstr(spec, "\"password_sealed\":\"cfs1:") &&
         strstr(spec, "\"user\":\"" ROLE "\"");
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECK(ok);
}

TEST(refresh_sees_created_and_dropped)
{
    struct http_resp r;
    char why[512], path[128];
    long long sales_id, orders_id, hr_id, staff_id;
    json_t *inst, *o;
    size_t i;
    int hr_deleted = 0, staff_deleted = 0, old_deleted = 0;
    CHECK(reg_id > 0);
    CHECK(get_reg("t-pg", reg_id, &r) == 0);
    inst = child(jget(r.json, "sourceInfo"), "localhost:55101");
    CHECK(inst);
    sales_id = jint(child(inst, "sales"), "id");
    orders_id = jint(child(child(inst, "sales"), "public.orders"), "id");
    hr_id = jint(child(inst, "hr"), "id");
    staff_id = jint(child(child(inst, "hr"), "public.staff"), "id");
    http_resp_release(&r);
    CHECK(sales_id > 0 && orders_id > 0 && hr_id > 0 && staff_id > 0);
    CHECKF(pgtest_exec(admin, "DROP DATABASE hr", why, sizeof why) == 0, "%s", why);
    CHECKF(pgtest_exec(admin, "CREATE DATABASE fresh OWNER sales_owner", why, sizeof why) == 0, "%s", why);
    {
        PGconn *c = pgtest_connect(&pg, "fresh"), *s = pgtest_connect(&pg, "sales");
        int rc = c && s ? pgtest_exec(c, "CREATE TABLE newt AS SELECT g AS id FROM generate_series(1, 500) g", why,
                                      sizeof why)
                        : -1;
        if (rc == 0) rc = pgtest_exec(s, "DROP TABLE public.customers", why, sizeof why);
        PQfinish(c);
        PQfinish(s);
        CHECKF(rc == 0, "%s", why);
    }
    snprintf(path, sizeof path, "/v2/data-protect/sources/%lld/refresh", reg_id);
    CHECK(http(&d, "POST", path, "t-pg", NULL, &r) == 0);
    CHECKF(r.status == 204, "%ld %s", r.status, r.body);
    http_resp_release(&r);
    CHECK(get_reg("t-pg", reg_id, &r) == 0);
    CHECK(strcmp(jstr(r.json, "authenticationStatus"), "Finished") == 0);
    inst = child(jget(r.json, "sourceInfo"), "localhost:55101");
    CHECK(inst && json_array_size(json_object_get(inst, "childObjects")) == 3);
    CHECK(child(inst, "hr") == NULL);
    CHECK(child(inst, "fresh") && child(child(inst, "fresh"), "public.newt"));
    CHECK_EQ_INT(jint(child(child(inst, "fresh"), "public.newt"), "logicalSizeBytes"),
                 sql_int("fresh", "SELECT pg_total_relation_size('public.newt')"));
    CHECK(jint(child(inst, "sales"), "id") == sales_id);                       /* ids kept */
    CHECK(jint(child(child(inst, "sales"), "public.orders"), "id") == orders_id);
    CHECK(child(child(inst, "sales"), "public.customers") == NULL);
    http_resp_release(&r);
    /* the dropped database is flagged with its table, and so is the dropped table */
    CHECK(http(&d, "GET", SEARCH "?environments=kSQL&isDeleted=true", "t-pg", NULL, &r) == 0 && r.status == 200);
    json_array_foreach(jget(r.json, "objects"), i, o) {
        if (jint(o, "id") == hr_id) hr_deleted = 1;
        if (jint(o, "id") == staff_id) staff_deleted = 1;
        if (strcmp(jstr(o, "name"), "public.customers") == 0) old_deleted = 1;
    }
    CHECKF(jint(r.json, "count") == 3 && hr_deleted && staff_deleted && old_deleted, "%s", r.body);
    http_resp_release(&r);
    /* and the dropped database comes back with its old id when it returns */
    CHECKF(pgtest_exec(admin, "CREATE DATABASE hr", why, sizeof why) == 0, "%s", why);
    CHECK(http(&d, "POST", path, "t-pg", NULL, &r) == 0 && r.status == 204);
    http_resp_release(&r);
    CHECK(get_reg("t-pg", reg_id, &r) == 0);
    inst = child(jget(r.json, "sourceInfo"), "localhost:55101");
    CHECK(inst && jint(child(inst, "hr"), "id") == hr_id);
    CHECK(json_array_size(json_object_get(child(inst, "hr"), "childObjects")) == 0);
    http_resp_release(&r);
}

TEST(put_keeps_password_wrong_one_is_pending)
{
    struct http_resp r;
    char path[128];
    long long inst_id;
    CHECK(reg_id > 0);
    snprintf(path, sizeof path, REGS "/%lld", reg_id);
    CHECK(get_reg("t-pg", reg_id, &r) == 0);
    inst_id = jint(child(jget(r.json, "sourceInfo"), "localhost:55101"), "id");
    http_resp_release(&r);
    CHECK(inst_id > 0);
    /* no pgPassword: the stored one is kept (the server asks for it) */
    CHECK(http(&d, "PUT", path, "t-pg", body(NULL, ""), &r) == 0);
    CHECKF(r.status == 200 && strcmp(jstr(r.json, "authenticationStatus"), "Finished") == 0, "%ld %s", r.status,
           r.body);
    CHECK(jint(child(jget(r.json, "sourceInfo"), "localhost:55101"), "id") == inst_id);
    http_resp_release(&r);
    /* a wrong one: Pending, the server's message, no instance */
    CHECK(http(&d, "PUT", path, "t-pg", body("not-the-password", ""), &r) == 0 && r.status == 200);
    CHECKF(strcmp(jstr(r.json, "authenticationStatus"), "Pending") == 0, "%s", r.body);
    CHECKF(strstr(jstr(r.json, "authenticationErrorMessage"),
                  "password authentication failed for user \"" ROLE "\"") != NULL, "%s", r.body);
    CHECK(json_array_size(jget(r.json, "sourceInfo.childObjects")) == 0);
    CHECK(strstr(r.body, "not-the-password") == NULL);
    http_resp_release(&r);
    /* the right one again: the same ids */
    CHECK(http(&d, "PUT", path, "t-pg", body(PASSWORD, ""), &r) == 0 && r.status == 200);
    CHECK(strcmp(jstr(r.json, "authenticationStatus"), "Finished") == 0 && !jget(r.json, "refreshErrorMessage"));
    CHECK(jint(child(jget(r.json, "sourceInfo"), "localhost:55101"), "id") == inst_id);
    http_resp_release(&r);
}

TEST(wrong_password_registration_is_pending)
{
    struct http_resp r;
    CHECK(http(&d, "POST", REGS, "t-pg-wrong", body("wrong-pw", ""), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    CHECK(strcmp(jstr(r.json, "authenticationStatus"), "Pending") == 0);
    CHECKF(strstr(jstr(r.json, "refreshErrorMessage"), "password authentication failed for user \"" ROLE "\""),
           "%s", r.body);
    CHECK(strstr(jstr(r.json, "authenticationErrorMessage"), pg.sock) != NULL);
    CHECK(json_array_size(jget(r.json, "sourceInfo.childObjects")) == 0);
    http_resp_release(&r);
    CHECK(http(&d, "GET", SEARCH "?environments=kSQL", "t-pg-wrong", NULL, &r) == 0 && r.status == 200);
    CHECK(jint(r.json, "count") == 1);   /* the host alone */
    http_resp_release(&r);
}

TEST(bad_advanced_configs_are_400)
{
    static const struct { const char *extra, *field; } bad[] = {
        { ",{'key':'pgPort','value':'1'}", "advancedConfigs[6].key': pgPort is given twice" },
        { ",{'key':'pgFoo','value':'1'}", "advancedConfigs[6].key' is 'pgFoo'" },
        { ",{'key':'PGHOST','value':'x'}", "advancedConfigs[6].key' is 'PGHOST'" },
    };
    static const struct { const char *from, *to, *field; } swap[] = {
        { "'pgPort','value':'55101'", "'pgPort','value':'0'", "advancedConfigs[1].value' (pgPort)" },
        { "'pgPort','value':'55101'", "'pgPort','value':'70000'", "advancedConfigs[1].value' (pgPort)" },
        { "'pgPort','value':'55101'", "'pgPort','value':'55x'", "advancedConfigs[1].value' (pgPort)" },
        { "'pgPort','value':'55101'", "'pgPort','value':'-5'", "advancedConfigs[1].value' (pgPort)" },
        { "'pgUser','value':'" ROLE "'", "'pgUser','value':''", "advancedConfigs[3].value' (pgUser)" },
        { "'pgDatabase','value':'postgres'", "'pgDatabase','value':'a\\tb'", "advancedConfigs[4].value' (pgDatabase)" },
        { "'pgSocketDir','value':'/", "'pgSocketDir','value':'relative/", "advancedConfigs[2].value' (pgSocketDir)" },
    };
    struct http_resp r;
    char *before, *after;
    CHECK(http(&d, "GET", REGS, "t-pg-bad", NULL, &r) == 0 && r.status == 200);
    before = strdup(r.body);
    http_resp_release(&r);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(http(&d, "POST", REGS, "t-pg-bad", body(PASSWORD, bad[i].extra), &r) == 0);
        CHECKF(r.status == 400 && strstr(jstr(r.json, "message"), bad[i].field), "%zu: %ld %s", i, r.status, r.body);
        CHECK(strstr(r.body, PASSWORD) == NULL);
        http_resp_release(&r);
    }
    for (size_t i = 0; i < sizeof swap / sizeof *swap; i++) {
        char b[4096], from[200], to[200];
        const char *src = body(PASSWORD, ""), *at;
        /* jfmt turned ' into "; do the same to the patterns */
        snprintf(from, sizeof from, "%s", jfmt("%s", swap[i].from));
        snprintf(to, sizeof to, "%s", jfmt("%s", swap[i].to));
        CHECK((at = strstr(src, from)) != NULL);
        snprintf(b, sizeof b, "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
        CHECK(http(&d, "POST", REGS, "t-pg-bad", b, &r) == 0);
        CHECKF(r.status == 400 && strstr(jstr(r.json, "message"), swap[i].field), "%zu: %ld %s", i, r.status, r.body);
        http_resp_release(&r);
    }
    /* a pg key on a registration without PostgreSQL */
    CHECK(http(&d, "POST", REGS, "t-pg-bad",
               jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'localhost'},"
                    "'advancedConfigs':[{'key':'pgPort','value':'5432'}]}"), &r) == 0);
    CHECKF(r.status == 400 && strstr(jstr(r.json, "message"), "advancedConfigs[0].key' is pgPort"), "%s", r.body);
    http_resp_release(&r);
    CHECK(http(&d, "GET", REGS, "t-pg-bad", NULL, &r) == 0 && r.status == 200);
    after = strdup(r.body);
    http_resp_release(&r);
    CHECK(strcmp(before, after) == 0 && strstr(after, "\"registrations\":[]"));
    free(before);
    free(after);
}

TEST(svc_pg_target_resolves_and_connects)
{
    char path[700], key[700], err[512] = "", v[128] = "";
    struct cat *cat = NULL;
    struct repo *repo = NULL;
    struct svc_pg_target t = { 0 };
    struct cat_object inst_o = { 0 };
    long long orders_id = 0, sales_id = 0;
    char *ci = NULL;
    PGconn *c;
    struct http_resp r;
    json_t *inst;
    int rc;
    CHECK(reg_id > 0);
    CHECK(get_reg("t-pg", reg_id, &r) == 0);
    inst = child(jget(r.json, "sourceInfo"), "localhost:55101");
    sales_id = jint(child(inst, "sales"), "id");
    orders_id = jint(child(child(inst, "sales"), "public.orders"), "id");
    http_resp_release(&r);
    CHECK(sales_id > 0 && orders_id > 0);
    /* the daemon stops (data kept); its catalog and repository are opened here */
    CHECK(daemon_kill(&d, SIGTERM) == 0);
    snprintf(path, sizeof path, "%s/catalog.db", d.data_dir);
    CHECKF(cat_open(path, &cat, err, sizeof err) == 0, "%s", err);
    snprintf(path, sizeof path, "%s/repo", d.data_dir);
    snprintf(key, sizeof key, "%s/repo.key", d.data_dir);
    rc = repo_open(path, key, &repo, err, sizeof err);
    if (rc != 0) {
        cat_close(cat);
        CHECKF(0, "repo_open: %s", err);
    }
    rc = svc_pg_target(cat, repo, "t-pg", orders_id, &t, err, sizeof err);
    if (rc == 0) {
        int ok = t.object_id == orders_id && t.source_id == reg_id && t.table && strcmp(t.table, "public.orders") == 0 &&
                 t.database && strcmp(t.database, "sales") == 0 && t.port == PG_PORT && t.socket_dir &&
                 strcmp(t.socket_dir, pg.sock) == 0 && t.instance_name &&
                 strcmp(t.instance_name, "localhost:55101") == 0 && t.data_directory &&
                 strcmp(t.data_directory, pg.data) == 0 &&
                 cat_object_get(cat, "t-pg", t.instance_id, &inst_o) == 0 && inst_o.object_type &&
                 strcmp(inst_o.object_type, "kInstance") == 0;
        cat_object_release(&inst_o);
        if (!ok) rc = -100;
    }
    if (rc == 0) {
        c = PQconnectdb(t.conninfo);
        rc = PQstatus(c) == CONNECTION_OK && pgtest_value(c, "SELECT current_user || '@' || current_database()", v,
                                                          sizeof v) == 0 && strcmp(v, ROLE "@postgres") == 0 ? 0 : -101;
        PQfinish(c);
    }
    if (rc == 0) rc = svc_pg_conninfo_db(&t, "sales", &ci);
    if (rc == 0) {
        c = PQconnectdb(ci);
        rc = PQstatus(c) == CONNECTION_OK && pgtest_value(c, "SELECT count(*) FROM public.orders", v, sizeof v) == 0 &&
                     strcmp(v, "2000") == 0 ? 0 : -102;
        PQfinish(c);
        svc_pg_conninfo_free(ci);
    }
    svc_pg_target_release(&t);
    /* a database; the host is no PostgreSQL object; without the repository the password cannot open */
    if (rc == 0) {
        rc = svc_pg_target(cat, repo, "t-pg", sales_id, &t, err, sizeof err);
        if (rc == 0 && (t.table || !t.database || strcmp(t.database, "sales") != 0 || t.instance_id <= 0)) rc = -103;
        svc_pg_target_release(&t);
    }
    if (rc == 0 && svc_pg_target(cat, repo, "t-pg", reg_id, &t, err, sizeof err) != -ENOENT) rc = -104;
    if (rc == 0 && svc_pg_target(cat, repo, "t-other", orders_id, &t, err, sizeof err) != -ENOENT) rc = -105;
    if (rc == 0 && svc_pg_target(cat, NULL, "t-pg", orders_id, &t, err, sizeof err) != -EAGAIN) rc = -106;
    repo_close(repo);
    cat_close(cat);
    CHECKF(rc == 0, "rc %d: %s", rc, err);
}

TEST(physical_host_with_sql_application)
{
    struct http_resp r;
    const char *b = body(PASSWORD, "");
    char phys[4096];
    json_t *k, *inst = NULL, *root, *n;
    size_t i;
    int volumes = 0, sql_nodes = 0;
    long long id;
    /* the same connection on a kPhysical registration of this machine with the kSQL application */
    CHECK(strstr(b, "\"advancedConfigs\"") != NULL);
    snprintf(phys, sizeof phys, "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"localhost\","
             "\"applications\":[\"kSQL\"]},%s", strstr(b, "\"advancedConfigs\""));
    CHECK(http(&d, "POST", REGS, "t-pg-phys", phys, &r) == 0);
    CHECKF(r.status == 201 && strcmp(jstr(r.json, "authenticationStatus"), "Finished") == 0, "%ld %s", r.status, r.body);
    id = jint(r.json, "id");
    json_array_foreach(jget(r.json, "sourceInfo.childObjects"), i, k) {
        if (strcmp(jstr(k, "objectType"), "kVolume") == 0 && strcmp(jstr(k, "environment"), "kPhysical") == 0) volumes++;
        if (strcmp(jstr(k, "objectType"), "kInstance") == 0) inst = k;
    }
    CHECKF(volumes > 0 && inst, "%s", r.body);
    CHECK(strcmp(jstr(inst, "environment"), "kSQL") == 0 && strcmp(jstr(inst, "name"), "localhost:55101") == 0);
    CHECK(child(inst, "sales") && child(child(inst, "sales"), "public.orders"));
    http_resp_release(&r);
    /* a refresh keeps both: the volumes' sync does not flag the instance, nor the other way round */
    CHECK(http(&d, "POST", jfmt("/v2/data-protect/sources/%lld/refresh", id), "t-pg-phys", NULL, &r) == 0 &&
          r.status == 204);
    http_resp_release(&r);
    CHECK(http(&d, "GET", SEARCH "?environments=kPhysical", "t-pg-phys", NULL, &r) == 0 && r.status == 200);
    CHECK(jint(r.json, "count") == volumes + 1);
    http_resp_release(&r);
    CHECK(http(&d, "GET", SEARCH "?environments=kSQL", "t-pg-phys", NULL, &r) == 0 && r.status == 200);
    CHECK(jint(r.json, "count") >= 3);   /* the instance, its databases and tables; not the host */
    json_array_foreach(jget(r.json, "objects"), i, k) CHECK(strcmp(jstr(k, "environment"), "kSQL") == 0);
    http_resp_release(&r);
    CHECK(http(&d, "GET", V1, "t-pg-phys", NULL, &r) == 0 && r.status == 200);
    CHECK((root = v1_node(r.json, id)));
    CHECK(json_array_size(jget(root, "protectionSource.physicalProtectionSource.volumes")) == (size_t)volumes);
    json_array_foreach(json_object_get(root, "nodes"), i, n) {
        if (jget(n, "protectionSource.sqlProtectionSource")) sql_nodes++;
    }
    CHECK(sql_nodes == 1 && json_array_size(json_object_get(root, "nodes")) == (size_t)volumes + 1);
    http_resp_release(&r);
    /* the kSQL application taken away: the instance is flagged vanished, the volumes stay */
    CHECK(http(&d, "PUT", jfmt(REGS "/%lld", id), "t-pg-phys",
               jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'localhost'}}"), &r) == 0);
    CHECKF(r.status == 200 && strcmp(jstr(r.json, "authenticationStatus"), "Finished") == 0, "%s", r.body);
    CHECK(json_array_size(jget(r.json, "sourceInfo.childObjects")) == (size_t)volumes);
    http_resp_release(&r);
    CHECK(http(&d, "GET", SEARCH "?environments=kSQL", "t-pg-phys", NULL, &r) == 0 && r.status == 200);
    CHECK(jint(r.json, "count") == 0);
    http_resp_release(&r);
}

TEST(table_list_is_cut_at_10000)
{
    struct http_resp r;
    char why[512];
    struct timespec a, b;
    double ms;
    json_t *many;
    PGconn *c;
    int rc;
    CHECK(reg_id > 0);
    CHECKF(pgtest_exec(admin, "CREATE DATABASE many", why, sizeof why) == 0, "%s", why);
    CHECK((c = pgtest_connect(&pg, "many")));
    /* 10001 tables, committed in batches (the lock table holds no 10001 new relations at once) */
    rc = pgtest_exec(c, "DO $$ BEGIN FOR i IN 1..10001 LOOP "
                        "EXECUTE format('CREATE TABLE t%s (id int)', lpad(i::text, 5, '0')); "
                        "IF i % 500 = 0 THEN COMMIT; END IF; END LOOP; END $$", why, sizeof why);
    PQfinish(c);
    CHECKF(rc == 0, "%s", why);
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK(http(&d, "POST", jfmt("/v2/data-protect/sources/%lld/refresh", reg_id), "t-pg", NULL, &r) == 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    printf("figure: refresh of an instance with 5 databases, one of them with 10001 tables: %.0f ms\n", ms);
    CHECKF(r.status == 204, "%ld %s", r.status, r.body);
    http_resp_release(&r);
    CHECK(get_reg("t-pg", reg_id, &r) == 0);
    CHECK(strcmp(jstr(r.json, "authenticationStatus"), "Finished") == 0);
    CHECKF(jstr(r.json, "refreshErrorMessage") &&
           strstr(jstr(r.json, "refreshErrorMessage"), "database many has more than 10000 tables"), "%.300s", r.body);
    many = child(child(jget(r.json, "sourceInfo"), "localhost:55101"), "many");
    CHECK(many && json_array_size(json_object_get(many, "childObjects")) == 10000);
    CHECK(child(many, "public.t00001") && child(many, "public.t10000") && !child(many, "public.t10001"));
    http_resp_release(&r);
    /* gone again: the message goes with it */
    CHECKF(pgtest_exec(admin, "DROP DATABASE many", why, sizeof why) == 0, "%s", why);
    CHECK(http(&d, "POST", jfmt("/v2/data-protect/sources/%lld/refresh", reg_id), "t-pg", NULL, &r) == 0 &&
          r.status == 204);
    http_resp_release(&r);
    CHECK(get_reg("t-pg", reg_id, &r) == 0);
    CHECK(!jget(r.json, "refreshErrorMessage") && !child(child(jget(r.json, "sourceInfo"), "localhost:55101"), "many"));
    http_resp_release(&r);
}

/* setup: the role, the databases and tables, and a pg_hba asking every role but postgres a password. */
static int setup(char *why, size_t n)
{
    char hba[700];
    FILE *f;
    PGconn *s = NULL, *h = NULL;
    int rc;
    if (!(admin = pgtest_connect(&pg, "postgres"))) {
        snprintf(why, n, "cannot connect to the test server");
        return -1;
    }
    rc = pgtest_exec(admin, "CREATE ROLE " ROLE " LOGIN PASSWORD '" PASSWORD "';"
                            "GRANT pg_read_all_settings, pg_read_all_stats TO " ROLE ";"
                            "CREATE ROLE sales_owner;", why, n);
    if (rc == 0) rc = pgtest_exec(admin, "CREATE DATABASE sales OWNER sales_owner", why, n);
    if (rc == 0) rc = pgtest_exec(admin, "CREATE DATABASE hr", why, n);
    if (rc == 0 && (!(s = pgtest_connect(&pg, "sales")) || !(h = pgtest_connect(&pg, "hr")))) rc = -1;
    if (rc == 0)
        rc = pgtest_exec(s, "CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS item FROM generate_series(1, 2000) g;"
                            "CREATE TABLE customers (id int PRIMARY KEY, name text);"
                            "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 100) g;"
                            "CREATE SCHEMA acct; CREATE TABLE acct.ledger AS SELECT g AS id FROM generate_series(1, 50) g;",
                         why, n);
    if (rc == 0) rc = pgtest_exec(s, "GRANT SELECT ON public.orders TO " ROLE, why, n);
    if (rc == 0) rc = pgtest_exec(s, "VACUUM ANALYZE", why, n);
    if (rc == 0) rc = pgtest_exec(h, "CREATE TABLE staff (id int, name text); INSERT INTO staff VALUES (1, 'a');", why, n);
    if (rc == 0) rc = pgtest_exec(h, "VACUUM", why, n);
    PQfinish(s);
    PQfinish(h);
    if (rc != 0) return rc;
    snprintf(hba, sizeof hba, "%s/pg_hba.conf", pg.data);
    if (!(f = fopen(hba, "w"))) {
        snprintf(why, n, "cannot write %s", hba);
        return -1;
    }
    fprintf(f, "local all postgres trust\nlocal all all scram-sha-256\n");
    if (fclose(f) != 0) return -1;
    return pgtest_exec(admin, "SELECT pg_reload_conf()", why, n);
}

int main(void)
{
    char why[1024] = "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    int ready = pgtest_available(why, sizeof why) == 0;
    if (ready && (pgtest_root(&pg, "pgdisc", "data", PG_PORT, why, sizeof why) != 0 ||
                  pgtest_initdb(&pg, why, sizeof why) != 0))
        ready = 0;
    if (ready) {   /* sizes must not move under the test */
        char conf[700];
        snprintf(conf, sizeof conf, "%s/postgresql.conf", pg.data);
        FILE *f = fopen(conf, "a");
        if (!f || fprintf(f, "autovacuum = off\n") < 0 || fclose(f) != 0) {
            snprintf(why, sizeof why, "cannot append to %s", conf);
            ready = 0;
        }
    }
    if (ready && pgtest_start(&pg, why, sizeof why) != 0) ready = 0;
    if (!ready) {
        for (size_t i = 0; i < sizeof TESTS / sizeof *TESTS; i++) SKIP(TESTS[i], "PostgreSQL: %s", why);
        pgtest_destroy(&pg);
        return check_finish();
    }
    if (setup(why, sizeof why) != 0) check_abandon(why);
    else if (daemon_start(&d, NULL) != 0) check_abandon("the daemon did not start");
    RUN(register_discovers_instance_databases_tables);
    RUN(v1_tree_shows_sql_nodes);
    RUN(search_finds_sql_objects);
    RUN(password_never_in_clear);
    RUN(refresh_sees_created_and_dropped);
    RUN(put_keeps_password_wrong_one_is_pending);
    RUN(wrong_password_registration_is_pending);
    RUN(bad_advanced_configs_are_400);
    RUN(physical_host_with_sql_application);
    RUN(table_list_is_cut_at_10000);
    RUN(svc_pg_target_resolves_and_connects);   /* last: it stops the daemon */
    if (d.data_dir && daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "the daemon did not exit cleanly");
    PQfinish(admin);
    pgtest_destroy(&pg);
    return check_finish();
}
