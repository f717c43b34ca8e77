/* log.c: formats one line "2026-11-23T04:42:23Z LEVEL message" and writes it with a single call so
 * that lines from different threads never interleave. */
#include "util/log.h"
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level g_level = LOG_INFO;

void log_set_level(enum log_level level) { g_level = level; }

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
    char msg[2048], stamp[32];
    struct tm tm;
    time_t now;
    va_list ap;
    if (level < g_level) return;
    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s %s\n", stamp, names[level], msg);
}
