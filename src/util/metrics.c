/* metrics.c: the job metrics of metrics.h in fixed tables under one mutex: per kind a duration
 * histogram (non-cumulative buckets, summed when written), byte counters and per-status counts; one
 * recovery throughput histogram and the last throughput. */
#include "util/metrics.h"
#include <pthread.h>
#include <string.h>

/* job duration buckets, seconds (upper bounds; +Inf is the count) */
static const double dur_bounds[] = { 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400 };
#define N_DUR (sizeof dur_bounds / sizeof dur_bounds[0])
/* recovery throughput buckets, bytes per second */
static const double tput_bounds[] = { 1e5, 1e6, 1e7, 5e7, 1e8, 2.5e8, 5e8, 1e9, 2.5e9, 1e10 };
#define N_TPUT (sizeof tput_bounds / sizeof tput_bounds[0])

struct kind_row {
    char name[24];
    uint64_t bucket[N_DUR], count;
    double sum_secs;
    uint64_t bytes_read, bytes_stored;
    char status[METRICS_STATUSES][24];
    uint64_t status_count[METRICS_STATUSES];
    uint64_t other_status;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kind_row g_kinds[METRICS_KINDS + 1]; /* the last row: "other" */
static size_t g_nkinds;
static uint64_t g_tput_bucket[N_TPUT], g_tput_count;
static double g_tput_sum, g_tput_last;

static struct kind_row *kind_row(const char *kind)
{
    for (size_t i = 0; i < g_nkinds; i++)
        if (strcmp(g_kinds[i].name, kind) == 0) return &g_kinds[i];
    if (g_nkinds < METRICS_KINDS && strlen(kind) < sizeof g_kinds[0].name) {
        struct kind_row *k = &g_kinds[g_nkinds++];
        memcpy(k->name, kind, strlen(kind) + 1);
        return k;
    }
    memcpy(g_kinds[METRICS_KINDS].name, "other", 6);
    return &g_kinds[METRICS_KINDS];
}

void metrics_job_finished(const char *kind, const char *status, double secs, int64_t bytes_read,
                          int64_t bytes_stored, int recovery)
{
    struct kind_row *k;
    size_t i;
    if (secs < 0) secs = 0;
    pthread_mutex_lock(&g_mu);
    k = kind_row(kind && *kind ? kind : "unknown");
    for (i = 0; i < N_DUR && secs > dur_bounds[i]; i++) {}
    if (i < N_DUR) k->bucket[i]++;
    k->count++;
    k->sum_secs += secs;
    if (bytes_read > 0) k->bytes_read += (uint64_t)bytes_read;
    if (bytes_stored > 0) k->bytes_stored += (uint64_t)bytes_stored;
    status = status && *status ? status : "unknown";
    for (i = 0; i < METRICS_STATUSES && k->status[i][0] && strcmp(k->status[i], status) != 0; i++) {}
    if (i < METRICS_STATUSES && !k->status[i][0] && strlen(status) < sizeof k->status[i])
        memcpy(k->status[i], status, strlen(status) + 1);
    if (i < METRICS_STATUSES && k->status[i][0]) k->status_count[i]++;
    else k->other_status++;
    if (recovery && strncmp(status, "Succeeded", 9) == 0 && bytes_read > 0) {
        double t = (double)bytes_read / (secs > 1e-6 ? secs : 1e-6);
        for (i = 0; i < N_TPUT && t > tput_bounds[i]; i++) {}
        if (i < N_TPUT) g_tput_bucket[i]++;
        g_tput_count++;
        g_tput_sum += t;
        g_tput_last = t;
    }
    pthread_mutex_unlock(&g_mu);
}

void metrics_write_jobs(FILE *f)
{
    size_t n;
    uint64_t cum;
    pthread_mutex_lock(&g_mu);
    n = g_nkinds + (g_kinds[METRICS_KINDS].count ? 1 : 0);
    fprintf(f, "# HELP coffer_job_duration_seconds How long a worker ran each job that ended, by kind.\n"
               "# TYPE coffer_job_duration_seconds histogram\n");
    for (size_t r = 0; r < n; r++) {
        const struct kind_row *k = r < g_nkinds ? &g_kinds[r] : &g_kinds[METRICS_KINDS];
        cum = 0;
        for (size_t i = 0; i < N_DUR; i++) {
            cum += k->bucket[i];
            fprintf(f, "coffer_job_duration_seconds_bucket{kind=\"%s\",le=\"%g\"} %llu\n", k->name, dur_bounds[i],
                    (unsigned long long)cum);
        }
        fprintf(f, "coffer_job_duration_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %llu\n"
                   "coffer_job_duration_seconds_sum{kind=\"%s\"} %.6f\n"
                   "coffer_job_duration_seconds_count{kind=\"%s\"} %llu\n",
                k->name, (unsigned long long)k->count, k->name, k->sum_secs, k->name, (unsigned long long)k->count);
    }
    fprintf(f, "# HELP coffer_jobs_finished_total Jobs that ended, by kind and final status.\n"
               "# TYPE coffer_jobs_finished_total counter\n");
    for (size_t r = 0; r < n; r++) {
        const struct kind_row *k = r < g_nkinds ? &g_kinds[r] : &g_kinds[METRICS_KINDS];
        for (size_t i = 0; i < METRICS_STATUSES && k->status[i][0]; i++)
            fprintf(f, "coffer_jobs_finished_total{kind=\"%s\",status=\"%s\"} %llu\n", k->name, k->status[i],
                    (unsigned long long)k->status_count[i]);
        if (k->other_status)
            fprintf(f, "coffer_jobs_finished_total{kind=\"%s\",status=\"other\"} %llu\n", k->name,
                    (unsigned long long)k->other_status);
    }
    fprintf(f, "# HELP coffer_job_bytes_read_total Bytes the jobs that ended read (a backup: from its sources; a "
               "recovery: from the repository), by kind.\n# TYPE coffer_job_bytes_read_total counter\n");
    for (size_t r = 0; r < n; r++) {
        const struct kind_row *k = r < g_nkinds ? &g_kinds[r] : &g_kinds[METRICS_KINDS];
        fprintf(f, "coffer_job_bytes_read_total{kind=\"%s\"} %llu\n", k->name, (unsigned long long)k->bytes_read);
    }
    fprintf(f, "# HELP coffer_job_bytes_stored_total Bytes the jobs that ended added to the repository (after "
               "deduplication and compression), by kind.\n# TYPE coffer_job_bytes_stored_total counter\n");
    for (size_t r = 0; r < n; r++) {
        const struct kind_row *k = r < g_nkinds ? &g_kinds[r] : &g_kinds[METRICS_KINDS];
        fprintf(f, "coffer_job_bytes_stored_total{kind=\"%s\"} %llu\n", k->name, (unsigned long long)k->bytes_stored);
    }
    fprintf(f, "# HELP coffer_recovery_throughput_bytes_per_second Bytes per second of each recovery that succeeded.\n"
               "# TYPE coffer_recovery_throughput_bytes_per_second histogram\n");
    cum = 0;
    for (size_t i = 0; i < N_TPUT; i++) {
        cum += g_tput_bucket[i];
        fprintf(f, "coffer_recovery_throughput_bytes_per_second_bucket{le=\"%g\"} %llu\n", tput_bounds[i],
                (unsigned long long)cum);
    }
    fprintf(f, "coffer_recovery_throughput_bytes_per_second_bucket{le=\"+Inf\"} %llu\n"
               "coffer_recovery_throughput_bytes_per_second_sum %.3f\n"
               "coffer_recovery_throughput_bytes_per_second_count %llu\n",
            (unsigned long long)g_tput_count, g_tput_sum, (unsigned long long)g_tput_count);
    fprintf(f, "# HELP coffer_recovery_last_throughput_bytes_per_second Bytes per second of the last recovery that "
               "succeeded (0: none yet).\n# TYPE coffer_recovery_last_throughput_bytes_per_second gauge\n"
               "coffer_recovery_last_throughput_bytes_per_second %.3f\n", g_tput_last);
    pthread_mutex_unlock(&g_mu);
}

void metrics_reset(void)
{
    pthread_mutex_lock(&g_mu);
    memset(g_kinds, 0, sizeof g_kinds);
    g_nkinds = 0;
    memset(g_tput_bucket, 0, sizeof g_tput_bucket);
    g_tput_count = 0;
    g_tput_sum = g_tput_last = 0;
    pthread_mutex_unlock(&g_mu);
}
