/* keys.c: the master keys and their wrapping under a user's key file.
 *
 * The master material is 96 random bytes: id key || encryption key || chunker key. It is stored
 * in the write-once object keys/<sha256 hex of the document> as a small JSON document holding scrypt parameters, a salt and
 * the material sealed with AES-256-GCM under scrypt(key file content). The AAD binds the wrap to
 * its repository ("coffer key v1" followed by the 32-byte repository id), so a key file copied
 * between repositories does not unlock the other one. Any number of key files may exist; opening
 * tries each. Every field read from disk is range-checked before use (the scrypt parameters decide
 * how much memory we allocate). The user's key file is not part of the repository: it is read
 * (and created) with util/fsio, the key documents through the storage backend. */
#include "repo/repo_int.h"
#include "util/hex.h"
#include "util/fsio.h"
#include "util/log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define KEY_SCRYPT_N 32768u
#define KEY_SCRYPT_R 8u
#define KEY_SCRYPT_P 1u
#define KEY_SALT_LEN 32
#define KEY_MASTER_LEN (3 * REPO_KEY_LEN)
#define KEY_WRAPPED_LEN (REPO_NONCE_LEN + KEY_MASTER_LEN + REPO_TAG_LEN)
#define KEY_FILE_MAX (64 * 1024)
#define KEY_AAD "coffer key v1"

/* read_secret: the key file's bytes without trailing whitespace; creates the file (64 hex digits
 * and a newline, mode 0600, O_EXCL) when create is set and it is missing. */
static int read_secret(const char *key_file, int create, uint8_t **secret, size_t *len, char *err,
                       size_t errlen)
{
    void *data = NULL;
    size_t n = 0;
    int rc = fsio_read_all(key_file, KEY_FILE_MAX, &data, &n);
    if (rc == -ENOENT && create) {
        uint8_t raw[32];
        char hex[66];
        if (repo_random(raw, sizeof raw) < 0) return -EIO;
        util_hex_encode(raw, sizeof raw, hex);
        OPENSSL_cleanse(raw, sizeof raw);
        hex[64] = '\n';
        hex[65] = '\0';
        rc = fsio_create_excl(key_file, hex, 65, 0600);
        OPENSSL_cleanse(hex, sizeof hex);
        if (rc < 0) {
            repo_seterr(err, errlen, "cannot create key file %s: %s", key_file, strerror(-rc));
            return rc;
        }
        rc = fsio_read_all(key_file, KEY_FILE_MAX, &data, &n);
    }
    if (rc < 0) {
        repo_seterr(err, errlen, "cannot read key file %s: %s", key_file,
                    rc == -EFBIG ? "larger than 64 KiB" : strerror(-rc));
        return rc;
    }
    while (n > 0 && (((char *)data)[n - 1] == '\n' || ((char *)data)[n - 1] == '\r' ||
                     ((char *)data)[n - 1] == ' ' || ((char *)data)[n - 1] == '\t'))
        n--;
    if (n == 0) {
        free(data);
        repo_seterr(err, errlen, "key file %s is empty", key_file);
        return -EINVAL;
    }
    *secret = data;
    *len = n;
    return 0;
}

static int derive_kek(const uint8_t *secret, size_t len, const uint8_t *salt, size_t saltlen,
                      uint64_t n, uint64_t r, uint64_t p, uint8_t kek[REPO_KEY_LEN])
{
    uint64_t maxmem = 128 * r * (n + p + 2) + (1u << 20);
    if (EVP_PBE_scrypt((const char *)secret, len, salt, saltlen, n, r, p, maxmem, kek,
                       REPO_KEY_LEN) != 1)
        return -EIO;
    return 0;
}

static void wrap_aad(uint8_t aad[sizeof KEY_AAD - 1 + REPO_ID_LEN], const repo_id_t *repo_id)
{
    memcpy(aad, KEY_AAD, sizeof KEY_AAD - 1);
    memcpy(aad + sizeof KEY_AAD - 1, repo_id->b, REPO_ID_LEN);
}

int repo_keys_create(struct repo_backend *be, const char *key_file, const repo_id_t *repo_id,
                     const uint8_t master[3 * REPO_KEY_LEN], char *err, size_t errlen)
{
    uint8_t *secret = NULL, salt[KEY_SALT_LEN], kek[REPO_KEY_LEN], wrapped[KEY_WRAPPED_LEN];
    uint8_t aad[sizeof KEY_AAD - 1 + REPO_ID_LEN], hash[32];
    char salt_hex[2 * KEY_SALT_LEN + 1], wrapped_hex[2 * KEY_WRAPPED_LEN + 1], name[65];
    size_t slen = 0;
    json_t *doc = NULL;
    char *text = NULL;
    int rc = read_secret(key_file, 1, &secret, &slen, err, errlen);
    if (rc < 0) return rc;
    rc = repo_random(salt, sizeof salt);
    if (rc == 0) rc = derive_kek(secret, slen, salt, sizeof salt, KEY_SCRYPT_N, KEY_SCRYPT_R,
                                 KEY_SCRYPT_P, kek);
    OPENSSL_cleanse(secret, slen);
    free(secret);
    if (rc < 0) {
        repo_seterr(err, errlen, "key derivation failed");
        return rc;
    }
    memcpy(wrapped + REPO_NONCE_LEN, master, KEY_MASTER_LEN);
    wrap_aad(aad, repo_id);
    rc = repo_aead_seal(kek, aad, sizeof aad, wrapped, KEY_MASTER_LEN);
    OPENSSL_cleanse(kek, sizeof kek);
    if (rc < 0) {
        repo_seterr(err, errlen, "key wrapping failed");
        return rc;
    }
    util_hex_encode(salt, sizeof salt, salt_hex);
    util_hex_encode(wrapped, sizeof wrapped, wrapped_hex);
    doc = json_pack("{s:i, s:s, s:I, s:I, s:I, s:s, s:s}", "version", REPO_FORMAT_VERSION, "kdf",
                    "scrypt", "n", (json_int_t)KEY_SCRYPT_N, "r", (json_int_t)KEY_SCRYPT_R, "p",
                    (json_int_t)KEY_SCRYPT_P, "salt", salt_hex, "wrapped", wrapped_hex);
    text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text) return -ENOMEM;
    repo_sha256(text, strlen(text), hash);
    util_hex_encode(hash, sizeof hash, name);
    rc = repo_backend_put_same(be, REPO_OBJ_KEY, name, text, strlen(text));
    free(text);
    if (rc < 0) repo_seterr(err, errlen, "cannot write keys/%s: %s", name, strerror(-rc));
    return rc;
}

/* try_key_file: 0 and master filled when this key document unlocks with secret; -EACCES when it
 * does not; -EBADMSG when the document is malformed. */
static int try_key_file(struct repo_backend *be, const char *name, const uint8_t *secret,
                        size_t slen, const repo_id_t *repo_id, uint8_t master[KEY_MASTER_LEN])
{
    void *data = NULL;
    size_t len = 0;
    json_t *doc;
    json_int_t version = 0, n = 0, r = 0, p = 0;
    const char *kdf = NULL, *salt_hex = NULL, *wrapped_hex = NULL;
    uint8_t salt[KEY_SALT_LEN], wrapped[KEY_WRAPPED_LEN], kek[REPO_KEY_LEN];
    uint8_t aad[sizeof KEY_AAD - 1 + REPO_ID_LEN];
    int rc = be->ops->get_all(be, REPO_OBJ_KEY, name, KEY_FILE_MAX, &data, &len);
    if (rc < 0) return rc;
    doc = json_loadb(data, len, 0, NULL);
    free(data);
    if (!doc) return -EBADMSG;
    if (json_unpack(doc, "{s:I, s:s, s:I, s:I, s:I, s:s, s:s}", "version", &version, "kdf", &kdf,
                    "n", &n, "r", &r, "p", &p, "salt", &salt_hex, "wrapped", &wrapped_hex) != 0 ||
        version != REPO_FORMAT_VERSION || strcmp(kdf, "scrypt") != 0 ||
        n < 2 || n > (1 << 20) || (n & (n - 1)) != 0 || r < 1 || r > 32 || p < 1 || p > 16 ||
        (uint64_t)128 * (uint64_t)r * (uint64_t)n * (uint64_t)p > (1u << 30) ||
        util_hex_decode(salt_hex, salt, sizeof salt) < 0 ||
        util_hex_decode(wrapped_hex, wrapped, sizeof wrapped) < 0) {
        json_decref(doc);
        return -EBADMSG;
    }
    json_decref(doc);
    rc = derive_kek(secret, slen, salt, sizeof salt, (uint64_t)n, (uint64_t)r, (uint64_t)p, kek);
    if (rc < 0) return rc;
    wrap_aad(aad, repo_id);
    rc = repo_aead_open(kek, aad, sizeof aad, wrapped, sizeof wrapped);
    OPENSSL_cleanse(kek, sizeof kek);
    if (rc == -EBADMSG) return -EACCES;
    if (rc < 0) return rc;
    memcpy(master, wrapped + REPO_NONCE_LEN, KEY_MASTER_LEN);
    OPENSSL_cleanse(wrapped, sizeof wrapped);
    return 0;
}

struct key_names {
    char (*v)[REPO_ID_HEX_LEN + 1];
    size_t n, cap;
};

static int key_listed(void *arg, const char *name)
{
    struct key_names *kn = arg;
    repo_id_t dummy;
    if (repo_id_from_hex(name, &dummy) < 0) return 0; /* strangers */
    if (kn->n == kn->cap) {
        size_t ncap = kn->cap ? kn->cap * 2 : 8;
        void *nv = realloc(kn->v, ncap * sizeof *kn->v);
        if (!nv) return -ENOMEM;
        kn->v = nv;
        kn->cap = ncap;
    }
    snprintf(kn->v[kn->n++], sizeof kn->v[0], "%s", name);
    return 0;
}

int repo_keys_unlock(struct repo_backend *be, const char *dir, const char *key_file,
                     const repo_id_t *repo_id, uint8_t master[3 * REPO_KEY_LEN], char *err,
                     size_t errlen)
{
    uint8_t *secret = NULL;
    size_t slen = 0;
    struct key_names kn = { 0 };
    int rc = read_secret(key_file, 0, &secret, &slen, err, errlen), tried = 0, found = -EACCES;
    if (rc < 0) return rc;
    rc = be->ops->list(be, REPO_OBJ_KEY, key_listed, &kn);
    if (rc < 0) {
        OPENSSL_cleanse(secret, slen);
        free(secret);
        free(kn.v);
        repo_seterr(err, errlen, "cannot list %s/keys: %s", dir, strerror(-rc));
        return rc;
    }
    for (size_t k = 0; k < kn.n; k++) {
        tried++;
        rc = try_key_file(be, kn.v[k], secret, slen, repo_id, master);
        if (rc == 0) {
            found = 0;
            break;
        }
        if (rc != -EACCES) log_warn("repo: key file %s/keys/%s is unreadable or malformed (%s)",
                                    dir, kn.v[k], strerror(-rc));
    }
    free(kn.v);
    OPENSSL_cleanse(secret, slen);
    free(secret);
    if (found == 0) return 0;
    if (tried == 0) {
        repo_seterr(err, errlen, "repository %s has no key files in keys/", dir);
        return -ENOKEY;
    }
    repo_seterr(err, errlen, "wrong key: %s does not unlock any of the %d key(s) of repository %s",
                key_file, tried, dir);
    return -EACCES;
}
