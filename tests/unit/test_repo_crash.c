/* test_repo_crash.c: kill a writer at arbitrary moments (SIGKILL, no clean-up) and check that the
 * repository still opens, passes a structural verify, and that every finished snapshot restores
 * blob for blob. The writer uses tiny packs so that seals, index writes and snapshot writes are
 * all in flight often. */
#include "check.h"
#include "repo/repo.h"
#include "repo/repo_int.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOBS_PER_ROUND 24
#define ROUNDS_PER_CHILD 240 /* far more than fit in the 0.15-0.5 s before the kill (about 40 here) */
#define FIRST_ROUND_SECS 60  /* the bound on the wait for the first round (ASan, a loaded machine) */

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

static size_t blob_len(uint64_t seed) { return 2000 + (size_t)(seed * 7919 % 40000); }

/* writer: writes rounds until killed; after each snapshot it writes one byte to fd `progress`, so
 * that the parent's clock for the kill starts once the writer is under way (on a loaded machine,
 * the ASan start-up and the first round alone can take longer than the whole 0.15-0.5 s). */
static void writer(const char *repo_dir, const char *key, int iteration, int progress)
{
    struct repo *r = NULL;
    char err[256], id_hex[65];
    uint8_t *buf = malloc(50000);
    if (repo_open(repo_dir, key, &r, err, sizeof err) != 0) _exit(3);
    repo_set_pack_target(r, 64 * 1024);
    for (int round = 0; round < ROUNDS_PER_CHILD; round++) {
        uint64_t base = (uint64_t)iteration * 100000 + (uint64_t)round * 100;
        json_t *doc;
        for (int i = 0; i < BLOBS_PER_ROUND; i++) {
            /* every other round reuses the previous round's blobs: dedup across crashes */
            uint64_t seed = base - (round % 2 ? 100 : 0) + (uint64_t)i;
            size_t len = blob_len(seed);
            repo_id_t id;
            fill_random(buf, len, seed);
            repo_blob_id(r, buf, len, &id);
            if (repo_blob_put(r, REPO_BLOB_DATA, &id, buf, len, NULL) != 0) _exit(4);
        }
        doc = json_pack("{s:I, s:b}", "base", (json_int_t)(base - (round % 2 ? 100 : 0)), "x", 1);
        if (repo_snapshot_write(r, doc, id_hex) != 0) _exit(5);
        json_decref(doc);
        if (write(progress, "r", 1) != 1) _exit(6);
    }
    /* Finished before the kill came: exit, so that the parent sees an exit, not SIGKILL, and fails
     * (a kill after all the work proves nothing about crash safety). */
    _exit(0);
}

TEST(kill_anywhere)
{
    char *dir = check_tmpdir("repo-crash");
    char repo_dir[512], key[512], err[256];
    uint8_t *buf = malloc(50000), *gen = malloc(50000);
    int total_snaps = 0, prev_snaps = 0;
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", dir);
    snprintf(key, sizeof key, "%s/key", dir);
    CHECK(repo_create(repo_dir, key, err, sizeof err) == 0);
    srand((unsigned)time(NULL));
    for (int it = 1; it <= 5; it++) {
        struct repo *r = NULL;
        json_t *ids = NULL, *v, *rep = NULL;
        size_t i;
        int status = 0, started, fds[2];
        struct pollfd pfd;
        char one;
        CHECK(pipe(fds) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            writer(repo_dir, key, it, fds[1]);
        }
        close(fds[1]);
        /* the kill comes 0.15-0.5 s after the writer's first finished round (bounded wait) */
        pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
        started = poll(&pfd, 1, FIRST_ROUND_SECS * 1000) == 1 && read(fds[0], &one, 1) == 1;
        if (started) usleep((useconds_t)(150000 + (rand() % 350000)));
        kill(pid, SIGKILL);
        close(fds[0]);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECKF(started, "kill %d: the writer finished no round in %d s", it, FIRST_ROUND_SECS);
        CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
               "kill %d: the writer was not killed mid-work: it exited on its own with status %d", it,
               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        CHECKF(repo_open(repo_dir, key, &r, err, sizeof err) == 0, "open after kill: %s", err);
        CHECK(repo_verify(r, 0, &rep) == 0);
        CHECKF(json_is_true(json_object_get(rep, "ok")), "verify after kill %d: %s", it,
               json_dumps(rep, 0));
        json_decref(rep);
        CHECK(repo_snapshot_list(r, &ids) == 0);
        json_array_foreach(ids, i, v) {
            json_t *doc = NULL;
            uint64_t base;
            CHECK(repo_snapshot_read(r, json_string_value(v), &doc) == 0);
            base = (uint64_t)json_integer_value(json_object_get(doc, "base"));
            json_decref(doc);
            for (int b = 0; b < BLOBS_PER_ROUND; b++) {
                size_t len = blob_len(base + (uint64_t)b), glen = 0;
                repo_id_t id;
                void *out = NULL;
                fill_random(gen, len, base + (uint64_t)b);
                repo_blob_id(r, gen, len, &id);
                CHECKF(repo_blob_get(r, &id, &out, &glen) == 0,
                       "kill %d: snapshot %s lost blob %d", it, json_string_value(v), b);
                CHECK(glen == len && memcmp(out, gen, len) == 0);
                free(out);
            }
        }
        total_snaps = (int)json_array_size(ids);
        /* the kill landed before the last round: this writer did not write all its snapshots */
        CHECKF(total_snaps - prev_snaps < ROUNDS_PER_CHILD, "kill %d: the writer wrote all %d rounds before the kill",
               it, ROUNDS_PER_CHILD);
        printf("info: kill %d after %d of %d rounds\n", it, total_snaps - prev_snaps, ROUNDS_PER_CHILD);
        prev_snaps = total_snaps;
        json_decref(ids);
        repo_close(r);
    }
    printf("info: %d snapshots survived 5 kills\n", total_snaps);
    CHECK(total_snaps > 0);
    free(buf);
    free(gen);
    check_rm_rf(dir);
    free(dir);
}

int main(void)
{
    RUN(kill_anywhere);
    return check_finish();
}
