/* local.c: the agent built into cofferd, discovery side: is an endpoint this machine, and which of
 * its mounted filesystems are volumes (see agent.h for the rules).
 *
 * /proc/self/mounts is read with a bounded read loop (its st_size is 0, and we never trust a length
 * we did not count); each line is "device mountpoint fstype options freq passno" with space, tab,
 * newline and backslash in the first two fields written as 3-digit octal escapes. */
#include "agent/agent.h"
#include "util/array.h"
#include "util/buf.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MAX_MOUNTS 4096

/* ---- endpoints ---- */

int agent_endpoint_valid(const char *endpoint)
{
    size_t n = endpoint ? strlen(endpoint) : 0;
    if (n == 0 || n > 255) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)endpoint[i];
        if (!isalnum(c) && !strchr(".-_:[]%", c)) return 0;
    }
    return 1;
}

/* normalize: lower-cased, without [] around an IPv6 address and without one trailing dot. */
static int normalize(const char *endpoint, char *out, size_t len)
{
    size_t n = strlen(endpoint);
    if (n >= 2 && endpoint[0] == '[' && endpoint[n - 1] == ']') {
        endpoint++;
        n -= 2;
    }
    if (n > 1 && endpoint[n - 1] == '.') n--;
    if (n == 0 || n >= len) return -1;
    for (size_t i = 0; i < n; i++) out[i] = (char)tolower((unsigned char)endpoint[i]);
    out[n] = '\0';
    return 0;
}

static int is_loopback_addr(const char *s)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, s, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, s, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6)) return 1;
        if (IN6_IS_ADDR_V4MAPPED(&a6)) return a6.s6_addr[12] == 127;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int agent_endpoint_is_local_as(const char *endpoint, const char *hostname)
{
    char ep[256], host[256];
    if (!endpoint || !agent_endpoint_valid(endpoint) || normalize(endpoint, ep, sizeof ep) != 0) return 0;
    if (strcmp(ep, "localhost") == 0 || ends_with(ep, ".localhost") || strcmp(ep, "localhost.localdomain") == 0)
        return 1;
    if (is_loopback_addr(ep)) return 1;
    if (hostname && *hostname && normalize(hostname, host, sizeof host) == 0 && strcmp(ep, host) == 0) return 1;
    return 0;
}

/* is_interface_addr: whether s is an address of one of this machine's network interfaces. */
static int is_interface_addr(const char *s)
{
    struct in_addr a4;
    struct in6_addr a6;
    int fam;
    struct ifaddrs *ifs, *i;
    int found = 0;
    if (inet_pton(AF_INET, s, &a4) == 1)
        fam = AF_INET;
    else if (inet_pton(AF_INET6, s, &a6) == 1)
        fam = AF_INET6;
    else
        return 0;
    if (getifaddrs(&ifs) != 0) return 0;
    for (i = ifs; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != fam) continue;
        if (fam == AF_INET)
            found = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == a4.s_addr;
        else
            found = memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, &a6, sizeof a6) == 0;
    }
    freeifaddrs(ifs);
    return found;
}

int agent_endpoint_is_local(const char *endpoint)
{
    char host[256], ep[256];
    if (gethostname(host, sizeof host) != 0) host[0] = '\0';
    host[sizeof host - 1] = '\0';
    if (agent_endpoint_is_local_as(endpoint, host)) return 1;
    if (!endpoint || !agent_endpoint_valid(endpoint) || normalize(endpoint, ep, sizeof ep) != 0) return 0;
    return is_interface_addr(ep);
}

void agent_unreachable_message(const char *endpoint, char *buf, size_t len)
{
    snprintf(buf, len, "no agent reachable at %s (no registered coffer-agent reports this host as its own)", endpoint);
}

/* ---- mounts ---- */

static const char *const virtual_fs[] = {
    "proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "ramfs", "cgroup", "cgroup2", "securityfs", "pstore",
    "debugfs", "tracefs", "bpf", "mqueue", "hugetlbfs", "configfs", "fusectl", "autofs", "binfmt_misc",
    "rpc_pipefs", "nsfs", "efivarfs", "selinuxfs", "squashfs", "rootfs", "sockfs", "pipefs", "anon_inodefs",
    "nfsd", "devfs", "usbfs", "fuse.lxcfs", "fuse.gvfsd-fuse", "fuse.portal", "fuse.snapfuse", "fuse.kio-fuse",
    NULL
};

static const char *const network_fs[] = {
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "fuse.glusterfs", "fuse.sshfs", "fuse.s3fs",
    "fuse.rclone", "9p", "afs", "lustre", "gpfs", "beegfs", "fuse.ceph", NULL
};

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return 1;
    return 0;
}

int agent_fs_is_virtual(const char *fstype) { return in_list(fstype, virtual_fs); }

void agent_mounts_release(struct agent_mounts *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].device);
        free(m->v[i].path);
        free(m->v[i].fstype);
    }
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

/* unescape: a copy of the field [s, s+n) with \ooo octal escapes decoded; NULL if a decoded byte is
 * NUL (a path cannot hold it) or out of memory. */
static char *unescape(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t j = 0;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
            s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
            if (v == 0) {
                free(out);
                return NULL;
            }
            out[j++] = (char)v;
            i += 3;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

/* next_field: the next run of non-blank bytes in [*p, end); NULL when none. */
static const char *next_field(const char **p, const char *end, size_t *n)
{
    const char *s = *p, *e;
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    if (s >= end) return NULL;
    e = s;
    while (e < end && *e != ' ' && *e != '\t') e++;
    *n = (size_t)(e - s);
    *p = e;
    return s;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct agent_mount *)a)->path, ((const struct agent_mount *)b)->path);
}

int agent_parse_mounts(const char *text, size_t len, struct agent_mounts *out)
{
    const char *p = text, *end = text + len;
    size_t cap = 0;
    out->v = NULL;
    out->n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *q = p, *f[3];
        size_t fl[3];
        int ok = 1;
        struct agent_mount m = { 0 };
        for (int k = 0; k < 3 && ok; k++) ok = (f[k] = next_field(&q, le, &fl[k])) != NULL;
        p = nl ? nl + 1 : end;
        if (!ok || fl[2] > 64) continue;
        m.fstype = malloc(fl[2] + 1);
        if (!m.fstype) goto oom;
        memcpy(m.fstype, f[2], fl[2]);
        m.fstype[fl[2]] = '\0';
        m.device = unescape(f[0], fl[0]);
        m.path = unescape(f[1], fl[1]);
        if (!m.device || !m.path || m.path[0] != '/') {
            free(m.device);
            free(m.path);
            free(m.fstype);
            continue;
        }
        m.network = in_list(m.fstype, network_fs);
        m.used_bytes = -1;
        /* A later mount on the same point hides the earlier one, even a pseudo-filesystem's. */
        for (size_t i = 0; i < out->n; i++) {
            if (strcmp(out->v[i].path, m.path) == 0) {
                free(out->v[i].device);
                free(out->v[i].path);
                free(out->v[i].fstype);
                out->v[i] = out->v[--out->n];
                break;
            }
        }
        if (agent_fs_is_virtual(m.fstype)) {
            free(m.device);
            free(m.path);
            free(m.fstype);
            continue;
        }
        if (out->n == MAX_MOUNTS) {
            free(m.device);
            free(m.path);
            free(m.fstype);
            break;
        }
        if (ARRAY_RESERVE(out->v, cap, out->n + 1) != 0) {
            free(m.device);
            free(m.path);
            free(m.fstype);
            goto oom;
        }
        out->v[out->n++] = m;
    }
    if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, by_path);
    return 0;
oom:
    agent_mounts_release(out);
    return -1;
}

/* read_bounded: reads a whole (possibly size-0 /proc) file, at most max bytes (-EFBIG beyond), into
 * a capped util/buf; *data (NUL-terminated, malloc'd, the caller frees) and *len. */
static int read_bounded(const char *path, size_t max, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
    struct buf b;
    char chunk[16384];
    if (fd < 0) return -errno;
    buf_init(&b, max);
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = -errno;
            break;
        }
        if (r == 0) break;
        if ((rc = buf_append(&b, chunk, (size_t)r)) != 0) {
            if (rc == -E2BIG) rc = -EFBIG;
            break;
        }
    }
    close(fd);
    if (rc == 0 && !b.data) rc = buf_append(&b, "", 0); /* an empty file: "" */
    if (rc != 0) {
        buf_free(&b);
        return rc;
    }
    *len = b.len;
    *data = buf_steal(&b);
    return 0;
}

int agent_local_volumes(const char *mounts_path, struct agent_mounts *out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0, keep = 0;
    int rc = read_bounded(mounts_path, AGENT_MAX_MOUNTS_BYTES, &text, &len);
    out->v = NULL;
    out->n = 0;
    if (rc != 0) {
        snprintf(err, errlen, "cannot read %s: %s", mounts_path, strerror(-rc));
        return -1;
    }
    rc = agent_parse_mounts(text, len, out);
    free(text);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory reading %s", mounts_path);
        return -1;
    }
    for (size_t i = 0; i < out->n; i++) {
        struct agent_mount *m = &out->v[i];
        struct stat st;
        /* Network mounts are not stat'ed: a dead server would hang this thread. */
        if (!m->network && (stat(m->path, &st) != 0 || !S_ISDIR(st.st_mode))) {
            free(m->device);
            free(m->path);
            free(m->fstype);
            continue;
        }
        if (!m->network) {
            struct statvfs sv;
            if (statvfs(m->path, &sv) == 0 && sv.f_blocks >= sv.f_bfree)
                m->used_bytes = (int64_t)((uint64_t)(sv.f_blocks - sv.f_bfree) * (uint64_t)sv.f_frsize);
        }
        out->v[keep++] = *m;
    }
    out->n = keep;
    return 0;
}
