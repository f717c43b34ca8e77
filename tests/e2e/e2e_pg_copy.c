/* e2e_pg_copy.c: restores out of a base backup at the engine level (src/engine/pg.h, pg_copy.c)
 * against a real PostgreSQL 15 started here (tests/e2e/pgtest.h, ports 55300-55349); no daemon.
 *
 * A cluster holds two databases (shop: public.items with a secondary index, public.orders,
 * sales.big; crm: public.contacts). A base backup is taken (eng_pg_backup), every table's
 * count:md5 recorded, then every table is changed. From a private server on the backup
 * (eng_pg_private_open): shop restored under a new name beside the original (every table equal to
 * the backup's, the original still holding its changes), excludes honoured, skip_indexes leaving no
 * secondary index but the primary key, a table restored under a new name into the other database
 * and one moved to another schema beside its original, FailIfExists (-EEXIST, nothing changed, no
 * temporary database left) and Overwrite replacing; a role without the privileges fails, or with
 * continue_on_access_violation gets the objects skipped with warnings; a cancel leaves no temporary
 * database and no private directory. Then the private server is closed: its
 * postmaster is gone and so is its directory. Whole instance: into a new directory and port (left
 * running, equal to the backup), and over the original (the server stopped, its directory moved
 * aside, the backup's state back and the server running on its port). */
#include "check.h"
#include "pgtest.h"
#include "engine/engine.h"
#include "engine/pg.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const TESTS[] = { "pg_copy_private_server_starts", "pg_copy_database_new_name",
                                     "pg_copy_database_excludes", "pg_copy_skip_indexes",
                                     "pg_copy_table_renamed_other_database", "pg_copy_fail_if_exists_then_overwrite",
                                     "pg_copy_target_password", "pg_copy_access_violation_skipped",
                                     "pg_copy_canceled_leaves_nothing",
                                     "pg_copy_private_server_removed", "pg_copy_instance_new_directory",
                                     "pg_copy_instance_replace_original" };

#define N_TABLES 4
static const char *const T_DB[N_TABLES] = { "shop", "shop", "shop", "crm" };
static const char *const T_NAME[N_TABLES] = { "public.items", "public.orders", "sales.big", "public.contacts" };

static struct {
    struct pgtest src;
    char *repo_dir;
    char repo_path[600], key[600];
    struct repo *repo;
    char conninfo[800];          /* the source instance (target of the copies) */
    char snap[REPO_ID_HEX_LEN + 1];
    char at_backup[N_TABLES][128];
    char now[N_TABLES][128];     /* after the changes */
    struct eng_pg_server priv;
    long priv_pid;
    char priv_root[2048];
} fx;

static int table_sum(PGconn *c, const char *table, char *out, size_t n)
{
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '-')"
             " FROM %s t", table);
    return pgtest_value(c, sql, out, n);
}

/* count:md5 of a table of a database of server p (port/socket) into out; -1 if it cannot be read. */
static int sum_in(const struct pgtest *p, const char *db, const char *table, char *out, size_t n)
{
    PGconn *c = pgtest_connect(p, db);
    int rc = c ? table_sum(c, table, out, n) : -1;
    PQfinish(c);
    return rc;
}

static int value_in(const struct pgtest *p, const char *db, const char *sql, char *out, size_t n)
{
    PGconn *c = pgtest_connect(p, db);
    int rc = c ? pgtest_value(c, sql, out, n) : -1;
    PQfinish(c);
    return rc;
}

static int copy(const struct eng_pg_copy_item *it, int overwrite, int skip_indexes, struct eng_pg_copy_result *r,
                char *why, size_t n)
{
    struct eng_pg_copy_opts o = { .target_conninfo = fx.conninfo, .overwrite = overwrite,
                                  .skip_indexes = skip_indexes, .jobs = 2 };
    return eng_pg_copy(&fx.priv, it, &o, r, why, n);
}

TEST(pg_copy_private_server_starts)
{
    char why[1024] = "", pidline[64] = "", p[2300];
    struct eng_pg_restore_result rr;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = eng_pg_private_open(fx.repo, fx.snap, NULL, NULL, 55301, &fx.priv, &rr, why, sizeof why);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECKF(rc == 0, "eng_pg_private_open: %d %s", rc, why);
    printf("# private server: restored %.1f MB and promoted in %.0f ms\n", rr.bytes / 1e6,
           (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
    snprintf(fx.priv_root, sizeof fx.priv_root, "%s", fx.priv.root);
    struct stat st;
    CHECK(stat(fx.priv.root, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(stat(fx.priv.sock_dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    snprintf(p, sizeof p, "%s/postmaster.pid", fx.priv.data_dir);
    FILE *f = fopen(p, "r");
    CHECK(f != NULL);
    CHECK(fgets(pidline, sizeof pidline, f) != NULL);
    fclose(f);
    fx.priv_pid = atol(pidline);
    CHECK(fx.priv_pid > 1 && kill((pid_t)fx.priv_pid, 0) == 0);
    /* it holds the backup's state, and listens on no TCP address */
    char ci[4500], v[128] = "";
    eng_pg_server_conninfo(&fx.priv, "shop", ci, sizeof ci);
    PGconn *c = PQconnectdb(ci);
    CHECK(c && PQstatus(c) == CONNECTION_OK);
    int ok = table_sum(c, "public.items", v, sizeof v) == 0 && strcmp(v, fx.at_backup[0]) == 0;
    char la[64] = "";
    ok = ok && pgtest_value(c, "SHOW listen_addresses", la, sizeof la) == 0;
    PQfinish(c);
    CHECKF(ok, "items in the private copy: %s (expected %s)", v, fx.at_backup[0]);
    CHECKF(la[0] == '\0', "listen_addresses is '%s'", la);
}

TEST(pg_copy_database_new_name)
{
    char why[1024] = "", v[128];
    CHECK(fx.priv.running);
    struct eng_pg_copy_item it = { .kind = ENG_PG_COPY_DATABASE, .database = "shop", .rename_to = "shop_restored" };
    struct eng_pg_copy_result r;
    int rc = copy(&it, 0, 0, &r, why, sizeof why);
    uint64_t bytes = r.bytes, usecs = r.usecs;
    size_t nw = json_array_size(r.warnings);
    eng_pg_copy_result_release(&r);
    CHECKF(rc == 0, "eng_pg_copy: %d %s", rc, why);
    printf("# database shop -> shop_restored: %.1f MB on the target in %.0f ms (dump, create, restore, analyze, rename)\n",
           bytes / 1e6, usecs / 1e3);
    CHECK(bytes > 1000000);
    CHECK_EQ_INT(nw, 0);
    for (int i = 0; i < 3; i++) {
        CHECK(sum_in(&fx.src, "shop_restored", T_NAME[i], v, sizeof v) == 0);
        CHECKF(strcmp(v, fx.at_backup[i]) == 0, "%s restored %s, at backup %s", T_NAME[i], v, fx.at_backup[i]);
        CHECK(sum_in(&fx.src, "shop", T_NAME[i], v, sizeof v) == 0);
        CHECKF(strcmp(v, fx.now[i]) == 0, "the original %s changed: %s, was %s", T_NAME[i], v, fx.now[i]);
    }
    /* analyzed (skip_analyze off) */
    CHECK(value_in(&fx.src, "shop_restored", "SELECT count(*) FROM pg_stats WHERE tablename = 'items'", v, sizeof v) == 0);
    CHECKF(atoi(v) > 0, "no statistics for items in the restored database");
}

TEST(pg_copy_database_excludes)
{
    char why[1024] = "", v[128];
    CHECK(fx.priv.running);
    const char *ex[] = { "public.orders", "sales.big" };
    struct eng_pg_copy_item it = { .kind = ENG_PG_COPY_DATABASE, .database = "shop", .rename_to = "shop_partial",
                                   .excludes = ex, .n_excludes = 2 };
    struct eng_pg_copy_result r;
    int rc = copy(&it, 0, 0, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    CHECKF(rc == 0, "eng_pg_copy: %d %s", rc, why);
    CHECK(sum_in(&fx.src, "shop_partial", "public.items", v, sizeof v) == 0);
    CHECK(strcmp(v, fx.at_backup[0]) == 0);
    CHECK(value_in(&fx.src, "shop_partial", "SELECT count(*) FROM pg_class WHERE relname IN ('orders', 'big') AND relkind = 'r'",
                   v, sizeof v) == 0);
    CHECKF(strcmp(v, "0") == 0, "%s excluded tables restored", v);
}

TEST(pg_copy_skip_indexes)
{
    char why[1024] = "", v[128], w[128];
    CHECK(fx.priv.running);
    struct eng_pg_copy_item it = { .kind = ENG_PG_COPY_DATABASE, .database = "shop", .rename_to = "shop_noidx" };
    struct eng_pg_copy_result r;
    int rc = copy(&it, 0, 1, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    CHECKF(rc == 0, "eng_pg_copy: %d %s", rc, why);
    /* the source has a secondary index on items(name); the copy has none, but its primary keys */
    static const char *const secondary =
        "SELECT count(*) FROM pg_index i JOIN pg_class k ON k.oid = i.indexrelid JOIN pg_namespace n ON"
        " n.oid = k.relnamespace WHERE n.nspname IN ('public', 'sales')"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)";
    static const char *const pkeys = "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
                                     " WHERE c.contype = 'p' AND n.nspname IN ('public', 'sales')";
    CHECK(value_in(&fx.src, "shop", secondary, w, sizeof w) == 0);
    CHECKF(atoi(w) >= 1, "the source has no secondary index: the check says nothing");
    CHECK(value_in(&fx.src, "shop_noidx", secondary, v, sizeof v) == 0);
    CHECKF(strcmp(v, "0") == 0, "%s secondary indexes restored with skip_indexes", v);
    CHECK(value_in(&fx.src, "shop_noidx", pkeys, v, sizeof v) == 0);
    CHECK(value_in(&fx.src, "shop", pkeys, w, sizeof w) == 0);
    CHECKF(strcmp(v, w) == 0 && atoi(v) >= 2, "primary keys: %s in the copy, %s in the source", v, w);
    CHECK(sum_in(&fx.src, "shop_noidx", "public.items", v, sizeof v) == 0);
    CHECK(strcmp(v, fx.at_backup[0]) == 0);
}

TEST(pg_copy_table_renamed_other_database)
{
    char why[1024] = "", v[128];
    CHECK(fx.priv.running);
    /* shop.public.items -> crm.public.items_copy */
    struct eng_pg_copy_item it = { .kind = ENG_PG_COPY_TABLE, .database = "shop", .table = "public.items",
                                   .rename_to = "items_copy", .target_database = "crm" };
    struct eng_pg_copy_result r;
    int rc = copy(&it, 0, 0, &r, why, sizeof why);
    char name[300];
    snprintf(name, sizeof name, "%s", r.name);
    uint64_t bytes = r.bytes;
    eng_pg_copy_result_release(&r);
    CHECKF(rc == 0, "eng_pg_copy: %d %s", rc, why);
    CHECK(strcmp(name, "crm.public.items_copy") == 0);
    CHECK(bytes > 0);
    CHECK(sum_in(&fx.src, "crm", "public.items_copy", v, sizeof v) == 0);
    CHECKF(strcmp(v, fx.at_backup[0]) == 0, "items_copy %s, items at backup %s", v, fx.at_backup[0]);
    CHECK(value_in(&fx.src, "crm", "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes"
                                   " WHERE tablename = 'items_copy'", v, sizeof v) == 0);
    CHECKF(strcmp(v, "items_copy_name_idx,items_copy_pkey") == 0, "indexes of items_copy: %s", v);
    CHECK(sum_in(&fx.src, "crm", "public.contacts", v, sizeof v) == 0);
    CHECK(strcmp(v, fx.now[3]) == 0);
    /* sales.big -> archive.big_then beside the original in shop (same database: names must not collide) */
    struct eng_pg_copy_item it2 = { .kind = ENG_PG_COPY_TABLE, .database = "shop", .table = "sales.big",
                                    .rename_to = "archive.big_then" };
    rc = copy(&it2, 0, 0, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    CHECKF(rc == 0, "eng_pg_copy: %d %s", rc, why);
    CHECK(sum_in(&fx.src, "shop", "archive.big_then", v, sizeof v) == 0);
    CHECK(strcmp(v, fx.at_backup[2]) == 0);
    CHECK(sum_in(&fx.src, "shop", "sales.big", v, sizeof v) == 0);
    CHECK(strcmp(v, fx.now[2]) == 0);
    /* the source kept its names; the private copy has its own back (renamed there only for the dump) */
    CHECK(value_in(&fx.src, "shop", "SELECT count(*) FROM pg_class WHERE relname = 'big' AND relkind = 'r'", v, sizeof v) == 0);
    CHECK(strcmp(v, "1") == 0);
    char ci[4500];
    eng_pg_server_conninfo(&fx.priv, "shop", ci, sizeof ci);
    PGconn *c = PQconnectdb(ci);
    int back = c && PQstatus(c) == CONNECTION_OK &&
               pgtest_value(c, "SELECT string_agg(n.nspname || '.' || k.relname, ',' ORDER BY k.relname) FROM pg_class k"
                               " JOIN pg_namespace n ON n.oid = k.relnamespace WHERE k.relname IN ('items', 'items_pkey',"
                               " 'items_id_seq', 'items_name_idx', 'big', 'big_pkey', 'items_copy', 'big_then')",
                            v, sizeof v) == 0;
    PQfinish(c);
    CHECK(back);
    CHECKF(strcmp(v, "sales.big,sales.big_pkey,public.items,public.items_id_seq,public.items_name_idx,public.items_pkey") == 0,
           "the private copy holds %s", v);
}

TEST(pg_copy_fail_if_exists_then_overwrite)
{
    char why[1024] = "", v[128];
    CHECK(fx.priv.running);
    struct eng_pg_copy_item it = { .kind = ENG_PG_COPY_DATABASE, .database = "shop", .rename_to = "crm" };
    CHECK_EQ_INT(eng_pg_copy_target_exists(fx.conninfo, &it, why, sizeof why), 1);
    struct eng_pg_copy_result r;
    int rc = copy(&it, 0, 0, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    CHECKF(rc == -EEXIST, "FailIfExists: %d %s", rc, why);
    CHECK(strstr(why, "crm") != NULL);
    CHECK(sum_in(&fx.src, "crm", "public.contacts", v, sizeof v) == 0);
    CHECK(strcmp(v, fx.now[3]) == 0);
    /* a table too */
    struct eng_pg_copy_item ti = { .kind = ENG_PG_COPY_TABLE, .database = "crm", .table = "public.contacts" };
    rc = copy(&ti, 0, 0, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    CHECKF(rc == -EEXIST, "FailIfExists (table): %d %s", rc, why);
    /* Overwrite: the table back to the backup's state in one transaction */
    rc = copy(&ti, 1, 0, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    CHECKF(rc == 0, "Overwrite (table): %d %s", rc, why);
    CHECK(sum_in(&fx.src, "crm", "public.contacts", v, sizeof v) == 0);
    CHECKF(strcmp(v, fx.at_backup[3]) == 0, "contacts %s after overwrite, at backup %s", v, fx.at_backup[3]);
    /* Overwrite: crm becomes shop as backed up */
    rc = copy(&it, 1, 0, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    CHECKF(rc == 0, "Overwrite: %d %s", rc, why);
    CHECK(sum_in(&fx.src, "crm", "public.orders", v, sizeof v) == 0);
    CHECK(strcmp(v, fx.at_backup[1]) == 0);
    CHECK(value_in(&fx.src, "crm", "SELECT count(*) FROM pg_class WHERE relname = 'contacts'", v, sizeof v) == 0);
    CHECK(strcmp(v, "0") == 0);
    CHECK(value_in(&fx.src, "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'coffer_restore%'", v,
                   sizeof v) == 0);
    CHECKF(strcmp(v, "0") == 0, "%s temporary databases left", v);
    /* a missing source object: -ENOENT */
    struct eng_pg_copy_item nx = { .kind = ENG_PG_COPY_DATABASE, .database = "nosuch", .rename_to = "nosuch2" };
    rc = copy(&nx, 0, 0, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    CHECK_EQ_INT(rc, -ENOENT);
}

/* A target that asks a password (scram) of the role: the copy's pg_restore gets it from the conninfo
 * through its environment (its command line carries the conninfo without it); without it, refused.
 * The role is not a superuser: the objects restored become its own (--no-owner), with a warning. */
TEST(pg_copy_target_password)
{
    char why[1024] = "", v[128], ci[1000], hba[700];
    CHECK(fx.priv.running);
    PGconn *c = pgtest_connect(&fx.src, "postgres");
    CHECK(c != NULL);
    int ok = pgtest_exec(c, "CREATE ROLE pw_role LOGIN CREATEDB PASSWORD 'S3cret-Pw-77'", why, sizeof why) == 0;
    snprintf(hba, sizeof hba, "%s/pg_hba.conf", fx.src.data);
    FILE *f = ok ? fopen(hba, "w") : NULL;
    ok = f && fprintf(f, "local all pw_role scram-sha-256\nlocal all all trust\n") > 0;
    if (f && fclose(f) != 0) ok = 0;
    ok = ok && pgtest_exec(c, "SELECT pg_reload_conf()", why, sizeof why) == 0;
    PQfinish(c);
    CHECKF(ok, "%s", why);
    struct timespec ts = { 0, 300 * 1000000L };
    nanosleep(&ts, NULL);   /* the postmaster rereads pg_hba.conf on SIGHUP */
    struct eng_pg_copy_item it = { .kind = ENG_PG_COPY_DATABASE, .database = "shop", .rename_to = "shop_pw" };
    struct eng_pg_copy_result r;
    snprintf(ci, sizeof ci, "%s user=pw_role", fx.conninfo);
    struct eng_pg_copy_opts o = { .target_conninfo = ci, .jobs = 2 };
    int rc1 = eng_pg_copy(&fx.priv, &it, &o, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    int leak1 = strstr(why, "S3cret") != NULL;
    snprintf(ci, sizeof ci, "%s user=pw_role password=S3cret-Pw-77", fx.conninfo);
    int rc2 = eng_pg_copy(&fx.priv, &it, &o, &r, why, sizeof why);
    char w2[300];
    size_t nw2 = json_array_size(r.warnings);
    snprintf(w2, sizeof w2, "%s", nw2 ? json_string_value(json_array_get(r.warnings, 0)) : "");
    eng_pg_copy_result_release(&r);
    int leak2 = strstr(why, "S3cret") != NULL;
    CHECKF(rc1 == -EIO, "without the password: %d %s", rc1, why);
    CHECKF(rc2 == 0, "with the password: %d %s", rc2, why);
    CHECK(!leak1 && !leak2);
    CHECK(sum_in(&fx.src, "shop_pw", "public.items", v, sizeof v) == 0);
    CHECK(strcmp(v, fx.at_backup[0]) == 0);
    /* not a superuser: what it restored is its own, and a warning says so */
    CHECK(value_in(&fx.src, "shop_pw", "SELECT pg_get_userbyid(datdba) || ' ' || (SELECT tableowner FROM pg_tables WHERE"
                                       " tablename = 'items') FROM pg_database WHERE datname = 'shop_pw'", v, sizeof v) == 0);
    CHECKF(strcmp(v, "pw_role pw_role") == 0, "owners %s", v);
    CHECKF(nw2 > 0 && strstr(w2, "not a superuser"), "warnings: %s", w2);
}

TEST(pg_copy_access_violation_skipped)
{
    char why[1024] = "", v[128], ci[1000];
    CHECK(fx.priv.running);
    /* a target role that may not create databases, nor tables in crm's public schema (PostgreSQL 15) */
    PGconn *c = pgtest_connect(&fx.src, "postgres");
    CHECK(c != NULL);
    int ok = pgtest_exec(c, "CREATE ROLE limited LOGIN NOCREATEDB", why, sizeof why) == 0;
    PQfinish(c);
    CHECKF(ok, "%s", why);
    snprintf(ci, sizeof ci, "%s user=limited", fx.conninfo);   /* the last user= wins */
    struct eng_pg_copy_item db = { .kind = ENG_PG_COPY_DATABASE, .database = "shop", .rename_to = "shop_lim" };
    struct eng_pg_copy_item tb = { .kind = ENG_PG_COPY_TABLE, .database = "shop", .table = "public.orders",
                                   .rename_to = "orders_lim", .target_database = "postgres" };
    struct eng_pg_copy_opts o = { .target_conninfo = ci, .jobs = 2 };
    struct eng_pg_copy_result r;
    int rc1 = eng_pg_copy(&fx.priv, &db, &o, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    int rc2 = eng_pg_copy(&fx.priv, &tb, &o, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    o.continue_on_access_violation = 1;
    int rc3 = eng_pg_copy(&fx.priv, &db, &o, &r, why, sizeof why);
    int sk3 = r.skipped, w3 = (int)json_array_size(r.warnings);
    char w3text[300];
    snprintf(w3text, sizeof w3text, "%s", w3 ? json_string_value(json_array_get(r.warnings, 0)) : "");
    eng_pg_copy_result_release(&r);
    int rc4 = eng_pg_copy(&fx.priv, &tb, &o, &r, why, sizeof why);
    int sk4 = r.skipped, w4 = (int)json_array_size(r.warnings);
    eng_pg_copy_result_release(&r);
    CHECKF(rc1 == -EIO, "a database the role may not create: %d %s", rc1, why);
    CHECKF(rc2 == -EIO, "a table the role may not create: %d", rc2);
    CHECKF(rc3 == 0 && sk3 && w3 > 0 && strstr(w3text, "shop_lim"), "continue_on_access_violation (database): %d %d %s",
           rc3, sk3, w3text);
    CHECKF(rc4 == 0 && sk4 && w4 > 0, "continue_on_access_violation (table): %d %d %d", rc4, sk4, w4);
    CHECK(value_in(&fx.src, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop_lim' OR datname LIKE"
                                        " 'coffer_restore%'", v, sizeof v) == 0);
    CHECK(strcmp(v, "0") == 0);
    CHECK(value_in(&fx.src, "postgres", "SELECT count(*) FROM pg_class WHERE relname LIKE 'orders_lim%'", v, sizeof v) == 0);
    CHECKF(strcmp(v, "0") == 0, "%s relations of the refused table left", v);
}

/* A cancel raised before the copy: the temporary database is made, the first tool sees the flag and is
 * stopped, and the temporary database is dropped; a private server asked for then leaves no directory. */
TEST(pg_copy_canceled_leaves_nothing)
{
    char why[1024] = "", v[128];
    CHECK(fx.priv.running);
    volatile int cancel = 1;
    struct eng_pg_copy_item it = { .kind = ENG_PG_COPY_DATABASE, .database = "shop", .rename_to = "shop_canceled" };
    struct eng_pg_copy_opts o = { .target_conninfo = fx.conninfo, .jobs = 2, .cancel = &cancel };
    struct eng_pg_copy_result r;
    int rc = eng_pg_copy(&fx.priv, &it, &o, &r, why, sizeof why);
    eng_pg_copy_result_release(&r);
    CHECKF(rc == -ECANCELED, "eng_pg_copy: %d %s", rc, why);
    CHECK(value_in(&fx.src, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop_canceled' OR datname"
                                        " LIKE 'coffer_restore%'", v, sizeof v) == 0);
    CHECKF(strcmp(v, "0") == 0, "%s databases left", v);
    char *parent = check_tmpdir("pgcpcancel");
    struct eng_pg_restore_opts ro = { .cancel = &cancel, .threads = 1 };
    struct eng_pg_server s2;
    rc = eng_pg_private_open(fx.repo, fx.snap, &ro, parent, 55304, &s2, NULL, why, sizeof why);
    int empty = rmdir(parent) == 0;   /* only an empty directory goes */
    if (!empty) check_rm_rf(parent);
    free(parent);
    CHECKF(rc == -ECANCELED, "eng_pg_private_open: %d %s", rc, why);
    CHECK(empty);
    CHECK(!s2.running && !s2.root[0]);
}

TEST(pg_copy_private_server_removed)
{
    CHECK(fx.priv_pid > 1 && fx.priv_root[0]);
    eng_pg_private_close(&fx.priv);
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++) {   /* the postmaster exits within the stop; reaped by init */
        gone = kill((pid_t)fx.priv_pid, 0) != 0 && errno == ESRCH;
        if (!gone) { struct timespec ts = { 0, 50 * 1000000L }; nanosleep(&ts, NULL); }
    }
    CHECKF(gone, "the private postmaster %ld is still there", fx.priv_pid);
    CHECKF(access(fx.priv_root, F_OK) != 0 && errno == ENOENT, "%s is still there", fx.priv_root);
    CHECK(!fx.priv.running);
    eng_pg_private_close(&fx.priv);   /* twice is fine */
}

TEST(pg_copy_instance_new_directory)
{
    char why[1024] = "", v[128];
    struct pgtest dst;
    CHECK(pgtest_root(&dst, "pgnew", "restored", 55302, why, sizeof why) == 0);
    struct eng_pg_server_opts so = { .data_dir = dst.data, .socket_dir = dst.sock, .port = 55302 };
    struct eng_pg_server srv;
    struct eng_pg_restore_result rr;
    int rc = eng_pg_instance_new(fx.repo, fx.snap, NULL, &so, &srv, &rr, why, sizeof why);
    if (rc == 0) dst.running = 1;
    int ok = 1;
    char got[N_TABLES][128];
    for (int i = 0; rc == 0 && i < N_TABLES; i++) ok = ok && sum_in(&dst, T_DB[i], T_NAME[i], got[i], sizeof got[i]) == 0;
    int port_ok = rc == 0 && value_in(&dst, "postgres", "SHOW port", v, sizeof v) == 0 && strcmp(v, "55302") == 0;
    /* persisted: a restart with plain pg_ctl -D comes back on the same port and socket */
    int restarted = 0;
    if (rc == 0 && pgtest_stop(&dst) == 0) {
        char *argv[] = { PGTEST_BIN "/pg_ctl", "-D", dst.data, "-l", dst.log, "-w", "-t", "60", "start", NULL };
        restarted = pgtest_run(argv, dst.log, 90) == 0;
        dst.running = restarted;
        restarted = restarted && value_in(&dst, "postgres", "SELECT 1", v, sizeof v) == 0;
    }
    pgtest_destroy(&dst);
    CHECKF(rc == 0, "eng_pg_instance_new: %d %s", rc, why);
    CHECK(ok);
    for (int i = 0; i < N_TABLES; i++) CHECKF(strcmp(got[i], fx.at_backup[i]) == 0, "%s: %s != %s", T_NAME[i], got[i], fx.at_backup[i]);
    CHECK(port_ok);
    CHECKF(restarted, "the new instance did not restart on its own settings");
    /* a non-empty directory is refused and left alone */
    char *t = check_tmpdir("pgnew2"), f[800];
    snprintf(f, sizeof f, "%s/keep", t);
    FILE *fp = fopen(f, "w");
    if (fp) fclose(fp);
    struct eng_pg_server_opts so2 = { .data_dir = t, .port = 55303 };
    rc = eng_pg_instance_new(fx.repo, fx.snap, NULL, &so2, &srv, &rr, why, sizeof why);
    int kept = access(f, F_OK) == 0;
    check_rm_rf(t);
    free(t);
    CHECK_EQ_INT(rc, -EEXIST);
    CHECK(kept);
}

TEST(pg_copy_instance_replace_original)
{
    char why[1024] = "", aside[2300] = "", v[128];
    CHECK(fx.src.running);
    char before[128];
    CHECK(sum_in(&fx.src, "shop", "public.items", before, sizeof before) == 0);
    CHECK(strcmp(before, fx.now[0]) == 0);
    struct eng_pg_server_opts so = { .data_dir = fx.src.data, .socket_dir = fx.src.sock, .port = fx.src.port };
    struct eng_pg_server srv;
    struct eng_pg_restore_result rr;
    int rc = eng_pg_instance_replace(fx.repo, fx.snap, NULL, &so, &srv, aside, sizeof aside, &rr, why, sizeof why);
    CHECKF(rc == 0, "eng_pg_instance_replace: %d %s", rc, why);
    for (int i = 0; i < N_TABLES; i++) {
        CHECK(sum_in(&fx.src, T_DB[i], T_NAME[i], v, sizeof v) == 0);
        CHECKF(strcmp(v, fx.at_backup[i]) == 0, "%s after replace: %s, at backup %s", T_NAME[i], v, fx.at_backup[i]);
    }
    CHECK(value_in(&fx.src, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop_restored'", v, sizeof v) == 0);
    CHECK(strcmp(v, "0") == 0);   /* made after the backup: not in the replaced instance */
    struct stat st;
    CHECKF(aside[0] && strstr(aside, ".coffer-replaced-") && stat(aside, &st) == 0 && S_ISDIR(st.st_mode),
           "the old directory is not kept aside (%s)", aside);
    check_rm_rf(aside);
}

/* ---------- set-up ---------- */

static int load(char *why, size_t n)
{
    PGconn *c = pgtest_connect(&fx.src, "postgres");
    int rc = c ? pgtest_exec(c, "CREATE DATABASE shop", why, n) : -1;
    if (!rc) rc = pgtest_exec(c, "CREATE DATABASE crm", why, n);
    PQfinish(c);
    if (rc) return rc;
    c = pgtest_connect(&fx.src, "shop");
    rc = c ? pgtest_exec(c,
                         "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric);"
                         "CREATE INDEX items_name_idx ON items (name);"
                         "INSERT INTO items (name, price) SELECT 'item ' || g, g * 1.5 FROM generate_series(1, 20000) g;"
                         "CREATE TABLE orders (id int PRIMARY KEY, item int REFERENCES items (id), qty int);"
                         "INSERT INTO orders SELECT g, 1 + g % 20000, g % 7 FROM generate_series(1, 30000) g;"
                         "CREATE SCHEMA sales;"
                         "CREATE TABLE sales.big (id bigint PRIMARY KEY, pad text);"
                         "INSERT INTO sales.big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g;",
                         why, n)
           : -1;
    PQfinish(c);
    if (rc) return rc;
    c = pgtest_connect(&fx.src, "crm");
    rc = c ? pgtest_exec(c, "CREATE TABLE contacts (id int PRIMARY KEY, email text UNIQUE);"
                            "INSERT INTO contacts SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 5000) g;",
                         why, n)
           : -1;
    PQfinish(c);
    return rc;
}

static int sums(char out[N_TABLES][128])
{
    for (int i = 0; i < N_TABLES; i++)
        if (sum_in(&fx.src, T_DB[i], T_NAME[i], out[i], sizeof out[i]) != 0) return -1;
    return 0;
}

static int backup_and_change(char *why, size_t n)
{
    if (sums(fx.at_backup) != 0) { snprintf(why, n, "cannot read the tables"); return -1; }
    struct eng_pg_backup_opts o = { .conninfo = fx.conninfo, .threads = 2, .label = "e2e copy" };
    struct eng_pg_backup_result r;
    int rc = eng_pg_backup(fx.repo, &o, &r, why, n);
    if (!rc) snprintf(fx.snap, sizeof fx.snap, "%s", r.snapshot_id);
    eng_pg_backup_result_release(&r);
    if (rc) return rc;
    PGconn *c = pgtest_connect(&fx.src, "shop");
    rc = c ? pgtest_exec(c, "UPDATE items SET price = price + 1 WHERE id <= 100; DELETE FROM orders WHERE id > 29000;"
                            "UPDATE sales.big SET pad = 'changed' WHERE id % 10 = 0;", why, n) : -1;
    PQfinish(c);
    c = rc ? NULL : pgtest_connect(&fx.src, "crm");
    rc = c ? pgtest_exec(c, "INSERT INTO contacts VALUES (100001, 'new@example.com')", why, n) : -1;
    PQfinish(c);
    if (rc) return rc;
    if (sums(fx.now) != 0) { snprintf(why, n, "cannot read the tables"); return -1; }
    for (int i = 0; i < N_TABLES; i++)
        if (strcmp(fx.now[i], fx.at_backup[i]) == 0) { snprintf(why, n, "%s did not change", T_NAME[i]); return -1; }
    return 0;
}

int main(void)
{
    char why[1024] = "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pgtest_serve_or_skip(&fx.src, "pgcpsrc", 55300, TESTS, sizeof TESTS / sizeof *TESTS) != 0) return check_finish();
    pgtest_conninfo(&fx.src, "postgres", fx.conninfo, sizeof fx.conninfo);
    fx.repo_dir = check_tmpdir("pgcprepo");
    snprintf(fx.repo_path, sizeof fx.repo_path, "%s/repo", fx.repo_dir);
    snprintf(fx.key, sizeof fx.key, "%s/repo.key", fx.repo_dir);
    char err[256];
    if (repo_create(fx.repo_path, fx.key, err, sizeof err) != 0 || repo_open(fx.repo_path, fx.key, &fx.repo, err, sizeof err) != 0)
        check_abandon(err);
    else if (load(why, sizeof why) != 0 || backup_and_change(why, sizeof why) != 0)
        check_abandon(why);
    RUN(pg_copy_private_server_starts);
    RUN(pg_copy_database_new_name);
    RUN(pg_copy_database_excludes);
    RUN(pg_copy_skip_indexes);
    RUN(pg_copy_table_renamed_other_database);
    RUN(pg_copy_fail_if_exists_then_overwrite);
    RUN(pg_copy_target_password);
    RUN(pg_copy_access_violation_skipped);
    RUN(pg_copy_canceled_leaves_nothing);
    RUN(pg_copy_private_server_removed);
    RUN(pg_copy_instance_new_directory);
    RUN(pg_copy_instance_replace_original);
    eng_pg_private_close(&fx.priv);
    if (fx.repo) repo_close(fx.repo);
    pgtest_destroy(&fx.src);
    check_rm_rf(fx.repo_dir);
    free(fx.repo_dir);
    return check_finish();
}
