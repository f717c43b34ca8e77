/* array.h: growing a heap array by doubling, in one line at the call site.
 *
 *   struct item *v = NULL; size_t n = 0, cap = 0;
 *   if (ARRAY_RESERVE(v, cap, n + 1) != 0) goto oom;   // v has room for n + 1 items
 *   v[n++] = ...;
 *
 * On failure (overflow or out of memory) the array and cap are left as they were and the macro
 * yields -1; the caller still owns v and frees it. */
#ifndef COFFER_UTIL_ARRAY_H
#define COFFER_UTIL_ARRAY_H
#include <stddef.h>

#define ARRAY_RESERVE(arr, cap, need) \
    ((size_t)(need) <= (cap) ? 0 : array_reserve_((void *)&(arr), &(cap), (size_t)(need), sizeof *(arr)))

/* array_reserve_: the out-of-line part of ARRAY_RESERVE; slot is the address of the array pointer. */
int array_reserve_(void *slot, size_t *cap, size_t need, size_t elem);
#endif
