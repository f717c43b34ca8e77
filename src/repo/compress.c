/* compress.c: zstd for blobs, with one compression and one decompression context per thread.
 *
 * A blob is compressed at level 3 with a smaller hash table than the level's own (hash log 15 instead
 * of 17: it stays in L1/L2 cache) and level 3's own chain table. Measured on bench_backup.sh's corpus
 * (1.65 GB of /usr cut like chunks, one thread, CPU time): log 17 7.65 s, log 16 7.24 s (+0.21%
 * output), log 15 6.62 s (+0.44%); level 2 5.13 s but +3.4%, level 1 4.74 s but +8%. The chain table
 * (dfast's table of minMatch-byte hashes) stays at level 3's 2^16: a 2^15 one, measured with zstd 1.5.4
 * on an eighth of that corpus (every 8th file, 1 MiB pieces, thread CPU time): hash 15 chain 16 1.93 s,
 * chain 15 1.75 s (-9%) for +0.69% output, which kept the repository below restic's (0.99) but made it
 * larger than borg's (1.01 in bench_backup.sh), so it is not used; hash 14 chain 15 -15% but +1.03%,
 * hash 15 chain 14 -17% but +1.42%, level 2 with hash 16 and minMatch 5 -18% but +1.77%: too large. A
 * trial compression of a 64 KiB sample to skip what does not compress cost more than it saved there:
 * only 3.6% of that corpus is incompressible (.gz files; 2% of the bytes end up stored raw), and zstd
 * passes over such data at 1 GB/s anyway. The parameters are set once on each thread's context;
 * ZSTD_compress2 keeps them and still shrinks them for small inputs. When the frame is not smaller than
 * 97% of the input (already-compressed or random data), the caller stores the blob raw and clears the
 * zstd flag, so incompressible data costs no CPU on restore. */
#include "repo/repo_int.h"
#include <errno.h>
#include <stdlib.h>
#include <zstd.h>

#define ZSTD_HASHLOG 15   /* level 3's own: 17 */
#define ZSTD_CHAINLOG 16  /* level 3's own */

struct zstd_tls {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;

static void tls_free(void *p)
{
    struct zstd_tls *t = p;
    if (!t) return;
    ZSTD_freeCCtx(t->c);
    ZSTD_freeDCtx(t->d);
    free(t);
}

static void zstd_once(void) { pthread_key_create(&g_key, tls_free); }

static struct zstd_tls *tls_get(void)
{
    struct zstd_tls *t;
    pthread_once(&g_once, zstd_once);
    t = pthread_getspecific(g_key);
    if (t) return t;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->c = ZSTD_createCCtx();
    t->d = ZSTD_createDCtx();
    if (!t->c || !t->d ||
        ZSTD_isError(ZSTD_CCtx_setParameter(t->c, ZSTD_c_compressionLevel, REPO_ZSTD_LEVEL)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(t->c, ZSTD_c_hashLog, ZSTD_HASHLOG)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(t->c, ZSTD_c_chainLog, ZSTD_CHAINLOG)) ||
        pthread_setspecific(g_key, t) != 0) {
        tls_free(t);
        return NULL;
    }
    return t;
}

size_t repo_zstd_bound(size_t len) { return ZSTD_compressBound(len); }

size_t repo_zstd_compress(void *dst, size_t cap, const void *src, size_t len)
{
    struct zstd_tls *t;
    size_t n, limit = len / 100 * 97 + (len % 100) * 97 / 100;
    if (len < 64) return 0; /* a frame header alone eats the gain */
    t = tls_get();
    if (!t) return 0;       /* storing raw is always correct */
    n = ZSTD_compress2(t->c, dst, cap, src, len);
    if (ZSTD_isError(n) || n >= limit) return 0;
    return n;
}

int repo_zstd_frame_size(const void *src, size_t len, uint64_t *size)
{
    unsigned long long fcs = ZSTD_getFrameContentSize(src, len);
    if (fcs == ZSTD_CONTENTSIZE_ERROR) return -EBADMSG;
    if (fcs == ZSTD_CONTENTSIZE_UNKNOWN) return -ENODATA;
    *size = fcs;
    return 0;
}

int repo_zstd_decompress(void *dst, size_t plain_len, const void *src, size_t len)
{
    struct zstd_tls *t = tls_get();
    unsigned long long fcs;
    size_t n;
    if (!t) return -ENOMEM;
    fcs = ZSTD_getFrameContentSize(src, len);
    if (fcs == ZSTD_CONTENTSIZE_ERROR || (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != plain_len))
        return -EBADMSG;
    n = ZSTD_decompressDCtx(t->d, dst, plain_len, src, len);
    if (ZSTD_isError(n) || n != plain_len) return -EBADMSG;
    return 0;
}

/* repo_zstd_decompress_alloc: for a body whose plaintext length the caller does not know (the
 * in-memory index does not keep it): the frame's announced content size, or when the frame does
 * not announce one, a streaming decompression into a growing buffer. At most max bytes may come
 * out, else -EBADMSG. *out is malloc'd (at least one byte) and owned by the caller. */
int repo_zstd_decompress_alloc(const void *src, size_t len, size_t max, void **out, size_t *out_len)
{
    struct zstd_tls *t = tls_get();
    unsigned long long fcs;
    ZSTD_inBuffer in = { src, len, 0 };
    ZSTD_outBuffer ob = { NULL, 0, 0 };
    size_t cap = 1 << 16;
    uint8_t *buf;
    int rc;
    *out = NULL;
    *out_len = 0;
    if (!t) return -ENOMEM;
    fcs = ZSTD_getFrameContentSize(src, len);
    if (fcs == ZSTD_CONTENTSIZE_ERROR || (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs > max))
        return -EBADMSG;
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN) {
        buf = malloc(fcs ? (size_t)fcs : 1);
        if (!buf) return -ENOMEM;
        rc = repo_zstd_decompress(buf, (size_t)fcs, src, len);
        if (rc < 0) {
            free(buf);
            return rc;
        }
        *out = buf;
        *out_len = (size_t)fcs;
        return 0;
    }
    if (ZSTD_isError(ZSTD_DCtx_reset(t->d, ZSTD_reset_session_only))) return -EIO;
    if (cap > max + 1) cap = max + 1;
    buf = malloc(cap);
    if (!buf) return -ENOMEM;
    ob.dst = buf;
    ob.size = cap;
    for (;;) {
        size_t r = ZSTD_decompressStream(t->d, &ob, &in);
        if (ZSTD_isError(r) || ob.pos > max) break;
        if (r == 0 && in.pos == in.size) { /* frame complete, input consumed */
            *out = buf;
            *out_len = ob.pos;
            return 0;
        }
        if (ob.pos == ob.size) {
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            uint8_t *nb;
            if (ncap <= cap) break; /* more than max bytes */
            nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
            cap = ncap;
            ob.dst = buf;
            ob.size = cap;
        } else if (in.pos == in.size) {
            break; /* truncated frame */
        }
    }
    free(buf);
    return -EBADMSG;
}
