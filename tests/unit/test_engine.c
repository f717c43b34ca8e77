/* test_engine.c: file backup and restore end to end on a real repository in a temp dir.
 *
 * One fixture holds every kind of file (regular, empty, 20 MB random, sparse with a 50 MB hole,
 * symlinks, a hardlink pair, a fifo, a socket, xattrs when the filesystem has them, unicode names,
 * a 60-deep chain). It is backed up once; the tests then restore it elsewhere and compare bytes and
 * metadata, read ranges, build a tar and extract it with /bin/tar, check dedup and incremental
 * runs, vanishing files, unsafe trees, symlinks planted in the target, missing paths and a damaged
 * pack. */
#include "check.h"
#include "engine/engine.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

static struct {
    char *tmp;
    char src[512], repo_dir[512], key[512];
    struct repo *repo;
    char snap[REPO_ID_HEX_LEN + 1];
    char src_tree[REPO_ID_HEX_LEN + 1];
    int have_xattr, have_sock, have_dev; /* what this machine let the fixture make */
    char why_xattr[128], why_sock[128], why_dev[128];
    int ready;
} fx;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) return -1;
    ssize_t n = write(fd, data, len);
    close(fd);
    chmod(path, mode);
    return n == (ssize_t)len ? 0 : -1;
}

static int write_random(const char *path, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    uint64_t buf[8192];
    if (fd < 0) return -1;
    for (size_t done = 0; done < len;) {
        for (size_t i = 0; i < 8192; i++) buf[i] = rng();
        size_t k = len - done < sizeof buf ? len - done : sizeof buf;
        if (write(fd, buf, k) != (ssize_t)k) { close(fd); return -1; }
        done += k;
    }
    close(fd);
    return 0;
}

/* snprintf without the compiler's truncation guesses (buffers here are generous). */
static void sfmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sfmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static char *pj(char *out, size_t n, const char *a, const char *b)
{
    sfmt(out, n, "%s/%s", a, b);
    return out;
}

static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    static char ba[65536], bb[65536];
    while (eq) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        if (na != nb || memcmp(ba, bb, na) != 0) eq = 0;
        if (na == 0) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

/* ---------- comparing two trees ---------- */

/* compare_trees: check_trees_equal (both ways: missing and extra entries, content, type, symlink
 * targets, device numbers, modes, hard links) with flags 1: times and owners too, 2: leave sockets
 * out (tar has none), 4: leave xattrs out. */
static char cmp_msg[1024];
static int cmp_count;

static int skip_sockets(const char *rel, const struct stat *st, void *ctx)
{
    (void)rel; (void)ctx;
    return S_ISSOCK(st->st_mode);
}

static int compare_trees(const char *src, const char *dst, int flags)
{
    int f = CHECK_TREE_MODE | CHECK_TREE_LINKS;
    if (flags & 1) f |= CHECK_TREE_TIMES;
    if (!(flags & 4)) f |= CHECK_TREE_XATTRS;
    return check_trees_equal(src, dst, f, (flags & 2) ? skip_sockets : NULL, NULL, cmp_msg, sizeof cmp_msg, &cmp_count);
}

/* ---------- the fixture ---------- */

static int build_fixture(const char *src)
{
    char p[4096], q[4096];
    static char text[100000];
    if (mkdir(src, 0755) != 0) return -1;
    for (size_t i = 0; i < sizeof text; i++) text[i] = "abcdefghij\n"[i % 11];
    if (write_file(pj(p, sizeof p, src, "regular.txt"), text, sizeof text, 0640)) return -1;
    if (write_file(pj(p, sizeof p, src, "empty"), "", 0, 0600)) return -1;
    if (write_random(pj(p, sizeof p, src, "big.bin"), 20u << 20)) return -1;
    /* sparse: 1 MiB of data, a 50 MiB hole, 1 MiB of data */
    int fd = open(pj(p, sizeof p, src, "sparse.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    for (int part = 0; part < 2; part++) {
        static char blk[1 << 20];
        memset(blk, 'A' + part, sizeof blk);
        if (pwrite(fd, blk, sizeof blk, part ? 51 << 20 : 0) != (ssize_t)sizeof blk) { close(fd); return -1; }
    }
    close(fd);
    if (symlink("regular.txt", pj(p, sizeof p, src, "link"))) return -1;
    if (symlink("/nonexistent/target", pj(p, sizeof p, src, "dangling"))) return -1;
    if (mkdir(pj(p, sizeof p, src, "sub"), 0700)) return -1;
    if (write_file(pj(p, sizeof p, src, "hard1"), "linked content\n", 15, 0644)) return -1;
    if (link(pj(p, sizeof p, src, "hard1"), pj(q, sizeof q, src, "sub/hard2"))) return -1;
    if (mkfifo(pj(p, sizeof p, src, "fifo"), 0620) || chmod(p, 0620)) return -1;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    pj(p, sizeof p, src, "sock");
    if (s < 0) {
        sfmt(fx.why_sock, sizeof fx.why_sock, "socket(): %s", strerror(errno));
    } else if (strlen(p) >= sizeof sa.sun_path) {
        sfmt(fx.why_sock, sizeof fx.why_sock, "the path is longer than sun_path");
    } else {
        memcpy(sa.sun_path, p, strlen(p) + 1);
        fx.have_sock = bind(s, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (!fx.have_sock) sfmt(fx.why_sock, sizeof fx.why_sock, "bind(): %s", strerror(errno));
    }
    if (s >= 0) close(s);
    fx.have_dev = mknod(pj(p, sizeof p, src, "null-dev"), S_IFCHR | 0640, makedev(1, 3)) == 0; /* root only */
    if (!fx.have_dev) sfmt(fx.why_dev, sizeof fx.why_dev, "mknod(): %s", strerror(errno));
    if (write_file(pj(p, sizeof p, src, "xattr.txt"), "x", 1, 0644)) return -1;
    fx.have_xattr = setxattr(p, "user.coffer", "\0bin\xffval", 8, 0) == 0;
    if (!fx.have_xattr) sfmt(fx.why_xattr, sizeof fx.why_xattr, "setxattr(): %s", strerror(errno));
    if (fx.have_xattr && setxattr(pj(q, sizeof q, src, "sub"), "user.coffer", "dir", 3, 0) != 0) return -1;
    if (mkdir(pj(p, sizeof p, src, "\xc3\xbc" "n" "\xc3\xaf" "c" "\xc3\xb8" "d" "\xc3\xa9"), 0755)) return -1;
    if (write_file(pj(p, sizeof p, src, "\xc3\xbc" "n" "\xc3\xaf" "c" "\xc3\xb8" "d" "\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt"),
                   "nihon", 5, 0644)) return -1;
    pj(p, sizeof p, src, "deep");           /* deep/d/d/.../d: 60 directories */
    for (int i = 0; i < 60; i++) {
        if (mkdir(p, 0755)) return -1;
        strncat(p, "/d", sizeof p - strlen(p) - 1);
    }
    p[strlen(p) - 1] = '\0';
    strncat(p, "leaf.txt", sizeof p - strlen(p) - 1);
    if (write_file(p, "bottom", 6, 0644)) return -1;
    return 0;
}

static int open_repo(const char *dir, const char *key, struct repo **out)
{
    char err[256];
    int rc = repo_create(dir, key, err, sizeof err);
    if (rc) { fprintf(stderr, "repo_create: %s\n", err); return rc; }
    rc = repo_open(dir, key, out, err, sizeof err);
    if (rc) fprintf(stderr, "repo_open: %s\n", err);
    return rc;
}

static int backup(struct repo *repo, const char *inc, const char *parent, struct eng_backup_result *res,
                  void (*hook)(void *, const char *), void *hook_ctx)
{
    const char *incs[] = { inc };
    char err[256] = "";
    struct eng_backup_opts o = {
        .include_paths = incs, .n_include = 1, .parent_snapshot_id = parent, .threads = 2,
        .on_before_open = hook, .hook_ctx = hook_ctx,
    };
    int rc = eng_backup(repo, &o, res, err, sizeof err);
    if (rc) fprintf(stderr, "eng_backup: %d %s\n", rc, err);
    return rc;
}

static int nftw_count;
static int count_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path; (void)st; (void)flag; (void)ftw;
    nftw_count++;
    return 0;
}

TEST(fixture_backup)
{
    struct eng_backup_result res;
    json_t *meta = json_pack("{s:s, s:s}", "run_id", "r-1", "source", "test");
    fx.tmp = check_tmpdir("engine");
    sfmt(fx.src, sizeof fx.src, "%s/src", fx.tmp);
    sfmt(fx.repo_dir, sizeof fx.repo_dir, "%s/repo", fx.tmp);
    sfmt(fx.key, sizeof fx.key, "%s/key", fx.tmp);
    CHECK(build_fixture(fx.src) == 0);
    /* What this machine cannot make is not checked: said, and counted as skipped. */
    if (!fx.have_xattr) SKIP("engine_xattrs", "no user xattrs on %s: %s", fx.tmp, fx.why_xattr);
    if (!fx.have_sock) SKIP("engine_sockets", "cannot make a socket: %s", fx.why_sock);
    if (!fx.have_dev) SKIP("engine_device_files", "cannot make a device node (root only): %s", fx.why_dev);
    CHECK_EQ_INT(open_repo(fx.repo_dir, fx.key, &fx.repo), 0);
    const char *incs[] = { fx.src, "/nonexistent-coffer-path" };
    char err[256];
    struct eng_backup_opts o = { .include_paths = incs, .n_include = 2, .snapshot_meta = meta, .threads = 2 };
    CHECK_EQ_INT(eng_backup(fx.repo, &o, &res, err, sizeof err), 0);
    json_decref(meta);
    memcpy(fx.snap, res.snapshot_id, sizeof fx.snap);
    CHECK(strlen(fx.snap) == 64);
    /* files: regular empty big sparse hard1 hard2 xattr.txt unicode leaf = 9 */
    CHECK_EQ_INT(res.files, 9);
    CHECK_EQ_INT(res.symlinks, 2);
    /* the fifo, and the socket and device node when the machine made them */
    CHECKF(res.other == (uint64_t)(1 + fx.have_sock + fx.have_dev), "other %lu", (unsigned long)res.other);
    CHECK(res.bytes_read >= (22u << 20) && res.bytes_read < (23u << 20));  /* hole not read */
    CHECK(res.logical_bytes > (72u << 20));
    /* the timings: 22 MB were read (pread), so the reader spent time in reads; the rest cannot
     * exceed the whole */
    CHECK(res.read_usecs > 0);
    CHECK(res.read_usecs + res.batch_wait_usecs < 600u * 1000000);
    CHECK_EQ_INT(json_array_size(res.warnings), 1);   /* the missing include */
    CHECK(strstr(json_string_value(json_object_get(json_array_get(res.warnings, 0), "path")),
                 "nonexistent-coffer-path") != NULL);
    eng_backup_result_release(&res);

    /* the snapshot document */
    json_t *doc = NULL;
    CHECK_EQ_INT(repo_snapshot_read(fx.repo, fx.snap, &doc), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(doc, "version")), 1);
    CHECK(json_string_value(json_object_get(doc, "tree")) != NULL);
    CHECK(json_is_null(json_object_get(doc, "parent")));
    CHECK(strcmp(json_string_value(json_object_get(doc, "run_id")), "r-1") == 0);
    CHECK(json_string_value(json_object_get(doc, "hostname")) != NULL);
    CHECK(json_integer_value(json_object_get(json_object_get(doc, "stats"), "files")) == 9);
    CHECK(json_array_size(json_object_get(doc, "paths")) == 2);
    json_decref(doc);

    struct tree_entry e;
    CHECK_EQ_INT(eng_stat_path(fx.repo, fx.snap, fx.src, &e), 0);
    CHECK(e.type == TREE_DIR);
    repo_id_to_hex(&e.subtree, fx.src_tree);
    tree_entry_release(&e);
    char p[600];
    CHECK_EQ_INT(eng_stat_path(fx.repo, fx.snap, pj(p, sizeof p, fx.src, "sub/hard2"), &e), 0);
    CHECK(e.hardlink && strcmp(e.hardlink + strlen(fx.src), "/hard1") == 0 && e.n_chunks == 0);
    tree_entry_release(&e);
    CHECK_EQ_INT(eng_stat_path(fx.repo, fx.snap, pj(p, sizeof p, fx.src, "sparse.bin"), &e), 0);
    CHECK(e.size == (52u << 20) && e.n_chunks >= 2 && e.chunks[e.n_chunks - 1].offset >= (51u << 20));
    tree_entry_release(&e);
    CHECK_EQ_INT(eng_stat_path(fx.repo, fx.snap, pj(p, sizeof p, fx.src, "fifo"), &e), 0);
    CHECK(e.type == TREE_FIFO && e.mode == 0620);
    tree_entry_release(&e);
    CHECK_EQ_INT(eng_stat_path(fx.repo, fx.snap, "/nonexistent-coffer-path", &e), -ENOENT);
    fx.ready = 1;
}

TEST(restore_alternate_location_matches)
{
    CHECK(fx.ready);
    char dst[600], err[256] = "", p[4096], q[4096];
    struct eng_restore_result res;
    sfmt(dst, sizeof dst, "%s/restored", fx.tmp);
    struct eng_restore_opts o = { .target_dir = dst, .preserve_attrs = 1, .threads = 2 };
    CHECK_EQ_INT(eng_restore(fx.repo, fx.snap, &o, &res, err, sizeof err), 0);
    CHECKF(json_array_size(res.errors) == 0, "%s", json_dumps(res.errors, 0));
    CHECK_EQ_INT(res.files, 9);
    CHECK(res.bytes >= (22u << 20));
    /* the timings: the paths were resolved before the first file was complete */
    CHECK(res.first_file_usecs > 0);
    CHECKF(res.resolve_usecs <= res.first_file_usecs, "resolved at %lu us, first file at %lu us",
           (unsigned long)res.resolve_usecs, (unsigned long)res.first_file_usecs);
    eng_restore_result_release(&res);
    /* restored under dst + original absolute path */
    char inner[1200];
    sfmt(inner, sizeof inner, "%s%s", dst, fx.src);
    CHECKF(compare_trees(fx.src, inner, 1) == 0, "%s", cmp_msg);
    CHECK(cmp_count > 70);
    struct stat a, b;
    CHECK(lstat(pj(p, sizeof p, inner, "hard1"), &a) == 0 && lstat(pj(q, sizeof q, inner, "sub/hard2"), &b) == 0);
    CHECK(a.st_ino == b.st_ino && a.st_nlink == 2);
    CHECK(lstat(pj(p, sizeof p, inner, "sparse.bin"), &a) == 0);
    CHECKF((uint64_t)a.st_blocks * 512 < (8u << 20), "sparse file allocated %lld", (long long)a.st_blocks * 512);
    /* also the directory's own mtime (set after its content) */
    CHECK(lstat(pj(p, sizeof p, inner, "sub"), &a) == 0 && lstat(pj(q, sizeof q, fx.src, "sub"), &b) == 0);
    CHECK(a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec);
    /* no temporary names left behind */
    DIR *d = opendir(inner);
    struct dirent *de;
    int tmps = 0;
    while (d && (de = readdir(d))) tmps += strncmp(de->d_name, ".coffer-restore", 15) == 0;
    if (d) closedir(d);
    CHECK_EQ_INT(tmps, 0);

    /* one file and one directory, each as target/<basename> */
    char dst2[600];
    sfmt(dst2, sizeof dst2, "%s/restored2", fx.tmp);
    char f1[600], f2[600];
    const char *paths[] = { pj(f1, sizeof f1, fx.src, "sub"), pj(f2, sizeof f2, fx.src, "big.bin") };
    struct eng_restore_opts o2 = { .paths = paths, .n_paths = 2, .target_dir = dst2, .preserve_attrs = 1 };
    CHECK_EQ_INT(eng_restore(fx.repo, fx.snap, &o2, &res, err, sizeof err), 0);
    CHECK_EQ_INT(json_array_size(res.errors), 0);
    eng_restore_result_release(&res);
    CHECK(files_equal(pj(p, sizeof p, dst2, "big.bin"), f2));
    /* hard2's first link (hard1) was not restored: its content is written instead */
    CHECK(files_equal(pj(p, sizeof p, dst2, "sub/hard2"), pj(q, sizeof q, fx.src, "hard1")));
    /* again without overwrite: everything is skipped */
    CHECK_EQ_INT(eng_restore(fx.repo, fx.snap, &o2, &res, err, sizeof err), 0);
    CHECK(res.skipped >= 2 && res.files == 0);
    CHECK_EQ_INT(res.first_file_usecs, 0);   /* no file was written */
    eng_restore_result_release(&res);
}

struct range_buf { uint8_t *p; size_t len, cap; };
static int range_sink(void *ctx, const void *buf, size_t len)
{
    struct range_buf *r = ctx;
    if (r->len + len > r->cap) return -EOVERFLOW;
    memcpy(r->p + r->len, buf, len);
    r->len += len;
    return 0;
}

TEST(read_file_ranges)
{
    CHECK(fx.ready);
    char p[600];
    struct { const char *name; uint64_t off, len; } cases[] = {
        { "big.bin", 0, 100 }, { "big.bin", (1u << 20) - 7, 3u << 20 }, { "big.bin", (20u << 20) - 5, 0 },
        { "big.bin", 20u << 20, 10 }, { "sparse.bin", (1u << 20) - 10, 20 },
        { "sparse.bin", (51u << 20) - 3, 6 }, { "sub/hard2", 3, 0 }, { "empty", 0, 0 },
    };
    struct range_buf rb = { malloc(4u << 20), 0, 4u << 20 };
    uint8_t *want = malloc(4u << 20);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pj(p, sizeof p, fx.src, cases[i].name);
        rb.len = 0;
        CHECKF(eng_read_file(fx.repo, fx.snap, p, cases[i].off, cases[i].len, range_sink, &rb) == 0, "case %zu", i);
        int fd = open(p, O_RDONLY);
        ssize_t n = pread(fd, want, cases[i].len ? cases[i].len : (4u << 20), (off_t)cases[i].off);
        close(fd);
        CHECKF(n >= 0 && (size_t)n == rb.len && memcmp(want, rb.p, rb.len) == 0, "case %zu: %zd vs %zu", i, n, rb.len);
    }
    CHECK_EQ_INT(eng_read_file(fx.repo, fx.snap, pj(p, sizeof p, fx.src, "sub"), 0, 0, range_sink, &rb), -EISDIR);
    CHECK_EQ_INT(eng_read_file(fx.repo, fx.snap, pj(p, sizeof p, fx.src, "nope"), 0, 0, range_sink, &rb), -ENOENT);
    free(rb.p);
    free(want);
}

static int walk_count;
static int walk_cb(void *ctx, const char *path, const struct tree_entry *e)
{
    (void)e;
    if (strstr(path, (const char *)ctx) == path) walk_count++;
    return 0;
}

TEST(walk_and_tar)
{
    CHECK(fx.ready);
    walk_count = 0;
    CHECK_EQ_INT(eng_snapshot_walk(fx.repo, fx.snap, walk_cb, fx.src), 0);
    nftw_count = 0;
    nftw(fx.src, count_one, 64, FTW_PHYS);
    CHECKF(walk_count == nftw_count && walk_count > 70, "walk saw %d, nftw %d", walk_count, nftw_count);
    char tarf[600], out[600], cmd[2000], inner[700];
    sfmt(tarf, sizeof tarf, "%s/out.tar", fx.tmp);
    sfmt(out, sizeof out, "%s/untar", fx.tmp);
    CHECK(mkdir(out, 0755) == 0);
    int fd = open(tarf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    json_t *errs = json_array();
    const char *paths[] = { fx.src };
    CHECK_EQ_INT(eng_write_tar(fx.repo, fx.snap, paths, 1, fd, errs), 0);
    close(fd);
    CHECK_EQ_INT(json_array_size(errs), 0);
    json_decref(errs);
    sfmt(cmd, sizeof cmd, "tar -x -p -f '%s' -C '%s' 2>&1", tarf, out); /* -p: modes as stored, root or not */
    CHECK_EQ_INT(system(cmd), 0);
    sfmt(inner, sizeof inner, "%s/src", out);
    CHECKF(compare_trees(fx.src, inner, 2 | 4) == 0, "%s", cmp_msg);
    char p[4096], q[4096];
    struct stat a, b;
    CHECK(lstat(pj(p, sizeof p, inner, "hard1"), &a) == 0 && lstat(pj(q, sizeof q, inner, "sub/hard2"), &b) == 0);
    CHECK(a.st_ino == b.st_ino);
    CHECK(lstat(pj(p, sizeof p, inner, "big.bin"), &a) == 0 && lstat(pj(q, sizeof q, fx.src, "big.bin"), &b) == 0);
    CHECK(a.st_mtim.tv_sec == b.st_mtim.tv_sec);
    /* a missing path: nothing written */
    fd = open(tarf, O_WRONLY | O_TRUNC);
    const char *bad[] = { fx.src, "/no/such/path" };
    CHECK_EQ_INT(eng_write_tar(fx.repo, fx.snap, bad, 2, fd, NULL), -ENOENT);
    CHECK(lseek(fd, 0, SEEK_END) == 0);
    close(fd);
}

TEST(dedup_and_incremental)
{
    CHECK(fx.ready);
    struct eng_backup_result r;
    char p[600], q[600];
    /* same data again, no parent: everything read, (almost) nothing added */
    CHECK_EQ_INT(backup(fx.repo, fx.src, NULL, &r, NULL, NULL), 0);
    CHECK(r.bytes_read >= (22u << 20));
    CHECKF(r.bytes_added < 64 * 1024, "added %lu", (unsigned long)r.bytes_added);
    eng_backup_result_release(&r);
    /* a copy of big.bin elsewhere dedups too */
    char other[600];
    sfmt(other, sizeof other, "%s/other", fx.tmp);
    CHECK(mkdir(other, 0755) == 0);
    sfmt(q, sizeof q, "cp '%s/big.bin' '%s/copy.bin'", fx.src, other);
    CHECK(system(q) == 0);
    CHECK_EQ_INT(backup(fx.repo, other, NULL, &r, NULL, NULL), 0);
    CHECKF(r.bytes_added < 64 * 1024, "added %lu", (unsigned long)r.bytes_added);
    eng_backup_result_release(&r);

    /* unchanged incremental: nothing read, same tree */
    CHECK_EQ_INT(backup(fx.repo, fx.src, fx.snap, &r, NULL, NULL), 0);
    CHECK_EQ_INT(r.bytes_read, 0);
    CHECK_EQ_INT(r.files_unchanged, 8);   /* all but the second hardlink */
    struct tree_entry e;
    char snap2[REPO_ID_HEX_LEN + 1], hex[REPO_ID_HEX_LEN + 1];
    memcpy(snap2, r.snapshot_id, sizeof snap2);
    eng_backup_result_release(&r);
    CHECK_EQ_INT(eng_stat_path(fx.repo, snap2, fx.src, &e), 0);
    repo_id_to_hex(&e.subtree, hex);
    tree_entry_release(&e);
    CHECK(strcmp(hex, fx.src_tree) == 0);
    json_t *doc = NULL;
    CHECK_EQ_INT(repo_snapshot_read(fx.repo, snap2, &doc), 0);
    CHECK(strcmp(json_string_value(json_object_get(doc, "parent")), fx.snap) == 0);
    json_decref(doc);

    /* change one file: only it is read */
    pj(p, sizeof p, fx.src, "regular.txt");
    int fd = open(p, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    CHECK(write(fd, "more\n", 5) == 5);
    close(fd);
    struct stat st;
    CHECK(stat(p, &st) == 0);
    CHECK_EQ_INT(backup(fx.repo, fx.src, snap2, &r, NULL, NULL), 0);
    CHECK_EQ_INT(r.bytes_read, st.st_size);
    CHECK_EQ_INT(r.files_unchanged, 7);
    CHECK(strcmp(r.tree_id, "") != 0);
    char snap3[REPO_ID_HEX_LEN + 1];
    memcpy(snap3, r.snapshot_id, sizeof snap3);
    eng_backup_result_release(&r);
    CHECK_EQ_INT(eng_stat_path(fx.repo, snap3, fx.src, &e), 0);
    repo_id_to_hex(&e.subtree, hex);
    tree_entry_release(&e);
    CHECK(strcmp(hex, fx.src_tree) != 0);
    /* the changed content is what the new snapshot holds */
    struct range_buf rb = { malloc(200000), 0, 200000 };
    CHECK_EQ_INT(eng_read_file(fx.repo, snap3, p, 100000, 0, range_sink, &rb), 0);
    CHECK(rb.len == 5 && memcmp(rb.p, "more\n", 5) == 0);
    free(rb.p);
}

struct vanish_ctx { char victim[600], fifo_victim[600]; };
static void vanish_hook(void *ctx, const char *path)
{
    struct vanish_ctx *v = ctx;
    if (strcmp(path, v->victim) == 0) unlink(path);
    if (strcmp(path, v->fifo_victim) == 0) {
        unlink(path);
        mkfifo(path, 0600);
    }
}

TEST(vanished_files_are_warnings)
{
    CHECK(fx.ready);
    char dir[600], p[700];
    struct vanish_ctx v;
    sfmt(dir, sizeof dir, "%s/vanish", fx.tmp);
    CHECK(mkdir(dir, 0755) == 0);
    CHECK(write_file(pj(v.victim, sizeof v.victim, dir, "a-goes"), "bye", 3, 0644) == 0);
    CHECK(write_file(pj(v.fifo_victim, sizeof v.fifo_victim, dir, "b-becomes-fifo"), "x", 1, 0644) == 0);
    CHECK(write_file(pj(p, sizeof p, dir, "c-stays"), "hello", 5, 0644) == 0);
    struct eng_backup_result r;
    CHECK_EQ_INT(backup(fx.repo, dir, NULL, &r, vanish_hook, &v), 0);
    CHECK_EQ_INT(json_array_size(r.warnings), 2);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(r.warnings, 0), "path")), v.victim) == 0);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(r.warnings, 1), "path")), v.fifo_victim) == 0);
    CHECK_EQ_INT(r.files, 1);
    struct tree_entry e;
    CHECK_EQ_INT(eng_stat_path(fx.repo, r.snapshot_id, v.victim, &e), -ENOENT);
    CHECK_EQ_INT(eng_stat_path(fx.repo, r.snapshot_id, p, &e), 0);
    tree_entry_release(&e);
    eng_backup_result_release(&r);
}

TEST(exclude_and_cancel)
{
    CHECK(fx.ready);
    char ex1[600], err[256];
    const char *incs[] = { fx.src };
    const char *excl[] = { pj(ex1, sizeof ex1, fx.src, "deep"), "*.bin" };
    struct eng_backup_result r;
    struct eng_backup_opts o = { .include_paths = incs, .n_include = 1, .exclude_paths = excl, .n_exclude = 2 };
    CHECK_EQ_INT(eng_backup(fx.repo, &o, &r, err, sizeof err), 0);
    CHECK_EQ_INT(r.files, 6);   /* no big.bin, sparse.bin, deep leaf */
    CHECK(r.bytes_read < (1u << 20));
    struct tree_entry e;
    CHECK_EQ_INT(eng_stat_path(fx.repo, r.snapshot_id, ex1, &e), -ENOENT);
    eng_backup_result_release(&r);
    volatile int cancel = 1;
    o.n_exclude = 0;
    o.cancel = &cancel;
    CHECK_EQ_INT(eng_backup(fx.repo, &o, &r, err, sizeof err), -ECANCELED);
    CHECK(r.snapshot_id[0] == '\0');
    eng_backup_result_release(&r);
    const char *rel[] = { "relative/path" };
    o.include_paths = rel;
    o.cancel = NULL;
    CHECK_EQ_INT(eng_backup(fx.repo, &o, &r, err, sizeof err), -EINVAL);
    eng_backup_result_release(&r);
}

/* Stores raw tree bytes and a snapshot whose root holds directory "d" -> that tree. */
static int crafted_snapshot(struct repo *repo, const uint8_t *bad, size_t bad_len, char snap[65])
{
    repo_id_t bad_id;
    repo_blob_id(repo, bad, bad_len, &bad_id);
    if (repo_blob_put(repo, REPO_BLOB_TREE, &bad_id, bad, bad_len, NULL)) return -1;
    struct tree_entry d = { .name = (char *)"d", .type = TREE_DIR, .mode = 0755, .has_subtree = 1 };
    d.subtree = bad_id;
    uint8_t *root;
    size_t root_len;
    if (tree_encode(&d, 1, &root, &root_len)) return -1;
    repo_id_t root_id;
    repo_blob_id(repo, root, root_len, &root_id);
    int rc = repo_blob_put(repo, REPO_BLOB_TREE, &root_id, root, root_len, NULL);
    free(root);
    if (rc) return -1;
    char hex[65];
    repo_id_to_hex(&root_id, hex);
    json_t *doc = json_pack("{s:i, s:s}", "version", 1, "tree", hex);
    rc = repo_snapshot_write(repo, doc, snap);
    json_decref(doc);
    return rc;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d) return -1;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

TEST(restore_refuses_unsafe_names)
{
    CHECK(fx.ready);
    const char *from[] = { "xx", "aXb" }, *to[] = { "..", "a/b" };
    for (int i = 0; i < 2; i++) {
        struct tree_entry f = { .name = (char *)from[i], .type = TREE_FILE, .mode = 0644 };
        uint8_t *buf;
        size_t len;
        CHECK_EQ_INT(tree_encode(&f, 1, &buf, &len), 0);
        uint8_t *hit = memmem(buf, len, from[i], strlen(from[i]));
        CHECK(hit != NULL);
        memcpy(hit, to[i], strlen(to[i]));
        char snap[65], base[600], target[700], err[256];
        CHECK_EQ_INT(crafted_snapshot(fx.repo, buf, len, snap), 0);
        free(buf);
        sfmt(base, sizeof base, "%s/unsafe%d", fx.tmp, i);
        CHECK(mkdir(base, 0755) == 0);
        sfmt(target, sizeof target, "%s/t", base);
        struct eng_restore_result r;
        struct eng_restore_opts o = { .target_dir = target, .continue_on_error = 1 };
        CHECK_EQ_INT(eng_restore(fx.repo, snap, &o, &r, err, sizeof err), 0);
        CHECK_EQ_INT(json_array_size(r.errors), 1);
        CHECK(strcmp(json_string_value(json_object_get(json_array_get(r.errors, 0), "path")), "/d") == 0);
        eng_restore_result_release(&r);
        CHECK_EQ_INT(count_entries(base), 1);   /* only t */
        char d[800];
        sfmt(d, sizeof d, "%s/d", target);
        CHECK_EQ_INT(count_entries(d), 0);
        o.continue_on_error = 0;
        CHECK(eng_restore(fx.repo, snap, &o, &r, err, sizeof err) == -EBADMSG);
        CHECK(strstr(err, "/d") != NULL);
        eng_restore_result_release(&r);
    }
}

TEST(restore_does_not_follow_planted_symlinks)
{
    CHECK(fx.ready);
    char target[600], outside[600], p[1200], q[1200], err[256];
    sfmt(target, sizeof target, "%s/planted", fx.tmp);
    sfmt(outside, sizeof outside, "%s/outside", fx.tmp);
    CHECK(mkdir(target, 0755) == 0 && mkdir(outside, 0755) == 0);
    CHECK(write_file(pj(p, sizeof p, outside, "victim"), "keep", 4, 0644) == 0);
    /* target/src/sub -> outside (a directory on the way), target/src/regular.txt -> outside/victim */
    CHECK(mkdir(pj(p, sizeof p, target, "src"), 0755) == 0);
    sfmt(p, sizeof p, "%s/src/sub", target);
    CHECK(symlink(outside, p) == 0);
    sfmt(p, sizeof p, "%s/src/regular.txt", target);
    sfmt(q, sizeof q, "%s/victim", outside);
    CHECK(symlink(q, p) == 0);
    const char *paths[] = { fx.src };
    struct eng_restore_result r;
    struct eng_restore_opts o = { .paths = paths, .n_paths = 1, .target_dir = target, .overwrite = 0 };
    CHECK_EQ_INT(eng_restore(fx.repo, fx.snap, &o, &r, err, sizeof err), 0);
    CHECK(r.skipped >= 2);
    eng_restore_result_release(&r);
    CHECK_EQ_INT(count_entries(outside), 1);
    o.overwrite = 1;
    CHECK_EQ_INT(eng_restore(fx.repo, fx.snap, &o, &r, err, sizeof err), 0);
    CHECKF(json_array_size(r.errors) == 0, "%s", json_dumps(r.errors, 0));
    eng_restore_result_release(&r);
    CHECK_EQ_INT(count_entries(outside), 1);
    char buf[16] = "";
    int fd = open(q, O_RDONLY);
    CHECK(fd >= 0 && read(fd, buf, sizeof buf) == 4 && memcmp(buf, "keep", 4) == 0);
    close(fd);
    struct stat st;
    sfmt(p, sizeof p, "%s/src/sub", target);
    CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));           /* the symlink was replaced */
    sfmt(p, sizeof p, "%s/src/regular.txt", target);
    CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
}

TEST(restore_missing_path_writes_nothing)
{
    CHECK(fx.ready);
    char target[600], err[256] = "", f[700];
    sfmt(target, sizeof target, "%s/never", fx.tmp);
    const char *paths[] = { pj(f, sizeof f, fx.src, "regular.txt"), "/no/such/thing" };
    struct eng_restore_result r;
    struct eng_restore_opts o = { .paths = paths, .n_paths = 2, .target_dir = target };
    CHECK_EQ_INT(eng_restore(fx.repo, fx.snap, &o, &r, err, sizeof err), -ENOENT);
    CHECKF(strstr(err, "/no/such/thing") != NULL, "err: %s", err);
    eng_restore_result_release(&r);
    struct stat st;
    CHECK(stat(target, &st) != 0 && errno == ENOENT);
}

/* own_repo_dirs: names a test's own directory under the fixture's (base: fx.tmp/name), its source
 * tree (base/src, made with base), repository (base/repo) and key file (base/key). */
static int own_repo_dirs(const char *name, char base[600], char src[700], char rdir[700], char key[700])
{
    sfmt(base, 600, "%s/%s", fx.tmp, name);
    sfmt(src, 700, "%s/src", base);
    sfmt(rdir, 700, "%s/repo", base);
    sfmt(key, 700, "%s/key", base);
    return mkdir(base, 0755) == 0 && mkdir(src, 0755) == 0 ? 0 : -1;
}

/* backup_snapshot: a first backup of src; its snapshot id into snap. */
static int backup_snapshot(struct repo *repo, const char *src, char snap[65])
{
    struct eng_backup_result br;
    int rc = backup(repo, src, NULL, &br, NULL, NULL);
    if (rc == 0) memcpy(snap, br.snapshot_id, 65);
    eng_backup_result_release(&br);
    return rc;
}

/* damage_packs_at: flips one byte at offset off of every pack of the repository at rdir; returns
 * how many packs were changed. */
static int damage_packs_at(const char *rdir, uint64_t off)
{
    int damaged = 0;
    for (int i = 0; i < 256; i++) {
        char dd[800], q[1200];
        sfmt(dd, sizeof dd, "%s/data/%02x", rdir, i);
        DIR *d = opendir(dd);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (strlen(de->d_name) != 64) continue;
            sfmt(q, sizeof q, "%s/%s", dd, de->d_name);
            int fd = open(q, O_RDWR);
            uint8_t byte;
            if (fd >= 0 && pread(fd, &byte, 1, (off_t)off) == 1) {
                byte ^= 0x55;
                damaged += pwrite(fd, &byte, 1, (off_t)off) == 1;
            }
            if (fd >= 0) close(fd);
        }
        if (d) closedir(d);
    }
    return damaged;
}

/* damage_blob: flips the byte in the middle of blob id's stored bytes (damage_packs_at); *stored
 * (when not NULL) gets its stored length. Returns the packs changed, or -1 when id is not indexed. */
static int damage_blob(struct repo *repo, const char *rdir, const repo_id_t *id, uint32_t *stored)
{
    uint32_t pack_no, len, plain;
    uint64_t off;
    if (repo_blob_locate(repo, id, &pack_no, &off, &len, &plain) != 0) return -1;
    if (stored) *stored = len;
    return damage_packs_at(rdir, off + len / 2);
}

TEST(damaged_pack_names_the_file)
{
    CHECK(fx.ready);
    char base[600], src[700], rdir[700], key[700], p[800], q[800], err[256];
    struct repo *repo = NULL;
    CHECK(own_repo_dirs("damage", base, src, rdir, key) == 0);
    CHECK(write_random(pj(p, sizeof p, src, "a.bin"), 300000) == 0);
    CHECK(write_random(pj(p, sizeof p, src, "b.bin"), 300000) == 0);
    CHECK_EQ_INT(open_repo(rdir, key, &repo), 0);
    char snap[65];
    CHECK_EQ_INT(backup_snapshot(repo, src, snap), 0);
    struct tree_entry e;
    CHECK_EQ_INT(eng_stat_path(repo, snap, pj(p, sizeof p, src, "a.bin"), &e), 0);
    CHECK(e.n_chunks == 1);
    /* the repository has one pack: damage a byte in the middle of a.bin's blob */
    CHECK_EQ_INT(damage_blob(repo, rdir, &e.chunks[0].id, NULL), 1);
    tree_entry_release(&e);
    char target[800];
    sfmt(target, sizeof target, "%s/out", base);
    const char *paths[] = { src };
    struct eng_restore_result r;
    struct eng_restore_opts o = { .paths = paths, .n_paths = 1, .target_dir = target, .continue_on_error = 1 };
    CHECK_EQ_INT(eng_restore(repo, snap, &o, &r, err, sizeof err), 0);
    CHECK_EQ_INT(json_array_size(r.errors), 1);
    const char *bad = json_string_value(json_object_get(json_array_get(r.errors, 0), "path"));
    CHECK(bad && strcmp(bad + strlen(bad) - 6, "/a.bin") == 0);
    CHECK_EQ_INT(r.files, 1);
    eng_restore_result_release(&r);
    sfmt(p, sizeof p, "%s/src/b.bin", target);
    sfmt(q, sizeof q, "%s/b.bin", src);
    CHECK(files_equal(p, q));
    sfmt(p, sizeof p, "%s/src", target);
    CHECK_EQ_INT(count_entries(p), 1);   /* no a.bin, no temporary file */
    /* stop at the first error */
    char target2[800];
    sfmt(target2, sizeof target2, "%s/out2", base);
    o.target_dir = target2;
    o.continue_on_error = 0;
    CHECK(eng_restore(repo, snap, &o, &r, err, sizeof err) < 0);
    CHECKF(strstr(err, "a.bin") != NULL, "err: %s", err);
    eng_restore_result_release(&r);
    /* the tar names it too and stays well-formed */
    sfmt(p, sizeof p, "%s/d.tar", base);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    json_t *errs = json_array();
    CHECK_EQ_INT(eng_write_tar(repo, snap, paths, 1, fd, errs), 0);
    close(fd);
    CHECK_EQ_INT(json_array_size(errs), 1);
    json_decref(errs);
    sfmt(q, sizeof q, "tar -t -f '%s' >/dev/null", p);
    CHECK_EQ_INT(system(q), 0);
    repo_close(repo);
}

static int progress_calls;
static void count_progress(void *ctx, const struct eng_progress *p)
{
    (void)ctx;
    if (p->files > 0 || p->bytes_done > 0) progress_calls++;
}

static void unlink_hook(void *ctx, const char *path)
{
    if (strcmp(path, (const char *)ctx) == 0) unlink(path);
}

TEST(original_location_and_odd_names)
{
    CHECK(fx.ready);
    char dir[600], p[800], q[800], err[256];
    sfmt(dir, sizeof dir, "%s/orig", fx.tmp);
    CHECK(mkdir(dir, 0750) == 0);
    CHECK(write_file(pj(p, sizeof p, dir, "a.txt"), "alpha", 5, 0644) == 0);
    CHECK(write_file(pj(q, sizeof q, dir, "bad\xff\xfename"), "odd", 3, 0600) == 0);
    CHECK(mkdir(pj(p, sizeof p, dir, "s"), 0700) == 0);
    CHECK(write_file(pj(p, sizeof p, dir, "s/t.txt"), "tee", 3, 0644) == 0);
    const char *incs[] = { dir };
    struct eng_backup_result r;
    struct eng_backup_opts o = { .include_paths = incs, .n_include = 1, .progress = count_progress };
    progress_calls = 0;
    CHECK_EQ_INT(eng_backup(fx.repo, &o, &r, err, sizeof err), 0);
    CHECK(progress_calls >= 1);
    CHECK_EQ_INT(r.files, 3);
    char snap[65];
    memcpy(snap, r.snapshot_id, sizeof snap);
    eng_backup_result_release(&r);

    /* a copy to compare with, then the original goes away and comes back where it was */
    char copy[700];
    sfmt(copy, sizeof copy, "%s/orig-copy", fx.tmp);
    sfmt(p, sizeof p, "cp -a '%s' '%s'", dir, copy);
    CHECK(system(p) == 0);
    check_rm_rf(dir);
    struct eng_restore_result rr;
    struct eng_restore_opts ro = { .paths = incs, .n_paths = 1, .preserve_attrs = 1,
                                   .progress = count_progress };
    progress_calls = 0;
    CHECK_EQ_INT(eng_restore(fx.repo, snap, &ro, &rr, err, sizeof err), 0);
    CHECK_EQ_INT(json_array_size(rr.errors), 0);
    CHECK_EQ_INT(rr.files, 3);
    CHECK(progress_calls >= 1);
    eng_restore_result_release(&rr);
    CHECKF(compare_trees(copy, dir, 1 | 4) == 0, "%s", cmp_msg);
    CHECK_EQ_INT(cmp_count, 5);

    /* overlapping requests (a directory and a file inside it) both restore */
    char target[700];
    sfmt(target, sizeof target, "%s/overlap", fx.tmp);
    const char *two[] = { dir, pj(q, sizeof q, dir, "s/t.txt") };
    struct eng_restore_opts ro2 = { .paths = two, .n_paths = 2, .target_dir = target };
    CHECK_EQ_INT(eng_restore(fx.repo, snap, &ro2, &rr, err, sizeof err), 0);
    CHECK_EQ_INT(json_array_size(rr.errors), 0);
    eng_restore_result_release(&rr);
    CHECK(files_equal(pj(p, sizeof p, target, "t.txt"), q));
    sfmt(p, sizeof p, "%s/orig/s/t.txt", target);
    CHECK(files_equal(p, q));

    /* a warning about a path that is not UTF-8 is still valid JSON text */
    pj(q, sizeof q, dir, "bad\xff\xfename");
    struct eng_backup_opts o2 = { .include_paths = incs, .n_include = 1, .on_before_open = unlink_hook,
                                  .hook_ctx = q };
    CHECK_EQ_INT(eng_backup(fx.repo, &o2, &r, err, sizeof err), 0);
    CHECK_EQ_INT(json_array_size(r.warnings), 1);
    const char *wp = json_string_value(json_object_get(json_array_get(r.warnings, 0), "path"));
    CHECK(wp && strstr(wp, "bad\xef\xbf\xbd\xef\xbf\xbdname") != NULL);
    char *dump = json_dumps(r.warnings, 0);
    CHECK(dump != NULL);
    free(dump);
    eng_backup_result_release(&r);
}

/* ---------- incremental backups of wide and deep trees (the listing ahead) ---------- */

/* open fds of this process naming a path under dir (the repository's cached pack fds are not) */
static int fds_under(const char *dir)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;
    if (!d) return -1;
    while ((de = readdir(d))) {
        char lp[300], target[4096];
        sfmt(lp, sizeof lp, "/proc/self/fd/%s", de->d_name);
        ssize_t k = readlink(lp, target, sizeof target - 1);
        if (k <= 0) continue;
        target[k] = '\0';
        n += strncmp(target, dir, strlen(dir)) == 0;
    }
    closedir(d);
    return n;
}

static int skip_excluded_d010(const char *rel, const struct stat *st, void *ctx)
{
    (void)st; (void)ctx;
    return strcmp(rel, "d010") == 0 || strncmp(rel, "d010/", 5) == 0;
}

/* An incremental backup lists directories ahead of its reader (a helper thread, at most BK_LA_MAX
 * jobs): 120 subdirectories (more than that cap) with a subdirectory each, an exclude, and between
 * the runs changed, removed, added and retyped entries. The incremental snapshot restores to the
 * source exactly; counts, bytes read and the unchanged re-backup's tree say that exactly the
 * changed files were read; no directory fd is left open. */
TEST(incremental_wide_tree)
{
    CHECK(fx.ready);
    char w[600], p[700], q[800], ex[700], dst[600], err[256] = "";
    sfmt(w, sizeof w, "%s/wide", fx.tmp);
    CHECK(mkdir(w, 0755) == 0);
    for (int i = 0; i < 120; i++) {
        char body[32];
        sfmt(p, sizeof p, "%s/d%03d", w, i);
        CHECK(mkdir(p, 0755) == 0);
        sfmt(q, sizeof q, "%s/f0", p);
        sfmt(body, sizeof body, "d%03d-f0", i);
        CHECK(write_file(q, body, strlen(body), 0644) == 0);
        sfmt(q, sizeof q, "%s/s", p);
        CHECK(mkdir(q, 0700) == 0);
        sfmt(q, sizeof q, "%s/s/g", p);
        sfmt(body, sizeof body, "d%03d-s-g", i);
        CHECK(write_file(q, body, strlen(body), 0600) == 0);
    }
    sfmt(p, sizeof p, "%s/empty", w);
    CHECK(mkdir(p, 0755) == 0);
    const char *incs[] = { w };
    const char *excl[] = { pj(ex, sizeof ex, w, "d010") };
    struct eng_backup_opts o = { .include_paths = incs, .n_include = 1, .exclude_paths = excl, .n_exclude = 1,
                                 .threads = 2 };
    struct eng_backup_result r;
    char snap1[REPO_ID_HEX_LEN + 1], snap2[REPO_ID_HEX_LEN + 1];
    CHECK_EQ_INT(eng_backup(fx.repo, &o, &r, err, sizeof err), 0);
    CHECK_EQ_INT(r.files, 238);   /* 119 directories (d010 excluded) x 2 */
    memcpy(snap1, r.snapshot_id, sizeof snap1);
    eng_backup_result_release(&r);

    /* changed: d003/f0, d100/s/g; removed: d050; added: d120/f0; retyped: d060/s (a file now) */
    sfmt(p, sizeof p, "%s/d003/f0", w);
    CHECK(write_file(p, "changed content", 15, 0644) == 0);
    sfmt(p, sizeof p, "%s/d100/s/g", w);
    CHECK(write_file(p, "changed too, longer", 19, 0600) == 0);
    sfmt(q, sizeof q, "rm -rf '%s/d050' '%s/d060/s'", w, w);
    CHECK(system(q) == 0);
    sfmt(p, sizeof p, "%s/d060/s", w);
    CHECK(write_file(p, "now a file", 10, 0644) == 0);
    sfmt(p, sizeof p, "%s/d120", w);
    CHECK(mkdir(p, 0755) == 0);
    sfmt(p, sizeof p, "%s/d120/f0", w);
    CHECK(write_file(p, "new", 3, 0644) == 0);

    o.parent_snapshot_id = snap1;
    CHECK_EQ_INT(eng_backup(fx.repo, &o, &r, err, sizeof err), 0);
    CHECKF(json_array_size(r.warnings) == 0, "%s", json_dumps(r.warnings, 0));
    CHECK_EQ_INT(r.files, 237);   /* 118 of them left (d050 removed), d060/s a file, d120/f0 */
    CHECK_EQ_INT(r.files_unchanged, 233);
    CHECK_EQ_INT(r.bytes_read, 15 + 19 + 10 + 3);
    memcpy(snap2, r.snapshot_id, sizeof snap2);
    eng_backup_result_release(&r);
    CHECK_EQ_INT(fds_under(w), 0);

    /* the incremental snapshot is the source as it is now (d010 excluded) */
    sfmt(dst, sizeof dst, "%s/wide-restored", fx.tmp);
    const char *paths[] = { w };
    struct eng_restore_opts ro = { .paths = paths, .n_paths = 1, .target_dir = dst, .preserve_attrs = 1, .threads = 2 };
    struct eng_restore_result res;
    CHECK_EQ_INT(eng_restore(fx.repo, snap2, &ro, &res, err, sizeof err), 0);
    CHECKF(json_array_size(res.errors) == 0, "%s", json_dumps(res.errors, 0));
    eng_restore_result_release(&res);
    sfmt(p, sizeof p, "%s/wide", dst);
    CHECKF(check_trees_equal(w, p, CHECK_TREE_MODE | CHECK_TREE_LINKS, skip_excluded_d010, NULL, cmp_msg,
                             sizeof cmp_msg, &cmp_count) == 0, "%s", cmp_msg);
    CHECKF(cmp_count >= 237 + 119, "compared %d entries", cmp_count);

    /* unchanged now: nothing read, every file taken from the parent, the same tree */
    o.parent_snapshot_id = snap2;
    CHECK_EQ_INT(eng_backup(fx.repo, &o, &r, err, sizeof err), 0);
    CHECK_EQ_INT(r.bytes_read, 0);
    CHECK_EQ_INT(r.files_unchanged, 237);
    struct tree_entry e2, e3;
    CHECK_EQ_INT(eng_stat_path(fx.repo, snap2, w, &e2), 0);
    CHECK_EQ_INT(eng_stat_path(fx.repo, r.snapshot_id, w, &e3), 0);
    CHECK(memcmp(e2.subtree.b, e3.subtree.b, REPO_ID_LEN) == 0);
    tree_entry_release(&e2);
    tree_entry_release(&e3);
    eng_backup_result_release(&r);
    CHECK_EQ_INT(fds_under(w), 0);
}

/* Large whole files are written with direct I/O (restore.c: 1 MiB and more, no holes, where the
 * file system announces its alignment), through 1 MiB staging buffers with the unaligned tail
 * written buffered. Sizes around each edge: below the size, exactly it, one past it, across the
 * staging buffer with an unaligned tail, several chunks and pieces; and a sparse file of that size,
 * which stays buffered (its hole must stay a hole). Every byte is compared; the count of direct
 * files is checked where the target announces direct I/O alignment. */
TEST(restore_large_files_direct)
{
    CHECK(fx.ready);
    static const struct { const char *name; size_t len; int direct; } files[] = {
        { "below.bin", (1u << 20) - 1, 0 },
        { "exact.bin", 1u << 20, 1 },
        { "past.bin", (1u << 20) + 1, 1 },
        { "across.bin", (2u << 20) + 4097, 1 },
        { "many.bin", (9u << 20) + 511, 1 },
    };
    char src[600], dst[600], p[1400], q[1400], err[256] = "";
    struct eng_backup_result br;
    struct eng_restore_result rr;
    uint64_t want_direct = 0;
    sfmt(src, sizeof src, "%s/large", fx.tmp);
    sfmt(dst, sizeof dst, "%s/large-restored", fx.tmp);
    CHECK(mkdir(src, 0755) == 0 && mkdir(dst, 0755) == 0);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        CHECK(write_random(pj(p, sizeof p, src, files[i].name), files[i].len) == 0);
        want_direct += (uint64_t)files[i].direct;
    }
    int fd = open(pj(p, sizeof p, src, "holey.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, "head", 4, 0) == 4 && pwrite(fd, "tail", 4, 3u << 20) == 4);
    close(fd);
    CHECK_EQ_INT(backup(fx.repo, src, NULL, &br, NULL, NULL), 0);
    char snap[REPO_ID_HEX_LEN + 1];
    memcpy(snap, br.snapshot_id, sizeof snap);
    eng_backup_result_release(&br);

    const char *paths[] = { src };
    struct eng_restore_opts o = { .paths = paths, .n_paths = 1, .target_dir = dst, .threads = 2 };
    CHECK_EQ_INT(eng_restore(fx.repo, snap, &o, &rr, err, sizeof err), 0);
    CHECKF(json_array_size(rr.errors) == 0, "%s", err);
    CHECK_EQ_INT(rr.files, 6);
    uint64_t direct = rr.direct_files;
    eng_restore_result_release(&rr);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        sfmt(q, sizeof q, "%s/large/%s", dst, files[i].name);
        CHECKF(files_equal(pj(p, sizeof p, src, files[i].name), q), "%s differs", files[i].name);
    }
    sfmt(q, sizeof q, "%s/large/holey.bin", dst);
    CHECK(files_equal(pj(p, sizeof p, src, "holey.bin"), q));
    struct stat st;
    CHECK(stat(q, &st) == 0 && st.st_size == (3 << 20) + 4);
    CHECKF(st.st_blocks * 512 < (1 << 20), "the hole was written: %ld blocks", (long)st.st_blocks);

    /* does the target announce direct I/O (as restore.c asks)? Then the four large whole files
     * went direct, the smaller and the sparse one did not. */
    struct statx sx;
    sfmt(q, sizeof q, "%s/large/past.bin", dst);
    int announced = statx(AT_FDCWD, q, 0, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) &&
                    sx.stx_dio_offset_align && sx.stx_dio_offset_align <= 4096 && sx.stx_dio_mem_align &&
                    sx.stx_dio_mem_align <= 4096;
    if (announced) CHECKF(direct == want_direct, "%lu files written direct, %lu expected", (unsigned long)direct,
                          (unsigned long)want_direct);
    else {
        CHECK_EQ_INT(direct, 0);
        SKIP("engine_direct_io", "%s does not announce direct I/O alignment (statx)", dst);
    }
}

/* Files written through the page cache are written back while the restore goes on: a pass each
 * time another sync_step bytes have been written (restore.c's flusher; the step is 64 MiB unless
 * asked). With a step of 256 KiB, 48 files of 60-100 KB (about 3.8 MB) cross it about 15 times, so
 * passes run (one at a time: a crossing while one waits is merged into it); every byte comes back,
 * and the flusher's descriptors are all closed. With the default step nothing crosses it. */
TEST(restore_writes_back_during_the_restore)
{
    CHECK(fx.ready);
    char src[600], dst[600], dst2[600], p[1400], q[1400], name[32], err[256] = "";
    struct eng_backup_result br;
    struct eng_restore_result rr;
    sfmt(src, sizeof src, "%s/passes", fx.tmp);
    sfmt(dst, sizeof dst, "%s/passes-restored", fx.tmp);
    sfmt(dst2, sizeof dst2, "%s/passes-default", fx.tmp);
    CHECK(mkdir(src, 0755) == 0 && mkdir(dst, 0755) == 0 && mkdir(dst2, 0755) == 0);
    for (int i = 0; i < 48; i++) {
        sfmt(name, sizeof name, "f%02d.bin", i);
        CHECK(write_random(pj(p, sizeof p, src, name), 60000 + (size_t)i * 833) == 0);
    }
    CHECK_EQ_INT(backup(fx.repo, src, NULL, &br, NULL, NULL), 0);
    char snap[REPO_ID_HEX_LEN + 1];
    memcpy(snap, br.snapshot_id, sizeof snap);
    eng_backup_result_release(&br);

    const char *paths[] = { src };
    struct eng_restore_opts o = { .paths = paths, .n_paths = 1, .target_dir = dst, .threads = 3,
                                  .sync_step = 256u << 10 };
    CHECK_EQ_INT(eng_restore(fx.repo, snap, &o, &rr, err, sizeof err), 0);
    CHECKF(json_array_size(rr.errors) == 0, "%s", err);
    CHECK_EQ_INT(rr.files, 48);
    CHECK_EQ_INT(rr.direct_files, 0);
    uint64_t passes = rr.sync_passes;
    eng_restore_result_release(&rr);
    CHECKF(passes >= 1 && passes <= 15, "%lu write-back passes", (unsigned long)passes);
    for (int i = 0; i < 48; i++) {
        sfmt(name, sizeof name, "f%02d.bin", i);
        sfmt(q, sizeof q, "%s/passes/%s", dst, name);
        CHECKF(files_equal(pj(p, sizeof p, src, name), q), "%s differs", name);
    }
    CHECK_EQ_INT(fds_under(dst), 0);

    o.target_dir = dst2;
    o.sync_step = 0;
    CHECK_EQ_INT(eng_restore(fx.repo, snap, &o, &rr, err, sizeof err), 0);
    CHECK_EQ_INT(rr.files, 48);
    CHECK_EQ_INT(rr.sync_passes, 0);
    eng_restore_result_release(&rr);
    sfmt(q, sizeof q, "%s/passes/f47.bin", dst2);
    CHECK(files_equal(pj(p, sizeof p, src, "f47.bin"), q));
}

/* top_dirs_equal_but: restore_reads_trees_ahead's d00..d19 of src and out/src compared, but d<skip>;
 * 0 when equal, else -1 with cmp_msg saying where. */
static int top_dirs_equal_but(const char *src, const char *out, int skip)
{
    char p[1400], q[1400];
    for (int i = 0; i < 20; i++) {
        if (i == skip) continue;
        sfmt(p, sizeof p, "%s/d%02d", src, i);
        sfmt(q, sizeof q, "%s/src/d%02d", out, i);
        if (compare_trees(p, q, 0) != 0) return -1;
    }
    return 0;
}

/* The walker's trees are read ahead by another thread, in the walker's order, a bounded number
 * ahead. Over 300 directories (more than the read-ahead holds at once), some of them identical (one
 * tree blob named from several places): restored whole, identical. Then a directory early in the
 * walk is in the way (a symlink, kept): the walker leaves it out and the read-ahead, out of step,
 * stops; every other directory still comes back. Then a damaged tree blob: its directory fails,
 * named, and the rest is restored. */
TEST(restore_reads_trees_ahead)
{
    CHECK(fx.ready);
    char base[600], src[700], rdir[700], key[700], p[1400], q[1400], out[800], err[256] = "";
    struct repo *repo = NULL;
    CHECK(own_repo_dirs("tree-ahead", base, src, rdir, key) == 0);
    for (int i = 0; i < 20; i++) {
        char top[40];
        sfmt(top, sizeof top, "d%02d", i);
        CHECK(mkdir(pj(p, sizeof p, src, top), 0755) == 0);
        for (int k = 0; k < 16; k++) {
            sfmt(p, sizeof p, "%s/%s/s%02d", src, top, k);
            CHECK(mkdir(p, 0750) == 0);
            char body[64];
            /* every 4th subdirectory holds the same file: equal trees */
            int n = k % 4 == 0 ? snprintf(body, sizeof body, "same\n")
                               : snprintf(body, sizeof body, "%s/s%02d\n", top, k);
            sfmt(q, sizeof q, "%s/f.txt", p);
            CHECK(write_file(q, body, (size_t)n, 0644) == 0);
        }
    }
    CHECK_EQ_INT(open_repo(rdir, key, &repo), 0);
    char snap[65];
    CHECK_EQ_INT(backup_snapshot(repo, src, snap), 0);

    const char *paths[] = { src };
    struct eng_restore_result r;
    struct eng_restore_opts o = { .paths = paths, .n_paths = 1, .preserve_attrs = 1 };
    sfmt(out, sizeof out, "%s/whole", base);
    o.target_dir = out;
    CHECK_EQ_INT(eng_restore(repo, snap, &o, &r, err, sizeof err), 0);
    CHECK_EQ_INT(r.dirs, 1 + 20 + 320);
    CHECK_EQ_INT(r.files, 320);
    eng_restore_result_release(&r);
    sfmt(p, sizeof p, "%s/src", out);
    CHECKF(compare_trees(src, p, 0) == 0, "%s", cmp_msg);

    /* d01 in the way (a symlink, no overwrite): left out, everything after it restored */
    sfmt(out, sizeof out, "%s/in-the-way", base);
    CHECK(mkdir(out, 0755) == 0);
    sfmt(p, sizeof p, "%s/src", out);
    CHECK(mkdir(p, 0755) == 0);
    sfmt(p, sizeof p, "%s/src/d01", out);
    CHECK(symlink("/nonexistent", p) == 0);
    o.target_dir = out;
    CHECK_EQ_INT(eng_restore(repo, snap, &o, &r, err, sizeof err), 0);
    CHECK_EQ_INT(r.skipped, 1);
    CHECK_EQ_INT(r.dirs, 1 + 19 + 304);
    CHECK_EQ_INT(r.files, 304);
    eng_restore_result_release(&r);
    CHECKF(top_dirs_equal_but(src, out, 1) == 0, "%s", cmp_msg);

    /* a damaged tree blob (d07/s03's, stored once): that directory fails, the rest comes back */
    struct tree_entry e;
    sfmt(p, sizeof p, "%s/d07/s03", src);
    CHECK_EQ_INT(eng_stat_path(repo, snap, p, &e), 0);
    CHECK(e.type == TREE_DIR);
    CHECK_EQ_INT(damage_blob(repo, rdir, &e.subtree, NULL), 1);
    tree_entry_release(&e);
    sfmt(out, sizeof out, "%s/damaged", base);
    o.target_dir = out;
    o.continue_on_error = 1;
    CHECK_EQ_INT(eng_restore(repo, snap, &o, &r, err, sizeof err), 0);
    CHECK_EQ_INT(json_array_size(r.errors), 1);
    const char *bad = json_string_value(json_object_get(json_array_get(r.errors, 0), "path"));
    CHECKF(bad && strcmp(bad + strlen(bad) - 8, "/d07/s03") == 0, "%s", bad ? bad : "(none)");
    CHECK_EQ_INT(r.files, 319);
    eng_restore_result_release(&r);
    CHECKF(top_dirs_equal_but(src, out, 7) == 0, "%s", cmp_msg);
    sfmt(p, sizeof p, "%s/src/d07/s04/f.txt", out);
    sfmt(q, sizeof q, "%s/d07/s04/f.txt", src);
    CHECK(files_equal(p, q));
    repo_close(repo);
}

/* Large whole files go direct, their chunks decompressed straight into the staging buffer: a
 * compressible file (zstd blobs) and a random one (stored raw) come back byte for byte; then a
 * damaged chunk of the compressible one fails that file alone, named, with nothing left under its
 * name or a temporary one. */
TEST(restore_large_files_direct_damaged)
{
    CHECK(fx.ready);
    char base[600], src[700], rdir[700], key[700], p[1400], q[1400], out[800], err[256] = "";
    struct repo *repo = NULL;
    CHECK(own_repo_dirs("large-damage", base, src, rdir, key) == 0);
    size_t text_len = (5u << 20) + 333, n = 0;
    char *text = malloc(text_len);
    CHECK(text != NULL);
    for (unsigned line = 0; n < text_len; line++) {
        char l[96];
        int k = snprintf(l, sizeof l, "line %u of a compressible file, %llu\n", line,
                         (unsigned long long)(rng() % 1000));
        for (int j = 0; j < k && n < text_len; j++) text[n++] = l[j];
    }
    CHECK_EQ_INT(write_file(pj(p, sizeof p, src, "text.bin"), text, text_len, 0644), 0);
    free(text);
    CHECK(write_random(pj(p, sizeof p, src, "rand.bin"), (3u << 20) + 77) == 0);
    CHECK_EQ_INT(open_repo(rdir, key, &repo), 0);
    char snap[65];
    CHECK_EQ_INT(backup_snapshot(repo, src, snap), 0);

    const char *paths[] = { src };
    struct eng_restore_result r;
    struct eng_restore_opts o = { .paths = paths, .n_paths = 1, .target_dir = out, .continue_on_error = 1 };
    sfmt(out, sizeof out, "%s/out", base);
    CHECK_EQ_INT(eng_restore(repo, snap, &o, &r, err, sizeof err), 0);
    CHECKF(json_array_size(r.errors) == 0, "%s", err);
    CHECK_EQ_INT(r.files, 2);
    eng_restore_result_release(&r);
    sfmt(q, sizeof q, "%s/src/text.bin", out);
    CHECK(files_equal(pj(p, sizeof p, src, "text.bin"), q));
    sfmt(q, sizeof q, "%s/src/rand.bin", out);
    CHECK(files_equal(pj(p, sizeof p, src, "rand.bin"), q));

    /* the compressible file's blobs are compressed; damage its second chunk */
    struct tree_entry e;
    CHECK_EQ_INT(eng_stat_path(repo, snap, pj(p, sizeof p, src, "text.bin"), &e), 0);
    CHECKF(e.n_chunks >= 2, "%zu chunks", e.n_chunks);
    uint32_t stored = 0;
    CHECK_EQ_INT(damage_blob(repo, rdir, &e.chunks[1].id, &stored), 1);
    CHECKF(stored < e.chunks[1].len / 2, "stored %u of %u bytes", stored, e.chunks[1].len);
    tree_entry_release(&e);
    sfmt(out, sizeof out, "%s/out2", base);
    CHECK_EQ_INT(eng_restore(repo, snap, &o, &r, err, sizeof err), 0);
    CHECK_EQ_INT(json_array_size(r.errors), 1);
    const char *bad = json_string_value(json_object_get(json_array_get(r.errors, 0), "path"));
    CHECKF(bad && strcmp(bad + strlen(bad) - 9, "/text.bin") == 0, "%s", bad ? bad : "(none)");
    CHECK_EQ_INT(r.files, 1);
    eng_restore_result_release(&r);
    sfmt(q, sizeof q, "%s/src/rand.bin", out);
    CHECK(files_equal(pj(p, sizeof p, src, "rand.bin"), q));
    sfmt(q, sizeof q, "%s/src", out);
    CHECK_EQ_INT(count_entries(q), 1);   /* no text.bin, no temporary file */
    repo_close(repo);
}

int main(void)
{
    RUN(fixture_backup);
    RUN(restore_alternate_location_matches);
    RUN(read_file_ranges);
    RUN(walk_and_tar);
    RUN(dedup_and_incremental);
    RUN(vanished_files_are_warnings);
    RUN(exclude_and_cancel);
    RUN(restore_refuses_unsafe_names);
    RUN(restore_does_not_follow_planted_symlinks);
    RUN(restore_missing_path_writes_nothing);
    RUN(damaged_pack_names_the_file);
    RUN(original_location_and_odd_names);
    RUN(incremental_wide_tree);
    RUN(restore_large_files_direct);
    RUN(restore_writes_back_during_the_restore);
    RUN(restore_reads_trees_ahead);
    RUN(restore_large_files_direct_damaged);
    repo_close(fx.repo);
    if (fx.tmp && !getenv("KEEP_TMP")) check_rm_rf(fx.tmp);
    free(fx.tmp);
    return check_finish();
}
