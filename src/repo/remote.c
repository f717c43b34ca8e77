/* remote.c: the remote writer handle (repo.h, "A remote writer"): a struct repo holding the id key
 * and the chunker (gear table and sizes, chunker.c) and nothing else: no encryption key, no backend,
 * no index. repo.c, pack.c and snapshot.c hand its blob, snapshot and writer calls to the ops table;
 * repo_blob_id and repo_chunk_cut run unchanged. The keys are wiped when it is closed. */
#include "repo/repo_int.h"
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void repo_writer_keys_get(const struct repo *repo, struct repo_writer_keys *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->id_key, repo->id_key, sizeof out->id_key);
    memcpy(out->chunk_key, repo->chunk_key, sizeof out->chunk_key);
    out->cmin = repo->cmin;
    out->cavg = repo->cavg;
    out->cmax = repo->cmax;
}

int repo_open_remote(const struct repo_writer_keys *keys, const struct repo_remote_ops *ops, void *ctx,
                     struct repo **out)
{
    struct repo *r;
    int rc;
    *out = NULL;
    if (!ops || !ops->exists || !ops->put || !ops->get || !ops->snapshot_write || !ops->snapshot_read) return -EINVAL;
    if (!(r = calloc(1, sizeof *r))) return -ENOMEM;
    memcpy(r->id_key, keys->id_key, REPO_KEY_LEN);
    memcpy(r->chunk_key, keys->chunk_key, REPO_KEY_LEN);
    rc = repo_chunker_init(r, keys->cmin, keys->cavg, keys->cmax);
    if (rc < 0) {
        repo_remote_free(r);
        return rc;
    }
    r->remote = ops;
    r->remote_ctx = ctx;
    r->open_pack = -1;
    *out = r;
    return 0;
}

void repo_remote_free(struct repo *repo)
{
    OPENSSL_cleanse(repo->id_key, sizeof repo->id_key);
    OPENSSL_cleanse(repo->chunk_key, sizeof repo->chunk_key);
    OPENSSL_cleanse(repo->gear, sizeof repo->gear);
    free(repo);
}
