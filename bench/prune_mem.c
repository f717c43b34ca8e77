/* prune_mem.c: peak memory of a prune whose index holds many blobs (issue 10: 10 million blobs in
 * under 1 GiB), built and driven by bench/bench_prune_mem.sh.
 *
 *   prune_mem build DIR N     creates a repository in DIR/repo (key DIR/key) and stores N small
 *                             data blobs (16 bytes each, all distinct) through repo_blob_put, so
 *                             the index holds N records; then trees naming them (one directory per
 *                             10,000 blobs, each a file of 10,000 chunks) and two snapshots: "keep"
 *                             names the first half, "drop" the second. Prints the drop snapshot id.
 *   prune_mem prune DIR SID   opens the repository (loading the N-record index) and prunes with
 *                             SID forgotten: the mark walks the keep snapshot's 5,000 trees, the
 *                             plan finds the dropped half's packs unused and deletes them. Prints
 *                             the report, then the process's peak RSS (VmHWM) in KiB.
 * The blobs are tiny so that the build is quick and small on disk; the index and the prune's
 * structures are per blob, so their memory is that of a repository of N blobs of any size. */
#include "repo/repo.h"
#include "repo/tree.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_DIR 10000u

static long vm_hwm_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

static int put_blob(struct repo *r, enum repo_blob_type t, const void *d, size_t n, repo_id_t *id)
{
    repo_blob_id(r, d, n, id);
    return repo_blob_put(r, t, id, d, n, NULL);
}

/* dir_tree: one directory holding file "f" whose chunks are blobs [first, first + n). */
static int dir_tree(struct repo *r, uint64_t first, uint32_t n, repo_id_t *out)
{
    struct tree_entry e = { 0 };
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc;
    e.name = "f";
    e.type = TREE_FILE;
    e.mode = 0644;
    e.nlink = 1;
    e.size = (uint64_t)n * 16;
    e.chunks = calloc(n, sizeof *e.chunks);
    if (!e.chunks) return -1;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t v[2] = { first + k, 0x636f66666572ull };
        repo_blob_id(r, v, sizeof v, &e.chunks[k].id);
        e.chunks[k].offset = (uint64_t)k * 16;
        e.chunks[k].len = 16;
    }
    e.n_chunks = n;
    rc = tree_encode(&e, 1, &enc, &len);
    free(e.chunks);
    if (rc == 0) rc = put_blob(r, REPO_BLOB_TREE, enc, len, out);
    free(enc);
    return rc;
}

/* root_snapshot: a root tree of directories d<k> for k in [d0, d1), and its snapshot. */
static int root_snapshot(struct repo *r, uint64_t d0, uint64_t d1, uint64_t nblobs, char *sid)
{
    size_t n = (size_t)(d1 - d0);
    struct tree_entry *es = calloc(n ? n : 1, sizeof *es);
    char (*names)[16] = calloc(n ? n : 1, sizeof *names);
    uint8_t *enc = NULL;
    size_t len = 0;
    repo_id_t root;
    int rc = es && names ? 0 : -1;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        uint64_t first = (d0 + k) * PER_DIR;
        uint32_t cnt = nblobs - first < PER_DIR ? (uint32_t)(nblobs - first) : PER_DIR;
        snprintf(names[k], sizeof names[k], "d%08" PRIu64, d0 + k);
        es[k].name = names[k];
        es[k].type = TREE_DIR;
        es[k].mode = 0755;
        es[k].nlink = 2;
        es[k].has_subtree = 1;
        rc = dir_tree(r, first, cnt, &es[k].subtree);
    }
    if (rc == 0) rc = tree_encode(es, n, &enc, &len);
    if (rc == 0) rc = put_blob(r, REPO_BLOB_TREE, enc, len, &root);
    free(enc);
    free(es);
    free(names);
    if (rc == 0) rc = repo_flush(r);
    if (rc == 0) {
        char hex[REPO_ID_HEX_LEN + 1];
        json_t *doc;
        repo_id_to_hex(&root, hex);
        doc = json_pack("{s:s, s:s}", "tree", hex, "tenant", "bench");
        rc = doc ? repo_snapshot_write(r, doc, sid) : -1;
        json_decref(doc);
    }
    return rc;
}

static int build(const char *dir, uint64_t n)
{
    char rdir[4096], key[4096], err[512] = "", keep[REPO_ID_HEX_LEN + 1], drop[REPO_ID_HEX_LEN + 1];
    struct repo *r = NULL;
    uint64_t ndirs = (n + PER_DIR - 1) / PER_DIR;
    int rc;
    snprintf(rdir, sizeof rdir, "%s/repo", dir);
    snprintf(key, sizeof key, "%s/key", dir);
    if ((rc = repo_create(rdir, key, err, sizeof err)) < 0 ||
        (rc = repo_open(rdir, key, &r, err, sizeof err)) < 0) {
        fprintf(stderr, "prune_mem: %s\n", err);
        return 1;
    }
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        uint64_t v[2] = { i, 0x636f66666572ull };
        repo_id_t id;
        rc = put_blob(r, REPO_BLOB_DATA, v, sizeof v, &id);
        if (i % 1000000 == 999999) fprintf(stderr, "  %" PRIu64 " blobs\n", i + 1);
    }
    if (rc == 0) rc = repo_flush(r);
    if (rc == 0) rc = root_snapshot(r, 0, ndirs / 2, n, keep);
    if (rc == 0) rc = root_snapshot(r, ndirs / 2, ndirs, n, drop);
    if (rc == 0) {
        struct repo_stats st;
        repo_get_stats(r, &st);
        fprintf(stderr, "built: %" PRIu64 " blobs, %" PRIu64 " packs, %" PRIu64 " pack bytes, "
                "index in memory %" PRIu64 " bytes; keep %s\n", st.blobs, st.packs, st.pack_bytes,
                st.index_bytes_in_memory, keep);
        printf("%s\n", drop);
    } else {
        fprintf(stderr, "prune_mem: build failed: %d\n", rc);
    }
    repo_close(r);
    return rc == 0 ? 0 : 1;
}

static int prune(const char *dir, const char *sid)
{
    char rdir[4096], key[4096], err[512] = "";
    struct repo *r = NULL;
    struct repo_prune_report rep;
    const char *forget[1] = { sid };
    struct repo_prune_opts o = { .forget = forget, .n_forget = 1 };
    long after_open;
    int rc;
    snprintf(rdir, sizeof rdir, "%s/repo", dir);
    snprintf(key, sizeof key, "%s/key", dir);
    if ((rc = repo_open(rdir, key, &r, err, sizeof err)) < 0) {
        fprintf(stderr, "prune_mem: %s\n", err);
        return 1;
    }
    after_open = vm_hwm_kib();
    rc = repo_prune(r, &o, &rep, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "prune_mem: prune failed: %s\n", err);
    } else {
        printf("prune: %" PRIu64 " snapshots kept, %" PRIu64 " forgotten, %" PRIu64 " blobs (%"
               PRIu64 " used), %" PRIu64 " of %" PRIu64 " packs deleted, %" PRIu64 " repacked, %"
               PRIu64 " bytes freed, %.1f s\n", rep.snapshots, rep.snapshots_forgotten,
               rep.blobs_total, rep.blobs_used, rep.packs_deleted, rep.packs_total,
               rep.packs_repacked, rep.bytes_freed, (double)rep.duration_usecs / 1e6);
        printf("peak RSS after open: %ld KiB; after prune: %ld KiB\n", after_open, vm_hwm_kib());
    }
    repo_close(r);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "build") == 0) return build(argv[2], strtoull(argv[3], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "prune") == 0) return prune(argv[2], argv[3]);
    fprintf(stderr, "usage: prune_mem build DIR N | prune_mem prune DIR SNAPSHOT_ID\n");
    return 2;
}
