/* auth.c: who is calling (auth.h). Three kinds of bearer token:
 *   - the admin key (DIR/admin.key or COFFER_ADMIN_KEY): principal "admin", a cluster Admin;
 *   - the data-security key (COFFER_DATA_SECURITY_KEY): principal "data-security", a cluster key
 *     holding DataSecurity and Viewer;
 *   - an API key "cfk_<id>_<secret>": its catalog row (one primary-key read per request, so a
 *     revocation or an expiry is seen by the very next request), compared as SHA-256 digests in
 *     constant time; revoked or expired (util_time_now) keys are refused.
 * The admin key's digest can be replaced while requests run (SIGHUP, the rotate route): a mutex
 * guards the two digests. A key's last use is written at most once a minute (KEY_TOUCH_USECS).
 *
 * Failed authentication is limited per client address (IPv4, or an IPv6 /64) in a fixed table of
 * AUTH_SLOTS entries (when it is full, the least recently seen address not cooling down is reused):
 * fail_limit failures within window_secs put the address on cool-down for cooldown_secs, during
 * which every request from it is refused (429). */
#include "api/auth.h"
#include "util/hex.h"
#include "catalog/cat_key.h"
#include "util/log.h"
#include "util/time.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define AUTH_SLOTS 256
#define KEY_TOUCH_USECS (60LL * 1000000)
#define TOKEN_MAX 512 /* a longer bearer token is no key of ours (not hashed) */

struct auth_slot {
    unsigned char addr[16]; /* IPv4 as ::ffff:a.b.c.d */
    int used;
    int64_t window_start, blocked_until, last_seen; /* util_time_mono, microseconds */
    unsigned failures;
};

struct api_auth_state {
    pthread_mutex_t mu; /* guards the admin digest and the slots */
    unsigned char admin[SHA256_DIGEST_LENGTH];
    unsigned char ds[SHA256_DIGEST_LENGTH];
    int has_ds;
    char *admin_key_path;
    struct api_auth_limits limits;
    struct auth_slot slots[AUTH_SLOTS];
};

int api_auth_new(const char *admin_key, const char *admin_key_path, const char *ds_key,
                 const struct api_auth_limits *limits, struct api_auth_state **out)
{
    struct api_auth_state *a = calloc(1, sizeof *a);
    static const struct api_auth_limits def = API_AUTH_LIMITS_DEFAULT;
    if (!a) return -ENOMEM;
    pthread_mutex_init(&a->mu, NULL);
    SHA256((const unsigned char *)admin_key, strlen(admin_key), a->admin);
    if (ds_key && *ds_key) {
        SHA256((const unsigned char *)ds_key, strlen(ds_key), a->ds);
        a->has_ds = 1;
    }
    if (admin_key_path && !(a->admin_key_path = strdup(admin_key_path))) {
        api_auth_free(a);
        return -ENOMEM;
    }
    a->limits = limits ? *limits : def;
    if (a->limits.window_secs == 0) a->limits.window_secs = 1;
    *out = a;
    return 0;
}

void api_auth_free(struct api_auth_state *a)
{
    if (!a) return;
    pthread_mutex_destroy(&a->mu);
    free(a->admin_key_path);
    OPENSSL_cleanse(a->admin, sizeof a->admin);
    free(a);
}

int api_auth_set_admin_key(struct api_auth_state *a, const char *key)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    if (!key || !*key) return -EINVAL;
    SHA256((const unsigned char *)key, strlen(key), d);
    pthread_mutex_lock(&a->mu);
    memcpy(a->admin, d, sizeof d);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

const char *api_auth_admin_key_path(const struct api_auth_state *a) { return a->admin_key_path; }

static void fixed_principal(struct api_principal *p, const char *id, unsigned roles)
{
    memset(p, 0, sizeof *p);
    snprintf(p->key_id, sizeof p->key_id, "%s", id);
    p->roles = roles;
    p->cluster = 1;
}

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* api_key_lookup: an API key token (its shape already checked) against the catalog. */
static int api_key_lookup(struct cat *cat, const char *token, const unsigned char *digest, struct api_principal *out)
{
    char id[API_KEY_ID_HEX + 1];
    struct cat_key k;
    int64_t now = util_time_now();
    int ok;
    memcpy(id, token + 4, API_KEY_ID_HEX);
    id[API_KEY_ID_HEX] = '\0';
    if (!cat || cat_key_get(cat, id, &k) != 0) return -1;
    ok = CRYPTO_memcmp(digest, k.sha256, SHA256_DIGEST_LENGTH) == 0 && k.revoked_usecs == 0 &&
         (k.expires_usecs == 0 || now < k.expires_usecs) && strlen(k.tenant) < sizeof out->tenant;
    if (ok) {
        memset(out, 0, sizeof *out);
        snprintf(out->key_id, sizeof out->key_id, "%s", k.id);
        snprintf(out->tenant, sizeof out->tenant, "%s", k.tenant);
        out->roles = k.roles & API_ROLE_ALL;
        out->cluster = k.tenant[0] == '\0';
        if (now - k.last_used_usecs >= KEY_TOUCH_USECS && cat_key_touch(cat, id, now) != 0)
            log_warn("cannot record the last use of API key %s", id);
    }
    cat_key_release(&k);
    return ok ? 0 : -1;
}

int api_auth_lookup(struct api_auth_state *a, struct cat *cat, const char *authorization, struct api_principal *out)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    const char *token;
    size_t n;
    int is_admin, is_ds;
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return -1;
    token = authorization + 7;
    while (*token == ' ') token++;
    n = strlen(token);
    if (n == 0 || n > TOKEN_MAX) return -1;
    SHA256((const unsigned char *)token, n, d);
    if (n == API_KEY_TOKEN_LEN && strncmp(token, API_KEY_PREFIX, 4) == 0 && token[4 + API_KEY_ID_HEX] == '_' &&
        is_hex(token + 4, API_KEY_ID_HEX) && is_hex(token + 5 + API_KEY_ID_HEX, API_KEY_SECRET_HEX))
        return api_key_lookup(cat, token, d, out);
    pthread_mutex_lock(&a->mu);
    is_admin = CRYPTO_memcmp(d, a->admin, sizeof d) == 0;
    is_ds = a->has_ds && CRYPTO_memcmp(d, a->ds, sizeof d) == 0;
    pthread_mutex_unlock(&a->mu);
    if (is_admin) fixed_principal(out, API_ADMIN_KEY_ID, API_ROLE_ADMIN);
    else if (is_ds) fixed_principal(out, API_DATA_SECURITY_KEY_ID, API_ROLE_DATA_SECURITY | API_ROLE_VIEWER);
    return is_admin || is_ds ? 0 : -1;
}

/* ---- failed-authentication limit ---- */

static void addr_bytes(const struct sockaddr *sa, unsigned char out[16])
{
    memset(out, 0, 16);
    if (!sa) return;
    if (sa->sa_family == AF_INET6) {
        static const unsigned char v4[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        if (memcmp(out, v4, 12) != 0) memset(out + 8, 0, 8); /* one IPv6 client holds a whole /64 */
    } else if (sa->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

static void addr_text(const unsigned char b[16], char *buf, size_t len)
{
    static const unsigned char v4[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp(b, v4, 12) == 0) inet_ntop(AF_INET, b + 12, buf, (socklen_t)len);
    else inet_ntop(AF_INET6, b, buf, (socklen_t)len);
}

/* victim_rank: which slot to reuse first: a free one (0), one not cooling down (1), one cooling down (2). */
static int victim_rank(const struct auth_slot *s, int64_t now)
{
    return !s->used ? 0 : s->blocked_until > now ? 2 : 1;
}

/* slot_of: the address's slot (a->mu held); with make, a new one in place of a free slot, else of
 * the least recently seen address that is not cooling down (so that failures spread over many
 * addresses do not free a blocked one), else of the least recently seen. */
static struct auth_slot *slot_of(struct api_auth_state *a, const unsigned char b[16], int make, int64_t now)
{
    struct auth_slot *oldest = NULL;
    for (int i = 0; i < AUTH_SLOTS; i++) {
        struct auth_slot *s = &a->slots[i];
        if (s->used && memcmp(s->addr, b, 16) == 0) return s;
        if (!make) continue; /* a lookup (every request, api_auth_blocked): no victim needed */
        if (!oldest || victim_rank(s, now) < victim_rank(oldest, now) ||
            (victim_rank(s, now) == victim_rank(oldest, now) && s->last_seen < oldest->last_seen))
            oldest = s;
    }
    if (!make) return NULL;
    memset(oldest, 0, sizeof *oldest);
    memcpy(oldest->addr, b, 16);
    oldest->used = 1;
    oldest->window_start = now;
    return oldest;
}

int api_auth_blocked(struct api_auth_state *a, const struct sockaddr *addr, unsigned *retry_after)
{
    unsigned char b[16];
    struct auth_slot *s;
    int64_t now = util_time_mono();
    int blocked = 0;
    if (a->limits.fail_limit == 0) return 0;
    addr_bytes(addr, b);
    pthread_mutex_lock(&a->mu);
    s = slot_of(a, b, 0, now);
    if (s && s->blocked_until > now) {
        blocked = 1;
        *retry_after = (unsigned)((s->blocked_until - now + 999999) / 1000000);
    }
    pthread_mutex_unlock(&a->mu);
    return blocked;
}

void api_auth_failed(struct api_auth_state *a, const struct sockaddr *addr)
{
    unsigned char b[16];
    char text[INET6_ADDRSTRLEN];
    struct auth_slot *s;
    int64_t now = util_time_mono();
    unsigned failures = 0;
    int now_blocked = 0;
    addr_bytes(addr, b);
    addr_text(b, text, sizeof text);
    if (a->limits.fail_limit > 0) {
        pthread_mutex_lock(&a->mu);
        s = slot_of(a, b, 1, now);
        s->last_seen = now;
        if (now - s->window_start >= (int64_t)a->limits.window_secs * 1000000) {
            s->window_start = now;
            s->failures = 0;
        }
        failures = ++s->failures;
        if (failures >= a->limits.fail_limit) {
            s->blocked_until = now + (int64_t)a->limits.cooldown_secs * 1000000;
            s->failures = 0;
            s->window_start = now;
            now_blocked = 1;
        }
        pthread_mutex_unlock(&a->mu);
    }
    log_warn("authentication failed from %s (%u in %u s)", text, failures, a->limits.window_secs);
    if (now_blocked)
        log_warn("authentication: %s failed %u times; its requests are refused (429) for %u s", text,
                 a->limits.fail_limit, a->limits.cooldown_secs);
}

/* ---- tokens and role names ---- */

int api_key_new_token(char *id, char *token, unsigned char *sha256)
{
    unsigned char raw_id[API_KEY_ID_HEX / 2], raw[API_KEY_SECRET_HEX / 2];
    char secret[API_KEY_SECRET_HEX + 1];
    if (RAND_bytes(raw_id, sizeof raw_id) != 1 || RAND_bytes(raw, sizeof raw) != 1) return -1;
    util_hex_encode(raw_id, sizeof raw_id, id);
    util_hex_encode(raw, sizeof raw, secret);
    snprintf(token, API_KEY_TOKEN_LEN + 1, API_KEY_PREFIX "%s_%s", id, secret);
    SHA256((const unsigned char *)token, API_KEY_TOKEN_LEN, sha256);
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(secret, sizeof secret);
    return 0;
}

int api_admin_key_new(char *key)
{
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) return -1;
    util_hex_encode(raw, sizeof raw, key);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

static const struct { unsigned bit; const char *name; } role_names[] = {
    { API_ROLE_VIEWER, "Viewer" }, { API_ROLE_OPERATOR, "Operator" }, { API_ROLE_ADMIN, "Admin" },
    { API_ROLE_DATA_SECURITY, "DataSecurity" }, { API_ROLE_AGENT, "Agent" },
};

const char *api_role_names(unsigned roles, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
        int n;
        if (!(roles & role_names[i].bit)) continue;
        n = snprintf(buf + o, len - o, "%s%s", o ? "," : "", role_names[i].name);
        if (n < 0 || (size_t)n >= len - o) break;
        o += (size_t)n;
    }
    return buf;
}

unsigned api_role_parse(const char *name)
{
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
        if (name && strcmp(name, role_names[i].name) == 0) return role_names[i].bit;
    return 0;
}
