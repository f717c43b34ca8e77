/* pack.c: pack files: the append path, sealing, trailers, the pack table and the fd cache.
 *
 * A pack is born as data/tmp/pack-<pid>-XXXXXX. A put reserves a byte range of the open pack
 * under repo->mu, writes its encrypted blob there with pwrite outside the lock (so several threads
 * write at once), then records the blob under the lock. The thread whose blob takes the pack past
 * the target size detaches it (new puts start a new pack) and seals it: it waits until no writer
 * is left in the pack, appends the encrypted trailer (one 48-byte record per blob) and the 16-byte
 * footer, hashes the whole file (SHA-256, the pack's name), fsyncs it, renames it to
 * data/<first byte hex>/<name hex> and fsyncs that directory. Only then can an index file name it.
 *
 * A seal that fails (a full disk) removes the temporary file at once; repo_pack_clean_tmp, at open,
 * removes what dead processes left in data/tmp and the write temporaries of index/ and snapshots/.
 *
 * Reads pread from a small cache of fds (REPO_FD_CACHE_MAX sealed packs, least recently used is
 * closed first, never while a reader holds it); a pack still being written is read through its
 * writing fd, which stays valid across the rename.
 *
 * The index record of a blob is appended when its bytes are reserved (repo_itab_reserve), so the
 * records of a pack are in offset order; it becomes live when the write is done. A pack keeps
 * its trailer list in memory only until it is sealed. */
#include "repo/repo_int.h"
#include "util/fsio.h"
#include "util/log.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#define PACK_MAGIC "CFPK"
#define TRAILER_MAX ((uint64_t)256 << 20)
#define HASH_STEP ((size_t)4 << 20)

/* ---- pack id -> pack number map (open addressing; slot holds pack_no + 1, 0 = empty) ---- */

static int pmap_insert_raw(uint32_t *slots, size_t cap, const struct repo_pack *packs, uint32_t no)
{
    size_t mask = cap - 1, i = (size_t)repo_get_u64(packs[no].id.b) & mask;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = no + 1;
    return 0;
}

static int pmap_add(struct repo *repo, uint32_t no)
{
    struct repo_packmap *m = &repo->pmap;
    if ((m->count + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        uint32_t *ns = calloc(ncap, sizeof *ns);
        if (!ns) return -ENOMEM;
        for (size_t k = 0; k < m->cap; k++)
            if (m->slots[k]) pmap_insert_raw(ns, ncap, repo->packs, m->slots[k] - 1);
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    pmap_insert_raw(m->slots, m->cap, repo->packs, no);
    m->count++;
    return 0;
}

int repo_packmap_find(const struct repo *repo, const repo_id_t *id)
{
    const struct repo_packmap *m = &repo->pmap;
    size_t mask, i;
    if (m->cap == 0) return -1;
    mask = m->cap - 1;
    for (i = (size_t)repo_get_u64(id->b) & mask; m->slots[i]; i = (i + 1) & mask)
        if (memcmp(repo->packs[m->slots[i] - 1].id.b, id->b, REPO_ID_LEN) == 0)
            return (int)(m->slots[i] - 1);
    return -1;
}

/* ---- pack table ---- */

int64_t repo_pack_add(struct repo *repo, const repo_id_t *id, uint8_t state)
{
    struct repo_pack *p;
    if (repo->npacks == repo->packs_cap) {
        uint32_t ncap = repo->packs_cap ? repo->packs_cap * 2 : 64;
        struct repo_pack *np;
        if (ncap > (uint32_t)INT32_MAX) return -EOVERFLOW;
        np = realloc(repo->packs, (size_t)ncap * sizeof *np);
        if (!np) return -ENOMEM;
        repo->packs = np;
        repo->packs_cap = ncap;
    }
    p = &repo->packs[repo->npacks];
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->state = state;
    if (id) {
        p->id = *id;
        if (pmap_add(repo, repo->npacks) < 0) return -ENOMEM;
    }
    return repo->npacks++;
}

int repo_pack_path(const struct repo *repo, const repo_id_t *id, char *buf, size_t len)
{
    char hex[REPO_ID_HEX_LEN + 1];
    repo_id_to_hex(id, hex);
    if (snprintf(buf, len, "%s/data/%.2s/%s", repo->dir, hex, hex) >= (int)len)
        return -ENAMETOOLONG;
    return 0;
}

int repo_pack_ents_push(struct repo_pack *p, const struct repo_pentry *e)
{
    if (p->nents == p->ents_cap) {
        size_t ncap = p->ents_cap ? p->ents_cap * 2 : 64;
        struct repo_pentry *ne = realloc(p->ents, ncap * sizeof *ne);
        if (!ne) return -ENOMEM;
        p->ents = ne;
        p->ents_cap = ncap;
    }
    p->ents[p->nents++] = *e;
    return 0;
}

/* create_open_pack: a fresh temp pack becomes the open pack (lock held). */
static int create_open_pack(struct repo *repo)
{
    char path[4096];
    int64_t no;
    int fd;
    if (snprintf(path, sizeof path, "%s/data/tmp/pack-%ld-XXXXXX", repo->dir, (long)getpid()) >=
        (int)sizeof path)
        return -ENAMETOOLONG;
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) return -errno;
    if (fchmod(fd, 0600) < 0) { /* mkostemp already uses 0600; be explicit */
        int rc = -errno;
        close(fd);
        unlink(path);
        return rc;
    }
    no = repo_pack_add(repo, NULL, REPO_PACK_OPEN);
    if (no < 0 || !(repo->packs[no].tmp_path = strdup(path))) {
        close(fd);
        unlink(path);
        if (no >= 0) repo->packs[no].state = REPO_PACK_FAILED;
        return no < 0 ? (int)no : -ENOMEM;
    }
    repo->packs[no].fd = fd;
    repo->open_pack = no;
    return 0;
}

int64_t repo_pack_detach_open(struct repo *repo)
{
    int64_t no = repo->open_pack;
    if (no < 0) return -1;
    repo->packs[no].state = REPO_PACK_SEALING;
    repo->sealing++;
    repo->open_pack = -1;
    return no;
}

static int pwrite_full(int fd, const uint8_t *p, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

int repo_pack_append(struct repo *repo, const struct repo_pentry *e_in, const uint8_t *stored,
                     uint32_t *pack_no_out)
{
    struct repo_pentry e = *e_in;
    struct repo_pack *p;
    int64_t no, seal_no = -1;
    uint64_t off;
    int fd, rc = 0;
    pthread_mutex_lock(&repo->mu);
    if (repo->write_err) {
        rc = repo->write_err;
        goto fail_locked;
    }
    if (repo->open_pack >= 0 &&
        repo->packs[repo->open_pack].size + e.stored > (uint64_t)UINT32_MAX) /* never, in practice */
        seal_no = repo_pack_detach_open(repo);
    if (repo->open_pack < 0 && (rc = create_open_pack(repo)) < 0) goto fail_locked;
    no = repo->open_pack;
    p = &repo->packs[no];
    off = p->size;
    e.offset = (uint32_t)off;
    /* The index record goes in now, in offset order, so the pack's records stay one run. */
    rc = repo_itab_reserve(&repo->idx, &e, (uint32_t)no);
    if (rc < 0) goto fail_locked;
    p->size += e.stored;
    p->writers++;
    fd = p->fd;
    /* The blob that reaches the target closes the pack: later puts start a new one, so a pack
     * never exceeds the target by more than one blob. This thread seals it after its write. */
    if (p->size >= repo->pack_target && seal_no < 0) seal_no = repo_pack_detach_open(repo);
    pthread_mutex_unlock(&repo->mu);

    rc = pwrite_full(fd, stored, e.stored, (off_t)off);

    pthread_mutex_lock(&repo->mu);
    p = &repo->packs[no];
    p->writers--;
    if (rc == 0) rc = repo_pack_ents_push(p, &e);
    if (rc == 0) {
        repo_itab_commit(&repo->idx, &e.id);
        if (pack_no_out) *pack_no_out = (uint32_t)no;
    } else {
        repo_itab_remove(&repo->idx, &e.id);
    }
    pthread_cond_broadcast(&repo->cv);
    pthread_mutex_unlock(&repo->mu);
    if (seal_no >= 0) {
        int src = repo_pack_seal(repo, (uint32_t)seal_no);
        if (rc == 0) rc = src;
    }
    return rc;

fail_locked:
    repo_itab_remove(&repo->idx, &e.id);
    pthread_cond_broadcast(&repo->cv);
    pthread_mutex_unlock(&repo->mu);
    if (seal_no >= 0) repo_pack_seal(repo, (uint32_t)seal_no);
    return rc;
}

static void fd_evict(struct repo *repo, uint32_t keep);

/* hash_file: SHA-256 of the first len bytes of fd. */
static int hash_file(int fd, uint64_t len, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t *buf = malloc(HASH_STEP);
    uint64_t pos = 0;
    int rc = 0;
    if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) rc = -ENOMEM;
    while (rc == 0 && pos < len) {
        size_t step = len - pos < HASH_STEP ? (size_t)(len - pos) : HASH_STEP;
        rc = fsio_pread_full(fd, buf, step, (off_t)pos);
        if (rc == 0 && EVP_DigestUpdate(ctx, buf, step) != 1) rc = -EIO;
        pos += step;
    }
    if (rc == 0 && EVP_DigestFinal_ex(ctx, out, NULL) != 1) rc = -EIO;
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

int repo_pack_seal(struct repo *repo, uint32_t no)
{
    struct repo_pack *p;
    uint8_t *trailer = NULL, footer[REPO_PACK_FOOTER_LEN], hash[32];
    size_t n, tplain, tlen;
    uint64_t size;
    char *tmp_path, path[4096], dir[4096];
    repo_id_t id;
    int fd, rc = 0;

    pthread_mutex_lock(&repo->mu);
    while (repo->packs[no].writers > 0) pthread_cond_wait(&repo->cv, &repo->mu);
    p = &repo->packs[no];
    fd = p->fd;
    size = p->size;
    n = p->nents;
    tmp_path = p->tmp_path;
    tplain = 4 + n * REPO_PENTRY_LEN;
    tlen = tplain + REPO_AEAD_OVERHEAD;
    trailer = malloc(tlen);
    if (trailer) {
        repo_put_u32(trailer + REPO_NONCE_LEN, (uint32_t)n);
        for (size_t k = 0; k < n; k++)
            repo_pentry_encode(trailer + REPO_NONCE_LEN + 4 + k * REPO_PENTRY_LEN, &p->ents[k]);
    }
    pthread_mutex_unlock(&repo->mu);
    if (!trailer) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(footer, PACK_MAGIC, 4);
    repo_put_u32(footer + 4, REPO_FORMAT_VERSION);
    repo_put_u32(footer + 8, (uint32_t)tlen);
    repo_put_u32(footer + 12, 0);
    rc = repo_aead_seal(repo->enc_key, footer, 12, trailer, tplain);
    if (rc == 0) rc = pwrite_full(fd, trailer, tlen, (off_t)size);
    if (rc == 0) rc = pwrite_full(fd, footer, sizeof footer, (off_t)(size + tlen));
    size += tlen + sizeof footer;
    /* Start the write-back now so that it overlaps the hashing; the fsync below then waits less. */
    if (rc == 0) sync_file_range(fd, 0, (off_t)size, SYNC_FILE_RANGE_WRITE);
    if (rc == 0) rc = hash_file(fd, size, hash);
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    memcpy(id.b, hash, REPO_ID_LEN);
    if (rc == 0) rc = repo_pack_path(repo, &id, path, sizeof path);
    if (rc == 0 && rename(tmp_path, path) < 0) rc = -errno;
    if (rc == 0) {
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = '\0';
        rc = fsio_fsync_dir(dir);
    }
out:
    free(trailer);
    pthread_mutex_lock(&repo->mu);
    p = &repo->packs[no];
    if (rc == 0) {
        p->id = id;
        p->size = size;
        p->state = REPO_PACK_SEALED;
        p->on_disk = true;
        free(p->tmp_path);
        p->tmp_path = NULL;
        free(p->ents); /* the trailer has them; the index file writer reads it back */
        p->ents = NULL;
        p->nents = p->ents_cap = 0;
        repo->fds_open++; /* the writing fd now serves reads from the fd cache */
        p->fd_lru = ++repo->lru_clock;
        if (pmap_add(repo, no) < 0) rc = -ENOMEM;
        fd_evict(repo, no);
    }
    if (rc < 0) {
        p->state = REPO_PACK_FAILED;
        if (!repo->write_err) repo->write_err = rc;
        log_error("repo: sealing pack %s failed: %s; it is removed, and writes are refused until "
                  "repo_write_error_reset", p->tmp_path ? p->tmp_path : "?", strerror(-rc));
        /* The temporary file is removed at once (a full disk gets its space back): its blobs now
         * count as lost (their pack is FAILED, so a later put stores them again). Its fd is closed
         * unless a reader holds it; reads of a FAILED pack without an fd fail. */
        if (p->tmp_path) {
            unlink(p->tmp_path);
            free(p->tmp_path);
            p->tmp_path = NULL;
        }
        if (p->fd >= 0 && p->fd_refs == 0) {
            close(p->fd);
            p->fd = -1;
        }
        free(p->ents);
        p->ents = NULL;
        p->nents = p->ents_cap = 0;
    }
    repo->sealing--;
    pthread_cond_broadcast(&repo->cv);
    pthread_mutex_unlock(&repo->mu);
    return rc;
}

void repo_write_error_reset(struct repo *repo)
{
    pthread_mutex_lock(&repo->mu);
    if (repo->write_err && repo->sealing == 0) {
        log_info("repo: writes are accepted again after the failure '%s'", strerror(-repo->write_err));
        repo->write_err = 0;
    }
    pthread_mutex_unlock(&repo->mu);
}

/* ---- fd cache ---- */

static void fd_evict(struct repo *repo, uint32_t keep)
{
    while (repo->fds_open > REPO_FD_CACHE_MAX) {
        int64_t victim = -1;
        for (uint32_t k = 0; k < repo->npacks; k++) {
            const struct repo_pack *q = &repo->packs[k];
            if (k == keep || q->fd < 0 || q->fd_refs || q->state != REPO_PACK_SEALED) continue;
            if (victim < 0 || q->fd_lru < repo->packs[victim].fd_lru) victim = k;
        }
        if (victim < 0) return;
        close(repo->packs[victim].fd);
        repo->packs[victim].fd = -1;
        repo->fds_open--;
    }
}

int repo_pack_fd_get(struct repo *repo, uint32_t no, int *fd)
{
    struct repo_pack *p;
    int rc = 0;
    pthread_mutex_lock(&repo->mu);
    if (no >= repo->npacks) {
        rc = -ENOENT;
        goto out;
    }
    p = &repo->packs[no];
    if (p->fd < 0) {
        char path[4096];
        if (p->state != REPO_PACK_SEALED) {
            rc = -EIO;
            goto out;
        }
        rc = repo_pack_path(repo, &p->id, path, sizeof path);
        if (rc < 0) goto out;
        p->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (p->fd < 0) {
            rc = -errno;
            goto out;
        }
        repo->fds_open++;
        fd_evict(repo, no);
    }
    p->fd_refs++;
    p->fd_lru = ++repo->lru_clock;
    *fd = p->fd;
out:
    pthread_mutex_unlock(&repo->mu);
    return rc;
}

void repo_pack_fd_put(struct repo *repo, uint32_t no)
{
    pthread_mutex_lock(&repo->mu);
    if (no < repo->npacks && repo->packs[no].fd_refs > 0) repo->packs[no].fd_refs--;
    pthread_mutex_unlock(&repo->mu);
}

void repo_pack_close_all(struct repo *repo)
{
    for (uint32_t k = 0; k < repo->npacks; k++) {
        struct repo_pack *p = &repo->packs[k];
        if (p->fd >= 0) close(p->fd);
        if (p->tmp_path) {
            unlink(p->tmp_path); /* never sealed: its blobs were never promised durable */
            free(p->tmp_path);
        }
        free(p->ents);
    }
    free(repo->packs);
    repo->packs = NULL;
    repo->npacks = repo->packs_cap = 0;
    free(repo->pmap.slots);
    memset(&repo->pmap, 0, sizeof repo->pmap);
    repo->fds_open = 0;
}

/* ---- trailers ---- */

int repo_pack_read_trailer(const struct repo *repo, int fd, uint64_t file_size,
                           struct repo_pentry **ents_out, size_t *n_out, char *why, size_t whylen)
{
    uint8_t footer[REPO_PACK_FOOTER_LEN], *trailer;
    uint64_t tlen, data_end;
    struct repo_pentry *ents;
    uint32_t count;
    int rc;
    if (file_size < REPO_PACK_FOOTER_LEN + REPO_AEAD_OVERHEAD + 4) {
        repo_seterr(why, whylen, "pack is too short (%llu bytes) to hold a footer",
                    (unsigned long long)file_size);
        return -EBADMSG;
    }
    rc = fsio_pread_full(fd, footer, sizeof footer, (off_t)(file_size - sizeof footer));
    if (rc < 0) {
        repo_seterr(why, whylen, "cannot read the footer: %s", strerror(-rc));
        return rc == -EIO ? -EBADMSG : rc;
    }
    if (memcmp(footer, PACK_MAGIC, 4) != 0) {
        repo_seterr(why, whylen, "bad footer magic");
        return -EBADMSG;
    }
    if (repo_get_u32(footer + 4) != REPO_FORMAT_VERSION) {
        repo_seterr(why, whylen, "unsupported pack version %u", repo_get_u32(footer + 4));
        return -EBADMSG;
    }
    tlen = repo_get_u32(footer + 8);
    if (tlen < REPO_AEAD_OVERHEAD + 4 || tlen > TRAILER_MAX ||
        tlen > file_size - REPO_PACK_FOOTER_LEN ||
        (tlen - REPO_AEAD_OVERHEAD - 4) % REPO_PENTRY_LEN != 0) {
        repo_seterr(why, whylen, "implausible trailer length %llu", (unsigned long long)tlen);
        return -EBADMSG;
    }
    data_end = file_size - REPO_PACK_FOOTER_LEN - tlen;
    trailer = malloc(tlen);
    if (!trailer) return -ENOMEM;
    rc = fsio_pread_full(fd, trailer, tlen, (off_t)data_end);
    if (rc == 0) rc = repo_aead_open(repo->enc_key, footer, 12, trailer, tlen);
    if (rc < 0) {
        free(trailer);
        repo_seterr(why, whylen, "trailer %s", rc == -EBADMSG ? "fails authentication" :
                    "cannot be read");
        return rc == -EIO ? -EBADMSG : rc;
    }
    count = repo_get_u32(trailer + REPO_NONCE_LEN);
    if ((uint64_t)count * REPO_PENTRY_LEN + 4 + REPO_AEAD_OVERHEAD != tlen) {
        free(trailer);
        repo_seterr(why, whylen, "trailer count %u does not match its length", count);
        return -EBADMSG;
    }
    ents = malloc((count ? count : 1) * sizeof *ents);
    if (!ents) {
        free(trailer);
        return -ENOMEM;
    }
    for (uint32_t k = 0; k < count; k++) {
        repo_pentry_decode(trailer + REPO_NONCE_LEN + 4 + (size_t)k * REPO_PENTRY_LEN, &ents[k]);
        if (repo_pentry_validate(&ents[k], data_end) < 0) {
            free(trailer);
            free(ents);
            repo_seterr(why, whylen, "trailer record %u is out of range", k);
            return -EBADMSG;
        }
    }
    free(trailer);
    *ents_out = ents;
    *n_out = count;
    return 0;
}

/* ---- directory walks ---- */

int repo_pack_list_disk(const struct repo *repo,
                        int (*fn)(struct repo *repo, const repo_id_t *id, const char *path, void *arg),
                        void *arg)
{
    char dir[4096], path[4096 + 80];
    for (int b = 0; b < 256; b++) {
        DIR *d;
        struct dirent *de;
        if (snprintf(dir, sizeof dir, "%s/data/%02x", repo->dir, b) >= (int)sizeof dir)
            return -ENAMETOOLONG;
        d = opendir(dir);
        if (!d) {
            if (errno == ENOENT) continue;
            return -errno;
        }
        while ((de = readdir(d)) != NULL) {
            repo_id_t id;
            int rc;
            if (repo_id_from_hex(de->d_name, &id) < 0 || id.b[0] != b) continue;
            if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
            rc = fn((struct repo *)repo, &id, path, arg);
            if (rc < 0) {
                closedir(d);
                return rc;
            }
        }
        closedir(d);
    }
    return 0;
}

static int scan_one(struct repo *repo, const repo_id_t *id, const char *path, void *arg)
{
    struct repo_pentry *ents = NULL;
    size_t n = 0;
    struct stat st;
    char why[200];
    int64_t no;
    int fd, rc;
    unsigned *recovered = arg;
    pthread_mutex_lock(&repo->mu);
    no = repo_packmap_find(repo, id);
    if (no >= 0) {
        repo->packs[no].on_disk = true;
        pthread_mutex_unlock(&repo->mu);
        return 0;
    }
    pthread_mutex_unlock(&repo->mu);
    /* A pack no index file names: a crash came between its rename and the index write. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    rc = fstat(fd, &st) < 0 ? -errno : 0;
    if (rc == 0) rc = repo_pack_read_trailer(repo, fd, (uint64_t)st.st_size, &ents, &n, why,
                                             sizeof why);
    close(fd);
    if (rc == -ENOMEM) return rc;
    if (rc < 0) {
        log_warn("repo: pack %s is not indexed and unreadable (%s); skipped", path, why);
        return 0;
    }
    pthread_mutex_lock(&repo->mu);
    no = repo_pack_add(repo, id, REPO_PACK_SEALED);
    if (no >= 0) {
        struct repo_pack *p = &repo->packs[no];
        p->size = (uint64_t)st.st_size;
        p->on_disk = true;
        p->indexed = false;
        p->ents = ents;
        p->nents = p->ents_cap = n;
        ents = NULL;
        rc = repo_index_add_entries(repo, (uint32_t)no, p->ents, p->nents);
        (*recovered)++;
    } else {
        rc = (int)no;
    }
    pthread_mutex_unlock(&repo->mu);
    free(ents);
    return rc;
}

int repo_pack_scan_unindexed(struct repo *repo, char *err, size_t errlen)
{
    unsigned recovered = 0;
    int rc = repo_pack_list_disk(repo, scan_one, &recovered);
    if (rc < 0) {
        repo_seterr(err, errlen, "cannot scan %s/data: %s", repo->dir, strerror(-rc));
        return rc;
    }
    if (recovered) log_info("repo: %u pack(s) were not indexed; recovered from their trailers",
                            recovered);
    for (uint32_t k = 0; k < repo->npacks; k++) {
        struct repo_pack *p = &repo->packs[k];
        char hex[REPO_ID_HEX_LEN + 1];
        if (p->state != REPO_PACK_SEALED || p->on_disk) continue;
        repo_id_to_hex(&p->id, hex);
        log_warn("repo: pack %s is named by the index but missing from data/", hex);
        p->state = REPO_PACK_MISSING;
    }
    return 0;
}

void repo_pack_clean_tmp(const struct repo *repo)
{
    char dir[4096], path[4096 + 300];
    DIR *d;
    struct dirent *de;
    if (snprintf(dir, sizeof dir, "%s/data/tmp", repo->dir) >= (int)sizeof dir) return;
    d = opendir(dir);
    if (!d) return;
    while ((de = readdir(d)) != NULL) {
        long pid;
        char *end;
        if (strncmp(de->d_name, "pack-", 5) != 0) continue;
        pid = strtol(de->d_name + 5, &end, 10);
        if (end == de->d_name + 5 || *end != '-' || pid <= 0) continue;
        /* Only leftovers of dead processes: a live one may be writing it. */
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        if (unlink(path) == 0) log_info("repo: removed unfinished pack %s", path);
    }
    closedir(d);
    /* Temporaries of index, snapshot and config writes (fsio_write_atomic) a dead process left. */
    for (int k = 0; k < 3; k++) {
        static const char *const subs[] = { "index", "snapshots", "." };
        if (snprintf(dir, sizeof dir, "%s/%s", repo->dir, subs[k]) >= (int)sizeof dir) continue;
        if (!(d = opendir(dir))) continue;
        while ((de = readdir(d)) != NULL) {
            if (!fsio_tmp_is_stale(de->d_name)) continue;
            if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
            if (unlink(path) == 0) log_info("repo: removed unfinished temporary file %s", path);
        }
        closedir(d);
    }
}
