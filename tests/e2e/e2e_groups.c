/* e2e_groups.c: /v2/data-protect/protection-groups against the real daemon: kPhysical groups (kFile
 * and kVolume) over objects of a source registered on this machine, kSQL groups; list filters; update
 * with pause and resume and the stale check; soft delete; every class of bad input answers 4xx with a
 * message naming the field and changes nothing; tenants are isolated (groups, policies and objects);
 * and everything survives SIGKILL and a restart with the same ids. The list answers, with every filter
 * and after every kind of change (and, for the lists with last runs, after a run), byte for byte what
 * the groups' own GETs make (list_is_the_gets: the list cache, api/list_cache.h, serves nothing
 * stale). */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/pgsource.h"
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P "/v2/data-protect/policies"
#define G "/v2/data-protect/protection-groups"
#define SRC "/v2/data-protect/sources/registrations"

static struct daemon d;
static char pol1[128], pol2[128], pol_b[128];   /* ga's two policies, gb's policy */
static long long host_a, vol_a, host_b;          /* registered objects: ga's host and a volume, gb's host */
static char gfile[128], gvol[128], gsql[128];    /* ga's groups */
static struct pgsource pgs;                     /* ga's PostgreSQL: kSQL groups list its objects */

static long post(const char *path, const char *tenant, const char *body, char *id, size_t idlen, long long *num)
{
    struct http_resp r;
    long st;
    if (http(&d, "POST", path, tenant, body, &r) != 0) return -1;
    st = r.status;
    if (st >= 300) fprintf(stderr, "POST %s: %ld %s\n", path, st, r.body);
    if (id) snprintf(id, idlen, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    if (num) *num = jint(r.json, "id");
    http_resp_release(&r);
    return st;
}

static char *listing(const char *tenant, const char *query)
{
    struct http_resp r;
    char path[512], *s = NULL;
    snprintf(path, sizeof path, G "%s", query ? query : "");
    if (http(&d, "GET", path, tenant, NULL, &r) == 0 && r.status == 200 && r.json)
        s = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    else /* two failed listings would compare equal: a failed one fails the test */
        check_fail(__FILE__, __LINE__, "GET %s (tenant %s): %ld %s", path, tenant, r.status, r.body ? r.body : "");
    http_resp_release(&r);
    return s ? s : strdup("(no list)");
}

/* names: the names of the groups a list returns, comma-separated, in order (static buffer). */
static const char *names(const char *tenant, const char *query)
{
    static char out[1024];
    struct http_resp r;
    char path[512];
    json_t *v;
    size_t i, used = 0;
    snprintf(path, sizeof path, G "%s", query ? query : "");
    out[0] = '\0';
    if (http(&d, "GET", path, tenant, NULL, &r) != 0 || r.status != 200) {
        snprintf(out, sizeof out, "(status %ld: %s)", r.status, r.body ? r.body : "");
        http_resp_release(&r);
        return out;
    }
    json_array_foreach(jget(r.json, "protectionGroups"), i, v)
        used += (size_t)snprintf(out + used, sizeof out - used, "%s%s", i ? "," : "", jstr(v, "name"));
    http_resp_release(&r);
    return out;
}

static int expect(const char *method, const char *path, const char *tenant, const char *body, long status,
                  const char *want)
{
    struct http_resp r;
    const char *msg;
    if (http(&d, method, path, tenant, body, &r) != 0) {
        check_fail(__FILE__, __LINE__, "%s %s: no response", method, path);
        return 0;
    }
    msg = jstr(r.json, "message");
    if (r.status != status || !msg || !strstr(msg, want)) {
        check_fail(__FILE__, __LINE__, "%s %s: got %ld \"%s\", want %ld with \"%s\"", method, path, r.status,
                   msg ? msg : r.body, status, want);
        http_resp_release(&r);
        return 0;
    }
    http_resp_release(&r);
    return 1;
}

#define POLICY(name) "{'name':'" name "','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days'," \
    "'daySchedule':{'frequency':1}}},'retention':{'unit':'Days','duration':7}}}}"
#define LOCAL_SOURCE "{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1','hostType':'kLinux'}}"

/* file_group: a kFile group body over object obj. */
static const char *file_group(const char *name, const char *policy, long long obj, const char *extra)
{
    return jfmt("{'name':'%s','policyId':'%s','environment':'kPhysical','description':'home dirs','priority':'kHigh',"
               "'startTime':{'hour':22,'minute':15},'abortInBlackouts':false,"
               "'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld,"
               "'filePaths':[{'includedPath':'/home','excludedPaths':['/home/tmp'],'skipNestedVolumes':true}]}],"
               "'globalExcludePaths':['*.swp']}}%s}", name, policy, obj, extra);
}

TEST(setup)
{
    struct http_resp r;
    CHECK_EQ_INT(post(P, "ga", jfmt(POLICY("daily")), pol1, sizeof pol1, NULL), 201);
    CHECK_EQ_INT(post(P, "ga", jfmt(POLICY("weekly")), pol2, sizeof pol2, NULL), 201);
    CHECK_EQ_INT(post(P, "gb", jfmt(POLICY("daily")), pol_b, sizeof pol_b, NULL), 201);
    CHECK(http(&d, "POST", SRC, "ga", jfmt(LOCAL_SOURCE), &r) == 0);
    CHECKF(r.status == 201, "register: %ld %s", r.status, r.body);
    host_a = jint(r.json, "sourceInfo.id");
    vol_a = jint(r.json, "sourceInfo.childObjects.0.id");
    http_resp_release(&r);
    CHECK(host_a > 0 && vol_a > 0);
    CHECK(http(&d, "POST", SRC, "gb", jfmt(LOCAL_SOURCE), &r) == 0);
    CHECKF(r.status == 201, "register: %ld %s", r.status, r.body);
    host_b = jint(r.json, "sourceInfo.id");
    http_resp_release(&r);
    CHECK(host_b > 0 && host_b != host_a);
}

TEST(create_and_get)
{
    struct http_resp r;
    char path[256];
    long long c, i, n;
    CHECK(http(&d, "POST", G, "ga", file_group("files", pol1, host_a, ""), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(gfile, sizeof gfile, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    CHECKF(sscanf(gfile, "%lld:%lld:%lld", &c, &i, &n) == 3 && n > 0, "id '%s'", gfile);

    snprintf(path, sizeof path, G "/%s", gfile);
    CHECK(http(&d, "GET", path, "ga", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strcmp(jstr(r.json, "id"), gfile) == 0);
    CHECK(strcmp(jstr(r.json, "name"), "files") == 0);
    CHECK(strcmp(jstr(r.json, "policyId"), pol1) == 0);
    CHECK(strcmp(jstr(r.json, "environment"), "kPhysical") == 0);
    CHECK(strcmp(jstr(r.json, "description"), "home dirs") == 0);
    CHECK(strcmp(jstr(r.json, "priority"), "kHigh") == 0);
    CHECK_EQ_INT(jint(r.json, "startTime.hour"), 22);
    CHECK(strcmp(jstr(r.json, "physicalParams.protectionType"), "kFile") == 0);
    CHECK_EQ_INT(jint(r.json, "physicalParams.fileProtectionTypeParams.objects.0.id"), host_a);
    CHECK(strcmp(jstr(r.json, "physicalParams.fileProtectionTypeParams.objects.0.filePaths.0.includedPath"), "/home") == 0);
    CHECK(strcmp(jstr(r.json, "physicalParams.fileProtectionTypeParams.objects.0.filePaths.0.excludedPaths.0"),
                 "/home/tmp") == 0);
    CHECK(strcmp(jstr(r.json, "physicalParams.fileProtectionTypeParams.globalExcludePaths.0"), "*.swp") == 0);
    CHECK(json_is_true(jget(r.json, "isActive")));
    CHECK(json_is_false(jget(r.json, "isDeleted")));
    CHECK(json_is_false(jget(r.json, "isPaused")));
    CHECK(jint(r.json, "lastModifiedTimestampUsecs") > 1600000000LL * 1000000);
    CHECK(jstr(r.json, "clusterId") && strncmp(gfile, jstr(r.json, "clusterId"), strlen(jstr(r.json, "clusterId"))) == 0);
    http_resp_release(&r);

    CHECK(http(&d, "POST", G, "ga",
               jfmt("{'name':'volumes','policyId':'%s','environment':'kPhysical','isPaused':true,'physicalParams':"
                   "{'protectionType':'kVolume','volumeProtectionTypeParams':{'objects':[{'id':%lld}]}}}", pol2, vol_a),
               &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(gvol, sizeof gvol, "%s", jstr(r.json, "id"));
    CHECK(json_is_true(jget(r.json, "isPaused")));
    CHECK_EQ_INT(jint(r.json, "physicalParams.volumeProtectionTypeParams.objects.0.id"), vol_a);
    http_resp_release(&r);

    CHECK(http(&d, "POST", G, "ga",
               jfmt("{'name':'sql','policyId':'%s','environment':'kSQL','qosPolicy':'kBackupSSD','mssqlParams':"
                   "{'protectionType':'kNative','nativeProtectionTypeParams':{'objects':[{'id':%lld,'name':'db1'}],"
                   "'numStreams':3}}}", pol1, pgs.db_id), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(gsql, sizeof gsql, "%s", jstr(r.json, "id"));
    CHECK(strcmp(jstr(r.json, "mssqlParams.protectionType"), "kNative") == 0);
    CHECK_EQ_INT(jint(r.json, "mssqlParams.nativeProtectionTypeParams.numStreams"), 3);
    http_resp_release(&r);
    CHECK(strcmp(gfile, gvol) != 0 && strcmp(gvol, gsql) != 0);
    CHECK(strcmp(names("ga", NULL), "files,volumes,sql") == 0);
}

struct bad { char *body; long status; const char *want; };

static void add_bad(struct bad *b, size_t *n, const char *body, long status, const char *want)
{
    b[*n].body = strdup(body);
    b[*n].status = status;
    b[*n].want = want;
    (*n)++;
}

TEST(bad_bodies_change_nothing)
{
    struct bad b[48];
    size_t n = 0;
    char *before = listing("ga", NULL), *before_del = listing("ga", "?isDeleted=true"), *after;
    /* malformed */
    add_bad(b, &n, "{\"name\":\"x\",", 400, "body is not valid JSON");
    add_bad(b, &n, "[1]", 400, "body must be a JSON object");
    /* missing required fields */
    add_bad(b, &n, jfmt("{'policyId':'%s','environment':'kSQL'}", pol1), 400, "field 'name' is required");
    add_bad(b, &n, jfmt("{'name':'x','environment':'kSQL'}"), 400, "field 'policyId' is required");
    add_bad(b, &n, jfmt("{'name':'x','policyId':'%s'}", pol1), 400, "field 'environment' is required");
    add_bad(b, &n, jfmt("{'name':'x','policyId':'%s','environment':'kPhysical'}", pol1), 400,
            "field 'physicalParams' is required");
    add_bad(b, &n, jfmt("{'name':'x','policyId':'%s','environment':'kPhysical','physicalParams':{'protectionType':"
                       "'kFile','fileProtectionTypeParams':{'objects':[{'filePaths':[{'includedPath':'/'}]}]}}}", pol1),
            400, "field 'physicalParams.fileProtectionTypeParams.objects[0].id' is required");
    add_bad(b, &n, jfmt("{'name':'x','policyId':'%s','environment':'kSQL','mssqlParams':{'protectionType':'kFile'}}", pol1),
            400, "field 'mssqlParams.fileProtectionTypeParams' is required");
    /* wrong types */
    add_bad(b, &n, jfmt("{'name':['x'],'policyId':'%s','environment':'kSQL'}", pol1), 400, "field 'name' must be a string");
    add_bad(b, &n, file_group("x", pol1, host_a, ",'isPaused':'true'"), 400, "field 'isPaused' must be a boolean");
    add_bad(b, &n, file_group("x", pol1, host_a, ",'endTimeUsecs':'soon'"), 400,
            "field 'endTimeUsecs' must be an integer");
    add_bad(b, &n, jfmt("{'name':'x','policyId':'%s','environment':'kSQL','startTime':{'hour':'ten','minute':0},"
                       "'mssqlParams':{'protectionType':'kNative','nativeProtectionTypeParams':{'objects':[{'id':1}]}}}",
                       pol1), 400, "field 'startTime.hour' must be an integer");
    add_bad(b, &n, jfmt("{'name':'x','policyId':'%s','environment':'kPhysical','physicalParams':{'protectionType':"
                       "'kFile','fileProtectionTypeParams':{'objects':[{'id':'%lld'}]}}}", pol1, host_a),
            400, "field 'physicalParams.fileProtectionTypeParams.objects[0].id' must be an integer");
    /* unknown enumeration values */
    add_bad(b, &n, jfmt("{'name':'x','policyId':'%s','environment':'kVMware'}", pol1), 400,
            "field 'environment' has unknown value 'kVMware'");
    add_bad(b, &n, jfmt("{'name':'x','policyId':'%s','environment':'kKubernetes'}", pol1), 400,
            "field 'environment' value 'kKubernetes' is not supported");
    add_bad(b, &n, file_group("x", pol1, host_a, ",'qosPolicy':'kFast'"), 400, "field 'qosPolicy' has unknown value 'kFast'");
    add_bad(b, &n, jfmt("{'name':'x','policyId':'%s','environment':'kPhysical','physicalParams':{'protectionType':'kBlock'}}",
                       pol1), 400, "field 'physicalParams.protectionType' has unknown value 'kBlock'");
    /* ids and references */
    add_bad(b, &n, file_group("x", "gold-policy", host_a, ""), 400,
            "field 'policyId' must be a protection policy id of the form clusterId:incarnationId:number");
    add_bad(b, &n, file_group("x", "1:1:987654", host_a, ""), 400,
            "field 'policyId' names no protection policy of this tenant");
    add_bad(b, &n, file_group("x", pol_b, host_a, ""), 400, "field 'policyId' names no protection policy of this tenant");
    add_bad(b, &n, file_group("x", pol1, 987654, ""), 400,
            "field 'physicalParams.fileProtectionTypeParams.objects[0].id' names object 987654, which is not a "
            "registered object of this tenant");
    add_bad(b, &n, file_group("x", pol1, host_b, ""), 400, "which is not a registered object of this tenant");
    /* paths */
    add_bad(b, &n, jfmt("{'name':'x','policyId':'%s','environment':'kPhysical','physicalParams':{'protectionType':'kFile',"
                       "'fileProtectionTypeParams':{'objects':[{'id':%lld,'filePaths':[{'includedPath':'home'}]}]}}}",
                       pol1, host_a), 400,
            "field 'physicalParams.fileProtectionTypeParams.objects[0].filePaths[0].includedPath' must be an absolute path");
    add_bad(b, &n, jfmt("{'name':'x','policyId':'%s','environment':'kPhysical','physicalParams':{'protectionType':'kFile',"
                       "'fileProtectionTypeParams':{'objects':[{'id':%lld,'filePaths':[{'excludedPaths':['/a']}]}]}}}",
                       pol1, host_a), 400,
            "field 'physicalParams.fileProtectionTypeParams.objects[0].filePaths[0].includedPath' is required");
    /* conflicts */
    add_bad(b, &n, file_group("files", pol1, host_a, ""), 409, "a protection group named 'files' already exists");
    for (size_t i = 0; i < n; i++) {
        if (!check_failed()) expect("POST", G, "ga", b[i].body, b[i].status, b[i].want);
        free(b[i].body);
    }
    if (check_failed()) goto out;
    after = listing("ga", NULL);
    CHECKF(strcmp(before, after) == 0, "the list changed:\n%s\n%s", before, after);
    free(after);
    after = listing("ga", "?isDeleted=true");
    CHECKF(strcmp(before_del, after) == 0, "the deleted list changed:\n%s\n%s", before_del, after);
    free(after);
out:
    free(before);
    free(before_del);
}

TEST(list_filters)
{
    char q[512];
    CHECK(strcmp(names("ga", "?environments=kSQL"), "sql") == 0);
    CHECK(strcmp(names("ga", "?environments=kPhysical,kSQL"), "files,volumes,sql") == 0);
    CHECK(strcmp(names("ga", "?isPaused=true"), "volumes") == 0);
    CHECK(strcmp(names("ga", "?isPaused=false"), "files,sql") == 0);
    CHECK(strcmp(names("ga", "?isActive=true"), "files,volumes,sql") == 0);
    CHECK(strcmp(names("ga", "?isActive=false"), "") == 0);
    CHECK(strcmp(names("ga", "?names=sql,files"), "files,sql") == 0);
    CHECK(strcmp(names("ga", "?names=sql&names=volumes"), "volumes,sql") == 0);
    snprintf(q, sizeof q, "?policyIds=%s", pol2);
    CHECK(strcmp(names("ga", q), "volumes") == 0);
    snprintf(q, sizeof q, "?ids=%s,%s", gsql, gfile);
    CHECK(strcmp(names("ga", q), "files,sql") == 0);
    snprintf(q, sizeof q, "?ids=%s&environments=kSQL", gfile);
    CHECK(strcmp(names("ga", q), "") == 0);
    CHECK(strcmp(names("ga", "?isDeleted=false&includeLastRunInfo=true"), "files,volumes,sql") == 0);
    CHECK(strcmp(names("ga", "?lastRunAnyStatus=Succeeded,Failed"), "") == 0);   /* no group has run yet */
    CHECK(expect("GET", G "?environments=kVMware", "ga", NULL, 400, "query parameter 'environments' has unknown value 'kVMware'"));
    CHECK(expect("GET", G "?isPaused=yes", "ga", NULL, 400, "query parameter 'isPaused' must be true or false"));
    CHECK(expect("GET", G "?lastRunAnyStatus=Great", "ga", NULL, 400, "query parameter 'lastRunAnyStatus' has unknown value"));
}

TEST(update_pause_resume_and_staleness)
{
    struct http_resp r;
    char path[256], stale[64], *before, *after;
    long long m1, m2;
    snprintf(path, sizeof path, G "/%s", gfile);
    CHECK(http(&d, "GET", path, "ga", NULL, &r) == 0);
    m1 = jint(r.json, "lastModifiedTimestampUsecs");
    http_resp_release(&r);

    /* pause, with the current timestamp; the policy moves to pol2 and the description changes */
    CHECK(http(&d, "PUT", path, "ga",
               jfmt("{'name':'files','policyId':'%s','environment':'kPhysical','description':'changed','isPaused':true,"
                   "'lastModifiedTimestampUsecs':%lld,'physicalParams':{'protectionType':'kFile',"
                   "'fileProtectionTypeParams':{'objects':[{'id':%lld,'filePaths':[{'includedPath':'/srv'}]}]}}}",
                   pol2, m1, host_a), &r) == 0);
    CHECKF(r.status == 200, "%ld %s", r.status, r.body);
    CHECK(strcmp(jstr(r.json, "id"), gfile) == 0);
    CHECK(json_is_true(jget(r.json, "isPaused")));
    CHECK(strcmp(jstr(r.json, "policyId"), pol2) == 0);
    CHECK(strcmp(jstr(r.json, "description"), "changed") == 0);
    CHECK(strcmp(jstr(r.json, "physicalParams.fileProtectionTypeParams.objects.0.filePaths.0.includedPath"), "/srv") == 0);
    m2 = jint(r.json, "lastModifiedTimestampUsecs");
    CHECK(m2 > m1);
    http_resp_release(&r);
    CHECK(strcmp(names("ga", "?isPaused=true"), "files,volumes") == 0);

    /* the old timestamp is stale now: 412; invalid bodies: 400; neither changes anything */
    before = listing("ga", NULL);
    snprintf(stale, sizeof stale, ",\"lastModifiedTimestampUsecs\":%lld", m1);
    CHECK(expect("PUT", path, "ga", file_group("files", pol1, host_a, stale),
                 412, "field 'lastModifiedTimestampUsecs' is stale"));
    CHECK(expect("PUT", path, "ga", file_group("files", pol1, 55555, ""), 400, "names object 55555"));
    CHECK(expect("PUT", path, "ga", file_group("files", "1:1:424242", host_a, ""), 400, "field 'policyId' names no"));
    CHECK(expect("PUT", path, "ga", file_group("volumes", pol1, host_a, ""), 409, "a protection group named 'volumes'"));
    CHECK(expect("PUT", path, "ga", "{", 400, "body is not valid JSON"));
    after = listing("ga", NULL);
    CHECKF(strcmp(before, after) == 0, "the list changed:\n%s\n%s", before, after);
    free(before);
    free(after);

    /* isPaused absent: stays paused; then resume explicitly */
    CHECK(http(&d, "PUT", path, "ga", file_group("files", pol1, host_a, ""), &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_is_true(jget(r.json, "isPaused")));
    CHECK(strcmp(jstr(r.json, "policyId"), pol1) == 0);
    http_resp_release(&r);
    CHECK(http(&d, "PUT", path, "ga", file_group("files", pol1, host_a, ",'isPaused':false"), &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_is_false(jget(r.json, "isPaused")));
    http_resp_release(&r);
    CHECK(strcmp(names("ga", "?isPaused=true"), "volumes") == 0);

    CHECK(expect("PUT", G "/1:1:424242", "ga", file_group("files", pol1, host_a, ""), 404, "no protection group with id"));
    CHECK(expect("PUT", G "/files", "ga", file_group("files", pol1, host_a, ""), 400,
                 "path parameter 'id' must be a protection group id"));
}

TEST(tenants_are_isolated)
{
    char path[256], *before = listing("ga", NULL), *after;
    snprintf(path, sizeof path, G "/%s", gfile);
    CHECK(expect("GET", path, "gb", NULL, 404, "no protection group"));
    CHECK(expect("PUT", path, "gb", file_group("files", pol_b, host_b, ""), 404, "no protection group"));
    CHECK(expect("DELETE", path, "gb", NULL, 404, "no protection group"));
    CHECK(strcmp(names("gb", NULL), "") == 0);
    snprintf(path, sizeof path, "?ids=%s", gfile);
    CHECK(strcmp(names("gb", path), "") == 0);
    CHECK(strcmp(names("gb", "?names=files"), "") == 0);
    /* gb makes its own "files" over its own host, with its own policy */
    CHECK_EQ_INT(post(G, "gb", file_group("files", pol_b, host_b, ""), NULL, 0, NULL), 201);
    CHECK(strcmp(names("gb", NULL), "files") == 0);
    after = listing("ga", NULL);
    CHECK(strcmp(before, after) == 0);
    free(before);
    free(after);
}

TEST(soft_delete)
{
    struct http_resp r;
    char path[256], id2[128];
    snprintf(path, sizeof path, G "/%s?deleteSnapshots=maybe", gsql);
    CHECK(expect("DELETE", path, "ga", NULL, 400, "query parameter 'deleteSnapshots' must be true or false"));
    snprintf(path, sizeof path, G "/%s?deleteSnapshots=true", gsql);
    CHECK(http(&d, "DELETE", path, "ga", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    CHECK(r.len == 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, G "/%s", gsql);
    CHECK(expect("GET", path, "ga", NULL, 404, "no protection group"));
    CHECK(expect("DELETE", path, "ga", NULL, 404, "no protection group"));
    CHECK(expect("PUT", path, "ga", jfmt("{'name':'sql','policyId':'%s','environment':'kSQL','mssqlParams':"
                                        "{'protectionType':'kNative','nativeProtectionTypeParams':{'objects':[{'id':1}]}}}",
                                        pol1), 404, "no protection group"));
    CHECK(strcmp(names("ga", NULL), "files,volumes") == 0);
    CHECK(strcmp(names("ga", "?isDeleted=true"), "sql") == 0);
    CHECK(http(&d, "GET", G "?isDeleted=true", "ga", NULL, &r) == 0);
    CHECK(json_is_true(jget(r.json, "protectionGroups.0.isDeleted")));
    CHECK(strcmp(jstr(r.json, "protectionGroups.0.id"), gsql) == 0);
    http_resp_release(&r);
    /* the name is free again; the new group has a new id */
    CHECK_EQ_INT(post(G, "ga", jfmt("{'name':'sql','policyId':'%s','environment':'kSQL','mssqlParams':{'protectionType':"
                                   "'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld}]}}}", pol1,
                                   pgs.instance_id),
                      id2, sizeof id2, NULL), 201);
    CHECK(strcmp(id2, gsql) != 0);
    CHECK(strcmp(names("ga", NULL), "files,volumes,sql") == 0);
    CHECK(expect("DELETE", G "/x:y:z", "ga", NULL, 400, "path parameter 'id' must be a protection group id"));
    CHECK(expect("GET", G "/1:2", "ga", NULL, 400, "path parameter 'id' must be a protection group id"));
}

TEST(everything_survives_sigkill)
{
    char *live = listing("ga", NULL), *deleted = listing("ga", "?isDeleted=true"), *other = listing("gb", NULL), *after;
    char id[128];
    long long n_old, n_new;
    char how[96];
    /* "before" must be real listings holding the groups the tests made (two failed listings compare equal) */
    CHECKF(strcmp(names("ga", NULL), "files,volumes,sql") == 0 && strstr(live, gfile) && strstr(live, gvol),
           "ga before the kill: %s", live);
    CHECKF(strcmp(names("ga", "?isDeleted=true"), "sql") == 0 && strstr(deleted, gsql), "ga's deleted groups before the kill: %s", deleted);
    CHECKF(strcmp(names("gb", NULL), "files") == 0, "gb before the kill: %s", other);
    CHECKF(daemon_kill_how(&d, SIGKILL, how, sizeof how) == SIGKILL, "the daemon was not killed by SIGKILL: %s", how);
    CHECK(daemon_restart(&d, NULL) == 0);
    after = listing("ga", NULL);
    CHECKF(strcmp(live, after) == 0, "ga changed:\n%s\n%s", live, after);
    free(after);
    after = listing("ga", "?isDeleted=true");
    CHECKF(strcmp(deleted, after) == 0, "ga's deleted groups changed:\n%s\n%s", deleted, after);
    free(after);
    after = listing("gb", NULL);
    CHECKF(strcmp(other, after) == 0, "gb changed:\n%s\n%s", other, after);
    free(after);
    free(live);
    free(deleted);
    free(other);
    CHECK_EQ_INT(post(G, "ga", file_group("after-restart", pol1, vol_a, ""), id, sizeof id, NULL), 201);
    CHECK(sscanf(strrchr(gsql, ':') + 1, "%lld", &n_old) == 1 && sscanf(strrchr(id, ':') + 1, "%lld", &n_new) == 1);
    CHECK(n_new > n_old);
}

/* ---- the list is the groups' own documents ---------------------------------------------------- */

/* raw_get: the body of GET path as sent (malloc'd), or NULL after failing the check when not 200. */
static char *raw_get(const char *tenant, const char *path)
{
    struct http_resp r;
    char *body = NULL;
    if (http(&d, "GET", path, tenant, NULL, &r) == 0 && r.status == 200 && r.body) body = strdup(r.body);
    else check_fail(__FILE__, __LINE__, "GET %s (tenant %s): %ld %s", path, tenant, r.status, r.body ? r.body : "");
    http_resp_release(&r);
    return body;
}

#define MAX_LIVE 32
static char live_ids[MAX_LIVE][128]; /* ga's live groups, in creation order */
static size_t nlive;

/* in_set: whether s is one of the comma-separated values of set. */
static int in_set(const char *set, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = set; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0) return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* What a list query asks, to be applied to the groups' GET documents. */
struct want {
    const char *query;   /* the list's query string ("" or "?...") */
    int paused;          /* -1 any, else isPaused must be this */
    const char *names, *ids, *policies, *envs; /* comma-separated sets, NULL = any */
    int last_run;        /* includeLastRunInfo: the GETs ask for it too */
    const char *statuses; /* lastRunAnyStatus: the last run's status is one of these (comma-separated) */
};

/* expected_list: the list answer built from each live group's GET (in creation order) that w keeps;
 * malloc'd, NULL after failing the check. */
static char *expected_list(const struct want *w)
{
    size_t cap = 1 << 20, used = 0;
    char *out = malloc(cap);
    int n = 0;
    if (!out) return NULL;
    used += (size_t)snprintf(out, cap, "{\"protectionGroups\":[");
    for (size_t i = 0; i < nlive && out; i++) {
        char path[256], *doc;
        json_t *j;
        int keep;
        snprintf(path, sizeof path, G "/%s%s", live_ids[i], w->last_run ? "?includeLastRunInfo=true" : "");
        if (!(doc = raw_get("ga", path))) {
            free(out);
            return NULL;
        }
        j = json_loads(doc, 0, NULL);
        if (w->statuses && !w->last_run) { /* the status filter reads the last run, which the doc lacks */
            char *with;
            snprintf(path, sizeof path, G "/%s?includeLastRunInfo=true", live_ids[i]);
            with = raw_get("ga", path);
            json_decref(j);
            j = with ? json_loads(with, 0, NULL) : NULL;
            free(with);
        }
        keep = j && (!w->statuses || (jstr(j, "lastRun.localBackupInfo.status") &&
                                      in_set(w->statuses, jstr(j, "lastRun.localBackupInfo.status")))) && (w->paused < 0 || json_is_true(jget(j, "isPaused")) == w->paused) &&
               (!w->names || in_set(w->names, jstr(j, "name"))) && (!w->ids || in_set(w->ids, jstr(j, "id"))) &&
               (!w->policies || in_set(w->policies, jstr(j, "policyId"))) &&
               (!w->envs || in_set(w->envs, jstr(j, "environment")));
        json_decref(j);
        if (keep && used + strlen(doc) + 8 < cap)
            used += (size_t)snprintf(out + used, cap - used, "%s%s", n++ ? "," : "", doc);
        else if (keep)
            check_fail(__FILE__, __LINE__, "the expected list is larger than %zu bytes", cap);
        free(doc);
    }
    snprintf(out + used, cap - used, "]}");
    return out;
}

/* check_lists: every query of w answers, twice (the second time from the list cache when it is one),
 * byte for byte what the groups' own GETs make; returns how many groups the first one listed. */
static void check_lists(const struct want *w, size_t n, const char *when)
{
    for (size_t i = 0; i < n && !check_failed(); i++) {
        char path[1024], *want = expected_list(&w[i]), *got1, *got2;
        snprintf(path, sizeof path, G "%s", w[i].query);
        got1 = raw_get("ga", path);
        got2 = raw_get("ga", path);
        CHECKF(want && got1 && strcmp(want, got1) == 0, "%s: GET %s:\n%s\nbut the GETs make:\n%s", when, path,
               got1 ? got1 : "", want ? want : "");
        CHECKF(got1 && got2 && strcmp(got1, got2) == 0, "%s: GET %s twice:\n%s\n%s", when, path, got1 ? got1 : "",
               got2 ? got2 : "");
        free(want);
        free(got1);
        free(got2);
    }
}

/* seq_of: the number that ends a group id. */
static long long seq_of(const char *id)
{
    const char *c = strrchr(id, ':');
    return c ? atoll(c + 1) : 0;
}

/* run_and_wait: starts a run of group and waits (up to 120 s) until it has finished; its status
 * (static buffer) or "" after failing the check. */
static const char *run_and_wait(const char *group)
{
    static char status[64];
    struct http_resp r;
    char path[256], run_id[128] = "";
    status[0] = '\0';
    snprintf(path, sizeof path, G "/%s/runs", group);
    if (http(&d, "POST", path, "ga", "{\"runType\":\"kRegular\"}", &r) != 0 || r.status != 202) {
        check_fail(__FILE__, __LINE__, "POST %s: %ld %s", path, r.status, r.body ? r.body : "");
        http_resp_release(&r);
        return status;
    }
    snprintf(run_id, sizeof run_id, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    snprintf(path, sizeof path, G "/%s/runs/%s", group, run_id);
    for (int i = 0; run_id[0] && i < 1200; i++) {
        const char *st;
        if (http(&d, "GET", path, "ga", NULL, &r) != 0) break;
        st = jstr(r.json, "localBackupInfo.status");
        if (st && strcmp(st, "Accepted") != 0 && strcmp(st, "Running") != 0 && strcmp(st, "Canceling") != 0 &&
            strcmp(st, "Finalizing") != 0)
            snprintf(status, sizeof status, "%s", st);
        http_resp_release(&r);
        if (status[0]) break;
        usleep(100 * 1000);
    }
    if (!status[0]) check_fail(__FILE__, __LINE__, "run %s of %s did not finish in 120 s", run_id, group);
    return status;
}

TEST(list_is_the_gets)
{
    struct http_resp r;
    json_t *v;
    size_t i, nwant;
    char q_ids[600], q_pol[256], q_mix[512], ids_set[400], *gb_before, *gb_after, *deleted;
    struct want w[20];
    /* more groups: every other one paused, on pol2, a kSQL one among them */
    for (int k = 1; k <= 12 && !check_failed(); k++) {
        char name[32], extra[32];
        snprintf(name, sizeof name, "extra-%d", k);
        snprintf(extra, sizeof extra, ",'isPaused':%s", k % 2 ? "true" : "false");
        if (k == 7)
            CHECK_EQ_INT(post(G, "ga", jfmt("{'name':'%s','policyId':'%s','environment':'kSQL','mssqlParams':"
                                           "{'protectionType':'kNative','nativeProtectionTypeParams':{'objects':"
                                           "[{'id':%lld}]}}}", name, pol2, pgs.db_id), NULL, 0, NULL), 201);
        else
            CHECK_EQ_INT(post(G, "ga", file_group(name, k % 3 ? pol1 : pol2, host_a, extra), NULL, 0, NULL), 201);
    }
    /* groups with runs: two over a small tree (the newest is the one listed), one over a missing path */
    {
        char *tree = check_tmpdir("grouplist"), file[600], body[1024], id[128];
        for (int k = 0; k < 3; k++) {
            FILE *fp;
            snprintf(file, sizeof file, "%s/f%d.txt", tree, k);
            fp = fopen(file, "w");
            CHECK(fp != NULL);
            if (fp) {
                fprintf(fp, "file %d of the list test\n", k);
                fclose(fp);
            }
        }
        snprintf(body, sizeof body, "{'name':'with-runs','policyId':'%s','environment':'kPhysical','physicalParams':"
                 "{'protectionType':'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld,'filePaths':"
                 "[{'includedPath':'%s'}]}]}}}", pol1, host_a, tree);
        CHECK_EQ_INT(post(G, "ga", jfmt("%s", body), id, sizeof id, NULL), 201);
        CHECKF(strcmp(run_and_wait(id), "Succeeded") == 0, "the first run of with-runs");
        CHECKF(strcmp(run_and_wait(id), "Succeeded") == 0, "the second run of with-runs");
        snprintf(body, sizeof body, "{'name':'missing-path','policyId':'%s','environment':'kPhysical','physicalParams':"
                 "{'protectionType':'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld,'filePaths':"
                 "[{'includedPath':'%s/no-such-dir'}]}]}}}", pol2, host_a, tree);
        CHECK_EQ_INT(post(G, "ga", jfmt("%s", body), id, sizeof id, NULL), 201);
        CHECKF(run_and_wait(id)[0] != '\0', "the run of missing-path");
        check_rm_rf(tree);
        free(tree);
    }
    /* ga's live groups, in creation order, from their ids (not from the list under test) */
    CHECK(http(&d, "GET", G, "ga", NULL, &r) == 0);
    nlive = 0;
    json_array_foreach(jget(r.json, "protectionGroups"), i, v)
        if (nlive < MAX_LIVE) snprintf(live_ids[nlive++], sizeof live_ids[0], "%s", jstr(v, "id"));
    http_resp_release(&r);
    CHECK_EQ_INT(nlive, 18); /* files, volumes, sql, after-restart, 12 more, with-runs, missing-path */
    for (i = 1; i < nlive; i++) CHECKF(seq_of(live_ids[i - 1]) < seq_of(live_ids[i]), "list order at %zu", i);
    snprintf(ids_set, sizeof ids_set, "%s,%s,%s", live_ids[5], gfile, live_ids[9]);
    snprintf(q_ids, sizeof q_ids, "?ids=%s,%s&ids=%s", live_ids[5], gfile, live_ids[9]);
    snprintf(q_pol, sizeof q_pol, "?policyIds=%s", pol2);
    snprintf(q_mix, sizeof q_mix, "?environments=kPhysical&isPaused=false&policyIds=%s", pol1);
    nwant = 0;
    w[nwant++] = (struct want){ .query = "", .paused = -1 };
    w[nwant++] = (struct want){ .query = "?isPaused=true", .paused = 1 };
    w[nwant++] = (struct want){ .query = "?isPaused=false", .paused = 0 };
    w[nwant++] = (struct want){ .query = "?isActive=true&isDeleted=false", .paused = -1 };
    w[nwant++] = (struct want){ .query = "?names=files,sql,extra-3", .paused = -1, .names = "files,sql,extra-3" };
    w[nwant++] = (struct want){ .query = q_ids, .paused = -1, .ids = ids_set };
    w[nwant++] = (struct want){ .query = q_pol, .paused = -1, .policies = pol2 };
    w[nwant++] = (struct want){ .query = "?environments=kSQL", .paused = -1, .envs = "kSQL" };
    w[nwant++] = (struct want){ .query = q_mix, .paused = 0, .policies = pol1, .envs = "kPhysical" };
    w[nwant++] = (struct want){ .query = "?includeLastRunInfo=true", .paused = -1, .last_run = 1 };
    w[nwant++] = (struct want){ .query = "?includeLastRunInfo=true&isPaused=true", .paused = 1, .last_run = 1 };
    w[nwant++] = (struct want){ .query = "?names=nothing-like-it", .paused = -1, .names = "nothing-like-it" };
    w[nwant++] = (struct want){ .query = "?lastRunAnyStatus=Succeeded,Failed,SucceededWithWarning", .paused = -1,
                                .statuses = "Succeeded,Failed,SucceededWithWarning" };
    w[nwant++] = (struct want){ .query = "?lastRunLocalBackupStatus=Failed,SucceededWithWarning&includeLastRunInfo=true",
                                .paused = -1, .last_run = 1, .statuses = "Failed,SucceededWithWarning" };
    w[nwant++] = (struct want){ .query = "?lastRunAnyStatus=Succeeded&lastRunLocalBackupStatus=Succeeded,Failed"
                                "&includeLastRunInfo=true&environments=kPhysical", .paused = -1, .last_run = 1,
                                .statuses = "Succeeded", .envs = "kPhysical" };
    check_lists(w, nwant, "after creating");
    gb_before = raw_get("gb", G);

    /* every kind of change is in the next list at once: pause, policy, name, create, delete */
    {
        char path[256];
        snprintf(path, sizeof path, G "/%s", live_ids[4]);
        CHECK(http(&d, "PUT", path, "ga", file_group("renamed", pol2, host_a, ",'isPaused':false"), &r) == 0);
        CHECKF(r.status == 200, "%ld %s", r.status, r.body);
        http_resp_release(&r);
        w[4].names = "files,sql,extra-3,renamed";
        w[4].query = "?names=files,sql,extra-3,renamed";
        check_lists(w, nwant, "after an update");
        CHECK_EQ_INT(post(G, "ga", file_group("newest", pol2, host_a, ",'isPaused':true"), live_ids[nlive], 128, NULL),
                     201);
        nlive++;
        check_lists(w, nwant, "after a create");
        snprintf(path, sizeof path, G "/%s", live_ids[1]);
        deleted = strdup(live_ids[1]);
        CHECK(http(&d, "DELETE", path, "ga", NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 204);
        http_resp_release(&r);
        memmove(live_ids[1], live_ids[2], (nlive - 2) * sizeof live_ids[0]);
        nlive--;
        check_lists(w, nwant, "after a delete");
        CHECK(strstr(names("ga", "?isDeleted=true"), "volumes") != NULL);
        CHECK(strstr(names("ga", NULL), "volumes") == NULL);
        free(deleted);
    }
    /* a run is in the next list with last runs at once (those lists are cached too, under the runs'
     * generation as well): with-runs runs again (its tree is gone: the run fails) */
    {
        char *before = raw_get("ga", G "?includeLastRunInfo=true"), *after, with_runs[128] = "";
        CHECK(http(&d, "GET", G "?names=with-runs", "ga", NULL, &r) == 0);
        v = json_array_get(jget(r.json, "protectionGroups"), 0);
        snprintf(with_runs, sizeof with_runs, "%s", jstr(v, "id") ? jstr(v, "id") : "");
        http_resp_release(&r);
        CHECK(with_runs[0] != '\0');
        CHECKF(run_and_wait(with_runs)[0] != '\0', "the third run of with-runs");
        after = raw_get("ga", G "?includeLastRunInfo=true");
        CHECKF(before && after && strcmp(before, after) != 0, "the list with last runs did not change after a run");
        check_lists(w, nwant, "after a run");
        free(before);
        free(after);
    }
    /* another tenant's cached list did not change, and is not ga's */
    gb_after = raw_get("gb", G);
    CHECK(gb_before && gb_after && strcmp(gb_before, gb_after) == 0);
    CHECK(gb_after && !strstr(gb_after, "extra-"));
    free(gb_before);
    free(gb_after);
}

int main(void)
{
    char why[512] = "";
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    if (pgsource_start(&pgs, &d, "ga", 55291, "db1", why, sizeof why) != 0) check_abandon(why);
    RUN(setup);
    if (check_failed()) check_abandon("setup failed"); /* each later test counts as failed, not run */
    RUN(create_and_get);
    RUN(bad_bodies_change_nothing);
    RUN(list_filters);
    RUN(update_pause_resume_and_staleness);
    RUN(tenants_are_isolated);
    RUN(soft_delete);
    RUN(everything_survives_sigkill);
    RUN(list_is_the_gets);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    pgsource_stop(&pgs);
    return check_finish();
}
