/* clock.h: the daemon's notion of "now" for scheduling and run times. It is the system's real time,
 * plus an offset that only a test can move (COFFER_TEST_CLOCK=1 enables the test-only route
 * POST /v2/coffer-test/clock, which calls sched_clock_set / sched_clock_advance). Leases never use
 * this clock: they use sched_clock_real, so moving the test clock cannot expire a live lease.
 * Thread-safe (one atomic offset). */
#ifndef COFFER_SCHED_CLOCK_H
#define COFFER_SCHED_CLOCK_H
#include <stdint.h>

/* sched_clock_now: microseconds since the epoch, test offset included. */
int64_t sched_clock_now(void);
/* sched_clock_real: the system's real time in microseconds. */
int64_t sched_clock_real(void);
/* Test clock: enable once at start (from the environment); when disabled the setters refuse (-1). */
void sched_clock_enable_test(int on);
int sched_clock_test_enabled(void);
/* sched_clock_set: now becomes now_usecs (the clock keeps running from there). */
int sched_clock_set(int64_t now_usecs);
/* sched_clock_advance: moves the clock by delta_usecs (may be negative). */
int sched_clock_advance(int64_t delta_usecs);
#endif
