/* pgsource.h: a PostgreSQL registered through the API, for end-to-end tests that need kSQL objects
 * (a kSQL protection group lists kInstance or kDatabase objects of a kSQL registration): a private
 * server (pgtest.h) with one database, registered as a kSQL source of a tenant (advancedConfigs
 * pgPort / pgSocketDir), and the ids of its instance and database objects. */
#ifndef COFFER_TESTS_PGSOURCE_H
#define COFFER_TESTS_PGSOURCE_H
#include "harness.h"
#include "pgtest.h"
#include <stddef.h>

struct pgsource {
    struct pgtest pg;
    long long source_id, instance_id, db_id;
};

/* pgsource_start: initdb, start on port, CREATE DATABASE db, register for tenant through d, find the
 * objects. 0, or -1 with why. */
int pgsource_start(struct pgsource *s, struct daemon *d, const char *tenant, int port, const char *db, char *why,
                   size_t n);
/* pgsource_find: the id of the first object (depth first) of objectType type named name (NULL: any)
 * in a JSON document; 0 when none. */
long long pgsource_find(json_t *j, const char *type, const char *name);
/* pgsource_stop: stops and removes the server (the registration stays). */
void pgsource_stop(struct pgsource *s);
#endif
