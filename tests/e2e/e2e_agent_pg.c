/* e2e_agent_pg.c: PostgreSQL on a coffer-agent's host (agentd/pg.c discovery, engine/remote.h
 * mover_remote_pg and eng_remote_pg_restore), against the real daemon, a real agent process (its own
 * state directory, host name agent-pg.test) and a real PostgreSQL 15 started here as that host's
 * server: its own data directory and port (55480), told to the agent with --pg.
 *   discovery            a kSQL registration of agent-pg.test (pgPort 55480) is Finished with the
 *                        instance "agent-pg.test:55480" (its data directory the server's), the
 *                        database shop and its table public.items, all from the agent's heartbeat
 *   bad_report           a heartbeat whose pg_instances[0].port is 0 is a 400 naming the field, and
 *                        the instance stays as it was
 *   backup_and_restore   kFull and, after changing rows, kRegular of a kSQL group over the instance,
 *                        both done by the agent (its log names them; the incremental reuses files);
 *                        rows changed again; a RecoverApps of the kRegular snapshot as a new instance
 *                        (recoverToNewSource, host.id the registration, port 55481) is carried out by
 *                        the agent: the new server runs and its table's count:md5 is the one at the
 *                        kRegular backup, not the source's current one; a kLog run fails saying WAL
 *                        through agents is not built; a database restore onto the agent's instance
 *                        is a 400 naming sqlTargetParams, nothing queued
 *   scoped_credential    with the agent's credential: the snapshots, runs, recoveries and site API
 *                        routes are 403; a restore work taken by hand reads its snapshot's document,
 *                        not the other snapshot's (404), a blob outside it is 403, staging or
 *                        committing on it is refused; a base backup work taken by hand stages its
 *                        first run once (readable under the id answered, a second stage 409), and
 *                        its error fails the run */
#include "api/api.h"
#include "e2e/agentrun.h"
#include "e2e/e2e_recover_fixture.h"
#include "e2e/pgtest.h"
#include <signal.h>
#include <sys/wait.h>

#define T "t-apg"
#define PG_PORT 55480
#define PG_PORT_NEW 55481

static struct daemon d;
static struct pgtest pg;
static char *tmp;
static char state_a[600], policy[128], gid[128], snap_full[80], snap_inc[80], sum_inc[128];
static long long src_id, inst_id, db_id;
static const char *env[] = { "COFFER_AGENT_HEARTBEAT_SECS=1", "COFFER_AGENT_LEASE_SECS=6", "COFFER_AGENT_TAKE_SECS=30",
                             NULL };
static pid_t agent_a = -1;

static pid_t start_a(void)
{
    return agentrun_spawn(NULL, tmp, "run", "--state-dir", state_a, "--hostname", "agent-pg.test", "--pg", pg.data, NULL);
}

static char *agent_log(void)
{
    char *t = NULL;
    size_t n;
    read_all(fmt("%s/agent.log", state_a), &t, &n);
    if (!t) t = calloc(1, 1);
    else t[n] = '\0';
    return t;
}

static char *state_field(const char *key)
{
    json_t *s = json_load_file(fmt("%s/state.json", state_a), 0, NULL);
    char *v = json_string_value(json_object_get(s, key)) ? strdup(json_string_value(json_object_get(s, key))) : NULL;
    json_decref(s);
    return v;
}

static const char *dump(const json_t *j)
{
    static char b[8192];
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    snprintf(b, sizeof b, "%s", t ? t : "null");
    free(t);
    return b;
}

static int enroll(const char *state, const char *hostname)
{
    char tok[128];
    if (agentrun_token(&d, T, fmt("c-%s", hostname), tok, sizeof tok) != 0) return -1;
    return agentrun_wait(agentrun_spawn(NULL, tmp, "register", "--server", d.base, "--token", tok, "--state-dir", state, "--hostname",
                               hostname, NULL), 60) == 0 ? 0 : -1;
}

/* find: the first object (depth first) of type named name (NULL: any) in j. */
static json_t *find(json_t *j, const char *type, const char *name)
{
    if (json_is_object(j)) {
        const char *t = json_string_value(json_object_get(j, "objectType"));
        const char *n = json_string_value(json_object_get(j, "name"));
        const char *k;
        json_t *v;
        if (t && strcmp(t, type) == 0 && (!name || (n && strcmp(n, name) == 0)) && json_object_get(j, "id")) return j;
        json_object_foreach(j, k, v) {
            json_t *f = find(v, type, name);
            if (f) return f;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            json_t *f = find(v, type, name);
            if (f) return f;
        }
    }
    return NULL;
}

/* sum: count:md5 of shop's items on the server at port/sock. */
static int sum_at(const char *sock, int port, char *out, size_t n)
{
    char ci[800];
    PGconn *c;
    int rc;
    snprintf(ci, sizeof ci, "host=%s port=%d user=postgres dbname=shop connect_timeout=10", sock, port);
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect %s: %s", ci, PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    rc = pgtest_value(c, "SELECT count(*) || ':' || md5(string_agg(id || ',' || v, ';' ORDER BY id)) FROM items", out, n);
    PQfinish(c);
    return rc;
}

static int exec_shop(const char *sql)
{
    char why[512];
    PGconn *c = pgtest_connect(&pg, "shop");
    int rc = c ? pgtest_exec(c, sql, why, sizeof why) : -1;
    if (rc) fprintf(stderr, "%s: %s\n", sql, why);
    PQfinish(c);
    return rc;
}

static int finished(const char *s)
{
    return s && strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0 && strcmp(s, "Canceling") != 0;
}

/* run: a run of the group to its end: its status into st, its first object's snapshot into snap. */
static int run(const char *type, char *snap, size_t n, char *st, size_t stn, char *msg, size_t msgn)
{
    struct http_resp r;
    char id[80];
    snap[0] = st[0] = '\0';
    if (msg) msg[0] = '\0';
    if (call(&d, "POST", fmt(FX_GRP "/%s/runs", gid), T, fmt("{'runType':'%s'}", type), &r) != 202) {
        fprintf(stderr, "run %s: %ld %s\n", type, r.status, r.body ? r.body : "");
        http_resp_release(&r);
        return -1;
    }
    snprintf(id, sizeof id, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    for (int i = 0; i < 1200; i++) {
        if (call(&d, "GET", fmt(FX_GRP "/%s/runs/%s?includeObjectDetails=true", gid, id), T, NULL, &r) == 200 &&
            finished(jstr(r.json, "localBackupInfo.status"))) {
            const char *s = jstr(r.json, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId");
            snprintf(snap, n, "%s", s ? s : "");
            snprintf(st, stn, "%s", jstr(r.json, "localBackupInfo.status"));
            if (msg) snprintf(msg, msgn, "%s", r.body ? r.body : "");
            if (strcmp(st, "Succeeded") != 0) fprintf(stderr, "run %s: %s\n", type, r.body);
            http_resp_release(&r);
            return 0;
        }
        http_resp_release(&r);
        usleep(100 * 1000);
    }
    return -1;
}

/* new_instance_recovery: a fresh PostgreSQL root dst (dst_name) and a recovery NAME of snap_inc into a
 * new instance there, on the agent's host (recoverToNewSource, port PG_PORT_NEW); its id into id. */
static void new_instance_recovery(const char *name, const char *dst_name, struct pgtest *dst, char *id, size_t idlen)
{
    char why[512];
    json_t *j = NULL;
    CHECK(pgtest_root(dst, dst_name, "newinst", PG_PORT_NEW, why, sizeof why) == 0);
    CHECK(post_json(&d, FX_REC, T, fmt("{'name':'%s','snapshotEnvironment':'kSQL','mssqlParams':{'recoveryAction':"
                                       "'RecoverApps','recoverAppParams':[{'snapshotId':'%s','targetEnvironment':'kSQL',"
                                       "'sqlTargetParams':{'recoverToNewSource':true,'newSourceConfig':{'host':{'id':%lld},"
                                       "'instanceName':'port:%d','dataFileDirectoryLocation':'%s'}}}]}}",
                                       name, snap_inc, src_id, PG_PORT_NEW, dst->data), 201, &j) == 201);
    snprintf(id, idlen, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
}

TEST(discovery)
{
    json_t *j = NULL, *inst = NULL;
    struct http_resp r;
    CHECK(enroll(state_a, "agent-pg.test") == 0);
    agent_a = start_a();
    CHECK(agent_a > 0);
    CHECK(post_json(&d, FX_SRC, T, fmt("{'environment':'kSQL','name':'apg','physicalParams':{'endpoint':'agent-pg.test'},"
                                       "'advancedConfigs':[{'key':'pgPort','value':'%d'}]}", PG_PORT), 201, &j) == 201);
    src_id = jint(j, "id");
    json_decref(j);
    CHECK(src_id > 0);
    /* the agent's heartbeats (every second) bring the instance; the registration is then Finished */
    for (int i = 0; i < 300 && !inst; i++) {
        if (call(&d, "GET", fmt(FX_SRC "/%lld", src_id), T, NULL, &r) == 200 && find(r.json, "kTable", "public.items")) {
            inst = json_incref(r.json);
        }
        http_resp_release(&r);
        if (!inst) usleep(100 * 1000);
    }
    CHECKF(inst != NULL, "no table public.items under registration %lld", src_id);
    if (!inst) return;
    json_t *io = find(inst, "kInstance", fmt("agent-pg.test:%d", PG_PORT));
    CHECKF(io != NULL, "%s", dump(inst));
    inst_id = io ? jint(io, "id") : 0;
    json_t *dbo = find(inst, "kDatabase", "shop");
    CHECK(dbo != NULL);
    db_id = dbo ? jint(dbo, "id") : 0;
    CHECKF(jstr(inst, "authenticationStatus") && strcmp(jstr(inst, "authenticationStatus"), "Finished") == 0, "%s",
           dump(inst));
    json_decref(inst);
    /* the instance's data directory, as the agent found it, in the v1 tree */
    CHECK(call(&d, "GET", "/irisservices/api/v1/public/protectionSources?environments=kSQL", T, NULL, &r) == 200);
    CHECKF(r.body && strstr(r.body, pg.data), "%s", r.body ? r.body : "");
    http_resp_release(&r);
}

static long as_agent(const char *cred, const char *path, const char *body, struct http_resp *r)
{
    char auth[300];
    const char *h[] = { "Content-Type: application/json", NULL };
    snprintf(auth, sizeof auth, "Bearer %s", cred);
    if (http_raw(&d, body ? "POST" : "GET", path, auth, h, body, body ? strlen(body) : 0, r) != 0) return -1;
    return r->status;
}

TEST(bad_report)
{
    char *cred = state_field("credential");
    struct http_resp r;
    CHECK(cred && inst_id > 0);
    if (!cred) return;
    CHECK(as_agent(cred, "/v2/coffer/agents/heartbeat",
                   fmt("{'version':'0.0.1','pg_instances':[{'port':0,'socket_dir':'%s'}]}", pg.sock), &r) == 400);
    CHECKF(r.body && strstr(r.body, "pg_instances[0].port"), "%s", r.body ? r.body : "");
    http_resp_release(&r);
    CHECK(as_agent(cred, "/v2/coffer/agents/heartbeat",
                   "{\"version\":\"0.0.1\",\"pg_instances\":[{\"port\":5432,\"socket_dir\":\"relative\"}]}", &r) == 400);
    CHECKF(r.body && strstr(r.body, "pg_instances[0].socket_dir"), "%s", r.body ? r.body : "");
    http_resp_release(&r);
    /* nothing changed: the instance is still there, not vanished */
    CHECK(call(&d, "GET", fmt(FX_SRC "/%lld", src_id), T, NULL, &r) == 200);
    json_t *io = find(r.json, "kInstance", NULL);
    CHECKF(io && jint(io, "id") == inst_id, "%s", r.body);
    http_resp_release(&r);
    free(cred);
}

TEST(backup_and_restore)
{
    char st[32], msg[16384], snap_log[80], sum_now[128], got[128], id[96], *log;
    json_t *j = NULL;
    struct pgtest dst;
    struct http_resp r;
    CHECK(inst_id > 0);
    if (inst_id <= 0) return;
    CHECK(post_json(&d, FX_POL, T, fmt("{'name':'pgdaily','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':"
                    "'Days','daySchedule':{'frequency':1}}},'retention':{'unit':'Days','duration':7}}}}"), 201, &j) == 201);
    snprintf(policy, sizeof policy, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    CHECK(post_json(&d, FX_GRP, T, fmt("{'name':'apg','policyId':'%s','environment':'kSQL','mssqlParams':{"
                                       "'protectionType':'kNative','nativeProtectionTypeParams':{'objects':[{'id':%lld}]}}}",
                                       policy, inst_id), 201, &j) == 201);
    snprintf(gid, sizeof gid, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    CHECK(run("kFull", snap_full, sizeof snap_full, st, sizeof st, NULL, 0) == 0);
    CHECKF(strcmp(st, "Succeeded") == 0 && snap_full[0], "kFull %s", st);
    CHECK(exec_shop("UPDATE items SET v = v || 'x' WHERE id % 7 = 0; INSERT INTO items SELECT g, 'new' || g FROM "
                    "generate_series(5001, 5200) g") == 0);
    CHECK(sum_at(pg.sock, PG_PORT, sum_inc, sizeof sum_inc) == 0);
    CHECK(run("kRegular", snap_inc, sizeof snap_inc, st, sizeof st, NULL, 0) == 0);
    CHECKF(strcmp(st, "Succeeded") == 0 && snap_inc[0] && strcmp(snap_inc, snap_full) != 0, "kRegular %s", st);
    log = agent_log();
    CHECKF(strstr(log, "PostgreSQL base backup") && strstr(log, snap_full) && strstr(log, snap_inc), "%s", log);
    free(log);
    /* the source changes again: the restore must bring the kRegular state, not this one */
    CHECK(exec_shop("DELETE FROM items WHERE id > 4000; UPDATE items SET v = 'changed' WHERE id < 100") == 0);
    CHECK(sum_at(pg.sock, PG_PORT, sum_now, sizeof sum_now) == 0);
    CHECK(strcmp(sum_now, sum_inc) != 0);

    new_instance_recovery("apg-new", "apgnew", &dst, id, sizeof id);
    j = fx_wait_recovery(&d, T, id, 180);
    CHECKF(j && strcmp(jstr(j, "status"), "Succeeded") == 0 && strstr(dump(j), "coffer-agent's host"), "%s", dump(j));
    json_decref(j);
    dst.running = 1; /* the agent started it: pgtest_destroy stops it */
    CHECK(sum_at(dst.data, PG_PORT_NEW, got, sizeof got) == 0);
    CHECKF(strcmp(got, sum_inc) == 0, "restored %s, backed up %s (source now %s)", got, sum_inc, sum_now);
    pgtest_destroy(&dst);
    log = agent_log();
    CHECKF(strstr(log, "PostgreSQL restore") && strstr(log, "running on port"), "%s", log);
    free(log);

    /* a log run: not built through agents, and it says so */
    CHECK(run("kLog", snap_log, sizeof snap_log, st, sizeof st, msg, sizeof msg) == 0);
    CHECKF(strcmp(st, "Failed") == 0 && strstr(msg, "not built"), "%s %s", st, msg);
    /* a database restored onto the agent's instance: refused before anything is queued */
    CHECK(call(&d, "GET", FX_REC "?snapshotEnvironments=kSQL", T, NULL, &r) == 200);
    size_t before = json_array_size(jget(r.json, "recoveries"));
    http_resp_release(&r);
    CHECK(call(&d, "POST", FX_REC, T,
               fmt("{'name':'apg-db','snapshotEnvironment':'kSQL','mssqlParams':{'recoveryAction':'RecoverApps',"
                   "'recoverAppParams':[{'snapshotId':'%s','objectInfo':{'id':%lld},'targetEnvironment':'kSQL',"
                   "'sqlTargetParams':{'recoverToNewSource':false,'originalSourceConfig':{'newDatabaseName':'shop2'}}}]}}",
                   snap_inc, db_id), &r) == 400);
    CHECKF(r.body && strstr(r.body, "sqlTargetParams") && strstr(r.body, "coffer-agent"), "%s", r.body ? r.body : "");
    http_resp_release(&r);
    CHECK(call(&d, "GET", FX_REC "?snapshotEnvironments=kSQL", T, NULL, &r) == 200);
    CHECK(json_array_size(jget(r.json, "recoveries")) == before);
    http_resp_release(&r);
}

TEST(scoped_credential)
{
    char *cred = state_field("credential"), id[96], wpath[200], root[80] = "", bad[65];
    json_t *w = NULL, *j = NULL;
    struct http_resp r;
    struct pgtest dst;
    CHECK(cred && snap_inc[0] && snap_full[0]);
    if (!cred || !snap_inc[0]) {
        free(cred);
        return;
    }
    /* the data-protect and site routes are not the agent's */
    CHECK(as_agent(cred, fmt("/v2/data-protect/objects/%lld/snapshots", inst_id), NULL, &r) == 403);
    http_resp_release(&r);
    CHECK(as_agent(cred, fmt(FX_GRP "/%s/runs", gid), NULL, &r) == 403);
    http_resp_release(&r);
    CHECK(as_agent(cred, FX_REC, NULL, &r) == 403);
    http_resp_release(&r);
    CHECK(as_agent(cred, fmt("/data-protection/v2/sites/%lld/jobs", inst_id), NULL, &r) == 403);
    http_resp_release(&r);
    /* a restore work taken by hand (the agent stopped) */
    agentrun_stop(&agent_a);
    new_instance_recovery("apg-new2", "apgnew2", &dst, id, sizeof id);
    for (int i = 0; i < 100 && !w; i++) {
        if (as_agent(cred, "/v2/coffer/agents/heartbeat", "{\"version\":\"0.0.1\"}", &r) == 200 &&
            json_array_size(jget(r.json, "work")) > 0)
            w = json_incref(json_array_get(jget(r.json, "work"), 0));
        http_resp_release(&r);
        if (!w) usleep(100 * 1000);
    }
    CHECKF(w && strcmp(jstr(w, "kind"), "pg_restore") == 0 && strcmp(jstr(w, "pg_restore.snapshot"), snap_inc) == 0 &&
           jint(w, "pg_restore.port") == PG_PORT_NEW && jstr(w, "keys.id_key") == NULL, "%s", dump(w));
    if (w) {
        snprintf(wpath, sizeof wpath, "/v2/coffer/agents/work/%s", jstr(w, "id"));
        json_decref(w);
        CHECK(as_agent(cred, fmt("%s/parent", wpath), fmt("{'id':'%s'}", snap_inc), &r) == 200);
        if (jstr(r.json, "doc.tree")) snprintf(root, sizeof root, "%s", jstr(r.json, "doc.tree"));
        CHECK(jstr(r.json, "doc.pg.data_directory") && strcmp(jstr(r.json, "doc.pg.data_directory"), pg.data) == 0);
        http_resp_release(&r);
        CHECK(strlen(root) == 64);
        CHECK(as_agent(cred, fmt("%s/read", wpath), fmt("{'ids':['%s']}", root), &r) == 200);
        http_resp_release(&r);
        /* the other snapshot of the same host is not this work's: 404; a blob outside it: 403 */
        CHECK(as_agent(cred, fmt("%s/parent", wpath), fmt("{'id':'%s'}", snap_full), &r) == 404);
        http_resp_release(&r);
        memset(bad, 'b', 64);
        bad[64] = '\0';
        CHECK(as_agent(cred, fmt("%s/read", wpath), fmt("{'ids':['%s','%s']}", root, bad), &r) == 403);
        http_resp_release(&r);
        /* a restore stages and commits nothing */
        CHECK(as_agent(cred, fmt("%s/stage", wpath), fmt("{'doc':{'tree':'%s'}}", root), &r) == 400);
        CHECKF(r.body && strstr(r.body, "stages nothing"), "%s", r.body ? r.body : "");
        http_resp_release(&r);
        CHECK(as_agent(cred, fmt("%s/snapshot", wpath), fmt("{'doc':{'tree':'%s'}}", root), &r) == 400);
        http_resp_release(&r);
        CHECK(as_agent(cred, fmt("%s/done", wpath), "{\"error\":\"refused by the test\"}", &r) == 204);
        http_resp_release(&r);
        j = fx_wait_recovery(&d, T, id, 60);
        CHECKF(j && strcmp(jstr(j, "status"), "Failed") == 0 && strstr(dump(j), "refused by the test"), "%s", dump(j));
        json_decref(j);
    }
    pgtest_destroy(&dst);
    /* a base backup work taken by hand: its first run is staged once (the document then readable
     * under the id answered, its trees too), a second stage is 409, its error fails the run */
    CHECK(strlen(root) == 64);
    CHECK(call(&d, "POST", fmt(FX_GRP "/%s/runs", gid), T, "{\"runType\":\"kRegular\"}", &r) == 202);
    char run_id[80];
    snprintf(run_id, sizeof run_id, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    w = NULL;
    for (int i = 0; i < 100 && !w; i++) {
        if (as_agent(cred, "/v2/coffer/agents/heartbeat", "{\"version\":\"0.0.1\"}", &r) == 200 &&
            json_array_size(jget(r.json, "work")) > 0)
            w = json_incref(json_array_get(jget(r.json, "work"), 0));
        http_resp_release(&r);
        if (!w) usleep(100 * 1000);
    }
    CHECKF(w && strcmp(jstr(w, "kind"), "pg_backup") == 0 && jstr(w, "pg.conninfo") &&
           strcmp(jstr(w, "parent") ? jstr(w, "parent") : "", snap_inc) == 0 && strlen(jstr(w, "keys.id_key")) == 64,
           "%s", dump(w));
    if (w && strlen(root) == 64) {
        char sid[80] = "";
        snprintf(wpath, sizeof wpath, "/v2/coffer/agents/work/%s", jstr(w, "id"));
        CHECK(as_agent(cred, fmt("%s/stage", wpath), fmt("{'doc':{'tree':'%s','mark':'run1'}}", root), &r) == 201);
        if (jstr(r.json, "snapshot_id")) snprintf(sid, sizeof sid, "%s", jstr(r.json, "snapshot_id"));
        http_resp_release(&r);
        CHECK(strlen(sid) == 64 && strcmp(sid, snap_inc) != 0);
        CHECK(as_agent(cred, fmt("%s/parent", wpath), fmt("{'id':'%s'}", sid), &r) == 200);
        CHECK(jstr(r.json, "doc.mark") && strcmp(jstr(r.json, "doc.mark"), "run1") == 0);
        http_resp_release(&r);
        CHECK(as_agent(cred, fmt("%s/tree", wpath), fmt("{'id':'%s'}", root), &r) == 200);
        http_resp_release(&r);
        CHECK(as_agent(cred, fmt("%s/stage", wpath), fmt("{'doc':{'tree':'%s'}}", root), &r) == 409);
        http_resp_release(&r);
        CHECK(as_agent(cred, fmt("%s/done", wpath), "{\"error\":\"pg refused by the test\"}", &r) == 204);
        http_resp_release(&r);
        for (int i = 0; i < 300; i++) {
            int fin = call(&d, "GET", fmt(FX_GRP "/%s/runs/%s", gid, run_id), T, NULL, &r) == 200 &&
                      finished(jstr(r.json, "localBackupInfo.status"));
            if (fin) {
                CHECKF(strcmp(jstr(r.json, "localBackupInfo.status"), "Failed") == 0 && strstr(r.body, "pg refused by the test"),
                       "%s", r.body);
                http_resp_release(&r);
                break;
            }
            http_resp_release(&r);
            usleep(100 * 1000);
        }
    }
    json_decref(w);
    free(cred);
}

int main(void)
{
    static const char *const names[] = { "discovery", "bad_report", "backup_and_restore", "scoped_credential" };
    char why[512];
    tmp = check_tmpdir("e2e-agent-pg");
    snprintf(state_a, sizeof state_a, "%s/state-a", tmp);
    if (pgtest_serve_or_skip(&pg, "agentpg", PG_PORT, names, sizeof names / sizeof *names) != 0) {
        check_rm_rf(tmp);
        free(tmp);
        return check_finish();
    }
    {
        PGconn *c = pgtest_connect(&pg, "postgres");
        int rc = c ? pgtest_exec(c, "CREATE DATABASE shop", why, sizeof why) : -1;
        PQfinish(c);
        if (rc == 0) rc = exec_shop("CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, "
                                    "md5(g::text) FROM generate_series(1, 5000) g");
        if (rc != 0) {
            fprintf(stderr, "setup: %s\n", why);
            pgtest_destroy(&pg);
            return 1;
        }
    }
    if (daemon_start(&d, env) != 0) {
        pgtest_destroy(&pg);
        return 1;
    }
    RUN(discovery);
    RUN(bad_report);
    RUN(backup_and_restore);
    RUN(scoped_credential);
    agentrun_stop(&agent_a);
    daemon_stop(&d);
    pgtest_destroy(&pg);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
