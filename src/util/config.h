/* config.h: cofferd's settings. One table (config.c, config_options) names every option once: its name
 * in the configuration file, its command-line flag, its environment variable, its type and range, its
 * default and one line of help. The parser, the validator, `cofferd --help`, `cofferd
 * --print-config-table` (the table of docs/operations.md, "Configuration") and `cofferd
 * --print-config-example` (packaging/cofferd.conf) are all made from it.
 *
 * The file (docs/operations.md, "Configuration"): UTF-8 text, one `name = value` per line; blank
 * lines and lines whose first non-blank character is '#' are ignored; the value is the rest of the
 * line with surrounding blanks removed, and one pair of surrounding double quotes is removed too
 * (there are no escapes: a value is taken literally). Each option at most once. Precedence for each
 * option: a flag, else its environment variable (set and not empty), else the file, else the default.
 *
 * Every value is checked when it is read, whatever its source: an unknown option, a bad value or a
 * number out of range is an error naming where it came from (FILE:LINE, the environment variable or
 * the flag), the option and the problem; config_load returns -EINVAL with that message and cofferd
 * exits 2. Values are kept normalised (a boolean as "1" or "0", an integer in decimal). */
#ifndef COFFER_UTIL_CONFIG_H
#define COFFER_UTIL_CONFIG_H
#include <stddef.h>
#include <stdio.h>

#define CONFIG_DEFAULT_FILE "/etc/coffer/cofferd.conf"

/* The options, in table order (config.c's config_options follows this order). */
enum config_id {
    CFG_DATA_DIR, CFG_LISTEN, CFG_REPOSITORY, CFG_CATALOG, CFG_SHARED_CATALOG, CFG_LEASE_SECS, CFG_PRUNE_WAIT_SECS,
    CFG_TLS_CERT, CFG_TLS_KEY, CFG_NO_TLS, CFG_ALLOW_PLAIN_HTTP,
    CFG_ADMIN_KEY, CFG_DATA_SECURITY_KEY, CFG_AUTH_FAILURES, CFG_AUTH_WINDOW_SECS, CFG_AUTH_COOLDOWN_SECS,
    CFG_METRICS_PUBLIC, CFG_WORKERS, CFG_PRUNE_INTERVAL_SECS, CFG_VERIFY_INTERVAL_SECS, CFG_VERIFY_READ_PCT,
    CFG_RESERVE_MB, CFG_AUDIT_RETENTION_DAYS, CFG_LOG_LEVEL, CFG_LOG_FORMAT,
    CFG_S3_REGION, CFG_S3_ENDPOINT, CFG_S3_PATH_STYLE, CFG_S3_ACCESS_KEY_ID, CFG_S3_SECRET_ACCESS_KEY,
    CFG_S3_SESSION_TOKEN, CFG_S3_CA_FILE, CFG_S3_CONNECTIONS, CFG_S3_RETRIES, CFG_S3_TIMEOUT, CFG_S3_UNSIGNED_PAYLOAD,
    CFG_COUNT
};

enum config_type {
    CONFIG_STRING, /* any text without control characters */
    CONFIG_PATH,   /* a file or directory path */
    CONFIG_SECRET, /* a key: never printed, no flag (a command line is visible to every user) */
    CONFIG_BOOL,   /* true/false, yes/no, on/off, 1/0 */
    CONFIG_INT,    /* a decimal integer in [min, max] */
    CONFIG_ENUM,   /* one of choices ("a|b|c") */
    CONFIG_LISTEN, /* HOST:PORT, [IPv6]:PORT or :PORT */
    CONFIG_URL,    /* http://... or https://... */
};

/* flags of an option */
#define CONFIG_EXPORT 1 /* read through the environment by another module (the S3 backend, the server,
                         * the catalog, the nodes of sched): config_export sets the variable */

struct config_option {
    const char *name;  /* in the file */
    const char *flag;  /* "--name" or NULL (secrets) */
    const char *env;   /* COFFER_... */
    enum config_type type;
    long long min, max;  /* CONFIG_INT */
    const char *choices; /* CONFIG_ENUM: "a|b|c" */
    const char *def;     /* the default as text; "" = not set */
    const char *help;    /* one line */
    unsigned flags;
};

extern const struct config_option config_options[CFG_COUNT];

enum config_source { CONFIG_SRC_DEFAULT, CONFIG_SRC_FILE, CONFIG_SRC_ENV, CONFIG_SRC_FLAG };

/* What cofferd does once the settings are read (the action flags). */
enum config_action { CONFIG_RUN, CONFIG_HELP, CONFIG_VERSION, CONFIG_CHECK, CONFIG_PRINT_TABLE, CONFIG_PRINT_EXAMPLE };

/* The resolved settings. Values are owned (config_release frees them); "" = not set. */
struct config {
    char *value[CFG_COUNT];
    enum config_source source[CFG_COUNT];
    int line[CFG_COUNT];     /* CONFIG_SRC_FILE: the line */
    char file[4096];         /* the file read ("" = none) */
    enum config_action action;
};

/* config_load: settles every option from argv (argv[0] skipped), the environment and the file
 * (--config FILE, else COFFER_CONFIG, else CONFIG_DEFAULT_FILE when it exists; --config none: no
 * file). Returns 0, or -EINVAL / -ENOENT / -ENOMEM with the message in err (c is then released). */
int config_load(struct config *c, int argc, char **argv, char *err, size_t errlen);
void config_release(struct config *c);

const char *config_str(const struct config *c, enum config_id id); /* "" when not set */
long long config_int(const struct config *c, enum config_id id);    /* CONFIG_INT and CONFIG_BOOL */
int config_is_set(const struct config *c, enum config_id id);
/* config_where: where the value came from, for messages ("FILE:LINE", "COFFER_X", "--x", "default"). */
const char *config_where(const struct config *c, enum config_id id, char *buf, size_t len);

/* config_export: sets the environment variable of every CONFIG_EXPORT option that is not at its
 * default to its normalised value (a boolean "1"/"0", whatever spelling was given; unset when a flag
 * unset it), before any thread starts. 0, or -errno. */
int config_export(const struct config *c);

/* Made from the table: usage (--help), the Markdown table of docs/operations.md and the commented
 * example file (every option at its default, commented out; an option set by a flag, the
 * environment or the file is written uncommented with its value, except secrets, never written). */
void config_print_usage(FILE *f);
void config_print_table(FILE *f);
void config_print_example(const struct config *c, FILE *f);
#endif
