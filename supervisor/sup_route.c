/* sup_route.c — the supervisor's frame router and the hands of its two
 * machines: frames from each child (the process table's dispatch
 * callbacks), the data spool, and carrying out what the flush scheduler
 * (sup_sched.c) and the shutdown machine (sup_shutdown.c) decide. It never
 * parses anything a child sends beyond the validated frame, never blocks,
 * and never ends the loop before SHUTDOWN (or SIGTERM, or the platform's
 * "exit promptly"). */
#include "sup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "frame.h"
#include "log.h"

static uint64_t now_us(const struct sup *s)
{
    return s->procs.sys.now_us();
}

static struct peer *link_of(struct sup *s, enum sup_kind k)
{
    return sup_proc_link(&s->procs, k);
}

static void send_frame(struct sup *s, enum sup_kind k, struct frame_buf *fb)
{
    struct peer *p = link_of(s, k);
    if (p && fb->err)
        log_error("a frame to %s could not be encoded: dropped", s->procs.child[k].d->name);
    else if (p && peer_send_buf(p, fb) == 0)
        log_warn("%s's queue is full: frame %s dropped", s->procs.child[k].d->name,
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

static void send_flush(struct sup *s, uint64_t id, uint32_t budget_ms, bool final)
{
    struct frame_buf fb = {0};
    frame_encode_flush(&fb, &(struct ft_flush){.flush_id = id, .budget_ms = budget_ms, .final = final,
                                               .has_final = final});
    send_frame(s, SUP_FLUSHER, &fb);
}

/* ---- the flush scheduler's hands ---- */

/* Carry out what the scheduler decided (flush first, then the go-ahead)
 * and re-arm its one timer. */
static void sched_apply(struct sup *s, const struct sched_act *a, enum sched_phase before)
{
    if (s->sched.tripped != s->breaker_logged) {
        /* one line per change of state, not one per invocation; and a
         * flapping intake does not get one per change either */
        s->breaker_logged = s->sched.tripped;
        unsigned held = 0;
        if (s->sched.tripped && log_limit_pass(&s->breaker_log, now_us(s), &held)) {
            s->breaker_said = true;
            log_warn("intake unreachable: end flushes limited to %u ms until it answers; data kept "
                     "(bounded), probing between invocations (opened %llu times so far)",
                     SCHED_TRIP_BUDGET_US / 1000u, (unsigned long long)s->sched.st.trips);
        } else if (!s->sched.tripped && s->breaker_said) {
            s->breaker_said = false;
            log_info("intake reachable again: flushes use the full budget");
        }
    }
    if (a->flush_id) {
        log_debug("flush %llu%s (budget %u ms)", (unsigned long long)a->flush_id, a->final ? " final" : "",
                  a->budget_ms);
        send_flush(s, a->flush_id, a->budget_ms, a->final);
    }
    /* once shutting down, no invocation waits for a go-ahead any more */
    if (a->go && !sup_shutdown_active(&s->sd)) {
        unsigned held = 0;
        if (a->reason == SCHED_GO_FLUSHED)
            log_limit_reset(&s->bound_log);
        if ((a->reason == SCHED_GO_DEADLINE || a->reason == SCHED_GO_TIMEOUT) &&
            log_limit_pass(&s->bound_log, now_us(s), &held))
            log_warn("%s: go-ahead at the %s bound%s",
                     before == SCHED_WAIT_DONE ? "no runtimeDone in time"
                     : before == SCHED_WAIT_FLUSH ? "end flush not done in time" : "no time to flush",
                     sup_sched_reason_name(a->reason),
                     held ? " (and for earlier invocations since the last such line)" : "");
        struct frame_buf fb = {0};
        frame_encode_go(&fb, &(struct ft_go){0});
        send_frame(s, SUP_LIFECYCLE, &fb);
    }
    evtimer_del(s->sched_timer);
    uint64_t wake = sup_sched_next_wake(&s->sched);
    if (wake != SCHED_NEVER) {
        uint64_t now = now_us(s);
        uint64_t d = wake > now ? wake - now : 0;
        struct timeval tv = {(time_t)(d / 1000000u), (suseconds_t)(d % 1000000u)};
        evtimer_add(s->sched_timer, &tv);
    }
}

static void on_sched_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sup *s = arg;
    struct sched_act a;
    enum sched_phase before = s->sched.phase;
    sup_sched_tick(&s->sched, now_us(s), &a);
    sched_apply(s, &a, before);
}

/* ---- the spool: credit window and backpressure (sup_spool.h) ---- */

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
 * the spool crosses a water mark. */
static void spool_pump(struct sup *s)
{
    sup_spool_clock(&s->spool, now_us(s));
    bool blocked = sup_spool_pump(&s->spool, link_of(s, SUP_FLUSHER));
    if ((blocked || s->spool.unacked >= SUP_SPOOL_FLUSH_AT) && !sup_shutdown_active(&s->sd)) {
        struct sched_act a;
        enum sched_phase before = s->sched.phase;
        sup_sched_backlog(&s->sched, now_us(s), &a);
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

/* ---- the shutdown machine's hands ---- */

static void sd_arm_timers(struct sup *s)
{
    uint64_t now = now_us(s);
    for (unsigned i = 0; i < SD_NTIMERS; i++) {
        uint64_t due = sup_shutdown_due(&s->sd, (enum sd_timer)i);
        evtimer_del(s->sd_timer[i].ev);
        if (due == SD_NEVER)
            continue;
        uint64_t d = due > now ? due - now : 0;
        struct timeval tv = {(time_t)(d / 1000000u), (suseconds_t)(d % 1000000u)};
        evtimer_add(s->sd_timer[i].ev, &tv);
    }
}

static bool act_empty(const struct sd_act *a)
{
    return !a->set_respawn && !a->final_flush && !a->stop && !a->exit && !a->warn;
}

static void sd_apply(struct sup *s, const struct sd_act *a)
{
    struct sd_act more;
    if (act_empty(a)) {
        if (sup_shutdown_active(&s->sd))
            sd_arm_timers(s); /* a deadline may have moved (settling) */
        return;
    }
    if (a->warn)
        log_warn("%s", a->warn);
    if (a->set_respawn) {
        sup_proc_set_respawn(&s->procs, SUP_LIFECYCLE, a->lifecycle);
        sup_proc_set_respawn(&s->procs, SUP_FLUSHER, a->flusher);
    }
    if (a->final_flush) {
        if (s->sd.final_flushes > 1)
            log_info("final flush within %u ms (flusher restarted: asked again %.1f ms after it was lost)",
                     a->budget_ms, (double)(now_us(s) - s->sd.t_flusher_lost_us) / 1000.0);
        else
            log_info("final flush within %u ms", a->budget_ms);
        /* the last flush is for everything spooled: no window now */
        sup_spool_set_limits(&s->spool, 0, s->spool.high, s->spool.low);
        spool_pump(s);
        struct sched_act sa;
        sup_sched_shutdown(&s->sched, a->budget_ms, now_us(s), &sa);
        sched_apply(s, &sa, SCHED_IDLE);
        sup_shutdown_flush_started(&s->sd, sa.flush_id, now_us(s), &more);
        sd_apply(s, &more);
    }
    if (a->stop) {
        sup_proc_stop_all(&s->procs);
        if (sup_proc_all_gone(&s->procs)) {
            sup_shutdown_all_gone(&s->sd, now_us(s), &more);
            sd_apply(s, &more);
            return;
        }
    }
    if (a->exit && !s->exiting) {
        s->exiting = true;
        s->exit_code = 0;
        event_base_loopbreak(s->base);
    }
    sd_arm_timers(s);
    sup_write_stats(s);
}

static void on_sd_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sup_sd_timer *t = arg;
    struct sd_act a;
    sup_shutdown_timer(&t->s->sd, t->which, now_us(t->s), &a);
    sd_apply(t->s, &a);
}

void sup_begin_shutdown(struct sup *s, int64_t left_ms, const char *why)
{
    if (sup_shutdown_active(&s->sd))
        return;
    log_info("shutdown (%s)", why);
    /* telemetry can only come while a lifecycle serves the listener */
    bool settle = !s->cfg.idle && s->procs.child[SUP_LIFECYCLE].pid > 0;
    struct sd_act a;
    sup_shutdown_begin(&s->sd, left_ms, settle, now_us(s), &a);
    sd_apply(s, &a);
}

/* ---- frames from the lifecycle ---- */

static double ms_since0(const struct sup *s, uint64_t t)
{
    return t ? clock_ms_between(s->t0_us, t) : 0.0;
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
    sup_write_stats(s);
}

/* Count an invocation (sup_inv.h decided it is a new one): the one
 * FT_INVOCATION of its request id, spooled with the data. from_start: its
 * INVOKE was not seen, a platform.start record counted it. */
static void count_invocation(struct sup *s, const char *rid, int64_t time_ms, bool from_start)
{
    s->invocations++;
    if (s->cfg.idle)
        return;
    struct frame_buf fb = {0};
    const struct ft_invocation iv = {.n = s->invocations, .request_id = rid, .time_ms = time_ms,
                                     .from_start = from_start, .has_from_start = from_start};
    if (frame_encode_invocation(&fb, &iv) == 0 && sup_spool_add(&s->spool, fb.p, fb.len) == 0)
        spool_pump(s);
    else
        log_warn("invocation %llu could not be spooled", (unsigned long long)s->invocations);
    frame_buf_free(&fb);
}

static void on_invoke(struct sup *s, const struct ft_invoke *m)
{
    const char *rid = m->request_id, *arn = m->arn;
    int64_t deadline = m->deadline_ms;
    bool changed = strcmp(s->request_id, rid) != 0 || strcmp(s->arn, arn) != 0;
    snprintf(s->request_id, sizeof s->request_id, "%s", rid);
    snprintf(s->arn, sizeof s->arn, "%s", arn);
    s->deadline_ms = deadline;
    if (changed)
        send_context(s);
    s->cold_start = false; /* the next context is no longer the sandbox's first invocation */
    /* a repeat: its platform.start record came first and counted it */
    if (sup_inv_note(&s->inv, rid, SUP_INV_INVOKE) == SUP_INV_COUNT)
        count_invocation(s, rid, clock_epoch_ms(), false);
    uint64_t now = now_us(s);
    struct sched_act a;
    enum sched_mode before = s->sched.mode;
    sup_sched_invoke(&s->sched, rid, sup_sched_deadline_us(deadline, clock_epoch_ms(), now), now, &a);
    if (s->sched.mode != before)
        log_info("flush strategy default: now %s (average gap over the last %u invocations)",
                 sup_sched_mode_name(s->sched.mode), SCHED_ADAPT_N);
    sched_apply(s, &a, SCHED_IDLE);
}

/* The runtime finished rid: platform.runtimeDone, or sooner a tracer's
 * aws.lambda span for rid (FT_TRACES lambda_rid). */
static void runtime_done(struct sup *s, const char *rid)
{
    struct sched_act a;
    enum sched_phase before = s->sched.phase;
    sup_sched_runtime_done(&s->sched, rid, now_us(s), &a);
    sched_apply(s, &a, before);
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
    if (m->event == PE_START && sup_inv_note(&s->inv, rid, SUP_INV_START) == SUP_INV_COUNT) {
        /* its INVOKE was lost (sup_inv.h): counted here, ahead of the record */
        log_debug("invocation %s counted from its platform.start (INVOKE not seen)", rid);
        count_invocation(s, rid, m->time_ms > 0 ? m->time_ms : clock_epoch_ms(), true);
    }
    if (m->event != PE_RUNTIME_DONE)
        return;
    runtime_done(s, rid);
}

/* Keep a data frame until the flusher acknowledges it: re-encode rather
 * than relay the child's bytes, so what we spool is ours. */
static void spool_frame(struct sup *s, const struct frame *f)
{
    if (s->cfg.idle)
        return; /* idle mode ships nothing, so it keeps nothing */
    struct frame_buf fb = {0};
    if (frame_encode(&fb, f) == 0 && sup_spool_add(&s->spool, fb.p, fb.len) == 0)
        spool_pump(s);
    else
        log_warn("data frame %s could not be spooled", frame_type_name(f->type));
    frame_buf_free(&fb);
}

static void on_data(struct sup *s, const struct frame *f)
{
    struct sd_act sa;
    if (f->type == FT_PLATFORM)
        on_platform(s, &f->u.platform);
    sup_shutdown_data(&s->sd, now_us(s), &sa);
    sd_apply(s, &sa);
    if (f->type == FT_PLATFORM && f->u.platform.has_enh_done) {
        /* only the supervisor marks a replay: a lifecycle's mark would
         * silence the frame's metrics */
        struct frame g = *f;
        g.u.platform.has_enh_done = g.u.platform.enh_done = false;
        spool_frame(s, &g);
        return;
    }
    spool_frame(s, f);
}

/* Counts of refused input from either child, added up for the stats file;
 * a reason this build does not know is left out. */
static void on_refused(struct sup *s, const struct ft_refused *m)
{
    if (m->reason >= REF_N)
        return;
    uint64_t *c = &s->refused[m->reason];
    *c = *c + m->count < *c ? UINT64_MAX : *c + m->count;
    sup_write_stats(s);
}

void sup_on_lifecycle(void *owner, unsigned idx, const struct frame *f)
{
    struct sup *s = owner;
    (void)idx;
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
        sup_proc_event(&s->procs, SUP_LIFECYCLE, PE_READY);
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
        sup_proc_event(&s->procs, SUP_LIFECYCLE, PE_READY);
        if (!s->t_first_next_us && s->ext_id[0]) {
            s->t_first_next_us = f->u.next_wait.t_us;
            maybe_log_init(s);
        }
        break;
    case FT_INVOKE:
        if (!sup_shutdown_active(&s->sd))
            on_invoke(s, &f->u.invoke);
        break;
    case FT_SHUTDOWN: {
        char why[64];
        snprintf(why, sizeof why, "SHUTDOWN %.40s", f->u.shutdown.reason);
        sup_begin_shutdown(s, f->u.shutdown.deadline_ms - clock_epoch_ms(), why);
        break;
    }
    case FT_FATAL: {
        const struct ft_fatal *m = &f->u.fatal;
        if (m->has_status && m->status >= 500 && !s->ext_id[0]) {
            log_error("the platform refused registration (%s) and asks extensions to exit", m->error);
            if (!s->exiting) {
                s->exiting = true;
                s->exit_code = 1;
                event_base_loopbreak(s->base);
            }
            break;
        }
        log_error("the platform refused the extension: %s; staying idle until shutdown", m->error);
        break;
    }
    case FT_PLATFORM:
    case FT_LOGS:
        on_data(s, f);
        break;
    case FT_REFUSED:
        on_refused(s, &f->u.refused);
        break;
    default:
        break;
    }
}

/* ---- frames from the flusher ---- */

void sup_on_flusher(void *owner, unsigned idx, const struct frame *f)
{
    struct sup *s = owner;
    (void)idx;
    switch (f->type) {
    case FT_READY:
        if (!s->t_fl_ready_us) {
            s->t_fl_start_us = f->u.ready.t_start_us;
            s->t_fl_tls_us = f->u.ready.t_tls_us;
            s->t_fl_ready_us = f->u.ready.t_ready_us;
            maybe_log_init(s);
        }
        sup_proc_event(&s->procs, SUP_FLUSHER, PE_READY);
        break;
    case FT_ACK:
        if (f->u.ack.has_enh_upto)
            sup_spool_ack_enh(&s->spool, f->u.ack.enh_upto);
        sup_spool_ack(&s->spool, f->u.ack.upto);
        spool_pump(s);
        break;
    case FT_DSD_STATE: {
        /* only the latest counts: it replaces the one held */
        struct frame_buf fb = {0};
        if (frame_encode(&fb, f) == 0) {
            frame_buf_free(&s->dsd_state);
            s->dsd_state = fb;
        } else {
            frame_buf_free(&fb);
            log_warn("DogStatsD checkpoint not kept (cannot encode it): the previous one stands");
        }
        break;
    }
    case FT_TRACES:
    case FT_TRACE_STATS:
        /* accepted tracer data: the flusher answered 200 once this frame was
         * in the kernel, so from here on it is ours to keep until acked */
        spool_frame(s, f);
        /* the tracer reported the invocation's end before Lambda's telemetry
         * will: an end flush can start now (the frame above goes first) */
        if (f->type == FT_TRACES && !sup_shutdown_active(&s->sd) && f->u.traces.lambda_rid &&
            f->u.traces.lambda_rid[0])
            runtime_done(s, f->u.traces.lambda_rid);
        break;
    case FT_FLUSHED: {
        const struct ft_flushed *m = &f->u.flushed;
        log_debug("flush %llu done: %s, %llu sent, %llu failed, %llu dropped, %llu ms",
                  (unsigned long long)m->flush_id, m->ok ? "ok" : "not ok", (unsigned long long)m->sent,
                  (unsigned long long)m->failed, (unsigned long long)m->dropped, (unsigned long long)m->ms);
        sup_spool_flushed(&s->spool, m->ms, m->sent, m->failed);
        bool unreachable = m->has_unreachable && m->unreachable;
        enum sched_outcome res = m->ok                  ? (m->sent ? SCHED_FLUSH_OK : SCHED_FLUSH_EMPTY)
                                 : unreachable          ? SCHED_FLUSH_UNREACHABLE
                                 : m->sent || m->failed ? SCHED_FLUSH_FAILED
                                                        : SCHED_FLUSH_SKIPPED;
        struct sched_act a;
        sup_sched_flushed(&s->sched, m->flush_id, res, now_us(s), &a);
        sched_apply(s, &a, SCHED_WAIT_FLUSH);
        struct sd_act sa;
        sup_shutdown_flushed(&s->sd, m->flush_id, now_us(s), &sa);
        sd_apply(s, &sa);
        break;
    }
    case FT_REFUSED:
        on_refused(s, &f->u.refused);
        break;
    default:
        break;
    }
}

/* ---- the process table's news ---- */

void sup_link_up(void *owner, unsigned idx)
{
    struct sup *s = owner;
    if (idx == SUP_FLUSHER) {
        /* a new flusher gets the previous one's DogStatsD state, the
         * identity, then every unacknowledged frame */
        struct peer *p = link_of(s, SUP_FLUSHER);
        if (s->dsd_state.len && p && peer_send(p, s->dsd_state.p, s->dsd_state.len) == 0)
            log_warn("DogStatsD checkpoint not handed to the new flusher (queue full)");
        send_context(s);
        spool_pump(s);
    } else if (idx == SUP_LIFECYCLE && s->spool.full) {
        send_pressure(s); /* a new lifecycle starts without it */
    }
}

static bool carries(enum sup_pstate st)
{
    return st == PS_STARTING || st == PS_UP;
}

void sup_changed(void *owner, unsigned idx, enum sup_pstate from, enum sup_pstate to)
{
    struct sup *s = owner;
    uint64_t now = now_us(s);
    if (carries(from) != carries(to)) {
        bool up = carries(to);
        if (idx == SUP_FLUSHER) {
            if (!up)
                sup_spool_unsend(&s->spool);
            /* the scheduler and the shutdown machine learn of the flusher
             * link from here, whatever path brought it up or down */
            struct sched_act a;
            enum sched_phase before = s->sched.phase;
            sup_sched_flusher(&s->sched, up, now, &a);
            sched_apply(s, &a, before);
            struct sd_act sa;
            sup_shutdown_flusher(&s->sd, up, now, &sa);
            sd_apply(s, &sa);
        } else if (idx == SUP_LIFECYCLE) {
            if (!up) {
                sup_sched_lifecycle_lost(&s->sched);
                sup_inv_lifecycle_lost(&s->inv); /* it may have lost an INVOKE in /next */
            }
            struct sd_act sa;
            sup_shutdown_lifecycle(&s->sd, up, now, &sa);
            sd_apply(s, &sa);
        }
    }
    if (sup_proc_all_gone(&s->procs) && (to == PS_GONE || to == PS_BACKOFF)) {
        struct sd_act sa;
        sup_shutdown_all_gone(&s->sd, now, &sa);
        sd_apply(s, &sa);
    }
    sup_write_stats(s);
}

void sup_on_sigchld(struct sup *s)
{
    sup_proc_reap(&s->procs);
}

/* ---- life ---- */

int sup_init(struct sup *s, struct event_base *base, const struct sup_proc_desc *descs,
             const struct sup_proc_sys *sys)
{
    s->base = base;
    s->secrets_fd = -1;
    sup_spool_init(&s->spool, SUP_SPOOL_MAX);
    sup_spool_set_limits(&s->spool, SUP_SPOOL_WINDOW, SUP_SPOOL_HIGH_MIN, SUP_SPOOL_HIGH_MIN / 2);
    sup_spool_set_adaptive(&s->spool, true);
    sup_sched_init(&s->sched, &s->cfg.flush, s->cfg.flush_timeout_s * 1000u, !s->cfg.idle, clock_us());
    sup_shutdown_init(&s->sd, s->cfg.flush_timeout_s * 1000u);
    s->cold_start = true;
    sup_inv_init(&s->inv);
    if (sup_proc_init(&s->procs, base, descs, SUP_NKIND, s->socks.fd, SUP_NSOCK, sys, s) < 0)
        return -1;
    s->sched_timer = evtimer_new(base, on_sched_timer, s);
    if (s->sched_timer == NULL)
        return -1;
    for (unsigned i = 0; i < SD_NTIMERS; i++) {
        s->sd_timer[i].s = s;
        s->sd_timer[i].which = (enum sd_timer)i;
        if ((s->sd_timer[i].ev = evtimer_new(base, on_sd_timer, &s->sd_timer[i])) == NULL)
            return -1;
    }
    return 0;
}

void sup_free(struct sup *s)
{
    sup_proc_free(&s->procs);
    sup_spool_clear(&s->spool);
    if (s->sched_timer)
        event_free(s->sched_timer);
    s->sched_timer = NULL;
    for (unsigned i = 0; i < SD_NTIMERS; i++) {
        if (s->sd_timer[i].ev)
            event_free(s->sd_timer[i].ev);
        s->sd_timer[i].ev = NULL;
    }
}

void sup_start(struct sup *s)
{
    sup_proc_spawn(&s->procs, SUP_LIFECYCLE);
    sup_proc_spawn(&s->procs, SUP_FLUSHER);
}

void sup_finish(struct sup *s)
{
    sup_proc_kill_all(&s->procs);
    s->exiting = true;
    sup_write_stats(s);
    log_info("exiting (%llu invocations, %llu of them from platform.start; restarts: lifecycle %u, "
             "flusher %u; spool dropped %llu, backpressure %llu time(s))",
             (unsigned long long)s->invocations, (unsigned long long)s->inv.from_start,
             s->procs.child[SUP_LIFECYCLE].restarts,
             s->procs.child[SUP_FLUSHER].restarts, (unsigned long long)s->spool.dropped,
             (unsigned long long)s->spool.pressure_on);
    char ref[1024];
    size_t o = 0;
    ref[0] = '\0';
    for (unsigned r = 0; r < REF_N && o < sizeof ref; r++)
        if (s->refused[r])
            o += (size_t)snprintf(ref + o, sizeof ref - o, "%s%s %llu", o ? ", " : "", refusal_name(r),
                                  (unsigned long long)s->refused[r]);
    log_info("exiting (refused input from the lifecycle and flusher, by reason): %s", o ? ref : "none");
}
