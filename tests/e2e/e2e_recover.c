/* e2e_recover.c: file recoveries through the API of the real daemon.
 *
 * A tree of this machine (registered as 127.0.0.1) is backed up by a run; then recoveries restore it
 * under an alternate directory and to its original location (after the originals were changed or
 * deleted) and the result equals the tree as it was, byte for byte and by metadata (mode, mtime,
 * symlink target); without overwriteExisting existing files are left and counted. Bad requests
 * (relative paths, "..", "//", paths not in the snapshot, other recovery actions and environments,
 * unknown snapshots and targets, another tenant's snapshot) are refused with nothing written; a
 * symlink planted in the target is not followed out of it; list filters, tenants and ids; a damaged
 * pack makes the restore name the damaged file (SucceededWithWarning with continueOnError, Failed
 * without), and a download archive name it too. The daemon is then restarted with a test hook that holds each recovery Running for a
 * while: cancel of a Running and of a queued recovery, and a SIGKILL while one runs (after restart:
 * Failed, "interrupted by daemon restart"). */
#include "e2e/e2e_recover_fixture.h"
#include <dirent.h>
#include <signal.h>

#define T "rec-a"
#define TB "rec-b"

static struct daemon d;
static char *g_tmp;
static char src[600], pristine[600];
static long long host, host_b;
static char policy[128], group[128], snap[80];
static char rec_alt[96], rec_orig[96];

static const char *restore_body(const char *name, const char *files_json, const char *target_json)
{
    return fmt("{'name':'%s','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':'%s'}],"
               "'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':{'filesAndFolders':%s,"
               "'targetEnvironment':'kPhysical','physicalTargetParams':{'recoverTarget':{'id':%lld}%s}}}}",
               name, snap, files_json, host, target_json);
}

/* create: POSTs a recovery that must be accepted (201); its id into id. */
static int create(const char *body, char *id, size_t idlen)
{
    json_t *j = NULL;
    if (post_json(&d, FX_REC, T, body, 201, &j) != 201) return -1;
    snprintf(id, idlen, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    return id[0] ? 0 : -1;
}

static int count_recoveries(const char *tenant)
{
    json_t *j = NULL;
    int n = -1;
    if (get_json(&d, FX_REC, tenant, &j) == 200) n = (int)json_array_size(json_object_get(j, "recoveries"));
    json_decref(j);
    return n;
}

/* same: path rel under a and b agree in bytes (files) and metadata. */
static int same(const char *a, const char *b, const char *rel)
{
    char pa[1200], pb[1200];
    struct stat st;
    snprintf(pa, sizeof pa, "%s/%s", a, rel);
    snprintf(pb, sizeof pb, "%s/%s", b, rel);
    if (lstat(pa, &st) != 0) return 0;
    if (S_ISREG(st.st_mode) && !files_equal(pa, pb)) {
        fprintf(stderr, "content differs: %s %s\n", pa, pb);
        return 0;
    }
    if (S_ISLNK(st.st_mode)) {
        char ta[256], tb[256];
        ssize_t na = readlink(pa, ta, sizeof ta), nb = readlink(pb, tb, sizeof tb);
        if (na < 0 || na != nb || memcmp(ta, tb, (size_t)na) != 0) return 0;
    }
    if (!same_meta(pa, pb)) {
        fprintf(stderr, "metadata differs: %s %s\n", pa, pb);
        return 0;
    }
    return 1;
}

static const char *const g_rel[] = { "docs/report.txt", "docs/big.bin", "docs/link", "docs/sub/deep/x.txt",
                                     "name with spaces.txt", NULL };

TEST(setup)
{
    char p[800];
    snprintf(src, sizeof src, "%s/src", g_tmp);
    snprintf(pristine, sizeof pristine, "%s/pristine", g_tmp);
    CHECK(mkdir(src, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs", src);
    CHECK(mkdir(p, 0750) == 0);
    snprintf(p, sizeof p, "%s/docs/sub", src);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs/sub/deep", src);
    CHECK(mkdir(p, 0700) == 0);
    snprintf(p, sizeof p, "%s/empty", src);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs/report.txt", src);
    CHECK(write_text(p, "quarterly report\n", 0640) == 0 && set_mtime(p, 1600000000) == 0);
    snprintf(p, sizeof p, "%s/docs/big.bin", src);
    CHECK(write_random(p, 6u << 20, 0600) == 0 && set_mtime(p, 1600000100) == 0);
    snprintf(p, sizeof p, "%s/docs/sub/deep/x.txt", src);
    CHECK(write_text(p, "deep\n", 0444) == 0 && set_mtime(p, 1600000200) == 0);
    snprintf(p, sizeof p, "%s/docs/link", src);
    CHECK(symlink("report.txt", p) == 0 && set_mtime(p, 1600000300) == 0);
    snprintf(p, sizeof p, "%s/notes.md", src);
    CHECK(write_text(p, "# notes\n", 0600) == 0 && set_mtime(p, 1600000400) == 0);
    snprintf(p, sizeof p, "%s/name with spaces.txt", src);
    CHECK(write_text(p, "spaces\n", 0644) == 0 && set_mtime(p, 1600000500) == 0);
    {
        char cmd[1400];
        snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", src, pristine);
        CHECK(system(cmd) == 0);
    }
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
    CHECK(fx_group(&d, T, "files", policy, host, src, group, sizeof group) == 0);
    CHECK(fx_run(&d, T, group, snap, sizeof snap) == 0);
    {
        char pb[128];
        CHECK(fx_setup(&d, TB, &host_b, pb, sizeof pb) == 0);
    }
}

TEST(restore_to_an_alternate_location)
{
    char alt[700], body_files[2000];
    json_t *r = NULL, *c = NULL;
    struct stat st;
    snprintf(alt, sizeof alt, "%s/alt", g_tmp);
    snprintf(body_files, sizeof body_files, "[{'absolutePath':'%s/docs','isDirectory':true},"
                                            "{'absolutePath':'%s/notes.md','isDirectory':false},"
                                            "{'absolutePath':'%s/name with spaces.txt'}]", src, src, src);
    CHECK(post_json(&d, FX_REC, T, restore_body("to-alt", fmt("%s", body_files),
                                                fmt(",'alternateRestoreDirectory':'%s/','preserveAttributes':true", alt)),
                    201, &c) == 201);
    snprintf(rec_alt, sizeof rec_alt, "%s", jstr(c, "id"));
    {
        long long a, b, n;
        CHECKF(sscanf(rec_alt, "%lld:%lld:%lld", &a, &b, &n) == 3, "id %s", rec_alt);
    }
    CHECK(strcmp(jstr(c, "name"), "to-alt") == 0);
    CHECK(strcmp(jstr(c, "recoveryAction"), "RecoverFiles") == 0);
    CHECK(strcmp(jstr(c, "snapshotEnvironment"), "kPhysical") == 0);
    CHECK(strcmp(jstr(c, "status"), "Accepted") == 0 || strcmp(jstr(c, "status"), "Running") == 0);
    CHECK(strcmp(jstr(c, "physicalParams.objects.0.snapshotId"), snap) == 0);
    CHECK(strcmp(jstr(c, "physicalParams.objects.0.protectionGroupId"), group) == 0);
    CHECK(jint(c, "startTimeUsecs") > 0);
    json_decref(c);
    r = fx_wait_recovery(&d, T, rec_alt, 120);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "Succeeded") == 0, "status %s", jstr(r, "status"));
    CHECK(jint(r, "endTimeUsecs") >= jint(r, "startTimeUsecs"));
    CHECK(jint(r, "cofferStats.bytes") >= (6 << 20));
    CHECK_EQ_INT(jint(r, "physicalParams.objects.0.bytesRestored"), jint(r, "cofferStats.bytes"));
    CHECK(strcmp(jstr(r, "physicalParams.objects.0.status"), "Succeeded") == 0);
    CHECK(strcmp(jstr(r, "physicalParams.recoverFileAndFolderParams.filesAndFolders.0.status"), "Finished") == 0);
    CHECK(strcmp(jstr(r, "physicalParams.recoverFileAndFolderParams.filesAndFolders.0.destinationDir"), alt) == 0);
    json_decref(r);
    /* alt/<basename of each path>, equal to the tree as it was */
    for (int i = 0; g_rel[i]; i++) CHECKF(same(pristine, alt, g_rel[i]), "%s", g_rel[i]);
    CHECK(same(pristine, alt, "notes.md"));
    {
        char p[800];
        snprintf(p, sizeof p, "%s/docs", alt);
        CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750);
        snprintf(p, sizeof p, "%s/docs/sub/deep", alt);
        CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0700);
    }
}

TEST(restore_to_the_original_location)
{
    char p[800];
    json_t *r;
    /* change and delete originals */
    snprintf(p, sizeof p, "%s/docs/report.txt", src);
    CHECK(write_text(p, "tampered with\n", 0666) == 0);
    snprintf(p, sizeof p, "%s/notes.md", src);
    CHECK(unlink(p) == 0);
    snprintf(p, sizeof p, "%s/docs/sub/deep/x.txt", src);
    CHECK(unlink(p) == 0);
    snprintf(p, sizeof p, "%s/docs/big.bin", src);
    CHECK(chmod(p, 0644) == 0);
    CHECK(create(restore_body("to-orig", fmt("[{'absolutePath':'%s/docs','isDirectory':true},"
                                             "{'absolutePath':'%s/notes.md'}]", src, src),
                              ",'restoreToOriginalPaths':true,'overwriteExisting':true"),
                 rec_orig, sizeof rec_orig) == 0);
    r = fx_wait_recovery(&d, T, rec_orig, 120);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "Succeeded") == 0, "status %s %s", jstr(r, "status"), json_dumps(r, 0));
    CHECK(strcmp(jstr(r, "physicalParams.recoverFileAndFolderParams.filesAndFolders.1.destinationDir"), src) == 0);
    json_decref(r);
    for (int i = 0; g_rel[i]; i++) CHECKF(same(pristine, src, g_rel[i]), "%s", g_rel[i]);
    CHECK(same(pristine, src, "notes.md"));
    /* without overwriteExisting an existing file is left as it is, and counted */
    snprintf(p, sizeof p, "%s/docs/report.txt", src);
    CHECK(write_text(p, "changed again\n", 0640) == 0);
    {
        char id[96];
        CHECK(create(restore_body("keep-existing", fmt("[{'absolutePath':'%s/docs/report.txt'}]", src),
                                  ",'restoreToOriginalPaths':true"), id, sizeof id) == 0);
        r = fx_wait_recovery(&d, T, id, 60);
        CHECK(r != NULL);
        CHECKF(strcmp(jstr(r, "status"), "Succeeded") == 0, "status %s", jstr(r, "status"));
        CHECK(jint(r, "cofferStats.skipped") >= 1);
        CHECK(has_message(json_object_get(r, "messages"), "overwriteExisting is false"));
        json_decref(r);
        CHECK(!files_equal(p, fmt("%s/docs/report.txt", pristine)));
    }
}

TEST(bad_requests_write_nothing)
{
    char never[700], nv[800];
    int before = count_recoveries(T);
    CHECK(before >= 3);
    snprintf(never, sizeof never, "%s/never", g_tmp);
    snprintf(nv, sizeof nv, "%s", fmt(",'alternateRestoreDirectory':'%s'", never)); /* fmt's buffers rotate */
#define BAD(files, target, code, part) \
    CHECK(expect(&d, "POST", FX_REC, T, restore_body("bad", files, target), code, part))
    BAD("[{'absolutePath':'docs/report.txt'}]", nv, 400, "absolute");
    BAD(fmt("[{'absolutePath':'%s/docs/../../etc/passwd'}]", src), nv, 400, "'..'");
    BAD(fmt("[{'absolutePath':'%s/./docs'}]", src), nv, 400, "'.'");
    BAD(fmt("[{'absolutePath':'%s//docs'}]", src), nv, 400, "'//'");
    BAD(fmt("[{'absolutePath':'%s/docs/'}]", src), nv, 400, "end with");
    BAD(fmt("[{'absolutePath':'%s/docs/nothing-here.txt'}]", src), nv, 404, "nothing-here.txt");
    BAD(fmt("[{'absolutePath':'%s/docs'},{'absolutePath':'/etc/passwd'}]", src), nv, 404, "/etc/passwd");
    BAD(fmt("[{'absolutePath':'%s/docs','isDirectory':false}]", src), nv, 400, "isDirectory");
    BAD("[]", nv, 400, "filesAndFolders");
    BAD(fmt("[{'absolutePath':'%s/docs'}]", src), ",'alternateRestoreDirectory':'relative/dir'", 400, "absolute");
    BAD(fmt("[{'absolutePath':'%s/docs'}]", src), fmt(",'alternateRestoreDirectory':'%s/../x'", never), 400, "'..'");
    BAD(fmt("[{'absolutePath':'%s/docs'}]", src), fmt(",'restoreToOriginalPaths':true%s", nv), 400, "contradict");
    BAD(fmt("[{'absolutePath':'%s/docs'}]", src), ",'restoreToOriginalPaths':false", 400, "alternateRestoreDirectory");
    BAD(fmt("[{'absolutePath':'%s/docs','destinationDir':'../up'}]", src), nv, 400, "destinationDir");
    BAD(fmt("[{'absolutePath':'%s/docs'}]", src), fmt("%s,'restoreEntityType':'kACLOnly'", nv), 400, "kACLOnly");
#undef BAD
    /* other actions, environments, snapshots, targets */
    CHECK(expect(&d, "POST", FX_REC, T,
                 fmt("{'name':'v','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':'%s'}],"
                     "'recoveryAction':'RecoverPhysicalVolumes','recoverVolumeParams':{'targetEnvironment':'kPhysical'}}}",
                     snap), 400, "recoveryAction"));
    CHECK(expect(&d, "POST", FX_REC, T,
                 fmt("{'name':'v','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':'%s'}],"
                     "'recoveryAction':'InstantVolumeMount'}}", snap), 400, "InstantVolumeMount"));
    CHECK(expect(&d, "POST", FX_REC, T,
                 fmt("{'name':'v','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':'%s'}],"
                     "'recoveryAction':'RecoverSystem'}}", snap), 400, "RecoverSystem"));
    CHECK(expect(&d, "POST", FX_REC, T, "{\"name\":\"v\",\"snapshotEnvironment\":\"kSQL\",\"mssqlParams\":{}}", 400,
                 "recoveryAction"));
    CHECK(expect(&d, "POST", FX_REC, T, "{\"name\":\"v\",\"snapshotEnvironment\":\"kVMware\"}", 400,
                 "snapshotEnvironment"));
    CHECK(expect(&d, "POST", FX_REC, T, "{\"snapshotEnvironment\":\"kPhysical\"}", 400, "name"));
    {
        char other[80];
        snprintf(other, sizeof other, "%s", snap);
        other[0] = other[0] == 'a' ? 'b' : 'a';
        CHECK(expect(&d, "POST", FX_REC, T,
                     fmt("{'name':'v','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':'%s'}],"
                         "'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':{'filesAndFolders':"
                         "[{'absolutePath':'%s'}],'targetEnvironment':'kPhysical','physicalTargetParams':{"
                         "'recoverTarget':{'id':%lld}%s}}}}", other, src, host, nv), 404, other));
    }
    CHECK(expect(&d, "POST", FX_REC, T,
                 fmt("{'name':'v','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':'%s'},"
                     "{'snapshotId':'%s'}],'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':{"
                     "'filesAndFolders':[{'absolutePath':'%s'}],'targetEnvironment':'kPhysical','physicalTargetParams':"
                     "{'recoverTarget':{'id':%lld}%s}}}}", snap, snap, src, host, nv), 400, "exactly one"));
    CHECK(expect(&d, "POST", FX_REC, T,
                 fmt("{'name':'v','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':'%s'}],"
                     "'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':{'filesAndFolders':"
                     "[{'absolutePath':'%s'}],'targetEnvironment':'kPhysical','physicalTargetParams':{"
                     "'recoverTarget':{'id':987654}%s}}}}", snap, src, nv), 404, "recoverTarget"));
    /* tenant B, with its own host, cannot name tenant A's snapshot */
    CHECK(expect(&d, "POST", FX_REC, TB,
                 fmt("{'name':'v','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':'%s'}],"
                     "'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':{'filesAndFolders':"
                     "[{'absolutePath':'%s'}],'targetEnvironment':'kPhysical','physicalTargetParams':{"
                     "'recoverTarget':{'id':%lld}%s}}}}", snap, src, host_b, nv), 404, "not found"));
    CHECK(expect(&d, "POST", FX_REC, T, "{\"name\":", 400, NULL));
    /* nothing queued, nothing written */
    CHECK_EQ_INT(count_recoveries(T), before);
    CHECK_EQ_INT(count_recoveries(TB), 0);
    CHECK(access(never, F_OK) != 0);
}

TEST(a_symlink_in_the_target_is_not_followed)
{
    char alt[700], outside[700], p[800], id[96];
    json_t *r;
    snprintf(alt, sizeof alt, "%s/alt-link", g_tmp);
    snprintf(outside, sizeof outside, "%s/outside", g_tmp);
    CHECK(mkdir(alt, 0755) == 0 && mkdir(outside, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs", alt);
    CHECK(symlink(outside, p) == 0); /* alt/docs -> outside */
    CHECK(create(restore_body("planted-link", fmt("[{'absolutePath':'%s/docs'}]", src),
                              fmt(",'alternateRestoreDirectory':'%s','overwriteExisting':true,'continueOnError':true",
                                  alt)), id, sizeof id) == 0);
    r = fx_wait_recovery(&d, T, id, 120);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "Succeeded") == 0, "status %s", jstr(r, "status"));
    json_decref(r);
    CHECK(dir_is_empty(outside)); /* nothing went through the link */
    {
        struct stat st; /* the link was replaced by a real directory (overwriteExisting) */
        CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
        CHECK(same(pristine, alt, "docs/report.txt"));
    }
    /* without overwriteExisting the planted link is left alone, and still not followed */
    snprintf(alt, sizeof alt, "%s/alt-link2", g_tmp);
    CHECK(mkdir(alt, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs", alt);
    CHECK(symlink(outside, p) == 0);
    CHECK(create(restore_body("planted-link-kept", fmt("[{'absolutePath':'%s/docs'}]", src),
                              fmt(",'alternateRestoreDirectory':'%s'", alt)), id, sizeof id) == 0);
    r = fx_wait_recovery(&d, T, id, 120);
    CHECK(r != NULL);
    CHECK(jint(r, "cofferStats.skipped") >= 1);
    json_decref(r);
    CHECK(dir_is_empty(outside));
    {
        struct stat st;
        CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
    }
}

TEST(list_filter_get)
{
    json_t *j = NULL;
    size_t i;
    json_t *v;
    int seen_alt = 0;
    CHECK(get_json(&d, FX_REC, T, &j) == 200);
    json_array_foreach(json_object_get(j, "recoveries"), i, v) {
        if (strcmp(jstr(v, "id"), rec_alt) == 0) seen_alt = 1;
        CHECK(strcmp(jstr(v, "recoveryAction"), "RecoverFiles") == 0);
        if (i > 0) CHECK(jint(v, "startTimeUsecs") <= jint(json_array_get(json_object_get(j, "recoveries"), i - 1),
                                                           "startTimeUsecs"));
    }
    json_decref(j);
    CHECK(seen_alt);
    CHECK(get_json(&d, fmt(FX_REC "?ids=%s", rec_alt), T, &j) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "recoveries")), 1);
    json_decref(j);
    CHECK(get_json(&d, fmt(FX_REC "?ids=%s,%s&status=Succeeded", rec_alt, rec_orig), T, &j) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "recoveries")), 2);
    json_decref(j);
    CHECK(get_json(&d, FX_REC "?recoveryActions=DownloadFilesAndFolders", T, &j) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "recoveries")), 0);
    json_decref(j);
    CHECK(get_json(&d, FX_REC "?recoveryActions=RecoverFiles&snapshotEnvironments=kPhysical", T, &j) == 200);
    CHECK(json_array_size(json_object_get(j, "recoveries")) >= 3);
    json_decref(j);
    CHECK(get_json(&d, FX_REC "?snapshotEnvironments=kSQL", T, &j) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "recoveries")), 0);
    json_decref(j);
    CHECK(get_json(&d, FX_REC "?startTimeUsecs=4000000000000000", T, &j) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "recoveries")), 0);
    json_decref(j);
    CHECK(get_json(&d, FX_REC "?snapshotTargetType=Archival", T, &j) == 200);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "recoveries")), 0);
    json_decref(j);
    CHECK(expect(&d, "GET", FX_REC "?status=Sleeping", T, NULL, 400, "status"));
    CHECK(expect(&d, "GET", FX_REC "?ids=abc", T, NULL, 400, "ids"));
    CHECK(expect(&d, "GET", fmt(FX_REC "/%s", rec_alt), TB, NULL, 404, "not found"));
    CHECK(expect(&d, "GET", FX_REC "/1:2:999999", T, NULL, 404, "not found"));
    CHECK(expect(&d, "GET", FX_REC "/not-an-id", T, NULL, 400, "recovery id"));
    CHECK(expect(&d, "POST", fmt(FX_REC "/%s/cancel", rec_alt), T, NULL, 409, "Succeeded"));
    CHECK(expect(&d, "POST", fmt(FX_REC "/%s/cancel", rec_alt), TB, NULL, 404, "not found"));
    CHECK(expect(&d, "POST", FX_REC "/1:2:999999/cancel", T, NULL, 404, "not found"));
}

/* damage_largest_pack: 16 bytes in the middle of the largest pack file (mostly big.bin's data). */
static int damage_largest_pack(void)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "f=$(find '%s/repo/data' -type f -printf '%%s %%p\\n' | sort -n | tail -1 | cut -d' ' -f2-);"
             " test -n \"$f\" && chmod u+w \"$f\" && printf 'XXXXXXXXXXXXXXXX' |"
             " dd of=\"$f\" bs=1 seek=$(( $(stat -c %%s \"$f\") / 2 )) conv=notrunc status=none",
             d.data_dir);
    return system(cmd);
}

TEST(a_damaged_pack_names_the_damaged_file)
{
    char alt[700], id[96], p[800];
    json_t *r;
    CHECK(damage_largest_pack() == 0);
    snprintf(alt, sizeof alt, "%s/alt-damaged", g_tmp);
    CHECK(create(restore_body("damaged", fmt("[{'absolutePath':'%s/docs','isDirectory':true}]", src),
                              fmt(",'alternateRestoreDirectory':'%s','continueOnError':true", alt)), id, sizeof id) == 0);
    r = fx_wait_recovery(&d, T, id, 120);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "SucceededWithWarning") == 0, "status %s", jstr(r, "status"));
    CHECK(has_message(json_object_get(r, "messages"), "big.bin"));
    CHECK(has_message(jget(r, "physicalParams.recoverFileAndFolderParams.filesAndFolders.0.messages"), "big.bin"));
    CHECK(jint(r, "cofferStats.errors") >= 1);
    json_decref(r);
    CHECK(same(pristine, alt, "docs/report.txt")); /* the rest is restored */
    CHECK(same(pristine, alt, "docs/sub/deep/x.txt"));
    snprintf(p, sizeof p, "%s/docs/big.bin", alt);
    CHECK(access(p, F_OK) != 0); /* never under its name, damaged */
    /* without continueOnError the first damaged file ends it */
    snprintf(alt, sizeof alt, "%s/alt-damaged2", g_tmp);
    CHECK(create(restore_body("damaged-stop", fmt("[{'absolutePath':'%s/docs/big.bin'}]", src),
                              fmt(",'alternateRestoreDirectory':'%s'", alt)), id, sizeof id) == 0);
    r = fx_wait_recovery(&d, T, id, 120);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "Failed") == 0, "status %s", jstr(r, "status"));
    CHECK(has_message(json_object_get(r, "messages"), "big.bin"));
    json_decref(r);
    /* an archive of damaged data: complete, the damaged file named (and listed by fileType=error) */
    {
        json_t *c = NULL;
        struct http_resp h;
        CHECK(post_json(&d, FX_REC "/download-files-folders", T,
                        fmt("{'name':'damaged-dl','object':{'snapshotId':'%s'},'filesAndFolders':"
                            "[{'absolutePath':'%s/docs'}]}", snap, src), 201, &c) == 201);
        snprintf(id, sizeof id, "%s", jstr(c, "id"));
        json_decref(c);
        r = fx_wait_recovery(&d, T, id, 120);
        CHECK(r != NULL);
        CHECKF(strcmp(jstr(r, "status"), "SucceededWithWarning") == 0, "status %s", jstr(r, "status"));
        CHECK(has_message(json_object_get(r, "messages"), "big.bin"));
        json_decref(r);
        CHECK(call(&d, "GET", fmt(FX_REC "/%s/download-files?fileType=error", id), T, NULL, &h) == 200);
        CHECK(h.body && strstr(h.body, "big.bin") != NULL);
        http_resp_release(&h);
    }
}

/* ---------- with the delay hook: cancel and restart ---------- */

TEST(cancel_running_and_queued)
{
    char a1[96], a2[96], a3[96], alt[700], target[800], files[800];
    json_t *r;
    snprintf(alt, sizeof alt, "%s/alt-cancel", g_tmp);
    snprintf(target, sizeof target, "%s", fmt(",'alternateRestoreDirectory':'%s'", alt));
    snprintf(files, sizeof files, "%s", fmt("[{'absolutePath':'%s/notes.md'}]", src));
    /* two workers, each holding one recovery; the third waits in the queue */
    CHECK(create(restore_body("c1", files, target), a1, sizeof a1) == 0);
    CHECK(fx_wait_status(&d, T, a1, "Running", 20));
    CHECK(create(restore_body("c2", files, target), a2, sizeof a2) == 0);
    CHECK(fx_wait_status(&d, T, a2, "Running", 20));
    CHECK(create(restore_body("c3", files, target), a3, sizeof a3) == 0);
    CHECK(fx_wait_status(&d, T, a3, "Accepted", 1));
    CHECK(expect(&d, "POST", fmt(FX_REC "/%s/cancel", a3), T, NULL, 200, NULL));
    r = fx_wait_recovery(&d, T, a3, 5);
    CHECK(r != NULL);
    CHECK(strcmp(jstr(r, "status"), "Canceled") == 0);
    CHECK(has_message(json_object_get(r, "messages"), "before it started"));
    json_decref(r);
    CHECK(expect(&d, "POST", fmt(FX_REC "/%s/cancel", a1), T, NULL, 200, NULL));
    CHECK(expect(&d, "POST", fmt(FX_REC "/%s/cancel", a1), T, NULL, 200, NULL)); /* again: still fine */
    r = fx_wait_recovery(&d, T, a1, 20);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "Canceled") == 0, "status %s", jstr(r, "status"));
    CHECK(has_message(json_object_get(r, "messages"), "canceled on request"));
    json_decref(r);
    r = fx_wait_recovery(&d, T, a2, 30);
    CHECK(r != NULL);
    CHECK(strcmp(jstr(r, "status"), "Succeeded") == 0);
    json_decref(r);
    CHECK(expect(&d, "POST", fmt(FX_REC "/%s/cancel", a2), T, NULL, 409, "Succeeded"));
    CHECK(access(fmt("%s/notes.md", alt), F_OK) == 0); /* a2 restored it */
}

TEST(sigkill_while_running_fails_it_after_restart)
{
    static const char *const env[] = { "COFFER_TEST_HOOKS=1", "COFFER_TEST_RECOVERY_DELAY_MS=3000", NULL };
    char id[96];
    json_t *r = NULL;
    CHECK(create(restore_body("killed", fmt("[{'absolutePath':'%s/notes.md'}]", src),
                              fmt(",'alternateRestoreDirectory':'%s/alt-killed'", g_tmp)), id, sizeof id) == 0);
    CHECK(fx_wait_status(&d, T, id, "Running", 20));
    {
        char how[96];
        CHECKF(daemon_kill_how(&d, SIGKILL, how, sizeof how) == SIGKILL, "the daemon was not killed by SIGKILL: %s",
               how);
    }
    CHECK(daemon_restart(&d, env) == 0);
    CHECK(get_json(&d, fmt(FX_REC "/%s", id), T, &r) == 200);
    CHECKF(strcmp(jstr(r, "status"), "Failed") == 0, "status %s", jstr(r, "status"));
    CHECK(has_message(json_object_get(r, "messages"), "interrupted by daemon restart"));
    CHECK(jint(r, "endTimeUsecs") > 0);
    json_decref(r);
    CHECK(access(fmt("%s/alt-killed/notes.md", g_tmp), F_OK) != 0);
}

int main(void)
{
    static const char *const slow[] = { "COFFER_TEST_HOOKS=1", "COFFER_TEST_RECOVERY_DELAY_MS=3000", NULL };
    g_tmp = check_tmpdir("recover-e2e");
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup);
    RUN(restore_to_an_alternate_location);
    RUN(restore_to_the_original_location);
    RUN(bad_requests_write_nothing);
    RUN(a_symlink_in_the_target_is_not_followed);
    RUN(list_filter_get);
    RUN(a_damaged_pack_names_the_damaged_file);
    /* the same data, the daemon restarted with recoveries held Running for 3 s */
    if (daemon_kill(&d, SIGTERM) != 0 || daemon_restart(&d, slow) != 0) {
        check_fail(__FILE__, __LINE__, "cannot restart the daemon with the delay hook");
        check_abandon("the daemon could not be restarted with the delay hook"); /* the tests below count as failed */
    }
    RUN(cancel_running_and_queued);
    RUN(sigkill_while_running_fails_it_after_restart);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "the daemon did not exit cleanly");
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
