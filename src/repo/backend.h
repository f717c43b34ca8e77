/* backend.h: the repository's storage seam: every byte the repository stores or reads goes
 * through one of these operations, so a repository can live in a local directory today and in an
 * object store (backend_s3.c: s3://bucket/prefix). Only a backend touches storage; the files above
 * it never open, rename, unlink or list anything themselves.
 *
 * Objects. An object is named by a type (its "directory") and a name (64 hex digits for every
 * object named by its hash, or a fixed word such as "config" for REPO_OBJ_ROOT). Objects are
 * write-once: an object appears whole or not at all, and nothing ever replaces or edits one that
 * exists (put and commit are "if absent" and answer -EEXIST otherwise). What the repository used
 * to rewrite in place (the damaged-blob list) is a set of write-once objects merged when read.
 * An object may be deleted (a forgotten snapshot, superseded index files), unless it is retained.
 *
 * Retention (object lock, WORM). retain(type, name, until) makes an existing object undeletable
 * until the instant until_usecs (util_time_now's clock): del answers -EPERM until then. A
 * retention is itself write-once: a later call can only add a later instant (an earlier one is
 * recorded but changes nothing, the latest instant counts), and nothing removes one before it
 * passes. Local: a record retention/<type>-<name>/<until, 16 hex> (an empty file, fsynced) that del
 * reads first. S3: PutObjectRetention in COMPLIANCE mode (docs/repository-format.md section 16).
 * The mode says who may lift it: REPO_RETAIN_COMPLIANCE no one; REPO_RETAIN_GOVERNANCE (an
 * Administrative lock) the data-security right, whose rules retain.c enforces: the object store
 * keeps it as GOVERNANCE retention that a later retain call may shorten; the local backend, whose
 * records cannot be lifted, records only COMPLIANCE. A legal hold (hold, may be NULL) keeps an
 * object until lifted (S3: PutObjectLegalHold); the local backend leaves holds to retain.c.
 *
 * Writers stream a large object (a pack of ~32 MiB) without holding it in memory: begin, write
 * ranges (several threads may write disjoint ranges at once, as puts do), read back what was
 * written (a pack is hashed and its blobs are read before it is sealed), then commit under its
 * final name (if absent) or abort. Until commit nothing of it is visible; a crash before commit
 * leaves only a temporary that the next open's clean removes. Local: a temporary file, pwrite,
 * fsync, rename-without-replace (or link) to the final name, fsync of the directory. An object
 * store would use a multipart upload.
 *
 * Every function returns 0 (or a count where said) or a negative errno: -ENOENT for an absent
 * object, -EEXIST when a put finds the name taken, -EIO for a short read where exact bytes were
 * required (the repository reads it as damage), -ENETUNREACH when the storage could not be reached
 * or kept failing (not damage: the blob is tried again by a later read). Thread-safe: any operation from any thread, each writer by its owner and the threads
 * it hands ranges to. */
#ifndef COFFER_REPO_BACKEND_H
#define COFFER_REPO_BACKEND_H
#include <stddef.h>
#include <stdint.h>

/* REPO_FD_CACHE_MAX: the local backend keeps at most this many fds open for ranged reads. */
#define REPO_FD_CACHE_MAX 64

enum repo_obj_type {
    REPO_OBJ_ROOT = 0,   /* "config"; "damaged" (the version-1 damaged-blob list, read only) */
    REPO_OBJ_KEY,        /* key documents */
    REPO_OBJ_PACK,       /* sealed packs */
    REPO_OBJ_INDEX,      /* index files */
    REPO_OBJ_SNAPSHOT,   /* snapshots */
    REPO_OBJ_DAMAGED,    /* parts of the damaged-blob list */
    REPO_OBJ_LOCK,       /* repository locks (prune.c): locks/<purpose>-<generation> */
    REPO_OBJ_RETAIN,     /* data locks and legal holds (retain.c): retain/<snapshot>-<generation> */
    REPO_OBJ_NTYPES
};

enum repo_retain_mode {
    REPO_RETAIN_COMPLIANCE = 0,  /* no one lifts it before its end */
    REPO_RETAIN_GOVERNANCE = 1,  /* the data-security right may shorten or lift it */
};

struct repo_backend;
struct repo_bwriter;

/* repo_backend_list_fn: called once per object name; a negative return stops the listing and is
 * returned by list. */
typedef int (*repo_backend_list_fn)(void *ctx, const char *name);

struct repo_backend_ops {
    const char *name;
    /* create: the empty layout of a new repository (idempotent). */
    int (*create)(struct repo_backend *be);
    /* put: stores a whole object if the name is free; -EEXIST (and nothing changed) if taken. */
    int (*put)(struct repo_backend *be, int type, const char *name, const void *data, size_t len);
    /* get: up to len bytes at off into buf; *got (never NULL) receives how many (fewer at the
     * end of the object, 0 at or past it). */
    int (*get)(struct repo_backend *be, int type, const char *name, uint64_t off, void *buf,
               size_t len, size_t *got);
    /* get_all: the whole object (at most max bytes, else -EFBIG) in a malloc'd buffer with a NUL
     * after it (not counted); the caller frees *data. */
    int (*get_all)(struct repo_backend *be, int type, const char *name, size_t max, void **data,
                   size_t *len);
    int (*stat)(struct repo_backend *be, int type, const char *name, uint64_t *size);
    /* list: every object of the type, in no particular order (never a temporary). */
    int (*list)(struct repo_backend *be, int type, repo_backend_list_fn fn, void *ctx);
    /* del: removes an object durably; -ENOENT if absent; -EPERM while it is retained. */
    int (*del)(struct repo_backend *be, int type, const char *name);
    /* retain: the object (which must exist: -ENOENT) cannot be deleted before until_usecs; mode
     * is an enum repo_retain_mode (a GOVERNANCE call may also shorten a GOVERNANCE retention). */
    int (*retain)(struct repo_backend *be, int type, const char *name, int64_t until_usecs, int mode);
    /* retained_until: the latest retention instant of the object, 0 when it has none. */
    int (*retained_until)(struct repo_backend *be, int type, const char *name, int64_t *until_usecs);
    /* hold: sets (on) or lifts a legal hold on the object; NULL where retain.c's documents are
     * the only record (local). */
    int (*hold)(struct repo_backend *be, int type, const char *name, int on);
    /* cache_get / cache_put: a local cache of small write-once things the repository reads again
     * (a tree blob's stored bytes, keyed by its id): cache_get fills exactly len bytes or answers
     * -ENOENT; cache_put keeps a copy (best effort). NULL where reading the object is as cheap (local). */
    int (*cache_get)(struct repo_backend *be, const char *key, void *buf, size_t len);
    void (*cache_put)(struct repo_backend *be, const char *key, const void *data, size_t len);
    /* clean: removes what writers of dead processes left (temporaries, unfinished writers). */
    void (*clean)(struct repo_backend *be);
    /* prefetch: a hint that [off, off + len) of an object is read soon: the backend may start
     * reading it (local: the kernel reads it into the page cache). Best effort; may be NULL. */
    void (*prefetch)(struct repo_backend *be, int type, const char *name, uint64_t off, uint64_t len);
    /* where: a human-readable location of an object, for messages (a path, a URL). */
    int (*where)(struct repo_backend *be, int type, const char *name, char *buf, size_t len);

    int (*writer_begin)(struct repo_backend *be, int type, struct repo_bwriter **w);
    /* writer_write: exactly len bytes at off; concurrent calls on disjoint ranges are fine. */
    int (*writer_write)(struct repo_bwriter *w, uint64_t off, const void *data, size_t len);
    /* writer_read: exactly len bytes at off of what was written (-EIO if short). */
    int (*writer_read)(struct repo_bwriter *w, uint64_t off, void *buf, size_t len);
    /* writer_kick: a hint that the first len bytes are final: start making them durable (may be
     * NULL). */
    void (*writer_kick)(struct repo_bwriter *w, uint64_t len);
    /* writer_commit: makes the object durable and visible under name if the name is free
     * (-EEXIST otherwise: the object there is left as it is). The writer stays readable until
     * writer_free. */
    int (*writer_commit)(struct repo_bwriter *w, const char *name);
    /* writer_free: ends a writer; one not committed is discarded (nothing of it stays). */
    void (*writer_free)(struct repo_bwriter *w);

    void (*destroy)(struct repo_backend *be);

    /* background_commits: how many packs the repository may hand to background threads that seal
     * and commit them while puts go on (pack.c); 0: the put that fills a pack seals it itself.
     * Local uses 1: its commit waits for the pack's write-back (fsync), which would otherwise stall
     * a backup worker for the disk's time once per pack. Durability is unchanged either way: a
     * flush waits for every seal before it writes the index that names the packs. */
    int background_commits;
};

struct repo_backend {
    const struct repo_backend_ops *ops;
};

/* repo_backend_local_new: the backend of a repository directory (backend_local.c). *out is owned
 * by the caller (repo_backend_destroy). */
int repo_backend_local_new(const char *dir, struct repo_backend **out);

/* repo_s3_config: where and how to reach an S3 repository (backend_s3.c). Strings owned
 * (repo_s3_config_clear frees them). */
struct repo_s3_config {
    char *bucket, *prefix;        /* s3://bucket/prefix (prefix may be empty) */
    char *endpoint;               /* http(s)://host[:port] */
    char *region, *access_key, *secret_key, *session_token, *ca_file;
    char *cache_dir;              /* local cache of write-once objects (NULL: none) */
    int path_style;               /* 1: endpoint/bucket/key, 0: bucket.host/key */
    int connections;              /* curl handles in the pool (concurrent requests) */
    int retries;                  /* attempts after the first on 5xx, 429, timeouts */
    int timeout_s;                /* a transfer slower than 1 byte/s for this long fails */
    int unsigned_payload;         /* uploads' bytes unsigned (UNSIGNED-PAYLOAD): 0 over https only, 1 always,
                                   * -1 never (COFFER_S3_UNSIGNED_PAYLOAD unset, true, false) */
};
/* repo_s3_config_from_env: a configuration for url (s3://bucket/prefix) from the environment
 * (COFFER_S3_ENDPOINT, COFFER_S3_REGION, COFFER_S3_PATH_STYLE, COFFER_S3_CA_FILE,
 * COFFER_S3_ACCESS_KEY_ID or AWS_ACCESS_KEY_ID, COFFER_S3_SECRET_ACCESS_KEY or
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, COFFER_S3_CONNECTIONS, COFFER_S3_RETRIES,
 * COFFER_S3_TIMEOUT, COFFER_S3_UNSIGNED_PAYLOAD); cache_dir is copied. -EINVAL with a sentence in err. */
int repo_s3_config_from_env(const char *url, const char *cache_dir, struct repo_s3_config *cfg, char *err,
                            size_t errlen);
void repo_s3_config_clear(struct repo_s3_config *cfg);
/* repo_backend_s3_new: the backend of an S3 repository (backend_s3.c). cfg is copied. */
int repo_backend_s3_new(const struct repo_s3_config *cfg, struct repo_backend **out, char *err, size_t errlen);
/* repo_s3_stats: requests an S3 backend made, by kind (for tests and logs). */
struct repo_s3_stats {
    uint64_t lists, gets, puts, heads, dels, retries, cache_hits, readahead_hits;
    uint64_t unsigned_puts;       /* uploads (attempts) sent with UNSIGNED-PAYLOAD */
};
int repo_backend_s3_stats(struct repo_backend *be, struct repo_s3_stats *out);

/* Convenience wrappers (backend.c). */
void repo_backend_destroy(struct repo_backend *be);
/* repo_backend_read: exactly len bytes at off: -EIO when the object is shorter. */
int repo_backend_read(struct repo_backend *be, int type, const char *name, uint64_t off, void *buf,
                      size_t len);
/* repo_backend_put_same: put where a taken name is fine because the name is the hash of the
 * content (the object there holds these very bytes). */
int repo_backend_put_same(struct repo_backend *be, int type, const char *name, const void *data,
                          size_t len);
#endif
