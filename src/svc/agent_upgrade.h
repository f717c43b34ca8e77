/* agent_upgrade.h: the server side of agent upgrades (issue 11), the seam between the agent
 * protocol's heartbeat (src/api, agent core) and the upgrade tasks (GetUpgradeTasks /
 * CreateUpgradeTask, fleet side: svc/agent_upgrade.c, its catalog table and scheduler pass).
 *
 * The heartbeat handler calls svc_agent_upgrade_heartbeat once per heartbeat with what the agent
 * reported; the answer (an "upgrade" directive or NULL) goes back in the heartbeat answer. */
#ifndef COFFER_SVC_AGENT_UPGRADE_H
#define COFFER_SVC_AGENT_UPGRADE_H
#include <jansson.h>
#include <stdint.h>

struct cat;

/* svc_agent_upgrade_heartbeat: connector connector_id of tenant reports its version and, after an
 * upgrade, its outcome (report: the agent's agentd_upgrade_report object, or NULL). Returns a new
 * reference to the directive {"taskId", "version", "path", "sha256", "size"} when an upgrade task
 * due now names this agent and its version is older than the daemon's, else NULL. */
json_t *svc_agent_upgrade_heartbeat(struct cat *cat, const char *tenant, const char *connector_id,
                                    const char *agent_version, const json_t *report, int64_t now_usecs);

/* svc_agent_package_path: the file of the agent package cofferd serves for (platform, package
 * type) ("linux", "deb" | "script"): malloc'd path, or NULL with -ENOENT in *rc. */
char *svc_agent_package_path(const char *package_type, int *rc);
#endif
