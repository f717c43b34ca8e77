/* bench_search.c: indexed file search at scale, built and driven by bench/bench_search.sh.
 *
 *   bench_search fill DATA_DIR TENANT N     fills DATA_DIR/catalog.db's (or COFFER_CATALOG's) file index with N synthetic
 *                                           paths of one snapshot (through the catalog's own functions:
 *                                           cat_snapshot_insert, cat_fidx_begin/add/finish), as the
 *                                           indexer would after a backup of such a tree
 *   bench_search query BASE_URL KEY TENANT Q  sends Q substring searches (POST
 *                                           /v2/data-protect/search/indexed-objects, one keep-alive
 *                                           connection) and prints p50 / p90 / p99 / max latency,
 *                                           overall and per class of query
 *
 * Paths look like /home/user<k>/<word><n>/.../file_<i>_<word>.<ext> (depth 2-6, 25 words, 6
 * extensions), so a name query can be narrow ("file_123456_": one to eleven hits), medium
 * ("123_beta": tens) or broad ("report": tens of thousands; a page of 100 and a count capped past
 * it), and a path query (text with '/', e.g. "gamma3/delta": hundreds) searches whole paths.
 * The random generator is fixed, so runs are comparable. */
#include "catalog/cat.h"
#include "catalog/cat_file_index.h"
#include "catalog/cat_snapshot.h"
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const words[] = { "alpha", "beta", "gamma", "delta", "report", "photo", "music", "src", "lib",
                                     "doc", "build", "test", "home", "user", "data", "var", "log", "cache", "img",
                                     "video", "notes", "proj", "backup", "conf", "share" };
#define NWORDS (sizeof words / sizeof words[0])
static const char *const exts[] = { "txt", "jpg", "c", "h", "md", "log" };

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int fill(const char *data_dir, const char *tenant, long n)
{
    char path[4096], err[256], snap[65];
    struct cat *cat;
    int64_t no = 0;
    double t0 = now_ms();
    const char *url = getenv("COFFER_CATALOG"); /* the catalog on PostgreSQL (bench_search.sh --pg) */
    if (url && *url) snprintf(path, sizeof path, "%s", url);
    else snprintf(path, sizeof path, "%s/catalog.db", data_dir);
    if (cat_open(path, &cat, err, sizeof err) != 0) {
        fprintf(stderr, "bench_search: %s\n", err);
        return 1;
    }
    for (int i = 0; i < 64; i++) snap[i] = "0123456789abcdef"[next() & 15];
    snap[64] = '\0';
    {
        struct cat_snapshot s = { .tenant = (char *)tenant, .id = snap, .object_id = 1, .object_name = (char *)"bench-host",
                                  .source_id = 1, .environment = (char *)"kPhysical", .group_id = (char *)"1:1:1",
                                  .group_name = (char *)"bench-group", .group_seq = 1, .run_usecs = 1700000000000000,
                                  .instance_id = 1, .run_type = (char *)"kRegular", .snapshot_usecs = 1700000000000000,
                                  .end_usecs = 1700000001000000, .status = (char *)"kSuccessful" };
        if (cat_snapshot_insert(cat, &s) != 0 || cat_fidx_begin(cat, tenant, snap, 1, 1700000002000000, &no) != 0) {
            fprintf(stderr, "bench_search: cannot record the snapshot\n");
            return 1;
        }
    }
    if (cat_begin(cat) != 0) return 1;
    for (long i = 0; i < n; i++) {
        struct cat_fidx_entry e = { .path = path, .type = CAT_FIDX_FILE, .size = (int64_t)(next() % 1000000),
                                    .mtime_usecs = 1600000000000000 + (int64_t)(next() % 100000000000000ull) };
        int depth = 2 + (int)(next() % 5), k;
        size_t len = (size_t)snprintf(path, sizeof path, "/home/user%d", (int)(next() % 20));
        for (k = 0; k < depth; k++)
            len += (size_t)snprintf(path + len, sizeof path - len, "/%s%d", words[next() % NWORDS], (int)(next() % 51));
        snprintf(path + len, sizeof path - len, "/file_%ld_%s.%s", i, words[next() % NWORDS], exts[next() % 6]);
        if (cat_fidx_add(cat, tenant, 1, no, &e) != 0) {
            fprintf(stderr, "bench_search: cat_fidx_add failed at %ld\n", i);
            return 1;
        }
        if ((i + 1) % 20000 == 0) {
            if (cat_commit(cat) != 0 || cat_begin(cat) != 0) return 1;
        }
        if ((i + 1) % 200000 == 0) fprintf(stderr, "  %ld paths (%.0f s)\n", i + 1, (now_ms() - t0) / 1e3);
    }
    if (cat_commit(cat) != 0 || cat_fidx_finish(cat, no, "Done", NULL, n, 1700000003000000) != 0) return 1;
    {
        int64_t paths = 0, versions = 0;
        cat_fidx_count(cat, tenant, &paths, &versions);
        printf("filled %lld paths (%lld versions) in %.1f s (%.0f paths/s)\n", (long long)paths, (long long)versions,
               (now_ms() - t0) / 1e3, n / ((now_ms() - t0) / 1e3));
    }
    cat_close(cat);
    return 0;
}

struct body { char *p; size_t len, cap, total; };

static size_t keep(char *p, size_t s, size_t n, void *ud)
{
    struct body *b = ud;
    size_t add = s * n;
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->len + add + 1) cap *= 2;
        if (!(b->p = realloc(b->p, cap))) return 0;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, add);
    b->len += add;
    b->p[b->len] = '\0';
    b->total += add;
    return add;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n, double hits)
{
    if (n == 0) return;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    printf("%-7s n=%-4d matches %8.0f  p50 %6.2f ms  p90 %6.2f ms  p99 %6.2f ms  max %6.2f ms\n", what, n,
           hits / n, v[n / 2], v[(int)(n * 0.9)], v[n * 99 / 100 < n ? n * 99 / 100 : n - 1], v[n - 1]);
}

static int query(const char *base, const char *key, const char *tenant, int q)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    char url[512], auth[300], th[300], body[256], text[64];
    double *all = calloc((size_t)q, sizeof *all), *cls[4];
    int ncls[4] = { 0, 0, 0, 0 };
    double hits[4] = { 0, 0, 0, 0 }, all_hits = 0;
    struct body b = { 0 };
    static const char *const names[4] = { "narrow", "medium", "broad", "path" };
    long status;
    for (int i = 0; i < 4; i++) cls[i] = calloc((size_t)q, sizeof *cls[i]);
    snprintf(url, sizeof url, "%s/v2/data-protect/search/indexed-objects", base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    snprintf(th, sizeof th, "X-IBM-Tenant-Id: %s", tenant);
    hl = curl_slist_append(hl, auth);
    hl = curl_slist_append(hl, th);
    hl = curl_slist_append(hl, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    rng = 0x1234567887654321ull;
    for (int i = 0; i < q + 10; i++) { /* 10 warm-up queries first */
        int k = i % 4;
        double t;
        if (k == 0) snprintf(text, sizeof text, "file_%d_", (int)(next() % 1000000));
        else if (k == 1) snprintf(text, sizeof text, "%03d_%s", (int)(next() % 1000), words[next() % NWORDS]);
        else if (k == 2) snprintf(text, sizeof text, "%s", words[next() % NWORDS]);
        else snprintf(text, sizeof text, "%s%d/%s", words[next() % NWORDS], (int)(next() % 51), words[next() % NWORDS]);
        snprintf(body, sizeof body, "{\"objectType\":\"Files\",\"count\":100,\"fileParams\":{\"searchString\":\"%s\"}}",
                 text);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        b.len = 0;
        t = now_ms();
        if (curl_easy_perform(c) != CURLE_OK) {
            fprintf(stderr, "bench_search: request failed\n");
            return 1;
        }
        t = now_ms() - t;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) {
            fprintf(stderr, "bench_search: status %ld for '%s'\n", status, text);
            return 1;
        }
        if (i < 10) continue;
        {
            json_t *j = json_loads(b.p ? b.p : "{}", 0, NULL);
            double m = (double)json_integer_value(json_object_get(j, "count"));
            json_decref(j);
            hits[k] += m;
            all_hits += m;
        }
        all[i - 10] = t;
        cls[k][ncls[k]++] = t;
    }
    printf("%d substring queries over HTTP (page of 100; matches: files counted, capped 1,100; %.1f KiB per "
           "answer on average):\n", q, b.total / 1024.0 / (q + 10));
    for (int k = 0; k < 4; k++) report(names[k], cls[k], ncls[k], hits[k]);
    report("all", all, q, all_hits);
    free(b.p);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    for (int i = 0; i < 4; i++) free(cls[i]);
    free(all);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "fill") == 0) return fill(argv[2], argv[3], atol(argv[4]));
    if (argc == 6 && strcmp(argv[1], "query") == 0) return query(argv[2], argv[3], argv[4], atoi(argv[5]));
    fprintf(stderr, "usage: bench_search fill DATA_DIR TENANT N | query BASE_URL KEY TENANT Q\n");
    return 2;
}
