/* test_svc.c: the service layer (src/svc/svc.c) over a real catalog and a real repository with one
 * backed-up tree: a snapshot deleted through svc_snapshot_delete is flagged in the catalog and gone
 * from the repository, twice is fine, an unknown one is -ENOENT; a run's and a group's snapshots are
 * deleted together (legal hold kept); a recovery's path check tells present, absent and through a
 * file; a download plan follows a hardlink to its file and refuses directories and symlinks. */
#include "check.h"
#include "e2e/pgtest.h"
#include "catalog/cat_snapshot.h"
#include "engine/engine.h"
#include "repo/repo.h"
#include "svc/svc.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;
static char src[512], repo_dir[512], key[512];
static struct repo *repo;
static struct cat *cat;
static char snaps[3][REPO_ID_HEX_LEN + 1];

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ssize_t n;
    if (fd < 0) return -1;
    n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* in_repo: 1 when the repository still lists the snapshot document. */
static int in_repo(const char *id)
{
    json_t *ids = NULL, *v;
    size_t i;
    int found = 0;
    if (repo_snapshot_list(repo, &ids) != 0) return -1;
    json_array_foreach(ids, i, v) found |= strcmp(json_string_value(v), id) == 0;
    json_decref(ids);
    return found;
}

static int add_row(const char *id, const char *group, int64_t run_usecs, int hold)
{
    struct cat_snapshot s = { .tenant = "t1", .id = (char *)id, .object_id = 5, .object_name = "host",
                              .environment = "kPhysical", .group_id = (char *)group, .group_name = "g",
                              .group_seq = 1, .run_usecs = run_usecs, .instance_id = 1, .run_type = "kRegular",
                              .snapshot_usecs = run_usecs, .end_usecs = run_usecs + 1, .status = "kSuccessful",
                              .on_legal_hold = hold };
    int rc = cat_begin(cat);
    if (rc == 0) rc = cat_snapshot_insert(cat, &s);
    if (rc == 0) rc = cat_commit(cat);
    else cat_rollback(cat);
    return rc;
}

static int row_deleted(const char *id)
{
    struct cat_snapshot s;
    int rc = cat_snapshot_get(cat, "t1", id, &s), d;
    if (rc != 0) return -1;
    d = s.is_deleted;
    cat_snapshot_release(&s);
    return d;
}

TEST(setup)
{
    char p[600], err[256] = "";
    const char *incs[1];
    struct eng_backup_opts o = { .n_include = 1, .threads = 2 };
    tmp = check_tmpdir("svc");
    CHECK(tmp != NULL);
    snprintf(src, sizeof src, "%s/src", tmp);
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", tmp);
    snprintf(key, sizeof key, "%s/key", tmp);
    CHECK(mkdir(src, 0755) == 0);
    snprintf(p, sizeof p, "%s/a.txt", src);
    CHECK(write_file(p, "alpha") == 0);
    snprintf(p, sizeof p, "%s/sub", src);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/sub/b.txt", src);
    CHECK(write_file(p, "bravo!") == 0);
    {
        char a[600];
        snprintf(a, sizeof a, "%s/a.txt", src);
        snprintf(p, sizeof p, "%s/hard", src);
        CHECK(link(a, p) == 0);
        snprintf(p, sizeof p, "%s/sym", src);
        CHECK(symlink("a.txt", p) == 0);
    }
    CHECKF(repo_create(repo_dir, key, err, sizeof err) == 0, "%s", err);
    CHECKF(repo_open(repo_dir, key, &repo, err, sizeof err) == 0, "%s", err);
    incs[0] = src;
    o.include_paths = incs;
    for (int i = 0; i < 3; i++) {
        struct eng_backup_result r;
        CHECKF(eng_backup(repo, &o, &r, err, sizeof err) == 0, "%s", err);
        memcpy(snaps[i], r.snapshot_id, sizeof snaps[i]);
        eng_backup_result_release(&r);
    }
    CHECK(strcmp(snaps[0], snaps[1]) != 0 && strcmp(snaps[1], snaps[2]) != 0);
    snprintf(p, sizeof p, "%s/catalog.db", tmp);
    CHECKF(cat_open(pgtest_cat(p), &cat, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(add_row(snaps[0], "1:1:9", 1000, 0), 0);
    CHECK_EQ_INT(add_row(snaps[1], "1:1:8", 2000, 0), 0);
    CHECK_EQ_INT(add_row(snaps[2], "1:1:8", 3000, 1), 0); /* on legal hold */
}

TEST(snapshot_delete_is_the_one_way)
{
    CHECK_EQ_INT(in_repo(snaps[0]), 1);
    CHECK_EQ_INT(row_deleted(snaps[0]), 0);
    CHECK_EQ_INT(svc_snapshot_delete(cat, repo, "t1", snaps[0]), 0);
    CHECK_EQ_INT(row_deleted(snaps[0]), 1);
    CHECK_EQ_INT(in_repo(snaps[0]), 0);
    CHECK_EQ_INT(svc_snapshot_delete(cat, repo, "t1", snaps[0]), 0); /* again: nothing left to do */
    CHECK_EQ_INT(svc_snapshot_delete(cat, repo, "t1", "00ff"), -ENOENT);
    CHECK_EQ_INT(svc_snapshot_delete(cat, repo, "t2", snaps[1]), -ENOENT); /* another tenant's */
    CHECK_EQ_INT(row_deleted(snaps[1]), 0);
    CHECK_EQ_INT(in_repo(snaps[1]), 1);
}

TEST(group_and_run_deletion_keep_legal_holds)
{
    CHECK_EQ_INT(svc_group_snapshots_delete(cat, repo, "t1", "1:1:8"), 1);
    CHECK_EQ_INT(row_deleted(snaps[1]), 1);
    CHECK_EQ_INT(in_repo(snaps[1]), 0);
    CHECK_EQ_INT(row_deleted(snaps[2]), 0); /* legal hold */
    CHECK_EQ_INT(in_repo(snaps[2]), 1);
    /* a run's deletion takes every snapshot of that run (the API checked holds before) */
    CHECK_EQ_INT(svc_run_snapshots_delete(cat, repo, "t1", "1:1:8", 2000), 1); /* already deleted: again */
    CHECK_EQ_INT(row_deleted(snaps[2]), 0);
    CHECK_EQ_INT(svc_run_snapshots_delete(cat, repo, "t1", "1:1:8", 3000), 1);
    CHECK_EQ_INT(row_deleted(snaps[2]), 1);
    CHECK_EQ_INT(in_repo(snaps[2]), 0);
}

TEST(recovery_path_check)
{
    struct tree_entry e;
    char p[600];
    /* snaps[2] is forgotten now; re-back up the tree for the reads */
    const char *incs[] = { src };
    struct eng_backup_opts o = { .include_paths = incs, .n_include = 1, .threads = 2 };
    struct eng_backup_result r;
    char err[256] = "";
    CHECKF(eng_backup(repo, &o, &r, err, sizeof err) == 0, "%s", err);
    memcpy(snaps[0], r.snapshot_id, sizeof snaps[0]);
    eng_backup_result_release(&r);
    snprintf(p, sizeof p, "%s/sub", src);
    CHECK_EQ_INT(svc_recovery_check_path(repo, snaps[0], p, &e), 0);
    CHECK_EQ_INT(e.type, TREE_DIR);
    tree_entry_release(&e);
    snprintf(p, sizeof p, "%s/sub/b.txt", src);
    CHECK_EQ_INT(svc_recovery_check_path(repo, snaps[0], p, &e), 0);
    CHECK_EQ_INT(e.type, TREE_FILE);
    CHECK_EQ_INT(e.size, 6);
    tree_entry_release(&e);
    snprintf(p, sizeof p, "%s/missing", src);
    CHECK_EQ_INT(svc_recovery_check_path(repo, snaps[0], p, &e), -ENOENT);
    snprintf(p, sizeof p, "%s/a.txt/below", src); /* through a file: absent too */
    CHECK_EQ_INT(svc_recovery_check_path(repo, snaps[0], p, &e), -ENOENT);
    CHECK_EQ_INT(svc_recovery_check_path(NULL, snaps[0], p, &e), -EAGAIN);
}

TEST(download_plan_follows_hardlinks_and_refuses_non_files)
{
    struct tree_entry e;
    enum tree_type t = TREE_FILE;
    char p[600];
    int found_link = 0;
    const char *names[] = { "a.txt", "hard" };
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", src, names[i]);
        CHECK_EQ_INT(svc_recovery_check_path(repo, snaps[0], p, &e), 0);
        found_link |= e.hardlink != NULL;
        tree_entry_release(&e);
        CHECK_EQ_INT(svc_download_plan(repo, snaps[0], p, &e, &t), 0);
        CHECK_EQ_INT(e.type, TREE_FILE);
        CHECK(e.hardlink == NULL);
        CHECK_EQ_INT(e.size, 5);
        tree_entry_release(&e);
    }
    CHECK(found_link); /* one of the two names is stored as a link to the other */
    snprintf(p, sizeof p, "%s/sub", src);
    CHECK_EQ_INT(svc_download_plan(repo, snaps[0], p, &e, &t), -EISDIR);
    CHECK_EQ_INT(t, TREE_DIR);
    snprintf(p, sizeof p, "%s/sym", src);
    CHECK_EQ_INT(svc_download_plan(repo, snaps[0], p, &e, &t), -EISDIR);
    CHECK_EQ_INT(t, TREE_SYMLINK);
    snprintf(p, sizeof p, "%s/nope", src);
    CHECK_EQ_INT(svc_download_plan(repo, snaps[0], p, &e, &t), -ENOENT);
}

int main(void)
{
    RUN(setup);
    RUN(snapshot_delete_is_the_one_way);
    RUN(group_and_run_deletion_keep_legal_holds);
    RUN(recovery_path_check);
    RUN(download_plan_follows_hardlinks_and_refuses_non_files);
    if (cat) cat_close(cat);
    if (repo) repo_close(repo);
    if (tmp) {
        check_rm_rf(tmp);
        free(tmp);
    }
    return check_finish();
}
