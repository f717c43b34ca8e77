/* restore.c: a restore the server asked for (a work item of kind "restore", engine/remote.h
 * eng_remote_restore), carried out by the file engine's own restorer on this host: eng_restore runs
 * on a read-only remote repository handle (repo.h repo_open_remote with the chunk sizes only, no
 * key) whose reads become agent-protocol requests for that work (docs/agent-protocol.md):
 *   get            POST .../read {"ids": [id]}: the server answers the blob decrypted, framed as
 *                  uploads are (zstd per frame when that helps); the server refuses (403) any blob
 *                  that is not a tree or data blob of the work's snapshot.
 *   snapshot_read  POST .../parent {"id"}: the work's snapshot document.
 *   put, snapshot_write, exists: refused here (a restore writes nothing to the repository).
 * So the local restorer's safety rules (nothing outside the target, no symlink followed, the
 * overwrite rule, files renamed into place only when complete and durable) hold unchanged. Blobs
 * read are kept in a small bounded cache (AGENTD_RCACHE_N blobs, at most AGENTD_RCACHE_BYTES), so a
 * tree read while resolving the paths and again while walking is fetched once. The end is POSTed to
 * .../done: {"result": {files, dirs, symlinks, other, bytes, skipped, errors}} or {"error"}.
 * A PostgreSQL instance (kind "pg_restore", agentd_pg_restore_run) is restored the same way by
 * pg_copy.c's eng_pg_instance_new on this handle: into a new data directory on this host, started on
 * the port asked for and left running. */
#include "agentd/core.h"
#include "engine/engine.h"
#include "engine/pg.h"
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
#define AGENTD_READ_ANSWER (24u << 20) /* one blob of at most 16 MiB, framed, and the JSON errors */
#define BLOB_HDR (1 + REPO_ID_LEN + 4 + 4)
#define BLOB_ZSTD 0x80

struct rcache_ent {
    repo_id_t id;
    void *data;   /* NULL: empty slot */
    size_t len;
};

struct rwork {
    pthread_mutex_t mu;            /* guards the cache and the counters */
    struct agentd_conn conn;
    char base[160];                /* /v2/coffer/agents/work/<id> */
    struct rcache_ent cache[AGENTD_RCACHE_N];
    size_t cache_bytes, next_slot;
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

static int op_get(void *ctx, const repo_id_t *id, void **data, size_t *len)
{
    struct rwork *w = ctx;
    struct agentd_answer a;
    char hex[REPO_ID_HEX_LEN + 1], path[200], terr[256];
    json_t *body;
    const uint8_t *p;
    uint32_t plain, payload;
    int64_t due;
    int rc;
    *data = NULL;
    if (len) *len = 0;
    pthread_mutex_lock(&w->mu);
    rc = w->ended ? -ECANCELED : cache_get(w, id, data, len);
    pthread_mutex_unlock(&w->mu);
    if (rc != 0) return rc < 0 ? rc : 0;
    repo_id_to_hex(id, hex);
    body = json_pack("{s:[s]}", "ids", hex);
    snprintf(path, sizeof path, "%s/read", w->base);
    rc = body ? agentd_http_json(&w->conn, "POST", path, body, &a, terr, sizeof terr) : -ENOMEM;
    json_decref(body);
    pthread_mutex_lock(&w->mu);
    w->requests++;
    if (rc != 0) snprintf(w->err, sizeof w->err, "%s", terr);
    pthread_mutex_unlock(&w->mu);
    if (rc != 0) return rc;
    if (a.status != 200) return answer_error(w, "read", &a);
    p = (const uint8_t *)a.body;
    if (a.body_len < BLOB_HDR || memcmp(p + 1, id->b, REPO_ID_LEN) != 0) {
        agentd_answer_release(&a);
        return -EPROTO;
    }
    plain = get_u32(p + 1 + REPO_ID_LEN);
    payload = get_u32(p + 1 + REPO_ID_LEN + 4);
    if (payload > a.body_len - BLOB_HDR || plain > REPO_CHUNK_MAX * 2u || (!(p[0] & BLOB_ZSTD) && payload != plain) ||
        !(*data = malloc(plain ? plain : 1))) {
        agentd_answer_release(&a);
        return *data ? -EPROTO : -ENOMEM;
    }
    if (p[0] & BLOB_ZSTD) {
        size_t n = ZSTD_decompress(*data, plain, p + BLOB_HDR, payload);
        if (ZSTD_isError(n) || n != plain) {
            free(*data);
            *data = NULL;
            agentd_answer_release(&a);
            return -EPROTO;
        }
    } else if (plain) {
        memcpy(*data, p + BLOB_HDR, plain);
    }
    if (len) *len = plain;
    pthread_mutex_lock(&w->mu);
    w->bytes_received += a.body_len;
    cache_put(w, id, *data, plain);
    due = w->conn.rate_limit > 0 ? w->start_usecs + (int64_t)(w->bytes_received * 1000000.0 / (double)w->conn.rate_limit)
                                 : 0;
    pthread_mutex_unlock(&w->mu);
    agentd_answer_release(&a);
    /* the rate limit over the whole restore (libcurl's holds within one request only) */
    for (int i = 0; i < 3600 && due > util_time_mono(); i++) usleep(due - util_time_mono() > 1000000 ? 1000000 : (useconds_t)(due - util_time_mono()));
    return 0;
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

int agentd_restore_run(const struct agentd_state *st, const struct agentd_run_opts *o, const json_t *work)
{
    const char *wid = json_string_value(json_object_get(work, "id"));
    const json_t *spec = json_object_get(work, "restore"), *keys = json_object_get(work, "keys");
    const char *snap = json_string_value(json_object_get(spec, "snapshot"));
    const char *target = json_string_value(json_object_get(spec, "target_dir"));
    const json_t *jpaths = json_object_get(spec, "paths");
    struct repo_writer_keys k;
    struct rwork *w;
    struct repo *repo = NULL;
    struct eng_restore_opts ro;
    struct eng_restore_result res;
    struct agentd_answer a;
    const char **paths = NULL;
    char err[512] = "";
    json_t *body;
    int rc;
    if (!wid || strlen(wid) > 64 || !snap || !json_is_array(jpaths)) {
        agentd_log(AGENTD_ERROR, "a restore work item from the server lacks its id, snapshot or paths: ignored");
        return -EPROTO;
    }
    if (!(w = calloc(1, sizeof *w))) return -ENOMEM;
    memset(&k, 0, sizeof k);
    memset(&ro, 0, sizeof ro);
    memset(&res, 0, sizeof res);
    k.cmin = (uint32_t)json_integer_value(json_object_get(keys, "cmin"));
    k.cavg = (uint32_t)json_integer_value(json_object_get(keys, "cavg"));
    k.cmax = (uint32_t)json_integer_value(json_object_get(keys, "cmax"));
    pthread_mutex_init(&w->mu, NULL);
    w->conn = (struct agentd_conn){ .url = st->server_url, .pin = st->server_pin, .credential = st->credential,
                                    .rate_limit = o->rate_limit, .timeout_secs = 300,
                                    .max_answer = AGENTD_READ_ANSWER };
    snprintf(w->base, sizeof w->base, "/v2/coffer/agents/work/%s", wid);
    w->start_usecs = util_time_mono();
    rc = repo_open_remote(&k, &ops, w, &repo);
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
        rc = eng_restore(repo, snap, &ro, &res, err, sizeof err);
        if (rc != 0 && w->err[0] && !strstr(err, w->err)) {
            size_t n = strlen(err);
            if (n + 8 < sizeof err) snprintf(err + n, sizeof err - n, " (%.200s)", w->err);
        }
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
    if (!w->ended && body) {
        char path[200], terr[256];
        snprintf(path, sizeof path, "%s/done", w->base);
        if (agentd_http_json(&w->conn, "POST", path, body, &a, terr, sizeof terr) == 0) agentd_answer_release(&a);
    }
    json_decref(body);
    if (rc == 0)
        agentd_log(AGENTD_INFO, "restore %s: %llu files, %llu dirs, %llu symlinks, %llu bytes written, %llu skipped, "
                   "%zu errors; bytes received %llu in %llu reads", wid, (unsigned long long)res.files,
                   (unsigned long long)res.dirs, (unsigned long long)res.symlinks, (unsigned long long)res.bytes,
                   (unsigned long long)res.skipped, json_array_size(res.errors), (unsigned long long)w->bytes_received,
                   (unsigned long long)w->requests);
    else
        agentd_log(AGENTD_ERROR, "restore %s failed: %s", wid, err);
    eng_restore_result_release(&res);
    if (repo) repo_close(repo);
    free(paths);
    for (size_t i = 0; i < AGENTD_RCACHE_N; i++) free(w->cache[i].data);
    pthread_mutex_destroy(&w->mu);
    free(w);
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
    struct repo_writer_keys k;
    struct rwork *w;
    struct repo *repo = NULL;
    struct eng_pg_restore_opts ro = { .threads = 4 };
    struct eng_pg_server_opts so = { 0 };
    struct eng_pg_server srv;
    struct eng_pg_restore_result rr = { 0 };
    struct agentd_answer a;
    char err[1024] = "";
    json_t *body;
    int rc;
    if (!wid || strlen(wid) > 64 || !snap || !dir || dir[0] != '/' || port < 1 || port > 65535) {
        agentd_log(AGENTD_ERROR, "a PostgreSQL restore work item lacks its id, snapshot, directory or port: ignored");
        return -EPROTO;
    }
    if (!(w = calloc(1, sizeof *w))) return -ENOMEM;
    memset(&k, 0, sizeof k);
    memset(&srv, 0, sizeof srv);
    k.cmin = (uint32_t)json_integer_value(json_object_get(keys, "cmin"));
    k.cavg = (uint32_t)json_integer_value(json_object_get(keys, "cavg"));
    k.cmax = (uint32_t)json_integer_value(json_object_get(keys, "cmax"));
    pthread_mutex_init(&w->mu, NULL);
    w->conn = (struct agentd_conn){ .url = st->server_url, .pin = st->server_pin, .credential = st->credential,
                                    .rate_limit = o->rate_limit, .timeout_secs = 300,
                                    .max_answer = AGENTD_READ_ANSWER };
    snprintf(w->base, sizeof w->base, "/v2/coffer/agents/work/%s", wid);
    w->start_usecs = util_time_mono();
    rc = repo_open_remote(&k, &ops, w, &repo);
    agentd_log(AGENTD_INFO, "PostgreSQL restore %s: snapshot %.64s into %s, port %d", wid, snap, dir, (int)port);
    if (rc == 0) {
        so.data_dir = dir;
        so.port = (int)port;
        rc = eng_pg_instance_new(repo, snap, &ro, &so, &srv, &rr, err, sizeof err);
        if (rc != 0 && w->err[0] && !strstr(err, w->err)) {
            size_t n = strlen(err);
            if (n + 8 < sizeof err) snprintf(err + n, sizeof err - n, " (%.200s)", w->err);
        }
    } else {
        snprintf(err, sizeof err, "cannot set up the repository reader: %s", strerror(-rc));
    }
    if (rc == 0)
        body = json_pack("{s:{s:I,s:I,s:s,s:s,s:i,s:I}}", "result", "files", (json_int_t)rr.files, "bytes",
                         (json_int_t)rr.bytes, "data_dir", srv.data_dir, "sock_dir", srv.sock_dir, "port", srv.port,
                         "bytes_received", (json_int_t)w->bytes_received);
    else
        body = json_pack("{s:s}", "error", err[0] ? err : strerror(-rc));
    if (!w->ended && body) {
        char path[200], terr[256];
        snprintf(path, sizeof path, "%s/done", w->base);
        if (agentd_http_json(&w->conn, "POST", path, body, &a, terr, sizeof terr) == 0) agentd_answer_release(&a);
    }
    json_decref(body);
    if (rc == 0)
        agentd_log(AGENTD_INFO, "PostgreSQL restore %s: %s running on port %d, %llu bytes restored, %llu received", wid,
                   srv.data_dir, srv.port, (unsigned long long)rr.bytes, (unsigned long long)w->bytes_received);
    else
        agentd_log(AGENTD_ERROR, "PostgreSQL restore %s failed: %s", wid, err);
    if (repo) repo_close(repo);
    for (size_t i = 0; i < AGENTD_RCACHE_N; i++) free(w->cache[i].data);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return rc;
}
