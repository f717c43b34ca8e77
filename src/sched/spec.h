/* spec.h: the typed specs of protection policies and groups, below the API, and their versioned
 * internal document.
 *
 * The API translates each policy and group wire body into these structs (api/wire_spec.c); nothing
 * below the API reads the IBM wire document, which is kept only to echo back. The catalog stores the
 * internal document (spec_*_encode) beside the wire document; the scheduler, the retention pass and
 * the backup worker decode it (spec_*_decode) and take the structs.
 *
 * The internal document is JSON with Coffer's own field names, versioned: {"v":1,...}. The decoder is
 * strict: a missing or unknown version, an unknown field, a wrong type or a value out of range is
 * refused (-EINVAL, err names the field), never guessed. A version 2 adds a decoder case; version 1
 * documents stay readable.
 *
 * Policy v1: {"v":1,"incr":RULE,"full":[RULE...],"blackouts":[{"day":0-6,"start":min,"end":min}],
 *             "retention":{"unit":"days|weeks|months|years","n":N},"retries":N,"retry_interval_min":N}
 * Policy v3: v2 plus "ext":[{"unit":"hours|days|weeks|months|years|runs","every":N,
 *             "retention":{"unit","n"},"run":"any|regular|full|log"}] (extendedRetention: the GFS
 *             rules of sched/gfs.h). The encoder writes v3 only for a policy with such rules.
 * Policy v2: v1 plus "log":RULE (minutes or hours: the kLog schedule of SQL groups) and
 *             "log_retention":{"unit","n"} (how long a kLog run's snapshot is kept). The encoder writes
 *             v2 only for a policy with a log rule, so policies without one stay v1 documents.
 *   RULE = {"unit":"minutes|hours|days|weeks|months|years|once","every":N,"dow":MASK,"wom":N,"dom":N,
 *           "doy":N} (fields of struct sched_rule; absent = 0, every defaults to 1).
 * Group v1: {"v":1,"env":"physical|sql","protection":"file|volume|native","policy":ID,
 *            "objects":[{"id":N,"name":S,"paths":[{"include":S,"exclude":[S...]}]}],"exclude":[S...],
 *            "start":{"hour":H,"minute":M,"tz":S},"paused":B,"abort_in_blackouts":B,"end":USECS}
 *
 * Ownership: spec_policy is plain data; spec_group owns its strings and arrays (spec_group_free).
 * Encoders return malloc'd text (NULL on out of memory); decoders return 0 or -EINVAL / -ENOMEM. */
#ifndef COFFER_SCHED_SPEC_H
#define COFFER_SCHED_SPEC_H
#include "sched/schedule.h"
#include <stddef.h>
#include <stdint.h>

#define SPEC_VERSION 1          /* groups; policies without a log rule */
#define SPEC_POLICY_VERSION 3   /* the newest policy version (extended retention rules) */
#define SPEC_MAX_EXT 16         /* extended retention (GFS) rules of a policy */

enum spec_env { SPEC_ENV_NONE = 0, SPEC_ENV_PHYSICAL, SPEC_ENV_SQL };
enum spec_protection { SPEC_PROT_NONE = 0, SPEC_PROT_FILE, SPEC_PROT_VOLUME, SPEC_PROT_NATIVE };

struct spec_retention {
    enum sched_ret_unit unit;   /* SCHED_RET_NONE: the policy keeps snapshots without expiry */
    int64_t duration;           /* 0 .. 100000 units */
};

/* One extendedRetention rule: the first successful run of each period of `every` units (for
 * SPEC_EXT_RUNS: every `every`-th successful run) is kept for `retention` (sched/gfs.h). */
enum spec_ext_unit { SPEC_EXT_HOURS, SPEC_EXT_DAYS, SPEC_EXT_WEEKS, SPEC_EXT_MONTHS, SPEC_EXT_YEARS, SPEC_EXT_RUNS };
enum spec_ext_run { SPEC_EXT_RUN_ANY, SPEC_EXT_RUN_REGULAR, SPEC_EXT_RUN_FULL, SPEC_EXT_RUN_LOG };
struct spec_ext {
    enum spec_ext_unit unit;
    int64_t every;                  /* 1 .. 100000 */
    struct spec_retention retention;  /* unit never SCHED_RET_NONE */
    enum spec_ext_run run;          /* which runs it considers (any: kRegular and kFull) */
};

struct spec_policy {
    int has_incr;
    struct sched_rule incr;
    size_t nfull;
    struct sched_rule full[SCHED_MAX_FULL];
    size_t nblackout;
    struct sched_blackout blackout[SCHED_MAX_BLACKOUT];
    struct spec_retention retention;
    int64_t retries, retry_interval_min;
    int has_log;                      /* v2: the log schedule (kLog runs of SQL groups) */
    struct sched_rule log;            /* unit SCHED_MINUTES or SCHED_HOURS */
    struct spec_retention log_retention;
    size_t next;                      /* v3: extendedRetention */
    struct spec_ext ext[SPEC_MAX_EXT];
    /* v3: the data lock every successful run's snapshots get (dataLockConfig, or the policy's
     * dataLock for the retention's duration): SPEC_LOCK_NONE, or a mode and how long from the run's
     * start (its retention). */
    enum spec_lock_mode { SPEC_LOCK_NONE = 0, SPEC_LOCK_ADMINISTRATIVE, SPEC_LOCK_COMPLIANCE } lock_mode;
    struct spec_retention lock;
};

struct spec_path {
    char *include;
    char **excludes;
    size_t nexcludes;
};

struct spec_object {
    int64_t id;
    char *name;                  /* may be NULL */
    struct spec_path *paths;
    size_t npaths;
};

struct spec_group {
    enum spec_env env;
    enum spec_protection protection;
    char *policy_id;
    struct spec_object *objects;
    size_t nobjects;
    char **excludes;             /* global excludes */
    size_t nexcludes;
    int has_start, start_hour, start_minute;
    char *time_zone;             /* NULL = UTC */
    int paused, abort_in_blackouts;
    int64_t end_usecs;           /* 0 = never ends */
};

void spec_group_free(struct spec_group *g);

char *spec_policy_encode(const struct spec_policy *p);
int spec_policy_decode(const char *text, size_t len, struct spec_policy *out, char *err, size_t errlen);
char *spec_group_encode(const struct spec_group *g);
int spec_group_decode(const char *text, size_t len, struct spec_group *out, char *err, size_t errlen);

/* spec_policy_expiry: when a snapshot taken at start expires under the policy's retention: 0 when the
 * policy has none or the sum leaves the time range (kept without expiry, never shorter). */
int64_t spec_policy_expiry(const struct spec_policy *p, int64_t start_usecs);
/* spec_policy_log_expiry: the same under the log retention (a kLog run's snapshot); without one, the
 * regular retention. */
/* spec_policy_lock_until: when the data lock of a run started at start ends under the policy: 0 when
 * the policy locks nothing or the sum leaves the time range. */
int64_t spec_policy_lock_until(const struct spec_policy *p, int64_t start_usecs);
int64_t spec_policy_log_expiry(const struct spec_policy *p, int64_t start_usecs);

/* spec_log_due: the latest slot of the policy's log rule in (after, upto], anchored like the group's
 * other slots (its start time and zone, ref_usecs its creation); SCHED_NEVER when the policy has no
 * log rule, the group is not an SQL group, is paused or ended, or no slot is due. */
int64_t spec_log_due(const struct spec_group *g, const struct spec_policy *p, int64_t ref_usecs, int64_t after,
                     int64_t upto);

/* spec_plan: when the group runs: the policy's rules and blackouts, the group's start time, time zone,
 * end, paused and abort flags; ref_usecs becomes anchor.ref_usecs. An unknown time zone falls back to
 * UTC (noted in err, return 1); 0 otherwise. */
int spec_plan(const struct spec_group *g, const struct spec_policy *p, int64_t ref_usecs, struct sched_plan *out,
              char *err, size_t errlen);

/* Loading from the catalog (spec_load.c): the stored internal document, decoded. 0; -ENOENT when
 * tenant has no such policy or group; -ENODATA when the row has no spec (written before migration 7
 * and not translatable by api_spec_backfill); -EINVAL (err filled) for a document the decoder
 * refuses; other <0 on a catalog error. spec_group_load's *out is released with spec_group_free. */
struct cat;
int spec_policy_load(struct cat *cat, const char *tenant, const char *id, struct spec_policy *out, char *err,
                     size_t errlen);
int spec_group_load(struct cat *cat, const char *tenant, const char *id, struct spec_group *out, char *err,
                    size_t errlen);

/* spec_env_name / spec_protection_name: the internal names ("physical", "file", ...), for logs. */
const char *spec_env_name(enum spec_env env);
const char *spec_protection_name(enum spec_protection p);
#endif
