/* e2e_agent_restore.c: restores to the host of a coffer-agent (engine/remote.h eng_remote_restore,
 * agentd/restore.c), against the real daemon and two real agent processes, each with its own state
 * directory and file tree, reporting its own host name (agent-a.test, agent-b.test; agent B also
 * reports the loopback address 127.0.0.22, as in e2e_agent; its host is registered by name, since
 * cofferd counts every loopback address as its own machine).
 *   to_original_host   a tree backed up through agent A, then changed and partly deleted on the
 *                      host: a restore to the original host brings every file back byte for byte
 *                      with its mode, the symlink as a link with its target; Succeeded with the
 *                      agent's counters (files, dirs, bytes) in cofferStats, and
 *                      the agent's log names the restore and its figures
 *   to_second_host     the same snapshot restored to agent B's host into another directory (a
 *                      recovery whose recoverTarget is host B): byte for byte
 *   many_small_files   1000 small files in 20 directories backed up through agent A and restored to
 *                      its host: byte for byte (diff -r), 1000 files counted, and fewer than 100 read
 *                      requests in the agent's log (reads are batched); prints requests and time
 *   forbidden_reads    with agent B stopped, the test takes the restore work with B's credential: the
 *                      snapshot document and its root tree are readable, a blob id not in the
 *                      snapshot is 403 (and so are ids mixed with allowed ones), an upload is
 *                      refused; the agent's "error" fails the recovery with its message
 *   scoped_reads       a restore of one directory (data/sub) taken by hand with B's credential: the
 *                      trees from the root down to it, its tree and its files' data are readable;
 *                      the tree of the sibling directory data/other and the data of data/a.bin are
 *                      403 (the message names the id and the restored paths)
 *   kill_mid_restore   SIGKILL of agent A during a rate-limited restore: the recovery fails when the
 *                      lease runs out, naming the agent; restarted, a new restore completes
 *   agent_in_netns     (root with ip netns, else skipped saying so) a third agent runs in a network
 *                      namespace the setup makes, joined by a veth pair (10.231.x.1/.2); cofferd
 *                      still listens on loopback only, a relay in the test copies the pair's
 *                      connections to it; the agent reports the namespace's address, and the
 *                      snapshot restored to its host is byte for byte; the namespace is removed
 *   deleted_connector  after agent B's connector is deleted, a restore to host B is a 400 whose
 *                      message names recoverTarget.id */
#include "api/api.h"
#include "e2e/agentrun.h"
#include "e2e/e2e_recover_fixture.h"
#include "repo/tree.h"
#include "util/time.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <zstd.h>

#define T "t-ar"

static struct daemon d;
static char *tmp;
static char data_dir[600], orig_dir[600], state_a[600], state_b[600], policy[128], gid[128], snap1[80];
static long long host_a, host_b;
static const char *env[] = { "COFFER_AGENT_HEARTBEAT_SECS=1", "COFFER_AGENT_LEASE_SECS=4", "COFFER_AGENT_TAKE_SECS=30",
                             NULL };
static pid_t agent_a = -1, agent_b = -1, agent_c = -1;
static char ns_name[32];        /* set: spawn runs the agent in this network namespace */

static int wait_exit(pid_t pid, int secs) { return agentrun_wait(pid, secs); }

static pid_t start_a(const char *rate)
{
    return rate ? agentrun_spawn(ns_name, tmp, "run", "--state-dir", state_a, "--hostname", "agent-a.test", "--rate-limit", rate, NULL)
                : agentrun_spawn(ns_name, tmp, "run", "--state-dir", state_a, "--hostname", "agent-a.test", NULL);
}
static pid_t start_b(void)
{
    return agentrun_spawn(ns_name, tmp, "run", "--state-dir", state_b, "--hostname", "agent-b.test", "--address", "127.0.0.22", NULL);
}

static char *agent_log(const char *state)
{
    char *t = NULL;
    size_t n;
    read_all(fmt("%s/agent.log", state), &t, &n);
    if (!t) t = calloc(1, 1);
    else t[n] = '\0';
    return t;
}

static char *state_field(const char *state, const char *key)
{
    json_t *s = json_load_file(fmt("%s/state.json", state), 0, NULL);
    char *v = json_string_value(json_object_get(s, key)) ? strdup(json_string_value(json_object_get(s, key))) : NULL;
    json_decref(s);
    return v;
}

/* connected_n: waits until n connectors show as connected. */
static int connected_n(size_t n)
{
    for (int i = 0; i < 300; i++) {
        struct http_resp r;
        size_t k = 0;
        if (http(&d, "GET", "/v2/data-source-connectors", T, NULL, &r) == 0)
            for (size_t c = 0; c < json_array_size(jget(r.json, "connectors")); c++)
                k += json_is_true(jget(json_array_get(jget(r.json, "connectors"), c), "connectivityStatus.isConnected"));
        http_resp_release(&r);
        if (k >= n) return 1;
        usleep(100 * 1000);
    }
    return 0;
}

/* enroll: a connection, its token, and the agent registered into state with hostname. */
static int enroll_at(const char *server, const char *state, const char *hostname)
{
    char tok[128];
    if (agentrun_token(&d, T, fmt("c-%s", hostname), tok, sizeof tok) != 0) return -1;
    return wait_exit(agentrun_spawn(ns_name, tmp, "register", "--server", server, "--token", tok, "--state-dir", state, "--hostname", hostname,
                           NULL), 60) == 0 ? 0 : -1;
}
static int enroll(const char *state, const char *hostname) { return enroll_at(d.base, state, hostname); }

static long long register_host(const char *endpoint)
{
    json_t *j = NULL;
    long long id;
    if (post_json(&d, FX_SRC, T, fmt("{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"%s\","
                                     "\"hostType\":\"kLinux\"}}", endpoint), 201, &j) != 201)
        return -1;
    id = jint(j, "sourceInfo.id");
    json_decref(j);
    return id;
}

/* restore_post_path: a restore of the directory path from snap to target (0: the snapshot's host);
 * alt NULL: the original paths. The recovery id into id, or the HTTP status when not 201. */
static long restore_post_path(const char *snap, const char *path, long long target, const char *alt, char *id,
                              size_t idlen, json_t **err)
{
    struct http_resp r;
    long st = call(&d, "POST", FX_REC, T,
                   fmt("{'name':'r','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':'%s'}],"
                       "'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':{'filesAndFolders':"
                       "[{'absolutePath':'%s','isDirectory':true}],'targetEnvironment':'kPhysical',"
                       "'physicalTargetParams':{%s%s%s%s,'overwriteExisting':true}}}}",
                       snap, path, target ? fmt("'recoverTarget':{'id':%lld},", target) : "",
                       alt ? "'alternateRestoreDirectory':'" : "'restoreToOriginalPaths':true", alt ? alt : "",
                       alt ? "'" : ""), &r);
    if (st == 201) snprintf(id, idlen, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    if (err) *err = st != 201 ? json_incref(r.json) : NULL;
    http_resp_release(&r);
    return st;
}

/* restore_post: restore_post_path of data_dir. */
static long restore_post(const char *snap, long long target, const char *alt, char *id, size_t idlen, json_t **err)
{
    return restore_post_path(snap, data_dir, target, alt, id, idlen, err);
}

/* dump: j as compact text (a static buffer: no leak when a check fails). */
static const char *dump(const json_t *j)
{
    static char b[8192];
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    snprintf(b, sizeof b, "%s", t ? t : "no end");
    free(t);
    return b;
}

static const char *files[] = { "a.bin", "b.bin", "sub/c.bin", "sub/note.txt", "exec.sh", "other/o.bin" };

/* same_tree: every file of orig_dir equals the one under dir byte for byte, with its mode; the
 * symlink "link" is a link to "a.bin". */
static int same_tree(const char *dir_in)
{
    char t[256], dir[1000];
    struct stat a, b;
    ssize_t n;
    snprintf(dir, sizeof dir, "%s", dir_in); /* fmt's buffers are reused */
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *x = fmt("%s/%s", orig_dir, files[i]), *y;
        char xs[1400];
        snprintf(xs, sizeof xs, "%s", x);
        y = fmt("%s/%s", dir, files[i]);
        if (!files_equal(xs, y) || stat(xs, &a) != 0 || stat(y, &b) != 0 || (a.st_mode & 07777) != (b.st_mode & 07777)) {
            fprintf(stderr, "%s differs from %s (or its mode)\n", y, xs);
            return 0;
        }
    }
    if (lstat(fmt("%s/link", dir), &b) != 0 || !S_ISLNK(b.st_mode) ||
        (n = readlink(fmt("%s/link", dir), t, sizeof t - 1)) != 5 || memcmp(t, "a.bin", 5) != 0) {
        fprintf(stderr, "%s/link is not the link to a.bin\n", dir);
        return 0;
    }
    return 1;
}

TEST(to_original_host)
{
    json_t *j = NULL;
    char id[96], *log;
    snprintf(data_dir, sizeof data_dir, "%s/host-a/data", tmp);
    snprintf(orig_dir, sizeof orig_dir, "%s/orig", tmp);
    snprintf(state_a, sizeof state_a, "%s/state-a", tmp);
    snprintf(state_b, sizeof state_b, "%s/state-b", tmp);
    CHECK(system(fmt("mkdir -p '%s/sub'", data_dir)) == 0);
    CHECK(write_random(fmt("%s/a.bin", data_dir), 3u << 20, 0644) == 0);
    CHECK(write_random(fmt("%s/b.bin", data_dir), 1u << 20, 0600) == 0);
    CHECK(write_random(fmt("%s/sub/c.bin", data_dir), 6u << 20, 0640) == 0);
    CHECK(write_text(fmt("%s/sub/note.txt", data_dir), "hello from host a\n", 0600) == 0);
    CHECK(write_text(fmt("%s/exec.sh", data_dir), "#!/bin/sh\necho hi\n", 0755) == 0);
    CHECK(mkdir(fmt("%s/other", data_dir), 0755) == 0);
    CHECK(write_random(fmt("%s/other/o.bin", data_dir), 64u << 10, 0644) == 0);
    CHECK(symlink("a.bin", fmt("%s/link", data_dir)) == 0);
    CHECK(system(fmt("cp -a '%s' '%s'", data_dir, orig_dir)) == 0);
    CHECK(enroll(state_a, "agent-a.test") == 0);
    agent_a = start_a(NULL);
    CHECK(connected_n(1));
    CHECK((host_a = register_host("agent-a.test")) > 0);
    CHECK(post_json(&d, FX_POL, T, fmt("{'name':'daily','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':"
                    "'Days','daySchedule':{'frequency':1}}},'retention':{'unit':'Days','duration':7}}}}"), 201, &j) == 201);
    snprintf(policy, sizeof policy, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    j = NULL;
    CHECK(fx_group(&d, T, "g", policy, host_a, data_dir, gid, sizeof gid) == 0);
    CHECK(fx_run(&d, T, gid, snap1, sizeof snap1) == 0);
    /* the host changes: a file rewritten, one deleted, the link replaced by a file */
    CHECK(write_random(fmt("%s/a.bin", data_dir), 1000, 0600) == 0);
    CHECK(unlink(fmt("%s/sub/c.bin", data_dir)) == 0);
    CHECK(unlink(fmt("%s/link", data_dir)) == 0 && write_text(fmt("%s/link", data_dir), "not a link\n", 0644) == 0);
    CHECK(!same_tree(data_dir));
    CHECK(restore_post(snap1, 0, NULL, id, sizeof id, NULL) == 201);
    j = fx_wait_recovery(&d, T, id, 120);
    CHECKF(j && strcmp(jstr(j, "status"), "Succeeded") == 0, "%s", dump(j));
    /* the agent's counters, recorded as for a local restore: 6 files and the link, 10 MiB + 64 KiB + 36 bytes */
    CHECKF(jint(j, "cofferStats.files") == 7 && jint(j, "cofferStats.dirs") == 3 &&
           jint(j, "cofferStats.bytes") == (10 << 20) + (64 << 10) + 36, "%s", dump(j));
    json_decref(j);
    CHECK(same_tree(data_dir));
    log = agent_log(state_a);
    CHECKF(strstr(log, "restore ") && strstr(log, "bytes written"), "%s", log);
    free(log);
}

TEST(to_second_host)
{
    json_t *j = NULL;
    char id[96], out[700], *log;
    CHECK(snap1[0]);
    CHECK(enroll(state_b, "agent-b.test") == 0);
    agent_b = start_b();
    CHECK(connected_n(2));
    CHECK((host_b = register_host("agent-b.test")) > 0);
    snprintf(out, sizeof out, "%s/host-b/out", tmp);
    CHECK(restore_post(snap1, host_b, out, id, sizeof id, NULL) == 201);
    j = fx_wait_recovery(&d, T, id, 120);
    CHECKF(j && strcmp(jstr(j, "status"), "Succeeded") == 0, "%s", dump(j));
    json_decref(j);
    CHECK(same_tree(fmt("%s/data", out)));
    log = agent_log(state_b); /* agent B did it, not cofferd's local agent */
    CHECKF(strstr(log, "restore ") && strstr(log, "bytes written"), "%s", log);
    free(log);
}

/* last_reads: the read requests of the last restore in an agent's log ("bytes received N in M reads",
 * -1 when absent); *count: how many restores the log reports. */
static long long last_reads(const char *log, int *count)
{
    const char *p = NULL;
    *count = 0;
    for (const char *q = strstr(log, "bytes received "); q; q = strstr(q + 1, "bytes received ")) {
        p = q;
        (*count)++;
    }
    p = p ? strstr(p, " in ") : NULL;
    return p ? atoll(p + 4) : -1;
}

#define SMALL_FILES 1000 /* the figures in docs/agent-protocol.md: 2000 */

/* SMALL_FILES small files (1..4 KiB each, 20 directories) backed up through agent A and restored to
 * its host: every file byte for byte, and the agent asks for their data in batches (the read route
 * takes up to 256 ids), so it makes far fewer read requests than there are files. */
TEST(many_small_files)
{
    char small[700], out[700], gid2[128], snap[80], id[96], *log;
    json_t *j = NULL;
    long long reads = -1, nfiles;
    int before = 0, after = 0;
    int64_t t0, t1;
    CHECK(host_a > 0);
    snprintf(small, sizeof small, "%s/host-a/small", tmp);
    snprintf(out, sizeof out, "%s/host-a/out-small", tmp);
    for (int i = 0; i < SMALL_FILES; i++) {
        if (i % (SMALL_FILES / 20) == 0) CHECK(system(fmt("mkdir -p '%s/d%02d'", small, i / (SMALL_FILES / 20))) == 0);
        CHECK(write_random(fmt("%s/d%02d/f%04d", small, i / (SMALL_FILES / 20), i), 1024u + (unsigned)(i % 7) * 512u,
                           0644) == 0);
    }
    CHECK(fx_group(&d, T, "g-small", policy, host_a, small, gid2, sizeof gid2) == 0);
    CHECK(fx_run(&d, T, gid2, snap, sizeof snap) == 0);
    log = agent_log(state_a);
    last_reads(log, &before);
    free(log);
    t0 = util_time_mono();
    CHECK(restore_post_path(snap, small, 0, out, id, sizeof id, NULL) == 201);
    j = fx_wait_recovery(&d, T, id, 120);
    t1 = util_time_mono();
    CHECKF(j && strcmp(jstr(j, "status"), "Succeeded") == 0, "%s", dump(j));
    nfiles = j ? jint(j, "cofferStats.files") : -1;
    json_decref(j);
    CHECKF(nfiles == SMALL_FILES, "%lld files restored", nfiles);
    CHECK(system(fmt("diff -r '%s' '%s/small' >/dev/null", small, out)) == 0);
    /* the agent logs the restore after its "done", which may end the recovery first: at most 10 s */
    for (int i = 0; i < 100 && after <= before; i++) {
        log = agent_log(state_a);
        reads = last_reads(log, &after);
        free(log);
        if (after <= before) usleep(100 * 1000);
    }
    printf("    %d small files restored through the agent in %.2f s with %lld read requests\n", SMALL_FILES,
           (t1 - t0) / 1e6, reads);
    CHECKF(reads > 0 && reads < SMALL_FILES / 10, "%lld read requests for %d files", reads, SMALL_FILES);
}

static long as_agent(const char *cred, const char *path, const char *body, struct http_resp *r)
{
    char auth[300];
    const char *h[] = { "Content-Type: application/json", NULL };
    snprintf(auth, sizeof auth, "Bearer %s", cred);
    if (http_raw(&d, "POST", path, auth, h, body, strlen(body), r) != 0) return -1;
    return r->status;
}

static json_t *take_work(const char *cred)
{
    for (int i = 0; i < 100; i++) {
        struct http_resp r;
        json_t *w = NULL;
        if (as_agent(cred, "/v2/coffer/agents/heartbeat", "{\"version\":\"0.0.1\"}", &r) == 200 &&
            json_array_size(jget(r.json, "work")) > 0)
            w = json_incref(json_array_get(jget(r.json, "work"), 0));
        http_resp_release(&r);
        if (w) return w;
        usleep(100 * 1000);
    }
    return NULL;
}

TEST(forbidden_reads)
{
    char *cred, id[96], wpath[200], root[80] = "", bad[65];
    json_t *w, *j = NULL;
    struct http_resp r;
    CHECK(host_b > 0);
    agentrun_stop(&agent_b);
    cred = state_field(state_b, "credential");
    CHECK(cred != NULL);
    CHECK(restore_post(snap1, host_b, fmt("%s/host-b/out2", tmp), id, sizeof id, NULL) == 201);
    w = take_work(cred);
    CHECK(w && strcmp(jstr(w, "kind"), "restore") == 0 && strcmp(jstr(w, "restore.snapshot"), snap1) == 0);
    CHECK(jstr(w, "keys.id_key") == NULL); /* a restore holds no key */
    snprintf(wpath, sizeof wpath, "/v2/coffer/agents/work/%s", jstr(w, "id"));
    json_decref(w);
    /* the snapshot document and its root tree: allowed */
    CHECK(as_agent(cred, fmt("%s/parent", wpath), fmt("{\"id\":\"%s\"}", snap1), &r) == 200);
    if (jstr(r.json, "doc.tree")) snprintf(root, sizeof root, "%s", jstr(r.json, "doc.tree"));
    http_resp_release(&r);
    CHECK(strlen(root) == 64);
    CHECK(as_agent(cred, fmt("%s/read", wpath), fmt("{\"ids\":[\"%s\"]}", root), &r) == 200);
    { /* one frame: a tree, the root's id */
        char hex[65];
        for (int i = 0; r.len > 41 && i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", (unsigned char)r.body[1 + i]);
        CHECK(r.len > 41 && (r.body[0] & 0x7f) == 1 && memcmp(hex, root, 64) == 0);
    }
    http_resp_release(&r);
    /* an id outside the snapshot: 403, alone or among allowed ones */
    memset(bad, 'a', 64);
    bad[64] = '\0';
    CHECK(as_agent(cred, fmt("%s/read", wpath), fmt("{\"ids\":[\"%s\"]}", bad), &r) == 403);
    CHECKF(r.body && strstr(r.body, "ids"), "%s", r.body ? r.body : "");
    http_resp_release(&r);
    CHECK(as_agent(cred, fmt("%s/read", wpath), fmt("{\"ids\":[\"%s\",\"%s\"]}", root, bad), &r) == 403);
    http_resp_release(&r);
    CHECK(as_agent(cred, fmt("%s/tree", wpath), fmt("{\"id\":\"%s\"}", bad), &r) == 403);
    http_resp_release(&r);
    CHECK(as_agent(cred, fmt("%s/parent", wpath), "{\"id\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
                   &r) == 404);
    http_resp_release(&r);
    /* a restore uploads nothing and commits nothing */
    CHECK(as_agent(cred, fmt("%s/snapshot", wpath), fmt("{\"doc\":{\"tree\":\"%s\"}}", root), &r) == 400);
    http_resp_release(&r);
    /* the agent's error fails the recovery with its message */
    CHECK(as_agent(cred, fmt("%s/done", wpath), "{\"error\":\"disk on fire\"}", &r) == 204);
    http_resp_release(&r);
    j = fx_wait_recovery(&d, T, id, 60);
    CHECK(j && strcmp(jstr(j, "status"), "Failed") == 0 && has_message(json_object_get(j, "messages"), "disk on fire"));
    json_decref(j);
    free(cred);
    agent_b = start_b();
}

/* read_blob: one blob through the work's read route: the HTTP status; with 200 its plaintext into
 * *data (malloc'd, *len bytes) and its type (0 data, 1 tree) into *type. */
static long read_blob(const char *cred, const char *wpath, const char *id_hex, void **data, size_t *len, int *type)
{
    struct http_resp r;
    long st = as_agent(cred, fmt("%s/read", wpath), fmt("{\"ids\":[\"%s\"]}", id_hex), &r);
    *data = NULL;
    *len = 0;
    if (st == 200 && r.len >= 41) {
        const unsigned char *p = (const unsigned char *)r.body;
        uint32_t plain = (uint32_t)p[33] | (uint32_t)p[34] << 8 | (uint32_t)p[35] << 16 | (uint32_t)p[36] << 24;
        uint32_t payload = (uint32_t)p[37] | (uint32_t)p[38] << 8 | (uint32_t)p[39] << 16 | (uint32_t)p[40] << 24;
        *type = p[0] & 0x7f;
        if (payload <= r.len - 41 && (*data = malloc(plain + 1)) != NULL) {
            if (p[0] & 0x80) *len = ZSTD_decompress(*data, plain, p + 41, payload);
            else memcpy(*data, p + 41, *len = plain);
            if (ZSTD_isError(*len) || *len != plain) st = -2;
        }
    }
    http_resp_release(&r);
    return st;
}

/* read_tree: a tree through the read route, decoded (NULL when not 200 or not a tree; *status). */
static struct tree *read_tree(const char *cred, const char *wpath, const char *id_hex, long *status)
{
    void *data = NULL;
    size_t len = 0;
    int type = -1;
    struct tree *t = NULL;
    *status = read_blob(cred, wpath, id_hex, &data, &len, &type);
    if (*status == 200 && (type != 1 || tree_decode(data, len, &t) != 0)) t = NULL;
    free(data);
    return t;
}

/* subtree_hex: the id of directory name's tree in t (hex), "" when it is not a directory there. */
static void subtree_hex(const struct tree *t, const char *name, char out[REPO_ID_HEX_LEN + 1])
{
    const struct tree_entry *e = t ? tree_find(t, name) : NULL;
    out[0] = '\0';
    if (e && e->type == TREE_DIR && e->has_subtree) repo_id_to_hex(&e->subtree, out);
}

/* chunk_hex: the id of file name's first data blob in t (hex), "" when none. */
static void chunk_hex(const struct tree *t, const char *name, char out[REPO_ID_HEX_LEN + 1])
{
    const struct tree_entry *e = t ? tree_find(t, name) : NULL;
    out[0] = '\0';
    if (e && e->type == TREE_FILE && e->n_chunks > 0) repo_id_to_hex(&e->chunks[0].id, out);
}

/* A restore of one directory (data/sub) reads only the way down to it and what is below it: the
 * trees from the root to data and sub, c.bin's data: 200; the tree of the sibling directory
 * data/other and the data of data/a.bin: 403, by hand with agent B's credential. */
TEST(scoped_reads)
{
    char *cred, id[96], wpath[200], cur[REPO_ID_HEX_LEN + 1] = "", sub[REPO_ID_HEX_LEN + 1], other[REPO_ID_HEX_LEN + 1],
         a_blob[REPO_ID_HEX_LEN + 1], c_blob[REPO_ID_HEX_LEN + 1], dir[700];
    struct tree *t = NULL, *ts = NULL;
    struct http_resp r;
    json_t *w, *j;
    long st = 0;
    void *data = NULL;
    size_t len = 0;
    int type = -1;
    CHECK(host_b > 0);
    agentrun_stop(&agent_b);
    cred = state_field(state_b, "credential");
    CHECK(cred != NULL);
    snprintf(dir, sizeof dir, "%s/sub", data_dir);
    CHECK(restore_post_path(snap1, dir, host_b, fmt("%s/host-b/out3", tmp), id, sizeof id, NULL) == 201);
    w = take_work(cred);
    CHECK(w && strcmp(jstr(w, "kind"), "restore") == 0);
    snprintf(wpath, sizeof wpath, "/v2/coffer/agents/work/%s", jstr(w, "id"));
    json_decref(w);
    CHECK(as_agent(cred, fmt("%s/parent", wpath), fmt("{\"id\":\"%s\"}", snap1), &r) == 200);
    if (jstr(r.json, "doc.tree")) snprintf(cur, sizeof cur, "%s", jstr(r.json, "doc.tree"));
    http_resp_release(&r);
    /* down from the root to data: every tree on the way is readable */
    {
        char path[700], *save = NULL;
        snprintf(path, sizeof path, "%s", data_dir);
        for (char *c = strtok_r(path, "/", &save); c && cur[0]; c = strtok_r(NULL, "/", &save)) {
            tree_free(t);
            t = read_tree(cred, wpath, cur, &st);
            CHECKF(t != NULL, "tree %s on the way to %s: HTTP %ld", cur, data_dir, st);
            subtree_hex(t, c, cur);
        }
    }
    CHECK(cur[0]);
    tree_free(t);
    t = read_tree(cred, wpath, cur, &st); /* data's own tree: on the way to data/sub */
    CHECKF(t != NULL, "HTTP %ld", st);
    subtree_hex(t, "sub", sub);
    subtree_hex(t, "other", other);
    chunk_hex(t, "a.bin", a_blob);
    CHECK(sub[0] && other[0] && a_blob[0]);
    /* inside: data/sub and c.bin's data */
    ts = read_tree(cred, wpath, sub, &st);
    CHECKF(ts != NULL, "HTTP %ld", st);
    chunk_hex(ts, "c.bin", c_blob);
    CHECK(c_blob[0]);
    CHECK(read_blob(cred, wpath, c_blob, &data, &len, &type) == 200 && type == 0 && len > 0);
    free(data);
    /* outside: the sibling directory's tree, a sibling file's data (alone or among allowed ids) */
    CHECK(read_blob(cred, wpath, other, &data, &len, &type) == 403);
    free(data);
    CHECK(read_blob(cred, wpath, a_blob, &data, &len, &type) == 403);
    free(data);
    CHECK(as_agent(cred, fmt("%s/read", wpath), fmt("{\"ids\":[\"%s\",\"%s\"]}", c_blob, other), &r) == 403);
    CHECKF(r.body && strstr(r.body, other) && strstr(r.body, "restored paths"), "%s", r.body ? r.body : "");
    http_resp_release(&r);
    CHECK(as_agent(cred, fmt("%s/done", wpath), "{\"error\":\"scope checked\"}", &r) == 204);
    http_resp_release(&r);
    j = fx_wait_recovery(&d, T, id, 60);
    CHECK(j && strcmp(jstr(j, "status"), "Failed") == 0);
    json_decref(j);
    tree_free(t);
    tree_free(ts);
    free(cred);
    agent_b = start_b();
}

TEST(kill_mid_restore)
{
    json_t *j = NULL;
    char id[96], out[700];
    CHECK(snap1[0]);
    agentrun_stop(&agent_a);
    agent_a = start_a("1"); /* 1 MiB/s: the restore of 10 MiB takes about 10 s */
    CHECK(connected_n(2));
    snprintf(out, sizeof out, "%s/host-a/out-k", tmp);
    CHECK(restore_post(snap1, 0, out, id, sizeof id, NULL) == 201);
    CHECK(fx_wait_status(&d, T, id, "Running", 30));
    usleep(2500 * 1000);
    kill(agent_a, SIGKILL);
    waitpid(agent_a, NULL, 0);
    agent_a = -1;
    j = fx_wait_recovery(&d, T, id, 60);
    CHECKF(j && strcmp(jstr(j, "status"), "Failed") == 0 &&
           has_message(json_object_get(j, "messages"), "stopped answering"), "%s",
           dump(j));
    json_decref(j);
    agent_a = start_a(NULL);
    CHECK(connected_n(2));
    CHECK(restore_post(snap1, 0, out, id, sizeof id, NULL) == 201);
    j = fx_wait_recovery(&d, T, id, 120);
    CHECKF(j && strcmp(jstr(j, "status"), "Succeeded") == 0, "%s", dump(j));
    json_decref(j);
    CHECK(same_tree(fmt("%s/data", out)));
}

/* ---- an agent in a network namespace ---- */

/* The namespace reaches cofferd (which listens on 127.0.0.1 only) through a veth pair and a relay
 * in this process: it listens on the pair's host-side address and copies each connection to and from
 * cofferd's loopback port. Bounded: at most RELAY_MAX connections, each copy loop ends when a side
 * closes or g_relay_stop is set (polled every 200 ms). */

#define RELAY_MAX 256
static int g_relay_fd = -1;
static volatile int g_relay_stop;
static pthread_t g_relay_thread;
static int g_relay_port;

static void *relay_pipe(void *arg)
{
    int a = (int)(intptr_t)arg, b = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)d.port) };
    char buf[65536];
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (b >= 0 && connect(b, (struct sockaddr *)&sa, sizeof sa) == 0) {
        while (!g_relay_stop) {
            struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
            int r = poll(p, 2, 200), done = 0;
            if (r < 0) break;
            for (int k = 0; k < 2 && !done; k++) {
                if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                ssize_t n = read(p[k].fd, buf, sizeof buf);
                if (n <= 0) done = 1;
                for (ssize_t off = 0; !done && off < n;) {
                    ssize_t w = write(p[1 - k].fd, buf + off, (size_t)(n - off));
                    if (w <= 0) done = 1;
                    else off += w;
                }
            }
            if (done) break;
        }
    }
    if (b >= 0) close(b);
    close(a);
    return NULL;
}

static void *relay_main(void *arg)
{
    pthread_t th[RELAY_MAX];
    int n = 0;
    (void)arg;
    while (!g_relay_stop && n < RELAY_MAX) {
        struct pollfd p = { g_relay_fd, POLLIN, 0 };
        int c;
        if (poll(&p, 1, 200) <= 0) continue;
        if ((c = accept(g_relay_fd, NULL, NULL)) < 0) continue;
        if (pthread_create(&th[n], NULL, relay_pipe, (void *)(intptr_t)c) == 0) n++;
        else close(c);
    }
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    return NULL;
}

static int relay_start(const char *addr)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof sa;
    if ((g_relay_fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) return -1;
    inet_pton(AF_INET, addr, &sa.sin_addr);
    if (bind(g_relay_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(g_relay_fd, 16) != 0 ||
        getsockname(g_relay_fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    g_relay_port = ntohs(sa.sin_port);
    return pthread_create(&g_relay_thread, NULL, relay_main, NULL) == 0 ? 0 : -1;
}

static void relay_stop(void)
{
    if (g_relay_fd < 0) return;
    g_relay_stop = 1;
    pthread_join(g_relay_thread, NULL);
    close(g_relay_fd);
    g_relay_fd = -1;
}

static char veth_host[16], veth_ns[16], addr_host[32], addr_ns[32], ns_made[32];

static int sh(const char *cmd)
{
    int rc = system(fmt("%s >/dev/null 2>&1", cmd));
    if (rc != 0) fprintf(stderr, "setup command failed (%d): %s\n", rc, cmd);
    return rc;
}

static void netns_remove(void)
{
    if (!ns_made[0]) return;
    sh(fmt("ip netns del %s", ns_made)); /* the veth pair goes with it */
    sh(fmt("ip link del %s", veth_host)); /* when the namespace was not made */
    ns_made[0] = '\0';
}

TEST(agent_in_netns)
{
    char state_c[600], out[700], *log, cid[32];
    json_t *j = NULL;
    long long host_c;
    unsigned k = (unsigned)getpid() % 200 + 20;
    struct http_resp r;
    if (geteuid() != 0 || system("ip netns list >/dev/null 2>&1") != 0) {
        printf("    SKIP agent_in_netns: needs root and ip netns (the other agents use loopback addresses)\n");
        return;
    }
    CHECK(snap1[0]);
    snprintf(ns_made, sizeof ns_made, "coffer-ar-%u", (unsigned)getpid());
    snprintf(veth_host, sizeof veth_host, "car%uh", (unsigned)getpid() % 100000);
    snprintf(veth_ns, sizeof veth_ns, "car%un", (unsigned)getpid() % 100000);
    snprintf(addr_host, sizeof addr_host, "10.231.%u.1", k);
    snprintf(addr_ns, sizeof addr_ns, "10.231.%u.2", k);
    CHECK(sh(fmt("ip netns add %s", ns_made)) == 0);
    CHECK(sh(fmt("ip link add %s type veth peer name %s", veth_host, veth_ns)) == 0);
    CHECK(sh(fmt("ip link set %s netns %s", veth_ns, ns_made)) == 0);
    CHECK(sh(fmt("ip addr add %s/30 dev %s && ip link set %s up", addr_host, veth_host, veth_host)) == 0);
    CHECK(sh(fmt("ip netns exec %s sh -c 'ip addr add %s/30 dev %s && ip link set %s up && ip link set lo up'", ns_made,
                 addr_ns, veth_ns, veth_ns)) == 0);
    CHECK(relay_start(addr_host) == 0);
    snprintf(ns_name, sizeof ns_name, "%s", ns_made);
    snprintf(state_c, sizeof state_c, "%s/state-c", tmp);
    /* registered and running inside the namespace: its only route to cofferd is the veth pair */
    CHECK(enroll_at(fmt("http://%s:%d", addr_host, g_relay_port), state_c, "agent-c.test") == 0);
    agent_c = agentrun_spawn(ns_name, tmp, "run", "--state-dir", state_c, "--hostname", "agent-c.test", NULL);
    ns_name[0] = '\0';
    {
        char *c = state_field(state_c, "connector_id");
        snprintf(cid, sizeof cid, "%s", c ? c : "");
        free(c);
    }
    CHECK(cid[0]);
    CHECK(connected_n(3)); /* A, B and C */
    {   /* it reports the namespace's address (discovered from its interfaces) */
        int seen = 0;
        for (int i = 0; i < 300 && !seen; i++) {
            CHECK(http(&d, "GET", fmt("/v2/data-source-connectors?connectorIds=%s", cid), T, NULL, &r) == 0);
            for (size_t c = 0; c < json_array_size(jget(r.json, "connectors")); c++) {
                json_t *x = json_array_get(jget(r.json, "connectors"), c);
                if (jstr(x, "connectorId") && strcmp(jstr(x, "connectorId"), cid) == 0 && jstr(x, "tenantSideIp") &&
                    strcmp(jstr(x, "tenantSideIp"), addr_ns) == 0)
                    seen = 1;
            }
            http_resp_release(&r);
            if (!seen) usleep(100 * 1000);
        }
        CHECKF(seen, "connector %s never reported %s", cid, addr_ns);
    }
    CHECK((host_c = register_host("agent-c.test")) > 0);
    snprintf(out, sizeof out, "%s/host-c/out", tmp);
    {
        char id[96];
        CHECK(restore_post(snap1, host_c, out, id, sizeof id, NULL) == 201);
        j = fx_wait_recovery(&d, T, id, 120);
    }
    CHECKF(j && strcmp(jstr(j, "status"), "Succeeded") == 0, "%s", dump(j));
    json_decref(j);
    CHECK(same_tree(fmt("%s/data", out)));
    log = agent_log(state_c);
    CHECKF(strstr(log, "restore ") && strstr(log, "bytes written"), "%s", log);
    free(log);
    agentrun_stop(&agent_c);
}

TEST(deleted_connector)
{
    char *cid, id[96];
    json_t *e = NULL;
    CHECK(host_b > 0);
    cid = state_field(state_b, "connector_id");
    CHECK(cid != NULL);
    CHECK(expect(&d, "DELETE", fmt("/v2/data-source-connectors/%s", cid), T, NULL, 204, NULL));
    CHECK(wait_exit(agent_b, 30) == 3);
    agent_b = -1;
    CHECK(restore_post(snap1, host_b, fmt("%s/host-b/out3", tmp), id, sizeof id, &e) == 400);
    CHECKF(jstr(e, "message") && strstr(jstr(e, "message"), "recoverTarget.id") &&
           strstr(jstr(e, "message"), "coffer-agent"), "%s", jstr(e, "message") ? jstr(e, "message") : "");
    json_decref(e);
    free(cid);
}

int main(void)
{
    tmp = check_tmpdir("e2e-agent-restore");
    if (daemon_start(&d, env) != 0) return 1;
    RUN(to_original_host);
    RUN(to_second_host);
    RUN(many_small_files);
    RUN(forbidden_reads);
    RUN(scoped_reads);
    RUN(kill_mid_restore);
    RUN(agent_in_netns);
    agentrun_stop(&agent_c);
    ns_name[0] = '\0';
    relay_stop();
    netns_remove();
    RUN(deleted_connector);
    agentrun_stop(&agent_a);
    agentrun_stop(&agent_b);
    daemon_stop(&d);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
