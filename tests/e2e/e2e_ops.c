/* e2e_ops.c: the daemon's operations surface on the real binary: the configuration file, request ids
 * and the /metrics of jobs.
 *
 * Configuration (util/config.h): precedence flag > environment > file > default, seen in `cofferd
 * --print-config-example` (the resolved values) and in a running daemon (workers and metrics_public
 * from a file named by COFFER_CONFIG, then overridden by the environment); every kind of error
 * (unknown option, bad integer, out of range, bad boolean, bad choice, bad address, a name twice, a
 * line without '=', a secret in a file others can read, a bad environment value, a bad flag) exits 2
 * naming FILE:LINE (or the variable or flag) and the option, and starts nothing; --check-config
 * exits 0 on a good file; docs/operations.md's table equals `cofferd --print-config-table`,
 * packaging/cofferd.conf equals `cofferd --config none --data-dir /var/lib/coffer
 * --print-config-example` (in an empty environment) and --help names every option.
 *
 * Request ids: a sane X-Request-Id comes back in the answer's header, is on the request's log line
 * and in its audit row; an insane one (blanks, too long) is replaced by the daemon's own, which is in
 * the header and the audit row. JSON log lines (--log-format json via the environment) parse as JSON
 * and carry the request id; at log_level debug a GET is logged (at debug), at the default info it is not.
 *
 * Metrics: after a backup, coffer_job_bytes_read_total and coffer_job_bytes_stored_total of kind
 * backup grew by the run's bytesRead and bytesWritten (and bytesRead is the files' size), the
 * finished counter and the duration histogram's count by one; while a restore is held Running (test
 * hook) the queue depth shows it; after it, the restore kind's counters grew by the bytes restored,
 * the throughput histogram counted it and the last throughput is > 0; the restored files equal the
 * originals byte for byte; the route latency histogram counted the requests made; and every /metrics
 * answer passes a strict check of the Prometheus text format (prom_check below). */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/rawhttp.h"
#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T "ops-a"
#define GRP "/v2/data-protect/protection-groups"

static struct daemon d;
static char *g_tmp;

static const char *bin(void)
{
    const char *b = getenv("COFFER_BIN");
    return b && *b ? b : "build/asan/cofferd";
}

/* run_cmd: runs argv with env (NULL-terminated "K=V" list, the whole environment) and captures
 * stdout and stderr; returns the exit status (-1: did not run or was killed). */
static int run_cmd(char *const argv[], char *const env[], char *out, size_t outlen, char *err, size_t errlen)
{
    char of[700], ef[700];
    int status = 0;
    pid_t pid;
    snprintf(of, sizeof of, "%s/cmd.out", g_tmp);
    snprintf(ef, sizeof ef, "%s/cmd.err", g_tmp);
    if ((pid = fork()) < 0) return -1;
    if (pid == 0) {
        int o = open(of, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(ef, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0) _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        execve(argv[0], argv, env);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid) return -1;
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(k ? ef : of, "r");
        char *buf = k ? err : out;
        size_t len = k ? errlen : outlen, n = 0;
        if (!buf) continue;
        if (f) {
            n = fread(buf, 1, len - 1, f);
            fclose(f);
        }
        buf[n] = '\0';
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *const no_env[] = { "ASAN_OPTIONS=detect_leaks=1", NULL };

static int write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    if (fclose(f) != 0) return -1;
    return chmod(path, mode);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---------- a strict check of the Prometheus text format (0.0.4) ---------- */

#define PROM_MAX 4096
struct prom {
    char fam[PROM_MAX][128];    /* families in order of appearance */
    char type[PROM_MAX][16];
    int nfam;
    char *series[PROM_MAX * 4]; /* every "name{labels}" seen (duplicates are errors) */
    int nseries;
    /* histogram bookkeeping: per series without le, the last bucket value and +Inf */
    char hkey[PROM_MAX][1200];
    double hlast[PROM_MAX], hinf[PROM_MAX], hcount[PROM_MAX];
    int hhas_inf[PROM_MAX], hhas_count[PROM_MAX], nh;
};

static int name_ok(const char *s, size_t n, int metric)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (!(isalpha(c) || c == '_' || (metric && c == ':') || (i > 0 && isdigit(c)))) return 0;
    }
    return 1;
}

static int fam_index(struct prom *p, const char *name)
{
    for (int i = 0; i < p->nfam; i++)
        if (strcmp(p->fam[i], name) == 0) return i;
    return -1;
}

static int value_ok(const char *v, double *out)
{
    char *end;
    if (strcmp(v, "+Inf") == 0 || strcmp(v, "-Inf") == 0 || strcmp(v, "NaN") == 0) {
        *out = v[0] == '-' ? -1e308 : 1e308;
        return 1;
    }
    *out = strtod(v, &end);
    return end != v && *end == '\0';
}

static int hist_slot(struct prom *p, const char *key)
{
    for (int i = 0; i < p->nh; i++)
        if (strcmp(p->hkey[i], key) == 0) return i;
    if (p->nh == PROM_MAX) return -1;
    snprintf(p->hkey[p->nh], sizeof p->hkey[0], "%s", key);
    p->hlast[p->nh] = -1;
    return p->nh++;
}

/* prom_check: 0 when text is valid exposition format with consistent histograms, else -1 with the
 * line and problem in why. */
static int prom_check(const char *text, char *why, size_t whylen)
{
    struct prom *p = calloc(1, sizeof *p);
    const char *line = text;
    int lineno = 0, cur = -1, rc = 0;
    if (!p) return -1;
#define BAD(...) do { snprintf(why, whylen, __VA_ARGS__); rc = -1; goto out; } while (0)
    if (!*text || text[strlen(text) - 1] != '\n') BAD("the text does not end with a newline");
    while (*line) {
        const char *eol = strchr(line, '\n');
        char l[4096], name[128], labels[1024] = "", nole[1024] = "", le[64] = "", val[64], key[1300];
        size_t n = (size_t)(eol - line), nl;
        const char *q;
        int fi;
        double v;
        lineno++;
        if (n >= sizeof l) BAD("line %d is too long", lineno);
        memcpy(l, line, n);
        l[n] = '\0';
        line = eol + 1;
        if (n == 0) continue;
        if (l[0] == '#') {
            char kw[8], fname[128], rest[512] = "";
            if (sscanf(l, "# %7s %127s %511[^\n]", kw, fname, rest) < 2) continue; /* a plain comment */
            if (strcmp(kw, "HELP") != 0 && strcmp(kw, "TYPE") != 0) continue;
            if (!name_ok(fname, strlen(fname), 1)) BAD("line %d: bad metric name '%s'", lineno, fname);
            fi = fam_index(p, fname);
            if (fi >= 0 && fi != cur) BAD("line %d: family %s appears again after others", lineno, fname);
            if (fi < 0) {
                if (p->nfam == PROM_MAX) BAD("too many families");
                fi = p->nfam++;
                snprintf(p->fam[fi], sizeof p->fam[0], "%s", fname);
            }
            if (strcmp(kw, "TYPE") == 0) {
                if (p->type[fi][0]) BAD("line %d: a second TYPE for %s", lineno, fname);
                if (strcmp(rest, "counter") && strcmp(rest, "gauge") && strcmp(rest, "histogram") &&
                    strcmp(rest, "summary") && strcmp(rest, "untyped"))
                    BAD("line %d: unknown type '%s'", lineno, rest);
                for (int s = 0; s < p->nseries; s++)
                    if (strncmp(p->series[s], fname, strlen(fname)) == 0 &&
                        (p->series[s][strlen(fname)] == '{' || p->series[s][strlen(fname)] == '\0'))
                        BAD("line %d: TYPE of %s after its samples", lineno, fname);
                snprintf(p->type[fi], sizeof p->type[0], "%.15s", rest);
            }
            cur = fi;
            continue;
        }
        nl = strcspn(l, "{ ");
        if (nl >= sizeof name || !name_ok(l, nl, 1)) BAD("line %d: bad metric name in '%s'", lineno, l);
        memcpy(name, l, nl);
        name[nl] = '\0';
        q = l + nl;
        if (*q == '{') {
            const char *s = q + 1;
            size_t lo = 0, no = 0;
            int first = 1;
            for (;;) {
                size_t ln;
                char lname[64];
                if (*s == '}') break;
                if (!first) {
                    if (*s != ',') BAD("line %d: expected ',' between labels", lineno);
                    s++;
                    if (*s == '}') break;
                }
                first = 0;
                ln = strcspn(s, "=");
                if (ln >= sizeof lname || !name_ok(s, ln, 0)) BAD("line %d: bad label name", lineno);
                memcpy(lname, s, ln);
                lname[ln] = '\0';
                s += ln;
                if (s[0] != '=' || s[1] != '"') BAD("line %d: label %s without a quoted value", lineno, lname);
                s += 2;
                {
                    char value[512];
                    size_t vo = 0;
                    while (*s && *s != '"') {
                        if (*s == '\\') {
                            if (s[1] != '\\' && s[1] != '"' && s[1] != 'n') BAD("line %d: bad escape", lineno);
                            s++;
                        }
                        if (vo + 1 < sizeof value) value[vo++] = *s;
                        s++;
                    }
                    value[vo] = '\0';
                    if (*s != '"') BAD("line %d: unterminated label value", lineno);
                    s++;
                    if (strcmp(lname, "le") == 0) snprintf(le, sizeof le, "%.63s", value);
                    else no += (size_t)snprintf(nole + no, sizeof nole - no, "%s%s=\"%s\"", no ? "," : "", lname, value);
                    lo += (size_t)snprintf(labels + lo, sizeof labels - lo, "%s%s=\"%s\"", lo ? "," : "", lname, value);
                    if (lo >= sizeof labels || no >= sizeof nole) BAD("line %d: labels too long", lineno);
                }
            }
            q = s + 1;
        }
        if (*q != ' ') BAD("line %d: expected a blank before the value", lineno);
        q++;
        if (sscanf(q, "%63s", val) != 1 || !value_ok(val, &v)) BAD("line %d: bad value '%s'", lineno, q);
        q += strlen(val);
        if (*q && (*q != ' ' || strspn(q + 1, "-0123456789") != strlen(q + 1)))
            BAD("line %d: junk after the value", lineno);
        /* its family */
        fi = fam_index(p, name);
        if (fi < 0) {
            static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
            for (int k = 0; k < 3 && fi < 0; k++) {
                size_t sl = strlen(suffixes[k]);
                if (nl > sl && strcmp(name + nl - sl, suffixes[k]) == 0) {
                    char base[128];
                    memcpy(base, name, nl - sl);
                    base[nl - sl] = '\0';
                    fi = fam_index(p, base);
                    if (fi >= 0 && strcmp(p->type[fi], "histogram") != 0 && strcmp(p->type[fi], "summary") != 0)
                        fi = -1;
                }
            }
        }
        if (fi < 0) BAD("line %d: sample %s has no TYPE", lineno, name);
        if (fi != cur) BAD("line %d: sample of %s outside its family's block", lineno, p->fam[fi]);
        if (strcmp(p->type[fi], "counter") == 0 && v < 0) BAD("line %d: a negative counter", lineno);
        snprintf(key, sizeof key, "%s{%s}", name, labels);
        for (int s = 0; s < p->nseries; s++)
            if (strcmp(p->series[s], key) == 0) BAD("line %d: series %s twice", lineno, key);
        if (p->nseries == PROM_MAX * 4) BAD("too many series");
        p->series[p->nseries++] = strdup(key);
        if (strcmp(p->type[fi], "histogram") == 0) {
            char hk[1200];
            int h;
            snprintf(hk, sizeof hk, "%s{%s}", p->fam[fi], nole);
            if ((h = hist_slot(p, hk)) < 0) BAD("too many histograms");
            if (strcmp(name + strlen(p->fam[fi]), "_bucket") == 0) {
                if (!le[0]) BAD("line %d: a bucket without le", lineno);
                if (p->hhas_inf[h]) BAD("line %d: a bucket after +Inf", lineno);
                if (v < p->hlast[h]) BAD("line %d: bucket le=%s decreases", lineno, le);
                p->hlast[h] = v;
                if (strcmp(le, "+Inf") == 0) {
                    p->hhas_inf[h] = 1;
                    p->hinf[h] = v;
                }
            } else if (strcmp(name + strlen(p->fam[fi]), "_count") == 0) {
                p->hhas_count[h] = 1;
                p->hcount[h] = v;
            }
        }
    }
    for (int h = 0; h < p->nh; h++)
        if (!p->hhas_inf[h] || !p->hhas_count[h] || p->hinf[h] != p->hcount[h])
            BAD("histogram %s: +Inf bucket %g and count %g", p->hkey[h], p->hinf[h], p->hcount[h]);
out:
    for (int s = 0; s < p->nseries; s++) free(p->series[s]);
    free(p);
    return rc;
#undef BAD
}

/* metric: the value of the sample line that starts with name (with its labels), or -1. */
static double metric(const char *body, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
    return -1;
}

/* scrape: GET /metrics into *body (caller frees), checked by prom_check. 0 or -1. */
static int scrape(struct daemon *dd, char **body)
{
    struct http_resp r;
    char why[512];
    *body = NULL;
    if (http(dd, "GET", "/metrics", NULL, NULL, &r) != 0 || r.status != 200 || !r.body) {
        http_resp_release(&r);
        fprintf(stderr, "GET /metrics failed\n");
        return -1;
    }
    if (prom_check(r.body, why, sizeof why) != 0) {
        fprintf(stderr, "/metrics is not valid exposition format: %s\n", why);
        http_resp_release(&r);
        return -1;
    }
    *body = strdup(r.body);
    http_resp_release(&r);
    return *body ? 0 : -1;
}

static double zero_if_absent(double v) { return v < 0 ? 0 : v; }

/* ---------- configuration ---------- */

TEST(prom_check_refuses_bad_exposition_text)
{
    char why[256];
    CHECK(prom_check("# TYPE a counter\na 1\n", why, sizeof why) == 0);
    CHECK(prom_check("a 1\n", why, sizeof why) != 0);                                  /* no TYPE */
    CHECK(prom_check("# TYPE a counter\na{x=\"1} 1\n", why, sizeof why) != 0);          /* unterminated */
    CHECK(prom_check("# TYPE a counter\na 1\na 2\n", why, sizeof why) != 0);            /* twice */
    CHECK(prom_check("# TYPE a counter\na -1\n", why, sizeof why) != 0);                /* negative */
    CHECK(prom_check("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n",
                     why, sizeof why) != 0);                                            /* decreasing */
    CHECK(prom_check("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\nh_sum 0\n", why, sizeof why) != 0);
    CHECK(prom_check("# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"y\"} 1\n", why, sizeof why) != 0);
    CHECK(prom_check("# TYPE a gauge\na 1x\n", why, sizeof why) != 0);
}

TEST(precedence_is_flag_then_environment_then_file_then_default)
{
    char conf[700], out[65536], err[4096], env_w[] = "COFFER_WORKERS=5", env_r[] = "COFFER_RESERVE_MB=7";
    char *const env[] = { env_w, env_r, NULL };
    snprintf(conf, sizeof conf, "%s/prec.conf", g_tmp);
    CHECK(write_file(conf, "# precedence\nworkers = 4\naudit_retention_days = 100\nreserve_mb = 3\n"
                           "log_level = \"warn\"\n", 0644) == 0);
    CHECK_EQ_INT(run_cmd((char *const[]){ (char *)bin(), "--config", conf, "--reserve-mb", "2", "--print-config-example",
                                          NULL }, env, out, sizeof out, err, sizeof err), 0);
    CHECKF(strstr(out, "\nworkers = 5\n") != NULL, "environment over file: %s", out);
    CHECKF(strstr(out, "\nreserve_mb = 2\n") != NULL, "flag over environment and file");
    CHECK(strstr(out, "\naudit_retention_days = 100\n") != NULL); /* file over default */
    CHECK(strstr(out, "\nlog_level = warn\n") != NULL);            /* quotes removed */
    CHECK(strstr(out, "\n#verify_read_pct = 10\n") != NULL);       /* the default, commented */
    CHECK(strstr(out, "\n#admin_key =\n") != NULL);
}

TEST(file_settings_take_effect_in_the_daemon_and_environment_overrides_them)
{
    char conf[700], env_conf[800], log[65536];
    const char *env1[] = { env_conf, NULL };
    const char *env2[] = { env_conf, "COFFER_WORKERS=1", "COFFER_METRICS_PUBLIC=false", NULL };
    struct daemon fd;
    struct http_resp r;
    FILE *f;
    size_t n;
    snprintf(conf, sizeof conf, "%s/daemon.conf", g_tmp);
    CHECK(write_file(conf, "workers = 3\nmetrics_public = true\n# the admin key is the harness's (environment)\n", 0644) == 0);
    snprintf(env_conf, sizeof env_conf, "COFFER_CONFIG=%s", conf);
    CHECK(daemon_start(&fd, env1) == 0);
    CHECK(http_raw(&fd, "GET", "/metrics", NULL, NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 200); /* metrics_public = true from the file */
    http_resp_release(&r);
    CHECK((f = fopen(fd.log_path, "r")) != NULL);
    n = fread(log, 1, sizeof log - 1, f);
    log[n] = '\0';
    fclose(f);
    CHECKF(strstr(log, "backup: started with 3 worker(s)") != NULL, "workers from the file: %s", log);
    CHECK(strstr(log, "configuration file ") != NULL);
    CHECK_EQ_INT(daemon_stop(&fd), 0);
    CHECK(daemon_start(&fd, env2) == 0);
    CHECK(http_raw(&fd, "GET", "/metrics", NULL, NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 401); /* the environment's false wins over the file's true */
    http_resp_release(&r);
    CHECK((f = fopen(fd.log_path, "r")) != NULL);
    n = fread(log, 1, sizeof log - 1, f);
    log[n] = '\0';
    fclose(f);
    CHECKF(strstr(log, "backup: started with 1 worker(s)") != NULL, "workers from the environment: %s", log);
    CHECK_EQ_INT(daemon_stop(&fd), 0);
    /* any spelling of a boolean, from the environment too, reaches the module that reads it */
    CHECK(daemon_start(&fd, (const char *const[]){ "COFFER_METRICS_PUBLIC=yes", NULL }) == 0);
    CHECK(http_raw(&fd, "GET", "/metrics", NULL, NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_release(&r);
    CHECK_EQ_INT(daemon_stop(&fd), 0);
}

TEST(every_error_names_the_place_and_the_option_and_exits_2)
{
    static const struct {
        const char *text;
        const char *want[3]; /* substrings of the message; ":LINE" is checked with the file name */
        int line;
    } cases[] = {
        { "workers = 4\n\n# c\nno_such_option = 1\n", { "unknown option 'no_such_option'" }, 4 },
        { "# c\nworkers = many\n", { "'workers'", "integer 1..64", "'many'" }, 2 },
        { "workers = 65\n", { "'workers'", "1..64", "'65'" }, 1 },
        { "reserve_mb = 0\nno_tls = maybe\n", { "'no_tls'", "true or false", "'maybe'" }, 2 },
        { "log_level = loud\n", { "'log_level'", "debug|info|warn|error", "'loud'" }, 1 },
        { "listen = 127.0.0.1\n", { "'listen'", "HOST:PORT", "'127.0.0.1'" }, 1 },
        { "listen = 127.0.0.1:99999\n", { "'listen'", "HOST:PORT" }, 1 },
        { "workers = 2\nworkers = 3\n", { "'workers'", "already set on line 1" }, 2 },
        { "\n\nworkers 3\n", { "expected 'name = value'" }, 3 },
        { "s3_endpoint = ftp://x\n", { "'s3_endpoint'", "http://" }, 1 },
        { "audit_retention_days = 0\n", { "'audit_retention_days'", "1..36600" }, 1 },
    };
    char conf[700], out[4096], err[4096], where[760], data[700];
    struct stat st;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(conf, sizeof conf, "%s/bad%zu.conf", g_tmp, i);
        snprintf(data, sizeof data, "%s/never%zu", g_tmp, i);
        CHECK(write_file(conf, cases[i].text, 0644) == 0);
        /* --check-config, and a real start (which must not create anything) */
        for (int real = 0; real < 2; real++) {
            int rc = run_cmd((char *const[]){ (char *)bin(), "--config", conf, real ? "--data-dir" : "--check-config",
                                              real ? data : NULL, NULL },
                             no_env, out, sizeof out, err, sizeof err);
            CHECKF(rc == 2, "case %zu: exit %d, stderr %s", i, rc, err);
            snprintf(where, sizeof where, "%s:%d: ", conf, cases[i].line);
            CHECKF(strstr(err, where) != NULL, "case %zu: '%s' not in '%s'", i, where, err);
            for (int k = 0; k < 3 && cases[i].want[k]; k++)
                CHECKF(strstr(err, cases[i].want[k]) != NULL, "case %zu: '%s' not in '%s'", i, cases[i].want[k], err);
            CHECKF(stat(data, &st) != 0, "case %zu: the data directory was created", i);
        }
    }
    /* the environment and the flags are named too */
    {
        char bad_env[] = "COFFER_WORKERS=0";
        char *const env[] = { bad_env, NULL };
        CHECK_EQ_INT(run_cmd((char *const[]){ (char *)bin(), "--config", "none", "--check-config", NULL }, env, out,
                             sizeof out, err, sizeof err), 2);
        CHECKF(strstr(err, "environment COFFER_WORKERS: option 'workers'") && strstr(err, "'0'"), "%s", err);
        CHECK_EQ_INT(run_cmd((char *const[]){ (char *)bin(), "--config", "none", "--verify-read-pct", "101",
                                              "--check-config", NULL }, no_env, out, sizeof out, err, sizeof err), 2);
        CHECKF(strstr(err, "--verify-read-pct: option 'verify_read_pct'") && strstr(err, "0..100"), "%s", err);
        CHECK_EQ_INT(run_cmd((char *const[]){ (char *)bin(), "--no-such-flag", NULL }, no_env, out, sizeof out, err,
                             sizeof err), 2);
        CHECKF(strstr(err, "'--no-such-flag'") != NULL, "%s", err);
        CHECK_EQ_INT(run_cmd((char *const[]){ (char *)bin(), "--config", "/nonexistent/cofferd.conf", "--check-config",
                                              NULL }, no_env, out, sizeof out, err, sizeof err), 2);
        CHECKF(strstr(err, "/nonexistent/cofferd.conf") != NULL, "%s", err);
    }
    /* a secret in a file others may read */
    snprintf(conf, sizeof conf, "%s/secret.conf", g_tmp);
    CHECK(write_file(conf, "workers = 2\nadmin_key = 0123456789abcdef0123\n", 0644) == 0);
    CHECK_EQ_INT(run_cmd((char *const[]){ (char *)bin(), "--config", conf, "--check-config", NULL }, no_env, out,
                         sizeof out, err, sizeof err), 2);
    snprintf(where, sizeof where, "%s:2: option 'admin_key'", conf);
    CHECKF(strstr(err, where) && strstr(err, "chmod 600"), "%s", err);
    CHECK(chmod(conf, 0600) == 0);
    CHECK_EQ_INT(run_cmd((char *const[]){ (char *)bin(), "--config", conf, "--check-config", NULL }, no_env, out,
                         sizeof out, err, sizeof err), 0);
    CHECKF(strstr(out, "valid") && strstr(out, conf), "%s", out);
    CHECK(strstr(out, "0123456789abcdef0123") == NULL && strstr(err, "0123456789abcdef0123") == NULL);
}

TEST(documentation_table_equals_the_binary)
{
    static char out[131072];
    char err[4096], *doc = slurp("docs/operations.md");
    const char *b, *e;
    static const char begin[] = "<!-- config-table: begin (cofferd --print-config-table) -->\n",
                      end[] = "<!-- config-table: end -->";
    CHECK(doc != NULL);
    b = strstr(doc, begin);
    e = b ? strstr(b, end) : NULL;
    CHECKF(b && e, "docs/operations.md has no config-table markers");
    b += strlen(begin);
    CHECK_EQ_INT(run_cmd((char *const[]){ (char *)bin(), "--print-config-table", NULL }, no_env, out, sizeof out, err,
                         sizeof err), 0);
    CHECKF(strlen(out) == (size_t)(e - b) && memcmp(out, b, strlen(out)) == 0,
           "docs/operations.md's table differs from cofferd --print-config-table:\n%s", out);
    free(doc);
}

TEST(packaged_example_equals_the_binary_and_help_names_every_option)
{
    static char out[131072], help[131072];
    char err[4096], *pkg = slurp("packaging/cofferd.conf"), *table;
    CHECK(pkg != NULL);
    CHECK_EQ_INT(run_cmd((char *const[]){ (char *)bin(), "--config", "none", "--data-dir", "/var/lib/coffer",
                                          "--print-config-example", NULL }, no_env, out, sizeof out, err, sizeof err), 0);
    CHECKF(strcmp(out, pkg) == 0, "packaging/cofferd.conf differs from the binary's example:\n%s", out);
    free(pkg);
    CHECK_EQ_INT(run_cmd((char *const[]){ (char *)bin(), "--help", NULL }, no_env, help, sizeof help, err, sizeof err), 0);
    CHECK_EQ_INT(run_cmd((char *const[]){ (char *)bin(), "--print-config-table", NULL }, no_env, out, sizeof out, err,
                         sizeof err), 0);
    /* every row's environment variable (the third column) is in --help, and in the example */
    table = out;
    for (char *p = strstr(table, "| `"); p; p = strstr(p + 1, "\n| `")) {
        char envv[64];
        const char *c = strstr(p, "`COFFER_");
        CHECK(c != NULL);
        CHECK(sscanf(c + 1, "%63[A-Z0-9_]", envv) == 1);
        CHECKF(strstr(help, envv) != NULL, "--help does not name %s", envv);
    }
    CHECK(strstr(help, "COFFER_WORKERS") && strstr(help, "--workers") && strstr(help, "--config"));
}

/* ---------- request ids ---------- */

/* header_value: the value of header name in a raw answer head (case-insensitive name) into buf. */
static int header_value(const char *head, const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    for (const char *p = head; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL)
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1 + strspn(p + n + 1, " ");
            size_t vl = strcspn(v, "\r\n");
            if (vl >= len) vl = len - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return 0;
        }
    return -1;
}

/* post_with_id: POSTs a policy with X-Request-Id hdr_id (NULL: none); the answer's X-Request-Id
 * into got; returns the status. */
static int post_with_id(struct daemon *dd, const char *hdr_id, const char *name, char *got, size_t gotlen)
{
    char idh[600], body[300];
    const char *headers[] = { "Authorization: Bearer " HARNESS_KEY, "X-IBM-Tenant-Id: " T,
                              "Content-Type: application/json", hdr_id ? idh : NULL, NULL };
    struct raw_resp r;
    size_t n;
    char *req;
    int status;
    snprintf(idh, sizeof idh, "X-Request-Id: %s", hdr_id ? hdr_id : "");
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"backupPolicy\":{\"regular\":{\"incremental\":{\"schedule\":"
                                "{\"unit\":\"Days\",\"daySchedule\":{\"frequency\":1}}},\"retention\":{\"unit\":"
                                "\"Days\",\"duration\":7}}}}", name);
    req = rawhttp_build("POST", "/v2/data-protect/policies", 0, headers, body, strlen(body), &n);
    if (!req) return -1;
    if (rawhttp_send(dd->port, req, n, 20000, &r) != 0) {
        free(req);
        raw_resp_release(&r);
        return -1;
    }
    free(req);
    got[0] = '\0';
    if (r.head) header_value(r.head, "X-Request-Id", got, gotlen);
    status = r.status;
    raw_resp_release(&r);
    return status;
}

/* audit_has: the newest audit entry of the policies route has requestId id. */
static int audit_has(struct daemon *dd, const char *id)
{
    struct http_resp r;
    int found = 0;
    if (http(dd, "GET", "/v2/coffer/audit?route=/v2/data-protect/policies&pageSize=1000", NULL, NULL, &r) != 0) return 0;
    for (size_t i = 0; i < json_array_size(jget(r.json, "entries")); i++) {
        json_t *e = json_array_get(jget(r.json, "entries"), i);
        if (jstr(e, "requestId") && strcmp(jstr(e, "requestId"), id) == 0) found = 1;
    }
    http_resp_release(&r);
    return found;
}

static int log_has(const char *path, const char *a, const char *b)
{
    char line[8192];
    FILE *f = fopen(path, "r");
    int found = 0;
    if (!f) return 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, a) && (!b || strstr(line, b));
    fclose(f);
    return found;
}

TEST(request_id_is_echoed_logged_and_audited)
{
    char got[128], want[160];
    CHECK_EQ_INT(post_with_id(&d, "e2e-ops.req:42", "rid-policy", got, sizeof got), 201);
    CHECKF(strcmp(got, "e2e-ops.req:42") == 0, "X-Request-Id came back as '%s'", got);
    snprintf(want, sizeof want, "request_id=%s", got);
    CHECKF(log_has(d.log_path, want, "POST /v2/data-protect/policies 201"), "no log line with %s", want);
    CHECKF(audit_has(&d, got), "no audit row with request id %s", got);
    /* an id with a blank, or too long, is replaced by the daemon's own */
    CHECK_EQ_INT(post_with_id(&d, "bad id", "rid-policy-2", got, sizeof got), 201);
    CHECKF(got[0] && strcmp(got, "bad id") != 0 && strchr(got, ' ') == NULL, "X-Request-Id '%s'", got);
    CHECKF(audit_has(&d, got), "no audit row with the daemon's request id %s", got);
    snprintf(want, sizeof want, "request_id=%s", got);
    CHECK(log_has(d.log_path, want, NULL));
    {
        char longid[100];
        memset(longid, 'a', 65);
        longid[65] = '\0';
        CHECK_EQ_INT(post_with_id(&d, longid, "rid-policy-3", got, sizeof got), 201);
        CHECKF(got[0] && strcmp(got, longid) != 0, "X-Request-Id '%s'", got);
        CHECK(audit_has(&d, got));
    }
    /* without one, still an id */
    CHECK_EQ_INT(post_with_id(&d, NULL, "rid-policy-4", got, sizeof got), 201);
    CHECK(got[0]);
    /* the default level is info: the GETs of this daemon wrote no debug line */
    CHECK(!log_has(d.log_path, "level=debug", NULL));
    CHECK(log_has(d.log_path, "level=info", NULL));
}

TEST(json_log_lines_parse_and_carry_the_request_id)
{
    const char *env[] = { "COFFER_LOG_FORMAT=json", "COFFER_LOG_LEVEL=debug", NULL };
    struct daemon jd;
    struct http_resp r;
    char got[128], line[8192];
    FILE *f;
    int lines = 0, with_id = 0, debug_get = 0;
    CHECK(daemon_start(&jd, env) == 0);
    CHECK_EQ_INT(post_with_id(&jd, "json-req-7", "json-policy", got, sizeof got), 201);
    CHECK(http_raw(&jd, "GET", "/healthz", NULL, NULL, NULL, 0, &r) == 0); /* logged at debug */
    CHECK_EQ_INT(r.status, 200);
    http_resp_release(&r);
    CHECK_EQ_INT(daemon_kill(&jd, SIGTERM), 0); /* the log stays until daemon_stop */
    CHECK((f = fopen(jd.log_path, "r")) != NULL);
    while (fgets(line, sizeof line, f)) {
        json_t *j;
        if (line[0] != '{') continue; /* the ready lines on stdout, sanitizer output */
        j = json_loads(line, 0, NULL);
        CHECKF(j && jstr(j, "ts") && jstr(j, "level") && jstr(j, "msg"), "not a JSON log line: %s", line);
        lines++;
        if (jstr(j, "request_id") && strcmp(jstr(j, "request_id"), "json-req-7") == 0) with_id++;
        if (strcmp(jstr(j, "level"), "debug") == 0 && strncmp(jstr(j, "msg"), "http GET /healthz 200 ", 22) == 0 &&
            jstr(j, "request_id"))
            debug_get++;
        json_decref(j);
    }
    fclose(f);
    daemon_stop(&jd);
    CHECKF(lines >= 5 && with_id >= 1, "%d JSON lines, %d with the request id", lines, with_id);
    CHECKF(debug_get == 1, "%d debug lines of GET /healthz (log_level debug)", debug_get);
}

/* ---------- metrics after a backup and a restore ---------- */

static long long g_host;
static char g_policy[128], g_group[128], g_snap[80], g_tree[600];
static long long g_tree_bytes;

static int write_random(const char *path, size_t size)
{
    static unsigned long long x = 0x9e3779b97f4a7c15ull;
    unsigned char *buf = malloc(size);
    FILE *f = fopen(path, "wb");
    int ok = buf && f;
    for (size_t i = 0; ok && i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)(x >> 32);
    }
    if (ok) ok = fwrite(buf, 1, size, f) == size;
    if (f && fclose(f) != 0) ok = 0;
    free(buf);
    return ok ? 0 : -1;
}

static const char *jf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *jf(const char *fmt, ...)
{
    static char bufs[4][8192];
    static int k;
    char *b = bufs[k++ % 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    for (char *p = b; *p; p++)
        if (*p == '\'') *p = '"';
    return b;
}

TEST(backup_moves_the_job_counters_by_the_runs_bytes)
{
    static const size_t sizes[] = { 300000, 123457, 4096 };
    struct http_resp r;
    char p[800], run[64] = "", st[64] = "", *before = NULL, *after = NULL;
    long long bytes_read = -1, bytes_written = -1;
    snprintf(g_tree, sizeof g_tree, "%s/tree", g_tmp);
    CHECK(mkdir(g_tree, 0755) == 0);
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/f%zu.bin", g_tree, i);
        CHECK(write_random(p, sizes[i]) == 0);
        g_tree_bytes += (long long)sizes[i];
    }
    CHECK(http(&d, "POST", "/v2/data-protect/sources/registrations", T,
               jf("{'environment':'kPhysical','physicalParams':{'endpoint':'127.0.0.1','hostType':'kLinux'}}"), &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    g_host = jint(r.json, "sourceInfo.id");
    http_resp_release(&r);
    CHECK(http(&d, "POST", "/v2/data-protect/policies", T,
               jf("{'name':'m','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days',"
                  "'daySchedule':{'frequency':1}}},'retention':{'unit':'Days','duration':7}}}}"), &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    snprintf(g_policy, sizeof g_policy, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    CHECK(http(&d, "POST", GRP, T,
               jf("{'name':'ops','policyId':'%s','environment':'kPhysical','physicalParams':{'protectionType':'kFile',"
                  "'fileProtectionTypeParams':{'objects':[{'id':%lld,'filePaths':[{'includedPath':'%s'}]}]}}}",
                  g_policy, g_host, g_tree), &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    snprintf(g_group, sizeof g_group, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    CHECK(scrape(&d, &before) == 0);
    snprintf(p, sizeof p, GRP "/%s/runs", g_group);
    CHECK(http(&d, "POST", p, T, "{\"runType\":\"kRegular\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 202);
    snprintf(run, sizeof run, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    snprintf(p, sizeof p, GRP "/%s/runs/%s?includeObjectDetails=true", g_group, run);
    for (int i = 0; i < 1200; i++) { /* up to 120 s */
        CHECK(http(&d, "GET", p, T, NULL, &r) == 0);
        snprintf(st, sizeof st, "%s", jstr(r.json, "localBackupInfo.status") ? jstr(r.json, "localBackupInfo.status") : "");
        if (strcmp(st, "Accepted") != 0 && strcmp(st, "Running") != 0 && st[0]) {
            bytes_read = jint(r.json, "localBackupInfo.localSnapshotStats.bytesRead");
            bytes_written = jint(r.json, "localBackupInfo.localSnapshotStats.bytesWritten");
            snprintf(g_snap, sizeof g_snap, "%s",
                     jstr(r.json, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId") ?
                     jstr(r.json, "objects.0.localSnapshotInfo.snapshotInfo.snapshotId") : "");
            http_resp_release(&r);
            break;
        }
        http_resp_release(&r);
        usleep(100 * 1000);
    }
    CHECKF(strcmp(st, "Succeeded") == 0, "run %s ended '%s'", run, st);
    CHECKF(bytes_read == g_tree_bytes, "the run read %lld bytes of %lld", bytes_read, g_tree_bytes);
    CHECK(bytes_written > 0);
    /* the job core reports the end after the catalog has it: poll briefly for the counter */
    for (int i = 0; i < 100; i++) {
        free(after);
        CHECK(scrape(&d, &after) == 0);
        if (metric(after, "coffer_jobs_finished_total{kind=\"backup\",status=\"Succeeded\"}") >= 1) break;
        usleep(50 * 1000);
    }
    CHECK_EQ_INT(metric(after, "coffer_jobs_finished_total{kind=\"backup\",status=\"Succeeded\"}") -
                 zero_if_absent(metric(before, "coffer_jobs_finished_total{kind=\"backup\",status=\"Succeeded\"}")), 1);
    CHECK_EQ_INT(metric(after, "coffer_job_bytes_read_total{kind=\"backup\"}") -
                 zero_if_absent(metric(before, "coffer_job_bytes_read_total{kind=\"backup\"}")), bytes_read);
    CHECK_EQ_INT(metric(after, "coffer_job_bytes_stored_total{kind=\"backup\"}") -
                 zero_if_absent(metric(before, "coffer_job_bytes_stored_total{kind=\"backup\"}")), bytes_written);
    CHECK_EQ_INT(metric(after, "coffer_job_duration_seconds_count{kind=\"backup\"}") -
                 zero_if_absent(metric(before, "coffer_job_duration_seconds_count{kind=\"backup\"}")), 1);
    CHECK(metric(after, "coffer_job_duration_seconds_sum{kind=\"backup\"}") > 0);
    CHECK_EQ_INT(metric(after, "coffer_queue_jobs{kind=\"backup\",state=\"waiting\"}"), 0);
    CHECK_EQ_INT(metric(after, "coffer_queue_jobs{kind=\"backup\",state=\"running\"}"), 0);
    /* the route histogram counted the run's POST */
    CHECK(metric(after, "coffer_http_route_duration_seconds_count{method=\"POST\","
                        "route=\"/v2/data-protect/protection-groups/{id}/runs\"}") >= 1);
    free(before);
    free(after);
}

TEST(restore_shows_in_the_queue_then_moves_the_recovery_counters)
{
    struct http_resp r;
    char alt[700], id[128] = "", st[64] = "", *before = NULL, *mid = NULL, *after = NULL;
    int seen_running = 0;
    long long restored = -1;
    CHECK(g_snap[0]);
    snprintf(alt, sizeof alt, "%s/alt", g_tmp);
    CHECK(scrape(&d, &before) == 0);
    CHECK(http(&d, "POST", "/v2/data-protect/recoveries", T,
               jf("{'name':'ops-restore','snapshotEnvironment':'kPhysical','physicalParams':{'objects':[{'snapshotId':"
                  "'%s'}],'recoveryAction':'RecoverFiles','recoverFileAndFolderParams':{'filesAndFolders':"
                  "[{'absolutePath':'%s','isDirectory':true}],'targetEnvironment':'kPhysical','physicalTargetParams':"
                  "{'recoverTarget':{'id':%lld},'alternateRestoreDirectory':'%s'}}}}", g_snap, g_tree, g_host, alt),
               &r) == 0);
    CHECKF(r.status == 201, "status %ld: %s", r.status, r.body);
    snprintf(id, sizeof id, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    http_resp_release(&r);
    /* the daemon holds each recovery Running for COFFER_TEST_RECOVERY_DELAY_MS: the queue shows it */
    for (int i = 0; i < 200 && !seen_running; i++) {
        free(mid);
        CHECK(scrape(&d, &mid) == 0);
        seen_running = metric(mid, "coffer_queue_jobs{kind=\"restore\",state=\"running\"}") == 1;
        if (!seen_running) usleep(20 * 1000);
    }
    CHECKF(seen_running, "the queue never showed the restore running");
    for (int i = 0; i < 1200; i++) {
        CHECK(http(&d, "GET", jf("/v2/data-protect/recoveries/%s", id), T, NULL, &r) == 0);
        snprintf(st, sizeof st, "%s", jstr(r.json, "status") ? jstr(r.json, "status") : "");
        restored = jint(r.json, "cofferStats.bytes");
        http_resp_release(&r);
        if (st[0] && strcmp(st, "Accepted") != 0 && strcmp(st, "Running") != 0) break;
        usleep(100 * 1000);
    }
    CHECKF(strcmp(st, "Succeeded") == 0, "recovery %s ended '%s'", id, st);
    CHECKF(restored == g_tree_bytes, "restored %lld bytes of %lld", restored, g_tree_bytes);
    for (int i = 0; i < 3; i++) {
        char a[800], b[800], cmd[1800];
        snprintf(a, sizeof a, "%s/f%d.bin", g_tree, i);
        snprintf(b, sizeof b, "%s/tree/f%d.bin", alt, i);
        snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
        CHECKF(system(cmd) == 0, "%s differs from %s", b, a);
    }
    for (int i = 0; i < 100; i++) {
        free(after);
        CHECK(scrape(&d, &after) == 0);
        if (metric(after, "coffer_jobs_finished_total{kind=\"restore\",status=\"Succeeded\"}") >= 1) break;
        usleep(50 * 1000);
    }
    CHECK_EQ_INT(metric(after, "coffer_jobs_finished_total{kind=\"restore\",status=\"Succeeded\"}") -
                 zero_if_absent(metric(before, "coffer_jobs_finished_total{kind=\"restore\",status=\"Succeeded\"}")), 1);
    CHECK_EQ_INT(metric(after, "coffer_job_bytes_read_total{kind=\"restore\"}") -
                 zero_if_absent(metric(before, "coffer_job_bytes_read_total{kind=\"restore\"}")), restored);
    CHECK_EQ_INT(metric(after, "coffer_job_bytes_stored_total{kind=\"restore\"}"), 0);
    CHECK_EQ_INT(metric(after, "coffer_recovery_throughput_bytes_per_second_count") -
                 zero_if_absent(metric(before, "coffer_recovery_throughput_bytes_per_second_count")), 1);
    CHECK(metric(after, "coffer_recovery_last_throughput_bytes_per_second") > 0);
    /* the run's bytes are unchanged by the restore */
    CHECK_EQ_INT(metric(after, "coffer_job_bytes_read_total{kind=\"backup\"}"),
                 metric(before, "coffer_job_bytes_read_total{kind=\"backup\"}"));
    CHECK_EQ_INT(metric(after, "coffer_queue_jobs{kind=\"restore\",state=\"running\"}"), 0);
    free(before);
    free(mid);
    free(after);
}

int main(void)
{
    const char *env[] = { "COFFER_TEST_HOOKS=1", "COFFER_TEST_RECOVERY_DELAY_MS=3000", NULL };
    int rc;
    g_tmp = check_tmpdir("e2e-ops");
    RUN(prom_check_refuses_bad_exposition_text);
    RUN(precedence_is_flag_then_environment_then_file_then_default);
    RUN(every_error_names_the_place_and_the_option_and_exits_2);
    RUN(documentation_table_equals_the_binary);
    RUN(packaged_example_equals_the_binary_and_help_names_every_option);
    RUN(file_settings_take_effect_in_the_daemon_and_environment_overrides_them);
    RUN(json_log_lines_parse_and_carry_the_request_id);
    if (daemon_start(&d, env) != 0) {
        check_abandon("cannot start cofferd");
    }
    RUN(request_id_is_echoed_logged_and_audited);
    RUN(backup_moves_the_job_counters_by_the_runs_bytes);
    RUN(restore_shows_in_the_queue_then_moves_the_recovery_counters);
    if (d.pid > 0) {
        rc = daemon_stop(&d);
        if (rc != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly (status %d)", rc);
    }
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
