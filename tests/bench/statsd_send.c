/* statsd_send — DogStatsD load for the bench: RATE datagrams/s for SECONDS
 * to 127.0.0.1:PORT, each holding PER metrics ("bench.statsd.c:1|c|#k:v",
 * newline separated), paced in 1 ms steps, sent with sendmmsg. Prints one
 * JSON line: datagrams and metrics sent, send errors, the rate reached.
 * usage: statsd_send PORT RATE SECONDS PER */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: statsd_send PORT RATE SECONDS PER\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double rate = atof(argv[2]), secs = atof(argv[3]);
    int per = atoi(argv[4]);
    if (port <= 0 || port > 65535 || rate <= 0 || secs <= 0 || per < 1 || per > 200) {
        fprintf(stderr, "statsd_send: bad arguments\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("statsd_send: socket");
        return 1;
    }
    static char buf[8192];
    size_t len = 0;
    for (int i = 0; i < per; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%sbench.statsd.c:1|c|#k:v%d",
                                i ? "\n" : "", i % 4);
    struct mmsghdr m[BATCH];
    struct iovec iov = {buf, len};
    memset(m, 0, sizeof m);
    for (int i = 0; i < BATCH; i++) {
        m[i].msg_hdr.msg_iov = &iov;
        m[i].msg_hdr.msg_iovlen = 1;
    }
    unsigned long long sent = 0, errors = 0;
    double t0 = now_s(), end = t0 + secs;
    for (;;) {
        double t = now_s();
        if (t >= end)
            break;
        unsigned long long due = (unsigned long long)((t - t0) * rate);
        if (sent >= due) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            continue;
        }
        unsigned long long n = due - sent;
        if (n > BATCH)
            n = BATCH;
        int k = sendmmsg(fd, m, (unsigned)n, 0);
        if (k < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != ENOBUFS)
                errors++;
            continue;
        }
        sent += (unsigned long long)k;
    }
    double el = now_s() - t0;
    printf("{\"datagrams\":%llu,\"metrics\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"rate\":%.0f}\n",
           sent, sent * (unsigned long long)per, errors, el, sent / el);
    close(fd);
    return 0;
}
