/* coffer-agent: the remote agent of a protected host (src/agentd/agentd.h, docs/agent-protocol.md).
 * Commands:
 *   coffer-agent --version
 *   coffer-agent register --server URL --token T [--pin sha256//...] [--state-dir D] [--connector-id N]
 *                         [--hostname H]
 *       exchanges a registration token (GenerateDataSourceConnectionRegistrationToken; also read from
 *       COFFER_AGENT_TOKEN) for this host's credential; https without --pin pins the key the server
 *       presents now (trust on first use) and prints it.
 *   coffer-agent run [--state-dir D] [--hostname H] [--address A]... [--rate-limit MB/s]
 *                    [--local-api ADDR:PORT] [--pg DATADIR]... [--pg-user ROLE] [--beats N]
 *       the foreground loop (heartbeats) until SIGTERM/SIGINT, N heartbeats, or a revoked credential
 *       (exit status 3). --pg: a data directory to look for a running PostgreSQL in, besides the
 *       usual places; --pg-user: the role its discovery connects as (default postgres).
 *   coffer-agent status [--state-dir D]
 *       what the state directory holds (never the credential).
 * The state directory defaults to /var/lib/coffer-agent. Exit status: 0 ok, 1 failure, 2 usage,
 * 3 refused by the server (token or credential). */
#include "agentd/core.h"
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STATE_DIR "/var/lib/coffer-agent"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: coffer-agent --version\n"
                    "       coffer-agent register --server URL --token T [--pin sha256//...] [--state-dir D]\n"
                    "                             [--connector-id N] [--hostname H]\n"
                    "       coffer-agent run [--state-dir D] [--hostname H] [--address A]... [--rate-limit MB/s]\n"
                    "                        [--local-api ADDR:PORT] [--pg DATADIR]... [--pg-user ROLE] [--beats N]\n"
                    "       coffer-agent status [--state-dir D]\n");
    return 2;
}

/* opt: the value of option name at argv[*i] (advancing *i), or NULL when argv[*i] is not it. */
static const char *opt(int argc, char **argv, int *i, const char *name)
{
    if (strcmp(argv[*i], name) != 0) return NULL;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

static int cmd_register(int argc, char **argv)
{
    const char *server = NULL, *token = getenv("COFFER_AGENT_TOKEN"), *pin = NULL, *dir = DEFAULT_STATE_DIR, *v;
    int64_t cid = 0;
    char err[1024] = "";
    int rc;
    for (int i = 2; i < argc; i++) {
        if ((v = opt(argc, argv, &i, "--server"))) server = v;
        else if ((v = opt(argc, argv, &i, "--token"))) token = v;
        else if ((v = opt(argc, argv, &i, "--pin"))) pin = v;
        else if ((v = opt(argc, argv, &i, "--state-dir"))) dir = v;
        else if ((v = opt(argc, argv, &i, "--hostname"))) setenv("COFFER_AGENT_HOSTNAME", v, 1);
        else if ((v = opt(argc, argv, &i, "--connector-id"))) {
            char *end;
            errno = 0;
            cid = strtoll(v, &end, 10);
            if (errno || *end || cid <= 0) return usage();
        } else {
            return usage();
        }
    }
    if (!server || !token || !*token) return usage();
    rc = agentd_register(dir, server, token, cid, pin, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "coffer-agent: %s\n", err);
        return rc == -EACCES ? 3 : 1;
    }
    {
        struct agentd_state st;
        if (agentd_state_load(dir, &st, err, sizeof err) == 0)
            printf("registered: connector %s, tenant %s, server %s%s%s\n", st.connector_id, st.tenant, st.server_url,
                   st.server_pin ? ", pinned key " : "", st.server_pin ? st.server_pin : "");
        agentd_state_release(&st);
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    struct agentd_run_opts o = { .state_dir = DEFAULT_STATE_DIR, .stop = &g_stop };
    json_t *addrs = NULL;
    char err[1024] = "";
    const char *v;
    struct sigaction sa;
    int rc;
    for (int i = 2; i < argc; i++) {
        if ((v = opt(argc, argv, &i, "--state-dir"))) o.state_dir = v;
        else if ((v = opt(argc, argv, &i, "--hostname"))) o.hostname = v;
        else if ((v = opt(argc, argv, &i, "--local-api"))) o.local_listen = v;
        else if ((v = opt(argc, argv, &i, "--address"))) {
            if (!addrs) addrs = json_array();
            json_array_append_new(addrs, json_string(v));
        } else if ((v = opt(argc, argv, &i, "--rate-limit"))) {
            char *end;
            double mb = strtod(v, &end);
            if (*end || mb <= 0 || mb > 1e6) return usage();
            o.rate_limit = (int64_t)(mb * 1024 * 1024);
        } else if ((v = opt(argc, argv, &i, "--pg"))) {
            if (agentd_pg_configure(v, NULL) != 0) return usage();
        } else if ((v = opt(argc, argv, &i, "--pg-user"))) {
            agentd_pg_configure(NULL, v);
        } else if ((v = opt(argc, argv, &i, "--beats"))) {
            o.max_beats = atoi(v);
            if (o.max_beats <= 0) return usage();
        } else {
            json_decref(addrs);
            return usage();
        }
    }
    o.addresses = addrs;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = agentd_run(&o, err, sizeof err);
    json_decref(addrs);
    if (rc != 0) {
        fprintf(stderr, "coffer-agent: %s\n", err);
        return rc == -EACCES ? 3 : 1;
    }
    return 0;
}

static int cmd_status(int argc, char **argv)
{
    const char *dir = DEFAULT_STATE_DIR, *v;
    struct agentd_state st;
    char err[1024] = "";
    int rc;
    for (int i = 2; i < argc; i++) {
        if ((v = opt(argc, argv, &i, "--state-dir"))) dir = v;
        else return usage();
    }
    rc = agentd_state_load(dir, &st, err, sizeof err);
    if (rc == 0)
        printf("connector %s\ntenant %s\nserver %s\npin %s\n", st.connector_id, st.tenant, st.server_url,
               st.server_pin ? st.server_pin : "(none)");
    else
        fprintf(stderr, "coffer-agent: %s\n", err);
    agentd_state_release(&st);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int rc;
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        printf("coffer-agent %s\n", COFFER_VERSION);
        return 0;
    }
    if (argc < 2) return usage();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(argv[1], "register") == 0) rc = cmd_register(argc, argv);
    else if (strcmp(argv[1], "run") == 0) rc = cmd_run(argc, argv);
    else if (strcmp(argv[1], "status") == 0) rc = cmd_status(argc, argv);
    else rc = usage();
    curl_global_cleanup();
    return rc;
}
