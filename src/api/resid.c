/* resid.c: string resource ids, modification clocks and responses served from stored documents (see
 * resid.h). Ids are "clusterId:incarnationId:n": the installation's identity from the catalog and a
 * durable per-resource counter, so they never repeat and survive restarts. A stored document is
 * already the compact JSON the client gets, so the read paths copy text and never parse it. */
#include "api/resid.h"
#include "util/time.h"
#include "catalog/cat.h"
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void api_id_format(char *buf, size_t len, int64_t cluster, int64_t incarnation, int64_t seq)
{
    snprintf(buf, len, "%lld:%lld:%lld", (long long)cluster, (long long)incarnation, (long long)seq);
}

/* parse_part: one positive decimal int64 ending at stop; returns the end or NULL. */
static const char *parse_part(const char *p, char stop, int64_t *out)
{
    uint64_t v = 0;
    const char *start = p;
    if (*p < '1' || *p > '9') return NULL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (p - start >= 19) return NULL;          /* more digits than an int64 holds */
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (*p != stop || v > (uint64_t)INT64_MAX) return NULL;
    if (out) *out = (int64_t)v;
    return p;
}

int api_id_parse(const char *s, int64_t *cluster, int64_t *incarnation, int64_t *seq)
{
    const char *p = s;
    if (!p) return 0;
    if (!(p = parse_part(p, ':', cluster))) return 0;
    if (!(p = parse_part(p + 1, ':', incarnation))) return 0;
    if (!(p = parse_part(p + 1, '\0', seq))) return 0;
    return 1;
}

int api_id_new(struct cat *cat, const char *seq_name, char *buf, size_t len, int64_t *seq)
{
    int64_t cluster, incarnation, n;
    if (cat_installation(cat, &cluster, &incarnation) != 0) return -1;
    if (cat_next_seq(cat, seq_name, &n) != 0) return -1;
    api_id_format(buf, len, cluster, incarnation, n);
    if (seq) *seq = n;
    return 0;
}

int64_t api_now_usecs(void) { return util_time_real(); }

int64_t api_next_mtime(int64_t previous)
{
    int64_t now = api_now_usecs();
    return now > previous ? now : previous + 1;
}

void api_doc_response(struct api_resp *resp, int status, char *doc, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, doc, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(doc);
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    json_decref(resp->json);
    resp->json = NULL;
    resp->raw = r;
    resp->doc = doc; /* owned by r, alive until the answer is sent: the audit log reads a create's id */
    resp->doc_len = len;
    resp->status = status;
}

void api_buf_init(struct api_buf *b, size_t limit)
{
    buf_init(&b->b, limit);
    b->failed = 0;
}

void api_buf_add(struct api_buf *b, const char *s, size_t n)
{
    if (!b->failed && buf_append(&b->b, s, n) != 0) b->failed = 1;
}

void api_buf_adds(struct api_buf *b, const char *s) { api_buf_add(b, s, strlen(s)); }

void api_buf_reserve(struct api_buf *b, size_t n)
{
    if (!b->failed) (void)buf_reserve(&b->b, n); /* a hint: a later add reports the failure */
}

void api_buf_release(struct api_buf *b)
{
    buf_free(&b->b);
    b->failed = 0;
}

char *api_buf_steal(struct api_buf *b, size_t *len)
{
    char *d = NULL;
    *len = 0;
    if (!b->failed) {
        *len = b->b.len;
        d = buf_steal(&b->b);
    }
    api_buf_release(b);
    return d;
}

void api_buf_add_doc_with(struct api_buf *b, const char *doc, size_t n, const char *extra)
{
    size_t end = n;
    while (end > 0 && doc[end - 1] != '}') end--;
    if (end == 0) { /* not an object: never stored, but do not corrupt the output */
        b->failed = 1;
        return;
    }
    api_buf_add(b, doc, end - 1);
    if (extra && *extra) {
        /* "{}" has no members: no comma before the extra ones. */
        size_t k = end - 1;
        while (k > 0 && (doc[k - 1] == ' ' || doc[k - 1] == '\n')) k--;
        if (!(k > 0 && doc[k - 1] == '{')) api_buf_add(b, ",", 1);
        api_buf_adds(b, extra);
    }
    api_buf_add(b, "}", 1);
}

void api_buf_respond(struct api_buf *b, struct api_resp *resp, int status)
{
    size_t len = b->b.len;
    if (b->failed || !b->b.data) {
        api_buf_release(b);
        api_error(resp, 500, "InternalError", "response too large or out of memory");
        return;
    }
    api_doc_response(resp, status, buf_steal(&b->b), len);
}
