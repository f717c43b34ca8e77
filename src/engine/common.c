/* common.c: small helpers shared by backup, restore and the snapshot readers: path buffers and
 * normalisation, tree loading, walking a snapshot path to its entry, error reporting. */
#include "engine/eng_internal.h"
#include "util/time.h"
#include "engine/engine.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

int eng_path_set(struct eng_path *b, const char *s)
{
    b->len = 0;
    if (!b->p || b->cap == 0) {
        b->cap = 256;
        if (!(b->p = malloc(b->cap))) return -ENOMEM;
    }
    b->p[0] = '\0';
    size_t n = strlen(s);
    if (n + 1 > b->cap) {
        char *np = realloc(b->p, n + 1);
        if (!np) return -ENOMEM;
        b->p = np;
        b->cap = n + 1;
    }
    memcpy(b->p, s, n + 1);
    b->len = n;
    return 0;
}

int eng_path_push(struct eng_path *b, const char *name)
{
    size_t n = strlen(name);
    int need_slash = !(b->len > 0 && b->p[b->len - 1] == '/');
    size_t want = b->len + (size_t)need_slash + n + 1;
    if (want > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < want) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return -ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    if (need_slash) b->p[b->len++] = '/';
    memcpy(b->p + b->len, name, n + 1);
    b->len += n;
    return 0;
}

void eng_path_pop(struct eng_path *b, size_t len)
{
    if (b->p && len <= b->len) {
        b->len = len;
        b->p[len] = '\0';
    }
}

void eng_path_free(struct eng_path *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void eng_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0) return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int eng_path_normalize(const char *in, char **out)
{
    size_t n = in ? strlen(in) : 0, o = 0;
    char *p;
    *out = NULL;
    if (n == 0 || in[0] != '/') return -EINVAL;
    if (!(p = malloc(n + 1))) return -ENOMEM;
    for (size_t i = 0; i < n;) {
        while (i < n && in[i] == '/') i++;
        if (i >= n) break;
        size_t s = i;
        while (i < n && in[i] != '/') i++;
        size_t cl = i - s;
        if ((cl == 1 && in[s] == '.') || (cl == 2 && in[s] == '.' && in[s + 1] == '.')) {
            free(p);
            return -EINVAL;
        }
        p[o++] = '/';
        memcpy(p + o, in + s, cl);
        o += cl;
    }
    if (o == 0) p[o++] = '/';
    p[o] = '\0';
    *out = p;
    return 0;
}

const char *eng_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int eng_tree_load(struct repo *repo, const repo_id_t *id, struct tree **out)
{
    void *data = NULL;
    size_t len = 0;
    int rc = repo_blob_get(repo, id, &data, &len);
    *out = NULL;
    rc = eng_read_rc(rc); /* unknown, damaged, pack missing: all damage */
    if (rc) return rc;
    rc = tree_decode(data, len, out);
    free(data);
    if (rc && rc != -ENOMEM) {
        char hex[REPO_ID_HEX_LEN + 1];
        repo_id_to_hex(id, hex);
        repo_damage_setf("tree blob %.16s does not decode", hex);
        rc = -EBADMSG;
    }
    return rc;
}

int eng_chunk_get(struct repo *repo, const struct tree_chunk *c, void **data, size_t *len)
{
    int rc = repo_blob_get_fast(repo, &c->id, data, len); /* authenticated, not hashed again */
    rc = eng_read_rc(rc); /* the sentence names the blob (and its pack) */
    if (rc == 0 && *len != c->len) {
        char hex[REPO_ID_HEX_LEN + 1];
        repo_id_to_hex(&c->id, hex);
        repo_damage_setf("blob %.16s holds %zu bytes, its tree says %u", hex, *len, c->len);
        free(*data);
        *data = NULL;
        rc = -EBADMSG;
    }
    return rc;
}

int eng_chunk_get_into(struct repo *repo, const struct tree_chunk *c, void *dst)
{
    void *data = NULL;
    size_t len = 0;
    int rc = repo_blob_get_fast_into(repo, &c->id, dst, c->len);
    if (rc != -EMSGSIZE) return eng_read_rc(rc);
    /* not the length the tree says, or not announced: the ordinary read says which */
    rc = eng_chunk_get(repo, c, &data, &len);
    if (rc == 0 && len) memcpy(dst, data, len);
    free(data);
    return rc;
}

const char *eng_damage_text(int rc, char *buf, size_t len)
{
    const char *note = repo_damage_last();
    if (rc == -EBADMSG)
        snprintf(buf, len, "repository damage: %s", note[0] ? note : "data does not match its snapshot");
    else
        snprintf(buf, len, "cannot read from the repository: %s", strerror(-rc));
    return buf;
}

int eng_resolve(struct repo *repo, const repo_id_t *root, const char *path, struct tree_entry *out)
{
    struct tree_entry cur = { 0 };
    const char *p = path;
    int rc;
    memset(out, 0, sizeof *out);
    if (!path || path[0] != '/') return -EINVAL;
    cur.type = TREE_DIR;
    cur.has_subtree = 1;
    cur.subtree = *root;
    cur.mode = 0755;
    if (!(cur.name = strdup("/"))) return -ENOMEM;
    for (;;) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *end = strchr(p, '/');
        size_t cl = end ? (size_t)(end - p) : strlen(p);
        char name[TREE_NAME_MAX + 1];
        struct tree *t = NULL;
        if (cl > TREE_NAME_MAX) { rc = -ENOENT; goto fail; }
        if (cur.type != TREE_DIR) { rc = -ENOTDIR; goto fail; }
        memcpy(name, p, cl);
        name[cl] = '\0';
        if ((rc = eng_tree_load(repo, &cur.subtree, &t)) != 0) goto fail;
        const struct tree_entry *e = tree_find(t, name);
        if (!e) { tree_free(t); rc = -ENOENT; goto fail; }
        tree_entry_release(&cur);
        rc = tree_entry_copy(&cur, e);
        tree_free(t);
        if (rc) return rc;
        p += cl;
    }
    *out = cur;
    return 0;
fail:
    tree_entry_release(&cur);
    return rc;
}

void eng_problem(json_t *arr, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (!arr) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:o, s:o}", "path", eng_json_path(path ? path : ""), "message",
                          eng_json_path(msg));
    if (o) json_array_append_new(arr, o);
}

uint64_t eng_now_usecs(void) { return (uint64_t)util_time_real(); }

uint64_t eng_mono_msecs(void) { return (uint64_t)(util_time_mono() / 1000); }

int eng_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 64) n = 64;
    return (int)n;
}

int eng_snapshot_root(struct repo *repo, const char *snapshot_id, repo_id_t *root)
{
    json_t *doc = NULL;
    int rc;
    if (!snapshot_id) return -EINVAL;
    repo_damage_clear(); /* every read of a snapshot starts here: no stale sentence */
    rc = repo_snapshot_read(repo, snapshot_id, &doc);
    if (rc == -ENOENT) rc = -EBADMSG; /* callers name snapshots the catalog knows: its file is lost */
    if (rc) return rc;
    const char *hex = json_string_value(json_object_get(doc, "tree"));
    rc = hex ? repo_id_from_hex(hex, root) : -EBADMSG;
    if (rc) {
        repo_damage_setf("snapshot %.64s names no valid root tree", snapshot_id);
        rc = -EBADMSG;
    }
    json_decref(doc);
    return rc;
}

struct eng_smap_node { char *key; void *val; struct eng_smap_node *next; };

static size_t smap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return (size_t)h;
}

void *eng_smap_get(const struct eng_smap *m, const char *key)
{
    if (!m->nb) return NULL;
    for (struct eng_smap_node *n = m->b[smap_hash(key) % m->nb]; n; n = n->next)
        if (strcmp(n->key, key) == 0) return n->val;
    return NULL;
}

int eng_smap_put(struct eng_smap *m, const char *key, void *val)
{
    if (m->nb) {
        for (struct eng_smap_node *n = m->b[smap_hash(key) % m->nb]; n; n = n->next)
            if (strcmp(n->key, key) == 0) { n->val = val; return 0; }
    }
    if (m->n >= m->nb) {
        size_t nb = m->nb ? m->nb * 4 : 64;
        struct eng_smap_node **nbk = calloc(nb, sizeof *nbk);
        if (!nbk) return -ENOMEM;
        for (size_t i = 0; i < m->nb; i++)
            for (struct eng_smap_node *n = m->b[i], *next; n; n = next) {
                next = n->next;
                size_t h = smap_hash(n->key) % nb;
                n->next = nbk[h];
                nbk[h] = n;
            }
        free(m->b);
        m->b = nbk;
        m->nb = nb;
    }
    struct eng_smap_node *n = malloc(sizeof *n);
    if (!n || !(n->key = strdup(key))) { free(n); return -ENOMEM; }
    size_t h = smap_hash(key) % m->nb;
    n->val = val;
    n->next = m->b[h];
    m->b[h] = n;
    m->n++;
    return 0;
}

void eng_smap_each(const struct eng_smap *m, void (*fn)(void *ctx, void *val), void *ctx)
{
    for (size_t i = 0; i < m->nb; i++)
        for (struct eng_smap_node *n = m->b[i]; n; n = n->next) fn(ctx, n->val);
}

void eng_smap_free(struct eng_smap *m, void (*free_val)(void *))
{
    for (size_t i = 0; i < m->nb; i++)
        for (struct eng_smap_node *n = m->b[i], *next; n; n = next) {
            next = n->next;
            if (free_val) free_val(n->val);
            free(n->key);
            free(n);
        }
    free(m->b);
    memset(m, 0, sizeof *m);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; min = 0x10000; }
    else return 0;
    unsigned cp = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

json_t *eng_json_path(const char *path)
{
    json_t *j = json_string(path);
    if (j) return j;
    size_t len = strlen(path);
    char *out = malloc(len * 3 + 1), *o = out;
    if (!out) return NULL;
    for (const unsigned char *s = (const unsigned char *)path; *s;) {
        size_t n = utf8_seq(s);
        if (n) {
            memcpy(o, s, n);
            o += n;
            s += n;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            s++;
        }
    }
    *o = '\0';
    j = json_string(out);
    free(out);
    return j;
}

int eng_write_text_owned(const char *path, const char *text, int oflags, uid_t uid, gid_t gid)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | oflags, 0600), rc = 0;
    size_t len = strlen(text);
    if (fd < 0) return -errno;
    if (write(fd, text, len) != (ssize_t)len) rc = errno ? -errno : -EIO;
    if (!rc && fchown(fd, uid, gid) != 0) rc = -errno;
    if (close(fd) != 0 && !rc) rc = -errno;
    return rc;
}
