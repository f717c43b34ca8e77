/* test_cat_repo_sync.c: the catalog side of several nodes on one repository (src/catalog/nodes.c,
 * migration 22), two struct cat on one catalog as two daemons:
 *   - index_gen grows by one per bump, from either node;
 *   - the prune lease: one holder at a time (the other is told who), renewed and released only by its
 *     holder, taken over once it expired; a release counts a prune (prune_gen);
 *   - runs of other owners: counted while their lease runs, listed once it expired; the take-over
 *     moves an expired lease to one node only (a second take-over, or one of a run leased again
 *     meanwhile, changes nothing).
 * Runs on SQLite, and on PostgreSQL with COFFER_TEST_CATALOG=pg (tests/run-all.sh's second pass). */
#include "check.h"
#include "e2e/pgtest.h"
#include "catalog/cat_nodes.h"
#include "catalog/cat_run.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct cat *g_a, *g_b;
static char *g_dir;

TEST(index_gen_counts_bumps)
{
    struct cat_repo_sync s;
    int64_t g1 = 0, g2 = 0;
    CHECK_EQ_INT(cat_repo_sync_get(g_a, &s), 0);
    CHECK_EQ_INT(s.index_gen, 0);
    CHECK_EQ_INT(s.prune_gen, 0);
    CHECK(s.prune_owner[0] == 0);
    CHECK_EQ_INT(cat_repo_index_bump(g_a, "node-a", &g1), 0);
    CHECK_EQ_INT(cat_repo_index_bump(g_b, "node-b", &g2), 0);
    CHECK_EQ_INT(g1, 1);
    CHECK_EQ_INT(g2, 2);
    CHECK_EQ_INT(cat_repo_sync_get(g_b, &s), 0);
    CHECK_EQ_INT(s.index_gen, 2);
}

TEST(one_prune_lease_at_a_time)
{
    struct cat_repo_sync s;
    char holder[160];
    CHECK_EQ_INT(cat_repo_prune_acquire(g_a, "node-a", 1000, 5000, holder, sizeof holder), 0);
    CHECK_EQ_INT(cat_repo_prune_acquire(g_b, "node-b", 2000, 6000, holder, sizeof holder), -EBUSY);
    CHECK(strcmp(holder, "node-a") == 0);
    CHECK_EQ_INT(cat_repo_prune_renew(g_b, "node-b", 9000), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_repo_prune_release(g_b, "node-b"), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_repo_prune_renew(g_a, "node-a", 7000), 0);
    CHECK_EQ_INT(cat_repo_prune_acquire(g_b, "node-b", 6500, 9000, holder, sizeof holder), -EBUSY);
    CHECK_EQ_INT(cat_repo_prune_acquire(g_b, "node-b", 7001, 9000, holder, sizeof holder), 0); /* expired */
    CHECK_EQ_INT(cat_repo_prune_renew(g_a, "node-a", 12000), CAT_NOT_FOUND); /* taken over */
    CHECK_EQ_INT(cat_repo_sync_get(g_a, &s), 0);
    CHECK(strcmp(s.prune_owner, "node-b") == 0);
    CHECK_EQ_INT(s.prune_expiry, 9000);
    CHECK_EQ_INT(cat_repo_prune_release(g_b, "node-b"), 0);
    CHECK_EQ_INT(cat_repo_sync_get(g_a, &s), 0);
    CHECK(s.prune_owner[0] == 0);
    CHECK_EQ_INT(s.prune_gen, 1);
    CHECK_EQ_INT(cat_repo_prune_acquire(g_a, "node-a", 10000, 20000, holder, sizeof holder), 0);
    CHECK_EQ_INT(cat_repo_prune_release(g_a, "node-a"), 0);
}

TEST(expired_runs_are_taken_over_once)
{
    struct cat_run r;
    struct cat_run_expired *v = NULL;
    size_t n = 0;
    int64_t cnt = -1;
    for (int i = 0; i < 2; i++) {
        char group[32];
        int64_t start = 5000 + i;
        struct cat_run_new nr = { .tenant = "t1", .group_id = group, .group_name = "g", .group_seq = i + 1,
                                  .run_type = "kRegular", .status = "Accepted" };
        snprintf(group, sizeof group, "1:1:%d", i + 1);
        CHECK_EQ_INT(cat_run_insert(g_a, &nr, &start), 0);
    }
    CHECK_EQ_INT(cat_run_lease_next(g_b, "node-b", 100000, &r), 0); /* node b's run, lease until 100000 */
    cat_run_release(&r);
    CHECK_EQ_INT(cat_run_lease_next(g_a, "node-a", 100000, &r), 0);
    cat_run_release(&r);
    CHECK_EQ_INT(cat_run_count_running_elsewhere(g_a, "node-a", 50000, &cnt), 0);
    CHECK_EQ_INT(cnt, 1);
    CHECK_EQ_INT(cat_run_count_running_elsewhere(g_a, "node-a", 200000, &cnt), 0);
    CHECK_EQ_INT(cnt, 0); /* expired: no longer a writer anyone waits for */
    CHECK_EQ_INT(cat_run_list_expired(g_a, "node-a", 50000, 10, &v, &n), 0);
    CHECK_EQ_INT(n, 0);
    cat_run_expired_free(v, n);
    CHECK_EQ_INT(cat_run_list_expired(g_a, "node-a", 200000, 10, &v, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK(v[0].owner && strcmp(v[0].owner, "node-b") == 0);
    CHECK_EQ_INT(cat_run_take_expired(g_a, v[0].tenant, v[0].group_id, v[0].start_usecs, "node-b", "node-a", 200000,
                                      300000), 0);
    CHECK_EQ_INT(cat_run_take_expired(g_b, v[0].tenant, v[0].group_id, v[0].start_usecs, "node-b", "node-c", 200000,
                                      300000), CAT_NOT_FOUND); /* taken already */
    cat_run_expired_free(v, n);
    CHECK_EQ_INT(cat_run_list_expired(g_b, "node-b", 250000, 10, &v, &n), 0);
    CHECK_EQ_INT(n, 1); /* node a's own run (lease 100000) is expired; the one it took (300000) is not */
    CHECK(v[0].owner && strcmp(v[0].owner, "node-a") == 0);
    cat_run_expired_free(v, n);
}

int main(void)
{
    char path[512], target[1200], err[256] = "";
    g_dir = check_tmpdir("cat-repo-sync");
    snprintf(path, sizeof path, "%s/catalog.db", g_dir);
    snprintf(target, sizeof target, "%s", pgtest_cat(path));
    if (cat_open(target, &g_a, err, sizeof err) != 0 || cat_open(target, &g_b, err, sizeof err) != 0) {
        fprintf(stderr, "cat_open: %s\n", err);
        return 1;
    }
    RUN(index_gen_counts_bumps);
    RUN(one_prune_lease_at_a_time);
    RUN(expired_runs_are_taken_over_once);
    cat_close(g_a);
    cat_close(g_b);
    check_rm_rf(g_dir);
    free(g_dir);
    return check_finish();
}
