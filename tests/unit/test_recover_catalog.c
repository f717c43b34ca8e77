/* test_recover_catalog.c: the recoveries table (src/catalog/recoveries.c): insert and read back,
 * tenant scoping, list filters and order, the queue (lease in id order, nothing twice), progress
 * with the cancel answer, cancel of queued / running / finished recoveries, finish appending
 * messages, restart recovery (Running ones of another owner fail), download archive bookkeeping,
 * and that everything survives reopening the catalog. */
#include "check.h"
#include "e2e/pgtest.h"
#include "catalog/cat_recovery.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cat *cat;
static char *dir;
static char path[512];

static int add(const char *tenant, int64_t seq, const char *kind, const char *action, int64_t start)
{
    char id[64], name[64];
    json_t *req = json_pack("{s:s,s:[s]}", "snapshotId", "ab", "paths", "/etc");
    json_t *doc = json_pack("{s:s}", "recoveryAction", action);
    struct cat_recovery_new n = { .tenant = tenant, .id = id, .seq = seq, .name = name, .kind = kind,
                                  .snapshot_environment = "kPhysical", .recovery_action = action,
                                  .snapshot_id = "ab", .object_id = 7, .start_usecs = start,
                                  .request = req, .doc = doc };
    int rc;
    snprintf(id, sizeof id, "1:2:%lld", (long long)seq);
    snprintf(name, sizeof name, "rec-%lld", (long long)seq);
    rc = cat_recovery_insert(cat, &n);
    json_decref(req);
    json_decref(doc);
    return rc;
}

struct ids { char v[16][32]; int n; };
static int collect(void *ud, const struct cat_recovery *r)
{
    struct ids *c = ud;
    if (c->n < 16) snprintf(c->v[c->n++], sizeof c->v[0], "%s", r->id);
    return 0;
}

TEST(setup)
{
    char err[256];
    dir = check_tmpdir("recovercat");
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    CHECKF(cat_open(pgtest_cat(path), &cat, err, sizeof err) == 0, "%s", err);
    CHECK(cat_schema_version(cat) >= 5);
}

TEST(insert_get_scoped)
{
    struct cat_recovery r;
    CHECK_EQ_INT(add("t1", 1, "restore", "RecoverFiles", 1000), 0);
    CHECK_EQ_INT(add("t1", 2, "download", "DownloadFilesAndFolders", 2000), 0);
    CHECK_EQ_INT(add("t2", 3, "restore", "RecoverFiles", 3000), 0);
    CHECK_EQ_INT(add("t1", 1, "restore", "RecoverFiles", 1000), CAT_CONFLICT);
    CHECK_EQ_INT(cat_recovery_get(cat, "t1", "1:2:1", &r), 0);
    CHECK(strcmp(r.status, "Accepted") == 0);
    CHECK(strcmp(r.kind, "restore") == 0);
    CHECK_EQ_INT(r.start_usecs, 1000);
    CHECK_EQ_INT(r.end_usecs, 0);
    CHECK_EQ_INT(r.archive_bytes, -1);
    CHECK(strcmp(json_string_value(json_object_get(r.request, "snapshotId")), "ab") == 0);
    CHECK(json_array_size(r.messages) == 0);
    cat_recovery_release(&r);
    CHECK_EQ_INT(cat_recovery_get(cat, "t2", "1:2:1", &r), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_recovery_get(cat, "t1", "1:2:3", &r), CAT_NOT_FOUND);
}

TEST(list_filters)
{
    struct cat_recovery_filter f = { 0 };
    struct ids c = { .n = 0 };
    CHECK_EQ_INT(cat_recovery_list(cat, "t1", &f, collect, &c), 0);
    CHECK_EQ_INT(c.n, 2);
    CHECK(strcmp(c.v[0], "1:2:2") == 0 && strcmp(c.v[1], "1:2:1") == 0); /* newest first */
    c.n = 0;
    f.actions = json_pack("[s]", "DownloadFilesAndFolders");
    CHECK_EQ_INT(cat_recovery_list(cat, "t1", &f, collect, &c), 0);
    json_decref(f.actions);
    f.actions = NULL;
    CHECK_EQ_INT(c.n, 1);
    CHECK(strcmp(c.v[0], "1:2:2") == 0);
    c.n = 0;
    f.start_from = 1500;
    f.start_to = 2500;
    CHECK_EQ_INT(cat_recovery_list(cat, "t1", &f, collect, &c), 0);
    CHECK_EQ_INT(c.n, 1);
    c.n = 0;
    f.start_from = f.start_to = 0;
    f.ids = json_pack("[s,s]", "1:2:1", "1:2:3");
    CHECK_EQ_INT(cat_recovery_list(cat, "t1", &f, collect, &c), 0);
    json_decref(f.ids);
    f.ids = NULL;
    CHECK_EQ_INT(c.n, 1); /* 1:2:3 is t2's */
    c.n = 0;
    f.statuses = json_pack("[s]", "Running");
    CHECK_EQ_INT(cat_recovery_list(cat, "t1", &f, collect, &c), 0);
    json_decref(f.statuses);
    CHECK_EQ_INT(c.n, 0);
}

TEST(queue_progress_finish)
{
    struct cat_recovery r, r2;
    struct cat_recovery_stats s = { .files = 3, .dirs = 1, .bytes = 300 };
    json_t *msgs, *fe;
    int cancel = -1;
    CHECK_EQ_INT(cat_recovery_lease_next(cat, "w1", INT64_MAX, &r), 0);
    CHECK(strcmp(r.id, "1:2:1") == 0);
    CHECK(strcmp(r.status, "Running") == 0);
    CHECK(r.lease_owner && strcmp(r.lease_owner, "w1") == 0);
    CHECK_EQ_INT(cat_recovery_lease_next(cat, "w1", INT64_MAX, &r2), 0);
    CHECK(strcmp(r2.id, "1:2:2") == 0);
    cat_recovery_release(&r2);
    CHECK_EQ_INT(cat_recovery_lease_next(cat, "w1", INT64_MAX, &r2), 0);
    CHECK(strcmp(r2.id, "1:2:3") == 0 && strcmp(r2.tenant, "t2") == 0);
    cat_recovery_release(&r2);
    CHECK_EQ_INT(cat_recovery_lease_next(cat, "w1", INT64_MAX, &r2), CAT_NOT_FOUND);

    CHECK_EQ_INT(cat_recovery_progress(cat, "t1", "1:2:1", "w1", &s, &cancel), 0);
    CHECK_EQ_INT(cancel, 0);
    CHECK_EQ_INT(cat_recovery_progress(cat, "t1", "1:2:1", "other", &s, &cancel), CAT_NOT_FOUND);
    msgs = json_pack("[s]", "failed to restore /etc/x: damaged");
    s.errors = 1;
    fe = json_pack("[{s:s,s:s}]", "path", "/etc/x", "message", "damaged");
    CHECK_EQ_INT(cat_recovery_finish(cat, "t1", "1:2:1", "SucceededWithWarning", msgs, fe, &s, -1, 9000), 0);
    json_decref(msgs);
    json_decref(fe);
    cat_recovery_release(&r);
    CHECK_EQ_INT(cat_recovery_get(cat, "t1", "1:2:1", &r), 0);
    CHECK(strcmp(r.status, "SucceededWithWarning") == 0);
    CHECK_EQ_INT(r.end_usecs, 9000);
    CHECK_EQ_INT(r.files, 3);
    CHECK_EQ_INT(r.bytes, 300);
    CHECK_EQ_INT(r.errors, 1);
    CHECK(r.lease_owner == NULL);
    CHECK(json_array_size(r.messages) == 1);
    CHECK(json_array_size(r.file_errors) == 1);
    cat_recovery_release(&r);
    /* finished: no progress, no cancel */
    CHECK_EQ_INT(cat_recovery_progress(cat, "t1", "1:2:1", "w1", &s, &cancel), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_recovery_cancel(cat, "t1", "1:2:1", 9500, NULL), CAT_CONFLICT);
}

TEST(cancel)
{
    struct cat_recovery r;
    struct cat_recovery_stats s = { 0 };
    int was = -1, cancel = 0;
    /* running -> Canceling, the worker hears it */
    CHECK_EQ_INT(cat_recovery_cancel(cat, "t1", "1:2:2", 9600, &was), 0);
    CHECK_EQ_INT(was, 1);
    CHECK_EQ_INT(cat_recovery_progress(cat, "t1", "1:2:2", "w1", &s, &cancel), 0);
    CHECK_EQ_INT(cancel, 1);
    CHECK_EQ_INT(cat_recovery_get(cat, "t1", "1:2:2", &r), 0);
    CHECK(strcmp(r.status, "Canceling") == 0);
    cat_recovery_release(&r);
    CHECK_EQ_INT(cat_recovery_cancel(cat, "t1", "1:2:2", 9600, &was), 0); /* again: fine */
    CHECK_EQ_INT(cat_recovery_finish(cat, "t1", "1:2:2", "Canceled", NULL, NULL, &s, -1, 9700), 0);
    /* queued -> Canceled at once, never leased */
    CHECK_EQ_INT(add("t1", 4, "restore", "RecoverFiles", 4000), 0);
    CHECK_EQ_INT(cat_recovery_cancel(cat, "t1", "1:2:4", 9800, &was), 0);
    CHECK_EQ_INT(was, 0);
    CHECK_EQ_INT(cat_recovery_get(cat, "t1", "1:2:4", &r), 0);
    CHECK(strcmp(r.status, "Canceled") == 0);
    CHECK_EQ_INT(r.end_usecs, 9800);
    cat_recovery_release(&r);
    CHECK_EQ_INT(cat_recovery_lease_next(cat, "w1", INT64_MAX, &r), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_recovery_cancel(cat, "t2", "1:2:4", 9800, &was), CAT_NOT_FOUND);
}

TEST(restart_fails_running)
{
    struct cat_recovery r;
    int n = -1;
    /* 1:2:3 (t2) is still Running under w1; a new daemon (owner w2) fails it */
    CHECK_EQ_INT(add("t1", 5, "restore", "RecoverFiles", 5000), 0);
    CHECK_EQ_INT(cat_recovery_lease_next(cat, "w2", INT64_MAX, &r), 0);
    CHECK(strcmp(r.id, "1:2:5") == 0);
    cat_recovery_release(&r);
    CHECK_EQ_INT(cat_recovery_fail_running(cat, "w2", 0, "interrupted by daemon restart", 10000, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(cat_recovery_get(cat, "t2", "1:2:3", &r), 0);
    CHECK(strcmp(r.status, "Failed") == 0);
    CHECK_EQ_INT(r.end_usecs, 10000);
    CHECK(json_array_size(r.messages) == 1);
    CHECK(strcmp(json_string_value(json_array_get(r.messages, 0)), "interrupted by daemon restart") == 0);
    cat_recovery_release(&r);
    CHECK_EQ_INT(cat_recovery_get(cat, "t1", "1:2:5", &r), 0);
    CHECK(strcmp(r.status, "Running") == 0); /* w2's own */
    cat_recovery_release(&r);
    CHECK_EQ_INT(cat_recovery_fail_running(cat, NULL, 0, "interrupted by daemon restart", 10001, &n), 0);
    CHECK_EQ_INT(n, 1);
}

static int count_cb(void *ud, const struct cat_recovery *r)
{
    (void)r;
    (*(int *)ud)++;
    return 0;
}

TEST(download_archives)
{
    struct cat_recovery r;
    struct cat_recovery_stats s = { .bytes = 10240 };
    int n = 0;
    CHECK_EQ_INT(add("t1", 6, "download", "DownloadFilesAndFolders", 6000), 0);
    CHECK_EQ_INT(cat_recovery_lease_next(cat, "w3", INT64_MAX, &r), 0);
    cat_recovery_release(&r);
    CHECK_EQ_INT(cat_recovery_finish(cat, "t1", "1:2:6", "Succeeded", NULL, NULL, &s, 10240, 20000), 0);
    CHECK_EQ_INT(cat_recovery_downloads_before(cat, 20000, count_cb, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(cat_recovery_downloads_before(cat, 20001, count_cb, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(cat_recovery_archive_gone(cat, "t1", "1:2:6", "archive expired"), 0);
    n = 0;
    CHECK_EQ_INT(cat_recovery_downloads_before(cat, 99999, count_cb, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(cat_recovery_get(cat, "t1", "1:2:6", &r), 0);
    CHECK_EQ_INT(r.archive_bytes, -1);
    CHECK(json_array_size(r.messages) == 1);
    cat_recovery_release(&r);
}

TEST(reopen)
{
    char err[256];
    struct cat_recovery r;
    cat_close(cat);
    CHECKF(cat_open(pgtest_cat(path), &cat, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(cat_recovery_get(cat, "t1", "1:2:1", &r), 0);
    CHECK(strcmp(r.status, "SucceededWithWarning") == 0);
    cat_recovery_release(&r);
}

/* teardown: not a test (it is not counted as one); a failure here counts as a failure outside a RUN. */
static void teardown(void)
{
    cat_close(cat);
    check_rm_rf(dir);
    free(dir);
}

int main(void)
{
    RUN(setup);
    RUN(insert_get_scoped);
    RUN(list_filters);
    RUN(queue_progress_finish);
    RUN(cancel);
    RUN(restart_fails_running);
    RUN(download_archives);
    RUN(reopen);
    teardown();
    return check_finish();
}
