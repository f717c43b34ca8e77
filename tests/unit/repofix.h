/* repofix.h: the repository fixtures the repository unit tests share (test_repo_prune.c,
 * test_repo_retain.c, test_repo_refresh.c): seeded file contents, a backup of one directory, a
 * restore compared byte for byte with the tree it should equal, a verify that re-reads the blobs,
 * and the pack bytes a repository holds. The Makefile archives every file of tests/unit that is not a
 * test program into build/asan/obj/tests/unit/libunit.a and links it into every unit test, so a test
 * that uses none of it pulls none of it in. Nothing here keeps state; the caller owns every path and handle it passes. */
#ifndef COFFER_TESTS_UNIT_REPOFIX_H
#define COFFER_TESTS_UNIT_REPOFIX_H
#include "repo/repo.h"
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* repofix_fill: n pseudo-random bytes from seed (xorshift; the same seed gives the same bytes). */
void repofix_fill(uint8_t *p, size_t n, uint64_t seed);

/* repofix_write_seeded: writes path (created or truncated, 0644) with len bytes of repofix_fill(seed)
 * and fsyncs it. 0, or -1 on any failure. */
int repofix_write_seeded(const char *path, size_t len, uint64_t seed);

/* repofix_backup: backs up the one directory dir into r (eng_backup) with the snapshot metadata meta
 * (may be NULL), threads (0: the engine's default) and the engine's on_before_open hook (may be
 * NULL); the new snapshot's id goes to id. 0, or the engine's error (printed to stderr). */
int repofix_backup(struct repo *r, const char *dir, json_t *meta, int threads,
                   void (*hook)(void *, const char *), char id[REPO_ID_HEX_LEN + 1]);

/* repofix_restore_equal: restores snapshot id into work/restore (removed before and after) and
 * compares its copy of dir (the backed-up path) with the tree expect, byte for byte. 0 when equal
 * (and more than the root was compared), -1 when the restore failed, 1 on a difference (printed). */
int repofix_restore_equal(struct repo *r, const char *id, const char *dir, const char *expect,
                          const char *work);

/* repofix_verify_clean: 1 when repo_verify (reading every blob when read_data) reports ok, else 0
 * with the report printed to stderr. */
int repofix_verify_clean(struct repo *r, int read_data);

/* repofix_pack_bytes: the bytes of pack files r knows (repo_get_stats). */
uint64_t repofix_pack_bytes(struct repo *r);
#endif
