/* test_spec.c: the typed specs below the API (src/sched/spec.c) and their translator from the wire
 * (src/api/wire_spec.c): every field of a policy and a group spec survives encode/decode; the strict
 * decoder refuses an unknown or missing version, unknown members, wrong types and out-of-range values;
 * the translator reads the wire bodies the API stores (kPhysical and kSQL groups, every schedule unit
 * the policy uses, retention, retries) and refuses what it cannot read; the plan and expiry derived
 * from specs; and the catalog's migration 7 with the start-up backfill of rows written without a spec,
 * and the loaders (spec_policy_load, spec_group_load) over it. */
#include "check.h"
#include "e2e/pgtest.h"
#include "api/wire_spec.h"
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include "sched/spec.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_USECS (86400LL * 1000000)

static int rules_equal(const struct sched_rule *a, const struct sched_rule *b)
{
    return a->unit == b->unit && a->frequency == b->frequency && a->dow_mask == b->dow_mask &&
           a->week_of_month == b->week_of_month && a->day_of_month == b->day_of_month &&
           a->day_of_year == b->day_of_year;
}

static void full_policy(struct spec_policy *p)
{
    memset(p, 0, sizeof *p);
    p->has_incr = 1;
    p->incr = (struct sched_rule){ .unit = SCHED_HOURS, .frequency = 6 };
    p->full[0] = (struct sched_rule){ .unit = SCHED_MONTHS, .frequency = 1, .dow_mask = 0x22, .week_of_month = -1 };
    p->full[1] = (struct sched_rule){ .unit = SCHED_MONTHS, .frequency = 1, .day_of_month = 31 };
    p->full[2] = (struct sched_rule){ .unit = SCHED_YEARS, .frequency = 1, .day_of_year = -1 };
    p->full[3] = (struct sched_rule){ .unit = SCHED_ONCE, .frequency = 1 };
    p->nfull = 4;
    p->blackout[0] = (struct sched_blackout){ .day = 3, .start_min = 22 * 60, .end_min = 2 * 60 };
    p->blackout[1] = (struct sched_blackout){ .day = 6, .start_min = 0, .end_min = 1439 };
    p->nblackout = 2;
    p->retention = (struct spec_retention){ .unit = SCHED_RET_MONTHS, .duration = 13 };
    p->retries = 3;
    p->retry_interval_min = 45;
}

TEST(policy_round_trip_keeps_every_field)
{
    struct spec_policy a, b;
    char err[256] = "", *text;
    full_policy(&a);
    text = spec_policy_encode(&a);
    CHECK(text != NULL);
    CHECK(strstr(text, "{\"v\":1,") == text);
    CHECKF(spec_policy_decode(text, strlen(text), &b, err, sizeof err) == 0, "%s: %s", text, err);
    free(text);
    CHECK_EQ_INT(b.has_incr, 1);
    CHECK(rules_equal(&a.incr, &b.incr));
    CHECK_EQ_INT(b.nfull, 4);
    for (size_t i = 0; i < 4; i++) CHECKF(rules_equal(&a.full[i], &b.full[i]), "full[%zu]", i);
    CHECK_EQ_INT(b.nblackout, 2);
    for (size_t i = 0; i < 2; i++) {
        CHECK_EQ_INT(b.blackout[i].day, a.blackout[i].day);
        CHECK_EQ_INT(b.blackout[i].start_min, a.blackout[i].start_min);
        CHECK_EQ_INT(b.blackout[i].end_min, a.blackout[i].end_min);
    }
    CHECK_EQ_INT(b.retention.unit, SCHED_RET_MONTHS);
    CHECK_EQ_INT(b.retention.duration, 13);
    CHECK_EQ_INT(b.retries, 3);
    CHECK_EQ_INT(b.retry_interval_min, 45);
    /* and an empty policy: no incremental, no retention */
    memset(&a, 0, sizeof a);
    text = spec_policy_encode(&a);
    CHECK(text != NULL);
    CHECKF(spec_policy_decode(text, strlen(text), &b, err, sizeof err) == 0, "%s", err);
    free(text);
    CHECK_EQ_INT(b.has_incr, 0);
    CHECK_EQ_INT(b.nfull, 0);
    CHECK_EQ_INT(b.retention.unit, SCHED_RET_NONE);
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

static void full_group(struct spec_group *g)
{
    memset(g, 0, sizeof *g);
    g->env = SPEC_ENV_PHYSICAL;
    g->protection = SPEC_PROT_FILE;
    g->policy_id = xstrdup("1:2:3");
    g->nobjects = 2;
    g->objects = calloc(2, sizeof *g->objects);
    g->objects[0].id = 7;
    g->objects[0].name = xstrdup("host-a");
    g->objects[0].npaths = 2;
    g->objects[0].paths = calloc(2, sizeof *g->objects[0].paths);
    g->objects[0].paths[0].include = xstrdup("/srv/data");
    g->objects[0].paths[0].nexcludes = 2;
    g->objects[0].paths[0].excludes = calloc(2, sizeof(char *));
    g->objects[0].paths[0].excludes[0] = xstrdup("/srv/data/tmp");
    g->objects[0].paths[0].excludes[1] = xstrdup("/srv/data/cache \"q\"");
    g->objects[0].paths[1].include = xstrdup("/etc");
    g->objects[1].id = 9000000000LL;
    g->nexcludes = 1;
    g->excludes = calloc(1, sizeof(char *));
    g->excludes[0] = xstrdup("/proc");
    g->has_start = 1;
    g->start_hour = 23;
    g->start_minute = 59;
    g->time_zone = xstrdup("Europe/Berlin");
    g->paused = 1;
    g->abort_in_blackouts = 1;
    g->end_usecs = 4102444800000000LL;
}

TEST(group_round_trip_keeps_every_field)
{
    struct spec_group a, b;
    char err[256] = "", *text;
    full_group(&a);
    text = spec_group_encode(&a);
    CHECK(text != NULL);
    CHECKF(spec_group_decode(text, strlen(text), &b, err, sizeof err) == 0, "%s: %s", text, err);
    free(text);
    CHECK_EQ_INT(b.env, SPEC_ENV_PHYSICAL);
    CHECK_EQ_INT(b.protection, SPEC_PROT_FILE);
    CHECK(b.policy_id && strcmp(b.policy_id, "1:2:3") == 0);
    CHECK_EQ_INT(b.nobjects, 2);
    CHECK_EQ_INT(b.objects[0].id, 7);
    CHECK(b.objects[0].name && strcmp(b.objects[0].name, "host-a") == 0);
    CHECK_EQ_INT(b.objects[0].npaths, 2);
    CHECK(strcmp(b.objects[0].paths[0].include, "/srv/data") == 0);
    CHECK_EQ_INT(b.objects[0].paths[0].nexcludes, 2);
    CHECK(strcmp(b.objects[0].paths[0].excludes[0], "/srv/data/tmp") == 0);
    CHECK(strcmp(b.objects[0].paths[0].excludes[1], "/srv/data/cache \"q\"") == 0);
    CHECK(strcmp(b.objects[0].paths[1].include, "/etc") == 0);
    CHECK_EQ_INT(b.objects[0].paths[1].nexcludes, 0);
    CHECK_EQ_INT(b.objects[1].id, 9000000000LL);
    CHECK(b.objects[1].name == NULL);
    CHECK_EQ_INT(b.objects[1].npaths, 0);
    CHECK_EQ_INT(b.nexcludes, 1);
    CHECK(strcmp(b.excludes[0], "/proc") == 0);
    CHECK_EQ_INT(b.has_start, 1);
    CHECK_EQ_INT(b.start_hour, 23);
    CHECK_EQ_INT(b.start_minute, 59);
    CHECK(b.time_zone && strcmp(b.time_zone, "Europe/Berlin") == 0);
    CHECK_EQ_INT(b.paused, 1);
    CHECK_EQ_INT(b.abort_in_blackouts, 1);
    CHECK_EQ_INT(b.end_usecs, 4102444800000000LL);
    spec_group_free(&a);
    spec_group_free(&b);
    CHECK(a.objects == NULL && a.nobjects == 0); /* freed and zeroed */
}

TEST(strict_decoder_refuses_bad_documents)
{
    static const struct { const char *doc, *want; } bad_policies[] = {
        { "{\"v\":4,\"full\":[]}", "version 4" },
        { "{\"v\":1,\"log\":{\"unit\":\"minutes\"}}", "'log'" },
        { "{\"full\":[]}", "'v'" },
        { "{\"v\":\"1\"}", "'v'" },
        { "[1]", "object" },
        { "{\"v\":1,\"fulls\":[]}", "'fulls'" },
        { "{\"v\":1,\"incr\":{\"unit\":\"fortnights\"}}", "'incr.unit'" },
        { "{\"v\":1,\"incr\":{\"unit\":\"hours\",\"every\":0}}", "'incr.every'" },
        { "{\"v\":1,\"incr\":{\"unit\":\"hours\",\"extra\":1}}", "'extra'" },
        { "{\"v\":1,\"full\":[{\"unit\":\"months\",\"dom\":32}]}", "'full[0].dom'" },
        { "{\"v\":1,\"blackouts\":[{\"day\":7,\"start\":0,\"end\":1}]}", "'blackouts[0].day'" },
        { "{\"v\":1,\"blackouts\":[{\"day\":1,\"start\":0}]}", "'blackouts[0].end'" },
        { "{\"v\":1,\"retention\":{\"unit\":\"days\",\"n\":-1}}", "'retention.n'" },
        { "{\"v\":1,\"retention\":{\"unit\":\"days\"}}", "'retention.n'" },
        { "{\"v\":1,\"retries\":true}", "'retries'" },
        { "{\"v\":1,", "not JSON" },
        { "{\"v\":1,\"v\":1}", "not JSON" },
    };
    static const struct { const char *doc, *want; } bad_groups[] = {
        { "{\"v\":0,\"env\":\"physical\"}", "version 0" },
        { "{\"v\":1}", "'env'" },
        { "{\"v\":1,\"env\":\"kPhysical\"}", "'env'" },
        { "{\"v\":1,\"env\":\"physical\",\"physicalParams\":{}}", "'physicalParams'" },
        { "{\"v\":1,\"env\":\"physical\",\"objects\":[{\"id\":0}]}", "'objects[0].id'" },
        { "{\"v\":1,\"env\":\"physical\",\"objects\":[{\"id\":1,\"paths\":[{\"exclude\":[]}]}]}",
          "'objects[0].paths[0].include'" },
        { "{\"v\":1,\"env\":\"physical\",\"objects\":[{\"id\":1,\"paths\":[{\"include\":\"/\",\"exclude\":[1]}]}]}",
          "exclude[0]" },
        { "{\"v\":1,\"env\":\"physical\",\"start\":{\"hour\":24,\"minute\":0}}", "'start.hour'" },
        { "{\"v\":1,\"env\":\"physical\",\"paused\":1}", "'paused'" },
        { "{\"v\":1,\"env\":\"physical\",\"end\":-5}", "'end'" },
    };
    for (size_t i = 0; i < sizeof bad_policies / sizeof bad_policies[0]; i++) {
        struct spec_policy p;
        char err[256] = "";
        int rc = spec_policy_decode(bad_policies[i].doc, strlen(bad_policies[i].doc), &p, err, sizeof err);
        CHECKF(rc == -EINVAL, "policy %s: rc %d", bad_policies[i].doc, rc);
        CHECKF(strstr(err, bad_policies[i].want) != NULL, "policy %s: err '%s' lacks %s", bad_policies[i].doc, err,
               bad_policies[i].want);
        CHECK(p.nfull == 0 && p.has_incr == 0 && p.nblackout == 0); /* nothing half-decoded is left */
    }
    for (size_t i = 0; i < sizeof bad_groups / sizeof bad_groups[0]; i++) {
        struct spec_group g;
        char err[256] = "";
        int rc = spec_group_decode(bad_groups[i].doc, strlen(bad_groups[i].doc), &g, err, sizeof err);
        CHECKF(rc == -EINVAL, "group %s: rc %d", bad_groups[i].doc, rc);
        CHECKF(strstr(err, bad_groups[i].want) != NULL, "group %s: err '%s' lacks %s", bad_groups[i].doc, err,
               bad_groups[i].want);
        CHECK(g.objects == NULL && g.policy_id == NULL && g.nobjects == 0);
    }
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) fprintf(stderr, "bad test JSON: %s\n", je.text);
    return j;
}

static const char g_wire_policy[] =
    "{\"id\":\"1:1:1\",\"name\":\"p\",\"backupPolicy\":{\"regular\":{"
    " \"incremental\":{\"schedule\":{\"unit\":\"Hours\",\"hourSchedule\":{\"frequency\":2}}},"
    " \"full\":{\"schedule\":{\"unit\":\"Weeks\",\"weekSchedule\":{\"dayOfWeek\":[\"Sunday\",\"Friday\"]}}},"
    " \"fullBackups\":[{\"schedule\":{\"unit\":\"Months\",\"monthSchedule\":{\"dayOfWeek\":[\"Monday\"],"
    "   \"weekOfMonth\":\"Last\"}},\"retention\":{\"unit\":\"Days\",\"duration\":1}},"
    "  {\"schedule\":{\"unit\":\"Years\",\"yearSchedule\":{\"dayOfYear\":\"Last\"}}},"
    "  {\"schedule\":{\"unit\":\"ProtectOnce\"}}],"
    " \"retention\":{\"unit\":\"Weeks\",\"duration\":2}}},"
    " \"blackoutWindow\":[{\"day\":\"Wednesday\",\"startTime\":{\"hour\":22,\"minute\":30},"
    "   \"endTime\":{\"hour\":2,\"minute\":0}}],"
    " \"retryOptions\":{\"retries\":4,\"retryIntervalMins\":15},\"isUsable\":true}";

TEST(translator_reads_the_wire_policy)
{
    json_t *w = parse(g_wire_policy);
    struct spec_policy p, q;
    char err[256] = "", *text;
    CHECK(w != NULL);
    CHECKF(api_wire_policy(w, &p, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(p.has_incr, 1);
    CHECK_EQ_INT(p.incr.unit, SCHED_HOURS);
    CHECK_EQ_INT(p.incr.frequency, 2);
    CHECK_EQ_INT(p.nfull, 4);
    CHECK_EQ_INT(p.full[0].unit, SCHED_WEEKS);
    CHECK_EQ_INT(p.full[0].dow_mask, (1u << 0) | (1u << 5));
    CHECK_EQ_INT(p.full[1].unit, SCHED_MONTHS);
    CHECK_EQ_INT(p.full[1].week_of_month, -1);
    CHECK_EQ_INT(p.full[1].dow_mask, 1u << 1);
    CHECK_EQ_INT(p.full[2].unit, SCHED_YEARS);
    CHECK_EQ_INT(p.full[2].day_of_year, -1);
    CHECK_EQ_INT(p.full[3].unit, SCHED_ONCE);
    CHECK_EQ_INT(p.nblackout, 1);
    CHECK_EQ_INT(p.blackout[0].day, 3);
    CHECK_EQ_INT(p.blackout[0].start_min, 22 * 60 + 30);
    CHECK_EQ_INT(p.blackout[0].end_min, 120);
    CHECK_EQ_INT(p.retention.unit, SCHED_RET_WEEKS);
    CHECK_EQ_INT(p.retention.duration, 2);
    CHECK_EQ_INT(p.retries, 4);
    CHECK_EQ_INT(p.retry_interval_min, 15);
    /* the text form decodes to the same spec */
    text = api_wire_policy_text(w, err, sizeof err);
    CHECK(text != NULL);
    CHECKF(spec_policy_decode(text, strlen(text), &q, err, sizeof err) == 0, "%s", err);
    free(text);
    CHECK(rules_equal(&p.incr, &q.incr) && rules_equal(&p.full[1], &q.full[1]) && q.nfull == 4);
    CHECK_EQ_INT(q.retention.duration, 2);
    /* expiry: two weeks from the start, as the retention pass computes it */
    CHECK_EQ_INT(spec_policy_expiry(&p, 10 * DAY_USECS), 24 * DAY_USECS);
    p.retention.unit = SCHED_RET_NONE;
    CHECK_EQ_INT(spec_policy_expiry(&p, 10 * DAY_USECS), 0);
    json_decref(w);
}

TEST(translator_refuses_what_it_cannot_read)
{
    static const char *const bad[] = {
        "{\"backupPolicy\":{\"regular\":{\"incremental\":{\"schedule\":{\"unit\":\"Fortnights\"}}}}}",
        "{\"backupPolicy\":{\"regular\":{\"incremental\":{\"schedule\":{\"unit\":\"ProtectOnce\"}}}}}",
        "{\"blackoutWindow\":[{\"day\":\"Someday\",\"startTime\":{\"hour\":1,\"minute\":0},"
        "\"endTime\":{\"hour\":2,\"minute\":0}}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *w = parse(bad[i]);
        char err[256] = "";
        CHECK(w != NULL);
        CHECKF(api_wire_policy_text(w, err, sizeof err) == NULL && err[0], "accepted %s", bad[i]);
        json_decref(w);
    }
    {
        json_t *w = parse("{\"environment\":\"kKubernetes\"}");
        char err[256] = "";
        CHECK(api_wire_group_text(w, err, sizeof err) == NULL);
        CHECK(strstr(err, "kKubernetes") != NULL);
        json_decref(w);
    }
}

static const char g_wire_group[] =
    "{\"id\":\"1:1:2\",\"name\":\"g\",\"policyId\":\"1:1:1\",\"environment\":\"kPhysical\","
    " \"startTime\":{\"hour\":4,\"minute\":15,\"timeZone\":\"America/New_York\"},\"endTimeUsecs\":4102444800000000,"
    " \"isPaused\":true,\"abortInBlackouts\":true,\"isActive\":true,"
    " \"physicalParams\":{\"protectionType\":\"kFile\",\"fileProtectionTypeParams\":{"
    "   \"globalExcludePaths\":[\"/proc\",\"/sys\"],"
    "   \"objects\":[{\"id\":5,\"name\":\"web\",\"filePaths\":[{\"includedPath\":\"/var/www\","
    "       \"excludedPaths\":[\"/var/www/tmp\"]},{\"includedPath\":\"/etc/nginx\"}]},{\"id\":6}]}}}";

TEST(translator_reads_the_wire_group)
{
    json_t *w = parse(g_wire_group);
    struct spec_group g;
    struct spec_policy p;
    struct sched_plan plan;
    char err[256] = "";
    CHECK(w != NULL);
    CHECKF(api_wire_group(w, &g, err, sizeof err) == 0, "%s", err);
    CHECK_EQ_INT(g.env, SPEC_ENV_PHYSICAL);
    CHECK_EQ_INT(g.protection, SPEC_PROT_FILE);
    CHECK(strcmp(g.policy_id, "1:1:1") == 0);
    CHECK_EQ_INT(g.nexcludes, 2);
    CHECK(strcmp(g.excludes[1], "/sys") == 0);
    CHECK_EQ_INT(g.nobjects, 2);
    CHECK_EQ_INT(g.objects[0].id, 5);
    CHECK(strcmp(g.objects[0].name, "web") == 0);
    CHECK_EQ_INT(g.objects[0].npaths, 2);
    CHECK(strcmp(g.objects[0].paths[0].include, "/var/www") == 0);
    CHECK_EQ_INT(g.objects[0].paths[0].nexcludes, 1);
    CHECK(strcmp(g.objects[0].paths[0].excludes[0], "/var/www/tmp") == 0);
    CHECK(strcmp(g.objects[0].paths[1].include, "/etc/nginx") == 0);
    CHECK_EQ_INT(g.objects[1].id, 6);
    CHECK_EQ_INT(g.objects[1].npaths, 0);
    CHECK_EQ_INT(g.has_start, 1);
    CHECK_EQ_INT(g.start_hour, 4);
    CHECK_EQ_INT(g.start_minute, 15);
    CHECK(strcmp(g.time_zone, "America/New_York") == 0);
    CHECK_EQ_INT(g.end_usecs, 4102444800000000LL);
    CHECK_EQ_INT(g.paused, 1);
    CHECK_EQ_INT(g.abort_in_blackouts, 1);
    /* the plan the scheduler gets from the two specs */
    json_decref(w);
    w = parse(g_wire_policy);
    CHECK(w != NULL);
    CHECK(api_wire_policy(w, &p, err, sizeof err) == 0);
    CHECK(spec_plan(&g, &p, 77, &plan, err, sizeof err) == 0);
    CHECK_EQ_INT(plan.anchor.hour, 4);
    CHECK_EQ_INT(plan.anchor.minute, 15);
    CHECK(plan.anchor.tz != NULL);
    CHECK_EQ_INT(plan.anchor.ref_usecs, 77);
    CHECK_EQ_INT(plan.end_usecs, 4102444800000000LL);
    CHECK(plan.paused && plan.abort_in_blackouts && plan.has_incr);
    CHECK_EQ_INT(plan.nfull, 4);
    CHECK_EQ_INT(plan.nblackout, 1);
    spec_group_free(&g);
    json_decref(w);
    /* a kSQL group: environment, protection type and objects */
    w = parse("{\"environment\":\"kSQL\",\"policyId\":\"1:1:1\",\"mssqlParams\":{\"protectionType\":\"kNative\","
              "\"nativeProtectionTypeParams\":{\"objects\":[{\"id\":41,\"name\":\"db\"}]}}}");
    CHECK(w != NULL);
    CHECK(api_wire_group(w, &g, err, sizeof err) == 0);
    CHECK_EQ_INT(g.env, SPEC_ENV_SQL);
    CHECK_EQ_INT(g.protection, SPEC_PROT_NATIVE);
    CHECK_EQ_INT(g.nobjects, 1);
    CHECK_EQ_INT(g.objects[0].id, 41);
    CHECK_EQ_INT(g.has_start, 0);
    spec_group_free(&g);
    json_decref(w);
}

/* ---- catalog: migration 7 and the backfill ---------------------------------------------------- */

static struct cat *cat;
static char *dir;

TEST(catalog_backfills_rows_written_without_a_spec)
{
    char path[512], err[256] = "", *spec = NULL;
    size_t len = 0;
    struct spec_policy p;
    struct spec_group g;
    struct cat_group_write w = { .tenant = "t1", .id = "1:1:2", .seq = 2, .name = "g", .policy_id = "1:1:1",
                                 .environment = "kPhysical", .is_active = 1, .doc = g_wire_group, .mtime_usecs = 1 };
    struct cat_group_write bad = { .tenant = "t1", .id = "1:1:3", .seq = 3, .name = "h", .policy_id = "1:1:1",
                                   .environment = "kPhysical", .is_active = 1, .doc = "{\"environment\":\"kNone\"}",
                                   .mtime_usecs = 1 };
    dir = check_tmpdir("spec");
    CHECK(dir != NULL);
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    CHECKF(cat_open(pgtest_cat(path), &cat, err, sizeof err) == 0, "%s", err);
    CHECK(cat_schema_version(cat) >= 7);
    /* rows as a daemon before migration 7 wrote them: no spec */
    CHECK_EQ_INT(cat_policy_insert(cat, "t1", "1:1:1", 1, "p", g_wire_policy, 1), 0);
    CHECK_EQ_INT(cat_begin(cat), 0);
    CHECK_EQ_INT(cat_group_insert(cat, &w), 0);
    CHECK_EQ_INT(cat_group_insert(cat, &bad), 0);
    CHECK_EQ_INT(cat_commit(cat), 0);
    CHECK_EQ_INT(cat_policy_get_spec(cat, "t1", "1:1:1", &spec, &len), 0);
    CHECK(spec == NULL);
    CHECK_EQ_INT(cat_group_get_spec(cat, "t1", "1:1:2", &spec, &len), 0);
    CHECK(spec == NULL);
    CHECK_EQ_INT(cat_group_get_spec(cat, "t2", "1:1:2", &spec, &len), CAT_NOT_FOUND); /* tenant-scoped */

    CHECK_EQ_INT(api_spec_backfill(cat), 0);
    CHECK_EQ_INT(cat_policy_get_spec(cat, "t1", "1:1:1", &spec, &len), 0);
    CHECK(spec != NULL && len == strlen(spec));
    CHECKF(spec_policy_decode(spec, len, &p, err, sizeof err) == 0, "%s", err);
    free(spec);
    CHECK_EQ_INT(p.retention.unit, SCHED_RET_WEEKS);
    CHECK_EQ_INT(p.incr.frequency, 2);
    CHECK_EQ_INT(cat_group_get_spec(cat, "t1", "1:1:2", &spec, &len), 0);
    CHECK(spec != NULL);
    CHECKF(spec_group_decode(spec, len, &g, err, sizeof err) == 0, "%s", err);
    free(spec);
    CHECK_EQ_INT(g.nobjects, 2);
    CHECK(strcmp(g.objects[0].paths[0].include, "/var/www") == 0);
    spec_group_free(&g);
    /* the untranslatable group is left without a spec, and a second backfill changes nothing */
    CHECK_EQ_INT(cat_group_get_spec(cat, "t1", "1:1:3", &spec, &len), 0);
    CHECK(spec == NULL);
    CHECK_EQ_INT(api_spec_backfill(cat), 0);
    CHECK_EQ_INT(cat_group_get_spec(cat, "t1", "1:1:3", &spec, &len), 0);
    CHECK(spec == NULL);
    /* the loaders the scheduler and workers use: decoded, absent, not written, refused */
    CHECK_EQ_INT(spec_policy_load(cat, "t1", "1:1:1", &p, err, sizeof err), 0);
    CHECK_EQ_INT(p.retention.duration, 2);
    CHECK_EQ_INT(spec_group_load(cat, "t1", "1:1:2", &g, err, sizeof err), 0);
    CHECK_EQ_INT(g.objects[1].id, 6);
    spec_group_free(&g);
    CHECK_EQ_INT(spec_group_load(cat, "t1", "1:1:3", &g, err, sizeof err), -ENODATA);
    CHECK_EQ_INT(spec_policy_load(cat, "t1", "1:1:9", &p, err, sizeof err), -ENOENT);
    CHECK_EQ_INT(cat_policy_set_spec(cat, "t1", "1:1:1", "{\"v\":9}"), 0);
    CHECK_EQ_INT(spec_policy_load(cat, "t1", "1:1:1", &p, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "version 9") != NULL);
    /* a write through the catalog with a spec stores it */
    w.spec = "{\"v\":1,\"env\":\"physical\"}";
    w.name = "g2";
    CHECK_EQ_INT(cat_begin(cat), 0);
    CHECK_EQ_INT(cat_group_update(cat, &w), 0);
    CHECK_EQ_INT(cat_commit(cat), 0);
    CHECK_EQ_INT(cat_group_get_spec(cat, "t1", "1:1:2", &spec, &len), 0);
    CHECK(spec != NULL && strcmp(spec, w.spec) == 0);
    free(spec);
}

int main(void)
{
    RUN(policy_round_trip_keeps_every_field);
    RUN(group_round_trip_keeps_every_field);
    RUN(strict_decoder_refuses_bad_documents);
    RUN(translator_reads_the_wire_policy);
    RUN(translator_refuses_what_it_cannot_read);
    RUN(translator_reads_the_wire_group);
    RUN(catalog_backfills_rows_written_without_a_spec);
    if (cat) cat_close(cat);
    if (dir) {
        check_rm_rf(dir);
        free(dir);
    }
    return check_finish();
}
