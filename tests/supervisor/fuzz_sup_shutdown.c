/* fuzz_sup_shutdown.c — libFuzzer: any sequence of events, flusher ups and
 * downs, flush answers and timer firings (each timer only at or after its
 * due time) through the shutdown machine (supervisor/sup_shutdown.c) on a
 * monotonic fake clock. Checks: phases only move forward; a final flush is
 * asked only of a flusher that is up, with a budget that leaves the
 * children's grace before the exit; the exit comes no later than the exit
 * timer and is announced once; from stopping on nothing is restarted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sup_shutdown.h"

#define MS 1000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sup_shutdown m;
    struct sd_act a;
    uint64_t now = 1000000 * MS;
    sup_shutdown_init(&m, 1 + (size ? data[0] : 0) * 20u);
    bool up = false;
    unsigned exits = 0;
    uint64_t next_id = 1, asked = 0;
    enum sd_phase last = m.phase;
    for (size_t i = 1; i < size; i++) {
        uint8_t b = data[i];
        now += (uint64_t)(b >> 4) * 7 * MS;
        switch (b & 15) {
        case 0:
            sup_shutdown_begin(&m, (int64_t)(b >> 4) * 300 - 500, b & 16, now, &a);
            break;
        case 1:
            sup_shutdown_data(&m, now, &a);
            break;
        case 2:
        case 3:
            up = (b & 15) == 2;
            sup_shutdown_flusher(&m, up, now, &a);
            break;
        case 4:
            sup_shutdown_lifecycle(&m, b & 16, now, &a);
            break;
        case 5:
            sup_shutdown_flushed(&m, asked ? asked : next_id, now, &a);
            break;
        case 6:
            sup_shutdown_flushed(&m, b, now, &a);
            break;
        case 7:
            sup_shutdown_all_gone(&m, now, &a);
            break;
        default: {
            enum sd_timer t = (enum sd_timer)((b & 15) % SD_NTIMERS);
            uint64_t due = sup_shutdown_due(&m, t);
            if (due == SD_NEVER)
                continue;
            if (now < due)
                now = due; /* a timer never fires early */
            sup_shutdown_timer(&m, t, now, &a);
            break;
        }
        }
        if (m.phase < last)
            abort(); /* phases only move forward */
        last = m.phase;
        if (a.set_respawn && m.phase >= SD_STOPPING &&
            (a.lifecycle != SUP_RESPAWN_NEVER || a.flusher != SUP_RESPAWN_NEVER))
            abort();
        if (a.final_flush) {
            if (!up || m.phase != SD_FINAL_FLUSH)
                abort();
            if (now + ((uint64_t)a.budget_ms + SD_STOP_GRACE_MS) * MS > m.exit_at_us)
                abort(); /* the budget eats into the children's grace */
            /* the scheduler answers with a fresh id, or none */
            asked = (b & 32) ? 0 : next_id++;
            struct sd_act more;
            sup_shutdown_flush_started(&m, asked, now, &more);
            if (asked == 0 && m.phase != SD_STOPPING)
                abort();
            if (more.exit)
                exits++;
            if (more.set_respawn && (more.lifecycle != SUP_RESPAWN_NEVER || more.flusher != SUP_RESPAWN_NEVER))
                abort();
        }
        if (a.exit)
            exits++;
        if (exits > 1)
            abort(); /* the exit is announced once */
        if (m.phase == SD_EXIT) {
            for (unsigned t = 0; t < SD_NTIMERS; t++)
                if (sup_shutdown_due(&m, (enum sd_timer)t) != SD_NEVER)
                    abort();
        } else if (m.phase != SD_RUNNING) {
            /* the exit timer is always armed, at the exit time */
            if (sup_shutdown_due(&m, SD_T_EXIT) != m.exit_at_us)
                abort();
            if (now > m.exit_at_us && m.phase != SD_EXIT) {
                sup_shutdown_timer(&m, SD_T_EXIT, now, &a);
                if (!a.exit || m.phase != SD_EXIT)
                    abort();
                exits++;
            }
        }
    }
    return 0;
}
