/* agentrun.h: runs the built coffer-agent (COFFER_AGENT_BIN, else build/asan/coffer-agent) as a child
 * process for the e2e tests of remote agents: its standard output and error go to the files given, the
 * child keeps this process's environment (ASan reports leaks), and it may run inside a network
 * namespace (`ip netns exec NAME`). agentrun_spawn names the output files DIR/agent-N.out/.err. */
#ifndef COFFER_TESTS_AGENTRUN_H
#define COFFER_TESTS_AGENTRUN_H
#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

struct daemon;

/* agentrun_bin: the agent binary the tests run. */
const char *agentrun_bin(void);
/* agentrun_spawn_v: starts the agent with first and the words of ap (NULL-terminated, at most 40), in
 * the network namespace netns when it is non-NULL and not empty; returns the child's pid (-1 when fork
 * failed). */
pid_t agentrun_spawn_v(const char *netns, const char *out_path, const char *err_path, const char *first, va_list ap);
/* agentrun_spawn: agentrun_spawn_v with its output in dir/agent-N.out and dir/agent-N.err, N counting
 * the agents this process started (1, 2, ...). */
pid_t agentrun_spawn(const char *netns, const char *dir, const char *first, ...);
/* agentrun_wait: the exit status of pid within secs seconds; -1 when it did not exit normally or in time
 * (then it is killed and reaped). */
int agentrun_wait(pid_t pid, int secs);
/* agentrun_stop: SIGTERM to *pid when it is > 0, waited for (agentrun_wait, 20 s); *pid becomes -1. */
void agentrun_stop(pid_t *pid);
/* agentrun_token: a new data-source connection named conn_name in tenant on d, and its registration
 * token into tok (what `coffer-agent register --token` takes); 0, or -1 when either call failed. */
int agentrun_token(struct daemon *d, const char *tenant, const char *conn_name, char *tok, size_t toklen);
#endif
