/* proctitle.c — see proctitle.h. Only the argv area is reused (never the
 * environment after it), so the title is cut to the original command line's
 * length; "forkcap: lifecycle" fits any real path to the binary. */
#include "proctitle.h"

#include <string.h>
#include <sys/prctl.h>

static char *area;
static size_t area_len;

void proctitle_init(int argc, char **argv)
{
    if (argc < 1 || argv == NULL || argv[0] == NULL)
        return;
    char *end = argv[0] + strlen(argv[0]);
    for (int i = 1; i < argc; i++)
        if (argv[i] == end + 1)
            end = argv[i] + strlen(argv[i]);
    area = argv[0];
    area_len = (size_t)(end - argv[0]);
}

void proctitle_set(const char *title)
{
    prctl(PR_SET_NAME, title, 0, 0, 0);
    if (area == NULL || area_len == 0)
        return;
    size_t n = strlen(title);
    if (n > area_len)
        n = area_len;
    memcpy(area, title, n);
    memset(area + n, 0, area_len - n + 1);
}
