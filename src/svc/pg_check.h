/* pg_check.h: short, read-only questions to a registered PostgreSQL instance that the API asks for
 * the site restore API's restore-permissions: may the registration's role log in, create databases,
 * connect to and create tables in a database. (Whether a restore's targets exist is the job's own
 * check, sql_restore_precheck.) Each call opens one
 * libpq session on the instance (through svc_pg_target's conninfo, password included: never logged),
 * bounded by SVC_PG_CHECK_TIMEOUT_S to connect and as statement_timeout, and closes it.
 *
 * Returns 0 or a negative errno code with a sentence in err: -ECONNREFUSED (cannot connect or
 * authenticate: the server's message, never the conninfo), -EIO (a query failed), -ENOMEM. */
#ifndef COFFER_SVC_PG_CHECK_H
#define COFFER_SVC_PG_CHECK_H
#include <stddef.h>
#include <stdint.h>

struct svc_pg_target;

#define SVC_PG_CHECK_TIMEOUT_S 5

/* What the registration's role may do on the instance. */
struct svc_pg_role {
    char name[64];        /* current_user */
    int superuser;
    int createdb;         /* CREATEDB (or superuser): may create the databases a restore makes */
};
/* What it may do in one database. */
struct svc_pg_db_rights {
    int exists;
    int can_connect;      /* has_database_privilege CONNECT */
    int can_create;       /* may create tables: superuser, or CREATE on the database's public schema */
};
/* svc_pg_role_rights: connects (to the maintenance database) and reads the role's attributes. */
int svc_pg_role_rights(const struct svc_pg_target *t, struct svc_pg_role *out, char *err, size_t errlen);
/* svc_pg_db_rights: the role's rights in dbname (exists 0 and the rest 0 when there is no such
 * database). */
int svc_pg_db_rights(const struct svc_pg_target *t, const char *dbname, struct svc_pg_db_rights *out, char *err,
                     size_t errlen);
#endif
