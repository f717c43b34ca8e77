/* e2e_spec.c: the typed specs the real daemon stores. A policy and a kSQL group are created and then
 * updated through the API; after the daemon stops, its catalog is opened and the specs loaded
 * (spec_policy_load, spec_group_load) must say what the wire bodies said, updates included; a body the
 * API refuses writes no spec; and a restarted daemon (the start-up backfill) leaves them as they are. */
#include "check.h"
#include "catalog/cat.h"
#include "e2e/harness.h"
#include "e2e/pgsource.h"
#include "sched/spec.h"
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P "/v2/data-protect/policies"
#define G "/v2/data-protect/protection-groups"
#define T "spec-tenant"

static struct daemon d;
static char pol[128], grp[128];
static struct pgsource pgs; /* the kSQL group's objects: its database (db1) and instance */

static long send(const char *method, const char *path, const char *body, char *id, size_t idlen)
{
    struct http_resp r;
    long st;
    if (http(&d, method, path, T, body, &r) != 0) return -1;
    st = r.status;
    if (st >= 300) fprintf(stderr, "%s %s: %ld %s\n", method, path, st, r.body);
    if (id) snprintf(id, idlen, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    http_resp_release(&r);
    return st;
}

TEST(create_and_update_through_the_api)
{
    char ppath[256];
    char why[512] = "";
    CHECK_EQ_INT(daemon_start(&d, NULL), 0);
    CHECKF(pgsource_start(&pgs, &d, T, 55292, "db1", why, sizeof why) == 0, "%s", why);
    CHECK_EQ_INT(send("POST", P,
                      jfmt("{'name':'p','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Hours',"
                          "'hourSchedule':{'frequency':4}}},'retention':{'unit':'Days','duration':9}}},"
                          "'blackoutWindow':[{'day':'Tuesday','startTime':{'hour':1,'minute':0},"
                          "'endTime':{'hour':3,'minute':30}}],'retryOptions':{'retries':2,'retryIntervalMins':7}}"),
                      pol, sizeof pol),
                 201);
    CHECK_EQ_INT(send("POST", G,
                      jfmt("{'name':'sql','policyId':'%s','environment':'kSQL','startTime':{'hour':5,'minute':45,"
                          "'timeZone':'Europe/Paris'},'mssqlParams':{'protectionType':'kNative',"
                          "'nativeProtectionTypeParams':{'objects':[{'id':%lld,'name':'db1'}]}}}", pol, pgs.db_id),
                      grp, sizeof grp),
                 201);
    /* the update changes the retention and pauses the group: the specs follow */
    snprintf(ppath, sizeof ppath, P "/%s", pol); /* fmt's buffer holds the body */
    CHECK_EQ_INT(send("PUT", ppath,
                      jfmt("{'name':'p','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Hours',"
                          "'hourSchedule':{'frequency':4}}},'retention':{'unit':'Years','duration':2}}}}"),
                      NULL, 0),
                 200);
    {
        char path[256];
        snprintf(path, sizeof path, G "/%s", grp);
        CHECK_EQ_INT(send("PUT", path,
                          jfmt("{'name':'sql','policyId':'%s','environment':'kSQL','isPaused':true,"
                              "'mssqlParams':{'protectionType':'kNative','nativeProtectionTypeParams':"
                              "{'objects':[{'id':%lld,'name':'db1'},{'id':%lld}]}}}", pol, pgs.db_id,
                              pgs.instance_id),
                          NULL, 0),
                     200);
        /* refused: nothing changes */
        CHECK_EQ_INT(send("PUT", path, jfmt("{'name':'sql','policyId':'%s','environment':'kSQL'}", pol), NULL, 0),
                     400);
    }
    CHECK_EQ_INT(daemon_kill(&d, SIGTERM), 0);
}

static int check_specs(void)
{
    char path[600], err[256] = "";
    struct cat *cat = NULL;
    struct spec_policy p;
    struct spec_group g;
    int bad = 0;
    snprintf(path, sizeof path, "%s/catalog.db", d.data_dir);
    if (cat_open(path, &cat, err, sizeof err) != 0) {
        fprintf(stderr, "cat_open: %s\n", err);
        return 1;
    }
    if (spec_policy_load(cat, T, pol, &p, err, sizeof err) != 0) {
        fprintf(stderr, "policy: %s\n", err);
        bad = 1;
    } else {
        bad |= !(p.has_incr && p.incr.unit == SCHED_HOURS && p.incr.frequency == 4);
        bad |= !(p.retention.unit == SCHED_RET_YEARS && p.retention.duration == 2); /* the update's */
        bad |= p.nblackout != 0 || p.retries != 0;                                   /* dropped by the update */
    }
    if (spec_group_load(cat, T, grp, &g, err, sizeof err) != 0) {
        fprintf(stderr, "group: %s\n", err);
        bad = 1;
    } else {
        bad |= !(g.env == SPEC_ENV_SQL && g.protection == SPEC_PROT_NATIVE && g.paused);
        bad |= !(g.policy_id && strcmp(g.policy_id, pol) == 0);
        bad |= !(g.nobjects == 2 && g.objects[0].id == pgs.db_id && g.objects[1].id == pgs.instance_id);
        bad |= !(g.objects[0].name && strcmp(g.objects[0].name, "db1") == 0);
        bad |= g.has_start != 0; /* the update sent no startTime */
        spec_group_free(&g);
    }
    bad |= spec_group_load(cat, "other-tenant", grp, &g, err, sizeof err) != -ENOENT;
    cat_close(cat);
    return bad;
}

TEST(the_catalog_holds_the_specs)
{
    CHECK(check_specs() == 0);
}

TEST(a_restart_keeps_them)
{
    CHECK_EQ_INT(daemon_restart(&d, NULL), 0);
    CHECK_EQ_INT(daemon_kill(&d, SIGTERM), 0);
    CHECK(check_specs() == 0);
}

int main(void)
{
    RUN(create_and_update_through_the_api);
    RUN(the_catalog_holds_the_specs);
    RUN(a_restart_keeps_them);
    daemon_stop(&d);
    pgsource_stop(&pgs);
    return check_finish();
}
