/* clock.h: the scheduler's former name for the one clock (util/time.h), kept only for
 * src/api/recoveries.c (its two sched_clock_now calls) until that file includes util/time.h itself;
 * then this header is deleted. New code uses util_time_* directly. */
#ifndef COFFER_SCHED_CLOCK_H
#define COFFER_SCHED_CLOCK_H
#include "util/time.h"

static inline int64_t sched_clock_now(void) { return util_time_now(); }
#endif
