/* log.h: leveled logging to stderr with a timestamp; thread-safe (one fprintf per line).
 * Warnings and errors are rate-limited: the same message is written at most once per
 * LOG_REPEAT_SECS, the next written copy saying how many were suppressed ("(repeated K times ...)"). */
#ifndef COFFER_UTIL_LOG_H
#define COFFER_UTIL_LOG_H
#define LOG_REPEAT_SECS 30
enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };
void log_set_level(enum log_level level);
/* log_set_repeat_window: seconds within which an identical warning/error is counted, not written
 * (<= 0: no limit). For tests. */
void log_set_repeat_window(int secs);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#endif
