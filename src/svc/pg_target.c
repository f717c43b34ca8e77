/* pg_target.c: a kSQL object to the PostgreSQL instance it lives on and a libpq connection string
 * for it (pg_target.h).
 *
 * The object is read from the catalog and its parents followed up to the kInstance (a table ->
 * its database -> the instance: at most two steps; the object model is cat_source.h's). Vanished
 * objects resolve too: a restore of a database that was dropped since still needs its instance.
 * The connection comes from the registration's typed PostgreSQL document (struct cat_pg_conn, never
 * the wire document): host = the socket directory, port, user, dbname = the maintenance database,
 * connect_timeout=10, and the password opened from its sealed text under the repository key
 * (repo_secret_open). Values are written keyword='value' with ' and \ escaped, as libpq reads them.
 * Strings holding the password are wiped (explicit_bzero) before they are freed. */
#include "svc/pg_target.h"
#include "catalog/cat_agent.h"
#include "catalog/cat_source.h"
#include "engine/pg.h"
#include "repo/repo.h"
#include "util/err.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* append_kv: " key='value'" onto *buf (of *len bytes used, *cap allocated), growing it; 0 or -ENOMEM.
 * The old buffer is wiped when it moves (it may hold the password). */
static int append_kv(char **buf, size_t *len, size_t *cap, const char *key, const char *val)
{
    size_t need = *len + strlen(key) + 2 * strlen(val) + 6;
    char *p;
    if (need > *cap) {
        size_t ncap = need * 2;
        char *nb = malloc(ncap);
        if (!nb) return -ENOMEM;
        if (*buf) {
            memcpy(nb, *buf, *len + 1);
            explicit_bzero(*buf, *cap);
            free(*buf);
        } else {
            nb[0] = '\0';
        }
        *buf = nb;
        *cap = ncap;
    }
    p = *buf + *len;
    p += sprintf(p, "%s%s='", *len ? " " : "", key);
    for (const char *v = val; *v; v++) {
        if (*v == '\'' || *v == '\\') *p++ = '\\';
        *p++ = *v;
    }
    *p++ = '\'';
    *p = '\0';
    *len = (size_t)(p - *buf);
    return 0;
}

void svc_pg_conninfo_free(char *conninfo)
{
    if (!conninfo) return;
    explicit_bzero(conninfo, strlen(conninfo));
    free(conninfo);
}

int svc_pg_source_conninfo(struct repo *repo, const struct cat_source *s, char **out, char *err, size_t errlen)
{
    char *buf = NULL, *pw = NULL, port[16];
    size_t len = 0, cap = 0;
    int rc;
    *out = NULL;
    if (!s->has_pg) {
        err_setf(err, errlen, "registration %lld has no PostgreSQL connection", (long long)s->id);
        return -ENOENT;
    }
    if (s->pg.password_sealed) {
        if (!repo) {
            err_setf(err, errlen, "registration %lld: its password is sealed under the repository key and no "
                   "repository is open", (long long)s->id);
            return -EAGAIN;
        }
        rc = repo_secret_open(repo, s->pg.password_sealed, &pw);
        if (rc != 0) {
            err_setf(err, errlen, "registration %lld: its sealed password does not open under this repository's key "
                   "(%s): register the password again", (long long)s->id, strerror(-rc));
            return rc == -ENOMEM ? rc : -EBADMSG;
        }
    }
    snprintf(port, sizeof port, "%d", s->pg.port);
    rc = append_kv(&buf, &len, &cap, "host", s->pg.socket_dir);
    if (rc == 0) rc = append_kv(&buf, &len, &cap, "port", port);
    if (rc == 0) rc = append_kv(&buf, &len, &cap, "user", s->pg.user);
    if (rc == 0) rc = append_kv(&buf, &len, &cap, "dbname", s->pg.database);
    if (rc == 0) rc = append_kv(&buf, &len, &cap, "connect_timeout", "10");
    if (rc == 0 && pw) rc = append_kv(&buf, &len, &cap, "password", pw);
    repo_secret_free(pw);
    if (rc != 0) {
        if (buf) explicit_bzero(buf, cap);
        free(buf);
        err_setf(err, errlen, "out of memory");
        return rc;
    }
    *out = buf;
    return 0;
}

static int is_type(const struct cat_object *o, const char *t)
{
    return o->object_type && strcmp(o->object_type, t) == 0;
}

void svc_pg_target_release(struct svc_pg_target *t)
{
    if (!t) return;
    free(t->instance_name);
    svc_pg_conninfo_free(t->conninfo);
    free(t->database);
    free(t->table);
    free(t->socket_dir);
    free(t->data_directory);
    free(t->connector);
    memset(t, 0, sizeof *t);
}

int svc_pg_target(struct cat *cat, struct repo *repo, const char *tenant, int64_t object_id,
                  struct svc_pg_target *out, char *err, size_t errlen)
{
    struct cat_object o;
    struct cat_source s;
    int rc;
    memset(out, 0, sizeof *out);
    rc = cat_object_get(cat, tenant, object_id, &o);
    if (rc != 0) {
        if (rc == CAT_NOT_FOUND) err_setf(err, errlen, "no object with id %lld", (long long)object_id);
        else err_setf(err, errlen, "catalog error reading object %lld", (long long)object_id);
        return rc == CAT_NOT_FOUND ? -ENOENT : rc;
    }
    if (!o.environment || strcmp(o.environment, "kSQL") != 0 ||
        !(is_type(&o, "kInstance") || is_type(&o, "kDatabase") || is_type(&o, "kTable"))) {
        err_setf(err, errlen, "object %lld is a %s %s, not a PostgreSQL instance, database or table",
               (long long)object_id, o.environment ? o.environment : "", o.object_type ? o.object_type : "");
        cat_object_release(&o);
        return -ENOENT;
    }
    out->object_id = object_id;
    out->source_id = o.source_id;
    /* up to the instance: a table's parent is its database, a database's the instance */
    for (int step = 0; step < 3 && !is_type(&o, "kInstance"); step++) {
        int64_t parent = o.parent_id;
        if (is_type(&o, "kTable") && !out->table) out->table = o.name ? strdup(o.name) : NULL;
        else if (is_type(&o, "kDatabase") && !out->database) out->database = o.name ? strdup(o.name) : NULL;
        else break;
        cat_object_release(&o);
        rc = cat_object_get(cat, tenant, parent, &o);
        if (rc != 0) {
            err_setf(err, errlen, "object %lld: its parent %lld is not in the catalog", (long long)object_id,
                   (long long)parent);
            svc_pg_target_release(out);
            return rc == CAT_NOT_FOUND ? -ENOENT : rc;
        }
    }
    if (!is_type(&o, "kInstance") || (out->table && !out->database)) {
        err_setf(err, errlen, "object %lld is not under a PostgreSQL instance", (long long)object_id);
        cat_object_release(&o);
        svc_pg_target_release(out);
        return -ENOENT;
    }
    out->instance_id = o.id;
    out->instance_name = o.name ? strdup(o.name) : NULL;
    out->data_directory = o.facts.data_directory ? strdup(o.facts.data_directory) : NULL;
    int remote = o.agent == CAT_AGENT_REMOTE;
    char *agent_sock = remote && o.facts.socket_dir ? strdup(o.facts.socket_dir) : NULL, *own_sock = NULL;
    cat_object_release(&o);
    rc = cat_source_get(cat, tenant, out->source_id, &s);
    if (rc != 0) {
        err_setf(err, errlen, "object %lld: its registration %lld is not in the catalog", (long long)object_id,
               (long long)out->source_id);
        free(agent_sock);
        svc_pg_target_release(out);
        return rc == CAT_NOT_FOUND ? -ENOENT : rc;
    }
    if (remote) { /* the agent serving the host, and the socket directory it found there */
        struct cat_agent a;
        rc = s.endpoint_key ? cat_agent_for_host(cat, tenant, s.endpoint_key, &a) : CAT_NOT_FOUND;
        if (rc == 0) {
            out->connector = strdup(a.connector_id);
            cat_agent_release(&a);
            if (agent_sock) { /* s's own string is put back before s is released */
                own_sock = s.pg.socket_dir;
                s.pg.socket_dir = agent_sock;
            }
        } else {
            err_setf(err, errlen, "object %lld: no registered coffer-agent serves its host any more", (long long)object_id);
            free(agent_sock);
            cat_source_release(&s);
            svc_pg_target_release(out);
            return rc == CAT_NOT_FOUND ? -ENOENT : rc;
        }
    }
    rc = svc_pg_source_conninfo(repo, &s, &out->conninfo, err, errlen);
    if (rc == 0) {
        out->port = s.pg.port;
        out->socket_dir = strdup(s.pg.socket_dir);
        if (!out->socket_dir || (!out->instance_name && !(out->instance_name = strdup("")))) rc = -ENOMEM;
        if (remote && !out->connector) rc = -ENOMEM;
    }
    if (own_sock) s.pg.socket_dir = own_sock;
    free(agent_sock);
    cat_source_release(&s);
    if (rc != 0) svc_pg_target_release(out);
    return rc;
}

int svc_pg_conninfo_db(const struct svc_pg_target *t, const char *dbname, char **out)
{
    *out = NULL;
    if (!t || !t->conninfo) return -EINVAL;
    return eng_pg_conninfo_db(t->conninfo, dbname, out);
}

int svc_pg_agent_of(struct cat *cat, const char *tenant, int64_t object_id, char **connector, char *err, size_t errlen)
{
    struct cat_object o;
    struct cat_source s;
    struct cat_agent a;
    int rc;
    *connector = NULL;
    if ((rc = cat_object_get(cat, tenant, object_id, &o)) != 0) {
        err_setf(err, errlen, "no object with id %lld", (long long)object_id);
        return rc == CAT_NOT_FOUND ? -ENOENT : rc;
    }
    int remote = o.agent == CAT_AGENT_REMOTE;
    int64_t sid = o.source_id;
    cat_object_release(&o);
    if (!remote) return 0;
    if ((rc = cat_source_get(cat, tenant, sid, &s)) != 0) {
        err_setf(err, errlen, "object %lld: its registration %lld is not in the catalog", (long long)object_id,
                 (long long)sid);
        return rc == CAT_NOT_FOUND ? -ENOENT : rc;
    }
    rc = s.endpoint_key ? cat_agent_for_host(cat, tenant, s.endpoint_key, &a) : CAT_NOT_FOUND;
    cat_source_release(&s);
    if (rc != 0) {
        err_setf(err, errlen, "object %lld: no registered coffer-agent serves its host any more", (long long)object_id);
        return rc == CAT_NOT_FOUND ? -ENOENT : rc;
    }
    *connector = strdup(a.connector_id);
    cat_agent_release(&a);
    return *connector ? 0 : -ENOMEM;
}
