/* e2e_pg_wal.c: continuous WAL and point-in-time restore (src/engine/pg_wal.c, eng_pg_restore's
 * target and WAL-snapshot options) against a real PostgreSQL 15 started here (tests/e2e/pgtest.h)
 * and a repository in a temporary directory; no daemon.
 *
 * A streamer thread (eng_pg_wal_stream, persistent slot, spool in a temporary directory) runs
 * while a base backup is taken and three batches of transactions are committed, the server's
 * clock_timestamp() recorded between them (and count:md5 of the table), pg_switch_wal completing
 * the segments. eng_pg_wal_seal stores the complete segments and empties them from the spool. The
 * base backup plus the sealed WAL is restored three times into new data directories, to the time
 * before batch 2, between batch 2 and 3 and after batch 3: each started server holds exactly the
 * rows committed before its target; so does one to an LSN between batch 2 and 3 (a time and an LSN
 * together are refused). Then the streamer is stopped, a fourth batch is committed and
 * the WAL switched while nothing streams, the streamer restarts: it left off inside a partial
 * segment and begins again at that segment's start (the slot kept the WAL), the second seal follows the first without a gap, and a restore
 * after batch 4 from both WAL snapshots holds batches 1-4. Without the server binaries, or when a
 * server cannot be started, every test prints SKIP. */
#include "check.h"
#include "pgtest.h"
#include "engine/engine.h"
#include "engine/pg.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const TESTS[] = { "pg_wal_pitr_three_points", "pg_wal_stream_restart_no_gap" };

#define SLOT "coffer_wal_e2e"

static struct {
    struct pgtest src;
    char *dir;
    char repo_path[600], key[600], spool[600];
    struct repo *repo;
    char conninfo[800];
    char base[REPO_ID_HEX_LEN + 1], wal1[REPO_ID_HEX_LEN + 1], wal2[REPO_ID_HEX_LEN + 1];
    uint64_t wal1_end;
    char t[5][64], exp[5][128];   /* target times and the table's count:md5 at them (1..4) */
    char lsn2[64];                /* the WAL insert position at target 2 */
} fx;

/* the streamer thread */
static struct {
    pthread_t th;
    volatile int cancel;
    volatile int started;
    int rc, running;
    struct eng_pg_wal_stream_result res;
    char err[512];
} st;

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void on_started(void *ctx) { (void)ctx; st.started = 1; }

static void *stream_main(void *arg)
{
    (void)arg;
    struct eng_pg_wal_stream_opts o = { .conninfo = fx.conninfo, .slot = SLOT, .spool_dir = fx.spool,
                                        .cancel = &st.cancel, .max_msecs = 300000, .on_started = on_started };
    st.rc = eng_pg_wal_stream(&o, &st.res, st.err, sizeof st.err);
    return NULL;
}

static int stream_start(void)
{
    st.cancel = 0;
    st.started = 0;
    st.rc = 0;
    st.err[0] = '\0';
    if (pthread_create(&st.th, NULL, stream_main, NULL) != 0) return -1;
    st.running = 1;
    for (int i = 0; i < 300 && !st.started; i++) sleep_ms(50);   /* 15 s at most */
    return st.started ? 0 : -1;
}

static int stream_stop(void)
{
    if (!st.running) return st.rc;
    st.cancel = 1;
    pthread_join(st.th, NULL);
    st.running = 0;
    return st.rc;
}

/* "count:md5" of the pitr table's rows in key order. */
static int table_sum(PGconn *c, char *out, size_t n)
{
    return pgtest_value(c, "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '-') FROM pitr t",
                        out, n);
}

/* A batch: 5 transactions of 20 rows each, ids from (b-1)*100+1. */
static int batch(PGconn *c, int b, char *why, size_t n)
{
    char sql[300];
    for (int k = 0; k < 5; k++) {
        int lo = (b - 1) * 100 + k * 20 + 1;
        snprintf(sql, sizeof sql, "INSERT INTO pitr SELECT g, %d, md5(g::text) FROM generate_series(%d, %d) g", b, lo, lo + 19);
        if (pgtest_exec(c, sql, why, n) != 0) return -1;
    }
    return 0;
}

/* After batch b: wait, record the server's time and the table's sum as target b, wait. */
static int mark(PGconn *c, int b)
{
    sleep_ms(150);
    if (pgtest_value(c, "SELECT clock_timestamp()::text", fx.t[b], sizeof fx.t[b]) != 0) return -1;
    if (table_sum(c, fx.exp[b], sizeof fx.exp[b]) != 0) return -1;
    sleep_ms(150);
    return 0;
}

/* A commit after the last target (recovery to a time needs a later commit to stop at), then
 * pg_switch_wal; waits (30 s at most) until the switched segment is complete in the spool or
 * sealed before. */
static int switch_and_wait(PGconn *c, char *why, size_t n)
{
    char seg[64], p[700];
    if (pgtest_exec(c, "INSERT INTO later VALUES (clock_timestamp())", why, n) != 0) return -1;
    if (pgtest_value(c, "SELECT pg_walfile_name(pg_switch_wal())", seg, sizeof seg) != 0) return -1;
    snprintf(p, sizeof p, "%s/%s", fx.spool, seg);
    for (int i = 0; i < 300; i++) {
        if (access(p, F_OK) == 0) return 0;
        sleep_ms(100);
    }
    snprintf(why, n, "segment %.30s did not reach the spool (streamer: %d %.400s)", seg, st.rc, st.err);
    return -1;
}

static int restore_and_check(const char *target_time, const char *target_lsn, const char *const *wals, size_t n_wals, int port,
                             const char *expect, char *got, size_t gn, char *why, size_t n)
{
    struct pgtest dst;
    memset(&dst, 0, sizeof dst);
    int rc = -1;
    if (pgtest_root(&dst, "pgpitr", "restored", port, why, n) != 0) return -1;
    struct eng_pg_restore_opts ro = { .target_dir = dst.data, .threads = 2, .recovery_target_time = target_time,
                                      .recovery_target_lsn = target_lsn,
                                      .wal_snapshot_ids = wals, .n_wal_snapshots = n_wals };
    struct eng_pg_restore_result rr;
    if ((rc = eng_pg_restore(fx.repo, fx.base, &ro, &rr, why, n)) != 0) goto out;
    if ((rc = pgtest_start(&dst, why, n)) != 0) {
        char cmd[800];
        snprintf(cmd, sizeof cmd, "tail -n 15 %s >&2", dst.log);
        if (system(cmd) != 0) { /* only a diagnostic */ }
        goto out;
    }
    PGconn *c = pgtest_connect(&dst, "postgres");
    if (!c) { snprintf(why, n, "cannot connect to the restored server"); rc = -1; goto out; }
    char v[64] = "";
    for (int i = 0; i < 600; i++) {   /* 60 s at most */
        if (pgtest_value(c, "SELECT pg_is_in_recovery()", v, sizeof v) == 0 && strcmp(v, "f") == 0) break;
        sleep_ms(100);
    }
    if (strcmp(v, "f") != 0) { snprintf(why, n, "the restored server is still in recovery (%s)", v); rc = -1; }
    else if (table_sum(c, got, gn) != 0) { snprintf(why, n, "cannot read pitr on the restored server"); rc = -1; }
    else rc = strcmp(got, expect) == 0 ? 0 : 1;
    PQfinish(c);
out:
    pgtest_destroy(&dst);
    return rc;
}

TEST(pg_wal_pitr_three_points)
{
    char why[1024] = "", got[128] = "";
    PGconn *c = pgtest_connect(&fx.src, "postgres");
    CHECK(c != NULL);
    CHECKF(pgtest_exec(c, "CREATE TABLE pitr (id int PRIMARY KEY, batch int NOT NULL, h text NOT NULL);"
                          "CREATE TABLE later (at timestamptz)", why, sizeof why) == 0, "%s", why);
    CHECKF(stream_start() == 0, "the streamer did not start: %d %s", st.rc, st.err);
    int created = st.res.slot_created;   /* filled at the end; the slot is checked on the server below */
    (void)created;
    char v[128];
    CHECK(pgtest_value(c, "SELECT slot_type || ' ' || temporary::text FROM pg_replication_slots WHERE slot_name = '" SLOT "'",
                       v, sizeof v) == 0);
    CHECKF(strcmp(v, "physical false") == 0, "slot: %s", v);

    struct eng_pg_backup_opts bo = { .conninfo = fx.conninfo, .threads = 2, .label = "e2e pitr base" };
    struct eng_pg_backup_result br;
    int rc = eng_pg_backup(fx.repo, &bo, &br, why, sizeof why);
    snprintf(fx.base, sizeof fx.base, "%s", br.snapshot_id);
    eng_pg_backup_result_release(&br);
    CHECKF(rc == 0, "eng_pg_backup: %d %s", rc, why);

    for (int b = 1; b <= 3; b++) {
        CHECKF(batch(c, b, why, sizeof why) == 0, "batch %d: %s", b, why);
        CHECK(mark(c, b) == 0);
        if (b == 2) CHECK(pgtest_value(c, "SELECT pg_current_wal_insert_lsn()::text", fx.lsn2, sizeof fx.lsn2) == 0);
    }
    CHECKF(switch_and_wait(c, why, sizeof why) == 0, "%s", why);
    PQfinish(c);
    printf("targets: %s (%s), %s (%s), %s (%s)\n", fx.t[1], fx.exp[1], fx.t[2], fx.exp[2], fx.t[3], fx.exp[3]);

    struct eng_pg_wal_seal_opts so = { .spool_dir = fx.spool, .threads = 2 };
    struct eng_pg_wal_seal_result sr;
    rc = eng_pg_wal_seal(fx.repo, &so, &sr, why, sizeof why);
    CHECKF(rc == 0, "eng_pg_wal_seal: %d %s", rc, why);
    snprintf(fx.wal1, sizeof fx.wal1, "%s", sr.snapshot_id);
    fx.wal1_end = sr.end_lsn;
    printf("seal 1: %llu segments, LSN %llX..%llX, %llu bytes added\n", (unsigned long long)sr.segments,
           (unsigned long long)sr.start_lsn, (unsigned long long)sr.end_lsn, (unsigned long long)sr.bytes_added);
    CHECK(sr.segments >= 2 && sr.end_lsn - sr.start_lsn == sr.segments * (uint64_t)ENG_PG_WAL_SEG_SIZE);
    /* the snapshot document says what it holds */
    json_t *doc = NULL;
    CHECK(repo_snapshot_read(fx.repo, fx.wal1, &doc) == 0);
    json_t *pw = json_object_get(doc, "pg_wal");
    size_t n_listed = json_array_size(json_object_get(pw, "segments"));
    const char *sw = json_string_value(json_object_get(pw, "start_wal"));
    int doc_ok = n_listed == sr.segments && sw && strlen(sw) == 24 && json_string_value(json_object_get(pw, "end_lsn"));
    const char *first = json_string_value(json_array_get(json_object_get(pw, "segments"), 0));
    char p[700];
    snprintf(p, sizeof p, "%s/%s", fx.spool, first ? first : "?");
    int gone = first && access(p, F_OK) != 0;
    json_decref(doc);
    CHECK(doc_ok);
    CHECKF(gone, "sealed segment %s is still in the spool", p);

    const char *wals[] = { fx.wal1 };
    for (int b = 1; b <= 3; b++) {
        rc = restore_and_check(fx.t[b], NULL, wals, 1, 55450 + b, fx.exp[b], got, sizeof got, why, sizeof why);
        CHECKF(rc == 0, "restore to %s (after batch %d): rc %d %s, holds %s, expected %s", fx.t[b], b, rc, why, got, fx.exp[b]);
        printf("restored to after batch %d: %s\n", b, got);
    }
    CHECK(strcmp(fx.exp[1], fx.exp[2]) != 0 && strcmp(fx.exp[2], fx.exp[3]) != 0);
    /* an LSN target: the insert position between batch 2 and 3 */
    rc = restore_and_check(NULL, fx.lsn2, wals, 1, 55454, fx.exp[2], got, sizeof got, why, sizeof why);
    CHECKF(rc == 0, "restore to LSN %s: rc %d %s, holds %s, expected %s", fx.lsn2, rc, why, got, fx.exp[2]);
    printf("restored to LSN %s: %s\n", fx.lsn2, got);
    /* a time and an LSN together are refused before anything is written */
    rc = restore_and_check(fx.t[1], fx.lsn2, wals, 1, 55454, fx.exp[1], got, sizeof got, why, sizeof why);
    CHECKF(rc == -EINVAL, "both targets: rc %d %s", rc, why);
}

TEST(pg_wal_stream_restart_no_gap)
{
    char why[1024] = "", got[128] = "", v[64];
    CHECKF(fx.wal1[0], "needs the first test's seal");
    PGconn *c = pgtest_connect(&fx.src, "postgres");
    CHECK(c != NULL);
    /* a commit the streamer spools into a partial and reports (status every second) */
    CHECKF(pgtest_exec(c, "INSERT INTO later VALUES (now())", why, sizeof why) == 0, "%s", why);
    sleep_ms(2500);
    CHECKF(stream_stop() == 0, "the streamer failed: %d %s", st.rc, st.err);
    uint64_t left_at = st.res.flushed_lsn;
    CHECKF(left_at > 0 && st.res.bytes > 0 && left_at % ENG_PG_WAL_SEG_SIZE != 0, "left at %llX",
           (unsigned long long)left_at);   /* mid-segment: a partial */
    /* batch 4 and two segment switches while nothing streams; a checkpoint would recycle WAL the
     * slot did not hold */
    CHECKF(batch(c, 4, why, sizeof why) == 0, "batch 4: %s", why);
    CHECK(pgtest_value(c, "SELECT pg_switch_wal()", v, sizeof v) == 0);
    CHECKF(pgtest_exec(c, "INSERT INTO later VALUES (now()); CHECKPOINT", why, sizeof why) == 0, "%s", why);
    CHECK(pgtest_value(c, "SELECT pg_switch_wal()", v, sizeof v) == 0);
    CHECKF(pgtest_exec(c, "CHECKPOINT", why, sizeof why) == 0, "%s", why);
    CHECK(mark(c, 4) == 0);
    CHECK(pgtest_value(c, "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '" SLOT "'", v, sizeof v) == 0);
    CHECKF(pgtest_lsn(v) <= left_at, "the slot moved past what was spooled: %s > %llX", v, (unsigned long long)left_at);

    CHECKF(stream_start() == 0, "the streamer did not restart: %d %s", st.rc, st.err);
    CHECKF(switch_and_wait(c, why, sizeof why) == 0, "%s", why);
    PQfinish(c);
    CHECKF(stream_stop() == 0, "the streamer failed: %d %s", st.rc, st.err);
    printf("restart: left at %llX, began again at %llX, received %llu bytes\n", (unsigned long long)left_at,
           (unsigned long long)st.res.start_lsn, (unsigned long long)st.res.bytes);
    CHECK(st.res.slot_created == 0);
    CHECK(st.res.start_lsn == left_at - left_at % ENG_PG_WAL_SEG_SIZE);   /* the partial's segment, again */

    struct eng_pg_wal_seal_opts so = { .spool_dir = fx.spool, .threads = 2 };
    struct eng_pg_wal_seal_result sr;
    int rc = eng_pg_wal_seal(fx.repo, &so, &sr, why, sizeof why);
    CHECKF(rc == 0, "eng_pg_wal_seal: %d %s", rc, why);
    snprintf(fx.wal2, sizeof fx.wal2, "%s", sr.snapshot_id);
    printf("seal 2: %llu segments, LSN %llX..%llX\n", (unsigned long long)sr.segments, (unsigned long long)sr.start_lsn,
           (unsigned long long)sr.end_lsn);
    CHECKF(sr.start_lsn <= fx.wal1_end, "gap: seal 1 ends at %llX, seal 2 begins at %llX", (unsigned long long)fx.wal1_end,
           (unsigned long long)sr.start_lsn);
    CHECK(sr.segments >= 3);   /* the partial of seal 1's time, two switches, the last switch */

    const char *wals[] = { fx.wal1, fx.wal2 };
    rc = restore_and_check(fx.t[4], NULL, wals, 2, 55455, fx.exp[4], got, sizeof got, why, sizeof why);
    CHECKF(rc == 0, "restore to %s (after batch 4): rc %d %s, holds %s, expected %s", fx.t[4], rc, why, got, fx.exp[4]);
    printf("restored to after batch 4: %s\n", got);
    CHECK(strncmp(got, "400:", 4) == 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pgtest_serve_or_skip(&fx.src, "pgwal", 55449, TESTS, sizeof TESTS / sizeof *TESTS) != 0) return check_finish();
    pgtest_conninfo(&fx.src, "postgres", fx.conninfo, sizeof fx.conninfo);
    fx.dir = check_tmpdir("pgwal");
    snprintf(fx.repo_path, sizeof fx.repo_path, "%s/repo", fx.dir);
    snprintf(fx.key, sizeof fx.key, "%s/repo.key", fx.dir);
    snprintf(fx.spool, sizeof fx.spool, "%s/spool", fx.dir);
    char err[256];
    if (repo_create(fx.repo_path, fx.key, err, sizeof err) != 0 || repo_open(fx.repo_path, fx.key, &fx.repo, err, sizeof err) != 0)
        check_abandon(err);
    RUN(pg_wal_pitr_three_points);
    RUN(pg_wal_stream_restart_no_gap);
    stream_stop();
    if (fx.repo) repo_close(fx.repo);
    pgtest_destroy(&fx.src);
    check_rm_rf(fx.dir);
    free(fx.dir);
    return check_finish();
}
