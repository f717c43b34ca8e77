/* test_agent.c: the local agent's discovery rules: which endpoints are this machine, and which lines
 * of a mounts table are volumes (escapes decoded, pseudo-filesystems skipped, stacked mounts resolved,
 * malformed lines ignored), plus discovery on the real /proc/self/mounts. */
#include "check.h"
#include "agent/agent.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TEST(loopback_names_and_addresses_are_local)
{
    const char *local[] = { "localhost", "LOCALHOST", "localhost.", "db.localhost", "localhost.localdomain",
                            "127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1",
                            "myhost", "MyHost.", NULL };
    for (const char **e = local; *e; e++) CHECKF(agent_endpoint_is_local_as(*e, "myhost"), "%s", *e);
}

TEST(other_hosts_are_not_local)
{
    const char *remote[] = { "10.0.0.5", "128.0.0.1", "::2", "example.com", "myhost.example.com", "localhost2",
                             "notlocalhost", "my host", "", "127.0.0.1/8", "::ffff:10.0.0.1", NULL };
    for (const char **e = remote; *e; e++) CHECKF(!agent_endpoint_is_local_as(*e, "myhost"), "'%s'", *e);
    CHECK(!agent_endpoint_is_local_as(NULL, "myhost"));
    CHECK(!agent_endpoint_is_local_as("myhost", ""));
    CHECK(!agent_endpoint_is_local_as("myhost", NULL));
}

TEST(real_hostname_and_loopback_are_local)
{
    char host[256];
    CHECK(gethostname(host, sizeof host) == 0);
    host[sizeof host - 1] = '\0';
    CHECK(agent_endpoint_is_local(host));
    CHECK(agent_endpoint_is_local("127.0.0.1"));
    CHECK(agent_endpoint_is_local("localhost"));
    CHECK(!agent_endpoint_is_local("no-such-host.invalid"));
    CHECK(!agent_endpoint_is_local("192.0.2.77")); /* TEST-NET-1: never a local interface */
}

TEST(endpoint_shape)
{
    char big[300];
    CHECK(agent_endpoint_valid("host-1.example.com"));
    CHECK(agent_endpoint_valid("[fe80::1%eth0]"));
    CHECK(!agent_endpoint_valid(""));
    CHECK(!agent_endpoint_valid("a b"));
    CHECK(!agent_endpoint_valid("a/b"));
    CHECK(!agent_endpoint_valid("http://x"));
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(!agent_endpoint_valid(big));
}

static const char sample[] =
    "proc /proc proc rw,relatime 0 0\n"
    "sysfs /sys sysfs rw,relatime 0 0\n"
    "devtmpfs /dev devtmpfs rw,relatime,size=12334492k 0 0\n"
    "tmpfs /dev/shm tmpfs rw,relatime 0 0\n"
    "/dev/vda / ext4 rw,relatime,discard 0 0\n"
    "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
    "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n"
    "/dev/vdb1 /data\\040disk xfs rw 0 0\n"
    "/dev/loop3 /snap/core/123 squashfs ro 0 0\n"
    "server:/export /mnt/nfs nfs4 rw 0 0\n"
    "overlay /var/lib/docker/x overlay rw 0 0\n"
    "garbage-line-with-two fields\n"
    "\n"
    "   \t  \n"
    "/dev/vdc relative-path ext4 rw 0 0\n"
    "/dev/vdd /home ext4 rw 0 0\n"
    "/dev/vde /home btrfs rw 0 0\n"
    "/dev/vdf /back\\134slash ext4 rw 0 0\n"
    "/dev/vdg /nul\\000byte ext4 rw 0 0\n"
    "/dev/vdh /trunc\\04 ext4 rw 0 0\n"
    "/dev/vdi /last ext4"; /* no newline at the end, no options */

TEST(parse_keeps_real_filesystems_only)
{
    struct agent_mounts m;
    const char *want[] = { "/", "/back\\slash", "/data disk", "/home", "/last", "/mnt/nfs", "/trunc\\04",
                           "/var/lib/docker/x" };
    size_t nwant = sizeof want / sizeof want[0];
    CHECK(agent_parse_mounts(sample, strlen(sample), &m) == 0);
    CHECKF(m.n == nwant, "got %zu mounts", m.n);
    for (size_t i = 0; i < nwant; i++) CHECKF(strcmp(m.v[i].path, want[i]) == 0, "[%zu] %s", i, m.v[i].path);
    /* /home was mounted twice: the later (btrfs) mount is the visible one. */
    CHECK(strcmp(m.v[3].fstype, "btrfs") == 0 && strcmp(m.v[3].device, "/dev/vde") == 0);
    CHECK(m.v[5].network == 1 && m.v[0].network == 0);
    CHECK(strcmp(m.v[2].device, "/dev/vdb1") == 0 && strcmp(m.v[2].fstype, "xfs") == 0);
    CHECK(m.v[0].used_bytes == -1);
    agent_mounts_release(&m);
    CHECK(m.n == 0 && m.v == NULL);
}

TEST(parse_empty_and_truncated_input)
{
    struct agent_mounts m;
    CHECK(agent_parse_mounts("", 0, &m) == 0);
    CHECK(m.n == 0);
    agent_mounts_release(&m);
    /* A length shorter than the text: only the first line counts. */
    CHECK(agent_parse_mounts(sample + strlen("proc /proc proc rw,relatime 0 0\nsysfs /sys sysfs rw,relatime 0 0\n"
                                             "devtmpfs /dev devtmpfs rw,relatime,size=12334492k 0 0\n"
                                             "tmpfs /dev/shm tmpfs rw,relatime 0 0\n"),
                             strlen("/dev/vda / ext4"), &m) == 0);
    CHECK(m.n == 1 && strcmp(m.v[0].path, "/") == 0 && strcmp(m.v[0].fstype, "ext4") == 0);
    agent_mounts_release(&m);
}

TEST(parse_caps_the_number_of_mounts)
{
    size_t n = 5000, cap = n * 40, len = 0;
    char *text = malloc(cap);
    struct agent_mounts m;
    CHECK(text != NULL);
    for (size_t i = 0; i < n; i++) len += (size_t)snprintf(text + len, cap - len, "/dev/x /m%zu ext4 rw 0 0\n", i);
    CHECK(agent_parse_mounts(text, len, &m) == 0);
    free(text);
    CHECK_EQ_INT(m.n, 4096);
    agent_mounts_release(&m);
}

TEST(virtual_filesystem_rule)
{
    const char *skip[] = { "proc", "sysfs", "tmpfs", "cgroup", "cgroup2", "devpts", "squashfs", "fuse.lxcfs", NULL };
    const char *keep[] = { "ext4", "xfs", "btrfs", "zfs", "overlay", "nfs4", "vfat", "fuse.sshfs", NULL };
    for (const char **s = skip; *s; s++) CHECKF(agent_fs_is_virtual(*s), "%s", *s);
    for (const char **s = keep; *s; s++) CHECKF(!agent_fs_is_virtual(*s), "%s", *s);
}

TEST(local_volumes_from_a_file)
{
    char *dir = check_tmpdir("agent"), path[512];
    FILE *f;
    struct agent_mounts m;
    char err[256];
    snprintf(path, sizeof path, "%s/mounts", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    /* The tmp dir itself (a directory), a file as a mount point, and a path that does not exist. */
    fprintf(f, "/dev/a %s ext4 rw 0 0\n/dev/b %s ext4 rw 0 0\n/dev/c %s/missing ext4 rw 0 0\n", dir, path, dir);
    fprintf(f, "tmpfs %s tmpfs rw 0 0\n", dir);
    fclose(f);
    CHECK(agent_local_volumes(path, &m, err, sizeof err) == 0);
    /* The tmpfs line hides the ext4 mount of dir, and is itself skipped; the file and the missing path
     * are not volumes. */
    CHECKF(m.n == 0, "%zu volumes, first %s", m.n, m.n ? m.v[0].path : "");
    agent_mounts_release(&m);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fprintf(f, "/dev/a %s ext4 rw 0 0\n", dir);
    fclose(f);
    CHECK(agent_local_volumes(path, &m, err, sizeof err) == 0);
    CHECK(m.n == 1 && strcmp(m.v[0].path, dir) == 0 && m.v[0].used_bytes >= 0);
    agent_mounts_release(&m);
    CHECK(agent_local_volumes("/no/such/mounts", &m, err, sizeof err) == -1);
    CHECK(strstr(err, "/no/such/mounts") != NULL);
    /* an empty mounts file: no volumes; one past the read cap (AGENT_MAX_MOUNTS_BYTES): refused */
    f = fopen(path, "w");
    CHECK(f != NULL);
    fclose(f);
    CHECK(agent_local_volumes(path, &m, err, sizeof err) == 0);
    CHECK_EQ_INT(m.n, 0);
    agent_mounts_release(&m);
    f = fopen(path, "w");
    CHECK(f != NULL);
    for (size_t written = 0; written <= AGENT_MAX_MOUNTS_BYTES; written += 41)
        fprintf(f, "/dev/x /nonexistent/%08zu ext4 rw 0 0\n", written % 100000000); /* 41 bytes a line */
    fclose(f);
    CHECK(agent_local_volumes(path, &m, err, sizeof err) == -1);
    CHECKF(strstr(err, strerror(EFBIG)) != NULL, "%s", err);
    check_rm_rf(dir);
    free(dir);
}

TEST(real_proc_mounts_has_a_root)
{
    struct agent_mounts m;
    char err[256];
    int root = 0;
    CHECK(agent_local_volumes(AGENT_MOUNTS_PATH, &m, err, sizeof err) == 0);
    for (size_t i = 0; i < m.n; i++) {
        CHECKF(!agent_fs_is_virtual(m.v[i].fstype), "%s %s", m.v[i].path, m.v[i].fstype);
        if (strcmp(m.v[i].path, "/") == 0) root = 1;
    }
    CHECK(root);
    agent_mounts_release(&m);
}

TEST(unreachable_message)
{
    char msg[256];
    agent_unreachable_message("10.1.2.3", msg, sizeof msg);
    CHECK(strcmp(msg, "no agent reachable at 10.1.2.3 (no registered coffer-agent reports this host as its own)") == 0);
}

int main(void)
{
    RUN(loopback_names_and_addresses_are_local);
    RUN(other_hosts_are_not_local);
    RUN(real_hostname_and_loopback_are_local);
    RUN(endpoint_shape);
    RUN(parse_keeps_real_filesystems_only);
    RUN(parse_empty_and_truncated_input);
    RUN(parse_caps_the_number_of_mounts);
    RUN(virtual_filesystem_rule);
    RUN(local_volumes_from_a_file);
    RUN(real_proc_mounts_has_a_root);
    RUN(unreachable_message);
    return check_finish();
}
