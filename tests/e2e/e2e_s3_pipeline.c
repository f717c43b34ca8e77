/* e2e_s3_pipeline.c: the S3 write and read pipelines against a real S3-compatible server (versitygw,
 * tests/e2e/s3test.c) on loopback:
 *   - background uploads: with a small pack target, puts hand full packs to the background sealers
 *     and go on; a flush waits for every upload before it writes the index, so a repository opened
 *     afresh (no cache) finds every pack its index names, and every blob reads back byte for byte;
 *   - a background upload that fails (the server killed while packs are uploaded behind the puts)
 *     fails the snapshot of the writer that was running (-ESTALE, nothing written), the index never
 *     names a pack that is not in the bucket (a fresh open and verify are clean), and the lost
 *     blobs are stored again by the next writer, whose snapshot then succeeds;
 *   - streaming reads: eight threads reading the blobs of one 12 MiB pack in interleaved order get
 *     the right bytes with one GET per 4 MiB block (not one per blob); with the server down a read
 *     fails (no hang, no poisoned block), and after its restart it succeeds. */
#include "check.h"
#include "s3test.h"
#include "repo/backend.h"
#include "repo/repo.h"
#include "repo/repo_int.h"
#include "util/time.h"
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUCKET "coffer-pipeline"
#define BLOB 30000

static struct s3test g_s3;
static char *g_tmp;

/* open_be: a backend on prefix; cache_tag names a cache directory under the test's (NULL: none). */
static struct repo_backend *open_be(const char *prefix, const char *cache_tag, int retries)
{
    struct repo_s3_config cfg;
    struct repo_backend *be = NULL;
    char url[256], cache[600], err[512] = "";
    snprintf(url, sizeof url, "s3://" BUCKET "/%s", prefix);
    snprintf(cache, sizeof cache, "%s/%s", g_tmp, cache_tag ? cache_tag : "");
    s3test_env(&g_s3, NULL);
    if (repo_s3_config_from_env(url, cache_tag ? cache : NULL, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return NULL;
    }
    cfg.retries = retries;
    cfg.timeout_s = 5;
    if (repo_backend_s3_new(&cfg, &be, err, sizeof err) != 0) fprintf(stderr, "backend: %s\n", err);
    repo_s3_config_clear(&cfg);
    return be;
}

/* open_repo: creates (create 1) and opens the repository on prefix. */
static struct repo *open_repo(const char *prefix, const char *cache_tag, int retries, int create)
{
    struct repo_backend *be = open_be(prefix, cache_tag, retries);
    struct repo *r = NULL;
    char key[600], label[300], err[512] = "";
    if (!be) return NULL;
    snprintf(key, sizeof key, "%s/%s.key", g_tmp, prefix);
    snprintf(label, sizeof label, "s3://" BUCKET "/%s", prefix);
    if (create && repo_create_be(be, label, key, err, sizeof err) != 0) {
        fprintf(stderr, "create: %s\n", err);
        repo_backend_destroy(be);
        return NULL;
    }
    if (repo_open_be(be, label, key, &r, err, sizeof err) != 0) fprintf(stderr, "open: %s\n", err);
    return r;
}

static void blob_fill(unsigned char *b, size_t len, int seed)
{
    uint32_t x = 2463534242u ^ (uint32_t)seed * 2654435761u;
    for (size_t k = 0; k < len; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[k] = (unsigned char)x; /* incompressible: a pack fills with stored bytes */
    }
}

static int put_seed(struct repo *r, int seed, repo_id_t *id)
{
    static unsigned char b[BLOB];
    blob_fill(b, sizeof b, seed);
    repo_blob_id(r, b, sizeof b, id);
    return repo_blob_put(r, REPO_BLOB_DATA, id, b, sizeof b, NULL);
}

static int same_seed(struct repo *r, const repo_id_t *id, int seed)
{
    unsigned char want[BLOB];
    void *back = NULL;
    size_t len = 0;
    int same;
    if (repo_blob_get(r, id, &back, &len) != 0) return 0;
    blob_fill(want, sizeof want, seed);
    same = len == sizeof want && memcmp(back, want, len) == 0;
    free(back);
    return same;
}

/* verify_clean: repo_verify finds no error (no pack the index names is missing). */
static int verify_clean(struct repo *r, json_t **rep_out)
{
    json_t *rep = NULL;
    int ok = repo_verify(r, 0, &rep) == 0 && json_is_true(json_object_get(rep, "ok")) &&
             json_array_size(json_object_get(rep, "errors")) == 0;
    if (!ok && rep) {
        char *t = json_dumps(rep, JSON_COMPACT);
        fprintf(stderr, "verify: %s\n", t ? t : "?");
        free(t);
    }
    if (rep_out) *rep_out = rep;
    else json_decref(rep);
    return ok;
}

TEST(background_uploads_are_durable_before_the_index)
{
    struct repo *r = open_repo("bg", "cache-bg", 2, 1);
    repo_id_t ids[40];
    json_t *doc = json_pack("{s:s}", "note", "no tree: verify walks none"), *rep = NULL;
    char snap[REPO_ID_HEX_LEN + 1];
    struct repo_stats st;
    uint64_t epoch;
    CHECK(r && doc);
    repo_set_pack_target(r, 64 * 1024); /* a pack every third blob: most are sealed in the background */
    epoch = repo_write_epoch(r);
    for (int i = 0; i < 40; i++) CHECK_EQ_INT(put_seed(r, i, &ids[i]), 0);
    CHECK_EQ_INT(repo_snapshot_write_since(r, doc, epoch, snap), 0);
    repo_get_stats(r, &st);
    CHECKF(st.packs >= 12, "%llu packs", (unsigned long long)st.packs);
    for (int i = 0; i < 40; i++) CHECKF(same_seed(r, &ids[i], i), "blob %d", i);
    repo_close(r);
    /* afresh, without the cache: the index comes from the bucket and names only packs there */
    r = open_repo("bg", NULL, 2, 0);
    CHECK(r);
    CHECK(verify_clean(r, &rep));
    CHECKF(json_integer_value(json_object_get(rep, "packs")) == (json_int_t)st.packs, "verify saw %lld packs",
           (long long)json_integer_value(json_object_get(rep, "packs")));
    for (int i = 0; i < 40; i++) CHECKF(same_seed(r, &ids[i], i), "blob %d after reopening", i);
    json_decref(rep);
    json_decref(doc);
    repo_close(r);
}

TEST(failed_background_upload_fails_the_snapshot)
{
    struct repo *r = open_repo("bgfail", "cache-bgfail", 0, 1);
    repo_id_t ids[30];
    json_t *doc = json_pack("{s:s}", "note", "no tree: verify walks none");
    char snap[REPO_ID_HEX_LEN + 1], why[512] = "";
    uint64_t epoch, e2;
    int lost = 0, rc;
    CHECK(r && doc);
    repo_set_pack_target(r, 64 * 1024);
    epoch = repo_write_epoch(r);
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(put_seed(r, i, &ids[i]), 0);
    CHECK_EQ_INT(repo_flush(r), 0); /* these ten are durable and indexed */
    /* the server goes away while the next packs are uploaded behind the puts */
    s3test_kill(&g_s3, SIGKILL);
    for (int i = 10; i < 30; i++) {
        rc = put_seed(r, i, &ids[i]);
        CHECKF(rc == 0 || rc == -EIO, "put %d: %d", i, rc); /* a put that seals in line may see it */
    }
    for (int k = 0; k < 300 && repo_write_epoch(r) == epoch; k++) usleep(20000);
    CHECKF(repo_write_epoch(r) != epoch, "no background upload failed");
    CHECKF(s3test_restart(&g_s3, why, sizeof why) == 0, "%s", why);
    /* the server is back, so the flush itself works now: the epoch alone refuses the snapshot */
    CHECK_EQ_INT(repo_snapshot_write_since(r, doc, epoch, snap), -ESTALE);
    for (int i = 10; i < 30; i++) lost += !repo_blob_exists(r, &ids[i]);
    CHECKF(lost >= 3, "only %d blobs count as lost", lost);
    repo_close(r);
    /* afresh, without the cache: every pack the index names is in the bucket; no snapshot */
    r = open_repo("bgfail", NULL, 2, 0);
    CHECK(r);
    CHECK(verify_clean(r, NULL));
    {
        json_t *ids_js = NULL;
        CHECK_EQ_INT(repo_snapshot_list(r, &ids_js), 0);
        CHECK_EQ_INT(json_array_size(ids_js), 0);
        json_decref(ids_js);
    }
    for (int i = 0; i < 10; i++) CHECKF(same_seed(r, &ids[i], i), "durable blob %d", i);
    /* the next writer stores the lost blobs again, and its snapshot is saved */
    e2 = repo_write_epoch(r);
    for (int i = 10; i < 30; i++) CHECK_EQ_INT(put_seed(r, i, &ids[i]), 0);
    CHECK_EQ_INT(repo_snapshot_write_since(r, doc, e2, snap), 0);
    repo_close(r);
    r = open_repo("bgfail", NULL, 2, 0);
    CHECK(r);
    CHECK(verify_clean(r, NULL));
    for (int i = 0; i < 30; i++) CHECKF(same_seed(r, &ids[i], i), "blob %d", i);
    json_decref(doc);
    repo_close(r);
}

struct reader {
    struct repo *r;
    const repo_id_t *ids;
    int n, t, nt, bad;
};

static void *read_some(void *arg)
{
    struct reader *rd = arg;
    for (int i = rd->t; i < rd->n; i += rd->nt)
        if (!same_seed(rd->r, &rd->ids[i], 1000 + i)) rd->bad++;
    return NULL;
}

TEST(streaming_reads_fetch_each_block_once)
{
    enum { N = 400, THREADS = 8 }; /* 400 x 30 kB: one pack of about 12 MiB, three 4 MiB blocks */
    struct repo *r = open_repo("stream", NULL, 0, 1);
    static repo_id_t ids[N];
    struct repo_s3_stats s0, s1;
    struct reader rd[THREADS];
    pthread_t th[THREADS];
    char why[512] = "";
    void *back = NULL;
    size_t len = 0;
    int bad = 0;
    CHECK(r);
    for (int i = 0; i < N; i++) CHECK_EQ_INT(put_seed(r, 1000 + i, &ids[i]), 0);
    CHECK_EQ_INT(repo_flush(r), 0);
    repo_close(r);
    r = open_repo("stream", NULL, 0, 0);
    CHECK(r);
    CHECK_EQ_INT(repo_backend_s3_stats(r->be, &s0), 0);
    for (int t = 0; t < THREADS; t++) {
        rd[t] = (struct reader){ r, ids, N, t, THREADS, 0 };
        CHECK(pthread_create(&th[t], NULL, read_some, &rd[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        bad += rd[t].bad;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(repo_backend_s3_stats(r->be, &s1), 0);
    /* a plain GET per thread at most before the pack counts as streamed, then one per block (and
     * perhaps one past the end fetched ahead) */
    CHECKF(s1.gets - s0.gets <= THREADS + 4, "%llu GETs for %d blobs",
           (unsigned long long)(s1.gets - s0.gets), N);
    CHECKF(s1.readahead_hits - s0.readahead_hits >= N - THREADS - 4, "%llu reads from blocks",
           (unsigned long long)(s1.readahead_hits - s0.readahead_hits));
    repo_close(r);
    /* a fresh repository: one read (a plain GET) makes the pack streamed; with the server down the
     * block fetch of the next read fails, and so does the read (no hang); back up, the same block
     * is fetched and read (the failure left nothing behind), and so is the blob whose read failed:
     * storage out of reach is not damage (backend.h: -ENETUNREACH, not -EIO). */
    r = open_repo("stream", NULL, 0, 0);
    CHECK(r);
    CHECK(same_seed(r, &ids[0], 1000));
    s3test_kill(&g_s3, SIGKILL);
    CHECK(repo_blob_get(r, &ids[200], &back, &len) != 0);
    CHECKF(s3test_restart(&g_s3, why, sizeof why) == 0, "%s", why);
    for (int i = 201; i < 240; i++) CHECKF(same_seed(r, &ids[i], 1000 + i), "blob %d after the restart", i);
    CHECK(same_seed(r, &ids[200], 1200));
    CHECK_EQ_INT(repo_blob_check(r, &ids[200]), 0);
    repo_close(r);
    /* and a fresh open does not find it on the damaged-blob list either */
    r = open_repo("stream", NULL, 0, 0);
    CHECK(r);
    CHECK_EQ_INT(repo_blob_check(r, &ids[200]), 0);
    CHECK(same_seed(r, &ids[200], 1200));
    repo_close(r);
}

int main(void)
{
    static const char *const TESTS[] = { "background_uploads_are_durable_before_the_index",
                                         "failed_background_upload_fails_the_snapshot",
                                         "streaming_reads_fetch_each_block_once" };
    if (s3test_serve_or_skip(&g_s3, "s3pipe", BUCKET, TESTS, sizeof TESTS / sizeof *TESTS) != 0) return check_finish();
    g_tmp = check_tmpdir("s3pipe-local");
    RUN(background_uploads_are_durable_before_the_index);
    RUN(failed_background_upload_fails_the_snapshot);
    RUN(streaming_reads_fetch_each_block_once);
    s3test_destroy(&g_s3);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
