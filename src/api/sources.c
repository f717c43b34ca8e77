/* sources.c: /v2/data-protect/sources: register, list, get, update (PUT), patch and delete source
 * registrations, and refresh a source.
 *
 * A body is validated whole before anything is written (every 400 names the field). The stored doc
 * is the registration as sent, minus the fields the server owns; the response adds id, sourceId and
 * sourceInfo (the discovered host with its volumes as childObjects), authenticationStatus,
 * registrationTimeMsecs, lastRefreshedTimeMsecs and lastModifiedTimestampUsecs (the value a PUT must
 * send back: an older one is 412).
 *
 * Who serves a host is decided by its endpoint (agent.h): this machine is served by the local agent,
 * which discovers the host and its volumes right away (registration, PUT and refresh); any other
 * host is accepted but no agent reaches it: it stays Pending with authenticationErrorMessage and
 * refreshErrorMessage saying so (fields of the v1 registration info, the closest the API has), and it
 * has no objects. A host is registered once per tenant and environment (409 otherwise; the local
 * machine counts once whatever name it is given). Deleting a registration whose objects a live
 * protection group lists is 409.
 *
 * PostgreSQL (environment kSQL, or kPhysical with "kSQL" in physicalParams.applications): the
 * connection is given as advancedConfigs pairs, checked strictly (a key starting with "pg" that is
 * not one of these is 400, and so is one of them on a registration without PostgreSQL): pgPort
 * (1..65535, default 5432), pgSocketDir (an absolute path, default /var/run/postgresql), pgUser
 * (default postgres), pgDatabase (the maintenance database, default postgres), pgPassword (optional).
 * They become the registration's typed connection (cat_pg_conn, stored beside the wire document);
 * the password is sealed under the repository key (repo_secret_seal) and its pair is dropped from
 * the stored document, so no response ever carries it (the pair is omitted). A PUT without pgPassword
 * keeps the stored password; pgPassword "" removes it. After the agent discovered the host,
 * svc_pg_refresh discovers the instance, its databases and tables (registration, PUT and refresh);
 * a server that cannot be reached leaves the registration Pending with the server's message. */
#include "agent/agent.h"
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "api/objects.h"
#include "api/resid.h"
#include "catalog/cat_connection.h"
#include "catalog/cat_source.h"
#include "repo/repo.h"
#include "svc/pg_discover.h"
#include "util/log.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const environments[] = { "kPhysical", "kSQL", NULL };
static const char *const host_types[] = { "kLinux", "kWindows", NULL };
static const char *const physical_types[] = { "kGroup", "kHost", "kOracleAPCluster", "kOracleRACCluster",
                                              "kUnixCluster", "kWindowsCluster", NULL };
static const char *const applications[] = { "kOracle", "kSQL", NULL };

/* Fields of the response the server owns: dropped from a body. */
static const char *const server_fields[] = { "id", "sourceId", "sourceInfo", "authenticationStatus",
                                             "registrationTimeMsecs", "lastRefreshedTimeMsecs",
                                             "lastModifiedTimestampUsecs", "externalMetadata",
                                             "authenticationErrorMessage", "refreshErrorMessage", NULL };

static void internal(struct api_resp *resp, const char *what)
{
    api_catalog_error(resp, 0, what);
}

static void not_found(struct api_resp *resp, int64_t id)
{
    api_error(resp, 404, "NotFound", "no source registration with id %lld", (long long)id);
}

/* path_id: the {id} path parameter as a positive int64; 0 after a 400. */
static int64_t path_id(struct api_req *req, struct api_resp *resp)
{
    const char *s = req->params[0];
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || !isdigit((unsigned char)s[0])) {
        api_error(resp, 400, "InvalidId", "path parameter 'id' must be a positive integer, not '%.64s'", s);
        return 0;
    }
    return v;
}

/* ---- validation ---- */

struct reg {
    const char *environment;
    const char *name;
    const char *endpoint;
    char endpoint_key[256];
    int local;
    char connection_id[32];     /* "" = none */
    int64_t last_modified;      /* PUT: lastModifiedTimestampUsecs, or -1 */
    int wants_pg;               /* kSQL, or kPhysical with the kSQL application */
    int pg_port;
    const char *pg_socket_dir, *pg_user, *pg_database;  /* borrowed from the body (or defaults) */
    char *pg_password;          /* malloc'd copy (the pair leaves the body); NULL: not given */
};

static void reg_release(struct reg *r)
{
    if (r->pg_password) {
        explicit_bzero(r->pg_password, strlen(r->pg_password));
        free(r->pg_password);
    }
    r->pg_password = NULL;
}

/* positive / check_connections / check_advanced / check_physical: 0, or -1 after a 400. */
static int positive(struct api_resp *resp, const char *prefix, const char *field, int64_t v)
{
    char p[256];
    if (v > 0) return 0;
    api_error(resp, 400, "InvalidField", "field '%s' must be a positive integer", jv_path(p, sizeof p, prefix, field));
    return -1;
}

static int check_connections(struct api_resp *resp, json_t *arr)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        char p[64];
        int64_t v;
        int has;
        snprintf(p, sizeof p, "connections[%zu]", i);
        if (!json_is_object(e)) {
            api_error(resp, 400, "InvalidField", "field '%s' must be an object", p);
            return -1;
        }
        if (!jv_int(resp, e, p, "connectionId", 0, &v, &has) || (has && positive(resp, p, "connectionId", v) != 0) ||
            !jv_int(resp, e, p, "entityId", 0, NULL, NULL) || !jv_int(resp, e, p, "connectorGroupId", 0, NULL, NULL) ||
            !jv_str(resp, e, p, "dataSourceConnectionId", 0, NULL))
            return -1;
    }
    return 0;
}

static int check_advanced(struct api_resp *resp, json_t *arr)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        char p[64];
        snprintf(p, sizeof p, "advancedConfigs[%zu]", i);
        if (!json_is_object(e)) {
            api_error(resp, 400, "InvalidField", "field '%s' must be an object", p);
            return -1;
        }
        if (!jv_str_nonempty(resp, e, p, "key", 1, NULL) || !jv_str(resp, e, p, "value", 1, NULL)) return -1;
    }
    return 0;
}

static int check_physical(struct api_resp *resp, json_t *pp, struct reg *r)
{
    json_t *apps;
    const char *host_type = NULL, *physical_type = NULL;
    size_t i;
    json_t *e;
    if (!jv_str_nonempty(resp, pp, "physicalParams", "endpoint", 1, &r->endpoint) ||
        !jv_bool(resp, pp, "physicalParams", "forceRegister", 0, NULL, NULL) ||
        !jv_enum(resp, pp, "physicalParams", "hostType", 0, host_types, &host_type) ||
        !jv_enum(resp, pp, "physicalParams", "physicalType", 0, physical_types, &physical_type) ||
        !jv_arr(resp, pp, "physicalParams", "applications", 0, &apps))
        return -1;
    json_array_foreach(apps, i, e) {
        if (!json_is_string(e) || !jv_enum_ok(json_string_value(e), applications)) {
            api_error(resp, 400, "InvalidField",
                      "field 'physicalParams.applications[%zu]' must be one of kOracle, kSQL", i);
            return -1;
        }
    }
    if (!agent_endpoint_valid(r->endpoint)) {
        api_error(resp, 400, "InvalidField",
                  "field 'physicalParams.endpoint' must be a host name or an IP address, not '%.64s'", r->endpoint);
        return -1;
    }
    r->local = agent_endpoint_is_local(r->endpoint);
    if (r->local) {
        if (host_type && strcmp(host_type, "kLinux") != 0) {
            api_error(resp, 400, "InvalidField",
                      "field 'physicalParams.hostType' is %s but %s is this machine, a Linux host", host_type,
                      r->endpoint);
            return -1;
        }
        if (physical_type && strcmp(physical_type, "kHost") != 0) {
            api_error(resp, 400, "InvalidField",
                      "field 'physicalParams.physicalType' is %s but %s is a single host (kHost)", physical_type,
                      r->endpoint);
            return -1;
        }
        snprintf(r->endpoint_key, sizeof r->endpoint_key, "local");
    } else {
        size_t n = 0;
        const char *e0 = r->endpoint;
        size_t len = strlen(e0);
        if (len >= 2 && e0[0] == '[' && e0[len - 1] == ']') {
            e0++;
            len -= 2;
        }
        if (len > 1 && e0[len - 1] == '.') len--;
        for (; n < len && n + 1 < sizeof r->endpoint_key; n++) r->endpoint_key[n] = (char)tolower((unsigned char)e0[n]);
        r->endpoint_key[n] = '\0';
    }
    return 0;
}

/* PostgreSQL connection keys of advancedConfigs. */
static const char *const pg_keys[] = { "pgPort", "pgSocketDir", "pgUser", "pgPassword", "pgDatabase", NULL };

/* pg_name_ok: a role or database name as given: 1..63 bytes (NAMEDATALEN - 1), no control characters. */
static int pg_name_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 63) return 0;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

/* check_pg: the PostgreSQL pairs of advancedConfigs (already checked for shape); fills r and takes
 * pgPassword's pair out of the array. 0, or -1 after a 400. */
static int check_pg(struct api_resp *resp, json_t *body, json_t *adv, struct reg *r)
{
    json_t *pp = json_object_get(body, "physicalParams"), *apps = json_object_get(pp, "applications"), *e;
    int seen[5] = { 0 };
    size_t i, pw_index = (size_t)-1;
    r->wants_pg = strcmp(r->environment, "kSQL") == 0;
    json_array_foreach(apps, i, e) {
        if (strcmp(json_string_value(e), "kSQL") == 0) r->wants_pg = 1;
    }
    r->pg_port = 5432;
    r->pg_socket_dir = "/var/run/postgresql";
    r->pg_user = "postgres";
    r->pg_database = "postgres";
    json_array_foreach(adv, i, e) {
        json_t *jv = json_object_get(e, "value");
        const char *k = json_string_value(json_object_get(e, "key")), *v = json_string_value(jv);
        size_t which;
        char f[64];
        if (strncasecmp(k, "pg", 2) != 0) continue;
        for (which = 0; pg_keys[which] && strcmp(pg_keys[which], k) != 0; which++) {}
        snprintf(f, sizeof f, "advancedConfigs[%zu]", i);
        if (!pg_keys[which]) {
            api_error(resp, 400, "InvalidField", "field '%s.key' is '%.64s', which is no PostgreSQL setting: the "
                      "keys are pgPort, pgSocketDir, pgUser, pgPassword, pgDatabase", f, k);
            return -1;
        }
        if (!r->wants_pg) {
            api_error(resp, 400, "InvalidField", "field '%s.key' is %s, a PostgreSQL setting, but this registration "
                      "has no PostgreSQL (environment kSQL, or kSQL in physicalParams.applications)", f, k);
            return -1;
        }
        if (seen[which]++) {
            api_error(resp, 400, "InvalidField", "field '%s.key': %s is given twice", f, k);
            return -1;
        }
        if (json_string_length(jv) != strlen(v)) {
            api_error(resp, 400, "InvalidField", "field '%s.value' (%s) must not contain NUL characters", f, k);
            return -1;
        }
        if (which == 0) {
            char *end;
            long port;
            errno = 0;
            port = strtol(v, &end, 10);
            if (errno || end == v || *end || !isdigit((unsigned char)v[0]) || port < 1 || port > 65535) {
                api_error(resp, 400, "InvalidField", "field '%s.value' (pgPort) must be a port number between 1 and "
                          "65535, not '%.32s'", f, v);
                return -1;
            }
            r->pg_port = (int)port;
        } else if (which == 1) {
            /* the socket file is <dir>/.s.PGSQL.<port>, and sun_path holds 107 bytes */
            if (v[0] != '/' || strlen(v) > 80 || strstr(v, "/../") || strstr(v, "'")) {
                api_error(resp, 400, "InvalidField", "field '%s.value' (pgSocketDir) must be an absolute directory "
                          "path of at most 80 bytes (the server's unix-socket directory), not '%.64s'", f, v);
                return -1;
            }
            r->pg_socket_dir = v;
        } else if (which == 2 || which == 4) {
            if (!pg_name_ok(v)) {
                api_error(resp, 400, "InvalidField", "field '%s.value' (%s) must be a PostgreSQL %s name of 1 to 63 "
                          "bytes without control characters", f, k, which == 2 ? "role" : "database");
                return -1;
            }
            if (which == 2) r->pg_user = v;
            else r->pg_database = v;
        } else {
            if (strlen(v) > 1024) {
                api_error(resp, 400, "InvalidField", "field '%s.value' (pgPassword) is longer than 1024 bytes", f);
                return -1;
            }
            pw_index = i;
        }
    }
    if (pw_index != (size_t)-1) {
        const char *v = json_string_value(json_object_get(json_array_get(adv, pw_index), "value"));
        if (!(r->pg_password = strdup(v))) {
            api_error(resp, 500, "InternalError", "out of memory");
            return -1;
        }
        json_array_remove(adv, pw_index);   /* never stored in the wire document */
    }
    return 0;
}

/* decimal: whether s is a positive decimal integer without sign or leading zero. */
static int decimal(const char *s)
{
    if (!s || !*s || *s == '0' || strlen(s) > 19) return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return 1;
}

/* validate: checks a register (put = 0) or update (put = 1) body and fills r; on success (0) the body
 * has lost the server's fields and gained the default name and both forms of the connection id; -1
 * after a 4xx/5xx. */
static int validate(struct api_req *req, struct api_resp *resp, json_t *body, int put, struct reg *r)
{
    struct cat *cat = api_ctx(req)->cat;
    json_t *pp, *conns, *adv, *k8s;
    int64_t conn = 0;
    int has_conn = 0, has_lm = 0;
    const char *dsc = NULL;
    memset(r, 0, sizeof *r);
    r->last_modified = -1;
    if (!jv_enum(resp, body, "", "environment", 1, environments, &r->environment) ||
        !jv_str_nonempty(resp, body, "", "name", 0, &r->name) ||
        !jv_bool(resp, body, "", "isInternalEncrypted", 0, NULL, NULL) ||
        !jv_str(resp, body, "", "encryptionKey", 0, NULL) ||
        !jv_int(resp, body, "", "connectionId", 0, &conn, &has_conn) ||
        (has_conn && positive(resp, "", "connectionId", conn) != 0) ||
        !jv_arr(resp, body, "", "connections", 0, &conns) || check_connections(resp, conns) != 0 ||
        !jv_int(resp, body, "", "connectorGroupId", 0, NULL, NULL) ||
        !jv_arr(resp, body, "", "advancedConfigs", 0, &adv) || check_advanced(resp, adv) != 0 ||
        !jv_str(resp, body, "", "dataSourceConnectionId", 0, &dsc) ||
        !jv_obj(resp, body, "", "kubernetesParams", 0, &k8s) ||
        !jv_obj(resp, body, "", "physicalParams", 1, &pp))
        return -1;
    if (put && !jv_int(resp, body, "", "lastModifiedTimestampUsecs", 0, &r->last_modified, &has_lm)) return -1;
    if (r->name && strlen(r->name) > 255) {
        api_error(resp, 400, "InvalidField", "field 'name' is longer than 255 bytes");
        return -1;
    }
    if (k8s) {
        api_error(resp, 400, "InvalidField",
                  "field 'kubernetesParams' is not supported: environment %s registers a host through physicalParams",
                  r->environment);
        return -1;
    }
    if (dsc && !decimal(dsc)) {
        api_error(resp, 400, "InvalidField", "field 'dataSourceConnectionId' must be a connection id (a positive "
                  "decimal number), not '%.64s'", dsc);
        return -1;
    }
    if (has_conn) snprintf(r->connection_id, sizeof r->connection_id, "%lld", (long long)conn);
    if (dsc) {
        if (has_conn && strcmp(dsc, r->connection_id) != 0) {
            api_error(resp, 400, "InvalidField", "fields 'connectionId' (%s) and 'dataSourceConnectionId' (%s) name "
                      "different connections", r->connection_id, dsc);
            return -1;
        }
        snprintf(r->connection_id, sizeof r->connection_id, "%s", dsc);
    }
    if (check_physical(resp, pp, r) != 0 || check_pg(resp, body, adv, r) != 0) return -1;
    if (r->connection_id[0]) {
        struct cat_connection c;
        int rc = cat_connection_get(cat, req->tenant, r->connection_id, &c);
        if (rc == CAT_NOT_FOUND) {
            api_error(resp, 400, "InvalidField", "field '%s' names no data-source connection of this tenant: '%s'",
                      dsc ? "dataSourceConnectionId" : "connectionId", r->connection_id);
            return -1;
        }
        if (rc != 0) {
            internal(resp, "reading the data-source connection");
            return -1;
        }
        cat_connection_release(&c);
        json_object_set_new(body, "connectionId", json_integer(strtoll(r->connection_id, NULL, 10)));
        json_object_set_new(body, "dataSourceConnectionId", json_string(r->connection_id));
    }
    for (const char *const *f = server_fields; *f; f++) json_object_del(body, *f);
    if (!r->name) {
        json_object_set_new(body, "name", json_string(r->endpoint));
        r->name = json_string_value(json_object_get(body, "name"));
    }
    return 0;
}

/* ---- responses ---- */

/* registration_json: the SourceRegistrationResponseParams of s; NULL on a catalog error. */
static json_t *registration_json(struct cat *cat, const char *tenant, const struct cat_source *s)
{
    json_t *j = json_object();
    struct cat_object root;
    int rc;
    json_object_set_new(j, "id", json_integer(s->id));
    json_object_update(j, s->doc);
    rc = cat_object_get(cat, tenant, s->id, &root);
    if (rc == 0) {
        json_t *info = api_object_json(cat, tenant, &root);
        cat_object_release(&root);
        if (!info) {
            json_decref(j);
            return NULL;
        }
        json_object_set_new(j, "sourceId", json_integer(s->id));
        json_object_set_new(j, "sourceInfo", info);
    } else if (rc != CAT_NOT_FOUND) {
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "environment", json_string(s->environment));
    json_object_set_new(j, "name", json_string(s->name));
    json_object_set_new(j, "authenticationStatus", json_string(s->auth_status ? s->auth_status : "Pending"));
    json_object_set_new(j, "registrationTimeMsecs", json_integer(s->registered_ms));
    if (s->refreshed_ms > 0) json_object_set_new(j, "lastRefreshedTimeMsecs", json_integer(s->refreshed_ms));
    json_object_set_new(j, "lastModifiedTimestampUsecs", json_integer(s->modified_usecs));
    if (s->error) {
        json_object_set_new(j, "authenticationErrorMessage", json_string(s->error));
        json_object_set_new(j, "refreshErrorMessage", json_string(s->error));
    }
    return j;
}

static void respond_registration(struct api_req *req, struct api_resp *resp, int status, int64_t id)
{
    struct cat *cat = api_ctx(req)->cat;
    struct cat_source s;
    json_t *j;
    int rc = cat_source_get(cat, req->tenant, id, &s);
    if (rc == CAT_NOT_FOUND) {
        not_found(resp, id);
        return;
    }
    if (rc != 0) {
        internal(resp, "reading the source registration");
        return;
    }
    j = registration_json(cat, req->tenant, &s);
    cat_source_release(&s);
    if (!j) {
        internal(resp, "reading the source's objects");
        return;
    }
    api_json(resp, status, j);
}

static void conflict_endpoint(struct api_resp *resp, const struct reg *r)
{
    api_error(resp, 409, "Conflict",
              "field 'physicalParams.endpoint': %s%s is already registered for environment %s in this tenant",
              r->endpoint, r->local ? " (this machine)" : "", r->environment);
}

/* pg_conn: the typed connection of r into *c (strings borrowed from r, except the sealed password:
 * malloc'd); keep_sealed is the stored sealed password a PUT without pgPassword keeps. 0, or -1
 * after a 4xx/5xx. */
static int pg_conn(struct api_req *req, struct api_resp *resp, const struct reg *r, const char *keep_sealed,
                   struct cat_pg_conn *c)
{
    memset(c, 0, sizeof *c);
    c->port = r->pg_port;
    c->socket_dir = (char *)r->pg_socket_dir;
    c->user = (char *)r->pg_user;
    c->database = (char *)r->pg_database;
    if (r->pg_password && r->pg_password[0]) {
        struct repo *repo = api_ctx(req)->repo;
        int rc;
        if (!repo) {
            api_error(resp, 503, "Unavailable", "field 'advancedConfigs' (pgPassword): no repository is open to "
                      "seal the password under its key; try again when the daemon has started");
            return -1;
        }
        rc = repo_secret_seal(repo, r->pg_password, &c->password_sealed);
        if (rc != 0) {
            api_error(resp, 500, "InternalError", "cannot seal the password: %s", err_text(rc));
            return -1;
        }
    } else if (!r->pg_password && keep_sealed && !(c->password_sealed = strdup(keep_sealed))) {
        api_error(resp, 500, "InternalError", "out of memory");
        return -1;
    }
    return 0;
}

/* refresh_all: the agent's discovery of the host (agent_refresh_source), then the PostgreSQL
 * instance's (svc_pg_refresh); failures are logged (the state tells the client). */
static int refresh_all(struct api_req *req, int64_t id, const char *endpoint)
{
    struct cat *cat = api_ctx(req)->cat;
    int rc = agent_refresh_source(cat, req->tenant, id, endpoint);
    if (rc == 0) rc = svc_pg_refresh(cat, api_ctx(req)->repo, req->tenant, id);
    if (rc != 0 && rc != CAT_NOT_FOUND) /* not found: deleted meanwhile, nothing to discover */
        log_warn("source %lld: discovery failed: %s", (long long)id, err_text(rc));
    return rc;
}

/* ---- handlers ---- */

static void source_register(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    json_t *body = api_body_object(req, resp);
    struct cat_source s;
    struct reg r;
    int64_t id;
    int rc;
    memset(&s, 0, sizeof s);
    memset(&r, 0, sizeof r);
    if (!body) return;
    if (validate(req, resp, body, 0, &r) != 0) goto out;
    if (r.wants_pg) {
        if (pg_conn(req, resp, &r, NULL, &s.pg) != 0) goto out;
        s.has_pg = 1;
    }
    if (cat_begin(cat) != 0) {
        internal(resp, "starting a transaction");
        goto out;
    }
    if (cat_next_seq(cat, "object", &id) != 0) {
        cat_rollback(cat);
        internal(resp, "allocating an id");
        goto out;
    }
    s.id = id;
    s.environment = (char *)r.environment;
    s.name = (char *)r.name;
    s.endpoint_key = r.endpoint_key;
    s.connection_id = r.connection_id[0] ? r.connection_id : NULL;
    s.agent = r.local ? CAT_AGENT_LOCAL : CAT_AGENT_NONE;
    s.doc = body;
    s.modified_usecs = api_now_usecs();
    s.registered_ms = s.modified_usecs / 1000;
    s.auth_status = (char *)(r.local ? "Scheduled" : "Pending");
    rc = cat_source_insert(cat, req->tenant, &s);
    if (rc == 0) rc = cat_commit(cat) == 0 ? 0 : -1;
    else cat_rollback(cat);
    if (rc == CAT_CONFLICT) {
        conflict_endpoint(resp, &r);
        goto out;
    }
    if (rc != 0) {
        internal(resp, "storing the registration");
        goto out;
    }
    /* The registration stands whatever discovery finds; its state tells. */
    refresh_all(req, id, r.endpoint);
    respond_registration(req, resp, 201, id);
out:
    free(s.pg.password_sealed);
    reg_release(&r);
    json_decref(body);
}

struct list_ctx {
    struct cat *cat;
    const char *tenant;
    json_t *arr;
};

static int list_one(void *ud, const struct cat_source *s)
{
    struct list_ctx *lc = ud;
    json_t *j = registration_json(lc->cat, lc->tenant, s);
    if (!j) return -1;
    json_array_append_new(lc->arr, j);
    return 0;
}

static void source_list(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    static const char *const bools[] = { "includeSourceCredentials", "useCachedData", "includeExternalMetadata",
                                         "ignoreTenantMigrationInProgressCheck", NULL };
    json_t *raw = api_query_list(req, "ids"), *ids = json_array(), *v;
    struct list_ctx lc = { cat, req->tenant, NULL };
    int creds = 0, dummy;
    size_t i;
    json_array_foreach(raw, i, v) {
        const char *s = json_string_value(v);
        char *end;
        long long n;
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno || end == s || *end) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'ids' must be a list of integers, not '%.64s'",
                      s);
            goto out;
        }
        json_array_append_new(ids, json_integer(n));
    }
    for (const char *const *b = bools; *b; b++)
        if (api_query_bool(req, resp, *b, strcmp(*b, "includeSourceCredentials") == 0 ? &creds : &dummy) < 0) goto out;
    /* The only credential kept, a PostgreSQL password, is kept sealed and never answered (not even
     * encrypted under the client's key), so there is nothing to include; the key is still required
     * when asked for, as the API says. */
    if (creds && !api_query(req, "encryptionKey")) {
        api_error(resp, 400, "InvalidParameter",
                  "query parameter 'encryptionKey' is required when includeSourceCredentials is true");
        goto out;
    }
    lc.arr = json_array();
    if (cat_source_list(cat, req->tenant, json_array_size(ids) ? ids : NULL, list_one, &lc) != 0) {
        json_decref(lc.arr);
        internal(resp, "listing source registrations");
        goto out;
    }
    api_json(resp, 200, json_pack("{s:o}", "registrations", lc.arr));
out:
    json_decref(raw);
    json_decref(ids);
}

static void source_get(struct api_req *req, struct api_resp *resp)
{
    int64_t id = path_id(req, resp);
    if (id) respond_registration(req, resp, 200, id);
}

static void source_update(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    int64_t id = path_id(req, resp);
    json_t *body;
    struct cat_source old, s;
    struct reg r;
    int rc;
    memset(&s, 0, sizeof s);
    memset(&r, 0, sizeof r);
    if (!id || !(body = api_body_object(req, resp))) return;
    if (validate(req, resp, body, 1, &r) != 0) goto out;
    if (cat_begin(cat) != 0) {
        internal(resp, "starting a transaction");
        goto out;
    }
    rc = cat_source_get(cat, req->tenant, id, &old);
    if (rc != 0) {
        cat_rollback(cat);
        if (rc == CAT_NOT_FOUND) not_found(resp, id);
        else internal(resp, "reading the source registration");
        goto out;
    }
    if (strcmp(old.environment, r.environment) != 0) {
        api_error(resp, 400, "InvalidField", "field 'environment' cannot change from %s to %s", old.environment,
                  r.environment);
        rc = -1;
    } else if (strcmp(old.endpoint_key, r.endpoint_key) != 0) {
        api_error(resp, 400, "InvalidField", "field 'physicalParams.endpoint' cannot change to another host (%s); "
                  "register that host as a new source", r.endpoint);
        rc = -1;
    } else if (r.last_modified >= 0 && r.last_modified != old.modified_usecs) {
        api_error(resp, 412, "PreconditionFailed", "field 'lastModifiedTimestampUsecs' is %lld but the registration "
                  "was last modified at %lld: read it again", (long long)r.last_modified,
                  (long long)old.modified_usecs);
        rc = -1;
    } else if (r.wants_pg && pg_conn(req, resp, &r, old.has_pg ? old.pg.password_sealed : NULL, &s.pg) != 0) {
        rc = -1;
    } else {
        s.id = id;
        s.name = (char *)r.name;
        s.doc = body;
        s.connection_id = r.connection_id[0] ? r.connection_id : NULL;
        s.modified_usecs = api_next_mtime(old.modified_usecs);
        s.has_pg = r.wants_pg;
        rc = cat_source_update(cat, req->tenant, &s);
        if (rc != 0) internal(resp, "updating the registration");
    }
    cat_source_release(&old);
    if (rc != 0 || cat_commit(cat) != 0) {
        cat_rollback(cat);
        if (rc == 0) internal(resp, "committing");
        goto out;
    }
    refresh_all(req, id, r.endpoint);
    respond_registration(req, resp, 200, id);
out:
    free(s.pg.password_sealed);
    reg_release(&r);
    json_decref(body);
}

static void source_patch(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    int64_t id = path_id(req, resp);
    json_t *body;
    const char *env = NULL;
    struct cat_source s;
    int rc;
    if (!id || !(body = api_body_object(req, resp))) return;
    if (!jv_enum(resp, body, "", "environment", 1, environments, &env)) goto out;
    rc = cat_source_get(cat, req->tenant, id, &s);
    if (rc != 0) {
        if (rc == CAT_NOT_FOUND) not_found(resp, id);
        else internal(resp, "reading the source registration");
        goto out;
    }
    /* Nothing of a kPhysical or kSQL registration is patchable beyond its environment, which must be
     * the one it has. */
    if (strcmp(s.environment, env) != 0)
        api_error(resp, 400, "InvalidField", "field 'environment' is %s but registration %lld is %s", env,
                  (long long)id, s.environment);
    else
        respond_registration(req, resp, 200, id);
    cat_source_release(&s);
out:
    json_decref(body);
}

static void source_delete(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    int64_t id = path_id(req, resp);
    int rc;
    if (!id) return;
    if (cat_begin(cat) != 0) {
        internal(resp, "starting a transaction");
        return;
    }
    rc = cat_source_protected(cat, req->tenant, id);
    if (rc == 1) {
        cat_rollback(cat);
        api_error(resp, 409, "Conflict", "source registration %lld cannot be deleted: a protection group protects "
                  "its objects (remove them from the group or delete the group first)", (long long)id);
        return;
    }
    if (rc == 0) rc = cat_source_delete(cat, req->tenant, id);
    if (rc == 0 && cat_commit(cat) == 0) {
        api_empty(resp, 204);
        return;
    }
    cat_rollback(cat);
    if (rc == CAT_NOT_FOUND) not_found(resp, id);
    else internal(resp, "deleting the registration");
}

/* discover: refresh_all for registration id, at the endpoint its request document names. */
static int discover(struct api_req *req, int64_t id)
{
    struct cat_source s;
    int rc = cat_source_get(api_ctx(req)->cat, req->tenant, id, &s);
    if (rc != 0) return rc;
    rc = refresh_all(req, id, json_string_value(json_object_get(json_object_get(s.doc, "physicalParams"), "endpoint")));
    cat_source_release(&s);
    return rc;
}

static void source_refresh(struct api_req *req, struct api_resp *resp)
{
    int64_t id = path_id(req, resp);
    int rc;
    if (!id) return;
    rc = discover(req, id);
    if (rc == 0) api_empty(resp, 204);
    else if (rc == CAT_NOT_FOUND) api_error(resp, 404, "NotFound", "no protection source with id %lld", (long long)id);
    else internal(resp, "refreshing the source");
}

const struct api_route api_routes_sources[] = {
    { "POST", "/v2/data-protect/sources/registrations", source_register, 0, API_ROLE_ADMIN },
    { "GET", "/v2/data-protect/sources/registrations", source_list, 0, API_ROLE_VIEWER },
    { "GET", "/v2/data-protect/sources/registrations/{id}", source_get, 0, API_ROLE_VIEWER },
    { "PUT", "/v2/data-protect/sources/registrations/{id}", source_update, 0, API_ROLE_ADMIN },
    { "PATCH", "/v2/data-protect/sources/registrations/{id}", source_patch, 0, API_ROLE_ADMIN },
    { "DELETE", "/v2/data-protect/sources/registrations/{id}", source_delete, 0, API_ROLE_ADMIN },
    { "POST", "/v2/data-protect/sources/{id}/refresh", source_refresh, 0, API_ROLE_OPERATOR },
    { NULL, NULL, NULL, 0, 0 },
};
