/* e2e_tls.c: HTTPS and the secret-file checks against the real daemon. Certificates are made by the
 * openssl command-line tool (or by cofferd itself, for the self-signed one), and every fingerprint and
 * pin cofferd prints is checked against what openssl computes from the same file, and against what the
 * listening socket actually presents (openssl s_client).
 *
 *   https_serves_the_certificate     HTTPS on loopback with --tls-cert/--tls-key: a verified request is
 *                                    answered, the printed fingerprint and pin are the certificate's,
 *                                    a plain HTTP request to the same port gets no HTTP answer
 *   cli_cacert                       coffer over https with --cacert (and COFFER_CACERT) works; without
 *                                    it exit 1 with a message naming --cacert and --pin; --cacert with an
 *                                    http:// URL is a usage error
 *   cli_pin                          --pin with the printed pin works; another key's pin fails naming the
 *                                    pin; a malformed pin is a usage error
 *   protocol_versions_and_ciphers    a TLS 1.1 ClientHello is refused; TLS 1.2 (AEAD) and 1.3 are served;
 *                                    a TLS 1.2 CBC cipher suite is refused
 *   sighup_reloads_the_certificate   SIGHUP with a new pair serves it (fingerprint from s_client), a
 *                                    broken certificate, a key of another certificate and a 0644 key
 *                                    each keep the current one (logged), the daemon answering throughout
 *   self_signed_beyond_loopback      --listen 0.0.0.0 without a certificate: DIR/tls/key.pem (0600) and
 *                                    cert.pem made, the pin printed is the certificate's, the SAN names
 *                                    the host name, requests with the pin and with the cert as CA file
 *                                    work, a restart reuses the same certificate, plain HTTP gets nothing
 *   plain_http_beyond_loopback_refused  --no-tls on 0.0.0.0: exit 2 naming --allow-plain-http; a cert
 *                                    without a key: exit 2
 *   secret_files_must_be_private     a 0644 repo.key, a 0640 admin.key and a 0644 TLS key each stop the
 *                                    start (exit 1) naming the file, its mode and "chmod 600 <path>";
 *                                    after the chmod the same daemon starts */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/clirun.h"
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *tmp;
static char a_crt[512], a_key[512], b_crt[512], b_key[512];
static char a_fp[128], a_pin[64], b_fp[128], b_pin[64];

static const char *daemon_path(void)
{
    const char *b = getenv("COFFER_BIN");
    return b && *b ? b : "build/asan/cofferd";
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)(n < 0 ? 0 : n) + 1);
    if (buf) buf[n > 0 && fread(buf, 1, (size_t)n, f) == (size_t)n ? n : 0] = '\0';
    fclose(f);
    return buf;
}

/* sh: runs a shell command (bounded by `timeout`), returns its exit status and its stdout+stderr in
 * out (owned by this file: valid until the next sh). */
static char *sh_out;
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096], full[4800], outp[600];
    va_list ap;
    int st;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(outp, sizeof outp, "%s/sh.out", tmp);
    snprintf(full, sizeof full, "timeout 60 sh -c '%s' >'%s' 2>&1", cmd, outp);
    st = system(full);
    free(sh_out);
    sh_out = slurp(outp);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* make_cert: a P-256 certificate for 127.0.0.1/localhost, its key 0600. */
static int make_cert(const char *crt, const char *key, const char *cn)
{
    int rc = sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s "
                "-days 2 -subj /CN=%s -addext subjectAltName=IP:127.0.0.1,DNS:localhost && chmod 600 %s",
                key, crt, cn, key);
    if (rc != 0) fprintf(stderr, "openssl req: %s\n", sh_out);
    return rc;
}

/* cert_fp / cert_pin: what openssl computes from a certificate file (the reference cofferd must
 * match): "AB:CD:..." and "sha256//<base64 of SHA-256 of the DER public key>". */
static int cert_fp(const char *crt, char *fp, size_t n)
{
    const char *eq;
    if (sh("openssl x509 -in %s -noout -fingerprint -sha256", crt) != 0 || !(eq = strchr(sh_out, '='))) return -1;
    snprintf(fp, n, "%.*s", (int)strcspn(eq + 1, "\r\n"), eq + 1);
    return 0;
}

static int cert_pin(const char *crt, char *pin, size_t n)
{
    if (sh("openssl x509 -in %s -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary "
           "| openssl base64 -A", crt) != 0)
        return -1;
    snprintf(pin, n, "sha256//%.*s", (int)strcspn(sh_out, "\r\n"), sh_out);
    return 0;
}

/* served_fp: the fingerprint of the certificate the daemon presents on its port now. */
static int served_fp(int port, char *fp, size_t n)
{
    const char *eq;
    if (sh("openssl s_client -connect 127.0.0.1:%d </dev/null 2>/dev/null | openssl x509 -noout -fingerprint "
           "-sha256", port) != 0 || !(eq = strchr(sh_out, '=')))
        return -1;
    snprintf(fp, n, "%.*s", (int)strcspn(eq + 1, "\r\n"), eq + 1);
    return 0;
}

/* log_after: the daemon's log from byte offset `from` (owned; the caller frees). */
static char *log_from(struct daemon *d, long from)
{
    char *all = slurp(d->log_path), *out;
    size_t len = all ? strlen(all) : 0;
    out = strdup(all && (size_t)from <= len ? all + from : "");
    free(all);
    return out;
}

static long log_len(struct daemon *d)
{
    struct stat st;
    return stat(d->log_path, &st) == 0 ? (long)st.st_size : 0;
}

/* wait_log: waits (up to 20 s) for text in the daemon's log after offset from. */
static int wait_log(struct daemon *d, long from, const char *text)
{
    for (int i = 0; i < 200; i++) {
        char *l = log_from(d, from);
        int found = l && strstr(l, text) != NULL;
        free(l);
        if (found) return 0;
        usleep(100 * 1000);
    }
    return -1;
}

/* printed_identity: the "cofferd tls fingerprint=... pin=..." line of the log after from. */
static int printed_identity(struct daemon *d, long from, char *fp, size_t fpn, char *pin, size_t pinn)
{
    char *l = log_from(d, from), *p, *q;
    int rc = -1;
    if (l && (p = strstr(l, "cofferd tls fingerprint=")) && (q = strstr(p, " pin="))) {
        p += strlen("cofferd tls fingerprint=");
        snprintf(fp, fpn, "%.*s", (int)(q - p), p);
        q += strlen(" pin=");
        snprintf(pin, pinn, "%.*s", (int)strcspn(q, " \n"), q);
        rc = 0;
    }
    free(l);
    return rc;
}

static struct cli_run last; /* released by the next run */

/* run_prog: runs argv (NULL-terminated) with env additions (NULL-terminated "NAME=value" list, may be
 * NULL), the harness's admin key for a daemon, and COFFER_URL, COFFER_CACERT, COFFER_PIN and the
 * daemon's TLS variables unset unless given; at most CLIRUN_TIMEOUT_S. */
static struct cli_run *run_prog(const char *const *argv, const char *const *env)
{
    const char *all[16];
    int n = 0;
    struct cli_env e = { .tmp = tmp, .env = all };
    all[n++] = "COFFER_TLS_CERT";
    all[n++] = "COFFER_TLS_KEY";
    all[n++] = "COFFER_ADMIN_KEY=" HARNESS_KEY;
    for (const char *const *v = env; v && *v && n < 15; v++) all[n++] = *v;
    all[n] = NULL;
    return clirun_argv(&last, &e, argv);
}

/* cli: coffer with the words given (NULL-terminated), the harness key and env additions. */
static struct cli_run *cli(const char *const *env, ...)
{
    const char *argv[32];
    int n = 0;
    va_list ap;
    argv[n++] = clirun_bin();
    argv[n++] = "--key";
    argv[n++] = HARNESS_KEY;
    va_start(ap, env);
    for (const char *w; n < 31 && (w = va_arg(ap, const char *)) != NULL;) argv[n++] = w;
    va_end(ap);
    argv[n] = NULL;
    return run_prog(argv, env);
}

/* get_ok: a GET through the harness (which verifies with d->cacert / d->pin) answered 200. */
static int get_ok(struct daemon *d)
{
    struct http_resp r;
    int ok = http(d, "GET", "/v2/data-protect/policies", "default", NULL, &r) == 0 && r.status == 200;
    http_resp_release(&r);
    return ok;
}

/* plain_gets_nothing: a plain HTTP request to the daemon's port gets no HTTP answer. */
static int plain_gets_nothing(struct daemon *d)
{
    CURL *c = curl_easy_init();
    char url[128];
    CURLcode rc;
    long status = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/data-protect/policies", d->port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, stderr);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return rc != CURLE_OK && status == 0;
}

static struct daemon d; /* with certificate A, for the tests that do not restart or reload it */
/* The daemons a test starts for itself live here, so one a failed CHECK leaves running is stopped by main. */
static struct daemon rl, ss, sec;
static char url[128];

TEST(https_serves_the_certificate)
{
    char fp[128], pin[64];
    CHECK(strncmp(d.base, "https://", 8) == 0);
    CHECK(get_ok(&d));
    CHECK(printed_identity(&d, 0, fp, sizeof fp, pin, sizeof pin) == 0);
    CHECKF(strcmp(fp, a_fp) == 0, "printed %s, openssl says %s", fp, a_fp);
    CHECKF(strcmp(pin, a_pin) == 0, "printed %s, openssl says %s", pin, a_pin);
    CHECK(served_fp(d.port, fp, sizeof fp) == 0);
    CHECKF(strcmp(fp, a_fp) == 0, "served %s, expected %s", fp, a_fp);
    CHECK(plain_gets_nothing(&d));
    {   /* the harness verifies: with another CA file the same request fails */
        struct daemon other = d;
        struct http_resp r;
        snprintf(other.cacert, sizeof other.cacert, "%s", b_crt);
        CHECK(http(&other, "GET", "/v2/data-protect/policies", "default", NULL, &r) != 0);
    }
}

TEST(cli_cacert)
{
    char env_ca[600];
    const char *env[2] = { env_ca, NULL };
    struct cli_run *r;
    r = cli(NULL, "--url", url, "--cacert", a_crt, "policy", "list", (const char *)NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    snprintf(env_ca, sizeof env_ca, "COFFER_CACERT=%s", a_crt);
    r = cli(env, "--url", url, "policy", "list", (const char *)NULL);
    CHECKF(r->status == 0, "COFFER_CACERT: exit %d: %s", r->status, r->err);
    r = cli(NULL, "--url", url, "policy", "list", (const char *)NULL);
    CHECKF(r->status == 1, "exit %d: %s", r->status, r->err);
    CHECKF(strstr(r->err, "cannot verify the certificate") && strstr(r->err, "--cacert") && strstr(r->err, "--pin"),
           "stderr: %s", r->err);
    r = cli(NULL, "--url", url, "--cacert", b_crt, "policy", "list", (const char *)NULL); /* the wrong CA */
    CHECKF(r->status == 1 && strstr(r->err, "--cacert"), "exit %d: %s", r->status, r->err);
    r = cli(NULL, "--url", "http://127.0.0.1:1/v2", "--cacert", a_crt, "policy", "list", (const char *)NULL);
    CHECKF(r->status == 2 && strstr(r->err, "https://"), "exit %d: %s", r->status, r->err);
}

TEST(cli_pin)
{
    char env_pin[128];
    const char *env[2] = { env_pin, NULL };
    struct cli_run *r;
    r = cli(NULL, "--url", url, "--pin", a_pin, "policy", "list", (const char *)NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    snprintf(env_pin, sizeof env_pin, "COFFER_PIN=%s", a_pin);
    r = cli(env, "--url", url, "policy", "list", (const char *)NULL);
    CHECKF(r->status == 0, "COFFER_PIN: exit %d: %s", r->status, r->err);
    r = cli(NULL, "--url", url, "--pin", b_pin, "policy", "list", (const char *)NULL);
    CHECKF(r->status == 1 && strstr(r->err, "does not match --pin"), "exit %d: %s", r->status, r->err);
    r = cli(NULL, "--url", url, "--cacert", a_crt, "--pin", b_pin, "policy", "list", (const char *)NULL);
    CHECKF(r->status == 1 && strstr(r->err, "does not match --pin"), "CA and wrong pin: exit %d: %s", r->status,
           r->err);
    r = cli(NULL, "--url", url, "--pin", "sha256//short", "policy", "list", (const char *)NULL);
    CHECKF(r->status == 2 && strstr(r->err, "sha256//"), "exit %d: %s", r->status, r->err);
}

TEST(protocol_versions_and_ciphers)
{
    /* The client is made willing to speak TLS 1.1 (no system policy, security level 0), and -msg
     * shows that it offered exactly that: the refusal is the server's. */
    sh("OPENSSL_CONF=/dev/null openssl s_client -connect 127.0.0.1:%d -tls1_1 -cipher DEFAULT@SECLEVEL=0 -msg "
       "</dev/null", d.port);
    CHECKF(strstr(sh_out, "TLS 1.1, Handshake") && strstr(sh_out, "ClientHello"), "s_client: %.2000s", sh_out);
    CHECKF(!strstr(sh_out, "New, TLSv1.1") && !strstr(sh_out, "ServerHello"), "TLS 1.1 served: %.2000s", sh_out);
    sh("openssl s_client -connect 127.0.0.1:%d -tls1_2 </dev/null", d.port);
    CHECKF(strstr(sh_out, "New, TLSv1.2, Cipher is ECDHE-ECDSA-") && strstr(sh_out, "GCM"), "TLS 1.2: %.2000s",
           sh_out);
    sh("openssl s_client -connect 127.0.0.1:%d -tls1_3 </dev/null", d.port);
    CHECKF(strstr(sh_out, "New, TLSv1.3, Cipher is TLS_"), "TLS 1.3: %.2000s", sh_out);
    /* a TLS 1.2 CBC suite (no AEAD) is refused */
    sh("OPENSSL_CONF=/dev/null openssl s_client -connect 127.0.0.1:%d -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256 "
       "</dev/null", d.port);
    CHECKF(!strstr(sh_out, "New, TLSv1.2"), "CBC suite served: %.2000s", sh_out);
}

TEST(sighup_reloads_the_certificate)
{
    char live_crt[600], live_key[600], fp[128];
    struct daemon_opts o = { 0 };
    long from;
    snprintf(live_crt, sizeof live_crt, "%s/live.crt", tmp);
    snprintf(live_key, sizeof live_key, "%s/live.key", tmp);
    CHECK(sh("cp %s %s && cp %s %s && chmod 600 %s", a_crt, live_crt, a_key, live_key, live_key) == 0);
    /* the harness verifies with the CA file a_crt first, then b_crt */
    o.tls_cert = live_crt;
    o.tls_key = live_key;
    o.cacert = a_crt;
    CHECK(daemon_start_opts(&rl, &o, NULL) == 0);
    CHECK(served_fp(rl.port, fp, sizeof fp) == 0 && strcmp(fp, a_fp) == 0);

    /* a new pair: written beside and renamed in, then SIGHUP */
    CHECK(sh("cp %s %s.new && cp %s %s.new && chmod 600 %s.new && mv %s.new %s && mv %s.new %s", b_crt, live_crt,
             b_key, live_key, live_key, live_key, live_key, live_crt, live_crt) == 0);
    from = log_len(&rl);
    kill(rl.pid, SIGHUP);
    CHECK(wait_log(&rl, from, "TLS certificate reloaded") == 0);
    CHECK(served_fp(rl.port, fp, sizeof fp) == 0);
    CHECKF(strcmp(fp, b_fp) == 0, "after reload served %s, expected %s", fp, b_fp);
    snprintf(rl.cacert, sizeof rl.cacert, "%s", b_crt);
    CHECK(get_ok(&rl));

    /* a broken certificate file keeps B */
    CHECK(sh("echo not-a-certificate > %s", live_crt) == 0);
    from = log_len(&rl);
    kill(rl.pid, SIGHUP);
    CHECK(wait_log(&rl, from, "TLS certificate not reloaded") == 0);
    CHECK(served_fp(rl.port, fp, sizeof fp) == 0 && strcmp(fp, b_fp) == 0);
    CHECK(get_ok(&rl));

    /* certificate A with B's key: not a pair, keeps B */
    CHECK(sh("cp %s %s", a_crt, live_crt) == 0);
    from = log_len(&rl);
    kill(rl.pid, SIGHUP);
    CHECK(wait_log(&rl, from, "does not belong") == 0);
    CHECK(served_fp(rl.port, fp, sizeof fp) == 0 && strcmp(fp, b_fp) == 0);

    /* A's pair with the key readable by others: refused, keeps B */
    CHECK(sh("cp %s %s && chmod 644 %s", a_key, live_key, live_key) == 0);
    from = log_len(&rl);
    kill(rl.pid, SIGHUP);
    CHECK(wait_log(&rl, from, "chmod 600") == 0);
    CHECK(served_fp(rl.port, fp, sizeof fp) == 0 && strcmp(fp, b_fp) == 0);
    CHECK(get_ok(&rl));

    /* fixed: A is served again */
    CHECK(chmod(live_key, 0600) == 0);
    from = log_len(&rl);
    kill(rl.pid, SIGHUP);
    CHECK(wait_log(&rl, from, "TLS certificate reloaded") == 0);
    CHECK(served_fp(rl.port, fp, sizeof fp) == 0 && strcmp(fp, a_fp) == 0);
    CHECK_EQ_INT(daemon_stop(&rl), 0);
}

TEST(self_signed_beyond_loopback)
{
    struct daemon_opts o = { .listen_host = "0.0.0.0", .https = 1 };
    char fp[128], pin[64], fp2[128], pin2[64], crt[500], key[500], host[256] = "", ref[64];
    struct stat st;
    struct cli_run *r;
    long from;
    CHECK(daemon_start_opts(&ss, &o, NULL) == 0);
    CHECK(printed_identity(&ss, 0, fp, sizeof fp, pin, sizeof pin) == 0);
    snprintf(crt, sizeof crt, "%s/tls/cert.pem", ss.data_dir);
    snprintf(key, sizeof key, "%s/tls/key.pem", ss.data_dir);
    CHECK(stat(key, &st) == 0);
    CHECKF((st.st_mode & 0777) == 0600, "key mode %o", (unsigned)(st.st_mode & 0777));
    CHECK(cert_pin(crt, ref, sizeof ref) == 0);
    CHECKF(strcmp(ref, pin) == 0, "printed %s, openssl says %s", pin, ref);
    CHECK(served_fp(ss.port, fp2, sizeof fp2) == 0 && strcmp(fp2, fp) == 0);
    CHECK(gethostname(host, sizeof host - 1) == 0);
    CHECK(sh("openssl x509 -in %s -noout -ext subjectAltName", crt) == 0);
    CHECKF(strstr(sh_out, host) && strstr(sh_out, "IP Address:127.0.0.1"), "SAN: %s (host %s)", sh_out, host);
    /* without the pin (or a CA file) the harness's request fails; with the pin it is answered */
    CHECK(!get_ok(&ss));
    snprintf(ss.pin, sizeof ss.pin, "%s", pin);
    CHECK(get_ok(&ss));
    ss.pin[0] = '\0';
    snprintf(ss.cacert, sizeof ss.cacert, "%s", crt);
    CHECK(get_ok(&ss));
    {
        char u[128];
        snprintf(u, sizeof u, "https://127.0.0.1:%d/v2", ss.port);
        r = cli(NULL, "--url", u, "--pin", pin, "policy", "list", (const char *)NULL);
        CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    }
    CHECK(plain_gets_nothing(&ss));
    /* a restart reuses the certificate: the same pin */
    CHECK(daemon_kill(&ss, SIGTERM) == 0);
    from = log_len(&ss);
    CHECK(daemon_restart(&ss, NULL) == 0);
    CHECK(printed_identity(&ss, from, fp2, sizeof fp2, pin2, sizeof pin2) == 0);
    CHECKF(strcmp(pin2, pin) == 0 && strcmp(fp2, fp) == 0, "after restart %s %s, before %s %s", fp2, pin2, fp, pin);
    {
        char *l = log_from(&ss, from);
        int again = strstr(l, "created a self-signed") != NULL;
        free(l);
        CHECK(!again);
    }
    CHECK(get_ok(&ss));
    CHECK_EQ_INT(daemon_stop(&ss), 0);
}

TEST(plain_http_beyond_loopback_refused)
{
    char *dir = check_tmpdir("e2e-tls-plain");
    const char *argv1[] = { daemon_path(), "--data-dir", dir, "--listen", "0.0.0.0:0", "--no-tls", NULL };
    const char *argv2[] = { daemon_path(), "--data-dir", dir, "--listen", "127.0.0.1:0", "--tls-cert", a_crt, NULL };
    const char *env[] = { "COFFER_LISTEN=0.0.0.0:0", "COFFER_NO_TLS=1", NULL };
    const char *argv3[] = { daemon_path(), "--data-dir", dir, NULL };
    struct cli_run *r = run_prog(argv1, NULL);
    int ok1 = r->status == 2 && strstr(r->err, "--allow-plain-http") != NULL;
    char why[2048];
    snprintf(why, sizeof why, "exit %d: %s", r->status, r->err);
    r = run_prog(argv3, env); /* the same through the environment */
    int ok3 = r->status == 2 && strstr(r->err, "--allow-plain-http") != NULL;
    if (!ok3) snprintf(why, sizeof why, "env: exit %d: %s", r->status, r->err);
    r = run_prog(argv2, NULL);
    int ok2 = r->status == 2 && strstr(r->err, "--tls-key") != NULL;
    if (!ok2) snprintf(why, sizeof why, "cert without key: exit %d: %s", r->status, r->err);
    {   /* nothing was made in the data directory: refused before it was touched */
        char p[600];
        struct stat st;
        snprintf(p, sizeof p, "%s/catalog.db", dir);
        ok1 = ok1 && stat(p, &st) != 0;
    }
    check_rm_rf(dir);
    free(dir);
    CHECKF(ok1 && ok2 && ok3, "%s", why);
}

TEST(secret_files_must_be_private)
{
    char p[600], want[1400], live_key[600];
    struct cli_run *r;
    const char *argv[12];
    int n = 0;
    CHECK(daemon_start(&sec, NULL) == 0); /* makes DIR/repo.key (0600) */
    CHECK(daemon_kill(&sec, SIGTERM) == 0);
    snprintf(live_key, sizeof live_key, "%s/secret.key", tmp);
    CHECK(sh("cp %s %s && chmod 600 %s", a_key, live_key, live_key) == 0);
    argv[n++] = daemon_path();
    argv[n++] = "--data-dir";
    argv[n++] = sec.data_dir;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--tls-cert";
    argv[n++] = a_crt;
    argv[n++] = "--tls-key";
    argv[n++] = live_key;
    argv[n] = NULL;

    snprintf(p, sizeof p, "%s/repo.key", sec.data_dir);
    CHECK(chmod(p, 0644) == 0);
    r = run_prog(argv, NULL);
    snprintf(want, sizeof want, "%s has mode 0644", p);
    CHECKF(r->status == 1 && strstr(r->err, want), "repo.key 0644: exit %d: %s", r->status, r->err);
    snprintf(want, sizeof want, "chmod 600 %s", p);
    CHECKF(strstr(r->err, want), "stderr: %s", r->err);
    CHECK(chmod(p, 0600) == 0);

    snprintf(p, sizeof p, "%s/admin.key", sec.data_dir);
    CHECK(sh("echo some-admin-key > %s && chmod 640 %s", p, p) == 0);
    r = run_prog(argv, NULL);
    snprintf(want, sizeof want, "%s has mode 0640", p);
    CHECKF(r->status == 1 && strstr(r->err, want), "admin.key 0640: exit %d: %s", r->status, r->err);
    CHECK(unlink(p) == 0);

    CHECK(chmod(live_key, 0644) == 0);
    r = run_prog(argv, NULL);
    snprintf(want, sizeof want, "chmod 600 %s", live_key);
    CHECKF(r->status == 1 && strstr(r->err, "has mode 0644") && strstr(r->err, want), "TLS key 0644: exit %d: %s",
           r->status, r->err);
    CHECK(chmod(live_key, 0600) == 0);

    /* fixed: the same data directory starts (plain, as the harness started it) */
    CHECK(daemon_restart(&sec, NULL) == 0);
    CHECK(get_ok(&sec));
    CHECK_EQ_INT(daemon_stop(&sec), 0);
}

int main(void)
{
    struct daemon_opts o = { 0 };
    if (access(clirun_bin(), X_OK) != 0 || system("openssl version >/dev/null 2>&1") != 0) {
        check_fail(__FILE__, __LINE__, "no CLI binary at %s (make test-bin) or no openssl tool", clirun_bin());
        return check_finish();
    }
    tmp = check_tmpdir("e2e-tls");
    snprintf(a_crt, sizeof a_crt, "%s/a.crt", tmp);
    snprintf(a_key, sizeof a_key, "%s/a.key", tmp);
    snprintf(b_crt, sizeof b_crt, "%s/b.crt", tmp);
    snprintf(b_key, sizeof b_key, "%s/b.key", tmp);
    if (make_cert(a_crt, a_key, "coffer-a") != 0 || make_cert(b_crt, b_key, "coffer-b") != 0 ||
        cert_fp(a_crt, a_fp, sizeof a_fp) != 0 || cert_fp(b_crt, b_fp, sizeof b_fp) != 0 ||
        cert_pin(a_crt, a_pin, sizeof a_pin) != 0 || cert_pin(b_crt, b_pin, sizeof b_pin) != 0) {
        check_abandon("cannot make the test certificates with openssl");
    } else {
        o.tls_cert = a_crt;
        o.tls_key = a_key;
        if (daemon_start_opts(&d, &o, NULL) != 0) check_abandon("the daemon did not start with TLS");
        snprintf(url, sizeof url, "%s/v2", d.base);
    }
    RUN(https_serves_the_certificate);
    RUN(cli_cacert);
    RUN(cli_pin);
    RUN(protocol_versions_and_ciphers);
    RUN(sighup_reloads_the_certificate);
    RUN(self_signed_beyond_loopback);
    RUN(plain_http_beyond_loopback_refused);
    RUN(secret_files_must_be_private);
    if (d.pid > 0 && daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    if (rl.data_dir) daemon_stop(&rl); /* left by a failed test (its failure is counted already) */
    if (ss.data_dir) daemon_stop(&ss);
    if (sec.data_dir) daemon_stop(&sec);
    clirun_release(&last);
    free(sh_out);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
