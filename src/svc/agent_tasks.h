/* agent_tasks.h: the upgrade tasks' operations for the API (GetUpgradeTasks / CreateUpgradeTask) and
 * the agent packages' facts, beside the heartbeat seam of agent_upgrade.h (both in
 * svc/agent_upgrade.c, which says how a task's states move). */
#ifndef COFFER_SVC_AGENT_TASKS_H
#define COFFER_SVC_AGENT_TASKS_H
#include "catalog/cat_upgrade.h"
#include <stddef.h>
#include <stdint.h>

/* The states (cat_upgrade.h): a task's and one agent's. */
#define SVC_UPG_SCHEDULED "Scheduled"
#define SVC_UPG_RUNNING "Running"
#define SVC_UPG_STARTED "Started"
#define SVC_UPG_SUCCEEDED "Succeeded"
#define SVC_UPG_FAILED "Failed"
#define SVC_UPG_PARTIAL "PartiallyFailed"
#define SVC_UPG_CANCELED "Canceled"
#define SVC_UPG_SKIPPED "Skipped"

/* What a new task asks: agents (n of them; ignored when retry_of is set), its window and names. */
struct svc_upgrade_req {
    const int64_t *agents;
    size_t n_agents;
    int64_t retry_of;              /* 0: a Manual task; else the task whose failed agents are retried */
    const char *name, *description; /* may be NULL */
    int64_t schedule_usecs, schedule_end_usecs;
};

/* svc_upgrade_task_create: validates against the catalog and stores the task (status Scheduled; its
 * agents Scheduled), *id_out its id. -EINVAL with a sentence in err: agent i is no connector of
 * tenant (*bad_index = i), or (*bad_index = -1) the retried task is not Failed or PartiallyFailed;
 * -ENOENT: the retried task does not exist; other <0: catalog errors. */
int svc_upgrade_task_create(struct cat *cat, const char *tenant, const struct svc_upgrade_req *req, int64_t now_usecs,
                            int64_t *id_out, long *bad_index, char *err, size_t errlen);
/* svc_upgrade_sweep: ends the tasks of tenant (NULL: all) whose window has passed (their agents not
 * yet upgraded become Failed, the task Failed or PartiallyFailed) or whose every agent was deleted
 * before it started (Canceled). Called before tasks are listed. 0 or <0. */
int svc_upgrade_sweep(struct cat *cat, const char *tenant, int64_t now_usecs);

/* svc_agent_package_info: the package file of type ("deb" | "script") with its size and SHA-256 in
 * lowercase hex (computed once per file version, cached). path malloc'd. 0, -ENOENT (not built),
 * or -errno. */
int svc_agent_package_info(const char *type, char **path, int64_t *size, char sha256_hex[65]);
/* svc_agent_package_dir: where cofferd looks for the packages (for messages): a static string. */
const char *svc_agent_package_dir(void);
/* svc_version_cmp: compares dotted numeric versions ("0.9.0" < "0.10.0"): <0, 0, >0. */
int svc_version_cmp(const char *a, const char *b);
#endif
