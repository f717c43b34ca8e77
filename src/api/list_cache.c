/* list_cache.c: cached list answers (see list_cache.h). A cache is a small array of slots searched
 * linearly under its mutex; an answer (struct entry) carries an atomic reference count: one for the
 * slot, one for each libmicrohttpd response sending it from memory (released by the response's free
 * callback), so the bytes are never copied and never freed while a connection still sends them.
 *
 * A cached answer of LIST_CACHE_FD_MIN bytes or more moves into a sealed memfd (memfd_create, then
 * F_SEAL_WRITE and friends: nobody can change it) mapped read-only: entry->data is that mapping, so
 * the answer is in memory once. On a plain-HTTP connection a hit answers with a duplicate of the
 * memfd's descriptor (MHD_create_response_from_fd64: libmicrohttpd sends it with sendfile(2), so the
 * kernel sends the memfd's pages without copying them from user space, and closes the duplicate
 * with the response); on TLS, or when no descriptor is left, it answers from the mapping as above. */
#include "api/list_cache.h"
#include "api/server.h"
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct entry {
    _Atomic unsigned refs;
    char *data; /* malloc'd, or (fd >= 0) the read-only mapping of fd */
    size_t len;
    int fd;     /* the sealed memfd holding data, or -1 */
};

struct slot {
    const void *cat;
    char *key;
    uint64_t gen;
    uint64_t used; /* the cache's clock when last served or stored: the smallest is replaced */
    struct entry *e;
};

struct api_list_cache {
    pthread_mutex_t lock;
    uint64_t clock;
    size_t bytes; /* of the answers in the slots: at most LIST_CACHE_BYTES */
    struct slot slots[LIST_CACHE_SLOTS];
};

static struct api_list_cache caches[API_LIST_CACHE_KINDS] = {
    { .lock = PTHREAD_MUTEX_INITIALIZER }, { .lock = PTHREAD_MUTEX_INITIALIZER },
};

static void entry_unref(struct entry *e)
{
    if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        if (e->fd >= 0) {
            munmap(e->data, e->len);
            close(e->fd);
        } else {
            free(e->data);
        }
        free(e);
    }
}

/* entry_to_memfd: moves a large answer (still private to the caller) into a sealed memfd mapped
 * read-only (see the file comment). On any failure the answer stays in its malloc'd buffer. */
static void entry_to_memfd(struct entry *e)
{
    size_t off = 0;
    void *m;
    int fd;
    if (e->len < LIST_CACHE_FD_MIN) return;
    fd = memfd_create("coffer-list", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return;
    while (off < e->len) {
        ssize_t n = write(fd, e->data + off, e->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto fail;
        off += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) goto fail;
    m = mmap(NULL, e->len, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) goto fail;
    free(e->data);
    e->data = m;
    e->fd = fd;
    return;
fail:
    close(fd);
}

static void entry_unref_cb(void *cls) { entry_unref(cls); }

static void slot_clear(struct api_list_cache *c, struct slot *s)
{
    if (s->e) c->bytes -= s->e->len;
    entry_unref(s->e);
    free(s->key);
    memset(s, 0, sizeof *s);
}

/* respond_fd: answers 200 from a duplicate of e's memfd (plain HTTP only: sendfile). 1, or 0 when
 * it cannot (no memfd, TLS, no descriptor or memory left): then nothing is changed. */
static int respond_fd(const struct api_req *req, struct entry *e, struct api_resp *resp)
{
    struct MHD_Response *r;
    int d;
    if (e->fd < 0 || !req || api_server_tls(req->server)) return 0;
    if ((d = fcntl(e->fd, F_DUPFD_CLOEXEC, 0)) < 0) return 0;
    if (!(r = MHD_create_response_from_fd64(e->len, d))) {
        close(d);
        return 0;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    json_decref(resp->json);
    resp->json = NULL;
    resp->raw = r; /* r owns d; the memfd lives as long as d, whatever becomes of e */
    resp->doc = NULL;
    resp->doc_len = 0;
    resp->status = 200;
    return 1;
}

/* respond_entry: answers 200 with e's bytes, taking the caller's reference to e (released with the
 * response, or here when none can be made: then a 500). */
static void respond_entry(const struct api_req *req, struct entry *e, struct api_resp *resp)
{
    struct MHD_Response *r;
    if (respond_fd(req, e, resp)) {
        entry_unref(e);
        return;
    }
    r = MHD_create_response_from_buffer_with_free_callback_cls(e->len, e->data, entry_unref_cb, e);
    if (!r) {
        entry_unref(e);
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    json_decref(resp->json);
    resp->json = NULL;
    resp->raw = r;
    resp->doc = e->data; /* alive as long as r */
    resp->doc_len = e->len;
    resp->status = 200;
}

int api_list_cache_respond(enum api_list_kind kind, const struct api_req *req, const void *cat, const char *key,
                           uint64_t gen, struct api_resp *resp)
{
    struct api_list_cache *c;
    struct entry *e = NULL;
    if (gen == 0 || (unsigned)kind >= API_LIST_CACHE_KINDS) return 0;
    c = &caches[kind];
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < LIST_CACHE_SLOTS; i++) {
        struct slot *s = &c->slots[i];
        if (!s->e || s->cat != cat || strcmp(s->key, key) != 0) continue;
        if (s->gen != gen) {
            slot_clear(c, s); /* out of date: never served again */
            continue;
        }
        e = s->e;
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        s->used = ++c->clock;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    if (!e) return 0;
    respond_entry(req, e, resp);
    return 1;
}

void api_list_cache_store_respond(enum api_list_kind kind, const struct api_req *req, const void *cat,
                                  const char *key, uint64_t gen, char *data, size_t len, struct api_resp *resp)
{
    struct entry *e = calloc(1, sizeof *e);
    char *k = NULL;
    if (!e) {
        free(data);
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    e->data = data;
    e->len = len;
    e->fd = -1;
    atomic_init(&e->refs, 1); /* the response's */
    if (gen != 0 && (unsigned)kind < API_LIST_CACHE_KINDS && len <= LIST_CACHE_ENTRY_MAX && (k = strdup(key))) {
        entry_to_memfd(e); /* before the slot shares it: the mapping replaces data */
        struct api_list_cache *c = &caches[kind];
        struct slot *victim = NULL;
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < LIST_CACHE_SLOTS; i++) {
            struct slot *s = &c->slots[i];
            if (s->e && s->cat == cat && strcmp(s->key, key) == 0) { /* the same list, built again */
                victim = s;
                break;
            }
            if (!victim || !s->e || (victim->e && s->used < victim->used)) victim = s;
        }
        /* An answer read under an older generation than the slot's is not put back over it. */
        if (victim->e && victim->cat == cat && strcmp(victim->key, key) == 0 && victim->gen > gen) {
            free(k);
        } else {
            slot_clear(c, victim);
            /* within the byte budget: the least recently used answers go first */
            while (c->bytes + len > LIST_CACHE_BYTES) {
                struct slot *old = NULL;
                for (size_t i = 0; i < LIST_CACHE_SLOTS; i++)
                    if (c->slots[i].e && (!old || c->slots[i].used < old->used)) old = &c->slots[i];
                if (!old) break;
                slot_clear(c, old);
            }
            atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed); /* the slot's */
            *victim = (struct slot){ .cat = cat, .key = k, .gen = gen, .used = ++c->clock, .e = e };
            c->bytes += len;
        }
        pthread_mutex_unlock(&c->lock);
    }
    respond_entry(req, e, resp);
}
