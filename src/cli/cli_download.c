/* cli_download.c: getting files out of a snapshot as an archive.
 *
 *   coffer download create --snapshot ID --path P [--path P2 ...] [--name N] [--wait] [--output FILE]
 *       POST /data-protect/recoveries/download-files-folders: a download recovery of the paths (each
 *       checked by the server against the snapshot; a trailing slash is tidied first). --wait follows
 *       it to its end; --output FILE waits too, then fetches the archive into FILE.
 *   coffer download --recovery ID -o FILE
 *       fetches a finished download recovery's archive.
 *
 * The archive is a POSIX (pax) tar in which a requested path P is <basename of P>/... (the daemon's
 * layout, downloads.c). Fetching (cli_download_fetch) GETs /data-protect/recoveries/{id}/download-files
 * in 8 MiB ranges (the API's limit) written at their offsets into FILE; a FILE already partly there is
 * resumed from its size (the archive never changes once written); FILE is fsynced at the end. */
#include "cli/cli.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RANGE_BYTES (8LL * 1024 * 1024)

static const struct cli_field download_fields[] = {
    { "name", "--name" },
    { "object.snapshotId", "--snapshot" },
    { "filesAndFolders.absolutePath", "--path" },
    { "filesAndFolders", "--path" },
    { NULL, NULL },
};

static int finished(const char *s)
{
    return s && strcmp(s, "Accepted") != 0 && strcmp(s, "Running") != 0 && strcmp(s, "Canceling") != 0;
}

int cli_download_fetch(struct cli *c, const char *id, const char *out, int quiet)
{
    char path[512], done_s[32], total_s[32];
    struct cli_resp r;
    struct stat st;
    const char *status, *action;
    long long total, off = 0;
    int rc, fd = -1, tty = isatty(2);
    if (cli_path(path, sizeof path, "/data-protect/recoveries/%s", id) != 0) return cli_usage_error(c, "id too long");
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    status = cli_jstr(r.json, "status");
    action = cli_jstr(r.json, "recoveryAction");
    total = json_integer_value(cli_jget(r.json, "cofferStats.archiveBytes"));
    if (!status || !action || strcmp(action, "DownloadFilesAndFolders") != 0) {
        cli_resp_release(&r);
        return cli_fail("recovery %s is not a download (coffer restore writes files in place)", id);
    }
    if (!finished(status) || total < 0) {
        rc = cli_fail("the archive of recovery %s is not there (status %s)", id, status);
        cli_resp_release(&r);
        return rc;
    }
    cli_resp_release(&r);
    fd = open(out, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = cli_fail("cannot open %s: %s", out, strerror(errno));
        goto done;
    }
    off = (long long)st.st_size;
    if (off > total) {
        rc = cli_fail("%s is larger (%lld bytes) than the archive (%lld bytes): not a partial download of it",
                      out, off, total);
        goto done;
    }
    if (off > 0 && off < total && !c->json) printf("resuming %s at %lld bytes\n", out, off);
    while (off < total) {
        char rp[640];
        if (cli_path(rp, sizeof rp, "/data-protect/recoveries/%s/download-files?startOffset=", id) != 0) {
            rc = cli_fail("id too long");
            goto done;
        }
        snprintf(rp + strlen(rp), sizeof rp - strlen(rp), "%lld&length=%lld", off, RANGE_BYTES);
        if ((rc = cli_call(c, "GET", rp, NULL, &r)) != CLI_OK) goto done;
        if (r.len == 0 || (long long)r.len > RANGE_BYTES) {
            rc = cli_fail("unexpected answer of %zu bytes at offset %lld", r.len, off);
            cli_resp_release(&r);
            goto done;
        }
        if (pwrite(fd, r.body, r.len, (off_t)off) != (ssize_t)r.len) {
            rc = cli_fail("writing %s: %s", out, strerror(errno));
            cli_resp_release(&r);
            goto done;
        }
        off += (long long)r.len;
        cli_resp_release(&r);
        if (tty) {
            cli_human_bytes(off, done_s, sizeof done_s);
            cli_human_bytes(total, total_s, sizeof total_s);
            fprintf(stderr, "\rdownloaded %s of %s   ", done_s, total_s);
        }
    }
    if (tty) fputc('\n', stderr);
    if (fsync(fd) != 0) {
        rc = cli_fail("fsync %s: %s", out, strerror(errno));
        goto done;
    }
    cli_human_bytes(total, total_s, sizeof total_s);
    if (!quiet && !c->json) printf("%s: %s (POSIX tar archive of recovery %s)\n", out, total_s, id);
    if (!quiet && c->json) {
        json_t *j = json_pack("{s:s,s:s,s:I}", "recoveryId", id, "output", out, "bytes", (json_int_t)total);
        cli_print_json(j);
        json_decref(j);
    }
    rc = CLI_OK;
done:
    if (fd >= 0) close(fd);
    return rc;
}

int cli_download(struct cli *c, int argc, char **argv)
{
    const char *id = NULL, *out = NULL, *out2 = NULL, *pos[1];
    const struct cli_opt opts[] = {
        { "--recovery", CLI_OPT_STR, &id },
        { "-o", CLI_OPT_STR, &out },
        { "--output", CLI_OPT_STR, &out2 },
        { NULL, 0, NULL },
    };
    int np, rc;
    if ((rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &np)) != CLI_OK) return rc;
    if (!out) out = out2;
    if (!id || !*id) return cli_usage_error(c, "--recovery is required (or make one: coffer download create)");
    if (!out || !*out) return cli_usage_error(c, "-o FILE is required");
    return cli_download_fetch(c, id, out, 0);
}

int cli_download_create(struct cli *c, int argc, char **argv)
{
    struct cli_strlist paths = { 0 };
    const char *snap = NULL, *name = NULL, *out = NULL, *pos[1];
    int wait = 0, np, rc;
    const struct cli_opt opts[] = {
        { "--snapshot", CLI_OPT_STR, &snap },
        { "--path", CLI_OPT_LIST, &paths },
        { "--name", CLI_OPT_STR, &name },
        { "--wait", CLI_OPT_FLAG, &wait },
        { "--output", CLI_OPT_STR, &out },
        { "-o", CLI_OPT_STR, &out },
        { NULL, 0, NULL },
    };
    json_t *body = NULL, *items;
    struct cli_resp r;
    char id[128], defname[64];
    c->fields = download_fields;
    if ((rc = cli_parse(c, argc, argv, opts, 0, 0, pos, &np)) != CLI_OK) goto out;
    if (!snap || !*snap) {
        rc = cli_usage_error(c, "--snapshot is required (coffer snapshot list OBJECT or coffer search show ids)");
        goto out;
    }
    if (paths.n == 0) {
        rc = cli_usage_error(c, "at least one --path is required");
        goto out;
    }
    if (out && !*out) {
        rc = cli_usage_error(c, "--output needs a file name");
        goto out;
    }
    items = json_array();
    for (size_t i = 0; i < paths.n; i++) {
        if (paths.items[i][0] != '/') {
            json_decref(items);
            rc = cli_usage_error(c, "--path %s is not absolute", paths.items[i]);
            goto out;
        }
        cli_tidy_path((char *)paths.items[i]);
        json_array_append_new(items, json_pack("{s:s}", "absolutePath", paths.items[i]));
    }
    snprintf(defname, sizeof defname, "coffer-download-%lld", (long long)time(NULL));
    body = json_pack("{s:s,s:{s:s},s:o}", "name", name ? name : defname, "object", "snapshotId", snap,
                     "filesAndFolders", items);
    if (!body) {
        rc = cli_fail("cannot build the request (are the paths valid UTF-8?)");
        goto out;
    }
    if ((rc = cli_call(c, "POST", "/data-protect/recoveries/download-files-folders", body, &r)) != CLI_OK) goto out;
    snprintf(id, sizeof id, "%s", cli_jstr(r.json, "id") ? cli_jstr(r.json, "id") : "");
    if (!id[0]) {
        cli_resp_release(&r);
        rc = cli_fail("the server accepted the download but did not say its id");
        goto out;
    }
    if (!wait && !out) {
        if (c->json) cli_print_json(r.json);
        else printf("download %s queued (coffer recovery get %s; coffer download --recovery %s -o FILE)\n", id, id, id);
        cli_resp_release(&r);
        goto out;
    }
    cli_resp_release(&r);
    if (!c->json) printf("download %s queued\n", id);
    rc = cli_recovery_wait(c, id, out != NULL);
    if (rc != CLI_OK) {
        if (out) cli_fail("download %s did not succeed: nothing fetched (coffer recovery get %s says why)", id, id);
        goto out;
    }
    if (out) rc = cli_download_fetch(c, id, out, 0);
out:
    json_decref(body);
    cli_strlist_release(&paths);
    return rc;
}
