/* e2e_policies.c: /v2/data-protect/policies against the real daemon: create, list (filters, stats),
 * get, update (stale check), delete (in-use check); every class of bad input answers 4xx with a
 * message naming the field and changes nothing (the list and the policy are read again); tenants do
 * not see each other's policies; and after SIGKILL and a restart every policy is there with the same
 * id and content, and new ids do not reuse old ones. The list answers, with its filters and after each
 * kind of change, byte for byte what the policies' own GETs make (list_is_the_gets: the list cache,
 * api/list_cache.h, serves nothing stale; includeStats follows group changes). */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/pgsource.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P "/v2/data-protect/policies"
#define G "/v2/data-protect/protection-groups"

static struct daemon d;
static struct pgsource pgs; /* ta's PostgreSQL: the kSQL group's instance */

/* q: a body written with single quotes, as JSON text (static buffer, one at a time). */
static const char *q(const char *s)
{
    static char buf[8192];
    size_t n = strlen(s);
    if (n >= sizeof buf) n = sizeof buf - 1;
    for (size_t i = 0; i < n; i++) buf[i] = s[i] == '\'' ? '"' : s[i];
    buf[n] = '\0';
    return buf;
}

#define BODY(name, extra) "{'name':'" name "','description':'nightly','backupPolicy':{'regular':{'incremental':" \
    "{'schedule':{'unit':'Hours','hourSchedule':{'frequency':6}}},'retention':{'unit':'Days','duration':14}}}" extra "}"

/* create: POST a policy; copies its id; returns the status. */
static long create(const char *tenant, const char *body, char *id, size_t idlen)
{
    struct http_resp r;
    long st;
    if (http(&d, "POST", P, tenant, q(body), &r) != 0) return -1;
    st = r.status;
    if (id) snprintf(id, idlen, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    http_resp_release(&r);
    return st;
}

/* listing: the tenant's list as compact sorted JSON text (malloc'd), to compare before and after. */
static char *listing(const char *tenant)
{
    struct http_resp r;
    char *s = NULL;
    if (http(&d, "GET", P, tenant, NULL, &r) == 0 && r.status == 200 && r.json)
        s = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    else /* two failed listings would compare equal: a failed one fails the test */
        check_fail(__FILE__, __LINE__, "GET %s (tenant %s): %ld %s", P, tenant, r.status, r.body ? r.body : "");
    http_resp_release(&r);
    return s ? s : strdup("(no list)");
}

static size_t list_len(const char *tenant, const char *query)
{
    struct http_resp r;
    char path[512];
    size_t n = (size_t)-1;
    snprintf(path, sizeof path, P "%s", query ? query : "");
    if (http(&d, "GET", path, tenant, NULL, &r) == 0 && r.status == 200) n = json_array_size(jget(r.json, "policies"));
    http_resp_release(&r);
    return n;
}

/* expect: sends a request that must fail with status and a message containing want. */
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

TEST(create_get_and_list)
{
    char id[128], path[256];
    struct http_resp r;
    long long c, i, n;
    CHECK_EQ_INT(create("ta", BODY("gold", ",'retryOptions':{'retries':2,'retryIntervalMins':10},"
                                          "'blackoutWindow':[{'day':'Sunday','startTime':{'hour':1,'minute':0},"
                                          "'endTime':{'hour':3,'minute':30}}],'dataLock':'Compliance','version':1"),
                        id, sizeof id), 201);
    CHECKF(sscanf(id, "%lld:%lld:%lld", &c, &i, &n) == 3 && c > 0 && i > 0 && n > 0, "id '%s'", id);
    snprintf(path, sizeof path, P "/%s", id);
    CHECK(http(&d, "GET", path, "ta", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strcmp(jstr(r.json, "id"), id) == 0);
    CHECK(strcmp(jstr(r.json, "name"), "gold") == 0);
    CHECK(strcmp(jstr(r.json, "description"), "nightly") == 0);
    CHECK(strcmp(jstr(r.json, "backupPolicy.regular.incremental.schedule.unit"), "Hours") == 0);
    CHECK_EQ_INT(jint(r.json, "backupPolicy.regular.incremental.schedule.hourSchedule.frequency"), 6);
    CHECK(strcmp(jstr(r.json, "backupPolicy.regular.retention.unit"), "Days") == 0);
    CHECK_EQ_INT(jint(r.json, "backupPolicy.regular.retention.duration"), 14);
    CHECK_EQ_INT(jint(r.json, "retryOptions.retries"), 2);
    CHECK_EQ_INT(jint(r.json, "blackoutWindow.0.endTime.minute"), 30);
    CHECK(strcmp(jstr(r.json, "dataLock"), "Compliance") == 0);
    CHECK(jint(r.json, "lastModificationTimeUsecs") > 1600000000LL * 1000000);
    CHECK(json_is_true(jget(r.json, "isUsable")));
    http_resp_release(&r);

    CHECK_EQ_INT(create("ta", BODY("silver", ""), NULL, 0), 201);
    CHECK_EQ_INT(list_len("ta", NULL), 2);
    CHECK(http(&d, "GET", P "?policyNames=silver", "ta", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "policies")), 1);
    CHECK(strcmp(jstr(r.json, "policies.0.name"), "silver") == 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, P "?ids=%s", id);
    CHECK(http(&d, "GET", path, "ta", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "policies")), 1);
    CHECK(strcmp(jstr(r.json, "policies.0.id"), id) == 0);
    CHECK(jget(r.json, "policies.0.numProtectionGroups") == NULL);   /* only with includeStats */
    http_resp_release(&r);
    CHECK_EQ_INT(list_len("ta", "?policyNames=gold,silver"), 2);     /* the SDK joins lists with commas */
    CHECK_EQ_INT(list_len("ta", "?policyNames=gold&policyNames=silver"), 2);
    CHECK_EQ_INT(list_len("ta", "?policyNames=bronze"), 0);
    CHECK_EQ_INT(list_len("ta", "?types=Regular"), 2);
    CHECK_EQ_INT(list_len("ta", "?types=Internal"), 0);
    CHECK_EQ_INT(list_len("ta", "?includeStats=true&excludeLinkedPolicies=true&includeReplicatedPolicies=false"), 2);
}

TEST(bad_bodies_change_nothing)
{
    static const struct { const char *body; const char *want; } cases[] = {
        { "{'name':'x',", "body is not valid JSON" },
        { "[1,2]", "body must be a JSON object" },
        { "{'name':7}", "field 'name' must be a string" },
        { "{'backupPolicy':{}}", "field 'name' is required" },
        { "{'name':'x'}", "field 'backupPolicy' is required" },
        { "{'name':'x','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Fortnights'}},"
          "'retention':{'unit':'Days','duration':1}}}}",
          "field 'backupPolicy.regular.incremental.schedule.unit' has unknown value 'Fortnights'" },
        { "{'name':'x','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Minutes','minuteSchedule':"
          "{'frequency':'5'}}},'retention':{'unit':'Days','duration':1}}}}",
          "field 'backupPolicy.regular.incremental.schedule.minuteSchedule.frequency' must be an integer" },
        { "{'name':'x','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Minutes'}},"
          "'retention':{'unit':'Days','duration':1}}}}",
          "field 'backupPolicy.regular.incremental.schedule.minuteSchedule' is required when unit is 'Minutes'" },
        { BODY("x", ",'retryOptions':{'retries':-1}"), "field 'retryOptions.retries' must be >= 0" },
        { "{'name':'x','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days','daySchedule':"
          "{'frequency':1}}},'retention':{'unit':'Days','duration':0}}}}",
          "field 'backupPolicy.regular.retention.duration' must be > 0" },
        { BODY("x", ",'blackoutWindow':[{'day':'Someday','startTime':{'hour':1,'minute':0},'endTime':{'hour':2,'minute':0}}]"),
          "field 'blackoutWindow[0].day' has unknown value 'Someday'" },
        { BODY("x", ",'dataLock':'Forever'"), "field 'dataLock' has unknown value 'Forever'" },
        { BODY("gold", ""), "a protection policy named 'gold' already exists" },
    };
    char *before = listing("ta");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long want = strstr(cases[i].want, "already exists") ? 409 : 400;
        if (!expect("POST", P, "ta", q(cases[i].body), want, cases[i].want)) break;
    }
    {
        char *after = listing("ta");
        CHECKF(strcmp(before, after) == 0, "the list changed:\n%s\n%s", before, after);
        free(after);
    }
    free(before);
    CHECK(expect("POST", P, "ta", NULL, 400, "a JSON object body is required"));
    CHECK(expect("GET", P "?includeStats=maybe", "ta", NULL, 400, "query parameter 'includeStats'"));
    CHECK(expect("GET", P "?types=Odd", "ta", NULL, 400, "query parameter 'types' has unknown value 'Odd'"));
}

/* find_id: the id of the tenant's policy named name (into id). */
static int find_id(const char *tenant, const char *name, char *id, size_t len)
{
    struct http_resp r;
    char path[256];
    int ok = 0;
    snprintf(path, sizeof path, P "?policyNames=%s", name);
    if (http(&d, "GET", path, tenant, NULL, &r) == 0 && jstr(r.json, "policies.0.id")) {
        snprintf(id, len, "%s", jstr(r.json, "policies.0.id"));
        ok = 1;
    }
    http_resp_release(&r);
    return ok;
}

TEST(update_checks_staleness)
{
    char id[128], path[256], body[1024], *before, *after;
    struct http_resp r;
    long long m1, m2;
    CHECK(find_id("ta", "silver", id, sizeof id));
    snprintf(path, sizeof path, P "/%s", id);
    CHECK(http(&d, "GET", path, "ta", NULL, &r) == 0);
    m1 = jint(r.json, "lastModificationTimeUsecs");
    http_resp_release(&r);

    snprintf(body, sizeof body,
             "{\"name\":\"silver\",\"description\":\"changed\",\"lastModificationTimeUsecs\":%lld,"
             "\"backupPolicy\":{\"regular\":{\"incremental\":{\"schedule\":{\"unit\":\"Weeks\",\"weekSchedule\":"
             "{\"dayOfWeek\":[\"Monday\",\"Thursday\"]}}},\"retention\":{\"unit\":\"Weeks\",\"duration\":4}}}}", m1);
    CHECK(http(&d, "PUT", path, "ta", body, &r) == 0);
    CHECKF(r.status == 200, "status %ld: %s", r.status, r.body);
    CHECK(strcmp(jstr(r.json, "id"), id) == 0);
    CHECK(strcmp(jstr(r.json, "description"), "changed") == 0);
    CHECK(strcmp(jstr(r.json, "backupPolicy.regular.incremental.schedule.weekSchedule.dayOfWeek.1"), "Thursday") == 0);
    m2 = jint(r.json, "lastModificationTimeUsecs");
    CHECK(m2 > m1);
    http_resp_release(&r);

    /* the same (now stale) timestamp again: 412, nothing changes */
    before = listing("ta");
    CHECK(expect("PUT", path, "ta", body, 412, "field 'lastModificationTimeUsecs' is stale"));
    /* invalid update: 400, nothing changes */
    CHECK(expect("PUT", path, "ta", q("{'name':'silver','backupPolicy':{'regular':{'incremental':{'schedule':"
                                       "{'unit':'Days','daySchedule':{'frequency':0}}},'retention':{'unit':'Days','duration':1}}}}"),
                 400, "field 'backupPolicy.regular.incremental.schedule.daySchedule.frequency' must be > 0"));
    CHECK(expect("PUT", path, "ta", "{\"name\":", 400, "body is not valid JSON"));
    /* renaming onto another policy's name: 409 */
    CHECK(expect("PUT", path, "ta", q(BODY("gold", "")), 409, "a protection policy named 'gold' already exists"));
    after = listing("ta");
    CHECKF(strcmp(before, after) == 0, "the list changed:\n%s\n%s", before, after);
    free(before);
    free(after);

    /* no timestamp: no check */
    CHECK(http(&d, "PUT", path, "ta", q(BODY("silver", "")), &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(jint(r.json, "lastModificationTimeUsecs") > m2);
    CHECK(strcmp(jstr(r.json, "description"), "nightly") == 0);
    http_resp_release(&r);

    CHECK(expect("PUT", P "/1:2:999999", "ta", q(BODY("silver", "")), 404, "no protection policy with id '1:2:999999'"));
    CHECK(expect("PUT", P "/not-an-id", "ta", q(BODY("silver", "")), 400, "path parameter 'id' must be a protection policy id"));
}

TEST(ids_of_the_wrong_shape_or_unknown)
{
    static const char *const bad[] = { "abc", "1:2", "1:2:3:4", "0:1:2", "1:2:x", "-1:2:3", "1:2:3%20" };
    char path[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, P "/%s", bad[i]);
        if (!expect("GET", path, "ta", NULL, 400, "path parameter 'id' must be a protection policy id")) return;
        if (!expect("DELETE", path, "ta", NULL, 400, "path parameter 'id'")) return;
    }
    CHECK(expect("GET", P "/1:1:424242", "ta", NULL, 404, "no protection policy with id '1:1:424242'"));
    CHECK(expect("DELETE", P "/1:1:424242", "ta", NULL, 404, "no protection policy"));
}

TEST(tenants_are_isolated)
{
    char id[128], path[256], *before;
    CHECK(find_id("ta", "gold", id, sizeof id));
    snprintf(path, sizeof path, P "/%s", id);
    CHECK(expect("GET", path, "tb", NULL, 404, "no protection policy"));
    CHECK(expect("PUT", path, "tb", q(BODY("gold", "")), 404, "no protection policy"));
    CHECK(expect("DELETE", path, "tb", NULL, 404, "no protection policy"));
    CHECK_EQ_INT(list_len("tb", NULL), 0);
    snprintf(path, sizeof path, P "?ids=%s", id);
    CHECK_EQ_INT(list_len("tb", path + strlen(P)), 0);
    /* the same name is fine in another tenant */
    before = listing("ta");
    CHECK_EQ_INT(create("tb", BODY("gold", ""), NULL, 0), 201);
    CHECK_EQ_INT(list_len("tb", NULL), 1);
    {
        char *after = listing("ta");
        CHECK(strcmp(before, after) == 0);
        free(after);
    }
    free(before);
    CHECK(expect("GET", P, NULL, NULL, 400, "X-IBM-Tenant-Id"));
}

TEST(delete_refuses_a_policy_in_use)
{
    char id[128], path[256], gid[128], gpath[256], body[1024], *before;
    struct http_resp r;
    CHECK_EQ_INT(create("ta", BODY("bronze", ""), id, sizeof id), 201);
    snprintf(body, sizeof body,
             "{\"name\":\"uses-bronze\",\"policyId\":\"%s\",\"environment\":\"kSQL\",\"mssqlParams\":"
             "{\"protectionType\":\"kFile\",\"fileProtectionTypeParams\":{\"objects\":[{\"id\":%lld}]}}}", id,
             pgs.instance_id);
    CHECK(http(&d, "POST", G, "ta", body, &r) == 0);
    CHECKF(r.status == 201, "group: %ld %s", r.status, r.body);
    snprintf(gid, sizeof gid, "%s", jstr(r.json, "id"));
    http_resp_release(&r);

    CHECK(http(&d, "GET", P "?includeStats=true&policyNames=bronze", "ta", NULL, &r) == 0);
    CHECK_EQ_INT(jint(r.json, "policies.0.numProtectionGroups"), 1);
    CHECK_EQ_INT(jint(r.json, "policies.0.numProtectedObjects"), 1);
    http_resp_release(&r);

    snprintf(path, sizeof path, P "/%s", id);
    before = listing("ta");
    CHECK(expect("DELETE", path, "ta", NULL, 409, "is used by 1 protection group"));
    {
        char *after = listing("ta");
        CHECK(strcmp(before, after) == 0);
        free(after);
    }
    free(before);

    snprintf(gpath, sizeof gpath, G "/%s", gid);
    CHECK(http(&d, "DELETE", gpath, "ta", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    http_resp_release(&r);
    CHECK(http(&d, "GET", P "?includeStats=true&policyNames=bronze", "ta", NULL, &r) == 0);
    CHECK_EQ_INT(jint(r.json, "policies.0.numProtectionGroups"), 0);
    http_resp_release(&r);
    CHECK(http(&d, "DELETE", path, "ta", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    CHECK(r.len == 0);
    http_resp_release(&r);
    CHECK(expect("GET", path, "ta", NULL, 404, "no protection policy"));
    CHECK(expect("DELETE", path, "ta", NULL, 404, "no protection policy"));
    CHECK_EQ_INT(list_len("ta", "?policyNames=bronze"), 0);
}

TEST(everything_survives_sigkill)
{
    char *before_a = listing("ta"), *before_b = listing("tb"), *after, id[128], id2[128];
    long long n1, n2;
    char how[96];
    CHECK(find_id("ta", "gold", id, sizeof id));
    /* "before" must be a real listing holding what the tests made (two failed listings compare equal) */
    CHECKF(strstr(before_a, "\"name\":\"gold\"") && strstr(before_a, id) && list_len("ta", NULL) >= 2,
           "ta before the kill: %s", before_a);
    CHECKF(strstr(before_b, "\"name\":\"gold\"") && list_len("tb", NULL) == 1, "tb before the kill: %s", before_b);
    CHECKF(daemon_kill_how(&d, SIGKILL, how, sizeof how) == SIGKILL, "the daemon was not killed by SIGKILL: %s", how);
    CHECK(daemon_restart(&d, NULL) == 0);
    after = listing("ta");
    CHECKF(strcmp(before_a, after) == 0, "tenant ta changed:\n%s\n%s", before_a, after);
    free(after);
    after = listing("tb");
    CHECKF(strcmp(before_b, after) == 0, "tenant tb changed:\n%s\n%s", before_b, after);
    free(after);
    free(before_a);
    free(before_b);
    /* a new policy gets a new number, after every earlier one (deleted ones included) */
    CHECK_EQ_INT(create("ta", BODY("after-restart", ""), id2, sizeof id2), 201);
    CHECK(sscanf(strrchr(id, ':') + 1, "%lld", &n1) == 1 && sscanf(strrchr(id2, ':') + 1, "%lld", &n2) == 1);
    CHECK(n2 > n1 + 3);
    CHECK(strncmp(id, id2, (size_t)(strrchr(id, ':') - id)) == 0); /* same cluster and incarnation */
}

/* ---- the list is the policies' own documents -------------------------------------------------- */

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

/* expected: {"policies":[...]} from the GETs of the comma-separated ids, in that order (malloc'd). */
static char *expected(const char *ids)
{
    size_t cap = 1 << 18, used = 0;
    char *out = malloc(cap), id[128];
    int n = 0;
    if (!out) return NULL;
    used += (size_t)snprintf(out, cap, "{\"policies\":[");
    for (const char *p = ids; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char path[256], *doc;
        snprintf(id, sizeof id, "%.*s", (int)len, p);
        snprintf(path, sizeof path, P "/%s", id);
        if ((doc = raw_get("ta", path)) && used + strlen(doc) + 8 < cap)
            used += (size_t)snprintf(out + used, cap - used, "%s%s", n++ ? "," : "", doc);
        free(doc);
        p = end ? end + 1 : NULL;
    }
    snprintf(out + used, cap - used, "]}");
    return out;
}

/* same_twice: GET path answers want, twice (the second time from the list cache). */
static void same_twice(const char *path, const char *want, const char *when)
{
    for (int i = 0; i < 2; i++) {
        char *got = raw_get("ta", path);
        CHECKF(got && want && strcmp(got, want) == 0, "%s: GET %s (%d):\n%s\nbut the GETs make:\n%s", when, path, i,
               got ? got : "", want ? want : "");
        free(got);
    }
}

TEST(list_is_the_gets)
{
    char ids[4][128], all[600], two[300], path[800], *want, *stats1, *stats2, body[1024];
    struct http_resp r;
    CHECK_EQ_INT(create("ta", BODY("list-a", ""), ids[0], sizeof ids[0]), 201);
    CHECK_EQ_INT(create("ta", BODY("list-b", ""), ids[1], sizeof ids[1]), 201);
    CHECK_EQ_INT(create("ta", BODY("list-c", ""), ids[2], sizeof ids[2]), 201);
    snprintf(two, sizeof two, "%s,%s", ids[0], ids[2]);
    snprintf(path, sizeof path, P "?ids=%s", two);
    want = expected(two);
    same_twice(path, want, "ids");
    free(want);
    want = expected(ids[1]);
    same_twice(P "?policyNames=list-b", want, "names");
    free(want);
    same_twice(P "?types=Internal", "{\"policies\":[]}", "types=Internal");
    snprintf(all, sizeof all, "%s,%s,%s", ids[0], ids[1], ids[2]);
    snprintf(path, sizeof path, P "?policyNames=list-a,list-b,list-c&types=Regular");
    want = expected(all);
    same_twice(path, want, "three by name");
    free(want);

    /* an update, a create and a delete are each in the next list */
    snprintf(body, sizeof body, "%s", q(BODY("list-b", ",'retryOptions':{'retries':2,'retryIntervalMins':7}")));
    snprintf(path, sizeof path, P "/%s", ids[1]);
    CHECK(http(&d, "PUT", path, "ta", body, &r) == 0);
    CHECKF(r.status == 200, "PUT: %ld %s", r.status, r.body);
    http_resp_release(&r);
    snprintf(path, sizeof path, P "?policyNames=list-a,list-b,list-c,list-d&types=Regular");
    want = expected(all);
    CHECK(want && strstr(want, "\"retryIntervalMins\":7"));
    same_twice(path, want, "after an update");
    free(want);
    CHECK_EQ_INT(create("ta", BODY("list-d", ""), ids[3], sizeof ids[3]), 201);
    snprintf(all, sizeof all, "%s,%s,%s,%s", ids[0], ids[1], ids[2], ids[3]);
    want = expected(all);
    same_twice(path, want, "after a create");
    free(want);
    {
        char dpath[256];
        snprintf(dpath, sizeof dpath, P "/%s", ids[0]);
        CHECK(http(&d, "DELETE", dpath, "ta", NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 204);
        http_resp_release(&r);
    }
    snprintf(all, sizeof all, "%s,%s,%s", ids[1], ids[2], ids[3]);
    want = expected(all);
    same_twice(path, want, "after a delete");
    free(want);

    /* includeStats counts groups: a new group of list-c is in the next list's statistics */
    stats1 = raw_get("ta", P "?includeStats=true&policyNames=list-c");
    CHECK(stats1 && strstr(stats1, "\"numProtectionGroups\":0,"));
    snprintf(body, sizeof body,
             "{\"name\":\"uses-list-c\",\"policyId\":\"%s\",\"environment\":\"kSQL\",\"mssqlParams\":"
             "{\"protectionType\":\"kFile\",\"fileProtectionTypeParams\":{\"objects\":[{\"id\":%lld}]}}}", ids[2],
             pgs.instance_id);
    CHECK(http(&d, "POST", G, "ta", body, &r) == 0);
    CHECKF(r.status == 201, "group: %ld %s", r.status, r.body);
    http_resp_release(&r);
    stats2 = raw_get("ta", P "?includeStats=true&policyNames=list-c");
    CHECKF(stats2 && strstr(stats2, "\"numProtectionGroups\":1,\"numProtectedObjects\":1}"), "%s", stats2 ? stats2 : "");
    free(stats1);
    free(stats2);
}

int main(void)
{
    char why[512] = "";
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    if (pgsource_start(&pgs, &d, "ta", 55290, "db1", why, sizeof why) != 0) check_abandon(why);
    RUN(create_get_and_list);
    RUN(bad_bodies_change_nothing);
    RUN(update_checks_staleness);
    RUN(ids_of_the_wrong_shape_or_unknown);
    RUN(tenants_are_isolated);
    RUN(delete_refuses_a_policy_in_use);
    RUN(everything_survives_sigkill);
    RUN(list_is_the_gets);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    pgsource_stop(&pgs);
    return check_finish();
}
