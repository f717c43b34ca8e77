/* test_list_cache.c: the API's list cache (src/api/list_cache.c): an answer is served only under the
 * generation, catalog and key it was stored with, the bytes served are the bytes stored (and stay
 * alive while a response holds them after the slot was replaced), generation 0 is never kept, and the
 * least recently used answers make room within the byte budget. A large answer (LIST_CACHE_FD_MIN
 * bytes or more) lives in a sealed memfd: its bytes are the stored ones, a plain-HTTP request is
 * answered from a descriptor of it (no copy; closed with the response) and the memfd cannot be
 * written. */
#include "check.h"
#include "api/list_cache.h"
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cat_a, cat_b; /* two "catalogs": only their addresses matter */
static const struct api_req *req; /* NULL: no connection: answers come from memory */

static char *text(const char *s)
{
    return strdup(s);
}

/* hit: whether (cat, key, gen) is served, and then whether it is want (checked). */
static int hit(enum api_list_kind kind, const void *cat, const char *key, uint64_t gen, const char *want)
{
    struct api_resp r = { 0 };
    int ok = api_list_cache_respond(kind, req, cat, key, gen, &r);
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
    char *copy = len >= LIST_CACHE_FD_MIN && gen != 0 ? malloc(len) : NULL; /* data moves into a memfd */
    if (copy) memcpy(copy, data, len);
    api_list_cache_store_respond(kind, req, cat, key, gen, data, len, &r);
    CHECK_EQ_INT(r.status, 200);
    if (copy) CHECK(r.raw != NULL && r.doc && r.doc_len == len && memcmp(r.doc, copy, len) == 0);
    else CHECK(r.raw != NULL && r.doc == data && r.doc_len == len);
    free(copy);
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
    CHECK(api_list_cache_respond(API_LIST_POLICIES, req, &cat_a, "p", 7, &r) == 1);
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

/* open_fds: how many descriptors this process has open. */
static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) != -1) n++;
    return n;
}

TEST(a_large_answer_lives_in_a_sealed_memfd)
{
    static const struct api_req plain = { 0 }; /* no server: not TLS */
    struct api_resp r = { 0 };
    size_t len = LIST_CACHE_FD_MIN + 12345;
    char *b = malloc(len), *want = malloc(len);
    int fds0, fds1;
    CHECK(b && want);
    if (!b || !want) return;
    for (size_t i = 0; i < len; i++) b[i] = (char)('a' + i % 23);
    memcpy(want, b, len);
    store(API_LIST_GROUPS, &cat_a, "large", 3, b, len);
    /* from memory (TLS or no connection): the mapping of the memfd, the bytes stored */
    CHECK(api_list_cache_respond(API_LIST_GROUPS, NULL, &cat_a, "large", 3, &r) == 1);
    CHECK(r.raw && r.doc && r.doc_len == len && memcmp(r.doc, want, len) == 0);
    /* the mapping is read-only and the memfd sealed: nobody can change a cached answer */
    {
        int fd = -1;
        for (int i = 3; i < 4096 && fd < 0; i++) {
            char link[64], target[256];
            ssize_t n;
            snprintf(link, sizeof link, "/proc/self/fd/%d", i);
            n = readlink(link, target, sizeof target - 1);
            if (n > 0) {
                target[n] = '\0';
                if (strstr(target, "memfd:coffer-list")) fd = i;
            }
        }
        CHECK(fd >= 0);
        if (fd >= 0) {
            int seals = fcntl(fd, F_GET_SEALS);
            CHECK(seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SHRINK) && (seals & F_SEAL_GROW));
            CHECK(pwrite(fd, "x", 1, 0) == -1);
        }
    }
    MHD_destroy_response(r.raw);
    /* plain HTTP: a descriptor of its own (no bytes in memory for the audit), closed with the response */
    fds0 = open_fds();
    memset(&r, 0, sizeof r);
    CHECK(api_list_cache_respond(API_LIST_GROUPS, &plain, &cat_a, "large", 3, &r) == 1);
    CHECK(r.status == 200 && r.raw && r.doc == NULL);
    fds1 = open_fds();
    CHECK_EQ_INT(fds1, fds0 + 1);
    /* replaced while the response still holds its descriptor: it stays valid (the memfd lives on) */
    store(API_LIST_GROUPS, &cat_a, "large", 4, strdup("{}"), 2);
    if (r.raw) MHD_destroy_response(r.raw);
    CHECK_EQ_INT(open_fds(), fds0 - 1); /* the old slot's memfd went with the replacement */
    CHECK(hit(API_LIST_GROUPS, &cat_a, "large", 4, "{}"));
    free(want);
}

int main(void)
{
    RUN(served_only_under_its_generation_catalog_and_key);
    RUN(an_answer_being_sent_outlives_its_slot);
    RUN(least_recently_used_answers_make_room);
    RUN(a_large_answer_lives_in_a_sealed_memfd);
    return check_finish();
}
