/* e2e_s3_backend.c: the storage backend contract (backend.h) of the S3 backend against a real
 * S3-compatible server (versitygw, tests/e2e/s3test.c) on loopback, with Object Lock enabled on the
 * bucket: put/get/ranged get/get_all/stat/list (with continuation past 1000 keys)/del, -EEXIST,
 * writers (a single PUT and a multipart upload; abort leaves no object and no upload), retention
 * refused by the server itself (a direct signed DELETE of the version), legal hold, a
 * repository created, written, reopened and read on S3 with its cache sparing the bucket (the
 * temporaries a dead process left in the cache removed at open, a live one's kept), uploads
 * signed with their hash on plain http (unsigned when COFFER_S3_UNSIGNED_PAYLOAD=true, which the
 * server takes), and TLS: an https endpoint trusted through COFFER_S3_CA_FILE works (its uploads sent
 * UNSIGNED-PAYLOAD, read back whole; signed with COFFER_S3_UNSIGNED_PAYLOAD=false), the same one
 * without it is refused. */
#include "check.h"
#include "s3test.h"
#include "repo/backend.h"
#include "repo/repo.h"
#include "util/time.h"
#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUCKET "coffer-contract"

static struct s3test g_s3;
static char *g_tmp;

static struct repo_backend *open_be(const char *prefix, int with_cache)
{
    struct repo_s3_config cfg;
    struct repo_backend *be = NULL;
    char url[256], cache[600], err[512] = "";
    snprintf(url, sizeof url, "s3://" BUCKET "/%s", prefix);
    snprintf(cache, sizeof cache, "%s/cache", g_tmp);
    s3test_env(&g_s3, NULL);
    if (repo_s3_config_from_env(url, with_cache ? cache : NULL, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return NULL;
    }
    cfg.retries = 2;
    if (repo_backend_s3_new(&cfg, &be, err, sizeof err) != 0) fprintf(stderr, "backend: %s\n", err);
    repo_s3_config_clear(&cfg);
    return be;
}

static const char H1[] = "1111111111111111111111111111111111111111111111111111111111111111";
static const char H2[] = "2222222222222222222222222222222222222222222222222222222222222222";
static const char H3[] = "3333333333333333333333333333333333333333333333333333333333333333";
static const char HP[] = "ab00000000000000000000000000000000000000000000000000000000000001";

struct names {
    int n;
    int seen_h1, seen_h2, seen_hp;
};

static int collect(void *ctx, const char *name)
{
    struct names *s = ctx;
    s->n++;
    if (strcmp(name, H1) == 0) s->seen_h1++;
    if (strcmp(name, H2) == 0) s->seen_h2++;
    if (strcmp(name, HP) == 0) s->seen_hp++;
    return 0;
}

TEST(s3_put_get_list_del)
{
    struct repo_backend *be = open_be("contract", 0);
    const char *doc = "{\"hello\":\"object store\"}";
    char buf[64];
    size_t got = 99, len = 0;
    void *all = NULL;
    uint64_t size = 0;
    struct names nm = { 0 };
    CHECK(be);
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_INDEX, H1, doc, strlen(doc)), 0);
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_INDEX, H1, "other", 5), -EEXIST);
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_INDEX, H2, "x", 1), 0);
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_PACK, HP, "packbytes", 9), 0);
    CHECK_EQ_INT(be->ops->stat(be, REPO_OBJ_INDEX, H1, &size), 0);
    CHECK_EQ_INT(size, strlen(doc));
    CHECK_EQ_INT(be->ops->get(be, REPO_OBJ_INDEX, H1, 2, buf, 5, &got), 0);
    CHECK_EQ_INT(got, 5);
    CHECK(memcmp(buf, doc + 2, 5) == 0);
    CHECK_EQ_INT(be->ops->get(be, REPO_OBJ_INDEX, H1, strlen(doc) - 3, buf, 10, &got), 0); /* short at the end */
    CHECK_EQ_INT(got, 3);
    CHECK(memcmp(buf, doc + strlen(doc) - 3, 3) == 0);
    CHECK_EQ_INT(be->ops->get(be, REPO_OBJ_INDEX, H1, strlen(doc) + 5, buf, 10, &got), 0); /* past it */
    CHECK_EQ_INT(got, 0);
    CHECK_EQ_INT(be->ops->get(be, REPO_OBJ_INDEX, "3333333333333333333333333333333333333333333333333333333333333333", 0,
                              buf, 4, &got), -ENOENT);
    CHECK_EQ_INT(be->ops->get_all(be, REPO_OBJ_INDEX, H1, 1024, &all, &len), 0);
    CHECK_EQ_INT(len, strlen(doc));
    CHECK(strcmp(all, doc) == 0); /* NUL after it */
    free(all);
    all = NULL;
    CHECK_EQ_INT(be->ops->get_all(be, REPO_OBJ_INDEX, H1, 4, &all, &len), -EFBIG);
    CHECK_EQ_INT(repo_backend_read(be, REPO_OBJ_PACK, HP, 4, buf, 5), 0);
    CHECK(memcmp(buf, "bytes", 5) == 0);
    CHECK_EQ_INT(repo_backend_read(be, REPO_OBJ_PACK, HP, 4, buf, 6), -EIO);
    CHECK_EQ_INT(be->ops->list(be, REPO_OBJ_INDEX, collect, &nm), 0);
    CHECK_EQ_INT(nm.n, 2);
    CHECK(nm.seen_h1 == 1 && nm.seen_h2 == 1);
    memset(&nm, 0, sizeof nm);
    CHECK_EQ_INT(be->ops->list(be, REPO_OBJ_PACK, collect, &nm), 0);
    CHECK(nm.n == 1 && nm.seen_hp == 1);
    CHECK_EQ_INT(s3test_count_keys(&g_s3, BUCKET, "contract/data/ab/"), 1); /* the local layout's key */
    CHECK_EQ_INT(be->ops->del(be, REPO_OBJ_INDEX, H2), 0);
    CHECK_EQ_INT(be->ops->del(be, REPO_OBJ_INDEX, H2), -ENOENT);
    CHECK_EQ_INT(be->ops->stat(be, REPO_OBJ_INDEX, H2, &size), -ENOENT);
    memset(&nm, 0, sizeof nm);
    CHECK_EQ_INT(be->ops->list(be, REPO_OBJ_INDEX, collect, &nm), 0);
    CHECK(nm.n == 1 && nm.seen_h1 == 1);
    /* deleted by version: no delete marker hides anything, the name is free again */
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_INDEX, H2, "y", 1), 0);
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_INDEX, "../escape", "z", 1), -EINVAL);
    repo_backend_destroy(be);
}

TEST(s3_list_continues_past_one_page)
{
    struct repo_backend *be = open_be("many", 0);
    struct names nm = { 0 };
    char name[32];
    CHECK(be);
    for (int i = 0; i < 1005; i++) {
        snprintf(name, sizeof name, "lock-%016x", i);
        CHECKF(be->ops->put(be, REPO_OBJ_LOCK, name, "l", 1) == 0, "put %d", i);
    }
    CHECK_EQ_INT(be->ops->list(be, REPO_OBJ_LOCK, collect, &nm), 0);
    CHECK_EQ_INT(nm.n, 1005);
    repo_backend_destroy(be);
}

struct wjob {
    struct repo_bwriter *w;
    const struct repo_backend *be;
    const unsigned char *data;
    size_t from, to;
    int rc;
};

static void *write_range(void *arg)
{
    struct wjob *j = arg;
    for (size_t off = j->from; off < j->to && j->rc == 0; off += 65536) {
        size_t n = j->to - off < 65536 ? j->to - off : 65536;
        j->rc = j->be->ops->writer_write(j->w, off, j->data + off, n);
    }
    return NULL;
}

static int uploads_left(const char *prefix)
{
    char q[300], *out = NULL;
    long st = 0;
    int n = 0;
    snprintf(q, sizeof q, "prefix=%s&uploads=", prefix);
    if (s3test_request(&g_s3, "GET", "/" BUCKET, q, NULL, NULL, 0, &st, &out) < 0 || st != 200) {
        free(out);
        return -1;
    }
    for (const char *p = out; p && (p = strstr(p, "<UploadId>")) != NULL; p++) n++;
    free(out);
    return n;
}

TEST(s3_writers_single_and_multipart)
{
    struct repo_backend *be = open_be("writers", 0);
    size_t big = (20u << 20) + 12345;
    unsigned char *data = malloc(big), *back = malloc(big);
    struct repo_bwriter *w = NULL;
    struct wjob jobs[2];
    pthread_t th[2];
    char hb[] = "bb00000000000000000000000000000000000000000000000000000000000002";
    char hs[] = "cc00000000000000000000000000000000000000000000000000000000000003";
    char hx[] = "dd00000000000000000000000000000000000000000000000000000000000004";
    uint64_t size = 0;
    CHECK(be && data && back);
    for (size_t i = 0; i < big; i++) data[i] = (unsigned char)(i * 2654435761u >> 13);
    /* multipart: two threads write disjoint halves, read back before commit, commit, -EEXIST after */
    CHECK_EQ_INT(be->ops->writer_begin(be, REPO_OBJ_PACK, &w), 0);
    for (int k = 0; k < 2; k++) {
        jobs[k] = (struct wjob){ w, be, data, k ? big / 2 : 0, k ? big : big / 2, 0 };
        pthread_create(&th[k], NULL, write_range, &jobs[k]);
    }
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    CHECK(jobs[0].rc == 0 && jobs[1].rc == 0);
    CHECK_EQ_INT(be->ops->writer_read(w, 1000, back, 5000), 0);
    CHECK(memcmp(back, data + 1000, 5000) == 0);
    CHECK_EQ_INT(be->ops->stat(be, REPO_OBJ_PACK, hb, &size), -ENOENT); /* nothing visible before commit */
    CHECK_EQ_INT(be->ops->writer_commit(w, hb), 0);
    CHECK_EQ_INT(be->ops->writer_read(w, big - 10, back, 10), 0); /* readable until freed */
    be->ops->writer_free(w);
    CHECK_EQ_INT(be->ops->stat(be, REPO_OBJ_PACK, hb, &size), 0);
    CHECK_EQ_INT(size, big);
    memset(back, 0, big);
    CHECK_EQ_INT(repo_backend_read(be, REPO_OBJ_PACK, hb, 0, back, big), 0);
    CHECK(memcmp(back, data, big) == 0);
    CHECK_EQ_INT(repo_backend_read(be, REPO_OBJ_PACK, hb, 9u << 20, back, 3u << 20), 0); /* across parts */
    CHECK(memcmp(back, data + (9u << 20), 3u << 20) == 0);
    CHECK_EQ_INT(be->ops->writer_begin(be, REPO_OBJ_PACK, &w), 0);
    CHECK_EQ_INT(be->ops->writer_write(w, 0, data, big), 0);
    CHECK_EQ_INT(be->ops->writer_commit(w, hb), -EEXIST);
    be->ops->writer_free(w);
    /* single PUT below the part size */
    CHECK_EQ_INT(be->ops->writer_begin(be, REPO_OBJ_PACK, &w), 0);
    CHECK_EQ_INT(be->ops->writer_write(w, 0, data, 1000), 0);
    CHECK_EQ_INT(be->ops->writer_commit(w, hs), 0);
    be->ops->writer_free(w);
    CHECK_EQ_INT(repo_backend_read(be, REPO_OBJ_PACK, hs, 0, back, 1000), 0);
    CHECK(memcmp(back, data, 1000) == 0);
    /* abort: freed without commit, nothing of it anywhere */
    CHECK_EQ_INT(be->ops->writer_begin(be, REPO_OBJ_PACK, &w), 0);
    CHECK_EQ_INT(be->ops->writer_write(w, 0, data, big), 0);
    be->ops->writer_free(w);
    CHECK_EQ_INT(be->ops->stat(be, REPO_OBJ_PACK, hx, &size), -ENOENT);
    CHECK_EQ_INT(s3test_count_keys(&g_s3, BUCKET, "writers/"), 2);
    CHECK_EQ_INT(uploads_left("writers%2F"), 0);
    repo_backend_destroy(be);
    free(data);
    free(back);
}

/* direct_delete: what a thief with the bucket credential would try: DELETE of the object's current
 * version (and a plain DELETE), straight to the server. Returns the status of the version DELETE. */
static long direct_delete(const char *key)
{
    char path[400], vid[200], q[300];
    long st = 0;
    char *out = NULL;
    snprintf(path, sizeof path, "/" BUCKET "/%s", key);
    if (s3test_version_id(&g_s3, path, vid, sizeof vid) < 0) return -1;
    snprintf(q, sizeof q, "versionId=%s", vid);
    if (s3test_request(&g_s3, "DELETE", path, vid[0] ? q : "", NULL, NULL, 0, &st, &out) < 0) st = -1;
    free(out);
    return st;
}

TEST(s3_retention_enforced_by_server)
{
    struct repo_backend *be = open_be("locks", 0);
    int64_t now = util_time_now(), until = 0;
    uint64_t size = 0;
    char path[300], vid[200];
    CHECK(be);
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_SNAPSHOT, H1, "snap", 4), 0);
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_SNAPSHOT, H2, "snap2", 5), 0);
    CHECK_EQ_INT(be->ops->retain(be, REPO_OBJ_SNAPSHOT, "4444444444444444444444444444444444444444444444444444444444444444",
                                 now + 3600000000LL, REPO_RETAIN_COMPLIANCE), -ENOENT);
    CHECK_EQ_INT(be->ops->retained_until(be, REPO_OBJ_SNAPSHOT, H1, &until), 0);
    CHECK_EQ_INT(until, 0);
    CHECK_EQ_INT(be->ops->retain(be, REPO_OBJ_SNAPSHOT, H1, now + 2 * 3600000000LL, REPO_RETAIN_COMPLIANCE), 0);
    CHECK_EQ_INT(be->ops->retain(be, REPO_OBJ_SNAPSHOT, H1, now + 3600000000LL, REPO_RETAIN_COMPLIANCE), 0); /* earlier: no change */
    CHECK_EQ_INT(be->ops->retained_until(be, REPO_OBJ_SNAPSHOT, H1, &until), 0);
    CHECKF(until >= now + 2 * 3600000000LL - 1000000 && until <= now + 2 * 3600000000LL + 2000000, "until %lld",
           (long long)until);
    CHECK_EQ_INT(be->ops->del(be, REPO_OBJ_SNAPSHOT, H1), -EPERM);
    /* the server itself refuses, past the product */
    {
        long st = direct_delete("locks/snapshots/1111111111111111111111111111111111111111111111111111111111111111");
        CHECKF(st == 403, "direct DELETE of a COMPLIANCE-retained version answered %ld", st);
    }
    snprintf(path, sizeof path, "/" BUCKET "/locks/snapshots/%s", H1);
    CHECK_EQ_INT(s3test_version_id(&g_s3, path, vid, sizeof vid), 0); /* still there */
    /* GOVERNANCE (Administrative): refused without the bypass, shortened by retain, then deletable */
    CHECK_EQ_INT(be->ops->retain(be, REPO_OBJ_SNAPSHOT, H2, now + 3600000000LL, REPO_RETAIN_GOVERNANCE), 0);
    CHECK_EQ_INT(be->ops->del(be, REPO_OBJ_SNAPSHOT, H2), -EPERM);
    {
        long st = direct_delete("locks/snapshots/2222222222222222222222222222222222222222222222222222222222222222");
        CHECKF(st == 403, "direct DELETE of a GOVERNANCE-retained version answered %ld", st);
    }
    CHECK_EQ_INT(be->ops->retain(be, REPO_OBJ_SNAPSHOT, H2, util_time_now(), REPO_RETAIN_GOVERNANCE), 0); /* lifted */
    for (int i = 0; i < 40 && be->ops->del(be, REPO_OBJ_SNAPSHOT, H2) == -EPERM; i++) usleep(100000); /* within 2 s */
    CHECK_EQ_INT(be->ops->stat(be, REPO_OBJ_SNAPSHOT, H2, &size), -ENOENT);
    /* legal hold */
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_SNAPSHOT, H2, "snap2", 5), 0);
    CHECK_EQ_INT(be->ops->hold(be, REPO_OBJ_SNAPSHOT, H2, 1), 0);
    CHECK_EQ_INT(be->ops->del(be, REPO_OBJ_SNAPSHOT, H2), -EPERM);
    {
        long st = direct_delete("locks/snapshots/2222222222222222222222222222222222222222222222222222222222222222");
        CHECKF(st == 403, "direct DELETE of a version on legal hold answered %ld", st);
    }
    CHECK_EQ_INT(be->ops->hold(be, REPO_OBJ_SNAPSHOT, H2, 0), 0);
    CHECK_EQ_INT(be->ops->del(be, REPO_OBJ_SNAPSHOT, H2), 0);
    repo_backend_destroy(be);
}

TEST(s3_repository_reopens_from_cache)
{
    struct repo_backend *be = open_be("repo1", 1);
    struct repo *r = NULL;
    struct repo_s3_stats st0, st1;
    char key[600], err[512] = "";
    unsigned char blob[5000];
    repo_id_t ids[20];
    void *back = NULL;
    size_t len = 0;
    CHECK(be);
    snprintf(key, sizeof key, "%s/repo.key", g_tmp);
    CHECKF(repo_create_be(be, "s3://" BUCKET "/repo1", key, err, sizeof err) == 0, "%s", err);
    CHECKF(repo_open_be(be, "s3://" BUCKET "/repo1", key, &r, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < 20; i++) {
        for (size_t k = 0; k < sizeof blob; k++) blob[k] = (unsigned char)(k * 31 + (size_t)i * 7);
        repo_blob_id(r, blob, sizeof blob, &ids[i]);
        CHECK_EQ_INT(repo_blob_put(r, i % 2 ? REPO_BLOB_TREE : REPO_BLOB_DATA, &ids[i], blob, sizeof blob, NULL), 0);
    }
    CHECK_EQ_INT(repo_flush(r), 0);
    repo_close(r);
    r = NULL;
    /* a crash left temporaries in the cache: a dead process's entries being stored and its writer's
     * staging file (removed at the next open), and a live process's entry being stored (kept) */
    {
        char pat[700], stray[4][800];
        glob_t gl;
        pid_t dead = fork();
        if (dead == 0) _exit(0);
        CHECK(dead > 0 && waitpid(dead, NULL, 0) == dead);
        snprintf(pat, sizeof pat, "%s/cache/s3-*", g_tmp);
        CHECK(glob(pat, 0, NULL, &gl) == 0 && gl.gl_pathc == 1);
        snprintf(stray[0], sizeof stray[0], "%s/index/%s.tmp-%ld-Ab12Cd", gl.gl_pathv[0], H1, (long)dead);
        snprintf(stray[1], sizeof stray[1], "%s/blob/%s.tmp-%ld-Ef34Gh", gl.gl_pathv[0], H2, (long)dead);
        snprintf(stray[2], sizeof stray[2], "%s/tmp/w-%ld-Ij56Kl", gl.gl_pathv[0], (long)dead);
        snprintf(stray[3], sizeof stray[3], "%s/snapshots/%s.tmp-%ld-Mn78Op", gl.gl_pathv[0], H1, (long)getpid());
        globfree(&gl);
        for (int k = 0; k < 4; k++) {
            FILE *f = fopen(stray[k], "w");
            CHECKF(f != NULL, "%s", stray[k]);
            fputs("partial", f);
            fclose(f);
        }
        be = open_be("repo1", 1);
        CHECK(be);
        CHECKF(repo_open_be(be, "s3://" BUCKET "/repo1", key, &r, err, sizeof err) == 0, "%s", err);
        repo_close(r);
        r = NULL;
        for (int k = 0; k < 3; k++) CHECKF(access(stray[k], F_OK) != 0, "%s is still there", stray[k]);
        CHECKF(access(stray[3], F_OK) == 0, "a live process's temporary was removed");
        unlink(stray[3]);
    }
    /* reopen twice: the index comes from the cache, tree blobs too (kept when they were put) */
    for (int pass = 0; pass < 2; pass++) {
        be = open_be("repo1", 1);
        CHECK(be);
        CHECKF(repo_open_be(be, "s3://" BUCKET "/repo1", key, &r, err, sizeof err) == 0, "%s", err);
        repo_backend_s3_stats(be, &st0);
        CHECKF(st0.cache_hits >= 1, "the index was read from the cache at open (%llu hits)",
               (unsigned long long)st0.cache_hits);
        for (int i = 0; i < 20; i++) {
            CHECK_EQ_INT(repo_blob_get(r, &ids[i], &back, &len), 0);
            CHECK_EQ_INT(len, sizeof blob);
            CHECK(((unsigned char *)back)[4999] == (unsigned char)(4999 * 31 + (size_t)i * 7));
            free(back);
        }
        repo_backend_s3_stats(be, &st1);
        /* data blobs: a ranged GET each, or served by the read-ahead window of the one before */
        CHECKF(st1.gets - st0.gets + st1.readahead_hits - st0.readahead_hits == 10,
               "reading 10 data and 10 tree blobs made %llu GETs, %llu read-ahead hits (trees cached)",
               (unsigned long long)(st1.gets - st0.gets), (unsigned long long)(st1.readahead_hits - st0.readahead_hits));
        CHECK(st1.gets - st0.gets <= 2);
        CHECK_EQ_INT(st1.cache_hits - st0.cache_hits, 10);
        repo_close(r);
        r = NULL;
    }
}

/* upload_and_read: a 9 MiB pack through a writer (a multipart upload of two parts), and a 1000-byte
 * object by put, read back whole; 0 when both are. */
static int upload_and_read(struct repo_backend *be, const char *name)
{
    size_t big = (9u << 20) + 77;
    unsigned char *data = malloc(big), *back = malloc(big);
    struct repo_bwriter *w = NULL;
    int rc = data && back ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < big; i++) data[i] = (unsigned char)(i * 2246822519u >> 11);
    if (rc == 0) rc = be->ops->writer_begin(be, REPO_OBJ_PACK, &w);
    if (rc == 0) rc = be->ops->writer_write(w, 0, data, big);
    if (rc == 0) rc = be->ops->writer_commit(w, name);
    if (w) be->ops->writer_free(w);
    if (rc == 0) rc = repo_backend_read(be, REPO_OBJ_PACK, name, 0, back, big);
    if (rc == 0 && memcmp(back, data, big) != 0) rc = -EBADMSG;
    if (rc == 0) rc = be->ops->put(be, REPO_OBJ_INDEX, name, data, 1000);
    if (rc == 0) rc = repo_backend_read(be, REPO_OBJ_INDEX, name, 0, back, 1000);
    if (rc == 0 && memcmp(back, data, 1000) != 0) rc = -EBADMSG;
    if (rc == 0) rc = be->ops->del(be, REPO_OBJ_PACK, name);
    if (rc == 0) rc = be->ops->del(be, REPO_OBJ_INDEX, name);
    free(data);
    free(back);
    return rc;
}

/* Plain http: uploads are signed with their SHA-256 unless COFFER_S3_UNSIGNED_PAYLOAD=true, which
 * versitygw takes too. */
TEST(s3_payload_signed_on_plain_http)
{
    struct repo_s3_stats st;
    struct repo_backend *be = open_be("payload", 0);
    CHECK(be != NULL);
    CHECK_EQ_INT(upload_and_read(be, H3), 0);
    CHECK_EQ_INT(repo_backend_s3_stats(be, &st), 0);
    CHECK(st.puts >= 3);
    CHECK_EQ_INT(st.unsigned_puts, 0);
    repo_backend_destroy(be);
    setenv("COFFER_S3_UNSIGNED_PAYLOAD", "1", 1);
    be = open_be("payload", 0);
    unsetenv("COFFER_S3_UNSIGNED_PAYLOAD");
    CHECK(be != NULL);
    CHECK_EQ_INT(upload_and_read(be, H3), 0);
    CHECK_EQ_INT(repo_backend_s3_stats(be, &st), 0);
    CHECKF(st.unsigned_puts >= 3, "%llu unsigned", (unsigned long long)st.unsigned_puts);
    repo_backend_destroy(be);
}

TEST(s3_tls_is_verified)
{
    struct repo_s3_stats st;
    uint64_t n0;
    struct s3test tls;
    struct repo_s3_config cfg;
    struct repo_backend *be = NULL;
    char why[512] = "", err[512] = "", buf[8];
    size_t got = 0;
    CHECK_EQ_INT(s3test_available(&tls, why, sizeof why), 0);
    CHECKF(s3test_self_signed(&tls, g_tmp, why, sizeof why) == 0, "%s", why);
    CHECKF(s3test_start(&tls, "s3tls", why, sizeof why) == 0, "%s", why);
    CHECKF(s3test_make_bucket(&tls, "coffer-tls", why, sizeof why) == 0, "%s", why);
    s3test_env(&tls, NULL);
    setenv("COFFER_S3_CA_FILE", tls.tls_cert, 1);
    CHECK(strncmp(tls.endpoint, "https://", 8) == 0);
    /* trusted through the CA file: works */
    CHECKF(repo_s3_config_from_env("s3://coffer-tls/t", NULL, &cfg, err, sizeof err) == 0, "%s", err);
    CHECK(repo_backend_s3_new(&cfg, &be, err, sizeof err) == 0);
    repo_s3_config_clear(&cfg);
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_INDEX, H1, "over tls", 8), 0);
    CHECK_EQ_INT(be->ops->get(be, REPO_OBJ_INDEX, H1, 5, buf, 3, &got), 0);
    CHECK(got == 3 && memcmp(buf, "tls", 3) == 0);
    /* over TLS the bytes of an upload are not hashed for the signature (UNSIGNED-PAYLOAD), and the
     * server takes them: a single PUT and a multipart upload read back whole */
    CHECK_EQ_INT(repo_backend_s3_stats(be, &st), 0);
    CHECKF(st.unsigned_puts >= 1 && st.unsigned_puts == st.puts, "%llu of %llu uploads unsigned over TLS",
           (unsigned long long)st.unsigned_puts, (unsigned long long)st.puts); /* the put, the probe's */
    n0 = st.unsigned_puts;
    CHECK_EQ_INT(upload_and_read(be, H3), 0);
    CHECK_EQ_INT(repo_backend_s3_stats(be, &st), 0);
    CHECK(st.unsigned_puts >= n0 + 3); /* two parts and a PUT at least */
    repo_backend_destroy(be);
    be = NULL;
    /* COFFER_S3_UNSIGNED_PAYLOAD=false signs them over TLS too */
    setenv("COFFER_S3_UNSIGNED_PAYLOAD", "false", 1);
    CHECK(repo_s3_config_from_env("s3://coffer-tls/t", NULL, &cfg, err, sizeof err) == 0);
    unsetenv("COFFER_S3_UNSIGNED_PAYLOAD");
    CHECK(repo_backend_s3_new(&cfg, &be, err, sizeof err) == 0);
    repo_s3_config_clear(&cfg);
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_INDEX, H2, "signed", 6), 0);
    CHECK_EQ_INT(repo_backend_s3_stats(be, &st), 0);
    CHECK_EQ_INT(st.unsigned_puts, 0);
    CHECK_EQ_INT(be->ops->del(be, REPO_OBJ_INDEX, H2), 0);
    repo_backend_destroy(be);
    be = NULL;
    /* the same server without the CA file: the certificate is refused, nothing is sent */
    unsetenv("COFFER_S3_CA_FILE");
    CHECK(repo_s3_config_from_env("s3://coffer-tls/t", NULL, &cfg, err, sizeof err) == 0);
    CHECK(repo_backend_s3_new(&cfg, &be, err, sizeof err) == 0);
    repo_s3_config_clear(&cfg);
    CHECK_EQ_INT(be->ops->put(be, REPO_OBJ_INDEX, H2, "x", 1), -EIO);
    repo_backend_destroy(be);
    s3test_destroy(&tls);
    s3test_env(&g_s3, NULL);
}

int main(void)
{
    static const char *const TESTS[] = { "s3_put_get_list_del", "s3_list_continues_past_one_page",
                                         "s3_writers_single_and_multipart", "s3_retention_enforced_by_server",
                                         "s3_repository_reopens_from_cache", "s3_payload_signed_on_plain_http",
                                         "s3_tls_is_verified" };
    if (s3test_serve_or_skip(&g_s3, "s3be", BUCKET, TESTS, sizeof TESTS / sizeof *TESTS) != 0) return check_finish();
    g_tmp = check_tmpdir("s3be-local");
    RUN(s3_put_get_list_del);
    RUN(s3_list_continues_past_one_page);
    RUN(s3_writers_single_and_multipart);
    RUN(s3_retention_enforced_by_server);
    RUN(s3_repository_reopens_from_cache);
    RUN(s3_payload_signed_on_plain_http);
    RUN(s3_tls_is_verified);
    s3test_destroy(&g_s3);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
