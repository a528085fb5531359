/* bench-spawn: how long fork + exec + exit + wait of a program takes.
 * Usage: bench-spawn RUNS PROG [ARGS...]; prints one JSON line of ms figures. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SPN_MAX_RUNS 100000

static double spn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int spn_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* nearest rank, the same definition run.sh uses for every other figure */
static double spn_pct(const double *v, long n, double p)
{
    long i = (long)(p * (double)n + 0.999999) - 1;
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return v[i];
}

/* One fork/exec/wait; returns the elapsed ms or -1 when the program did
 * not run or did not exit 0 (a figure of a failing program means nothing). */
static double spn_once(char **argv)
{
    double t0 = spn_now_ms();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    double dt = spn_now_ms() - t0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? dt : -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench-spawn RUNS PROG [ARGS...]\n");
        return 2;
    }
    char *end;
    errno = 0;
    long n = strtol(argv[1], &end, 10);
    if (errno || *end != '\0' || n < 1 || n > SPN_MAX_RUNS) {
        fprintf(stderr, "bench-spawn: RUNS must be 1..%d\n", SPN_MAX_RUNS);
        return 2;
    }
    double *v = calloc((size_t)n, sizeof *v);
    if (v == NULL) {
        fprintf(stderr, "bench-spawn: out of memory\n");
        return 1;
    }
    if (spn_once(&argv[2]) < 0) { /* warm the page cache; also checks the program works */
        fprintf(stderr, "bench-spawn: %s did not run or exit 0\n", argv[2]);
        free(v);
        return 1;
    }
    for (long i = 0; i < n; i++) {
        v[i] = spn_once(&argv[2]);
        if (v[i] < 0) {
            fprintf(stderr, "bench-spawn: run %ld of %s failed\n", i + 1, argv[2]);
            free(v);
            return 1;
        }
    }
    qsort(v, (size_t)n, sizeof *v, spn_cmp);
    printf("{\"runs\":%ld,\"min_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f}\n", n, v[0],
           spn_pct(v, n, 0.5), spn_pct(v, n, 0.9), spn_pct(v, n, 0.99));
    free(v);
    return 0;
}
