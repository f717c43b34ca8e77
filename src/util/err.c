/* err.c: the one writer of an error sentence into a caller's buffer (err.h: err_setf). */
#include "util/err.h"
#include <stdarg.h>
#include <stdio.h>

void err_setf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0) return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
