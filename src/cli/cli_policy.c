/* cli_policy.c: `coffer policy list|get|create|update|delete`, over /data-protect/policies. A policy
 * made here has the regular incremental schedule "every H hours" and a local retention of D days; the
 * list and detail views read any policy's schedule and retention back into words; get names the
 * groups that use the policy (the group list filtered by policyIds); update reads the policy, changes
 * what its options say and PUTs it back whole (its lastModificationTimeUsecs with it, so a change made
 * meanwhile is refused, not overwritten). */
#include "cli/cli.h"
#include <stdlib.h>
#include <string.h>

/* The API fields a policy command fills from its options (a 400 names the option). */
static const struct cli_field policy_fields[] = {
    { "name", "--name" },
    { "description", "--description" },
    { "backupPolicy.regular.retention.duration", "--retention-days" },
    { "backupPolicy.regular.incremental.schedule.hourSchedule.frequency", "--every-hours" },
    { NULL, NULL },
};

/* groups_text: "3 (a, b, c)": the groups using policy id, from the group list; NULL when it cannot ask. */
static const char *groups_text(struct cli *c, const char *id, char *buf, size_t size)
{
    char path[1024];
    struct cli_resp r;
    json_t *list;
    size_t o;
    if (cli_path(path, sizeof path, "/data-protect/protection-groups?policyIds=%s", id) != 0) return NULL;
    if (cli_call(c, "GET", path, NULL, &r) != CLI_OK) return NULL;
    list = json_object_get(r.json, "protectionGroups");
    o = (size_t)snprintf(buf, size, "%zu", json_array_size(list));
    for (size_t i = 0; i < json_array_size(list) && o < size; i++) {
        const char *n = cli_jstr(json_array_get(list, i), "name");
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : " (", n ? n : "?");
    }
    if (json_array_size(list) > 0 && o < size) snprintf(buf + o, size - o, ")");
    cli_resp_release(&r);
    return buf;
}

/* schedule_text: "every 4 hours" from backupPolicy.regular.incremental.schedule. */
static const char *schedule_text(json_t *p, char *buf, size_t size)
{
    json_t *s = cli_jget(p, "backupPolicy.regular.incremental.schedule");
    const char *unit = cli_jstr(s, "unit");
    static const struct { const char *unit, *field, *word; } map[] = {
        { "Minutes", "minuteSchedule.frequency", "minute" },
        { "Hours", "hourSchedule.frequency", "hour" },
        { "Days", "daySchedule.frequency", "day" },
    };
    if (!unit) return NULL;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        json_int_t f;
        if (strcmp(unit, map[i].unit) != 0) continue;
        f = json_integer_value(cli_jget(s, map[i].field));
        if (f == 1) snprintf(buf, size, "every %s", map[i].word);
        else if (f > 1) snprintf(buf, size, "every %lld %ss", (long long)f, map[i].word);
        else snprintf(buf, size, "%s", unit);
        return buf;
    }
    if (strcmp(unit, "Weeks") == 0) {
        json_t *days = cli_jget(s, "weekSchedule.dayOfWeek");
        size_t o = (size_t)snprintf(buf, size, "weekly");
        for (size_t i = 0; i < json_array_size(days) && o < size; i++)
            o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? "," : " on ",
                                  json_string_value(json_array_get(days, i)) ? json_string_value(json_array_get(days, i)) : "?");
        return buf;
    }
    snprintf(buf, size, "%s", unit);
    return buf;
}

/* retention_text: "30 days" from backupPolicy.regular.retention. */
static const char *retention_text(json_t *p, char *buf, size_t size)
{
    json_t *r = cli_jget(p, "backupPolicy.regular.retention");
    const char *unit = cli_jstr(r, "unit");
    json_int_t d = json_integer_value(json_object_get(r, "duration"));
    if (!unit) return NULL;
    snprintf(buf, size, "%lld %s", (long long)d, unit);
    for (char *q = buf; *q; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
    if (d == 1 && strlen(buf) > 1 && buf[strlen(buf) - 1] == 's') buf[strlen(buf) - 1] = '\0';
    return buf;
}

int cli_policy_list(struct cli *c, int argc, char **argv)
{
    static const char *const head[] = { "ID", "NAME", "SCHEDULE", "RETENTION", "DESCRIPTION" };
    struct cli_resp r;
    struct cli_table t;
    json_t *list;
    const char *pos[1];
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 0, 0, pos, &np)) != CLI_OK) return rc;
    if ((rc = cli_call(c, "GET", "/data-protect/policies", NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
        cli_resp_release(&r);
        return CLI_OK;
    }
    list = json_object_get(r.json, "policies");
    cli_table_init(&t, 5, head);
    for (size_t i = 0; i < json_array_size(list) && rc == CLI_OK; i++) {
        json_t *p = json_array_get(list, i);
        char sb[96], rb[64];
        const char *cells[5] = { cli_jstr(p, "id"), cli_jstr(p, "name"), schedule_text(p, sb, sizeof sb),
                                 retention_text(p, rb, sizeof rb), cli_jstr(p, "description") };
        rc = cli_table_row(&t, cells);
    }
    if (rc == CLI_OK) cli_table_print(&t, stdout);
    cli_table_release(&t);
    cli_resp_release(&r);
    return rc;
}

int cli_policy_get(struct cli *c, int argc, char **argv)
{
    struct cli_resp r;
    const char *pos[1];
    char path[1024], sb[96], rb[64], gb[2048];
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 1, 1, pos, &np)) != CLI_OK) return rc;
    if (cli_path(path, sizeof path, "/data-protect/policies/%s", pos[0]) != 0)
        return cli_usage_error(c, "the policy id is too long");
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
    } else {
        cli_kv("ID:", cli_jstr(r.json, "id"));
        cli_kv("Name:", cli_jstr(r.json, "name"));
        cli_kv("Description:", cli_jstr(r.json, "description"));
        cli_kv("Schedule:", schedule_text(r.json, sb, sizeof sb));
        cli_kv("Retention:", retention_text(r.json, rb, sizeof rb));
        cli_kv("Data lock:", cli_jstr(r.json, "dataLock"));
        cli_kv("Groups:", groups_text(c, pos[0], gb, sizeof gb));
    }
    cli_resp_release(&r);
    return CLI_OK;
}

int cli_policy_create(struct cli *c, int argc, char **argv)
{
    const char *name = NULL, *desc = NULL, *days_s = "30", *hours_s = "24";
    const struct cli_opt opts[] = {
        { "--name", CLI_OPT_STR, &name },
        { "--description", CLI_OPT_STR, &desc },
        { "--retention-days", CLI_OPT_STR, &days_s },
        { "--every-hours", CLI_OPT_STR, &hours_s },
        { NULL, 0, NULL },
    };
    const char *pos[1];
    long long days, hours;
    struct cli_resp r;
    json_t *body;
    int np, rc;
    c->fields = policy_fields;
    if ((rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &np)) != CLI_OK) return rc;
    if (!name || !*name) return cli_usage_error(c, "--name is required");
    if ((rc = cli_parse_i64(c, "--retention-days", days_s, 1, 1000000, &days)) != CLI_OK) return rc;
    if ((rc = cli_parse_i64(c, "--every-hours", hours_s, 1, 1000000, &hours)) != CLI_OK) return rc;
    body = json_pack("{s:s, s:{s:{s:{s:{s:s, s:{s:I}}}, s:{s:s, s:I}}}}",
                     "name", name,
                     "backupPolicy", "regular", "incremental", "schedule", "unit", "Hours", "hourSchedule",
                     "frequency", (json_int_t)hours,
                     "retention", "unit", "Days", "duration", (json_int_t)days);
    if (!body) return cli_fail("cannot build the request (is the name valid UTF-8?)");
    if (desc && json_object_set_new(body, "description", json_string(desc)) != 0) {
        json_decref(body);
        return cli_fail("cannot build the request (is the description valid UTF-8?)");
    }
    rc = cli_call(c, "POST", "/data-protect/policies", body, &r);
    json_decref(body);
    if (rc != CLI_OK) return rc;
    if (c->json) cli_print_json(r.json);
    else printf("created policy %s (%s)\n", cli_jstr(r.json, "id") ? cli_jstr(r.json, "id") : "?", name);
    cli_resp_release(&r);
    return CLI_OK;
}

int cli_policy_update(struct cli *c, int argc, char **argv)
{
    const char *name = NULL, *desc = NULL, *days_s = NULL, *hours_s = NULL;
    const struct cli_opt opts[] = {
        { "--name", CLI_OPT_STR, &name },
        { "--description", CLI_OPT_STR, &desc },
        { "--retention-days", CLI_OPT_STR, &days_s },
        { "--every-hours", CLI_OPT_STR, &hours_s },
        { NULL, 0, NULL },
    };
    const char *pos[1];
    char path[1024];
    long long days = 0, hours = 0;
    struct cli_resp r, u;
    json_t *body, *regular;
    int np, rc;
    c->fields = policy_fields;
    if ((rc = cli_parse(c, argc, argv, opts, 1, 1, pos, &np)) != CLI_OK) return rc;
    if (!name && !desc && !days_s && !hours_s) return cli_usage_error(c, "nothing to change: give at least one option");
    if (name && !*name) return cli_usage_error(c, "--name must not be empty");
    if (days_s && (rc = cli_parse_i64(c, "--retention-days", days_s, 1, 1000000, &days)) != CLI_OK) return rc;
    if (hours_s && (rc = cli_parse_i64(c, "--every-hours", hours_s, 1, 1000000, &hours)) != CLI_OK) return rc;
    if (cli_path(path, sizeof path, "/data-protect/policies/%s", pos[0]) != 0)
        return cli_usage_error(c, "the policy id is too long");
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    body = json_deep_copy(r.json);
    cli_resp_release(&r);
    if (!json_is_object(body)) {
        json_decref(body);
        return cli_fail("the server's answer for policy %s is not a policy", pos[0]);
    }
    if (name) json_object_set_new(body, "name", json_string(name));
    if (desc) json_object_set_new(body, "description", json_string(desc));
    regular = cli_jget(body, "backupPolicy.regular");
    if ((days_s || hours_s) && !json_is_object(regular)) {
        json_decref(body);
        return cli_fail("policy %s has no regular backup schedule to change", pos[0]);
    }
    if (days_s)
        json_object_set_new(regular, "retention", json_pack("{s:s,s:I}", "unit", "Days", "duration", (json_int_t)days));
    if (hours_s) {
        json_t *inc = json_object_get(regular, "incremental");
        if (!json_is_object(inc)) {
            inc = json_object();
            json_object_set_new(regular, "incremental", inc);
        }
        json_object_set_new(inc, "schedule", json_pack("{s:s,s:{s:I}}", "unit", "Hours", "hourSchedule", "frequency",
                                                      (json_int_t)hours));
    }
    rc = cli_call(c, "PUT", path, body, &u);
    json_decref(body);
    if (rc != CLI_OK) return rc;
    if (c->json) cli_print_json(u.json);
    else printf("updated policy %s\n", pos[0]);
    cli_resp_release(&u);
    return CLI_OK;
}

int cli_policy_delete(struct cli *c, int argc, char **argv)
{
    struct cli_resp r;
    const char *pos[1];
    char path[1024];
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, NULL, 1, 1, pos, &np)) != CLI_OK) return rc;
    if (cli_path(path, sizeof path, "/data-protect/policies/%s", pos[0]) != 0)
        return cli_usage_error(c, "the policy id is too long");
    if ((rc = cli_call(c, "DELETE", path, NULL, &r)) != CLI_OK) return rc;
    if (!c->json) printf("deleted policy %s\n", pos[0]);
    cli_resp_release(&r);
    return CLI_OK;
}
