/* fsio.h: the one durable-write protocol and small file helpers.
 *
 * fsio_write_atomic is how every file that matters reaches disk: write to "<path>.tmp-<pid>-XXXXXX",
 * fsync it, rename over <path>, fsync the directory. Readers see the old file or the new one, never
 * a torn one. All functions return 0 on success and -errno on failure. */
#ifndef COFFER_UTIL_FSIO_H
#define COFFER_UTIL_FSIO_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FSIO_TMP_TAG ".tmp-"
int fsio_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* fsio_create_excl: creates path (which must not exist: -EEXIST) with data, fsyncs it and its
 * directory. A failed write removes the file. */
int fsio_create_excl(const char *path, const void *data, size_t len, mode_t mode);
/* fsio_tmp_is_stale: whether a file name is a temporary of fsio_write_atomic ("...<FSIO_TMP_TAG><pid>-
 * XXXXXX") left by a process that no longer exists, or one of the older form without a pid
 * ("...<FSIO_TMP_TAG>XXXXXX", from a version before this one): safe to remove. */
int fsio_tmp_is_stale(const char *name);
/* fsio_read_all: reads a whole file (at most max_len bytes, else -EFBIG) into a malloc'd buffer
 * with a terminating NUL not counted in *len; the caller frees *data. */
int fsio_read_all(const char *path, size_t max_len, void **data, size_t *len);
int fsio_fsync_dir(const char *dir);
/* fsio_fsync_parent: fsyncs the directory holding path. */
int fsio_fsync_parent(const char *path);
/* fsio_mkdir_p: creates dir and missing parents with mode; existing directories are fine. */
int fsio_mkdir_p(const char *dir, mode_t mode);
/* fsio_write_full / fsio_pwrite_full / fsio_pread_full: loop over short writes/reads and EINTR.
 * pread returns -EIO on a short file. */
int fsio_write_full(int fd, const void *data, size_t len);
int fsio_pwrite_full(int fd, const void *data, size_t len, uint64_t off);
/* fsio_check_private: whether the secret file at path (a key file) is private to its owner: 0 when
 * no group or other permission bit is set (mode & 077 == 0), -EPERM when one is (then msg holds
 * "<path> has mode 0644 (readable or writable by group or others): chmod 600 <path>"), -errno when it
 * cannot be examined (-ENOENT: absent; msg says so too). Follows a symbolic link: the mode of the file
 * that holds the secret is what matters. */
int fsio_check_private(const char *path, char *msg, size_t msglen);
int fsio_pread_full(int fd, void *data, size_t len, off_t off);
#endif
