/* test_policy_ids.c: string ids of policies and groups (src/api/resid.c): format and parse round
 * trip, every malformed shape refused, ids allocated from the catalog are "cluster:incarnation:n",
 * distinct and stable across a reopen; modification times always move forward; stored documents
 * are spliced correctly into list responses and buffers honour their cap. */
#include "check.h"
#include "e2e/pgtest.h"
#include "api/resid.h"
#include "catalog/cat.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TEST(format_and_parse_round_trip)
{
    char buf[API_ID_MAX];
    int64_t c, i, n;
    api_id_format(buf, sizeof buf, 123456789, 42, 7);
    CHECK(strcmp(buf, "123456789:42:7") == 0);
    CHECK(api_id_parse(buf, &c, &i, &n) == 1);
    CHECK_EQ_INT(c, 123456789);
    CHECK_EQ_INT(i, 42);
    CHECK_EQ_INT(n, 7);
    api_id_format(buf, sizeof buf, INT64_MAX, INT64_MAX, INT64_MAX);
    CHECK(strlen(buf) < API_ID_MAX);
    CHECK(api_id_parse(buf, &c, &i, &n) == 1);
    CHECK(c == INT64_MAX && i == INT64_MAX && n == INT64_MAX);
    CHECK(api_id_parse("1:2:3", NULL, NULL, NULL) == 1);
}

TEST(malformed_ids_are_refused)
{
    static const char *const bad[] = {
        "", "1", "1:2", "1:2:3:4", "1::3", ":1:2", "1:2:", "0:1:2", "1:0:2", "1:2:0", "01:2:3", "1:02:3",
        "a:b:c", "1:2:3 ", " 1:2:3", "-1:2:3", "+1:2:3", "1:2:3x", "1.0:2:3", "1:2:3\n",
        "9223372036854775808:1:1",   /* INT64_MAX + 1 */
        "12345678901234567890:1:1",  /* 20 digits */
        "1:2:99999999999999999999999", "abc", "..", "1%3A2%3A3",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        CHECKF(api_id_parse(bad[k], NULL, NULL, NULL) == 0, "accepted '%s'", bad[k]);
    CHECK(api_id_parse(NULL, NULL, NULL, NULL) == 0);
    CHECK(api_id_parse("9223372036854775807:1:1", NULL, NULL, NULL) == 1);
}

TEST(ids_from_the_catalog_are_stable_and_distinct)
{
    char *dir = check_tmpdir("ids"), path[512], a[API_ID_MAX], b[API_ID_MAX], c2[API_ID_MAX], err[256];
    struct cat *cat;
    int64_t cl, inc, cl2, inc2, n1, n2, n3, seq;
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    CHECK(cat_open(pgtest_cat(path), &cat, err, sizeof err) == 0);
    CHECK(cat_installation(cat, &cl, &inc) == 0);
    CHECK(api_id_new(cat, "policy", a, sizeof a, &seq) == 0);
    CHECK(api_id_new(cat, "policy", b, sizeof b, NULL) == 0);
    CHECK(strcmp(a, b) != 0);
    CHECK(api_id_parse(a, &cl2, &inc2, &n1) == 1);
    CHECK(cl2 == cl && inc2 == inc && n1 == seq);
    CHECK(api_id_parse(b, NULL, NULL, &n2) == 1);
    CHECK_EQ_INT(n2, n1 + 1);
    cat_close(cat);
    /* reopened: same installation, the counter goes on */
    CHECK(cat_open(pgtest_cat(path), &cat, err, sizeof err) == 0);
    CHECK(api_id_new(cat, "policy", c2, sizeof c2, NULL) == 0);
    CHECK(api_id_parse(c2, &cl2, &inc2, &n3) == 1);
    CHECK(cl2 == cl && inc2 == inc);
    CHECK_EQ_INT(n3, n2 + 1);
    cat_close(cat);
    check_rm_rf(dir);
    free(dir);
}

TEST(modification_times_move_forward)
{
    int64_t now = api_now_usecs();
    CHECK(now > 1600000000LL * 1000000);
    CHECK(api_next_mtime(0) >= now);
    CHECK_EQ_INT(api_next_mtime(now + 10000000), now + 10000001);
    for (int k = 0; k < 1000; k++) {
        int64_t m = api_next_mtime(now);
        CHECK(m > now);
        now = m;
    }
}

TEST(docs_are_spliced_into_lists)
{
    struct api_buf b;
    api_buf_init(&b, 1024);
    api_buf_add_doc_with(&b, "{\"id\":\"1:2:3\"}", 14, "\"n\":1");
    api_buf_adds(&b, ",");
    api_buf_add_doc_with(&b, "{}", 2, "\"n\":2");
    api_buf_adds(&b, ",");
    api_buf_add_doc_with(&b, "{\"a\":[{}]}", 10, NULL);
    CHECK(!b.failed);
    CHECK(strcmp(b.data, "{\"id\":\"1:2:3\",\"n\":1},{\"n\":2},{\"a\":[{}]}") == 0);
    api_buf_release(&b);
}

TEST(buffers_honour_their_cap)
{
    struct api_buf b;
    char chunk[100];
    memset(chunk, 'x', sizeof chunk);
    api_buf_init(&b, 250);
    api_buf_add(&b, chunk, 100);
    api_buf_add(&b, chunk, 100);
    CHECK(!b.failed);
    CHECK_EQ_INT(b.len, 200);
    api_buf_add(&b, chunk, 100);
    CHECK(b.failed);
    CHECK_EQ_INT(b.len, 200);
    api_buf_add(&b, chunk, 1); /* ignored once failed */
    CHECK_EQ_INT(b.len, 200);
    api_buf_release(&b);
    api_buf_init(&b, 10);
    api_buf_add_doc_with(&b, "not json", 8, "\"x\":1"); /* no closing brace: refused, never corrupted */
    CHECK(b.failed);
    api_buf_release(&b);
}

int main(void)
{
    RUN(format_and_parse_round_trip);
    RUN(malformed_ids_are_refused);
    RUN(ids_from_the_catalog_are_stable_and_distinct);
    RUN(modification_times_move_forward);
    RUN(docs_are_spliced_into_lists);
    RUN(buffers_honour_their_cap);
    return check_finish();
}
