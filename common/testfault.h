/* testfault.h — fault injection at named points, in test builds only
 * (FORKCAP_TEST_HOOKS: the forkcap-testhooks binary); nothing otherwise.
 *
 * TEST_FAULT("name") checks for the file $FORKCAP_TEST_FAULT_DIR/name. If
 * it exists and this process is the one that removes it (one shot, even
 * with several processes racing), the process appends "name signal pid
 * epoch_ms" to $FORKCAP_TEST_FAULT_DIR/faults.log and raises the signal
 * number the file holds (9, 11, 6, 19...). The test arms a point by
 * writing that file; tests/crash/matrix.sh lists the points. */
#ifndef FORKCAP_TESTFAULT_H
#define FORKCAP_TESTFAULT_H

#ifdef FORKCAP_TEST_HOOKS
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline void test_fault(const char *name)
{
    const char *dir = getenv("FORKCAP_TEST_FAULT_DIR");
    if (dir == NULL)
        return;
    char path[512], buf[16] = {0};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0 || unlink(path) != 0)
        return;
    int sig = atoi(buf);
    if (sig <= 0 || sig >= 64)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(path, sizeof path, "%s/faults.log", dir);
    FILE *f = fopen(path, "ae");
    if (f) {
        fprintf(f, "%s %d %d %lld\n", name, sig, (int)getpid(),
                (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        fclose(f);
    }
    raise(sig);
}
#define TEST_FAULT(name) test_fault(name)
#else
#define TEST_FAULT(name) ((void)0)
#endif

#endif
