/* test_fsio_private.c: fsio_check_private, the check cofferd runs on its secret files (repo.key,
 * admin.key, the TLS key): 0600 and 0400 pass; any group or other bit (read, write or execute) is
 * -EPERM with a message naming the path, the mode and "chmod 600 <path>"; a missing file is -ENOENT,
 * a directory -EINVAL; a symbolic link is judged by the file it points to. */
#include "check.h"
#include "util/fsio.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;
static char file[512];

static void set_mode(mode_t m)
{
    if (chmod(file, m) != 0) perror("chmod");
}

TEST(private_modes_pass)
{
    char msg[1024] = "";
    set_mode(0600);
    CHECK_EQ_INT(fsio_check_private(file, msg, sizeof msg), 0);
    set_mode(0400);
    CHECK_EQ_INT(fsio_check_private(file, msg, sizeof msg), 0);
}

TEST(group_or_other_bits_refused_with_the_fix)
{
    static const mode_t bad[] = { 0644, 0640, 0604, 0620, 0602, 0610, 0601, 0666 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char msg[1024] = "", want[700];
        set_mode(bad[i]);
        CHECK_EQ_INT(fsio_check_private(file, msg, sizeof msg), -EPERM);
        snprintf(want, sizeof want, "%s has mode %04o", file, (unsigned)bad[i]);
        CHECKF(strstr(msg, want) != NULL, "mode %o: %s", (unsigned)bad[i], msg);
        snprintf(want, sizeof want, "chmod 600 %s", file);
        CHECKF(strstr(msg, want) != NULL, "mode %o: %s", (unsigned)bad[i], msg);
    }
    set_mode(0600);
}

TEST(missing_directory_and_link)
{
    char msg[1024] = "", p[600], link[600];
    snprintf(p, sizeof p, "%s/absent.key", dir);
    CHECK_EQ_INT(fsio_check_private(p, msg, sizeof msg), -ENOENT);
    CHECK(strstr(msg, p) != NULL);
    CHECK_EQ_INT(fsio_check_private(dir, msg, sizeof msg), -EINVAL);
    snprintf(link, sizeof link, "%s/link.key", dir);
    CHECK(symlink(file, link) == 0);
    set_mode(0644);
    CHECK_EQ_INT(fsio_check_private(link, msg, sizeof msg), -EPERM);
    set_mode(0600);
    CHECK_EQ_INT(fsio_check_private(link, msg, sizeof msg), 0);
}

int main(void)
{
    FILE *f;
    dir = check_tmpdir("fsio-private");
    snprintf(file, sizeof file, "%s/secret.key", dir);
    f = fopen(file, "w");
    if (!f || fputs("secret\n", f) < 0 || fclose(f) != 0) check_abandon("cannot write the test file");
    RUN(private_modes_pass);
    RUN(group_or_other_bits_refused_with_the_fix);
    RUN(missing_directory_and_link);
    check_rm_rf(dir);
    free(dir);
    return check_finish();
}
