/* test_run_json.c: the wire JSON src/api/run_json.c builds from the catalog's typed structs: every
 * field of a ProtectionGroupRun with its ObjectRunResults (a running run with a cancel request, data
 * lock, legal hold, warnings, a failed and a canceled object), a run without objects, and an
 * ObjectSnapshot with and without its optional fields. The expected texts are byte-for-byte what the
 * catalog produced before these builders moved to src/api (clients and the e2e suite rely on them). */
#include "check.h"
#include "api/run_json.h"
#include <stdlib.h>
#include <string.h>

/* same: the compact text of j (released) equals want. */
static int same(json_t *j, const char *want)
{
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int ok = t && strcmp(t, want) == 0;
    if (!ok) fprintf(stderr, "got:  %s\nwant: %s\n", t ? t : "(null)", want);
    free(t);
    json_decref(j);
    return ok;
}

TEST(run_and_snapshot_json)
{
    struct cat_run r = { .tenant = "t", .group_id = "5:6:7", .group_name = "files", .group_seq = 7, .start_usecs = 1000,
        .end_usecs = 9000, .instance_id = 33, .run_type = "kRegular", .status = "Running", .scheduled = 1,
        .logical_bytes = 100, .bytes_read = 80, .bytes_written = 60, .cancel_requested = 1, .on_legal_hold = 1,
        .local_deleted = 0, .expiry_usecs = 77777, .data_lock = "Compliance",
        .objects_total = 3, .objects_ok = 1, .objects_failed = 1, .objects_canceled = 1, .files = 12, .dirs = 4 };
    r.messages = json_pack("[s]", "a message");
    struct cat_run_object o[3] = {
        { .object_id = 11, .object_name = "/data", .source_name = "host-a", .environment = "kPhysical", .object_type = "kVolume",
          .source_id = 10, .status = "kSuccessful", .snapshot_id = "abcd", .begin_usecs = 1500, .end_usecs = 2500,
          .logical_bytes = 50, .bytes_read = 40, .bytes_written = 30, .files = 6, .dirs = 2, .files_read = 5 },
        { .object_id = 12, .object_name = "/home", .status = "kFailed", .message = "it broke", .begin_usecs = 900, .end_usecs = 2600,
          .files = 1, .dirs = 1 },
        { .object_id = 13, .status = "kCanceled", .message = "stopped" },
    };
    o[0].warnings = json_pack("[s]", "a warning");
    CHECK(same(api_run_json(&r, 1, o, 3),
        "{\"id\":\"7:1000\",\"protectionGroupInstanceId\":33,\"protectionGroupId\":\"5:6:7\",\"protectionGroup"
        "Name\":\"files\",\"isReplicationRun\":false,\"isLocalSnapshotsDeleted\":false,\"hasLocalSnapshot\":"
        "true,\"onLegalHold\":true,\"isCloudArchivalDirect\":false,\"environment\":\"kPhysical\",\"localBack"
        "upInfo\":{\"runType\":\"kRegular\",\"isSlaViolated\":false,\"startTimeUsecs\":1000,\"endTimeUsecs\":9"
        "000,\"status\":\"Canceling\",\"messages\":[\"a message\"],\"successfulObjectsCount\":1,\"skippedObjec"
        "tsCount\":0,\"failedObjectsCount\":1,\"cancelledObjectsCount\":1,\"successfulAppObjectsCount\":0,"
        "\"failedAppObjectsCount\":0,\"cancelledAppObjectsCount\":0,\"localSnapshotStats\":{\"logicalSizeB"
        "ytes\":100,\"bytesWritten\":60,\"bytesRead\":80},\"progressTaskId\":\"7:1000\",\"localTaskId\":\"7:100"
        "0\",\"dataLock\":\"Compliance\",\"dataLockConstraints\":{\"mode\":\"Compliance\",\"expiryTimeUsecs\":77"
        "777},\"cofferStats\":{\"files\":12,\"directories\":4,\"objects\":3,\"scheduled\":true,\"attempt\":1}},\"objects\":[{"
        "\"object\":{\"id\":11,\"name\":\"/data\",\"sourceId\":10,\"sourceName\":\"host-a\",\"environment\":\"kPhysi"
        "cal\",\"objectType\":\"kVolume\",\"protectionType\":\"kFile\",\"osType\":\"kLinux\"},\"localSnapshotInfo"
        "\":{\"snapshotInfo\":{\"snapshotId\":\"abcd\",\"status\":\"kSuccessful\",\"startTimeUsecs\":1500,\"admit"
        "tedTimeUsecs\":1500,\"queueDurationUsecs\":500,\"endTimeUsecs\":2500,\"snapshotCreationTimeUsecs"
        "\":2500,\"stats\":{\"logicalSizeBytes\":50,\"bytesWritten\":30,\"bytesRead\":40},\"warnings\":[\"a war"
        "ning\"],\"totalFileCount\":6,\"backupFileCount\":5,\"isManuallyDeleted\":false,\"expiryTimeUsecs\":"
        "77777,\"directoryCount\":2}},\"onLegalHold\":true},{\"object\":{\"id\":12,\"name\":\"/home\",\"protecti"
        "onType\":\"kFile\",\"osType\":\"kLinux\"},\"localSnapshotInfo\":{\"snapshotInfo\":{\"status\":\"kFailed\""
        ",\"statusMessage\":\"it broke\",\"startTimeUsecs\":900,\"admittedTimeUsecs\":900,\"queueDurationUse"
        "cs\":0,\"endTimeUsecs\":2600,\"stats\":{\"logicalSizeBytes\":0,\"bytesWritten\":0,\"bytesRead\":0},\"t"
        "otalFileCount\":1,\"backupFileCount\":0,\"isManuallyDeleted\":false,\"expiryTimeUsecs\":77777,\"di"
        "rectoryCount\":1},\"failedAttempts\":[{\"startTimeUsecs\":900,\"endTimeUsecs\":2600,\"status\":\"Fai"
        "led\",\"message\":\"it broke\"}]},\"onLegalHold\":true},{\"object\":{\"id\":13,\"protectionType\":\"kFil"
        "e\",\"osType\":\"kLinux\"},\"localSnapshotInfo\":{\"snapshotInfo\":{\"status\":\"kFailed\",\"statusMessa"
        "ge\":\"stopped\",\"stats\":{\"logicalSizeBytes\":0,\"bytesWritten\":0,\"bytesRead\":0},\"totalFileCoun"
        "t\":0,\"backupFileCount\":0,\"isManuallyDeleted\":false,\"expiryTimeUsecs\":77777,\"directoryCount"
        "\":0},\"failedAttempts\":[{\"status\":\"Canceled\",\"message\":\"stopped\"}]},\"onLegalHold\":true}]}"));
    struct cat_run r2 = { .tenant = "t", .group_id = "5:6:8", .group_name = "g2", .group_seq = 8, .start_usecs = 2000,
        .instance_id = 34, .run_type = "kFull", .status = "Succeeded", .objects_ok = 2 };
    r2.messages = json_array();
    CHECK(same(api_run_json(&r2, 0, NULL, 0),
        "{\"id\":\"8:2000\",\"protectionGroupInstanceId\":34,\"protectionGroupId\":\"5:6:8\",\"protectionGroup"
        "Name\":\"g2\",\"isReplicationRun\":false,\"isLocalSnapshotsDeleted\":false,\"hasLocalSnapshot\":tru"
        "e,\"onLegalHold\":false,\"isCloudArchivalDirect\":false,\"environment\":\"kPhysical\",\"localBackup"
        "Info\":{\"runType\":\"kFull\",\"isSlaViolated\":false,\"startTimeUsecs\":2000,\"status\":\"Succeeded\","
        "\"messages\":[],\"successfulObjectsCount\":2,\"skippedObjectsCount\":0,\"failedObjectsCount\":0,\"c"
        "ancelledObjectsCount\":0,\"successfulAppObjectsCount\":0,\"failedAppObjectsCount\":0,\"cancelled"
        "AppObjectsCount\":0,\"localSnapshotStats\":{\"logicalSizeBytes\":0,\"bytesWritten\":0,\"bytesRead\""
        ":0},\"progressTaskId\":\"8:2000\",\"localTaskId\":\"8:2000\",\"cofferStats\":{\"files\":0,\"directories"
        "\":0,\"objects\":0,\"scheduled\":false,\"attempt\":1}}}"));
    CHECK(same(api_run_json(&r2, 1, NULL, 0),
        "{\"id\":\"8:2000\",\"protectionGroupInstanceId\":34,\"protectionGroupId\":\"5:6:8\",\"protectionGroup"
        "Name\":\"g2\",\"isReplicationRun\":false,\"isLocalSnapshotsDeleted\":false,\"hasLocalSnapshot\":tru"
        "e,\"onLegalHold\":false,\"isCloudArchivalDirect\":false,\"environment\":\"kPhysical\",\"localBackup"
        "Info\":{\"runType\":\"kFull\",\"isSlaViolated\":false,\"startTimeUsecs\":2000,\"status\":\"Succeeded\","
        "\"messages\":[],\"successfulObjectsCount\":2,\"skippedObjectsCount\":0,\"failedObjectsCount\":0,\"c"
        "ancelledObjectsCount\":0,\"successfulAppObjectsCount\":0,\"failedAppObjectsCount\":0,\"cancelled"
        "AppObjectsCount\":0,\"localSnapshotStats\":{\"logicalSizeBytes\":0,\"bytesWritten\":0,\"bytesRead\""
        ":0},\"progressTaskId\":\"8:2000\",\"localTaskId\":\"8:2000\",\"cofferStats\":{\"files\":0,\"directories"
        "\":0,\"objects\":0,\"scheduled\":false,\"attempt\":1}},\"objects\":[]}"));
    struct cat_snapshot s = { .tenant = "t", .id = "ffee", .object_id = 11, .object_name = "/data", .source_id = 10,
        .environment = "kPhysical", .group_id = "5:6:7", .group_name = "files", .group_seq = 7, .run_usecs = 1000,
        .instance_id = 33, .run_type = "kRegular", .snapshot_usecs = 1500, .end_usecs = 2500, .expiry_usecs = 99,
        .on_legal_hold = 1 };
    CHECK(same(api_snapshot_json(&s, 123, 456),
        "{\"id\":\"ffee\",\"clusterId\":123,\"clusterIncarnationId\":456,\"environment\":\"kPhysical\",\"expiryT"
        "imeUsecs\":99,\"hasDataLock\":false,\"indexingStatus\":\"NoIndex\",\"objectId\":11,\"objectName\":\"/d"
        "ata\",\"onLegalHold\":true,\"ownershipContext\":\"Local\",\"physicalParams\":{\"enableSystemBackup\":"
        "false,\"protectionType\":\"kFile\"},\"protectionGroupId\":\"5:6:7\",\"protectionGroupName\":\"files\","
        "\"protectionGroupRunId\":\"7:1000\",\"runInstanceId\":33,\"runStartTimeUsecs\":1000,\"runType\":\"kRe"
        "gular\",\"snapshotTargetType\":\"Local\",\"snapshotTimestampUsecs\":1500,\"sourceId\":10,\"storageDo"
        "mainId\":1}"));
    struct cat_snapshot s2 = { .tenant = "t", .id = "eeff", .object_id = 12, .environment = "kSQL", .group_id = "5:6:9",
        .group_seq = 9, .run_usecs = 3000, .instance_id = 35, .run_type = "kFull", .snapshot_usecs = 3100 };
    CHECK(same(api_snapshot_json(&s2, 1, 2),
        "{\"id\":\"eeff\",\"clusterId\":1,\"clusterIncarnationId\":2,\"environment\":\"kSQL\",\"hasDataLock\":fal"
        "se,\"indexingStatus\":\"NoIndex\",\"objectId\":12,\"onLegalHold\":false,\"ownershipContext\":\"Local\""
        ",\"protectionGroupId\":\"5:6:9\",\"protectionGroupRunId\":\"9:3000\",\"runInstanceId\":35,\"runStartT"
        "imeUsecs\":3000,\"runType\":\"kFull\",\"snapshotTargetType\":\"Local\",\"snapshotTimestampUsecs\":310"
        "0,\"storageDomainId\":1}"));
    json_decref(r.messages);
    json_decref(r2.messages);
    json_decref(o[0].warnings);
}

int main(void)
{
    RUN(run_and_snapshot_json);
    return check_finish();
}
