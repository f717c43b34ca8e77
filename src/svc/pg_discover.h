/* pg_discover.h: discovery of the PostgreSQL instance of a registration (kSQL, or kPhysical with the
 * kSQL application) into the catalog: the instance under the registration's host, its databases and
 * their tables (the object model: cat_source.h, pg_target.h). */
#ifndef COFFER_SVC_PG_DISCOVER_H
#define COFFER_SVC_PG_DISCOVER_H
#include <stddef.h>
#include <stdint.h>

struct cat;
struct repo;

/* svc_pg_refresh: for registration id of tenant with a PostgreSQL connection whose host the agent
 * has discovered (its root object exists): connects (eng_pg_discover) and, in one transaction,
 * syncs the kInstance subtree under the host (ids kept; databases and tables no longer found are
 * flagged vanished) and sets the state: Finished (refreshed now; the error column holds the
 * warnings, e.g. a table list cut at ENG_PG_MAX_TABLES, or is cleared), or, when the server cannot be
 * reached or refuses the login, Pending with the server's message and the instance subtree flagged
 * vanished. A registration whose host was not discovered (no agent reaches it) is left as it is;
 * one without a PostgreSQL connection keeps its state, and an instance found earlier is flagged
 * vanished. Runs its own transactions: never call it inside
 * cat_begin/cat_commit. 0 when the catalog was updated (or nothing was to do), CAT_NOT_FOUND, <0. */
int svc_pg_refresh(struct cat *cat, struct repo *repo, const char *tenant, int64_t id);
#endif
