/* retain.c: data locks (WORM) and legal holds kept in the repository itself (repo.h), so that they
 * hold when the catalog is lost or edited.
 *
 * A snapshot's lock is a chain of write-once objects retain/<snapshot id>-<generation, 16 hex>,
 * each a JSON document {kind:"retain", snapshot, mode, until_usecs, legal_hold, generation,
 * time_usecs}; the highest generation is the lock. A change (extend, legal hold set or lifted,
 * an Administrative lock lifted by the data-security key) writes the next generation with put
 * "if absent", so two writers of one generation cannot both win and nothing is edited in place.
 * The rules (docs/repository-format.md section 16): a Compliance lock in force may only be
 * extended; an Administrative one may be shortened or lifted only with the data-security right;
 * a legal hold keeps the snapshot whatever its lock says until lifted. A locked generation is
 * also retained by the backend (the lock object and the snapshot document) until its end, so
 * even a caller below this file cannot delete them: COMPLIANCE for Compliance, GOVERNANCE for
 * Administrative (lifted here when the data-security right lifts the lock); a legal hold is also
 * set on the snapshot document where the backend has holds (S3 object legal hold). Listing a snapshot's generations lists the
 * retain/ type (one object per change); bounded by the repository's objects. */
#include "repo/repo_int.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETAIN_DOC_MAX 4096

const char *repo_lock_mode_name(enum repo_lock_mode m)
{
    return m == REPO_LOCK_COMPLIANCE ? "Compliance" : m == REPO_LOCK_ADMINISTRATIVE ? "Administrative" : "none";
}

static int retain_name(char *buf, size_t len, const char *sid, uint64_t gen)
{
    int n = snprintf(buf, len, "%s-%016" PRIx64, sid, gen);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int sid_ok(const char *sid)
{
    repo_id_t id;
    return sid && repo_id_from_hex(sid, &id) == 0;
}

struct gen_scan {
    const char *sid;
    uint64_t max;
};

static int gen_listed(void *ctx, const char *name)
{
    struct gen_scan *g = ctx;
    char *end;
    uint64_t gen;
    if (strncmp(name, g->sid, REPO_ID_HEX_LEN) != 0 || name[REPO_ID_HEX_LEN] != '-') return 0;
    gen = strtoull(name + REPO_ID_HEX_LEN + 1, &end, 16);
    if (*end || end != name + REPO_ID_HEX_LEN + 17) return 0;
    if (gen > g->max) g->max = gen;
    return 0;
}

int repo_retain_get(struct repo *repo, const char *sid, struct repo_retain *out)
{
    struct gen_scan g = { sid, 0 };
    char name[REPO_ID_HEX_LEN + 24];
    void *data = NULL;
    size_t len = 0;
    json_t *doc;
    const char *mode;
    int rc;
    memset(out, 0, sizeof *out);
    if (!sid_ok(sid)) return -EINVAL;
    if ((rc = repo->be->ops->list(repo->be, REPO_OBJ_RETAIN, gen_listed, &g)) < 0) return rc;
    if (g.max == 0) return 0;
    if ((rc = retain_name(name, sizeof name, sid, g.max)) < 0) return rc;
    if ((rc = repo->be->ops->get_all(repo->be, REPO_OBJ_RETAIN, name, RETAIN_DOC_MAX, &data, &len)) < 0)
        return rc;
    doc = json_loadb(data, len, 0, NULL);
    free(data);
    mode = json_string_value(json_object_get(doc, "mode"));
    if (!doc || !mode || !json_is_integer(json_object_get(doc, "until_usecs"))) {
        /* Objects appear whole: this is damage. Keep the snapshot as strictly as possible. */
        json_decref(doc);
        log_error("repo: lock object %s cannot be read: the snapshot is kept as Compliance-locked", name);
        out->mode = REPO_LOCK_COMPLIANCE;
        out->until_usecs = REPO_RETAIN_FOREVER;
        out->legal_hold = 1;
        out->generation = g.max;
        return 0;
    }
    out->mode = strcmp(mode, "Compliance") == 0       ? REPO_LOCK_COMPLIANCE
                : strcmp(mode, "Administrative") == 0 ? REPO_LOCK_ADMINISTRATIVE
                                                      : REPO_LOCK_NONE;
    out->until_usecs = json_integer_value(json_object_get(doc, "until_usecs"));
    out->legal_hold = json_is_true(json_object_get(doc, "legal_hold"));
    out->generation = g.max;
    json_decref(doc);
    return 0;
}

/* fmt_until: the lock's end as an ISO 8601 UTC time ("no end" for REPO_RETAIN_FOREVER). */
static const char *fmt_until(int64_t until, char *buf, size_t len)
{
    time_t t;
    struct tm tm;
    if (until == REPO_RETAIN_FOREVER || until / 1000000 > 253402300799LL) {
        snprintf(buf, len, "no end");
        return buf;
    }
    t = (time_t)(until / 1000000);
    if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) snprintf(buf, len, "%" PRId64, until);
    return buf;
}

static int in_force(const struct repo_retain *r, int64_t now)
{
    return r->mode != REPO_LOCK_NONE && r->until_usecs > now;
}

int repo_retain_check(struct repo *repo, const char *sid, int64_t now, int data_security, char *msg,
                      size_t msglen)
{
    struct repo_retain r;
    char when[40];
    int rc = repo_retain_get(repo, sid, &r);
    if (msg && msglen) msg[0] = '\0';
    if (rc < 0) {
        repo_seterr(msg, msglen, "the lock of snapshot %.16s cannot be read: %s", sid, strerror(-rc));
        return rc == -EINVAL ? rc : -EIO;
    }
    if (r.legal_hold) {
        repo_seterr(msg, msglen, "snapshot %.16s is on legal hold (lock object retain/%.16s-%" PRIu64
                    ", %s lock until %s): lift the hold first", sid, sid, r.generation,
                    repo_lock_mode_name(r.mode), fmt_until(r.until_usecs, when, sizeof when));
        return -EBUSY;
    }
    if (!in_force(&r, now)) return 0;
    if (r.mode == REPO_LOCK_ADMINISTRATIVE && data_security) return 0;
    repo_seterr(msg, msglen, "snapshot %.16s is under a %s data lock until %s (lock object retain/%.16s-%" PRIu64
                ")%s", sid, repo_lock_mode_name(r.mode), fmt_until(r.until_usecs, when, sizeof when), sid,
                r.generation, r.mode == REPO_LOCK_COMPLIANCE ? ": no one can delete it before then"
                                                              : ": only the data-security key can delete it");
    return r.mode == REPO_LOCK_COMPLIANCE ? -EPERM : -EACCES;
}

int repo_retain_set(struct repo *repo, const char *sid, const struct repo_retain *want, int data_security,
                    int dry_run, char *msg, size_t msglen)
{
    struct repo_retain cur;
    int64_t now = util_time_now();
    char name[REPO_ID_HEX_LEN + 24], when[40], *text;
    json_t *doc;
    int rc;
    if (msg && msglen) msg[0] = '\0';
    if (!sid_ok(sid) || want->until_usecs <= 0) return -EINVAL;
    if ((rc = repo_retain_get(repo, sid, &cur)) < 0) {
        repo_seterr(msg, msglen, "the lock of snapshot %.16s cannot be read: %s", sid, strerror(-rc));
        return rc;
    }
    if (in_force(&cur, now)) {
        int weaker = want->mode < cur.mode || want->until_usecs < cur.until_usecs;
        if (weaker && (cur.mode == REPO_LOCK_COMPLIANCE || !data_security)) {
            repo_seterr(msg, msglen, "snapshot %.16s is under a %s data lock until %s (lock object "
                        "retain/%.16s-%" PRIu64 "): it may be extended, never shortened or removed%s",
                        sid, repo_lock_mode_name(cur.mode), fmt_until(cur.until_usecs, when, sizeof when), sid,
                        cur.generation, cur.mode == REPO_LOCK_COMPLIANCE ? "" : " without the data-security key");
            if (!dry_run) log_warn("repo: refused to weaken the lock of snapshot %.16s: %s", sid, msg ? msg : "");
            return cur.mode == REPO_LOCK_COMPLIANCE ? -EPERM : -EACCES;
        }
    }
    if (dry_run || (cur.generation && cur.mode == want->mode && cur.until_usecs == want->until_usecs &&
                    cur.legal_hold == want->legal_hold))
        return 0; /* checks only, or nothing changes */
    if ((rc = retain_name(name, sizeof name, sid, cur.generation + 1)) < 0) return rc;
    doc = json_pack("{s:s, s:s, s:s, s:I, s:b, s:I, s:I}", "kind", "retain", "snapshot", sid, "mode",
                    repo_lock_mode_name(want->mode), "until_usecs", (json_int_t)want->until_usecs, "legal_hold",
                    want->legal_hold ? 1 : 0, "generation", (json_int_t)(cur.generation + 1), "time_usecs",
                    (json_int_t)now);
    text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text) return -ENOMEM;
    rc = repo->be->ops->put(repo->be, REPO_OBJ_RETAIN, name, text, strlen(text));
    free(text);
    if (rc == -EEXIST) {
        repo_seterr(msg, msglen, "the lock of snapshot %.16s changed meanwhile: try again", sid);
        return -EAGAIN;
    }
    if (rc < 0) {
        repo_seterr(msg, msglen, "cannot write the lock of snapshot %.16s: %s", sid, strerror(-rc));
        return rc;
    }
    if (want->mode != REPO_LOCK_NONE) {
        /* WORM below this file too: neither the lock object nor the document goes before the end
         * (Compliance: no one lifts it; Administrative: a GOVERNANCE retention, which only this
         * file, after the data-security check above, shortens or lifts). */
        int m = want->mode == REPO_LOCK_COMPLIANCE ? REPO_RETAIN_COMPLIANCE : REPO_RETAIN_GOVERNANCE;
        rc = repo->be->ops->retain(repo->be, REPO_OBJ_RETAIN, name, want->until_usecs, m);
        if (rc == 0) rc = repo->be->ops->retain(repo->be, REPO_OBJ_SNAPSHOT, sid, want->until_usecs, m);
        if (rc < 0 && rc != -ENOENT) {
            repo_seterr(msg, msglen, "cannot retain snapshot %.16s in the storage: %s", sid, strerror(-rc));
            return rc;
        }
    } else if (cur.mode == REPO_LOCK_ADMINISTRATIVE && in_force(&cur, now)) {
        /* an Administrative lock lifted with the data-security right: its GOVERNANCE retention goes */
        rc = repo->be->ops->retain(repo->be, REPO_OBJ_SNAPSHOT, sid, now, REPO_RETAIN_GOVERNANCE);
        if (rc < 0 && rc != -ENOENT) log_warn("repo: cannot lift the storage retention of snapshot %.16s: %s", sid, strerror(-rc));
    }
    if (repo->be->ops->hold && want->legal_hold != cur.legal_hold) {
        /* the legal hold as an object legal hold on the snapshot document (S3) */
        rc = repo->be->ops->hold(repo->be, REPO_OBJ_SNAPSHOT, sid, want->legal_hold);
        if (rc < 0 && rc != -ENOENT) {
            repo_seterr(msg, msglen, "cannot %s the legal hold of snapshot %.16s in the storage: %s",
                        want->legal_hold ? "set" : "lift", sid, strerror(-rc));
            return rc;
        }
    }
    log_info("repo: snapshot %.16s lock generation %" PRIu64 ": %s until %s%s", sid, cur.generation + 1,
             repo_lock_mode_name(want->mode), fmt_until(want->until_usecs, when, sizeof when),
             want->legal_hold ? ", legal hold" : "");
    return 0;
}
