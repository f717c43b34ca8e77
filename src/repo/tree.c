/* tree.c: encoding and decoding of directory tree blobs (see tree.h).
 *
 * Layout (all integers LEB128 varints, minimal form; signed times zigzag-mapped first):
 *   "CFTR" | version u8 | flags u8 (0) | entry count | entries
 *   entry = body length | name | type u8 | field bits | mode uid gid mtime ctime atime size dev ino
 *           nlink | optional fields in bit order (rdev, user, group, subtree, symlink target,
 *           hardlink, chunks, xattrs)
 * The encoder writes an optional field exactly when it is non-empty, so equal directories give
 * equal bytes. The decoder is a bounds-checked cursor: each read checks the bytes left, each count
 * is checked against the bytes left before anything is allocated, overlong varints, unknown field
 * bits, unsorted names and unsafe names are all -EBADMSG. docs/repository-format.md has the tables. */
#include "repo/tree.h"
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t TREE_MAGIC[4] = { 'C', 'F', 'T', 'R' };

enum {
    F_RDEV = 1u << 0, F_USER = 1u << 1, F_GROUP = 1u << 2, F_SUBTREE = 1u << 3,
    F_SYMLINK = 1u << 4, F_HARDLINK = 1u << 5, F_CHUNKS = 1u << 6, F_XATTRS = 1u << 7,
    F_KNOWN = 0xffu,
};

#define TREE_CHUNK_LEN_MAX (64u << 20)   /* no data blob is larger than this */
#define TREE_ENTRY_MIN_BYTES 15u         /* smallest possible encoded entry, for count checks */
#define TREE_CHUNK_MIN_BYTES 34u         /* gap(1) + len(1) + id(32) */

/* ---------- output buffer ----------
 * The encoder sizes its output exactly before writing it: a counting pass (count set: nothing is
 * stored, len only grows) gives every entry's body length and the total, then one malloc of that
 * size is filled without a copy. A directory's encoding thus costs its own bytes and no more (a
 * doubling buffer and a per-entry body copy held up to twice that). */

struct obuf { uint8_t *p; size_t len, cap; int count, over; };

static void ob_put(struct obuf *b, const void *data, size_t len)
{
    if (!b->count && len) {
        if (len > b->cap - b->len) { b->over = 1; return; }   /* the passes disagree: a bug */
        memcpy(b->p + b->len, data, len);
    }
    b->len += len;
}

static void ob_u8(struct obuf *b, uint8_t v) { ob_put(b, &v, 1); }

static size_t uvarint_encode(uint8_t out[10], uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) { out[n++] = (uint8_t)(v | 0x80); v >>= 7; }
    out[n++] = (uint8_t)v;
    return n;
}

static void ob_uv(struct obuf *b, uint64_t v)
{
    uint8_t tmp[10];
    ob_put(b, tmp, uvarint_encode(tmp, v));
}

static void ob_sv(struct obuf *b, int64_t v)
{
    ob_uv(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void ob_str(struct obuf *b, const char *s, size_t len)
{
    ob_uv(b, len);
    ob_put(b, s, len);
}

/* ---------- validation shared by encoder and decoder ---------- */

int tree_name_valid(const char *name, size_t len)
{
    if (!name || len == 0 || len > TREE_NAME_MAX) return 0;
    if (memchr(name, '/', len) || memchr(name, '\0', len)) return 0;
    if (len == 1 && name[0] == '.') return 0;
    if (len == 2 && name[0] == '.' && name[1] == '.') return 0;
    return 1;
}

static int str_ok(const char *s, size_t max)
{
    size_t n;
    if (!s) return 0;
    n = strnlen(s, max + 1);
    return n > 0 && n <= max;
}

static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

/* The field bits an entry encodes with, or -1 when the entry is not valid for its type. */
static int entry_fields(const struct tree_entry *e)
{
    unsigned f = 0;
    if (!e->name || !tree_name_valid(e->name, strlen(e->name))) return -1;
    if (e->type < TREE_FILE || e->type > TREE_BLOCKDEV || e->mode > 07777) return -1;
    if (e->rdev) {
        if (e->type != TREE_CHARDEV && e->type != TREE_BLOCKDEV) return -1;
        f |= F_RDEV;
    }
    if (e->user) { if (!str_ok(e->user, TREE_STR_MAX)) return -1; f |= F_USER; }
    if (e->group) { if (!str_ok(e->group, TREE_STR_MAX)) return -1; f |= F_GROUP; }
    if ((e->type == TREE_DIR) != (e->has_subtree != 0)) return -1;
    if (e->has_subtree) f |= F_SUBTREE;
    if ((e->type == TREE_SYMLINK) != (e->symlink_target != NULL)) return -1;
    if (e->symlink_target) {
        if (!str_ok(e->symlink_target, TREE_STR_MAX)) return -1;
        f |= F_SYMLINK;
    }
    if (e->hardlink) {
        if (e->type == TREE_DIR || !str_ok(e->hardlink, TREE_STR_MAX) || e->hardlink[0] != '/')
            return -1;
        if (e->n_chunks) return -1;
        f |= F_HARDLINK;
    }
    if (e->type != TREE_FILE && e->size != 0) return -1;
    if (e->n_chunks) {
        uint64_t end = 0;
        if (e->type != TREE_FILE || !e->chunks) return -1;
        for (size_t i = 0; i < e->n_chunks; i++) {
            const struct tree_chunk *c = &e->chunks[i];
            if (c->len == 0 || c->len > TREE_CHUNK_LEN_MAX || c->offset < end) return -1;
            if (c->offset > UINT64_MAX - c->len) return -1;
            end = c->offset + c->len;
        }
        if (end > e->size) return -1;
        f |= F_CHUNKS;
    }
    if (e->n_xattrs) {
        if (!e->xattrs) return -1;
        for (size_t i = 0; i < e->n_xattrs; i++) {
            const struct tree_xattr *x = &e->xattrs[i];
            if (!str_ok(x->name, TREE_NAME_MAX) || x->len > TREE_XATTR_VALUE_MAX) return -1;
            if (x->len && !x->value) return -1;
            if (i && strcmp(e->xattrs[i - 1].name, x->name) >= 0) return -1;
        }
        f |= F_XATTRS;
    }
    return (int)f;
}

/* ---------- encoder ---------- */

static void encode_entry_body(struct obuf *b, const struct tree_entry *e, unsigned f)
{
    ob_str(b, e->name, strlen(e->name));
    ob_u8(b, (uint8_t)e->type);
    ob_uv(b, f);
    ob_uv(b, e->mode);
    ob_uv(b, e->uid);
    ob_uv(b, e->gid);
    ob_sv(b, e->mtime_ns);
    ob_sv(b, e->ctime_ns);
    ob_sv(b, e->atime_ns);
    ob_uv(b, e->size);
    ob_uv(b, e->dev);
    ob_uv(b, e->ino);
    ob_uv(b, e->nlink);
    if (f & F_RDEV) ob_uv(b, e->rdev);
    if (f & F_USER) ob_str(b, e->user, strlen(e->user));
    if (f & F_GROUP) ob_str(b, e->group, strlen(e->group));
    if (f & F_SUBTREE) ob_put(b, e->subtree.b, REPO_ID_LEN);
    if (f & F_SYMLINK) ob_str(b, e->symlink_target, strlen(e->symlink_target));
    if (f & F_HARDLINK) ob_str(b, e->hardlink, strlen(e->hardlink));
    if (f & F_CHUNKS) {
        uint64_t end = 0;
        ob_uv(b, e->n_chunks);
        for (size_t i = 0; i < e->n_chunks; i++) {
            const struct tree_chunk *c = &e->chunks[i];
            ob_uv(b, c->offset - end);
            ob_uv(b, c->len);
            ob_put(b, c->id.b, REPO_ID_LEN);
            end = c->offset + c->len;
        }
    }
    if (f & F_XATTRS) {
        ob_uv(b, e->n_xattrs);
        for (size_t i = 0; i < e->n_xattrs; i++) {
            ob_str(b, e->xattrs[i].name, strlen(e->xattrs[i].name));
            ob_str(b, (const char *)e->xattrs[i].value, e->xattrs[i].len);
        }
    }
}

static size_t uvarint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}

/* entries[i], or *ptrs[i] when ptrs is given. */
#define ENT(i) (ptrs ? ptrs[i] : &entries[i])

static int encode_any(const struct tree_entry *entries, const struct tree_entry *const *ptrs,
                      size_t n, uint8_t **out, size_t *out_len)
{
    struct obuf b = { 0 };
    size_t total = 6 + uvarint_len(n);
    size_t *blen = malloc((n ? n : 1) * sizeof *blen);   /* each body's length, from the count */
    *out = NULL;
    *out_len = 0;
    if (!blen) return -ENOMEM;
    for (size_t i = 0; i < n; i++) {   /* validate and count */
        const struct tree_entry *e = ENT(i);
        int f = entry_fields(e);
        if (f < 0) { free(blen); return -EINVAL; }
        if (i) {
            const struct tree_entry *p = ENT(i - 1);
            if (cmp_bytes(p->name, strlen(p->name), e->name, strlen(e->name)) >= 0) {
                free(blen);
                return -EINVAL;
            }
        }
        struct obuf cnt = { .count = 1 };
        encode_entry_body(&cnt, e, (unsigned)f);
        if (cnt.len > SIZE_MAX / 4 - total) { free(blen); return -ENOMEM; }
        blen[i] = cnt.len;
        total += uvarint_len(cnt.len) + cnt.len;
    }
    if (!(b.p = malloc(total))) { free(blen); return -ENOMEM; }
    b.cap = total;
    ob_put(&b, TREE_MAGIC, 4);
    ob_u8(&b, TREE_FORMAT_VERSION);
    ob_u8(&b, 0);
    ob_uv(&b, n);
    for (size_t i = 0; i < n; i++) {
        const struct tree_entry *e = ENT(i);
        ob_uv(&b, blen[i]);
        encode_entry_body(&b, e, (unsigned)entry_fields(e));
    }
    free(blen);
    if (b.over || b.len != total) {   /* the two passes disagree: a bug, never written out */
        free(b.p);
        return -EINVAL;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}
#undef ENT

int tree_encode(const struct tree_entry *entries, size_t n, uint8_t **out, size_t *out_len)
{
    return encode_any(entries, NULL, n, out, out_len);
}

int tree_encode_ptrs(const struct tree_entry *const *entries, size_t n, uint8_t **out,
                     size_t *out_len)
{
    return encode_any(NULL, entries, n, out, out_len);
}

/* ---------- decoder ---------- */

/* The decoded strings, chunk arrays and xattrs of one tree live in an arena owned by the struct
 * tree: blocks handed out by bumping a pointer, all freed at once by tree_free. One tree costs a
 * handful of mallocs instead of four or more per entry, and no malloc header or rounding per
 * string (a directory of 10,000 files decodes into about 2.5 MB instead of 3.5 MB). */
struct tree_arena {
    struct tree_arena *next;
    size_t used, cap;
    _Alignas(max_align_t) uint8_t data[];
};

#define TREE_ARENA_MIN 1024u
#define TREE_ARENA_MAX (1u << 20)

/* block_hint: the first block's size; later ones are an eighth of it (less left over). */
static void *arena_alloc(struct tree *t, size_t n, size_t block_hint)
{
    struct tree_arena *a = t->arena;
    n = (n + 7u) & ~(size_t)7u;   /* every piece 8-aligned (chunk arrays need it) */
    if (!a || a->cap - a->used < n) {
        size_t cap = a ? block_hint / 8 : block_hint;
        if (cap < TREE_ARENA_MIN) cap = TREE_ARENA_MIN;
        if (cap > TREE_ARENA_MAX) cap = TREE_ARENA_MAX;
        if (cap < n) cap = n;
        if (!(a = malloc(sizeof *a + cap))) return NULL;
        a->used = 0;
        a->cap = cap;
        a->next = t->arena;
        t->arena = a;
    }
    void *p = a->data + a->used;
    a->used += n;
    return p;
}

struct cur { const uint8_t *p; size_t left; int bad; struct tree *t; size_t hint; };

static uint64_t cur_uv(struct cur *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0, i = 0; i < 10; i++, shift += 7) {
        if (c->left == 0) { c->bad = 1; return 0; }
        uint8_t byte = *c->p++;
        c->left--;
        if (i == 9 && byte > 1) { c->bad = 1; return 0; }        /* beyond 64 bits */
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            if (byte == 0 && i > 0) { c->bad = 1; return 0; }    /* overlong form */
            return v;
        }
    }
    c->bad = 1;
    return 0;
}

static int64_t cur_sv(struct cur *c)
{
    uint64_t u = cur_uv(c);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static const uint8_t *cur_take(struct cur *c, size_t n)
{
    const uint8_t *p = c->p;
    if (c->bad || n > c->left) { c->bad = 1; return NULL; }
    c->p += n;
    c->left -= n;
    return p;
}

/* A length-prefixed string without NUL bytes, 1..max bytes, as a new C string. */
static char *cur_str(struct cur *c, size_t max, size_t *len_out)
{
    uint64_t len = cur_uv(c);
    const uint8_t *p;
    char *s;
    if (c->bad || len == 0 || len > max) { c->bad = 1; return NULL; }
    p = cur_take(c, (size_t)len);
    if (!p || memchr(p, '\0', (size_t)len)) { c->bad = 1; return NULL; }
    s = arena_alloc(c->t, (size_t)len + 1, c->hint);
    if (!s) { c->bad = 2; return NULL; }
    memcpy(s, p, (size_t)len);
    s[len] = '\0';
    if (len_out) *len_out = (size_t)len;
    return s;
}

/* A user or group name equal to the previous entry's shares its bytes (both live in the arena). */
static void share_str(char **s, const char *prev)
{
    if (*s && prev && strcmp(*s, prev) == 0) *s = (char *)prev;
}

static int decode_entry(struct cur *c, struct tree_entry *e, const struct tree_entry *prev)
{
    uint64_t v, f;
    size_t name_len = 0;
    e->name = cur_str(c, TREE_NAME_MAX, &name_len);
    if (!e->name) return c->bad == 2 ? -ENOMEM : -EBADMSG;
    if (!tree_name_valid(e->name, name_len)) return -EBADMSG;
    const uint8_t *t = cur_take(c, 1);
    if (!t || *t < TREE_FILE || *t > TREE_BLOCKDEV) return -EBADMSG;
    e->type = (enum tree_type)*t;
    f = cur_uv(c);
    if (f & ~(uint64_t)F_KNOWN) return -EBADMSG;
    v = cur_uv(c);
    if (v > 07777) return -EBADMSG;
    e->mode = (uint32_t)v;
    v = cur_uv(c);
    if (v > UINT32_MAX) return -EBADMSG;
    e->uid = (uint32_t)v;
    v = cur_uv(c);
    if (v > UINT32_MAX) return -EBADMSG;
    e->gid = (uint32_t)v;
    e->mtime_ns = cur_sv(c);
    e->ctime_ns = cur_sv(c);
    e->atime_ns = cur_sv(c);
    e->size = cur_uv(c);
    e->dev = cur_uv(c);
    e->ino = cur_uv(c);
    e->nlink = cur_uv(c);
    if (c->bad) return -EBADMSG;
    if (f & F_RDEV) {
        e->rdev = cur_uv(c);
        if (e->rdev == 0) return -EBADMSG;
    }
    if ((f & F_USER) && !(e->user = cur_str(c, TREE_STR_MAX, NULL))) goto str_fail;
    if ((f & F_GROUP) && !(e->group = cur_str(c, TREE_STR_MAX, NULL))) goto str_fail;
    if (prev) {
        share_str(&e->user, prev->user);
        share_str(&e->group, prev->group);
    }
    if (f & F_SUBTREE) {
        const uint8_t *p = cur_take(c, REPO_ID_LEN);
        if (!p) return -EBADMSG;
        memcpy(e->subtree.b, p, REPO_ID_LEN);
        e->has_subtree = 1;
    }
    if ((f & F_SYMLINK) && !(e->symlink_target = cur_str(c, TREE_STR_MAX, NULL))) goto str_fail;
    if ((f & F_HARDLINK) && !(e->hardlink = cur_str(c, TREE_STR_MAX, NULL))) goto str_fail;
    if (f & F_CHUNKS) {
        uint64_t n = cur_uv(c), end = 0;
        if (c->bad || n == 0 || n > c->left / TREE_CHUNK_MIN_BYTES) return -EBADMSG;
        e->chunks = arena_alloc(c->t, (size_t)n * sizeof *e->chunks, c->hint);
        if (!e->chunks) return -ENOMEM;
        for (uint64_t i = 0; i < n; i++) {
            struct tree_chunk *ch = &e->chunks[i];
            uint64_t gap = cur_uv(c), len = cur_uv(c);
            const uint8_t *p = cur_take(c, REPO_ID_LEN);
            if (!p || len == 0 || len > TREE_CHUNK_LEN_MAX) return -EBADMSG;
            if (gap > UINT64_MAX - end || end + gap > UINT64_MAX - len) return -EBADMSG;
            ch->offset = end + gap;
            ch->len = (uint32_t)len;
            memcpy(ch->id.b, p, REPO_ID_LEN);
            end = ch->offset + len;
            e->n_chunks = (size_t)i + 1;
        }
    }
    if (f & F_XATTRS) {
        uint64_t n = cur_uv(c);
        if (c->bad || n == 0 || n > c->left / 2) return -EBADMSG;
        e->xattrs = arena_alloc(c->t, (size_t)n * sizeof *e->xattrs, c->hint);
        if (!e->xattrs) return -ENOMEM;
        memset(e->xattrs, 0, (size_t)n * sizeof *e->xattrs);
        e->n_xattrs = (size_t)n;
        for (size_t i = 0; i < e->n_xattrs; i++) {
            struct tree_xattr *x = &e->xattrs[i];
            if (!(x->name = cur_str(c, TREE_NAME_MAX, NULL))) goto str_fail;
            uint64_t len = cur_uv(c);
            if (c->bad || len > TREE_XATTR_VALUE_MAX) return -EBADMSG;
            const uint8_t *p = cur_take(c, (size_t)len);
            if (!p) return -EBADMSG;
            if (len) {
                if (!(x->value = arena_alloc(c->t, (size_t)len, c->hint))) return -ENOMEM;
                memcpy(x->value, p, (size_t)len);
            }
            x->len = (size_t)len;
        }
    }
    if (c->bad) return -EBADMSG;
    /* Semantic checks (also ensure the encoding is the canonical one). */
    if (entry_fields(e) != (int)f) return -EBADMSG;
    return 0;
str_fail:
    return c->bad == 2 ? -ENOMEM : -EBADMSG;
}

int tree_decode(const void *data, size_t len, struct tree **out)
{
    struct cur c = { data, len, 0, NULL, 0 };
    struct tree *t;
    const uint8_t *hdr = cur_take(&c, 6);
    uint64_t n;
    int rc = 0;
    *out = NULL;
    if (!hdr || memcmp(hdr, TREE_MAGIC, 4) != 0 || hdr[4] != TREE_FORMAT_VERSION || hdr[5] != 0)
        return -EBADMSG;
    n = cur_uv(&c);
    if (c.bad || n > c.left / TREE_ENTRY_MIN_BYTES) return -EBADMSG;
    if (!(t = calloc(1, sizeof *t))) return -ENOMEM;
    if (n && !(t->entries = calloc((size_t)n, sizeof *t->entries))) { free(t); return -ENOMEM; }
    /* arena blocks: most trees fit in one (strings take at most the blob's bytes, chunks ~1.4x) */
    size_t hint = len / 2 + len / 4;
    for (size_t i = 0; i < n; i++) {
        uint64_t blen = cur_uv(&c);
        const uint8_t *body;
        if (c.bad || blen > c.left || !(body = cur_take(&c, (size_t)blen))) { rc = -EBADMSG; break; }
        struct cur ec = { body, (size_t)blen, 0, t, hint };
        t->n = i + 1;
        rc = decode_entry(&ec, &t->entries[i], i ? &t->entries[i - 1] : NULL);
        if (rc == 0 && ec.left != 0) rc = -EBADMSG;
        if (rc == 0 && i && strcmp(t->entries[i - 1].name, t->entries[i].name) >= 0) rc = -EBADMSG;
        if (rc) break;
    }
    if (rc == 0 && c.left != 0) rc = -EBADMSG;
    if (rc) { tree_free(t); return rc; }
    *out = t;
    return 0;
}

void tree_free(struct tree *t)
{
    if (!t) return;
    if (t->arena) {   /* decoded: the entries' pointers are all in the arena */
        for (struct tree_arena *a = t->arena, *next; a; a = next) {
            next = a->next;
            free(a);
        }
    } else {
        for (size_t i = 0; i < t->n; i++) tree_entry_release(&t->entries[i]);
    }
    free(t->entries);
    free(t);
}

const struct tree_entry *tree_find(const struct tree *t, const char *name)
{
    size_t lo = 0, hi = t ? t->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, t->entries[mid].name);
        if (c == 0) return &t->entries[mid];
        if (c < 0) hi = mid; else lo = mid + 1;
    }
    return NULL;
}

/* ---------- entry helpers ---------- */

void tree_entry_release(struct tree_entry *e)
{
    if (!e) return;
    free(e->name);
    free(e->user);
    free(e->group);
    free(e->symlink_target);
    free(e->hardlink);
    free(e->chunks);
    for (size_t i = 0; i < e->n_xattrs && e->xattrs; i++) {
        free(e->xattrs[i].name);
        free(e->xattrs[i].value);
    }
    free(e->xattrs);
    memset(e, 0, sizeof *e);
}

static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (!src) return 0;
    return (*dst = strdup(src)) ? 0 : -ENOMEM;
}

int tree_entry_copy(struct tree_entry *dst, const struct tree_entry *src)
{
    *dst = *src;
    dst->name = dst->user = dst->group = dst->symlink_target = dst->hardlink = NULL;
    dst->chunks = NULL;
    dst->xattrs = NULL;
    dst->n_chunks = dst->n_xattrs = 0;
    if (dup_str(&dst->name, src->name) || dup_str(&dst->user, src->user) ||
        dup_str(&dst->group, src->group) || dup_str(&dst->symlink_target, src->symlink_target) ||
        dup_str(&dst->hardlink, src->hardlink))
        goto oom;
    if (src->n_chunks) {
        if (!(dst->chunks = malloc(src->n_chunks * sizeof *dst->chunks))) goto oom;
        memcpy(dst->chunks, src->chunks, src->n_chunks * sizeof *dst->chunks);
        dst->n_chunks = src->n_chunks;
    }
    if (src->n_xattrs) {
        if (!(dst->xattrs = calloc(src->n_xattrs, sizeof *dst->xattrs))) goto oom;
        dst->n_xattrs = src->n_xattrs;
        for (size_t i = 0; i < src->n_xattrs; i++) {
            if (dup_str(&dst->xattrs[i].name, src->xattrs[i].name)) goto oom;
            if (src->xattrs[i].len) {
                if (!(dst->xattrs[i].value = malloc(src->xattrs[i].len))) goto oom;
                memcpy(dst->xattrs[i].value, src->xattrs[i].value, src->xattrs[i].len);
            }
            dst->xattrs[i].len = src->xattrs[i].len;
        }
    }
    return 0;
oom:
    tree_entry_release(dst);
    return -ENOMEM;
}

int tree_entry_cmp_name(const void *a, const void *b)
{
    const struct tree_entry *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

int tree_entries_equal(const struct tree_entry *a, const struct tree_entry *b)
{
    if (!str_eq(a->name, b->name) || a->type != b->type || a->mode != b->mode ||
        a->uid != b->uid || a->gid != b->gid || !str_eq(a->user, b->user) ||
        !str_eq(a->group, b->group) || a->mtime_ns != b->mtime_ns || a->ctime_ns != b->ctime_ns ||
        a->atime_ns != b->atime_ns || a->size != b->size || a->dev != b->dev || a->ino != b->ino ||
        a->nlink != b->nlink || a->rdev != b->rdev || a->has_subtree != b->has_subtree ||
        (a->has_subtree && memcmp(&a->subtree, &b->subtree, sizeof a->subtree) != 0) ||
        !str_eq(a->symlink_target, b->symlink_target) || !str_eq(a->hardlink, b->hardlink) ||
        a->n_chunks != b->n_chunks || a->n_xattrs != b->n_xattrs)
        return 0;
    for (size_t i = 0; i < a->n_chunks; i++)
        if (a->chunks[i].offset != b->chunks[i].offset || a->chunks[i].len != b->chunks[i].len ||
            memcmp(&a->chunks[i].id, &b->chunks[i].id, sizeof(repo_id_t)) != 0)
            return 0;
    for (size_t i = 0; i < a->n_xattrs; i++)
        if (!str_eq(a->xattrs[i].name, b->xattrs[i].name) || a->xattrs[i].len != b->xattrs[i].len ||
            (a->xattrs[i].len && memcmp(a->xattrs[i].value, b->xattrs[i].value, a->xattrs[i].len)))
            return 0;
    return 1;
}
