/* restore.c: a restore the server asked for (a work item of kind "restore", engine/remote.h
 * eng_remote_restore), carried out by the file engine's own restorer on this host: eng_restore runs
 * on a read-only remote repository handle (repo.h repo_open_remote with the chunk sizes only, no
 * key) whose reads become agent-protocol requests for that work (docs/agent-protocol.md):
 *   get            POST .../read {"ids": [...]}: the server answers the blobs decrypted, framed as
 *                  uploads are (zstd per frame when that helps); it refuses (403) any blob that is
 *                  not a tree or data blob under the restored paths of the work's snapshot.
 *   snapshot_read  POST .../parent {"id"}: the work's snapshot document.
 *   put, snapshot_write, exists: refused here (a restore writes nothing to the repository).
 * So the local restorer's safety rules (nothing outside the target, no symlink followed, the
 * overwrite rule, files renamed into place only when complete and durable) hold unchanged.
 *
 * Reads are batched: every tree read is decoded and the data blobs of its files are queued in a
 * read-ahead window (AGENTD_PF_MAX blobs, in the order the trees name them; a tree whose blobs do
 * not fit waits, at most AGENTD_PF_TREES of them, and is queued on as the window empties; entries
 * far behind the latest one asked for were skipped and are dropped); a blob the restorer
 * asks for that is not there yet is read together with the queued blobs after it (then the oldest)
 * in one request of at most AGENTD_PF_IDS ids and AGENTD_PF_BATCH_BYTES (2 s of a rate limit), and
 * the others wait in the window (AGENTD_PF_READY_BYTES at most, the oldest dropped first) until the
 * restorer's threads take them; a thread wanting a blob another thread's request carries waits for
 * it. Trees only on the way to the restored paths (read first, prewalk) queue nothing: their other
 * files are not restored. A file the restorer skips (the overwrite rule) may have been read ahead.
 * Blobs asked for are also kept in a small bounded cache (AGENTD_RCACHE_N blobs, at most
 * AGENTD_RCACHE_BYTES), so a tree read while resolving the paths and again while walking is fetched
 * once. The end is POSTed to .../done: {"result": {files, dirs, symlinks, other, bytes, skipped,
 * errors}} or {"error"}.
 * A PostgreSQL instance (kind "pg_restore", agentd_pg_restore_run) is restored the same way by
 * pg_copy.c's eng_pg_instance_new on this handle: into a new data directory on this host, started on
 * the port asked for and left running. */
#include "agentd/core.h"
#include "engine/engine.h"
#include "engine/pg.h"
#include "repo/tree.h"
#include "util/time.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define AGENTD_RCACHE_N 32
#define AGENTD_RCACHE_BYTES (32u << 20)
#define AGENTD_READ_ANSWER (24u << 20) /* up to 8 MiB of frames and one blob of at most 16 MiB */
#define AGENTD_PF_MAX 4096                 /* read-ahead window: blobs known to come */
#define AGENTD_PF_IDS 256                  /* ids per read request (the route's limit) */
#define AGENTD_PF_BATCH_BYTES (4u << 20)   /* plaintext asked for in one request */
#define AGENTD_PF_READY_BYTES (16u << 20)  /* read ahead and not yet taken, plus in flight */
#define AGENTD_WAY_MAX 1024                /* trees on the way to the restored paths */
#define AGENTD_PF_TREES 64                 /* trees read whose blobs wait for room in the window */
#define AGENTD_PF_BEHIND (AGENTD_PF_MAX / 2) /* entries this far behind the latest asked for: skipped */
#define BLOB_HDR (1 + REPO_ID_LEN + 4 + 4)
#define BLOB_ZSTD 0x80

struct rcache_ent {
    repo_id_t id;
    void *data;   /* NULL: empty slot */
    size_t len;
};

enum pf_state { PF_FREE, PF_QUEUED, PF_INFLIGHT, PF_READY };

struct pf_ent {                    /* a data blob the restorer will likely ask for */
    repo_id_t id;
    uint32_t len;                  /* plaintext bytes (from its tree) */
    enum pf_state state;
    void *data;                    /* READY: the plaintext */
};

struct rwork {
    pthread_mutex_t mu;            /* guards the cache, the read-ahead window and the counters */
    pthread_cond_t cv;             /* a read request ended */
    struct agentd_conn conn;
    char base[160];                /* /v2/coffer/agents/work/<id> */
    struct rcache_ent cache[AGENTD_RCACHE_N];
    size_t cache_bytes, next_slot;
    struct pf_ent pf[AGENTD_PF_MAX]; /* ring: positions pf_head..pf_tail-1 */
    uint64_t pf_head, pf_tail;
    uint64_t pf_last;              /* the latest window position the restorer asked for */
    struct pf_tree { struct tree *t; size_t entry, chunk; } pend[AGENTD_PF_TREES]; /* FIFO, not yet all queued */
    size_t n_pend;
    uint64_t pf_ready_bytes, pf_inflight_bytes, prefetched;
    repo_id_t way[AGENTD_WAY_MAX]; /* trees only on the way to the restored paths */
    size_t n_way;
    int prewalk;                   /* reading the way trees: nothing is read ahead */
    uint64_t batch_bytes;          /* AGENTD_PF_BATCH_BYTES, less under a rate limit */
    uint64_t bytes_received, requests;
    int64_t start_usecs;           /* the rate limit's clock (monotonic) */
    int ended;                     /* the server said the work ended */
    char err[512];
};

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* cache_get: a copy of the cached blob id (w->mu held); 1 found, 0 not, -ENOMEM. */
static int cache_get(struct rwork *w, const repo_id_t *id, void **data, size_t *len)
{
    for (size_t i = 0; i < AGENTD_RCACHE_N; i++) {
        struct rcache_ent *e = &w->cache[i];
        if (!e->data || memcmp(&e->id, id, sizeof *id) != 0) continue;
        if (!(*data = malloc(e->len ? e->len : 1))) return -ENOMEM;
        memcpy(*data, e->data, e->len);
        if (len) *len = e->len;
        return 1;
    }
    return 0;
}

/* cache_put: keeps a copy of a blob (w->mu held), evicting round robin; too large ones are not kept. */
static void cache_put(struct rwork *w, const repo_id_t *id, const void *data, size_t len)
{
    struct rcache_ent *e;
    void *copy;
    if (len > AGENTD_RCACHE_BYTES / 4 || !(copy = malloc(len ? len : 1))) return;
    memcpy(copy, data, len);
    for (size_t k = 0; k < AGENTD_RCACHE_N && w->cache_bytes + len > AGENTD_RCACHE_BYTES; k++) {
        e = &w->cache[(w->next_slot + k) % AGENTD_RCACHE_N];
        if (e->data) {
            w->cache_bytes -= e->len;
            free(e->data);
            e->data = NULL;
        }
    }
    e = &w->cache[w->next_slot];
    w->next_slot = (w->next_slot + 1) % AGENTD_RCACHE_N;
    if (e->data) {
        w->cache_bytes -= e->len;
        free(e->data);
    }
    e->id = *id;
    e->data = copy;
    e->len = len;
    w->cache_bytes += len;
}

static int answer_error(struct rwork *w, const char *what, struct agentd_answer *a)
{
    char mbuf[256];
    int rc = a->status == 409 || a->status == 404 || a->status == 401 || a->status == 403 ? -ECANCELED : -EPROTO;
    pthread_mutex_lock(&w->mu);
    snprintf(w->err, sizeof w->err, "%s: HTTP %ld: %s", what, a->status, agentd_answer_message(a, mbuf, sizeof mbuf));
    if (a->status != 403 && rc == -ECANCELED) w->ended = 1;
    pthread_mutex_unlock(&w->mu);
    agentd_answer_release(a);
    return rc == -ECANCELED && a->status == 403 ? -EPERM : rc;
}

/* ---- read-ahead ---- */

static int op_snapshot_read(void *ctx, const char *id, json_t **doc);

/* pf_find: the window position holding id (w->mu held), or UINT64_MAX. */
static uint64_t pf_find(const struct rwork *w, const repo_id_t *id)
{
    for (uint64_t p = w->pf_head; p < w->pf_tail; p++) {
        const struct pf_ent *e = &w->pf[p % AGENTD_PF_MAX];
        if (e->state != PF_FREE && memcmp(&e->id, id, sizeof *id) == 0) return p;
    }
    return UINT64_MAX;
}

/* pf_drop: frees entry e (w->mu held) and moves the head past free entries. */
static void pf_drop(struct rwork *w, struct pf_ent *e)
{
    if (e->state == PF_READY) {
        w->pf_ready_bytes -= e->len;
        free(e->data);
    } else if (e->state == PF_INFLIGHT) {
        w->pf_inflight_bytes -= e->len;
    }
    e->data = NULL;
    e->state = PF_FREE;
    while (w->pf_head < w->pf_tail && w->pf[w->pf_head % AGENTD_PF_MAX].state == PF_FREE) w->pf_head++;
}

/* pf_evict_ready: drops the oldest blob read ahead and not yet taken (w->mu held); 0 when there is none. */
static int pf_evict_ready(struct rwork *w)
{
    for (uint64_t p = w->pf_head; p < w->pf_tail; p++) {
        struct pf_ent *e = &w->pf[p % AGENTD_PF_MAX];
        if (e->state == PF_READY) {
            pf_drop(w, e);
            return 1;
        }
    }
    return 0;
}

/* pf_enqueue: the restorer will likely ask for id (a data blob of len bytes) soon (w->mu held).
 * -ENOSPC when the window is full (try again when it has room); a blob known already is skipped. */
static int pf_enqueue(struct rwork *w, const repo_id_t *id, uint32_t len)
{
    struct pf_ent *e;
    if (len > AGENTD_PF_BATCH_BYTES || pf_find(w, id) != UINT64_MAX) return 0;
    for (size_t i = 0; i < AGENTD_RCACHE_N; i++)
        if (w->cache[i].data && memcmp(&w->cache[i].id, id, sizeof *id) == 0) return 0;
    if (w->pf_tail - w->pf_head >= AGENTD_PF_MAX) return -ENOSPC;
    e = &w->pf[w->pf_tail++ % AGENTD_PF_MAX];
    e->id = *id;
    e->len = len;
    e->data = NULL;
    e->state = PF_QUEUED;
    return 0;
}

/* pf_refill: queues the blobs of the waiting trees, oldest tree first, while the window has room
 * (w->mu held). */
static void pf_refill(struct rwork *w)
{
    while (w->n_pend > 0) {
        struct pf_tree *pt = &w->pend[0];
        for (; pt->entry < pt->t->n; pt->entry++, pt->chunk = 0) {
            const struct tree_entry *e = &pt->t->entries[pt->entry];
            if (e->type != TREE_FILE || e->hardlink) continue;
            for (; pt->chunk < e->n_chunks; pt->chunk++)
                if (pf_enqueue(w, &e->chunks[pt->chunk].id, e->chunks[pt->chunk].len) != 0) return;
        }
        tree_free(pt->t);
        memmove(&w->pend[0], &w->pend[1], (w->n_pend - 1) * sizeof w->pend[0]);
        w->n_pend--;
    }
}

/* pf_asked: the restorer asked for the blob at window position at: entries far behind it were
 * skipped by the restorer (or will be asked for again singly): dropped (w->mu held). */
static void pf_asked(struct rwork *w, uint64_t at)
{
    if (at == UINT64_MAX) return;
    if (at > w->pf_last) w->pf_last = at;
    for (uint64_t p = w->pf_head; p + AGENTD_PF_BEHIND < w->pf_last && p < w->pf_tail; p++) {
        struct pf_ent *e = &w->pf[p % AGENTD_PF_MAX];
        if (e->state == PF_QUEUED || e->state == PF_READY) pf_drop(w, e);
    }
}

/* way_tree: id is a tree on the way to the restored paths (w->mu held): its files are not restored. */
static int way_tree(const struct rwork *w, const repo_id_t *id)
{
    for (size_t i = 0; i < w->n_way; i++)
        if (memcmp(&w->way[i], id, sizeof *id) == 0) return 1;
    return 0;
}

/* learn_tree: a tree was read: the data blobs of its files are queued for reading ahead, unless it
 * is a tree only on the way to the restored paths (w->mu held). */
static void learn_tree(struct rwork *w, const repo_id_t *id, const void *data, size_t len)
{
    struct tree *t = NULL;
    if (w->prewalk || way_tree(w, id) || w->n_pend >= AGENTD_PF_TREES || tree_decode(data, len, &t) != 0) return;
    w->pend[w->n_pend++] = (struct pf_tree){ .t = t };
    pf_refill(w);
}

/* unframe: the next frame of an answer at *p (end: the answer's end): its type, id and plaintext
 * (malloc'd). -EPROTO for a malformed frame, -ENOMEM. */
static int unframe(const uint8_t **p, const uint8_t *end, int *type, repo_id_t *id, void **data, size_t *len)
{
    const uint8_t *q = *p;
    uint32_t plain, payload;
    *data = NULL;
    if ((size_t)(end - q) < BLOB_HDR) return -EPROTO;
    plain = get_u32(q + 1 + REPO_ID_LEN);
    payload = get_u32(q + 1 + REPO_ID_LEN + 4);
    if (payload > (size_t)(end - q) - BLOB_HDR || plain > REPO_CHUNK_MAX * 2u || (!(q[0] & BLOB_ZSTD) && payload != plain))
        return -EPROTO;
    if (!(*data = malloc(plain ? plain : 1))) return -ENOMEM;
    if (q[0] & BLOB_ZSTD) {
        size_t n = ZSTD_decompress(*data, plain, q + BLOB_HDR, payload);
        if (ZSTD_isError(n) || n != plain) {
            free(*data);
            *data = NULL;
            return -EPROTO;
        }
    } else if (plain) {
        memcpy(*data, q + BLOB_HDR, plain);
    }
    *type = q[0] & 0x7f;
    memcpy(id->b, q + 1, REPO_ID_LEN);
    *len = plain;
    *p = q + BLOB_HDR + payload;
    return 0;
}

/* fetch: one read request for id and (read-ahead) the queued blobs after it, then from the oldest:
 * at most AGENTD_PF_IDS ids, AGENTD_PF_BATCH_BYTES and what the ready store has room for. Called
 * and returns with w->mu held (released during the request). id's plaintext into *data. */
static int fetch(struct rwork *w, const repo_id_t *id, void **data, size_t *len)
{
    json_t *ids = json_array(), *body;
    struct agentd_answer a = { 0 };
    char hex[REPO_ID_HEX_LEN + 1], path[200], terr[256];
    uint64_t mine[AGENTD_PF_IDS], at = pf_find(w, id), bytes = 0;
    size_t n_mine = 0;
    const uint8_t *p, *end;
    int64_t due;
    int rc = 0, got = 0;
    if (!ids) return -ENOMEM;
    pf_asked(w, at);
    pf_refill(w);
    at = pf_find(w, id);
    repo_id_to_hex(id, hex);
    json_array_append_new(ids, json_string(hex));
    if (at != UINT64_MAX && w->pf[at % AGENTD_PF_MAX].state != PF_INFLIGHT) {
        w->pf[at % AGENTD_PF_MAX].state = PF_INFLIGHT;
        w->pf_inflight_bytes += w->pf[at % AGENTD_PF_MAX].len;
    }
    /* read ahead: from just after id, then from the oldest queued */
    for (int pass = 0; pass < 2; pass++) {
        uint64_t from = pass == 0 ? (at == UINT64_MAX ? w->pf_tail : at + 1) : w->pf_head;
        for (uint64_t q = from; q < w->pf_tail && n_mine < AGENTD_PF_IDS - 1; q++) {
            struct pf_ent *e = &w->pf[q % AGENTD_PF_MAX];
            if (e->state != PF_QUEUED) continue;
            if (bytes + e->len > w->batch_bytes) break;
            while (w->pf_ready_bytes + w->pf_inflight_bytes + e->len > AGENTD_PF_READY_BYTES && pf_evict_ready(w)) {}
            if (w->pf_ready_bytes + w->pf_inflight_bytes + e->len > AGENTD_PF_READY_BYTES) break;
            repo_id_to_hex(&e->id, hex);
            json_array_append_new(ids, json_string(hex));
            e->state = PF_INFLIGHT;
            bytes += e->len;
            w->pf_inflight_bytes += e->len;
            mine[n_mine++] = q;
        }
    }
    body = json_pack("{s:o}", "ids", ids);
    snprintf(path, sizeof path, "%s/read", w->base);
    pthread_mutex_unlock(&w->mu);
    rc = body ? agentd_http_json(&w->conn, "POST", path, body, &a, terr, sizeof terr) : -ENOMEM;
    json_decref(body);
    pthread_mutex_lock(&w->mu);
    w->requests++;
    if (rc != 0) snprintf(w->err, sizeof w->err, "%s", terr);
    if (rc == 0 && a.status != 200) {
        pthread_mutex_unlock(&w->mu);
        rc = answer_error(w, "read", &a);
        pthread_mutex_lock(&w->mu);
    }
    p = rc == 0 ? (const uint8_t *)a.body : NULL;
    end = p ? p + a.body_len : NULL;
    while (rc == 0 && p < end) {
        repo_id_t fid;
        void *fdata = NULL;
        size_t flen = 0;
        int ftype = 0;
        if ((rc = unframe(&p, end, &ftype, &fid, &fdata, &flen)) != 0) break;
        if (ftype == REPO_BLOB_TREE) learn_tree(w, &fid, fdata, flen);
        if (!got && memcmp(&fid, id, sizeof fid) == 0) {
            got = 1;
            *data = fdata;
            if (len) *len = flen;
            cache_put(w, id, fdata, flen);
            continue;
        }
        for (size_t k = 0; k < n_mine; k++) {
            struct pf_ent *e = &w->pf[mine[k] % AGENTD_PF_MAX];
            if (e->state != PF_INFLIGHT || memcmp(&e->id, &fid, sizeof fid) != 0) continue;
            w->pf_inflight_bytes -= e->len;
            e->len = (uint32_t)flen;
            e->data = fdata;
            fdata = NULL;
            e->state = PF_READY;
            w->pf_ready_bytes += flen;
            w->prefetched++;
            break;
        }
        free(fdata); /* not asked for: ignored */
    }
    if (rc == 0) w->bytes_received += a.body_len;
    if (rc == 0 && !got) rc = -EPROTO;
    /* what did not come (the answer stops after 8 MiB, or it failed) is queued again */
    for (size_t k = 0; k < n_mine; k++) {
        struct pf_ent *e = &w->pf[mine[k] % AGENTD_PF_MAX];
        if (e->state != PF_INFLIGHT) continue;
        w->pf_inflight_bytes -= e->len;
        e->state = PF_QUEUED;
    }
    if (at != UINT64_MAX && w->pf[at % AGENTD_PF_MAX].state == PF_INFLIGHT) pf_drop(w, &w->pf[at % AGENTD_PF_MAX]);
    agentd_answer_release(&a);
    pthread_cond_broadcast(&w->cv);
    if (rc != 0) {
        free(got ? *data : NULL);
        *data = NULL;
        return rc;
    }
    /* the rate limit over the whole restore (libcurl's holds within one request only) */
    due = w->conn.rate_limit > 0 ? w->start_usecs + (int64_t)(w->bytes_received * 1000000.0 / (double)w->conn.rate_limit)
                                 : 0;
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < 3600 && due > util_time_mono(); i++)
        usleep(due - util_time_mono() > 1000000 ? 1000000 : (useconds_t)(due - util_time_mono()));
    pthread_mutex_lock(&w->mu);
    return 0;
}

/* op_get: a blob for the restorer: from the cache, from the read-ahead store, or waiting for the
 * request that is reading it already, else read (with read-ahead). */
static int op_get(void *ctx, const repo_id_t *id, void **data, size_t *len)
{
    struct rwork *w = ctx;
    int rc = 0;
    *data = NULL;
    if (len) *len = 0;
    pthread_mutex_lock(&w->mu);
    for (int waits = 0;; waits++) {
        uint64_t at;
        struct pf_ent *e;
        if (w->ended) {
            rc = -ECANCELED;
            break;
        }
        if ((rc = cache_get(w, id, data, len)) != 0) {
            rc = rc < 0 ? rc : 0;
            break;
        }
        at = pf_find(w, id);
        e = at != UINT64_MAX ? &w->pf[at % AGENTD_PF_MAX] : NULL;
        if (e && e->state == PF_READY) { /* handed over: the entry keeps no data */
            *data = e->data;
            if (len) *len = e->len;
            w->pf_ready_bytes -= e->len;
            e->data = NULL;
            e->state = PF_QUEUED;
            pf_drop(w, e);
            pf_asked(w, at);
            pf_refill(w);
            break;
        }
        if (e && e->state == PF_INFLIGHT && waits < 600) { /* another thread's request carries it */
            struct timespec ts;
            util_deadline_ms(&ts, 1000);
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
            continue;
        }
        rc = fetch(w, id, data, len);
        break;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* path_under: the normalized path dir is path (given as the server sent it: repeated and trailing
 * '/' allowed) or lies below it. */
static int path_under(const char *dir, const char *path)
{
    const char *a = dir, *b = path;
    for (;;) {
        size_t la, lb;
        while (*a == '/') a++;
        while (*b == '/') b++;
        if (!*b) return 1;  /* path's components all matched */
        if (!*a) return 0;  /* dir is above path */
        la = strcspn(a, "/");
        lb = strcspn(b, "/");
        if (la != lb || memcmp(a, b, la) != 0) return 0;
        a += la;
        b += lb;
    }
}

/* prewalk: reads the trees on the way to each restored path (from the snapshot's root) and marks
 * them as such: the files in them are not restored (only the path below them is), so their data is
 * not read ahead. A tree at or below a restored path is not a way tree. Failures are left to the
 * restorer (it resolves the same paths and reports them). */
static void prewalk(struct rwork *w, const char *snap, const char *const *paths, size_t n)
{
    json_t *doc = NULL;
    repo_id_t root;
    const char *tree_hex;
    if (op_snapshot_read(w, snap, &doc) != 0 || !(tree_hex = json_string_value(json_object_get(doc, "tree"))) ||
        repo_id_from_hex(tree_hex, &root) != 0) {
        json_decref(doc);
        return;
    }
    json_decref(doc);
    pthread_mutex_lock(&w->mu);
    w->prewalk = 1;
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < n; i++) {
        repo_id_t cur = root;
        char prefix[4096] = "";
        const char *p = paths[i];
        for (int depth = 0; depth < 256 && w->n_way < AGENTD_WAY_MAX; depth++) {
            const char *end;
            size_t cl, pl = strlen(prefix);
            int restored = 0, is_dir;
            struct tree *t = NULL;
            const struct tree_entry *e;
            void *data = NULL;
            size_t len = 0;
            while (*p == '/') p++;
            if (!*p) break; /* the path itself: restored */
            for (size_t k = 0; k < n && !restored; k++) /* is the directory so far a restored path or below one? */
                restored = path_under(prefix[0] ? prefix : "/", paths[k]);
            if (restored || op_get(w, &cur, &data, &len) != 0) {
                free(data);
                break;
            }
            pthread_mutex_lock(&w->mu);
            if (!way_tree(w, &cur)) w->way[w->n_way++] = cur;
            pthread_mutex_unlock(&w->mu);
            end = strchr(p, '/');
            cl = end ? (size_t)(end - p) : strlen(p);
            if (tree_decode(data, len, &t) != 0 || cl > TREE_NAME_MAX || pl + 1 + cl >= sizeof prefix) {
                free(data);
                tree_free(t);
                break;
            }
            free(data);
            snprintf(prefix + pl, sizeof prefix - pl, "/%.*s", (int)cl, p);
            p += cl;
            e = tree_find(t, prefix + pl + 1);
            is_dir = e && e->type == TREE_DIR && e->has_subtree;
            if (is_dir) cur = e->subtree;
            tree_free(t);
            if (!is_dir) break;
        }
    }
    pthread_mutex_lock(&w->mu);
    w->prewalk = 0;
    pthread_mutex_unlock(&w->mu);
}

static int op_snapshot_read(void *ctx, const char *id, json_t **doc)
{
    struct rwork *w = ctx;
    struct agentd_answer a;
    json_t *body = json_pack("{s:s}", "id", id);
    char path[200], terr[256];
    int rc;
    *doc = NULL;
    snprintf(path, sizeof path, "%s/parent", w->base);
    rc = body ? agentd_http_json(&w->conn, "POST", path, body, &a, terr, sizeof terr) : -ENOMEM;
    json_decref(body);
    if (rc != 0) return rc;
    if (a.status != 200) return answer_error(w, "parent", &a);
    *doc = json_incref(json_object_get(a.json, "doc"));
    agentd_answer_release(&a);
    return json_is_object(*doc) ? 0 : -EPROTO;
}

static int op_exists(void *ctx, const repo_id_t *id)
{
    (void)ctx;
    (void)id;
    return -EPERM;
}

static int op_put(void *ctx, enum repo_blob_type type, const repo_id_t *id, const void *data, size_t len,
                  size_t *added)
{
    (void)ctx, (void)type, (void)id, (void)data, (void)len;
    if (added) *added = 0;
    return -EPERM;
}

static int op_snapshot_write(void *ctx, json_t *doc, char id_hex[REPO_ID_HEX_LEN + 1])
{
    (void)ctx, (void)doc, (void)id_hex;
    return -EPERM;
}

static const struct repo_remote_ops ops = {
    .exists = op_exists,
    .put = op_put,
    .get = op_get,
    .snapshot_write = op_snapshot_write,
    .snapshot_read = op_snapshot_read,
};

/* rwork_open: a restore work's reader: *wp allocated and set up (the connection, the read batch
 * size under a rate limit) and *repo a read-only remote handle on it (chunker figures only: a
 * reader needs no key). Both are released by rwork_close, even when this fails (-ENOMEM: *wp NULL). */
static int rwork_open(struct rwork **wp, struct repo **repo, const struct agentd_state *st,
                      const struct agentd_run_opts *o, const char *wid, const json_t *keys)
{
    struct repo_writer_keys k;
    struct rwork *w;
    *repo = NULL;
    if (!(*wp = w = calloc(1, sizeof *w))) return -ENOMEM;
    memset(&k, 0, sizeof k);
    k.cmin = (uint32_t)json_integer_value(json_object_get(keys, "cmin"));
    k.cavg = (uint32_t)json_integer_value(json_object_get(keys, "cavg"));
    k.cmax = (uint32_t)json_integer_value(json_object_get(keys, "cmax"));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->conn = (struct agentd_conn){ .url = st->server_url, .pin = st->server_pin, .credential = st->credential,
                                    .rate_limit = o->rate_limit, .timeout_secs = 300,
                                    .max_answer = AGENTD_READ_ANSWER };
    snprintf(w->base, sizeof w->base, "/v2/coffer/agents/work/%s", wid);
    w->start_usecs = util_time_mono();
    /* under a rate limit one answer takes at most about 2 s, well inside the work's lease */
    w->batch_bytes = AGENTD_PF_BATCH_BYTES;
    if (o->rate_limit > 0 && (uint64_t)o->rate_limit * 2 < w->batch_bytes)
        w->batch_bytes = (uint64_t)o->rate_limit * 2 < (256u << 10) ? 256u << 10 : (uint64_t)o->rate_limit * 2;
    return repo_open_remote(&k, &ops, w, repo);
}

/* rwork_err_append: the transport's own error (w->err) added to err when it is not in it already. */
static void rwork_err_append(const struct rwork *w, char *err, size_t errlen)
{
    if (w->err[0] && !strstr(err, w->err)) {
        size_t n = strlen(err);
        if (n + 8 < errlen) snprintf(err + n, errlen - n, " (%.200s)", w->err);
    }
}

/* rwork_close: body (consumed) POSTed to .../done unless the server ended the work; then the handle
 * and w released. */
static void rwork_close(struct rwork *w, struct repo *repo, json_t *body)
{
    struct agentd_answer a;
    if (w && !w->ended && body) {
        char path[200], terr[256];
        snprintf(path, sizeof path, "%s/done", w->base);
        if (agentd_http_json(&w->conn, "POST", path, body, &a, terr, sizeof terr) == 0) agentd_answer_release(&a);
    }
    json_decref(body);
    if (repo) repo_close(repo);
    if (!w) return;
    for (size_t i = 0; i < AGENTD_RCACHE_N; i++) free(w->cache[i].data);
    for (size_t i = 0; i < AGENTD_PF_MAX; i++) free(w->pf[i].data);
    for (size_t i = 0; i < w->n_pend; i++) tree_free(w->pend[i].t);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int agentd_restore_run(const struct agentd_state *st, const struct agentd_run_opts *o, const json_t *work)
{
    const char *wid = json_string_value(json_object_get(work, "id"));
    const json_t *spec = json_object_get(work, "restore"), *keys = json_object_get(work, "keys");
    const char *snap = json_string_value(json_object_get(spec, "snapshot"));
    const char *target = json_string_value(json_object_get(spec, "target_dir"));
    const json_t *jpaths = json_object_get(spec, "paths");
    struct rwork *w;
    struct repo *repo = NULL;
    struct eng_restore_opts ro;
    struct eng_restore_result res;
    const char **paths = NULL;
    char err[512] = "";
    json_t *body;
    int rc;
    if (!wid || strlen(wid) > 64 || !snap || !json_is_array(jpaths)) {
        agentd_log(AGENTD_ERROR, "a restore work item from the server lacks its id, snapshot or paths: ignored");
        return -EPROTO;
    }
    memset(&ro, 0, sizeof ro);
    memset(&res, 0, sizeof res);
    rc = rwork_open(&w, &repo, st, o, wid, keys);
    if (!w) return rc;
    paths = calloc(json_array_size(jpaths) + 1, sizeof *paths);
    agentd_log(AGENTD_INFO, "restore %s: snapshot %.64s, %zu path(s) to %s", wid, snap, json_array_size(jpaths),
               target ? target : "their original places");
    if (rc == 0 && paths) {
        for (size_t i = 0; i < json_array_size(jpaths); i++)
            if (json_is_string(json_array_get(jpaths, i))) paths[ro.n_paths++] = json_string_value(json_array_get(jpaths, i));
        ro.paths = paths;
        ro.target_dir = target;
        ro.overwrite = json_is_true(json_object_get(spec, "overwrite"));
        ro.preserve_attrs = !json_is_false(json_object_get(spec, "preserve_attrs"));
        ro.continue_on_error = json_is_true(json_object_get(spec, "continue_on_error"));
        ro.threads = 4; /* bounded: each waits on one read at a time */
        prewalk(w, snap, ro.paths, ro.n_paths);
        rc = eng_restore(repo, snap, &ro, &res, err, sizeof err);
        if (rc != 0) rwork_err_append(w, err, sizeof err);
    } else if (rc == 0) {
        rc = -ENOMEM;
        snprintf(err, sizeof err, "out of memory");
    } else {
        snprintf(err, sizeof err, "cannot set up the repository reader: %s", strerror(-rc));
    }
    if (rc == 0)
        body = json_pack("{s:{s:I,s:I,s:I,s:I,s:I,s:I,s:O,s:I}}", "result", "files", (json_int_t)res.files, "dirs",
                         (json_int_t)res.dirs, "symlinks", (json_int_t)res.symlinks, "other", (json_int_t)res.other,
                         "bytes", (json_int_t)res.bytes, "skipped", (json_int_t)res.skipped, "errors",
                         res.errors ? res.errors : json_array(), "bytes_received", (json_int_t)w->bytes_received);
    else
        body = json_pack("{s:s}", "error", err[0] ? err : strerror(-rc));
    if (rc == 0)
        agentd_log(AGENTD_INFO, "restore %s: %llu files, %llu dirs, %llu symlinks, %llu bytes written, %llu skipped, "
                   "%zu errors; bytes received %llu in %llu reads (%llu blobs read ahead)", wid,
                   (unsigned long long)res.files, (unsigned long long)res.dirs, (unsigned long long)res.symlinks,
                   (unsigned long long)res.bytes, (unsigned long long)res.skipped, json_array_size(res.errors),
                   (unsigned long long)w->bytes_received, (unsigned long long)w->requests,
                   (unsigned long long)w->prefetched);
    else
        agentd_log(AGENTD_ERROR, "restore %s failed: %s", wid, err);
    rwork_close(w, repo, body);
    eng_restore_result_release(&res);
    free(paths);
    return rc;
}

/* ---- a PostgreSQL instance into a new data directory (kind "pg_restore") ---- */

int agentd_pg_restore_run(const struct agentd_state *st, const struct agentd_run_opts *o, const json_t *work)
{
    const char *wid = json_string_value(json_object_get(work, "id"));
    const json_t *spec = json_object_get(work, "pg_restore"), *keys = json_object_get(work, "keys");
    const char *snap = json_string_value(json_object_get(spec, "snapshot"));
    const char *dir = json_string_value(json_object_get(spec, "data_dir"));
    json_int_t port = json_integer_value(json_object_get(spec, "port"));
    struct rwork *w;
    struct repo *repo = NULL;
    struct eng_pg_restore_opts ro = { .threads = 4 };
    struct eng_pg_server_opts so = { 0 };
    struct eng_pg_server srv;
    struct eng_pg_restore_result rr = { 0 };
    char err[1024] = "";
    json_t *body;
    int rc;
    if (!wid || strlen(wid) > 64 || !snap || !dir || dir[0] != '/' || port < 1 || port > 65535) {
        agentd_log(AGENTD_ERROR, "a PostgreSQL restore work item lacks its id, snapshot, directory or port: ignored");
        return -EPROTO;
    }
    memset(&srv, 0, sizeof srv);
    rc = rwork_open(&w, &repo, st, o, wid, keys);
    if (!w) return rc;
    agentd_log(AGENTD_INFO, "PostgreSQL restore %s: snapshot %.64s into %s, port %d", wid, snap, dir, (int)port);
    if (rc == 0) {
        so.data_dir = dir;
        so.port = (int)port;
        rc = eng_pg_instance_new(repo, snap, &ro, &so, &srv, &rr, err, sizeof err);
        if (rc != 0) rwork_err_append(w, err, sizeof err);
    } else {
        snprintf(err, sizeof err, "cannot set up the repository reader: %s", strerror(-rc));
    }
    if (rc == 0)
        body = json_pack("{s:{s:I,s:I,s:s,s:s,s:i,s:I}}", "result", "files", (json_int_t)rr.files, "bytes",
                         (json_int_t)rr.bytes, "data_dir", srv.data_dir, "sock_dir", srv.sock_dir, "port", srv.port,
                         "bytes_received", (json_int_t)w->bytes_received);
    else
        body = json_pack("{s:s}", "error", err[0] ? err : strerror(-rc));
    if (rc == 0)
        agentd_log(AGENTD_INFO, "PostgreSQL restore %s: %s running on port %d, %llu bytes restored, %llu received", wid,
                   srv.data_dir, srv.port, (unsigned long long)rr.bytes, (unsigned long long)w->bytes_received);
    else
        agentd_log(AGENTD_ERROR, "PostgreSQL restore %s failed: %s", wid, err);
    rwork_close(w, repo, body);
    return rc;
}
