/* test_buf.c: util/buf, the capped growable buffer: appends keep the text NUL-terminated, growth
 * keeps earlier bytes, the cap is exact (len may reach it, never pass it) and a refused append leaves
 * the buffer as it was; printf, reset, steal and free. Also err.h's two named codes. */
#include "check.h"
#include "util/buf.h"
#include "util/err.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

TEST(append_grows_and_keeps_bytes)
{
    struct buf b;
    char expect[10000];
    buf_init(&b, 1u << 20);
    CHECK(b.data == NULL && b.len == 0);
    for (int i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);
        expect[i] = c;
        CHECK_EQ_INT(buf_append(&b, &c, 1), 0);
    }
    CHECK_EQ_INT(b.len, 10000);
    CHECK(memcmp(b.data, expect, sizeof expect) == 0);
    CHECK_EQ_INT(b.data[b.len], '\0');
    CHECK(b.size > b.len && b.size <= 2 * 10001);
    buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
}

TEST(binary_bytes_and_empty_appends)
{
    struct buf b;
    const char bin[] = { 'x', '\0', 'y', '\xff' };
    buf_init(&b, 64);
    CHECK_EQ_INT(buf_append(&b, "", 0), 0);
    CHECK(b.data != NULL && b.len == 0 && b.data[0] == '\0');
    CHECK_EQ_INT(buf_append(&b, bin, sizeof bin), 0);
    CHECK_EQ_INT(b.len, 4);
    CHECK(memcmp(b.data, bin, 4) == 0 && b.data[4] == '\0');
    buf_free(&b);
}

TEST(cap_is_exact_and_refusal_changes_nothing)
{
    struct buf b;
    buf_init(&b, 10);
    CHECK_EQ_INT(buf_appends(&b, "0123456"), 0);
    CHECK_EQ_INT(buf_appends(&b, "7890"), -E2BIG); /* 11 > 10 */
    CHECK_EQ_INT(b.len, 7);
    CHECK(strcmp(b.data, "0123456") == 0);
    CHECK_EQ_INT(buf_appends(&b, "789"), 0); /* exactly 10 */
    CHECK(strcmp(b.data, "0123456789") == 0);
    CHECK(b.size <= 11); /* never more memory than the cap allows */
    CHECK_EQ_INT(buf_append(&b, "x", 1), -E2BIG);
    CHECK_EQ_INT(buf_append(&b, "", 0), 0); /* nothing to add still fits */
    CHECK_EQ_INT(buf_reserve(&b, 1), -E2BIG);
    CHECK_EQ_INT(buf_append(&b, "x", (size_t)-1), -E2BIG); /* no overflow in len + n */
    CHECK_EQ_INT(b.len, 10);
    buf_free(&b);
}

TEST(printf_reset_steal)
{
    struct buf b;
    char *s;
    buf_init(&b, 32);
    CHECK_EQ_INT(buf_printf(&b, "%s=%d;", "a", 42), 0);
    CHECK_EQ_INT(buf_printf(&b, "%05d", 7), 0);
    CHECK(strcmp(b.data, "a=42;00007") == 0);
    CHECK_EQ_INT(b.len, 10);
    CHECK_EQ_INT(buf_printf(&b, "%030d", 1), -E2BIG); /* 10 + 30 > 32 */
    CHECK(strcmp(b.data, "a=42;00007") == 0);
    buf_reset(&b);
    CHECK(b.len == 0 && b.data && b.data[0] == '\0');
    CHECK_EQ_INT(buf_printf(&b, "%s", "again"), 0);
    s = buf_steal(&b);
    CHECK(s && strcmp(s, "again") == 0);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 32);
    free(s);
    CHECK_EQ_INT(buf_appends(&b, "reused"), 0); /* usable after steal */
    CHECK(strcmp(b.data, "reused") == 0);
    buf_free(&b);
}

TEST(large_body_sized_cap)
{
    /* the request body's cap (4 MiB): fed in 1000-byte pieces as the server does, the last piece
     * that would pass the cap is refused and what came before is intact */
    struct buf b;
    static char piece[1000];
    size_t cap = 4u * 1024 * 1024, fed = 0;
    int rc = 0;
    memset(piece, 'q', sizeof piece);
    buf_init(&b, cap);
    while ((rc = buf_append(&b, piece, sizeof piece)) == 0) fed += sizeof piece;
    CHECK_EQ_INT(rc, -E2BIG);
    CHECK_EQ_INT(b.len, fed);
    CHECK(fed <= cap && fed + sizeof piece > cap);
    CHECK(b.data[0] == 'q' && b.data[b.len - 1] == 'q' && b.data[b.len] == '\0');
    buf_free(&b);
}

TEST(error_codes_are_negative_and_named)
{
    CHECK(ERR_NOT_FOUND < 0 && ERR_CONFLICT < 0 && ERR_NOT_FOUND != ERR_CONFLICT);
    CHECK(strcmp(err_text(ERR_NOT_FOUND), "not found") == 0);
    CHECK(strcmp(err_text(ERR_CONFLICT), "conflict") == 0);
    CHECK(strcmp(err_text(0), "ok") == 0);
    CHECK(strcmp(err_text(-ENOSPC), strerror(ENOSPC)) == 0);
}

int main(void)
{
    RUN(append_grows_and_keeps_bytes);
    RUN(binary_bytes_and_empty_appends);
    RUN(cap_is_exact_and_refusal_changes_nothing);
    RUN(printf_reset_steal);
    RUN(large_body_sized_cap);
    RUN(error_codes_are_negative_and_named);
    return check_finish();
}
