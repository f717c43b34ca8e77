/* compress.c: zstd for blobs, with one compression and one decompression context per thread.
 *
 * A blob is compressed at level 3 (fast, a good ratio on file data). When the frame is not smaller
 * than 97% of the input (already-compressed or random data), the caller stores the blob raw and
 * clears the zstd flag, so incompressible data costs no CPU on restore. */
#include "repo/repo_int.h"
#include <errno.h>
#include <stdlib.h>
#include <zstd.h>

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
    if (!t->c || !t->d || pthread_setspecific(g_key, t) != 0) {
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
    n = ZSTD_compressCCtx(t->c, dst, cap, src, len, REPO_ZSTD_LEVEL);
    if (ZSTD_isError(n) || n >= limit) return 0;
    return n;
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
