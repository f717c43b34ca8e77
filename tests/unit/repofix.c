/* repofix.c: the repository fixtures of repofix.h, on the real engine and repository (eng_backup,
 * eng_restore, repo_verify) and tests/check.c's tree comparison. */
#include "repofix.h"
#include "check.h"
#include "engine/engine.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void repofix_fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 12345;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

int repofix_write_seeded(const char *path, size_t len, uint64_t seed)
{
    uint8_t *buf = malloc(len ? len : 1);
    int fd, rc = -1;
    if (!buf) return -1;
    repofix_fill(buf, len, seed);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        rc = write(fd, buf, len) == (ssize_t)len ? 0 : -1;
        if (fsync(fd) < 0) rc = -1;
        close(fd);
    }
    free(buf);
    return rc;
}

int repofix_backup(struct repo *r, const char *dir, json_t *meta, int threads,
                   void (*hook)(void *, const char *), char id[REPO_ID_HEX_LEN + 1])
{
    const char *inc[1] = { dir };
    struct eng_backup_opts o = { .include_paths = inc, .n_include = 1, .snapshot_meta = meta,
                                 .threads = threads, .on_before_open = hook };
    struct eng_backup_result res;
    char err[512];
    int rc = eng_backup(r, &o, &res, err, sizeof err);
    if (rc == 0) memcpy(id, res.snapshot_id, REPO_ID_HEX_LEN + 1);
    else fprintf(stderr, "backup of %s failed: %s\n", dir, err);
    eng_backup_result_release(&res);
    return rc;
}

int repofix_restore_equal(struct repo *r, const char *id, const char *dir, const char *expect,
                          const char *work)
{
    char target[1200], got[2400], err[512], msg[512];
    struct eng_restore_opts o = { .target_dir = target, .overwrite = 1 };
    struct eng_restore_result res;
    int rc, n = 0;
    snprintf(target, sizeof target, "%s/restore", work);
    check_rm_rf(target);
    rc = eng_restore(r, id, &o, &res, err, sizeof err);
    eng_restore_result_release(&res);
    if (rc != 0) {
        fprintf(stderr, "restore of %.16s failed: %s\n", id, err);
        return -1;
    }
    snprintf(got, sizeof got, "%s%s", target, dir);
    rc = check_trees_equal(expect, got, 0, NULL, NULL, msg, sizeof msg, &n);
    if (rc != 0) fprintf(stderr, "snapshot %.16s differs: %s\n", id, msg);
    check_rm_rf(target);
    return rc == 0 && n > 1 ? 0 : 1;
}

int repofix_verify_clean(struct repo *r, int read_data)
{
    json_t *rep = NULL;
    int ok = repo_verify(r, read_data, &rep) == 0 && json_is_true(json_object_get(rep, "ok"));
    if (!ok && rep) {
        char *s = json_dumps(rep, JSON_COMPACT);
        fprintf(stderr, "verify: %.2000s\n", s ? s : "?");
        free(s);
    }
    json_decref(rep);
    return ok;
}

uint64_t repofix_pack_bytes(struct repo *r)
{
    struct repo_stats st;
    repo_get_stats(r, &st);
    return st.pack_bytes;
}
