/* e2e_recover_cli.c: `coffer search`, `coffer restore` and `coffer download` against the real daemon.
 * Each test runs the CLI binary (build/asan/coffer, else build/coffer, or $COFFER_CLI) as a
 * subprocess with COFFER_URL and COFFER_KEY set, over a tree backed up by a run: search prints the
 * paths with the snapshot that holds them; restore --wait restores under a directory and back to the
 * original paths (with --overwrite) and exits 0 only when the recovery Succeeded; a path not in the
 * snapshot exits 1 with the server's message; download writes the archive and resumes a partial
 * file to the same bytes. Usage errors exit 2. */
#include "e2e/e2e_recover_fixture.h"
#include <sys/wait.h>

#define T "default" /* the CLI's default tenant */

static struct daemon d;
static char url[128], *g_tmp, src[600];
static long long host;
static char policy[128], group[128], snap[80];

static const char *cli_bin(void)
{
    const char *b = getenv("COFFER_CLI");
    if (b && *b) return b;
    return access("build/asan/coffer", X_OK) == 0 ? "build/asan/coffer" : "build/coffer";
}

struct run {
    int status;   /* exit status, -1 when it did not exit normally */
    char *out, *err;
};
static struct run last; /* released by the next run, so a failed CHECK leaks nothing */

static char *slurp(const char *path)
{
    char *data;
    size_t n;
    if (read_all(path, &data, &n) != 0) return strdup("");
    data[n] = '\0';
    return data;
}

/* cli: runs the CLI with the words (NULL-terminated). */
static struct run *cli(const char *first, ...)
{
    const char *argv[40];
    char outp[700], errp[700];
    int n = 0, st;
    va_list ap;
    pid_t pid;
    free(last.out);
    free(last.err);
    memset(&last, 0, sizeof last);
    argv[n++] = cli_bin();
    argv[n++] = first;
    va_start(ap, first);
    for (const char *w; n < 39 && (w = va_arg(ap, const char *)) != NULL;) argv[n++] = w;
    va_end(ap);
    argv[n] = NULL;
    snprintf(outp, sizeof outp, "%s/out", g_tmp);
    snprintf(errp, sizeof errp, "%s/err", g_tmp);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0) _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        setenv("COFFER_URL", url, 1);
        setenv("COFFER_KEY", HARNESS_KEY, 1);
        unsetenv("COFFER_TENANT");
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    last.status = -1;
    if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st)) last.status = WEXITSTATUS(st);
    last.out = slurp(outp);
    last.err = slurp(errp);
    return &last;
}

TEST(setup)
{
    char p[800];
    snprintf(url, sizeof url, "%s/v2", d.base);
    snprintf(src, sizeof src, "%s/src", g_tmp);
    CHECK(mkdir(src, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs", src);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/docs/big.bin", src);
    CHECK(write_random(p, 3u << 20, 0640) == 0);
    snprintf(p, sizeof p, "%s/docs/letter.txt", src);
    CHECK(write_text(p, "dear reader\n", 0644) == 0);
    CHECK(fx_setup(&d, T, &host, policy, sizeof policy) == 0);
    CHECK(fx_group(&d, T, "cli-files", policy, host, src, group, sizeof group) == 0);
    CHECK(fx_run(&d, T, group, snap, sizeof snap) == 0);
    CHECK(fx_wait_indexed(&d, T, host, snap, 60));
}

TEST(search)
{
    struct run *r = cli("search", "big.b", NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(strstr(r->out, "PATH") && strstr(r->out, "NEWEST SNAPSHOT"));
    CHECKF(strstr(r->out, fmt("%s/docs/big.bin", src)) != NULL, "%s", r->out);
    CHECK(strstr(r->out, snap) != NULL);
    CHECK(strstr(r->out, "3.0 MiB") != NULL);
    r = cli("search", "docs", "--type", "Directory", NULL);
    CHECK(r->status == 0 && strstr(r->out, "Directory") && !strstr(r->out, "big.bin"));
    r = cli("--json", "search", "letter", NULL);
    CHECK(r->status == 0 && strstr(r->out, "\"objectType\": \"Files\"") && strstr(r->out, "letter.txt"));
    r = cli("search", "nothing-like-this", NULL);
    CHECK(r->status == 0 && !strstr(r->out, "/docs"));
    r = cli("search", NULL);
    CHECK_EQ_INT(r->status, 2);
    r = cli("search", "x", "--type", "Pipe", NULL);
    CHECK_EQ_INT(r->status, 2);
}

TEST(restore_to_a_directory_and_back)
{
    char alt[700];
    struct run *r;
    snprintf(alt, sizeof alt, "%s/alt", g_tmp);
    r = cli("restore", "--snapshot", snap, "--path", fmt("%s/docs", src), "--to", alt, "--wait", NULL);
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    CHECK(strstr(r->out, "Succeeded") != NULL);
    CHECK(files_equal(fmt("%s/docs/big.bin", src), fmt("%s/docs/big.bin", alt)));
    CHECK(files_equal(fmt("%s/docs/letter.txt", src), fmt("%s/docs/letter.txt", alt)));
    /* back to the original path, over a changed file */
    CHECK(write_text(fmt("%s/docs/letter.txt", src), "scribbled over\n", 0644) == 0);
    r = cli("restore", "--snapshot", snap, "--path", fmt("%s/docs/letter.txt", src), "--overwrite", "--wait", NULL);
    CHECKF(r->status == 0, "exit %d: %s %s", r->status, r->out, r->err);
    CHECK(files_equal(fmt("%s/docs/letter.txt", src), fmt("%s/docs/letter.txt", alt)));
    /* without --wait: queued */
    r = cli("restore", "--snapshot", snap, "--path", fmt("%s/docs/letter.txt", src), "--to", fmt("%s/alt2", g_tmp), NULL);
    CHECK(r->status == 0 && strstr(r->out, "recovery ") != NULL);
}

TEST(restore_refusals)
{
    struct run *r = cli("restore", "--snapshot", snap, "--path", fmt("%s/docs/missing.txt", src), "--wait", NULL);
    CHECK_EQ_INT(r->status, 1);
    CHECKF(strstr(r->err, "missing.txt") && strstr(r->err, "HTTP 404"), "%s", r->err);
    r = cli("restore", "--path", "/x", NULL);
    CHECK_EQ_INT(r->status, 2);
    r = cli("restore", "--snapshot", snap, NULL);
    CHECK_EQ_INT(r->status, 2);
    r = cli("restore", "--snapshot", snap, "--path", "/x", "--to", "relative", NULL);
    CHECK_EQ_INT(r->status, 2);
}

TEST(download_and_resume)
{
    json_t *c = NULL, *rec;
    char id[96], out[700];
    struct http_resp whole;
    struct run *r;
    char *got;
    size_t n;
    CHECK(post_json(&d, FX_REC "/download-files-folders", T,
                    fmt("{'name':'cli-dl','object':{'snapshotId':'%s'},'filesAndFolders':[{'absolutePath':'%s/docs'}]}",
                        snap, src), 201, &c) == 201);
    snprintf(id, sizeof id, "%s", jstr(c, "id"));
    json_decref(c);
    rec = fx_wait_recovery(&d, T, id, 60);
    CHECK(rec != NULL && strcmp(jstr(rec, "status"), "Succeeded") == 0);
    json_decref(rec);
    CHECK(call(&d, "GET", fmt(FX_REC "/%s/download-files", id), T, NULL, &whole) == 200);
    snprintf(out, sizeof out, "%s/a.tar", g_tmp);
    r = cli("download", "--recovery", id, "-o", out, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(read_all(out, &got, &n) == 0);
    CHECK(n == whole.len && memcmp(got, whole.body, n) == 0);
    free(got);
    /* a partial file is resumed */
    CHECK(truncate(out, 1000000) == 0);
    r = cli("download", "--recovery", id, "--output", out, NULL);
    CHECKF(r->status == 0, "exit %d: %s", r->status, r->err);
    CHECK(strstr(r->out, "resuming") != NULL);
    CHECK(read_all(out, &got, &n) == 0);
    CHECK(n == whole.len && memcmp(got, whole.body, n) == 0);
    free(got);
    http_resp_release(&whole);
    r = cli("download", "--recovery", id, NULL);
    CHECK_EQ_INT(r->status, 2);
    r = cli("download", "--recovery", "1:2:99999", "-o", out, NULL);
    CHECK_EQ_INT(r->status, 1);
}

int main(void)
{
    g_tmp = check_tmpdir("recover-cli");
    if (daemon_start(&d, NULL) != 0) return 1;
    RUN(setup);
    RUN(search);
    RUN(restore_to_a_directory_and_back);
    RUN(restore_refusals);
    RUN(download_and_resume);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "the daemon did not exit cleanly");
    free(last.out);
    free(last.err);
    check_rm_rf(g_tmp);
    free(g_tmp);
    return check_finish();
}
