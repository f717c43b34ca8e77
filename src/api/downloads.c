/* downloads.c: getting files out of snapshots over HTTP.
 *
 *   POST /v2/data-protect/recoveries/download-files-folders   CreateDownloadFilesAndFoldersRecovery (201)
 *   GET  /v2/data-protect/recoveries/{id}/download-files      DownloadFilesFromRecovery
 *   GET  /v2/data-protect/snapshots/{snapshotsId}/download-file  DownloadIndexedFile
 *
 * A download recovery names one object snapshot and the files and folders to fetch; every path is
 * checked against the snapshot first (404 naming a missing one). A recovery worker writes them as
 * one POSIX pax tar archive (chosen because every system can read it and it carries long names,
 * large sizes, nanosecond mtimes, symlinks, hardlinks and xattrs; the layout is eng_write_tar's: a
 * requested path P becomes <basename of P>/...) to DATA_DIR/downloads/<id>.tar by the temp + fsync
 * + rename protocol, so an archive that exists is complete. download-files serves it whole or, with
 * startOffset and length (at most 8 MiB, the API's limit) or an HTTP Range header, a byte range, so
 * a client can resume: always from the file with MHD's sendfile path (bounded memory). Before the
 * archive is ready the answer is 409 saying the recovery's status.
 *
 * fileType=error gives instead the files that could not be read, one "path: message" per line.
 *
 * download-file streams one regular file straight from the repository: chunk by chunk through a
 * libmicrohttpd callback response (memory is at most one chunk, <= 8 MiB, per download; holes are
 * zeros never read), whole or by startOffset/length. A path not in the snapshot is 404 naming it, a
 * directory 400.
 *
 * Ranges: startOffset >= 0 and 1 <= length <= 8388608; an offset at or past the end of a non-empty
 * file is 416 (Content-Range: bytes * /size); a range running past the end is clipped. The status
 * is 200 for startOffset/length (the official client expects 200) and 206 for a Range header. */
#include "api/recoveries.h"
#include "api/auth.h"
#include "api/jv.h"
#include "api/resid.h"
#include "engine/engine.h"
#include "sched/job_spec.h"
#include "sched/sched.h"
#include "svc/svc.h"
#include "util/log.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RANGE_MAX (8u * 1024 * 1024)
#define STREAM_BLOCK (64u * 1024)

/* ---------- POST /recoveries/download-files-folders ---------- */

static void create_download(struct api_req *req, struct api_resp *resp)
{
    json_t *body = api_body_object(req, resp), *obj, *files, *docs = NULL;
    struct job_recovery_spec spec = { 0 };
    json_t *doc = NULL, *pp;
    const char *name = NULL, *snap_id = NULL, *parent = NULL;
    static const char *const glacier[] = { "kStandard", "kExpeditedNoPCU", "kExpeditedWithPCU", NULL };
    struct cat_snapshot snap;
    int have_snap = 0;
    size_t i;
    json_t *it;
    if (!body) return;
    if (!jv_str_nonempty(resp, body, NULL, "name", 1, &name) || !jv_obj(resp, body, NULL, "object", 1, &obj) ||
        !jv_str_nonempty(resp, obj, "object", "snapshotId", 1, &snap_id) ||
        !jv_arr(resp, body, NULL, "filesAndFolders", 1, &files) || !jv_arr(resp, body, NULL, "documents", 0, &docs) ||
        !jv_str(resp, body, NULL, "parentRecoveryId", 0, &parent) ||
        !jv_enum(resp, body, NULL, "glacierRetrievalType", 0, glacier, NULL))
        goto out;
    if (json_array_size(docs) > 0) {
        api_error(resp, 400, "Unsupported", "field 'documents' is not supported for file snapshots: name the files "
                                            "in filesAndFolders");
        goto out;
    }
    if (json_array_size(files) == 0) {
        api_error(resp, 400, "InvalidField", "field 'filesAndFolders' must name at least one path");
        goto out;
    }
    if (parent) {
        struct cat_recovery pr;
        int rc;
        if (!api_id_parse(parent, NULL, NULL, NULL)) {
            api_error(resp, 400, "InvalidField", "field 'parentRecoveryId' ('%.64s') is not a recovery id "
                                                 "(clusterId:incarnationId:n)", parent);
            goto out;
        }
        rc = cat_recovery_get(api_ctx(req)->cat, req->tenant, parent, &pr);
        if (rc == 0) cat_recovery_release(&pr);
        if (rc != 0) {
            api_error(resp, rc == CAT_NOT_FOUND ? 404 : 500, rc == CAT_NOT_FOUND ? "NotFound" : "InternalError",
                      "field 'parentRecoveryId': recovery '%.64s' not found", parent);
            goto out;
        }
    }
    if (api_rec_snapshot(req, resp, "object.snapshotId", snap_id, &snap) != 0) goto out;
    have_snap = 1;
    if (api_rec_check_items(req, resp, "filesAndFolders", files, snap.id) != 0) goto out;
    /* the worker's job: its typed spec */
    if (!(spec.snapshot_id = strdup(snap.id))) goto oom;
    json_array_foreach(files, i, it) {
        if (job_recovery_spec_add(&spec, json_string_value(json_object_get(it, "absolutePath")),
                                  json_is_true(json_object_get(it, "isDirectory")), NULL) != 0)
            goto oom;
    }
    doc = json_object();
    if (parent) json_object_set_new(doc, "parentRecoveryId", json_string(parent));
    pp = json_object();
    json_object_set_new(pp, "objects", json_pack("[O]", obj));
    json_object_set_new(pp, "recoveryAction", json_string("DownloadFilesAndFolders"));
    json_object_set_new(pp, "downloadFileAndFolderParams", json_pack("{s:O}", "filesAndFolders", files));
    {
        json_t *o = json_deep_copy(json_array_get(json_object_get(pp, "objects"), 0));
        api_rec_enrich_object(req, o, &snap);
        json_array_set_new(json_object_get(pp, "objects"), 0, o);
    }
    json_object_set_new(doc, "physicalParams", pp);
    api_rec_insert(req, resp, name, "download", snap.environment, "DownloadFilesAndFolders", &snap, &spec, doc);
    goto out;
oom:
    api_error(resp, 500, "InternalError", "out of memory");
out:
    if (have_snap) cat_snapshot_release(&snap);
    job_recovery_spec_release(&spec);
    json_decref(doc);
    json_decref(body);
}

/* ---------- ranges ---------- */

struct range {
    uint64_t off, len;   /* resolved against the size */
    int given;           /* startOffset/length given */
    int http;            /* from a Range header: answer 206 */
};

/* parse_range: the query's startOffset/length, else a "Range: bytes=a-b" header. 0, or -1 after a 400. */
static int parse_range(struct api_req *req, struct api_resp *resp, struct range *r, int64_t *off, int64_t *len)
{
    const char *h;
    int a, b;
    *off = 0;
    *len = -1;
    memset(r, 0, sizeof *r);
    if ((a = api_query_int64(req, resp, "startOffset", off)) < 0 || (b = api_query_int64(req, resp, "length", len)) < 0)
        return -1;
    if (a || b) {
        r->given = 1;
        if (*off < 0) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'startOffset' must not be negative, not %" PRId64,
                      *off);
            return -1;
        }
        if (b && (*len < 1 || *len > (int64_t)RANGE_MAX)) {
            api_error(resp, 400, "InvalidParameter",
                      "query parameter 'length' must be between 1 and %u (8 MiB), not %" PRId64, RANGE_MAX, *len);
            return -1;
        }
        return 0;
    }
    h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    if (h) {
        unsigned long long x, y;
        int n;
        char tail;
        if ((n = sscanf(h, "bytes=%llu-%llu%c", &x, &y, &tail)) == 2 && y >= x) {
            *off = (int64_t)x;
            *len = (int64_t)(y - x + 1);
        } else if (sscanf(h, "bytes=%llu-%c", &x, &tail) == 1 && h[strlen(h) - 1] == '-') {
            *off = (int64_t)x;
            *len = -1;
        } else {
            return 0; /* a range we do not serve (suffix, several ranges): the whole body, as RFC 9110 allows */
        }
        if (*off < 0 || (*len != -1 && *len < 1)) return 0;
        r->given = r->http = 1;
    }
    return 0;
}

/* resolve: fixes r against size; 0, or -1 after a 416. */
static int resolve(struct api_resp *resp, struct range *r, int64_t off, int64_t len, uint64_t size)
{
    if (!r->given) {
        r->off = 0;
        r->len = size;
        return 0;
    }
    if ((uint64_t)off >= size && !(size == 0 && off == 0)) {
        struct MHD_Response *mr;
        char cr[64], *text;
        json_t *e = json_pack("{s:s,s:s}", "errorCode", "RangeNotSatisfiable", "message", "");
        char msg[160];
        snprintf(msg, sizeof msg, "startOffset %" PRId64 " is at or past the end (the size is %" PRIu64 " bytes)", off,
                 size);
        json_object_set_new(e, "message", json_string(msg));
        text = json_dumps(e, JSON_COMPACT);
        json_decref(e);
        mr = MHD_create_response_from_buffer(text ? strlen(text) : 0, text ? text : (void *)"", 
                                             text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
        MHD_add_response_header(mr, "Content-Type", "application/json");
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        resp->status = 416;
        resp->raw = mr;
        return -1;
    }
    r->off = (uint64_t)off;
    r->len = size - r->off;
    if (len > 0 && (uint64_t)len < r->len) r->len = (uint64_t)len;
    return 0;
}

/* safe_name: name reduced to [A-Za-z0-9._-] (others become '_'), at most 100 bytes, never empty. */
static void safe_name(char *out, size_t outlen, const char *name)
{
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < outlen && n < 100; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                 c == '_';
        out[n++] = ok ? c : '_';
    }
    if (n == 0 || (n == 1 && out[0] == '.') || (n == 2 && out[0] == '.' && out[1] == '.')) {
        snprintf(out, outlen, "download");
        return;
    }
    out[n] = '\0';
}

static void set_headers(struct MHD_Response *mr, const char *type, const char *filename, const struct range *r,
                        uint64_t size)
{
    char cd[200], cr[96], sz[32];
    snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", filename);
    MHD_add_response_header(mr, "Content-Type", type);
    MHD_add_response_header(mr, "Content-Disposition", cd);
    MHD_add_response_header(mr, "Accept-Ranges", "bytes");
    snprintf(sz, sizeof sz, "%" PRIu64, size);
    MHD_add_response_header(mr, "X-Coffer-Total-Size", sz);
    if (r->http && r->len > 0) {
        snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, r->off, r->off + r->len - 1, size);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
}

/* ---------- GET /recoveries/{id}/download-files ---------- */

static const char *const download_files_bools[] = { "includeTenants", NULL };
static const char *const download_file_bools[] = { "nvramFile", NULL };

static void download_files(struct api_req *req, struct api_resp *resp)
{
    struct api_context *ctx = api_ctx(req);
    struct cat_recovery r;
    struct range rg;
    struct stat st;
    struct MHD_Response *mr;
    char path[4096], fname[128], tarname[140];
    const char *ftype = api_query(req, "fileType");
    int64_t off, len;
    int rc, fd;
    if (!api_id_parse(req->params[0], NULL, NULL, NULL)) {
        api_error(resp, 400, "InvalidParameter", "'%.64s' is not a recovery id (clusterId:incarnationId:n)",
                  req->params[0]);
        return;
    }
    if (parse_range(req, resp, &rg, &off, &len) != 0 || api_query_bools(req, resp, download_files_bools) < 0) return;
    {
        int64_t ignored; /* startTime (int64 in the contract): unused here, still an integer */
        if (api_query_int64(req, resp, "startTime", &ignored) < 0) return;
    }
    rc = cat_recovery_get(ctx->cat, req->tenant, req->params[0], &r);
    if (rc == CAT_NOT_FOUND) {
        api_error(resp, 404, "NotFound", "recovery '%s' not found", req->params[0]);
        return;
    }
    if (rc != 0) {
        api_error(resp, 500, "InternalError", "catalog error while reading recovery '%s'", req->params[0]);
        return;
    }
    if (strcmp(r.kind, "download") != 0) {
        api_error(resp, 400, "InvalidParameter", "recovery '%s' is a %s recovery: only DownloadFilesAndFolders "
                                                 "recoveries have files to download", r.id, r.recovery_action);
        goto out;
    }
    if (ftype && strcmp(ftype, "error") == 0) { /* the files that failed, one "path: message" a line */
        struct api_buf b;
        size_t i;
        json_t *e;
        api_buf_init(&b, 16u << 20);
        json_array_foreach(r.file_errors, i, e) {
            api_buf_adds(&b, json_string_value(json_object_get(e, "path")) ? json_string_value(json_object_get(e, "path")) : "?");
            api_buf_adds(&b, ": ");
            api_buf_adds(&b, json_string_value(json_object_get(e, "message")) ? json_string_value(json_object_get(e, "message")) : "");
            api_buf_adds(&b, "\n");
        }
        if (b.failed) {
            api_buf_release(&b);
            api_error(resp, 500, "InternalError", "out of memory");
            goto out;
        }
        mr = MHD_create_response_from_buffer(b.len, b.data ? b.data : (void *)"",
                                             b.data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        b.data = NULL;
        if (!mr) {
            api_error(resp, 500, "InternalError", "cannot prepare the response");
            goto out;
        }
        MHD_add_response_header(mr, "Content-Type", "text/plain; charset=utf-8");
        resp->status = 200;
        resp->raw = mr;
        goto out;
    }
    if (ftype && *ftype && strcmp(ftype, "archive") != 0) {
        api_error(resp, 400, "InvalidParameter", "query parameter 'fileType' '%.32s' is not available: the download "
                                                 "is the archive itself, or fileType=error lists the files that failed",
                  ftype);
        goto out;
    }
    if (strcmp(r.status, "Accepted") == 0 || strcmp(r.status, "Running") == 0 || strcmp(r.status, "Canceling") == 0) {
        api_error(resp, 409, "NotReady", "the archive of recovery '%s' is not ready yet (status %s, %" PRId64
                                         " bytes written so far); try again once it has Succeeded",
                  r.id, r.status, r.bytes);
        goto out;
    }
    if (r.archive_bytes < 0) {
        api_error(resp, strcmp(r.status, "Succeeded") == 0 || strcmp(r.status, "SucceededWithWarning") == 0 ? 410 : 409,
                  "NoArchive", "recovery '%s' has no archive to download (status %s%s%s)", r.id, r.status,
                  json_array_size(r.messages) ? ": " : "",
                  json_array_size(r.messages) ? json_string_value(json_array_get(r.messages, json_array_size(r.messages) - 1)) : "");
        goto out;
    }
    if (sched_recovery_archive_path(ctx->data_dir, r.id, path, sizeof path) != 0 ||
        (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        api_error(resp, 410, "NoArchive", "the archive of recovery '%s' is no longer available", r.id);
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        api_error(resp, 500, "InternalError", "cannot read the archive of recovery '%s'", r.id);
        goto out;
    }
    if (resolve(resp, &rg, off, len, (uint64_t)st.st_size) != 0) {
        close(fd);
        goto out;
    }
    mr = MHD_create_response_from_fd_at_offset64(rg.len, fd, rg.off); /* takes fd */
    if (!mr) {
        close(fd);
        api_error(resp, 500, "InternalError", "cannot prepare the response");
        goto out;
    }
    safe_name(fname, sizeof fname, r.name);
    snprintf(tarname, sizeof tarname, "%s.tar", fname);
    set_headers(mr, "application/x-tar", tarname, &rg, (uint64_t)st.st_size);
    resp->status = rg.http ? 206 : 200;
    resp->raw = mr;
out:
    cat_recovery_release(&r);
}

/* ---------- GET /snapshots/{snapshotsId}/download-file ---------- */

/* One file streamed from the repository: the chunk covering the position is read into buf and
 * served from there; holes are zeros written straight into MHD's buffer. */
struct fstream {
    struct repo *repo;
    char *snap, *path;
    struct tree_entry e;     /* the file's entry (a hardlink's first path resolved): its chunk list */
    uint64_t start, len;     /* the response is the file's [start, start+len) */
    uint8_t *buf;
    uint64_t buf_off;
    size_t buf_len, buf_cap;
};

static int fs_sink(void *ctx, const void *data, size_t n)
{
    struct fstream *f = ctx;
    if (f->buf_len + n > f->buf_cap) {
        size_t cap = f->buf_cap ? f->buf_cap : 65536;
        uint8_t *nb;
        while (cap < f->buf_len + n) cap *= 2;
        if (cap > 2 * (size_t)REPO_CHUNK_MAX) return -EFBIG;
        if (!(nb = realloc(f->buf, cap))) return -ENOMEM;
        f->buf = nb;
        f->buf_cap = cap;
    }
    memcpy(f->buf + f->buf_len, data, n);
    f->buf_len += n;
    return 0;
}

/* fs_load: reads the part of chunk c from off to the chunk's (or the response's) end into buf. */
static int fs_load(struct fstream *f, const struct tree_chunk *c, uint64_t off)
{
    uint64_t wend = c->offset + c->len, end = f->start + f->len;
    int rc;
    if (wend > end) wend = end;
    f->buf_len = 0;
    f->buf_off = off;
    rc = eng_read_file(f->repo, f->snap, f->path, off, wend - off, fs_sink, f);
    if (rc == 0 && f->buf_len != wend - off) {
        repo_damage_setf("'%.200s' is shorter in the repository than its tree says", f->path);
        rc = -EBADMSG;
    }
    if (rc) f->buf_len = 0;
    return rc;
}

/* fs_precheck: before answering: every chunk of the range is in the index, not known damaged, in a
 * pack that exists (cheap checks), and the first chunk is read (so a small file is wholly
 * verified). -EBADMSG names the damage through repo_damage_last. */
static int fs_precheck(struct fstream *f)
{
    uint64_t end = f->start + f->len;
    const struct tree_chunk *first = NULL;
    for (size_t i = 0; i < f->e.n_chunks; i++) {
        const struct tree_chunk *k = &f->e.chunks[i];
        int rc;
        if (k->offset + k->len <= f->start) continue;
        if (k->offset >= end) break;
        if (!first) first = k;
        rc = repo_blob_check(f->repo, &k->id);
        if (rc == -ENOENT || rc == -EIO || rc == -EBADMSG) return -EBADMSG; /* damage, named */
        if (rc) return rc;
    }
    if (!first) return 0;
    return fs_load(f, first, first->offset > f->start ? first->offset : f->start);
}

static ssize_t fs_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct fstream *f = cls;
    uint64_t off = f->start + pos, end = f->start + f->len;
    if (pos >= f->len) return MHD_CONTENT_READER_END_OF_STREAM;
    if (max > end - off) max = (size_t)(end - off);
    if (!(off >= f->buf_off && off < f->buf_off + f->buf_len)) {
        const struct tree_chunk *c = NULL;
        uint64_t next = f->e.size;
        int rc;
        for (size_t i = 0; i < f->e.n_chunks; i++) {
            const struct tree_chunk *k = &f->e.chunks[i];
            if (k->offset + k->len <= off) continue;
            if (k->offset <= off) c = k;
            else next = k->offset;
            break;
        }
        if (!c) { /* a hole up to the next chunk */
            size_t n = max;
            if (n > next - off) n = (size_t)(next - off);
            memset(out, 0, n);
            return (ssize_t)n;
        }
        if ((rc = fs_load(f, c, off)) != 0) {
            char why[480];
            log_warn("download-file: %s in snapshot %s at offset %" PRIu64 ": %s (the stream is cut)", f->path,
                     f->snap, off, eng_damage_text(rc, why, sizeof why));
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    {
        size_t n = (size_t)(f->buf_off + f->buf_len - off);
        if (n > max) n = max;
        memcpy(out, f->buf + (off - f->buf_off), n);
        return (ssize_t)n;
    }
}

static void fs_free(void *cls)
{
    struct fstream *f = cls;
    tree_entry_release(&f->e);
    free(f->snap);
    free(f->path);
    free(f->buf);
    free(f);
}

static void download_file(struct api_req *req, struct api_resp *resp)
{
    struct api_context *ctx = api_ctx(req);
    const char *path = api_query(req, "filePath"), *why;
    struct cat_snapshot snap;
    struct tree_entry e;
    enum tree_type type = TREE_FILE;
    struct range rg;
    struct fstream *f;
    struct MHD_Response *mr;
    char fname[128];
    int64_t off, len;
    int rc;
    if (!path || !*path) {
        api_error(resp, 400, "MissingParameter", "query parameter 'filePath' is required");
        return;
    }
    if ((why = api_rec_path_problem(path)) != NULL) {
        api_error(resp, 400, "InvalidParameter", "query parameter 'filePath' ('%.200s') %s", path, why);
        return;
    }
    if (parse_range(req, resp, &rg, &off, &len) != 0 || api_query_bools(req, resp, download_file_bools) < 0) return;
    {
        int64_t attempt = 0;
        if (api_query_int64(req, resp, "retryAttempt", &attempt) < 0) return;
        if (attempt < 0) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'retryAttempt' must not be negative");
            return;
        }
    }
    if (!ctx->repo) {
        api_error(resp, 503, "Unavailable", "the repository is not available");
        return;
    }
    if (api_rec_snapshot(req, resp, "snapshotsId", req->params[0], &snap) != 0) return;
    rc = svc_download_plan(ctx->repo, snap.id, path, &e, &type);
    if (rc == -ENOENT) {
        api_error(resp, 404, "NotFound", "'%.200s' is not in snapshot %s", path, snap.id);
        goto out;
    }
    if (rc == -EBADMSG) {
        char dmg[480];
        api_error(resp, 409, "RepositoryDamaged", "cannot find '%.200s' in snapshot %s: %s", path, snap.id,
                  svc_damage_text(rc, dmg, sizeof dmg));
        goto out;
    }
    if (rc == -EISDIR) {
        api_error(resp, 400, "InvalidParameter", "'%.200s' is %s in snapshot %s, not a regular file", path,
                  type == TREE_DIR ? "a directory" : type == TREE_SYMLINK ? "a symbolic link" : "a special file",
                  snap.id);
        goto out;
    }
    if (rc != 0) {
        api_error(resp, 500, "InternalError", "cannot read snapshot %s: %s", snap.id, strerror(-rc));
        goto out;
    }
    if (resolve(resp, &rg, off, len, e.size) != 0) {
        tree_entry_release(&e);
        goto out;
    }
    f = calloc(1, sizeof *f);
    if (!f || !(f->snap = strdup(snap.id)) || !(f->path = strdup(path))) {
        if (f) {
            free(f->snap);
            free(f);
        }
        tree_entry_release(&e);
        api_error(resp, 500, "InternalError", "out of memory");
        goto out;
    }
    f->repo = ctx->repo;
    f->e = e; /* owned by f now */
    f->start = rg.off;
    f->len = rg.len;
    /* Damage known before the first byte is a 409; damage found later can only cut the stream. */
    if ((rc = fs_precheck(f)) != 0) {
        char dmg[480];
        eng_damage_text(rc, dmg, sizeof dmg);
        fs_free(f);
        if (rc == -EBADMSG)
            api_error(resp, 409, "RepositoryDamaged", "cannot read '%.200s' of snapshot %s: %s", path, snap.id, dmg);
        else
            api_error(resp, 500, "InternalError", "cannot read '%.200s' of snapshot %s: %s", path, snap.id, dmg);
        goto out;
    }
    mr = MHD_create_response_from_callback(rg.len, STREAM_BLOCK, fs_read, f, fs_free);
    if (!mr) {
        fs_free(f);
        api_error(resp, 500, "InternalError", "cannot prepare the response");
        goto out;
    }
    safe_name(fname, sizeof fname, strrchr(path, '/') + 1);
    set_headers(mr, "application/octet-stream", fname, &rg, e.size);
    resp->status = rg.http ? 206 : 200;
    resp->raw = mr;
out:
    cat_snapshot_release(&snap);
}

const struct api_route api_routes_downloads[] = {
    { "POST", "/v2/data-protect/recoveries/download-files-folders", create_download, 0, API_ROLE_OPERATOR },
    { "GET", "/v2/data-protect/recoveries/{id}/download-files", download_files, 0, API_ROLE_OPERATOR },
    { "GET", "/v2/data-protect/snapshots/{snapshotsId}/download-file", download_file, 0, API_ROLE_OPERATOR },
    { NULL, NULL, NULL, 0, 0 },
};
