/* http.c: the agent's HTTP client (libcurl): one JSON request per call, answers read into a buffer
 * capped at AGENTD_MAX_ANSWER. TLS: a pinned server is reached with CURLOPT_PINNEDPUBLICKEY (the pin
 * is the trust anchor, so the chain is not checked against a CA: cofferd's certificate is often
 * self-signed); without a pin only plain http is spoken (tests on loopback) unless the caller asked
 * for the server's pin first (agentd_http_server_pin: trust on first use at registration). Uploads
 * are limited with CURLOPT_MAX_SEND_SPEED_LARGE. Every request has connect and total timeouts. */
#include "agentd/core.h"
#include "util/buf.h"
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t g_wire_bytes; /* request and answer bytes, headers included */

uint64_t agentd_http_wire_bytes(void) { return atomic_load(&g_wire_bytes); }

void agentd_answer_release(struct agentd_answer *a)
{
    if (!a) return;
    json_decref(a->json);
    free(a->body);
    memset(a, 0, sizeof *a);
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    return buf_append(ud, p, size * n) == 0 ? size * n : 0; /* 0 stops the transfer: over the cap */
}

static void tls_opts(CURL *h, const char *url, const char *pin)
{
    if (strncmp(url, "https://", 8) != 0) return;
    if (pin) {
        curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, pin);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

static int perform(const struct agentd_conn *c, const char *method, const char *path, const char *ctype,
                   const void *data, size_t len, struct agentd_answer *out, char *err, size_t errlen);

int agentd_http_json(const struct agentd_conn *c, const char *method, const char *path, const json_t *body,
                     struct agentd_answer *out, char *err, size_t errlen)
{
    char *text = NULL;
    int rc;
    if (body && !(text = json_dumps(body, JSON_COMPACT))) {
        memset(out, 0, sizeof *out);
        return -ENOMEM;
    }
    rc = perform(c, method, path, "Content-Type: application/json", text, text ? strlen(text) : 0, out, err, errlen);
    free(text);
    return rc;
}

int agentd_http_raw_post(const struct agentd_conn *c, const char *path, const void *data, size_t len,
                         struct agentd_answer *out, char *err, size_t errlen)
{
    return perform(c, "POST", path, "Content-Type: application/octet-stream", data, len, out, err, errlen);
}

/* perform: one request with body data (NULL: none). */
static int perform(const struct agentd_conn *c, const char *method, const char *path, const char *ctype,
                   const void *data, size_t len, struct agentd_answer *out, char *err, size_t errlen)
{
    char url[2048], auth[1024], ebuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    struct buf b;
    CURL *h;
    CURLcode cc;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (strncmp(c->url, "https://", 8) != 0 && c->pin) {
        snprintf(err, errlen, "a server pin is set but the server URL %s is not https", c->url);
        return -EINVAL;
    }
    snprintf(url, sizeof url, "%s%s", c->url, path);
    if (!(h = curl_easy_init())) return -ENOMEM;
    buf_init(&b, c->max_answer ? c->max_answer : AGENTD_MAX_ANSWER);
    hdrs = curl_slist_append(hdrs, ctype);
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (c->credential) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->credential);
        hdrs = curl_slist_append(hdrs, auth);
        memset(auth, 0, sizeof auth);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_secs > 0 ? c->timeout_secs : 60L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->rate_limit > 0) { /* both ways: a backup's uploads, a restore's reads */
        curl_easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)c->rate_limit);
        curl_easy_setopt(h, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)c->rate_limit);
    }
    if (data) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    tls_opts(h, c->url, c->pin);
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s %s: %s", method, url, ebuf[0] ? ebuf : curl_easy_strerror(cc));
        rc = cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ? -EPERM : -EIO;
    } else {
        curl_off_t up = 0, down = 0;
        long req_hdr = 0, ans_hdr = 0;
        curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
        curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &down);
        curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &req_hdr);
        curl_easy_getinfo(h, CURLINFO_HEADER_SIZE, &ans_hdr);
        if (!c->uncounted)
            atomic_fetch_add(&g_wire_bytes, (uint64_t)up + (uint64_t)down + (uint64_t)req_hdr + (uint64_t)ans_hdr);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        out->body_len = b.data ? b.len : 0;
        out->body = b.data ? b.data : strdup("");
        b.data = NULL;
        if (out->body && out->body[0] && out->body_len == strlen(out->body)) out->json = json_loads(out->body, 0, NULL);
        if (!out->body) rc = -ENOMEM;
    }
    buf_free(&b);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

const char *agentd_answer_message(const struct agentd_answer *a, char *buf, size_t len)
{
    const char *m = json_string_value(json_object_get(a->json, "message"));
    if (m) return m;
    snprintf(buf, len, "HTTP %ld %.200s", a->status, a->body ? a->body : "");
    return buf;
}

/* pin_of_pem: "sha256//" + base64(SHA-256(DER SubjectPublicKeyInfo)) of a PEM certificate. */
static char *pin_of_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE], b64[2 * EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int derlen = x ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der) : -1;
    char *pin = NULL;
    if (derlen > 0 && EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL) == 1) {
        int n = EVP_EncodeBlock(b64, md, (int)mdlen);
        if (n > 0 && (pin = malloc(8 + (size_t)n + 1))) snprintf(pin, 8 + (size_t)n + 1, "sha256//%s", b64);
    }
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    return pin;
}

int agentd_http_server_pin(const char *url, char **pin, char *err, size_t errlen)
{
    char ebuf[CURL_ERROR_SIZE] = "";
    struct curl_certinfo *ci = NULL;
    struct buf b;
    CURL *h;
    CURLcode cc;
    int rc = -EIO;
    *pin = NULL;
    if (strncmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "%s is not https: there is no certificate to pin", url);
        return -EINVAL;
    }
    if (!(h = curl_easy_init())) return -ENOMEM;
    buf_init(&b, 64 * 1024);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "cannot reach %s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(cc));
    } else if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1) {
        snprintf(err, errlen, "%s presented no certificate", url);
    } else {
        for (struct curl_slist *s = ci->certinfo[0]; s && !*pin; s = s->next)
            if (strncmp(s->data, "Cert:", 5) == 0) *pin = pin_of_pem(s->data + 5);
        if (*pin) rc = 0;
        else snprintf(err, errlen, "cannot read the public key of the certificate %s presented", url);
    }
    buf_free(&b);
    curl_easy_cleanup(h);
    return rc;
}
