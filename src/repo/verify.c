/* verify.c: repository checks and the index rebuild.
 *
 * repo_verify walks every pack the index knows and every pack file in data/: footer and trailer
 * must parse and authenticate, the file size must match, and the index and the trailer must agree
 * blob for blob. With read_data it also hashes each pack file against its name and decrypts,
 * decompresses and re-hashes every blob, naming the pack and blob of each failure.
 *
 * repo_index_rebuild throws the in-memory index away, reads every pack's trailer, writes one
 * index object covering all of them and only then deletes the old index objects.
 * Everything is read through the storage backend (backend.h). */
#include "repo/repo_int.h"
#include "repo/tree.h"
#include "util/log.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

static void add_error(json_t *errors, const repo_id_t *pack, const repo_id_t *blob,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void add_error(json_t *errors, const repo_id_t *pack, const repo_id_t *blob,
                      const char *fmt, ...)
{
    char msg[512], hex[REPO_ID_HEX_LEN + 1];
    json_t *e = json_object();
    va_list ap;
    if (!e) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (pack) {
        repo_id_to_hex(pack, hex);
        json_object_set_new(e, "pack", json_string(hex));
    } else {
        json_object_set_new(e, "pack", json_null());
    }
    if (blob) {
        repo_id_to_hex(blob, hex);
        json_object_set_new(e, "blob", json_string(hex));
    } else {
        json_object_set_new(e, "blob", json_null());
    }
    json_object_set_new(e, "message", json_string(msg));
    json_array_append_new(errors, e);
}

struct vpack {
    repo_id_t id;
    uint32_t no;
    uint8_t state;
    uint64_t size;
    size_t index_blobs; /* index entries pointing into this pack */
};

static int hash_pack(struct repo *repo, const char *hex, uint64_t len, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t step = (size_t)4 << 20;
    uint8_t *buf = malloc(step);
    uint64_t pos = 0;
    int rc = 0;
    if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) rc = -ENOMEM;
    while (rc == 0 && pos < len) {
        size_t n = len - pos < step ? (size_t)(len - pos) : step;
        rc = repo_backend_read(repo->be, REPO_OBJ_PACK, hex, pos, buf, n);
        if (rc == 0 && EVP_DigestUpdate(ctx, buf, n) != 1) rc = -EIO;
        pos += n;
    }
    if (rc == 0 && EVP_DigestFinal_ex(ctx, out, NULL) != 1) rc = -EIO;
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

/* index_entries_of: the index's records for one pack (lock taken here). */
static int index_entries_of(struct repo *repo, uint32_t no, struct repo_pentry **out, size_t *n)
{
    int rc;
    pthread_mutex_lock(&repo->mu);
    rc = repo_itab_pack_records(&repo->idx, no, out, n);
    pthread_mutex_unlock(&repo->mu);
    return rc;
}

static void check_blobs(struct repo *repo, const char *hex, const struct vpack *vp,
                        struct repo_pentry *ents, size_t n, json_t *errors, uint64_t *checked)
{
    for (size_t k = 0; k < n; k++) {
        uint8_t *buf = malloc(ents[k].stored ? ents[k].stored : 1);
        void *plain = NULL;
        int rc;
        if (!buf) {
            add_error(errors, &vp->id, &ents[k].id, "out of memory");
            continue;
        }
        rc = repo_backend_read(repo->be, REPO_OBJ_PACK, hex, ents[k].offset, buf, ents[k].stored);
        if (rc == 0) rc = repo_blob_decode(repo, &ents[k], buf, &plain);
        if (rc == -EIO || rc == -EBADMSG) /* remembered: the next backup stores it again */
            repo_damage_record(repo, &ents[k].id, vp->no, rc == -EIO ? "beyond the end of the pack"
                               : "authentication, decompression or id check failed");
        if (rc == -EIO)
            add_error(errors, &vp->id, &ents[k].id, "blob lies beyond the end of the pack");
        else if (rc == -EBADMSG)
            add_error(errors, &vp->id, &ents[k].id,
                      "blob is damaged (authentication, decompression or id check failed)");
        else if (rc < 0)
            add_error(errors, &vp->id, &ents[k].id, "blob cannot be read: %s", strerror(-rc));
        free(plain);
        free(buf);
        (*checked)++;
    }
}

/* verify_pack: 1 when the pack as a whole is unusable (missing, cannot be opened, its structure
 * damaged): every blob the index places in it is then damaged. */
static int verify_pack(struct repo *repo, const struct vpack *vp, int read_data, json_t *errors,
                       uint64_t *checked)
{
    int bad = 0;
    char hex[REPO_ID_HEX_LEN + 1], why[200];
    struct repo_pentry *ents = NULL, *ients = NULL;
    size_t n = 0, in = 0, matched = 0;
    uint64_t size = 0;
    int rc;
    if (vp->state == REPO_PACK_MISSING) {
        add_error(errors, &vp->id, NULL, "pack file is missing (%zu blobs of the index are in it)",
                  vp->index_blobs);
        return 1;
    }
    repo_id_to_hex(&vp->id, hex);
    rc = repo->be->ops->stat(repo->be, REPO_OBJ_PACK, hex, &size);
    if (rc < 0) {
        add_error(errors, &vp->id, NULL, "cannot open pack file: %s", strerror(-rc));
        return 1;
    }
    if (size != vp->size)
        add_error(errors, &vp->id, NULL, "pack is %llu bytes, the index says %llu",
                  (unsigned long long)size, (unsigned long long)vp->size);
    rc = repo_pack_read_trailer(repo, &vp->id, size, &ents, &n, why, sizeof why);
    if (rc < 0) {
        add_error(errors, &vp->id, NULL, "pack structure is damaged: %s", why);
        bad = 1;
    } else {
        for (size_t k = 0; k < n; k++) {
            struct repo_pentry ie;
            uint32_t pack = 0;
            int found = 0, same = 0, state;
            pthread_mutex_lock(&repo->mu);
            state = repo_itab_lookup(&repo->idx, &ents[k].id, &pack, &ie);
            pthread_mutex_unlock(&repo->mu);
            if (state == REPO_ITAB_STORED && pack == vp->no) {
                found = 1; /* the index keeps no plaintext length of compressed blobs */
                same = ie.offset == ents[k].offset && ie.stored == ents[k].stored &&
                       (ie.plain == REPO_PLAIN_UNKNOWN || ie.plain == ents[k].plain) &&
                       ie.type == ents[k].type && ie.flags == ents[k].flags;
            } else if (state == REPO_ITAB_STORED) {
                found = 2; /* a duplicate copy; the index uses another pack */
            }
            if (found == 1) matched++;
            if (!found)
                add_error(errors, &vp->id, &ents[k].id, "blob is in the pack but not in the index");
            else if (found == 1 && !same)
                add_error(errors, &vp->id, &ents[k].id, "index and pack trailer disagree");
        }
        if (matched != vp->index_blobs)
            add_error(errors, &vp->id, NULL,
                      "the index places %zu blobs in this pack, its trailer lists %zu of them",
                      vp->index_blobs, matched);
    }
    if (read_data) {
        uint8_t hash[32];
        rc = hash_pack(repo, hex, size, hash);
        if (rc == 0 && memcmp(hash, vp->id.b, 32) != 0)
            add_error(errors, &vp->id, NULL, "pack content does not match its name (SHA-256)");
        if (ents) {
            check_blobs(repo, hex, vp, ents, n, errors, checked);
        } else if (index_entries_of(repo, vp->no, &ients, &in) == 0) {
            check_blobs(repo, hex, vp, ients, in, errors, checked);
            free(ients);
        }
    }
    free(ents);
    return bad;
}

struct disk_check { json_t *errors; };

static int disk_one(struct repo *repo, const repo_id_t *id, void *arg)
{
    struct disk_check *dc = arg;
    char path[4096];
    int no;
    pthread_mutex_lock(&repo->mu);
    no = repo_packmap_find(repo, id);
    pthread_mutex_unlock(&repo->mu);
    if (no < 0 && repo_pack_path(repo, id, path, sizeof path) == 0)
        add_error(dc->errors, id, NULL, "pack file %s is not in the index", path);
    return 0;
}

/* ---- what damage hurts: the snapshots and the files ----
 *
 * idset: an open-addressing set of blob ids (at most half full), for the damaged blobs of this
 * verify and the trees already found whole. */
struct idset { repo_id_t *v; uint8_t *used; size_t cap, n; };

static size_t idset_home(const repo_id_t *id, size_t cap)
{
    uint64_t h;
    memcpy(&h, id->b, sizeof h); /* keyed hashes: uniform bytes */
    return (size_t)(h & (cap - 1));
}

static int idset_has(const struct idset *s, const repo_id_t *id)
{
    if (!s->n) return 0;
    for (size_t i = idset_home(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (!s->used[i]) return 0;
        if (memcmp(s->v[i].b, id->b, REPO_ID_LEN) == 0) return 1;
    }
}

static int idset_add(struct idset *s, const repo_id_t *id)
{
    size_t i;
    if (idset_has(s, id)) return 0;
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        struct idset ns = { calloc(ncap, sizeof *ns.v), calloc(ncap, 1), ncap, 0 };
        if (!ns.v || !ns.used) {
            free(ns.v);
            free(ns.used);
            return -ENOMEM;
        }
        for (size_t k = 0; k < s->cap; k++) {
            if (!s->used[k]) continue;
            for (i = idset_home(&s->v[k], ncap); ns.used[i]; i = (i + 1) & (ncap - 1)) {}
            ns.v[i] = s->v[k];
            ns.used[i] = 1;
        }
        ns.n = s->n;
        free(s->v);
        free(s->used);
        *s = ns;
    }
    for (i = idset_home(id, s->cap); s->used[i]; i = (i + 1) & (s->cap - 1)) {}
    s->v[i] = *id;
    s->used[i] = 1;
    s->n++;
    return 1;
}

static void idset_free(struct idset *s)
{
    free(s->v);
    free(s->used);
    memset(s, 0, sizeof *s);
}

#define VERIFY_HURT_MAX 1000u     /* entries listed in the report's "hurt" (all are counted) */
#define VERIFY_DEPTH_MAX 1024u    /* directory depth walked; deeper is reported, not walked */

struct walk {
    struct repo *repo;
    const struct idset *damaged;  /* blobs found damaged by this verify */
    struct idset whole;           /* trees found whole (nothing below hurt): not walked again */
    json_t *errors, *hurt, *snaps_hurt;
    uint64_t hurt_count, trees;
    const volatile int *cancel;
};

/* chunk_state: NULL when the index's copy of id can be read as far as this verify knows, else why
 * not. Lock taken here. */
static const char *chunk_state(struct walk *w, const repo_id_t *id)
{
    struct repo *repo = w->repo;
    const char *why = NULL;
    uint32_t pack = 0;
    int st;
    if (idset_has(w->damaged, id)) return "damaged";
    pthread_mutex_lock(&repo->mu);
    st = repo_itab_lookup(&repo->idx, id, &pack, NULL);
    if (st != REPO_ITAB_STORED && st != REPO_ITAB_PENDING) why = "not in the index";
    else if (st == REPO_ITAB_STORED && pack < repo->npacks &&
             (repo->packs[pack].state == REPO_PACK_MISSING ||
              repo->packs[pack].state == REPO_PACK_FAILED ||
              repo->packs[pack].state == REPO_PACK_DELETED))
        why = "its pack is missing";
    else if (st == REPO_ITAB_STORED && repo_dmg_has(repo, id, pack))
        why = "listed as damaged by an earlier read";
    pthread_mutex_unlock(&repo->mu);
    return why;
}

static void hurt_add(struct walk *w, const char *sid, const char *path, const repo_id_t *blob,
                     const char *why)
{
    char hex[REPO_ID_HEX_LEN + 1];
    w->hurt_count++;
    json_object_set_new(w->snaps_hurt, sid, json_true());
    if (w->hurt_count > VERIFY_HURT_MAX) return;
    repo_id_to_hex(blob, hex);
    json_array_append_new(w->hurt, json_pack("{s:s, s:s, s:s, s:s}", "snapshot", sid, "path", path,
                                             "blob", hex, "problem", why));
}

/* walk_tree: checks the tree id (the directory path of snapshot sid) and everything under it;
 * 1 when something below is hurt, 0 when whole, negative on out of memory or cancel. */
static int walk_tree(struct walk *w, const char *sid, const repo_id_t *id, const char *path,
                     unsigned depth)
{
    struct tree *t = NULL;
    void *data = NULL;
    size_t len = 0;
    const char *why;
    int rc, hurt = 0;
    if (w->cancel && *w->cancel) return -ECANCELED;
    if (idset_has(&w->whole, id)) return 0;
    if (depth > VERIFY_DEPTH_MAX) {
        hurt_add(w, sid, path, id, "directories nested too deep to verify");
        return 1;
    }
    if ((why = chunk_state(w, id)) != NULL) {
        hurt_add(w, sid, path, id, why); /* the whole directory is lost */
        return 1;
    }
    rc = repo_blob_get(w->repo, id, &data, &len);
    if (rc == 0) {
        rc = tree_decode(data, len, &t);
        free(data);
    }
    if (rc == -ENOMEM) return rc;
    if (rc < 0) {
        hurt_add(w, sid, path, id, rc == -EBADMSG ? "directory tree is damaged"
                                                  : "directory tree cannot be read");
        return 1;
    }
    w->trees++;
    for (size_t k = 0; k < t->n && rc >= 0; k++) {
        const struct tree_entry *e = &t->entries[k];
        size_t plen = strlen(path) + strlen(e->name) + 2;
        char *sub = malloc(plen);
        if (!sub) {
            rc = -ENOMEM;
            break;
        }
        snprintf(sub, plen, "%s%s%s", path, strcmp(path, "/") == 0 ? "" : "/", e->name);
        if (e->has_subtree) {
            rc = walk_tree(w, sid, &e->subtree, sub, depth + 1);
            if (rc > 0) hurt = 1;
        }
        for (size_t c = 0; c < e->n_chunks && rc >= 0; c++)
            if ((why = chunk_state(w, &e->chunks[c].id)) != NULL) {
                hurt_add(w, sid, sub, &e->chunks[c].id, why);
                hurt = 1;
            }
        free(sub);
    }
    tree_free(t);
    if (rc < 0) return rc;
    if (!hurt && idset_add(&w->whole, id) < 0) return -ENOMEM;
    return hurt;
}

/* walk_snapshots: every snapshot's trees and the blobs they name. */
static int walk_snapshots(struct walk *w, uint64_t *nsnap)
{
    json_t *ids = NULL, *v;
    size_t i;
    int rc = repo_snapshot_list(w->repo, &ids);
    if (rc < 0) {
        add_error(w->errors, NULL, NULL, "cannot list snapshots: %s", strerror(-rc));
        return 0;
    }
    json_array_foreach(ids, i, v) {
        const char *sid = json_string_value(v), *hex;
        json_t *doc = NULL;
        repo_id_t root;
        if (!sid) continue;
        rc = repo_snapshot_read(w->repo, sid, &doc);
        if (rc == -ENOENT) continue; /* forgotten meanwhile */
        (*nsnap)++;
        if (rc < 0) {
            add_error(w->errors, NULL, NULL, "snapshot %s cannot be read: %s", sid, strerror(-rc));
            json_object_set_new(w->snaps_hurt, sid, json_true());
            continue;
        }
        hex = json_string_value(json_object_get(doc, "tree"));
        if (!json_object_get(doc, "tree")) {
            /* a document naming no tree (written by a test or a future kind): nothing to walk */
        } else if (!hex || repo_id_from_hex(hex, &root) < 0) {
            add_error(w->errors, NULL, NULL, "snapshot %s names no root tree", sid);
            json_object_set_new(w->snaps_hurt, sid, json_true());
        } else {
            rc = walk_tree(w, sid, &root, "/", 0);
        }
        json_decref(doc);
        if (rc == -ENOMEM || rc == -ECANCELED) break;
        rc = 0;
    }
    json_decref(ids);
    return rc < 0 ? rc : 0;
}

static int vpack_cmp(const void *a, const void *b)
{
    return memcmp(((const struct vpack *)a)->id.b, ((const struct vpack *)b)->id.b, REPO_ID_LEN);
}

int repo_verify(struct repo *repo, int read_data, json_t **report)
{
    struct repo_verify_opts o = { .read_data = read_data };
    return repo_verify_ex(repo, &o, report);
}

int repo_verify_ex(struct repo *repo, const struct repo_verify_opts *o, json_t **report)
{
    json_t *errors = json_array(), *rep;
    struct vpack *vps = NULL;
    uint32_t nv = 0, nread = 0, first = 0, pct;
    uint64_t checked = 0, blobs, nsnap = 0, packs_read = 0;
    struct disk_check dc = { errors };
    struct idset damaged = { 0 };
    struct walk w = { .repo = repo, .damaged = &damaged, .cancel = o->cancel };
    repo_id_t resume;
    int rc, have_resume = 0;
    char next[REPO_ID_HEX_LEN + 1] = "", firsthex[REPO_ID_HEX_LEN + 1] = "";
    *report = NULL;
    if (!errors) return -ENOMEM;
    pct = o->subset_pct == 0 || o->subset_pct > 100 ? 100 : o->subset_pct;
    if (o->resume_after && o->resume_after[0] && repo_id_from_hex(o->resume_after, &resume) == 0)
        have_resume = 1;
    rc = repo_flush(repo);
    if (rc < 0) add_error(errors, NULL, NULL, "flush before verify failed: %s", strerror(-rc));
    /* Other processes write too (repo_set_shared): what they indexed since this one last looked is
     * loaded first, else a snapshot another node wrote since would be walked against an index
     * that lacks its trees and reported hurt ("not in the index"; test_repo_refresh). -EBUSY: a
     * prune or rebuild of this process runs, which reloads the index itself. */
    if (repo->shared && (rc = repo_index_refresh(repo, NULL)) < 0 && rc != -EBUSY)
        add_error(errors, NULL, NULL, "refreshing the index before verify failed: %s", strerror(-rc));
    /* maint_mu: no prune or index rebuild removes a pack under the walk; flush_mu only while the
     * pack table and the pack objects are listed, so backups go on flushing while packs are read. */
    pthread_mutex_lock(&repo->maint_mu);
    repo_maint_held = 1;
    pthread_mutex_lock(&repo->flush_mu);
    pthread_mutex_lock(&repo->mu);
    vps = calloc(repo->npacks ? repo->npacks : 1, sizeof *vps);
    if (!vps) {
        pthread_mutex_unlock(&repo->mu);
        pthread_mutex_unlock(&repo->flush_mu);
        repo_maint_held = 0;
        pthread_mutex_unlock(&repo->maint_mu);
        json_decref(errors);
        return -ENOMEM;
    }
    for (uint32_t k = 0; k < repo->npacks; k++) {
        const struct repo_pack *p = &repo->packs[k];
        vps[k].id = p->id;
        vps[k].no = k;
        vps[k].state = p->state;
        vps[k].size = p->size;
    }
    nv = repo->npacks;
    {
        size_t *counts = calloc(nv ? nv : 1, sizeof *counts);
        if (!counts) {
            pthread_mutex_unlock(&repo->mu);
            pthread_mutex_unlock(&repo->flush_mu);
            repo_maint_held = 0;
            pthread_mutex_unlock(&repo->maint_mu);
            free(vps);
            json_decref(errors);
            return -ENOMEM;
        }
        repo_itab_count_packs(&repo->idx, counts, nv);
        for (uint32_t k = 0; k < nv; k++) vps[k].index_blobs = counts[k];
        free(counts);
    }
    blobs = repo->idx.count;
    pthread_mutex_unlock(&repo->mu);

    /* The packs verify looks at, in id order: a subset reads the next pct% of them after the pack
     * the last subset ended with (wrapping), so 100/pct runs read every pack. */
    {
        uint32_t k = 0;
        for (uint32_t j = 0; j < nv; j++)
            if (vps[j].state == REPO_PACK_SEALED || vps[j].state == REPO_PACK_MISSING ||
                vps[j].state == REPO_PACK_FAILED)
                vps[k++] = vps[j];
        nv = k;
    }
    qsort(vps, nv, sizeof *vps, vpack_cmp);
    if (o->read_data) {
        nread = pct == 100 ? nv : (uint32_t)(((uint64_t)nv * pct + 99) / 100);
        if (have_resume && pct < 100)
            while (first < nv && memcmp(vps[first].id.b, resume.b, REPO_ID_LEN) <= 0) first++;
        if (first >= nv) first = 0;
    }

    rc = repo_pack_list_disk(repo, disk_one, &dc);
    if (rc < 0) add_error(errors, NULL, NULL, "cannot list data/: %s", strerror(-rc));
    pthread_mutex_unlock(&repo->flush_mu);
    for (uint32_t k = 0; k < nv && !(o->cancel && *o->cancel); k++) {
        int read = o->read_data && (k + nv - first) % (nv ? nv : 1) < nread;
        if (vps[k].state == REPO_PACK_FAILED) {
            add_error(errors, NULL, NULL, "a pack failed to seal in this session (%zu blobs lost)",
                      vps[k].index_blobs);
            continue;
        }
        if (verify_pack(repo, &vps[k], read, errors, &checked) > 0) {
            struct repo_pentry *ents = NULL;
            size_t n = 0;
            if (index_entries_of(repo, vps[k].no, &ents, &n) == 0)
                for (size_t e = 0; e < n; e++) idset_add(&damaged, &ents[e].id);
            free(ents);
        }
        if (read) packs_read++;
    }
    if (nread && nv) {
        repo_id_to_hex(&vps[first].id, firsthex);
        repo_id_to_hex(&vps[(first + nread - 1) % nv].id, next);
    }
    {   /* the blobs this verify found damaged */
        json_t *e;
        size_t i;
        json_array_foreach(errors, i, e) {
            repo_id_t id;
            const char *b = json_string_value(json_object_get(e, "blob"));
            const char *pk = json_string_value(json_object_get(e, "pack"));
            repo_id_t pid;
            uint32_t no = 0;
            int live = 0;
            if (!b || !pk || repo_id_from_hex(b, &id) < 0 || repo_id_from_hex(pk, &pid) < 0)
                continue;
            pthread_mutex_lock(&repo->mu); /* only the copy the index reads hurts anything */
            live = repo_itab_lookup(&repo->idx, &id, &no, NULL) == REPO_ITAB_STORED &&
                   no < repo->npacks && memcmp(repo->packs[no].id.b, pid.b, REPO_ID_LEN) == 0;
            pthread_mutex_unlock(&repo->mu);
            if (live && strcmp(json_string_value(json_object_get(e, "message")),
                               "index and pack trailer disagree") != 0)
                idset_add(&damaged, &id);
        }
    }
    free(vps);
    w.errors = errors;
    w.hurt = json_array();
    w.snaps_hurt = json_object();
    rc = w.hurt && w.snaps_hurt ? 0 : -ENOMEM;
    if (rc == 0 && !(o->cancel && *o->cancel)) rc = walk_snapshots(&w, &nsnap);
    if (rc == 0 && o->cancel && *o->cancel) rc = -ECANCELED;
    repo_maint_held = 0;
    pthread_mutex_unlock(&repo->maint_mu);
    idset_free(&damaged);
    idset_free(&w.whole);
    if (rc < 0) {
        json_decref(errors);
        json_decref(w.hurt);
        json_decref(w.snaps_hurt);
        return rc;
    }
    {
        json_t *sl = json_array();
        const char *key;
        json_t *val;
        json_object_foreach(w.snaps_hurt, key, val) json_array_append_new(sl, json_string(key));
        json_decref(w.snaps_hurt);
        rep = json_pack("{s:b, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:o}", "ok",
                        json_array_size(errors) == 0 && w.hurt_count == 0, "packs", (json_int_t)nv,
                        "blobs", (json_int_t)blobs, "snapshots", (json_int_t)nsnap, "trees",
                        (json_int_t)w.trees, "errors", errors, "snapshots_hurt", sl, "hurt_count",
                        (json_int_t)w.hurt_count, "hurt", w.hurt);
    }
    if (!rep) return -ENOMEM;
    if (o->read_data) {
        json_object_set_new(rep, "blobs_read", json_integer((json_int_t)checked));
        json_object_set_new(rep, "packs_read", json_integer((json_int_t)packs_read));
        json_object_set_new(rep, "subset_percent", json_integer(pct));
        json_object_set_new(rep, "first_pack", json_string(firsthex));
        json_object_set_new(rep, "next_cursor", json_string(next));
    }
    *report = rep;
    return 0;
}

/* ---- rebuild ---- */

struct found_pack {
    repo_id_t id;
    uint64_t size;
    struct repo_pentry *ents;
    size_t n;
};
struct found_list {
    struct found_pack *v;
    size_t n, cap;
    unsigned damaged;
};

static int collect_one(struct repo *repo, const repo_id_t *id, void *arg)
{
    struct found_list *fl = arg;
    struct found_pack fp = { .id = *id };
    char why[200], hex[REPO_ID_HEX_LEN + 1];
    int rc;
    repo_id_to_hex(id, hex);
    if (repo->be->ops->stat(repo->be, REPO_OBJ_PACK, hex, &fp.size) < 0) return 0;
    rc = repo_pack_read_trailer(repo, id, fp.size, &fp.ents, &fp.n, why, sizeof why);
    if (rc == -ENOMEM) return rc;
    if (rc < 0) {
        log_warn("repo: rebuild skips damaged pack %s: %s", hex, why);
        fl->damaged++;
        return 0;
    }
    if (fl->n == fl->cap) {
        size_t ncap = fl->cap ? fl->cap * 2 : 64;
        struct found_pack *nv = realloc(fl->v, ncap * sizeof *nv);
        if (!nv) {
            free(fp.ents);
            return -ENOMEM;
        }
        fl->v = nv;
        fl->cap = ncap;
    }
    fl->v[fl->n++] = fp;
    return 0;
}

static int index_listed(void *arg, const char *name)
{
    json_t *names = arg;
    repo_id_t id;
    if (repo_id_from_hex(name, &id) < 0) return 0;
    return json_array_append_new(names, json_string(name)) < 0 ? -ENOMEM : 0;
}

static int list_index_files(struct repo *repo, json_t **names)
{
    int rc;
    if (!(*names = json_array())) return -ENOMEM;
    rc = repo->be->ops->list(repo->be, REPO_OBJ_INDEX, index_listed, *names);
    return rc;
}

int repo_index_rebuild(struct repo *repo)
{
    struct found_list fl = { 0 };
    struct repo_itab nidx;
    uint8_t *keep = NULL;
    json_t *old = NULL, *name;
    size_t i;
    int rc;
    pthread_mutex_lock(&repo->maint_mu); /* never under a running prune (prune.c) */
    rc = repo_flush(repo);
    if (rc < 0) {
        pthread_mutex_unlock(&repo->maint_mu);
        return rc;
    }
    pthread_mutex_lock(&repo->flush_mu);
    rc = list_index_files(repo, &old);
    if (rc == 0) rc = repo_pack_list_disk(repo, collect_one, &fl);
    if (rc == 0) rc = repo_itab_init(&nidx, repo->idx.count);
    if (rc < 0) goto out;

    pthread_mutex_lock(&repo->mu);
    for (uint32_t k = 0; k < repo->npacks; k++) repo->packs[k].on_disk = false;
    for (i = 0; i < fl.n && rc == 0; i++) {
        struct found_pack *fp = &fl.v[i];
        int64_t no = repo_packmap_find(repo, &fp->id);
        struct repo_pack *p;
        if (no < 0) no = repo_pack_add(repo, &fp->id, REPO_PACK_SEALED);
        if (no < 0) {
            rc = (int)no;
            break;
        }
        p = &repo->packs[no];
        p->state = REPO_PACK_SEALED;
        p->size = fp->size;
        p->on_disk = true;
        p->indexed = false;
        free(p->ents);
        p->ents = fp->ents;
        p->nents = p->ents_cap = fp->n;
        fp->ents = NULL;
        rc = repo_itab_add_pack(&nidx, (uint32_t)no, p->ents, p->nents);
    }
    /* Blobs of packs still open (puts racing the rebuild) and pending puts keep their entries. */
    if (rc == 0 && !(keep = calloc(repo->npacks ? repo->npacks : 1, 1))) rc = -ENOMEM;
    for (uint32_t k = 0; rc == 0 && k < repo->npacks; k++)
        keep[k] = repo->packs[k].state == REPO_PACK_OPEN ||
                  repo->packs[k].state == REPO_PACK_SEALING;
    if (rc == 0) rc = repo_itab_carry(&nidx, &repo->idx, keep, repo->npacks, repo->open_pack);
    free(keep);
    if (rc == 0) {
        for (uint32_t k = 0; k < repo->npacks; k++) {
            struct repo_pack *p = &repo->packs[k];
            if (p->state == REPO_PACK_SEALED && !p->on_disk) p->state = REPO_PACK_MISSING;
        }
        repo_itab_free(&repo->idx);
        repo->idx = nidx;
        repo_damage_prefer_good(repo); /* a rebuild loads first copies: prefer good ones */
    } else {
        repo_itab_free(&nidx);
    }
    pthread_mutex_unlock(&repo->mu);
    if (rc < 0) goto out;

    rc = repo_write_pending_index(repo);
    if (rc < 0) goto out;
    /* The new index is durable; only now may the old ones go. */
    json_array_foreach(old, i, name) {
        int drc = repo->be->ops->del(repo->be, REPO_OBJ_INDEX, json_string_value(name));
        if (drc == 0 || drc == -ENOENT) repo_ixn_forget(repo, json_string_value(name));
        if (drc < 0 && drc != -ENOENT)
            log_warn("repo: cannot remove old index file %s: %s", json_string_value(name),
                     strerror(-drc));
    }
    if (fl.damaged) log_warn("repo: index rebuilt without %u damaged pack(s)", fl.damaged);
out:
    for (i = 0; i < fl.n; i++) free(fl.v[i].ents);
    free(fl.v);
    json_decref(old);
    pthread_mutex_unlock(&repo->flush_mu);
    pthread_mutex_unlock(&repo->maint_mu);
    return rc;
}
