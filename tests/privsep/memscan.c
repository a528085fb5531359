/* memscan.c — test helper: count the occurrences of each NEEDLE in the
 * readable memory of process PID (its /proc/PID/maps regions, read through
 * /proc/PID/mem; needs root or ptrace rights over it). Prints one line per
 * needle, "<count> <region names where found>", and exits 0, or 2 when the
 * memory cannot be read at all.
 * Usage: memscan PID NEEDLE... */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS_NEEDLES 8
#define MS_CHUNK (1u << 20)

int main(int argc, char **argv)
{
    if (argc < 3 || argc - 2 > MS_NEEDLES) {
        fprintf(stderr, "usage: memscan PID NEEDLE... (at most %d)\n", MS_NEEDLES);
        return 2;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/maps", argv[1]);
    FILE *maps = fopen(path, "r");
    snprintf(path, sizeof path, "/proc/%s/mem", argv[1]);
    int mem = open(path, O_RDONLY);
    if (maps == NULL || mem < 0) {
        fprintf(stderr, "memscan: %s: %s\n", path, strerror(errno));
        return 2;
    }
    int nn = argc - 2;
    unsigned long count[MS_NEEDLES] = {0};
    char where[MS_NEEDLES][512];
    memset(where, 0, sizeof where);
    size_t longest = 0;
    for (int i = 0; i < nn; i++)
        if (strlen(argv[2 + i]) > longest)
            longest = strlen(argv[2 + i]);
    char *buf = malloc(MS_CHUNK + longest);
    unsigned long regions = 0, bytes = 0;
    char line[1024];
    while (buf && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        char perms[8] = "", name[512] = "";
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %511[^\n]", &lo, &hi, perms, name) < 3 || perms[0] != 'r')
            continue;
        if (strstr(name, "[vvar]") || strstr(name, "[vsyscall]"))
            continue;
        regions++;
        size_t carry = 0;
        for (unsigned long at = lo; at < hi;) {
            size_t want = hi - at < MS_CHUNK ? hi - at : MS_CHUNK;
            ssize_t r = pread(mem, buf + carry, want, (off_t)at);
            if (r <= 0)
                break;
            bytes += (unsigned long)r;
            size_t have = carry + (size_t)r;
            for (int i = 0; i < nn; i++) {
                size_t nl = strlen(argv[2 + i]);
                for (char *p = buf; have >= nl && (p = memmem(p, have - (size_t)(p - buf), argv[2 + i], nl));
                     p++) {
                    /* a match inside the carried-over tail was counted already */
                    if ((size_t)(p - buf) + nl <= carry)
                        continue;
                    count[i]++;
                    if (strlen(where[i]) + strlen(name) + 3 < sizeof where[i] && !strstr(where[i], name[0] ? name : "[anon]")) {
                        strcat(where[i], " ");
                        strcat(where[i], name[0] ? name : "[anon]");
                    }
                }
            }
            carry = have < longest ? have : longest - 1;
            memmove(buf, buf + have - carry, carry);
            at += (unsigned long)r;
        }
    }
    if (regions == 0 || bytes == 0) {
        fprintf(stderr, "memscan: nothing readable in %s\n", path);
        return 2;
    }
    for (int i = 0; i < nn; i++)
        printf("%lu%s\n", count[i], where[i]);
    fprintf(stderr, "memscan: %lu regions, %lu bytes\n", regions, bytes);
    free(buf);
    return 0;
}
