/* jv_base.c: the JSON rules of the validator family (jv.h) that answer nothing: membership in an
 * enumeration and the null rule. They sit below both jv.c (which answers 400s through request.c)
 * and request.c (which applies the null rule to every body), so neither calls the other back. */
#include "api/jv.h"
#include <string.h>

int jv_enum_ok(const char *s, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(s, *allowed) == 0) return 1;
    return 0;
}

/* The null rule: one recursive walk over objects and arrays. Object members whose value is null are
 * deleted (an iterator that deletes the member it stands on must step first: json_object_iter_next
 * before json_object_del). Array elements are kept as they are: a null element is a value in a list,
 * which the list's validator refuses by type. Depth is bounded by jansson's parser (2048 levels). */
void jv_strip_nulls(json_t *j)
{
    if (json_is_object(j)) {
        void *it = json_object_iter(j);
        while (it) {
            const char *key = json_object_iter_key(it);
            json_t *v = json_object_iter_value(it);
            void *next = json_object_iter_next(j, it);
            if (json_is_null(v)) json_object_del(j, key);
            else jv_strip_nulls(v);
            it = next;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) jv_strip_nulls(v);
    }
}
