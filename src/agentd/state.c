/* state.c: the agent's persistent state (agentd.h struct agentd_state): state_dir/state.json, a JSON
 * object {"server_url", "server_pin", "connector_id", "tenant", "credential"} written with
 * fsio_write_atomic (temp file, fsync, rename, fsync the directory) at mode 0600 in a directory of
 * mode 0700, so a crash leaves the old state or the new one and no other user can read the
 * credential. A state file readable by others is refused on load. */
#include "agentd/core.h"
#include "util/fsio.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STATE_FILE "state.json"
#define STATE_MAX (64u * 1024)

void agentd_state_release(struct agentd_state *st)
{
    if (!st) return;
    free(st->state_dir);
    free(st->server_url);
    free(st->server_pin);
    free(st->connector_id);
    free(st->tenant);
    if (st->credential) {
        memset(st->credential, 0, strlen(st->credential));
        free(st->credential);
    }
    memset(st, 0, sizeof *st);
}

static char *opt_dup(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? strdup(s) : NULL;
}

int agentd_state_load(const char *state_dir, struct agentd_state *out, char *err, size_t errlen)
{
    char path[4096], msg[256];
    void *data = NULL;
    size_t len = 0;
    json_t *j;
    json_error_t je;
    int rc;
    memset(out, 0, sizeof *out);
    if (!(out->state_dir = strdup(state_dir))) return -ENOMEM;
    snprintf(path, sizeof path, "%s/" STATE_FILE, state_dir);
    rc = fsio_read_all(path, STATE_MAX, &data, &len);
    if (rc == -ENOENT) {
        snprintf(err, errlen, "%s: the agent is not registered (run coffer-agent register)", path);
        return -ENOENT;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
        return rc;
    }
    if (fsio_check_private(path, msg, sizeof msg) != 0) {
        free(data);
        snprintf(err, errlen, "%s", msg);
        return -EPERM;
    }
    j = json_loadb(data, len, 0, &je);
    free(data);
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, errlen, "%s is not a JSON object (line %d: %s)", path, je.line, je.text);
        return -EINVAL;
    }
    out->server_url = opt_dup(j, "server_url");
    out->server_pin = opt_dup(j, "server_pin");
    out->connector_id = opt_dup(j, "connector_id");
    out->tenant = opt_dup(j, "tenant");
    out->credential = opt_dup(j, "credential");
    json_decref(j);
    if (!out->server_url || !out->connector_id || !out->tenant || !out->credential) {
        snprintf(err, errlen, "%s lacks server_url, connector_id, tenant or credential", path);
        return -EINVAL;
    }
    return 0;
}

int agentd_state_save(const struct agentd_state *st, char *err, size_t errlen)
{
    char path[4096], *text;
    json_t *j;
    int rc;
    if ((rc = fsio_mkdir_p(st->state_dir, 0700)) != 0 || chmod(st->state_dir, 0700) != 0) {
        snprintf(err, errlen, "cannot make the state directory %s: %s", st->state_dir, strerror(rc ? -rc : errno));
        return rc ? rc : -errno;
    }
    j = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?}", "server_url", st->server_url, "server_pin", st->server_pin,
                  "connector_id", st->connector_id, "tenant", st->tenant, "credential", st->credential);
    text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!text) return -ENOMEM;
    snprintf(path, sizeof path, "%s/" STATE_FILE, st->state_dir);
    rc = fsio_write_atomic(path, text, strlen(text), 0600);
    memset(text, 0, strlen(text));
    free(text);
    if (rc != 0) snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    return rc;
}
