/* tz.h: IANA time zones for the scheduler, read from the system's compiled zone files (TZif, RFC
 * 8536) without touching the process-wide TZ variable, so any thread may ask for the UTC offset of
 * any zone at any instant. Zones are loaded once and kept for the life of the process (the cache
 * owns them; sched_tz_release_all frees them at exit). */
#ifndef COFFER_SCHED_TZ_H
#define COFFER_SCHED_TZ_H
#include <stddef.h>
#include <stdint.h>

struct sched_tz;

/* sched_tz_get: the zone named name ("America/New_York", "UTC", ...), or NULL if the name is not a
 * safe zone name or no such zone file exists. The result is owned by the cache. Thread-safe. */
const struct sched_tz *sched_tz_get(const char *name);
/* sched_tz_parse: a zone from TZif bytes (for tests and sched_tz_get); NULL if malformed. The caller
 * frees the result with sched_tz_free. */
struct sched_tz *sched_tz_parse(const uint8_t *data, size_t len);
void sched_tz_free(struct sched_tz *tz);
/* sched_tz_offset: seconds east of UTC in zone tz at the instant utc_secs; tz NULL is UTC. Instants
 * after the zone file's last transition keep that transition's offset. */
int32_t sched_tz_offset(const struct sched_tz *tz, int64_t utc_secs);
/* sched_tz_local_to_utc: the instant at which the wall clock of tz reads local_secs (seconds since
 * 1970-01-01T00:00 of that wall clock). In a gap (spring forward) the result is the instant the
 * same number of seconds after the gap's start; in an overlap, the earlier instant. */
int64_t sched_tz_local_to_utc(const struct sched_tz *tz, int64_t local_secs);
void sched_tz_release_all(void);
#endif
