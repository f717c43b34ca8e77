/* e2e_nodes.c: three cofferd nodes on loopback ports over one PostgreSQL catalog (COFFER_SHARED_CATALOG=1,
 * a private server, tests/e2e/pgtest.c) and one S3 repository (versitygw, tests/e2e/s3test.c), with a
 * short job lease (COFFER_LEASE_SECS=4) so a dead node's runs are taken over quickly:
 *   - 20 groups over small trees (16 that change between rounds, 4 that never change on a 1-minute
 *     schedule); their policies allow 2 retries at once. Round 1: a run of every group, posted to the
 *     three nodes in turn; node 2 backs up slowly (a test hook) and is SIGKILLed while it holds a
 *     Running run. Every run ends Succeeded, at least one after another node took it over when the
 *     dead node's lease expired (its message says so);
 *   - round 2 (16 changed trees) on the two live nodes, whose parents may be node 2's snapshots
 *     (read through the index files it wrote); at least one node reloaded other nodes' index files;
 *   - while another node holds the catalog's prune lease, a prune asked here fails naming it and a
 *     backup is not started (it runs once the lease is given back);
 *   - the round-1 snapshots of four groups deleted (groups 0..3 held a large file in round 1 only, so
 *     their packs are mostly unused), restores on node 3 of the round-2 snapshots of groups 0 and 1
 *     load the index and are held (COFFER_TEST_RECOVERY_GATE) while a prune on node 1 under the
 *     catalog's prune lease repacks and deletes the packs they planned from; let go, they read through
 *     that old index, meet the deleted packs, find the new copies and end Succeeded, byte for byte;
 *     then round 3 on node 3 (which reloads after the prune), and verify on node 3 is clean;
 *   - the scheduled groups got scheduled runs (the live nodes' test clocks moved to the next minute
 *     together, so the slot is due on both at once) and no slot fired twice (no two scheduled runs of a
 *     group within 50 s, as many scheduled runs as sched_fires rows at most);
 *   - after the nodes stop, every snapshot the catalog keeps is restored from the bucket (a fresh cache)
 *     and compared byte for byte with a copy of its tree as it was in its round. */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/e2e_recover_fixture.h"
#include "e2e/pgtest.h"
#include "e2e/s3test.h"
#include "engine/engine.h"
#include "repo/backend.h"
#include "repo/repo.h"
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define T "tenant-nodes"
#define BUCKET "coffer-nodes"
#define NGROUPS 20
#define NCHANGING 16
#define NNODES 3
#define PRUNE "/v2/coffer/repository/prune"
#define VERIFY "/v2/coffer/repository/verify"

static struct s3test g_s3;
static struct pgtest g_pg;
static PGconn *g_db;
static struct daemon nodes[NNODES];
static char *tmp;
static char conninfo[1200];
static char gids[NGROUPS][256];
static int64_t run_start[4][NGROUPS]; /* round -> group -> the manual run's start (0: none) */
static char run_ids[4][NGROUPS][64];   /* round -> group -> the manual run's id */
static int killed_with_running;
static long long g_host;
static char gate[700];                /* node 3's COFFER_TEST_RECOVERY_GATE */
static int64_t kill_mono, takeover_done_mono;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void src_dir(int g, char *out, size_t n) { snprintf(out, n, "%s/src/g%02d", tmp, g); }

/* copy_round: the trees as they are now, kept as the expected content of round r's snapshots. */
static int copy_round(int r)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/copy%d' && cp -a '%s/src/.' '%s/copy%d/'", tmp, r, tmp, tmp, r);
    return system(cmd) == 0 ? 0 : -1;
}

/* change_trees: round r adds a file to every changing tree and rewrites another; one file of the same
 * content goes to every tree (the nodes store the same blobs at once). */
static int change_trees(int r)
{
    char path[700];
    uint64_t keep = fx_rng;
    for (int g = 0; g < NCHANGING; g++) {
        src_dir(g, path, sizeof path);
        snprintf(path + strlen(path), sizeof path - strlen(path), "/round%d", r);
        if (write_random(path, 150000 + (size_t)g * 100, 0644) != 0) return -1;
        src_dir(g, path, sizeof path);
        snprintf(path + strlen(path), sizeof path - strlen(path), "/a");
        /* round 1 of groups 0..3 (whose round-1 snapshots are deleted before the prune): a large file
         * only that round holds, so their packs are mostly unused then and the prune repacks them */
        if (write_random(path, r == 1 && g < 4 ? 1000000 : 90000, 0600) != 0) return -1;
    }
    for (int g = 0; g < NCHANGING; g++) {
        fx_rng = keep ^ (uint64_t)r; /* the same bytes in every tree */
        src_dir(g, path, sizeof path);
        snprintf(path + strlen(path), sizeof path - strlen(path), "/common%d", r);
        if (write_random(path, 600000, 0644) != 0) return -1;
    }
    fx_rng = keep * 6364136223846793005ull + 1;
    return 0;
}

static long long pg_count(const char *sql)
{
    char v[64] = "";
    if (pgtest_value(g_db, sql, v, sizeof v) != 0) return -1;
    return atoll(v);
}

/* post_run: a manual run of group g posted to node k in round r; its start (from the run id
 * "group seq:start") or 0. */
static int64_t post_run(int r, int k, int g)
{
    json_t *j = NULL;
    const char *id, *colon;
    int64_t start = 0;
    if (post_json(&nodes[k], fmt(FX_GRP "/%s/runs", gids[g]), T, "{\"runType\":\"kRegular\"}", 202, &j) != 202)
        return 0;
    if ((id = jstr(j, "runId")) != NULL && (colon = strchr(id, ':')) != NULL) {
        start = strtoll(colon + 1, NULL, 10);
        snprintf(run_ids[r][g], sizeof run_ids[r][g], "%s", id);
    }
    json_decref(j);
    return start;
}

/* wait_idle: until no run of the tenant is Accepted or Running (bounded); 0 when idle. */
static int wait_idle(int timeout_s)
{
    for (int i = 0; i < timeout_s * 5; i++) {
        long long n = pg_count("SELECT count(*) FROM runs WHERE tenant = 'tenant-nodes' AND status IN "
                               "('Accepted', 'Running')");
        if (n == 0) return 0;
        usleep(200 * 1000);
    }
    return -1;
}

static int live_node(int k) { return nodes[k].pid > 0; }

TEST(three_nodes_share_catalog_and_bucket)
{
    long long host = 0;
    char policy[2][256], path[700];
    json_t *j = NULL;
    for (int g = 0; g < NGROUPS; g++) {
        src_dir(g, path, sizeof path);
        char cmd[800];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
        CHECK(system(cmd) == 0);
        for (int f = 0; f < 4; f++) {
            char p[760];
            snprintf(p, sizeof p, "%s/%c", path, "abcd"[f]);
            CHECK(write_random(p, 60000 + (size_t)f * 20000 + (size_t)g, 0644) == 0);
        }
    }
    CHECK(change_trees(1) == 0);
    CHECK(copy_round(1) == 0);
    CHECK(post_json(&nodes[0], FX_SRC, T, fmt("{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1',"
                                              "'hostType':'kLinux'}}"), 201, &j) == 201);
    host = g_host = jint(j, "sourceInfo.id");
    json_decref(j);
    for (int k = 0; k < 2; k++) { /* 0: daily, changing trees; 1: every minute, constant trees */
        const char *sched = k ? "{'unit':'Minutes','minuteSchedule':{'frequency':1}}"
                              : "{'unit':'Days','daySchedule':{'frequency':1}}";
        CHECK(post_json(&nodes[k], FX_POL, T,
                        fmt("{'name':'p%d','backupPolicy':{'regular':{'incremental':{'schedule':%s},'retention':"
                            "{'unit':'Days','duration':7}}},'retryOptions':{'retries':2,'retryIntervalMins':0}}",
                            k, sched), 201, &j) == 201);
        snprintf(policy[k], sizeof policy[k], "%s", jstr(j, "id") ? jstr(j, "id") : "");
        json_decref(j);
    }
    for (int g = 0; g < NGROUPS; g++) {
        char name[32];
        src_dir(g, path, sizeof path);
        snprintf(name, sizeof name, "g%02d", g);
        /* every node serves the whole API: the groups are made through the three in turn */
        CHECK(fx_group(&nodes[g % NNODES], T, name, policy[g >= NCHANGING], host, path, gids[g], sizeof gids[g]) == 0);
    }
}

TEST(a_killed_node_loses_its_runs_to_the_others)
{
    char sql[600], how[128];
    int64_t t0 = mono_ms();
    long long n;
    for (int g = 0; g < NGROUPS; g++) CHECK((run_start[1][g] = post_run(1, g % NNODES, g)) > 0);
    /* node 2 (index 1) backs up slowly: kill it once it holds a Running run */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE status = 'Running' AND lease_owner LIKE 'backup:%%:%d:%%'",
             (int)nodes[1].pid);
    for (int i = 0; i < 600 && (n = pg_count(sql)) <= 0; i++) usleep(50 * 1000);
    CHECKF(n > 0, "node 2 never leased a run");
    CHECK(daemon_kill_how(&nodes[1], SIGKILL, how, sizeof how) == SIGKILL);
    kill_mono = mono_ms();
    CHECKF((n = pg_count(sql)) >= 1, "node 2 held no Running run when it was killed (%lld)", n);
    killed_with_running = (int)n;
    printf("info: node 2 SIGKILLed with %d Running run(s) after %.1f s\n", killed_with_running,
           (double)(kill_mono - t0) / 1000);
    /* its leases are not taken before they expire: renewed every 4/6 s, a lease runs at least 3.3 s past
     * the kill; then the expiry pass (every 2 s) of a live node takes them over */
    while (mono_ms() - kill_mono < 2500) usleep(50 * 1000);
    CHECKF(pg_count(sql) == killed_with_running, "a lease of the dead node was taken before it expired (%lld left)",
           pg_count(sql));
    while (pg_count(sql) > 0 && mono_ms() - kill_mono < 30000) usleep(100 * 1000);
    CHECKF(pg_count(sql) == 0, "the dead node's runs were not taken over in 30 s");
    printf("info: the dead node's runs taken over %.1f s after the kill (lease 4 s)\n",
           (double)(mono_ms() - kill_mono) / 1000);
    CHECK(mono_ms() - kill_mono >= 3000);
    CHECKF(wait_idle(150) == 0, "runs still active 150 s after the kill");
    takeover_done_mono = mono_ms();
    printf("info: round 1 ended %.1f s after the kill (lease 4 s)\n", (double)(takeover_done_mono - kill_mono) / 1000);
    CHECKF((n = pg_count("SELECT count(*) FROM runs WHERE tenant = 'tenant-nodes' AND scheduled = 0 AND status <> "
                         "'Succeeded'")) == 0, "%lld manual run(s) did not succeed", n);
    n = pg_count("SELECT count(*) FROM runs WHERE tenant = 'tenant-nodes' AND status = 'Succeeded' AND messages LIKE "
                 "'%stopped answering (lease expired); the next attempt starts at once%'");
    CHECKF(n >= 1, "no run was taken over from the dead node (%lld)", n);
    printf("info: %lld run(s) taken over from the dead node and succeeded\n", n);
    /* the take-over waited for the lease: no attempt of the dead node's runs ended Failed */
    CHECK_EQ_INT(pg_count("SELECT count(*) FROM runs WHERE tenant = 'tenant-nodes' AND status = 'Failed'"), 0);
}

TEST(round_two_reads_the_dead_nodes_snapshots)
{
    long long n;
    CHECK(change_trees(2) == 0);
    CHECK(copy_round(2) == 0);
    for (int g = 0; g < NCHANGING; g++) CHECK((run_start[2][g] = post_run(2, g % 2 ? 2 : 0, g)) > 0);
    CHECKF(wait_idle(120) == 0, "round 2 still active after 120 s");
    CHECKF((n = pg_count("SELECT count(*) FROM runs WHERE tenant = 'tenant-nodes' AND status <> 'Succeeded'")) == 0,
           "%lld run(s) did not succeed", n);
}

static int log_has(const struct daemon *d, const char *needle)
{
    char *data = NULL;
    size_t len = 0;
    int yes;
    if (read_all(d->log_path, &data, &len) != 0) return 0;
    yes = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return yes;
}

TEST(nodes_reload_what_others_wrote)
{
    int any = 0;
    for (int k = 0; k < NNODES; k++)
        if (log_has(&nodes[k], "new index file(s)")) any = 1;
    CHECKF(any, "no node reloaded index files other nodes wrote");
    CHECKF(pg_count("SELECT index_gen FROM repo_sync") >= NGROUPS, "index_gen %lld",
           pg_count("SELECT index_gen FROM repo_sync"));
}

/* wait_prune: the prune id on node k ended; its "last" (caller decrefs) or NULL. */
static json_t *wait_prune(int k, long long id)
{
    for (int i = 0; i < 1200; i++) {
        json_t *j = NULL, *last;
        if (get_json(&nodes[k], PRUNE, NULL, &j) == 200 && (last = json_object_get(j, "last")) != NULL &&
            jint(last, "id") == id) {
            json_incref(last);
            json_decref(j);
            return last;
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    return NULL;
}

TEST(no_backup_starts_while_another_node_prunes)
{
    char why[300] = "", q[4400];
    json_t *j = NULL, *last;
    long long id;
    int g = 5;
    /* another node holds the catalog's prune lease (as a prune in progress would) */
    CHECKF(pgtest_exec(g_db, "UPDATE repo_sync SET prune_owner = 'node-x:pruning', prune_expiry = 9000000000000000",
                       why, sizeof why) == 0, "%s", why);
    CHECK(post_json(&nodes[0], PRUNE, NULL, "{}", 202, &j) == 202);
    id = jint(j, "id");
    json_decref(j);
    CHECK((last = wait_prune(0, id)) != NULL);
    CHECKF(strcmp(jstr(last, "status"), "Failed") == 0 && jstr(last, "message") &&
           strstr(jstr(last, "message"), "another node (node-x:pruning) is pruning"),
           "a prune beside another node's: %s %s", jstr(last, "status"), jstr(last, "message") ?: "");
    json_decref(last);
    CHECK((run_start[0][g] = post_run(0, 2, g)) > 0);
    sleep(3); /* three idle polls of every live node's workers */
    snprintf(q, sizeof q, "SELECT count(*) FROM runs WHERE group_id = '%s' AND start_usecs = %lld AND status = "
             "'Accepted'", gids[g], (long long)run_start[0][g]);
    CHECKF(pg_count(q) == 1, "a backup started while another node held the prune lease");
    CHECKF(pgtest_exec(g_db, "UPDATE repo_sync SET prune_owner = NULL, prune_expiry = 0", why, sizeof why) == 0, "%s",
           why);
    CHECKF(wait_idle(60) == 0, "the held-back run did not run once the lease was given back");
    CHECK_EQ_INT(pg_count("SELECT count(*) FROM runs WHERE tenant = 'tenant-nodes' AND status <> 'Succeeded'"), 0);
}

/* log_count: occurrences of needle in d's log past offset bytes; log_size: its length. */
static int log_count(const struct daemon *d, const char *needle, size_t offset)
{
    char *data = NULL;
    size_t len = 0;
    int n = 0;
    if (read_all(d->log_path, &data, &len) != 0) return 0;
    for (const char *p = offset < len ? data + offset : NULL;
         p && (p = memmem(p, len - (size_t)(p - data), needle, strlen(needle))) != NULL; p++)
        n++;
    free(data);
    return n;
}

static size_t log_size(const struct daemon *d)
{
    struct stat st;
    return stat(d->log_path, &st) == 0 ? (size_t)st.st_size : 0;
}

#define HELD 2 /* restores on node 3 held across the prune */

TEST(prune_under_the_catalog_lease_then_round_three)
{
    struct http_resp r;
    json_t *j = NULL;
    long long id, n;
    int ok = 0;
    char recs[HELD][96], alt[HELD][700];
    size_t log0 = log_size(&nodes[2]);
    for (int g = 0; g < 4; g++) {
        long st = call(&nodes[2], "PUT", fmt(FX_GRP "/%s/runs", gids[g]), T,
                       fmt("{'updateProtectionGroupRunParams':[{'runId':'%s','localSnapshotConfig':"
                           "{'deleteSnapshot':true}}]}", run_ids[1][g]), &r);
        http_resp_release(&r);
        CHECKF(st == 207 || st == 200, "deleteSnapshot of group %d: %ld", g, st);
    }
    /* Restores on node 3 of the round-2 snapshots of groups 0 and 1, whose unchanged files are in the
     * round-1 packs the prune repacks: they load the index as it is before the prune and are held (the
     * test gate) until the prune deleted those packs; then they read through that index. */
    CHECK(write_text(gate, "held\n", 0644) == 0);
    for (int g = 0; g < HELD; g++) {
        char q[600], snap[80] = "", cmd[800];
        snprintf(q, sizeof q, "SELECT id FROM snapshots WHERE group_id = '%s' AND run_usecs = %lld AND is_deleted = 0",
                 gids[g], (long long)run_start[2][g]);
        CHECKF(pgtest_value(g_db, q, snap, sizeof snap) == 0 && strlen(snap) == 64, "round-2 snapshot of group %d", g);
        snprintf(alt[g], sizeof alt[g], "%s/held%d", tmp, g);
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", alt[g]);
        CHECK(system(cmd) == 0);
        src_dir(g, q, sizeof q);
        CHECK(post_json(&nodes[2], FX_REC, T,
                        fmt("{'name':'held%d','snapshotEnvironment':'kPhysical','physicalParams':{'objects':"
                            "[{'snapshotId':'%s'}],'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':"
                            "{'filesAndFolders':[{'absolutePath':'%s'}],'targetEnvironment':'kPhysical',"
                            "'physicalTargetParams':{'recoverTarget':{'id':%lld},'alternateRestoreDirectory':'%s/'}}}}",
                            g, snap, q, g_host, alt[g]), 201, &j) == 201);
        snprintf(recs[g], sizeof recs[g], "%s", jstr(j, "id") ? jstr(j, "id") : "");
        json_decref(j);
    }
    for (int i = 0; i < 600 && log_count(&nodes[2], "held by the test gate", log0) < HELD; i++) usleep(50 * 1000);
    CHECKF(log_count(&nodes[2], "held by the test gate", log0) == HELD, "node 3's restores did not reach the gate");
    CHECK(post_json(&nodes[0], PRUNE, NULL, "{}", 202, &j) == 202);
    id = jint(j, "id");
    json_decref(j);
    for (int i = 0; i < 1200 && !ok; i++) {
        json_t *last;
        if (get_json(&nodes[0], PRUNE, NULL, &j) == 200 && (last = json_object_get(j, "last")) != NULL &&
            jint(last, "id") == id) {
            CHECKF(strcmp(jstr(last, "status"), "Succeeded") == 0, "prune %s: %s", jstr(last, "status"),
                   jstr(last, "message") ? jstr(last, "message") : "");
            printf("info: prune freed %lld bytes (%lld packs deleted, %lld repacked)\n", jint(last, "report.bytesFreed"),
                   jint(last, "report.packsDeleted"), jint(last, "report.packsRepacked"));
            CHECK(jint(last, "report.packsRepacked") + jint(last, "report.packsDeleted") >= 1);
            ok = 1;
        }
        json_decref(j);
        if (!ok) usleep(100 * 1000);
    }
    CHECK(ok);
    /* the held restores go on with the index of before the prune: they end whole */
    CHECK(unlink(gate) == 0);
    for (int g = 0; g < HELD; g++) {
        char got[800], want[800], msg[512];
        int nf = 0;
        json_t *rec = fx_wait_recovery(&nodes[2], T, recs[g], 120);
        CHECKF(rec && strcmp(jstr(rec, "status") ? jstr(rec, "status") : "", "Succeeded") == 0,
               "held restore %d ended %s", g, rec && jstr(rec, "status") ? jstr(rec, "status") : "?");
        json_decref(rec);
        snprintf(got, sizeof got, "%s/g%02d", alt[g], g);
        snprintf(want, sizeof want, "%s/copy2/g%02d", tmp, g);
        CHECKF(check_trees_equal(want, got, 0, NULL, NULL, msg, sizeof msg, &nf) == 0, "held restore %d: %s", g, msg);
    }
    /* they did read packs the prune deleted, and found the copies it wrote */
    CHECKF(log_count(&nodes[2], "is missing from data/", log0) >= 1, "node 3's restores never met a deleted pack");
    CHECK(log_count(&nodes[2], "now read from their new copies", log0) >= 1);
    printf("info: %d restore(s) on node 3 read %d pack(s) node 1's prune deleted meanwhile, byte for byte\n", HELD,
           log_count(&nodes[2], "is missing from data/", log0));
    CHECK_EQ_INT(pg_count("SELECT prune_gen FROM repo_sync"), 1);
    CHECK_EQ_INT(pg_count("SELECT count(*) FROM repo_sync WHERE prune_owner IS NOT NULL"), 0);
    CHECK(change_trees(3) == 0);
    CHECK(copy_round(3) == 0);
    for (int g = 0; g < 8; g++) CHECK((run_start[3][g] = post_run(3, 2, g)) > 0);
    CHECKF(wait_idle(120) == 0, "round 3 still active after 120 s");
    CHECKF((n = pg_count("SELECT count(*) FROM runs WHERE tenant = 'tenant-nodes' AND status <> 'Succeeded'")) == 0,
           "%lld run(s) did not succeed", n);
    CHECK(post_json(&nodes[2], VERIFY, NULL, "{\"readData\":true}", 202, &j) == 202);
    id = jint(j, "id");
    json_decref(j);
    ok = 0;
    for (int i = 0; i < 1200 && !ok; i++) {
        json_t *last;
        if (get_json(&nodes[2], VERIFY, NULL, &j) == 200 && (last = json_object_get(j, "last")) != NULL &&
            jint(last, "id") == id) {
            if (!(strcmp(jstr(last, "status"), "Succeeded") == 0 && json_is_true(jget(last, "report.ok")))) {
                char *txt = json_dumps(last, JSON_COMPACT);
                fprintf(stderr, "verify on node 3: %.4000s\n", txt ? txt : "");
                free(txt);
            }
            CHECKF(strcmp(jstr(last, "status"), "Succeeded") == 0 && json_is_true(jget(last, "report.ok")),
                   "verify on node 3: %s", jstr(last, "status"));
            ok = 1;
        }
        json_decref(j);
        if (!ok) usleep(100 * 1000);
    }
    CHECK(ok);
}

TEST(schedules_fire_once_across_nodes)
{
    long long n = 0, fires, dups;
    struct timespec ts;
    int64_t target;
    /* the live nodes' clocks (COFFER_TEST_CLOCK) go to the first second of the next minute together,
     * so the 1-minute groups' slot is due on both at once (rather than waiting up to a minute for it) */
    clock_gettime(CLOCK_REALTIME, &ts);
    target = ((int64_t)ts.tv_sec / 60 + 1) * 60000000 + 1000000;
    for (int k = 0; k < NNODES; k++) {
        struct http_resp r;
        if (!live_node(k)) continue;
        CHECK_EQ_INT(call(&nodes[k], "POST", "/v2/coffer-test/clock", NULL, fmt("{'nowUsecs':%lld}", (long long)target),
                          &r), 200);
        http_resp_release(&r);
    }
    /* the four 1-minute groups: wait (bounded) until each had a scheduled run */
    for (int i = 0; i < 900; i++) {
        n = pg_count("SELECT count(DISTINCT group_id) FROM runs WHERE tenant = 'tenant-nodes' AND scheduled = 1"
                     " AND status = 'Succeeded'");
        if (n >= NGROUPS - NCHANGING) break;
        usleep(100 * 1000);
    }
    CHECKF(n >= NGROUPS - NCHANGING, "only %lld scheduled group(s) ran", n);
    CHECK(wait_idle(60) == 0);
    dups = pg_count("SELECT count(*) FROM runs a JOIN runs b ON a.tenant = b.tenant AND a.group_id = b.group_id"
                    " AND a.start_usecs < b.start_usecs AND b.start_usecs - a.start_usecs < 50000000"
                    " WHERE a.scheduled = 1 AND b.scheduled = 1");
    CHECK_EQ_INT(dups, 0);
    n = pg_count("SELECT count(*) FROM runs WHERE tenant = 'tenant-nodes' AND scheduled = 1");
    fires = pg_count("SELECT count(*) FROM sched_fires WHERE tenant = 'tenant-nodes'");
    CHECKF(n >= 1 && n <= fires, "%lld scheduled runs, %lld fired slots", n, fires);
    printf("info: %lld scheduled run(s) from %lld fired slot(s), no slot twice\n", n, fires);
    CHECK_EQ_INT(pg_count("SELECT count(*) FROM runs WHERE tenant = 'tenant-nodes' AND status <> 'Succeeded'"), 0);
}

/* round_of: the round whose tree a snapshot of group g taken by the run starting at start holds. */
static int round_of(int g, int64_t start)
{
    if (g >= NCHANGING) return 1; /* constant trees: any copy */
    for (int r = 0; r <= 3; r++)
        if (run_start[r][g] == start) return r ? r : 2; /* round 0: the held-back run, after round 2 */
    return 0;
}

TEST(every_snapshot_restores_byte_for_byte)
{
    PGresult *res;
    char key[700], err[512] = "", cache[700];
    struct repo_backend *be = NULL;
    struct repo *repo = NULL;
    int rows, restored = 0;
    for (int k = 0; k < NNODES; k++)
        if (live_node(k)) CHECK_EQ_INT(daemon_kill(&nodes[k], SIGTERM), 0);
    res = PQexec(g_db, "SELECT id, group_name, run_usecs FROM snapshots WHERE tenant = 'tenant-nodes' AND is_deleted = 0"
                       " ORDER BY group_name, run_usecs");
    CHECKF(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQerrorMessage(g_db));
    rows = PQntuples(res);
    CHECKF(rows >= NGROUPS + NCHANGING + 1 + 8 - 4, "%d snapshots", rows);
    snprintf(key, sizeof key, "%s/repo.key", nodes[0].data_dir);
    snprintf(cache, sizeof cache, "%s/fresh-cache", tmp);
    s3test_env(&g_s3, NULL);
    if (repo_backend_for("s3://" BUCKET "/repo", cache, &be, err, sizeof err) != 0 ||
        repo_open_be(be, "s3://" BUCKET "/repo", key, &repo, err, sizeof err) != 0) {
        PQclear(res);
        CHECKF(0, "%s", err);
    }
    for (int i = 0; i < rows; i++) {
        const char *sid = PQgetvalue(res, i, 0), *gname = PQgetvalue(res, i, 1);
        int g = atoi(gname + 1), rnd = round_of(g, strtoll(PQgetvalue(res, i, 2), NULL, 10)), n = 0;
        char target[700], got[1500], want[1500], msg[512];
        struct eng_restore_opts o = { .target_dir = target, .overwrite = 1 };
        struct eng_restore_result rr;
        if (rnd == 0) {
            check_fail(__FILE__, __LINE__, "snapshot %s of %s comes from no run this test made", sid, gname);
            continue;
        }
        snprintf(target, sizeof target, "%s/restore/%d", tmp, i);
        if (eng_restore(repo, sid, &o, &rr, err, sizeof err) != 0) {
            check_fail(__FILE__, __LINE__, "restore of %s (%s): %s", sid, gname, err);
            continue;
        }
        eng_restore_result_release(&rr);
        snprintf(got, sizeof got, "%s%s/src/g%02d", target, tmp, g);
        snprintf(want, sizeof want, "%s/copy%d/g%02d", tmp, rnd, g);
        if (check_trees_equal(want, got, 0, NULL, NULL, msg, sizeof msg, &n) != 0) {
            check_fail(__FILE__, __LINE__, "snapshot %s of %s (round %d): %s", sid, gname, rnd, msg);
            continue;
        }
        restored++;
    }
    PQclear(res);
    repo_close(repo);
    printf("info: %d snapshot(s) restored byte for byte\n", restored);
    CHECK_EQ_INT(restored, rows);
}

/* run_all: every test in order (after check_abandon, each says "FAIL name: not run: reason", so a set-up
 * that failed is never a silent "0 passed, 0 failed"). */
static void run_all(void)
{
    RUN(three_nodes_share_catalog_and_bucket);
    RUN(a_killed_node_loses_its_runs_to_the_others);
    RUN(round_two_reads_the_dead_nodes_snapshots);
    RUN(nodes_reload_what_others_wrote);
    RUN(no_backup_starts_while_another_node_prunes);
    RUN(prune_under_the_catalog_lease_then_round_three);
    RUN(schedules_fire_once_across_nodes);
    RUN(every_snapshot_restores_byte_for_byte);
}

int main(void)
{
    static const char *const TESTS[] = { "three_nodes_share_catalog_and_bucket", "a_killed_node_loses_its_runs_to_the_others",
                                         "round_two_reads_the_dead_nodes_snapshots", "nodes_reload_what_others_wrote",
                                         "no_backup_starts_while_another_node_prunes",
                                         "prune_under_the_catalog_lease_then_round_three",
                                         "schedules_fire_once_across_nodes", "every_snapshot_restores_byte_for_byte" };
    char ep[128], cat[1300], why[512] = "", keyf[700], cmd[1600];
    const char *env[20];
    int ne = 0;
    if (pgtest_available(why, sizeof why) != 0) {
        for (size_t k = 0; k < sizeof TESTS / sizeof *TESTS; k++) SKIP(TESTS[k], "%s", why);
        return check_finish();
    }
    /* three daemons hold one connection per thread each: more than pgtest's default allows */
    if (pgtest_root(&g_pg, "nodes", "data", 55461, why, sizeof why) != 0 || pgtest_initdb(&g_pg, why, sizeof why) != 0) {
        pgtest_destroy(&g_pg);
        check_abandon(why);
        run_all();
        return check_finish();
    }
    snprintf(cmd, sizeof cmd, "echo 'max_connections = 400' >> '%s/postgresql.conf'", g_pg.data);
    if (system(cmd) != 0 || pgtest_start(&g_pg, why, sizeof why) != 0) {
        pgtest_destroy(&g_pg);
        check_abandon(why[0] ? why : "cannot configure PostgreSQL");
        run_all();
        return check_finish();
    }
    if (s3test_serve_or_skip(&g_s3, "e2enodes", BUCKET, TESTS, sizeof TESTS / sizeof *TESTS) != 0) {
        pgtest_destroy(&g_pg);
        return check_finish();
    }
    tmp = check_tmpdir("e2e-nodes");
    if (!(g_db = pgtest_connect(&g_pg, "postgres")) || pgtest_exec(g_db, "CREATE DATABASE coffer", why, sizeof why) != 0)
        check_abandon("cannot create the catalog database");
    PQfinish(g_db);
    pgtest_conninfo(&g_pg, "coffer", conninfo, sizeof conninfo);
    snprintf(cat, sizeof cat, "COFFER_CATALOG=%s", conninfo);
    snprintf(ep, sizeof ep, "COFFER_S3_ENDPOINT=%s", g_s3.endpoint);
    env[ne++] = cat;
    env[ne++] = "COFFER_SHARED_CATALOG=1";
    env[ne++] = "COFFER_LEASE_SECS=4";
    env[ne++] = "COFFER_TEST_CLOCK=1";
    env[ne++] = "COFFER_PRUNE_INTERVAL_SECS=0";
    env[ne++] = "COFFER_WORKERS=2";
    env[ne++] = "COFFER_REPOSITORY=s3://" BUCKET "/repo";
    env[ne++] = ep;
    env[ne++] = "COFFER_S3_REGION=" S3TEST_REGION;
    env[ne++] = "COFFER_S3_PATH_STYLE=1";
    env[ne++] = "AWS_ACCESS_KEY_ID=" S3TEST_ACCESS;
    env[ne++] = "AWS_SECRET_ACCESS_KEY=" S3TEST_SECRET;
    env[ne] = NULL;
    /* node 1 creates the repository and its key file; nodes 2 and 3 start on data directories holding a
     * copy of that key file (the repository's keys are shared, each node keeps its own data directory) */
    if (daemon_start(&nodes[0], env) != 0) check_abandon("node 1 did not start");
    snprintf(keyf, sizeof keyf, "%s/repo.key", nodes[0].data_dir);
    for (int k = 1; k < NNODES && nodes[0].pid > 0; k++) {
        const char *slow[24];
        int ns = 0;
        for (int e = 0; e < ne; e++) slow[ns++] = env[e];
        if (k == 1) { /* node 2 backs up slowly, so that it is killed in the middle of a run */
            slow[ns++] = "COFFER_TEST_HOOKS=1";
            slow[ns++] = "COFFER_TEST_SLOW_OPEN_MS=400";
        }
        if (k == 2) { /* node 3's restores wait at a gate while node 1 prunes */
            static char gate_env[760];
            snprintf(gate, sizeof gate, "%s/gate", tmp);
            snprintf(gate_env, sizeof gate_env, "COFFER_TEST_RECOVERY_GATE=%s", gate);
            slow[ns++] = "COFFER_TEST_HOOKS=1";
            slow[ns++] = gate_env;
        }
        slow[ns] = NULL;
        memset(&nodes[k], 0, sizeof nodes[k]);
        nodes[k].data_dir = check_tmpdir("e2e");
        snprintf(nodes[k].log_path, sizeof nodes[k].log_path, "%s.log", nodes[k].data_dir);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s/repo.key' && chmod 600 '%s/repo.key'", keyf, nodes[k].data_dir,
                 nodes[k].data_dir);
        if (system(cmd) != 0 || daemon_restart(&nodes[k], slow) != 0) check_abandon("nodes 2 and 3 did not start");
    }
    if (!(g_db = pgtest_connect(&g_pg, "coffer"))) check_abandon("cannot connect to the catalog");
    run_all();
    for (int k = 0; k < NNODES; k++)
        if (nodes[k].data_dir) {
            if (nodes[k].pid > 0) daemon_kill(&nodes[k], SIGTERM);
            check_rm_rf(nodes[k].data_dir); /* its log stays beside it: tests/run-all.sh keeps a failing suite's */
            free(nodes[k].data_dir);
        }
    if (g_db) PQfinish(g_db);
    s3test_destroy(&g_s3);
    pgtest_destroy(&g_pg);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
