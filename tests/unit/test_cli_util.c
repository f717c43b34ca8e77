/* test_cli_util.c: the CLI's shared pieces (src/cli/cli_util.c) without a server: paths tidied (trailing
 * and doubled slashes), display widths in terminal cells (CJK 2, combining 0, invalid bytes 1), local
 * times, and the error reporter read back from stderr: a 400's field path named by the option the user
 * typed (array indexes ignored, at the start of the message and after "field"), a 401 naming where the
 * key came from, a 404 from a URL without /v2 asking for it, and with --json one JSON object per error. */
#include "check.h"
#include "cli/cli.h"
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *g_tmp;

/* captured: runs cli_http_error with stderr sent to a file; returns what it wrote (static buffer). */
static const char *captured(struct cli *c, long status, const char *message)
{
    static char out[8192];
    char path[600];
    json_t *j = message ? json_pack("{s:s}", "message", message) : NULL;
    int saved, fd;
    ssize_t n;
    snprintf(path, sizeof path, "%s/stderr", g_tmp);
    fflush(stderr);
    saved = dup(2);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0) return "";
    dup2(fd, 2);
    close(fd);
    cli_http_error(c, status, "GET", "/x", j, "", 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    json_decref(j);
    fd = open(path, O_RDONLY);
    n = fd >= 0 ? read(fd, out, sizeof out - 1) : -1;
    if (fd >= 0) close(fd);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

TEST(paths_are_tidied)
{
    static const char *const cases[][2] = {
        { "/a/b/", "/a/b" }, { "/a//b///", "/a/b" }, { "/", "/" }, { "//", "/" }, { "/a", "/a" }, { "rel/", "rel" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char p[64];
        snprintf(p, sizeof p, "%s", cases[i][0]);
        cli_tidy_path(p);
        CHECKF(strcmp(p, cases[i][1]) == 0, "%s -> %s, want %s", cases[i][0], p, cases[i][1]);
    }
}

TEST(widths_are_display_cells)
{
    CHECK_EQ_INT(cli_width("plain"), 5);
    CHECK_EQ_INT(cli_width("日本語のグループ"), 16);  /* 8 wide characters */
    CHECK_EQ_INT(cli_width("café"), 4);
    CHECK_EQ_INT(cli_width("e\xcc\x81"), 1);          /* e + combining acute */
    CHECK_EQ_INT(cli_width("a\xff" "b"), 3);          /* an invalid byte is one cell */
    CHECK_EQ_INT(cli_width(""), 0);
}

TEST(times_are_local_dates)
{
    char buf[32], want[32];
    time_t t = 1796538192;
    struct tm tm;
    CHECK(cli_time_text(0, buf, sizeof buf) == NULL);
    CHECK(cli_time_text(-5, buf, sizeof buf) == NULL);
    localtime_r(&t, &tm);
    strftime(want, sizeof want, "%Y-%m-%d %H:%M:%S", &tm);
    CHECK(cli_time_text(1796538192487579LL, buf, sizeof buf) != NULL);
    CHECKF(strcmp(buf, want) == 0, "%s, want %s", buf, want);
}

TEST(a_field_is_named_by_its_option)
{
    static const struct cli_field fields[] = {
        { "policyId", "--policy" },
        { "physicalParams.objects.snapshotId", "--snapshot" },
        { "a.files.absolutePath", "--path" },
        { NULL, NULL },
    };
    struct cli c = { 0 };
    const char *e;
    c.url = "http://127.0.0.1:8080/v2";
    c.fields = fields;
    e = captured(&c, 400, "field 'policyId' must be a protection policy id, not 'bad'");
    CHECKF(strcmp(e, "coffer: --policy (field 'policyId') must be a protection policy id, not 'bad' (HTTP 400)\n") == 0,
           "%s", e);
    e = captured(&c, 404, "physicalParams.objects[0].snapshotId: snapshot 'x' not found");
    CHECKF(strstr(e, "coffer: --snapshot (field 'physicalParams.objects[0].snapshotId'): snapshot 'x' not found") == e,
           "%s", e);
    e = captured(&c, 404, "field 'a.files[12].absolutePath': '/q' is not in snapshot s");
    CHECKF(strstr(e, "--path (field 'a.files[12].absolutePath'): '/q'"), "%s", e);
    /* a field no option fills stays as the server said it */
    e = captured(&c, 400, "field 'policyIdX' is odd; field 'other' too");
    CHECKF(strcmp(e, "coffer: field 'policyIdX' is odd; field 'other' too (HTTP 400)\n") == 0, "%s", e);
    c.fields = NULL;
    e = captured(&c, 400, "field 'policyId' must be set");
    CHECKF(strcmp(e, "coffer: field 'policyId' must be set (HTTP 400)\n") == 0, "%s", e);
}

TEST(key_and_url_hints)
{
    struct cli c = { 0 };
    const char *e;
    c.url = "http://127.0.0.1:8080/v2";
    c.key_source = "COFFER_KEY";
    e = captured(&c, 401, "a valid 'Authorization: Bearer <key>' header is required");
    CHECKF(strstr(e, "refused the API key from COFFER_KEY") && strstr(e, "--key") && strstr(e, "HTTP 401"), "%s", e);
    e = captured(&c, 404, "no such path: /v2/x");
    CHECKF(strstr(e, "did you mean") == NULL, "%s", e);
    c.url = "http://127.0.0.1:8080";
    e = captured(&c, 404, "no such path: /x");
    CHECKF(strstr(e, "does not end in /v2: did you mean http://127.0.0.1:8080/v2?"), "%s", e);
}

TEST(json_errors_are_one_object)
{
    struct cli c = { 0 };
    const char *e;
    json_t *j;
    c.url = "http://127.0.0.1:8080/v2";
    cli_errors_json(1);
    e = captured(&c, 409, "group \"x\" is in use");
    cli_errors_json(0);
    j = json_loads(e, 0, NULL);
    CHECKF(j != NULL, "not JSON: %s", e);
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                 "group \"x\" is in use (HTTP 409)") == 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "error"), "httpStatus")), 409);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "error"), "exitStatus")), 1);
    json_decref(j);
}

int main(void)
{
    setlocale(LC_CTYPE, "C");
    cli_locale_init(); /* C is not UTF-8: the CLI takes C.UTF-8 */
    g_tmp = check_tmpdir("test-cli-util");
    RUN(paths_are_tidied);
    RUN(widths_are_display_cells);
    RUN(times_are_local_dates);
    RUN(a_field_is_named_by_its_option);
    RUN(key_and_url_hints);
    RUN(json_errors_are_one_object);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
