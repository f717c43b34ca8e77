/* s3_sigv4.c: AWS Signature Version 4 (s3_sigv4.h), the one place a request to the object store is
 * signed. The canonical request is METHOD \n URI \n QUERY \n "name:value\n" per signed header
 * (sorted by name) \n signed names joined by ';' \n payload hash; the string to sign is the
 * algorithm, the date, the scope date/region/s3/aws4_request and the canonical request's SHA-256;
 * the key is HMAC-SHA256 chained over "AWS4"+secret, the date, the region, "s3", "aws4_request".
 * Digests and HMAC are OpenSSL's (EVP_Digest, HMAC); nothing here is a primitive of its own. */
#include "repo/s3_sigv4.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define S3_MAX_SIGNED 16

static void hex_of(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t k = 0; k < n; k++) {
        out[2 * k] = digits[in[k] >> 4];
        out[2 * k + 1] = digits[in[k] & 15];
    }
    out[2 * n] = '\0';
}

int s3_sha256_hex(const void *data, size_t len, char out[S3_SHA256_HEX_LEN + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) return -EIO;
    hex_of(md, 32, out);
    return 0;
}

int s3_md5_base64(const void *data, size_t len, char *out, size_t outlen)
{
    unsigned char md[16];
    unsigned int mdlen = 0;
    if (outlen < 25) return -ENAMETOOLONG;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16) return -EIO;
    EVP_EncodeBlock((unsigned char *)out, md, 16);
    return 0;
}

void s3_amz_date(time_t t, char out[S3_AMZ_DATE_LEN + 1])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, S3_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

int s3_uri_encode(const char *in, int keep_slash, char *out, size_t outlen)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/');
        if (o + (plain ? 1 : 3) >= outlen) return -ENAMETOOLONG;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = digits[*p >> 4];
            out[o++] = digits[*p & 15];
        }
    }
    if (o >= outlen) return -ENAMETOOLONG;
    out[o] = '\0';
    return 0;
}

static int hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n) || n != 32)
        return -EIO;
    return 0;
}

static int hdr_cmp(const void *a, const void *b)
{
    return strcmp(((const struct s3_hdr *)a)->name, ((const struct s3_hdr *)b)->name);
}

/* buf_add: appends to a bounded buffer; -ENAMETOOLONG once it would overflow. */
static int buf_add(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n >= cap) return -ENAMETOOLONG;
    memcpy(buf + *len, s, n + 1);
    *len += n;
    return 0;
}

int s3_sigv4_authorization(const struct s3_creds *c, const char *method, const char *canon_uri,
                           const char *canon_query, const struct s3_hdr *hdrs, size_t nhdrs,
                           const char *payload_hash, const char *amz_date, char *out, size_t outlen)
{
    struct s3_hdr sorted[S3_MAX_SIGNED];
    char creq[8192], signed_names[512], scope[128], sts[512], hash[S3_SHA256_HEX_LEN + 1], keybuf[256], sig[65];
    unsigned char k1[32], k2[32], k3[32], k4[32], mac[32];
    size_t clen = 0, slen = 0;
    char date[9];
    int rc = 0, n;
    if (nhdrs > S3_MAX_SIGNED || strlen(amz_date) != S3_AMZ_DATE_LEN) return -EINVAL;
    memcpy(sorted, hdrs, nhdrs * sizeof *hdrs);
    qsort(sorted, nhdrs, sizeof *sorted, hdr_cmp);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    signed_names[0] = '\0';
    rc = buf_add(creq, sizeof creq, &clen, method);
    if (!rc) rc = buf_add(creq, sizeof creq, &clen, "\n");
    if (!rc) rc = buf_add(creq, sizeof creq, &clen, canon_uri);
    if (!rc) rc = buf_add(creq, sizeof creq, &clen, "\n");
    if (!rc) rc = buf_add(creq, sizeof creq, &clen, canon_query);
    if (!rc) rc = buf_add(creq, sizeof creq, &clen, "\n");
    for (size_t k = 0; !rc && k < nhdrs; k++) {
        rc = buf_add(creq, sizeof creq, &clen, sorted[k].name);
        if (!rc) rc = buf_add(creq, sizeof creq, &clen, ":");
        if (!rc) rc = buf_add(creq, sizeof creq, &clen, sorted[k].value);
        if (!rc) rc = buf_add(creq, sizeof creq, &clen, "\n");
        if (!rc && k) rc = buf_add(signed_names, sizeof signed_names, &slen, ";");
        if (!rc) rc = buf_add(signed_names, sizeof signed_names, &slen, sorted[k].name);
    }
    if (!rc) rc = buf_add(creq, sizeof creq, &clen, "\n");
    if (!rc) rc = buf_add(creq, sizeof creq, &clen, signed_names);
    if (!rc) rc = buf_add(creq, sizeof creq, &clen, "\n");
    if (!rc) rc = buf_add(creq, sizeof creq, &clen, payload_hash);
    if (rc) return rc;
    n = snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", date, c->region);
    if (n < 0 || (size_t)n >= sizeof scope) return -ENAMETOOLONG;
    if ((rc = s3_sha256_hex(creq, clen, hash)) < 0) return rc;
    n = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hash);
    if (n < 0 || (size_t)n >= sizeof sts) return -ENAMETOOLONG;
    n = snprintf(keybuf, sizeof keybuf, "AWS4%s", c->secret_key);
    if (n < 0 || (size_t)n >= sizeof keybuf) return -ENAMETOOLONG;
    rc = hmac(keybuf, (size_t)n, date, k1);
    if (!rc) rc = hmac(k1, 32, c->region, k2);
    if (!rc) rc = hmac(k2, 32, "s3", k3);
    if (!rc) rc = hmac(k3, 32, "aws4_request", k4);
    if (!rc) rc = hmac(k4, 32, sts, mac);
    OPENSSL_cleanse(keybuf, sizeof keybuf);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
    OPENSSL_cleanse(k3, sizeof k3);
    OPENSSL_cleanse(k4, sizeof k4);
    if (rc) return rc;
    hex_of(mac, 32, sig);
    n = snprintf(out, outlen, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", c->access_key,
                 scope, signed_names, sig);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}
