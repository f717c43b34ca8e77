/* test_policy_catalog.c: the catalog of policies and protection groups (src/catalog/policies.c,
 * groups.c): tenant scoping, name conflicts, list filters and order, soft deletion, the functions the
 * scheduler uses (group by id, policy document, schedulable groups across tenants, groups per
 * policy), statistics, and that everything is still there after the catalog is reopened. */
#include "check.h"
#include "e2e/pgtest.h"
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cat *cat;
static char *dir;
static char path[512];

static int add_policy(const char *tenant, const char *id, int64_t seq, const char *name)
{
    char doc[256];
    snprintf(doc, sizeof doc, "{\"id\":\"%s\",\"name\":\"%s\",\"backupPolicy\":{\"regular\":{}}}", id, name);
    return cat_policy_insert(cat, tenant, id, seq, name, doc, 1000 + seq);
}

static int add_group(const char *tenant, const char *id, int64_t seq, const char *name, const char *policy,
                     const char *env, int paused, const int64_t *objs, size_t n)
{
    char doc[256];
    struct cat_group_write w = { .tenant = tenant, .id = id, .seq = seq, .name = name, .policy_id = policy,
                                 .environment = env, .is_active = 1, .is_paused = paused, .doc = doc,
                                 .mtime_usecs = 5000 + seq, .object_ids = objs, .nobjects = n };
    int rc;
    snprintf(doc, sizeof doc, "{\"id\":\"%s\",\"name\":\"%s\"}", id, name);
    if ((rc = cat_begin(cat)) != 0) return rc;
    rc = cat_group_insert(cat, &w);
    if (rc == 0) rc = cat_commit(cat);
    else cat_rollback(cat);
    return rc;
}

struct collect { char ids[64][32]; int n; };

static int collect_doc(void *ud, const char *id, const char *doc, size_t len)
{
    struct collect *c = ud;
    (void)doc; (void)len;
    if (c->n < 64) snprintf(c->ids[c->n++], sizeof c->ids[0], "%s", id);
    return 0;
}

static int collect_group(void *ud, const struct cat_group *g)
{
    struct collect *c = ud;
    if (c->n < 64) snprintf(c->ids[c->n++], sizeof c->ids[0], "%s%s", g->id, g->is_paused ? "p" : "");
    return 0;
}

TEST(setup)
{
    char err[256];
    dir = check_tmpdir("policycat");
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    CHECK(cat_open(pgtest_cat(path), &cat, err, sizeof err) == 0);
}

TEST(policies_are_scoped_by_tenant)
{
    char *doc = NULL;
    size_t len = 0;
    int64_t mtime = 0;
    json_t *j = NULL;
    CHECK(add_policy("A", "1:1:1", 1, "gold") == 0);
    CHECK(add_policy("A", "1:1:2", 2, "silver") == 0);
    CHECK(add_policy("B", "1:1:3", 3, "gold") == 0);          /* same name, other tenant: fine */
    CHECK_EQ_INT(add_policy("A", "1:1:4", 4, "gold"), CAT_CONFLICT);
    CHECK(cat_policy_get_doc(cat, "A", "1:1:1", &doc, &len, &mtime) == 0);
    CHECK(strstr(doc, "\"gold\"") != NULL && len == strlen(doc));
    CHECK_EQ_INT(mtime, 1001);
    free(doc);
    CHECK_EQ_INT(cat_policy_get_doc(cat, "B", "1:1:1", NULL, NULL, NULL), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_policy_exists(cat, "A", "1:1:3"), 0);
    CHECK_EQ_INT(cat_policy_exists(cat, "B", "1:1:3"), 1);
    CHECK(cat_policy_get_json(cat, "A", "1:1:2", &j) == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "name")), "silver") == 0);
    json_decref(j);
    CHECK_EQ_INT(cat_policy_update(cat, "B", "1:1:1", "x", "{}", 1), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_policy_update(cat, "A", "1:1:2", "gold", "{}", 1), CAT_CONFLICT);
    CHECK_EQ_INT(cat_policy_delete(cat, "B", "1:1:1"), CAT_NOT_FOUND);
}

TEST(policy_list_filters_and_order)
{
    struct collect c = { 0 };
    json_t *ids = json_pack("[s,s]", "1:1:2", "1:1:3"), *names = json_pack("[s]", "gold");
    CHECK(cat_policy_list(cat, "A", NULL, NULL, collect_doc, &c) == 0);
    CHECK_EQ_INT(c.n, 2);
    CHECK(strcmp(c.ids[0], "1:1:1") == 0 && strcmp(c.ids[1], "1:1:2") == 0);
    c.n = 0;
    CHECK(cat_policy_list(cat, "A", ids, NULL, collect_doc, &c) == 0);
    CHECK(c.n == 1 && strcmp(c.ids[0], "1:1:2") == 0);       /* 1:1:3 is B's */
    c.n = 0;
    CHECK(cat_policy_list(cat, "A", NULL, names, collect_doc, &c) == 0);
    CHECK(c.n == 1 && strcmp(c.ids[0], "1:1:1") == 0);
    c.n = 0;
    CHECK(cat_policy_list(cat, "A", ids, names, collect_doc, &c) == 0);
    CHECK_EQ_INT(c.n, 0);
    json_decref(ids);
    json_decref(names);
}

TEST(groups_use_policies)
{
    static const int64_t objs[] = { 10, 11, 10 };
    static const int64_t objs2[] = { 11, 12 };
    int64_t n = -1, g = -1, o = -1, *ids = NULL;
    size_t nids = 0;
    CHECK(add_group("A", "1:1:1", 1, "web", "1:1:1", "kPhysical", 0, objs, 3) == 0);
    CHECK(add_group("A", "1:1:2", 2, "db", "1:1:1", "kSQL", 1, objs2, 2) == 0);
    CHECK(add_group("B", "1:1:3", 3, "web", "1:1:3", "kPhysical", 0, NULL, 0) == 0);
    CHECK_EQ_INT(add_group("A", "1:1:4", 4, "web", "1:1:2", "kSQL", 0, NULL, 0), CAT_CONFLICT);
    CHECK(cat_group_count_by_policy(cat, "A", "1:1:1", &n) == 0);
    CHECK_EQ_INT(n, 2);
    CHECK(cat_group_count_by_policy(cat, "B", "1:1:1", &n) == 0);
    CHECK_EQ_INT(n, 0);
    CHECK(cat_policy_stats(cat, "A", "1:1:1", &g, &o) == 0);
    CHECK_EQ_INT(g, 2);
    CHECK_EQ_INT(o, 3);                                         /* 10, 11, 12 */
    CHECK(cat_group_objects(cat, "A", "1:1:1", &ids, &nids) == 0);
    CHECK(nids == 2 && ids[0] == 10 && ids[1] == 11);
    free(ids);
    CHECK_EQ_INT(cat_group_objects(cat, "B", "1:1:1", &ids, &nids), 0);
    CHECK_EQ_INT(nids, 0);
    free(ids);
}

TEST(group_get_update_and_soft_delete)
{
    struct cat_group g;
    char *doc = NULL;
    int deleted = -1;
    int64_t mtime = 0;
    static const int64_t objs[] = { 12 };
    struct cat_group_write w = { .tenant = "A", .id = "1:1:1", .name = "web2", .policy_id = "1:1:2",
                                 .environment = "kPhysical", .is_active = 1, .is_paused = 1, .doc = "{\"v\":2}",
                                 .mtime_usecs = 7777, .object_ids = objs, .nobjects = 1 };
    CHECK(cat_group_get(cat, "A", "1:1:1", &g) == 0);
    CHECK(strcmp(g.name, "web") == 0 && strcmp(g.policy_id, "1:1:1") == 0 && strcmp(g.environment, "kPhysical") == 0);
    CHECK(g.is_active == 1 && g.is_paused == 0 && g.is_deleted == 0 && g.seq == 1 && g.mtime_usecs == 5001);
    CHECK(g.doc && g.doc_len == strlen(g.doc));
    cat_group_release(&g);
    CHECK_EQ_INT(cat_group_get(cat, "B", "1:1:1", &g), CAT_NOT_FOUND);

    CHECK(cat_begin(cat) == 0);
    CHECK(cat_group_update(cat, &w) == 0);
    CHECK(cat_commit(cat) == 0);
    CHECK(cat_group_get(cat, "A", "1:1:1", &g) == 0);
    CHECK(strcmp(g.name, "web2") == 0 && strcmp(g.policy_id, "1:1:2") == 0 && g.is_paused == 1);
    CHECK(strcmp(g.doc, "{\"v\":2}") == 0 && g.mtime_usecs == 7777);
    cat_group_release(&g);

    w.tenant = "B";
    CHECK_EQ_INT(cat_group_update(cat, &w), CAT_NOT_FOUND);
    CHECK_EQ_INT(cat_group_mark_deleted(cat, "B", "1:1:1", "{}", 1), CAT_NOT_FOUND);
    CHECK(cat_group_mark_deleted(cat, "A", "1:1:1", "{\"isDeleted\":true}", 8888) == 0);
    CHECK_EQ_INT(cat_group_mark_deleted(cat, "A", "1:1:1", "{}", 1), CAT_NOT_FOUND);   /* already deleted */
    CHECK(cat_group_get_doc(cat, "A", "1:1:1", &doc, NULL, &mtime, &deleted) == 0);
    CHECK(deleted == 1 && mtime == 8888 && strcmp(doc, "{\"isDeleted\":true}") == 0);
    free(doc);
    w.tenant = "A";
    CHECK_EQ_INT(cat_group_update(cat, &w), CAT_NOT_FOUND);                          /* deleted: gone */
    /* the name is free again */
    CHECK(add_group("A", "1:1:5", 5, "web2", "1:1:2", "kPhysical", 0, NULL, 0) == 0);
}

TEST(group_list_filters)
{
    struct collect c = { 0 };
    struct cat_group_filter f = { .is_active = -1, .is_paused = -1, .is_deleted = 0 };
    CHECK(cat_group_list(cat, "A", &f, collect_doc, &c) == 0);
    CHECK(c.n == 2 && strcmp(c.ids[0], "1:1:2") == 0 && strcmp(c.ids[1], "1:1:5") == 0);
    c.n = 0;
    f.is_deleted = 1;
    CHECK(cat_group_list(cat, "A", &f, collect_doc, &c) == 0);
    CHECK(c.n == 1 && strcmp(c.ids[0], "1:1:1") == 0);
    c.n = 0;
    f.is_deleted = 0;
    f.is_paused = 1;
    CHECK(cat_group_list(cat, "A", &f, collect_doc, &c) == 0);
    CHECK(c.n == 1 && strcmp(c.ids[0], "1:1:2") == 0);
    c.n = 0;
    f.is_paused = -1;
    f.environments = json_pack("[s]", "kPhysical");
    CHECK(cat_group_list(cat, "A", &f, collect_doc, &c) == 0);
    CHECK(c.n == 1 && strcmp(c.ids[0], "1:1:5") == 0);
    json_decref(f.environments);
    f.environments = NULL;
    c.n = 0;
    f.policy_ids = json_pack("[s]", "1:1:1");
    CHECK(cat_group_list(cat, "A", &f, collect_doc, &c) == 0);
    CHECK(c.n == 1 && strcmp(c.ids[0], "1:1:2") == 0);
    json_decref(f.policy_ids);
    f.policy_ids = NULL;
    c.n = 0;
    f.names = json_pack("[s,s]", "web", "db");
    f.ids = json_pack("[s,s]", "1:1:2", "1:1:3");
    CHECK(cat_group_list(cat, "A", &f, collect_doc, &c) == 0);
    CHECK(c.n == 1 && strcmp(c.ids[0], "1:1:2") == 0);          /* B's "web" 1:1:3 never shows */
    json_decref(f.names);
    json_decref(f.ids);
    f.names = f.ids = NULL;
    c.n = 0;
    f.is_active = 0;
    CHECK(cat_group_list(cat, "A", &f, collect_doc, &c) == 0);
    CHECK_EQ_INT(c.n, 0);
}

TEST(schedulable_groups_span_tenants)
{
    struct collect c = { 0 };
    CHECK(cat_group_list_schedulable(cat, collect_group, &c) == 0);
    CHECK_EQ_INT(c.n, 3);
    CHECK(strcmp(c.ids[0], "1:1:2p") == 0);   /* A, paused, reported with its flag */
    CHECK(strcmp(c.ids[1], "1:1:5") == 0);
    CHECK(strcmp(c.ids[2], "1:1:3") == 0);    /* B */
}

TEST(policy_delete_and_reopen)
{
    char err[256], *doc = NULL;
    struct collect c = { 0 };
    struct cat_group g;
    int64_t n = -1;
    CHECK(cat_policy_delete(cat, "A", "1:1:2") == 0);
    CHECK_EQ_INT(cat_policy_delete(cat, "A", "1:1:2"), CAT_NOT_FOUND);
    cat_close(cat);
    cat = NULL;
    CHECK(cat_open(pgtest_cat(path), &cat, err, sizeof err) == 0);
    CHECK(cat_policy_get_doc(cat, "A", "1:1:1", &doc, NULL, NULL) == 0);
    free(doc);
    CHECK(cat_group_get(cat, "A", "1:1:2", &g) == 0);
    CHECK(g.is_paused == 1 && strcmp(g.name, "db") == 0);
    cat_group_release(&g);
    CHECK(cat_group_count_by_policy(cat, "A", "1:1:1", &n) == 0);
    CHECK_EQ_INT(n, 1);
    CHECK(cat_group_list_schedulable(cat, collect_group, &c) == 0);
    CHECK_EQ_INT(c.n, 3);
}

/* teardown: not a test (it is not counted as one); a failure here counts as a failure outside a RUN. */
static void teardown(void)
{
    cat_close(cat);
    check_rm_rf(dir);
    free(dir);
}

int main(void)
{
    RUN(setup);
    RUN(policies_are_scoped_by_tenant);
    RUN(policy_list_filters_and_order);
    RUN(groups_use_policies);
    RUN(group_get_update_and_soft_delete);
    RUN(group_list_filters);
    RUN(schedulable_groups_span_tenants);
    RUN(policy_delete_and_reopen);
    teardown();
    return check_finish();
}
