/* mover_remote.c: the remote mover and its work registry (remote.h; docs/agent-protocol.md).
 *
 * The registry is a list of work items under one mutex, with one condition variable the waiting
 * movers sleep on (woken by every state change, and at least once a second to check cancel and the
 * lease). An item is referenced by the mover that made it and by each agent request working on it
 * (eng_remote_get / eng_remote_unref); the last reference frees it. States: QUEUED (made, not yet
 * handed out) -> TAKEN (handed out in a heartbeat answer; every request renews the lease) -> DONE or
 * FAILED (the agent said so) or ENDED (the mover stopped waiting: cancel, lease lost, revoked).
 *
 * The mover holds a repository writer ticket for the whole wait (a prune waits for it: the agent
 * deduplicates against what it was told exists) and writes the snapshot with the write epoch it
 * took at the start (a pack seal that failed meanwhile voids the snapshot, as for a local backup). */
#include "engine/remote.h"
#include "util/hex.h"
#include "engine/eng_internal.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zstd.h>

enum work_state { W_QUEUED, W_TAKEN, W_DONE, W_FAILED, W_ENDED };
enum { WORK_PG_BACKUP = 1, WORK_PG_RESTORE = 2 };

struct eng_remote_work {
    char id[33];
    char *tenant, *connector;
    json_t *includes, *excludes, *meta;
    char parent[REPO_ID_HEX_LEN + 1];        /* "" = none */
    struct repo_writer_keys keys;
    repo_id_t *trees;                         /* the parent's tree ids, sorted */
    size_t ntrees;
    enum work_state state;
    int64_t deadline;                         /* util_time_mono: take or lease deadline */
    uint64_t epoch;
    char snapshot[REPO_ID_HEX_LEN + 1];       /* committed snapshot, "" = none yet */
    json_t *result;
    char failure[512];
    int restore;                              /* a restore to the agent's host (else a backup) */
    json_t *restore_spec;                     /* what the agent restores (sent with the work) */
    repo_id_t *rblobs;                        /* restore: the data blobs the snapshot's trees name, sorted */
    size_t nrblobs;
    uint64_t bytes_received, bytes_added, blobs;
    int pg;                                   /* PostgreSQL: WORK_PG_BACKUP or WORK_PG_RESTORE (else 0) */
    json_t *pg_spec;                          /* what the agent is told (sent with the work) */
    char staged[REPO_ID_HEX_LEN + 1];         /* a base backup's staged run 1 ("" = none yet) */
    json_t *staged_doc;
    int refs;
    struct eng_remote_work *next;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static struct eng_remote_work *g_list;
static uint64_t g_received, g_added;

static int64_t env_secs(const char *name, int64_t def)
{
    const char *e = getenv(name);
    long long v = e ? strtoll(e, NULL, 10) : 0;
    return v >= 1 && v <= 86400 ? v : def;
}
static int64_t take_usecs(void) { return env_secs("COFFER_AGENT_TAKE_SECS", 120) * 1000000; }
static int64_t lease_usecs(void) { return env_secs("COFFER_AGENT_LEASE_SECS", 60) * 1000000; }

static void work_free(struct eng_remote_work *w)
{
    free(w->tenant);
    free(w->connector);
    json_decref(w->includes);
    json_decref(w->excludes);
    json_decref(w->meta);
    json_decref(w->result);
    free(w->trees);
    free(w->rblobs);
    json_decref(w->restore_spec);
    if (w->pg_spec) { /* it may hold the instance's password */
        json_t *ci = json_object_get(w->pg_spec, "conninfo");
        if (json_is_string(ci)) explicit_bzero((char *)json_string_value(ci), json_string_length(ci));
        json_decref(w->pg_spec);
    }
    json_decref(w->staged_doc);
    memset(&w->keys, 0, sizeof w->keys);
    free(w);
}

void eng_remote_unref(struct eng_remote_work *w)
{
    int last;
    if (!w) return;
    pthread_mutex_lock(&g_mu);
    last = --w->refs == 0;
    pthread_mutex_unlock(&g_mu);
    if (last) work_free(w);
}

/* ---- the parent's trees ---- */

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, sizeof(repo_id_t)); }

struct tree_set {
    repo_id_t *v;
    size_t n, cap;
};

#define MAX_TREES (4u << 20)
#define MAX_DEPTH 1024

static int set_add(struct tree_set *s, const repo_id_t *id)
{
    if (s->n >= MAX_TREES) return -E2BIG;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        repo_id_t *nv = realloc(s->v, ncap * sizeof *nv);
        if (!nv) return -ENOMEM;
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = *id;
    return 0;
}

/* The hardlink targets (snapshot paths) named by files of a restore's scope. */
struct link_list {
    char **v;
    size_t n, cap;
};

static void links_free(struct link_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int links_add(struct link_list *l, const char *path)
{
    if (l->n >= MAX_TREES) return -E2BIG;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv) return -ENOMEM;
        l->v = nv;
        l->cap = ncap;
    }
    if (!(l->v[l->n] = strdup(path))) return -ENOMEM;
    l->n++;
    return 0;
}

/* file_blobs: a file entry's data blobs into data; its hardlink target (when it has one) into links. */
static int file_blobs(const struct tree_entry *e, struct tree_set *data, struct link_list *links)
{
    int rc = 0;
    for (size_t c = 0; rc == 0 && c < e->n_chunks; c++) rc = set_add(data, &e->chunks[c].id);
    if (rc == 0 && e->hardlink && links) rc = links_add(links, e->hardlink);
    return rc;
}

/* collect_trees: the ids of the tree id and every tree below it into s; with data non-NULL also the
 * data blobs their files name (a restore's authorized reads) and, with links non-NULL, the hardlink
 * targets those files name. */
static int collect_trees(struct repo *repo, const repo_id_t *id, struct tree_set *s, struct tree_set *data,
                         struct link_list *links, int depth)
{
    struct tree *t = NULL;
    int rc;
    if (depth > MAX_DEPTH) return -E2BIG;
    if ((rc = set_add(s, id)) != 0) return rc;
    if ((rc = eng_tree_load(repo, id, &t)) != 0) return rc;
    for (size_t i = 0; rc == 0 && i < t->n; i++) {
        const struct tree_entry *e = &t->entries[i];
        if (e->type == TREE_DIR && e->has_subtree) rc = collect_trees(repo, &e->subtree, s, data, links, depth + 1);
        else if (data && e->type == TREE_FILE) rc = file_blobs(e, data, links);
    }
    tree_free(t);
    return rc;
}

/* scope_path: what a restore of the snapshot path path (normalized) reads: the trees from the root
 * down to it, and, below it, everything (collect_trees); a file's data blobs. A path the snapshot
 * does not hold adds the trees up to where it stops (the agent's restorer then fails it as "not in
 * the snapshot", as a local restore would). */
static int scope_path(struct repo *repo, const repo_id_t *root, const char *path, struct tree_set *s,
                      struct tree_set *data, struct link_list *links)
{
    repo_id_t cur = *root;
    const char *p = path;
    int rc = 0;
    for (int depth = 0;; depth++) {
        struct tree *t = NULL;
        const struct tree_entry *e;
        char name[TREE_NAME_MAX + 1];
        const char *end;
        size_t cl;
        while (*p == '/') p++;
        if (!*p) return collect_trees(repo, &cur, s, data, links, depth); /* a directory: all of it */
        if (depth > MAX_DEPTH) return -E2BIG;
        end = strchr(p, '/');
        cl = end ? (size_t)(end - p) : strlen(p);
        if (cl > TREE_NAME_MAX) return 0;
        memcpy(name, p, cl);
        name[cl] = '\0';
        p += cl;
        if ((rc = set_add(s, &cur)) != 0 || (rc = eng_tree_load(repo, &cur, &t)) != 0) return rc;
        e = tree_find(t, name);
        while (*p == '/') p++;
        if (e && e->type == TREE_DIR && e->has_subtree) {
            cur = e->subtree;
            tree_free(t);
            continue;
        }
        if (e && !*p && e->type == TREE_FILE) rc = file_blobs(e, data, links);
        tree_free(t);
        return rc; /* a file, a symlink or another leaf; or the path is not there */
    }
}

/* under: path (normalized) is prefix or below it. */
static int under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strcmp(prefix, "/") == 0) return 1;
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* sort_unique: sorts s and drops repeated ids. */
static void sort_unique(struct tree_set *s)
{
    size_t o = 0;
    if (!s->n) return;
    qsort(s->v, s->n, sizeof *s->v, id_cmp);
    for (size_t i = 0; i < s->n; i++)
        if (o == 0 || memcmp(&s->v[o - 1], &s->v[i], sizeof *s->v) != 0) s->v[o++] = s->v[i];
    s->n = o;
}

/* restore_scope: what a restore of paths (n == 0: the whole snapshot) may read: the trees on the way
 * to each path and every tree below it, the data blobs of the files there, and for a hardlinked file
 * whose first link lies outside the paths the way to that link and its data (the restorer writes the
 * content from it). Into w->trees and w->rblobs, sorted. */
static int restore_scope(struct repo *repo, const char *snapshot_id, const char *const *paths, size_t n,
                         struct eng_remote_work *w)
{
    static const char *const everything[] = { "/" };
    struct tree_set s = { 0 }, d = { 0 };
    struct link_list links = { 0 }, norm = { 0 };
    repo_id_t root;
    int rc = eng_snapshot_root(repo, snapshot_id, &root);
    if (n == 0 || !paths) {
        paths = everything;
        n = 1;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *np = NULL;
        if (eng_path_normalize(paths[i], &np) != 0) continue; /* the restorer refuses it, reading nothing */
        rc = links_add(&norm, np);
        free(np);
        if (rc == 0) rc = scope_path(repo, &root, norm.v[norm.n - 1], &s, &d, &links);
    }
    for (size_t i = 0; rc == 0 && i < links.n; i++) {
        int inside = 0;
        for (size_t k = 0; k < norm.n && !inside; k++) inside = under(links.v[i], norm.v[k]);
        if (!inside) rc = scope_path(repo, &root, links.v[i], &s, &d, NULL);
    }
    links_free(&links);
    links_free(&norm);
    if (rc != 0) {
        free(s.v);
        free(d.v);
        return rc;
    }
    sort_unique(&s);
    sort_unique(&d);
    w->trees = s.v;
    w->ntrees = s.n;
    w->rblobs = d.v;
    w->nrblobs = d.n;
    return 0;
}

/* parent_trees: the trees of a backup's parent snapshot (what its agent may read back), sorted. */
static int parent_trees(struct repo *repo, const char *parent, struct eng_remote_work *w)
{
    struct tree_set s = { 0 };
    repo_id_t root;
    int rc = eng_snapshot_root(repo, parent, &root);
    if (rc == 0) rc = collect_trees(repo, &root, &s, NULL, NULL, 0);
    if (rc != 0) {
        free(s.v);
        return rc;
    }
    sort_unique(&s);
    w->trees = s.v;
    w->ntrees = s.n;
    return 0;
}

/* work_parent: a backup work's parent (parent NULL or empty: none): the agent may read back its trees
 * (and nothing else); a damaged parent means a full backup, as it would for the local engine's reader. */
static void work_parent(struct repo *repo, const char *parent, struct eng_remote_work *w, const char *what)
{
    if (!parent || !*parent) return;
    if (parent_trees(repo, parent, w) == 0)
        snprintf(w->parent, sizeof w->parent, "%s", parent);
    else
        log_warn("remote %s: parent snapshot %s cannot be read: the agent reads everything", what, parent);
}

static int in_blobs(const struct eng_remote_work *w, const repo_id_t *id)
{
    return w->nrblobs && bsearch(id, w->rblobs, w->nrblobs, sizeof *w->rblobs, id_cmp) != NULL;
}

static int in_parent(const struct eng_remote_work *w, const repo_id_t *id)
{
    int r;
    pthread_mutex_lock(&g_mu); /* a base backup's staging replaces the set (eng_remote_stage) */
    r = w->ntrees && bsearch(id, w->trees, w->ntrees, sizeof *w->trees, id_cmp) != NULL;
    pthread_mutex_unlock(&g_mu);
    return r;
}

/* ---- the mover ---- */

static void fill_result(const struct eng_remote_work *w, struct eng_backup_result *out)
{
    const json_t *r = w->result;
#define U(k) (json_is_integer(json_object_get(r, k)) && json_integer_value(json_object_get(r, k)) > 0 \
                  ? (uint64_t)json_integer_value(json_object_get(r, k)) : 0)
    snprintf(out->snapshot_id, sizeof out->snapshot_id, "%s", w->snapshot);
    snprintf(out->tree_id, sizeof out->tree_id, "%s",
             json_string_value(json_object_get(r, "tree_id")) ? json_string_value(json_object_get(r, "tree_id")) : "");
    out->files = U("files");
    out->dirs = U("dirs");
    out->symlinks = U("symlinks");
    out->other = U("other");
    out->logical_bytes = U("logical_bytes");
    out->bytes_read = U("bytes_read");
    out->files_unchanged = U("files_unchanged");
    out->bytes_added = w->bytes_added;
#undef U
    out->warnings = json_is_array(json_object_get(r, "warnings")) ? json_deep_copy(json_object_get(r, "warnings"))
                                                                  : json_array();
}

/* run_work: queues w (one reference, the caller's) and waits until the agent ends it, the take or
 * lease deadline passes, *cancel is set or the work is ended (connector revoked); then takes it off
 * the queue. 0 when the agent reported success (w->result), else a negative code with err. */
static int run_work(struct eng_remote_work *w, volatile int *cancel, eng_progress_fn progress, void *progress_ctx,
                    const char *what, char *err, size_t errlen)
{
    const char *conn = w->connector;
    int64_t last_progress = 0;
    int rc = 0;
    pthread_mutex_lock(&g_mu);
    w->refs = 1;
    w->state = W_QUEUED;
    w->deadline = util_time_mono() + take_usecs();
    w->next = g_list;
    g_list = w;
    log_info("remote %s %s queued for connector %s of tenant %s", what, w->id, conn, w->tenant);
    for (;;) {
        struct timespec ts;
        int64_t now = util_time_mono();
        if (w->state == W_DONE || w->state == W_FAILED) break;
        if (cancel && *cancel) {
            rc = -ECANCELED;
            snprintf(err, errlen, "canceled");
            break;
        }
        if (w->state == W_ENDED) {
            rc = -ECONNABORTED;
            snprintf(err, errlen, "%s", w->failure[0] ? w->failure : "the agent's work ended");
            break;
        }
        if (now > w->deadline) {
            rc = -ETIMEDOUT;
            snprintf(err, errlen, w->state == W_QUEUED
                     ? "coffer-agent connector %s did not take the %s within %lld s (is it running?)"
                     : "coffer-agent connector %s stopped answering during the %s (no request for %lld s)",
                     conn, what, (long long)((w->state == W_QUEUED ? take_usecs() : lease_usecs()) / 1000000));
            break;
        }
        if (progress && now - last_progress >= 1000000) {
            struct eng_progress p = { .bytes_done = w->bytes_received, .bytes_added = w->bytes_added };
            last_progress = now;
            pthread_mutex_unlock(&g_mu);
            progress(progress_ctx, &p);
            pthread_mutex_lock(&g_mu);
            continue;
        }
        util_deadline_ms(&ts, 1000);
        pthread_cond_timedwait(&g_cv, &g_mu, &ts);
    }
    if (rc == 0 && w->state == W_FAILED) {
        rc = -EIO;
        snprintf(err, errlen, "coffer-agent connector %s: %s", conn, w->failure);
    }
    if (w->state != W_DONE && w->state != W_FAILED) {
        w->state = W_ENDED;
        if (!w->failure[0]) snprintf(w->failure, sizeof w->failure, "%s", err);
    }
    for (struct eng_remote_work **p = &g_list; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&g_mu);
    log_info("remote %s %s: %s", what, w->id, rc == 0 ? "done" : err);
    return rc;
}

static int remote_backup(struct repo *repo, const struct eng_backup_opts *o, struct eng_backup_result *out, char *err,
                         size_t errlen)
{
    const char *conn = json_string_value(json_object_get(o->snapshot_meta, ENG_REMOTE_META_CONNECTOR));
    const char *tenant = json_string_value(json_object_get(o->snapshot_meta, "tenant"));
    struct eng_remote_work *w;
    unsigned char rnd[16];
    uint64_t ticket;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (!conn || !tenant) {
        snprintf(err, errlen, "the remote mover needs the agent's connector and tenant");
        return -EINVAL;
    }
    if (!(w = calloc(1, sizeof *w)) || RAND_bytes(rnd, sizeof rnd) != 1) {
        free(w);
        return -ENOMEM;
    }
    util_hex_encode(rnd, sizeof rnd, w->id);
    w->tenant = strdup(tenant);
    w->connector = strdup(conn);
    w->includes = json_array();
    w->excludes = json_array();
    w->meta = json_deep_copy(o->snapshot_meta);
    for (size_t i = 0; i < o->n_include; i++) json_array_append_new(w->includes, json_string(o->include_paths[i]));
    for (size_t i = 0; i < o->n_exclude; i++) json_array_append_new(w->excludes, json_string(o->exclude_paths[i]));
    repo_writer_keys_get(repo, &w->keys);
    if (!w->tenant || !w->connector || !w->includes || !w->excludes || !w->meta) {
        work_free(w);
        return -ENOMEM;
    }
    w->epoch = repo_write_epoch(repo);
    ticket = repo_writer_begin(repo);
    work_parent(repo, o->parent_snapshot_id, w, "backup");
    rc = run_work(w, o->cancel, o->progress, o->progress_ctx, "backup", err, errlen);
    if (rc == 0) fill_result(w, out);
    repo_writer_end(repo, ticket);
    eng_remote_unref(w);
    return rc;
}

/* ---- a restore to the agent's host ---- */

static uint64_t res_u(const json_t *r, const char *k)
{
    json_t *v = json_object_get(r, k);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

int eng_remote_restore(struct repo *repo, const char *tenant, const char *connector, const char *snapshot_id,
                       const struct eng_restore_opts *o, struct eng_restore_result *out, char *err, size_t errlen)
{
    struct eng_remote_work *w;
    unsigned char rnd[16];
    json_t *paths = json_array();
    int rc;
    memset(out, 0, sizeof *out);
    if (!paths || !(w = calloc(1, sizeof *w)) || RAND_bytes(rnd, sizeof rnd) != 1) {
        json_decref(paths);
        if (paths) free(w);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    util_hex_encode(rnd, sizeof rnd, w->id);
    w->restore = 1;
    w->tenant = strdup(tenant);
    w->connector = strdup(connector);
    for (size_t i = 0; i < o->n_paths; i++) json_array_append_new(paths, json_string(o->paths[i]));
    w->restore_spec = json_pack("{s:s,s:o,s:s?,s:b,s:b,s:b}", "snapshot", snapshot_id, "paths", paths, "target_dir",
                                o->target_dir, "overwrite", o->overwrite, "preserve_attrs", o->preserve_attrs,
                                "continue_on_error", o->continue_on_error);
    repo_writer_keys_get(repo, &w->keys);
    /* a restore needs no key: the agent gets the chunk sizes only (its handle cannot compute ids) */
    memset(w->keys.id_key, 0, sizeof w->keys.id_key);
    memset(w->keys.chunk_key, 0, sizeof w->keys.chunk_key);
    if (!w->tenant || !w->connector || !w->restore_spec) {
        work_free(w);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* what the agent may read: the snapshot's document, and the trees and data blobs of the restored
     * paths (the way down to each, everything below it) */
    if ((rc = restore_scope(repo, snapshot_id, o->paths, o->n_paths, w)) != 0) {
        char dbuf[512];
        snprintf(err, errlen, "cannot read snapshot %.64s: %s", snapshot_id, eng_damage_text(rc, dbuf, sizeof dbuf));
        work_free(w);
        return rc == -ENOENT ? -EBADMSG : rc;
    }
    snprintf(w->parent, sizeof w->parent, "%s", snapshot_id);
    rc = run_work(w, o->cancel, o->progress, o->progress_ctx, "restore", err, errlen);
    if (rc == 0) {
        const json_t *r = w->result;
        out->files = res_u(r, "files");
        out->dirs = res_u(r, "dirs");
        out->symlinks = res_u(r, "symlinks");
        out->other = res_u(r, "other");
        out->bytes = res_u(r, "bytes");
        out->skipped = res_u(r, "skipped");
    }
    out->errors = rc == 0 && json_is_array(json_object_get(w->result, "errors"))
                      ? json_deep_copy(json_object_get(w->result, "errors")) : json_array();
    eng_remote_unref(w);
    return rc;
}

const struct mover mover_remote = {
    .name = "remote",
    .backup = remote_backup,
    .restore = eng_restore,
    .stat = eng_stat_path,
    .read = eng_write_tar,
};

/* ---- the agent's side ---- */

static json_t *pg_take_item(const struct eng_remote_work *w);

json_t *eng_remote_take(struct repo *repo, const char *tenant, const char *connector)
{
    json_t *arr = json_array();
    char idk[65], chk[65];
    (void)repo;
    pthread_mutex_lock(&g_mu);
    for (struct eng_remote_work *w = g_list; arr && w; w = w->next) {
        if (w->state != W_QUEUED || strcmp(w->tenant, tenant) != 0 || strcmp(w->connector, connector) != 0) continue;
        if (w->pg) {
            json_array_append_new(arr, pg_take_item(w));
            w->state = W_TAKEN;
            w->deadline = util_time_mono() + lease_usecs();
            continue;
        }
        if (w->restore) {
            json_array_append_new(arr, json_pack("{s:s,s:s,s:O,s:{s:I,s:I,s:I}}", "id", w->id, "kind", "restore",
                                                 "restore", w->restore_spec, "keys", "cmin", (json_int_t)w->keys.cmin,
                                                 "cavg", (json_int_t)w->keys.cavg, "cmax", (json_int_t)w->keys.cmax));
            w->state = W_TAKEN;
            w->deadline = util_time_mono() + lease_usecs();
            continue;
        }
        util_hex_encode(w->keys.id_key, sizeof w->keys.id_key, idk);
        util_hex_encode(w->keys.chunk_key, sizeof w->keys.chunk_key, chk);
        json_array_append_new(arr, json_pack("{s:s,s:O,s:O,s:s?,s:{s:s,s:s,s:I,s:I,s:I}}", "id", w->id, "includes",
                                             w->includes, "excludes", w->excludes, "parent",
                                             w->parent[0] ? w->parent : NULL, "keys", "id_key", idk, "chunk_key", chk,
                                             "cmin", (json_int_t)w->keys.cmin, "cavg", (json_int_t)w->keys.cavg,
                                             "cmax", (json_int_t)w->keys.cmax));
        w->state = W_TAKEN;
        w->deadline = util_time_mono() + lease_usecs();
    }
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    memset(idk, 0, sizeof idk);
    memset(chk, 0, sizeof chk);
    return arr;
}

int eng_remote_get(const char *id, const char *tenant, const char *connector, struct eng_remote_work **out)
{
    int rc = -ENOENT;
    *out = NULL;
    pthread_mutex_lock(&g_mu);
    for (struct eng_remote_work *w = g_list; w; w = w->next) {
        if (strcmp(w->id, id) != 0) continue;
        if (strcmp(w->tenant, tenant) != 0 || strcmp(w->connector, connector) != 0) break;
        if (w->state != W_TAKEN) {
            rc = -ECANCELED;
            break;
        }
        w->refs++;
        w->deadline = util_time_mono() + lease_usecs();
        *out = w;
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&g_mu);
    return rc;
}

int eng_remote_missing(struct eng_remote_work *w, struct repo *repo, const json_t *ids, json_t **missing, char *err,
                       size_t errlen)
{
    size_t i;
    json_t *v;
    (void)w;
    *missing = NULL;
    if (!json_is_array(ids) || json_array_size(ids) > ENG_REMOTE_MAX_IDS) {
        snprintf(err, errlen, "must be an array of at most %d blob ids", ENG_REMOTE_MAX_IDS);
        return -EINVAL;
    }
    if (!(*missing = json_array())) return -ENOMEM;
    json_array_foreach(ids, i, v) {
        repo_id_t id;
        if (!json_is_string(v) || repo_id_from_hex(json_string_value(v), &id) != 0) {
            snprintf(err, errlen, "[%zu] is not a blob id (64 hex digits)", i);
            json_decref(*missing);
            *missing = NULL;
            return -EINVAL;
        }
        if (repo_blob_exists(repo, &id) != 1) json_array_append(*missing, v);
    }
    return 0;
}

static uint32_t get_u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

#define BLOB_HDR (1 + REPO_ID_LEN + 4 + 4)
#define BLOB_ZSTD 0x80

int eng_remote_blobs(struct eng_remote_work *w, struct repo *repo, const void *body, size_t len, size_t *stored,
                     char *err, size_t errlen)
{
    const uint8_t *p = body, *end = p + len;
    uint64_t received = len, added_total = 0;
    int rc = 0;
    *stored = 0;
    if (w->restore) {
        snprintf(err, errlen, "work %s is a restore: it uploads nothing", w->id);
        return -EPERM;
    }
    while (rc == 0 && p < end) {
        uint8_t flags;
        repo_id_t id, got;
        uint32_t plain, payload;
        void *buf = NULL;
        const void *data;
        size_t added = 0;
        char hex[REPO_ID_HEX_LEN + 1];
        if ((size_t)(end - p) < BLOB_HDR) {
            snprintf(err, errlen, "blob %zu: truncated header", *stored);
            return -EINVAL;
        }
        flags = p[0];
        memcpy(id.b, p + 1, REPO_ID_LEN);
        plain = get_u32(p + 1 + REPO_ID_LEN);
        payload = get_u32(p + 1 + REPO_ID_LEN + 4);
        p += BLOB_HDR;
        repo_id_to_hex(&id, hex);
        if ((flags & 0x7f) > REPO_BLOB_TREE || plain > REPO_CHUNK_MAX * 2u || payload > (size_t)(end - p) ||
            (!(flags & BLOB_ZSTD) && payload != plain)) {
            snprintf(err, errlen, "blob %zu (%s): bad type, length or payload length", *stored, hex);
            return -EINVAL;
        }
        if (flags & BLOB_ZSTD) {
            size_t n;
            if (!(buf = malloc(plain ? plain : 1))) return -ENOMEM;
            n = ZSTD_decompress(buf, plain, p, payload);
            if (ZSTD_isError(n) || n != plain) {
                free(buf);
                snprintf(err, errlen, "blob %zu (%s): its compressed payload does not decompress to %u bytes",
                         *stored, hex, plain);
                return -EINVAL;
            }
            data = buf;
        } else {
            data = p;
        }
        repo_blob_id(repo, data, plain, &got);
        if (memcmp(got.b, id.b, REPO_ID_LEN) != 0) {
            free(buf);
            snprintf(err, errlen, "blob %zu: its id %s does not match its content", *stored, hex);
            return -EPERM;
        }
        rc = repo_blob_put(repo, (enum repo_blob_type)(flags & 0x7f), &id, data, plain, &added);
        free(buf);
        if (rc != 0) {
            snprintf(err, errlen, "blob %zu (%s): cannot store it: %s", *stored, hex, strerror(-rc));
            break;
        }
        added_total += added;
        p += payload;
        (*stored)++;
    }
    pthread_mutex_lock(&g_mu);
    w->bytes_received += received;
    w->bytes_added += added_total;
    w->blobs += *stored;
    g_received += received;
    g_added += added_total;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    return rc;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

int eng_remote_read(struct eng_remote_work *w, struct repo *repo, const json_t *ids, void **out, size_t *outlen,
                    size_t *n_out, char *err, size_t errlen)
{
    struct buf_simple { uint8_t *p; size_t len, cap; } b = { 0 };
    size_t i;
    json_t *v;
    int rc = 0;
    *out = NULL;
    *outlen = 0;
    *n_out = 0;
    if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > ENG_REMOTE_MAX_READ) {
        snprintf(err, errlen, "must be an array of 1 to %d blob ids", ENG_REMOTE_MAX_READ);
        return -EINVAL;
    }
    json_array_foreach(ids, i, v) { /* every id is checked before anything is read */
        repo_id_t id;
        if (!json_is_string(v) || repo_id_from_hex(json_string_value(v), &id) != 0) {
            snprintf(err, errlen, "[%zu] is not a blob id (64 hex digits)", i);
            return -EINVAL;
        }
        if (!in_parent(w, &id) && !in_blobs(w, &id)) {
            snprintf(err, errlen, "[%zu]: blob %s is not a tree or data blob %s", i, json_string_value(v),
                     w->restore ? "under the restored paths of this work's snapshot" : "of this work's snapshot");
            return -EPERM;
        }
    }
    json_array_foreach(ids, i, v) {
        repo_id_t id;
        void *data = NULL, *z = NULL;
        size_t len = 0, bound, clen = 0, need;
        uint8_t *p;
        if (b.len >= ENG_REMOTE_READ_BYTES) break; /* the rest in the agent's next request */
        repo_id_from_hex(json_string_value(v), &id);
        if ((rc = repo_blob_get(repo, &id, &data, &len)) != 0) {
            char dbuf[512];
            snprintf(err, errlen, "blob %s cannot be read: %s", json_string_value(v),
                     eng_damage_text(rc, dbuf, sizeof dbuf));
            break;
        }
        bound = ZSTD_compressBound(len);
        if ((z = malloc(bound ? bound : 1)) != NULL) {
            clen = ZSTD_compress(z, bound, data, len, 1);
            if (ZSTD_isError(clen) || clen >= len) clen = 0;
        }
        need = BLOB_HDR + (clen ? clen : len);
        if (b.len + need > b.cap) {
            size_t ncap = (b.len + need) * 2;
            uint8_t *nb = realloc(b.p, ncap);
            if (!nb) {
                free(z);
                free(data);
                rc = -ENOMEM;
                snprintf(err, errlen, "out of memory");
                break;
            }
            b.p = nb;
            b.cap = ncap;
        }
        p = b.p + b.len;
        p[0] = (uint8_t)((in_parent(w, &id) ? REPO_BLOB_TREE : REPO_BLOB_DATA) | (clen ? BLOB_ZSTD : 0));
        memcpy(p + 1, id.b, REPO_ID_LEN);
        put_u32(p + 1 + REPO_ID_LEN, (uint32_t)len);
        put_u32(p + 1 + REPO_ID_LEN + 4, (uint32_t)(clen ? clen : len));
        if (clen) memcpy(p + BLOB_HDR, z, clen);
        else if (len) memcpy(p + BLOB_HDR, data, len);
        b.len += need;
        (*n_out)++;
        free(z);
        free(data);
    }
    if (rc != 0) {
        free(b.p);
        *n_out = 0;
        return rc;
    }
    pthread_mutex_lock(&g_mu);
    w->bytes_received += b.len;
    pthread_mutex_unlock(&g_mu);
    *out = b.p ? (void *)b.p : malloc(1);
    *outlen = b.len;
    return *out ? 0 : -ENOMEM;
}

int eng_remote_tree(struct eng_remote_work *w, struct repo *repo, const char *id_hex, void **data, size_t *len)
{
    repo_id_t id;
    *data = NULL;
    *len = 0;
    if (repo_id_from_hex(id_hex, &id) != 0 || !in_parent(w, &id)) return -EPERM;
    return repo_blob_get(repo, &id, data, len);
}

int eng_remote_parent(struct eng_remote_work *w, struct repo *repo, const char *id_hex, json_t **doc)
{
    *doc = NULL;
    pthread_mutex_lock(&g_mu);
    if (w->staged[0] && strcmp(id_hex, w->staged) == 0) { /* a base backup's run 1, staged by this work */
        *doc = json_deep_copy(w->staged_doc);
        pthread_mutex_unlock(&g_mu);
        return *doc ? 0 : -ENOMEM;
    }
    pthread_mutex_unlock(&g_mu);
    if (!w->parent[0] || strcmp(id_hex, w->parent) != 0) return -ENOENT;
    return repo_snapshot_read(repo, id_hex, doc);
}

/* verify_tree: every tree below id decodes and every data blob it names exists; trees of the parent
 * (verified when it was written) are not walked again. *entries counts what was checked. */
static int verify_tree(struct eng_remote_work *w, struct repo *repo, const repo_id_t *id, int depth, uint64_t *entries,
                       char *err, size_t errlen)
{
    struct tree *t = NULL;
    char hex[REPO_ID_HEX_LEN + 1];
    int rc;
    if (in_parent(w, id)) return 0;
    repo_id_to_hex(id, hex);
    if (depth > MAX_DEPTH) {
        snprintf(err, errlen, "the snapshot's trees are nested deeper than %d levels", MAX_DEPTH);
        return -EINVAL;
    }
    if (repo_blob_exists(repo, id) != 1 || eng_tree_load(repo, id, &t) != 0) {
        snprintf(err, errlen, "tree %s is not in the repository (or does not decode)", hex);
        return -ENOENT;
    }
    rc = 0;
    for (size_t i = 0; rc == 0 && i < t->n; i++) {
        const struct tree_entry *e = &t->entries[i];
        (*entries)++;
        if (e->type == TREE_DIR && e->has_subtree) {
            rc = verify_tree(w, repo, &e->subtree, depth + 1, entries, err, errlen);
        } else if (e->type == TREE_FILE) {
            for (size_t c = 0; rc == 0 && c < e->n_chunks; c++) {
                if (repo_blob_exists(repo, &e->chunks[c].id) != 1) {
                    repo_id_to_hex(&e->chunks[c].id, hex);
                    snprintf(err, errlen, "file '%.200s': data blob %s is not in the repository", e->name, hex);
                    rc = -ENOENT;
                }
            }
        }
    }
    tree_free(t);
    return rc;
}

int eng_remote_commit(struct eng_remote_work *w, struct repo *repo, json_t *doc, char id_hex[REPO_ID_HEX_LEN + 1],
                      char *err, size_t errlen)
{
    const char *tree = json_string_value(json_object_get(doc, "tree"));
    repo_id_t root;
    uint64_t entries = 0;
    int rc;
    if (w->restore) {
        snprintf(err, errlen, "work %s is a restore: it writes no snapshot", w->id);
        return -EINVAL;
    }
    if (w->snapshot[0]) {
        snprintf(err, errlen, "this work has a snapshot already (%s)", w->snapshot);
        return -EALREADY;
    }
    if (!json_is_object(doc) || !tree || repo_id_from_hex(tree, &root) != 0) {
        snprintf(err, errlen, "the snapshot document must be an object whose \"tree\" is a tree id");
        return -EINVAL;
    }
    if ((rc = verify_tree(w, repo, &root, 0, &entries, err, errlen)) != 0) return rc;
    json_object_update(doc, w->meta); /* the job's tags win over whatever the agent wrote */
    json_object_set_new(doc, "parent", w->parent[0] ? json_string(w->parent) : json_null());
    rc = repo_snapshot_write_since(repo, doc, w->epoch, id_hex);
    if (rc == -ESTALE) {
        snprintf(err, errlen, "a pack could not be sealed during the backup (disk full?): the snapshot is not "
                 "written; the run retries");
        return rc;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot write the snapshot: %s", strerror(-rc));
        return rc;
    }
    pthread_mutex_lock(&g_mu);
    snprintf(w->snapshot, sizeof w->snapshot, "%s", id_hex);
    pthread_mutex_unlock(&g_mu);
    log_info("remote backup %s: snapshot %s written (%llu entries checked)", w->id, id_hex, (unsigned long long)entries);
    return 0;
}

int eng_remote_finish(struct eng_remote_work *w, const json_t *result, const char *failure, char *err, size_t errlen)
{
    int rc = 0;
    pthread_mutex_lock(&g_mu);
    if (failure) {
        snprintf(w->failure, sizeof w->failure, "%s", failure);
        w->state = W_FAILED;
    } else if (!w->restore && !w->snapshot[0]) {
        snprintf(err, errlen, "the work has no committed snapshot: commit it first");
        rc = -EINVAL;
    } else {
        json_decref(w->result);
        w->result = json_deep_copy(result);
        w->state = W_DONE;
    }
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    return rc;
}

void eng_remote_cancel_connector(const char *tenant, const char *connector)
{
    pthread_mutex_lock(&g_mu);
    for (struct eng_remote_work *w = g_list; w; w = w->next) {
        if (strcmp(w->tenant, tenant) != 0 || strcmp(w->connector, connector) != 0) continue;
        if (w->state == W_QUEUED || w->state == W_TAKEN) {
            w->state = W_ENDED;
            snprintf(w->failure, sizeof w->failure, "coffer-agent connector %s was deleted (its credential revoked)",
                     connector);
        }
    }
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

void eng_remote_counters(uint64_t *received, uint64_t *added)
{
    pthread_mutex_lock(&g_mu);
    *received = g_received;
    *added = g_added;
    pthread_mutex_unlock(&g_mu);
}

/* ---- PostgreSQL through the agent (remote.h "PostgreSQL") ---- */

static json_t *pg_take_item(const struct eng_remote_work *w)
{
    char idk[65], chk[65];
    json_t *item;
    if (w->pg == WORK_PG_RESTORE)
        return json_pack("{s:s,s:s,s:O,s:{s:I,s:I,s:I}}", "id", w->id, "kind", "pg_restore", "pg_restore", w->pg_spec,
                         "keys", "cmin", (json_int_t)w->keys.cmin, "cavg", (json_int_t)w->keys.cavg, "cmax",
                         (json_int_t)w->keys.cmax);
    util_hex_encode(w->keys.id_key, sizeof w->keys.id_key, idk);
    util_hex_encode(w->keys.chunk_key, sizeof w->keys.chunk_key, chk);
    item = json_pack("{s:s,s:s,s:O,s:s?,s:{s:s,s:s,s:I,s:I,s:I}}", "id", w->id, "kind", "pg_backup", "pg", w->pg_spec,
                     "parent", w->parent[0] ? w->parent : NULL, "keys", "id_key", idk, "chunk_key", chk, "cmin",
                     (json_int_t)w->keys.cmin, "cavg", (json_int_t)w->keys.cavg, "cmax", (json_int_t)w->keys.cmax);
    OPENSSL_cleanse(idk, sizeof idk);
    OPENSSL_cleanse(chk, sizeof chk);
    return item;
}

static struct eng_remote_work *work_new(const char *tenant, const char *connector)
{
    struct eng_remote_work *w = calloc(1, sizeof *w);
    unsigned char rnd[16];
    if (!w) return NULL;
    if (RAND_bytes(rnd, sizeof rnd) != 1 || !(w->tenant = strdup(tenant)) || !(w->connector = strdup(connector))) {
        work_free(w);
        return NULL;
    }
    util_hex_encode(rnd, sizeof rnd, w->id);
    return w;
}

static int64_t res_i(const json_t *r, const char *k) { return (int64_t)res_u(r, k); }

/* remote_pg_backup: mover_sql.base_backup for an instance on an agent's host: the work carries the
 * conninfo (the agent connects through the host's own socket), the label and the parent; the agent
 * runs eng_pg_backup there. Figures and LSNs come from the agent's result, the inventory too. */
static int remote_pg_backup(struct repo *repo, const struct eng_pg_backup_opts *o, struct eng_pg_backup_result *out,
                            char *err, size_t errlen)
{
    const char *conn = json_string_value(json_object_get(o->snapshot_meta, ENG_REMOTE_META_CONNECTOR));
    const char *tenant = json_string_value(json_object_get(o->snapshot_meta, "tenant"));
    struct eng_remote_work *w;
    uint64_t ticket, t0 = util_time_mono();
    int rc;
    memset(out, 0, sizeof *out);
    if (!(out->warnings = json_array())) return -ENOMEM;
    if (!conn || !tenant || !o->conninfo) {
        snprintf(err, errlen, "the remote PostgreSQL backup needs the agent's connector, the tenant and a connection");
        return -EINVAL;
    }
    if (!(w = work_new(tenant, conn))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    w->pg = WORK_PG_BACKUP;
    w->meta = json_deep_copy(o->snapshot_meta);
    w->pg_spec = json_pack("{s:s,s:s}", "conninfo", o->conninfo, "label", o->label ? o->label : "coffer");
    repo_writer_keys_get(repo, &w->keys);
    if (!w->meta || !w->pg_spec) {
        work_free(w);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    w->epoch = repo_write_epoch(repo);
    ticket = repo_writer_begin(repo);
    work_parent(repo, o->parent_snapshot_id, w, "base backup");
    rc = run_work(w, o->cancel, o->progress, o->progress_ctx, "PostgreSQL base backup", err, errlen);
    if (rc == 0) {
        const json_t *r = w->result;
        const char *v;
        snprintf(out->snapshot_id, sizeof out->snapshot_id, "%s", w->snapshot);
        if ((v = json_string_value(json_object_get(r, "start_lsn")))) snprintf(out->start_lsn, sizeof out->start_lsn, "%s", v);
        if ((v = json_string_value(json_object_get(r, "stop_lsn")))) snprintf(out->stop_lsn, sizeof out->stop_lsn, "%s", v);
        if ((v = json_string_value(json_object_get(r, "data_directory"))))
            snprintf(out->data_directory, sizeof out->data_directory, "%s", v);
        out->timeline = (unsigned)res_u(r, "timeline");
        out->server_version_num = (int)res_i(r, "server_version_num");
        out->files = res_u(r, "files");
        out->files_unchanged = res_u(r, "files_unchanged");
        out->logical_bytes = res_u(r, "logical_bytes");
        out->bytes_read = res_u(r, "bytes_read");
        out->data_bytes_read = res_u(r, "data_bytes_read");
        out->wal_bytes = res_u(r, "wal_bytes");
        out->bytes_added = w->bytes_added;
        if (json_is_array(json_object_get(r, "warnings")))
            json_array_extend(out->warnings, json_object_get(r, "warnings"));
        if (json_is_array(json_object_get(r, "inventory")))
            out->inventory = json_deep_copy(json_object_get(r, "inventory"));
    }
    repo_writer_end(repo, ticket);
    eng_remote_unref(w);
    out->usecs = (uint64_t)(util_time_mono() - (int64_t)t0);
    return rc;
}

const struct mover_sql mover_remote_pg = {
    .base_backup = remote_pg_backup,
};

int eng_remote_stage(struct eng_remote_work *w, struct repo *repo, json_t *doc, char id_hex[REPO_ID_HEX_LEN + 1],
                     char *err, size_t errlen)
{
    const char *tree = json_string_value(json_object_get(doc, "tree"));
    struct tree_set s = { 0 };
    repo_id_t root, *merged;
    uint64_t entries = 0;
    unsigned char rnd[REPO_ID_LEN];
    int rc;
    if (w->pg != WORK_PG_BACKUP) {
        snprintf(err, errlen, "work %s is not a PostgreSQL base backup: it stages nothing", w->id);
        return -EINVAL;
    }
    if (w->staged[0] || w->snapshot[0]) {
        snprintf(err, errlen, "this work has staged its first run already");
        return -EALREADY;
    }
    if (!json_is_object(doc) || !tree || repo_id_from_hex(tree, &root) != 0) {
        snprintf(err, errlen, "the snapshot document must be an object whose \"tree\" is a tree id");
        return -EINVAL;
    }
    /* checked as a commit is; its trees then count as the work's own (the final run grafts from them) */
    if ((rc = verify_tree(w, repo, &root, 0, &entries, err, errlen)) != 0) return rc;
    if ((rc = collect_trees(repo, &root, &s, NULL, NULL, 0)) != 0) {
        free(s.v);
        snprintf(err, errlen, "cannot walk the staged trees: %s", strerror(-rc));
        return rc;
    }
    pthread_mutex_lock(&g_mu);
    merged = realloc(s.v, (s.n + w->ntrees + 1) * sizeof *merged);
    if (merged) {
        if (w->ntrees) memcpy(merged + s.n, w->trees, w->ntrees * sizeof *merged);
        qsort(merged, s.n + w->ntrees, sizeof *merged, id_cmp);
        free(w->trees);
        w->trees = merged;
        w->ntrees += s.n;
        w->staged_doc = json_deep_copy(doc);
        RAND_bytes(rnd, sizeof rnd);
        util_hex_encode(rnd, sizeof rnd, w->staged);
        snprintf(id_hex, REPO_ID_HEX_LEN + 1, "%s", w->staged);
    }
    pthread_mutex_unlock(&g_mu);
    if (!merged) {
        free(s.v);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    log_info("remote base backup %s: first run staged as %.16s (%llu entries checked)", w->id, id_hex,
             (unsigned long long)entries);
    return 0;
}

int eng_remote_pg_restore(struct repo *repo, const char *tenant, const char *connector, const char *snapshot_id,
                          const char *data_dir, int port, volatile int *cancel, struct eng_remote_pg_restored *out,
                          char *err, size_t errlen)
{
    struct eng_remote_work *w;
    int rc;
    memset(out, 0, sizeof *out);
    if (!(w = work_new(tenant, connector))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    w->restore = 1;
    w->pg = WORK_PG_RESTORE;
    w->pg_spec = json_pack("{s:s,s:s,s:i}", "snapshot", snapshot_id, "data_dir", data_dir, "port", port);
    repo_writer_keys_get(repo, &w->keys);
    memset(w->keys.id_key, 0, sizeof w->keys.id_key);
    memset(w->keys.chunk_key, 0, sizeof w->keys.chunk_key);
    if (!w->pg_spec) {
        work_free(w);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if ((rc = restore_scope(repo, snapshot_id, NULL, 0, w)) != 0) { /* the whole instance */
        char dbuf[512];
        snprintf(err, errlen, "cannot read snapshot %.64s: %s", snapshot_id, eng_damage_text(rc, dbuf, sizeof dbuf));
        work_free(w);
        return rc == -ENOENT ? -EBADMSG : rc;
    }
    snprintf(w->parent, sizeof w->parent, "%s", snapshot_id);
    rc = run_work(w, cancel, NULL, NULL, "PostgreSQL restore", err, errlen);
    if (rc == 0) {
        const json_t *r = w->result;
        const char *v;
        out->files = res_u(r, "files");
        out->bytes = res_u(r, "bytes");
        out->port = (int)res_u(r, "port");
        if ((v = json_string_value(json_object_get(r, "data_dir")))) snprintf(out->data_dir, sizeof out->data_dir, "%s", v);
        if ((v = json_string_value(json_object_get(r, "sock_dir")))) snprintf(out->sock_dir, sizeof out->sock_dir, "%s", v);
    }
    eng_remote_unref(w);
    return rc;
}
