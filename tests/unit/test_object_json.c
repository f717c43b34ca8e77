/* test_object_json.c: how discovered objects are shown (api/objects.h), built from the catalog's
 * typed facts (cat_object_facts): every field of a host's and a volume's SearchObject with its
 * physicalProtectionSource, a network volume without a known size; and migration 8, which turns the
 * wire-shaped object documents a daemon stored before it into the facts document: a catalog written
 * that way (version 7) shows the very same JSON after the upgrade. The expected texts are
 * byte-for-byte what the API showed before the facts existed. */
#include "check.h"
#include "api/objects.h"
#include "catalog/cat_source.h"
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static char *g_dir;
static char g_path[512];

static const char *const k_want[3] = {
    "{\"id\":1,\"name\":\"host-a\",\"sourceId\":1,\"sourceName\":\"host-a\",\"environment\":\"kPhysical\",\"obje"
    "ctType\":\"kHost\",\"uuid\":\"00000000-0000-4000-8000-000000000001\",\"osType\":\"kLinux\",\"logicalSi"
    "zeBytes\":4096,\"physicalProtectionSource\":{\"type\":\"kHost\",\"hostType\":\"kLinux\",\"name\":\"host-"
    "a\",\"hostName\":\"myhost\",\"agent\":\"local\"},\"childObjects\":[{\"id\":2,\"name\":\"/data\",\"sourceId\":"
    "1,\"sourceName\":\"host-a\",\"environment\":\"kPhysical\",\"objectType\":\"kVolume\",\"uuid\":\"00000000-"
    "0000-4000-8000-000000000002\",\"osType\":\"kLinux\",\"logicalSizeBytes\":4096},{\"id\":3,\"name\":\"/n"
    "fs\",\"sourceId\":1,\"sourceName\":\"host-a\",\"environment\":\"kPhysical\",\"objectType\":\"kVolume\",\"u"
    "uid\":\"00000000-0000-4000-8000-000000000003\",\"osType\":\"kLinux\"}]}",
    "{\"id\":2,\"name\":\"/data\",\"sourceId\":1,\"sourceName\":\"host-a\",\"environment\":\"kPhysical\",\"objec"
    "tType\":\"kVolume\",\"uuid\":\"00000000-0000-4000-8000-000000000002\",\"osType\":\"kLinux\",\"logicalS"
    "izeBytes\":4096,\"physicalProtectionSource\":{\"type\":\"kVolume\",\"name\":\"/data\",\"mountPoint\":\"/"
    "data\",\"fileSystemType\":\"ext4\",\"isNetworkFileSystem\":false,\"devicePath\":\"/dev/sda1\"}}",
    "{\"id\":3,\"name\":\"/nfs\",\"sourceId\":1,\"sourceName\":\"host-a\",\"environment\":\"kPhysical\",\"object"
    "Type\":\"kVolume\",\"uuid\":\"00000000-0000-4000-8000-000000000003\",\"osType\":\"kLinux\",\"physicalP"
    "rotectionSource\":{\"type\":\"kVolume\",\"name\":\"/nfs\",\"mountPoint\":\"/nfs\",\"fileSystemType\":\"nfs"
    "4\",\"isNetworkFileSystem\":true,\"devicePath\":\"srv:/x\"}}",
};

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

/* sql: runs statements on the catalog file directly (as an older daemon would have left it). */
static int sql(const char *stmts)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(g_path, &db);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, stmts, NULL, NULL, NULL);
    if (rc != SQLITE_OK) fprintf(stderr, "sql: %s\n", db ? sqlite3_errmsg(db) : "open");
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* shown: the three objects (host 1, volumes 2 and 3) as the API shows them match k_want. */
static int shown(void)
{
    struct cat *cat;
    char err[256];
    int ok = 1;
    if (cat_open(g_path, &cat, err, sizeof err) != 0) return 0;
    for (int64_t id = 1; id <= 3 && ok; id++) {
        struct cat_object o;
        ok = cat_object_get(cat, "t", id, &o) == 0 && same(api_object_json(cat, "t", &o), k_want[id - 1]);
        if (ok) cat_object_release(&o);
    }
    cat_close(cat);
    return ok;
}

TEST(objects_from_facts)
{
    struct cat *cat;
    char err[256];
    int64_t id = 0;
    struct cat_source s = { .environment = "kPhysical", .name = "host-a", .endpoint_key = "local",
                            .agent = CAT_AGENT_LOCAL, .registered_ms = 1, .modified_usecs = 1, .auth_status = "Pending" };
    struct cat_object_facts v1 = { .os_type = "kLinux", .logical_bytes = 4096, .fs_type = "ext4", .device = "/dev/sda1" };
    struct cat_object_facts v2 = { .os_type = "kLinux", .logical_bytes = -1, .fs_type = "nfs4", .device = "srv:/x",
                                   .is_network = 1 };
    struct cat_object_facts host = { .os_type = "kLinux", .logical_bytes = 4096, .host_type = "kLinux",
                                     .host_name = "myhost" };
    struct cat_discovered items[2] = { { "/data", "/data", "kVolume", &v1, 0, NULL }, { "/nfs", "/nfs", "kVolume", &v2, 0, NULL } };
    int rc;
    CHECKF(cat_open(g_path, &cat, err, sizeof err) == 0, "%s", err);
    rc = cat_next_seq(cat, "object", &id);
    s.id = id;
    s.doc = json_pack("{s:s,s:{s:s}}", "environment", "kPhysical", "physicalParams", "endpoint", "host-a");
    if (rc == 0) rc = cat_source_insert(cat, "t", &s);
    json_decref(s.doc);
    if (rc == 0) rc = cat_begin(cat);
    if (rc == 0) rc = cat_source_sync_objects(cat, "t", id, "kPhysical", CAT_AGENT_LOCAL, "host-a", &host, items, 2);
    if (rc == 0) rc = cat_commit(cat);
    cat_close(cat);
    CHECK_EQ_INT(id, 1);
    CHECK_EQ_INT(rc, 0);
    CHECK(sql("UPDATE objects SET uuid = printf('00000000-0000-4000-8000-%012d', id);") == 0);
    CHECK(shown());
}

TEST(migration_8_converts_wire_shaped_documents)
{
    /* The documents exactly as refresh.c stored them before migration 8 (host 1, volumes 2 and 3),
     * one without its os_type column; the catalog back at version 7. */
    CHECK(sql("UPDATE objects SET os_type = NULL, doc = '{\"osType\":\"kLinux\",\"logicalSizeBytes\":4096,"
              "\"physicalProtectionSource\":{\"type\":\"kHost\",\"hostType\":\"kLinux\",\"name\":\"host-a\","
              "\"hostName\":\"myhost\",\"agent\":\"local\"}}' WHERE id = 1;"
              "UPDATE objects SET doc = '{\"osType\":\"kLinux\",\"physicalProtectionSource\":{\"type\":\"kVolume\","
              "\"name\":\"/data\",\"mountPoint\":\"/data\",\"fileSystemType\":\"ext4\",\"isNetworkFileSystem\":false,"
              "\"devicePath\":\"/dev/sda1\"},\"logicalSizeBytes\":4096}' WHERE id = 2;"
              "UPDATE objects SET doc = '{\"osType\":\"kLinux\",\"physicalProtectionSource\":{\"type\":\"kVolume\","
              "\"name\":\"/nfs\",\"mountPoint\":\"/nfs\",\"fileSystemType\":\"nfs4\",\"isNetworkFileSystem\":true,"
              "\"devicePath\":\"srv:/x\"}}' WHERE id = 3;"
              /* back to version 7: later migrations' changes undone, so they apply again */
              "ALTER TABLE protection_groups DROP COLUMN snapshots_deleted;"
              "DROP TABLE snapshot_objects;"
              "ALTER TABLE snapshots DROP COLUMN sql_start_lsn; ALTER TABLE snapshots DROP COLUMN sql_end_lsn;"
              "ALTER TABLE snapshots DROP COLUMN sql_timeline; ALTER TABLE snapshots DROP COLUMN sql_consistent_usecs;"
              "ALTER TABLE snapshots DROP COLUMN sql_wal_from_usecs; ALTER TABLE snapshots DROP COLUMN sql_wal_to_usecs;"
              "ALTER TABLE snapshots DROP COLUMN sql_databases;"
              "ALTER TABLE sources DROP COLUMN spec;"
              "ALTER TABLE runs DROP COLUMN attempt; ALTER TABLE runs DROP COLUMN retry_at;"
              "ALTER TABLE runs DROP COLUMN failed_attempts; ALTER TABLE runs DROP COLUMN pause_requested;"
              "ALTER TABLE runs DROP COLUMN checkpoints;"
              "DROP TABLE api_keys;"
              "DROP TABLE audit_log; DROP TABLE audit_horizon;"
              "DROP TABLE sched_fires;"
              "DROP TABLE repo_sync;"
              "DROP TABLE agents;"
              "DROP TABLE upgrade_task_agents; DROP TABLE upgrade_tasks;"
              "PRAGMA user_version = 7;") == 0);
    CHECK(shown());
    /* and the rows now hold the facts document */
    {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        const char *doc = NULL;
        int ok = sqlite3_open(g_path, &db) == SQLITE_OK &&
                 sqlite3_prepare_v2(db, "SELECT doc FROM objects WHERE id = 1", -1, &st, NULL) == SQLITE_OK &&
                 sqlite3_step(st) == SQLITE_ROW && (doc = (const char *)sqlite3_column_text(st, 0)) != NULL &&
                 strcmp(doc, "{\"logical_bytes\":4096,\"host_type\":\"kLinux\",\"host_name\":\"myhost\"}") == 0;
        if (!ok) fprintf(stderr, "doc: %s\n", doc ? doc : "(none)");
        sqlite3_finalize(st);
        sqlite3_close(db);
        CHECK(ok);
    }
}

int main(void)
{
    g_dir = check_tmpdir("object-json");
    snprintf(g_path, sizeof g_path, "%s/catalog.db", g_dir);
    RUN(objects_from_facts);
    RUN(migration_8_converts_wire_shaped_documents);
    check_rm_rf(g_dir);
    free(g_dir);
    return check_finish();
}
