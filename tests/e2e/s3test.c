/* s3test.c: a private versitygw server for tests (see s3test.h). The server runs as a child with
 * its output in <root>/server.log, on a port found free by binding port 0; it is ready once a
 * signed ListBuckets answers. Requests are signed with the product's own SigV4 module
 * (src/repo/s3_sigv4.c), sent with libcurl. */
#include "s3test.h"
#include "check.h"
#include "repo/s3_sigv4.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int s3test_available(struct s3test *t, char *why, size_t n)
{
    const char *env = getenv("COFFER_VERSITYGW"), *home = getenv("HOME");
    char cand[3][512];
    int k = 0;
    memset(t, 0, sizeof *t);
    if (env && *env) snprintf(cand[k++], sizeof cand[0], "%s", env);
    snprintf(cand[k++], sizeof cand[0], "%s/.cache/coffer/versitygw-" S3TEST_VERSION "/versitygw", home ? home : "/root");
    snprintf(cand[k++], sizeof cand[0], "build/versitygw-" S3TEST_VERSION "/versitygw");
    for (int i = 0; i < k; i++)
        if (access(cand[i], X_OK) == 0) {
            snprintf(t->bin, sizeof t->bin, "%s", cand[i]);
            return 0;
        }
    snprintf(why, n, "versitygw %s not found (scripts/setup.sh --test builds it into ~/.cache/coffer)", S3TEST_VERSION);
    return -ENOENT;
}

static int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int spawn(struct s3test *t, char *why, size_t n)
{
    char listen[64], data[600], ver[600];
    long status = 0;
    pid_t pid;
    snprintf(listen, sizeof listen, "127.0.0.1:%d", t->port);
    snprintf(data, sizeof data, "%s/data", t->root);
    snprintf(ver, sizeof ver, "%s/versions", t->root);
    pid = fork();
    if (pid < 0) {
        snprintf(why, n, "fork: %s", strerror(errno));
        return -errno;
    }
    if (pid == 0) {
        int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setenv("ROOT_ACCESS_KEY", S3TEST_ACCESS, 1);
        setenv("ROOT_SECRET_KEY", S3TEST_SECRET, 1);
        if (t->tls_cert[0])
            execl(t->bin, t->bin, "--port", listen, "--region", S3TEST_REGION, "--quiet", "--cert", t->tls_cert, "--key",
                  t->tls_key, "posix", "--versioning-dir", ver, data, (char *)NULL);
        else
            execl(t->bin, t->bin, "--port", listen, "--region", S3TEST_REGION, "--quiet", "posix", "--versioning-dir",
                  ver, data, (char *)NULL);
        _exit(127);
    }
    t->pid = pid;
    for (int i = 0; i < 200; i++) { /* 20 s */
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            t->pid = 0;
            snprintf(why, n, "versitygw exited at start (see %s)", t->log);
            return -EIO;
        }
        if (s3test_request(t, "GET", "/", "", NULL, NULL, 0, &status, NULL) == 0 && status == 200) return 0;
        sleep_ms(100);
    }
    snprintf(why, n, "versitygw did not answer on %s within 20 s (see %s)", listen, t->log);
    s3test_kill(t, SIGKILL);
    return -ETIMEDOUT;
}

int s3test_self_signed(struct s3test *t, const char *dir, char *why, size_t n)
{
    char cmd[2000];
    snprintf(t->tls_cert, sizeof t->tls_cert, "%s/s3-cert.pem", dir);
    snprintf(t->tls_key, sizeof t->tls_key, "%s/s3-key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
             "-keyout '%s' -out '%s' >/dev/null 2>&1", t->tls_key, t->tls_cert);
    if (system(cmd) != 0) {
        snprintf(why, n, "openssl could not make a self-signed certificate");
        t->tls_cert[0] = t->tls_key[0] = '\0';
        return -EIO;
    }
    return 0;
}

int s3test_start(struct s3test *t, const char *tag, char *why, size_t n)
{
    char path[600], *dir = check_tmpdir(tag);
    int rc;
    if (!dir) {
        snprintf(why, n, "cannot make a temporary directory");
        return -EIO;
    }
    snprintf(t->root, sizeof t->root, "%s", dir);
    free(dir);
    snprintf(t->log, sizeof t->log, "%s/server.log", t->root);
    snprintf(path, sizeof path, "%s/data", t->root);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/versions", t->root);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/data/.xattr-probe", t->root);
    if ((rc = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0) close(rc);
    if (setxattr(path, "user.coffer-probe", "1", 1, 0) != 0) {
        snprintf(why, n, "the filesystem of %s takes no user.* extended attributes (versitygw keeps object lock in them)",
                 t->root);
        unlink(path);
        return -ENOTSUP;
    }
    unlink(path);
    if ((t->port = free_port()) <= 0) {
        snprintf(why, n, "no free loopback port");
        return -EIO;
    }
    snprintf(t->endpoint, sizeof t->endpoint, "%s://127.0.0.1:%d", t->tls_cert[0] ? "https" : "http", t->port);
    return spawn(t, why, n);
}

int s3test_restart(struct s3test *t, char *why, size_t n)
{
    if (t->pid) return 0;
    return spawn(t, why, n);
}

void s3test_kill(struct s3test *t, int sig)
{
    int st;
    if (!t->pid) return;
    kill(t->pid, sig);
    for (int i = 0; i < 50; i++) {
        if (waitpid(t->pid, &st, WNOHANG) == t->pid) {
            t->pid = 0;
            return;
        }
        sleep_ms(100);
    }
    kill(t->pid, SIGKILL);
    waitpid(t->pid, &st, 0);
    t->pid = 0;
}

void s3test_destroy(struct s3test *t)
{
    s3test_kill(t, SIGTERM);
    if (t->root[0]) check_rm_rf(t->root);
    t->root[0] = '\0';
}

void s3test_env(const struct s3test *t, const char *endpoint)
{
    setenv("COFFER_S3_ENDPOINT", endpoint ? endpoint : t->endpoint, 1);
    setenv("COFFER_S3_REGION", S3TEST_REGION, 1);
    setenv("COFFER_S3_PATH_STYLE", "1", 1);
    setenv("AWS_ACCESS_KEY_ID", S3TEST_ACCESS, 1);
    setenv("AWS_SECRET_ACCESS_KEY", S3TEST_SECRET, 1);
}

struct body {
    char *p;
    size_t len;
    const char *in;
    size_t inlen, inpos;
};

static size_t on_write(char *p, size_t sz, size_t nm, void *ctx)
{
    struct body *b = ctx;
    size_t len = sz * nm;
    char *np;
    if (b->len + len > (64u << 20) || !(np = realloc(b->p, b->len + len + 1))) return 0;
    b->p = np;
    memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
    return len;
}

static size_t on_read(char *p, size_t sz, size_t nm, void *ctx)
{
    struct body *b = ctx;
    size_t room = sz * nm, left = b->inlen - b->inpos;
    if (room > left) room = left;
    memcpy(p, b->in + b->inpos, room);
    b->inpos += room;
    return room;
}

int s3test_request(const struct s3test *t, const char *method, const char *path, const char *query,
                   const char *const *headers, const void *body, size_t blen, long *status, char **out)
{
    struct s3_creds cr = { S3TEST_ACCESS, S3TEST_SECRET, NULL, S3TEST_REGION };
    struct s3_hdr h[12];
    char host[64], date[S3_AMZ_DATE_LEN + 1], hash[S3_SHA256_HEX_LEN + 1], auth[1024], url[2048], line[2048];
    char names[8][64];
    struct curl_slist *sl = NULL;
    struct body b = { 0 };
    size_t nh = 0;
    CURL *c;
    CURLcode cc;
    *status = 0;
    if (out) *out = NULL;
    snprintf(host, sizeof host, "127.0.0.1:%d", t->port);
    s3_amz_date(time(NULL), date);
    s3_sha256_hex(body ? body : "", body ? blen : 0, hash);
    h[nh++] = (struct s3_hdr){ "host", host };
    h[nh++] = (struct s3_hdr){ "x-amz-content-sha256", hash };
    h[nh++] = (struct s3_hdr){ "x-amz-date", date };
    for (int i = 0; headers && headers[i] && i < 8; i++) { /* "name: value", name lower case */
        const char *colon = strchr(headers[i], ':');
        if (!colon || (size_t)(colon - headers[i]) >= sizeof names[i]) continue;
        memcpy(names[i], headers[i], (size_t)(colon - headers[i]));
        names[i][colon - headers[i]] = '\0';
        h[nh++] = (struct s3_hdr){ names[i], colon + 2 };
    }
    if (s3_sigv4_authorization(&cr, method, path, query, h, nh, hash, date, auth, sizeof auth) < 0) return -EINVAL;
    for (size_t i = 0; i < nh; i++) {
        snprintf(line, sizeof line, "%s: %s", h[i].name, h[i].value);
        sl = curl_slist_append(sl, line);
    }
    snprintf(line, sizeof line, "Authorization: %s", auth);
    sl = curl_slist_append(sl, line);
    sl = curl_slist_append(sl, "Expect:");
    snprintf(url, sizeof url, "%s%s%s%s", t->endpoint, path, query[0] ? "?" : "", query);
    if (!(c = curl_easy_init())) {
        curl_slist_free_all(sl);
        return -ENOMEM;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (t->tls_cert[0]) curl_easy_setopt(c, CURLOPT_CAINFO, t->tls_cert);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "PUT") == 0) {
        b.in = body;
        b.inlen = body ? blen : 0;
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &b);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)b.inlen);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (cc == CURLE_OK && out && strcmp(method, "HEAD") == 0) {
        struct curl_header *hh = NULL;
        if (curl_easy_header(c, "x-amz-version-id", 0, CURLH_HEADER, -1, &hh) == CURLHE_OK && hh)
            b.p = strdup(hh->value);
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(sl);
    if (out) *out = b.p;
    else free(b.p);
    return cc == CURLE_OK ? 0 : -EIO;
}

int s3test_version_id(const struct s3test *t, const char *path, char *vid, size_t n)
{
    long st = 0;
    char *v = NULL;
    int rc = s3test_request(t, "HEAD", path, "", NULL, NULL, 0, &st, &v);
    vid[0] = '\0';
    if (rc == 0 && st != 200) rc = st == 404 ? -ENOENT : -EIO;
    if (rc == 0 && v) snprintf(vid, n, "%s", v);
    free(v);
    return rc;
}

int s3test_count_keys(const struct s3test *t, const char *bucket, const char *prefix)
{
    char path[300], q[600], enc[400], *out = NULL;
    long st = 0;
    int count = 0;
    snprintf(path, sizeof path, "/%s", bucket);
    if (s3_uri_encode(prefix, 0, enc, sizeof enc) < 0) return -EINVAL;
    snprintf(q, sizeof q, "list-type=2&prefix=%s", enc);
    if (s3test_request(t, "GET", path, q, NULL, NULL, 0, &st, &out) < 0 || st != 200) {
        free(out);
        return -EIO;
    }
    for (const char *p = out; p && (p = strstr(p, "<Key>")) != NULL; p += 5) count++;
    free(out);
    return count;
}

int s3test_make_bucket(struct s3test *t, const char *bucket, char *why, size_t n)
{
    const char *hdrs[] = { "x-amz-bucket-object-lock-enabled: true", NULL };
    char path[300], *out = NULL;
    long st = 0;
    snprintf(path, sizeof path, "/%s", bucket);
    if (s3test_request(t, "PUT", path, "", hdrs, NULL, 0, &st, &out) < 0 || st != 200) {
        snprintf(why, n, "cannot create bucket %s: HTTP %ld %.300s", bucket, st, out ? out : "");
        free(out);
        return -EIO;
    }
    free(out);
    return 0;
}

int s3test_serve_or_skip(struct s3test *t, const char *tag, const char *bucket, const char *const *tests,
                         size_t n)
{
    char why[1024] = "";
    int rc = s3test_available(t, why, sizeof why);
    if (rc == 0) rc = s3test_start(t, tag, why, sizeof why);
    if (rc == 0) rc = s3test_make_bucket(t, bucket, why, sizeof why);
    if (rc == 0) return 0;
    if (rc == -ENOENT || rc == -ENOTSUP) {
        for (size_t i = 0; i < n; i++) SKIP(tests[i], "S3 server: %s", why);
    } else {
        check_abandon(why);
    }
    s3test_destroy(t);
    return -1;
}
