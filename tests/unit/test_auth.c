/* test_auth.c: the authentication state of src/api/auth.c without a server: the admin and
 * data-security keys give their fixed principals and nothing else does (wrong, empty, non-Bearer,
 * over-long tokens; an API-key-shaped token without a catalog); rotating the admin key refuses the old
 * one at once; new tokens have the documented shape and their digest is SHA-256 of the token; the
 * failure limit blocks an address after fail_limit failures, only that address, keeps it blocked
 * while thousands of other addresses fail (the table is fixed-size), and lets it in after the
 * cool-down; role names round-trip. */
#include "check.h"
#include "api/auth.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct sockaddr_in v4(unsigned n)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x0a000000u + n); /* 10.x.y.z */
    return a;
}

TEST(fixed_keys_and_nothing_else)
{
    struct api_auth_state *a = NULL;
    struct api_principal p;
    char longtok[700];
    CHECK(api_auth_new("admin-secret-1", "/nonexistent/admin.key", "ds-secret-1", NULL, &a) == 0);
    CHECK(api_auth_lookup(a, NULL, "Bearer admin-secret-1", &p) == 0);
    CHECK(strcmp(p.key_id, API_ADMIN_KEY_ID) == 0 && p.cluster == 1 && p.roles == API_ROLE_ADMIN && !p.tenant[0]);
    CHECK(api_auth_lookup(a, NULL, "bearer   admin-secret-1", &p) == 0); /* scheme case, spaces */
    CHECK(api_auth_lookup(a, NULL, "Bearer ds-secret-1", &p) == 0);
    CHECK(strcmp(p.key_id, API_DATA_SECURITY_KEY_ID) == 0 && p.cluster == 1 &&
          p.roles == (API_ROLE_DATA_SECURITY | API_ROLE_VIEWER));
    CHECK(api_auth_lookup(a, NULL, "Bearer admin-secret-2", &p) == -1);
    CHECK(api_auth_lookup(a, NULL, "Bearer ", &p) == -1);
    CHECK(api_auth_lookup(a, NULL, "Basic admin-secret-1", &p) == -1);
    CHECK(api_auth_lookup(a, NULL, "admin-secret-1", &p) == -1);
    CHECK(api_auth_lookup(a, NULL, NULL, &p) == -1);
    memset(longtok, 'a', sizeof longtok - 1);
    memcpy(longtok, "Bearer ", 7);
    longtok[sizeof longtok - 1] = '\0';
    CHECK(api_auth_lookup(a, NULL, longtok, &p) == -1);
    CHECK(strcmp(api_auth_admin_key_path(a), "/nonexistent/admin.key") == 0);
    /* rotation: the old key stops at once */
    CHECK(api_auth_set_admin_key(a, "admin-secret-2") == 0);
    CHECK(api_auth_lookup(a, NULL, "Bearer admin-secret-1", &p) == -1);
    CHECK(api_auth_lookup(a, NULL, "Bearer admin-secret-2", &p) == 0);
    CHECK(api_auth_set_admin_key(a, "") != 0);
    CHECK(api_auth_lookup(a, NULL, "Bearer admin-secret-2", &p) == 0);
    api_auth_free(a);
}

TEST(new_tokens_have_the_documented_shape)
{
    char id[API_KEY_ID_HEX + 1], tok[API_KEY_TOKEN_LEN + 1], id2[API_KEY_ID_HEX + 1], tok2[API_KEY_TOKEN_LEN + 1];
    unsigned char d[32], d2[32], want[32];
    char key[65];
    struct api_auth_state *a = NULL;
    struct api_principal p;
    char auth[200];
    CHECK(api_key_new_token(id, tok, d) == 0);
    CHECK(api_key_new_token(id2, tok2, d2) == 0);
    CHECK_EQ_INT(strlen(id), API_KEY_ID_HEX);
    CHECK_EQ_INT(strlen(tok), API_KEY_TOKEN_LEN);
    CHECK(strncmp(tok, "cfk_", 4) == 0 && strncmp(tok + 4, id, API_KEY_ID_HEX) == 0 && tok[4 + API_KEY_ID_HEX] == '_');
    CHECK(strspn(tok + 5 + API_KEY_ID_HEX, "0123456789abcdef") == API_KEY_SECRET_HEX);
    SHA256((const unsigned char *)tok, strlen(tok), want);
    CHECK(memcmp(d, want, 32) == 0);
    CHECK(strcmp(tok, tok2) != 0 && strcmp(id, id2) != 0);
    CHECK(api_admin_key_new(key) == 0 && strlen(key) == 64);
    /* an API key token is looked up in the catalog only: without one it is refused */
    CHECK(api_auth_new("x", NULL, NULL, NULL, &a) == 0);
    snprintf(auth, sizeof auth, "Bearer %s", tok);
    CHECK(api_auth_lookup(a, NULL, auth, &p) == -1);
    CHECK(api_auth_admin_key_path(a) == NULL);
    api_auth_free(a);
}

TEST(failure_limit_per_address_in_a_fixed_table)
{
    struct api_auth_limits lim = { 3, 60, 1 };
    struct api_auth_state *a = NULL;
    struct sockaddr_in bad = v4(1), other = v4(2);
    unsigned retry = 0;
    CHECK(api_auth_new("x", NULL, NULL, &lim, &a) == 0);
    for (int i = 0; i < 2; i++) api_auth_failed(a, (struct sockaddr *)&bad);
    CHECK(!api_auth_blocked(a, (struct sockaddr *)&bad, &retry));
    api_auth_failed(a, (struct sockaddr *)&bad);
    CHECK(api_auth_blocked(a, (struct sockaddr *)&bad, &retry));
    CHECK_EQ_INT(retry, 1);
    CHECK(!api_auth_blocked(a, (struct sockaddr *)&other, &retry));
    /* 5000 other addresses fail once each: the table stays its size and the blocked one stays blocked */
    for (unsigned n = 100; n < 5100; n++) {
        struct sockaddr_in x = v4(n);
        api_auth_failed(a, (struct sockaddr *)&x);
    }
    CHECK(api_auth_blocked(a, (struct sockaddr *)&bad, &retry));
    for (int i = 0; i < 30 && api_auth_blocked(a, (struct sockaddr *)&bad, &retry); i++) usleep(100 * 1000);
    CHECK(!api_auth_blocked(a, (struct sockaddr *)&bad, &retry)); /* after the 1 s cool-down */
    api_auth_free(a);
    /* no limit */
    lim.fail_limit = 0;
    CHECK(api_auth_new("x", NULL, NULL, &lim, &a) == 0);
    for (int i = 0; i < 100; i++) api_auth_failed(a, (struct sockaddr *)&bad);
    CHECK(!api_auth_blocked(a, (struct sockaddr *)&bad, &retry));
    api_auth_free(a);
}

TEST(ipv6_clients_are_counted_per_64)
{
    struct api_auth_limits lim = { 2, 60, 60 };
    struct api_auth_state *a = NULL;
    struct sockaddr_in6 x, y, z;
    unsigned retry;
    memset(&x, 0, sizeof x);
    x.sin6_family = AF_INET6;
    y = z = x;
    inet_pton(AF_INET6, "2001:db8:1:2::1", &x.sin6_addr);
    inet_pton(AF_INET6, "2001:db8:1:2:ffff::9", &y.sin6_addr);
    inet_pton(AF_INET6, "2001:db8:1:3::1", &z.sin6_addr);
    CHECK(api_auth_new("x", NULL, NULL, &lim, &a) == 0);
    api_auth_failed(a, (struct sockaddr *)&x);
    api_auth_failed(a, (struct sockaddr *)&y);
    CHECK(api_auth_blocked(a, (struct sockaddr *)&x, &retry));
    CHECK(api_auth_blocked(a, (struct sockaddr *)&y, &retry));
    CHECK(!api_auth_blocked(a, (struct sockaddr *)&z, &retry));
    api_auth_free(a);
}

TEST(role_names_round_trip)
{
    char buf[96];
    CHECK(strcmp(api_role_names(API_ROLE_VIEWER | API_ROLE_ADMIN | API_ROLE_AGENT, buf, sizeof buf),
                 "Viewer,Admin,Agent") == 0);
    CHECK(strcmp(api_role_names(0, buf, sizeof buf), "") == 0);
    CHECK(api_role_parse("DataSecurity") == API_ROLE_DATA_SECURITY);
    CHECK(api_role_parse("Operator") == API_ROLE_OPERATOR);
    CHECK(api_role_parse("admin") == 0 && api_role_parse("") == 0 && api_role_parse(NULL) == 0);
    CHECK(api_role_satisfies(API_ROLE_ADMIN, API_ROLE_VIEWER) && !api_role_satisfies(API_ROLE_VIEWER, API_ROLE_ADMIN));
    CHECK(!api_role_satisfies(API_ROLE_DATA_SECURITY, API_ROLE_VIEWER) && !api_role_satisfies(API_ROLE_ADMIN, 0));
}

int main(void)
{
    RUN(fixed_keys_and_nothing_else);
    RUN(new_tokens_have_the_documented_shape);
    RUN(failure_limit_per_address_in_a_fixed_table);
    RUN(ipv6_clients_are_counted_per_64);
    RUN(role_names_round_trip);
    return check_finish();
}
