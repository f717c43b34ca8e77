/* test_job.c: the job core (src/sched/job.c) with fake kinds registered in a test kind table, on the
 * real catalog queues: a job of a registered kind runs and one of an unknown kind is failed; a cancel
 * request reaches the running job through the monitor; a lease the monitor renews outlives its
 * length while an expired one of a dead owner is failed by another pool (takeover), and a worker
 * whose job was taken away sees lease_lost; jobs a previous daemon left Running fail on start; a
 * stop raises cancel with job_stopping true, and the runs-queue kind requeues its run. */
#include "check.h"
#include "e2e/pgtest.h"
#include "catalog/cat_recovery.h"
#include "catalog/cat_run.h"
#include "sched/job.h"
#include "sched/job_recovery.h"
#include "util/time.h"
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct job_queue job_queue_runs;

static struct cat *g_cat;
static char *g_dir;
static int64_t g_seq = 1;

/* What the fake kinds saw. */
static atomic_int g_runs, g_release, g_saw_user, g_saw_stop, g_saw_lost;
static atomic_int g_lost_count; /* jobs that ended seeing their lease lost */

static void fake_wait(struct job *j)
{
    atomic_fetch_add(&g_runs, 1);
    for (int i = 0; i < 1000 && !j->cancel && !atomic_load(&g_release); i++) usleep(10 * 1000); /* <= 10 s */
    atomic_store(&g_saw_user, job_user_canceled(j));
    atomic_store(&g_saw_stop, job_stopping(j));
    atomic_store(&g_saw_lost, job_lease_lost(j));
    if (job_lease_lost(j)) atomic_fetch_add(&g_lost_count, 1);
}

/* fake recovery kind: waits, then records Succeeded, Canceled (a request) or nothing (lease lost). */
static void fake_rec_run(struct job *j)
{
    struct cat_recovery_stats st = { .files = 1 };
    json_t *m = json_array();
    fake_wait(j);
    if (!job_lease_lost(j))
        cat_recovery_finish(job_cat(j), j->tenant, j->id, j->cancel ? (job_user_canceled(j) ? "Canceled" : "Failed")
                                                                    : "Succeeded", m, NULL, &st, -1, util_time_now());
    json_decref(m);
}

/* fake backup kind on the runs queue: waits; on a stop it queues its run again, else finishes it. */
static void fake_run_run(struct job *j)
{
    json_t *m = json_array();
    fake_wait(j);
    if (job_stopping(j))
        cat_run_requeue(job_cat(j), j->tenant, j->id, j->start_usecs, "interrupted by a daemon shutdown; queued again");
    else
        cat_run_finish(job_cat(j), j->tenant, j->id, j->start_usecs, "Succeeded", m, util_time_now());
    json_decref(m);
}

static const struct job_kind fake_rec = { .name = "fake", .queue = &job_queue_recoveries, .run = fake_rec_run };
static const struct job_kind fake_backup = { .name = "backup", .queue = &job_queue_runs, .run = fake_run_run };
static const struct job_kind *const test_kinds[] = { &fake_rec, &fake_backup, NULL };

static void reset(void)
{
    atomic_store(&g_runs, 0);
    atomic_store(&g_release, 0);
    atomic_store(&g_saw_user, -1);
    atomic_store(&g_saw_stop, -1);
    atomic_store(&g_saw_lost, -1);
    atomic_store(&g_lost_count, 0);
}

static struct job_pool *start_pool(const char *name, const struct job_queue *q, int64_t lease_usecs)
{
    struct job_pool_config c = { .name = name, .cat = g_cat, .workers = 1, .queue = q, .kinds = test_kinds,
                                 .lease_usecs = lease_usecs, .renew_usecs = lease_usecs / 4,
                                 .housekeeping_usecs = 3600LL * 1000000, .monitor_ms = 50 };
    struct job_pool *p = NULL;
    char err[256] = "";
    if (job_pool_start(&c, &p, err, sizeof err) != 0) fprintf(stderr, "job_pool_start: %s\n", err);
    return p;
}

/* queue_rec: an Accepted recovery of kind; its id in id. */
static int queue_rec(const char *kind, char *id, size_t idlen)
{
    int64_t n = g_seq++;
    json_t *req = json_pack("{s:i}", "v", 1), *doc = json_object();
    struct cat_recovery_new r = { .tenant = "t1", .id = id, .seq = n, .name = "r", .kind = kind,
                                  .snapshot_environment = "kPhysical", .recovery_action = "RecoverFiles",
                                  .snapshot_id = "00", .object_id = 1, .start_usecs = n, .request = req, .doc = doc };
    int rc;
    snprintf(id, idlen, "1:1:%lld", (long long)n);
    rc = cat_recovery_insert(g_cat, &r);
    json_decref(req);
    json_decref(doc);
    return rc;
}

/* rec_status: the recovery's status and first message into the buffers; waits (bounded, 5 s) until
 * it is not one of the statuses in `while_in` ("" waits for nothing). */
static int rec_status(const char *id, const char *while_in, char *status, size_t slen, char *msg, size_t mlen)
{
    for (int i = 0; i < 500; i++) {
        struct cat_recovery r;
        int rc = cat_recovery_get(g_cat, "t1", id, &r);
        if (rc != 0) return rc;
        snprintf(status, slen, "%s", r.status);
        const char *m0 = json_string_value(json_array_get(r.messages, 0));
        snprintf(msg, mlen, "%s", m0 ? m0 : "");
        cat_recovery_release(&r);
        if (!*while_in || !strstr(while_in, status)) return 0;
        usleep(10 * 1000);
    }
    return 0;
}

static int wait_runs(int n)
{
    for (int i = 0; i < 500 && atomic_load(&g_runs) < n; i++) usleep(10 * 1000);
    return atomic_load(&g_runs);
}

TEST(registered_kind_runs_unknown_kind_fails)
{
    struct job_pool *p;
    char id[64], id2[64], st[32], msg[256];
    reset();
    atomic_store(&g_release, 1);
    CHECK_EQ_INT(queue_rec("fake", id, sizeof id), 0);
    CHECK_EQ_INT(queue_rec("mystery", id2, sizeof id2), 0);
    p = start_pool("t-a", &job_queue_recoveries, 0);
    CHECK(p != NULL);
    job_pool_notify(p);
    CHECK_EQ_INT(rec_status(id, "Accepted Running", st, sizeof st, msg, sizeof msg), 0);
    CHECKF(strcmp(st, "Succeeded") == 0, "status %s", st);
    CHECK_EQ_INT(rec_status(id2, "Accepted Running", st, sizeof st, msg, sizeof msg), 0);
    job_pool_stop(p);
    CHECKF(strcmp(st, "Failed") == 0, "status %s", st);
    CHECKF(strcmp(msg, "no worker of this daemon runs jobs of kind 'mystery'") == 0, "message %s", msg);
    CHECK_EQ_INT(atomic_load(&g_runs), 1);
}

TEST(cancel_reaches_running_job)
{
    struct job_pool *p;
    char id[64], st[32], msg[256];
    int was_running = 0;
    reset();
    CHECK_EQ_INT(queue_rec("fake", id, sizeof id), 0);
    p = start_pool("t-b", &job_queue_recoveries, 0);
    CHECK(p != NULL);
    CHECK_EQ_INT(wait_runs(1), 1);
    CHECK_EQ_INT(cat_recovery_cancel(g_cat, "t1", id, util_time_now(), &was_running), 0);
    CHECK_EQ_INT(was_running, 1);
    CHECK_EQ_INT(rec_status(id, "Running Canceling", st, sizeof st, msg, sizeof msg), 0);
    job_pool_stop(p);
    CHECKF(strcmp(st, "Canceled") == 0, "status %s", st);
    CHECK_EQ_INT(atomic_load(&g_saw_user), 1);
    CHECK_EQ_INT(atomic_load(&g_saw_stop), 0);
    CHECK_EQ_INT(atomic_load(&g_saw_lost), 0);
}

TEST(lease_renewed_expired_taken_over_and_lost)
{
    struct job_pool *a, *b;
    struct cat_recovery r;
    char id1[64], id2[64], dead[64], alive[64], st[32], msg[256];
    reset();
    /* Two pools of one worker each, 400 ms leases renewed every 100 ms; each runs one job, so no
     * worker is idle to lease what the test queues next. */
    a = start_pool("t-c", &job_queue_recoveries, 400 * 1000);
    b = start_pool("t-d", &job_queue_recoveries, 400 * 1000);
    CHECK(a != NULL && b != NULL);
    CHECK_EQ_INT(queue_rec("fake", id1, sizeof id1), 0);
    CHECK_EQ_INT(queue_rec("fake", id2, sizeof id2), 0);
    job_pool_notify(a);
    job_pool_notify(b);
    CHECK_EQ_INT(wait_runs(2), 2);
    usleep(1000 * 1000); /* 2.5 lease lengths */
    job_pool_housekeeping(a);
    job_pool_housekeeping(b);
    CHECK_EQ_INT(rec_status(id1, "", st, sizeof st, msg, sizeof msg), 0);
    CHECKF(strcmp(st, "Running") == 0, "a renewed lease was failed: %s %s", st, msg);
    CHECK_EQ_INT(rec_status(id2, "", st, sizeof st, msg, sizeof msg), 0);
    CHECKF(strcmp(st, "Running") == 0, "a renewed lease was failed: %s %s", st, msg);
    /* A dead owner's expired lease is failed by another pool; an unexpired one is left alone. */
    CHECK_EQ_INT(queue_rec("fake", dead, sizeof dead), 0);
    CHECK_EQ_INT(cat_recovery_lease_next(g_cat, "dead-owner", util_time_real() + 100 * 1000, &r), 0);
    CHECK(strcmp(r.id, dead) == 0);
    cat_recovery_release(&r);
    CHECK_EQ_INT(queue_rec("fake", alive, sizeof alive), 0);
    CHECK_EQ_INT(cat_recovery_lease_next(g_cat, "slow-owner", util_time_real() + 3600LL * 1000000, &r), 0);
    CHECK(strcmp(r.id, alive) == 0);
    cat_recovery_release(&r);
    usleep(200 * 1000);
    job_pool_housekeeping(b);
    CHECK_EQ_INT(rec_status(dead, "", st, sizeof st, msg, sizeof msg), 0);
    CHECKF(strcmp(st, "Failed") == 0 && strcmp(msg, "the worker running it stopped answering (lease expired)") == 0,
           "expired lease: %s %s", st, msg);
    CHECK_EQ_INT(rec_status(alive, "", st, sizeof st, msg, sizeof msg), 0);
    CHECKF(strcmp(st, "Running") == 0, "unexpired lease: %s", st);
    /* Taken away (as a restarted daemon would): the workers see lease_lost and record nothing. */
    CHECK_EQ_INT(cat_recovery_fail_running(g_cat, "someone-else", 0, "taken", util_time_now(), NULL), 0);
    /* both pool jobs must see it (a slow monitor is waited for, up to 10 s, before the stop that
     * would otherwise end the second one as a plain stop) */
    for (int i = 0; i < 1000 && atomic_load(&g_lost_count) < 2; i++) usleep(10 * 1000);
    job_pool_stop(b);
    job_pool_stop(a);
    CHECK_EQ_INT(atomic_load(&g_lost_count), 2);
    CHECK_EQ_INT(atomic_load(&g_saw_lost), 1);
    CHECK_EQ_INT(atomic_load(&g_saw_user), 0);
    CHECK_EQ_INT(rec_status(id1, "", st, sizeof st, msg, sizeof msg), 0);
    CHECKF(strcmp(st, "Failed") == 0 && strcmp(msg, "taken") == 0, "the new owner's status stays: %s %s", st, msg);
}

TEST(failed_on_restart)
{
    struct job_pool *p;
    struct cat_recovery r;
    char id[64], st[32], msg[256];
    reset();
    CHECK_EQ_INT(queue_rec("fake", id, sizeof id), 0);
    CHECK_EQ_INT(cat_recovery_lease_next(g_cat, "previous-daemon", INT64_MAX, &r), 0);
    cat_recovery_release(&r);
    p = start_pool("t-e", &job_queue_recoveries, 0);
    CHECK(p != NULL);
    CHECK_EQ_INT(rec_status(id, "", st, sizeof st, msg, sizeof msg), 0);
    job_pool_stop(p);
    CHECKF(strcmp(st, "Failed") == 0 && strcmp(msg, "interrupted by daemon restart") == 0, "%s %s", st, msg);
    CHECK_EQ_INT(atomic_load(&g_runs), 0);
}

TEST(stop_requeues_run)
{
    struct job_pool *p;
    struct cat_run r;
    struct cat_run_new n = { .tenant = "t1", .group_id = "1:1:9", .group_name = "g", .group_seq = 9,
                             .run_type = "kRegular", .status = "Accepted" };
    int64_t start = 5000;
    reset();
    CHECK_EQ_INT(cat_run_insert(g_cat, &n, &start), 0);
    p = start_pool("t-f", &job_queue_runs, 0);
    CHECK(p != NULL);
    CHECK_EQ_INT(wait_runs(1), 1);
    CHECK_EQ_INT(cat_run_get(g_cat, "t1", "1:1:9", start, &r), 0);
    CHECKF(strcmp(r.status, "Running") == 0, "%s", r.status);
    CHECK(r.lease_owner && strncmp(r.lease_owner, "t-f:", 4) == 0);
    cat_run_release(&r);
    job_pool_stop(p);
    CHECK_EQ_INT(atomic_load(&g_saw_stop), 1);
    CHECK_EQ_INT(atomic_load(&g_saw_user), 0);
    CHECK_EQ_INT(cat_run_get(g_cat, "t1", "1:1:9", start, &r), 0);
    CHECKF(strcmp(r.status, "Accepted") == 0 && r.lease_owner == NULL, "%s", r.status);
    CHECK(strstr(json_string_value(json_array_get(r.messages, 0)), "queued again") != NULL);
    cat_run_release(&r);
}

TEST(time_deadline)
{
    struct timespec ts;
    int64_t before = util_time_real(), at;
    util_deadline_ms(&ts, 1500);
    at = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    CHECK(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
    CHECK(at >= before + 1500 * 1000 && at <= util_time_real() + 1500 * 1000);
    CHECK_EQ_INT(util_time_set(0), -EPERM); /* the test clock is off */
    util_time_enable_test(1);
    CHECK_EQ_INT(util_time_advance(3600LL * 1000000), 0);
    CHECK(util_time_now() - util_time_real() >= 3599LL * 1000000);
    util_time_enable_test(0);
    CHECK(util_time_now() - util_time_real() < 1000000);
}

int main(void)
{
    char path[512], err[256] = "";
    g_dir = check_tmpdir("job");
    snprintf(path, sizeof path, "%s/catalog.db", g_dir);
    if (cat_open(pgtest_cat(path), &g_cat, err, sizeof err) != 0) {
        fprintf(stderr, "cat_open: %s\n", err);
        return 1;
    }
    RUN(registered_kind_runs_unknown_kind_fails);
    RUN(cancel_reaches_running_job);
    RUN(lease_renewed_expired_taken_over_and_lost);
    RUN(failed_on_restart);
    RUN(stop_requeues_run);
    RUN(time_deadline);
    cat_close(g_cat);
    check_rm_rf(g_dir);
    free(g_dir);
    return check_finish();
}
