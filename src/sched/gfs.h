/* gfs.h: extendedRetention (grandfather-father-son) as pure functions of a policy's rules, a run's
 * start time and what the group's history answers, so that a simulated year is a unit test
 * (tests/unit/test_gfs.c); job_backup.c applies them when a run ends successfully.
 *
 * Rule (spec_ext): the time line is cut into periods of `every` units, in UTC: hours and days from
 * the epoch, weeks starting on Monday, calendar months and years (a period of every months starts at
 * a month whose index y*12+m-1 is a multiple of every). The first successful run of a period (the
 * group had no successful run of the rule's run types earlier in it) is promoted: its snapshots are
 * kept until its start plus the rule's retention. For unit runs, every `every`-th successful run is
 * promoted (the 1st, the every+1-th, ...). A run's expiry is the longest of its own and of every rule
 * promoting it, never shorter; a run kept without expiry (0) stays so. */
#ifndef COFFER_SCHED_GFS_H
#define COFFER_SCHED_GFS_H
#include "sched/spec.h"
#include <stddef.h>
#include <stdint.h>

/* gfs_period_start: the start (usecs) of the period of `every` units holding t; for SPEC_EXT_RUNS 0. */
int64_t gfs_period_start(enum spec_ext_unit unit, int64_t every, int64_t t);

/* gfs_rule_applies: whether rule considers a run of run_type (kRegular, kFull, kLog). */
int gfs_rule_applies(const struct spec_ext *rule, const char *run_type);

/* The history the selection asks: how many successful runs of the group, of the run types rule
 * considers, started in [from, before). 0 and *count, or <0 (the run is then not promoted by it). */
typedef int (*gfs_count_fn)(void *ud, const struct spec_ext *rule, int64_t from, int64_t before, int64_t *count);

/* gfs_select: the expiry of a successful run of run_type started at start whose policy retention gave
 * own_expiry (0 = kept): *expiry, and in *promoted a bit per rule index that promoted it. Returns 0
 * or the first <0 of count (rules answered before it still count). */
int gfs_select(const struct spec_policy *p, const char *run_type, int64_t start, int64_t own_expiry,
               gfs_count_fn count, void *ud, int64_t *expiry, uint32_t *promoted);

/* gfs_describe: "the first successful run of its week (weeks/1): kept 4 weeks" for rule, in buf
 * (with every > 1 the period is every units long). */
void gfs_describe(const struct spec_ext *rule, char *buf, size_t len);
#endif
