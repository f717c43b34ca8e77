/* job_restore.c: the restore kind: files of a snapshot back to a host (recovery kind "restore").
 * The mover's restore runs once per distinct target (original paths, an alternate directory, a
 * per-item destination), in the order the items first name them; its counters add up. A target host
 * served by a coffer-agent (the spec's agent_connector) is restored by that agent (eng_remote_restore). */
#include "sched/job_recovery.h"
#include "engine/remote.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_progress(void *ctx, const struct eng_progress *p)
{
    struct recovery_exec *x = ctx;
    job_lock(x->j);
    x->live.st.files = x->live.base.files + (int64_t)p->files;
    x->live.st.dirs = x->live.base.dirs + (int64_t)p->dirs;
    x->live.st.bytes = x->live.base.bytes + (int64_t)p->bytes_done;
    x->live.st.errors = x->live.base.errors + (int64_t)p->errors;
    job_unlock(x->j);
}

static int same_target(const char *a, const char *b) { return a && b ? strcmp(a, b) == 0 : a == b; }

/* restore_body: 0 (done, maybe with file errors), -ECANCELED, or another error with err. */
static int restore_body(struct recovery_exec *x, char *err, size_t errlen)
{
    const struct job_recovery_spec *sp = &x->spec;
    size_t n = sp->n_items;
    char *done = calloc(n ? n : 1, 1);
    const char **paths = calloc(n ? n : 1, sizeof *paths);
    int rc = 0;
    if (!done || !paths) {
        free(done);
        free(paths);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *target = sp->items[i].target;
        struct eng_restore_opts opts;
        struct eng_restore_result res;
        size_t np = 0;
        if (done[i]) continue;
        for (size_t k = i; k < n; k++) { /* every item going to the same place, in one call */
            if (!done[k] && same_target(target, sp->items[k].target)) {
                paths[np++] = sp->items[k].path;
                done[k] = 1;
            }
        }
        memset(&opts, 0, sizeof opts);
        opts.paths = paths;
        opts.n_paths = np;
        opts.target_dir = target;
        opts.overwrite = sp->overwrite;
        opts.preserve_attrs = sp->preserve_attrs;
        opts.continue_on_error = sp->continue_on_error;
        opts.progress = on_progress;
        opts.progress_ctx = x;
        opts.cancel = &x->j->cancel;
        memset(&res, 0, sizeof res);
        int64_t t0 = util_time_mono();
        if (sp->agent_connector) /* the target host is a coffer-agent's: the restore is its work */
            rc = eng_remote_restore(job_repo(x->j), x->r->tenant, sp->agent_connector, sp->snapshot_id, &opts, &res, err,
                                    errlen);
        else
            rc = x->mover->restore(job_repo(x->j), sp->snapshot_id, &opts, &res, err, errlen);
        log_info("recovery %s: %zu path(s) to %s in %" PRId64 " ms (paths resolved at %" PRIu64 " ms, first file at %"
                 PRIu64 " ms, synced in %" PRIu64 " ms after %" PRIu64 " write-back passes; %" PRIu64 " files, %" PRIu64
                 " of them direct, %" PRIu64 " bytes)", x->r->id, np, target ? target : "original paths",
                 (util_time_mono() - t0) / 1000, res.resolve_usecs / 1000, res.first_file_usecs / 1000,
                 res.sync_usecs / 1000, res.sync_passes, res.files, res.direct_files, res.bytes);
        x->tot.files += (int64_t)(res.files + res.symlinks + res.other);
        x->tot.dirs += (int64_t)res.dirs;
        x->tot.bytes += (int64_t)res.bytes;
        x->tot.skipped += (int64_t)res.skipped;
        x->tot.errors += (int64_t)json_array_size(res.errors);
        recovery_outcome_errors(&x->o, "restore", res.errors);
        eng_restore_result_release(&res);
        job_lock(x->j);
        x->live.base = x->tot;
        x->live.st = x->tot;
        job_unlock(x->j);
    }
    if (x->tot.skipped > 0) {
        char m[160];
        snprintf(m, sizeof m, "%" PRId64 " existing entries were left as they are (overwriteExisting is false)",
                 x->tot.skipped);
        json_array_append_new(x->o.messages, json_string(m));
    }
    free(done);
    free(paths);
    return rc;
}

static void restore_run(struct job *j) { recovery_job_run(j, restore_body, "restore"); }

const struct job_kind job_kind_restore = {
    .name = "restore",
    .queue = &job_queue_recoveries,
    .run = restore_run,
    .flush = recovery_flush,
};
