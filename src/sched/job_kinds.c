/* job_kinds.c: the kind table of the job core (job.h). Adding a kind: its file defines a struct
 * job_kind; one row here. */
#include "sched/job.h"

extern const struct job_kind job_kind_backup, job_kind_restore, job_kind_download, job_kind_index,
    job_kind_sql_restore;

const struct job_kind *const job_kinds[] = {
    &job_kind_backup,   /* job_backup.c: a backup run of a protection group (runs queue) */
    &job_kind_restore,  /* job_restore.c: files back to a host (recoveries queue) */
    &job_kind_download, /* job_download.c: an archive prepared for download (recoveries queue) */
    &job_kind_index,    /* job_index.c: a snapshot into the file index (its own queue) */
    &job_kind_sql_restore, /* job_sql_restore.c: PostgreSQL instances, databases, tables (recoveries queue) */
    NULL,
};
