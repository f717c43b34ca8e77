/* prune.c: garbage collection of the repository, and the repository lock.
 *
 * Prune (repo_prune) runs beside backups and never stops them; its rules are written down in
 * docs/repository-format.md section 15. In order:
 *   1. lock: take the "prune" lock object (one prune per repository, any process or host);
 *   2. forget the snapshot documents the caller names (the catalog deleted them) unless a data lock
 *      or legal hold of the repository keeps them (retain.c: those stay and are marked), flush, and
 *      take the candidates: packs sealed and indexed now; packs sealed later are never touched;
 *   3. mark: walk every snapshot's trees; a bit per index record (1 bit per blob) says "used";
 *   4. plan: per candidate pack, used bytes vs its size: no used blob -> delete; unused share above
 *      repack_pct (20%) -> repack; else keep;
 *   5. condemn (under repo->mu): writers stop deduplicating against blobs of the planned packs
 *      (repo_blob_put stores them again, repo_blob_exists says no), and the writers running now
 *      (repo_writer_begin tickets) are noted;
 *   6. wait for those writers to end; then mark again from snapshots written since step 2 (a
 *      backup that deduplicated against a condemned blob before step 5 named it in its snapshot);
 *   7. copy the used blobs of condemned packs into new packs (repo_blob_put: it stores a new copy
 *      because the old pack is condemned), flush: new packs and their index are durable;
 *   8. write index files replacing every index file that names a condemned pack (its other packs
 *      carried over), then delete those index files, then the condemned packs.
 * A crash anywhere leaves a repository that opens and restores every snapshot: before step 8's
 * deletions nothing was removed; during them, what remains is either named by an index file or an
 * unindexed pack that the next open indexes from its trailer.
 *
 * Memory: the index already in memory plus 1 bit per index record and 16 bytes per pack; the
 * trees being walked are decoded one at a time (a stack of ids to visit).
 *
 * The lock: objects locks/<purpose>-<generation, 16 hex>, each a JSON document {purpose, pid,
 * host, token, time_usecs}. The highest generation is the lock. put is "if absent", so of two
 * processes writing the same generation one wins: acquiring an absent lock writes generation 1;
 * taking over a stale one writes the next generation; refreshing writes the next generation too
 * (then deletes the previous one), so a holder that was taken over finds out at its next refresh. */
#include "repo/repo_int.h"
#include "util/hex.h"
#include "repo/tree.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the repository lock ---- */

struct repo_lock {
    struct repo *repo;
    char purpose[32];
    uint64_t gen;
    char token[33];
    unsigned stale_secs;
    int64_t refreshed_mono;       /* util_time_mono of the last write */
};

struct lock_scan {
    const char *purpose;
    size_t plen;
    uint64_t max_gen;
    uint64_t *gens;
    size_t n, cap;
};

static int lock_name(char *buf, size_t len, const char *purpose, uint64_t gen)
{
    int n = snprintf(buf, len, "%s-%016" PRIx64, purpose, gen);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int lock_listed(void *ctx, const char *name)
{
    struct lock_scan *ls = ctx;
    char *end;
    uint64_t gen;
    if (strncmp(name, ls->purpose, ls->plen) != 0 || name[ls->plen] != '-') return 0;
    gen = strtoull(name + ls->plen + 1, &end, 16);
    if (*end || end != name + ls->plen + 17 || gen == 0) return 0;
    if (ls->n == ls->cap) {
        size_t ncap = ls->cap ? ls->cap * 2 : 8;
        uint64_t *ng = realloc(ls->gens, ncap * sizeof *ng);
        if (!ng) return -ENOMEM;
        ls->gens = ng;
        ls->cap = ncap;
    }
    ls->gens[ls->n++] = gen;
    if (gen > ls->max_gen) ls->max_gen = gen;
    return 0;
}

static int lock_write(struct repo_lock *lk, uint64_t gen)
{
    char name[64], host[256] = "";
    json_t *doc;
    char *text;
    int rc = lock_name(name, sizeof name, lk->purpose, gen);
    if (rc < 0) return rc;
    gethostname(host, sizeof host - 1);
    doc = json_pack("{s:s, s:I, s:s, s:s, s:I}", "purpose", lk->purpose, "pid", (json_int_t)getpid(),
                    "host", host, "token", lk->token, "time_usecs", (json_int_t)util_time_real());
    text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text) return -ENOMEM;
    rc = lk->repo->be->ops->put(lk->repo->be, REPO_OBJ_LOCK, name, text, strlen(text));
    free(text);
    if (rc == 0) {
        lk->gen = gen;
        lk->refreshed_mono = util_time_mono();
    }
    return rc;
}

static void lock_delete_gen(struct repo *repo, const char *purpose, uint64_t gen)
{
    char name[64];
    if (lock_name(name, sizeof name, purpose, gen) == 0) {
        int rc = repo->be->ops->del(repo->be, REPO_OBJ_LOCK, name);
        if (rc < 0 && rc != -ENOENT)
            log_warn("repo: cannot remove lock object %s: %s", name, strerror(-rc));
    }
}

/* lock_holder: reads generation gen; *stale when its holder is a dead process of this host or it
 * was not refreshed for stale_secs. who receives a sentence naming the holder. An unreadable
 * object counts as stale (objects appear whole, so it is damage). */
static int lock_holder(struct repo *repo, const char *purpose, uint64_t gen, unsigned stale_secs,
                       int *stale, char *who, size_t wholen)
{
    char name[64], host[256] = "";
    void *data = NULL;
    size_t len = 0;
    json_t *doc;
    const char *h = "?";
    json_int_t pid = 0, t = 0;
    int rc = lock_name(name, sizeof name, purpose, gen);
    *stale = 0;
    if (rc < 0) return rc;
    rc = repo->be->ops->get_all(repo->be, REPO_OBJ_LOCK, name, 64 * 1024, &data, &len);
    if (rc < 0) return rc;
    doc = json_loadb(data, len, 0, NULL);
    free(data);
    if (!doc || json_unpack(doc, "{s:I, s:s, s:I}", "pid", &pid, "host", &h, "time_usecs", &t) != 0) {
        json_decref(doc);
        snprintf(who, wholen, "an unreadable lock object %s", name);
        *stale = 1;
        return 0;
    }
    gethostname(host, sizeof host - 1);
    if (strcmp(h, host) == 0 && pid > 0 && pid != (json_int_t)getpid() &&
        kill((pid_t)pid, 0) < 0 && errno == ESRCH)
        *stale = 1;
    if (util_time_real() - (int64_t)t > (int64_t)stale_secs * 1000000) *stale = 1;
    snprintf(who, wholen, "process %lld on host %s (lock %s, %lld s old)", (long long)pid, h, name,
             (long long)((util_time_real() - (int64_t)t) / 1000000));
    json_decref(doc);
    return 0;
}

int repo_lock_acquire(struct repo *repo, const char *purpose, unsigned stale_secs,
                      struct repo_lock **out, char *err, size_t errlen)
{
    struct lock_scan ls = { .purpose = purpose, .plen = strlen(purpose) };
    struct repo_lock *lk;
    uint8_t tok[16];
    char who[512] = "";
    int rc, stale = 0;
    *out = NULL;
    if (ls.plen == 0 || ls.plen >= sizeof lk->purpose || strchr(purpose, '/') || strchr(purpose, '-'))
        return -EINVAL;
    if (!(lk = calloc(1, sizeof *lk))) return -ENOMEM;
    lk->repo = repo;
    memcpy(lk->purpose, purpose, ls.plen + 1);
    lk->stale_secs = stale_secs ? stale_secs : REPO_LOCK_STALE_SECS;
    if ((rc = repo_random(tok, sizeof tok)) < 0) goto fail;
    util_hex_encode(tok, sizeof tok, lk->token);
    rc = repo->be->ops->list(repo->be, REPO_OBJ_LOCK, lock_listed, &ls);
    if (rc < 0) {
        repo_seterr(err, errlen, "cannot list the repository's locks: %s", strerror(-rc));
        goto fail;
    }
    if (ls.max_gen) {
        rc = lock_holder(repo, purpose, ls.max_gen, lk->stale_secs, &stale, who, sizeof who);
        if (rc == -ENOENT) { /* released or refreshed meanwhile: look again once */
            rc = -EBUSY;
            repo_seterr(err, errlen, "the %s lock changed hands while it was read; try again", purpose);
            goto fail;
        }
        if (rc < 0) {
            repo_seterr(err, errlen, "cannot read the %s lock: %s", purpose, strerror(-rc));
            goto fail;
        }
        if (!stale) {
            rc = -EBUSY;
            repo_seterr(err, errlen, "another %s holds the repository lock: %s", purpose, who);
            goto fail;
        }
    }
    rc = lock_write(lk, ls.max_gen + 1);
    if (rc == -EEXIST) {
        rc = -EBUSY;
        repo_seterr(err, errlen, "another %s took the repository lock first", purpose);
        goto fail;
    }
    if (rc < 0) {
        repo_seterr(err, errlen, "cannot write the %s lock: %s", purpose, strerror(-rc));
        goto fail;
    }
    if (stale) log_warn("repo: took over the stale %s lock of %s", purpose, who);
    for (size_t k = 0; k < ls.n; k++) lock_delete_gen(repo, purpose, ls.gens[k]);
    free(ls.gens);
    *out = lk;
    return 0;
fail:
    free(ls.gens);
    free(lk);
    return rc;
}

int repo_lock_refresh(struct repo_lock *lk, int force)
{
    uint64_t old;
    int rc;
    if (!force && util_time_mono() - lk->refreshed_mono < (int64_t)lk->stale_secs * 200000) return 0;
    old = lk->gen;
    rc = lock_write(lk, old + 1);
    if (rc == -EEXIST) {
        log_error("repo: the %s lock was taken over by another process", lk->purpose);
        return -EBUSY;
    }
    if (rc < 0) return rc;
    lock_delete_gen(lk->repo, lk->purpose, old);
    return 0;
}

void repo_lock_release(struct repo_lock *lk)
{
    if (!lk) return;
    lock_delete_gen(lk->repo, lk->purpose, lk->gen);
    free(lk);
}

/* ---- prune ---- */

enum plan { PLAN_KEEP = 0, PLAN_DELETE, PLAN_REPACK };

struct prune {
    struct repo *repo;
    const struct repo_prune_opts *o;
    struct repo_prune_report *r;
    char *err;
    size_t errlen;
    unsigned step;
    struct repo_lock *lock;
    uint32_t nrec;                /* records at the start: the reach bitmap covers them */
    uint8_t *reach;               /* 1 bit per record: used */
    uint32_t npk;                 /* packs at the start */
    uint8_t *cand;                /* per pack: a candidate (sealed and indexed at the start) */
    uint8_t *plan;                /* per pack: enum plan */
    uint64_t *used_bytes;         /* per pack */
    json_t *marked;               /* snapshot ids marked (a set) */
    json_t *forget;               /* snapshot ids not to mark (a set) */
};

static void step(struct prune *p, const char *what)
{
    p->step++;
    if (p->o->step) p->o->step(p->o->step_ctx, p->step, what);
}

static int cancelled(const struct prune *p) { return p->o->cancel && *p->o->cancel; }

static inline int bit_get(const uint8_t *b, uint32_t k) { return (b[k >> 3] >> (k & 7)) & 1; }
static inline void bit_set(uint8_t *b, uint32_t k) { b[k >> 3] |= (uint8_t)(1u << (k & 7)); }

/* mark_id: sets the used bit of id's live record; 1 if it was newly set (a tree to walk), 0 if
 * already set, -ENOENT if the index does not have it. A record added after the start is beyond
 * the bitmap (its pack is no candidate): a tree there is walked each time it is met (what it
 * names may be old), which only snapshots written during the prune reach. Lock held. */
static int mark_id(struct prune *p, const repo_id_t *id, int tree)
{
    uint32_t rec = repo_itab_find_rec(&p->repo->idx, id);
    if (rec == REPO_IREC_NONE) return -ENOENT;
    if (rec >= p->nrec) return tree;
    if (bit_get(p->reach, rec)) return 0;
    bit_set(p->reach, rec);
    return 1;
}

struct idstack { repo_id_t *v; size_t n, cap; };

static int idstack_push(struct idstack *s, const repo_id_t *id)
{
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

/* mark_snapshot: marks the root tree of snapshot sid and everything under it. A snapshot or tree
 * that cannot be read stops the prune: what it names is unknown, so nothing may be deleted. */
static int mark_snapshot(struct prune *p, const char *sid)
{
    struct idstack st = { 0 };
    json_t *doc = NULL;
    const char *hex;
    repo_id_t root;
    int rc = repo_snapshot_read(p->repo, sid, &doc);
    if (rc == -ENOENT) return 0; /* forgotten meanwhile */
    if (rc < 0) {
        repo_seterr(p->err, p->errlen, "snapshot %.16s cannot be read (%s): prune needs every "
                    "snapshot readable; run verify", sid, strerror(-rc));
        return rc;
    }
    hex = json_string_value(json_object_get(doc, "tree"));
    if (!hex || repo_id_from_hex(hex, &root) < 0) {
        repo_seterr(p->err, p->errlen, "snapshot %.16s names no root tree", sid);
        json_decref(doc);
        return -EBADMSG;
    }
    json_decref(doc);
    pthread_mutex_lock(&p->repo->mu);
    rc = mark_id(p, &root, 1);
    pthread_mutex_unlock(&p->repo->mu);
    if (rc == -ENOENT) {
        repo_seterr(p->err, p->errlen, "snapshot %.16s: its root tree is not in the index", sid);
        return -EBADMSG;
    }
    rc = idstack_push(&st, &root); /* walked even when marked: a new record may hide below */
    while (rc == 0 && st.n > 0) {
        repo_id_t id = st.v[--st.n];
        struct tree *t = NULL;
        void *data = NULL;
        size_t len = 0;
        char thex[REPO_ID_HEX_LEN + 1];
        rc = repo_blob_get(p->repo, &id, &data, &len);
        if (rc == 0) {
            rc = tree_decode(data, len, &t);
            free(data);
        }
        if (rc < 0) {
            repo_id_to_hex(&id, thex);
            repo_seterr(p->err, p->errlen, "snapshot %.16s: tree %.16s cannot be read (%s): prune "
                        "needs every tree readable; run verify", sid, thex, strerror(-rc));
            break;
        }
        pthread_mutex_lock(&p->repo->mu);
        for (size_t k = 0; k < t->n && rc >= 0; k++) {
            const struct tree_entry *e = &t->entries[k];
            if (e->has_subtree) {
                int m = mark_id(p, &e->subtree, 1);
                if (m == 1) rc = idstack_push(&st, &e->subtree);
                else if (m == -ENOENT) rc = -ENOENT;
                if (rc == -ENOENT) repo_id_to_hex(&e->subtree, thex);
            }
            for (size_t c = 0; c < e->n_chunks && rc >= 0; c++)
                if (mark_id(p, &e->chunks[c].id, 0) == -ENOENT) {
                    rc = -ENOENT;
                    repo_id_to_hex(&e->chunks[c].id, thex);
                }
        }
        pthread_mutex_unlock(&p->repo->mu);
        tree_free(t);
        if (rc == -ENOENT)
            repo_seterr(p->err, p->errlen, "snapshot %.16s names blob %.16s that the index lacks: "
                        "prune needs a whole repository; run verify", sid, thex);
        if (rc > 0) rc = 0;
    }
    free(st.v);
    return rc < 0 ? rc : 0;
}

/* mark_all: marks every snapshot not yet marked (nor forgotten); *n counts the new ones. */
static int mark_all(struct prune *p, uint64_t *n)
{
    json_t *ids = NULL, *v;
    size_t i;
    int rc = repo_snapshot_list(p->repo, &ids);
    if (rc < 0) {
        repo_seterr(p->err, p->errlen, "cannot list snapshots: %s", strerror(-rc));
        return rc;
    }
    json_array_foreach(ids, i, v) {
        const char *sid = json_string_value(v);
        if (!sid || json_object_get(p->marked, sid) || json_object_get(p->forget, sid)) continue;
        if (cancelled(p)) {
            rc = -ECANCELED;
            break;
        }
        if ((rc = mark_snapshot(p, sid)) < 0) break;
        json_object_set_new(p->marked, sid, json_true());
        (*n)++;
    }
    json_decref(ids);
    return rc;
}

#define REC_BATCH 65536u

/* plan_packs: used bytes per candidate pack, then the plan; fills the report's totals. */
static void plan_packs(struct prune *p)
{
    struct repo *repo = p->repo;
    unsigned pct = p->o->repack_pct ? p->o->repack_pct : 20;
    struct repo_prune_report *r = p->r;
    for (uint32_t k0 = 0; k0 < p->nrec; k0 += REC_BATCH) {
        uint32_t k1 = p->nrec - k0 > REC_BATCH ? k0 + REC_BATCH : p->nrec;
        pthread_mutex_lock(&repo->mu);
        for (uint32_t k = k0; k < k1; k++) {
            struct repo_pentry e;
            uint32_t pack;
            int dead;
            repo_itab_rec_info(&repo->idx, k, &e, &pack, &dead);
            if (pack >= p->npk || !p->cand[pack]) continue;
            if (!dead && bit_get(p->reach, k)) {
                p->used_bytes[pack] += e.stored;
                r->blobs_used++;
            } else {
                r->blobs_unused++;
            }
        }
        pthread_mutex_unlock(&repo->mu);
    }
    r->blobs_total = r->blobs_used + r->blobs_unused;
    pthread_mutex_lock(&repo->mu);
    for (uint32_t k = 0; k < p->npk; k++) {
        uint64_t size, used;
        if (!p->cand[k]) continue;
        size = repo->packs[k].size;
        used = p->used_bytes[k];
        r->packs_total++;
        r->bytes_total += size;
        r->bytes_unused += size > used ? size - used : 0;
        if (used == 0) {
            p->plan[k] = PLAN_DELETE;
            r->packs_deleted++;
            r->bytes_freed += size;
        } else if ((size - used) * 100 > (uint64_t)pct * size) {
            p->plan[k] = PLAN_REPACK;
            r->packs_repacked++;
            r->bytes_freed += size - used; /* estimate; the real figure once the copies are made */
        }
    }
    pthread_mutex_unlock(&repo->mu);
}

/* condemn: writers stop deduplicating against the planned packs; returns the last writer ticket
 * handed out before (every writer with a ticket up to it may have used them). */
static uint64_t condemn(struct prune *p, int on)
{
    uint64_t seq;
    pthread_mutex_lock(&p->repo->mu);
    for (uint32_t k = 0; k < p->npk; k++)
        if (p->plan[k] != PLAN_KEEP) p->repo->packs[k].condemned = on;
    seq = p->repo->writer_seq;
    pthread_mutex_unlock(&p->repo->mu);
    return seq;
}

/* wait_writers: until no writer with a ticket <= seq runs (a failed ticket, 0, is not tracked). */
static int wait_writers(struct prune *p, uint64_t seq)
{
    struct repo *repo = p->repo;
    int waited = 0, rc = 0;
    for (;;) {
        size_t before = 0;
        pthread_mutex_lock(&repo->mu);
        for (size_t k = 0; k < repo->nwriters; k++)
            if (repo->writers[k] <= seq) before++;
        if (before && !waited) p->r->writers_waited = before;
        if (before) {
            struct timespec ts;
            util_deadline_ms(&ts, 200);
            pthread_cond_timedwait(&repo->cv, &repo->mu, &ts);
        }
        pthread_mutex_unlock(&repo->mu);
        if (!before) return 0;
        waited = 1;
        if (cancelled(p)) return -ECANCELED;
        if ((rc = repo_lock_refresh(p->lock, 0)) < 0) return rc;
    }
}

/* REPACK_FLUSH_BLOBS: repack flushes after copying this many blobs, so the trailers of its new
 * packs (held until indexed) and the index file written from them stay bounded (~48 MiB each). */
#define REPACK_FLUSH_BLOBS (1u << 20)

/* repack: copies every used blob of the condemned packs into the open pack (new packs). */
static int repack(struct prune *p)
{
    struct repo *repo = p->repo;
    struct { repo_id_t id; uint32_t pack; uint8_t type; } *todo = malloc(REC_BATCH * sizeof *todo);
    uint64_t since_flush = 0;
    int rc = 0;
    if (!todo) return -ENOMEM;
    for (uint32_t k0 = 0; k0 < p->nrec && rc == 0; k0 += REC_BATCH) {
        uint32_t k1 = p->nrec - k0 > REC_BATCH ? k0 + REC_BATCH : p->nrec;
        size_t n = 0;
        pthread_mutex_lock(&repo->mu);
        for (uint32_t k = k0; k < k1; k++) {
            struct repo_pentry e;
            uint32_t pack;
            int dead;
            if (!bit_get(p->reach, k)) continue;
            repo_itab_rec_info(&repo->idx, k, &e, &pack, &dead);
            if (dead || pack >= p->npk || p->plan[pack] == PLAN_KEEP) continue;
            todo[n].id = e.id;
            todo[n].pack = pack;
            todo[n].type = e.type;
            n++;
        }
        pthread_mutex_unlock(&repo->mu);
        for (size_t i = 0; i < n && rc == 0; i++) {
            uint32_t pack = todo[i].pack;
            void *data = NULL;
            size_t len = 0, added = 0;
            char hex[REPO_ID_HEX_LEN + 1];
            rc = repo_blob_get(repo, &todo[i].id, &data, &len);
            if (rc == 0)
                rc = repo_blob_put(repo, todo[i].type, &todo[i].id, data, len, &added);
            free(data);
            if (rc < 0) {
                repo_id_to_hex(&todo[i].id, hex);
                repo_seterr(p->err, p->errlen, "cannot copy used blob %.16s out of a condemned "
                            "pack: %s", hex, strerror(-rc));
                break;
            }
            p->r->blobs_repacked++;
            p->r->bytes_repacked += added;
            if (p->plan[pack] == PLAN_DELETE) { /* a snapshot written meanwhile uses it */
                p->plan[pack] = PLAN_REPACK;
                p->r->packs_deleted--;
                p->r->packs_repacked++;
            }
            if (added) step(p, "blob copied");
            if (cancelled(p)) rc = -ECANCELED;
            if (rc == 0) rc = repo_lock_refresh(p->lock, 0);
            since_flush++;
        }
        if (rc == 0 && since_flush >= REPACK_FLUSH_BLOBS) {
            if ((rc = repo_flush(repo)) < 0)
                repo_seterr(p->err, p->errlen, "flush of repacked blobs failed: %s", strerror(-rc));
            since_flush = 0;
        }
    }
    free(todo);
    return rc;
}

/* ---- index rewrite ---- */

struct rewrite {
    struct prune *p;
    struct repo_index_pack *packs;
    size_t npacks, packs_cap;
    struct repo_pentry *ents;     /* all records of packs, in order */
    size_t nents, ents_cap;
    int names_condemned;          /* the file being read names a condemned pack */
    size_t file_first;            /* packs of the file being read start here */
    size_t file_first_ent;
};

#define REWRITE_BATCH_ENTS (1u << 20) /* ~48 MiB of records per new index file at most */

static int pack_condemned(struct repo *repo, const repo_id_t *id)
{
    int no, yes = 0;
    pthread_mutex_lock(&repo->mu);
    no = repo_packmap_find(repo, id);
    if (no >= 0) yes = repo->packs[no].condemned || repo->packs[no].state == REPO_PACK_DELETED;
    pthread_mutex_unlock(&repo->mu);
    return yes;
}

static int rewrite_pack(struct repo *repo, const struct repo_index_pack *ip, void *ctx)
{
    struct rewrite *w = ctx;
    if (pack_condemned(repo, &ip->id)) {
        w->names_condemned = 1;
        return 0;
    }
    if (w->npacks == w->packs_cap) {
        size_t ncap = w->packs_cap ? w->packs_cap * 2 : 64;
        struct repo_index_pack *np = realloc(w->packs, ncap * sizeof *np);
        if (!np) return -ENOMEM;
        w->packs = np;
        w->packs_cap = ncap;
    }
    if (w->nents + ip->n > w->ents_cap) {
        size_t ncap = w->ents_cap ? w->ents_cap : 1024;
        struct repo_pentry *ne;
        while (ncap < w->nents + ip->n) ncap *= 2;
        if (!(ne = realloc(w->ents, ncap * sizeof *ne))) return -ENOMEM;
        w->ents = ne;
        w->ents_cap = ncap;
    }
    memcpy(w->ents + w->nents, ip->ents, ip->n * sizeof *ip->ents);
    w->packs[w->npacks].id = ip->id;
    w->packs[w->npacks].size = ip->size;
    w->packs[w->npacks].ents = NULL; /* set at write: ents may move while it grows */
    w->packs[w->npacks].n = ip->n;
    w->npacks++;
    w->nents += ip->n;
    return 0;
}

/* rewrite_flush: writes the packs collected so far as one new index file (durable). */
static int rewrite_flush(struct rewrite *w)
{
    char name[REPO_ID_HEX_LEN + 1];
    size_t off = 0;
    int rc;
    if (w->npacks == 0) return 0;
    for (size_t k = 0; k < w->npacks; k++) {
        w->packs[k].ents = w->ents + off;
        off += w->packs[k].n;
    }
    rc = repo_index_write(w->p->repo, w->packs, w->npacks, name);
    if (rc < 0) {
        repo_seterr(w->p->err, w->p->errlen, "cannot write a new index file: %s", strerror(-rc));
        return rc;
    }
    w->p->r->index_files_rewritten++;
    w->npacks = 0;
    w->nents = 0;
    step(w->p, "index file written");
    return 0;
}

static int index_name_listed(void *arg, const char *name)
{
    json_t *names = arg;
    repo_id_t id;
    if (repo_id_from_hex(name, &id) < 0) return 0;
    return json_array_append_new(names, json_string(name)) < 0 ? -ENOMEM : 0;
}

/* rewrite_index: replaces every index file naming a condemned pack: new files with its other packs
 * first (durable), then the old files are deleted. */
static int rewrite_index(struct prune *p)
{
    struct repo *repo = p->repo;
    struct rewrite w = { .p = p };
    json_t *names = json_array(), *old = json_array(), *v;
    size_t i;
    int rc;
    if (!names || !old) {
        json_decref(names);
        json_decref(old);
        return -ENOMEM;
    }
    rc = repo->be->ops->list(repo->be, REPO_OBJ_INDEX, index_name_listed, names);
    if (rc < 0) repo_seterr(p->err, p->errlen, "cannot list index files: %s", strerror(-rc));
    json_array_foreach(names, i, v) {
        const char *name = json_string_value(v);
        if (rc < 0) break;
        w.names_condemned = 0;
        w.file_first = w.npacks;
        w.file_first_ent = w.nents;
        rc = repo_index_load_one(repo, name, rewrite_pack, &w);
        if (rc == -ENOMEM) break;
        if (rc < 0) { /* unreadable: open skips it too; leave it */
            log_warn("repo: prune leaves the unreadable index file %s alone: %s", name,
                     strerror(-rc));
            w.npacks = w.file_first;
            w.nents = w.file_first_ent;
            rc = 0;
            continue;
        }
        if (!w.names_condemned) { /* unchanged: keep the file, drop what was collected */
            w.npacks = w.file_first;
            w.nents = w.file_first_ent;
            continue;
        }
        json_array_append(old, v);
        if (w.nents >= REWRITE_BATCH_ENTS) rc = rewrite_flush(&w);
    }
    if (rc == 0) rc = rewrite_flush(&w);
    if (rc == 0) rc = repo_lock_refresh(p->lock, 0);
    /* The new index files are durable: only now may the files they replace go. */
    json_array_foreach(old, i, v) {
        int drc;
        if (rc < 0) break;
        drc = repo->be->ops->del(repo->be, REPO_OBJ_INDEX, json_string_value(v));
        if (drc == 0 || drc == -ENOENT) repo_ixn_forget(repo, json_string_value(v));
        if (drc < 0 && drc != -ENOENT) {
            repo_seterr(p->err, p->errlen, "cannot delete index file %s: %s",
                        json_string_value(v), strerror(-drc));
            rc = drc;
        }
        step(p, "index file deleted");
    }
    free(w.packs);
    free(w.ents);
    json_decref(names);
    json_decref(old);
    return rc;
}

/* delete_packs: the condemned packs, now named by no index file. */
static int delete_packs(struct prune *p)
{
    struct repo *repo = p->repo;
    for (uint32_t k = 0; k < p->npk; k++) {
        char hex[REPO_ID_HEX_LEN + 1];
        int rc;
        if (p->plan[k] == PLAN_KEEP) continue;
        pthread_mutex_lock(&repo->mu);
        repo->packs[k].state = REPO_PACK_DELETED;
        repo_id_to_hex(&repo->packs[k].id, hex);
        pthread_mutex_unlock(&repo->mu);
        rc = repo->be->ops->del(repo->be, REPO_OBJ_PACK, hex);
        if (rc < 0 && rc != -ENOENT) {
            /* Left unindexed: the next open indexes it again from its trailer, and the next
             * prune deletes it. */
            log_warn("repo: prune cannot delete pack %s: %s", hex, strerror(-rc));
            continue;
        }
        step(p, "pack deleted");
    }
    return 0;
}

static int forget_listed(struct prune *p)
{
    char why[256];
    json_t *ids = NULL, *v;
    size_t i;
    int rc;
    if (p->o->n_forget == 0) return 0;
    if ((rc = repo_snapshot_list(p->repo, &ids)) < 0) {
        repo_seterr(p->err, p->errlen, "cannot list snapshots: %s", strerror(-rc));
        return rc;
    }
    json_array_foreach(ids, i, v) {
        const char *sid = json_string_value(v);
        if (!sid || !json_object_get(p->forget, sid)) continue;
        if (repo_retain_check(p->repo, sid, util_time_now(), 0, why, sizeof why) < 0) {
            /* A data lock or legal hold in the repository outranks the catalog: kept and marked. */
            log_warn("repo: prune keeps snapshot %.16s the catalog deleted: %s", sid, why);
            json_object_del(p->forget, sid);
            p->r->snapshots_locked++;
            continue;
        }
        if (!p->o->dry_run) {
            rc = repo_snapshot_forget(p->repo, sid);
            if (rc < 0 && rc != -ENOENT) {
                repo_seterr(p->err, p->errlen, "cannot forget snapshot %.16s: %s", sid,
                            strerror(-rc));
                json_decref(ids);
                return rc;
            }
            step(p, "snapshot forgotten");
        }
        p->r->snapshots_forgotten++;
    }
    json_decref(ids);
    return 0;
}

static int prune_run(struct prune *p)
{
    struct repo *repo = p->repo;
    const struct repo_prune_opts *o = p->o;
    uint64_t seq, n = 0;
    int rc;
    for (size_t k = 0; k < o->n_forget; k++)
        if (o->forget[k]) json_object_set_new(p->forget, o->forget[k], json_true());
    if (!o->dry_run) {
        rc = repo_lock_acquire(repo, "prune", o->lock_stale_secs, &p->lock, p->err, p->errlen);
        if (rc < 0) return rc;
        step(p, "locked");
    }
    if ((rc = forget_listed(p)) < 0) return rc;
    if (!o->dry_run && (rc = repo_flush(repo)) < 0) {
        repo_seterr(p->err, p->errlen, "flush before prune failed: %s", strerror(-rc));
        return rc;
    }
    /* The candidates and the bitmap's extent: packs sealed and indexed now, records now. */
    pthread_mutex_lock(&repo->mu);
    p->npk = repo->npacks;
    p->nrec = repo->idx.nrec;
    p->cand = calloc(p->npk ? p->npk : 1, 1);
    p->plan = calloc(p->npk ? p->npk : 1, 1);
    p->used_bytes = calloc(p->npk ? p->npk : 1, sizeof *p->used_bytes);
    p->reach = calloc(p->nrec / 8 + 1, 1);
    for (uint32_t k = 0; p->cand && k < p->npk; k++) {
        const struct repo_pack *pk = &repo->packs[k];
        p->cand[k] = pk->state == REPO_PACK_SEALED && pk->indexed && !pk->condemned;
    }
    pthread_mutex_unlock(&repo->mu);
    if (!p->cand || !p->plan || !p->used_bytes || !p->reach) return -ENOMEM;

    if ((rc = mark_all(p, &n)) < 0) return rc;
    plan_packs(p);
    if (o->dry_run) {
        p->r->snapshots = n;
        return 0;
    }
    if (p->r->packs_deleted + p->r->packs_repacked == 0) {
        p->r->snapshots = n;
        return 0;
    }
    seq = condemn(p, 1);
    step(p, "condemned");
    rc = wait_writers(p, seq);
    /* Snapshots written since the first mark (by the writers waited for, or any other) are marked
     * too: what they name is copied out of the condemned packs. */
    if (rc == 0 && (rc = repo_flush(repo)) < 0)
        repo_seterr(p->err, p->errlen, "flush during prune failed: %s", strerror(-rc));
    if (rc == 0) rc = mark_all(p, &n);
    p->r->snapshots = n;
    if (rc == 0) rc = repack(p);
    if (rc == 0 && (rc = repo_flush(repo)) < 0)
        repo_seterr(p->err, p->errlen, "flush of the repacked blobs failed: %s", strerror(-rc));
    if (rc == 0) step(p, "repacked blobs durable");
    if (rc == 0 && (rc = repo_lock_refresh(p->lock, 1)) < 0)
        repo_seterr(p->err, p->errlen, "the prune lock was taken over: nothing deleted");
    if (rc < 0) {
        condemn(p, 0); /* nothing was deleted: writers may use those packs again */
        if (rc == -ECANCELED) repo_seterr(p->err, p->errlen, "prune cancelled: nothing deleted");
        return rc;
    }
    /* Real figures: the packs' bytes minus what the copies wrote. */
    p->r->bytes_freed = 0;
    pthread_mutex_lock(&repo->mu);
    for (uint32_t k = 0; k < p->npk; k++)
        if (p->plan[k] != PLAN_KEEP) p->r->bytes_freed += repo->packs[k].size;
    pthread_mutex_unlock(&repo->mu);
    p->r->bytes_freed = p->r->bytes_freed > p->r->bytes_repacked
                            ? p->r->bytes_freed - p->r->bytes_repacked : 0;
    if ((rc = rewrite_index(p)) < 0) {
        /* Nothing deleted yet but some index files: the packs are still there (an open indexes
         * them from their trailers); writers may use them again and the next prune retries. */
        condemn(p, 0);
        return rc;
    }
    return delete_packs(p);
}

int repo_prune(struct repo *repo, const struct repo_prune_opts *o, struct repo_prune_report *out,
               char *err, size_t errlen)
{
    struct repo_prune_opts def = { 0 };
    struct prune p = { .repo = repo, .o = o ? o : &def, .r = out, .err = err, .errlen = errlen };
    int64_t t0 = util_time_mono();
    int rc;
    memset(out, 0, sizeof *out);
    out->dry_run = p.o->dry_run;
    if (err && errlen) err[0] = '\0';
    p.marked = json_object();
    p.forget = json_object();
    pthread_mutex_lock(&repo->maint_mu);
    repo_maint_held = 1;
    rc = (p.marked && p.forget) ? prune_run(&p) : -ENOMEM;
    repo_maint_held = 0;
    pthread_mutex_unlock(&repo->maint_mu);
    if (rc == -ENOMEM && err && errlen && !err[0]) repo_seterr(err, errlen, "out of memory");
    repo_lock_release(p.lock);
    free(p.reach);
    free(p.cand);
    free(p.plan);
    free(p.used_bytes);
    json_decref(p.marked);
    json_decref(p.forget);
    out->duration_usecs = (uint64_t)(util_time_mono() - t0);
    if (rc == 0)
        log_info("repo: prune%s: %" PRIu64 " snapshots, %" PRIu64 " of %" PRIu64 " packs deleted, "
                 "%" PRIu64 " repacked, %" PRIu64 " bytes freed", p.o->dry_run ? " (dry run)" : "",
                 out->snapshots, out->packs_deleted, out->packs_total, out->packs_repacked,
                 out->bytes_freed);
    return rc;
}
