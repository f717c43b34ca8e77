/* test_repo_backend.c: the contract of the local storage backend (src/repo/backend.h) on a real
 * directory: put-if-absent never replaces, of concurrent puts of one name exactly one wins and
 * the object is whole, ranged gets at the edges and past the end, list, stat, delete, a writer
 * that is not committed leaves nothing, a writer killed between its temporary and its commit leaves
 * nothing visible and the next clean removes its temporary; and, through the repository, the
 * damaged-blob list as write-once parts (merged at load) and the migration of a version-1
 * <repo>/damaged file. */
#include "check.h"
#include "repo/backend.h"
#include "repo/repo.h"
#include "repo/repo_int.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEX_A "aa00000000000000000000000000000000000000000000000000000000000001"
#define HEX_B "bb00000000000000000000000000000000000000000000000000000000000002"
#define HEX_C "cc00000000000000000000000000000000000000000000000000000000000003"

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

/* count_entries: names in dir other than . and .. (-1 if it cannot be listed). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d) return -1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

struct names { char v[16][128]; int n; };

static int collect(void *ctx, const char *name)
{
    struct names *nm = ctx;
    if (nm->n >= 16) return -E2BIG;
    snprintf(nm->v[nm->n++], sizeof nm->v[0], "%s", name);
    return 0;
}

static int has_name(const struct names *nm, const char *name)
{
    for (int k = 0; k < nm->n; k++)
        if (strcmp(nm->v[k], name) == 0) return 1;
    return 0;
}

struct fixture { char *dir; char repo[512]; struct repo_backend *be; };

static int fx_init(struct fixture *f, const char *tag)
{
    f->dir = check_tmpdir(tag);
    snprintf(f->repo, sizeof f->repo, "%s/repo", f->dir);
    f->be = NULL;
    if (repo_backend_local_new(f->repo, &f->be) < 0) return -1;
    return f->be->ops->create(f->be);
}

static void fx_free(struct fixture *f)
{
    repo_backend_destroy(f->be);
    check_rm_rf(f->dir);
    free(f->dir);
}

TEST(put_if_absent_never_replaces)
{
    struct fixture f;
    static const int types[] = { REPO_OBJ_ROOT, REPO_OBJ_KEY, REPO_OBJ_PACK, REPO_OBJ_INDEX,
                                 REPO_OBJ_SNAPSHOT, REPO_OBJ_DAMAGED };
    CHECK(fx_init(&f, "be-put") == 0);
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        void *data = NULL;
        size_t len = 0;
        CHECK_EQ_INT(f.be->ops->put(f.be, types[k], HEX_A, "first", 5), 0);
        CHECK_EQ_INT(f.be->ops->put(f.be, types[k], HEX_A, "second!", 7), -EEXIST);
        CHECK_EQ_INT(f.be->ops->get_all(f.be, types[k], HEX_A, 100, &data, &len), 0);
        CHECKF(len == 5 && memcmp(data, "first", 5) == 0, "type %d holds %.*s", types[k], (int)len,
               (char *)data);
        free(data);
        /* hash-named objects: a taken name is the same content, so put_same is fine with it */
        CHECK_EQ_INT(repo_backend_put_same(f.be, types[k], HEX_A, "first", 5), 0);
    }
    /* a name that is not one path component is refused, and nothing is written */
    CHECK_EQ_INT(f.be->ops->put(f.be, REPO_OBJ_INDEX, "../escape", "x", 1), -EINVAL);
    CHECK_EQ_INT(f.be->ops->put(f.be, REPO_OBJ_INDEX, ".hidden", "x", 1), -EINVAL);
    {
        char p[700];
        struct stat st;
        snprintf(p, sizeof p, "%s/escape", f.repo);
        CHECK(stat(p, &st) < 0 && errno == ENOENT);
    }
    fx_free(&f);
}

enum { RACERS = 6, RACE_LEN = 512 * 1024, ROUNDS = 12 };

struct racer {
    struct repo_backend *be;
    pthread_barrier_t *start;
    const char *name;
    int seed, rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    uint8_t *buf = malloc(RACE_LEN);
    fill(buf, RACE_LEN, (uint64_t)r->seed);
    pthread_barrier_wait(r->start);
    r->rc = r->be->ops->put(r->be, REPO_OBJ_SNAPSHOT, r->name, buf, RACE_LEN);
    free(buf);
    return NULL;
}

TEST(concurrent_put_if_absent_one_wins)
{
    struct fixture f;
    uint8_t *want = malloc(RACE_LEN);
    CHECK(fx_init(&f, "be-race") == 0);
    CHECK(want);
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t th[RACERS];
        struct racer rs[RACERS];
        pthread_barrier_t start;
        char name[65];
        int winners = 0, winner = -1;
        void *data = NULL;
        size_t len = 0;
        snprintf(name, sizeof name, "%064x", round + 1);
        pthread_barrier_init(&start, NULL, RACERS);
        for (int k = 0; k < RACERS; k++) {
            rs[k] = (struct racer){ f.be, &start, name, round * 100 + k, 1 };
            CHECK(pthread_create(&th[k], NULL, race, &rs[k]) == 0);
        }
        for (int k = 0; k < RACERS; k++) pthread_join(th[k], NULL);
        pthread_barrier_destroy(&start);
        for (int k = 0; k < RACERS; k++) {
            CHECKF(rs[k].rc == 0 || rs[k].rc == -EEXIST, "racer %d: %d", k, rs[k].rc);
            if (rs[k].rc == 0) {
                winners++;
                winner = k;
            }
        }
        CHECK_EQ_INT(winners, 1);
        /* the object is the winner's, whole */
        CHECK_EQ_INT(f.be->ops->get_all(f.be, REPO_OBJ_SNAPSHOT, name, RACE_LEN, &data, &len), 0);
        fill(want, RACE_LEN, (uint64_t)rs[winner].seed);
        CHECK(len == RACE_LEN && memcmp(data, want, RACE_LEN) == 0);
        free(data);
    }
    {
        char p[700];
        snprintf(p, sizeof p, "%s/snapshots", f.repo);
        CHECK_EQ_INT(count_entries(p), ROUNDS); /* the losers left no temporary */
    }
    free(want);
    fx_free(&f);
}

TEST(ranged_get_at_edges_and_past_the_end)
{
    struct fixture f;
    uint8_t obj[1000], buf[2000];
    size_t got = 7;
    CHECK(fx_init(&f, "be-get") == 0);
    fill(obj, sizeof obj, 9);
    CHECK_EQ_INT(f.be->ops->put(f.be, REPO_OBJ_PACK, HEX_A, obj, sizeof obj), 0);
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_A, 0, buf, 1000, &got), 0);
    CHECK(got == 1000 && memcmp(buf, obj, 1000) == 0);
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_A, 1, buf, 1, &got), 0);
    CHECK(got == 1 && buf[0] == obj[1]);
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_A, 999, buf, 1, &got), 0);
    CHECK(got == 1 && buf[0] == obj[999]);
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_A, 990, buf, 100, &got), 0);
    CHECK(got == 10 && memcmp(buf, obj + 990, 10) == 0); /* short at the end */
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_A, 0, buf, 2000, &got), 0);
    CHECK(got == 1000 && memcmp(buf, obj, 1000) == 0);
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_A, 1000, buf, 10, &got), 0);
    CHECK_EQ_INT(got, 0);
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_A, 1u << 30, buf, 10, &got), 0);
    CHECK_EQ_INT(got, 0);
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_A, 500, buf, 0, &got), 0);
    CHECK_EQ_INT(got, 0);
    /* exact reads: short is -EIO, absent is -ENOENT */
    CHECK_EQ_INT(repo_backend_read(f.be, REPO_OBJ_PACK, HEX_A, 900, buf, 100), 0);
    CHECK(memcmp(buf, obj + 900, 100) == 0);
    CHECK_EQ_INT(repo_backend_read(f.be, REPO_OBJ_PACK, HEX_A, 901, buf, 100), -EIO);
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_B, 0, buf, 10, &got), -ENOENT);
    CHECK_EQ_INT(repo_backend_read(f.be, REPO_OBJ_INDEX, HEX_A, 0, buf, 10), -ENOENT);
    /* more objects than the fd cache holds: every one still reads right */
    for (int k = 0; k < REPO_FD_CACHE_MAX + 20; k++) {
        char name[65];
        uint8_t small[64];
        snprintf(name, sizeof name, "%02x%062x", k, k);
        fill(small, sizeof small, (uint64_t)k + 100);
        CHECK_EQ_INT(f.be->ops->put(f.be, REPO_OBJ_PACK, name, small, sizeof small), 0);
    }
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < REPO_FD_CACHE_MAX + 20; k++) {
            char name[65];
            uint8_t small[64], back[64];
            snprintf(name, sizeof name, "%02x%062x", k, k);
            fill(small, sizeof small, (uint64_t)k + 100);
            CHECK_EQ_INT(repo_backend_read(f.be, REPO_OBJ_PACK, name, 0, back, sizeof back), 0);
            CHECK(memcmp(back, small, sizeof back) == 0);
        }
    fx_free(&f);
}

TEST(list_stat_delete)
{
    struct fixture f;
    struct names nm = { .n = 0 };
    struct repo_bwriter *w = NULL;
    uint64_t size = 0;
    uint8_t buf[16];
    size_t got = 0;
    CHECK(fx_init(&f, "be-list") == 0);
    CHECK_EQ_INT(f.be->ops->list(f.be, REPO_OBJ_PACK, collect, &nm), 0);
    CHECK_EQ_INT(nm.n, 0);
    CHECK_EQ_INT(f.be->ops->list(f.be, REPO_OBJ_DAMAGED, collect, &nm), 0); /* no directory yet */
    CHECK_EQ_INT(nm.n, 0);
    CHECK_EQ_INT(f.be->ops->put(f.be, REPO_OBJ_PACK, HEX_A, "12345", 5), 0);
    CHECK_EQ_INT(f.be->ops->put(f.be, REPO_OBJ_PACK, HEX_B, "1234567890", 10), 0);
    CHECK_EQ_INT(f.be->ops->put(f.be, REPO_OBJ_INDEX, HEX_C, "", 0), 0);
    /* a writer in progress is not an object */
    CHECK_EQ_INT(f.be->ops->writer_begin(f.be, REPO_OBJ_INDEX, &w), 0);
    CHECK_EQ_INT(f.be->ops->writer_write(w, 0, "pending", 7), 0);
    CHECK_EQ_INT(f.be->ops->list(f.be, REPO_OBJ_PACK, collect, &nm), 0);
    CHECK_EQ_INT(nm.n, 2);
    CHECK(has_name(&nm, HEX_A) && has_name(&nm, HEX_B));
    nm.n = 0;
    CHECK_EQ_INT(f.be->ops->list(f.be, REPO_OBJ_INDEX, collect, &nm), 0);
    CHECK_EQ_INT(nm.n, 1);
    CHECK(has_name(&nm, HEX_C));
    f.be->ops->writer_free(w);
    CHECK_EQ_INT(f.be->ops->stat(f.be, REPO_OBJ_PACK, HEX_B, &size), 0);
    CHECK_EQ_INT(size, 10);
    CHECK_EQ_INT(f.be->ops->stat(f.be, REPO_OBJ_INDEX, HEX_C, &size), 0);
    CHECK_EQ_INT(size, 0);
    CHECK_EQ_INT(f.be->ops->stat(f.be, REPO_OBJ_INDEX, HEX_A, &size), -ENOENT);
    /* delete: gone from list, stat and get, even after a read cached its fd */
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_A, 0, buf, 5, &got), 0);
    CHECK_EQ_INT(f.be->ops->del(f.be, REPO_OBJ_PACK, HEX_A), 0);
    CHECK_EQ_INT(f.be->ops->del(f.be, REPO_OBJ_PACK, HEX_A), -ENOENT);
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_A, 0, buf, 5, &got), -ENOENT);
    CHECK_EQ_INT(f.be->ops->stat(f.be, REPO_OBJ_PACK, HEX_A, &size), -ENOENT);
    nm.n = 0;
    CHECK_EQ_INT(f.be->ops->list(f.be, REPO_OBJ_PACK, collect, &nm), 0);
    CHECK(nm.n == 1 && has_name(&nm, HEX_B));
    /* the name is free again: a new object may take it */
    CHECK_EQ_INT(f.be->ops->put(f.be, REPO_OBJ_PACK, HEX_A, "new", 3), 0);
    CHECK_EQ_INT(f.be->ops->get(f.be, REPO_OBJ_PACK, HEX_A, 0, buf, 16, &got), 0);
    CHECK(got == 3 && memcmp(buf, "new", 3) == 0);
    fx_free(&f);
}

struct wjob { struct repo_backend_ops const *ops; struct repo_bwriter *w; const uint8_t *data; int part, rc; };

static void *write_part(void *arg)
{
    struct wjob *j = arg;
    /* parts in reverse order: ranges land anywhere, in any order */
    for (int k = 7; k >= 0; k--)
        if (k % 2 == j->part && j->rc == 0)
            j->rc = j->ops->writer_write(j->w, (uint64_t)k * 131072, j->data + k * 131072, 131072);
    return NULL;
}

TEST(writer_commit_and_abort)
{
    struct fixture f;
    enum { LEN = 8 * 131072 };
    uint8_t *data = malloc(LEN), *back = malloc(LEN);
    struct repo_bwriter *w = NULL;
    char tmpdir[700];
    void *all = NULL;
    size_t len = 0;
    CHECK(fx_init(&f, "be-writer") == 0);
    CHECK(data && back);
    snprintf(tmpdir, sizeof tmpdir, "%s/data/tmp", f.repo);
    fill(data, LEN, 5);
    /* two threads write disjoint ranges; the writer reads back what they wrote */
    CHECK_EQ_INT(f.be->ops->writer_begin(f.be, REPO_OBJ_PACK, &w), 0);
    {
        pthread_t t0, t1;
        struct wjob j0 = { f.be->ops, w, data, 0, 0 }, j1 = { f.be->ops, w, data, 1, 0 };
        CHECK(pthread_create(&t0, NULL, write_part, &j0) == 0);
        CHECK(pthread_create(&t1, NULL, write_part, &j1) == 0);
        pthread_join(t0, NULL);
        pthread_join(t1, NULL);
        CHECK(j0.rc == 0 && j1.rc == 0);
    }
    CHECK_EQ_INT(f.be->ops->writer_read(w, 0, back, LEN), 0);
    CHECK(memcmp(back, data, LEN) == 0);
    CHECK_EQ_INT(f.be->ops->writer_read(w, LEN - 10, back, 20), -EIO);
    CHECK_EQ_INT(count_entries(tmpdir), 1);
    /* abort: nothing stays, not even the temporary */
    f.be->ops->writer_free(w);
    CHECK_EQ_INT(count_entries(tmpdir), 0);
    {
        struct names nm = { .n = 0 };
        CHECK_EQ_INT(f.be->ops->list(f.be, REPO_OBJ_PACK, collect, &nm), 0);
        CHECK_EQ_INT(nm.n, 0);
    }
    /* commit: visible whole under its name, readable through the writer until it is freed */
    CHECK_EQ_INT(f.be->ops->writer_begin(f.be, REPO_OBJ_PACK, &w), 0);
    CHECK_EQ_INT(f.be->ops->writer_write(w, 0, data, LEN), 0);
    CHECK_EQ_INT(f.be->ops->writer_commit(w, HEX_A), 0);
    CHECK_EQ_INT(f.be->ops->writer_read(w, 100, back, 100), 0);
    CHECK(memcmp(back, data + 100, 100) == 0);
    f.be->ops->writer_free(w);
    CHECK_EQ_INT(count_entries(tmpdir), 0);
    CHECK_EQ_INT(f.be->ops->get_all(f.be, REPO_OBJ_PACK, HEX_A, LEN, &all, &len), 0);
    CHECK(len == LEN && memcmp(all, data, LEN) == 0);
    free(all);
    /* a commit to a taken name fails and replaces nothing; the loser leaves nothing */
    CHECK_EQ_INT(f.be->ops->writer_begin(f.be, REPO_OBJ_PACK, &w), 0);
    CHECK_EQ_INT(f.be->ops->writer_write(w, 0, "other", 5), 0);
    CHECK_EQ_INT(f.be->ops->writer_commit(w, HEX_A), -EEXIST);
    f.be->ops->writer_free(w);
    CHECK_EQ_INT(count_entries(tmpdir), 0);
    CHECK_EQ_INT(f.be->ops->get_all(f.be, REPO_OBJ_PACK, HEX_A, LEN, &all, &len), 0);
    CHECK(len == LEN && memcmp(all, data, LEN) == 0);
    free(all);
    free(data);
    free(back);
    fx_free(&f);
}

/* crash_child: begins a writer of type, writes, and is killed before its commit. */
static void crash_child(const char *repo, int type)
{
    struct repo_backend *be = NULL;
    struct repo_bwriter *w = NULL;
    uint8_t buf[4096];
    memset(buf, 7, sizeof buf);
    if (repo_backend_local_new(repo, &be) < 0) _exit(3);
    if (be->ops->writer_begin(be, type, &w) < 0) _exit(4);
    if (be->ops->writer_write(w, 0, buf, sizeof buf) < 0) _exit(5);
    raise(SIGKILL);
    _exit(6);
}

TEST(crash_between_temp_and_commit_leaves_nothing_visible)
{
    struct fixture f;
    static const int types[] = { REPO_OBJ_PACK, REPO_OBJ_INDEX, REPO_OBJ_SNAPSHOT };
    static const char *const dirs[] = { "data/tmp", "index", "snapshots" };
    CHECK(fx_init(&f, "be-crash") == 0);
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        struct names nm = { .n = 0 };
        char dir[700];
        int status = 0;
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) crash_child(f.repo, types[k]);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        snprintf(dir, sizeof dir, "%s/%s", f.repo, dirs[k]);
        CHECKF(count_entries(dir) == 1, "%s: %d entries", dirs[k], count_entries(dir));
        CHECK_EQ_INT(f.be->ops->list(f.be, types[k], collect, &nm), 0);
        CHECKF(nm.n == 0, "%s lists %s", dirs[k], nm.v[0]); /* the temporary is no object */
        f.be->ops->clean(f.be); /* its process is gone: removed */
        CHECK_EQ_INT(count_entries(dir), 0);
    }
    /* a live writer's temporary is left alone by clean */
    {
        struct repo_bwriter *w = NULL;
        char dir[700];
        snprintf(dir, sizeof dir, "%s/data/tmp", f.repo);
        CHECK_EQ_INT(f.be->ops->writer_begin(f.be, REPO_OBJ_PACK, &w), 0);
        f.be->ops->clean(f.be);
        CHECK_EQ_INT(count_entries(dir), 1);
        f.be->ops->writer_free(w);
        CHECK_EQ_INT(count_entries(dir), 0);
    }
    fx_free(&f);
}

/* ---- through the repository: the damaged-blob list as write-once parts ---- */

struct rfx { char *dir; char repo[512], key[512]; };

static void rfx_init(struct rfx *f, const char *tag)
{
    f->dir = check_tmpdir(tag);
    snprintf(f->repo, sizeof f->repo, "%s/repo", f->dir);
    snprintf(f->key, sizeof f->key, "%s/key", f->dir);
}

static void rfx_free(struct rfx *f)
{
    check_rm_rf(f->dir);
    free(f->dir);
}

/* dmg_envelope: a sealed damaged-blob list of n (blob, pack) pairs, as version 1 wrote it. */
static int dmg_envelope(struct repo *r, const repo_id_t *blobs, const repo_id_t *packs, size_t n,
                        uint8_t **out, size_t *outlen)
{
    uint8_t plain[4 + 4 * 64];
    repo_put_u32(plain, (uint32_t)n);
    for (size_t k = 0; k < n; k++) {
        memcpy(plain + 4 + k * 64, blobs[k].b, 32);
        memcpy(plain + 4 + k * 64 + 32, packs[k].b, 32);
    }
    return repo_env_seal(r->enc_key, "CFDB", plain, 4 + n * 64, out, outlen);
}

/* two_blobs: a repository with two blobs in one pack; ids and the pack id out. */
static int two_blobs(struct rfx *f, struct repo **r, repo_id_t ids[2], repo_id_t *pack)
{
    char err[256];
    uint8_t a[3000], b[3000];
    uint32_t no = 0;
    fill(a, sizeof a, 1);
    fill(b, sizeof b, 2);
    if (repo_create(f->repo, f->key, err, sizeof err) < 0) return -1;
    if (repo_open(f->repo, f->key, r, err, sizeof err) < 0) return -2;
    repo_blob_id(*r, a, sizeof a, &ids[0]);
    repo_blob_id(*r, b, sizeof b, &ids[1]);
    if (repo_blob_put(*r, REPO_BLOB_DATA, &ids[0], a, sizeof a, NULL) < 0) return -3;
    if (repo_blob_put(*r, REPO_BLOB_DATA, &ids[1], b, sizeof b, NULL) < 0) return -4;
    if (repo_flush(*r) < 0) return -5;
    if (repo_blob_locate(*r, &ids[0], &no, NULL, NULL, NULL) < 0) return -6;
    *pack = (*r)->packs[no].id;
    return 0;
}

TEST(version1_damaged_file_is_migrated)
{
    struct rfx f;
    struct repo *r = NULL;
    repo_id_t ids[2], pack, packs[1];
    uint8_t *env = NULL;
    size_t envlen = 0;
    char path[700], err[256];
    struct stat st;
    int fd;
    rfx_init(&f, "be-dmg-v1");
    CHECK_EQ_INT(two_blobs(&f, &r, ids, &pack), 0);
    packs[0] = pack;
    CHECK_EQ_INT(dmg_envelope(r, &ids[0], packs, 1, &env, &envlen), 0);
    repo_close(r);
    r = NULL;
    /* what a version-1 build left: one file, <repo>/damaged */
    snprintf(path, sizeof path, "%s/damaged", f.repo);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, env, envlen) == (ssize_t)envlen);
    close(fd);
    free(env);
    CHECKF(repo_open(f.repo, f.key, &r, err, sizeof err) == 0, "open: %s", err);
    CHECK_EQ_INT(repo_damaged_count(r), 1);
    CHECK(repo_blob_exists(r, &ids[0]) == 0);
    CHECK(repo_blob_exists(r, &ids[1]) == 1);
    /* migrated: <repo>/damaged is now the directory of parts, holding one */
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_EQ_INT(count_entries(path), 1);
    repo_close(r);
    r = NULL;
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK_EQ_INT(repo_damaged_count(r), 1);
    CHECK(repo_blob_exists(r, &ids[0]) == 0);
    repo_close(r);
    rfx_free(&f);
}

TEST(damaged_parts_are_merged_and_superseded)
{
    struct rfx f;
    struct repo *r = NULL;
    repo_id_t ids[2], pack, packs[1];
    uint8_t *env = NULL, hash[32];
    size_t envlen = 0;
    char path[700], err[256], name[65];
    rfx_init(&f, "be-dmg-parts");
    CHECK_EQ_INT(two_blobs(&f, &r, ids, &pack), 0);
    snprintf(path, sizeof path, "%s/damaged", f.repo);
    /* two parts left side by side (a crash between a save's put and its delete): the union */
    packs[0] = pack;
    for (int k = 0; k < 2; k++) {
        CHECK_EQ_INT(dmg_envelope(r, &ids[k], packs, 1, &env, &envlen), 0);
        repo_sha256(env, envlen, hash);
        repo_id_to_hex((const repo_id_t *)hash, name);
        CHECK_EQ_INT(r->be->ops->put(r->be, REPO_OBJ_DAMAGED, name, env, envlen), 0);
        free(env);
    }
    repo_close(r);
    r = NULL;
    CHECK_EQ_INT(count_entries(path), 2);
    CHECKF(repo_open(f.repo, f.key, &r, err, sizeof err) == 0, "open: %s", err);
    CHECK_EQ_INT(repo_damaged_count(r), 2);
    CHECK(repo_blob_exists(r, &ids[0]) == 0 && repo_blob_exists(r, &ids[1]) == 0);
    /* the next pair found is saved as one new part, superseding both */
    {
        uint8_t c[3000];
        repo_id_t idc;
        uint32_t no = 0;
        uint64_t off = 0;
        uint32_t stored = 0;
        char pack_path[4096];
        void *out = NULL;
        size_t len = 0;
        fill(c, sizeof c, 3);
        repo_blob_id(r, c, sizeof c, &idc);
        CHECK(repo_blob_put(r, REPO_BLOB_DATA, &idc, c, sizeof c, NULL) == 0);
        CHECK(repo_flush(r) == 0);
        CHECK(repo_blob_locate(r, &idc, &no, &off, &stored, NULL) == 0);
        CHECK(repo_pack_path(r, &r->packs[no].id, pack_path, sizeof pack_path) == 0);
        {
            int fd = open(pack_path, O_RDWR);
            uint8_t byte = 0;
            CHECK(fd >= 0);
            CHECK(pread(fd, &byte, 1, (off_t)(off + stored / 2)) == 1);
            byte ^= 0x41;
            CHECK(pwrite(fd, &byte, 1, (off_t)(off + stored / 2)) == 1);
            close(fd);
        }
        CHECK_EQ_INT(repo_blob_get(r, &idc, &out, &len), -EBADMSG);
        free(out);
        CHECK_EQ_INT(repo_damaged_count(r), 3);
    }
    CHECK_EQ_INT(count_entries(path), 1);
    repo_close(r);
    r = NULL;
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK_EQ_INT(repo_damaged_count(r), 3);
    repo_close(r);
    rfx_free(&f);
}

int main(void)
{
    RUN(put_if_absent_never_replaces);
    RUN(concurrent_put_if_absent_one_wins);
    RUN(ranged_get_at_edges_and_past_the_end);
    RUN(list_stat_delete);
    RUN(writer_commit_and_abort);
    RUN(crash_between_temp_and_commit_leaves_nothing_visible);
    RUN(version1_damaged_file_is_migrated);
    RUN(damaged_parts_are_merged_and_superseded);
    return check_finish();
}
