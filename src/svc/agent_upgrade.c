/* agent_upgrade.c: agent upgrades on the server (issue 11): the upgrade tasks' states, the answer to
 * an agent's heartbeat, and the agent packages cofferd serves.
 *
 * States. A task is created Scheduled with every agent Scheduled. When an agent named by a due task
 * (scheduleTimeUsecs <= now) sends a heartbeat:
 *   - its version is the daemon's or newer: a Scheduled agent is Skipped ("already at version X"), a
 *     Started one Succeeded (it came back upgraded);
 *   - older: it gets a directive (the package's path, SHA-256 and size, svc_agent_upgrade_heartbeat),
 *     becomes Started (its previous version recorded) and the task Running;
 *   - it reports an outcome (agentd_upgrade_report: {"taskId", "status", "version", "error"}): a
 *     failure makes it Failed with the agent's error; a success counts once its version is current.
 * When every agent is final (Succeeded, Skipped, Failed) the task ends: Succeeded when none failed,
 * Failed when none succeeded or was skipped, else PartiallyFailed. The sweep (svc_upgrade_sweep,
 * before a listing) ends a task whose window has passed (scheduleEndTimeUsecs
 * > 0 and now after it): its agents not final fail with "the schedule window ended" and the task ends
 * as above; a task whose every agent's connector was deleted before it started is Canceled, and in
 * other open tasks a deleted agent that is not final fails ("deleted"). A
 * heartbeat settles only the due tasks naming its agent (its cost does not grow with other tasks). A
 * success reported by an agent still at an older version fails it (no endless re-upgrade). A Retry
 * task (retryTaskId) names the failed agents of a finished task.
 *
 * Packages: the files scripts/build-agent-packages.sh makes, coffer-agent_<VERSION>_<arch>.deb and
 * .sh, looked up in COFFER_AGENT_PACKAGES, else beside the executable (<dir>/agent, <dir>/../agent:
 * build/agent for build/cofferd and build/asan/cofferd) and in <dir>/../share/coffer/agent (make
 * install). Their SHA-256 is computed once per (path, size, mtime) and cached. */
#include "svc/agent_upgrade.h"
#include "util/hex.h"
#include "svc/agent_tasks.h"
#include "catalog/cat_connection.h"
#include "util/log.h"
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------- versions ---------- */

int svc_version_cmp(const char *a, const char *b)
{
    while (a && b && (*a || *b)) {
        char *ea, *eb;
        unsigned long long x = strtoull(*a ? a : "0", &ea, 10), y = strtoull(*b ? b : "0", &eb, 10);
        if (x != y) return x < y ? -1 : 1;
        a = *a ? ea : a;
        b = *b ? eb : b;
        if (*a && *a != '.') return *b && *b != '.' ? strcmp(a, b) : -1; /* "1.0-rc" < "1.0.1" enough */
        if (*b && *b != '.') return 1;
        if (*a == '.') a++;
        if (*b == '.') b++;
    }
    return 0;
}

/* ---------- packages ---------- */

static int exe_dir(char *out, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", out, n - 1);
    char *slash;
    if (len <= 0) return -1;
    out[len] = '\0';
    if (!(slash = strrchr(out, '/'))) return -1;
    *slash = '\0';
    return 0;
}

/* find_package: the first file matching the type's name in the places above. */
static char *find_package(const char *type, char *dir_out, size_t dir_n)
{
    const char *env = getenv("COFFER_AGENT_PACKAGES");
    const char *ext = strcmp(type, "deb") == 0 ? "deb" : "sh";
    char exe[1024], dirs[3][1100];
    int ndirs = 0;
    if (env && *env) {
        snprintf(dirs[ndirs++], sizeof dirs[0], "%.1000s", env);
    } else if (exe_dir(exe, sizeof exe) == 0) {
        snprintf(dirs[ndirs++], sizeof dirs[0], "%.1023s/agent", exe);
        snprintf(dirs[ndirs++], sizeof dirs[0], "%.1023s/../agent", exe);
        snprintf(dirs[ndirs++], sizeof dirs[0], "%.1023s/../share/coffer/agent", exe);
    }
    if (dir_out && dir_n) {
        if (ndirs == 3) snprintf(dir_out, dir_n, "%.1099s, %.1099s and %.1099s", dirs[0], dirs[1], dirs[2]);
        else snprintf(dir_out, dir_n, "%.1099s", ndirs ? dirs[0] : "(cofferd's own directory: unknown)");
    }
    for (int i = 0; i < ndirs; i++) {
        char pat[1200];
        glob_t g;
        snprintf(pat, sizeof pat, "%.1099s/coffer-agent_%.32s_*.%s", dirs[i], COFFER_VERSION, ext);
        if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
            char *p = realpath(g.gl_pathv[0], NULL);
            globfree(&g);
            if (p) return p;
            continue;
        }
        globfree(&g);
    }
    return NULL;
}

char *svc_agent_package_path(const char *package_type, int *rc)
{
    char *p;
    if (!package_type || (strcmp(package_type, "deb") != 0 && strcmp(package_type, "script") != 0)) {
        if (rc) *rc = -EINVAL;
        return NULL;
    }
    p = find_package(package_type, NULL, 0);
    if (rc) *rc = p ? 0 : -ENOENT;
    return p;
}

const char *svc_agent_package_dir(void)
{
    static char dir[3400];
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    char *p;
    pthread_mutex_lock(&mu);
    p = find_package("deb", dir, sizeof dir);
    pthread_mutex_unlock(&mu);
    free(p);
    return dir;
}

/* the SHA-256 cache: one entry per type */
static struct pkg_cache {
    char path[PATH_MAX];
    int64_t size, mtime_ns;
    char hex[65];
} cache[2];
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

static int sha256_file(const char *path, char hex[65])
{
    unsigned char buf[64 * 1024], md[32];
    unsigned int mdlen = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
    EVP_MD_CTX *ctx;
    if (fd < 0) return -errno;
    if (!(ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        close(fd);
        return -ENOMEM;
    }
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = -errno;
            break;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) rc = -EIO;
    EVP_MD_CTX_free(ctx);
    close(fd);
    if (rc == 0) util_hex_encode(md, 32, hex);
    return rc;
}

int svc_agent_package_info(const char *type, char **path, int64_t *size, char sha256_hex[65])
{
    int rc, slot = type && strcmp(type, "deb") == 0 ? 0 : 1;
    struct stat sb;
    int64_t mt;
    char *p = svc_agent_package_path(type, &rc);
    if (!p) return rc;
    if (stat(p, &sb) != 0) {
        rc = -errno;
        free(p);
        return rc;
    }
    mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    pthread_mutex_lock(&cache_mu);
    if (strcmp(cache[slot].path, p) == 0 && cache[slot].size == (int64_t)sb.st_size && cache[slot].mtime_ns == mt) {
        memcpy(sha256_hex, cache[slot].hex, 65);
        rc = 0;
    } else if ((rc = sha256_file(p, sha256_hex)) == 0) {
        snprintf(cache[slot].path, sizeof cache[slot].path, "%s", p);
        cache[slot].size = (int64_t)sb.st_size;
        cache[slot].mtime_ns = mt;
        memcpy(cache[slot].hex, sha256_hex, 65);
    }
    pthread_mutex_unlock(&cache_mu);
    if (rc != 0) {
        free(p);
        return rc;
    }
    *size = (int64_t)sb.st_size;
    *path = p;
    return 0;
}

/* ---------- task states ---------- */

static int is_final(const char *st)
{
    return strcmp(st, SVC_UPG_SUCCEEDED) == 0 || strcmp(st, SVC_UPG_FAILED) == 0 || strcmp(st, SVC_UPG_SKIPPED) == 0;
}

static int set_agent(struct cat *cat, const char *tenant, int64_t task, struct cat_upgrade_agent *a, const char *status,
                     int64_t start, int64_t end, const char *prev, const char *error)
{
    struct cat_upgrade_agent n = { a->agent_id, (char *)status, start, end, (char *)prev, (char *)error };
    return cat_upgrade_agent_set(cat, tenant, task, &n);
}

/* settle: with the task's agents as stored, ends the task when every agent is final (see above), or
 * fails the rest when the window has passed. */
static int settle(struct cat *cat, const char *tenant, int64_t id, int64_t now)
{
    struct cat_upgrade_task t;
    size_t failed = 0, good = 0, live = 0;
    int rc = cat_upgrade_task_get(cat, tenant, id, &t);
    char msg[160];
    const char *status;
    if (rc != 0) return rc;
    if (strcmp(t.status, SVC_UPG_SCHEDULED) != 0 && strcmp(t.status, SVC_UPG_RUNNING) != 0) goto out;
    if (t.schedule_end_usecs > 0 && now > t.schedule_end_usecs) {
        snprintf(msg, sizeof msg, "the schedule window ended (at %lld microseconds since the epoch) before the agent was upgraded",
                 (long long)t.schedule_end_usecs);
        for (size_t i = 0; i < t.n_agents && rc == 0; i++) {
            struct cat_upgrade_agent *a = &t.agents[i];
            if (is_final(a->status)) continue;
            rc = set_agent(cat, tenant, id, a, SVC_UPG_FAILED, a->start_usecs, now, NULL, msg);
            if (rc == 0) {
                free(a->status);
                a->status = strdup(SVC_UPG_FAILED);
                if (!a->status) rc = -ENOMEM;
            }
        }
        if (rc != 0) goto out;
    }
    for (size_t i = 0; i < t.n_agents; i++) {
        const char *s = t.agents[i].status;
        if (!is_final(s)) live++;
        else if (strcmp(s, SVC_UPG_FAILED) == 0) failed++;
        else good++;
    }
    if (live) goto out;
    status = failed == 0 ? SVC_UPG_SUCCEEDED : good == 0 ? SVC_UPG_FAILED : SVC_UPG_PARTIAL;
    rc = cat_upgrade_task_set(cat, tenant, id, status, t.start_usecs ? t.start_usecs : now, now,
                              failed ? "one or more agents were not upgraded: see each agent's error" : NULL);
    log_info("agent upgrade task %lld of tenant '%s' ended: %s", (long long)id, tenant, status);
out:
    cat_upgrade_task_release(&t);
    return rc;
}

/* reap_deleted: agents of an open task whose connector is gone. A task that has not started and has
 * lost every agent is Canceled; otherwise the lost agents that are not final fail ("deleted"), and
 * settle ends the task when nothing else is left. */
static int reap_deleted(struct cat *cat, const char *tenant, int64_t id, int64_t now)
{
    struct cat_upgrade_task t;
    int rc = cat_upgrade_task_get(cat, tenant, id, &t);
    size_t gone = 0;
    char *lost;
    if (rc != 0) return rc;
    if (!(lost = calloc(t.n_agents + 1, 1))) {
        cat_upgrade_task_release(&t);
        return -ENOMEM;
    }
    for (size_t i = 0; i < t.n_agents; i++) {
        struct cat_connector c;
        char sid[24];
        int g;
        snprintf(sid, sizeof sid, "%lld", (long long)t.agents[i].agent_id);
        g = cat_connector_get(cat, tenant, sid, &c);
        if (g == 0) cat_connector_release(&c);
        if (g == CAT_NOT_FOUND) { /* an error reading it: keep the agent */
            lost[i] = 1;
            gone++;
        }
    }
    if (gone && gone == t.n_agents && strcmp(t.status, SVC_UPG_SCHEDULED) == 0) {
        rc = cat_upgrade_task_set(cat, tenant, id, SVC_UPG_CANCELED, 0, now,
                                  "every agent of the task was deleted before it started");
    } else {
        for (size_t i = 0; i < t.n_agents && rc == 0; i++) {
            if (!lost[i] || is_final(t.agents[i].status)) continue;
            rc = set_agent(cat, tenant, id, &t.agents[i], SVC_UPG_FAILED, t.agents[i].start_usecs, now, NULL,
                           "the agent (data-source connector) was deleted before it was upgraded");
        }
    }
    free(lost);
    cat_upgrade_task_release(&t);
    return rc;
}

struct sweep_ctx { struct cat *cat; int64_t now; };

static int sweep_one(void *ud, const char *tenant, int64_t id)
{
    struct sweep_ctx *s = ud;
    int rc = reap_deleted(s->cat, tenant, id, s->now);
    if (rc == 0) rc = settle(s->cat, tenant, id, s->now);
    if (rc != 0) log_warn("agent upgrade task %lld of tenant '%s': sweep failed (%d)", (long long)id, tenant, rc);
    return 0; /* one task's trouble does not stop the others */
}

int svc_upgrade_sweep(struct cat *cat, const char *tenant, int64_t now_usecs)
{
    struct sweep_ctx s = { cat, now_usecs };
    return cat_upgrade_open(cat, tenant, sweep_one, &s);
}

/* ---------- creation ---------- */

int svc_upgrade_task_create(struct cat *cat, const char *tenant, const struct svc_upgrade_req *req, int64_t now_usecs,
                            int64_t *id_out, long *bad_index, char *err, size_t errlen)
{
    struct cat_upgrade_task t = { 0 }, old = { 0 };
    int rc = 0, have_old = 0;
    size_t n = 0;
    *bad_index = -1;
    if (req->retry_of) {
        if ((rc = cat_upgrade_task_get(cat, tenant, req->retry_of, &old)) != 0) {
            if (rc == CAT_NOT_FOUND) {
                snprintf(err, errlen, "no upgrade task with id %lld", (long long)req->retry_of);
                return -ENOENT;
            }
            snprintf(err, errlen, "catalog error while reading upgrade task %lld", (long long)req->retry_of);
            return rc;
        }
        have_old = 1;
        if (strcmp(old.status, SVC_UPG_FAILED) != 0 && strcmp(old.status, SVC_UPG_PARTIAL) != 0) {
            snprintf(err, errlen, "upgrade task %lld is %s; only a Failed or PartiallyFailed task can be retried", (long long)req->retry_of, old.status);
            rc = -EINVAL;
            goto out;
        }
    }
    t.agents = calloc(have_old ? old.n_agents + 1 : req->n_agents + 1, sizeof *t.agents);
    if (!t.agents) {
        rc = -ENOMEM;
        goto out;
    }
    if (have_old) {
        for (size_t i = 0; i < old.n_agents; i++)
            if (strcmp(old.agents[i].status, SVC_UPG_FAILED) == 0) t.agents[n++].agent_id = old.agents[i].agent_id;
    } else {
        for (size_t i = 0; i < req->n_agents; i++) {
            struct cat_connector c;
            char sid[24];
            int dup = 0;
            snprintf(sid, sizeof sid, "%lld", (long long)req->agents[i]);
            rc = cat_connector_get(cat, tenant, sid, &c);
            if (rc == CAT_NOT_FOUND) {
                *bad_index = (long)i;
                snprintf(err, errlen, "no agent (data-source connector) with id %lld is registered in this tenant",
                         (long long)req->agents[i]);
                rc = -EINVAL;
                goto out;
            }
            if (rc != 0) {
                snprintf(err, errlen, "catalog error while looking up agent %lld", (long long)req->agents[i]);
                goto out;
            }
            cat_connector_release(&c);
            for (size_t j = 0; j < n; j++) dup |= t.agents[j].agent_id == req->agents[i];
            if (!dup) t.agents[n++].agent_id = req->agents[i];
        }
    }
    for (size_t i = 0; i < n; i++) t.agents[i].status = (char *)SVC_UPG_SCHEDULED;
    t.n_agents = n;
    t.name = (char *)req->name;
    t.description = (char *)req->description;
    t.type = (char *)(have_old ? "Retry" : "Manual");
    t.retried_task_id = req->retry_of;
    t.schedule_usecs = req->schedule_usecs;
    t.schedule_end_usecs = req->schedule_end_usecs;
    t.created_usecs = now_usecs;
    t.status = (char *)SVC_UPG_SCHEDULED;
    t.version = (char *)COFFER_VERSION;
    rc = cat_upgrade_task_insert(cat, tenant, &t);
    if (rc != 0) snprintf(err, errlen, "catalog error while storing the upgrade task");
    else *id_out = t.id;
out:
    free(t.agents); /* its strings are borrowed */
    if (have_old) cat_upgrade_task_release(&old);
    return rc;
}

/* ---------- the heartbeat ---------- */

static struct cat_upgrade_agent *find_agent(struct cat_upgrade_task *t, int64_t agent)
{
    for (size_t i = 0; i < t->n_agents; i++)
        if (t->agents[i].agent_id == agent) return &t->agents[i];
    return NULL;
}

/* apply_report: the outcome an agent reports for a task (see the file comment). */
static void apply_report(struct cat *cat, const char *tenant, int64_t agent, const char *version, const json_t *report,
                         int64_t now)
{
    json_t *jt = json_object_get(report, "taskId");
    const char *status = json_string_value(json_object_get(report, "status"));
    const char *error = json_string_value(json_object_get(report, "error"));
    struct cat_upgrade_task t;
    struct cat_upgrade_agent *a;
    char msg[600];
    if (!json_is_integer(jt) || !status) return;
    if (cat_upgrade_task_get(cat, tenant, json_integer_value(jt), &t) != 0) return;
    if ((a = find_agent(&t, agent)) && !is_final(a->status)) {
        if (strcmp(status, SVC_UPG_FAILED) == 0) {
            snprintf(msg, sizeof msg, "the agent could not upgrade: %.500s", error ? error : "no reason given");
            set_agent(cat, tenant, t.id, a, SVC_UPG_FAILED, a->start_usecs ? a->start_usecs : now, now, NULL, msg);
        } else if (strcmp(status, SVC_UPG_SUCCEEDED) == 0 && svc_version_cmp(version, COFFER_VERSION) >= 0) {
            set_agent(cat, tenant, t.id, a, SVC_UPG_SUCCEEDED, a->start_usecs ? a->start_usecs : now, now, NULL, NULL);
        } else if (strcmp(status, SVC_UPG_SUCCEEDED) == 0) {
            /* installed, yet the old version still runs: failing here ends what would be a loop */
            snprintf(msg, sizeof msg, "the agent reported the upgrade done but still runs version %.40s (want %s)",
                     version, COFFER_VERSION);
            set_agent(cat, tenant, t.id, a, SVC_UPG_FAILED, a->start_usecs ? a->start_usecs : now, now, NULL, msg);
        }
        settle(cat, tenant, t.id, now);
    }
    cat_upgrade_task_release(&t);
}

static json_t *directive(int64_t task_id)
{
    char *path = NULL, *dpath = NULL, hex[65], dhex[65];
    int64_t size = 0, dsize = 0;
    json_t *d;
    if (svc_agent_package_info("script", &path, &size, hex) != 0) return NULL;
    free(path);
    d = json_pack("{s:I,s:s,s:s,s:s,s:I}", "taskId", (json_int_t)task_id, "version", COFFER_VERSION, "path",
                  "/v2/coffer/agents/package?type=script", "sha256", hex, "size", (json_int_t)size);
    if (d && svc_agent_package_info("deb", &dpath, &dsize, dhex) == 0) {
        json_object_set_new(d, "deb", json_pack("{s:s,s:s,s:I}", "path", "/v2/coffer/agents/package?type=deb", "sha256",
                                                dhex, "size", (json_int_t)dsize));
        free(dpath);
    }
    return d;
}

json_t *svc_agent_upgrade_heartbeat(struct cat *cat, const char *tenant, const char *connector_id,
                                    const char *agent_version, const json_t *report, int64_t now_usecs)
{
    char *end;
    long long agent;
    int64_t task_id;
    struct cat_upgrade_task t;
    struct cat_upgrade_agent *a;
    json_t *out = NULL;
    if (!cat || !tenant || !connector_id || !agent_version) return NULL;
    errno = 0;
    agent = strtoll(connector_id, &end, 10);
    if (errno || end == connector_id || *end || agent <= 0) return NULL;
    if (json_is_object(report)) apply_report(cat, tenant, agent, agent_version, report, now_usecs);
    /* each due task naming this agent, oldest first; bounded: every pass settles the agent's row or returns */
    for (int guard = 0; guard < 64; guard++) {
        if (cat_upgrade_pending(cat, tenant, agent, now_usecs, &task_id) != 0) break;
        if (cat_upgrade_task_get(cat, tenant, task_id, &t) != 0) break;
        a = find_agent(&t, agent);
        if (!a) {
            cat_upgrade_task_release(&t);
            break;
        }
        if (t.schedule_end_usecs > 0 && now_usecs > t.schedule_end_usecs) {
            /* its window has passed: settled here (the listing's sweep settles the others) */
            settle(cat, tenant, task_id, now_usecs);
            cat_upgrade_task_release(&t);
            continue;
        }
        if (svc_version_cmp(agent_version, COFFER_VERSION) >= 0) {
            int started = strcmp(a->status, SVC_UPG_STARTED) == 0;
            char msg[128];
            snprintf(msg, sizeof msg, "the agent is already at version %.40s", agent_version);
            set_agent(cat, tenant, task_id, a, started ? SVC_UPG_SUCCEEDED : SVC_UPG_SKIPPED,
                      started ? a->start_usecs : now_usecs, now_usecs, started ? NULL : agent_version,
                      started ? NULL : msg);
            if (strcmp(t.status, SVC_UPG_SCHEDULED) == 0)
                cat_upgrade_task_set(cat, tenant, task_id, SVC_UPG_RUNNING, now_usecs, 0, NULL);
            settle(cat, tenant, task_id, now_usecs);
            cat_upgrade_task_release(&t);
            continue;
        }
        out = directive(task_id);
        if (!out) {
            /* the daemon has no package to give: the agent fails now, with the reason */
            char msg[PATH_MAX + 160];
            snprintf(msg, sizeof msg, "cofferd has no agent package to upgrade from (build it with `make "
                     "agent-packages`; looked in %s)", svc_agent_package_dir());
            set_agent(cat, tenant, task_id, a, SVC_UPG_FAILED, now_usecs, now_usecs, agent_version, msg);
            settle(cat, tenant, task_id, now_usecs);
            cat_upgrade_task_release(&t);
            continue;
        }
        if (strcmp(a->status, SVC_UPG_SCHEDULED) == 0)
            set_agent(cat, tenant, task_id, a, SVC_UPG_STARTED, now_usecs, 0, agent_version, NULL);
        if (strcmp(t.status, SVC_UPG_SCHEDULED) == 0)
            cat_upgrade_task_set(cat, tenant, task_id, SVC_UPG_RUNNING, now_usecs, 0, NULL);
        log_info("agent %lld of tenant '%s' (version %s) is told to upgrade to %s (task %lld)", agent, tenant,
                 agent_version, COFFER_VERSION, (long long)task_id);
        cat_upgrade_task_release(&t);
        break;
    }
    return out;
}
