/* test_repo_refresh.c: two handles on one repository, standing for two nodes (src/repo/refresh.c):
 *
 * - a handle does not see what the other wrote until repo_index_refresh, which loads exactly the new
 *   index files (a second refresh loads none), and the other's snapshot then restores byte for byte;
 * - a shared handle (repo_set_shared) that misses a blob refreshes by itself and the read succeeds;
 * - after a prune by the other handle (which repacks and deletes packs), a refresh learns which packs
 *   are gone; a backup on the refreshed handle of the data only the forgotten snapshot held stores it
 *   again instead of deduplicating against a deleted pack: a fresh open verifies clean (every blob read)
 *   and every kept snapshot restores byte for byte;
 * - a verify on a shared handle first loads what the other indexed since: the other's newest
 *   snapshot is not reported hurt (its trees "not in the index") for want of a refresh. */
#include "check.h"
#include "repofix.h"
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

/* copy_tree: cp -a a b. */
static int copy_tree(const char *a, const char *b)
{
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", a, b);
    return system(cmd) == 0 ? 0 : -1;
}

TEST(refresh_loads_what_the_other_wrote)
{
    char path[700], copy[700];
    struct repo_refresh_report rep;
    for (int f = 0; f < 6; f++) {
        snprintf(path, sizeof path, "%s/f%d", g_src, f);
        CHECK(repofix_write_seeded(path, 200000 + (size_t)f * 7000, (uint64_t)f + 1) == 0);
    }
    snprintf(copy, sizeof copy, "%s/copy1", g_tmp);
    CHECK(copy_tree(g_src, copy) == 0);
    CHECK(repofix_backup(A, g_src, NULL, 0, NULL, s1) == 0);
    CHECK(repofix_restore_equal(B, s1, g_src, copy, g_tmp) == -1); /* B does not know A's packs yet */
    CHECK_EQ_INT(repo_index_refresh(B, &rep), 0);
    CHECKF(rep.files_new >= 1 && rep.packs_added >= 1 && !rep.full && rep.files_gone == 0,
           "new %u packs %u full %d gone %u", rep.files_new, rep.packs_added, rep.full, rep.files_gone);
    CHECK_EQ_INT(repofix_restore_equal(B, s1, g_src, copy, g_tmp), 0);
    CHECK_EQ_INT(repo_index_refresh(B, &rep), 0);
    CHECK_EQ_INT(rep.files_new, 0); /* nothing new: only the listing */
    CHECK_EQ_INT(rep.packs_added, 0);
}

TEST(a_shared_handle_refreshes_on_a_miss)
{
    char path[700], copy[700];
    for (int f = 0; f < 3; f++) { /* half the files change */
        snprintf(path, sizeof path, "%s/f%d", g_src, f);
        CHECK(repofix_write_seeded(path, 150000, (uint64_t)f + 100) == 0);
    }
    snprintf(copy, sizeof copy, "%s/copy2", g_tmp);
    CHECK(copy_tree(g_src, copy) == 0);
    CHECK(repofix_backup(A, g_src, NULL, 0, NULL, s2) == 0);
    repo_set_shared(B, 1);
    CHECK_EQ_INT(repofix_restore_equal(B, s2, g_src, copy, g_tmp), 0);
}

TEST(a_prune_elsewhere_retires_its_packs_here)
{
    struct repo_prune_opts o = { .repack_pct = 1, .forget = (const char *const[]){ s1 }, .n_forget = 1 };
    struct repo_prune_report pr;
    struct repo_refresh_report rep;
    struct repo *C = NULL;
    char err[512] = "", copy1[700], copy2[700], again[700];
    CHECKF(repo_prune(A, &o, &pr, err, sizeof err) == 0, "prune: %s", err);
    CHECKF(pr.packs_deleted + pr.packs_repacked >= 1, "the prune removed no pack");
    CHECK_EQ_INT(repo_index_refresh(B, &rep), 0);
    CHECKF(rep.full && rep.files_gone >= 1 && rep.packs_gone >= 1, "full %d gone files %u packs %u", rep.full,
           rep.files_gone, rep.packs_gone);
    /* B backs up what only the forgotten snapshot held: it must store it again */
    snprintf(copy1, sizeof copy1, "%s/copy1", g_tmp);
    snprintf(again, sizeof again, "%s/again", g_tmp);
    CHECK(copy_tree(copy1, again) == 0);
    CHECK(repofix_backup(B, again, NULL, 0, NULL, s3) == 0);
    CHECK_EQ_INT(repofix_restore_equal(B, s2, g_src, (snprintf(copy2, sizeof copy2, "%s/copy2", g_tmp), copy2), g_tmp), 0);
    repo_close(B);
    B = NULL;
    CHECKF(repo_open(g_dir, g_key, &C, err, sizeof err) == 0, "%s", err);
    if (!repofix_verify_clean(C, 1)) {
        repo_close(C);
        CHECKF(0, "verify is not clean after the prune elsewhere");
    }
    CHECK_EQ_INT(repofix_restore_equal(C, s2, g_src, copy2, g_tmp), 0);
    CHECK_EQ_INT(repofix_restore_equal(C, s3, again, copy1, g_tmp), 0);
    repo_close(C);
}

TEST(a_verify_on_a_shared_handle_sees_the_others_newest_snapshot)
{
    struct repo *D = NULL;
    char err[512] = "", path[700], s4[REPO_ID_HEX_LEN + 1];
    CHECKF(repo_open(g_dir, g_key, &D, err, sizeof err) == 0, "%s", err);
    if (!D) return;
    repo_set_shared(D, 1);
    snprintf(path, sizeof path, "%s/f%d", g_src, 5); /* new content, written by A after D opened */
    CHECK(repofix_write_seeded(path, 180000, 4242) == 0);
    CHECK(repofix_backup(A, g_src, NULL, 0, NULL, s4) == 0);
    CHECKF(repofix_verify_clean(D, 0), "a verify on the shared handle reported A's new snapshot hurt");
    repo_close(D);
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
    RUN(a_verify_on_a_shared_handle_sees_the_others_newest_snapshot);
    repo_close(A);
    repo_close(B);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
