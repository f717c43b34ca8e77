/* sources_tree.c: the objects of a tenant's registrations as one ordered list, for the v1 protection
 * source tree (cat_source.h: cat_object_tree).
 *
 * One SELECT over objects (present ones only) joined to their root for the source name, with an
 * EXISTS on protection_group_objects/protection_groups telling whether a live group lists each
 * object. Rows are copied out whole before returning, so the caller may use the catalog freely while
 * it walks them. The order (source, parent, id) puts every root before its children. */
#include "catalog/cat_source.h"
#include "catalog/internal.h"
#include "util/array.h"
#include <stdlib.h>
#include <string.h>

static char *dup_text(sqldb_stmt *st, int i)
{
    const char *t = (const char *)sqldb_column_text(st, i);
    return t ? strdup(t) : NULL;
}

static void tree_row(sqldb_stmt *st, struct cat_tree_object *t)
{
    struct cat_object *o = &t->o;
    memset(t, 0, sizeof *t);
    o->id = sqldb_column_int64(st, 0);
    o->source_id = sqldb_column_int64(st, 1);
    o->parent_id = sqldb_column_int64(st, 2);
    o->name = dup_text(st, 3);
    o->environment = dup_text(st, 4);
    o->object_type = dup_text(st, 5);
    o->path = dup_text(st, 6);
    o->agent = (enum cat_agent_kind)sqldb_column_int(st, 7);
    o->is_deleted = sqldb_column_int(st, 8);
    cat_object_facts_from_row(st, 9, 13, &o->facts);
    o->source_name = dup_text(st, 10);
    if (!o->source_name && o->name) o->source_name = strdup(o->name);
    o->uuid = dup_text(st, 11);
    t->listed = sqldb_column_int(st, 12);
}

void cat_object_tree_free(struct cat_tree_object *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) cat_object_release(&v[i].o);
    free(v);
}

int cat_object_tree(struct cat *cat, const char *tenant, int64_t source_id, struct cat_tree_object **out,
                    size_t *n)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT o.id, o.source_id, o.parent_id, o.name, o.environment, o.object_type, o.path, o.agent, "
        "o.is_deleted, o.doc, r.name, o.uuid, "
        "EXISTS (SELECT 1 FROM protection_group_objects m JOIN protection_groups g ON g.id = m.group_id "
        "        WHERE m.tenant = ?1 AND m.object_id = o.id AND g.tenant = ?1 AND g.is_deleted = 0), o.os_type "
        "FROM objects o LEFT JOIN objects r ON r.tenant = o.tenant AND r.id = o.source_id "
        "WHERE o.tenant = ?1 AND o.is_deleted = 0 AND (?2 <= 0 OR o.source_id = ?2) "
        "ORDER BY o.source_id, o.parent_id, o.id");
    struct cat_tree_object *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, source_id);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        if (ARRAY_RESERVE(arr, cap, cnt + 1) != 0) {
            rc = SQLDB_NOMEM;
            break;
        }
        tree_row(st, &arr[cnt++]);
    }
    sqldb_reset(st);
    if (rc != SQLDB_DONE) {
        cat_object_tree_free(arr, cnt);
        cat_log_error(cat, "object_tree");
        return -1;
    }
    *out = arr;
    *n = cnt;
    return 0;
}
