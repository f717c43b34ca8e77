/* objects.h: how a discovered object (a host, a volume, a PostgreSQL instance, database or table) is
 * shown by the API, shared by the source registrations (sourceInfo) and the object search
 * (search_objects.c implements these). */
#ifndef COFFER_API_OBJECTS_H
#define COFFER_API_OBJECTS_H
#include "catalog/cat_source.h"
#include <jansson.h>

/* api_object_summary: the ObjectSummary fields of o (id, name, sourceId, sourceName, environment,
 * objectType, uuid, osType, logicalSizeBytes, ...). A new reference. */
json_t *api_object_summary(const struct cat_object *o);
/* api_object_has_details: 1 when discovery recorded what the object is (a volume's file system, a
 * host's type), i.e. when it has a physicalProtectionSource. */
int api_object_has_details(const struct cat_object *o);
/* api_object_pps: the object's physicalProtectionSource (a volume: type, name, mountPoint,
 * fileSystemType, isNetworkFileSystem, devicePath; a host: type, hostType, name, hostName, agent)
 * built from its facts, or NULL when it has no details. A new reference. */
json_t *api_object_pps(const struct cat_object *o);
/* api_object_is_sql: 1 for a PostgreSQL object (environment kSQL: kInstance, kDatabase, kTable). */
int api_object_is_sql(const struct cat_object *o);
/* api_object_json: the Object: the summary plus the object's own details (physicalProtectionSource;
 * mssqlParams for a PostgreSQL object) and, for a host, an instance or a database, childObjects: the
 * summaries of its present children (volumes and instance; databases; tables), nested. NULL on a
 * catalog error. */
json_t *api_object_json(struct cat *cat, const char *tenant, const struct cat_object *o);
#endif
