/* gen.c: the catalog's generation counters (see cat_gen.h): one process-wide atomic counter per
 * family, and a thread-local mask of the families the current transaction of this thread touched,
 * bumped again when it ends. cat_gen itself is in db.c (it asks whether the catalog is shared), so
 * that this file depends on nothing. */
#include "catalog/cat_gen.h"
#include <stdatomic.h>

static _Atomic uint64_t gens[CAT_GEN_COUNT] = { 1, 1, 1 };
static _Thread_local unsigned tl_touched; /* bit f: family f was written in this thread's transaction */

uint64_t cat_gen_value(enum cat_gen_family family)
{
    return (unsigned)family < CAT_GEN_COUNT ? atomic_load_explicit(&gens[family], memory_order_acquire) : 0;
}

void cat_gen_touch(enum cat_gen_family family)
{
    if ((unsigned)family >= CAT_GEN_COUNT) return;
    atomic_fetch_add_explicit(&gens[family], 1, memory_order_acq_rel);
    tl_touched |= 1u << family;
}

void cat_gen_tx_end(void)
{
    unsigned t = tl_touched;
    tl_touched = 0;
    for (unsigned f = 0; t && f < CAT_GEN_COUNT; f++)
        if (t & (1u << f)) atomic_fetch_add_explicit(&gens[f], 1, memory_order_acq_rel);
}

void cat_gen_bump_all(void)
{
    for (unsigned f = 0; f < CAT_GEN_COUNT; f++) atomic_fetch_add_explicit(&gens[f], 1, memory_order_acq_rel);
}
