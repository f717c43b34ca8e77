/* check.c: runs tests one by one and counts them (see check.h): passes, failures (inside a RUN one per
 * test, outside every failure), skips; and the shared two-way tree comparison. */
#include "check.h"
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/xattr.h>
#include <unistd.h>

static int g_passed, g_failed, g_skipped, g_current_failed, g_in_run;
static const char *g_current_name = "?";
static char g_abandon[256];

void check_run(const char *name, void (*fn)(void))
{
    if (g_abandon[0]) {
        printf("FAIL %s: not run: %s\n", name, g_abandon);
        g_failed++;
        g_current_failed = 1;
        fflush(stdout);
        return;
    }
    g_current_failed = 0;
    g_current_name = name;
    g_in_run = 1;
    fflush(stdout);
    fn();
    g_in_run = 0;
    if (g_current_failed) {
        g_failed++;
    } else {
        g_passed++;
        printf("PASS %s\n", name);
    }
    fflush(stdout);
}

int check_failed(void) { return g_current_failed; }

void check_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (g_in_run) {
        if (g_current_failed) return; /* one line per failed test */
        g_current_failed = 1;
        printf("FAIL %s: %s:%d: ", g_current_name, file, line);
    } else {
        g_failed++; /* outside a test: every failure counts */
        printf("FAIL main: %s:%d: ", file, line);
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void check_skip(const char *name, const char *fmt, ...)
{
    va_list ap;
    g_skipped++;
    printf("SKIP %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void check_abandon(const char *reason)
{
    snprintf(g_abandon, sizeof g_abandon, "%s", reason && *reason ? reason : "abandoned");
}

int check_finish(void)
{
    if (g_skipped)
        printf("%d passed, %d failed, %d skipped\n", g_passed, g_failed, g_skipped);
    else
        printf("%d passed, %d failed\n", g_passed, g_failed);
    fflush(stdout);
    return g_failed ? 1 : 0;
}

char *check_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *path;
    if (!base || !*base) base = "/tmp";
    if (asprintf(&path, "%s/coffer-%s-XXXXXX", base, tag) < 0) abort();
    if (!mkdtemp(path)) { perror("mkdtemp"); abort(); }
    return path;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

void check_rm_rf(const char *path)
{
    if (path) nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

/* ---------- comparing two trees ---------- */

int check_files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    char *ba = malloc(65536), *bb = malloc(65536);
    if (!ba || !bb) eq = 0;
    while (eq) {
        size_t na = fread(ba, 1, 65536, fa), nb = fread(bb, 1, 65536, fb);
        if (na != nb || memcmp(ba, bb, na) != 0) eq = 0;
        if (na == 0) break;
    }
    free(ba);
    free(bb);
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

struct tc_link { dev_t adev, bdev; ino_t aino, bino; char *rel; };

struct tc {
    char a[4096], b[4096]; /* full paths, extended while walking */
    size_t alen, blen;
    int flags;
    int (*skip)(const char *rel, const struct stat *st, void *ctx);
    void *skip_ctx;
    char *msg;
    size_t msglen;
    int count;
    struct tc_link *links;
    size_t n_links, cap_links;
};

static int tc_diff(struct tc *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tc_diff(struct tc *t, const char *fmt, ...)
{
    va_list ap;
    if (t->msg && t->msglen) {
        va_start(ap, fmt);
        vsnprintf(t->msg, t->msglen, fmt, ap);
        va_end(ap);
    }
    return 1;
}

/* tc_user_xattrs: the sorted, NUL-separated user.* names of path into buf; returns the length or -1. */
static ssize_t tc_user_xattrs(const char *path, char *buf, size_t cap)
{
    char all[8192];
    ssize_t n = llistxattr(path, all, sizeof all), out = 0;
    if (n < 0) return errno == ENOTSUP ? 0 : -1;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(all + i) + 1) {
        size_t l = strlen(all + i) + 1;
        if (strncmp(all + i, "user.", 5) != 0) continue;
        if ((size_t)out + l > cap) return -1;
        memcpy(buf + out, all + i, l);
        out += (ssize_t)l;
    }
    return out;
}

static int tc_xattrs(struct tc *t, const char *rel)
{
    char na[4096], nb[4096], va[4096], vb[4096];
    ssize_t la = tc_user_xattrs(t->a, na, sizeof na), lb = tc_user_xattrs(t->b, nb, sizeof nb);
    if (la < 0 || lb < 0) return tc_diff(t, "cannot list the xattrs of %s", rel);
    /* every name of a is in b with the same value, and b has as many names */
    int ca = 0, cb = 0;
    for (ssize_t i = 0; i < lb; i += (ssize_t)strlen(nb + i) + 1) cb++;
    for (ssize_t i = 0; i < la; i += (ssize_t)strlen(na + i) + 1) {
        ssize_t x = lgetxattr(t->a, na + i, va, sizeof va), y = lgetxattr(t->b, na + i, vb, sizeof vb);
        ca++;
        if (x != y || x < 0 || memcmp(va, vb, (size_t)x) != 0)
            return tc_diff(t, "xattr %s of %s (%zd vs %zd bytes)", na + i, rel, x, y);
    }
    if (ca != cb) return tc_diff(t, "%s has %d user xattrs, its copy %d", rel, ca, cb);
    return 0;
}

static int tc_entry(struct tc *t, const char *rel, const struct stat *sa)
{
    struct stat sb;
    t->count++;
    if (lstat(t->b, &sb) != 0) return tc_diff(t, "missing in the copy: %s", rel);
    if ((sa->st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) return tc_diff(t, "type of %s differs", rel);
    if ((t->flags & CHECK_TREE_MODE) && !S_ISLNK(sa->st_mode) && (sa->st_mode & 07777) != (sb.st_mode & 07777))
        return tc_diff(t, "mode of %s: %o != %o", rel, (unsigned)(sa->st_mode & 07777), (unsigned)(sb.st_mode & 07777));
    if (S_ISREG(sa->st_mode) && (sa->st_size != sb.st_size || !check_files_equal(t->a, t->b)))
        return tc_diff(t, "content of %s differs (%lld vs %lld bytes)", rel, (long long)sa->st_size,
                       (long long)sb.st_size);
    if ((S_ISCHR(sa->st_mode) || S_ISBLK(sa->st_mode)) && sa->st_rdev != sb.st_rdev)
        return tc_diff(t, "device number of %s differs", rel);
    if (S_ISLNK(sa->st_mode)) {
        char t1[4096], t2[4096];
        ssize_t n1 = readlink(t->a, t1, sizeof t1), n2 = readlink(t->b, t2, sizeof t2);
        if (n1 != n2 || n1 < 0 || memcmp(t1, t2, (size_t)n1) != 0) return tc_diff(t, "symlink target of %s", rel);
    }
    if (t->flags & CHECK_TREE_TIMES) {
        if (sa->st_mtim.tv_sec != sb.st_mtim.tv_sec || sa->st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
            return tc_diff(t, "mtime of %s: %ld.%09ld != %ld.%09ld", rel, (long)sa->st_mtim.tv_sec,
                           sa->st_mtim.tv_nsec, (long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
        if (sa->st_uid != sb.st_uid || sa->st_gid != sb.st_gid) return tc_diff(t, "owner of %s", rel);
    }
    if ((t->flags & CHECK_TREE_XATTRS) && !S_ISLNK(sa->st_mode) && tc_xattrs(t, rel)) return 1;
    if ((t->flags & CHECK_TREE_LINKS) && !S_ISDIR(sa->st_mode) && (sa->st_nlink > 1 || sb.st_nlink > 1)) {
        if (t->n_links == t->cap_links) {
            size_t cap = t->cap_links ? t->cap_links * 2 : 16;
            struct tc_link *nl = realloc(t->links, cap * sizeof *nl);
            if (!nl) return tc_diff(t, "out of memory");
            t->links = nl;
            t->cap_links = cap;
        }
        t->links[t->n_links++] = (struct tc_link){ sa->st_dev, sb.st_dev, sa->st_ino, sb.st_ino, strdup(rel) };
    }
    return 0;
}

/* tc_walk: side 0 walks a (compares each entry with b), side 1 walks b (each entry must be in a and
 * not left out). rel is the path under the roots ("" at the top). */
static int tc_walk(struct tc *t, int side, const char *rel)
{
    const char *cur = side ? t->b : t->a;
    DIR *dir = opendir(cur);
    struct dirent *e;
    int rc = 0;
    if (!dir) return tc_diff(t, "cannot open %s: %s", cur, strerror(errno));
    while (!rc && (e = readdir(dir))) {
        char sub[4096];
        size_t la = strlen(t->a), lb = strlen(t->b);
        struct stat st, other;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        if (la + strlen(e->d_name) + 2 > sizeof t->a || lb + strlen(e->d_name) + 2 > sizeof t->b) {
            rc = tc_diff(t, "path too long: %s", sub);
            break;
        }
        snprintf(t->a + la, sizeof t->a - la, "/%s", e->d_name);
        snprintf(t->b + lb, sizeof t->b - lb, "/%s", e->d_name);
        if (lstat(side ? t->b : t->a, &st) != 0) {
            rc = tc_diff(t, "cannot stat %s: %s", side ? t->b : t->a, strerror(errno));
        } else if (side == 0) {
            if (!(t->skip && t->skip(sub, &st, t->skip_ctx))) {
                rc = tc_entry(t, sub, &st);
                if (!rc && S_ISDIR(st.st_mode)) rc = tc_walk(t, 0, sub);
            }
        } else {
            if (lstat(t->a, &other) != 0 || (t->skip && t->skip(sub, &other, t->skip_ctx)))
                rc = tc_diff(t, "extra in the copy: %s", sub);
            else if (S_ISDIR(st.st_mode) && S_ISDIR(other.st_mode))
                rc = tc_walk(t, 1, sub);
        }
        t->a[la] = '\0';
        t->b[lb] = '\0';
    }
    closedir(dir);
    return rc;
}

int check_trees_equal(const char *a, const char *b, int flags,
                      int (*skip)(const char *rel, const struct stat *st, void *ctx), void *skip_ctx,
                      char *msg, size_t msglen, int *count)
{
    struct tc t = { .flags = flags, .skip = skip, .skip_ctx = skip_ctx, .msg = msg, .msglen = msglen };
    struct stat sa, sb;
    int rc;
    if (msg && msglen) msg[0] = '\0';
    if (count) *count = 0;
    snprintf(t.a, sizeof t.a, "%s", a);
    snprintf(t.b, sizeof t.b, "%s", b);
    if (lstat(a, &sa) != 0 || !S_ISDIR(sa.st_mode)) return tc_diff(&t, "%s is not a directory", a);
    if (lstat(b, &sb) != 0 || !S_ISDIR(sb.st_mode)) return tc_diff(&t, "the copy %s is not a directory", b);
    rc = tc_entry(&t, ".", &sa); /* the roots themselves: mode, times, xattrs */
    if (!rc) rc = tc_walk(&t, 0, "");
    if (!rc) rc = tc_walk(&t, 1, "");
    for (size_t i = 0; !rc && i < t.n_links; i++) {
        for (size_t j = i + 1; !rc && j < t.n_links; j++) {
            struct tc_link *x = &t.links[i], *y = &t.links[j];
            int same_a = x->adev == y->adev && x->aino == y->aino, same_b = x->bdev == y->bdev && x->bino == y->bino;
            if (same_a != same_b)
                rc = tc_diff(&t, "%s and %s are %s in the source but %s in the copy", x->rel, y->rel,
                             same_a ? "one file" : "two files", same_b ? "one file" : "two files");
        }
    }
    for (size_t i = 0; i < t.n_links; i++) free(t.links[i].rel);
    free(t.links);
    if (count) *count = t.count;
    return rc;
}
