/* e2e_pg_runs.c: kSQL protection groups and their runs through the real daemon, against a real
 * PostgreSQL 15 started here (pgtest.h, ports 55200-55299).
 *
 * The server is registered through HTTP (environment kSQL, advancedConfigs pgPort / pgSocketDir), its
 * instance and database found in the registration's objects. Groups: bad bodies are refused with the
 * field named and nothing stored; a group over a database is created, echoed, updated to the
 * instance, listed. Runs: kFull, rows written, kRegular (its stats show it read far less than the
 * instance), rows written at recorded server times, kLog; the restore points show the base backups
 * and one continuous range covering those times. Then cofferd is SIGKILLed while idle (streaming),
 * rows are written while it is down, it is restarted slow and SIGKILLed in the middle of a base
 * backup, restarted again: that run is Failed, more rows, kLog; the range still runs from the first
 * base backup to the last rows. Finally, with the daemon stopped, the test opens the catalog and
 * repository, plans (svc_pg_plan_restore) and restores (eng_pg_restore) the instance at points in
 * time before, across and after the kills, starts a server on each and compares every table's
 * count and md5 with what the source held at that moment, and runs pg_amcheck (heap and every index)
 * on each restored instance. */
#include "catalog/cat.h"
#include "catalog/cat_snapshot.h"
#include "check.h"
#include "engine/pg.h"
#include "harness.h"
#include "pgtest.h"
#include "repo/repo.h"
#include "svc/pg_plan.h"
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T "t-pgruns"
#define GRP "/v2/data-protect/protection-groups"
#define PORT_SRC 55200
#define PORT_RESTORE 55210

static const char *const TESTS[] = { "pg_groups_validated_and_echoed", "pg_runs_full_regular_log",
                                     "pg_sigkill_during_streaming_and_base_backup", "pg_point_in_time_restores",
                                     "pg_log_schedule_and_first_log_run" };

/* A moment of the source: the server's time and each table's count:md5. */
struct moment {
    int64_t usecs;
    char acct[128], big[128];
};

static struct {
    struct pgtest src;
    struct daemon d;
    int daemon_up;
    char conninfo[800];
    char policy[64], group[64];
    long long source_id, instance_id, db_id, table_id;
    char full_snap[80], regular_snap[80];
    long long full_read, full_logical, regular_read;
    struct moment m[8]; /* 0: at the full backup; 1..3 before the kills; 4 while down; 5 after */
    int have[8];
} fx;

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int sums(PGconn *c, struct moment *m)
{
    char v[64];
    if (pgtest_value(c, "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint", v, sizeof v) != 0) return -1;
    m->usecs = strtoll(v, NULL, 10);
    if (pgtest_value(c, "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '-') FROM acct t",
                     m->acct, sizeof m->acct) != 0 ||
        pgtest_value(c, "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '-') FROM big t",
                     m->big, sizeof m->big) != 0)
        return -1;
    return 0;
}

/* record: waits, records moment k of the source (database appdb), waits again (a commit then comes
 * strictly after the moment). */
static int record(int k)
{
    PGconn *c = pgtest_connect(&fx.src, "appdb");
    int rc;
    if (!c) return -1;
    sleep_ms(150);
    rc = sums(c, &fx.m[k]);
    PQfinish(c);
    sleep_ms(150);
    if (rc == 0) fx.have[k] = 1;
    return rc;
}

/* write_batch: a batch of changes in appdb: 50 updated rows of acct, 100 new ones (ids from base). */
static int write_batch(int base, char *why, size_t n)
{
    char sql[400];
    PGconn *c = pgtest_connect(&fx.src, "appdb");
    int rc;
    if (!c) return -1;
    snprintf(sql, sizeof sql,
             "UPDATE acct SET v = v || '+%d' WHERE id %% 97 = %d; INSERT INTO acct SELECT g, md5(g::text) FROM "
             "generate_series(%d, %d) g",
             base, base % 97, base, base + 99);
    rc = pgtest_exec(c, sql, why, n);
    PQfinish(c);
    return rc;
}

/* find_id: the id of the first object (depth first) of objectType type named name (NULL: any). */
static long long find_id(json_t *j, const char *type, const char *name)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        const char *t = json_string_value(json_object_get(j, "objectType")), *nm = json_string_value(json_object_get(j, "name"));
        if (t && strcmp(t, type) == 0 && (!name || (nm && strcmp(nm, name) == 0)) &&
            json_is_integer(json_object_get(j, "id")))
            return json_integer_value(json_object_get(j, "id"));
        json_object_foreach(j, k, v) {
            long long id = find_id(v, type, name);
            if (id > 0) return id;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            long long id = find_id(v, type, name);
            if (id > 0) return id;
        }
    }
    return 0;
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

/* start_run: POST a run of the group; its id into id. The HTTP status. */
static long start_run(const char *type, char *id, size_t len)
{
    struct http_resp r;
    char path[200];
    long st;
    snprintf(path, sizeof path, GRP "/%s/runs", fx.group);
    st = call("POST", path, jfmt("{'runType':'%s'}", type), &r);
    snprintf(id, len, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    if (st != 202) fprintf(stderr, "POST %s: %ld %s\n", path, st, r.body ? r.body : "");
    http_resp_release(&r);
    return st;
}

static json_t *get_run(const char *id)
{
    struct http_resp r;
    char path[300];
    json_t *j = NULL;
    snprintf(path, sizeof path, GRP "/%s/runs/%s?includeObjectDetails=true", fx.group, id);
    if (call("GET", path, NULL, &r) == 200) j = json_incref(r.json);
    http_resp_release(&r);
    return j;
}

static int finished(const char *s)
{
    return s && strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0 && strcmp(s, "Canceling") != 0;
}

static json_t *wait_run(const char *id, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        json_t *run = get_run(id);
        if (run && finished(jstr(run, "localBackupInfo.status"))) return run;
        json_decref(run);
        sleep_ms(100);
    }
    fprintf(stderr, "run %s did not finish in %d s\n", id, timeout_s);
    return NULL;
}

/* run_ok: runs type to its end; 1 when Succeeded, with the run's JSON in *out (caller decrefs). */
static int run_ok(const char *type, json_t **out)
{
    char id[80];
    json_t *run;
    *out = NULL;
    if (start_run(type, id, sizeof id) != 202) return 0;
    if (!(run = wait_run(id, 240))) return 0;
    *out = run;
    if (strcmp(jstr(run, "localBackupInfo.status"), "Succeeded") != 0) {
        fprintf(stderr, "run %s (%s): %s\n", id, type, json_dumps(run, JSON_COMPACT));
        return 0;
    }
    return 1;
}

static int group_count(void)
{
    struct http_resp r;
    int n = -1;
    if (call("GET", GRP, NULL, &r) == 200) n = (int)json_array_size(jget(r.json, "protectionGroups"));
    http_resp_release(&r);
    return n;
}

/* restore_points: POST restore-points over [from, to] for the group (the response JSON). */
static json_t *restore_points(int64_t from, int64_t to)
{
    struct http_resp r;
    json_t *j = NULL;
    long st = call("POST", "/v2/data-protect/snapshots/restore-points",
                   jfmt("{'startTimeUsecs':%lld,'endTimeUsecs':%lld,'environment':'kSQL','protectionGroupIds':['%s']}",
                        (long long)from, (long long)to, fx.group), &r);
    if (st == 201) j = json_incref(r.json);
    else fprintf(stderr, "restore-points: %ld %s\n", st, r.body ? r.body : "");
    http_resp_release(&r);
    return j;
}

/* covered: one range of the response holds every recorded moment in lo..hi. */
static int covered(json_t *rp, int lo, int hi, char *why, size_t n)
{
    json_t *ranges = jget(rp, "timeRangeInfo.timeRanges"), *v;
    size_t i;
    json_array_foreach(ranges, i, v) {
        int64_t a = json_integer_value(json_object_get(v, "startTimeUsecs"));
        int64_t b = json_integer_value(json_object_get(v, "endTimeUsecs"));
        int all = 1;
        for (int k = lo; k <= hi; k++)
            if (fx.have[k] && (fx.m[k].usecs < a || fx.m[k].usecs > b)) all = 0;
        if (all) return 1;
    }
    snprintf(why, n, "no range covers moments %d..%d: %s", lo, hi, json_dumps(ranges, JSON_COMPACT));
    return 0;
}

TEST(pg_groups_validated_and_echoed)
{
    struct http_resp r;
    char path[200];
    int before;
    /* The registration, through HTTP; its instance, database and a table from its objects. */
    CHECK(call("POST", "/v2/data-protect/sources/registrations",
               jfmt("{'environment':'kSQL','name':'pg-runs','physicalParams':{'endpoint':'localhost'},"
                    "'advancedConfigs':[{'key':'pgPort','value':'%d'},{'key':'pgSocketDir','value':'%s'}]}",
                    PORT_SRC, fx.src.sock), &r) == 201);
    fx.source_id = jint(r.json, "id");
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/sources/registrations/%lld", fx.source_id);
    CHECK(call("GET", path, NULL, &r) == 200);
    fx.instance_id = find_id(r.json, "kInstance", NULL);
    fx.db_id = find_id(r.json, "kDatabase", "appdb");
    fx.table_id = find_id(r.json, "kTable", "public.acct");
    http_resp_release(&r);
    if (!fx.instance_id || !fx.db_id) { /* the objects may be listed through search only */
        CHECK(call("GET", "/v2/data-protect/search/objects?environments=kSQL", NULL, &r) == 200);
        if (!fx.instance_id) fx.instance_id = find_id(r.json, "kInstance", NULL);
        if (!fx.db_id) fx.db_id = find_id(r.json, "kDatabase", "appdb");
        if (!fx.table_id) fx.table_id = find_id(r.json, "kTable", "public.acct");
        http_resp_release(&r);
    }
    CHECKF(fx.instance_id > 0 && fx.db_id > 0, "instance %lld, database %lld", fx.instance_id, fx.db_id);

    CHECK(call("POST", "/v2/data-protect/policies",
               "{\"name\":\"pg-daily\",\"backupPolicy\":{\"regular\":{\"incremental\":{\"schedule\":{\"unit\":\"Days\","
               "\"daySchedule\":{\"frequency\":1}}},\"retention\":{\"unit\":\"Days\",\"duration\":7}},\"log\":{"
               "\"schedule\":{\"unit\":\"Hours\",\"hourSchedule\":{\"frequency\":24}},\"retention\":{\"unit\":\"Days\","
               "\"duration\":7}}}}", &r) == 201);
    snprintf(fx.policy, sizeof fx.policy, "%s", jstr(r.json, "id"));
    http_resp_release(&r);

    /* Refused, naming the field, nothing stored. */
    before = group_count();
    CHECK(call("POST", GRP, jfmt("{'name':'bad','policyId':'%s','environment':'kSQL','mssqlParams':{'protectionType':"
                                 "'kVolume','volumeProtectionTypeParams':{'objects':[{'id':%lld}]}}}",
                                 fx.policy, fx.instance_id), &r) == 400);
    CHECKF(msg_has(&r, "mssqlParams.protectionType") && msg_has(&r, "kVolume"), "%s", r.body);
    http_resp_release(&r);
    if (fx.table_id > 0) {
        CHECK(call("POST", GRP, jfmt("{'name':'bad','policyId':'%s','environment':'kSQL','mssqlParams':{'protectionType':"
                                     "'kNative','nativeProtectionTypeParams':{'objects':[{'id':%lld},{'id':%lld}]}}}",
                                     fx.policy, fx.db_id, fx.table_id), &r) == 400);
        CHECKF(msg_has(&r, "mssqlParams.nativeProtectionTypeParams.objects[1].id") && msg_has(&r, "kTable"), "%s", r.body);
        http_resp_release(&r);
    }
    CHECK(call("POST", GRP, jfmt("{'name':'bad','policyId':'%s','environment':'kSQL','mssqlParams':{'protectionType':"
                                 "'kFile','fileProtectionTypeParams':{'objects':[{'id':987654321}]}}}", fx.policy), &r) == 400);
    CHECKF(msg_has(&r, "mssqlParams.fileProtectionTypeParams.objects[0].id"), "%s", r.body);
    http_resp_release(&r);
    CHECK(call("POST", GRP, jfmt("{'name':'bad','policyId':'%s','environment':'kSQL','mssqlParams':{'protectionType':"
                                 "'kNative','nativeProtectionTypeParams':{'objects':[{'id':%lld}]}}}", fx.policy,
                                 fx.source_id), &r) == 400); /* the registration's host is not a SQL object */
    CHECKF(msg_has(&r, "objects[0].id"), "%s", r.body);
    http_resp_release(&r);
    CHECK_EQ_INT(group_count(), before);

    /* A group over the database, echoed; then updated to the instance; listed by environment. */
    CHECK(call("POST", GRP, jfmt("{'name':'pg','policyId':'%s','environment':'kSQL','mssqlParams':{'protectionType':"
                                 "'kNative','nativeProtectionTypeParams':{'objects':[{'id':%lld,'name':'appdb'}],"
                                 "'numStreams':2}}}", fx.policy, fx.db_id), &r) == 201);
    snprintf(fx.group, sizeof fx.group, "%s", jstr(r.json, "id"));
    CHECK(strcmp(jstr(r.json, "mssqlParams.protectionType"), "kNative") == 0);
    CHECK_EQ_INT(jint(r.json, "mssqlParams.nativeProtectionTypeParams.objects.0.id"), fx.db_id);
    CHECK_EQ_INT(jint(r.json, "mssqlParams.nativeProtectionTypeParams.numStreams"), 2);
    http_resp_release(&r);
    snprintf(path, sizeof path, GRP "/%s", fx.group);
    CHECK(call("GET", path, NULL, &r) == 200);
    CHECK_EQ_INT(jint(r.json, "mssqlParams.nativeProtectionTypeParams.objects.0.id"), fx.db_id);
    http_resp_release(&r);
    CHECK(call("PUT", path, jfmt("{'name':'pg','policyId':'%s','environment':'kSQL','mssqlParams':{'protectionType':"
                                 "'kNative','nativeProtectionTypeParams':{'objects':[{'id':%lld},{'id':%lld}]}}}",
                                 fx.policy, fx.db_id, fx.instance_id), &r) == 200);
    CHECK_EQ_INT(jint(r.json, "mssqlParams.nativeProtectionTypeParams.objects.1.id"), fx.instance_id);
    http_resp_release(&r);
    CHECK(call("GET", GRP "?environments=kSQL", NULL, &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "protectionGroups")), 1);
    CHECK(strcmp(jstr(r.json, "protectionGroups.0.id"), fx.group) == 0);
    http_resp_release(&r);
    /* kLog is only for kSQL groups; a bad run type names the field. */
    {
        char id[80];
        CHECK(start_run("kSystem", id, sizeof id) == 400);
    }
}

TEST(pg_runs_full_regular_log)
{
    json_t *run = NULL, *rp = NULL;
    char why[512] = "", v[64];
    PGconn *c;
    CHECKF(fx.group[0], "needs the group");
    CHECK(record(0) == 0);
    CHECK(run_ok("kFull", &run));
    fx.full_read = jint(run, "localBackupInfo.localSnapshotStats.bytesRead");
    fx.full_logical = jint(run, "localBackupInfo.localSnapshotStats.logicalSizeBytes");
    snprintf(fx.full_snap, sizeof fx.full_snap, "%s", jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId")
                                                           ? jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId") : "");
    CHECKF(json_array_size(jget(run, "objects")) == 1, "one snapshot per instance: %s", json_dumps(run, JSON_COMPACT));
    CHECK_EQ_INT(jint(run, "objects.0.object.id"), fx.instance_id);
    CHECK(strcmp(jstr(run, "environment"), "kSQL") == 0 && strcmp(jstr(run, "objects.0.object.objectType"), "kInstance") == 0);
    json_decref(run);
    printf("kFull: logical %lld bytes, read %lld\n", fx.full_logical, fx.full_read);
    CHECK(fx.full_logical > 30 * 1000 * 1000 && fx.full_read >= fx.full_logical / 2);
    /* The persistent slot exists on the server (the streamer's). */
    c = pgtest_connect(&fx.src, "postgres");
    CHECK(c != NULL);
    CHECK(pgtest_value(c, "SELECT count(*) || ' ' || bool_and(NOT temporary) FROM pg_replication_slots WHERE slot_name "
                          "LIKE 'coffer\\_%'", v, sizeof v) == 0);
    PQfinish(c);
    CHECKF(strcmp(v, "1 true") == 0, "slots: %s", v);

    CHECKF(write_batch(1000, why, sizeof why) == 0, "%s", why);
    CHECK(run_ok("kRegular", &run));
    fx.regular_read = jint(run, "localBackupInfo.localSnapshotStats.bytesRead");
    snprintf(fx.regular_snap, sizeof fx.regular_snap, "%s",
             jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId") ? jstr(run, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId") : "");
    printf("kRegular: logical %lld bytes, read %lld\n", jint(run, "localBackupInfo.localSnapshotStats.logicalSizeBytes"),
           fx.regular_read);
    json_decref(run);
    /* far less than the instance: its data directory is over 30 MB, the WAL segment is 16 MiB */
    CHECKF(fx.regular_read > 0 && fx.regular_read < fx.full_logical * 3 / 4 &&
           fx.regular_read - 16LL * 1024 * 1024 < (fx.full_logical - 16LL * 1024 * 1024) / 4,
           "kRegular read %lld of %lld", fx.regular_read, fx.full_logical);

    for (int k = 1; k <= 3; k++) {
        CHECKF(write_batch(2000 + k * 100 * 2, why, sizeof why) == 0, "%s", why);
        CHECK(record(k) == 0);
    }
    CHECK(run_ok("kLog", &run));
    CHECKF(jint(run, "localBackupInfo.localSnapshotStats.logicalSizeBytes") >= 16LL * 1024 * 1024,
           "%s", json_dumps(run, JSON_COMPACT));
    json_decref(run);

    rp = restore_points(fx.m[0].usecs - 3600LL * 1000000, fx.m[3].usecs + 3600LL * 1000000);
    CHECK(rp != NULL);
    CHECKF(json_array_size(jget(rp, "fullSnapshotInfo")) == 2, "%s", json_dumps(rp, JSON_COMPACT));
    CHECK(strcmp(jstr(rp, "fullSnapshotInfo.0.restoreInfo.runType"), "kFull") == 0);
    CHECK(strcmp(jstr(rp, "fullSnapshotInfo.1.restoreInfo.runType"), "kRegular") == 0);
    CHECKF(covered(rp, 1, 3, why, sizeof why), "%s", why);
    CHECK_EQ_INT(json_array_size(jget(rp, "timeRangeInfo.timeRanges")), 1);
    CHECK(strcmp(jstr(rp, "timeRangeInfo.timeRanges.0.protectionGroupId"), fx.group) == 0);
    json_decref(rp);
}

/* running_for: waits until the run is Running with the instance begun; 1 when seen. */
static int wait_running(const char *id, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        json_t *run = get_run(id);
        const char *st = jstr(run, "localBackupInfo.status");
        int r = st && strcmp(st, "Running") == 0;
        json_decref(run);
        if (r) return 1;
        sleep_ms(100);
    }
    return 0;
}

TEST(pg_sigkill_during_streaming_and_base_backup)
{
    const char *slow[] = { "COFFER_TEST_HOOKS=1", "COFFER_TEST_SLOW_OPEN_MS=25", NULL };
    char why[512] = "", id[80], how[128];
    json_t *run, *rp;
    CHECKF(fx.have[3], "needs the runs");
    /* Killed while it streams (idle): rows written while it is down stay in the slot. */
    CHECK(daemon_kill_how(&fx.d, SIGKILL, how, sizeof how) == SIGKILL);
    fx.daemon_up = 0;
    CHECKF(write_batch(5000, why, sizeof why) == 0, "%s", why);
    CHECK(record(4) == 0);
    /* Restarted slow; killed in the middle of a base backup. */
    CHECK(daemon_restart(&fx.d, slow) == 0);
    fx.daemon_up = 1;
    CHECK(start_run("kFull", id, sizeof id) == 202);
    CHECK(wait_running(id, 60));
    sleep_ms(2500);
    run = get_run(id);
    CHECKF(run && strcmp(jstr(run, "localBackupInfo.status"), "Running") == 0, "the slow backup ended early: %s",
           run ? json_dumps(run, JSON_COMPACT) : "?");
    json_decref(run);
    CHECK(daemon_kill_how(&fx.d, SIGKILL, how, sizeof how) == SIGKILL);
    fx.daemon_up = 0;
    CHECK(daemon_restart(&fx.d, NULL) == 0);
    fx.daemon_up = 1;
    run = wait_run(id, 60);
    CHECK(run != NULL);
    CHECKF(strcmp(jstr(run, "localBackupInfo.status"), "Failed") == 0, "%s", json_dumps(run, JSON_COMPACT));
    json_decref(run);
    CHECKF(write_batch(6000, why, sizeof why) == 0, "%s", why);
    CHECK(record(5) == 0);
    CHECK(run_ok("kLog", &run));
    json_decref(run);
    /* No gap: one range from the first base backup to the last rows. */
    rp = restore_points(fx.m[0].usecs - 3600LL * 1000000, fx.m[5].usecs + 3600LL * 1000000);
    CHECK(rp != NULL);
    CHECKF(covered(rp, 1, 5, why, sizeof why), "%s", why);
    json_decref(rp);
}

/* restore_at: plans the restore of snap at point (0: its own point), restores it into a new data
 * directory, starts a server on port and reads the moment's sums into got. */
static int restore_at(struct cat *cat, struct repo *repo, const char *snap, int64_t point, int port, struct moment *got,
                      size_t *n_wal, char *why, size_t n)
{
    struct svc_pg_plan plan;
    struct pgtest dst;
    struct eng_pg_restore_result rr;
    char when[64];
    PGconn *c = NULL;
    int rc;
    memset(&dst, 0, sizeof dst);
    if ((rc = svc_pg_plan_restore(cat, T, snap, point, &plan, why, n)) != 0) return rc;
    *n_wal = plan.n_wal;
    if (plan.target_usecs) eng_pg_time_text(plan.target_usecs, when, sizeof when);
    struct eng_pg_restore_opts ro = { .threads = 2, .recovery_target_time = plan.target_usecs ? when : NULL,
                                      .wal_snapshot_ids = (const char *const *)plan.wal_snapshot_ids,
                                      .n_wal_snapshots = plan.n_wal };
    if ((rc = pgtest_root(&dst, "pgruns-restore", "restored", port, why, n)) != 0) goto out;
    ro.target_dir = dst.data;
    if ((rc = eng_pg_restore(repo, plan.base_snapshot_id, &ro, &rr, why, n)) != 0) goto out;
    if ((rc = pgtest_start(&dst, why, n)) != 0) goto out;
    if (!(c = pgtest_connect(&dst, "appdb"))) {
        rc = -EIO;
        goto out;
    }
    {
        char v[16] = "";
        for (int i = 0; i < 600; i++) {
            if (pgtest_value(c, "SELECT pg_is_in_recovery()", v, sizeof v) == 0 && strcmp(v, "f") == 0) break;
            sleep_ms(100);
        }
    }
    rc = sums(c, got);
    if (rc == 0) rc = pgtest_amcheck(&dst, why, n); /* the restored instance is physically sound */
out:
    PQfinish(c);
    pgtest_destroy(&dst);
    svc_pg_plan_release(&plan);
    return rc;
}

struct objs {
    int dbs, tables, appdb, acct, big;
};
static int obj_cb(void *ud, const struct cat_snapshot_object *o)
{
    struct objs *x = ud;
    if (strcmp(o->kind, "database") == 0) x->dbs++, x->appdb += strcmp(o->name, "appdb") == 0 && o->bytes > 0;
    if (strcmp(o->kind, "table") == 0) {
        x->tables++;
        x->acct += strcmp(o->name, "public.acct") == 0 && o->parent && strcmp(o->parent, "appdb") == 0;
        x->big += strcmp(o->name, "public.big") == 0 && o->bytes > 10 * 1000 * 1000;
    }
    return 0;
}

TEST(pg_point_in_time_restores)
{
    struct cat *cat = NULL;
    struct repo *repo = NULL;
    char path[700], key[700], why[1024] = "";
    struct objs x = { 0 };
    /* the moments: the full's own point, one before the kills, one while the daemon was down, one after */
    static const int points[] = { 0, 2, 4, 5 };
    CHECKF(fx.have[5] && fx.full_snap[0], "needs the runs");
    CHECK(daemon_kill(&fx.d, SIGTERM) == 0);
    fx.daemon_up = 0;
    snprintf(path, sizeof path, "%s/catalog.db", fx.d.data_dir);
    CHECKF(cat_open(path, &cat, why, sizeof why) == 0, "%s", why);
    snprintf(path, sizeof path, "%s/repo", fx.d.data_dir);
    snprintf(key, sizeof key, "%s/repo.key", fx.d.data_dir);
    if (repo_open(path, key, &repo, why, sizeof why) != 0) {
        cat_close(cat);
        CHECKF(0, "repo_open: %s", why);
    }
    CHECK_EQ_INT(cat_snapshot_objects_list(cat, T, fx.full_snap, obj_cb, &x), 0);
    printf("the full base backup held %d databases and %d tables\n", x.dbs, x.tables);
    if (!(x.appdb == 1 && x.acct == 1 && x.big == 1 && x.dbs >= 2)) {
        cat_close(cat);
        repo_close(repo);
        CHECKF(0, "objects: %d databases (appdb %d), %d tables (acct %d, big %d)", x.dbs, x.appdb, x.tables, x.acct, x.big);
    }
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        int k = points[i], rc;
        struct moment got = { 0 };
        size_t n_wal = 0;
        rc = restore_at(cat, repo, k == 0 ? fx.full_snap : fx.regular_snap, k == 0 ? 0 : fx.m[k].usecs,
                        PORT_RESTORE + (int)i, &got, &n_wal, why, sizeof why);
        printf("restored to moment %d (%lld): %s %s (WAL snapshots %zu)\n", k, (long long)fx.m[k].usecs, got.acct, got.big,
               n_wal);
        if (rc != 0 || strcmp(got.acct, fx.m[k].acct) != 0 || strcmp(got.big, fx.m[k].big) != 0) {
            cat_close(cat);
            repo_close(repo);
            CHECKF(0, "moment %d: rc %d %s; acct %s (expected %s), big %s (expected %s)", k, rc, why, got.acct,
                   fx.m[k].acct, got.big, fx.m[k].big);
        }
        if (k > 0 && n_wal == 0) {
            cat_close(cat);
            repo_close(repo);
            CHECKF(0, "moment %d was restored without sealed WAL", k);
        }
    }
    /* the moments differ, so each comparison could have failed */
    CHECK(strcmp(fx.m[2].acct, fx.m[4].acct) != 0 && strcmp(fx.m[4].acct, fx.m[5].acct) != 0);
    cat_close(cat);
    repo_close(repo);
}


static int has_message(json_t *run, const char *part)
{
    size_t i;
    json_t *m;
    json_array_foreach(jget(run, "localBackupInfo.messages"), i, m)
        if (json_string_value(m) && strstr(json_string_value(m), part)) return 1;
    return 0;
}

/* newest_log_run: the id of the group's newest kLog run (runs are listed newest first), or "". */
static void newest_log_run(const char *group, char *id, size_t n)
{
    struct http_resp r;
    char path[300];
    id[0] = '\0';
    snprintf(path, sizeof path, GRP "/%s/runs?runTypes=kLog&numRuns=1", group);
    if (call("GET", path, NULL, &r) == 200 && jstr(r.json, "runs.0.id")) snprintf(id, n, "%s", jstr(r.json, "runs.0.id"));
    http_resp_release(&r);
}

TEST(pg_log_schedule_and_first_log_run)
{
    const char *clock[] = { "COFFER_TEST_CLOCK=1", NULL };
    struct http_resp r;
    char path[200], before[80], id[80], g2[64];
    json_t *run, *rp;
    CHECKF(fx.group[0] && fx.instance_id, "needs the group");
    CHECK(daemon_restart(&fx.d, clock) == 0);
    fx.daemon_up = 1;
    /* The policy's log rule every 5 minutes: moving the clock 6 minutes on queues a kLog run. */
    snprintf(path, sizeof path, "/v2/data-protect/policies/%s", fx.policy);
    CHECK(call("PUT", path,
               "{\"name\":\"pg-daily\",\"backupPolicy\":{\"regular\":{\"incremental\":{\"schedule\":{\"unit\":\"Days\","
               "\"daySchedule\":{\"frequency\":1}}},\"retention\":{\"unit\":\"Days\",\"duration\":7}},\"log\":{"
               "\"schedule\":{\"unit\":\"Minutes\",\"minuteSchedule\":{\"frequency\":5}},\"retention\":{\"unit\":"
               "\"Days\",\"duration\":3}}}}", &r) == 200);
    http_resp_release(&r);
    newest_log_run(fx.group, before, sizeof before);
    sleep_ms(1500); /* a scheduler pass at the real time first */
    CHECK(call("POST", "/v2/coffer-test/clock", "{\"advanceUsecs\":360000000}", &r) == 200);
    http_resp_release(&r);
    newest_log_run(fx.group, id, sizeof id);
    CHECKF(id[0] && strcmp(id, before) != 0, "no kLog run was queued (newest %s, before %s)", id, before);
    run = wait_run(id, 120);
    CHECK(run != NULL);
    CHECKF(strcmp(jstr(run, "localBackupInfo.status"), "Succeeded") == 0 &&
           json_is_true(jget(run, "localBackupInfo.cofferStats.scheduled")), "%s", json_dumps(run, JSON_COMPACT));
    json_decref(run);
    /* A second group over the same instance: its first kLog run takes a full base backup. */
    CHECK(call("POST", GRP, jfmt("{'name':'pg2','policyId':'%s','environment':'kSQL','mssqlParams':{'protectionType':"
                                 "'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld}]}}}", fx.policy,
                                 fx.instance_id), &r) == 201);
    snprintf(g2, sizeof g2, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    snprintf(path, sizeof path, GRP "/%s/runs", g2);
    CHECK(call("POST", path, "{\"runType\":\"kLog\"}", &r) == 202);
    snprintf(id, sizeof id, "%s", jstr(r.json, "runId"));
    http_resp_release(&r);
    {
        char keep[64];
        snprintf(keep, sizeof keep, "%s", fx.group);
        snprintf(fx.group, sizeof fx.group, "%s", g2);
        run = wait_run(id, 240);
        rp = restore_points(fx.m[0].usecs, fx.m[5].usecs + 24 * 3600LL * 1000000);
        snprintf(fx.group, sizeof fx.group, "%s", keep);
    }
    CHECK(run != NULL);
    CHECKF(strcmp(jstr(run, "localBackupInfo.status"), "Succeeded") == 0 && has_message(run, "full base backup"),
           "%s", json_dumps(run, JSON_COMPACT));
    json_decref(run);
    CHECK(rp != NULL);
    CHECKF(json_array_size(jget(rp, "fullSnapshotInfo")) == 1 &&
           strcmp(jstr(rp, "fullSnapshotInfo.0.restoreInfo.runType"), "kFull") == 0, "%s", json_dumps(rp, JSON_COMPACT));
    json_decref(rp);
    /* Both groups deleted: no live group protects the instance, its slot is dropped (within 15 s). */
    {
        PGconn *c = pgtest_connect(&fx.src, "postgres");
        char v[32] = "";
        CHECK(c != NULL);
        snprintf(path, sizeof path, GRP "/%s", g2);
        CHECK(call("DELETE", path, NULL, &r) == 204);
        http_resp_release(&r);
        sleep_ms(6000); /* one group left: the slot stays */
        CHECK(pgtest_value(c, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'coffer\\_%'", v, sizeof v) == 0);
        if (strcmp(v, "1") != 0) PQfinish(c);
        CHECKF(strcmp(v, "1") == 0, "slots with one group left: %s", v);
        snprintf(path, sizeof path, GRP "/%s", fx.group);
        CHECK(call("DELETE", path, NULL, &r) == 204);
        http_resp_release(&r);
        for (int i = 0; i < 150; i++) {
            if (pgtest_value(c, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'coffer\\_%'", v,
                             sizeof v) == 0 && strcmp(v, "0") == 0)
                break;
            sleep_ms(100);
        }
        PQfinish(c);
        CHECKF(strcmp(v, "0") == 0, "slots after the last group was deleted: %s", v);
    }
}

int main(void)
{
    char why[1024] = "";
    PGconn *c;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pgtest_serve_or_skip(&fx.src, "pgruns", PORT_SRC, TESTS, sizeof TESTS / sizeof *TESTS) != 0) return check_finish();
    c = pgtest_connect(&fx.src, "postgres");
    if (!c || pgtest_exec(c, "CREATE DATABASE appdb", why, sizeof why) != 0) check_abandon("cannot create appdb");
    PQfinish(c);
    c = pgtest_connect(&fx.src, "appdb");
    if (!c || pgtest_exec(c, "CREATE TABLE acct (id int PRIMARY KEY, v text NOT NULL);"
                             "INSERT INTO acct SELECT g, md5(g::text) FROM generate_series(1, 500) g;"
                             "CREATE TABLE big (id int PRIMARY KEY, pad text NOT NULL);"
                             "INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 60000) g;",
                          why, sizeof why) != 0)
        check_abandon(why);
    /* Hint bits set and pages written now, so the first base backup's checkpoint writes little: a
     * file written in the 2 s before a parent's read is read again by the next incremental
     * (docs/databases.md, the racily-clean rule). */
    if (c && (pgtest_exec(c, "VACUUM (FREEZE, ANALYZE)", why, sizeof why) != 0 ||
              pgtest_exec(c, "CHECKPOINT", why, sizeof why) != 0))
        check_abandon(why);
    PQfinish(c);
    sleep_ms(2500);
    if (daemon_start(&fx.d, NULL) != 0) check_abandon("the daemon did not start");
    else fx.daemon_up = 1;
    RUN(pg_groups_validated_and_echoed);
    RUN(pg_runs_full_regular_log);
    RUN(pg_sigkill_during_streaming_and_base_backup);
    RUN(pg_point_in_time_restores);
    RUN(pg_log_schedule_and_first_log_run);
    if (fx.daemon_up) daemon_kill(&fx.d, SIGTERM);
    if (fx.d.data_dir) {
        check_rm_rf(fx.d.data_dir);
        free(fx.d.data_dir);
    }
    pgtest_destroy(&fx.src);
    return check_finish();
}
