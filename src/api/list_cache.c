/* list_cache.c: cached list answers (see list_cache.h). A cache is a small array of slots searched
 * linearly under its mutex; an answer (struct entry) carries an atomic reference count: one for the
 * slot, one for each libmicrohttpd response sending it (released by the response's free callback), so
 * the bytes are never copied and never freed while a connection still sends them. */
#include "api/list_cache.h"
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    _Atomic unsigned refs;
    char *data;
    size_t len;
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
        free(e->data);
        free(e);
    }
}

static void entry_unref_cb(void *cls) { entry_unref(cls); }

static void slot_clear(struct api_list_cache *c, struct slot *s)
{
    if (s->e) c->bytes -= s->e->len;
    entry_unref(s->e);
    free(s->key);
    memset(s, 0, sizeof *s);
}

/* respond_entry: answers 200 with e's bytes, taking the caller's reference to e (released with the
 * response, or here when none can be made: then a 500). */
static void respond_entry(struct entry *e, struct api_resp *resp)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(e->len, e->data,
                                                                                    entry_unref_cb, e);
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

int api_list_cache_respond(enum api_list_kind kind, const void *cat, const char *key, uint64_t gen,
                           struct api_resp *resp)
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
    respond_entry(e, resp);
    return 1;
}

void api_list_cache_store_respond(enum api_list_kind kind, const void *cat, const char *key, uint64_t gen,
                                  char *data, size_t len, struct api_resp *resp)
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
    atomic_init(&e->refs, 1); /* the response's */
    if (gen != 0 && (unsigned)kind < API_LIST_CACHE_KINDS && len <= LIST_CACHE_ENTRY_MAX && (k = strdup(key))) {
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
    respond_entry(e, resp);
}
