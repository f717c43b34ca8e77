/* test_pg_runs.c: the pg-runs pieces that need no PostgreSQL: SQL snapshot rows and their objects in
 * the catalog (migration 11), the restore planner and the restorable ranges (svc/pg_plan.c) over
 * hand-made rows. */
#include "catalog/cat.h"
#include "catalog/cat_snapshot.h"
#include "api/wire_spec.h"
#include "check.h"
#include "e2e/pgtest.h"
#include "sched/spec.h"
#include "svc/pg_plan.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cat *g_cat;
static char *g_dir;

#define SEC 1000000LL
#define SEG 0x1000000ULL

/* sql_row: inserts a SQL snapshot row of instance inst for group gid. */
static int sql_row(const char *id, int64_t inst, const char *gid, const char *run_type, uint64_t start_lsn,
                   uint64_t end_lsn, int64_t consistent, int64_t wal_to)
{
    struct cat_snapshot s = { .tenant = "tp", .id = (char *)id, .object_id = inst, .object_name = "main",
                              .source_id = 69, .environment = "kSQL", .group_id = (char *)gid, .group_name = "g",
                              .group_seq = 1, .run_usecs = consistent ? consistent : wal_to, .instance_id = 1,
                              .run_type = (char *)run_type, .snapshot_usecs = consistent ? consistent : wal_to,
                              .status = "kSuccessful" };
    s.sql.present = 1;
    s.sql.start_lsn = start_lsn;
    s.sql.end_lsn = end_lsn;
    s.sql.timeline = 1;
    s.sql.consistent_usecs = consistent;
    s.sql.wal_from_usecs = wal_to ? wal_to - SEC : 0;
    s.sql.wal_to_usecs = wal_to;
    return cat_snapshot_insert(g_cat, &s);
}

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


/* Instance 80: base B1 (stop in segment 2, consistent at 100 s), WAL L1 (segments 1-3, marker 200 s),
 * L2 (segments 4-4, marker 300 s), base B2 (stop in segment 5 at 350 s), a gap (segment 6 never
 * sealed), L3 (segments 7-8, marker 500 s): ranges [100, 300] from B1 and [350, 350] from B2 alone. */
static void plan_fixture(void)
{
    static int done;
    if (done) return;
    done = 1;
    sql_row("B1", 80, "1:1:9", "kFull", 2 * SEG + 0x28, 2 * SEG + 0x138, 100 * SEC, 0);
    sql_row("L1", 80, "1:1:9", "kLog", 1 * SEG, 4 * SEG, 0, 200 * SEC);
    sql_row("L2", 80, "1:1:9", "kLog", 4 * SEG, 5 * SEG, 0, 300 * SEC);
    sql_row("B2", 80, "1:1:9", "kRegular", 5 * SEG + 0x28, 5 * SEG + 0x100, 350 * SEC, 0);
    sql_row("L3", 80, "1:1:9", "kLog", 7 * SEG, 9 * SEG, 0, 500 * SEC);
    sql_row("B9", 81, "1:1:9", "kFull", 2 * SEG, 2 * SEG + 0x100, 100 * SEC, 0); /* another instance */
}

TEST(restore_ranges_follow_contiguous_wal)
{
    struct svc_pg_range *v = NULL;
    size_t n = 0;
    plan_fixture();
    CHECK_EQ_INT(svc_pg_restore_ranges(g_cat, "tp", 80, NULL, 0, 0, &v, &n), 0);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(v[0].start_usecs, 100 * SEC);
    CHECK_EQ_INT(v[0].end_usecs, 300 * SEC);
    CHECK(strcmp(v[0].base_snapshot_id, "B1") == 0);
    CHECK_EQ_INT(v[1].start_usecs, 350 * SEC);
    CHECK_EQ_INT(v[1].end_usecs, 350 * SEC); /* the gap at segment 6 cuts L3 off */
    CHECK(strcmp(v[1].base_snapshot_id, "B2") == 0);
    svc_pg_ranges_free(v, n);
    /* A window that touches only the second range; another group sees nothing; tenant scoped. */
    CHECK_EQ_INT(svc_pg_restore_ranges(g_cat, "tp", 80, NULL, 320 * SEC, 400 * SEC, &v, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK(strcmp(v[0].base_snapshot_id, "B2") == 0);
    svc_pg_ranges_free(v, n);
    CHECK_EQ_INT(svc_pg_restore_ranges(g_cat, "tp", 80, "1:1:10", 0, 0, &v, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(svc_pg_restore_ranges(g_cat, "tq", 80, NULL, 0, 0, &v, &n), 0);
    CHECK_EQ_INT(n, 0);
}

TEST(restore_plan_picks_base_and_wal)
{
    struct svc_pg_plan p;
    char err[512] = "";
    plan_fixture();
    /* The base's own point: nothing else. */
    CHECK_EQ_INT(svc_pg_plan_restore(g_cat, "tp", "B1", 0, &p, err, sizeof err), 0);
    CHECK(strcmp(p.base_snapshot_id, "B1") == 0 && p.n_wal == 0 && p.target_usecs == 0);
    CHECK_EQ_INT(p.instance_id, 80);
    svc_pg_plan_release(&p);
    /* 150 s: B1 + L1 (its marker at 200 s is after the point). */
    CHECK_EQ_INT(svc_pg_plan_restore(g_cat, "tp", "L2", 150 * SEC, &p, err, sizeof err), 0);
    CHECK(strcmp(p.base_snapshot_id, "B1") == 0);
    CHECK_EQ_INT(p.n_wal, 1);
    CHECK(strcmp(p.wal_snapshot_ids[0], "L1") == 0);
    CHECK_EQ_INT(p.target_usecs, 150 * SEC);
    svc_pg_plan_release(&p);
    /* 250 s: B1 + L1 + L2. */
    CHECK_EQ_INT(svc_pg_plan_restore(g_cat, "tp", "B1", 250 * SEC, &p, err, sizeof err), 0);
    CHECK_EQ_INT(p.n_wal, 2);
    CHECK(strcmp(p.wal_snapshot_ids[1], "L2") == 0);
    svc_pg_plan_release(&p);
    /* A kLog snapshot's own point: the end of its WAL. */
    CHECK_EQ_INT(svc_pg_plan_restore(g_cat, "tp", "L2", 0, &p, err, sizeof err), 0);
    CHECK_EQ_INT(p.target_usecs, 300 * SEC);
    CHECK_EQ_INT(p.n_wal, 2);
    svc_pg_plan_release(&p);
    /* 350 s exactly: B2's own point (the newest base holding it). */
    CHECK_EQ_INT(svc_pg_plan_restore(g_cat, "tp", "L1", 350 * SEC, &p, err, sizeof err), 0);
    CHECK(strcmp(p.base_snapshot_id, "B2") == 0 && p.n_wal == 0 && p.target_usecs == 0);
    svc_pg_plan_release(&p);
    /* Outside every range: after L2's end, inside the gap, before the first base. */
    CHECK_EQ_INT(svc_pg_plan_restore(g_cat, "tp", "B1", 320 * SEC, &p, err, sizeof err), -ERANGE);
    CHECKF(strstr(err, "[100000000, 300000000]") && strstr(err, "[350000000, 350000000]"), "%s", err);
    CHECK_EQ_INT(svc_pg_plan_restore(g_cat, "tp", "B1", 450 * SEC, &p, err, sizeof err), -ERANGE);
    CHECK_EQ_INT(svc_pg_plan_restore(g_cat, "tp", "B1", 50 * SEC, &p, err, sizeof err), -ERANGE);
    /* Not a SQL snapshot / another tenant. */
    CHECK_EQ_INT(svc_pg_plan_restore(g_cat, "tp", "nope", 0, &p, err, sizeof err), -ENOENT);
    CHECK_EQ_INT(svc_pg_plan_restore(g_cat, "tq", "B1", 0, &p, err, sizeof err), -ENOENT);
}

TEST(policy_log_rule_round_trip_and_schedule)
{
    struct spec_policy a = { 0 }, b;
    struct spec_group g = { .env = SPEC_ENV_SQL };
    char err[256] = "", *text;
    json_t *wire = json_pack("{s:{s:{s:{s:{s:s,s:{s:i}}}},s:{s:{s:s,s:{s:i}},s:{s:s,s:i}}}}", "backupPolicy",
                             "regular", "incremental", "schedule", "unit", "Days", "daySchedule", "frequency", 1,
                             "log", "schedule", "unit", "Minutes", "minuteSchedule", "frequency", 15,
                             "retention", "unit", "Days", "duration", 3);
    CHECK(wire != NULL);
    CHECKF(api_wire_policy(wire, &a, err, sizeof err) == 0, "%s", err);
    json_decref(wire);
    CHECK(a.has_log && a.log.unit == SCHED_MINUTES && a.log.frequency == 15);
    CHECK(a.log_retention.unit == SCHED_RET_DAYS && a.log_retention.duration == 3);
    text = spec_policy_encode(&a);
    CHECK(text && strstr(text, "{\"v\":2,") == text);
    CHECKF(spec_policy_decode(text, strlen(text), &b, err, sizeof err) == 0, "%s: %s", text, err);
    free(text);
    CHECK(b.has_log && b.log.unit == SCHED_MINUTES && b.log.frequency == 15 && b.log_retention.duration == 3);
    CHECK_EQ_INT(spec_policy_log_expiry(&b, 0), 3 * 86400 * SEC);
    /* Slots every 15 minutes from midnight UTC of the reference day. */
    CHECK_EQ_INT(spec_log_due(&g, &b, 0, 0, 14 * 60 * SEC), SCHED_NEVER);
    CHECK_EQ_INT(spec_log_due(&g, &b, 0, 0, 31 * 60 * SEC), 30 * 60 * SEC);
    CHECK_EQ_INT(spec_log_due(&g, &b, 0, 30 * 60 * SEC, 44 * 60 * SEC), SCHED_NEVER);
    g.env = SPEC_ENV_PHYSICAL; /* only SQL groups have log runs */
    CHECK_EQ_INT(spec_log_due(&g, &b, 0, 0, 31 * 60 * SEC), SCHED_NEVER);
    g.env = SPEC_ENV_SQL;
    g.paused = 1;
    CHECK_EQ_INT(spec_log_due(&g, &b, 0, 0, 31 * 60 * SEC), SCHED_NEVER);
    /* A v2 log rule must be minutes or hours. */
    {
        const char *bad = "{\"v\":2,\"log\":{\"unit\":\"days\",\"every\":1}}";
        CHECK_EQ_INT(spec_policy_decode(bad, strlen(bad), &b, err, sizeof err), -EINVAL);
        CHECKF(strstr(err, "'log.unit'") != NULL, "%s", err);
    }
}

int main(void)
{
    char path[512], err[256] = "";
    g_dir = check_tmpdir("pg-runs");
    snprintf(path, sizeof path, "%s/catalog.db", g_dir);
    if (cat_open(pgtest_cat(path), &g_cat, err, sizeof err) != 0) {
        fprintf(stderr, "cat_open: %s\n", err);
        return 1;
    }
    RUN(sql_snapshot_rows_and_objects);
    RUN(restore_ranges_follow_contiguous_wal);
    RUN(restore_plan_picks_base_and_wal);
    RUN(policy_log_rule_round_trip_and_schedule);
    cat_close(g_cat);
    check_rm_rf(g_dir);
    free(g_dir);
    return check_finish();
}
