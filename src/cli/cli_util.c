/* cli_util.c: what every CLI command shares: option parsing ("--x v", "--x=v", repeated options,
 * positional words, "--"), integer arguments, errors (plain lines, or one JSON object each with
 * --json; a server's answer turned into words the user knows: the option for an API field, where the
 * key came from on a 401, the missing /v2 on a 404), tables padded to the display width of their
 * widest cell (wcwidth, so CJK names keep the columns), local times, detail lines, pretty JSON, and
 * "a.b.c" lookups in the server's JSON. */
#include "cli/cli.h"
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <wchar.h>

static int g_errors_json;

void cli_errors_json(int on) { g_errors_json = on; }

/* report: the one place an error is written (stderr): a line, or a JSON object with --json. */
static void report(int code, long http_status, const char *usage, const char *msg)
{
    if (g_errors_json) {
        json_t *e = json_pack("{s:s,s:i}", "message", msg, "exitStatus", code);
        char *text;
        if (!e) { /* a user's word that is not UTF-8: its bytes beyond ASCII become '?' */
            char ascii[2048];
            size_t i = 0;
            for (; msg[i] && i + 1 < sizeof ascii; i++) ascii[i] = (unsigned char)msg[i] < 0x80 ? msg[i] : '?';
            ascii[i] = '\0';
            e = json_pack("{s:s,s:i}", "message", ascii, "exitStatus", code);
        }
        if (e && http_status > 0) json_object_set_new(e, "httpStatus", json_integer(http_status));
        if (e && usage) {
            char u[600];
            snprintf(u, sizeof u, "coffer %s", usage);
            json_object_set_new(e, "usage", json_string(u));
        }
        e = e ? json_pack("{s:o}", "error", e) : NULL; /* takes e's reference */
        text = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
        if (text) fprintf(stderr, "%s\n", text);
        else fprintf(stderr, "{\"error\":{\"message\":\"out of memory\",\"exitStatus\":%d}}\n", code);
        free(text);
        return;
    }
    fprintf(stderr, "coffer: %s\n", msg);
    if (usage) fprintf(stderr, "usage: coffer %s\n", usage);
}

static int verror(int code, long http_status, const char *usage, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int verror(int code, long http_status, const char *usage, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    report(code, http_status, usage, msg);
    return code;
}

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(code, 0, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(CLI_FAIL, 0, NULL, fmt, ap);
    va_end(ap);
    return CLI_FAIL;
}

int cli_usage_error(struct cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(CLI_USAGE, 0, c ? c->usage : NULL, fmt, ap);
    va_end(ap);
    return CLI_USAGE;
}

/* same_field: does the server's field path (n bytes, with [i] indexes) name the map's path? */
static int same_field(const char *srv, size_t n, const char *map)
{
    size_t i = 0;
    while (i < n) {
        if (srv[i] == '[') {
            while (i < n && srv[i] != ']') i++;
            i++;
            continue;
        }
        if (*map != srv[i]) return 0;
        map++;
        i++;
    }
    return *map == '\0';
}

/* name_options: msg with each "field 'P'" that c->fields knows written as "--opt (field 'P')". */
static void name_options(const struct cli *c, const char *msg, char *out, size_t size)
{
    static const char pre[] = "field '";
    size_t o = 0;
    const char *p = msg;
    out[0] = '\0';
    /* "physicalParams.objects[0].snapshotId: snapshot 'x' not found": a field path that opens the message */
    if (c && c->fields) {
        size_t n = strcspn(p, ": '");
        for (const struct cli_field *f = c->fields; f->api && n > 0 && p[n] == ':'; f++) {
            if (!same_field(p, n, f->api)) continue;
            o = (size_t)snprintf(out, size, "%s (field '%.*s')", f->option, (int)n, p);
            if (o >= size) o = size - 1;
            p += n;
            break;
        }
    }
    while (*p && o + 1 < size) {
        const char *hit = c && c->fields ? strstr(p, pre) : NULL, *q, *opt = NULL;
        size_t n;
        if (!hit) break;
        q = hit + sizeof pre - 1;
        n = strcspn(q, "'");
        for (const struct cli_field *f = c->fields; f->api && !opt; f++)
            if (same_field(q, n, f->api)) opt = f->option;
        if (!opt) {
            o += (size_t)snprintf(out + o, size - o, "%.*s", (int)(q + n - p), p);
            if (o >= size) o = size - 1;
            p = q + n;
            continue;
        }
        o += (size_t)snprintf(out + o, size - o, "%.*s%s (%.*s)", (int)(hit - p), p, opt,
                              (int)(q + n + (q[n] == '\'') - hit), hit);
        if (o >= size) o = size - 1;
        p = q + n + (q[n] == '\'');
    }
    if (o + 1 < size) snprintf(out + o, size - o, "%s", p);
}

int cli_http_error(struct cli *c, long status, const char *method, const char *path, json_t *j, const char *body,
                   size_t len)
{
    const char *m = cli_jstr(j, "message");
    char msg[2200], named[2048];
    size_t ul;
    if (!m || !*m) {
        json_t *errs = json_object_get(j, "errors");
        if (json_is_array(errs)) m = cli_jstr(json_array_get(errs, 0), "message");
    }
    if (m && *m) {
        name_options(c, m, named, sizeof named);
        snprintf(msg, sizeof msg, "%s (HTTP %ld)", named, status);
    } else if (len > 0 && !j) {
        snprintf(msg, sizeof msg, "HTTP %ld from %s %s: %.300s", status, method, path, body);
    } else {
        snprintf(msg, sizeof msg, "HTTP %ld from %s %s", status, method, path);
    }
    if (status == 401) {
        char m2[2800];
        snprintf(m2, sizeof m2, "the server refused the API key from %s: %s; set the right one with --key KEY or "
                 "COFFER_KEY (the daemon's key is the file var/admin.key in its data directory)",
                 c && c->key_source ? c->key_source : "the command line", msg);
        report(CLI_FAIL, status, NULL, m2);
        return CLI_FAIL;
    }
    ul = c && c->url ? strlen(c->url) : 0;
    if (status == 404 && ul > 0 && !(ul >= 3 && strcmp(c->url + ul - 3, "/v2") == 0)) {
        char m2[4400];
        snprintf(m2, sizeof m2, "%s; the service URL %s does not end in /v2: did you mean %s/v2? (--url or "
                 "COFFER_URL)", msg, c->url, c->url);
        report(CLI_FAIL, status, NULL, m2);
        return CLI_FAIL;
    }
    report(CLI_FAIL, status, NULL, msg);
    return CLI_FAIL;
}

static const struct cli_opt *find_opt(const struct cli_opt *opts, const char *word, size_t n)
{
    for (const struct cli_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == n && memcmp(o->name, word, n) == 0) return o;
    return NULL;
}

int cli_parse(struct cli *c, int argc, char **argv, const struct cli_opt *opts, int min_pos, int max_pos,
              const char **pos, int *npos)
{
    int np = 0, only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i], *eq, *val = NULL;
        const struct cli_opt *o;
        size_t n;
        if (only_pos || w[0] != '-' || strcmp(w, "-") == 0) {
            if (np >= max_pos) return cli_usage_error(c, "unexpected argument '%s'", w);
            pos[np++] = w;
            continue;
        }
        if (strcmp(w, "--") == 0) {
            only_pos = 1;
            continue;
        }
        eq = strchr(w, '=');
        n = eq ? (size_t)(eq - w) : strlen(w);
        o = find_opt(opts, w, n);
        if (!o) return cli_usage_error(c, "unknown option '%.*s'", (int)n, w);
        if (o->kind == CLI_OPT_FLAG) {
            if (eq) return cli_usage_error(c, "option %s takes no value", o->name);
            *(int *)o->dest = 1;
            continue;
        }
        if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc) return cli_usage_error(c, "option %s needs a value", o->name);
            val = argv[++i];
        }
        if (o->kind == CLI_OPT_STR) {
            *(const char **)o->dest = val;
        } else {
            struct cli_strlist *l = o->dest;
            const char **items = realloc(l->items, (l->n + 1) * sizeof *items);
            if (!items) return cli_fail("out of memory");
            items[l->n++] = val;
            l->items = items;
        }
    }
    if (np < min_pos) return cli_usage_error(c, "missing argument");
    *npos = np;
    return CLI_OK;
}

void cli_strlist_release(struct cli_strlist *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int cli_parse_i64(struct cli *c, const char *what, const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return cli_usage_error(c, "%s must be a whole number from %lld to %lld, not '%s'", what, min, max, s);
    *out = v;
    return CLI_OK;
}

void cli_print_json(json_t *j)
{
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY) : NULL;
    if (text) {
        puts(text);
        free(text);
    } else {
        puts("null");
    }
}

void cli_table_init(struct cli_table *t, int ncols, const char *const *head)
{
    memset(t, 0, sizeof *t);
    if (ncols > CLI_TABLE_MAX_COLS) ncols = CLI_TABLE_MAX_COLS;
    t->ncols = ncols;
    for (int i = 0; i < ncols; i++) t->head[i] = head[i];
}

int cli_table_row(struct cli_table *t, const char *const *cells)
{
    size_t base;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **p = realloc(t->cells, cap * (size_t)t->ncols * sizeof *p);
        if (!p) return cli_fail("out of memory");
        t->cells = p;
        t->cap = cap;
    }
    base = t->nrows * (size_t)t->ncols;
    for (int i = 0; i < t->ncols; i++) {
        const char *v = cells[i] && *cells[i] ? cells[i] : "-";
        char *d = strdup(v);
        if (!d) {
            for (int k = 0; k < i; k++) free(t->cells[base + (size_t)k]);
            return cli_fail("out of memory");
        }
        /* a cell is one line: tabs and line breaks would break the columns */
        for (char *q = d; *q; q++)
            if (*q == '\n' || *q == '\r' || *q == '\t') *q = ' ';
        t->cells[base + (size_t)i] = d;
    }
    t->nrows++;
    return CLI_OK;
}

void cli_locale_init(void)
{
    const char *cs;
    if (setlocale(LC_CTYPE, "") != NULL && (cs = nl_langinfo(CODESET)) != NULL && strcmp(cs, "UTF-8") == 0) return;
    if (setlocale(LC_CTYPE, "C.UTF-8") == NULL) setlocale(LC_CTYPE, "C");
}

size_t cli_width(const char *s)
{
    mbstate_t st;
    size_t w = 0, left = strlen(s);
    memset(&st, 0, sizeof st);
    while (left > 0) {
        wchar_t wc;
        size_t n = mbrtowc(&wc, s, left, &st);
        int cw;
        if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
            /* not UTF-8 here: one cell per byte that starts a character */
            memset(&st, 0, sizeof st);
            w += ((unsigned char)*s & 0xC0) != 0x80;
            s++;
            left--;
            continue;
        }
        cw = wcwidth(wc);
        w += cw > 0 ? (size_t)cw : 0;
        s += n;
        left -= n;
    }
    return w;
}

void cli_table_print(struct cli_table *t, FILE *f)
{
    size_t w[CLI_TABLE_MAX_COLS];
    for (int i = 0; i < t->ncols; i++) {
        w[i] = cli_width(t->head[i]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = cli_width(t->cells[r * (size_t)t->ncols + (size_t)i]);
            if (cw > w[i]) w[i] = cw;
        }
    }
    for (int i = 0; i < t->ncols; i++)
        fprintf(f, "%s%*s", t->head[i], i + 1 < t->ncols ? (int)(w[i] - cli_width(t->head[i]) + 2) : 0, "");
    fputc('\n', f);
    for (size_t r = 0; r < t->nrows; r++) {
        for (int i = 0; i < t->ncols; i++) {
            const char *v = t->cells[r * (size_t)t->ncols + (size_t)i];
            fprintf(f, "%s%*s", v, i + 1 < t->ncols ? (int)(w[i] - cli_width(v) + 2) : 0, "");
        }
        fputc('\n', f);
    }
}

void cli_table_release(struct cli_table *t)
{
    for (size_t k = 0; k < t->nrows * (size_t)t->ncols; k++) free(t->cells[k]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

void cli_kv(const char *key, const char *value)
{
    printf("%-14s %s\n", key, value && *value ? value : "-");
}

json_t *cli_jget(json_t *j, const char *path)
{
    const char *p = path;
    while (j && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char key[128];
        if (n >= sizeof key || !json_is_object(j)) return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        j = json_object_get(j, key);
        p += n;
        if (*p == '.') p++;
    }
    return j;
}

const char *cli_jstr(json_t *j, const char *path) { return json_string_value(cli_jget(j, path)); }

const char *cli_jtext(json_t *j, const char *path, char *buf, size_t size)
{
    json_t *v = cli_jget(j, path);
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, size, "%g", json_real_value(v));
        return buf;
    }
    if (json_is_boolean(v)) return json_is_true(v) ? "true" : "false";
    return NULL;
}

void cli_human_bytes(long long n, char *buf, size_t size)
{
    if (n < 1024) snprintf(buf, size, "%lld B", n);
    else if (n < 1024LL * 1024) snprintf(buf, size, "%.1f KiB", n / 1024.0);
    else if (n < 1024LL * 1024 * 1024) snprintf(buf, size, "%.1f MiB", n / 1048576.0);
    else snprintf(buf, size, "%.2f GiB", n / 1073741824.0);
}

double cli_now_seconds(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

const char *cli_time_text(long long usecs, char *buf, size_t size)
{
    time_t t;
    struct tm tm;
    if (usecs <= 0) return NULL;
    t = (time_t)(usecs / 1000000);
    if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0) return NULL;
    return buf;
}

void cli_tidy_path(char *p)
{
    size_t o = 0;
    for (size_t i = 0; p[i]; i++) {
        if (p[i] == '/' && o > 0 && p[o - 1] == '/') continue;
        p[o++] = p[i];
    }
    while (o > 1 && p[o - 1] == '/') o--;
    p[o] = '\0';
}
