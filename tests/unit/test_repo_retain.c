/* test_repo_retain.c: data locks and legal holds kept in the repository (src/repo/retain.c) and the
 * backend's retention (backend.h retain), on real repositories made by the file engine.
 *
 * - backend: a retained object cannot be deleted before its instant (an earlier retention does
 *   not shorten it), can after it (test clock); an absent object cannot be retained;
 * - Compliance: the snapshot cannot be forgotten, not even with the data-security right, nor its
 *   document or lock object deleted through the backend; shortening, weakening to Administrative
 *   and unlocking are refused, extending works (a new generation); the message names the lock
 *   and its end; prune asked to forget it (as if the catalog said so) keeps it and its data (it
 *   restores byte for byte after the prune, verify clean) while the unlocked snapshot beside it
 *   is forgotten and its data reclaimed; reopened (nothing but the repository), the same; after the
 *   lock's end (test clock) it is forgotten and prune reclaims its data;
 * - Administrative: refused without the data-security right, shortened and forgotten with it;
 * - legal hold: keeps a snapshot with no lock, even from the data-security right; lifted (a new
 *   generation), the snapshot is forgotten. */
#include "check.h"
#include "repofix.h"
#include "engine/engine.h"
#include "repo/backend.h"
#include "repo/repo.h"
#include "repo/repo_int.h"
#include "util/time.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOUR (3600LL * 1000000)

static char *g_tmp;

/* make_repo: a repository under name with two trees a (locked later) and b of 4 x 60000 bytes each,
 * one snapshot of each. */
static int make_repo(const char *name, char *repo_dir, char *key, char *a, char *b, struct repo **r,
                     char ida[REPO_ID_HEX_LEN + 1], char idb[REPO_ID_HEX_LEN + 1])
{
    char dir[400], path[700], err[512];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, name);
    snprintf(repo_dir, 500, "%s/repo", dir);
    snprintf(key, 500, "%s/key", dir);
    snprintf(a, 500, "%s/a", dir);
    snprintf(b, 500, "%s/b", dir);
    if (mkdir(dir, 0700) < 0 || mkdir(a, 0700) < 0 || mkdir(b, 0700) < 0) return -1;
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/f%d", a, k);
        if (repofix_write_seeded(path, 60000, 100u + (uint64_t)k) < 0) return -1;
        snprintf(path, sizeof path, "%s/f%d", b, k);
        if (repofix_write_seeded(path, 60000, 200u + (uint64_t)k) < 0) return -1;
    }
    if (repo_create(repo_dir, key, err, sizeof err) != 0 || repo_open(repo_dir, key, r, err, sizeof err) != 0) {
        fprintf(stderr, "repo: %s\n", err);
        return -1;
    }
    repo_set_pack_target(*r, 64 * 1024);
    if (repofix_backup(*r, a, NULL, 1, NULL, ida) != 0 || repofix_backup(*r, b, NULL, 1, NULL, idb) != 0) return -1;
    return repo_flush(*r);
}

TEST(backend_retention)
{
    char dir[400], err[512];
    struct repo_backend *be = NULL;
    int64_t now = util_time_now(), until = 0;
    (void)err;
    snprintf(dir, sizeof dir, "%s/be", g_tmp);
    CHECK(repo_backend_local_new(dir, &be) == 0);
    CHECK(be->ops->create(be) == 0);
    CHECK(be->ops->put(be, REPO_OBJ_RETAIN, "obj", "x", 1) == 0);
    CHECK_EQ_INT(be->ops->retain(be, REPO_OBJ_RETAIN, "absent", now + HOUR, REPO_RETAIN_COMPLIANCE), -ENOENT);
    CHECK(be->ops->retain(be, REPO_OBJ_RETAIN, "obj", now + 2 * HOUR, REPO_RETAIN_COMPLIANCE) == 0);
    CHECK(be->ops->retain(be, REPO_OBJ_RETAIN, "obj", now + HOUR, REPO_RETAIN_COMPLIANCE) == 0); /* recorded; the later one counts */
    CHECK(be->ops->retained_until(be, REPO_OBJ_RETAIN, "obj", &until) == 0);
    CHECK_EQ_INT(until, now + 2 * HOUR);
    CHECK_EQ_INT(be->ops->del(be, REPO_OBJ_RETAIN, "obj"), -EPERM);
    CHECK(util_time_advance(HOUR + HOUR / 2) == 0);
    CHECK_EQ_INT(be->ops->del(be, REPO_OBJ_RETAIN, "obj"), -EPERM); /* the earlier instant passed, not the later */
    CHECK(util_time_advance(HOUR) == 0);
    CHECK_EQ_INT(be->ops->del(be, REPO_OBJ_RETAIN, "obj"), 0);
    repo_backend_destroy(be);
}

TEST(compliance_lock_holds_everywhere)
{
    char repo_dir[500], key[500], a[500], b[500], ida[65], idb[65], msg[512], err[512], when[40];
    struct repo *r = NULL;
    struct repo_retain cur, want;
    struct repo_prune_report rep;
    struct repo_prune_opts o = { 0 };
    const char *forget[2];
    int64_t now, until;
    uint64_t bytes0;
    time_t t;
    struct tm tm;
    CHECK(make_repo("compliance", repo_dir, key, a, b, &r, ida, idb) == 0);
    now = util_time_now();
    until = now + 3 * HOUR;
    want = (struct repo_retain){ .mode = REPO_LOCK_COMPLIANCE, .until_usecs = until };
    CHECKF(repo_retain_set(r, ida, &want, 0, 0, msg, sizeof msg) == 0, "%s", msg);
    CHECK(repo_retain_get(r, ida, &cur) == 0);
    CHECK(cur.mode == REPO_LOCK_COMPLIANCE && cur.until_usecs == until && cur.generation == 1 && !cur.legal_hold);
    t = (time_t)(until / 1000000);
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);

    /* Forgetting: refused, the message names the lock and its end; the data-security right changes nothing. */
    CHECK_EQ_INT(repo_retain_check(r, ida, util_time_now(), 1, msg, sizeof msg), -EPERM);
    CHECKF(strstr(msg, "Compliance") && strstr(msg, when) && strstr(msg, "retain/"), "message: %s", msg);
    CHECK_EQ_INT(repo_snapshot_forget(r, ida), -EPERM);
    CHECK_EQ_INT(repo_snapshot_forget_as(r, ida, 1), -EPERM);
    /* Below the repository: the backend itself refuses (WORM), for the document and the lock. */
    CHECK_EQ_INT(r->be->ops->del(r->be, REPO_OBJ_SNAPSHOT, ida), -EPERM);
    {
        char lname[100];
        snprintf(lname, sizeof lname, "%s-%016x", ida, 1u);
        CHECK_EQ_INT(r->be->ops->del(r->be, REPO_OBJ_RETAIN, lname), -EPERM);
    }
    /* Shorten, weaken, unlock: refused, even with the data-security right. */
    want.until_usecs = until - HOUR;
    CHECK_EQ_INT(repo_retain_set(r, ida, &want, 1, 0, msg, sizeof msg), -EPERM);
    CHECKF(strstr(msg, "never shortened") && strstr(msg, when), "message: %s", msg);
    want = (struct repo_retain){ .mode = REPO_LOCK_ADMINISTRATIVE, .until_usecs = until };
    CHECK_EQ_INT(repo_retain_set(r, ida, &want, 1, 0, msg, sizeof msg), -EPERM);
    want = (struct repo_retain){ .mode = REPO_LOCK_NONE, .until_usecs = until };
    CHECK_EQ_INT(repo_retain_set(r, ida, &want, 0, 0, msg, sizeof msg), -EPERM);
    CHECK(repo_retain_get(r, ida, &cur) == 0 && cur.generation == 1 && cur.until_usecs == until);
    /* Extend: a new generation. */
    until += HOUR;
    want = (struct repo_retain){ .mode = REPO_LOCK_COMPLIANCE, .until_usecs = until };
    CHECKF(repo_retain_set(r, ida, &want, 0, 0, msg, sizeof msg) == 0, "%s", msg);
    CHECK(repo_retain_get(r, ida, &cur) == 0 && cur.generation == 2 && cur.until_usecs == until);

    /* Prune told (by a catalog that deleted both rows) to forget both: the locked one stays, whole. */
    bytes0 = repofix_pack_bytes(r);
    forget[0] = ida;
    forget[1] = idb;
    o.forget = forget;
    o.n_forget = 2;
    CHECKF(repo_prune(r, &o, &rep, err, sizeof err) == 0, "prune: %s", err);
    CHECK_EQ_INT(rep.snapshots_locked, 1);
    CHECK_EQ_INT(rep.snapshots_forgotten, 1);
    CHECK_EQ_INT(rep.snapshots, 1);
    CHECKF(bytes0 - repofix_pack_bytes(r) >= 4 * 60000, "freed %llu", (unsigned long long)(bytes0 - repofix_pack_bytes(r)));
    CHECK(repofix_restore_equal(r, ida, a, a, g_tmp) == 0);
    CHECK(repofix_verify_clean(r, 1));
    repo_close(r);
    r = NULL;

    /* Reopened (the repository alone, no catalog): the lock is there and holds against prune. */
    CHECK(repo_open(repo_dir, key, &r, err, sizeof err) == 0);
    CHECK(repo_retain_get(r, ida, &cur) == 0 && cur.mode == REPO_LOCK_COMPLIANCE && cur.until_usecs == until);
    o.n_forget = 1;
    CHECKF(repo_prune(r, &o, &rep, err, sizeof err) == 0, "prune: %s", err);
    CHECK_EQ_INT(rep.snapshots_locked, 1);
    CHECK(repofix_restore_equal(r, ida, a, a, g_tmp) == 0);

    /* After its end (test clock): forgotten, and prune reclaims its data. */
    CHECK(util_time_advance(5 * HOUR) == 0);
    CHECK_EQ_INT(repo_retain_check(r, ida, util_time_now(), 0, msg, sizeof msg), 0);
    bytes0 = repofix_pack_bytes(r);
    CHECKF(repo_prune(r, &o, &rep, err, sizeof err) == 0, "prune: %s", err);
    CHECK_EQ_INT(rep.snapshots_locked, 0);
    CHECK_EQ_INT(rep.snapshots_forgotten, 1);
    CHECK_EQ_INT(rep.snapshots, 0);
    CHECKF(bytes0 - repofix_pack_bytes(r) >= 4 * 60000, "freed %llu", (unsigned long long)(bytes0 - repofix_pack_bytes(r)));
    repo_close(r);
}

TEST(administrative_lock_yields_to_the_data_security_right)
{
    char repo_dir[500], key[500], a[500], b[500], ida[65], idb[65], msg[512];
    struct repo *r = NULL;
    struct repo_retain want, cur;
    int64_t until;
    CHECK(make_repo("admin", repo_dir, key, a, b, &r, ida, idb) == 0);
    until = util_time_now() + 2 * HOUR;
    want = (struct repo_retain){ .mode = REPO_LOCK_ADMINISTRATIVE, .until_usecs = until };
    CHECK(repo_retain_set(r, ida, &want, 0, 0, msg, sizeof msg) == 0);
    CHECK_EQ_INT(repo_snapshot_forget(r, ida), -EACCES);
    CHECK_EQ_INT(repo_retain_check(r, ida, util_time_now(), 0, msg, sizeof msg), -EACCES);
    CHECKF(strstr(msg, "Administrative") && strstr(msg, "data-security"), "message: %s", msg);
    /* not WORM below: an Administrative lock is not retained by the backend */
    want.until_usecs = until - HOUR;
    CHECK_EQ_INT(repo_retain_set(r, ida, &want, 0, 0, msg, sizeof msg), -EACCES);
    CHECK_EQ_INT(repo_retain_set(r, ida, &want, 1, 1, msg, sizeof msg), 0); /* dry run: allowed, not written */
    CHECK(repo_retain_get(r, ida, &cur) == 0 && cur.generation == 1);
    CHECK_EQ_INT(repo_retain_set(r, ida, &want, 1, 0, msg, sizeof msg), 0);
    CHECK(repo_retain_get(r, ida, &cur) == 0 && cur.generation == 2 && cur.until_usecs == until - HOUR);
    CHECK_EQ_INT(repo_snapshot_forget_as(r, ida, 1), 0);
    CHECK_EQ_INT(repo_snapshot_forget(r, idb), 0); /* unlocked */
    repo_close(r);
}

TEST(legal_hold_keeps_until_lifted)
{
    char repo_dir[500], key[500], a[500], b[500], ida[65], idb[65], msg[512];
    struct repo *r = NULL;
    struct repo_retain want = { .mode = REPO_LOCK_NONE, .until_usecs = REPO_RETAIN_FOREVER, .legal_hold = 1 };
    CHECK(make_repo("hold", repo_dir, key, a, b, &r, ida, idb) == 0);
    CHECK(repo_retain_set(r, ida, &want, 0, 0, msg, sizeof msg) == 0);
    CHECK_EQ_INT(repo_snapshot_forget_as(r, ida, 1), -EBUSY);
    CHECK_EQ_INT(repo_retain_check(r, ida, util_time_now(), 1, msg, sizeof msg), -EBUSY);
    CHECKF(strstr(msg, "legal hold"), "message: %s", msg);
    want.legal_hold = 0;
    CHECK(repo_retain_set(r, ida, &want, 0, 0, msg, sizeof msg) == 0);
    CHECK_EQ_INT(repo_snapshot_forget(r, ida), 0);
    repo_close(r);
}

int main(void)
{
    g_tmp = check_tmpdir("retain");
    util_time_enable_test(1);
    RUN(backend_retention);
    RUN(compliance_lock_holds_everywhere);
    RUN(administrative_lock_yields_to_the_data_security_right);
    RUN(legal_hold_keeps_until_lifted);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
