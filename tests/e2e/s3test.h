/* s3test.h: a private S3-compatible server for tests: versitygw (github.com/versity/versitygw,
 * built from the Go module proxy by scripts/setup.sh --test into ~/.cache/coffer, or found through
 * $COFFER_VERSITYGW) with its posix backend in a temporary directory (object-lock state lives in
 * extended attributes: the directory's filesystem must take user.* xattrs) and versioning on, on a
 * free loopback port. Buckets are made with Object Lock enabled. Raw signed requests (the backend's
 * own SigV4 module) let a test talk to the server past the product, like a thief with the bucket
 * credential would. Every wait is bounded. Functions return 0 or a negative errno, with a sentence
 * in why. */
#ifndef COFFER_TESTS_S3TEST_H
#define COFFER_TESTS_S3TEST_H
#include <stddef.h>
#include <sys/types.h>

#define S3TEST_VERSION "v1.8.0"
#define S3TEST_ACCESS "coffertestkey"
#define S3TEST_SECRET "coffer-test-secret-0123456789"
#define S3TEST_REGION "us-east-1"

struct s3test {
    char bin[512];       /* the versitygw binary */
    char root[512];      /* the temporary directory (removed by s3test_destroy) */
    char log[600];       /* the server's output */
    int port;
    pid_t pid;           /* 0: not running */
    char endpoint[64];   /* http://127.0.0.1:PORT (https:// with TLS) */
    char tls_cert[600];  /* set before s3test_start: serve TLS with this certificate (PEM, also the */
    char tls_key[600];   /* CA file clients trust) and key */
};

/* s3test_available: 0 when the versitygw binary is there, else -ENOENT + why. */
int s3test_available(struct s3test *t, char *why, size_t n);
/* s3test_self_signed: a certificate for 127.0.0.1 (subjectAltName IP) and its key, made with the
 * openssl command in dir, named into t->tls_cert and t->tls_key. */
int s3test_self_signed(struct s3test *t, const char *dir, char *why, size_t n);
/* s3test_start: a fresh temporary directory (xattrs checked), the server started on a free port,
 * waited for (20 s at most). */
int s3test_start(struct s3test *t, const char *tag, char *why, size_t n);
/* s3test_restart: starts the server again on the same directory and port (after s3test_kill). */
int s3test_restart(struct s3test *t, char *why, size_t n);
/* s3test_kill: sends sig and reaps the server (5 s, then SIGKILL). */
void s3test_kill(struct s3test *t, int sig);
/* s3test_destroy: stops the server and removes the directory. */
void s3test_destroy(struct s3test *t);
/* s3test_make_bucket: creates a bucket with Object Lock (and so versioning) enabled. */
int s3test_make_bucket(struct s3test *t, const char *bucket, char *why, size_t n);
/* s3test_env: sets COFFER_S3_ENDPOINT, COFFER_S3_REGION, COFFER_S3_PATH_STYLE=1 and the
 * credentials in this process's environment (children inherit them). */
void s3test_env(const struct s3test *t, const char *endpoint);
/* s3test_request: a signed request to endpoint (NULL: the server's) for path "/bucket/key" with a
 * canonical query ("" none) and an optional body; the status in *status and the response body
 * (NUL-terminated, malloc'd, may be NULL) in *out. 0 when an answer came. */
int s3test_request(const struct s3test *t, const char *method, const char *path, const char *query,
                   const char *const *headers, const void *body, size_t blen, long *status, char **out);
/* s3test_version_id: the current version id of /bucket/key (HEAD); "" when unversioned. */
int s3test_version_id(const struct s3test *t, const char *path, char *vid, size_t n);
/* s3test_count_keys: how many keys ListObjectsV2 shows under bucket/prefix (one page, 1000 at most),
 * or a negative errno. */
int s3test_count_keys(const struct s3test *t, const char *bucket, const char *prefix);
/* s3test_serve_or_skip: s3test_available + s3test_start + s3test_make_bucket(bucket); otherwise
 * each of the n tests is skipped (binary missing, no xattrs) or fails (the server did not start). */
int s3test_serve_or_skip(struct s3test *t, const char *tag, const char *bucket, const char *const *tests,
                         size_t n);
#endif
