/* backend_s3.c: the storage backend of a repository at s3://bucket/prefix on S3-compatible object
 * storage (backend.h), through libcurl with requests signed by s3_sigv4.c.
 *
 * Layout: the local layout's names under the prefix as keys: <prefix>/config, keys/<hex>,
 * data/<xx>/<hex>, index/<hex>, snapshots/<hex>, damaged/<hex>, locks/<name>, retain/<name>
 * (docs/repository-format.md section 17). No temporaries ever appear in the bucket.
 *
 * Operations: put is PUT with If-None-Match: * (412: -EEXIST) where the server honours it (probed
 * at the first put with a throw-away object put twice), else HEAD (-EEXIST if there) then PUT,
 * best effort against a concurrent writer (content-addressed names then hold the same bytes); get is a ranged GET; get_all a
 * GET into a buffer bounded by max; stat a HEAD; list is ListObjectsV2 with continuation; del
 * deletes the current version by its version id (a plain DELETE on a versioned bucket would only
 * add a delete marker and hide a locked object), and the server's 403 on a locked version is
 * -EPERM; retain is PutObjectRetention (COMPLIANCE or GOVERNANCE, the latter sent with
 * x-amz-bypass-governance-retention so that retain.c's data-security changes can shorten it),
 * hold PutObjectLegalHold, retained_until GetObjectRetention.
 *
 * Writers: a writer is a local temporary file (pwrite/pread from any thread, so writer_read
 * serves from it); commit uploads it: one conditional PUT below S3_PART_SIZE, else a multipart
 * upload of S3_PART_SIZE parts, S3_PART_THREADS at a time (each read into its thread's buffer:
 * memory per committing writer is at most S3_PART_THREADS parts, 32 MiB)
 * completed with If-None-Match: * (a HEAD first only where the server ignores the condition),
 * aborted on any failure so that a partial upload never becomes an object. The temporary is never
 * fsynced: it is only a staging copy, and a crash before the commit loses the pack whatever was on
 * the local disk (nothing names it; clean removes it). The repository commits packs from
 * S3_BACKGROUND_COMMITS background threads (backend.h background_commits, pack.c), so uploads
 * overlap the backup. clean aborts multipart uploads under the prefix older than a day (another
 * node may be uploading a younger one) and removes temporaries of dead processes.
 *
 * Requests: a pool of cfg->connections curl handles (connections are reused); every request is
 * retried on a transport error, a timeout, 5xx or 429 with exponential backoff (100 ms doubling,
 * at most 5 s a wait, cfg->retries times, 120 s in all). A retried PUT that finds its name taken
 * compares the bytes there (its own first attempt may have landed); a retried DELETE that finds
 * nothing counts as done.
 *
 * Read-ahead ("reading packs ahead" below): a pack read near the last read of that pack is served
 * from aligned S3_BLOCK blocks (S3_BLOCKS kept, least recently used out; one GET per block whoever
 * asks; the next S3_AHEAD fetched by S3_PREFETCHERS threads), so a restore, verify or prune makes
 * one request per 4 MiB, several at once; a random read is a plain ranged GET.
 *
 * Cache (cfg->cache_dir): index objects and snapshot documents are write-once, so get_all keeps
 * them under <cache>/<type>/<name> and put stores them there too; cache_get/cache_put keep what the
 * repository asks (tree blobs' stored bytes, encrypted, by id) under <cache>/blob/<key>. Entries
 * are written without fsync and checked when read (cache_store). A delete through this backend
 * drops the entry; an entry of an object another node deleted is never asked for (names come from
 * list). */
#include "repo/backend.h"
#include "repo/s3_sigv4.h"
#include "util/fsio.h"
#include "util/log.h"
#include "util/thread.h"
#include "util/time.h"
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S3_PART_SIZE (8u << 20)
#define S3_MAX_PARTS 10000
#define S3_PART_THREADS 4       /* parts of one upload sent at once (one part buffer each) */
#define S3_BACKGROUND_COMMITS 2 /* packs uploaded in the background at once (pack.c), and queued */
#define S3_POOL_MAX 32
#define S3_KEY_MAX 1024
#define S3_URL_MAX 4096
#define S3_XML_MAX (16u << 20)   /* a listing page or an error document */
#define S3_LIST_PAGES_MAX 1000000
#define S3_RETRY_TOTAL_S 120
#define S3_ABANDONED_S (24 * 3600)
#define S3_NAME_MAX 128
#define S3_BLOCK (4u << 20)      /* packs are read ahead in aligned blocks of this size */
#define S3_BLOCKS 16             /* blocks kept (memory: S3_BLOCKS * S3_BLOCK) */
#define S3_AHEAD 3               /* blocks fetched ahead of a streaming reader */
#define S3_AHEAD_Q 8             /* fetches ahead waiting (more are dropped) */
#define S3_PREFETCHERS 3         /* threads fetching ahead */
#define S3_NEAR (2u * S3_BLOCK)  /* a read this close to the last read of its pack streams */
#define S3_RECENT 32             /* packs whose last read is remembered */
#define S3_WAIT_MS 900000        /* a wait for a block another thread fetches (its GET is bounded) */
#define S3_LIFT_S 2             /* a lifted GOVERNANCE retention ends this soon where it cannot be removed */

static const char *const s3_dirs[REPO_OBJ_NTYPES] = {
    [REPO_OBJ_ROOT] = "", [REPO_OBJ_KEY] = "keys/", [REPO_OBJ_PACK] = "data/",
    [REPO_OBJ_INDEX] = "index/", [REPO_OBJ_SNAPSHOT] = "snapshots/", [REPO_OBJ_DAMAGED] = "damaged/",
    [REPO_OBJ_LOCK] = "locks/", [REPO_OBJ_RETAIN] = "retain/",
};

/* blk: an aligned block of a pack (bytes [no * S3_BLOCK, no * S3_BLOCK + len); len < S3_BLOCK:
 * the object ends there). A block being fetched is LOADING; readers waiting for it, the fetcher
 * and readers copying out of it hold refs, and only a block with none is evicted (least recently
 * used first) or reused. dead: its pack was deleted; freed once the last ref goes. */
enum { BLK_EMPTY = 0, BLK_LOADING, BLK_READY };
struct blk {
    char name[S3_NAME_MAX];
    uint64_t no, lru;
    size_t len;
    char *data;
    int state, refs;
    bool dead;
};

/* recent: where the last read of a pack ended, to tell a streaming reader from a random one. */
struct recent {
    char name[S3_NAME_MAX];
    uint64_t next, lru;
};

struct ahead {
    char name[S3_NAME_MAX];
    uint64_t no;
};

struct s3 {
    struct repo_backend base;
    struct repo_s3_config cfg;    /* owned copies */
    char scheme_host[512];        /* http(s)://host[:port] the requests go to */
    char host[512];               /* the Host header (bucket.host when virtual-host) */
    char path0[300];              /* "/bucket" (path style) or "" */
    char kprefix[S3_KEY_MAX / 2]; /* "prefix/" or "" */
    char *cache;                  /* cache directory (owned) or NULL */
    bool unsigned_payload;        /* uploads' bytes are not hashed for the signature (cfg.unsigned_payload) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    CURL *h[S3_POOL_MAX];
    bool busy[S3_POOL_MAX];
    int nh;
    atomic_int cond_put;          /* 1: the server answers 412 to a PUT If-None-Match: * on a taken
                                   * name (probed at the first put), so put needs no HEAD first */
    atomic_int probed;
    pthread_mutex_t ra_mu;        /* guards the blocks, recent, the fetch-ahead queue, ra_clock */
    pthread_cond_t ra_cv;         /* a block's fetch ended, or a ref went */
    pthread_cond_t aq_cv;         /* a fetch ahead was queued, or stop */
    struct blk blk[S3_BLOCKS];
    struct recent recent[S3_RECENT];
    uint64_t ra_clock;
    struct ahead aq[S3_AHEAD_Q];
    int aq_head, aq_len;
    pthread_t pf[S3_PREFETCHERS];
    int npf;
    bool pf_stop;
    _Atomic uint64_t n_list, n_get, n_put, n_head, n_del, n_retry, n_hit, n_ra, n_unsigned;
};

struct repo_bwriter {
    struct s3 *s3;
    int fd;
    int type;
    char *tmp;                    /* the local temporary (owned; unlinked by writer_free) */
    pthread_mutex_t mu;
    uint64_t size;                /* highest byte written + 1 */
};

/* ---- one request ---- */

struct s3_call {
    const char *method;           /* GET PUT HEAD DELETE POST */
    const char *key;              /* object key (NULL: the bucket) */
    const char *query;            /* canonical query, "" none */
    struct s3_hdr extra[6];       /* more signed headers */
    size_t nextra;
    const void *body;
    size_t blen;
    size_t bpos;
    /* response body: into out (cap bytes; more is an error unless truncate) or a growing buffer */
    char *out;
    size_t cap, len;
    bool grow, truncate, overflow;
    size_t max;
    long status;
    int64_t clen;                 /* Content-Length of a HEAD */
    char version_id[160];
    char etag[160];
    int attempts;
    CURL *h;                      /* the handle of the attempt under way */
    bool bulk;                    /* an object's or a part's bytes: unsigned where s3->unsigned_payload */
};

static struct s3 *s3_of(struct repo_backend *be) { return (struct s3 *)be; }

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
    struct s3_call *c = ctx;
    size_t len = sz * n;
    long st = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &st);
    if (!c->grow && (st < 200 || st >= 300)) return len; /* an error document is not the caller's bytes */
    if (c->grow && c->len + len + 1 > c->cap) {
        size_t ncap = c->cap ? c->cap : 4096;
        char *nb;
        while (ncap < c->len + len + 1) ncap *= 2;
        if (ncap > c->max + 1) ncap = c->max + 1;
        if (c->len + len + 1 > ncap) {
            c->overflow = true;
            return 0;
        }
        if (!(nb = realloc(c->out, ncap))) return 0;
        c->out = nb;
        c->cap = ncap;
    }
    if (!c->grow && c->len + len > c->cap) {
        size_t room = c->cap - c->len;
        if (!c->truncate) {
            c->overflow = true;
            return 0;
        }
        memcpy(c->out + c->len, p, room);
        c->len += room;
        return len;
    }
    memcpy(c->out + c->len, p, len);
    c->len += len;
    if (c->grow) c->out[c->len] = '\0';
    return len;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ctx)
{
    struct s3_call *c = ctx;
    size_t room = sz * n, left = c->blen - c->bpos;
    if (room > left) room = left;
    memcpy(p, (const char *)c->body + c->bpos, room);
    c->bpos += room;
    return room;
}

static int on_seek(void *ctx, curl_off_t off, int origin)
{
    struct s3_call *c = ctx;
    if (origin != SEEK_SET || off < 0 || (size_t)off > c->blen) return CURL_SEEKFUNC_FAIL;
    c->bpos = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static CURL *pool_get(struct s3 *s3)
{
    struct timespec dl;
    CURL *h = NULL;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 900;
    pthread_mutex_lock(&s3->mu);
    for (;;) {
        for (int k = 0; k < s3->nh; k++)
            if (!s3->busy[k]) {
                s3->busy[k] = true;
                h = s3->h[k];
                break;
            }
        if (h || pthread_cond_timedwait(&s3->cv, &s3->mu, &dl) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&s3->mu);
    return h;
}

static void pool_put(struct s3 *s3, CURL *h)
{
    pthread_mutex_lock(&s3->mu);
    for (int k = 0; k < s3->nh; k++)
        if (s3->h[k] == h) s3->busy[k] = false;
    pthread_cond_signal(&s3->cv);
    pthread_mutex_unlock(&s3->mu);
}

static int retryable(CURLcode cc, long status)
{
    if (cc != CURLE_OK)
        return cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_SEND_ERROR ||
               cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE ||
               cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_HTTP2 ||
               cc == CURLE_HTTP2_STREAM;
    return status >= 500 || status == 429;
}

static void header_copy(CURL *h, const char *name, char *out, size_t n)
{
    struct curl_header *hh = NULL;
    out[0] = '\0';
    if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hh) == CURLHE_OK && hh && hh->value)
        snprintf(out, n, "%s", hh->value);
}

/* attempt: one try of the call on handle h; fills status and headers. */
static CURLcode attempt(struct s3 *s3, CURL *h, struct s3_call *c, char *errbuf)
{
    char path[S3_URL_MAX], url[S3_URL_MAX + 600], date[S3_AMZ_DATE_LEN + 1], phash[S3_SHA256_HEX_LEN + 1],
        auth[1024], line[S3_URL_MAX];
    struct s3_hdr hdrs[12];
    struct curl_slist *sl = NULL;
    size_t nh = 0;
    CURLcode cc;
    struct s3_creds cr = { s3->cfg.access_key, s3->cfg.secret_key, s3->cfg.session_token, s3->cfg.region };
    int n = snprintf(path, sizeof path, "%s/", s3->path0);
    if (c->key && s3_uri_encode(c->key, 1, path + n, sizeof path - (size_t)n) < 0) return CURLE_URL_MALFORMAT;
    if (!c->key && s3->path0[0]) path[n - 1] = '\0'; /* "/bucket" */
    snprintf(url, sizeof url, "%s%s%s%s", s3->scheme_host, path, c->query[0] ? "?" : "", c->query);
    s3_amz_date(time(NULL), date);
    if (c->bulk && s3->unsigned_payload) { /* TLS carries it whole; every object is checked when read */
        snprintf(phash, sizeof phash, "UNSIGNED-PAYLOAD");
        atomic_fetch_add(&s3->n_unsigned, 1);
    }
    else if (s3_sha256_hex(c->body ? c->body : "", c->body ? c->blen : 0, phash) < 0)
        return CURLE_OUT_OF_MEMORY;
    hdrs[nh++] = (struct s3_hdr){ "host", s3->host };
    hdrs[nh++] = (struct s3_hdr){ "x-amz-content-sha256", phash };
    hdrs[nh++] = (struct s3_hdr){ "x-amz-date", date };
    if (s3->cfg.session_token) hdrs[nh++] = (struct s3_hdr){ "x-amz-security-token", s3->cfg.session_token };
    for (size_t k = 0; k < c->nextra; k++) hdrs[nh++] = c->extra[k];
    if (s3_sigv4_authorization(&cr, c->method, path, c->query, hdrs, nh, phash, date, auth, sizeof auth) < 0)
        return CURLE_URL_MALFORMAT;
    for (size_t k = 0; k < nh; k++) {
        struct curl_slist *t;
        snprintf(line, sizeof line, "%s: %s", hdrs[k].name, hdrs[k].value);
        if (!(t = curl_slist_append(sl, line))) goto oom;
        sl = t;
    }
    snprintf(line, sizeof line, "Authorization: %s", auth);
    if (!(sl = curl_slist_append(sl, line)) || !(sl = curl_slist_append(sl, "Expect:"))) goto oom;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)s3->cfg.timeout_s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)s3->cfg.timeout_s * 20);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (s3->cfg.ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, s3->cfg.ca_file);
    if (strcmp(c->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(c->method, "PUT") == 0) {
        c->bpos = 0;
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, c);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(c->body ? c->blen : 0));
    } else if (strcmp(c->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? (const char *)c->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(c->body ? c->blen : 0));
    } else if (strcmp(c->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    }
    c->len = 0;
    c->overflow = false;
    c->h = h;
    cc = curl_easy_perform(h);
    c->status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    if (cc == CURLE_OK) {
        curl_off_t cl = -1;
        curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        c->clen = cl;
        header_copy(h, "x-amz-version-id", c->version_id, sizeof c->version_id);
        header_copy(h, "ETag", c->etag, sizeof c->etag);
    }
    curl_slist_free_all(sl);
    return cc;
oom:
    curl_slist_free_all(sl);
    return CURLE_OUT_OF_MEMORY;
}

/* xml_tag: the text of the first <tag>...</tag> at or after *from (advanced past it), copied into
 * out; 0 when absent. The S3 documents read here are flat lists of simple elements. */
static int xml_tag(const char *doc, const char **from, const char *tag, char *out, size_t n)
{
    char open[64], close[64];
    const char *a, *b;
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    if (!doc || !(a = strstr(from ? *from : doc, open))) return 0;
    a += strlen(open);
    if (!(b = strstr(a, close))) return 0;
    if ((size_t)(b - a) >= n) return 0;
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = '\0';
    if (from) *from = b + strlen(close);
    return 1;
}

/* s3_do: runs a call with retries; 0 when the request completed (any status), else -EIO or
 * -ETIMEDOUT. */
static int s3_do(struct s3 *s3, struct s3_call *c)
{
    int64_t start = util_time_now();
    long wait_ms = 100;
    CURL *h = pool_get(s3);
    char errbuf[CURL_ERROR_SIZE];
    CURLcode cc = CURLE_OK;
    if (!h) return -ETIMEDOUT;
    for (c->attempts = 1;; c->attempts++) {
        errbuf[0] = '\0';
        cc = attempt(s3, h, c, errbuf);
        if (cc == CURLE_OUT_OF_MEMORY || cc == CURLE_URL_MALFORMAT) break;
        if (c->overflow) break;
        if (!retryable(cc, c->status)) break;
        if (c->attempts > s3->cfg.retries || util_time_now() - start > (int64_t)S3_RETRY_TOTAL_S * 1000000) break;
        atomic_fetch_add(&s3->n_retry, 1);
        log_warn("s3: %s %s: %s; retrying in %ld ms (attempt %d of %d)", c->method, c->key ? c->key : "(bucket)",
                 cc != CURLE_OK ? (errbuf[0] ? errbuf : curl_easy_strerror(cc)) : "server error", wait_ms,
                 c->attempts + 1, s3->cfg.retries + 1);
        usleep((useconds_t)(wait_ms * 1000 + (rand() % 50) * 1000));
        wait_ms = wait_ms * 2 > 5000 ? 5000 : wait_ms * 2;
    }
    pool_put(s3, h);
    if (c->overflow) return -EFBIG;
    if (cc == CURLE_OUT_OF_MEMORY) return -ENOMEM;
    if (cc == CURLE_URL_MALFORMAT) return -ENAMETOOLONG;
    if (cc != CURLE_OK) {
        log_error("s3: %s %s failed: %s", c->method, c->key ? c->key : "(bucket)",
                  errbuf[0] ? errbuf : curl_easy_strerror(cc));
        return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
    }
    return 0;
}

/* status_rc: the errno of a finished call's status (0 for 2xx); logs what is unexpected. */
static int status_rc(struct s3_call *c)
{
    char code[128] = "";
    if (c->status >= 200 && c->status < 300) return 0;
    if (c->status == 404) return -ENOENT;
    if (c->status == 412) return -EEXIST;
    if (c->grow && c->out) xml_tag(c->out, NULL, "Code", code, sizeof code);
    if (c->status == 403 && (strcmp(code, "AccessDenied") == 0 || strstr(code, "Lock") || strstr(code, "Retention")))
        return -EPERM;
    if (c->status == 409 && strcmp(code, "ConditionalRequestConflict") == 0) return -EEXIST;
    log_error("s3: %s %s: HTTP %ld %s", c->method, c->key ? c->key : "(bucket)", c->status, code);
    if (c->status == 403) return -EACCES;
    if (c->status == 416) return -ERANGE;
    return -EIO;
}

static void call_init(struct s3_call *c, const char *method, const char *key, const char *query)
{
    memset(c, 0, sizeof *c);
    c->method = method;
    c->key = key;
    c->query = query ? query : "";
    c->grow = true;
    c->max = S3_XML_MAX;
}

static void call_free(struct s3_call *c)
{
    if (c->grow) free(c->out);
    c->out = NULL;
}

/* simple: a call with a small body whose answer is only a status (and an error document). */
static int simple(struct s3 *s3, struct s3_call *c)
{
    int rc = s3_do(s3, c);
    if (rc == 0) rc = status_rc(c);
    return rc;
}

/* ---- names ---- */

static int name_ok(int type, const char *name)
{
    size_t n;
    if (type < 0 || type >= REPO_OBJ_NTYPES || !name) return 0;
    n = strlen(name);
    if (n == 0 || n >= S3_NAME_MAX || name[0] == '.') return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
              *p == '_' || *p == '.'))
            return 0;
    return type != REPO_OBJ_PACK || n >= 2;
}

static int obj_key(const struct s3 *s3, int type, const char *name, char *buf, size_t len)
{
    int n;
    if (!name_ok(type, name)) return -EINVAL;
    if (type == REPO_OBJ_PACK) n = snprintf(buf, len, "%sdata/%.2s/%s", s3->kprefix, name, name);
    else n = snprintf(buf, len, "%s%s%s", s3->kprefix, s3_dirs[type], name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- the cache ---- */

static int cache_path(const struct s3 *s3, const char *sub, const char *name, char *buf, size_t len)
{
    int n;
    if (!s3->cache) return -ENOENT;
    n = snprintf(buf, len, "%s/%s/%s", s3->cache, sub, name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int cached_type(int type) { return type == REPO_OBJ_INDEX || type == REPO_OBJ_SNAPSHOT; }

/* cache_store: writes an entry (a temporary in the same directory, then rename: a reader never
 * sees a torn entry under its name). Nothing is fsynced: an entry is a copy of a write-once object
 * that every read checks (cache_load hashes an index or snapshot entry against its name, and the
 * repository authenticates a tree blob's stored bytes), so after a crash a lost or torn entry only
 * costs a GET. Failures only cost a later GET too. The directories exist from the backend's start. */
static void cache_store(struct s3 *s3, const char *sub, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    const char *p = data;
    int fd, ok = 1;
    if (cache_path(s3, sub, name, path, sizeof path) < 0) return;
    if (snprintf(tmp, sizeof tmp, "%s" FSIO_TMP_TAG "%ld-XXXXXX", path, (long)getpid()) >= (int)sizeof tmp) return;
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        log_warn("s3: cannot cache %s: %s", path, strerror(errno));
        return;
    }
    for (size_t left = len; ok && left > 0;) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ok = 0;
        else {
            p += n;
            left -= (size_t)n;
        }
    }
    if (close(fd) < 0) ok = 0;
    if (!ok || rename(tmp, path) < 0) {
        log_warn("s3: cannot cache %s", path);
        unlink(tmp);
    }
}

/* cache_load: an entry; one of a type named by the hash of its bytes (index, snapshot: sub is their
 * directory) whose bytes do not hash to its name is removed and answered -ENOENT. */
static int cache_load(struct s3 *s3, const char *sub, const char *name, size_t max, void **data, size_t *len)
{
    char path[PATH_MAX], hex[S3_SHA256_HEX_LEN + 1];
    int rc = cache_path(s3, sub, name, path, sizeof path);
    if (rc < 0) return rc;
    rc = fsio_read_all(path, max, data, len);
    if (rc == 0 && strcmp(sub, "blob") != 0 &&
        (s3_sha256_hex(*data, *len, hex) < 0 || strcmp(hex, name) != 0)) {
        log_warn("s3: the cached copy %s does not match its name; removed", path);
        unlink(path);
        free(*data);
        *data = NULL;
        *len = 0;
        return -ENOENT;
    }
    if (rc == 0) atomic_fetch_add(&s3->n_hit, 1);
    return rc;
}

static void cache_drop(struct s3 *s3, int type, const char *name)
{
    char path[PATH_MAX];
    if (cached_type(type) && cache_path(s3, s3_dirs[type], name, path, sizeof path) == 0) unlink(path);
}

/* ---- operations ---- */

static int s3_create(struct repo_backend *be)
{
    return 0; /* an object store has no directories; the bucket is the operator's (operations.md) */
}

/* head: the object's size and version id; -ENOENT if absent. */
static int head(struct s3 *s3, const char *key, uint64_t *size, char *vid, size_t vlen)
{
    struct s3_call c;
    int rc;
    call_init(&c, "HEAD", key, "");
    atomic_fetch_add(&s3->n_head, 1);
    rc = simple(s3, &c);
    if (rc == 0) {
        if (size) *size = c.clen < 0 ? 0 : (uint64_t)c.clen;
        if (vid) snprintf(vid, vlen, "%s", c.version_id);
    }
    call_free(&c);
    return rc;
}

static int get_range(struct s3 *s3, const char *key, uint64_t off, void *buf, size_t len, size_t *got);
static int query_add(char *q, size_t n, const char *name, const char *value);

/* same_bytes: the object at key holds exactly data (a retried PUT's first attempt landed). */
static int same_bytes(struct s3 *s3, const char *key, const void *data, size_t len)
{
    uint64_t size = 0;
    char *tmp;
    size_t got = 0;
    int same;
    if (head(s3, key, &size, NULL, 0) < 0 || size != len || len > (64u << 20)) return 0;
    if (!(tmp = malloc(len ? len : 1))) return 0;
    same = get_range(s3, key, 0, tmp, len, &got) == 0 && got == len && memcmp(tmp, data, len) == 0;
    free(tmp);
    return same;
}

static int put_once(struct s3 *s3, const char *key, const void *data, size_t len, struct s3_call *c)
{
    call_init(c, "PUT", key, "");
    c->body = data;
    c->blen = len;
    c->bulk = true;
    c->extra[c->nextra++] = (struct s3_hdr){ "if-none-match", "*" };
    atomic_fetch_add(&s3->n_put, 1);
    return simple(s3, c);
}

/* probe_cond_put: whether the server honours If-None-Match: * on PUT: the same probe object put
 * twice (the second must be 412), then deleted by version. Once per backend. */
static void probe_cond_put(struct s3 *s3)
{
    struct s3_call c;
    char key[S3_KEY_MAX], vid[160] = "", q[400] = "";
    unsigned char rnd[8];
    int rc;
    if (atomic_exchange(&s3->probed, 1)) return;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(rnd, 1, sizeof rnd, f) != sizeof rnd) memset(rnd, 0x5a, sizeof rnd);
    if (f) fclose(f);
    snprintf(key, sizeof key, "%sprobe-%02x%02x%02x%02x%02x%02x%02x%02x-%ld", s3->kprefix, rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5], rnd[6], rnd[7], (long)getpid());
    rc = put_once(s3, key, "probe", 5, &c);
    call_free(&c);
    if (rc < 0) return;
    rc = put_once(s3, key, "probe", 5, &c);
    call_free(&c);
    atomic_store(&s3->cond_put, rc == -EEXIST);
    log_info("s3: the server %s conditional puts%s", rc == -EEXIST ? "honours" : "ignores",
             rc == -EEXIST ? "" : ": a put is HEAD then PUT (best effort against a concurrent writer of the same name)");
    if (head(s3, key, NULL, vid, sizeof vid) == 0) {
        if (vid[0] && strcmp(vid, "null") != 0) query_add(q, sizeof q, "versionId", vid);
        call_init(&c, "DELETE", key, q);
        simple(s3, &c);
        call_free(&c);
    }
}

static int put_key(struct s3 *s3, const char *key, const void *data, size_t len)
{
    struct s3_call c;
    int rc;
    probe_cond_put(s3);
    if (!atomic_load(&s3->cond_put)) {
        rc = head(s3, key, NULL, NULL, 0);
        if (rc == 0) return -EEXIST;
        if (rc != -ENOENT) return rc;
    }
    call_init(&c, "PUT", key, "");
    c.body = data;
    c.blen = len;
    c.bulk = true;
    c.extra[c.nextra++] = (struct s3_hdr){ "if-none-match", "*" };
    atomic_fetch_add(&s3->n_put, 1);
    rc = simple(s3, &c);
    if (rc == -EEXIST && c.attempts > 1 && same_bytes(s3, key, data, len)) rc = 0;
    call_free(&c);
    return rc;
}

static int s3_put(struct repo_backend *be, int type, const char *name, const void *data, size_t len)
{
    struct s3 *s3 = s3_of(be);
    char key[S3_KEY_MAX];
    int rc = obj_key(s3, type, name, key, sizeof key);
    if (rc < 0) return rc;
    rc = put_key(s3, key, data, len);
    if (rc == 0 && cached_type(type)) cache_store(s3, s3_dirs[type], name, data, len);
    return rc;
}

static int get_range(struct s3 *s3, const char *key, uint64_t off, void *buf, size_t len, size_t *got)
{
    struct s3_call c;
    char range[80];
    int rc;
    *got = 0;
    if (len == 0) return head(s3, key, NULL, NULL, 0);
    call_init(&c, "GET", key, "");
    snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
    c.extra[c.nextra++] = (struct s3_hdr){ "range", range };
    c.grow = false;
    c.truncate = true;
    c.out = buf;
    c.cap = len;
    atomic_fetch_add(&s3->n_get, 1);
    rc = s3_do(s3, &c);
    if (rc == 0 && c.status == 200 && off > 0) rc = -EIO; /* the server ignored the range */
    else if (rc == 0 && c.status == 416) rc = 0;      /* at or past the end */
    else if (rc == 0 && (c.status == 200 || c.status == 206)) *got = c.len;
    else if (rc == 0) {
        c.out = NULL; /* no error document captured into the caller's buffer */
        rc = status_rc(&c);
    }
    if (c.status == 416) *got = 0;
    return rc;
}

/* ---- reading packs ahead ----
 *
 * A pack read is "streaming" when it lands near where the last read of that pack ended (a restore,
 * a verify, a prune, a download: many reads from one pack, by one or several threads) or in a block
 * already kept. A streaming read is served from the aligned blocks it covers: a block kept is
 * copied from; one being fetched is waited for; a missing one is fetched by this reader, and the
 * next S3_AHEAD blocks are queued for the fetch-ahead threads, so that several connections fetch a
 * pack's blocks at once while readers copy out of earlier ones. One GET per block whoever asks
 * (no two threads fetch the same block). Any other read is a plain ranged GET. */

static struct blk *blk_find(struct s3 *s3, const char *name, uint64_t no)
{
    for (int k = 0; k < S3_BLOCKS; k++) {
        struct blk *b = &s3->blk[k];
        if (b->state != BLK_EMPTY && !b->dead && b->no == no && strcmp(b->name, name) == 0) return b;
    }
    return NULL;
}

/* blk_claim (ra_mu held): a slot for fetching block no of name (LOADING, one ref: the fetcher's),
 * taken from the empty ones or the least recently used without refs; NULL if every one is busy. */
static struct blk *blk_claim(struct s3 *s3, const char *name, uint64_t no)
{
    struct blk *victim = NULL;
    for (int k = 0; k < S3_BLOCKS; k++) {
        struct blk *b = &s3->blk[k];
        if (b->refs > 0 || b->state == BLK_LOADING) continue;
        if (b->state == BLK_EMPTY) {
            victim = b;
            break;
        }
        if (!victim || b->lru < victim->lru) victim = b;
    }
    if (!victim) return NULL;
    free(victim->data);
    victim->data = NULL;
    snprintf(victim->name, sizeof victim->name, "%s", name);
    victim->no = no;
    victim->len = 0;
    victim->state = BLK_LOADING;
    victim->refs = 1;
    victim->dead = false;
    victim->lru = ++s3->ra_clock;
    return victim;
}

/* blk_release (ra_mu held): drops a ref; the last ref of a dead block frees it. */
static void blk_release(struct s3 *s3, struct blk *b)
{
    if (--b->refs == 0 && b->dead && b->state != BLK_LOADING) {
        free(b->data);
        b->data = NULL;
        b->state = BLK_EMPTY;
        b->dead = false;
    }
    pthread_cond_broadcast(&s3->ra_cv);
}

/* blk_fetch: fetches a claimed block (ra_mu not held; the caller holds its ref); READY, or EMPTY
 * after a failure (the readers waiting for it then read for themselves, and meet the error). */
static void blk_fetch(struct s3 *s3, struct blk *b, const char *key)
{
    char *data = malloc(S3_BLOCK);
    size_t got = 0;
    int rc = data ? get_range(s3, key, b->no * (uint64_t)S3_BLOCK, data, S3_BLOCK, &got) : -ENOMEM;
    pthread_mutex_lock(&s3->ra_mu);
    if (rc == 0) {
        b->data = data;
        b->len = got;
        b->state = BLK_READY;
    } else {
        free(data);
        b->state = BLK_EMPTY;
    }
    pthread_cond_broadcast(&s3->ra_cv);
    pthread_mutex_unlock(&s3->ra_mu);
}

/* blk_get: block no of name, READY, with a ref for the caller (blk_release), or NULL when the
 * caller must read for itself (every slot busy, or the fetch failed). *hit: it was there or on
 * its way (another thread's GET). */
static struct blk *blk_get(struct s3 *s3, const char *name, const char *key, uint64_t no, int *hit)
{
    struct timespec dl;
    struct blk *b;
    *hit = 0;
    pthread_mutex_lock(&s3->ra_mu);
    if ((b = blk_find(s3, name, no)) != NULL) {
        b->refs++;
        util_deadline_ms(&dl, S3_WAIT_MS);
        while (b->state == BLK_LOADING)
            if (pthread_cond_timedwait(&s3->ra_cv, &s3->ra_mu, &dl) == ETIMEDOUT) break;
        if (b->state == BLK_READY) {
            b->lru = ++s3->ra_clock;
            *hit = 1;
            pthread_mutex_unlock(&s3->ra_mu);
            return b;
        }
        blk_release(s3, b);
        pthread_mutex_unlock(&s3->ra_mu);
        return NULL;
    }
    b = blk_claim(s3, name, no);
    pthread_mutex_unlock(&s3->ra_mu);
    if (!b) return NULL;
    blk_fetch(s3, b, key);
    pthread_mutex_lock(&s3->ra_mu);
    if (b->state != BLK_READY) {
        blk_release(s3, b);
        b = NULL;
    }
    pthread_mutex_unlock(&s3->ra_mu);
    return b;
}

/* prefetcher: fetches the blocks queued ahead of streaming readers until the backend stops. */
static void *prefetcher(void *arg)
{
    struct s3 *s3 = arg;
    char key[S3_KEY_MAX];
    util_thread_name("s3-prefetch");
    pthread_mutex_lock(&s3->ra_mu);
    for (;;) {
        struct ahead a;
        struct blk *b;
        while (s3->aq_len == 0 && !s3->pf_stop) pthread_cond_wait(&s3->aq_cv, &s3->ra_mu);
        if (s3->pf_stop) break;
        a = s3->aq[s3->aq_head];
        s3->aq_head = (s3->aq_head + 1) % S3_AHEAD_Q;
        s3->aq_len--;
        if (blk_find(s3, a.name, a.no) || !(b = blk_claim(s3, a.name, a.no))) continue;
        pthread_mutex_unlock(&s3->ra_mu);
        if (obj_key(s3, REPO_OBJ_PACK, a.name, key, sizeof key) == 0) {
            blk_fetch(s3, b, key);
        } else {
            pthread_mutex_lock(&s3->ra_mu);
            b->state = BLK_EMPTY;
            pthread_mutex_unlock(&s3->ra_mu);
        }
        pthread_mutex_lock(&s3->ra_mu);
        blk_release(s3, b);
    }
    pthread_mutex_unlock(&s3->ra_mu);
    return NULL;
}

/* ahead (ra_mu held): queues the S3_AHEAD blocks after no that are neither kept nor queued (the
 * fetch-ahead threads start at the first call; a full queue drops the rest). */
static void ahead(struct s3 *s3, const char *name, uint64_t no)
{
    for (uint64_t k = no + 1; k <= no + S3_AHEAD; k++) {
        int queued = 0;
        if (blk_find(s3, name, k)) continue;
        for (int q = 0; q < s3->aq_len && !queued; q++) {
            const struct ahead *a = &s3->aq[(s3->aq_head + q) % S3_AHEAD_Q];
            queued = a->no == k && strcmp(a->name, name) == 0;
        }
        if (queued) continue;
        if (s3->aq_len == S3_AHEAD_Q) break;
        while (s3->npf < S3_PREFETCHERS && !s3->pf_stop &&
               pthread_create(&s3->pf[s3->npf], NULL, prefetcher, s3) == 0)
            s3->npf++;
        if (s3->npf == 0) return; /* no thread: readers fetch for themselves */
        {
            struct ahead *a = &s3->aq[(s3->aq_head + s3->aq_len) % S3_AHEAD_Q];
            snprintf(a->name, sizeof a->name, "%s", name);
            a->no = k;
        }
        s3->aq_len++;
        pthread_cond_signal(&s3->aq_cv);
    }
}

/* streaming (ra_mu held): whether a read of [off, end) of name streams; remembers where it ends. */
static int streaming(struct s3 *s3, const char *name, uint64_t off, uint64_t end)
{
    struct recent *victim = &s3->recent[0];
    int near = blk_find(s3, name, off / S3_BLOCK) != NULL;
    for (int k = 0; k < S3_RECENT; k++) {
        struct recent *r = &s3->recent[k];
        if (r->name[0] && strcmp(r->name, name) == 0) {
            near = near || (off + S3_NEAR >= r->next && off <= r->next + S3_NEAR);
            victim = r;
            break;
        }
        if (r->lru < victim->lru) victim = r;
    }
    snprintf(victim->name, sizeof victim->name, "%s", name);
    victim->next = end;
    victim->lru = ++s3->ra_clock;
    return near;
}

static void blocks_drop(struct s3 *s3, const char *name)
{
    pthread_mutex_lock(&s3->ra_mu);
    for (int k = 0; k < S3_BLOCKS; k++) {
        struct blk *b = &s3->blk[k];
        if (b->state == BLK_EMPTY || strcmp(b->name, name) != 0) continue;
        if (b->refs > 0 || b->state == BLK_LOADING) {
            b->dead = true;
        } else {
            free(b->data);
            b->data = NULL;
            b->state = BLK_EMPTY;
        }
    }
    pthread_mutex_unlock(&s3->ra_mu);
}

/* unreachable_rc: a read that failed for want of the storage (transport failures and server errors
 * after every retry, -EIO from s3_do / status_rc) is -ENETUNREACH to the repository, which reads
 * -EIO from a backend's get as "the object's bytes are bad" and records the blob as damaged
 * (repo.c): a network blip during a restore must not mark good blobs damaged. */
static int unreachable_rc(int rc)
{
    return rc == -EIO ? -ENETUNREACH : rc;
}

/* s3_get: a ranged GET, or for a streaming pack read (above) a copy out of the blocks it covers. */
static int s3_get(struct repo_backend *be, int type, const char *name, uint64_t off, void *buf, size_t len,
                  size_t *got)
{
    struct s3 *s3 = s3_of(be);
    char key[S3_KEY_MAX];
    uint64_t pos = off, end = off + len;
    int rc = obj_key(s3, type, name, key, sizeof key);
    *got = 0;
    if (rc < 0) return rc;
    if (type != REPO_OBJ_PACK || len == 0 || len >= S3_BLOCK) return unreachable_rc(get_range(s3, key, off, buf, len, got));
    pthread_mutex_lock(&s3->ra_mu);
    rc = streaming(s3, name, off, end);
    pthread_mutex_unlock(&s3->ra_mu);
    if (!rc) return unreachable_rc(get_range(s3, key, off, buf, len, got));
    while (pos < end) {
        uint64_t no = pos / S3_BLOCK, boff = pos - no * S3_BLOCK;
        size_t n, rest = 0;
        int hit, last;
        struct blk *b = blk_get(s3, name, key, no, &hit);
        if (!b) { /* no block: the rest as a plain ranged GET */
            rc = get_range(s3, key, pos, (char *)buf + (pos - off), (size_t)(end - pos), &rest);
            *got += rest;
            return unreachable_rc(rc);
        }
        n = b->len > boff ? b->len - (size_t)boff : 0;
        if (n > end - pos) n = (size_t)(end - pos);
        memcpy((char *)buf + (pos - off), b->data + boff, n);
        last = b->len < S3_BLOCK;
        if (hit) atomic_fetch_add(&s3->n_ra, 1);
        pthread_mutex_lock(&s3->ra_mu);
        if (!last) ahead(s3, name, no);
        blk_release(s3, b);
        pthread_mutex_unlock(&s3->ra_mu);
        *got += n;
        pos += n;
        if (last || n == 0) break; /* the object ends in this block */
    }
    return 0;
}

static int s3_get_all(struct repo_backend *be, int type, const char *name, size_t max, void **data, size_t *len)
{
    struct s3 *s3 = s3_of(be);
    struct s3_call c;
    char key[S3_KEY_MAX];
    int rc = obj_key(s3, type, name, key, sizeof key);
    *data = NULL;
    *len = 0;
    if (rc < 0) return rc;
    if (cached_type(type) && cache_load(s3, s3_dirs[type], name, max, data, len) == 0) return 0;
    call_init(&c, "GET", key, "");
    c.max = max;
    atomic_fetch_add(&s3->n_get, 1);
    rc = s3_do(s3, &c);
    if (rc == 0) rc = status_rc(&c);
    if (rc < 0) {
        call_free(&c);
        return rc;
    }
    if (!c.out && !(c.out = calloc(1, 1))) return -ENOMEM;
    *data = c.out;
    *len = c.len;
    if (cached_type(type)) cache_store(s3, s3_dirs[type], name, c.out, c.len);
    return 0;
}

static int s3_stat(struct repo_backend *be, int type, const char *name, uint64_t *size)
{
    struct s3 *s3 = s3_of(be);
    char key[S3_KEY_MAX];
    int rc = obj_key(s3, type, name, key, sizeof key);
    if (rc < 0) return rc;
    return head(s3, key, size, NULL, 0);
}

/* query_add: appends "&name=value" (value URI-encoded) to a canonical query built in sorted order. */
static int query_add(char *q, size_t n, const char *name, const char *value)
{
    char enc[2048];
    size_t l = strlen(q);
    int w;
    if (s3_uri_encode(value, 0, enc, sizeof enc) < 0) return -ENAMETOOLONG;
    w = snprintf(q + l, n - l, "%s%s=%s", l ? "&" : "", name, enc);
    return w < 0 || (size_t)w >= n - l ? -ENAMETOOLONG : 0;
}

/* list_keys: every key under prefix (ListObjectsV2 pages of up to 1000), fn(ctx, key after prefix). */
static int list_keys(struct s3 *s3, const char *prefix, int delimit, int (*fn)(void *, const char *), void *ctx)
{
    char token[2048] = "", q[4096], key[S3_KEY_MAX], trunc[16];
    size_t plen = strlen(prefix);
    int rc = 0;
    for (int page = 0; rc >= 0 && page < S3_LIST_PAGES_MAX; page++) {
        struct s3_call c;
        const char *at;
        q[0] = '\0';
        if (token[0]) rc = query_add(q, sizeof q, "continuation-token", token);
        if (rc == 0 && delimit) rc = query_add(q, sizeof q, "delimiter", "/");
        if (rc == 0) rc = query_add(q, sizeof q, "list-type", "2");
        if (rc == 0) rc = query_add(q, sizeof q, "prefix", prefix);
        if (rc < 0) return rc;
        call_init(&c, "GET", NULL, q);
        atomic_fetch_add(&s3->n_list, 1);
        rc = s3_do(s3, &c);
        if (rc == 0) rc = status_rc(&c);
        if (rc < 0) {
            call_free(&c);
            return rc;
        }
        at = c.out;
        while (rc >= 0 && at && xml_tag(c.out, &at, "Key", key, sizeof key)) {
            if (strncmp(key, prefix, plen) != 0) continue;
            rc = fn(ctx, key + plen);
        }
        trunc[0] = '\0';
        xml_tag(c.out, NULL, "IsTruncated", trunc, sizeof trunc);
        if (strcmp(trunc, "true") != 0 || !xml_tag(c.out, NULL, "NextContinuationToken", token, sizeof token)) {
            call_free(&c);
            break;
        }
        call_free(&c);
    }
    return rc < 0 ? rc : 0;
}

struct list_ctx {
    int type;
    repo_backend_list_fn fn;
    void *ctx;
};

static int list_one(void *ctx, const char *rest)
{
    struct list_ctx *l = ctx;
    const char *name = rest;
    if (l->type == REPO_OBJ_PACK) {
        /* "xx/<name>" with xx the name's first two characters */
        if (strlen(rest) < 5 || rest[2] != '/' || strncmp(rest, rest + 3, 2) != 0) return 0;
        name = rest + 3;
    }
    if (strchr(name, '/') || !name_ok(l->type, name)) return 0;
    return l->fn(l->ctx, name);
}

static int s3_list(struct repo_backend *be, int type, repo_backend_list_fn fn, void *ctx)
{
    struct s3 *s3 = s3_of(be);
    struct list_ctx l = { type, fn, ctx };
    char prefix[S3_KEY_MAX];
    if (type < 0 || type >= REPO_OBJ_NTYPES) return -EINVAL;
    snprintf(prefix, sizeof prefix, "%s%s", s3->kprefix, s3_dirs[type]);
    return list_keys(s3, prefix, type == REPO_OBJ_ROOT, list_one, &l);
}

static int s3_del(struct repo_backend *be, int type, const char *name)
{
    struct s3 *s3 = s3_of(be);
    struct s3_call c;
    char key[S3_KEY_MAX], vid[160] = "", q[400] = "";
    int rc = obj_key(s3, type, name, key, sizeof key);
    if (rc < 0) return rc;
    if ((rc = head(s3, key, NULL, vid, sizeof vid)) < 0) return rc;
    if (vid[0] && strcmp(vid, "null") != 0 && (rc = query_add(q, sizeof q, "versionId", vid)) < 0) return rc;
    call_init(&c, "DELETE", key, q);
    atomic_fetch_add(&s3->n_del, 1);
    rc = simple(s3, &c);
    if (rc == -ENOENT && c.attempts > 1) rc = 0; /* an earlier attempt did it */
    call_free(&c);
    if (rc == 0) cache_drop(s3, type, name);
    if (rc == 0 && type == REPO_OBJ_PACK) blocks_drop(s3, name);
    return rc;
}

/* iso_time: usecs as the ISO 8601 UTC instant S3 wants (capped at the end of year 9999). */
static void iso_time(int64_t usecs, char *buf, size_t len)
{
    time_t t = (time_t)(usecs / 1000000);
    struct tm tm;
    if (usecs / 1000000 > 253402300799LL) t = (time_t)253402300799LL;
    if (usecs % 1000000) t++; /* never end a retention earlier than asked */
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int64_t iso_parse(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000000;
}

/* get_retention: the object's retention (until 0 and mode "" when none). */
static int get_retention(struct s3 *s3, const char *key, int64_t *until, char *mode, size_t mlen)
{
    struct s3_call c;
    char date[64] = "";
    int rc;
    *until = 0;
    mode[0] = '\0';
    call_init(&c, "GET", key, "retention=");
    atomic_fetch_add(&s3->n_get, 1);
    rc = s3_do(s3, &c);
    if (rc == 0 && (c.status == 404 || (c.status >= 400 && c.status < 500 && c.out &&
                                        strstr(c.out, "ObjectLockConfiguration")))) {
        call_free(&c); /* no retention (or no such object): nothing retains it */
        return 0;
    }
    if (rc == 0) rc = status_rc(&c);
    if (rc == 0) {
        xml_tag(c.out, NULL, "RetainUntilDate", date, sizeof date);
        xml_tag(c.out, NULL, "Mode", mode, mlen);
        *until = date[0] ? iso_parse(date) : 0;
    }
    call_free(&c);
    return rc;
}

static int s3_retained_until(struct repo_backend *be, int type, const char *name, int64_t *until)
{
    struct s3 *s3 = s3_of(be);
    char key[S3_KEY_MAX], mode[32];
    int rc = obj_key(s3, type, name, key, sizeof key);
    *until = 0;
    if (rc < 0) return rc;
    return get_retention(s3, key, until, mode, sizeof mode);
}

/* put_xml: PUT ?<sub> with an XML body and its Content-MD5 (Object Lock requests need one). */
static int put_xml(struct s3 *s3, const char *key, const char *query, const char *xml, int bypass)
{
    struct s3_call c;
    char md5[32];
    int rc = s3_md5_base64(xml, strlen(xml), md5, sizeof md5);
    if (rc < 0) return rc;
    call_init(&c, "PUT", key, query);
    c.body = xml;
    c.blen = strlen(xml);
    c.extra[c.nextra++] = (struct s3_hdr){ "content-md5", md5 };
    if (bypass) c.extra[c.nextra++] = (struct s3_hdr){ "x-amz-bypass-governance-retention", "true" };
    atomic_fetch_add(&s3->n_put, 1);
    rc = simple(s3, &c);
    call_free(&c);
    return rc;
}

static int s3_retain(struct repo_backend *be, int type, const char *name, int64_t until, int mode)
{
    struct s3 *s3 = s3_of(be);
    char key[S3_KEY_MAX], xml[512], when[40], cur_mode[32];
    int64_t cur = 0;
    int rc = obj_key(s3, type, name, key, sizeof key);
    const char *m = mode == REPO_RETAIN_COMPLIANCE ? "COMPLIANCE" : "GOVERNANCE";
    if (rc < 0) return rc;
    if (until <= 0 || (mode != REPO_RETAIN_COMPLIANCE && mode != REPO_RETAIN_GOVERNANCE)) return -EINVAL;
    if ((rc = head(s3, key, NULL, NULL, 0)) < 0) return rc;
    if ((rc = get_retention(s3, key, &cur, cur_mode, sizeof cur_mode)) < 0) return rc;
    /* A later instant already there counts (a COMPLIANCE one is never weakened by a GOVERNANCE call). */
    if (cur > util_time_now() && strcmp(cur_mode, "COMPLIANCE") == 0 && (mode == REPO_RETAIN_GOVERNANCE || cur >= until))
        return 0;
    if (until <= util_time_now()) {
        if (mode == REPO_RETAIN_COMPLIANCE || !cur_mode[0]) return 0;
        /* a GOVERNANCE retention lifted by the data-security right: an empty retention; a server
         * that refuses one (versitygw) gets the retention shortened to S3_LIFT_S from now */
        rc = put_xml(s3, key, "retention=", "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></Retention>",
                     1);
        if (rc != -EIO) return rc;
        until = util_time_now() + (int64_t)S3_LIFT_S * 1000000;
    }
    iso_time(until, when, sizeof when);
    snprintf(xml, sizeof xml,
             "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>%s</Mode>"
             "<RetainUntilDate>%s</RetainUntilDate></Retention>", m, when);
    return put_xml(s3, key, "retention=", xml, mode == REPO_RETAIN_GOVERNANCE || strcmp(cur_mode, "GOVERNANCE") == 0);
}

static int s3_hold(struct repo_backend *be, int type, const char *name, int on)
{
    struct s3 *s3 = s3_of(be);
    char key[S3_KEY_MAX], xml[256];
    int rc = obj_key(s3, type, name, key, sizeof key);
    if (rc < 0) return rc;
    snprintf(xml, sizeof xml,
             "<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>%s</Status></LegalHold>",
             on ? "ON" : "OFF");
    return put_xml(s3, key, "legal-hold=", xml, 0);
}

static int s3_cache_get(struct repo_backend *be, const char *key, void *buf, size_t len)
{
    struct s3 *s3 = s3_of(be);
    void *data = NULL;
    size_t got = 0;
    int rc;
    if (!name_ok(REPO_OBJ_INDEX, key)) return -EINVAL;
    if ((rc = cache_load(s3, "blob", key, len, &data, &got)) < 0) return rc;
    if (got == len) memcpy(buf, data, len);
    free(data);
    return got == len ? 0 : -ENOENT;
}

static void s3_cache_put(struct repo_backend *be, const char *key, const void *data, size_t len)
{
    if (name_ok(REPO_OBJ_INDEX, key)) cache_store(s3_of(be), "blob", key, data, len);
}

/* ---- writers ---- */

static int s3_writer_begin(struct repo_backend *be, int type, struct repo_bwriter **out)
{
    struct s3 *s3 = s3_of(be);
    struct repo_bwriter *w;
    char tmp[PATH_MAX];
    const char *tdir = getenv("TMPDIR");
    int fd, n;
    *out = NULL;
    if (type < 0 || type >= REPO_OBJ_NTYPES) return -EINVAL;
    /* the cache's tmp/ (clean removes what dead processes left there), else $TMPDIR or /tmp */
    if (s3->cache && snprintf(tmp, sizeof tmp, "%s/tmp", s3->cache) < (int)sizeof tmp && fsio_mkdir_p(tmp, 0700) == 0)
        n = snprintf(tmp, sizeof tmp, "%s/tmp/w-%ld-XXXXXX", s3->cache, (long)getpid());
    else
        n = snprintf(tmp, sizeof tmp, "%s/coffer-s3-w-%ld-XXXXXX", tdir && *tdir ? tdir : "/tmp", (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) return -ENAMETOOLONG;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return -errno;
    if (!(w = calloc(1, sizeof *w)) || !(w->tmp = strdup(tmp))) {
        free(w);
        close(fd);
        unlink(tmp);
        return -ENOMEM;
    }
    w->s3 = s3;
    w->fd = fd;
    w->type = type;
    pthread_mutex_init(&w->mu, NULL);
    *out = w;
    return 0;
}

static int s3_writer_write(struct repo_bwriter *w, uint64_t off, const void *data, size_t len)
{
    int rc = fsio_pwrite_full(w->fd, data, len, off);
    if (rc < 0) return rc;
    pthread_mutex_lock(&w->mu);
    if (off + len > w->size) w->size = off + len;
    pthread_mutex_unlock(&w->mu);
    return 0;
}

static int read_exact(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int s3_writer_read(struct repo_bwriter *w, uint64_t off, void *buf, size_t len)
{
    return read_exact(w->fd, buf, len, off);
}

static void abort_upload(struct s3 *s3, const char *key, const char *upload_id)
{
    struct s3_call c;
    char q[1200] = "";
    if (query_add(q, sizeof q, "uploadId", upload_id) < 0) return;
    call_init(&c, "DELETE", key, q);
    if (simple(s3, &c) < 0 && c.status != 404) log_warn("s3: cannot abort the upload of %s", key);
    call_free(&c);
}

struct parts {
    struct s3 *s3;
    struct repo_bwriter *w;
    const char *key, *upload_id;
    uint64_t size;
    size_t nparts;
    char (*etags)[160];
    atomic_size_t next;
    atomic_int rc;
};

/* part_worker: uploads parts taken in turn until none is left or one failed (one part buffer). */
static void *part_worker(void *arg)
{
    struct parts *ps = arg;
    char *part = malloc(S3_PART_SIZE), q[1400], num[24];
    util_thread_name("s3-upload");
    if (!part) {
        atomic_store(&ps->rc, -ENOMEM);
        return NULL;
    }
    for (;;) {
        size_t k = atomic_fetch_add(&ps->next, 1);
        uint64_t off = (uint64_t)k * S3_PART_SIZE;
        size_t plen;
        struct s3_call c;
        int rc;
        if (k >= ps->nparts || atomic_load(&ps->rc) < 0) break;
        plen = (size_t)(ps->size - off < S3_PART_SIZE ? ps->size - off : S3_PART_SIZE);
        rc = read_exact(ps->w->fd, part, plen, off);
        snprintf(num, sizeof num, "%zu", k + 1);
        q[0] = '\0';
        if (rc == 0) rc = query_add(q, sizeof q, "partNumber", num);
        if (rc == 0) rc = query_add(q, sizeof q, "uploadId", ps->upload_id);
        if (rc == 0) {
            call_init(&c, "PUT", ps->key, q);
            c.body = part;
            c.blen = plen;
            c.bulk = true;
            atomic_fetch_add(&ps->s3->n_put, 1);
            rc = simple(ps->s3, &c);
            if (rc == 0 && !c.etag[0]) rc = -EIO;
            if (rc == 0) snprintf(ps->etags[k], sizeof ps->etags[k], "%s", c.etag);
            call_free(&c);
        }
        if (rc < 0) {
            atomic_store(&ps->rc, rc);
            break;
        }
    }
    free(part);
    return NULL;
}

/* multipart: uploads the writer's size bytes as parts (S3_PART_THREADS at a time, one part buffer
 * each) and completes the upload if absent; any failure aborts the upload. */
static int multipart(struct s3 *s3, struct repo_bwriter *w, const char *key, uint64_t size)
{
    struct s3_call c;
    struct parts ps;
    pthread_t th[S3_PART_THREADS];
    int nth = 0;
    char upload_id[1024] = "", q[1400], *xml = NULL;
    size_t nparts = (size_t)((size + S3_PART_SIZE - 1) / S3_PART_SIZE), xlen = 0, xcap;
    int rc;
    if (nparts > S3_MAX_PARTS) return -EFBIG;
    call_init(&c, "POST", key, "uploads=");
    atomic_fetch_add(&s3->n_put, 1);
    rc = simple(s3, &c);
    if (rc == 0 && !xml_tag(c.out, NULL, "UploadId", upload_id, sizeof upload_id)) rc = -EIO;
    call_free(&c);
    if (rc < 0) return rc;
    memset(&ps, 0, sizeof ps);
    ps.s3 = s3;
    ps.w = w;
    ps.key = key;
    ps.upload_id = upload_id;
    ps.size = size;
    ps.nparts = nparts;
    xcap = 200 + nparts * 260;
    if (!(ps.etags = calloc(nparts, sizeof *ps.etags)) || !(xml = malloc(xcap))) {
        rc = -ENOMEM;
        goto out;
    }
    for (int k = 0; k < S3_PART_THREADS && (size_t)k < nparts; k++)
        if (pthread_create(&th[nth], NULL, part_worker, &ps) == 0) nth++;
    if (nth == 0) part_worker(&ps);
    for (int k = 0; k < nth; k++) pthread_join(th[k], NULL);
    if ((rc = atomic_load(&ps.rc)) < 0) goto out;
    xlen = (size_t)snprintf(xml, xcap, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (size_t k = 0; k < nparts; k++)
        xlen += (size_t)snprintf(xml + xlen, xcap - xlen, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
                                 k + 1, ps.etags[k]);
    xlen += (size_t)snprintf(xml + xlen, xcap - xlen, "</CompleteMultipartUpload>");
    if (xlen >= xcap) {
        rc = -ENAMETOOLONG;
        goto out;
    }
    q[0] = '\0';
    if ((rc = query_add(q, sizeof q, "uploadId", upload_id)) < 0) goto out;
    call_init(&c, "POST", key, q);
    c.body = xml;
    c.blen = xlen;
    c.extra[c.nextra++] = (struct s3_hdr){ "if-none-match", "*" };
    atomic_fetch_add(&s3->n_put, 1);
    rc = s3_do(s3, &c);
    /* CompleteMultipartUpload may answer 200 with an error document. */
    if (rc == 0 && c.status == 200 && c.out && strstr(c.out, "<Error>")) c.status = 500;
    if (rc == 0) rc = status_rc(&c);
    if (rc == -ENOENT && c.attempts > 1) {
        uint64_t got = 0;
        /* NoSuchUpload on a retry: the first attempt completed it. */
        if (head(s3, key, &got, NULL, 0) == 0 && got == size) rc = 0;
    }
    call_free(&c);
    if (rc == 0) upload_id[0] = '\0';
out:
    if (upload_id[0]) abort_upload(s3, key, upload_id);
    free(ps.etags);
    free(xml);
    return rc;
}

static int s3_writer_commit(struct repo_bwriter *w, const char *name)
{
    struct s3 *s3 = w->s3;
    char key[S3_KEY_MAX];
    uint64_t size;
    int rc = obj_key(s3, w->type, name, key, sizeof key);
    if (rc < 0) return rc;
    pthread_mutex_lock(&w->mu);
    size = w->size;
    pthread_mutex_unlock(&w->mu);
    if (size < S3_PART_SIZE) {
        char *buf = malloc(size ? (size_t)size : 1);
        if (!buf) return -ENOMEM;
        rc = read_exact(w->fd, buf, (size_t)size, 0);
        if (rc == 0) rc = put_key(s3, key, buf, (size_t)size);
        if (rc == 0 && cached_type(w->type)) cache_store(s3, s3_dirs[w->type], name, buf, (size_t)size);
        free(buf);
        return rc;
    }
    /* A name taken is found by the completion's If-None-Match where the server honours it; else
     * a HEAD first spares the upload (best effort, as put). */
    probe_cond_put(s3);
    if (!atomic_load(&s3->cond_put)) {
        if ((rc = head(s3, key, NULL, NULL, 0)) == 0) return -EEXIST;
        if (rc != -ENOENT) return rc;
    }
    return multipart(s3, w, key, size);
}

static void s3_writer_free(struct repo_bwriter *w)
{
    if (!w) return;
    close(w->fd);
    unlink(w->tmp); /* committed or not, the object store has it or nothing */
    pthread_mutex_destroy(&w->mu);
    free(w->tmp);
    free(w);
}

/* ---- clean, where, destroy ---- */

static int pid_dead(long pid)
{
    return pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* clean_dir: removes from dir what dead processes of this host left: with wprefix, writers'
 * temporaries "<wprefix><pid>-XXXXXX"; without, cache entries' temporaries (cache_store,
 * "<name>.tmp-<pid>-XXXXXX", fsio_tmp_is_stale). The count removed. */
static unsigned clean_dir(const char *dir, const char *wprefix)
{
    char path[PATH_MAX + 300];
    struct dirent *de;
    unsigned n = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    while ((de = readdir(d)) != NULL) {
        if (wprefix) {
            char *end;
            long pid;
            size_t pl = strlen(wprefix);
            if (strncmp(de->d_name, wprefix, pl) != 0) continue;
            pid = strtol(de->d_name + pl, &end, 10);
            if (*end != '-' || !pid_dead(pid)) continue;
        } else if (!strstr(de->d_name, FSIO_TMP_TAG) || !fsio_tmp_is_stale(de->d_name)) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) == 0) n++;
    }
    closedir(d);
    return n;
}

static void s3_clean(struct repo_backend *be)
{
    struct s3 *s3 = s3_of(be);
    char q[2200], prefix[S3_KEY_MAX], dir[PATH_MAX];
    struct s3_call c;
    int64_t now = util_time_now();
    unsigned n = 0;
    /* Local temporaries of dead processes (a crash): writers' staging files, and cache entries being
     * stored (never read: an entry appears by its rename). */
    if (s3->cache) {
        static const char *const subs[] = { "index", "snapshots", "blob" };
        snprintf(dir, sizeof dir, "%s/tmp", s3->cache);
        n += clean_dir(dir, "w-");
        for (size_t k = 0; k < sizeof subs / sizeof *subs; k++) {
            snprintf(dir, sizeof dir, "%s/%s", s3->cache, subs[k]);
            n += clean_dir(dir, NULL);
        }
    } else {
        const char *tdir = getenv("TMPDIR");
        n += clean_dir(tdir && *tdir ? tdir : "/tmp", "coffer-s3-w-");
    }
    if (n) log_info("s3: removed %u temporary file(s) that ended processes left", n);
    /* Multipart uploads abandoned for a day (one page: the rest go at the next open). */
    snprintf(prefix, sizeof prefix, "%s", s3->kprefix);
    q[0] = '\0';
    if (query_add(q, sizeof q, "prefix", prefix) < 0 || query_add(q, sizeof q, "uploads", "") < 0) return;
    call_init(&c, "GET", NULL, q);
    if (simple(s3, &c) == 0 && c.out) {
        const char *at = c.out;
        char up[4096];
        while (xml_tag(c.out, &at, "Upload", up, sizeof up)) {
            char key[S3_KEY_MAX], id[1024], init[64];
            if (!xml_tag(up, NULL, "Key", key, sizeof key) || !xml_tag(up, NULL, "UploadId", id, sizeof id) ||
                !xml_tag(up, NULL, "Initiated", init, sizeof init))
                continue;
            if (now - iso_parse(init) < (int64_t)S3_ABANDONED_S * 1000000) continue;
            log_info("s3: aborting the multipart upload of %s begun %s", key, init);
            abort_upload(s3, key, id);
        }
    }
    call_free(&c);
}

static int s3_where(struct repo_backend *be, int type, const char *name, char *buf, size_t len)
{
    struct s3 *s3 = s3_of(be);
    char key[S3_KEY_MAX];
    int rc = obj_key(s3, type, name, key, sizeof key), n;
    if (rc < 0) return rc;
    n = snprintf(buf, len, "s3://%s/%s", s3->cfg.bucket, key);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void s3_destroy(struct repo_backend *be)
{
    struct s3 *s3 = s3_of(be);
    log_info("s3: s3://%s/%s: %llu GET, %llu PUT/POST, %llu HEAD, %llu DELETE, %llu LIST requests, %llu retries; "
             "%llu cache hits, %llu reads from blocks read ahead", s3->cfg.bucket, s3->cfg.prefix,
             (unsigned long long)s3->n_get, (unsigned long long)s3->n_put, (unsigned long long)s3->n_head,
             (unsigned long long)s3->n_del, (unsigned long long)s3->n_list, (unsigned long long)s3->n_retry,
             (unsigned long long)s3->n_hit, (unsigned long long)s3->n_ra);
    pthread_mutex_lock(&s3->ra_mu); /* the fetch-ahead threads first: they use the handles */
    s3->pf_stop = true;
    pthread_cond_broadcast(&s3->aq_cv);
    pthread_mutex_unlock(&s3->ra_mu);
    for (int k = 0; k < s3->npf; k++) pthread_join(s3->pf[k], NULL);
    for (int k = 0; k < s3->nh; k++) curl_easy_cleanup(s3->h[k]);
    for (int k = 0; k < S3_BLOCKS; k++) free(s3->blk[k].data);
    pthread_cond_destroy(&s3->ra_cv);
    pthread_cond_destroy(&s3->aq_cv);
    pthread_mutex_destroy(&s3->ra_mu);
    pthread_mutex_destroy(&s3->mu);
    pthread_cond_destroy(&s3->cv);
    repo_s3_config_clear(&s3->cfg);
    free(s3->cache);
    free(s3);
}

static const struct repo_backend_ops s3_ops = {
    .name = "s3",
    .create = s3_create,
    .put = s3_put,
    .get = s3_get,
    .get_all = s3_get_all,
    .stat = s3_stat,
    .list = s3_list,
    .del = s3_del,
    .retain = s3_retain,
    .retained_until = s3_retained_until,
    .hold = s3_hold,
    .cache_get = s3_cache_get,
    .cache_put = s3_cache_put,
    .clean = s3_clean,
    .where = s3_where,
    .writer_begin = s3_writer_begin,
    .writer_write = s3_writer_write,
    .writer_read = s3_writer_read,
    .writer_kick = NULL,
    .writer_commit = s3_writer_commit,
    .writer_free = s3_writer_free,
    .destroy = s3_destroy,
    .background_commits = S3_BACKGROUND_COMMITS,
};

/* ---- configuration ---- */

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

void repo_s3_config_clear(struct repo_s3_config *cfg)
{
    free(cfg->bucket);
    free(cfg->prefix);
    free(cfg->endpoint);
    free(cfg->region);
    free(cfg->access_key);
    if (cfg->secret_key) {
        memset(cfg->secret_key, 0, strlen(cfg->secret_key));
        free(cfg->secret_key);
    }
    if (cfg->session_token) {
        memset(cfg->session_token, 0, strlen(cfg->session_token));
        free(cfg->session_token);
    }
    free(cfg->ca_file);
    free(cfg->cache_dir);
    memset(cfg, 0, sizeof *cfg);
}

static const char *env2(const char *a, const char *b)
{
    const char *v = getenv(a);
    if (v && *v) return v;
    v = b ? getenv(b) : NULL;
    return v && *v ? v : NULL;
}

static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = getenv(name);
    char *end;
    long n;
    if (!v || !*v) return def;
    n = strtol(v, &end, 10);
    return *end || n < lo || n > hi ? def : (int)n;
}

static int prefix_ok(const char *p)
{
    for (; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
              *p == '_' || *p == '.' || *p == '/'))
            return 0;
    return 1;
}

int repo_s3_config_from_env(const char *url, const char *cache_dir, struct repo_s3_config *cfg, char *err,
                            size_t errlen)
{
    const char *b, *slash, *v;
    char region[64];
    memset(cfg, 0, sizeof *cfg);
    if (!url || strncmp(url, "s3://", 5) != 0) {
        snprintf(err, errlen, "repository %s: not an s3://bucket/prefix URL", url ? url : "(none)");
        return -EINVAL;
    }
    b = url + 5;
    slash = strchr(b, '/');
    cfg->bucket = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
    cfg->prefix = strdup(slash ? slash + 1 : "");
    if (!cfg->bucket || !cfg->prefix) goto oom;
    while (cfg->prefix[0] && cfg->prefix[strlen(cfg->prefix) - 1] == '/') cfg->prefix[strlen(cfg->prefix) - 1] = '\0';
    if (strlen(cfg->bucket) < 3 || strlen(cfg->bucket) > 63 || strspn(cfg->bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(cfg->bucket)) {
        snprintf(err, errlen, "repository %s: the bucket name must be 3 to 63 of a-z, 0-9, '.', '-'", url);
        goto bad;
    }
    if (!prefix_ok(cfg->prefix) || strlen(cfg->prefix) > 200 || strstr(cfg->prefix, "//")) {
        snprintf(err, errlen, "repository %s: the prefix may hold only A-Z a-z 0-9 - _ . / (200 at most)", url);
        goto bad;
    }
    v = env2("COFFER_S3_REGION", "AWS_REGION");
    snprintf(region, sizeof region, "%s", v ? v : "us-east-1");
    if (!(cfg->region = strdup(region))) goto oom;
    v = env2("COFFER_S3_ENDPOINT", NULL);
    if (v) {
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
            snprintf(err, errlen, "COFFER_S3_ENDPOINT %s: must start with http:// or https://", v);
            goto bad;
        }
        cfg->endpoint = strdup(v);
    } else {
        char ep[160];
        snprintf(ep, sizeof ep, "https://s3.%s.amazonaws.com", region);
        cfg->endpoint = strdup(ep);
    }
    if (!cfg->endpoint) goto oom;
    while (strlen(cfg->endpoint) > 8 && cfg->endpoint[strlen(cfg->endpoint) - 1] == '/')
        cfg->endpoint[strlen(cfg->endpoint) - 1] = '\0';
    cfg->path_style = env_int("COFFER_S3_PATH_STYLE", getenv("COFFER_S3_ENDPOINT") ? 1 : 0, 0, 1);
    cfg->access_key = dup_or_null(env2("COFFER_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"));
    cfg->secret_key = dup_or_null(env2("COFFER_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"));
    cfg->session_token = dup_or_null(env2("COFFER_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN"));
    cfg->ca_file = dup_or_null(env2("COFFER_S3_CA_FILE", NULL));
    cfg->cache_dir = dup_or_null(cache_dir);
    if (!cfg->access_key || !cfg->secret_key) {
        snprintf(err, errlen, "repository %s: no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                 "COFFER_S3_ACCESS_KEY_ID and COFFER_S3_SECRET_ACCESS_KEY)", url);
        goto bad;
    }
    cfg->connections = env_int("COFFER_S3_CONNECTIONS", 8, 1, S3_POOL_MAX);
    cfg->retries = env_int("COFFER_S3_RETRIES", 6, 0, 20);
    cfg->timeout_s = env_int("COFFER_S3_TIMEOUT", 30, 1, 3600);
    v = getenv("COFFER_S3_UNSIGNED_PAYLOAD");
    if (v && *v) {
        if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) {
            cfg->unsigned_payload = 1;
        } else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) {
            cfg->unsigned_payload = -1;
        } else {
            snprintf(err, errlen, "COFFER_S3_UNSIGNED_PAYLOAD %.100s: must be true or false", v);
            goto bad;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    repo_s3_config_clear(cfg);
    return -ENOMEM;
bad:
    repo_s3_config_clear(cfg);
    return -EINVAL;
}

/* cache_dirs: the cache's directories (made once, so that a store is one file and one rename). */
static int cache_dirs(struct s3 *s3)
{
    static const char *const subs[] = { "", "/tmp", "/blob", "/index", "/snapshots" };
    char dir[PATH_MAX];
    for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++) {
        int rc;
        snprintf(dir, sizeof dir, "%s%s", s3->cache, subs[k]);
        if ((rc = fsio_mkdir_p(dir, 0700)) < 0) return rc;
    }
    return 0;
}

static pthread_once_t s3_curl_once = PTHREAD_ONCE_INIT;
static void s3_curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int repo_backend_s3_new(const struct repo_s3_config *cfg, struct repo_backend **out, char *err, size_t errlen)
{
    struct s3 *s3;
    const char *hp;
    char hash[S3_SHA256_HEX_LEN + 1], loc[1024];
    *out = NULL;
    pthread_once(&s3_curl_once, s3_curl_init);
    if (!cfg->bucket || !cfg->endpoint || !cfg->region || !cfg->access_key || !cfg->secret_key) {
        snprintf(err, errlen, "incomplete S3 configuration");
        return -EINVAL;
    }
    if (!(s3 = calloc(1, sizeof *s3))) return -ENOMEM;
    s3->cfg.bucket = strdup(cfg->bucket);
    s3->cfg.prefix = strdup(cfg->prefix ? cfg->prefix : "");
    s3->cfg.endpoint = strdup(cfg->endpoint);
    s3->cfg.region = strdup(cfg->region);
    s3->cfg.access_key = strdup(cfg->access_key);
    s3->cfg.secret_key = strdup(cfg->secret_key);
    s3->cfg.session_token = dup_or_null(cfg->session_token);
    s3->cfg.ca_file = dup_or_null(cfg->ca_file);
    s3->cfg.path_style = cfg->path_style;
    s3->cfg.connections = cfg->connections > 0 && cfg->connections <= S3_POOL_MAX ? cfg->connections : 8;
    s3->cfg.retries = cfg->retries >= 0 ? cfg->retries : 6;
    s3->cfg.timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 30;
    s3->cfg.unsigned_payload = cfg->unsigned_payload;
    s3->unsigned_payload = cfg->unsigned_payload > 0 ||
                           (cfg->unsigned_payload == 0 && strncmp(cfg->endpoint, "https://", 8) == 0);
    pthread_mutex_init(&s3->mu, NULL);
    pthread_mutex_init(&s3->ra_mu, NULL);
    pthread_cond_init(&s3->ra_cv, NULL);
    pthread_cond_init(&s3->aq_cv, NULL);
    pthread_cond_init(&s3->cv, NULL);
    s3->base.ops = &s3_ops;
    if (!s3->cfg.bucket || !s3->cfg.prefix || !s3->cfg.endpoint || !s3->cfg.region || !s3->cfg.access_key ||
        !s3->cfg.secret_key) {
        s3_destroy(&s3->base);
        return -ENOMEM;
    }
    hp = strstr(s3->cfg.endpoint, "://") + 3;
    if (strchr(hp, '/') || strlen(s3->cfg.endpoint) >= 200) {
        snprintf(err, errlen, "S3 endpoint %s: give scheme://host[:port] only", s3->cfg.endpoint);
        s3_destroy(&s3->base);
        return -EINVAL;
    }
    if (s3->cfg.path_style) {
        snprintf(s3->scheme_host, sizeof s3->scheme_host, "%s", s3->cfg.endpoint);
        snprintf(s3->host, sizeof s3->host, "%s", hp);
        snprintf(s3->path0, sizeof s3->path0, "/%s", s3->cfg.bucket);
    } else {
        snprintf(s3->scheme_host, sizeof s3->scheme_host, "%.*s%s.%s", (int)(hp - s3->cfg.endpoint), s3->cfg.endpoint,
                 s3->cfg.bucket, hp);
        snprintf(s3->host, sizeof s3->host, "%s.%s", s3->cfg.bucket, hp);
        s3->path0[0] = '\0';
    }
    snprintf(s3->kprefix, sizeof s3->kprefix, "%s%s", s3->cfg.prefix, s3->cfg.prefix[0] ? "/" : "");
    for (int k = 0; k < s3->cfg.connections; k++) {
        if (!(s3->h[k] = curl_easy_init())) {
            s3_destroy(&s3->base);
            return -ENOMEM;
        }
        s3->nh++;
    }
    if (cfg->cache_dir) {
        /* one cache per location: <cache_dir>/s3-<16 hex of the endpoint, bucket and prefix> */
        snprintf(loc, sizeof loc, "%s/%s/%s", s3->cfg.endpoint, s3->cfg.bucket, s3->cfg.prefix);
        s3_sha256_hex(loc, strlen(loc), hash);
        if (asprintf(&s3->cache, "%s/s3-%.16s", cfg->cache_dir, hash) < 0) s3->cache = NULL;
        if (!s3->cache || cache_dirs(s3) < 0) {
            snprintf(err, errlen, "cannot make the cache directory under %s", cfg->cache_dir);
            s3_destroy(&s3->base);
            return -EIO;
        }
    }
    *out = &s3->base;
    return 0;
}

int repo_backend_s3_stats(struct repo_backend *be, struct repo_s3_stats *out)
{
    struct s3 *s3;
    if (!be || be->ops != &s3_ops) return -EINVAL;
    s3 = s3_of(be);
    out->lists = atomic_load(&s3->n_list);
    out->gets = atomic_load(&s3->n_get);
    out->puts = atomic_load(&s3->n_put);
    out->unsigned_puts = atomic_load(&s3->n_unsigned);
    out->heads = atomic_load(&s3->n_head);
    out->dels = atomic_load(&s3->n_del);
    out->retries = atomic_load(&s3->n_retry);
    out->cache_hits = atomic_load(&s3->n_hit);
    out->readahead_hits = atomic_load(&s3->n_ra);
    return 0;
}
