/* sim_cycle.c — the sandbox lifecycle as Lambda runs it: init (extensions
 * register, runtime starts, everyone calls /next), invocations, freeze/thaw,
 * Extension.Crash and sandbox resets, SHUTDOWN with its deadline. */
#include <math.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "sim.h"

static void cyc_begin_shutdown(struct sim *s, const char *reason, bool reset);
static void cyc_check_complete(struct sim *s);
static void cyc_check_init(struct sim *s);
static void cyc_check_shutdown(struct sim *s);

static void cyc_timer(struct sim *s, struct event **ev, event_callback_fn cb, int ms)
{
    if (!*ev)
        *ev = evtimer_new(s->base, cb, s);
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    /* libevent counts from its cached loop time: count from now instead */
    event_base_update_cache_time(s->base);
    evtimer_add(*ev, &tv);
}

/* The gap before the next invocation: --interval-ms after this one's end,
 * or, with --period-ms, what is left of the period since it started (at
 * once when it took longer), whichever is longer. */
static int cyc_gap_ms(const struct sim *s)
{
    int gap = s->o.interval_ms;
    if (s->o.period_ms > 0) {
        uint64_t due = s->inv_start_us + (uint64_t)s->o.period_ms * 1000u, now = sim_now_us();
        int left = due > now ? (int)((due - now + 999u) / 1000u) : 0;
        if (left > gap)
            gap = left;
    }
    return gap;
}

static void cyc_cancel(struct event *ev)
{
    if (ev)
        evtimer_del(ev);
}

static json_t *cyc_span(const char *name, uint64_t start_us, double ms)
{
    /* monotonic -> wall clock for the span's start */
    int64_t wall_us = sim_epoch_ms() * 1000 - (int64_t)(sim_now_us() - start_us);
    char t[40];
    sim_iso_time_at(t, sizeof t, wall_us);
    return json_pack("{s:s,s:s,s:f}", "name", name, "start", t, "durationMs", ms);
}

/* Adds "tracing" to a record or event only when the invocation has a trace
 * context (Lambda omits it otherwise). Returns rec. */
static json_t *cyc_add_tracing(struct sim *s, json_t *rec)
{
    if (rec && s->trace_id[0])
        json_object_set_new(rec, "tracing",
                            json_pack("{s:s,s:s}", "type", "X-Amzn-Trace-Id", "value", s->trace_id));
    return rec;
}

/* ---- init ---- */

static void cyc_init_failed(struct sim *s, const char *type)
{
    if (s->phase != PH_INIT)
        return;
    snprintf(s->init_error, sizeof s->init_error, "%s", type);
    s->have_init_error = true;
    cyc_cancel(s->init_timer);
    double ms = sim_ms(s->sandbox_start_us, sim_now_us());
    if (s->init_ms < 0)
        s->init_ms = ms;
    sim_tele_emit(s, "platform.initReport",
                  json_pack("{s:s,s:s,s:s,s:s,s:{s:f}}", "initializationType", "on-demand", "phase", "init",
                            "status", strcmp(type, "Sandbox.Timedout") == 0 ? "timeout" : "error",
                            "errorType", type, "metrics", "durationMs", ms));
    sim_log("ERROR", "init failed: %s", type);
    cyc_begin_shutdown(s, "failure", false);
}

static void cyc_init_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cyc_init_failed(arg, "Sandbox.Timedout");
}

void sim_start_sandbox(struct sim *s)
{
    s->phase = PH_INIT;
    s->sandbox_start_us = sim_now_us();
    json_decref(s->init_backlog);
    s->init_backlog = json_array();
    s->n_registered = 0;
    s->rt_ready = false;
    s->rt_waiting = false;
    s->rt_req = NULL;
    s->rt_conn = NULL;
    s->rt_event_pending = false;
    s->rt_pid = 0;
    /* one log stream and instance per sandbox: "2026/12/01/[$LATEST]<32 hex>" */
    sim_uuid(s->instance_id);
    char date[40], hex[33];
    sim_iso_time(date, sizeof date);
    date[10] = '\0';
    for (char *c = date; *c; c++)
        if (*c == '-')
            *c = '/';
    size_t h = 0;
    for (const char *c = s->instance_id; *c && h < 32; c++)
        if (*c != '-')
            hex[h++] = *c;
    hex[h] = '\0';
    snprintf(s->log_stream, sizeof s->log_stream, "%s/[%.64s]%s", date, s->o.function_version, hex);
    char arn[256];
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s", s->o.region, s->o.account_id,
             s->o.function_name);
    sim_tele_emit(s, "platform.initStart",
                  json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "initializationType", "on-demand",
                            "phase", "init", "runtimeVersion", s->o.rt_version,
                            "runtimeVersionArn", s->o.rt_version_arn, "functionName", s->o.function_name,
                            "functionVersion", s->o.function_version, "functionArn", arn,
                            "instanceId", s->instance_id, "instanceMaxMemory", s->o.memory_mb));
    for (int i = 0; i < s->n_ext; i++) {
        struct sim_ext *e = &s->ext[i];
        e->registered = e->failed = e->init_failed = e->waiting = e->done = e->got_shutdown = e->sent_next = false;
        e->waiting_req = NULL;
        e->waiting_conn = NULL;
        free(e->queued);
        e->queued = NULL;
        e->id[0] = '\0';
        e->pid = 0;
        if (sim_spawn_ext(s, i) < 0) {
            cyc_init_failed(s, "Extension.LaunchError");
            return;
        }
    }
    cyc_timer(s, &s->init_timer, cyc_init_timeout, s->o.init_timeout_ms);
    cyc_check_init(s);
}

static bool cyc_all_registered(struct sim *s)
{
    for (int i = 0; i < s->n_ext; i++)
        if (!s->ext[i].registered)
            return false;
    return true;
}

static void cyc_runtime_ready(struct sim *s)
{
    s->rt_ready = true;
    sim_tele_emit(s, "platform.initRuntimeDone",
                  json_pack("{s:s,s:s,s:s}", "initializationType", "on-demand", "phase", "init",
                            "status", "success"));
}

static void cyc_next_cb(evutil_socket_t fd, short what, void *arg);

static void cyc_check_init(struct sim *s)
{
    if (s->phase != PH_INIT || !cyc_all_registered(s))
        return;
    if (!s->rt_ready && !s->rt_running) {
        if (s->o.runtime_cmd) {
            if (sim_spawn_runtime(s) < 0) {
                cyc_init_failed(s, "Runtime.LaunchError");
                return;
            }
        } else {
            cyc_runtime_ready(s);  /* the synthetic function has no init of its own */
        }
    }
    if (!s->rt_ready)
        return;
    for (int i = 0; i < s->n_ext; i++)
        if (!s->ext[i].sent_next)
            return;
    uint64_t now = sim_now_us();
    cyc_cancel(s->init_timer);
    s->init_done_us = now;
    s->last_init_ms = sim_ms(s->sandbox_start_us, now);
    if (s->init_ms < 0)
        s->init_ms = s->last_init_ms;
    /* Lambda's order: initRuntimeDone, one platform.extension per extension,
     * then initReport once every extension is ready */
    for (int i = 0; i < s->n_ext; i++) {
        struct sim_ext *e = &s->ext[i];
        if (!e->registered)
            continue;
        json_t *evs = e->reg_events ? json_incref(e->reg_events) : json_array();
        sim_tele_emit(s, "platform.extension",
                      json_pack("{s:s,s:s,s:o}", "name", e->name, "state", "Ready", "events", evs));
    }
    sim_tele_emit(s, "platform.initReport",
                  json_pack("{s:s,s:s,s:s,s:{s:f}}", "initializationType", "on-demand", "phase", "init",
                            "status", "success", "metrics", "durationMs", s->last_init_ms));
    json_decref(s->init_backlog);
    s->init_backlog = NULL;
    s->fresh_sandbox = true;
    s->phase = PH_IDLE;
    cyc_timer(s, &s->next_timer, cyc_next_cb, 0);
}

void sim_on_register(struct sim *s, int i)
{
    struct sim_ext *e = &s->ext[i];
    if (e->register_ms < 0)
        e->register_ms = sim_ms(e->spawn_us, sim_now_us());
    json_t *evs = json_array();
    if (e->ev_invoke)
        json_array_append_new(evs, json_string("INVOKE"));
    if (e->ev_shutdown)
        json_array_append_new(evs, json_string("SHUTDOWN"));
    json_decref(e->reg_events);
    e->reg_events = evs;  /* its platform.extension record comes once init is done */
    cyc_check_init(s);
}

void sim_on_ext_next(struct sim *s, int i)
{
    struct sim_ext *e = &s->ext[i];
    uint64_t now = sim_now_us();
    if (!e->sent_next) {
        e->sent_next = true;
        if (e->ready_ms < 0)
            e->ready_ms = sim_ms(e->spawn_us, now);
    }
    e->last_next_us = now;
    e->done = true;
    if (s->phase == PH_INIT)
        cyc_check_init(s);
    else if (s->phase == PH_INVOKE)
        cyc_check_complete(s);
}

void sim_on_init_error(struct sim *s, const char *error_type)
{
    cyc_init_failed(s, error_type);
}

/* ---- invocations ---- */

/* --statsd-port-file: the extension bound its DogStatsD port itself (port
 * 0) and reported it in a JSON file. Read at every invocation: a sandbox
 * reset starts a new extension, on a new port. */
static int cyc_statsd_port(struct sim *s)
{
    if (s->o.statsd_port_file == NULL)
        return s->o.statsd_port;
    json_t *j = json_load_file(s->o.statsd_port_file, 0, NULL);
    json_int_t p = json_integer_value(json_object_get(json_object_get(j, "ports"), "dogstatsd"));
    json_decref(j);
    return p > 0 && p <= 65535 ? (int)p : 0;
}

static void cyc_statsd(struct sim *s, double ms)
{
    int port;
    if (s->statsd_fd < 0 || s->o.statsd_per_invoke <= 0 || (port = cyc_statsd_port(s)) <= 0)
        return;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int k = 0; k < s->o.statsd_per_invoke; k++) {
        char d[128];
        int n = k % 2 == 0 ? snprintf(d, sizeof d, "sim.custom.count:1|c|#source:sim")
                           : snprintf(d, sizeof d, "sim.custom.latency:%.3f|d|#source:sim", ms);
        if (sendto(s->statsd_fd, d, (size_t)n, 0, (struct sockaddr *)&sa, sizeof sa) == n)
            s->statsd_sent++;
    }
}

static void cyc_function_logs(struct sim *s)
{
    int want = s->o.log_bytes > 0 ? s->o.log_bytes : 80;
    if (want > SIM_LINE_MAX - 256)
        want = SIM_LINE_MAX - 256;
    char pad[SIM_LINE_MAX];
    for (int i = 0; i < s->o.log_lines; i++) {
        char head[128];
        int hn = snprintf(head, sizeof head, "%s line %d ", s->cur->request_id, i + 1);
        int padn = want > hn ? want - hn : 0;
        memset(pad, 'x', (size_t)padn);
        pad[padn] = '\0';
        char line[SIM_LINE_MAX];
        if (s->o.json_logs) {
            char t[40];
            sim_iso_time(t, sizeof t);
            json_t *j = json_pack("{s:s,s:s,s:s+,s:s}", "timestamp", t, "level", "INFO",
                                  "message", head, pad, "requestId", s->cur->request_id);
            char *txt = json_dumps(j, JSON_COMPACT);
            snprintf(line, sizeof line, "%s", txt ? txt : "{}");
            free(txt);
            json_decref(j);
        } else {
            size_t hl = strlen(head);
            memcpy(line, head, hl);
            memcpy(line + hl, pad, (size_t)padn + 1);
        }
        sim_tele_line(s, "function", line);
    }
}

static void cyc_runtime_done(struct sim *s)
{
    struct sim_inv *v = s->cur;
    v->runtime_ms = sim_ms(s->inv_start_us, s->fn_end_us);
    const char *status = s->fn_error ? "error" : "success";
    json_t *rec = json_pack("{s:s,s:s,s:{s:f,s:I}}", "requestId", v->request_id, "status", status,
                            "metrics", "durationMs", v->runtime_ms, "producedBytes", (json_int_t)s->rt_produced);
    if (s->fn_error)
        json_object_set_new(rec, "errorType", json_string(s->fn_error_type));
    /* spans only when there was a response: latency up to its first byte,
     * duration while its body arrived */
    if (s->rt_responded) {
        uint64_t first = s->rt_resp_first_us < s->inv_start_us ? s->inv_start_us : s->rt_resp_first_us;
        uint64_t done = s->rt_resp_done_us < first ? first : s->rt_resp_done_us;
        json_object_set_new(rec, "spans",
                            json_pack("[o,o]", cyc_span("responseLatency", s->inv_start_us, sim_ms(s->inv_start_us, first)),
                                      cyc_span("responseDuration", first, sim_ms(first, done))));
    }
    sim_tele_emit(s, "platform.runtimeDone", cyc_add_tracing(s, rec));
    cyc_check_complete(s);
}

/* The function returns (its trace flush, if any, is over). */
static void cyc_fn_return(struct sim *s)
{
    if (s->phase != PH_INVOKE || s->fn_done)
        return;
    s->fn_done = true;
    s->fn_end_us = sim_now_us();
    s->rt_produced = s->fn_error ? 64 : 17;  /* {"statusCode":200} or an error body */
    s->rt_responded = true;                  /* written in one go: no transfer time */
    s->rt_resp_first_us = s->rt_resp_done_us = s->fn_end_us;
    cyc_runtime_done(s);
}

/* The function's work is done: it flushes its traces (--traces-per-invoke)
 * and then returns, as a tracer flushes before the handler returns. */
static void cyc_fn_end(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sim *s = arg;
    if (s->phase != PH_INVOKE || s->fn_done)
        return;
    if (!sim_traces_flush(s, cyc_fn_return))
        cyc_fn_return(s);
}

static void cyc_report(struct sim *s, const char *status, const char *error_type)
{
    struct sim_inv *v = s->cur;
    uint64_t now = sim_now_us();
    v->status = status;
    snprintf(v->error_type, sizeof v->error_type, "%s", error_type ? error_type : "");
    v->duration_ms = sim_ms(s->inv_start_us, now);
    if (strcmp(status, "timeout") == 0 && v->duration_ms > s->o.timeout_ms)
        v->duration_ms = s->o.timeout_ms;  /* Lambda reports the timeout, not our lateness */
    v->billed_ms = ceil(v->duration_ms);
    v->max_memory_mb = sim_sandbox_memory_mb(s);
    json_t *metrics = json_pack("{s:f,s:I,s:i,s:i}", "durationMs", v->duration_ms,
                                "billedDurationMs", (json_int_t)v->billed_ms, "memorySizeMB",
                                s->o.memory_mb, "maxMemoryUsedMB", v->max_memory_mb);
    if (v->init_duration_ms >= 0)
        json_object_set_new(metrics, "initDurationMs", json_real(v->init_duration_ms));
    json_t *rec = json_pack("{s:s,s:s,s:o}", "requestId", v->request_id, "status", status, "metrics", metrics);
    /* extensionOverhead whenever extensions are registered (0 included);
     * no spans at all otherwise */
    if (s->n_registered > 0)
        json_object_set_new(rec, "spans", json_pack("[o]", cyc_span("extensionOverhead", s->fn_end_us, v->overhead_ms)));
    if (error_type)
        json_object_set_new(rec, "errorType", json_string(error_type));
    sim_tele_emit(s, "platform.report", cyc_add_tracing(s, rec));
}

static void cyc_check_complete(struct sim *s)
{
    if (s->phase != PH_INVOKE || !s->fn_done)
        return;
    uint64_t last = s->fn_end_us;
    for (int i = 0; i < s->n_ext; i++) {
        struct sim_ext *e = &s->ext[i];
        if (!e->registered || !e->ev_invoke)
            continue;
        if (!e->done)
            return;
        if (e->last_next_us > last)
            last = e->last_next_us;
    }
    cyc_cancel(s->deadline_timer);
    s->cur->overhead_ms = sim_ms(s->fn_end_us, last);
    cyc_report(s, s->fn_error ? "error" : "success", s->fn_error ? s->fn_error_type : NULL);
    s->phase = PH_IDLE;
    if (s->o.freeze)
        sim_freeze(s);
    cyc_timer(s, &s->next_timer, cyc_next_cb, cyc_gap_ms(s));
}

/* The invocation failed in a way that resets the sandbox. */
static void cyc_fail_invocation(struct sim *s, const char *status, const char *error_type, const char *reason)
{
    struct sim_inv *v = s->cur;
    sim_traces_abort(s);
    /* the runtime was done: the extensions held the invocation until now */
    v->overhead_ms = s->fn_done ? sim_ms(s->fn_end_us, sim_now_us()) : 0;
    if (!s->fn_done) {
        s->fn_done = true;
        s->fn_end_us = sim_now_us();
        v->runtime_ms = sim_ms(s->inv_start_us, s->fn_end_us);
        /* an extension's crash ends the runtime's work with an error */
        const char *rt_status = strcmp(error_type, "Extension.Crash") == 0 ? "error" : status;
        sim_tele_emit(s, "platform.runtimeDone",
                      cyc_add_tracing(s, json_pack("{s:s,s:s,s:s,s:{s:f,s:i}}", "requestId", v->request_id,
                                                   "status", rt_status, "errorType", error_type, "metrics",
                                                   "durationMs", v->runtime_ms, "producedBytes", 0)));
    }
    cyc_report(s, status, error_type);
    cyc_begin_shutdown(s, reason, true);
}

static void cyc_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sim *s = arg;
    if (s->phase != PH_INVOKE)
        return;
    uint64_t due = s->inv_start_us + (uint64_t)s->o.timeout_ms * 1000u, now = sim_now_us();
    if (now < due) {  /* never before the deadline */
        struct timeval tv = { (time_t)((due - now) / 1000000u), (suseconds_t)((due - now) % 1000000u) };
        evtimer_add(s->deadline_timer, &tv);
        return;
    }
    cyc_fail_invocation(s, "timeout", "Sandbox.Timeout", "timeout");
}

static void cyc_trace_id(struct sim *s)
{
    char r[SIM_ID_LEN + 1], p[SIM_ID_LEN + 1];
    sim_uuid(r);
    sim_uuid(p);
    char hex[40], par[40];
    size_t h = 0, q = 0;
    for (const char *c = r; *c && h < 24; c++)
        if (*c != '-')
            hex[h++] = *c;
    for (const char *c = p; *c && q < 16; c++)
        if (*c != '-')
            par[q++] = *c;
    hex[h] = par[q] = '\0';
    s->trace_id[0] = '\0';
    if (strcmp(s->o.trace, "none") == 0)
        return;
    snprintf(s->trace_id, sizeof s->trace_id, "Root=1-%08llx-%s;Parent=%s;Sampled=%d",
             (unsigned long long)(sim_epoch_ms() / 1000), hex, par, strcmp(s->o.trace, "sampled") == 0);
}

static void cyc_start_invocation(struct sim *s)
{
    sim_thaw(s);
    sim_tele_flush_all(s);
    if (s->inv_done >= s->inv_cap) {
        int cap = s->inv_cap ? s->inv_cap * 2 : 64;
        struct sim_inv *grown = realloc(s->inv, (size_t)cap * sizeof *grown);
        if (!grown) {
            sim_log("ERROR", "out of memory for invocation %d: stopping", s->inv_done + 1);
            s->o.invokes = s->inv_done;
            s->final_shutdown = true;
            cyc_begin_shutdown(s, s->o.shutdown_reason, false);
            return;
        }
        s->inv = grown;
        s->inv_cap = cap;
    }
    s->phase = PH_INVOKE;
    struct sim_inv *v = &s->inv[s->inv_done++];
    s->cur = v;
    memset(v, 0, sizeof *v);
    sim_uuid(v->request_id);
    v->cold_start = s->fresh_sandbox;
    v->init_duration_ms = s->fresh_sandbox ? s->last_init_ms : -1;
    s->fresh_sandbox = false;
    v->status = "success";
    s->inv_start_us = sim_now_us();
    s->inv_deadline_ms = sim_epoch_ms() + s->o.timeout_ms;
    s->fn_done = s->fn_error = s->fn_timeout = false;
    s->fn_error_type[0] = '\0';
    s->rt_responded = false;
    s->rt_produced = 0;
    cyc_trace_id(s);
    int n = s->inv_done;

    sim_tele_emit(s, "platform.start",
                  cyc_add_tracing(s, json_pack("{s:s,s:s}", "requestId", v->request_id,
                                               "version", s->o.function_version)));
    char arn[256];
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s", s->o.region, s->o.account_id,
             s->o.function_name);
    json_t *ev = cyc_add_tracing(s, json_pack("{s:s,s:I,s:s,s:s}", "eventType", "INVOKE", "deadlineMs",
                                              (json_int_t)s->inv_deadline_ms, "requestId", v->request_id,
                                              "invokedFunctionArn", arn));
    char *body = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    cyc_timer(s, &s->deadline_timer, cyc_deadline, s->o.timeout_ms);
    for (int i = 0; i < s->n_ext; i++) {
        struct sim_ext *e = &s->ext[i];
        if (e->registered && e->ev_invoke && e->running) {
            e->done = false;
            sim_ext_deliver(s, i, body ? body : "{}", false);
        }
    }
    free(body);

    if (s->o.runtime_cmd) {
        s->rt_event_pending = true;
        sim_rt_deliver(s);
        return;
    }
    s->fn_timeout = s->o.timeout_every > 0 && n % s->o.timeout_every == 0;
    s->fn_error = !s->fn_timeout && s->o.error_every > 0 && n % s->o.error_every == 0;
    if (s->fn_error)
        snprintf(s->fn_error_type, sizeof s->fn_error_type, "Handled");
    cyc_function_logs(s);
    cyc_statsd(s, (double)s->o.fn_ms);
    if (!s->fn_timeout)
        cyc_timer(s, &s->fn_timer, cyc_fn_end, s->o.fn_ms);
}

static void cyc_next_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sim *s = arg;
    if (s->phase != PH_IDLE)
        return;
    if (s->inv_done >= s->o.invokes) {
        s->final_shutdown = true;
        cyc_begin_shutdown(s, s->o.shutdown_reason, false);
        return;
    }
    if (s->reset_after_shutdown) {
        s->reset_after_shutdown = false;
        sim_start_sandbox(s);  /* a fresh init; it starts the invocation when done */
        return;
    }
    cyc_start_invocation(s);
}

void sim_on_rt_next(struct sim *s)
{
    if (s->phase == PH_INIT) {
        if (!s->rt_ready) {
            cyc_runtime_ready(s);
            cyc_check_init(s);
        }
        return;
    }
    if (s->phase == PH_INVOKE && !s->fn_done && !s->rt_event_pending && !s->rt_responded) {
        /* /next without a result: the same invocation again (the emulator's
         * running state accepts Ready and re-renders the current event) */
        s->rt_event_pending = true;
        return;
    }
    if (s->phase == PH_INVOKE && !s->fn_done && !s->rt_event_pending) {
        s->fn_done = true;
        s->fn_end_us = sim_now_us();
        cyc_runtime_done(s);
    }
}

void sim_on_rt_result(struct sim *s, bool error, const char *error_type)
{
    s->fn_error = error;
    if (error)
        snprintf(s->fn_error_type, sizeof s->fn_error_type, "%s", error_type);
}

/* ---- exits, crashes, shutdown ---- */

static void cyc_record_crash(struct sim *s, int i, const char *phase, int status)
{
    struct sim_ext *e = &s->ext[i];
    e->crashed = true;
    if (s->n_crashes < (int)(sizeof s->crashes / sizeof s->crashes[0])) {
        struct sim_crash *c = &s->crashes[s->n_crashes++];
        size_t nl = strnlen(e->name, sizeof c->name - 1); /* (snprintf here trips gcc's -Wrestrict) */
        memcpy(c->name, e->name, nl);
        c->name[nl] = '\0';
        c->phase = phase;
        c->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        c->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    sim_log("ERROR", "Extension.Crash: %s exited during %s (status %d, signal %d)", e->name, phase,
            WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void sim_on_ext_exit(struct sim *s, int i, int status)
{
    struct sim_ext *e = &s->ext[i];
    e->ever_exited = true;
    e->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (e->waiting_req)  /* a forked child of it may still hold the /next: 500 means "exit" */
        evhttp_send_error(e->waiting_req, 500, "extension process exited");
    e->waiting = false;
    e->waiting_req = NULL;
    e->waiting_conn = NULL;
    switch (s->phase) {
    case PH_INIT:
        cyc_record_crash(s, i, "init", status);
        cyc_init_failed(s, "Extension.Crash");
        break;
    case PH_IDLE:
        cyc_record_crash(s, i, "invoke", status);
        cyc_begin_shutdown(s, "failure", true);
        break;
    case PH_INVOKE:
        cyc_record_crash(s, i, "invoke", status);
        cyc_fail_invocation(s, "failure", e->failed && !e->init_failed ? "Extension.ExitError" : "Extension.Crash",
                            "failure");
        break;
    case PH_SHUTDOWN:
        if (WIFSIGNALED(status) && !e->killed_now)
            cyc_record_crash(s, i, "shutdown", status);
        cyc_check_shutdown(s);
        break;
    case PH_DONE:
        break;
    }
}

void sim_on_rt_exit(struct sim *s, int status)
{
    (void)status;
    if (s->rt_req)
        evhttp_send_error(s->rt_req, 500, "runtime process exited");
    s->rt_waiting = false;
    s->rt_req = NULL;
    s->rt_conn = NULL;
    switch (s->phase) {
    case PH_INIT:
        cyc_init_failed(s, "Runtime.ExitError");
        break;
    case PH_IDLE:
        cyc_begin_shutdown(s, "failure", true);
        break;
    case PH_INVOKE:
        cyc_fail_invocation(s, "failure", "Runtime.ExitError", "failure");
        break;
    case PH_SHUTDOWN:
        cyc_check_shutdown(s);
        break;
    case PH_DONE:
        break;
    }
}

static void cyc_kill_ext(struct sim *s, int i)
{
    struct sim_ext *e = &s->ext[i];
    if (!e->running)
        return;
    e->killed = true;
    e->killed_now = true;
    sim_signal_group(e->pid, SIGKILL);
    sim_signal_group(e->pid, SIGCONT);
    (void)s;
}

static void cyc_shutdown_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sim *s = arg;
    if (s->phase != PH_SHUTDOWN)
        return;
    /* an extension that reported init/error or exit/error is waited for
     * (Lambda does not kill it at the deadline), up to a guard */
    bool guard_over = sim_ms(s->shutdown_start_us, sim_now_us()) >= SIM_FAILED_EXT_WAIT_MS;
    bool waiting = false;
    for (int i = 0; i < s->n_ext; i++) {
        struct sim_ext *e = &s->ext[i];
        if (!e->running)
            continue;
        if (e->failed && !guard_over) {
            waiting = true;
            continue;
        }
        sim_log("WARN", "%s did not exit by the %s: SIGKILL", e->name,
                e->failed ? "guard for extensions that reported an error" : "SHUTDOWN deadline");
        cyc_kill_ext(s, i);
    }
    if (s->rt_running)
        sim_signal_group(s->rt_pid, SIGKILL);
    if (waiting) {
        int left = SIM_FAILED_EXT_WAIT_MS - (int)sim_ms(s->shutdown_start_us, sim_now_us());
        cyc_timer(s, &s->shutdown_timer, cyc_shutdown_deadline, left > 0 ? left : 0);
    }
}

static void cyc_check_shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cyc_check_shutdown(arg);
}

/* Second part of a shutdown, once the runtime is gone: SHUTDOWN to the
 * extensions registered for it, with the deadline set when the shutdown
 * began; the others are killed (as the emulator's shutdownAgents). */
static void cyc_shutdown_agents(struct sim *s)
{
    if (s->shutdown_agents)
        return;
    s->shutdown_agents = true;
    cyc_cancel(s->rt_kill_timer);
    double rt_ms = sim_ms(s->shutdown_start_us, sim_now_us());
    json_t *ev = json_pack("{s:s,s:s,s:I}", "eventType", "SHUTDOWN", "shutdownReason", s->shutdown_reason_now,
                           "deadlineMs", (json_int_t)s->shutdown_deadline_ms);
    char *body = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    s->shutdown_sent_us = sim_now_us();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now_ms = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
    if (!s->reset_after_shutdown) {
        s->rt_shutdown_ms = rt_ms;
        s->shutdown_left_ms = (double)s->shutdown_deadline_ms - now_ms;
    }
    for (int i = 0; i < s->n_ext; i++) {
        struct sim_ext *e = &s->ext[i];
        if (!e->running)
            continue;
        if (e->failed) {
            continue;  /* it reported an error and is expected to exit: the deadline applies */
        } else if (e->registered && e->ev_shutdown) {
            e->got_shutdown = true;
            sim_ext_deliver(s, i, body ? body : "{}", true);
        } else {
            /* nothing to tell it: it goes with the sandbox */
            cyc_kill_ext(s, i);
        }
    }
    free(body);
    int64_t left = s->shutdown_deadline_ms - sim_epoch_ms();
    cyc_timer(s, &s->shutdown_timer, cyc_shutdown_deadline, left > 0 ? (int)left : 0);
    cyc_timer(s, &s->check_timer, cyc_check_shutdown_cb, 0);
}

/* The runtime's share is over: SIGKILL it (an external one) and go on. */
static void cyc_rt_term_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sim *s = arg;
    if (s->phase != PH_SHUTDOWN)
        return;
    if (s->rt_running) {
        sim_log("INFO", "the runtime did not exit %d ms after SIGTERM: SIGKILL", SIM_RT_SHUTDOWN_MS);
        sim_signal_group(s->rt_pid, SIGKILL);
        sim_signal_group(s->rt_pid, SIGCONT);
        return;  /* its exit (reaped) starts the extensions' part */
    }
    cyc_shutdown_agents(s);
}

static void cyc_begin_shutdown(struct sim *s, const char *reason, bool reset)
{
    if (s->phase == PH_SHUTDOWN || s->phase == PH_DONE)
        return;
    sim_traces_abort(s);  /* (already, when an invocation failed) */
    s->phase = PH_SHUTDOWN;
    s->reset_after_shutdown = reset;
    s->shutdown_reason_now = reason;
    s->shutdown_agents = false;
    s->shutdown_start_us = sim_now_us();
    s->shutdown_deadline_ms = sim_epoch_ms() + SIM_SHUTDOWN_MS;
    for (int i = 0; i < s->n_ext; i++)
        s->ext[i].killed_now = false;
    cyc_cancel(s->fn_timer);
    cyc_cancel(s->deadline_timer);
    cyc_cancel(s->init_timer);
    cyc_cancel(s->next_timer);
    sim_thaw(s);
    sim_tele_flush_all(s);
    /* The runtime first. With no extension registered Lambda spends nothing
     * on it: SIGKILL. Otherwise SIGTERM and up to SIM_RT_SHUTDOWN_MS. The
     * synthetic function's runtime takes --runtime-shutdown-ms to exit. */
    if (s->n_registered == 0) {
        if (s->rt_running) {
            sim_signal_group(s->rt_pid, SIGKILL);
            sim_signal_group(s->rt_pid, SIGCONT);
            return;  /* reaped -> cyc_check_shutdown -> extensions' part */
        }
        cyc_shutdown_agents(s);
        return;
    }
    if (s->rt_running) {
        sim_signal_group(s->rt_pid, SIGTERM);
        sim_signal_group(s->rt_pid, SIGCONT);
        cyc_timer(s, &s->rt_kill_timer, cyc_rt_term_over, SIM_RT_SHUTDOWN_MS);
    } else if (!s->o.runtime_cmd && s->rt_ready && s->o.runtime_shutdown_ms > 0) {  /* a started one */
        cyc_timer(s, &s->rt_kill_timer, cyc_rt_term_over, s->o.runtime_shutdown_ms);
    } else {
        cyc_shutdown_agents(s);
    }
}

static void cyc_check_shutdown(struct sim *s)
{
    if (s->phase != PH_SHUTDOWN)
        return;
    if (s->rt_running)
        return;
    if (!s->shutdown_agents) {
        /* an external runtime is gone (or never was): the extensions' turn */
        if (s->o.runtime_cmd || s->n_registered == 0)
            cyc_shutdown_agents(s);
        return;
    }
    for (int i = 0; i < s->n_ext; i++)
        if (s->ext[i].running)
            return;
    cyc_cancel(s->shutdown_timer);
    cyc_cancel(s->rt_kill_timer);
    /* whatever the sandbox's processes left behind (setsid children) goes with it */
    sim_kill_sandbox(s);
    double ms = sim_ms(s->shutdown_sent_us, sim_now_us());
    if (s->reset_after_shutdown) {
        s->resets++;
        sim_tele_drop_sandbox(s);
        sim_log("INFO", "sandbox reset (%s); the next invocation starts a fresh init", s->shutdown_reason_now);
        s->phase = PH_IDLE;
        cyc_timer(s, &s->next_timer, cyc_next_cb, s->o.interval_ms);
        return;
    }
    s->shutdown_ms = ms;
    s->phase = PH_DONE;
    sim_finish(s);
}
