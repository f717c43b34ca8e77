/* agent.h: the data-mover boundary, discovery side. A registered host is served by an agent: the one
 * built into cofferd when the host is this machine (local.c), a remote coffer-agent later (not yet:
 * such hosts are recorded as unreachable).
 *
 * The local agent discovers the host and its mounted filesystems from /proc/self/mounts. Which
 * filesystems count as volumes: real, persistent ones (block-device filesystems, overlay roots of
 * containers, network filesystems). Kernel and memory pseudo-filesystems are skipped: proc, sysfs,
 * cgroup, devpts, devtmpfs, debugfs and the like, and also tmpfs/ramfs, whose content does not outlive
 * a reboot and is rebuilt by the system (/run, /dev/shm), and squashfs images (snap packages), which
 * are read-only copies of downloadable content. A mount point that is not a directory (a file bind-
 * mounted by a container runtime, e.g. /etc/hosts) is not a volume either. */
#ifndef COFFER_AGENT_AGENT_H
#define COFFER_AGENT_AGENT_H
#include <stddef.h>
#include <stdint.h>

struct cat;

/* agent_endpoint_is_local: whether endpoint names this machine: "localhost" (and *.localhost), any
 * 127.0.0.0/8 address, ::1, an IPv4-mapped loopback, the name gethostname() reports, or an address
 * of one of this machine's interfaces. Case-insensitive; "[::1]" brackets and a trailing dot are
 * ignored. */
int agent_endpoint_is_local(const char *endpoint);
/* agent_endpoint_is_local_as: the same decision against a given hostname, without looking at the
 * machine's interfaces (for tests). */
int agent_endpoint_is_local_as(const char *endpoint, const char *hostname);
/* agent_endpoint_valid: whether endpoint looks like a host name or an IP address (1..255 bytes of
 * letters, digits and . - _ : [ ] %). */
int agent_endpoint_valid(const char *endpoint);

struct agent_mount {
    char *device;       /* first field of the mounts line, unescaped */
    char *path;         /* mount point, unescaped */
    char *fstype;
    int network;        /* a network filesystem (its size is not asked: the server may hang) */
    int64_t used_bytes; /* filled by discovery; -1 when unknown */
};
struct agent_mounts {
    struct agent_mount *v;
    size_t n;
};
void agent_mounts_release(struct agent_mounts *m);

/* agent_fs_is_virtual: whether a filesystem type is skipped (see the top of this file). */
int agent_fs_is_virtual(const char *fstype);
/* agent_parse_mounts: parses the text of /proc/self/mounts (or /etc/mtab): keeps real filesystems
 * only, decodes the octal escapes of paths (\040 for a space ...), keeps the last mount of a mount
 * point (the visible one) and sorts by path. Malformed lines are skipped. At most 4096 mounts.
 * Returns 0 and fills *out (release with agent_mounts_release), or -1 (out of memory). */
int agent_parse_mounts(const char *text, size_t len, struct agent_mounts *out);

#define AGENT_MOUNTS_PATH "/proc/self/mounts"
#define AGENT_MAX_MOUNTS_BYTES (4u * 1024 * 1024)

/* agent_local_volumes: reads mounts_path (normally AGENT_MOUNTS_PATH), parses it, drops mount
 * points that are not directories, and measures used bytes of local filesystems (statvfs). Returns
 * 0, or -1 with a message in err. */
int agent_local_volumes(const char *mounts_path, struct agent_mounts *out, char *err, size_t errlen);

/* agent_unreachable_message: the message recorded for a host no agent serves. */
void agent_unreachable_message(const char *endpoint, char *buf, size_t len);

/* agent_refresh_source: (re)discovers registration id of tenant, whose host is at endpoint (as
 * registered; NULL: none, which no agent serves): for a host served by the local agent,
 * its volumes become the registration's objects (ids kept across refreshes) and the state becomes
 * Finished with refresh time now; for any other host, no objects are found and the state records that
 * no agent is reachable. Runs its own transaction: never call it inside cat_begin/cat_commit. Returns
 * 0 when the catalog was updated (even if the host was unreachable), CAT_NOT_FOUND, or another
 * negative code on an internal error. */
int agent_refresh_source(struct cat *cat, const char *tenant, int64_t id, const char *endpoint);
#endif
