/* clock.h: the scheduler's former names for the one clock (util/time.h), kept only so that API files
 * outside the job core's part compile unchanged until they include util/time.h themselves; new code
 * uses util_time_* directly. */
#ifndef COFFER_SCHED_CLOCK_H
#define COFFER_SCHED_CLOCK_H
#include "util/time.h"

static inline int64_t sched_clock_now(void) { return util_time_now(); }
static inline int64_t sched_clock_real(void) { return util_time_real(); }
static inline void sched_clock_enable_test(int on) { util_time_enable_test(on); }
static inline int sched_clock_test_enabled(void) { return util_time_test_enabled(); }
static inline int sched_clock_set(int64_t now_usecs) { return util_time_set(now_usecs); }
static inline int sched_clock_advance(int64_t delta_usecs) { return util_time_advance(delta_usecs); }
#endif
