/* server.h: the HTTP server: libmicrohttpd with a thread pool, bearer-key authentication (auth.h) and the
 * route table. */
#ifndef COFFER_API_SERVER_H
#define COFFER_API_SERVER_H
#include "api/api.h"

/* Request limits, checked before any body is read (see server.c; docs/operations.md "Request
 * limits"): a longer target is 414, more parameters 400, larger or more headers 431. */
#define API_MAX_TARGET_BYTES 16384u  /* path and query string, as sent */
#define API_MAX_QUERY_PARAMS 1024u   /* query parameters, repeated names counted each time */
#define API_MAX_HEADER_BYTES 16384u  /* header names and values together */
#define API_MAX_HEADERS 100u         /* header fields */
#define API_REQUEST_ID_MAX 64        /* an incoming X-Request-Id longer than this is replaced by our own */

struct api_server;
struct api_tls;
/* api_server_start: listens on host:port (port 0 = any free port; see api_server_port). Requests are
 * authenticated by ctx->auth (auth.h: the admin key, the data-security key, the catalog's API keys);
 * without one (ctx NULL or ctx->auth NULL) the server makes its own from admin_key. With tls
 * (api/tls.h) the server speaks HTTPS only, with the credentials tls holds at each handshake; NULL =
 * plain HTTP. The context and tls are borrowed and must outlive the server. */
int api_server_start(const char *host, int port, const char *admin_key, struct api_tls *tls,
                     struct api_context *ctx, struct api_server **out, char *err, size_t errlen);
int api_server_port(const struct api_server *server);
void api_server_stop(struct api_server *server);
#endif
