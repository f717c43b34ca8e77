/* fuzz_tree.c: libFuzzer target for the tree blob decoder (tree_decode, src/repo/tree.c): untrusted
 * bytes either decode into entries that re-encode to the very same bytes (the encoding is canonical)
 * or are refused with -EBADMSG. */
#include "repo/tree.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tree *t = NULL;
    int rc = tree_decode(data, size, &t);
    if (rc == 0) {
        uint8_t *again = NULL;
        size_t n = 0;
        if (tree_encode(t->entries, t->n, &again, &n) != 0) abort();
        if (n != size || memcmp(again, data, n) != 0) abort(); /* canonical: one encoding per tree */
        free(again);
        tree_free(t);
    } else if (rc != -EBADMSG && rc != -ENOMEM) {
        abort();
    }
    return 0;
}
