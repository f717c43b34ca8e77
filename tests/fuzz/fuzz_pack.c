/* fuzz_pack.c: libFuzzer target for a sealed pack's footer and trailer (repo_pack_parse_footer and
 * repo_pack_parse_trailer, src/repo/pack.c). The input is a footer (16 bytes), then 8 bytes giving the
 * pack's size, then the trailer's plaintext; every record accepted lies within the blob bytes. */
#include "repo/repo_int.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t file_size, tlen;
    struct repo_pentry *ents = NULL;
    size_t n = 0;
    char why[128];
    int rc;
    if (size < REPO_PACK_FOOTER_LEN + 8) return 0;
    file_size = repo_get_u64(data + REPO_PACK_FOOTER_LEN);
    rc = repo_pack_parse_footer(data, file_size, &tlen, why, sizeof why);
    if (rc != 0) {
        if (rc != -EBADMSG || !why[0]) abort();
        return 0;
    }
    if (tlen > size - REPO_PACK_FOOTER_LEN - 8) return 0; /* the input holds less trailer than claimed */
    rc = repo_pack_parse_trailer(data + REPO_PACK_FOOTER_LEN + 8, tlen, file_size - REPO_PACK_FOOTER_LEN - tlen,
                                 &ents, &n, why, sizeof why);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            if ((uint64_t)ents[i].offset + ents[i].stored > file_size - REPO_PACK_FOOTER_LEN - tlen) abort();
        free(ents);
    } else if (rc != -EBADMSG && rc != -ENOMEM) {
        abort();
    }
    return 0;
}
