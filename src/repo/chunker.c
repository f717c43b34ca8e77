/* chunker.c: content-defined chunking, FastCDC with normalized chunking (level 2).
 *
 * The gear hash h = (h << 1) + gear[byte] is rolled over the stream; its top bits depend on the
 * last 64 bytes only, so a cut decision is local and an insertion early in a file moves only the
 * cut points next to it. A cut is declared where the top bits under a mask are all zero:
 *   - the first MIN bytes are never hashed (no cut can fall there; this is where most of the speed
 *     comes from: half of an average chunk is skipped outright);
 *   - from MIN to AVG the strict mask (log2(AVG) + 2 = 22 bits) makes a cut unlikely;
 *   - from AVG to MAX the loose mask (log2(AVG) - 2 = 18 bits) makes one likely;
 *   - at MAX the chunk is cut unconditionally.
 * This "normalized chunking" squeezes the size distribution around AVG. With 512 KiB / 1 MiB /
 * 8 MiB the mean chunk is about 1.2 MiB.
 *
 * Why these sizes: Coffer protects whole hosts and database dumps, terabytes per repository. At
 * ~1.2 MiB per chunk a 10 TiB repository holds ~9 million blobs, whose in-memory index (48 bytes a
 * slot) fits in well under a gigabyte, and the per-blob costs (28 bytes of nonce and tag, a 48-byte
 * trailer entry, one hash lookup) stay below 0.01% of the data. zstd works on a whole 1 MiB window,
 * so large chunks also compress better. The price is coarser dedup: an edit rewrites about one
 * chunk (~1 MiB) of the file. MAX bounds the memory each in-flight chunk needs and keeps one blob
 * far below a 32 MiB pack.
 *
 * The gear table is per repository: HKDF-SHA-256 of the chunker key (salt "coffer-gear", info
 * "coffer fastcdc gear v1") gives 2048 bytes read as 256 little-endian u64. A keyed table keeps
 * chunk boundaries (and so chunk sizes) from leaking file contents to someone who sees the packs. */
#include "repo/repo_int.h"
#include <errno.h>
#include <string.h>

int repo_chunker_init(struct repo *repo, uint32_t cmin, uint32_t cavg, uint32_t cmax)
{
    uint8_t buf[256 * 8];
    unsigned bits = 0;
    int rc;
    if (cmin < 64 || cmin >= cavg || cavg >= cmax || cmax > REPO_BLOB_MAX ||
        (cavg & (cavg - 1)) != 0)
        return -EINVAL;
    while ((1u << bits) < cavg) bits++;
    if (bits < 8 || bits > 28) return -EINVAL;
    rc = repo_hkdf(repo->chunk_key, REPO_KEY_LEN, "coffer-gear", "coffer fastcdc gear v1", buf,
                   sizeof buf);
    if (rc < 0) return rc;
    for (int i = 0; i < 256; i++) repo->gear[i] = repo_get_u64(buf + 8 * i);
    repo->cmin = cmin;
    repo->cavg = cavg;
    repo->cmax = cmax;
    repo->mask_s = ~UINT64_C(0) << (64 - (bits + 2));
    repo->mask_l = ~UINT64_C(0) << (64 - (bits - 2));
    return 0;
}

size_t repo_chunk_cut(const struct repo *repo, const uint8_t *data, size_t len, int eof)
{
    const uint64_t *gear = repo->gear;
    const uint64_t ms = repo->mask_s, ml = repo->mask_l;
    size_t n, normal, i;
    uint64_t h = 0;
    if (len <= repo->cmin) return eof ? len : 0;
    n = len < repo->cmax ? len : repo->cmax;
    normal = repo->cavg < n ? repo->cavg : n;
    for (i = repo->cmin; i < normal; i++) {
        h = (h << 1) + gear[data[i]];
        if (!(h & ms)) return i + 1;
    }
    for (; i < n; i++) {
        h = (h << 1) + gear[data[i]];
        if (!(h & ml)) return i + 1;
    }
    if (n == repo->cmax) return n;
    return eof ? len : 0;
}
