/* e2e_s3_faults.c: cofferd on S3 through a fault proxy written here (loopback TCP, one thread per
 * connection, bounded) between the daemon and versitygw:
 *   - 500s and slow responses: every 3rd connection is answered "500 InternalError" without
 *     reaching the server, every 7th has its answer held past the client's low-speed timeout
 *     (COFFER_S3_TIMEOUT=2), every chunk is delayed a little; the proxy closes a connection once
 *     it has been idle after an answer, so the faults reach most requests. Two backups (the second
 *     of changed files) end Succeeded, and the faults did happen (counted by the proxy, retries in
 *     the daemon's log);
 *   - the server killed (SIGKILL) in the middle of a backup's uploads and restarted 2 s later: the
 *     run ends Succeeded (its requests retried) or Failed (cleanly), and the next backup succeeds;
 *   - afterwards (the daemon stopped, straight to the server): no multipart upload left behind by
 *     the run became an object (verify reading every blob is clean) and every finished snapshot
 *     restores byte for byte. */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/e2e_recover_fixture.h"
#include "e2e/s3test.h"
#include "engine/engine.h"
#include "repo/backend.h"
#include "repo/repo.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define T "tenant-s3f"
#define BUCKET "coffer-faults"
#define PROXY_CONNS_MAX 64
#define PROXY_CONN_LIFE_MS 120000

/* ---- the fault proxy ---- */

struct fproxy {
    int lfd, port, upstream;
    pthread_t th;
    atomic_int stop, active;
    atomic_int fail_every, stall_every, stall_ms, delay_ms, idle_ms;
    atomic_ullong conns, failed, stalled, up_bytes;
};

struct fconn {
    struct fproxy *p;
    int cfd;
    int stall;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *relay(void *arg)
{
    struct fconn *c = arg;
    struct fproxy *p = c->p;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p->upstream),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int ufd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    long long start = now_ms(), last = start, last_up = 0, last_client = start;
    char buf[16384];
    if (ufd >= 0 && connect(ufd, (struct sockaddr *)&a, sizeof a) == 0) {
        while (!atomic_load(&p->stop) && now_ms() - start < PROXY_CONN_LIFE_MS) {
            struct pollfd pf[2] = { { c->cfd, POLLIN, 0 }, { ufd, POLLIN, 0 } };
            int n = poll(pf, 2, 50);
            if (n < 0 && errno != EINTR) break;
            if (n > 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t r = recv(c->cfd, buf, sizeof buf, 0);
                if (r <= 0 || write_all(ufd, buf, (size_t)r) < 0) break;
                atomic_fetch_add(&p->up_bytes, (unsigned long long)r);
                last = last_client = now_ms();
            }
            if (n > 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t r = recv(ufd, buf, sizeof buf, 0);
                int d = atomic_load(&p->delay_ms);
                if (r <= 0) break;
                if (c->stall) { /* the answer held past the client's patience */
                    struct timespec ts = { atomic_load(&p->stall_ms) / 1000, (atomic_load(&p->stall_ms) % 1000) * 1000000L };
                    c->stall = 0;
                    atomic_fetch_add(&p->stalled, 1);
                    nanosleep(&ts, NULL);
                }
                if (d > 0) {
                    struct timespec ts = { 0, d * 1000000L };
                    nanosleep(&ts, NULL);
                }
                if (write_all(c->cfd, buf, (size_t)r) < 0) break;
                last = last_up = now_ms();
            }
            /* an answer went out and all is quiet since: close, so the next request opens anew */
            if (last_up > last_client && now_ms() - last > atomic_load(&p->idle_ms)) break;
        }
    }
    if (ufd >= 0) close(ufd);
    close(c->cfd);
    free(c);
    atomic_fetch_sub(&p->active, 1);
    return NULL;
}

static void *accept_loop(void *arg)
{
    struct fproxy *p = arg;
    static const char resp500[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\n"
                                  "Content-Length: 76\r\nConnection: close\r\n\r\n"
                                  "<Error><Code>InternalError</Code><Message>injected</Message></Error>\n\n\n\n\n\n\n\n";
    while (!atomic_load(&p->stop)) {
        struct pollfd pf = { p->lfd, POLLIN, 0 };
        unsigned long long n;
        int cfd, fe, se;
        if (poll(&pf, 1, 100) <= 0) continue;
        cfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) continue;
        n = atomic_fetch_add(&p->conns, 1) + 1;
        fe = atomic_load(&p->fail_every);
        se = atomic_load(&p->stall_every);
        if (fe > 0 && n % (unsigned)fe == 0) {
            char buf[4096];
            struct pollfd cp = { cfd, POLLIN, 0 };
            if (poll(&cp, 1, 500) > 0 && recv(cfd, buf, sizeof buf, 0) > 0) { /* the request's start */
                write_all(cfd, resp500, sizeof resp500 - 1);
                atomic_fetch_add(&p->failed, 1);
            }
            shutdown(cfd, SHUT_RDWR);
            close(cfd);
            continue;
        }
        if (atomic_load(&p->active) >= PROXY_CONNS_MAX) {
            close(cfd);
            continue;
        }
        {
            struct fconn *c = calloc(1, sizeof *c);
            pthread_t th;
            pthread_attr_t at;
            if (!c) {
                close(cfd);
                continue;
            }
            c->p = p;
            c->cfd = cfd;
            c->stall = se > 0 && n % (unsigned)se == 0;
            atomic_fetch_add(&p->active, 1);
            pthread_attr_init(&at);
            pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
            if (pthread_create(&th, &at, relay, c) != 0) {
                atomic_fetch_sub(&p->active, 1);
                close(cfd);
                free(c);
            }
            pthread_attr_destroy(&at);
        }
    }
    return NULL;
}

static int fproxy_start(struct fproxy *p, int upstream)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    memset(p, 0, sizeof *p);
    p->upstream = upstream;
    atomic_store(&p->idle_ms, 100);
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(p->lfd, 64) != 0 ||
        getsockname(p->lfd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    p->port = ntohs(a.sin_port);
    return pthread_create(&p->th, NULL, accept_loop, p) == 0 ? 0 : -1;
}

static void fproxy_stop(struct fproxy *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    for (int i = 0; i < 200 && atomic_load(&p->active) > 0; i++) usleep(50000); /* 10 s */
    close(p->lfd);
}

/* ---- the tests ---- */

static struct s3test g_s3;
static struct fproxy g_px;
static struct daemon d;
static char *tmp;
static char src[512], copies[6][600], gid[256], snaps[6][REPO_ID_HEX_LEN + 1];
static int done[6]; /* 1: the run Succeeded, its snapshot must restore */

/* run_now: starts a run of the group and waits for its end; its status ("" if none) in st. */
static int start_run(char *run_id, size_t n)
{
    json_t *j = NULL;
    if (post_json(&d, fmt(FX_GRP "/%s/runs", gid), T, "{\"runType\":\"kRegular\"}", 202, &j) != 202) return -1;
    snprintf(run_id, n, "%s", jstr(j, "runId") ? jstr(j, "runId") : "");
    json_decref(j);
    return 0;
}

static int wait_run(int k, const char *run_id, char *st, size_t n)
{
    char path[400];
    json_t *j = NULL;
    snprintf(path, sizeof path, FX_GRP "/%s/runs/%s?includeObjectDetails=true", gid, run_id);
    for (int i = 0; i < 3000; i++) { /* 300 s */
        const char *s;
        if (get_json(&d, path, T, &j) == 200 && (s = jstr(j, "localBackupInfo.status")) != NULL &&
            strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0) {
            const char *sid = jstr(j, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId");
            snprintf(st, n, "%s", s);
            snprintf(snaps[k], sizeof snaps[k], "%s", sid ? sid : "");
            json_decref(j);
            return 0;
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    snprintf(st, n, "(no end)");
    return -1;
}

static void keep_copy(int k)
{
    char cmd[1300];
    snprintf(copies[k], sizeof copies[k], "%s/copy%d", tmp, k);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", src, copies[k]);
    if (system(cmd) != 0) fprintf(stderr, "cp failed\n");
}

static int log_count(const char *what)
{
    FILE *f = fopen(d.log_path, "r");
    char line[4096];
    int n = 0;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) n += strstr(line, what) != NULL;
    fclose(f);
    return n;
}

TEST(backups_succeed_through_500s_and_slow_answers)
{
    long long host = 0;
    char policy[256], path[700], run[64], st[32];
    snprintf(src, sizeof src, "%s/src", tmp);
    CHECK(mkdir(src, 0700) == 0);
    for (int f = 0; f < 5; f++) {
        snprintf(path, sizeof path, "%s/f%d", src, f);
        CHECK(write_random(path, 200000 + (size_t)f * 777, 0644) == 0);
    }
    snprintf(path, sizeof path, "%s/big", src);
    CHECK(write_random(path, 10u << 20, 0644) == 0); /* a multipart upload */
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
    CHECK(fx_group(&d, T, "s3-faults", policy, host, src, gid, sizeof gid) == 0);
    atomic_store(&g_px.fail_every, 3);
    atomic_store(&g_px.stall_every, 7);
    atomic_store(&g_px.stall_ms, 3500);
    atomic_store(&g_px.delay_ms, 2);
    for (int k = 0; k < 2; k++) {
        if (k == 1)
            for (int f = 0; f < 2; f++) {
                snprintf(path, sizeof path, "%s/f%d", src, f);
                CHECK(write_random(path, 250000, 0644) == 0);
            }
        CHECK(start_run(run, sizeof run) == 0);
        CHECK(wait_run(k, run, st, sizeof st) == 0);
        CHECKF(strcmp(st, "Succeeded") == 0, "run %d through the faults ended %s", k, st);
        keep_copy(k);
        done[k] = 1;
    }
    printf("info: proxy: %llu connections, %llu answered 500, %llu stalled\n",
           (unsigned long long)atomic_load(&g_px.conns), (unsigned long long)atomic_load(&g_px.failed),
           (unsigned long long)atomic_load(&g_px.stalled));
    CHECK(atomic_load(&g_px.failed) >= 3);
    CHECK(atomic_load(&g_px.stalled) >= 1);
    CHECKF(log_count("retrying") >= 4, "%d retries logged", log_count("retrying"));
    atomic_store(&g_px.fail_every, 0);
    atomic_store(&g_px.stall_every, 0);
    atomic_store(&g_px.delay_ms, 0);
}

TEST(server_killed_mid_upload)
{
    char path[700], run[64], st[32], why[512] = "";
    unsigned long long up0;
    int k = 2;
    snprintf(path, sizeof path, "%s/big", src);
    CHECK(write_random(path, 24u << 20, 0644) == 0);
    atomic_store(&g_px.delay_ms, 1); /* a little slower, so that the kill lands inside the uploads */
    up0 = atomic_load(&g_px.up_bytes);
    CHECK(start_run(run, sizeof run) == 0);
    for (int i = 0; i < 600 && atomic_load(&g_px.up_bytes) - up0 < (6u << 20); i++) usleep(10000);
    CHECKF(atomic_load(&g_px.up_bytes) - up0 >= (6u << 20), "the upload did not start");
    s3test_kill(&g_s3, SIGKILL);
    printf("info: server killed after %llu bytes of the run were sent\n",
           (unsigned long long)(atomic_load(&g_px.up_bytes) - up0));
    sleep(2);
    CHECKF(s3test_restart(&g_s3, why, sizeof why) == 0, "%s", why);
    atomic_store(&g_px.delay_ms, 0);
    CHECK(wait_run(k, run, st, sizeof st) == 0);
    printf("info: the run cut by the kill ended %s\n", st);
    CHECKF(strcmp(st, "Succeeded") == 0 || strcmp(st, "Failed") == 0, "run ended %s", st);
    if (strcmp(st, "Succeeded") == 0) {
        keep_copy(k);
        done[k] = 1;
    }
    /* the next backup, with the server back, succeeds */
    k = 3;
    CHECK(start_run(run, sizeof run) == 0);
    CHECK(wait_run(k, run, st, sizeof st) == 0);
    CHECKF(strcmp(st, "Succeeded") == 0, "the run after the restart ended %s", st);
    keep_copy(k);
    done[k] = 1;
}

TEST(every_finished_snapshot_restores)
{
    char key[700], err[512] = "", target[700], got[1500], msg[512], cache[700];
    struct repo_backend *be = NULL;
    struct repo *r = NULL;
    json_t *rep = NULL;
    int restored = 0;
    CHECK_EQ_INT(daemon_kill(&d, SIGTERM), 0);
    snprintf(key, sizeof key, "%s/repo.key", d.data_dir);
    snprintf(cache, sizeof cache, "%s/fresh-cache", tmp);
    s3test_env(&g_s3, NULL); /* straight to the server */
    CHECKF(repo_backend_for("s3://" BUCKET "/r", cache, &be, err, sizeof err) == 0, "%s", err);
    CHECKF(repo_open_be(be, "s3://" BUCKET "/r", key, &r, err, sizeof err) == 0, "%s", err);
    CHECK(repo_verify(r, 1, &rep) == 0);
    CHECKF(json_is_true(json_object_get(rep, "ok")), "verify of the bucket after the faults is not clean");
    json_decref(rep);
    for (int k = 0; k < 6; k++) {
        struct eng_restore_opts o = { .target_dir = target, .overwrite = 1 };
        struct eng_restore_result res;
        int n = 0;
        if (!done[k]) continue;
        snprintf(target, sizeof target, "%s/restore%d", tmp, k);
        CHECKF(eng_restore(r, snaps[k], &o, &res, err, sizeof err) == 0, "restore %d: %s", k, err);
        eng_restore_result_release(&res);
        snprintf(got, sizeof got, "%s%s", target, src);
        CHECKF(check_trees_equal(copies[k], got, 0, NULL, NULL, msg, sizeof msg, &n) == 0, "snapshot %d: %s", k, msg);
        CHECK_EQ_INT(n, 7);
        restored++;
    }
    CHECK(restored >= 3);
    repo_close(r);
}

int main(void)
{
    static const char *const TESTS[] = { "backups_succeed_through_500s_and_slow_answers", "server_killed_mid_upload",
                                         "every_finished_snapshot_restores" };
    char ep[128];
    const char *env[12];
    if (s3test_serve_or_skip(&g_s3, "s3faults", BUCKET, TESTS, sizeof TESTS / sizeof *TESTS) != 0) return check_finish();
    tmp = check_tmpdir("e2e-s3f");
    if (fproxy_start(&g_px, g_s3.port) != 0) check_abandon("the fault proxy did not start");
    snprintf(ep, sizeof ep, "COFFER_S3_ENDPOINT=http://127.0.0.1:%d", g_px.port);
    env[0] = "COFFER_PRUNE_INTERVAL_SECS=0";
    env[1] = "COFFER_REPOSITORY=s3://" BUCKET "/r";
    env[2] = ep;
    env[3] = "COFFER_S3_REGION=" S3TEST_REGION;
    env[4] = "COFFER_S3_PATH_STYLE=1";
    env[5] = "AWS_ACCESS_KEY_ID=" S3TEST_ACCESS;
    env[6] = "AWS_SECRET_ACCESS_KEY=" S3TEST_SECRET;
    env[7] = "COFFER_S3_TIMEOUT=2";
    env[8] = "COFFER_S3_RETRIES=8";
    env[9] = NULL;
    if (daemon_start(&d, env) != 0) check_abandon("the daemon did not start on S3");
    RUN(backups_succeed_through_500s_and_slow_answers);
    RUN(server_killed_mid_upload);
    RUN(every_finished_snapshot_restores);
    daemon_stop(&d);
    fproxy_stop(&g_px);
    s3test_destroy(&g_s3);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
