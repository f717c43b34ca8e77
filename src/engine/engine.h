/* engine.h: the file data mover: backup of local paths into a repository, restore out of it, and
 * the snapshot readers used by downloads and search indexing. Job kinds reach it through the mover
 * seam (mover.h, mover_file.c); the snapshot readers are also used directly by search indexing.
 *
 * A snapshot names a root tree ("/") holding only what is needed to reach the backed-up paths,
 * with their real metadata; paths inside a snapshot are always absolute original paths. The tree
 * blob format is src/repo/tree.h. Every int function returns 0 on success or a negative errno
 * code; when an err buffer is given it receives a human sentence. Results that hold JSON are
 * released with their *_release function. */
#ifndef COFFER_ENGINE_ENGINE_H
#define COFFER_ENGINE_ENGINE_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "repo/repo.h"
#include "repo/tree.h"

/* Progress, reported from the calling thread about twice a second and once at the end. */
struct eng_progress {
    uint64_t files, dirs;        /* entries done so far */
    uint64_t bytes_done;         /* backup: file bytes read; restore/tar: bytes written */
    uint64_t bytes_added;        /* backup: bytes added to packs */
    uint64_t logical_bytes;      /* backup: sizes of the files seen (unchanged ones included) */
    uint64_t errors;             /* backup: warnings; restore: errors */
    const char *current_path;    /* valid during the call only; may be NULL */
};
typedef void (*eng_progress_fn)(void *ctx, const struct eng_progress *p);

/* ---------- backup ---------- */

struct eng_backup_opts {
    const char *const *include_paths;  /* absolute paths; "/" = everything */
    size_t n_include;
    /* Excludes: a pattern without '*', '?' or '[' is a path prefix ("/a/b" excludes /a/b and all
     * below it); a glob containing '/' is matched (fnmatch, '*' crossing '/') against the whole
     * absolute path, a glob without '/' against the entry name ("*.tmp"). */
    const char *const *exclude_paths;
    size_t n_exclude;
    const char *parent_snapshot_id;    /* NULL or "" = read everything */
    json_t *snapshot_meta;             /* object (borrowed): fields merged into the snapshot
                                          document where they do not collide with ours */
    eng_progress_fn progress;
    void *progress_ctx;
    volatile int *cancel;              /* set to nonzero to stop: -ECANCELED, no snapshot */
    /* pause (may be NULL): set to nonzero to stop reading before the next directory entry; what is
     * done so far (the entries already taken, their directories cut there) is written as a normal
     * snapshot, a checkpoint, and result.paused is 1. A backup with the checkpoint as its parent
     * then reads only what the checkpoint lacks. */
    volatile int *pause;
    int threads;                       /* hashing/packing workers; <= 0 = number of cores */
    /* Test hook: called on the reading thread just before a regular file is opened. */
    void (*on_before_open)(void *ctx, const char *path);
    void *hook_ctx;
    /* Racily clean files (git's rule), for sources that may rewrite a file within the file
     * system's timestamp granularity (databases): nonzero = a regular file whose mtime (ns since
     * the epoch) is not older than this is read even when its identity equals the parent's.
     * 0 = off (identity alone decides). */
    int64_t reuse_mtime_before_ns;
    /* Grafts: absolute directory paths (inside the include paths) whose content is taken from the
     * parent snapshot as it stands (the parent's subtree id), nothing below them read: to compose
     * one snapshot from an earlier run plus files that only exist later (the SQL mover's
     * backup_label and WAL). A graft path missing from the parent fails the backup (-ENOENT).
     * The grafted content is not counted in the result's file and byte figures. */
    const char *const *graft_paths;
    size_t n_graft;
};

struct eng_backup_result {
    char snapshot_id[REPO_ID_HEX_LEN + 1];
    char tree_id[REPO_ID_HEX_LEN + 1];  /* root tree */
    uint64_t files, dirs, symlinks, other;
    uint64_t logical_bytes;    /* sum of regular file sizes in the snapshot */
    uint64_t bytes_read;       /* file bytes actually read (0 on an unchanged incremental run) */
    uint64_t bytes_added;      /* bytes added to pack files (after dedup/compression) */
    uint64_t files_unchanged;  /* files whose content was taken from the parent snapshot */
    json_t *warnings;          /* owned: array of {"path":..,"message":..} (vanished, unreadable) */
    int paused;                /* stopped by opts.pause: the snapshot is a checkpoint */
    /* Where the time went (microseconds): the reader in read calls and waiting for a free batch
     * (the workers are behind), the workers together waiting for a batch (the reader is behind). */
    uint64_t read_usecs, batch_wait_usecs, worker_idle_usecs;
    /* ... and on the walk: the reader listing directories itself and waiting for the listing-ahead
     * helper, loading the parent's trees and encoding and storing trees (reader, helper and
     * workers together), writing the snapshot (the repository's flush and the document). */
    uint64_t list_usecs, la_wait_usecs, tree_load_usecs, tree_store_usecs, snapshot_usecs;
};

/* eng_backup: walks the include paths (never following symlinks; virtual kernel filesystems such
 * as /proc and /sys are recorded as empty directories unless included explicitly), stores new
 * data and trees, and writes the snapshot document (repo_snapshot_write, which makes it durable):
 *   {"version":1,"tree":hex,"paths":[..],"excludes":[..],"hostname":..,"time_usecs":..,
 *    "end_time_usecs":..,"parent":hex|null,"stats":{..}} + snapshot_meta's fields.
 * Files that vanish or cannot be read become warnings and are left out; the backup goes on.
 * Failure (repository error, cancel, nothing included could be read) writes no snapshot.
 * out is always filled (release it with eng_backup_result_release). */
int eng_backup(struct repo *repo, const struct eng_backup_opts *opts, struct eng_backup_result *out,
               char *err, size_t errlen);
void eng_backup_result_release(struct eng_backup_result *r);

/* ---------- restore ---------- */

struct eng_restore_opts {
    const char *const *paths;  /* absolute paths in the snapshot (files or dirs); NULL/0 = "/" */
    size_t n_paths;
    /* target_dir NULL: each path goes back to its original location. Else each requested path P
     * is restored as target_dir/<basename of P> (the tree below it keeps its shape); P = "/"
     * restores the root's content into target_dir itself, i.e. target_dir + original path.
     * target_dir is created if missing. */
    const char *target_dir;
    int overwrite;             /* replace existing entries; else they are skipped and counted */
    int preserve_attrs;        /* mode, owner (when root), times, xattrs */
    int continue_on_error;     /* name failing files in errors and go on; else stop at the first */
    eng_progress_fn progress;
    void *progress_ctx;
    volatile int *cancel;
    int threads;               /* file writers; <= 0 = 6 per core (8..64): they wait on reads */
    uint64_t sync_step;        /* bytes written through the page cache between two write-back passes
                                * during the restore (syncfs, restore.c); 0 = 64 MiB */
};

struct eng_restore_result {
    uint64_t files, dirs, symlinks, other, bytes, skipped;
    uint64_t first_file_usecs;  /* from the call to the first file complete under its name (0: none) */
    uint64_t resolve_usecs;     /* from the call to the requested paths resolved (snapshot, trees read) */
    uint64_t sync_usecs;        /* the final sync pass (syncfs of each file system written to) */
    uint64_t direct_files;      /* files written with direct I/O (large whole files, restore.c) */
    uint64_t sync_passes;       /* write-back passes run during the restore (the final pass not counted) */
    json_t *errors;            /* owned: array of {"path":..,"message":..} */
};

/* eng_restore: writes the chosen paths. Requested paths are all resolved first: one missing gives
 * -ENOENT, err names it, nothing is written. Entries are created relative to directory fds with
 * O_NOFOLLOW (a symlink in the target is never followed), names from the tree are re-checked,
 * files are written under a temporary name and renamed into place only when complete, holes of
 * sparse files stay holes, hardlinks are re-linked, directory attributes are set after their
 * content, and everything written is durable (syncfs) before it returns, unless canceled. With
 * continue_on_error, per-file failures (damaged data, I/O errors) are listed in
 * errors and the return is 0; without it the first one stops the restore and is returned. */
int eng_restore(struct repo *repo, const char *snapshot_id, const struct eng_restore_opts *opts,
                struct eng_restore_result *out, char *err, size_t errlen);
void eng_restore_result_release(struct eng_restore_result *r);

/* ---------- reading snapshots ---------- */

/* Damage. Every reader below returns -EBADMSG when the repository is damaged: a snapshot file
 * missing or damaged, a tree or data blob damaged or unknown, its pack missing or short. Never a
 * target-side error, never -ENOENT (that means "not in the snapshot"). eng_damage_text: the sentence
 * for a failed read on this thread, naming the snapshot, blob and pack ("repository damage: pack
 * <hex> is missing from the repository (blob <hex>)"); for other codes, strerror. */
const char *eng_damage_text(int rc, char *buf, size_t len);

/* eng_snapshot_root: the root tree id named by a snapshot document. */
int eng_snapshot_root(struct repo *repo, const char *snapshot_id, repo_id_t *root);

/* eng_snapshot_walk: calls cb for every entry, depth first in name order, a directory before its
 * content; path is absolute ("/etc/passwd"). A nonzero return from cb stops the walk and is
 * returned. The root itself is not reported. */
int eng_snapshot_walk(struct repo *repo, const char *snapshot_id,
                      int (*cb)(void *ctx, const char *path, const struct tree_entry *e), void *ctx);

/* eng_stat_path: the entry at an absolute path; "/" gives a directory entry named "/" whose
 * subtree is the root. -ENOENT if absent. The caller releases *out with tree_entry_release. */
int eng_stat_path(struct repo *repo, const char *snapshot_id, const char *path,
                  struct tree_entry *out);

/* eng_read_file: streams bytes [offset, offset+length) of a regular file (length 0 = to the end;
 * a range past the end is clipped) to sink, holes as zeros, hardlinks followed. A nonzero return
 * from sink stops and is returned. -EISDIR / -EINVAL for non-files. */
int eng_read_file(struct repo *repo, const char *snapshot_id, const char *path, uint64_t offset,
                  uint64_t length, int (*sink)(void *ctx, const void *buf, size_t len), void *ctx);

/* eng_write_tar: writes a POSIX pax archive of the chosen paths (NULL/0 = "/") to out_fd. Member
 * names follow the restore layout: a requested path P becomes <basename of P>/..., "/" gives the
 * root's content. Pax records carry long names and link targets, large sizes and ids, ns mtimes
 * and xattrs (SCHILY.xattr). Sparse files are written with their holes as zeros. A file whose data
 * cannot be read is padded with zeros to its size and listed in errors (may be NULL) as
 * {"path","message"}; the archive stays well-formed. -ENOENT (nothing written) if a path is not
 * in the snapshot; write errors on out_fd are returned. */
int eng_write_tar(struct repo *repo, const char *snapshot_id, const char *const *paths, size_t n,
                  int out_fd, json_t *errors);
#endif
