/* log.c: formats one line per event (log.h: key=value text or a JSON object) and writes it with a
 * single call so that lines from different threads never interleave.
 *
 * The context pairs live in thread-local storage (a fixed array: no allocation, nothing to free when
 * a thread ends). JSON lines are built with jansson (which escapes the strings); text lines quote as
 * log.h says.
 *
 * Warnings and errors are rate-limited: a message identical to one logged less than
 * LOG_REPEAT_SECS ago is counted instead of written; the next time it is written (once the window
 * passed) it carries repeated=K. A small table of recent messages (keyed by a hash of the formatted
 * text, least recently logged replaced first) holds the counts, so a failing disk or catalog that
 * repeats one error twice a second fills the log with one line per window. */
#include "util/log.h"
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_REPEAT_SLOTS 64
#define LOG_LINE_MAX 8192

struct log_seen {
    uint64_t hash;      /* 0 = empty slot */
    time_t logged_at;   /* when it was last written */
    unsigned long suppressed;
};

struct log_pair {
    char key[32];
    char value[160];
};

static enum log_level g_level = LOG_INFO;
static enum log_format g_format = LOG_FORMAT_TEXT;
static int g_repeat_secs = LOG_REPEAT_SECS;
static pthread_mutex_t g_seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_seen g_seen[LOG_REPEAT_SLOTS];
static _Thread_local struct log_pair t_ctx[LOG_CTX_MAX];
static _Thread_local int t_nctx;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level level) { g_level = level; }

void log_set_format(enum log_format format) { g_format = format; }

void log_set_repeat_window(int secs) { g_repeat_secs = secs; }

void log_ctx_set(const char *key, const char *value)
{
    int i;
    for (i = 0; i < t_nctx; i++)
        if (strcmp(t_ctx[i].key, key) == 0) break;
    if (!value) {
        if (i < t_nctx) {
            memmove(&t_ctx[i], &t_ctx[i + 1], (size_t)(t_nctx - i - 1) * sizeof t_ctx[0]);
            t_nctx--;
        }
        return;
    }
    if (i == t_nctx) {
        if (t_nctx == LOG_CTX_MAX) return;
        t_nctx++;
    }
    snprintf(t_ctx[i].key, sizeof t_ctx[i].key, "%s", key);
    snprintf(t_ctx[i].value, sizeof t_ctx[i].value, "%s", value);
}

void log_ctx_clear(void) { t_nctx = 0; }

const char *log_ctx_get(const char *key)
{
    for (int i = 0; i < t_nctx; i++)
        if (strcmp(t_ctx[i].key, key) == 0) return t_ctx[i].value;
    return NULL;
}

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

/* put: appends text to buf at *o (always NUL-terminated; stops at the end). */
static void put(char *buf, size_t len, size_t *o, const char *s, size_t n)
{
    if (*o + 1 >= len) return;
    if (n > len - 1 - *o) n = len - 1 - *o;
    memcpy(buf + *o, s, n);
    *o += n;
    buf[*o] = '\0';
}

/* put_value: a text value, quoted when it must be (or always, for msg). */
static void put_value(char *buf, size_t len, size_t *o, const char *v, int always_quote)
{
    int quote = always_quote || !*v;
    for (const unsigned char *p = (const unsigned char *)v; *p && !quote; p++)
        quote = *p <= ' ' || *p == '"' || *p == '=' || *p == 0x7f;
    if (!quote) {
        put(buf, len, o, v, strlen(v));
        return;
    }
    put(buf, len, o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(buf, len, o, esc, 2);
        } else if (*p == '\n') {
            put(buf, len, o, "\\n", 2);
        } else if (*p == '\t') {
            put(buf, len, o, "\\t", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", *p);
            put(buf, len, o, esc, 4);
        } else {
            put(buf, len, o, (const char *)p, 1);
        }
    }
    put(buf, len, o, "\"", 1);
}

static void stamp_now(char *stamp, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char sec[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp, len, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
}

void log_format_line(char *buf, size_t len, enum log_level level, const char *msg, unsigned long repeated)
{
    char stamp[48];
    size_t o = 0;
    if (len == 0) return;
    buf[0] = '\0';
    stamp_now(stamp, sizeof stamp);
    if (g_format == LOG_FORMAT_JSON) {
        json_t *j = json_object();
        char *text;
        json_object_set_new(j, "ts", json_string(stamp));
        json_object_set_new(j, "level", json_string(level_names[level]));
        /* jansson takes UTF-8 only: a message with other bytes is kept with them as '?' */
        if (json_object_set_new(j, "msg", json_string(msg)) != 0) {
            char *copy = strdup(msg);
            for (char *p = copy; p && *p; p++)
                if ((unsigned char)*p >= 0x80) *p = '?';
            json_object_set_new(j, "msg", json_string(copy ? copy : ""));
            free(copy);
        }
        for (int i = 0; i < t_nctx; i++)
            if (json_object_get(j, t_ctx[i].key) == NULL) json_object_set_new(j, t_ctx[i].key, json_string(t_ctx[i].value));
        if (repeated) json_object_set_new(j, "repeated", json_integer((json_int_t)repeated));
        text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        snprintf(buf, len, "%s", text ? text : "{}");
        free(text);
        return;
    }
    put(buf, len, &o, "ts=", 3);
    put(buf, len, &o, stamp, strlen(stamp));
    put(buf, len, &o, " level=", 7);
    put(buf, len, &o, level_names[level], strlen(level_names[level]));
    put(buf, len, &o, " msg=", 5);
    put_value(buf, len, &o, msg, 1);
    for (int i = 0; i < t_nctx; i++) {
        put(buf, len, &o, " ", 1);
        put(buf, len, &o, t_ctx[i].key, strlen(t_ctx[i].key));
        put(buf, len, &o, "=", 1);
        put_value(buf, len, &o, t_ctx[i].value, 0);
    }
    if (repeated) {
        char more[64];
        snprintf(more, sizeof more, " repeated=%lu repeat_window_secs=%d", repeated, g_repeat_secs);
        put(buf, len, &o, more, strlen(more));
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char msg[2048], line[LOG_LINE_MAX];
    unsigned long repeated = 0;
    va_list ap;
    if (level < g_level) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (level >= LOG_WARN && !admit(level, msg, time(NULL), &repeated)) return;
    log_format_line(line, sizeof line, level, msg, repeated);
    fprintf(stderr, "%s\n", line);
}
