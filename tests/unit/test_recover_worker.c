/* test_recover_worker.c: the recovery workers and the indexer (src/sched/recovery_worker.c,
 * indexer.c) against a real repository and catalog: a tree is backed up, its snapshot indexed and
 * searched; restores to an alternate directory and to original paths (after changing the originals)
 * give the same bytes and modes; a download archive is complete and extracts to the original bytes;
 * a damaged pack makes a restore name the damaged file and end SucceededWithWarning (continueOnError)
 * or Failed (not); a queued recovery cancelled before it starts never runs; a Running one left by a
 * previous daemon is failed at start. */
#include "check.h"
#include "e2e/pgtest.h"
#include "catalog/cat_file_index.h"
#include "catalog/cat_recovery.h"
#include "catalog/cat_snapshot.h"
#include "engine/engine.h"
#include "sched/indexer.h"
#include "sched/job_spec.h"
#include "sched/sched.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *root;           /* temporary directory of everything */
static char src[600], data[600], repodir[600], keyf[600];
static struct cat *cat;
static struct repo *repo;
static char snap_id[REPO_ID_HEX_LEN + 1];
static int64_t seq = 1;
static struct sched *w; /* the running workers, stopped by stop_workers (also on a failed CHECK) */

static int write_file(const char *path, const void *d, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) return -1;
    if (write(fd, d, n) != (ssize_t)n) { close(fd); return -1; }
    close(fd);
    return chmod(path, mode);
}

static int files_equal(const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static int make_tree(void)
{
    char p[800];
    static char big[2000000];
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, big, sizeof big) != (ssize_t)sizeof big) return -1; /* incompressible */
    close(fd);
    snprintf(p, sizeof p, "%s/docs", src);
    if (mkdir(p, 0750) != 0) return -1;
    snprintf(p, sizeof p, "%s/docs/report.txt", src);
    if (write_file(p, "quarterly report\n", 17, 0640) != 0) return -1;
    snprintf(p, sizeof p, "%s/docs/big.bin", src);
    if (write_file(p, big, sizeof big, 0600) != 0) return -1;
    snprintf(p, sizeof p, "%s/notes.md", src);
    if (write_file(p, "# notes\n", 8, 0644) != 0) return -1;
    snprintf(p, sizeof p, "%s/docs/link", src);
    return symlink("report.txt", p);
}

static int insert_snapshot_row(void)
{
    struct cat_snapshot s = { .tenant = (char *)"t1", .id = snap_id, .object_id = 5, .object_name = (char *)"host",
                              .source_id = 5, .environment = (char *)"kPhysical", .group_id = (char *)"1:1:2",
                              .group_name = (char *)"g", .group_seq = 2, .run_usecs = 1000, .instance_id = 1,
                              .run_type = (char *)"kRegular", .snapshot_usecs = 1000, .end_usecs = 2000,
                              .status = (char *)"kSuccessful" };
    return cat_snapshot_insert(cat, &s);
}

TEST(setup)
{
    char err[256], p[700];
    const char *incl[1];
    struct eng_backup_opts o;
    struct eng_backup_result r;
    signal(SIGPIPE, SIG_IGN);
    root = check_tmpdir("recworker");
    snprintf(src, sizeof src, "%s/src", root);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(repodir, sizeof repodir, "%s/data/repo", root);
    snprintf(keyf, sizeof keyf, "%s/data/repo.key", root);
    CHECK(mkdir(src, 0755) == 0 && mkdir(data, 0700) == 0);
    CHECK(make_tree() == 0);
    snprintf(p, sizeof p, "%s/catalog.db", data);
    CHECKF(cat_open(pgtest_cat(p), &cat, err, sizeof err) == 0, "%s", err);
    CHECKF(repo_create(repodir, keyf, err, sizeof err) == 0, "%s", err);
    CHECKF(repo_open(repodir, keyf, &repo, err, sizeof err) == 0, "%s", err);
    incl[0] = src;
    memset(&o, 0, sizeof o);
    o.include_paths = incl;
    o.n_include = 1;
    o.threads = 2;
    CHECKF(eng_backup(repo, &o, &r, err, sizeof err) == 0, "%s", err);
    snprintf(snap_id, sizeof snap_id, "%s", r.snapshot_id);
    eng_backup_result_release(&r);
    CHECK_EQ_INT(insert_snapshot_row(), 0);
}

struct found { int n; int has_big; };
static int on_hit(void *ud, const struct cat_fidx_hit *h)
{
    struct found *f = ud;
    f->n++;
    if (strstr(h->path, "/docs/big.bin") && h->type == CAT_FIDX_FILE) f->has_big = 1;
    return 0;
}

TEST(indexer_indexes_snapshot)
{
    struct cat_fidx_query q = { .like = "%big%" };
    struct found f = { 0 };
    CHECK(strcmp(cat_fidx_status(cat, "t1", snap_id), "InProgress") == 0);
    CHECK_EQ_INT(sched_indexer_run_once(cat, repo), 1);
    CHECK(strcmp(cat_fidx_status(cat, "t1", snap_id), "Done") == 0);
    CHECK_EQ_INT(cat_fidx_search(cat, "t1", &q, on_hit, &f), 0);
    CHECK_EQ_INT(f.n, 1);
    CHECK(f.has_big);
    CHECK_EQ_INT(sched_indexer_run_once(cat, repo), 0); /* nothing left */
}

/* queue: inserts a recovery of kind with the items (JSON text) and returns its id in id. */
static int queue(const char *kind, const char *items_json, int overwrite, int coe, char *id, size_t idlen)
{
    json_t *items = json_loads(items_json, 0, NULL), *it;
    struct job_recovery_spec spec = { .overwrite = overwrite, .preserve_attrs = 1, .continue_on_error = coe };
    json_t *req;
    size_t i;
    spec.snapshot_id = strdup(snap_id);
    json_array_foreach(items, i, it)
        job_recovery_spec_add(&spec, json_string_value(json_object_get(it, "path")),
                              json_is_true(json_object_get(it, "isDirectory")),
                              json_string_value(json_object_get(it, "target")));
    req = job_recovery_spec_doc(&spec);
    job_recovery_spec_release(&spec);
    json_decref(items);
    json_t *doc = json_object();
    int64_t n = seq++;
    struct cat_recovery_new r = { .tenant = "t1", .id = id, .seq = n, .name = "r", .kind = kind,
                                  .snapshot_environment = "kPhysical",
                                  .recovery_action = strcmp(kind, "download") == 0 ? "DownloadFilesAndFolders"
                                                                                   : "RecoverFiles",
                                  .snapshot_id = snap_id, .object_id = 5, .start_usecs = n, .request = req,
                                  .doc = doc };
    int rc;
    snprintf(id, idlen, "1:1:%lld", (long long)n);
    rc = cat_recovery_insert(cat, &r);
    json_decref(req);
    json_decref(doc);
    return rc;
}

/* wait_end: polls until the recovery leaves Accepted/Running; returns its final row. */
static int wait_end(const char *id, struct cat_recovery *out)
{
    for (int i = 0; i < 600; i++) {
        if (cat_recovery_get(cat, "t1", id, out) != 0) return -1;
        if (out->end_usecs > 0 && strcmp(out->status, "Running") != 0 && strcmp(out->status, "Canceling") != 0)
            return 0;
        cat_recovery_release(out);
        sched_notify(w);
        usleep(50 * 1000);
    }
    return -1;
}

static struct sched *start_workers(void)
{
    struct sched_config c = { .cat = cat, .repo = repo, .data_dir = data, .workers = 1, .recovery_workers = 2 };
    char err[256];
    w = NULL;
    if (sched_start(&c, &w, err, sizeof err) != 0) fprintf(stderr, "start: %s\n", err);
    return w;
}

static void stop_workers(void)
{
    sched_stop(w);
    w = NULL;
}

TEST(restore_alternate_and_original)
{
    start_workers();
    struct cat_recovery r;
    char id[64], items[4096], a[900], b[900], alt[700];
    struct stat st;
    CHECK(w != NULL);
    snprintf(alt, sizeof alt, "%s/alt", root);
    snprintf(items, sizeof items, "[{\"path\":\"%s/docs\",\"isDirectory\":true,\"target\":\"%s\"},"
                                  "{\"path\":\"%s/notes.md\",\"isDirectory\":false,\"target\":\"%s\"}]",
             src, alt, src, alt);
    CHECK_EQ_INT(queue("restore", items, 0, 1, id, sizeof id), 0);
    sched_notify(w);
    CHECK_EQ_INT(wait_end(id, &r), 0);
    CHECKF(strcmp(r.status, "Succeeded") == 0, "status %s", r.status);
    CHECK(r.bytes >= 2000000);
    CHECK(r.files >= 4);
    cat_recovery_release(&r);
    snprintf(a, sizeof a, "%s/docs/big.bin", src);
    snprintf(b, sizeof b, "%s/docs/big.bin", alt);
    CHECK(files_equal(a, b));
    CHECK(stat(b, &st) == 0 && (st.st_mode & 07777) == 0600);
    snprintf(b, sizeof b, "%s/notes.md", alt);
    snprintf(a, sizeof a, "%s/notes.md", src);
    CHECK(files_equal(a, b));
    snprintf(b, sizeof b, "%s/docs/link", alt);
    {
        char t[64];
        ssize_t n = readlink(b, t, sizeof t - 1);
        CHECK(n == 10 && memcmp(t, "report.txt", 10) == 0);
    }
    /* original location, after changing the originals */
    snprintf(a, sizeof a, "%s/docs/report.txt", src);
    CHECK(write_file(a, "tampered\n", 9, 0666) == 0);
    snprintf(a, sizeof a, "%s/notes.md", src);
    CHECK(unlink(a) == 0);
    snprintf(items, sizeof items, "[{\"path\":\"%s\",\"isDirectory\":true,\"target\":null}]", src);
    CHECK_EQ_INT(queue("restore", items, 1, 0, id, sizeof id), 0);
    sched_notify(w);
    CHECK_EQ_INT(wait_end(id, &r), 0);
    CHECKF(strcmp(r.status, "Succeeded") == 0, "status %s", r.status);
    cat_recovery_release(&r);
    snprintf(a, sizeof a, "%s/docs/report.txt", src);
    snprintf(b, sizeof b, "%s/alt/docs/report.txt", root);
    CHECK(files_equal(a, b));
    CHECK(stat(a, &st) == 0 && (st.st_mode & 07777) == 0640);
    snprintf(a, sizeof a, "%s/notes.md", src);
    CHECK(access(a, F_OK) == 0);
    stop_workers();
}

TEST(download_archive)
{
    start_workers();
    struct cat_recovery r;
    char id[64], items[4096], arch[900], cmd[2600], x[700], a[900], b[900];
    struct stat st;
    CHECK(w != NULL);
    snprintf(items, sizeof items, "[{\"path\":\"%s/docs\"}]", src);
    CHECK_EQ_INT(queue("download", items, 0, 0, id, sizeof id), 0);
    sched_notify(w);
    CHECK_EQ_INT(wait_end(id, &r), 0);
    CHECKF(strcmp(r.status, "Succeeded") == 0, "status %s", r.status);
    CHECK_EQ_INT(sched_recovery_archive_path(data, id, arch, sizeof arch), 0);
    CHECK(stat(arch, &st) == 0);
    CHECK_EQ_INT(r.archive_bytes, st.st_size);
    CHECK(st.st_size % 512 == 0 && st.st_size > 2000000);
    cat_recovery_release(&r);
    snprintf(x, sizeof x, "%s/x", root);
    CHECK(mkdir(x, 0700) == 0);
    snprintf(cmd, sizeof cmd, "tar -xf '%s' -C '%s'", arch, x);
    CHECK(system(cmd) == 0);
    snprintf(a, sizeof a, "%s/docs/big.bin", src);
    snprintf(b, sizeof b, "%s/docs/big.bin", x);
    CHECK(files_equal(a, b));
    stop_workers();
}

/* damage_largest_pack: overwrites 8 bytes in the middle of the largest pack file, which is mostly
 * the 2 MB of random data of big.bin (the trees are a few hundred bytes). */
static int damage_largest_pack(void)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "f=$(find '%s/data' -type f -printf '%%s %%p\\n' | sort -n | tail -1 | cut -d' ' -f2-);"
             " test -n \"$f\" && chmod u+w \"$f\" && printf '\\377\\377\\377\\377\\377\\377\\377\\377' |"
             " dd of=\"$f\" bs=1 seek=$(( $(stat -c %%s \"$f\") / 2 )) conv=notrunc status=none",
             repodir);
    return system(cmd);
}

TEST(damaged_data)
{
    struct cat_recovery r;
    char id[64], items[4096], alt[700];
    char err[256];
    /* damage needs a fresh repo handle (no cached blobs) */
    CHECK(damage_largest_pack() == 0);
    repo_close(repo);
    CHECKF(repo_open(repodir, keyf, &repo, err, sizeof err) == 0, "%s", err);
    w = start_workers();
    CHECK(w != NULL);
    snprintf(alt, sizeof alt, "%s/alt2", root);
    snprintf(items, sizeof items, "[{\"path\":\"%s/docs\",\"target\":\"%s\"}]", src, alt);
    CHECK_EQ_INT(queue("restore", items, 0, 1, id, sizeof id), 0);
    sched_notify(w);
    CHECK_EQ_INT(wait_end(id, &r), 0);
    CHECKF(strcmp(r.status, "SucceededWithWarning") == 0, "status %s", r.status);
    CHECK(json_array_size(r.file_errors) >= 1);
    CHECK(strstr(json_string_value(json_object_get(json_array_get(r.file_errors, 0), "path")), "big.bin") != NULL);
    CHECK(strstr(json_string_value(json_array_get(r.messages, 0)), "big.bin") != NULL);
    cat_recovery_release(&r);
    {
        char p[900];
        snprintf(p, sizeof p, "%s/docs/report.txt", alt);
        CHECK(access(p, F_OK) == 0); /* the rest was restored */
        snprintf(p, sizeof p, "%s/docs/big.bin", alt);
        CHECK(access(p, F_OK) != 0); /* a damaged file never appears under its name */
    }
    snprintf(alt, sizeof alt, "%s/alt3", root);
    snprintf(items, sizeof items, "[{\"path\":\"%s/docs\",\"target\":\"%s\"}]", src, alt);
    CHECK_EQ_INT(queue("restore", items, 0, 0, id, sizeof id), 0);
    sched_notify(w);
    CHECK_EQ_INT(wait_end(id, &r), 0);
    CHECKF(strcmp(r.status, "Failed") == 0, "status %s", r.status);
    cat_recovery_release(&r);
    /* the archive names the damaged file too */
    snprintf(items, sizeof items, "[{\"path\":\"%s/docs\"}]", src);
    CHECK_EQ_INT(queue("download", items, 0, 0, id, sizeof id), 0);
    sched_notify(w);
    CHECK_EQ_INT(wait_end(id, &r), 0);
    CHECKF(strcmp(r.status, "SucceededWithWarning") == 0, "status %s", r.status);
    CHECK(json_array_size(r.file_errors) >= 1);
    cat_recovery_release(&r);
    stop_workers();
}

TEST(cancel_queued_and_restart)
{
    struct cat_recovery r;
    char id[64], id2[64], items[4096];
    snprintf(items, sizeof items, "[{\"path\":\"%s/notes.md\",\"target\":\"%s/alt4\"}]", src, root);
    CHECK_EQ_INT(queue("restore", items, 0, 0, id, sizeof id), 0);
    CHECK_EQ_INT(cat_recovery_cancel(cat, "t1", id, 5, NULL), 0);
    /* a recovery a dead daemon left Running */
    CHECK_EQ_INT(queue("restore", items, 0, 0, id2, sizeof id2), 0);
    CHECK_EQ_INT(cat_recovery_lease_next(cat, "dead-daemon", INT64_MAX, &r), 0);
    CHECK(strcmp(r.id, id2) == 0);
    cat_recovery_release(&r);
    w = start_workers();
    CHECK(w != NULL);
    CHECK_EQ_INT(cat_recovery_get(cat, "t1", id2, &r), 0);
    CHECK(strcmp(r.status, "Failed") == 0);
    CHECK(strcmp(json_string_value(json_array_get(r.messages, 0)), "interrupted by daemon restart") == 0);
    cat_recovery_release(&r);
    usleep(300 * 1000);
    CHECK_EQ_INT(cat_recovery_get(cat, "t1", id, &r), 0);
    CHECK(strcmp(r.status, "Canceled") == 0);
    cat_recovery_release(&r);
    {
        char p[900];
        snprintf(p, sizeof p, "%s/alt4", root);
        CHECK(access(p, F_OK) != 0); /* nothing was written */
    }
    stop_workers();
}

/* teardown: not a test (it is not counted as one); a failure here counts as a failure outside a RUN. */
static void teardown(void)
{
    stop_workers();
    repo_close(repo);
    cat_close(cat);
    check_rm_rf(root);
    free(root);
}

int main(void)
{
    RUN(setup);
    RUN(indexer_indexes_snapshot);
    RUN(restore_alternate_and_original);
    RUN(download_archive);
    RUN(damaged_data);
    RUN(cancel_queued_and_restart);
    teardown();
    return check_finish();
}
