/* hex.h: lower-case hexadecimal text of bytes and back, the one codec for ids, digests, tokens and
 * keys kept as text (catalog columns, key files, the agent protocol). */
#ifndef COFFER_UTIL_HEX_H
#define COFFER_UTIL_HEX_H
#include <stddef.h>
#include <stdint.h>

/* util_hex_encode: the n bytes of in as 2n lower-case hex digits into out (2n + 1 bytes, NUL-terminated). */
void util_hex_encode(const void *in, size_t n, char *out);
/* util_hex_decode: exactly n bytes from s, which must be 2n hex digits (either case) and nothing else:
 * 0, or -EINVAL (s NULL, another length, a character that is not a digit; out is then unspecified). */
int util_hex_decode(const char *s, void *out, size_t n);
#endif
