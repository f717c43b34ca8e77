/* e2e_recover_fixture.h: what the recovery, download and search end-to-end tests share (static
 * helpers, included by e2e_recover.c, e2e_download.c and e2e_search.c): files on disk, HTTP calls,
 * and the way to a snapshot through the API: register this machine (127.0.0.1, served by the local
 * agent), a policy, a kFile group over a directory, a run polled until it Succeeded, its snapshot id. */
#ifndef COFFER_TESTS_E2E_RECOVER_FIXTURE_H
#define COFFER_TESTS_E2E_RECOVER_FIXTURE_H
#include "check.h"
#include "e2e/harness.h"
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* Every helper is static; a test file uses some of them. */
#define FX_UNUSED __attribute__((unused))

#define FX_SRC "/v2/data-protect/sources/registrations"
#define FX_POL "/v2/data-protect/policies"
#define FX_GRP "/v2/data-protect/protection-groups"
#define FX_REC "/v2/data-protect/recoveries"

/* fmt: printf into a rotating static buffer, single quotes turned into double quotes. */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
FX_UNUSED static const char *fmt(const char *f, ...)
{
    static char bufs[6][16384];
    static int k;
    char *buf = bufs[k++ % 6];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof bufs[0], f, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\'') *p = '"';
    return buf;
}

FX_UNUSED static uint64_t fx_rng = 0x2545f4914f6cdd1dull;
FX_UNUSED static int write_random(const char *path, size_t size, mode_t mode)
{
    unsigned char *buf = malloc(size ? size : 1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), ok = buf && fd >= 0;
    for (size_t i = 0; ok && i < size; i++) {
        fx_rng ^= fx_rng << 13;
        fx_rng ^= fx_rng >> 7;
        fx_rng ^= fx_rng << 17;
        buf[i] = (unsigned char)(fx_rng >> 24);
    }
    if (ok) ok = write(fd, buf, size) == (ssize_t)size;
    if (fd >= 0 && close(fd) != 0) ok = 0;
    free(buf);
    return ok && chmod(path, mode) == 0 ? 0 : -1;
}

FX_UNUSED static int write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), ok = fd >= 0;
    if (ok) ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    if (fd >= 0 && close(fd) != 0) ok = 0;
    return ok && chmod(path, mode) == 0 ? 0 : -1;
}

/* set_mtime: the file's (or symlink's) mtime and atime to secs since the epoch. */
FX_UNUSED static int set_mtime(const char *path, long secs)
{
    struct timespec ts[2] = { { secs, 123456789 }, { secs, 123456789 } };
    return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

FX_UNUSED static int read_all(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n;
    *data = NULL;
    *len = 0;
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    *data = malloc((size_t)n + 1);
    if (!*data || fread(*data, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(*data);
        *data = NULL;
        return -1;
    }
    fclose(f);
    *len = (size_t)n;
    return 0;
}

FX_UNUSED static int files_equal(const char *a, const char *b)
{
    char *da, *db;
    size_t la, lb;
    int eq = 0;
    if (read_all(a, &da, &la) == 0 && read_all(b, &db, &lb) == 0) {
        eq = la == lb && memcmp(da, db, la) == 0;
        free(db);
    }
    if (da) free(da);
    return eq;
}

/* same_meta: regular files or symlinks a and b agree on type, permission bits and mtime (ns). */
FX_UNUSED static int same_meta(const char *a, const char *b)
{
    struct stat sa, sb;
    if (lstat(a, &sa) != 0 || lstat(b, &sb) != 0) return 0;
    if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) return 0;
    if (!S_ISLNK(sa.st_mode) && (sa.st_mode & 07777) != (sb.st_mode & 07777)) return 0;
    return sa.st_mtim.tv_sec == sb.st_mtim.tv_sec && sa.st_mtim.tv_nsec == sb.st_mtim.tv_nsec;
}

FX_UNUSED static int dir_is_empty(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' 2>/dev/null)\"", path);
    return system(cmd) == 0;
}

FX_UNUSED static long call(struct daemon *d, const char *method, const char *path, const char *tenant, const char *body,
                 struct http_resp *r)
{
    if (http(d, method, path, tenant, body, r) != 0) return -1;
    return r->status;
}

/* expect: a request answered with status want whose "message" contains part (NULL: any). */
FX_UNUSED static int expect(struct daemon *d, const char *method, const char *path, const char *tenant, const char *body,
                  long want, const char *part)
{
    struct http_resp r;
    long st = call(d, method, path, tenant, body, &r);
    const char *msg = jstr(r.json, "message");
    int ok = st == want && (!part || (msg && strstr(msg, part)));
    if (!ok)
        fprintf(stderr, "%s %s: got %ld %s, want %ld with '%s'\n", method, path, st, r.body ? r.body : "", want,
                part ? part : "");
    http_resp_release(&r);
    return ok;
}

/* post_json: POST body; the answer's JSON in *out (caller decrefs; NULL on another status). */
FX_UNUSED static long post_json(struct daemon *d, const char *path, const char *tenant, const char *body, long want,
                               json_t **out)
{
    struct http_resp r;
    long st = call(d, "POST", path, tenant, body, &r);
    if (out) *out = st == want ? json_incref(r.json) : NULL;
    if (st != want) fprintf(stderr, "POST %s: %ld %s\n", path, st, r.body ? r.body : "");
    http_resp_release(&r);
    return st;
}

FX_UNUSED static long get_json(struct daemon *d, const char *path, const char *tenant, json_t **out)
{
    struct http_resp r;
    long st = call(d, "GET", path, tenant, NULL, &r);
    *out = st == 200 ? json_incref(r.json) : NULL;
    http_resp_release(&r);
    return st;
}

/* fx_setup: registers 127.0.0.1 for tenant and makes an hourly policy; host and policy out. */
FX_UNUSED static int fx_setup(struct daemon *d, const char *tenant, long long *host, char *policy, size_t plen)
{
    json_t *j = NULL;
    if (post_json(d, FX_SRC, tenant, fmt("{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1',"
                                         "'hostType':'kLinux'}}"), 201, &j) != 201)
        return -1;
    *host = jint(j, "sourceInfo.id");
    json_decref(j);
    if (post_json(d, FX_POL, tenant, fmt("{'name':'daily','backupPolicy':{'regular':{'incremental':{'schedule':"
                                         "{'unit':'Days','daySchedule':{'frequency':1}}},'retention':{'unit':'Days',"
                                         "'duration':7}}}}"), 201, &j) != 201)
        return -1;
    snprintf(policy, plen, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    return *host > 0 && policy[0] ? 0 : -1;
}

/* fx_group: a kFile group of host over dir; its id out. */
FX_UNUSED static int fx_group(struct daemon *d, const char *tenant, const char *name, const char *policy, long long host,
                    const char *dir, char *gid, size_t glen)
{
    json_t *j = NULL;
    if (post_json(d, FX_GRP, tenant,
                  fmt("{'name':'%s','policyId':'%s','environment':'kPhysical','physicalParams':{'protectionType':"
                      "'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld,'filePaths':[{'includedPath':'%s'}]}]}}}",
                      name, policy, host, dir), 201, &j) != 201)
        return -1;
    snprintf(gid, glen, "%s", jstr(j, "id") ? jstr(j, "id") : "");
    json_decref(j);
    return gid[0] ? 0 : -1;
}

/* fx_run: runs the group now, waits until the run Succeeded; the snapshot id out. */
FX_UNUSED static int fx_run(struct daemon *d, const char *tenant, const char *gid, char *snap, size_t slen)
{
    json_t *j = NULL;
    char run[64], path[300];
    if (post_json(d, fmt(FX_GRP "/%s/runs", gid), tenant, "{\"runType\":\"kRegular\"}", 202, &j) != 202) return -1;
    snprintf(run, sizeof run, "%s", jstr(j, "runId") ? jstr(j, "runId") : "");
    json_decref(j);
    snprintf(path, sizeof path, FX_GRP "/%s/runs/%s?includeObjectDetails=true", gid, run);
    for (int i = 0; i < 1200; i++) {
        const char *st;
        long code = get_json(d, path, tenant, &j);
        if (code < 0) return -1; /* the daemon is gone */
        if (code == 200 && (st = jstr(j, "localBackupInfo.status")) != NULL &&
            strcmp(st, "Accepted") != 0 && strcmp(st, "Running") != 0) {
            const char *s = jstr(j, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId");
            int ok = strcmp(st, "Succeeded") == 0 && s && strlen(s) == 64;
            if (!ok) fprintf(stderr, "run %s ended %s\n", run, st);
            snprintf(snap, slen, "%s", s ? s : "");
            json_decref(j);
            return ok ? 0 : -1;
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    return -1;
}

FX_UNUSED static int fx_finished(const char *s)
{
    return s && strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0 && strcmp(s, "Canceling") != 0;
}

/* fx_wait_recovery: polls GET /recoveries/{id} until it finished; its JSON (caller decrefs) or NULL. */
FX_UNUSED static json_t *fx_wait_recovery(struct daemon *d, const char *tenant, const char *id, int timeout_s)
{
    for (int i = 0; i < timeout_s * 20; i++) {
        json_t *j = NULL;
        long code = get_json(d, fmt(FX_REC "/%s", id), tenant, &j);
        if (code < 0) break; /* the daemon is gone */
        if (code == 200 && fx_finished(jstr(j, "status"))) return j;
        json_decref(j);
        usleep(50 * 1000);
    }
    fprintf(stderr, "recovery %s did not finish in %d s\n", id, timeout_s);
    return NULL;
}

/* fx_wait_status: polls until the recovery's status is want (1) or timeout (0). */
FX_UNUSED static int fx_wait_status(struct daemon *d, const char *tenant, const char *id, const char *want, int timeout_s)
{
    for (int i = 0; i < timeout_s * 20; i++) {
        json_t *j = NULL;
        int ok = get_json(d, fmt(FX_REC "/%s", id), tenant, &j) == 200 && jstr(j, "status") &&
                 strcmp(jstr(j, "status"), want) == 0;
        json_decref(j);
        if (ok) return 1;
        usleep(50 * 1000);
    }
    return 0;
}

/* has_message: one of the strings of arr contains part. */
FX_UNUSED static int has_message(json_t *arr, const char *part)
{
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
        if (json_string_value(m) && strstr(json_string_value(m), part)) return 1;
    return 0;
}

/* fx_wait_indexed: polls the object's snapshots until snap's indexingStatus is Done (1) or timeout (0). */
FX_UNUSED static int fx_wait_indexed(struct daemon *d, const char *tenant, long long object, const char *snap, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        json_t *j = NULL, *s;
        size_t k;
        int done = 0;
        if (get_json(d, fmt("/v2/data-protect/objects/%lld/snapshots", object), tenant, &j) == 200) {
            json_array_foreach(json_object_get(j, "snapshots"), k, s) {
                if (strcmp(jstr(s, "id") ? jstr(s, "id") : "", snap) == 0 && jstr(s, "indexingStatus") &&
                    strcmp(jstr(s, "indexingStatus"), "Done") == 0)
                    done = 1;
            }
        }
        json_decref(j);
        if (done) return 1;
        usleep(100 * 1000);
    }
    return 0;
}
#endif
