/* thread.c: util_thread_name: formats the name into the kernel's 16 bytes (the terminator
 * included) and sets it with pthread_setname_np on the calling thread. */
#include "util/thread.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

void util_thread_name(const char *fmt, ...)
{
    char name[16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap); /* cut at 15 bytes, as the kernel would */
    va_end(ap);
    (void)pthread_setname_np(pthread_self(), name);
}
