/* test_cat_gen.c: the catalog's generation counters (src/catalog/gen.c, cat_gen.h), which the API's
 * list cache trusts: a group write changes CAT_GEN_GROUPS when it is written AND again when its
 * transaction commits or rolls back (so a reader that read the generation between the write and the
 * commit holds a stale value), an autocommit write changes it, reads and other tables' writes (the
 * scheduler's state, policies) do not, and closing a catalog changes every generation. Every kind of
 * run write (insert, lease, object add and progress, renewal, finish) changes CAT_GEN_RUNS, which the
 * cached lists with last runs trust; reads and the scheduler's state do not. */
#include "check.h"
#include "e2e/pgtest.h"
#include "catalog/cat_gen.h"
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include "catalog/cat_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cat *cat;
static char *dir;
static char path[512];

static struct cat_group_write group(const char *id, int64_t seq, const char *name, int paused)
{
    static char doc[256];
    snprintf(doc, sizeof doc, "{\"id\":\"%s\",\"name\":\"%s\"}", id, name);
    return (struct cat_group_write){ .tenant = "A", .id = id, .seq = seq, .name = name, .policy_id = "1:1:1",
                                     .environment = "kPhysical", .is_active = 1, .is_paused = paused, .doc = doc,
                                     .mtime_usecs = 5000 + seq };
}

static int count_doc(void *ud, const char *id, const char *doc, size_t len)
{
    (void)id; (void)doc; (void)len;
    (*(int *)ud)++;
    return 0;
}

TEST(setup)
{
    char err[256];
    dir = check_tmpdir("catgen");
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    CHECK(cat_open(pgtest_cat(path), &cat, err, sizeof err) == 0);
    CHECK(cat_policy_insert(cat, "A", "1:1:1", 1, "gold", "{\"name\":\"gold\"}", 1000) == 0);
}

TEST(a_write_changes_it_at_write_and_at_commit)
{
    struct cat_group_write w = group("1:1:10", 10, "g10", 0);
    uint64_t g0 = cat_gen(cat, CAT_GEN_GROUPS), g1, g2;
    CHECK(g0 != 0); /* a catalog of one daemon: cacheable */
    CHECK(cat_begin(cat) == 0);
    CHECK(cat_group_insert(cat, &w) == 0);
    g1 = cat_gen(cat, CAT_GEN_GROUPS); /* what a reader between the write and the commit holds */
    CHECK(g1 != g0);
    CHECK(cat_commit(cat) == 0);
    g2 = cat_gen(cat, CAT_GEN_GROUPS);
    CHECKF(g2 != g1, "the commit did not change the generation (%llu): a list read before it is served after it",
           (unsigned long long)g2);
}

TEST(a_rollback_changes_it_too)
{
    struct cat_group_write w = group("1:1:11", 11, "g11", 1);
    uint64_t g1;
    CHECK(cat_begin(cat) == 0);
    CHECK(cat_group_insert(cat, &w) == 0);
    g1 = cat_gen(cat, CAT_GEN_GROUPS);
    cat_rollback(cat);
    CHECK(cat_gen(cat, CAT_GEN_GROUPS) != g1);
}

TEST(updates_and_deletes_change_it)
{
    struct cat_group_write w = group("1:1:10", 10, "g10", 1);
    uint64_t g = cat_gen(cat, CAT_GEN_GROUPS), g2;
    CHECK(cat_begin(cat) == 0);
    CHECK(cat_group_update(cat, &w) == 0);
    CHECK(cat_commit(cat) == 0);
    g2 = cat_gen(cat, CAT_GEN_GROUPS);
    CHECK(g2 != g);
    /* outside a transaction (autocommit): changed by the write itself */
    CHECK(cat_group_mark_deleted(cat, "A", "1:1:10", "{\"id\":\"1:1:10\",\"isDeleted\":true}", 9000) == 0);
    CHECK(cat_gen(cat, CAT_GEN_GROUPS) != g2);
}

TEST(reads_and_other_tables_leave_it)
{
    struct cat_group_write w = group("1:1:12", 12, "g12", 0);
    struct cat_group_filter f = { .is_active = -1, .is_paused = -1, .is_deleted = 0 };
    uint64_t g;
    int n = 0;
    CHECK(cat_begin(cat) == 0);
    CHECK(cat_group_insert(cat, &w) == 0);
    CHECK(cat_commit(cat) == 0);
    g = cat_gen(cat, CAT_GEN_GROUPS);
    CHECK(cat_group_list(cat, "A", &f, count_doc, &n) == 0);
    CHECK_EQ_INT(n, 1);
    /* the scheduler writes its state of every group on every pass: that must not empty the cache */
    CHECK(cat_sched_put(cat, "A", "1:1:12", 123456) == 0);
    CHECK(cat_begin(cat) == 0);
    CHECK(cat_sched_put(cat, "A", "1:1:12", 123457) == 0);
    CHECK(cat_commit(cat) == 0);
    CHECK(cat_policy_insert(cat, "A", "1:1:2", 2, "silver", "{\"name\":\"silver\"}", 1001) == 0);
    CHECK(cat_gen(cat, CAT_GEN_GROUPS) == g);
}

/* changed: whether the generation of family differs from *g; *g becomes the current one. */
static int changed(enum cat_gen_family family, uint64_t *g)
{
    uint64_t now = cat_gen(cat, family);
    int c = now != *g;
    *g = now;
    return c;
}

TEST(run_writes_change_the_runs_generation)
{
    struct cat_run_new nr = { .tenant = "A", .group_id = "1:1:12", .group_name = "g12", .group_seq = 12,
                              .run_type = "kRegular", .status = "Accepted" };
    struct cat_run_object o = { .object_id = 7, .object_name = "host", .environment = "kPhysical",
                                .object_type = "kHost", .status = "kInProgress", .begin_usecs = 1, .files_total = -1,
                                .bytes_total = -1 };
    struct cat_run leased;
    uint64_t r = cat_gen(cat, CAT_GEN_RUNS), g = cat_gen(cat, CAT_GEN_GROUPS);
    int64_t start = 7000000;
    int cancel = 0;
    CHECK(r != 0);
    CHECK(cat_run_insert(cat, &nr, &start) == 0);             /* its own transaction */
    CHECKF(changed(CAT_GEN_RUNS, &r), "a new run left the runs' generation");
    CHECK(cat_run_lease_next(cat, "me", 9000000000000000LL, &leased) == 0);
    CHECKF(changed(CAT_GEN_RUNS, &r), "a run leased (Running) left it");
    cat_run_release(&leased);
    CHECK(cat_run_object_add(cat, "A", "1:1:12", start, &o) == 0); /* autocommit */
    CHECKF(changed(CAT_GEN_RUNS, &r), "an object added left it");
    o.files = 3;
    CHECK(cat_run_object_progress(cat, "A", "1:1:12", start, &o) == 0);
    CHECKF(changed(CAT_GEN_RUNS, &r), "an object's progress left it");
    CHECK(cat_run_renew(cat, "A", "1:1:12", start, "me", 9000000000000001LL, &cancel) == 0);
    CHECKF(changed(CAT_GEN_RUNS, &r), "a lease renewal left it");
    CHECK(cat_run_finish(cat, "A", "1:1:12", start, "Succeeded", NULL, start + 10) == 0);
    CHECKF(changed(CAT_GEN_RUNS, &r), "a finished run left it");
    /* reads, the scheduler's state and the groups' own writes leave it; run writes leave the groups' */
    CHECK(cat_run_active(cat, "A", "1:1:12") == 0);
    CHECK(cat_sched_put(cat, "A", "1:1:12", 123458) == 0);
    CHECKF(!changed(CAT_GEN_RUNS, &r), "a read or the scheduler's state changed the runs' generation");
    CHECKF(!changed(CAT_GEN_GROUPS, &g), "run writes changed the groups' generation");
}

TEST(closing_changes_every_generation)
{
    char err[256];
    uint64_t g = cat_gen(cat, CAT_GEN_GROUPS), p = cat_gen(cat, CAT_GEN_POLICIES), r = cat_gen(cat, CAT_GEN_RUNS);
    cat_close(cat);
    cat = NULL;
    CHECK(cat_open(pgtest_cat(path), &cat, err, sizeof err) == 0);
    CHECK(cat_gen(cat, CAT_GEN_GROUPS) != g);
    CHECK(cat_gen(cat, CAT_GEN_POLICIES) != p);
    CHECK(cat_gen(cat, CAT_GEN_RUNS) != r);
    CHECK(cat_gen(NULL, CAT_GEN_GROUPS) == 0);
}

int main(void)
{
    RUN(setup);
    if (check_failed()) check_abandon("setup failed");
    RUN(a_write_changes_it_at_write_and_at_commit);
    RUN(a_rollback_changes_it_too);
    RUN(updates_and_deletes_change_it);
    RUN(reads_and_other_tables_leave_it);
    RUN(run_writes_change_the_runs_generation);
    RUN(closing_changes_every_generation);
    cat_close(cat);
    check_rm_rf(dir);
    free(dir);
    return check_finish();
}
