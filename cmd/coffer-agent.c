/* coffer-agent: the remote agent of a protected host (src/agentd/agentd.h). Commands:
 *   coffer-agent --version
 * The agent core (issue 11) adds register, run (foreground) and status. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        printf("coffer-agent %s\n", COFFER_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: coffer-agent --version\n");
    return 2;
}
