/* test_policy_group_validate.c: the shape checks of protection group bodies (src/api/group_validate.c):
 * valid kPhysical (kFile, kVolume) and kSQL groups pass and report their objects in order; each class
 * of bad input (missing fields, wrong types, unknown enumerations, malformed policy ids, unsupported
 * environments, bad objects and paths) is refused with a 400 naming the field path; blocks of other
 * environments and protection types, and empty lists, are tolerated and dropped. */
#include "check.h"
#include "api/group_validate.h"
#include <stdlib.h>
#include <string.h>

/* The last body validated: info's strings are borrowed from it, so it lives until the next run. */
static json_t *held;

static int run(const char *single_quoted, struct api_group_info *info, char *msg, size_t msglen, int *status)
{
    char *text = strdup(single_quoted);
    struct api_resp resp = { 0 };
    json_t *body;
    int ok;
    for (char *p = text; *p; p++)
        if (*p == '\'') *p = '"';
    body = json_loads(text, 0, NULL);
    free(text);
    if (!body) {
        snprintf(msg, msglen, "(test body does not parse)");
        memset(info, 0, sizeof *info);
        *status = -1;
        return -1;
    }
    ok = api_group_validate(&resp, body, info);
    *status = resp.status;
    snprintf(msg, msglen, "%s", resp.json ? json_string_value(json_object_get(resp.json, "message")) : "");
    json_decref(resp.json);
    json_decref(held);
    held = body;
    return ok;
}

#define HEAD "'name':'g','policyId':'1:2:3',"
#define FILEG(objects) "{" HEAD "'environment':'kPhysical','physicalParams':{'protectionType':'kFile'," \
    "'fileProtectionTypeParams':{'objects':" objects "}}}"
#define OBJ "[{'id':7,'filePaths':[{'includedPath':'/home'}]}]"

TEST(valid_groups_report_their_objects)
{
    struct api_group_info info;
    char msg[1024];
    int status;
    CHECKF(run("{" HEAD "'environment':'kPhysical','description':'d','priority':'kHigh','qosPolicy':'kBackupSSD',"
               "'startTime':{'hour':2,'minute':30,'timeZone':'UTC'},'endTimeUsecs':0,'abortInBlackouts':true,"
               "'pauseInBlackouts':false,'isPaused':true,'lastModifiedTimestampUsecs':99,"
               "'alertPolicy':{'backupRunStatus':['kFailure'],'alertTargets':[{'emailAddress':'a@b','language':'en-us',"
               "'recipientType':'kTo'}]},'sla':[{'backupRunType':'kFull','slaMinutes':60}],"
               "'advancedConfigs':[{'key':'k','value':'v'}],"
               "'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':{"
               "'objects':[{'id':9,'name':'host','filePaths':[{'includedPath':'/var/lib','excludedPaths':['/var/lib/tmp'],"
               "'skipNestedVolumes':true}]},{'id':4}],'globalExcludePaths':['*.tmp'],'ignorableErrors':['kEOF'],"
               "'indexingPolicy':{'enableIndexing':true,'includePaths':['/']},'taskTimeouts':[{'timeoutMins':5,"
               "'backupType':'kFull'}],'quiesce':false}}}",
               &info, msg, sizeof msg, &status) == 1, "refused: %s", msg);
    CHECK(strcmp(info.name, "g") == 0 && strcmp(info.policy_id, "1:2:3") == 0);
    CHECK(strcmp(info.environment, "kPhysical") == 0);
    CHECK(info.has_paused && info.is_paused);
    CHECK(info.has_mtime && info.mtime_usecs == 99);
    CHECK_EQ_INT(info.nobjects, 2);
    CHECK(info.object_ids[0] == 9 && info.object_ids[1] == 4);
    CHECK(info.objects_registered);
    CHECK(strcmp(info.objects_path, "physicalParams.fileProtectionTypeParams.objects") == 0);
    api_group_info_release(&info);

    CHECKF(run("{" HEAD "'environment':'kPhysical','physicalParams':{'protectionType':'kVolume',"
               "'volumeProtectionTypeParams':{'objects':[{'id':3,'volumeGuids':['g1'],'enableSystemBackup':true}]}}}",
               &info, msg, sizeof msg, &status) == 1, "refused: %s", msg);
    CHECK_EQ_INT(info.nobjects, 1);
    CHECK(strcmp(info.objects_path, "physicalParams.volumeProtectionTypeParams.objects") == 0);
    CHECK(!info.has_paused && !info.has_mtime);
    api_group_info_release(&info);

    CHECKF(run("{" HEAD "'environment':'kSQL','mssqlParams':{'protectionType':'kNative','nativeProtectionTypeParams':"
               "{'objects':[{'id':11,'name':'db'}],'numStreams':2,'withClause':'x','userDbBackupPreferenceType':"
               "'kBackupAllDatabases'}}}", &info, msg, sizeof msg, &status) == 1, "refused: %s", msg);
    CHECK(strcmp(info.environment, "kSQL") == 0);
    CHECK(!info.objects_registered);
    CHECK(info.nobjects == 1 && info.object_ids[0] == 11);
    api_group_info_release(&info);
}

struct bad { const char *body; const char *want; };

static void expect_bad(const struct bad *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct api_group_info info;
        char msg[1024];
        int status, ok = run(cases[i].body, &info, msg, sizeof msg, &status);
        api_group_info_release(&info);
        CHECKF(ok == 0, "case %zu accepted: %s", i, cases[i].body);
        CHECKF(status == 400, "case %zu: status %d", i, status);
        CHECKF(strstr(msg, cases[i].want) != NULL, "case %zu: message \"%s\" lacks \"%s\"", i, msg, cases[i].want);
    }
}

TEST(top_level_fields)
{
    static const struct bad cases[] = {
        { "{'policyId':'1:2:3','environment':'kSQL'}", "field 'name' is required" },
        { "{'name':'','policyId':'1:2:3','environment':'kSQL'}", "field 'name' must be a non-empty string" },
        { "{'name':'g','environment':'kSQL'}", "field 'policyId' is required" },
        { "{'name':'g','policyId':12,'environment':'kSQL'}", "field 'policyId' must be a string" },
        { "{'name':'g','policyId':'policy-1','environment':'kSQL'}",
          "field 'policyId' must be a protection policy id of the form clusterId:incarnationId:number" },
        { "{'name':'g','policyId':'1:2:3'}", "field 'environment' is required" },
        { "{" HEAD "'environment':'kVMware'}", "field 'environment' has unknown value 'kVMware'" },
        { "{" HEAD "'environment':'kKubernetes'}", "field 'environment' value 'kKubernetes' is not supported" },
        { "{" HEAD "'environment':'kSQL','priority':'kUrgent'}", "field 'priority' has unknown value 'kUrgent'" },
        { "{" HEAD "'environment':'kSQL','qosPolicy':1}", "field 'qosPolicy' must be a string" },
        { "{" HEAD "'environment':'kSQL','description':[]}", "field 'description' must be a string" },
        { "{" HEAD "'environment':'kSQL','startTime':{'hour':25,'minute':0}}", "field 'startTime.hour' must be <= 23" },
        { "{" HEAD "'environment':'kSQL','endTimeUsecs':-1}", "field 'endTimeUsecs' must be >= 0" },
        { "{" HEAD "'environment':'kSQL','isPaused':'yes'}", "field 'isPaused' must be a boolean" },
        { "{" HEAD "'environment':'kSQL','abortInBlackouts':1}", "field 'abortInBlackouts' must be a boolean" },
        { "{" HEAD "'environment':'kSQL','lastModifiedTimestampUsecs':'now'}",
          "field 'lastModifiedTimestampUsecs' must be an integer" },
        { "{" HEAD "'environment':'kSQL','alertPolicy':{}}", "field 'alertPolicy.backupRunStatus' is required" },
        { "{" HEAD "'environment':'kSQL','alertPolicy':{'backupRunStatus':['kMaybe']}}",
          "field 'alertPolicy.backupRunStatus[0]' has unknown value 'kMaybe'" },
        { "{" HEAD "'environment':'kSQL','alertPolicy':{'backupRunStatus':['kFailure'],'alertTargets':[{}]}}",
          "field 'alertPolicy.alertTargets[0].emailAddress' is required" },
        { "{" HEAD "'environment':'kSQL','sla':[{'backupRunType':'kSometimes'}]}",
          "field 'sla[0].backupRunType' has unknown value 'kSometimes'" },
        { "{" HEAD "'environment':'kSQL','advancedConfigs':[{'key':'k'}]}", "field 'advancedConfigs[0].value' is required" },
    };
    expect_bad(cases, sizeof cases / sizeof cases[0]);
}

TEST(params_match_environment_and_type)
{
    static const struct bad cases[] = {
        { "{" HEAD "'environment':'kPhysical'}", "field 'physicalParams' is required" },
        { "{" HEAD "'environment':'kPhysical','physicalParams':{}}", "field 'physicalParams.protectionType' is required" },
        { "{" HEAD "'environment':'kPhysical','physicalParams':{'protectionType':'kBlock'}}",
          "field 'physicalParams.protectionType' has unknown value 'kBlock'" },
        { "{" HEAD "'environment':'kPhysical','physicalParams':{'protectionType':'kFile'}}",
          "field 'physicalParams.fileProtectionTypeParams' is required" },
        { "{" HEAD "'environment':'kPhysical','physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':{}}}",
          "field 'physicalParams.fileProtectionTypeParams.objects' is required" },
        { "{" HEAD "'environment':'kPhysical','physicalParams':{'protectionType':'kVolume'}}",
          "field 'physicalParams.volumeProtectionTypeParams' is required" },
        { "{" HEAD "'environment':'kPhysical','physicalParams':{'protectionType':'kVolume','volumeProtectionTypeParams':"
          "{'objects':[{'id':'x'}]}}}", "field 'physicalParams.volumeProtectionTypeParams.objects[0].id' must be an integer" },
        { "{" HEAD "'environment':'kSQL'}", "field 'mssqlParams' is required" },
        { "{" HEAD "'environment':'kSQL','mssqlParams':{'protectionType':'kCopy'}}",
          "field 'mssqlParams.protectionType' has unknown value 'kCopy'" },
        { "{" HEAD "'environment':'kSQL','mssqlParams':{'protectionType':'kFile'}}",
          "field 'mssqlParams.fileProtectionTypeParams' is required" },
        { "{" HEAD "'environment':'kSQL','mssqlParams':{'protectionType':'kFile','fileProtectionTypeParams':"
          "{'objects':[{'id':1}],'numStreams':'2'}}}", "field 'mssqlParams.fileProtectionTypeParams.numStreams' must be an integer" },
        { "{" HEAD "'environment':'kSQL','mssqlParams':{'protectionType':'kVolume',"
          "'volumeProtectionTypeParams':{'objects':[{'id':1}]}}}", "field 'mssqlParams.protectionType' 'kVolume' is not supported" },
    };
    expect_bad(cases, sizeof cases / sizeof cases[0]);
}

/* A real client sends what a real deployment sends: blocks of other environments and protection types
 * (even malformed ones: they are not ours to judge) and empty lists are tolerated, and what belongs to
 * no one here is dropped from the body, so it is neither stored nor echoed. */
TEST(blocks_of_other_environments_and_empty_lists_are_tolerated_and_dropped)
{
    struct api_group_info info;
    char msg[1024];
    int status;
    CHECKF(run("{" HEAD "'environment':'kPhysical','mssqlParams':{'protectionType':'bogus'},'kubernetesParams':7,"
               "'physicalParams':{'protectionType':'kFile','volumeProtectionTypeParams':{'objects':'x'},"
               "'fileProtectionTypeParams':{'objects':[{'id':1,'filePaths':[{'includedPath':'/h','excludedPaths':[]}]}]}}}",
               &info, msg, sizeof msg, &status) == 1, "refused: %s", msg);
    CHECK(json_object_get(held, "mssqlParams") == NULL);
    CHECK(json_object_get(held, "kubernetesParams") == NULL);
    CHECK(json_object_get(json_object_get(held, "physicalParams"), "volumeProtectionTypeParams") == NULL);
    CHECK(json_object_get(json_object_get(held, "physicalParams"), "fileProtectionTypeParams") != NULL);
    CHECK(info.nobjects == 1 && info.object_ids[0] == 1);
    api_group_info_release(&info);
    CHECKF(run("{" HEAD "'environment':'kSQL','physicalParams':{'protectionType':'kFile'},'mssqlParams':{"
               "'protectionType':'kNative','fileProtectionTypeParams':{},'nativeProtectionTypeParams':{'objects':[{'id':2}]}}}",
               &info, msg, sizeof msg, &status) == 1, "refused: %s", msg);
    CHECK(json_object_get(held, "physicalParams") == NULL);
    CHECK(json_object_get(json_object_get(held, "mssqlParams"), "fileProtectionTypeParams") == NULL);
    CHECK(json_object_get(json_object_get(held, "mssqlParams"), "nativeProtectionTypeParams") != NULL);
    api_group_info_release(&info);
    /* strict where the value is used: the group's own block is still checked */
    CHECK(run("{" HEAD "'environment':'kSQL','physicalParams':{},'mssqlParams':{'protectionType':'kNative',"
              "'nativeProtectionTypeParams':{'objects':[{'id':'x'}]}}}", &info, msg, sizeof msg, &status) == 0);
    CHECK(status == 400 && strstr(msg, "nativeProtectionTypeParams.objects[0].id' must be an integer"));
    api_group_info_release(&info);
}

TEST(objects_and_paths)
{
    static const struct bad cases[] = {
        { FILEG("[]"), "field 'physicalParams.fileProtectionTypeParams.objects' must not be empty" },
        { FILEG("{}"), "field 'physicalParams.fileProtectionTypeParams.objects' must be an array" },
        { FILEG("[5]"), "field 'physicalParams.fileProtectionTypeParams.objects[0]' must be an object" },
        { FILEG("[{'name':'h'}]"), "field 'physicalParams.fileProtectionTypeParams.objects[0].id' is required" },
        { FILEG("[{'id':0}]"), "objects[0].id' must be > 0" },
        { FILEG("[{'id':1.5}]"), "objects[0].id' must be an integer" },
        { FILEG("[{'id':3},{'id':3}]"), "field 'physicalParams.fileProtectionTypeParams.objects[1].id' repeats object 3" },
        { FILEG("[{'id':3,'filePaths':[]}]"), "objects[0].filePaths' must not be empty" },
        { FILEG("[{'id':3,'filePaths':[{}]}]"),
          "field 'physicalParams.fileProtectionTypeParams.objects[0].filePaths[0].includedPath' is required" },
        { FILEG("[{'id':3,'filePaths':[{'includedPath':'home/x'}]}]"),
          "objects[0].filePaths[0].includedPath' must be an absolute path" },
        { FILEG("[{'id':3,'filePaths':[{'includedPath':'/home/../etc'}]}]"),
          "objects[0].filePaths[0].includedPath' must not contain '..' components" },
        { FILEG("[{'id':3,'filePaths':[{'includedPath':'/home/..'}]}]"), "must not contain '..' components" },
        { FILEG("[{'id':3,'filePaths':[{'includedPath':'/home','excludedPaths':['tmp']}]}]"),
          "objects[0].filePaths[0].excludedPaths[0]' must be an absolute path" },
        { FILEG("[{'id':3,'filePaths':[{'includedPath':'/home','excludedPaths':'/x'}]}]"),
          "objects[0].filePaths[0].excludedPaths' must be an array" },
        { FILEG("[{'id':3,'filePaths':[{'includedPath':7}]}]"), "filePaths[0].includedPath' must be a string" },
        { "{" HEAD "'environment':'kPhysical','physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':"
          "{'objects':" OBJ ",'globalExcludePaths':[1]}}}",
          "field 'physicalParams.fileProtectionTypeParams.globalExcludePaths[0]' must be a string" },
        { "{" HEAD "'environment':'kPhysical','physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':"
          "{'objects':" OBJ ",'ignorableErrors':['kEverything']}}}",
          "fileProtectionTypeParams.ignorableErrors[0]' has unknown value 'kEverything'" },
        { "{" HEAD "'environment':'kPhysical','physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':"
          "{'objects':" OBJ ",'indexingPolicy':{}}}}",
          "field 'physicalParams.fileProtectionTypeParams.indexingPolicy.enableIndexing' is required" },
    };
    expect_bad(cases, sizeof cases / sizeof cases[0]);
}

int main(void)
{
    RUN(valid_groups_report_their_objects);
    RUN(top_level_fields);
    RUN(params_match_environment_and_type);
    RUN(blocks_of_other_environments_and_empty_lists_are_tolerated_and_dropped);
    RUN(objects_and_paths);
    json_decref(held);
    return check_finish();
}
