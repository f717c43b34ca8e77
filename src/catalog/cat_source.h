/* cat_source.h: source registrations and the objects discovered under them (hosts, volumes, and
 * PostgreSQL instances with their databases and tables).
 *
 * A registration (table sources) is what a client registered through
 * /v2/data-protect/sources/registrations: its validated request JSON (doc) plus the state the server
 * keeps (registration and refresh times, authentication status, the last refresh error). Its id is
 * taken from the same counter as object ids, and when an agent reaches the host the registration's
 * root object (the host) has that very id, so the registration id, the objects' source id and the
 * {id} of /sources/{id}/refresh all name the same number.
 *
 * Objects (table objects) are the protectable things under a registration: the host (parent 0), its
 * volumes (parent = host), and for PostgreSQL (environment kSQL) an instance (parent = host), its
 * databases (parent = instance) and their tables (parent = database). Ids come from
 * cat_next_seq("object") and never change: a refresh matches what it finds by (parent, key) (the
 * mount point of a volume, "pg:<port>" of an instance, a database's name, "schema.table") and keeps
 * the id; an object that is no longer found is marked vanished (is_deleted) with everything below
 * it, not removed, and gets its old id back if it returns.
 *
 * A registration's PostgreSQL connection settings (struct cat_pg_conn) are kept as Coffer's own
 * typed document (sources.spec, migration 10) beside the wire document; its password only sealed
 * under the repository key (repo_secret_seal), never in clear.
 *
 * What discovery learned about an object (its OS, size, file system, host name) is kept in Coffer's
 * own names (struct cat_object_facts: the os_type column plus an internal document in the doc
 * column); the API builds the wire shapes (ProtectionSource, SearchObject) from them. Migration 8
 * turned documents stored in the wire shape before it into this one.
 *
 * Every function is scoped by tenant: another tenant's rows are CAT_NOT_FOUND. Strings returned in
 * structs are malloc'd copies released with the matching *_release function. */
#ifndef COFFER_CATALOG_CAT_SOURCE_H
#define COFFER_CATALOG_CAT_SOURCE_H
#include "catalog/cat.h"
#include <stdint.h>
#include <jansson.h>

/* --- Objects -------------------------------------------------------------------------------- */

/* Where an object's data is read: by the agent built into cofferd (files read directly on this
 * machine) or by a remote agent (none exist yet). */
enum cat_agent_kind { CAT_AGENT_NONE = 0, CAT_AGENT_LOCAL = 1, CAT_AGENT_REMOTE = 2 };

/* What an agent found out about an object, in Coffer's names. Strings are owned by a cat_object
 * (released with it); in a cat_discovered they are borrowed. */
struct cat_object_facts {
    char *os_type;           /* kLinux; NULL unknown */
    int64_t logical_bytes;   /* bytes in use; -1 unknown */
    /* a volume (fs_type NULL: nothing is known about its file system) */
    char *fs_type;           /* ext4, xfs, nfs4, ... */
    char *device;            /* the device, or the remote path of a network file system */
    int is_network;          /* a network file system */
    /* a host (host_type NULL: nothing is known about the machine) */
    char *host_type;         /* kLinux */
    char *host_name;         /* the machine's own host name (gethostname) */
    /* PostgreSQL: an instance (pg_version NULL: not one) */
    char *pg_version;        /* server_version, e.g. "15.18 (Debian 15.18-1)" */
    int64_t pg_version_num;  /* server_version_num, 0 unknown */
    char *data_directory;    /* NULL unknown (the role may not read it) */
    int port;                /* 0 unknown */
    char *socket_dir;
    /* a database */
    char *owner;             /* its owner's role name; NULL unknown */
};

struct cat_object {
    int64_t id;
    int64_t source_id;       /* the registration (= the root object's id) */
    int64_t parent_id;       /* 0 for the root (the host) */
    char *name;              /* host: the registered endpoint; volume: the mount point; instance:
                              * "<endpoint>:<port>"; database: its name; table: "schema.table" */
    char *environment;       /* kPhysical, kSQL */
    char *object_type;       /* kHost, kVolume, kInstance, kDatabase, kTable */
    char *path;              /* volume: its mount point; host: "/" (everything); may be NULL */
    char *source_name;       /* the root object's name */
    char *uuid;              /* a random UUID given at discovery, kept for the object's life */
    enum cat_agent_kind agent;
    int is_deleted;          /* vanished at the last refresh */
    struct cat_object_facts facts;  /* owned */
};
void cat_object_release(struct cat_object *o);

/* cat_object_exists: 1 when tenant has a (not vanished) object with this id, 0 when not, <0 on an
 * internal error. Protection groups validate their objects with it. */
int cat_object_exists(struct cat *cat, const char *tenant, int64_t id);
/* cat_object_get: fills *out (release with cat_object_release); 0, CAT_NOT_FOUND or another negative
 * code. Vanished objects are returned too (is_deleted = 1). */
int cat_object_get(struct cat *cat, const char *tenant, int64_t id, struct cat_object *out);
/* cat_object_type_get: the object's type (kHost, kVolume, kInstance, kDatabase, kTable) and
 * environment (kPhysical, kSQL) into the buffers (either may be NULL); 0, CAT_NOT_FOUND (no such
 * object of tenant, or vanished) or <0. Protection groups use it to check that a kSQL group lists
 * kInstance / kDatabase objects. */
int cat_object_type_get(struct cat *cat, const char *tenant, int64_t id, char *type, size_t type_len, char *env,
                        size_t env_len);
/* cat_object_is_local: 1 when the object is served by the agent built into cofferd (its files are
 * read on this machine, under cat_object.path), 0 when not (remote, unreachable or unknown), <0 on
 * an internal error. */
int cat_object_is_local(struct cat *cat, const char *tenant, int64_t id);
/* cat_object_children: the not vanished children of an object (e.g. a host's volumes) in id order;
 * *out is a malloc'd array of *n objects, each released with cat_object_release, then free(*out). */
int cat_object_children(struct cat *cat, const char *tenant, int64_t parent_id, struct cat_object **out,
                        size_t *n);

/* cat_object_protected: 1 when a protection group of tenant that is not deleted lists the object,
 * 0 when none does, <0 on error. */
int cat_object_protected(struct cat *cat, const char *tenant, int64_t id);
/* cat_object_group_ids: the ids of the live protection groups listing the object, as a new JSON
 * array of strings (NULL on error). */
json_t *cat_object_group_ids(struct cat *cat, const char *tenant, int64_t id);

/* Object search (GET /v2/data-protect/search/objects). Every filter is optional (NULL / -1 / 0 =
 * absent); list filters are JSON arrays of strings (environments, os_types) or of integers
 * (object_ids, source_ids). name_glob is matched case-insensitively with '*' as the only wildcard.
 * Deleted: 0 = only present objects, 1 = only vanished ones, 2 = both. The callback sees each match
 * in id order after after_id; it returns 0 to continue, 1 to stop, <0 to abort (the scan then
 * returns -1). The callback may itself call the catalog. */
struct cat_object_filter {
    const char *name_glob;
    json_t *environments;
    json_t *object_ids;
    json_t *source_ids;
    json_t *source_uuids;
    json_t *os_types;
    json_t *protection_group_ids;  /* strings: objects listed by these (live) protection groups */
    int is_protected;              /* -1 any, 0 only unprotected, 1 only protected */
    int deleted;
    int64_t after_id;
};
typedef int (*cat_object_fn)(void *ud, const struct cat_object *o);
int cat_object_scan(struct cat *cat, const char *tenant, const struct cat_object_filter *f, cat_object_fn fn,
                    void *ud);

/* --- Discovery results, as an agent reports them ------------------------------------------------ */

struct cat_discovered {
    const char *key;          /* what identifies it under its parent across refreshes (mount point) */
    const char *name;
    const char *object_type;  /* kVolume, kInstance, kDatabase, kTable */
    const struct cat_object_facts *facts; /* borrowed, may be NULL (nothing known) */
    size_t parent;            /* 0: a child of the root; i + 1: a child of items[i] (an earlier item) */
    const char *environment;  /* NULL: the environment given to the sync */
};

/* --- Registrations -------------------------------------------------------------------------- */

/* A registration's PostgreSQL connection (strings owned by the cat_source). */
struct cat_pg_conn {
    int port;                 /* 1..65535 */
    char *socket_dir;         /* absolute path of the server's unix-socket directory */
    char *user;
    char *database;           /* the maintenance database */
    char *password_sealed;    /* repo_secret_seal text, or NULL: no password */
};

struct cat_source {
    int64_t id;
    char *environment;
    char *name;
    char *endpoint_key;       /* "local" for this machine, else the lower-cased endpoint */
    char *connection_id;      /* data-source connection (decimal string) or NULL */
    json_t *doc;              /* the registration request as validated, owned */
    int64_t registered_ms, refreshed_ms; /* refreshed_ms 0 = never */
    int64_t modified_usecs;
    char *auth_status;        /* Finished, Pending, RefreshInProgress, Scheduled */
    char *error;              /* why the last refresh failed, or NULL */
    enum cat_agent_kind agent;
    int has_pg;               /* pg holds the PostgreSQL connection (kSQL, or kPhysical with kSQL) */
    struct cat_pg_conn pg;
};
void cat_source_release(struct cat_source *s);

/* cat_source_insert: stores a new registration; s->id must have been allocated with
 * cat_next_seq(cat, "object"). CAT_CONFLICT when tenant already registered this endpoint_key for
 * this environment. */
int cat_source_insert(struct cat *cat, const char *tenant, const struct cat_source *s);
/* cat_source_update: replaces name, doc, connection_id, modified_usecs and the PostgreSQL
 * connection (has_pg, pg). CAT_NOT_FOUND. */
int cat_source_update(struct cat *cat, const char *tenant, const struct cat_source *s);
/* cat_source_set_state: after a refresh: auth status, error (NULL clears it), refreshed_ms (0 keeps
 * the previous value). */
int cat_source_set_state(struct cat *cat, const char *tenant, int64_t id, const char *auth_status,
                         const char *error, int64_t refreshed_ms);
int cat_source_get(struct cat *cat, const char *tenant, int64_t id, struct cat_source *out);
/* cat_source_list: all of tenant's registrations in id order (ids: optional JSON array of integers). */
typedef int (*cat_source_fn)(void *ud, const struct cat_source *s);
int cat_source_list(struct cat *cat, const char *tenant, json_t *ids, cat_source_fn fn, void *ud);
/* cat_source_delete: removes the registration and all its objects. CAT_NOT_FOUND. */
int cat_source_delete(struct cat *cat, const char *tenant, int64_t id);
/* cat_source_protected: 1 when a live protection group lists any object of registration id. */
int cat_source_protected(struct cat *cat, const char *tenant, int64_t id);
/* cat_source_uses_connection: 1 when a registration of tenant names this data-source connection. */
int cat_source_uses_connection(struct cat *cat, const char *tenant, const char *connection_id);

/* cat_source_sync_scope: records what discovery found on the host of registration id: the root
 * (host) object gets the registration's id, with root_facts (borrowed, may be NULL; root_name NULL
 * keeps the root as it is, which must then exist: CAT_NOT_FOUND otherwise); each item becomes an
 * object under its parent (the root or an earlier item) keyed by item.key: an existing one keeps its
 * id (and is revived if it had vanished), a new one gets the next "object" id. scope says what this
 * sync speaks for: the root's children whose object_type is in scope (a NULL-terminated list; NULL =
 * every child) and everything below them; those of them not in items are marked vanished. The agent
 * syncs {"kVolume"}, PostgreSQL discovery {"kInstance"}. Call inside cat_begin/cat_commit. */
int cat_source_sync_scope(struct cat *cat, const char *tenant, int64_t id, const char *environment,
                          enum cat_agent_kind agent, const char *root_name,
                          const struct cat_object_facts *root_facts, const char *const *scope,
                          const struct cat_discovered *items, size_t n);
/* cat_source_sync_objects: cat_source_sync_scope speaking for every child of the root (scope NULL). */
int cat_source_sync_objects(struct cat *cat, const char *tenant, int64_t id, const char *environment,
                            enum cat_agent_kind agent, const char *root_name,
                            const struct cat_object_facts *root_facts, const struct cat_discovered *items, size_t n);

/* --- The protection source tree (v1 protectionSources, src/catalog/sources_tree.c) ----------------- */

struct cat_tree_object {
    struct cat_object o;
    int listed;               /* a live (not deleted) protection group lists this very object */
};
/* cat_object_tree: the present (not vanished) objects of tenant's registrations, or of registration
 * source_id alone when it is > 0, ordered by registration, then roots (parent 0) before children,
 * then id; each with whether a live protection group lists it. *out is a malloc'd array of *n
 * entries (NULL when none), released with cat_object_tree_free. 0 or <0. One statement: the caller
 * needs no transaction for a consistent picture. */
int cat_object_tree(struct cat *cat, const char *tenant, int64_t source_id, struct cat_tree_object **out,
                    size_t *n);
void cat_object_tree_free(struct cat_tree_object *v, size_t n);
#endif
