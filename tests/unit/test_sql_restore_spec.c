/* test_sql_restore_spec.c: the SQL restore job's typed spec (src/sched/sql_restore_spec.c): every
 * field of each scope survives doc/parse; the strict parser refuses another version, an unknown
 * member (top level or in an item), wrong types, out-of-range values, a scope it does not know, an
 * instance_new without an absolute data_dir and an objects scope without items, naming the member. */
#include "check.h"
#include "sched/sql_restore_spec.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void objects_spec(struct sql_restore_spec *s)
{
    static const char *const ex[] = { "public.big", "sales.\"odd\"" };
    memset(s, 0, sizeof *s);
    s->snapshot_id = strdup("ab12");
    s->point_usecs = 1765000000123456LL;
    s->scope = SQL_RESTORE_OBJECTS;
    s->source_instance_id = 7;
    s->target_instance_id = 9;
    s->target_database = strdup("archive");
    s->overwrite = 1;
    s->copy_only = 1;
    s->continue_on_access_violation = 1;
    s->skip_analyze = 1;
    s->skip_indexes = 1;
    s->jobs = 4;
    sql_restore_spec_add_item(s, SQL_ITEM_DATABASE, "shop", NULL, "shop_copy", ex, 2);
    sql_restore_spec_add_item(s, SQL_ITEM_TABLE, "crm", "public.contacts", "sales.contacts_then", NULL, 0);
}

static int str_eq(const char *a, const char *b) { return a && b ? strcmp(a, b) == 0 : a == b; }

TEST(objects_round_trip)
{
    struct sql_restore_spec a, b;
    char err[256] = "";
    objects_spec(&a);
    json_t *doc = sql_restore_spec_doc(&a);
    CHECK(doc != NULL);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_t *back = json_loads(text, 0, NULL);   /* through text, as the catalog stores it */
    free(text);
    int rc = sql_restore_spec_parse(back, &b, err, sizeof err);
    json_decref(doc);
    json_decref(back);
    CHECKF(rc == 0, "%s", err);
    int same = str_eq(a.snapshot_id, b.snapshot_id) && a.point_usecs == b.point_usecs && a.scope == b.scope &&
               a.source_instance_id == b.source_instance_id && a.target_instance_id == b.target_instance_id &&
               str_eq(a.target_database, b.target_database) && b.data_dir == NULL && b.port == 0 && b.overwrite &&
               b.copy_only && b.continue_on_access_violation && b.skip_analyze && b.skip_indexes && b.jobs == 4 &&
               b.n_items == 2 && b.items[0].kind == SQL_ITEM_DATABASE && str_eq(b.items[0].database, "shop") &&
               b.items[0].table == NULL && str_eq(b.items[0].rename_to, "shop_copy") && b.items[0].n_excludes == 2 &&
               str_eq(b.items[0].excludes[1], "sales.\"odd\"") && b.items[1].kind == SQL_ITEM_TABLE &&
               str_eq(b.items[1].table, "public.contacts") && str_eq(b.items[1].rename_to, "sales.contacts_then") &&
               b.items[1].n_excludes == 0;
    sql_restore_spec_release(&a);
    sql_restore_spec_release(&b);
    CHECK(same);
}

TEST(instance_round_trip)
{
    struct sql_restore_spec a = { 0 }, b;
    char err[256] = "";
    a.snapshot_id = strdup("cd34");
    a.scope = SQL_RESTORE_INSTANCE_NEW;
    a.data_dir = strdup("/srv/pg/new");
    a.port = 55999;
    a.source_instance_id = 3;
    json_t *doc = sql_restore_spec_doc(&a);
    int rc = doc ? sql_restore_spec_parse(doc, &b, err, sizeof err) : -1;
    json_decref(doc);
    CHECKF(rc == 0, "%s", err);
    int same = b.scope == SQL_RESTORE_INSTANCE_NEW && str_eq(b.data_dir, "/srv/pg/new") && b.port == 55999 &&
               b.n_items == 0 && b.point_usecs == 0 && !b.overwrite && b.target_database == NULL;
    sql_restore_spec_release(&a);
    sql_restore_spec_release(&b);
    CHECK(same);
}

/* parse_fails: doc (the objects spec's document changed by edit) is refused, err naming want. */
static int parse_fails(void (*edit)(json_t *doc), const char *want, char *got, size_t n)
{
    struct sql_restore_spec a, b;
    objects_spec(&a);
    json_t *doc = sql_restore_spec_doc(&a);
    sql_restore_spec_release(&a);
    if (!doc) return 0;
    edit(doc);
    int rc = sql_restore_spec_parse(doc, &b, got, n);
    json_decref(doc);
    if (rc == 0) sql_restore_spec_release(&b);
    return rc == -EINVAL && strstr(got, want) != NULL && b.items == NULL && b.snapshot_id == NULL;
}

static void e_version(json_t *d) { json_object_set_new(d, "v", json_integer(2)); }
static void e_unknown(json_t *d) { json_object_set_new(d, "extra", json_true()); }
static void e_item_unknown(json_t *d) { json_object_set_new(json_array_get(json_object_get(d, "items"), 1), "x", json_null()); }
static void e_scope(json_t *d) { json_object_set_new(d, "scope", json_string("everything")); }
static void e_port(json_t *d) { json_object_set_new(d, "port", json_integer(70000)); }
static void e_bool(json_t *d) { json_object_set_new(d, "overwrite", json_string("yes")); }
static void e_point(json_t *d) { json_object_set_new(d, "point_usecs", json_integer(-1)); }
static void e_kind(json_t *d) { json_object_set_new(json_array_get(json_object_get(d, "items"), 0), "kind", json_string("schema")); }
static void e_table(json_t *d) { json_object_del(json_array_get(json_object_get(d, "items"), 1), "table"); }
static void e_excl(json_t *d)
{
    json_array_set_new(json_object_get(json_array_get(json_object_get(d, "items"), 0), "excludes"), 0, json_integer(1));
}
static void e_noitems(json_t *d) { json_array_clear(json_object_get(d, "items")); }
static void e_newdir(json_t *d)
{
    json_object_set_new(d, "scope", json_string("instance_new"));
    json_object_set_new(d, "data_dir", json_string("relative/dir"));
}
static void e_snap(json_t *d) { json_object_set_new(d, "snapshot", json_string("")); }

TEST(strict_parser_refuses)
{
    char got[256];
    struct { void (*edit)(json_t *); const char *want; } cases[] = {
        { e_version, "version 2" }, { e_unknown, "'extra'" }, { e_item_unknown, "'x' in items[1]" },
        { e_scope, "'scope'" }, { e_port, "'port'" }, { e_bool, "'overwrite'" }, { e_point, "'point_usecs'" },
        { e_kind, "items[0].kind" }, { e_table, "'table'" }, { e_excl, "items[0].excludes[0]" },
        { e_noitems, "'items'" }, { e_newdir, "'data_dir'" }, { e_snap, "'snapshot'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        got[0] = '\0';
        CHECKF(parse_fails(cases[i].edit, cases[i].want, got, sizeof got), "case %zu: wanted '%s', got '%s'", i,
               cases[i].want, got);
    }
    struct sql_restore_spec b;
    json_t *x = json_string("x");
    int rc = sql_restore_spec_parse(x, &b, got, sizeof got);
    json_decref(x);
    CHECK_EQ_INT(rc, -EINVAL);
}

int main(void)
{
    RUN(objects_round_trip);
    RUN(instance_round_trip);
    RUN(strict_parser_refuses);
    return check_finish();
}
