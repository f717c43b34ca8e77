/* sqldb.c: choosing the driver for a catalog target (see sqldb.h). A target is PostgreSQL when it
 * is a postgres:// or postgresql:// URL, or a libpq key=value string (it starts with a keyword
 * such as host=, dbname= or service=); anything else is the path of a SQLite file. */
#include "catalog/sqldb.h"
#include <ctype.h>
#include <string.h>

int sqldb_is_pg(const char *target)
{
    const char *p = target;
    if (!target) return 0;
    if (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0) return 1;
    while (*p == ' ') p++;
    if (!islower((unsigned char)*p)) return 0;
    while (islower((unsigned char)*p) || *p == '_') p++;
    while (*p == ' ') p++;
    return *p == '=';
}

sqldb_conn *sqldb_open(const char *target, char *err, size_t errlen)
{
    return sqldb_is_pg(target) ? sqldb_pg_open(target, err, errlen) : sqldb_sqlite_open(target, err, errlen);
}
