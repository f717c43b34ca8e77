/* audit.h: the API's side of the audit log (svc/audit.h keeps it).
 *
 * api_audit_request is called once per dispatched request, after the handler answered and before the
 * answer is sent (server.c on_request): it records every request whose method is not GET or HEAD
 * (whatever its status: a change, a refused change, or a read-like POST such as search) and every
 * refused request of any method (401, 403, 429). The record names the caller's key id (never the
 * secret or the Authorization header), tenant, roles, client address, method, route pattern, path,
 * resource id and status; see docs/operations.md, "Audit log".
 *
 * The route table api_routes_coffer_audit serves GET /v2/coffer/audit (a Coffer extension). */
#ifndef COFFER_API_AUDIT_H
#define COFFER_API_AUDIT_H
#include "api/api.h"

void api_audit_request(struct api_req *req, const struct api_resp *resp);
#endif
