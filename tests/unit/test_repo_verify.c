/* test_repo_verify.c: repo_verify_ex names what damage hurts, and its rotating subset.
 *   - a byte flipped in a pack (inside a one-chunk file's blob): the structure-only verify passes
 *     (the trailer and sizes are intact: it cannot see inside a blob); --read-data names the pack,
 *     the blob, the snapshot and the file's path, and only that file; a second snapshot that does
 *     not hold the file is not named;
 *   - a missing pack: even the structure-only verify names the pack and the file it hurts;
 *   - the subset: 4 runs of 25% each start after the pack the last ended with, together read every
 *     pack, and exactly one of them finds the pack with a flipped byte. */
#include "check.h"
#include "repo/repo.h"
#include "repo/repo_int.h"
#include "engine/engine.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int write_file(const char *path, const uint8_t *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), ok = fd >= 0;
    ok = ok && write(fd, data, n) == (ssize_t)n;
    if (fd >= 0 && close(fd) != 0) ok = 0;
    return ok ? 0 : -1;
}

static int flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    int ok;
    if (fd < 0) return -errno;
    ok = pread(fd, &b, 1, (off_t)off) == 1;
    b ^= 0x5a;
    ok = ok && pwrite(fd, &b, 1, (off_t)off) == 1;
    close(fd);
    return ok ? 0 : -EIO;
}

static int backup(struct repo *r, const char *dir, char snap[REPO_ID_HEX_LEN + 1])
{
    const char *incs[] = { dir };
    struct eng_backup_opts o = { .include_paths = incs, .n_include = 1, .threads = 2 };
    struct eng_backup_result res;
    char err[256];
    int rc = eng_backup(r, &o, &res, err, sizeof err);
    if (rc == 0) memcpy(snap, res.snapshot_id, REPO_ID_HEX_LEN + 1);
    else fprintf(stderr, "backup: %s\n", err);
    eng_backup_result_release(&res);
    return rc;
}

/* count_hurt: entries of report.hurt with this snapshot and a path ending in suffix. */
static int count_hurt(json_t *rep, const char *snap, const char *suffix, const char *blob)
{
    json_t *e;
    size_t i;
    int n = 0;
    json_array_foreach(json_object_get(rep, "hurt"), i, e) {
        const char *s = json_string_value(json_object_get(e, "snapshot"));
        const char *p = json_string_value(json_object_get(e, "path"));
        const char *b = json_string_value(json_object_get(e, "blob"));
        size_t pl = p ? strlen(p) : 0, sl = strlen(suffix);
        if (s && p && strcmp(s, snap) == 0 && pl >= sl && strcmp(p + pl - sl, suffix) == 0 &&
            (!blob || (b && strcmp(b, blob) == 0)))
            n++;
    }
    return n;
}

static int count_errors(json_t *rep, const char *pack, const char *blob)
{
    json_t *e;
    size_t i;
    int n = 0;
    json_array_foreach(json_object_get(rep, "errors"), i, e) {
        const char *p = json_string_value(json_object_get(e, "pack"));
        const char *b = json_string_value(json_object_get(e, "blob"));
        if (p && strcmp(p, pack) == 0 && (!blob || (b && strcmp(b, blob) == 0))) n++;
    }
    return n;
}

struct fx {
    char *dir;
    char repo[512], key[512], src[512], src2[512];
    char snap1[REPO_ID_HEX_LEN + 1], snap2[REPO_ID_HEX_LEN + 1];
    repo_id_t bad;
    char pack_hex[REPO_ID_HEX_LEN + 1], blob_hex[REPO_ID_HEX_LEN + 1], pack_path[4096];
    uint64_t off;
    uint32_t stored;
};

/* fx_build: src/{one.bin,two.bin} and src2/three.bin (each under the smallest chunk: one blob),
 * one snapshot of each directory; bad = one.bin's blob. */
static int fx_build(struct fx *f, const char *tag, struct repo **r)
{
    enum { N = 100000 };
    uint8_t *a = malloc(N);
    char err[256], path[700];
    uint32_t no = 0;
    int rc = a ? 0 : -1;
    f->dir = check_tmpdir(tag);
    snprintf(f->repo, sizeof f->repo, "%s/repo", f->dir);
    snprintf(f->key, sizeof f->key, "%s/key", f->dir);
    snprintf(f->src, sizeof f->src, "%s/src", f->dir);
    snprintf(f->src2, sizeof f->src2, "%s/src2", f->dir);
    if (rc == 0 && (mkdir(f->src, 0700) || mkdir(f->src2, 0700))) rc = -1;
    for (int k = 0; rc == 0 && k < 3; k++) {
        fill_random(a, N, 10 + k);
        snprintf(path, sizeof path, k == 0 ? "%s/one.bin" : k == 1 ? "%s/two.bin" : "%s/three.bin",
                 k == 2 ? f->src2 : f->src);
        rc = write_file(path, a, N);
        if (rc == 0 && k == 0) {
            if ((rc = repo_create(f->repo, f->key, err, sizeof err)) == 0)
                rc = repo_open(f->repo, f->key, r, err, sizeof err);
            if (rc == 0) repo_blob_id(*r, a, N, &f->bad);
            if (rc == 0) repo_set_pack_target(*r, 4096); /* a pack per blob: trees apart */
        }
    }
    free(a);
    if (rc == 0) rc = backup(*r, f->src, f->snap1);
    if (rc == 0) rc = backup(*r, f->src2, f->snap2);
    if (rc == 0) rc = repo_flush(*r);
    if (rc == 0) rc = repo_blob_locate(*r, &f->bad, &no, &f->off, &f->stored, NULL);
    if (rc == 0) {
        repo_id_to_hex(&(*r)->packs[no].id, f->pack_hex);
        repo_id_to_hex(&f->bad, f->blob_hex);
        rc = repo_pack_path(*r, &(*r)->packs[no].id, f->pack_path, sizeof f->pack_path);
    }
    return rc;
}

TEST(flipped_byte_names_pack_blob_snapshot_and_file)
{
    struct fx f = { 0 };
    struct repo *r = NULL;
    struct repo_verify_opts st = { 0 }, rd = { .read_data = 1 };
    json_t *rep = NULL;
    CHECK(fx_build(&f, "verify-flip", &r) == 0);
    CHECK(repo_verify_ex(r, &st, &rep) == 0); /* whole before the flip, both ways */
    CHECK(json_is_true(json_object_get(rep, "ok")));
    CHECK_EQ_INT(json_integer_value(json_object_get(rep, "snapshots")), 2);
    json_decref(rep);
    CHECK(flip_byte(f.pack_path, f.off + f.stored / 2) == 0);

    /* Structure only: trailer and sizes are intact, a blob's inside is not looked at. */
    CHECK(repo_verify_ex(r, &st, &rep) == 0);
    CHECKF(json_is_true(json_object_get(rep, "ok")), "structure verify: %s",
           json_dumps(json_object_get(rep, "errors"), 0));
    CHECK(json_object_get(rep, "blobs_read") == NULL);
    json_decref(rep);

    CHECK(repo_verify_ex(r, &rd, &rep) == 0);
    CHECK(json_is_false(json_object_get(rep, "ok")));
    CHECKF(count_errors(rep, f.pack_hex, f.blob_hex) == 1, "errors: %s",
           json_dumps(json_object_get(rep, "errors"), 0));
    CHECKF(count_hurt(rep, f.snap1, "/src/one.bin", f.blob_hex) == 1, "hurt: %s",
           json_dumps(json_object_get(rep, "hurt"), 0));
    CHECK_EQ_INT(json_integer_value(json_object_get(rep, "hurt_count")), 1); /* two.bin is whole */
    CHECK_EQ_INT(json_array_size(json_object_get(rep, "snapshots_hurt")), 1);
    CHECK(strcmp(json_string_value(json_array_get(json_object_get(rep, "snapshots_hurt"), 0)),
                 f.snap1) == 0);
    CHECK(count_hurt(rep, f.snap2, "/three.bin", NULL) == 0);
    json_decref(rep);

    /* Found once, remembered: a later structure verify names the file from the damaged list. */
    CHECK(repo_verify_ex(r, &st, &rep) == 0);
    CHECK(json_is_false(json_object_get(rep, "ok")));
    CHECK(count_hurt(rep, f.snap1, "/src/one.bin", f.blob_hex) == 1);
    json_decref(rep);
    repo_close(r);
    check_rm_rf(f.dir);
    free(f.dir);
}

TEST(missing_pack_named_by_structure_verify)
{
    struct fx f = { 0 };
    struct repo *r = NULL;
    struct repo_verify_opts st = { 0 };
    char err[256];
    json_t *rep = NULL;
    CHECK(fx_build(&f, "verify-missing", &r) == 0);
    repo_close(r);
    r = NULL;
    CHECK(unlink(f.pack_path) == 0);
    CHECKF(repo_open(f.repo, f.key, &r, err, sizeof err) == 0, "%s", err);
    CHECK(repo_verify_ex(r, &st, &rep) == 0);
    CHECK(json_is_false(json_object_get(rep, "ok")));
    CHECK(count_errors(rep, f.pack_hex, NULL) >= 1);
    CHECKF(count_hurt(rep, f.snap1, "/src/one.bin", f.blob_hex) == 1, "hurt: %s",
           json_dumps(json_object_get(rep, "hurt"), 0));
    json_decref(rep);
    repo_close(r);
    check_rm_rf(f.dir);
    free(f.dir);
}

static int hexcmp(const void *a, const void *b) { return strcmp(a, b); }

TEST(subset_rotation_covers_every_pack)
{
    enum { BLOBS = 48, SZ = 6000, RUNS = 4 };
    char *dir = check_tmpdir("verify-subset"), repo[512], key[512], err[256], path[4096];
    char (*ids)[REPO_ID_HEX_LEN + 1] = NULL, cursor[REPO_ID_HEX_LEN + 1] = "", bad_pack[REPO_ID_HEX_LEN + 1];
    uint8_t *covered = NULL, buf[SZ];
    struct repo *r = NULL;
    repo_id_t id, bad;
    uint32_t np = 0, no = 0, stored = 0;
    uint64_t off = 0, read_total = 0;
    int found = 0;
    snprintf(repo, sizeof repo, "%s/repo", dir);
    snprintf(key, sizeof key, "%s/key", dir);
    CHECK(repo_create(repo, key, err, sizeof err) == 0);
    CHECK(repo_open(repo, key, &r, err, sizeof err) == 0);
    repo_set_pack_target(r, 4096); /* about a pack per blob */
    for (int k = 0; k < BLOBS; k++) {
        fill_random(buf, SZ, 100 + k);
        repo_blob_id(r, buf, SZ, &id);
        CHECK(repo_blob_put(r, REPO_BLOB_DATA, &id, buf, SZ, NULL) == 0);
        if (k == BLOBS / 3) bad = id;
    }
    CHECK(repo_flush(r) == 0);
    ids = calloc(r->npacks, sizeof *ids);
    covered = calloc(r->npacks, 1);
    CHECK(ids && covered);
    for (uint32_t k = 0; k < r->npacks; k++)
        if (r->packs[k].state == REPO_PACK_SEALED) repo_id_to_hex(&r->packs[k].id, ids[np++]);
    CHECKF(np >= 12, "only %u packs", np);
    qsort(ids, np, sizeof *ids, hexcmp);
    CHECK(repo_blob_locate(r, &bad, &no, &off, &stored, NULL) == 0);
    repo_id_to_hex(&r->packs[no].id, bad_pack);
    CHECK(repo_pack_path(r, &r->packs[no].id, path, sizeof path) == 0);
    CHECK(flip_byte(path, off + stored / 2) == 0);

    for (int run = 0; run < RUNS; run++) {
        struct repo_verify_opts o = { .read_data = 1, .subset_pct = 25, .resume_after = cursor };
        json_t *rep = NULL;
        const char *first, *last;
        uint32_t a = 0, b = 0, want = (np * 25 + 99) / 100;
        CHECK(repo_verify_ex(r, &o, &rep) == 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(rep, "packs_read")), want);
        first = json_string_value(json_object_get(rep, "first_pack"));
        last = json_string_value(json_object_get(rep, "next_cursor"));
        CHECK(first && last);
        while (a < np && strcmp(ids[a], first) != 0) a++;
        while (b < np && strcmp(ids[b], last) != 0) b++;
        CHECK(a < np && b < np);
        /* each subset starts right after the last one's end (in id order, wrapping) */
        CHECK_EQ_INT(a, run == 0 ? 0 : (strcmp(cursor, ids[np - 1]) == 0 ? 0 : (uint32_t)(
                     (const char (*)[REPO_ID_HEX_LEN + 1])bsearch(cursor, ids, np, sizeof *ids, hexcmp) - ids + 1)));
        for (uint32_t k = a, n = 0; n < want; k = (k + 1) % np, n++) covered[k] = 1;
        CHECK_EQ_INT((a + want - 1) % np, b);
        found += count_errors(rep, bad_pack, NULL) > 0;
        read_total += (uint64_t)json_integer_value(json_object_get(rep, "blobs_read"));
        snprintf(cursor, sizeof cursor, "%s", last);
        json_decref(rep);
    }
    for (uint32_t k = 0; k < np; k++) CHECKF(covered[k], "pack %u of %u never read", k, np);
    CHECK_EQ_INT(found, 1);
    CHECK(read_total >= BLOBS);
    free(ids);
    free(covered);
    repo_close(r);
    check_rm_rf(dir);
    free(dir);
}

int main(void)
{
    RUN(flipped_byte_names_pack_blob_snapshot_and_file);
    RUN(missing_pack_named_by_structure_verify);
    RUN(subset_rotation_covers_every_pack);
    return check_finish();
}
