/* test_pg_runs.c: the pg-runs pieces that need no PostgreSQL: SQL snapshot rows and their objects in
 * the catalog (migration 11), the restore planner and the restorable ranges (svc/pg_plan.c) over
 * hand-made rows. */
#include "catalog/cat.h"
#include "catalog/cat_snapshot.h"
#include "check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cat *g_cat;
static char *g_dir;

#define SEC 1000000LL
#define SEG 0x1000000ULL

struct objs { char text[2048]; int n; };
static int obj_cb(void *ud, const struct cat_snapshot_object *o)
{
    struct objs *x = ud;
    size_t l = strlen(x->text);
    snprintf(x->text + l, sizeof x->text - l, "%s:%s:%s:%lld;", o->kind, o->parent ? o->parent : "-", o->name,
             (long long)o->bytes);
    x->n++;
    return 0;
}

TEST(sql_snapshot_rows_and_objects)
{
    struct cat_snapshot_object objs[] = {
        { "table", "public.b", "db1", 300 }, { "database", "db2", NULL, 2000 },
        { "table", "public.a", "db1", 100 }, { "database", "db1", NULL, 1000 },
        { "table", "s.x", "db2", 5 },
    };
    json_t *dbs = json_pack("[s]", "db1");
    struct cat_snapshot s = { .tenant = "t1", .id = "base-1", .object_id = 70, .object_name = "main",
                              .source_id = 69, .environment = "kSQL", .group_id = "1:1:1", .group_name = "g",
                              .group_seq = 1, .run_usecs = 10 * SEC, .instance_id = 1, .run_type = "kFull",
                              .snapshot_usecs = 10 * SEC, .end_usecs = 12 * SEC, .status = "kSuccessful",
                              .objects = objs, .n_objects = 5 };
    struct cat_snapshot got;
    struct objs x = { "", 0 };
    s.sql = (struct cat_snapshot_sql){ .present = 1, .start_lsn = 0x2000028, .end_lsn = 0x2000138, .timeline = 1,
                                       .consistent_usecs = 11 * SEC, .databases = dbs };
    CHECK_EQ_INT(cat_snapshot_insert(g_cat, &s), 0);
    json_decref(dbs);
    CHECK_EQ_INT(cat_snapshot_get(g_cat, "t1", "base-1", &got), 0);
    CHECK(got.sql.present == 1);
    CHECK(got.sql.start_lsn == 0x2000028 && got.sql.end_lsn == 0x2000138);
    CHECK_EQ_INT(got.sql.consistent_usecs, 11 * SEC);
    CHECK(got.sql.databases && json_array_size(got.sql.databases) == 1);
    CHECK(strcmp(json_string_value(json_array_get(got.sql.databases, 0)), "db1") == 0);
    cat_snapshot_release(&got);
    CHECK_EQ_INT(cat_snapshot_objects_list(g_cat, "t1", "base-1", obj_cb, &x), 0);
    CHECK_EQ_INT(x.n, 5);
    CHECKF(strcmp(x.text, "database:-:db1:1000;database:-:db2:2000;table:db1:public.a:100;table:db1:public.b:300;"
                          "table:db2:s.x:5;") == 0, "objects %s", x.text);
    /* Tenant scoped; unknown snapshot. */
    x.n = 0;
    CHECK_EQ_INT(cat_snapshot_objects_list(g_cat, "t2", "base-1", obj_cb, &x), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_snapshot_objects_list(g_cat, "t1", "nope", obj_cb, &x), CAT_NOT_FOUND);
    CHECK_EQ_INT(x.n, 0);
    /* A physical row reads back without SQL fields. */
    {
        struct cat_snapshot p = { .tenant = "t1", .id = "phys-1", .object_id = 9, .environment = "kPhysical",
                                  .group_id = "1:1:2", .run_type = "kFull", .status = "kSuccessful" };
        CHECK_EQ_INT(cat_snapshot_insert(g_cat, &p), 0);
        CHECK_EQ_INT(cat_snapshot_get(g_cat, "t1", "phys-1", &got), 0);
        CHECK(got.sql.present == 0 && got.sql.databases == NULL);
        cat_snapshot_release(&got);
        CHECK_EQ_INT(cat_snapshot_objects_list(g_cat, "t1", "phys-1", obj_cb, &x), 0);
        CHECK_EQ_INT(x.n, 0);
    }
}

int main(void)
{
    char path[512], err[256] = "";
    g_dir = check_tmpdir("pg-runs");
    snprintf(path, sizeof path, "%s/catalog.db", g_dir);
    if (cat_open(path, &g_cat, err, sizeof err) != 0) {
        fprintf(stderr, "cat_open: %s\n", err);
        return 1;
    }
    RUN(sql_snapshot_rows_and_objects);
    cat_close(g_cat);
    check_rm_rf(g_dir);
    free(g_dir);
    return check_finish();
}
