/* test_text.c: Unicode case folding (src/util/text.c): letters beyond ASCII fold both ways, ASCII
 * folds as before, invalid UTF-8 bytes pass through unchanged, and a buffer too small is -E2BIG with
 * a terminated prefix. */
#include "check.h"
#include "util/text.h"
#include <errno.h>
#include <string.h>

TEST(folds_beyond_ascii)
{
    char out[64];
    CHECK(util_fold("\xc3\x9cN\xc3\x8f" "C\xc3\x98" "D\xc3\x89", out, sizeof out) == 0); /* ÜNÏCØDÉ */
    CHECK(strcmp(out, "\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9") == 0);                  /* ünïcødé */
    CHECK(util_fold("\xce\xa3\xce\x91", out, sizeof out) == 0);                      /* ΣΑ (Greek) */
    CHECK(strcmp(out, "\xcf\x83\xce\xb1") == 0);                                     /* σα */
    CHECK(util_fold("Report-Q3.PDF", out, sizeof out) == 0);
    CHECK(strcmp(out, "report-q3.pdf") == 0);
    CHECK(util_fold("", out, sizeof out) == 0 && out[0] == '\0');
}

TEST(invalid_bytes_pass_through)
{
    char out[64];
    CHECK(util_fold("A\xff" "B\xc3", out, sizeof out) == 0);
    CHECK(strcmp(out, "a\xff" "b\xc3") == 0);
    CHECK(util_utf8_len("\xc3\xa9") == 2 && util_utf8_len("\xc3") == 1 && util_utf8_len("") == 0);
    CHECK(util_utf8_len("\xf0\x9f\x98\x80") == 4 && util_utf8_len("\xe2\x82") == 1);
}

TEST(too_small_is_e2big_and_terminated)
{
    char out[4];
    CHECK(util_fold("ABCDEF", out, sizeof out) == -E2BIG);
    CHECK(strcmp(out, "abc") == 0);
    CHECK(util_fold("\xc3\x89\xc3\x89", out, sizeof out) == -E2BIG); /* ÉÉ: the second does not fit */
    CHECK(strcmp(out, "\xc3\xa9") == 0);
}

int main(void)
{
    RUN(folds_beyond_ascii);
    RUN(invalid_bytes_pass_through);
    RUN(too_small_is_e2big_and_terminated);
    return check_finish();
}
