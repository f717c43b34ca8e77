/* log.c: the agent's event log (agentd.h agentd_log, agentd_log_list): a ring of AGENTD_LOG_RING
 * entries in memory under a mutex, each also appended to state_dir/agent.log (agentd_log_open) and
 * written to stderr; and whether the last heartbeat reached cofferd (agentd_connected). */
#include "agentd/core.h"
#include "util/time.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- the event log ---- */

#define AGENTD_LOG_RING 256
#define AGENTD_LOG_MSG 512

static struct {
    pthread_mutex_t mu;
    struct { int level; int64_t time_ms; char msg[AGENTD_LOG_MSG]; } ring[AGENTD_LOG_RING];
    size_t next, count;
    char path[4096];
    int64_t last_beat_ms;
    int connected;
} g_log = { .mu = PTHREAD_MUTEX_INITIALIZER };

static const char *level_name(int l) { return l == AGENTD_ERROR ? "Error" : l == AGENTD_WARNING ? "Warning" : "Info"; }

void agentd_log_open(const char *state_dir)
{
    pthread_mutex_lock(&g_log.mu);
    snprintf(g_log.path, sizeof g_log.path, "%s/agent.log", state_dir);
    pthread_mutex_unlock(&g_log.mu);
}

void agentd_log(enum agentd_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    char msg[AGENTD_LOG_MSG];
    int64_t now = util_time_real() / 1000;
    FILE *f;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_log.mu);
    g_log.ring[g_log.next].level = (int)lvl;
    g_log.ring[g_log.next].time_ms = now;
    memcpy(g_log.ring[g_log.next].msg, msg, sizeof msg);
    g_log.next = (g_log.next + 1) % AGENTD_LOG_RING;
    if (g_log.count < AGENTD_LOG_RING) g_log.count++;
    if (g_log.path[0] && (f = fopen(g_log.path, "a"))) {
        fprintf(f, "%lld %s %s\n", (long long)now, level_name((int)lvl), msg);
        fclose(f);
    }
    pthread_mutex_unlock(&g_log.mu);
    fprintf(stderr, "coffer-agent: %s: %s\n", level_name((int)lvl), msg);
}

json_t *agentd_log_list(void)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&g_log.mu);
    for (size_t i = 0; arr && i < g_log.count; i++) {
        size_t k = (g_log.next + AGENTD_LOG_RING - g_log.count + i) % AGENTD_LOG_RING;
        json_array_append_new(arr, json_pack("{s:s,s:I,s:s}", "level", level_name(g_log.ring[k].level), "time_ms",
                                             (json_int_t)g_log.ring[k].time_ms, "message", g_log.ring[k].msg));
    }
    pthread_mutex_unlock(&g_log.mu);
    return arr;
}

int agentd_connected(int64_t *last_ms)
{
    int c;
    pthread_mutex_lock(&g_log.mu);
    c = g_log.connected;
    if (last_ms) *last_ms = g_log.last_beat_ms;
    pthread_mutex_unlock(&g_log.mu);
    return c;
}

void agentd_set_connected(int c)
{
    pthread_mutex_lock(&g_log.mu);
    g_log.connected = c;
    if (c) g_log.last_beat_ms = util_time_real() / 1000;
    pthread_mutex_unlock(&g_log.mu);
}

