/* test_cat_nodes.c: several nodes on one catalog (two struct cat opened on the same catalog, as two
 * daemons would): runs leased at once by two nodes' threads go to exactly one node each (on
 * PostgreSQL through FOR UPDATE SKIP LOCKED), a schedule slot is claimed by exactly one node,
 * three nodes' retention passes (three catalogs, three handles on one repository) expiring the same
 * snapshots at once delete each exactly once (no pass fails, the counts add up to the expired
 * snapshots, the kept ones and the repository are whole), and (PostgreSQL) a connection the server
 * dropped is opened again.
 * Runs on SQLite, and on PostgreSQL with COFFER_TEST_CATALOG=pg (tests/run-all.sh's second pass). */
#include "check.h"
#include "e2e/pgtest.h"
#include "catalog/cat_run.h"
#include "catalog/cat_snapshot.h"
#include "catalog/internal.h"
#include "engine/engine.h"
#include "repo/repo.h"
#include "sched/sched.h"
#include <pthread.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#define NGROUPS 12

static struct cat *g_a, *g_b;
static char *g_dir;
static char g_target[1200];

struct leaser {
    struct cat *cat;
    const char *owner;
    int n;
    char groups[NGROUPS][32];
    int errors;
};

static void *lease_all(void *p)
{
    struct leaser *l = p;
    for (int i = 0; i < 4 * NGROUPS; i++) { /* bounded: at most every run, with room for retries */
        struct cat_run r;
        int rc = cat_run_lease_next(l->cat, l->owner, 1LL << 50, &r);
        if (rc == CAT_NOT_FOUND) break;
        if (rc != 0) {
            l->errors++;
            continue;
        }
        if (l->n < NGROUPS) snprintf(l->groups[l->n], sizeof l->groups[0], "%s", r.group_id);
        l->n++;
        cat_run_release(&r);
    }
    return NULL;
}

TEST(leases_go_to_one_node_each)
{
    struct leaser a = { .cat = g_a, .owner = "node-a" }, b = { .cat = g_b, .owner = "node-b" };
    pthread_t ta, tb;
    for (int i = 0; i < NGROUPS; i++) {
        char group[32];
        int64_t start = 1000 + i;
        struct cat_run_new n = { .tenant = "t1", .group_id = group, .group_name = "g", .group_seq = i + 1,
                                 .run_type = "kRegular", .status = "Accepted" };
        snprintf(group, sizeof group, "1:1:%d", i + 1);
        CHECK_EQ_INT(cat_run_insert(i % 2 ? g_a : g_b, &n, &start), 0);
    }
    CHECK(pthread_create(&ta, NULL, lease_all, &a) == 0);
    CHECK(pthread_create(&tb, NULL, lease_all, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_EQ_INT(a.errors + b.errors, 0);
    CHECKF(a.n + b.n == NGROUPS, "node a leased %d, node b %d, of %d runs", a.n, b.n, NGROUPS);
    for (int i = 0; i < a.n && i < NGROUPS; i++)
        for (int j = 0; j < b.n && j < NGROUPS; j++)
            CHECKF(strcmp(a.groups[i], b.groups[j]) != 0, "run of group %s leased by both nodes", a.groups[i]);
    /* every run is Running, leased by the node that reported it */
    for (int i = 0; i < a.n && i < NGROUPS; i++) {
        struct cat_run r;
        int k = atoi(strrchr(a.groups[i], ':') + 1);
        CHECK_EQ_INT(cat_run_find(g_b, "t1", k, 1000 + k - 1, &r), 0);
        CHECK(strcmp(r.status, "Running") == 0 && r.lease_owner && strcmp(r.lease_owner, "node-a") == 0);
        cat_run_release(&r);
    }
    {
        struct cat_run r;
        CHECK_EQ_INT(cat_run_lease_next(g_a, "node-a", 1LL << 50, &r), CAT_NOT_FOUND);
    }
}

TEST(a_schedule_slot_fires_once)
{
    sqldb_stmt *st;
    int64_t n = -1;
    CHECK_EQ_INT(cat_sched_claim(g_a, "t1", "1:1:1", 5000000, "node-a", 1), 1);
    CHECK_EQ_INT(cat_sched_claim(g_b, "t1", "1:1:1", 5000000, "node-b", 2), 0);  /* the other node's */
    CHECK_EQ_INT(cat_sched_claim(g_a, "t1", "1:1:1", 5000000, "node-a", 3), 1);  /* its own claim, retried */
    CHECK_EQ_INT(cat_sched_claim(g_b, "t1", "1:1:1", 5000000, "node-b", 3), 0);  /* still not the other's */
    CHECK_EQ_INT(cat_sched_claim(g_b, "t2", "1:1:1", 5000000, "node-b", 4), 1);  /* another tenant */
    CHECK_EQ_INT(cat_sched_claim(g_b, "t1", "1:1:1", 6000000, "node-b", 5), 1);  /* the next slot */
    /* a day later the old slots are forgotten (the table does not grow without end) */
    CHECK_EQ_INT(cat_sched_claim(g_a, "t1", "1:1:1", 6000000 + 86400LL * 1000000 + 1, "node-a", 6), 1);
    st = cat_stmt(g_a, "SELECT count(*) FROM sched_fires WHERE tenant = 't1'");
    CHECK(st != NULL);
    if (st) {
        CHECK_EQ_INT(sqldb_step(st), SQLDB_ROW);
        n = sqldb_column_int64(st, 0);
        sqldb_reset(st);
    }
    CHECK_EQ_INT(n, 1);
}

/* ---- three nodes' retention passes at once ---- */

#define NSNAP 9      /* snapshots 0..5 expired, 6 and 7 not yet, 8 expired but on legal hold */
#define NEXPIRED 6

struct expirer {
    struct cat *cat;
    struct repo *repo;
    pthread_barrier_t *start;
    int64_t now;
    int n;
};

static void *expire_at_once(void *p)
{
    struct expirer *e = p;
    pthread_barrier_wait(e->start);
    e->n = sched_retention_pass(e->cat, e->repo, e->now);
    return NULL;
}

static int snapshot_row_deleted(struct cat *cat, const char *id)
{
    struct cat_snapshot s;
    int d;
    if (cat_snapshot_get(cat, "t1", id, &s) != 0) return -1;
    d = s.is_deleted;
    cat_snapshot_release(&s);
    return d;
}

/* retention_body: the test; what it opens is in repos and cats[2], closed by the caller (a failed
 * CHECK returns at once). */
static void retention_body(struct repo *repos[3], struct cat *cats[3])
{
    char dir[600], key[600], src[600], err[256] = "", snaps[NSNAP][REPO_ID_HEX_LEN + 1];
    const char *incs[1] = { src };
    struct eng_backup_opts o = { .include_paths = incs, .n_include = 1, .threads = 1 };
    struct expirer ex[3];
    pthread_t th[3];
    pthread_barrier_t start;
    json_t *ids = NULL, *rep = NULL;
    int64_t now = 5000000000000000LL;
    int sum = 0;
    FILE *f;
    snprintf(dir, sizeof dir, "%s/repo", g_dir);
    snprintf(key, sizeof key, "%s/repo.key", g_dir);
    snprintf(src, sizeof src, "%s/src", g_dir);
    CHECK(mkdir(src, 0755) == 0);
    CHECKF(repo_create(dir, key, err, sizeof err) == 0, "%s", err);
    CHECKF(cat_open(g_target, &cats[2], err, sizeof err) == 0, "%s", err);
    for (int k = 0; k < 3; k++) CHECKF(repo_open(dir, key, &repos[k], err, sizeof err) == 0, "%s", err);
    if (!cats[2] || !repos[0] || !repos[1] || !repos[2]) return;
    for (int i = 0; i < NSNAP; i++) { /* one backup per snapshot, each of a file that changed */
        char p[700];
        struct eng_backup_result r;
        struct cat_snapshot cs = { .tenant = "t1", .object_id = 5, .object_name = "host", .environment = "kPhysical",
                                   .group_id = "1:1:40", .group_name = "g", .group_seq = 40, .run_usecs = 7000 + i,
                                   .instance_id = 1, .run_type = "kRegular", .snapshot_usecs = 7000 + i,
                                   .end_usecs = 7001 + i, .status = "kSuccessful",
                                   .expiry_usecs = i < NEXPIRED || i == 8 ? now - 1000 * (i + 1) : now + 1000000,
                                   .on_legal_hold = i == 8 };
        snprintf(p, sizeof p, "%s/f", src);
        CHECK((f = fopen(p, "w")) != NULL);
        fprintf(f, "version %d\n", i);
        fclose(f);
        CHECKF(eng_backup(repos[i % 3], &o, &r, err, sizeof err) == 0, "%s", err);
        snprintf(snaps[i], sizeof snaps[i], "%s", r.snapshot_id);
        eng_backup_result_release(&r);
        CHECK_EQ_INT(repo_flush(repos[i % 3]), 0);
        cs.id = snaps[i];
        CHECK_EQ_INT(cat_begin(g_a), 0);
        CHECK_EQ_INT(cat_snapshot_insert(g_a, &cs), 0);
        CHECK_EQ_INT(cat_commit(g_a), 0);
    }
    CHECK(pthread_barrier_init(&start, NULL, 3) == 0);
    for (int k = 0; k < 3; k++) {
        ex[k] = (struct expirer){ .cat = cats[k], .repo = repos[k], .start = &start, .now = now };
        CHECK(pthread_create(&th[k], NULL, expire_at_once, &ex[k]) == 0);
    }
    for (int k = 0; k < 3; k++) pthread_join(th[k], NULL);
    pthread_barrier_destroy(&start);
    for (int k = 0; k < 3; k++) {
        CHECKF(ex[k].n >= 0, "node %d's retention pass failed", k);
        sum += ex[k].n;
    }
    CHECKF(sum == NEXPIRED, "the passes counted %d deletions (%d, %d, %d) of %d expired snapshots", sum, ex[0].n,
           ex[1].n, ex[2].n, NEXPIRED);
    for (int i = 0; i < NSNAP; i++)
        CHECKF(snapshot_row_deleted(g_b, snaps[i]) == (i < NEXPIRED), "snapshot %d: deleted %d", i,
               snapshot_row_deleted(g_b, snaps[i]));
    CHECK_EQ_INT(repo_snapshot_list(repos[0], &ids), 0);
    CHECKF(json_array_size(ids) == NSNAP - NEXPIRED, "%zu documents left", json_array_size(ids));
    for (size_t k = 0; k < json_array_size(ids); k++) {
        const char *sid = json_string_value(json_array_get(ids, k));
        int kept = 0;
        for (int i = NEXPIRED; i < NSNAP; i++) kept |= sid && strcmp(sid, snaps[i]) == 0;
        CHECKF(kept, "document %s should be gone", sid ? sid : "?");
    }
    json_decref(ids);
    /* a second pass on every node finds nothing more to do */
    for (int k = 0; k < 3; k++) CHECK_EQ_INT(sched_retention_pass(cats[k], repos[k], now), 0);
    for (int k = 0; k < 3; k++) {
        repo_close(repos[k]);
        repos[k] = NULL;
    }
    /* the repository as a fresh open sees it (each handle knew only its own packs) is whole */
    CHECKF(repo_open(dir, key, &repos[0], err, sizeof err) == 0, "%s", err);
    if (repos[0]) {
        char *txt;
        CHECK_EQ_INT(repo_verify(repos[0], 1, &rep), 0);
        txt = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
        CHECKF(rep && json_is_true(json_object_get(rep, "ok")), "verify after the passes: %.2000s", txt ? txt : "");
        free(txt);
        json_decref(rep);
    }
}

TEST(three_retention_passes_expire_each_snapshot_once)
{
    struct repo *repos[3] = { NULL, NULL, NULL };
    struct cat *cats[3] = { g_a, g_b, NULL };
    retention_body(repos, cats);
    for (int k = 0; k < 3; k++) repo_close(repos[k]);
    if (cats[2]) cat_close(cats[2]);
}

/* The server drops the daemon's connection (PostgreSQL restarted, an administrator's
 * pg_terminate_backend): the statement that meets it fails, the next call opens a new connection. */
TEST(a_lost_connection_is_opened_again)
{
    PGconn *admin = PQconnectdb(g_target);
    PGresult *r;
    int64_t v1 = 0, v2 = 0;
    int rc = -1;
    CHECK(admin && PQstatus(admin) == CONNECTION_OK);
    CHECK_EQ_INT(cat_next_seq(g_a, "lost", &v1), 0);
    r = PQexec(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    CHECKF(r && PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) >= 1, "%s",
           r ? PQresultErrorMessage(r) : "no result");
    PQclear(r);
    PQfinish(admin);
    for (int i = 0; i < 3 && rc != 0; i++) rc = cat_next_seq(g_a, "lost", &v2); /* the first may meet the loss */
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(v2, v1 + 1);
}

int main(void)
{
    char path[512], err[256] = "";
    g_dir = check_tmpdir("cat-nodes");
    snprintf(path, sizeof path, "%s/catalog.db", g_dir);
    snprintf(g_target, sizeof g_target, "%s", pgtest_cat(path));
    if (cat_open(g_target, &g_a, err, sizeof err) != 0 || cat_open(g_target, &g_b, err, sizeof err) != 0) {
        fprintf(stderr, "cat_open: %s\n", err);
        return 1;
    }
    RUN(leases_go_to_one_node_each);
    RUN(a_schedule_slot_fires_once);
    RUN(three_retention_passes_expire_each_snapshot_once);
    if (pgtest_catalog_is_pg()) RUN(a_lost_connection_is_opened_again);
    else SKIP("a_lost_connection_is_opened_again", "a SQLite catalog has no server connection to lose");
    cat_close(g_a);
    cat_close(g_b);
    check_rm_rf(g_dir);
    free(g_dir);
    return check_finish();
}
