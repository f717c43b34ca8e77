/* cofferd: the Coffer daemon. Reads its configuration from flags and environment, prepares the data
 * directory (catalog, repository, admin key), starts the HTTP API and the job workers, and runs until
 * SIGTERM or SIGINT, then stops accepting requests, lets workers reach a safe point and exits.
 *
 *   cofferd [--data-dir DIR] [--listen HOST:PORT] [--catalog URL]
 *   COFFER_DATA_DIR (default ./var), COFFER_LISTEN (default 127.0.0.1:8080),
 *   COFFER_CATALOG or --catalog (the catalog: default the SQLite file DIR/catalog.db; a
 *   postgresql://... URL or a libpq key=value string puts it on PostgreSQL: docs/operations.md,
 *   "PostgreSQL catalog"),
 *   COFFER_ADMIN_KEY (sets the admin API key instead of the generated DIR/admin.key),
 *   COFFER_WORKERS (backup worker threads, default 2),
 *   COFFER_PRUNE_INTERVAL_SECS (a prune after the retention pass this often, default 86400; 0 = never),
 *   COFFER_VERIFY_INTERVAL_SECS (a verify of the repository this often, default 0 = never) and
 *   COFFER_VERIFY_READ_PCT (what a scheduled verify re-reads: 0 = structure only, 1..100 = that share
 *   of the packs, rotating; default 10),
 *   COFFER_RESERVE_MB (the catalog's space reserve DIR/catalog.reserve, default 8; 0 = none: see
 *   docs/operations.md, "Disk full"),
 *   COFFER_TEST_CLOCK=1 (tests only: enables POST /v2/coffer-test/clock to move the daemon's clock).
 *
 * The repository lives in DIR/repo; its keys are wrapped by the key file DIR/repo.key, created (0600)
 * with the repository on first start. Without that file the backups cannot be read: keep a copy.
 *
 * One daemon per data directory: before anything in DIR is opened, cofferd takes an exclusive flock on
 * DIR/cofferd.lock (which then holds its pid) and keeps it until it exits; the kernel drops the lock
 * when the process dies, however it dies. A second cofferd on the same DIR finds the lock taken,
 * names the running daemon's pid and exits 1 without touching the catalog or the repository. */
#include "api/server.h"
#include "api/wire_spec.h"
#include "catalog/cat.h"
#include "repo/repo.h"
#include "sched/sched.h"
#include "util/time.h"
#include "sched/tz.h"
#include "util/fsio.h"
#include "util/log.h"
#include <errno.h>
#include <limits.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct daemon_config {
    const char *data_dir;
    char host[256];
    int port;
};

static volatile sig_atomic_t g_stop, g_reload;
static void on_signal(int sig)
{
    if (sig == SIGHUP) g_reload = 1;
    else g_stop = 1;
}

/* daemon_reload: what SIGHUP re-reads without a restart (the access issue: the admin key file and the
 * TLS certificate and key). Runs on the main thread, between signals; a file that cannot be read
 * keeps what was loaded before (logged). */
static void daemon_reload(struct api_context *ctx, struct api_server *server)
{
    (void)ctx; (void)server;
    log_info("SIGHUP: reloading");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cofferd [--data-dir DIR] [--listen HOST:PORT] [--catalog URL]\n"
               "  environment: COFFER_DATA_DIR (default ./var), COFFER_LISTEN (default 127.0.0.1:8080),\n"
               "               COFFER_CATALOG (default DIR/catalog.db; postgresql://... for PostgreSQL),\n"
               "               COFFER_ADMIN_KEY (admin API key; default: generated into DIR/admin.key)\n");
}

static int parse_listen(const char *s, struct daemon_config *cfg)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long port;
    size_t hl;
    if (!colon) return -1;
    hl = (size_t)(colon - s);
    if (hl == 0 || hl >= sizeof cfg->host) return -1;
    memcpy(cfg->host, s, hl);
    cfg->host[hl] = '\0';
    if (cfg->host[0] == '[' && cfg->host[hl - 1] == ']') { /* [::1]:8080 */
        memmove(cfg->host, cfg->host + 1, hl - 2);
        cfg->host[hl - 2] = '\0';
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || port < 0 || port > 65535) return -1;
    cfg->port = (int)port;
    return 0;
}

/* daemon_lock: takes the data directory's lock (DIR/cofferd.lock, flock LOCK_EX) and writes our pid
 * into it. Returns the open descriptor, which must stay open while the daemon runs (closing it or
 * exiting releases the lock), or -1 after printing why (another daemon holds it: its pid is named). */
static int daemon_lock(const char *data_dir)
{
    char path[PATH_MAX], pid[32];
    int fd, n;
    if (snprintf(path, sizeof path, "%s/cofferd.lock", data_dir) >= (int)sizeof path) {
        fprintf(stderr, "cofferd: data directory path is too long\n");
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        fprintf(stderr, "cofferd: cannot open the lock file %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        ssize_t got = e == EWOULDBLOCK ? pread(fd, pid, sizeof pid - 1, 0) : -1;
        if (got > 0) {
            pid[got] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
        }
        if (e == EWOULDBLOCK)
            fprintf(stderr, "cofferd: data directory %s is in use by another cofferd (pid %s; lock file %s): "
                            "refusing to start\n", data_dir, got > 0 && pid[0] ? pid : "unknown", path);
        else
            fprintf(stderr, "cofferd: cannot lock %s: %s\n", path, strerror(e));
        close(fd);
        return -1;
    }
    n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        fprintf(stderr, "cofferd: cannot write the lock file %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* load_admin_key: COFFER_ADMIN_KEY, or DIR/admin.key, created (0600) on first start. The caller frees. */
static char *load_admin_key(const char *data_dir)
{
    const char *env = getenv("COFFER_ADMIN_KEY");
    char path[PATH_MAX];
    void *data;
    size_t len;
    int rc;
    if (env && *env) return strdup(env);
    snprintf(path, sizeof path, "%s/admin.key", data_dir);
    rc = fsio_read_all(path, 4096, &data, &len);
    if (rc == 0) {
        char *k = data;
        while (len > 0 && (k[len - 1] == '\n' || k[len - 1] == '\r' || k[len - 1] == ' ')) k[--len] = '\0';
        if (len == 0) {
            log_error("admin key file %s is empty", path);
            free(k);
            return NULL;
        }
        return k;
    }
    if (rc != -ENOENT) {
        log_error("cannot read admin key %s: %s", path, strerror(-rc));
        return NULL;
    }
    {
        unsigned char raw[32];
        char hex[65 + 1];
        if (RAND_bytes(raw, sizeof raw) != 1) return NULL;
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", raw[i]);
        hex[64] = '\n';
        hex[65] = '\0';
        rc = fsio_write_atomic(path, hex, 65, 0600);
        if (rc != 0) {
            log_error("cannot write admin key %s: %s", path, strerror(-rc));
            return NULL;
        }
        hex[64] = '\0';
        log_info("created the admin API key in %s (keep it secret; send it as 'Authorization: Bearer <key>')", path);
        return strdup(hex);
    }
}

/* open_repository: DIR/repo, created with its key file DIR/repo.key on first start. */
static int open_repository(const char *data_dir, struct repo **out)
{
    char dir[PATH_MAX], keyf[PATH_MAX], cfgp[PATH_MAX], err[512] = "";
    struct stat st;
    int rc;
    if (strlen(data_dir) > PATH_MAX - 32) {
        log_error("data directory path is too long");
        return -1;
    }
    snprintf(dir, sizeof dir, "%s/repo", data_dir);
    snprintf(keyf, sizeof keyf, "%s/repo.key", data_dir);
    snprintf(cfgp, sizeof cfgp, "%s/repo/config", data_dir);
    if (stat(cfgp, &st) != 0) {
        int had_key = stat(keyf, &st) == 0;
        rc = repo_create(dir, keyf, err, sizeof err);
        if (rc != 0) {
            log_error("cannot create the repository in %s: %s", dir, err[0] ? err : strerror(-rc));
            return -1;
        }
        log_info("created the repository in %s", dir);
        if (!had_key)
            log_warn("the repository's key file is %s (0600): keep a copy in a safe place; without it the backups "
                     "cannot be read", keyf);
    }
    rc = repo_open(dir, keyf, out, err, sizeof err);
    if (rc != 0) {
        log_error("cannot open the repository in %s with key file %s: %s", dir, keyf, err[0] ? err : strerror(-rc));
        return -1;
    }
    log_info("repository %s open (key file %s)", dir, keyf);
    return 0;
}

int main(int argc, char **argv)
{
    struct daemon_config cfg = { 0 };
    const char *listen = getenv("COFFER_LISTEN"), *catalog = getenv("COFFER_CATALOG");
    struct api_context ctx = { 0 };
    struct api_server *server = NULL;
    struct sigaction sa;
    sigset_t stop_sigs, run_mask;
    char err[512] = "", path[PATH_MAX], *key;
    int lock_fd;
    cfg.data_dir = getenv("COFFER_DATA_DIR");
    if (!cfg.data_dir || !*cfg.data_dir) cfg.data_dir = "./var";
    if (!listen || !*listen) listen = "127.0.0.1:8080";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
            cfg.data_dir = argv[++i];
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(argv[i], "--catalog") == 0 && i + 1 < argc) {
            catalog = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "cofferd: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (parse_listen(listen, &cfg) != 0) {
        fprintf(stderr, "cofferd: --listen must be HOST:PORT, not '%s'\n", listen);
        return 2;
    }
    if (fsio_mkdir_p(cfg.data_dir, 0700) != 0) {
        fprintf(stderr, "cofferd: cannot create data directory %s: %s\n", cfg.data_dir, strerror(errno));
        return 1;
    }
    /* Before any thread starts: the stop signals are blocked (threads inherit the mask) and only the
     * main loop below takes them. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, &run_mask);
    sigdelset(&run_mask, SIGTERM);
    sigdelset(&run_mask, SIGINT);
    sigdelset(&run_mask, SIGHUP);
    lock_fd = daemon_lock(cfg.data_dir); /* before anything in the data directory is opened */
    if (lock_fd < 0) return 1;
    key = load_admin_key(cfg.data_dir);
    if (!key) return 1;
    /* The data-security key (docs/operations.md): the one key that may lift an Administrative data
     * lock; it must differ from the admin key, or the admin would hold both. */
    ctx.data_security_key = getenv("COFFER_DATA_SECURITY_KEY");
    if (ctx.data_security_key && !*ctx.data_security_key) ctx.data_security_key = NULL;
    if (ctx.data_security_key && strcmp(ctx.data_security_key, key) == 0) {
        log_error("COFFER_DATA_SECURITY_KEY must differ from the admin key");
        free(key);
        return 1;
    }
    if (catalog && *catalog) snprintf(path, sizeof path, "%s", catalog);
    else snprintf(path, sizeof path, "%s/catalog.db", cfg.data_dir);
    if (cat_open(path, &ctx.cat, err, sizeof err) != 0) {
        log_error("%s", err);
        return 1;
    }
    { /* the space that lets a failure be recorded when the disk is full (cat.h) */
        const char *mb = getenv("COFFER_RESERVE_MB");
        long n = mb && *mb ? strtol(mb, NULL, 10) : 8;
        if (n > 0 && n <= 1024) {
            snprintf(path, sizeof path, "%s/catalog.reserve", cfg.data_dir);
            cat_reserve_init(ctx.cat, path, (int64_t)n << 20);
        }
    }
    /* Rows written before the typed specs (migration 7) get theirs; on a failure (a full disk) the
     * daemon still starts, and the next start tries again. */
    if (api_spec_backfill(ctx.cat) != 0) log_warn("cannot write the typed specs of older policies and groups");
    ctx.data_dir = cfg.data_dir;
    if (open_repository(cfg.data_dir, &ctx.repo) != 0) {
        cat_close(ctx.cat);
        free(key);
        return 1;
    }
    {
        const char *tc = getenv("COFFER_TEST_CLOCK"), *wk = getenv("COFFER_WORKERS");
        struct sched_config sc = { .cat = ctx.cat, .repo = ctx.repo, .workers = 2, .recovery_workers = 2,
                                   .data_dir = cfg.data_dir };
        if (tc && strcmp(tc, "1") == 0) {
            util_time_enable_test(1);
            log_warn("COFFER_TEST_CLOCK=1: the test clock route is enabled (never use this in production)");
        }
        const char *pi = getenv("COFFER_PRUNE_INTERVAL_SECS");
        if (pi && *pi) {
            char *end;
            long long secs = strtoll(pi, &end, 10);
            if (*end || secs < 0 || secs > 100LL * 365 * 86400) {
                log_error("COFFER_PRUNE_INTERVAL_SECS must be a number of seconds (0 = never), not '%s'", pi);
                repo_close(ctx.repo);
                cat_close(ctx.cat);
                free(key);
                return 1;
            }
            sc.prune_interval_usecs = secs == 0 ? -1 : secs * 1000000;
        }
        {
            const char *vi = getenv("COFFER_VERIFY_INTERVAL_SECS"), *vp = getenv("COFFER_VERIFY_READ_PCT");
            char *e1 = NULL, *e2 = NULL;
            long long vsecs = vi && *vi ? strtoll(vi, &e1, 10) : 0;
            long long vpct = vp && *vp ? strtoll(vp, &e2, 10) : 10;
            if ((e1 && *e1) || vsecs < 0 || vsecs > 100LL * 365 * 86400 || (e2 && *e2) || vpct < 0 || vpct > 100) {
                log_error("COFFER_VERIFY_INTERVAL_SECS must be a number of seconds (0 = never) and "
                          "COFFER_VERIFY_READ_PCT a percentage 0..100, not '%s' and '%s'", vi ? vi : "",
                          vp ? vp : "");
                repo_close(ctx.repo);
                cat_close(ctx.cat);
                free(key);
                return 1;
            }
            sc.verify_interval_usecs = vsecs * 1000000;
            sc.verify_read_pct = (unsigned)vpct;
        }
        if (wk && *wk) sc.workers = atoi(wk);
        if (sc.workers < 1 || sc.workers > 64) sc.workers = 2;
        if (sched_start(&sc, &ctx.sched, err, sizeof err) != 0) {
            log_error("cannot start the scheduler: %s", err);
            repo_close(ctx.repo);
            cat_close(ctx.cat);
            free(key);
            return 1;
        }
    }


    if (api_server_start(cfg.host, cfg.port, key, &ctx, &server, err, sizeof err) != 0) {
        log_error("%s", err);
        sched_stop(ctx.sched);
        repo_close(ctx.repo);
        cat_close(ctx.cat);
        free(key);
        return 1;
    }
    log_info("cofferd listening on http://%s:%d/v2 (data directory %s)", cfg.host, api_server_port(server),
             cfg.data_dir);
    /* A line tests and scripts can wait for. */
    printf("cofferd ready port=%d\n", api_server_port(server));
    fflush(stdout);
    /* SIGTERM and SIGINT are blocked in every thread (the mask was set before any started) and
     * taken here only, atomically with the check: a signal that comes before the wait is pending,
     * never lost. */
    while (!g_stop) {
        sigsuspend(&run_mask);
        if (g_reload && !g_stop) {
            g_reload = 0;
            daemon_reload(&ctx, server);
        }
    }
    log_info("cofferd stopping");
    api_server_stop(server);
    sched_stop(ctx.sched); /* running recoveries stop at a safe point and end Failed; running backups
                            * stop at a safe point and are queued again */
    repo_close(ctx.repo);
    cat_close(ctx.cat);
    sched_tz_release_all();
    free(key);
    log_info("cofferd stopped");
    if (ftruncate(lock_fd, 0) != 0) log_warn("cannot clear the lock file: %s", strerror(errno));
    close(lock_fd); /* releases the lock */
    return 0;
}
