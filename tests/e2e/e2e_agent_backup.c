/* e2e_agent_backup.c: backups of a remote host through coffer-agent (the remote mover,
 * engine/remote.h), against the real daemon and the real agent binary. The agent is a separate
 * process with its own state directory and its own file tree; it reports the host name
 * agent-h.test, which the source registration names, so cofferd's local agent never serves it
 * (loopback only: no network namespace is needed for what is checked here).
 *   backup_and_incremental  a run backs the tree up through the agent (the agent's log names the
 *                           snapshot and the bytes it sent); every file downloads through cofferd
 *                           byte for byte; 5% of the data changed: the next run sends under a third
 *                           of the first's bytes; unchanged: under 1% of the data; the snapshots keep
 *                           the job's tags (agent_connector)
 *   server_checks           with the agent stopped, the test takes the queued work itself with the
 *                           agent's credential: a blob whose id does not match its content is 400 and
 *                           not stored, a snapshot naming a tree that is not there is 400, a tree that
 *                           is not the parent's is 403, another work id 404; the agent's "error"
 *                           ends the run Failed with its message; the credential still reads nothing
 *   kill_mid_backup         SIGKILL of the agent during a rate-limited backup: the run fails when the
 *                           lease runs out (no retries in the policy), naming the agent; restarted,
 *                           the agent completes the next run, which restores byte for byte
 *   connected_while_busy    a rate-limited backup spanning several heartbeat intervals: the connector
 *                           is listed as connected at every look during the run (the agent heartbeats
 *                           while it works)
 *   revoke_mid_run          deleting the connector while its backup runs ends the run Failed at once */
#include "api/api.h"
#include "e2e/agentrun.h"
#include "e2e/e2e_recover_fixture.h"
#include "util/time.h"
#include <signal.h>
#include <sys/wait.h>

#define T "t-ab"

static struct daemon d;
static char *tmp;
static char data_dir[600], state_dir[600], policy[128], gid[128];
static long long host;
static const char *env[] = { "COFFER_AGENT_HEARTBEAT_SECS=1", "COFFER_AGENT_LEASE_SECS=4", "COFFER_AGENT_TAKE_SECS=30",
                             NULL };
static pid_t agent = -1;

static int wait_exit(pid_t pid, int secs) { return agentrun_wait(pid, secs); }

/* agent_log: the agent's event log (state_dir/agent.log), malloc'd. */
static char *agent_log(void)
{
    char *t = NULL;
    size_t n;
    read_all(fmt("%s/agent.log", state_dir), &t, &n);
    if (!t) t = calloc(1, 1);
    else t[n] = '\0';
    return t;
}

/* figure_for: a figure ("bytes sent ", "wire bytes ") of the agent's log line for snapshot snap (-1
 * when absent). The agent writes that line after its "done", which may end the run first: waited
 * for, at most 10 s. */
static long long figure_for(const char *snap, const char *what)
{
    long long v = -1;
    for (int i = 0; i < 100 && v < 0; i++) {
        char *log = agent_log(), *p = strstr(log, fmt("snapshot %s", snap)), *q, *nl;
        nl = p ? strchr(p, '\n') : NULL;
        if (p && (q = strstr(p, what)) != NULL && (!nl || q < nl)) v = atoll(q + strlen(what));
        free(log);
        if (v < 0) usleep(100 * 1000);
    }
    return v;
}
static long long sent_for(const char *snap) { return figure_for(snap, "bytes sent "); }

static void agent_start(const char *rate)
{
    if (rate)
        agent = agentrun_spawn(NULL, tmp, "run", "--state-dir", state_dir, "--hostname", "agent-h.test", "--rate-limit", rate, NULL);
    else
        agent = agentrun_spawn(NULL, tmp, "run", "--state-dir", state_dir, "--hostname", "agent-h.test", NULL);
}

static void agent_stop(void)
{
    if (agent > 0) {
        kill(agent, SIGTERM);
        wait_exit(agent, 20);
    }
    agent = -1;
}

/* same_download: the file at path in snap, downloaded through cofferd, equals the file on disk. */
static int same_download(const char *snap, const char *path)
{
    struct http_resp r;
    char *want = NULL;
    size_t wlen = 0;
    int ok;
    if (http(&d, "GET", fmt("/v2/data-protect/snapshots/%s/download-file?filePath=%s", snap, path), T, NULL, &r) != 0)
        return 0;
    ok = r.status == 200 && read_all(path, &want, &wlen) == 0 && wlen == r.len && memcmp(want, r.body, wlen) == 0;
    if (!ok) fprintf(stderr, "download %s from %s: %ld, %zu bytes (want %zu)\n", path, snap, r.status, r.len, wlen);
    free(want);
    http_resp_release(&r);
    return ok;
}

/* start_run: starts a run of the group; its id into run (empty when refused). */
static void start_run(char *run, size_t rlen)
{
    json_t *j = NULL;
    run[0] = '\0';
    if (post_json(&d, fmt(FX_GRP "/%s/runs", gid), T, "{\"runType\":\"kRegular\"}", 202, &j) == 202)
        snprintf(run, rlen, "%s", jstr(j, "runId") ? jstr(j, "runId") : "");
    json_decref(j);
}

/* run_state: the run's status now (Accepted, Running, Succeeded, ...; "" when it cannot be read);
 * when it has ended, its snapshot into snap and the whole run into msg. */
static const char *run_state(const char *run, char *snap, size_t slen, char *msg, size_t mlen)
{
    static char st[32];
    json_t *j = NULL;
    const char *s;
    st[0] = '\0';
    if (get_json(&d, fmt(FX_GRP "/%s/runs/%s?includeObjectDetails=true", gid, run), T, &j) == 200 &&
        (s = jstr(j, "localBackupInfo.status")) != NULL) {
        snprintf(st, sizeof st, "%s", s);
        if (strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0) {
            char *dump = json_dumps(j, JSON_COMPACT);
            const char *id = jstr(j, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId");
            if (snap) snprintf(snap, slen, "%s", id ? id : "");
            snprintf(msg, mlen, "%s", dump ? dump : "");
            free(dump);
        }
    }
    json_decref(j);
    return st;
}

/* wait_run: waits (at most timeout_s) for the run to end; its status ("timeout" when it did not),
 * snapshot (snap may be NULL) and the whole run into msg. */
static const char *wait_run(const char *run, char *snap, size_t slen, char *msg, size_t mlen, int timeout_s)
{
    if (snap) snap[0] = '\0';
    msg[0] = '\0';
    for (int i = 0; i < timeout_s * 10; i++) {
        const char *s = run_state(run, snap, slen, msg, mlen);
        if (s[0] && strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0) return s;
        usleep(100 * 1000);
    }
    return "timeout";
}

/* run_end: runs the group and waits for its end: the status and (Succeeded) snapshot, the run in msg. */
static const char *run_end(char *snap, size_t slen, char *msg, size_t mlen, int timeout_s)
{
    char run[64];
    start_run(run, sizeof run);
    if (!run[0]) return "post";
    return wait_run(run, snap, slen, msg, mlen, timeout_s);
}

/* state_field: a string of the agent's state.json (credential, connector_id) into out. */
static void state_field(const char *name, char *out, size_t len)
{
    json_t *s = json_load_file(fmt("%s/state.json", state_dir), 0, NULL);
    const char *v = json_string_value(json_object_get(s, name));
    snprintf(out, len, "%s", v ? v : "");
    json_decref(s);
}

static const char *names[] = { "a.bin", "b.bin", "c.bin", "d.bin", "e.bin", "f.bin", "g.bin", "h.bin" };

/* is_connected: GetDataSourceConnectors shows the connector connected now. */
static int is_connected(void)
{
    struct http_resp r;
    int ok = http(&d, "GET", "/v2/data-source-connectors", T, NULL, &r) == 0 &&
             json_is_true(jget(json_array_get(jget(r.json, "connectors"), 0), "connectivityStatus.isConnected"));
    http_resp_release(&r);
    return ok;
}

/* connected: waits until the connector's first heartbeat came (the agent is up). */
static int connected(void)
{
    for (int i = 0; i < 300; i++) {
        if (is_connected()) return 1;
        usleep(100 * 1000);
    }
    return 0;
}

TEST(backup_and_incremental)
{
    char conn[32] = "", tok[128] = "", snap1[80], snap2[80], snap3[80], msg[8192];
    json_t *j = NULL;
    pid_t p;
    long long s1, s2, s3, w3, total = 0;
    snprintf(data_dir, sizeof data_dir, "%s/host/data", tmp);
    snprintf(state_dir, sizeof state_dir, "%s/state", tmp);
    CHECK(system(fmt("mkdir -p '%s/sub'", data_dir)) == 0);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CHECK(write_random(fmt("%s/%s", data_dir, names[i]), 2u << 20, 0644) == 0);
        total += 2 << 20;
    }
    CHECK(write_text(fmt("%s/sub/note.txt", data_dir), "hello from the agent's host\n", 0600) == 0);
    CHECK(symlink("a.bin", fmt("%s/link", data_dir)) == 0);
    /* a connection, its token, the agent registered and running */
    CHECK(post_json(&d, "/v2/data-source-connections", T, "{\"connectionName\":\"c\"}", 201, &j) == 201);
    snprintf(conn, sizeof conn, "%s", jstr(j, "connectionId"));
    json_decref(j);
    {
        struct http_resp r;
        json_t *t;
        CHECK(http(&d, "POST", fmt("/v2/data-source-connections/%s/registrationToken", conn), T, NULL, &r) == 0);
        t = json_loads(r.body ? r.body : "", JSON_DECODE_ANY, NULL);
        if (json_is_string(t)) snprintf(tok, sizeof tok, "%s", json_string_value(t));
        json_decref(t);
        http_resp_release(&r);
    }
    CHECK(tok[0]);
    p = agentrun_spawn(NULL, tmp, "register", "--server", d.base, "--token", tok, "--state-dir", state_dir, "--hostname", "agent-h.test",
              NULL);
    CHECK(wait_exit(p, 60) == 0);
    agent_start(NULL);
    CHECK(connected());
    /* the host the agent serves, a policy and a group over the tree */
    CHECK(post_json(&d, FX_SRC, T, "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"agent-h.test\","
                    "\"hostType\":\"kLinux\"}}", 201, &j) == 201);
    host = jint(j, "sourceInfo.id");
    CHECKF(strcmp(jstr(j, "authenticationStatus"), "Finished") == 0, "%s", jstr(j, "authenticationStatus"));
    json_decref(j);
    CHECK(post_json(&d, FX_POL, T, "{\"name\":\"daily\",\"backupPolicy\":{\"regular\":{\"incremental\":{\"schedule\":"
                    "{\"unit\":\"Days\",\"daySchedule\":{\"frequency\":1}}},\"retention\":{\"unit\":\"Days\","
                    "\"duration\":7}}}}", 201, &j) == 201);
    snprintf(policy, sizeof policy, "%s", jstr(j, "id"));
    json_decref(j);
    CHECK(fx_group(&d, T, "g", policy, host, data_dir, gid, sizeof gid) == 0);
    /* first backup: everything travels */
    CHECKF(strcmp(run_end(snap1, sizeof snap1, msg, sizeof msg, 120), "Succeeded") == 0, "%s", msg);
    s1 = sent_for(snap1);
    CHECKF(s1 > total / 2, "bytes sent %lld of %lld", s1, total);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(same_download(snap1, fmt("%s/%s", data_dir, names[i])));
    CHECK(same_download(snap1, fmt("%s/sub/note.txt", data_dir)));
    /* 5% changed: 820 KiB in the middle of one file */
    {
        int fd = open(fmt("%s/c.bin", data_dir), O_WRONLY);
        unsigned char *buf = malloc(820 * 1024);
        CHECK(fd >= 0 && buf);
        for (size_t i = 0; i < 820 * 1024; i++) buf[i] = (unsigned char)(i * 7 + 3);
        CHECK(pwrite(fd, buf, 820 * 1024, 600 * 1024) == 820 * 1024);
        close(fd);
        free(buf);
    }
    CHECKF(strcmp(run_end(snap2, sizeof snap2, msg, sizeof msg, 120), "Succeeded") == 0, "%s", msg);
    CHECK(strcmp(snap1, snap2) != 0);
    s2 = sent_for(snap2);
    CHECKF(s2 > 0 && s2 < s1 / 3, "bytes sent %lld after a 5%% change (first %lld)", s2, s1);
    CHECK(same_download(snap2, fmt("%s/c.bin", data_dir)));
    CHECK(same_download(snap2, fmt("%s/a.bin", data_dir)));
    /* unchanged: almost nothing */
    CHECKF(strcmp(run_end(snap3, sizeof snap3, msg, sizeof msg, 120), "Succeeded") == 0, "%s", msg);
    s3 = sent_for(snap3);
    CHECKF(s3 >= 0 && s3 < total / 100, "bytes sent %lld for an unchanged re-backup of %lld", s3, total);
    w3 = figure_for(snap3, "wire bytes ");
    CHECKF(w3 > 0 && w3 < total / 100, "wire bytes %lld for an unchanged re-backup of %lld", w3, total);
    printf("    bytes sent: first %lld, after 5%% change %lld, unchanged %lld (wire %lld, headers and ids included; "
           "data %lld)\n", s1, s2, s3, w3, total);
    /* the snapshot is listed for the object with the job's tags */
    CHECK(get_json(&d, fmt("/v2/data-protect/objects/%lld/snapshots", host), T, &j) == 200);
    CHECK(json_array_size(json_object_get(j, "snapshots")) == 3);
    json_decref(j);
}

/* take_work: a heartbeat with the agent's credential; the first work item (new ref) or NULL. */
static json_t *take_work(const char *cred)
{
    for (int i = 0; i < 100; i++) {
        struct http_resp r;
        char auth[300];
        const char *h[] = { "Content-Type: application/json", NULL };
        json_t *w = NULL;
        snprintf(auth, sizeof auth, "Bearer %s", cred);
        if (http_raw(&d, "POST", "/v2/coffer/agents/heartbeat", auth, h, "{\"version\":\"0.0.1\"}", 19, &r) == 0 &&
            r.status == 200 && json_array_size(jget(r.json, "work")) > 0)
            w = json_incref(json_array_get(jget(r.json, "work"), 0));
        http_resp_release(&r);
        if (w) return w;
        usleep(100 * 1000);
    }
    return NULL;
}

static long as_agent(const char *cred, const char *path, const char *ctype, const void *body, size_t len,
                     struct http_resp *r)
{
    char auth[300], ct[100];
    const char *h[] = { ct, NULL };
    snprintf(auth, sizeof auth, "Bearer %s", cred);
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
    if (http_raw(&d, "POST", path, auth, h, body, len, r) != 0) return -1;
    return r->status;
}

TEST(server_checks)
{
    char cred[200], run[64], wpath[200], msg[8192];
    json_t *w;
    struct http_resp r;
    unsigned char blob[1 + 32 + 4 + 4 + 16];
    CHECK(gid[0]);
    agent_stop();
    state_field("credential", cred, sizeof cred);
    start_run(run, sizeof run);
    CHECK(run[0]);
    w = take_work(cred);
    CHECK(w != NULL);
    CHECK(strlen(jstr(w, "keys.id_key")) == 64 && jstr(w, "keys.enc_key") == NULL);
    CHECK(jstr(w, "parent") != NULL);
    snprintf(wpath, sizeof wpath, "/v2/coffer/agents/work/%s", jstr(w, "id"));
    /* a blob whose id is not the keyed hash of its content */
    memset(blob, 0, sizeof blob);
    blob[0] = 0;
    memset(blob + 1, 0xab, 32);
    blob[33] = 16;
    blob[37] = 16;
    memcpy(blob + 41, "0123456789abcdef", 16);
    CHECK(as_agent(cred, fmt("%s/blobs", wpath), "application/octet-stream", blob, sizeof blob, &r) == 400);
    CHECKF(strstr(jstr(r.json, "message"), "does not match its content") != NULL, "%s", r.body);
    http_resp_release(&r);
    {
        const char *b = "{\"ids\":[\"abababababababababababababababababababababababababababababababab\"]}";
        CHECK(as_agent(cred, fmt("%s/exists", wpath), "application/json", b, strlen(b), &r) == 200);
        CHECK(json_array_size(jget(r.json, "missing")) == 1);
        http_resp_release(&r);
    }
    /* a snapshot naming a tree that is not there */
    {
        const char *b = "{\"doc\":{\"version\":1,\"tree\":\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\"}}";
        CHECK(as_agent(cred, fmt("%s/snapshot", wpath), "application/json", b, strlen(b), &r) == 400);
        CHECKF(strstr(jstr(r.json, "message"), "not in the repository") != NULL, "%s", r.body);
        http_resp_release(&r);
    }
    /* a tree that is not the parent's */
    {
        const char *b = "{\"id\":\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\"}";
        CHECK(as_agent(cred, fmt("%s/tree", wpath), "application/json", b, strlen(b), &r) == 403);
        http_resp_release(&r);
        CHECK(as_agent(cred, "/v2/coffer/agents/work/0123456789abcdef/exists", "application/json", "{\"ids\":[]}", 10,
                       &r) == 404);
        http_resp_release(&r);
    }
    /* an upload over its cap (API_MAX_UPLOAD_BYTES) is 413, and one at the cap is read (400: not blobs) */
    {
        size_t n = API_MAX_UPLOAD_BYTES + 1;
        char *big = calloc(1, n);
        CHECK(big != NULL);
        CHECK(as_agent(cred, fmt("%s/blobs", wpath), "application/octet-stream", big, n, &r) == 413);
        http_resp_release(&r);
        CHECK(as_agent(cred, fmt("%s/blobs", wpath), "application/octet-stream", big, n - 1, &r) == 400);
        http_resp_release(&r);
        free(big);
    }
    /* the agent's error ends the run */
    {
        const char *b = "{\"error\":\"disk on fire\"}";
        CHECK(as_agent(cred, fmt("%s/done", wpath), "application/json", b, strlen(b), &r) == 204);
        http_resp_release(&r);
    }
    json_decref(w);
    CHECKF(strcmp(wait_run(run, NULL, 0, msg, sizeof msg, 30), "Failed") == 0 && strstr(msg, "disk on fire"), "%s",
           msg);
    agent_start(NULL);
}

TEST(kill_mid_backup)
{
    char snap[80], msg[8192], run[64];
    int ok = 0;
    CHECK(gid[0]);
    agent_stop();
    /* new data the agent must send, slowly */
    for (int i = 0; i < 3; i++) CHECK(write_random(fmt("%s/new%d.bin", data_dir, i), 3u << 20, 0644) == 0);
    agent_start("1");
    CHECK(connected());
    start_run(run, sizeof run);
    CHECK(run[0]);
    /* wait until the agent started the backup, then kill it */
    for (int i = 0; i < 300 && !ok; i++) {
        char *log = agent_log();
        ok = strstr(log, "starting") != NULL && strrchr(log, '\n') && strstr(strrchr(log, 'b'), "") != NULL;
        ok = ok && (size_t)(strstr(log, "starting") - log) > 0;
        free(log);
        usleep(100 * 1000);
    }
    usleep(1500 * 1000);
    kill(agent, SIGKILL);
    wait_exit(agent, 10);
    agent = -1;
    CHECKF(strcmp(wait_run(run, NULL, 0, msg, sizeof msg, 60), "Failed") == 0 && strstr(msg, "stopped answering"),
           "%s", msg);
    /* back up, the next run completes and restores */
    agent_start(NULL);
    CHECK(connected());
    CHECKF(strcmp(run_end(snap, sizeof snap, msg, sizeof msg, 120), "Succeeded") == 0, "%s", msg);
    for (int i = 0; i < 3; i++) CHECK(same_download(snap, fmt("%s/new%d.bin", data_dir, i)));
    CHECK(same_download(snap, fmt("%s/c.bin", data_dir)));
}

/* A backup that spans several heartbeat intervals (1 s here; a connector counts as connected while
 * its last heartbeat is at most 3 intervals old): the agent heartbeats while it works, so the
 * connector is listed as connected at every look during the run. */
TEST(connected_while_busy)
{
    char snap[80], msg[8192], run[64];
    int looks = 0, disconnected = 0, running = 1;
    int64_t t0;
    CHECK(gid[0]);
    agent_stop();
    CHECK(write_random(fmt("%s/busy.bin", data_dir), 4u << 20, 0644) == 0);
    agent_start("1");
    CHECK(connected());
    start_run(run, sizeof run);
    CHECK(run[0]);
    t0 = util_time_mono();
    for (int i = 0; i < 600 && running; i++) {
        const char *s = run_state(run, snap, sizeof snap, msg, sizeof msg);
        running = !s[0] || strcmp(s, "Accepted") == 0 || strcmp(s, "Running") == 0;
        if (running) {
            looks++;
            if (!is_connected()) disconnected++;
            usleep(250 * 1000);
        }
    }
    CHECKF(!running && strcmp(run_state(run, snap, sizeof snap, msg, sizeof msg), "Succeeded") == 0, "%s", msg);
    /* long enough that a silent agent would have shown as not connected (over 3 intervals) */
    CHECKF(util_time_mono() - t0 > 3500000, "the run took only %lld ms", (long long)(util_time_mono() - t0) / 1000);
    CHECKF(looks >= 10 && disconnected == 0, "%d of %d looks during the run saw the connector not connected",
           disconnected, looks);
    CHECK(same_download(snap, fmt("%s/busy.bin", data_dir)));
    printf("    connected at all %d looks during a %.1f s backup\n", looks, (util_time_mono() - t0) / 1e6);
    agent_stop();
    agent_start(NULL);
    CHECK(connected());
}

TEST(revoke_mid_run)
{
    char msg[8192], run[64], cid[32];
    CHECK(gid[0]);
    agent_stop();
    CHECK(write_random(fmt("%s/more.bin", data_dir), 4u << 20, 0644) == 0);
    agent_start("1");
    CHECK(connected());
    state_field("connector_id", cid, sizeof cid);
    start_run(run, sizeof run);
    CHECK(run[0]);
    usleep(2500 * 1000);
    CHECK(expect(&d, "DELETE", fmt("/v2/data-source-connectors/%s", cid), T, NULL, 204, NULL));
    CHECKF(strcmp(wait_run(run, NULL, 0, msg, sizeof msg, 30), "Failed") == 0 && strstr(msg, "was deleted"), "%s",
           msg);
    CHECK(wait_exit(agent, 30) == 3);
    agent = -1;
}

int main(void)
{
    tmp = check_tmpdir("e2e-agent-backup");
    if (daemon_start(&d, env) != 0) return 1;
    RUN(backup_and_incremental);
    RUN(server_checks);
    RUN(kill_mid_backup);
    RUN(connected_while_busy);
    RUN(revoke_mid_run);
    agent_stop();
    daemon_stop(&d);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
