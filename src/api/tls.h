/* tls.h: HTTPS for the API server (libmicrohttpd with GnuTLS): the certificate and key the server
 * presents, reloadable without dropping the listener, and the self-signed certificate cofferd makes
 * for itself when it listens beyond loopback without one (docs/operations.md, "TLS").
 *
 *   struct api_tls *t; api_tls_open("cert.pem", "key.pem", &t, err, sizeof err);
 *   api_server_start(host, port, key, t, ctx, &server, ...);   (TLS on; NULL = plain HTTP)
 *   api_tls_reload(t, err, sizeof err);                          (SIGHUP: a bad new pair keeps the old)
 *   api_server_stop(server); api_tls_free(t);
 *
 * Reload: libmicrohttpd asks GnuTLS to call our certificate-retrieve callback in every handshake
 * (MHD_OPTION_HTTPS_CERT_CALLBACK); the callback hands out the current credential set, which a reload
 * replaces under a mutex once the new pair has been read, parsed and matched. A replaced set is kept
 * until api_tls_free (a handshake in flight may still be using it; a reload costs a few KB), so no
 * connection and no listening socket is touched by a reload. One api_tls serves handshakes per
 * process (GnuTLS's callback carries no user pointer): the last one passed to a server. */
#ifndef COFFER_API_TLS_H
#define COFFER_API_TLS_H
#include <stddef.h>

/* The GnuTLS priority string the server uses: TLS 1.3 and 1.2 only, AEAD ciphers only (AES-GCM and
 * ChaCha20-Poly1305), ECDHE key exchange (forward secrecy) for TLS 1.2; the server's order wins. */
#define API_TLS_PRIORITIES                                                                              \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"             \
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

#define API_TLS_FP_LEN 96   /* "AB:CD:...": 32 bytes as hex pairs with colons, and NUL */
#define API_TLS_PIN_LEN 64  /* "sha256//" + 44 base64 characters, and NUL (53) */

struct api_tls;
struct MHD_OptionItem;

/* api_tls_open: reads a PEM certificate chain (leaf first) and its PEM private key, checks that the
 * key file is private to its owner (fsio_check_private: -EPERM otherwise, the message naming the
 * chmod) and that the key belongs to the leaf. Returns 0 with *out (freed by api_tls_free), or
 * -errno with the reason in err. The paths are copied: api_tls_reload reads them again. */
int api_tls_open(const char *cert_file, const char *key_file, struct api_tls **out, char *err, size_t errlen);
/* api_tls_reload: reads the same two files again; when they make a good pair it becomes what every
 * later handshake gets, else nothing changes and err says why (-errno). */
int api_tls_reload(struct api_tls *t, char *err, size_t errlen);
/* api_tls_identity: the current leaf certificate's SHA-256 fingerprint ("AB:CD:...", API_TLS_FP_LEN)
 * and its public-key pin ("sha256//<base64 of the SHA-256 of the DER SubjectPublicKeyInfo>", the
 * form of curl's --pinnedpubkey, API_TLS_PIN_LEN). Either buffer may be NULL. */
void api_tls_identity(struct api_tls *t, char *fp, size_t fplen, char *pin, size_t pinlen);
/* api_tls_mhd_options: fills items (room for at least 3) with the libmicrohttpd options that turn TLS on
 * for a daemon started with MHD_USE_TLS (the retrieve callback, API_TLS_PRIORITIES, MHD_OPTION_END),
 * and makes t the set handshakes use. */
void api_tls_mhd_options(struct api_tls *t, struct MHD_OptionItem *items);
/* api_tls_free: after the server using t has stopped. */
void api_tls_free(struct api_tls *t);

/* api_tls_self_signed: the self-signed certificate of DIR/tls: when dir/cert.pem exists nothing is
 * made (the same certificate, so the same pin, on every start); else a new ECDSA P-256 key is written
 * to dir/key.pem (0600) and a certificate (SHA-256, valid 10 years) for hostname to dir/cert.pem,
 * naming as subjectAltName the hostname, localhost, 127.0.0.1, ::1 and listen_host when it is a
 * specific address (not 0.0.0.0 or ::). dir is created 0700. *created tells which happened. */
int api_tls_self_signed(const char *dir, const char *hostname, const char *listen_host, int *created,
                        char *err, size_t errlen);
#endif
