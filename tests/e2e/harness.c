/* harness.c: starts and stops the real daemon and speaks HTTP to it (see harness.h). The daemon
 * prints "cofferd ready port=N" once it listens; we start it with --listen 127.0.0.1:0 and read the
 * port from that line in its log, so tests never collide on ports. With TLS (daemon_start_opts) the
 * daemon gets --tls-cert/--tls-key and every request verifies its certificate (CA file or pin). */
#include "e2e/harness.h"
#include "check.h"
#include "e2e/pgtest.h"
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *daemon_bin(void)
{
    const char *b = getenv("COFFER_BIN");
    return b && *b ? b : "build/asan/cofferd";
}

static int spawn(struct daemon *d, const char *listen, const char *const *extra_env)
{
    const char *argv[16];
    char catalog[1300] = "", dbpath[700];
    int argc = 0;
    pid_t pid;
    int fd;
    argv[argc++] = daemon_bin();
    argv[argc++] = "--data-dir";
    argv[argc++] = d->data_dir;
    argv[argc++] = "--listen";
    argv[argc++] = listen;
    if (d->tls_cert[0]) {
        argv[argc++] = "--tls-cert";
        argv[argc++] = d->tls_cert;
        argv[argc++] = "--tls-key";
        argv[argc++] = d->tls_key;
    }
    argv[argc] = NULL;
    if (pgtest_catalog_is_pg()) { /* COFFER_TEST_CATALOG=pg: the daemon's catalog on PostgreSQL */
        snprintf(dbpath, sizeof dbpath, "%s/catalog.db", d->data_dir);
        memcpy(catalog, "COFFER_CATALOG=", 15);
        if (pgtest_catalog(dbpath, catalog + 15, sizeof catalog - 15) != 0) {
            fprintf(stderr, "harness: %s\n", catalog + 15);
            return -1;
        }
    }
    fd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("COFFER_ADMIN_KEY", HARNESS_KEY, 1);
        /* tests that send wrong keys on purpose (route rules, hostile input) must not be cut off by
         * the failed-authentication limit; e2e_access sets its own limits through extra_env */
        setenv("COFFER_AUTH_FAILURES", "0", 1);
        /* no configuration file unless a test names one (extra_env): an installed
         * /etc/coffer/cofferd.conf must not change what a test sees */
        setenv("COFFER_CONFIG", "none", 1);
        setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0", 0);
        if (catalog[0]) putenv(catalog);
        for (const char *const *e = extra_env; e && *e; e++) putenv(strdup(*e));
        execv(daemon_bin(), (char *const *)argv);
        perror("exec cofferd");
        _exit(127);
    }
    close(fd);
    d->pid = pid;
    return 0;
}

static void print_log(struct daemon *d)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "tail -n 40 '%s' >&2", d->log_path);
    if (system(cmd) != 0) fprintf(stderr, "(no daemon log)\n");
}

/* wait_ready: polls the log for the ready line written after log offset `from`. */
static int wait_ready(struct daemon *d, long from)
{
    for (int i = 0; i < 600; i++) { /* up to 60 s (ASan start-up, migrations) */
        FILE *f = fopen(d->log_path, "r");
        char line[512];
        int status;
        if (f) {
            fseek(f, from, SEEK_SET);
            while (fgets(line, sizeof line, f)) {
                int port;
                if (sscanf(line, "cofferd ready port=%d", &port) == 1) {
                    fclose(f);
                    d->port = port;
                    snprintf(d->base, sizeof d->base, "%s://127.0.0.1:%d", d->https ? "https" : "http", port);
                    return 0;
                }
            }
            fclose(f);
        }
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            fprintf(stderr, "cofferd exited during start-up\n");
            d->pid = 0;
            print_log(d);
            return -1;
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "cofferd did not become ready\n");
    print_log(d);
    return -1;
}

static long log_size(struct daemon *d)
{
    FILE *f = fopen(d->log_path, "r");
    long n = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fclose(f);
    }
    return n;
}

int daemon_start_opts(struct daemon *d, const struct daemon_opts *o, const char *const *extra_env)
{
    static int curl_ready;
    const struct daemon_opts none = { 0 };
    char listen[96];
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = 1;
    }
    if (!o) o = &none;
    memset(d, 0, sizeof *d);
    snprintf(d->listen_host, sizeof d->listen_host, "%s", o->listen_host ? o->listen_host : "127.0.0.1");
    if (o->tls_cert) {
        snprintf(d->tls_cert, sizeof d->tls_cert, "%s", o->tls_cert);
        snprintf(d->tls_key, sizeof d->tls_key, "%s", o->tls_key ? o->tls_key : "");
        snprintf(d->cacert, sizeof d->cacert, "%s", o->cacert ? o->cacert : o->tls_cert);
    } else if (o->cacert) {
        snprintf(d->cacert, sizeof d->cacert, "%s", o->cacert);
    }
    d->https = o->tls_cert || o->https;
    d->data_dir = check_tmpdir("e2e");
    snprintf(d->log_path, sizeof d->log_path, "%s.log", d->data_dir);
    snprintf(listen, sizeof listen, strchr(d->listen_host, ':') ? "[%s]:0" : "%s:0", d->listen_host);
    if (spawn(d, listen, extra_env) != 0) return -1;
    return wait_ready(d, 0);
}

int daemon_start(struct daemon *d, const char *const *extra_env) { return daemon_start_opts(d, NULL, extra_env); }

int daemon_restart(struct daemon *d, const char *const *extra_env)
{
    char listen[96];
    long from = log_size(d);
    if (!d->listen_host[0]) snprintf(d->listen_host, sizeof d->listen_host, "127.0.0.1");
    snprintf(listen, sizeof listen, strchr(d->listen_host, ':') ? "[%s]:%d" : "%s:%d", d->listen_host, d->port);
    /* The old port may linger briefly; retry a few times. */
    for (int attempt = 0; attempt < 20; attempt++) {
        if (spawn(d, listen, extra_env) != 0) return -1;
        if (wait_ready(d, from) == 0) return 0;
        from = log_size(d);
        usleep(250 * 1000);
    }
    return -1;
}

int daemon_kill(struct daemon *d, int sig)
{
    int status = 0;
    pid_t got;
    if (d->pid <= 0) return -1;
    kill(d->pid, sig);
    do {
        got = waitpid(d->pid, &status, 0);
    } while (got < 0 && errno == EINTR);
    d->pid = 0;
    return got < 0 ? -1 : status;
}

int daemon_kill_how(struct daemon *d, int sig, char *how, size_t how_len)
{
    int status = daemon_kill(d, sig);
    if (status == -1) {
        snprintf(how, how_len, "no process");
        return -1;
    }
    if (WIFSIGNALED(status)) {
        snprintf(how, how_len, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        return WTERMSIG(status);
    }
    snprintf(how, how_len, "exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

int daemon_stop(struct daemon *d)
{
    int status = 0, rc;
    if (d->pid > 0) {
        status = daemon_kill(d, SIGTERM);
    }
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (rc != 0) {
        fprintf(stderr, "cofferd exit status %d\n", rc);
        print_log(d);
    }
    if (d->data_dir) {
        check_rm_rf(d->data_dir);
        unlink(d->log_path);
        free(d->data_dir);
        d->data_dir = NULL;
    }
    return rc;
}

struct sink {
    char *buf;
    size_t len, cap;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t add = size * n;
    if (s->len + add + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        char *nb;
        while (cap < s->len + add + 1) cap *= 2;
        nb = realloc(s->buf, cap);
        if (!nb) return 0;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, add);
    s->len += add;
    s->buf[s->len] = '\0';
    return add;
}

int http_raw(struct daemon *d, const char *method, const char *path, const char *auth,
             const char *const *headers, const char *body, size_t body_len, struct http_resp *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    struct sink s = { 0 };
    char url[4096], line[512];
    CURLcode rc;
    memset(out, 0, sizeof *out);
    if (!c) return -1;
    snprintf(url, sizeof url, "%s%s", d->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (d->cacert[0]) curl_easy_setopt(c, CURLOPT_CAINFO, d->cacert);
    if (d->pin[0]) {
        curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, d->pin);
        if (!d->cacert[0]) { /* the pin alone vouches for a self-signed certificate */
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    if (auth) {
        snprintf(line, sizeof line, "Authorization: %s", auth);
        hl = curl_slist_append(hl, line);
    }
    for (const char *const *h = headers; h && *h; h++) hl = curl_slist_append(hl, *h);
    if (body) {
        hl = curl_slist_append(hl, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        fprintf(stderr, "http %s %s: %s\n", method, path, curl_easy_strerror(rc));
        free(s.buf);
        return -1;
    }
    out->body = s.buf ? s.buf : strdup("");
    out->len = s.len;
    out->json = s.len ? json_loadb(out->body, s.len, 0, NULL) : NULL;
    return 0;
}

int http(struct daemon *d, const char *method, const char *path, const char *tenant, const char *body,
         struct http_resp *out)
{
    char th[300];
    const char *headers[2] = { NULL, NULL };
    if (tenant) {
        snprintf(th, sizeof th, "X-IBM-Tenant-Id: %s", tenant);
        headers[0] = th;
    }
    return http_raw(d, method, path, "Bearer " HARNESS_KEY, headers, body, body ? strlen(body) : 0, out);
}

int http_json(struct daemon *d, const char *method, const char *path, const char *tenant, json_t *body,
              struct http_resp *out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = http(d, method, path, tenant, text, out);
    free(text);
    return rc;
}

void http_resp_release(struct http_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

json_t *jget(json_t *j, const char *path)
{
    char key[256];
    const char *p = path;
    while (j && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key) return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        if (json_is_array(j)) {
            char *end;
            long idx = strtol(key, &end, 10);
            j = *end ? NULL : json_array_get(j, (size_t)idx);
        } else {
            j = json_object_get(j, key);
        }
        p = dot ? dot + 1 : p + n;
    }
    return j;
}

const char *jstr(json_t *j, const char *path) { return json_string_value(jget(j, path)); }
long long jint(json_t *j, const char *path) { return json_integer_value(jget(j, path)); }

const char *jfmt(const char *f, ...)
{
    static char bufs[16][16384];
    static int k;
    char *buf = bufs[k++ & 15];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof bufs[0], f, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\'') *p = '"';
    return buf;
}
