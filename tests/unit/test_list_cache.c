/* test_list_cache.c: the API's list cache (src/api/list_cache.c): an answer is served only under the
 * generation, catalog and key it was stored with, the bytes served are the bytes stored (and stay
 * alive while a response holds them after the slot was replaced), generation 0 is never kept, and the
 * least recently used answers make room within the byte budget. */
#include "check.h"
#include "api/list_cache.h"
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

static int cat_a, cat_b; /* two "catalogs": only their addresses matter */

static char *text(const char *s)
{
    return strdup(s);
}

/* hit: whether (cat, key, gen) is served, and then whether it is want (checked). */
static int hit(enum api_list_kind kind, const void *cat, const char *key, uint64_t gen, const char *want)
{
    struct api_resp r = { 0 };
    int ok = api_list_cache_respond(kind, cat, key, gen, &r);
    if (ok) {
        if (r.status != 200 || !r.raw) check_fail(__FILE__, __LINE__, "a hit answered %d", r.status);
        if (want && !(r.doc_len == strlen(want) && memcmp(r.doc, want, r.doc_len) == 0))
            check_fail(__FILE__, __LINE__, "served %.*s, not %s", (int)r.doc_len, r.doc, want);
        if (r.raw) MHD_destroy_response(r.raw);
    }
    return ok;
}

/* store: stores data under (cat, key, gen), checking the answer is data itself. */
static void store(enum api_list_kind kind, const void *cat, const char *key, uint64_t gen, char *data, size_t len)
{
    struct api_resp r = { 0 };
    api_list_cache_store_respond(kind, cat, key, gen, data, len, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.raw != NULL && r.doc == data && r.doc_len == len);
    MHD_destroy_response(r.raw);
}

TEST(served_only_under_its_generation_catalog_and_key)
{
    store(API_LIST_GROUPS, &cat_a, "k1", 5, text("{\"protectionGroups\":[1]}"), 24);
    CHECK(hit(API_LIST_GROUPS, &cat_a, "k1", 5, "{\"protectionGroups\":[1]}"));
    CHECK(hit(API_LIST_GROUPS, &cat_a, "k1", 5, "{\"protectionGroups\":[1]}"));
    CHECK(!hit(API_LIST_GROUPS, &cat_b, "k1", 5, NULL));
    CHECK(!hit(API_LIST_GROUPS, &cat_a, "k2", 5, NULL));
    CHECK(!hit(API_LIST_POLICIES, &cat_a, "k1", 5, NULL));
    CHECK(!hit(API_LIST_GROUPS, &cat_a, "k1", 0, NULL));
    CHECK(!hit(API_LIST_GROUPS, &cat_a, "k1", 6, NULL)); /* newer: the old answer is dropped ... */
    CHECK(!hit(API_LIST_GROUPS, &cat_a, "k1", 5, NULL)); /* ... for good */
    store(API_LIST_GROUPS, &cat_a, "k0", 0, text("{}"), 2);  /* generation 0: answered, not kept */
    CHECK(!hit(API_LIST_GROUPS, &cat_a, "k0", 0, NULL));
}

TEST(an_answer_being_sent_outlives_its_slot)
{
    struct api_resp r = { 0 };
    char *data = text("[\"first\"]");
    store(API_LIST_POLICIES, &cat_a, "p", 7, data, strlen(data));
    CHECK(api_list_cache_respond(API_LIST_POLICIES, &cat_a, "p", 7, &r) == 1);
    /* replaced while r still holds it: r's bytes stay valid (ASan would see a use after free) */
    store(API_LIST_POLICIES, &cat_a, "p", 8, text("[\"second\"]"), 10);
    CHECK(r.doc_len == 9 && memcmp(r.doc, "[\"first\"]", 9) == 0);
    MHD_destroy_response(r.raw);
    CHECK(hit(API_LIST_POLICIES, &cat_a, "p", 8, "[\"second\"]"));
    /* an answer read under an older generation does not replace a newer one */
    store(API_LIST_POLICIES, &cat_a, "p", 7, text("[\"old\"]"), 7);
    CHECK(hit(API_LIST_POLICIES, &cat_a, "p", 8, "[\"second\"]"));
}

TEST(least_recently_used_answers_make_room)
{
    size_t big = 25u * 1024 * 1024;
    char key[32];
    for (int i = 0; i < 3; i++) {
        char *b = malloc(big);
        CHECK(b != NULL);
        memset(b, 'a' + i, big);
        snprintf(key, sizeof key, "big%d", i);
        store(API_LIST_GROUPS, &cat_b, key, 1, b, big);
        if (i == 1) CHECK(hit(API_LIST_GROUPS, &cat_b, "big0", 1, NULL)); /* big0 is now newer than big1 */
    }
    /* 3 x 25 MiB > 64 MiB: the least recently used (big1) made room */
    CHECK(hit(API_LIST_GROUPS, &cat_b, "big0", 1, NULL));
    CHECK(!hit(API_LIST_GROUPS, &cat_b, "big1", 1, NULL));
    CHECK(hit(API_LIST_GROUPS, &cat_b, "big2", 1, NULL));
    /* more slots than LIST_CACHE_SLOTS: the oldest small ones go */
    for (int i = 0; i < LIST_CACHE_SLOTS + 2; i++) {
        snprintf(key, sizeof key, "small%d", i);
        store(API_LIST_GROUPS, &cat_b, key, 1, text("[]"), 2);
    }
    CHECK(!hit(API_LIST_GROUPS, &cat_b, "small0", 1, NULL));
    snprintf(key, sizeof key, "small%d", LIST_CACHE_SLOTS + 1);
    CHECK(hit(API_LIST_GROUPS, &cat_b, key, 1, "[]"));
}

int main(void)
{
    RUN(served_only_under_its_generation_catalog_and_key);
    RUN(an_answer_being_sent_outlives_its_slot);
    RUN(least_recently_used_answers_make_room);
    return check_finish();
}
