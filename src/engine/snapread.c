/* snapread.c: reading a snapshot without restoring it: a depth-first walk over every path, the
 * entry at one path, and a byte range of one file streamed to a sink (holes as zeros, chunks
 * fetched one at a time so memory stays at one chunk). */
#include "engine/engine.h"
#include "engine/eng_internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct walk_ctx {
    struct repo *repo;
    struct eng_path path;
    int (*cb)(void *ctx, const char *path, const struct tree_entry *e);
    void *ctx;
    int depth;
};

static int walk_tree(struct walk_ctx *w, const repo_id_t *id)
{
    struct tree *t = NULL;
    int rc = eng_tree_load(w->repo, id, &t);
    size_t base = w->path.len;
    if (rc) return rc;
    if (++w->depth > 4096) { tree_free(t); return -ELOOP; }
    for (size_t i = 0; i < t->n && !rc; i++) {
        const struct tree_entry *e = &t->entries[i];
        if ((rc = eng_path_push(&w->path, e->name)) != 0) break;
        rc = w->cb(w->ctx, w->path.p, e);
        if (!rc && e->type == TREE_DIR) rc = walk_tree(w, &e->subtree);
        eng_path_pop(&w->path, base);
    }
    w->depth--;
    tree_free(t);
    return rc;
}

int eng_snapshot_walk(struct repo *repo, const char *snapshot_id,
                      int (*cb)(void *ctx, const char *path, const struct tree_entry *e), void *ctx)
{
    struct walk_ctx w = { .repo = repo, .cb = cb, .ctx = ctx };
    repo_id_t root;
    int rc = eng_snapshot_root(repo, snapshot_id, &root);
    if (rc) return rc;
    if ((rc = eng_path_set(&w.path, "/")) != 0) return rc;
    rc = walk_tree(&w, &root);
    eng_path_free(&w.path);
    return rc;
}

int eng_stat_path(struct repo *repo, const char *snapshot_id, const char *path,
                  struct tree_entry *out)
{
    repo_id_t root;
    char *norm = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = eng_path_normalize(path, &norm)) != 0) return rc;
    rc = eng_snapshot_root(repo, snapshot_id, &root);
    if (!rc) rc = eng_resolve(repo, &root, norm, out);
    free(norm);
    return rc;
}

static int emit_zeros(int (*sink)(void *, const void *, size_t), void *ctx, uint64_t n)
{
    static const uint8_t zeros[65536];
    while (n > 0) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        int rc = sink(ctx, zeros, k);
        if (rc) return rc;
        n -= k;
    }
    return 0;
}

int eng_stream_entry(struct repo *repo, const struct tree_entry *e, uint64_t offset,
                     uint64_t length, int (*sink)(void *ctx, const void *buf, size_t len), void *ctx)
{
    uint64_t pos = offset, end = offset + length;
    int rc;
    for (size_t i = 0; i < e->n_chunks && pos < end; i++) {
        const struct tree_chunk *c = &e->chunks[i];
        uint64_t cend = c->offset + c->len;
        if (cend <= pos) continue;
        if (c->offset >= end) break;
        if (c->offset > pos) {
            if ((rc = emit_zeros(sink, ctx, c->offset - pos)) != 0) return rc;
            pos = c->offset;
        }
        void *data = NULL;
        size_t len = 0;
        if ((rc = eng_chunk_get(repo, c, &data, &len)) != 0) return rc;
        uint64_t take_end = cend < end ? cend : end;
        rc = sink(ctx, (const uint8_t *)data + (pos - c->offset), (size_t)(take_end - pos));
        free(data);
        if (rc) return rc;
        pos = take_end;
    }
    if (pos < end) return emit_zeros(sink, ctx, end - pos);
    return 0;
}

int eng_read_file(struct repo *repo, const char *snapshot_id, const char *path, uint64_t offset,
                  uint64_t length, int (*sink)(void *ctx, const void *buf, size_t len), void *ctx)
{
    struct tree_entry e;
    repo_id_t root;
    char *norm = NULL;
    int rc;
    if ((rc = eng_path_normalize(path, &norm)) != 0) return rc;
    if ((rc = eng_snapshot_root(repo, snapshot_id, &root)) != 0) { free(norm); return rc; }
    rc = eng_resolve(repo, &root, norm, &e);
    free(norm);
    for (int hops = 0; !rc && e.hardlink && hops < 8; hops++) {
        struct tree_entry first;
        rc = eng_resolve(repo, &root, e.hardlink, &first);
        tree_entry_release(&e);
        if (!rc) e = first;
    }
    if (rc) return rc;
    if (e.type != TREE_FILE || e.hardlink) {
        rc = e.type == TREE_DIR ? -EISDIR : -EINVAL;
        tree_entry_release(&e);
        return rc;
    }
    if (offset < e.size) {
        uint64_t n = e.size - offset;
        if (length && length < n) n = length;
        rc = eng_stream_entry(repo, &e, offset, n, sink, ctx);
    }
    tree_entry_release(&e);
    return rc;
}
