/* pg.c: the PostgreSQL instances of the agent's host, for its heartbeat (docs/agent-protocol.md,
 * "PostgreSQL through the agent").
 *
 * Where instances are looked for: the data directories given with `coffer-agent run --pg DIR`
 * (repeatable), then the usual places of Debian (/var/lib/postgresql/<version>/<cluster>) and of the
 * PGDG/RHEL packages (/var/lib/pgsql/data, /var/lib/pgsql/<version>/data). A data directory counts
 * when its postmaster.pid names a live process (kill(pid, 0)); that file gives the data directory,
 * the port and the first unix-socket directory (lines 2, 4 and 5, as PostgreSQL writes them). At most
 * AGENTD_PG_MAX instances, one per port.
 *
 * What each holds is asked with the discovery cofferd uses for a local instance (eng_pg_discover,
 * src/engine/pg_info.c): version, data directory, databases with owner and size, each database's
 * tables with their size, every bound kept (sessions, counts, time). It connects through the unix
 * socket as the role given with --pg-user (default postgres; a password comes from libpq's own
 * PGPASSFILE on the host, never from the command line). An instance that refuses is reported with
 * its error, so cofferd can say why a registration stays Pending. */
#include "agentd/core.h"
#include "engine/pg.h"
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENTD_PG_MAX 16
#define AGENTD_PG_DIRS 32

static const char *g_dirs[AGENTD_PG_DIRS];
static size_t g_ndirs;
static const char *g_user = "postgres";

int agentd_pg_configure(const char *data_dir, const char *user)
{
    if (user) g_user = user;
    if (!data_dir) return 0;
    if (g_ndirs >= AGENTD_PG_DIRS || data_dir[0] != '/') return -EINVAL;
    g_dirs[g_ndirs++] = data_dir;
    return 0;
}

/* pid_line: line n (1-based) of text into out, without its newline. */
static int pid_line(const char *text, int n, char *out, size_t len)
{
    const char *p = text;
    for (int i = 1; i < n && p; i++) p = (p = strchr(p, '\n')) ? p + 1 : NULL;
    if (!p) return -ENOENT;
    size_t l = strcspn(p, "\n");
    if (l >= len) return -ENAMETOOLONG;
    memcpy(out, p, l);
    out[l] = '\0';
    return 0;
}

struct pg_found {
    char data_dir[1024], sock[1024];
    int port;
};

/* probe: a live postmaster on dir: 0 and f filled, else a negative code. */
static int probe(const char *dir, struct pg_found *f)
{
    char path[1100], text[4096], line[1100];
    FILE *fp;
    size_t n;
    long pid;
    snprintf(path, sizeof path, "%s/postmaster.pid", dir);
    if (!(fp = fopen(path, "re"))) return -errno;
    n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    if (pid_line(text, 1, line, sizeof line) != 0 || (pid = strtol(line, NULL, 10)) <= 0) return -EINVAL;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM) return -ESRCH;   /* a stale file */
    if (pid_line(text, 2, f->data_dir, sizeof f->data_dir) != 0 || pid_line(text, 4, line, sizeof line) != 0)
        return -EINVAL;
    f->port = atoi(line);
    if (f->port < 1 || f->port > 65535) return -EINVAL;
    if (pid_line(text, 5, f->sock, sizeof f->sock) != 0 || f->sock[0] != '/') return -ENOTSOCK;
    return 0;
}

/* conninfo: keyword='value' pairs with ' and \ escaped, as libpq reads them. */
static void kv(char *out, size_t len, size_t *used, const char *key, const char *val)
{
    size_t u = *used;
    u += (size_t)snprintf(out + u, u < len ? len - u : 0, "%s%s='", u ? " " : "", key);
    for (const char *p = val; *p && u + 3 < len; p++) {
        if (*p == '\'' || *p == '\\') out[u++] = '\\';
        out[u++] = *p;
    }
    if (u + 2 < len) {
        out[u++] = '\'';
        out[u] = '\0';
    }
    *used = u;
}

static json_t *info_json(const struct pg_found *f, const struct eng_pg_instance_info *in)
{
    json_t *dbs = json_array();
    for (size_t i = 0; dbs && i < in->n_dbs; i++) {
        const struct eng_pg_database *d = &in->dbs[i];
        json_t *tabs = json_array();
        for (size_t k = 0; tabs && k < d->n_tables; k++)
            json_array_append_new(tabs, json_pack("{s:s,s:I}", "name", d->tables[k].name, "bytes",
                                                  (json_int_t)d->tables[k].bytes));
        json_array_append_new(dbs, json_pack("{s:s,s:s?,s:I,s:o,s:b}", "name", d->name, "owner", d->owner, "bytes",
                                             (json_int_t)d->bytes, "tables", tabs ? tabs : json_array(),
                                             "tables_cut", d->tables_cut));
    }
    return json_pack("{s:i,s:s,s:s,s:s?,s:i,s:o,s:b,s:s?}", "port", f->port, "socket_dir", f->sock, "data_directory",
                     in->data_directory ? in->data_directory : f->data_dir, "version", in->version, "version_num",
                     in->version_num, "databases", dbs ? dbs : json_array(), "databases_cut", in->databases_cut,
                     "warnings", in->warnings);
}

json_t *agentd_pg_report(void)
{
    json_t *arr = json_array();
    const char *pats[] = { "/var/lib/postgresql/*/*", "/var/lib/pgsql/data", "/var/lib/pgsql/*/data" };
    char *cands[AGENTD_PG_DIRS * 2];
    size_t nc = 0;
    int ports[AGENTD_PG_MAX];
    size_t np = 0;
    if (!arr) return NULL;
    for (size_t i = 0; i < g_ndirs && nc < sizeof cands / sizeof *cands; i++) cands[nc++] = strdup(g_dirs[i]);
    for (size_t p = 0; p < sizeof pats / sizeof *pats; p++) {
        glob_t g;
        if (glob(pats[p], GLOB_ONLYDIR | GLOB_NOSORT, NULL, &g) != 0) continue;
        for (size_t i = 0; i < g.gl_pathc && nc < sizeof cands / sizeof *cands; i++) cands[nc++] = strdup(g.gl_pathv[i]);
        globfree(&g);
    }
    for (size_t i = 0; i < nc; i++) {
        struct pg_found f;
        struct eng_pg_instance_info info;
        char conninfo[2300], err[512] = "", portbuf[16];
        size_t used = 0, k;
        if (!cands[i] || np >= AGENTD_PG_MAX || probe(cands[i], &f) != 0) continue;
        for (k = 0; k < np && ports[k] != f.port; k++) {}
        if (k < np) continue;   /* one instance per port (the same one found twice) */
        ports[np++] = f.port;
        snprintf(portbuf, sizeof portbuf, "%d", f.port);
        conninfo[0] = '\0';
        kv(conninfo, sizeof conninfo, &used, "host", f.sock);
        kv(conninfo, sizeof conninfo, &used, "port", portbuf);
        kv(conninfo, sizeof conninfo, &used, "user", g_user);
        kv(conninfo, sizeof conninfo, &used, "dbname", "postgres");
        if (eng_pg_discover(conninfo, &info, err, sizeof err) == 0) {
            json_array_append_new(arr, info_json(&f, &info));
            eng_pg_instance_info_release(&info);
        } else {
            json_array_append_new(arr, json_pack("{s:i,s:s,s:s,s:s}", "port", f.port, "socket_dir", f.sock,
                                                 "data_directory", f.data_dir, "error", err));
        }
    }
    for (size_t i = 0; i < nc; i++) free(cands[i]);
    return arr;
}
