/* e2e_agent.c: coffer-agent against the real daemon: the agent binary (build/asan/coffer-agent, or
 * $COFFER_AGENT_BIN) runs as separate processes, each with its own state directory and reported
 * host name and address (loopback addresses 127.0.0.x stand for separate hosts: this suite needs no
 * network namespace, the agent protocol here is control traffic only):
 *   register_tokens        a connection's token registers one agent (state.json 0600 in a 0700
 *                          directory, the credential an Agent key); the same token again is 403
 *                          "already used", an unknown one 401, an expired one (test clock +25 h)
 *                          403 "expired"; each attempt is an audit row with its status
 *   register_through_the_local_api  an unregistered `coffer-agent run --local-api` serves the
 *                          connector-side API: CreateAccessToken with the installer's admin password,
 *                          RegisterDataSourceConnector with a token (204; the used token again 403);
 *                          the agent then heartbeats as the new connector
 *   heartbeat_serves_hosts a kPhysical registration of the agent's host name is Pending ("has not
 *                          reported") until the agent's first heartbeat, then Finished with the
 *                          volumes the agent found; another agent serves a registration of its
 *                          address; GetDataSourceConnectors shows connectivityStatus.isConnected,
 *                          softwareVersion and the last heartbeat; PATCH renames
 *   write_only             with an agent's credential every route but the agent protocol is 403 and
 *                          nothing changes; a plain Agent-role key that is no agent's credential is
 *                          404 on the heartbeat (no such agent); an admin key is 403 there
 *   revoke_mid_run         DELETE of the connector while the agent runs: the agent's next request is
 *                          401 and it exits 3; the connector is gone from the list
 *   tls_pin                over HTTPS (cofferd's self-signed certificate): a wrong --pin is refused
 *                          before anything is sent; no --pin pins what the server presents (trust on
 *                          first use, the pin cofferd printed) and heartbeats then work with it */
#include "check.h"
#include "e2e/agentrun.h"
#include "e2e/harness.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONNS "/v2/data-source-connections"
#define CONNECTORS "/v2/data-source-connectors"
#define REGS "/v2/data-protect/sources/registrations"
#define T "t-agent"

static struct daemon d;
static char *tmp;
static const char *env[] = { "COFFER_TEST_CLOCK=1", "COFFER_AGENT_HEARTBEAT_SECS=1", NULL };

/* agent_spawn: starts coffer-agent with the words given (NULL-terminated); its stdout and stderr go
 * to TMP/<tag>.out and .err. Returns the pid. */
static pid_t agent_spawn(const char *tag, ...)
{
    char outp[600], errp[600];
    const char *first;
    va_list ap;
    pid_t pid;
    snprintf(outp, sizeof outp, "%s/%s.out", tmp, tag);
    snprintf(errp, sizeof errp, "%s/%s.err", tmp, tag);
    va_start(ap, tag);
    first = va_arg(ap, const char *);
    pid = agentrun_spawn_v(NULL, outp, errp, first, ap);
    va_end(ap);
    return pid;
}

static int agent_wait(pid_t pid, int secs) { return agentrun_wait(pid, secs); }

/* slurp: TMP/<tag>.<ext> into a static buffer (one of 4). */
static const char *slurp(const char *tag, const char *ext)
{
    static char bufs[4][16384];
    static int k;
    char *b = bufs[k++ % 4], path[600];
    FILE *f;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/%s.%s", tmp, tag, ext);
    if ((f = fopen(path, "rb"))) {
        n = fread(b, 1, sizeof bufs[0] - 1, f);
        fclose(f);
    }
    b[n] = '\0';
    return b;
}

static const char *dir_of(const char *name)
{
    static char bufs[4][600];
    static int k;
    char *b = bufs[k++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp, name);
    return b;
}

/* make_connection / new_token: a connection of tenant named name (its id into id) and a fresh token. */
static int make_connection(const char *tenant, const char *name, char *id, size_t idlen)
{
    struct http_resp r;
    int ok = http(&d, "POST", CONNS, tenant, jfmt("{'connectionName':'%s'}", name), &r) == 0 && r.status == 201 &&
             jstr(r.json, "connectionId");
    if (ok) snprintf(id, idlen, "%s", jstr(r.json, "connectionId"));
    else fprintf(stderr, "create connection: %ld %s\n", r.status, r.body ? r.body : "");
    http_resp_release(&r);
    return ok ? 0 : -1;
}

static int new_token(const char *tenant, const char *conn, char *tok, size_t len)
{
    struct http_resp r;
    char path[256];
    json_t *j;
    int ok;
    snprintf(path, sizeof path, CONNS "/%s/registrationToken", conn);
    ok = http(&d, "POST", path, tenant, NULL, &r) == 0 && r.status == 200 && r.body;
    j = ok ? json_loads(r.body, JSON_DECODE_ANY, NULL) : NULL;
    ok = json_is_string(j);
    if (ok) snprintf(tok, len, "%s", json_string_value(j));
    json_decref(j);
    http_resp_release(&r);
    return ok ? 0 : -1;
}

/* state_value: a member of the agent's state.json. */
static const char *state_value(const char *dir, const char *key)
{
    static char bufs[2][512];
    static int k;
    char *b = bufs[k++ % 2], path[700];
    json_t *j;
    snprintf(path, sizeof path, "%s/state.json", dir);
    j = json_load_file(path, 0, NULL);
    b[0] = '\0';
    if (json_string_value(json_object_get(j, key))) snprintf(b, sizeof bufs[0], "%s", json_string_value(json_object_get(j, key)));
    json_decref(j);
    return b;
}

/* as_key: a request with bearer key and, when tenant is given, the tenant header; the status. */
static long as_key(const char *key, const char *method, const char *path, const char *tenant, const char *body)
{
    struct http_resp r;
    char auth[300], th[300];
    const char *hdrs[3] = { "Content-Type: application/json", NULL, NULL };
    long st;
    snprintf(auth, sizeof auth, "Bearer %s", key);
    if (tenant) {
        snprintf(th, sizeof th, "X-IBM-Tenant-Id: %s", tenant);
        hdrs[1] = th;
    }
    if (http_raw(&d, method, path, auth, hdrs, body, body ? strlen(body) : 0, &r) != 0) return -1;
    st = r.status;
    http_resp_release(&r);
    return st;
}

/* connector: the connector id of GET connectors of tenant as a new reference (NULL: none). */
static json_t *connector(const char *tenant, const char *id)
{
    struct http_resp r;
    json_t *found = NULL, *c;
    size_t i;
    if (http(&d, "GET", CONNECTORS, tenant, NULL, &r) != 0) return NULL;
    json_array_foreach(jget(r.json, "connectors"), i, c) {
        if (jstr(c, "connectorId") && strcmp(jstr(c, "connectorId"), id) == 0) found = json_incref(c);
    }
    http_resp_release(&r);
    return found;
}

/* audit_statuses: how many audit rows of the register route have status st. */
static int audit_count(long st)
{
    struct http_resp r;
    json_t *e;
    size_t i;
    int n = 0;
    if (http(&d, "GET", "/v2/coffer/audit?limit=1000", NULL, NULL, &r) != 0) return -1;
    json_array_foreach(jget(r.json, "entries"), i, e) {
        const char *p = jstr(e, "path");
        if (p && strcmp(p, "/v2/coffer/agents/register") == 0 && jint(e, "status") == st) n++;
    }
    http_resp_release(&r);
    return n;
}

static char conn_a[32], cid_a[32];

TEST(register_tokens)
{
    char tok[128], tok2[128];
    struct stat sb;
    pid_t p;
    int rc;
    CHECK(make_connection(T, "site-a", conn_a, sizeof conn_a) == 0);
    CHECK(new_token(T, conn_a, tok, sizeof tok) == 0);
    p = agent_spawn("reg-a", "register", "--server", d.base, "--token", tok, "--state-dir", dir_of("a"), "--hostname",
                    "agent-a.test", NULL);
    rc = agent_wait(p, 60);
    CHECKF(rc == 0, "exit %d: %s", rc, slurp("reg-a", "err"));
    CHECKF(strstr(slurp("reg-a", "out"), "registered: connector ") != NULL, "%s", slurp("reg-a", "out"));
    CHECK(stat(dir_of("a"), &sb) == 0 && (sb.st_mode & 0777) == 0700);
    CHECK(stat(jfmt("%s/state.json", dir_of("a")), &sb) == 0 && (sb.st_mode & 0777) == 0600);
    snprintf(cid_a, sizeof cid_a, "%s", state_value(dir_of("a"), "connector_id"));
    CHECK(cid_a[0] && strcmp(state_value(dir_of("a"), "tenant"), T) == 0);
    CHECK(strncmp(state_value(dir_of("a"), "credential"), "cfk_", 4) == 0);
    /* the credential is an Agent key of the tenant, listed with the others */
    {
        struct http_resp r;
        json_t *k;
        size_t i;
        int seen = 0;
        CHECK(http(&d, "GET", "/v2/coffer/keys?tenantId=" T, NULL, NULL, &r) == 0 && r.status == 200);
        json_array_foreach(jget(r.json, "keys"), i, k) {
            if (strstr(state_value(dir_of("a"), "credential"), jstr(k, "id")) &&
                json_array_size(jget(k, "roles")) == 1 && strcmp(json_string_value(json_array_get(jget(k, "roles"), 0)), "Agent") == 0)
                seen = 1;
        }
        http_resp_release(&r);
        CHECK(seen);
    }
    /* the same token again: used */
    p = agent_spawn("reg-b", "register", "--server", d.base, "--token", tok, "--state-dir", dir_of("b"), NULL);
    rc = agent_wait(p, 60);
    CHECKF(rc == 3, "exit %d: %s", rc, slurp("reg-b", "err"));
    CHECKF(strstr(slurp("reg-b", "err"), "already used") != NULL, "%s", slurp("reg-b", "err"));
    CHECK(stat(jfmt("%s/state.json", dir_of("b")), &sb) != 0);
    /* a token no connection has */
    p = agent_spawn("reg-c", "register", "--server", d.base, "--token", "0123456789abcdef", "--state-dir", dir_of("b"), NULL);
    rc = agent_wait(p, 60);
    CHECKF(rc == 3, "exit %d: %s", rc, slurp("reg-c", "err"));
    CHECKF(strstr(slurp("reg-c", "err"), "HTTP 401") && strstr(slurp("reg-c", "err"), "not the registration token"),
           "%s", slurp("reg-c", "err"));
    /* expired: a new token, and the clock 25 hours on */
    CHECK(new_token(T, conn_a, tok2, sizeof tok2) == 0);
    {
        struct http_resp r;
        CHECK(http(&d, "POST", "/v2/coffer-test/clock", NULL, "{\"advanceUsecs\":90000000000}", &r) == 0);
        CHECKF(r.status == 200, "%ld %s", r.status, r.body);
        http_resp_release(&r);
    }
    p = agent_spawn("reg-d", "register", "--server", d.base, "--token", tok2, "--state-dir", dir_of("b"), NULL);
    rc = agent_wait(p, 60);
    {
        struct http_resp r;
        CHECK(http(&d, "POST", "/v2/coffer-test/clock", NULL, "{\"advanceUsecs\":-90000000000}", &r) == 0);
        http_resp_release(&r);
    }
    CHECKF(rc == 3, "exit %d: %s", rc, slurp("reg-d", "err"));
    CHECKF(strstr(slurp("reg-d", "err"), "HTTP 403") && strstr(slurp("reg-d", "err"), "expired"), "%s",
           slurp("reg-d", "err"));
    /* a register request without a token is a 400 naming the field */
    {
        struct http_resp r;
        const char *b = "{\"hostname\":\"h\",\"version\":\"1\"}";
        CHECK(http_raw(&d, "POST", "/v2/coffer/agents/register", NULL, NULL, b, strlen(b), &r) == 0);
        CHECKF(r.status == 400 && strstr(jstr(r.json, "message"), "'token'"), "%ld %s", r.status, r.body);
        http_resp_release(&r);
    }
    CHECK(audit_count(201) == 1);
    CHECK(audit_count(403) == 2);
    CHECK(audit_count(401) == 1);
}

/* free_port: a loopback TCP port nothing listens on right now. */
static int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* The data-protect API's own way to register a connector: an unregistered `coffer-agent run
 * --local-api` serves the connector-side operations; CreateAccessToken with the installer's admin
 * password, then RegisterDataSourceConnector with a connection's token on the agent's API; the agent
 * registers with cofferd, and the connector appears there connected. */
TEST(register_through_the_local_api)
{
    struct daemon api = { 0 };
    struct http_resp r;
    char conn[32], tok[160], auth[200], pwpath[700], listen[64], body[300];
    const char *hdrs[] = { "Content-Type: application/json", NULL };
    json_t *c = NULL;
    FILE *f;
    pid_t p;
    int port = free_port(), connected = 0, rc;
    const char *cid;
    CHECK(port > 0);
    CHECK(make_connection(T, "conn-local-api", conn, sizeof conn) == 0 && new_token(T, conn, tok, sizeof tok) == 0);
    CHECK(mkdir(dir_of("l"), 0700) == 0);
    snprintf(pwpath, sizeof pwpath, "%s/admin-password", dir_of("l"));
    CHECK((f = fopen(pwpath, "w")) != NULL);
    if (f) {
        fputs("first-password-123\n", f);
        fclose(f);
    }
    chmod(pwpath, 0600);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    setenv("COFFER_AGENT_SERVER", d.base, 1);
    p = agent_spawn("run-l", "run", "--state-dir", dir_of("l"), "--hostname", "agent-l.test", "--local-api", listen, NULL);
    unsetenv("COFFER_AGENT_SERVER");
    api.port = port;
    snprintf(api.base, sizeof api.base, "http://127.0.0.1:%d", port);
    /* the API comes up while the agent is still unregistered */
    rc = -1;
    for (int i = 0; i < 100 && rc != 0; i++) {
        usleep(100 * 1000);
        rc = http_raw(&api, "GET", "/v2/data-source-connector/status", NULL, NULL, NULL, 0, &r);
        if (rc == 0) http_resp_release(&r);
    }
    CHECKF(rc == 0, "the agent's local API did not come up: %s", slurp("run-l", "err"));
    CHECK(http_raw(&api, "POST", "/v2/access-tokens", NULL, hdrs, "{\"username\":\"admin\",\"password\":\"first-password-123\"}",
                   strlen("{\"username\":\"admin\",\"password\":\"first-password-123\"}"), &r) == 0);
    CHECKF(r.status == 201 && jstr(r.json, "accessToken"), "%ld %s", r.status, r.body ? r.body : "");
    snprintf(auth, sizeof auth, "Bearer %s", jstr(r.json, "accessToken") ? jstr(r.json, "accessToken") : "-");
    http_resp_release(&r);
    CHECK(http_raw(&api, "GET", "/v2/data-source-connector/status", auth, NULL, NULL, 0, &r) == 0);
    CHECKF(r.status == 200 && jstr(r.json, "registrationStatus.status") &&
           strcmp(jstr(r.json, "registrationStatus.status"), "NotDone") == 0, "%ld %s", r.status, r.body ? r.body : "");
    http_resp_release(&r);
    snprintf(body, sizeof body, "{\"registrationToken\":\"%s\"}", tok);
    CHECK(http_raw(&api, "POST", "/v2/data-source-connector/registration", auth, hdrs, body, strlen(body), &r) == 0);
    CHECKF(r.status == 204, "%ld %s", r.status, r.body ? r.body : "");
    http_resp_release(&r);
    /* the token is used: a second registration through the API is refused */
    CHECK(http_raw(&api, "POST", "/v2/data-source-connector/registration", auth, hdrs, body, strlen(body), &r) == 0);
    CHECKF(r.status == 403, "%ld %s", r.status, r.body ? r.body : "");
    http_resp_release(&r);
    cid = state_value(dir_of("l"), "connector_id");
    CHECKF(cid[0], "no state.json after registration: %s", slurp("run-l", "err"));
    for (int i = 0; i < 300 && !connected && cid[0]; i++) { /* up to 30 s: the loop goes on as a registered agent */
        usleep(100 * 1000);
        json_decref(c);
        c = connector(T, cid);
        connected = c && json_is_true(jget(c, "connectivityStatus.isConnected"));
    }
    json_decref(c);
    CHECKF(connected, "the connector registered through the local API never heartbeated: %s", slurp("run-l", "err"));
    CHECK(http_raw(&api, "GET", "/v2/data-source-connector/status", auth, NULL, NULL, 0, &r) == 0);
    CHECKF(r.status == 200 && jstr(r.json, "registrationStatus.status") &&
           strcmp(jstr(r.json, "registrationStatus.status"), "Success") == 0, "%ld %s", r.status, r.body ? r.body : "");
    http_resp_release(&r);
    kill(p, SIGTERM);
    CHECKF(agent_wait(p, 20) == 0, "%s", slurp("run-l", "err"));
}

TEST(heartbeat_serves_hosts)
{
    struct http_resp r;
    char tok[128], conn_b[32], cid_b[32], path[128];
    long long ra, rb;
    json_t *c;
    pid_t p;
    int rc;
    CHECK(cid_a[0]);
    /* registered before the agent reports: Pending, saying why */
    CHECK(http(&d, "POST", REGS, T, "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"agent-a.test\","
               "\"hostType\":\"kLinux\"}}", &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    ra = jint(r.json, "id");
    CHECK(strcmp(jstr(r.json, "authenticationStatus"), "Pending") == 0);
    CHECKF(strstr(jstr(r.json, "refreshErrorMessage"), "has not reported") != NULL, "%s", r.body);
    http_resp_release(&r);
    c = connector(T, cid_a);
    CHECK(c && json_is_false(jget(c, "connectivityStatus.isConnected")));
    CHECK(c && strcmp(jstr(c, "connectorName"), "agent-a.test") == 0 && strcmp(jstr(c, "connectionId"), conn_a) == 0);
    json_decref(c);
    /* two heartbeats */
    p = agent_spawn("run-a", "run", "--state-dir", dir_of("a"), "--hostname", "agent-a.test", "--address", "127.0.0.21",
                    "--beats", "2", NULL);
    rc = agent_wait(p, 60);
    CHECKF(rc == 0, "exit %d: %s", rc, slurp("run-a", "err"));
    snprintf(path, sizeof path, REGS "/%lld", ra);
    CHECK(http(&d, "GET", path, T, NULL, &r) == 0 && r.status == 200);
    CHECKF(strcmp(jstr(r.json, "authenticationStatus"), "Finished") == 0, "%s", r.body);
    CHECKF(json_array_size(jget(r.json, "sourceInfo.childObjects")) >= 1, "%s", r.body);
    CHECK(strcmp(jstr(json_array_get(jget(r.json, "sourceInfo.childObjects"), 0), "objectType"), "kVolume") == 0);
    http_resp_release(&r);
    c = connector(T, cid_a);
    CHECK(c && json_is_true(jget(c, "connectivityStatus.isConnected")));
    CHECK(c && jint(c, "connectivityStatus.lastConnectedTimestampSecs") > 1600000000);
    CHECK(c && jstr(c, "softwareVersion") && strcmp(jstr(c, "tenantSideIp"), "127.0.0.21") == 0);
    json_decref(c);
    /* a second agent (another host: its own directory and address) serves a registration of its address */
    CHECK(make_connection(T, "site-b", conn_b, sizeof conn_b) == 0);
    CHECK(new_token(T, conn_b, tok, sizeof tok) == 0);
    p = agent_spawn("reg-e", "register", "--server", d.base, "--token", tok, "--state-dir", dir_of("e"), "--hostname",
                    "agent-b.test", NULL);
    CHECKF(agent_wait(p, 60) == 0, "%s", slurp("reg-e", "err"));
    snprintf(cid_b, sizeof cid_b, "%s", state_value(dir_of("e"), "connector_id"));
    CHECK(strcmp(cid_a, cid_b) != 0);
    p = agent_spawn("run-e", "run", "--state-dir", dir_of("e"), "--hostname", "agent-b.test", "--address", "127.0.0.22",
                    "--beats", "1", NULL);
    CHECKF(agent_wait(p, 60) == 0, "%s", slurp("run-e", "err"));
    CHECK(http(&d, "POST", REGS, T, "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"127.0.0.22\","
               "\"hostType\":\"kLinux\"}}", &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    rb = jint(r.json, "id");
    CHECKF(strcmp(jstr(r.json, "authenticationStatus"), "Finished") == 0, "%s", r.body);
    CHECK(json_array_size(jget(r.json, "sourceInfo.childObjects")) >= 1);
    http_resp_release(&r);
    CHECK(rb != ra);
    /* PATCH renames */
    snprintf(path, sizeof path, CONNECTORS "/%s", cid_b);
    CHECK(http(&d, "PATCH", path, T, "{\"connectorName\":\"bee\"}", &r) == 0);
    CHECKF(r.status == 200 && strcmp(jstr(r.json, "connectorName"), "bee") == 0, "%ld %s", r.status, r.body);
    http_resp_release(&r);
    c = connector(T, cid_b);
    CHECK(c && strcmp(jstr(c, "connectorName"), "bee") == 0);
    json_decref(c);
    /* another tenant sees neither connector */
    CHECK(connector("t-other", cid_a) == NULL);
}

/* drop_live: removes every "connectivityStatus" member (a connector's live state, computed from the
 * clock at each GET: isConnected turns false and the message counts the seconds once the last
 * heartbeat is three intervals old; nothing a request stores) from a parsed answer. */
static void drop_live(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_del(j, "connectivityStatus");
        json_object_foreach(j, k, v) drop_live(v);
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) drop_live(v);
    }
}

/* snapshot of what an agent key could change: the tenant's connectors (without their live
 * connectivityStatus: the time between two snapshots must not show as a change), policies, keys
 * and registrations as text */
static char *tenant_text(void)
{
    const char *paths[] = { CONNECTORS, "/v2/data-protect/policies", REGS, CONNS };
    size_t n = 0;
    char *all = calloc(1, 1);
    for (size_t i = 0; all && i < sizeof paths / sizeof paths[0]; i++) {
        struct http_resp r;
        if (http(&d, "GET", paths[i], T, NULL, &r) == 0 && r.json) {
            drop_live(r.json);
            free(r.body);
            r.body = json_dumps(r.json, JSON_SORT_KEYS);
            r.len = r.body ? strlen(r.body) : 0;
        }
        if (r.body) {
            char *m = realloc(all, n + r.len + 1);
            if (m) {
                all = m;
                memcpy(all + n, r.body, r.len);
                n += r.len;
                all[n] = '\0';
            }
        }
        http_resp_release(&r);
    }
    return all;
}

TEST(write_only)
{
    const char *cred;
    char key[300], path[128], *before, *after;
    int rc;
    struct {
        const char *method, *path, *body;
        int tenant;
    } routes[] = {
        { "GET", CONNECTORS, NULL, 1 },
        { "DELETE", CONNECTORS "/%s", NULL, 1 },
        { "PATCH", CONNECTORS "/%s", "{\"connectorName\":\"x\"}", 1 },
        { "GET", CONNS, NULL, 1 },
        { "POST", CONNS, "{\"connectionName\":\"evil\"}", 1 },
        { "GET", "/v2/data-protect/policies", NULL, 1 },
        { "POST", "/v2/data-protect/policies", "{\"name\":\"p\"}", 1 },
        { "GET", REGS, NULL, 1 },
        { "GET", "/v2/data-protect/protection-groups", NULL, 1 },
        { "GET", "/v2/data-protect/objects/1/snapshots", NULL, 1 },
        { "GET", "/v2/data-protect/search/protected-objects", NULL, 1 },
        { "POST", "/v2/data-protect/protection-groups/1/runs", "{\"runType\":\"kRegular\"}", 1 },
        { "GET", "/v2/data-protect/protection-groups/1/runs", NULL, 1 },
        { "GET", "/v2/data-protect/recoveries", NULL, 1 },
        { "GET", "/v2/data-protect/search/objects", NULL, 1 },
        { "GET", "/v2/coffer/keys", NULL, 0 },
        { "POST", "/v2/coffer/keys", "{\"name\":\"k\",\"tenantId\":\"" T "\",\"roles\":[\"Admin\"]}", 0 },
        { "POST", "/v2/coffer/repository/prune", "{}", 0 },
        { "GET", "/v2/coffer/repository/stats", NULL, 0 },
        { "GET", "/v2/coffer/audit", NULL, 0 },
        { "POST", "/v2/data-protect/agents/upgrade-tasks", "{\"agentIDs\":[1]}", 1 },
    };
    CHECK(cid_a[0]);
    cred = state_value(dir_of("a"), "credential");
    snprintf(key, sizeof key, "%s", cred);
    before = tenant_text();
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        long st;
        if (check_failed()) break;
        const char *ph = strstr(routes[i].path, "%s");
        if (ph) snprintf(path, sizeof path, "%.*s%s", (int)(ph - routes[i].path), routes[i].path, cid_a);
        else snprintf(path, sizeof path, "%s", routes[i].path);
        st = as_key(key, routes[i].method, path, routes[i].tenant ? T : NULL, routes[i].body);
        if (st != 403) check_fail(__FILE__, __LINE__, "%s %s with the agent's credential: %ld", routes[i].method, path, st);
    }
    after = tenant_text();
    rc = strcmp(before, after);
    free(before);
    free(after);
    CHECK(rc == 0);
    /* the heartbeat takes an agent's own credential only */
    CHECK(as_key(HARNESS_KEY, "POST", "/v2/coffer/agents/heartbeat", NULL, "{\"version\":\"1\"}") == 403);
    {
        struct http_resp r;
        char plain[300];
        CHECK(http(&d, "POST", "/v2/coffer/keys", NULL, "{\"name\":\"a\",\"tenantId\":\"" T "\",\"roles\":[\"Agent\"]}", &r) == 0);
        CHECKF(r.status == 201 && jstr(r.json, "secret"), "%ld %s", r.status, r.body);
        snprintf(plain, sizeof plain, "%s", jstr(r.json, "secret"));
        http_resp_release(&r);
        CHECK(as_key(plain, "POST", "/v2/coffer/agents/heartbeat", NULL, "{\"version\":\"1\"}") == 404);
    }
    /* a heartbeat with a bad field: 400 naming it */
    {
        struct http_resp r;
        char auth[320];
        const char *h[] = { "Content-Type: application/json", NULL };
        snprintf(auth, sizeof auth, "Bearer %s", key);
        const char *b = "{\"version\":\"1\",\"volumes\":[{\"path\":\"rel\"}]}";
        CHECK(http_raw(&d, "POST", "/v2/coffer/agents/heartbeat", auth, h, b, strlen(b), &r) == 0);
        CHECKF(r.status == 400 && strstr(jstr(r.json, "message"), "volumes[0].path"), "%ld %s", r.status, r.body);
        http_resp_release(&r);
    }
}

TEST(revoke_mid_run)
{
    char path[128];
    struct http_resp r;
    json_t *c = NULL;
    pid_t p;
    int rc, connected = 0;
    CHECK(cid_a[0]);
    p = agent_spawn("run-rv", "run", "--state-dir", dir_of("a"), "--hostname", "agent-a.test", NULL);
    for (int i = 0; i < 300 && !connected; i++) { /* up to 30 s */
        usleep(100 * 1000);
        json_decref(c);
        c = connector(T, cid_a);
        connected = c && jint(c, "connectivityStatus.lastConnectedTimestampSecs") > 0 &&
                    strstr(slurp("run-rv", "err"), "heartbeat reached") != NULL;
    }
    json_decref(c);
    CHECKF(connected, "%s", slurp("run-rv", "err"));
    snprintf(path, sizeof path, CONNECTORS "/%s", cid_a);
    CHECK(http(&d, "DELETE", path, T, NULL, &r) == 0);
    CHECKF(r.status == 204, "%ld %s", r.status, r.body);
    http_resp_release(&r);
    rc = agent_wait(p, 30);
    CHECKF(rc == 3, "exit %d: %s", rc, slurp("run-rv", "err"));
    CHECKF(strstr(slurp("run-rv", "err"), "HTTP 401") != NULL, "%s", slurp("run-rv", "err"));
    CHECK(connector(T, cid_a) == NULL);
    CHECK(as_key(state_value(dir_of("a"), "credential"), "POST", "/v2/coffer/agents/heartbeat", NULL,
                 "{\"version\":\"1\"}") == 401);
    CHECK(http(&d, "DELETE", path, T, NULL, &r) == 0 && r.status == 404);
    http_resp_release(&r);
}

/* log_pin: the pin cofferd printed ("cofferd tls fingerprint=... pin=sha256//...") into pin. */
static int log_pin(struct daemon *dm, char *pin, size_t len)
{
    FILE *f = fopen(dm->log_path, "r");
    char line[1024], *p;
    int ok = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "cofferd tls fingerprint=") && (p = strstr(line, " pin="))) {
            snprintf(pin, len, "%.*s", (int)strcspn(p + 5, " \r\n"), p + 5);
            ok = 1;
        }
    }
    if (f) fclose(f);
    return ok ? 0 : -1;
}

TEST(tls_pin)
{
    struct daemon s;
    struct daemon_opts o = { 0 };
    struct daemon keep = d;
    char pin[128], conn[32], tok[128], cmd[2048], crt[600], keyf[600];
    pid_t p;
    int rc;
    memset(&s, 0, sizeof s);
    snprintf(crt, sizeof crt, "%s/tls.crt", tmp);
    snprintf(keyf, sizeof keyf, "%s/tls.key", tmp);
    snprintf(cmd, sizeof cmd, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s "
             "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 && chmod 600 %s", keyf, crt,
             keyf);
    if (system(cmd) != 0) {
        SKIP("tls_pin", "the openssl command-line tool cannot make a certificate");
        return;
    }
    o.tls_cert = crt;
    o.tls_key = keyf;
    CHECK(daemon_start_opts(&s, &o, env) == 0);
    if (log_pin(&s, pin, sizeof pin) != 0) {
        daemon_stop(&s);
        CHECK(0);
    }
    s.cacert[0] = '\0'; /* the pin alone vouches for the certificate, as it does for the agent */
    snprintf(s.pin, sizeof s.pin, "%.63s", pin);
    d = s;
    if (make_connection(T, "tls", conn, sizeof conn) != 0 || new_token(T, conn, tok, sizeof tok) != 0) {
        d = keep;
        daemon_stop(&s);
        CHECK(0);
    }
    /* a wrong pin: refused by the agent's TLS before the token is sent (the token stays usable) */
    p = agent_spawn("tls-bad", "register", "--server", s.base, "--token", tok, "--state-dir", dir_of("t1"), "--pin",
                    "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", NULL);
    rc = agent_wait(p, 60);
    /* trust on first use: no pin */
    p = agent_spawn("tls-tofu", "register", "--server", s.base, "--token", tok, "--state-dir", dir_of("t2"), NULL);
    {
        int rc2 = agent_wait(p, 60);
        pid_t q = agent_spawn("tls-run", "run", "--state-dir", dir_of("t2"), "--beats", "1", NULL);
        int rc3 = agent_wait(q, 60);
        d = keep;
        daemon_stop(&s);
        CHECKF(rc == 1, "exit %d: %s", rc, slurp("tls-bad", "err"));
        CHECKF(strstr(slurp("tls-bad", "err"), "public key") || strstr(slurp("tls-bad", "err"), "pinned"), "%s",
               slurp("tls-bad", "err"));
        CHECKF(rc2 == 0, "exit %d: %s", rc2, slurp("tls-tofu", "err"));
        CHECKF(strcmp(state_value(dir_of("t2"), "server_pin"), pin) == 0, "%s vs %s", state_value(dir_of("t2"), "server_pin"), pin);
        CHECK(strstr(slurp("tls-tofu", "out"), pin) != NULL);
        CHECKF(rc3 == 0, "exit %d: %s", rc3, slurp("tls-run", "err"));
    }
}

int main(void)
{
    tmp = check_tmpdir("e2e-agent");
    if (daemon_start(&d, env) != 0) return 1;
    RUN(register_tokens);
    RUN(register_through_the_local_api);
    RUN(heartbeat_serves_hosts);
    RUN(write_only);
    RUN(revoke_mid_run);
    RUN(tls_pin);
    daemon_stop(&d);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
