/* test_repo_epoch.c: a pack seal that fails (a full disk) voids the snapshot of every writer that was
 * writing then, because one of them may have deduplicated against a blob of the lost pack; a writer
 * that starts after the failure writes at once (it used to be refused until no backup was running).
 * The repository lives on a small tmpfs the test mounts and fills; without mount rights the tests
 * say SKIP. */
#include "check.h"
#include "repo/repo.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char *g_dir;
static char g_mnt[600], g_repo[700], g_key[600], g_filler[700];
static int g_mounted;

static void blob(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

/* fill: writes the filler file until the file system is full; 0 when it is. */
static int fill(void)
{
    static uint8_t buf[65536];
    int fd = open(g_filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    for (int i = 0; i < 100000; i++) { /* bounded: the tmpfs is 8 MiB */
        if (write(fd, buf, sizeof buf) < 0) {
            int e = errno;
            close(fd);
            return e == ENOSPC ? 0 : -1;
        }
    }
    close(fd);
    return -1;
}

static int put(struct repo *r, uint64_t seed, repo_id_t *id)
{
    uint8_t data[4096];
    blob(data, sizeof data, seed);
    repo_blob_id(r, data, sizeof data, id);
    return repo_blob_put(r, REPO_BLOB_DATA, id, data, sizeof data, NULL);
}

static json_t *snapshot_doc(const repo_id_t *id)
{
    char hex[REPO_ID_HEX_LEN + 1];
    repo_id_to_hex(id, hex);
    return json_pack("{s:i,s:s}", "version", 1, "tree", hex);
}

TEST(a_failed_seal_voids_the_writers_of_that_moment_only)
{
    struct repo *r = NULL;
    repo_id_t x, y;
    char err[256], snap[REPO_ID_HEX_LEN + 1];
    uint64_t epoch_a, epoch_c;
    json_t *doc;
    void *data = NULL;
    size_t len = 0;
    CHECKF(repo_create(g_repo, g_key, err, sizeof err) == 0, "%s", err);
    CHECKF(repo_open(g_repo, g_key, &r, err, sizeof err) == 0, "%s", err);
    /* writer A starts; writer B stores X and 199 more blobs in the open pack (its trailer then needs
     * more room than the last page of the pack file has spare); A deduplicates against X */
    epoch_a = repo_write_epoch(r);
    CHECK_EQ_INT(put(r, 1, &x), 0);
    for (uint64_t seed = 2; seed <= 200; seed++) CHECK_EQ_INT(put(r, seed, &y), 0);
    CHECK_EQ_INT(put(r, 1, &x), 0);
    /* the disk fills before the open pack is sealed: the seal fails and X is lost */
    CHECK_EQ_INT(fill(), 0);
    CHECK(repo_flush(r) < 0);
    CHECK(repo_write_epoch(r) != epoch_a);
    /* A's snapshot names X: refused (with space or without) */
    CHECK_EQ_INT(unlink(g_filler), 0);
    doc = snapshot_doc(&x);
    CHECK_EQ_INT(repo_snapshot_write_since(r, doc, epoch_a, snap), -ESTALE);
    json_decref(doc);
    /* writer C starts after the failure: it writes at once and stores X again */
    epoch_c = repo_write_epoch(r);
    CHECK_EQ_INT(put(r, 1, &x), 0);
    CHECK_EQ_INT(put(r, 201, &y), 0);
    doc = snapshot_doc(&x);
    CHECK_EQ_INT(repo_snapshot_write_since(r, doc, epoch_c, snap), 0);
    json_decref(doc);
    CHECK_EQ_INT(repo_blob_get(r, &x, &data, &len), 0);
    CHECK_EQ_INT(len, 4096);
    free(data);
    repo_close(r);
    r = NULL;
    /* and X is there after a reopen */
    CHECKF(repo_open(g_repo, g_key, &r, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(repo_blob_get(r, &x, &data, &len), 0);
    free(data);
    repo_close(r);
}

int main(void)
{
    g_dir = check_tmpdir("epoch");
    snprintf(g_mnt, sizeof g_mnt, "%s/mnt", g_dir);
    snprintf(g_repo, sizeof g_repo, "%s/repo", g_mnt);
    snprintf(g_key, sizeof g_key, "%s/repo.key", g_dir);
    snprintf(g_filler, sizeof g_filler, "%s/filler", g_mnt);
    if (mkdir(g_mnt, 0700) == 0 && mount("tmpfs", g_mnt, "tmpfs", 0, "size=8m") == 0) g_mounted = 1;
    if (g_mounted)
        RUN(a_failed_seal_voids_the_writers_of_that_moment_only);
    else
        SKIP("a_failed_seal_voids_the_writers_of_that_moment_only", "cannot mount a tmpfs here: %s", strerror(errno));
    if (g_mounted && umount2(g_mnt, MNT_DETACH) != 0) check_fail(__FILE__, __LINE__, "umount: %s", strerror(errno));
    check_rm_rf(g_dir);
    free(g_dir);
    return check_finish();
}
