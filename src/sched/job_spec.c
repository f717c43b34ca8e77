/* job_spec.c: the versioned documents of job specs (see job_spec.h). */
#include "sched/job_spec.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int job_recovery_spec_add(struct job_recovery_spec *s, const char *path, int is_dir, const char *target)
{
    struct job_recovery_item *v = realloc(s->items, (s->n_items + 1) * sizeof *v), *it;
    if (!v) return -ENOMEM;
    s->items = v;
    it = &v[s->n_items];
    it->path = strdup(path);
    it->is_dir = is_dir != 0;
    it->target = target ? strdup(target) : NULL;
    if (!it->path || (target && !it->target)) {
        free(it->path);
        free(it->target);
        return -ENOMEM;
    }
    s->n_items++;
    return 0;
}

json_t *job_recovery_spec_doc(const struct job_recovery_spec *s)
{
    json_t *items = json_array(), *doc;
    for (size_t i = 0; items && i < s->n_items; i++) {
        const struct job_recovery_item *it = &s->items[i];
        if (json_array_append_new(items, json_pack("{s:s,s:b,s:o}", "path", it->path, "dir", it->is_dir, "target",
                                                   it->target ? json_string(it->target) : json_null())) != 0) {
            json_decref(items);
            return NULL;
        }
    }
    if (!items) return NULL;
    doc = json_pack("{s:i,s:s,s:o,s:b,s:b,s:b}", "v", JOB_SPEC_VERSION, "snapshot", s->snapshot_id ? s->snapshot_id : "",
                    "items", items, "overwrite", s->overwrite, "preserve_attrs", s->preserve_attrs,
                    "continue_on_error", s->continue_on_error);
    if (doc && s->agent_connector) json_object_set_new(doc, "agent", json_string(s->agent_connector));
    return doc;
}

void job_recovery_spec_release(struct job_recovery_spec *s)
{
    for (size_t i = 0; i < s->n_items; i++) {
        free(s->items[i].path);
        free(s->items[i].target);
    }
    free(s->items);
    free(s->snapshot_id);
    free(s->agent_connector);
    memset(s, 0, sizeof *s);
}

int job_recovery_spec_parse(json_t *doc, struct job_recovery_spec *s, char *err, size_t errlen)
{
    json_t *items = json_object_get(doc, "items"), *it;
    const char *snap = json_string_value(json_object_get(doc, "snapshot"));
    size_t i;
    memset(s, 0, sizeof *s);
    if (json_integer_value(json_object_get(doc, "v")) != JOB_SPEC_VERSION) {
        snprintf(err, errlen, "the recovery's spec has version %lld; this daemon reads version %d",
                 (long long)json_integer_value(json_object_get(doc, "v")), JOB_SPEC_VERSION);
        return -EINVAL;
    }
    if (!snap || !*snap || !json_is_array(items)) goto bad;
    if (!(s->snapshot_id = strdup(snap))) goto bad;
    json_array_foreach(items, i, it) {
        const char *path = json_string_value(json_object_get(it, "path"));
        json_t *t = json_object_get(it, "target");
        if (!path || (t && !json_is_null(t) && !json_is_string(t))) goto bad;
        if (job_recovery_spec_add(s, path, json_is_true(json_object_get(it, "dir")), json_string_value(t)) != 0)
            goto bad;
    }
    s->overwrite = json_is_true(json_object_get(doc, "overwrite"));
    s->preserve_attrs = !json_is_false(json_object_get(doc, "preserve_attrs"));
    s->continue_on_error = json_is_true(json_object_get(doc, "continue_on_error"));
    if (json_is_string(json_object_get(doc, "agent")) &&
        !(s->agent_connector = strdup(json_string_value(json_object_get(doc, "agent")))))
        goto bad;
    return 0;
bad:
    job_recovery_spec_release(s);
    snprintf(err, errlen, "the recovery's request is malformed");
    return -EINVAL;
}
