/* svc.c: the operations of svc.h. Snapshot deletion collects the ids first (a catalog scan holds a
 * statement open) and then deletes them one by one through svc_snapshot_delete_as, which asks the
 * repository's data lock (repo/retain.c) before anything changes, so the lock holds on every path
 * (API, group deletion, the retention pass) whatever the catalog says; a run's lock is set on each
 * of its snapshots through svc_run_lock, checked for all before any is written; path checks and
 * download plans are engine reads (tree decryption) kept out of the API's handlers. */
#include "svc/svc.h"
#include "catalog/cat_snapshot.h"
#include "engine/engine.h"
#include "repo/repo.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <jansson.h>
#include <string.h>

int svc_snapshot_delete_as(struct cat *cat, struct repo *repo, const char *tenant, const char *snapshot_id,
                           int data_security, char *msg, size_t msglen)
{
    char why[320];
    int rc;
    if (msg && msglen) msg[0] = '\0';
    if (repo && (rc = repo_retain_check(repo, snapshot_id, util_time_now(), data_security, why, sizeof why)) < 0 &&
        rc != -EINVAL) {
        log_warn("refused to delete snapshot %s of tenant %s: %s", snapshot_id, tenant, why);
        if (msg && msglen) snprintf(msg, msglen, "%s", why);
        return rc;
    }
    rc = cat_snapshot_mark_deleted(cat, tenant, snapshot_id);
    if (rc == CAT_NOT_FOUND) return -ENOENT;
    if (rc != 0) return rc < 0 ? rc : -EIO;
    if (repo) {
        rc = repo_snapshot_forget_as(repo, snapshot_id, data_security);
        if (rc != 0 && rc != -ENOENT) log_warn("cannot forget snapshot %s: %s", snapshot_id, strerror(-rc));
    }
    return 0;
}

int svc_snapshot_expire(struct cat *cat, struct repo *repo, const char *tenant, const char *snapshot_id, int64_t now)
{
    char why[320];
    int rc;
    if (repo && (rc = repo_retain_check(repo, snapshot_id, now, 0, why, sizeof why)) < 0 && rc != -EINVAL) {
        log_warn("refused to delete snapshot %s of tenant %s: %s", snapshot_id, tenant, why);
        return rc;
    }
    rc = cat_snapshot_mark_expired(cat, tenant, snapshot_id, now);
    if (rc == CAT_NOT_FOUND) return -ENOENT; /* another node's pass took it, or it is no longer expired */
    if (rc != 0) return rc < 0 ? rc : -EIO;
    if (repo) {
        rc = repo_snapshot_forget_as(repo, snapshot_id, 0);
        if (rc != 0 && rc != -ENOENT) log_warn("cannot forget snapshot %s: %s", snapshot_id, strerror(-rc));
    }
    return 0;
}

int svc_snapshot_delete(struct cat *cat, struct repo *repo, const char *tenant, const char *snapshot_id)
{
    return svc_snapshot_delete_as(cat, repo, tenant, snapshot_id, 0, NULL, 0);
}

struct collect {
    json_t *ids;
    int skip_held;
};

static int collect_cb(void *ud, const struct cat_snapshot *s)
{
    struct collect *c = ud;
    if (c->skip_held && s->on_legal_hold) return 0;
    return json_array_append_new(c->ids, json_string(s->id)) != 0;
}

static int delete_all(struct cat *cat, struct repo *repo, const char *tenant, const struct cat_snapshot_filter *f,
                      int skip_held, int data_security)
{
    struct collect c = { json_array(), skip_held };
    size_t i;
    json_t *v;
    int n = 0, rc;
    if (!c.ids) return -ENOMEM;
    rc = cat_snapshot_list(cat, tenant, f, collect_cb, &c);
    if (rc < 0) {
        json_decref(c.ids);
        return rc;
    }
    json_array_foreach(c.ids, i, v) {
        rc = svc_snapshot_delete_as(cat, repo, tenant, json_string_value(v), data_security, NULL, 0);
        if (rc == 0) n++;
        else log_warn("cannot delete snapshot %s of tenant %s: %s", json_string_value(v), tenant, strerror(-rc));
    }
    json_decref(c.ids);
    return n;
}

/* run_snapshot_ids: the ids of every snapshot of a run (deleted ones included); caller decrefs. */
static int run_snapshot_ids(struct cat *cat, const char *tenant, const char *group_id, int64_t run_usecs,
                            json_t **ids)
{
    struct cat_snapshot_filter f = { .object_id = -1, .source_id = -1, .run_from_usecs = run_usecs,
                                     .run_to_usecs = run_usecs, .include_deleted = 1 };
    struct collect c = { json_array(), 0 };
    json_t *gids = json_pack("[s]", group_id);
    int rc;
    *ids = NULL;
    if (!gids || !c.ids) {
        json_decref(gids);
        json_decref(c.ids);
        return -ENOMEM;
    }
    f.group_ids = gids;
    rc = cat_snapshot_list(cat, tenant, &f, collect_cb, &c);
    json_decref(gids);
    if (rc < 0) {
        json_decref(c.ids);
        return rc;
    }
    *ids = c.ids;
    return 0;
}

int svc_run_snapshots_delete_as(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id,
                                int64_t run_usecs, int data_security)
{
    struct cat_snapshot_filter f = { .object_id = -1, .source_id = -1, .run_from_usecs = run_usecs,
                                     .run_to_usecs = run_usecs, .include_deleted = 1 };
    json_t *gids = json_pack("[s]", group_id);
    int rc;
    if (!gids) return -ENOMEM;
    f.group_ids = gids;
    rc = delete_all(cat, repo, tenant, &f, 0, data_security);
    json_decref(gids);
    return rc;
}

int svc_run_snapshots_delete(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id,
                             int64_t run_usecs)
{
    return svc_run_snapshots_delete_as(cat, repo, tenant, group_id, run_usecs, 0);
}

int svc_run_delete_check(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id,
                         int64_t run_usecs, int data_security, char *msg, size_t msglen)
{
    json_t *ids, *v;
    size_t i;
    int64_t now = util_time_now();
    int rc;
    if (msg && msglen) msg[0] = '\0';
    if (!repo) return 0;
    if ((rc = run_snapshot_ids(cat, tenant, group_id, run_usecs, &ids)) < 0) return rc;
    json_array_foreach(ids, i, v) {
        rc = repo_retain_check(repo, json_string_value(v), now, data_security, msg, msglen);
        if (rc == -EINVAL) rc = 0; /* not a repository snapshot id (an older row): nothing locked there */
        if (rc < 0) break;
    }
    json_decref(ids);
    return rc;
}

int svc_run_lock(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id, int64_t run_usecs,
                 int mode, int64_t until_usecs, int legal_hold, int data_security, int dry_run, char *msg,
                 size_t msglen)
{
    json_t *ids, *v;
    size_t i;
    int rc;
    if (msg && msglen) msg[0] = '\0';
    if (!repo) return -EAGAIN;
    if ((rc = run_snapshot_ids(cat, tenant, group_id, run_usecs, &ids)) < 0) return rc;
    /* Every snapshot is checked before any lock object is written. */
    for (int pass = 0; rc == 0 && pass < (dry_run ? 1 : 2); pass++) {
        json_array_foreach(ids, i, v) {
            const char *sid = json_string_value(v);
            struct repo_retain cur, want;
            if ((rc = repo_retain_get(repo, sid, &cur)) < 0) {
                if (rc == -EINVAL) rc = 0;
                else if (msg && msglen) snprintf(msg, msglen, "the lock of snapshot %.16s cannot be read", sid);
                if (rc < 0) break;
                continue;
            }
            want.mode = mode >= 0 ? (enum repo_lock_mode)mode : cur.mode;
            want.until_usecs = until_usecs >= 0 ? until_usecs : cur.generation ? cur.until_usecs : REPO_RETAIN_FOREVER;
            want.legal_hold = legal_hold >= 0 ? legal_hold : cur.legal_hold;
            want.generation = 0;
            if (want.mode == REPO_LOCK_NONE && !want.legal_hold && !cur.generation) continue; /* nothing to keep */
            rc = repo_retain_set(repo, sid, &want, data_security, pass == 0, msg, msglen);
            if (rc < 0) {
                if (pass == 0) log_warn("refused to change the data lock of run %" PRId64 " of group %s: %s",
                                        run_usecs, group_id, msg ? msg : "");
                break;
            }
        }
    }
    json_decref(ids);
    return rc;
}

int svc_group_snapshots_delete(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id)
{
    struct cat_snapshot_filter f = { .object_id = -1, .source_id = -1 };
    json_t *gids = json_pack("[s]", group_id);
    int rc;
    if (!gids) return -ENOMEM;
    f.group_ids = gids;
    rc = delete_all(cat, repo, tenant, &f, 1, 0);
    json_decref(gids);
    return rc;
}

int svc_recovery_check_path(struct repo *repo, const char *snapshot_id, const char *path, struct tree_entry *out)
{
    int rc;
    if (!repo) return -EAGAIN;
    rc = eng_stat_path(repo, snapshot_id, path, out);
    return rc == -ENOTDIR ? -ENOENT : rc;
}

int svc_download_plan(struct repo *repo, const char *snapshot_id, const char *path, struct tree_entry *out,
                      enum tree_type *type_out)
{
    struct tree_entry e;
    int rc = svc_recovery_check_path(repo, snapshot_id, path, &e);
    for (int hops = 0; rc == 0 && e.hardlink && hops < 8; hops++) {
        struct tree_entry first;
        rc = svc_recovery_check_path(repo, snapshot_id, e.hardlink, &first);
        tree_entry_release(&e);
        if (rc == 0) e = first;
    }
    if (rc != 0) return rc;
    if (type_out) *type_out = e.type;
    if (e.type != TREE_FILE || e.hardlink) {
        tree_entry_release(&e);
        return -EISDIR;
    }
    *out = e;
    return 0;
}

const char *svc_damage_text(int rc, char *buf, size_t len)
{
    return eng_damage_text(rc, buf, len);
}

int svc_repo_usage(struct repo *repo, size_t *snapshots, uint64_t *logical_bytes)
{
    json_t *ids = NULL, *v;
    uint64_t logical = 0;
    size_t i;
    if (repo_snapshot_list(repo, &ids) < 0) return -1;
    json_array_foreach(ids, i, v) {
        json_t *doc = NULL;
        if (!json_string_value(v) || repo_snapshot_read(repo, json_string_value(v), &doc) != 0) continue;
        logical += (uint64_t)json_integer_value(json_object_get(json_object_get(doc, "stats"), "logical_bytes"));
        json_decref(doc);
    }
    *snapshots = json_array_size(ids);
    *logical_bytes = logical;
    json_decref(ids);
    return 0;
}
