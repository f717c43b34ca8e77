/* metrics.h: the daemon's job metrics, per process (they start at zero at each start), for GET /metrics
 * (api/health.c writes them in the Prometheus text format with metrics_write_jobs).
 *
 * The job core (sched/job.c) reports each job that ended (not one queued again by a shutdown or a
 * pause) with metrics_job_finished: its kind ("backup", "restore", "download", ...), its final status,
 * how long its worker ran it, and the bytes it read and stored (a backup: read from the source, and
 * added to the repository after deduplication and compression; a recovery: restored or archived
 * bytes read, nothing stored). A recovery that succeeded also feeds the recovery throughput (bytes
 * over seconds): a histogram and the last value.
 *
 * Bounded: at most METRICS_KINDS kinds and METRICS_STATUSES statuses per kind (later ones are counted
 * under kind "other" / status "other"); labels are the daemon's own names, never a client's text. */
#ifndef COFFER_UTIL_METRICS_H
#define COFFER_UTIL_METRICS_H
#include <stdint.h>
#include <stdio.h>

#define METRICS_KINDS 16
#define METRICS_STATUSES 8

/* metrics_job_finished: one job of kind ended with status after secs of work. recovery: whether it
 * is a recovery (its bytes_read / secs is a throughput sample when status starts with "Succeeded"). */
void metrics_job_finished(const char *kind, const char *status, double secs, int64_t bytes_read,
                          int64_t bytes_stored, int recovery);
/* metrics_write_jobs: coffer_job_duration_seconds (histogram by kind), coffer_jobs_finished_total
 * (by kind and status), coffer_job_bytes_read_total and coffer_job_bytes_stored_total (by kind),
 * coffer_recovery_throughput_bytes_per_second (histogram) and
 * coffer_recovery_last_throughput_bytes_per_second (gauge). */
void metrics_write_jobs(FILE *f);
/* metrics_reset: zero (tests). */
void metrics_reset(void);
#endif
