/* secret.c: small secrets (a registered database's password) sealed under the repository's
 * encryption key, as text the catalog can keep (repo_secret_seal / repo_secret_open, repo.h).
 *
 * The sealed text is "cfs1:" followed by the standard base64 (OpenSSL's EVP_EncodeBlock) of the
 * repository envelope (repo_env_seal: magic "CFSC", format version, random 96-bit nonce,
 * AES-256-GCM ciphertext, tag; the first 8 bytes are the AAD). Anyone holding the catalog alone
 * learns nothing but the secret's length; a changed byte fails the tag and is refused (-EBADMSG),
 * and so is any base64 text but the canonical one (its unused bits set), so one secret has one text.
 * Secrets are at most REPO_SECRET_MAX bytes; the plaintext buffers are wiped before they are freed. */
#include "repo/repo.h"
#include "repo/repo_int.h"
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAGIC "CFSC"
#define SECRET_PREFIX "cfs1:"

int repo_secret_seal(struct repo *repo, const char *plain, char **out)
{
    size_t len, envlen = 0, b64len;
    uint8_t *env = NULL;
    char *text;
    int rc;
    *out = NULL;
    if (!repo || !plain) return -EINVAL;
    len = strlen(plain);
    if (len > REPO_SECRET_MAX) return -E2BIG;
    rc = repo_env_seal(repo->enc_key, SECRET_MAGIC, plain, len, &env, &envlen);
    if (rc < 0) return rc;
    b64len = 4 * ((envlen + 2) / 3);
    text = malloc(sizeof SECRET_PREFIX + b64len);
    if (!text) {
        free(env);
        return -ENOMEM;
    }
    memcpy(text, SECRET_PREFIX, sizeof SECRET_PREFIX - 1);
    if (EVP_EncodeBlock((unsigned char *)text + sizeof SECRET_PREFIX - 1, env, (int)envlen) != (int)b64len) {
        free(env);
        free(text);
        return -EIO;
    }
    free(env);
    *out = text;
    return 0;
}

int repo_secret_open(struct repo *repo, const char *text, char **out)
{
    size_t tlen, b64len, envlen, plain_len = 0, pad = 0;
    uint8_t *env, *plain = NULL;
    char *res;
    int n, rc;
    *out = NULL;
    if (!repo || !text) return -EINVAL;
    tlen = strlen(text);
    if (tlen < sizeof SECRET_PREFIX - 1 || memcmp(text, SECRET_PREFIX, sizeof SECRET_PREFIX - 1) != 0)
        return -EINVAL;
    text += sizeof SECRET_PREFIX - 1;
    b64len = tlen - (sizeof SECRET_PREFIX - 1);
    if (b64len == 0 || b64len % 4 != 0 || b64len > 4 * ((REPO_SECRET_MAX + 64) / 3 + 1)) return -EBADMSG;
    for (size_t i = 0; i < b64len; i++) {
        char c = text[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                 c == '/' || (c == '=' && i >= b64len - 2);
        if (!ok) return -EBADMSG;
    }
    if (text[b64len - 1] == '=') pad++;
    if (text[b64len - 2] == '=') pad++;
    env = malloc(b64len / 4 * 3);
    if (!env) return -ENOMEM;
    n = EVP_DecodeBlock(env, (const unsigned char *)text, (int)b64len);
    if (n < 0 || (size_t)n < pad) {
        free(env);
        return -EBADMSG;
    }
    envlen = (size_t)n - pad;   /* EVP_DecodeBlock counts the padding's zero bytes */
    {
        /* only the canonical encoding is accepted: the unused low bits of the last character before
         * the padding must be zero, so no other text opens to the same secret */
        char *again = malloc(b64len + 1);
        int oom = !again, same = again && EVP_EncodeBlock((unsigned char *)again, env, (int)envlen) == (int)b64len &&
                                 memcmp(again, text, b64len) == 0;
        free(again);
        if (!same) {
            free(env);
            return oom ? -ENOMEM : -EBADMSG;
        }
    }
    rc = repo_env_open(repo->enc_key, SECRET_MAGIC, env, envlen, &plain, &plain_len);
    if (rc < 0) {
        free(env);
        return rc == -ENOTSUP ? -ENOTSUP : -EBADMSG;
    }
    if (plain_len > REPO_SECRET_MAX || memchr(plain, 0, plain_len)) {
        OPENSSL_cleanse(env, envlen);
        free(env);
        return -EBADMSG;
    }
    res = malloc(plain_len + 1);
    if (res) {
        memcpy(res, plain, plain_len);
        res[plain_len] = '\0';
    }
    OPENSSL_cleanse(env, envlen);
    free(env);
    if (!res) return -ENOMEM;
    *out = res;
    return 0;
}

void repo_secret_free(char *plain)
{
    if (!plain) return;
    OPENSSL_cleanse(plain, strlen(plain));
    free(plain);
}
