/* sup_main.c — the supervisor's main (the process Lambda starts):
 * configuration, listening sockets, signals and the event loop. Everything
 * the loop runs is in sup_route.c; the children are in sup_children.c. */
#include "sup.h"

#include <errno.h>
#include <sys/wait.h>
#include <libgen.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfg_vars.h"
#include "clock.h"
#include "frame.h"
#include "log.h"
#include "proctitle.h"

/* The earliest point we control: before main, after the dynamic loader. */
static uint64_t t_exec_us;
__attribute__((constructor(101))) static void sup_mark_start(void)
{
    t_exec_us = clock_us();
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct sup *s = arg;
    (void)what;
    if (sig == SIGCHLD) {
        sup_on_sigchld(s);
        return;
    }
    sup_begin_shutdown(s, SD_SIGTERM_BUDGET_MS, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Bind one socket; -1 (logged) on failure, which is never fatal. */
static int bind_socket(int type, in_addr_t addr, uint16_t port, uint16_t *actual, const char *what)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        log_error("%s socket: %s", what, strerror(errno));
        return -1;
    }
    int one = 1;
    if (type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = addr};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        (type == SOCK_STREAM && listen(fd, 128) < 0)) {
        log_error("cannot bind %s on port %u: %s", what, port, strerror(errno));
        close(fd);
        return -1;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *actual = ntohs(sa.sin_port);
    log_debug("%s on port %u", what, *actual);
    return fd;
}

static void bind_all(struct sup *s)
{
    const in_addr_t lo = htonl(INADDR_LOOPBACK);
    struct sup_sockets *k = &s->socks;
    /* Lambda posts telemetry to sandbox.localdomain, not necessarily 127.0.0.1 */
    k->fd[SUP_SOCK_TELEMETRY] = bind_socket(SOCK_STREAM, htonl(INADDR_ANY), s->cfg.port_telemetry,
                                            &k->port[SUP_SOCK_TELEMETRY], "telemetry listener");
    k->fd[SUP_SOCK_DOGSTATSD] = bind_socket(SOCK_DGRAM, lo, s->cfg.port_dogstatsd, &k->port[SUP_SOCK_DOGSTATSD],
                                            "DogStatsD");
    if (k->fd[SUP_SOCK_DOGSTATSD] >= 0 && s->cfg.dogstatsd_rcvbuf) {
        /* sized here, before any datagram: the flusher reads only once its
         * TLS client is built (and again after each restart); it sets the
         * same size again and says what the kernel granted */
        int v = (int)s->cfg.dogstatsd_rcvbuf;
        if (setsockopt(k->fd[SUP_SOCK_DOGSTATSD], SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0)
            (void)setsockopt(k->fd[SUP_SOCK_DOGSTATSD], SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    }
    k->fd[SUP_SOCK_APM] = bind_socket(SOCK_STREAM, lo, s->cfg.port_apm, &k->port[SUP_SOCK_APM], "trace receiver");
    k->fd[SUP_SOCK_LAMBDA] = bind_socket(SOCK_STREAM, lo, s->cfg.port_lambda, &k->port[SUP_SOCK_LAMBDA],
                                         "/lambda endpoints");
}

int main(int argc, char **argv)
{
    static struct sup s; /* owned by main; children get a copy by fork */
    if (argc > 1) /* by hand; Lambda passes no arguments */
        return sup_cli(argc, argv);
    s.t0_us = t_exec_us ? t_exec_us : clock_us();
    signal(SIGPIPE, SIG_IGN);
    log_set_component("supervisor");
    proctitle_init(argc, argv);
    char argv0[LC_NAME_MAX];
    snprintf(argv0, sizeof argv0, "%s", argc > 0 && argv[0] ? argv[0] : "forkcap");
    snprintf(s.ext_name, sizeof s.ext_name, "%s", basename(argv0));

    if (cfg_load(&s.cfg, cfg_getenv_process, NULL) < 0) {
        log_error("%s", s.cfg.error);
        return 1;
    }
    log_set_level(s.cfg.log_level);
    for (unsigned i = 0; i < s.cfg.nwarnings; i++)
        log_warn("config: %s", s.cfg.warnings[i]);
    char unh[768];
    if (cfg_unhonoured(environ, unh, sizeof unh) > 0)
        log_warn("DD_* variables set but not honoured by forkcap (see docs/migrating.md): %s", unh);
    if (s.cfg.idle)
        log_error("idle mode: %s; the extension registers and follows invocations but sends nothing",
                  s.cfg.idle_reason);
    s.stats_file = getenv("FORKCAP_STATS_FILE");
    if (s.stats_file && (s.stats_file[0] == '\0' || strlen(s.stats_file) >= CFG_PATH_MAX)) {
        log_warn("FORKCAP_STATS_FILE: empty or longer than %u bytes, ignored", CFG_PATH_MAX - 1);
        s.stats_file = NULL;
    }
    snprintf(s.fn_name, sizeof s.fn_name, "%s", s.cfg.fn_name);
    s.subscribe_status = -1;

    struct event_base *base = event_base_new();
    if (base == NULL) {
        /* without an event loop nothing can work; Lambda would see a crash anyway */
        log_error("cannot create an event base");
        return 1;
    }
    bind_all(&s);
    struct event *ev_chld = evsignal_new(base, SIGCHLD, on_signal, &s);
    struct event *ev_term = evsignal_new(base, SIGTERM, on_signal, &s);
    struct event *ev_int = evsignal_new(base, SIGINT, on_signal, &s);
    if (sup_init(&s, base, sup_children, NULL) < 0 || !ev_chld || !ev_term || !ev_int ||
        evsignal_add(ev_chld, NULL) < 0 || evsignal_add(ev_term, NULL) < 0 || evsignal_add(ev_int, NULL) < 0) {
        log_error("cannot set up timers and signals");
        return 1;
    }
    /* the bound ports, before the lifecycle can register: a test reading
     * them never sees a previous sandbox's (only with FORKCAP_STATS_FILE) */
    sup_write_stats(&s);
    /* The flusher needs the key at every (re)start; this process never
     * does: it keeps it in a sealed memfd, not in its memory. */
    s.secrets_fd = cfg_seal_secrets(&s.cfg);
    if (s.secrets_fd < 0)
        log_warn("cannot seal the API key away from the supervisor's memory (%s): it keeps a copy",
                 strerror(errno));
    sup_start(&s);
    event_base_dispatch(base);
    /* the loop ends when the shutdown machine (or a refused registration)
     * says so; our timers keep it running otherwise */
    if (!s.exiting)
        log_error("event loop ended unexpectedly");
    sup_finish(&s);
    return s.exit_code;
}
