/* test_repo_damage.c: damage found by a read is remembered (the damaged-blob list, durable across
 * reopen), the next put of that data stores it afresh and the index then reads the good copy
 * (self-healing); missing and short packs; verify; concurrent puts of a damaged blob; the index's
 * "prefer a good copy" pass on its own; and through the engine, an incremental backup healing a
 * damaged tree blob of an unchanged directory and a damaged chunk of an unchanged file. */
#include "check.h"
#include "repo/repo.h"
#include "repo/repo_int.h"
#include "engine/engine.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
    char *dir;
    char repo[512], key[512];
};

static void fx_init(struct fixture *f, const char *tag)
{
    f->dir = check_tmpdir(tag);
    snprintf(f->repo, sizeof f->repo, "%s/repo", f->dir);
    snprintf(f->key, sizeof f->key, "%s/key", f->dir);
}

static void fx_free(struct fixture *f)
{
    check_rm_rf(f->dir);
    free(f->dir);
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

/* where: the pack file and offset of a blob's copy in the index. */
static int where(struct repo *r, const repo_id_t *id, uint32_t *no, char *path, size_t len,
                 uint64_t *off, uint32_t *stored)
{
    int rc = repo_blob_locate(r, id, no, off, stored, NULL);
    if (rc) return rc;
    return repo_pack_path(r, &r->packs[*no].id, path, len);
}

static int flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    int ok;
    if (fd < 0) return -errno;
    ok = pread(fd, &b, 1, (off_t)off) == 1;
    b ^= 0x5a;
    ok = ok && pwrite(fd, &b, 1, (off_t)off) == 1;
    close(fd);
    return ok ? 0 : -EIO;
}

static int get_equals(struct repo *r, const repo_id_t *id, const uint8_t *want, size_t n)
{
    void *data = NULL;
    size_t len = 0;
    int rc = repo_blob_get(r, id, &data, &len);
    if (rc == 0 && (len != n || memcmp(data, want, n) != 0)) rc = -EILSEQ;
    free(data);
    return rc;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

TEST(flipped_byte_is_listed_stored_again_and_healed_after_reopen)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[256], pack_path[4096], bad_hex[REPO_ID_HEX_LEN + 1], dmg_path[600];
    enum { N = 200000 };
    uint8_t *a = malloc(N), *b = malloc(N);
    repo_id_t ida, idb;
    uint32_t no = 0, no2 = 0, stored = 0;
    uint64_t off = 0;
    size_t added = 0;
    fx_init(&f, "dmg-flip");
    snprintf(dmg_path, sizeof dmg_path, "%s/damaged", f.repo);
    CHECK(a && b);
    fill_random(a, N, 1);
    fill_random(b, N, 2);
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_blob_id(r, a, N, &ida);
    repo_blob_id(r, b, N, &idb);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, NULL) == 0);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &idb, b, N, NULL) == 0);
    CHECK(repo_flush(r) == 0);
    CHECK(where(r, &ida, &no, pack_path, sizeof pack_path, &off, &stored) == 0);
    repo_id_to_hex(&r->packs[no].id, bad_hex);
    CHECK(flip_byte(pack_path, off + stored / 2) == 0);
    CHECK(!file_exists(dmg_path));          /* nothing found yet: no list */
    CHECK(repo_blob_exists(r, &ida) == 1);  /* not known to be damaged before a read */

    /* The read finds it: named, listed durably, and no longer counted as stored. */
    repo_damage_clear();
    CHECK_EQ_INT(get_equals(r, &ida, a, N), -EBADMSG);
    CHECKF(strstr(repo_damage_last(), bad_hex) && strstr(repo_damage_last(), "damaged"),
           "damage sentence: %s", repo_damage_last());
    CHECK_EQ_INT(repo_damaged_count(r), 1);
    CHECK(file_exists(dmg_path));
    CHECK(repo_blob_exists(r, &ida) == 0);
    CHECK(repo_blob_exists(r, &idb) == 1);
    CHECK(get_equals(r, &idb, b, N) == 0);
    CHECK_EQ_INT(repo_damaged_count(r), 1); /* a good read lists nothing */

    /* The next put stores it afresh; reads then use the new copy; a further put dedups. */
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, &added) == 0);
    CHECK(added > 0);
    CHECK(repo_blob_exists(r, &ida) == 1);
    CHECK(get_equals(r, &ida, a, N) == 0);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, &added) == 0);
    CHECK_EQ_INT(added, 0);
    CHECK(repo_flush(r) == 0);
    CHECK(repo_blob_locate(r, &ida, &no2, NULL, NULL, NULL) == 0);
    CHECK(no2 != no);
    repo_close(r);
    r = NULL;

    /* After reopening: the list is still there and the good copy wins over the damaged one. */
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK_EQ_INT(repo_damaged_count(r), 1);
    CHECK(repo_blob_locate(r, &ida, &no2, NULL, NULL, NULL) == 0);
    {
        char hex2[REPO_ID_HEX_LEN + 1];
        repo_id_to_hex(&r->packs[no2].id, hex2);
        CHECKF(strcmp(hex2, bad_hex) != 0, "index reads blob a from the damaged pack %s", hex2);
    }
    CHECK(get_equals(r, &ida, a, N) == 0);
    CHECK(repo_blob_exists(r, &ida) == 1);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, &added) == 0);
    CHECK_EQ_INT(added, 0);
    /* An index rebuild loads first copies again: the good one must still win. */
    CHECK(repo_index_rebuild(r) == 0);
    CHECK(get_equals(r, &ida, a, N) == 0);
    CHECK(get_equals(r, &idb, b, N) == 0);
    repo_close(r);
    free(a);
    free(b);
    fx_free(&f);
}

TEST(list_is_durable_before_any_put)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[256], pack_path[4096];
    enum { N = 50000 };
    uint8_t *a = malloc(N);
    repo_id_t ida;
    uint32_t no = 0, stored = 0;
    uint64_t off = 0;
    size_t added = 0;
    fx_init(&f, "dmg-durable");
    CHECK(a);
    fill_random(a, N, 3);
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_blob_id(r, a, N, &ida);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, NULL) == 0);
    CHECK(repo_flush(r) == 0);
    CHECK(where(r, &ida, &no, pack_path, sizeof pack_path, &off, &stored) == 0);
    CHECK(flip_byte(pack_path, off + 3) == 0);   /* in the nonce: authentication fails */
    CHECK_EQ_INT(get_equals(r, &ida, a, N), -EBADMSG);
    repo_close(r);
    r = NULL;
    /* A restart between the read that found it and the backup that heals it. */
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK_EQ_INT(repo_damaged_count(r), 1);
    CHECK(repo_blob_exists(r, &ida) == 0);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, &added) == 0);
    CHECK(added > 0);
    CHECK(get_equals(r, &ida, a, N) == 0);
    repo_close(r);
    free(a);
    fx_free(&f);
}

TEST(unreadable_list_is_tolerated)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[256], path[600];
    int fd;
    fx_init(&f, "dmg-garbage");
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/damaged", f.repo);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    static const char junk[] = "CFDB\1\0\0\0garbage that does not authenticate";
    CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
    close(fd);
    CHECKF(repo_open(f.repo, f.key, &r, err, sizeof err) == 0, "open: %s", err);
    CHECK_EQ_INT(repo_damaged_count(r), 0);
    repo_close(r);
    fx_free(&f);
}

TEST(missing_pack_named_and_stored_again)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[256], pack_path[4096], hex[REPO_ID_HEX_LEN + 1];
    enum { N = 60000 };
    uint8_t *a = malloc(N);
    repo_id_t ida;
    uint32_t no = 0, stored = 0;
    uint64_t off = 0;
    size_t added = 0;
    fx_init(&f, "dmg-missing");
    CHECK(a);
    fill_random(a, N, 4);
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_blob_id(r, a, N, &ida);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, NULL) == 0);
    repo_close(r);
    r = NULL;
    /* Deleted under a running reader (nothing has the pack open yet). */
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK(where(r, &ida, &no, pack_path, sizeof pack_path, &off, &stored) == 0);
    repo_id_to_hex(&r->packs[no].id, hex);
    CHECK(unlink(pack_path) == 0);
    CHECK(repo_blob_exists(r, &ida) == 1);
    repo_damage_clear();
    CHECK_EQ_INT(get_equals(r, &ida, a, N), -EIO);
    CHECKF(strstr(repo_damage_last(), hex) && strstr(repo_damage_last(), "missing"),
           "damage sentence: %s", repo_damage_last());
    CHECK(repo_blob_exists(r, &ida) == 0);
    repo_close(r);
    r = NULL;
    /* Found missing at open: the same answer, then a put stores it again and it survives. */
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_damage_clear();
    CHECK_EQ_INT(get_equals(r, &ida, a, N), -EIO);
    CHECKF(strstr(repo_damage_last(), hex) && strstr(repo_damage_last(), "missing"),
           "damage sentence: %s", repo_damage_last());
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, &added) == 0);
    CHECK(added > 0);
    CHECK(get_equals(r, &ida, a, N) == 0);
    repo_close(r);
    r = NULL;
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK(get_equals(r, &ida, a, N) == 0);
    repo_close(r);
    free(a);
    fx_free(&f);
}

TEST(short_pack_is_listed)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[256], pack_path[4096];
    enum { N = 70000 };
    uint8_t *a = malloc(N);
    repo_id_t ida;
    uint32_t no = 0, stored = 0;
    uint64_t off = 0;
    fx_init(&f, "dmg-short");
    CHECK(a);
    fill_random(a, N, 5);
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_blob_id(r, a, N, &ida);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, NULL) == 0);
    CHECK(repo_flush(r) == 0);
    CHECK(where(r, &ida, &no, pack_path, sizeof pack_path, &off, &stored) == 0);
    CHECK(truncate(pack_path, (off_t)(off + stored / 2)) == 0);
    CHECK_EQ_INT(get_equals(r, &ida, a, N), -EBADMSG);
    CHECK_EQ_INT(repo_damaged_count(r), 1);
    CHECK(repo_blob_exists(r, &ida) == 0);
    repo_close(r);
    free(a);
    fx_free(&f);
}

/* verify with read_data finds what no restore read yet: it is listed, and the next put stores it. */
TEST(verify_read_data_lists_damage)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[256], pack_path[4096];
    enum { N = 80000 };
    uint8_t *a = malloc(N);
    repo_id_t ida;
    uint32_t no = 0, stored = 0;
    uint64_t off = 0;
    size_t added = 0;
    json_t *rep = NULL;
    fx_init(&f, "dmg-verify");
    CHECK(a);
    fill_random(a, N, 7);
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_blob_id(r, a, N, &ida);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, NULL) == 0);
    CHECK(repo_flush(r) == 0);
    CHECK(where(r, &ida, &no, pack_path, sizeof pack_path, &off, &stored) == 0);
    CHECK(flip_byte(pack_path, off + 40) == 0);
    CHECK(repo_verify(r, 0, &rep) == 0);   /* structure only: reads no blob, lists nothing */
    json_decref(rep);
    CHECK_EQ_INT(repo_damaged_count(r), 0);
    CHECK(repo_verify(r, 1, &rep) == 0);
    CHECK(json_is_false(json_object_get(rep, "ok")));
    json_decref(rep);
    CHECK_EQ_INT(repo_damaged_count(r), 1);
    CHECK(repo_blob_exists(r, &ida) == 0);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, &added) == 0);
    CHECK(added > 0);
    CHECK(get_equals(r, &ida, a, N) == 0);
    repo_close(r);
    free(a);
    fx_free(&f);
}

static int write_file(const char *path, const uint8_t *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), ok = fd >= 0;
    ok = ok && write(fd, data, n) == (ssize_t)n;
    if (fd >= 0 && close(fd) != 0) ok = 0;
    return ok ? 0 : -1;
}

static int same_bytes(const char *a, const char *b)
{
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static int backup(struct repo *r, const char *dir, const char *parent, char snap[REPO_ID_HEX_LEN + 1])
{
    const char *incs[] = { dir };
    struct eng_backup_opts o = { .include_paths = incs, .n_include = 1, .parent_snapshot_id = parent,
                                 .threads = 2 };
    struct eng_backup_result res;
    char err[256];
    int rc = eng_backup(r, &o, &res, err, sizeof err);
    if (rc == 0) memcpy(snap, res.snapshot_id, REPO_ID_HEX_LEN + 1);
    else fprintf(stderr, "backup: %s\n", err);
    eng_backup_result_release(&res);
    return rc;
}

static int restore(struct repo *r, const char *snap, const char *path, const char *to, char *err, size_t errlen)
{
    const char *paths[] = { path };
    struct eng_restore_opts o = { .paths = paths, .n_paths = 1, .target_dir = to, .threads = 2 };
    struct eng_restore_result res;
    int rc = eng_restore(r, snap, &o, &res, err, errlen);
    eng_restore_result_release(&res);
    return rc;
}

/* Through the engine: a damaged tree blob of an unchanged directory is named by the restore, and
 * the next incremental backup (whose parent's tree for that directory is that damaged blob) stores
 * the tree again, so its snapshot restores whole; the same for a damaged data blob of an unchanged
 * file (reused from the parent without reading, unless its copy is listed). */
TEST(engine_incremental_heals_damaged_tree_and_data)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[512], src[600], sub[700], fa[800], fb[800], to[700], got[1600], pack_path[4096];
    char s1[REPO_ID_HEX_LEN + 1], s2[REPO_ID_HEX_LEN + 1], s3[REPO_ID_HEX_LEN + 1];
    enum { NA = 300000, NB = 5000 };
    uint8_t *a = malloc(NA), *b = malloc(NB);
    struct tree_entry e;
    repo_id_t tid;
    uint32_t no = 0, stored = 0;
    uint64_t off = 0;
    fx_init(&f, "dmg-engine");
    CHECK(a && b);
    fill_random(a, NA, 8);
    fill_random(b, NB, 9);
    snprintf(src, sizeof src, "%s/src", f.dir);
    snprintf(sub, sizeof sub, "%s/sub", src);
    snprintf(fa, sizeof fa, "%s/a.bin", sub);
    snprintf(fb, sizeof fb, "%s/b.bin", src);
    CHECK(mkdir(src, 0755) == 0 && mkdir(sub, 0755) == 0);
    CHECK(write_file(fa, a, NA) == 0 && write_file(fb, b, NB) == 0);
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK(backup(r, src, NULL, s1) == 0);

    /* damage the tree blob of src/sub */
    CHECK(eng_stat_path(r, s1, sub, &e) == 0);
    CHECK(e.has_subtree);
    tid = e.subtree;
    tree_entry_release(&e);
    CHECK(where(r, &tid, &no, pack_path, sizeof pack_path, &off, &stored) == 0);
    CHECK(flip_byte(pack_path, off + stored / 2) == 0);
    snprintf(to, sizeof to, "%s/out1", f.dir);
    CHECK_EQ_INT(restore(r, s1, src, to, err, sizeof err), -EBADMSG);
    CHECKF(strstr(err, "repository damage") && strstr(err, "/sub"), "restore error: %s", err);
    CHECK(repo_blob_exists(r, &tid) == 0);

    CHECK(backup(r, src, s1, s2) == 0);
    snprintf(to, sizeof to, "%s/out2", f.dir);
    CHECKF(restore(r, s2, src, to, err, sizeof err) == 0, "restore of the healed snapshot: %s", err);
    snprintf(got, sizeof got, "%s/src/sub/a.bin", to);
    CHECK(same_bytes(fa, got));
    snprintf(got, sizeof got, "%s/src/b.bin", to);
    CHECK(same_bytes(fb, got));

    /* now a data blob of the unchanged file a.bin */
    CHECK(eng_stat_path(r, s2, fa, &e) == 0);
    CHECK(e.n_chunks >= 1);
    tid = e.chunks[0].id;
    tree_entry_release(&e);
    CHECK(where(r, &tid, &no, pack_path, sizeof pack_path, &off, &stored) == 0);
    CHECK(flip_byte(pack_path, off + stored / 2) == 0);
    snprintf(to, sizeof to, "%s/out3", f.dir);
    CHECK_EQ_INT(restore(r, s2, fa, to, err, sizeof err), -EBADMSG);
    CHECKF(strstr(err, "a.bin") && strstr(err, "repository damage"), "restore error: %s", err);
    CHECK(backup(r, src, s2, s3) == 0);
    snprintf(to, sizeof to, "%s/out4", f.dir);
    CHECKF(restore(r, s3, src, to, err, sizeof err) == 0, "restore of the healed snapshot: %s", err);
    snprintf(got, sizeof got, "%s/src/sub/a.bin", to);
    CHECK(same_bytes(fa, got));
    repo_close(r);
    r = NULL;
    /* and after reopening, the healed snapshots still read their good copies */
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    snprintf(to, sizeof to, "%s/out5", f.dir);
    CHECKF(restore(r, s3, src, to, err, sizeof err) == 0, "restore after reopen: %s", err);
    snprintf(got, sizeof got, "%s/src/sub/a.bin", to);
    CHECK(same_bytes(fa, got));
    /* snapshots name blobs by id, not by pack: the older s2 reads the healed copy too */
    snprintf(to, sizeof to, "%s/out6", f.dir);
    CHECKF(restore(r, s2, sub, to, err, sizeof err) == 0, "restore of s2 after the heal: %s", err);
    snprintf(got, sizeof got, "%s/sub/a.bin", to);
    CHECK(same_bytes(fa, got));
    repo_close(r);
    free(a);
    free(b);
    fx_free(&f);
}

struct put_arg {
    struct repo *r;
    const repo_id_t *id;
    const uint8_t *data;
    size_t n;
    atomic_int *go;
    size_t added;
    int rc;
};

static void *put_thread(void *p)
{
    struct put_arg *a = p;
    while (!atomic_load(a->go)) sched_yield();
    a->rc = repo_blob_put(a->r, REPO_BLOB_DATA, a->id, a->data, a->n, &a->added);
    return NULL;
}

struct get_arg { struct repo *r; const repo_id_t *id; atomic_int *go; int rc; };

static void *get_thread(void *p)
{
    struct get_arg *a = p;
    void *d = NULL;
    size_t len = 0;
    while (!atomic_load(a->go)) sched_yield();
    a->rc = repo_blob_get(a->r, a->id, &d, &len);
    free(d);
    return NULL;
}

/* Several backups heal the same blob at once while readers read it: one stores it, the others
 * dedup against that copy; readers get the damage or the good data, never a crash. */
TEST(concurrent_puts_store_a_damaged_blob_once)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[256], pack_path[4096];
    enum { N = 90000, T = 6 };
    uint8_t *a = malloc(N);
    repo_id_t ida;
    uint32_t no = 0, stored = 0;
    uint64_t off = 0;
    pthread_t th[T], rd[2];
    struct put_arg pa[T];
    struct get_arg ga[2];
    atomic_int go = 0;
    size_t total = 0;
    int stores = 0;
    fx_init(&f, "dmg-threads");
    CHECK(a);
    fill_random(a, N, 6);
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_blob_id(r, a, N, &ida);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ida, a, N, NULL) == 0);
    CHECK(repo_flush(r) == 0);
    CHECK(where(r, &ida, &no, pack_path, sizeof pack_path, &off, &stored) == 0);
    CHECK(flip_byte(pack_path, off + stored - 1) == 0); /* in the tag */
    CHECK_EQ_INT(get_equals(r, &ida, a, N), -EBADMSG);
    for (int i = 0; i < T; i++) {
        pa[i] = (struct put_arg){ .r = r, .id = &ida, .data = a, .n = N, .go = &go };
        CHECK(pthread_create(&th[i], NULL, put_thread, &pa[i]) == 0);
    }
    for (int i = 0; i < 2; i++) {
        ga[i] = (struct get_arg){ .r = r, .id = &ida, .go = &go };
        CHECK(pthread_create(&rd[i], NULL, get_thread, &ga[i]) == 0);
    }
    atomic_store(&go, 1);
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) pthread_join(rd[i], NULL);
    for (int i = 0; i < T; i++) {
        CHECK_EQ_INT(pa[i].rc, 0);
        total += pa[i].added;
        stores += pa[i].added > 0;
    }
    for (int i = 0; i < 2; i++) CHECKF(ga[i].rc == 0 || ga[i].rc == -EBADMSG, "get %d", ga[i].rc);
    CHECK_EQ_INT(stores, 1);
    CHECK(total > 0);
    CHECK(get_equals(r, &ida, a, N) == 0);
    CHECK_EQ_INT(repo_damaged_count(r), 1);
    repo_close(r);
    r = NULL;
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK(get_equals(r, &ida, a, N) == 0);
    repo_close(r);
    free(a);
    fx_free(&f);
}

static int bad_pack0(void *ctx, const repo_id_t *id, uint32_t pack) { return pack == 0; }
static int good_not0(void *ctx, const repo_id_t *id, uint32_t pack) { return pack != 0; }

/* The index keeps the first copy it loads; repo_itab_prefer moves an id to a good dead copy and
 * leaves every pack's run (offsets, derived lengths) as it was. */
TEST(itab_prefer_moves_to_the_good_copy)
{
    struct repo_itab t;
    struct repo_pentry p0[2], p1[1], e;
    struct repo_pentry *recs = NULL;
    size_t n = 0;
    uint32_t pack = 99;
    memset(p0, 0, sizeof p0);
    memset(p1, 0, sizeof p1);
    fill_random(p0[0].id.b, REPO_ID_LEN, 10);
    fill_random(p0[1].id.b, REPO_ID_LEN, 11);
    p0[0].offset = 0, p0[0].stored = 100, p0[0].plain = 72;
    p0[1].offset = 100, p0[1].stored = 50, p0[1].plain = 22;
    p1[0] = p0[0];
    p1[0].offset = 0, p1[0].stored = 200, p1[0].plain = 172;
    CHECK(repo_itab_init(&t, 0) == 0);
    CHECK(repo_itab_add_pack(&t, 0, p0, 2) == 0);
    CHECK(repo_itab_add_pack(&t, 1, p1, 1) == 0);
    CHECK(repo_itab_lookup(&t, &p0[0].id, &pack, &e) == REPO_ITAB_STORED);
    CHECK_EQ_INT(pack, 0);  /* first copy wins */
    CHECK_EQ_INT(repo_itab_prefer(&t, bad_pack0, good_not0, NULL), 1);
    CHECK(repo_itab_lookup(&t, &p0[0].id, &pack, &e) == REPO_ITAB_STORED);
    CHECK_EQ_INT(pack, 1);
    CHECK_EQ_INT(e.offset, 0);
    CHECK_EQ_INT(e.stored, 200);
    CHECK(repo_itab_lookup(&t, &p0[1].id, &pack, &e) == REPO_ITAB_STORED);
    CHECK_EQ_INT(pack, 0);            /* no other copy: stays where it is */
    CHECK_EQ_INT(e.stored, 50);       /* the run of pack 0 is intact */
    CHECK(repo_itab_pack_records(&t, 0, &recs, &n) == 0);
    CHECK_EQ_INT(n, 1);
    free(recs);
    CHECK_EQ_INT(repo_itab_prefer(&t, bad_pack0, good_not0, NULL), 0); /* idempotent */
    repo_itab_free(&t);
}

int main(void)
{
    RUN(flipped_byte_is_listed_stored_again_and_healed_after_reopen);
    RUN(list_is_durable_before_any_put);
    RUN(unreadable_list_is_tolerated);
    RUN(missing_pack_named_and_stored_again);
    RUN(short_pack_is_listed);
    RUN(verify_read_data_lists_damage);
    RUN(engine_incremental_heals_damaged_tree_and_data);
    RUN(concurrent_puts_store_a_damaged_blob_once);
    RUN(itab_prefer_moves_to_the_good_copy);
    return check_finish();
}
