/* test_repo_secret.c: repo_secret_seal / repo_secret_open (src/repo/secret.c): a secret comes back
 * exactly (also an empty one and one of REPO_SECRET_MAX bytes), the sealed text is printable, holds
 * no trace of the plaintext and differs for each seal (random nonce); every changed character, a
 * cut text, another prefix, garbage base64 and another repository's key are refused, never opened
 * into something else; a secret longer than REPO_SECRET_MAX is refused at sealing. */
#include "check.h"
#include "repo/repo.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *g_dir;
static struct repo *g_a, *g_b;

static struct repo *make(const char *name)
{
    char dir[600], key[600], err[256];
    struct repo *r = NULL;
    snprintf(dir, sizeof dir, "%s/%s", g_dir, name);
    snprintf(key, sizeof key, "%s/%s.key", g_dir, name);
    if (repo_create(dir, key, err, sizeof err) != 0 || repo_open(dir, key, &r, err, sizeof err) != 0) {
        fprintf(stderr, "repository %s: %s\n", name, err);
        return NULL;
    }
    return r;
}

TEST(seal_open_round_trip)
{
    static const char *const secrets[] = { "S3cr3t-'quote'\\back", "", "x", "pässwörd ✓" };
    char *big = malloc(REPO_SECRET_MAX + 1);
    CHECK(g_a && big);
    memset(big, 'p', REPO_SECRET_MAX);
    big[REPO_SECRET_MAX] = '\0';
    for (size_t i = 0; i <= sizeof secrets / sizeof *secrets; i++) {
        const char *s = i < sizeof secrets / sizeof *secrets ? secrets[i] : big;
        char *sealed = NULL, *again = NULL, *plain = NULL;
        int ok = repo_secret_seal(g_a, s, &sealed) == 0 && repo_secret_seal(g_a, s, &again) == 0 &&
                 strncmp(sealed, "cfs1:", 5) == 0 && strcmp(sealed, again) != 0 &&
                 (strlen(s) < 6 || strstr(sealed, s) == NULL) && repo_secret_open(g_a, sealed, &plain) == 0 &&
                 strcmp(plain, s) == 0;
        for (const char *p = sealed; ok && *p; p++) ok = isprint((unsigned char)*p);
        free(sealed);
        free(again);
        repo_secret_free(plain);
        if (!ok) free(big);
        CHECKF(ok, "secret %zu", i);
    }
    free(big);
}

TEST(tampered_text_is_refused)
{
    char *sealed = NULL, *plain = NULL;
    size_t len;
    CHECK(g_a && repo_secret_seal(g_a, "tamper-me-please", &sealed) == 0);
    len = strlen(sealed);
    /* every character of the base64 part changed in turn */
    for (size_t i = 5; i < len; i++) {
        char *t = strdup(sealed);
        int rc;
        t[i] = t[i] == 'A' ? 'B' : 'A';
        rc = repo_secret_open(g_a, t, &plain);
        free(t);
        if (rc == 0) {
            repo_secret_free(plain);
            free(sealed);
            CHECKF(0, "a change at %zu opened", i);
        }
        if (rc != -EBADMSG && rc != -ENOTSUP) {
            free(sealed);
            CHECKF(0, "a change at %zu gave %d", i, rc);
        }
    }
    {
        char *cut = strndup(sealed, len - 4);
        int rc_cut = repo_secret_open(g_a, cut, &plain), rc_prefix, rc_other, rc_junk;
        sealed[3] = '2';   /* "cfs2:" */
        rc_prefix = repo_secret_open(g_a, sealed, &plain);
        sealed[3] = '1';
        rc_other = repo_secret_open(g_b, sealed, &plain);
        rc_junk = repo_secret_open(g_a, "cfs1:!!!!", &plain);
        free(cut);
        free(sealed);
        CHECK_EQ_INT(rc_cut, -EBADMSG);
        CHECK_EQ_INT(rc_prefix, -EINVAL);
        CHECK_EQ_INT(rc_other, -EBADMSG);
        CHECK_EQ_INT(rc_junk, -EBADMSG);
        CHECK(plain == NULL);
    }
}

TEST(too_long_is_refused)
{
    char *big = malloc(REPO_SECRET_MAX + 2), *sealed = (char *)1;
    int rc;
    CHECK(g_a && big);
    memset(big, 'q', REPO_SECRET_MAX + 1);
    big[REPO_SECRET_MAX + 1] = '\0';
    rc = repo_secret_seal(g_a, big, &sealed);
    free(big);
    CHECK_EQ_INT(rc, -E2BIG);
    CHECK(sealed == NULL);
}

int main(void)
{
    g_dir = check_tmpdir("secret");
    g_a = make("a");
    g_b = make("b");
    if (!g_a || !g_b) check_abandon("cannot create the repositories");
    RUN(seal_open_round_trip);
    RUN(tampered_text_is_refused);
    RUN(too_long_is_refused);
    repo_close(g_a);
    repo_close(g_b);
    check_rm_rf(g_dir);
    free(g_dir);
    return check_finish();
}
