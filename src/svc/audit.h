/* audit.h: the audit trail of the daemon: who changed what, and every refused request. The API (one
 * call after dispatch, api/audit.c), the scheduled prune (sched/job_prune.c) and SIGHUP
 * (cmd/cofferd.c) record events here; the API's GET /v2/coffer/audit reads the catalog rows.
 *
 * svc_audit_record writes, in this order:
 *   1. the catalog row (cat_audit_append): the record of truth, durable before it returns (on a full
 *      disk, an event with a 2xx status, a change that was made, releases the catalog's space reserve
 *      and tries once more; others are logged);
 *   2. one JSON line (Coffer's snake_case names) appended to DIR/audit.log (O_APPEND, 0600, one write
 *      per line): a failure is logged and changes nothing else;
 *   3. now and then the retention sweep (svc_audit_sweep) when it is due: at the first event after
 *      the start and then once an hour of util_time_now, each time at most
 *      SVC_AUDIT_SWEEP_BATCHES * SVC_AUDIT_SWEEP_ROWS rows (what is left is taken at the next event).
 *
 * Configuration is process-wide (one daemon, one trail): svc_audit_configure once at start, before
 * any thread records. Without it the catalog rows are still written, the file is not, and the
 * retention is SVC_AUDIT_DEFAULT_RETENTION_DAYS. Nothing here reads a request or a secret: callers
 * pass ids and names only. */
#ifndef COFFER_SVC_AUDIT_H
#define COFFER_SVC_AUDIT_H
#include <stddef.h>
#include <stdint.h>

struct cat;

#define SVC_AUDIT_DEFAULT_RETENTION_DAYS 365
#define SVC_AUDIT_MAX_RETENTION_DAYS (100 * 366)
#define SVC_AUDIT_FILE "audit.log"
#define SVC_AUDIT_SWEEP_ROWS 1000
#define SVC_AUDIT_SWEEP_BATCHES 10
#define SVC_AUDIT_SWEEP_EVERY_USECS (3600LL * 1000000)

/* One event. Strings are borrowed; NULL where cat_audit.h allows it. time_usecs 0: util_time_now.
 * request_id NULL: one is made (svc_audit_request_id). */
struct svc_audit_event {
    int64_t time_usecs;
    const char *request_id;
    const char *actor;       /* "api", "scheduler", "signal" */
    const char *key_id;
    const char *tenant;
    const char *roles;
    const char *client;
    const char *method;
    const char *route;
    const char *path;
    const char *resource_id;
    int status;
    const char *detail;      /* a JSON document as text, or NULL */
};

/* svc_audit_configure: the data directory (DIR/audit.log; NULL: no file) and the retention in days
 * (1..SVC_AUDIT_MAX_RETENTION_DAYS). A file that exists with group or other permission bits is set
 * to 0600. 0, or -EINVAL for a retention out of range. */
int svc_audit_configure(const char *data_dir, int retention_days);
/* svc_audit_request_id: a new id for one request, unique in this daemon's life and across restarts
 * (the start time and a counter, hex), in buf (at least 32 bytes). */
void svc_audit_request_id(char *buf, size_t size);
/* svc_audit_record: records ev (see above). 0 when the catalog row is durable; otherwise the
 * catalog's error (logged; the file line is still written). */
int svc_audit_record(struct cat *cat, const struct svc_audit_event *ev);
/* svc_audit_sweep: deletes rows older than now - retention, at most SVC_AUDIT_SWEEP_BATCHES *
 * SVC_AUDIT_SWEEP_ROWS; the number removed, or a negative code. */
int64_t svc_audit_sweep(struct cat *cat, int64_t now_usecs);
#endif
