/* clirun.h: runs the built `coffer` CLI (COFFER_CLI, else build/asan/coffer) as a child process for the
 * e2e tests: its standard output and error go to files under a scratch directory and are read back
 * whole; COFFER_URL and COFFER_KEY are set from the environment description, COFFER_TENANT unset. */
#ifndef COFFER_TESTS_CLIRUN_H
#define COFFER_TESTS_CLIRUN_H
#include <stdarg.h>

struct cli_run {
    int status;       /* exit status, -1 when it did not exit normally */
    char *out, *err;  /* malloc'd, released by the next clirun_v on the same struct (or clirun_release) */
};

/* How a run is set up: the scratch directory for its output files, the service URL, the key (NULL: none
 * at all, COFFER_KEY unset) and the working directory (NULL: this one; the binary's relative path is
 * kept valid when it is another). */
struct cli_env {
    const char *tmp, *url, *key, *cwd;
};

/* clirun_bin: the CLI binary the tests run. */
const char *clirun_bin(void);
/* clirun_v: runs the CLI with first and the words of ap (NULL-terminated, at most 46) into *r (its
 * previous output released first); returns r. */
struct cli_run *clirun_v(struct cli_run *r, const struct cli_env *e, const char *first, va_list ap);
void clirun_release(struct cli_run *r);
#endif
