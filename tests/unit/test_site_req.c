/* test_site_req.c: the site restore API's request validation (api/site_req.c) and response shapes
 * (api/site_json.c): every class of bad body is a 400 whose message names the field, good bodies
 * (the spec's three samples among them) come out as the typed request, and a restore shows the
 * spec's fields with mapped statuses and RFC 3339 times. */
#include "api/site.h"
#include "check.h"
#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, JSON_ALLOW_NUL, &e);
    if (!j) fprintf(stderr, "bad test JSON: %s: %s\n", e.text, s);
    return j;
}

/* refused: body is refused with a 400 whose message contains want. */
static int refused(const char *body, const char *want, char *msg, size_t n)
{
    struct api_resp resp = { 0 };
    struct site_restore_req r;
    json_t *b = parse(body);
    int ok;
    const char *m;
    if (!b) return 0;
    ok = site_restore_req_parse(&resp, b, &r);
    if (ok) {
        snprintf(msg, n, "accepted");
        site_restore_req_release(&r);
        json_decref(b);
        return 0;
    }
    m = json_string_value(json_object_get(resp.json, "message"));
    snprintf(msg, n, "%d %s", resp.status, m ? m : "(no message)");
    ok = resp.status == 400 && m && strstr(m, want) != NULL;
    json_decref(resp.json);
    json_decref(b);
    return ok;
}

#define OBJ(x) "{\"name\":\"r\",\"job_settings\":{\"objects\":[" x "]}}"
#define T1 "{\"object_name\":\"t\",\"object_type\":\"TABLE\",\"parent_name\":\"db\"}"
#define D1 "{\"object_name\":\"db\",\"object_type\":\"DATABASE\"}"

TEST(every_bad_field_is_a_400_naming_it)
{
    static const char *const cases[][2] = {
        { "{\"job_settings\":{\"objects\":[" T1 "]}}", "'name' is required" },
        { "{\"name\":\"\",\"job_settings\":{\"objects\":[" T1 "]}}", "'name' must be a non-empty string" },
        { "{\"name\":\"r\"}", "'job_settings' is required" },
        { "{\"name\":\"r\",\"job_settings\":[]}", "'job_settings' must be an object" },
        { "{\"name\":\"r\",\"job_settings\":{}}", "'job_settings.objects' is required" },
        { OBJ(""), "'job_settings.objects' must name at least one object" },
        { OBJ("3"), "'job_settings.objects[0]' must be an object" },
        { "{\"name\":\"r\",\"colour\":1,\"job_settings\":{\"objects\":[" T1 "]}}", "'colour' is not a field" },
        { "{\"name\":\"r\",\"job_settings\":{\"skip_statistics\":true,\"objects\":[" T1 "]}}",
          "'job_settings.skip_statistics' is not a field" },
        { "{\"name\":\"r\",\"job_settings\":{\"run_as_a_copy_job\":\"yes\",\"objects\":[" T1 "]}}",
          "'job_settings.run_as_a_copy_job' must be a boolean" },
        { "{\"name\":\"r\",\"job_settings\":{\"skip_statstics\":1,\"objects\":[" T1 "]}}",
          "'job_settings.skip_statstics' must be a boolean" },
        { "{\"name\":\"r\",\"job_settings\":{\"skip_join_or_hash_indexes\":0,\"objects\":[" T1 "]}}",
          "'job_settings.skip_join_or_hash_indexes' must be a boolean" },
        { "{\"name\":\"r\",\"job_settings\":{\"continue_job_on_access_right_violation\":[],\"objects\":[" T1 "]}}",
          "'job_settings.continue_job_on_access_right_violation' must be a boolean" },
        { "{\"name\":\"r\",\"target_site\":\"abc\",\"job_settings\":{\"objects\":[" T1 "]}}",
          "'target_site' must be a site id" },
        { "{\"name\":\"r\",\"target_site\":-4,\"job_settings\":{\"objects\":[" T1 "]}}",
          "'target_site' must be a site id" },
        { "{\"name\":\"r\",\"target_site\":\"012\",\"job_settings\":{\"objects\":[" T1 "]}}",
          "'target_site' must be a site id" },
        { "{\"name\":\"r\",\"job_settings\":{\"restore_to_a_different_database_on_target_site\":\"\",\"objects\":["
          T1 "]}}", "'job_settings.restore_to_a_different_database_on_target_site' ('') must not be empty" },
        { "{\"name\":\"r\",\"job_settings\":{\"restore_to_a_different_database_on_target_site\":"
          "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"objects\":[" T1 "]}}",
          "longer than 63 bytes" },
        { OBJ("{\"object_type\":\"TABLE\",\"parent_name\":\"db\"}"), "'job_settings.objects[0].object_name' is required" },
        { OBJ("{\"object_name\":\"t\",\"parent_name\":\"db\"}"), "'job_settings.objects[0].object_type' is required" },
        { OBJ("{\"object_name\":\"t\",\"object_type\":\"VIEW\",\"parent_name\":\"db\"}"),
          "'job_settings.objects[0].object_type' has unknown value 'VIEW'" },
        { OBJ("{\"object_name\":\"t\",\"object_type\":\"TABLE\"}"), "'job_settings.objects[0].parent_name' is required" },
        { OBJ("{\"object_name\":\"t\",\"object_type\":\"TABLE\",\"parent_name\":\"db\",\"parent_type\":\"USER\"}"),
          "'job_settings.objects[0].parent_type' has unknown value 'USER'" },
        { OBJ("{\"object_name\":\"db\",\"object_type\":\"DATABASE\",\"parent_type\":\"DATABASE\"}"),
          "'job_settings.objects[0].parent_type' has unknown value 'DATABASE'" },
        { OBJ("{\"object_name\":\"a.b.c\",\"object_type\":\"TABLE\",\"parent_name\":\"db\"}"),
          "'job_settings.objects[0].object_name' ('a.b.c') must be 'table' or 'schema.table'" },
        { OBJ("{\"object_name\":\".t\",\"object_type\":\"TABLE\",\"parent_name\":\"db\"}"),
          "'job_settings.objects[0].object_name' ('.t') has an empty" },
        { OBJ("{\"object_name\":\"t\\u0000x\",\"object_type\":\"TABLE\",\"parent_name\":\"db\"}"),
          "'job_settings.objects[0].object_name' must not contain a NUL" },
        { OBJ("{\"object_name\":\"t\\n\",\"object_type\":\"TABLE\",\"parent_name\":\"db\"}"),
          "'job_settings.objects[0].object_name' ('t\n') must not contain control characters" },
        { OBJ("{\"object_name\":\"t\",\"object_type\":\"TABLE\",\"parent_name\":\"db\",\"rename_to\":\"\"}"),
          "'job_settings.objects[0].rename_to' ('') must not be empty" },
        { OBJ("{\"object_name\":\"t\",\"object_type\":\"TABLE\",\"parent_name\":\"db\",\"rename_to\":7}"),
          "'job_settings.objects[0].rename_to' must be a string" },
        { OBJ("{\"object_name\":\"t\",\"object_type\":\"TABLE\",\"parent_name\":\"db\",\"exclude_objects\":[\"x\"]}"),
          "'job_settings.objects[0].exclude_objects' must be empty for a TABLE" },
        { OBJ("{\"object_name\":\"db\",\"object_type\":\"DATABASE\",\"include_all\":false}"),
          "'job_settings.objects[0].include_all' false is not supported" },
        { OBJ("{\"object_name\":\"db\",\"object_type\":\"DATABASE\",\"include_all\":\"true\"}"),
          "'job_settings.objects[0].include_all' must be a boolean" },
        { OBJ("{\"object_name\":\"db\",\"object_type\":\"DATABASE\",\"exclude_objects\":{}}"),
          "'job_settings.objects[0].exclude_objects' must be an array" },
        { OBJ("{\"object_name\":\"db\",\"object_type\":\"DATABASE\",\"exclude_objects\":[1]}"),
          "'job_settings.objects[0].exclude_objects[0]' must be a table name" },
        { OBJ("{\"object_name\":\"db\",\"object_type\":\"DATABASE\",\"exclude_objects\":[\"t\",\"public.t\"]}"),
          "'job_settings.objects[0].exclude_objects[1]' repeats table 'public.t'" },
        { OBJ("{\"object_name\":\"db\",\"object_type\":\"DATABASE\",\"exclude_objects\":[{\"object_name\":\"t\","
              "\"parent_name\":\"other\"}]}"),
          "'job_settings.objects[0].exclude_objects[0].parent_name' ('other') must be the database" },
        { OBJ("{\"object_name\":\"db\",\"object_type\":\"DATABASE\",\"exclude_objects\":[{\"object_name\":\"t\","
              "\"object_type\":\"DATABASE\"}]}"),
          "'job_settings.objects[0].exclude_objects[0].object_type' has unknown value 'DATABASE'" },
        { OBJ("{\"object_name\":\"db\",\"object_type\":\"DATABASE\",\"exclude_objects\":[{\"name\":\"t\"}]}"),
          "'job_settings.objects[0].exclude_objects[0].name' is not a field" },
        { OBJ(T1 "," T1), "'job_settings.objects[1]' overlaps job_settings.objects[0]" },
        { OBJ(D1 "," T1), "'job_settings.objects[1]' overlaps job_settings.objects[0]" },
        { OBJ(T1 "," D1), "'job_settings.objects[1]' overlaps job_settings.objects[0]" },
        { OBJ("{\"object_name\":\"t\",\"object_type\":\"TABLE\",\"parent_name\":\"db\"},"
              "{\"object_name\":\"public.t\",\"object_type\":\"TABLE\",\"parent_name\":\"db\"}"),
          "'job_settings.objects[1]' overlaps" },
        { "{\"name\":\"r\",\"job_settings\":{\"restore_to_a_different_database_on_target_site\":\"x\",\"objects\":["
          "{\"object_name\":\"db\",\"object_type\":\"DATABASE\",\"rename_to\":\"y\"}]}}",
          "'job_settings.restore_to_a_different_database_on_target_site' contradicts job_settings.objects[0].rename_to" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[1200];
        CHECKF(refused(cases[i][0], cases[i][1], msg, sizeof msg), "case %zu: want '%s', got: %s", i, cases[i][1],
               msg);
    }
}

TEST(the_spec_samples_become_typed_requests)
{
    struct api_resp resp = { 0 };
    struct site_restore_req r;
    json_t *normal = parse("{\"name\":\"n\",\"target_site\":\"17\",\"job_settings\":{\"objects\":[{\"object_name\":"
                           "\"ADW\",\"object_type\":\"DATABASE\",\"parent_name\":\"main\",\"parent_type\":\"INSTANCE\","
                           "\"exclude_objects\":[\"logs\",{\"object_name\":\"audit.trail\",\"object_type\":\"TABLE\"}],"
                           "\"include_all\":true}],\"continue_job_on_access_right_violation\":false,"
                           "\"run_as_a_copy_job\":false,\"skip_statstics\":true,\"skip_join_or_hash_indexes\":true}}");
    json_t *rename = parse("{\"name\":\"test_restore_job_rename_to\",\"target_site\":9,\"job_settings\":{\"objects\":[{"
                           "\"object_name\":\"glm_bank_marketing_model\",\"object_type\":\"TABLE\",\"parent_name\":"
                           "\"BANK_MARKETING\",\"parent_type\":\"DATABASE\",\"exclude_objects\":[],\"include_all\":true,"
                           "\"rename_to\":\"glm_bank_marketing_model_renamed\"}],\"continue_job_on_access_right_"
                           "violation\":true,\"run_as_a_copy_job\":true,\"skip_statstics\":false,\"skip_join_or_hash_"
                           "indexes\":false,\"restore_to_a_different_database_on_target_site\":\"BANKING\"}}");
    CHECK(normal && rename);
    CHECK_EQ_INT(site_restore_req_parse(&resp, normal, &r), 1);
    CHECK(strcmp(r.name, "n") == 0 && r.target_site == 17 && r.n_objects == 1 && !r.target_database);
    CHECK(r.objects[0].kind == SITE_OBJ_DATABASE && strcmp(r.objects[0].database, "ADW") == 0);
    CHECK(r.objects[0].table[0] == '\0' && !r.objects[0].rename_to && r.objects[0].n_excludes == 2);
    CHECK(strcmp(r.objects[0].excludes[0], "public.logs") == 0 && strcmp(r.objects[0].excludes[1], "audit.trail") == 0);
    CHECK(!r.copy && !r.continue_on_violation && r.skip_statistics && r.skip_indexes);
    site_restore_req_release(&r);
    CHECK_EQ_INT(site_restore_req_parse(&resp, rename, &r), 1);
    CHECK(r.target_site == 9 && r.n_objects == 1 && strcmp(r.target_database, "BANKING") == 0);
    CHECK(r.objects[0].kind == SITE_OBJ_TABLE && strcmp(r.objects[0].database, "BANK_MARKETING") == 0);
    CHECK(strcmp(r.objects[0].table, "public.glm_bank_marketing_model") == 0);
    CHECK(strcmp(r.objects[0].rename_to, "glm_bank_marketing_model_renamed") == 0);
    CHECK(r.copy && r.continue_on_violation && !r.skip_statistics && !r.skip_indexes);
    site_restore_req_release(&r);
    CHECK(resp.status == 0 && resp.json == NULL); /* nothing answered */
    json_decref(normal);
    json_decref(rename);
}

TEST(ids_and_names)
{
    int64_t v = 0;
    char out[SITE_TABLE_MAX + 1];
    CHECK(site_id_parse("42", &v) && v == 42);
    CHECK(site_id_parse("9223372036854775807", &v) && v == INT64_MAX);
    CHECK(!site_id_parse("9223372036854775808", &v) && !site_id_parse("0", &v) && !site_id_parse("-1", &v));
    CHECK(!site_id_parse("1x", &v) && !site_id_parse("", &v) && !site_id_parse(NULL, &v) && !site_id_parse("07", &v));
    CHECK(site_table_name("t", out, sizeof out) == NULL && strcmp(out, "public.t") == 0);
    CHECK(site_table_name("s.t", out, sizeof out) == NULL && strcmp(out, "s.t") == 0);
    CHECK(site_table_name("s.", out, sizeof out) != NULL && site_table_name("", out, sizeof out) != NULL);
    CHECK(site_ident_problem("Grüße") == NULL && site_ident_problem("a\x7f") != NULL);
}

TEST(a_restore_shows_the_spec_fields)
{
    struct site_sub_task tasks[2] = {
        { "sales.public.orders", "COMPLETED_SUCCESSFULLY", NULL, 1566656122000000LL, 1566656125000000LL, 8192 },
        { "sales.public.lines", "FAILED", "permission denied", 1566656122000000LL, 1566656126000000LL, 0 },
    };
    json_t *msgs = parse("[\"restoring\",\"table sales.public.lines: permission denied\"]");
    json_t *errs = parse("[\"sales.public.lines: permission denied\"]");
    json_t *warns = parse("[\"sales.public.orders: 1 index skipped\"]");
    struct site_restore_view v = { .restore_no = 12, .name = "r1", .status_raw = "Failed",
                                   .start_usecs = 1566656122000000LL, .end_usecs = 1566656126500000LL,
                                   .job_id = "1:2:3", .execution_id = "3:99", .source_site = 5, .target_site = 6,
                                   .snapshot_id = "abcd", .snapshot_bytes = 123456, .messages = msgs,
                                   .errors = errs, .warnings = warns,
                                   .tasks = tasks, .n_tasks = 2 };
    json_t *j = site_restore_json(&v), *t;
    static const char *const fields[] = { "restore_job_name", "restore_job_id", "restore_execution_id", "status",
                                          "status_details", "start_time", "end_time", "errors", "warnings",
                                          "restored_objects_status", "restore_execution_sub_tasks", "dr_site_id",
                                          "snapshot_name", "snapshot_size", "source_site_id", "target_site",
                                          "is_failover", NULL };
    for (const char *const *f = fields; *f; f++) CHECKF(json_object_get(j, *f) != NULL, "missing %s", *f);
    CHECK(json_integer_value(json_object_get(j, "restore_job_id")) == 12);
    CHECK(strcmp(json_string_value(json_object_get(j, "status")), "FAILED") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "start_time")), "2019-08-24T14:15:22Z") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "end_time")), "2019-08-24T14:15:26Z") == 0);
    CHECK(json_array_size(json_object_get(j, "errors")) == 2 && json_array_size(json_object_get(j, "warnings")) == 1);
    CHECK(strcmp(json_string_value(json_array_get(json_object_get(j, "errors"), 1)),
                 "sales.public.lines: permission denied") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "status_details")),
                 "table sales.public.lines: permission denied") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "snapshot_size")), "123456") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "source_site_id")), "5") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "target_site")), "6") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "dr_site_id")), "6") == 0);
    CHECK(json_is_false(json_object_get(j, "is_failover")));
    t = json_array_get(json_object_get(j, "restore_execution_sub_tasks"), 1);
    CHECK(strcmp(json_string_value(json_object_get(t, "sub_task_name")), "sales.public.lines") == 0);
    CHECK(strcmp(json_string_value(json_object_get(t, "status_details")), "permission denied") == 0);
    CHECK(strcmp(json_string_value(json_object_get(t, "end_time")), "2019-08-24T14:15:26Z") == 0);
    CHECK(strcmp(json_string_value(json_object_get(t, "start_time")), "2019-08-24T14:15:22Z") == 0);
    CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(j, "restore_execution_sub_tasks"), 0),
                                             "restore_size")) == 8192);
    CHECK(strcmp(json_string_value(json_array_get(json_object_get(j, "restored_objects_status"), 0)),
                 "sales.public.orders: COMPLETED_SUCCESSFULLY") == 0);
    json_decref(j);
    /* queued: no end time, no objects' statuses yet */
    v.status_raw = "Accepted";
    v.end_usecs = 0;
    v.errors = v.warnings = NULL;
    v.target_site = 5;
    j = site_restore_json(&v);
    CHECK(strcmp(json_string_value(json_object_get(j, "status")), "NOT_STARTED") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "end_time")), "") == 0);
    CHECK(json_array_size(json_object_get(j, "restored_objects_status")) == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "dr_site_id")), "") == 0);
    CHECK(json_array_size(json_object_get(j, "warnings")) == 0); /* a message is no warning */
    CHECK(strcmp(json_string_value(json_object_get(j, "status_details")),
                 "table sales.public.lines: permission denied") == 0);
    json_decref(j);
    json_decref(msgs);
    json_decref(errs);
    json_decref(warns);
}

TEST(status_maps)
{
    CHECK(strcmp(site_restore_status("SucceededWithWarning"), "COMPLETED_WITH_WARNINGS") == 0);
    CHECK(strcmp(site_restore_status("Canceled"), "ABORTED") == 0);
    CHECK(strcmp(site_restore_status("bogus"), "UNKNOWN") == 0);
    CHECK(strcmp(site_restore_status("Skipped"), "SKIPPED") == 0 && strcmp(site_restore_status("NotStarted"),
                                                                           "NOT_STARTED") == 0);
    CHECK(strcmp(site_execution_status("Missed"), "SKIPPED") == 0);
    CHECK(strcmp(site_backup_type("kRegular"), "DELTA") == 0 && strcmp(site_backup_type("kLog"), "LOG") == 0);
}

int main(void)
{
    RUN(every_bad_field_is_a_400_naming_it);
    RUN(the_spec_samples_become_typed_requests);
    RUN(ids_and_names);
    RUN(a_restore_shows_the_spec_fields);
    RUN(status_maps);
    return check_finish();
}
