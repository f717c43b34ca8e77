/* rawhttp.h: a raw-socket HTTP/1.1 client for hostile-input tests. It sends exactly the bytes it is
 * given (raw NUL bytes, invalid UTF-8, huge request lines and bodies that libcurl would refuse or
 * rewrite) to 127.0.0.1:port and reads the answer with a deadline, so a server that never answers is
 * seen as a timeout instead of a hung test.
 *
 *   size_t n; char *req = rawhttp_build("GET", "/v2/x?a=1", extra_headers, NULL, 0, &n);
 *   struct raw_resp r; rawhttp_send(port, req, n, 10000, &r);  (r.status, r.json, r.ms)
 *   raw_resp_release(&r); free(req);
 */
#ifndef COFFER_TESTS_RAWHTTP_H
#define COFFER_TESTS_RAWHTTP_H
#include <jansson.h>
#include <stddef.h>

struct raw_resp {
    int status;       /* HTTP status; 0 when no status line came back */
    int timed_out;    /* 1 when the deadline passed before the answer was complete */
    long ms;          /* from connect to the end of the answer (or the deadline) */
    char *head;       /* the status line and headers, NUL-terminated, owned (may be NULL) */
    char *body;       /* the body, NUL-terminated, owned (may be NULL) */
    size_t body_len;
    json_t *json;     /* the body parsed as JSON, owned, or NULL */
};

/* rawhttp_build: a request with "Host" and "Connection: close", the given extra header lines
 * ("Name: value", NULL-terminated list, may be NULL) and, when body is non-NULL, a Content-Length.
 * target is sent as given (not escaped; it may hold any byte except that its length is target_len,
 * or strlen(target) when target_len is 0). Returns a malloc'd buffer the caller frees; *len is set. */
char *rawhttp_build(const char *method, const char *target, size_t target_len, const char *const *headers,
                    const void *body, size_t body_len, size_t *len);
/* rawhttp_send: connects to 127.0.0.1:port, writes req (stops writing early if the server answers and
 * closes first) and reads the answer until the server closes or Content-Length bytes came, within
 * timeout_ms. Returns 0 when a status line was read, -1 otherwise (out is filled either way). */
int rawhttp_send(int port, const void *req, size_t len, int timeout_ms, struct raw_resp *out);
/* rawhttp_exchange: writes req (which may hold several pipelined requests) and returns in *out
 * (malloc'd, NUL-terminated; the caller frees) everything the server sent until it closed the
 * connection. Returns 0 when the server closed it within timeout_ms, -1 otherwise. */
int rawhttp_exchange(int port, const void *req, size_t len, int timeout_ms, char **out, size_t *out_len);
void raw_resp_release(struct raw_resp *r);
#endif
