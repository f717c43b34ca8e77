/* console.h: the web console's static files, embedded into cofferd at build time. The Makefile runs
 * scripts/console-embed.sh over the files of console/ into build/gen/console_files.c, which defines
 * console_files[] (one entry per file, sorted by name) and console_files_count; console.c serves them
 * at GET /console and /console/<name>. The bytes are static and never freed. */
#ifndef COFFER_API_CONSOLE_H
#define COFFER_API_CONSOLE_H
#include <stddef.h>

struct console_file {
    const char *name;           /* the file's name under console/, e.g. "app.js" */
    const unsigned char *data;  /* its bytes */
    size_t len;
    const char *etag;           /* a strong validator: "\"<first 32 hex digits of its SHA-256>\"" */
};

extern const struct console_file console_files[];
extern const size_t console_files_count;

/* console_file_find: the embedded file named name, or NULL (a predicate-style lookup). */
const struct console_file *console_file_find(const char *name);
/* console_content_type: the Content-Type for a file name, by its extension. */
const char *console_content_type(const char *name);
#endif
