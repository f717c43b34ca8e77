/* indexer.h: the thread that fills the file index behind indexed search (cat_file_index.h).
 *
 * Decoupled from the backup workers: it asks the catalog for a live file snapshot not indexed yet
 * (cat_fidx_next), walks it in the repository (eng_snapshot_walk) and records every path with its
 * type, size and mtime, in transactions of a few thousand entries so the API is never held up for
 * long. A snapshot deleted later (retention or request) has its index rows purged in small steps.
 * It polls about once a second when idle; an interrupted snapshot (daemon stopped or crashed) is
 * simply walked again on the next start (adding a path twice changes nothing). */
#ifndef COFFER_SCHED_INDEXER_H
#define COFFER_SCHED_INDEXER_H
#include <stddef.h>

struct cat;
struct repo;
struct sched_indexer;

/* sched_indexer_start: starts the thread; cat and repo must outlive it. repo NULL: nothing is indexed. */
int sched_indexer_start(struct cat *cat, struct repo *repo, struct sched_indexer **out, char *err, size_t errlen);
/* sched_indexer_stop: stops at the next entry (the snapshot stays InProgress and is resumed on the
 * next start), joins and frees. NULL is fine. */
void sched_indexer_stop(struct sched_indexer *ix);
/* sched_indexer_run_once: indexes every pending snapshot and purges deleted ones on the calling
 * thread, then returns the number of snapshots indexed (<0 on error). For tests and tools. */
int sched_indexer_run_once(struct cat *cat, struct repo *repo);
#endif
