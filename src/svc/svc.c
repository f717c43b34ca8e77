/* svc.c: the operations of svc.h. Snapshot deletion collects the ids first (a catalog scan holds a
 * statement open) and then deletes them one by one through svc_snapshot_delete; path checks and
 * download plans are engine reads (tree decryption) kept out of the API's handlers. */
#include "svc/svc.h"
#include "catalog/cat_snapshot.h"
#include "engine/engine.h"
#include "repo/repo.h"
#include "util/log.h"
#include <errno.h>
#include <jansson.h>
#include <string.h>

int svc_snapshot_delete(struct cat *cat, struct repo *repo, const char *tenant, const char *snapshot_id)
{
    int rc = cat_snapshot_mark_deleted(cat, tenant, snapshot_id);
    if (rc == CAT_NOT_FOUND) return -ENOENT;
    if (rc != 0) return rc < 0 ? rc : -EIO;
    if (repo) {
        rc = repo_snapshot_forget(repo, snapshot_id);
        if (rc != 0 && rc != -ENOENT) log_warn("cannot forget snapshot %s: %s", snapshot_id, strerror(-rc));
    }
    return 0;
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
                      int skip_held)
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
        rc = svc_snapshot_delete(cat, repo, tenant, json_string_value(v));
        if (rc == 0) n++;
        else log_warn("cannot delete snapshot %s of tenant %s: %s", json_string_value(v), tenant, strerror(-rc));
    }
    json_decref(c.ids);
    return n;
}

int svc_run_snapshots_delete(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id,
                             int64_t run_usecs)
{
    struct cat_snapshot_filter f = { .object_id = -1, .source_id = -1, .run_from_usecs = run_usecs,
                                     .run_to_usecs = run_usecs, .include_deleted = 1 };
    json_t *gids = json_pack("[s]", group_id);
    int rc;
    if (!gids) return -ENOMEM;
    f.group_ids = gids;
    rc = delete_all(cat, repo, tenant, &f, 0);
    json_decref(gids);
    return rc;
}

int svc_group_snapshots_delete(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id)
{
    struct cat_snapshot_filter f = { .object_id = -1, .source_id = -1 };
    json_t *gids = json_pack("[s]", group_id);
    int rc;
    if (!gids) return -ENOMEM;
    f.group_ids = gids;
    rc = delete_all(cat, repo, tenant, &f, 1);
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
