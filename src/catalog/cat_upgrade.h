/* cat_upgrade.h: agent upgrade tasks (issue 11) and the state of each agent in them.
 *
 * A task belongs to a tenant; its id is a positive integer from cat_next_seq("upgrade_task"). It
 * names agents (connector ids, positive integers), a schedule window (schedule_usecs: not before,
 * 0 = at once; schedule_end_usecs: not after, 0 = no end), a type ("Manual", or "Retry" with the id
 * of the task it retries) and a status (Scheduled, Running, Succeeded, Failed, PartiallyFailed,
 * Canceled). Each agent has its own status (Scheduled, Started, Succeeded, Failed, Skipped), times,
 * the version it had before and an error message. The rules that move the states are the service's
 * (svc/agent_upgrade.c); this file stores them.
 *
 * Functions return 0, CAT_NOT_FOUND or another negative code (cat.h). Strings are malloc'd and
 * released by cat_upgrade_task_release. */
#ifndef COFFER_CATALOG_CAT_UPGRADE_H
#define COFFER_CATALOG_CAT_UPGRADE_H
#include "catalog/cat.h"
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct cat_upgrade_agent {
    int64_t agent_id;
    char *status;            /* Scheduled, Started, Succeeded, Failed, Skipped */
    int64_t start_usecs, end_usecs;    /* 0: not yet */
    char *previous_version;  /* NULL: not known yet */
    char *error;             /* NULL: none */
};

struct cat_upgrade_task {
    int64_t id;
    char *name, *description; /* may be NULL */
    char *type;               /* Manual, Retry */
    int64_t retried_task_id;  /* 0: none */
    int64_t schedule_usecs, schedule_end_usecs, created_usecs;
    int64_t start_usecs, end_usecs;   /* 0: not yet */
    char *status;
    char *error;              /* NULL: none */
    char *version;            /* the version agents are upgraded to */
    size_t n_agents;
    struct cat_upgrade_agent *agents; /* in the order the task named them */
};
void cat_upgrade_task_release(struct cat_upgrade_task *t);

/* cat_upgrade_task_insert: stores t (its agents with their status) in one transaction; t->id is set
 * to the new id. */
int cat_upgrade_task_insert(struct cat *cat, const char *tenant, struct cat_upgrade_task *t);
int cat_upgrade_task_get(struct cat *cat, const char *tenant, int64_t id, struct cat_upgrade_task *out);
/* cat_upgrade_task_list: tenant's tasks by id; ids: optional JSON array of integers (NULL or empty:
 * all). fn's nonzero return stops the walk and is returned. */
typedef int (*cat_upgrade_task_fn)(void *ud, const struct cat_upgrade_task *t);
int cat_upgrade_task_list(struct cat *cat, const char *tenant, const json_t *ids, cat_upgrade_task_fn fn, void *ud);
/* cat_upgrade_task_set: the task's status, times and error (error NULL: none). */
int cat_upgrade_task_set(struct cat *cat, const char *tenant, int64_t id, const char *status, int64_t start_usecs,
                         int64_t end_usecs, const char *error);
/* cat_upgrade_agent_set: one agent's row of a task. previous_version NULL keeps the stored one. */
int cat_upgrade_agent_set(struct cat *cat, const char *tenant, int64_t task_id, const struct cat_upgrade_agent *a);
/* cat_upgrade_pending: the oldest task of tenant, in status Scheduled or Running and due
 * (schedule_usecs <= now_usecs), in which agent_id is Scheduled or Started: its id in *task_id.
 * CAT_NOT_FOUND when there is none. */
int cat_upgrade_pending(struct cat *cat, const char *tenant, int64_t agent_id, int64_t now_usecs, int64_t *task_id);
/* cat_upgrade_open: the ids of tenant's tasks still Scheduled or Running (tenant NULL: every tenant's),
 * for the sweep that ends expired windows: fn(ud, tenant, id). */
typedef int (*cat_upgrade_open_fn)(void *ud, const char *tenant, int64_t id);
int cat_upgrade_open(struct cat *cat, const char *tenant, cat_upgrade_open_fn fn, void *ud);
#endif
