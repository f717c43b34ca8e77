/* embed.h: files built into cofferd at build time. scripts/embed.sh, run by the Makefile, writes for a
 * list of files a C source under build/gen/ with one byte array per file and a table of them, sorted
 * by name: console_files (every file of console/, the web console: console.c) and openapi_files (the
 * description openapi/coffer.json: openapi.c). The bytes are static and never freed. */
#ifndef COFFER_API_EMBED_H
#define COFFER_API_EMBED_H
#include <stddef.h>

struct embed_file {
    const char *name;           /* the file's name (its path's last part), e.g. "app.js" */
    const unsigned char *data;  /* its bytes (not NUL-terminated) */
    size_t len;
    const char *etag;           /* a strong validator: "\"<first 32 hex digits of its SHA-256>\"" */
};

/* build/gen/console_files.c and build/gen/openapi_files.c */
extern const struct embed_file console_files[];
extern const size_t console_files_count;
extern const struct embed_file openapi_files[];
extern const size_t openapi_files_count;
#endif
