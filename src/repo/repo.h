/* repo.h: the repository, Coffer's content-addressed, deduplicated, compressed, encrypted store.
 *
 * A blob is a chunk of file data or a tree. Its id is HMAC-SHA-256 of its plaintext under the
 * repository's id key, so equal data is stored once. repo_blob_put compresses (zstd, skipped when it
 * does not help) and encrypts (AES-256-GCM) on the caller's thread, then appends to the open pack
 * under a short lock: callers get parallelism by calling it from several threads. Packs, index files
 * and snapshots are write-once files named by their hash; repo_flush seals open packs and writes
 * an index, after which every blob put so far is durable. The on-disk format is
 * docs/repository-format.md. Every function returning int returns 0 on success and a negative
 * errno-style code on failure; when an err buffer is given it receives a human sentence. */
#ifndef COFFER_REPO_REPO_H
#define COFFER_REPO_REPO_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define REPO_ID_LEN 32
#define REPO_ID_HEX_LEN 64
typedef struct { uint8_t b[REPO_ID_LEN]; } repo_id_t;

enum repo_blob_type { REPO_BLOB_DATA = 0, REPO_BLOB_TREE = 1 };
/* REPO_BLOB_MAX: the largest blob repo_blob_put accepts (-EFBIG beyond); large trees must split. */
#define REPO_BLOB_MAX (255u * 1024 * 1024)

struct repo;

/* repo_create: makes a new repository in dir (which may exist but must not hold a repository).
 * The master keys are random and wrapped by a key derived (scrypt) from the contents of key_file;
 * if key_file does not exist it is created with 32 random bytes (hex) and mode 0600. */
int repo_create(const char *dir, const char *key_file, char *err, size_t errlen);
/* repo_open: opens an existing repository, unwrapping its keys with key_file and loading the
 * index into memory. The caller owns *out and releases it with repo_close. */
int repo_open(const char *dir, const char *key_file, struct repo **out, char *err, size_t errlen);
/* repo_close: flushes (repo_flush) and frees everything; NULL is fine. */
void repo_close(struct repo *repo);

void repo_id_to_hex(const repo_id_t *id, char hex[REPO_ID_HEX_LEN + 1]);
int repo_id_from_hex(const char *hex, repo_id_t *id); /* -EINVAL unless 64 hex digits */

/* repo_blob_id: the id of a plaintext (keyed hash); thread-safe. */
void repo_blob_id(const struct repo *repo, const void *data, size_t len, repo_id_t *out);
/* repo_blob_put: stores the blob unless the index already has it; thread-safe. *added_bytes (may
 * be NULL) receives what it added to pack files (0 when deduplicated). id must be repo_blob_id of
 * data. */
int repo_blob_put(struct repo *repo, enum repo_blob_type type, const repo_id_t *id,
                  const void *data, size_t len, size_t *added_bytes);
/* repo_blob_exists: 1 if stored and readable as far as the repository knows (its copy is not on
 * the damaged list nor in a missing pack), else 0. */
int repo_blob_exists(struct repo *repo, const repo_id_t *id);
/* repo_blob_get: reads, decrypts, decompresses and re-verifies the id of a blob; the caller frees
 * *data. -ENOENT if unknown, -EBADMSG if damaged (its pack short included), -EIO if its pack is
 * missing or cannot be opened; for each of these repo_damage_last names the blob (and pack).
 * Thread-safe. */
int repo_blob_get(struct repo *repo, const repo_id_t *id, void **data, size_t *len);
/* repo_blob_check: without reading the blob, whether it can be read as far as the repository
 * knows: it is in the index, its copy is not on the damaged-blob list, its pack opens and is long
 * enough. 0 or repo_blob_get's codes (with the same sentence). Cheap: for checking a whole file
 * before answering a download. */
int repo_blob_check(struct repo *repo, const repo_id_t *id);
/* repo_blob_locate: where a blob lives, so readers can sort reads pack by pack. pack_no is a
 * small integer stable for the life of the open repo. The in-memory index does not keep the
 * plaintext length of compressed blobs: a non-NULL plain_len then costs reading the blob. */
int repo_blob_locate(struct repo *repo, const repo_id_t *id, uint32_t *pack_no, uint64_t *offset,
                     uint32_t *stored_len, uint32_t *plain_len);

/* Damage and self-healing (docs/repository-format.md section 13). A read that finds a blob
 * damaged (repo_blob_get, repo_verify with read_data) puts the (blob, pack) pair on the
 * repository's damaged-blob list, durably; a pack found missing is marked so for this open (and is
 * found missing again by the next open). repo_blob_put and repo_blob_exists treat an id whose
 * copy in the index is listed, or in a missing pack, as absent: the next backup of that data
 * stores it again and the index then points at the new copy, now and after reopening.
 * repo_damage_last: this thread's sentence about the last damage a repo read reported (a blob and
 * its pack, a missing pack, a damaged or missing snapshot); "" if none since repo_damage_clear. */
const char *repo_damage_last(void);
void repo_damage_clear(void);
/* repo_damage_setf: sets this thread's damage sentence, for layers above that find damage in what
 * the repository returned (a tree naming a blob of the wrong length...). */
void repo_damage_setf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* repo_damaged_count: the number of (blob, pack) pairs on the damaged list. */
size_t repo_damaged_count(struct repo *repo);

/* repo_flush: seals the open pack and writes an index file for blobs not yet in one. */
int repo_flush(struct repo *repo);
/* repo_write_epoch: how many pack seals have failed (a full disk) since the repository was opened. A
 * failed seal loses its pack's blobs (later puts store them again), and a backup that was writing
 * then may have deduplicated against one of them: a writer takes the epoch when it starts and hands
 * it to repo_snapshot_write_since, which refuses (-ESTALE) when a seal failed since. Writers that
 * start after the failure go on at once. */
uint64_t repo_write_epoch(struct repo *repo);

/* Snapshots: small encrypted JSON documents under snapshots/, named by the hash of their content.
 * The engine decides the document's fields (it names at least the root tree). */
int repo_snapshot_write(struct repo *repo, json_t *doc, char id_hex[REPO_ID_HEX_LEN + 1]);
/* repo_snapshot_write_since: repo_snapshot_write for a writer that started at write epoch since
 * (repo_write_epoch): -ESTALE, and nothing written, when a pack seal failed after it started. */
int repo_snapshot_write_since(struct repo *repo, json_t *doc, uint64_t since, char id_hex[REPO_ID_HEX_LEN + 1]);
int repo_snapshot_read(struct repo *repo, const char *id_hex, json_t **doc); /* caller decrefs */
/* repo_snapshot_list: a JSON array of id strings; caller decrefs. */
int repo_snapshot_list(struct repo *repo, json_t **ids);
int repo_snapshot_forget(struct repo *repo, const char *id_hex);

/* Content-defined chunking (FastCDC with normalized chunking and a gear table keyed per
 * repository). repo_chunk_cut: given the next bytes of a stream, the length of the next chunk: a
 * cut point <= len, or len itself when eof is set and no cut was found. Thread-safe, stateless.
 * Without eof, 0 means "no cut yet, give me more bytes" (only when len < REPO_CHUNK_MAX); a cut
 * returned for a prefix never changes when more bytes follow. Sizes: 512 KiB skipped, 1 MiB
 * normal, 8 MiB forced; the mean chunk is ~1.2 MiB (why: see chunker.c). */
#define REPO_CHUNK_MIN (512u * 1024)
#define REPO_CHUNK_AVG (1024u * 1024)
#define REPO_CHUNK_MAX (8u * 1024 * 1024)
size_t repo_chunk_cut(const struct repo *repo, const uint8_t *data, size_t len, int eof);

/* Verification and repair. repo_verify: checks every pack's structure and the index against it;
 * with read_data also decrypts and re-hashes every blob. *report (caller decrefs) is
 * {"ok":bool,"packs":n,"blobs":n,"errors":[{"pack":..., "blob":..., "message":...}]}. */
int repo_verify(struct repo *repo, int read_data, json_t **report);
/* repo_index_rebuild: rebuilds the index from the packs alone (their trailing blob lists). */
int repo_index_rebuild(struct repo *repo);

struct repo_stats { uint64_t packs, blobs, pack_bytes, index_bytes_in_memory; };
void repo_get_stats(struct repo *repo, struct repo_stats *out);

/* Secrets (secret.c): a short secret (a database password) sealed under the repository's
 * encryption key as printable text for the catalog: "cfs1:" + base64 of the envelope (magic
 * "CFSC", version, nonce, AES-256-GCM ciphertext and tag). repo_secret_seal: *out malloc'd text;
 * -E2BIG beyond REPO_SECRET_MAX bytes. repo_secret_open: *out the malloc'd plaintext, released with
 * repo_secret_free (which wipes it); -EINVAL when text is not sealed text, -EBADMSG when it was
 * changed or sealed under another repository's key. Thread-safe. */
#define REPO_SECRET_MAX 4096u
int repo_secret_seal(struct repo *repo, const char *plain, char **out);
int repo_secret_open(struct repo *repo, const char *text, char **out);
void repo_secret_free(char *plain);
#endif
