/* protection_sources_v1.c: the v1 protection source tree, GET /irisservices/api/v1/public/protectionSources
 * (ListProtectionSources) and .../protectionSources/registrationInfo (ListProtectionSourcesRegistrationInfo).
 *
 * Paths: the official Go client strips the "/v2" of its service URL for these two calls and asks for
 * /irisservices/api/v1/public/... at the server's root; the wire contract writes every path relative
 * to /v2, so /v2/irisservices/api/v1/public/... is served too (same handlers). Both carry
 * X-IBM-Tenant-Id (the contract lists it), so the tree is the tenant's own, like every other route.
 *
 * The tree is built from the catalog: one root per source registration of the tenant (id order),
 * and below it the registration's present objects (cat_object_tree: the host's volumes). A root is
 * a ProtectionSourceNodes whose protectionSource is the host (name: the registered endpoint;
 * customName: the registration's name when it differs; physicalProtectionSource with the cluster's
 * UniqueGlobalID, hostName, hostType, type, the built-in agent for this machine and the volumes as
 * PhysicalVolume), with registrationInfo (AgentRegistrationInfo: status as kFinished/kPending/...,
 * registration and refresh times in usecs, the refresh error) and the protected/unprotected subtree
 * summaries. A host no agent reaches has not been discovered, so its root stands alone, built from
 * the registration. A volume is a child node (parentId = the host); its physicalProtectionSource
 * carries the volume as its only PhysicalVolume and no "type" (the contract's types are host kinds).
 * A PostgreSQL instance (a child of the host), its databases and their tables are kSQL nodes with a
 * sqlProtectionSource instead: name; type kInstance / kDatabase (a table has no SqlProtectionSource
 * type: it has none); id (SQLSourceID: instanceId = the instance's uuid, databaseId = the object id);
 * databaseName (of a database or table); dbOwnerUsername (a database's owner);
 * defaultDatabaseLocation (an instance's data directory, when the role may read it); isEncrypted false.
 *
 * Protection: an object is protected when a live protection group lists it or lists its host. The
 * counts (subtree summaries here, stats in registrationInfo) count leaves, i.e. objects without
 * children (volumes; a host without volumes counts itself), with their logicalSizeBytes.
 *
 * Query parameters of ListProtectionSources: environments/environment (of the registration; names
 * outside Coffer's kPhysical and kSQL match nothing; unknown names are 400), id (the subtree of that
 * node; 404 when the tenant has no such node), numLevels (a number, as the client sends it: 1 = the
 * selected nodes alone, a fraction is cut off, -1 = all),
 * excludeTypes (kHost, kVolume or a host's physical type: that node and its subtree are left out),
 * includeEntityPermissionInfo (entityPermissionInfo with the registering tenant),
 * includeObjectProtectionInfo (objectProtectionInfo: hasActiveObjectProtectionSpec 1 when a live group
 * lists the node, autoProtectParentId when it is protected through its host), pruneNonCriticalInfo
 * (no PhysicalVolume lists), pruneAggregationInfo (no subtree summaries), sids (no users or SIDs are
 * kept here: a SID filter matches nothing), includeSourceCredentials (nothing is kept to include,
 * but encryptionKey is required with it, as the API says) and pagination: pageSize with
 * afterCursorEntityId/beforeCursorEntityId pages the children of nodeId (404 if unknown) or, without
 * nodeId, the root nodes; when children remain, nodeId's entityPaginationParameters carries the
 * cursor of the next page. Other boolean and list parameters are checked for their type and have
 * nothing of ours to act on (Office 365, AWS, VMware, Kubernetes, Salesforce types).
 *
 * registrationInfo: rootNodes (ProtectionSourceTreeInfo: rootNode, registrationInfo as
 * RegisteredSourceInfo, logicalSizeBytes, stats, statsByEnv) plus the totals stats and statsByEnv;
 * filters environments, ids, sids, tenantIds (another tenant's id matches nothing: a tenant only ever
 * sees its own sources), maintenanceStatus (no source has maintenance configured: only NotConfigured
 * matches) and the requestInitiatorType header (UIUser, UIAuto or Helios); includeApplicationsTreeInfo,
 * includeExternalMetadata and the like are checked for their type and add nothing (the PostgreSQL
 * objects are in the tree itself, see above). */
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "api/objects.h"
#include "catalog/cat_source.h"
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Environment names the API knows (the union of the clients' enums for these calls). */
static const char *const known_envs[] = {
    "kAcropolis", "kAD", "kAgent", "kAuroraSnapshotManager", "kAWS", "kAwsAuroraPostgres", "kAwsDynamoDB",
    "kAWSNative", "kAwsRDSPostgres", "kAwsRDSPostgresBackup", "kAwsS3", "kAWSSnapshotManager", "kAzure",
    "kAzureEntraID", "kAzureNative", "kAzureSnapshotManager", "kAzureSQL", "kCassandra", "kCouchbase", "kDB2",
    "kElastifile", "kExchange", "kExperimentalAdapter", "kFlashBlade", "kGCP", "kGCPNative", "kGenericNas",
    "kGPFS", "kHBase", "kHdfs", "kHive", "kHyperFlex", "kHyperV", "kHyperVVSS", "kIbmFlashSystem", "kIsilon",
    "kKubernetes", "kKVM", "kMongoDB", "kMongoDBPhysical", "kNetapp", "kNimble", "kO365", "kO365Exchange",
    "kO365ExchangeCSM", "kO365Group", "kO365OneDrive", "kO365OneDriveCSM", "kO365Outlook", "kO365PublicFolders",
    "kO365Sharepoint", "kO365SharepointCSM", "kO365Teams", "kOracle", "kPhysical", "kPhysicalFiles", "kPure",
    "kPuppeteer", "kRDSSnapshotManager", "kRemoteAdapter", "kSAPHANA", "kSfdc", "KSfdc", "kSQL", "kUDA",
    "kVCD", "kView", "kVMware", NULL };
static const char *const initiators[] = { "UIUser", "UIAuto", "Helios", NULL };
static const char *const maintenance_states[] = { "UnderMaintenance", "ScheduledMaintenance", "NotConfigured", NULL };

#define BUILTIN_AGENT_NAME "cofferd built-in agent"

/* ---- query parsing ---- */

/* env_list: environments (and, when single is non-NULL, that parameter too) as one array of known
 * names; NULL after a 400. */
static json_t *env_list(struct api_req *req, struct api_resp *resp, const char *name, const char *single)
{
    json_t *l = api_query_list(req, name), *v;
    const char *one = single ? api_query(req, single) : NULL;
    size_t i;
    if (one && *one) json_array_append_new(l, json_string(one));
    json_array_foreach(l, i, v) {
        if (!jv_enum_ok(json_string_value(v), known_envs)) {
            api_error(resp, 400, "InvalidParameter", "query parameter '%s' has unknown environment '%.64s'",
                      one && i == json_array_size(l) - 1 ? single : name, json_string_value(v));
            json_decref(l);
            return NULL;
        }
    }
    return l;
}

/* bools: checks each named boolean parameter; 0, or -1 after a 400. */
static int bools(struct api_req *req, struct api_resp *resp, const char *const *names)
{
    int dummy;
    for (const char *const *b = names; *b; b++)
        if (api_query_bool(req, resp, *b, &dummy) < 0) return -1;
    return 0;
}

/* one_bool: a boolean parameter (false when absent); 0, or -1 after a 400. */
static int one_bool(struct api_req *req, struct api_resp *resp, const char *name, int *out)
{
    *out = 0;
    return api_query_bool(req, resp, name, out) < 0 ? -1 : 0;
}

/* credentials: includeSourceCredentials needs encryptionKey; 0, or -1 after a 400. */
static int credentials(struct api_req *req, struct api_resp *resp)
{
    int creds = 0;
    if (one_bool(req, resp, "includeSourceCredentials", &creds) != 0) return -1;
    if (creds && !api_query(req, "encryptionKey")) {
        api_error(resp, 400, "InvalidParameter",
                  "query parameter 'encryptionKey' is required when includeSourceCredentials is true");
        return -1;
    }
    return 0;
}

/* num_levels: numLevels is a number in the client (float64): 1 or more (a fraction is cut off), or -1
 * for all levels (also the default, *out = -1); 0, or -1 after a 400. */
static int num_levels(struct api_req *req, struct api_resp *resp, int64_t *out)
{
    const char *v = api_query(req, "numLevels");
    char *end;
    double d;
    *out = -1;
    if (!v) return 0;
    errno = 0;
    d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || (d < 1 && d != -1)) {
        api_error(resp, 400, "InvalidParameter", "query parameter 'numLevels' must be a number of levels (1 or more, "
                  "or -1 for all), not '%.64s'", v);
        return -1;
    }
    if (d >= 1 && d < 1e9) *out = (int64_t)d;
    return 0;
}

/* check_initiator: requestInitiatorType, when given, is one of the API's; 0, or -1 after a 400. */
static int check_initiator(struct api_resp *resp, const char *v, const char *what)
{
    if (!v || jv_enum_ok(v, initiators)) return 0;
    api_error(resp, 400, "InvalidParameter", "%s 'requestInitiatorType' must be one of UIUser, UIAuto, Helios, "
              "not '%.64s'", what, v);
    return -1;
}

static int in_list(json_t *l, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(l, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return 1;
    }
    return 0;
}

/* ---- the tree ---- */

struct counts {
    int64_t protected_n, protected_size, unprotected_n, unprotected_size;
};

struct tree {
    struct cat *cat;
    const char *tenant;
    int64_t cluster_id, incarnation_id;
    struct cat_tree_object *objs;   /* all present objects, by (source, parent, id) */
    size_t nobjs;
    json_t *envs;                   /* filter on the registration's environment; empty = all */
    json_t *exclude_types;          /* node types left out with their subtrees */
    int perm_info, prot_info, prune, prune_aggr;
    json_t *out;                    /* the array being built */
    int v2_info;                    /* registrationInfo: ProtectionSourceTreeInfo entries */
    struct counts total;
    json_t *by_env;                 /* registrationInfo: environment -> counts (JSON object of arrays) */
};

static int64_t size_of(const struct cat_object *o)
{
    return o->facts.logical_bytes >= 0 ? o->facts.logical_bytes : 0;
}

/* pps_type: the type of a discovered object's own physicalProtectionSource (objects.h), or NULL
 * when discovery recorded no details of it. */
static const char *pps_type(const struct cat_object *o)
{
    return api_object_has_details(o) ? o->object_type : NULL;
}

static const char *str_in(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_t *global_id(const struct tree *t, int64_t id)
{
    return json_pack("{s:I,s:I,s:I}", "clusterId", (json_int_t)t->cluster_id, "clusterIncarnationId",
                     (json_int_t)t->incarnation_id, "id", (json_int_t)id);
}

/* range: [*lo, *hi) of t->objs belonging to registration source_id. */
static void source_range(const struct tree *t, int64_t source_id, size_t *lo, size_t *hi)
{
    size_t a = 0, b = t->nobjs;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (t->objs[m].o.source_id < source_id) a = m + 1;
        else b = m;
    }
    *lo = a;
    b = a;
    while (b < t->nobjs && t->objs[b].o.source_id == source_id) b++;
    *hi = b;
}

/* children: [*clo, *chi) within [lo, hi) of the objects whose parent is id (contiguous: the range is
 * ordered by parent, then id). */
static void children(const struct tree *t, size_t lo, size_t hi, int64_t id, size_t *clo, size_t *chi)
{
    size_t a = lo, b = hi;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (t->objs[m].o.parent_id < id) a = m + 1;
        else b = m;
    }
    *clo = a;
    while (a < hi && t->objs[a].o.parent_id == id) a++;
    *chi = a;
}

static json_t *physical_volume(const struct cat_object *v, int is_protected)
{
    json_t *pv = json_object();
    int details = api_object_has_details(v), net = details && v->facts.is_network;
    const char *dev = details ? v->facts.device : NULL, *fs = details ? v->facts.fs_type : NULL;
    json_object_set_new(pv, "mountPoints", json_pack("[s]", v->path ? v->path : v->name ? v->name : ""));
    if (dev) json_object_set_new(pv, net ? "networkPath" : "devicePath", json_string(dev));
    if (fs) json_object_set_new(pv, "mountType", json_string(fs));
    if (v->uuid) json_object_set_new(pv, "guid", json_string(v->uuid));
    if (v->facts.logical_bytes >= 0)
        json_object_set_new(pv, "usedSizeBytes", json_real((double)size_of(v)));
    json_object_set_new(pv, "isProtected", json_boolean(is_protected));
    return pv;
}

/* host_node: the ProtectionSourceNode of registration s; root is its discovered host or NULL. */
static json_t *host_node(const struct tree *t, const struct cat_source *s, const struct cat_object *root,
                         size_t lo, size_t hi, int root_protected)
{
    json_t *pp = json_object_get(s->doc, "physicalParams"), *phys = json_object(), *node;
    int details = root && api_object_has_details(root);
    const char *endpoint = str_in(pp, "endpoint");
    const char *name = root && root->name ? root->name : endpoint ? endpoint : s->name;
    const char *host_type = details && root->facts.host_type ? root->facts.host_type : str_in(pp, "hostType");
    const char *type = details ? pps_type(root) : str_in(pp, "physicalType");
    const char *host_name = details ? root->facts.host_name : NULL;
    node = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)s->id, "name", name, "environment", s->environment);
    if (s->name && strcmp(s->name, name) != 0) json_object_set_new(node, "customName", json_string(s->name));
    if (s->connection_id) json_object_set_new(node, "connectionId", json_integer(strtoll(s->connection_id, NULL, 10)));
    json_object_set_new(phys, "id", global_id(t, s->id));
    json_object_set_new(phys, "name", json_string(name));
    if (host_name) json_object_set_new(phys, "hostName", json_string(host_name));
    if (host_type) json_object_set_new(phys, "hostType", json_string(host_type));
    json_object_set_new(phys, "type", json_string(type ? type : "kHost"));
    if (root && s->agent == CAT_AGENT_LOCAL) {
        json_t *agent = json_pack("{s:I,s:s,s:s,s:s,s:s}", "id", (json_int_t)s->id, "name", BUILTIN_AGENT_NAME,
                                  "hostType", host_type ? host_type : "kLinux", "upgradability", "kCurrent",
                                  "upgradeStatus", "kIdle");
        json_object_set_new(agent, "status", json_string(s->error ? "kDegraded" : "kHealthy"));
        json_object_set_new(agent, "statusMessage",
                            json_string(s->error ? s->error : "files are read by cofferd itself on this machine"));
        json_object_set_new(phys, "agents", json_pack("[o]", agent));
    }
    if (root && !t->prune) {
        size_t clo, chi;
        json_t *vols = json_array();
        children(t, lo, hi, root->id, &clo, &chi);
        for (size_t i = clo; i < chi; i++) {
            const struct cat_tree_object *c = &t->objs[i];
            if (c->o.object_type && strcmp(c->o.object_type, "kVolume") == 0)
                json_array_append_new(vols, physical_volume(&c->o, root_protected || c->listed));
        }
        if (json_array_size(vols)) json_object_set_new(phys, "volumes", vols);
        else json_decref(vols);
    }
    json_object_set_new(node, "physicalProtectionSource", phys);
    return node;
}

/* find_obj: the object with id within [lo, hi), or NULL. */
static const struct cat_object *find_obj(const struct tree *t, size_t lo, size_t hi, int64_t id)
{
    for (size_t i = lo; i < hi; i++)
        if (t->objs[i].o.id == id) return &t->objs[i].o;
    return NULL;
}

/* sql_source: the SqlProtectionSource of a PostgreSQL object (its database and instance looked up
 * among the registration's objects [lo, hi)). */
static json_t *sql_source(const struct tree *t, size_t lo, size_t hi, const struct cat_object *o)
{
    const char *type = o->object_type;
    json_t *sp = json_pack("{s:s,s:b}", "name", o->name ? o->name : "", "isEncrypted", 0), *sid = json_object();
    const struct cat_object *db = NULL, *inst = NULL;
    if (strcmp(type, "kInstance") == 0) {
        inst = o;
    } else if (strcmp(type, "kDatabase") == 0) {
        db = o;
        inst = find_obj(t, lo, hi, o->parent_id);
    } else {
        db = find_obj(t, lo, hi, o->parent_id);
        inst = db ? find_obj(t, lo, hi, db->parent_id) : NULL;
    }
    if (strcmp(type, "kTable") != 0) json_object_set_new(sp, "type", json_string(type));
    if (inst && inst->uuid) json_object_set_new(sid, "instanceId", json_string(inst->uuid));
    if (db) {
        json_object_set_new(sid, "databaseId", json_integer(db->id));
        json_object_set_new(sp, "databaseName", json_string(db->name ? db->name : ""));
        if (db->facts.owner) json_object_set_new(sp, "dbOwnerUsername", json_string(db->facts.owner));
    }
    if (o == inst && o->facts.data_directory)
        json_object_set_new(sp, "defaultDatabaseLocation", json_string(o->facts.data_directory));
    json_object_set_new(sp, "id", sid);
    return sp;
}

static json_t *child_node(const struct tree *t, size_t lo, size_t hi, const struct cat_object *o, int is_protected)
{
    json_t *phys, *node = json_pack("{s:I,s:s,s:s,s:I}", "id", (json_int_t)o->id, "name", o->name ? o->name : "",
                                    "environment", o->environment ? o->environment : "kPhysical", "parentId",
                                    (json_int_t)o->parent_id);
    if (api_object_is_sql(o)) {
        json_object_set_new(node, "sqlProtectionSource", sql_source(t, lo, hi, o));
        return node;
    }
    phys = json_pack("{s:o,s:s}", "id", global_id(t, o->id), "name", o->name ? o->name : "");
    if (o->object_type && strcmp(o->object_type, "kVolume") == 0)
        json_object_set_new(phys, "volumes", json_pack("[o]", physical_volume(o, is_protected)));
    json_object_set_new(node, "physicalProtectionSource", phys);
    return node;
}

static const char *status_k(const char *s)
{
    if (!s) return "kPending";
    if (strcmp(s, "Finished") == 0) return "kFinished";
    if (strcmp(s, "RefreshInProgress") == 0) return "kRefreshInProgress";
    if (strcmp(s, "Scheduled") == 0) return "kScheduled";
    return "kPending";
}

/* registration_info: the AgentRegistrationInfo (v1 tree) or RegisteredSourceInfo (registrationInfo)
 * of s: both carry the same fields here. */
static json_t *registration_info(const struct cat_source *s)
{
    json_t *pp = json_object_get(s->doc, "physicalParams"), *apps = json_object_get(pp, "applications");
    json_t *access = json_pack("{s:I,s:s}", "id", (json_int_t)s->id, "environment", s->environment);
    json_t *ri = json_object();
    if (str_in(pp, "endpoint")) json_object_set_new(access, "endpoint", json_string(str_in(pp, "endpoint")));
    if (s->connection_id)
        json_object_set_new(access, "connectionId", json_integer(strtoll(s->connection_id, NULL, 10)));
    json_object_set_new(ri, "accessInfo", access);
    json_object_set_new(ri, "authenticationStatus", json_string(status_k(s->auth_status)));
    json_object_set_new(ri, "environments", json_pack("[s]", s->environment));
    json_object_set_new(ri, "registrationTimeUsecs", json_integer(s->registered_ms * 1000));
    if (s->refreshed_ms > 0) json_object_set_new(ri, "refreshTimeUsecs", json_integer(s->refreshed_ms * 1000));
    if (s->error) {
        json_object_set_new(ri, "authenticationErrorMessage", json_string(s->error));
        json_object_set_new(ri, "refreshErrorMessage", json_string(s->error));
    }
    if (json_is_array(apps) && json_array_size(apps))
        json_object_set_new(ri, "physicalParams", json_pack("{s:O}", "applications", apps));
    return ri;
}

static int excluded(const struct tree *t, const char *type)
{
    return type && in_list(t->exclude_types, type);
}

/* count: walks the subtree of objs[idx] (protected when a live group lists it or an ancestor),
 * adding its leaves to c. */
static void count(const struct tree *t, size_t lo, size_t hi, size_t idx, int inherited, struct counts *c)
{
    const struct cat_tree_object *x = &t->objs[idx];
    int prot = inherited || x->listed;
    size_t clo, chi;
    children(t, lo, hi, x->o.id, &clo, &chi);
    if (clo == chi) {
        if (prot) {
            c->protected_n++;
            c->protected_size += size_of(&x->o);
        } else {
            c->unprotected_n++;
            c->unprotected_size += size_of(&x->o);
        }
        return;
    }
    for (size_t i = clo; i < chi; i++)
        if (t->objs[i].o.id != x->o.id) count(t, lo, hi, i, prot, c);
}

static void decorate(const struct tree *t, json_t *n, int64_t id, const struct cat_tree_object *x, int inherited,
                     int64_t parent_id)
{
    if (t->perm_info)
        json_object_set_new(n, "entityPermissionInfo",
                            json_pack("{s:I,s:b,s:b,s:s}", "entityId", (json_int_t)id, "isInferred", 0,
                                      "isRegisteredBySp", 0, "registeringTenantId", t->tenant));
    if (t->prot_info) {
        json_t *pi = json_pack("{s:I,s:I}", "entityId", (json_int_t)id, "hasActiveObjectProtectionSpec",
                               (json_int_t)(x && x->listed ? 1 : 0));
        if (x && !x->listed && inherited) json_object_set_new(pi, "autoProtectParentId", json_integer(parent_id));
        json_object_set_new(n, "objectProtectionInfo", pi);
    }
}

/* subtree: the ProtectionSourceNodes of objs[idx]'s children (a JSON array, possibly empty). */
static json_t *subtree(const struct tree *t, size_t lo, size_t hi, int64_t parent_id, int inherited)
{
    json_t *arr = json_array();
    size_t clo, chi;
    children(t, lo, hi, parent_id, &clo, &chi);
    for (size_t i = clo; i < chi; i++) {
        const struct cat_tree_object *x = &t->objs[i];
        int prot = inherited || x->listed;
        json_t *n, *kids;
        if (x->o.id == parent_id || excluded(t, x->o.object_type)) continue;
        n = json_pack("{s:o}", "protectionSource", child_node(t, lo, hi, &x->o, prot));
        if (x->o.facts.logical_bytes >= 0)
            json_object_set_new(n, "logicalSize", json_integer(size_of(&x->o)));
        decorate(t, n, x->o.id, x, inherited, parent_id);
        kids = subtree(t, lo, hi, x->o.id, prot);
        if (json_array_size(kids)) json_object_set_new(n, "nodes", kids);
        else json_decref(kids);
        json_array_append_new(arr, n);
    }
    return arr;
}

static json_t *summary(const char *env, int64_t n, int64_t size)
{
    return json_pack("[{s:s,s:I,s:I}]", "environment", env, "leavesCount", (json_int_t)n, "totalLogicalSize",
                     (json_int_t)size);
}

static json_t *stats_json(const struct counts *c)
{
    return json_pack("{s:I,s:I,s:I,s:I}", "protectedCount", (json_int_t)c->protected_n, "protectedSize",
                     (json_int_t)c->protected_size, "unprotectedCount", (json_int_t)c->unprotected_n,
                     "unprotectedSize", (json_int_t)c->unprotected_size);
}

static void add_counts(struct counts *a, const struct counts *b)
{
    a->protected_n += b->protected_n;
    a->protected_size += b->protected_size;
    a->unprotected_n += b->unprotected_n;
    a->unprotected_size += b->unprotected_size;
}

/* on_source: one registration -> one root (ProtectionSourceNodes or ProtectionSourceTreeInfo). */
static int on_source(void *ud, const struct cat_source *s)
{
    struct tree *t = ud;
    size_t lo, hi, root_idx = (size_t)-1;
    const struct cat_tree_object *root = NULL;
    json_t *pp = json_object_get(s->doc, "physicalParams"), *n;
    const char *type;
    struct counts c = { 0 };
    if (json_array_size(t->envs) && !in_list(t->envs, s->environment)) return 0;
    source_range(t, s->id, &lo, &hi);
    for (size_t i = lo; i < hi; i++)
        if (t->objs[i].o.id == s->id && t->objs[i].o.parent_id == 0) root_idx = i;
    if (root_idx != (size_t)-1) {
        root = &t->objs[root_idx];
        count(t, lo, hi, root_idx, 0, &c);
    }
    if (t->v2_info) {
        json_t *env_counts;
        n = json_object();
        json_object_set_new(n, "rootNode", host_node(t, s, root ? &root->o : NULL, lo, hi, root && root->listed));
        json_object_set_new(n, "registrationInfo", registration_info(s));
        json_object_set_new(n, "logicalSizeBytes", json_integer(root ? size_of(&root->o) : 0));
        json_object_set_new(n, "stats", stats_json(&c));
        {
            json_t *by = json_pack("{s:s}", "environment", s->environment);
            json_object_update_new(by, stats_json(&c));
            json_object_set_new(n, "statsByEnv", json_pack("[o]", by));
        }
        if (t->perm_info)
            json_object_set_new(n, "entityPermissionInfo",
                                json_pack("{s:I,s:b,s:b,s:s,s:{s:s}}", "entityId", (json_int_t)s->id, "isInferred",
                                          0, "isRegisteredBySp", 0, "registeringTenantId", t->tenant, "tenant",
                                          "tenantId", t->tenant));
        json_array_append_new(t->out, n);
        add_counts(&t->total, &c);
        env_counts = json_object_get(t->by_env, s->environment);
        if (!env_counts) {
            env_counts = json_pack("[I,I,I,I]", (json_int_t)0, (json_int_t)0, (json_int_t)0, (json_int_t)0);
            json_object_set_new(t->by_env, s->environment, env_counts);
        }
        {
            int64_t add[4] = { c.protected_n, c.protected_size, c.unprotected_n, c.unprotected_size };
            for (size_t k = 0; k < 4; k++)
                json_array_set_new(env_counts, k,
                                   json_integer(json_integer_value(json_array_get(env_counts, k)) + add[k]));
        }
        return 0;
    }
    type = root ? pps_type(&root->o) : str_in(pp, "physicalType");
    if (excluded(t, root && root->o.object_type ? root->o.object_type : "kHost") || excluded(t, type ? type : "kHost"))
        return 0;
    n = json_pack("{s:o}", "protectionSource", host_node(t, s, root ? &root->o : NULL, lo, hi, root && root->listed));
    json_object_set_new(n, "registrationInfo", registration_info(s));
    if (root) {
        json_t *kids = subtree(t, lo, hi, root->o.id, root->listed);
        json_object_set_new(n, "logicalSize", json_integer(size_of(&root->o)));
        if (json_array_size(kids)) json_object_set_new(n, "nodes", kids);
        else json_decref(kids);
        if (!t->prune_aggr) {
            json_object_set_new(n, "protectedSourcesSummary",
                                summary(s->environment, c.protected_n, c.protected_size));
            json_object_set_new(n, "unprotectedSourcesSummary",
                                summary(s->environment, c.unprotected_n, c.unprotected_size));
        }
    }
    decorate(t, n, s->id, root, 0, 0);
    json_array_append_new(t->out, n);
    return 0;
}

/* ---- selection, pagination, depth ---- */

static int64_t node_id(json_t *n)
{
    return (int64_t)json_integer_value(json_object_get(json_object_get(n, "protectionSource"), "id"));
}

/* find: the node with id in the forest arr (borrowed), or NULL. */
static json_t *find(json_t *arr, int64_t id)
{
    size_t i;
    json_t *n;
    json_array_foreach(arr, i, n) {
        json_t *hit;
        if (node_id(n) == id) return n;
        if ((hit = find(json_object_get(n, "nodes"), id))) return hit;
    }
    return NULL;
}

/* prune_depth: keeps levels nodes deep (1 = the nodes of arr alone). */
static void prune_depth(json_t *arr, int64_t levels)
{
    size_t i;
    json_t *n;
    json_array_foreach(arr, i, n) {
        if (levels <= 1) json_object_del(n, "nodes");
        else prune_depth(json_object_get(n, "nodes"), levels - 1);
    }
}

struct page {
    int has_size, has_after, has_before;
    int64_t size, after, before;
};

/* paginate: a new array with the page of arr's nodes (by id) the cursors and size select; *more says
 * whether nodes past the page (in the direction of paging) were left out; *last is the id of the last
 * node of the page. */
static json_t *paginate(json_t *arr, const struct page *p, int *more, int64_t *last)
{
    json_t *sel = json_array(), *out, *n;
    size_t i, from = 0, cnt;
    json_array_foreach(arr, i, n) {
        int64_t id = node_id(n);
        if (p->has_after && id <= p->after) continue;
        if (p->has_before && id >= p->before) continue;
        json_array_append(sel, n);
    }
    cnt = json_array_size(sel);
    *more = 0;
    if (p->has_size && cnt > (size_t)p->size) {
        *more = 1;
        if (p->has_before && !p->has_after) from = cnt - (size_t)p->size;
        cnt = (size_t)p->size;
    }
    out = json_array();
    for (i = from; i < from + cnt; i++) json_array_append(out, json_array_get(sel, i));
    json_decref(sel);
    *last = cnt ? node_id(json_array_get(out, cnt - 1)) : 0;
    return out;
}

/* ---- handlers ---- */

static int load(struct api_req *req, struct api_resp *resp, struct tree *t)
{
    t->cat = api_ctx(req)->cat;
    t->tenant = req->tenant;
    if (cat_installation(t->cat, &t->cluster_id, &t->incarnation_id) != 0) {
        api_error(resp, 500, "InternalError", "cannot read the cluster identity");
        return 0;
    }
    if (cat_object_tree(t->cat, t->tenant, 0, &t->objs, &t->nobjs) != 0) {
        api_error(resp, 500, "InternalError", "catalog error while reading the tenant's objects");
        return 0;
    }
    return 1;
}

static void list_sources(struct api_req *req, struct api_resp *resp)
{
    static const char *const ignored_bools[] = { "getTeamsChannels", "hasValidMailbox", "hasValidOnedrive",
                                                 "isSecurityGroup", "includeDatastores", "includeNetworks",
                                                 "includeVMFolders", "includeSfdcFields", "includeSystemVApps",
                                                 "useCachedData", "allUnderHierarchy", NULL };
    static const char *const ignored_lists[] = { "excludeOffice365Types", "excludeAwsTypes",
                                                 "excludeKubernetesTypes", NULL };
    struct tree t;
    struct page pg = { 0 };
    json_t *sids = NULL, *result = NULL;
    int64_t id = 0, levels = -1, page_node = 0;
    int has_id, has_node, nothing = 0;
    memset(&t, 0, sizeof t);
    if (!(t.envs = env_list(req, resp, "environments", "environment"))) goto out;
    t.exclude_types = api_query_list(req, "excludeTypes");
    sids = api_query_list(req, "sids");
    for (const char *const *l = ignored_lists; *l; l++) {
        json_t *v = api_query_list(req, *l);
        json_decref(v);
    }
    if (bools(req, resp, ignored_bools) != 0 || credentials(req, resp) != 0 ||
        one_bool(req, resp, "includeEntityPermissionInfo", &t.perm_info) != 0 ||
        one_bool(req, resp, "includeObjectProtectionInfo", &t.prot_info) != 0 ||
        one_bool(req, resp, "pruneNonCriticalInfo", &t.prune) != 0 ||
        one_bool(req, resp, "pruneAggregationInfo", &t.prune_aggr) != 0 ||
        check_initiator(resp, api_query(req, "requestInitiatorType"), "query parameter") != 0)
        goto out;
    if ((has_id = api_query_int64(req, resp, "id", &id)) < 0 || num_levels(req, resp, &levels) != 0 ||
        (has_node = api_query_int64(req, resp, "nodeId", &page_node)) < 0 ||
        (pg.has_size = api_query_int64(req, resp, "pageSize", &pg.size)) < 0 ||
        (pg.has_after = api_query_int64(req, resp, "afterCursorEntityId", &pg.after)) < 0 ||
        (pg.has_before = api_query_int64(req, resp, "beforeCursorEntityId", &pg.before)) < 0)
        goto out;
    if (pg.has_size && pg.size < 1) {
        api_error(resp, 400, "InvalidParameter", "query parameter 'pageSize' must be at least 1, not %lld",
                  (long long)pg.size);
        goto out;
    }
    /* No SIDs or users are kept: a SID filter matches nothing. */
    if (json_array_size(sids)) nothing = 1;
    if (!load(req, resp, &t)) goto out;
    t.out = json_array();
    if (!nothing && cat_source_list(t.cat, t.tenant, NULL, on_source, &t) != 0) {
        api_error(resp, 500, "InternalError", "catalog error while listing source registrations");
        goto out;
    }
    result = t.out;
    t.out = NULL;
    if (has_id) {
        json_t *hit = find(result, id);
        if (!hit) {
            int known = 0;
            for (size_t i = 0; i < t.nobjs && !known; i++) known = t.objs[i].o.id == id;
            if (!known) {
                struct cat_source s;
                int rc = cat_source_get(t.cat, t.tenant, id, &s);
                if (rc == 0) {
                    known = 1;
                    cat_source_release(&s);
                } else if (rc != CAT_NOT_FOUND) {
                    api_error(resp, 500, "InternalError", "catalog error while reading the source registration");
                    goto out;
                }
            }
            if (!known && !nothing) {
                api_error(resp, 404, "NotFound", "no protection source with id %lld", (long long)id);
                goto out;
            }
            json_decref(result);
            result = json_array();
        } else {
            json_t *one = json_pack("[O]", hit);
            json_decref(result);
            result = one;
        }
    }
    if (has_node) {
        json_t *n = find(result, page_node), *kids, *page;
        int more;
        int64_t last;
        if (!n) {
            api_error(resp, 404, "NotFound", "query parameter 'nodeId': no protection source with id %lld in the "
                      "tree asked for", (long long)page_node);
            goto out;
        }
        kids = json_object_get(n, "nodes");
        if (kids) {
            page = paginate(kids, &pg, &more, &last);
        } else {
            page = json_array();
            more = 0;
            last = 0;
        }
        json_object_set_new(n, "nodes", page);
        if (more)
            json_object_set_new(n, "entityPaginationParameters",
                                json_pack("{s:I,s:I,s:I}", "nodeId", (json_int_t)page_node, "pageSize",
                                          (json_int_t)pg.size, "afterCursorEntityId", (json_int_t)last));
        if (json_array_size(page) == 0) json_object_del(n, "nodes");
    } else if (pg.has_size || pg.has_after || pg.has_before) {
        int more;
        int64_t last;
        json_t *page = paginate(result, &pg, &more, &last);
        json_decref(result);
        result = page;
    }
    if (levels != -1) prune_depth(result, levels);
    api_json(resp, 200, result);
    result = NULL;
out:
    json_decref(result);
    json_decref(t.out);
    json_decref(t.envs);
    json_decref(t.exclude_types);
    json_decref(sids);
    cat_object_tree_free(t.objs, t.nobjs);
}

static void registration_info_list(struct api_req *req, struct api_resp *resp)
{
    static const char *const ignored_bools[] = { "includeApplicationsTreeInfo", "pruneNonCriticalInfo",
                                                 "useCachedData", "includeExternalMetadata", "allUnderHierarchy",
                                                 NULL };
    struct tree t;
    json_t *ids = NULL, *sids = NULL, *tenant_ids = NULL, *out = NULL, *by_env, *v;
    const char *maint = api_query(req, "maintenanceStatus"), *k;
    int nothing = 0;
    memset(&t, 0, sizeof t);
    t.v2_info = 1;
    if (!(t.envs = env_list(req, resp, "environments", NULL)) || !(ids = api_query_int_list(req, resp, "ids"))) goto out;
    sids = api_query_list(req, "sids");
    tenant_ids = api_query_list(req, "tenantIds");
    if (bools(req, resp, ignored_bools) != 0 || credentials(req, resp) != 0 ||
        one_bool(req, resp, "includeEntityPermissionInfo", &t.perm_info) != 0 ||
        check_initiator(resp, MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "requestInitiatorType"),
                      "header") != 0)
        goto out;
    if (maint && !jv_enum_ok(maint, maintenance_states)) {
        api_error(resp, 400, "InvalidParameter", "query parameter 'maintenanceStatus' must be one of "
                  "UnderMaintenance, ScheduledMaintenance, NotConfigured, not '%.64s'", maint);
        goto out;
    }
    /* No source has maintenance configured, no SIDs are kept, and a tenant sees only its own sources. */
    if (maint && strcmp(maint, "NotConfigured") != 0) nothing = 1;
    if (json_array_size(sids)) nothing = 1;
    if (json_array_size(tenant_ids) && !in_list(tenant_ids, req->tenant)) nothing = 1;
    if (!load(req, resp, &t)) goto out;
    t.out = json_array();
    t.by_env = json_object();
    if (!nothing && cat_source_list(t.cat, t.tenant, json_array_size(ids) ? ids : NULL, on_source, &t) != 0) {
        api_error(resp, 500, "InternalError", "catalog error while listing source registrations");
        goto out;
    }
    by_env = json_array();
    json_object_foreach(t.by_env, k, v) {
        json_array_append_new(by_env, json_pack("{s:s,s:O,s:O,s:O,s:O}", "environment", k, "protectedCount",
                                                json_array_get(v, 0), "protectedSize", json_array_get(v, 1),
                                                "unprotectedCount", json_array_get(v, 2), "unprotectedSize",
                                                json_array_get(v, 3)));
    }
    out = json_pack("{s:o,s:o,s:o}", "rootNodes", t.out, "stats", stats_json(&t.total), "statsByEnv", by_env);
    t.out = NULL;
    api_json(resp, 200, out);
out:
    json_decref(t.out);
    json_decref(t.by_env);
    json_decref(t.envs);
    json_decref(ids);
    json_decref(sids);
    json_decref(tenant_ids);
    cat_object_tree_free(t.objs, t.nobjs);
}

const struct api_route api_routes_protection_sources_v1[] = {
    { "GET", "/irisservices/api/v1/public/protectionSources", list_sources, 0, API_ROLE_VIEWER },
    { "GET", "/irisservices/api/v1/public/protectionSources/registrationInfo", registration_info_list, 0, API_ROLE_VIEWER },
    { "GET", "/v2/irisservices/api/v1/public/protectionSources", list_sources, 0, API_ROLE_VIEWER },
    { "GET", "/v2/irisservices/api/v1/public/protectionSources/registrationInfo", registration_info_list, 0, API_ROLE_VIEWER },
    { NULL, NULL, NULL, 0, 0 },
};
