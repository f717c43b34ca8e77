/* test_repo_refresh.c: two handles on one repository, standing for two nodes (src/repo/refresh.c):
 *
 * - a handle does not see what the other wrote until repo_index_refresh, which loads exactly the new
 *   index files (a second refresh loads none), and the other's snapshot then restores byte for byte;
 * - a shared handle (repo_set_shared) that misses a blob refreshes by itself and the read succeeds;
 * - after a prune by the other handle (which repacks and deletes packs), a refresh learns which packs
 *   are gone; a backup on the refreshed handle of the data only the forgotten snapshot held stores it
 *   again instead of deduplicating against a deleted pack: a fresh open verifies clean (every blob read)
 *   and every kept snapshot restores byte for byte. */
#include "check.h"
#include "engine/engine.h"
#include "repo/repo.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *g_tmp;
static char g_dir[600], g_key[600], g_src[600];
static struct repo *A, *B;
static char s1[REPO_ID_HEX_LEN + 1], s2[REPO_ID_HEX_LEN + 1], s3[REPO_ID_HEX_LEN + 1];

static int write_seeded(const char *path, size_t len, uint64_t seed)
{
    uint8_t *buf = malloc(len ? len : 1);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 7;
    int fd, rc = -1;
    if (!buf) return -1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)(x >> 24);
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        rc = write(fd, buf, len) == (ssize_t)len ? 0 : -1;
        close(fd);
    }
    free(buf);
    return rc;
}

/* copy_tree: cp -a a b. */
static int copy_tree(const char *a, const char *b)
{
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", a, b);
    return system(cmd) == 0 ? 0 : -1;
}

static int backup_dir(struct repo *r, const char *dir, char id[REPO_ID_HEX_LEN + 1])
{
    const char *inc[1] = { dir };
    struct eng_backup_opts o = { .include_paths = inc, .n_include = 1 };
    struct eng_backup_result res;
    char err[512];
    int rc = eng_backup(r, &o, &res, err, sizeof err);
    if (rc == 0) memcpy(id, res.snapshot_id, REPO_ID_HEX_LEN + 1);
    else fprintf(stderr, "backup of %s failed: %s\n", dir, err);
    eng_backup_result_release(&res);
    return rc;
}

/* restore_equal: restores id and compares its copy of dir with expect; 0 if equal, -1 on a failed
 * restore, 1 on a difference. */
static int restore_equal(struct repo *r, const char *id, const char *dir, const char *expect)
{
    char target[700], got[1400], err[512], msg[512];
    struct eng_restore_opts o = { .target_dir = target, .overwrite = 1 };
    struct eng_restore_result res;
    int rc, n = 0;
    snprintf(target, sizeof target, "%s/restore", g_tmp);
    check_rm_rf(target);
    rc = eng_restore(r, id, &o, &res, err, sizeof err);
    eng_restore_result_release(&res);
    if (rc != 0) return -1;
    snprintf(got, sizeof got, "%s%s", target, dir);
    rc = check_trees_equal(expect, got, 0, NULL, NULL, msg, sizeof msg, &n);
    if (rc != 0) fprintf(stderr, "snapshot %.16s differs: %s\n", id, msg);
    check_rm_rf(target);
    return rc == 0 && n > 1 ? 0 : 1;
}

TEST(refresh_loads_what_the_other_wrote)
{
    char path[700], copy[700];
    struct repo_refresh_report rep;
    for (int f = 0; f < 6; f++) {
        snprintf(path, sizeof path, "%s/f%d", g_src, f);
        CHECK(write_seeded(path, 200000 + (size_t)f * 7000, (uint64_t)f + 1) == 0);
    }
    snprintf(copy, sizeof copy, "%s/copy1", g_tmp);
    CHECK(copy_tree(g_src, copy) == 0);
    CHECK(backup_dir(A, g_src, s1) == 0);
    CHECK(restore_equal(B, s1, g_src, copy) == -1); /* B does not know A's packs yet */
    CHECK_EQ_INT(repo_index_refresh(B, &rep), 0);
    CHECKF(rep.files_new >= 1 && rep.packs_added >= 1 && !rep.full && rep.files_gone == 0,
           "new %u packs %u full %d gone %u", rep.files_new, rep.packs_added, rep.full, rep.files_gone);
    CHECK_EQ_INT(restore_equal(B, s1, g_src, copy), 0);
    CHECK_EQ_INT(repo_index_refresh(B, &rep), 0);
    CHECK_EQ_INT(rep.files_new, 0); /* nothing new: only the listing */
    CHECK_EQ_INT(rep.packs_added, 0);
}

TEST(a_shared_handle_refreshes_on_a_miss)
{
    char path[700], copy[700];
    for (int f = 0; f < 3; f++) { /* half the files change */
        snprintf(path, sizeof path, "%s/f%d", g_src, f);
        CHECK(write_seeded(path, 150000, (uint64_t)f + 100) == 0);
    }
    snprintf(copy, sizeof copy, "%s/copy2", g_tmp);
    CHECK(copy_tree(g_src, copy) == 0);
    CHECK(backup_dir(A, g_src, s2) == 0);
    repo_set_shared(B, 1);
    CHECK_EQ_INT(restore_equal(B, s2, g_src, copy), 0);
}

TEST(a_prune_elsewhere_retires_its_packs_here)
{
    struct repo_prune_opts o = { .repack_pct = 1, .forget = (const char *const[]){ s1 }, .n_forget = 1 };
    struct repo_prune_report pr;
    struct repo_refresh_report rep;
    struct repo *C = NULL;
    char err[512] = "", copy1[700], copy2[700], again[700];
    json_t *report = NULL;
    CHECKF(repo_prune(A, &o, &pr, err, sizeof err) == 0, "prune: %s", err);
    CHECKF(pr.packs_deleted + pr.packs_repacked >= 1, "the prune removed no pack");
    CHECK_EQ_INT(repo_index_refresh(B, &rep), 0);
    CHECKF(rep.full && rep.files_gone >= 1 && rep.packs_gone >= 1, "full %d gone files %u packs %u", rep.full,
           rep.files_gone, rep.packs_gone);
    /* B backs up what only the forgotten snapshot held: it must store it again */
    snprintf(copy1, sizeof copy1, "%s/copy1", g_tmp);
    snprintf(again, sizeof again, "%s/again", g_tmp);
    CHECK(copy_tree(copy1, again) == 0);
    CHECK(backup_dir(B, again, s3) == 0);
    CHECK_EQ_INT(restore_equal(B, s2, g_src, (snprintf(copy2, sizeof copy2, "%s/copy2", g_tmp), copy2)), 0);
    repo_close(B);
    B = NULL;
    CHECKF(repo_open(g_dir, g_key, &C, err, sizeof err) == 0, "%s", err);
    {
        int ok = repo_verify(C, 1, &report) == 0 && json_is_true(json_object_get(report, "ok"));
        json_decref(report);
        if (!ok) repo_close(C);
        CHECKF(ok, "verify is not clean after the prune elsewhere");
    }
    CHECK_EQ_INT(restore_equal(C, s2, g_src, copy2), 0);
    CHECK_EQ_INT(restore_equal(C, s3, again, copy1), 0);
    repo_close(C);
}

int main(void)
{
    char err[512] = "";
    g_tmp = check_tmpdir("repo-refresh");
    snprintf(g_dir, sizeof g_dir, "%s/repo", g_tmp);
    snprintf(g_key, sizeof g_key, "%s/repo.key", g_tmp);
    snprintf(g_src, sizeof g_src, "%s/src", g_tmp);
    if (mkdir(g_src, 0755) != 0 || repo_create(g_dir, g_key, err, sizeof err) != 0 ||
        repo_open(g_dir, g_key, &A, err, sizeof err) != 0 || repo_open(g_dir, g_key, &B, err, sizeof err) != 0)
        check_abandon(err[0] ? err : "set-up failed");
    RUN(refresh_loads_what_the_other_wrote);
    RUN(a_shared_handle_refreshes_on_a_miss);
    RUN(a_prune_elsewhere_retires_its_packs_here);
    repo_close(A);
    repo_close(B);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
