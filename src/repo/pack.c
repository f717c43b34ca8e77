/* pack.c: packs: the pack table, the append path, sealing, trailers and pack reads.
 *
 * A pack is born as a backend writer (local: data/tmp/pack-<pid>-XXXXXX). A put reserves a byte
 * range of the open pack under repo->mu, writes its encrypted blob there outside the lock (so
 * several threads write at once), then records the blob under the lock. The thread whose blob
 * takes the pack past the target size detaches it (new puts start a new pack) and seals it: it
 * waits until no writer is left in the pack, appends the encrypted trailer (one 48-byte record per
 * blob) and the 16-byte footer, hashes the whole pack read back from the writer (SHA-256, the
 * pack's name) and commits the writer under that name (durable, then visible, never replacing).
 * Only then can an index object name it.
 *
 * Where the backend commits slowly (an upload, or local's fsync: backend.h background_commits > 0), the detaching
 * thread does not seal the pack itself: it queues it for background sealer threads (as many as
 * background_commits, started at the first such seal, joined at close) and goes on putting; the
 * queue holds background_commits packs at most, beyond which the detaching thread waits (the packs
 * waiting are local temporaries: bounded disk, and each commit's memory is the backend's bound).
 * The pack stays SEALING (readable through its writer, counted in repo->sealing) until its commit
 * ends, so a flush, which waits for every seal before it writes the index, still names only packs
 * that are durable; a background seal that fails counts in the write epoch like any other, so the
 * snapshot of every backup that was writing then is refused (repo_snapshot_write_since).
 *
 * A seal that fails (a full disk) discards the writer at once (once no reader holds it); the
 * backend's clean, at open, removes what dead processes left.
 *
 * Reads of a sealed pack are ranged backend gets (the local backend keeps an fd cache); a pack
 * still being written, or sealed while a reader held its writer, is read through its writer.
 *
 * The index record of a blob is appended when its bytes are reserved (repo_itab_reserve), so the
 * records of a pack are in offset order; it becomes live when the write is done. A pack keeps
 * its trailer list in memory only until it is sealed. pack.c sits above index.c (it feeds the
 * in-memory index and hands trailers to the index object writer) and below repo.c. */
#include "repo/repo_int.h"
#include "util/log.h"
#include "util/thread.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    return repo->be->ops->where(repo->be, REPO_OBJ_PACK, hex, buf, len);
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

/* create_open_pack: a fresh backend writer becomes the open pack (lock held). */
static int create_open_pack(struct repo *repo)
{
    struct repo_bwriter *w = NULL;
    int64_t no;
    int rc = repo->be->ops->writer_begin(repo->be, REPO_OBJ_PACK, &w);
    if (rc < 0) return rc;
    no = repo_pack_add(repo, NULL, REPO_PACK_OPEN);
    if (no < 0) {
        repo->be->ops->writer_free(w);
        return (int)no;
    }
    repo->packs[no].w = w;
    repo->open_pack = no;
    return 0;
}

/* ---- background seals ---- */

#define SEALERS_MAX 8

struct repo_sealer {
    pthread_cond_t cv;            /* with repo->mu: a pack queued, room in the queue, or stop */
    pthread_t th[SEALERS_MAX];
    int nth;                      /* threads started */
    int cap;                      /* packs the queue holds at most */
    uint32_t q[SEALERS_MAX];      /* pack numbers waiting, FIFO (ring) */
    int head, len;
    bool stop;
};

static void *sealer_main(void *arg)
{
    struct repo *repo = arg;
    struct repo_sealer *s = repo->sealer;
    util_thread_name("pack-sealer");
    pthread_mutex_lock(&repo->mu);
    for (;;) {
        uint32_t no;
        while (s->len == 0 && !s->stop) pthread_cond_wait(&s->cv, &repo->mu);
        if (s->len == 0) break; /* stopping, nothing left */
        no = s->q[s->head];
        s->head = (s->head + 1) % SEALERS_MAX;
        s->len--;
        pthread_cond_broadcast(&s->cv); /* room in the queue */
        pthread_mutex_unlock(&repo->mu);
        repo_pack_seal(repo, no); /* a failure is recorded in the write epoch and logged */
        pthread_mutex_lock(&repo->mu);
    }
    pthread_mutex_unlock(&repo->mu);
    return NULL;
}

/* seal_in_background: queues a detached pack for the sealer threads (started here the first
 * time); 0 when queued, -1 when the caller must seal it itself (no background seals, or no thread
 * could be started). */
static int seal_in_background(struct repo *repo, uint32_t no)
{
    int want = repo->be->ops->background_commits;
    struct repo_sealer *s;
    if (want <= 0) return -1;
    if (want > SEALERS_MAX) want = SEALERS_MAX;
    pthread_mutex_lock(&repo->mu);
    if (!repo->sealer && (repo->sealer = calloc(1, sizeof *repo->sealer)) != NULL) {
        s = repo->sealer;
        pthread_cond_init(&s->cv, NULL);
        s->cap = want;
        for (int k = 0; k < want; k++) {
            if (pthread_create(&s->th[k], NULL, sealer_main, repo) != 0) break;
            s->nth++;
        }
        if (s->nth == 0) log_warn("repo: cannot start background sealers for %s: packs are sealed in line", repo->dir);
    }
    s = repo->sealer;
    if (!s || s->nth == 0 || s->stop) {
        pthread_mutex_unlock(&repo->mu);
        return -1;
    }
    while (s->len >= s->cap) pthread_cond_wait(&s->cv, &repo->mu); /* the sealers drain it */
    s->q[(s->head + s->len) % SEALERS_MAX] = no;
    s->len++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&repo->mu);
    return 0;
}

/* sealers_stop: lets the sealer threads finish what is queued, then joins them (close). */
static void sealers_stop(struct repo *repo)
{
    struct repo_sealer *s = repo->sealer;
    if (!s) return;
    pthread_mutex_lock(&repo->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&repo->mu);
    for (int k = 0; k < s->nth; k++) pthread_join(s->th[k], NULL);
    pthread_cond_destroy(&s->cv);
    free(s);
    repo->sealer = NULL;
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

int repo_pack_append(struct repo *repo, const struct repo_pentry *e_in, const uint8_t *stored,
                     uint32_t *pack_no_out)
{
    struct repo_pentry e = *e_in;
    struct repo_pack *p;
    int64_t no, seal_no = -1;
    uint64_t off;
    struct repo_bwriter *w;
    int rc = 0;
    pthread_mutex_lock(&repo->mu);
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
    w = p->w;
    /* The blob that reaches the target closes the pack: later puts start a new one, so a pack
     * never exceeds the target by more than one blob. This thread seals it after its write. */
    if (p->size >= repo->pack_target && seal_no < 0) seal_no = repo_pack_detach_open(repo);
    pthread_mutex_unlock(&repo->mu);

    rc = repo->be->ops->writer_write(w, off, stored, e.stored);

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
    if (seal_no >= 0 && seal_in_background(repo, (uint32_t)seal_no) < 0) {
        int src = repo_pack_seal(repo, (uint32_t)seal_no);
        if (rc == 0) rc = src;
    }
    return rc;

fail_locked:
    repo_itab_remove(&repo->idx, &e.id);
    pthread_cond_broadcast(&repo->cv);
    pthread_mutex_unlock(&repo->mu);
    if (seal_no >= 0 && seal_in_background(repo, (uint32_t)seal_no) < 0) repo_pack_seal(repo, (uint32_t)seal_no);
    return rc;
}

/* hash_writer: SHA-256 of the first len bytes written to w. */
static int hash_writer(struct repo *repo, struct repo_bwriter *w, uint64_t len, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t *buf = malloc(HASH_STEP);
    uint64_t pos = 0;
    int rc = 0;
    if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) rc = -ENOMEM;
    while (rc == 0 && pos < len) {
        size_t step = len - pos < HASH_STEP ? (size_t)(len - pos) : HASH_STEP;
        rc = repo->be->ops->writer_read(w, pos, buf, step);
        if (rc == 0 && EVP_DigestUpdate(ctx, buf, step) != 1) rc = -EIO;
        pos += step;
    }
    if (rc == 0 && EVP_DigestFinal_ex(ctx, out, NULL) != 1) rc = -EIO;
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

/* writer_release: frees a sealed or failed pack's writer once no reader holds it (lock held). */
static void writer_release(struct repo *repo, struct repo_pack *p)
{
    if (!p->w || p->w_refs > 0 || p->state == REPO_PACK_OPEN || p->state == REPO_PACK_SEALING)
        return;
    repo->be->ops->writer_free(p->w); /* a failed one is discarded: a full disk gets its space */
    p->w = NULL;
}

int repo_pack_seal(struct repo *repo, uint32_t no)
{
    const struct repo_backend_ops *ops = repo->be->ops;
    struct repo_pack *p;
    uint8_t *trailer = NULL, footer[REPO_PACK_FOOTER_LEN], hash[32];
    size_t n, tplain, tlen;
    uint64_t size;
    char hex[REPO_ID_HEX_LEN + 1];
    struct repo_bwriter *w;
    repo_id_t id;
    int rc = 0;

    pthread_mutex_lock(&repo->mu);
    while (repo->packs[no].writers > 0) pthread_cond_wait(&repo->cv, &repo->mu);
    p = &repo->packs[no];
    w = p->w;
    size = p->size;
    n = p->nents;
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
    if (rc == 0) rc = ops->writer_write(w, size, trailer, tlen);
    if (rc == 0) rc = ops->writer_write(w, size + tlen, footer, sizeof footer);
    size += tlen + sizeof footer;
    /* Start the write-back now so that it overlaps the hashing; the commit then waits less. */
    if (rc == 0 && ops->writer_kick) ops->writer_kick(w, size);
    if (rc == 0) rc = hash_writer(repo, w, size, hash);
    memcpy(id.b, hash, REPO_ID_LEN);
    repo_id_to_hex(&id, hex);
    if (rc == 0) rc = ops->writer_commit(w, hex);
    if (rc == -EEXIST) rc = 0; /* the very same bytes are there already: named by their hash */
out:
    free(trailer);
    pthread_mutex_lock(&repo->mu);
    p = &repo->packs[no];
    if (rc == 0) {
        p->id = id;
        p->size = size;
        p->state = REPO_PACK_SEALED;
        p->on_disk = true;
        free(p->ents); /* the trailer has them; the index object writer reads it back */
        p->ents = NULL;
        p->nents = p->ents_cap = 0;
        if (pmap_add(repo, no) < 0) rc = -ENOMEM;
    }
    if (rc < 0) {
        p->state = REPO_PACK_FAILED;
        repo->write_err = rc;
        repo->write_failures++;
        log_error("repo: sealing a pack of %s failed: %s; it is discarded, and no snapshot of a backup that "
                  "was writing then is saved", repo->dir, strerror(-rc));
        /* Its blobs now count as lost (their pack is FAILED, so a later put stores them again);
         * reads of a FAILED pack without a writer fail. */
        free(p->ents);
        p->ents = NULL;
        p->nents = p->ents_cap = 0;
    }
    writer_release(repo, p);
    repo->sealing--;
    pthread_cond_broadcast(&repo->cv);
    pthread_mutex_unlock(&repo->mu);
    return rc;
}

uint64_t repo_write_epoch(struct repo *repo)
{
    uint64_t e;
    if (repo->remote) return 0; /* the server checks its own epoch when it writes the snapshot */
    pthread_mutex_lock(&repo->mu);
    e = repo->write_failures;
    pthread_mutex_unlock(&repo->mu);
    return e;
}

/* ---- reads ---- */

int repo_pack_read(struct repo *repo, uint32_t no, uint64_t off, void *buf, size_t len)
{
    struct repo_bwriter *w = NULL;
    char hex[REPO_ID_HEX_LEN + 1];
    struct repo_pack *p;
    int rc;
    pthread_mutex_lock(&repo->mu);
    if (no >= repo->npacks) {
        pthread_mutex_unlock(&repo->mu);
        return -ENXIO;
    }
    p = &repo->packs[no];
    if (p->w) {
        w = p->w;
        p->w_refs++;
    } else if (p->state != REPO_PACK_SEALED) {
        pthread_mutex_unlock(&repo->mu);
        return -ENXIO;
    } else {
        repo_id_to_hex(&p->id, hex);
    }
    pthread_mutex_unlock(&repo->mu);
    if (!w) return repo_backend_read(repo->be, REPO_OBJ_PACK, hex, off, buf, len);
    rc = repo->be->ops->writer_read(w, off, buf, len);
    pthread_mutex_lock(&repo->mu);
    p = &repo->packs[no];
    p->w_refs--;
    writer_release(repo, p);
    pthread_mutex_unlock(&repo->mu);
    return rc;
}

void repo_pack_prefetch(struct repo *repo, uint32_t no, uint64_t off, uint64_t len)
{
    char hex[REPO_ID_HEX_LEN + 1];
    int ok;
    if (repo->remote || !repo->be || !repo->be->ops->prefetch) return;
    pthread_mutex_lock(&repo->mu);
    ok = no < repo->npacks && !repo->packs[no].w && repo->packs[no].state == REPO_PACK_SEALED;
    if (ok) repo_id_to_hex(&repo->packs[no].id, hex);
    pthread_mutex_unlock(&repo->mu);
    if (ok) repo->be->ops->prefetch(repo->be, REPO_OBJ_PACK, hex, off, len);
}

int repo_pack_size(struct repo *repo, uint32_t no, uint64_t *size)
{
    char hex[REPO_ID_HEX_LEN + 1];
    const struct repo_pack *p;
    pthread_mutex_lock(&repo->mu);
    if (no >= repo->npacks) {
        pthread_mutex_unlock(&repo->mu);
        return -ENXIO;
    }
    p = &repo->packs[no];
    if (p->w) { /* being written: what is reserved (every committed record is written) */
        *size = p->size;
        pthread_mutex_unlock(&repo->mu);
        return 0;
    }
    if (p->state != REPO_PACK_SEALED) {
        pthread_mutex_unlock(&repo->mu);
        return -ENXIO;
    }
    repo_id_to_hex(&p->id, hex);
    pthread_mutex_unlock(&repo->mu);
    return repo->be->ops->stat(repo->be, REPO_OBJ_PACK, hex, size);
}

void repo_pack_close_all(struct repo *repo)
{
    sealers_stop(repo); /* after the close's flush nothing is queued; a failed open queued nothing */
    for (uint32_t k = 0; k < repo->npacks; k++) {
        struct repo_pack *p = &repo->packs[k];
        /* A writer still here was never sealed: its blobs were never promised durable. */
        if (p->w) repo->be->ops->writer_free(p->w);
        free(p->ents);
    }
    free(repo->packs);
    repo->packs = NULL;
    repo->npacks = repo->packs_cap = 0;
    free(repo->pmap.slots);
    memset(&repo->pmap, 0, sizeof repo->pmap);
}

/* ---- trailers ---- */

int repo_pack_parse_footer(const uint8_t footer[REPO_PACK_FOOTER_LEN], uint64_t file_size, uint64_t *tlen_out,
                           char *why, size_t whylen)
{
    uint64_t tlen;
    if (file_size < REPO_PACK_FOOTER_LEN + REPO_AEAD_OVERHEAD + 4) {
        repo_seterr(why, whylen, "pack is too short (%llu bytes) to hold a footer",
                    (unsigned long long)file_size);
        return -EBADMSG;
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
    *tlen_out = tlen;
    return 0;
}

int repo_pack_parse_trailer(const uint8_t *trailer, uint64_t tlen, uint64_t data_end, struct repo_pentry **ents_out,
                            size_t *n_out, char *why, size_t whylen)
{
    struct repo_pentry *ents;
    uint32_t count;
    if (tlen < REPO_AEAD_OVERHEAD + 4) {
        repo_seterr(why, whylen, "implausible trailer length %llu", (unsigned long long)tlen);
        return -EBADMSG;
    }
    count = repo_get_u32(trailer + REPO_NONCE_LEN);
    if ((uint64_t)count * REPO_PENTRY_LEN + 4 + REPO_AEAD_OVERHEAD != tlen) {
        repo_seterr(why, whylen, "trailer count %u does not match its length", count);
        return -EBADMSG;
    }
    ents = malloc((count ? count : 1) * sizeof *ents);
    if (!ents) return -ENOMEM;
    for (uint32_t k = 0; k < count; k++) {
        repo_pentry_decode(trailer + REPO_NONCE_LEN + 4 + (size_t)k * REPO_PENTRY_LEN, &ents[k]);
        if (repo_pentry_validate(&ents[k], data_end) < 0) {
            free(ents);
            repo_seterr(why, whylen, "trailer record %u is out of range", k);
            return -EBADMSG;
        }
    }
    *ents_out = ents;
    *n_out = count;
    return 0;
}

int repo_pack_read_trailer(struct repo *repo, const repo_id_t *id, uint64_t file_size,
                           struct repo_pentry **ents_out, size_t *n_out, char *why, size_t whylen)
{
    uint8_t footer[REPO_PACK_FOOTER_LEN], *trailer;
    char hex[REPO_ID_HEX_LEN + 1];
    uint64_t tlen, data_end;
    int rc;
    if (file_size < REPO_PACK_FOOTER_LEN + REPO_AEAD_OVERHEAD + 4) {
        repo_seterr(why, whylen, "pack is too short (%llu bytes) to hold a footer",
                    (unsigned long long)file_size);
        return -EBADMSG;
    }
    repo_id_to_hex(id, hex);
    rc = repo_backend_read(repo->be, REPO_OBJ_PACK, hex, file_size - sizeof footer, footer,
                           sizeof footer);
    if (rc < 0) {
        repo_seterr(why, whylen, "cannot read the footer: %s", strerror(-rc));
        return rc == -EIO ? -EBADMSG : rc;
    }
    if ((rc = repo_pack_parse_footer(footer, file_size, &tlen, why, whylen)) < 0) return rc;
    data_end = file_size - REPO_PACK_FOOTER_LEN - tlen;
    trailer = malloc(tlen);
    if (!trailer) return -ENOMEM;
    rc = repo_backend_read(repo->be, REPO_OBJ_PACK, hex, data_end, trailer, tlen);
    if (rc == 0) rc = repo_aead_open(repo->enc_key, footer, 12, trailer, tlen);
    if (rc < 0) {
        free(trailer);
        repo_seterr(why, whylen, "trailer %s", rc == -EBADMSG ? "fails authentication" :
                    "cannot be read");
        return rc == -EIO ? -EBADMSG : rc;
    }
    rc = repo_pack_parse_trailer(trailer, tlen, data_end, ents_out, n_out, why, whylen);
    free(trailer);
    return rc;
}

/* ---- listing, recovery and the index's view of packs ---- */

struct list_ctx {
    struct repo *repo;
    int (*fn)(struct repo *repo, const repo_id_t *id, void *arg);
    void *arg;
};

static int list_one(void *ctx, const char *name)
{
    struct list_ctx *lc = ctx;
    repo_id_t id;
    if (repo_id_from_hex(name, &id) < 0) return 0; /* not a pack: ignored (format section 2) */
    return lc->fn(lc->repo, &id, lc->arg);
}

int repo_pack_list_disk(struct repo *repo,
                        int (*fn)(struct repo *repo, const repo_id_t *id, void *arg), void *arg)
{
    struct list_ctx lc = { repo, fn, arg };
    return repo->be->ops->list(repo->be, REPO_OBJ_PACK, list_one, &lc);
}

static int scan_one(struct repo *repo, const repo_id_t *id, void *arg)
{
    struct repo_pentry *ents = NULL;
    size_t n = 0;
    uint64_t size = 0;
    char why[200], hex[REPO_ID_HEX_LEN + 1];
    int64_t no;
    int rc;
    unsigned *recovered = arg;
    pthread_mutex_lock(&repo->mu);
    no = repo_packmap_find(repo, id);
    if (no >= 0) {
        repo->packs[no].on_disk = true;
        pthread_mutex_unlock(&repo->mu);
        return 0;
    }
    pthread_mutex_unlock(&repo->mu);
    /* A pack no index object names: a crash came between its commit and the index write. */
    repo_id_to_hex(id, hex);
    if (repo->be->ops->stat(repo->be, REPO_OBJ_PACK, hex, &size) < 0) return 0;
    rc = repo_pack_read_trailer(repo, id, size, &ents, &n, why, sizeof why);
    if (rc == -ENOMEM) return rc;
    if (rc < 0) {
        log_warn("repo: pack %s is not indexed and unreadable (%s); skipped", hex, why);
        return 0;
    }
    pthread_mutex_lock(&repo->mu);
    no = repo_pack_add(repo, id, REPO_PACK_SEALED);
    if (no >= 0) {
        struct repo_pack *p = &repo->packs[no];
        p->size = size;
        p->on_disk = true;
        p->indexed = false;
        p->ents = ents;
        p->nents = p->ents_cap = n;
        ents = NULL;
        rc = repo_itab_add_pack(&repo->idx, (uint32_t)no, p->ents, p->nents);
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
        repo_seterr(err, errlen, "cannot list the packs of %s: %s", repo->dir, strerror(-rc));
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

int repo_pack_index_add_locked(struct repo *repo, const struct repo_index_pack *ip)
{
    int64_t no = repo_packmap_find(repo, &ip->id);
    if (no < 0) {
        no = repo_pack_add(repo, &ip->id, REPO_PACK_SEALED);
        if (no < 0) return (int)no;
        repo->packs[no].size = ip->size;
    }
    repo->packs[no].indexed = true;
    return repo_itab_add_pack(&repo->idx, (uint32_t)no, ip->ents, ip->n);
}

int repo_pack_index_loaded(struct repo *repo, const struct repo_index_pack *ip, void *ctx)
{
    int rc;
    (void)ctx;
    pthread_mutex_lock(&repo->mu);
    rc = repo_pack_index_add_locked(repo, ip);
    pthread_mutex_unlock(&repo->mu);
    return rc;
}

int repo_pack_trailer_of(struct repo *repo, uint32_t no, struct repo_index_pack *ip)
{
    struct repo_pentry *ents = NULL;
    size_t n = 0;
    char why[200], hex[REPO_ID_HEX_LEN + 1];
    const struct repo_pack *p;
    int rc;
    pthread_mutex_lock(&repo->mu);
    p = &repo->packs[no];
    ip->id = p->id;
    ip->size = p->size;
    if (p->ents) { /* a recovered pack keeps its list until it is indexed */
        n = p->nents;
        ents = malloc((n ? n : 1) * sizeof *ents);
        if (ents && n) memcpy(ents, p->ents, n * sizeof *ents);
        pthread_mutex_unlock(&repo->mu);
        if (!ents) return -ENOMEM;
        ip->ents = ents;
        ip->n = n;
        return 0;
    }
    pthread_mutex_unlock(&repo->mu);
    /* Sealed in this session: the pack keeps no list in memory, its trailer has it. */
    rc = repo_pack_read_trailer(repo, &ip->id, ip->size, &ents, &n, why, sizeof why);
    if (rc < 0) {
        repo_id_to_hex(&ip->id, hex);
        log_error("repo: cannot read back the trailer of pack %s to index it: %s", hex, why);
        return rc;
    }
    ip->ents = ents;
    ip->n = n;
    return 0;
}
