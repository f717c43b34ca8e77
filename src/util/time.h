/* time.h: the daemon's one clock.
 *
 * util_time_now is "now" for everything a user sees or a schedule decides (run and recovery times,
 * retention, the scheduler): the system's real time plus an offset that only a test can move (the
 * daemon enables the test clock from COFFER_TEST_CLOCK=1; the test-only route
 * POST /v2/coffer-test/clock calls util_time_set / util_time_advance). util_time_real is the real
 * time without the offset: leases and lease expiry use it, so moving the test clock never expires a
 * live lease. util_time_mono is for measuring durations. util_deadline_* fill the absolute
 * CLOCK_REALTIME timespec pthread_cond_timedwait takes: the one place that arithmetic is written.
 * Thread-safe (one atomic offset). Times are microseconds since the epoch unless named otherwise. */
#ifndef COFFER_UTIL_TIME_H
#define COFFER_UTIL_TIME_H
#include <stdint.h>
#include <time.h>

int64_t util_time_now(void);   /* real time + test offset */
int64_t util_time_real(void);  /* real time */
int64_t util_time_mono(void);  /* CLOCK_MONOTONIC, microseconds */

/* Test clock: enable once at start; when disabled the setters refuse (-EPERM). */
void util_time_enable_test(int on);
int util_time_test_enabled(void);
/* util_time_moved: 1 once a test moved the clock (the offset is not zero), else 0. */
int util_time_moved(void);
/* util_time_set: now becomes now_usecs (the clock keeps running from there). */
int util_time_set(int64_t now_usecs);
/* util_time_advance: moves now by delta_usecs (may be negative). */
int util_time_advance(int64_t delta_usecs);

/* util_deadline_ms: *ts = the real time ms milliseconds from now (ms >= 0), for pthread_cond_timedwait. */
void util_deadline_ms(struct timespec *ts, int64_t ms);
/* util_deadline_at: *ts = the real time real_usecs (an util_time_real instant). */
void util_deadline_at(struct timespec *ts, int64_t real_usecs);
#endif
