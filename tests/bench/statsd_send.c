/* statsd_send — DogStatsD load for the bench: RATE datagrams/s for SECONDS
 * to 127.0.0.1:PORT, each holding PER metrics ("bench.statsd.c:1|c|#k:v",
 * newline separated), paced in steps of at most BATCH datagrams, sent with
 * sendmmsg. Prints one JSON line: datagrams and metrics sent, send errors,
 * the rate reached, the senders' CPU.
 *
 * On loopback the kernel's whole delivery path (route, skb, the receiver's
 * socket queue) runs in the sender's system time, ~3 µs per datagram on the
 * bench machine, so one process tops out near 300,000/s. Options:
 *   -p PROCS  split the rate over PROCS processes, each with its own socket
 *             (each paced at RATE/PROCS), so two cores can share the sending.
 *   -g        UDP GSO (UDP_SEGMENT): one send carries up to GSO_SEGS equal
 *             datagrams, which the kernel splits before the receiver's
 *             socket (the receiver still gets one datagram each, as from any
 *             client); this saves the per-datagram route and skb set-up of
 *             the send path, not the receive path's work.
 * usage: statsd_send [-p PROCS] [-g] PORT RATE SECONDS PER */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define BATCH 256    /* messages per sendmmsg */
#define GSO_SEGS 64  /* datagrams per GSO message (the kernel's floor limit) */
#define PROCS_MAX 8

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct result {
    unsigned long long sent, errors;
    int gso; /* UDP GSO was used (a kernel without it: plain sends) */
};

/* One sender: RATE datagrams/s for SECS from its own socket. */
static int send_loop(int port, double rate, double secs, const char *one, size_t len, int gso,
                     struct result *res)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("statsd_send: socket");
        return 1;
    }
    int segs = 1;
    static char buf[65536];
    if (gso) {
        int sz = (int)len;
        if (setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &sz, sizeof sz) != 0) {
            perror("statsd_send: UDP_SEGMENT (sending plain datagrams)");
            gso = 0;
        } else {
            segs = GSO_SEGS;
            while (segs > 1 && (size_t)segs * len > 65000)
                segs--;
        }
    }
    res->gso = gso;
    for (int i = 0; i < segs; i++)
        memcpy(buf + (size_t)i * len, one, len);
    /* BATCH messages of `segs` datagrams each; a short last step of a GSO
     * batch uses a message holding fewer segments */
    static struct mmsghdr m[BATCH];
    static struct iovec iov[BATCH];
    memset(m, 0, sizeof m);
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){buf, len * (size_t)segs};
        m[i].msg_hdr.msg_iov = &iov[i];
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
        unsigned long long n = due - sent; /* datagrams to send now */
        unsigned nmsg = (unsigned)((n + (unsigned long long)segs - 1) / (unsigned long long)segs);
        if (nmsg > BATCH)
            nmsg = BATCH;
        unsigned long long last = n - (unsigned long long)(nmsg - 1) * (unsigned long long)segs;
        if (last > (unsigned long long)segs)
            last = (unsigned long long)segs;
        iov[nmsg - 1].iov_len = len * (size_t)last;
        int k = sendmmsg(fd, m, nmsg, 0);
        iov[nmsg - 1].iov_len = len * (size_t)segs;
        if (k < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != ENOBUFS)
                errors++;
            continue;
        }
        sent += (unsigned long long)k * (unsigned long long)segs;
        if ((unsigned)k == nmsg)
            sent -= (unsigned long long)segs - last;
    }
    close(fd);
    res->sent = sent;
    res->errors = errors;
    return 0;
}

int main(int argc, char **argv)
{
    int procs = 1, gso = 0, opt;
    while ((opt = getopt(argc, argv, "p:g")) != -1) {
        if (opt == 'p')
            procs = atoi(optarg);
        else if (opt == 'g')
            gso = 1;
        else
            procs = 0;
    }
    if (argc - optind != 4 || procs < 1 || procs > PROCS_MAX) {
        fprintf(stderr, "usage: statsd_send [-p PROCS] [-g] PORT RATE SECONDS PER\n");
        return 2;
    }
    int port = atoi(argv[optind]);
    double rate = atof(argv[optind + 1]), secs = atof(argv[optind + 2]);
    int per = atoi(argv[optind + 3]);
    if (port <= 0 || port > 65535 || rate <= 0 || secs <= 0 || per < 1 || per > 200) {
        fprintf(stderr, "statsd_send: bad arguments\n");
        return 2;
    }
    static char one[8192];
    size_t len = 0;
    for (int i = 0; i < per; i++)
        len += (size_t)snprintf(one + len, sizeof one - len, "%sbench.statsd.c:1|c|#k:v%d",
                                i ? "\n" : "", i % 4);

    /* each child writes its result to a pipe; the parent sums them */
    int pfd[2];
    if (pipe(pfd) != 0) {
        perror("statsd_send: pipe");
        return 1;
    }
    double t0 = now_s();
    for (int i = 0; i < procs; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("statsd_send: fork");
            return 1;
        }
        if (pid == 0) {
            close(pfd[0]);
            struct result r = {0, 0, 0};
            int rc = send_loop(port, rate / procs, secs, one, len, gso, &r);
            if (write(pfd[1], &r, sizeof r) != (ssize_t)sizeof r)
                rc = 1;
            _exit(rc);
        }
    }
    close(pfd[1]);
    unsigned long long sent = 0, errors = 0;
    int got = 0, failed = 0, gso_used = gso;
    struct result r;
    while (read(pfd[0], &r, sizeof r) == (ssize_t)sizeof r) {
        sent += r.sent;
        errors += r.errors;
        gso_used &= r.gso;
        got++;
    }
    for (int i = 0; i < procs; i++) {
        int st;
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed = 1;
    }
    double el = now_s() - t0;
    if (failed || got != procs) {
        fprintf(stderr, "statsd_send: a sender failed\n");
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    printf("{\"datagrams\":%llu,\"metrics\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"rate\":%.0f,"
           "\"procs\":%d,\"gso\":%s,\"cpu_s\":%.2f}\n",
           sent, sent * (unsigned long long)per, errors, el, sent / el, procs, gso_used ? "true" : "false", cpu);
    return 0;
}
