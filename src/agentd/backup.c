/* backup.c: a backup the server asked for (a "work" item of a heartbeat answer, engine/remote.h),
 * carried out with the file engine on this host: eng_backup runs on a writer-only repository handle
 * (repo.h repo_open_remote) whose storage calls become agent-protocol requests for that work
 * (docs/agent-protocol.md):
 *   put      the blob is compressed (zstd, kept raw when that does not help) and queued; the queue is
 *            sent when it holds AGENTD_BATCH_BYTES or AGENTD_BATCH_BLOBS: first the batch's ids are
 *            asked ("exists": which does the repository lack), then only the missing blobs are
 *            uploaded in one request. So an unchanged re-backup sends ids, never data again, and a
 *            backup that was interrupted resumes by uploading only what did not arrive.
 *   exists   answered from the set of ids known to exist (uploaded or confirmed in this run), else
 *            asked of the server.
 *   get      a tree of the parent snapshot (the only reads the server allows).
 *   snapshot the queue is sent, then the snapshot document; the server checks it before writing.
 * A PostgreSQL base backup (kind "pg_backup", agentd_pg_backup_run) is eng_pg_backup on the same
 * handle: its first run's snapshot goes to "stage" (cofferd checks it and keeps it for this work
 * only, so the final run can graft from it; nothing is written that would need forgetting), the
 * final one to "snapshot" as usual.
 * Memory is bounded: the queue holds at most AGENTD_BATCH_BYTES plus one blob, the known-id set at
 * most AGENTD_KNOWN_MAX ids (then it starts over). Under a rate limit a batch is at most what the
 * limit sends in AGENTD_BATCH_SECS (at least 256 KiB), so one upload never outlasts the work's lease
 * (which each request renews). One mutex serialises the engine's threads. */
#include "agentd/core.h"
#include "util/hex.h"
#include "engine/engine.h"
#include "engine/mover.h"
#include "util/buf.h"
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define AGENTD_BATCH_BYTES (8u << 20)
#define AGENTD_BATCH_BLOBS 1024u
#define AGENTD_BATCH_SECS 2
#define AGENTD_KNOWN_MAX (1u << 20)
#define BLOB_HDR (1 + REPO_ID_LEN + 4 + 4)
#define BLOB_ZSTD 0x80

struct idset {
    repo_id_t *v;   /* open addressing; an all-zero slot is empty */
    size_t cap, n;
};

struct work_ctx {
    pthread_mutex_t mu;
    struct agentd_conn conn;
    char base[160];           /* /v2/coffer/agents/work/<id> */
    struct buf queue;         /* framed blobs not yet sent */
    size_t queued;
    size_t batch_bytes;       /* AGENTD_BATCH_BYTES, less under a rate limit (see agentd_work_run) */
    struct idset known, pending;
    uint64_t bytes_sent, blobs_sent, blobs_skipped, requests;
    int ended;                /* the server said the work ended: stop */
    int stage_next;           /* a PostgreSQL base backup: the next snapshot is staged, not committed */
    char err[512];
};

static size_t id_hash(const repo_id_t *id, size_t cap) { size_t h; memcpy(&h, id->b, sizeof h); return h & (cap - 1); }

static int idset_has(const struct idset *s, const repo_id_t *id)
{
    static const repo_id_t zero;
    if (!s->cap) return 0;
    for (size_t i = id_hash(id, s->cap), k = 0; k < s->cap; i = (i + 1) & (s->cap - 1), k++) {
        if (memcmp(&s->v[i], &zero, sizeof zero) == 0) return 0;
        if (memcmp(&s->v[i], id, sizeof *id) == 0) return 1;
    }
    return 0;
}

static void idset_clear(struct idset *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int idset_add(struct idset *s, const repo_id_t *id)
{
    static const repo_id_t zero;
    if (idset_has(s, id)) return 0;
    if (s->n >= AGENTD_KNOWN_MAX) idset_clear(s); /* bounded: forget and ask again */
    if ((s->n + 1) * 2 > s->cap) {
        struct idset g = { calloc(s->cap ? s->cap * 2 : 1024, sizeof *g.v), s->cap ? s->cap * 2 : 1024, 0 };
        if (!g.v) return -ENOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (memcmp(&s->v[i], &zero, sizeof zero) != 0) idset_add(&g, &s->v[i]);
        free(s->v);
        *s = g;
    }
    for (size_t i = id_hash(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (memcmp(&s->v[i], &zero, sizeof zero) == 0) {
            s->v[i] = *id;
            s->n++;
            return 0;
        }
    }
}

static void id_hex(const repo_id_t *id, char out[REPO_ID_HEX_LEN + 1]) { repo_id_to_hex(id, out); }

/* call: one JSON request about the work; the answer in *a (status 2xx) or a negative code with the
 * reason in w->err (-ECANCELED when the server says the work ended). */
static int call(struct work_ctx *w, const char *what, const json_t *body, struct agentd_answer *a)
{
    char path[256], mbuf[256];
    int rc;
    snprintf(path, sizeof path, "%s/%s", w->base, what);
    rc = agentd_http_json(&w->conn, "POST", path, body, a, w->err, sizeof w->err);
    w->requests++;
    if (rc != 0) return rc;
    if (a->status >= 200 && a->status < 300) return 0;
    snprintf(w->err, sizeof w->err, "%s: HTTP %ld: %s", what, a->status, agentd_answer_message(a, mbuf, sizeof mbuf));
    rc = a->status == 409 || a->status == 404 || a->status == 401 || a->status == 403 ? -ECANCELED : -EPROTO;
    if (rc == -ECANCELED) w->ended = 1;
    agentd_answer_release(a);
    return rc;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* flush: asks which queued blobs are missing and uploads those (w->mu held). */
static int flush(struct work_ctx *w)
{
    json_t *ids = json_array(), *body, *missing;
    struct agentd_answer a;
    struct idset want = { 0 };
    uint8_t *p, *end, *out;
    size_t kept = 0;
    int rc;
    if (w->queued == 0) return 0;
    if (!ids) return -ENOMEM;
    for (p = (uint8_t *)w->queue.data, end = p + w->queue.len; p < end;) {
        repo_id_t id;
        char hex[REPO_ID_HEX_LEN + 1];
        uint32_t payload;
        memcpy(id.b, p + 1, REPO_ID_LEN);
        payload = get_u32(p + 1 + REPO_ID_LEN + 4);
        id_hex(&id, hex);
        json_array_append_new(ids, json_string(hex));
        p += BLOB_HDR + payload;
    }
    body = json_pack("{s:o}", "ids", ids);
    rc = call(w, "exists", body, &a);
    json_decref(body);
    if (rc != 0) return rc;
    missing = json_object_get(a.json, "missing");
    for (size_t i = 0; i < json_array_size(missing); i++) {
        repo_id_t id;
        if (repo_id_from_hex(json_string_value(json_array_get(missing, i)), &id) == 0) idset_add(&want, &id);
    }
    agentd_answer_release(&a);
    /* keep only the missing frames, in place */
    for (p = out = (uint8_t *)w->queue.data, end = p + w->queue.len; p < end;) {
        repo_id_t id;
        uint32_t payload;
        size_t n;
        memcpy(id.b, p + 1, REPO_ID_LEN);
        payload = get_u32(p + 1 + REPO_ID_LEN + 4);
        n = BLOB_HDR + payload;
        if (idset_has(&want, &id)) {
            memmove(out, p, n);
            out += n;
            kept++;
        } else {
            w->blobs_skipped++;
        }
        idset_add(&w->known, &id);
        p += n;
    }
    idset_clear(&want);
    if (kept) {
        char path[256];
        size_t len = (size_t)(out - (uint8_t *)w->queue.data);
        snprintf(path, sizeof path, "%s/blobs", w->base);
        rc = agentd_http_raw_post(&w->conn, path, w->queue.data, len, &a, w->err, sizeof w->err);
        w->requests++;
        if (rc == 0 && (a.status < 200 || a.status >= 300)) {
            char mbuf[256];
            snprintf(w->err, sizeof w->err, "blobs: HTTP %ld: %s", a.status, agentd_answer_message(&a, mbuf, sizeof mbuf));
            rc = a.status == 409 || a.status == 404 || a.status == 401 || a.status == 403 ? -ECANCELED : -EPROTO;
            if (rc == -ECANCELED) w->ended = 1;
        }
        agentd_answer_release(&a);
        if (rc != 0) return rc;
        w->bytes_sent += len;
        w->blobs_sent += kept;
    }
    w->queue.len = 0;
    w->queued = 0;
    idset_clear(&w->pending);
    return 0;
}

static int op_exists(void *ctx, const repo_id_t *id)
{
    struct work_ctx *w = ctx;
    struct agentd_answer a;
    char hex[REPO_ID_HEX_LEN + 1];
    json_t *body;
    int rc;
    pthread_mutex_lock(&w->mu);
    if (idset_has(&w->known, id) || idset_has(&w->pending, id)) {
        pthread_mutex_unlock(&w->mu);
        return 1;
    }
    id_hex(id, hex);
    body = json_pack("{s:[s]}", "ids", hex);
    rc = call(w, "exists", body, &a);
    json_decref(body);
    if (rc == 0) {
        rc = json_array_size(json_object_get(a.json, "missing")) == 0;
        if (rc == 1) idset_add(&w->known, id);
        agentd_answer_release(&a);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int op_put(void *ctx, enum repo_blob_type type, const repo_id_t *id, const void *data, size_t len,
                  size_t *added)
{
    struct work_ctx *w = ctx;
    size_t bound = ZSTD_compressBound(len), clen;
    uint8_t hdr[BLOB_HDR], *z;
    int rc = 0;
    if (added) *added = 0;
    pthread_mutex_lock(&w->mu);
    if (w->ended) {
        pthread_mutex_unlock(&w->mu);
        return -ECANCELED;
    }
    if (idset_has(&w->known, id) || idset_has(&w->pending, id)) {
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    pthread_mutex_unlock(&w->mu);
    /* compress outside the lock: the engine's threads compress in parallel */
    if (!(z = malloc(bound ? bound : 1))) return -ENOMEM;
    clen = ZSTD_compress(z, bound, data, len, 3);
    hdr[0] = (uint8_t)type;
    memcpy(hdr + 1, id->b, REPO_ID_LEN);
    put_u32(hdr + 1 + REPO_ID_LEN, (uint32_t)len);
    if (!ZSTD_isError(clen) && clen < len) {
        hdr[0] |= BLOB_ZSTD;
        put_u32(hdr + 1 + REPO_ID_LEN + 4, (uint32_t)clen);
    } else {
        clen = 0;
        put_u32(hdr + 1 + REPO_ID_LEN + 4, (uint32_t)len);
    }
    pthread_mutex_lock(&w->mu);
    if (!idset_has(&w->pending, id) && !idset_has(&w->known, id)) {
        rc = buf_append(&w->queue, hdr, sizeof hdr);
        if (rc == 0) rc = buf_append(&w->queue, clen ? z : data, clen ? clen : len);
        if (rc == 0) rc = idset_add(&w->pending, id);
        if (rc == 0) w->queued++;
        if (rc == 0 && (w->queue.len >= w->batch_bytes || w->queued >= AGENTD_BATCH_BLOBS)) rc = flush(w);
    }
    pthread_mutex_unlock(&w->mu);
    free(z);
    return rc;
}

static int op_get(void *ctx, const repo_id_t *id, void **data, size_t *len)
{
    struct work_ctx *w = ctx;
    struct agentd_answer a;
    char hex[REPO_ID_HEX_LEN + 1];
    json_t *body;
    const char *b64;
    int rc, n;
    *data = NULL;
    if (len) *len = 0;
    id_hex(id, hex);
    body = json_pack("{s:s}", "id", hex);
    pthread_mutex_lock(&w->mu);
    rc = call(w, "tree", body, &a);
    pthread_mutex_unlock(&w->mu);
    json_decref(body);
    if (rc != 0) return rc == -EPROTO ? -ENOENT : rc;
    b64 = json_string_value(json_object_get(a.json, "data"));
    if (!b64 || !(*data = malloc(strlen(b64) / 4 * 3 + 3))) {
        agentd_answer_release(&a);
        return b64 ? -ENOMEM : -EPROTO;
    }
    n = EVP_DecodeBlock(*data, (const unsigned char *)b64, (int)strlen(b64));
    if (n < 0) {
        free(*data);
        *data = NULL;
        agentd_answer_release(&a);
        return -EPROTO;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes: take them off */
    for (size_t k = strlen(b64); k > 0 && b64[k - 1] == '='; k--) n--;
    if (len) *len = (size_t)n;
    agentd_answer_release(&a);
    return 0;
}

static int op_snapshot_write(void *ctx, json_t *doc, char id_hex_out[REPO_ID_HEX_LEN + 1])
{
    struct work_ctx *w = ctx;
    struct agentd_answer a;
    json_t *body;
    const char *sid;
    int rc;
    pthread_mutex_lock(&w->mu);
    rc = flush(w);
    if (rc == 0) {
        body = json_pack("{s:O}", "doc", doc);
        rc = call(w, w->stage_next ? "stage" : "snapshot", body, &a);
        w->stage_next = 0;
        json_decref(body);
        if (rc == 0) {
            sid = json_string_value(json_object_get(a.json, "snapshot_id"));
            if (sid && strlen(sid) == REPO_ID_HEX_LEN) memcpy(id_hex_out, sid, REPO_ID_HEX_LEN + 1);
            else rc = -EPROTO;
            agentd_answer_release(&a);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static int op_snapshot_read(void *ctx, const char *id, json_t **doc)
{
    struct work_ctx *w = ctx;
    struct agentd_answer a;
    json_t *body = json_pack("{s:s}", "id", id);
    int rc;
    *doc = NULL;
    pthread_mutex_lock(&w->mu);
    rc = call(w, "parent", body, &a);
    pthread_mutex_unlock(&w->mu);
    json_decref(body);
    if (rc != 0) return rc == -EPROTO ? -ENOENT : rc;
    *doc = json_incref(json_object_get(a.json, "doc"));
    agentd_answer_release(&a);
    return json_is_object(*doc) ? 0 : -EPROTO;
}

static const struct repo_remote_ops ops = {
    .exists = op_exists,
    .put = op_put,
    .get = op_get,
    .snapshot_write = op_snapshot_write,
    .snapshot_read = op_snapshot_read,
};

/* strings: a JSON array of strings as a NULL-terminated C array (borrowed strings; free the array). */
static const char **strings(const json_t *arr, size_t *n)
{
    const char **v = calloc(json_array_size(arr) + 1, sizeof *v);
    *n = 0;
    for (size_t i = 0; v && i < json_array_size(arr); i++)
        if (json_is_string(json_array_get(arr, i))) v[(*n)++] = json_string_value(json_array_get(arr, i));
    return v;
}

/* work_open: a backup work item's writer: w set up from the work (its id and keys, the connection,
 * the batch size under a rate limit) and *repo a writer-only remote handle on it. -EPROTO (logged,
 * w untouched) for a work without its id or keys; otherwise w must be closed with work_close. */
static int work_open(struct work_ctx *w, struct repo **repo, const struct agentd_state *st,
                     const struct agentd_run_opts *o, const json_t *work)
{
    const char *wid = json_string_value(json_object_get(work, "id"));
    const json_t *keys = json_object_get(work, "keys");
    struct repo_writer_keys k;
    int rc;
    memset(w, 0, sizeof *w);
    memset(&k, 0, sizeof k);
    *repo = NULL;
    if (!wid || strlen(wid) > 64 || util_hex_decode(json_string_value(json_object_get(keys, "id_key")), k.id_key, 32) != 0 ||
        util_hex_decode(json_string_value(json_object_get(keys, "chunk_key")), k.chunk_key, 32) != 0) {
        agentd_log(AGENTD_ERROR, "a work item from the server lacks its id or keys: ignored");
        return -EPROTO;
    }
    k.cmin = (uint32_t)json_integer_value(json_object_get(keys, "cmin"));
    k.cavg = (uint32_t)json_integer_value(json_object_get(keys, "cavg"));
    k.cmax = (uint32_t)json_integer_value(json_object_get(keys, "cmax"));
    pthread_mutex_init(&w->mu, NULL);
    w->conn = (struct agentd_conn){ .url = st->server_url, .pin = st->server_pin, .credential = st->credential,
                                    .rate_limit = o->rate_limit, .timeout_secs = 300 };
    snprintf(w->base, sizeof w->base, "/v2/coffer/agents/work/%s", wid);
    w->batch_bytes = AGENTD_BATCH_BYTES;
    if (o->rate_limit > 0 && o->rate_limit * AGENTD_BATCH_SECS < (int64_t)w->batch_bytes)
        w->batch_bytes = o->rate_limit * AGENTD_BATCH_SECS < (256 << 10) ? 256u << 10
                                                                         : (size_t)(o->rate_limit * AGENTD_BATCH_SECS);
    buf_init(&w->queue, AGENTD_BATCH_BYTES + REPO_CHUNK_MAX * 2 + 2 * BLOB_HDR);
    rc = repo_open_remote(&k, &ops, w, repo);
    memset(&k, 0, sizeof k);
    return rc;
}

/* work_err_append: the transport's own error (w->err) added to err when it is not in it already. */
static void work_err_append(const struct work_ctx *w, char *err, size_t errlen)
{
    if (w->err[0] && !strstr(err, w->err)) {
        size_t n = strlen(err);
        if (n + 8 < errlen) snprintf(err + n, errlen - n, " (%.200s)", w->err);
    }
}

/* work_close: body (consumed) POSTed to .../done unless the server ended the work, then the handle
 * and w released. */
static void work_close(struct work_ctx *w, struct repo *repo, json_t *body)
{
    struct agentd_answer a;
    if (!w->ended && body) {
        char path[200];
        snprintf(path, sizeof path, "%s/done", w->base);
        if (agentd_http_json(&w->conn, "POST", path, body, &a, w->err, sizeof w->err) == 0) agentd_answer_release(&a);
    }
    json_decref(body);
    repo_close(repo);
    buf_free(&w->queue);
    idset_clear(&w->known);
    idset_clear(&w->pending);
    pthread_mutex_destroy(&w->mu);
}

int agentd_work_run(const struct agentd_state *st, const struct agentd_run_opts *o, const json_t *work)
{
    const char *wid = json_string_value(json_object_get(work, "id"));
    struct work_ctx w;
    struct repo *repo = NULL;
    struct eng_backup_opts bo = { 0 };
    struct eng_backup_result res = { 0 };
    const char **inc = NULL, **exc = NULL;
    char err[512] = "";
    json_t *body;
    uint64_t wire0 = agentd_http_wire_bytes(), wire;
    int rc;
    const char *kind = json_string_value(json_object_get(work, "kind"));
    if (kind && strcmp(kind, "restore") == 0) return agentd_restore_run(st, o, work);
    if (kind && strcmp(kind, "pg_backup") == 0) return agentd_pg_backup_run(st, o, work);
    if (kind && strcmp(kind, "pg_restore") == 0) return agentd_pg_restore_run(st, o, work);
    if ((rc = work_open(&w, &repo, st, o, work)) == -EPROTO) return rc;
    inc = strings(json_object_get(work, "includes"), &bo.n_include);
    exc = strings(json_object_get(work, "excludes"), &bo.n_exclude);
    agentd_log(AGENTD_INFO, "backup %s: starting (%zu paths)", wid, bo.n_include);
    if (rc == 0 && inc && exc) {
        bo.include_paths = inc;
        bo.exclude_paths = exc;
        bo.parent_snapshot_id = json_string_value(json_object_get(work, "parent"));
        bo.threads = 2; /* bounded memory: two blobs in flight besides the queue */
        rc = eng_backup(repo, &bo, &res, err, sizeof err);
        if (rc != 0) work_err_append(&w, err, sizeof err);
    } else if (rc == 0) {
        rc = -ENOMEM;
        snprintf(err, sizeof err, "out of memory");
    } else {
        snprintf(err, sizeof err, "cannot set up the repository writer: %s", strerror(-rc));
    }
    wire = agentd_http_wire_bytes() - wire0;
    if (rc == 0)
        body = json_pack("{s:{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:O,s:I,s:I}}", "result", "snapshot_id", res.snapshot_id,
                         "tree_id", res.tree_id, "files", (json_int_t)res.files, "dirs", (json_int_t)res.dirs,
                         "symlinks", (json_int_t)res.symlinks, "other", (json_int_t)res.other, "logical_bytes",
                         (json_int_t)res.logical_bytes, "bytes_read", (json_int_t)res.bytes_read, "files_unchanged",
                         (json_int_t)res.files_unchanged, "warnings", res.warnings ? res.warnings : json_array(),
                         "bytes_sent", (json_int_t)w.bytes_sent, "wire_bytes", (json_int_t)wire);
    else
        body = json_pack("{s:s}", "error", err);
    work_close(&w, repo, body);
    if (rc == 0)
        agentd_log(AGENTD_INFO, "backup %s: snapshot %s, %llu files (%llu unchanged), %llu bytes read, bytes sent %llu "
                   "in %llu blobs (%llu already there), wire bytes %llu in %llu requests", wid, res.snapshot_id,
                   (unsigned long long)res.files, (unsigned long long)res.files_unchanged,
                   (unsigned long long)res.bytes_read, (unsigned long long)w.bytes_sent,
                   (unsigned long long)w.blobs_sent, (unsigned long long)w.blobs_skipped, (unsigned long long)wire,
                   (unsigned long long)w.requests);
    else
        agentd_log(AGENTD_ERROR, "backup %s failed: %s", wid, err);
    eng_backup_result_release(&res);
    free(inc);
    free(exc);
    return rc;
}

/* ---- a PostgreSQL base backup (kind "pg_backup") ---- */

int agentd_pg_backup_run(const struct agentd_state *st, const struct agentd_run_opts *o, const json_t *work)
{
    const char *wid = json_string_value(json_object_get(work, "id"));
    const json_t *pg = json_object_get(work, "pg");
    const char *conninfo = json_string_value(json_object_get(pg, "conninfo"));
    struct work_ctx w;
    struct repo *repo = NULL;
    struct eng_pg_backup_opts bo = { 0 };
    struct eng_pg_backup_result res = { 0 };
    char err[512] = "";
    json_t *body = NULL;
    uint64_t wire0 = agentd_http_wire_bytes(), wire;
    int rc;
    if (!conninfo) {
        agentd_log(AGENTD_ERROR, "a PostgreSQL work item from the server lacks its connection: ignored");
        return -EPROTO;
    }
    if ((rc = work_open(&w, &repo, st, o, work)) == -EPROTO) return rc;
    agentd_log(AGENTD_INFO, "PostgreSQL base backup %s: starting", wid);
    if (rc == 0) {
        bo.conninfo = conninfo;
        bo.parent_snapshot_id = json_string_value(json_object_get(work, "parent"));
        bo.label = json_string_value(json_object_get(pg, "label"));
        bo.threads = 2;
        w.stage_next = 1; /* eng_pg_backup writes two snapshots: the first is run 1 (pg.h) */
        rc = eng_pg_backup(repo, &bo, &res, err, sizeof err);
        if (rc != 0) work_err_append(&w, err, sizeof err);
    } else {
        snprintf(err, sizeof err, "cannot set up the repository writer: %s", strerror(-rc));
    }
    wire = agentd_http_wire_bytes() - wire0;
    if (rc == 0) {
        struct mover_sql_item *items = NULL;
        size_t n = 0;
        char ierr[256] = "";
        json_t *inv = json_array();
        /* the databases and tables it held, as cofferd lists them for a local instance */
        if (inv && mover_sql_instance.sql->inventory(conninfo, 10000, &items, &n, ierr, sizeof ierr) == 0) {
            for (size_t i = 0; i < n; i++)
                json_array_append_new(inv, json_pack("{s:b,s:s,s:s?,s:I}", "table", items[i].is_table, "name",
                                                     items[i].name, "database", items[i].database, "bytes",
                                                     (json_int_t)items[i].bytes));
            mover_sql_items_free(items, n);
        } else {
            json_decref(inv);
            inv = NULL;
        }
        body = json_pack("{s:{s:s,s:s,s:s,s:i,s:i,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:O,s:o*,s:I,s:I}}", "result",
                         "snapshot_id", res.snapshot_id, "start_lsn", res.start_lsn, "stop_lsn", res.stop_lsn,
                         "timeline", (int)res.timeline, "server_version_num", res.server_version_num,
                         "data_directory", res.data_directory, "files", (json_int_t)res.files, "files_unchanged",
                         (json_int_t)res.files_unchanged, "logical_bytes", (json_int_t)res.logical_bytes,
                         "bytes_read", (json_int_t)res.bytes_read, "data_bytes_read", (json_int_t)res.data_bytes_read,
                         "wal_bytes", (json_int_t)res.wal_bytes, "usecs", (json_int_t)res.usecs, "warnings",
                         res.warnings ? res.warnings : json_array(), "inventory", inv, "bytes_sent",
                         (json_int_t)w.bytes_sent, "wire_bytes", (json_int_t)wire);
    } else {
        body = json_pack("{s:s}", "error", err);
    }
    work_close(&w, repo, body);
    if (rc == 0)
        agentd_log(AGENTD_INFO, "PostgreSQL base backup %s: snapshot %s of %s (%s .. %s), %llu files (%llu unchanged), "
                   "bytes sent %llu, wire bytes %llu", wid, res.snapshot_id, res.data_directory, res.start_lsn,
                   res.stop_lsn, (unsigned long long)res.files, (unsigned long long)res.files_unchanged,
                   (unsigned long long)w.bytes_sent, (unsigned long long)wire);
    else
        agentd_log(AGENTD_ERROR, "PostgreSQL base backup %s failed: %s", wid, err);
    eng_pg_backup_result_release(&res);
    return rc;
}
