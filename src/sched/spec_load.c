/* spec_load.c: the typed specs of a policy or group read from the catalog (spec.h: spec_policy_load,
 * spec_group_load): the internal document the API stored beside the wire document, through the strict
 * decoder. Kept apart from spec.c so the codec itself depends on nothing but jansson. */
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include "sched/spec.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* stored: maps a catalog result and a possibly NULL document to the codes of spec.h. */
static int stored(int rc, const char *doc, const char *what, const char *id, char *err, size_t errlen)
{
    if (rc == CAT_NOT_FOUND) {
        snprintf(err, errlen, "no %s '%s'", what, id);
        return -ENOENT;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot read %s '%s' from the catalog", what, id);
        return rc < 0 ? rc : -EIO;
    }
    if (!doc) {
        snprintf(err, errlen, "%s '%s' has no typed spec", what, id);
        return -ENODATA;
    }
    return 0;
}

int spec_policy_load(struct cat *cat, const char *tenant, const char *id, struct spec_policy *out, char *err,
                     size_t errlen)
{
    char *doc = NULL;
    size_t len = 0;
    int rc = cat_policy_get_spec(cat, tenant, id, &doc, &len);
    memset(out, 0, sizeof *out);
    if ((rc = stored(rc, doc, "policy", id, err, errlen)) == 0) rc = spec_policy_decode(doc, len, out, err, errlen);
    free(doc);
    return rc;
}

int spec_group_load(struct cat *cat, const char *tenant, const char *id, struct spec_group *out, char *err,
                    size_t errlen)
{
    char *doc = NULL;
    size_t len = 0;
    int rc = cat_group_get_spec(cat, tenant, id, &doc, &len);
    memset(out, 0, sizeof *out);
    if ((rc = stored(rc, doc, "group", id, err, errlen)) == 0) rc = spec_group_decode(doc, len, out, err, errlen);
    free(doc);
    return rc;
}
