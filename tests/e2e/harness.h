/* harness.h: end-to-end test support. Starts the real cofferd (build/asan/cofferd, or $COFFER_BIN) on a
 * free loopback port with a fresh data directory, and speaks HTTP to it with libcurl (or HTTPS, when
 * started with a certificate through daemon_start_opts: then every request verifies it).
 *
 *   struct daemon d; daemon_start(&d, NULL);
 *   struct http_resp r; http(&d, "POST", "/v2/data-protect/policies", "tenant-a", "{...}", &r);
 *   CHECK(r.status == 201); json_t *id = json_object_get(r.json, "id"); http_resp_release(&r);
 *   daemon_stop(&d);   (SIGTERM, waits, removes the data directory)
 */
#ifndef COFFER_TESTS_HARNESS_H
#define COFFER_TESTS_HARNESS_H
#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#define HARNESS_KEY "e2e-admin-key-0123456789"

struct daemon {
    pid_t pid;
    int port;
    char *data_dir;     /* owned; removed by daemon_stop */
    char base[64];      /* http://127.0.0.1:PORT (https:// when started with TLS) */
    char log_path[512]; /* daemon's stdout+stderr */
    /* TLS (daemon_start_opts): the listen address, the daemon's --tls-cert/--tls-key (kept for
     * daemon_restart), and how http() verifies the server: the CA file and/or the public-key pin
     * (tests may change them between requests). */
    char listen_host[64];
    char tls_cert[512], tls_key[512];
    char cacert[512];
    char pin[64];
    int https;
};

/* daemon_opts: how daemon_start_opts starts cofferd; a zeroed struct (or NULL) is daemon_start. */
struct daemon_opts {
    const char *listen_host;        /* --listen HOST:0 (default 127.0.0.1); requests still go to 127.0.0.1 */
    const char *tls_cert, *tls_key; /* --tls-cert/--tls-key: HTTPS, verified with cacert (default tls_cert) */
    const char *cacert;
    int https;                      /* HTTPS without giving a certificate (cofferd's self-signed one) */
};

/* daemon_start: starts cofferd; extra_env is a NULL-terminated list of "NAME=value" (may be NULL).
 * Returns 0 once the daemon answers; on failure prints its log and returns -1. */
int daemon_start(struct daemon *d, const char *const *extra_env);
/* daemon_start_opts: daemon_start with the options above. */
int daemon_start_opts(struct daemon *d, const struct daemon_opts *o, const char *const *extra_env);
/* daemon_restart: starts again on the same data directory and port (after daemon_kill). */
int daemon_restart(struct daemon *d, const char *const *extra_env);
/* daemon_kill: sends sig and reaps the process (data directory kept). Returns the wait status (0 =
 * exited 0), or -1 when no process was running. */
int daemon_kill(struct daemon *d, int sig);
/* daemon_kill_how: daemon_kill, and how the process ended in how ("killed by signal 9 (Killed)",
 * "exited with status 1", "no process"). Returns the signal that ended the process, 0 when it exited
 * on its own (even with a non-zero status), -1 when no process was running. A process that died before
 * the signal came (a crash) shows as exited or as killed by another signal. */
int daemon_kill_how(struct daemon *d, int sig, char *how, size_t how_len);
/* daemon_stop: SIGTERM, reap, remove the data directory. Returns the exit status (0 = clean). */
int daemon_stop(struct daemon *d);

struct http_resp {
    long status;
    char *body;      /* NUL-terminated, owned */
    size_t len;
    json_t *json;    /* parsed body if it was JSON, owned */
};
/* http: sends a request with the admin key (and tenant header when tenant is non-NULL); body may be
 * NULL. Returns 0 if a response came back (any status). */
int http(struct daemon *d, const char *method, const char *path, const char *tenant, const char *body,
         struct http_resp *out);
/* http_raw: full control: auth header value (NULL = none), extra headers (NULL-terminated, may be NULL). */
int http_raw(struct daemon *d, const char *method, const char *path, const char *auth,
             const char *const *headers, const char *body, size_t body_len, struct http_resp *out);
/* http_json: like http with a JSON body given as a json_t (borrowed). */
int http_json(struct daemon *d, const char *method, const char *path, const char *tenant, json_t *body,
              struct http_resp *out);
void http_resp_release(struct http_resp *r);
/* jstr / jint: convenience accessors on a JSON path "a.b.c" (NULL / 0 when absent). */
const char *jstr(json_t *j, const char *path);
long long jint(json_t *j, const char *path);
json_t *jget(json_t *j, const char *path);
/* jfmt: printf into one of 16 rotating static buffers (16 KiB each), turning every single quote into
 * a double quote, so JSON bodies can be written in C strings as {'name':'%s'}. The result lives until
 * 16 more calls; not thread-safe. */
const char *jfmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
#endif
