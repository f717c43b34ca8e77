/* core.h: the agent core's own interface (beside the seam agentd.h): the HTTP client it speaks the
 * agent protocol with (http.c), the durable state file (state.c), discovery (discover.c) and the
 * heartbeat loop (core.c). docs/agent-protocol.md describes the protocol. */
#ifndef COFFER_AGENTD_CORE_H
#define COFFER_AGENTD_CORE_H
#include "agentd/agentd.h"
#include <signal.h>

/* ---- http.c ---- */

/* How the agent reaches cofferd: the base URL, the pinned public key ("sha256//<base64>"; NULL: no
 * pin, plain http on loopback in tests, or trust on first use), the bearer credential (NULL: none),
 * the upload rate limit (bytes per second, 0: none) and the whole-request timeout. */
struct agentd_conn {
    const char *url;
    const char *pin;
    const char *credential;
    int64_t rate_limit;
    long timeout_secs;
    size_t max_answer;   /* the largest answer read (0: AGENTD_MAX_ANSWER) */
    int uncounted;       /* not added to agentd_http_wire_bytes (heartbeats during work) */
};
#define AGENTD_MAX_ANSWER (4u * 1024 * 1024) /* the largest answer the agent reads */

struct agentd_answer {
    long status;      /* 0 when no answer came (connection refused, TLS or pin failure, timeout) */
    json_t *json;     /* the body when it was JSON, owned */
    char *body;       /* owned, NUL-terminated */
    size_t body_len;  /* its bytes (a binary answer may hold NULs) */
};
void agentd_answer_release(struct agentd_answer *a);
/* agentd_http_json: sends body (borrowed, NULL: none) with method to url + path. 0 when an answer
 * came (any status), else a negative code with the transport's sentence in err. */
int agentd_http_json(const struct agentd_conn *c, const char *method, const char *path, const json_t *body,
                     struct agentd_answer *out, char *err, size_t errlen);
/* agentd_http_raw_post: POSTs len bytes of data (application/octet-stream) to url + path; as
 * agentd_http_json otherwise. */
int agentd_http_raw_post(const struct agentd_conn *c, const char *path, const void *data, size_t len,
                         struct agentd_answer *out, char *err, size_t errlen);
/* agentd_http_wire_bytes: the bytes of every request and answer so far (headers and bodies, before
 * TLS framing), for the agent's reports. */
uint64_t agentd_http_wire_bytes(void);
/* agentd_http_server_pin: connects to url (https) without verifying and returns the pin of the public
 * key the server presents, "sha256//<base64 of SHA-256 of its DER SubjectPublicKeyInfo>", malloc'd. */
int agentd_http_server_pin(const char *url, char **pin, char *err, size_t errlen);
/* agentd_answer_message: the "message" of an error answer, or the body, or the status (static text
 * of a or buf). */
const char *agentd_answer_message(const struct agentd_answer *a, char *buf, size_t len);

/* ---- state.c ---- */

/* agentd_state_save: writes st durably (state_dir/state.json, 0600, in a 0700 directory). */
int agentd_state_save(const struct agentd_state *st, char *err, size_t errlen);

/* ---- discover.c ---- */

/* agentd_host_report: what the agent reports of its host: {"hostname", "version", "addresses": [...],
 * "volumes": [{"path", "fstype", "device", "used_bytes", "network"}]}. hostname NULL: gethostname();
 * addresses NULL: the addresses of the host's interfaces (loopback left out). New reference. */
json_t *agentd_host_report(const char *hostname, const json_t *addresses, char *err, size_t errlen);

/* ---- pg.c ---- */

/* agentd_pg_configure: a data directory to look for a running PostgreSQL in (absolute; borrowed for
 * the process's life; NULL: none) and the role discovery connects as (NULL: keep; default postgres).
 * -EINVAL for a relative path or too many. */
int agentd_pg_configure(const char *data_dir, const char *user);
/* agentd_pg_report: the running PostgreSQL instances of this host as a JSON array (new reference) of
 * {"port", "socket_dir", "data_directory", "version", "version_num", "databases": [{"name", "owner",
 * "bytes", "tables": [{"name", "bytes"}], "tables_cut"}], "databases_cut", "warnings"?} or, for one
 * that refused the connection, {"port", "socket_dir", "data_directory", "error"}. */
json_t *agentd_pg_report(void);

/* ---- core.c ---- */

struct agentd_run_opts {
    const char *state_dir;
    const char *hostname;      /* reported host name (NULL: gethostname) */
    json_t *addresses;         /* reported addresses (NULL: the interfaces'), borrowed */
    int64_t rate_limit;        /* bytes per second, 0: none */
    const char *local_listen;  /* the connector-side API's "ADDR:PORT" (NULL: not served) */
    int max_beats;             /* stop after this many heartbeats (0: until *stop) */
    volatile sig_atomic_t *stop; /* set by a signal handler: the loop ends within a second */
};
/* agentd_heartbeat_once: one heartbeat: reports the host, hands an upgrade directive to
 * agentd_upgrade_apply; *interval_secs (may be NULL) gets the interval the server asks for.
 * -EACCES when the server refused the credential (revoked: the agent stops), other codes for
 * transport failures (the loop retries). */
int agentd_heartbeat_once(const struct agentd_state *st, const struct agentd_run_opts *o, int *interval_secs,
                          char *err, size_t errlen);
/* agentd_run: the foreground loop: heartbeats at the server's interval, retrying failures with a
 * bounded backoff, until *o->stop, max_beats or a revoked credential (-EACCES). */
int agentd_run(const struct agentd_run_opts *o, char *err, size_t errlen);
/* agentd_work_run (backup.c): carries out one work item of a heartbeat answer (a backup of this
 * host through a writer-only repository handle) and reports its end to the server. */
int agentd_work_run(const struct agentd_state *st, const struct agentd_run_opts *o, const json_t *work);
/* agentd_restore_run (restore.c): carries out a restore work item (kind "restore"): eng_restore on
 * a read-only remote handle whose reads are the work's read and parent requests. */
int agentd_restore_run(const struct agentd_state *st, const struct agentd_run_opts *o, const json_t *work);
/* agentd_pg_backup_run (backup.c): a work item of kind "pg_backup": eng_pg_backup on a writer-only
 * handle; its first run's snapshot is staged with cofferd (never written), the final one committed. */
int agentd_pg_backup_run(const struct agentd_state *st, const struct agentd_run_opts *o, const json_t *work);
/* agentd_pg_restore_run (restore.c): a work item of kind "pg_restore": eng_pg_instance_new on a
 * read-only handle (a new data directory and port on this host, left running). */
int agentd_pg_restore_run(const struct agentd_state *st, const struct agentd_run_opts *o, const json_t *work);
/* agentd_set_connected (log.c): records whether the last heartbeat reached cofferd. */
void agentd_set_connected(int connected);
/* agentd_log_open: from now on agentd_log also appends to state_dir/agent.log. */
void agentd_log_open(const char *state_dir);
#endif
