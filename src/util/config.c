/* config.c: cofferd's option table and what is made from it (config.h): the file parser (line by
 * line: `name = value`, '#' comments), the checks of each value by its type, the precedence flag >
 * environment > file > default, and the usage, documentation table and example file printers.
 *
 * A file is read whole (at most CONFIG_FILE_MAX bytes) and split into lines; a line longer than
 * CONFIG_LINE_MAX, an unknown name, a name given twice, a line without '=' or a bad value is an error
 * naming FILE:LINE and the option. Strings are checked for control characters (a NUL byte in the file
 * is an error too). Nothing here logs: errors go back to the caller as text. */
#include "util/config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_LINE_MAX 4096
#define YEARS_100_SECS (100LL * 365 * 86400)

const struct config_option config_options[CFG_COUNT] = {
    [CFG_DATA_DIR] = { "data_dir", "--data-dir", "COFFER_DATA_DIR", CONFIG_PATH, 0, 0, NULL, "./var",
                       "the data directory: catalog, repository key, admin key, audit log, lock", 0 },
    [CFG_LISTEN] = { "listen", "--listen", "COFFER_LISTEN", CONFIG_LISTEN, 0, 0, NULL, "127.0.0.1:8080",
                     "the API's address HOST:PORT ([::1]:PORT for IPv6; :PORT is every IPv4 address)", 0 },
    [CFG_REPOSITORY] = { "repository", "--repository", "COFFER_REPOSITORY", CONFIG_STRING, 0, 0, NULL, "",
                         "the repository: a directory or s3://BUCKET/PREFIX (not set: DIR/repo)", 0 },
    [CFG_CATALOG] = { "catalog", "--catalog", "COFFER_CATALOG", CONFIG_STRING, 0, 0, NULL, "",
                      "the catalog: a SQLite file or a postgresql:// URL (not set: DIR/catalog.db)", 0 },
    [CFG_SHARED_CATALOG] = { "shared_catalog", "--shared-catalog", "COFFER_SHARED_CATALOG", CONFIG_BOOL, 0, 1, NULL,
                             "false", "a PostgreSQL catalog shared by several cofferd nodes", CONFIG_EXPORT },
    [CFG_LEASE_SECS] = { "lease_secs", "--lease-secs", "COFFER_LEASE_SECS", CONFIG_INT, 2, 3600, NULL, "60",
                         "job lease: how soon a dead node's jobs are taken over (renewed every sixth)",
                         CONFIG_EXPORT },
    [CFG_PRUNE_WAIT_SECS] = { "prune_wait_secs", "--prune-wait-secs", "COFFER_PRUNE_WAIT_SECS", CONFIG_INT, 1, 86400,
                              NULL, "3600", "how long a prune waits for other nodes' backups (then it fails)",
                              CONFIG_EXPORT },
    [CFG_TLS_CERT] = { "tls_cert", "--tls-cert", "COFFER_TLS_CERT", CONFIG_PATH, 0, 0, NULL, "",
                       "serve HTTPS with this PEM certificate (chain); goes with tls_key", 0 },
    [CFG_TLS_KEY] = { "tls_key", "--tls-key", "COFFER_TLS_KEY", CONFIG_PATH, 0, 0, NULL, "",
                      "the PEM private key of tls_cert (mode 0600)", 0 },
    [CFG_NO_TLS] = { "no_tls", "--no-tls", "COFFER_NO_TLS", CONFIG_BOOL, 0, 1, NULL, "false",
                     "serve plain HTTP (the default on loopback)", 0 },
    [CFG_ALLOW_PLAIN_HTTP] = { "allow_plain_http", "--allow-plain-http", "COFFER_ALLOW_PLAIN_HTTP", CONFIG_BOOL, 0, 1,
                               NULL, "false", "serve plain HTTP beyond loopback (else a self-signed certificate)",
                               0 },
    [CFG_ADMIN_KEY] = { "admin_key", NULL, "COFFER_ADMIN_KEY", CONFIG_SECRET, 0, 0, NULL, "",
                        "the admin API key (not set: generated into DIR/admin.key)", 0 },
    [CFG_DATA_SECURITY_KEY] = { "data_security_key", NULL, "COFFER_DATA_SECURITY_KEY", CONFIG_SECRET, 0, 0, NULL,
                                "", "a cluster key holding DataSecurity and Viewer (differs from the admin key)",
                                0 },
    [CFG_AUTH_FAILURES] = { "auth_failures", "--auth-failures", "COFFER_AUTH_FAILURES", CONFIG_INT, 0, 1000000,
                            NULL, "10", "failed authentications per address per window before 429 (0: no limit)",
                            0 },
    [CFG_AUTH_WINDOW_SECS] = { "auth_window_secs", "--auth-window-secs", "COFFER_AUTH_WINDOW_SECS", CONFIG_INT, 1,
                               1000000, NULL, "60", "the window in which failed authentications are counted", 0 },
    [CFG_AUTH_COOLDOWN_SECS] = { "auth_cooldown_secs", "--auth-cooldown-secs", "COFFER_AUTH_COOLDOWN_SECS",
                                 CONFIG_INT, 1, 1000000, NULL, "60",
                                 "how long an address over the limit gets 429", 0 },
    [CFG_METRICS_PUBLIC] = { "metrics_public", "--metrics-public", "COFFER_METRICS_PUBLIC", CONFIG_BOOL, 0, 1, NULL,
                             "false", "GET /metrics without a key (else the admin key or a Viewer key)",
                             CONFIG_EXPORT },
    [CFG_WORKERS] = { "workers", "--workers", "COFFER_WORKERS", CONFIG_INT, 1, 64, NULL, "2",
                      "backup worker threads", 0 },
    [CFG_PRUNE_INTERVAL_SECS] = { "prune_interval_secs", "--prune-interval-secs", "COFFER_PRUNE_INTERVAL_SECS",
                                  CONFIG_INT, 0, YEARS_100_SECS, NULL, "86400",
                                  "a prune after the retention pass this often (0: never)", 0 },
    [CFG_VERIFY_INTERVAL_SECS] = { "verify_interval_secs", "--verify-interval-secs", "COFFER_VERIFY_INTERVAL_SECS",
                                   CONFIG_INT, 0, YEARS_100_SECS, NULL, "0",
                                   "a verify of the repository this often (0: never)", 0 },
    [CFG_VERIFY_READ_PCT] = { "verify_read_pct", "--verify-read-pct", "COFFER_VERIFY_READ_PCT", CONFIG_INT, 0, 100,
                              NULL, "10", "share of the packs a scheduled verify re-reads (0: structure only)", 0 },
    [CFG_RESERVE_MB] = { "reserve_mb", "--reserve-mb", "COFFER_RESERVE_MB", CONFIG_INT, 0, 1024, NULL, "8",
                         "the catalog's space reserve for a full disk, MiB (0: none)", 0 },
    [CFG_AUDIT_RETENTION_DAYS] = { "audit_retention_days", "--audit-retention-days", "COFFER_AUDIT_RETENTION_DAYS",
                                   CONFIG_INT, 1, 100 * 366, NULL, "365",
                                   "audit log entries older than this are swept", 0 },
    [CFG_LOG_LEVEL] = { "log_level", "--log-level", "COFFER_LOG_LEVEL", CONFIG_ENUM, 0, 0, "debug|info|warn|error",
                        "info", "the lowest level logged", 0 },
    [CFG_LOG_FORMAT] = { "log_format", "--log-format", "COFFER_LOG_FORMAT", CONFIG_ENUM, 0, 0, "text|json", "text",
                         "log lines as key=value text or as JSON objects", 0 },
    [CFG_S3_REGION] = { "s3_region", "--s3-region", "COFFER_S3_REGION", CONFIG_STRING, 0, 0, NULL, "",
                        "an s3:// repository's region (not set: AWS_REGION, else us-east-1)", CONFIG_EXPORT },
    [CFG_S3_ENDPOINT] = { "s3_endpoint", "--s3-endpoint", "COFFER_S3_ENDPOINT", CONFIG_URL, 0, 0, NULL, "",
                          "an S3-compatible endpoint URL (not set: AWS's for the region)", CONFIG_EXPORT },
    [CFG_S3_PATH_STYLE] = { "s3_path_style", "--s3-path-style", "COFFER_S3_PATH_STYLE", CONFIG_BOOL, 0, 1, NULL, "",
                            "path-style bucket URLs (not set: true with s3_endpoint, else false)", CONFIG_EXPORT },
    [CFG_S3_ACCESS_KEY_ID] = { "s3_access_key_id", NULL, "COFFER_S3_ACCESS_KEY_ID", CONFIG_SECRET, 0, 0, NULL, "",
                               "the S3 access key id (not set: AWS_ACCESS_KEY_ID)", CONFIG_EXPORT },
    [CFG_S3_SECRET_ACCESS_KEY] = { "s3_secret_access_key", NULL, "COFFER_S3_SECRET_ACCESS_KEY", CONFIG_SECRET, 0, 0,
                                   NULL, "", "the S3 secret key (not set: AWS_SECRET_ACCESS_KEY)", CONFIG_EXPORT },
    [CFG_S3_SESSION_TOKEN] = { "s3_session_token", NULL, "COFFER_S3_SESSION_TOKEN", CONFIG_SECRET, 0, 0, NULL, "",
                               "an S3 session token (not set: AWS_SESSION_TOKEN)", CONFIG_EXPORT },
    [CFG_S3_CA_FILE] = { "s3_ca_file", "--s3-ca-file", "COFFER_S3_CA_FILE", CONFIG_PATH, 0, 0, NULL, "",
                         "CA certificates (PEM) to verify the S3 endpoint with", CONFIG_EXPORT },
    [CFG_S3_CONNECTIONS] = { "s3_connections", "--s3-connections", "COFFER_S3_CONNECTIONS", CONFIG_INT, 1, 32, NULL,
                             "8", "concurrent connections to S3", CONFIG_EXPORT },
    [CFG_S3_RETRIES] = { "s3_retries", "--s3-retries", "COFFER_S3_RETRIES", CONFIG_INT, 0, 20, NULL, "6",
                         "retries of a failed S3 request", CONFIG_EXPORT },
    [CFG_S3_TIMEOUT] = { "s3_timeout", "--s3-timeout", "COFFER_S3_TIMEOUT", CONFIG_INT, 1, 3600, NULL, "30",
                         "seconds an S3 request may take", CONFIG_EXPORT },
    [CFG_S3_UNSIGNED_PAYLOAD] = { "s3_unsigned_payload", "--s3-unsigned-payload", "COFFER_S3_UNSIGNED_PAYLOAD",
                                  CONFIG_BOOL, 0, 1, NULL, "",
                                  "send uploads unsigned (UNSIGNED-PAYLOAD) (not set: over https only)", CONFIG_EXPORT },
};

static int errf(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static const char *type_name(const struct config_option *o, char *buf, size_t len)
{
    switch (o->type) {
    case CONFIG_STRING: return "string";
    case CONFIG_PATH: return "path";
    case CONFIG_SECRET: return "secret";
    case CONFIG_BOOL: return "boolean";
    case CONFIG_INT: snprintf(buf, len, "integer %lld..%lld", o->min, o->max); return buf;
    case CONFIG_ENUM: snprintf(buf, len, "one of %s", o->choices); return buf;
    case CONFIG_LISTEN: return "HOST:PORT";
    case CONFIG_URL: return "URL";
    }
    return "?";
}

/* listen_ok: HOST:PORT with a port 0..65535 and a host that is empty, an address or "localhost". */
static int listen_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    char host[256], *end;
    unsigned char a[16];
    long port;
    size_t hl;
    if (!colon || !colon[1]) return 0;
    hl = (size_t)(colon - s);
    if (hl >= sizeof host) return 0;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
        if (inet_pton(AF_INET6, host, a) != 1) return 0;
    } else if (hl && strcmp(host, "localhost") != 0 && inet_pton(AF_INET, host, a) != 1 &&
               inet_pton(AF_INET6, host, a) != 1) {
        return 0;
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    return !errno && !*end && port >= 0 && port <= 65535 && colon[1] != '-' && colon[1] != '+';
}

/* check_value: v for option o, normalised into a new string (*out), or -EINVAL with the problem in
 * why (without the option's name or the place). */
static int check_value(const struct config_option *o, const char *v, char **out, char *why, size_t whylen)
{
    char buf[64];
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return errf(why, whylen, -EINVAL, "holds a control character");
    switch (o->type) {
    case CONFIG_BOOL: {
        static const char *const yes[] = { "1", "true", "yes", "on" }, *const no[] = { "0", "false", "no", "off" };
        for (size_t i = 0; i < 4; i++) {
            if (strcasecmp(v, yes[i]) == 0) return (*out = strdup("1")) ? 0 : -ENOMEM;
            if (strcasecmp(v, no[i]) == 0) return (*out = strdup("0")) ? 0 : -ENOMEM;
        }
        return errf(why, whylen, -EINVAL, "must be true or false (yes/no, on/off, 1/0), not '%.200s'", v);
    }
    case CONFIG_INT: {
        char *end;
        long long n;
        errno = 0;
        n = strtoll(v, &end, 10);
        if (!*v || errno || *end || n < o->min || n > o->max)
            return errf(why, whylen, -EINVAL, "must be an integer %lld..%lld, not '%.200s'", o->min, o->max, v);
        snprintf(buf, sizeof buf, "%lld", n);
        return (*out = strdup(buf)) ? 0 : -ENOMEM;
    }
    case CONFIG_ENUM: {
        size_t n = strlen(v);
        for (const char *c = o->choices; *c;) {
            size_t cl = strcspn(c, "|");
            if (n && cl == n && strncmp(c, v, n) == 0) return (*out = strdup(v)) ? 0 : -ENOMEM;
            c += cl;
            if (*c) c++;
        }
        return errf(why, whylen, -EINVAL, "must be one of %s, not '%.200s'", o->choices, v);
    }
    case CONFIG_LISTEN:
        if (!listen_ok(v))
            return errf(why, whylen, -EINVAL, "must be HOST:PORT (an address, [IPv6] or empty, and a port 0..65535), "
                                              "not '%.200s'", v);
        break;
    case CONFIG_URL:
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
            return errf(why, whylen, -EINVAL, "must start with http:// or https://, not '%.200s'", v);
        break;
    case CONFIG_PATH:
    case CONFIG_STRING:
    case CONFIG_SECRET:
        if (strlen(v) > 4000) return errf(why, whylen, -EINVAL, "is longer than 4000 bytes");
        break;
    }
    return (*out = strdup(v)) ? 0 : -ENOMEM;
}

static int find_option(const char *name, size_t n)
{
    for (int i = 0; i < CFG_COUNT; i++)
        if (strlen(config_options[i].name) == n && strncmp(config_options[i].name, name, n) == 0) return i;
    return -1;
}

static void set_value(struct config *c, int id, char *v, enum config_source src, int line)
{
    free(c->value[id]);
    c->value[id] = v;
    c->source[id] = src;
    c->line[id] = line;
}

/* read_file: the file's settings into c. */
static int read_file(struct config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *text, *p, why[512];
    size_t len;
    int lineno = 0, rc = 0, seen[CFG_COUNT] = { 0 };
    if (!f) return errf(err, errlen, -ENOENT, "cannot read the configuration file %s: %s", path, strerror(errno));
    if (!(text = malloc(CONFIG_FILE_MAX + 1))) {
        fclose(f);
        return -ENOMEM;
    }
    len = fread(text, 1, CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) rc = errf(err, errlen, -EINVAL, "%s: cannot read: %s", path, strerror(errno));
    fclose(f);
    if (!rc && len > CONFIG_FILE_MAX) rc = errf(err, errlen, -EINVAL, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
    if (!rc && memchr(text, '\0', len)) rc = errf(err, errlen, -EINVAL, "%s: holds a NUL byte", path);
    text[len < CONFIG_FILE_MAX ? len : CONFIG_FILE_MAX] = '\0';
    for (p = text; !rc && *p;) {
        char *eol = strchr(p, '\n'), *eq, *name, *val, *end, *norm = NULL;
        size_t nl;
        int id;
        lineno++;
        if (eol) *eol = '\0';
        if (strlen(p) > CONFIG_LINE_MAX) {
            rc = errf(err, errlen, -EINVAL, "%s:%d: the line is longer than %d bytes", path, lineno, CONFIG_LINE_MAX);
            break;
        }
        name = p + strspn(p, " \t\r");
        p = eol ? eol + 1 : p + strlen(p);
        if (!*name || *name == '#') continue;
        for (end = name + strlen(name); end > name && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r');) *--end = '\0';
        if (!(eq = strchr(name, '='))) {
            rc = errf(err, errlen, -EINVAL, "%s:%d: expected 'name = value', not '%.100s'", path, lineno, name);
            break;
        }
        nl = (size_t)(eq - name);
        while (nl && (name[nl - 1] == ' ' || name[nl - 1] == '\t')) nl--;
        val = eq + 1 + strspn(eq + 1, " \t");
        if ((id = find_option(name, nl)) < 0) {
            rc = errf(err, errlen, -EINVAL, "%s:%d: unknown option '%.*s'", path, lineno, (int)(nl < 100 ? nl : 100), name);
            break;
        }
        if (seen[id]) {
            rc = errf(err, errlen, -EINVAL, "%s:%d: option '%s' is already set on line %d", path, lineno,
                      config_options[id].name, seen[id]);
            break;
        }
        seen[id] = lineno;
        if (strlen(val) >= 2 && val[0] == '"' && val[strlen(val) - 1] == '"') {
            val[strlen(val) - 1] = '\0';
            val++;
        }
        if (!*val) continue; /* "name =": not set, as if absent */
        if ((rc = check_value(&config_options[id], val, &norm, why, sizeof why)) != 0) {
            if (rc == -EINVAL) errf(err, errlen, rc, "%s:%d: option '%s' %s", path, lineno, config_options[id].name, why);
            break;
        }
        set_value(c, id, norm, CONFIG_SRC_FILE, lineno);
    }
    free(text);
    return rc;
}

void config_release(struct config *c)
{
    for (int i = 0; i < CFG_COUNT; i++) {
        if (c->value[i] && config_options[i].type == CONFIG_SECRET) memset(c->value[i], 0, strlen(c->value[i]));
        free(c->value[i]);
        c->value[i] = NULL;
    }
}

/* flag_of: the option a command-line argument names ("--x" or "--x=v"), -1 when none; *inline_val
 * points after '=' when given so. */
static int flag_of(const char *arg, const char **inline_val)
{
    size_t n = strcspn(arg, "=");
    *inline_val = arg[n] == '=' ? arg + n + 1 : NULL;
    for (int i = 0; i < CFG_COUNT; i++)
        if (config_options[i].flag && strlen(config_options[i].flag) == n && strncmp(config_options[i].flag, arg, n) == 0)
            return i;
    return -1;
}

int config_load(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
    const char *file = NULL, *flagv[CFG_COUNT] = { 0 };
    char why[512];
    struct stat st;
    int rc;
    memset(c, 0, sizeof *c);
    /* pass 1: the command line (checked below, after the file and the environment) */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *iv;
        int id;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) c->action = CONFIG_HELP;
        else if (strcmp(a, "--version") == 0) c->action = CONFIG_VERSION;
        else if (strcmp(a, "--check-config") == 0) c->action = CONFIG_CHECK;
        else if (strcmp(a, "--print-config-table") == 0) c->action = CONFIG_PRINT_TABLE;
        else if (strcmp(a, "--print-config-example") == 0) c->action = CONFIG_PRINT_EXAMPLE;
        else if (strcmp(a, "--config") == 0 || strncmp(a, "--config=", 9) == 0) {
            if (a[8] == '=') file = a + 9;
            else if (i + 1 < argc) file = argv[++i];
            else return errf(err, errlen, -EINVAL, "--config needs a file name");
        } else if ((id = flag_of(a, &iv)) >= 0) {
            if (config_options[id].type == CONFIG_BOOL && !iv) iv = "1";
            else if (!iv && i + 1 < argc) iv = argv[++i];
            else if (!iv) return errf(err, errlen, -EINVAL, "%s needs a value (%s)", config_options[id].flag,
                                      type_name(&config_options[id], why, sizeof why));
            flagv[id] = iv;
        } else {
            return errf(err, errlen, -EINVAL, "unknown argument '%.200s' (cofferd --help lists the options)", a);
        }
    }
    if (c->action == CONFIG_HELP || c->action == CONFIG_VERSION || c->action == CONFIG_PRINT_TABLE) return 0;
    /* the file */
    if (!file && getenv("COFFER_CONFIG") && *getenv("COFFER_CONFIG")) file = getenv("COFFER_CONFIG");
    if (!file && stat(CONFIG_DEFAULT_FILE, &st) == 0) file = CONFIG_DEFAULT_FILE;
    if (file && strcmp(file, "none") != 0) {
        snprintf(c->file, sizeof c->file, "%s", file);
        if ((rc = read_file(c, file, err, errlen)) != 0) {
            config_release(c);
            return rc;
        }
    }
    /* the environment, then the flags: each overrides what came before */
    for (int id = 0; id < CFG_COUNT; id++) {
        const char *v = getenv(config_options[id].env);
        char *norm = NULL;
        if (!v || !*v) continue;
        if ((rc = check_value(&config_options[id], v, &norm, why, sizeof why)) != 0) {
            if (rc == -EINVAL)
                errf(err, errlen, rc, "environment %s: option '%s' %s", config_options[id].env, config_options[id].name,
                     why);
            config_release(c);
            return rc;
        }
        set_value(c, id, norm, CONFIG_SRC_ENV, 0);
    }
    for (int id = 0; id < CFG_COUNT; id++) {
        char *norm = NULL;
        if (!flagv[id]) continue;
        if (!*flagv[id]) { /* --x '': not set, whatever came before */
            set_value(c, id, NULL, CONFIG_SRC_FLAG, 0);
            continue;
        }
        if ((rc = check_value(&config_options[id], flagv[id], &norm, why, sizeof why)) != 0) {
            if (rc == -EINVAL)
                errf(err, errlen, rc, "%s: option '%s' %s", config_options[id].flag, config_options[id].name, why);
            config_release(c);
            return rc;
        }
        set_value(c, id, norm, CONFIG_SRC_FLAG, 0);
    }
    /* the defaults */
    for (int id = 0; id < CFG_COUNT; id++) {
        if (c->value[id] || c->source[id] != CONFIG_SRC_DEFAULT || !config_options[id].def[0]) continue;
        if ((rc = check_value(&config_options[id], config_options[id].def, &c->value[id], why, sizeof why)) != 0) {
            errf(err, errlen, rc, "the default of '%s' %s", config_options[id].name, why); /* a bug in the table */
            config_release(c);
            return rc;
        }
    }
    /* a secret in the file: the file must be private (like DIR/admin.key) */
    for (int id = 0; id < CFG_COUNT; id++)
        if (config_options[id].type == CONFIG_SECRET && c->source[id] == CONFIG_SRC_FILE && stat(c->file, &st) == 0 &&
            (st.st_mode & 077)) {
            errf(err, errlen, -EINVAL, "%s:%d: option '%s' holds a secret but the file's mode is %04o: chmod 600 %s",
                 c->file, c->line[id], config_options[id].name, (unsigned)(st.st_mode & 07777), c->file);
            config_release(c);
            return -EINVAL;
        }
    return 0;
}

const char *config_str(const struct config *c, enum config_id id) { return c->value[id] ? c->value[id] : ""; }

long long config_int(const struct config *c, enum config_id id)
{
    return c->value[id] ? strtoll(c->value[id], NULL, 10) : 0;
}

int config_is_set(const struct config *c, enum config_id id) { return c->value[id] && c->value[id][0]; }

const char *config_where(const struct config *c, enum config_id id, char *buf, size_t len)
{
    switch (c->source[id]) {
    case CONFIG_SRC_FILE: snprintf(buf, len, "%s:%d", c->file, c->line[id]); break;
    case CONFIG_SRC_ENV: snprintf(buf, len, "%s", config_options[id].env); break;
    case CONFIG_SRC_FLAG: snprintf(buf, len, "%s", config_options[id].flag); break;
    default: snprintf(buf, len, "default"); break;
    }
    return buf;
}

int config_export(const struct config *c)
{
    for (int id = 0; id < CFG_COUNT; id++) {
        if (!(config_options[id].flags & CONFIG_EXPORT)) continue;
        if (c->source[id] == CONFIG_SRC_DEFAULT) continue; /* the reader's own default applies */
        if (c->value[id] ? setenv(config_options[id].env, c->value[id], 1) : unsetenv(config_options[id].env))
            return -errno;
    }
    return 0;
}

static const char *shown_default(const struct config_option *o)
{
    if (o->type == CONFIG_BOOL && o->def[0]) return strcmp(o->def, "1") == 0 || strcmp(o->def, "true") == 0 ? "true" : "false";
    return o->def[0] ? o->def : "(not set)";
}

void config_print_usage(FILE *f)
{
    char t[96], flag[64];
    int first = 1;
    fprintf(f, "usage: cofferd [--config FILE|none] [--check-config] [--version] [--help] [OPTION...]\n"
               "               [--print-config-table] [--print-config-example]\n"
               "Each setting is taken from its flag, else its environment variable, else the configuration\n"
               "file, else its default. A bad value stops cofferd with exit status 2 and a message naming\n"
               "the file and line, the variable or the flag, the option and the problem.\n"
               "  --config FILE|none        the configuration file (else COFFER_CONFIG, else %s\n"
               "                            when it exists; none: no file)\n"
               "  --check-config            check the settings, say whether they are valid, exit 0 or 2\n"
               "  --print-config-table      print the table of every option (docs/operations.md) and exit\n"
               "  --print-config-example    print a configuration file with every option and exit\n"
               "  --version                 print the version and exit\n"
               "  --help                    print this help and exit\n",
            CONFIG_DEFAULT_FILE);
    for (int i = 0; i < CFG_COUNT; i++) {
        const struct config_option *o = &config_options[i];
        if (!o->flag) continue;
        snprintf(flag, sizeof flag, "%s%s", o->flag, o->type == CONFIG_BOOL ? "" : " VALUE");
        fprintf(f, "  %-26s%s\n                            %s, default %s; %s, file: %s\n", flag, o->help,
                type_name(o, t, sizeof t), shown_default(o), o->env, o->name);
    }
    for (int i = 0; i < CFG_COUNT; i++) {
        const struct config_option *o = &config_options[i];
        if (o->flag) continue;
        fprintf(f, "%s%s (file: %s): %s\n", first ? "  environment: " : "               ", o->env, o->name, o->help);
        first = 0;
    }
    fprintf(f, "               (secrets: no flag; in the file only when it is private, mode 0600)\n");
}

/* cell: text for a Markdown table cell ('|' escaped) in buf. */
static const char *cell(const char *text, char *buf, size_t len)
{
    size_t o = 0;
    for (; *text && o + 3 < len; text++) {
        if (*text == '|') buf[o++] = '\\';
        buf[o++] = *text;
    }
    buf[o] = '\0';
    return buf;
}

void config_print_table(FILE *f)
{
    char t[96], tc[128], hc[256];
    fprintf(f, "| Option (file) | Flag | Environment | Type | Default | Meaning |\n"
               "|---|---|---|---|---|---|\n");
    for (int i = 0; i < CFG_COUNT; i++) {
        const struct config_option *o = &config_options[i];
        fprintf(f, "| `%s` | %s%s%s | `%s` | %s | %s%s%s | %s |\n", o->name, o->flag ? "`" : "", o->flag ? o->flag : "-",
                o->flag ? "`" : "", o->env, cell(type_name(o, t, sizeof t), tc, sizeof tc), o->def[0] ? "`" : "",
                shown_default(o), o->def[0] ? "`" : "", cell(o->help, hc, sizeof hc));
    }
}

void config_print_example(const struct config *c, FILE *f)
{
    char t[96];
    fprintf(f, "# cofferd.conf: the settings of cofferd (docs/operations.md, \"Configuration\").\n"
               "# One 'name = value' per line; '#' starts a comment line. A flag or an environment variable\n"
               "# given to cofferd overrides the value here. Check the file with: cofferd --check-config\n"
               "# Every option is listed with its meaning; one at its default is commented out: uncomment\n"
               "# it to change it.\n");
    for (int i = 0; i < CFG_COUNT; i++) {
        const struct config_option *o = &config_options[i];
        const char *v = c && c->source[i] != CONFIG_SRC_DEFAULT && o->type != CONFIG_SECRET ? c->value[i] : NULL;
        fprintf(f, "\n# %s (%s; %s)\n", o->help, type_name(o, t, sizeof t), o->env);
        if (v && *v) fprintf(f, "%s = %s\n", o->name, v);
        else if (o->def[0]) fprintf(f, "#%s = %s\n", o->name, o->type == CONFIG_BOOL ? shown_default(o) : o->def);
        else fprintf(f, "#%s =\n", o->name);
    }
}
