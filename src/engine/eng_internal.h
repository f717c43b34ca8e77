/* eng_internal.h: helpers shared by the engine's files (not part of the public API). */
#ifndef COFFER_ENGINE_ENG_INTERNAL_H
#define COFFER_ENGINE_ENG_INTERNAL_H
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "repo/repo.h"
#include "repo/tree.h"

/* A growable absolute path: push appends "/name", pop restores a saved length. */
struct eng_path { char *p; size_t len, cap; };
int eng_path_set(struct eng_path *b, const char *s);
int eng_path_push(struct eng_path *b, const char *name); /* -ENOMEM */
void eng_path_pop(struct eng_path *b, size_t len);
void eng_path_free(struct eng_path *b);

void eng_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* eng_write_text_owned: writes text to path (opened O_WRONLY | O_CREAT | O_CLOEXEC | oflags, mode
 * 0600, e.g. O_EXCL for a new file or O_APPEND) and gives it to uid:gid. 0 or -errno. */
int eng_write_text_owned(const char *path, const char *text, int oflags, uid_t uid, gid_t gid);

/* eng_path_normalize: an absolute path with "//" collapsed and no trailing '/'; "." and ".."
 * components are refused (-EINVAL). *out is malloc'd. */
int eng_path_normalize(const char *in, char **out);
/* eng_basename: the last component of a normalized path ("" for "/"). */
const char *eng_basename(const char *path);

/* eng_read_rc: a repo read's code as the engine reports it: the repository's damage codes (unknown
 * blob, pack missing, blob damaged: repo_damage_last names them) become -EBADMSG; others (-ENOMEM,
 * -EMFILE...) stay what they are. */
static inline int eng_read_rc(int rc)
{
    return rc == -ENOENT || rc == -EIO || rc == -EBADMSG ? -EBADMSG : rc;
}
/* eng_tree_load: reads and decodes a tree blob. A missing or undecodable tree is -EBADMSG (damage;
 * repo_damage_last names it). */
int eng_tree_load(struct repo *repo, const repo_id_t *id, struct tree **out);
/* eng_chunk_get: reads a file chunk's blob and checks its length against the tree; damage is
 * -EBADMSG (eng_read_rc) with repo_damage_last naming the blob (and its pack). */
int eng_chunk_get(struct repo *repo, const struct tree_chunk *c, void **data, size_t *len);
/* eng_chunk_get_into: eng_chunk_get into dst, which holds the chunk's c->len bytes (decompressed
 * there directly: repo_blob_get_fast_into). */
int eng_chunk_get_into(struct repo *repo, const struct tree_chunk *c, void *dst);
/* eng_resolve: walks from root to a normalized path; "/" gives a dir entry named "/". The caller
 * releases *out. -ENOENT if absent, -ENOTDIR if a component is not a directory. */
int eng_resolve(struct repo *repo, const repo_id_t *root, const char *path, struct tree_entry *out);
/* eng_problem: appends {"path":..,"message":..} to arr (which may be NULL: then nothing). */
void eng_problem(json_t *arr, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* eng_stream_entry: streams [offset, offset+length) of a file entry's own chunks (the range must
 * lie within its size; holes become zeros). Repository errors are returned, a chunk of the wrong
 * length is -EBADMSG. */
int eng_stream_entry(struct repo *repo, const struct tree_entry *e, uint64_t offset,
                     uint64_t length, int (*sink)(void *ctx, const void *buf, size_t len), void *ctx);
/* A string -> pointer hash map (keys copied, values borrowed), for path lookups. */
struct eng_smap { struct eng_smap_node **b; size_t nb, n; };
void *eng_smap_get(const struct eng_smap *m, const char *key);
int eng_smap_put(struct eng_smap *m, const char *key, void *val);  /* replaces; -ENOMEM */
/* eng_smap_each: calls fn on every value (in no particular order). */
void eng_smap_each(const struct eng_smap *m, void (*fn)(void *ctx, void *val), void *ctx);
/* eng_smap_free: frees the map, calling free_val (may be NULL) on each value. */
void eng_smap_free(struct eng_smap *m, void (*free_val)(void *));
/* eng_json_path: a JSON string for a path that may not be UTF-8 (invalid bytes become U+FFFD). */
json_t *eng_json_path(const char *path);
uint64_t eng_now_usecs(void);
uint64_t eng_mono_msecs(void);
int eng_default_threads(void);
#endif
