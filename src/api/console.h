/* console.h: the web console's static files, embedded into cofferd at build time (embed.h: the
 * Makefile runs scripts/embed.sh over the files of console/ into build/gen/console_files.c, which
 * defines console_files[], one entry per file sorted by name, and console_files_count); console.c
 * serves them at GET /console and /console/<name>. */
#ifndef COFFER_API_CONSOLE_H
#define COFFER_API_CONSOLE_H
#include "api/embed.h"


/* console_file_find: the embedded file named name, or NULL (a predicate-style lookup). */
const struct embed_file *console_file_find(const char *name);
/* console_content_type: the Content-Type for a file name, by its extension. */
const char *console_content_type(const char *name);
#endif
