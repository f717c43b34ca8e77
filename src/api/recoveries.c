/* recoveries.c: file recoveries through the API, and how any recovery is shown.
 *
 *   POST /v2/data-protect/recoveries               CreateRecovery (201)
 *   GET  /v2/data-protect/recoveries               GetRecoveries
 *   GET  /v2/data-protect/recoveries/{id}          GetRecoveryByID
 *   POST /v2/data-protect/recoveries/{id}/cancel   CancelRecoveryByID (200, no body)
 *
 * Coffer recovers files and folders of physical hosts (and PostgreSQL through mssqlParams: snapshotEnvironment
 * kSQL is handed to recoveries_sql.c): snapshotEnvironment kPhysical with
 * physicalParams.recoveryAction RecoverFiles, one object (its snapshotId is the id from
 * GetObjectSnapshots) and recoverFileAndFolderParams naming absolute, normalized paths. Every path
 * is looked up in the snapshot before anything is queued (a path not there is 404 naming it, and
 * nothing is written). The target is a registered host served by this server's local agent
 * (physicalTargetParams.recoverTarget.id, required by the official client; when absent, the
 * snapshot's own object); files go back to their original paths
 * (restoreToOriginalPaths true, or no alternateRestoreDirectory), or under alternateRestoreDirectory
 * as <dir>/<basename of the path>, or under an item's own destinationDir. overwriteExisting
 * (default false: existing entries are left and counted), preserveAttributes (default true: mode,
 * owner when root, times, xattrs) and continueOnError (default false: the first failing file ends
 * the recovery Failed; true: failing files are named and the rest restored, SucceededWithWarning)
 * are honoured; vlanConfig, saveSuccessFiles and preserveAcls have nothing to act on here.
 * Other actions (RecoverPhysicalVolumes, InstantVolumeMount, RecoverSystem) and environments are
 * 400 naming recoveryAction.
 *
 * The recovery is queued Accepted with its typed spec (sched/job_spec.h) and answered at once; a
 * recovery kind of the job core (src/sched/job_restore.c, job_download.c) runs it. A Recovery shows the request as sent plus its progress: status,
 * times, messages naming files that failed, and per object the status, bytesRestored and messages,
 * per file and folder a status (NotStarted, CopyInProgress, Finished), its destinationDir and the
 * errors under it. "cofferStats" (files, dirs, bytes, errors, skipped, archiveBytes) is Coffer's. */
#include "api/recoveries.h"
#include "api/auth.h"
#include "api/recoveries_sql.h"
#include "api/jv.h"
#include "api/objects.h"
#include "api/resid.h"
#include "catalog/cat_agent.h"
#include "catalog/cat_source.h"
#include "util/time.h"
#include "sched/job_spec.h"
#include "sched/sched.h"
#include "svc/svc.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_LIMIT 4096
#define FILE_MESSAGES_MAX 20

static const char *const g_statuses[] = { "Accepted", "Canceled", "Canceling", "Failed", "Finalizing", "LegalHold",
                                          "Missed", "OnHold", "Running", "Skipped", "Succeeded",
                                          "SucceededWithWarning", NULL };
static const char *const g_actions[] = {
    "CloneApps", "CloneAppView", "CloneRefreshApp", "CloneView", "CloneVMs", "CloneVMsToView", "ConvertAndDeployVMs",
    "ConvertToPst", "DeployVMs", "DownloadChats", "DownloadFilesAndFolders", "InstantVolumeMount", "RecoverApps",
    "RecoverAurora", "RecoverAzureSQL", "RecoverExchangeDbs", "RecoverFiles", "RecoverMailbox", "RecoverMailboxCSM",
    "RecoverMsGroup", "RecoverMsTeam", "RecoverNamespaces", "RecoverNasVolume", "RecoverObjects", "RecoverOneDrive",
    "RecoverOneDriveCSM", "RecoverPhysicalVolumes", "RecoverPublicFolders", "RecoverRDS", "RecoverRDSPostgres",
    "RecoverS3Buckets", "RecoverSanGroup", "RecoverSanVolumes", "RecoverSfdcObjects", "RecoverSfdcOrg",
    "RecoverSfdcRecords", "RecoverSharePoint", "RecoverSharePointCSM", "RecoverSystem", "RecoverVApps",
    "RecoverVAppTemplates", "RecoverVmDisks", "RecoverVMs", "UptierSnapshot", NULL };
static const char *const g_envs[] = { "kKubernetes", "kPhysical", "kSQL", NULL };
static const char *const g_physical_actions[] = { "InstantVolumeMount", "RecoverFiles", "RecoverPhysicalVolumes",
                                                  "RecoverSystem", NULL };

/* ---------- shared with downloads.c ---------- */

const char *api_rec_path_problem(const char *p)
{
    size_t n = strlen(p);
    if (p[0] != '/') return "must be an absolute path (starting with '/')";
    if (n >= PATH_LIMIT) return "is longer than 4095 bytes";
    if (n == 1) return NULL;
    if (p[n - 1] == '/') return "must not end with '/'";
    for (const char *c = p; *c;) {
        const char *e;
        size_t k;
        c++; /* past '/' */
        e = strchr(c, '/');
        k = e ? (size_t)(e - c) : strlen(c);
        if (k == 0) return "must not contain '//'";
        if ((k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
            return "must not contain '.' or '..' components";
        c += k;
    }
    return NULL;
}

int api_rec_snapshot(struct api_req *req, struct api_resp *resp, const char *field, const char *id,
                     struct cat_snapshot *out)
{
    int rc = cat_snapshot_get(api_ctx(req)->cat, req->tenant, id, out);
    if (rc == CAT_NOT_FOUND || (rc == 0 && out->is_deleted)) {
        if (rc == 0) cat_snapshot_release(out);
        api_error(resp, 404, "NotFound", "%s: snapshot '%.80s' not found", field, id);
        return -1;
    }
    if (rc != 0) {
        api_error(resp, 500, "InternalError", "catalog error while reading snapshot '%.80s'", id);
        return -1;
    }
    if (strcmp(out->environment, "kPhysical") != 0) {
        api_error(resp, 400, "InvalidField", "%s: snapshot '%.80s' is a %s snapshot, not a file snapshot (kPhysical)",
                  field, id, out->environment);
        cat_snapshot_release(out);
        return -1;
    }
    return 0;
}

int api_rec_check_items(struct api_req *req, struct api_resp *resp, const char *field, json_t *items,
                        const char *snapshot_id)
{
    struct repo *repo = api_ctx(req)->repo;
    size_t i;
    json_t *it;
    char pfx[256];
    if (!repo) {
        api_error(resp, 503, "Unavailable", "the repository is not available");
        return -1;
    }
    json_array_foreach(items, i, it) {
        const char *path = NULL, *why;
        int isdir = 0, has_isdir = 0, rc;
        struct tree_entry e;
        snprintf(pfx, sizeof pfx, "%s[%zu]", field, i);
        if (!json_is_object(it)) {
            api_error(resp, 400, "InvalidField", "field '%s' must be an object", pfx);
            return -1;
        }
        if (!jv_str(resp, it, pfx, "absolutePath", 1, &path) || !jv_bool(resp, it, pfx, "isDirectory", 0, &isdir, &has_isdir))
            return -1;
        if ((why = api_rec_path_problem(path)) != NULL) {
            api_error(resp, 400, "InvalidField", "field '%s.absolutePath' ('%.200s') %s", pfx, path, why);
            return -1;
        }
        rc = svc_recovery_check_path(repo, snapshot_id, path, &e);
        if (rc == -ENOENT) {
            api_error(resp, 404, "NotFound", "field '%s.absolutePath': '%.200s' is not in snapshot %s", pfx, path,
                      snapshot_id);
            return -1;
        }
        if (rc == -EBADMSG) { /* the repository is damaged: a state to repair, not a server fault */
            char dmg[480];
            api_error(resp, 409, "RepositoryDamaged", "field '%s.absolutePath': cannot find '%.200s' in snapshot %s: %s",
                      pfx, path, snapshot_id, svc_damage_text(rc, dmg, sizeof dmg));
            return -1;
        }
        if (rc != 0) {
            api_error(resp, 500, "InternalError", "cannot read snapshot %s to find '%.200s': %s", snapshot_id, path,
                      strerror(-rc));
            return -1;
        }
        if (has_isdir && isdir != (e.type == TREE_DIR)) {
            api_error(resp, 400, "InvalidField", "field '%s.isDirectory' is %s but '%.200s' is %s in snapshot %s", pfx,
                      isdir ? "true" : "false", path, e.type == TREE_DIR ? "a directory" : "not a directory",
                      snapshot_id);
            tree_entry_release(&e);
            return -1;
        }
        tree_entry_release(&e);
    }
    return 0;
}

void api_rec_enrich_object(struct api_req *req, json_t *obj, const struct cat_snapshot *s)
{
    struct cat_object o;
    if (!json_object_get(obj, "protectionGroupId")) json_object_set_new(obj, "protectionGroupId", json_string(s->group_id));
    if (!json_object_get(obj, "protectionGroupName") && s->group_name)
        json_object_set_new(obj, "protectionGroupName", json_string(s->group_name));
    if (!json_object_get(obj, "snapshotCreationTimeUsecs"))
        json_object_set_new(obj, "snapshotCreationTimeUsecs", json_integer(s->snapshot_usecs));
    if (!json_object_get(obj, "snapshotTargetType")) json_object_set_new(obj, "snapshotTargetType", json_string("Local"));
    if (!json_object_get(obj, "objectInfo") && cat_object_get(api_ctx(req)->cat, req->tenant, s->object_id, &o) == 0) {
        json_t *info = api_object_summary(&o);
        json_object_set_new(info, "protectionType", json_string("kFile"));
        json_object_set_new(obj, "objectInfo", info);
        cat_object_release(&o);
    }
}

/* file_status: NotStarted / CopyInProgress / Finished by the recovery's status. */
static const char *file_status(const char *status)
{
    if (strcmp(status, "Accepted") == 0) return "NotStarted";
    if (strcmp(status, "Running") == 0 || strcmp(status, "Canceling") == 0) return "CopyInProgress";
    return "Finished";
}

/* under: path is p or below it. */
static int under(const char *path, const char *p)
{
    size_t n = strlen(p);
    if (strcmp(p, "/") == 0) return 1;
    return strncmp(path, p, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void render_items(json_t *items, const struct cat_recovery *r, int restore)
{
    struct job_recovery_spec spec = { 0 };
    char err[160];
    /* the job's typed spec says where each item went; a spec this daemon cannot read shows no target */
    int have_spec = restore && job_recovery_spec_parse(r->request, &spec, err, sizeof err) == 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *p = json_string_value(json_object_get(it, "absolutePath"));
        json_t *msgs = json_array(), *fe;
        size_t k;
        if (!json_is_object(it) || !p) {
            json_decref(msgs);
            continue;
        }
        json_object_set_new(it, "status", json_string(file_status(r->status)));
        json_array_foreach(r->file_errors, k, fe) {
            const char *fp = json_string_value(json_object_get(fe, "path"));
            const char *fm = json_string_value(json_object_get(fe, "message"));
            if (fp && fm && under(fp, p) && json_array_size(msgs) < FILE_MESSAGES_MAX) {
                char m[1024];
                snprintf(m, sizeof m, "%s: %s", fp, fm);
                json_array_append_new(msgs, json_string(m));
            }
        }
        if (json_array_size(msgs) > 0) json_object_set(it, "messages", msgs);
        json_decref(msgs);
        if (restore && !json_object_get(it, "destinationDir")) {
            const char *t = have_spec && i < spec.n_items ? spec.items[i].target : NULL;
            if (t) {
                json_object_set_new(it, "destinationDir", json_string(t));
            } else { /* the original location: the parent directory */
                const char *slash = strrchr(p, '/');
                size_t n = slash && slash != p ? (size_t)(slash - p) : 1;
                json_object_set_new(it, "destinationDir", json_stringn(p, n));
            }
        }
    }
    if (have_spec) job_recovery_spec_release(&spec);
}

json_t *api_recovery_json(const struct cat_recovery *r)
{
    json_t *j = json_deep_copy(r->doc), *pp, *objs, *o;
    char task[128];
    size_t i;
    int restore = strcmp(r->kind, "restore") == 0;
    if (!j) j = json_object();
    snprintf(task, sizeof task, "recovery:%s", r->id);
    json_object_set_new(j, "id", json_string(r->id));
    json_object_set_new(j, "name", json_string(r->name));
    json_object_set_new(j, "startTimeUsecs", json_integer(r->start_usecs));
    if (r->end_usecs > 0) json_object_set_new(j, "endTimeUsecs", json_integer(r->end_usecs));
    json_object_set_new(j, "status", json_string(r->status));
    json_object_set_new(j, "progressTaskId", json_string(task));
    json_object_set_new(j, "snapshotEnvironment", json_string(r->snapshot_environment));
    json_object_set_new(j, "recoveryAction", json_string(r->recovery_action));
    json_object_set(j, "messages", r->messages);
    json_object_set_new(j, "canTearDown", json_false());
    json_object_set_new(j, "isParentRecovery", json_false());
    json_object_set_new(j, "isMultiStageRestore", json_false());
    json_object_set_new(j, "creationInfo", json_pack("{s:s}", "userName", "admin"));
    json_object_set_new(j, "cofferStats",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "files", (json_int_t)r->files, "dirs",
                                  (json_int_t)r->dirs, "bytes", (json_int_t)r->bytes, "errors", (json_int_t)r->errors,
                                  "skipped", (json_int_t)r->skipped, "archiveBytes", (json_int_t)r->archive_bytes));
    if (strcmp(r->kind, "sql_restore") == 0) { /* recoveries_sql.c */
        api_recovery_sql_render(j, r);
        return j;
    }
    pp = json_object_get(j, "physicalParams");
    objs = json_object_get(pp, "objects");
    json_array_foreach(objs, i, o) {
        if (!json_is_object(o)) continue;
        json_object_set_new(o, "status", json_string(r->status));
        json_object_set_new(o, "progressTaskId", json_string(task));
        json_object_set_new(o, "startTimeUsecs", json_integer(r->start_usecs));
        if (r->end_usecs > 0) json_object_set_new(o, "endTimeUsecs", json_integer(r->end_usecs));
        json_object_set_new(o, "bytesRestored", json_integer(r->bytes));
        json_object_set(o, "messages", r->messages);
    }
    if (restore) {
        render_items(json_object_get(json_object_get(pp, "recoverFileAndFolderParams"), "filesAndFolders"), r, 1);
    } else {
        json_t *dp = json_object_get(pp, "downloadFileAndFolderParams");
        render_items(json_object_get(dp, "filesAndFolders"), r, 0);
        if (json_is_object(dp) && r->archive_bytes >= 0) {
            char url[160];
            snprintf(url, sizeof url, "/v2/data-protect/recoveries/%s/download-files", r->id);
            json_object_set_new(dp, "downloadFilePath", json_string(url));
            json_object_set_new(dp, "expiryTimeUsecs", json_integer(r->end_usecs + SCHED_DOWNLOAD_TTL_USECS));
        }
    }
    return j;
}

void api_rec_insert(struct api_req *req, struct api_resp *resp, const char *name, const char *kind,
                    const char *environment, const char *action, const struct cat_snapshot *s,
                    const struct job_recovery_spec *spec, json_t *doc)
{
    struct cat_recovery r;
    char id[API_ID_MAX];
    int rc;
    json_t *request = job_recovery_spec_doc(spec);
    struct api_rec_new q = { .name = name, .kind = kind, .environment = environment, .action = action,
                             .snapshot_id = s->id, .object_id = s->object_id, .request = request, .doc = doc };
    if (!request) {
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    rc = api_rec_queue(req, resp, &q, id, sizeof id);
    json_decref(request);
    if (rc != 0) return;
    if (cat_recovery_get(api_ctx(req)->cat, req->tenant, id, &r) != 0) {
        api_error(resp, 500, "InternalError", "catalog error while reading the recovery back");
        return;
    }
    api_json(resp, 201, api_recovery_json(&r));
    cat_recovery_release(&r);
}

/* ---------- POST /recoveries ---------- */

/* target_dir_ok: an absolute directory without '.'/'..' components; trailing '/' allowed. The
 * normalized form (no trailing '/') goes to out. */
static int target_dir_ok(struct api_resp *resp, const char *field, const char *d, char *out, size_t outlen)
{
    size_t n = strlen(d);
    const char *why;
    if (n >= outlen) {
        api_error(resp, 400, "InvalidField", "field '%s' is longer than %zu bytes", field, outlen - 1);
        return 0;
    }
    memcpy(out, d, n + 1);
    while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
    if ((why = api_rec_path_problem(out)) != NULL) {
        api_error(resp, 400, "InvalidField", "field '%s' ('%.200s') %s", field, d, why);
        return 0;
    }
    return 1;
}

/* target_agent: the connector id (malloc'd into *connector) of the registered coffer-agent serving
 * host (a kPhysical registration whose endpoint is the agent's host name or address): a restore to it
 * is a work item for that agent (engine/remote.h eng_remote_restore). CAT_NOT_FOUND when none does. */
static int target_agent(struct cat *cat, const char *tenant, const struct cat_object *host, char **connector)
{
    struct cat_source s;
    struct cat_agent a;
    int rc = cat_source_get(cat, tenant, host->source_id, &s);
    if (rc != 0) return rc;
    rc = s.endpoint_key ? cat_agent_for_host(cat, tenant, s.endpoint_key, &a) : CAT_NOT_FOUND;
    cat_source_release(&s);
    if (rc != 0) return rc;
    *connector = strdup(a.connector_id);
    cat_agent_release(&a);
    return *connector ? 0 : -ENOMEM;
}

static void create_recovery(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    json_t *body = api_body_object(req, resp), *pp, *objs, *obj, *rfp, *files, *ptp, *rt, *doc = NULL;
    struct job_recovery_spec spec = { 0 };
    const char *name = NULL, *env = NULL, *action = NULL, *snap_id = NULL, *alt = NULL, *entity = NULL;
    int to_original = 0, has_to_original = 0, overwrite = 0, preserve = 1, coe = 0, dummy, has_target = 0;
    int64_t target_id = 0;
    char altn[PATH_LIMIT];
    struct cat_snapshot snap;
    struct cat_object host;
    int have_snap = 0;
    size_t i;
    json_t *it;
    static const char *const target_envs[] = { "kPhysical", NULL };
    static const char *const entity_types[] = { "kRegular", "kACLOnly", NULL };
    if (!body) return;
    if (!jv_str_nonempty(resp, body, NULL, "name", 1, &name) ||
        !jv_enum(resp, body, NULL, "snapshotEnvironment", 1, g_envs, &env))
        goto out;
    if (strcmp(env, "kSQL") == 0) { /* PostgreSQL: recoveries_sql.c validates and queues */
        char sid[API_ID_MAX];
        struct cat_recovery sr;
        if (api_recovery_sql_create(req, resp, body, name, sid, sizeof sid) == 0) {
            if (cat_recovery_get(cat, req->tenant, sid, &sr) == 0) {
                api_json(resp, 201, api_recovery_json(&sr));
                cat_recovery_release(&sr);
            } else {
                api_error(resp, 500, "InternalError", "catalog error while reading the recovery back");
            }
        }
        goto out;
    }
    if (strcmp(env, "kPhysical") != 0) {
        api_error(resp, 400, "Unsupported",
                  "snapshotEnvironment '%s' is not supported: Coffer recovers files of physical hosts "
                  "(snapshotEnvironment kPhysical with physicalParams.recoveryAction RecoverFiles)", env);
        goto out;
    }
    if (!jv_obj(resp, body, NULL, "physicalParams", 1, &pp) ||
        !jv_enum(resp, pp, "physicalParams", "recoveryAction", 1, g_physical_actions, &action))
        goto out;
    if (strcmp(action, "RecoverFiles") != 0) {
        api_error(resp, 400, "Unsupported",
                  "physicalParams.recoveryAction '%s' is not supported: Coffer recovers files and folders "
                  "(recoveryAction RecoverFiles); to fetch files use POST /v2/data-protect/recoveries/download-files-folders",
                  action);
        goto out;
    }
    if (!jv_arr(resp, pp, "physicalParams", "objects", 1, &objs)) goto out;
    if (json_array_size(objs) != 1) {
        api_error(resp, 400, "InvalidField",
                  "field 'physicalParams.objects' must hold exactly one object snapshot for RecoverFiles, not %zu",
                  json_array_size(objs));
        goto out;
    }
    obj = json_array_get(objs, 0);
    if (!json_is_object(obj)) {
        api_error(resp, 400, "InvalidField", "field 'physicalParams.objects[0]' must be an object");
        goto out;
    }
    if (!jv_str_nonempty(resp, obj, "physicalParams.objects[0]", "snapshotId", 1, &snap_id)) goto out;
    if (!jv_obj(resp, pp, "physicalParams", "recoverFileAndFolderParams", 1, &rfp)) goto out;
#define RFP "physicalParams.recoverFileAndFolderParams"
    if (!jv_arr(resp, rfp, RFP, "filesAndFolders", 1, &files) ||
        !jv_enum(resp, rfp, RFP, "targetEnvironment", 1, target_envs, NULL) ||
        !jv_obj(resp, rfp, RFP, "physicalTargetParams", 0, &ptp) ||
        !jv_obj(resp, ptp, RFP ".physicalTargetParams", "recoverTarget", 0, &rt) ||
        !jv_int(resp, rt, RFP ".physicalTargetParams.recoverTarget", "id", rt != NULL, &target_id, &has_target) ||
        !jv_bool(resp, ptp, RFP ".physicalTargetParams", "restoreToOriginalPaths", 0, &to_original, &has_to_original) ||
        !jv_bool(resp, ptp, RFP ".physicalTargetParams", "overwriteExisting", 0, &overwrite, NULL) ||
        !jv_bool(resp, ptp, RFP ".physicalTargetParams", "preserveAttributes", 0, &preserve, NULL) ||
        !jv_bool(resp, ptp, RFP ".physicalTargetParams", "preserveTimestamps", 0, &dummy, NULL) ||
        !jv_bool(resp, ptp, RFP ".physicalTargetParams", "preserveAcls", 0, &dummy, NULL) ||
        !jv_bool(resp, ptp, RFP ".physicalTargetParams", "continueOnError", 0, &coe, NULL) ||
        !jv_bool(resp, ptp, RFP ".physicalTargetParams", "saveSuccessFiles", 0, &dummy, NULL) ||
        !jv_str(resp, ptp, RFP ".physicalTargetParams", "alternateRestoreDirectory", 0, &alt) ||
        !jv_enum(resp, ptp, RFP ".physicalTargetParams", "restoreEntityType", 0, entity_types, &entity))
        goto out;
    if (json_array_size(files) == 0) {
        api_error(resp, 400, "InvalidField", "field '" RFP ".filesAndFolders' must name at least one path");
        goto out;
    }
    if (entity && strcmp(entity, "kACLOnly") == 0) {
        api_error(resp, 400, "Unsupported", "field '" RFP ".physicalTargetParams.restoreEntityType' kACLOnly is not "
                                            "supported: Coffer restores whole entries (kRegular)");
        goto out;
    }
    if (alt && !*alt) alt = NULL;
    if (has_to_original && to_original && alt) {
        api_error(resp, 400, "InvalidField", "fields '" RFP ".physicalTargetParams.restoreToOriginalPaths' (true) and '"
                                             RFP ".physicalTargetParams.alternateRestoreDirectory' contradict each other");
        goto out;
    }
    if (has_to_original && !to_original && !alt) {
        api_error(resp, 400, "MissingField", "field '" RFP ".physicalTargetParams.alternateRestoreDirectory' is required "
                                             "when restoreToOriginalPaths is false");
        goto out;
    }
    if (alt && !target_dir_ok(resp, RFP ".physicalTargetParams.alternateRestoreDirectory", alt, altn, sizeof altn))
        goto out;

    if (api_rec_snapshot(req, resp, "physicalParams.objects[0].snapshotId", snap_id, &snap) != 0) goto out;
    have_snap = 1;
    /* the target host: registered, served by the local agent (by default the snapshot's own object) */
    if (!has_target) target_id = snap.object_id;
    {
        int rc = cat_object_get(cat, req->tenant, target_id, &host);
        if (rc == CAT_NOT_FOUND) {
            api_error(resp, 404, "NotFound", "field '" RFP ".physicalTargetParams.recoverTarget.id': no registered "
                                             "object %lld", (long long)target_id);
            goto out;
        }
        if (rc != 0) {
            api_error(resp, 500, "InternalError", "catalog error while reading object %lld", (long long)target_id);
            goto out;
        }
        rc = host.is_deleted ? 0 : cat_object_is_local(cat, req->tenant, target_id);
        if (rc == 0 && !host.is_deleted && host.agent == CAT_AGENT_REMOTE &&
            (rc = target_agent(cat, req->tenant, &host, &spec.agent_connector)) == 0)
            rc = 1;
        cat_object_release(&host);
        if (rc != 1) {
            api_error(resp, 400, "InvalidField",
                      "field '" RFP ".physicalTargetParams.recoverTarget.id': object %lld is not a host this server's "
                      "local agent or a registered coffer-agent can write to%s", (long long)target_id,
                      rc < 0 && rc != CAT_NOT_FOUND ? " (catalog error)"
                      : rc == CAT_NOT_FOUND ? " (no coffer-agent serves it now: was its connector deleted?)" : "");
            goto out;
        }
    }
    if (api_rec_check_items(req, resp, RFP ".filesAndFolders", files, snap.id) != 0) goto out;

    /* the worker's job: its typed spec */
    spec.overwrite = overwrite;
    spec.preserve_attrs = preserve;
    spec.continue_on_error = coe;
    if (!(spec.snapshot_id = strdup(snap.id))) goto oom;
    json_array_foreach(files, i, it) {
        const char *dest = NULL;
        char pfx[128], destn[PATH_LIMIT], field[160];
        snprintf(pfx, sizeof pfx, RFP ".filesAndFolders[%zu]", i);
        if (!jv_str(resp, it, pfx, "destinationDir", 0, &dest)) goto out;
        if (dest && *dest) {
            snprintf(field, sizeof field, "%s.destinationDir", pfx);
            if (!target_dir_ok(resp, field, dest, destn, sizeof destn)) goto out;
        }
        if (job_recovery_spec_add(&spec, json_string_value(json_object_get(it, "absolutePath")),
                                  json_is_true(json_object_get(it, "isDirectory")),
                                  dest && *dest ? destn : alt ? altn : NULL) != 0)
            goto oom;
    }
    doc = json_object();
    json_object_set_new(doc, "physicalParams", json_deep_copy(pp));
    api_rec_enrich_object(req, json_array_get(json_object_get(json_object_get(doc, "physicalParams"), "objects"), 0),
                          &snap);
    api_rec_insert(req, resp, name, "restore", "kPhysical", "RecoverFiles", &snap, &spec, doc);
#undef RFP
    goto out;
oom:
    api_error(resp, 500, "InternalError", "out of memory");
out:
    if (have_snap) cat_snapshot_release(&snap);
    job_recovery_spec_release(&spec);
    json_decref(doc);
    json_decref(body);
}

/* ---------- GET /recoveries ---------- */

static int add_recovery(void *ud, const struct cat_recovery *r)
{
    json_array_append_new(ud, api_recovery_json(r));
    return 0;
}

static void list_recoveries(struct api_req *req, struct api_resp *resp)
{
    struct cat_recovery_filter f = { 0 };
    json_t *ids = api_query_list(req, "ids"), *target_types = api_query_list(req, "snapshotTargetType");
    json_t *statuses = NULL, *actions = NULL, *envs = NULL, *arr;
    const char *archival = api_query(req, "archivalTargetType");
    int only_children = 0, nothing = 0;
    static const char *const ttypes[] = { "Local", "Archival", "RpaasArchival", "StorageArraySnapshot", "Remote", NULL };
    size_t i;
    json_t *v;
    if (!(statuses = api_query_enum_list(req, resp, "status", g_statuses)) ||
        !(actions = api_query_enum_list(req, resp, "recoveryActions", g_actions)) ||
        !(envs = api_query_enum_list(req, resp, "snapshotEnvironments", g_envs)))
        goto out;
    {
        static const char *const archival_types[] = { "Tape", "Cloud", "Nas", NULL };
        json_t *l = api_query_enum_list(req, resp, "archivalTargetType", archival_types);
        if (!l) goto out;
        json_decref(l);
    }
    if (api_query_bool(req, resp, "returnOnlyChildRecoveries", &only_children) < 0 ||
        api_query_int64(req, resp, "startTimeUsecs", &f.start_from) < 0 ||
        api_query_int64(req, resp, "endTimeUsecs", &f.start_to) < 0)
        goto out;
    json_array_foreach(target_types, i, v) {
        if (!jv_enum_ok(json_string_value(v), ttypes)) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'snapshotTargetType' has unknown value '%.64s'",
                      json_string_value(v));
            goto out;
        }
    }
    json_array_foreach(ids, i, v) {
        if (!api_id_parse(json_string_value(v), NULL, NULL, NULL)) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'ids': '%.64s' is not a recovery id "
                                                     "(clusterId:incarnationId:n)", json_string_value(v));
            goto out;
        }
    }
    /* Every recovery here is a top-level one from a local snapshot. */
    if (only_children || archival) nothing = 1;
    if (json_array_size(target_types) > 0) {
        int local = 0;
        json_array_foreach(target_types, i, v) local |= strcmp(json_string_value(v), "Local") == 0;
        if (!local) nothing = 1;
    }
    f.ids = ids;
    f.statuses = statuses;
    f.actions = actions;
    f.environments = envs;
    arr = json_array();
    if (!nothing && cat_recovery_list(api_ctx(req)->cat, req->tenant, &f, add_recovery, arr) != 0) {
        json_decref(arr);
        api_error(resp, 500, "InternalError", "catalog error while listing recoveries");
        goto out;
    }
    api_json(resp, 200, json_pack("{s:o}", "recoveries", arr));
out:
    json_decref(ids);
    json_decref(target_types);
    json_decref(statuses);
    json_decref(actions);
    json_decref(envs);
}

/* ---------- GET /recoveries/{id}, cancel ---------- */

static int check_id(struct api_resp *resp, const char *id)
{
    if (api_id_parse(id, NULL, NULL, NULL)) return 1;
    api_error(resp, 400, "InvalidParameter", "'%.64s' is not a recovery id (clusterId:incarnationId:n)", id);
    return 0;
}

static void get_recovery(struct api_req *req, struct api_resp *resp)
{
    static const char *const bools[] = { "includeTenants", NULL };
    struct cat_recovery r;
    int rc;
    if (!check_id(resp, req->params[0]) || api_query_bools(req, resp, bools) < 0) return;
    rc = cat_recovery_get(api_ctx(req)->cat, req->tenant, req->params[0], &r);
    if (rc == CAT_NOT_FOUND) {
        api_error(resp, 404, "NotFound", "recovery '%s' not found", req->params[0]);
        return;
    }
    if (rc != 0) {
        api_error(resp, 500, "InternalError", "catalog error while reading recovery '%s'", req->params[0]);
        return;
    }
    api_json(resp, 200, api_recovery_json(&r));
    cat_recovery_release(&r);
}

static void cancel_recovery(struct api_req *req, struct api_resp *resp)
{
    struct cat_recovery r;
    int rc, was_running = 0;
    if (!check_id(resp, req->params[0])) return;
    rc = cat_recovery_cancel(api_ctx(req)->cat, req->tenant, req->params[0], util_time_now(), &was_running);
    if (rc == CAT_NOT_FOUND) {
        api_error(resp, 404, "NotFound", "recovery '%s' not found", req->params[0]);
        return;
    }
    if (rc == CAT_CONFLICT) {
        const char *status = "finished";
        if (cat_recovery_get(api_ctx(req)->cat, req->tenant, req->params[0], &r) == 0) {
            api_error(resp, 409, "Conflict", "recovery '%s' already ended %s: only an Accepted or Running recovery "
                                             "can be canceled", req->params[0], r.status);
            cat_recovery_release(&r);
            return;
        }
        api_error(resp, 409, "Conflict", "recovery '%s' already %s", req->params[0], status);
        return;
    }
    if (rc != 0) {
        api_catalog_error(resp, rc, "canceling the recovery");
        return;
    }
    if (was_running) sched_notify(api_ctx(req)->sched);
    api_empty(resp, 200);
}

const struct api_route api_routes_recoveries[] = {
    { "POST", "/v2/data-protect/recoveries", create_recovery, 0, API_ROLE_OPERATOR },
    { "GET", "/v2/data-protect/recoveries", list_recoveries, 0, API_ROLE_VIEWER },
    { "GET", "/v2/data-protect/recoveries/{id}", get_recovery, 0, API_ROLE_VIEWER },
    { "POST", "/v2/data-protect/recoveries/{id}/cancel", cancel_recovery, 0, API_ROLE_OPERATOR },
    { NULL, NULL, NULL, 0, 0 },
};
