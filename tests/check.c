/* check.c: runs tests one by one and counts them (see check.h). */
#include "check.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

static int g_passed, g_failed, g_current_failed;
static const char *g_current_name = "?";

void check_run(const char *name, void (*fn)(void))
{
    g_current_failed = 0;
    g_current_name = name;
    fflush(stdout);
    fn();
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
    if (g_current_failed) return; /* one line per failed test */
    g_current_failed = 1;
    printf("FAIL %s: %s:%d: ", g_current_name, file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

int check_finish(void)
{
    printf("%d passed, %d failed\n", g_passed, g_failed);
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
