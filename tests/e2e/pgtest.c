/* pgtest.c: a private PostgreSQL 15 server for tests (see pgtest.h). The tools run through
 * fork + setgid/setuid to the postgres user when we are root (initdb and postgres refuse root),
 * with their output appended to a log in the temporary directory; every child is waited for at
 * most its timeout and then killed. The server listens on a socket directory of its own only. */
#include "pgtest.h"
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void pgtest_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pgtest_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

int pgtest_available(char *why, size_t n)
{
    if (access(PGTEST_BIN "/initdb", X_OK) != 0 || access(PGTEST_BIN "/postgres", X_OK) != 0 ||
        access(PGTEST_BIN "/pg_ctl", X_OK) != 0) {
        pgtest_fmt(why, n, "PostgreSQL 15 server binaries not found in " PGTEST_BIN " (scripts/setup.sh --test installs them)");
        return -ENOENT;
    }
    if (geteuid() == 0 && !getpwnam("postgres")) {
        pgtest_fmt(why, n, "no postgres system user to run the server as");
        return -ENOENT;
    }
    return 0;
}

static int pgtest_ids(uid_t *uid, gid_t *gid)
{
    if (geteuid() != 0) {
        *uid = geteuid();
        *gid = getegid();
        return 0;
    }
    struct passwd *pw = getpwnam("postgres");
    if (!pw) return -ENOENT;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int pgtest_run(char *const argv[], const char *log, int timeout_s)
{
    uid_t uid;
    gid_t gid;
    if (pgtest_ids(&uid, &gid) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) _exit(126);
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);   /* as the tool's user */
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) { dup2(nul, 0); close(nul); }
        if (chdir("/tmp") != 0) { /* the tools need no particular working directory */ }
        execv(argv[0], argv);
        _exit(127);
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (w < 0 && errno != EINTR) return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

int pgtest_root(struct pgtest *p, const char *tag, const char *name, int port, char *why, size_t n)
{
    uid_t uid;
    gid_t gid;
    memset(p, 0, sizeof *p);
    if (pgtest_ids(&uid, &gid) != 0) { pgtest_fmt(why, n, "no postgres user"); return -ENOENT; }
    char *t = check_tmpdir(tag);
    pgtest_fmt(p->root, sizeof p->root, "%s", t);
    free(t);
    pgtest_fmt(p->data, sizeof p->data, "%s/%s", p->root, name);
    pgtest_fmt(p->sock, sizeof p->sock, "%s/sock", p->root);
    pgtest_fmt(p->log, sizeof p->log, "%s/%s.log", p->root, name);
    p->port = port;
    if (chown(p->root, uid, gid) != 0 || chmod(p->root, 0700) != 0 || mkdir(p->sock, 0700) != 0 ||
        chown(p->sock, uid, gid) != 0) {
        pgtest_fmt(why, n, "cannot prepare %s: %s", p->root, strerror(errno));
        return -errno;
    }
    return 0;
}

int pgtest_initdb(struct pgtest *p, char *why, size_t n)
{
    char *argv[] = { PGTEST_BIN "/initdb", "-D", p->data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                     "--locale=C", "--no-sync", NULL };
    int st = pgtest_run(argv, p->log, 120);
    if (st != 0) {
        pgtest_fmt(why, n, "initdb failed (status %d), see %s", st, p->log);
        return -EIO;
    }
    char conf[700];
    pgtest_fmt(conf, sizeof conf, "%s/postgresql.conf", p->data);
    FILE *f = fopen(conf, "a");
    if (!f) { pgtest_fmt(why, n, "cannot open %s", conf); return -EIO; }
    fprintf(f, "\n# pgtest\nlisten_addresses = ''\nwal_level = replica\nmax_wal_senders = 4\n"
               "max_replication_slots = 8\nfsync = off\nshared_buffers = 32MB\nmax_connections = 20\n"
               "log_min_messages = warning\n");
    fclose(f);
    return 0;
}

int pgtest_start(struct pgtest *p, char *why, size_t n)
{
    char opts[800];
    pgtest_fmt(opts, sizeof opts, "-c port=%d -c unix_socket_directories='%s' -c listen_addresses=''", p->port,
            p->sock);
    char *argv[] = { PGTEST_BIN "/pg_ctl", "-D", p->data, "-l", p->log, "-w", "-t", "60", "-o", opts, "start", NULL };
    int st = pgtest_run(argv, p->log, 90);
    if (st != 0) {
        pgtest_fmt(why, n, "pg_ctl start failed (status %d), see %s", st, p->log);
        return -EIO;
    }
    p->running = 1;
    return 0;
}

int pgtest_stop(struct pgtest *p)
{
    if (!p->running) return 0;
    char *argv[] = { PGTEST_BIN "/pg_ctl", "-D", p->data, "-m", "fast", "-w", "-t", "60", "stop", NULL };
    int st = pgtest_run(argv, p->log, 90);
    p->running = 0;
    return st == 0 ? 0 : -EIO;
}

void pgtest_destroy(struct pgtest *p)
{
    if (!p->root[0]) return;
    pgtest_stop(p);
    check_rm_rf(p->root);
    p->root[0] = '\0';
}

void pgtest_conninfo(const struct pgtest *p, const char *db, char *out, size_t n)
{
    pgtest_fmt(out, n, "host=%s port=%d user=postgres dbname=%s connect_timeout=10", p->sock, p->port, db);
}

PGconn *pgtest_connect(const struct pgtest *p, const char *db)
{
    char ci[800];
    pgtest_conninfo(p, db, ci, sizeof ci);
    PGconn *c = PQconnectdb(ci);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pgtest: cannot connect (%s): %s\n", ci, c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    return c;
}

int pgtest_exec(PGconn *c, const char *sql, char *why, size_t n)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -EIO;
    if (rc && why) pgtest_fmt(why, n, "%.60s...: %s", sql, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return rc;
}

int pgtest_value(PGconn *c, const char *sql, char *out, size_t n)
{
    PGresult *r = PQexec(c, sql);
    int rc = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? 0 : -EIO;
    if (!rc) pgtest_fmt(out, n, "%s", PQgetvalue(r, 0, 0));
    else pgtest_fmt(out, n, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return rc;
}

uint64_t pgtest_lsn(const char *text)
{
    unsigned hi, lo;
    if (!text || sscanf(text, "%X/%X", &hi, &lo) != 2) return 0;
    return ((uint64_t)hi << 32) | lo;
}

int pgtest_amcheck(struct pgtest *p, char *why, size_t n)
{
    char port[16], log[700];
    snprintf(port, sizeof port, "%d", p->port);
    char *argv[] = { PGTEST_BIN "/pg_amcheck", "-h", p->sock, "-p", port, "-U", "postgres", "--all",
                     "--install-missing", "--heapallindexed", NULL };
    snprintf(log, sizeof log, "%s/amcheck.log", p->root);
    int st = pgtest_run(argv, log, 300);
    if (st != 0) snprintf(why, n, "pg_amcheck exited with %d, see %s", st, log);
    return st;
}

int pgtest_serve_or_skip(struct pgtest *p, const char *tag, int port, const char *const *tests, size_t n)
{
    char why[1024] = "";
    if (pgtest_available(why, sizeof why) == 0 && pgtest_root(p, tag, "data", port, why, sizeof why) == 0 &&
        pgtest_initdb(p, why, sizeof why) == 0 && pgtest_start(p, why, sizeof why) == 0)
        return 0;
    for (size_t i = 0; i < n; i++) SKIP(tests[i], "PostgreSQL: %s", why);
    pgtest_destroy(p);
    return -1;
}

/* ---------- the catalog on PostgreSQL (COFFER_TEST_CATALOG=pg) ---------- */

static struct pgtest cat_server;
static int cat_server_state; /* 0 not tried, 1 running, -1 failed */

static void cat_server_stop(void)
{
    pgtest_destroy(&cat_server);
}

/* cat_server_conf: a daemon holds one connection per thread (HTTP, workers, scheduler). */
static int cat_server_conf(struct pgtest *p, char *why, size_t n)
{
    char conf[700];
    FILE *f;
    pgtest_fmt(conf, sizeof conf, "%s/postgresql.conf", p->data);
    f = fopen(conf, "a");
    if (!f) { pgtest_fmt(why, n, "cannot open %s", conf); return -EIO; }
    fprintf(f, "max_connections = 200\n");
    fclose(f);
    return 0;
}

int pgtest_catalog_is_pg(void)
{
    const char *e = getenv("COFFER_TEST_CATALOG");
    return e && strcmp(e, "pg") == 0;
}

int pgtest_catalog(const char *path, char *out, size_t n)
{
    char why[1024] = "", db[40], sql[200], val[16];
    uint64_t h = 1469598103934665603ull; /* FNV-1a of the path */
    PGconn *c;
    if (!pgtest_catalog_is_pg()) {
        pgtest_fmt(out, n, "%s", path);
        return 0;
    }
    if (cat_server_state == 0) {
        cat_server_state = -1;
        if (pgtest_available(why, sizeof why) == 0 &&
            pgtest_root(&cat_server, "pgcat", "data", 5432, why, sizeof why) == 0 &&
            pgtest_initdb(&cat_server, why, sizeof why) == 0 && cat_server_conf(&cat_server, why, sizeof why) == 0 &&
            pgtest_start(&cat_server, why, sizeof why) == 0) {
            cat_server_state = 1;
            atexit(cat_server_stop);
        } else {
            pgtest_destroy(&cat_server);
            pgtest_fmt(out, n, "PostgreSQL for the catalog: %s", why);
            return -1;
        }
    }
    if (cat_server_state != 1) {
        pgtest_fmt(out, n, "PostgreSQL for the catalog did not start");
        return -1;
    }
    for (const char *p = path; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    snprintf(db, sizeof db, "cat_%016llx", (unsigned long long)h);
    c = pgtest_connect(&cat_server, "postgres");
    if (!c) {
        pgtest_fmt(out, n, "cannot connect to the catalog's PostgreSQL");
        return -1;
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_database WHERE datname = '%s'", db);
    if (pgtest_value(c, sql, val, sizeof val) != 0) {
        pgtest_fmt(out, n, "%s", val);
        PQfinish(c);
        return -1;
    }
    if (strcmp(val, "0") == 0) {
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
        if (pgtest_exec(c, sql, why, sizeof why) != 0) {
            pgtest_fmt(out, n, "%s", why);
            PQfinish(c);
            return -1;
        }
    }
    PQfinish(c);
    pgtest_conninfo(&cat_server, db, out, n);
    return 0;
}

const char *pgtest_cat(const char *path)
{
    static char target[1200];
    if (pgtest_catalog(path, target, sizeof target) != 0) {
        fprintf(stderr, "pgtest: %s\n", target);
        pgtest_fmt(target, sizeof target, "host=/nonexistent dbname=no_catalog connect_timeout=1");
    }
    return target;
}
