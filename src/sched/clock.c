/* clock.c: real time plus a test-only offset (see clock.h). */
#include "sched/clock.h"
#include <stdatomic.h>
#include <time.h>

static _Atomic int64_t g_offset;
static atomic_int g_test;

int64_t sched_clock_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sched_clock_now(void) { return sched_clock_real() + atomic_load(&g_offset); }

void sched_clock_enable_test(int on)
{
    atomic_store(&g_test, on ? 1 : 0);
    if (!on) atomic_store(&g_offset, 0);
}

int sched_clock_test_enabled(void) { return atomic_load(&g_test); }

int sched_clock_set(int64_t now_usecs)
{
    if (!atomic_load(&g_test)) return -1;
    atomic_store(&g_offset, now_usecs - sched_clock_real());
    return 0;
}

int sched_clock_advance(int64_t delta_usecs)
{
    if (!atomic_load(&g_test)) return -1;
    atomic_fetch_add(&g_offset, delta_usecs);
    return 0;
}
