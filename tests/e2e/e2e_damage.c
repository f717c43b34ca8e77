/* e2e_damage.c: repository damage through the real daemon. A flipped byte in a pack is named by
 * the restore, remembered, and the next backup of the unchanged data stores it afresh so the new
 * snapshot restores whole (also with a daemon restart between the two); a damaged or missing
 * snapshot file is a 409 naming it; a deleted pack fails the restore (or warns with
 * continueOnError), the download job and the single-file download, naming the pack and the file,
 * never as a write error of the target; the backup after that stores the lost data again. */
#include "e2e/e2e_recover_fixture.h"
#include <dirent.h>
#include <signal.h>

#define T "tenant-damage"

static struct daemon d;
static char *g_tmp;
static long long host;
static char policy[128];

struct grp {
    char src[600], gid[128], snap[80];
};
static struct grp g1, g2, g3;

/* packs: the names of data/xx/<64 hex> files of the daemon's repository (up to max). */
static int packs(char (*names)[65], int max)
{
    char dir[700], sub[800];
    int n = 0;
    snprintf(dir, sizeof dir, "%s/repo/data", d.data_dir);
    for (int b = 0; b < 256; b++) {
        DIR *dd;
        struct dirent *de;
        snprintf(sub, sizeof sub, "%s/%02x", dir, b);
        if (!(dd = opendir(sub))) continue;
        while ((de = readdir(dd)) != NULL)
            if (strlen(de->d_name) == 64 && n < max) memcpy(names[n++], de->d_name, 65);
        closedir(dd);
    }
    return n;
}

static const char *pack_path(const char *name)
{
    return fmt("%s/repo/data/%.2s/%s", d.data_dir, name, name);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* new_largest_pack: the largest pack not in before[0..nb); its name into out. */
static int new_largest_pack(char (*before)[65], int nb, char out[65])
{
    static char now[512][65];
    int n = packs(now, 512);
    long long best = -1;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        int old = 0;
        for (int k = 0; k < nb && !old; k++) old = strcmp(now[i], before[k]) == 0;
        if (old) continue;
        long long sz = file_size(pack_path(now[i]));
        if (sz > best) {
            best = sz;
            snprintf(out, 65, "%s", now[i]);
        }
    }
    return out[0] ? 0 : -1;
}

/* flip_middle: one byte in the middle of a file, xor'ed. */
static int flip_middle(const char *path)
{
    long long sz = file_size(path);
    unsigned char b;
    int fd, ok;
    if (sz <= 0 || chmod(path, 0600) != 0 || (fd = open(path, O_RDWR)) < 0) return -1;
    ok = pread(fd, &b, 1, sz / 2) == 1;
    b ^= 0x01;
    ok = ok && pwrite(fd, &b, 1, sz / 2) == 1;
    return close(fd) == 0 && ok ? 0 : -1;
}

static const char *restore_body(const char *name, const char *snap, const char *files_json, const char *target_json)
{
    return fmt("{'name':'%s','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':'%s'}],"
               "'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':{'filesAndFolders':%s,"
               "'targetEnvironment':'kPhysical','physicalTargetParams':{'recoverTarget':{'id':%lld}%s}}}}",
               name, snap, files_json, host, target_json);
}

/* restore_dir: restores grp's source directory from snap into alt; the finished recovery (decref). */
static json_t *restore_dir(const struct grp *g, const char *snap, const char *name, const char *alt, int coe)
{
    json_t *j = NULL;
    char id[96];
    const char *body = restore_body(name, snap, fmt("[{'absolutePath':'%s','isDirectory':true}]", g->src),
                                    fmt(",'alternateRestoreDirectory':'%s'%s", alt, coe ? ",'continueOnError':true" : ""));
    if (post_json(&d, FX_REC, T, body, 201, &j) != 201) return NULL;
    snprintf(id, sizeof id, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    if (!id[0]) return NULL;
    return fx_wait_recovery(&d, T, id, 120);
}

/* same_file: alt/<basename of src>/rel equals src/rel byte for byte. */
static int same_file(const struct grp *g, const char *alt, const char *rel)
{
    const char *base = strrchr(g->src, '/') + 1;
    char a[1400], b[1400];
    snprintf(a, sizeof a, "%s/%s", g->src, rel);
    snprintf(b, sizeof b, "%s/%s/%s", alt, base, rel);
    int ok = files_equal(a, b);
    if (!ok) fprintf(stderr, "%s differs from %s\n", b, a);
    return ok;
}

/* names_a_file: the recovery's messages name a damaged file of the group (which one depends on
 * where the flipped byte fell) and say it is repository damage. */
static int names_a_file(json_t *r)
{
    json_t *m = json_object_get(r, "messages");
    return (has_message(m, "big.bin") || has_message(m, "x.bin")) && has_message(m, "repository damage");
}

static int make_group(struct grp *g, const char *name)
{
    snprintf(g->src, sizeof g->src, "%s/%s", g_tmp, name);
    if (mkdir(g->src, 0755) != 0 || mkdir(fmt("%s/sub", g->src), 0755) != 0) return -1;
    if (write_random(fmt("%s/big.bin", g->src), 3u << 20, 0644) != 0 ||
        write_text(fmt("%s/small.txt", g->src), "small and whole\n", 0644) != 0 ||
        write_random(fmt("%s/sub/x.bin", g->src), 70000, 0600) != 0)
        return -1;
    return fx_group(&d, T, name, policy, host, g->src, g->gid, sizeof g->gid);
}

TEST(setup)
{
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
}

/* Flip one byte of the pack holding a group's data: the restore names the damaged file; the next
 * incremental backup of the unchanged data must not reuse the damaged blob. */
TEST(flipped_pack_byte_heals_on_the_next_backup)
{
    static char before[512][65];
    char pk[65], snap2[80];
    int nb = packs(before, 512);
    json_t *r;
    CHECK(make_group(&g1, "one") == 0);
    CHECK(fx_run(&d, T, g1.gid, g1.snap, sizeof g1.snap) == 0);
    CHECK(new_largest_pack(before, nb, pk) == 0);
    CHECK(flip_middle(pack_path(pk)) == 0);

    r = restore_dir(&g1, g1.snap, "flipped", fmt("%s/alt-flip1", g_tmp), 1);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "SucceededWithWarning") == 0, "status %s", jstr(r, "status"));
    CHECK(names_a_file(r)); /* the flipped byte lies in big.bin (3 MiB of the pack) or x.bin */
    CHECKF(has_message(json_object_get(r, "messages"), pk), "no message names pack %s", pk);
    CHECK(has_message(json_object_get(r, "messages"), "repository damage"));
    CHECK(!has_message(json_object_get(r, "messages"), "cannot write"));
    json_decref(r);
    CHECK(same_file(&g1, fmt("%s/alt-flip1", g_tmp), "small.txt"));
    CHECK(access(fmt("%s/repo/damaged", d.data_dir), F_OK) == 0); /* remembered on disk */

    /* the next backup: the same files, unchanged; it must store big.bin's damaged chunk again */
    CHECK(fx_run(&d, T, g1.gid, snap2, sizeof snap2) == 0);
    CHECK(strcmp(snap2, g1.snap) != 0);
    r = restore_dir(&g1, snap2, "healed", fmt("%s/alt-flip2", g_tmp), 0);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "Succeeded") == 0, "status %s: %s", jstr(r, "status"),
           json_dumps(json_object_get(r, "messages"), 0));
    json_decref(r);
    CHECK(same_file(&g1, fmt("%s/alt-flip2", g_tmp), "big.bin"));
    CHECK(same_file(&g1, fmt("%s/alt-flip2", g_tmp), "small.txt"));
    CHECK(same_file(&g1, fmt("%s/alt-flip2", g_tmp), "sub/x.bin"));
    snprintf(g1.snap, sizeof g1.snap, "%s", snap2);
}

/* The same with a daemon restart between the restore that finds the damage and the backup. */
TEST(damage_found_before_a_restart_heals_after_it)
{
    static char before[512][65];
    char pk[65], snap2[80];
    int nb = packs(before, 512);
    json_t *r;
    CHECK(make_group(&g2, "two") == 0);
    CHECK(fx_run(&d, T, g2.gid, g2.snap, sizeof g2.snap) == 0);
    CHECK(new_largest_pack(before, nb, pk) == 0);
    CHECK(flip_middle(pack_path(pk)) == 0);
    r = restore_dir(&g2, g2.snap, "flipped2", fmt("%s/alt-two1", g_tmp), 1);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "SucceededWithWarning") == 0, "status %s", jstr(r, "status"));
    CHECK(names_a_file(r)); /* the flipped byte lies in big.bin (3 MiB of the pack) or x.bin */
    CHECK(has_message(json_object_get(r, "messages"), pk));
    json_decref(r);
    CHECK(daemon_kill(&d, SIGTERM) == 0);
    CHECK(daemon_restart(&d, NULL) == 0);
    CHECK(fx_run(&d, T, g2.gid, snap2, sizeof snap2) == 0);
    r = restore_dir(&g2, snap2, "healed2", fmt("%s/alt-two2", g_tmp), 0);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "Succeeded") == 0, "status %s: %s", jstr(r, "status"),
           json_dumps(json_object_get(r, "messages"), 0));
    json_decref(r);
    CHECK(same_file(&g2, fmt("%s/alt-two2", g_tmp), "big.bin"));
    CHECK(same_file(&g2, fmt("%s/alt-two2", g_tmp), "small.txt"));
    CHECK(same_file(&g2, fmt("%s/alt-two2", g_tmp), "sub/x.bin"));
    /* and the healed copy is the one read after another restart too */
    CHECK(daemon_kill(&d, SIGTERM) == 0);
    CHECK(daemon_restart(&d, NULL) == 0);
    r = restore_dir(&g2, snap2, "healed3", fmt("%s/alt-two3", g_tmp), 0);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "Succeeded") == 0, "status %s", jstr(r, "status"));
    json_decref(r);
    CHECK(same_file(&g2, fmt("%s/alt-two3", g_tmp), "big.bin"));
}

/* A damaged or missing snapshot file: every request on it is a 409 naming the snapshot. */
TEST(damaged_snapshot_file_is_a_409_naming_it)
{
    const char *path = fmt("%s/repo/snapshots/%s", d.data_dir, g2.snap);
    char saved[800];
    snprintf(saved, sizeof saved, "%s", path);
    CHECK(flip_middle(saved) == 0);
    CHECK(expect(&d, "POST", FX_REC, T,
                 restore_body("bad-snap", g2.snap, fmt("[{'absolutePath':'%s/small.txt'}]", g2.src),
                              fmt(",'alternateRestoreDirectory':'%s/alt-bad-snap'", g_tmp)), 409, g2.snap));
    CHECK(expect(&d, "POST", FX_REC, T,
                 restore_body("bad-snap", g2.snap, fmt("[{'absolutePath':'%s/small.txt'}]", g2.src),
                              fmt(",'alternateRestoreDirectory':'%s/alt-bad-snap'", g_tmp)), 409, "damaged"));
    CHECK(expect(&d, "POST", FX_REC "/download-files-folders", T,
                 fmt("{'name':'bad-snap-dl','object':{'snapshotId':'%s'},'filesAndFolders':[{'absolutePath':'%s'}]}",
                     g2.snap, g2.src), 409, g2.snap));
    CHECK(expect(&d, "GET", fmt("/v2/data-protect/snapshots/%s/download-file?filePath=%s/small.txt", g2.snap, g2.src),
                 T, NULL, 409, g2.snap));
    CHECK(access(fmt("%s/alt-bad-snap", g_tmp), F_OK) != 0); /* nothing was written */
    CHECK(unlink(saved) == 0);
    CHECK(expect(&d, "POST", FX_REC, T,
                 restore_body("gone-snap", g2.snap, fmt("[{'absolutePath':'%s/small.txt'}]", g2.src),
                              fmt(",'alternateRestoreDirectory':'%s/alt-bad-snap'", g_tmp)), 409, "missing"));
    CHECK(expect(&d, "GET", fmt("/v2/data-protect/snapshots/%s/download-file?filePath=%s/small.txt", g2.snap, g2.src),
                 T, NULL, 409, "missing"));
}

/* A deleted pack: the restore fails naming the pack and the file (or warns with continueOnError), the
 * download job and the single-file download name them too; the next backup stores the data again. */
TEST(deleted_pack_is_named_with_its_file_and_stored_again)
{
    static char before[512][65];
    char pk[65], snap3[80];
    int nb;
    json_t *r, *c = NULL;
    struct http_resp h;
    CHECK(make_group(&g3, "three") == 0);
    nb = packs(before, 512);
    CHECK(fx_run(&d, T, g3.gid, g3.snap, sizeof g3.snap) == 0);
    CHECK(new_largest_pack(before, nb, pk) == 0); /* big.bin's data, with this run's trees */
    /* a second run with small.txt changed: new trees in a new pack, big.bin's data reused from pk */
    CHECK(write_text(fmt("%s/small.txt", g3.src), "changed, so every tree above it is new\n", 0644) == 0);
    CHECK(write_text(fmt("%s/sub/new.txt", g3.src), "so is the tree of sub\n", 0644) == 0);
    CHECK(fx_run(&d, T, g3.gid, g3.snap, sizeof g3.snap) == 0);
    CHECK(daemon_kill(&d, SIGTERM) == 0);
    CHECK(unlink(pack_path(pk)) == 0);
    CHECK(daemon_restart(&d, NULL) == 0);

    r = restore_dir(&g3, g3.snap, "lost", fmt("%s/alt-lost1", g_tmp), 0);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "Failed") == 0, "status %s", jstr(r, "status"));
    CHECKF(has_message(json_object_get(r, "messages"), pk), "no message names pack %s: %s", pk,
           json_dumps(json_object_get(r, "messages"), 0));
    /* both files' data was in that pack: the first one a writer met stops the restore */
    CHECKF(has_message(json_object_get(r, "messages"), "big.bin") ||
           has_message(json_object_get(r, "messages"), "sub/x.bin"), "%s", json_dumps(r, 0));
    CHECK(has_message(json_object_get(r, "messages"), "missing"));
    CHECK(!has_message(json_object_get(r, "messages"), "cannot write"));
    CHECK(!has_message(json_object_get(r, "messages"), "Input/output error"));
    json_decref(r);

    r = restore_dir(&g3, g3.snap, "lost-coe", fmt("%s/alt-lost2", g_tmp), 1);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "SucceededWithWarning") == 0, "status %s", jstr(r, "status"));
    CHECK(has_message(json_object_get(r, "messages"), pk));
    CHECK(has_message(json_object_get(r, "messages"), "big.bin"));
    CHECK(has_message(json_object_get(r, "messages"), "sub/x.bin"));
    json_decref(r);
    CHECK(same_file(&g3, fmt("%s/alt-lost2", g_tmp), "small.txt"));
    CHECK(access(fmt("%s/alt-lost2/three/big.bin", g_tmp), F_OK) != 0);

    CHECK(post_json(&d, FX_REC "/download-files-folders", T,
                    fmt("{'name':'lost-dl','object':{'snapshotId':'%s'},'filesAndFolders':[{'absolutePath':'%s'}]}",
                        g3.snap, g3.src), 201, &c) == 201);
    r = fx_wait_recovery(&d, T, jstr(c, "id"), 120);
    json_decref(c);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "SucceededWithWarning") == 0, "status %s", jstr(r, "status"));
    CHECKF(has_message(json_object_get(r, "messages"), pk) && has_message(json_object_get(r, "messages"), "big.bin"),
           "download messages: %s", json_dumps(r, 0));
    json_decref(r);

    CHECK(call(&d, "GET", fmt("/v2/data-protect/snapshots/%s/download-file?filePath=%s/big.bin", g3.snap, g3.src), T,
               NULL, &h) == 409);
    CHECKF(jstr(h.json, "message") && strstr(jstr(h.json, "message"), pk), "%s", h.body ? h.body : "");
    http_resp_release(&h);
    CHECK(expect(&d, "GET", fmt("/v2/data-protect/snapshots/%s/download-file?filePath=%s/small.txt", g3.snap, g3.src),
                 T, NULL, 200, NULL));

    /* the next backup stores the lost data again: its snapshot restores whole */
    CHECK(fx_run(&d, T, g3.gid, snap3, sizeof snap3) == 0);
    r = restore_dir(&g3, snap3, "found", fmt("%s/alt-lost3", g_tmp), 0);
    CHECK(r != NULL);
    CHECKF(strcmp(jstr(r, "status"), "Succeeded") == 0, "status %s: %s", jstr(r, "status"),
           json_dumps(json_object_get(r, "messages"), 0));
    json_decref(r);
    CHECK(same_file(&g3, fmt("%s/alt-lost3", g_tmp), "big.bin"));
    CHECK(same_file(&g3, fmt("%s/alt-lost3", g_tmp), "small.txt"));
    CHECK(same_file(&g3, fmt("%s/alt-lost3", g_tmp), "sub/x.bin"));
}

int main(void)
{
    g_tmp = check_tmpdir("damage-e2e");
    if (daemon_start(&d, NULL) != 0) return 1;
    RUN(setup);
    RUN(flipped_pack_byte_heals_on_the_next_backup);
    RUN(damage_found_before_a_restart_heals_after_it);
    RUN(damaged_snapshot_file_is_a_409_naming_it);
    RUN(deleted_pack_is_named_with_its_file_and_stored_again);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "the daemon did not exit cleanly");
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
