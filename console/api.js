// api.js: the REST API as the console speaks it. The API key and tenant id live in sessionStorage
// only (gone when the tab closes; never localStorage, never a cookie) and go out with every request
// as "Authorization: Bearer <key>" and "X-IBM-Tenant-Id: <tenant>". The server keeps no session.
// A 401 ends the session and sends the user back to the login form with a message; a 403 is shown
// with the role the call needs (the roles each route needs, as the daemon's route tables say).

const KEY = 'coffer.key';
const TENANT = 'coffer.tenant';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  tenant: () => sessionStorage.getItem(TENANT),
  active: () => !!sessionStorage.getItem(KEY),
  start(key, tenant) { sessionStorage.setItem(KEY, key); sessionStorage.setItem(TENANT, tenant); },
  end() { sessionStorage.removeItem(KEY); sessionStorage.removeItem(TENANT); },
};

// The role a call needs (src/api/*.c route tables): writes of policies, groups and sources need
// Admin; runs, recoveries, downloads and search need Operator; reads need Viewer.
export function roleFor(method, path) {
  if (method === 'GET' && /\/download-files?(\?|$)/.test(path)) return 'Operator';
  if (method === 'GET') return 'Viewer';
  if (/\/(policies|protection-groups)(\/[^/]+)?$/.test(path.split('?')[0])) return 'Admin';
  if (/\/sources\/registrations/.test(path) || /\/runs$/.test(path) && method === 'PUT') return 'Admin';
  if (/\/coffer\/repository\//.test(path)) return 'Admin';
  if (/\/snapshots\/restore-points/.test(path)) return 'Viewer';
  return 'Operator';
}

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code || '';
  }
}

// Called on a 401 (set by app.js): back to the login form with this message.
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

function headers(json) {
  const hd = { Authorization: 'Bearer ' + (session.key() || ''), 'X-IBM-Tenant-Id': session.tenant() || '' };
  if (json) hd['Content-Type'] = 'application/json';
  return hd;
}

async function failure(res, method, path) {
  let msg = '', code = '';
  try {
    const j = await res.json();
    msg = j.message || '';
    code = j.errorCode || '';
  } catch (e) { /* not JSON */ }
  if (res.status === 401) {
    const err = new ApiError(401, 'The API key was refused (401 Unauthorized): log in again with a valid key.', code);
    onUnauthorized(err.message);
    return err;
  }
  if (res.status === 403) {
    return new ApiError(403, `Forbidden: this needs the ${roleFor(method, path)} role, which your key does not hold` +
      (msg ? ` (${msg})` : '') + '.', code);
  }
  return new ApiError(res.status, `${res.status} ${code || res.statusText}: ${msg || 'the request failed'}`, code);
}

// call(method, path, body): the parsed JSON answer (null for an empty body); throws ApiError.
// timeoutMs bounds every request.
export async function call(method, path, body, timeoutMs = 30000) {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(path, {
      method, headers: headers(body !== undefined), signal: ctl.signal, cache: 'no-store',
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new ApiError(0, ctl.signal.aborted ? `no answer within ${timeoutMs / 1000} s: ${method} ${path}` : `cannot reach cofferd: ${e.message}`);
  } finally {
    clearTimeout(t);
  }
  if (!res.ok) throw await failure(res, method, path);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// blob(path): a GET answered with bytes (a file download), as a Blob; throws ApiError.
export async function blob(path, timeoutMs = 300000) {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(path, { headers: headers(false), signal: ctl.signal, cache: 'no-store' });
    if (!res.ok) throw await failure(res, 'GET', path);
    return await res.blob();
  } finally {
    clearTimeout(t);
  }
}

export const V2 = '/v2/data-protect';
