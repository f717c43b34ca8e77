/* repo_bench.c: throughput of the repository's hot paths, built with the release flags:
 *
 *   cc -std=c17 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Isrc -O2 -march=x86-64-v2 -pthread \
 *      -o build/repo_bench bench/repo_bench.c src/repo/[!t]*.c src/util/fsio.c src/util/log.c \
 *      $(pkg-config --cflags --libs jansson libcrypto libzstd)
 *   build/repo_bench [dir]
 *
 * Reports MB/s for: the chunker alone, blob ids (HMAC-SHA-256), put of incompressible and of
 * compressible data with 1 and 2 threads (chunk, id, zstd, AES-256-GCM, pack append; the flush
 * with its fsyncs is included), and get (pread, decrypt, decompress, re-hash). */
#include "repo/repo.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DATA_LEN ((size_t)256 << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

static void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
    static const char *w[] = { "int ", "return ", "struct repo ", "if (rc < 0) ", "{\n", "}\n",
                               "backup ", "snapshot_", "0x", "42", ";\n", "    " };
    uint64_t x = seed + 1;
    size_t i = 0;
    while (i < n) {
        const char *s;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        s = w[(x >> 33) % 12];
        for (size_t k = 0; s[k] && i < n; k++) p[i++] = (uint8_t)s[k];
    }
}

struct job {
    struct repo *r;
    const uint8_t *data;
    size_t len;
    int rc;
    size_t chunks;
};

static void *put_range(void *arg)
{
    struct job *j = arg;
    size_t pos = 0;
    while (pos < j->len) {
        size_t c = repo_chunk_cut(j->r, j->data + pos, j->len - pos, 1);
        repo_id_t id;
        repo_blob_id(j->r, j->data + pos, c, &id);
        if (repo_blob_put(j->r, REPO_BLOB_DATA, &id, j->data + pos, c, NULL) != 0) j->rc = -1;
        pos += c;
        j->chunks++;
    }
    return NULL;
}

static double bench_put(struct repo *r, const uint8_t *data, size_t len, int threads)
{
    pthread_t th[8];
    struct job jobs[8];
    double t0 = now_s();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct job){ r, data + len / threads * t, len / threads, 0, 0 };
        pthread_create(&th[t], NULL, put_range, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    repo_flush(r);
    for (int t = 0; t < threads; t++)
        if (jobs[t].rc) fprintf(stderr, "put failed\n");
    return len / (now_s() - t0) / 1e6;
}

int main(int argc, char **argv)
{
    char dir[512], repo_dir[600], key[600], err[256], cmd[700];
    uint8_t *rnd = malloc(DATA_LEN), *txt = malloc(DATA_LEN);
    struct repo *r = NULL;
    struct repo_stats st;
    double t0, dt;
    size_t pos, n;
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : "/tmp/coffer-repo-bench");
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", dir);
    snprintf(key, sizeof key, "%s/key", dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    if (repo_create(repo_dir, key, err, sizeof err) || repo_open(repo_dir, key, &r, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    fill_random(rnd, DATA_LEN, 1);
    fill_text(txt, DATA_LEN, 2);

    for (int rep = 0; rep < 3; rep++) {
        t0 = now_s();
        for (pos = 0, n = 0; pos < DATA_LEN; n++) pos += repo_chunk_cut(r, rnd + pos, DATA_LEN - pos, 1);
        dt = now_s() - t0;
        printf("chunker:            %7.0f MB/s  (%zu chunks, mean %.2f MiB)\n", DATA_LEN / dt / 1e6,
               n, (double)DATA_LEN / (double)n / 1048576.0);
    }
    t0 = now_s();
    for (pos = 0; pos < DATA_LEN; pos += 1u << 20) {
        repo_id_t id;
        repo_blob_id(r, rnd + pos, 1u << 20, &id);
    }
    printf("blob id (HMAC):     %7.0f MB/s\n", DATA_LEN / (now_s() - t0) / 1e6);

    printf("put random,  1 thr: %7.0f MB/s\n", bench_put(r, rnd, DATA_LEN / 2, 1));
    printf("put random,  2 thr: %7.0f MB/s\n", bench_put(r, rnd + DATA_LEN / 2, DATA_LEN / 2, 2));
    printf("put text,    1 thr: %7.0f MB/s\n", bench_put(r, txt, DATA_LEN / 2, 1));
    printf("put text,    2 thr: %7.0f MB/s\n", bench_put(r, txt + DATA_LEN / 2, DATA_LEN / 2, 2));
    printf("put again (dedup):  %7.0f MB/s\n", bench_put(r, rnd, DATA_LEN, 2));
    repo_get_stats(r, &st);
    printf("stats: %llu packs, %llu blobs, %.1f MiB in packs (text compressed), %llu bytes of "
           "index in memory\n", (unsigned long long)st.packs, (unsigned long long)st.blobs,
           st.pack_bytes / 1048576.0, (unsigned long long)st.index_bytes_in_memory);

    t0 = now_s();
    for (pos = 0; pos < DATA_LEN / 2;) { /* the range the 1-thread put chunked as one stream */
        size_t c = repo_chunk_cut(r, txt + pos, DATA_LEN / 2 - pos, 1), len = 0;
        repo_id_t id;
        void *out = NULL;
        repo_blob_id(r, txt + pos, c, &id);
        if (repo_blob_get(r, &id, &out, &len) != 0 || len != c) fprintf(stderr, "get failed\n");
        free(out);
        pos += c;
    }
    printf("get text,    1 thr: %7.0f MB/s\n", DATA_LEN / 2 / (now_s() - t0) / 1e6);
    repo_close(r);
    if (system(cmd) != 0) return 1;
    free(rnd);
    free(txt);
    return 0;
}
