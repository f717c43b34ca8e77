# sqldb-convert.sed: turns a catalog file written against SQLite (sqlite3_* calls through
# src/catalog/internal.h) into one written against the statement seam (src/catalog/sqldb.h).
# Purely mechanical; apply with: sed -i -E -f scripts/sqldb-convert.sed src/catalog/FILE.c
# (then build: anything left that names sqlite3 is a call the seam does not have).
s/#include <sqlite3\.h>/#include "catalog\/sqldb.h"/
s/\bsqlite3_stmt\b/sqldb_stmt/g
s/\bsqlite3_int64\b/int64_t/g
s/\bsqlite3_(bind_text|bind_blob|bind_int64|bind_int|bind_double|bind_null)\(/sqldb_\1(/g
s/\bsqlite3_(step|reset|clear_bindings|finalize|changes)\(/sqldb_\1(/g
s/\bsqlite3_column_(int64|int|double|text|blob|bytes|type)\(/sqldb_column_\1(/g
s/\bsqlite3_errmsg\(/sqldb_errmsg(/g
s/\bSQLITE_(STATIC|TRANSIENT|ROW|DONE|OK|ERROR|BUSY|NOMEM|FULL|CONSTRAINT|NULL|INTEGER|FLOAT|TEXT|BLOB)\b/SQLDB_\1/g
s/\bsqlite3 \*/sqldb_conn */g
