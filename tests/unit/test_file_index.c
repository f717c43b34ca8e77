/* test_file_index.c: the file index (src/catalog/file_index.c): which snapshots the indexer is given
 * (live kPhysical ones, leftovers of an interrupted daemon, not SQL or deleted ones), indexing status,
 * substring search on names (case-insensitive) and paths through the trigram index, filters (type,
 * object, group), pagination, versions (newest first, with group and policy names; a file deleted
 * since is still found with the snapshot that has it), idempotent re-indexing, tenant scoping, and
 * the purge of a deleted snapshot's versions and of the paths nothing holds any more. */
#include "check.h"
#include "e2e/pgtest.h"
#include "catalog/cat_file_index.h"
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include "catalog/cat_snapshot.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cat *cat;
static char *dir;

static int add_snapshot(const char *tenant, const char *id, int64_t object_id, const char *env, const char *group,
                        int64_t usecs)
{
    struct cat_snapshot s = { .tenant = (char *)tenant, .id = (char *)id, .object_id = object_id,
                              .object_name = "host", .source_id = object_id, .environment = (char *)env,
                              .group_id = (char *)group, .group_name = (char *)"Group One", .group_seq = 1,
                              .run_usecs = usecs, .instance_id = usecs, .run_type = (char *)"kRegular",
                              .snapshot_usecs = usecs, .end_usecs = usecs + 10, .status = (char *)"kSuccessful" };
    return cat_snapshot_insert(cat, &s);
}

static int index_snapshot(const char *tenant, const char *snap, int64_t object_id, const struct cat_fidx_entry *e,
                          size_t n)
{
    int64_t no = 0;
    int rc = cat_fidx_begin(cat, tenant, snap, object_id, 100, &no);
    if (rc) return rc;
    if ((rc = cat_begin(cat)) != 0) return rc;
    for (size_t i = 0; i < n && !rc; i++) rc = cat_fidx_add(cat, tenant, object_id, no, &e[i]);
    if (rc) {
        cat_rollback(cat);
        return rc;
    }
    if ((rc = cat_commit(cat)) != 0) return rc;
    return cat_fidx_finish(cat, no, "Done", NULL, (int64_t)n, 200);
}

struct hits { char path[16][128]; int64_t id[16]; int type[16]; int n; int stop_at; };
static int on_hit(void *ud, const struct cat_fidx_hit *h)
{
    struct hits *c = ud;
    if (c->n < 16) {
        snprintf(c->path[c->n], sizeof c->path[0], "%s", h->path);
        c->id[c->n] = h->path_id;
        c->type[c->n] = h->type;
        c->n++;
    }
    return c->stop_at && c->n >= c->stop_at ? 1 : 0;
}

static int has(const struct hits *c, const char *p)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->path[i], p) == 0) return 1;
    return 0;
}

static int64_t id_of(const struct hits *c, const char *p)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->path[i], p) == 0) return c->id[i];
    return 0;
}

struct vers { char snap[8][80]; int64_t size[8]; char policy[8][64]; char group[8][64]; int n; };
static int on_version(void *ud, const struct cat_fidx_version *v)
{
    struct vers *c = ud;
    if (c->n < 8) {
        snprintf(c->snap[c->n], sizeof c->snap[0], "%s", v->snapshot_id);
        snprintf(c->policy[c->n], sizeof c->policy[0], "%s", v->policy_name ? v->policy_name : "");
        snprintf(c->group[c->n], sizeof c->group[0], "%s", v->group_name ? v->group_name : "");
        c->size[c->n] = v->size;
        c->n++;
    }
    return 0;
}

static int search(const char *tenant, const char *like, int on_path, unsigned mask, struct hits *out)
{
    struct cat_fidx_query q = { .like = like, .on_path = on_path, .type_mask = mask };
    memset(out, 0, sizeof *out);
    return cat_fidx_search(cat, tenant, &q, on_hit, out);
}

TEST(setup)
{
    char err[256], path[512];
    struct cat_group_write w = { .tenant = "t1", .id = "1:1:2", .seq = 2, .name = "Group One",
                                 .policy_id = "1:1:1", .environment = "kPhysical", .is_active = 1,
                                 .doc = "{}", .mtime_usecs = 1 };
    dir = check_tmpdir("fidx");
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    CHECKF(cat_open(pgtest_cat(path), &cat, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(cat_policy_insert(cat, "t1", "1:1:1", 1, "Daily", "{}", 1), 0);
    CHECK_EQ_INT(cat_begin(cat), 0);
    CHECK_EQ_INT(cat_group_insert(cat, &w), 0);
    CHECK_EQ_INT(cat_commit(cat), 0);
}

TEST(next_picks_live_file_snapshots)
{
    struct cat_fidx_job j;
    CHECK_EQ_INT(cat_fidx_next(cat, &j), CAT_NOT_FOUND);
    CHECK_EQ_INT(add_snapshot("t1", "s2", 10, "kPhysical", "1:1:2", 2000), 0);
    CHECK_EQ_INT(add_snapshot("t1", "s1", 10, "kPhysical", "1:1:2", 1000), 0);
    CHECK_EQ_INT(add_snapshot("t1", "sql", 11, "kSQL", "1:1:2", 500), 0);
    CHECK_EQ_INT(add_snapshot("t1", "gone", 10, "kPhysical", "1:1:2", 400), 0);
    CHECK_EQ_INT(cat_snapshot_mark_deleted(cat, "t1", "gone"), 0);
    CHECK_EQ_INT(cat_fidx_next(cat, &j), 0);
    CHECK(strcmp(j.snapshot_id, "s1") == 0); /* oldest live file snapshot */
    CHECK_EQ_INT(j.object_id, 10);
    CHECK_EQ_INT(j.resumed, 0);
    cat_fidx_job_release(&j);
    CHECK(strcmp(cat_fidx_status(cat, "t1", "s1"), "InProgress") == 0); /* waiting */
    CHECK(strcmp(cat_fidx_status(cat, "t1", "sql"), "NoIndex") == 0);
    CHECK(strcmp(cat_fidx_status(cat, "t1", "gone"), "NoIndex") == 0);
    CHECK(cat_fidx_status(cat, "t2", "s1") == NULL);
}

TEST(index_two_snapshots)
{
    static const struct cat_fidx_entry s1[] = {
        { "/home", CAT_FIDX_DIR, 0, 1 },
        { "/home/a", CAT_FIDX_DIR, 0, 1 },
        { "/home/a/report.txt", CAT_FIDX_FILE, 100, 5 },
        { "/home/a/photo.jpg", CAT_FIDX_FILE, 2000, 6 },
        { "/home/a/link", CAT_FIDX_SYMLINK, 0, 7 },
        { "/etc", CAT_FIDX_DIR, 0, 1 },
        { "/etc/passwd", CAT_FIDX_FILE, 30, 8 },
    };
    static const struct cat_fidx_entry s2[] = {
        { "/home", CAT_FIDX_DIR, 0, 1 },
        { "/home/a", CAT_FIDX_DIR, 0, 1 },
        { "/home/a/report.txt", CAT_FIDX_FILE, 150, 9 },
        { "/home/a/link", CAT_FIDX_SYMLINK, 0, 7 },
        { "/home/b", CAT_FIDX_DIR, 0, 1 },
        { "/home/b/Report-2.TXT", CAT_FIDX_FILE, 10, 9 },
        { "/etc", CAT_FIDX_DIR, 0, 1 },
        { "/etc/passwd", CAT_FIDX_FILE, 30, 8 },
    };
    struct cat_fidx_job j;
    int64_t paths = 0, versions = 0;
    CHECK_EQ_INT(index_snapshot("t1", "s1", 10, s1, sizeof s1 / sizeof s1[0]), 0);
    CHECK(strcmp(cat_fidx_status(cat, "t1", "s1"), "Done") == 0);
    CHECK_EQ_INT(cat_fidx_next(cat, &j), 0);
    CHECK(strcmp(j.snapshot_id, "s2") == 0);
    cat_fidx_job_release(&j);
    CHECK_EQ_INT(index_snapshot("t1", "s2", 10, s2, sizeof s2 / sizeof s2[0]), 0);
    CHECK_EQ_INT(cat_fidx_next(cat, &j), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_fidx_count(cat, "t1", &paths, &versions), 0);
    CHECK_EQ_INT(paths, 9);
    CHECK_EQ_INT(versions, 15);
    /* indexing s2 again (a resumed run) changes nothing */
    CHECK_EQ_INT(index_snapshot("t1", "s2", 10, s2, sizeof s2 / sizeof s2[0]), 0);
    CHECK_EQ_INT(cat_fidx_count(cat, "t1", &paths, &versions), 0);
    CHECK_EQ_INT(paths, 9);
    CHECK_EQ_INT(versions, 15);
}

TEST(search_names_and_paths)
{
    struct hits h;
    struct vers v = { .n = 0 };
    CHECK_EQ_INT(search("t1", "%report%", 0, 0, &h), 0);
    CHECK_EQ_INT(h.n, 2);
    CHECK(has(&h, "/home/a/report.txt") && has(&h, "/home/b/Report-2.TXT")); /* case-insensitive */
    CHECK_EQ_INT(search("t1", "%photo%", 0, 0, &h), 0);
    CHECK_EQ_INT(h.n, 1); /* deleted since s1, still found */
    CHECK_EQ_INT(cat_fidx_versions(cat, "t1", h.id[0], on_version, &v), 0);
    CHECK_EQ_INT(v.n, 1);
    CHECK(strcmp(v.snap[0], "s1") == 0);
    CHECK_EQ_INT(search("t1", "%report%", 0, 0, &h), 0);
    memset(&v, 0, sizeof v);
    CHECK_EQ_INT(cat_fidx_versions(cat, "t1", id_of(&h, "/home/a/report.txt"), on_version, &v), 0);
    CHECK_EQ_INT(v.n, 2);
    CHECK(strcmp(v.snap[0], "s2") == 0 && v.size[0] == 150); /* newest first */
    CHECK(strcmp(v.snap[1], "s1") == 0 && v.size[1] == 100);
    CHECK(strcmp(v.policy[0], "Daily") == 0);
    CHECK(strcmp(v.group[0], "Group One") == 0);
    /* prefix and path substring */
    CHECK_EQ_INT(search("t1", "rep%", 0, 0, &h), 0);
    CHECK_EQ_INT(h.n, 2);
    CHECK_EQ_INT(search("t1", "%/home/a/%", 1, 0, &h), 0);
    CHECK_EQ_INT(h.n, 3);
    /* short pattern (no trigram): still correct */
    CHECK_EQ_INT(search("t1", "%pa%", 0, 0, &h), 0);
    CHECK_EQ_INT(h.n, 1);
    CHECK(has(&h, "/etc/passwd"));
    /* every path */
    CHECK_EQ_INT(search("t1", NULL, 0, 0, &h), 0);
    CHECK_EQ_INT(h.n, 9);
    CHECK_EQ_INT(search("t2", NULL, 0, 0, &h), 0);
    CHECK_EQ_INT(h.n, 0);
    CHECK_EQ_INT(search("t2", "%report%", 0, 0, &h), 0);
    CHECK_EQ_INT(h.n, 0);
}

TEST(filters_and_pages)
{
    struct hits h;
    struct cat_fidx_query q = { .like = "%", .type_mask = 1u << CAT_FIDX_DIR };
    memset(&h, 0, sizeof h);
    CHECK_EQ_INT(cat_fidx_search(cat, "t1", &q, on_hit, &h), 0);
    CHECK_EQ_INT(h.n, 4);
    for (int i = 0; i < h.n; i++) CHECK_EQ_INT(h.type[i], CAT_FIDX_DIR);
    q.type_mask = (1u << CAT_FIDX_SYMLINK) | (1u << CAT_FIDX_FILE);
    memset(&h, 0, sizeof h);
    CHECK_EQ_INT(cat_fidx_search(cat, "t1", &q, on_hit, &h), 0);
    CHECK_EQ_INT(h.n, 5);
    q.type_mask = 0;
    q.object_ids = json_pack("[i]", 11);
    memset(&h, 0, sizeof h);
    CHECK_EQ_INT(cat_fidx_search(cat, "t1", &q, on_hit, &h), 0);
    CHECK_EQ_INT(h.n, 0);
    json_decref(q.object_ids);
    q.object_ids = json_pack("[i,i]", 11, 10);
    memset(&h, 0, sizeof h);
    CHECK_EQ_INT(cat_fidx_search(cat, "t1", &q, on_hit, &h), 0);
    CHECK_EQ_INT(h.n, 9);
    json_decref(q.object_ids);
    q.object_ids = NULL;
    q.group_ids = json_pack("[s]", "1:1:99");
    memset(&h, 0, sizeof h);
    CHECK_EQ_INT(cat_fidx_search(cat, "t1", &q, on_hit, &h), 0);
    CHECK_EQ_INT(h.n, 0);
    json_decref(q.group_ids);
    q.group_ids = json_pack("[s]", "1:1:2");
    memset(&h, 0, sizeof h);
    CHECK_EQ_INT(cat_fidx_search(cat, "t1", &q, on_hit, &h), 0);
    CHECK_EQ_INT(h.n, 9);
    json_decref(q.group_ids);
    q.group_ids = NULL;
    /* pages of 4: ids increase, nothing twice, nothing lost */
    {
        int total = 0;
        int64_t last = 0;
        for (int page = 0; page < 5; page++) {
            memset(&h, 0, sizeof h);
            h.stop_at = 4;
            q.after_id = last;
            CHECK(cat_fidx_search(cat, "t1", &q, on_hit, &h) >= 0);
            for (int i = 0; i < h.n; i++) CHECK(h.id[i] > last && (i == 0 || h.id[i] > h.id[i - 1]));
            total += h.n;
            if (h.n == 0) break;
            last = h.id[h.n - 1];
        }
        CHECK_EQ_INT(total, 9);
    }
}

TEST(purge_deleted_snapshot)
{
    struct hits h;
    struct vers v = { .n = 0 };
    int64_t paths = 0, versions = 0;
    int done = 0, rounds = 0;
    CHECK_EQ_INT(cat_fidx_purge_step(cat, 100, &done), 0);
    CHECK_EQ_INT(done, 0); /* nothing deleted yet */
    CHECK_EQ_INT(cat_snapshot_mark_deleted(cat, "t1", "s1"), 0);
    CHECK(strcmp(cat_fidx_status(cat, "t1", "s1"), "NoIndex") == 0);
    do {
        CHECK_EQ_INT(cat_fidx_purge_step(cat, 3, &done), 0); /* small steps */
        rounds++;
    } while (done > 0 && rounds < 20);
    CHECK(rounds >= 3);
    CHECK_EQ_INT(cat_fidx_count(cat, "t1", &paths, &versions), 0);
    CHECK_EQ_INT(paths, 8);    /* photo.jpg was only in s1 */
    CHECK_EQ_INT(versions, 8);
    CHECK_EQ_INT(search("t1", "%photo%", 0, 0, &h), 0);
    CHECK_EQ_INT(h.n, 0);
    CHECK_EQ_INT(search("t1", "%report.txt%", 0, 0, &h), 0);
    CHECK_EQ_INT(h.n, 1);
    CHECK_EQ_INT(cat_fidx_versions(cat, "t1", h.id[0], on_version, &v), 0);
    CHECK_EQ_INT(v.n, 1);
    CHECK(strcmp(v.snap[0], "s2") == 0);
}

/* teardown: not a test (it is not counted as one); a failure here counts as a failure outside a RUN. */
static void teardown(void)
{
    cat_close(cat);
    check_rm_rf(dir);
    free(dir);
}

/* A search whose matches run past one page of the PostgreSQL driver's paging (1,200 paths) sees every
 * match once, in id order, and stops when the caller says so. */
struct walk_all { int64_t last; int n, out_of_order, stop_at; };
static int on_walk(void *ud, const struct cat_fidx_hit *h)
{
    struct walk_all *w = ud;
    if (h->path_id <= w->last) w->out_of_order++;
    w->last = h->path_id;
    w->n++;
    return w->stop_at && w->n >= w->stop_at;
}

TEST(many_matches_page_through)
{
    enum { N = 2900 };
    struct cat_fidx_entry *e = calloc(N, sizeof *e);
    char (*paths)[48] = calloc(N, sizeof *paths);
    struct cat_fidx_query q = { .like = "%bulkfile%", .on_path = 0 };
    struct walk_all w = { 0 };
    CHECK(e && paths);
    if (!e || !paths) { free(e); free(paths); return; }
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "/bulk/dir%d/bulkfile-%04d.dat", i % 7, i);
        e[i].path = paths[i];
        e[i].type = CAT_FIDX_FILE;
        e[i].size = i;
        e[i].mtime_usecs = 1000 + i;
    }
    CHECK_EQ_INT(add_snapshot("t9", "bulk-snap", 90, "kPhysical", "1:1:2", 9000), 0);
    CHECK_EQ_INT(index_snapshot("t9", "bulk-snap", 90, e, N), 0);
    CHECK_EQ_INT(cat_fidx_search(cat, "t9", &q, on_walk, &w), 0);
    CHECKF(w.n == N && w.out_of_order == 0, "%d matches (%d out of order), want %d", w.n, w.out_of_order, N);
    memset(&w, 0, sizeof w);
    w.stop_at = 1300; /* past the first page, then stop */
    CHECK_EQ_INT(cat_fidx_search(cat, "t9", &q, on_walk, &w), 1);
    CHECK_EQ_INT(w.n, 1300);
    free(e);
    free(paths);
}

int main(void)
{
    RUN(setup);
    RUN(next_picks_live_file_snapshots);
    RUN(index_two_snapshots);
    RUN(search_names_and_paths);
    RUN(filters_and_pages);
    RUN(purge_deleted_snapshot);
    RUN(many_matches_page_through);
    teardown();
    return check_finish();
}
