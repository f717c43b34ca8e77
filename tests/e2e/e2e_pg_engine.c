/* e2e_pg_engine.c: the PostgreSQL engine (src/engine/pg.h) against a real PostgreSQL 15 started
 * here (tests/e2e/pgtest.h) and a repository in a temporary directory; no daemon.
 *
 * A cluster is loaded with two tables nobody writes during the backup (static_a, static_b: about
 * 20 MB) and one a writer thread commits to while the base backup runs (writes: one row per
 * transaction, the WAL insert position logged before and after each commit). The base backup is
 * restored into a new data directory and started: the static tables have the row counts and md5s
 * they had before pg_backup_start, writes holds exactly a prefix of the transactions that holds
 * every one committed before the stop LSN and none begun after it, and pg_amcheck finds nothing.
 * An incremental backup after small changes reads a small fraction of the first and restores
 * exactly. A relation file written just before a backup is re-read by the next one although its
 * identity is unchanged (the racily-clean rule), and no longer once it is older than the margin.
 * The file engine's two options under it (reuse_mtime_before_ns, graft_paths) are checked on a
 * plain directory too.
 * The backups connect as a role with REPLICATION and EXECUTE on the backup functions only (no
 * superuser). Without the server binaries, or when a server cannot be started, every test prints
 * SKIP. */
#include "check.h"
#include "pgtest.h"
#include "engine/engine.h"
#include "engine/pg.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const TESTS[] = { "pg_full_backup_with_writer_restores_consistent", "pg_incremental_reads_less_restores_exact",
                                     "pg_racily_clean_file_is_reread", "pg_restore_refuses_bad_input",
                                     "engine_racy_and_graft_options" };

static struct {
    struct pgtest src;
    char *repo_dir;
    char repo_path[600], key[600];
    struct repo *repo;
    char conninfo[800];
    char snap_full[REPO_ID_HEX_LEN + 1], snap_incr[REPO_ID_HEX_LEN + 1];
    uint64_t full_data_read, full_read;
} fx;

static double msecs(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* "count:md5" of a table's rows in key order. */
static int table_sum(PGconn *c, const char *table, const char *key, char *out, size_t n)
{
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY %s)), '-') FROM %s t",
             key, table);
    return pgtest_value(c, sql, out, n);
}

/* ---------- the writer ---------- */

#define W_MAX 20000
static struct {
    PGconn *c;
    atomic_int n;          /* transactions committed (and logged) so far */
    atomic_int stop;
    uint64_t before[W_MAX + 1], after[W_MAX + 1];
    char err[512];
} wr;

static void *writer_main(void *arg)
{
    (void)arg;
    char v[64], sql[128];
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 1; i <= W_MAX && !atomic_load(&wr.stop); i++) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 180) break;
        if (pgtest_value(wr.c, "SELECT pg_current_wal_insert_lsn()", v, sizeof v) != 0) { snprintf(wr.err, sizeof wr.err, "%s", v); break; }
        wr.before[i] = pgtest_lsn(v);
        snprintf(sql, sizeof sql, "INSERT INTO writes VALUES (%d, md5('%d'))", i, i);
        if (pgtest_exec(wr.c, sql, wr.err, sizeof wr.err) != 0) break;
        if (pgtest_value(wr.c, "SELECT pg_current_wal_insert_lsn()", v, sizeof v) != 0) { snprintf(wr.err, sizeof wr.err, "%s", v); break; }
        wr.after[i] = pgtest_lsn(v);
        atomic_store(&wr.n, i);
        sleep_ms(1);
    }
    return NULL;
}

struct phases { int n_started, n_copied; };
static void on_phase(void *ctx, const char *phase)
{
    struct phases *ph = ctx;
    if (strcmp(phase, "started") == 0) {
        ph->n_started = atomic_load(&wr.n);
        sleep_ms(400);   /* let the writer commit while the copy runs */
    } else if (strcmp(phase, "copied") == 0) {
        ph->n_copied = atomic_load(&wr.n);
        sleep_ms(200);
    }
}

/* ---------- restoring and checking ---------- */

/* Restores snap into a new data directory, starts it and waits until it has left recovery. */
static int restore_and_start(const char *snap, struct pgtest *dst, int port, struct eng_pg_restore_result *rr,
                             double *ms, char *why, size_t n)
{
    struct timespec a, b;
    if (pgtest_root(dst, "pgdst", "restored", port, why, n) != 0) return -1;
    struct eng_pg_restore_opts ro = { .target_dir = dst->data, .threads = 2 };
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = eng_pg_restore(fx.repo, snap, &ro, rr, why, n);
    clock_gettime(CLOCK_MONOTONIC, &b);
    *ms = msecs(a, b);
    if (rc) return rc;
    struct stat st;
    if (stat(dst->data, &st) != 0 || (st.st_mode & 0777) != 0700) {
        snprintf(why, n, "the restored data directory is not mode 0700");
        return -1;
    }
    if ((rc = pgtest_start(dst, why, n)) != 0) {
        char cmd[800];   /* the server's own words, before the directory goes */
        snprintf(cmd, sizeof cmd, "tail -n 15 %s >&2", dst->log);
        if (system(cmd) != 0) { /* only a diagnostic */ }
        return rc;
    }
    PGconn *c = pgtest_connect(dst, "postgres");
    if (!c) { snprintf(why, n, "cannot connect to the restored server"); return -1; }
    char v[64] = "";
    for (int i = 0; i < 600; i++) {   /* 60 s at most */
        if (pgtest_value(c, "SELECT pg_is_in_recovery()", v, sizeof v) == 0 && strcmp(v, "f") == 0) break;
        sleep_ms(100);
    }
    PQfinish(c);
    if (strcmp(v, "f") != 0) { snprintf(why, n, "the restored server is still in recovery (%s)", v); return -1; }
    return 0;
}

/* ---------- tests ---------- */

static char exp_a[128], exp_b[128];

TEST(pg_full_backup_with_writer_restores_consistent)
{
    char why[1024] = "", v[256];
    PGconn *c = PQconnectdb(fx.conninfo);   /* the backup's role is not a superuser */
    int role_ok = c && PQstatus(c) == CONNECTION_OK &&
                  pgtest_value(c, "SELECT current_user || ' ' || rolsuper::text || ' ' || rolreplication::text"
                               " FROM pg_roles WHERE rolname = current_user", v, sizeof v) == 0;
    PQfinish(c);
    CHECKF(role_ok && strcmp(v, "coffer_backup false true") == 0, "backup role: %s", v);
    c = pgtest_connect(&fx.src, "postgres");
    CHECK(c != NULL);
    CHECK(table_sum(c, "static_a", "id", exp_a, sizeof exp_a) == 0);
    CHECK(table_sum(c, "static_b", "id", exp_b, sizeof exp_b) == 0);
    PQfinish(c);

    wr.c = pgtest_connect(&fx.src, "postgres");
    CHECK(wr.c != NULL);
    atomic_store(&wr.n, 0);
    atomic_store(&wr.stop, 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, writer_main, NULL) == 0);
    for (int i = 0; i < 200 && atomic_load(&wr.n) < 20; i++) sleep_ms(50);

    struct phases ph = { 0 };
    struct eng_pg_backup_opts o = { .conninfo = fx.conninfo, .threads = 2, .label = "e2e full",
                                    .on_phase = on_phase, .hook_ctx = &ph };
    struct eng_pg_backup_result r;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = eng_pg_backup(fx.repo, &o, &r, why, sizeof why);
    clock_gettime(CLOCK_MONOTONIC, &b);
    atomic_store(&wr.stop, 1);
    pthread_join(th, NULL);
    PQfinish(wr.c);
    wr.c = NULL;
    CHECKF(rc == 0, "eng_pg_backup: %d %s", rc, why);
    CHECKF(wr.err[0] == '\0', "writer: %s", wr.err);
    printf("# full base backup: %.0f ms, %d files, logical %.1f MB, read %.1f MB (data dir %.1f MB, WAL %.1f MB),"
           " added %.1f MB, LSN %s .. %s, timeline %u, server %d\n",
           msecs(a, b), (int)r.files, r.logical_bytes / 1e6, r.bytes_read / 1e6, r.data_bytes_read / 1e6,
           r.wal_bytes / 1e6, r.bytes_added / 1e6, r.start_lsn, r.stop_lsn, r.timeline, r.server_version_num);
    snprintf(fx.snap_full, sizeof fx.snap_full, "%s", r.snapshot_id);
    fx.full_read = r.bytes_read;
    fx.full_data_read = r.data_bytes_read;
    uint64_t start = pgtest_lsn(r.start_lsn), stop = pgtest_lsn(r.stop_lsn);
    CHECK(start > 0 && stop > start);
    CHECK(r.server_version_num >= 150000 && r.server_version_num < 160000);
    CHECK(r.wal_bytes >= 16u << 20);
    CHECKF(ph.n_copied > ph.n_started, "no transaction committed during the copy (%d, %d)", ph.n_started, ph.n_copied);
    eng_pg_backup_result_release(&r);

    /* the snapshot document */
    json_t *doc = NULL;
    CHECK(repo_snapshot_read(fx.repo, fx.snap_full, &doc) == 0);
    json_t *pg = json_object_get(doc, "pg");
    int doc_ok = pg && json_integer_value(json_object_get(pg, "timeline")) == 1 &&
                 pgtest_lsn(json_string_value(json_object_get(pg, "stop_lsn"))) == stop &&
                 json_integer_value(json_object_get(pg, "start_time_usecs")) > 0 &&
                 json_integer_value(json_object_get(pg, "stop_time_usecs")) >
                     json_integer_value(json_object_get(pg, "start_time_usecs")) &&
                 json_string_value(json_object_get(pg, "server_version")) != NULL;
    json_decref(doc);
    CHECK(doc_ok);
    /* the data directory is in it, without what is excluded, with backup_label and WAL staged */
    struct tree_entry e = { 0 };
    char path[1200];
    snprintf(path, sizeof path, "%s/postmaster.pid", fx.src.data);
    CHECK(eng_stat_path(fx.repo, fx.snap_full, path, &e) == -ENOENT);
    snprintf(path, sizeof path, "%s/PG_VERSION", fx.src.data);
    CHECK(eng_stat_path(fx.repo, fx.snap_full, path, &e) == 0);
    tree_entry_release(&e);
    memset(&e, 0, sizeof e);

    /* restore and compare */
    struct pgtest dst;
    struct eng_pg_restore_result rr;
    double rms;
    rc = restore_and_start(fx.snap_full, &dst, 55433, &rr, &rms, why, sizeof why);
    if (rc) { pgtest_destroy(&dst); }
    CHECKF(rc == 0, "restore: %d %s", rc, why);
    printf("# restore: %.0f ms, %d files, %.1f MB written\n", rms, (int)rr.files, rr.bytes / 1e6);
    c = pgtest_connect(&dst, "postgres");
    int ok = c != NULL;
    char got_a[128] = "", got_b[128] = "", cnt[64] = "", mx[64] = "", bad[64] = "", tli[32] = "";
    ok = ok && table_sum(c, "static_a", "id", got_a, sizeof got_a) == 0 &&
         table_sum(c, "static_b", "id", got_b, sizeof got_b) == 0 &&
         pgtest_value(c, "SELECT count(*) FROM writes", cnt, sizeof cnt) == 0 &&
         pgtest_value(c, "SELECT coalesce(max(seq), 0) FROM writes", mx, sizeof mx) == 0 &&
         pgtest_value(c, "SELECT count(*) FROM writes WHERE payload <> md5(seq::text)", bad, sizeof bad) == 0 &&
         pgtest_exec(c, "CHECKPOINT", why, sizeof why) == 0 &&
         pgtest_value(c, "SELECT timeline_id FROM pg_control_checkpoint()", tli, sizeof tli) == 0;
    PQfinish(c);
    int am = ok ? pgtest_amcheck(&dst, why, sizeof why) : -1;
    pgtest_destroy(&dst);
    CHECK(ok);
    CHECKF(atoi(tli) == 2, "the restored server is on timeline %s, not 2 (recovered to a target and promoted)", tli);
    CHECKF(strcmp(got_a, exp_a) == 0, "static_a %s != %s", got_a, exp_a);
    CHECKF(strcmp(got_b, exp_b) == 0, "static_b %s != %s", got_b, exp_b);
    /* writes: exactly the transactions 1..k, k between what the stop LSN forces */
    int k = atoi(mx), n = atomic_load(&wr.n), must = 0, mustnot = n + 1, during = 0;
    CHECKF(atoi(cnt) == k, "writes holds %s rows but its largest seq is %d: not a prefix", cnt, k);
    CHECK(atoi(bad) == 0);
    for (int i = 1; i <= n; i++) {
        if (wr.after[i] <= stop) must = i;                    /* its commit record lies before stop */
        if (wr.before[i] >= stop && mustnot > i) mustnot = i; /* its commit record lies after stop */
        if (wr.before[i] >= start && wr.after[i] <= stop) during++;
    }
    printf("# writer: %d transactions committed, %d of them inside the backup; restored 1..%d (must hold 1..%d,"
           " must not hold %d)\n", n, during, k, must, mustnot);
    CHECKF(k >= must && k < mustnot, "restored 1..%d, expected at least 1..%d and fewer than %d", k, must, mustnot);
    CHECKF(during > 0, "no logged transaction fell between the start and stop LSN");
    CHECKF(am == 0, "%s", why);
}

TEST(pg_incremental_reads_less_restores_exact)
{
    char why[1024] = "";
    CHECK(fx.snap_full[0]);
    PGconn *c = pgtest_connect(&fx.src, "postgres");
    CHECK(c != NULL);
    int ok = pgtest_exec(c, "UPDATE static_b SET v = v || '-changed' WHERE id <= 50;"
                         "CREATE TABLE small_new AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 1000) g;",
                      why, sizeof why) == 0;
    char ea[128] = "", eb[128] = "", en[128] = "", ew[128] = "";
    ok = ok && table_sum(c, "static_a", "id", ea, sizeof ea) == 0 && table_sum(c, "static_b", "id", eb, sizeof eb) == 0 &&
         table_sum(c, "small_new", "id", en, sizeof en) == 0 && table_sum(c, "writes", "seq", ew, sizeof ew) == 0;
    PQfinish(c);
    CHECKF(ok, "%s", why);
    CHECK(strcmp(eb, exp_b) != 0);   /* the change is visible in the checksum */

    struct eng_pg_backup_opts o = { .conninfo = fx.conninfo, .threads = 2, .parent_snapshot_id = fx.snap_full };
    struct eng_pg_backup_result r;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = eng_pg_backup(fx.repo, &o, &r, why, sizeof why);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECKF(rc == 0, "eng_pg_backup: %d %s", rc, why);
    printf("# incremental base backup: %.0f ms, %d files (%d unchanged), read %.1f MB (data dir %.2f MB, WAL %.1f MB),"
           " added %.2f MB; the full one read %.1f MB (data dir %.1f MB)\n",
           msecs(a, b), (int)r.files, (int)r.files_unchanged, r.bytes_read / 1e6, r.data_bytes_read / 1e6,
           r.wal_bytes / 1e6, r.bytes_added / 1e6, fx.full_read / 1e6, fx.full_data_read / 1e6);
    snprintf(fx.snap_incr, sizeof fx.snap_incr, "%s", r.snapshot_id);
    uint64_t dread = r.data_bytes_read, unchanged = r.files_unchanged, files = r.files, tread = r.bytes_read;
    eng_pg_backup_result_release(&r);
    CHECKF(dread * 5 < fx.full_data_read, "the incremental read %llu bytes of the data directory, the full %llu",
           (unsigned long long)dread, (unsigned long long)fx.full_data_read);
    CHECKF(tread * 2 < fx.full_read, "the incremental read %llu bytes in all (WAL included), the full %llu",
           (unsigned long long)tread, (unsigned long long)fx.full_read);
    CHECK(unchanged * 10 > files * 8);

    struct pgtest dst;
    struct eng_pg_restore_result rr;
    double rms;
    rc = restore_and_start(fx.snap_incr, &dst, 55434, &rr, &rms, why, sizeof why);
    if (rc) pgtest_destroy(&dst);
    CHECKF(rc == 0, "restore: %d %s", rc, why);
    printf("# restore of the incremental: %.0f ms, %d files, %.1f MB written\n", rms, (int)rr.files, rr.bytes / 1e6);
    c = pgtest_connect(&dst, "postgres");
    char ga[128] = "", gb[128] = "", gn[128] = "", gw[128] = "";
    ok = c && table_sum(c, "static_a", "id", ga, sizeof ga) == 0 && table_sum(c, "static_b", "id", gb, sizeof gb) == 0 &&
         table_sum(c, "small_new", "id", gn, sizeof gn) == 0 && table_sum(c, "writes", "seq", gw, sizeof gw) == 0;
    PQfinish(c);
    int am = ok ? pgtest_amcheck(&dst, why, sizeof why) : -1;
    pgtest_destroy(&dst);
    CHECK(ok);
    CHECKF(strcmp(ga, ea) == 0, "static_a %s != %s", ga, ea);
    CHECKF(strcmp(gb, eb) == 0, "static_b %s != %s", gb, eb);
    CHECKF(strcmp(gn, en) == 0, "small_new %s != %s", gn, en);
    CHECKF(strcmp(gw, ew) == 0, "writes %s != %s", gw, ew);
    CHECKF(am == 0, "%s", why);
}

struct opened { const char *watch[2]; int seen[2]; };
static void on_open(void *ctx, const char *path)
{
    struct opened *op = ctx;
    for (int i = 0; i < 2; i++)
        if (strcmp(path, op->watch[i]) == 0) op->seen[i]++;
}

static int backup_watch(const char *parent, struct opened *op, char *snap_out, char *why, size_t n)
{
    struct eng_pg_backup_opts o = { .conninfo = fx.conninfo, .threads = 2, .parent_snapshot_id = parent,
                                    .on_before_open = on_open, .hook_ctx = op };
    struct eng_pg_backup_result r;
    op->seen[0] = op->seen[1] = 0;
    int rc = eng_pg_backup(fx.repo, &o, &r, why, n);
    if (!rc) snprintf(snap_out, REPO_ID_HEX_LEN + 1, "%s", r.snapshot_id);
    eng_pg_backup_result_release(&r);
    return rc;
}

static int same_identity(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

TEST(pg_racily_clean_file_is_reread)
{
    char why[1024] = "", rel_new[256] = "", rel_old[256] = "";
    char f_new[1200], f_old[1200], p_snap[REPO_ID_HEX_LEN + 1], c_snap[REPO_ID_HEX_LEN + 1], d_snap[REPO_ID_HEX_LEN + 1];
    CHECK(fx.snap_incr[0]);
    PGconn *c = pgtest_connect(&fx.src, "postgres");
    CHECK(c != NULL);
    int ok = pgtest_exec(c, "CREATE TABLE racy_t (id int, h text) WITH (autovacuum_enabled = off);"
                         "INSERT INTO racy_t SELECT g, md5(g::text) FROM generate_series(1, 5000) g;"
                         "", why, sizeof why) == 0 && pgtest_exec(c, "VACUUM (FREEZE) racy_t", why, sizeof why) == 0 &&
             pgtest_exec(c, "CHECKPOINT", why, sizeof why) == 0 &&
             pgtest_value(c, "SELECT pg_relation_filepath('racy_t')", rel_new, sizeof rel_new) == 0 &&
             pgtest_value(c, "SELECT pg_relation_filepath('static_a')", rel_old, sizeof rel_old) == 0;
    PQfinish(c);
    CHECKF(ok, "%s %s %s", why, rel_new, rel_old);
    snprintf(f_new, sizeof f_new, "%s/%s", fx.src.data, rel_new);
    snprintf(f_old, sizeof f_old, "%s/%s", fx.src.data, rel_old);
    struct opened op = { .watch = { f_new, f_old } };

    /* P right away: racy_t's file is new, read anyway */
    CHECKF(backup_watch(fx.snap_incr, &op, p_snap, why, sizeof why) == 0, "%s", why);
    CHECK(op.seen[0] == 1);
    struct stat s1, s2, s3;
    CHECK(stat(f_new, &s1) == 0);
    json_t *doc = NULL;
    CHECK(repo_snapshot_read(fx.repo, p_snap, &doc) == 0);
    int64_t p_read = json_integer_value(json_object_get(json_object_get(doc, "pg"), "read_start_usecs"));
    json_decref(doc);
    int64_t mt = (int64_t)s1.st_mtim.tv_sec * 1000000000 + s1.st_mtim.tv_nsec;
    CHECKF(mt >= p_read * 1000 - ENG_PG_RACY_MARGIN_NS, "racy_t's file is older than the margin before P's read");

    /* C with parent P, once the margin has passed: the file is unchanged but racily clean in P */
    sleep_ms((int)(ENG_PG_RACY_MARGIN_NS / 1000000) + 500);
    CHECKF(backup_watch(p_snap, &op, c_snap, why, sizeof why) == 0, "%s", why);
    CHECK(stat(f_new, &s2) == 0);
    CHECKF(same_identity(&s1, &s2), "racy_t's file changed between P and C: the check says nothing");
    CHECKF(op.seen[0] == 1, "racy_t's file (unchanged identity, mtime within the margin of P's read) was not re-read");
    CHECK(stat(f_old, &s3) == 0);
    CHECKF(op.seen[1] == 0, "static_a's file (old, unchanged) was read again (mtime %lld.%09ld, P read start %lld us)",
           (long long)s3.st_mtim.tv_sec, s3.st_mtim.tv_nsec, (long long)p_read);

    /* D with parent C: the file is now older than C's read start minus the margin: reused */
    CHECKF(backup_watch(c_snap, &op, d_snap, why, sizeof why) == 0, "%s", why);
    CHECK(stat(f_new, &s3) == 0);
    CHECKF(same_identity(&s1, &s3), "racy_t's file changed between C and D: the check says nothing");
    CHECKF(op.seen[0] == 0, "racy_t's file was read again though older than the margin");
    CHECK(op.seen[1] == 0);

    /* and D restores racy_t exactly */
    char exp_r[128] = "", got_r[128] = "";
    c = pgtest_connect(&fx.src, "postgres");
    ok = c && table_sum(c, "racy_t", "id", exp_r, sizeof exp_r) == 0;
    PQfinish(c);
    CHECK(ok);
    struct pgtest dst;
    struct eng_pg_restore_result rr;
    double rms;
    int rc = restore_and_start(d_snap, &dst, 55435, &rr, &rms, why, sizeof why);
    c = rc ? NULL : pgtest_connect(&dst, "postgres");
    ok = c && table_sum(c, "racy_t", "id", got_r, sizeof got_r) == 0;
    PQfinish(c);
    pgtest_destroy(&dst);
    CHECKF(rc == 0, "restore: %d %s", rc, why);
    CHECK(ok);
    CHECKF(strcmp(got_r, exp_r) == 0, "racy_t %s != %s", got_r, exp_r);
}

TEST(pg_restore_refuses_bad_input)
{
    char why[512] = "", dir[700], f[800];
    CHECK(fx.snap_full[0]);
    char *t = check_tmpdir("pgbad");
    snprintf(dir, sizeof dir, "%s/full", t);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(f, sizeof f, "%s/something", dir);
    FILE *fp = fopen(f, "w");
    if (fp) fclose(fp);
    struct eng_pg_restore_opts ro = { .target_dir = dir };
    struct eng_pg_restore_result rr;
    int rc1 = eng_pg_restore(fx.repo, fx.snap_full, &ro, &rr, why, sizeof why);
    int still = access(f, F_OK) == 0;
    /* a snapshot that is not a base backup */
    const char *inc[] = { t };
    struct eng_backup_opts bo = { .include_paths = inc, .n_include = 1, .threads = 1 };
    struct eng_backup_result br;
    int rcb = eng_backup(fx.repo, &bo, &br, why, sizeof why);
    snprintf(dir, sizeof dir, "%s/other", t);
    struct eng_pg_restore_opts ro2 = { .target_dir = dir };
    int rc2 = rcb ? 0 : eng_pg_restore(fx.repo, br.snapshot_id, &ro2, &rr, why, sizeof why);
    eng_backup_result_release(&br);
    check_rm_rf(t);
    free(t);
    CHECK_EQ_INT(rc1, -EEXIST);
    CHECK(still);
    CHECK_EQ_INT(rcb, 0);
    CHECK_EQ_INT(rc2, -EINVAL);
}

/* The two file-engine options the SQL mover relies on, on a plain directory (no server needed). */
static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

TEST(engine_racy_and_graft_options)
{
    char why[512] = "", a[700], sub[700], fnew[800], gone[700];
    struct eng_backup_result r0 = { 0 }, r1 = { 0 }, r2 = { 0 }, r3 = { 0 }, r4 = { 0 };
    struct tree_entry e = { 0 };
    char *t = check_tmpdir("pgopts");
    snprintf(a, sizeof a, "%s/a.dat", t);
    snprintf(sub, sizeof sub, "%s/sub", t);
    snprintf(fnew, sizeof fnew, "%s/sub/new.dat", t);
    snprintf(gone, sizeof gone, "%s/nosuch", t);
    int prep = write_text(a, "some content that stays the same\n") == 0 && mkdir(sub, 0755) == 0;
    const char *inc[] = { t };
    struct eng_backup_opts o = { .include_paths = inc, .n_include = 1, .threads = 1 };
    int rc0 = prep ? eng_backup(fx.repo, &o, &r0, why, sizeof why) : -1;
    /* unchanged, identity equal: reused; the same with a racy bound older than its mtime: read */
    o.parent_snapshot_id = r0.snapshot_id;
    int rc1 = eng_backup(fx.repo, &o, &r1, why, sizeof why);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    o.reuse_mtime_before_ns = (int64_t)(now.tv_sec - 10) * 1000000000;   /* a.dat is newer than that */
    int rc2 = eng_backup(fx.repo, &o, &r2, why, sizeof why);
    o.reuse_mtime_before_ns = 0;
    /* a graft takes sub/ from the parent: a file made there since is not read nor listed */
    int made = write_text(fnew, "new\n") == 0;
    const char *graft[] = { sub };
    o.graft_paths = graft;
    o.n_graft = 1;
    int rc3 = eng_backup(fx.repo, &o, &r3, why, sizeof why);
    int st3 = rc3 ? -1 : eng_stat_path(fx.repo, r3.snapshot_id, fnew, &e);
    tree_entry_release(&e);
    /* a graft path the parent does not hold fails the backup */
    const char *graft2[] = { gone };
    int made2 = mkdir(gone, 0755) == 0;
    o.graft_paths = graft2;
    int rc4 = eng_backup(fx.repo, &o, &r4, why, sizeof why);
    int no_snap4 = r4.snapshot_id[0] == '\0';
    uint64_t read1 = r1.bytes_read, read2 = r2.bytes_read, read3 = r3.bytes_read;
    eng_backup_result_release(&r0);
    eng_backup_result_release(&r1);
    eng_backup_result_release(&r2);
    eng_backup_result_release(&r3);
    eng_backup_result_release(&r4);
    check_rm_rf(t);
    free(t);
    CHECK(prep && made && made2);
    CHECK_EQ_INT(rc0, 0);
    CHECK_EQ_INT(rc1, 0);
    CHECK_EQ_INT(read1, 0);
    CHECK_EQ_INT(rc2, 0);
    CHECK_EQ_INT(read2, 33);   /* a.dat, racily clean: read again */
    CHECK_EQ_INT(rc3, 0);
    CHECK_EQ_INT(read3, 0);
    CHECK_EQ_INT(st3, -ENOENT);
    CHECK_EQ_INT(rc4, -ENOENT);
    CHECK(no_snap4);
}

/* ---------- set-up ---------- */

static int load(char *why, size_t n)
{
    PGconn *c = pgtest_connect(&fx.src, "postgres");
    if (!c) { snprintf(why, n, "cannot connect to the source server"); return -1; }
    int rc = pgtest_exec(c,
                      "CREATE TABLE static_a AS SELECT g AS id, md5(g::text) AS h, repeat(chr(65 + g % 26), 100) AS pad"
                      "  FROM generate_series(1, 100000) g;"
                      "ALTER TABLE static_a ADD PRIMARY KEY (id);"
                      "CREATE TABLE static_b (id int PRIMARY KEY, v text);"
                      "INSERT INTO static_b SELECT g, 'row ' || g || ' ' || md5((g * 7)::text) FROM generate_series(1, 40000) g;"
                      "CREATE TABLE writes (seq int PRIMARY KEY, payload text NOT NULL);"
                      /* the backup role: replication (its slot) and the backup functions, no superuser */
                      "CREATE ROLE coffer_backup LOGIN REPLICATION;"
                      "GRANT pg_read_all_settings TO coffer_backup;"
                      "GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean), pg_backup_stop(boolean),"
                      "  pg_control_init() TO coffer_backup;",
                      why, n);
    if (!rc) rc = pgtest_exec(c, "VACUUM ANALYZE", why, n);   /* not in the implicit transaction above */
    if (!rc) rc = pgtest_exec(c, "CHECKPOINT", why, n);
    /* the first backup comes after the racily-clean margin, as a scheduled one would */
    sleep_ms((int)(ENG_PG_RACY_MARGIN_NS / 1000000) + 500);
    PQfinish(c);
    return rc;
}

int main(void)
{
    char why[1024] = "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pgtest_serve_or_skip(&fx.src, "pgsrc", 55432, TESTS, sizeof TESTS / sizeof *TESTS) != 0) return check_finish();
    pgtest_conninfo(&fx.src, "postgres", fx.conninfo, sizeof fx.conninfo);
    strncat(fx.conninfo, " user=coffer_backup", sizeof fx.conninfo - strlen(fx.conninfo) - 1);   /* the last user= wins */
    fx.repo_dir = check_tmpdir("pgrepo");
    snprintf(fx.repo_path, sizeof fx.repo_path, "%s/repo", fx.repo_dir);
    snprintf(fx.key, sizeof fx.key, "%s/repo.key", fx.repo_dir);
    char err[256];
    if (repo_create(fx.repo_path, fx.key, err, sizeof err) != 0 || repo_open(fx.repo_path, fx.key, &fx.repo, err, sizeof err) != 0) {
        check_abandon(err);
    } else if (load(why, sizeof why) != 0) {
        check_abandon(why);
    }
    RUN(pg_full_backup_with_writer_restores_consistent);
    RUN(pg_incremental_reads_less_restores_exact);
    RUN(pg_racily_clean_file_is_reread);
    RUN(pg_restore_refuses_bad_input);
    RUN(engine_racy_and_graft_options);
    if (fx.repo) repo_close(fx.repo);
    pgtest_destroy(&fx.src);
    check_rm_rf(fx.repo_dir);
    free(fx.repo_dir);
    return check_finish();
}
