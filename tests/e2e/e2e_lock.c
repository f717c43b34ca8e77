/* e2e_lock.c: one daemon per data directory. A daemon (test hooks on: each file open is delayed, so
 * its backup runs for seconds) backs up a small tree; while the run is Running a second cofferd is
 * started on the same data directory: it must exit non-zero at once, naming the first daemon's pid,
 * without opening the catalog or the repository, and the first daemon's run must still end
 * Succeeded (before the lock, the second daemon failed it as "interrupted by daemon restart"). The
 * lock is the kernel's: after the first daemon is SIGKILLed a new one starts on the directory. */
#include "check.h"
#include "e2e/harness.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T "lock-a"
#define GRP "/v2/data-protect/protection-groups"
#define NFILES 30

static struct daemon d;
static char *g_tmp;
static char g_group[128], g_run[64];

static long call(const char *method, const char *path, const char *body, struct http_resp *r)
{
    if (http(&d, method, path, T, body, r) != 0) return -1;
    return r->status;
}

/* run_status: the run's localBackupInfo.status into out ("" when it cannot be read). */
static void run_status(char *out, size_t len)
{
    struct http_resp r;
    char path[300];
    snprintf(path, sizeof path, GRP "/%s/runs/%s", g_group, g_run);
    out[0] = '\0';
    if (call("GET", path, NULL, &r) == 200 && jstr(r.json, "localBackupInfo.status"))
        snprintf(out, len, "%s", jstr(r.json, "localBackupInfo.status"));
    http_resp_release(&r);
}

/* second_daemon: starts cofferd on d's data directory; collects its output; returns its exit status
 * as a shell would (-1 if it did not exit within timeout_s, after killing it). */
static int second_daemon(char *out, size_t outlen, int timeout_s)
{
    const char *bin = getenv("COFFER_BIN") && *getenv("COFFER_BIN") ? getenv("COFFER_BIN") : "build/asan/cofferd";
    int pfd[2], status = 0;
    size_t got = 0;
    pid_t pid;
    time_t end = time(NULL) + timeout_s;
    if (pipe(pfd) != 0) return -1;
    pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        setenv("COFFER_ADMIN_KEY", HARNESS_KEY, 1);
        execl(bin, bin, "--data-dir", d.data_dir, "--listen", "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    for (;;) {
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        ssize_t n;
        if (time(NULL) >= end) break;
        if (poll(&p, 1, 200) <= 0) continue;
        n = read(pfd[0], out + got, outlen - 1 - got);
        if (n <= 0) break; /* EOF: the daemon exited (or closed its output) */
        got += (size_t)n;
        if (got == outlen - 1) break;
    }
    out[got] = '\0';
    close(pfd[0]);
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (time(NULL) >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(50 * 1000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(a_running_backup)
{
    struct http_resp r;
    char tree[600], p[700], policy[128] = "", st[64] = "";
    long long host;
    FILE *f;
    snprintf(tree, sizeof tree, "%s/tree", g_tmp);
    CHECK(mkdir(tree, 0755) == 0);
    for (int i = 0; i < NFILES; i++) {
        snprintf(p, sizeof p, "%s/f%02d.txt", tree, i);
        f = fopen(p, "w");
        CHECK(f != NULL);
        fprintf(f, "file %d of the lock test\n", i);
        CHECK(fclose(f) == 0);
    }
    CHECK_EQ_INT(call("POST", "/v2/data-protect/sources/registrations",
                      jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1','hostType':'kLinux'}}"),
                      &r), 201);
    host = jint(r.json, "sourceInfo.id");
    http_resp_release(&r);
    CHECK(host > 0);
    CHECK_EQ_INT(call("POST", "/v2/data-protect/policies",
                      jfmt("{'name':'daily','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days',"
                          "'daySchedule':{'frequency':1}}},'retention':{'unit':'Days','duration':7}}}}"), &r), 201);
    snprintf(policy, sizeof policy, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    http_resp_release(&r);
    CHECK(policy[0]);
    CHECK_EQ_INT(call("POST", GRP,
                      jfmt("{'name':'locked','policyId':'%s','environment':'kPhysical','startTime':{'hour':0,'minute':0},"
                          "'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld,"
                          "'filePaths':[{'includedPath':'%s'}]}]}}}", policy, host, tree), &r), 201);
    snprintf(g_group, sizeof g_group, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    http_resp_release(&r);
    CHECK(g_group[0]);
    snprintf(p, sizeof p, GRP "/%s/runs", g_group);
    CHECK_EQ_INT(call("POST", p, "{\"runType\":\"kRegular\"}", &r), 202);
    snprintf(g_run, sizeof g_run, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    CHECK(g_run[0]);
    for (int i = 0; i < 300 && strcmp(st, "Running") != 0; i++) { /* up to 30 s */
        run_status(st, sizeof st);
        if (strcmp(st, "Running") != 0) usleep(100 * 1000);
    }
    CHECKF(strcmp(st, "Running") == 0, "run status %s", st);
}

TEST(a_second_daemon_on_the_same_directory_refuses_to_start)
{
    char out[8192], pid[32], st[64] = "";
    int rc;
    struct stat sb;
    CHECK(g_run[0]);
    rc = second_daemon(out, sizeof out, 30);
    snprintf(pid, sizeof pid, "pid %ld", (long)d.pid);
    CHECKF(rc != 0 && rc != -1, "second daemon exit status %d; output: %s", rc, out);
    CHECKF(strstr(out, pid) != NULL, "no '%s' in: %s", pid, out);
    CHECKF(strstr(out, "ready") == NULL && strstr(out, "repository") == NULL && strstr(out, "catalog") == NULL,
           "the second daemon went further than the lock: %s", out);
    /* The first daemon's run was not disturbed: it is still Running, or already Succeeded. */
    run_status(st, sizeof st);
    CHECKF(strcmp(st, "Running") == 0 || strcmp(st, "Succeeded") == 0, "run status %s", st);
    CHECK(stat(d.data_dir, &sb) == 0);
}

TEST(the_first_daemons_backup_still_succeeds)
{
    char st[64] = "";
    CHECK(g_run[0]);
    for (int i = 0; i < 1200; i++) { /* up to 120 s */
        run_status(st, sizeof st);
        if (strcmp(st, "Running") != 0 && strcmp(st, "Accepted") != 0) break;
        usleep(100 * 1000);
    }
    CHECKF(strcmp(st, "Succeeded") == 0, "run status %s", st);
}

TEST(the_lock_file_names_the_daemon_and_dies_with_it)
{
    char path[600], buf[64] = "", out[8192];
    long pid = 0;
    FILE *f;
    int rc;
    snprintf(path, sizeof path, "%s/cofferd.lock", d.data_dir);
    f = fopen(path, "r");
    CHECK(f != NULL);
    if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
    fclose(f);
    pid = atol(buf);
    CHECK_EQ_INT(pid, d.pid);
    /* SIGKILL leaves no chance to clean up: the kernel drops the lock, so a new daemon starts. */
    rc = daemon_kill(&d, SIGKILL);
    CHECK(WIFSIGNALED(rc) && WTERMSIG(rc) == SIGKILL);
    CHECK(daemon_restart(&d, NULL) == 0);
    f = fopen(path, "r");
    CHECK(f != NULL);
    if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
    fclose(f);
    CHECK_EQ_INT(atol(buf), d.pid);
    /* and it is held again */
    rc = second_daemon(out, sizeof out, 30);
    CHECKF(rc != 0 && rc != -1, "second daemon exit status %d; output: %s", rc, out);
    snprintf(buf, sizeof buf, "pid %ld", (long)d.pid);
    CHECKF(strstr(out, buf) != NULL, "no '%s' in: %s", buf, out);
}

int main(void)
{
    static const char *const env[] = { "COFFER_TEST_HOOKS=1", "COFFER_TEST_SLOW_OPEN_MS=150", NULL };
    int rc;
    g_tmp = check_tmpdir("e2e-lock");
    if (daemon_start(&d, env) != 0) {
        fprintf(stderr, "cannot start cofferd\n");
        return 1;
    }
    RUN(a_running_backup);
    RUN(a_second_daemon_on_the_same_directory_refuses_to_start);
    RUN(the_first_daemons_backup_still_succeeds);
    RUN(the_lock_file_names_the_daemon_and_dies_with_it);
    rc = daemon_stop(&d);
    if (rc != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly (status %d)", rc);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
