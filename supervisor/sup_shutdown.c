/* sup_shutdown.c — see sup_shutdown.h (the transition matrix is there). */
#include "sup_shutdown.h"

#include <string.h>

#define MS 1000u

static const char *const phase_names[SD_NPHASES] = {
    "running", "settling", "final_flush", "stopping", "exit",
};

const char *sup_shutdown_phase_name(enum sd_phase p)
{
    return (unsigned)p < SD_NPHASES ? phase_names[p] : "?";
}

void sup_shutdown_init(struct sup_shutdown *m, uint32_t flush_timeout_ms)
{
    memset(m, 0, sizeof *m);
    m->phase = SD_RUNNING;
    m->flush_timeout_ms = flush_timeout_ms;
    for (unsigned i = 0; i < SD_NTIMERS; i++)
        m->due[i] = SD_NEVER;
}

uint64_t sup_shutdown_due(const struct sup_shutdown *m, enum sd_timer which)
{
    return (unsigned)which < SD_NTIMERS ? m->due[which] : SD_NEVER;
}

bool sup_shutdown_active(const struct sup_shutdown *m)
{
    return m->phase != SD_RUNNING;
}

static void act_clear(struct sd_act *a)
{
    memset(a, 0, sizeof *a);
}

static void set_policy(struct sd_act *a, enum sup_respawn lifecycle, enum sup_respawn flusher)
{
    a->set_respawn = true;
    a->lifecycle = lifecycle;
    a->flusher = flusher;
}

/* Time left before the children's grace must start (ms, >= 0). */
static uint64_t flush_room_ms(const struct sup_shutdown *m, uint64_t now)
{
    uint64_t stop_at = m->exit_at_us > (uint64_t)SD_STOP_GRACE_MS * MS ? m->exit_at_us - SD_STOP_GRACE_MS * MS : 0;
    return stop_at > now ? (stop_at - now) / MS : 0;
}

static void enter_exit(struct sup_shutdown *m, struct sd_act *a)
{
    m->phase = SD_EXIT;
    for (unsigned i = 0; i < SD_NTIMERS; i++)
        m->due[i] = SD_NEVER;
    a->exit = true;
}

static void enter_stopping(struct sup_shutdown *m, uint64_t now, struct sd_act *a)
{
    m->phase = SD_STOPPING;
    m->flush_id = 0;
    m->due[SD_T_SETTLE] = m->due[SD_T_FLUSH] = SD_NEVER;
    m->due[SD_T_GRACE] = now + SD_STOP_GRACE_MS * MS;
    set_policy(a, SUP_RESPAWN_NEVER, SUP_RESPAWN_NEVER);
    a->stop = true;
}

/* Ask for a final flush with the time left, if the flusher can take it. */
static void ask_flush(struct sup_shutdown *m, uint64_t now, struct sd_act *a)
{
    uint64_t room = flush_room_ms(m, now);
    uint64_t budget = room < m->flush_timeout_ms ? room : m->flush_timeout_ms;
    if (budget == 0) {
        a->warn = "no time left for the final flush";
        enter_stopping(m, now, a);
        return;
    }
    m->due[SD_T_FLUSH] = now + budget * MS;
    if (!m->flusher_up)
        return; /* it is being restarted: T_FLUSH bounds the wait */
    a->final_flush = true;
    a->budget_ms = (uint32_t)budget;
    m->final_flushes++;
}

static void enter_final_flush(struct sup_shutdown *m, uint64_t now, struct sd_act *a)
{
    m->phase = SD_FINAL_FLUSH;
    m->due[SD_T_SETTLE] = SD_NEVER;
    set_policy(a, SUP_RESPAWN_NEVER, SUP_RESPAWN_AT_ONCE);
    ask_flush(m, now, a);
}

void sup_shutdown_begin(struct sup_shutdown *m, int64_t left_ms, bool settle, uint64_t now_us,
                        struct sd_act *out)
{
    act_clear(out);
    if (m->phase != SD_RUNNING)
        return;
    if (left_ms <= 0 || left_ms > (int64_t)SD_MAX_BUDGET_MS)
        left_ms = SD_DEFAULT_BUDGET_MS;
    uint64_t left_us = (uint64_t)left_ms * MS;
    uint64_t margin = (uint64_t)SD_EXIT_MARGIN_MS * MS;
    m->t_begin_us = now_us;
    m->exit_at_us = now_us + (left_us > margin ? left_us - margin : 0);
    m->due[SD_T_EXIT] = m->exit_at_us;
    uint64_t settle_us = (m->exit_at_us - now_us) / 3;
    if (settle_us > (uint64_t)SD_SETTLE_MAX_MS * MS)
        settle_us = (uint64_t)SD_SETTLE_MAX_MS * MS;
    if (!settle || settle_us < (uint64_t)SD_SETTLE_QUIET_MS * MS) {
        enter_final_flush(m, now_us, out);
        return;
    }
    m->phase = SD_SETTLING;
    m->settle_until_us = now_us + settle_us;
    m->due[SD_T_SETTLE] = now_us + SD_SETTLE_QUIET_MS * MS;
    set_policy(out, SUP_RESPAWN_AT_ONCE, SUP_RESPAWN_AT_ONCE);
}

/* Settling: the final flush waits for SD_SETTLE_QUIET_MS of quiet, or,
 * while Lambda still has to retry what a lost lifecycle did not take, for
 * the settle's hard end; never past it (its timer stands then). */
static void settle_again(struct sup_shutdown *m, uint64_t now_us)
{
    if (m->phase != SD_SETTLING || now_us >= m->settle_until_us)
        return;
    uint64_t quiet = now_us + SD_SETTLE_QUIET_MS * MS;
    m->due[SD_T_SETTLE] = !m->await_data && quiet < m->settle_until_us ? quiet : m->settle_until_us;
}

void sup_shutdown_data(struct sup_shutdown *m, uint64_t now_us, struct sd_act *out)
{
    act_clear(out);
    m->await_data = false;
    settle_again(m, now_us);
}

void sup_shutdown_lifecycle(struct sup_shutdown *m, bool up, uint64_t now_us, struct sd_act *out)
{
    act_clear(out);
    /* lost: its replacement is on its way, and the POST it was answering
     * comes again only after Lambda's backoff (50 ms or more, longer on a
     * loaded machine): quiet proves nothing until telemetry flows again */
    if (!up && m->phase == SD_SETTLING)
        m->await_data = true;
    settle_again(m, now_us);
}

void sup_shutdown_flusher(struct sup_shutdown *m, bool up, uint64_t now_us, struct sd_act *out)
{
    act_clear(out);
    bool was = m->flusher_up;
    m->flusher_up = up;
    if (m->phase != SD_FINAL_FLUSH || up == was)
        return;
    if (up) {
        if (m->flush_id == 0)
            ask_flush(m, now_us, out);
        return;
    }
    m->flush_id = 0;
    m->t_flusher_lost_us = now_us;
    if (flush_room_ms(m, now_us) < SD_RETRY_MIN_MS) {
        out->warn = "flusher lost during the final flush, no time left to restart it";
        enter_stopping(m, now_us, out);
        return;
    }
    out->warn = "flusher lost during the final flush: restarting it and flushing again";
    m->due[SD_T_FLUSH] = now_us + flush_room_ms(m, now_us) * MS;
}

void sup_shutdown_flush_started(struct sup_shutdown *m, uint64_t id, uint64_t now_us, struct sd_act *out)
{
    act_clear(out);
    if (m->phase != SD_FINAL_FLUSH)
        return;
    if (id == 0) {
        enter_stopping(m, now_us, out);
        return;
    }
    m->flush_id = id;
}

void sup_shutdown_flushed(struct sup_shutdown *m, uint64_t id, uint64_t now_us, struct sd_act *out)
{
    act_clear(out);
    if (m->phase != SD_FINAL_FLUSH || id == 0 || id != m->flush_id)
        return;
    enter_stopping(m, now_us, out);
}

void sup_shutdown_all_gone(struct sup_shutdown *m, uint64_t now_us, struct sd_act *out)
{
    (void)now_us;
    act_clear(out);
    if (m->phase == SD_STOPPING)
        enter_exit(m, out);
}

void sup_shutdown_timer(struct sup_shutdown *m, enum sd_timer which, uint64_t now_us, struct sd_act *out)
{
    act_clear(out);
    if ((unsigned)which >= SD_NTIMERS)
        return;
    m->due[which] = SD_NEVER;
    switch (which) {
    case SD_T_SETTLE:
        if (m->phase == SD_SETTLING)
            enter_final_flush(m, now_us, out);
        break;
    case SD_T_FLUSH:
        if (m->phase == SD_FINAL_FLUSH) {
            out->warn = "final flush not done in time";
            enter_stopping(m, now_us, out);
        }
        break;
    case SD_T_GRACE:
        if (m->phase == SD_STOPPING)
            enter_exit(m, out);
        break;
    case SD_T_EXIT:
        if (m->phase != SD_RUNNING && m->phase != SD_EXIT) {
            out->warn = "shutdown deadline reached";
            enter_exit(m, out);
        }
        break;
    default:
        break;
    }
}
