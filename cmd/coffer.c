/* coffer: the command-line client (placeholder until the CLI lands). */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "coffer: not built yet\n");
    return 2;
}
