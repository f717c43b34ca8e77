/* array.c: capacity doubling for ARRAY_RESERVE (see array.h). The array pointer is read and written
 * through memcpy so that one function serves arrays of every element type. */
#include "util/array.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int array_reserve_(void *slot, size_t *cap, size_t need, size_t elem)
{
    void *old, *grown;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return -1;
        nc *= 2;
    }
    if (elem && nc > SIZE_MAX / elem) return -1;
    memcpy(&old, slot, sizeof old);
    grown = realloc(old, nc * elem);
    if (!grown) return -1;
    memcpy(slot, &grown, sizeof grown);
    *cap = nc;
    return 0;
}
