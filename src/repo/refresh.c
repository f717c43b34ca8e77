/* refresh.c: several processes writing one repository (docs/repository-format.md section 18): a
 * process loads the index files the others wrote since it opened, and learns which packs another
 * process's prune or index rebuild removed.
 *
 * repo_index_refresh lists index/ once and compares the names with the set this process already
 * loaded or wrote (repo->ixn, index.c). New names are read (through the backend, whose S3 cache keeps
 * index files locally) and their packs collected; they enter the in-memory index inside a flush
 * (repo_flush_locked), with the open pack detached, because a pack's records must stay one run and
 * only the open pack's run may grow. When names vanished (another process's prune or rebuild replaced
 * them), every listed file is read again to learn which packs are still named: a known, indexed pack
 * that no file names any more is gone (its object absent, or a read found it missing: state DELETED,
 * which verify does not look for) or on its way out (present: condemned and retired, so no writer
 * deduplicates against it; every later refresh looks whether it is gone yet), and reads move to
 * another copy
 * (repo_itab_prefer). If any listed file cannot be read in that pass, nothing is marked gone (an
 * unreadable file's packs would look unnamed). maint_mu is only tried: while a prune or rebuild of
 * this process runs, the refresh is skipped (-EBUSY) and the caller goes on with the index it has
 * (a stale view only stores data again; it never loses any).
 *
 * Reads that miss (repo_refresh_on_miss, called by repo.c's reads on a shared repository): each
 * refresh is numbered as it starts, before it lists (repo->refresh_seq); a read that found a pack
 * gone needs a refresh numbered above the number at that moment (it listed index/ after the pack was
 * deleted, and another process's prune writes the index files naming the new copies before it
 * deletes anything), so it waits for one, running it itself when none has ended since (miss_mu: the
 * reads that miss at once share one refresh). A blob missing from the index causes at most one
 * listing a second. Hence a restore, a download or a search of another node runs on while that
 * node's prune deletes the packs its index named: every blob of a kept snapshot is, at every moment,
 * in a pack an index file names. */
#include "repo/repo_int.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct listing {
    repo_id_t *v;
    size_t n, cap;
};

static int listed(void *arg, const char *name)
{
    struct listing *l = arg;
    repo_id_t id;
    if (repo_id_from_hex(name, &id) < 0) return 0; /* not an index object */
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        repo_id_t *nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv) return -ENOMEM;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = id;
    return 0;
}

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, REPO_ID_LEN); }

/* Packs read from index files, not yet in the index: their records copied (owned). */
struct collect {
    struct repo_index_pack *v;
    size_t n, cap;
    uint8_t *seen;                /* full pass: seen[pack] for packs below nseen named by a file */
    uint32_t nseen;
};

static int collect_pack(struct repo *repo, const struct repo_index_pack *ip, void *arg)
{
    struct collect *c = arg;
    struct repo_pentry *ents;
    int64_t no;
    pthread_mutex_lock(&repo->mu);
    no = repo_packmap_find(repo, &ip->id);
    if (no >= 0 && (uint32_t)no < c->nseen) c->seen[no] = 1;
    pthread_mutex_unlock(&repo->mu);
    if (no >= 0) return 0; /* known: its records are in the index already */
    for (size_t k = 0; k < c->n; k++)
        if (memcmp(c->v[k].id.b, ip->id.b, REPO_ID_LEN) == 0) return 0; /* named twice */
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        struct repo_index_pack *nv = realloc(c->v, ncap * sizeof *nv);
        if (!nv) return -ENOMEM;
        c->v = nv;
        c->cap = ncap;
    }
    ents = malloc((ip->n ? ip->n : 1) * sizeof *ents);
    if (!ents) return -ENOMEM;
    if (ip->n) memcpy(ents, ip->ents, ip->n * sizeof *ents);
    c->v[c->n] = *ip;
    c->v[c->n].ents = ents;
    c->n++;
    return 0;
}

/* add_collected: repo_flush_locked's hook (mu held, no open pack). */
static int add_collected(struct repo *repo, void *arg)
{
    struct collect *c = arg;
    int rc = 0;
    for (size_t k = 0; k < c->n && rc != -ENOMEM; k++) {
        int r = repo_pack_index_add_locked(repo, &c->v[k]);
        if (r < 0) {
            char hex[REPO_ID_HEX_LEN + 1];
            repo_id_to_hex(&c->v[k].id, hex);
            log_warn("repo: refresh: pack %s of another writer's index file not loaded: %s", hex, strerror(-r));
            if (r == -ENOMEM) rc = r;
        }
    }
    return rc;
}

static int bad_copy(void *ctx, const repo_id_t *id, uint32_t pack)
{
    struct repo *repo = ctx;
    const struct repo_pack *p;
    (void)id;
    if (pack >= repo->npacks) return 1;
    p = &repo->packs[pack];
    return p->state == REPO_PACK_MISSING || p->state == REPO_PACK_FAILED || p->state == REPO_PACK_DELETED ||
           (p->state == REPO_PACK_SEALED && p->condemned);
}

static int good_copy(void *ctx, const repo_id_t *id, uint32_t pack)
{
    struct repo *repo = ctx;
    if (pack >= repo->npacks || repo->packs[pack].state != REPO_PACK_SEALED || repo->packs[pack].condemned)
        return 0;
    return !repo_dmg_has(repo, id, pack);
}

int repo_index_refresh(struct repo *repo, struct repo_refresh_report *out)
{
    struct listing l = { 0 };
    struct collect c = { 0 };
    struct repo_refresh_report rep = { 0 };
    repo_id_t *gone = NULL;
    size_t ngone = 0, k;
    uint64_t seq = 0;
    int rc, read_failed = 0;
    char hex[REPO_ID_HEX_LEN + 1];
    if (out) memset(out, 0, sizeof *out);
    if (pthread_mutex_trylock(&repo->maint_mu) != 0) return -EBUSY;
    pthread_mutex_lock(&repo->flush_mu);
    pthread_mutex_lock(&repo->mu);
    seq = ++repo->refresh_seq; /* before the listing: what vanished before now, it sees gone */
    pthread_mutex_unlock(&repo->mu);
    rc = repo->be->ops->list(repo->be, REPO_OBJ_INDEX, listed, &l);
    if (rc < 0) goto out;
    if (l.n) qsort(l.v, l.n, sizeof *l.v, cmp_id);
    /* Vanished: known names the listing lacks (index files are only ever deleted by a prune or a
     * rebuild, which wrote their replacements first). */
    pthread_mutex_lock(&repo->mu);
    if (repo->nixn && !(gone = malloc(repo->nixn * sizeof *gone))) rc = -ENOMEM;
    for (k = 0; rc == 0 && k < repo->nixn; k++)
        if (!bsearch(&repo->ixn[k], l.v, l.n, sizeof *l.v, cmp_id)) gone[ngone++] = repo->ixn[k];
    if (rc == 0 && ngone) {
        c.nseen = repo->npacks;
        if (!(c.seen = calloc(c.nseen ? c.nseen : 1, 1))) rc = -ENOMEM;
    }
    pthread_mutex_unlock(&repo->mu);
    if (rc < 0) goto out;
    rep.full = ngone != 0;
    rep.files_gone = (unsigned)ngone;
    for (k = 0; k < l.n && rc == 0; k++) {
        int known, r;
        repo_id_to_hex(&l.v[k], hex);
        known = repo_ixn_has(repo, hex);
        if (known && !rep.full) continue;
        r = repo_index_load_one(repo, hex, collect_pack, &c);
        if (r == -ENOMEM) rc = r;
        else if (r < 0) {
            read_failed = 1;
            log_warn("repo: refresh: index file %s cannot be read: %s", hex, strerror(-r));
            if (r == -EBADMSG && !known) (void)repo_ixn_add(repo, hex); /* damaged: as open, skip it */
        } else if (!known) {
            rep.files_new++;
            (void)repo_ixn_add(repo, hex);
        }
    }
    if (rc < 0) goto out;
    rep.packs_added = (unsigned)c.n;
    rc = repo_flush_locked(repo, c.n ? add_collected : NULL, &c);
    if (rc < 0) goto out;
    if (rep.full && !read_failed) {
        for (uint32_t p = 0; p < c.nseen; p++) {
            struct repo_pack *pk;
            repo_id_t id;
            uint64_t size = 0;
            int st;
            pthread_mutex_lock(&repo->mu);
            pk = &repo->packs[p];
            if (!c.seen[p] && pk->indexed && pk->state == REPO_PACK_MISSING) { /* a read found it gone */
                pk->state = REPO_PACK_DELETED;
                rep.packs_gone++;
            }
            st = !c.seen[p] && pk->state == REPO_PACK_SEALED && pk->indexed && !pk->condemned && !pk->w;
            id = pk->id;
            pthread_mutex_unlock(&repo->mu);
            if (!st) continue;
            repo_id_to_hex(&id, hex);
            st = repo->be->ops->stat(repo->be, REPO_OBJ_PACK, hex, &size);
            pthread_mutex_lock(&repo->mu);
            if (st == -ENOENT) repo->packs[p].state = REPO_PACK_DELETED;
            else repo->packs[p].condemned = repo->packs[p].retired = true; /* present but unnamed: going */
            pthread_mutex_unlock(&repo->mu);
            rep.packs_gone++;
        }
        if (rep.packs_gone) {
            uint32_t moved;
            pthread_mutex_lock(&repo->mu);
            moved = repo_itab_prefer(&repo->idx, bad_copy, good_copy, repo);
            pthread_mutex_unlock(&repo->mu);
            log_info("repo: refresh: %u pack(s) removed by another process; %u blob(s) now read from "
                     "their new copies", rep.packs_gone, moved);
        }
    }
    /* Packs an earlier refresh found unnamed but present: deleted by now? (The other process's prune
     * deletes them right after their index files; a pack this process still counts as present would
     * be reported missing by verify.) */
    for (uint32_t p = 0;; p++) {
        repo_id_t id;
        uint64_t size = 0;
        int st;
        pthread_mutex_lock(&repo->mu);
        if (p >= repo->npacks) {
            pthread_mutex_unlock(&repo->mu);
            break;
        }
        st = repo->packs[p].retired && repo->packs[p].state == REPO_PACK_SEALED;
        id = repo->packs[p].id;
        pthread_mutex_unlock(&repo->mu);
        if (!st) continue;
        repo_id_to_hex(&id, hex);
        if (repo->be->ops->stat(repo->be, REPO_OBJ_PACK, hex, &size) != -ENOENT) continue;
        pthread_mutex_lock(&repo->mu);
        repo->packs[p].state = REPO_PACK_DELETED;
        pthread_mutex_unlock(&repo->mu);
    }
    if (rep.full && !read_failed)
        for (k = 0; k < ngone; k++) {
            repo_id_to_hex(&gone[k], hex);
            repo_ixn_forget(repo, hex);
        }
    if (rep.files_new || rep.files_gone)
        log_info("repo: refresh: %u new index file(s) with %u pack(s), %u index file(s) gone", rep.files_new,
                 rep.packs_added, rep.files_gone);
out:
    if (rc == 0) {
        pthread_mutex_lock(&repo->mu);
        if (seq > repo->refresh_ok_seq) repo->refresh_ok_seq = seq;
        pthread_mutex_unlock(&repo->mu);
    }
    pthread_mutex_unlock(&repo->flush_mu);
    pthread_mutex_unlock(&repo->maint_mu);
    for (k = 0; k < c.n; k++) free((void *)c.v[k].ents);
    free(c.v);
    free(c.seen);
    free(gone);
    free(l.v);
    if (out) *out = rep;
    return rc;
}

void repo_set_shared(struct repo *repo, int on)
{
    pthread_mutex_lock(&repo->mu);
    repo->shared = on;
    repo->on_miss = on ? repo_refresh_on_miss : NULL;
    pthread_mutex_unlock(&repo->mu);
}

/* MISS_BUSY_TRIES: while another refresh of this process holds maint_mu (a job's reload), a read
 * that misses tries again every 100 ms, 10 s at most. */
#define MISS_BUSY_TRIES 100

int repo_refresh_on_miss(struct repo *repo, uint64_t need, int not_indexed)
{
    int got = 0;
    pthread_mutex_lock(&repo->miss_mu); /* one at a time: the others find the refresh they need done */
    for (int tries = 0; tries < MISS_BUSY_TRIES; tries++) {
        int64_t now = util_time_mono();
        uint64_t ok;
        int shared, go = 1, rc;
        pthread_mutex_lock(&repo->mu);
        ok = repo->refresh_ok_seq;
        shared = repo->shared;
        if (shared && ok <= need && not_indexed) { /* a blob the index lacks: at most one listing a second */
            go = repo->miss_refresh_mono == 0 || now - repo->miss_refresh_mono >= 1000000;
            if (go) repo->miss_refresh_mono = now;
        }
        pthread_mutex_unlock(&repo->mu);
        if (!shared) break;
        if (ok > need) {
            got = 1;
            break;
        }
        if (!go) { /* one that was running when the read missed may have loaded it: one more lookup */
            got = ok != 0 && ok == need;
            break;
        }
        rc = repo_index_refresh(repo, NULL);
        if (rc == 0) continue; /* ok is above need now */
        if (rc != -EBUSY) break;
        usleep(100 * 1000);
    }
    pthread_mutex_unlock(&repo->miss_mu);
    return got;
}
