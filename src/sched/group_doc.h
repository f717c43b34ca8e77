/* group_doc.h: the readers of a protection group's and a policy's stored documents that the backup
 * kind and the queue need, one small function per field group. They are the only place below the
 * API that knows those documents' field names, and are replaced one for one by the typed group spec
 * accessors of the service layer. Every returned JSON reference is borrowed from doc. */
#ifndef COFFER_SCHED_GROUP_DOC_H
#define COFFER_SCHED_GROUP_DOC_H
#include <stdint.h>
#include <jansson.h>

/* group_doc_is_file_group: whether the group backs up files (file protection type with its params). */
int group_doc_is_file_group(json_t *doc);
/* group_doc_file_objects: the group's objects (array of {"id",...}; NULL when absent). */
json_t *group_doc_file_objects(json_t *doc);
/* group_doc_global_excludes: the group's excludes for every object (array of strings or NULL). */
json_t *group_doc_global_excludes(json_t *doc);
/* group_doc_object_id / name: an element of group_doc_file_objects. */
int64_t group_doc_object_id(json_t *obj);
const char *group_doc_object_name(json_t *obj);
/* group_doc_object_paths: appends the object's include paths (strings) to incs and its excludes to
 * excs (a path entry whose excludes are not all strings contributes none of them). */
void group_doc_object_paths(json_t *obj, json_t *incs, json_t *excs);
/* policy_doc_retention: the regular retention (unit string, duration) of a policy document: 0, or
 * -ENOENT when it has none. */
int policy_doc_retention(json_t *policy, const char **unit, int64_t *duration);
#endif
