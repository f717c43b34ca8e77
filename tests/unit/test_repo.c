/* test_repo.c: the repository: keys, blob round trips, dedup, threads, snapshots, damage, index
 * rebuild and recovery of packs that no index names. */
#include "check.h"
#include "repo/repo.h"
#include "repo/repo_int.h"
#include <dirent.h>
#include <openssl/evp.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

static void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
    static const char *words[] = { "backup ", "restore ", "chunk ", "pack ", "index ", "tree ",
                                   "snapshot ", "coffer ", "\n" };
    uint64_t x = seed + 7;
    size_t i = 0;
    while (i < n) {
        const char *w;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        w = words[(x >> 33) % 9];
        for (size_t k = 0; w[k] && i < n; k++) p[i++] = (uint8_t)w[k];
    }
}

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

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d) return -1;
    while ((de = readdir(d)) != NULL) {
        repo_id_t id;
        if (repo_id_from_hex(de->d_name, &id) == 0) n++;
    }
    closedir(d);
    return n;
}

static int rm_hex_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[1024];
    int n = 0;
    if (!d) return -1;
    while ((de = readdir(d)) != NULL) {
        repo_id_t id;
        if (repo_id_from_hex(de->d_name, &id) != 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) == 0) n++;
    }
    closedir(d);
    return n;
}

/* pack_files: the paths of every pack file (up to max). */
static int pack_files(const char *repo, char paths[][600], int max)
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        char dir[512];
        DIR *d;
        struct dirent *de;
        snprintf(dir, sizeof dir, "%s/data/%02x", repo, b);
        d = opendir(dir);
        if (!d) continue;
        while ((de = readdir(d)) != NULL) {
            repo_id_t id;
            if (repo_id_from_hex(de->d_name, &id) != 0) continue;
            if (n < max && snprintf(paths[n], 600, "%s/%s", dir, de->d_name) >= 600) continue;
            n++;
        }
        closedir(d);
    }
    return n;
}

TEST(create_open_wrong_key)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[512] = "", other[600];
    struct stat st;
    int rc;
    fx_init(&f, "repo-keys");
    rc = repo_create(f.repo, f.key, err, sizeof err);
    CHECKF(rc == 0, "create: %d %s", rc, err);
    CHECK(stat(f.key, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 65);
    CHECK_EQ_INT(repo_create(f.repo, f.key, err, sizeof err), -EEXIST);
    rc = repo_open(f.repo, f.key, &r, err, sizeof err);
    CHECKF(rc == 0 && r, "open: %d %s", rc, err);
    repo_close(r);
    r = NULL;
    /* a different key file: a clear refusal, not garbage */
    snprintf(other, sizeof other, "%s/other-key", f.dir);
    {
        FILE *fp = fopen(other, "w");
        CHECK(fp);
        fputs("not the right secret\n", fp);
        fclose(fp);
    }
    err[0] = '\0';
    rc = repo_open(f.repo, other, &r, err, sizeof err);
    CHECK_EQ_INT(rc, -EACCES);
    CHECK(r == NULL);
    CHECKF(strstr(err, "wrong key") != NULL, "err: %s", err);
    /* missing key file and missing repository */
    snprintf(other, sizeof other, "%s/nope", f.dir);
    CHECK(repo_open(f.repo, other, &r, err, sizeof err) == -ENOENT);
    CHECK(repo_open(f.dir, f.key, &r, err, sizeof err) == -ENOENT);
    CHECKF(strstr(err, "no repository") != NULL, "err: %s", err);
    /* the key file may gain a trailing newline or lose one */
    {
        char buf[128];
        FILE *fp = fopen(f.key, "r");
        size_t n;
        CHECK(fp);
        n = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        CHECK(n == 65);
        fp = fopen(f.key, "w");
        fwrite(buf, 1, 64, fp);
        fputs("\r\n\n", fp);
        fclose(fp);
    }
    rc = repo_open(f.repo, f.key, &r, err, sizeof err);
    CHECKF(rc == 0, "open after whitespace change: %s", err);
    repo_close(r);
    fx_free(&f);
}

TEST(id_hex)
{
    repo_id_t id, back;
    char hex[REPO_ID_HEX_LEN + 1];
    for (int i = 0; i < REPO_ID_LEN; i++) id.b[i] = (uint8_t)(i * 37 + 1);
    repo_id_to_hex(&id, hex);
    CHECK(strlen(hex) == 64);
    CHECK(repo_id_from_hex(hex, &back) == 0 && memcmp(&id, &back, sizeof id) == 0);
    hex[63] = 'g';
    CHECK(repo_id_from_hex(hex, &back) == -EINVAL);
    CHECK(repo_id_from_hex("abcd", &back) == -EINVAL);
    hex[63] = '0';
    {
        char longer[80];
        snprintf(longer, sizeof longer, "%s0", hex);
        CHECK(repo_id_from_hex(longer, &back) == -EINVAL);
    }
}

/* repo_hmac_id keeps its thread's MAC context keyed with the last key: ids under keys taken in turn
 * (A, B, A, A, B) and of several lengths each equal the one-shot HMAC-SHA-256 of that key. */
TEST(hmac_id_key_changes)
{
    uint8_t keys[2][REPO_KEY_LEN];
    static uint8_t data[100001];
    static const size_t lens[] = { 0, 1, 63, 64, 65, 4096, sizeof data };
    static const int order[] = { 0, 1, 0, 0, 1, 1, 0 };
    for (int i = 0; i < REPO_KEY_LEN; i++) {
        keys[0][i] = (uint8_t)(i * 7 + 3);
        keys[1][i] = (uint8_t)(i * 7 + 3);
    }
    keys[1][REPO_KEY_LEN - 1] ^= 1;   /* differs in the last byte only */
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 131 + (i >> 9));
    for (size_t o = 0; o < sizeof order / sizeof *order; o++) {
        for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
            repo_id_t got;
            uint8_t want[REPO_ID_LEN];
            size_t wl = 0;
            repo_hmac_id(keys[order[o]], data, lens[l], &got);
            CHECK(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, keys[order[o]], REPO_KEY_LEN, data, lens[l], want,
                            sizeof want, &wl) != NULL && wl == REPO_ID_LEN);
            CHECKF(memcmp(got.b, want, REPO_ID_LEN) == 0, "key %d, %zu bytes: id differs from HMAC-SHA-256",
                   order[o], lens[l]);
        }
    }
}

struct sample { size_t len; int kind; }; /* kind 0 random, 1 text, 2 zeros */

TEST(roundtrip_sizes)
{
    static const struct sample samples[] = {
        { 0, 0 }, { 1, 0 }, { 63, 1 }, { 100, 1 }, { 4096, 0 }, { 65536, 1 },
        { 1u << 20, 0 }, { 1u << 20, 1 }, { 3u << 20, 2 }, { 8u << 20, 0 },
    };
    enum { N = sizeof samples / sizeof *samples };
    struct fixture f;
    struct repo *r = NULL;
    repo_id_t ids[N];
    uint8_t *bufs[N];
    char err[512];
    fx_init(&f, "repo-rt");
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    for (int i = 0; i < N; i++) {
        size_t added = 12345, len = 0;
        void *out = NULL;
        uint32_t pack, stored, plain;
        uint64_t off;
        bufs[i] = calloc(1, samples[i].len + 1);
        if (samples[i].kind == 0) fill_random(bufs[i], samples[i].len, (uint64_t)i);
        if (samples[i].kind == 1) fill_text(bufs[i], samples[i].len, (uint64_t)i);
        repo_blob_id(r, bufs[i], samples[i].len, &ids[i]);
        CHECK(!repo_blob_exists(r, &ids[i]));
        CHECK_EQ_INT(repo_blob_get(r, &ids[i], &out, &len), -ENOENT);
        CHECK_EQ_INT(repo_blob_put(r, i % 3 == 0 ? REPO_BLOB_TREE : REPO_BLOB_DATA, &ids[i],
                                   bufs[i], samples[i].len, &added), 0);
        CHECK(repo_blob_exists(r, &ids[i]));
        CHECK(repo_blob_locate(r, &ids[i], &pack, &off, &stored, &plain) == 0);
        CHECK_EQ_INT(plain, samples[i].len);
        CHECK_EQ_INT(stored, added);
        if (samples[i].kind == 0) CHECK_EQ_INT(added, samples[i].len + 28); /* raw */
        if (samples[i].kind != 0 && samples[i].len >= 4096) CHECK(added < samples[i].len / 2);
        CHECK_EQ_INT(repo_blob_get(r, &ids[i], &out, &len), 0);
        CHECK_EQ_INT(len, samples[i].len);
        CHECK(memcmp(out, bufs[i], len) == 0);
        free(out);
    }
    repo_close(r);
    r = NULL;
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    for (int i = 0; i < N; i++) {
        void *out = NULL;
        size_t len = 0;
        CHECK_EQ_INT(repo_blob_get(r, &ids[i], &out, &len), 0);
        CHECK(len == samples[i].len && memcmp(out, bufs[i], len) == 0);
        free(out);
        free(bufs[i]);
    }
    {
        repo_id_t wrong;
        uint8_t one = 1;
        repo_blob_id(r, &one, 1, &wrong);
        CHECK(repo_blob_put(r, REPO_BLOB_DATA, &wrong, NULL, 0, NULL) == 0); /* id of "" differs */
        CHECK(repo_blob_put(r, 7, &wrong, &one, 1, NULL) == -EINVAL);
    }
    repo_close(r);
    fx_free(&f);
}

TEST(dedup)
{
    struct fixture f;
    struct repo *r = NULL;
    struct repo_stats s1, s2;
    uint8_t *buf = malloc(300000);
    repo_id_t id;
    size_t added = 0;
    char err[512];
    fx_init(&f, "repo-dedup");
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    fill_random(buf, 300000, 42);
    repo_blob_id(r, buf, 300000, &id);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &id, buf, 300000, &added) == 0 && added > 300000);
    CHECK(repo_flush(r) == 0);
    repo_get_stats(r, &s1);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &id, buf, 300000, &added) == 0);
    CHECK_EQ_INT(added, 0);
    CHECK(repo_flush(r) == 0);
    repo_get_stats(r, &s2);
    CHECK(s1.pack_bytes == s2.pack_bytes && s1.blobs == s2.blobs && s2.blobs == 1);
    CHECK_EQ_INT(s2.packs, 1);
    repo_close(r);
    r = NULL;
    /* and across a reopen */
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &id, buf, 300000, &added) == 0);
    CHECK_EQ_INT(added, 0);
    repo_close(r);
    free(buf);
    fx_free(&f);
}

/* ---- threads ---- */

#define T_THREADS 4
#define T_OWN 60
#define T_SHARED 40
struct tctx {
    struct repo *r;
    int t;
    int rc;
    _Atomic int *shared_adds;
};

static size_t t_len(int t, int i) { return 1000 + (size_t)((t * 7919 + i * 104729) % 60000); }

static void *t_main(void *arg)
{
    struct tctx *c = arg;
    uint8_t *buf = malloc(70000);
    for (int i = 0; i < T_OWN + T_SHARED && c->rc == 0; i++) {
        /* interleave: shared blobs (same content in every thread) and own blobs */
        int shared = i % 5 < 2 && i / 5 * 2 + i % 5 < T_SHARED;
        int k = shared ? (i / 5 * 2 + i % 5) : i;
        size_t len = shared ? t_len(99, k) : t_len(c->t, k), added = 0;
        repo_id_t id;
        if (shared) fill_random(buf, len, 100000 + (uint64_t)k);
        else if (k % 2) fill_text(buf, len, (uint64_t)(c->t * 1000 + k));
        else fill_random(buf, len, (uint64_t)(c->t * 1000 + k));
        repo_blob_id(c->r, buf, len, &id);
        c->rc = repo_blob_put(c->r, REPO_BLOB_DATA, &id, buf, len, &added);
        if (shared && added > 0) atomic_fetch_add(&c->shared_adds[k], 1);
    }
    free(buf);
    return NULL;
}

TEST(threads_put_reopen)
{
    struct fixture f;
    struct repo *r = NULL;
    pthread_t th[T_THREADS];
    struct tctx ctx[T_THREADS];
    _Atomic int shared_adds[T_SHARED];
    struct repo_stats st;
    uint8_t *buf = malloc(70000);
    char err[512];
    fx_init(&f, "repo-threads");
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_set_pack_target(r, 256 * 1024); /* many seals racing with appends */
    for (int k = 0; k < T_SHARED; k++) atomic_init(&shared_adds[k], 0);
    for (int t = 0; t < T_THREADS; t++) {
        ctx[t] = (struct tctx){ r, t, 0, shared_adds };
        CHECK(pthread_create(&th[t], NULL, t_main, &ctx[t]) == 0);
    }
    for (int t = 0; t < T_THREADS; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T_THREADS; t++) CHECK_EQ_INT(ctx[t].rc, 0);
    /* Every thread puts every shared blob (the interleave reaches all T_SHARED slots): exactly one
     * put of each must have stored it, none lost to the dedup race, none stored twice. */
    for (int k = 0; k < T_SHARED; k++)
        CHECKF(atomic_load(&shared_adds[k]) == 1, "shared blob %d stored %d times", k,
               atomic_load(&shared_adds[k]));
    repo_get_stats(r, &st);
    CHECK(st.packs > 3);
    repo_close(r);
    r = NULL;
    {
        /* a pack exceeds the target by at most one blob (plus its trailer) */
        static char paths[256][600];
        int np = pack_files(f.repo, paths, 256);
        CHECK(np > 3 && np <= 256);
        for (int k = 0; k < np; k++) {
            struct stat pst;
            CHECK(stat(paths[k], &pst) == 0);
            CHECKF(pst.st_size <= 256 * 1024 + 62000 + 2000, "pack of %lld bytes",
                   (long long)pst.st_size);
        }
    }
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    {
        struct repo_stats st2;
        repo_get_stats(r, &st2);
        CHECK_EQ_INT(st2.blobs, st.blobs);
        CHECK_EQ_INT(st2.blobs, T_THREADS * T_OWN + T_SHARED);
    }
    for (int k = 0; k < T_SHARED; k++) { /* every shared blob reads back after the reopen */
        size_t len = t_len(99, k), glen = 0;
        repo_id_t id;
        void *out = NULL;
        fill_random(buf, len, 100000 + (uint64_t)k);
        repo_blob_id(r, buf, len, &id);
        CHECKF(repo_blob_get(r, &id, &out, &glen) == 0, "shared blob %d", k);
        CHECKF(glen == len && memcmp(out, buf, len) == 0, "shared blob %d reads back wrong", k);
        free(out);
    }
    for (int t = 0; t < T_THREADS; t++) {
        for (int k = 0; k < T_OWN + T_SHARED; k++) {
            size_t len = t_len(t, k), glen = 0;
            repo_id_t id;
            void *out = NULL;
            if (k % 5 < 2 && k / 5 * 2 + k % 5 < T_SHARED) continue; /* shared slot, not own */
            if (k % 2) fill_text(buf, len, (uint64_t)(t * 1000 + k));
            else fill_random(buf, len, (uint64_t)(t * 1000 + k));
            repo_blob_id(r, buf, len, &id);
            CHECKF(repo_blob_get(r, &id, &out, &glen) == 0, "thread %d blob %d", t, k);
            CHECK(glen == len && memcmp(out, buf, len) == 0);
            free(out);
        }
    }
    {
        json_t *rep = NULL;
        CHECK(repo_verify(r, 1, &rep) == 0);
        CHECKF(json_is_true(json_object_get(rep, "ok")), "%s", json_dumps(rep, 0));
        json_decref(rep);
    }
    repo_close(r);
    free(buf);
    fx_free(&f);
}

/* ---- snapshots ---- */

TEST(snapshots)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[512], id1[65], id2[65];
    json_t *doc, *back = NULL, *ids = NULL;
    uint8_t data[5000];
    repo_id_t bid;
    fx_init(&f, "repo-snap");
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK(repo_snapshot_list(r, &ids) == 0 && json_array_size(ids) == 0);
    json_decref(ids);
    fill_text(data, sizeof data, 3);
    repo_blob_id(r, data, sizeof data, &bid);
    CHECK(repo_blob_put(r, REPO_BLOB_TREE, &bid, data, sizeof data, NULL) == 0);
    doc = json_pack("{s:s, s:s, s:i}", "root", "abc", "host", "h1", "time", 1234);
    CHECK(repo_snapshot_write(r, doc, id1) == 0);
    {
        char idx[600];
        snprintf(idx, sizeof idx, "%s/index", f.repo);
        CHECKF(count_files(idx) == 1, "the snapshot write flushed the blob into an index");
    }
    json_object_set_new(doc, "time", json_integer(5678));
    CHECK(repo_snapshot_write(r, doc, id2) == 0);
    CHECK(strcmp(id1, id2) != 0);
    CHECK(repo_snapshot_read(r, id1, &back) == 0);
    CHECK(json_integer_value(json_object_get(back, "time")) == 1234);
    CHECK(strcmp(json_string_value(json_object_get(back, "root")), "abc") == 0);
    json_decref(back);
    CHECK(repo_snapshot_list(r, &ids) == 0 && json_array_size(ids) == 2);
    json_decref(ids);
    CHECK(repo_snapshot_read(r, "zz", &back) == -EINVAL);
    {
        char missing[65];
        memset(missing, 'a', 64);
        missing[64] = 0;
        CHECK(repo_snapshot_read(r, missing, &back) == -ENOENT);
    }
    CHECK(repo_snapshot_forget(r, id1) == 0);
    CHECK(repo_snapshot_list(r, &ids) == 0 && json_array_size(ids) == 1);
    CHECK(strcmp(json_string_value(json_array_get(ids, 0)), id2) == 0);
    json_decref(ids);
    CHECK(repo_snapshot_read(r, id1, &back) == -ENOENT);
    repo_close(r);
    r = NULL;
    /* a flipped byte in a snapshot file is detected */
    {
        char path[700];
        int fd;
        uint8_t b;
        snprintf(path, sizeof path, "%s/snapshots/%s", f.repo, id2);
        fd = open(path, O_RDWR);
        CHECK(fd >= 0);
        CHECK(pread(fd, &b, 1, 30) == 1);
        b ^= 0x10;
        CHECK(pwrite(fd, &b, 1, 30) == 1);
        close(fd);
    }
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK(repo_snapshot_read(r, id2, &back) == -EBADMSG);
    repo_close(r);
    json_decref(doc);
    fx_free(&f);
}

/* ---- damage ---- */

static int flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    if (fd < 0) return -1;
    if (pread(fd, &b, 1, off) != 1) return -1;
    b ^= 0x01;
    if (pwrite(fd, &b, 1, off) != 1) return -1;
    close(fd);
    return 0;
}

static int report_names(json_t *rep, const char *pack_hex, const char *blob_hex)
{
    json_t *errors = json_object_get(rep, "errors"), *e;
    size_t i;
    json_array_foreach(errors, i, e) {
        const char *p = json_string_value(json_object_get(e, "pack"));
        const char *b = json_string_value(json_object_get(e, "blob"));
        if (p && strcmp(p, pack_hex) == 0 && (!blob_hex || (b && strcmp(b, blob_hex) == 0)))
            return 1;
    }
    return 0;
}

TEST(flipped_byte)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[512], paths[4][600], blob_hex[65];
    const char *pack_hex;
    repo_id_t ids[5];
    uint8_t buf[20000];
    uint64_t off = 0;
    uint32_t stored = 0;
    json_t *rep = NULL;
    void *out = NULL;
    size_t len;
    fx_init(&f, "repo-flip");
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    for (int i = 0; i < 5; i++) {
        fill_random(buf, sizeof buf, 500 + (uint64_t)i);
        repo_blob_id(r, buf, sizeof buf, &ids[i]);
        CHECK(repo_blob_put(r, REPO_BLOB_DATA, &ids[i], buf, sizeof buf, NULL) == 0);
    }
    CHECK(repo_flush(r) == 0);
    CHECK(repo_verify(r, 1, &rep) == 0 && json_is_true(json_object_get(rep, "ok")));
    CHECK_EQ_INT(json_integer_value(json_object_get(rep, "blobs_read")), 5);
    json_decref(rep);
    CHECK_EQ_INT(pack_files(f.repo, paths, 4), 1);
    CHECK(repo_blob_locate(r, &ids[2], NULL, &off, &stored, NULL) == 0);
    CHECK(flip_byte(paths[0], (off_t)(off + stored / 2)) == 0);
    CHECK_EQ_INT(repo_blob_get(r, &ids[2], &out, &len), -EBADMSG);
    CHECK(repo_blob_get(r, &ids[1], &out, &len) == 0); /* neighbours are intact */
    free(out);
    /* structure is intact: only reading the data finds it */
    CHECK(repo_verify(r, 0, &rep) == 0);
    CHECKF(json_is_true(json_object_get(rep, "ok")), "%s", json_dumps(rep, 0));
    json_decref(rep);
    CHECK(repo_verify(r, 1, &rep) == 0);
    CHECK(json_is_false(json_object_get(rep, "ok")));
    pack_hex = strrchr(paths[0], '/') + 1;
    repo_id_to_hex(&ids[2], blob_hex);
    CHECKF(report_names(rep, pack_hex, blob_hex), "%s", json_dumps(rep, 0));
    json_decref(rep);
    /* a damaged trailer is structural damage */
    {
        struct stat st;
        CHECK(stat(paths[0], &st) == 0);
        CHECK(flip_byte(paths[0], st.st_size - 16 - 20) == 0);
    }
    CHECK(repo_verify(r, 0, &rep) == 0);
    CHECK(json_is_false(json_object_get(rep, "ok")));
    CHECKF(report_names(rep, pack_hex, NULL), "%s", json_dumps(rep, 0));
    json_decref(rep);
    repo_close(r);
    fx_free(&f);
}

/* repo_blob_get_fast: the same bytes as repo_blob_get, every stored byte still authenticated (a
 * flipped byte is damage); what it leaves out is the id recomputation, i.e. the check of a writer
 * that sealed other bytes than it hashed: repo_blob_get and verify with read_data still find that. */
TEST(get_fast_authenticates)
{
    struct fixture f;
    struct repo *r = NULL;
    char err[512], paths[4][600];
    static uint8_t text[300000], rnd[20000], other[5000];
    repo_id_t id_text, id_rnd, id_bug;
    uint64_t off = 0;
    uint32_t stored = 0, pack = 0;
    json_t *rep = NULL;
    void *out = NULL;
    size_t len = 0;
    fx_init(&f, "repo-getfast");
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    fill_text(text, sizeof text, 3);
    fill_random(rnd, sizeof rnd, 4);
    fill_random(other, sizeof other, 5);
    repo_blob_id(r, text, sizeof text, &id_text);
    repo_blob_id(r, rnd, sizeof rnd, &id_rnd);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &id_text, text, sizeof text, NULL) == 0);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &id_rnd, rnd, sizeof rnd, NULL) == 0);
    /* a writer's bug: sealed under the id of other bytes than it stores */
    repo_blob_id(r, other, 1000, &id_bug);
    CHECK(repo_blob_put(r, REPO_BLOB_DATA, &id_bug, other, sizeof other, NULL) == 0);
    CHECK(repo_flush(r) == 0);

    CHECK(repo_blob_locate(r, &id_text, &pack, &off, &stored, NULL) == 0);
    repo_pack_prefetch(r, pack, 0, 1u << 20);   /* a hint only: reads are unchanged */
    repo_pack_prefetch(r, 999999, 0, 1u << 20); /* no such pack: nothing happens */
    CHECK(repo_blob_get_fast(r, &id_text, &out, &len) == 0);
    CHECK(len == sizeof text && memcmp(out, text, len) == 0);
    free(out);
    CHECK(repo_blob_get_fast(r, &id_rnd, &out, &len) == 0);
    CHECK(len == sizeof rnd && memcmp(out, rnd, len) == 0);
    free(out);
    out = NULL;
    CHECK(repo_blob_get_fast(r, &id_bug, &out, &len) == 0); /* authenticates: what was sealed */
    CHECK(len == sizeof other && memcmp(out, other, len) == 0);
    free(out);
    out = NULL;
    CHECK(repo_verify(r, 1, &rep) == 0);
    CHECKF(json_is_false(json_object_get(rep, "ok")), "%s", json_dumps(rep, 0));
    json_decref(rep);
    CHECK_EQ_INT(repo_blob_get(r, &id_bug, &out, &len), -EBADMSG);

    /* one flipped byte of the compressed blob: damage, for the fast read too */
    CHECK_EQ_INT(pack_files(f.repo, paths, 4), 1);
    CHECK(flip_byte(paths[0], (off_t)(off + stored / 2)) == 0);
    out = NULL;
    CHECK_EQ_INT(repo_blob_get_fast(r, &id_text, &out, &len), -EBADMSG);
    CHECK(out == NULL);
    repo_close(r);
    fx_free(&f);
}

/* ---- index rebuild and recovery ---- */

static void put_many(struct repo *r, repo_id_t *ids, int n, uint64_t seed, int *fail)
{
    uint8_t *buf = malloc(50000);
    for (int i = 0; i < n && !*fail; i++) {
        size_t len = 1000 + (size_t)(i * 3001) % 48000;
        fill_random(buf, len, seed + (uint64_t)i);
        repo_blob_id(r, buf, len, &ids[i]);
        if (repo_blob_put(r, REPO_BLOB_DATA, &ids[i], buf, len, NULL) != 0) *fail = 1;
    }
    free(buf);
}

static int get_all(struct repo *r, const repo_id_t *ids, int n)
{
    for (int i = 0; i < n; i++) {
        void *out = NULL;
        size_t len;
        int rc = repo_blob_get(r, &ids[i], &out, &len);
        free(out);
        if (rc != 0) return i + 1;
    }
    return 0;
}

TEST(index_rebuild)
{
    struct fixture f;
    struct repo *r = NULL;
    repo_id_t ids[80];
    char err[512], idx[600];
    int fail = 0;
    fx_init(&f, "repo-rebuild");
    snprintf(idx, sizeof idx, "%s/repo/index", f.dir);
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_set_pack_target(r, 200 * 1024);
    put_many(r, ids, 40, 1, &fail);
    CHECK(repo_flush(r) == 0);
    put_many(r, ids + 40, 40, 1000, &fail);
    CHECK(!fail);
    CHECK(repo_flush(r) == 0);
    CHECK_EQ_INT(count_files(idx), 2);
    CHECK(rm_hex_files(idx) == 2);
    CHECK(repo_index_rebuild(r) == 0);
    CHECK_EQ_INT(count_files(idx), 1);
    CHECK_EQ_INT(get_all(r, ids, 80), 0);
    {
        struct repo_stats st;
        repo_get_stats(r, &st);
        CHECK_EQ_INT(st.blobs, 80);
    }
    /* rebuild again with an index present: the old file is replaced */
    CHECK(repo_index_rebuild(r) == 0);
    CHECK_EQ_INT(count_files(idx), 1);
    repo_close(r);
    r = NULL;
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK_EQ_INT(get_all(r, ids, 80), 0);
    {
        json_t *rep = NULL;
        CHECK(repo_verify(r, 1, &rep) == 0);
        CHECKF(json_is_true(json_object_get(rep, "ok")), "%s", json_dumps(rep, 0));
        json_decref(rep);
    }
    repo_close(r);
    fx_free(&f);
}

TEST(recover_unindexed_packs)
{
    struct fixture f;
    struct repo *r = NULL;
    repo_id_t ids[60];
    char err[512], idx[600], junk[700];
    int fail = 0;
    fx_init(&f, "repo-recover");
    snprintf(idx, sizeof idx, "%s/repo/index", f.dir);
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_set_pack_target(r, 300 * 1024);
    put_many(r, ids, 60, 77, &fail);
    CHECK(!fail);
    repo_close(r);
    r = NULL;
    /* the crash: packs renamed into data/, index never written; plus the debris of a dead
     * writer (a temp pack of a process that no longer exists, a temp index file) */
    CHECK(rm_hex_files(idx) >= 1);
    snprintf(junk, sizeof junk, "%s/data/tmp/pack-999999999-abcdef", f.repo);
    CHECK(close(open(junk, O_CREAT | O_WRONLY, 0600)) == 0);
    snprintf(junk, sizeof junk, "%s/%064d.tmp-abcdef", idx, 0);
    CHECK(close(open(junk, O_CREAT | O_WRONLY, 0600)) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK_EQ_INT(get_all(r, ids, 60), 0);
    CHECK_EQ_INT(count_files(idx), 1); /* the recovered packs got their index at once */
    snprintf(junk, sizeof junk, "%s/data/tmp/pack-999999999-abcdef", f.repo);
    CHECK(access(junk, F_OK) != 0);
    repo_close(r);
    r = NULL;
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK_EQ_INT(get_all(r, ids, 60), 0);
    CHECK_EQ_INT(count_files(idx), 1);
    repo_close(r);
    fx_free(&f);
}

TEST(missing_pack_reported)
{
    struct fixture f;
    struct repo *r = NULL;
    repo_id_t ids[10];
    char err[512], paths[4][600];
    json_t *rep = NULL;
    void *out = NULL;
    size_t len;
    int fail = 0;
    fx_init(&f, "repo-missing");
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    put_many(r, ids, 10, 5, &fail);
    repo_close(r);
    r = NULL;
    CHECK_EQ_INT(pack_files(f.repo, paths, 4), 1);
    CHECK(unlink(paths[0]) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    CHECK(repo_blob_get(r, &ids[0], &out, &len) == -EIO);
    CHECK(repo_verify(r, 0, &rep) == 0);
    CHECK(json_is_false(json_object_get(rep, "ok")));
    CHECKF(report_names(rep, strrchr(paths[0], '/') + 1, NULL), "%s", json_dumps(rep, 0));
    json_decref(rep);
    /* what is lost does not count as stored: the next backup stores it again */
    CHECK(!repo_blob_exists(r, &ids[3]));
    {
        repo_id_t again[5];
        put_many(r, again, 5, 5, &fail);
        CHECK(!fail && memcmp(again, ids, sizeof again) == 0);
    }
    CHECK(repo_blob_exists(r, &ids[3]));
    CHECK(repo_blob_get(r, &ids[0], &out, &len) == 0);
    free(out);
    CHECK_EQ_INT(repo_blob_get(r, &ids[7], &out, &len), -EIO);
    /* rebuilding from the packs alone forgets what is gone */
    CHECK(repo_index_rebuild(r) == 0);
    CHECK_EQ_INT(repo_blob_get(r, &ids[7], &out, &len), -ENOENT);
    CHECK(!repo_blob_exists(r, &ids[8]));
    CHECK_EQ_INT(get_all(r, ids, 5), 0);
    repo_close(r);
    fx_free(&f);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

TEST(many_packs_fd_cache)
{
    struct fixture f;
    struct repo *r = NULL;
    repo_id_t ids[150];
    char err[512];
    int fail = 0, before;
    fx_init(&f, "repo-fds");
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_set_pack_target(r, 4096); /* one pack per blob */
    before = count_fds();
    put_many(r, ids, 150, 9, &fail);
    CHECK(!fail);
    /* While puts go on, pack.c holds at most three pack writers open beside the read cache: the
     * open pack, the one queued for the background sealer and the one it is sealing. */
    CHECKF(count_fds() - before <= REPO_FD_CACHE_MAX + 3, "%d fds open", count_fds() - before);
    /* A flush waits for every seal: no writer is left open, only the read cache. */
    CHECK(repo_flush(r) == 0);
    CHECKF(count_fds() - before <= REPO_FD_CACHE_MAX, "%d fds open after the flush", count_fds() - before);
    for (int i = 0; i < 150; i++) {
        void *out = NULL;
        size_t len;
        int k = (i * 37) % 150;
        CHECK(repo_blob_get(r, &ids[k], &out, &len) == 0);
        free(out);
    }
    CHECKF(count_fds() - before <= REPO_FD_CACHE_MAX, "%d fds open", count_fds() - before);
    {
        struct repo_stats st;
        repo_get_stats(r, &st);
        CHECKF(st.packs >= 100, "%llu packs", (unsigned long long)st.packs);
    }
    repo_close(r);
    fx_free(&f);
}

struct gctx {
    struct repo *r;
    const repo_id_t *ids;
    int n, t, bad;
};

static void *g_main(void *arg)
{
    struct gctx *c = arg;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < c->n; i++) {
            int k = (i * (7 + 2 * c->t) + round * 11) % c->n;
            void *out = NULL;
            size_t len;
            if (repo_blob_get(c->r, &c->ids[k], &out, &len) != 0) c->bad++;
            free(out);
        }
    return NULL;
}

TEST(parallel_gets_many_packs)
{
    struct fixture f;
    struct repo *r = NULL;
    repo_id_t ids[150];
    pthread_t th[4];
    struct gctx g[4];
    char err[512];
    int fail = 0;
    fx_init(&f, "repo-pget");
    CHECK(repo_create(f.repo, f.key, err, sizeof err) == 0);
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    repo_set_pack_target(r, 8192);
    put_many(r, ids, 150, 31, &fail);
    CHECK(!fail);
    repo_close(r);
    r = NULL;
    CHECK(repo_open(f.repo, f.key, &r, err, sizeof err) == 0);
    /* more packs than cached fds: eviction runs while other threads hold fds */
    for (int t = 0; t < 4; t++) {
        g[t] = (struct gctx){ r, ids, 150, t, 0 };
        CHECK(pthread_create(&th[t], NULL, g_main, &g[t]) == 0);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 4; t++) CHECK_EQ_INT(g[t].bad, 0);
    repo_close(r);
    fx_free(&f);
}

int main(void)
{
    RUN(id_hex);
    RUN(hmac_id_key_changes);
    RUN(create_open_wrong_key);
    RUN(roundtrip_sizes);
    RUN(dedup);
    RUN(threads_put_reopen);
    RUN(snapshots);
    RUN(flipped_byte);
    RUN(get_fast_authenticates);
    RUN(index_rebuild);
    RUN(recover_unindexed_packs);
    RUN(missing_pack_reported);
    RUN(many_packs_fd_cache);
    RUN(parallel_gets_many_packs);
    return check_finish();
}
