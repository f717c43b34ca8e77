/* text.c: case folding over UTF-8 (see text.h): each valid sequence is decoded with mbrtowc in a
 * C.UTF-8 locale object made once (newlocale: the process's own locale is never changed), folded with
 * towlower_l and encoded again with wcrtomb; an invalid byte is copied (ASCII tolower). */
#include "util/text.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

size_t util_utf8_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n;
    if (!u[0]) return 0;
    if (u[0] < 0x80) return 1;
    if (u[0] >= 0xc2 && u[0] <= 0xdf) n = 2;
    else if (u[0] >= 0xe0 && u[0] <= 0xef) n = 3;
    else if (u[0] >= 0xf0 && u[0] <= 0xf4) n = 4;
    else return 1;
    for (size_t i = 1; i < n; i++)
        if ((u[i] & 0xc0) != 0x80) return 1;
    return n;
}

int util_fold(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    locale_t old;
    int rc = 0;
    if (cap == 0) return -E2BIG;
    pthread_once(&utf8_once, utf8_init);
    old = utf8_locale ? uselocale(utf8_locale) : (locale_t)0;
    while (*in) {
        size_t n = util_utf8_len(in);
        char enc[MB_LEN_MAX];
        size_t elen = 0;
        if (n > 1 && utf8_locale) {
            mbstate_t st;
            wchar_t wc;
            memset(&st, 0, sizeof st);
            if (mbrtowc(&wc, in, n, &st) == n) {
                memset(&st, 0, sizeof st);
                elen = wcrtomb(enc, towlower_l((wint_t)wc, utf8_locale), &st);
                if (elen == (size_t)-1) elen = 0;
            }
        }
        if (elen == 0) { /* ASCII, an invalid byte, or a character that does not encode back */
            if (n == 1) {
                enc[0] = (char)tolower((unsigned char)*in);
                elen = 1;
            } else {
                memcpy(enc, in, n);
                elen = n;
            }
        }
        if (o + elen >= cap) {
            rc = -E2BIG;
            break;
        }
        memcpy(out + o, enc, elen);
        o += elen;
        in += n;
    }
    out[o] = '\0';
    if (utf8_locale) uselocale(old);
    return rc;
}
