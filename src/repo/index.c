/* index.c: the in-memory blob index and the index files that persist it.
 *
 * Table: open addressing with linear probing over a power-of-two array of 48-byte slots (id,
 * pack number, offset, stored length with type and flags in its top 4 bits, plain length). Ids are
 * keyed hashes, so their first 8 bytes are already a uniform hash. The table doubles at a load of
 * 3/4 and deletes (only pending entries of failed puts are ever deleted) by backward shifting, so
 * there are no tombstones. Callers hold repo->mu.
 *
 * Files: index/<sha256 hex of the file> is an envelope ("CFIX", see crypto.c) whose plaintext
 * lists packs and, for each, its blob records in the same 48-byte form as a pack trailer. On open
 * every index file is read; every number is checked before use, a damaged file is skipped with a
 * warning (its packs are then recovered from their trailers). */
#include "repo/repo_int.h"
#include "util/fsio.h"
#include "util/log.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_FILE_MAX ((size_t)1 << 31)
#define INDEX_PACK_HDR (REPO_ID_LEN + 8 + 4)

static size_t slot_home(const uint8_t *id, size_t mask) { return (size_t)repo_get_u64(id) & mask; }

static struct repo_islot *slots_alloc(size_t cap)
{
    struct repo_islot *s = malloc(cap * sizeof *s);
    if (s) memset(s, 0xFF, cap * sizeof *s); /* pack == REPO_SLOT_EMPTY */
    return s;
}

int repo_itab_init(struct repo_itab *t, size_t hint)
{
    size_t cap = 1024;
    while (cap / 4 * 3 < hint) cap *= 2;
    _Static_assert(sizeof(struct repo_islot) == 48, "index slot must stay 48 bytes");
    t->slots = slots_alloc(cap);
    if (!t->slots) return -ENOMEM;
    t->cap = cap;
    t->count = 0;
    return 0;
}

void repo_itab_free(struct repo_itab *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->count = 0;
}

struct repo_islot *repo_itab_find(const struct repo_itab *t, const repo_id_t *id)
{
    size_t mask = t->cap - 1, i = slot_home(id->b, mask);
    for (;;) {
        struct repo_islot *s = &t->slots[i];
        if (s->pack == REPO_SLOT_EMPTY) return NULL;
        if (memcmp(s->id, id->b, REPO_ID_LEN) == 0) return s;
        i = (i + 1) & mask;
    }
}

static int itab_grow(struct repo_itab *t)
{
    size_t ncap = t->cap * 2, mask = ncap - 1;
    struct repo_islot *ns = slots_alloc(ncap);
    if (!ns) return -ENOMEM;
    for (size_t k = 0; k < t->cap; k++) {
        const struct repo_islot *s = &t->slots[k];
        size_t i;
        if (s->pack == REPO_SLOT_EMPTY) continue;
        i = slot_home(s->id, mask);
        while (ns[i].pack != REPO_SLOT_EMPTY) i = (i + 1) & mask;
        ns[i] = *s;
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 0;
}

int repo_itab_insert(struct repo_itab *t, const repo_id_t *id, struct repo_islot **slot)
{
    size_t mask, i;
    struct repo_islot *s = repo_itab_find(t, id);
    if (s) {
        *slot = s;
        return 0;
    }
    if ((t->count + 1) * 4 > t->cap * 3 && itab_grow(t) < 0) return -ENOMEM;
    mask = t->cap - 1;
    i = slot_home(id->b, mask);
    while (t->slots[i].pack != REPO_SLOT_EMPTY) i = (i + 1) & mask;
    s = &t->slots[i];
    memcpy(s->id, id->b, REPO_ID_LEN);
    s->pack = REPO_SLOT_PENDING; /* not empty any more; the caller fills it */
    s->offset = s->stored_bits = s->plain = 0;
    t->count++;
    *slot = s;
    return 1;
}

void repo_itab_remove(struct repo_itab *t, const repo_id_t *id)
{
    struct repo_islot *s = repo_itab_find(t, id);
    size_t mask = t->cap - 1, i, j;
    if (!s) return;
    i = (size_t)(s - t->slots);
    j = i;
    for (;;) {
        size_t k;
        j = (j + 1) & mask;
        if (t->slots[j].pack == REPO_SLOT_EMPTY) break;
        k = slot_home(t->slots[j].id, mask);
        /* move slot j back to the hole at i unless its home lies cyclically in (i, j] */
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    memset(&t->slots[i], 0xFF, sizeof t->slots[i]);
    t->count--;
}

void repo_islot_set(struct repo_islot *s, uint32_t pack, const struct repo_pentry *e)
{
    s->pack = pack;
    s->offset = e->offset;
    s->stored_bits = (e->stored & REPO_SLOT_LEN_MASK) | (e->type ? REPO_SLOT_TREE_BIT : 0) |
                     ((e->flags & REPO_BLOB_F_ZSTD) ? REPO_SLOT_ZSTD_BIT : 0);
    s->plain = e->plain;
}

void repo_islot_get(const struct repo_islot *s, struct repo_pentry *e)
{
    memcpy(e->id.b, s->id, REPO_ID_LEN);
    e->type = (s->stored_bits & REPO_SLOT_TREE_BIT) ? REPO_BLOB_TREE : REPO_BLOB_DATA;
    e->flags = (s->stored_bits & REPO_SLOT_ZSTD_BIT) ? REPO_BLOB_F_ZSTD : 0;
    e->offset = s->offset;
    e->stored = s->stored_bits & REPO_SLOT_LEN_MASK;
    e->plain = s->plain;
}

/* ---- 48-byte blob records (pack trailers and index files) ---- */

void repo_pentry_encode(uint8_t out[REPO_PENTRY_LEN], const struct repo_pentry *e)
{
    memcpy(out, e->id.b, REPO_ID_LEN);
    out[32] = e->type;
    out[33] = e->flags;
    repo_put_u16(out + 34, 0);
    repo_put_u32(out + 36, e->offset);
    repo_put_u32(out + 40, e->stored);
    repo_put_u32(out + 44, e->plain);
}

void repo_pentry_decode(const uint8_t in[REPO_PENTRY_LEN], struct repo_pentry *e)
{
    memcpy(e->id.b, in, REPO_ID_LEN);
    e->type = in[32];
    e->flags = in[33];
    e->offset = repo_get_u32(in + 36);
    e->stored = repo_get_u32(in + 40);
    e->plain = repo_get_u32(in + 44);
}

/* repo_pentry_validate: 0 when the record is plausible for blob bytes ending at data_end. */
int repo_pentry_validate(const struct repo_pentry *e, uint64_t data_end)
{
    if (e->type > REPO_BLOB_TREE || (e->flags & ~REPO_BLOB_F_ZSTD) != 0) return -EBADMSG;
    if (e->stored < REPO_AEAD_OVERHEAD || e->stored > REPO_STORED_MAX) return -EBADMSG;
    if (e->plain > REPO_BLOB_MAX) return -EBADMSG;
    if (!(e->flags & REPO_BLOB_F_ZSTD) && e->stored != (uint64_t)e->plain + REPO_AEAD_OVERHEAD)
        return -EBADMSG;
    if ((uint64_t)e->offset + e->stored > data_end) return -EBADMSG;
    return 0;
}

int repo_index_add_entries(struct repo *repo, uint32_t pack_no, const struct repo_pentry *ents,
                           size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct repo_islot *s;
        int rc = repo_itab_insert(&repo->idx, &ents[i].id, &s);
        if (rc < 0) return rc;
        if (rc == 1) repo_islot_set(s, pack_no, &ents[i]);
    }
    return 0;
}

/* ---- index files ---- */

static int load_one(struct repo *repo, const char *path, const char *name)
{
    void *data = NULL;
    size_t len = 0, plen = 0, pos = 4;
    uint8_t *plain = NULL, hash[32];
    char hex[65];
    uint32_t npacks;
    int rc = fsio_read_all(path, INDEX_FILE_MAX, &data, &len);
    if (rc < 0) return rc;
    repo_sha256(data, len, hash);
    repo_id_to_hex((const repo_id_t *)hash, hex);
    if (strcmp(hex, name) != 0) {
        free(data);
        return -EBADMSG;
    }
    rc = repo_env_open(repo->enc_key, "CFIX", data, len, &plain, &plen);
    if (rc < 0) {
        free(data);
        return rc;
    }
    if (plen < 4) {
        free(data);
        return -EBADMSG;
    }
    npacks = repo_get_u32(plain);
    pthread_mutex_lock(&repo->mu);
    for (uint32_t k = 0; k < npacks && rc == 0; k++) {
        repo_id_t pid;
        uint64_t psize;
        uint32_t nb;
        int64_t pno;
        if (plen - pos < INDEX_PACK_HDR) {
            rc = -EBADMSG;
            break;
        }
        memcpy(pid.b, plain + pos, REPO_ID_LEN);
        psize = repo_get_u64(plain + pos + 32);
        nb = repo_get_u32(plain + pos + 40);
        pos += INDEX_PACK_HDR;
        if ((plen - pos) / REPO_PENTRY_LEN < nb || psize < REPO_PACK_FOOTER_LEN) {
            rc = -EBADMSG;
            break;
        }
        pno = repo_packmap_find(repo, &pid);
        if (pno < 0) {
            pno = repo_pack_add(repo, &pid, REPO_PACK_SEALED);
            if (pno < 0) {
                rc = (int)pno;
                break;
            }
            repo->packs[pno].size = psize;
        }
        repo->packs[pno].indexed = true;
        for (uint32_t b = 0; b < nb; b++, pos += REPO_PENTRY_LEN) {
            struct repo_pentry e;
            struct repo_islot *s;
            repo_pentry_decode(plain + pos, &e);
            if (repo_pentry_validate(&e, psize - REPO_PACK_FOOTER_LEN) < 0) {
                rc = -EBADMSG;
                break;
            }
            rc = repo_itab_insert(&repo->idx, &e.id, &s);
            if (rc < 0) break;
            if (rc == 1) repo_islot_set(s, (uint32_t)pno, &e);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&repo->mu);
    free(data);
    return rc;
}

int repo_index_load_all(struct repo *repo, char *err, size_t errlen)
{
    char dir[4096], path[4096 + 80];
    DIR *d;
    struct dirent *de;
    if (snprintf(dir, sizeof dir, "%s/index", repo->dir) >= (int)sizeof dir) return -ENAMETOOLONG;
    d = opendir(dir);
    if (!d) {
        int rc = -errno;
        repo_seterr(err, errlen, "cannot list %s: %s", dir, strerror(-rc));
        return rc;
    }
    while ((de = readdir(d)) != NULL) {
        repo_id_t dummy;
        int rc;
        if (repo_id_from_hex(de->d_name, &dummy) < 0) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        rc = load_one(repo, path, de->d_name);
        if (rc == -ENOMEM) {
            closedir(d);
            return rc;
        }
        if (rc < 0)
            log_warn("repo: index file %s is damaged (%s); its packs will be read from their "
                     "trailers", path, strerror(-rc));
    }
    closedir(d);
    return 0;
}

int repo_index_write_packs(struct repo *repo, const uint32_t *list, size_t n, char out_name[65])
{
    size_t total = 4, pos = 4, outlen = 0;
    uint8_t *plain, *out = NULL, hash[32];
    char path[4096 + 80];
    int rc;
    pthread_mutex_lock(&repo->mu);
    for (size_t k = 0; k < n; k++)
        total += INDEX_PACK_HDR + repo->packs[list[k]].nents * REPO_PENTRY_LEN;
    plain = malloc(total);
    if (!plain) {
        pthread_mutex_unlock(&repo->mu);
        return -ENOMEM;
    }
    repo_put_u32(plain, (uint32_t)n);
    for (size_t k = 0; k < n; k++) {
        const struct repo_pack *p = &repo->packs[list[k]];
        memcpy(plain + pos, p->id.b, REPO_ID_LEN);
        repo_put_u64(plain + pos + 32, p->size);
        repo_put_u32(plain + pos + 40, (uint32_t)p->nents);
        pos += INDEX_PACK_HDR;
        for (size_t b = 0; b < p->nents; b++, pos += REPO_PENTRY_LEN)
            repo_pentry_encode(plain + pos, &p->ents[b]);
    }
    pthread_mutex_unlock(&repo->mu);
    rc = repo_env_seal(repo->enc_key, "CFIX", plain, total, &out, &outlen);
    free(plain);
    if (rc < 0) return rc;
    repo_sha256(out, outlen, hash);
    repo_id_to_hex((const repo_id_t *)hash, out_name);
    if (snprintf(path, sizeof path, "%s/index/%s", repo->dir, out_name) >= (int)sizeof path) {
        free(out);
        return -ENAMETOOLONG;
    }
    rc = fsio_write_atomic(path, out, outlen, 0600);
    free(out);
    if (rc < 0) log_error("repo: cannot write index file %s: %s", path, strerror(-rc));
    return rc;
}
