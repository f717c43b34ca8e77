/* search_indexed.c: POST /v2/data-protect/search/indexed-objects (SearchIndexedObjects) for files.
 *
 * objectType Files searches the files of Coffer's file snapshots; another object type of the contract
 * (Emails, SfdcRecords, ...) is one Coffer does not protect and is answered 200 with no results.
 * fileParams.searchString is matched case-insensitively (Unicode case folding: "ÜNÏCØDÉ" finds
 * "ünïcødé-report.txt") against file names, or against whole paths when it contains '/': text without
 * '*' is a substring ("report" finds "Q3-Report.pdf"), text with '*' a pattern over the whole name
 * where '*' is any run ("*.pdf", "rep*"); empty or "*" is every path. The index's trigram table answers
 * substrings of three characters or more (its LIKE folds ASCII only, so each character beyond ASCII is
 * a one-character wildcard there, and the matcher here decides); shorter ones scan. Filters: fileParams.types (File, Directory, Symlink),
 * sourceEnvironments (kPhysical / kPhysicalFiles), sourceIds (registrations), objectIds,
 * protectionGroupIds; tags and snapshot tags match nothing (none exist here); storageDomainIds match
 * when they name 1, the only storage domain.
 *
 * Each hit is a File: name, path (absolute, as in the snapshot), type, sourceInfo (the object),
 * storageDomainId, and the protection group and policy of the newest snapshot holding it, plus
 * Coffer's "snapshots": every live snapshot that has it, newest first (snapshotId, group, run id,
 * time, and the file's type, size and mtime there), so a file deleted since is found with the
 * snapshots that still hold it. Pages: count (default 100, at most 1000) files in path-id order;
 * paginationCookie (the last path id) when more follow. "count" is the number of matches from this
 * page on, exact up to COUNT_CAP past the page and a lower bound beyond (counting every match of a
 * broad query would cost more than the query). */
#include "util/text.h"
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "api/objects.h"
#include "catalog/cat_file_index.h"
#include "catalog/cat_source.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
#define COUNT_CAP 1000
#define SNAPSHOTS_PER_FILE 50
#define SEARCH_MAX 1024
#define OBJ_CACHE 8

struct matcher {
    char pat[UTIL_FOLD_MAX(SEARCH_MAX) + 1];   /* case-folded (util_fold) */
    int glob;                   /* contains '*': whole-name pattern; else substring */
    int on_path;
};

/* glob_match: '*' matches any run (including '/'), everything else one byte; both sides folded. */
static int glob_match(const char *p, const char *s)
{
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            ss = s;
        } else if (*p && *p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++ss;
        } else {
            return 0;
        }
    }
    while (*p == '*') p++;
    return *p == '\0';
}

/* matches: the hit's name (or path) folded like the pattern, then compared byte for byte: case-
 * insensitive beyond ASCII ("ÜNÏCØDÉ" finds "ünïcødé-report.txt"). */
static int matches(const struct matcher *m, const struct cat_fidx_hit *h)
{
    const char *text = m->on_path ? h->path : h->name;
    char small[1024], *big = NULL, *folded = small;
    size_t cap = UTIL_FOLD_MAX(strlen(text)) + 1;
    int yes;
    if (cap > sizeof small) {
        if (!(big = malloc(cap))) return 0;
        folded = big;
    }
    util_fold(text, folded, cap < sizeof small ? sizeof small : cap);
    yes = m->glob ? glob_match(m->pat, folded) : strstr(folded, m->pat) != NULL;
    free(big);
    return yes;
}

struct search {
    struct api_req *req;
    struct cat *cat;
    const struct matcher *m;
    json_t *group_ids;            /* filter (strings) or NULL */
    json_t *files;
    int64_t limit, matched, last_id;
    int more, failed;
    struct cat_object objs[OBJ_CACHE];
    int nobjs, next_obj;
};

static int str_in(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (strcmp(json_string_value(v), s) == 0) return 1;
    }
    return 0;
}

static const struct cat_object *object_of(struct search *s, int64_t id)
{
    struct cat_object o;
    const struct cat_object *r;
    for (int i = 0; i < s->nobjs; i++)
        if (s->objs[i].id == id) return &s->objs[i];
    if (cat_object_get(s->cat, s->req->tenant, id, &o) != 0) return NULL;
    if (s->nobjs < OBJ_CACHE) {
        s->objs[s->nobjs] = o;
        return &s->objs[s->nobjs++];
    }
    cat_object_release(&s->objs[s->next_obj]);
    s->objs[s->next_obj] = o;
    r = &s->objs[s->next_obj];
    s->next_obj = (s->next_obj + 1) % OBJ_CACHE;
    return r;
}

static const char *type_name(int t)
{
    return t == CAT_FIDX_DIR ? "Directory" : t == CAT_FIDX_SYMLINK ? "Symlink" : "File";
}

struct vctx {
    struct search *s;
    json_t *snaps;
    json_t *first;   /* the newest version's group/policy as a File's fields */
};

static int on_version(void *ud, const struct cat_fidx_version *v)
{
    struct vctx *c = ud;
    char run[64];
    if (c->s->group_ids && !str_in(c->s->group_ids, v->group_id)) return 0;
    if (!c->first) {
        c->first = json_object();
        json_object_set_new(c->first, "protectionGroupId", json_string(v->group_id));
        if (v->group_name) json_object_set_new(c->first, "protectionGroupName", json_string(v->group_name));
        if (v->policy_id) json_object_set_new(c->first, "policyId", json_string(v->policy_id));
        if (v->policy_name) json_object_set_new(c->first, "policyName", json_string(v->policy_name));
    }
    if (json_array_size(c->snaps) >= SNAPSHOTS_PER_FILE) return 0;
    snprintf(run, sizeof run, "%" PRId64 ":%" PRId64, v->group_seq, v->run_usecs);
    json_array_append_new(c->snaps, json_pack("{s:s,s:s,s:s?,s:s,s:I,s:s,s:I,s:I}", "snapshotId", v->snapshot_id,
                                              "protectionGroupId", v->group_id, "protectionGroupName", v->group_name,
                                              "protectionGroupRunId", run, "snapshotTimestampUsecs",
                                              (json_int_t)v->snapshot_usecs, "type", type_name(v->type), "sizeBytes",
                                              (json_int_t)v->size, "mtimeUsecs", (json_int_t)v->mtime_usecs));
    return 0;
}

static int on_hit(void *ud, const struct cat_fidx_hit *h)
{
    struct search *s = ud;
    struct vctx vc = { .s = s };
    const struct cat_object *o;
    json_t *f;
    const char *k;
    json_t *v;
    if (!matches(s->m, h)) return 0;
    if ((int64_t)json_array_size(s->files) >= s->limit) {
        /* beyond the page: count (cheaply) up to the cap */
        s->more = 1;
        s->matched++;
        return s->matched >= s->limit + COUNT_CAP ? 1 : 0;
    }
    vc.snaps = json_array();
    if (cat_fidx_versions(s->cat, s->req->tenant, h->path_id, on_version, &vc) != 0) {
        json_decref(vc.snaps);
        json_decref(vc.first);
        s->failed = 1;
        return -1;
    }
    if (!vc.first) { /* no live snapshot holds it (a deleted snapshot not purged yet) */
        json_decref(vc.snaps);
        return 0;
    }
    s->matched++;
    f = json_object();
    json_object_set_new(f, "name", json_string(h->name));
    json_object_set_new(f, "path", json_string(h->path));
    json_object_set_new(f, "type", json_string(type_name(h->type)));
    json_object_foreach(vc.first, k, v) json_object_set(f, k, v);
    json_decref(vc.first);
    json_object_set_new(f, "storageDomainId", json_integer(1));
    if ((o = object_of(s, h->object_id)) != NULL) {
        json_t *si = api_object_summary(o);
        json_object_set_new(si, "protectionType", json_string("kFile"));
        json_object_set_new(f, "sourceInfo", si);
    } else {
        json_object_set_new(f, "sourceInfo", json_pack("{s:I}", "id", (json_int_t)h->object_id));
    }
    json_object_set_new(f, "snapshots", vc.snaps);
    json_array_append_new(s->files, f);
    s->last_id = h->path_id;
    return 0;
}

static void search_indexed(struct api_req *req, struct api_resp *resp)
{
    static const char *const object_types[] = { "Emails", "Files", "CassandraObjects", "CouchbaseObjects",
                                                "HbaseObjects", "HiveObjects", "MongoObjects", "HDFSObjects",
                                                "ExchangeObjects", "PublicFolders", "SfdcRecords",
                                                "SharepointObjects", "OneDriveObjects", "UdaObjects",
                                                "GroupsObjects", "TeamsObjects", NULL };
    static const char *const file_types[] = { "File", "Directory", "Symlink", NULL };
    static const char *const source_envs[] = { "kAcropolis", "kAWS", "kAzure", "kElastifile", "kExchange",
                                               "kFlashBlade", "kGCP", "kGenericNas", "kGPFS", "kHyperFlex", "kHyperV",
                                               "kIbmFlashSystem", "kIsilon", "kKubernetes", "kKVM", "kNetapp", "kO365",
                                               "kOracle", "kPhysical", "kPhysicalFiles", "kPure", "kRemoteAdapter",
                                               "kSAPHANA", "kSfdc", "kSQL", "kUDA", "kView", "kVMware", NULL };
    static const char *const none_of_ours[] = { "tags", "snapshotTags", "mustHaveTagIds", "mightHaveTagIds",
                                                "mustHaveSnapshotTagIds", "mightHaveSnapshotTagIds", NULL };
    json_t *body = api_body_object(req, resp), *fp = NULL, *types = NULL, *envs = NULL, *sids = NULL, *oids = NULL;
    json_t *gids = NULL, *sdids = NULL, *v, *out;
    const char *otype = NULL, *search = NULL, *cookie = NULL;
    char like[SEARCH_MAX + 3];
    struct cat_fidx_query q = { 0 };
    struct matcher m = { .glob = 0 };
    struct search s = { .req = req, .m = &m };
    int64_t count = PAGE_DEFAULT;
    int has_count = 0, nothing = 0;
    size_t i;
    if (!body) return;
    if (!jv_enum(resp, body, NULL, "objectType", 1, object_types, &otype)) goto out;
    if (strcmp(otype, "Files") != 0) { /* a type Coffer does not protect: none exist here */
        api_json(resp, 200, json_pack("{s:s,s:i}", "objectType", otype, "count", 0));
        goto out;
    }
    if (!jv_obj(resp, body, NULL, "fileParams", 0, &fp) ||
        !jv_str(resp, fp, "fileParams", "searchString", 0, &search) ||
        !jv_str_list(resp, fp, "fileParams", "types", 0, file_types, &types) ||
        !jv_str_list(resp, fp, "fileParams", "sourceEnvironments", 0, source_envs, &envs) ||
        !jv_int_array(resp, fp, "fileParams", "sourceIds", 0, &sids) || !jv_int_array(resp, fp, "fileParams", "objectIds", 0, &oids) ||
        !jv_str_list(resp, body, NULL, "protectionGroupIds", 0, NULL, &gids) ||
        !jv_int_array(resp, body, NULL, "storageDomainIds", 0, &sdids) ||
        !jv_str(resp, body, NULL, "paginationCookie", 0, &cookie) ||
        !jv_int(resp, body, NULL, "count", 0, &count, &has_count) ||
        !jv_str(resp, body, NULL, "tenantId", 0, NULL) || !jv_bool(resp, body, NULL, "includeTenants", 0, NULL, NULL) ||
        !jv_bool(resp, body, NULL, "useCachedData", 0, NULL, NULL))
        goto out;
    if (count < 1 || count > PAGE_MAX) {
        api_error(resp, 400, "InvalidField", "field 'count' must be between 1 and %d, not %" PRId64, PAGE_MAX, count);
        goto out;
    }
    if (cookie) {
        char *end;
        long long c;
        errno = 0;
        c = strtoll(cookie, &end, 10);
        if (errno || end == cookie || *end || c < 0) {
            api_error(resp, 400, "InvalidField", "field 'paginationCookie' is not a cookie this server returned: "
                                                 "'%.64s'", cookie);
            goto out;
        }
        q.after_id = c;
    }
    if (search && strlen(search) > SEARCH_MAX) {
        api_error(resp, 400, "InvalidField", "field 'fileParams.searchString' is longer than %d bytes", SEARCH_MAX);
        goto out;
    }
    for (const char *const *p = none_of_ours; *p; p++) {
        json_t *a = json_object_get(body, *p);
        if (json_is_array(a) && json_array_size(a) > 0) nothing = 1;
    }
    if (json_array_size(envs) > 0 && !str_in(envs, "kPhysical") && !str_in(envs, "kPhysicalFiles")) nothing = 1;
    if (sdids && json_array_size(sdids) > 0) {
        int one = 0;
        json_array_foreach(sdids, i, v) one |= json_integer_value(v) == 1;
        if (!one) nothing = 1;
    }
    json_array_foreach(types, i, v) {
        const char *t = json_string_value(v);
        if (strcmp(t, "File") == 0) q.type_mask |= (1u << CAT_FIDX_FILE) | (1u << CAT_FIDX_OTHER);
        else if (strcmp(t, "Directory") == 0) q.type_mask |= 1u << CAT_FIDX_DIR;
        else q.type_mask |= 1u << CAT_FIDX_SYMLINK;
    }
    /* the pattern */
    if (search && *search && strcmp(search, "*") != 0) {
        size_t n = strlen(search), k = 0;
        m.on_path = strchr(search, '/') != NULL;
        m.glob = strchr(search, '*') != NULL;
        util_fold(search, m.pat, sizeof m.pat);
        /* The catalog's LIKE prefilter folds ASCII only: a character beyond ASCII becomes '_' (any one
         * character), so the prefilter finds a superset and the matcher decides. */
        if (!m.glob) like[k++] = '%';
        for (i = 0; i < n;) {
            size_t len = util_utf8_len(search + i);
            like[k++] = search[i] == '*' ? '%' : len > 1 ? '_' : search[i];
            i += len ? len : 1;
        }
        if (!m.glob) like[k++] = '%';
        like[k] = '\0';
        q.like = like;
        q.on_path = m.on_path;
    } else {
        m.glob = 1;
        snprintf(m.pat, sizeof m.pat, "*");
    }
    q.object_ids = json_array_size(oids) ? oids : NULL;
    q.source_ids = json_array_size(sids) ? sids : NULL;
    q.group_ids = json_array_size(gids) ? gids : NULL;
    s.cat = api_ctx(req)->cat;
    s.group_ids = q.group_ids;
    s.limit = count;
    s.files = json_array();
    if (!nothing && cat_fidx_search(s.cat, req->tenant, &q, on_hit, &s) < 0) {
        api_error(resp, 500, "InternalError", "catalog error while searching the file index");
        json_decref(s.files);
        goto out;
    }
    out = json_object();
    json_object_set_new(out, "objectType", json_string("Files"));
    json_object_set_new(out, "count", json_integer(s.matched));
    json_object_set_new(out, "files", s.files);
    if (s.more) {
        char c[32];
        snprintf(c, sizeof c, "%" PRId64, s.last_id);
        json_object_set_new(out, "paginationCookie", json_string(c));
    }
    api_json(resp, 200, out);
out:
    for (int k = 0; k < s.nobjs; k++) cat_object_release(&s.objs[k]);
    json_decref(body);
}

const struct api_route api_routes_search_indexed[] = {
    { "POST", "/v2/data-protect/search/indexed-objects", search_indexed, 0, API_ROLE_OPERATOR },
    { NULL, NULL, NULL, 0, 0 },
};
