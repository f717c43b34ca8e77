/* eng_internal.h: helpers shared by the engine's files (not part of the public API). */
#ifndef COFFER_ENGINE_ENG_INTERNAL_H
#define COFFER_ENGINE_ENG_INTERNAL_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

/* eng_path_normalize: an absolute path with "//" collapsed and no trailing '/'; "." and ".."
 * components are refused (-EINVAL). *out is malloc'd. */
int eng_path_normalize(const char *in, char **out);
/* eng_basename: the last component of a normalized path ("" for "/"). */
const char *eng_basename(const char *path);

int eng_tree_load(struct repo *repo, const repo_id_t *id, struct tree **out);
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
uint64_t eng_now_usecs(void);
uint64_t eng_mono_msecs(void);
int eng_default_threads(void);
#endif
