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
struct repo_backend;
/* repo_backend_for: the storage backend of a location: a local directory, or s3://bucket/prefix
 * (configured from the environment, backend.h repo_s3_config_from_env) with its local cache of
 * write-once objects under cache_dir (may be NULL). *be is the caller's (repo_backend_destroy). */
int repo_backend_for(const char *location, const char *cache_dir, struct repo_backend **be, char *err,
                     size_t errlen);
/* repo_create_be / repo_open_be: repo_create and repo_open on a given backend (label names the
 * repository in messages). repo_create_be borrows be; repo_open_be takes it over, failing or not. */
int repo_create_be(struct repo_backend *be, const char *label, const char *key_file, char *err, size_t errlen);
int repo_open_be(struct repo_backend *be, const char *label, const char *key_file, struct repo **out, char *err,
                 size_t errlen);
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
/* repo_blob_get_fast: repo_blob_get without recomputing the id of the plaintext (HMAC-SHA-256 of
 * every byte, the largest CPU cost of a read after decompression). The blob is still authenticated:
 * its GCM tag covers the id, type and flags (the AAD) and every stored byte, so what it returns is
 * exactly what was sealed under that id; a decompressed length other than the record's is damage.
 * What it leaves out is the check of the writer's own consistency (that it hashed the bytes it
 * sealed), which repo_verify with read_data and repo_blob_get keep (docs/repository-format.md
 * section 5). For bulk reads of file data (restores, streamed files). */
int repo_blob_get_fast(struct repo *repo, const repo_id_t *id, void **data, size_t *len);
/* repo_blob_get_fast_into: repo_blob_get_fast into the caller's buffer, for a blob whose plaintext
 * the caller knows to be len bytes (a file chunk: its tree says): decompressed straight into dst,
 * with no plaintext buffer of its own and no copy (the stored bytes are still read into one).
 * -EMSGSIZE, with nothing recorded as damage, when the blob does not hold len bytes, its length
 * cannot be known before decompressing, or the repository is remote (its blobs arrive as copies):
 * the caller then reads it with repo_blob_get_fast, which says what it holds; dst's content is
 * undefined. */
int repo_blob_get_fast_into(struct repo *repo, const repo_id_t *id, void *dst, size_t len);
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

/* repo_pack_prefetch: a hint that [offset, offset + len) of a sealed pack is read soon (a restore
 * knows its reads ahead): the backend may start reading it. Best effort, nothing to check. */
void repo_pack_prefetch(struct repo *repo, uint32_t pack_no, uint64_t offset, uint64_t len);

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
/* repo_snapshot_forget: deletes a snapshot document; refused while a data lock or legal hold of
 * the repository keeps it (repo_retain_check without the data-security right: its code). */
int repo_snapshot_forget(struct repo *repo, const char *id_hex);
/* repo_snapshot_forget_as: the same; data_security 1 lifts an Administrative lock (never a
 * Compliance lock or a legal hold). */
int repo_snapshot_forget_as(struct repo *repo, const char *id_hex, int data_security);

/* Data locks (WORM) and legal holds, kept in the repository (retain.c): write-once objects
 * retain/<snapshot id>-<generation, 16 hex>; the highest generation is the snapshot's lock. A
 * change is a new generation, never an edit. A Compliance lock also makes the backend retain the
 * snapshot document and the lock object itself until it ends (backend.h retain). */
enum repo_lock_mode { REPO_LOCK_NONE = 0, REPO_LOCK_ADMINISTRATIVE = 1, REPO_LOCK_COMPLIANCE = 2 };
#define REPO_RETAIN_FOREVER INT64_MAX
struct repo_retain {
    enum repo_lock_mode mode;
    int64_t until_usecs;            /* the lock's end (REPO_RETAIN_FOREVER: no end) */
    int legal_hold;
    uint64_t generation;            /* 0: the snapshot has no lock object */
};
const char *repo_lock_mode_name(enum repo_lock_mode m);  /* "Compliance", "Administrative", "none" */
/* repo_retain_get: the snapshot's current lock (all zero, 0 returned, when it has none). */
int repo_retain_get(struct repo *repo, const char *sid, struct repo_retain *out);
/* repo_retain_set: writes the next generation: want's mode, until and legal hold. Refused, with a
 * sentence in msg naming the lock and its end: -EPERM when a Compliance lock in force would be
 * shortened, weakened or removed; -EACCES when an Administrative lock in force would be and
 * data_security is 0. Legal hold may always be set or lifted. dry_run: the checks only. */
int repo_retain_set(struct repo *repo, const char *sid, const struct repo_retain *want, int data_security,
                    int dry_run, char *msg, size_t msglen);
/* repo_retain_check: 0 when the snapshot may be deleted at now; -EBUSY (legal hold), -EPERM (a
 * Compliance lock in force) or -EACCES (an Administrative lock in force, data_security 0), with a
 * sentence in msg naming the lock and its end. */
int repo_retain_check(struct repo *repo, const char *sid, int64_t now, int data_security, char *msg,
                      size_t msglen);

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
/* ---- Verify with options, and what damage hurts: verify.c ----
 * repo_verify_ex: repo_verify's checks, then a walk of every snapshot's trees (a document without
 * a "tree" member is not walked; one whose "tree" is not an id is an error) (each tree read,
 * every blob named checked against the index, the damaged-blob list and the damage this verify
 * found), naming each snapshot and file path a damaged or missing blob hurts. With read_data and
 * subset_pct < 100, only the next subset_pct% of the packs (in pack id order, ceiling) after the
 * pack resume_after (a pack id in hex, or NULL/"" for the first) are read and re-hashed; the
 * structure of every pack is still checked. The report adds "snapshots", "trees",
 * "snapshots_hurt" [ids], "hurt_count", "hurt" [{snapshot, path, blob, problem}] (at most 1000)
 * and with read_data "packs_read", "subset_percent", "first_pack" and "next_cursor" (the first
 * and the last pack read, in id order; the last is the resume_after of the next subset). -ECANCELED when *cancel was raised. */
struct repo_verify_opts {
    int read_data;
    unsigned subset_pct;          /* 1..100; 0 = 100 */
    const char *resume_after;     /* a pack id in hex, or NULL */
    const volatile int *cancel;   /* may be NULL */
};
int repo_verify_ex(struct repo *repo, const struct repo_verify_opts *o, json_t **report);

/* repo_index_rebuild: rebuilds the index from the packs alone (their trailing blob lists). */
int repo_index_rebuild(struct repo *repo);

/* repo_check: a cheap liveness probe: the backend stats the repository's config object (no read).
 * 0, or the backend's negative error (-ENOENT when it is gone). */
int repo_check(struct repo *repo);

/* Several processes writing one repository (refresh.c; docs/repository-format.md section 18).
 * repo_index_refresh: loads the index files written by other processes since this one opened (one
 * listing of index/), and when some it knew vanished (another process's prune or rebuild), learns
 * which packs are gone so that neither a put nor a read relies on them. -EBUSY (nothing done) while a
 * prune or rebuild of this process runs. repo_set_shared: other processes write too, so a read that
 * finds its blob's pack gone waits for a refresh that listed index/ after that (running it if none
 * did) and reads again, and one that finds a blob missing from the index refreshes (at most once a
 * second) and reads again. repo_refresh_on_miss: that wait for a refresh numbered above need (the
 * repository's count of refreshes started, repo_int.h); 1 when the read should be tried again. */
struct repo_refresh_report { unsigned files_new, files_gone, packs_added, packs_gone; int full; };
int repo_index_refresh(struct repo *repo, struct repo_refresh_report *out);
void repo_set_shared(struct repo *repo, int on);
int repo_refresh_on_miss(struct repo *repo, uint64_t need, int not_indexed);

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

/* ---- Prune (garbage collection) and the repository lock: prune.c ----
 * The rules (what is deleted when, why a running backup never loses a blob, the lock objects) are
 * docs/repository-format.md section 15. */

/* repo_writer_begin / repo_writer_end: a writer (a backup) declares itself before its first put or
 * repo_blob_exists and ends after its snapshot is written or abandoned, so a prune that condemns
 * packs waits for it before deleting anything it may have deduplicated against. Every begin is
 * paired with one end (0 from begin is a valid ticket to end). Thread-safe. */
uint64_t repo_writer_begin(struct repo *repo);
void repo_writer_end(struct repo *repo, uint64_t ticket);

/* The repository lock: one holder per purpose (e.g. "prune") across processes and hosts, kept as
 * write-once objects locks/<purpose>-<generation> through the storage backend. A lock whose holder
 * is a dead process of this host, or that was not refreshed for stale_secs, is taken over. */
struct repo_lock;
#define REPO_LOCK_STALE_SECS 600
/* repo_lock_acquire: -EBUSY (with a sentence naming the holder) when another holds it. *out is
 * owned by the caller (repo_lock_release). stale_secs 0 means REPO_LOCK_STALE_SECS. */
int repo_lock_acquire(struct repo *repo, const char *purpose, unsigned stale_secs,
                      struct repo_lock **out, char *err, size_t errlen);
/* repo_lock_refresh: renews the lease if a fifth of stale_secs passed (force: now); -EBUSY when
 * another process took the lock over (the caller must stop). */
int repo_lock_refresh(struct repo_lock *lk, int force);
/* repo_lock_release: removes the lock object and frees lk; NULL is fine. */
void repo_lock_release(struct repo_lock *lk);

struct repo_prune_opts {
    int dry_run;                    /* report what would go, change nothing (no lock either) */
    unsigned repack_pct;            /* repack a pack whose unused share is above this; 0 = 20 */
    unsigned lock_stale_secs;       /* 0 = REPO_LOCK_STALE_SECS */
    const char *const *forget;      /* snapshot ids to forget first (the catalog deleted them) */
    size_t n_forget;
    const volatile int *cancel;     /* may be NULL; non-zero stops before anything is deleted */
    /* step: called at every step that changes the repository (tests kill the process there). */
    void (*step)(void *ctx, unsigned step_no, const char *what);
    void *step_ctx;
};

struct repo_prune_report {
    int dry_run;
    uint64_t snapshots;             /* snapshots kept (marked) */
    uint64_t snapshots_forgotten;   /* from opts.forget that were still in the repository */
    uint64_t snapshots_locked;      /* from opts.forget kept (and marked): a data lock or legal hold */
    uint64_t blobs_total, blobs_used;
    uint64_t blobs_unused;          /* unreached copies in the packs considered (duplicates too) */
    uint64_t packs_total;           /* packs considered */
    uint64_t packs_deleted;         /* wholly unused: deleted */
    uint64_t packs_repacked;        /* used blobs copied into new packs, then deleted */
    uint64_t blobs_repacked, bytes_repacked;
    uint64_t bytes_total;           /* bytes of the packs considered */
    uint64_t bytes_unused;          /* unreached bytes in them */
    uint64_t bytes_freed;           /* bytes of the packs deleted minus what the repack wrote */
    uint64_t index_files_rewritten;
    uint64_t writers_waited;        /* backups prune waited for before deleting */
    uint64_t duration_usecs;
};

/* repo_prune: marks from every snapshot document the repository holds, condemns the packs that
 * are unused or mostly unused (writers stop deduplicating against them), waits for writers that
 * started before, marks again from snapshots written meanwhile, copies the used blobs of condemned
 * packs into new packs, writes the index files that replace the ones naming condemned packs and,
 * only once they are durable, deletes those index files and the condemned packs. Backups go on
 * throughout. -EBUSY when another prune holds the lock; -ECANCELED when opts.cancel was raised. */
int repo_prune(struct repo *repo, const struct repo_prune_opts *o, struct repo_prune_report *out,
               char *err, size_t errlen);
/* ---- A remote writer: remote.c ----
 * A coffer-agent backs up its host with the file engine (eng_backup) on a repository handle that
 * holds only the writer keys: the id key (blob ids) and the chunker key and sizes (cut points), never
 * the encryption key. Its blob, snapshot and writer calls go to ops (the agent protocol, which
 * cofferd serves; docs/agent-protocol.md); repo_blob_id and repo_chunk_cut work as on the real
 * repository, so ids and chunks are the ones cofferd would compute. Any other call on such a handle
 * is a programming error (-ENOTSUP where it returns a code). */
struct repo_writer_keys {
    uint8_t id_key[32], chunk_key[32];
    uint32_t cmin, cavg, cmax;
};
/* repo_writer_keys_get: the writer keys of an open repository (for handing to an agent). */
void repo_writer_keys_get(const struct repo *repo, struct repo_writer_keys *out);
struct repo_remote_ops {
    int (*exists)(void *ctx, const repo_id_t *id);     /* 1, 0 or a negative code */
    int (*put)(void *ctx, enum repo_blob_type type, const repo_id_t *id, const void *data, size_t len,
               size_t *added_bytes);
    int (*get)(void *ctx, const repo_id_t *id, void **data, size_t *len); /* malloc'd */
    int (*snapshot_write)(void *ctx, json_t *doc, char id_hex[REPO_ID_HEX_LEN + 1]);
    int (*snapshot_read)(void *ctx, const char *id_hex, json_t **doc);
};
/* repo_open_remote: a writer handle on keys whose storage calls go to ops (ctx passed along, both
 * borrowed until repo_close). -EINVAL for chunker sizes repo_open would refuse. */
int repo_open_remote(const struct repo_writer_keys *keys, const struct repo_remote_ops *ops, void *ctx,
                     struct repo **out);
#endif
