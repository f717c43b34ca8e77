/* repo.c: the repository's front door: create, open, close, the blob operations and flush.
 *
 * Objects, all through the storage backend (backend.h; the local directory one is
 * backend_local.c):
 *   config                 plain JSON: format version, feature flags, chunker parameters, ids
 *   keys/<hex>             the master keys wrapped under a key file (keys.c)
 *   packs <hex>            sealed packs, named by the SHA-256 of their bytes (pack.c)
 *   index/<hex>            index objects (index.c)
 *   snapshots/<hex>        snapshots (snapshot.c)
 *   damaged/<hex>          parts of the damaged-blob list (damage.c)
 * Opening loads every index object, then lists the packs for ones no index names (a crash between
 * a pack's commit and its index) and indexes them from their trailers, then loads the damaged-blob
 * list (damage.c) and makes the index prefer good copies. A put checks the index (a concurrent put
 * of the same id waits for the first to finish instead of storing it twice; a copy on the damaged
 * list or in a missing pack counts as absent, so it is stored again), compresses and encrypts on
 * the caller's thread and appends through pack.c. A read that finds damage records it (damage.c)
 * and leaves a sentence naming the blob and pack for repo_damage_last. */
#include "repo/repo_int.h"
#include "util/log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#define CONFIG_MAX (64 * 1024)

/* ---- config ---- */

static json_t *config_new(const repo_id_t *repo_id)
{
    char hex[REPO_ID_HEX_LEN + 1];
    repo_id_to_hex(repo_id, hex);
    return json_pack("{s:i, s:s, s:{s:[], s:[]}, s:{s:s, s:I, s:I, s:I}, s:I, s:s, s:s, s:s}",
                     "version", REPO_FORMAT_VERSION, "id", hex,
                     "features", "required", "optional",
                     "chunker", "algorithm", "fastcdc-nc2", "min", (json_int_t)REPO_CHUNK_MIN,
                     "avg", (json_int_t)REPO_CHUNK_AVG, "max", (json_int_t)REPO_CHUNK_MAX,
                     "pack_size", (json_int_t)REPO_PACK_TARGET_DEFAULT,
                     "compression", "zstd", "cipher", "aes-256-gcm", "blob_id", "hmac-sha256");
}

static int config_load(struct repo *repo, char *err, size_t errlen)
{
    char path[4200];
    void *data = NULL;
    size_t len = 0;
    json_t *doc, *required = NULL, *optional = NULL;
    json_int_t version = 0, cmin = 0, cavg = 0, cmax = 0, pack_size = 0;
    const char *id_hex = NULL, *algo = NULL, *comp = NULL, *cipher = NULL, *bid = NULL;
    json_error_t jerr;
    size_t i;
    json_t *v;
    int rc;
    if (repo->be->ops->where(repo->be, REPO_OBJ_ROOT, "config", path, sizeof path) < 0)
        snprintf(path, sizeof path, "config");
    rc = repo->be->ops->get_all(repo->be, REPO_OBJ_ROOT, "config", CONFIG_MAX, &data, &len);
    if (rc == -ENOENT) {
        repo_seterr(err, errlen, "no repository at %s (config is missing)", repo->dir);
        return rc;
    }
    if (rc < 0) {
        repo_seterr(err, errlen, "cannot read %s: %s", path, strerror(-rc));
        return rc;
    }
    doc = json_loadb(data, len, 0, &jerr);
    free(data);
    if (!doc) {
        repo_seterr(err, errlen, "%s is not JSON: %s", path, jerr.text);
        return -EBADMSG;
    }
    if (json_unpack(doc, "{s:I}", "version", &version) != 0) {
        json_decref(doc);
        repo_seterr(err, errlen, "%s has no version", path);
        return -EBADMSG;
    }
    if (version != REPO_FORMAT_VERSION) {
        json_decref(doc);
        repo_seterr(err, errlen, "repository format version %lld is not supported (this build "
                    "reads version %d)", (long long)version, REPO_FORMAT_VERSION);
        return -ENOTSUP;
    }
    if (json_unpack_ex(doc, &jerr, 0,
                       "{s:s, s:{s:o, s?o}, s:{s:s, s:I, s:I, s:I}, s:I, s:s, s:s, s:s}", "id",
                       &id_hex, "features", "required", &required, "optional", &optional,
                       "chunker", "algorithm", &algo, "min", &cmin, "avg", &cavg, "max", &cmax,
                       "pack_size", &pack_size, "compression", &comp, "cipher", &cipher,
                       "blob_id", &bid) != 0 ||
        repo_id_from_hex(id_hex, &repo->repo_id) < 0 || !json_is_array(required)) {
        json_decref(doc);
        repo_seterr(err, errlen, "%s is malformed: %s", path, jerr.text);
        return -EBADMSG;
    }
    json_array_foreach(required, i, v) {
        /* Version 1 knows no required feature: any listed one is beyond this build. */
        repo_seterr(err, errlen, "repository needs feature \"%s\" which this build lacks",
                    json_is_string(v) ? json_string_value(v) : "?");
        json_decref(doc);
        return -ENOTSUP;
    }
    if (strcmp(algo, "fastcdc-nc2") != 0 || strcmp(comp, "zstd") != 0 ||
        strcmp(cipher, "aes-256-gcm") != 0 || strcmp(bid, "hmac-sha256") != 0 ||
        cmin <= 0 || cavg <= 0 || cmax <= 0 || cmax > REPO_BLOB_MAX ||
        pack_size < (1 << 20) || pack_size > (1 << 30)) {
        json_decref(doc);
        repo_seterr(err, errlen, "%s names algorithms or sizes this build does not support", path);
        return -ENOTSUP;
    }
    repo->cmin = (uint32_t)cmin;
    repo->cavg = (uint32_t)cavg;
    repo->cmax = (uint32_t)cmax;
    repo->pack_target = (uint32_t)pack_size;
    json_decref(doc);
    return 0;
}

/* ---- create / open / close ---- */

int repo_backend_for(const char *location, const char *cache_dir, struct repo_backend **be, char *err,
                     size_t errlen)
{
    struct repo_s3_config cfg;
    int rc;
    *be = NULL;
    if (strncmp(location, "s3://", 5) != 0) {
        rc = repo_backend_local_new(location, be);
        if (rc < 0) repo_seterr(err, errlen, rc == -ENAMETOOLONG ? "repository path is too long" : "out of memory");
        return rc;
    }
    if ((rc = repo_s3_config_from_env(location, cache_dir, &cfg, err, errlen)) < 0) return rc;
    rc = repo_backend_s3_new(&cfg, be, err, errlen);
    repo_s3_config_clear(&cfg);
    return rc;
}

int repo_create(const char *dir, const char *key_file, char *err, size_t errlen)
{
    struct repo_backend *be = NULL;
    int rc = repo_backend_local_new(dir, &be);
    if (rc < 0) {
        repo_seterr(err, errlen, rc == -ENAMETOOLONG ? "repository path is too long"
                                                     : "out of memory");
        return rc;
    }
    rc = repo_create_be(be, dir, key_file, err, errlen);
    repo_backend_destroy(be);
    return rc;
}

int repo_create_be(struct repo_backend *be, const char *dir, const char *key_file, char *err, size_t errlen)
{
    uint8_t master[3 * REPO_KEY_LEN];
    repo_id_t repo_id;
    uint64_t size;
    json_t *cfg;
    char *text;
    int rc;
    if (be->ops->stat(be, REPO_OBJ_ROOT, "config", &size) == 0) {
        repo_seterr(err, errlen, "%s already holds a repository", dir);
        rc = -EEXIST;
        goto out;
    }
    rc = be->ops->create(be);
    if (rc < 0) {
        repo_seterr(err, errlen, "cannot create the directories of %s: %s", dir, strerror(-rc));
        goto out;
    }
    if (repo_random(repo_id.b, sizeof repo_id.b) < 0 || repo_random(master, sizeof master) < 0) {
        repo_seterr(err, errlen, "no randomness available");
        rc = -EIO;
        goto out;
    }
    rc = repo_keys_create(be, key_file, &repo_id, master, err, errlen);
    OPENSSL_cleanse(master, sizeof master);
    if (rc < 0) goto out;
    /* The config appears last: until it exists, the directory is not a repository. Put if
     * absent: of two concurrent creations one wins, the other is told. */
    cfg = config_new(&repo_id);
    text = cfg ? json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(cfg);
    if (!text) {
        rc = -ENOMEM;
        goto out;
    }
    rc = be->ops->put(be, REPO_OBJ_ROOT, "config", text, strlen(text));
    free(text);
    if (rc == -EEXIST) repo_seterr(err, errlen, "%s already holds a repository", dir);
    else if (rc < 0) repo_seterr(err, errlen, "cannot write %s/config: %s", dir, strerror(-rc));
out:
    return rc;
}

static void repo_free(struct repo *repo)
{
    if (!repo) return;
    repo_pack_close_all(repo);
    repo_backend_destroy(repo->be);
    repo_itab_free(&repo->idx);
    repo_dmg_free(repo);
    pthread_mutex_destroy(&repo->dmg_save_mu);
    pthread_mutex_destroy(&repo->maint_mu);
    pthread_mutex_destroy(&repo->miss_mu);
    free(repo->writers);
    free(repo->ixn);
    pthread_mutex_destroy(&repo->mu);
    pthread_mutex_destroy(&repo->flush_mu);
    pthread_cond_destroy(&repo->cv);
    OPENSSL_cleanse(repo->id_key, sizeof repo->id_key);
    OPENSSL_cleanse(repo->enc_key, sizeof repo->enc_key);
    OPENSSL_cleanse(repo->chunk_key, sizeof repo->chunk_key);
    free(repo->dir);
    free(repo);
}

int repo_open(const char *dir, const char *key_file, struct repo **out, char *err, size_t errlen)
{
    struct repo_backend *be = NULL;
    int rc = repo_backend_local_new(dir, &be);
    *out = NULL;
    if (rc < 0) {
        repo_seterr(err, errlen, "cannot open %s: %s", dir, strerror(-rc));
        return rc;
    }
    return repo_open_be(be, dir, key_file, out, err, errlen);
}

int repo_open_be(struct repo_backend *be, const char *dir, const char *key_file, struct repo **out, char *err,
                 size_t errlen)
{
    struct repo *repo = calloc(1, sizeof *repo);
    uint8_t master[3 * REPO_KEY_LEN];
    int rc;
    *out = NULL;
    if (!repo) {
        repo_backend_destroy(be);
        return -ENOMEM;
    }
    repo->be = be;
    repo->dir = strdup(dir);
    repo->open_pack = -1;
    pthread_mutex_init(&repo->mu, NULL);
    pthread_mutex_init(&repo->flush_mu, NULL);
    pthread_mutex_init(&repo->dmg_save_mu, NULL);
    pthread_mutex_init(&repo->maint_mu, NULL);
    pthread_mutex_init(&repo->miss_mu, NULL);
    pthread_cond_init(&repo->cv, NULL);
    if (!repo->dir || repo_itab_init(&repo->idx, 0) < 0) {
        repo_free(repo);
        return -ENOMEM;
    }
    rc = config_load(repo, err, errlen);
    if (rc == 0) rc = repo_keys_unlock(repo->be, dir, key_file, &repo->repo_id, master, err,
                                       errlen);
    if (rc < 0) {
        repo_free(repo);
        return rc;
    }
    memcpy(repo->id_key, master, REPO_KEY_LEN);
    memcpy(repo->enc_key, master + REPO_KEY_LEN, REPO_KEY_LEN);
    memcpy(repo->chunk_key, master + 2 * REPO_KEY_LEN, REPO_KEY_LEN);
    OPENSSL_cleanse(master, sizeof master);
    rc = repo_chunker_init(repo, repo->cmin, repo->cavg, repo->cmax);
    if (rc < 0) {
        repo_seterr(err, errlen, "invalid chunker parameters in %s/config", dir);
        repo_free(repo);
        return rc;
    }
    repo->be->ops->clean(repo->be);
    rc = repo_index_load_all(repo, repo_pack_index_loaded, NULL, err, errlen);
    if (rc == 0) rc = repo_pack_scan_unindexed(repo, err, errlen);
    if (rc == 0) {
        rc = repo_write_pending_index(repo);
        if (rc < 0) repo_seterr(err, errlen, "cannot index recovered packs: %s", strerror(-rc));
    }
    if (rc == 0) {
        rc = repo_dmg_load(repo);
        if (rc < 0) repo_seterr(err, errlen, "cannot load the damaged-blob list: %s", strerror(-rc));
    }
    if (rc == 0) repo_damage_prefer_good(repo); /* sole owner: no lock needed yet */
    if (rc < 0) {
        repo_free(repo);
        return rc;
    }
    *out = repo;
    return 0;
}

void repo_close(struct repo *repo)
{
    int rc;
    if (!repo) return;
    if (repo->remote) {
        repo_remote_free(repo);
        return;
    }
    rc = repo_flush(repo);
    if (rc < 0) log_error("repo: flush on close of %s failed: %s", repo->dir, strerror(-rc));
    repo_free(repo);
}

/* ---- blobs ---- */

void repo_blob_id(const struct repo *repo, const void *data, size_t len, repo_id_t *out)
{
    repo_hmac_id(repo->id_key, data, len, out);
}

void repo_blob_aad(uint8_t aad[REPO_ID_LEN + 2], const repo_id_t *id, uint8_t type, uint8_t flags)
{
    memcpy(aad, id->b, REPO_ID_LEN);
    aad[REPO_ID_LEN] = type;
    aad[REPO_ID_LEN + 1] = flags;
}

/* pack_live: a writer may deduplicate against a stored copy in this pack (lock held). Copies in
 * packs that went missing, failed to seal, or that a prune condemned or deleted do not count, so
 * the next backup stores that data again. */
static int pack_live(const struct repo *repo, uint32_t pack)
{
    uint8_t st;
    if (pack >= repo->npacks || repo->packs[pack].condemned) return 0;
    st = repo->packs[pack].state;
    return st != REPO_PACK_MISSING && st != REPO_PACK_FAILED && st != REPO_PACK_DELETED;
}

/* ---- writers (for prune) ---- */

uint64_t repo_writer_begin(struct repo *repo)
{
    uint64_t t;
    if (repo->remote) return 0; /* the server's side of the agent protocol holds the writer ticket */
    pthread_mutex_lock(&repo->mu);
    t = ++repo->writer_seq;
    if (repo->nwriters == repo->writers_cap) {
        size_t ncap = repo->writers_cap ? repo->writers_cap * 2 : 16;
        uint64_t *nw = realloc(repo->writers, ncap * sizeof *nw);
        if (!nw) { /* cannot track it: a prune then waits for every writer (see prune.c) */
            pthread_mutex_unlock(&repo->mu);
            return 0;
        }
        repo->writers = nw;
        repo->writers_cap = ncap;
    }
    repo->writers[repo->nwriters++] = t;
    pthread_mutex_unlock(&repo->mu);
    return t;
}

void repo_writer_end(struct repo *repo, uint64_t ticket)
{
    if (ticket == 0) return;
    pthread_mutex_lock(&repo->mu);
    for (size_t k = 0; k < repo->nwriters; k++) {
        if (repo->writers[k] != ticket) continue;
        repo->writers[k] = repo->writers[--repo->nwriters];
        pthread_cond_broadcast(&repo->cv);
        break;
    }
    pthread_mutex_unlock(&repo->mu);
}

/* Per-thread scratch for the encoded blob: a fresh 1 MiB malloc per put costs page faults
 * (mmap'd chunks are zeroed by the kernel on first touch) that showed up as ~10% of put time. */
#define SCRATCH_KEEP ((size_t)16 << 20)
struct scratch { uint8_t *p; size_t cap; };
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_scratch_key;

static void scratch_free(void *v)
{
    struct scratch *s = v;
    if (s) free(s->p);
    free(s);
}

static void scratch_once(void) { pthread_key_create(&g_scratch_key, scratch_free); }

/* scratch_get: a buffer of at least len bytes; *owned is set when the caller must free it. */
static uint8_t *scratch_get(size_t len, int *owned)
{
    struct scratch *s;
    *owned = 0;
    pthread_once(&g_scratch_once, scratch_once);
    s = pthread_getspecific(g_scratch_key);
    if (len > SCRATCH_KEEP) {
        *owned = 1;
        return malloc(len);
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(g_scratch_key, s) != 0) {
            free(s);
            *owned = 1;
            return malloc(len);
        }
    }
    if (s->cap < len) {
        size_t ncap = len < ((size_t)2 << 20) ? ((size_t)2 << 20) : len;
        uint8_t *np = malloc(ncap);
        if (!np) return NULL;
        free(s->p);
        s->p = np;
        s->cap = ncap;
    }
    return s->p;
}

/* tree_cache_key: the backend cache's key of a tree blob (backend.h cache_get). */
static void tree_cache_key(const repo_id_t *id, char key[REPO_ID_HEX_LEN + 8])
{
    memcpy(key, "tree-", 5);
    repo_id_to_hex(id, key + 5);
}

int repo_blob_put(struct repo *repo, enum repo_blob_type type, const repo_id_t *id,
                  const void *data, size_t len, size_t *added_bytes)
{
    struct repo_pentry e;
    uint8_t aad[REPO_ID_LEN + 2], *buf;
    size_t cap, body;
    int rc, owned = 0;
    if (added_bytes) *added_bytes = 0;
    if (type != REPO_BLOB_DATA && type != REPO_BLOB_TREE) return -EINVAL;
    if (len > REPO_BLOB_MAX) return -EFBIG;
    if (len && !data) return -EINVAL;
    if (repo->remote) return repo->remote->put(repo->remote_ctx, type, id, data, len, added_bytes);

    pthread_mutex_lock(&repo->mu);
    for (;;) {
        uint32_t pack = 0;
        rc = repo_itab_claim(&repo->idx, id, &pack);
        if (rc == REPO_ITAB_STORED && (!pack_live(repo, pack) || repo_dmg_listed(repo, id, pack)))
            rc = repo_itab_reclaim(&repo->idx, id); /* lost or damaged copy: store it again */
        if (rc < 0 || rc == REPO_ITAB_STORED) {    /* error, or already stored */
            pthread_mutex_unlock(&repo->mu);
            return rc < 0 ? rc : 0;
        }
        if (rc != REPO_ITAB_PENDING) break;        /* ours to store: now pending */
        pthread_cond_wait(&repo->cv, &repo->mu);   /* another thread is storing it */
    }
    pthread_mutex_unlock(&repo->mu);

    cap = repo_zstd_bound(len);
    if (cap < len) cap = len;
    buf = scratch_get(REPO_AEAD_OVERHEAD + cap, &owned);
    if (!buf) {
        rc = -ENOMEM;
        goto fail;
    }
    memset(&e, 0, sizeof e);
    e.id = *id;
    e.type = (uint8_t)type;
    e.plain = (uint32_t)len;
    body = repo_zstd_compress(buf + REPO_NONCE_LEN, cap, data, len);
    if (body) {
        e.flags = REPO_BLOB_F_ZSTD;
    } else {
        if (len) memcpy(buf + REPO_NONCE_LEN, data, len);
        body = len;
    }
    repo_blob_aad(aad, id, e.type, e.flags);
    rc = repo_aead_seal(repo->enc_key, aad, sizeof aad, buf, body);
    if (rc < 0) goto fail;
    e.stored = (uint32_t)(body + REPO_AEAD_OVERHEAD);
    if (type == REPO_BLOB_TREE && repo->be->ops->cache_put) { /* read again by the next backup */
        char key[REPO_ID_HEX_LEN + 8];
        tree_cache_key(id, key);
        repo->be->ops->cache_put(repo->be, key, buf, e.stored);
    }
    rc = repo_pack_append(repo, &e, buf, NULL); /* resolves the pending entry either way */
    if (owned) free(buf);
    if (rc == 0 && added_bytes) *added_bytes = e.stored;
    return rc;

fail:
    if (owned) free(buf);
    pthread_mutex_lock(&repo->mu);
    repo_itab_remove(&repo->idx, id);
    pthread_cond_broadcast(&repo->cv);
    pthread_mutex_unlock(&repo->mu);
    return rc;
}

int repo_blob_exists(struct repo *repo, const repo_id_t *id)
{
    uint32_t pack = 0;
    int yes;
    if (repo->remote) return repo->remote->exists(repo->remote_ctx, id) == 1;
    pthread_mutex_lock(&repo->mu);
    yes = repo_itab_lookup(&repo->idx, id, &pack, NULL) == REPO_ITAB_STORED &&
          pack_live(repo, pack) && !repo_dmg_listed(repo, id, pack);
    pthread_mutex_unlock(&repo->mu);
    return yes;
}

/* lookup: the index's record; e->plain is REPO_PLAIN_UNKNOWN for a compressed blob. A blob being
 * stored again (its copy was damaged or lost) is waited for, as a second put of it would be. */
static int lookup(struct repo *repo, const repo_id_t *id, struct repo_pentry *e, uint32_t *pack)
{
    int st;
    pthread_mutex_lock(&repo->mu);
    while ((st = repo_itab_lookup(&repo->idx, id, pack, e)) == REPO_ITAB_PENDING)
        pthread_cond_wait(&repo->cv, &repo->mu);
    pthread_mutex_unlock(&repo->mu);
    return st == REPO_ITAB_STORED ? 0 : -ENOENT;
}

int repo_blob_locate(struct repo *repo, const repo_id_t *id, uint32_t *pack_no, uint64_t *offset,
                     uint32_t *stored_len, uint32_t *plain_len)
{
    struct repo_pentry e;
    uint32_t pack = 0;
    int rc = repo->remote ? -ENOENT : lookup(repo, id, &e, &pack); /* a remote handle has no index */
    if (rc < 0) return rc;
    if (pack_no) *pack_no = pack;
    if (offset) *offset = e.offset;
    if (stored_len) *stored_len = e.stored;
    if (plain_len && e.plain == REPO_PLAIN_UNKNOWN) { /* not in memory: read the blob */
        void *data = NULL;
        size_t len = 0;
        rc = repo_blob_get(repo, id, &data, &len);
        free(data);
        if (rc < 0) return rc;
        e.plain = (uint32_t)len;
    }
    if (plain_len) *plain_len = e.plain;
    return 0;
}

/* blob_open: authenticates and decrypts a stored blob in place (its body then follows the nonce). */
static int blob_open(const struct repo *repo, const struct repo_pentry *e, uint8_t *stored)
{
    uint8_t aad[REPO_ID_LEN + 2];
    if (e->stored < REPO_AEAD_OVERHEAD) return -EBADMSG;
    repo_blob_aad(aad, &e->id, e->type, e->flags);
    return repo_aead_open(repo->enc_key, aad, sizeof aad, stored, e->stored);
}

/* blob_decode: repo_blob_decode; check_id 0 leaves out the recomputed id (repo_blob_get_fast). */
static int blob_decode(const struct repo *repo, struct repo_pentry *e, uint8_t *stored, void **data,
                       int check_id)
{
    size_t body = e->stored - REPO_AEAD_OVERHEAD;
    uint8_t *out;
    repo_id_t check;
    int rc = blob_open(repo, e, stored);
    if (rc < 0) return rc;
    if (e->plain == REPO_PLAIN_UNKNOWN && (e->flags & REPO_BLOB_F_ZSTD)) {
        void *o = NULL; /* the index does not keep the length: the frame gives it */
        size_t n = 0;
        rc = repo_zstd_decompress_alloc(stored + REPO_NONCE_LEN, body, REPO_BLOB_MAX, &o, &n);
        if (rc < 0) return rc;
        out = o;
        e->plain = (uint32_t)n;
    } else {
        if (e->plain == REPO_PLAIN_UNKNOWN) e->plain = (uint32_t)body;
        out = malloc(e->plain ? e->plain : 1);
        if (!out) return -ENOMEM;
        if (e->flags & REPO_BLOB_F_ZSTD)
            rc = repo_zstd_decompress(out, e->plain, stored + REPO_NONCE_LEN, body);
        else if (body != e->plain)
            rc = -EBADMSG;
        else if (body)
            memcpy(out, stored + REPO_NONCE_LEN, body);
    }
    if (rc == 0 && check_id) {
        repo_hmac_id(repo->id_key, out, e->plain, &check);
        if (memcmp(check.b, e->id.b, REPO_ID_LEN) != 0) rc = -EBADMSG;
    }
    if (rc < 0) {
        free(out);
        return rc;
    }
    *data = out;
    return 0;
}

/* blob_decode_into: blob_decode (without the id check) into dst, for a plaintext of exactly len
 * bytes; -EMSGSIZE (not damage) when the blob announces another length or none. */
static int blob_decode_into(const struct repo *repo, struct repo_pentry *e, uint8_t *stored, void *dst,
                            size_t len)
{
    size_t body = e->stored - REPO_AEAD_OVERHEAD;
    uint64_t fcs = 0;
    int rc = blob_open(repo, e, stored);
    if (rc < 0) return rc;
    if (e->flags & REPO_BLOB_F_ZSTD) {
        rc = repo_zstd_frame_size(stored + REPO_NONCE_LEN, body, &fcs);
        if (rc == -ENODATA || (rc == 0 && fcs != len)) return -EMSGSIZE;
        if (rc == 0) rc = repo_zstd_decompress(dst, len, stored + REPO_NONCE_LEN, body);
    } else if (body != len) {
        return -EMSGSIZE;
    } else if (len) {
        memcpy(dst, stored + REPO_NONCE_LEN, len);
    }
    if (rc == 0) e->plain = (uint32_t)len;
    return rc;
}

int repo_blob_decode(const struct repo *repo, struct repo_pentry *e, uint8_t *stored,
                     void **data)
{
    return blob_decode(repo, e, stored, data, 1);
}

/* pack_unreadable: the pack of a blob cannot be read (repo_pack_read's -ENOENT, -ENXIO, ...).
 * A pack whose object is gone is marked
 * missing (for this open; the next open finds it missing again), so puts store its blobs again.
 * Sets the thread's damage sentence; returns -EIO, or rc for a shortage of memory or fds. */
static int pack_unreadable(struct repo *repo, uint32_t pack, const repo_id_t *id, int rc)
{
    char bhex[REPO_ID_HEX_LEN + 1], phex[REPO_ID_HEX_LEN + 1] = "?";
    const char *what = "cannot be opened";
    if (rc == -ENOMEM || rc == -EMFILE || rc == -ENFILE) return rc;
    repo_id_to_hex(id, bhex);
    pthread_mutex_lock(&repo->mu);
    if (pack < repo->npacks) {
        struct repo_pack *p = &repo->packs[pack];
        repo_id_to_hex(&p->id, phex);
        if (rc == -ENOENT && p->state == REPO_PACK_SEALED && !p->w) {
            p->state = REPO_PACK_MISSING;
            p->gone_seq = repo->refresh_seq; /* a refresh numbered above it saw the pack gone */
            log_warn("repo: pack %s is missing from data/", phex);
        }
        if (p->state == REPO_PACK_MISSING) what = "is missing from the repository";
        else if (p->state == REPO_PACK_FAILED) what = "was never written completely";
    }
    pthread_mutex_unlock(&repo->mu);
    repo_damage_setf("pack %s %s (blob %.16s)", phex, what, bhex);
    return -EIO;
}

_Thread_local int repo_maint_held;

static int blob_check_once(struct repo *repo, const repo_id_t *id, uint32_t *tried);

/* MISS_TRIES: reads of one blob on a shared repository, each after a refresh (another process's
 * prune may move a blob again while this one reads). */
#define MISS_TRIES 3

/* miss_wait: after a read of id from pack tried failed with rc, whether to read again: 1 when the
 * index now names another copy or a refresh that can help ended well (repo->on_miss, refresh.c),
 * else 0. The refresh a read needs is one numbered above (repo_int.h refresh_seq): for a pack found
 * gone, its number when it was found gone (any later refresh listed index/ after the deletion, so
 * it saw the index file naming the new copy, which a prune writes first); otherwise the number now.
 * Nothing on a repository that is not shared, or while this thread holds maint_mu (no refresh can
 * run before it lets go). */
static int miss_wait(struct repo *repo, const repo_id_t *id, int rc, uint32_t tried)
{
    int (*on_miss)(struct repo *, uint64_t, int);
    uint64_t need;
    uint32_t pack = UINT32_MAX;
    if ((rc != -ENOENT && rc != -EIO) || repo_maint_held || repo->remote) return 0;
    pthread_mutex_lock(&repo->mu);
    on_miss = repo->on_miss;
    need = repo->refresh_seq;
    if (rc == -EIO && repo_itab_lookup(&repo->idx, id, &pack, NULL) == REPO_ITAB_STORED && pack < repo->npacks &&
        pack == tried && (repo->packs[pack].state == REPO_PACK_MISSING || repo->packs[pack].state == REPO_PACK_DELETED))
        need = repo->packs[pack].gone_seq;
    pthread_mutex_unlock(&repo->mu);
    if (!on_miss) return 0;
    if (rc == -EIO && pack != UINT32_MAX && pack != tried) return 1; /* another thread's refresh moved it */
    return on_miss(repo, need, rc == -ENOENT) == 1;
}

int repo_blob_check(struct repo *repo, const repo_id_t *id)
{
    int rc = 0;
    for (int k = 0; k < MISS_TRIES; k++) {
        uint32_t tried = UINT32_MAX;
        rc = blob_check_once(repo, id, &tried);
        if (k + 1 == MISS_TRIES || !miss_wait(repo, id, rc, tried)) break;
    }
    return rc;
}

static int blob_check_once(struct repo *repo, const repo_id_t *id, uint32_t *tried)
{
    struct repo_pentry e;
    uint64_t size = 0;
    uint32_t pack = 0;
    char bhex[REPO_ID_HEX_LEN + 1], phex[REPO_ID_HEX_LEN + 1] = "?";
    int listed, rc = lookup(repo, id, &e, &pack);
    repo_id_to_hex(id, bhex);
    if (rc < 0) {
        repo_damage_setf("blob %.16s is not in the repository's index", bhex);
        return rc;
    }
    *tried = pack;
    pthread_mutex_lock(&repo->mu);
    listed = repo_dmg_has(repo, id, pack);
    if (pack < repo->npacks) repo_id_to_hex(&repo->packs[pack].id, phex);
    pthread_mutex_unlock(&repo->mu);
    if (listed) {
        repo_damage_setf("blob %.16s in pack %s is damaged (found by an earlier read)", bhex, phex);
        return -EBADMSG;
    }
    if ((rc = repo_pack_size(repo, pack, &size)) < 0) return pack_unreadable(repo, pack, id, rc);
    if (size < (uint64_t)e.offset + e.stored) {
        repo_damage_record(repo, id, pack, "the pack is shorter than the index says");
        rc = -EBADMSG;
    }
    return rc;
}

/* struct blob_into: where blob_get puts the plaintext when the caller brings the buffer (dst, of
 * exactly len bytes); blob_get's callers without one pass NULL and get a malloc'd copy. */
struct blob_into {
    void *dst;
    size_t len;
};

static int blob_get_once(struct repo *repo, const repo_id_t *id, void **data, size_t *len, int check_id,
                         const struct blob_into *into, uint32_t *tried);

static int blob_get(struct repo *repo, const repo_id_t *id, void **data, size_t *len, int check_id,
                    const struct blob_into *into)
{
    int rc = 0;
    /* Another process may have written the blob (an index file this one has not read) or moved it
     * (its prune repacked it and deleted the pack this one's index names): wait for a refresh that
     * listed index/ after the miss and read again (miss_wait; docs/repository-format.md section 18). */
    for (int k = 0; k < MISS_TRIES; k++) {
        uint32_t tried = UINT32_MAX;
        rc = blob_get_once(repo, id, data, len, check_id, into, &tried);
        if (k + 1 == MISS_TRIES || !miss_wait(repo, id, rc, tried)) break;
    }
    return rc;
}

int repo_blob_get(struct repo *repo, const repo_id_t *id, void **data, size_t *len)
{
    return blob_get(repo, id, data, len, 1, NULL);
}

int repo_blob_get_fast(struct repo *repo, const repo_id_t *id, void **data, size_t *len)
{
    return blob_get(repo, id, data, len, 0, NULL);
}

int repo_blob_get_fast_into(struct repo *repo, const repo_id_t *id, void *dst, size_t len)
{
    struct blob_into into = { dst, len };
    void *data = NULL;
    size_t got = 0;
    return blob_get(repo, id, &data, &got, 0, &into);
}

static int blob_get_once(struct repo *repo, const repo_id_t *id, void **data, size_t *len, int check_id,
                         const struct blob_into *into, uint32_t *tried)
{
    struct repo_pentry e;
    uint32_t pack = 0;
    uint8_t *buf;
    int rc;
    *data = NULL;
    if (len) *len = 0;
    if (repo->remote) /* its blobs come as copies: the caller's ordinary read takes them */
        return into ? -EMSGSIZE : repo->remote->get(repo->remote_ctx, id, data, len);
    rc = lookup(repo, id, &e, &pack);
    if (rc < 0) {
        char hex[REPO_ID_HEX_LEN + 1];
        repo_id_to_hex(id, hex);
        repo_damage_setf("blob %.16s is not in the repository's index", hex);
        return rc;
    }
    *tried = pack;
    buf = malloc(e.stored);
    if (!buf) return -ENOMEM;
    if (!into && e.type == REPO_BLOB_TREE && repo->be->ops->cache_get) {
        /* a tree read again (a re-backup, a restore plan) comes from the backend's local cache;
         * a copy there that does not decode is ignored and the pack read */
        char key[REPO_ID_HEX_LEN + 8];
        tree_cache_key(id, key);
        if (repo->be->ops->cache_get(repo->be, key, buf, e.stored) == 0 &&
            repo_blob_decode(repo, &e, buf, data) == 0) {
            free(buf);
            if (len) *len = e.plain;
            return 0;
        }
    }
    rc = repo_pack_read(repo, pack, e.offset, buf, e.stored);
    if (rc == 0 && e.type == REPO_BLOB_TREE && repo->be->ops->cache_put) {
        char key[REPO_ID_HEX_LEN + 8];
        tree_cache_key(id, key);
        repo->be->ops->cache_put(repo->be, key, buf, e.stored);
    }
    if (rc < 0 && rc != -EIO) {
        free(buf);
        return pack_unreadable(repo, pack, id, rc);
    }
    if (rc == -EIO) {
        rc = -EBADMSG;
        repo_damage_record(repo, id, pack, "the pack is shorter than the index says, or unreadable");
    } else if (rc == 0 && into) {
        rc = blob_decode_into(repo, &e, buf, into->dst, into->len);
        if (rc == 0) *data = into->dst;
        if (rc == -EBADMSG)
            repo_damage_record(repo, id, pack, "authentication or decompression failed");
    } else if (rc == 0) {
        rc = blob_decode(repo, &e, buf, data, check_id);
        if (rc == -EBADMSG)
            repo_damage_record(repo, id, pack, "authentication, decompression or id check failed");
    }
    free(buf);
    if (rc == 0 && len) *len = e.plain;
    return rc;
}

/* ---- flush ---- */

/* repo_write_pending_index: one index object for every sealed pack not yet named by one, written
 * from the packs' trailers. */
int repo_write_pending_index(struct repo *repo)
{
    uint32_t *list = NULL;
    struct repo_index_pack *ips = NULL;
    size_t n = 0;
    char name[REPO_ID_HEX_LEN + 1];
    int rc = 0;
    pthread_mutex_lock(&repo->mu);
    for (uint32_t k = 0; k < repo->npacks; k++)
        if (repo->packs[k].state == REPO_PACK_SEALED && !repo->packs[k].indexed) n++;
    if (n && (!(list = malloc(n * sizeof *list)) || !(ips = calloc(n, sizeof *ips)))) {
        pthread_mutex_unlock(&repo->mu);
        free(list);
        return -ENOMEM;
    }
    n = 0;
    for (uint32_t k = 0; list && k < repo->npacks; k++)
        if (repo->packs[k].state == REPO_PACK_SEALED && !repo->packs[k].indexed) list[n++] = k;
    pthread_mutex_unlock(&repo->mu);
    if (n == 0) {
        free(list);
        return 0;
    }
    /* Callers serialise index writes (repo->flush_mu, or open), so the listed packs stay put. */
    for (size_t k = 0; k < n && rc == 0; k++) rc = repo_pack_trailer_of(repo, list[k], &ips[k]);
    if (rc == 0) rc = repo_index_write(repo, ips, n, name);
    if (rc == 0) {
        pthread_mutex_lock(&repo->mu);
        for (size_t k = 0; k < n; k++) {
            struct repo_pack *p = &repo->packs[list[k]];
            p->indexed = true;
            free(p->ents);
            p->ents = NULL;
            p->nents = p->ents_cap = 0;
        }
        pthread_mutex_unlock(&repo->mu);
    }
    for (size_t k = 0; k < n; k++) free((void *)ips[k].ents);
    free(ips);
    free(list);
    return rc;
}

int repo_flush(struct repo *repo)
{
    int rc;
    pthread_mutex_lock(&repo->flush_mu);
    rc = repo_flush_locked(repo, NULL, NULL);
    pthread_mutex_unlock(&repo->flush_mu);
    return rc;
}

int repo_flush_locked(struct repo *repo, int (*add)(struct repo *repo, void *ctx), void *ctx)
{
    int64_t seal_no;
    uint64_t failures;
    int rc = 0, arc = 0;
    pthread_mutex_lock(&repo->mu);
    failures = repo->write_failures;
    seal_no = repo_pack_detach_open(repo);
    if (add) arc = add(repo, ctx);
    pthread_mutex_unlock(&repo->mu);
    if (seal_no >= 0) rc = repo_pack_seal(repo, (uint32_t)seal_no);
    pthread_mutex_lock(&repo->mu);
    while (repo->sealing > 0) pthread_cond_wait(&repo->cv, &repo->mu);
    /* a seal that failed while we flushed may have held blobs put before this call: not durable */
    if (repo->write_failures != failures && rc == 0) rc = repo->write_err ? repo->write_err : -EIO;
    pthread_mutex_unlock(&repo->mu);
    if (rc == 0) rc = repo_write_pending_index(repo);
    return rc < 0 ? rc : arc;
}

int repo_check(struct repo *repo)
{
    uint64_t size = 0;
    int rc = repo->be->ops->stat(repo->be, REPO_OBJ_ROOT, "config", &size);
    return rc < 0 ? rc : 0;
}

void repo_get_stats(struct repo *repo, struct repo_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&repo->mu);
    for (uint32_t k = 0; k < repo->npacks; k++) {
        const struct repo_pack *p = &repo->packs[k];
        if (p->state == REPO_PACK_FAILED || p->state == REPO_PACK_MISSING ||
            p->state == REPO_PACK_DELETED)
            continue;
        out->packs++;
        out->pack_bytes += p->size;
    }
    out->blobs = repo->idx.count;
    out->index_bytes_in_memory = repo_itab_bytes(&repo->idx) +
                                 repo->packs_cap * sizeof(struct repo_pack) +
                                 repo->pmap.cap * sizeof(uint32_t);
    pthread_mutex_unlock(&repo->mu);
}

void repo_set_pack_target(struct repo *repo, uint32_t bytes)
{
    pthread_mutex_lock(&repo->mu);
    repo->pack_target = bytes < 4096 ? 4096 : bytes;
    pthread_mutex_unlock(&repo->mu);
}
