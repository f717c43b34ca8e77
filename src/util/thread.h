/* thread.h: names the calling thread, for ps -L, top -H, /proc/PID/task/TID/comm and perf --sort comm.
 *
 * util_thread_name sets the kernel's name of the calling thread from a printf format; the kernel
 * keeps 15 bytes, so longer names are cut to that. Every thread cofferd and coffer-agent start calls
 * it first thing with its module and role ("bk-worker", "rs-writer", "pack-sealer", "backup-job").
 * A name is a diagnostic aid only: a failure is ignored. */
#ifndef COFFER_UTIL_THREAD_H
#define COFFER_UTIL_THREAD_H

void util_thread_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
