/* agentd.h: coffer-agent, the remote agent that runs on a protected host (issue 11). This header is
 * the seam between the agent's parts, which are built by different hands:
 *   - the core (agentd/core*.c, cmd/coffer-agent.c): its state directory, registration with cofferd,
 *     the heartbeat and work loop, backup and restore of the host's files over the agent protocol
 *     (docs/agent-protocol.md);
 *   - the fleet side (agentd/upgrade.c, agentd/local_api.c): applying an upgrade directive the
 *     server sends in a heartbeat answer, and the connector-side REST operations of the data-protect
 *     API (RegisterDataSourceConnector, CreateAccessToken, GetDataSourceConnectorStatus/Logs,
 *     GetUsers/UpdateUser) served by the agent on its host.
 * Functions return 0 or a negative errno code, with a human sentence in err where given. */
#ifndef COFFER_AGENTD_AGENTD_H
#define COFFER_AGENTD_AGENTD_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* The agent's persistent state, loaded from its state directory (0700; files 0600, written
 * durably). Strings malloc'd, released by agentd_state_release. */
struct agentd_state {
    char *state_dir;     /* e.g. /var/lib/coffer-agent */
    char *server_url;    /* cofferd's base URL, https://host:port (no /v2) */
    char *server_pin;    /* "sha256//<base64>" of the server's public key, pinned at registration; NULL: plain http (tests on loopback) */
    char *connector_id;  /* positive decimal string given by cofferd at registration; NULL before */
    char *tenant;        /* the tenant of the connection it registered with */
    char *credential;    /* the agent's bearer credential; NULL before registration */
};
void agentd_state_release(struct agentd_state *st);

/* agentd_state_load: reads state_dir; -ENOENT when the agent never registered (server_url and the
 * rest NULL, state_dir set). */
int agentd_state_load(const char *state_dir, struct agentd_state *out, char *err, size_t errlen);

/* agentd_register: exchanges a registration token (GenerateDataSourceConnectionRegistrationToken)
 * for this host's credential at cofferd server_url, pinning the server's certificate (pin NULL:
 * pin what the server presents, trust on first use, printed), and writes the state durably.
 * connector_id 0: the server picks one. -EACCES for a refused token (expired, reused, unknown). */
int agentd_register(const char *state_dir, const char *server_url, const char *token, int64_t connector_id,
                    const char *pin, char *err, size_t errlen);

/* agentd_log: the agent's event log (Info, Warning, Error), kept in a bounded ring in memory and
 * appended to state_dir/agent.log; GetDataSourceConnectorLogs reads it through agentd_log_list. */
enum agentd_log_level { AGENTD_INFO, AGENTD_WARNING, AGENTD_ERROR };
void agentd_log(enum agentd_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* agentd_log_list: the entries, oldest first, as a JSON array of {level, time_ms, message}; new ref. */
json_t *agentd_log_list(void);

/* agentd_connected: 1 when the last heartbeat reached cofferd; *last_ms its time (0: never). */
int agentd_connected(int64_t *last_ms);

/* ---------- fleet side ---------- */

/* agentd_upgrade_apply (upgrade.c): called by the heartbeat loop with the "upgrade" object of a
 * heartbeat answer (docs/agent-protocol.md): downloads the package from cofferd, checks its
 * SHA-256, installs it and re-executes the agent; reports the outcome in the next heartbeat. */
int agentd_upgrade_apply(const struct agentd_state *st, const json_t *directive, char *err, size_t errlen);
/* agentd_upgrade_report (upgrade.c): the outcome of the last upgrade to put into the next heartbeat
 * (an object, new ref), or NULL when there is nothing to report. */
json_t *agentd_upgrade_report(const struct agentd_state *st);

/* agentd_local_api_start (local_api.c): serves the connector-side operations on listen ("ADDR:PORT",
 * NULL: not served) until agentd_local_api_stop. */
int agentd_local_api_start(const char *state_dir, const char *listen, char *err, size_t errlen);
void agentd_local_api_stop(void);
#endif
