/* tree.h: the directory tree blob, one directory's entries sorted by name bytes.
 *
 * A snapshot is a root tree ("/") whose directory entries name subtrees by blob id; a regular file
 * entry lists the data blobs (chunks) holding its bytes, each with its offset in the file, so holes
 * of sparse files are simply the gaps between chunks. The binary encoding is canonical (the same
 * entries always give the same bytes, hence the same blob id) and is specified byte by byte in
 * docs/repository-format.md, section "Trees and snapshot documents". tree_decode treats every byte
 * as untrusted: every length is checked, names are validated ("." , "..", '/' and NUL rejected) and
 * entries must be strictly sorted, so a decoded tree is always safe to materialise on disk.
 *
 * Ownership: every pointer inside a struct tree_entry is owned by that entry and freed by
 * tree_entry_release, except in a decoded tree (tree_decode), whose entries' strings, chunks and
 * xattrs all live in the tree's arena (equal user/group names of neighbouring entries share their
 * bytes): such entries are read-only and freed only with the tree. A struct tree owns its entries
 * and is freed by tree_free. */
#ifndef COFFER_REPO_TREE_H
#define COFFER_REPO_TREE_H
#include <stddef.h>
#include <stdint.h>
#include "repo/repo.h"

#define TREE_FORMAT_VERSION 1

enum tree_type {
    TREE_FILE = 1, TREE_DIR = 2, TREE_SYMLINK = 3, TREE_FIFO = 4, TREE_SOCKET = 5,
    TREE_CHARDEV = 6, TREE_BLOCKDEV = 7,
};

/* Decoder limits (an encoder refuses to exceed them too). */
#define TREE_NAME_MAX 4096u              /* bytes in one entry name */
#define TREE_STR_MAX 65536u              /* user/group names, symlink and hardlink targets */
#define TREE_XATTR_VALUE_MAX (1u << 20)  /* one extended attribute value */

/* One data blob of a file: the bytes [offset, offset+len) of the file. Chunks are sorted by
 * offset and never overlap; a gap between two chunks (or after the last one, up to size) is a
 * hole that reads as zeros. */
struct tree_chunk {
    repo_id_t id;
    uint64_t offset;
    uint32_t len;
};

struct tree_xattr {
    char *name;        /* NUL-terminated, non-empty */
    uint8_t *value;    /* binary; may be NULL when len == 0 */
    size_t len;
};

struct tree_entry {
    char *name;               /* NUL-terminated; a valid name (tree_name_valid) */
    enum tree_type type;
    uint32_t mode;            /* permission bits and suid/sgid/sticky (st_mode & 07777) */
    uint32_t uid, gid;
    char *user, *group;       /* owner names at backup time, or NULL */
    int64_t mtime_ns, ctime_ns, atime_ns;   /* nanoseconds since the epoch */
    uint64_t size;            /* file size in bytes (holes included); 0 for non-files */
    uint64_t dev, ino, nlink; /* identity at backup time: incremental detection and hardlinks */
    uint64_t rdev;            /* device number of chardev/blockdev, else 0 */
    int has_subtree;
    repo_id_t subtree;        /* TREE_DIR: the directory's tree blob */
    char *symlink_target;     /* TREE_SYMLINK: target bytes as stored, NUL-terminated */
    char *hardlink;           /* non-NULL: absolute snapshot path of the first link to this inode;
                                 the entry then has no chunks (read them from that path) */
    struct tree_chunk *chunks;   /* TREE_FILE: data blobs, sorted by offset */
    size_t n_chunks;
    struct tree_xattr *xattrs;   /* sorted by name, names unique */
    size_t n_xattrs;
};

struct tree_arena;

struct tree {
    struct tree_entry *entries;  /* sorted by name bytes (memcmp order), names unique */
    size_t n;
    struct tree_arena *arena;    /* tree_decode's: holds every string, chunk and xattr of the
                                    entries, which are then read-only (never tree_entry_release
                                    one: tree_entry_copy it); NULL for a tree built by hand */
};

/* tree_name_valid: 1 when name (len bytes) can be a directory entry: non-empty, at most
 * TREE_NAME_MAX bytes, no '/' or NUL byte, not "." or "..". */
int tree_name_valid(const char *name, size_t len);

/* tree_encode: the canonical bytes of a directory. entries must be sorted by name and valid
 * (else -EINVAL; nothing is allocated). *out is malloc'd, the caller frees it. */
int tree_encode(const struct tree_entry *entries, size_t n, uint8_t **out, size_t *out_len);
/* tree_encode_ptrs: the same from an array of pointers to the entries (a caller whose entries sit
 * in larger structs need not copy them). */
int tree_encode_ptrs(const struct tree_entry *const *entries, size_t n, uint8_t **out,
                     size_t *out_len);
/* tree_decode: parses untrusted bytes. -EBADMSG on any malformed, unsorted or unsafe content,
 * -ENOMEM. The caller frees *out with tree_free. */
int tree_decode(const void *data, size_t len, struct tree **out);
void tree_free(struct tree *t);

/* tree_find: binary search by name; NULL when absent. */
const struct tree_entry *tree_find(const struct tree *t, const char *name);

/* tree_entry_copy: deep copy; on failure (-ENOMEM) dst is left zeroed. */
int tree_entry_copy(struct tree_entry *dst, const struct tree_entry *src);
/* tree_entry_release: frees what the entry owns and zeroes it; the struct itself is the caller's. */
void tree_entry_release(struct tree_entry *e);
/* tree_entry_cmp_name: memcmp order of names, for qsort over struct tree_entry. */
int tree_entry_cmp_name(const void *a, const void *b);
/* tree_entries_equal: 1 when two entries would encode to the same bytes. */
int tree_entries_equal(const struct tree_entry *a, const struct tree_entry *b);
#endif
