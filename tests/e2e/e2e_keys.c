/* e2e_keys.c: `coffer key create|list|revoke` against the real daemon. The CLI (build/asan/coffer,
 * or $COFFER_CLI) runs as a subprocess with COFFER_URL and COFFER_KEY; its stdout, stderr and exit
 * status are checked against what the server does with the key it printed:
 *   - key create prints the secret once; the secret works for its tenant (GET 200), is refused for
 *     another tenant (403) and for a write (403: a Viewer);
 *   - key list shows the key (id, tenant, roles, Active) and never the secret;
 *   - a Viewer key running `key create` gets exit 1 and the server's message naming the Admin role;
 *   - key revoke: the key is 401 on the very next request and list shows it Revoked;
 *   - a usage error (no --role) is exit 2 and creates nothing. */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/clirun.h"
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct daemon d;
static char url[128];
static char *tmp;

static struct cli_run last; /* released by the next run */

/* cli: runs the CLI as key with the words given (NULL-terminated); the result in `last`. */
static struct cli_run *cli(const char *key, ...)
{
    struct cli_env e = { .tmp = tmp, .url = url, .key = key };
    va_list ap;
    const char *first;
    va_start(ap, key);
    first = va_arg(ap, const char *);
    clirun_v(&last, &e, first, ap);
    va_end(ap);
    return &last;
}

static long get_as(const char *secret, const char *tenant, const char *method, const char *body)
{
    char auth[256], th[128];
    const char *hs[3] = { th, "Content-Type: application/json", NULL };
    struct http_resp r;
    long st;
    snprintf(auth, sizeof auth, "Bearer %s", secret);
    snprintf(th, sizeof th, "X-IBM-Tenant-Id: %s", tenant);
    if (http_raw(&d, method, "/v2/data-source-connections", auth, hs, body, body ? strlen(body) : 0, &r) != 0) return -1;
    st = r.status;
    http_resp_release(&r);
    return st;
}

static char secret[160], id[32];

TEST(create_prints_the_secret_once_and_it_works)
{
    struct cli_run *r = cli(HARNESS_KEY, "--tenant", "acme", "key", "create", "ci-reader", "--role", "Viewer", NULL);
    const char *s, *i;
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    i = strstr(r->out, "created key ");
    s = strstr(r->out, "secret: ");
    CHECKF(i && s, "stdout: %s", r->out);
    snprintf(id, sizeof id, "%.*s", (int)strcspn(i + 12, " \n"), i + 12);
    snprintf(secret, sizeof secret, "%.*s", (int)strcspn(s + 8, " \n"), s + 8);
    CHECKF(strncmp(secret, "cfk_", 4) == 0 && strlen(secret) == 85 && strncmp(secret + 4, id, 16) == 0,
           "id %s secret %s", id, secret);
    CHECK(strstr(r->out, "tenant acme") != NULL);
    CHECK_EQ_INT(get_as(secret, "acme", "GET", NULL), 200);
    CHECK_EQ_INT(get_as(secret, "other", "GET", NULL), 403);
    CHECK_EQ_INT(get_as(secret, "acme", "POST", "{\"connectionName\":\"x\"}"), 403);
}

TEST(list_shows_the_key_never_the_secret)
{
    struct cli_run *r = cli(HARNESS_KEY, "key", "list", "--for-tenant", "acme", NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECKF(strstr(r->out, id) && strstr(r->out, "ci-reader") && strstr(r->out, "acme") && strstr(r->out, "Viewer") &&
           strstr(r->out, "Active"), "stdout: %s", r->out);
    CHECK(strstr(r->out, secret + 21) == NULL);
    r = cli(HARNESS_KEY, "--json", "key", "list", NULL);
    CHECKF(r->status == 0 && strstr(r->out, id) && !strstr(r->out, secret + 21), "%s", r->out);
}

TEST(a_viewer_cannot_create_keys)
{
    struct cli_run *r = cli(secret, "--tenant", "acme", "key", "create", "sneaky", "--role", "Viewer", NULL);
    CHECKF(r->status == 1 && strstr(r->err, "Admin") && strstr(r->err, "403"), "exit %d: %s", r->status, r->err);
    r = cli(HARNESS_KEY, "key", "create", "no-roles", NULL);
    CHECKF(r->status == 2, "exit %d: %s", r->status, r->err);
    r = cli(HARNESS_KEY, "--json", "key", "list", NULL);
    CHECK(strstr(r->out, "sneaky") == NULL && strstr(r->out, "no-roles") == NULL);
}

TEST(revoke_takes_effect_on_the_next_request)
{
    struct cli_run *r = cli(HARNESS_KEY, "key", "revoke", id, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK_EQ_INT(get_as(secret, "acme", "GET", NULL), 401);
    r = cli(HARNESS_KEY, "key", "list", NULL);
    CHECKF(r->status == 0 && strstr(r->out, "Revoked"), "%s", r->out);
    r = cli(HARNESS_KEY, "key", "revoke", "0000000000000000", NULL);
    CHECKF(r->status == 1 && strstr(r->err, "404"), "exit %d: %s", r->status, r->err);
}

int main(void)
{
    tmp = check_tmpdir("e2e-keys");
    if (!tmp || daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    snprintf(url, sizeof url, "%s/v2", d.base);
    RUN(create_prints_the_secret_once_and_it_works);
    RUN(list_shows_the_key_never_the_secret);
    RUN(a_viewer_cannot_create_keys);
    RUN(revoke_takes_effect_on_the_next_request);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmp);
    }
    free(tmp);
    return check_finish();
}
