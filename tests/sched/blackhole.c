/* blackhole.c — test helper: an "intake" that accepts TCP connections and
 * never answers (no TLS handshake, no byte back), reading and discarding
 * whatever comes, until SIGTERM. Listens on 127.0.0.1 (port 0 = any free
 * one) and writes the bound port to a file once listening.
 * Usage: blackhole PORT PORT_FILE */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BH_CONNS 1000

static volatile sig_atomic_t bh_stop;

static void bh_on_term(int sig)
{
    (void)sig;
    bh_stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: blackhole PORT PORT_FILE\n");
        return 2;
    }
    struct sigaction sa = {.sa_handler = bh_on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 128) < 0) {
        perror("blackhole: listen");
        return 1;
    }
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%u\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, argv[2]) != 0) {
        perror("blackhole: port file");
        return 1;
    }
    static struct pollfd pf[BH_CONNS + 1];
    nfds_t n = 1;
    pf[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
    unsigned long accepted = 0;
    while (!bh_stop) {
        if (poll(pf, n, 1000) < 0) {
            if (errno == EINTR)
                continue;
            perror("blackhole: poll");
            return 1;
        }
        for (nfds_t i = n; i-- > 1;) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t r = read(pf[i].fd, buf, sizeof buf);
            if (r > 0 || (r < 0 && errno == EINTR))
                continue;
            close(pf[i].fd);
            pf[i] = pf[--n];
        }
        if ((pf[0].revents & POLLIN) && n <= BH_CONNS) {
            int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                pf[n++] = (struct pollfd){.fd = c, .events = POLLIN};
                accepted++;
            }
        }
    }
    fprintf(stderr, "blackhole: %lu connections accepted, none answered\n", accepted);
    return 0;
}
