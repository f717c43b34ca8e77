/* log.h: leveled logging to stderr, one line per event, thread-safe (one write per line).
 *
 * A line is key=value pairs (LOG_FORMAT_TEXT, the default):
 *     ts=2026-12-06T09:45:01.123Z level=info msg="cofferd listening on ..." request_id=18c3f...-2a
 * or one JSON object (LOG_FORMAT_JSON): {"ts":"...","level":"info","msg":"...","request_id":"..."}.
 * In text, msg is always double-quoted and other values are quoted when they hold a blank, '"', '='
 * or a control character; inside quotes '"' and '\' are escaped with '\', and newline, tab and other
 * control characters as \n, \t, \xHH.
 *
 * Context: log_ctx_set attaches key=value pairs to every line the calling thread logs until
 * log_ctx_clear (the API server sets request_id for each request; the job core sets job, kind and
 * tenant for each job; kinds add what they know, e.g. group). At most LOG_CTX_MAX pairs per thread;
 * keys up to 31 bytes, values up to 159 (longer ones are cut).
 *
 * Warnings and errors are rate-limited: the same message is written at most once per
 * LOG_REPEAT_SECS, the next written copy saying how many were suppressed (repeated=K). */
#ifndef COFFER_UTIL_LOG_H
#define COFFER_UTIL_LOG_H
#include <stddef.h>
#define LOG_REPEAT_SECS 30
#define LOG_CTX_MAX 6
enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };
void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
/* log_set_repeat_window: seconds within which an identical warning/error is counted, not written
 * (<= 0: no limit). For tests. */
void log_set_repeat_window(int secs);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* log_ctx_set: key=value on every line of this thread from now on (a key set again is replaced; value
 * NULL removes it). log_ctx_clear: none. log_ctx_get: the value of key in this thread, or NULL. */
void log_ctx_set(const char *key, const char *value);
void log_ctx_clear(void);
const char *log_ctx_get(const char *key);
/* log_format_line: the line log_msg would write (without the newline) into buf; for tests. */
void log_format_line(char *buf, size_t len, enum log_level level, const char *msg, unsigned long repeated);
#endif
