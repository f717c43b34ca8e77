/* cli_http.c: the CLI's one connection to cofferd. cli_init settles the service URL, key and tenant
 * (flag, then environment, then default); cli_call sends one request through a reused libcurl easy
 * handle with "Authorization: Bearer <key>" and X-IBM-Tenant-Id, gathers the answer into a capped
 * buffer, parses JSON with jansson and turns any non-2xx answer into the server's own message on
 * stderr (the "message" field of its JSON error body, as the IBM clients show it).
 *
 * https:// URLs are always verified, never silently trusted: the server's certificate against
 * libcurl's default CA store, or against --cacert FILE (COFFER_CACERT); with --pin sha256//<base64>
 * (COFFER_PIN, what cofferd prints at start) the server's public key must be that one, and it stands
 * instead of a CA (a self-signed certificate) unless a CA file is given too, when both must hold. A
 * failed verification names the option that fixes it. --cacert and --pin with an http:// URL are a
 * usage error (they would protect nothing). */
#include "cli/cli.h"
#include "util/fsio.h"
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *trimmed_dup(const char *s, size_t len)
{
    char *out;
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    out = malloc(len + 1);
    if (!out) return NULL;
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

/* pin_ok: one or more "sha256//<44 base64 characters>" separated by ';' (curl's form). */
static int pin_ok(const char *p)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    for (;;) {
        size_t n;
        if (strncmp(p, "sha256//", 8) != 0) return 0;
        p += 8;
        n = strspn(p, b64);
        if (n != 44) return 0;
        p += n;
        if (*p == '\0') return 1;
        if (*p++ != ';') return 0;
    }
}

/* tls_options: cacert and pin from the flags, else the environment (ignored for http:// URLs). */
static int tls_options(struct cli *c, const char *cacert, const char *pin)
{
    int https = strncmp(c->url, "https://", 8) == 0;
    if ((cacert && *cacert) || (pin && *pin)) {
        if (!https) {
            fprintf(stderr, "coffer: --cacert and --pin apply to https:// URLs, and the URL is %s\n", c->url);
            return CLI_USAGE;
        }
    } else if (https) {
        cacert = getenv("COFFER_CACERT");
        pin = getenv("COFFER_PIN");
    }
    c->cacert = https && cacert && *cacert ? cacert : NULL;
    c->pin = https && pin && *pin ? pin : NULL;
    if (c->pin && !pin_ok(c->pin)) {
        fprintf(stderr, "coffer: the pin '%s' is not of the form sha256//<base64> (cofferd prints it at start: "
                        "\"cofferd tls ... pin=sha256//...\")\n", c->pin);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_init(struct cli *c, const char *url, const char *key, const char *tenant, const char *cacert,
             const char *pin, int json)
{
    size_t n;
    int rc;
    memset(c, 0, sizeof *c);
    c->json = json;
    if (!url || !*url) url = getenv("COFFER_URL");
    if (!url || !*url) url = CLI_DEFAULT_URL;
    n = strlen(url);
    while (n > 0 && url[n - 1] == '/') n--;
    if (n == 0 || n >= sizeof c->url_buf) {
        fprintf(stderr, "coffer: the service URL '%s' is not usable\n", url);
        return CLI_USAGE;
    }
    memcpy(c->url_buf, url, n);
    c->url_buf[n] = '\0';
    c->url = c->url_buf;
    if ((rc = tls_options(c, cacert, pin)) != CLI_OK) return rc;

    if (!tenant || !*tenant) tenant = getenv("COFFER_TENANT");
    c->tenant = tenant && *tenant ? tenant : CLI_DEFAULT_TENANT;

    if (!key || !*key) key = getenv("COFFER_KEY");
    if (key && *key) {
        c->key = trimmed_dup(key, strlen(key));
    } else {
        void *data = NULL;
        size_t len = 0;
        rc = fsio_read_all(CLI_KEY_FILE, 4096, &data, &len);
        if (rc != 0) {
            fprintf(stderr, "coffer: no API key: pass --key, set COFFER_KEY, or run from the directory "
                            "holding %s (%s)\n", CLI_KEY_FILE, strerror(-rc));
            return CLI_USAGE;
        }
        c->key = trimmed_dup(data, len);
        free(data);
    }
    if (!c->key) return cli_fail("out of memory");
    if (!*c->key || strchr(c->key, '\n') || strchr(c->key, '\r')) {
        free(c->key);
        c->key = NULL;
        fprintf(stderr, "coffer: the API key is empty or has a line break\n");
        return CLI_USAGE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return cli_fail("cannot initialise libcurl");
    c->curl = curl_easy_init();
    if (!c->curl) return cli_fail("cannot initialise libcurl");
    return CLI_OK;
}

void cli_release(struct cli *c)
{
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        curl_global_cleanup();
    }
    c->curl = NULL;
    free(c->key);
    c->key = NULL;
}

struct sink {
    char *data;
    size_t len, cap;
    int too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    if (n > CLI_MAX_RESPONSE_BYTES - s->len) {
        s->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        char *p;
        while (cap < s->len + n + 1) cap *= 2;
        p = realloc(s->data, cap);
        if (!p) return 0;
        s->data = p;
        s->cap = cap;
    }
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

/* server_message: the message an error body carries ("message", "errors"[0]."message"), else NULL. */
static const char *server_message(json_t *j)
{
    const char *m = cli_jstr(j, "message");
    if (!m) {
        json_t *errs = json_object_get(j, "errors");
        if (json_is_array(errs)) m = cli_jstr(json_array_get(errs, 0), "message");
    }
    return m && *m ? m : NULL;
}

int cli_call(struct cli *c, const char *method, const char *path, json_t *body, struct cli_resp *out)
{
    CURL *h = c->curl;
    struct curl_slist *hdrs = NULL;
    struct sink s = { 0 };
    char *text = NULL, *auth = NULL, *ten = NULL, *full = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    size_t n;
    CURLcode cc;
    int rc = CLI_FAIL;
    memset(out, 0, sizeof *out);

    n = strlen(c->url) + strlen(path) + 1;
    full = malloc(n);
    auth = malloc(strlen(c->key) + 32);
    ten = malloc(strlen(c->tenant) + 32);
    if (!full || !auth || !ten) goto oom;
    snprintf(full, n, "%s%s", c->url, path);
    snprintf(auth, strlen(c->key) + 32, "Authorization: Bearer %s", c->key);
    snprintf(ten, strlen(c->tenant) + 32, "X-IBM-Tenant-Id: %s", c->tenant);
    hdrs = curl_slist_append(hdrs, auth);
    hdrs = hdrs ? curl_slist_append(hdrs, ten) : NULL;
    hdrs = hdrs ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
    if (hdrs && body) hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (!hdrs) goto oom;

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (c->cacert) curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
    if (c->pin) {
        curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pin);
        if (!c->cacert) { /* the pinned key is the trust: a self-signed certificate passes only by it */
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text) goto oom;
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
    }
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
        if (s.too_big)
            fprintf(stderr, "coffer: the answer from %s is larger than %u bytes\n", full, CLI_MAX_RESPONSE_BYTES);
        else if (cc == CURLE_PEER_FAILED_VERIFICATION)
            fprintf(stderr, "coffer: cannot verify the certificate of %s (%s): give the CA certificate that "
                            "signed it (or the self-signed certificate itself) with --cacert FILE (COFFER_CACERT), "
                            "or pin the public key cofferd printed at start with --pin sha256//... (COFFER_PIN)\n",
                    c->url, why);
        else if (cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
            fprintf(stderr, "coffer: the public key of %s does not match --pin %s (COFFER_PIN): check the pin "
                            "cofferd printed at start (\"cofferd tls ... pin=\"); refusing to talk to it\n",
                    c->url, c->pin ? c->pin : "");
        else if (cc == CURLE_SSL_CACERT_BADFILE)
            fprintf(stderr, "coffer: cannot use the CA file %s given with --cacert (COFFER_CACERT): %s\n",
                    c->cacert ? c->cacert : "(default store)", why);
        else if (cc == CURLE_SSL_CONNECT_ERROR)
            fprintf(stderr, "coffer: the TLS handshake with %s failed (%s): is the daemon serving HTTPS there "
                            "(else use an http:// URL)?\n", c->url, why);
        else
            fprintf(stderr, "coffer: cannot reach %s: %s\n", full, why);
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = s.data ? s.data : strdup("");
    out->len = s.len;
    s.data = NULL;
    if (!out->body) goto oom;
    if (out->len > 0) out->json = json_loadb(out->body, out->len, 0, NULL);
    if (out->status >= 200 && out->status < 300) {
        rc = CLI_OK;
        goto done;
    }
    {
        const char *m = server_message(out->json);
        if (m)
            fprintf(stderr, "coffer: %s (HTTP %ld)\n", m, out->status);
        else if (out->len > 0 && !out->json)
            fprintf(stderr, "coffer: HTTP %ld from %s %s: %.300s\n", out->status, method, path, out->body);
        else
            fprintf(stderr, "coffer: HTTP %ld from %s %s\n", out->status, method, path);
    }
    cli_resp_release(out);
    goto done;
oom:
    fprintf(stderr, "coffer: out of memory\n");
done:
    free(s.data);
    free(text);
    curl_slist_free_all(hdrs);
    free(full);
    free(auth);
    free(ten);
    return rc;
}

void cli_resp_release(struct cli_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static int keep_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '.' || ch == '_' || ch == '~' || ch == ':' || ch == '@';
}

int cli_path(char *buf, size_t size, const char *fmt, ...)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    va_list ap;
    int rc = 0;
    va_start(ap, fmt);
    for (const char *p = fmt; *p && rc == 0; p++) {
        if (p[0] == '%' && p[1] == 's') {
            const unsigned char *v = va_arg(ap, const unsigned char *);
            p++;
            for (; v && *v; v++) {
                if (keep_char(*v)) {
                    if (o + 1 >= size) { rc = -1; break; }
                    buf[o++] = (char)*v;
                } else {
                    if (o + 3 >= size) { rc = -1; break; }
                    buf[o++] = '%';
                    buf[o++] = hex[*v >> 4];
                    buf[o++] = hex[*v & 15];
                }
            }
            continue;
        }
        if (p[0] == '%' && p[1] == '%') p++;
        if (o + 1 >= size) { rc = -1; break; }
        buf[o++] = *p;
    }
    va_end(ap);
    if (size > 0) buf[o < size ? o : size - 1] = '\0';
    return rc;
}

int cli_await_last(struct cli *c, const char *path, const char *noun, long long id, long long timeout_s,
                   json_t **last)
{
    double t0 = cli_now_seconds();
    struct cli_resp r;
    int rc;
    *last = NULL;
    for (;;) {
        json_t *l;
        if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
        l = cli_jget(r.json, "last");
        if (l && json_integer_value(cli_jget(l, "id")) == id) {
            *last = json_incref(l);
            cli_resp_release(&r);
            return CLI_OK;
        }
        cli_resp_release(&r);
        if (cli_now_seconds() - t0 > (double)timeout_s)
            return cli_fail("%s %lld has not ended after %lld s (it goes on in the daemon)", noun, id, timeout_s);
        usleep(250 * 1000);
    }
}
