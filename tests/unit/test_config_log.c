/* test_config_log.c: util/config's file parser and precedence, and util/log's line format.
 *
 * config: CRLF lines, blanks and comments, quotes removed once, "name =" as not set, '#' inside a value
 * kept, booleans in every spelling normalised, "--x=v" and "--x v" flags, a boolean flag without a
 * value, an empty flag value unsetting an option, an environment variable set to "" ignored, a NUL
 * byte and an over-long line refused with the line named, the defaults present, config_where naming
 * each source, config_export putting normalised values into the environment (and only options not at
 * their default). Every option of the table has a name, an environment variable COFFER_<NAME>, a help
 * line, and a flag --<name with dashes> unless it is a secret.
 * log: text lines quote msg and escape '"', '\', newline and control bytes; other values are quoted
 * only when they must be; context keys are added, replaced and removed; JSON lines parse with the
 * same keys, invalid UTF-8 in a message is kept as '?'. */
#include "check.h"
#include "util/config.h"
#include "util/log.h"
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *g_tmp;

static const char *file_with(const char *name, const char *text, size_t len)
{
    static char path[600];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(text, 1, len ? len : strlen(text), f);
    fclose(f);
    return path;
}

static int load(struct config *c, const char *file, char **extra, char *err, size_t errlen)
{
    char *argv[16] = { "cofferd", "--config", (char *)file };
    int argc = 3;
    for (int i = 0; extra && extra[i] && argc < 15; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    return config_load(c, argc, argv, err, errlen);
}

TEST(the_table_is_complete_and_consistent)
{
    for (int i = 0; i < CFG_COUNT; i++) {
        const struct config_option *o = &config_options[i];
        char want[96];
        size_t k;
        CHECKF(o->name && o->env && o->help && o->help[0] && o->def, "row %d", i);
        snprintf(want, sizeof want, "COFFER_%s", o->name);
        for (k = 7; want[k]; k++) want[k] = (char)toupper((unsigned char)want[k]);
        CHECKF(strcmp(o->env, want) == 0, "%s: environment %s, want %s", o->name, o->env, want);
        if (o->type == CONFIG_SECRET) {
            CHECKF(o->flag == NULL, "secret %s has a flag", o->name);
            continue;
        }
        snprintf(want, sizeof want, "--%s", o->name);
        for (k = 2; want[k]; k++)
            if (want[k] == '_') want[k] = '-';
        CHECKF(o->flag && strcmp(o->flag, want) == 0, "%s: flag %s, want %s", o->name, o->flag ? o->flag : "none", want);
        for (int j = 0; j < i; j++) CHECKF(strcmp(config_options[j].name, o->name) != 0, "%s twice", o->name);
    }
    CHECK(strcmp(config_options[CFG_WORKERS].env, "COFFER_WORKERS") == 0);
}

TEST(file_syntax)
{
    struct config c;
    char err[512] = "";
    const char *f = file_with("a.conf", "# comment\r\n\r\n   \t\n  workers = 7 \r\n"
                                        "catalog = \"postgresql://u:p#w@h/db\"\r\n"
                                        "repository =\nno_tls = Yes\nallow_plain_http=off\n"
                                        "log_format=json", 0);
    CHECK(f != NULL);
    unsetenv("COFFER_WORKERS");
    unsetenv("COFFER_CATALOG");
    CHECKF(load(&c, f, NULL, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(config_int(&c, CFG_WORKERS), 7);
    CHECK(strcmp(config_str(&c, CFG_CATALOG), "postgresql://u:p#w@h/db") == 0);
    CHECK(!config_is_set(&c, CFG_REPOSITORY));
    CHECK(strcmp(config_str(&c, CFG_NO_TLS), "1") == 0 && strcmp(config_str(&c, CFG_ALLOW_PLAIN_HTTP), "0") == 0);
    CHECK(strcmp(config_str(&c, CFG_LOG_FORMAT), "json") == 0);
    CHECK(strcmp(config_str(&c, CFG_LISTEN), "127.0.0.1:8080") == 0); /* the default */
    CHECK(strcmp(config_str(&c, CFG_METRICS_PUBLIC), "0") == 0);
    {
        char where[700], want[700];
        snprintf(want, sizeof want, "%s:4", f);
        CHECK(strcmp(config_where(&c, CFG_WORKERS, where, sizeof where), want) == 0);
        CHECK(strcmp(config_where(&c, CFG_LISTEN, where, sizeof where), "default") == 0);
    }
    config_release(&c);
}

TEST(precedence_and_flag_forms)
{
    struct config c;
    char err[512] = "", where[128];
    const char *f = file_with("p.conf", "workers = 3\nverify_read_pct = 50\nrepository = /r\nreserve_mb = 4\n", 0);
    char *extra[] = { "--verify-read-pct=60", "--no-tls", "--repository", "", "--reserve-mb", "5", NULL };
    setenv("COFFER_WORKERS", "4", 1);
    setenv("COFFER_VERIFY_READ_PCT", "55", 1);
    setenv("COFFER_RESERVE_MB", "", 1); /* empty: not set */
    CHECKF(load(&c, f, extra, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(config_int(&c, CFG_WORKERS), 4);         /* environment over file */
    CHECK_EQ_INT(config_int(&c, CFG_VERIFY_READ_PCT), 60); /* flag over environment */
    CHECK_EQ_INT(config_int(&c, CFG_RESERVE_MB), 5);
    CHECK_EQ_INT(config_int(&c, CFG_NO_TLS), 1);
    CHECK(!config_is_set(&c, CFG_REPOSITORY));             /* an empty flag unsets the file's */
    CHECK(strcmp(config_where(&c, CFG_WORKERS, where, sizeof where), "COFFER_WORKERS") == 0);
    CHECK(strcmp(config_where(&c, CFG_VERIFY_READ_PCT, where, sizeof where), "--verify-read-pct") == 0);
    config_release(&c);
    unsetenv("COFFER_WORKERS");
    unsetenv("COFFER_VERIFY_READ_PCT");
    unsetenv("COFFER_RESERVE_MB");
}

TEST(errors_name_the_line)
{
    struct config c;
    char err[512] = "", want[700], big[6000];
    const char *f = file_with("nul.conf", "workers = 2\nlisten = 1\0x\n", 23);
    CHECK(load(&c, f, NULL, err, sizeof err) == -EINVAL);
    CHECKF(strstr(err, "NUL byte") != NULL, "%s", err);
    memset(big, 'x', sizeof big);
    memcpy(big, "\nrepository = ", 14);
    big[sizeof big - 1] = '\0';
    f = file_with("long.conf", big, 0);
    CHECK(load(&c, f, NULL, err, sizeof err) == -EINVAL);
    snprintf(want, sizeof want, "%s:2: the line is longer", f);
    CHECKF(strstr(err, want) != NULL, "%s", err);
    f = file_with("ctl.conf", "\n\nrepository = a\tb\n", 0);
    CHECK(load(&c, f, NULL, err, sizeof err) == -EINVAL);
    snprintf(want, sizeof want, "%s:3: option 'repository' holds a control character", f);
    CHECKF(strstr(err, want) != NULL, "%s", err);
    f = file_with("v6.conf", "listen = [::1]:8080\n", 0);
    CHECKF(load(&c, f, NULL, err, sizeof err) == 0, "%s", err);
    config_release(&c);
    f = file_with("v6bad.conf", "listen = [nothost]:8080\n", 0);
    CHECK(load(&c, f, NULL, err, sizeof err) == -EINVAL);
    CHECK(strstr(err, "'listen'") != NULL);
    {
        char *extra[] = { "--workers", NULL };
        CHECK(load(&c, "none", extra, err, sizeof err) == -EINVAL);
        CHECKF(strstr(err, "--workers needs a value") != NULL, "%s", err);
    }
}

TEST(export_sets_normalised_values)
{
    struct config c;
    char err[512] = "";
    const char *f = file_with("x.conf", "s3_retries = 9\nmetrics_public = on\n", 0);
    unsetenv("COFFER_S3_RETRIES");
    unsetenv("COFFER_METRICS_PUBLIC");
    unsetenv("COFFER_S3_TIMEOUT");
    setenv("COFFER_SHARED_CATALOG", "true", 1);
    CHECKF(load(&c, f, NULL, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(config_export(&c), 0);
    CHECK(getenv("COFFER_S3_RETRIES") && strcmp(getenv("COFFER_S3_RETRIES"), "9") == 0);
    CHECK(getenv("COFFER_METRICS_PUBLIC") && strcmp(getenv("COFFER_METRICS_PUBLIC"), "1") == 0);
    CHECK(getenv("COFFER_SHARED_CATALOG") && strcmp(getenv("COFFER_SHARED_CATALOG"), "1") == 0);
    CHECK(getenv("COFFER_S3_TIMEOUT") == NULL); /* at its default: left to the reader */
    config_release(&c);
    unsetenv("COFFER_S3_RETRIES");
    unsetenv("COFFER_METRICS_PUBLIC");
    unsetenv("COFFER_SHARED_CATALOG");
}

TEST(text_lines_quote_and_escape)
{
    char line[4096];
    log_set_format(LOG_FORMAT_TEXT);
    log_ctx_clear();
    log_format_line(line, sizeof line, LOG_WARN, "a \"quoted\" back\\slash\nnew\x01", 0);
    CHECKF(strncmp(line, "ts=", 3) == 0 && strstr(line, " level=warn msg=\"a \\\"quoted\\\" back\\\\slash\\nnew\\x01\""),
           "%s", line);
    CHECK(strchr(line, '\n') == NULL);
    log_ctx_set("request_id", "abc-1");
    log_ctx_set("group", "with space");
    log_ctx_set("request_id", "abc-2"); /* replaced */
    log_format_line(line, sizeof line, LOG_INFO, "m", 3);
    CHECKF(strstr(line, " msg=\"m\" request_id=abc-2 group=\"with space\" repeated=3 ") != NULL, "%s", line);
    CHECK(strcmp(log_ctx_get("request_id"), "abc-2") == 0);
    log_ctx_set("group", NULL);
    CHECK(log_ctx_get("group") == NULL);
    log_format_line(line, sizeof line, LOG_INFO, "m", 0);
    CHECKF(strstr(line, "group=") == NULL && strstr(line, "request_id=abc-2") != NULL, "%s", line);
    log_ctx_clear();
    log_format_line(line, sizeof line, LOG_INFO, "m", 0);
    CHECK(strstr(line, "request_id") == NULL);
}

TEST(json_lines_parse)
{
    char line[4096];
    json_t *j;
    log_set_format(LOG_FORMAT_JSON);
    log_ctx_clear();
    log_ctx_set("request_id", "r\"1");
    log_format_line(line, sizeof line, LOG_ERROR, "bad \xff byte \"q\"", 2);
    j = json_loads(line, 0, NULL);
    CHECKF(j != NULL, "not JSON: %s", line);
    CHECK(strcmp(json_string_value(json_object_get(j, "level")), "error") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "msg")), "bad ? byte \"q\"") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "request_id")), "r\"1") == 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "repeated")), 2);
    CHECK(json_string_value(json_object_get(j, "ts")) && strlen(json_string_value(json_object_get(j, "ts"))) == 24);
    json_decref(j);
    log_ctx_clear();
    log_set_format(LOG_FORMAT_TEXT);
}

int main(void)
{
    g_tmp = check_tmpdir("test-config-log");
    RUN(the_table_is_complete_and_consistent);
    RUN(file_syntax);
    RUN(precedence_and_flag_forms);
    RUN(errors_name_the_line);
    RUN(export_sets_normalised_values);
    RUN(text_lines_quote_and_escape);
    RUN(json_lines_parse);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
