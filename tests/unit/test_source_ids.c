/* test_source_ids.c: the catalog side of source registrations: object ids stay the same across
 * refreshes (matched by mount point), vanished objects are flagged and revived with their old id,
 * a registration's root object carries the registration's id, search filters and tenant scoping,
 * duplicate registrations conflict, and deleting a registration removes its objects. */
#include "check.h"
#include "e2e/pgtest.h"
#include "agent/agent.h"
#include "catalog/cat_source.h"
#include <stdlib.h>
#include <string.h>

static struct cat *cat;
static char *dir;

static int64_t add_source(const char *tenant, const char *endpoint, const char *env)
{
    struct cat_source s = { 0 };
    int64_t id;
    if (cat_next_seq(cat, "object", &id) != 0) return -1;
    s.id = id;
    s.environment = (char *)env;
    s.name = (char *)endpoint;
    s.endpoint_key = (char *)endpoint;
    s.agent = CAT_AGENT_LOCAL;
    s.doc = json_pack("{s:s,s:{s:s}}", "environment", env, "physicalParams", "endpoint", endpoint);
    s.registered_ms = 1000;
    s.modified_usecs = 1000000;
    s.auth_status = (char *)"Pending";
    if (cat_source_insert(cat, tenant, &s) != 0) id = -1;
    json_decref(s.doc);
    return id;
}

static int sync(const char *tenant, int64_t id, const char *const *paths)
{
    struct cat_discovered items[8];
    size_t n = 0;
    struct cat_object_facts root = { .os_type = (char *)"kLinux", .logical_bytes = -1 };
    int rc;
    memset(items, 0, sizeof items);
    for (; paths[n]; n++) {
        items[n].key = paths[n];
        items[n].name = paths[n];
        items[n].object_type = "kVolume";
        items[n].facts = NULL;
    }
    rc = cat_begin(cat);
    if (rc == 0) rc = cat_source_sync_objects(cat, tenant, id, "kPhysical", CAT_AGENT_LOCAL, "host-a", &root, items, n);
    if (rc == 0) rc = cat_commit(cat);
    else cat_rollback(cat);
    return rc;
}

/* child_id: the id of the (possibly vanished) child of root named name, or 0. */
struct find { const char *name; int64_t id; int deleted; };
static int find_cb(void *ud, const struct cat_object *o)
{
    struct find *f = ud;
    if (strcmp(o->name, f->name) == 0) {
        f->id = o->id;
        f->deleted = o->is_deleted;
        return 1;
    }
    return 0;
}
static int64_t child_id(const char *tenant, const char *name, int *deleted)
{
    struct cat_object_filter flt = { 0 };
    struct find f = { name, 0, 0 };
    flt.deleted = 2;
    flt.is_protected = -1;
    if (cat_object_scan(cat, tenant, &flt, find_cb, &f) != 0) return -1;
    if (deleted) *deleted = f.deleted;
    return f.id;
}

TEST(root_object_has_the_registration_id)
{
    const char *p[] = { "/", "/home", NULL };
    int64_t id = add_source("t1", "host-a", "kPhysical");
    struct cat_object o;
    CHECK(id > 0);
    CHECK(sync("t1", id, p) == 0);
    CHECK(cat_object_get(cat, "t1", id, &o) == 0);
    CHECK(o.parent_id == 0 && o.source_id == id && strcmp(o.object_type, "kHost") == 0);
    CHECK(strcmp(o.name, "host-a") == 0 && strcmp(o.source_name, "host-a") == 0);
    CHECK(o.agent == CAT_AGENT_LOCAL && o.uuid && strlen(o.uuid) == 36);
    cat_object_release(&o);
    CHECK(cat_object_exists(cat, "t1", id) == 1);
    CHECK(cat_object_is_local(cat, "t1", id) == 1);
}

TEST(ids_are_stable_across_refreshes)
{
    const char *p1[] = { "/", "/home", NULL }, *p2[] = { "/home", "/data", NULL }, *p3[] = { "/", "/data", NULL };
    int64_t id = add_source("t2", "host-b", "kPhysical"), root_vol, home, data, again;
    int del;
    struct cat_object o;
    char *uuid;
    CHECK(id > 0);
    CHECK(sync("t2", id, p1) == 0);
    root_vol = child_id("t2", "/", NULL);
    home = child_id("t2", "/home", NULL);
    CHECK(root_vol > 0 && home > 0 && root_vol != home && root_vol != id);
    CHECK(cat_object_get(cat, "t2", home, &o) == 0);
    CHECK(o.parent_id == id && o.source_id == id && strcmp(o.path, "/home") == 0);
    uuid = strdup(o.uuid);
    cat_object_release(&o);

    CHECK(sync("t2", id, p2) == 0);
    CHECK(child_id("t2", "/home", &del) == home && del == 0);
    data = child_id("t2", "/data", NULL);
    CHECK(data > home);
    CHECK(child_id("t2", "/", &del) == root_vol && del == 1);
    CHECK(cat_object_exists(cat, "t2", root_vol) == 0);
    CHECK(cat_object_get(cat, "t2", home, &o) == 0);
    CHECK(strcmp(o.uuid, uuid) == 0);
    cat_object_release(&o);
    free(uuid);

    CHECK(sync("t2", id, p3) == 0);
    again = child_id("t2", "/", &del);
    CHECK(again == root_vol && del == 0);
    CHECK(cat_object_exists(cat, "t2", root_vol) == 1);
    CHECK(child_id("t2", "/home", &del) == home && del == 1);
    {
        struct cat_object *kids;
        size_t n;
        CHECK(cat_object_children(cat, "t2", id, &kids, &n) == 0);
        CHECK_EQ_INT(n, 2);
        CHECK(kids[0].id == root_vol && kids[1].id == data);
        for (size_t i = 0; i < n; i++) cat_object_release(&kids[i]);
        free(kids);
    }
}

struct collect { int64_t ids[16]; size_t n; };
static int collect_cb(void *ud, const struct cat_object *o)
{
    struct collect *c = ud;
    if (c->n < 16) c->ids[c->n++] = o->id;
    return 0;
}

TEST(search_filters_and_tenants)
{
    const char *p[] = { "/", "/Home", "/home2", "/srv[1]", NULL };
    int64_t id = add_source("t3", "host-c", "kPhysical");
    struct cat_object_filter f = { 0 };
    struct collect c = { { 0 }, 0 };
    CHECK(id > 0 && sync("t3", id, p) == 0);
    f.is_protected = -1;
    CHECK(cat_object_scan(cat, "t3", &f, collect_cb, &c) == 0);
    CHECK_EQ_INT(c.n, 5); /* host + 4 volumes */
    CHECK(c.ids[0] == id);
    for (size_t i = 1; i < c.n; i++) CHECK(c.ids[i] > c.ids[i - 1]);

    c.n = 0;
    f.name_glob = "/HOME*";
    CHECK(cat_object_scan(cat, "t3", &f, collect_cb, &c) == 0);
    CHECK_EQ_INT(c.n, 2);
    c.n = 0;
    f.name_glob = "/home";
    CHECK(cat_object_scan(cat, "t3", &f, collect_cb, &c) == 0);
    CHECK_EQ_INT(c.n, 1);
    c.n = 0;
    f.name_glob = "*[1]"; /* '[' is literal, not a character class */
    CHECK(cat_object_scan(cat, "t3", &f, collect_cb, &c) == 0);
    CHECK_EQ_INT(c.n, 1);
    c.n = 0;
    f.name_glob = "/srv?1?";
    CHECK(cat_object_scan(cat, "t3", &f, collect_cb, &c) == 0);
    CHECK_EQ_INT(c.n, 0);

    f.name_glob = NULL;
    f.environments = json_pack("[s]", "kSQL");
    c.n = 0;
    CHECK(cat_object_scan(cat, "t3", &f, collect_cb, &c) == 0);
    CHECK_EQ_INT(c.n, 0);
    json_decref(f.environments);
    f.environments = NULL;

    f.source_ids = json_pack("[I]", (json_int_t)id);
    f.after_id = id;
    c.n = 0;
    CHECK(cat_object_scan(cat, "t3", &f, collect_cb, &c) == 0);
    CHECK_EQ_INT(c.n, 4);
    json_decref(f.source_ids);
    f.source_ids = NULL;
    f.after_id = 0;

    /* Another tenant sees none of it. */
    c.n = 0;
    CHECK(cat_object_scan(cat, "t3-other", &f, collect_cb, &c) == 0);
    CHECK_EQ_INT(c.n, 0);
    CHECK(cat_object_exists(cat, "t3-other", id) == 0);
    {
        struct cat_object o;
        struct cat_source s;
        CHECK(cat_object_get(cat, "t3-other", id, &o) == CAT_NOT_FOUND);
        CHECK(cat_source_get(cat, "t3-other", id, &s) == CAT_NOT_FOUND);
    }
    CHECK(cat_object_is_local(cat, "t3-other", id) == 0);
}

TEST(duplicate_registration_conflicts)
{
    struct cat_source s = { 0 };
    int64_t id = add_source("t4", "host-d", "kPhysical");
    CHECK(id > 0);
    s.id = id + 1000;
    s.environment = (char *)"kPhysical";
    s.name = (char *)"again";
    s.endpoint_key = (char *)"host-d";
    s.doc = json_object();
    CHECK(cat_source_insert(cat, "t4", &s) == CAT_CONFLICT);
    s.environment = (char *)"kSQL";
    CHECK(cat_source_insert(cat, "t4", &s) == 0);      /* another environment of the same host */
    s.environment = (char *)"kPhysical";
    s.id = id + 1001;
    CHECK(cat_source_insert(cat, "t4-b", &s) == 0);    /* another tenant */
    json_decref(s.doc);
}

TEST(delete_removes_objects)
{
    const char *p[] = { "/", NULL };
    int64_t id = add_source("t5", "host-e", "kPhysical"), vol;
    CHECK(id > 0 && sync("t5", id, p) == 0);
    vol = child_id("t5", "/", NULL);
    CHECK(vol > 0);
    CHECK(cat_source_protected(cat, "t5", id) == 0);
    CHECK(cat_object_protected(cat, "t5", vol) == 0);
    CHECK(cat_source_delete(cat, "t5-other", id) == CAT_NOT_FOUND);
    CHECK(cat_source_delete(cat, "t5", id) == 0);
    CHECK(cat_object_exists(cat, "t5", vol) == 0);
    CHECK(cat_object_exists(cat, "t5", id) == 0);
    CHECK(cat_source_delete(cat, "t5", id) == CAT_NOT_FOUND);
}

TEST(refresh_of_local_and_remote_hosts)
{
    struct cat_source s = { 0 };
    int64_t local, remote, before;
    struct cat_object *kids;
    size_t n;
    int found_root = 0;
    CHECK(cat_next_seq(cat, "object", &local) == 0);
    s.id = local;
    s.environment = (char *)"kPhysical";
    s.name = (char *)"me";
    s.endpoint_key = (char *)"local";
    s.doc = json_pack("{s:{s:s}}", "physicalParams", "endpoint", "127.0.0.1");
    s.auth_status = (char *)"Pending";
    CHECK(cat_source_insert(cat, "t6", &s) == 0);
    json_decref(s.doc);
    CHECK(agent_refresh_source(cat, "t6", local, "127.0.0.1") == 0);
    CHECK(cat_source_get(cat, "t6", local, &s) == 0);
    CHECK(strcmp(s.auth_status, "Finished") == 0 && s.error == NULL && s.refreshed_ms > 0);
    cat_source_release(&s);
    CHECK(cat_object_is_local(cat, "t6", local) == 1);
    CHECK(cat_object_children(cat, "t6", local, &kids, &n) == 0);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(kids[i].name, "/") == 0) found_root = 1;
        CHECK(strcmp(kids[i].object_type, "kVolume") == 0);
    }
    before = n ? kids[0].id : 0;
    for (size_t i = 0; i < n; i++) cat_object_release(&kids[i]);
    free(kids);
    CHECK(found_root);
    CHECK(agent_refresh_source(cat, "t6", local, "127.0.0.1") == 0);
    CHECK(cat_object_children(cat, "t6", local, &kids, &n) == 0);
    CHECK(n > 0 && kids[0].id == before);
    for (size_t i = 0; i < n; i++) cat_object_release(&kids[i]);
    free(kids);

    CHECK(cat_next_seq(cat, "object", &remote) == 0);
    memset(&s, 0, sizeof s);
    s.id = remote;
    s.environment = (char *)"kPhysical";
    s.name = (char *)"far";
    s.endpoint_key = (char *)"192.0.2.10";
    s.doc = json_pack("{s:{s:s}}", "physicalParams", "endpoint", "192.0.2.10");
    CHECK(cat_source_insert(cat, "t6", &s) == 0);
    json_decref(s.doc);
    CHECK(agent_refresh_source(cat, "t6", remote, "192.0.2.10") == 0);
    CHECK(cat_source_get(cat, "t6", remote, &s) == 0);
    CHECK(strcmp(s.auth_status, "Pending") == 0 && s.refreshed_ms == 0);
    CHECK(s.error && strstr(s.error, "no agent reachable at 192.0.2.10") != NULL);
    cat_source_release(&s);
    CHECK(cat_object_exists(cat, "t6", remote) == 0);
    CHECK(agent_refresh_source(cat, "t6", 999999, "127.0.0.1") == CAT_NOT_FOUND);
}

int main(void)
{
    char path[512], err[256];
    dir = check_tmpdir("source-ids");
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    if (cat_open(pgtest_cat(path), &cat, err, sizeof err) != 0) {
        fprintf(stderr, "cat_open: %s\n", err);
        return 1;
    }
    RUN(root_object_has_the_registration_id);
    RUN(ids_are_stable_across_refreshes);
    RUN(search_filters_and_tenants);
    RUN(duplicate_registration_conflicts);
    RUN(delete_removes_objects);
    RUN(refresh_of_local_and_remote_hosts);
    cat_close(cat);
    check_rm_rf(dir);
    free(dir);
    return check_finish();
}
