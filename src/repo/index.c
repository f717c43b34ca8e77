/* index.c: the in-memory blob index and the index files that persist it.
 *
 * Memory (structures in repo_int.h): every blob is a 40-byte record (id, pack number with the
 * type, zstd and dead flags in its top bits, offset) in a dense array of fixed-size blocks. A
 * pack's records form one run in offset order, each ending where the next begins, so a blob's
 * stored length is the next record's offset (or the run's end, kept per pack) minus its own; a
 * hole in a pack (an append that failed) or a second copy of an id gets a dead record, which keeps
 * that rule exact. Runs stay whole because a record is appended when its put reserves its bytes
 * in the open pack (under repo->mu, in offset order, and only one pack is open), and because a
 * sealed pack's records are added all at once, sorted. A blob's plaintext length is not kept
 * (repo.c learns it from the blob). The table maps ids to records: linear probing over a u32
 * reference and a fingerprint byte per slot, at most 9/10 full and growing by 5/4, so it is
 * 5/0.9 to 5/0.72 bytes per id. Ids whose put is in flight live in a small pending pool. Callers
 * hold repo->mu.
 *
 * Files: the index object index/<sha256 hex of its bytes> is an envelope ("CFIX", see crypto.c)
 * whose plaintext lists packs and, for each, its blob records in the same 48-byte form as a pack
 * trailer. On open every index object is read through the backend; every number is checked before
 * anything of it is used, each pack it names goes to the caller's function (which registers the
 * pack and adds its records), and a damaged object is skipped with a warning (its packs are then
 * recovered from their trailers). A writer is given the packs' records (trailers) by its caller.
 * index.c calls nothing in pack.c, repo.c or above: it is below them. */
#include "repo/repo_int.h"
#include "util/log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_FILE_MAX ((size_t)1 << 31)
#define INDEX_PACK_HDR (REPO_ID_LEN + 8 + 4)
#define IREC_MAX 0x7FFFFFFFu            /* records, ids and pool entries stay below 2^31 */
#define POOL_USED (REPO_IREC_NONE - 1)  /* repo_ipend.next of an entry in use */
#define TAB_MIN 64u

_Static_assert(sizeof(struct repo_irec) == 40, "an index record must stay 40 bytes");

/* ---- helpers ---- */

/* id_hash: ids are keyed hashes, already uniform; the mix only guards against made-up ids. */
static inline uint64_t id_hash(const uint8_t *id)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static inline uint32_t tab_home(uint64_t h, uint32_t cap)
{
    return (uint32_t)(((h >> 32) * (uint64_t)cap) >> 32);
}

static inline uint8_t tab_fp(uint64_t h) { return (uint8_t)h ? (uint8_t)h : 1; }

static inline struct repo_irec *rec_at(const struct repo_itab *t, uint32_t k)
{
    return &t->blocks[k / REPO_IREC_BLOCK][k % REPO_IREC_BLOCK];
}

static inline uint32_t rec_pack(const struct repo_irec *r) { return r->packw & REPO_IREC_PACK_MASK; }

static inline uint32_t rec_flags(const struct repo_pentry *e)
{
    return (e->type == REPO_BLOB_TREE ? REPO_IREC_TREE : 0) |
           ((e->flags & REPO_BLOB_F_ZSTD) ? REPO_IREC_ZSTD : 0);
}

static inline const uint8_t *ref_id(const struct repo_itab *t, uint32_t ref)
{
    if (ref & REPO_IREF_PENDING) return t->pool[ref & ~REPO_IREF_PENDING].id;
    return rec_at(t, ref)->id;
}

/* rec_stored: a record's stored length: up to the next record of its run, or the run's end. */
static uint32_t rec_stored(const struct repo_itab *t, uint32_t k)
{
    const struct repo_irec *r = rec_at(t, k);
    uint32_t pack = rec_pack(r);
    if (k + 1 < t->nrec) {
        const struct repo_irec *next = rec_at(t, k + 1);
        if (rec_pack(next) == pack) return next->offset - r->offset;
    }
    return t->run_end[pack] - r->offset;
}

static void rec_get(const struct repo_itab *t, uint32_t k, struct repo_pentry *e)
{
    const struct repo_irec *r = rec_at(t, k);
    memcpy(e->id.b, r->id, REPO_ID_LEN);
    e->type = (r->packw & REPO_IREC_TREE) ? REPO_BLOB_TREE : REPO_BLOB_DATA;
    e->flags = (r->packw & REPO_IREC_ZSTD) ? REPO_BLOB_F_ZSTD : 0;
    e->offset = r->offset;
    e->stored = rec_stored(t, k);
    e->plain = (e->flags & REPO_BLOB_F_ZSTD) ? REPO_PLAIN_UNKNOWN : e->stored - REPO_AEAD_OVERHEAD;
}

static size_t rec_capacity(const struct repo_itab *t)
{
    return t->nblocks ? t->block0_cap + (t->nblocks - 1) * (size_t)REPO_IREC_BLOCK : 0;
}

/* rec_room: capacity for `more` records, so the appends that follow cannot fail. Block 0 grows
 * by doubling up to a full block; after it, whole blocks are added and never move. */
static int rec_room(struct repo_itab *t, size_t more)
{
    size_t need = (size_t)t->nrec + more;
    if (need > IREC_MAX) return -EOVERFLOW;
    while (rec_capacity(t) < need) {
        if (t->nblocks == t->blocks_cap) {
            size_t ncap = t->blocks_cap ? t->blocks_cap * 2 : 4;
            struct repo_irec **nb = realloc(t->blocks, ncap * sizeof *nb);
            if (!nb) return -ENOMEM;
            t->blocks = nb;
            t->blocks_cap = ncap;
        }
        if (t->nblocks <= 1 && t->block0_cap < REPO_IREC_BLOCK) {
            size_t ncap = t->block0_cap ? t->block0_cap * 2 : 64;
            struct repo_irec *b;
            while (ncap < need && ncap < REPO_IREC_BLOCK) ncap *= 2;
            if (ncap > REPO_IREC_BLOCK) ncap = REPO_IREC_BLOCK;
            b = realloc(t->nblocks ? t->blocks[0] : NULL, ncap * sizeof *b);
            if (!b) return -ENOMEM;
            t->blocks[0] = b;
            t->nblocks = 1;
            t->block0_cap = ncap;
            continue;
        }
        t->blocks[t->nblocks] = malloc((size_t)REPO_IREC_BLOCK * sizeof(struct repo_irec));
        if (!t->blocks[t->nblocks]) return -ENOMEM;
        t->nblocks++;
    }
    return 0;
}

static int run_end_room(struct repo_itab *t, uint32_t pack)
{
    uint32_t ncap;
    uint32_t *nr;
    if (pack > REPO_IREC_PACK_MASK) return -EOVERFLOW;
    if (pack < t->run_end_cap) return 0;
    ncap = t->run_end_cap ? t->run_end_cap : 64;
    while (ncap <= pack) ncap *= 2;
    nr = realloc(t->run_end, (size_t)ncap * sizeof *nr);
    if (!nr) return -ENOMEM;
    memset(nr + t->run_end_cap, 0, (size_t)(ncap - t->run_end_cap) * sizeof *nr);
    t->run_end = nr;
    t->run_end_cap = ncap;
    return 0;
}

static inline int has_run(const struct repo_itab *t, uint32_t pack)
{
    return pack < t->run_end_cap && t->run_end[pack] != 0;
}

/* ---- table ---- */

/* tab_probe: 1 and *slot = the id's slot, or 0 and *slot = the empty slot where it would go. */
static int tab_probe(const struct repo_itab *t, const uint8_t *id, uint64_t h, uint32_t *slot)
{
    uint32_t i = tab_home(h, t->cap);
    uint8_t f = tab_fp(h), g;
    __builtin_prefetch(&t->ref[i]); /* its cache miss overlaps the fingerprint's */
    while ((g = t->fp[i]) != 0) {
        if (g == f && memcmp(ref_id(t, t->ref[i]), id, REPO_ID_LEN) == 0) {
            *slot = i;
            return 1;
        }
        if (++i == t->cap) i = 0;
    }
    *slot = i;
    return 0;
}

static void tab_place(uint32_t *ref, uint8_t *fp, uint32_t cap, uint64_t h, uint32_t r)
{
    uint32_t i = tab_home(h, cap);
    while (fp[i]) {
        if (++i == cap) i = 0;
    }
    fp[i] = tab_fp(h);
    ref[i] = r;
}

/* tab_resize: a table of ncap slots holding every live record and every pending id. */
static int tab_resize(struct repo_itab *t, uint32_t ncap)
{
    uint32_t *nref = malloc((size_t)ncap * sizeof *nref);
    uint8_t *nfp = calloc(ncap, 1);
    if (!nref || !nfp) {
        free(nref);
        free(nfp);
        return -ENOMEM;
    }
    for (size_t b = 0; b < t->nblocks; b++) {
        uint32_t base = (uint32_t)(b * REPO_IREC_BLOCK), n;
        if (base >= t->nrec) break;
        n = t->nrec - base < REPO_IREC_BLOCK ? t->nrec - base : REPO_IREC_BLOCK;
        for (uint32_t k = 0; k < n; k++) {
            const struct repo_irec *r = &t->blocks[b][k];
            if (!(r->packw & REPO_IREC_DEAD)) tab_place(nref, nfp, ncap, id_hash(r->id), base + k);
        }
    }
    for (uint32_t p = 0; p < t->pool_cap; p++)
        if (t->pool[p].next == POOL_USED)
            tab_place(nref, nfp, ncap, id_hash(t->pool[p].id), p | REPO_IREF_PENDING);
    free(t->ref);
    free(t->fp);
    t->ref = nref;
    t->fp = nfp;
    t->cap = ncap;
    return 0;
}

/* tab_room: room for `more` ids within the 9/10 load bound; grows by 5/4 steps. */
static int tab_room(struct repo_itab *t, size_t more)
{
    uint64_t need = (uint64_t)t->count + more, ncap = t->cap;
    if (need * 10 <= (uint64_t)t->cap * 9) return 0;
    if (need > IREC_MAX) return -EOVERFLOW;
    while (need * 10 > ncap * 9) ncap += ncap / 4;
    return tab_resize(t, (uint32_t)ncap);
}

/* tab_delete: empties slot i by backward shifting (no tombstones). */
static void tab_delete(struct repo_itab *t, uint32_t i)
{
    uint32_t j = i;
    for (;;) {
        uint32_t k;
        int stays;
        if (++j == t->cap) j = 0;
        if (t->fp[j] == 0) break;
        k = tab_home(id_hash(ref_id(t, t->ref[j])), t->cap);
        /* slot j stays unless the hole at i lies cyclically in [k, j) */
        stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            t->fp[i] = t->fp[j];
            t->ref[i] = t->ref[j];
            i = j;
        }
    }
    t->fp[i] = 0;
    t->count--;
}

/* ---- pending pool ---- */

static int pool_take(struct repo_itab *t, const uint8_t *id, uint32_t *out)
{
    uint32_t p;
    if (t->pool_free == REPO_IREC_NONE) {
        uint32_t ncap = t->pool_cap ? t->pool_cap * 2 : 16;
        struct repo_ipend *np;
        if (ncap > IREC_MAX) return -EOVERFLOW;
        np = realloc(t->pool, (size_t)ncap * sizeof *np);
        if (!np) return -ENOMEM;
        for (uint32_t k = t->pool_cap; k < ncap; k++) np[k].next = k + 1 < ncap ? k + 1 : REPO_IREC_NONE;
        t->pool = np;
        t->pool_free = t->pool_cap;
        t->pool_cap = ncap;
    }
    p = t->pool_free;
    t->pool_free = t->pool[p].next;
    memcpy(t->pool[p].id, id, REPO_ID_LEN);
    t->pool[p].rec = REPO_IREC_NONE;
    t->pool[p].next = POOL_USED;
    *out = p;
    return 0;
}

static void pool_give(struct repo_itab *t, uint32_t p)
{
    t->pool[p].next = t->pool_free;
    t->pool_free = p;
}

/* ---- the index ---- */

int repo_itab_init(struct repo_itab *t, size_t hint)
{
    uint64_t cap = TAB_MIN;
    memset(t, 0, sizeof *t);
    t->pool_free = REPO_IREC_NONE;
    if (hint > IREC_MAX) hint = IREC_MAX;
    while ((uint64_t)hint * 10 > cap * 9) cap += cap / 4;
    t->ref = malloc((size_t)cap * sizeof *t->ref);
    t->fp = calloc((size_t)cap, 1);
    if (!t->ref || !t->fp) {
        repo_itab_free(t);
        return -ENOMEM;
    }
    t->cap = (uint32_t)cap;
    return 0;
}

void repo_itab_free(struct repo_itab *t)
{
    for (size_t b = 0; b < t->nblocks; b++) free(t->blocks[b]);
    free(t->blocks);
    free(t->ref);
    free(t->fp);
    free(t->run_end);
    free(t->pool);
    memset(t, 0, sizeof *t);
    t->pool_free = REPO_IREC_NONE;
}

size_t repo_itab_bytes(const struct repo_itab *t)
{
    return rec_capacity(t) * sizeof(struct repo_irec) + t->blocks_cap * sizeof *t->blocks +
           (size_t)t->cap * (sizeof *t->ref + sizeof *t->fp) +
           (size_t)t->run_end_cap * sizeof *t->run_end + (size_t)t->pool_cap * sizeof *t->pool;
}

int repo_itab_lookup(const struct repo_itab *t, const repo_id_t *id, uint32_t *pack,
                     struct repo_pentry *e)
{
    uint32_t i, r;
    if (!tab_probe(t, id->b, id_hash(id->b), &i)) return REPO_ITAB_ABSENT;
    r = t->ref[i];
    if (r & REPO_IREF_PENDING) return REPO_ITAB_PENDING;
    if (pack) *pack = rec_pack(rec_at(t, r));
    if (e) rec_get(t, r, e);
    return REPO_ITAB_STORED;
}

int repo_itab_claim(struct repo_itab *t, const repo_id_t *id, uint32_t *pack)
{
    uint64_t h = id_hash(id->b);
    uint32_t i, p;
    int rc;
    if (tab_probe(t, id->b, h, &i)) {
        uint32_t r = t->ref[i];
        if (r & REPO_IREF_PENDING) return REPO_ITAB_PENDING;
        if (pack) *pack = rec_pack(rec_at(t, r));
        return REPO_ITAB_STORED;
    }
    if ((uint64_t)(t->count + 1) * 10 > (uint64_t)t->cap * 9) {
        if ((rc = tab_room(t, 1)) < 0) return rc;
        tab_probe(t, id->b, h, &i); /* the table moved: find the empty slot again */
    }
    if ((rc = pool_take(t, id->b, &p)) < 0) return rc;
    t->fp[i] = tab_fp(h);
    t->ref[i] = p | REPO_IREF_PENDING;
    t->count++;
    return REPO_ITAB_CLAIMED;
}

int repo_itab_reclaim(struct repo_itab *t, const repo_id_t *id)
{
    uint32_t i, p;
    int rc;
    if (!tab_probe(t, id->b, id_hash(id->b), &i) || (t->ref[i] & REPO_IREF_PENDING)) return -ENOENT;
    if ((rc = pool_take(t, id->b, &p)) < 0) return rc;
    rec_at(t, t->ref[i])->packw |= REPO_IREC_DEAD; /* the lost copy stays in its run, dead */
    t->ref[i] = p | REPO_IREF_PENDING;
    return 0;
}

int repo_itab_reserve(struct repo_itab *t, const struct repo_pentry *e, uint32_t pack)
{
    struct repo_irec *r;
    uint32_t i;
    int rc;
    if (e->stored < REPO_AEAD_OVERHEAD || (uint64_t)e->offset + e->stored > UINT32_MAX)
        return -EOVERFLOW;
    if ((rc = run_end_room(t, pack)) < 0) return rc;
    if (has_run(t, pack) && (rec_pack(rec_at(t, t->nrec - 1)) != pack ||
                             t->run_end[pack] != e->offset)) {
        /* A pack's records must stay one run in offset order; a bug elsewhere broke that. */
        log_error("repo: index run of pack %u does not end at offset %u; append refused", pack,
                  e->offset);
        return -EIO;
    }
    if ((rc = rec_room(t, 1)) < 0) return rc;
    r = rec_at(t, t->nrec);
    memcpy(r->id, e->id.b, REPO_ID_LEN);
    r->packw = pack | rec_flags(e) | REPO_IREC_DEAD; /* live once written (repo_itab_commit) */
    r->offset = e->offset;
    if (tab_probe(t, e->id.b, id_hash(e->id.b), &i) && (t->ref[i] & REPO_IREF_PENDING)) {
        struct repo_ipend *q = &t->pool[t->ref[i] & ~REPO_IREF_PENDING];
        if (q->rec == REPO_IREC_NONE) q->rec = t->nrec;
    }
    t->nrec++;
    t->run_end[pack] = e->offset + e->stored;
    return 0;
}

void repo_itab_commit(struct repo_itab *t, const repo_id_t *id)
{
    uint32_t i, p, rec;
    if (!tab_probe(t, id->b, id_hash(id->b), &i) || !(t->ref[i] & REPO_IREF_PENDING)) return;
    p = t->ref[i] & ~REPO_IREF_PENDING;
    rec = t->pool[p].rec;
    if (rec == REPO_IREC_NONE) return; /* not reserved: another put's claim (after a rebuild) */
    rec_at(t, rec)->packw &= ~REPO_IREC_DEAD;
    t->ref[i] = rec;
    pool_give(t, p);
}

void repo_itab_remove(struct repo_itab *t, const repo_id_t *id)
{
    uint32_t i, p;
    if (!tab_probe(t, id->b, id_hash(id->b), &i) || !(t->ref[i] & REPO_IREF_PENDING)) return;
    p = t->ref[i] & ~REPO_IREF_PENDING;
    tab_delete(t, i); /* reads pool entries of other slots only */
    pool_give(t, p);  /* a reserved record stays in its run, dead */
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* append_rec: appends a record (room made by the caller); a live one enters the table unless its
 * id is there already (the first copy wins, this one is dead). */
static void append_rec(struct repo_itab *t, const uint8_t *id, uint32_t packw, uint32_t offset)
{
    struct repo_irec *r = rec_at(t, t->nrec);
    memcpy(r->id, id, REPO_ID_LEN);
    r->packw = packw;
    r->offset = offset;
    if (!(packw & REPO_IREC_DEAD)) {
        uint64_t h = id_hash(id);
        uint32_t i;
        if (tab_probe(t, id, h, &i)) {
            r->packw |= REPO_IREC_DEAD;
        } else {
            t->fp[i] = tab_fp(h);
            t->ref[i] = t->nrec;
            t->count++;
        }
    }
    t->nrec++;
}

int repo_itab_add_pack(struct repo_itab *t, uint32_t pack, const struct repo_pentry *ents,
                       size_t n)
{
    static const uint8_t zero_id[REPO_ID_LEN];
    uint64_t *ord, end = 0;
    size_t gaps = 0;
    int rc, sorted = 1;
    if (n == 0) return 0;
    if (n > IREC_MAX) return -EOVERFLOW;
    if ((rc = run_end_room(t, pack)) < 0) return rc;
    if (has_run(t, pack)) return 0; /* named by another index file too: loaded already */
    ord = malloc(n * sizeof *ord);
    if (!ord) return -ENOMEM;
    for (size_t k = 0; k < n; k++) {
        ord[k] = (uint64_t)ents[k].offset << 32 | k;
        if (k && ord[k] < ord[k - 1]) sorted = 0;
    }
    if (!sorted) qsort(ord, n, sizeof *ord, cmp_u64);
    for (size_t k = 0; k < n; k++) {
        const struct repo_pentry *e = &ents[(uint32_t)ord[k]];
        if (e->stored < REPO_AEAD_OVERHEAD || (uint64_t)e->offset + e->stored > UINT32_MAX ||
            (k && e->offset < end)) { /* overlapping records: damage */
            free(ord);
            return -EBADMSG;
        }
        if (k && e->offset > end) gaps++;
        end = (uint64_t)e->offset + e->stored;
    }
    if ((rc = rec_room(t, n + gaps)) < 0 || (rc = tab_room(t, n)) < 0) {
        free(ord);
        return rc;
    }
    for (size_t k = 0; k < n; k++) {
        const struct repo_pentry *e = &ents[(uint32_t)ord[k]];
        if (k && e->offset > end) append_rec(t, zero_id, pack | REPO_IREC_DEAD, (uint32_t)end);
        append_rec(t, e->id.b, pack | rec_flags(e), e->offset);
        end = (uint64_t)e->offset + e->stored;
    }
    t->run_end[pack] = (uint32_t)end;
    free(ord);
    return 0;
}

struct carried { uint32_t pack, old_start, new_start, n; };

static int carry_run(struct repo_itab *dst, const struct repo_itab *src, uint32_t from,
                     uint32_t to, uint32_t pack, struct carried **cv, size_t *ncv, size_t *cvcap)
{
    int rc;
    if ((rc = run_end_room(dst, pack)) < 0 || (rc = rec_room(dst, to - from)) < 0 ||
        (rc = tab_room(dst, to - from)) < 0)
        return rc;
    if (*ncv == *cvcap) {
        size_t ncap = *cvcap ? *cvcap * 2 : 8;
        struct carried *nv = realloc(*cv, ncap * sizeof *nv);
        if (!nv) return -ENOMEM;
        *cv = nv;
        *cvcap = ncap;
    }
    (*cv)[(*ncv)++] = (struct carried){ pack, from, dst->nrec, to - from };
    for (uint32_t k = from; k < to; k++) {
        const struct repo_irec *r = rec_at(src, k);
        append_rec(dst, r->id, r->packw, r->offset);
    }
    dst->run_end[pack] = src->run_end[pack];
    return 0;
}

int repo_itab_carry(struct repo_itab *dst, const struct repo_itab *src, const uint8_t *keep,
                    uint32_t npacks, int64_t last_pack)
{
    struct carried *cv = NULL;
    size_t ncv = 0, cvcap = 0;
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        uint32_t k = 0;
        while (k < src->nrec && rc == 0) {
            uint32_t pack = rec_pack(rec_at(src, k)), j = k + 1;
            while (j < src->nrec && rec_pack(rec_at(src, j)) == pack) j++;
            if (pack < npacks && keep[pack] && (pass == 1) == ((int64_t)pack == last_pack) &&
                !has_run(dst, pack))
                rc = carry_run(dst, src, k, j, pack, &cv, &ncv, &cvcap);
            k = j;
        }
    }
    for (uint32_t p = 0; p < src->pool_cap && rc == 0; p++) {
        const struct repo_ipend *q = &src->pool[p];
        uint32_t i, np;
        if (q->next != POOL_USED) continue;
        if ((rc = tab_room(dst, 1)) < 0) break;
        if (tab_probe(dst, q->id, id_hash(q->id), &i)) continue; /* stored in a pack by now */
        if ((rc = pool_take(dst, q->id, &np)) < 0) break;
        for (size_t c = 0; c < ncv && q->rec != REPO_IREC_NONE; c++)
            if (q->rec >= cv[c].old_start && q->rec - cv[c].old_start < cv[c].n)
                dst->pool[np].rec = cv[c].new_start + (q->rec - cv[c].old_start);
        dst->fp[i] = tab_fp(id_hash(q->id));
        dst->ref[i] = np | REPO_IREF_PENDING;
        dst->count++;
    }
    free(cv);
    return rc;
}

int repo_itab_pack_records(const struct repo_itab *t, uint32_t pack, struct repo_pentry **out,
                           size_t *n)
{
    size_t cap = 64, k = 0;
    struct repo_pentry *v = malloc(cap * sizeof *v);
    if (!v) return -ENOMEM;
    for (uint32_t r = 0; r < t->nrec; r++) {
        const struct repo_irec *rec = rec_at(t, r);
        if (rec_pack(rec) != pack || (rec->packw & REPO_IREC_DEAD)) continue;
        if (k == cap) {
            struct repo_pentry *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) {
                free(v);
                return -ENOMEM;
            }
            v = nv;
            cap *= 2;
        }
        rec_get(t, r, &v[k++]);
    }
    *out = v;
    *n = k;
    return 0;
}

uint32_t repo_itab_prefer(struct repo_itab *t,
                          int (*bad)(void *ctx, const repo_id_t *id, uint32_t pack),
                          int (*usable)(void *ctx, const repo_id_t *id, uint32_t pack), void *ctx)
{
    uint32_t switched = 0;
    for (uint32_t k = 0; k < t->nrec; k++) {
        struct repo_irec *r = rec_at(t, k), *live;
        repo_id_t id;
        uint32_t i;
        if (!(r->packw & REPO_IREC_DEAD)) continue;
        memcpy(id.b, r->id, REPO_ID_LEN);
        if (!tab_probe(t, r->id, id_hash(r->id), &i) || (t->ref[i] & REPO_IREF_PENDING)) continue;
        live = rec_at(t, t->ref[i]);
        if (!bad(ctx, &id, rec_pack(live)) || !usable(ctx, &id, rec_pack(r))) continue;
        live->packw |= REPO_IREC_DEAD; /* stays in its run, as every dead copy does */
        r->packw &= ~REPO_IREC_DEAD;
        t->ref[i] = k;
        switched++;
    }
    return switched;
}

uint32_t repo_itab_find_rec(const struct repo_itab *t, const repo_id_t *id)
{
    uint32_t i, r;
    if (!tab_probe(t, id->b, id_hash(id->b), &i)) return REPO_IREC_NONE;
    r = t->ref[i];
    return (r & REPO_IREF_PENDING) ? REPO_IREC_NONE : r;
}

void repo_itab_rec_info(const struct repo_itab *t, uint32_t k, struct repo_pentry *e,
                        uint32_t *pack, int *dead)
{
    const struct repo_irec *r = rec_at(t, k);
    rec_get(t, k, e);
    *pack = rec_pack(r);
    *dead = (r->packw & REPO_IREC_DEAD) != 0;
}

void repo_itab_count_packs(const struct repo_itab *t, size_t *counts, uint32_t npacks)
{
    for (uint32_t r = 0; r < t->nrec; r++) {
        const struct repo_irec *rec = rec_at(t, r);
        if (!(rec->packw & REPO_IREC_DEAD) && rec_pack(rec) < npacks) counts[rec_pack(rec)]++;
    }
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

/* ---- index files ---- */

/* check_file: every pack header and record of an index plaintext, before any is used. */
static int check_file(const uint8_t *plain, size_t plen, uint32_t *npacks_out)
{
    size_t pos = 4;
    uint32_t npacks;
    if (plen < 4) return -EBADMSG;
    npacks = repo_get_u32(plain);
    for (uint32_t k = 0; k < npacks; k++) {
        uint64_t psize;
        uint32_t nb;
        if (plen - pos < INDEX_PACK_HDR) return -EBADMSG;
        psize = repo_get_u64(plain + pos + 32);
        nb = repo_get_u32(plain + pos + 40);
        pos += INDEX_PACK_HDR;
        if ((plen - pos) / REPO_PENTRY_LEN < nb || psize < REPO_PACK_FOOTER_LEN) return -EBADMSG;
        for (uint32_t b = 0; b < nb; b++, pos += REPO_PENTRY_LEN) {
            struct repo_pentry e;
            repo_pentry_decode(plain + pos, &e);
            if (repo_pentry_validate(&e, psize - REPO_PACK_FOOTER_LEN) < 0) return -EBADMSG;
        }
    }
    *npacks_out = npacks;
    return 0;
}

int repo_index_parse(struct repo *repo, const uint8_t *plain, size_t plen, repo_index_pack_fn fn, void *ctx)
{
    size_t pos = 4, cap = 0;
    struct repo_pentry *ents = NULL;
    uint32_t npacks = 0;
    int rc = check_file(plain, plen, &npacks);
    for (uint32_t k = 0; k < npacks && rc == 0; k++) {
        struct repo_index_pack ip;
        memcpy(ip.id.b, plain + pos, REPO_ID_LEN);
        ip.size = repo_get_u64(plain + pos + 32);
        ip.n = repo_get_u32(plain + pos + 40);
        pos += INDEX_PACK_HDR;
        if (ip.n > cap) {
            struct repo_pentry *ne = realloc(ents, ip.n * sizeof *ne);
            if (!ne) {
                rc = -ENOMEM;
                break;
            }
            ents = ne;
            cap = ip.n;
        }
        for (size_t b = 0; b < ip.n; b++, pos += REPO_PENTRY_LEN)
            repo_pentry_decode(plain + pos, &ents[b]);
        ip.ents = ents;
        rc = fn(repo, &ip, ctx);
    }
    free(ents);
    return rc;
}

int repo_index_load_one(struct repo *repo, const char *name, repo_index_pack_fn fn, void *ctx)
{
    void *data = NULL;
    size_t len = 0, plen = 0;
    uint8_t *plain = NULL, hash[32];
    char hex[65];
    int rc = repo->be->ops->get_all(repo->be, REPO_OBJ_INDEX, name, INDEX_FILE_MAX, &data, &len);
    if (rc < 0) return rc;
    repo_sha256(data, len, hash);
    repo_id_to_hex((const repo_id_t *)hash, hex);
    if (strcmp(hex, name) != 0) {
        free(data);
        return -EBADMSG;
    }
    rc = repo_env_open(repo->enc_key, "CFIX", data, len, &plain, &plen);
    if (rc == 0) rc = repo_index_parse(repo, plain, plen, fn, ctx);
    free(data);
    return rc;
}

/* ---- the set of index file names this process knows (repo->ixn, sorted) ---- */

static size_t ixn_find(const struct repo *repo, const repo_id_t *id, int *found)
{
    size_t lo = 0, hi = repo->nixn;
    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(repo->ixn[mid].b, id->b, REPO_ID_LEN);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int repo_ixn_add(struct repo *repo, const char *name)
{
    repo_id_t id;
    size_t at;
    int found, rc = 0;
    if (repo_id_from_hex(name, &id) < 0) return -EINVAL;
    pthread_mutex_lock(&repo->mu);
    at = ixn_find(repo, &id, &found);
    if (!found) {
        if (repo->nixn == repo->ixn_cap) {
            size_t ncap = repo->ixn_cap ? repo->ixn_cap * 2 : 64;
            repo_id_t *nv = realloc(repo->ixn, ncap * sizeof *nv);
            if (!nv) rc = -ENOMEM;
            else {
                repo->ixn = nv;
                repo->ixn_cap = ncap;
            }
        }
        if (rc == 0) {
            memmove(repo->ixn + at + 1, repo->ixn + at, (repo->nixn - at) * sizeof *repo->ixn);
            repo->ixn[at] = id;
            repo->nixn++;
        }
    }
    pthread_mutex_unlock(&repo->mu);
    return rc;
}

void repo_ixn_forget(struct repo *repo, const char *name)
{
    repo_id_t id;
    size_t at;
    int found;
    if (repo_id_from_hex(name, &id) < 0) return;
    pthread_mutex_lock(&repo->mu);
    at = ixn_find(repo, &id, &found);
    if (found) {
        memmove(repo->ixn + at, repo->ixn + at + 1, (repo->nixn - at - 1) * sizeof *repo->ixn);
        repo->nixn--;
    }
    pthread_mutex_unlock(&repo->mu);
}

int repo_ixn_has(struct repo *repo, const char *name)
{
    repo_id_t id;
    int found = 0;
    if (repo_id_from_hex(name, &id) < 0) return 0;
    pthread_mutex_lock(&repo->mu);
    (void)ixn_find(repo, &id, &found);
    pthread_mutex_unlock(&repo->mu);
    return found;
}

struct load_ctx {
    struct repo *repo;
    repo_index_pack_fn fn;
    void *ctx;
};

static int load_listed(void *arg, const char *name)
{
    struct load_ctx *lc = arg;
    repo_id_t dummy;
    char where[4096];
    int rc;
    if (repo_id_from_hex(name, &dummy) < 0) return 0; /* not an index object */
    rc = repo_index_load_one(lc->repo, name, lc->fn, lc->ctx);
    if (rc == -ENOMEM) return rc;
    (void)repo_ixn_add(lc->repo, name); /* known, even when damaged: a refresh need not read it again */
    if (rc < 0) {
        if (lc->repo->be->ops->where(lc->repo->be, REPO_OBJ_INDEX, name, where, sizeof where) < 0)
            snprintf(where, sizeof where, "index/%s", name);
        log_warn("repo: index file %s is damaged (%s); its packs will be read from their "
                 "trailers", where, strerror(-rc));
    }
    return 0;
}

int repo_index_load_all(struct repo *repo, repo_index_pack_fn fn, void *ctx, char *err,
                        size_t errlen)
{
    struct load_ctx lc = { repo, fn, ctx };
    int rc = repo->be->ops->list(repo->be, REPO_OBJ_INDEX, load_listed, &lc);
    if (rc < 0) repo_seterr(err, errlen, "cannot list the index of %s: %s", repo->dir,
                            strerror(-rc));
    return rc;
}

/* index_write_one: one index object naming packs[0..n). */
static int index_write_one(struct repo *repo, const struct repo_index_pack *packs, size_t n,
                           char out_name[REPO_ID_HEX_LEN + 1])
{
    size_t total = 4, pos = 4, outlen = 0;
    uint8_t *plain = NULL, *out = NULL, hash[32];
    int rc;
    for (size_t k = 0; k < n; k++) total += INDEX_PACK_HDR + packs[k].n * REPO_PENTRY_LEN;
    plain = malloc(total);
    if (!plain) return -ENOMEM;
    repo_put_u32(plain, (uint32_t)n);
    for (size_t k = 0; k < n; k++) {
        memcpy(plain + pos, packs[k].id.b, REPO_ID_LEN);
        repo_put_u64(plain + pos + 32, packs[k].size);
        repo_put_u32(plain + pos + 40, (uint32_t)packs[k].n);
        pos += INDEX_PACK_HDR;
        for (size_t b = 0; b < packs[k].n; b++, pos += REPO_PENTRY_LEN)
            repo_pentry_encode(plain + pos, &packs[k].ents[b]);
    }
    rc = repo_env_seal(repo->enc_key, "CFIX", plain, total, &out, &outlen);
    free(plain);
    if (rc < 0) return rc;
    repo_sha256(out, outlen, hash);
    repo_id_to_hex((const repo_id_t *)hash, out_name);
    rc = repo_backend_put_same(repo->be, REPO_OBJ_INDEX, out_name, out, outlen);
    if (rc < 0) log_error("repo: cannot write index file %s: %s", out_name, strerror(-rc));
    else (void)repo_ixn_add(repo, out_name);
    free(out);
    return rc;
}

/* repo_index_write splits its packs over objects of at most INDEX_FILE_ENTS records (a pack is
 * never split; a pack with more has an object of its own): writing one costs its plaintext and its
 * envelope (2 x 48 MiB at most) and a reader holds one object at a time, so neither the flush of a
 * large backup nor the open or the prune of a repository of millions of blobs holds a whole index
 * file beside the in-memory index (docs/repository-format.md section 7). */
#define INDEX_FILE_ENTS (1u << 20)

int repo_index_write(struct repo *repo, const struct repo_index_pack *packs, size_t n,
                     char out_name[REPO_ID_HEX_LEN + 1])
{
    size_t first = 0;
    int rc = 0;
    while (rc == 0 && first < n) {
        size_t end = first, ents = 0;
        while (end < n && (end == first || ents + packs[end].n <= INDEX_FILE_ENTS))
            ents += packs[end++].n;
        rc = index_write_one(repo, packs + first, end - first, out_name);
        first = end;
    }
    if (n == 0) rc = index_write_one(repo, packs, 0, out_name);
    return rc;
}
