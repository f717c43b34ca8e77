/* tls.c: the server's certificate and key (GnuTLS), swapped on reload, and the self-signed certificate
 * (OpenSSL libcrypto); see tls.h for the reload scheme.
 *
 * A credential set (struct tls_creds) is the parsed chain (gnutls_pcert_st, leaf first), the private
 * key, and the leaf's fingerprint and pin, computed once. api_tls holds the current set and the list
 * of replaced ones; every pointer the retrieve callback hands to GnuTLS stays valid until api_tls_free. */
#include "api/tls.h"
#include "util/fsio.h"
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TLS_MAX_CHAIN 16                 /* certificates in the chain file */
#define TLS_MAX_CERT_FILE (1u << 20)     /* bytes of the chain file */
#define TLS_MAX_KEY_FILE (64u * 1024)    /* bytes of the key file */

struct tls_creds {
    gnutls_pcert_st chain[TLS_MAX_CHAIN];
    unsigned n;
    gnutls_privkey_t key;
    char fp[API_TLS_FP_LEN];
    char pin[API_TLS_PIN_LEN];
    struct tls_creds *retired_next;
};

struct api_tls {
    pthread_mutex_t mu;
    struct tls_creds *cur;     /* what handshakes get; under mu */
    struct tls_creds *retired; /* replaced sets, kept until api_tls_free; under mu */
    char *cert_file, *key_file;
};

static _Atomic(struct api_tls *) g_active; /* the set the retrieve callback serves */

static void creds_free(struct tls_creds *c)
{
    if (!c) return;
    for (unsigned i = 0; i < c->n; i++) gnutls_pcert_deinit(&c->chain[i]);
    if (c->key) gnutls_privkey_deinit(c->key);
    free(c);
}

/* der_of_pubkey: the DER SubjectPublicKeyInfo of a public key (gnutls_free the data). */
static int der_of_pubkey(gnutls_pubkey_t pub, gnutls_datum_t *out)
{
    return gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out);
}

/* key_matches_leaf: 1 when the private key's public half is the leaf certificate's public key. */
static int key_matches_leaf(gnutls_privkey_t key, gnutls_pcert_st *leaf)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t a = { NULL, 0 }, b = { NULL, 0 };
    int same = 0;
    if (gnutls_pubkey_init(&pub) == 0 && gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
        der_of_pubkey(pub, &a) == 0 && der_of_pubkey(leaf->pubkey, &b) == 0)
        same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
    gnutls_free(a.data);
    gnutls_free(b.data);
    if (pub) gnutls_pubkey_deinit(pub);
    return same;
}

/* leaf_identity: fills c->fp and c->pin from the leaf (c->chain[0]). */
static int leaf_identity(struct tls_creds *c)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    unsigned char b64[48]; /* 44 characters and NUL for 32 bytes */
    gnutls_datum_t spki = { NULL, 0 };
    size_t o = 0;
    SHA256(c->chain[0].cert.data, c->chain[0].cert.size, h);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        o += (size_t)snprintf(c->fp + o, sizeof c->fp - o, "%s%02X", i ? ":" : "", h[i]);
    if (der_of_pubkey(c->chain[0].pubkey, &spki) != 0) return -1;
    SHA256(spki.data, spki.size, h);
    gnutls_free(spki.data);
    EVP_EncodeBlock(b64, h, SHA256_DIGEST_LENGTH);
    snprintf(c->pin, sizeof c->pin, "sha256//%s", (const char *)b64);
    return 0;
}

/* creds_load: reads and checks one pair; on failure returns -errno with err filled. */
static int creds_load(const char *cert_file, const char *key_file, struct tls_creds **out, char *err, size_t errlen)
{
    struct tls_creds *c = calloc(1, sizeof *c);
    void *cdata = NULL, *kdata = NULL;
    size_t clen = 0, klen = 0;
    gnutls_datum_t d;
    int rc, grc;
    *out = NULL;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = fsio_check_private(key_file, err, errlen);
    if (rc != 0) goto fail;
    rc = fsio_read_all(cert_file, TLS_MAX_CERT_FILE, &cdata, &clen);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the certificate file %s: %s", cert_file, strerror(-rc));
        goto fail;
    }
    rc = fsio_read_all(key_file, TLS_MAX_KEY_FILE, &kdata, &klen);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the key file %s: %s", key_file, strerror(-rc));
        goto fail;
    }
    c->n = TLS_MAX_CHAIN;
    d.data = cdata;
    d.size = (unsigned)clen;
    grc = gnutls_pcert_list_import_x509_raw(c->chain, &c->n, &d, GNUTLS_X509_FMT_PEM, 0);
    if (grc < 0 || c->n == 0) {
        c->n = 0;
        snprintf(err, errlen, "the certificate file %s holds no usable PEM certificate (at most %d): %s",
                 cert_file, TLS_MAX_CHAIN, grc < 0 ? gnutls_strerror(grc) : "none found");
        rc = -EINVAL;
        goto fail;
    }
    d.data = kdata;
    d.size = (unsigned)klen;
    if ((grc = gnutls_privkey_init(&c->key)) < 0 ||
        (grc = gnutls_privkey_import_x509_raw(c->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errlen, "the key file %s holds no usable unencrypted PEM private key: %s", key_file,
                 gnutls_strerror(grc));
        rc = -EINVAL;
        goto fail;
    }
    if (!key_matches_leaf(c->key, &c->chain[0])) {
        snprintf(err, errlen, "the key in %s does not belong to the first certificate of %s", key_file, cert_file);
        rc = -EINVAL;
        goto fail;
    }
    if (leaf_identity(c) != 0) {
        snprintf(err, errlen, "cannot read the public key of the certificate in %s", cert_file);
        rc = -EINVAL;
        goto fail;
    }
    OPENSSL_cleanse(kdata, klen);
    free(kdata);
    free(cdata);
    *out = c;
    return 0;
fail:
    if (kdata) OPENSSL_cleanse(kdata, klen);
    free(kdata);
    free(cdata);
    creds_free(c);
    return rc;
}

/* retrieve: GnuTLS's certificate-retrieve callback (server side: the CA and algorithm lists are
 * empty). Hands out the current set; GnuTLS does not free what it gets from this callback. */
static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                    unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    struct api_tls *t = atomic_load(&g_active);
    struct tls_creds *c;
    (void)session; (void)req_ca_rdn; (void)nreqs; (void)pk_algos; (void)pk_algos_length;
    if (!t) return -1;
    pthread_mutex_lock(&t->mu);
    c = t->cur;
    pthread_mutex_unlock(&t->mu);
    *pcert = c->chain;
    *pcert_length = c->n;
    *privkey = c->key;
    return 0;
}

int api_tls_open(const char *cert_file, const char *key_file, struct api_tls **out, char *err, size_t errlen)
{
    struct api_tls *t = calloc(1, sizeof *t);
    int rc;
    *out = NULL;
    if (!t || !(t->cert_file = strdup(cert_file)) || !(t->key_file = strdup(key_file))) {
        if (t) free(t->cert_file);
        free(t);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = creds_load(cert_file, key_file, &t->cur, err, errlen);
    if (rc != 0) {
        free(t->cert_file);
        free(t->key_file);
        free(t);
        return rc;
    }
    pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return 0;
}

int api_tls_reload(struct api_tls *t, char *err, size_t errlen)
{
    struct tls_creds *c;
    int rc = creds_load(t->cert_file, t->key_file, &c, err, errlen);
    if (rc != 0) return rc;
    pthread_mutex_lock(&t->mu);
    t->cur->retired_next = t->retired;
    t->retired = t->cur;
    t->cur = c;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void api_tls_identity(struct api_tls *t, char *fp, size_t fplen, char *pin, size_t pinlen)
{
    pthread_mutex_lock(&t->mu);
    if (fp) snprintf(fp, fplen, "%s", t->cur->fp);
    if (pin) snprintf(pin, pinlen, "%s", t->cur->pin);
    pthread_mutex_unlock(&t->mu);
}

void api_tls_mhd_options(struct api_tls *t, struct MHD_OptionItem *items)
{
    atomic_store(&g_active, t);
    items[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)retrieve };
    items[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)API_TLS_PRIORITIES };
    items[2] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
}

void api_tls_free(struct api_tls *t)
{
    struct api_tls *expect = t;
    if (!t) return;
    atomic_compare_exchange_strong(&g_active, &expect, NULL);
    while (t->retired) {
        struct tls_creds *next = t->retired->retired_next;
        creds_free(t->retired);
        t->retired = next;
    }
    creds_free(t->cur);
    pthread_mutex_destroy(&t->mu);
    free(t->cert_file);
    free(t->key_file);
    free(t);
}

/* ---- the self-signed certificate ---- */

/* add_ext: one X.509v3 extension given in OpenSSL's configuration syntax. */
static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) return -1;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* bio_text: the bytes written to a memory BIO. */
static const char *bio_text(BIO *b, size_t *len)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    *len = n > 0 ? (size_t)n : 0;
    return p;
}

/* is_specific_ip: listen_host is an IPv4 or IPv6 literal other than the unspecified address. */
static int is_specific_ip(const char *h)
{
    unsigned char a[16], zero[16] = { 0 };
    if (inet_pton(AF_INET, h, a) == 1) return memcmp(a, zero, 4) != 0;
    if (inet_pton(AF_INET6, h, a) == 1) return memcmp(a, zero, 16) != 0;
    return 0;
}

/* dns_name_ok: a host name we can put in a certificate as it is (letters, digits, '-', '.'). */
static int dns_name_ok(const char *h)
{
    size_t n = strlen(h);
    return n > 0 && n < 254 && strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == n;
}

int api_tls_self_signed(const char *dir, const char *hostname, const char *listen_host, int *created,
                        char *err, size_t errlen)
{
    char certp[PATH_MAX], keyp[PATH_MAX], san[1024];
    EVP_PKEY *pk = NULL;
    X509 *x = NULL;
    BIGNUM *serial = NULL;
    BIO *cb = NULL, *kb = NULL;
    const char *host = dns_name_ok(hostname) ? hostname : "localhost";
    const char *text;
    size_t len;
    int rc = -EIO, n;
    *created = 0;
    if (snprintf(certp, sizeof certp, "%s/cert.pem", dir) >= (int)sizeof certp ||
        snprintf(keyp, sizeof keyp, "%s/key.pem", dir) >= (int)sizeof keyp) {
        snprintf(err, errlen, "the path %s is too long", dir);
        return -ENAMETOOLONG;
    }
    if (access(certp, F_OK) == 0) return 0; /* made on an earlier start: the same pin */
    if ((rc = fsio_mkdir_p(dir, 0700)) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
        return rc;
    }
    n = snprintf(san, sizeof san, "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", host);
    if (is_specific_ip(listen_host) && strcmp(listen_host, "127.0.0.1") != 0 && strcmp(listen_host, "::1") != 0)
        n += snprintf(san + n, sizeof san - (size_t)n, ",IP:%s", listen_host);
    if (n >= (int)sizeof san) {
        snprintf(err, errlen, "the host name is too long for a certificate");
        return -EINVAL;
    }
    rc = -EIO;
    pk = EVP_EC_gen("P-256");
    x = X509_new();
    serial = BN_new();
    cb = BIO_new(BIO_s_mem());
    kb = BIO_new(BIO_s_mem());
    if (!pk || !x || !serial || !cb || !kb) goto ossl_fail;
    if (!X509_set_version(x, 2) || !BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400) || !X509_set_pubkey(x, pk) ||
        !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)host,
                                    -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "O", MBSTRING_ASC,
                                    (const unsigned char *)"cofferd self-signed", -1, -1, 0) ||
        !X509_set_issuer_name(x, X509_get_subject_name(x)))
        goto ossl_fail;
    if (add_ext(x, NID_subject_alt_name, san) || add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
        add_ext(x, NID_key_usage, "critical,digitalSignature") || add_ext(x, NID_ext_key_usage, "serverAuth") ||
        add_ext(x, NID_subject_key_identifier, "hash"))
        goto ossl_fail;
    if (!X509_sign(x, pk, EVP_sha256())) goto ossl_fail;
    if (!PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL) || !PEM_write_bio_X509(cb, x)) goto ossl_fail;
    /* The key first: cert.pem appearing is the commit point (a crash between leaves no cert.pem, and
     * the next start makes both again). */
    text = bio_text(kb, &len);
    rc = fsio_write_atomic(keyp, text, len, 0600);
    if (rc != 0) {
        snprintf(err, errlen, "cannot write %s: %s", keyp, strerror(-rc));
        goto done;
    }
    text = bio_text(cb, &len);
    rc = fsio_write_atomic(certp, text, len, 0644);
    if (rc != 0) {
        snprintf(err, errlen, "cannot write %s: %s", certp, strerror(-rc));
        goto done;
    }
    *created = 1;
    rc = 0;
    goto done;
ossl_fail:
    snprintf(err, errlen, "cannot make a self-signed certificate (OpenSSL error %lu)", ERR_get_error());
    rc = -EIO;
done:
    if (kb) { /* the key's PEM text: freeing a memory BIO does not clear it */
        char *p = NULL;
        long kn = BIO_get_mem_data(kb, &p);
        if (p && kn > 0) OPENSSL_cleanse(p, (size_t)kn);
    }
    BIO_free(kb);
    BIO_free(cb);
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(pk);
    return rc;
}
