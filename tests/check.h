/* check.h: the tiny test framework shared by the C unit and end-to-end tests.
 *
 * A test binary defines TEST(name) functions and a main() that calls RUN(name) for each and then
 * returns check_finish(). Every test prints one line, "PASS name" or "FAIL name: file:line: expr",
 * which tests/run-all.sh counts. CHECK stops the current test at the first failed condition.
 *
 * Outside a RUN (in main: set-up, tear-down, "the daemon did not exit cleanly"), check_fail and a
 * failed CHECK in a helper called from main print "FAIL main: ..." and count as one failed test each.
 * SKIP(name, reason...) prints "SKIP name: reason" and counts a skip: only for a thing this machine
 * cannot do (no xattr support, not root); a failed set-up is a failure: check_abandon(reason) makes
 * every later RUN print "FAIL name: not run: reason" and count as failed. check_finish prints
 * "N passed, N failed" (", N skipped" when there were skips), which run-all.sh compares with the
 * PASS/FAIL/SKIP lines it counted. */
#ifndef COFFER_TESTS_CHECK_H
#define COFFER_TESTS_CHECK_H
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#define TEST(name) static void name(void)
#define RUN(name) check_run(#name, name)
#define CHECK(cond) do { if (!(cond)) { check_fail(__FILE__, __LINE__, "%s", #cond); return; } } while (0)
/* CHECKF: like CHECK, with a printf-style explanation of what was seen. */
#define CHECKF(cond, ...) do { if (!(cond)) { check_fail(__FILE__, __LINE__, __VA_ARGS__); return; } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) { check_fail(__FILE__, __LINE__, "%s == %s (%lld != %lld)", #a, #b, a_, b_); return; } } while (0)
/* SKIP: name is a string naming what was not checked; the reason is printf-style. */
#define SKIP(name, ...) check_skip(name, __VA_ARGS__)

void check_run(const char *name, void (*fn)(void));
void check_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* check_failed: nonzero once the current test has failed (for helpers that return early); in main,
 * after a RUN: whether that test failed. */
int check_failed(void);
/* check_skip: prints "SKIP name: reason" and counts one skip. */
void check_skip(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* check_abandon: every later RUN is not run and counts as failed ("FAIL name: not run: reason"). */
void check_abandon(const char *reason);
/* check_finish: prints "N passed, N failed[, N skipped]" for this binary; returns the exit status for main. */
int check_finish(void);
/* check_tmpdir: creates a fresh temporary directory; returns a malloc'd path the caller frees. */
char *check_tmpdir(const char *tag);
/* check_rm_rf: removes a tree (test clean-up). */
void check_rm_rf(const char *path);

/* check_trees_equal: compares tree b with tree a both ways. Every entry of a (except those skip
 * leaves out; rel is the path under the root, e.g. "sub/f.bin") must be in b with the same type,
 * regular files byte for byte, the same symlink target and device number, and what the flags ask;
 * every entry of b must be an entry of a that was not left out (so extra files in b are found).
 * The roots themselves are compared too (as "."). Returns 0 when equal, else 1 with the first
 * difference in msg. *count gets the number of entries of a compared, the root included (may be NULL). */
enum {
    CHECK_TREE_MODE = 1,   /* permission bits (not of symlinks) */
    CHECK_TREE_TIMES = 2,  /* mtime to the nanosecond, and owner and group */
    CHECK_TREE_XATTRS = 4, /* every user.* extended attribute (not of symlinks) */
    CHECK_TREE_LINKS = 8,  /* hard links: entries of a that share an inode share one in b, and only those */
};
int check_trees_equal(const char *a, const char *b, int flags,
                      int (*skip)(const char *rel, const struct stat *st, void *ctx), void *skip_ctx,
                      char *msg, size_t msglen, int *count);
/* check_files_equal: 1 when both regular files can be read and hold the same bytes. */
int check_files_equal(const char *a, const char *b);
#endif
