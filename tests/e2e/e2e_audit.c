/* e2e_audit.c: the audit log through the real daemon (GET /v2/coffer/audit, DIR/audit.log, the CLI).
 *
 * Daemon A (test clock, a data-security key, no scheduled prune):
 *   - each mutating call of a representative set (policy create/update/delete, group create, run
 *     create, recovery create, download create, prune, PUT runs: legal hold and an Administrative data
 *     lock, the data-security key's PUT) has exactly one entry with its method, route pattern,
 *     resource id, status, key id, roles, tenant and client address; a GET is not recorded;
 *   - refused requests are recorded: 401 (wrong key, POST and GET: no key id), 404 (DELETE of a
 *     policy that does not exist), 403 (the Administrative lock refusing the admin key's delete);
 *     the 403 of a role lacking (keys bound to roles, i15-keys) is skipped until those keys exist;
 *   - no line of audit.log (0600, one JSON object per line, one line per entry) and no API answer
 *     holds the admin key, the data-security key, the wrong key or an Authorization header;
 *   - filters (method, status, keyId, tenantId, resourceId, start/end time) and the cursor (pages of
 *     3 walk the same entries as one page, newest first); bad parameters are 400s naming them;
 *   - `coffer audit --json` and the table; SIGHUP is recorded (actor "signal").
 * Daemon B (test clock, a prune after every retention pass, 30 days of retention):
 *   - a scheduled prune is recorded (actor "scheduler", method PRUNE);
 *   - the retention sweep: an entry 31 days old is removed, one 11 days old is kept;
 *   - SIGKILL right after a 201 keeps its entry;
 *   - with the daemon stopped, UPDATE and DELETE of audit rows are refused by the catalog itself. */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/clirun.h"
#include "e2e/pgtest.h"
#include "e2e/e2e_recover_fixture.h"
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T "tenant-audit"
#define DS_KEY "e2e-audit-data-security-key-4242"
#define WRONG_KEY "wrong-secret-key-5555-abcdef"
#define AUDIT "/v2/coffer/audit"
#define PRUNE "/v2/coffer/repository/prune"
#define DAY (86400LL * 1000000)
#define POLICY_BODY "{'name':'%s','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days'," \
                    "'daySchedule':{'frequency':1}}},'retention':{'unit':'Days','duration':%d}}}}"

static struct daemon d;
static char *tmp;
static char src[512], policy[128], policy2[128], missing[160], gid[256], run_id[64], snap[80], rec_id[128], dl_id[128];
static long long host, prune_id, t_first, t_last;
static const char *env_a[] = { "COFFER_TEST_CLOCK=1", "COFFER_PRUNE_INTERVAL_SECS=0",
                               "COFFER_DATA_SECURITY_KEY=" DS_KEY, NULL };

/* audit_get: GET /v2/coffer/audit?query as the cluster admin (no tenant header); entries (a new
 * reference) or NULL; *next the nextCursor (may be NULL). */
static json_t *audit_get(struct daemon *dm, const char *query, char *next, size_t nlen)
{
    struct http_resp r;
    json_t *e = NULL;
    if (next) next[0] = '\0';
    if (call(dm, "GET", fmt(AUDIT "?%s", query), NULL, NULL, &r) == 200 &&
        json_is_array(json_object_get(r.json, "entries"))) {
        e = json_incref(json_object_get(r.json, "entries"));
        if (next && jstr(r.json, "nextCursor")) snprintf(next, nlen, "%s", jstr(r.json, "nextCursor"));
    } else {
        fprintf(stderr, "GET audit?%s: %ld %s\n", query, r.status, r.body ? r.body : "");
    }
    http_resp_release(&r);
    return e;
}

/* dump: j as compact text in a rotating static buffer (for failure messages). */
static const char *dump(json_t *j)
{
    static char bufs[2][8192];
    static int k;
    char *b = bufs[k++ % 2], *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    snprintf(b, sizeof bufs[0], "%s", t ? t : "null");
    free(t);
    return b;
}

static int str_is(json_t *j, const char *path, const char *want)
{
    const char *s = jstr(j, path);
    return want ? s && strcmp(s, want) == 0 : jget(j, path) == NULL || json_is_null(jget(j, path));
}

/* the_entry: the one entry (a new reference) with this method, route and resource id, or NULL (and
 * why on stderr) when there are none or several. */
static json_t *the_entry(struct daemon *dm, const char *method, const char *route, const char *resource)
{
    json_t *all = audit_get(dm, fmt("pageSize=1000&resourceId=%s", resource), NULL, 0), *e, *found = NULL;
    size_t i;
    int n = 0;
    json_array_foreach(all, i, e) {
        if (str_is(e, "method", method) && str_is(e, "route", route)) {
            n++;
            found = e;
        }
    }
    if (n != 1) {
        char *text = all ? json_dumps(all, JSON_COMPACT) : NULL;
        fprintf(stderr, "%d entries %s %s resource %s among %s\n", n, method, route, resource, text ? text : "null");
        free(text);
        found = NULL;
    }
    json_incref(found);
    json_decref(all);
    return found;
}

/* admin_entry: e is the admin key's, of tenant (or ""), from 127.0.0.1, with status. */
static int admin_entry(json_t *e, const char *tenant, long status)
{
    json_t *roles = jget(e, "roles");
    int ok = e && str_is(e, "keyId", "admin") && str_is(e, "tenantId", tenant) && str_is(e, "actor", "api") &&
             str_is(e, "clientAddress", "127.0.0.1") && jint(e, "status") == status && json_array_size(roles) == 1 &&
             strcmp(json_string_value(json_array_get(roles, 0)), "Admin") == 0 && jstr(e, "requestId") &&
             jstr(e, "requestId")[0] && jint(e, "timeUsecs") > 0 && jint(e, "sequence") > 0;
    if (!ok && e) {
        char *text = json_dumps(e, JSON_COMPACT);
        fprintf(stderr, "entry: %s (want admin, tenant '%s', status %ld)\n", text, tenant, status);
        free(text);
    }
    return ok;
}

static long long clock_now(struct daemon *dm)
{
    json_t *j = NULL;
    long long now = get_json(dm, "/v2/coffer-test/clock", NULL, &j) == 200 ? jint(j, "nowUsecs") : -1;
    json_decref(j);
    return now;
}

static int set_clock(struct daemon *dm, long long now)
{
    struct http_resp r;
    long st = call(dm, "POST", "/v2/coffer-test/clock", NULL, fmt("{'nowUsecs':%lld}", now), &r);
    http_resp_release(&r);
    return st == 200 ? 0 : -1;
}

static int create_policy(struct daemon *dm, const char *name, char *id, size_t len)
{
    json_t *j = NULL;
    if (post_json(dm, FX_POL, T, fmt(POLICY_BODY, name, 7), 201, &j) != 201) return -1;
    snprintf(id, len, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    return id[0] ? 0 : -1;
}

/* put_runs: PUT .../runs of gid with one localSnapshotConfig for run_id; its status. */
static long put_runs(const char *auth, const char *config)
{
    struct http_resp r;
    const char *body = fmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':%s}]}", run_id, config);
    const char *hdr[] = { "Content-Type: application/json", "X-IBM-Tenant-Id: " T, NULL };
    long st;
    if (http_raw(&d, "PUT", fmt(FX_GRP "/%s/runs", gid), auth ? auth : "Bearer " HARNESS_KEY, hdr, body, strlen(body),
                 &r) != 0)
        return -1;
    st = r.status;
    if (st != 207) fprintf(stderr, "PUT runs %s: %ld %s\n", config, st, r.body ? r.body : "");
    http_resp_release(&r);
    return st;
}

/* runs_entries: the PUT .../runs entries of gid, newest first (a new reference). */
static json_t *runs_entries(void)
{
    json_t *all = audit_get(&d, fmt("pageSize=1000&method=PUT&resourceId=%s&route=%s", gid,
                                    "/v2/data-protect/protection-groups/%7Bid%7D/runs"), NULL, 0);
    return all;
}

TEST(mutating_calls_recorded_once_each)
{
    json_t *j = NULL, *e;
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
    e = the_entry(&d, "POST", FX_POL, policy);
    CHECK(admin_entry(e, T, 201));
    CHECK(str_is(e, "path", FX_POL));
    t_first = jint(e, "timeUsecs");
    json_decref(e);
    /* update */
    CHECK(expect(&d, "PUT", fmt(FX_POL "/%s", policy), T, fmt(POLICY_BODY, "daily", 9), 200, NULL));
    e = the_entry(&d, "PUT", "/v2/data-protect/policies/{id}", policy);
    CHECK(admin_entry(e, T, 200));
    CHECK(str_is(e, "path", fmt(FX_POL "/%s", policy)));
    json_decref(e);
    /* group, run */
    snprintf(src, sizeof src, "%s/src", tmp);
    CHECK(mkdir(src, 0700) == 0);
    CHECK(write_random(fmt("%s/a.bin", src), 100000, 0644) == 0);
    CHECK(write_random(fmt("%s/b.bin", src), 3000, 0644) == 0);
    CHECK(fx_group(&d, T, "audit-group", policy, host, src, gid, sizeof gid) == 0);
    e = the_entry(&d, "POST", FX_GRP, gid);
    CHECK(admin_entry(e, T, 201));
    json_decref(e);
    CHECK(post_json(&d, fmt(FX_GRP "/%s/runs", gid), T, "{\"runType\":\"kRegular\"}", 202, &j) == 202);
    snprintf(run_id, sizeof run_id, "%s", jstr(j, "runId") ? jstr(j, "runId") : "");
    json_decref(j);
    CHECK(run_id[0]);
    e = the_entry(&d, "POST", "/v2/data-protect/protection-groups/{id}/runs", run_id);
    CHECK(admin_entry(e, T, 202));
    json_decref(e);
    for (int i = 0; i < 1200 && !snap[0]; i++) {
        const char *st;
        if (get_json(&d, fmt(FX_GRP "/%s/runs/%s?includeObjectDetails=true", gid, run_id), T, &j) == 200 &&
            (st = jstr(j, "localBackupInfo.status")) && strcmp(st, "Accepted") != 0 && strcmp(st, "Running") != 0) {
            const char *s = jstr(j, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId");
            CHECKF(strcmp(st, "Succeeded") == 0 && s, "run ended %s", st);
            snprintf(snap, sizeof snap, "%s", s);
        }
        json_decref(j);
        if (!snap[0]) usleep(100 * 1000);
    }
    CHECK(snap[0]);
    /* recovery, download */
    CHECK(post_json(&d, FX_REC, T,
                    fmt("{'name':'audit-restore','snapshotEnvironment':'kPhysical','physicalParams':{'objects':"
                        "[{'snapshotId':'%s'}],'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':"
                        "{'filesAndFolders':[{'absolutePath':'%s/b.bin'}],'targetEnvironment':'kPhysical',"
                        "'physicalTargetParams':{'recoverTarget':{'id':%lld},'alternateRestoreDirectory':'%s/out'}}}}",
                        snap, src, host, tmp), 201, &j) == 201);
    snprintf(rec_id, sizeof rec_id, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    e = the_entry(&d, "POST", FX_REC, rec_id);
    CHECK(admin_entry(e, T, 201));
    json_decref(e);
    j = fx_wait_recovery(&d, T, rec_id, 120);
    CHECK(j != NULL);
    json_decref(j);
    CHECK(post_json(&d, FX_REC "/download-files-folders", T,
                    fmt("{'name':'audit-dl','object':{'snapshotId':'%s'},'filesAndFolders':[{'absolutePath':'%s/a.bin',"
                        "'isDirectory':false}]}", snap, src), 201, &j) == 201);
    snprintf(dl_id, sizeof dl_id, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    e = the_entry(&d, "POST", FX_REC "/download-files-folders", dl_id);
    CHECK(admin_entry(e, T, 201));
    json_decref(e);
    j = fx_wait_recovery(&d, T, dl_id, 120);
    CHECK(j != NULL);
    json_decref(j);
    /* prune (the cluster's: no tenant) */
    CHECK(post_json(&d, PRUNE, NULL, "{}", 202, &j) == 202);
    prune_id = jint(j, "id");
    json_decref(j);
    e = the_entry(&d, "POST", PRUNE, fmt("%lld", prune_id));
    CHECK(admin_entry(e, "", 202));
    json_decref(e);
    /* a second policy, deleted */
    CHECK(create_policy(&d, "doomed", policy2, sizeof policy2) == 0);
    CHECK(expect(&d, "DELETE", fmt(FX_POL "/%s", policy2), T, NULL, 204, NULL));
    e = the_entry(&d, "DELETE", "/v2/data-protect/policies/{id}", policy2);
    CHECK(admin_entry(e, T, 204));
    t_last = jint(e, "timeUsecs");
    json_decref(e);
}

TEST(data_lock_and_legal_hold_name_the_run)
{
    json_t *all, *e;
    CHECK(run_id[0]);
    CHECK(put_runs(NULL, "{'dataLock':'Administrative'}") == 207);
    /* the admin key may not delete under an Administrative lock: a refused request, recorded */
    CHECK(put_runs(NULL, "{'deleteSnapshot':true}") == 403);
    CHECK(put_runs(NULL, "{'enableLegalHold':true}") == 207);
    /* the data-security key lifts the hold: its own key id and roles */
    CHECK(put_runs("Bearer " DS_KEY, "{'enableLegalHold':false}") == 207);
    all = runs_entries();
    CHECKF(json_array_size(all) == 4, "%zu PUT runs entries: %s", json_array_size(all), dump(all));
    e = json_array_get(all, 3); /* oldest: the lock */
    CHECK(admin_entry(e, T, 207));
    CHECK(str_is(e, "resourceId", gid) && str_is(e, "path", fmt(FX_GRP "/%s/runs", gid)));
    CHECK(str_is(e, "detail.runs.0.run", run_id) && str_is(e, "detail.runs.0.data_lock", "Administrative") &&
          json_is_true(jget(e, "detail.runs.0.ok")));
    e = json_array_get(all, 2);
    CHECK(admin_entry(e, T, 403));
    CHECK(str_is(e, "detail.runs.0.run", run_id) && json_is_true(jget(e, "detail.runs.0.delete_snapshot")) &&
          json_is_false(jget(e, "detail.runs.0.ok")));
    e = json_array_get(all, 1);
    CHECK(admin_entry(e, T, 207));
    CHECK(str_is(e, "detail.runs.0.run", run_id) && json_is_true(jget(e, "detail.runs.0.legal_hold")) &&
          json_is_true(jget(e, "detail.runs.0.ok")));
    e = json_array_get(all, 0);
    CHECK(jint(e, "status") == 207 && str_is(e, "keyId", "data-security"));
    CHECK(json_array_size(jget(e, "roles")) == 2 &&
          strcmp(json_string_value(json_array_get(jget(e, "roles"), 1)), "DataSecurity") == 0);
    CHECK(json_is_false(jget(e, "detail.runs.0.legal_hold")) && json_is_true(jget(e, "detail.runs.0.ok")));
    json_decref(all);
}

TEST(refused_requests_recorded_reads_not)
{
    struct http_resp r;
    const char *hdr[] = { "Content-Type: application/json", "X-IBM-Tenant-Id: " T, NULL };
    const char *body = fmt(POLICY_BODY, "sneaky", 3);
    json_t *all, *e, *before, *after;
    size_t i;
    int post401 = 0, get401 = 0;
    before = audit_get(&d, "pageSize=1000", NULL, 0);
    CHECK(before != NULL);
    /* a read answered 200 is not recorded */
    CHECK(expect(&d, "GET", FX_POL, T, NULL, 200, NULL));
    after = audit_get(&d, "pageSize=1000", NULL, 0);
    CHECK(after != NULL);
    CHECK_EQ_INT(json_array_size(after), json_array_size(before));
    json_decref(before);
    json_decref(after);
    /* 401: a wrong key, on a change and on a read */
    CHECK(http_raw(&d, "POST", FX_POL, "Bearer " WRONG_KEY, hdr, body, strlen(body), &r) == 0 && r.status == 401);
    http_resp_release(&r);
    CHECK(http_raw(&d, "GET", fmt(FX_POL "/%s", policy), "Bearer " WRONG_KEY, hdr, NULL, 0, &r) == 0 && r.status == 401);
    http_resp_release(&r);
    all = audit_get(&d, "pageSize=1000&status=401", NULL, 0);
    CHECK(all != NULL);
    json_array_foreach(all, i, e) {
        CHECK(jint(e, "status") == 401 && str_is(e, "keyId", NULL) && json_array_size(jget(e, "roles")) == 0 &&
              str_is(e, "tenantId", T) && str_is(e, "clientAddress", "127.0.0.1"));
        if (str_is(e, "method", "POST") && str_is(e, "route", FX_POL)) post401++;
        if (str_is(e, "method", "GET") && str_is(e, "path", fmt(FX_POL "/%s", policy)) &&
            str_is(e, "route", "/v2/data-protect/policies/{id}"))
            get401++;
    }
    json_decref(all);
    CHECK(post401 == 1 && get401 == 1);
    /* 404: a change of something that is not there (a well-formed id no policy has) */
    CHECK(strrchr(policy, ':') != NULL);
    snprintf(missing, sizeof missing, "%.*s:999999", (int)(strrchr(policy, ':') - policy), policy);
    CHECK(expect(&d, "DELETE", fmt(FX_POL "/%s", missing), T, NULL, 404, NULL));
    e = the_entry(&d, "DELETE", "/v2/data-protect/policies/{id}", missing);
    CHECK(admin_entry(e, T, 404));
    json_decref(e);
    /* a path no route has, with the data-security key: its key id, no route */
    {
        const char *dsh[] = { "X-IBM-Tenant-Id: " T, NULL };
        CHECK(http_raw(&d, "POST", "/v2/data-protect/nothing-here", "Bearer " DS_KEY, dsh, NULL, 0, &r) == 0 &&
              r.status == 404);
        http_resp_release(&r);
        all = audit_get(&d, "pageSize=1000&keyId=data-security&status=404", NULL, 0);
        CHECKF(all && json_array_size(all) == 1, "%s", dump(all));
        e = json_array_get(all, 0);
        CHECK(str_is(e, "route", NULL) && str_is(e, "path", "/v2/data-protect/nothing-here") && str_is(e, "tenantId", T) &&
              str_is(e, "method", "POST") && str_is(e, "resourceId", NULL));
        json_decref(all);
    }
    /* 403 for a role the key lacks needs keys bound to roles (i15-keys) */
    if (call(&d, "GET", "/v2/coffer/keys", NULL, NULL, &r) == 404) {
        SKIP("refused_403_for_a_missing_role", "no API keys with roles on this build (i15-keys)");
        SKIP("key_create_and_revoke_recorded", "no keys API on this build (i15-keys)");
    }
    http_resp_release(&r);
}

/* has_secret: text holds a secret or an Authorization header. */
static const char *has_secret(const char *text)
{
    static const char *const bad[] = { HARNESS_KEY, DS_KEY, WRONG_KEY, "Bearer", "Authorization", NULL };
    for (int i = 0; bad[i]; i++)
        if (strstr(text, bad[i])) return bad[i];
    return NULL;
}

TEST(no_secret_in_the_file_or_the_answer)
{
    char *data = NULL, *line, *save = NULL;
    size_t len = 0, lines = 0;
    struct stat sb;
    struct http_resp r;
    const char *bad;
    json_t *all = audit_get(&d, "pageSize=1000", NULL, 0), *seqs = json_object();
    size_t i;
    json_t *e;
    CHECK(all != NULL && json_array_size(all) >= 15);
    json_array_foreach(all, i, e) json_object_set_new(seqs, fmt("%lld", jint(e, "sequence")), json_true());
    CHECK(stat(fmt("%s/audit.log", d.data_dir), &sb) == 0);
    CHECKF((sb.st_mode & 0777) == 0600, "audit.log mode %o", sb.st_mode & 0777);
    CHECK(read_all(fmt("%s/audit.log", d.data_dir), &data, &len) == 0);
    data[len] = '\0'; /* read_all allocates one byte more */
    bad = has_secret(data);
    CHECKF(bad == NULL, "audit.log holds '%s'", bad);
    CHECK(len > 0 && data[len - 1] == '\n');
    for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *l = json_loads(line, 0, NULL);
        int ok = json_is_object(l) && json_object_get(seqs, fmt("%lld", jint(l, "seq"))) &&
                 jstr(l, "method") && jstr(l, "request_id") && jint(l, "time_usecs") > 0;
        if (ok) json_object_del(seqs, fmt("%lld", jint(l, "seq")));
        json_decref(l);
        CHECKF(ok, "line %zu: %s", lines + 1, line);
        lines++;
    }
    free(data);
    CHECKF(lines == json_array_size(all) && json_object_size(seqs) == 0, "%zu lines, %zu entries", lines,
           json_array_size(all));
    json_decref(seqs);
    json_decref(all);
    CHECK(call(&d, "GET", AUDIT "?pageSize=1000", NULL, NULL, &r) == 200);
    bad = has_secret(r.body);
    http_resp_release(&r);
    CHECKF(bad == NULL, "the API answer holds '%s'", bad);
}

static int all_match(json_t *list, const char *path, const char *want)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
        if (!str_is(e, path, want)) return 0;
    return 1;
}

TEST(filters_and_cursor)
{
    json_t *all = audit_get(&d, "pageSize=1000", NULL, 0), *l, *e, *walked = json_array();
    char next[64] = "";
    size_t i;
    int pages = 0, tenant_less = 0;
    CHECK(all != NULL && json_array_size(all) > 6);
    /* newest first */
    for (i = 1; i < json_array_size(all); i++)
        CHECK(jint(json_array_get(all, i - 1), "sequence") > jint(json_array_get(all, i), "sequence"));
    json_array_foreach(all, i, e) tenant_less += str_is(e, "tenantId", "");
    CHECK(tenant_less == 1); /* the prune: the repository is the cluster's */
    l = audit_get(&d, "pageSize=1000&method=delete", NULL, 0);
    CHECK(l && json_array_size(l) == 2 && all_match(l, "method", "DELETE"));
    json_decref(l);
    l = audit_get(&d, "pageSize=1000&status=404", NULL, 0);
    CHECK(l && json_array_size(l) == 2 && str_is(json_array_get(l, 1), "resourceId", missing));
    json_decref(l);
    l = audit_get(&d, "pageSize=1000&keyId=data-security", NULL, 0);
    CHECKF(l && json_array_size(l) == 2 && all_match(l, "keyId", "data-security"), "%s", dump(l));
    json_decref(l);
    l = audit_get(&d, "pageSize=1000&keyId=admin", NULL, 0);
    CHECK(l && json_array_size(l) >= 10 && all_match(l, "keyId", "admin"));
    json_decref(l);
    l = audit_get(&d, "pageSize=1000&tenantId=" T, NULL, 0);
    CHECK(l && json_array_size(l) == json_array_size(all) - (size_t)tenant_less && all_match(l, "tenantId", T));
    json_decref(l);
    l = audit_get(&d, "pageSize=1000&tenantId=someone-else", NULL, 0);
    CHECK(l && json_array_size(l) == 0);
    json_decref(l);
    /* ids of different kinds may be equal (the first policy, group and recovery are all "c:i:1"):
     * resourceId with route names one thing */
    l = audit_get(&d, fmt("pageSize=1000&resourceId=%s&route=%s", gid, "/v2/data-protect/protection-groups"), NULL, 0);
    CHECK(l && json_array_size(l) == 1 && all_match(l, "resourceId", gid) && str_is(json_array_get(l, 0), "method", "POST"));
    json_decref(l);
    /* the time window from the first policy's creation to the second's deletion */
    l = audit_get(&d, fmt("pageSize=1000&startTimeUsecs=%lld&endTimeUsecs=%lld", t_first, t_last), NULL, 0);
    {
        size_t want = 0;
        json_array_foreach(all, i, e) want += jint(e, "timeUsecs") >= t_first && jint(e, "timeUsecs") <= t_last;
        CHECKF(l && json_array_size(l) == want && want >= 9, "%lld..%lld (%zu): %s", t_first, t_last, want, dump(l));
    }
    json_array_foreach(l, i, e) CHECK(jint(e, "timeUsecs") >= t_first && jint(e, "timeUsecs") <= t_last);
    CHECK(str_is(json_array_get(l, 0), "resourceId", policy2) && str_is(json_array_get(l, json_array_size(l) - 1), "resourceId", policy));
    json_decref(l);
    /* pages of 3 walk the same entries */
    do {
        l = audit_get(&d, next[0] ? fmt("pageSize=3&cursor=%s", next) : "pageSize=3", next, sizeof next);
        CHECK(l && json_array_size(l) <= 3);
        json_array_extend(walked, l);
        json_decref(l);
        pages++;
    } while (next[0] && pages < 1000);
    CHECK(json_equal(walked, all));
    CHECK_EQ_INT(pages, (json_array_size(all) + 2) / 3);
    json_decref(walked);
    json_decref(all);
    CHECK(expect(&d, "GET", AUDIT "?pageSize=0", NULL, NULL, 400, "pageSize"));
    CHECK(expect(&d, "GET", AUDIT "?pageSize=1001", NULL, NULL, 400, "pageSize"));
    CHECK(expect(&d, "GET", AUDIT "?cursor=abc", NULL, NULL, 400, "cursor"));
    CHECK(expect(&d, "GET", AUDIT "?status=abc", NULL, NULL, 400, "status"));
    CHECK(expect(&d, "GET", AUDIT "?startTimeUsecs=20&endTimeUsecs=10", NULL, NULL, 400, "endTimeUsecs"));
}

/* cli_out: runs build/asan/coffer (or $COFFER_CLI) with words; its stdout (malloc'd) and exit status. */
static char *cli_out(int *status, const char *const *words)
{
    char url[128];
    struct cli_env e = { .tmp = tmp, .url = url, .key = HARNESS_KEY };
    snprintf(url, sizeof url, "%s/v2", d.base);
    return clirun_out(&e, words, status);
}

TEST(cli_audit)
{
    int st;
    const char *w1[] = { "audit", "--tenant", T, "--resource", policy, "--route", "/v2/data-protect/policies/{id}",
                         "--json", NULL };
    const char *w2[] = { "audit", "--tenant", T, "--method", "DELETE", NULL };
    const char *w3[] = { "audit", "--all-tenants", "--resource", "x", "--since", "2h", "--status", "20", NULL };
    char *out = cli_out(&st, w1);
    json_t *j = json_loads(out, 0, NULL);
    CHECKF(st == 0 && j, "exit %d: %s", st, out);
    free(out);
    /* the update, and the read refused 401 (the create's route is the collection's) */
    CHECKF(json_array_size(jget(j, "entries")) == 2 && all_match(jget(j, "entries"), "resourceId", policy), "%s",
           dump(j));
    CHECK(str_is(j, "entries.0.method", "GET") && jint(j, "entries.0.status") == 401);
    CHECK(str_is(j, "entries.1.method", "PUT") && jint(j, "entries.1.status") == 200);
    json_decref(j);
    out = cli_out(&st, w2);
    CHECKF(st == 0 && strstr(out, "/v2/data-protect/policies/{id}") && strstr(out, policy2) &&
           strstr(out, missing) && strstr(out, "204") && strstr(out, "404") && strstr(out, "ROUTE"),
           "exit %d: %s", st, out);
    free(out);
    out = cli_out(&st, w3);
    CHECKF(st == 2, "a status of 20 is refused: exit %d", st);
    free(out);
    {
        const char *w4[] = { "audit", "--tenant", T, "--since", "1h", "--limit", "5", "--json", NULL };
        const char *w5[] = { "audit", "--all-tenants", "--since", "2999-01-01T00:00:00Z", "--json", NULL };
        const char *w6[] = { "audit", "--since", "yesterday", NULL };
        out = cli_out(&st, w4);
        j = json_loads(out, 0, NULL);
        free(out);
        CHECKF(st == 0 && json_array_size(jget(j, "entries")) == 5 && all_match(jget(j, "entries"), "tenantId", T),
               "exit %d: %s", st, dump(j));
        json_decref(j);
        out = cli_out(&st, w5);
        j = json_loads(out, 0, NULL);
        free(out);
        CHECKF(st == 0 && j && json_array_size(jget(j, "entries")) == 0, "exit %d: %s", st, dump(j));
        json_decref(j);
        out = cli_out(&st, w6);
        free(out);
        CHECK(st == 2);
    }
}

TEST(sighup_recorded)
{
    json_t *l = NULL;
    CHECK(kill(d.pid, SIGHUP) == 0);
    for (int i = 0; i < 100; i++) {
        l = audit_get(&d, "method=SIGHUP", NULL, 0);
        if (l && json_array_size(l) > 0) break;
        json_decref(l);
        l = NULL;
        usleep(100 * 1000);
    }
    CHECK(l && json_array_size(l) == 1);
    CHECK(str_is(json_array_get(l, 0), "actor", "signal") && str_is(json_array_get(l, 0), "keyId", NULL) &&
          str_is(json_array_get(l, 0), "resourceId", "admin.key") &&
          str_is(json_array_get(l, 0), "tenantId", "") && jint(json_array_get(l, 0), "status") == 200);
    json_decref(l);
}

/* ---------- daemon B ---------- */

static struct daemon b;
static const char *env_b[] = { "COFFER_TEST_CLOCK=1", "COFFER_PRUNE_INTERVAL_SECS=1",
                               "COFFER_AUDIT_RETENTION_DAYS=30", NULL };

TEST(scheduled_prune_recorded)
{
    json_t *l = NULL, *e;
    for (int i = 0; i < 1000; i++) { /* the retention pass comes every 30 s; the prune after it */
        l = audit_get(&b, "method=PRUNE", NULL, 0);
        if (l && json_array_size(l) > 0) break;
        json_decref(l);
        l = NULL;
        usleep(100 * 1000);
    }
    CHECK(l && json_array_size(l) >= 1);
    e = json_array_get(l, json_array_size(l) - 1);
    CHECK(str_is(e, "actor", "scheduler") && str_is(e, "keyId", NULL) && str_is(e, "tenantId", "") &&
          jint(e, "status") == 200 && json_is_false(jget(e, "detail.dry_run")) && str_is(e, "resourceId", "1"));
    json_decref(l);
}

TEST(retention_sweep_removes_old_entries)
{
    char p1[128], p2[128];
    long long t0 = clock_now(&b);
    json_t *l;
    CHECK(t0 > 0);
    CHECK(create_policy(&b, "old", p1, sizeof p1) == 0);
    CHECK(set_clock(&b, t0 + 20 * DAY) == 0);
    CHECK(create_policy(&b, "younger", p2, sizeof p2) == 0);
    l = audit_get(&b, fmt("resourceId=%s", p1), NULL, 0);
    CHECK(l && json_array_size(l) == 1);
    json_decref(l);
    CHECK(set_clock(&b, t0 + 31 * DAY) == 0); /* this request's record sweeps */
    l = audit_get(&b, fmt("resourceId=%s", p1), NULL, 0);
    CHECKF(l && json_array_size(l) == 0, "the 31-day-old entry is still there");
    json_decref(l);
    l = audit_get(&b, fmt("resourceId=%s", p2), NULL, 0);
    CHECK(l && json_array_size(l) == 1);
    json_decref(l);
    l = audit_get(&b, fmt("pageSize=1000&endTimeUsecs=%lld", t0 + DAY - 1), NULL, 0);
    CHECK(l && json_array_size(l) == 0); /* nothing older than the horizon is left */
    json_decref(l);
}

TEST(sigkill_after_201_keeps_the_entry)
{
    char p3[128];
    json_t *l;
    CHECK(create_policy(&b, "just-before-the-kill", p3, sizeof p3) == 0);
    CHECK(daemon_kill(&b, SIGKILL) >= 0);
    CHECK(daemon_restart(&b, env_b) == 0);
    l = audit_get(&b, fmt("resourceId=%s", p3), NULL, 0);
    CHECK(l && json_array_size(l) == 1 && jint(json_array_get(l, 0), "status") == 201);
    json_decref(l);
}

TEST(catalog_refuses_update_and_delete)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long before = -1, after = -2;
    CHECK(daemon_kill(&b, SIGTERM) == 0);
    CHECK(sqlite3_open(fmt("%s/catalog.db", b.data_dir), &db) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit_log", -1, &st, NULL) == SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) before = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    CHECK(before > 0);
    CHECK(sqlite3_exec(db, "UPDATE audit_log SET status = 200", NULL, NULL, NULL) != SQLITE_OK);
    CHECK(strstr(sqlite3_errmsg(db), "append-only") != NULL);
    CHECK(sqlite3_exec(db, "DELETE FROM audit_log", NULL, NULL, NULL) != SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM audit_horizon", NULL, NULL, NULL) != SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) after = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECK_EQ_INT(after, before);
}

int main(void)
{
    tmp = check_tmpdir("e2e-audit");
    if (daemon_start(&d, env_a) != 0) check_abandon("the daemon did not start");
    RUN(mutating_calls_recorded_once_each);
    RUN(data_lock_and_legal_hold_name_the_run);
    RUN(refused_requests_recorded_reads_not);
    RUN(filters_and_cursor);
    RUN(no_secret_in_the_file_or_the_answer);
    RUN(cli_audit);
    RUN(sighup_recorded);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon A did not exit cleanly");
    if (daemon_start(&b, env_b) != 0) check_abandon("daemon B did not start");
    RUN(scheduled_prune_recorded);
    RUN(retention_sweep_removes_old_entries);
    RUN(sigkill_after_201_keeps_the_entry);
    if (pgtest_catalog_is_pg()) /* the check opens the SQLite file */
        SKIP("catalog_refuses_update_and_delete", "the check reads the SQLite file; the catalog is on PostgreSQL");
    else
        RUN(catalog_refuses_update_and_delete);
    daemon_stop(&b);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
