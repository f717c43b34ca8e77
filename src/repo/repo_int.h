/* repo_int.h: the repository's private structures, shared by the files of src/repo only.
 *
 * Locking: one mutex (repo->mu) guards the in-memory index, the pack table and the open-pack
 * writer state; repo->cv is broadcast whenever a pending blob resolves, a pack's writer count drops
 * or a seal finishes. repo->flush_mu serialises flushes and index rebuilds. Expensive work
 * (compression, encryption, writes of blob bytes, hashing and commit of a sealed pack, decryption on
 * read) runs outside repo->mu. The on-disk format is docs/repository-format.md.
 *
 * Files, top-down (each calls only files below it): verify.c, snapshot.c -> repo.c -> keys.c,
 * damage.c, chunker.c -> pack.c -> index.c -> backend.c (the storage seam, backend.h; the local
 * directory backend_local.c behind it) -> crypto.c, compress.c, ids.c. Only backend_local.c makes
 * system calls on repository files. */
#ifndef COFFER_REPO_REPO_INT_H
#define COFFER_REPO_REPO_INT_H
#include "repo/repo.h"
#include "repo/backend.h"
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
#define REPO_STORED_MAX ((1u << 28) - 1) /* format limit (docs section 6) */
#define REPO_ZSTD_LEVEL 3

/* blob flags (trailer, index file, AAD) */
#define REPO_BLOB_F_ZSTD 0x01u

/* Pack states. */
enum repo_pack_state { REPO_PACK_OPEN = 0, REPO_PACK_SEALING, REPO_PACK_SEALED, REPO_PACK_FAILED,
                       REPO_PACK_MISSING,
                       REPO_PACK_DELETED /* removed by a prune (prune.c): no longer part of the
                                          * repository; its records stay until the next open */ };

/* One blob record as written in a pack trailer and an index file. */
struct repo_pentry {
    repo_id_t id;
    uint8_t type, flags;
    uint32_t offset, stored, plain;
};

struct repo_pack {
    repo_id_t id;                 /* valid once sealed */
    uint8_t state;                /* enum repo_pack_state */
    bool indexed;                 /* named by an index file */
    bool on_disk;
    bool condemned;               /* a prune is removing it (prune.c): writers do not deduplicate
                                   * against its blobs (they store them again); reads still work */
    bool retired;                 /* another process's prune is removing it (refresh.c): condemned,
                                   * and each refresh looks whether it is gone yet */
    uint64_t gone_seq;            /* refresh_seq when a read found it missing (repo.c pack_unreadable) */
    uint64_t size;                /* bytes reserved (open) or object size (sealed) */
    uint32_t writers;             /* puts with a reserved range still writing */
    struct repo_bwriter *w;       /* the backend writer of an open or sealing pack (owned); kept
                                   * after the seal while readers hold it (w_refs), then freed */
    uint32_t w_refs;              /* readers reading through w */
    struct repo_pentry *ents;     /* trailer list of an open pack, or of a recovered pack not yet
                                   * in an index file (owned); freed once sealed here (the index
                                   * file writer reads the trailer back) */
    size_t nents, ents_cap;
};

/* The in-memory index (index.c; figures in docs/repository-format.md section 7).
 *
 * Records: a dense, append-only array of 40-byte records (id, pack number with the tree, zstd and
 * dead flags in its top bits, offset) in blocks of REPO_IREC_BLOCK records; block 0 starts small
 * and grows to that size, no other block is ever reallocated. Each pack's records form one run,
 * in offset order, each record ending where the next begins (a hole left by a failed append is
 * covered by a dead record) and the last ending at run_end[pack]: a blob's stored length is
 * derived, not kept. Neither is its plaintext length: a raw blob's is stored - 28, a compressed
 * blob's comes from its zstd frame when the blob is read (REPO_PLAIN_UNKNOWN until then).
 *
 * Table: open addressing with linear probing over any capacity (home = hash * cap >> 32), at most
 * 9/10 full, growing by 5/4. A slot is a u32 reference (a record number, or REPO_IREF_PENDING | an
 * index into the pending pool) plus a fingerprint byte in a parallel array (0 = empty), so a probe
 * reads fingerprints and touches a record only when its fingerprint matches.
 *
 * Pending pool: ids whose put is in flight. A claim makes the id pending; the append reserves a
 * (dead) record at the end of the open pack's run (rec); the commit makes that record live and
 * points the slot at it. Every non-dead record and every pool entry in use has exactly one slot. */
#define REPO_IREC_BLOCK 1024u
#define REPO_IREC_PACK_MASK 0x1FFFFFFFu /* pack numbers below 2^29 */
#define REPO_IREC_TREE 0x20000000u
#define REPO_IREC_ZSTD 0x40000000u
#define REPO_IREC_DEAD 0x80000000u      /* a duplicate copy, a gap, a failed or unfinished write */
#define REPO_IREF_PENDING 0x80000000u
#define REPO_IREC_NONE 0xFFFFFFFFu
#define REPO_PLAIN_UNKNOWN 0xFFFFFFFFu  /* struct repo_pentry.plain when the index does not know it */
struct repo_irec {
    uint8_t id[REPO_ID_LEN];
    uint32_t packw;
    uint32_t offset;
};
struct repo_ipend {
    uint8_t id[REPO_ID_LEN];
    uint32_t rec;                 /* reserved record, or REPO_IREC_NONE */
    uint32_t next;                /* free list link; REPO_IREC_NONE - 1 while in use */
};
struct repo_itab {
    struct repo_irec **blocks;    /* owned, as is every block */
    size_t nblocks, blocks_cap, block0_cap;
    uint32_t nrec;                /* records, live and dead */
    uint32_t count;               /* ids in the table: stored and pending */
    uint32_t cap;                 /* table slots */
    uint32_t *ref;
    uint8_t *fp;
    uint32_t *run_end;            /* per pack number: end offset of its run, 0 = no run */
    uint32_t run_end_cap;
    struct repo_ipend *pool;
    uint32_t pool_cap, pool_free;
};

struct repo_packmap { uint32_t *slots; size_t cap, count; }; /* pack id -> pack_no + 1 */

/* The damaged-blob list in memory (damage.c): a set of (blob id, pack number) pairs, open
 * addressing, at most half full; gen counts additions, saved_gen the last one written to disk. */
struct repo_dmg_ent { repo_id_t id; uint32_t pack; uint32_t used; };
struct repo_dmg {
    struct repo_dmg_ent *slots;
    uint32_t cap, count;
    uint64_t gen, saved_gen;
    char (*parts)[REPO_ID_HEX_LEN + 1]; /* damaged/ objects whose pairs are all in the set: the
                                         * next save supersedes (deletes) them */
    size_t nparts;
};

struct repo {
    char *dir;                    /* for messages */
    struct repo_backend *be;      /* where every object lives (owned) */
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
    int write_err;                /* the error of the last failed seal */
    uint64_t write_failures;      /* failed seals so far: the write epoch (repo_write_epoch) */
    struct repo_sealer *sealer;   /* background seals (pack.c; NULL until the first, owned) */
    struct repo_dmg dmg;          /* guarded by mu */
    pthread_mutex_t dmg_save_mu;  /* serialises saves of the damaged-blob list */
    /* Writers (repo_writer_begin/end, guarded by mu): the tickets of the writers running, so a
     * prune can wait for every writer that started before it condemned packs (prune.c). */
    uint64_t writer_seq;          /* last ticket handed out */
    uint64_t *writers;            /* tickets of running writers (owned), nwriters of writers_cap */
    size_t nwriters, writers_cap;
    pthread_mutex_t maint_mu;     /* one prune or index rebuild at a time in this process */
    /* Index files this process loaded or wrote (index.c repo_ixn_*, guarded by mu), sorted, so a
     * refresh (refresh.c) reads only the files other processes wrote since, and notices files
     * another process's prune or rebuild deleted. */
    repo_id_t *ixn;
    size_t nixn, ixn_cap;
    int shared;                   /* other processes write too: a read that misses refreshes */
    int64_t miss_refresh_mono;    /* the last refresh a blob missing from the index caused (util_time_mono) */
    /* Refreshes (refresh.c, guarded by mu): refresh_seq numbers each one as it starts (before it
     * lists index/), refresh_ok_seq is the number of the last one that ended well. A read that found
     * a pack gone at a moment when refresh_seq was s needs a refresh numbered above s: that one
     * listed index/ after the pack was deleted, so it saw the index files naming the blob's new copy
     * (a prune writes them before it deletes anything). */
    uint64_t refresh_seq, refresh_ok_seq;
    pthread_mutex_t miss_mu;      /* one refresh for reads that miss at a time: the others wait for it */
    /* on_miss: set by repo_set_shared (refresh.c, a file above repo.c): what a read that misses
     * calls with the refresh number it needs (above need) and whether the blob was missing from the
     * index (else its pack was gone); 1 when such a refresh ended well, so the read is tried again.
     * NULL: not shared. */
    int (*on_miss)(struct repo *repo, uint64_t need, int not_indexed);
    /* A remote writer (remote.c, repo_open_remote): storage calls go to remote; NULL otherwise. */
    const struct repo_remote_ops *remote;
    void *remote_ctx;
};

/* repo_maint_held: this thread holds a repository's maint_mu (a prune, verify or rebuild, set around
 * the lock by prune.c and verify.c): a read of it that misses does not wait for a refresh, which
 * cannot run until that thread lets maint_mu go (refresh.c). */
extern _Thread_local int repo_maint_held;

/* ids.c */
void repo_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

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
/* repo_zstd_frame_size: the plaintext length the frame announces; -ENODATA when it announces none,
 * -EBADMSG when src is no zstd frame. */
int repo_zstd_frame_size(const void *src, size_t len, uint64_t *size);
/* repo_zstd_decompress: exactly plain_len bytes must come out, else -EBADMSG. */
int repo_zstd_decompress(void *dst, size_t plain_len, const void *src, size_t len);
/* repo_zstd_decompress_alloc: the plaintext length is unknown: at most max bytes into a malloc'd
 * *out (the frame's content size, or streaming when the frame has none). */
int repo_zstd_decompress_alloc(const void *src, size_t len, size_t max, void **out,
                               size_t *out_len);

/* keys.c: key documents are REPO_OBJ_KEY objects; key_file is the user's file (not in the
 * repository). */
int repo_keys_create(struct repo_backend *be, const char *key_file, const repo_id_t *repo_id,
                     const uint8_t master[3 * REPO_KEY_LEN], char *err, size_t errlen);
int repo_keys_unlock(struct repo_backend *be, const char *dir, const char *key_file,
                     const repo_id_t *repo_id, uint8_t master[3 * REPO_KEY_LEN], char *err,
                     size_t errlen);

/* chunker.c */
int repo_chunker_init(struct repo *repo, uint32_t cmin, uint32_t cavg, uint32_t cmax);

/* remote.c: frees a remote writer handle (repo_close of one). */
void repo_remote_free(struct repo *repo);

/* index.c: the in-memory index. Callers hold repo->mu (or own the table alone). */
enum repo_itab_state { REPO_ITAB_ABSENT = 0, REPO_ITAB_PENDING, REPO_ITAB_STORED, REPO_ITAB_CLAIMED };
int repo_itab_init(struct repo_itab *t, size_t hint);
void repo_itab_free(struct repo_itab *t);
/* repo_itab_bytes: the memory the index holds (records, table, run ends, pending pool). */
size_t repo_itab_bytes(const struct repo_itab *t);
/* repo_itab_lookup: ABSENT, PENDING, or STORED with *pack and *e (each may be NULL) filled;
 * e->plain is REPO_PLAIN_UNKNOWN for a compressed blob. */
int repo_itab_lookup(const struct repo_itab *t, const repo_id_t *id, uint32_t *pack,
                     struct repo_pentry *e);
/* repo_itab_claim: CLAIMED (the id was absent and is now pending for the caller), PENDING
 * (another put has it), STORED (*pack filled) or a negative errno. */
int repo_itab_claim(struct repo_itab *t, const repo_id_t *id, uint32_t *pack);
/* repo_itab_reclaim: a stored id whose pack is lost becomes pending for the caller. */
int repo_itab_reclaim(struct repo_itab *t, const repo_id_t *id);
/* repo_itab_reserve: appends the record of a blob being written at e->offset of pack (always the
 * open pack: its run is the last one); e->stored must be exact. The record stays dead until
 * repo_itab_commit. */
int repo_itab_reserve(struct repo_itab *t, const struct repo_pentry *e, uint32_t pack);
/* repo_itab_commit: the caller's write of id succeeded; its reserved record becomes the live one. */
void repo_itab_commit(struct repo_itab *t, const repo_id_t *id);
/* repo_itab_remove: drops the caller's pending claim on id (a failed put); a stored id stays. */
void repo_itab_remove(struct repo_itab *t, const repo_id_t *id);
/* repo_itab_add_pack: adds the records of a sealed pack (any order; first copy of an id wins,
 * later copies are kept as dead records). A pack that already has records is left as it is.
 * -EBADMSG when two records overlap. */
int repo_itab_add_pack(struct repo_itab *t, uint32_t pack, const struct repo_pentry *ents,
                       size_t n);
/* repo_itab_carry: copies into dst the runs of the packs with keep[pack] set (the run of pack
 * last_pack goes last, so it can keep growing) and the pending pool, for an index rebuild. */
int repo_itab_carry(struct repo_itab *dst, const struct repo_itab *src, const uint8_t *keep,
                    uint32_t npacks, int64_t last_pack);
/* repo_itab_pack_records: the live records of one pack; *out is malloc'd. */
int repo_itab_pack_records(const struct repo_itab *t, uint32_t pack, struct repo_pentry **out,
                           size_t *n);
/* repo_itab_prefer: for every id whose live record bad() rejects, makes live a dead copy of it
 * that usable() accepts (its pack's run keeps its shape: only the dead flags move). One pass over
 * the records; only for a table whose dead records with real ids are whole copies (right after
 * loading, or with usable() refusing packs that take writes). Returns the number of ids moved. */
uint32_t repo_itab_prefer(struct repo_itab *t,
                          int (*bad)(void *ctx, const repo_id_t *id, uint32_t pack),
                          int (*usable)(void *ctx, const repo_id_t *id, uint32_t pack), void *ctx);
/* repo_itab_find_rec: the record number of id's live copy, or REPO_IREC_NONE (absent or pending).
 * Record numbers never change while the table lives (records are only appended). */
uint32_t repo_itab_find_rec(const struct repo_itab *t, const repo_id_t *id);
/* repo_itab_rec_info: record k (k < t->nrec): its blob record, pack and whether it is dead. */
void repo_itab_rec_info(const struct repo_itab *t, uint32_t k, struct repo_pentry *e,
                        uint32_t *pack, int *dead);
/* repo_itab_count_packs: adds the number of live records of each pack below npacks to counts. */
void repo_itab_count_packs(const struct repo_itab *t, size_t *counts, uint32_t npacks);
/* index.c: index files. They take and give trailers (pack blob lists); they never reach the
 * pack table or pack objects (pack.c is above index.c). */
struct repo_index_pack {
    repo_id_t id;
    uint64_t size;                /* the pack object's size */
    const struct repo_pentry *ents;
    size_t n;
};
/* repo_index_load_all: reads every index object and calls fn once per pack it names (no lock
 * held); a damaged index object is skipped with a warning. fn's negative return stops the load
 * when it is -ENOMEM (other failures skip the rest of that object). */
typedef int (*repo_index_pack_fn)(struct repo *repo, const struct repo_index_pack *p, void *ctx);
int repo_index_load_all(struct repo *repo, repo_index_pack_fn fn, void *ctx, char *err,
                        size_t errlen);
/* repo_index_load_one: repo_index_load_all for the one index object name (no warning: the
 * caller decides); -EBADMSG when it is damaged. */
int repo_index_load_one(struct repo *repo, const char *name, repo_index_pack_fn fn, void *ctx);
/* repo_index_parse: an index object's plaintext (after authentication): checks every pack header and
 * record before any is used (-EBADMSG when malformed), then calls fn for each pack (repo is passed
 * through, may be NULL for fn's that need none). Pure: no I/O (fuzzed: tests/fuzz/fuzz_index.c). */
int repo_index_parse(struct repo *repo, const uint8_t *plain, size_t plen, repo_index_pack_fn fn, void *ctx);
/* repo_index_write: writes index objects naming the n packs with their records (one object per
 * 2^20 records at most, whole packs each; out_name is the last one's name). */
int repo_index_write(struct repo *repo, const struct repo_index_pack *packs, size_t n,
                     char out_name[REPO_ID_HEX_LEN + 1]);
/* repo_ixn_add / repo_ixn_forget / repo_ixn_has: the set of index file names this process knows
 * (lock not held; they take mu). add: 0 or -ENOMEM (the set then misses it: a refresh reads the file
 * once more, harmless). */
int repo_ixn_add(struct repo *repo, const char *name);
void repo_ixn_forget(struct repo *repo, const char *name);
int repo_ixn_has(struct repo *repo, const char *name);
int repo_pentry_validate(const struct repo_pentry *e, uint64_t data_end);
void repo_pentry_encode(uint8_t out[REPO_PENTRY_LEN], const struct repo_pentry *e);
void repo_pentry_decode(const uint8_t in[REPO_PENTRY_LEN], struct repo_pentry *e);

/* pack.c: the pack table, the open pack's writer, seals, trailers, pack reads. */
int repo_packmap_find(const struct repo *repo, const repo_id_t *id); /* pack_no or -1 */
/* repo_pack_add: appends a pack to the table (lock held); returns pack_no or negative errno. */
int64_t repo_pack_add(struct repo *repo, const repo_id_t *id, uint8_t state);
/* repo_pack_path: where the backend keeps a pack, for messages and tests. */
int repo_pack_path(const struct repo *repo, const repo_id_t *id, char *buf, size_t len);
int repo_pack_append(struct repo *repo, const struct repo_pentry *e_in, const uint8_t *stored,
                     uint32_t *pack_no_out);
int repo_pack_seal(struct repo *repo, uint32_t pack_no);
/* repo_pack_detach_open: detaches the open pack for sealing (lock held); pack_no or -1. */
int64_t repo_pack_detach_open(struct repo *repo);
/* repo_pack_read: exactly len bytes at off of a pack (an open or sealing one through its
 * writer). -EIO when the pack is shorter, -ENOENT when its object is gone, -ENXIO when the pack
 * cannot be read (it failed to seal, or is missing). */
int repo_pack_read(struct repo *repo, uint32_t pack_no, uint64_t off, void *buf, size_t len);
/* repo_pack_size: the current size of a pack's object (reserved bytes while it is written). */
int repo_pack_size(struct repo *repo, uint32_t pack_no, uint64_t *size);
void repo_pack_close_all(struct repo *repo);
/* repo_pack_read_trailer: reads, parses and checks the footer and trailer of the sealed pack
 * object id of file_size bytes. *ents is malloc'd. why receives a sentence on failure (-EBADMSG
 * for damage). */
int repo_pack_read_trailer(struct repo *repo, const repo_id_t *id, uint64_t file_size,
                           struct repo_pentry **ents, size_t *n, char *why, size_t whylen);
/* The pure halves of repo_pack_read_trailer (no I/O; fuzzed: tests/fuzz/fuzz_pack.c).
 * repo_pack_parse_footer: checks the footer of a pack of file_size bytes (magic, version, a plausible
 * trailer length: *tlen). repo_pack_parse_trailer: the records of an authenticated trailer of tlen
 * bytes (nonce, count, records; the tag's bytes are not read) for blob bytes ending at data_end; *ents
 * is malloc'd. Both: 0 or -EBADMSG with why set (or -ENOMEM). */
int repo_pack_parse_footer(const uint8_t footer[REPO_PACK_FOOTER_LEN], uint64_t file_size, uint64_t *tlen,
                           char *why, size_t whylen);
int repo_pack_parse_trailer(const uint8_t *trailer, uint64_t tlen, uint64_t data_end, struct repo_pentry **ents,
                            size_t *n, char *why, size_t whylen);
/* repo_pack_list_disk: calls fn for every pack object the backend holds. */
int repo_pack_list_disk(struct repo *repo,
                        int (*fn)(struct repo *repo, const repo_id_t *id, void *arg), void *arg);
/* repo_pack_index_loaded: the repo_index_pack_fn of an open: registers the pack (lock taken).
 * repo_pack_index_add_locked: the same with repo->mu held (refresh.c, with no open pack). */
int repo_pack_index_loaded(struct repo *repo, const struct repo_index_pack *ip, void *ctx);
int repo_pack_index_add_locked(struct repo *repo, const struct repo_index_pack *ip);
/* repo_pack_trailer_of: the records of a sealed pack for its index object: a copy of the list it
 * keeps, or its trailer read back. ip->ents is malloc'd (the caller frees it). */
int repo_pack_trailer_of(struct repo *repo, uint32_t pack_no, struct repo_index_pack *ip);
int repo_pack_scan_unindexed(struct repo *repo, char *err, size_t errlen);
int repo_pack_ents_push(struct repo_pack *p, const struct repo_pentry *e);

/* damage.c */
/* repo_dmg_has: the pair (id, pack) is on the damaged list. Lock held; a single branch when the
 * list is empty. */
int repo_dmg_has(const struct repo *repo, const repo_id_t *id, uint32_t pack);
/* repo_dmg_listed: repo_dmg_has behind an inline test of the count, so callers on the hot path
 * (put, exists) pay one branch, and no call, while the list is empty. */
static inline int repo_dmg_listed(const struct repo *repo, const repo_id_t *id, uint32_t pack)
{
    return repo->dmg.count != 0 && repo_dmg_has(repo, id, pack);
}
/* repo_damage_record: puts (id, pack) on the list and writes it durably if it is new; sets this
 * thread's damage sentence. Lock not held. */
int repo_damage_record(struct repo *repo, const repo_id_t *id, uint32_t pack, const char *why);
/* repo_dmg_load: reads the damaged/ objects (and a version-1 <repo>/damaged) at open, after the
 * index (pack ids map to pack numbers); absent is fine, unreadable is logged and ignored. */
int repo_dmg_load(struct repo *repo);
void repo_dmg_free(struct repo *repo);
/* repo_damage_prefer_good: at open and after an index rebuild (lock held or sole owner): an id
 * whose copy in the index is listed damaged, or in a missing pack, is read from another copy. */
void repo_damage_prefer_good(struct repo *repo);

/* repo.c */
/* repo_blob_decode: authenticates, decrypts, decompresses and checks the id of a stored blob; sets
 * e->plain when it was REPO_PLAIN_UNKNOWN. *data is malloc'd. */
int repo_blob_decode(const struct repo *repo, struct repo_pentry *e, uint8_t *stored,
                     void **data);
void repo_blob_aad(uint8_t aad[REPO_ID_LEN + 2], const repo_id_t *id, uint8_t type, uint8_t flags);
int repo_write_pending_index(struct repo *repo);
/* repo_flush_locked: repo_flush with repo->flush_mu held by the caller; add (may be NULL) is called
 * with repo->mu held right after the open pack is detached, so it may add sealed packs' runs to the
 * index (refresh.c) before any put opens a new pack. */
int repo_flush_locked(struct repo *repo, int (*add)(struct repo *repo, void *ctx), void *ctx);
/* repo_set_pack_target: the size at which packs are sealed, for this open repo only (tests). */
void repo_set_pack_target(struct repo *repo, uint32_t bytes);

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
