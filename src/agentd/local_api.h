/* local_api.h: what the agent's local API (local_api.c) offers beyond agentd.h's start/stop. */
#ifndef COFFER_AGENTD_LOCAL_API_H
#define COFFER_AGENTD_LOCAL_API_H

/* agentd_local_api_port: the port the local API listens on (the one bound for "ADDR:0"), 0 when stopped. */
int agentd_local_api_port(void);
/* agentd_local_admin_init: makes state_dir/local-admin.json from state_dir/admin-password (the first
 * password, written at install) when it does not exist yet; 0, or -ENOENT when neither file exists. */
int agentd_local_admin_init(const char *state_dir);
#endif
