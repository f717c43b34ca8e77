/* test_repo_verify_runner.c: the daemon's verify runner (sched/job_verify.c) on a real repository:
 *   - requests run one at a time (a second while one is queued or running is -EBUSY with its id);
 *   - two 50% subset verifies in a row: the second starts right after the pack the first ended
 *     with (the runner keeps the cursor), and together they read every pack;
 *   - the schedule: a tick before the interval queues nothing, a tick after it queues a verify
 *     that reads the configured share of the packs;
 *   - a verify of a damaged repository succeeds (it ran) with report.ok false. */
#include "check.h"
#include "repo/repo.h"
#include "repo/repo_int.h"
#include "sched/job_verify.h"
#include "util/time.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* wait_last: polls until verify id is the last one ended (at most 30 s); its copy in *st. */
static int wait_last(struct verify_runner *r, int64_t id, struct verify_status *st)
{
    for (int i = 0; i < 3000; i++) {
        if (verify_runner_peek(r, st) == 0 && st->has_last && st->last.id == id) return 0;
        verify_status_release(st);
        usleep(10 * 1000);
    }
    return -ETIMEDOUT;
}

TEST(runner_rotates_subsets_schedules_and_reports_damage)
{
    enum { BLOBS = 20, SZ = 6000 };
    char *dir = check_tmpdir("verify-runner"), repo[512], key[512], err[256], first_end[65] = "";
    uint8_t buf[SZ];
    struct repo *r = NULL;
    struct verify_runner *vr = NULL;
    struct verify_status st;
    int64_t id = 0, id2 = 0;
    uint64_t read_sum = 0;
    uint32_t np = 0;
    snprintf(repo, sizeof repo, "%s/repo", dir);
    snprintf(key, sizeof key, "%s/key", dir);
    CHECK(repo_create(repo, key, err, sizeof err) == 0);
    CHECK(repo_open(repo, key, &r, err, sizeof err) == 0);
    repo_set_pack_target(r, 4096);
    for (int k = 0; k < BLOBS; k++) {
        repo_id_t bid;
        fill_random(buf, SZ, 7 + k);
        repo_blob_id(r, buf, SZ, &bid);
        CHECK(repo_blob_put(r, REPO_BLOB_DATA, &bid, buf, SZ, NULL) == 0);
    }
    CHECK(repo_flush(r) == 0);
    for (uint32_t k = 0; k < r->npacks; k++) np += r->packs[k].state == REPO_PACK_SEALED;
    CHECK(np >= 10);
    CHECK(verify_runner_start(&(struct verify_runner_config){ r, 3600LL * 1000000, 25, NULL, NULL }, &vr) == 0);

    /* One at a time. */
    CHECK(verify_runner_request(vr, 1, 50, &id) == 0);
    CHECK_EQ_INT(verify_runner_request(vr, 0, 100, &id2), -EBUSY);
    CHECK_EQ_INT(id2, id);
    CHECK(wait_last(vr, id, &st) == 0);
    CHECK(st.last.state == VERIFY_SUCCEEDED && json_is_true(json_object_get(st.last.report, "ok")));
    CHECK_EQ_INT(json_integer_value(json_object_get(st.last.report, "packs_read")), (np + 1) / 2);
    read_sum += (uint64_t)json_integer_value(json_object_get(st.last.report, "packs_read"));
    snprintf(first_end, sizeof first_end, "%s", json_string_value(json_object_get(st.last.report, "next_cursor")));
    verify_status_release(&st);

    /* The second subset goes on after the first. */
    CHECK(verify_runner_request(vr, 1, 50, &id) == 0);
    CHECK(wait_last(vr, id, &st) == 0);
    CHECK(strcmp(json_string_value(json_object_get(st.last.report, "first_pack")), first_end) > 0);
    read_sum += (uint64_t)json_integer_value(json_object_get(st.last.report, "packs_read"));
    CHECK_EQ_INT(read_sum, np + (np % 2)); /* every pack once (one twice when np is odd) */
    verify_status_release(&st);

    /* The schedule: nothing before the interval, a 25% data verify after it. */
    verify_runner_tick(vr, util_time_real() + 60LL * 1000000);
    CHECK(verify_runner_peek(vr, &st) == 0);
    CHECK(!st.has_current && st.last.id == id);
    CHECK_EQ_INT(st.interval_usecs, 3600LL * 1000000);
    verify_status_release(&st);
    verify_runner_tick(vr, util_time_real() + 3601LL * 1000000);
    CHECK(verify_runner_peek(vr, &st) == 0);
    CHECK(st.has_current || st.last.id == id + 1);
    verify_status_release(&st);
    CHECK(wait_last(vr, id + 1, &st) == 0);
    CHECK(st.last.scheduled && st.last.read_data && st.last.subset_pct == 25);
    CHECK_EQ_INT(json_integer_value(json_object_get(st.last.report, "packs_read")), (np * 25 + 99) / 100);
    verify_status_release(&st);

    /* Damage: a pack removed; the verify runs to its end and says the repository is not whole. */
    {
        char path[4096];
        uint32_t k = 0;
        while (r->packs[k].state != REPO_PACK_SEALED) k++;
        CHECK(repo_pack_path(r, &r->packs[k].id, path, sizeof path) == 0);
        CHECK(unlink(path) == 0);
    }
    CHECK(verify_runner_request(vr, 0, 100, &id) == 0);
    CHECK(wait_last(vr, id, &st) == 0);
    CHECK(st.last.state == VERIFY_SUCCEEDED && json_is_false(json_object_get(st.last.report, "ok")));
    CHECK(json_array_size(json_object_get(st.last.report, "errors")) >= 1);
    verify_status_release(&st);
    verify_runner_stop(vr);
    repo_close(r);
    check_rm_rf(dir);
    free(dir);
}

int main(void)
{
    RUN(runner_rotates_subsets_schedules_and_reports_damage);
    return check_finish();
}
