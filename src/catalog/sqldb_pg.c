/* sqldb_pg.c: the PostgreSQL driver behind the statement seam (sqldb.h), over libpq.
 *
 * One connection per thread (as with SQLite). A statement is translated once, at prepare, from
 * the catalog's SQLite dialect (pg_translate below, the one place that knows the differences) and
 * PQprepare'd under a name unique on its connection; it is executed by PQexecPrepared with
 * text-format parameters whose types the server infers (the catalog's SQL casts where it cannot)
 * and blobs as binary bytea. The whole result is fetched at the first step and rows are walked from
 * it, so a caller may run other statements between steps as it does on SQLite. A statement that
 * starts with SQLDB_PLAN_EACH is still prepared once (to learn its parameter types and fail early)
 * but executed as an unnamed statement, planned with its values each time.
 *
 * Translation (outside quoted strings and dollar-quoted bodies): ?N -> $N; INSERT OR IGNORE ->
 * INSERT ... ON CONFLICT DO NOTHING; LIKE -> ILIKE (SQLite's LIKE is ASCII case-insensitive);
 * ifnull -> coalesce; CROSS JOIN (SQLite's join-order hint) -> JOIN; "x IN (SELECT value FROM json_each(?N))" -> "x::text IN (SELECT
 * jsonb_array_elements_text($N::jsonb))" (list filters bound as a JSON array; comparing as text
 * lets one form serve text and integer columns); and in DDL INTEGER -> BIGINT, REAL -> DOUBLE
 * PRECISION, BLOB -> BYTEA, INTEGER PRIMARY KEY -> an identity column, WITHOUT ROWID dropped.
 * SQLite's JSON1 functions that statements call inside expressions (json_insert, json_set,
 * json_group_array) are SQL functions created by migration 18 in the catalog's schema rather than
 * rewritten here: their arguments are whole expressions, which a token rewrite cannot move
 * safely. Statements that differ in shape (FTS5 search, INSERT OR REPLACE, GLOB) come as pairs
 * (cat_stmt_alt).
 *
 * Results: SQLSTATE class 23 (integrity) -> SQLDB_CONSTRAINT, 53100 (disk_full) -> SQLDB_FULL,
 * 40001/40P01 (serialization, deadlock) -> SQLDB_BUSY, anything else SQLDB_ERROR. Booleans read
 * as 1/0. A COMMIT the server turned into a ROLLBACK (the transaction had failed) is an error.
 * Write transactions (begin) take a transaction-scoped advisory lock, the one SQLite's BEGIN
 * IMMEDIATE stood for: writers that read then write are serialised as on SQLite. The schema version
 * lives in the table coffer_schema. */
#include "catalog/sqldb.h"
#include <ctype.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_MAX_PARAMS 64
#define PG_BOOLOID 16
#define PG_BYTEAOID 17
#define PG_INT8OID 20
#define PG_INT2OID 21
#define PG_INT4OID 23
#define PG_FLOAT4OID 700
#define PG_FLOAT8OID 701
#define PG_NUMERICOID 1700
#define PG_JSONBOID 3802
#define PG_TEXTOID 25
/* The catalog's advisory lock key for write transactions ("Coffer" in ASCII). */
#define PG_WRITE_LOCK "436f66666572"

struct pg_conn {
    struct sqldb_conn base;
    PGconn *pg;
    int64_t changes;
    unsigned next_name;
    char err[1024];
    char sqlstate[6];
};

struct pg_param {
    const char *val;     /* NULL: SQL NULL */
    char *own;           /* a copy (TRANSIENT text, numbers); freed on rebind and finalize */
    size_t cap;
    int len, fmt;
};

struct pg_stmt {
    struct sqldb_stmt base;
    struct pg_conn *c;
    char name[24];
    char *sql;           /* the translated text (for messages; executed itself when plan_each) */
    int nparams;
    int plan_each;       /* SQLDB_PLAN_EACH: PQexecParams with types[] at each step, no named plan */
    Oid types[PG_MAX_PARAMS];
    struct pg_param p[PG_MAX_PARAMS];
    PGresult *res;
    int row, nrows, done;
    unsigned char *blob; /* column_blob's decoded bytea (until the next step or reset) */
    size_t blob_len;
    int blob_row, blob_col;
};

static const struct sqldb_ops pg_ops;
#define PC(x) ((struct pg_conn *)(x))
#define PS(x) ((struct pg_stmt *)(x))

/* ---------- translation ---------- */

struct buf { char *p; size_t n, cap; };

static int buf_put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

static int buf_str(struct buf *b, const char *s) { return buf_put(b, s, strlen(s)); }

static int is_ident(int c) { return isalnum(c) || c == '_'; }

/* word_at: whether the case-insensitive word w starts at s and ends there (not a longer identifier). */
static int word_at(const char *s, const char *w)
{
    size_t n = strlen(w);
    return strncasecmp(s, w, n) == 0 && !is_ident((unsigned char)s[n]);
}

/* seq_at: the words of seq (single spaces between them, any whitespace in s) at s; its length or 0. */
static size_t seq_at(const char *s, const char *seq)
{
    const char *p = s;
    while (*seq) {
        if (*seq == ' ') {
            if (!isspace((unsigned char)*p)) return 0;
            while (isspace((unsigned char)*p)) p++;
            seq++;
            continue;
        }
        if (tolower((unsigned char)*p) != tolower((unsigned char)*seq)) return 0;
        p++;
        seq++;
    }
    if (is_ident((unsigned char)p[-1]) && is_ident((unsigned char)*p)) return 0;
    return (size_t)(p - s);
}

char *sqldb_pg_translate(const char *sql, int *maxparam, unsigned *types)
{
    struct buf b = { 0 };
    const char *s = sql;
    int ignore = 0, max = 0, err = 0;
    if (buf_put(&b, "", 0) != 0) return NULL;
    while (*s && !err) {
        unsigned char c = (unsigned char)*s;
        size_t k;
        if (c == '\'' || c == '"') { /* a quoted string or identifier, copied whole */
            const char *e = s + 1;
            for (;;) {
                if (!*e) break;
                if (*e == (char)c) {
                    if (e[1] == (char)c) { e += 2; continue; }
                    e++;
                    break;
                }
                e++;
            }
            err = buf_put(&b, s, (size_t)(e - s));
            s = e;
        } else if (c == '$' && (s[1] == '$' || isalpha((unsigned char)s[1]))) { /* $tag$ ... $tag$ */
            const char *t = s + 1, *end;
            while (is_ident((unsigned char)*t)) t++;
            if (*t != '$') {
                err = buf_put(&b, s, 1);
                s++;
                continue;
            }
            {
                size_t tl = (size_t)(t - s + 1);
                char tag[64];
                if (tl >= sizeof tag) { err = -1; break; }
                memcpy(tag, s, tl);
                tag[tl] = '\0';
                end = strstr(t + 1, tag);
                end = end ? end + tl : s + strlen(s);
                err = buf_put(&b, s, (size_t)(end - s));
                s = end;
            }
        } else if (c == '?' && isdigit((unsigned char)s[1])) {
            char *e;
            long n = strtol(s + 1, &e, 10);
            char num[24];
            if (n > max) max = (int)n;
            snprintf(num, sizeof num, "$%ld", n);
            err = buf_str(&b, num);
            s = e;
        } else if (c == ';') {
            if (ignore) err = buf_str(&b, " ON CONFLICT DO NOTHING");
            ignore = 0;
            if (!err) err = buf_put(&b, s, 1);
            s++;
        } else if ((isalpha(c) || c == '_') && (s == sql || !is_ident((unsigned char)s[-1]))) {
            const char *e = s;
            while (is_ident((unsigned char)*e)) e++;
            if ((k = seq_at(s, "INSERT OR IGNORE"))) {
                ignore = 1;
                err = buf_str(&b, "INSERT");
                s += k;
            } else if ((k = seq_at(s, "CROSS JOIN"))) { /* SQLite's join-order hint; PostgreSQL's takes no ON */
                err = buf_str(&b, "JOIN");
                s += k;
            } else if ((k = seq_at(s, "WITHOUT ROWID"))) {
                s += k;
            } else if ((k = seq_at(s, "INTEGER PRIMARY KEY"))) {
                err = buf_str(&b, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
                s += k;
            } else if ((k = seq_at(s, "IN (SELECT value FROM json_each(?")) && isdigit((unsigned char)s[k])) {
                char *q;
                long n = strtol(s + k, &q, 10);
                char rep[96];
                if (strncmp(q, "))", 2) != 0) {
                    err = buf_put(&b, s, (size_t)(e - s));
                    s = e;
                    continue;
                }
                while (b.n > 0 && b.p[b.n - 1] == ' ') b.p[--b.n] = '\0';
                if (n > max) max = (int)n;
                if (types && n >= 1 && n <= PG_MAX_PARAMS) types[n - 1] = PG_JSONBOID;
                snprintf(rep, sizeof rep, "::text IN (SELECT jsonb_array_elements_text($%ld::jsonb))", n);
                err = buf_str(&b, rep);
                s = q + 2;
            } else if (word_at(s, "LIKE")) {
                err = buf_str(&b, "ILIKE");
                s = e;
            } else if (word_at(s, "ifnull")) {
                err = buf_str(&b, "coalesce");
                s = e;
            } else if (word_at(s, "INTEGER")) {
                err = buf_str(&b, "BIGINT");
                s = e;
            } else if (word_at(s, "REAL")) {
                err = buf_str(&b, "DOUBLE PRECISION");
                s = e;
            } else if (word_at(s, "BLOB")) {
                err = buf_str(&b, "BYTEA");
                s = e;
            } else {
                err = buf_put(&b, s, (size_t)(e - s));
                s = e;
            }
        } else {
            err = buf_put(&b, s, 1);
            s++;
        }
    }
    if (!err && ignore) err = buf_str(&b, " ON CONFLICT DO NOTHING");
    if (err) {
        free(b.p);
        return NULL;
    }
    if (maxparam) *maxparam = max;
    return b.p;
}

/* ---------- errors ---------- */

static int pg_fail(struct pg_conn *c, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg);
    size_t n;
    snprintf(c->err, sizeof c->err, "%s", msg && *msg ? msg : "PostgreSQL error");
    n = strlen(c->err);
    while (n > 0 && (c->err[n - 1] == '\n' || c->err[n - 1] == ' ')) c->err[--n] = '\0';
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    if (state && strncmp(state, "23", 2) == 0) return SQLDB_CONSTRAINT;
    if (state && strcmp(state, "53100") == 0) return SQLDB_FULL;
    if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) return SQLDB_BUSY;
    return SQLDB_ERROR;
}

/* ---------- statements ---------- */

/* prepare_typed: PQprepare under a new name with the types the translation told. A parameter the
 * server cannot type (first met as "?N IS NULL") is declared text: the catalog binds optional
 * filters as text; one retry per parameter at most. A parameter the server typed as a 16- or 32-bit
 * integer (compared with a literal: "?4 = 0") is declared bigint and the statement prepared again:
 * the catalog's integers are 64-bit. The last result (the caller clears it). */
/* prepare_once: PQprepare; inside a transaction under a savepoint, so that a failed attempt does
 * not end the transaction. */
static PGresult *prepare_once(struct pg_conn *c, struct pg_stmt *s, const Oid *types)
{
    int in_tx = PQtransactionStatus(c->pg) == PQTRANS_INTRANS;
    PGresult *r;
    if (in_tx) PQclear(PQexec(c->pg, "SAVEPOINT sqldb_prepare"));
    r = PQprepare(c->pg, s->name, s->sql, s->nparams, types);
    if (in_tx)
        PQclear(PQexec(c->pg, r && PQresultStatus(r) == PGRES_COMMAND_OK ? "RELEASE SAVEPOINT sqldb_prepare"
                                                                         : "ROLLBACK TO SAVEPOINT sqldb_prepare"));
    return r;
}

static PGresult *prepare_typed(struct pg_conn *c, struct pg_stmt *s, Oid *types)
{
    PGresult *r, *d;
    int again = 0;
    snprintf(s->name, sizeof s->name, "c%u", ++c->next_name);
    r = prepare_once(c, s, types);
    for (int tries = 0; tries < s->nparams && r && PQresultStatus(r) != PGRES_COMMAND_OK; tries++) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE), *m = PQresultErrorMessage(r);
        const char *p = m ? strstr(m, "parameter $") : NULL;
        long n = p ? strtol(p + 11, NULL, 10) : 0;
        if (!state || (strcmp(state, "42P18") != 0 && strcmp(state, "42P08") != 0) || n < 1 || n > s->nparams ||
            types[n - 1] != 0)
            break;
        types[n - 1] = PG_TEXTOID;
        PQclear(r);
        r = prepare_once(c, s, types);
    }
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK || s->nparams == 0) return r;
    d = PQdescribePrepared(c->pg, s->name);
    if (d && PQresultStatus(d) == PGRES_COMMAND_OK) {
        for (int i = 0; i < s->nparams && i < PQnparams(d); i++) {
            Oid t = PQparamtype(d, i);
            if (t == PG_INT4OID || t == PG_INT2OID) {
                types[i] = PG_INT8OID;
                again = 1;
            } else if (types[i] == 0) {
                types[i] = t;
            }
        }
    }
    PQclear(d);
    if (!again) return r;
    PQclear(r);
    snprintf(s->name, sizeof s->name, "c%u", ++c->next_name);
    return prepare_once(c, s, types);
}

static sqldb_stmt *pg_prepare(sqldb_conn *conn, const char *sql)
{
    struct pg_conn *c = PC(conn);
    struct pg_stmt *s = calloc(1, sizeof *s);
    Oid types[PG_MAX_PARAMS] = { 0 };
    PGresult *r;
    if (!s) return NULL;
    s->base.ops = &pg_ops;
    s->c = c;
    s->blob_row = -1;
    s->sql = sqldb_pg_translate(sql, &s->nparams, types);
    if (!s->sql || s->nparams > PG_MAX_PARAMS) {
        snprintf(c->err, sizeof c->err, "cannot translate the statement");
        free(s->sql);
        free(s);
        return NULL;
    }
    r = prepare_typed(c, s, types);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_fail(c, r);
        PQclear(r);
        free(s->sql);
        free(s);
        return NULL;
    }
    PQclear(r);
    if (strncmp(sql, SQLDB_PLAN_EACH, strlen(SQLDB_PLAN_EACH)) == 0) {
        s->plan_each = 1;
        memcpy(s->types, types, sizeof s->types);
    }
    return &s->base;
}

static void stmt_clear_result(struct pg_stmt *s)
{
    PQclear(s->res);
    s->res = NULL;
    s->row = s->nrows = s->done = 0;
    PQfreemem(s->blob);
    s->blob = NULL;
    s->blob_row = -1;
}

/* A prepared statement lives as long as its connection (the cache finalizes statements only when
 * the connection closes, which drops them on the server). */
static void pg_finalize(sqldb_stmt *st)
{
    struct pg_stmt *s = PS(st);
    stmt_clear_result(s);
    for (int i = 0; i < PG_MAX_PARAMS; i++) free(s->p[i].own);
    free(s->sql);
    free(s);
}

static struct pg_param *param(struct pg_stmt *s, int i)
{
    if (i < 1 || i > PG_MAX_PARAMS) return NULL;
    return &s->p[i - 1];
}

static int param_copy(struct pg_param *p, const void *v, size_t n, int fmt)
{
    if (n + 1 > p->cap) {
        char *q = realloc(p->own, n + 1);
        if (!q) return SQLDB_NOMEM;
        p->own = q;
        p->cap = n + 1;
    }
    memcpy(p->own, v, n);
    p->own[n] = '\0';
    p->val = p->own;
    p->len = (int)n;
    p->fmt = fmt;
    return SQLDB_OK;
}

static int pg_bind_text(sqldb_stmt *st, int i, const char *str, int n, enum sqldb_lifetime l)
{
    struct pg_param *p = param(PS(st), i);
    if (!p) return SQLDB_ERROR;
    if (!str) { p->val = NULL; return SQLDB_OK; }
    if (l == SQLDB_STATIC && n < 0) {
        p->val = str;
        p->len = 0;
        p->fmt = 0;
        return SQLDB_OK;
    }
    return param_copy(p, str, n < 0 ? strlen(str) : (size_t)n, 0);
}

static int pg_bind_blob(sqldb_stmt *st, int i, const void *v, int n, enum sqldb_lifetime l)
{
    struct pg_param *p = param(PS(st), i);
    if (!p) return SQLDB_ERROR;
    if (!v) { p->val = NULL; return SQLDB_OK; }
    return param_copy(p, v, (size_t)n, 1);
}

static int pg_bind_int64(sqldb_stmt *st, int i, int64_t v)
{
    char num[24];
    struct pg_param *p = param(PS(st), i);
    if (!p) return SQLDB_ERROR;
    snprintf(num, sizeof num, "%" PRId64, v);
    return param_copy(p, num, strlen(num), 0);
}

static int pg_bind_double(sqldb_stmt *st, int i, double v)
{
    char num[40];
    struct pg_param *p = param(PS(st), i);
    if (!p) return SQLDB_ERROR;
    snprintf(num, sizeof num, "%.17g", v);
    return param_copy(p, num, strlen(num), 0);
}

static int pg_bind_null(sqldb_stmt *st, int i)
{
    struct pg_param *p = param(PS(st), i);
    if (!p) return SQLDB_ERROR;
    p->val = NULL;
    return SQLDB_OK;
}

/* note_changes: what sqldb_changes reports after a command (INSERT/UPDATE/DELETE only, as SQLite). */
static void note_changes(struct pg_conn *c, const PGresult *r)
{
    const char *status = PQcmdStatus((PGresult *)r);
    if (strncmp(status, "INSERT", 6) == 0 || strncmp(status, "UPDATE", 6) == 0 ||
        strncmp(status, "DELETE", 6) == 0)
        c->changes = strtoll(PQcmdTuples((PGresult *)r), NULL, 10);
}

static int pg_step(sqldb_stmt *st)
{
    struct pg_stmt *s = PS(st);
    if (s->done) return SQLDB_DONE;
    if (!s->res) {
        const char *vals[PG_MAX_PARAMS];
        int lens[PG_MAX_PARAMS], fmts[PG_MAX_PARAMS];
        ExecStatusType rs;
        for (int i = 0; i < s->nparams; i++) {
            vals[i] = s->p[i].val;
            lens[i] = s->p[i].len;
            fmts[i] = s->p[i].fmt;
        }
        if (s->plan_each)
            s->res = PQexecParams(s->c->pg, s->sql, s->nparams, s->types, vals, lens, fmts, 0);
        else
            s->res = PQexecPrepared(s->c->pg, s->name, s->nparams, vals, lens, fmts, 0);
        rs = s->res ? PQresultStatus(s->res) : PGRES_FATAL_ERROR;
        if (rs == PGRES_COMMAND_OK) {
            note_changes(s->c, s->res);
            if (strcmp(PQcmdStatus(s->res), "ROLLBACK") == 0 && strncasecmp(s->sql, "COMMIT", 6) == 0) {
                snprintf(s->c->err, sizeof s->c->err, "the transaction failed and was rolled back");
                s->done = 1;
                return SQLDB_ERROR;
            }
            s->done = 1;
            return SQLDB_DONE;
        }
        if (rs != PGRES_TUPLES_OK) {
            int rc = pg_fail(s->c, s->res);
            PQclear(s->res);
            s->res = NULL;
            s->done = 1;
            return rc;
        }
        note_changes(s->c, s->res);
        s->nrows = PQntuples(s->res);
        s->row = -1;
    }
    PQfreemem(s->blob);
    s->blob = NULL;
    s->blob_row = -1;
    if (++s->row < s->nrows) return SQLDB_ROW;
    s->done = 1;
    return SQLDB_DONE;
}

static int pg_reset(sqldb_stmt *st)
{
    stmt_clear_result(PS(st));
    return SQLDB_OK;
}

static int pg_clear_bindings(sqldb_stmt *st)
{
    struct pg_stmt *s = PS(st);
    for (int i = 0; i < PG_MAX_PARAMS; i++) s->p[i].val = NULL;
    return SQLDB_OK;
}

static int have_cell(struct pg_stmt *s, int i)
{
    return s->res && s->row >= 0 && s->row < s->nrows && i >= 0 && i < PQnfields(s->res) &&
           !PQgetisnull(s->res, s->row, i);
}

static int pg_column_type(sqldb_stmt *st, int i)
{
    struct pg_stmt *s = PS(st);
    if (!have_cell(s, i)) return SQLDB_NULL;
    switch (PQftype(s->res, i)) {
    case PG_BOOLOID: case PG_INT2OID: case PG_INT4OID: case PG_INT8OID: return SQLDB_INTEGER;
    case PG_FLOAT4OID: case PG_FLOAT8OID: case PG_NUMERICOID: return SQLDB_FLOAT;
    case PG_BYTEAOID: return SQLDB_BLOB;
    default: return SQLDB_TEXT;
    }
}

static int64_t pg_column_int64(sqldb_stmt *st, int i)
{
    struct pg_stmt *s = PS(st);
    const char *v;
    if (!have_cell(s, i)) return 0;
    v = PQgetvalue(s->res, s->row, i);
    if (PQftype(s->res, i) == PG_BOOLOID) return v[0] == 't';
    if ((PQftype(s->res, i) == PG_NUMERICOID && strpbrk(v, ".eEN")) || PQftype(s->res, i) == PG_FLOAT8OID ||
        PQftype(s->res, i) == PG_FLOAT4OID)
        return (int64_t)strtod(v, NULL); /* an integral numeric (a sum) reads exactly below */
    return strtoll(v, NULL, 10);
}

static double pg_column_double(sqldb_stmt *st, int i)
{
    struct pg_stmt *s = PS(st);
    if (!have_cell(s, i)) return 0;
    return strtod(PQgetvalue(s->res, s->row, i), NULL);
}

static const unsigned char *pg_column_text(sqldb_stmt *st, int i)
{
    struct pg_stmt *s = PS(st);
    const char *v;
    if (!have_cell(s, i)) return NULL;
    v = PQgetvalue(s->res, s->row, i);
    if (PQftype(s->res, i) == PG_BOOLOID) return (const unsigned char *)(v[0] == 't' ? "1" : "0");
    return (const unsigned char *)v;
}

static const void *pg_column_blob(sqldb_stmt *st, int i)
{
    struct pg_stmt *s = PS(st);
    if (!have_cell(s, i)) return NULL;
    if (PQftype(s->res, i) != PG_BYTEAOID) return PQgetvalue(s->res, s->row, i);
    if (s->blob_row != s->row || s->blob_col != i) {
        PQfreemem(s->blob);
        s->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(s->res, s->row, i), &s->blob_len);
        s->blob_row = s->row;
        s->blob_col = i;
    }
    return s->blob;
}

static int pg_column_bytes(sqldb_stmt *st, int i)
{
    struct pg_stmt *s = PS(st);
    if (!have_cell(s, i)) return 0;
    if (PQftype(s->res, i) == PG_BYTEAOID) {
        pg_column_blob(st, i);
        return (int)s->blob_len;
    }
    return PQgetlength(s->res, s->row, i);
}

/* ---------- connections ---------- */

static int64_t pg_changes(sqldb_conn *c) { return PC(c)->changes; }

static int pg_exec(sqldb_conn *conn, const char *sql)
{
    struct pg_conn *c = PC(conn);
    char *t = sqldb_pg_translate(sql, NULL, NULL);
    PGresult *r;
    int rc = SQLDB_OK;
    if (!t) return SQLDB_NOMEM;
    r = PQexec(c->pg, t);
    free(t);
    if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK &&
               PQresultStatus(r) != PGRES_EMPTY_QUERY))
        rc = pg_fail(c, r);
    else if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0 && strncasecmp(sql, "COMMIT", 6) == 0) {
        snprintf(c->err, sizeof c->err, "the transaction failed and was rolled back");
        rc = SQLDB_ERROR;
    } else if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        note_changes(c, r);
    }
    PQclear(r);
    return rc;
}

static const char *pg_errmsg(sqldb_conn *c)
{
    return PC(c)->err[0] ? PC(c)->err : "no error";
}

static int pg_disk_full(sqldb_conn *c, int rc)
{
    return rc == SQLDB_FULL || (rc == 0 && strcmp(PC(c)->sqlstate, "53100") == 0);
}

static int pg_in_transaction(sqldb_conn *c)
{
    return PQtransactionStatus(PC(c)->pg) != PQTRANS_IDLE;
}

static int pg_broken(sqldb_conn *c)
{
    return PQstatus(PC(c)->pg) != CONNECTION_OK;
}

static int pg_begin(sqldb_conn *c)
{
    int rc = pg_exec(c, "BEGIN");
    if (rc == SQLDB_OK) {
        rc = pg_exec(c, "SELECT pg_advisory_xact_lock(x'" PG_WRITE_LOCK "'::bigint)");
        if (rc != SQLDB_OK) pg_exec(c, "ROLLBACK");
    }
    return rc;
}

static int pg_get_version(sqldb_conn *conn)
{
    struct pg_conn *c = PC(conn);
    PGresult *r = PQexec(c->pg, "SELECT version FROM coffer_schema");
    int v = -1;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK) v = PQntuples(r) > 0 ? atoi(PQgetvalue(r, 0, 0)) : 0;
    else pg_fail(c, r);
    PQclear(r);
    return v;
}

static int pg_set_version(sqldb_conn *c, int version)
{
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE coffer_schema SET version = %d", version);
    return pg_exec(c, sql);
}

static void pg_close(sqldb_conn *c)
{
    PQfinish(PC(c)->pg);
    PC(c)->pg = NULL;
    free(c);
}

static const struct sqldb_ops pg_ops = {
    SQLDB_PG, pg_prepare, pg_finalize, pg_bind_text, pg_bind_blob, pg_bind_int64, pg_bind_double,
    pg_bind_null, pg_step, pg_reset, pg_clear_bindings, pg_column_type, pg_column_int64, pg_column_double,
    pg_column_text, pg_column_blob, pg_column_bytes, pg_changes, pg_exec, pg_errmsg, pg_disk_full,
    pg_in_transaction, pg_broken, pg_begin, pg_get_version, pg_set_version, pg_close,
};

sqldb_conn *sqldb_pg_open(const char *conninfo, char *err, size_t errlen)
{
    struct pg_conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->base.ops = &pg_ops;
    c->pg = PQconnectdb(conninfo);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
        pg_close(&c->base);
        return NULL;
    }
    /* The schema version table (created once; concurrent first opens race harmlessly: IF NOT EXISTS
     * under the write lock). Messages below WARNING stay out of the daemon's log. */
    if (pg_exec(&c->base, "SET client_min_messages = warning") != SQLDB_OK ||
        pg_begin(&c->base) != SQLDB_OK ||
        pg_exec(&c->base, "CREATE TABLE IF NOT EXISTS coffer_schema (version BIGINT NOT NULL);"
                          "INSERT INTO coffer_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM coffer_schema)") !=
            SQLDB_OK ||
        pg_exec(&c->base, "COMMIT") != SQLDB_OK) {
        snprintf(err, errlen, "cannot set up the PostgreSQL catalog: %s", c->err);
        pg_close(&c->base);
        return NULL;
    }
    return &c->base;
}
