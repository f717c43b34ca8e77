/* e2e_health.c: GET /healthz, GET /metrics, `coffer --version` and `cofferd --listen :PORT` on the real
 * daemon. /healthz answers without a key: 200 with every part "ok", and 503 naming the repository
 * while its config object is renamed away (root could still read a chmod 000 file), 200 again once it
 * is back. /metrics needs a key (401 without, 200 with); after N requests the counter of that route
 * and status grew by exactly N; the latency histogram's +Inf bucket equals its count and the buckets
 * never decrease; after one backup run the runs-by-status gauges match the catalog's run list. A
 * second daemon started with COFFER_METRICS_PUBLIC=1 serves /metrics without a key (other routes still
 * 401). `coffer --version` prints "coffer " and the VERSION file; a daemon started with --listen :0
 * binds every address and, beyond loopback, serves HTTPS with its self-signed certificate. Every thread
 * the daemon starts has a name that says its role (/proc/PID/task/TID/comm). */
#include "check.h"
#include "e2e/harness.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T "health-a"
#define GRP "/v2/data-protect/protection-groups"

static struct daemon d;
static char *g_tmp;

/* metric: the value of the sample line starting with name (name includes its {labels}), or -1 when
 * the body has no such line. */
static double metric(const char *body, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
    return -1;
}

/* metrics_body: GET /metrics with the admin key into r (200 checked by the caller). */
static long metrics_get(struct http_resp *r)
{
    if (http(&d, "GET", "/metrics", NULL, NULL, r) != 0) return -1;
    return r->status;
}

TEST(healthz_answers_without_a_key)
{
    struct http_resp r;
    CHECK(http_raw(&d, "GET", "/healthz", NULL, NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(jstr(r.json, "status") && strcmp(jstr(r.json, "status"), "ok") == 0);
    CHECK(jstr(r.json, "catalog") && strcmp(jstr(r.json, "catalog"), "ok") == 0);
    CHECK(jstr(r.json, "repository") && strcmp(jstr(r.json, "repository"), "ok") == 0);
    http_resp_release(&r);
}

TEST(healthz_names_a_missing_repository_config)
{
    struct http_resp r;
    char cfg[600], away[620];
    struct stat sb;
    snprintf(cfg, sizeof cfg, "%s/repo/config", d.data_dir);
    snprintf(away, sizeof away, "%s.away", cfg);
    CHECKF(stat(cfg, &sb) == 0, "no repository config at %s", cfg);
    CHECK(rename(cfg, away) == 0);
    CHECK(http_raw(&d, "GET", "/healthz", NULL, NULL, NULL, 0, &r) == 0);
    CHECK(rename(away, cfg) == 0);
    CHECK_EQ_INT(r.status, 503);
    CHECK(jstr(r.json, "status") && strcmp(jstr(r.json, "status"), "unavailable") == 0);
    CHECK(jstr(r.json, "repository") && strcmp(jstr(r.json, "repository"), "unavailable") == 0);
    CHECK(jstr(r.json, "catalog") && strcmp(jstr(r.json, "catalog"), "ok") == 0);
    http_resp_release(&r);
    CHECK(http_raw(&d, "GET", "/healthz", NULL, NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_release(&r);
}

TEST(metrics_needs_a_key)
{
    struct http_resp r;
    CHECK(http_raw(&d, "GET", "/metrics", NULL, NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 401);
    http_resp_release(&r);
    CHECK_EQ_INT(metrics_get(&r), 200);
    CHECK(r.body && strstr(r.body, "# TYPE coffer_runs gauge\n") != NULL);
    CHECK(strstr(r.body, "# HELP coffer_http_requests_total ") != NULL);
    CHECK(strstr(r.body, "# TYPE coffer_http_request_duration_seconds histogram\n") != NULL);
    CHECK(strstr(r.body, "# TYPE coffer_repository_stored_bytes gauge\n") != NULL);
    CHECK(metric(r.body, "coffer_repository_dedup_ratio") >= 0);
    http_resp_release(&r);
}

TEST(request_counter_grows_by_the_requests_made)
{
    static const char *const name =
        "coffer_http_requests_total{method=\"GET\",route=\"/v2/data-protect/policies\",status=\"200\"}";
    static const char *const missing =
        "coffer_http_requests_total{method=\"GET\",route=\"/v2/data-protect/policies\",status=\"400\"}";
    struct http_resp r;
    double before, before_400, after, after_400;
    const int n = 7;
    CHECK_EQ_INT(metrics_get(&r), 200);
    before = metric(r.body, name);
    before_400 = metric(r.body, missing);
    http_resp_release(&r);
    if (before < 0) before = 0;
    if (before_400 < 0) before_400 = 0;
    for (int i = 0; i < n; i++) {
        CHECK(http(&d, "GET", "/v2/data-protect/policies", T, NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        http_resp_release(&r);
    }
    CHECK(http(&d, "GET", "/v2/data-protect/policies", NULL, NULL, &r) == 0); /* no tenant: 400 */
    CHECK_EQ_INT(r.status, 400);
    http_resp_release(&r);
    CHECK_EQ_INT(metrics_get(&r), 200);
    after = metric(r.body, name);
    after_400 = metric(r.body, missing);
    http_resp_release(&r);
    CHECKF(after == before + n, "counter %g -> %g after %d requests", before, after, n);
    CHECKF(after_400 == before_400 + 1, "400 counter %g -> %g", before_400, after_400);
}

TEST(histogram_inf_bucket_equals_its_count)
{
    struct http_resp r;
    static const char *const les[] = { "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                                       "1", "2.5", "5", "10", "+Inf" };
    double prev = 0, inf, count;
    char name[128];
    CHECK_EQ_INT(metrics_get(&r), 200);
    for (size_t i = 0; i < sizeof les / sizeof les[0]; i++) {
        double v;
        snprintf(name, sizeof name, "coffer_http_request_duration_seconds_bucket{le=\"%s\"}", les[i]);
        v = metric(r.body, name);
        CHECKF(v >= prev, "bucket le=%s is %g, below the one before (%g)", les[i], v, prev);
        prev = v;
    }
    inf = metric(r.body, "coffer_http_request_duration_seconds_bucket{le=\"+Inf\"}");
    count = metric(r.body, "coffer_http_request_duration_seconds_count");
    CHECKF(inf == count && count >= 8, "+Inf %g, count %g", inf, count);
    CHECK(metric(r.body, "coffer_http_request_duration_seconds_sum") > 0);
    http_resp_release(&r);
}

TEST(runs_by_status_match_the_catalog_after_a_run)
{
    struct http_resp r;
    char tree[600], p[700], policy[128] = "", group[128] = "", st[64] = "";
    long long host;
    FILE *f;
    double succeeded, total = 0;
    static const char *const statuses[] = { "Accepted", "Running", "Succeeded", "SucceededWithWarning", "Failed",
                                            "Canceled", "Missed" };
    snprintf(tree, sizeof tree, "%s/tree", g_tmp);
    CHECK(mkdir(tree, 0755) == 0);
    snprintf(p, sizeof p, "%s/a.txt", tree);
    CHECK((f = fopen(p, "w")) != NULL);
    fprintf(f, "health test file\n");
    CHECK(fclose(f) == 0);
    CHECK(http(&d, "POST", "/v2/data-protect/sources/registrations", T,
               jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1','hostType':'kLinux'}}"), &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    host = jint(r.json, "sourceInfo.id");
    http_resp_release(&r);
    CHECK(http(&d, "POST", "/v2/data-protect/policies", T,
               jfmt("{'name':'daily','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days',"
                    "'daySchedule':{'frequency':1}}},'retention':{'unit':'Days','duration':7}}}}"), &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    snprintf(policy, sizeof policy, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    http_resp_release(&r);
    CHECK(http(&d, "POST", GRP, T,
               jfmt("{'name':'health','policyId':'%s','environment':'kPhysical','startTime':{'hour':0,'minute':0},"
                    "'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld,"
                    "'filePaths':[{'includedPath':'%s'}]}]}}}", policy, host, tree), &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    snprintf(group, sizeof group, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    http_resp_release(&r);
    CHECK(group[0]);
    snprintf(p, sizeof p, GRP "/%s/runs", group);
    CHECK(http(&d, "POST", p, T, "{\"runType\":\"kRegular\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 202);
    http_resp_release(&r);
    for (int i = 0; i < 600; i++) { /* up to 60 s */
        CHECK(http(&d, "GET", p, T, NULL, &r) == 0);
        snprintf(st, sizeof st, "%s", jstr(r.json, "runs.0.localBackupInfo.status") ?
                                      jstr(r.json, "runs.0.localBackupInfo.status") : "");
        http_resp_release(&r);
        if (strcmp(st, "Succeeded") == 0 || strcmp(st, "Failed") == 0) break;
        usleep(100 * 1000);
    }
    CHECKF(strcmp(st, "Succeeded") == 0, "run status '%s'", st);
    CHECK(http(&d, "GET", p, T, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT((long long)json_array_size(jget(r.json, "runs")), 1);
    http_resp_release(&r);
    CHECK_EQ_INT(metrics_get(&r), 200);
    succeeded = metric(r.body, "coffer_runs{status=\"Succeeded\"}");
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "coffer_runs{status=\"%s\"}", statuses[i]);
        CHECKF(metric(r.body, name) >= 0, "no %s line", name);
        total += metric(r.body, name);
    }
    CHECKF(succeeded == 1 && total == 1, "Succeeded %g, all statuses %g; the catalog has one Succeeded run",
           succeeded, total);
    CHECK(metric(r.body, "coffer_repository_snapshots") == 1);
    CHECK(metric(r.body, "coffer_repository_stored_bytes") > 0);
    CHECK(metric(r.body, "coffer_repository_dedup_ratio") > 0);
    http_resp_release(&r);
}

/* Every thread the daemon starts names itself (util_thread_name): an idle daemon's threads are the
 * main one (the process's own name), libmicrohttpd's ("MHD-..."), and named ones, among them the
 * scheduler and each job pool's workers and monitor. */
TEST(threads_are_named_by_role)
{
    char dir[64], path[384], name[32];
    int seen_sched = 0, seen_backup = 0, seen_backup_mon = 0, seen_recovery = 0, unnamed = 0, n = 0;
    struct dirent *e;
    DIR *dp;
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)d.pid);
    CHECK((dp = opendir(dir)) != NULL);
    while ((e = readdir(dp)) != NULL) {
        FILE *f;
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s/comm", dir, e->d_name);
        if (!(f = fopen(path, "r"))) continue; /* the thread ended meanwhile */
        name[0] = 0;
        if (!fgets(name, sizeof name, f)) name[0] = 0;
        fclose(f);
        name[strcspn(name, "\n")] = 0;
        n++;
        if (atoi(e->d_name) == (int)d.pid || strncmp(name, "MHD-", 4) == 0) continue;
        seen_sched += strcmp(name, "scheduler") == 0;
        seen_backup += strcmp(name, "backup-job") == 0;
        seen_backup_mon += strcmp(name, "backup-mon") == 0;
        seen_recovery += strcmp(name, "recovery-job") == 0;
        if (strcmp(name, "cofferd") == 0) {
            unnamed++;
            fprintf(stderr, "  thread %s is not named\n", e->d_name);
        }
    }
    closedir(dp);
    CHECKF(n > 5, "%d threads", n);
    CHECK_EQ_INT(seen_sched, 1);
    CHECK(seen_backup >= 1);
    CHECK_EQ_INT(seen_backup_mon, 1);
    CHECK(seen_recovery >= 1);
    CHECK_EQ_INT(unnamed, 0);
}

TEST(metrics_public_needs_no_key)
{
    static const char *const env[] = { "COFFER_METRICS_PUBLIC=1", NULL };
    struct daemon pd;
    struct http_resp r;
    CHECK(daemon_start(&pd, env) == 0);
    CHECK(http_raw(&pd, "GET", "/metrics", NULL, NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, "# TYPE coffer_runs gauge\n") != NULL);
    http_resp_release(&r);
    CHECK(http_raw(&pd, "GET", "/v2/coffer/repository/stats", NULL, NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 401); /* only /metrics is opened */
    http_resp_release(&r);
    CHECK_EQ_INT(daemon_stop(&pd), 0);
}

/* run_out: runs argv, its stdout into out; returns the exit status (-1 when it could not run). */
static int run_out(char *const argv[], char *out, size_t len)
{
    int pfd[2], status = 0;
    size_t got = 0;
    ssize_t n;
    pid_t pid;
    if (pipe(pfd) != 0) return -1;
    if ((pid = fork()) < 0) return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    while (got < len - 1 && (n = read(pfd[0], out + got, len - 1 - got)) > 0) got += (size_t)n;
    out[got] = '\0';
    close(pfd[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(coffer_version_prints_the_version_file)
{
    const char *cli = getenv("COFFER_CLI") && *getenv("COFFER_CLI") ? getenv("COFFER_CLI") : "build/asan/coffer";
    char out[256], version[64] = "", want[128];
    FILE *f = fopen("VERSION", "r");
    CHECK(f != NULL);
    CHECK(fgets(version, sizeof version, f) != NULL);
    fclose(f);
    version[strcspn(version, "\n")] = '\0';
    snprintf(want, sizeof want, "coffer %s\n", version);
    CHECK_EQ_INT(run_out((char *const[]){ (char *)cli, "--version", NULL }, out, sizeof out), 0);
    CHECKF(strcmp(out, want) == 0, "printed '%s', want '%s'", out, want);
}

TEST(listen_colon_port_is_every_address_with_tls)
{
    struct daemon_opts o = { .listen_host = "", .https = 1 }; /* --listen :0 */
    struct daemon ld;
    struct http_resp r;
    char log[65536];
    size_t n;
    FILE *f;
    CHECK(daemon_start_opts(&ld, &o, NULL) == 0);
    CHECK(strncmp(ld.base, "https://", 8) == 0);
    /* beyond loopback: cofferd made a self-signed certificate; the requests verify against it */
    snprintf(ld.cacert, sizeof ld.cacert, "%s/tls/cert.pem", ld.data_dir);
    CHECK(http_raw(&ld, "GET", "/healthz", NULL, NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_release(&r);
    CHECK((f = fopen(ld.log_path, "r")) != NULL);
    n = fread(log, 1, sizeof log - 1, f);
    log[n] = '\0';
    fclose(f);
    CHECKF(strstr(log, "https://0.0.0.0:") != NULL, "the log does not say it listens on 0.0.0.0: %s", log);
    CHECK_EQ_INT(daemon_stop(&ld), 0);
}

int main(void)
{
    int rc;
    g_tmp = check_tmpdir("e2e-health");
    if (daemon_start(&d, NULL) != 0) {
        fprintf(stderr, "cannot start cofferd\n");
        return 1;
    }
    RUN(healthz_answers_without_a_key);
    RUN(healthz_names_a_missing_repository_config);
    RUN(metrics_needs_a_key);
    RUN(request_counter_grows_by_the_requests_made);
    RUN(histogram_inf_bucket_equals_its_count);
    RUN(runs_by_status_match_the_catalog_after_a_run);
    RUN(threads_are_named_by_role);
    RUN(metrics_public_needs_no_key);
    RUN(coffer_version_prints_the_version_file);
    RUN(listen_colon_port_is_every_address_with_tls);
    rc = daemon_stop(&d);
    if (rc != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly (status %d)", rc);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
