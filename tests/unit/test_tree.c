/* test_tree.c: the tree blob format: round trips, the exact bytes of a small tree, and a decoder
 * that refuses truncated, reordered, overlong, unknown or unsafe input (and never crashes on
 * random damage, which ASan would catch). */
#include "check.h"
#include "repo/tree.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill_id(repo_id_t *id, uint8_t seed)
{
    for (int i = 0; i < REPO_ID_LEN; i++) id->b[i] = (uint8_t)(seed * 31 + i);
}

/* A directory with one entry of every kind; the caller releases the entries. */
static size_t make_entries(struct tree_entry *e)
{
    size_t n = 0;
    memset(e, 0, 8 * sizeof *e);
    /* sorted names: "blk" "dir" "empty" "fifo" "file" "link" "sock" "\xc3\xa9t\xc3\xa9" */
    e[n].name = strdup("blk"); e[n].type = TREE_BLOCKDEV; e[n].rdev = 0x0801; e[n].mode = 0660; n++;
    e[n].name = strdup("dir"); e[n].type = TREE_DIR; e[n].has_subtree = 1; fill_id(&e[n].subtree, 7);
    e[n].mode = 01777; e[n].user = strdup("root"); e[n].group = strdup("wheel"); n++;
    e[n].name = strdup("empty"); e[n].type = TREE_FILE; e[n].mode = 0600;
    e[n].mtime_ns = -5; e[n].ctime_ns = INT64_MAX; e[n].atime_ns = INT64_MIN; n++;
    e[n].name = strdup("fifo"); e[n].type = TREE_FIFO; e[n].mode = 0644; n++;
    e[n].name = strdup("file"); e[n].type = TREE_FILE; e[n].mode = 04755; e[n].size = 10u << 20;
    e[n].uid = 4000000000u; e[n].gid = 12; e[n].dev = 2049; e[n].ino = 1234567; e[n].nlink = 2;
    e[n].mtime_ns = 1700000000123456789; e[n].n_chunks = 3;
    e[n].chunks = calloc(3, sizeof *e[n].chunks);
    e[n].chunks[0] = (struct tree_chunk){ .offset = 0, .len = 1000 };
    e[n].chunks[1] = (struct tree_chunk){ .offset = 1000, .len = 5000 };       /* no gap */
    e[n].chunks[2] = (struct tree_chunk){ .offset = 9u << 20, .len = 4096 };   /* after a hole */
    for (int i = 0; i < 3; i++) fill_id(&e[n].chunks[i].id, (uint8_t)(i + 1));
    e[n].n_xattrs = 2;
    e[n].xattrs = calloc(2, sizeof *e[n].xattrs);
    e[n].xattrs[0].name = strdup("user.a");
    e[n].xattrs[0].value = malloc(4);
    memcpy(e[n].xattrs[0].value, "\0\1\0\xff", 4);
    e[n].xattrs[0].len = 4;
    e[n].xattrs[1].name = strdup("user.empty");
    n++;
    e[n].name = strdup("link"); e[n].type = TREE_FILE; e[n].size = 10u << 20;
    e[n].hardlink = strdup("/x/file"); e[n].nlink = 2; n++;
    e[n].name = strdup("sock"); e[n].type = TREE_SYMLINK; e[n].symlink_target = strdup("../a b/\xff");
    n++;
    e[n].name = strdup("\xc3\xa9t\xc3\xa9"); e[n].type = TREE_SOCKET; n++;
    return n;
}

static void release_all(struct tree_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) tree_entry_release(&e[i]);
}

TEST(roundtrip_every_kind)
{
    struct tree_entry e[8];
    size_t n = make_entries(e);
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    struct tree *t = NULL;
    CHECK_EQ_INT(tree_encode(e, n, &buf, &len), 0);
    CHECK_EQ_INT(tree_decode(buf, len, &t), 0);
    CHECK_EQ_INT(t->n, n);
    for (size_t i = 0; i < n; i++) CHECKF(tree_entries_equal(&e[i], &t->entries[i]), "entry %zu", i);
    /* canonical: re-encoding the decoded tree gives the same bytes */
    CHECK_EQ_INT(tree_encode(t->entries, t->n, &buf2, &len2), 0);
    CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
    CHECK(tree_find(t, "file") == &t->entries[4]);
    CHECK(tree_find(t, "zzz") == NULL);
    CHECK(tree_find(t, "\xc3\xa9t\xc3\xa9") == &t->entries[7]);
    /* copy is deep and equal */
    struct tree_entry cp;
    CHECK_EQ_INT(tree_entry_copy(&cp, &t->entries[4]), 0);
    CHECK(tree_entries_equal(&cp, &t->entries[4]));
    CHECK(cp.xattrs[0].value != t->entries[4].xattrs[0].value);
    tree_entry_release(&cp);
    tree_free(t);
    free(buf);
    free(buf2);
    release_all(e, n);
}

TEST(exact_bytes_of_a_small_tree)
{
    struct tree_entry e = { 0 };
    uint8_t *buf = NULL;
    size_t len = 0;
    static const uint8_t want[] = {
        'C', 'F', 'T', 'R', 1, 0, 1,               /* magic, version, flags, one entry */
        15,                                        /* entry body length */
        1, 'a', 1, 0, 0xa4, 0x03, 0, 0,            /* name "a", file, no fields, mode 0644, uid, gid */
        2, 1, 0,                                   /* mtime 1, ctime -1, atime 0 (zigzag) */
        0, 0, 0, 1,                                /* size, dev, ino, nlink */
    };
    e.name = (char *)"a";
    e.type = TREE_FILE;
    e.mode = 0644;
    e.mtime_ns = 1;
    e.ctime_ns = -1;
    e.nlink = 1;
    CHECK_EQ_INT(tree_encode(&e, 1, &buf, &len), 0);
    CHECKF(len == sizeof want && memcmp(buf, want, len) == 0, "got %zu bytes", len);
    free(buf);
    /* an empty directory */
    CHECK_EQ_INT(tree_encode(NULL, 0, &buf, &len), 0);
    CHECK(len == 7 && memcmp(buf, "CFTR\1\0\0", 7) == 0);
    struct tree *t = NULL;
    CHECK_EQ_INT(tree_decode(buf, len, &t), 0);
    CHECK_EQ_INT(t->n, 0);
    tree_free(t);
    free(buf);
}

TEST(encoder_refuses_invalid_entries)
{
    struct tree_entry e[2];
    uint8_t *buf = NULL;
    size_t len;
    memset(e, 0, sizeof e);
    e[0].name = (char *)"b"; e[0].type = TREE_FILE;
    e[1].name = (char *)"a"; e[1].type = TREE_FILE;
    CHECK_EQ_INT(tree_encode(e, 2, &buf, &len), -EINVAL);          /* unsorted */
    e[1].name = (char *)"b";
    CHECK_EQ_INT(tree_encode(e, 2, &buf, &len), -EINVAL);          /* duplicate */
    const char *bad[] = { "", ".", "..", "a/b", "/" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        e[0].name = (char *)bad[i];
        CHECKF(tree_encode(e, 1, &buf, &len) == -EINVAL, "name '%s'", bad[i]);
    }
    e[0].name = (char *)"d"; e[0].type = TREE_DIR;                 /* a dir needs a subtree */
    CHECK_EQ_INT(tree_encode(e, 1, &buf, &len), -EINVAL);
    e[0].type = TREE_SYMLINK;                                       /* a symlink needs a target */
    CHECK_EQ_INT(tree_encode(e, 1, &buf, &len), -EINVAL);
    e[0].type = TREE_FILE; e[0].mode = 010000;
    CHECK_EQ_INT(tree_encode(e, 1, &buf, &len), -EINVAL);
    e[0].mode = 0;
    struct tree_chunk ch[2] = { { .offset = 0, .len = 10 }, { .offset = 5, .len = 10 } };
    e[0].chunks = ch; e[0].n_chunks = 2; e[0].size = 100;
    CHECK_EQ_INT(tree_encode(e, 1, &buf, &len), -EINVAL);          /* overlapping chunks */
    ch[1].offset = 95;
    CHECK_EQ_INT(tree_encode(e, 1, &buf, &len), -EINVAL);          /* beyond size */
    ch[1].offset = 90;
    CHECK_EQ_INT(tree_encode(e, 1, &buf, &len), 0);
    free(buf);
}

/* Encodes entries named as given (all files), then replaces the bytes of `from` with `to`
 * (same length) in the blob. */
static uint8_t *patched(const char *const *names, size_t n, const char *from, const char *to,
                        size_t *len)
{
    struct tree_entry e[4];
    uint8_t *buf = NULL;
    memset(e, 0, sizeof e);
    for (size_t i = 0; i < n; i++) { e[i].name = (char *)names[i]; e[i].type = TREE_FILE; }
    if (tree_encode(e, n, &buf, len) != 0) return NULL;
    for (size_t i = 0; i + strlen(from) <= *len; i++)
        if (memcmp(buf + i, from, strlen(from)) == 0) {
            memcpy(buf + i, to, strlen(from));
            break;
        }
    return buf;
}

TEST(decoder_rejects_unsafe_names_and_order)
{
    struct { const char *names[2]; size_t n; const char *from, *to; } cases[] = {
        { { "xx" }, 1, "xx", ".." },
        { { "q" }, 1, "q", "." },
        { { "aXb" }, 1, "aXb", "a/b" },
        { { "aXb" }, 1, "aXb", "a\0b" },
        { { "a", "b" }, 2, "b", "a" },              /* duplicate */
        { { "m", "n" }, 2, "n", "c" },              /* unsorted */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = 0;
        struct tree *t = NULL;
        uint8_t *buf = patched(cases[i].names, cases[i].n, cases[i].from, cases[i].to, &len);
        CHECK(buf != NULL);
        int rc = tree_decode(buf, len, &t);
        free(buf);
        CHECKF(rc == -EBADMSG && t == NULL, "case %zu: rc %d", i, rc);
    }
}

TEST(decoder_rejects_truncation_and_garbage)
{
    struct tree_entry e[8];
    size_t n = make_entries(e);
    uint8_t *buf = NULL;
    size_t len = 0;
    struct tree *t = NULL;
    CHECK_EQ_INT(tree_encode(e, n, &buf, &len), 0);
    release_all(e, n);
    for (size_t cut = 0; cut < len; cut++) {
        int rc = tree_decode(buf, cut, &t);
        CHECKF(rc == -EBADMSG && t == NULL, "truncated at %zu: %d", cut, rc);
    }
    uint8_t *more = malloc(len + 1);
    memcpy(more, buf, len);
    more[len] = 0;
    CHECK_EQ_INT(tree_decode(more, len + 1, &t), -EBADMSG);        /* trailing byte */
    more[4] = 2;
    CHECK_EQ_INT(tree_decode(more, len, &t), -EBADMSG);            /* unknown version */
    more[4] = 1; more[5] = 1;
    CHECK_EQ_INT(tree_decode(more, len, &t), -EBADMSG);            /* reserved flags */
    free(more);
    /* Random damage: decode must either succeed or say -EBADMSG, and never crash. */
    srand(12345);
    int ok = 0, bad = 0;
    for (int round = 0; round < 3000; round++) {
        uint8_t *d = malloc(len);
        memcpy(d, buf, len);
        int flips = 1 + rand() % 3;
        for (int f = 0; f < flips; f++) d[rand() % len] ^= (uint8_t)(1 + rand() % 255);
        int rc = tree_decode(d, len, &t);
        CHECKF(rc == 0 || rc == -EBADMSG, "rc %d", rc);
        if (rc == 0) {
            ok++;
            for (size_t i = 0; i < t->n; i++)
                CHECK(tree_name_valid(t->entries[i].name, strlen(t->entries[i].name)));
            tree_free(t);
        } else {
            bad++;
        }
        free(d);
    }
    CHECK(bad > 0);
    free(buf);
}

TEST(decoder_rejects_overlong_varint_and_unknown_fields)
{
    /* entry count 1 written as 0x81 0x00 (overlong) */
    static const uint8_t overlong[] = { 'C', 'F', 'T', 'R', 1, 0, 0x81, 0x00 };
    struct tree *t = NULL;
    CHECK_EQ_INT(tree_decode(overlong, sizeof overlong, &t), -EBADMSG);
    static const uint8_t huge_count[] = { 'C', 'F', 'T', 'R', 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f };
    CHECK_EQ_INT(tree_decode(huge_count, sizeof huge_count, &t), -EBADMSG);
    uint8_t fields[] = { 'C', 'F', 'T', 'R', 1, 0, 1, 15, 1, 'a', 1, 0x00, 0xa4, 0x03, 0, 0,
                         2, 1, 0, 0, 0, 0, 1 };
    CHECK_EQ_INT(tree_decode(fields, sizeof fields, &t), 0);
    tree_free(t);
    fields[11] = 0x80;             /* would need a second byte: the entry length no longer fits */
    CHECK_EQ_INT(tree_decode(fields, sizeof fields, &t), -EBADMSG);
    fields[11] = 0x01;             /* rdev flag on a regular file */
    CHECK_EQ_INT(tree_decode(fields, sizeof fields, &t), -EBADMSG);
    fields[11] = 0;
    fields[10] = 9;                /* type 9 does not exist */
    CHECK_EQ_INT(tree_decode(fields, sizeof fields, &t), -EBADMSG);
}

/* A large directory (decoded into several arena blocks): every entry survives the round trip,
 * neighbours' equal owner names share their bytes, a decoded entry's deep copy outlives the tree,
 * and encoding from pointers gives the same bytes as from the array. */
TEST(large_tree_roundtrip_and_arena)
{
    enum { N = 5000 };
    struct tree_entry *e = calloc(N, sizeof *e);
    const struct tree_entry **ptrs = calloc(N, sizeof *ptrs);
    uint8_t *buf = NULL, *buf2 = NULL, *buf3 = NULL;
    size_t len = 0, len2 = 0, len3 = 0;
    struct tree *t = NULL;
    CHECK(e && ptrs);
    for (size_t i = 0; i < N; i++) {
        char name[64];
        snprintf(name, sizeof name, "f%07zu-%.*s", i, (int)(i % 40), "abcdefghijklmnopqrstuvwxyz0123456789ABCD");
        e[i].name = strdup(name);
        e[i].type = i % 97 == 0 ? TREE_DIR : TREE_FILE;
        e[i].mode = 0644;
        e[i].user = strdup(i < N / 2 ? "alice" : "bob");   /* two runs of equal names */
        if (i % 3) e[i].group = strdup("staff");
        e[i].mtime_ns = (int64_t)i * 1000003;
        e[i].ino = i + 1;
        e[i].nlink = 1;
        if (e[i].type == TREE_DIR) {
            e[i].has_subtree = 1;
            fill_id(&e[i].subtree, (uint8_t)i);
        } else {
            size_t nc = 1 + i % 3;
            e[i].size = nc * 100 + i % 50;
            e[i].chunks = calloc(nc, sizeof *e[i].chunks);
            for (size_t k = 0; k < nc; k++) {
                e[i].chunks[k] = (struct tree_chunk){ .offset = k * 100, .len = 100 };
                fill_id(&e[i].chunks[k].id, (uint8_t)(i + k));
            }
            e[i].n_chunks = nc;
        }
        if (i % 500 == 1) {
            e[i].xattrs = calloc(1, sizeof *e[i].xattrs);
            e[i].xattrs[0].name = strdup("user.tag");
            e[i].xattrs[0].value = (uint8_t *)strdup("v");
            e[i].xattrs[0].len = 1;
            e[i].n_xattrs = 1;
        }
        ptrs[i] = &e[i];
    }
    CHECK_EQ_INT(tree_encode(e, N, &buf, &len), 0);
    CHECK_EQ_INT(tree_encode_ptrs(ptrs, N, &buf3, &len3), 0);
    CHECK(len3 == len && memcmp(buf, buf3, len) == 0);
    CHECK_EQ_INT(tree_decode(buf, len, &t), 0);
    CHECK_EQ_INT(t->n, N);
    CHECK(t->arena != NULL);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) bad += !tree_entries_equal(&e[i], &t->entries[i]);
    CHECK_EQ_INT(bad, 0);
    CHECK(t->entries[1].user == t->entries[2].user);               /* "alice" twice: shared */
    CHECK(t->entries[N / 2].user != t->entries[N / 2 - 1].user);   /* "bob" after "alice" */
    CHECK(strcmp(t->entries[N / 2].user, "bob") == 0);
    CHECK(t->entries[3].group == NULL && strcmp(t->entries[4].group, "staff") == 0);
    CHECK_EQ_INT(tree_encode(t->entries, t->n, &buf2, &len2), 0);   /* canonical */
    CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
    struct tree_entry cp;
    CHECK_EQ_INT(tree_entry_copy(&cp, &t->entries[501]), 0);
    tree_free(t);
    CHECK(tree_entries_equal(&cp, &e[501]) && cp.n_xattrs == 1);
    tree_entry_release(&cp);
    /* a pointer array that is not sorted is refused like an array */
    const struct tree_entry *swap = ptrs[0];
    ptrs[0] = ptrs[1];
    ptrs[1] = swap;
    free(buf3);
    buf3 = NULL;
    CHECK_EQ_INT(tree_encode_ptrs(ptrs, N, &buf3, &len3), -EINVAL);
    CHECK(buf3 == NULL);
    free(buf);
    free(buf2);
    release_all(e, N);
    free(e);
    free(ptrs);
}

/* A decoder that fails part-way (truncated after many entries) frees what it decoded so far. */
TEST(decoder_failure_after_many_entries)
{
    struct tree_entry e[300];
    uint8_t *buf = NULL;
    size_t len = 0;
    struct tree *t = NULL;
    memset(e, 0, sizeof e);
    for (size_t i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof name, "n%05zu", i);
        e[i].name = strdup(name);
        e[i].type = TREE_SYMLINK;
        e[i].symlink_target = strdup("target/of/the/link");
        e[i].user = strdup("u");
    }
    CHECK_EQ_INT(tree_encode(e, 300, &buf, &len), 0);
    for (size_t cut = len - 1; cut > len - 4000 && cut > 8; cut -= 997)
        CHECK_EQ_INT(tree_decode(buf, cut, &t), -EBADMSG);
    CHECK(t == NULL);
    free(buf);
    release_all(e, 300);
}

int main(void)
{
    RUN(roundtrip_every_kind);
    RUN(exact_bytes_of_a_small_tree);
    RUN(encoder_refuses_invalid_entries);
    RUN(decoder_rejects_unsafe_names_and_order);
    RUN(decoder_rejects_truncation_and_garbage);
    RUN(decoder_rejects_overlong_varint_and_unknown_fields);
    RUN(large_tree_roundtrip_and_arena);
    RUN(decoder_failure_after_many_entries);
    return check_finish();
}
