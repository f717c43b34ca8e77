/* test_repo_index.c: the in-memory blob index (src/repo/index.c): its memory per blob (at most 48
 * bytes, checked at every size from 100k to 1M synthetic records and through repo_get_stats on a
 * real repository), exact locations (stored lengths derived from neighbouring records, holes and
 * duplicate copies), the pending states of a put (claim, reserve, commit, remove, reclaim) in
 * interleaved orders, the carry of open packs across an index rebuild, and the zstd fallback that
 * recovers a plaintext length the index no longer keeps. */
#include "check.h"
#include "repo/repo.h"
#include "repo/repo_int.h"
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#if defined(__SANITIZE_ADDRESS__)
/* the sanitizer runtime's allocator count (its header, sanitizer/allocator_interface.h, is not
 * installed here) */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#define BIG_N 1000000u
#if defined(__SANITIZE_ADDRESS__)
#define RSS_PER_BLOB 144.0
#else
#define RSS_PER_BLOB 64.0
#endif
#define PER_PACK 1000u

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* heap_bytes: the bytes the process's allocator has handed out and not had back (ASan's own count
 * under ASan, where mallinfo2 sees nothing; glibc's mallinfo2 otherwise): the index's memory as the
 * process sees it, not as the index accounts for it. */
static size_t heap_bytes(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

/* rss_bytes: the process's resident set (VmRSS), or 0 when it cannot be read. */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %zu kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb * 1024;
}

/* make_id: a deterministic, well-spread id for record number k of a test (ids in the repository
 * are HMACs; these only need to differ). */
static void make_id(repo_id_t *id, uint64_t k, uint64_t salt)
{
    uint64_t s = (k + 1) * 0x9E3779B97F4A7C15ull ^ salt;
    for (int i = 0; i < 4; i++) {
        uint64_t v = rng_next(&s);
        memcpy(id->b + 8 * i, &v, 8);
    }
}

/* make_pack: n records of pack `pack` laid end to end from offset 0, in shuffled order; random
 * stored lengths, types and flags; record k's id is make_id(first + k). */
static void make_pack(struct repo_pentry *ents, size_t n, uint64_t first, uint64_t *rng)
{
    uint32_t off = 0;
    for (size_t k = 0; k < n; k++) {
        struct repo_pentry *e = &ents[k];
        uint64_t r = rng_next(rng);
        make_id(&e->id, first + k, 0);
        e->type = (uint8_t)(r & 1);
        e->flags = (r & 2) ? REPO_BLOB_F_ZSTD : 0;
        e->stored = REPO_AEAD_OVERHEAD + (uint32_t)((r >> 8) % 2000000u);
        e->plain = e->flags ? (uint32_t)((r >> 32) % 3000000u) : e->stored - REPO_AEAD_OVERHEAD;
        e->offset = off;
        off += e->stored;
    }
    for (size_t k = n - 1; k > 0; k--) { /* trailers list records in completion order */
        size_t j = rng_next(rng) % (k + 1);
        struct repo_pentry tmp = ents[k];
        ents[k] = ents[j];
        ents[j] = tmp;
    }
}

/* same_loc: the index's answer for e (in pack) is exact; plain only where the index keeps it. */
static int same_loc(const struct repo_itab *t, const struct repo_pentry *e, uint32_t pack)
{
    struct repo_pentry got;
    uint32_t gp = 0;
    if (repo_itab_lookup(t, &e->id, &gp, &got) != REPO_ITAB_STORED) return 0;
    if (gp != pack || got.offset != e->offset || got.stored != e->stored ||
        got.type != e->type || got.flags != e->flags || memcmp(got.id.b, e->id.b, 32) != 0)
        return 0;
    if (e->flags & REPO_BLOB_F_ZSTD) return got.plain == REPO_PLAIN_UNKNOWN;
    return got.plain == e->plain;
}

TEST(million_records_under_48_bytes)
{
    struct repo_itab t;
    struct repo_pentry *ents = malloc(PER_PACK * sizeof *ents);
    uint64_t rng = 12345;
    double worst = 0, per;
    size_t worst_at = 0, heap0, rss0, heap1, rss1;
    CHECK(ents != NULL);
    heap0 = heap_bytes();
    rss0 = rss_bytes();
    CHECK_EQ_INT(repo_itab_init(&t, 0), 0);
    for (uint32_t p = 0; p < BIG_N / PER_PACK; p++) {
        make_pack(ents, PER_PACK, (uint64_t)p * PER_PACK, &rng);
        CHECK_EQ_INT(repo_itab_add_pack(&t, p, ents, PER_PACK), 0);
        CHECK_EQ_INT(t.count, (p + 1) * PER_PACK);
        per = (double)repo_itab_bytes(&t) / t.count;
        if (t.count >= 100000 && per > worst) {
            worst = per;
            worst_at = t.count;
        }
        CHECKF(t.count < 100000 || per <= 48.0, "%.2f bytes per blob at %u blobs", per, t.count);
    }
    per = (double)repo_itab_bytes(&t) / t.count;
    printf("info: %u records: %.2f bytes per blob (%zu bytes); worst from 100k on %.2f at %zu\n",
           t.count, per, repo_itab_bytes(&t), worst, worst_at);
    CHECK(per <= 48.0);
    /* The process's own view: the heap grew by at most 48 bytes per blob (the index's own count
     * could undercount); its resident set by at most RSS_PER_BLOB (the live table, plus under ASan
     * its shadow and the freed growth buffers ASan's quarantine keeps resident: 106 bytes measured). */
    heap1 = heap_bytes();
    rss1 = rss_bytes();
    printf("info: %u records: heap +%.2f bytes per blob, resident set +%.2f bytes per blob\n", t.count,
           (double)(heap1 - heap0) / t.count, (double)(rss1 - rss0) / t.count);
    CHECKF(heap1 > heap0 && (double)(heap1 - heap0) / t.count <= 48.0, "heap +%zu bytes for %u blobs",
           heap1 - heap0, t.count);
    CHECKF(rss0 > 0 && rss1 > rss0 && (double)(rss1 - rss0) / t.count <= RSS_PER_BLOB, "resident set %zu -> %zu for %u blobs",
           rss0, rss1, t.count);
    /* every record is found, in the right place; the pack lists are regenerated identically */
    rng = 12345;
    for (uint32_t p = 0; p < BIG_N / PER_PACK; p++) {
        make_pack(ents, PER_PACK, (uint64_t)p * PER_PACK, &rng);
        for (size_t k = 0; k < PER_PACK; k++)
            CHECKF(same_loc(&t, &ents[k], p), "record %zu of pack %u", k, p);
    }
    for (uint64_t k = 0; k < 100000; k++) { /* and nothing else is */
        repo_id_t id;
        make_id(&id, k, 0xABCDEF);
        CHECK_EQ_INT(repo_itab_lookup(&t, &id, NULL, NULL), REPO_ITAB_ABSENT);
    }
    /* adding a pack again (a second index file naming it) changes nothing */
    make_pack(ents, PER_PACK, 0, &rng);
    {
        uint32_t nrec = t.nrec;
        CHECK_EQ_INT(repo_itab_add_pack(&t, 0, ents, PER_PACK), 0);
        CHECK_EQ_INT(t.nrec, nrec);
    }
    repo_itab_free(&t);
    free(ents);
}

/* Puts as repo.c and pack.c make them: claims in one order, reservations (in offset order, as
 * pack.c makes them under the lock) in another, completions in a third; some puts fail before
 * reserving (compression), some after (pwrite). The bytes per blob are checked all along. */
TEST(interleaved_puts)
{
    enum { N = 200000, INFLIGHT = 64, PACK_BYTES = 32 << 20 };
    struct repo_itab t;
    struct repo_pentry *want = calloc(N, sizeof *want);
    uint32_t *pack_of = calloc(N, sizeof *pack_of), pack = 0, off = 0;
    uint8_t *failed = calloc(N, 1);
    uint32_t claimed[INFLIGHT], inflight[INFLIGHT];
    size_t ncl = 0, nin = 0, next = 0, stored_ok = 0;
    uint64_t rng = 99;
    CHECK(want && pack_of && failed);
    CHECK_EQ_INT(repo_itab_init(&t, 0), 0);
    while (next < N || ncl > 0 || nin > 0) {
        uint64_t r = rng_next(&rng);
        int step = (int)(r % 3);
        if (step == 0 && next < N && ncl < INFLIGHT) { /* a put claims its id */
            make_id(&want[next].id, next, 7);
            CHECK_EQ_INT(repo_itab_claim(&t, &want[next].id, NULL), REPO_ITAB_CLAIMED);
            CHECK_EQ_INT(repo_itab_claim(&t, &want[next].id, NULL), REPO_ITAB_PENDING);
            claimed[ncl++] = (uint32_t)next++;
        } else if (step == 1 && ncl > 0 && nin < INFLIGHT) { /* one of them reaches the pack */
            size_t j = (r >> 20) % ncl;
            uint32_t k = claimed[j];
            struct repo_pentry *e = &want[k];
            claimed[j] = claimed[--ncl];
            if ((r >> 40) % 1000 == 0) { /* compression failed: it never reserves */
                repo_itab_remove(&t, &e->id);
                failed[k] = 1;
                continue;
            }
            e->type = (uint8_t)((r >> 8) & 1);
            e->flags = ((r >> 9) & 1) ? REPO_BLOB_F_ZSTD : 0;
            e->stored = REPO_AEAD_OVERHEAD + (uint32_t)((r >> 16) % 300000u);
            e->plain = e->flags ? REPO_PLAIN_UNKNOWN : e->stored - REPO_AEAD_OVERHEAD;
            if (off >= PACK_BYTES) { /* the open pack was detached; a new one takes appends */
                pack++;
                off = 0;
            }
            e->offset = off;
            off += e->stored;
            pack_of[k] = pack;
            CHECK_EQ_INT(repo_itab_reserve(&t, e, pack), 0);
            CHECK_EQ_INT(repo_itab_lookup(&t, &e->id, NULL, NULL), REPO_ITAB_PENDING);
            inflight[nin++] = k;
        } else if (step == 2 && nin > 0) { /* a write finishes */
            size_t j = (r >> 20) % nin;
            uint32_t k = inflight[j];
            inflight[j] = inflight[--nin];
            if ((r >> 40) % 1000 == 1) { /* rare: each leaves a 40-byte dead record */
                repo_itab_remove(&t, &want[k].id); /* the pwrite failed: a dead record */
                failed[k] = 1;
                CHECK_EQ_INT(repo_itab_lookup(&t, &want[k].id, NULL, NULL), REPO_ITAB_ABSENT);
            } else {
                repo_itab_commit(&t, &want[k].id);
                CHECK(same_loc(&t, &want[k], pack_of[k]));
                stored_ok++;
            }
        }
        if (t.count >= 100000)
            CHECKF((double)repo_itab_bytes(&t) / t.count <= 48.0, "%.2f bytes per blob at %u",
                   (double)repo_itab_bytes(&t) / t.count, t.count);
    }
    CHECK_EQ_INT(t.count, stored_ok);
    {
        size_t nfailed = 0;
        for (size_t k = 0; k < N; k++) nfailed += failed[k];
        CHECKF(nfailed > 100 && t.nrec > t.count, "%zu failed puts, %u records", nfailed, t.nrec);
    }
    for (size_t k = 0; k < N; k++) {
        if (failed[k])
            CHECK_EQ_INT(repo_itab_lookup(&t, &want[k].id, NULL, NULL), REPO_ITAB_ABSENT);
        else
            CHECKF(same_loc(&t, &want[k], pack_of[k]), "blob %zu", k);
    }
    /* the failed ones are stored again, in the pack now open */
    for (size_t k = 0; k < N; k++) {
        if (!failed[k]) continue;
        CHECK_EQ_INT(repo_itab_claim(&t, &want[k].id, NULL), REPO_ITAB_CLAIMED);
        if (want[k].stored == 0) want[k].stored = 100, want[k].plain = 72;
        want[k].offset = off;
        off += want[k].stored;
        CHECK_EQ_INT(repo_itab_reserve(&t, &want[k], pack), 0);
        repo_itab_commit(&t, &want[k].id);
        pack_of[k] = pack;
    }
    for (size_t k = 0; k < N; k++) CHECKF(same_loc(&t, &want[k], pack_of[k]), "blob %zu", k);
    printf("info: %u blobs put through claim/reserve/commit: %.2f bytes per blob\n", t.count,
           (double)repo_itab_bytes(&t) / t.count);
    repo_itab_free(&t);
    free(want);
    free(pack_of);
    free(failed);
}

TEST(holes_duplicates_and_damage)
{
    struct repo_itab t;
    struct repo_pentry a[4], b[2], bad[2];
    memset(a, 0, sizeof a);
    CHECK_EQ_INT(repo_itab_init(&t, 0), 0);
    /* pack 3: blobs at 0, 100 and 500 with holes (failed appends) at 40..100 and 300..500 */
    make_id(&a[0].id, 1, 1);
    a[0].offset = 100, a[0].stored = 200, a[0].plain = 172;
    make_id(&a[1].id, 2, 1);
    a[1].offset = 0, a[1].stored = 40, a[1].plain = 12;
    make_id(&a[2].id, 3, 1);
    a[2].offset = 500, a[2].stored = 28, a[2].plain = 0, a[2].type = REPO_BLOB_TREE;
    make_id(&a[3].id, 4, 1);
    a[3].offset = 528, a[3].stored = 1000, a[3].plain = 5000, a[3].flags = REPO_BLOB_F_ZSTD;
    CHECK_EQ_INT(repo_itab_add_pack(&t, 3, a, 4), 0);
    CHECK_EQ_INT(t.count, 4);
    CHECK_EQ_INT(t.nrec, 6); /* two dead records cover the holes */
    for (int k = 0; k < 4; k++) CHECKF(same_loc(&t, &a[k], 3), "record %d", k);
    /* pack 1 holds a second copy of a[2] (first copy wins) and a new blob after it */
    b[0] = a[2];
    b[0].offset = 0;
    memset(&b[1], 0, sizeof b[1]);
    make_id(&b[1].id, 5, 1);
    b[1].offset = 28, b[1].stored = 64, b[1].plain = 36;
    CHECK_EQ_INT(repo_itab_add_pack(&t, 1, b, 2), 0);
    CHECK_EQ_INT(t.count, 5);
    CHECK(same_loc(&t, &a[2], 3));
    CHECK(same_loc(&t, &b[1], 1)); /* its length is right although the dead copy precedes it */
    /* overlapping records are damage and add nothing */
    bad[0] = b[1];
    make_id(&bad[0].id, 6, 1);
    bad[1] = bad[0];
    make_id(&bad[1].id, 7, 1);
    bad[1].offset = bad[0].offset + 10;
    CHECK_EQ_INT(repo_itab_add_pack(&t, 2, bad, 2), -EBADMSG);
    CHECK_EQ_INT(t.count, 5);
    CHECK_EQ_INT(repo_itab_lookup(&t, &bad[0].id, NULL, NULL), REPO_ITAB_ABSENT);
    /* a stored id whose pack was lost is taken back by a put, stored elsewhere, committed */
    CHECK_EQ_INT(repo_itab_reclaim(&t, &a[0].id), 0);
    CHECK_EQ_INT(repo_itab_lookup(&t, &a[0].id, NULL, NULL), REPO_ITAB_PENDING);
    CHECK(same_loc(&t, &a[1], 3) && same_loc(&t, &a[2], 3)); /* neighbours keep their lengths */
    a[0].offset = 0;
    CHECK_EQ_INT(repo_itab_reserve(&t, &a[0], 9), 0);
    repo_itab_commit(&t, &a[0].id);
    CHECK(same_loc(&t, &a[0], 9));
    /* appending out of a pack's run order is refused, not silently mis-sized */
    {
        struct repo_pentry x = b[1];
        make_id(&x.id, 8, 1);
        x.offset = 4096;
        CHECK_EQ_INT(repo_itab_claim(&t, &x.id, NULL), REPO_ITAB_CLAIMED);
        CHECK_EQ_INT(repo_itab_reserve(&t, &x, 3), -EIO);  /* pack 3's run is not the last */
        CHECK_EQ_INT(repo_itab_reserve(&t, &x, 9), -EIO);  /* pack 9's run ends at 200 */
        repo_itab_remove(&t, &x.id);
        CHECK_EQ_INT(repo_itab_lookup(&t, &x.id, NULL, NULL), REPO_ITAB_ABSENT);
    }
    repo_itab_free(&t);
}

/* An index rebuild builds a new table from the sealed packs and carries the open pack's run and
 * the puts in flight; those puts then finish against the new table. */
TEST(carry_open_pack_and_pending)
{
    struct repo_itab src, dst;
    struct repo_pentry sealed[3], open[3], later;
    uint8_t keep[3] = { 0, 1, 0 }; /* pack 1 is open */
    uint32_t pack = 0;
    memset(sealed, 0, sizeof sealed);
    memset(open, 0, sizeof open);
    CHECK_EQ_INT(repo_itab_init(&src, 0), 0);
    CHECK_EQ_INT(repo_itab_init(&dst, 0), 0);
    for (int k = 0; k < 3; k++) {
        make_id(&sealed[k].id, (uint64_t)k, 2);
        sealed[k].offset = 100u * (uint32_t)k, sealed[k].stored = 100, sealed[k].plain = 72;
    }
    CHECK_EQ_INT(repo_itab_add_pack(&src, 0, sealed, 3), 0);
    for (int k = 0; k < 3; k++) { /* open pack 1: one written, one writing, one claimed only */
        make_id(&open[k].id, 10 + (uint64_t)k, 2);
        open[k].offset = 50u * (uint32_t)k, open[k].stored = 50;
        open[k].flags = REPO_BLOB_F_ZSTD, open[k].plain = REPO_PLAIN_UNKNOWN;
        CHECK_EQ_INT(repo_itab_claim(&src, &open[k].id, NULL), REPO_ITAB_CLAIMED);
        if (k < 2) CHECK_EQ_INT(repo_itab_reserve(&src, &open[k], 1), 0);
    }
    repo_itab_commit(&src, &open[0].id);
    /* the rebuild: pack 0 from its trailer, then the carry */
    CHECK_EQ_INT(repo_itab_add_pack(&dst, 0, sealed, 3), 0);
    CHECK_EQ_INT(repo_itab_carry(&dst, &src, keep, 3, 1), 0);
    repo_itab_free(&src);
    CHECK_EQ_INT(dst.count, 6);
    for (int k = 0; k < 3; k++) CHECK(same_loc(&dst, &sealed[k], 0));
    CHECK(same_loc(&dst, &open[0], 1));
    CHECK_EQ_INT(repo_itab_lookup(&dst, &open[1].id, NULL, NULL), REPO_ITAB_PENDING);
    CHECK_EQ_INT(repo_itab_lookup(&dst, &open[2].id, NULL, NULL), REPO_ITAB_PENDING);
    repo_itab_commit(&dst, &open[1].id); /* the write in flight finishes */
    CHECK(same_loc(&dst, &open[1], 1));
    CHECK(same_loc(&dst, &open[0], 1)); /* its length now ends at open[1]'s offset */
    CHECK_EQ_INT(repo_itab_reserve(&dst, &open[2], 1), 0); /* the open pack keeps growing */
    repo_itab_commit(&dst, &open[2].id);
    for (int k = 0; k < 3; k++) CHECK(same_loc(&dst, &open[k], 1));
    later = open[2];
    make_id(&later.id, 20, 2);
    later.offset = 150;
    CHECK_EQ_INT(repo_itab_claim(&dst, &later.id, &pack), REPO_ITAB_CLAIMED);
    CHECK_EQ_INT(repo_itab_reserve(&dst, &later, 1), 0);
    repo_itab_commit(&dst, &later.id);
    CHECK(same_loc(&dst, &later, 1) && same_loc(&dst, &open[2], 1));
    repo_itab_free(&dst);
}

/* The index does not keep a compressed blob's plaintext length; the reader takes it from the
 * frame, also from frames that do not announce it (another writer's). */
TEST(zstd_length_from_the_frame)
{
    size_t n = 300000, cap = ZSTD_compressBound(n), clen, out_len = 0;
    uint8_t *src = malloc(n), *frame = malloc(cap);
    void *out = NULL;
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_inBuffer in;
    ZSTD_outBuffer ob;
    CHECK(src && frame && c);
    for (size_t i = 0; i < n; i++) src[i] = (uint8_t)("coffer index "[i % 13] + (i / 4096) % 3);
    clen = ZSTD_compress(frame, cap, src, n, 3);
    CHECK(!ZSTD_isError(clen));
    CHECK_EQ_INT(repo_zstd_decompress_alloc(frame, clen, REPO_BLOB_MAX, &out, &out_len), 0);
    CHECK(out_len == n && memcmp(out, src, n) == 0);
    free(out);
    CHECK_EQ_INT(repo_zstd_decompress_alloc(frame, clen, n - 1, &out, &out_len), -EBADMSG);
    /* a streamed frame without a content size */
    CHECK(!ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0)));
    in = (ZSTD_inBuffer){ src, n, 0 };
    ob = (ZSTD_outBuffer){ frame, cap, 0 };
    CHECK(ZSTD_compressStream2(c, &ob, &in, ZSTD_e_end) == 0);
    CHECK(ZSTD_getFrameContentSize(frame, ob.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
    CHECK_EQ_INT(repo_zstd_decompress_alloc(frame, ob.pos, REPO_BLOB_MAX, &out, &out_len), 0);
    CHECK(out_len == n && memcmp(out, src, n) == 0);
    free(out);
    CHECK_EQ_INT(repo_zstd_decompress_alloc(frame, ob.pos, n - 1, &out, &out_len), -EBADMSG);
    CHECK_EQ_INT(repo_zstd_decompress_alloc(frame, ob.pos - 7, REPO_BLOB_MAX, &out, &out_len),
                 -EBADMSG); /* truncated */
    ZSTD_freeCCtx(c);
    free(src);
    free(frame);
}

/* Through the public API: many small blobs (the worst case for per-pack costs is large blobs;
 * the per-blob cost of the index itself is the same), repo_get_stats and a reopen. */
TEST(public_stats_and_reopen)
{
    enum { N = 120000 };
    char *dir = check_tmpdir("repo-index");
    char repo_dir[512], key[512], err[256];
    struct repo *r = NULL;
    struct repo_stats st;
    repo_id_t *ids = malloc(N * sizeof *ids);
    uint8_t text[3000];
    uint32_t pack, stored, plain;
    uint64_t off;
    CHECK(ids != NULL);
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", dir);
    snprintf(key, sizeof key, "%s/key", dir);
    CHECK_EQ_INT(repo_create(repo_dir, key, err, sizeof err), 0);
    CHECK_EQ_INT(repo_open(repo_dir, key, &r, err, sizeof err), 0);
    repo_set_pack_target(r, 1 << 20); /* several packs: seals, and their trailers read back */
    for (uint32_t i = 0; i < N; i++) {
        uint8_t b[8];
        memcpy(b, &i, 4);
        memcpy(b + 4, "blob", 4);
        repo_blob_id(r, b, sizeof b, &ids[i]);
        CHECK_EQ_INT(repo_blob_put(r, REPO_BLOB_DATA, &ids[i], b, sizeof b, NULL), 0);
    }
    for (size_t i = 0; i < sizeof text; i++) text[i] = (uint8_t)"index"[i % 5];
    {
        repo_id_t tid;
        void *out = NULL;
        size_t len = 0;
        repo_blob_id(r, text, sizeof text, &tid);
        CHECK_EQ_INT(repo_blob_put(r, REPO_BLOB_TREE, &tid, text, sizeof text, NULL), 0);
        CHECK_EQ_INT(repo_blob_locate(r, &tid, &pack, &off, &stored, &plain), 0);
        CHECK(stored < sizeof text / 2);    /* compressed ... */
        CHECK_EQ_INT(plain, sizeof text);   /* ... and its length read from the blob */
        CHECK_EQ_INT(repo_blob_get(r, &tid, &out, &len), 0);
        CHECK(len == sizeof text && memcmp(out, text, len) == 0);
        free(out);
    }
    repo_get_stats(r, &st);
    printf("info: %llu blobs in %llu packs: %.2f bytes of index per blob (pack table included)\n",
           (unsigned long long)st.blobs, (unsigned long long)st.packs,
           (double)st.index_bytes_in_memory / (double)st.blobs);
    CHECK_EQ_INT(st.blobs, N + 1);
    CHECK(st.packs > 3);
    CHECK((double)st.index_bytes_in_memory / (double)st.blobs <= 48.0);
    repo_close(r);
    r = NULL;
    CHECK_EQ_INT(repo_open(repo_dir, key, &r, err, sizeof err), 0);
    repo_get_stats(r, &st);
    CHECK_EQ_INT(st.blobs, N + 1);
    CHECK((double)st.index_bytes_in_memory / (double)st.blobs <= 48.0);
    for (uint32_t i = 0; i < N; i += 7) {
        void *out = NULL;
        size_t len = 0;
        CHECK(repo_blob_exists(r, &ids[i]));
        if (i % 1001 == 0) {
            CHECK_EQ_INT(repo_blob_get(r, &ids[i], &out, &len), 0);
            CHECK(len == 8 && memcmp(out, &i, 4) == 0);
            free(out);
        }
    }
    {
        json_t *rep = NULL;
        CHECK_EQ_INT(repo_verify(r, 0, &rep), 0);
        CHECKF(json_is_true(json_object_get(rep, "ok")), "%s", json_dumps(rep, 0));
        json_decref(rep);
    }
    repo_close(r);
    free(ids);
    check_rm_rf(dir);
    free(dir);
}

int main(void)
{
    RUN(million_records_under_48_bytes);
    RUN(interleaved_puts);
    RUN(holes_duplicates_and_damage);
    RUN(carry_open_pack_and_pending);
    RUN(zstd_length_from_the_frame);
    RUN(public_stats_and_reopen);
    return check_finish();
}
