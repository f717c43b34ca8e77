/* resid.h: string ids of policies and protection groups ("clusterId:incarnationId:n", the form the
 * data-protect API uses), the clock that stamps modification times, and responses served straight
 * from a stored JSON document (text in, text out: no parse on the hot read paths). */
#ifndef COFFER_API_RESID_H
#define COFFER_API_RESID_H
#include "api/api.h"
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

struct cat;

#define API_ID_MAX 64 /* three int64s, two colons, NUL */

/* api_id_format: writes "cluster:incarnation:seq" into buf (len >= API_ID_MAX). */
void api_id_format(char *buf, size_t len, int64_t cluster, int64_t incarnation, int64_t seq);
/* api_id_parse: 1 when s is exactly three positive decimal int64s joined by ':' (no sign, no leading
 * zero, no spaces), filling the parts that are non-NULL; 0 otherwise. */
int api_id_parse(const char *s, int64_t *cluster, int64_t *incarnation, int64_t *seq);
/* api_id_new: the next id of the durable counter seq_name ("policy", "protection_group") of this
 * installation, written into buf (len >= API_ID_MAX); *seq (may be NULL) gets n. 0 or <0. */
int api_id_new(struct cat *cat, const char *seq_name, char *buf, size_t len, int64_t *seq);

/* api_now_usecs: wall-clock microseconds since the epoch. api_next_mtime: a modification time that
 * is now, or previous + 1 when the clock has not moved past previous (so every write changes it). */
int64_t api_now_usecs(void);
int64_t api_next_mtime(int64_t previous);

/* api_doc_response: answers status with the JSON text doc as the body; takes ownership of doc (a
 * malloc'd buffer of len bytes). */
void api_doc_response(struct api_resp *resp, int status, char *doc, size_t len);

/* A growable text buffer with a cap (for list responses built from stored documents): a util/buf
 * whose first failure (past the cap, out of memory) is sticky: it sets failed and ignores further
 * appends, so a list callback can append freely and check once. */
struct api_buf {
    union {
        struct buf b;
        struct {         /* read-only views of b.data and b.len (the same first members) */
            char *data;
            size_t len;
        };
    };
    int failed;
};
void api_buf_init(struct api_buf *b, size_t limit);
void api_buf_add(struct api_buf *b, const char *s, size_t n);
void api_buf_adds(struct api_buf *b, const char *s);
/* api_buf_reserve: makes room for n more bytes at once (a size hint; failure is left to later adds). */
void api_buf_reserve(struct api_buf *b, size_t n);
void api_buf_release(struct api_buf *b);
/* api_buf_steal: hands the text over (the caller frees it; NULL when empty or failed), its length in
 * *len, and leaves the buffer empty. */
char *api_buf_steal(struct api_buf *b, size_t *len);
/* api_buf_add_doc_with: appends the JSON object text doc with extra members ("\"k\":v,...", no
 * braces) added before its closing brace. */
void api_buf_add_doc_with(struct api_buf *b, const char *doc, size_t n, const char *extra);
/* api_buf_respond: answers status with the buffer as the body (500 if it failed); the buffer is
 * handed over and left empty. */
void api_buf_respond(struct api_buf *b, struct api_resp *resp, int status);
#endif
