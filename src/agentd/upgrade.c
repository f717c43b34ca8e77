/* upgrade.c: the agent's side of an upgrade (agentd.h): agentd_upgrade_apply follows a directive of
 * cofferd's heartbeat answer ({"taskId", "version", "path", "sha256", "size"}, and "deb": the same
 * three for the Debian package; svc/agent_upgrade.c), agentd_upgrade_report hands its outcome to the
 * next heartbeat.
 *
 * How the agent was installed decides what it fetches: state_dir/installed-by holds "deb" (written by
 * the package's postinst) or "script <binary path>" (the kScript installer); absent means the binary
 * that runs (/proc/self/exe) was put there by hand and is replaced like a script install.
 *   1. download server_url + path with the agent's credential (libcurl; the pinned server key when
 *      there is one), at most the announced size, into state_dir/upgrade.download (0600), hashing as
 *      it comes; the status must be 200, the size and SHA-256 the directive's;
 *   2. install: deb: `dpkg -i` of the file (at most 10 minutes); script: the binary the installer
 *      carries (after line payload_line) is checked against the SHA-256 written in the installer, then
 *      written beside the target as a temporary (0755), fsynced and renamed over it (the directory
 *      fsynced): the old binary or the new one, never a torn one;
 *   3. the outcome is written durably to state_dir/upgrade-report.json ({"taskId", "status"
 *      Succeeded|Failed, "version", "error"}), then the agent re-executes the installed binary with the
 *      arguments it was started with (/proc/self/cmdline): the new agent's first heartbeat carries the
 *      report and its new version. A failure at any step leaves the running binary in place and
 *      reports Failed with the reason.
 * agentd_upgrade_report returns the stored outcome once (the file is renamed to
 * upgrade-report.sent), so an outcome is not reported twice. */
#include "agentd/agentd.h"
#include "util/hex.h"
#include "util/fsio.h"
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UPG_MAX_BYTES (512ll * 1024 * 1024)
#define UPG_DPKG_SECS 600
#define UPG_HEADER_MAX 65536 /* the kScript installer's text part is far smaller */

struct dl {
    int fd;
    int64_t got, limit;
    EVP_MD_CTX *md;
    int too_big, write_err;
};

static size_t dl_write(char *p, size_t sz, size_t n, void *ud)
{
    struct dl *d = ud;
    size_t len = sz * n;
    if (d->got + (int64_t)len > d->limit) {
        d->too_big = 1;
        return 0;
    }
    if (fsio_write_full(d->fd, p, len) != 0) {
        d->write_err = errno ? errno : EIO;
        return 0;
    }
    EVP_DigestUpdate(d->md, p, len);
    d->got += (int64_t)len;
    return len;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* download: GET url into file (created 0600, replaced), at most size bytes; 0 when the status is 200
 * and the bytes are size long with SHA-256 want. */
static int download(const struct agentd_state *st, const char *path, int64_t size, const char *want, const char *file,
                    char *err, size_t errlen)
{
    char url[2048], auth[1100], got_hex[65];
    unsigned char md[32];
    unsigned mdlen = 0;
    struct curl_slist *h = NULL;
    struct dl d = { -1, 0, size, NULL, 0, 0 };
    long status = 0;
    CURLcode cc;
    CURL *c;
    int rc = 0;
    pthread_once(&curl_once, curl_init);
    if (snprintf(url, sizeof url, "%s%s", st->server_url, path) >= (int)sizeof url) {
        snprintf(err, errlen, "the package URL is too long");
        return -ENAMETOOLONG;
    }
    unlink(file);
    if ((d.fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot create %.400s: %.400s", file, strerror(-rc));
        return rc;
    }
    if (!(d.md = EVP_MD_CTX_new()) || EVP_DigestInit_ex(d.md, EVP_sha256(), NULL) != 1 || !(c = curl_easy_init())) {
        EVP_MD_CTX_free(d.md);
        close(d.fd);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (st->credential) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %.1000s", st->credential);
        h = curl_slist_append(h, auth);
    }
    if (st->tenant) {
        char th[400];
        snprintf(th, sizeof th, "X-IBM-Tenant-Id: %.300s", st->tenant);
        h = curl_slist_append(h, th);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dl_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 1800L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);   /* a stalled transfer ends */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (st->server_pin) {
        /* the key pinned at registration is the trust: cofferd's certificate may be self-signed */
        curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, st->server_pin);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (fsync(d.fd) != 0 && rc == 0) rc = -errno;
    close(d.fd);
    EVP_DigestFinal_ex(d.md, md, &mdlen);
    EVP_MD_CTX_free(d.md);
    util_hex_encode(md, 32, got_hex);
    if (d.too_big) {
        snprintf(err, errlen, "the package from %.400s is larger than the %lld bytes announced", url, (long long)size);
        rc = -EFBIG;
    } else if (d.write_err) {
        snprintf(err, errlen, "cannot write %.400s: %.400s", file, strerror(d.write_err));
        rc = -d.write_err;
    } else if (cc != CURLE_OK) {
        snprintf(err, errlen, "downloading %.400s failed: %.400s", url, curl_easy_strerror(cc));
        rc = -EIO;
    } else if (status != 200) {
        snprintf(err, errlen, "downloading %.400s: the server answered %ld", url, status);
        rc = status == 401 || status == 403 ? -EACCES : -EIO;
    } else if (d.got != size) {
        snprintf(err, errlen, "the package from %.400s has %lld bytes, not the %lld announced", url, (long long)d.got,
                 (long long)size);
        rc = -EBADMSG;
    } else if (strcmp(got_hex, want) != 0) {
        snprintf(err, errlen, "the package from %.400s has SHA-256 %.400s, not the %.400s announced: refused", url, got_hex, want);
        rc = -EBADMSG;
    } else if (rc != 0) {
        snprintf(err, errlen, "cannot flush %.400s: %.400s", file, strerror(-rc));
    }
    if (rc != 0) unlink(file);
    return rc;
}

/* header_value: in the installer's text, the value of the shell assignment name='v' or name=v. */
static int header_value(const char *text, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t k = 0;
            if (*v == '\'') v++;
            while (v[k] && v[k] != '\'' && v[k] != '\n' && k + 1 < n) k++;
            memcpy(out, v, k);
            out[k] = '\0';
            return 0;
        }
    }
    return -1;
}

/* install_script: the binary carried by the kScript installer at pkg replaces target atomically. */
static int install_script(const char *pkg, const char *target, char *err, size_t errlen)
{
    char sum[80], line[32], tmp[PATH_MAX + 32], hex[65];
    unsigned char md[32];
    unsigned mdlen = 0;
    void *data = NULL;
    size_t len = 0, off = 0, head_len;
    long payload_line, lines = 1;
    char *text;
    int rc = fsio_read_all(pkg, (size_t)UPG_MAX_BYTES, &data, &len), fd;
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the downloaded package: %.400s", strerror(-rc));
        return rc;
    }
    head_len = len < UPG_HEADER_MAX ? len : UPG_HEADER_MAX;
    if (!(text = strndup(data, head_len))) {
        free(data);
        return -ENOMEM;
    }
    if (header_value(text, "sha256", sum, sizeof sum) != 0 || strlen(sum) != 64 ||
        header_value(text, "payload_line", line, sizeof line) != 0 || (payload_line = strtol(line, NULL, 10)) < 2) {
        free(text);
        free(data);
        snprintf(err, errlen, "the downloaded package is not a coffer-agent kScript installer");
        return -EBADMSG;
    }
    free(text);
    for (off = 0; off < len && lines < payload_line; off++)
        if (((char *)data)[off] == '\n') lines++;
    if (lines != payload_line || off >= len) {
        free(data);
        snprintf(err, errlen, "the kScript installer carries no binary after line %ld", payload_line);
        return -EBADMSG;
    }
    EVP_Digest((char *)data + off, len - off, md, &mdlen, EVP_sha256(), NULL);
    util_hex_encode(md, 32, hex);
    if (strcmp(hex, sum) != 0) {
        free(data);
        snprintf(err, errlen, "the binary inside the installer has SHA-256 %.400s, not %.400s: damaged, refused", hex, sum);
        return -EBADMSG;
    }
    snprintf(tmp, sizeof tmp, "%s.upgrade-tmp", target);
    unlink(tmp);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755)) < 0) {
        rc = -errno;
    } else {
        rc = fsio_write_full(fd, (char *)data + off, len - off);
        if (rc == 0 && fchmod(fd, 0755) != 0) rc = -errno;
        if (rc == 0 && fsync(fd) != 0) rc = -errno;
        if (close(fd) != 0 && rc == 0) rc = -errno;
        if (rc == 0 && rename(tmp, target) != 0) rc = -errno;
        if (rc == 0) rc = fsio_fsync_parent(target);
        if (rc != 0) unlink(tmp);
    }
    free(data);
    if (rc != 0) snprintf(err, errlen, "cannot replace %.400s: %.400s", target, strerror(-rc));
    return rc;
}

/* install_deb: dpkg -i pkg, bounded in time. */
static int install_deb(const char *pkg, char *err, size_t errlen)
{
    const char *dpkg = getenv("COFFER_AGENT_DPKG"); /* another dpkg front end (tests: a recording one) */
    pid_t pid = fork();
    int status = 0;
    if (pid < 0) {
        snprintf(err, errlen, "cannot start dpkg: %.400s", strerror(errno));
        return -errno;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        execlp(dpkg && *dpkg ? dpkg : "dpkg", "dpkg", "-i", pkg, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < UPG_DPKG_SECS * 10; i++) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        if (w == pid) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
            snprintf(err, errlen, "dpkg -i %.400s failed (%.400s %d)", pkg, WIFEXITED(status) ? "exit status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            return -EIO;
        }
        if (w < 0 && errno != EINTR) break;
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    snprintf(err, errlen, "dpkg -i %.400s did not finish within %d seconds", pkg, UPG_DPKG_SECS);
    return -ETIMEDOUT;
}

static int write_report(const struct agentd_state *st, int64_t task, const char *status, const char *version,
                        const char *error)
{
    char path[PATH_MAX];
    json_t *j = json_pack("{s:I,s:s,s:s}", "taskId", (json_int_t)task, "status", status, "version", version);
    char *text;
    int rc;
    if (!j) return -ENOMEM;
    if (error) json_object_set_new(j, "error", json_string(error));
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text) return -ENOMEM;
    snprintf(path, sizeof path, "%s/upgrade-report.json", st->state_dir);
    rc = fsio_write_atomic(path, text, strlen(text), 0600);
    free(text);
    return rc;
}

/* reexec: the installed agent in place of this process, with the arguments it was started with. */
static int reexec(const char *binary, char *err, size_t errlen)
{
    void *cmd = NULL;
    size_t len = 0, argc = 0;
    char **argv;
    int rc = fsio_read_all("/proc/self/cmdline", 1 << 20, &cmd, &len);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the agent's arguments: %.400s", strerror(-rc));
        return rc;
    }
    for (size_t i = 0; i < len; i++) argc += ((char *)cmd)[i] == '\0';
    if (!(argv = calloc(argc + 1, sizeof *argv))) {
        free(cmd);
        return -ENOMEM;
    }
    for (size_t i = 0, k = 0; i < len && k < argc; k++) {
        argv[k] = (char *)cmd + i;
        i += strlen(argv[k]) + 1;
    }
    fflush(NULL);
    execv(binary, argv);
    rc = -errno;
    snprintf(err, errlen, "the new agent is installed but could not be started (%.400s): restart the service",
             strerror(-rc));
    free(argv);
    free(cmd);
    return rc;
}

int agentd_upgrade_apply(const struct agentd_state *st, const json_t *directive, char *err, size_t errlen)
{
    const json_t *src = directive, *deb = json_object_get(directive, "deb");
    char how[PATH_MAX + 16] = "", target[PATH_MAX], pkg[PATH_MAX], msg[1024] = "";
    const char *path, *sum, *version = json_string_value(json_object_get(directive, "version"));
    json_t *jt = json_object_get(directive, "taskId");
    int64_t size, task = json_is_integer(jt) ? json_integer_value(jt) : 0;
    int use_deb = 0, rc;
    ssize_t n;
    if (!st || !st->state_dir || !st->server_url || !json_is_object(directive) || task <= 0 || !version) {
        snprintf(err, errlen, "not an upgrade directive (taskId, version, path, sha256, size)");
        return -EINVAL;
    }
    snprintf(pkg, sizeof pkg, "%s/installed-by", st->state_dir);
    {
        void *data = NULL;
        size_t len = 0;
        if (fsio_read_all(pkg, sizeof how - 1, &data, &len) == 0) {
            snprintf(how, sizeof how, "%s", (char *)data);
            how[strcspn(how, "\n")] = '\0';
            free(data);
        }
    }
    if (strcmp(how, "deb") == 0) {
        use_deb = 1;
        src = deb;
    } else if (strncmp(how, "script ", 7) == 0) {
        snprintf(target, sizeof target, "%.4000s", how + 7);
    } else if ((n = readlink("/proc/self/exe", target, sizeof target - 1)) > 0) {
        target[n] = '\0';
    } else {
        snprintf(msg, sizeof msg, "cannot tell where the agent's binary is");
        rc = -ENOENT;
        goto fail;
    }
    path = json_string_value(json_object_get(src, "path"));
    sum = json_string_value(json_object_get(src, "sha256"));
    size = json_integer_value(json_object_get(src, "size"));
    if (!path || path[0] != '/' || !sum || strlen(sum) != 64 || size <= 0 || size > UPG_MAX_BYTES) {
        snprintf(msg, sizeof msg, "the directive names no %.400s package (path, sha256, size)", use_deb ? "deb" : "script");
        rc = -EINVAL;
        goto fail;
    }
    snprintf(pkg, sizeof pkg, "%s/upgrade.download", st->state_dir);
    agentd_log(AGENTD_INFO, "upgrading to coffer-agent %s (task %lld) from %s", version, (long long)task, path);
    if ((rc = download(st, path, size, sum, pkg, msg, sizeof msg)) != 0) goto fail;
    rc = use_deb ? install_deb(pkg, msg, sizeof msg) : install_script(pkg, target, msg, sizeof msg);
    unlink(pkg);
    if (rc != 0) goto fail;
    if ((rc = write_report(st, task, "Succeeded", version, NULL)) != 0) {
        snprintf(msg, sizeof msg, "cannot record the upgrade's outcome: %.400s", strerror(-rc));
        goto fail;
    }
    agentd_log(AGENTD_INFO, "coffer-agent %s installed (task %lld); restarting", version, (long long)task);
    rc = reexec(use_deb ? "/usr/bin/coffer-agent" : target, msg, sizeof msg);
    /* only when the exec failed */
    write_report(st, task, "Failed", version, msg);
    snprintf(err, errlen, "%.400s", msg);
    return rc;
fail:
    agentd_log(AGENTD_ERROR, "upgrade to %s failed: %s", version, msg);
    write_report(st, task, "Failed", version, msg);
    snprintf(err, errlen, "%.400s", msg);
    return rc;
}

json_t *agentd_upgrade_report(const struct agentd_state *st)
{
    char path[PATH_MAX], sent[PATH_MAX];
    json_error_t je;
    json_t *j;
    if (!st || !st->state_dir) return NULL;
    snprintf(path, sizeof path, "%s/upgrade-report.json", st->state_dir);
    snprintf(sent, sizeof sent, "%s/upgrade-report.sent", st->state_dir);
    if (!(j = json_load_file(path, 0, &je))) return NULL;
    if (!json_is_object(j) || rename(path, sent) != 0) {
        json_decref(j);
        return NULL;
    }
    fsio_fsync_parent(path);
    return j;
}
