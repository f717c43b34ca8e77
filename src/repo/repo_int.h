/* repo_int.h: the repository's private structures, shared by the files of src/repo only.
 *
 * Locking: one mutex (repo->mu) guards the in-memory index, the pack table and the open-pack
 * writer state; repo->cv is broadcast whenever a pending blob resolves, a pack's writer count drops
 * or a seal finishes. repo->flush_mu serialises flushes and index rebuilds. Expensive work
 * (compression, encryption, pwrite of blob bytes, hashing and fsync of a sealed pack, decryption on
 * read) runs outside repo->mu. The on-disk format is docs/repository-format.md. */
#ifndef COFFER_REPO_REPO_INT_H
#define COFFER_REPO_REPO_INT_H
#include "repo/repo.h"
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#define REPO_FORMAT_VERSION 1
#define REPO_KEY_LEN 32
#define REPO_NONCE_LEN 12
#define REPO_TAG_LEN 16
#define REPO_AEAD_OVERHEAD (REPO_NONCE_LEN + REPO_TAG_LEN)
#define REPO_PACK_TARGET_DEFAULT (32u * 1024 * 1024)
#define REPO_PACK_FOOTER_LEN 16
#define REPO_PENTRY_LEN 48            /* one blob record in a pack trailer or index file */
#define REPO_STORED_MAX ((1u << 28) - 1) /* stored length must fit 28 bits of an index slot */
#define REPO_FD_CACHE_MAX 64
#define REPO_ZSTD_LEVEL 3

/* blob flags (trailer, index file, AAD) */
#define REPO_BLOB_F_ZSTD 0x01u

/* Pack states. */
enum repo_pack_state { REPO_PACK_OPEN = 0, REPO_PACK_SEALING, REPO_PACK_SEALED, REPO_PACK_FAILED,
                       REPO_PACK_MISSING };

/* One blob record as written in a pack trailer and an index file. */
struct repo_pentry {
    repo_id_t id;
    uint8_t type, flags;
    uint32_t offset, stored, plain;
};

struct repo_pack {
    repo_id_t id;                 /* valid once sealed */
    uint8_t state;                /* enum repo_pack_state */
    bool indexed;                 /* named by an index file on disk */
    bool on_disk;
    uint64_t size;                /* bytes reserved (open) or file size (sealed) */
    uint32_t writers;             /* puts with a reserved range still writing */
    int fd;                       /* -1 when closed; an open pack always has its fd */
    uint32_t fd_refs;
    uint64_t fd_lru;
    char *tmp_path;               /* open/sealing packs: data/tmp/... (owned) */
    struct repo_pentry *ents;     /* blobs not yet in an index file (owned) */
    size_t nents, ents_cap;
};

/* The in-memory index: open addressing, linear probing, power-of-two capacity, max load 3/4. A slot
 * is 48 bytes: the id, then pack (EMPTY/PENDING sentinels), offset, stored length with the type and
 * flags in its top bits, plain length. */
#define REPO_SLOT_EMPTY 0xFFFFFFFFu
#define REPO_SLOT_PENDING 0xFFFFFFFEu
#define REPO_SLOT_LEN_MASK 0x0FFFFFFFu
#define REPO_SLOT_TREE_BIT 0x10000000u
#define REPO_SLOT_ZSTD_BIT 0x20000000u
struct repo_islot {
    uint8_t id[REPO_ID_LEN];
    uint32_t pack;
    uint32_t offset;
    uint32_t stored_bits;
    uint32_t plain;
};
struct repo_itab {
    struct repo_islot *slots;
    size_t cap, count;
};

struct repo_packmap { uint32_t *slots; size_t cap, count; }; /* pack id -> pack_no + 1 */

struct repo {
    char *dir;
    repo_id_t repo_id;
    uint8_t id_key[REPO_KEY_LEN], enc_key[REPO_KEY_LEN], chunk_key[REPO_KEY_LEN];
    uint64_t gear[256];
    uint32_t cmin, cavg, cmax;
    uint64_t mask_s, mask_l;
    uint32_t pack_target;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t flush_mu;
    struct repo_itab idx;
    struct repo_pack *packs;
    uint32_t npacks, packs_cap;
    struct repo_packmap pmap;
    int64_t open_pack;            /* pack_no of the pack taking appends, -1 if none */
    uint32_t sealing;             /* packs detached and being sealed */
    int write_err;                /* sticky: a failed seal makes later writes fail */
    uint32_t fds_open;            /* cached fds of sealed packs */
    uint64_t lru_clock;
};

/* crypto.c */
void repo_hmac_id(const uint8_t key[REPO_KEY_LEN], const void *data, size_t len, repo_id_t *out);
void repo_sha256(const void *data, size_t len, uint8_t out[32]);
int repo_random(void *buf, size_t len);
/* repo_aead_seal: buf = [nonce space 12][plain len][tag space 16]; picks a random nonce and
 * encrypts in place. */
int repo_aead_seal(const uint8_t key[REPO_KEY_LEN], const void *aad, size_t aadlen, uint8_t *buf,
                   size_t plain_len);
/* repo_aead_open: decrypts buf (nonce||ct||tag, stored_len bytes) in place; the plaintext is at
 * buf + 12, stored_len - 28 bytes. -EBADMSG when authentication fails. */
int repo_aead_open(const uint8_t key[REPO_KEY_LEN], const void *aad, size_t aadlen, uint8_t *buf,
                   size_t stored_len);
/* repo_env_seal / repo_env_open: the envelope of index and snapshot files:
 * magic(4) version(u32 LE) nonce ciphertext tag, AAD = the first 8 bytes. seal returns a malloc'd
 * buffer; open decrypts in place and points *plain into buf. */
int repo_env_seal(const uint8_t key[REPO_KEY_LEN], const char magic[4], const void *plain,
                  size_t len, uint8_t **out, size_t *outlen);
int repo_env_open(const uint8_t key[REPO_KEY_LEN], const char magic[4], uint8_t *buf, size_t len,
                  uint8_t **plain, size_t *plain_len);
/* repo_hkdf: HKDF-SHA-256 (RFC 5869). */
int repo_hkdf(const uint8_t *ikm, size_t ikmlen, const char *salt, const char *info, uint8_t *out,
              size_t outlen);

/* compress.c */
/* repo_zstd_compress: compresses into dst (cap bytes); returns the compressed size, or 0 when the
 * result would not be below 97% of len (store raw). */
size_t repo_zstd_compress(void *dst, size_t cap, const void *src, size_t len);
size_t repo_zstd_bound(size_t len);
/* repo_zstd_decompress: exactly plain_len bytes must come out, else -EBADMSG. */
int repo_zstd_decompress(void *dst, size_t plain_len, const void *src, size_t len);

/* keys.c */
int repo_keys_create(const char *dir, const char *key_file, const repo_id_t *repo_id,
                     const uint8_t master[3 * REPO_KEY_LEN], char *err, size_t errlen);
int repo_keys_unlock(const char *dir, const char *key_file, const repo_id_t *repo_id,
                     uint8_t master[3 * REPO_KEY_LEN], char *err, size_t errlen);

/* chunker.c */
int repo_chunker_init(struct repo *repo, uint32_t cmin, uint32_t cavg, uint32_t cmax);

/* index.c: table */
int repo_itab_init(struct repo_itab *t, size_t hint);
void repo_itab_free(struct repo_itab *t);
struct repo_islot *repo_itab_find(const struct repo_itab *t, const repo_id_t *id);
/* repo_itab_insert: 1 and a fresh slot (pack EMPTY, caller fills) or 0 and the existing one. */
int repo_itab_insert(struct repo_itab *t, const repo_id_t *id, struct repo_islot **slot);
void repo_itab_remove(struct repo_itab *t, const repo_id_t *id);
void repo_islot_set(struct repo_islot *s, uint32_t pack, const struct repo_pentry *e);
void repo_islot_get(const struct repo_islot *s, struct repo_pentry *e);
/* index.c: files */
int repo_index_load_all(struct repo *repo, char *err, size_t errlen);
/* repo_index_write_packs: writes one index file naming packs[list[i]] with their ent lists. */
int repo_index_write_packs(struct repo *repo, const uint32_t *list, size_t n, char out_name[65]);
/* repo_index_add_pack_entries: inserts ents of pack_no into the table (first copy wins). Lock held. */
int repo_index_add_entries(struct repo *repo, uint32_t pack_no, const struct repo_pentry *ents,
                           size_t n);
int repo_pentry_validate(const struct repo_pentry *e, uint64_t data_end);
void repo_pentry_encode(uint8_t out[REPO_PENTRY_LEN], const struct repo_pentry *e);
void repo_pentry_decode(const uint8_t in[REPO_PENTRY_LEN], struct repo_pentry *e);

/* pack.c */
int repo_packmap_find(const struct repo *repo, const repo_id_t *id); /* pack_no or -1 */
/* repo_pack_add: appends a pack to the table (lock held); returns pack_no or negative errno. */
int64_t repo_pack_add(struct repo *repo, const repo_id_t *id, uint8_t state);
int repo_pack_path(const struct repo *repo, const repo_id_t *id, char *buf, size_t len);
int repo_pack_append(struct repo *repo, const struct repo_pentry *e_in, const uint8_t *stored,
                     uint32_t *pack_no_out);
int repo_pack_seal(struct repo *repo, uint32_t pack_no);
/* repo_pack_detach_open: detaches the open pack for sealing (lock held); pack_no or -1. */
int64_t repo_pack_detach_open(struct repo *repo);
int repo_pack_fd_get(struct repo *repo, uint32_t pack_no, int *fd);
void repo_pack_fd_put(struct repo *repo, uint32_t pack_no);
void repo_pack_close_all(struct repo *repo);
/* repo_pack_read_trailer: parses and checks the footer and trailer of a sealed pack file. *ents is
 * malloc'd. why receives a sentence on failure (-EBADMSG for damage). */
int repo_pack_read_trailer(const struct repo *repo, int fd, uint64_t file_size,
                           struct repo_pentry **ents, size_t *n, char *why, size_t whylen);
/* repo_pack_list_disk: calls fn for every data/xx/<64 hex> file. */
int repo_pack_list_disk(const struct repo *repo,
                        int (*fn)(struct repo *repo, const repo_id_t *id, const char *path, void *arg),
                        void *arg);
int repo_pack_scan_unindexed(struct repo *repo, char *err, size_t errlen);
void repo_pack_clean_tmp(const struct repo *repo);
int repo_pack_ents_push(struct repo_pack *p, const struct repo_pentry *e);

/* repo.c */
int repo_blob_decode(const struct repo *repo, const struct repo_pentry *e, uint8_t *stored,
                     void **data);
void repo_blob_aad(uint8_t aad[REPO_ID_LEN + 2], const repo_id_t *id, uint8_t type, uint8_t flags);
int repo_write_pending_index(struct repo *repo);
/* repo_set_pack_target: the size at which packs are sealed, for this open repo only (tests). */
void repo_set_pack_target(struct repo *repo, uint32_t bytes);
void repo_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* little-endian helpers */
static inline void repo_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void repo_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void repo_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t repo_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t repo_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t repo_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
#endif
