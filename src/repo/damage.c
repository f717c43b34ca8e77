/* damage.c: the damaged-blob list, and the sentence that names the last damage a thread found.
 *
 * When a read finds a stored blob damaged (authentication, decompression or id check failed, or
 * its pack is shorter than the index says), the (blob id, pack) pair goes on a list kept in memory
 * (an open-addressing set under repo->mu) and on disk in <repo>/damaged, rewritten whole with the
 * durable-write protocol (fsio_write_atomic) each time a new pair is found. repo_blob_put and
 * repo_blob_exists treat an id whose current copy is on the list as absent, so the next backup
 * stores the data afresh; the new copy then wins in the index, at once and, through
 * repo_damage_prefer_good, at every later open. The file format is docs/repository-format.md
 * section 13. Pairs are never removed: a pair only ever says that one copy is bad.
 *
 * Concurrency: the set is guarded by repo->mu; saves are serialised by repo->dmg_save_mu and
 * write a copy of the set taken under repo->mu, so a save never loses a pair added meanwhile
 * (a generation counter lets a later saver skip a write an earlier one already made). */
#include "repo/repo_int.h"
#include "util/fsio.h"
#include "util/log.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DMG_MAGIC "CFDB"
#define DMG_PAIR_LEN (2 * REPO_ID_LEN)
#define DMG_MAX_PAIRS (1u << 20)       /* 64 MiB of file: far beyond any repository worth reading */

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
    memset(&repo->dmg, 0, sizeof repo->dmg);
}

static int dmg_path(const struct repo *repo, char *buf, size_t len)
{
    return snprintf(buf, len, "%s/damaged", repo->dir) >= (int)len ? -ENAMETOOLONG : 0;
}

/* dmg_save: writes the whole list if it changed since the last save. */
static int dmg_save(struct repo *repo)
{
    char path[4096];
    uint8_t *plain = NULL, *out = NULL;
    size_t n = 0, outlen = 0;
    uint64_t gen;
    int rc;
    if ((rc = dmg_path(repo, path, sizeof path)) < 0) return rc;
    pthread_mutex_lock(&repo->dmg_save_mu);
    pthread_mutex_lock(&repo->mu);
    gen = repo->dmg.gen;
    if (gen == repo->dmg.saved_gen) {
        pthread_mutex_unlock(&repo->mu);
        pthread_mutex_unlock(&repo->dmg_save_mu);
        return 0;
    }
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
    if (rc == 0) rc = fsio_write_atomic(path, out, outlen, 0600);
    free(out);
    if (rc == 0) {
        pthread_mutex_lock(&repo->mu);
        if (repo->dmg.saved_gen < gen) repo->dmg.saved_gen = gen;
        pthread_mutex_unlock(&repo->mu);
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

int repo_dmg_load(struct repo *repo)
{
    char path[4096];
    void *data = NULL;
    uint8_t *plain = NULL;
    size_t len = 0, plen = 0;
    uint32_t count = 0, dropped = 0;
    int rc;
    if ((rc = dmg_path(repo, path, sizeof path)) < 0) return rc;
    rc = fsio_read_all(path, 8 + REPO_AEAD_OVERHEAD + 4 + (size_t)DMG_MAX_PAIRS * DMG_PAIR_LEN,
                       &data, &len);
    if (rc == -ENOENT) return 0; /* no damage ever found */
    if (rc == 0) rc = repo_env_open(repo->enc_key, DMG_MAGIC, data, len, &plain, &plen);
    if (rc == 0 && (plen < 4 || (count = repo_get_u32(plain)) > DMG_MAX_PAIRS ||
                    plen != 4 + (size_t)count * DMG_PAIR_LEN))
        rc = -EBADMSG;
    if (rc < 0) {
        /* Tolerated: without the list, damage is found again by the next read of it. */
        log_warn("repo: damaged-blob list %s is unreadable (%s); it is ignored", path,
                 strerror(-rc));
        free(data);
        return rc == -ENOMEM ? rc : 0;
    }
    pthread_mutex_lock(&repo->mu);
    for (uint32_t k = 0; k < count && rc >= 0; k++) {
        repo_id_t blob, pid;
        int no;
        memcpy(blob.b, plain + 4 + (size_t)k * DMG_PAIR_LEN, REPO_ID_LEN);
        memcpy(pid.b, plain + 4 + (size_t)k * DMG_PAIR_LEN + REPO_ID_LEN, REPO_ID_LEN);
        no = repo_packmap_find(repo, &pid);
        if (no < 0) {
            dropped++; /* its pack is gone from the repository: nothing can reach that copy */
            continue;
        }
        rc = dmg_add(repo, &blob, (uint32_t)no);
    }
    repo->dmg.saved_gen = repo->dmg.gen; /* dropped pairs leave the file at its next write */
    pthread_mutex_unlock(&repo->mu);
    free(data);
    if (rc < 0) return rc;
    if (count) log_info("repo: %u damaged blob copies are listed in %s", count - dropped, path);
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
