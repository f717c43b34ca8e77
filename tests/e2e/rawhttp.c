/* rawhttp.c: a raw-socket HTTP/1.1 client with deadlines (see rawhttp.h). One non-blocking socket
 * and a poll loop: write while the server reads, read whatever it answers, stop at the deadline. */
#include "e2e/rawhttp.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

char *rawhttp_build(const char *method, const char *target, size_t target_len, const char *const *headers,
                    const void *body, size_t body_len, size_t *len)
{
    size_t hl = 0, cap;
    char *buf, *p;
    if (!target_len) target_len = strlen(target);
    for (const char *const *h = headers; h && *h; h++) hl += strlen(*h) + 2;
    cap = strlen(method) + target_len + hl + body_len + 256;
    buf = malloc(cap);
    if (!buf) return NULL;
    p = buf;
    p += sprintf(p, "%s ", method);
    memcpy(p, target, target_len);
    p += target_len;
    p += sprintf(p, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (const char *const *h = headers; h && *h; h++) p += sprintf(p, "%s\r\n", *h);
    if (body) p += sprintf(p, "Content-Length: %zu\r\n", body_len);
    p += sprintf(p, "\r\n");
    if (body && body_len) {
        memcpy(p, body, body_len);
        p += body_len;
    }
    *len = (size_t)(p - buf);
    return buf;
}

/* parse: once the head is complete, fills status/head and returns the body offset (0 = not yet). */
static size_t parse_head(struct raw_resp *out, const char *buf, size_t n, long *content_length)
{
    const char *end = n >= 4 ? memmem(buf, n, "\r\n\r\n", 4) : NULL;
    size_t hlen;
    if (!end) return 0;
    hlen = (size_t)(end - buf);
    if (!out->head) {
        out->head = malloc(hlen + 1);
        if (!out->head) return 0;
        memcpy(out->head, buf, hlen);
        out->head[hlen] = '\0';
        if (sscanf(out->head, "HTTP/1.%*d %d", &out->status) != 1) out->status = 0;
        *content_length = -1;
        for (char *l = strstr(out->head, "\r\n"); l; l = strstr(l + 2, "\r\n"))
            if (strncasecmp(l + 2, "Content-Length:", 15) == 0) *content_length = atol(l + 17);
    }
    return hlen + 4;
}

/* exchange: connects, writes req (stopping early if the server stops reading) and reads into *buf
 * (malloc'd, NUL-terminated) until the server closes, the deadline passes or, with one_answer, a
 * complete answer (head and Content-Length bytes) came. Returns 0 when it ended before the deadline. */
static int exchange(int port, const void *req, size_t len, int timeout_ms, int one_answer, char **buf_out,
                    size_t *got_out, long *ms)
{
    struct sockaddr_in a;
    long start = now_ms(), content_length = -1;
    size_t sent = 0, got = 0, cap = 65536, body_off = 0;
    char *buf = malloc(cap);
    int fd, writing = 1, done = 0;
    struct raw_resp head = { 0 };
    *buf_out = NULL;
    *got_out = 0;
    *ms = 0;
    if (!buf) return -1;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        free(buf);
        return -1;
    }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        close(fd);
        free(buf);
        return -1;
    }
    while (!done) {
        struct pollfd p = { .fd = fd, .events = (short)(POLLIN | (writing ? POLLOUT : 0)) };
        long left = timeout_ms - (now_ms() - start);
        if (left <= 0) break;
        if (poll(&p, 1, (int)left) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (writing && (p.revents & POLLOUT)) {
            ssize_t w = send(fd, (const char *)req + sent, len - sent, MSG_NOSIGNAL);
            if (w > 0) sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR) writing = 0; /* the server stopped reading */
            if (sent == len) writing = 0;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r;
            if (got + 4096 > cap) {
                char *nb = realloc(buf, cap * 2);
                if (!nb) break;
                buf = nb;
                cap *= 2;
            }
            r = recv(fd, buf + got, cap - got - 1, 0);
            if (r > 0) got += (size_t)r;
            else if (r == 0 || (errno != EAGAIN && errno != EINTR)) done = 1; /* closed (or reset) */
            if (one_answer && !body_off) body_off = parse_head(&head, buf, got, &content_length);
            if (one_answer && body_off && content_length >= 0 && got - body_off >= (size_t)content_length) done = 1;
        }
    }
    close(fd);
    free(head.head);
    *ms = now_ms() - start;
    buf[got] = '\0';
    *buf_out = buf;
    *got_out = got;
    return done ? 0 : -1;
}

int rawhttp_send(int port, const void *req, size_t len, int timeout_ms, struct raw_resp *out)
{
    long content_length = -1;
    size_t got, body_off;
    char *buf;
    memset(out, 0, sizeof *out);
    out->timed_out = exchange(port, req, len, timeout_ms, 1, &buf, &got, &out->ms) != 0;
    if (!buf) return -1;
    body_off = parse_head(out, buf, got, &content_length);
    if (body_off) {
        out->body_len = got - body_off;
        if (content_length >= 0 && out->body_len > (size_t)content_length) out->body_len = (size_t)content_length;
        out->body = malloc(out->body_len + 1);
        if (out->body) {
            memcpy(out->body, buf + body_off, out->body_len);
            out->body[out->body_len] = '\0';
            out->json = json_loadb(out->body, out->body_len, 0, NULL);
        }
    }
    free(buf);
    return out->status ? 0 : -1;
}

int rawhttp_exchange(int port, const void *req, size_t len, int timeout_ms, char **out, size_t *out_len)
{
    long ms;
    return exchange(port, req, len, timeout_ms, 0, out, out_len, &ms);
}

void raw_resp_release(struct raw_resp *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}
