/* tz.c: a reader for compiled IANA zone files (TZif, RFC 8536) and a cache of loaded zones.
 *
 * We keep only what the scheduler needs: the list of transition instants and, for each, the UTC
 * offset that starts there. Version 2+ files carry a second, 64-bit copy of the data after the
 * 32-bit one; we skip to it when present. Every count read from the file is checked against the
 * bytes that remain before it is used. The POSIX-TZ footer of v2+ files (the rule for instants after
 * the last transition) is not interpreted: Debian's "fat" zone files list transitions to 2037, and
 * later instants keep the last offset. The cache is a mutex-guarded list; entries are never freed
 * before sched_tz_release_all, so callers may keep the pointers. */
#include "sched/tz.h"
#include "util/fsio.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_MAX_FILE (1u << 20)
#define TZ_MAX_NAME 128

struct sched_tz {
    size_t n;          /* transitions */
    int64_t *at;       /* transition instants, ascending */
    int32_t *off;      /* offset in force from at[i] on */
    int32_t off0;      /* offset before the first transition */
};

struct tz_cache_entry {
    char *name;
    struct sched_tz *tz;   /* NULL: known not to exist */
    struct tz_cache_entry *next;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz_cache_entry *g_cache;

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

struct tzif_counts { uint32_t isut, isstd, leap, time, type, chr; };

static int read_header(const uint8_t *p, size_t len, struct tzif_counts *c, int *version)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0) return -1;
    *version = p[4] ? p[4] - '0' : 1;
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chr = be32(p + 40);
    if (c->type == 0 || c->type > 256 || c->time > 100000 || c->leap > 100000 || c->chr > 100000 ||
        c->isut > 256 || c->isstd > 256)
        return -1;
    return 0;
}

/* block_len: bytes of the data block after a header, with time values of tsize bytes. */
static uint64_t block_len(const struct tzif_counts *c, unsigned tsize)
{
    return (uint64_t)c->time * tsize + c->time + (uint64_t)c->type * 6 + c->chr +
           (uint64_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

struct sched_tz *sched_tz_parse(const uint8_t *data, size_t len)
{
    struct tzif_counts c;
    int version;
    unsigned tsize = 4;
    const uint8_t *p = data, *times, *idx, *types;
    struct sched_tz *tz;
    uint64_t need;
    if (read_header(p, len, &c, &version) != 0) return NULL;
    need = 44 + block_len(&c, 4);
    if (need > len) return NULL;
    if (version >= 2) { /* skip the 32-bit block to the 64-bit one */
        p += need;
        len -= (size_t)need;
        if (read_header(p, len, &c, &version) != 0) return NULL;
        tsize = 8;
        need = 44 + block_len(&c, 8);
        if (need > len) return NULL;
    }
    times = p + 44;
    idx = times + (size_t)c.time * tsize;
    types = idx + c.time;
    tz = calloc(1, sizeof *tz);
    if (!tz) return NULL;
    tz->n = c.time;
    if (c.time) {
        tz->at = calloc(c.time, sizeof *tz->at);
        tz->off = calloc(c.time, sizeof *tz->off);
        if (!tz->at || !tz->off) {
            sched_tz_free(tz);
            return NULL;
        }
    }
    for (uint32_t i = 0; i < c.time; i++) {
        uint8_t t = idx[i];
        tz->at[i] = tsize == 8 ? (int64_t)be64(times + 8 * (size_t)i) : (int64_t)(int32_t)be32(times + 4 * (size_t)i);
        if (t >= c.type || (i > 0 && tz->at[i] <= tz->at[i - 1])) {
            sched_tz_free(tz);
            return NULL;
        }
        tz->off[i] = (int32_t)be32(types + 6 * (size_t)t);
    }
    /* Before the first transition: the first non-DST type (RFC 8536 section 3.2), else type 0. */
    tz->off0 = (int32_t)be32(types);
    for (uint32_t t = 0; t < c.type; t++) {
        if (types[6 * (size_t)t + 4] == 0) {
            tz->off0 = (int32_t)be32(types + 6 * (size_t)t);
            break;
        }
    }
    for (uint32_t i = 0; i < c.time; i++)
        if (tz->off[i] < -26 * 3600 || tz->off[i] > 26 * 3600) {
            sched_tz_free(tz);
            return NULL;
        }
    return tz;
}

void sched_tz_free(struct sched_tz *tz)
{
    if (!tz) return;
    free(tz->at);
    free(tz->off);
    free(tz);
}

int32_t sched_tz_offset(const struct sched_tz *tz, int64_t utc_secs)
{
    size_t lo = 0, hi;
    if (!tz) return 0;
    if (tz->n == 0 || utc_secs < tz->at[0]) return tz->off0;
    hi = tz->n; /* find the last i with at[i] <= utc_secs */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= utc_secs) lo = mid;
        else hi = mid;
    }
    return tz->off[lo];
}

int64_t sched_tz_local_to_utc(const struct sched_tz *tz, int64_t local_secs)
{
    int32_t before = sched_tz_offset(tz, local_secs - 86400), after = sched_tz_offset(tz, local_secs + 86400);
    int64_t best = INT64_MAX;
    int32_t cand[2] = { before, after };
    for (int i = 0; i < 2; i++) {
        int64_t u = local_secs - cand[i];
        if (sched_tz_offset(tz, u) == cand[i] && u < best) best = u;
    }
    if (best != INT64_MAX) return best;
    return local_secs - before; /* in a gap */
}

static int safe_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= TZ_MAX_NAME || name[0] == '/' || strstr(name, "..")) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '+' || ch == '-' || ch == '/'))
            return 0;
    }
    return 1;
}

static struct sched_tz *load_file(const char *name)
{
    static const char *const dirs[] = { "/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char path[512];
        void *data;
        size_t len;
        struct sched_tz *tz;
        snprintf(path, sizeof path, "%s/%s", dirs[i], name);
        if (fsio_read_all(path, TZ_MAX_FILE, &data, &len) != 0) continue;
        tz = sched_tz_parse(data, len);
        free(data);
        if (tz) return tz;
    }
    return NULL;
}

const struct sched_tz *sched_tz_get(const char *name)
{
    struct tz_cache_entry *e;
    struct sched_tz *tz = NULL;
    if (!name || !safe_name(name)) return NULL;
    pthread_mutex_lock(&g_lock);
    for (e = g_cache; e; e = e->next) {
        if (strcmp(e->name, name) == 0) {
            pthread_mutex_unlock(&g_lock);
            return e->tz;
        }
    }
    tz = load_file(name);
    e = calloc(1, sizeof *e);
    if (e) e->name = strdup(name);
    if (!e || !e->name) {
        free(e);
        sched_tz_free(tz);
        pthread_mutex_unlock(&g_lock);
        return NULL;
    }
    e->tz = tz;
    e->next = g_cache;
    g_cache = e;
    pthread_mutex_unlock(&g_lock);
    return tz;
}

void sched_tz_release_all(void)
{
    pthread_mutex_lock(&g_lock);
    while (g_cache) {
        struct tz_cache_entry *e = g_cache;
        g_cache = e->next;
        sched_tz_free(e->tz);
        free(e->name);
        free(e);
    }
    pthread_mutex_unlock(&g_lock);
}
