/* test_hex.c: the hex codec (src/util/hex.c): bytes round-trip through lower-case digits, either case
 * decodes, and a wrong length or a non-digit is -EINVAL. */
#include "check.h"
#include "util/hex.h"
#include <errno.h>
#include <string.h>

TEST(round_trip_lower_case)
{
    const uint8_t in[] = { 0x00, 0x0f, 0xa5, 0xff, 0x10 };
    uint8_t back[sizeof in];
    char text[2 * sizeof in + 1];
    util_hex_encode(in, sizeof in, text);
    CHECK(strcmp(text, "000fa5ff10") == 0);
    CHECK(util_hex_decode(text, back, sizeof back) == 0 && memcmp(in, back, sizeof in) == 0);
    CHECK(util_hex_decode("000FA5FF10", back, sizeof back) == 0 && memcmp(in, back, sizeof in) == 0);
    util_hex_encode(in, 0, text);
    CHECK(text[0] == '\0');
}

TEST(bad_text_is_einval)
{
    uint8_t out[2];
    CHECK(util_hex_decode(NULL, out, 2) == -EINVAL);
    CHECK(util_hex_decode("abc", out, 2) == -EINVAL);
    CHECK(util_hex_decode("abcdef", out, 2) == -EINVAL);
    CHECK(util_hex_decode("ab g", out, 2) == -EINVAL);
    CHECK(util_hex_decode(" abc", out, 2) == -EINVAL);
    CHECK(util_hex_decode("+a0b", out, 2) == -EINVAL);
}

int main(void)
{
    RUN(round_trip_lower_case);
    RUN(bad_text_is_einval);
    return check_finish();
}
