/* sup_stats.c — the FORKCAP_STATS_FILE snapshot (tests and the bench read
 * their figures from it), built with jansson and replaced atomically
 * (temporary file + rename) so a reader never sees half a file. */
#include "sup.h"

#include <stdio.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "refusal.h"

static double ms_since0(const struct sup *s, uint64_t t)
{
    return t ? clock_ms_between(s->t0_us, t) : 0.0;
}

static const char *phase_of(const struct sup *s)
{
    if (s->exiting)
        return "exit";
    if (sup_shutdown_active(&s->sd))
        return "shutdown";
    if (s->init_logged)
        return "ready";
    /* before the first spawn: the bound ports only */
    return s->procs.n && s->procs.child[0].spawns == 0 ? "start" : "init";
}

static json_t *child_json(const struct sup_child *c)
{
    return json_pack("{s:i,s:s,s:i,s:i}", "pid", (int)c->pid, "state", sup_pstate_name(c->st), "restarts",
                     (int)c->restarts, "protocol_errors", (int)c->broken);
}

static json_t *sched_json(const struct sup_sched *sc)
{
    const struct sched_stats *st = &sc->st;
    json_t *go = json_object();
    for (int r = 0; r < SCHED_GO_NREASONS; r++)
        json_object_set_new(go, sup_sched_reason_name((enum sched_go_reason)r), json_integer((json_int_t)st->go[r]));
    return json_pack("{s:s,s:I,s:s,s:b,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:o,s:{s:I,s:I},s:I,s:I,"
                     "s:{s:b,s:I,s:I,s:I}}",
                     "strategy", cfg_flush_name(sc->strategy.kind), "interval_ms",
                     (json_int_t)sc->strategy.interval_ms, "mode", sup_sched_mode_name(sc->mode), "telemetry",
                     (int)sc->telemetry, "flushes", "started", (json_int_t)st->started, "ok", (json_int_t)st->ok,
                     "failed", (json_int_t)st->failed, "timed_out", (json_int_t)st->timed_out, "late",
                     (json_int_t)st->late, "background", (json_int_t)st->bg_started, "skipped",
                     (json_int_t)st->bg_skipped, "go", go, "runtime_done", "matched",
                     (json_int_t)st->done_matched, "ignored", (json_int_t)st->done_ignored, "abandoned",
                     (json_int_t)st->abandoned, "mode_switches", (json_int_t)st->mode_switches,
                     "breaker", "open", (int)sc->tripped, "trips", (json_int_t)st->trips, "recoveries",
                     (json_int_t)st->recoveries, "probes", (json_int_t)st->probes);
}

static json_t *stats_json(const struct sup *s)
{
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "phase", json_string(phase_of(s)));
    json_object_set_new(j, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(j, "ready_ms", json_real(ms_since0(s, s->t_first_next_us)));
    json_object_set_new(j, "register_ms", json_real(ms_since0(s, s->t_register_us)));
    json_object_set_new(j, "subscribe_ms",
                        json_real(s->t_subscribe_us && s->t_register_us
                                      ? clock_ms_between(s->t_register_us, s->t_subscribe_us) : 0.0));
    json_object_set_new(j, "first_next_ms", json_real(ms_since0(s, s->t_first_next_us)));
    json_object_set_new(j, "flusher_tls_ms",
                        json_real(s->t_fl_tls_us ? clock_ms_between(s->t_fl_start_us, s->t_fl_tls_us) : 0.0));
    json_object_set_new(j, "flusher_ready_ms", json_real(ms_since0(s, s->t_fl_ready_us)));
    json_object_set_new(j, "invocations", json_integer((json_int_t)s->invocations));
    /* how they were counted (sup_inv.h) */
    json_object_set_new(j, "invocation_ids",
                        json_pack("{s:I,s:I,s:I,s:i}", "from_start", (json_int_t)s->inv.from_start,
                                  "repeats", (json_int_t)s->inv.repeats, "unannounced",
                                  (json_int_t)s->inv.unannounced, "lost_pending", (int)s->inv.lost));
    json_object_set_new(j, "idle", json_boolean(s->cfg.idle));
    for (unsigned k = 0; k < s->procs.n; k++)
        json_object_set_new(j, s->procs.child[k].d->name, child_json(&s->procs.child[k]));
    json_object_set_new(j, "spool",
                        json_pack("{s:I,s:I,s:I,s:I,s:b,s:I,s:I,s:I,s:f}", "held", (json_int_t)s->spool.frames,
                                  "dropped", (json_int_t)s->spool.dropped, "delivered",
                                  (json_int_t)s->spool.delivered, "bytes", (json_int_t)s->spool.bytes,
                                  "full", (int)s->spool.full, "pressure_on", (json_int_t)s->spool.pressure_on,
                                  "window_waits", (json_int_t)s->spool.window_waits, "high",
                                  (json_int_t)s->spool.high, "rate_bps", s->spool.rate_bps));
    /* the bound ports (0: not bound), so a test can ask for port 0 and read them back */
    json_object_set_new(j, "ports",
                        json_pack("{s:i,s:i,s:i,s:i}", "telemetry", (int)s->socks.port[SUP_SOCK_TELEMETRY],
                                  "dogstatsd", (int)s->socks.port[SUP_SOCK_DOGSTATSD], "apm",
                                  (int)s->socks.port[SUP_SOCK_APM], "lambda", (int)s->socks.port[SUP_SOCK_LAMBDA]));
    json_object_set_new(j, "sched", sched_json(&s->sched));
    /* every reason, 0 included, so a reader can tell "none" from "unknown" */
    json_t *ref = json_object();
    for (unsigned r = 0; r < REF_N; r++)
        json_object_set_new(ref, refusal_name(r), json_integer((json_int_t)s->refused[r]));
    json_object_set_new(j, "refused", ref);
    json_object_set_new(j, "shutdown",
                        json_pack("{s:s,s:i}", "phase", sup_shutdown_phase_name(s->sd.phase), "final_flushes",
                                  (int)s->sd.final_flushes));
    return j;
}

int sup_write_stats(const struct sup *s)
{
    if (s->stats_file == NULL)
        return 0;
    char tmp[CFG_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->stats_file);
    json_t *j = stats_json(s);
    if (j == NULL)
        return -1;
    int rc = json_dump_file(j, tmp, JSON_COMPACT);
    json_decref(j);
    if (rc != 0 || rename(tmp, s->stats_file) != 0)
        return -1;
    return 0;
}
