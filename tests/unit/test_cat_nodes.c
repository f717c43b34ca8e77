/* test_cat_nodes.c: several nodes on one catalog (two struct cat opened on the same catalog, as two
 * daemons would): runs leased at once by two nodes' threads go to exactly one node each (on
 * PostgreSQL through FOR UPDATE SKIP LOCKED), a schedule slot is claimed by exactly one node, and
 * (PostgreSQL) a connection the server dropped is opened again.
 * Runs on SQLite, and on PostgreSQL with COFFER_TEST_CATALOG=pg (tests/run-all.sh's second pass). */
#include "check.h"
#include "e2e/pgtest.h"
#include "catalog/cat_run.h"
#include "catalog/internal.h"
#include <pthread.h>
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
    if (pgtest_catalog_is_pg()) RUN(a_lost_connection_is_opened_again);
    else SKIP("a_lost_connection_is_opened_again", "a SQLite catalog has no server connection to lose");
    cat_close(g_a);
    cat_close(g_b);
    check_rm_rf(g_dir);
    free(g_dir);
    return check_finish();
}
