/* clirun.h: runs the built `coffer` CLI (COFFER_CLI, else build/asan/coffer), or another program, as a
 * child process for the e2e tests: its standard output and error go to files under a scratch
 * directory (clirun.out, clirun.err) and are read back whole. The child's environment: COFFER_URL and
 * COFFER_KEY from the description (unset when NULL), COFFER_TENANT, COFFER_CACERT and COFFER_PIN
 * unset, then the description's additions. A run is bounded: a child still running after
 * CLIRUN_TIMEOUT_S is killed (status -1). The one runner of the e2e suites (e2e_cli, e2e_cli_more,
 * e2e_keys, e2e_tls, e2e_recover_cli, e2e_prune, e2e_verify, e2e_audit). */
#ifndef COFFER_TESTS_CLIRUN_H
#define COFFER_TESTS_CLIRUN_H
#include <stdarg.h>

#define CLIRUN_TIMEOUT_S 90

struct cli_run {
    int status;       /* exit status, -1 when it did not exit normally within the time */
    char *out, *err;  /* malloc'd, released by the next run on the same struct (or clirun_release) */
};

/* How a run is set up: the scratch directory for its output files, the service URL (NULL: COFFER_URL
 * unset), the key (NULL: COFFER_KEY unset) and the working directory (NULL: this one; the binary's
 * relative path is kept valid when it is another); env: more of the environment (NULL-terminated,
 * may be NULL), "NAME=value" to set, "NAME" to unset; merge: standard error goes to out too. */
struct cli_env {
    const char *tmp, *url, *key, *cwd;
    const char *const *env;
    int merge;
};

/* clirun_bin: the CLI binary the tests run. */
const char *clirun_bin(void);
/* clirun_argv: runs argv (NULL-terminated, argv[0] the program's path) into *r (its previous output
 * released first); returns r. */
struct cli_run *clirun_argv(struct cli_run *r, const struct cli_env *e, const char *const *argv);
/* clirun_v / clirun: the CLI with first and the words of ap / of the arguments (NULL-terminated, at
 * most 46) into *r; returns r. */
struct cli_run *clirun_v(struct cli_run *r, const struct cli_env *e, const char *first, va_list ap);
struct cli_run *clirun(struct cli_run *r, const struct cli_env *e, const char *first, ...);
/* clirun_words: the CLI with the words of a NULL-terminated array (at most 46) into *r; returns r. */
struct cli_run *clirun_words(struct cli_run *r, const struct cli_env *e, const char *const *words);
/* clirun_out: the CLI with the words of a NULL-terminated array; returns its standard output (with its
 * error when e->merge; malloc'd, the caller frees) and its exit status in *status. */
char *clirun_out(const struct cli_env *e, const char *const *words, int *status);
void clirun_release(struct cli_run *r);
#endif
