/* clirun.c: the program runner of the e2e tests (clirun.h): fork, output files, environment, exec,
 * a bounded wait (polling waitpid, first every millisecond, then up to every 50 ms), read back. */
#include "e2e/clirun.h"
#include "e2e/e2e_recover_fixture.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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

/* child: the child's side, after fork: never returns. */
static void child(const struct cli_env *e, const char *const *argv, const char *outp, const char *errp)
{
    int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = e->merge ? fo : open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const char *prog = argv[0];
    char bin[1200];
    if (fo < 0 || fe < 0) _exit(126);
    dup2(fo, 1);
    dup2(fe, 2);
    /* the binary's path is relative to the test's directory: keep it when the CLI runs elsewhere */
    if (e->cwd && prog[0] != '/' && getcwd(bin, sizeof bin - 200)) {
        strcat(bin, "/");
        strncat(bin, prog, 190);
        prog = bin;
    }
    if (e->cwd && chdir(e->cwd) != 0) _exit(125);
    if (e->url) setenv("COFFER_URL", e->url, 1);
    else unsetenv("COFFER_URL");
    if (e->key) setenv("COFFER_KEY", e->key, 1);
    else unsetenv("COFFER_KEY");
    unsetenv("COFFER_TENANT");
    unsetenv("COFFER_CACERT");
    unsetenv("COFFER_PIN");
    for (const char *const *v = e->env; v && *v; v++) {
        if (strchr(*v, '=')) putenv(strdup(*v));
        else unsetenv(*v);
    }
    execv(prog, (char *const *)argv);
    _exit(127);
}

struct cli_run *clirun_argv(struct cli_run *r, const struct cli_env *e, const char *const *argv)
{
    char outp[700], errp[700];
    struct timespec start, now;
    int st = 0, wait_ms = 1;
    pid_t pid;
    clirun_release(r);
    r->status = -1;
    snprintf(outp, sizeof outp, "%s/clirun.out", e->tmp);
    snprintf(errp, sizeof errp, "%s/clirun.err", e->tmp);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) child(e, argv, outp, errp);
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (pid > 0) {
        pid_t got = waitpid(pid, &st, WNOHANG);
        if (got == pid || got < 0) {
            if (got == pid && WIFEXITED(st)) r->status = WEXITSTATUS(st);
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= CLIRUN_TIMEOUT_S) { /* still running: a failure */
            fprintf(stderr, "clirun: %s still running after %d s: killed\n", argv[0], CLIRUN_TIMEOUT_S);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        usleep((useconds_t)wait_ms * 1000);
        if (wait_ms < 50) wait_ms *= 2;
    }
    r->out = slurp(outp);
    r->err = e->merge ? strdup("") : slurp(errp);
    return r;
}

struct cli_run *clirun_v(struct cli_run *r, const struct cli_env *e, const char *first, va_list ap)
{
    const char *argv[48];
    int n = 0;
    argv[n++] = clirun_bin();
    argv[n++] = first;
    for (const char *w; n < 47 && (w = va_arg(ap, const char *)) != NULL;) argv[n++] = w;
    argv[n] = NULL;
    return clirun_argv(r, e, argv);
}

struct cli_run *clirun(struct cli_run *r, const struct cli_env *e, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    clirun_v(r, e, first, ap);
    va_end(ap);
    return r;
}

struct cli_run *clirun_words(struct cli_run *r, const struct cli_env *e, const char *const *words)
{
    const char *argv[48];
    int n = 0;
    argv[n++] = clirun_bin();
    for (; *words && n < 47; words++) argv[n++] = *words;
    argv[n] = NULL;
    return clirun_argv(r, e, argv);
}

char *clirun_out(const struct cli_env *e, const char *const *words, int *status)
{
    struct cli_run r = { 0 };
    char *out;
    clirun_words(&r, e, words);
    out = r.out;
    r.out = NULL;
    *status = r.status;
    clirun_release(&r);
    return out;
}
