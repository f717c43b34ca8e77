/* agentrun.c: see agentrun.h. fork, the output files opened in the child, exec (execvp so that "ip"
 * is found on PATH); waiting polls waitpid every 100 ms up to the limit. */
#include "e2e/agentrun.h"
#include "e2e/harness.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define AGENTRUN_MAX_WORDS 40

const char *agentrun_bin(void)
{
    const char *b = getenv("COFFER_AGENT_BIN");
    return b && *b ? b : "build/asan/coffer-agent";
}

pid_t agentrun_spawn_v(const char *netns, const char *out_path, const char *err_path, const char *first, va_list ap)
{
    const char *argv[AGENTRUN_MAX_WORDS + 6];
    int n = 0;
    pid_t pid;
    if (netns && *netns) {
        argv[n++] = "ip";
        argv[n++] = "netns";
        argv[n++] = "exec";
        argv[n++] = netns;
    }
    argv[n++] = agentrun_bin();
    if (first) {
        argv[n++] = first;
        for (const char *w; n < AGENTRUN_MAX_WORDS + 4 && (w = va_arg(ap, const char *)) != NULL;) argv[n++] = w;
    }
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo >= 0) dup2(fo, 1);
        if (fe >= 0) dup2(fe, 2);
        setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0", 0);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int agentrun_wait(pid_t pid, int secs)
{
    int st;
    for (int i = 0; i < secs * 10; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        usleep(100 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int agentrun_token(struct daemon *d, const char *tenant, const char *conn_name, char *tok, size_t toklen)
{
    char path[200], conn[64] = "";
    struct http_resp r;
    json_t *body = json_pack("{s:s}", "connectionName", conn_name);
    int rc = body ? http_json(d, "POST", "/v2/data-source-connections", tenant, body, &r) : -1;
    json_decref(body);
    tok[0] = 0;
    if (rc != 0) return -1;
    if (r.status == 201 && jstr(r.json, "connectionId")) snprintf(conn, sizeof conn, "%s", jstr(r.json, "connectionId"));
    http_resp_release(&r);
    if (!conn[0]) return -1;
    snprintf(path, sizeof path, "/v2/data-source-connections/%s/registrationToken", conn);
    if (http(d, "POST", path, tenant, NULL, &r) != 0) return -1;
    if (r.status / 100 == 2) { /* the answer is a bare JSON string */
        json_t *t = json_loads(r.body ? r.body : "", JSON_DECODE_ANY, NULL);
        if (json_is_string(t)) snprintf(tok, toklen, "%s", json_string_value(t));
        json_decref(t);
    }
    http_resp_release(&r);
    return tok[0] ? 0 : -1;
}

pid_t agentrun_spawn(const char *netns, const char *dir, const char *first, ...)
{
    static int agents;
    char outp[700], errp[700];
    va_list ap;
    pid_t pid;
    agents++;
    snprintf(outp, sizeof outp, "%s/agent-%d.out", dir, agents);
    snprintf(errp, sizeof errp, "%s/agent-%d.err", dir, agents);
    va_start(ap, first);
    pid = agentrun_spawn_v(netns, outp, errp, first, ap);
    va_end(ap);
    return pid;
}

void agentrun_stop(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        agentrun_wait(*pid, 20);
    }
    *pid = -1;
}
