/* buf.h: a growable byte buffer with a cap (the request body, list responses built from stored text).
 *
 *   struct buf b;
 *   buf_init(&b, 4u << 20);                       // never holds more than 4 MiB
 *   if (buf_append(&b, p, n) != 0) ...            // -E2BIG past the cap, -ENOMEM; b is unchanged then
 *   buf_printf(&b, "%d,", x);
 *   use b.data (NUL-terminated, NULL while nothing was appended) and b.len;
 *   buf_free(&b);                                 // or buf_steal to take data over
 *
 * The buffer owns data until buf_steal or buf_free. After any append that succeeded, data[len] is a
 * NUL byte that len does not count (so text can be read as a C string). Growth doubles from 256 bytes
 * (never beyond cap + 1 bytes of memory). Errors follow util/err.h. */
#ifndef COFFER_UTIL_BUF_H
#define COFFER_UTIL_BUF_H
#include <stddef.h>

struct buf {
    char *data;  /* NULL until the first append */
    size_t len;  /* bytes held, the NUL byte not counted */
    size_t size; /* bytes allocated */
    size_t cap;  /* the most len may ever be */
};

/* buf_init: an empty buffer that refuses to hold more than cap bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t cap);
/* buf_append: appends n bytes of p (n may be 0). 0, or -E2BIG when len + n would pass the cap, or
 * -ENOMEM; on failure the buffer is as it was. */
int buf_append(struct buf *b, const void *p, size_t n);
/* buf_appends: buf_append of a C string. */
int buf_appends(struct buf *b, const char *s);
/* buf_printf: appends printf-style text; as buf_append, and -EINVAL on a format error. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_reserve: makes room for n more bytes at once (0, -E2BIG or -ENOMEM; nothing appended). */
int buf_reserve(struct buf *b, size_t n);
/* buf_reset: empties the buffer, keeping its memory and cap. */
void buf_reset(struct buf *b);
/* buf_steal: hands data over to the caller (who frees it; NULL if nothing was appended) and leaves
 * the buffer empty, with its cap. */
char *buf_steal(struct buf *b);
/* buf_free: releases the memory; the buffer is empty again, with its cap, and may be reused. */
void buf_free(struct buf *b);
#endif
