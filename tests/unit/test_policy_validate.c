/* test_policy_validate.c: protection policy validation (src/api/schedule.c): valid policies of every
 * schedule unit pass, and each class of bad input is refused with a 400 whose message names the full
 * field path and the problem. Bodies are written with single quotes for readability (turned into
 * double quotes before parsing). */
#include "check.h"
#include "api/schedule.h"
#include <stdlib.h>
#include <string.h>

/* run: validates body; returns the verdict (1 valid) and copies the message into msg. */
static int run(const char *single_quoted, char *msg, size_t msglen, int *status)
{
    char *text = strdup(single_quoted);
    struct api_resp resp = { 0 };
    json_t *body;
    int ok;
    for (char *p = text; *p; p++)
        if (*p == '\'') *p = '"';
    body = json_loads(text, 0, NULL);
    free(text);
    if (!body) {
        snprintf(msg, msglen, "(test body does not parse)");
        *status = -1;
        return -1;
    }
    ok = api_policy_validate(&resp, body);
    *status = resp.status;
    snprintf(msg, msglen, "%s", resp.json ? json_string_value(json_object_get(resp.json, "message")) : "");
    json_decref(resp.json);
    json_decref(body);
    return ok;
}

#define REG(inner) "{'name':'p','backupPolicy':{'regular':{" inner "}}}"
#define RET "'retention':{'unit':'Days','duration':7}"
#define INCR(sched) REG("'incremental':{'schedule':" sched "}," RET)

struct bad { const char *body; const char *want; };

static void expect_bad(const struct bad *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char msg[1024];
        int status, ok = run(cases[i].body, msg, sizeof msg, &status);
        CHECKF(ok == 0, "case %zu accepted: %s", i, cases[i].body);
        CHECKF(status == 400, "case %zu: status %d", i, status);
        CHECKF(strstr(msg, cases[i].want) != NULL, "case %zu: message \"%s\" lacks \"%s\"", i, msg, cases[i].want);
    }
}

static void expect_good(const char *const *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char msg[1024];
        int status, ok = run(cases[i], msg, sizeof msg, &status);
        CHECKF(ok == 1, "case %zu refused (%s): %s", i, msg, cases[i]);
        CHECKF(status == 0, "case %zu: resp filled with %d", i, status);
    }
}

/* The official client's own examples send every sub-schedule whatever the unit (a monthSchedule with
 * both dayOfMonth and dayOfWeek beside unit Minutes): what the unit does not use is tolerated, and
 * dropped from the body so that it is neither stored nor echoed; the used one is still checked. */
TEST(unused_sub_schedules_are_tolerated_and_dropped)
{
    struct api_resp resp = { 0 };
    const char *text = "{\"name\":\"p\",\"backupPolicy\":{\"regular\":{\"incremental\":{\"schedule\":{"
                       "\"unit\":\"Minutes\",\"minuteSchedule\":{\"frequency\":30},\"hourSchedule\":{\"frequency\":0},"
                       "\"monthSchedule\":{\"dayOfMonth\":10,\"dayOfWeek\":[\"Sunday\"],\"weekOfMonth\":\"First\"}}},"
                       "\"retention\":{\"unit\":\"Days\",\"duration\":7}}}}";
    json_t *body = json_loads(text, 0, NULL), *sched;
    CHECK(body != NULL);
    CHECKF(api_policy_validate(&resp, body) == 1, "refused: %s",
           resp.json ? json_string_value(json_object_get(resp.json, "message")) : "");
    sched = json_object_get(json_object_get(json_object_get(json_object_get(body, "backupPolicy"), "regular"),
                                            "incremental"), "schedule");
    CHECK(json_object_get(sched, "minuteSchedule") != NULL);
    CHECK(json_object_get(sched, "monthSchedule") == NULL);
    CHECK(json_object_get(sched, "hourSchedule") == NULL);
    json_decref(resp.json);
    json_decref(body);
    {
        char msg[1024];
        int status;
        CHECK(run(INCR("{'unit':'Minutes','minuteSchedule':{'frequency':0},'monthSchedule':{'dayOfMonth':99}}"),
                  msg, sizeof msg, &status) == 0);
        CHECKF(strstr(msg, "minuteSchedule.frequency' must be > 0") != NULL, "message: %s", msg);
    }
}

TEST(valid_policies_of_every_unit)
{
    static const char *const good[] = {
        INCR("{'unit':'Minutes','minuteSchedule':{'frequency':15}}"),
        INCR("{'unit':'Hours','hourSchedule':{'frequency':1}}"),
        INCR("{'unit':'Days','daySchedule':{'frequency':1}}"),
        INCR("{'unit':'Weeks','weekSchedule':{'dayOfWeek':['Monday','Friday']}}"),
        INCR("{'unit':'Months','monthSchedule':{'dayOfWeek':['Sunday'],'weekOfMonth':'Third'}}"),
        INCR("{'unit':'Months','monthSchedule':{'dayOfMonth':18}}"),
        INCR("{'unit':'Months','monthSchedule':{'weekOfMonth':'Last'}}"),
        INCR("{'unit':'Years','yearSchedule':{'dayOfYear':'First'}}"),
        REG("'full':{'schedule':{'unit':'ProtectOnce'}}," RET),
        REG("'full':{'schedule':{'unit':'Weeks','weekSchedule':{'dayOfWeek':['Saturday']}}}," RET),
        REG("'fullBackups':[{'schedule':{'unit':'Months','monthSchedule':{'dayOfMonth':1}},"
            "'retention':{'unit':'Years','duration':1}}]," RET),
        /* everything at once */
        "{'name':'all','description':'d','version':1,'isCBSEnabled':false,'templateId':'t','dataLock':'Compliance',"
        "'lastModificationTimeUsecs':5,"
        "'backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Hours','hourSchedule':{'frequency':4}}},"
        "  'full':{'schedule':{'unit':'Days','daySchedule':{'frequency':7}}},"
        "  'retention':{'unit':'Weeks','duration':2,'dataLockConfig':{'mode':'Administrative','unit':'Days',"
        "    'duration':3,'enableWormOnExternalTarget':true}},"
        "  'primaryBackupTarget':{'targetType':'Local','useDefaultBackupTarget':true}},"
        " 'log':{'schedule':{'unit':'Minutes','minuteSchedule':{'frequency':30}},'retention':{'unit':'Days','duration':1}},"
        " 'runTimeouts':[{'timeoutMins':60,'backupType':'kRegular'}]},"
        "'blackoutWindow':[{'day':'Sunday','startTime':{'hour':0,'minute':0,'timeZone':'UTC'},"
        "  'endTime':{'hour':23,'minute':59}}],"
        "'extendedRetention':[{'schedule':{'unit':'Runs','frequency':10},'retention':{'unit':'Months','duration':6},"
        "  'runType':'Regular','configId':'c'}],"
        "'retryOptions':{'retries':3,'retryIntervalMins':5},'remoteTargetPolicy':{},'cascadedTargetsConfig':[]}",
    };
    expect_good(good, sizeof good / sizeof good[0]);
}

TEST(missing_required_fields_are_named)
{
    static const struct bad cases[] = {
        { "{'backupPolicy':{}}", "field 'name' is required" },
        { "{'name':'  ','backupPolicy':{}}", "field 'name' must be a non-empty string" },
        { "{'name':'p'}", "field 'backupPolicy' is required" },
        { "{'name':'p','backupPolicy':{}}", "field 'backupPolicy.regular' is required" },
        { REG(RET), "field 'backupPolicy.regular.incremental' is required when neither" },
        { REG("'incremental':{}," RET), "field 'backupPolicy.regular.incremental.schedule' is required" },
        { INCR("{'minuteSchedule':{'frequency':1}}"), "field 'backupPolicy.regular.incremental.schedule.unit' is required" },
        { REG("'incremental':{'schedule':{'unit':'Days','daySchedule':{'frequency':1}}}"),
          "field 'backupPolicy.regular.retention' is required" },
        { REG("'incremental':{'schedule':{'unit':'Days','daySchedule':{'frequency':1}}},'retention':{'unit':'Days'}"),
          "field 'backupPolicy.regular.retention.duration' is required" },
        { REG("'full':{}," RET), "field 'backupPolicy.regular.full.schedule' is required" },
        { REG("'fullBackups':[{'schedule':{'unit':'ProtectOnce'}}]," RET),
          "field 'backupPolicy.regular.fullBackups[0].retention' is required" },
    };
    expect_bad(cases, sizeof cases / sizeof cases[0]);
}

TEST(wrong_types_are_named)
{
    static const struct bad cases[] = {
        { "{'name':5,'backupPolicy':{}}", "field 'name' must be a string" },
        { "{'name':'p','backupPolicy':[]}", "field 'backupPolicy' must be an object" },
        { INCR("{'unit':'Minutes','minuteSchedule':{'frequency':'2'}}"),
          "field 'backupPolicy.regular.incremental.schedule.minuteSchedule.frequency' must be an integer" },
        { INCR("{'unit':'Minutes','minuteSchedule':{'frequency':2.5}}"), "frequency' must be an integer" },
        { INCR("{'unit':3}"), "field 'backupPolicy.regular.incremental.schedule.unit' must be a string" },
        { INCR("{'unit':'Weeks','weekSchedule':{'dayOfWeek':'Monday'}}"),
          "field 'backupPolicy.regular.incremental.schedule.weekSchedule.dayOfWeek' must be an array" },
        { INCR("{'unit':'Weeks','weekSchedule':{'dayOfWeek':[1]}}"), "dayOfWeek[0]' must be a string" },
    };
    expect_bad(cases, sizeof cases / sizeof cases[0]);
    {
        static const struct bad more[] = {
            { "{'name':'p','description':7," "'backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days',"
              "'daySchedule':{'frequency':1}}}," RET "}}}", "field 'description' must be a string" },
            { "{'name':'p','version':'1','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days',"
              "'daySchedule':{'frequency':1}}}," RET "}}}", "field 'version' must be an integer" },
            { "{'name':'p','isCBSEnabled':'yes','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days',"
              "'daySchedule':{'frequency':1}}}," RET "}}}", "field 'isCBSEnabled' must be a boolean" },
            { "{'name':'p','blackoutWindow':{},'backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days',"
              "'daySchedule':{'frequency':1}}}," RET "}}}", "field 'blackoutWindow' must be an array" },
            { "{'name':'p','blackoutWindow':[3],'backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days',"
              "'daySchedule':{'frequency':1}}}," RET "}}}", "field 'blackoutWindow[0]' must be an object" },
            { "{'name':'p','retryOptions':{'retries':'x'},'backupPolicy':{'regular':{'incremental':{'schedule':"
              "{'unit':'Days','daySchedule':{'frequency':1}}}," RET "}}}", "field 'retryOptions.retries' must be an integer" },
        };
        expect_bad(more, sizeof more / sizeof more[0]);
    }
}

TEST(schedule_units_and_sub_schedules)
{
    static const struct bad cases[] = {
        { INCR("{'unit':'Seconds'}"),
          "field 'backupPolicy.regular.incremental.schedule.unit' has unknown value 'Seconds'" },
        { INCR("{'unit':'minutes','minuteSchedule':{'frequency':1}}"), "unknown value 'minutes'" },
        { INCR("{'unit':'ProtectOnce'}"), "unknown value 'ProtectOnce'" },
        { REG("'full':{'schedule':{'unit':'Minutes','minuteSchedule':{'frequency':1}}}," RET),
          "field 'backupPolicy.regular.full.schedule.unit' has unknown value 'Minutes'" },
        { INCR("{'unit':'Minutes'}"),
          "field 'backupPolicy.regular.incremental.schedule.minuteSchedule' is required when unit is 'Minutes'" },
        { INCR("{'unit':'Hours','minuteSchedule':{'frequency':1}}"),
          "field 'backupPolicy.regular.incremental.schedule.hourSchedule' is required when unit is 'Hours'" },
        { INCR("{'unit':'Days'}"), "schedule.daySchedule' is required when unit is 'Days'" },
        { INCR("{'unit':'Weeks'}"), "schedule.weekSchedule' is required when unit is 'Weeks'" },
        { INCR("{'unit':'Months'}"), "schedule.monthSchedule' is required when unit is 'Months'" },
        { INCR("{'unit':'Years'}"), "schedule.yearSchedule' is required when unit is 'Years'" },
        { INCR("{'unit':'Minutes','minuteSchedule':{'frequency':0}}"),
          "field 'backupPolicy.regular.incremental.schedule.minuteSchedule.frequency' must be > 0" },
        { INCR("{'unit':'Hours','hourSchedule':{'frequency':-3}}"), "hourSchedule.frequency' must be > 0" },
        { INCR("{'unit':'Days','daySchedule':{'frequency':100001}}"), "daySchedule.frequency' must be <= 100000" },
        { INCR("{'unit':'Days','daySchedule':{}}"), "daySchedule.frequency' is required" },
        { INCR("{'unit':'Weeks','weekSchedule':{'dayOfWeek':[]}}"), "weekSchedule.dayOfWeek' must not be empty" },
        { INCR("{'unit':'Weeks','weekSchedule':{}}"), "weekSchedule.dayOfWeek' is required" },
        { INCR("{'unit':'Weeks','weekSchedule':{'dayOfWeek':['Monday','Funday']}}"),
          "field 'backupPolicy.regular.incremental.schedule.weekSchedule.dayOfWeek[1]' has unknown value 'Funday'" },
        { INCR("{'unit':'Weeks','weekSchedule':{'dayOfWeek':['Monday','Monday']}}"),
          "weekSchedule.dayOfWeek[1]' repeats 'Monday'" },
        { INCR("{'unit':'Months','monthSchedule':{}}"), "monthSchedule' needs 'dayOfWeek' with 'weekOfMonth'" },
        { INCR("{'unit':'Months','monthSchedule':{'dayOfWeek':['Monday']}}"),
          "monthSchedule.weekOfMonth' is required with 'dayOfWeek'" },
        { INCR("{'unit':'Months','monthSchedule':{'weekOfMonth':'Third'}}"),
          "monthSchedule.dayOfWeek' is required with weekOfMonth 'Third'" },
        { INCR("{'unit':'Months','monthSchedule':{'weekOfMonth':'Fifth','dayOfWeek':['Monday']}}"),
          "monthSchedule.weekOfMonth' has unknown value 'Fifth'" },
        { INCR("{'unit':'Months','monthSchedule':{'dayOfMonth':32}}"), "monthSchedule.dayOfMonth' must be <= 31" },
        { INCR("{'unit':'Months','monthSchedule':{'dayOfMonth':0}}"), "monthSchedule.dayOfMonth' must be > 0" },
        { INCR("{'unit':'Months','monthSchedule':{'dayOfMonth':3,'weekOfMonth':'Last'}}"),
          "monthSchedule.dayOfMonth' cannot be combined" },
        { INCR("{'unit':'Years','yearSchedule':{}}"), "yearSchedule.dayOfYear' is required" },
        { INCR("{'unit':'Years','yearSchedule':{'dayOfYear':'Middle'}}"),
          "yearSchedule.dayOfYear' has unknown value 'Middle'" },
    };
    expect_bad(cases, sizeof cases / sizeof cases[0]);
    {
        static const struct bad log_cases[] = {
            { "{'name':'p','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days','daySchedule':"
              "{'frequency':1}}}," RET "},'log':{'schedule':{'unit':'Days','daySchedule':{'frequency':1}},"
              "'retention':{'unit':'Days','duration':1}}}}", "field 'backupPolicy.log.schedule.unit' has unknown value 'Days'" },
            { "{'name':'p','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days','daySchedule':"
              "{'frequency':1}}}," RET "},'log':{'schedule':{'unit':'Hours','hourSchedule':{'frequency':1}}}}}",
              "field 'backupPolicy.log.retention' is required" },
            { "{'name':'p','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days','daySchedule':"
              "{'frequency':1}}}," RET "},'runTimeouts':[{'backupType':'kWhatever'}]}}",
              "field 'backupPolicy.runTimeouts[0].backupType' has unknown value 'kWhatever'" },
        };
        expect_bad(log_cases, sizeof log_cases / sizeof log_cases[0]);
    }
}

#define DAYS "'incremental':{'schedule':{'unit':'Days','daySchedule':{'frequency':1}}},"

TEST(retention_and_data_lock)
{
    static const struct bad cases[] = {
        { REG(DAYS "'retention':{'unit':'Days','duration':0}"),
          "field 'backupPolicy.regular.retention.duration' must be > 0" },
        { REG(DAYS "'retention':{'unit':'Days','duration':-1}"), "retention.duration' must be > 0" },
        { REG(DAYS "'retention':{'unit':'Hours','duration':1}"),
          "field 'backupPolicy.regular.retention.unit' has unknown value 'Hours'" },
        { REG(DAYS "'retention':{'duration':1}"), "field 'backupPolicy.regular.retention.unit' is required" },
        { REG(DAYS "'retention':5"), "field 'backupPolicy.regular.retention' must be an object" },
        { REG(DAYS "'retention':{'unit':'Days','duration':1,'dataLockConfig':{'mode':'Legal','unit':'Days','duration':1}}"),
          "field 'backupPolicy.regular.retention.dataLockConfig.mode' has unknown value 'Legal'" },
        { REG(DAYS "'retention':{'unit':'Days','duration':1,'dataLockConfig':{'mode':'Compliance','unit':'Days'}}"),
          "retention.dataLockConfig.duration' is required" },
        { REG(DAYS "'retention':{'unit':'Days','duration':1,'dataLockConfig':{'mode':'Compliance','unit':'Days','duration':0}}"),
          "retention.dataLockConfig.duration' must be > 0" },
        { REG(DAYS RET ",'primaryBackupTarget':{'targetType':'Tape'}"),
          "field 'backupPolicy.regular.primaryBackupTarget.targetType' has unknown value 'Tape'" },
        { REG("'fullBackups':[{'schedule':{'unit':'ProtectOnce'},'retention':{'unit':'Days','duration':0}}]," RET),
          "field 'backupPolicy.regular.fullBackups[0].retention.duration' must be > 0" },
    };
    expect_bad(cases, sizeof cases / sizeof cases[0]);
}

#define TOP(extra) "{'name':'p','backupPolicy':{'regular':{" DAYS RET "}}," extra "}"

TEST(blackout_windows_retry_lock_and_extended_retention)
{
    static const struct bad cases[] = {
        { TOP("'blackoutWindow':[{'day':'Caturday','startTime':{'hour':1,'minute':0},'endTime':{'hour':2,'minute':0}}]"),
          "field 'blackoutWindow[0].day' has unknown value 'Caturday'" },
        { TOP("'blackoutWindow':[{'day':'Monday','endTime':{'hour':2,'minute':0}}]"),
          "field 'blackoutWindow[0].startTime' is required" },
        { TOP("'blackoutWindow':[{'day':'Monday','startTime':{'hour':24,'minute':0},'endTime':{'hour':2,'minute':0}}]"),
          "field 'blackoutWindow[0].startTime.hour' must be <= 23" },
        { TOP("'blackoutWindow':[{'day':'Monday','startTime':{'hour':-1,'minute':0},'endTime':{'hour':2,'minute':0}}]"),
          "field 'blackoutWindow[0].startTime.hour' must be >= 0" },
        { TOP("'blackoutWindow':[{'day':'Monday','startTime':{'hour':1,'minute':0},'endTime':{'hour':2,'minute':60}}]"),
          "field 'blackoutWindow[0].endTime.minute' must be <= 59" },
        { TOP("'blackoutWindow':[{'day':'Monday','startTime':{'hour':1,'minute':0},'endTime':{'hour':2,'minute':0}},"
              "{'day':'Tuesday','startTime':{'hour':1},'endTime':{'hour':2,'minute':0}}]"),
          "field 'blackoutWindow[1].startTime.minute' is required" },
        { TOP("'retryOptions':{'retries':-1}"), "field 'retryOptions.retries' must be >= 0" },
        { TOP("'retryOptions':{'retries':1,'retryIntervalMins':-5}"), "field 'retryOptions.retryIntervalMins' must be >= 0" },
        { TOP("'retryOptions':[]"), "field 'retryOptions' must be an object" },
        { TOP("'dataLock':'Legal'"), "field 'dataLock' has unknown value 'Legal' (allowed: Administrative, Compliance)" },
        { TOP("'extendedRetention':[{'schedule':{'unit':'Fortnights'},'retention':{'unit':'Days','duration':1}}]"),
          "field 'extendedRetention[0].schedule.unit' has unknown value 'Fortnights'" },
        { TOP("'extendedRetention':[{'schedule':{'unit':'Weeks','frequency':0},'retention':{'unit':'Days','duration':1}}]"),
          "field 'extendedRetention[0].schedule.frequency' must be > 0" },
        { TOP("'extendedRetention':[{'schedule':{'unit':'Weeks'}}]"), "field 'extendedRetention[0].retention' is required" },
        { TOP("'extendedRetention':[{'retention':{'unit':'Days','duration':1}}]"),
          "field 'extendedRetention[0].schedule' is required" },
        { TOP("'extendedRetention':[{'schedule':{'unit':'Weeks'},'retention':{'unit':'Days','duration':1},'runType':'Odd'}]"),
          "field 'extendedRetention[0].runType' has unknown value 'Odd'" },
    };
    expect_bad(cases, sizeof cases / sizeof cases[0]);
}

TEST(refusal_leaves_the_body_untouched)
{
    const char *src = TOP("'retryOptions':{'retries':-1}");
    char *text = strdup(src), *before, *after;
    struct api_resp resp = { 0 };
    json_t *body;
    for (char *p = text; *p; p++)
        if (*p == '\'') *p = '"';
    body = json_loads(text, 0, NULL);
    CHECK(body != NULL);
    before = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(api_policy_validate(&resp, body) == 0);
    after = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(strcmp(before, after) == 0);
    CHECK_EQ_INT(resp.status, 400);
    CHECK(strcmp(json_string_value(json_object_get(resp.json, "errorCode")), "InvalidField") == 0);
    free(before);
    free(after);
    free(text);
    json_decref(body);
    json_decref(resp.json);
}

int main(void)
{
    RUN(valid_policies_of_every_unit);
    RUN(missing_required_fields_are_named);
    RUN(wrong_types_are_named);
    RUN(schedule_units_and_sub_schedules);
    RUN(retention_and_data_lock);
    RUN(blackout_windows_retry_lock_and_extended_retention);
    RUN(refusal_leaves_the_body_untouched);
    RUN(unused_sub_schedules_are_tolerated_and_dropped);
    return check_finish();
}
