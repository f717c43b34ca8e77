/* snapshot.c: snapshots, the roots from which everything else in the repository is reached.
 *
 * A snapshot is the engine's JSON document serialised compactly with sorted keys, sealed in an
 * envelope ("CFSN", AES-256-GCM, see crypto.c) and put as the write-once object
 * snapshots/<sha256 hex of the stored bytes>. repo_snapshot_write flushes first, so the packs and
 * index holding every blob the snapshot reaches are durable before the snapshot appears. */
#include "repo/repo_int.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAPSHOT_MAX ((size_t)64 << 20)

/* snap_name: the object name of a snapshot id (as given, once checked to be 64 hex digits). */
static int snap_name(const char *id_hex, char name[REPO_ID_HEX_LEN + 1])
{
    repo_id_t id;
    if (repo_id_from_hex(id_hex, &id) < 0) return -EINVAL;
    memcpy(name, id_hex, REPO_ID_HEX_LEN + 1);
    return 0;
}

int repo_snapshot_write(struct repo *repo, json_t *doc, char id_hex[REPO_ID_HEX_LEN + 1])
{
    return repo_snapshot_write_since(repo, doc, UINT64_MAX, id_hex);
}

int repo_snapshot_write_since(struct repo *repo, json_t *doc, uint64_t since, char id_hex[REPO_ID_HEX_LEN + 1])
{
    char *text;
    uint8_t *out = NULL, hash[32];
    size_t outlen = 0;
    int rc;
    if (!json_is_object(doc)) return -EINVAL;
    if (repo->remote) return repo->remote->snapshot_write(repo->remote_ctx, doc, id_hex);
    rc = repo_flush(repo); /* MUST: every blob durable before the snapshot names it */
    if (rc < 0) return rc;
    /* After the flush every seal has ended: a failure since the writer started may have lost a blob it
     * deduplicated against (UINT64_MAX: the caller takes that on itself). */
    if (since != UINT64_MAX && repo_write_epoch(repo) != since) return -ESTALE;
    text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) return -ENOMEM;
    if (strlen(text) > SNAPSHOT_MAX) {
        free(text);
        return -EFBIG;
    }
    rc = repo_env_seal(repo->enc_key, "CFSN", text, strlen(text), &out, &outlen);
    free(text);
    if (rc < 0) return rc;
    repo_sha256(out, outlen, hash);
    repo_id_to_hex((const repo_id_t *)hash, id_hex);
    rc = repo_backend_put_same(repo->be, REPO_OBJ_SNAPSHOT, id_hex, out, outlen);
    free(out);
    return rc;
}

int repo_snapshot_read(struct repo *repo, const char *id_hex, json_t **doc)
{
    char name[REPO_ID_HEX_LEN + 1];
    void *data = NULL;
    uint8_t *plain = NULL, hash[32];
    size_t len = 0, plen = 0;
    repo_id_t want;
    int rc;
    *doc = NULL;
    rc = snap_name(id_hex, name);
    if (rc < 0) return rc;
    if (repo->remote) return repo->remote->snapshot_read(repo->remote_ctx, id_hex, doc);
    repo_id_from_hex(id_hex, &want);
    rc = repo->be->ops->get_all(repo->be, REPO_OBJ_SNAPSHOT, name,
                                SNAPSHOT_MAX + 8 + REPO_AEAD_OVERHEAD, &data, &len);
    if (rc == -ENOENT) repo_damage_setf("snapshot %s is missing from the repository", id_hex);
    else if (rc == -EFBIG) repo_damage_setf("snapshot %s is damaged (too large)", id_hex);
    if (rc == -EFBIG) rc = -EBADMSG;
    if (rc < 0) return rc;
    repo_sha256(data, len, hash);
    if (memcmp(hash, want.b, sizeof hash) != 0) rc = -EBADMSG;
    if (rc == 0) rc = repo_env_open(repo->enc_key, "CFSN", data, len, &plain, &plen);
    if (rc == 0) {
        *doc = json_loadb((const char *)plain, plen, 0, NULL);
        if (!*doc || !json_is_object(*doc)) {
            json_decref(*doc);
            *doc = NULL;
            rc = -EBADMSG;
        }
    }
    free(data);
    if (rc == -EBADMSG)
        repo_damage_setf("snapshot %s is damaged (its file fails its hash or authentication)",
                         id_hex);
    return rc;
}

static int cmp_hex(const void *a, const void *b) { return strcmp(a, b); }

struct snap_names {
    char (*v)[REPO_ID_HEX_LEN + 1];
    size_t n, cap;
};

static int snap_listed(void *arg, const char *name)
{
    struct snap_names *sn = arg;
    repo_id_t id;
    if (repo_id_from_hex(name, &id) < 0) return 0; /* strangers */
    if (sn->n == sn->cap) {
        size_t ncap = sn->cap ? sn->cap * 2 : 32;
        void *nn = realloc(sn->v, ncap * sizeof *sn->v);
        if (!nn) return -ENOMEM;
        sn->v = nn;
        sn->cap = ncap;
    }
    repo_id_to_hex(&id, sn->v[sn->n++]); /* canonical lower case */
    return 0;
}

/* repo_snapshot_list: ids sorted, so listings are stable. */
int repo_snapshot_list(struct repo *repo, json_t **ids)
{
    struct snap_names sn = { 0 };
    json_t *arr;
    int rc;
    *ids = NULL;
    rc = repo->be->ops->list(repo->be, REPO_OBJ_SNAPSHOT, snap_listed, &sn);
    arr = rc == 0 ? json_array() : NULL;
    if (sn.n) qsort(sn.v, sn.n, sizeof *sn.v, cmp_hex);
    for (size_t k = 0; arr && k < sn.n; k++)
        if (json_array_append_new(arr, json_string(sn.v[k])) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    free(sn.v);
    if (!arr) return rc ? rc : -ENOMEM;
    *ids = arr;
    return 0;
}

int repo_snapshot_forget_as(struct repo *repo, const char *id_hex, int data_security)
{
    char name[REPO_ID_HEX_LEN + 1], msg[256];
    int rc = snap_name(id_hex, name);
    if (rc < 0) return rc;
    if (repo->remote) return -EPERM;   /* a remote writer (an agent) never forgets */
    if ((rc = repo_retain_check(repo, name, util_time_now(), data_security, msg, sizeof msg)) < 0) {
        log_warn("repo: refused to forget snapshot %.16s: %s", name, msg);
        return rc;
    }
    return repo->be->ops->del(repo->be, REPO_OBJ_SNAPSHOT, name);
}

int repo_snapshot_forget(struct repo *repo, const char *id_hex)
{
    return repo_snapshot_forget_as(repo, id_hex, 0);
}
