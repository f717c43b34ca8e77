/* err.h: Coffer's one error convention, stated once.
 *
 * A function that can fail returns an int: 0 on success, a negative code on failure; a positive value
 * is never an error (it is a count, or 1 = yes for a predicate). Codes are negative errno values
 * (-ENOSPC: the disk is full, -ENOMEM, -EIO, -E2BIG: a capped buffer would grow past its cap, ...),
 * plus the two outcomes that are answers rather than faults, named here so every layer spells them
 * the same way:
 *   ERR_NOT_FOUND (-ENOENT)  the thing asked for does not exist (or is another tenant's);
 *   ERR_CONFLICT  (-EEXIST)  the change collides with existing state (a name taken, a run already
 *                            queued, a job that already finished).
 * The catalog's CAT_NOT_FOUND and CAT_CONFLICT are these two. -1 remains "an internal error, already
 * logged" where no better code is known. Callers test "rc < 0" for "failed" and compare with the named
 * constants for the answers they handle; "rc != 0 && rc != ERR_NOT_FOUND" is how a caller lets
 * not-found through. err_text(code) names any code for a log line or a message. */
#ifndef COFFER_UTIL_ERR_H
#define COFFER_UTIL_ERR_H
#include <errno.h>
#include <stddef.h>
#include <string.h>

#define ERR_NOT_FOUND (-ENOENT)
#define ERR_CONFLICT (-EEXIST)

/* err_text: a constant text for code (0, a negative code, or -1): "ok", "not found", "conflict",
 * "internal error" for -1, else strerror(-code). */
static inline const char *err_text(int code)
{
    if (code == 0) return "ok";
    if (code == ERR_NOT_FOUND) return "not found";
    if (code == ERR_CONFLICT) return "conflict";
    if (code == -1) return "internal error";
    return code < 0 ? strerror(-code) : "not an error code";
}
/* err_setf: formats a sentence into err (errlen bytes, truncated); err NULL or errlen 0: nothing. */
void err_setf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
