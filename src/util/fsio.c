/* fsio.c: durable writes (temp, fsync, rename, fsync dir) and whole-file reads; see fsio.h.
 * A temporary is named "<path>.tmp-<pid>-XXXXXX" and removed at once when the write fails (a full
 * disk keeps nothing of it); fsio_tmp_is_stale tells a leftover of a dead process by that pid. */
#include "util/fsio.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsio_write_full(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fsio_pwrite_full(int fd, const void *data, size_t len, uint64_t off)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int fsio_pread_full(int fd, void *data, size_t len, off_t off)
{
    char *p = data;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

int fsio_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0) return -errno;
    if (fsync(fd) < 0) rc = -errno;
    close(fd);
    return rc;
}

int fsio_fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) return fsio_fsync_dir(".");
    if (slash == path) return fsio_fsync_dir("/");
    if ((size_t)(slash - path) >= sizeof dir) return -ENAMETOOLONG;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return fsio_fsync_dir(dir);
}

int fsio_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX];
    int fd, rc;
    if (snprintf(tmp, sizeof tmp, "%s" FSIO_TMP_TAG "%ld-XXXXXX", path, (long)getpid()) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return -errno;
    rc = fchmod(fd, mode) < 0 ? -errno : 0;
    if (rc == 0) rc = fsio_write_full(fd, data, len);
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    if (close(fd) < 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    return fsio_fsync_parent(path);
}

int fsio_create_excl(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode), rc;
    if (fd < 0) return -errno;
    rc = fsio_write_full(fd, data, len);
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    if (close(fd) < 0 && rc == 0) rc = -errno;
    if (rc < 0) {
        unlink(path);
        return rc;
    }
    return fsio_fsync_parent(path);
}

int fsio_read_all(const char *path, size_t max_len, void **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf;
    int rc;
    if (fd < 0) return -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if ((size_t)st.st_size > max_len) {
        close(fd);
        return -EFBIG;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    rc = fsio_pread_full(fd, buf, (size_t)st.st_size, 0);
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[st.st_size] = '\0';
    *data = buf;
    *len = (size_t)st.st_size;
    return 0;
}

int fsio_mkdir_p(const char *dir, mode_t mode)
{
    char buf[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) return -ENAMETOOLONG;
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
    return 0;
}

int fsio_tmp_is_stale(const char *name)
{
    const char *tag = strstr(name, FSIO_TMP_TAG);
    char *end;
    long pid;
    if (!tag) return 0;
    tag += strlen(FSIO_TMP_TAG);
    if (strlen(tag) == 6 && strspn(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == 6)
        return 1; /* "<path>.tmp-XXXXXX": written by a version without the pid, so not by this one */
    errno = 0;
    pid = strtol(tag, &end, 10);
    if (errno || end == tag || *end != '-' || pid <= 0) return 0;
    /* Only a dead process's: a live one may be writing it. */
    if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) return 0;
    return 1;
}

int fsio_check_private(const char *path, char *msg, size_t msglen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        snprintf(msg, msglen, "cannot examine %s: %s", path, strerror(e));
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(msg, msglen, "%s is not a regular file", path);
        return -EINVAL;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(msg, msglen, "%s has mode %04o (readable or writable by group or others): run chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        return -EPERM;
    }
    return 0;
}
