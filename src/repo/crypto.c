/* crypto.c: the repository's cryptographic primitives, all from OpenSSL libcrypto (EVP).
 *
 * Blob ids are HMAC-SHA-256 under the id key; blobs, pack trailers, index files and snapshots are
 * AES-256-GCM with a random 96-bit nonce placed in front of the ciphertext and the 16-byte tag
 * after it. Each thread keeps its own cipher and MAC contexts (a pthread key frees them when the
 * thread ends), so the hot path allocates nothing and takes no lock. The MAC context stays keyed
 * with the last id key it was given (a copy of the key beside it, wiped when the thread ends): the
 * next id under the same key only resets it (EVP_MAC_init without key or digest) instead of fetching
 * SHA-256 and hashing the key's pads again, which was half the cost of a small blob's id (a tree's,
 * on every directory of a re-backup). */
#include "repo/repo_int.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

struct crypto_tls {
    EVP_CIPHER_CTX *enc, *dec;
    EVP_MAC_CTX *mac;
    int mac_keyed;                  /* mac holds mac_key (and SHA-256) */
    uint8_t mac_key[REPO_KEY_LEN];
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static EVP_CIPHER *g_gcm;
static EVP_MAC *g_hmac;

static void tls_free(void *p)
{
    struct crypto_tls *t = p;
    if (!t) return;
    EVP_CIPHER_CTX_free(t->enc);
    EVP_CIPHER_CTX_free(t->dec);
    EVP_MAC_CTX_free(t->mac);
    OPENSSL_cleanse(t->mac_key, sizeof t->mac_key);
    free(t);
}

static void crypto_once(void)
{
    pthread_key_create(&g_key, tls_free);
    g_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static struct crypto_tls *tls_get(void)
{
    struct crypto_tls *t;
    pthread_once(&g_once, crypto_once);
    if (!g_gcm || !g_hmac) return NULL;
    t = pthread_getspecific(g_key);
    if (t) return t;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->enc = EVP_CIPHER_CTX_new();
    t->dec = EVP_CIPHER_CTX_new();
    t->mac = EVP_MAC_CTX_new(g_hmac);
    if (!t->enc || !t->dec || !t->mac ||
        EVP_EncryptInit_ex2(t->enc, g_gcm, NULL, NULL, NULL) != 1 ||
        EVP_DecryptInit_ex2(t->dec, g_gcm, NULL, NULL, NULL) != 1) {
        tls_free(t);
        return NULL;
    }
    if (pthread_setspecific(g_key, t) != 0) {
        tls_free(t);
        return NULL;
    }
    return t;
}

void repo_hmac_id(const uint8_t key[REPO_KEY_LEN], const void *data, size_t len, repo_id_t *out)
{
    struct crypto_tls *t = tls_get();
    OSSL_PARAM params[2];
    size_t outl = 0;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (t) { /* keyed with this key already: only a reset; else keyed now (SHA-256, the key's pads) */
        int same = t->mac_keyed && CRYPTO_memcmp(t->mac_key, key, REPO_KEY_LEN) == 0;
        t->mac_keyed = same ? EVP_MAC_init(t->mac, NULL, 0, NULL) == 1
                            : EVP_MAC_init(t->mac, key, REPO_KEY_LEN, params) == 1;
        if (t->mac_keyed && !same) memcpy(t->mac_key, key, REPO_KEY_LEN);
        if (t->mac_keyed && EVP_MAC_update(t->mac, data, len) == 1 &&
            EVP_MAC_final(t->mac, out->b, &outl, sizeof out->b) == 1 && outl == REPO_ID_LEN)
            return;
        t->mac_keyed = 0;
    }
    /* No thread context (out of memory) or a failed call: the one-shot API allocates on its own. */
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, REPO_KEY_LEN, data, len, out->b,
                   sizeof out->b, &outl))
        abort();
}

void repo_sha256(const void *data, size_t len, uint8_t out[32])
{
    if (EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) != 1) abort();
}

int repo_random(void *buf, size_t len)
{
    if (len > INT_MAX) return -EINVAL;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

/* cipher_update: EVP lengths are int; step through large buffers. */
static int cipher_update(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in, size_t len)
{
    while (len > 0) {
        int step = len > (1u << 30) ? (1 << 30) : (int)len, outl = 0;
        if (EVP_CipherUpdate(c, out, &outl, in, step) != 1 || outl != step) return -1;
        out += step;
        in += step;
        len -= (size_t)step;
    }
    return 0;
}

int repo_aead_seal(const uint8_t key[REPO_KEY_LEN], const void *aad, size_t aadlen, uint8_t *buf,
                   size_t plain_len)
{
    struct crypto_tls *t = tls_get();
    uint8_t *nonce = buf, *body = buf + REPO_NONCE_LEN;
    int outl = 0;
    if (!t) return -ENOMEM;
    if (aadlen > INT_MAX) return -EINVAL;
    if (repo_random(nonce, REPO_NONCE_LEN) < 0) return -EIO;
    if (EVP_EncryptInit_ex2(t->enc, NULL, key, nonce, NULL) != 1) return -EIO;
    if (aadlen && EVP_EncryptUpdate(t->enc, NULL, &outl, aad, (int)aadlen) != 1) return -EIO;
    if (cipher_update(t->enc, body, body, plain_len) < 0) return -EIO;
    if (EVP_EncryptFinal_ex(t->enc, body + plain_len, &outl) != 1 || outl != 0) return -EIO;
    if (EVP_CIPHER_CTX_ctrl(t->enc, EVP_CTRL_GCM_GET_TAG, REPO_TAG_LEN, body + plain_len) != 1)
        return -EIO;
    return 0;
}

int repo_aead_open(const uint8_t key[REPO_KEY_LEN], const void *aad, size_t aadlen, uint8_t *buf,
                   size_t stored_len)
{
    struct crypto_tls *t = tls_get();
    uint8_t *body = buf + REPO_NONCE_LEN;
    size_t clen;
    int outl = 0;
    if (!t) return -ENOMEM;
    if (stored_len < REPO_AEAD_OVERHEAD || aadlen > INT_MAX) return -EBADMSG;
    clen = stored_len - REPO_AEAD_OVERHEAD;
    if (EVP_DecryptInit_ex2(t->dec, NULL, key, buf, NULL) != 1) return -EIO;
    if (aadlen && EVP_DecryptUpdate(t->dec, NULL, &outl, aad, (int)aadlen) != 1) return -EIO;
    if (cipher_update(t->dec, body, body, clen) < 0) return -EIO;
    if (EVP_CIPHER_CTX_ctrl(t->dec, EVP_CTRL_GCM_SET_TAG, REPO_TAG_LEN, body + clen) != 1)
        return -EIO;
    if (EVP_DecryptFinal_ex(t->dec, body + clen, &outl) != 1) return -EBADMSG;
    return 0;
}

int repo_env_seal(const uint8_t key[REPO_KEY_LEN], const char magic[4], const void *plain,
                  size_t len, uint8_t **out, size_t *outlen)
{
    size_t total = 8 + REPO_AEAD_OVERHEAD + len;
    uint8_t *buf;
    int rc;
    if (len > SIZE_MAX - 8 - REPO_AEAD_OVERHEAD) return -EFBIG;
    buf = malloc(total);
    if (!buf) return -ENOMEM;
    memcpy(buf, magic, 4);
    repo_put_u32(buf + 4, REPO_FORMAT_VERSION);
    if (len) memcpy(buf + 8 + REPO_NONCE_LEN, plain, len);
    rc = repo_aead_seal(key, buf, 8, buf + 8, len);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = total;
    return 0;
}

int repo_env_open(const uint8_t key[REPO_KEY_LEN], const char magic[4], uint8_t *buf, size_t len,
                  uint8_t **plain, size_t *plain_len)
{
    int rc;
    if (len < 8 + REPO_AEAD_OVERHEAD || memcmp(buf, magic, 4) != 0) return -EBADMSG;
    if (repo_get_u32(buf + 4) != REPO_FORMAT_VERSION) return -ENOTSUP;
    rc = repo_aead_open(key, buf, 8, buf + 8, len - 8);
    if (rc < 0) return rc;
    *plain = buf + 8 + REPO_NONCE_LEN;
    *plain_len = len - 8 - REPO_AEAD_OVERHEAD;
    return 0;
}

int repo_hkdf(const uint8_t *ikm, size_t ikmlen, const char *salt, const char *info, uint8_t *out,
              size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5];
    int ok;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, strlen(salt));
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
    params[4] = OSSL_PARAM_construct_end();
    ok = ctx && EVP_KDF_derive(ctx, out, outlen, params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return ok ? 0 : -EIO;
}
