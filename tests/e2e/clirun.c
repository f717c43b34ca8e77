/* clirun.c: the CLI runner of the e2e tests (clirun.h): fork, output files, exec, wait, read back. */
#include "e2e/clirun.h"
#include "e2e/e2e_recover_fixture.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *clirun_bin(void)
{
    const char *b = getenv("COFFER_CLI");
    if (b && *b) return b;
    return "build/asan/coffer"; /* the sanitizer build only: a missing one is a failure, not a fallback */
}

/* slurp: a file's bytes as a string ("" when it cannot be read). */
static char *slurp(const char *path)
{
    char *data;
    size_t n;
    if (read_all(path, &data, &n) != 0) return strdup("");
    data[n] = '\0';
    return data;
}

void clirun_release(struct cli_run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

struct cli_run *clirun_v(struct cli_run *r, const struct cli_env *e, const char *first, va_list ap)
{
    const char *argv[48];
    char outp[700], errp[700];
    int n = 0, st;
    pid_t pid;
    clirun_release(r);
    argv[n++] = clirun_bin();
    argv[n++] = first;
    for (const char *w; n < 47 && (w = va_arg(ap, const char *)) != NULL;) argv[n++] = w;
    argv[n] = NULL;
    snprintf(outp, sizeof outp, "%s/out", e->tmp);
    snprintf(errp, sizeof errp, "%s/err", e->tmp);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        char bin[1200];
        if (fo < 0 || fe < 0) _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        /* the binary's path is relative to the test's directory: keep it when the CLI runs elsewhere */
        if (e->cwd && argv[0][0] != '/' && getcwd(bin, sizeof bin - 200)) {
            strcat(bin, "/");
            strncat(bin, argv[0], 190);
            argv[0] = bin;
        }
        if (e->cwd && chdir(e->cwd) != 0) _exit(125);
        setenv("COFFER_URL", e->url, 1);
        if (e->key) setenv("COFFER_KEY", e->key, 1);
        else unsetenv("COFFER_KEY");
        unsetenv("COFFER_TENANT");
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    r->status = -1;
    if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st)) r->status = WEXITSTATUS(st);
    r->out = slurp(outp);
    r->err = slurp(errp);
    return r;
}
