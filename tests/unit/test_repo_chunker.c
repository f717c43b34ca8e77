/* test_repo_chunker.c: FastCDC cut points: determinism, streaming equivalence, size bounds,
 * boundary stability under an insertion, per-repository keying; prints informational speeds. */
#include "check.h"
#include "repo/repo.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BIG (20u * 1024 * 1024)

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

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* chunk_all: cut points of a whole buffer (one-shot); returns the count. */
static size_t chunk_all(const struct repo *r, const uint8_t *p, size_t len, size_t *cuts, size_t max)
{
    size_t n = 0, pos = 0;
    while (pos < len && n < max) {
        size_t c = repo_chunk_cut(r, p + pos, len - pos, 1);
        if (c == 0) break;
        cuts[n++] = c;
        pos += c;
    }
    return n;
}

static struct repo *g_r, *g_r2;
static char *g_dir;
static uint8_t *g_data;

static int setup(void)
{
    char repo[512], key[512], err[256];
    g_dir = check_tmpdir("repo-chunker");
    snprintf(repo, sizeof repo, "%s/r1", g_dir);
    snprintf(key, sizeof key, "%s/key", g_dir);
    if (repo_create(repo, key, err, sizeof err) || repo_open(repo, key, &g_r, err, sizeof err))
        return -1;
    snprintf(repo, sizeof repo, "%s/r2", g_dir);
    if (repo_create(repo, key, err, sizeof err) || repo_open(repo, key, &g_r2, err, sizeof err))
        return -1;
    g_data = malloc(BIG + 4096);
    fill_random(g_data, BIG + 4096, 1);
    return 0;
}

TEST(small_inputs)
{
    uint8_t buf[100] = { 0 };
    CHECK_EQ_INT(repo_chunk_cut(g_r, buf, 0, 1), 0);
    CHECK_EQ_INT(repo_chunk_cut(g_r, buf, 100, 1), 100);
    CHECK_EQ_INT(repo_chunk_cut(g_r, buf, 100, 0), 0); /* more bytes needed */
    CHECK_EQ_INT(repo_chunk_cut(g_r, g_data, REPO_CHUNK_MIN, 0), 0);
    CHECK_EQ_INT(repo_chunk_cut(g_r, g_data, REPO_CHUNK_MIN, 1), REPO_CHUNK_MIN);
}

TEST(sizes_and_determinism)
{
    static size_t a[64], b[64];
    size_t na = chunk_all(g_r, g_data, BIG, a, 64), nb = chunk_all(g_r, g_data, BIG, b, 64);
    size_t total = 0;
    CHECK(na > 8 && na < 40);
    CHECK(na == nb && memcmp(a, b, na * sizeof *a) == 0);
    for (size_t i = 0; i < na; i++) {
        total += a[i];
        if (i + 1 < na)
            CHECKF(a[i] >= REPO_CHUNK_MIN && a[i] <= REPO_CHUNK_MAX, "chunk %zu is %zu", i, a[i]);
    }
    CHECK_EQ_INT(total, BIG);
    printf("info: %zu chunks of mean %.2f MiB from 20 MiB of random data\n", na,
           (double)BIG / (double)na / 1048576.0);
    /* another repository has another gear table, so other cut points */
    nb = chunk_all(g_r2, g_data, BIG, b, 64);
    CHECK(na != nb || memcmp(a, b, na * sizeof *a) != 0);
}

TEST(zeros_cut_at_max)
{
    uint8_t *z = calloc(1, BIG);
    static size_t a[64];
    size_t n = chunk_all(g_r, z, BIG, a, 64);
    CHECK(n >= 3);
    for (size_t i = 0; i + 1 < n; i++) CHECK(a[i] >= REPO_CHUNK_MIN && a[i] <= REPO_CHUNK_MAX);
    free(z);
}

TEST(streaming_equals_oneshot)
{
    static size_t a[64];
    size_t na = chunk_all(g_r, g_data, BIG, a, 64), k = 0, pos = 0, avail = 0;
    /* a reader that hands over 300 KiB at a time, as a file backup would */
    while (pos < BIG) {
        size_t c;
        if (avail < BIG - pos) avail += 300 * 1024;
        if (avail > BIG - pos) avail = BIG - pos;
        c = repo_chunk_cut(g_r, g_data + pos, avail, pos + avail == BIG);
        if (c == 0) continue;
        CHECKF(k < na && c == a[k], "chunk %zu: streaming %zu, one-shot %zu", k, c, a[k]);
        k++;
        pos += c;
        avail -= c;
    }
    CHECK_EQ_INT(k, na);
}

TEST(boundary_stability)
{
    static size_t a[64], b[64];
    uint8_t *shifted = malloc(BIG + 100);
    repo_id_t ida[64], idb[64];
    size_t na, nb, pos = 0, kept = 0;
    memcpy(shifted, "inserted at the start of the file, 50 bytes long!", 50);
    memcpy(shifted + 50, g_data, BIG);
    na = chunk_all(g_r, g_data, BIG, a, 64);
    nb = chunk_all(g_r, shifted, BIG + 50, b, 64);
    for (size_t i = 0; i < na; pos += a[i], i++) repo_blob_id(g_r, g_data + pos, a[i], &ida[i]);
    pos = 0;
    for (size_t i = 0; i < nb; pos += b[i], i++) repo_blob_id(g_r, shifted + pos, b[i], &idb[i]);
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < na; j++)
            if (memcmp(&idb[i], &ida[j], sizeof ida[j]) == 0) {
                kept++;
                break;
            }
    printf("info: after a 50-byte insertion %zu of %zu chunks keep their ids\n", kept, nb);
    CHECKF(kept + 2 >= na, "only %zu of %zu chunks survived", kept, na);
    free(shifted);
}

/* print_throughput: a printed figure, not a test (no PASS line); a failed put counts as a failure
 * outside a RUN. */
static void print_throughput(void)
{
    double t0 = now_s(), dt;
    size_t pos = 0, n = 0, added;
    while (pos < BIG) {
        size_t c = repo_chunk_cut(g_r, g_data + pos, BIG - pos, 1);
        pos += c;
        n++;
    }
    dt = now_s() - t0;
    printf("info: chunker %.0f MB/s (this build; see bench/repo_bench.c for -O2)\n",
           BIG / dt / 1e6);
    t0 = now_s();
    pos = 0;
    for (int i = 0; i < 8; i++) {
        repo_id_t id;
        repo_blob_id(g_r, g_data + pos, 1u << 20, &id);
        CHECK(repo_blob_put(g_r, REPO_BLOB_DATA, &id, g_data + pos, 1u << 20, &added) == 0);
        pos += 1u << 20;
    }
    CHECK(repo_flush(g_r) == 0);
    dt = now_s() - t0;
    printf("info: put (random data, 1 thread) %.0f MB/s\n", 8.0 * 1048576 / dt / 1e6);
}

int main(void)
{
    if (setup() < 0) {
        check_fail(__FILE__, __LINE__, "setup failed");
        return check_finish();
    }
    RUN(small_inputs);
    RUN(sizes_and_determinism);
    RUN(zeros_cut_at_max);
    RUN(streaming_equals_oneshot);
    RUN(boundary_stability);
    print_throughput();
    repo_close(g_r);
    repo_close(g_r2);
    free(g_data);
    check_rm_rf(g_dir);
    free(g_dir);
    return check_finish();
}
