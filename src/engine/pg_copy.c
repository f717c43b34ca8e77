/* pg_copy.c: servers on restored data directories, and copies of databases and tables out of a
 * private one into a target instance (pg.h: eng_pg_server_*, eng_pg_private_*, eng_pg_copy,
 * eng_pg_instance_new / _replace).
 *
 * How: PostgreSQL's own tools run as child processes (fork + execve with an argv, never a shell
 * string of ours), each in its own process group, its output appended to a log file, waited for at
 * most a timeout and killed (SIGTERM to the group, then SIGKILL) on timeout or cancel. pg_ctl and the
 * server run as the data directory's owner (postgres: initdb and postgres refuse root); pg_dump and
 * pg_restore run as the daemon, which is the user every connection of the daemon is made as. The
 * environment of a child is the daemon's minus every PG* variable (they would redirect the tools),
 * plus PGPASSWORD when the target's conninfo holds a password: the password never appears on a
 * command line, in a log or in err. A private server lives in a 0700 directory of its own (data/,
 * sock/, its own pg_hba.conf trusting local connections: the socket directory is reachable only by
 * root and the owner), with listen_addresses = '' and archive_mode off. A database is restored under
 * a temporary name and renamed at the end; a table in one transaction. */
#include "engine/pg.h"
#include "engine/eng_internal.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PG_CP_TOOL_TIMEOUT_S (6 * 3600)   /* one pg_dump / pg_restore at most */
#define PG_CP_DEFAULT_TIMEOUT_S 120

/* ---------- small helpers ---------- */

static int pg_cp_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pg_cp_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static int pg_cp_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

/* pg_cp_rm_rf: removes a tree (no symlink followed). */
static void pg_cp_rm_rf(const char *path)
{
    if (path && path[0] == '/' && strcmp(path, "/") != 0) nftw(path, pg_cp_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A path pg_ctl may pass through its shell: [A-Za-z0-9/._+-] only. */
static int pg_cp_safe_path(const char *p)
{
    if (!p || p[0] != '/') return 0;
    for (const char *c = p; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '/' ||
              *c == '.' || *c == '_' || *c == '+' || *c == '-'))
            return 0;
    return 1;
}

static void pg_cp_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The last bytes of a log file (its last lines, whole where possible) into out. */
static void pg_cp_log_tail(const char *log, char *out, size_t n)
{
    out[0] = '\0';
    int fd = log ? open(log, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) return;
    off_t end = lseek(fd, 0, SEEK_END);
    size_t want = n > 1 ? n - 1 : 0;
    if (want > 600) want = 600;
    off_t from = end > (off_t)want ? end - (off_t)want : 0;
    ssize_t k = pread(fd, out, (size_t)(end - from), from);
    close(fd);
    if (k <= 0) { out[0] = '\0'; return; }
    out[k] = '\0';
    char *nl = from > 0 ? strchr(out, '\n') : NULL;   /* drop a cut first line */
    if (nl && nl[1]) memmove(out, nl + 1, strlen(nl + 1) + 1);
    for (char *c = out; *c; c++)
        if (*c == '\n') *c = ' ';
}

/* ---------- child processes ---------- */

struct pg_cp_cmd {
    char *const *argv;       /* argv[0]: a full path */
    const char *log;         /* output appended here (NULL: /dev/null) */
    int as_uid;              /* run as uid:gid (when root) */
    uid_t uid;
    gid_t gid;
    const char *password;    /* PGPASSWORD for the child, or NULL */
    int timeout_s;
    volatile int *cancel;
};

/* The daemon's environment minus PG* variables, plus PGPASSWORD; malloc'd (one block of pointers,
 * the password entry malloc'd separately into *pw). */
static char **pg_cp_env(const char *password, char **pw)
{
    size_t n = 0;
    *pw = NULL;
    for (char **e = environ; e && *e; e++) n++;
    char **v = calloc(n + 2, sizeof *v);
    if (!v) return NULL;
    size_t k = 0;
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, "PG", 2) != 0) v[k++] = *e;
    if (password) {
        size_t l = strlen(password) + sizeof "PGPASSWORD=";
        if (!(*pw = malloc(l))) { free(v); return NULL; }
        snprintf(*pw, l, "PGPASSWORD=%s", password);
        v[k++] = *pw;
    }
    v[k] = NULL;
    return v;
}

/* pg_cp_exec: runs the command; its exit status (>= 0), -ECANCELED, -ETIMEDOUT or another negative errno. */
static int pg_cp_exec(const struct pg_cp_cmd *c)
{
    char *pw = NULL;
    char **envp = pg_cp_env(c->password, &pw);
    if (!envp) return -ENOMEM;
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        free(envp);
        if (pw) { explicit_bzero(pw, strlen(pw)); free(pw); }
        return e;
    }
    if (pid == 0) {   /* async-signal-safe calls only from here on */
        setpgid(0, 0);
        if (c->as_uid && geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(c->gid) != 0 || setuid(c->uid) != 0))
            _exit(126);
        int fd = open(c->log ? c->log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); if (fd > 2) close(fd); }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) { dup2(nul, 0); if (nul > 2) close(nul); }
        if (chdir("/") != 0) _exit(125);
        execve(c->argv[0], c->argv, envp);
        _exit(127);
    }
    setpgid(pid, pid);   /* the same in the parent: no race with a kill below */
    free(envp);
    if (pw) { explicit_bzero(pw, strlen(pw)); free(pw); }
    uint64_t t0 = eng_mono_msecs();
    int rc = 0, sent = 0;
    uint64_t sent_at = 0;
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            if (rc) return rc;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        }
        if (w < 0 && errno != EINTR) return -errno;
        uint64_t now = eng_mono_msecs();
        if (!sent && ((c->cancel && *c->cancel) || now - t0 > (uint64_t)c->timeout_s * 1000)) {
            rc = c->cancel && *c->cancel ? -ECANCELED : -ETIMEDOUT;
            kill(-pid, SIGTERM);
            sent = 1;
            sent_at = now;
        } else if (sent == 1 && now - sent_at > 5000) {
            kill(-pid, SIGKILL);
            sent = 2;
        } else if (sent == 2 && now - sent_at > 30000) {
            return rc;   /* not reaped: give up waiting (bounded) */
        }
        pg_cp_sleep_ms(20);
    }
}

/* ---------- connection strings ---------- */

/* pg_cp_conninfo: conninfo with dbname replaced (NULL: kept) and, when nopass, the password taken
 * out into *password (malloc'd, NULL when none). *out malloc'd. */
static int pg_cp_conninfo(const char *conninfo, const char *dbname, int nopass, char **out, char **password)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &perr);
    *out = NULL;
    if (password) *password = NULL;
    if (!opts) {
        PQfreemem(perr);
        return -EINVAL;
    }
    size_t cap = 64 + (conninfo ? strlen(conninfo) * 2 : 0) + (dbname ? strlen(dbname) * 2 : 0) + 32, len = 0;
    char *s = malloc(cap);
    int rc = s ? 0 : -ENOMEM;
    int have_db = 0;
    for (PQconninfoOption *o = opts; !rc && o->keyword; o++) {
        const char *v = o->val;
        if (strcmp(o->keyword, "dbname") == 0) {
            if (dbname) v = dbname;
            have_db = 1;
        }
        if (strcmp(o->keyword, "password") == 0 && nopass) {
            if (v && password && !(*password = strdup(v))) rc = -ENOMEM;
            continue;
        }
        if (!v) continue;
        size_t need = strlen(o->keyword) + 4 + strlen(v) * 2;
        if (len + need + 1 > cap) {
            size_t ncap = (len + need + 1) * 2;
            char *t = realloc(s, ncap);
            if (!t) { rc = -ENOMEM; break; }
            s = t;
            cap = ncap;
        }
        len += (size_t)sprintf(s + len, "%s%s='", len ? " " : "", o->keyword);
        for (const char *c = v; *c; c++) {
            if (*c == '\'' || *c == '\\') s[len++] = '\\';
            s[len++] = *c;
        }
        s[len++] = '\'';
        s[len] = '\0';
    }
    (void)have_db;
    PQconninfoFree(opts);
    if (rc) {
        free(s);
        if (password && *password) { explicit_bzero(*password, strlen(*password)); free(*password); *password = NULL; }
        return rc;
    }
    *out = s;
    return 0;
}

static void pg_cp_quiet(void *arg, const char *message) { (void)arg; (void)message; }

static PGconn *pg_cp_connect(const char *conninfo, const char *dbname, char *err, size_t errlen)
{
    char *ci = NULL;
    if (pg_cp_conninfo(conninfo, dbname, 0, &ci, NULL) != 0) {
        eng_errf(err, errlen, "the target's connection string cannot be parsed");
        return NULL;
    }
    PGconn *c = PQconnectdb(ci);
    explicit_bzero(ci, strlen(ci));
    free(ci);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        const char *m = c ? PQerrorMessage(c) : "out of memory";
        eng_errf(err, errlen, "cannot connect to database %.100s: %.300s", dbname ? dbname : "(default)", m);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, pg_cp_quiet, NULL);
    return c;
}

/* pg_cp_sql: runs a command (params: n text parameters). 0 or -EIO with the server's words; *state
 * (may be NULL) gets the SQLSTATE. */
static int pg_cp_sql(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen,
                     char state[6])
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -EIO;
    if (state) {
        const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        snprintf(state, 6, "%s", s ? s : "");
    }
    if (rc) {
        const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
        eng_errf(err, errlen, "%.300s", m);
        size_t l = err ? strlen(err) : 0;
        while (l > 0 && (err[l - 1] == '\n' || err[l - 1] == ' ')) err[--l] = '\0';
    }
    PQclear(r);
    return rc;
}

/* pg_cp_value: the first column of the first row (malloc'd; NULL value or no row: *out NULL). */
static int pg_cp_value(PGconn *c, const char *sql, int n, const char *const *params, char **out, char *err,
                       size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    *out = NULL;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        eng_errf(err, errlen, "%.300s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return -EIO;
    }
    int rc = 0;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) && !(*out = strdup(PQgetvalue(r, 0, 0)))) rc = -ENOMEM;
    PQclear(r);
    return rc;
}

/* An identifier quoted (malloc'd by libpq: PQfreemem), or NULL. */
static char *pg_cp_ident(PGconn *c, const char *name) { return PQescapeIdentifier(c, name, strlen(name)); }

/* "schema.table" split (no '.': public). Both malloc'd. */
static int pg_cp_split(const char *qualified, char **schema, char **table)
{
    const char *dot = strchr(qualified, '.');
    *schema = dot ? strndup(qualified, (size_t)(dot - qualified)) : strdup("public");
    *table = strdup(dot ? dot + 1 : qualified);
    if (!*schema || !*table || !**schema || !**table) {
        int bad = *schema && *table;
        free(*schema);
        free(*table);
        *schema = *table = NULL;
        return bad ? -EINVAL : -ENOMEM;
    }
    return 0;
}

/* A pg_dump pattern matching exactly schema.table: both parts double-quoted, quotes doubled. */
static char *pg_cp_pattern(const char *schema, const char *table)
{
    size_t n = strlen(schema) * 2 + strlen(table) * 2 + 8, k = 0;
    char *p = malloc(n);
    if (!p) return NULL;
    const char *parts[2] = { schema, table };
    for (int i = 0; i < 2; i++) {
        if (i) p[k++] = '.';
        p[k++] = '"';
        for (const char *c = parts[i]; *c; c++) {
            if (*c == '"') p[k++] = '"';
            p[k++] = *c;
        }
        p[k++] = '"';
    }
    p[k] = '\0';
    return p;
}

/* ---------- servers ---------- */

static int pg_cp_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof a;
    int port = -1;
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Appends " key='value'" (quotes and backslashes escaped) to out; stops at the buffer's end. */
static void pg_cp_ci_add(char *out, size_t n, const char *key, const char *v)
{
    size_t k = strlen(out);
    int w = snprintf(out + k, n > k ? n - k : 0, "%s%s='", k ? " " : "", key);
    if (w < 0 || (size_t)w >= n - k) return;
    k += (size_t)w;
    for (const char *c = v; *c && k + 3 < n; c++) {
        if (*c == '\'' || *c == '\\') out[k++] = '\\';
        out[k++] = *c;
    }
    if (k + 1 < n) out[k++] = '\'';
    out[k] = '\0';
}

void eng_pg_server_conninfo(const struct eng_pg_server *s, const char *dbname, char *out, size_t n)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    if (!n) return;
    out[0] = '\0';
    pg_cp_ci_add(out, n, "host", s->sock_dir);
    pg_cp_ci_add(out, n, "port", port);
    pg_cp_ci_add(out, n, "dbname", dbname ? dbname : "postgres");
    pg_cp_ci_add(out, n, "connect_timeout", "10");
    if (s->user[0]) pg_cp_ci_add(out, n, "user", s->user);
}

static int pg_cp_pg_ctl(struct eng_pg_server *s, const char *action, const char *opts, int timeout_s,
                        volatile int *cancel)
{
    char t[16];
    snprintf(t, sizeof t, "%d", timeout_s);
    char *argv_start[] = { ENG_PG_BIN "/pg_ctl", "-D", s->data_dir, "-l", s->log, "-w", "-t", t, "-o", (char *)opts,
                           "start", NULL };
    char *argv_stop[] = { ENG_PG_BIN "/pg_ctl", "-D", s->data_dir, "-m", (char *)opts, "-w", "-t", t, "stop", NULL };
    struct pg_cp_cmd c = { .argv = strcmp(action, "start") == 0 ? argv_start : argv_stop, .log = s->log, .as_uid = 1,
                           .uid = s->uid, .gid = s->gid, .timeout_s = timeout_s + 30, .cancel = cancel };
    return pg_cp_exec(&c);
}

int eng_pg_server_stop(struct eng_pg_server *s)
{
    if (!s || !s->running) return 0;
    int st = pg_cp_pg_ctl(s, "stop", s->private_server ? "immediate" : "fast", 60, NULL);
    s->running = 0;
    return st == 0 ? 0 : -EIO;
}

/* Waits until the server answers (PQping: no authentication needed) and has left recovery: a
 * promoted server has removed recovery.signal. 0, -ETIMEDOUT, -ECANCELED. */
static int pg_cp_wait_promoted(const struct eng_pg_server *s, int timeout_s, volatile int *cancel, char *err,
                               size_t errlen)
{
    char ci[4500], sig[2300];
    eng_pg_server_conninfo(s, "postgres", ci, sizeof ci);
    pg_cp_fmt(sig, sizeof sig, "%s/recovery.signal", s->data_dir);
    uint64_t t0 = eng_mono_msecs();
    const char *last = "no answer";
    while (eng_mono_msecs() - t0 < (uint64_t)timeout_s * 1000) {
        if (cancel && *cancel) return -ECANCELED;
        PGPing pg = PQping(ci);
        if (pg == PQPING_OK) {
            if (access(sig, F_OK) != 0 && errno == ENOENT) return 0;
            last = "still in recovery";
        } else {
            last = pg == PQPING_REJECT ? "not accepting connections" : "no answer";
        }
        pg_cp_sleep_ms(100);
    }
    eng_errf(err, errlen, "the server on %s did not finish recovery within %d s (%s)", s->data_dir, timeout_s, last);
    return -ETIMEDOUT;
}

/* The server's start options (pg_ctl -o): port, socket, and for a private one its hba and no archive. */
static int pg_cp_start_opts(const struct eng_pg_server *s, char *out, size_t n)
{
    if (s->private_server)
        return pg_cp_fmt(out, n,
                         "-c port=%d -c unix_socket_directories='%s' -c listen_addresses='' -c hba_file='%s/pg_hba.conf'"
                         " -c ident_file='%s/pg_ident.conf' -c archive_mode=off -c shared_buffers=32MB"
                         " -c logging_collector=off -c external_pid_file=''",
                         s->port, s->sock_dir, s->root, s->root);
    return pg_cp_fmt(out, n, "-c port=%d -c unix_socket_directories='%s' -c logging_collector=off", s->port, s->sock_dir);
}

int eng_pg_server_start(const struct eng_pg_server_opts *o, struct eng_pg_server *s, char *err, size_t errlen)
{
    struct stat st;
    char p[2300], opts[9000], tail[700];
    int rc, timeout = o->timeout_s > 0 ? o->timeout_s : PG_CP_DEFAULT_TIMEOUT_S;
    const char *sock = o->socket_dir ? o->socket_dir : o->data_dir;
    if (!pg_cp_safe_path(o->data_dir) || !pg_cp_safe_path(sock) || strlen(o->data_dir) > 2000 ||
        strlen(sock) > 2000 || (s->root[0] && !pg_cp_safe_path(s->root))) {
        eng_errf(err, errlen, "data and socket directories must be absolute paths of [A-Za-z0-9/._+-] (at most 2000 bytes)");
        return -EINVAL;
    }
    if (stat(o->data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        eng_errf(err, errlen, "%s is not a directory", o->data_dir);
        return -ENOENT;
    }
    if (s->data_dir != o->data_dir) snprintf(s->data_dir, sizeof s->data_dir, "%s", o->data_dir);
    if (s->sock_dir != sock) snprintf(s->sock_dir, sizeof s->sock_dir, "%s", sock);
    if (!s->log[0]) pg_cp_fmt(s->log, sizeof s->log, "%s/coffer-server.log", o->data_dir);
    s->uid = st.st_uid;
    s->gid = st.st_gid;
    if (!s->user[0]) {   /* initdb names the bootstrap superuser after its OS user */
        struct passwd *pw = getpwuid(st.st_uid);
        snprintf(s->user, sizeof s->user, "%s", pw ? pw->pw_name : "postgres");
    }
    s->port = o->port > 0 ? o->port : pg_cp_free_port();
    if (s->port <= 0 || s->port > 65535) {
        eng_errf(err, errlen, "no free port");
        return -EADDRNOTAVAIL;
    }
    if (geteuid() != 0 && geteuid() != st.st_uid) {
        eng_errf(err, errlen, "%s belongs to uid %u: the daemon must run as root or as that user", o->data_dir,
                 (unsigned)st.st_uid);
        return -EPERM;
    }
    pg_cp_fmt(p, sizeof p, "%s/postgresql.conf", o->data_dir);
    if (access(p, F_OK) != 0 && (rc = eng_write_text_owned(p, "# coffer: the source kept its configuration elsewhere\n",
                                                           O_EXCL, s->uid, s->gid)) != 0) {
        eng_errf(err, errlen, "cannot create %s: %s", p, strerror(-rc));
        return rc;
    }
    if (o->persist) {
        char conf[2400];
        pg_cp_fmt(conf, sizeof conf, "\n# coffer: a restored copy on its own port\nport = %d\n"
                  "unix_socket_directories = '%s'\narchive_mode = 'off'\n", s->port, sock);
        pg_cp_fmt(p, sizeof p, "%s/postgresql.auto.conf", o->data_dir);
        if ((rc = eng_write_text_owned(p, conf, O_APPEND | O_NOFOLLOW, s->uid, s->gid)) != 0) {
            eng_errf(err, errlen, "cannot write %s: %s", p, strerror(-rc));
            return rc;
        }
    }
    if ((rc = pg_cp_start_opts(s, opts, sizeof opts)) != 0) { eng_errf(err, errlen, "paths too long"); return rc; }
    rc = pg_cp_pg_ctl(s, "start", opts, timeout, o->cancel);
    if (rc != 0) {
        s->running = 1;   /* pg_ctl may have started it before giving up */
        eng_pg_server_stop(s);
        pg_cp_log_tail(s->log, tail, sizeof tail);
        if (rc == -ECANCELED) return rc;
        eng_errf(err, errlen, "pg_ctl start on %s failed (%d): %s", o->data_dir, rc, tail);
        return -EIO;
    }
    s->running = 1;
    if ((rc = pg_cp_wait_promoted(s, timeout, o->cancel, err, errlen)) != 0) {
        eng_pg_server_stop(s);
        return rc;
    }
    return 0;
}

/* ---------- private servers ---------- */

int eng_pg_private_open(struct repo *repo, const char *snap, const struct eng_pg_restore_opts *ro,
                        const char *work_parent, int port, struct eng_pg_server *s, struct eng_pg_restore_result *rr,
                        char *err, size_t errlen)
{
    struct eng_pg_restore_opts r = ro ? *ro : (struct eng_pg_restore_opts){ 0 };
    struct eng_pg_restore_result rr0;
    char p[2300];
    int rc;
    memset(s, 0, sizeof *s);
    if (!rr) rr = &rr0;
    memset(rr, 0, sizeof *rr);
    const char *parent = work_parent ? work_parent : getenv("TMPDIR");
    if (!parent || !*parent) parent = "/tmp";
    if (pg_cp_fmt(s->root, sizeof s->root, "%s/coffer-pg-private-XXXXXX", parent) != 0 || !mkdtemp(s->root)) {
        rc = -errno ? -errno : -ENAMETOOLONG;
        eng_errf(err, errlen, "cannot make a private directory under %s: %s", parent, strerror(-rc));
        s->root[0] = '\0';
        return rc;
    }
    s->private_server = 1;
    pg_cp_fmt(s->data_dir, sizeof s->data_dir, "%s/data", s->root);
    pg_cp_fmt(s->sock_dir, sizeof s->sock_dir, "%s/sock", s->root);
    pg_cp_fmt(s->log, sizeof s->log, "%s/server.log", s->root);
    r.target_dir = s->data_dir;
    if ((rc = eng_pg_restore(repo, snap, &r, rr, err, errlen)) != 0) goto fail;
    struct stat st;
    if (stat(s->data_dir, &st) != 0) { rc = -errno; eng_errf(err, errlen, "%s: %s", s->data_dir, strerror(-rc)); goto fail; }
    pg_cp_fmt(p, sizeof p, "%s/pg_hba.conf", s->root);
    if ((rc = eng_write_text_owned(p, "# coffer private server: its socket directory is 0700\nlocal all all trust\n",
                                   O_EXCL, st.st_uid, st.st_gid)) != 0)
        goto fail_io;
    pg_cp_fmt(p, sizeof p, "%s/pg_ident.conf", s->root);
    if ((rc = eng_write_text_owned(p, "", O_EXCL, st.st_uid, st.st_gid)) != 0) goto fail_io;
    if (mkdir(s->sock_dir, 0700) != 0 || chown(s->sock_dir, st.st_uid, st.st_gid) != 0 ||
        chown(s->root, st.st_uid, st.st_gid) != 0 || chmod(s->root, 0700) != 0) {
        rc = -errno;
        goto fail_io;
    }
    if ((rc = eng_write_text_owned(s->log, "", O_EXCL, st.st_uid, st.st_gid)) != 0) goto fail_io;
    struct eng_pg_server_opts so = { .data_dir = s->data_dir, .socket_dir = s->sock_dir, .port = port,
                                     .cancel = ro ? ro->cancel : NULL };
    if ((rc = eng_pg_server_start(&so, s, err, errlen)) != 0) goto fail;
    return 0;
fail_io:
    eng_errf(err, errlen, "cannot prepare the private server in %s: %s", s->root, strerror(-rc));
fail:
    eng_pg_private_close(s);
    return rc;
}

void eng_pg_private_close(struct eng_pg_server *s)
{
    if (!s) return;
    eng_pg_server_stop(s);
    if (s->root[0]) pg_cp_rm_rf(s->root);
    s->root[0] = '\0';
}

/* ---------- copies ---------- */

void eng_pg_copy_result_release(struct eng_pg_copy_result *r)
{
    if (!r) return;
    json_decref(r->warnings);
    r->warnings = NULL;
}

static void pg_cp_warn(struct eng_pg_copy_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pg_cp_warn(struct eng_pg_copy_result *r, const char *fmt, ...)
{
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (json_array_size(r->warnings) < 100) json_array_append_new(r->warnings, json_string(m));
}

/* pg_restore's error lines of a log (continue_on_access_violation) as warnings; 1 when any names a
 * missing privilege. */
static int pg_cp_log_warnings(const char *log, struct eng_pg_copy_result *r)
{
    FILE *f = fopen(log, "re");
    char line[1024];
    int priv = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = '\0';
        if (strstr(line, "permission denied") || strstr(line, "must be owner") || strstr(line, "must be superuser") ||
            strstr(line, "must be member of role"))
            priv = 1;
        if (strstr(line, "error:") || strstr(line, "ERROR:")) pg_cp_warn(r, "%s", line);
    }
    fclose(f);
    return priv;
}

/* The post-data list without its INDEX entries (skip_indexes): pg_restore -l, filtered, into list. */
static int pg_cp_index_free_list(const char *dump, const char *list, const char *log, volatile int *cancel,
                                 char *err, size_t errlen)
{
    char full[2400];
    pg_cp_fmt(full, sizeof full, "%s.all", list);
    char *argv[] = { ENG_PG_BIN "/pg_restore", "-l", "-f", full, (char *)dump, NULL };
    struct pg_cp_cmd c = { .argv = argv, .log = log, .timeout_s = 600, .cancel = cancel };
    int st = pg_cp_exec(&c);
    if (st != 0) {
        eng_errf(err, errlen, "pg_restore -l failed (%d)", st);
        return st < 0 ? st : -EIO;
    }
    FILE *in = fopen(full, "re"), *out = fopen(list, "we");
    char line[4096];
    int rc = in && out ? 0 : -errno;
    while (!rc && fgets(line, sizeof line, in)) {
        /* "123; 1259 16390 INDEX public t_v_idx owner": the fourth field is the entry's type */
        char id[32], a[32], b[32], type[32];
        int skip = line[0] != ';' && sscanf(line, "%31s %31s %31s %31s", id, a, b, type) == 4 &&
                   strcmp(type, "INDEX") == 0;   /* also "INDEX ATTACH" (its type's first word) */
        if (!skip && fputs(line, out) < 0) rc = -EIO;
    }
    if (in) fclose(in);
    if (out && fclose(out) != 0 && !rc) rc = -EIO;
    unlink(full);
    if (rc) eng_errf(err, errlen, "cannot filter the restore list %s: %s", list, strerror(-rc));
    return rc;
}

/* pg_dump of src's database db (directory format) into dump; extra: more arguments. */
static int pg_cp_dump(const struct eng_pg_server *src, const char *db, const char *dump, const char *log,
                      char *const *extra, size_t n_extra, int jobs, volatile int *cancel, char *err, size_t errlen)
{
    char ci[4500], j[16];
    eng_pg_server_conninfo(src, db, ci, sizeof ci);
    snprintf(j, sizeof j, "%d", jobs);
    char **argv = calloc(12 + n_extra, sizeof *argv);
    if (!argv) return -ENOMEM;
    size_t k = 0;
    argv[k++] = ENG_PG_BIN "/pg_dump";
    argv[k++] = "-Fd";
    argv[k++] = "-Z0";
    argv[k++] = "-j";
    argv[k++] = j;
    argv[k++] = "-f";
    argv[k++] = (char *)dump;
    argv[k++] = "-d";
    argv[k++] = ci;
    for (size_t i = 0; i < n_extra; i++) argv[k++] = extra[i];
    argv[k] = NULL;
    struct pg_cp_cmd c = { .argv = argv, .log = log, .timeout_s = PG_CP_TOOL_TIMEOUT_S, .cancel = cancel };
    int st = pg_cp_exec(&c);
    free(argv);
    if (st == 0) return 0;
    if (st == -ECANCELED) return st;
    char tail[700];
    pg_cp_log_tail(log, tail, sizeof tail);
    eng_errf(err, errlen, "pg_dump of %.100s failed (%d): %s", db, st, tail);
    return -EIO;
}

/* pg_restore of dump into the target's database db. */
static int pg_cp_restore(const char *target_ci, const char *db, const char *dump, const char *log, const char *list,
                         int single_tx, int clean, int exit_on_error, int no_owner, int jobs, volatile int *cancel,
                         char *err, size_t errlen)
{
    char *ci = NULL, *pw = NULL, j[16];
    int rc = pg_cp_conninfo(target_ci, db, 1, &ci, &pw);
    if (rc) { eng_errf(err, errlen, "the target's connection string cannot be parsed"); return rc; }
    snprintf(j, sizeof j, "%d", jobs);
    char *argv[16];
    size_t k = 0;
    argv[k++] = ENG_PG_BIN "/pg_restore";
    argv[k++] = "-d";
    argv[k++] = ci;
    if (single_tx) {
        argv[k++] = "--single-transaction";
    } else {
        argv[k++] = "-j";
        argv[k++] = j;
    }
    if (exit_on_error) argv[k++] = "--exit-on-error";
    if (no_owner) argv[k++] = "--no-owner";
    if (clean) { argv[k++] = "--clean"; argv[k++] = "--if-exists"; }
    if (list) { argv[k++] = "-L"; argv[k++] = (char *)list; }
    argv[k++] = (char *)dump;
    argv[k] = NULL;
    struct pg_cp_cmd c = { .argv = argv, .log = log, .password = pw, .timeout_s = PG_CP_TOOL_TIMEOUT_S, .cancel = cancel };
    int st = pg_cp_exec(&c);
    free(ci);
    if (pw) { explicit_bzero(pw, strlen(pw)); free(pw); }
    if (st == 0) return 0;
    if (st == -ECANCELED) return st;
    char tail[700];
    pg_cp_log_tail(log, tail, sizeof tail);
    eng_errf(err, errlen, "pg_restore into %.100s failed (%d): %s", db, st, tail);
    return st > 0 ? 1 : -EIO;   /* 1: it ran and reported errors */
}

static uint64_t pg_cp_size(PGconn *c, const char *sql, const char *arg)
{
    char *v = NULL, e[64];
    const char *p[1] = { arg };
    if (pg_cp_value(c, sql, 1, p, &v, e, sizeof e) != 0 || !v) { free(v); return 0; }
    uint64_t n = strtoull(v, NULL, 10);
    free(v);
    return n;
}

int eng_pg_copy_target_exists(const char *target_conninfo, const struct eng_pg_copy_item *it, char *err,
                              size_t errlen)
{
    int rc;
    char *v = NULL;
    if (it->kind == ENG_PG_COPY_DATABASE) {
        PGconn *c = pg_cp_connect(target_conninfo, NULL, err, errlen);
        if (!c) return -EIO;
        const char *p[1] = { it->rename_to ? it->rename_to : it->database };
        rc = pg_cp_value(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, p, &v, err, errlen);
        PQfinish(c);
        if (rc) return rc;
        rc = v != NULL;
        free(v);
        return rc;
    }
    char *sch = NULL, *tab = NULL, *nsch = NULL, *ntab = NULL;
    if ((rc = pg_cp_split(it->table, &sch, &tab)) != 0) { eng_errf(err, errlen, "bad table name '%.100s'", it->table); return rc; }
    if (it->rename_to && strchr(it->rename_to, '.')) {
        rc = pg_cp_split(it->rename_to, &nsch, &ntab);
    } else {
        nsch = strdup(sch);
        ntab = strdup(it->rename_to ? it->rename_to : tab);
        rc = nsch && ntab ? 0 : -ENOMEM;
    }
    const char *db = it->target_database ? it->target_database : it->database;
    PGconn *c = rc ? NULL : pg_cp_connect(target_conninfo, db, err, errlen);
    if (!rc && !c) {
        /* is it the database that is missing? */
        PGconn *m = pg_cp_connect(target_conninfo, NULL, err, errlen);
        const char *p[1] = { db };
        char *dv = NULL;
        rc = -EIO;
        if (m && pg_cp_value(m, "SELECT 1 FROM pg_database WHERE datname = $1", 1, p, &dv, err, errlen) == 0 && !dv) {
            eng_errf(err, errlen, "the target database %.100s does not exist", db);
            rc = -ENOENT;
        }
        free(dv);
        PQfinish(m);
    }
    if (!rc) {
        const char *p[2] = { nsch, ntab };
        rc = pg_cp_value(c, "SELECT 1 FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace"
                            " WHERE n.nspname = $1 AND k.relname = $2", 2, p, &v, err, errlen);
        if (!rc) rc = v != NULL;
        free(v);
    }
    PQfinish(c);
    free(sch); free(tab); free(nsch); free(ntab);
    return rc;
}

/* pg_cp_not_super: 1 when the target session's role is not a superuser (it cannot give objects to
 * other roles: the restore then keeps them as its own, --no-owner, with a warning), else 0. */
static int pg_cp_not_super(PGconn *t, struct eng_pg_copy_result *out)
{
    char *v = NULL, e[256];
    int not_super = pg_cp_value(t, "SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user", 0, NULL, &v, e,
                                sizeof e) == 0 && v && strcmp(v, "false") == 0;
    free(v);
    if (not_super)
        pg_cp_warn(out, "%s: the target role is not a superuser: the restored objects belong to it (owners not restored)",
                   out->name);
    return not_super;
}

/* A temporary database name: coffer_restore_<pid>_<time>_<n> (at most 63 bytes). */
static void pg_cp_tmp_name(char *out, size_t n)
{
    static unsigned counter;
    unsigned k = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    snprintf(out, n, "coffer_restore_%ld_%" PRIu64 "_%u", (long)getpid(), (uint64_t)(eng_now_usecs() % 1000000000000ULL), k);
}

static int pg_cp_database(const struct eng_pg_server *src, const struct eng_pg_copy_item *it,
                          const struct eng_pg_copy_opts *o, const char *work, struct eng_pg_copy_result *out,
                          char *err, size_t errlen)
{
    const char *name = it->rename_to ? it->rename_to : it->database;
    char tmp[64], dump[2300], log[2300], list[2300], state[6], e2[512];
    char *enc = NULL, *coll = NULL, *ctype = NULL, *owner = NULL, *v = NULL, *sql = NULL;
    char *qtmp = NULL, *qname = NULL;
    PGconn *t = NULL, *s = NULL;
    int rc, exists = 0, created = 0, jobs = o->jobs > 0 ? o->jobs : 2;
    char **extra = NULL;
    snprintf(out->name, sizeof out->name, "%s", name);
    pg_cp_tmp_name(tmp, sizeof tmp);
    pg_cp_fmt(dump, sizeof dump, "%s/%s.dump", work, tmp);
    pg_cp_fmt(log, sizeof log, "%s/%s.log", work, tmp);
    pg_cp_fmt(list, sizeof list, "%s/%s.list", work, tmp);

    /* the source database and its encoding and locale */
    char sci[4500];
    eng_pg_server_conninfo(src, "postgres", sci, sizeof sci);
    s = PQconnectdb(sci);
    if (!s || PQstatus(s) != CONNECTION_OK) {
        eng_errf(err, errlen, "cannot connect to the private server: %.300s", s ? PQerrorMessage(s) : "out of memory");
        rc = -EIO;
        goto done;
    }
    {
        const char *p[1] = { it->database };
        if ((rc = pg_cp_value(s, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = $1", 1, p,
                              &enc, err, errlen)) != 0 ||
            (rc = pg_cp_value(s, "SELECT datcollate FROM pg_database WHERE datname = $1", 1, p, &coll, err, errlen)) != 0 ||
            (rc = pg_cp_value(s, "SELECT datctype FROM pg_database WHERE datname = $1", 1, p, &ctype, err, errlen)) != 0 ||
            (rc = pg_cp_value(s, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", 1, p, &owner,
                              err, errlen)) != 0)
            goto done;
        if (!enc || !coll || !ctype) {
            eng_errf(err, errlen, "database %.100s is not in the snapshot", it->database);
            rc = -ENOENT;
            goto done;
        }
    }
    if (!(t = pg_cp_connect(o->target_conninfo, NULL, err, errlen))) { rc = -EIO; goto done; }
    {
        const char *p[1] = { name };
        if ((rc = pg_cp_value(t, "SELECT 1 FROM pg_database WHERE datname = $1", 1, p, &v, err, errlen)) != 0) goto done;
        exists = v != NULL;
        free(v);
        v = NULL;
    }
    if (exists && !o->overwrite) {
        eng_errf(err, errlen, "database %.100s already exists on the target (overwriting is not allowed)", name);
        rc = -EEXIST;
        goto done;
    }
    /* CREATE DATABASE <temporary> */
    qtmp = pg_cp_ident(t, tmp);
    qname = pg_cp_ident(t, name);
    char *lenc = PQescapeLiteral(t, enc, strlen(enc)), *lcoll = PQescapeLiteral(t, coll, strlen(coll)),
         *lctype = PQescapeLiteral(t, ctype, strlen(ctype));
    size_t sl = 200 + strlen(tmp) * 2 + strlen(enc) + strlen(coll) + strlen(ctype) + 16;
    sql = qtmp && qname && lenc && lcoll && lctype ? malloc(sl) : NULL;
    if (sql) snprintf(sql, sl, "CREATE DATABASE %s TEMPLATE template0 ENCODING %s LC_COLLATE %s LC_CTYPE %s", qtmp, lenc,
                      lcoll, lctype);
    PQfreemem(lenc);
    PQfreemem(lcoll);
    PQfreemem(lctype);
    if (!sql) { rc = -ENOMEM; goto done; }
    if ((rc = pg_cp_sql(t, sql, 0, NULL, err, errlen, state)) != 0) {
        if (o->continue_on_access_violation && strcmp(state, "42501") == 0) {
            pg_cp_warn(out, "database %s skipped: %s", name, err);
            out->skipped = 1;
            rc = 0;
        }
        goto done;
    }
    created = 1;
    int not_super = pg_cp_not_super(t, out);
    if (owner && !not_super) {   /* the source's owner when that role exists on the target */
        const char *p[1] = { owner };
        char *q = NULL;
        if (pg_cp_value(t, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, p, &v, e2, sizeof e2) == 0 && v &&
            (q = pg_cp_ident(t, owner)) != NULL) {
            char osql[400];
            snprintf(osql, sizeof osql, "ALTER DATABASE %s OWNER TO %s", qtmp, q);
            if (pg_cp_sql(t, osql, 0, NULL, e2, sizeof e2, NULL) != 0) pg_cp_warn(out, "database %s: owner %s not set: %s", name, owner, e2);
        }
        PQfreemem(q);
        free(v);
        v = NULL;
    }

    /* dump (excludes), list (skip_indexes), restore into the temporary database */
    extra = calloc(it->n_excludes + 1, sizeof *extra);
    if (!extra) { rc = -ENOMEM; goto done; }
    for (size_t i = 0; i < it->n_excludes; i++) {
        char *sch = NULL, *tab = NULL, *pat;
        if ((rc = pg_cp_split(it->excludes[i], &sch, &tab)) != 0) {
            eng_errf(err, errlen, "bad table name '%.100s' in excludes", it->excludes[i]);
            goto done;
        }
        pat = pg_cp_pattern(sch, tab);
        free(sch);
        free(tab);
        size_t l = pat ? strlen(pat) + 20 : 0;
        if (!pat || !(extra[i] = malloc(l))) { free(pat); rc = -ENOMEM; goto done; }
        snprintf(extra[i], l, "--exclude-table=%s", pat);
        free(pat);
    }
    if ((rc = pg_cp_dump(src, it->database, dump, log, extra, it->n_excludes, jobs, o->cancel, err, errlen)) != 0) goto done;
    if (o->skip_indexes && (rc = pg_cp_index_free_list(dump, list, log, o->cancel, err, errlen)) != 0) goto done;
    rc = pg_cp_restore(o->target_conninfo, tmp, dump, log, o->skip_indexes ? list : NULL, 0, 0,
                       !o->continue_on_access_violation, not_super, jobs, o->cancel, err, errlen);
    if (rc == 1 && o->continue_on_access_violation) {
        pg_cp_log_warnings(log, out);
        rc = 0;
    } else if (rc) {
        if (rc == 1) rc = -EIO;
        goto done;
    }
    if (o->cancel && *o->cancel) { rc = -ECANCELED; goto done; }
    if (!o->skip_analyze) {
        PGconn *a = pg_cp_connect(o->target_conninfo, tmp, err, errlen);
        rc = a ? pg_cp_sql(a, "ANALYZE", 0, NULL, err, errlen, NULL) : -EIO;
        PQfinish(a);
        if (rc) goto done;
    }
    /* the name gets the whole new database */
    char dsql[400];
    if (exists) {
        snprintf(dsql, sizeof dsql, "DROP DATABASE %s WITH (FORCE)", qname);
        if ((rc = pg_cp_sql(t, dsql, 0, NULL, err, errlen, NULL)) != 0) goto done;
    }
    snprintf(dsql, sizeof dsql, "ALTER DATABASE %s RENAME TO %s", qtmp, qname);
    if ((rc = pg_cp_sql(t, dsql, 0, NULL, err, errlen, NULL)) != 0) goto done;
    created = 0;
    out->bytes = pg_cp_size(t, "SELECT pg_database_size($1::text::name)", name);
done:
    if (created && t) {
        char usql[400];
        snprintf(usql, sizeof usql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", qtmp);
        if (pg_cp_sql(t, usql, 0, NULL, e2, sizeof e2, NULL) != 0) pg_cp_warn(out, "temporary database %s left: %s", tmp, e2);
    }
    if (extra) {
        for (size_t i = 0; i < it->n_excludes; i++) free(extra[i]);
        free(extra);
    }
    pg_cp_rm_rf(dump);
    unlink(list);
    unlink(log);
    PQfreemem(qtmp);
    PQfreemem(qname);
    free(sql);
    free(enc); free(coll); free(ctype); free(owner);
    PQfinish(s);
    PQfinish(t);
    return rc;
}

/* A relation renamed in the private copy (to be renamed back). */
struct pg_cp_renamed {
    int is_seq;
    char old[64], now[64];
};

static int pg_cp_rename_one(PGconn *s, const char *sch, int is_seq, const char *from, const char *to, char *err,
                            size_t errlen)
{
    char *qs = pg_cp_ident(s, sch), *qo = pg_cp_ident(s, from), *qn = pg_cp_ident(s, to), sql[1200];
    int rc = -ENOMEM;
    if (qs && qo && qn) {
        snprintf(sql, sizeof sql, "ALTER %s %s.%s RENAME TO %s", is_seq ? "SEQUENCE" : "INDEX", qs, qo, qn);
        rc = pg_cp_sql(s, sql, 0, NULL, err, errlen, NULL);
    }
    PQfreemem(qs); PQfreemem(qo); PQfreemem(qn);
    return rc;
}

/* In the private copy: renames the table's indexes and owned sequences from oldt* to newt*, so they
 * do not collide with the original's beside it; *done (malloc'd, *n entries) lists what was renamed. */
static int pg_cp_rename_related(PGconn *s, const char *sch, const char *tab, const char *ntab,
                                struct pg_cp_renamed **done, size_t *n, char *err, size_t errlen)
{
    const char *p[2] = { sch, tab };
    PGresult *r = PQexecParams(s,
        "SELECT k.relname, k.relkind FROM pg_class k JOIN pg_index i ON i.indexrelid = k.oid"
        " WHERE i.indrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass"
        " UNION ALL SELECT k.relname, k.relkind FROM pg_class k JOIN pg_depend d ON d.objid = k.oid"
        " WHERE k.relkind = 'S' AND d.deptype IN ('a', 'i') AND d.refobjid = (quote_ident($1) || '.' || quote_ident($2))::regclass",
        2, NULL, p, NULL, NULL, 0);
    int rc = 0;
    *done = NULL;
    *n = 0;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        eng_errf(err, errlen, "%.300s", r ? PQresultErrorMessage(r) : PQerrorMessage(s));
        PQclear(r);
        return -EIO;
    }
    int rows = PQntuples(r);
    if (rows > 0 && !(*done = calloc((size_t)rows, sizeof **done))) { PQclear(r); return -ENOMEM; }
    size_t tl = strlen(tab);
    for (int i = 0; i < rows && !rc; i++) {
        struct pg_cp_renamed *x = &(*done)[*n];
        const char *old = PQgetvalue(r, i, 0);
        char nn[200];
        if (strncmp(old, tab, tl) == 0) snprintf(nn, sizeof nn, "%s%s", ntab, old + tl);
        else snprintf(nn, sizeof nn, "%s_%s", ntab, old);
        nn[63] = '\0';   /* NAMEDATALEN - 1 */
        x->is_seq = PQgetvalue(r, i, 1)[0] == 'S';
        snprintf(x->old, sizeof x->old, "%s", old);
        memcpy(x->now, nn, sizeof x->now);   /* nn is cut at 63 bytes */
        if ((rc = pg_cp_rename_one(s, sch, x->is_seq, x->old, x->now, err, errlen)) == 0) (*n)++;
    }
    PQclear(r);
    return rc;
}

static int pg_cp_table(const struct eng_pg_server *src, const struct eng_pg_copy_item *it,
                       const struct eng_pg_copy_opts *o, const char *work, struct eng_pg_copy_result *out, char *err,
                       size_t errlen)
{
    char *sch = NULL, *tab = NULL, *nsch = NULL, *ntab = NULL, *v = NULL, *pat = NULL;
    char tmp[64], dump[2300], log[2300], list[2300], sql[1500], sci[4500];
    PGconn *s = NULL, *t = NULL;
    const char *tdb = it->target_database ? it->target_database : it->database;
    int rc, exists, renamed = 0, moved = 0;
    struct pg_cp_renamed *related = NULL;
    size_t n_related = 0;
    pg_cp_tmp_name(tmp, sizeof tmp);
    pg_cp_fmt(dump, sizeof dump, "%s/%s.dump", work, tmp);
    pg_cp_fmt(log, sizeof log, "%s/%s.log", work, tmp);
    pg_cp_fmt(list, sizeof list, "%s/%s.list", work, tmp);
    if (!it->table || (rc = pg_cp_split(it->table, &sch, &tab)) != 0) {
        eng_errf(err, errlen, "bad table name '%.100s'", it->table ? it->table : "");
        return -EINVAL;
    }
    if (it->rename_to && strchr(it->rename_to, '.')) {
        if ((rc = pg_cp_split(it->rename_to, &nsch, &ntab)) != 0) { eng_errf(err, errlen, "bad new table name"); goto done; }
    } else {
        nsch = strdup(sch);
        ntab = strdup(it->rename_to && *it->rename_to ? it->rename_to : tab);
        if (!nsch || !ntab) { rc = -ENOMEM; goto done; }
    }
    snprintf(out->name, sizeof out->name, "%s.%s.%s", tdb, nsch, ntab);

    eng_pg_server_conninfo(src, it->database, sci, sizeof sci);
    s = PQconnectdb(sci);
    if (!s || PQstatus(s) != CONNECTION_OK) {
        eng_errf(err, errlen, "database %.100s of the snapshot: %.300s", it->database, s ? PQerrorMessage(s) : "no memory");
        rc = strstr(s ? PQerrorMessage(s) : "", "does not exist") ? -ENOENT : -EIO;
        goto done;
    }
    PQsetNoticeProcessor(s, pg_cp_quiet, NULL);
    {
        const char *p[2] = { sch, tab };
        if ((rc = pg_cp_value(s, "SELECT 1 FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace"
                                 " WHERE n.nspname = $1 AND k.relname = $2 AND k.relkind IN ('r', 'p')", 2, p, &v, err,
                              errlen)) != 0)
            goto done;
        if (!v) {
            eng_errf(err, errlen, "table %.100s.%.100s is not in database %.100s of the snapshot", sch, tab, it->database);
            rc = -ENOENT;
            goto done;
        }
        free(v);
        v = NULL;
    }
    rc = eng_pg_copy_target_exists(o->target_conninfo, it, err, errlen);
    if (rc < 0) goto done;
    exists = rc;
    rc = 0;
    if (exists && !o->overwrite) {
        eng_errf(err, errlen, "table %.100s.%.100s already exists in database %.100s of the target (overwriting is not"
                 " allowed)", nsch, ntab, tdb);
        rc = -EEXIST;
        goto done;
    }
    /* rename inside the private copy (never the source); renamed back at the end */
    if (strcmp(tab, ntab) != 0 || strcmp(sch, nsch) != 0) {
        char *qs = pg_cp_ident(s, sch), *qt = pg_cp_ident(s, tab), *qnt = pg_cp_ident(s, ntab), *qns = pg_cp_ident(s, nsch);
        if (!qs || !qt || !qnt || !qns) rc = -ENOMEM;
        if (!rc && strcmp(tab, ntab) != 0) {
            rc = pg_cp_rename_related(s, sch, tab, ntab, &related, &n_related, err, errlen);
            snprintf(sql, sizeof sql, "ALTER TABLE %s.%s RENAME TO %s", qs, qt, qnt);
            if (!rc && (rc = pg_cp_sql(s, sql, 0, NULL, err, errlen, NULL)) == 0) renamed = 1;
        }
        if (!rc && strcmp(sch, nsch) != 0) {
            snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", qns);
            rc = pg_cp_sql(s, sql, 0, NULL, err, errlen, NULL);
            snprintf(sql, sizeof sql, "ALTER TABLE %s.%s SET SCHEMA %s", qs, qnt, qns);
            if (!rc && (rc = pg_cp_sql(s, sql, 0, NULL, err, errlen, NULL)) == 0) moved = 1;
        }
        PQfreemem(qs); PQfreemem(qt); PQfreemem(qnt); PQfreemem(qns);
        if (rc) goto done;
    }
    /* the schema on the target, when missing (CREATE SCHEMA IF NOT EXISTS would need CREATE on the
     * database even when the schema is there) */
    if (!(t = pg_cp_connect(o->target_conninfo, tdb, err, errlen))) { rc = -EIO; goto done; }
    {
        const char *p[1] = { nsch };
        if ((rc = pg_cp_value(t, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, p, &v, err, errlen)) != 0) goto done;
    }
    if (!v) {
        char *qns = pg_cp_ident(t, nsch), state[6];
        if (!qns) { rc = -ENOMEM; goto done; }
        snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", qns);
        PQfreemem(qns);
        if ((rc = pg_cp_sql(t, sql, 0, NULL, err, errlen, state)) != 0) {
            if (o->continue_on_access_violation && strcmp(state, "42501") == 0) {
                pg_cp_warn(out, "table %s skipped: %s", out->name, err);
                out->skipped = 1;
                rc = 0;
            }
            goto done;
        }
    }
    if (!(pat = pg_cp_pattern(nsch, ntab))) { rc = -ENOMEM; goto done; }
    char *extra[2] = { "-t", pat };
    if ((rc = pg_cp_dump(src, it->database, dump, log, extra, 2, 1, o->cancel, err, errlen)) != 0) goto done;
    if (o->skip_indexes && (rc = pg_cp_index_free_list(dump, list, log, o->cancel, err, errlen)) != 0) goto done;
    rc = pg_cp_restore(o->target_conninfo, tdb, dump, log, o->skip_indexes ? list : NULL, 1, exists, 1,
                       pg_cp_not_super(t, out), 1, o->cancel, err, errlen);
    if (rc == 1) {
        if (o->continue_on_access_violation && pg_cp_log_warnings(log, out)) {
            json_array_insert_new(out->warnings, 0, json_sprintf("table %s skipped: the target role lacks privileges",
                                                                 out->name));
            out->skipped = 1;
            rc = 0;
        } else {
            rc = -EIO;
        }
        goto done;
    }
    if (rc) goto done;
    if (!o->skip_analyze) {
        char *qns = pg_cp_ident(t, nsch), *qnt = pg_cp_ident(t, ntab);
        if (qns && qnt) {
            snprintf(sql, sizeof sql, "ANALYZE %s.%s", qns, qnt);
            rc = pg_cp_sql(t, sql, 0, NULL, err, errlen, NULL);
        } else {
            rc = -ENOMEM;
        }
        PQfreemem(qns); PQfreemem(qnt);
        if (rc) goto done;
    }
    {
        char q[700];
        char *qns = pg_cp_ident(t, nsch), *qnt = pg_cp_ident(t, ntab);
        if (qns && qnt) {
            snprintf(q, sizeof q, "%s.%s", qns, qnt);
            out->bytes = pg_cp_size(t, "SELECT pg_total_relation_size($1::regclass)", q);
        }
        PQfreemem(qns); PQfreemem(qnt);
    }
done:
    /* the private copy as it was: the same table can be copied again (another item, a retry) */
    if (s && (moved || renamed || n_related)) {
        char e2[512];
        char *qs = pg_cp_ident(s, sch), *qt = pg_cp_ident(s, tab), *qnt = pg_cp_ident(s, ntab), *qns = pg_cp_ident(s, nsch);
        int urc = qs && qt && qnt && qns ? 0 : -ENOMEM;
        if (!urc && moved) {
            snprintf(sql, sizeof sql, "ALTER TABLE %s.%s SET SCHEMA %s", qns, qnt, qs);
            urc = pg_cp_sql(s, sql, 0, NULL, e2, sizeof e2, NULL);
        }
        if (!urc && renamed) {
            snprintf(sql, sizeof sql, "ALTER TABLE %s.%s RENAME TO %s", qs, qnt, qt);
            urc = pg_cp_sql(s, sql, 0, NULL, e2, sizeof e2, NULL);
        }
        for (size_t i = 0; !urc && i < n_related; i++)
            urc = pg_cp_rename_one(s, sch, related[i].is_seq, related[i].now, related[i].old, e2, sizeof e2);
        if (urc) pg_cp_warn(out, "the private copy keeps %s.%s renamed (%s)", sch, tab, urc == -ENOMEM ? "no memory" : e2);
        PQfreemem(qs); PQfreemem(qt); PQfreemem(qnt); PQfreemem(qns);
    }
    free(related);
    pg_cp_rm_rf(dump);
    unlink(list);
    unlink(log);
    PQfinish(s);
    PQfinish(t);
    free(pat); free(sch); free(tab); free(nsch); free(ntab); free(v);
    return rc;
}

int eng_pg_copy(const struct eng_pg_server *src, const struct eng_pg_copy_item *it, const struct eng_pg_copy_opts *o,
                struct eng_pg_copy_result *out, char *err, size_t errlen)
{
    char work[2300];
    uint64_t t0 = eng_now_usecs();
    int rc, own_work = 0;
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (!(out->warnings = json_array())) return -ENOMEM;
    if (!src || !src->running || !it || !it->database || !*it->database || !o || !o->target_conninfo ||
        (it->kind != ENG_PG_COPY_DATABASE && it->kind != ENG_PG_COPY_TABLE) ||
        (it->rename_to && (!*it->rename_to || strlen(it->rename_to) > 127))) {
        eng_errf(err, errlen, "eng_pg_copy: a running source server, a database, a target and a valid new name are needed");
        return -EINVAL;
    }
    if (o->work_dir) {
        pg_cp_fmt(work, sizeof work, "%s", o->work_dir);
    } else if (src->root[0]) {
        pg_cp_fmt(work, sizeof work, "%s", src->root);
    } else {
        const char *t = getenv("TMPDIR");
        if (pg_cp_fmt(work, sizeof work, "%s/coffer-pg-copy-XXXXXX", t && *t ? t : "/tmp") != 0 || !mkdtemp(work)) {
            eng_errf(err, errlen, "cannot make a work directory: %s", strerror(errno));
            return -errno;
        }
        own_work = 1;
    }
    rc = it->kind == ENG_PG_COPY_DATABASE ? pg_cp_database(src, it, o, work, out, err, errlen)
                                          : pg_cp_table(src, it, o, work, out, err, errlen);
    if (own_work) pg_cp_rm_rf(work);
    out->usecs = eng_now_usecs() - t0;
    return rc;
}

/* ---------- whole instances ---------- */

/* Empties dir (removes it when it was made here). */
static void pg_cp_undo_dir(const char *dir, int existed)
{
    if (!existed) {
        pg_cp_rm_rf(dir);
        return;
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4300];
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (pg_cp_fmt(p, sizeof p, "%s/%s", dir, e->d_name) == 0) pg_cp_rm_rf(p);
    }
    closedir(d);
}

int eng_pg_instance_new(struct repo *repo, const char *snap, const struct eng_pg_restore_opts *ro,
                        const struct eng_pg_server_opts *so, struct eng_pg_server *out,
                        struct eng_pg_restore_result *rr, char *err, size_t errlen)
{
    struct eng_pg_restore_opts r = ro ? *ro : (struct eng_pg_restore_opts){ 0 };
    struct eng_pg_restore_result rr0;
    struct eng_pg_server_opts o = *so;
    int rc;
    memset(out, 0, sizeof *out);
    if (!rr) rr = &rr0;
    if (!so->data_dir || !pg_cp_safe_path(so->data_dir) || (so->socket_dir && !pg_cp_safe_path(so->socket_dir))) {
        eng_errf(err, errlen, "the new data directory (and socket directory) must be absolute paths of [A-Za-z0-9/._+-]");
        return -EINVAL;
    }
    int existed = access(so->data_dir, F_OK) == 0;
    r.target_dir = so->data_dir;
    if ((rc = eng_pg_restore(repo, snap, &r, rr, err, errlen)) != 0) {
        if (rc != -EEXIST) pg_cp_undo_dir(so->data_dir, existed);   /* -EEXIST: not ours to touch */
        return rc;
    }
    o.persist = 1;
    if ((rc = eng_pg_server_start(&o, out, err, errlen)) != 0) {
        pg_cp_undo_dir(so->data_dir, existed);
        return rc;
    }
    return 0;
}

int eng_pg_instance_replace(struct repo *repo, const char *snap, const struct eng_pg_restore_opts *ro,
                            const struct eng_pg_server_opts *so, struct eng_pg_server *out, char *aside_out,
                            size_t aside_len, struct eng_pg_restore_result *rr, char *err, size_t errlen)
{
    struct eng_pg_restore_opts r = ro ? *ro : (struct eng_pg_restore_opts){ 0 };
    struct eng_pg_restore_result rr0;
    struct eng_pg_server_opts o = *so;
    struct eng_pg_server old = { 0 };
    char aside[2300], p[2300], stamp[32], e2[512];
    struct stat st;
    int rc;
    memset(out, 0, sizeof *out);
    if (aside_out && aside_len) aside_out[0] = '\0';
    if (!rr) rr = &rr0;
    if (!so->data_dir || !pg_cp_safe_path(so->data_dir) || strlen(so->data_dir) > 2000 ||
        (so->socket_dir && !pg_cp_safe_path(so->socket_dir))) {
        eng_errf(err, errlen, "the original data directory (and socket directory) must be absolute paths of [A-Za-z0-9/._+-]");
        return -EINVAL;
    }
    pg_cp_fmt(p, sizeof p, "%s/PG_VERSION", so->data_dir);
    if (stat(so->data_dir, &st) != 0 || access(p, F_OK) != 0) {
        eng_errf(err, errlen, "%s is not a PostgreSQL data directory", so->data_dir);
        return -ENOENT;
    }
    /* stop the original */
    snprintf(old.data_dir, sizeof old.data_dir, "%s", so->data_dir);
    snprintf(old.sock_dir, sizeof old.sock_dir, "%s", so->socket_dir ? so->socket_dir : so->data_dir);
    pg_cp_fmt(old.log, sizeof old.log, "%s.coffer-stop.log", so->data_dir);
    old.uid = st.st_uid;
    old.gid = st.st_gid;
    old.port = so->port;
    pg_cp_fmt(p, sizeof p, "%s/postmaster.pid", so->data_dir);
    if (access(p, F_OK) == 0) {
        old.running = 1;
        if ((rc = eng_pg_server_stop(&old)) != 0) {
            char tail[700];
            pg_cp_log_tail(old.log, tail, sizeof tail);
            eng_errf(err, errlen, "cannot stop the server on %s: %s", so->data_dir, tail);
            unlink(old.log);
            return rc;
        }
    }
    unlink(old.log);
    /* move it aside */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    if (pg_cp_fmt(aside, sizeof aside, "%s.coffer-replaced-%s", so->data_dir, stamp) != 0 ||
        renameat2(AT_FDCWD, so->data_dir, AT_FDCWD, aside, RENAME_NOREPLACE) != 0) {
        rc = -errno ? -errno : -ENAMETOOLONG;
        eng_errf(err, errlen, "cannot move %s aside: %s", so->data_dir, strerror(-rc));
        goto restart_old;
    }
    r.target_dir = so->data_dir;
    if ((rc = eng_pg_restore(repo, snap, &r, rr, err, errlen)) != 0) goto put_back;
    o.persist = 0;
    if ((rc = eng_pg_server_start(&o, out, err, errlen)) != 0) goto put_back;
    if (aside_out) snprintf(aside_out, aside_len, "%s", aside);
    return 0;

put_back:
    eng_pg_server_stop(out);
    pg_cp_rm_rf(so->data_dir);
    if (rename(aside, so->data_dir) != 0) {
        size_t l = strlen(err);
        snprintf(err + l, errlen > l ? errlen - l : 0, "; and the original could not be put back from %s: %s", aside,
                 strerror(errno));
        return rc;
    }
restart_old:
    if (old.running) {
        struct eng_pg_server again = { 0 };
        struct eng_pg_server_opts oo = { .data_dir = so->data_dir, .socket_dir = so->socket_dir, .port = so->port,
                                         .timeout_s = so->timeout_s };
        if (eng_pg_server_start(&oo, &again, e2, sizeof e2) != 0) {
            size_t l = strlen(err);
            snprintf(err + l, errlen > l ? errlen - l : 0, "; and the original server did not start again: %s", e2);
        }
    }
    return rc;
}
