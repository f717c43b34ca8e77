/* fuzz_index.c: libFuzzer target for an index object's plaintext (repo_index_parse, src/repo/index.c):
 * every pack header and record is checked before any is handed on, so whatever the bytes, each record
 * the callback sees is within its pack; malformed input is -EBADMSG. */
#include "repo/repo_int.h"
#include <errno.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_pack(struct repo *repo, const struct repo_index_pack *p, void *ctx)
{
    (void)repo;
    for (size_t i = 0; i < p->n; i++)
        if (repo_pentry_validate(&p->ents[i], p->size - REPO_PACK_FOOTER_LEN) != 0) abort();
    ++*(size_t *)ctx;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t packs = 0;
    int rc = repo_index_parse(NULL, data, size, on_pack, &packs);
    if (rc != 0 && rc != -EBADMSG && rc != -ENOMEM) abort();
    return 0;
}
