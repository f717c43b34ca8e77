/* e2e_v1_sources.c: the v1 protection source tree against the real daemon:
 * GET /irisservices/api/v1/public/protectionSources and .../protectionSources/registrationInfo.
 *
 * Tenant "v1a" registers this machine for kPhysical (custom name "mine": discovered, volumes as child
 * nodes with the ids the v2 registration shows), a remote host (not reached: a root without nodes,
 * kPending with the reason) and this machine again for kSQL; tenant "v1b" registers this machine.
 * Checked: the roots and their nodes, registrationInfo, agents, volumes; the /v2 alias answers the
 * same; every filter (environments, id, numLevels, excludeTypes, sids, pruning, permission and
 * protection info, credentials) and pagination of roots and of a node's children; bad parameters
 * are 400 naming them; a protection group over the host makes its volumes protected in the
 * summaries and stats, and deleting it makes them unprotected again; tenants see only their own
 * tree (another tenant's id is 404); the header X-IBM-Tenant-Id is required; the tree is the same
 * after SIGKILL and restart. */
#include "check.h"
#include "e2e/harness.h"
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TREE "/irisservices/api/v1/public/protectionSources"
#define INFO "/irisservices/api/v1/public/protectionSources/registrationInfo"
#define REGS "/v2/data-protect/sources/registrations"

static struct daemon d;
static long long host_a, remote_a, sql_a, host_b, vol_root; /* registration ids; the "/" volume of host_a */
static long long nvols;                                     /* host_a's volumes */
static long long cluster_id;

/* get: GET path in tenant; the response is kept in *r (release it). Returns the status. */
static long get(const char *path, const char *tenant, struct http_resp *r)
{
    if (http(&d, "GET", path, tenant, NULL, r) != 0) return -1;
    return r->status;
}

/* expect: GET path answers status with a message containing want. */
static int expect(const char *path, const char *tenant, long status, const char *want)
{
    struct http_resp r;
    const char *msg;
    long st = get(path, tenant, &r);
    msg = jstr(r.json, "message");
    if (st != status || !msg || !strstr(msg, want)) {
        check_fail(__FILE__, __LINE__, "GET %s: got %ld %s, want %ld with '%s'", path, st, r.body ? r.body : "",
                   status, want);
        http_resp_release(&r);
        return 0;
    }
    http_resp_release(&r);
    return 1;
}

/* root_ids: the protectionSource ids of the top-level nodes of a tree answer, "a,b,c" (static). */
static const char *root_ids(json_t *arr)
{
    static char out[512];
    size_t i, used = 0;
    json_t *n;
    out[0] = '\0';
    json_array_foreach(arr, i, n)
        used += (size_t)snprintf(out + used, sizeof out - used, "%s%lld", i ? "," : "",
                                 jint(n, "protectionSource.id"));
    return out;
}

static const char *ids3(long long a, long long b, long long c)
{
    static char out[96];
    if (c) snprintf(out, sizeof out, "%lld,%lld,%lld", a, b, c);
    else if (b) snprintf(out, sizeof out, "%lld,%lld", a, b);
    else snprintf(out, sizeof out, "%lld", a);
    return out;
}

/* tree_ids: GET TREE+query in tenant and return root_ids (static), or "(status N)". */
static const char *tree_ids(const char *query, const char *tenant)
{
    static char out[512];
    struct http_resp r;
    char path[512];
    snprintf(path, sizeof path, TREE "%s", query);
    if (get(path, tenant, &r) != 200 || !json_is_array(r.json))
        snprintf(out, sizeof out, "(status %ld: %.300s)", r.status, r.body ? r.body : "");
    else
        snprintf(out, sizeof out, "%s", root_ids(r.json));
    http_resp_release(&r);
    return out;
}

/* node_of: the top-level node with id in arr (borrowed) or NULL. */
static json_t *node_of(json_t *arr, long long id)
{
    size_t i;
    json_t *n;
    json_array_foreach(arr, i, n)
        if (jint(n, "protectionSource.id") == id) return n;
    return NULL;
}

TEST(setup)
{
    struct http_resp r;
    size_t i;
    json_t *k;
    CHECK(http(&d, "POST", REGS, "v1a", jfmt("{'environment':'kPhysical','name':'mine','physicalParams':"
                                             "{'endpoint':'localhost','hostType':'kLinux'}}"), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    host_a = jint(r.json, "id");
    nvols = (long long)json_array_size(jget(r.json, "sourceInfo.childObjects"));
    json_array_foreach(jget(r.json, "sourceInfo.childObjects"), i, k)
        if (strcmp(jstr(k, "name"), "/") == 0) vol_root = jint(k, "id");
    http_resp_release(&r);
    CHECK(host_a > 0 && nvols >= 1 && vol_root > 0);
    CHECK(http(&d, "POST", REGS, "v1a", jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'10.77.0.9'}}"),
               &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    remote_a = jint(r.json, "id");
    http_resp_release(&r);
    CHECK(http(&d, "POST", REGS, "v1a", jfmt("{'environment':'kSQL','name':'pg','physicalParams':"
                                             "{'endpoint':'127.0.0.1','applications':['kSQL']}}"), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    sql_a = jint(r.json, "id");
    http_resp_release(&r);
    CHECK(http(&d, "POST", REGS, "v1b", jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'localhost'}}"),
               &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    host_b = jint(r.json, "id");
    http_resp_release(&r);
    CHECK(remote_a > host_a && sql_a > remote_a && host_b > sql_a);
    /* The cluster's id, as the v2 search shows it, for the UniqueGlobalIDs. */
    CHECK(get("/v2/data-protect/search/objects?count=1", "v1a", &r) == 200);
    cluster_id = jint(r.json, "objects.0.objectProtectionInfos.0.clusterId");
    http_resp_release(&r);
    CHECK(cluster_id > 0);
}

TEST(tree_of_registered_sources)
{
    struct http_resp r, v2;
    json_t *h, *rem, *sql, *nodes, *n;
    size_t i;
    int saw_root = 0;
    CHECK(get(TREE, "v1a", &r) == 200);
    CHECK(json_is_array(r.json));
    CHECKF(strcmp(root_ids(r.json), ids3(host_a, remote_a, sql_a)) == 0, "roots %s", root_ids(r.json));
    h = node_of(r.json, host_a);
    rem = node_of(r.json, remote_a);
    sql = node_of(r.json, sql_a);
    /* the discovered host */
    CHECK(strcmp(jstr(h, "protectionSource.name"), "localhost") == 0);
    CHECK(strcmp(jstr(h, "protectionSource.customName"), "mine") == 0);
    CHECK(strcmp(jstr(h, "protectionSource.environment"), "kPhysical") == 0);
    CHECK(jget(h, "protectionSource.parentId") == NULL);
    CHECK(strcmp(jstr(h, "protectionSource.physicalProtectionSource.type"), "kHost") == 0);
    CHECK(strcmp(jstr(h, "protectionSource.physicalProtectionSource.hostType"), "kLinux") == 0);
    CHECK_EQ_INT(jint(h, "protectionSource.physicalProtectionSource.id.id"), host_a);
    CHECK_EQ_INT(jint(h, "protectionSource.physicalProtectionSource.id.clusterId"), cluster_id);
    CHECK(jint(h, "protectionSource.physicalProtectionSource.id.clusterIncarnationId") > 0);
    CHECK_EQ_INT(jint(h, "protectionSource.physicalProtectionSource.agents.0.id"), host_a);
    CHECK(strcmp(jstr(h, "protectionSource.physicalProtectionSource.agents.0.status"), "kHealthy") == 0);
    CHECK_EQ_INT(json_array_size(jget(h, "protectionSource.physicalProtectionSource.volumes")), nvols);
    CHECK(strcmp(jstr(h, "registrationInfo.authenticationStatus"), "kFinished") == 0);
    CHECK(strcmp(jstr(h, "registrationInfo.environments.0"), "kPhysical") == 0);
    CHECK(strcmp(jstr(h, "registrationInfo.accessInfo.endpoint"), "localhost") == 0);
    CHECK(jint(h, "registrationInfo.registrationTimeUsecs") > 1600000000000000LL);
    CHECK(jint(h, "registrationInfo.refreshTimeUsecs") >= jint(h, "registrationInfo.registrationTimeUsecs"));
    CHECK(jget(h, "registrationInfo.refreshErrorMessage") == NULL);
    CHECK(json_is_integer(jget(h, "logicalSize")));
    CHECK(strcmp(jstr(h, "unprotectedSourcesSummary.0.environment"), "kPhysical") == 0);
    CHECK_EQ_INT(jint(h, "unprotectedSourcesSummary.0.leavesCount"), nvols);
    CHECK_EQ_INT(jint(h, "protectedSourcesSummary.0.leavesCount"), 0);
    nodes = jget(h, "nodes");
    CHECK_EQ_INT(json_array_size(nodes), nvols);
    json_array_foreach(nodes, i, n) {
        CHECK_EQ_INT(jint(n, "protectionSource.parentId"), host_a);
        CHECK(jint(n, "protectionSource.id") > host_a);
        CHECK(strcmp(jstr(n, "protectionSource.environment"), "kPhysical") == 0);
        CHECK(jstr(n, "protectionSource.name")[0] == '/');
        CHECK_EQ_INT(jint(n, "protectionSource.physicalProtectionSource.id.id"), jint(n, "protectionSource.id"));
        CHECK(strcmp(jstr(n, "protectionSource.physicalProtectionSource.volumes.0.mountPoints.0"),
                     jstr(n, "protectionSource.name")) == 0);
        CHECK(jget(n, "protectionSource.physicalProtectionSource.volumes.0.isProtected") == json_false());
        CHECK(jget(n, "registrationInfo") == NULL && jget(n, "nodes") == NULL);
        if (jint(n, "protectionSource.id") == vol_root) saw_root = 1;
    }
    CHECK(saw_root);
    /* the unreachable host: from the registration alone */
    CHECK(strcmp(jstr(rem, "protectionSource.name"), "10.77.0.9") == 0);
    CHECK(jget(rem, "protectionSource.customName") == NULL);
    CHECK(strcmp(jstr(rem, "registrationInfo.authenticationStatus"), "kPending") == 0);
    CHECK(strstr(jstr(rem, "registrationInfo.refreshErrorMessage"), "10.77.0.9") != NULL);
    CHECK(jget(rem, "nodes") == NULL && jget(rem, "protectionSource.physicalProtectionSource.agents") == NULL);
    /* kSQL: the host without volumes */
    CHECK(strcmp(jstr(sql, "protectionSource.environment"), "kSQL") == 0);
    CHECK(strcmp(jstr(sql, "protectionSource.customName"), "pg") == 0);
    CHECK(strcmp(jstr(sql, "registrationInfo.physicalParams.applications.0"), "kSQL") == 0);
    CHECK(jget(sql, "nodes") == NULL);
    CHECK_EQ_INT(jint(sql, "unprotectedSourcesSummary.0.leavesCount"), 1);
    /* the /v2 alias of the contract answers the same */
    CHECK(get("/v2" TREE, "v1a", &v2) == 200);
    CHECK(json_equal(r.json, v2.json));
    http_resp_release(&v2);
    http_resp_release(&r);
}

TEST(filters)
{
    struct http_resp r;
    char q[256];
    CHECK(strcmp(tree_ids("?environments=kSQL", "v1a"), ids3(sql_a, 0, 0)) == 0);
    CHECK(strcmp(tree_ids("?environments=kPhysical,kVMware", "v1a"), ids3(host_a, remote_a, 0)) == 0);
    CHECK(strcmp(tree_ids("?environment=kSQL", "v1a"), ids3(sql_a, 0, 0)) == 0);
    CHECK(strcmp(tree_ids("?environments=kVMware", "v1a"), "") == 0);
    CHECK(strcmp(tree_ids("?sids=S-1-5-21-1", "v1a"), "") == 0);
    CHECK(strcmp(tree_ids("?excludeTypes=kHost", "v1a"), "") == 0);
    CHECK(strcmp(tree_ids("?excludeTypes=kVirtualMachine,kFolder&excludeAwsTypes=kEC2Instance", "v1a"),
                 ids3(host_a, remote_a, sql_a)) == 0);
    /* the subtree of one node */
    snprintf(q, sizeof q, "?id=%lld", vol_root);
    CHECK(strcmp(tree_ids(q, "v1a"), ids3(vol_root, 0, 0)) == 0);
    snprintf(q, sizeof q, TREE "?id=%lld&environments=kSQL", host_a);
    CHECK(get(q, "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(r.json), 0);
    http_resp_release(&r);
    snprintf(q, sizeof q, TREE "?id=%lld", host_a);
    CHECK(get(q, "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(r.json), 1);
    CHECK_EQ_INT(json_array_size(jget(r.json, "0.nodes")), nvols);
    http_resp_release(&r);
    /* depth, exclusions, pruning */
    CHECK(get(TREE "?numLevels=1", "v1a", &r) == 200);
    CHECK(jget(r.json, "0.nodes") == NULL && jget(r.json, "0.registrationInfo") != NULL);
    http_resp_release(&r);
    CHECK(get(TREE "?numLevels=1.0", "v1a", &r) == 200); /* the client sends a float64 */
    CHECK(jget(r.json, "0.nodes") == NULL && json_array_size(r.json) == 3);
    http_resp_release(&r);
    CHECK(get(TREE "?numLevels=2", "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "0.nodes")), nvols);
    http_resp_release(&r);
    CHECK(get(TREE "?excludeTypes=kVolume", "v1a", &r) == 200);
    CHECK(jget(r.json, "0.nodes") == NULL && json_array_size(r.json) == 3);
    http_resp_release(&r);
    CHECK(get(TREE "?pruneNonCriticalInfo=true&pruneAggregationInfo=true", "v1a", &r) == 200);
    CHECK(jget(r.json, "0.protectionSource.physicalProtectionSource.volumes") == NULL);
    CHECK(jget(r.json, "0.protectedSourcesSummary") == NULL && jget(r.json, "0.unprotectedSourcesSummary") == NULL);
    CHECK_EQ_INT(json_array_size(jget(r.json, "0.nodes")), nvols);
    http_resp_release(&r);
    /* permission and protection info on every node */
    CHECK(get(TREE "?includeEntityPermissionInfo=true&includeObjectProtectionInfo=true", "v1a", &r) == 200);
    CHECK_EQ_INT(jint(r.json, "0.entityPermissionInfo.entityId"), host_a);
    CHECK(strcmp(jstr(r.json, "0.entityPermissionInfo.registeringTenantId"), "v1a") == 0);
    CHECK_EQ_INT(jint(r.json, "0.nodes.0.entityPermissionInfo.entityId"),
                 jint(r.json, "0.nodes.0.protectionSource.id"));
    CHECK_EQ_INT(jint(r.json, "0.objectProtectionInfo.entityId"), host_a);
    CHECK_EQ_INT(jint(r.json, "0.objectProtectionInfo.hasActiveObjectProtectionSpec"), 0);
    http_resp_release(&r);
    CHECK(get(TREE, "v1a", &r) == 200);
    CHECK(jget(r.json, "0.entityPermissionInfo") == NULL && jget(r.json, "0.objectProtectionInfo") == NULL);
    http_resp_release(&r);
    /* credentials: nothing kept to include, but the key is required with them */
    CHECK(expect(TREE "?includeSourceCredentials=true", "v1a", 400, "encryptionKey"));
    CHECK(strcmp(tree_ids("?includeSourceCredentials=true&encryptionKey=k", "v1a"), ids3(host_a, remote_a, sql_a))
          == 0);
    CHECK(strcmp(tree_ids("?requestInitiatorType=UIUser&useCachedData=true&allUnderHierarchy=false", "v1a"),
                 ids3(host_a, remote_a, sql_a)) == 0);
}

TEST(bad_parameters_are_400_naming_them)
{
    char q[128];
    CHECK(expect(TREE "?environments=kPhysical,kNoSuch", "v1a", 400, "environments"));
    CHECK(expect(TREE "?environment=kNoSuch", "v1a", 400, "environment"));
    CHECK(expect(TREE "?id=abc", "v1a", 400, "'id'"));
    CHECK(expect(TREE "?numLevels=0", "v1a", 400, "numLevels"));
    CHECK(expect(TREE "?numLevels=x", "v1a", 400, "numLevels"));
    CHECK(expect(TREE "?pageSize=0", "v1a", 400, "pageSize"));
    CHECK(expect(TREE "?afterCursorEntityId=z", "v1a", 400, "afterCursorEntityId"));
    CHECK(expect(TREE "?includeEntityPermissionInfo=maybe", "v1a", 400, "includeEntityPermissionInfo"));
    CHECK(expect(TREE "?includeDatastores=2", "v1a", 400, "includeDatastores"));
    CHECK(expect(TREE "?requestInitiatorType=Robot", "v1a", 400, "requestInitiatorType"));
    CHECK(expect(TREE "?id=999999", "v1a", 404, "999999"));
    snprintf(q, sizeof q, TREE "?nodeId=%lld&pageSize=1", 999999LL);
    CHECK(expect(q, "v1a", 404, "nodeId"));
    CHECK(expect(INFO "?environments=kNoSuch", "v1a", 400, "environments"));
    CHECK(expect(INFO "?ids=1,x", "v1a", 400, "ids"));
    CHECK(expect(INFO "?maintenanceStatus=Broken", "v1a", 400, "maintenanceStatus"));
    CHECK(expect(INFO "?includeApplicationsTreeInfo=yes", "v1a", 400, "includeApplicationsTreeInfo"));
    CHECK(expect(INFO "?includeSourceCredentials=true", "v1a", 400, "encryptionKey"));
    /* the tenant header is part of the contract for both */
    {
        struct http_resp r;
        CHECK(get(TREE, NULL, &r) == 400);
        CHECK(strstr(jstr(r.json, "message"), "X-IBM-Tenant-Id") != NULL);
        http_resp_release(&r);
        CHECK(get(INFO, NULL, &r) == 400);
        http_resp_release(&r);
        CHECK(http(&d, "POST", TREE, "v1a", "{}", &r) == 0);
        CHECK_EQ_INT(r.status, 405);
        http_resp_release(&r);
    }
    /* the requestInitiatorType header of registrationInfo */
    {
        struct http_resp r;
        const char *bad[] = { "X-IBM-Tenant-Id: v1a", "requestInitiatorType: Robot", NULL };
        const char *good[] = { "X-IBM-Tenant-Id: v1a", "requestInitiatorType: UIAuto", NULL };
        CHECK(http_raw(&d, "GET", INFO, "Bearer " HARNESS_KEY, bad, NULL, 0, &r) == 0);
        CHECKF(r.status == 400 && strstr(jstr(r.json, "message"), "requestInitiatorType"), "%ld %s", r.status, r.body);
        http_resp_release(&r);
        CHECK(http_raw(&d, "GET", INFO, "Bearer " HARNESS_KEY, good, NULL, 0, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        http_resp_release(&r);
    }
}

TEST(pagination)
{
    struct http_resp r;
    char q[256];
    CHECK(strcmp(tree_ids("?pageSize=2", "v1a"), ids3(host_a, remote_a, 0)) == 0);
    snprintf(q, sizeof q, "?pageSize=2&afterCursorEntityId=%lld", remote_a);
    CHECK(strcmp(tree_ids(q, "v1a"), ids3(sql_a, 0, 0)) == 0);
    snprintf(q, sizeof q, "?pageSize=1&beforeCursorEntityId=%lld", sql_a);
    CHECK(strcmp(tree_ids(q, "v1a"), ids3(remote_a, 0, 0)) == 0);
    snprintf(q, sizeof q, "?afterCursorEntityId=%lld", host_a);
    CHECK(strcmp(tree_ids(q, "v1a"), ids3(remote_a, sql_a, 0)) == 0);
    /* a node's children: one per page, the cursor of the next page in entityPaginationParameters */
    snprintf(q, sizeof q, TREE "?nodeId=%lld&pageSize=1", host_a);
    CHECK(get(q, "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(r.json), 3);
    CHECK_EQ_INT(json_array_size(jget(r.json, "0.nodes")), 1);
    if (nvols > 1) {
        long long first = jint(r.json, "0.nodes.0.protectionSource.id");
        CHECK_EQ_INT(jint(r.json, "0.entityPaginationParameters.afterCursorEntityId"), first);
        CHECK_EQ_INT(jint(r.json, "0.entityPaginationParameters.nodeId"), host_a);
        CHECK_EQ_INT(jint(r.json, "0.entityPaginationParameters.pageSize"), 1);
        http_resp_release(&r);
        snprintf(q, sizeof q, TREE "?nodeId=%lld&pageSize=1&afterCursorEntityId=%lld", host_a, first);
        CHECK(get(q, "v1a", &r) == 200);
        CHECK(jint(r.json, "0.nodes.0.protectionSource.id") > first);
    } else {
        CHECK(jget(r.json, "0.entityPaginationParameters") == NULL);
    }
    http_resp_release(&r);
    /* past the last child: no nodes */
    snprintf(q, sizeof q, TREE "?nodeId=%lld&afterCursorEntityId=%lld", host_a, 999999999LL);
    CHECK(get(q, "v1a", &r) == 200);
    CHECK(jget(r.json, "0.nodes") == NULL);
    http_resp_release(&r);
}

/* protected_leaves: the leavesCount of host_a's protectedSourcesSummary and the registrationInfo
 * stats' protectedCount; -1 on failure. */
static void protection_counts(long long *tree_leaves, long long *info_count, long long *unprot_info)
{
    struct http_resp r;
    char q[128];
    *tree_leaves = *info_count = *unprot_info = -1;
    snprintf(q, sizeof q, TREE "?id=%lld", host_a);
    if (get(q, "v1a", &r) == 200) *tree_leaves = jint(r.json, "0.protectedSourcesSummary.0.leavesCount");
    http_resp_release(&r);
    if (get(INFO, "v1a", &r) == 200) {
        *info_count = jint(r.json, "stats.protectedCount");
        *unprot_info = jint(r.json, "stats.unprotectedCount");
    }
    http_resp_release(&r);
}

TEST(protection_shows_in_summaries_and_stats)
{
    struct http_resp r;
    char policy[128], group[128], path[256];
    long long leaves, count, unprot;
    protection_counts(&leaves, &count, &unprot);
    CHECK_EQ_INT(leaves, 0);
    CHECK_EQ_INT(count, 0);
    CHECK_EQ_INT(unprot, nvols + 1); /* the volumes and the kSQL host */
    CHECK(http(&d, "POST", "/v2/data-protect/policies", "v1a",
               jfmt("{'name':'daily','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days',"
                   "'daySchedule':{'frequency':1}}},'retention':{'unit':'Days','duration':7}}}}"), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(policy, sizeof policy, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    CHECK(http(&d, "POST", "/v2/data-protect/protection-groups", "v1a",
               jfmt("{'name':'homes','policyId':'%s','environment':'kPhysical','startTime':{'hour':3,'minute':0},"
                   "'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld,"
                   "'filePaths':[{'includedPath':'/home'}]}]}}}", policy, host_a), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(group, sizeof group, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    /* the group lists the host: every volume under it is protected */
    protection_counts(&leaves, &count, &unprot);
    CHECK_EQ_INT(leaves, nvols);
    CHECK_EQ_INT(count, nvols);
    CHECK_EQ_INT(unprot, 1);
    snprintf(path, sizeof path, TREE "?id=%lld&includeObjectProtectionInfo=true", host_a);
    CHECK(get(path, "v1a", &r) == 200);
    CHECK_EQ_INT(jint(r.json, "0.objectProtectionInfo.hasActiveObjectProtectionSpec"), 1);
    CHECK_EQ_INT(jint(r.json, "0.nodes.0.objectProtectionInfo.hasActiveObjectProtectionSpec"), 0);
    CHECK_EQ_INT(jint(r.json, "0.nodes.0.objectProtectionInfo.autoProtectParentId"), host_a);
    CHECK(jget(r.json, "0.nodes.0.protectionSource.physicalProtectionSource.volumes.0.isProtected") == json_true());
    CHECK(jget(r.json, "0.protectionSource.physicalProtectionSource.volumes.0.isProtected") == json_true());
    CHECK_EQ_INT(jint(r.json, "0.unprotectedSourcesSummary.0.leavesCount"), 0);
    http_resp_release(&r);
    /* per environment */
    CHECK(get(INFO, "v1a", &r) == 200);
    {
        size_t i;
        json_t *e;
        int phys = 0, sql = 0;
        json_array_foreach(jget(r.json, "statsByEnv"), i, e) {
            if (strcmp(jstr(e, "environment"), "kPhysical") == 0) {
                phys = 1;
                CHECK_EQ_INT(jint(e, "protectedCount"), nvols);
                CHECK_EQ_INT(jint(e, "unprotectedCount"), 0);
            } else if (strcmp(jstr(e, "environment"), "kSQL") == 0) {
                sql = 1;
                CHECK_EQ_INT(jint(e, "protectedCount"), 0);
                CHECK_EQ_INT(jint(e, "unprotectedCount"), 1);
            }
        }
        CHECK(phys && sql);
    }
    http_resp_release(&r);
    /* deleting the group makes them unprotected again */
    snprintf(path, sizeof path, "/v2/data-protect/protection-groups/%s", group);
    CHECK(http(&d, "DELETE", path, "v1a", NULL, &r) == 0);
    CHECKF(r.status == 204, "%ld %s", r.status, r.body);
    http_resp_release(&r);
    protection_counts(&leaves, &count, &unprot);
    CHECK_EQ_INT(leaves, 0);
    CHECK_EQ_INT(count, 0);
    CHECK_EQ_INT(unprot, nvols + 1);
}

TEST(registration_info)
{
    struct http_resp r;
    json_t *h = NULL, *n;
    size_t i;
    long long pc = 0, uc = 0, ps = 0, us = 0;
    char q[256];
    CHECK(get(INFO, "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "rootNodes")), 3);
    json_array_foreach(jget(r.json, "rootNodes"), i, n) {
        pc += jint(n, "stats.protectedCount");
        uc += jint(n, "stats.unprotectedCount");
        ps += jint(n, "stats.protectedSize");
        us += jint(n, "stats.unprotectedSize");
        if (jint(n, "rootNode.id") == host_a) h = n;
    }
    CHECK(h != NULL);
    CHECK(strcmp(jstr(h, "rootNode.name"), "localhost") == 0);
    CHECK(strcmp(jstr(h, "rootNode.customName"), "mine") == 0);
    CHECK(strcmp(jstr(h, "rootNode.physicalProtectionSource.type"), "kHost") == 0);
    CHECK(strcmp(jstr(h, "registrationInfo.authenticationStatus"), "kFinished") == 0);
    CHECK(strcmp(jstr(h, "registrationInfo.accessInfo.endpoint"), "localhost") == 0);
    CHECK(strcmp(jstr(h, "registrationInfo.environments.0"), "kPhysical") == 0);
    CHECK(jint(h, "registrationInfo.registrationTimeUsecs") > 0);
    CHECK(json_is_integer(jget(h, "logicalSizeBytes")));
    CHECK(strcmp(jstr(h, "statsByEnv.0.environment"), "kPhysical") == 0);
    CHECK_EQ_INT(jint(h, "stats.unprotectedCount"), nvols);
    CHECK_EQ_INT(jint(r.json, "stats.protectedCount"), pc);
    CHECK_EQ_INT(jint(r.json, "stats.unprotectedCount"), uc);
    CHECK_EQ_INT(jint(r.json, "stats.protectedSize"), ps);
    CHECK_EQ_INT(jint(r.json, "stats.unprotectedSize"), us);
    CHECK_EQ_INT(json_array_size(jget(r.json, "statsByEnv")), 2);
    CHECK(jget(h, "entityPermissionInfo") == NULL);
    http_resp_release(&r);
    /* filters */
    snprintf(q, sizeof q, INFO "?ids=%lld,%lld&includeEntityPermissionInfo=true", remote_a, sql_a);
    CHECK(get(q, "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "rootNodes")), 2);
    CHECK_EQ_INT(jint(r.json, "rootNodes.0.rootNode.id"), remote_a);
    CHECK(strcmp(jstr(r.json, "rootNodes.0.registrationInfo.authenticationStatus"), "kPending") == 0);
    CHECK(strstr(jstr(r.json, "rootNodes.0.registrationInfo.authenticationErrorMessage"), "10.77.0.9") != NULL);
    CHECK(strcmp(jstr(r.json, "rootNodes.0.entityPermissionInfo.tenant.tenantId"), "v1a") == 0);
    http_resp_release(&r);
    CHECK(get(INFO "?environments=kSQL", "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "rootNodes")), 1);
    CHECK_EQ_INT(jint(r.json, "rootNodes.0.rootNode.id"), sql_a);
    CHECK_EQ_INT(jint(r.json, "stats.unprotectedCount"), 1);
    http_resp_release(&r);
    CHECK(get(INFO "?tenantIds=v1b", "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "rootNodes")), 0);
    CHECK_EQ_INT(jint(r.json, "stats.unprotectedCount"), 0);
    http_resp_release(&r);
    CHECK(get(INFO "?tenantIds=v1b,v1a&maintenanceStatus=NotConfigured", "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "rootNodes")), 3);
    http_resp_release(&r);
    CHECK(get(INFO "?maintenanceStatus=UnderMaintenance", "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "rootNodes")), 0);
    http_resp_release(&r);
    CHECK(get(INFO "?sids=S-1-5-32-544", "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "rootNodes")), 0);
    http_resp_release(&r);
    CHECK(get("/v2" INFO, "v1a", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "rootNodes")), 3);
    http_resp_release(&r);
}

TEST(tenant_isolation)
{
    struct http_resp r;
    char q[128];
    CHECK(strcmp(tree_ids("", "v1b"), ids3(host_b, 0, 0)) == 0);
    CHECK(strcmp(tree_ids("", "v1-nobody"), "") == 0);
    snprintf(q, sizeof q, TREE "?id=%lld", host_a);
    CHECK(expect(q, "v1b", 404, "no protection source"));
    snprintf(q, sizeof q, TREE "?id=%lld", vol_root);
    CHECK(expect(q, "v1b", 404, "no protection source"));
    CHECK(get(INFO, "v1b", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "rootNodes")), 1);
    CHECK_EQ_INT(jint(r.json, "rootNodes.0.rootNode.id"), host_b);
    http_resp_release(&r);
    snprintf(q, sizeof q, INFO "?ids=%lld", host_a);
    CHECK(get(q, "v1b", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "rootNodes")), 0);
    http_resp_release(&r);
    CHECK(get(INFO, "v1-nobody", &r) == 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "rootNodes")), 0);
    CHECK_EQ_INT(jint(r.json, "stats.protectedCount") + jint(r.json, "stats.unprotectedCount"), 0);
    http_resp_release(&r);
}

TEST(deleted_registration_leaves_the_tree)
{
    struct http_resp r;
    char path[128];
    snprintf(path, sizeof path, REGS "/%lld", remote_a);
    CHECK(http(&d, "DELETE", path, "v1a", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    http_resp_release(&r);
    CHECK(strcmp(tree_ids("", "v1a"), ids3(host_a, sql_a, 0)) == 0);
    snprintf(path, sizeof path, TREE "?id=%lld", remote_a);
    CHECK(expect(path, "v1a", 404, "no protection source"));
}

TEST(same_tree_after_sigkill_and_restart)
{
    struct http_resp r;
    char *before, *after;
    /* "before" must hold the registrations the tests left (two failed listings compare equal) */
    CHECK(strcmp(tree_ids("", "v1a"), ids3(host_a, sql_a, 0)) == 0);
    CHECK(get(TREE, "v1a", &r) == 200);
    before = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    http_resp_release(&r);
    {
        char how[96];
        CHECKF(daemon_kill_how(&d, SIGKILL, how, sizeof how) == SIGKILL, "the daemon was not killed by SIGKILL: %s",
               how);
    }
    CHECK(daemon_restart(&d, NULL) == 0);
    CHECK(get(TREE, "v1a", &r) == 200);
    after = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    http_resp_release(&r);
    CHECKF(before && after && strcmp(before, after) == 0, "before: %s\nafter: %s", before, after);
    free(before);
    free(after);
}

int main(void)
{
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup);
    RUN(tree_of_registered_sources);
    RUN(filters);
    RUN(bad_parameters_are_400_naming_them);
    RUN(pagination);
    RUN(protection_shows_in_summaries_and_stats);
    RUN(registration_info);
    RUN(tenant_isolation);
    RUN(deleted_registration_leaves_the_tree);
    RUN(same_tree_after_sigkill_and_restart);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    return check_finish();
}
