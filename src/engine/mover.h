/* mover.h: the data-mover seam. A mover moves an object's data between its environment and the
 * repository: backup (into a snapshot), restore (out of one), stat (one entry of a snapshot) and
 * read (a snapshot's chosen paths as an archive stream). The job kinds (src/sched/job_*.c) reach
 * data only through a mover chosen by the object's environment (mover_for), never by comparing
 * environment strings: the file engine (mover_file.c) is the mover of physical hosts now; the SQL
 * mover and the remote agent add a row to the table in mover.c.
 *
 * Every function returns 0 or a negative errno code, with a human sentence in err where given; the
 * option and result structs are the file engine's (engine.h), which every mover fills the same way. */
#ifndef COFFER_ENGINE_MOVER_H
#define COFFER_ENGINE_MOVER_H
#include "engine/engine.h"

/* The environments an object can live in. */
enum mover_env {
    MOVER_ENV_PHYSICAL = 0, /* a host's file systems, read by this machine's local agent */
    MOVER_ENV_COUNT
};

struct mover {
    const char *name; /* for log lines */
    int (*backup)(struct repo *repo, const struct eng_backup_opts *opts, struct eng_backup_result *out, char *err,
                  size_t errlen);
    int (*restore)(struct repo *repo, const char *snapshot_id, const struct eng_restore_opts *opts,
                   struct eng_restore_result *out, char *err, size_t errlen);
    int (*stat)(struct repo *repo, const char *snapshot_id, const char *path, struct tree_entry *out);
    /* read: a POSIX pax archive of paths (eng_write_tar's layout) to out_fd; unreadable files in errors. */
    int (*read)(struct repo *repo, const char *snapshot_id, const char *const *paths, size_t n, int out_fd,
                json_t *errors);
};

/* mover_for: the mover of an environment; NULL for one no mover serves yet. */
const struct mover *mover_for(enum mover_env env);

/* mover_env_from_catalog: THE one mapping of the environment string the catalog stores for a group,
 * an object or a snapshot to the enum (until the typed group spec carries the enum itself): 0, or
 * -EINVAL for a string no mover knows. */
int mover_env_from_catalog(const char *stored, enum mover_env *out);
/* mover_env_catalog_name: the inverse: the string the catalog stores for env. */
const char *mover_env_catalog_name(enum mover_env env);

/* The file engine as a mover (mover_file.c). */
extern const struct mover mover_file;
#endif
