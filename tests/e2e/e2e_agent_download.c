/* e2e_agent_download.c: DownloadAgent (POST /v2/data-protect/agents/download) and the agents' own
 * GET /v2/coffer/agents/package against the real daemon, with the packages `make agent-packages` built
 * from the tree (build/agent, which build/asan/cofferd finds beside itself):
 *   - kDEB: 200 application/octet-stream with a Content-Disposition file name, the bytes equal to the
 *     built package, X-Coffer-Package-SHA256 their digest; dpkg-deb reads it as coffer-agent of this
 *     version holding the binary, its unit and /etc/default/coffer-agent;
 *   - kScript: the same bytes check; run with sh into a temporary prefix it installs a coffer-agent
 *     whose --version is this version, a state directory 0700 with the local admin's password 0600;
 *     a copy with one byte of the binary changed refuses ("damaged") and installs nothing;
 *   - other platforms and package types, a missing linuxParams, bad JSON: 400 naming the field (and
 *     the supported values); no tenant 400;
 *   - the package route: an Agent key gets the same bytes and digest; the admin key (no Agent role)
 *     403; a bad type 400;
 *   - a daemon whose packages are missing (COFFER_AGENT_PACKAGES pointing at an empty directory):
 *     503 whose message says to run make agent-packages. */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/rawhttp.h"
#include <glob.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DL "/v2/data-protect/agents/download"
#define T "dl-tenant"

static struct daemon d;
static char *g_tmp;

/* built: the path of the package built from the tree (ext "deb" or "sh") into out. */
static int built(const char *ext, char *out, size_t n)
{
    glob_t g;
    char pat[128];
    int ok;
    snprintf(pat, sizeof pat, "build/agent/coffer-agent_%s_*.%s", COFFER_VERSION, ext);
    ok = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 1;
    if (ok) snprintf(out, n, "%s", g.gl_pathv[0]);
    globfree(&g);
    return ok;
}

static void sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* fetch: a request with a raw client (binary body and the headers kept). */
static int fetch(const char *method, const char *path, const char *auth, const char *tenant, const char *body,
                 struct raw_resp *r)
{
    char a[256], t[128];
    const char *h[5] = { NULL };
    int n = 0, rc;
    size_t len;
    char *req;
    if (auth) {
        snprintf(a, sizeof a, "Authorization: %s", auth);
        h[n++] = a;
    }
    if (tenant) {
        snprintf(t, sizeof t, "X-IBM-Tenant-Id: %s", tenant);
        h[n++] = t;
    }
    if (body) h[n++] = "Content-Type: application/json";
    req = rawhttp_build(method, path, 0, h, body, body ? strlen(body) : 0, &len);
    rc = rawhttp_send(d.port, req, len, 30000, r);
    free(req);
    return rc;
}

/* header: the value of header name in head (case-insensitive name), copied into out. */
static int header(const char *head, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = head; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            size_t k = 0;
            while (*v == ' ') v++;
            while (v[k] && v[k] != '\r' && v[k] != '\n') k++;
            snprintf(out, n, "%.*s", (int)k, v);
            return 1;
        }
    }
    return 0;
}

static int save(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(p, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    return ok;
}

/* run: a shell command (bounded by timeout) with its output in out; its exit status. */
static int run(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t n, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    FILE *p;
    size_t got = 0;
    int st;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    if (!(p = popen(cmd, "r"))) return -1;
    while (got + 1 < n) {
        size_t k = fread(out + got, 1, n - 1 - got, p);
        if (k == 0) break;
        got += k;
    }
    out[got] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* download: DownloadAgent of packageType type: checks the answer is the package built (ext) and saves
 * it to save_as. */
static int download(const char *type, const char *ext, const char *save_as)
{
    struct raw_resp r;
    char want[512], cd[512], sha[80], hex[65], fname[600];
    void *data = NULL;
    size_t len = 0;
    int ok = 0;
    if (!built(ext, want, sizeof want)) {
        fprintf(stderr, "no built %s package under build/agent (make agent-packages)\n", ext);
        return 0;
    }
    if (fetch("POST", DL, "Bearer " HARNESS_KEY, T,
              jfmt("{'platform':'kLinux','linuxParams':{'packageType':'%s'}}", type), &r) != 0)
        goto out;
    if (r.status != 200) {
        fprintf(stderr, "%s: %d %s\n", type, r.status, r.body ? r.body : "");
        goto out;
    }
    {
        FILE *f = fopen(want, "rb");
        struct stat st;
        if (!f || fstat(fileno(f), &st) != 0) {
            if (f) fclose(f);
            goto out;
        }
        len = (size_t)st.st_size;
        data = malloc(len + 1);
        if (!data || fread(data, 1, len, f) != len) {
            fclose(f);
            goto out;
        }
        fclose(f);
    }
    snprintf(fname, sizeof fname, "attachment; filename=\"%s\"", strrchr(want, '/') + 1);
    sha256_hex(data, len, hex);
    ok = r.body_len == len && memcmp(r.body, data, len) == 0 && header(r.head, "Content-Disposition", cd, sizeof cd) &&
         strcmp(cd, fname) == 0 && header(r.head, "Content-Type", sha, sizeof sha) &&
         strcmp(sha, "application/octet-stream") == 0 && header(r.head, "X-Coffer-Package-SHA256", sha, sizeof sha) &&
         strcmp(sha, hex) == 0 && save(save_as, r.body, r.body_len);
    if (!ok) fprintf(stderr, "%s: %zu bytes (want %zu), head:\n%s\n", type, r.body_len, len, r.head ? r.head : "");
out:
    free(data);
    raw_resp_release(&r);
    return ok;
}

TEST(deb_is_the_package_built_from_the_tree)
{
    char deb[700], out[8192];
    snprintf(deb, sizeof deb, "%s/agent.deb", g_tmp);
    CHECK(download("kDEB", "deb", deb));
    CHECK_EQ_INT(run(out, sizeof out, "dpkg-deb --field '%s' Package Version", deb), 0);
    CHECKF(strstr(out, "Package: coffer-agent") && strstr(out, "Version: " COFFER_VERSION), "%s", out);
    CHECK_EQ_INT(run(out, sizeof out, "dpkg-deb --contents '%s'", deb), 0);
    CHECKF(strstr(out, "./usr/bin/coffer-agent") && strstr(out, "./lib/systemd/system/coffer-agent.service") &&
           strstr(out, "./etc/default/coffer-agent"), "%s", out);
    /* its files, unpacked without installing: the binary runs and says its version */
    CHECK_EQ_INT(run(out, sizeof out, "dpkg-deb -x '%s' '%s/debroot' && '%s/debroot/usr/bin/coffer-agent' --version", deb,
                     g_tmp, g_tmp), 0);
    CHECKF(strcmp(out, "coffer-agent " COFFER_VERSION "\n") == 0, "'%s'", out);
    CHECK_EQ_INT(run(out, sizeof out, "grep -c '^ExecStart=/usr/bin/coffer-agent run' '%s/debroot/lib/systemd/system/"
                     "coffer-agent.service'", g_tmp), 0);
    CHECK_EQ_INT(run(out, sizeof out, "dpkg-deb --ctrl-tarfile '%s' | tar -tf - | grep -c postinst", deb), 0);
}

TEST(script_installs_a_working_agent)
{
    char sh[700], bad[700], out[8192], path[800];
    struct stat st;
    snprintf(sh, sizeof sh, "%s/install.sh", g_tmp);
    CHECK(download("kScript", "sh", sh));
    CHECK_EQ_INT(run(out, sizeof out, "timeout 60 sh '%s' --prefix '%s/p' --state-dir '%s/state' --no-systemd", sh, g_tmp,
                     g_tmp), 0);
    CHECK_EQ_INT(run(out, sizeof out, "'%s/p/bin/coffer-agent' --version", g_tmp), 0);
    CHECKF(strcmp(out, "coffer-agent " COFFER_VERSION "\n") == 0, "'%s'", out);
    snprintf(path, sizeof path, "%s/state", g_tmp);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    snprintf(path, sizeof path, "%s/state/admin-password", g_tmp);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 32);
    /* the binary it carries, byte for byte */
    snprintf(path, sizeof path, "%s/p/bin/coffer-agent", g_tmp);
    CHECK(check_files_equal(path, "build/coffer-agent"));
    /* --server without --token is a usage error that installs nothing */
    CHECK(run(out, sizeof out, "sh '%s' --prefix '%s/q' --server http://127.0.0.1:1 --no-systemd", sh, g_tmp) != 0);
    CHECKF(strstr(out, "--token"), "%s", out);
    /* one byte of the carried binary changed: refused, nothing installed */
    snprintf(bad, sizeof bad, "%s/bad.sh", g_tmp);
    CHECK_EQ_INT(run(out, sizeof out, "cp '%s' '%s' && printf 'X' | dd of='%s' bs=1 seek=$(($(stat -c %%s '%s') - 100)) "
                     "conv=notrunc status=none", sh, bad, bad, bad), 0);
    CHECK(run(out, sizeof out, "sh '%s' --prefix '%s/r' --state-dir '%s/rs' --no-systemd", bad, g_tmp, g_tmp) != 0);
    CHECKF(strstr(out, "damaged"), "%s", out);
    snprintf(path, sizeof path, "%s/r/bin/coffer-agent", g_tmp);
    CHECK(access(path, F_OK) != 0);
}

static int refused(const char *body, long status, const char *want1, const char *want2)
{
    struct http_resp r;
    const char *m;
    int ok;
    if (http(&d, "POST", DL, T, body, &r) != 0) return 0;
    m = jstr(r.json, "message");
    ok = r.status == status && m && strstr(m, want1) && (!want2 || strstr(m, want2));
    if (!ok) fprintf(stderr, "%s: %ld %s\n", body ? body : "(none)", r.status, r.body ? r.body : "");
    http_resp_release(&r);
    return ok;
}

TEST(other_platforms_and_types_are_400)
{
    struct http_resp r;
    CHECK(refused(jfmt("{'platform':'kWindows'}"), 400, "'platform'", "kLinux"));
    CHECK(refused(jfmt("{'platform':'kWindows','linuxParams':{'packageType':'kDEB'}}"), 400, "'platform'", "kLinux"));
    CHECK(refused(jfmt("{'platform':'kAIX'}"), 400, "platform", NULL));
    CHECK(refused(jfmt("{'linuxParams':{'packageType':'kDEB'}}"), 400, "platform", NULL));
    CHECK(refused(jfmt("{'platform':'kLinux'}"), 400, "'linuxParams'", "kScript"));
    CHECK(refused(jfmt("{'platform':'kLinux','linuxParams':{}}"), 400, "linuxParams.packageType", NULL));
    CHECK(refused(jfmt("{'platform':'kLinux','linuxParams':7}"), 400, "linuxParams", NULL));
    for (int i = 0; i < 3; i++) {
        static const char *const t[] = { "kRPM", "kSuseRPM", "kPowerPCRPM" };
        CHECK(refused(jfmt("{'platform':'kLinux','linuxParams':{'packageType':'%s'}}", t[i]), 400,
                      "'linuxParams.packageType'", "kDEB and kScript"));
    }
    CHECK(refused(jfmt("{'platform':'kLinux','linuxParams':{'packageType':'kMSI'}}"), 400, "linuxParams.packageType",
                  NULL));
    CHECK(refused("{'platform':", 400, "", NULL));
    CHECK(refused(NULL, 400, "", NULL));
    CHECK(http(&d, "POST", DL, NULL, jfmt("{'platform':'kLinux','linuxParams':{'packageType':'kDEB'}}"), &r) == 0);
    CHECKF(r.status == 400 && strstr(r.body, "X-IBM-Tenant-Id"), "%ld %s", r.status, r.body);
    http_resp_release(&r);
    CHECK(http(&d, "GET", DL, T, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 405);
    http_resp_release(&r);
}

TEST(agents_fetch_the_same_package)
{
    struct http_resp r;
    struct raw_resp rr;
    char auth[200], want[512], hex[65], sha[80], out[256];
    FILE *f;
    static char buf[4 << 20];
    size_t n;
    CHECK(http(&d, "POST", "/v2/coffer/keys", NULL, jfmt("{'name':'agent','tenantId':'%s','roles':['Agent']}", T),
               &r) == 0);
    CHECKF(r.status == 201 && jstr(r.json, "secret"), "%ld %s", r.status, r.body);
    snprintf(auth, sizeof auth, "Bearer %s", jstr(r.json, "secret"));
    http_resp_release(&r);
    CHECK(built("sh", want, sizeof want));
    CHECK((f = fopen(want, "rb")) != NULL);
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    sha256_hex(buf, n, hex);
    CHECK(fetch("GET", "/v2/coffer/agents/package?type=script", auth, NULL, NULL, &rr) == 0);
    CHECKF(rr.status == 200 && rr.body_len == n && memcmp(rr.body, buf, n) == 0, "%d %zu", rr.status, rr.body_len);
    CHECK(header(rr.head, "X-Coffer-Package-SHA256", sha, sizeof sha) && strcmp(sha, hex) == 0);
    CHECK(header(rr.head, "X-Coffer-Package-Version", out, sizeof out) && strcmp(out, COFFER_VERSION) == 0);
    raw_resp_release(&rr);
    CHECK(fetch("GET", "/v2/coffer/agents/package?type=deb", auth, T, NULL, &rr) == 0);
    CHECK_EQ_INT(rr.status, 200);
    raw_resp_release(&rr);
    CHECK(fetch("GET", "/v2/coffer/agents/package?type=rpm", auth, NULL, NULL, &rr) == 0);
    CHECKF(rr.status == 400 && rr.body && strstr(rr.body, "'type'"), "%d %s", rr.status, rr.body ? rr.body : "");
    raw_resp_release(&rr);
    CHECK(fetch("GET", "/v2/coffer/agents/package?type=deb", auth, "another-tenant", NULL, &rr) == 0);
    CHECK_EQ_INT(rr.status, 403);
    raw_resp_release(&rr);
    /* the admin key lacks the Agent role; no key at all is 401 */
    CHECK(fetch("GET", "/v2/coffer/agents/package?type=deb", "Bearer " HARNESS_KEY, NULL, NULL, &rr) == 0);
    CHECKF(rr.status == 403 && rr.body && strstr(rr.body, "Agent"), "%d %s", rr.status, rr.body ? rr.body : "");
    raw_resp_release(&rr);
    CHECK(fetch("GET", "/v2/coffer/agents/package?type=deb", NULL, NULL, NULL, &rr) == 0);
    CHECK_EQ_INT(rr.status, 401);
    raw_resp_release(&rr);
}

TEST(missing_packages_are_503_saying_how_to_build_them)
{
    struct daemon d2;
    struct http_resp r;
    char env[700], empty[600];
    const char *e[] = { env, NULL };
    snprintf(empty, sizeof empty, "%s/empty", g_tmp);
    CHECK(mkdir(empty, 0700) == 0);
    snprintf(env, sizeof env, "COFFER_AGENT_PACKAGES=%s", empty);
    CHECK(daemon_start(&d2, e) == 0);
    CHECK(http(&d2, "POST", DL, T, jfmt("{'platform':'kLinux','linuxParams':{'packageType':'kScript'}}"), &r) == 0);
    CHECKF(r.status == 503 && strstr(jstr(r.json, "message"), "make agent-packages") &&
           strstr(jstr(r.json, "message"), empty), "%ld %s", r.status, r.body);
    http_resp_release(&r);
    CHECK_EQ_INT(daemon_stop(&d2), 0);
}

int main(void)
{
    int rc;
    g_tmp = check_tmpdir("agent-download");
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(deb_is_the_package_built_from_the_tree);
    RUN(script_installs_a_working_agent);
    RUN(other_platforms_and_types_are_400);
    RUN(agents_fetch_the_same_package);
    RUN(missing_packages_are_503_saying_how_to_build_them);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    rc = check_finish();
    check_rm_rf(g_tmp);
    free(g_tmp);
    return rc;
}
