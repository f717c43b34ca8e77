/* limits.c: the CPU cost of each per-byte step of a backup and a restore of a corpus, one thread,
 * with the repository's own code, so bench/limits.sh can state what two cores allow at best.
 *
 *   limits REPO_DIR < list-of-files      (release flags; bench/limits.sh builds and runs it)
 *
 * For every file of the list (read whole from the page cache: the reading is timed apart), the
 * steps a first backup runs on each byte, in the daemon's order: content-defined cuts
 * (repo_chunk_cut), the blob id (HMAC-SHA-256), and for a chunk not seen before in this run (the
 * backup stores each distinct chunk once): zstd with the repository's parameters and AES-256-GCM
 * sealing; then the restore's steps on that stored blob: GCM opening and zstd decompression. Each
 * step's thread CPU time is summed apart. REPO_DIR is a scratch repository created for its keys
 * and chunker; nothing is stored in it. Prints one "name seconds" line per step and the byte
 * totals, for limits.sh to read. Not a test: nothing is asserted. */
#include "repo/repo_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { STEP_READ, STEP_CUT, STEP_ID, STEP_ZSTD, STEP_SEAL, STEP_OPEN, STEP_UNZSTD, STEP_N };
static const char *const step_name[STEP_N] = { "read", "cut", "id", "zstd", "seal", "open", "unzstd" };
static double step_cpu[STEP_N];

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The distinct chunk ids seen so far: open addressing on the id's first 8 bytes. */
static repo_id_t *seen;
static size_t seen_cap, seen_n;
static const repo_id_t seen_empty; /* an empty slot (no HMAC output is all zeros in practice) */

static int seen_add(const repo_id_t *id) /* 1 when new */
{
    uint64_t h;
    size_t i;
    if (seen_n * 2 >= seen_cap) {
        repo_id_t *old = seen;
        size_t old_cap = seen_cap;
        seen_cap = seen_cap ? seen_cap * 2 : 1 << 16;
        seen = calloc(seen_cap, sizeof *seen);
        if (!seen) exit(2);
        seen_n = 0;
        for (i = 0; i < old_cap; i++)
            if (memcmp(&old[i], &seen_empty, sizeof seen_empty)) seen_add(&old[i]);
        free(old);
    }
    memcpy(&h, id->b, sizeof h);
    for (i = h & (seen_cap - 1);; i = (i + 1) & (seen_cap - 1)) {
        if (!memcmp(&seen[i], id, sizeof *id)) return 0;
        if (!memcmp(&seen[i], &seen_empty, sizeof seen_empty)) {
            seen[i] = *id;
            seen_n++;
            return 1;
        }
    }
}

int main(int argc, char **argv)
{
    char repo_dir[4096], key[4200], err[256], path[4096];
    struct repo *r = NULL;
    uint8_t *file = NULL, *sealed = NULL, *plain = NULL;
    size_t file_cap = 0, sealed_cap = 0, plain_cap = 0;
    unsigned long long bytes_read = 0, bytes_unique = 0, bytes_stored = 0, chunks = 0, files = 0;
    static const uint8_t aad[8] = { 'l', 'i', 'm', 'i', 't', 's', 0, 0 };
    if (argc != 2) {
        fprintf(stderr, "usage: limits REPO_DIR < files\n");
        return 2;
    }
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", argv[1]);
    snprintf(key, sizeof key, "%s/key", argv[1]);
    if (repo_create(repo_dir, key, err, sizeof err) || repo_open(repo_dir, key, &r, err, sizeof err)) {
        fprintf(stderr, "limits: %s\n", err);
        return 1;
    }
    while (fgets(path, sizeof path, stdin)) {
        FILE *f;
        size_t len = 0, n, pos;
        double t;
        path[strcspn(path, "\n")] = 0;
        t = thread_cpu();
        f = fopen(path, "rb");
        if (!f) continue;
        for (;;) {
            if (len == file_cap) {
                file_cap = file_cap ? file_cap * 2 : 1 << 20;
                file = realloc(file, file_cap);
                if (!file) return 2;
            }
            n = fread(file + len, 1, file_cap - len, f);
            if (!n) break;
            len += n;
        }
        fclose(f);
        step_cpu[STEP_READ] += thread_cpu() - t;
        bytes_read += len;
        files++;
        for (pos = 0; pos < len;) {
            size_t c, body, cap;
            repo_id_t id;
            double t0 = thread_cpu(), t1, t2, t3, t4, t5;
            c = repo_chunk_cut(r, file + pos, len - pos, 1);
            t1 = thread_cpu();
            repo_hmac_id(r->id_key, file + pos, c, &id);
            t2 = thread_cpu();
            step_cpu[STEP_CUT] += t1 - t0;
            step_cpu[STEP_ID] += t2 - t1;
            chunks++;
            if (!seen_add(&id)) {
                pos += c;
                continue;
            }
            bytes_unique += c;
            cap = repo_zstd_bound(c) > c ? repo_zstd_bound(c) : c;
            if (REPO_AEAD_OVERHEAD + cap > sealed_cap) {
                sealed_cap = REPO_AEAD_OVERHEAD + cap;
                sealed = realloc(sealed, sealed_cap);
                if (!sealed) return 2;
            }
            if (c > plain_cap) {
                plain_cap = c;
                plain = realloc(plain, plain_cap);
                if (!plain) return 2;
            }
            t2 = thread_cpu();
            body = repo_zstd_compress(sealed + REPO_NONCE_LEN, cap, file + pos, c);
            if (!body) { /* stored raw, as the repository does */
                memcpy(sealed + REPO_NONCE_LEN, file + pos, c);
            }
            t3 = thread_cpu();
            if (repo_aead_seal(r->enc_key, aad, sizeof aad, sealed, body ? body : c) < 0) return 1;
            t4 = thread_cpu();
            if (repo_aead_open(r->enc_key, aad, sizeof aad, sealed, (body ? body : c) + REPO_AEAD_OVERHEAD) < 0)
                return 1;
            t5 = thread_cpu();
            if (body && repo_zstd_decompress(plain, c, sealed + REPO_NONCE_LEN, body) < 0) return 1;
            step_cpu[STEP_ZSTD] += t3 - t2;
            step_cpu[STEP_SEAL] += t4 - t3;
            step_cpu[STEP_OPEN] += t5 - t4;
            step_cpu[STEP_UNZSTD] += thread_cpu() - t5;
            bytes_stored += (body ? body : c) + REPO_AEAD_OVERHEAD;
            pos += c;
        }
    }
    for (int i = 0; i < STEP_N; i++) printf("%s %.3f\n", step_name[i], step_cpu[i]);
    printf("files %llu\nchunks %llu\nbytes_read %llu\nbytes_unique %llu\nbytes_stored %llu\n", files, chunks,
           bytes_read, bytes_unique, bytes_stored);
    repo_close(r);
    free(file);
    free(sealed);
    free(plain);
    free(seen);
    return 0;
}
