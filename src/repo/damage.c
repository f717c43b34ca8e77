/* damage.c: the damaged-blob list, and the sentence that names the last damage a thread found.
 *
 * When a read finds a stored blob damaged (authentication, decompression or id check failed, or
 * its pack is shorter than the index says), the (blob id, pack) pair goes on a list kept in memory
 * (an open-addressing set under repo->mu) and in the repository as write-once objects
 * damaged/<sha256 hex of the object>: each save writes one object holding the whole list, then
 * deletes the objects it supersedes (those whose pairs were all in memory when it was taken). A
 * load merges every damaged/ object (a crash between a save's put and its deletes leaves several:
 * their union is the list), and the version-1 single file <repo>/damaged if one is left: its
 * pairs are merged, it is deleted and the merged list saved as an object. repo_blob_put and
 * repo_blob_exists treat an id whose current copy is on the list as absent, so the next backup
 * stores the data afresh; the new copy then wins in the index, at once and, through
 * repo_damage_prefer_good, at every later open. The file format is docs/repository-format.md
 * section 13. Pairs are never removed: a pair only ever says that one copy is bad.
 *
 * Concurrency: the set is guarded by repo->mu; saves are serialised by repo->dmg_save_mu and
 * write a copy of the set taken under repo->mu, so a save never loses a pair added meanwhile
 * (a generation counter lets a later saver skip a write an earlier one already made). */
#include "repo/repo_int.h"
#include "util/log.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DMG_MAGIC "CFDB"
#define DMG_PAIR_LEN (2 * REPO_ID_LEN)
#define DMG_MAX_PAIRS (1u << 20)       /* 64 MiB of file: far beyond any repository worth reading */
#define DMG_OBJ_MAX (8 + REPO_AEAD_OVERHEAD + 4 + (size_t)DMG_MAX_PAIRS * DMG_PAIR_LEN)

static _Thread_local char g_damage_note[400];

const char *repo_damage_last(void) { return g_damage_note; }

void repo_damage_clear(void) { g_damage_note[0] = '\0'; }

void repo_damage_setf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_damage_note, sizeof g_damage_note, fmt, ap);
    va_end(ap);
}

static inline uint32_t dmg_home(const uint8_t *id, uint32_t pack, uint32_t cap)
{
    uint64_t h;
    memcpy(&h, id, sizeof h); /* ids are keyed hashes: their bytes are uniform */
    h ^= (uint64_t)pack * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h & (cap - 1));
}

int repo_dmg_has(const struct repo *repo, const repo_id_t *id, uint32_t pack)
{
    const struct repo_dmg *d = &repo->dmg;
    if (d->count == 0) return 0; /* the hot path of a healthy repository: one branch */
    for (uint32_t i = dmg_home(id->b, pack, d->cap);; i = (i + 1) & (d->cap - 1)) {
        const struct repo_dmg_ent *s = &d->slots[i];
        if (!s->used) return 0;
        if (s->pack == pack && memcmp(s->id.b, id->b, REPO_ID_LEN) == 0) return 1;
    }
}

static void dmg_place(struct repo_dmg_ent *slots, uint32_t cap, const repo_id_t *id, uint32_t pack)
{
    uint32_t i = dmg_home(id->b, pack, cap);
    while (slots[i].used) i = (i + 1) & (cap - 1);
    slots[i].id = *id;
    slots[i].pack = pack;
    slots[i].used = 1;
}

/* dmg_add: 1 if the pair is new, 0 if known, negative errno. Lock held. */
static int dmg_add(struct repo *repo, const repo_id_t *id, uint32_t pack)
{
    struct repo_dmg *d = &repo->dmg;
    if (d->count && repo_dmg_has(repo, id, pack)) return 0;
    if (d->count >= DMG_MAX_PAIRS) return -ENOSPC;
    if ((uint64_t)(d->count + 1) * 2 > d->cap) { /* at most half full */
        uint32_t ncap = d->cap ? d->cap * 2 : 64;
        struct repo_dmg_ent *ns = calloc(ncap, sizeof *ns);
        if (!ns) return -ENOMEM;
        for (uint32_t k = 0; k < d->cap; k++)
            if (d->slots[k].used) dmg_place(ns, ncap, &d->slots[k].id, d->slots[k].pack);
        free(d->slots);
        d->slots = ns;
        d->cap = ncap;
    }
    dmg_place(d->slots, d->cap, id, pack);
    d->count++;
    d->gen++;
    return 1;
}

size_t repo_damaged_count(struct repo *repo)
{
    size_t n;
    pthread_mutex_lock(&repo->mu);
    n = repo->dmg.count;
    pthread_mutex_unlock(&repo->mu);
    return n;
}

void repo_dmg_free(struct repo *repo)
{
    free(repo->dmg.slots);
    free(repo->dmg.parts);
    memset(&repo->dmg, 0, sizeof repo->dmg);
}

/* parts_add: remembers a damaged/ object whose pairs are all in the set (lock held). */
static int parts_add(struct repo_dmg *d, const char *name)
{
    void *np = realloc(d->parts, (d->nparts + 1) * sizeof *d->parts);
    if (!np) return -ENOMEM;
    d->parts = np;
    snprintf(d->parts[d->nparts++], sizeof d->parts[0], "%s", name);
    return 0;
}

/* parts_supersede: after the object keep is durable, deletes the parts it supersedes (the ones
 * listed when its copy was taken: the first n) and leaves keep as the only part. */
static void parts_supersede(struct repo *repo, size_t n, const char *keep)
{
    char (*old)[REPO_ID_HEX_LEN + 1] = NULL;
    size_t nold = 0;
    pthread_mutex_lock(&repo->mu);
    if (n > repo->dmg.nparts) n = repo->dmg.nparts;
    if (n && (old = malloc(n * sizeof *old)) != NULL) {
        memcpy(old, repo->dmg.parts, n * sizeof *old);
        nold = n;
        memmove(repo->dmg.parts, repo->dmg.parts + n, (repo->dmg.nparts - n) * sizeof *old);
        repo->dmg.nparts -= n;
    }
    if (parts_add(&repo->dmg, keep) < 0) log_warn("repo: out of memory listing damaged/%s", keep);
    pthread_mutex_unlock(&repo->mu);
    for (size_t k = 0; k < nold; k++) {
        int rc;
        if (strcmp(old[k], keep) == 0) continue;
        rc = repo->be->ops->del(repo->be, REPO_OBJ_DAMAGED, old[k]);
        if (rc < 0 && rc != -ENOENT)
            log_warn("repo: cannot remove superseded damaged/%s: %s", old[k], strerror(-rc));
    }
    free(old);
}

/* dmg_save: writes the whole list as a new write-once object if it changed since the last
 * save, then deletes the objects it supersedes. */
static int dmg_save(struct repo *repo)
{
    uint8_t *plain = NULL, *out = NULL, hash[32];
    char name[REPO_ID_HEX_LEN + 1];
    size_t n = 0, outlen = 0, nparts = 0;
    uint64_t gen;
    int rc;
    pthread_mutex_lock(&repo->dmg_save_mu);
    pthread_mutex_lock(&repo->mu);
    gen = repo->dmg.gen;
    if (gen == repo->dmg.saved_gen) {
        pthread_mutex_unlock(&repo->mu);
        pthread_mutex_unlock(&repo->dmg_save_mu);
        return 0;
    }
    nparts = repo->dmg.nparts;
    plain = malloc(4 + (size_t)repo->dmg.count * DMG_PAIR_LEN);
    if (plain) {
        for (uint32_t k = 0; k < repo->dmg.cap; k++) {
            const struct repo_dmg_ent *s = &repo->dmg.slots[k];
            if (!s->used || s->pack >= repo->npacks) continue;
            memcpy(plain + 4 + n * DMG_PAIR_LEN, s->id.b, REPO_ID_LEN);
            memcpy(plain + 4 + n * DMG_PAIR_LEN + REPO_ID_LEN, repo->packs[s->pack].id.b,
                   REPO_ID_LEN);
            n++;
        }
        repo_put_u32(plain, (uint32_t)n);
    }
    pthread_mutex_unlock(&repo->mu);
    rc = plain ? repo_env_seal(repo->enc_key, DMG_MAGIC, plain, 4 + n * DMG_PAIR_LEN, &out,
                               &outlen)
               : -ENOMEM;
    free(plain);
    if (rc == 0) {
        repo_sha256(out, outlen, hash);
        repo_id_to_hex((const repo_id_t *)hash, name);
        rc = repo_backend_put_same(repo->be, REPO_OBJ_DAMAGED, name, out, outlen);
    }
    free(out);
    if (rc == 0) {
        pthread_mutex_lock(&repo->mu);
        if (repo->dmg.saved_gen < gen) repo->dmg.saved_gen = gen;
        pthread_mutex_unlock(&repo->mu);
        parts_supersede(repo, nparts, name);
    }
    pthread_mutex_unlock(&repo->dmg_save_mu);
    return rc;
}

int repo_damage_record(struct repo *repo, const repo_id_t *id, uint32_t pack, const char *why)
{
    char bhex[REPO_ID_HEX_LEN + 1], phex[REPO_ID_HEX_LEN + 1] = "?";
    int rc;
    repo_id_to_hex(id, bhex);
    pthread_mutex_lock(&repo->mu);
    if (pack < repo->npacks) repo_id_to_hex(&repo->packs[pack].id, phex);
    rc = pack < repo->npacks ? dmg_add(repo, id, pack) : -EINVAL;
    pthread_mutex_unlock(&repo->mu);
    repo_damage_setf("blob %.16s in pack %s is damaged (%s)", bhex, phex, why);
    if (rc <= 0) {
        if (rc < 0) log_warn("repo: cannot list damaged blob %s of pack %s: %s", bhex, phex,
                             strerror(-rc));
        return rc;
    }
    log_warn("repo: blob %s in pack %s is damaged (%s); the next backup of its data stores it "
             "again", bhex, phex, why);
    rc = dmg_save(repo);
    if (rc < 0) log_error("repo: cannot write the damaged-blob list: %s", strerror(-rc));
    return rc;
}

/* dmg_merge: adds the pairs of one stored list (an envelope) to the set; pairs naming a pack the
 * index does not know are dropped. 0, or negative when it is unreadable (-ENOMEM stops the load). */
static int dmg_merge(struct repo *repo, uint8_t *data, size_t len, uint32_t *kept)
{
    uint8_t *plain = NULL;
    size_t plen = 0;
    uint32_t count = 0;
    int rc = repo_env_open(repo->enc_key, DMG_MAGIC, data, len, &plain, &plen);
    if (rc == 0 && (plen < 4 || (count = repo_get_u32(plain)) > DMG_MAX_PAIRS ||
                    plen != 4 + (size_t)count * DMG_PAIR_LEN))
        rc = -EBADMSG;
    if (rc < 0) return rc;
    pthread_mutex_lock(&repo->mu);
    for (uint32_t k = 0; k < count && rc >= 0; k++) {
        repo_id_t blob, pid;
        int no;
        memcpy(blob.b, plain + 4 + (size_t)k * DMG_PAIR_LEN, REPO_ID_LEN);
        memcpy(pid.b, plain + 4 + (size_t)k * DMG_PAIR_LEN + REPO_ID_LEN, REPO_ID_LEN);
        no = repo_packmap_find(repo, &pid);
        if (no < 0) continue; /* its pack is gone from the repository: nothing reaches that copy */
        rc = dmg_add(repo, &blob, (uint32_t)no);
        if (rc > 0) (*kept)++;
    }
    pthread_mutex_unlock(&repo->mu);
    return rc < 0 ? rc : 0;
}

struct dmg_load_ctx {
    struct repo *repo;
    uint32_t kept;
};

static int dmg_load_one(void *arg, const char *name)
{
    struct dmg_load_ctx *lc = arg;
    struct repo *repo = lc->repo;
    void *data = NULL;
    size_t len = 0;
    uint8_t hash[32];
    char hex[REPO_ID_HEX_LEN + 1];
    repo_id_t dummy;
    int rc;
    if (repo_id_from_hex(name, &dummy) < 0) return 0;
    rc = repo->be->ops->get_all(repo->be, REPO_OBJ_DAMAGED, name, DMG_OBJ_MAX, &data, &len);
    if (rc == 0) {
        repo_sha256(data, len, hash);
        repo_id_to_hex((const repo_id_t *)hash, hex);
        rc = strcmp(hex, name) == 0 ? dmg_merge(repo, data, len, &lc->kept) : -EBADMSG;
    }
    free(data);
    if (rc == -ENOMEM) return rc;
    if (rc < 0) { /* tolerated: without it, damage is found again by the next read of it */
        log_warn("repo: damaged-blob list part damaged/%s is unreadable (%s); it is ignored", name,
                 strerror(-rc));
        return 0;
    }
    pthread_mutex_lock(&repo->mu);
    rc = parts_add(&repo->dmg, name);
    pthread_mutex_unlock(&repo->mu);
    return rc;
}

/* dmg_load_v1: merges and deletes the single list file of format version 1 (<repo>/damaged,
 * rewritten in place by older builds). 1 when its pairs must be saved as an object. */
static int dmg_load_v1(struct repo *repo, uint32_t *kept)
{
    void *data = NULL;
    size_t len = 0;
    uint32_t before = *kept;
    int rc = repo->be->ops->get_all(repo->be, REPO_OBJ_ROOT, "damaged", DMG_OBJ_MAX, &data, &len);
    if (rc == -ENOENT || rc == -EISDIR) return 0; /* none, or the damaged/ of this version */
    if (rc == 0) rc = dmg_merge(repo, data, len, kept);
    free(data);
    if (rc == -ENOMEM) return rc;
    if (rc < 0)
        log_warn("repo: damaged-blob list %s/damaged is unreadable (%s); it is ignored",
                 repo->dir, strerror(-rc));
    /* Its pairs are in memory and saved by the caller; the old file goes first (the local
     * backend keeps the new objects in a directory of the same name). A crash in between loses
     * the list, which readers tolerate: damage is found again by the next read of it. */
    rc = repo->be->ops->del(repo->be, REPO_OBJ_ROOT, "damaged");
    if (rc < 0 && rc != -ENOENT) {
        log_warn("repo: cannot remove the old damaged-blob list: %s", strerror(-rc));
        return 0;
    }
    return *kept > before;
}

int repo_dmg_load(struct repo *repo)
{
    struct dmg_load_ctx lc = { repo, 0 };
    int v1, rc;
    v1 = dmg_load_v1(repo, &lc.kept);
    if (v1 < 0) return v1;
    rc = repo->be->ops->list(repo->be, REPO_OBJ_DAMAGED, dmg_load_one, &lc);
    if (rc == -ENOMEM) return rc;
    if (rc < 0) log_warn("repo: cannot list the damaged-blob list: %s", strerror(-rc));
    pthread_mutex_lock(&repo->mu);
    /* Dropped pairs leave the stored list at its next save; a version-1 list is saved now. */
    repo->dmg.saved_gen = v1 ? repo->dmg.gen - 1 : repo->dmg.gen;
    pthread_mutex_unlock(&repo->mu);
    if (v1 && (rc = dmg_save(repo)) < 0)
        log_error("repo: cannot write the damaged-blob list: %s", strerror(-rc));
    if (lc.kept) log_info("repo: %u damaged blob copies are listed in %s", lc.kept, repo->dir);
    return 0;
}

/* is_bad: a copy that must not be read: its pack is missing or failed, or the pair is listed. */
static int is_bad(void *ctx, const repo_id_t *id, uint32_t pack)
{
    const struct repo *repo = ctx;
    uint8_t st;
    if (pack >= repo->npacks) return 1;
    st = repo->packs[pack].state;
    if (st == REPO_PACK_MISSING || st == REPO_PACK_FAILED) return 1;
    return repo_dmg_has(repo, id, pack);
}

/* can_use: a dead copy that may replace a bad one: in a sealed pack (an open pack's dead records
 * are writes in flight) and not listed as damaged. */
static int can_use(void *ctx, const repo_id_t *id, uint32_t pack)
{
    const struct repo *repo = ctx;
    if (pack >= repo->npacks || repo->packs[pack].state != REPO_PACK_SEALED) return 0;
    return !repo_dmg_has(repo, id, pack);
}

void repo_damage_prefer_good(struct repo *repo)
{
    int any = repo->dmg.count != 0;
    uint32_t switched;
    for (uint32_t k = 0; !any && k < repo->npacks; k++)
        any = repo->packs[k].state == REPO_PACK_MISSING || repo->packs[k].state == REPO_PACK_FAILED;
    if (!any) return;
    switched = repo_itab_prefer(&repo->idx, is_bad, can_use, repo);
    if (switched) log_info("repo: %u blob(s) read from a good copy instead of a damaged one",
                           switched);
}
