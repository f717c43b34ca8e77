/* pg_target.h: how the planes above reach a protected PostgreSQL instance: the one resolution of a
 * kSQL object (an instance, a database or a table discovered under a kSQL registration) to the
 * instance it lives on and a libpq connection string for it, with the registration's password
 * decrypted (it is stored only sealed under the repository key: repo_secret_seal / repo_secret_open).
 *
 * The object model (src/catalog/cat_source.h; built by discovery, svc/pg_discover.c):
 *   kHost      the registration's root (id = the registration id), environment kSQL
 *   kInstance  one PostgreSQL server reached through the registration (its port / socket directory)
 *   kDatabase  a database of that instance (template0/template1 are not objects)
 *   kTable     a table of a database, named "schema.table"
 * The registration's connection settings are advancedConfigs keys (api/sources.c validates them):
 * pgPort (default 5432), pgSocketDir (default /var/run/postgresql), pgUser (default postgres),
 * pgPassword (optional; never stored or answered in clear), pgDatabase (the maintenance database,
 * default postgres).
 *
 * The conninfo strings built here carry the password: never log them. Functions return 0 or a
 * negative errno code (-ENOENT: no such object of the tenant, or not a kSQL object; -EAGAIN: the
 * password is sealed and no repository is open), with a sentence in err. */
#ifndef COFFER_SVC_PG_TARGET_H
#define COFFER_SVC_PG_TARGET_H
#include <stddef.h>
#include <stdint.h>

struct cat;
struct repo;

struct svc_pg_target {
    int64_t source_id;       /* the registration */
    int64_t instance_id;     /* the kInstance object */
    int64_t object_id;       /* the object asked for (== instance_id for an instance) */
    char *instance_name;     /* the kInstance object's name */
    char *conninfo;          /* libpq conninfo of the instance's maintenance database (password included) */
    char *database;          /* a kDatabase or kTable object: its database's name; else NULL */
    char *table;             /* a kTable object: "schema.table"; else NULL */
    char *socket_dir;        /* as registered (NULL when a host/TCP connection is used) */
    int port;
    char *data_directory;    /* as last discovered; NULL when unknown */
    /* An instance on a host a coffer-agent serves (discovered from its heartbeat report): the agent's
     * connector id, else NULL (the instance is this machine's). conninfo then names the socket
     * directory the agent found, and is for the agent to use on its host, never for this daemon. */
    char *connector;
};

/* svc_pg_target: resolves object_id of tenant. repo may be NULL when the registration has no password. */
int svc_pg_target(struct cat *cat, struct repo *repo, const char *tenant, int64_t object_id,
                  struct svc_pg_target *out, char *err, size_t errlen);
void svc_pg_target_release(struct svc_pg_target *t);

/* svc_pg_conninfo_db: the target's conninfo with dbname replaced by dbname (malloc'd into *out). */
int svc_pg_conninfo_db(const struct svc_pg_target *t, const char *dbname, char **out);

/* Added by pg-disc (implemented in pg_target.c):
 * svc_pg_source_conninfo: the libpq conninfo of registration s's maintenance database
 * (host=<socket dir> port user dbname connect_timeout=10, and the password opened with
 * repo_secret_open when one is sealed); *out malloc'd, release with svc_pg_conninfo_free (wipes it).
 * -ENOENT: s has no PostgreSQL connection; -EAGAIN: a password is sealed and repo is NULL; -EBADMSG:
 * the sealed password does not open under this repository's key. */
struct cat_source;
int svc_pg_source_conninfo(struct repo *repo, const struct cat_source *s, char **out, char *err, size_t errlen);
void svc_pg_conninfo_free(char *conninfo);

/* svc_pg_agent_of: the connector id (malloc'd into *connector) of the coffer-agent serving the host
 * of a kSQL object (a registration's host, an instance, a database or a table), or *connector NULL
 * when the object is this machine's. -ENOENT: no such object, or its host is an agent's that no
 * registered agent serves any more. */
int svc_pg_agent_of(struct cat *cat, const char *tenant, int64_t object_id, char **connector, char *err, size_t errlen);
#endif
