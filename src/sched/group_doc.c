/* group_doc.c: readers of stored group and policy documents (see group_doc.h). */
#include "sched/group_doc.h"
#include <errno.h>
#include <string.h>

static json_t *file_params(json_t *doc)
{
    return json_object_get(json_object_get(doc, "physicalParams"), "fileProtectionTypeParams");
}

int group_doc_is_file_group(json_t *doc)
{
    const char *ptype = json_string_value(json_object_get(json_object_get(doc, "physicalParams"), "protectionType"));
    return ptype && strcmp(ptype, "kFile") == 0 && file_params(doc) != NULL;
}

json_t *group_doc_file_objects(json_t *doc) { return json_object_get(file_params(doc), "objects"); }

json_t *group_doc_global_excludes(json_t *doc) { return json_object_get(file_params(doc), "globalExcludePaths"); }

int64_t group_doc_object_id(json_t *obj) { return json_integer_value(json_object_get(obj, "id")); }

const char *group_doc_object_name(json_t *obj) { return json_string_value(json_object_get(obj, "name")); }

/* str_array: appends the strings of arr to into; -1 (nothing appended) when one is not a string. */
static int str_array(json_t *arr, json_t *into)
{
    size_t i;
    json_t *v;
    if (!arr) return 0;
    if (!json_is_array(arr)) return -1;
    json_array_foreach(arr, i, v)
        if (!json_is_string(v)) return -1;
    json_array_foreach(arr, i, v) json_array_append(into, v);
    return 0;
}

void group_doc_object_paths(json_t *obj, json_t *incs, json_t *excs)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(obj, "filePaths"), i, v) {
        const char *p = json_string_value(json_object_get(v, "includedPath"));
        if (p) json_array_append_new(incs, json_string(p));
        str_array(json_object_get(v, "excludedPaths"), excs);
    }
}

int policy_doc_retention(json_t *policy, const char **unit, int64_t *duration)
{
    json_t *ret = json_object_get(json_object_get(json_object_get(policy, "backupPolicy"), "regular"), "retention");
    if (!json_is_object(ret) || !json_is_integer(json_object_get(ret, "duration"))) return -ENOENT;
    *unit = json_string_value(json_object_get(ret, "unit"));
    *duration = json_integer_value(json_object_get(ret, "duration"));
    return 0;
}
