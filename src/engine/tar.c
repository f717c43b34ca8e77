/* tar.c: a POSIX pax archive (ustar headers plus 'x' extended headers) of snapshot paths, streamed
 * to a file descriptor for downloads.
 *
 * Each member is a 512-byte ustar header, preceded by a pax extended header when something does
 * not fit ustar: a name or link target of 100 bytes or more, a size of 8 GiB or more, ids above
 * 07777777, long owner names, sub-second mtimes, xattrs (SCHILY.xattr.*). Data follows in 512-byte
 * blocks; the archive ends with two zero blocks. Member names follow the restore layout (a
 * requested path P becomes <basename P>/...; "/" becomes the root's content). A file whose chunks
 * cannot be read is padded with zeros to the size its header announced, so the archive stays
 * readable, and is named in errors. Hardlinks become type '1' members pointing at the first link
 * when it is in the archive; sockets have no tar form and are left out. */
#include "engine/engine.h"
#include "engine/eng_internal.h"
#include "util/fsio.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#define TW_BUF (256u << 10)

struct tw {
    struct repo *repo;
    repo_id_t root;
    int fd;
    uint8_t *buf;
    size_t len;
    int werr;                 /* write error on fd: stops everything */
    json_t *errors;
    struct eng_smap links;    /* first links written: snapshot path -> archive name (owned) */
    uint64_t member_left;     /* data bytes still owed to the current member */
};

static int tw_flush(struct tw *t)
{
    if (t->werr) return t->werr;
    if (t->len && (t->werr = fsio_write_full(t->fd, t->buf, t->len)) != 0) return t->werr;
    t->len = 0;
    return 0;
}

static int tw_put(struct tw *t, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        if (t->len == TW_BUF && tw_flush(t) != 0) return t->werr;
        size_t k = TW_BUF - t->len < len ? TW_BUF - t->len : len;
        memcpy(t->buf + t->len, p, k);
        t->len += k;
        p += k;
        len -= k;
    }
    return t->werr;
}

static int tw_zeros(struct tw *t, uint64_t n)
{
    static const uint8_t z[4096];
    while (n > 0) {
        size_t k = n < sizeof z ? (size_t)n : sizeof z;
        if (tw_put(t, z, k) != 0) return t->werr;
        n -= k;
    }
    return 0;
}

static int tw_pad(struct tw *t, uint64_t size)
{
    return tw_zeros(t, (512 - size % 512) % 512);
}

/* Octal field of width w (w-1 digits and a NUL); 0 if it does not fit (the pax header holds it). */
static int oct(char *dst, size_t w, uint64_t v)
{
    char tmp[32];
    uint64_t max = (w - 1) * 3 >= 64 ? UINT64_MAX : ((uint64_t)1 << ((w - 1) * 3)) - 1;
    int fits = v <= max;
    snprintf(tmp, sizeof tmp, "%0*" PRIo64, (int)(w - 1), fits ? v : 0);
    memcpy(dst, tmp, w - 1);
    dst[w - 1] = '\0';
    return fits;
}

/* Appends one "len key=value\n" record (len counts the whole record, itself included). */
static int pax_rec(char **buf, size_t *len, size_t *cap, const char *key, const void *val, size_t vlen)
{
    size_t body = strlen(key) + vlen + 3, total = body + 1;
    char digits[24];
    for (;;) {
        int d = snprintf(digits, sizeof digits, "%zu", total);
        if (body + (size_t)d == total) break;
        total = body + (size_t)d;
    }
    if (*len + total > *cap) {
        size_t nc = (*cap ? *cap : 512);
        while (nc < *len + total) nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb) return -ENOMEM;
        *buf = nb;
        *cap = nc;
    }
    char *p = *buf + *len;
    size_t dl = strlen(digits), kl = strlen(key);
    memcpy(p, digits, dl);
    p[dl] = ' ';
    memcpy(p + dl + 1, key, kl);
    p[dl + 1 + kl] = '=';
    memcpy(p + dl + 2 + kl, val, vlen);
    p[total - 1] = '\n';
    *len += total;
    return 0;
}

static void tw_checksum(uint8_t h[512])
{
    unsigned sum = 0;
    memset(h + 148, ' ', 8);
    for (int i = 0; i < 512; i++) sum += h[i];
    char tmp[16];
    snprintf(tmp, sizeof tmp, "%06o", sum & 0777777);
    memcpy(h + 148, tmp, 6);
    h[154] = '\0';
    h[155] = ' ';
}

static void tw_fill_header(uint8_t h[512], const char *name, char type, uint32_t mode, uint32_t uid,
                           uint32_t gid, uint64_t size, int64_t mtime, const char *link,
                           const char *uname, const char *gname, uint64_t rdev)
{
    memset(h, 0, 512);
    size_t nl = strlen(name);
    memcpy(h, name, nl < 100 ? nl : 99);
    oct((char *)h + 100, 8, mode & 07777);
    oct((char *)h + 108, 8, uid);
    oct((char *)h + 116, 8, gid);
    oct((char *)h + 124, 12, size);
    oct((char *)h + 136, 12, mtime < 0 ? 0 : (uint64_t)mtime);
    h[156] = (uint8_t)type;
    if (link) {
        size_t ll = strlen(link);
        memcpy(h + 157, link, ll < 100 ? ll : 99);
    }
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    if (uname && strlen(uname) < 32) memcpy(h + 265, uname, strlen(uname));
    if (gname && strlen(gname) < 32) memcpy(h + 297, gname, strlen(gname));
    if (type == '3' || type == '4') {
        oct((char *)h + 329, 8, major((dev_t)rdev));
        oct((char *)h + 337, 8, minor((dev_t)rdev));
    }
    tw_checksum(h);
}

/* Writes the (pax +) ustar header of one member. */
static int tw_header(struct tw *t, const char *aname, const struct tree_entry *e, char type,
                     uint64_t size, const char *link)
{
    char *pax = NULL;
    size_t plen = 0, pcap = 0;
    char num[64];
    int rc = 0;
    if (strlen(aname) >= 100) rc = pax_rec(&pax, &plen, &pcap, "path", aname, strlen(aname));
    if (!rc && link && strlen(link) >= 100) rc = pax_rec(&pax, &plen, &pcap, "linkpath", link, strlen(link));
    if (!rc && size > 077777777777ull) {
        snprintf(num, sizeof num, "%" PRIu64, size);
        rc = pax_rec(&pax, &plen, &pcap, "size", num, strlen(num));
    }
    if (!rc && e->uid > 07777777) {
        snprintf(num, sizeof num, "%" PRIu32, e->uid);
        rc = pax_rec(&pax, &plen, &pcap, "uid", num, strlen(num));
    }
    if (!rc && e->gid > 07777777) {
        snprintf(num, sizeof num, "%" PRIu32, e->gid);
        rc = pax_rec(&pax, &plen, &pcap, "gid", num, strlen(num));
    }
    if (!rc && e->user && strlen(e->user) >= 32) rc = pax_rec(&pax, &plen, &pcap, "uname", e->user, strlen(e->user));
    if (!rc && e->group && strlen(e->group) >= 32) rc = pax_rec(&pax, &plen, &pcap, "gname", e->group, strlen(e->group));
    int64_t sec = e->mtime_ns / 1000000000, nsec = e->mtime_ns % 1000000000;
    if (nsec < 0) { nsec += 1000000000; sec--; }
    if (!rc && (nsec != 0 || sec < 0 || (uint64_t)sec > 077777777777ull)) {
        if (sec < 0 && nsec) snprintf(num, sizeof num, "-%" PRId64 ".%09" PRId64, -(sec + 1), 1000000000 - nsec);
        else snprintf(num, sizeof num, "%" PRId64 ".%09" PRId64, sec, nsec);
        rc = pax_rec(&pax, &plen, &pcap, "mtime", num, strlen(num));
    }
    for (size_t i = 0; !rc && i < e->n_xattrs; i++) {
        char key[TREE_NAME_MAX + 16];
        snprintf(key, sizeof key, "SCHILY.xattr.%s", e->xattrs[i].name);
        rc = pax_rec(&pax, &plen, &pcap, key, e->xattrs[i].value ? (const void *)e->xattrs[i].value : "",
                     e->xattrs[i].len);
    }
    if (rc) { free(pax); return rc; }
    uint8_t h[512];
    if (plen) {
        char pname[100];
        snprintf(pname, sizeof pname, "PaxHeaders/%.80s", eng_basename(aname));
        tw_fill_header(h, pname, 'x', 0644, 0, 0, plen, sec < 0 ? 0 : sec, NULL, NULL, NULL, 0);
        if (tw_put(t, h, 512) || tw_put(t, pax, plen) || tw_pad(t, plen)) { free(pax); return t->werr; }
    }
    free(pax);
    tw_fill_header(h, aname, type, e->mode, e->uid, e->gid, size, sec, link, e->user, e->group, e->rdev);
    return tw_put(t, h, 512);
}

static int tw_sink(void *ctx, const void *buf, size_t len)
{
    struct tw *t = ctx;
    if (len > t->member_left) len = (size_t)t->member_left;
    t->member_left -= len;
    return tw_put(t, buf, len);
}

static const char *tw_link_find(struct tw *t, const char *spath)
{
    return eng_smap_get(&t->links, spath);
}

static int tw_link_add(struct tw *t, const char *spath, const char *aname)
{
    char *a = strdup(aname);
    char *old = eng_smap_get(&t->links, spath);
    if (!a || eng_smap_put(&t->links, spath, a) != 0) {
        free(a);
        return -ENOMEM;
    }
    free(old);
    return 0;
}

/* One regular file member: header, content (zeros where unreadable), padding. */
static int tw_file(struct tw *t, const char *aname, const char *spath, const struct tree_entry *meta,
                   const struct tree_entry *content)
{
    int rc = tw_header(t, aname, meta, '0', content->size, NULL);
    if (rc) return rc;
    t->member_left = content->size;
    rc = eng_stream_entry(t->repo, content, 0, content->size, tw_sink, t);
    if (t->werr) return t->werr;
    if (rc) {
        char why[480];
        eng_problem(t->errors, spath, "data unreadable, zeros written instead: %s",
                    eng_damage_text(rc, why, sizeof why));
    }
    if (tw_zeros(t, t->member_left) != 0) return t->werr;
    return tw_pad(t, content->size);
}

static int tw_entry(struct tw *t, struct eng_path *an, struct eng_path *sp, const struct tree_entry *e);

static int tw_dir_content(struct tw *t, struct eng_path *an, struct eng_path *sp, const repo_id_t *id)
{
    struct tree *tr = NULL;
    size_t abase = an->len, sbase = sp->len;
    int rc = eng_tree_load(t->repo, id, &tr);
    if (rc) {
        char why[480];
        eng_problem(t->errors, sp->p, "directory listing unreadable: %s",
                    eng_damage_text(rc, why, sizeof why));
        return 0;
    }
    for (size_t i = 0; i < tr->n && !rc; i++) {
        const struct tree_entry *e = &tr->entries[i];
        if (an->len == 0) rc = eng_path_set(an, e->name);
        else rc = eng_path_push(an, e->name);
        if (!rc) rc = eng_path_push(sp, e->name);
        if (!rc) rc = tw_entry(t, an, sp, e);
        eng_path_pop(an, abase);
        eng_path_pop(sp, sbase);
    }
    tree_free(tr);
    return rc;
}

static int tw_entry(struct tw *t, struct eng_path *an, struct eng_path *sp, const struct tree_entry *e)
{
    int rc;
    switch (e->type) {
    case TREE_DIR: {
        size_t base = an->len;
        if ((rc = eng_path_push(an, "")) != 0) return rc;   /* "name/" */
        rc = tw_header(t, an->p, e, '5', 0, NULL);
        eng_path_pop(an, base);
        if (rc) return rc;
        return tw_dir_content(t, an, sp, &e->subtree);
    }
    case TREE_FILE:
        if (e->hardlink) {
            const char *first = tw_link_find(t, e->hardlink);
            if (first) return tw_header(t, an->p, e, '1', 0, first);
            struct tree_entry fe;
            rc = eng_resolve(t->repo, &t->root, e->hardlink, &fe);
            if (rc || fe.type != TREE_FILE || fe.hardlink) {
                char why[480];
                if (!rc) tree_entry_release(&fe);
                if (rc == -EBADMSG)
                    eng_problem(t->errors, sp->p, "hardlink target unreadable: %s",
                                eng_damage_text(rc, why, sizeof why));
                else
                    eng_problem(t->errors, sp->p, "hardlink target missing from the snapshot");
                return 0;
            }
            rc = tw_link_add(t, e->hardlink, an->p);
            if (!rc) rc = tw_file(t, an->p, sp->p, e, &fe);
            tree_entry_release(&fe);
            return rc;
        }
        if (e->nlink > 1 && (rc = tw_link_add(t, sp->p, an->p)) != 0) return rc;
        return tw_file(t, an->p, sp->p, e, e);
    case TREE_SYMLINK: return tw_header(t, an->p, e, '2', 0, e->symlink_target);
    case TREE_CHARDEV: return tw_header(t, an->p, e, '3', 0, NULL);
    case TREE_BLOCKDEV: return tw_header(t, an->p, e, '4', 0, NULL);
    case TREE_FIFO: return tw_header(t, an->p, e, '6', 0, NULL);
    case TREE_SOCKET: return 0;
    }
    return 0;
}

static int tw_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int eng_write_tar(struct repo *repo, const char *snapshot_id, const char *const *paths, size_t n,
                  int out_fd, json_t *errors)
{
    static const char *const everything[] = { "/" };
    struct tw t = { .repo = repo, .fd = out_fd, .errors = errors };
    struct eng_path an = { 0 }, sp = { 0 };
    char **norm = NULL;
    struct tree_entry *ents = NULL;
    int rc;
    if (!paths || n == 0) {
        paths = everything;
        n = 1;
    }
    if ((rc = eng_snapshot_root(repo, snapshot_id, &t.root)) != 0) return rc;
    if (!(norm = calloc(n, sizeof *norm)) || !(ents = calloc(n, sizeof *ents))) {
        free(norm);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n && !rc; i++) rc = eng_path_normalize(paths[i], &norm[i]);
    if (!rc) qsort(norm, n, sizeof *norm, tw_str_cmp);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = eng_resolve(repo, &t.root, norm[i], &ents[i]);
        if (rc == -ENOTDIR) rc = -ENOENT;
    }
    if (!rc && !(t.buf = malloc(TW_BUF))) rc = -ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        if ((rc = eng_path_set(&sp, norm[i])) != 0) break;
        if (strcmp(norm[i], "/") == 0) {
            eng_path_pop(&an, 0);
            if ((rc = eng_path_set(&an, "")) == 0) rc = tw_dir_content(&t, &an, &sp, &ents[i].subtree);
        } else {
            if ((rc = eng_path_set(&an, eng_basename(norm[i]))) == 0) rc = tw_entry(&t, &an, &sp, &ents[i]);
        }
    }
    if (!rc) rc = tw_zeros(&t, 1024);
    if (!rc) rc = tw_flush(&t);
    eng_smap_free(&t.links, free);
    for (size_t i = 0; i < n; i++) {
        free(norm[i]);
        tree_entry_release(&ents[i]);
    }
    free(norm);
    free(ents);
    free(t.buf);
    eng_path_free(&an);
    eng_path_free(&sp);
    return rc;
}
