/* cat_gen.h: generation counters of the catalog, for caches of what is read from it (the API's list
 * answers: api/list_cache.h).
 *
 * A generation names a family of tables (CAT_GEN_GROUPS: protection_groups and its objects, ...) and
 * changes after every committed change to any of them made through this process's catalog functions:
 * a writer bumps it when it writes (cat_gen_touch; an autocommit write AFTER its statement) and, when
 * the write was inside a transaction, once more when that transaction ends (cat_commit or
 * cat_rollback call cat_gen_tx_end). A reader that reads
 * the generation BEFORE it reads the rows therefore holds a value that has changed by the time anything
 * its rows missed is visible, so "cached under g, and g is still current" means "still what a read
 * would return". Over-invalidation is harmless: counters are process-wide (a write through any open
 * catalog bumps them) and closing a catalog bumps every one.
 *
 * Writes by other processes are not seen: on a shared catalog (cat_shared: several daemons on one
 * PostgreSQL) cat_gen returns 0, which means "do not cache". */
#ifndef COFFER_CATALOG_CAT_GEN_H
#define COFFER_CATALOG_CAT_GEN_H
#include "catalog/cat.h"
#include <stdint.h>

enum cat_gen_family {
    CAT_GEN_GROUPS,   /* protection_groups, protection_group_objects */
    CAT_GEN_POLICIES, /* policies */
    CAT_GEN_RUNS,     /* runs, run_objects (touched after each write statement: runs.c) */
    CAT_GEN_COUNT
};

/* cat_gen: the current generation of a family (never 0), or 0 when cat's data may change behind this
 * process (a shared catalog): then nothing read from it may be cached. */
uint64_t cat_gen(struct cat *cat, enum cat_gen_family family);

/* For src/catalog only. cat_gen_touch: a writer of the family has written on this thread (call it
 * after every write statement: cat_exec_done_touch in internal.h). cat_gen_tx_end: this thread's transaction
 * ended (committed or rolled back): the families it touched are bumped again. cat_gen_bump_all: every
 * family (a catalog closes). */
void cat_gen_touch(enum cat_gen_family family);
/* cat_gen_value: the counter itself, shared or not (cat_gen is this and the shared check). */
uint64_t cat_gen_value(enum cat_gen_family family);
void cat_gen_tx_end(void);
void cat_gen_bump_all(void);
#endif
