/* discover.c: what the agent reports of its host in a heartbeat: its host name, its addresses (the
 * interfaces' IPv4 and IPv6 addresses, loopback and link-local left out) and its volumes, found the
 * way the local agent finds them (src/agent/local.c agent_local_volumes: /proc/self/mounts, real
 * filesystems only, used bytes by statvfs), and the PostgreSQL instances running on it (pg.c). */
#include "agent/agent.h"
#include "agentd/core.h"
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static json_t *interface_addresses(void)
{
    struct ifaddrs *ifs = NULL;
    json_t *arr = json_array();
    if (!arr || getifaddrs(&ifs) != 0) return arr;
    for (struct ifaddrs *i = ifs; i && json_array_size(arr) < 64; i = i->ifa_next) {
        char text[INET6_ADDRSTRLEN];
        if (!i->ifa_addr) continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            const struct in_addr *a = &((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
            if ((ntohl(a->s_addr) >> 24) == 127) continue;
            inet_ntop(AF_INET, a, text, sizeof text);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct in6_addr *a = &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a)) continue;
            inet_ntop(AF_INET6, a, text, sizeof text);
        } else {
            continue;
        }
        json_array_append_new(arr, json_string(text));
    }
    freeifaddrs(ifs);
    return arr;
}

json_t *agentd_host_report(const char *hostname, const json_t *addresses, char *err, size_t errlen)
{
    struct agent_mounts m = { 0 };
    char host[256];
    json_t *vols, *r;
    if (agent_local_volumes(AGENT_MOUNTS_PATH, &m, err, errlen) != 0) return NULL;
    if (!hostname) {
        if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = '\0';
        hostname = host;
    }
    vols = json_array();
    for (size_t i = 0; vols && i < m.n; i++)
        json_array_append_new(vols, json_pack("{s:s,s:s,s:s,s:I,s:b}", "path", m.v[i].path, "fstype", m.v[i].fstype,
                                              "device", m.v[i].device, "used_bytes", (json_int_t)m.v[i].used_bytes,
                                              "network", m.v[i].network));
    agent_mounts_release(&m);
    r = json_pack("{s:s,s:s,s:o,s:o*,s:o*}", "hostname", hostname, "version", COFFER_VERSION, "addresses",
                  addresses ? json_deep_copy(addresses) : interface_addresses(), "volumes", vols,
                  "pg_instances", agentd_pg_report());
    if (!r) snprintf(err, errlen, "out of memory");
    return r;
}
