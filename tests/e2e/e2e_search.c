/* e2e_search.c: indexed file search through the API of the real daemon.
 *
 * Two groups back up two trees of this machine; between two runs of the first, a file is deleted,
 * one changed and one added. Once the indexer has done the three snapshots (their indexingStatus
 * turns Done, in object snapshots and in protected objects), SearchIndexedObjects finds files across
 * snapshots: the deleted file with the one snapshot that still has it (and DownloadIndexedFile gets
 * its old bytes from there), the changed one with both (newest first, each with its size), the new
 * one with the second; substring, case, '*' patterns and path queries; type, group, object, source
 * and environment filters; pages that together give every match once; bad requests (400) and
 * tenants. When the first snapshot is deleted, its index rows are purged: the deleted file is no
 * longer found. Indexing is background work: while a recovery runs (held at the test gate), a new
 * snapshot is not indexed at once; when it ends, it is. */
#include "e2e/e2e_recover_fixture.h"

#define T "srch-a"
#define TB "srch-b"
#define SEARCH "/v2/data-protect/search/indexed-objects"

static struct daemon d;
static char *g_tmp;
static char src[600], src2[600];
static long long host;
static char policy[128], g_files[128], g_other[128], snap1[80], snap2[80], snap3[80];
static char gate[700];   /* COFFER_TEST_RECOVERY_GATE: a recovery waits while this file exists */
static char *gone_bytes;
static size_t gone_len;

static json_t *search(const char *tenant, const char *body, long want)
{
    json_t *j = NULL;
    if (post_json(&d, SEARCH, tenant, body, want, &j) != want) return NULL;
    return j;
}

static json_t *search_files(const char *text) /* fileParams.searchString only */
{
    return search(T, fmt("{'objectType':'Files','fileParams':{'searchString':'%s'}}", text), 200);
}

/* file_named: the File whose path ends with suffix, or NULL. */
static json_t *file_named(json_t *res, const char *suffix)
{
    size_t i, n = strlen(suffix);
    json_t *f;
    json_array_foreach(json_object_get(res, "files"), i, f) {
        const char *p = jstr(f, "path");
        if (p && strlen(p) >= n && strcmp(p + strlen(p) - n, suffix) == 0) return f;
    }
    return NULL;
}

static size_t nfiles(json_t *res) { return json_array_size(json_object_get(res, "files")); }

TEST(setup)
{
    char p[800];
    snprintf(src, sizeof src, "%s/src", g_tmp);
    snprintf(src2, sizeof src2, "%s/other", g_tmp);
    CHECK(mkdir(src, 0755) == 0 && mkdir(src2, 0755) == 0);
    snprintf(p, sizeof p, "%s/photos", src);
    CHECK(mkdir(p, 0755) == 0);
    for (int i = 1; i <= 5; i++) {
        snprintf(p, sizeof p, "%s/photos/img_%03d.jpg", src, i);
        CHECK(write_random(p, 1000u * (unsigned)i, 0644) == 0);
    }
    snprintf(p, sizeof p, "%s/sub", src);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/sub/deep", src);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/sub/deep/notes.md", src);
    CHECK(write_text(p, "# notes\n", 0644) == 0);
    snprintf(p, sizeof p, "%s/keep.txt", src);
    CHECK(write_text(p, "version one\n", 0644) == 0);
    snprintf(p, sizeof p, "%s/gone.txt", src);
    CHECK(write_random(p, 70000, 0600) == 0);
    CHECK(read_all(p, &gone_bytes, &gone_len) == 0);
    snprintf(p, sizeof p, "%s/Report-Q3.PDF", src);
    CHECK(write_text(p, "%PDF\n", 0644) == 0);
    snprintf(p, sizeof p, "%s/shortcut", src);
    CHECK(symlink("keep.txt", p) == 0);
    snprintf(p, sizeof p, "%s/report-other.txt", src2);
    CHECK(write_text(p, "other\n", 0644) == 0);
    snprintf(p, sizeof p, "%s/\xc3\x89T\xc3\x89-\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9.txt", src2); /* ÉTÉ-ünïcødé.txt */
    CHECK(write_text(p, "unicode\n", 0644) == 0);

    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
    CHECK(fx_group(&d, T, "files", policy, host, src, g_files, sizeof g_files) == 0);
    CHECK(fx_group(&d, T, "other", policy, host, src2, g_other, sizeof g_other) == 0);
    CHECK(fx_run(&d, T, g_files, snap1, sizeof snap1) == 0);
    /* between the runs: one deleted, one changed, one added */
    snprintf(p, sizeof p, "%s/gone.txt", src);
    CHECK(unlink(p) == 0);
    snprintf(p, sizeof p, "%s/keep.txt", src);
    CHECK(write_text(p, "version two, longer\n", 0644) == 0);
    snprintf(p, sizeof p, "%s/new.txt", src);
    CHECK(write_text(p, "new\n", 0644) == 0);
    CHECK(fx_run(&d, T, g_files, snap2, sizeof snap2) == 0);
    CHECK(fx_run(&d, T, g_other, snap3, sizeof snap3) == 0);
    CHECK(fx_wait_indexed(&d, T, host, snap1, 60));
    CHECK(fx_wait_indexed(&d, T, host, snap2, 60));
    CHECK(fx_wait_indexed(&d, T, host, snap3, 60));
}

TEST(indexing_status_is_shown)
{
    json_t *j = NULL, *o;
    size_t i;
    int seen = 0;
    CHECK(get_json(&d, fmt("/v2/data-protect/search/protected-objects?objectIds=%lld", host), T, &j) == 200);
    json_array_foreach(json_object_get(j, "objects"), i, o) {
        size_t k;
        json_t *s;
        json_array_foreach(json_object_get(o, "latestSnapshotsInfo"), k, s) {
            CHECK(strcmp(jstr(s, "indexingStatus"), "Done") == 0);
            seen++;
        }
    }
    json_decref(j);
    CHECK(seen >= 2); /* the newest snapshot of each group */
}

TEST(finds_files_across_snapshots)
{
    json_t *r, *f;
    r = search_files("gone");
    CHECK(r != NULL);
    CHECK_EQ_INT(nfiles(r), 1);
    f = file_named(r, "/gone.txt");
    CHECK(f != NULL);
    CHECK(strcmp(jstr(f, "name"), "gone.txt") == 0);
    CHECK(strcmp(jstr(f, "path"), fmt("%s/gone.txt", src)) == 0);
    CHECK(strcmp(jstr(f, "type"), "File") == 0);
    CHECK(strcmp(jstr(f, "protectionGroupId"), g_files) == 0);
    CHECK(strcmp(jstr(f, "protectionGroupName"), "files") == 0);
    CHECK(strcmp(jstr(f, "policyId"), policy) == 0);
    CHECK(strcmp(jstr(f, "policyName"), "daily") == 0);
    CHECK_EQ_INT(jint(f, "sourceInfo.id"), host);
    CHECK(strcmp(jstr(f, "sourceInfo.environment"), "kPhysical") == 0);
    CHECK_EQ_INT(json_array_size(json_object_get(f, "snapshots")), 1); /* deleted since: only the first */
    CHECK(strcmp(jstr(f, "snapshots.0.snapshotId"), snap1) == 0);
    CHECK_EQ_INT(jint(f, "snapshots.0.sizeBytes"), 70000);
    CHECK_EQ_INT(jint(r, "count"), 1);
    CHECK(json_object_get(r, "paginationCookie") == NULL);
    CHECK(strcmp(jstr(r, "objectType"), "Files") == 0);
    json_decref(r);
    r = search_files("keep");
    f = file_named(r, "/keep.txt");
    CHECK(f != NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(f, "snapshots")), 2);
    CHECK(strcmp(jstr(f, "snapshots.0.snapshotId"), snap2) == 0); /* newest first */
    CHECK(strcmp(jstr(f, "snapshots.1.snapshotId"), snap1) == 0);
    CHECK_EQ_INT(jint(f, "snapshots.0.sizeBytes"), 20);
    CHECK_EQ_INT(jint(f, "snapshots.1.sizeBytes"), 12);
    json_decref(r);
    r = search_files("new.txt");
    f = file_named(r, "/new.txt");
    CHECK(f != NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(f, "snapshots")), 1);
    CHECK(strcmp(jstr(f, "snapshots.0.snapshotId"), snap2) == 0);
    json_decref(r);
}

TEST(the_deleted_file_downloads_from_its_snapshot)
{
    struct http_resp h;
    json_t *r = search_files("gone.txt");
    const char *snapshot = jstr(r, "files.0.snapshots.0.snapshotId"), *path = jstr(r, "files.0.path");
    CHECK(snapshot && path);
    CHECK(call(&d, "GET", fmt("/v2/data-protect/snapshots/%s/download-file?filePath=%s", snapshot, path), T, NULL, &h)
          == 200);
    CHECK(h.len == gone_len && memcmp(h.body, gone_bytes, gone_len) == 0);
    http_resp_release(&h);
    json_decref(r);
}

TEST(patterns_and_paths)
{
    json_t *r;
    r = search_files("REPORT"); /* case-insensitive, both groups */
    CHECK_EQ_INT(nfiles(r), 2);
    CHECK(file_named(r, "/Report-Q3.PDF") && file_named(r, "/report-other.txt"));
    CHECK(strcmp(jstr(file_named(r, "/report-other.txt"), "protectionGroupId"), g_other) == 0);
    json_decref(r);
    r = search_files("*.jpg");
    CHECK_EQ_INT(nfiles(r), 5);
    json_decref(r);
    r = search_files("img_00*");
    CHECK_EQ_INT(nfiles(r), 5);
    json_decref(r);
    r = search_files("*.JPG*");
    CHECK_EQ_INT(nfiles(r), 5);
    json_decref(r);
    r = search_files("g_0"); /* an underscore is a character, not a wildcard */
    CHECK_EQ_INT(nfiles(r), 5);
    json_decref(r);
    r = search_files("photos/img_003");
    CHECK_EQ_INT(nfiles(r), 1);
    CHECK(file_named(r, "/photos/img_003.jpg") != NULL);
    json_decref(r);
    r = search_files("sub/deep");
    CHECK_EQ_INT(nfiles(r), 2); /* the directory and the file in it */
    json_decref(r);
    r = search_files("md"); /* two letters: no trigram, still found */
    CHECK(file_named(r, "/notes.md") != NULL);
    json_decref(r);
    /* case folding beyond ASCII, both ways, in substrings and patterns */
    r = search_files("\xc3\x9cN\xc3\x8f" "C\xc3\x98" "D\xc3\x89"); /* ÜNÏCØDÉ */
    CHECK_EQ_INT(nfiles(r), 1);
    CHECK(file_named(r, "/\xc3\x89T\xc3\x89-\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9.txt") != NULL);
    json_decref(r);
    r = search_files("\xc3\xa9t\xc3\xa9-"); /* été- finds ÉTÉ- */
    CHECK_EQ_INT(nfiles(r), 1);
    json_decref(r);
    r = search_files("*\xc3\x9cN\xc3\x8f" "C\xc3\x98" "D\xc3\x89.TXT"); /* *ÜNÏCØDÉ.TXT */
    CHECK_EQ_INT(nfiles(r), 1);
    json_decref(r);
    r = search_files("unicod"); /* folding is not accent stripping */
    CHECK_EQ_INT(nfiles(r), 0);
    json_decref(r);
    r = search_files("no-such-file-anywhere");
    CHECK_EQ_INT(nfiles(r), 0);
    CHECK_EQ_INT(jint(r, "count"), 0);
    json_decref(r);
}

TEST(filters)
{
    json_t *r;
    r = search(T, "{\"objectType\":\"Files\",\"fileParams\":{\"searchString\":\"photos\",\"types\":[\"Directory\"]}}", 200);
    CHECK_EQ_INT(nfiles(r), 1);
    CHECK(strcmp(jstr(r, "files.0.type"), "Directory") == 0);
    json_decref(r);
    r = search(T, "{\"objectType\":\"Files\",\"fileParams\":{\"searchString\":\"shortcut\",\"types\":[\"Symlink\"]}}", 200);
    CHECK_EQ_INT(nfiles(r), 1);
    CHECK(strcmp(jstr(r, "files.0.type"), "Symlink") == 0);
    json_decref(r);
    r = search(T, "{\"objectType\":\"Files\",\"fileParams\":{\"searchString\":\"shortcut\",\"types\":[\"File\"]}}", 200);
    CHECK_EQ_INT(nfiles(r), 0);
    json_decref(r);
    r = search(T, fmt("{'objectType':'Files','protectionGroupIds':['%s'],'fileParams':{'searchString':'report'}}",
                      g_other), 200);
    CHECK_EQ_INT(nfiles(r), 1);
    CHECK(file_named(r, "/report-other.txt") != NULL);
    json_decref(r);
    r = search(T, fmt("{'objectType':'Files','fileParams':{'searchString':'report','objectIds':[%lld]}}", host), 200);
    CHECK_EQ_INT(nfiles(r), 2);
    json_decref(r);
    r = search(T, "{\"objectType\":\"Files\",\"fileParams\":{\"searchString\":\"report\",\"objectIds\":[987654]}}", 200);
    CHECK_EQ_INT(nfiles(r), 0);
    json_decref(r);
    r = search(T, fmt("{'objectType':'Files','fileParams':{'searchString':'report','sourceIds':[%lld],"
                      "'sourceEnvironments':['kPhysical']}}", host), 200);
    CHECK_EQ_INT(nfiles(r), 2);
    json_decref(r);
    r = search(T, "{\"objectType\":\"Files\",\"fileParams\":{\"searchString\":\"report\",\"sourceEnvironments\":[\"kSQL\"]}}",
               200);
    CHECK_EQ_INT(nfiles(r), 0);
    json_decref(r);
    r = search(T, "{\"objectType\":\"Files\",\"mustHaveTagIds\":[\"1:2:X\"],\"fileParams\":{\"searchString\":\"report\"}}",
               200);
    CHECK_EQ_INT(nfiles(r), 0);
    json_decref(r);
    r = search(TB, "{\"objectType\":\"Files\",\"fileParams\":{\"searchString\":\"report\"}}", 200);
    CHECK_EQ_INT(nfiles(r), 0);
    json_decref(r);
}

TEST(pages)
{
    char seen[8][300];
    int n = 0, pages = 0;
    char cookie[64] = "";
    do {
        json_t *r = search(T, cookie[0] ? fmt("{'objectType':'Files','count':2,'paginationCookie':'%s',"
                                              "'fileParams':{'searchString':'img_'}}", cookie)
                                        : "{\"objectType\":\"Files\",\"count\":2,\"fileParams\":{\"searchString\":\"img_\"}}",
                           200);
        size_t i;
        json_t *f;
        CHECK(r != NULL);
        CHECK(nfiles(r) <= 2);
        if (pages == 0) CHECK_EQ_INT(jint(r, "count"), 5);
        json_array_foreach(json_object_get(r, "files"), i, f) {
            for (int k = 0; k < n; k++) CHECK(strcmp(seen[k], jstr(f, "path")) != 0);
            if (n < 8) snprintf(seen[n++], sizeof seen[0], "%s", jstr(f, "path"));
        }
        snprintf(cookie, sizeof cookie, "%s", jstr(r, "paginationCookie") ? jstr(r, "paginationCookie") : "");
        json_decref(r);
        pages++;
    } while (cookie[0] && pages < 10);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(pages, 3);
}

/* An object type of the contract that Coffer does not protect: nothing of it exists here, so the
 * answer is 200 with no results (a real client searching every type must not fail). */
TEST(types_coffer_does_not_protect_find_nothing)
{
    static const char *const types[] = { "Emails", "SfdcRecords", "MongoObjects", NULL };
    for (int i = 0; types[i]; i++) {
        json_t *r = search(T, fmt("{\"objectType\":\"%s\",\"emailParams\":{\"searchString\":\"x\"}}", types[i]), 200);
        CHECKF(r != NULL, "objectType %s", types[i]);
        if (!r) continue;
        CHECK(strcmp(jstr(r, "objectType"), types[i]) == 0);
        CHECK_EQ_INT(jint(r, "count"), 0);
        CHECK(json_object_get(r, "files") == NULL);
        json_decref(r);
    }
}

TEST(bad_requests)
{
    CHECK(expect(&d, "POST", SEARCH, T, "{\"objectType\":\"Mails\"}", 400, "objectType"));
    CHECK(expect(&d, "POST", SEARCH, T, "{\"fileParams\":{\"searchString\":\"x\"}}", 400, "objectType"));
    CHECK(expect(&d, "POST", SEARCH, T, "{\"objectType\":\"Files\",\"count\":0}", 400, "count"));
    CHECK(expect(&d, "POST", SEARCH, T, "{\"objectType\":\"Files\",\"count\":1001}", 400, "count"));
    CHECK(expect(&d, "POST", SEARCH, T, "{\"objectType\":\"Files\",\"paginationCookie\":\"xyz\"}", 400,
                 "paginationCookie"));
    CHECK(expect(&d, "POST", SEARCH, T, "{\"objectType\":\"Files\",\"fileParams\":{\"types\":[\"Pipe\"]}}", 400,
                 "fileParams.types"));
    CHECK(expect(&d, "POST", SEARCH, T, "{\"objectType\":\"Files\",\"fileParams\":{\"objectIds\":[\"a\"]}}", 400,
                 "fileParams.objectIds"));
    CHECK(expect(&d, "POST", SEARCH, T, "{\"objectType\":\"Files\",\"fileParams\":{\"searchString\":5}}", 400,
                 "fileParams.searchString"));
    CHECK(expect(&d, "POST", SEARCH, T, "[1]", 400, NULL));
}

TEST(deleted_snapshots_leave_the_index)
{
    json_t *r = NULL, *run = NULL;
    const char *run_id;
    int gone = 0;
    /* the run of snap1: delete its snapshot */
    CHECK(get_json(&d, fmt(FX_GRP "/%s/runs?includeObjectDetails=true", g_files), T, &r) == 200);
    {
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(r, "runs"), i, x) {
            const char *s = jstr(x, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId");
            if (s && strcmp(s, snap1) == 0) run = x;
        }
    }
    CHECK(run != NULL);
    run_id = jstr(run, "id");
    CHECK(expect(&d, "PUT", fmt(FX_GRP "/%s/runs", g_files), T,
                 fmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':{'deleteSnapshot':true}}]}",
                     run_id), 207, NULL)); /* 207: per-run results */
    json_decref(r);
    for (int i = 0; i < 100 && !gone; i++) { /* the indexer purges within a second or two */
        r = search_files("gone.txt");
        gone = r && nfiles(r) == 0;
        json_decref(r);
        if (!gone) usleep(100 * 1000);
    }
    CHECK(gone);
    r = search_files("keep.txt");
    CHECK_EQ_INT(json_array_size(jget(r, "files.0.snapshots")), 1);
    CHECK(strcmp(jstr(r, "files.0.snapshots.0.snapshotId"), snap2) == 0);
    json_decref(r);
}

/* A recovery held at the test gate keeps the recovery pool busy: the indexer waits (2 s at most per
 * batch, job_index.c) before it indexes the snapshot of a run that ended meanwhile; once the recovery
 * ended it indexes it, and the new file is found. */
TEST(indexing_waits_while_a_recovery_runs)
{
    char p[800], snap4[80] = "", alt[700];
    json_t *j = NULL;
    snprintf(alt, sizeof alt, "%s/held", g_tmp);
    CHECK(mkdir(alt, 0755) == 0);
    CHECK(write_text(gate, "held\n", 0644) == 0);
    CHECK(post_json(&d, FX_REC, T,
                    fmt("{'name':'held','snapshotEnvironment':'kPhysical','physicalParams':{'objects':"
                        "[{'snapshotId':'%s'}],'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':"
                        "{'filesAndFolders':[{'absolutePath':'%s/keep.txt'}],'targetEnvironment':'kPhysical',"
                        "'physicalTargetParams':{'recoverTarget':{'id':%lld},'alternateRestoreDirectory':'%s/'}}}}",
                        snap2, src, host, alt), 201, &j) == 201);
    char rec[128];
    snprintf(rec, sizeof rec, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    CHECK(fx_wait_status(&d, T, rec, "Running", 30));
    snprintf(p, sizeof p, "%s/while-held.txt", src);
    CHECK(write_text(p, "indexed later\n", 0644) == 0);
    CHECK(fx_run(&d, T, g_files, snap4, sizeof snap4) == 0);
    CHECKF(!fx_wait_indexed(&d, T, host, snap4, 1), "snapshot %s was indexed while a recovery ran", snap4);
    CHECK(unlink(gate) == 0);
    json_t *r = fx_wait_recovery(&d, T, rec, 60);
    CHECK(r != NULL && strcmp(jstr(r, "status"), "Succeeded") == 0);
    json_decref(r);
    CHECK(fx_wait_indexed(&d, T, host, snap4, 60));
    r = search_files("while-held");
    CHECK(r != NULL && nfiles(r) == 1 && file_named(r, "/while-held.txt") != NULL);
    json_decref(r);
}

int main(void)
{
    g_tmp = check_tmpdir("search-e2e");
    snprintf(gate, sizeof gate, "%s/gate", g_tmp);
    static char gate_env[760];
    snprintf(gate_env, sizeof gate_env, "COFFER_TEST_RECOVERY_GATE=%s", gate);
    const char *env[] = { "COFFER_TEST_HOOKS=1", gate_env, NULL };
    if (daemon_start(&d, env) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup);
    RUN(indexing_status_is_shown);
    RUN(finds_files_across_snapshots);
    RUN(the_deleted_file_downloads_from_its_snapshot);
    RUN(patterns_and_paths);
    RUN(filters);
    RUN(pages);
    RUN(types_coffer_does_not_protect_find_nothing);
    RUN(bad_requests);
    RUN(deleted_snapshots_leave_the_index);
    RUN(indexing_waits_while_a_recovery_runs);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "the daemon did not exit cleanly");
    free(gone_bytes);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
