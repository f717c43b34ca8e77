/* cofferd: the Coffer daemon. Reads its settings (flags, environment, configuration file), prepares the data
 * directory (catalog, repository, admin key), starts the HTTP API and the job workers, and runs until
 * SIGTERM or SIGINT, then stops accepting requests, lets workers reach a safe point and exits.
 *
 *   cofferd [--config FILE|none] [--check-config] [--version] [--help] [OPTION...]
 *
 * Settings (util/config.h; docs/operations.md, "Configuration"): every option has one row in
 * config_options (its name in the file, its flag, its COFFER_* environment variable, type, range,
 * default, help); a flag wins over the environment, the environment over the file (--config FILE,
 * COFFER_CONFIG, or /etc/coffer/cofferd.conf when it exists), the file over the default. A bad value
 * anywhere stops cofferd with exit 2 and a message naming where it was (FILE:LINE, variable or flag),
 * the option and the problem; --check-config does only that and exits 0 when all is well. Options
 * that other modules read from the environment (the S3 backend's COFFER_S3_*, COFFER_METRICS_PUBLIC,
 * COFFER_SHARED_CATALOG) are set there, normalised, before any thread starts. Test-only
 * switches stay environment-only and out of the table: COFFER_TEST_CLOCK=1 enables POST
 * /v2/coffer-test/clock to move the daemon's clock; COFFER_TEST_HOOKS (sched.h).
 *
 * Logs (util/log.h): one line per event on stderr, key=value (log_format text) or JSON, from
 * log_level up; API requests carry their request id (api/server.c), jobs their kind and id.
 *
 * The repository lives in DIR/repo; its keys are wrapped by the key file DIR/repo.key, created (0600)
 * with the repository on first start. Without that file the backups cannot be read: keep a copy.
 *
 * TLS (docs/operations.md, "TLS"): with a certificate and key the API is HTTPS only (api/tls.h), and
 * SIGHUP reads the two files again (a bad new pair keeps the old one, logged). On loopback the default
 * is plain HTTP. Beyond loopback (any other address, 0.0.0.0 and :: included) without a certificate,
 * cofferd serves HTTPS with a self-signed certificate it makes on first start in DIR/tls/ (key 0600)
 * and reuses after; its fingerprint and public-key pin are printed at every start. Plain HTTP beyond
 * loopback only with --allow-plain-http; --no-tls there without it is refused (exit 2).
 *
 * Secret files (docs/operations.md, "Secret files"): DIR/repo.key, DIR/admin.key and the TLS key must
 * not be readable or writable by group or others; cofferd refuses to start (exit 1) naming the file,
 * its mode and the chmod that fixes it.
 *
 * One daemon per data directory: before anything in DIR is opened, cofferd takes an exclusive flock on
 * DIR/cofferd.lock (which then holds its pid) and keeps it until it exits; the kernel drops the lock
 * when the process dies, however it dies. A second cofferd on the same DIR finds the lock taken,
 * names the running daemon's pid and exits 1 without touching the catalog or the repository. */
#include "api/auth.h"
#include "api/server.h"
#include "api/tls.h"
#include "api/wire_spec.h"
#include "catalog/cat.h"
#include "repo/backend.h"
#include "repo/repo.h"
#include "sched/sched.h"
#include "util/time.h"
#include "sched/tz.h"
#include "svc/audit.h"
#include "util/config.h"
#include "util/fsio.h"
#include "util/log.h"
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
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
    const char *tls_cert, *tls_key; /* both or neither */
    int no_tls, allow_plain_http;
};

static struct api_tls *g_tls; /* the server's certificate (NULL: plain HTTP); reloaded on SIGHUP */

static volatile sig_atomic_t g_stop, g_reload;
static void on_signal(int sig)
{
    if (sig == SIGHUP) g_reload = 1;
    else g_stop = 1;
}

/* daemon_reload: what SIGHUP re-reads without a restart (the access issue: the admin key file and the
 * TLS certificate and key). Runs on the main thread, between signals; a file that cannot be read
 * keeps what was loaded before (logged). */
static char *read_admin_key_file(const char *path);

static void daemon_reload(struct api_context *ctx, struct api_server *server)
{
    const char *path = ctx->auth ? api_auth_admin_key_path(ctx->auth) : NULL;
    /* the audit log names the reload (no key asked for it: actor "signal"); status 500 when the admin
     * key file could not be read and the old key stays */
    struct svc_audit_event ev = { .actor = "signal", .method = "SIGHUP",
                                  .resource_id = "admin.key", .status = 200, .detail = "{\"what\":\"reload\"}" };
    (void)server;
    log_info("SIGHUP: reloading");
    if (!path) {
        log_info("SIGHUP: the admin key comes from the admin_key setting (COFFER_ADMIN_KEY or the configuration "
                 "file), read at start only: kept");
    } else {
        char *k = read_admin_key_file(path);
        if (!k) {
            log_warn("SIGHUP: cannot read the admin key file %s: the key loaded before stays in force", path);
            ev.status = 500;
        } else if (ctx->data_security_key && strcmp(k, ctx->data_security_key) == 0) {
            log_warn("SIGHUP: the admin key file %s holds the data-security key: the key loaded before stays", path);
            ev.status = 500;
        } else {
            api_auth_set_admin_key(ctx->auth, k);
            log_info("SIGHUP: the admin key was reloaded from %s; the previous one is refused from now on", path);
        }
        free(k);
    }
    if (g_tls) {
        char err[768], fp[API_TLS_FP_LEN];
        if (api_tls_reload(g_tls, err, sizeof err) != 0) {
            api_tls_identity(g_tls, fp, sizeof fp, NULL, 0);
            log_error("TLS certificate not reloaded, still serving the one with fingerprint %s: %s", fp, err);
        } else {
            char pin[API_TLS_PIN_LEN];
            api_tls_identity(g_tls, fp, sizeof fp, pin, sizeof pin);
            log_info("TLS certificate reloaded: sha256 fingerprint %s, public-key pin %s", fp, pin);
        }
    }
    if (ctx->cat) (void)svc_audit_record(ctx->cat, &ev);
}

/* audit_configure: the audit log's file and retention (audit_retention_days, checked by the
 * config table): 0, or -1 after logging why. */
static int audit_configure(const char *data_dir, long long days)
{
    return svc_audit_configure(data_dir, (int)days) == 0 ? 0 : -1;
}

static int parse_listen(const char *s, struct daemon_config *cfg)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long port;
    size_t hl;
    if (!colon) return -1;
    hl = (size_t)(colon - s);
    if (hl >= sizeof cfg->host) return -1;
    if (hl == 0) {
        snprintf(cfg->host, sizeof cfg->host, "0.0.0.0"); /* ":8080": every IPv4 address */
    } else {
        memcpy(cfg->host, s, hl);
        cfg->host[hl] = '\0';
    }
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

/* listen_is_loopback: 127.0.0.0/8, ::1 and "localhost" (what api_server_start binds for it). */
static int listen_is_loopback(const char *host)
{
    unsigned char a[16];
    static const unsigned char v6_loop[16] = { [15] = 1 };
    if (strcmp(host, "localhost") == 0) return 1;
    if (inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) return memcmp(a, v6_loop, 16) == 0;
    return 0;
}

/* check_secret_files: DIR/repo.key and DIR/admin.key, where they exist, must be private to their
 * owner (fsio_check_private). Returns 0, or -1 after printing which file and the chmod that fixes it. */
static int check_secret_files(const char *data_dir)
{
    static const char *const names[] = { "repo.key", "admin.key" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[PATH_MAX], msg[PATH_MAX * 2 + 128];
        int rc;
        snprintf(path, sizeof path, "%s/%s", data_dir, names[i]);
        rc = fsio_check_private(path, msg, sizeof msg);
        if (rc == 0 || rc == -ENOENT) continue;
        fprintf(stderr, "cofferd: refusing to start: %s\n", msg);
        return -1;
    }
    return 0;
}

/* setup_tls: settles what the listener speaks (g_tls: HTTPS; NULL: plain HTTP) and prints the
 * certificate's fingerprint and pin. Returns 0, or the exit status after printing why. */
static int setup_tls(const struct daemon_config *cfg)
{
    char err[PATH_MAX * 2 + 256], fp[API_TLS_FP_LEN], pin[API_TLS_PIN_LEN];
    char dir[PATH_MAX], certp[PATH_MAX], keyp[PATH_MAX];
    const char *cert = cfg->tls_cert, *key = cfg->tls_key;
    int loopback = listen_is_loopback(cfg->host), created = 0, rc;
    if (!cert && (cfg->no_tls || loopback || cfg->allow_plain_http)) {
        if (!loopback)
            log_warn("serving plain HTTP beyond loopback on %s (--allow-plain-http): API keys and data cross the "
                     "network unencrypted", cfg->host);
        return 0;
    }
    if (!cert) { /* beyond loopback without a certificate: our own, made once */
        char host[256] = "";
        if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "localhost");
        if (strlen(cfg->data_dir) > sizeof dir - 32) {
            fprintf(stderr, "cofferd: data directory path is too long\n");
            return 1;
        }
        snprintf(dir, sizeof dir, "%s/tls", cfg->data_dir);
        rc = api_tls_self_signed(dir, host, cfg->host, &created, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "cofferd: %s\n", err);
            return 1;
        }
        snprintf(certp, sizeof certp, "%s/tls/cert.pem", cfg->data_dir);
        snprintf(keyp, sizeof keyp, "%s/tls/key.pem", cfg->data_dir);
        cert = certp;
        key = keyp;
    }
    rc = api_tls_open(cert, key, &g_tls, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "cofferd: refusing to start: %s\n", err);
        return 1;
    }
    api_tls_identity(g_tls, fp, sizeof fp, pin, sizeof pin);
    if (created)
        log_info("created a self-signed TLS certificate in %s for listening beyond loopback (give --tls-cert and "
                 "--tls-key to use your own)", cert);
    log_info("TLS certificate %s: sha256 fingerprint %s, public-key pin %s (coffer --pin %s, or --cacert %s for "
             "a self-signed one)", cert, fp, pin, pin, cert);
    /* A line tests and scripts can read, like the ready line. */
    printf("cofferd tls fingerprint=%s pin=%s cert=%s\n", fp, pin, cert);
    fflush(stdout);
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

/* read_admin_key_file: the key in path without trailing white space (malloc'd), or NULL (logged). */
static char *read_admin_key_file(const char *path)
{
    void *data;
    size_t len;
    int rc = fsio_read_all(path, 4096, &data, &len);
    char *k = data;
    if (rc != 0) {
        log_error("cannot read admin key %s: %s", path, strerror(-rc));
        return NULL;
    }
    while (len > 0 && (k[len - 1] == '\n' || k[len - 1] == '\r' || k[len - 1] == ' ')) k[--len] = '\0';
    if (len == 0 || strlen(k) != len) {
        log_error("admin key file %s is empty or holds a NUL byte", path);
        free(k);
        return NULL;
    }
    return k;
}

/* load_admin_key: the admin_key setting (COFFER_ADMIN_KEY or the configuration file) when set, or
 * DIR/admin.key, created (0600) on first start. The caller frees. *from_file: whether it came from
 * DIR/admin.key (which SIGHUP re-reads and a rotation rewrites). */
static char *load_admin_key(const char *data_dir, const char *env, int *from_file)
{
    char path[PATH_MAX];
    struct stat st;
    int rc;
    *from_file = 0;
    if (env && *env) return strdup(env);
    *from_file = 1;
    snprintf(path, sizeof path, "%s/admin.key", data_dir);
    if (stat(path, &st) == 0) return read_admin_key_file(path);
    if (errno != ENOENT) {
        log_error("cannot read admin key %s: %s", path, strerror(errno));
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

/* open_repository: DIR/repo, or the repository at location (COFFER_REPOSITORY or --repository:
 * a directory or s3://bucket/prefix, docs/operations.md "Object storage"), created with its key
 * file DIR/repo.key on first start (the key file always stays local; an S3 repository's cache of
 * write-once objects is DIR/cache). */
static int open_repository(const char *data_dir, const char *location, struct repo **out)
{
    char dir[PATH_MAX], keyf[PATH_MAX], cache[PATH_MAX], err[512] = "";
    struct repo_backend *be = NULL;
    uint64_t size;
    int rc;
    if (strlen(data_dir) > PATH_MAX - 32) {
        log_error("data directory path is too long");
        return -1;
    }
    snprintf(dir, sizeof dir, "%s/repo", data_dir);
    if (location && *location) snprintf(dir, sizeof dir, "%s", location);
    snprintf(keyf, sizeof keyf, "%s/repo.key", data_dir);
    snprintf(cache, sizeof cache, "%s/cache", data_dir);
    if (repo_backend_for(dir, cache, &be, err, sizeof err) != 0) {
        log_error("cannot open the repository %s: %s", dir, err[0] ? err : "invalid location");
        return -1;
    }
    rc = be->ops->stat(be, REPO_OBJ_ROOT, "config", &size);
    if (rc == -ENOENT) {
        struct stat st;
        int had_key = stat(keyf, &st) == 0;
        rc = repo_create_be(be, dir, keyf, err, sizeof err);
        if (rc != 0) {
            log_error("cannot create the repository in %s: %s", dir, err[0] ? err : strerror(-rc));
            repo_backend_destroy(be);
            return -1;
        }
        log_info("created the repository in %s", dir);
        if (!had_key)
            log_warn("the repository's key file is %s (0600): keep a copy in a safe place; without it the backups "
                     "cannot be read", keyf);
    } else if (rc != 0) {
        log_error("cannot reach the repository %s: %s", dir, strerror(-rc));
        repo_backend_destroy(be);
        return -1;
    }
    rc = repo_open_be(be, dir, keyf, out, err, sizeof err);
    if (rc != 0) {
        log_error("cannot open the repository in %s with key file %s: %s", dir, keyf, err[0] ? err : strerror(-rc));
        return -1;
    }
    log_info("repository %s open (key file %s)", dir, keyf);
    return 0;
}

/* check_combinations: what the table cannot check alone (the TLS options together, plain HTTP beyond
 * loopback). Returns 0, or 2 after printing why. */
static int check_combinations(const struct daemon_config *cfg)
{
    if (!cfg->tls_cert != !cfg->tls_key) {
        fprintf(stderr, "cofferd: tls_cert and tls_key (--tls-cert, --tls-key, COFFER_TLS_CERT, COFFER_TLS_KEY) go "
                        "together\n");
        return 2;
    }
    if (cfg->tls_cert && cfg->no_tls) {
        fprintf(stderr, "cofferd: no_tls (--no-tls) and tls_cert (--tls-cert) contradict each other\n");
        return 2;
    }
    if (cfg->no_tls && !cfg->allow_plain_http && !listen_is_loopback(cfg->host)) {
        fprintf(stderr, "cofferd: refusing to serve plain HTTP beyond loopback on %s: pass --allow-plain-http "
                        "(COFFER_ALLOW_PLAIN_HTTP=1, allow_plain_http = true) to do it anyway, give --tls-cert and "
                        "--tls-key, or drop --no-tls to serve HTTPS with a self-signed certificate\n", cfg->host);
        return 2;
    }
    return 0;
}

/* apply_log_settings: log_level and log_format (checked by the table). */
static void apply_log_settings(const struct config *conf)
{
    static const char *const levels[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (strcmp(config_str(conf, CFG_LOG_LEVEL), levels[i]) == 0) log_set_level((enum log_level)i);
    log_set_format(strcmp(config_str(conf, CFG_LOG_FORMAT), "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
}

/* malloc_setup: at most one malloc arena per core (at least 2, at most 8), before any thread starts.
 * glibc's default (8 per core) gives each of a restore's dozen writer threads an arena of its own,
 * each keeping the chunk buffers it freed: measured on bench_backup.sh's corpus (one daemon, first
 * backup, two re-backups, then a full restore), the daemon's RSS rose from 48 to 81 MB during the
 * restore with the default and from 38 to 52 MB with 2 arenas; in a fresh daemon a restore no longer
 * goes past the start-up peak (45 MB; 57-61 MB before), for no measurable CPU (malloc and futex
 * waits stay under 1% of a restore's profile). A fixed mmap threshold (256 KiB) saved more memory but cost 15% of a
 * restore's CPU in page faults and munmap, so glibc keeps its sliding threshold. GLIBC_TUNABLES
 * naming arena_max wins over this. */
static void malloc_setup(void)
{
    const char *t = getenv("GLIBC_TUNABLES");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (t && strstr(t, "arena_max")) return;
    if (n < 2) n = 2;
    if (n > 8) n = 8;
    mallopt(M_ARENA_MAX, (int)n);
}

int main(int argc, char **argv)
{
    struct daemon_config cfg = { 0 };
    static struct config conf; /* static: reachable (not a leak) on the early exits below */
    const char *listen, *repository, *catalog;
    struct api_context ctx = { 0 };
    struct api_server *server = NULL;
    struct sigaction sa;
    sigset_t stop_sigs, run_mask;
    char err[8192] = "", path[PATH_MAX], *key;
    int lock_fd, key_from_file = 0, rc;
    malloc_setup();
    if (config_load(&conf, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "cofferd: %s\n", err[0] ? err : "out of memory");
        return 2;
    }
    switch (conf.action) {
    case CONFIG_HELP:
        config_print_usage(stdout);
        return 0;
    case CONFIG_VERSION:
        printf("cofferd %s\n", COFFER_VERSION);
        return 0;
    case CONFIG_PRINT_TABLE:
        config_print_table(stdout);
        return 0;
    case CONFIG_PRINT_EXAMPLE:
        config_print_example(&conf, stdout);
        config_release(&conf);
        return 0;
    default:
        break;
    }
    apply_log_settings(&conf);
    cfg.data_dir = config_str(&conf, CFG_DATA_DIR);
    listen = config_str(&conf, CFG_LISTEN);
    repository = config_str(&conf, CFG_REPOSITORY);
    catalog = config_str(&conf, CFG_CATALOG);
    cfg.tls_cert = config_is_set(&conf, CFG_TLS_CERT) ? config_str(&conf, CFG_TLS_CERT) : NULL;
    cfg.tls_key = config_is_set(&conf, CFG_TLS_KEY) ? config_str(&conf, CFG_TLS_KEY) : NULL;
    cfg.no_tls = config_int(&conf, CFG_NO_TLS) != 0;
    cfg.allow_plain_http = config_int(&conf, CFG_ALLOW_PLAIN_HTTP) != 0;
    if (!*cfg.data_dir) cfg.data_dir = "./var";
    if (parse_listen(listen, &cfg) != 0) { /* the table checked its form */
        fprintf(stderr, "cofferd: listen must be HOST:PORT, not '%s'\n", listen);
        config_release(&conf);
        return 2;
    }
    if ((rc = check_combinations(&cfg)) != 0) {
        config_release(&conf);
        return rc;
    }
    if (config_is_set(&conf, CFG_DATA_SECURITY_KEY) && config_is_set(&conf, CFG_ADMIN_KEY) &&
        strcmp(config_str(&conf, CFG_DATA_SECURITY_KEY), config_str(&conf, CFG_ADMIN_KEY)) == 0) {
        fprintf(stderr, "cofferd: data_security_key (COFFER_DATA_SECURITY_KEY) must differ from the admin key\n");
        config_release(&conf);
        return 2;
    }
    if (conf.action == CONFIG_CHECK) {
        printf("cofferd: the configuration is valid (%s%s)\n", conf.file[0] ? "file " : "no file",
               conf.file[0] ? conf.file : "");
        config_release(&conf);
        return 0;
    }
    if (config_export(&conf) != 0) {
        fprintf(stderr, "cofferd: cannot set the environment: %s\n", strerror(errno));
        config_release(&conf);
        return 1;
    }
    if (conf.file[0]) log_info("configuration file %s read", conf.file);
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
    if (check_secret_files(cfg.data_dir) != 0) return 1;
    {
        int trc = setup_tls(&cfg);
        if (trc != 0) return trc;
    }
    key = load_admin_key(cfg.data_dir, config_str(&conf, CFG_ADMIN_KEY), &key_from_file);
    if (!key) return 1;
    /* The data-security key (docs/operations.md): the one key that may lift an Administrative data
     * lock; it must differ from the admin key, or the admin would hold both. */
    ctx.data_security_key = config_is_set(&conf, CFG_DATA_SECURITY_KEY) ? config_str(&conf, CFG_DATA_SECURITY_KEY)
                                                                         : NULL;
    if (ctx.data_security_key && strcmp(ctx.data_security_key, key) == 0) {
        log_error("data_security_key (COFFER_DATA_SECURITY_KEY) must differ from the admin key");
        free(key);
        return 1;
    }
    if (audit_configure(cfg.data_dir, config_int(&conf, CFG_AUDIT_RETENTION_DAYS)) != 0) {
        free(key);
        return 1;
    }
    if (*catalog) snprintf(path, sizeof path, "%s", catalog);
    else snprintf(path, sizeof path, "%s/catalog.db", cfg.data_dir);
    if (cat_open(path, &ctx.cat, err, sizeof err) != 0) {
        log_error("%s", err);
        return 1;
    }
    { /* the space that lets a failure be recorded when the disk is full (cat.h) */
        long long n = config_int(&conf, CFG_RESERVE_MB);
        if (n > 0) {
            snprintf(path, sizeof path, "%s/catalog.reserve", cfg.data_dir);
            cat_reserve_init(ctx.cat, path, (int64_t)n << 20);
        }
    }
    /* Rows written before the typed specs (migration 7) get theirs; on a failure (a full disk) the
     * daemon still starts, and the next start tries again. */
    if (api_spec_backfill(ctx.cat) != 0) log_warn("cannot write the typed specs of older policies and groups");
    ctx.data_dir = cfg.data_dir;
    if (open_repository(cfg.data_dir, repository, &ctx.repo) != 0) {
        cat_close(ctx.cat);
        free(key);
        return 1;
    }
    {
        const char *tc = getenv("COFFER_TEST_CLOCK");
        long long psecs = config_int(&conf, CFG_PRUNE_INTERVAL_SECS);
        struct sched_config sc = { .cat = ctx.cat, .repo = ctx.repo, .workers = (int)config_int(&conf, CFG_WORKERS),
                                   .recovery_workers = 2, .data_dir = cfg.data_dir,
                                   .prune_interval_usecs = psecs == 0 ? -1 : psecs * 1000000,
                                   .verify_interval_usecs = config_int(&conf, CFG_VERIFY_INTERVAL_SECS) * 1000000,
                                   .verify_read_pct = (unsigned)config_int(&conf, CFG_VERIFY_READ_PCT) };
        if (tc && strcmp(tc, "1") == 0) {
            util_time_enable_test(1);
            log_warn("COFFER_TEST_CLOCK=1: the test clock route is enabled (never use this in production)");
        }
        if (sched_start(&sc, &ctx.sched, err, sizeof err) != 0) {
            log_error("cannot start the scheduler: %s", err);
            repo_close(ctx.repo);
            cat_close(ctx.cat);
            free(key);
            return 1;
        }
    }


    { /* the keys (auth.h): the admin key, its file when it came from one, the data-security key, and
       * the failed-authentication limits auth_failures per auth_window_secs, auth_cooldown_secs */
        struct api_auth_limits lim = API_AUTH_LIMITS_DEFAULT;
        lim.fail_limit = (unsigned)config_int(&conf, CFG_AUTH_FAILURES);
        lim.window_secs = (unsigned)config_int(&conf, CFG_AUTH_WINDOW_SECS);
        lim.cooldown_secs = (unsigned)config_int(&conf, CFG_AUTH_COOLDOWN_SECS);
        snprintf(path, sizeof path, "%s/admin.key", cfg.data_dir);
        if (api_auth_new(key, key_from_file ? path : NULL, ctx.data_security_key, &lim, &ctx.auth) != 0) {
            sched_stop(ctx.sched);
            repo_close(ctx.repo);
            cat_close(ctx.cat);
            free(key);
            return 1;
        }
    }
    if (api_server_start(cfg.host, cfg.port, key, g_tls, &ctx, &server, err, sizeof err) != 0) {
        log_error("%s", err);
        api_auth_free(ctx.auth);
        sched_stop(ctx.sched);
        repo_close(ctx.repo);
        cat_close(ctx.cat);
        free(key);
        return 1;
    }
    log_info("cofferd listening on %s://%s:%d/v2 (data directory %s)", g_tls ? "https" : "http", cfg.host,
             api_server_port(server), cfg.data_dir);
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
    api_auth_free(ctx.auth);
    sched_stop(ctx.sched); /* running recoveries stop at a safe point and end Failed; running backups
                            * stop at a safe point and are queued again */
    repo_close(ctx.repo);
    cat_close(ctx.cat);
    sched_tz_release_all();
    api_tls_free(g_tls);
    free(key);
    log_info("cofferd stopped");
    config_release(&conf);
    if (ftruncate(lock_fd, 0) != 0) log_warn("cannot clear the lock file: %s", strerror(errno));
    close(lock_fd); /* releases the lock */
    return 0;
}
