/* check.h: the tiny test framework shared by the C unit and end-to-end tests.
 *
 * A test binary defines TEST(name) functions and a main() that calls RUN(name) for each and then
 * returns check_finish(). Every test prints one line, "PASS name" or "FAIL name: file:line: expr",
 * which tests/run-all.sh counts. CHECK stops the current test at the first failed condition. */
#ifndef COFFER_TESTS_CHECK_H
#define COFFER_TESTS_CHECK_H
#include <stdio.h>

#define TEST(name) static void name(void)
#define RUN(name) check_run(#name, name)
#define CHECK(cond) do { if (!(cond)) { check_fail(__FILE__, __LINE__, "%s", #cond); return; } } while (0)
/* CHECKF: like CHECK, with a printf-style explanation of what was seen. */
#define CHECKF(cond, ...) do { if (!(cond)) { check_fail(__FILE__, __LINE__, __VA_ARGS__); return; } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) { check_fail(__FILE__, __LINE__, "%s == %s (%lld != %lld)", #a, #b, a_, b_); return; } } while (0)

void check_run(const char *name, void (*fn)(void));
void check_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* check_failed: nonzero once the current test has failed (for helpers that return early). */
int check_failed(void);
/* check_finish: prints "N passed, N failed" for this binary; returns the exit status for main. */
int check_finish(void);
/* check_tmpdir: creates a fresh temporary directory; returns a malloc'd path the caller frees. */
char *check_tmpdir(const char *tag);
/* check_rm_rf: removes a tree (test clean-up). */
void check_rm_rf(const char *path);
#endif
