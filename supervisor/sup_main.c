/* sup_main.c — the supervisor (the process Lambda starts): configuration,
 * listening sockets, the two children, the frame router, the data spool,
 * the go-ahead and the shutdown deadline. It never parses anything a
 * child sends beyond the validated frame, never blocks, and never exits
 * before SHUTDOWN (or SIGTERM, or the platform's "exit promptly"). */
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

static double ms_since0(const struct sup *s, uint64_t t)
{
    return t ? clock_ms_between(s->t0_us, t) : 0.0;
}

/* JSON snapshot for tests and the bench (FORKCAP_STATS_FILE), replaced
 * atomically so a reader never sees half a file. "ports" are the bound
 * ports (0: not bound), so a test can ask for port 0 and read them back. */
void sup_write_stats(const struct sup *s, const char *phase)
{
    if (s->stats_file == NULL)
        return;
    char tmp[CFG_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->stats_file);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return;
    const struct sup_child *lc = &s->child[SUP_LIFECYCLE], *fl = &s->child[SUP_FLUSHER];
    fprintf(f,
            "{\"phase\":\"%s\",\"pid\":%d,\"ready_ms\":%.3f,\"register_ms\":%.3f,\"subscribe_ms\":%.3f,"
            "\"first_next_ms\":%.3f,\"flusher_tls_ms\":%.3f,\"flusher_ready_ms\":%.3f,"
            "\"invocations\":%llu,\"idle\":%s,"
            "\"lifecycle\":{\"pid\":%d,\"state\":\"%s\",\"restarts\":%u,\"protocol_errors\":%u},"
            "\"flusher\":{\"pid\":%d,\"state\":\"%s\",\"restarts\":%u,\"protocol_errors\":%u},"
            "\"spool\":{\"held\":%llu,\"dropped\":%llu,\"delivered\":%llu,\"bytes\":%zu,"
            "\"full\":%s,\"pressure_on\":%llu,\"window_waits\":%llu,\"high\":%zu,\"rate_bps\":%.0f},"
            "\"ports\":{\"telemetry\":%u,\"dogstatsd\":%u,\"apm\":%u,\"lambda\":%u},",
            phase, (int)getpid(), ms_since0(s, s->t_first_next_us), ms_since0(s, s->t_register_us),
            s->t_subscribe_us && s->t_register_us ? clock_ms_between(s->t_register_us, s->t_subscribe_us) : 0.0,
            ms_since0(s, s->t_first_next_us),
            s->t_fl_tls_us ? clock_ms_between(s->t_fl_start_us, s->t_fl_tls_us) : 0.0,
            ms_since0(s, s->t_fl_ready_us), (unsigned long long)s->invocations,
            s->cfg.idle ? "true" : "false", (int)lc->pid, sup_pstate_name(lc->st), lc->restarts,
            lc->broken, (int)fl->pid, sup_pstate_name(fl->st), fl->restarts, fl->broken,
            (unsigned long long)s->spool.frames, (unsigned long long)s->spool.dropped,
            (unsigned long long)s->spool.delivered, s->spool.bytes, s->spool.full ? "true" : "false",
            (unsigned long long)s->spool.pressure_on, (unsigned long long)s->spool.window_waits,
            s->spool.high, s->spool.rate_bps,
            s->socks.telemetry_port, s->socks.dogstatsd_port,
            s->socks.apm_port, s->socks.lambda_port);
    const struct sup_sched *sc = &s->sched;
    const struct sched_stats *st = &sc->st;
    fprintf(f,
            "\"sched\":{\"strategy\":\"%s\",\"interval_ms\":%u,\"mode\":\"%s\",\"telemetry\":%s,"
            "\"flushes\":{\"started\":%llu,\"ok\":%llu,\"failed\":%llu,\"timed_out\":%llu,\"late\":%llu,"
            "\"background\":%llu,\"skipped\":%llu},"
            "\"go\":{",
            cfg_flush_name(sc->strategy.kind), sc->strategy.interval_ms, sup_sched_mode_name(sc->mode),
            sc->telemetry ? "true" : "false", (unsigned long long)st->started, (unsigned long long)st->ok,
            (unsigned long long)st->failed, (unsigned long long)st->timed_out, (unsigned long long)st->late,
            (unsigned long long)st->bg_started, (unsigned long long)st->bg_skipped);
    for (int r = 0; r < SCHED_GO_NREASONS; r++)
        fprintf(f, "%s\"%s\":%llu", r ? "," : "", sup_sched_reason_name((enum sched_go_reason)r),
                (unsigned long long)st->go[r]);
    fprintf(f, "},\"runtime_done\":{\"matched\":%llu,\"ignored\":%llu},\"abandoned\":%llu,"
               "\"mode_switches\":%llu}}\n",
            (unsigned long long)st->done_matched, (unsigned long long)st->done_ignored,
            (unsigned long long)st->abandoned, (unsigned long long)st->mode_switches);
    fclose(f);
    rename(tmp, s->stats_file);
}

/* Once both the lifecycle's first /next and the flusher's READY are known. */
static void maybe_log_init(struct sup *s)
{
    if (s->init_logged || !s->t_first_next_us || !s->t_fl_ready_us)
        return;
    s->init_logged = true;
    double sub = s->subscribe_status >= 0 && s->t_subscribe_us
                     ? clock_ms_between(s->t_register_us, s->t_subscribe_us) : 0.0;
    log_info("ready in %.1f ms (register %.1f, subscribe %.1f%s, first_next %.1f; flusher tls %.1f, "
             "flusher ready %.1f)",
             ms_since0(s, s->t_first_next_us), ms_since0(s, s->t_register_us), sub,
             s->subscribe_status < 0 ? " not sent" : "", ms_since0(s, s->t_first_next_us),
             clock_ms_between(s->t_fl_start_us, s->t_fl_tls_us), ms_since0(s, s->t_fl_ready_us));
    sup_write_stats(s, "ready");
}

static struct peer *link_of(struct sup *s, enum sup_kind k)
{
    struct sup_child *c = &s->child[k];
    return (c->st == PS_STARTING || c->st == PS_UP) ? c->peer : NULL;
}

static void send_frame(struct sup *s, enum sup_kind k, struct frame_buf *fb)
{
    struct peer *p = link_of(s, k);
    if (p && fb->err)
        log_error("a frame to %s could not be encoded: dropped", s->child[k].name);
    else if (p && peer_send_buf(p, fb) == 0)
        log_warn("%s's queue is full: frame %s dropped", s->child[k].name,
                 frame_type_name(frame_bytes_type(fb->p, fb->len)));
    frame_buf_free(fb);
}

static void send_context(struct sup *s)
{
    if (!s->ext_id[0])
        return;
    struct frame_buf fb = {0};
    const struct ft_context m = {
        .fn_name = s->fn_name,
        .fn_version = s->fn_version,
        .account_id = s->account_id[0] ? s->account_id : NULL,
        .arn = s->arn[0] ? s->arn : NULL,
        .request_id = s->request_id[0] ? s->request_id : NULL,
        .cold_start = s->cold_start,
        .has_cold_start = true,
    };
    frame_encode_context(&fb, &m);
    send_frame(s, SUP_FLUSHER, &fb);
}

static void sup_flush(struct sup *s, uint64_t id, uint32_t budget_ms, bool final)
{
    struct frame_buf fb = {0};
    frame_encode_flush(&fb, &(struct ft_flush){.flush_id = id, .budget_ms = budget_ms,
                                               .final = final, .has_final = final});
    send_frame(s, SUP_FLUSHER, &fb);
}

/* Carry out what the scheduler decided (flush first, then the go-ahead)
 * and re-arm its one timer. */
static void sched_apply(struct sup *s, const struct sched_act *a, enum sched_phase before)
{
    if (a->flush_id) {
        log_debug("flush %llu%s (budget %u ms)", (unsigned long long)a->flush_id, a->final ? " final" : "",
                  a->budget_ms);
        sup_flush(s, a->flush_id, a->budget_ms, a->final);
    }
    if (a->go) {
        if (a->reason == SCHED_GO_DEADLINE || a->reason == SCHED_GO_TIMEOUT)
            log_warn("%s: go-ahead at the %s bound",
                     before == SCHED_WAIT_DONE ? "no runtimeDone in time"
                     : before == SCHED_WAIT_FLUSH ? "end flush not done in time" : "no time to flush",
                     sup_sched_reason_name(a->reason));
        struct frame_buf fb = {0};
        frame_encode_go(&fb, &(struct ft_go){0});
        send_frame(s, SUP_LIFECYCLE, &fb);
    }
    evtimer_del(s->sched_timer);
    uint64_t wake = sup_sched_next_wake(&s->sched);
    if (wake != SCHED_NEVER) {
        uint64_t now = clock_us();
        uint64_t d = wake > now ? wake - now : 0;
        struct timeval tv = {(time_t)(d / 1000000u), (suseconds_t)(d % 1000000u)};
        evtimer_add(s->sched_timer, &tv);
    }
}

/* The scheduler learns of the flusher link from the process table, whatever
 * path (EOF, protocol error, reaping) brought it up or down. */
static void sched_sync_flusher(struct sup *s)
{
    bool up = link_of(s, SUP_FLUSHER) != NULL;
    if (up == s->sched.flusher_up)
        return;
    struct sched_act a;
    enum sched_phase before = s->sched.phase;
    sup_sched_flusher(&s->sched, up, clock_us(), &a);
    sched_apply(s, &a, before);
}

static void on_sched_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sup *s = arg;
    struct sched_act a;
    sched_sync_flusher(s);
    enum sched_phase before = s->sched.phase;
    sup_sched_tick(&s->sched, clock_us(), &a);
    sched_apply(s, &a, before);
}

/* Sends the lifecycle the spool's pressure state (FT_PRESSURE). */
static void send_pressure(struct sup *s)
{
    struct frame_buf fb = {0};
    frame_encode_pressure(&fb, &(struct ft_pressure){.full = s->spool.full});
    send_frame(s, SUP_LIFECYCLE, &fb);
}

/* Feed the flusher from the spool within its credit window; when frames
 * wait for the window, or the flusher holds a payload's worth, have it
 * deliver (a flush) so acks open the window. Then tell the lifecycle when
 * the spool crosses a water mark (sup_spool.h). */
static void spool_pump(struct sup *s)
{
    sup_spool_clock(&s->spool, clock_us());
    bool blocked = sup_spool_pump(&s->spool, link_of(s, SUP_FLUSHER));
    if (blocked || s->spool.unacked >= SUP_SPOOL_FLUSH_AT) {
        struct sched_act a;
        enum sched_phase before = s->sched.phase;
        sup_sched_backlog(&s->sched, clock_us(), &a);
        if (a.flush_id)
            sched_apply(s, &a, before);
    }
    int change = sup_spool_pressure(&s->spool);
    if (change > 0)
        log_info("backpressure on: %zu bytes spooled (high-water mark %zu); Lambda is answered 503",
                 s->spool.bytes, s->spool.high);
    else if (change < 0)
        log_info("backpressure off: %zu bytes spooled", s->spool.bytes);
    if (change)
        send_pressure(s);
}

static void on_invoke(struct sup *s, const struct ft_invoke *m)
{
    const char *rid = m->request_id, *arn = m->arn;
    int64_t deadline = m->deadline_ms;
    bool changed = strcmp(s->request_id, rid) != 0 || strcmp(s->arn, arn) != 0;
    snprintf(s->request_id, sizeof s->request_id, "%s", rid);
    snprintf(s->arn, sizeof s->arn, "%s", arn);
    s->deadline_ms = deadline;
    s->invocations++;
    if (changed)
        send_context(s);
    s->cold_start = false; /* the next context is no longer the sandbox's first invocation */
    if (!s->cfg.idle) {
        /* the one count of enhanced "invocations", spooled with the data */
        struct frame_buf fb = {0};
        const struct ft_invocation iv = {.n = s->invocations, .request_id = rid, .time_ms = clock_epoch_ms()};
        if (frame_encode_invocation(&fb, &iv) == 0 && sup_spool_add(&s->spool, fb.p, fb.len) == 0)
            spool_pump(s);
        else
            log_warn("invocation %llu could not be spooled", (unsigned long long)s->invocations);
        frame_buf_free(&fb);
    }
    sched_sync_flusher(s);
    uint64_t now = clock_us();
    struct sched_act a;
    enum sched_mode before = s->sched.mode;
    sup_sched_invoke(&s->sched, rid, sup_sched_deadline_us(deadline, clock_epoch_ms(), now), now, &a);
    if (s->sched.mode != before)
        log_info("flush strategy default: now %s (average gap over the last %u invocations)",
                 sup_sched_mode_name(s->sched.mode), SCHED_ADAPT_N);
    sched_apply(s, &a, SCHED_IDLE);
}

/* A platform record that matters to scheduling (the lifecycle child forwards
 * it; it is spooled for the flusher separately). */
static void on_platform(struct sup *s, const struct ft_platform *m)
{
    const char *rid = m->request_id && m->request_id[0] ? m->request_id : NULL;
    if (rid && s->cold_start && (m->event == PE_START || m->event == PE_RUNTIME_DONE)) {
        /* an invocation whose INVOKE we never saw (lifecycle died in /next) */
        s->cold_start = false;
    }
    if (m->event != PE_RUNTIME_DONE)
        return;
    sched_sync_flusher(s);
    struct sched_act a;
    enum sched_phase before = s->sched.phase;
    sup_sched_runtime_done(&s->sched, rid, clock_us(), &a);
    sched_apply(s, &a, before);
}

/* Stop both children; the process exits once they are reaped (or killed). */
static void on_stop_timer(evutil_socket_t fd, short what, void *arg);
static void sup_stop_children(struct sup *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->final_flush_id = 0;
    for (int k = 0; k < SUP_NKIND; k++)
        sup_proc_event(s, (enum sup_kind)k, PE_STOP);
    struct timeval tv = {0, SUP_STOP_GRACE_MS * 1000};
    evtimer_del(s->stop_timer);
    evtimer_add(s->stop_timer, &tv);
    sup_check_exit(s);
}

static void sup_exit(struct sup *s, int code)
{
    for (int k = 0; k < SUP_NKIND; k++)
        if (s->child[k].pid > 0)
            kill(s->child[k].pid, SIGKILL);
    /* Reap them here: SIGKILL ends a child at once, and a child left to be
     * reaped by whatever init the sandbox has would linger as a zombie. */
    for (int k = 0; k < SUP_NKIND; k++)
        if (s->child[k].pid > 0)
            while (waitpid(s->child[k].pid, NULL, 0) < 0 && errno == EINTR)
                ;
    sup_write_stats(s, "exit");
    log_info("exiting (%llu invocations; restarts: lifecycle %u, flusher %u; spool dropped %llu, "
             "backpressure %llu time(s))",
             (unsigned long long)s->invocations, s->child[SUP_LIFECYCLE].restarts,
             s->child[SUP_FLUSHER].restarts, (unsigned long long)s->spool.dropped,
             (unsigned long long)s->spool.pressure_on);
    exit(code);
}

static void on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sup *s = arg;
    if (!s->stopping) {
        log_warn("final flush not done in time");
        sup_stop_children(s);
        return;
    }
    sup_exit(s, 0); /* grace over: whoever is left is killed */
}

static void on_exit_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    log_warn("shutdown deadline reached");
    sup_exit(arg, 0);
}

void sup_check_exit(struct sup *s)
{
    if (s->shutting && s->stopping && sup_all_gone(s))
        sup_exit(s, 0);
}

/* Lambda sends the last telemetry (the last invocation's REPORT among it)
 * after SHUTDOWN, within its buffering time (25 ms as we subscribe). The
 * final flush waits until the listener has been quiet for SUP_SETTLE_QUIET_MS,
 * but never longer than SUP_SETTLE_MAX_MS nor a third of the time left. */
#define SUP_SETTLE_QUIET_MS 60
#define SUP_SETTLE_MAX_MS 400

static void sup_final_flush(struct sup *s);

static void on_settle_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sup *s = arg;
    if (!s->settling)
        return;
    s->settling = false;
    sup_final_flush(s);
}

/* A telemetry frame arrived while settling: wait for quiet again. */
static void sup_settle_extend(struct sup *s)
{
    if (!s->settling)
        return;
    int64_t left = s->settle_until_ms - clock_epoch_ms();
    if (left <= 0)
        return; /* the hard end stands; its timer is armed already */
    int64_t wait = left < SUP_SETTLE_QUIET_MS ? left : SUP_SETTLE_QUIET_MS;
    struct timeval tv = {0, (suseconds_t)wait * 1000};
    evtimer_del(s->settle_timer);
    evtimer_add(s->settle_timer, &tv);
}

static void sup_shutdown(struct sup *s, int64_t deadline_ms, const char *why)
{
    if (s->shutting)
        return;
    s->shutting = true;
    int64_t now = clock_epoch_ms();
    /* Lambda grants 2 s; a deadline far off or already past is not trusted */
    if (deadline_ms > now + 10000 || deadline_ms <= now)
        deadline_ms = now + 2000;
    s->exit_at_ms = deadline_ms - SUP_EXIT_MARGIN_MS;
    int64_t left = s->exit_at_ms - now;
    if (left < 0)
        left = 0;
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
    evtimer_add(s->exit_timer, &tv);
    log_info("shutdown (%s)", why);
    int64_t settle = left / 3;
    if (settle > SUP_SETTLE_MAX_MS)
        settle = SUP_SETTLE_MAX_MS;
    if (s->cfg.idle || settle < SUP_SETTLE_QUIET_MS || s->child[SUP_LIFECYCLE].pid <= 0) {
        sup_final_flush(s);
        return;
    }
    s->settling = true;
    s->settle_until_ms = now + settle;
    struct timeval st = {0, (suseconds_t)SUP_SETTLE_QUIET_MS * 1000};
    evtimer_add(s->settle_timer, &st);
}

static void sup_final_flush(struct sup *s)
{
    int64_t left = s->exit_at_ms - clock_epoch_ms();
    if (left < 0)
        left = 0;
    /* the final flush ends early enough to leave the children their grace */
    int64_t budget = left - SUP_STOP_GRACE_MS;
    if (budget < 0)
        budget = 0;
    if (budget > (int64_t)s->cfg.flush_timeout_s * 1000)
        budget = (int64_t)s->cfg.flush_timeout_s * 1000;
    log_info("final flush within %lld ms", (long long)budget);
    /* the last flush is for everything spooled: no window now */
    sup_spool_set_limits(&s->spool, 0, s->spool.high, s->spool.low);
    spool_pump(s);
    sched_sync_flusher(s);
    struct sched_act a;
    sup_sched_shutdown(&s->sched, (uint32_t)budget, clock_us(), &a);
    a.go = false; /* no invocation waits for a go-ahead any more */
    sched_apply(s, &a, SCHED_IDLE);
    if (a.flush_id == 0) {
        sup_stop_children(s);
        return;
    }
    s->final_flush_id = a.flush_id;
    struct timeval bt = {(time_t)(budget / 1000), (suseconds_t)(budget % 1000) * 1000};
    evtimer_add(s->stop_timer, &bt);
}

static void on_link_lost(struct sup *s, enum sup_kind k, struct peer *p)
{
    struct sup_child *c = &s->child[k];
    if (peer_error(p)) {
        c->broken++;
        log_error("protocol error from %s (pid %d): %s; restarting it", c->name, (int)c->pid,
                  peer_error(p));
    } else if (!s->shutting) {
        log_warn("%s (pid %d) closed its link", c->name, (int)c->pid);
    }
    sup_proc_event(s, k, PE_LINK_LOST);
    if (k == SUP_LIFECYCLE)
        sup_sched_lifecycle_lost(&s->sched);
    else
        sched_sync_flusher(s);
}

void sup_on_lifecycle(struct peer *p, const struct frame *f, void *arg)
{
    struct sup *s = arg;
    if (f == NULL) {
        on_link_lost(s, SUP_LIFECYCLE, p);
        return;
    }
    switch (f->type) {
    case FT_REGISTERED: {
        const struct ft_registered *m = &f->u.registered;
        snprintf(s->ext_id, sizeof s->ext_id, "%s", m->ext_id);
        snprintf(s->fn_name, sizeof s->fn_name, "%s", m->fn_name);
        snprintf(s->fn_version, sizeof s->fn_version, "%s", m->fn_version);
        if (m->account_id)
            snprintf(s->account_id, sizeof s->account_id, "%s", m->account_id);
        if (!s->t_register_us)
            s->t_register_us = m->t_register_us;
        log_debug("registered as %s", s->ext_name);
        sup_proc_event(s, SUP_LIFECYCLE, PE_READY);
        send_context(s);
        break;
    }
    case FT_SUBSCRIBED:
        s->subscribe_status = (int)f->u.subscribed.status;
        /* only an accepted subscription will bring platform.runtimeDone */
        sup_sched_set_telemetry(&s->sched, s->subscribe_status == 200);
        if (!s->t_subscribe_us)
            s->t_subscribe_us = f->u.subscribed.t_subscribe_us;
        break;
    case FT_NEXT_WAIT:
        sup_proc_event(s, SUP_LIFECYCLE, PE_READY);
        if (!s->t_first_next_us && s->ext_id[0]) {
            s->t_first_next_us = f->u.next_wait.t_us;
            maybe_log_init(s);
        }
        break;
    case FT_INVOKE:
        if (!s->shutting)
            on_invoke(s, &f->u.invoke);
        break;
    case FT_SHUTDOWN: {
        char why[64];
        snprintf(why, sizeof why, "SHUTDOWN %.40s", f->u.shutdown.reason);
        sup_shutdown(s, f->u.shutdown.deadline_ms, why);
        break;
    }
    case FT_FATAL: {
        const struct ft_fatal *m = &f->u.fatal;
        if (m->has_status && m->status >= 500 && !s->ext_id[0]) {
            log_error("the platform refused registration (%s) and asks extensions to exit", m->error);
            sup_exit(s, 1);
        }
        log_error("the platform refused the extension: %s; staying idle until shutdown", m->error);
        break;
    }
    case FT_PLATFORM:
    case FT_LOGS: {
        if (f->type == FT_PLATFORM)
            on_platform(s, &f->u.platform);
        sup_settle_extend(s);
        if (s->cfg.idle)
            break; /* idle mode ships nothing, so it keeps nothing */
        /* re-encode rather than relay the child's bytes: what we spool is ours */
        struct frame_buf fb = {0};
        if (frame_encode(&fb, f) == 0 && sup_spool_add(&s->spool, fb.p, fb.len) == 0)
            spool_pump(s);
        else
            log_warn("data frame %s could not be spooled", frame_type_name(f->type));
        frame_buf_free(&fb);
        break;
    }
    default:
        break;
    }
}

void sup_on_flusher(struct peer *p, const struct frame *f, void *arg)
{
    struct sup *s = arg;
    if (f == NULL) {
        on_link_lost(s, SUP_FLUSHER, p);
        if (s->shutting && s->final_flush_id) {
            s->final_flush_id = 0;
            sup_stop_children(s);
        }
        return;
    }
    switch (f->type) {
    case FT_READY:
        if (!s->t_fl_ready_us) {
            s->t_fl_start_us = f->u.ready.t_start_us;
            s->t_fl_tls_us = f->u.ready.t_tls_us;
            s->t_fl_ready_us = f->u.ready.t_ready_us;
            maybe_log_init(s);
        }
        sup_proc_event(s, SUP_FLUSHER, PE_READY);
        break;
    case FT_ACK:
        sup_spool_ack(&s->spool, f->u.ack.upto);
        spool_pump(s);
        break;
    case FT_FLUSHED: {
        const struct ft_flushed *m = &f->u.flushed;
        uint64_t id = m->flush_id;
        bool ok = m->ok;
        log_debug("flush %llu done: %s, %llu sent, %llu failed, %llu dropped, %llu ms",
                  (unsigned long long)id, ok ? "ok" : "not ok", (unsigned long long)m->sent,
                  (unsigned long long)m->failed, (unsigned long long)m->dropped,
                  (unsigned long long)m->ms);
        sup_spool_flushed(&s->spool, m->ms);
        struct sched_act a;
        sup_sched_flushed(&s->sched, id, ok, clock_us(), &a);
        if (s->shutting)
            a.go = false;
        sched_apply(s, &a, SCHED_WAIT_FLUSH);
        if (s->shutting && s->final_flush_id && id == s->final_flush_id) {
            s->final_flush_id = 0;
            sup_stop_children(s);
        }
        break;
    }
    default:
        break;
    }
}

void sup_link_up(struct sup *s, enum sup_kind k)
{
    if (k == SUP_FLUSHER) {
        /* a new flusher gets the identity, then every unacknowledged frame */
        send_context(s);
        sched_sync_flusher(s);
        spool_pump(s);
    } else if (k == SUP_LIFECYCLE && s->spool.full) {
        send_pressure(s); /* a new lifecycle starts without it */
    }
    sup_write_stats(s, "spawn");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct sup *s = arg;
    (void)what;
    if (sig == SIGCHLD) {
        sup_reap(s);
        for (int k = 0; k < SUP_NKIND; k++)
            if (s->shutting && s->child[k].st == PS_BACKOFF)
                sup_proc_event(s, (enum sup_kind)k, PE_STOP);
        sup_check_exit(s);
        return;
    }
    sup_shutdown(s, clock_epoch_ms() + SUP_SIGTERM_BUDGET_MS, sig == SIGTERM ? "SIGTERM" : "SIGINT");
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
    /* Lambda posts telemetry to sandbox.localdomain, not necessarily 127.0.0.1 */
    s->socks.telemetry = bind_socket(SOCK_STREAM, htonl(INADDR_ANY), s->cfg.port_telemetry,
                                     &s->socks.telemetry_port, "telemetry listener");
    s->socks.dogstatsd = bind_socket(SOCK_DGRAM, lo, s->cfg.port_dogstatsd, &s->socks.dogstatsd_port,
                                     "DogStatsD");
    s->socks.apm = bind_socket(SOCK_STREAM, lo, s->cfg.port_apm, &s->socks.apm_port, "trace receiver");
    s->socks.lambda = bind_socket(SOCK_STREAM, lo, s->cfg.port_lambda, &s->socks.lambda_port,
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

    s.base = event_base_new();
    if (s.base == NULL) {
        /* without an event loop nothing can work; Lambda would see a crash anyway */
        log_error("cannot create an event base");
        return 1;
    }
    bind_all(&s);
    sup_spool_init(&s.spool, SUP_SPOOL_MAX);
    sup_spool_set_limits(&s.spool, SUP_SPOOL_WINDOW, SUP_SPOOL_HIGH_MIN, SUP_SPOOL_HIGH_MIN / 2);
    sup_spool_set_adaptive(&s.spool, true);
    sup_sched_init(&s.sched, &s.cfg.flush, s.cfg.flush_timeout_s * 1000u, !s.cfg.idle, clock_us());
    s.cold_start = true;
    sup_proc_init(&s);
    s.sched_timer = evtimer_new(s.base, on_sched_timer, &s);
    s.stop_timer = evtimer_new(s.base, on_stop_timer, &s);
    s.exit_timer = evtimer_new(s.base, on_exit_timer, &s);
    s.settle_timer = evtimer_new(s.base, on_settle_timer, &s);
    s.ev_chld = evsignal_new(s.base, SIGCHLD, on_signal, &s);
    s.ev_term = evsignal_new(s.base, SIGTERM, on_signal, &s);
    s.ev_int = evsignal_new(s.base, SIGINT, on_signal, &s);
    if (!s.sched_timer || !s.stop_timer || !s.exit_timer || !s.ev_chld || !s.ev_term || !s.ev_int ||
        evsignal_add(s.ev_chld, NULL) < 0 || evsignal_add(s.ev_term, NULL) < 0 ||
        evsignal_add(s.ev_int, NULL) < 0) {
        log_error("cannot set up timers and signals");
        return 1;
    }
    /* the bound ports, before the lifecycle can register: a test reading
     * them never sees a previous sandbox's (only with FORKCAP_STATS_FILE) */
    sup_write_stats(&s, "start");
    /* lifecycle first: it is on Lambda's critical path */
    sup_spawn(&s, SUP_LIFECYCLE);
    sup_spawn(&s, SUP_FLUSHER);
    event_base_dispatch(s.base);
    /* the loop only ends when no event is left, which our timers prevent */
    log_error("event loop ended unexpectedly");
    sup_exit(&s, 0);
    return 0;
}
