/* meta_info.c: POST /v2/data-protect/snapshots/{snapshotId}/meta-info (ConstructMetaInfo).
 *
 * The API builds meta-information from a snapshot for three kinds of restore: Oracle (pfile
 * parameters), Salesforce (dependent objects) and Kubernetes (the resources and PVCs backed up).
 * Coffer protects files (kPhysical) and SQL databases (kSQL), none of those three, so there is never
 * meta-information to construct. The request is still checked whole, in this order:
 *   1. the body: environment (required, one of the API's environments), kubernetesParams.objectId
 *      (required integer when kubernetesParams is given), oracleParams' strings and booleans,
 *      sfdcParams.metaInfoType (required, DependentObjects) and objectName -> 400 naming the field;
 *   2. the snapshot id: Coffer's snapshot ids are 64 hexadecimal digits (400 otherwise); a snapshot
 *      the tenant does not have (or that was deleted) is 404;
 *   3. the environment: 400 naming field 'environment' and saying that meta-info is not available
 *      for it (and what the snapshot is). */
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "catalog/cat_snapshot.h"
#include <stdio.h>
#include <string.h>

/* The environments of ConstructMetaInfo's request (the client's enum). */
static const char *const environments[] = {
    "kAcropolis", "kAD", "kAuroraSnapshotManager", "kAWS", "kAwsAuroraPostgres", "kAwsDynamoDB", "kAWSNative",
    "kAwsRDSPostgres", "kAwsRDSPostgresBackup", "kAwsS3", "kAWSSnapshotManager", "kAzure", "kAzureEntraID",
    "kAzureNative", "kAzureSnapshotManager", "kAzureSQL", "kCassandra", "kCouchbase", "kDB2", "kElastifile",
    "kExchange", "kExperimentalAdapter", "kFlashBlade", "kGCP", "kGenericNas", "kGPFS", "kHBase", "kHdfs", "kHive",
    "kHyperFlex", "kHyperV", "kIbmFlashSystem", "kIsilon", "kKubernetes", "kKVM", "kMongoDB", "kMongoDBPhysical",
    "kNetapp", "kNimble", "kO365", "kO365Exchange", "kO365ExchangeCSM", "kO365Group", "kO365OneDrive",
    "kO365OneDriveCSM", "kO365PublicFolders", "kO365Sharepoint", "kO365SharepointCSM", "kO365Teams", "kOracle",
    "kPhysical", "kPhysicalFiles", "kPure", "kRDSSnapshotManager", "kRemoteAdapter", "kSAPHANA", "kSfdc", "kSQL",
    "kUDA", "kVCD", "kView", "kVMware", NULL };
static const char *const sfdc_types[] = { "DependentObjects", NULL };

static int hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') || (s[n] >= 'A' && s[n] <= 'F'))) return 0;
    return n == 64;
}

/* check_body: the body's fields by type; 0, or -1 after a 400. */
static int check_body(struct api_resp *resp, json_t *body, const char **env)
{
    static const char *const oracle_strs[] = { "baseDir", "dbFileDestination", "dbName", "homeDir", NULL };
    static const char *const oracle_bools[] = { "isClone", "isDisasterRecovery", "isGranularRestore",
                                                "isRecoveryValidation", NULL };
    json_t *k8s = NULL, *oracle = NULL, *sfdc = NULL;
    if (!jv_str_nonempty(resp, body, "", "environment", 1, env) ||
        !jv_obj(resp, body, "", "kubernetesParams", 0, &k8s) || !jv_obj(resp, body, "", "oracleParams", 0, &oracle) ||
        !jv_obj(resp, body, "", "sfdcParams", 0, &sfdc))
        return -1;
    if (!jv_enum_ok(*env, environments)) {
        api_error(resp, 400, "InvalidField", "field 'environment' is not an environment of the API: '%.64s' (e.g. "
                  "kOracle, kSfdc, kKubernetes, kPhysical, kSQL)", *env);
        return -1;
    }
    if (k8s && !jv_int(resp, k8s, "kubernetesParams", "objectId", 1, NULL, NULL)) return -1;
    for (const char *const *f = oracle_strs; oracle && *f; f++)
        if (!jv_str(resp, oracle, "oracleParams", *f, 0, NULL)) return -1;
    for (const char *const *f = oracle_bools; oracle && *f; f++)
        if (!jv_bool(resp, oracle, "oracleParams", *f, 0, NULL, NULL)) return -1;
    if (sfdc && (!jv_enum(resp, sfdc, "sfdcParams", "metaInfoType", 1, sfdc_types, NULL) ||
                 !jv_str(resp, sfdc, "sfdcParams", "objectName", 0, NULL)))
        return -1;
    return 0;
}

static void construct_meta_info(struct api_req *req, struct api_resp *resp)
{
    const char *id = req->params[0], *env = NULL;
    json_t *body = api_body_object(req, resp);
    struct cat_snapshot s;
    int rc;
    if (!body) return;
    if (check_body(resp, body, &env) != 0) goto out;
    if (!hex64(id)) {
        api_error(resp, 400, "InvalidId", "path parameter 'snapshotId' must be a snapshot id (64 hexadecimal digits), "
                  "not '%.80s'", id);
        goto out;
    }
    rc = cat_snapshot_get(api_ctx(req)->cat, req->tenant, id, &s);
    if (rc == CAT_NOT_FOUND || (rc == 0 && s.is_deleted)) {
        api_error(resp, 404, "NotFound", "no snapshot with id %s%s", id, rc == 0 ? " (it was deleted)" : "");
        if (rc == 0) cat_snapshot_release(&s);
        goto out;
    }
    if (rc != 0) {
        api_error(resp, 500, "InternalError", "catalog error while reading the snapshot");
        goto out;
    }
    if (strcmp(env, "kOracle") == 0 || strcmp(env, "kSfdc") == 0 || strcmp(env, "kKubernetes") == 0)
        api_error(resp, 400, "InvalidField", "field 'environment': meta-info is not available for environment %s: "
                  "this server protects no %s sources, and snapshot %.16s... is a %s snapshot", env, env, id,
                  s.environment ? s.environment : "kPhysical");
    else
        api_error(resp, 400, "InvalidField", "field 'environment': meta-info is not available for environment %s "
                  "(it is constructed only for kOracle, kSfdc and kKubernetes snapshots; snapshot %.16s... is a %s "
                  "snapshot)", env, id, s.environment ? s.environment : "kPhysical");
    cat_snapshot_release(&s);
out:
    json_decref(body);
}

const struct api_route api_routes_meta_info[] = {
    { "POST", "/v2/data-protect/snapshots/{snapshotId}/meta-info", construct_meta_info, 0, API_ROLE_VIEWER },
    { NULL, NULL, NULL, 0, 0 },
};
