/* buf.c: the capped growable buffer of buf.h. Room is always kept for a NUL byte after the data;
 * the size doubles from BUF_MIN, clamped to cap + 1, so the memory never exceeds what the cap allows. */
#include "util/buf.h"
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN 256

void buf_init(struct buf *b, size_t cap)
{
    b->data = NULL;
    b->len = b->size = 0;
    b->cap = cap;
}

int buf_reserve(struct buf *b, size_t n)
{
    size_t need, size;
    char *d;
    if (n > b->cap || b->len > b->cap - n) return -E2BIG;
    need = b->len + n + 1; /* cannot overflow: len + n <= cap < SIZE_MAX unless cap is SIZE_MAX */
    if (need == 0) return -E2BIG;
    if (need <= b->size) return 0;
    size = b->size ? b->size : BUF_MIN;
    while (size < need) size = size > SIZE_MAX / 2 ? need : size * 2;
    if (b->cap < SIZE_MAX && size - 1 > b->cap) size = b->cap + 1;
    d = realloc(b->data, size);
    if (!d) return -ENOMEM;
    if (!b->data) d[0] = '\0';
    b->data = d;
    b->size = size;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc != 0) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_appends(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -EINVAL;
    if ((rc = buf_reserve(b, (size_t)n)) != 0) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->size - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

char *buf_steal(struct buf *b)
{
    char *d = b->data;
    b->data = NULL;
    b->len = b->size = 0;
    return d;
}

void buf_free(struct buf *b)
{
    free(buf_steal(b));
}
