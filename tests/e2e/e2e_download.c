/* e2e_download.c: getting files out of snapshots over HTTP, against the real daemon.
 *
 * A tree (a 5 MiB random file, a sparse file, a hardlinked pair, a symlink, an empty file) is backed
 * up by a run. A download recovery prepares an archive: fetched whole it is a tar (Content-Type,
 * Content-Disposition) that extracts to the original bytes, modes and symlink; fetched in 1 MiB
 * ranges (startOffset/length) the pieces put together equal the whole; an HTTP Range gives 206 with
 * Content-Range; bad ranges are 400 and an offset past the end 416. Single files stream from the
 * repository whole and by range (holes of the sparse file as zeros, the second name of a hardlink);
 * a directory, a symlink, a path not in the snapshot, traversal and foreign snapshots are refused.
 * Bad download requests change nothing. With the delay hook, an archive not ready yet is 409 naming
 * the status, a cancelled one 409 without an archive, and a removed archive 410. */
#include "e2e/e2e_recover_fixture.h"
#include <curl/curl.h>
#include <signal.h>

#define T "dl-a"
#define TB "dl-b"

static struct daemon d;
static char *g_tmp;
static char src[600];
static long long host;
static char policy[128], group[128], snap[80], dl_id[96];
static size_t g_whole_len;
static char *g_whole;

/* other_snap: an id of the right shape that is not the snapshot's. */
static const char *other_snap(void)
{
    static char o[80];
    snprintf(o, sizeof o, "%s", snap);
    o[0] = o[0] == 'a' ? 'b' : 'a';
    return o;
}

/* ---------- a GET that keeps the response headers ---------- */

struct got {
    long status;
    char *body;
    size_t len, cap;
    char ctype[128], cdisp[256], crange[128];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct got *g = ud;
    size_t add = size * n;
    if (g->len + add + 1 > g->cap) {
        size_t cap = g->cap ? g->cap : 65536;
        char *nb;
        while (cap < g->len + add + 1) cap *= 2;
        if (!(nb = realloc(g->body, cap))) return 0;
        g->body = nb;
        g->cap = cap;
    }
    memcpy(g->body + g->len, p, add);
    g->len += add;
    return add;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
    size_t k = strlen(name);
    if (n > k + 1 && strncasecmp(line, name, k) == 0 && line[k] == ':') {
        const char *v = line + k + 1;
        size_t vl = n - k - 1;
        while (vl && (*v == ' ')) v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n')) vl--;
        snprintf(out, outlen, "%.*s", (int)vl, v);
    }
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct got *g = ud;
    size_t len = size * n;
    header_value(p, len, "Content-Type", g->ctype, sizeof g->ctype);
    header_value(p, len, "Content-Disposition", g->cdisp, sizeof g->cdisp);
    header_value(p, len, "Content-Range", g->crange, sizeof g->crange);
    return len;
}

/* fetch: GET path as tenant (range: a Range header value or NULL); fills g (free g->body). */
static int fetch(const char *path, const char *tenant, const char *range, struct got *g)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    char url[2048], th[300], rh[200];
    CURLcode rc;
    memset(g, 0, sizeof *g);
    if (!c) return -1;
    snprintf(url, sizeof url, "%s/v2%s", d.base, path);
    snprintf(th, sizeof th, "X-IBM-Tenant-Id: %s", tenant);
    hl = curl_slist_append(hl, "Authorization: Bearer " HARNESS_KEY);
    hl = curl_slist_append(hl, th);
    if (range) {
        snprintf(rh, sizeof rh, "Range: %s", range);
        hl = curl_slist_append(hl, rh);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

static int write_buf(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    return ok ? 0 : -1;
}

/* ---------- tests ---------- */

TEST(setup)
{
    char p[800], q[800];
    int fd;
    snprintf(src, sizeof src, "%s/src", g_tmp);
    CHECK(mkdir(src, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs", src);
    CHECK(mkdir(p, 0750) == 0);
    snprintf(p, sizeof p, "%s/docs/big.bin", src);
    CHECK(write_random(p, 5u << 20, 0640) == 0);
    snprintf(p, sizeof p, "%s/docs/report.txt", src);
    CHECK(write_text(p, "the report\n", 0644) == 0);
    snprintf(p, sizeof p, "%s/docs/empty.txt", src);
    CHECK(write_text(p, "", 0644) == 0);
    snprintf(p, sizeof p, "%s/docs/link", src);
    CHECK(symlink("report.txt", p) == 0);
    snprintf(p, sizeof p, "%s/docs/hard1.bin", src);
    CHECK(write_random(p, 100000, 0600) == 0);
    snprintf(q, sizeof q, "%s/docs/hard2.bin", src);
    CHECK(link(p, q) == 0);
    /* sparse: 64 KiB of data, a 3 MiB hole, 64 KiB of data */
    snprintf(p, sizeof p, "%s/docs/sparse.img", src);
    CHECK(write_random(p, 65536, 0644) == 0);
    CHECK((fd = open(p, O_WRONLY)) >= 0);
    {
        char buf[65536];
        memset(buf, 'z', sizeof buf);
        CHECK(pwrite(fd, buf, sizeof buf, 65536 + (3 << 20)) == (ssize_t)sizeof buf);
        close(fd);
    }
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
    CHECK(fx_group(&d, T, "files", policy, host, src, group, sizeof group) == 0);
    CHECK(fx_run(&d, T, group, snap, sizeof snap) == 0);
}

TEST(archive_whole_by_ranges_and_extracted)
{
    json_t *c = NULL, *r;
    struct got g;
    char *parts = NULL;
    size_t plen = 0;
    CHECK(post_json(&d, FX_REC "/download-files-folders", T,
                    fmt("{'name':'my docs','object':{'snapshotId':'%s'},'filesAndFolders':[{'absolutePath':'%s/docs',"
                        "'isDirectory':true}]}", snap, src), 201, &c) == 201);
    snprintf(dl_id, sizeof dl_id, "%s", jstr(c, "id"));
    CHECK(strcmp(jstr(c, "recoveryAction"), "DownloadFilesAndFolders") == 0);
    CHECK(strcmp(jstr(c, "snapshotEnvironment"), "kPhysical") == 0);
    CHECK(strcmp(jstr(c, "physicalParams.objects.0.snapshotId"), snap) == 0);
    CHECK(strcmp(jstr(c, "physicalParams.downloadFileAndFolderParams.filesAndFolders.0.absolutePath"),
                 fmt("%s/docs", src)) == 0);
    json_decref(c);
    r = fx_wait_recovery(&d, T, dl_id, 120);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "Succeeded") == 0, "status %s", jstr(r, "status"));
    CHECK(strcmp(jstr(r, "physicalParams.downloadFileAndFolderParams.downloadFilePath"),
                 fmt("/v2/data-protect/recoveries/%s/download-files", dl_id)) == 0);
    CHECK(jint(r, "physicalParams.downloadFileAndFolderParams.expiryTimeUsecs") > jint(r, "endTimeUsecs"));
    CHECK(strcmp(jstr(r, "physicalParams.downloadFileAndFolderParams.filesAndFolders.0.status"), "Finished") == 0);
    g_whole_len = (size_t)jint(r, "cofferStats.archiveBytes");
    json_decref(r);
    CHECK(g_whole_len > (5u << 20));
    /* whole */
    CHECK(fetch(fmt("/data-protect/recoveries/%s/download-files", dl_id), T, NULL, &g) == 0);
    CHECK_EQ_INT(g.status, 200);
    CHECK(strcmp(g.ctype, "application/x-tar") == 0);
    CHECK(strstr(g.cdisp, "filename=\"my_docs.tar\"") != NULL);
    CHECK_EQ_INT(g.len, g_whole_len);
    CHECK(g.len % 512 == 0);
    g_whole = g.body;
    /* by 1 MiB ranges, as a resuming client would */
    for (size_t off = 0;;) {
        struct got part;
        CHECK(fetch(fmt("/data-protect/recoveries/%s/download-files?startOffset=%zu&length=1048576", dl_id, off), T,
                    NULL, &part) == 0);
        if (off >= g_whole_len) {
            CHECK_EQ_INT(part.status, 416);
            free(part.body);
            break;
        }
        CHECK_EQ_INT(part.status, 200);
        CHECK(part.len == 1048576 || off + part.len == g_whole_len);
        parts = realloc(parts, plen + part.len);
        memcpy(parts + plen, part.body, part.len);
        plen += part.len;
        off += part.len;
        free(part.body);
    }
    CHECK(plen == g_whole_len && memcmp(parts, g_whole, plen) == 0);
    free(parts);
    /* an HTTP Range */
    CHECK(fetch(fmt("/data-protect/recoveries/%s/download-files", dl_id), T, "bytes=1000-1999", &g) == 0);
    CHECK_EQ_INT(g.status, 206);
    CHECK_EQ_INT(g.len, 1000);
    CHECK(memcmp(g.body, g_whole + 1000, 1000) == 0);
    CHECK(strcmp(g.crange, fmt("bytes 1000-1999/%zu", g_whole_len)) == 0);
    free(g.body);
    /* extracted, equal to the tree */
    {
        char x[700], cmd[1600];
        snprintf(x, sizeof x, "%s/x", g_tmp);
        CHECK(mkdir(x, 0700) == 0);
        CHECK(write_buf(fmt("%s/a.tar", g_tmp), g_whole, g_whole_len) == 0);
        snprintf(cmd, sizeof cmd, "tar -xpf '%s/a.tar' -C '%s'", g_tmp, x);
        CHECK(system(cmd) == 0);
        static const char *const files[] = { "big.bin", "report.txt", "empty.txt", "hard1.bin", "hard2.bin",
                                             "sparse.img", "link", NULL };
        for (int i = 0; files[i]; i++) {
            char a[900], b[900];
            snprintf(a, sizeof a, "%s/docs/%s", src, files[i]);
            snprintf(b, sizeof b, "%s/docs/%s", x, files[i]);
            CHECKF(strcmp(files[i], "link") == 0 || files_equal(a, b), "%s", files[i]);
            CHECKF(same_meta(a, b), "%s", files[i]);
        }
        /* the symlink's target, the hardlink pair as one file, and nothing missing or extra, both ways */
        {
            char a[900], b[900], target[64], msg[1024];
            struct stat s1, s2;
            ssize_t n;
            int count = 0;
            snprintf(a, sizeof a, "%s/docs/link", x);
            n = readlink(a, target, sizeof target - 1);
            CHECKF(n >= 0, "the extracted link is not a symlink");
            target[n] = '\0';
            CHECKF(strcmp(target, "report.txt") == 0, "the extracted link points to '%s'", target);
            snprintf(a, sizeof a, "%s/docs/hard1.bin", x);
            snprintf(b, sizeof b, "%s/docs/hard2.bin", x);
            CHECK(lstat(a, &s1) == 0 && lstat(b, &s2) == 0);
            CHECKF(s1.st_ino == s2.st_ino && s1.st_dev == s2.st_dev && s1.st_nlink == 2,
                   "hard1.bin and hard2.bin are not one file after extraction (inodes %lu %lu, %lu links)",
                   (unsigned long)s1.st_ino, (unsigned long)s2.st_ino, (unsigned long)s1.st_nlink);
            snprintf(a, sizeof a, "%s/docs", src);
            snprintf(b, sizeof b, "%s/docs", x);
            CHECKF(check_trees_equal(a, b, CHECK_TREE_MODE | CHECK_TREE_LINKS, NULL, NULL, msg, sizeof msg, &count) == 0,
                   "%s", msg);
            CHECK_EQ_INT(count, 8); /* docs itself and its 7 entries */
        }
    }
}

TEST(bad_ranges)
{
    const char *base = fmt(FX_REC "/%s/download-files", dl_id);
    char b[200];
    snprintf(b, sizeof b, "%s", base);
    CHECK(expect(&d, "GET", fmt("%s?startOffset=0&length=0", b), T, NULL, 400, "length"));
    CHECK(expect(&d, "GET", fmt("%s?startOffset=0&length=8388609", b), T, NULL, 400, "8 MiB"));
    CHECK(expect(&d, "GET", fmt("%s?startOffset=-5&length=10", b), T, NULL, 400, "startOffset"));
    CHECK(expect(&d, "GET", fmt("%s?startOffset=abc", b), T, NULL, 400, "startOffset"));
    CHECK(expect(&d, "GET", fmt("%s?startOffset=%zu", b, g_whole_len), T, NULL, 416, "past the end"));
    CHECK(expect(&d, "GET", fmt("%s?startOffset=%zu&length=10", b, g_whole_len + 5000), T, NULL, 416, NULL));
    {
        struct got g; /* the last bytes, clipped */
        CHECK(fetch(fmt("/data-protect/recoveries/%s/download-files?startOffset=%zu&length=8388608", dl_id,
                        g_whole_len - 100), T, NULL, &g) == 0);
        CHECK_EQ_INT(g.status, 200);
        CHECK_EQ_INT(g.len, 100);
        CHECK(memcmp(g.body, g_whole + g_whole_len - 100, 100) == 0);
        free(g.body);
    }
    {
        struct got g; /* fileType=error: the files that could not be read (none here) */
        CHECK(fetch(fmt("/data-protect/recoveries/%s/download-files?fileType=error", dl_id), T, NULL, &g) == 0);
        CHECK(g.status == 200 && g.len == 0 && strncmp(g.ctype, "text/plain", 10) == 0);
        free(g.body);
    }
    CHECK(expect(&d, "GET", fmt("%s?fileType=success_files_list", b), T, NULL, 400, "fileType"));
    CHECK(expect(&d, "GET", b, TB, NULL, 404, "not found"));
    CHECK(expect(&d, "GET", FX_REC "/1:2:99999/download-files", T, NULL, 404, "not found"));
    CHECK(expect(&d, "GET", FX_REC "/bogus/download-files", T, NULL, 400, "recovery id"));
}

TEST(bad_download_requests)
{
    int before;
    json_t *j = NULL;
    CHECK(get_json(&d, FX_REC, T, &j) == 200);
    before = (int)json_array_size(json_object_get(j, "recoveries"));
    json_decref(j);
#define DL FX_REC "/download-files-folders"
    CHECK(expect(&d, "POST", DL, T, fmt("{'name':'x','filesAndFolders':[{'absolutePath':'%s'}]}", src), 400, "object"));
    CHECK(expect(&d, "POST", DL, T, fmt("{'object':{'snapshotId':'%s'},'filesAndFolders':[{'absolutePath':'%s'}]}",
                                        snap, src), 400, "name"));
    CHECK(expect(&d, "POST", DL, T, fmt("{'name':'x','object':{'snapshotId':'%s'},'filesAndFolders':[]}", snap), 400,
                 "filesAndFolders"));
    CHECK(expect(&d, "POST", DL, T, fmt("{'name':'x','object':{'snapshotId':'%s'},'filesAndFolders':"
                                        "[{'absolutePath':'docs'}]}", snap), 400, "absolute"));
    CHECK(expect(&d, "POST", DL, T, fmt("{'name':'x','object':{'snapshotId':'%s'},'filesAndFolders':"
                                        "[{'absolutePath':'%s/../etc'}]}", snap, src), 400, "'..'"));
    CHECK(expect(&d, "POST", DL, T, fmt("{'name':'x','object':{'snapshotId':'%s'},'filesAndFolders':"
                                        "[{'absolutePath':'%s/docs/missing.txt'}]}", snap, src), 404, "missing.txt"));
    CHECK(expect(&d, "POST", DL, T, fmt("{'name':'x','object':{'snapshotId':'%s'},'filesAndFolders':"
                                        "[{'absolutePath':'%s'}],'documents':[{'itemId':'1'}]}", snap, src), 400,
                 "documents"));
    CHECK(expect(&d, "POST", DL, T, fmt("{'name':'x','object':{'snapshotId':'%s'},'filesAndFolders':"
                                        "[{'absolutePath':'%s'}]}", other_snap(), src), 404, "not found"));
    CHECK(expect(&d, "POST", DL, TB, fmt("{'name':'x','object':{'snapshotId':'%s'},'filesAndFolders':"
                                         "[{'absolutePath':'%s'}]}", snap, src), 404, "not found"));
    CHECK(expect(&d, "POST", DL, T, fmt("{'name':'x','object':{'snapshotId':'%s'},'filesAndFolders':"
                                        "[{'absolutePath':'%s'}],'parentRecoveryId':'1:2:99999'}", snap, src), 404,
                 "parentRecoveryId"));
#undef DL
    CHECK(get_json(&d, FX_REC, T, &j) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "recoveries")), before);
    json_decref(j);
    /* a restore recovery has nothing to download */
    {
        json_t *c = NULL;
        char id[96];
        CHECK(post_json(&d, FX_REC, T,
                        fmt("{'name':'r','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':"
                            "'%s'}],'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':{'filesAndFolders':"
                            "[{'absolutePath':'%s/docs/report.txt'}],'targetEnvironment':'kPhysical',"
                            "'physicalTargetParams':{'recoverTarget':{'id':%lld},'alternateRestoreDirectory':"
                            "'%s/restored'}}}}", snap, src, host, g_tmp), 201, &c) == 201);
        snprintf(id, sizeof id, "%s", jstr(c, "id"));
        json_decref(c);
        CHECK(expect(&d, "GET", fmt(FX_REC "/%s/download-files", id), T, NULL, 400, "RecoverFiles"));
    }
}

TEST(single_files_from_the_repository)
{
    struct got g;
    char *data;
    size_t n;
    const char *base = fmt("/data-protect/snapshots/%s/download-file?filePath=", snap);
    char b[300];
    snprintf(b, sizeof b, "%s", base);
    /* whole */
    CHECK(fetch(fmt("%s%s/docs/big.bin", b, src), T, NULL, &g) == 0);
    CHECK_EQ_INT(g.status, 200);
    CHECK(strcmp(g.ctype, "application/octet-stream") == 0);
    CHECK(strstr(g.cdisp, "filename=\"big.bin\"") != NULL);
    CHECK(read_all(fmt("%s/docs/big.bin", src), &data, &n) == 0);
    CHECK(g.len == n && memcmp(g.body, data, n) == 0);
    free(g.body);
    /* a range across chunk boundaries */
    CHECK(fetch(fmt("%s%s/docs/big.bin&startOffset=1000001&length=3000000", b, src), T, NULL, &g) == 0);
    CHECK_EQ_INT(g.status, 200);
    CHECK(g.len == 3000000 && memcmp(g.body, data + 1000001, 3000000) == 0);
    free(g.body);
    /* the tail, clipped; an HTTP Range */
    CHECK(fetch(fmt("%s%s/docs/big.bin&startOffset=%zu&length=8388608", b, src, n - 10), T, NULL, &g) == 0);
    CHECK(g.status == 200 && g.len == 10 && memcmp(g.body, data + n - 10, 10) == 0);
    free(g.body);
    CHECK(fetch(fmt("%s%s/docs/big.bin", b, src), T, "bytes=5-14", &g) == 0);
    CHECK(g.status == 206 && g.len == 10 && memcmp(g.body, data + 5, 10) == 0);
    free(g.body);
    free(data);
    /* the sparse file's hole reads as zeros */
    CHECK(fetch(fmt("%s%s/docs/sparse.img", b, src), T, NULL, &g) == 0);
    CHECK(read_all(fmt("%s/docs/sparse.img", src), &data, &n) == 0);
    CHECK(g.status == 200 && g.len == n && memcmp(g.body, data, n) == 0);
    free(g.body);
    free(data);
    /* the second name of a hardlink, an empty file */
    CHECK(fetch(fmt("%s%s/docs/hard2.bin", b, src), T, NULL, &g) == 0);
    CHECK(read_all(fmt("%s/docs/hard1.bin", src), &data, &n) == 0);
    CHECK(g.status == 200 && g.len == n && memcmp(g.body, data, n) == 0);
    free(g.body);
    free(data);
    CHECK(fetch(fmt("%s%s/docs/empty.txt", b, src), T, NULL, &g) == 0);
    CHECK(g.status == 200 && g.len == 0);
    free(g.body);
    /* refused */
    CHECK(expect(&d, "GET", fmt("/v2%s%s/docs", b, src), T, NULL, 400, "directory"));
    CHECK(expect(&d, "GET", fmt("/v2%s%s/docs/link", b, src), T, NULL, 400, "symbolic link"));
    CHECK(expect(&d, "GET", fmt("/v2%s%s/docs/nope.txt", b, src), T, NULL, 404, "nope.txt"));
    CHECK(expect(&d, "GET", fmt("/v2%s%s/docs/../docs/big.bin", b, src), T, NULL, 400, "'..'"));
    CHECK(expect(&d, "GET", fmt("/v2%sdocs/big.bin", b), T, NULL, 400, "absolute"));
    CHECK(expect(&d, "GET", fmt("/v2/data-protect/snapshots/%s/download-file", snap), T, NULL, 400, "filePath"));
    CHECK(expect(&d, "GET", fmt("/v2%s%s/docs/big.bin&length=9000000", b, src), T, NULL, 400, "length"));
    CHECK(expect(&d, "GET", fmt("/v2%s%s/docs/report.txt&startOffset=11", b, src), T, NULL, 416, "past the end"));
    CHECK(expect(&d, "GET", fmt("/v2%s%s/docs/big.bin", b, src), TB, NULL, 404, "not found"));
    CHECK(expect(&d, "GET", fmt("/v2/data-protect/snapshots/%s/download-file?filePath=%s", other_snap(), src), T, NULL, 404,
                 "not found"));
}

TEST(archive_removed_is_gone)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/downloads/%s.tar", d.data_dir, dl_id);
    CHECK(access(p, F_OK) == 0);
    CHECK(unlink(p) == 0);
    CHECK(expect(&d, "GET", fmt(FX_REC "/%s/download-files", dl_id), T, NULL, 410, "no longer available"));
}

/* with COFFER_TEST_RECOVERY_DELAY_MS: the archive is not there yet */
TEST(not_ready_then_canceled)
{
    json_t *c = NULL, *r;
    char id[96];
    CHECK(post_json(&d, FX_REC "/download-files-folders", T,
                    fmt("{'name':'slow','object':{'snapshotId':'%s'},'filesAndFolders':[{'absolutePath':'%s/docs'}]}",
                        snap, src), 201, &c) == 201);
    snprintf(id, sizeof id, "%s", jstr(c, "id"));
    json_decref(c);
    CHECK(expect(&d, "GET", fmt(FX_REC "/%s/download-files", id), T, NULL, 409, "not ready"));
    CHECK(fx_wait_status(&d, T, id, "Running", 10));
    CHECK(expect(&d, "GET", fmt(FX_REC "/%s/download-files", id), T, NULL, 409, "Running"));
    CHECK(expect(&d, "POST", fmt(FX_REC "/%s/cancel", id), T, NULL, 200, NULL));
    r = fx_wait_recovery(&d, T, id, 20);
    CHECK(r != NULL);
    CHECK(strcmp(jstr(r, "status"), "Canceled") == 0);
    CHECK(jget(r, "physicalParams.downloadFileAndFolderParams.downloadFilePath") == NULL);
    json_decref(r);
    CHECK(expect(&d, "GET", fmt(FX_REC "/%s/download-files", id), T, NULL, 409, "no archive"));
    CHECK(access(fmt("%s/downloads/%s.tar", d.data_dir, id), F_OK) != 0);
}

int main(void)
{
    static const char *const slow[] = { "COFFER_TEST_HOOKS=1", "COFFER_TEST_RECOVERY_DELAY_MS=2000", NULL };
    g_tmp = check_tmpdir("download-e2e");
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup);
    RUN(archive_whole_by_ranges_and_extracted);
    RUN(bad_ranges);
    RUN(bad_download_requests);
    RUN(single_files_from_the_repository);
    RUN(archive_removed_is_gone);
    if (daemon_kill(&d, SIGTERM) != 0 || daemon_restart(&d, slow) != 0) {
        check_fail(__FILE__, __LINE__, "cannot restart the daemon with the delay hook");
        check_abandon("the daemon could not be restarted with the delay hook"); /* the test below counts as failed */
    }
    RUN(not_ready_then_canceled);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "the daemon did not exit cleanly");
    free(g_whole);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
