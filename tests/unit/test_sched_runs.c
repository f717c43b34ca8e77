/* test_sched_runs.c: the run queue in the catalog: run id formats, one active run per group, leases,
 * progress and results, the snapshot rows they commit, cancel, requeue after a shutdown and the
 * "interrupted by daemon restart" recovery, listing filters and the JSON the API shows. */
#include "check.h"
#include "e2e/pgtest.h"
#include "api/run_json.h"
#include "catalog/cat_run.h"
#include "catalog/cat_snapshot.h"
#include "catalog/internal.h"
#include "sched/sched.h"
#include <stdlib.h>
#include <string.h>

static struct cat *g_cat;
static char *g_dir;

TEST(run_id_formats)
{
    char buf[API_RUN_ID_MAX];
    int64_t a = -1, b = -1;
    api_run_id_format(buf, sizeof buf, 42, 1700000000123456);
    CHECK(strcmp(buf, "42:1700000000123456") == 0);
    CHECK(api_run_id_parse(buf, &a, &b) == 1);
    CHECK_EQ_INT(a, 42);
    CHECK_EQ_INT(b, 1700000000123456);
    CHECK(api_run_id_parse("0:0", &a, &b) == 1 && a == 0 && b == 0);
    const char *bad[] = { "", "1", "1:", ":1", "01:5", "1:05", "-1:5", "1:-5", "1:2:3", "a:1", "1:1x",
                          "1: 2", "99999999999999999999:1", "1:9223372036854775808" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECKF(api_run_id_parse(bad[i], &a, &b) == 0, "%s", bad[i]);
    CHECK(api_run_id_parse("1:9223372036854775807", &a, &b) == 1 && b == INT64_MAX);
}

static int64_t queue(const char *tenant, const char *group, int64_t seq, int64_t start, int *rc)
{
    struct cat_run_new n = { .tenant = tenant, .group_id = group, .group_name = "g", .group_seq = seq,
                             .run_type = "kRegular", .status = "Accepted" };
    *rc = cat_run_insert(g_cat, &n, &start);
    return start;
}

TEST(one_active_run_per_group_and_unique_start)
{
    int rc;
    int64_t s1 = queue("t1", "1:1:7", 7, 1000, &rc), s2;
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(s1, 1000);
    queue("t1", "1:1:7", 7, 2000, &rc);
    CHECK_EQ_INT(rc, CAT_CONFLICT);
    CHECK_EQ_INT(cat_run_active(g_cat, "t1", "1:1:7"), 1);
    CHECK_EQ_INT(cat_run_active(g_cat, "t2", "1:1:7"), 0); /* tenants do not see each other */
    /* A Missed run is recorded even while one is active, at a unique start time. */
    {
        struct cat_run_new n = { .tenant = "t1", .group_id = "1:1:7", .group_name = "g", .group_seq = 7,
                                 .run_type = "kRegular", .status = "Missed", .message = "previous run still going",
                                 .scheduled = 1 };
        s2 = 1000;
        CHECK_EQ_INT(cat_run_insert(g_cat, &n, &s2), 0);
        CHECK_EQ_INT(s2, 1001);
    }
    {
        struct cat_run r;
        CHECK_EQ_INT(cat_run_find(g_cat, "t1", 7, 1001, &r), 0);
        CHECK(strcmp(r.status, "Missed") == 0 && r.end_usecs == 1001 && r.scheduled == 1);
        CHECK(strcmp(json_string_value(json_array_get(r.messages, 0)), "previous run still going") == 0);
        cat_run_release(&r);
        CHECK_EQ_INT(cat_run_find(g_cat, "t2", 7, 1001, &r), CAT_NOT_FOUND);
    }
}

TEST(lease_progress_finish_with_snapshot)
{
    struct cat_run r;
    struct cat_run_object o = { .object_id = 55, .object_name = "host", .source_id = 55, .environment = "kPhysical",
                                .object_type = "kHost", .files_total = -1, .bytes_total = -1 };
    struct cat_snapshot snap = { .tenant = "t1", .id = "ab", .object_id = 55, .object_name = "host", .source_id = 55,
                                 .environment = "kPhysical", .group_id = "1:1:7", .group_name = "g", .group_seq = 7,
                                 .run_usecs = 1000, .instance_id = 1, .run_type = "kRegular",
                                 .snapshot_usecs = 1100, .end_usecs = 1200, .status = "kSuccessful",
                                 .logical_bytes = 10, .bytes_read = 10, .bytes_written = 5, .files = 2 };
    struct cat_run_object *objs;
    size_t n;
    int cancel = -1;
    char *latest;
    CHECK_EQ_INT(cat_run_lease_next(g_cat, "owner-a", 5000, &r), 0);
    CHECK(strcmp(r.status, "Running") == 0 && r.start_usecs == 1000 && strcmp(r.lease_owner, "owner-a") == 0);
    cat_run_release(&r);
    CHECK_EQ_INT(cat_run_lease_next(g_cat, "owner-b", 5000, &r), CAT_NOT_FOUND); /* nothing else queued */
    CHECK_EQ_INT(cat_run_renew(g_cat, "t1", "1:1:7", 1000, "owner-b", 6000, &cancel), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_run_renew(g_cat, "t1", "1:1:7", 1000, "owner-a", 6000, &cancel), 0);
    CHECK_EQ_INT(cancel, 0);
    CHECK_EQ_INT(cat_run_object_add(g_cat, "t1", "1:1:7", 1000, &o), 0);
    o.begin_usecs = 1100;
    o.files = 1;
    o.pct = 50;
    CHECK_EQ_INT(cat_run_object_progress(g_cat, "t1", "1:1:7", 1000, &o), 0);
    CHECK_EQ_INT(cat_run_objects(g_cat, "t1", "1:1:7", 1000, &objs, &n), 0);
    CHECK(n == 1 && objs[0].files == 1 && objs[0].pct == 50 && strcmp(objs[0].status, "kInProgress") == 0);
    cat_run_object_release(&objs[0]);
    free(objs);
    o.status = "kSuccessful";
    o.snapshot_id = "ab";
    o.files = 2;
    o.logical_bytes = 10;
    o.bytes_read = 10;
    o.bytes_written = 5;
    o.end_usecs = 1200;
    o.pct = 100;
    CHECK_EQ_INT(cat_run_object_finish(g_cat, "t1", "1:1:7", 1000, &o, &snap), 0);
    CHECK_EQ_INT(cat_run_finish(g_cat, "t1", "1:1:7", 1000, "Succeeded", NULL, 1300), 0);
    CHECK_EQ_INT(cat_run_get(g_cat, "t1", "1:1:7", 1000, &r), 0);
    CHECK(strcmp(r.status, "Succeeded") == 0 && r.end_usecs == 1300 && r.lease_owner == NULL);
    CHECK(r.objects_ok == 1 && r.files == 2 && r.bytes_written == 5 && r.logical_bytes == 10);
    {
        json_t *j = api_run_json(&r, 0, NULL, 0);
        CHECK(strcmp(json_string_value(json_object_get(j, "id")), "7:1000") == 0);
        CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(j, "localBackupInfo"),
                                                                 "localSnapshotStats"), "bytesWritten")) == 5);
        CHECK(json_is_true(json_object_get(j, "hasLocalSnapshot")));
        json_decref(j);
    }
    cat_run_release(&r);
    CHECK_EQ_INT(cat_snapshot_latest(g_cat, "t1", "1:1:7", 55, &latest), 0);
    CHECK(strcmp(latest, "ab") == 0);
    free(latest);
    CHECK_EQ_INT(cat_snapshot_latest(g_cat, "t2", "1:1:7", 55, &latest), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_run_active(g_cat, "t1", "1:1:7"), 0);
    json_t *last = api_group_last_run(g_cat, "t1", "1:1:7");
    CHECK(last != NULL);
    CHECK(strcmp(json_string_value(json_object_get(last, "id")), "7:1001") == 0); /* the Missed one is newer */
    json_decref(last);
}

TEST(cancel_queued_and_running)
{
    int rc, was = -1;
    int64_t s = queue("t1", "1:1:8", 8, 3000, &rc);
    struct cat_run r;
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(cat_run_cancel(g_cat, "t1", "1:1:8", s, 3500, &was), 0);
    CHECK_EQ_INT(was, 0);
    CHECK_EQ_INT(cat_run_get(g_cat, "t1", "1:1:8", s, &r), 0);
    CHECK(strcmp(r.status, "Canceled") == 0 && r.end_usecs == 3500);
    cat_run_release(&r);
    CHECK_EQ_INT(cat_run_cancel(g_cat, "t1", "1:1:8", s, 3600, &was), CAT_CONFLICT);
    s = queue("t1", "1:1:8", 8, 4000, &rc);
    CHECK_EQ_INT(cat_run_lease_next(g_cat, "owner-a", 9000, &r), 0);
    cat_run_release(&r);
    CHECK_EQ_INT(cat_run_cancel(g_cat, "t1", "1:1:8", s, 4100, &was), 0);
    CHECK_EQ_INT(was, 1);
    {
        int cancel = 0;
        CHECK_EQ_INT(cat_run_check(g_cat, "t1", "1:1:8", s, "owner-a", &cancel), 0);
        CHECK_EQ_INT(cancel, 1);
        CHECK_EQ_INT(cat_run_check(g_cat, "t1", "1:1:8", s, "owner-b", &cancel), CAT_NOT_FOUND);
        cancel = 0;
        CHECK_EQ_INT(cat_run_renew(g_cat, "t1", "1:1:8", s, "owner-a", 9000, &cancel), 0);
        CHECK_EQ_INT(cancel, 1);
    }
    CHECK_EQ_INT(cat_run_get(g_cat, "t1", "1:1:8", s, &r), 0);
    {
        json_t *j = api_run_json(&r, 0, NULL, 0);
        CHECK(strcmp(json_string_value(json_object_get(json_object_get(j, "localBackupInfo"), "status")), "Canceling") == 0);
        json_decref(j);
    }
    cat_run_release(&r);
    CHECK_EQ_INT(cat_run_finish(g_cat, "t1", "1:1:8", s, "Canceled", NULL, 4200), 0);
    CHECK_EQ_INT(cat_run_cancel(g_cat, "t2", "1:1:8", s, 4300, &was), CAT_NOT_FOUND);
}

TEST(requeue_and_restart_recovery)
{
    int rc, n = -1;
    int64_t s = queue("t1", "1:1:9", 9, 5000, &rc);
    struct cat_run r;
    struct cat_run_object o = { .object_id = 1, .files_total = -1, .bytes_total = -1 };
    struct cat_run_object *objs;
    size_t no;
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(cat_run_lease_next(g_cat, "old-daemon", 9000, &r), 0);
    cat_run_release(&r);
    CHECK_EQ_INT(cat_run_object_add(g_cat, "t1", "1:1:9", s, &o), 0);
    /* Shutdown: back to the queue, unfinished objects forgotten. */
    CHECK_EQ_INT(cat_run_requeue(g_cat, "t1", "1:1:9", s, "interrupted by daemon shutdown; queued again"), 0);
    CHECK_EQ_INT(cat_run_objects(g_cat, "t1", "1:1:9", s, &objs, &no), 0);
    CHECK_EQ_INT(no, 0);
    free(objs);
    CHECK_EQ_INT(cat_run_lease_next(g_cat, "old-daemon", 9000, &r), 0);
    CHECK(r.start_usecs == s && json_array_size(r.messages) == 1);
    cat_run_release(&r);
    CHECK_EQ_INT(cat_run_object_add(g_cat, "t1", "1:1:9", s, &o), 0);
    /* A lease that has not expired is left alone by the periodic check... */
    CHECK_EQ_INT(cat_run_fail_running(g_cat, "new-daemon", 8000, "lease expired", 8000, &n), 0);
    CHECK_EQ_INT(n, 0);
    /* ...and at start every run left Running by another owner fails. */
    CHECK_EQ_INT(cat_run_fail_running(g_cat, "new-daemon", 0, "interrupted by daemon restart", 8500, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(cat_run_get(g_cat, "t1", "1:1:9", s, &r), 0);
    CHECK(strcmp(r.status, "Failed") == 0 && r.end_usecs == 8500 && r.objects_failed == 1);
    CHECK(strcmp(json_string_value(json_array_get(r.messages, 1)), "interrupted by daemon restart") == 0);
    cat_run_release(&r);
    CHECK_EQ_INT(cat_run_objects(g_cat, "t1", "1:1:9", s, &objs, &no), 0);
    CHECK(no == 1 && strcmp(objs[0].status, "kFailed") == 0 && strcmp(objs[0].message, "interrupted by daemon restart") == 0);
    cat_run_object_release(&objs[0]);
    free(objs);
    /* The group can run again. */
    queue("t1", "1:1:9", 9, 9000, &rc);
    CHECK_EQ_INT(rc, 0);
}

static int count_cb(void *ud, const struct cat_run *r)
{
    (void)r;
    (*(int *)ud)++;
    return 0;
}

TEST(list_filters)
{
    struct cat_run_filter f = { 0 };
    json_t *st = json_pack("[s]", "Missed"), *types = json_pack("[s]", "kFull");
    int n = 0;
    int64_t total = -1;
    CHECK_EQ_INT(cat_run_list(g_cat, "t1", "1:1:7", &f, count_cb, &n, &total), 0);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(total, 2);
    n = 0;
    f.statuses = st;
    CHECK_EQ_INT(cat_run_list(g_cat, "t1", "1:1:7", &f, count_cb, &n, &total), 0);
    CHECK_EQ_INT(n, 1);
    f.statuses = NULL;
    f.run_types = types;
    n = 0;
    CHECK_EQ_INT(cat_run_list(g_cat, "t1", "1:1:7", &f, count_cb, &n, &total), 0);
    CHECK_EQ_INT(n, 0);
    f.run_types = NULL;
    f.limit = 1;
    n = 0;
    CHECK_EQ_INT(cat_run_list(g_cat, "t1", "1:1:7", &f, count_cb, &n, &total), 0);
    CHECK(n == 1 && total == 2);
    f.limit = 0;
    f.restorable_only = 1;
    n = 0;
    CHECK_EQ_INT(cat_run_list(g_cat, "t1", "1:1:7", &f, count_cb, &n, &total), 0);
    CHECK_EQ_INT(n, 1);
    n = 0;
    CHECK_EQ_INT(cat_run_list(g_cat, "t2", "1:1:7", &(struct cat_run_filter){ 0 }, count_cb, &n, &total), 0);
    CHECK_EQ_INT(n, 0);
    json_decref(st);
    json_decref(types);
}

static int snap_cb(void *ud, const struct cat_snapshot *s)
{
    json_array_append_new(ud, json_string(s->id));
    return 0;
}

TEST(snapshot_deletion_and_legal_hold)
{
    json_t *ids = json_array();
    struct cat_snapshot_filter f = { .object_id = 55, .source_id = -1 };
    struct cat_run r;
    CHECK_EQ_INT(cat_snapshot_list(g_cat, "t1", &f, snap_cb, ids), 0);
    CHECK_EQ_INT(json_array_size(ids), 1);
    /* On legal hold the run's snapshots cannot be deleted. */
    CHECK_EQ_INT(cat_run_update_local(g_cat, "t1", "1:1:7", 1000, 1, -1, NULL, 0, 2000), 0);
    CHECK_EQ_INT(cat_run_update_local(g_cat, "t1", "1:1:7", 1000, -1, -1, NULL, 1, 2000), CAT_CONFLICT);
    CHECK_EQ_INT(cat_run_update_local(g_cat, "t1", "1:1:7", 1000, 0, 99999, NULL, 0, 2000), 0);
    CHECK_EQ_INT(cat_run_update_local(g_cat, "t1", "1:1:7", 1000, -1, -1, NULL, 1, 2000), 0);
    CHECK_EQ_INT(cat_run_get(g_cat, "t1", "1:1:7", 1000, &r), 0);
    CHECK(r.local_deleted == 1 && r.expiry_usecs == 99999);
    cat_run_release(&r);
    json_array_clear(ids);
    CHECK_EQ_INT(cat_snapshot_list(g_cat, "t1", &f, snap_cb, ids), 0);
    CHECK_EQ_INT(json_array_size(ids), 0);
    f.include_deleted = 1;
    CHECK_EQ_INT(cat_snapshot_list(g_cat, "t1", &f, snap_cb, ids), 0);
    CHECK_EQ_INT(json_array_size(ids), 1);
    CHECK_EQ_INT(cat_run_update_local(g_cat, "t1", "1:1:7", 424242, -1, -1, NULL, 1, 2000), CAT_NOT_FOUND);
    json_decref(ids);
}

TEST(retention_pass_deletes_expired_snapshots)
{
    const char *ids[] = { "exp-1", "exp-held", "exp-never", "exp-later" };
    int64_t expiry[] = { 500, 500, 0, 5000 };
    struct cat_snapshot s;
    for (int i = 0; i < 4; i++) {
        struct cat_snapshot n = { .tenant = "t3", .id = (char *)ids[i], .object_id = 9, .environment = "kPhysical",
                                  .group_id = "1:1:30", .group_seq = 30, .run_usecs = 100 + i, .instance_id = 900 + i,
                                  .run_type = "kRegular", .snapshot_usecs = 100, .end_usecs = 200,
                                  .status = "kSuccessful", .expiry_usecs = expiry[i], .on_legal_hold = i == 1 };
        CHECK_EQ_INT(cat_snapshot_insert(g_cat, &n), 0);
    }
    CHECK_EQ_INT(sched_retention_pass(g_cat, NULL, 1000), 1);
    CHECK_EQ_INT(cat_snapshot_get(g_cat, "t3", "exp-1", &s), 0);
    CHECK_EQ_INT(s.is_deleted, 1);
    cat_snapshot_release(&s);
    for (int i = 1; i < 4; i++) {
        CHECK_EQ_INT(cat_snapshot_get(g_cat, "t3", ids[i], &s), 0);
        CHECKF(s.is_deleted == 0, "%s", ids[i]);
        cat_snapshot_release(&s);
    }
    CHECK_EQ_INT(sched_retention_pass(g_cat, NULL, 1000), 0); /* nothing more */
    CHECK_EQ_INT(sched_retention_pass(g_cat, NULL, 6000), 1); /* the later one */
    CHECK_EQ_INT(cat_snapshot_get(g_cat, "t1", "exp-1", &s), CAT_NOT_FOUND); /* tenant scoped */
}

TEST(group_deleted_cancels_runs_and_expires_snapshots)
{
    int rc;
    int64_t s = queue("t4", "1:1:40", 40, 100, &rc);
    struct cat_run r;
    struct cat_snapshot snap = { .tenant = "t4", .id = "g40-snap", .object_id = 9, .environment = "kPhysical",
                                 .group_id = "1:1:40", .group_seq = 40, .run_usecs = 50, .instance_id = 4000,
                                 .run_type = "kRegular", .snapshot_usecs = 50, .end_usecs = 60,
                                 .status = "kSuccessful" };
    struct cat_snapshot held = snap;
    CHECK_EQ_INT(rc, 0);
    held.id = "g40-held";
    held.instance_id = 4001;
    held.on_legal_hold = 1;
    CHECK_EQ_INT(cat_snapshot_insert(g_cat, &snap), 0);
    CHECK_EQ_INT(cat_snapshot_insert(g_cat, &held), 0);
    CHECK_EQ_INT(cat_begin(g_cat), 0);
    CHECK_EQ_INT(cat_run_group_deleted(g_cat, "t4", "1:1:40", 1, 777), 0);
    CHECK_EQ_INT(cat_commit(g_cat), 0);
    CHECK_EQ_INT(cat_run_get(g_cat, "t4", "1:1:40", s, &r), 0);
    CHECK(strcmp(r.status, "Canceled") == 0 && r.end_usecs == 777);
    CHECK(strstr(json_string_value(json_array_get(r.messages, 0)), "deleted") != NULL);
    cat_run_release(&r);
    CHECK_EQ_INT(sched_retention_pass(g_cat, NULL, 1000), 1); /* the held one stays */
    CHECK_EQ_INT(cat_snapshot_get(g_cat, "t4", "g40-held", &snap), 0);
    CHECK_EQ_INT(snap.is_deleted, 0);
    cat_snapshot_release(&snap);
}

/* A run still finishing when its group is deleted: with deleteSnapshots its snapshot expires at once
 * like the group's others (it used to keep the policy's retention); without, it keeps it. */
TEST(a_run_finishing_after_its_group_was_deleted)
{
    static const char *const groups[] = { "1:1:41", "1:1:42" };
    for (int with = 1; with >= 0; with--) {
        char gid[16], sql[400], sid[32];
        struct cat_run_object o = { .object_id = 9, .status = "kSuccessful", .end_usecs = 160 };
        struct cat_snapshot snap = { .tenant = "t5", .object_id = 9, .environment = "kPhysical", .group_id = gid,
                                     .group_seq = 41, .run_usecs = 100, .run_type = "kRegular",
                                     .snapshot_usecs = 150, .end_usecs = 160, .status = "kSuccessful",
                                     .expiry_usecs = 999999 };
        struct cat_snapshot got;
        snprintf(gid, sizeof gid, "%s", groups[with ? 0 : 1]);
        snprintf(sid, sizeof sid, "late-%d", with);
        snap.id = sid;
        snap.instance_id = 4100 + with;
        o.snapshot_id = sid;
        snprintf(sql, sizeof sql, "INSERT INTO protection_groups(id, tenant, seq, name, policy_id, environment, doc,"
                 " mtime_usecs, created_usecs) VALUES ('%s', 't5', %d, 'g%d', 'p', 'kPhysical', '{}', 1, 1)",
                 gid, 41 + !with, with);
        CHECK_EQ_INT(cat_exec_sql(g_cat, sql), 0);
        CHECK_EQ_INT(cat_begin(g_cat), 0);
        snprintf(sql, sizeof sql, "UPDATE protection_groups SET is_deleted = 1 WHERE id = '%s'", gid);
        CHECK_EQ_INT(cat_exec_sql(g_cat, sql), 0);
        CHECK_EQ_INT(cat_run_group_deleted(g_cat, "t5", gid, with, 120), 0);
        CHECK_EQ_INT(cat_commit(g_cat), 0);
        /* the run's object finishes after the deletion was committed */
        CHECK_EQ_INT(cat_run_object_finish(g_cat, "t5", gid, 100, &o, &snap), 0);
        CHECK_EQ_INT(cat_snapshot_get(g_cat, "t5", sid, &got), 0);
        CHECKF(got.expiry_usecs == (with ? 150 : 999999), "deleteSnapshots %d: expiry %lld", with,
               (long long)got.expiry_usecs);
        cat_snapshot_release(&got);
    }
}

TEST(sched_state)
{
    int64_t v = -1;
    CHECK_EQ_INT(cat_sched_get(g_cat, "t1", "g", &v), 0);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(cat_sched_put(g_cat, "t1", "g", 77), 0);
    CHECK_EQ_INT(cat_sched_put(g_cat, "t1", "g", 78), 0);
    CHECK_EQ_INT(cat_sched_get(g_cat, "t1", "g", &v), 0);
    CHECK_EQ_INT(v, 78);
    CHECK_EQ_INT(cat_sched_get(g_cat, "t2", "g", &v), 0);
    CHECK_EQ_INT(v, 0);
}

int main(void)
{
    char path[512], err[256] = "";
    g_dir = check_tmpdir("sched-runs");
    snprintf(path, sizeof path, "%s/catalog.db", g_dir);
    if (cat_open(pgtest_cat(path), &g_cat, err, sizeof err) != 0) {
        fprintf(stderr, "cat_open: %s\n", err);
        return 1;
    }
    RUN(run_id_formats);
    RUN(one_active_run_per_group_and_unique_start);
    RUN(lease_progress_finish_with_snapshot);
    RUN(cancel_queued_and_running);
    RUN(requeue_and_restart_recovery);
    RUN(list_filters);
    RUN(snapshot_deletion_and_legal_hold);
    RUN(retention_pass_deletes_expired_snapshots);
    RUN(group_deleted_cancels_runs_and_expires_snapshots);
    RUN(a_run_finishing_after_its_group_was_deleted);
    RUN(sched_state);
    cat_close(g_cat);
    check_rm_rf(g_dir);
    free(g_dir);
    return check_finish();
}
