/* snapshot.c: snapshots, the roots from which everything else in the repository is reached.
 *
 * A snapshot is the engine's JSON document serialised compactly with sorted keys, sealed in an
 * envelope ("CFSN", AES-256-GCM, see crypto.c) and written to snapshots/<sha256 hex of the stored
 * bytes> with the durable write protocol. repo_snapshot_write flushes first, so the packs and index
 * holding every blob the snapshot reaches are on disk before the snapshot appears. */
#include "repo/repo_int.h"
#include "util/fsio.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SNAPSHOT_MAX ((size_t)64 << 20)

static int snap_path(const struct repo *repo, const char *id_hex, char *buf, size_t len)
{
    repo_id_t id;
    if (repo_id_from_hex(id_hex, &id) < 0) return -EINVAL;
    if (snprintf(buf, len, "%s/snapshots/%s", repo->dir, id_hex) >= (int)len) return -ENAMETOOLONG;
    return 0;
}

int repo_snapshot_write(struct repo *repo, json_t *doc, char id_hex[REPO_ID_HEX_LEN + 1])
{
    char *text, path[4096];
    uint8_t *out = NULL, hash[32];
    size_t outlen = 0;
    int rc;
    if (!json_is_object(doc)) return -EINVAL;
    rc = repo_flush(repo); /* MUST: every blob durable before the snapshot names it */
    if (rc < 0) return rc;
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
    rc = snap_path(repo, id_hex, path, sizeof path);
    if (rc == 0) rc = fsio_write_atomic(path, out, outlen, 0600);
    free(out);
    return rc;
}

int repo_snapshot_read(struct repo *repo, const char *id_hex, json_t **doc)
{
    char path[4096];
    void *data = NULL;
    uint8_t *plain = NULL, hash[32];
    size_t len = 0, plen = 0;
    repo_id_t want;
    int rc;
    *doc = NULL;
    rc = snap_path(repo, id_hex, path, sizeof path);
    if (rc < 0) return rc;
    repo_id_from_hex(id_hex, &want);
    rc = fsio_read_all(path, SNAPSHOT_MAX + 8 + REPO_AEAD_OVERHEAD, &data, &len);
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

/* repo_snapshot_list: ids sorted, so listings are stable. */
int repo_snapshot_list(struct repo *repo, json_t **ids)
{
    char dir[4096];
    char (*names)[REPO_ID_HEX_LEN + 1] = NULL;
    size_t n = 0, cap = 0;
    DIR *d;
    struct dirent *de;
    json_t *arr;
    int rc = 0;
    *ids = NULL;
    if (snprintf(dir, sizeof dir, "%s/snapshots", repo->dir) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    d = opendir(dir);
    if (!d) return -errno;
    while ((de = readdir(d)) != NULL) {
        repo_id_t id;
        if (repo_id_from_hex(de->d_name, &id) < 0) continue; /* temp files */
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            void *nn = realloc(names, ncap * sizeof *names);
            if (!nn) {
                rc = -ENOMEM;
                break;
            }
            names = nn;
            cap = ncap;
        }
        repo_id_to_hex(&id, names[n++]); /* canonical lower case */
    }
    closedir(d);
    arr = rc == 0 ? json_array() : NULL;
    if (n) qsort(names, n, sizeof *names, cmp_hex);
    for (size_t k = 0; arr && k < n; k++)
        if (json_array_append_new(arr, json_string(names[k])) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    free(names);
    if (!arr) return rc ? rc : -ENOMEM;
    *ids = arr;
    return 0;
}

int repo_snapshot_forget(struct repo *repo, const char *id_hex)
{
    char path[4096];
    int rc = snap_path(repo, id_hex, path, sizeof path);
    if (rc < 0) return rc;
    if (unlink(path) < 0) return -errno;
    return fsio_fsync_parent(path);
}
