/* pgtest.h: a private PostgreSQL 15 server for tests (Debian's packages, binaries from
 * /usr/lib/postgresql/15/bin): initdb in a temporary directory owned by the `postgres` system user
 * (initdb and postgres refuse root: when run as root, the tools run as postgres), started on a
 * private unix-socket directory only (listen_addresses = ''), wal_level = replica, with
 * max_wal_senders and trust authentication for local connections; SQL through libpq; fast stop and
 * removal. Every wait is bounded. Functions return 0 or a negative errno code, with a sentence in
 * why. */
#ifndef COFFER_TESTS_PGTEST_H
#define COFFER_TESTS_PGTEST_H
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#define PGTEST_BIN "/usr/lib/postgresql/15/bin"

struct pgtest {
    char root[512];      /* the temporary directory (owned by postgres); removed by pgtest_destroy */
    char data[600];      /* the data directory this server runs on */
    char sock[600];      /* its socket directory */
    char log[600];       /* its server log */
    int port;
    int running;
};

/* pgtest_available: 0 if the server binaries and the postgres user are there, else -ENOENT + why. */
int pgtest_available(char *why, size_t n);
/* pgtest_root: makes the temporary directory (owned by postgres, mode 0700) with a socket directory;
 * data is set to root/<name>, not created. */
int pgtest_root(struct pgtest *p, const char *tag, const char *name, int port, char *why, size_t n);
/* pgtest_initdb: a new cluster in p->data with the test settings appended to postgresql.conf. */
int pgtest_initdb(struct pgtest *p, char *why, size_t n);
/* pgtest_start: pg_ctl start -w (60 s at most) on p->data with port and socket directory forced on
 * the command line (a restored data directory keeps its source's postgresql.conf). */
int pgtest_start(struct pgtest *p, char *why, size_t n);
/* pgtest_stop: pg_ctl stop -m fast (60 s at most); 0 if not running. */
int pgtest_stop(struct pgtest *p);
/* pgtest_destroy: stops and removes the whole temporary directory. */
void pgtest_destroy(struct pgtest *p);
/* pgtest_conninfo: the libpq connection string for a database of this server (user postgres). */
void pgtest_conninfo(const struct pgtest *p, const char *db, char *out, size_t n);
/* pgtest_connect: a connection (NULL on failure; message on stderr). */
PGconn *pgtest_connect(const struct pgtest *p, const char *db);
/* pgtest_exec: runs SQL (several statements allowed); 0 or -EIO with the server's message in why. */
int pgtest_exec(PGconn *c, const char *sql, char *why, size_t n);
/* pgtest_value: the first column of the first row as text into out; -EIO on error or no row. */
int pgtest_value(PGconn *c, const char *sql, char *out, size_t n);
/* pgtest_lsn: a pg_lsn text "X/Y" as a number; 0 if it is not one. */
uint64_t pgtest_lsn(const char *text);
/* pgtest_run: runs argv[0] (a full path) with argv as the postgres user when root (else as ourselves),
 * output to log (appended; NULL = /dev/null), killed after timeout_s. Its exit status, or -1. */
int pgtest_run(char *const argv[], const char *log, int timeout_s);
/* pgtest_serve_or_skip: a test binary's PostgreSQL: pgtest_available, pgtest_root(p, tag, "data", port),
 * pgtest_initdb, pgtest_start. 0 when it runs; otherwise every one of the n tests is skipped with the
 * reason, p is destroyed and -1 is returned (the caller returns check_finish()). */
int pgtest_serve_or_skip(struct pgtest *p, const char *tag, int port, const char *const *tests, size_t n);
/* pgtest_amcheck: pg_amcheck --all --install-missing --heapallindexed on the server (as postgres), output
 * to <root>/amcheck.log; 0 when it finds nothing, else its exit status with why naming the log. */
int pgtest_amcheck(struct pgtest *p, char *why, size_t n);
/* pgtest_catalog: the catalog target a test opens for the SQLite file path: path itself, or, when
 * COFFER_TEST_CATALOG=pg, the conninfo of a PostgreSQL database private to path (named from a hash
 * of it, created on first use, so reopening path reopens the same catalog) on this process's
 * private server, started on first use and destroyed at exit. 0, or -1 with why in out (the
 * server could not start). */
int pgtest_catalog(const char *path, char *out, size_t n);
/* pgtest_cat: pgtest_catalog for tests that only open a catalog: the target in a static buffer
 * (valid until the next call); when PostgreSQL cannot start, says why on stderr and returns a
 * target that fails to open, so the test fails. */
const char *pgtest_cat(const char *path);
/* pgtest_catalog_is_pg: whether COFFER_TEST_CATALOG=pg. */
int pgtest_catalog_is_pg(void);
#endif
