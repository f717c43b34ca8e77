/* cli_util.c: what every CLI command shares: option parsing ("--x v", "--x=v", repeated options,
 * positional words, "--"), integer arguments, error messages with the usage line, tables padded to
 * their widest cell, detail lines, pretty JSON, and "a.b.c" lookups in the server's JSON. */
#include "cli/cli.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("coffer: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_usage_error(struct cli *c, const char *fmt, ...)
{
    va_list ap;
    fputs("coffer: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (c && c->usage) fprintf(stderr, "usage: coffer %s\n", c->usage);
    return CLI_USAGE;
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

/* display width in columns: counts UTF-8 lead bytes, so accented names do not shift the columns */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

void cli_table_print(struct cli_table *t, FILE *f)
{
    size_t w[CLI_TABLE_MAX_COLS];
    for (int i = 0; i < t->ncols; i++) {
        w[i] = width(t->head[i]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = width(t->cells[r * (size_t)t->ncols + (size_t)i]);
            if (cw > w[i]) w[i] = cw;
        }
    }
    for (int i = 0; i < t->ncols; i++)
        fprintf(f, "%s%*s", t->head[i], i + 1 < t->ncols ? (int)(w[i] - width(t->head[i]) + 2) : 0, "");
    fputc('\n', f);
    for (size_t r = 0; r < t->nrows; r++) {
        for (int i = 0; i < t->ncols; i++) {
            const char *v = t->cells[r * (size_t)t->ncols + (size_t)i];
            fprintf(f, "%s%*s", v, i + 1 < t->ncols ? (int)(w[i] - width(v) + 2) : 0, "");
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
