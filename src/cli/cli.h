/* cli.h: the pieces of the `coffer` command-line client (cmd/coffer.c): one connection to the REST
 * API (libcurl), option parsing, output (tables for people, JSON with --json) and the commands.
 *
 * A command is one row of the table in cmd/coffer.c: a noun ("policy"), a verb ("list", or NULL for
 * a noun that is the whole command, like a future "search FILE"), a synopsis for the usage text and
 * a function cli_<noun>_<verb>(cli, argc, argv) that gets the words after the verb. Adding a command
 * is one function and one row. Commands return CLI_OK, CLI_FAIL (the server or the network said no;
 * the message was printed) or CLI_USAGE (the user's words were wrong; the message was printed). */
#ifndef COFFER_CLI_CLI_H
#define COFFER_CLI_CLI_H
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

#define CLI_DEFAULT_URL "http://127.0.0.1:8080/v2"
#define CLI_DEFAULT_TENANT "default"
#define CLI_KEY_FILE "./var/admin.key"
#define CLI_MAX_RESPONSE_BYTES (256u * 1024 * 1024)

/* One API field a command fills from an option of its own: a 400 naming the field names the option. The
 * API path drops array indexes ("physicalParams.objects.snapshotId" matches "...objects[0].snapshotId"). */
struct cli_field {
    const char *api;    /* the field path as the server's message spells it, without [n] */
    const char *option; /* "--policy" */
};

struct cli {
    const char *url;    /* service URL without a trailing slash (borrowed from argv/env, or url_buf) */
    const char *tenant; /* X-IBM-Tenant-Id */
    char *key;          /* owned: bearer key */
    const char *key_source; /* where the key came from ("--key", "COFFER_KEY", the key file), for a 401 */
    int json;           /* --json: print the server's JSON instead of tables, and errors as JSON */
    const char *usage;  /* synopsis of the running command, for cli_usage_error */
    const struct cli_field *fields; /* {NULL}-terminated, set by a command before cli_call; may be NULL */
    void *curl;         /* CURL *, owned, reused across requests */
    const char *cacert; /* https: the CA file to verify with (NULL: libcurl's default CA store) */
    const char *pin;    /* https: "sha256//<base64>" the server's public key must match (NULL: none) */
    char url_buf[1024];
};

/* cli_init: resolves the URL, key and tenant (flags given as non-NULL, then COFFER_URL / COFFER_KEY /
 * COFFER_TENANT, then the defaults and ./var/admin.key), and for https:// URLs the CA file and the pin
 * (--cacert / COFFER_CACERT, --pin / COFFER_PIN; see cli_http.c). Prints why and returns CLI_USAGE when
 * there is no key, CLI_FAIL when libcurl cannot start. cli_release frees what cli_init made. */
int cli_init(struct cli *c, const char *url, const char *key, const char *tenant, const char *cacert,
             const char *pin, int json);
void cli_release(struct cli *c);

/* ---- HTTP ---- */
struct cli_resp {
    long status;
    char *body;   /* owned, NUL-terminated */
    size_t len;
    json_t *json; /* owned: parsed body when it was JSON, else NULL */
};
/* cli_call: sends METHOD url+path (path starts with '/', already escaped; build it with cli_path) with
 * the key and tenant headers and body (borrowed; NULL = none). On a 2xx answer returns CLI_OK with
 * *out filled (release it with cli_resp_release). Otherwise prints "coffer: <server's message> (HTTP
 * n)" or the network error to stderr and returns CLI_FAIL with *out empty. */
int cli_call(struct cli *c, const char *method, const char *path, json_t *body, struct cli_resp *out);
void cli_resp_release(struct cli_resp *r);
/* cli_path: builds a path into buf from fmt where each %s is one path segment or query value taken
 * from the arguments and percent-encoded (%% is a literal %). Returns 0, or -1 when buf is too small. */
int cli_path(char *buf, size_t size, const char *fmt, ...);

/* ---- options ---- */
enum cli_opt_kind { CLI_OPT_STR, CLI_OPT_FLAG, CLI_OPT_LIST };
struct cli_strlist {
    const char **items; /* owned array of borrowed strings (argv) */
    size_t n;
};
struct cli_opt {
    const char *name; /* "--name" */
    enum cli_opt_kind kind;
    void *dest;       /* const char ** (STR), int * (FLAG), struct cli_strlist * (LIST) */
};
/* cli_parse: parses argv (the words after the verb) into opts ({NULL}-terminated; "--x v" and
 * "--x=v") and positional words into pos (at most max_pos; at least min_pos). "--" ends options.
 * Prints the error and returns CLI_USAGE on an unknown option, a missing value or a wrong count. */
int cli_parse(struct cli *c, int argc, char **argv, const struct cli_opt *opts, int min_pos, int max_pos,
              const char **pos, int *npos);
void cli_strlist_release(struct cli_strlist *l);
/* cli_parse_i64: a decimal integer in [min, max]; prints an error naming what and returns CLI_USAGE. */
int cli_parse_i64(struct cli *c, const char *what, const char *s, long long min, long long max, long long *out);
/* cli_usage_error: prints "coffer: <msg>" and the running command's synopsis; returns CLI_USAGE. */
int cli_usage_error(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* prints; returns CLI_FAIL */
/* cli_error: prints "coffer: <msg>" on stderr and returns code (CLI_FAIL or CLI_USAGE). Every error of
 * the CLI goes through here (cli_fail, cli_usage_error, cli_http_error): after cli_errors_json(1) (the
 * global --json) it is instead one line of JSON on stderr:
 *   {"error":{"message":"...","exitStatus":1[,"httpStatus":404][,"usage":"coffer ..."]}} */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_errors_json(int on);
/* cli_http_error: reports a non-2xx answer to METHOD path (j: its parsed body, or NULL; body/len: the raw
 * body): the server's message, with the field paths c->fields knows named by the user's option; a 401
 * says where the key came from and how to set another; a 404 from a URL that does not end in /v2 asks
 * whether .../v2 was meant. Returns CLI_FAIL. */
int cli_http_error(struct cli *c, long status, const char *method, const char *path, json_t *j, const char *body,
                   size_t len);

/* ---- output ---- */
/* cli_print_json: pretty JSON of j (borrowed) on stdout. */
void cli_print_json(json_t *j);
/* A table: a header row and rows of cells, printed with columns padded to their widest cell. */
#define CLI_TABLE_MAX_COLS 10
struct cli_table {
    int ncols;
    const char *head[CLI_TABLE_MAX_COLS];
    char **cells; /* owned, ncols per row */
    size_t nrows, cap;
};
void cli_table_init(struct cli_table *t, int ncols, const char *const *head);
/* cli_table_row: appends a row of ncols cells (copied; NULL prints as "-"). */
int cli_table_row(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table *t, FILE *f);
void cli_table_release(struct cli_table *t);
/* cli_kv: one "Key:  value" line of a detail view (value NULL prints "-"). */
void cli_kv(const char *key, const char *value);
/* cli_human_bytes: n as "512 B", "1.5 KiB", "3.2 MiB" or "1.25 GiB" in buf. */
void cli_human_bytes(long long n, char *buf, size_t size);
/* cli_time_text: microseconds since the epoch as local time "2026-12-06 07:05:09" in buf; NULL for 0 or
 * less (not yet). */
const char *cli_time_text(long long usecs, char *buf, size_t size);
/* cli_width: the display width of UTF-8 text in terminal cells (wide CJK characters count 2, combining
 * marks 0: mbrtowc then wcwidth, under the UTF-8 locale cli_locale_init chose). */
size_t cli_width(const char *s);
/* cli_locale_init: the user's LC_CTYPE, or C.UTF-8 when that is not UTF-8 (the API's text is UTF-8). */
void cli_locale_init(void);
/* cli_tidy_path: an absolute path with repeated and trailing slashes removed, in place ("/a//b/" ->
 * "/a/b"; "/" stays). */
void cli_tidy_path(char *p);

/* ---- JSON access (borrowed results; NULL/0 when absent or of another type) ---- */
const char *cli_jstr(json_t *j, const char *path); /* "a.b.c" */
json_t *cli_jget(json_t *j, const char *path);
/* cli_now_seconds: wall-clock seconds (for waits and progress lines). */
double cli_now_seconds(void);
/* cli_await_last: polls GET path (a Coffer maintenance endpoint answering {"current","last"}) every
 * 250 ms until its "last" is job id; *last receives it (a new reference). CLI_FAIL (printed) after
 * timeout_s seconds, naming noun and id; other CLI codes from cli_call. */
int cli_await_last(struct cli *c, const char *path, const char *noun, long long id, long long timeout_s,
                   json_t **last);
/* cli_jtext: the value at path as text in buf (string as is, integer/real/bool printed), or NULL. */
const char *cli_jtext(json_t *j, const char *path, char *buf, size_t size);

/* ---- commands (src/cli/cli_<noun>.c) ---- */
typedef int (*cli_fn)(struct cli *c, int argc, char **argv);
int cli_policy_list(struct cli *c, int argc, char **argv);
int cli_policy_get(struct cli *c, int argc, char **argv);
int cli_policy_create(struct cli *c, int argc, char **argv);
int cli_policy_delete(struct cli *c, int argc, char **argv);
int cli_group_list(struct cli *c, int argc, char **argv);
int cli_group_get(struct cli *c, int argc, char **argv);
int cli_group_create(struct cli *c, int argc, char **argv);
int cli_group_pause(struct cli *c, int argc, char **argv);
int cli_group_resume(struct cli *c, int argc, char **argv);
int cli_group_delete(struct cli *c, int argc, char **argv);
int cli_source_list(struct cli *c, int argc, char **argv);
int cli_source_register(struct cli *c, int argc, char **argv);
int cli_object_search(struct cli *c, int argc, char **argv);
int cli_connection_list(struct cli *c, int argc, char **argv);
int cli_connection_create(struct cli *c, int argc, char **argv);
int cli_search(struct cli *c, int argc, char **argv);   /* cli_recover.c */
int cli_restore(struct cli *c, int argc, char **argv);
int cli_download(struct cli *c, int argc, char **argv);
int cli_run_start(struct cli *c, int argc, char **argv); /* cli_run.c */
int cli_run_list(struct cli *c, int argc, char **argv);
int cli_run_cancel(struct cli *c, int argc, char **argv);
int cli_policy_update(struct cli *c, int argc, char **argv); /* cli_policy.c */
int cli_group_update(struct cli *c, int argc, char **argv);  /* cli_group.c */
int cli_source_delete(struct cli *c, int argc, char **argv); /* cli_source.c */
int cli_snapshot_list(struct cli *c, int argc, char **argv); /* cli_snapshot.c */
int cli_recovery_list(struct cli *c, int argc, char **argv); /* cli_recovery.c */
int cli_recovery_get(struct cli *c, int argc, char **argv);
int cli_recovery_cancel(struct cli *c, int argc, char **argv);
int cli_download_create(struct cli *c, int argc, char **argv); /* cli_download.c */
/* cli_download_fetch: the archive of download recovery id into the file out (resuming a partial one);
 * prints the outcome unless quiet. CLI_OK, or CLI_FAIL printed. */
int cli_download_fetch(struct cli *c, const char *id, const char *out, int quiet);
/* cli_recovery_wait: polls recovery id every half second (a progress line on a terminal) until it ends;
 * prints the outcome and its messages (or its JSON with --json unless quiet_json). CLI_OK only when
 * it Succeeded. */
int cli_recovery_wait(struct cli *c, const char *id, int quiet_json);
int cli_prune(struct cli *c, int argc, char **argv);      /* cli_prune.c */
int cli_verify(struct cli *c, int argc, char **argv);     /* cli_verify.c */
int cli_repo_stats(struct cli *c, int argc, char **argv);
int cli_key_create(struct cli *c, int argc, char **argv); /* cli_key.c */
int cli_key_list(struct cli *c, int argc, char **argv);
int cli_key_revoke(struct cli *c, int argc, char **argv);
int cli_audit(struct cli *c, int argc, char **argv);      /* cli_audit.c */
/* ---- the command table and what is generated from it (cli_doc.c) ----
 * cmd/coffer.c holds the one table of commands and the one table of global options; --help, the
 * per-command help, the man page coffer(1) (coffer --help-man) and the shell completion (coffer
 * completion bash|zsh) are all printed from them, so no second list of commands or options is kept. */
struct cli_command {
    const char *noun;
    const char *verb;    /* NULL: the noun is the whole command ("coffer search TEXT") */
    const char *args;    /* synopsis after "coffer noun verb": its options ("--x V", "[--y]") and their values */
    const char *help;    /* what it does, one sentence */
    const char *example; /* one complete command line */
    cli_fn fn;
};
struct cli_global {
    const char *name;  /* "--url" */
    const char *value; /* its value's placeholder ("URL"), NULL for a flag */
    const char *help;
};
/* cli_doc_environment: the environment variables and exit statuses, as --help ends. */
void cli_doc_environment(FILE *f);
/* cli_doc_synopsis: "noun verb args" of k into buf. */
void cli_doc_synopsis(const struct cli_command *k, char *buf, size_t size);
/* cli_doc_options: calls fn(name, placeholder or NULL for a flag, arg) for each distinct option the
 * synopsis k->args names ("-o FILE", "--type File|Directory|Symlink", "[--full]"), in order. */
void cli_doc_options(const struct cli_command *k, void (*fn)(const char *name, const char *value, void *arg),
                     void *arg);
/* cli_doc_bash: the bash completion script for cmds ({NULL}-terminated) and globals on f: commands,
 * verbs, each command's options and --help, choices of an option whose value is "A|B|C", files after
 * an option whose value is FILE or a /path, directories after DIR. 0, or -1 when f failed. */
int cli_doc_bash(FILE *f, const struct cli_command *cmds, const struct cli_global *globals);
/* cli_doc_zsh: the same completion for zsh (a #compdef function, _coffer): the same words offered. */
int cli_doc_zsh(FILE *f, const struct cli_command *cmds, const struct cli_global *globals);
/* cli_doc_man: the man page coffer(1) in roff on f: NAME, SYNOPSIS, the global options, one
 * subsection per command (synopsis, what it does, its example), ENVIRONMENT, FILES, EXIT STATUS.
 * 0, or -1 when f failed. */
int cli_doc_man(FILE *f, const struct cli_command *cmds, const struct cli_global *globals, const char *version);
#endif
