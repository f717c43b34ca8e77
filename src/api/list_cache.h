/* list_cache.h: cached answers of the big GET lists (protection groups, policies), served without
 * being rebuilt or copied while the catalog tables they were read from are unchanged.
 *
 * An answer is stored under a key (the tenant and the list's filters, in a canonical form the
 * handler builds) and the catalog generation (catalog/cat_gen.h) read BEFORE the rows were: it is
 * served only while that generation is still current, so a cached answer is byte for byte what a new
 * read would build. Generation 0 (a shared catalog) is never cached. Each cache holds a few answers
 * (LIST_CACHE_SLOTS, the least recently used replaced), each at most LIST_CACHE_ENTRY_MAX bytes and
 * together at most LIST_CACHE_BYTES (a memory bound of 2 x 64 MiB, besides answers being sent); an
 * answer is reference-counted, so one being sent stays alive after it is replaced. Thread-safe (a
 * mutex per cache, held only to find or swap a slot). */
#ifndef COFFER_API_LIST_CACHE_H
#define COFFER_API_LIST_CACHE_H
#include "api/api.h"
#include <stddef.h>
#include <stdint.h>

#define LIST_CACHE_SLOTS 8
#define LIST_CACHE_ENTRY_MAX (32u * 1024 * 1024)
#define LIST_CACHE_BYTES (64u * 1024 * 1024) /* per list kind, all its slots together */

struct api_list_cache; /* one per list kind, static: api_list_cache_new is not needed */

/* api_list_cache_of: the cache for a list kind (0 .. API_LIST_CACHE_KINDS-1), created on first use. */
enum api_list_kind { API_LIST_GROUPS, API_LIST_POLICIES, API_LIST_CACHE_KINDS };

/* api_list_cache_respond: when kind's cache holds an answer for (cat, key) under generation gen (not 0),
 * answers 200 with it and returns 1; else 0 (resp untouched). */
int api_list_cache_respond(enum api_list_kind kind, const void *cat, const char *key, uint64_t gen,
                           struct api_resp *resp);
/* api_list_cache_store_respond: answers 200 with the malloc'd JSON text data (taken: freed here or
 * with the cache entry) and, when gen is not 0 and it fits, keeps it under (cat, key, gen). */
void api_list_cache_store_respond(enum api_list_kind kind, const void *cat, const char *key, uint64_t gen,
                                  char *data, size_t len, struct api_resp *resp);
#endif
