/* ids.c: the leaf helpers every file of src/repo uses: ids in hex and error sentences. */
#include "repo/repo_int.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

void repo_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0) return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void repo_id_to_hex(const repo_id_t *id, char hex[REPO_ID_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < REPO_ID_LEN; i++) {
        hex[2 * i] = digits[id->b[i] >> 4];
        hex[2 * i + 1] = digits[id->b[i] & 15];
    }
    hex[REPO_ID_HEX_LEN] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int repo_id_from_hex(const char *hex, repo_id_t *id)
{
    if (!hex) return -EINVAL;
    for (int i = 0; i < REPO_ID_LEN; i++) {
        int hi, lo;
        if (!hex[2 * i] || !hex[2 * i + 1]) return -EINVAL;
        hi = hexval(hex[2 * i]);
        lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -EINVAL;
        id->b[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[REPO_ID_HEX_LEN] == '\0' ? 0 : -EINVAL;
}
