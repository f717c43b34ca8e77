/* time.c: the one clock (see time.h): clock_gettime plus an atomic test offset. */
#include "util/time.h"
#include <errno.h>
#include <stdatomic.h>

static _Atomic int64_t g_offset;
static atomic_int g_test;

static int64_t usecs_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t util_time_real(void) { return usecs_of(CLOCK_REALTIME); }
int64_t util_time_mono(void) { return usecs_of(CLOCK_MONOTONIC); }
int64_t util_time_now(void) { return util_time_real() + atomic_load(&g_offset); }

void util_time_enable_test(int on)
{
    atomic_store(&g_test, on ? 1 : 0);
    if (!on) atomic_store(&g_offset, 0);
}

int util_time_test_enabled(void) { return atomic_load(&g_test); }

int util_time_moved(void) { return atomic_load(&g_offset) != 0; }

int util_time_set(int64_t now_usecs)
{
    if (!atomic_load(&g_test)) return -EPERM;
    atomic_store(&g_offset, now_usecs - util_time_real());
    return 0;
}

int util_time_advance(int64_t delta_usecs)
{
    if (!atomic_load(&g_test)) return -EPERM;
    atomic_fetch_add(&g_offset, delta_usecs);
    return 0;
}

void util_deadline_at(struct timespec *ts, int64_t real_usecs)
{
    ts->tv_sec = (time_t)(real_usecs / 1000000);
    ts->tv_nsec = (long)(real_usecs % 1000000) * 1000L;
}

void util_deadline_ms(struct timespec *ts, int64_t ms)
{
    util_deadline_at(ts, util_time_real() + (ms > 0 ? ms : 0) * 1000);
}
