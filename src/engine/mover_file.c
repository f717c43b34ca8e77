/* mover_file.c: the file engine (backup.c, restore.c, snapread.c, tar.c) behind the mover seam
 * (mover.h), and the table of movers keyed by environment. */
#include "engine/mover.h"
#include <errno.h>
#include <string.h>

const struct mover mover_file = {
    .name = "file",
    .backup = eng_backup,
    .restore = eng_restore,
    .stat = eng_stat_path,
    .read = eng_write_tar,
};

/* The mover of each environment, and the string the catalog stores for it. */
static const struct {
    const struct mover *mover;
    const char *stored;
} g_movers[MOVER_ENV_COUNT] = {
    [MOVER_ENV_PHYSICAL] = { &mover_file, "kPhysical" },
    [MOVER_ENV_SQL] = { &mover_sql_instance, "kSQL" },
};

const struct mover *mover_for(enum mover_env env)
{
    return (unsigned)env < MOVER_ENV_COUNT ? g_movers[env].mover : NULL;
}

int mover_env_from_catalog(const char *stored, enum mover_env *out)
{
    for (int e = 0; e < MOVER_ENV_COUNT && stored; e++) {
        if (g_movers[e].stored && strcmp(g_movers[e].stored, stored) == 0) {
            *out = (enum mover_env)e;
            return 0;
        }
    }
    return -EINVAL;
}

const char *mover_env_catalog_name(enum mover_env env)
{
    return (unsigned)env < MOVER_ENV_COUNT ? g_movers[env].stored : "";
}
