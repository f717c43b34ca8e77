/* indexer.h: the file index behind indexed search (cat_file_index.h), filled by the index job kind
 * (job_index.c) that the scheduler's index pool runs; this is its synchronous entry for tests and
 * tools. */
#ifndef COFFER_SCHED_INDEXER_H
#define COFFER_SCHED_INDEXER_H

struct cat;
struct repo;

/* sched_indexer_run_once: indexes every pending snapshot and purges deleted ones on the calling
 * thread, then returns the number of snapshots indexed (<0 on error). */
int sched_indexer_run_once(struct cat *cat, struct repo *repo);
#endif
