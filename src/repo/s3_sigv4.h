/* s3_sigv4.h: AWS Signature Version 4 for S3 requests, written once (s3_sigv4.c). The caller
 * builds the canonical pieces (method, URI-encoded path, sorted query, the headers it signs) and
 * gets back the Authorization header value; SHA-256 and HMAC come from OpenSSL. */
#ifndef COFFER_REPO_S3_SIGV4_H
#define COFFER_REPO_S3_SIGV4_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define S3_SHA256_HEX_LEN 64
#define S3_AMZ_DATE_LEN 16 /* YYYYMMDDTHHMMSSZ */

struct s3_hdr {
    const char *name;  /* lower case */
    const char *value; /* trimmed */
};

struct s3_creds {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL: none */
    const char *region;
};

/* s3_sha256_hex: the SHA-256 of data as 64 lower-case hex digits and a NUL. */
int s3_sha256_hex(const void *data, size_t len, char out[S3_SHA256_HEX_LEN + 1]);
/* s3_md5_base64: the MD5 of data in base64 (Content-MD5, required by Object Lock requests). */
int s3_md5_base64(const void *data, size_t len, char *out, size_t outlen);
/* s3_amz_date: t as YYYYMMDDTHHMMSSZ (UTC). */
void s3_amz_date(time_t t, char out[S3_AMZ_DATE_LEN + 1]);
/* s3_uri_encode: SigV4 URI encoding (unreserved characters kept, '/' kept when keep_slash);
 * -ENAMETOOLONG when out is too small. */
int s3_uri_encode(const char *in, int keep_slash, char *out, size_t outlen);
/* s3_sigv4_authorization: the Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=...") of a request. hdrs are the headers to sign (lower-case names,
 * any order; host, x-amz-date and x-amz-content-sha256 among them); canon_query is the sorted,
 * encoded query ("" for none); payload_hash the hex SHA-256 of the body (or UNSIGNED-PAYLOAD). */
int s3_sigv4_authorization(const struct s3_creds *c, const char *method, const char *canon_uri,
                           const char *canon_query, const struct s3_hdr *hdrs, size_t nhdrs,
                           const char *payload_hash, const char *amz_date, char *out, size_t outlen);
#endif
