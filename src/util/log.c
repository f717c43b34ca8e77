/* log.c: formats one line "2026-11-23T04:42:23Z LEVEL message" and writes it with a single call so
 * that lines from different threads never interleave.
 *
 * Warnings and errors are rate-limited: a message identical to one logged less than
 * LOG_REPEAT_SECS ago is counted instead of written; the next time it is written (once the window
 * passed) it carries " (repeated K times in N s)". A small table of recent messages (keyed by a
 * hash of the formatted text, least recently logged replaced first) holds the counts, so a failing
 * disk or catalog that repeats one error twice a second fills the log with one line per window. */
#include "util/log.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_REPEAT_SLOTS 64

struct log_seen {
    uint64_t hash;      /* 0 = empty slot */
    time_t logged_at;   /* when it was last written */
    unsigned long suppressed;
};

static enum log_level g_level = LOG_INFO;
static int g_repeat_secs = LOG_REPEAT_SECS;
static pthread_mutex_t g_seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_seen g_seen[LOG_REPEAT_SLOTS];

void log_set_level(enum log_level level) { g_level = level; }

void log_set_repeat_window(int secs) { g_repeat_secs = secs; }

static uint64_t msg_hash(enum log_level level, const char *s)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)level; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

/* admit: whether a warning/error is written now; *repeated is how many identical ones were
 * suppressed since it was last written (0 = none). */
static int admit(enum log_level level, const char *msg, time_t now, unsigned long *repeated)
{
    uint64_t h = msg_hash(level, msg);
    struct log_seen *slot = NULL, *oldest = &g_seen[0];
    int ok = 1;
    *repeated = 0;
    if (g_repeat_secs <= 0) return 1;
    pthread_mutex_lock(&g_seen_lock);
    for (int i = 0; i < LOG_REPEAT_SLOTS; i++) {
        if (g_seen[i].hash == h) {
            slot = &g_seen[i];
            break;
        }
        if (g_seen[i].logged_at < oldest->logged_at) oldest = &g_seen[i];
    }
    if (slot && now - slot->logged_at < g_repeat_secs && now >= slot->logged_at) {
        slot->suppressed++;
        ok = 0;
    } else if (slot) {
        *repeated = slot->suppressed;
        slot->suppressed = 0;
        slot->logged_at = now;
    } else {
        *oldest = (struct log_seen){ .hash = h, .logged_at = now };
    }
    pthread_mutex_unlock(&g_seen_lock);
    return ok;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
    char msg[2048], stamp[32], more[64] = "";
    struct tm tm;
    time_t now;
    unsigned long repeated = 0;
    va_list ap;
    if (level < g_level) return;
    now = time(NULL);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (level >= LOG_WARN && !admit(level, msg, now, &repeated)) return;
    if (repeated)
        snprintf(more, sizeof more, " (repeated %lu times in the last %d s)", repeated, g_repeat_secs);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s %s %s%s\n", stamp, names[level], msg, more);
}
