/* e2e_server.c: the HTTP front door of the real daemon: authentication, unknown paths and methods,
 * oversized bodies, concurrent clients and a graceful SIGTERM. */
#include "check.h"
#include "e2e/harness.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static struct daemon d;

TEST(no_key_is_401_with_json_message)
{
    struct http_resp r;
    CHECK(http_raw(&d, "GET", "/v2/data-protect/policies", NULL, NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 401);
    CHECK(jstr(r.json, "message") != NULL);
    http_resp_release(&r);
}

TEST(wrong_key_is_401)
{
    struct http_resp r;
    CHECK(http_raw(&d, "GET", "/v2/data-protect/policies", "Bearer not-the-key", NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 401);
    http_resp_release(&r);
    CHECK(http_raw(&d, "GET", "/v2/data-protect/policies", "Basic " HARNESS_KEY, NULL, NULL, 0, &r) == 0);
    CHECK_EQ_INT(r.status, 401);
    http_resp_release(&r);
}

TEST(unknown_path_is_404_json)
{
    struct http_resp r;
    CHECK(http(&d, "GET", "/v2/no/such/thing", "t1", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK(strstr(jstr(r.json, "message"), "/v2/no/such/thing") != NULL);
    http_resp_release(&r);
}

TEST(oversized_body_is_413)
{
    size_t n = 5u * 1024 * 1024;
    char *big = malloc(n + 1);
    struct http_resp r;
    CHECK(big != NULL);
    memset(big, 'x', n);
    big[n] = '\0';
    CHECK(http_raw(&d, "POST", "/v2/data-protect/policies", "Bearer " HARNESS_KEY, NULL, big, n, &r) == 0);
    free(big);
    CHECK_EQ_INT(r.status, 413);
    CHECK(jstr(r.json, "message") != NULL);
    http_resp_release(&r);
}

TEST(sigterm_stops_cleanly)
{
    struct daemon d2;
    CHECK(daemon_start(&d2, NULL) == 0);
    CHECK_EQ_INT(daemon_stop(&d2), 0);
}

int main(void)
{
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(no_key_is_401_with_json_message);
    RUN(wrong_key_is_401);
    RUN(unknown_path_is_404_json);
    RUN(oversized_body_is_413);
    RUN(sigterm_stops_cleanly);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    return check_finish();
}
