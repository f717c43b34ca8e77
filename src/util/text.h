/* text.h: Unicode-aware text helpers over UTF-8 strings: case folding for case-insensitive matching
 * beyond ASCII ("ÜNÏCØDÉ" and "ünïcødé" fold alike). The folding is glibc's towlower in the built-in
 * C.UTF-8 locale, one character to one character, so a folded string has as many characters as the
 * original; bytes that are not valid UTF-8 (file names may hold any byte) are kept as they are, ASCII
 * letters among them lower-cased. Thread-safe (no global locale is changed). */
#ifndef COFFER_UTIL_TEXT_H
#define COFFER_UTIL_TEXT_H
#include <stddef.h>

/* util_fold: the case-folded copy of in (NUL-terminated) into out (cap bytes, NUL-terminated):
 * 0, or -E2BIG when it does not fit (out then holds a truncated, still terminated, prefix). A folded
 * string is never longer than UTIL_FOLD_MAX(strlen(in)) bytes. */
#define UTIL_FOLD_MAX(n) (2 * (n) + 8)
int util_fold(const char *in, char *out, size_t cap);

/* util_utf8_len: the length in bytes of the UTF-8 sequence starting at s (1 for an invalid or ASCII
 * byte, 0 at the terminating NUL). */
size_t util_utf8_len(const char *s);
#endif
