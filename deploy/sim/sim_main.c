/* sim_main.c — lambda-sim's entry: the command line, set-up, the event loop,
 * the JSON report and the human summary. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim.h"

static struct sim *g_sim;  /* for the atexit sweep only: no stray processes, ever */

static void sim_atexit(void)
{
    if (g_sim)
        sim_kill_all(g_sim);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: lambda-sim [options]\n"
        "  --port N  --port-file FILE  --extension PATH (repeatable)  --runtime CMD\n"
        "  --invokes N  --interval-ms N  --period-ms N  --fn-ms N  --timeout-ms N\n"
        "  --log-lines N  --log-bytes N  --json-logs\n"
        "  --statsd-port P  --statsd-port-file FILE  --statsd-per-invoke N\n"
        "  --traces-port P  --traces-port-file FILE  --traces-per-invoke N  --traces-timeout-ms N\n"
        "  --error-every K  --timeout-every K\n"
        "  --no-freeze  --freeze-method auto|cgroup|signals  --memory-mb N  --function-name S\n"
        "  --function-version S  --region S  --account-id S  --arch x86_64|arm64\n"
        "  --runtime-id ID  --runtime-version S  --handler S  --task-root DIR  --runtime-dir DIR\n"
        "  --runtime-shutdown-ms N  --shutdown-reason S  --init-timeout-ms N\n"
        "  --trace sampled|unsampled|none\n"
        "  --report FILE  --ext-log FILE  --runtime-log FILE  --quiet\n"
        "See deploy/sim/README.md.\n");
}

static int parse_int(const char *opt, const char *v, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < lo || n > hi) {
        fprintf(stderr, "lambda-sim: %s: expected an integer in [%ld, %ld], got '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = (int)n;
    return 0;
}

enum {
    O_PORT = 1000, O_PORT_FILE, O_EXT, O_RUNTIME, O_INVOKES, O_INTERVAL, O_PERIOD, O_FN_MS, O_TIMEOUT,
    O_LOG_LINES, O_LOG_BYTES, O_JSON_LOGS, O_STATSD_PORT, O_STATSD_PORT_FILE, O_STATSD_N, O_ERROR_EVERY,
    O_TIMEOUT_EVERY, O_FREEZE, O_MEMORY, O_FN_NAME, O_FN_VERSION, O_REGION, O_ACCOUNT, O_ARCH,
    O_SHUTDOWN_REASON, O_INIT_TIMEOUT, O_REPORT, O_EXT_LOG, O_QUIET, O_HELP, O_NO_FREEZE,
    O_FREEZE_METHOD, O_RUNTIME_ID, O_RUNTIME_VERSION, O_HANDLER, O_TASK_ROOT, O_RUNTIME_DIR,
    O_RT_SHUTDOWN_MS, O_RUNTIME_LOG, O_TRACE, O_TRACES_PORT, O_TRACES_PORT_FILE, O_TRACES_N,
    O_TRACES_TIMEOUT,
};

static int parse_args(struct sim_opts *o, int argc, char **argv)
{
    static const struct option opts[] = {
        { "port", required_argument, 0, O_PORT },
        { "port-file", required_argument, 0, O_PORT_FILE },
        { "extension", required_argument, 0, O_EXT },
        { "runtime", required_argument, 0, O_RUNTIME },
        { "invokes", required_argument, 0, O_INVOKES },
        { "interval-ms", required_argument, 0, O_INTERVAL },
        { "period-ms", required_argument, 0, O_PERIOD },
        { "fn-ms", required_argument, 0, O_FN_MS },
        { "timeout-ms", required_argument, 0, O_TIMEOUT },
        { "log-lines", required_argument, 0, O_LOG_LINES },
        { "log-bytes", required_argument, 0, O_LOG_BYTES },
        { "json-logs", no_argument, 0, O_JSON_LOGS },
        { "statsd-port", required_argument, 0, O_STATSD_PORT },
        { "statsd-port-file", required_argument, 0, O_STATSD_PORT_FILE },
        { "statsd-per-invoke", required_argument, 0, O_STATSD_N },
        { "traces-port", required_argument, 0, O_TRACES_PORT },
        { "traces-port-file", required_argument, 0, O_TRACES_PORT_FILE },
        { "traces-per-invoke", required_argument, 0, O_TRACES_N },
        { "traces-timeout-ms", required_argument, 0, O_TRACES_TIMEOUT },
        { "error-every", required_argument, 0, O_ERROR_EVERY },
        { "timeout-every", required_argument, 0, O_TIMEOUT_EVERY },
        { "freeze", no_argument, 0, O_FREEZE },
        { "no-freeze", no_argument, 0, O_NO_FREEZE },
        { "freeze-method", required_argument, 0, O_FREEZE_METHOD },
        { "runtime-id", required_argument, 0, O_RUNTIME_ID },
        { "runtime-version", required_argument, 0, O_RUNTIME_VERSION },
        { "handler", required_argument, 0, O_HANDLER },
        { "task-root", required_argument, 0, O_TASK_ROOT },
        { "runtime-dir", required_argument, 0, O_RUNTIME_DIR },
        { "runtime-shutdown-ms", required_argument, 0, O_RT_SHUTDOWN_MS },
        { "runtime-log", required_argument, 0, O_RUNTIME_LOG },
        { "trace", required_argument, 0, O_TRACE },
        { "memory-mb", required_argument, 0, O_MEMORY },
        { "function-name", required_argument, 0, O_FN_NAME },
        { "function-version", required_argument, 0, O_FN_VERSION },
        { "region", required_argument, 0, O_REGION },
        { "account-id", required_argument, 0, O_ACCOUNT },
        { "arch", required_argument, 0, O_ARCH },
        { "shutdown-reason", required_argument, 0, O_SHUTDOWN_REASON },
        { "init-timeout-ms", required_argument, 0, O_INIT_TIMEOUT },
        { "report", required_argument, 0, O_REPORT },
        { "ext-log", required_argument, 0, O_EXT_LOG },
        { "quiet", no_argument, 0, O_QUIET },
        { "help", no_argument, 0, O_HELP },
        { 0, 0, 0, 0 },
    };
    *o = (struct sim_opts){
        .port = 9001, .invokes = 10, .interval_ms = 0, .fn_ms = 5, .timeout_ms = 3000,
        .log_lines = 2, .log_bytes = 80, .memory_mb = 128, .function_name = "forkcap-sim-fn",
        .function_version = "$LATEST", .region = "us-east-1", .account_id = "123456789012",
        .arch = "x86_64", .shutdown_reason = "spindown", .init_timeout_ms = 10000,
        .freeze = true, .freeze_method = "auto", .runtime_id = "provided.al2023",
        .handler = "function.handler", .task_root = "/var/task", .runtime_dir = "/var/runtime",
        .runtime_shutdown_ms = SIM_RT_SHUTDOWN_MS, .trace = "sampled", .traces_timeout_ms = 2000,
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case O_PORT: rc = parse_int("--port", optarg, 0, 65535, &o->port); break;
        case O_PORT_FILE: o->port_file = optarg; break;
        case O_EXT:
            if (o->n_ext >= SIM_MAX_EXT) {
                fprintf(stderr, "lambda-sim: at most %d --extension\n", SIM_MAX_EXT);
                return -1;
            }
            o->ext_paths[o->n_ext++] = optarg;
            break;
        case O_RUNTIME: o->runtime_cmd = optarg; break;
        case O_INVOKES: rc = parse_int("--invokes", optarg, 0, 1000000, &o->invokes); break;
        case O_INTERVAL: rc = parse_int("--interval-ms", optarg, 0, 3600000, &o->interval_ms); break;
        case O_PERIOD: rc = parse_int("--period-ms", optarg, 0, 3600000, &o->period_ms); break;
        case O_FN_MS: rc = parse_int("--fn-ms", optarg, 0, 900000, &o->fn_ms); break;
        case O_TIMEOUT: rc = parse_int("--timeout-ms", optarg, 1, 900000, &o->timeout_ms); break;
        case O_LOG_LINES: rc = parse_int("--log-lines", optarg, 0, 100000, &o->log_lines); break;
        case O_LOG_BYTES: rc = parse_int("--log-bytes", optarg, 1, SIM_LINE_MAX - 256, &o->log_bytes); break;
        case O_JSON_LOGS: o->json_logs = true; break;
        case O_STATSD_PORT: rc = parse_int("--statsd-port", optarg, 1, 65535, &o->statsd_port); break;
        case O_STATSD_PORT_FILE: o->statsd_port_file = optarg; break;
        case O_STATSD_N: rc = parse_int("--statsd-per-invoke", optarg, 0, 100000, &o->statsd_per_invoke); break;
        case O_TRACES_PORT: rc = parse_int("--traces-port", optarg, 1, 65535, &o->traces_port); break;
        case O_TRACES_PORT_FILE: o->traces_port_file = optarg; break;
        case O_TRACES_N: rc = parse_int("--traces-per-invoke", optarg, 0, 1000, &o->traces_per_invoke); break;
        case O_TRACES_TIMEOUT: rc = parse_int("--traces-timeout-ms", optarg, 1, 600000, &o->traces_timeout_ms); break;
        case O_ERROR_EVERY: rc = parse_int("--error-every", optarg, 0, 1000000, &o->error_every); break;
        case O_TIMEOUT_EVERY: rc = parse_int("--timeout-every", optarg, 0, 1000000, &o->timeout_every); break;
        case O_FREEZE: o->freeze = true; break;  /* the default; kept for old command lines */
        case O_NO_FREEZE: o->freeze = false; break;
        case O_FREEZE_METHOD:
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "cgroup") != 0 && strcmp(optarg, "signals") != 0) {
                fprintf(stderr, "lambda-sim: --freeze-method must be auto, cgroup or signals\n");
                return -1;
            }
            o->freeze_method = optarg;
            break;
        case O_RUNTIME_ID: o->runtime_id = optarg; break;
        case O_RUNTIME_VERSION: o->runtime_version = optarg; break;
        case O_HANDLER: o->handler = optarg; break;
        case O_TASK_ROOT: o->task_root = optarg; break;
        case O_RUNTIME_DIR: o->runtime_dir = optarg; break;
        case O_RT_SHUTDOWN_MS:
            rc = parse_int("--runtime-shutdown-ms", optarg, 0, SIM_RT_SHUTDOWN_MS, &o->runtime_shutdown_ms);
            break;
        case O_RUNTIME_LOG: o->runtime_log_path = optarg; break;
        case O_TRACE:
            if (strcmp(optarg, "sampled") != 0 && strcmp(optarg, "unsampled") != 0 && strcmp(optarg, "none") != 0) {
                fprintf(stderr, "lambda-sim: --trace must be sampled, unsampled or none\n");
                return -1;
            }
            o->trace = optarg;
            break;
        case O_MEMORY: rc = parse_int("--memory-mb", optarg, 128, 10240, &o->memory_mb); break;
        case O_FN_NAME: o->function_name = optarg; break;
        case O_FN_VERSION: o->function_version = optarg; break;
        case O_REGION: o->region = optarg; break;
        case O_ACCOUNT: o->account_id = optarg; break;
        case O_ARCH:
            if (strcmp(optarg, "x86_64") != 0 && strcmp(optarg, "arm64") != 0) {
                fprintf(stderr, "lambda-sim: --arch must be x86_64 or arm64\n");
                return -1;
            }
            o->arch = optarg;
            break;
        case O_SHUTDOWN_REASON: o->shutdown_reason = optarg; break;
        case O_INIT_TIMEOUT: rc = parse_int("--init-timeout-ms", optarg, 1, 600000, &o->init_timeout_ms); break;
        case O_REPORT: o->report_path = optarg; break;
        case O_EXT_LOG: o->ext_log_path = optarg; break;
        case O_QUIET: o->quiet = true; break;
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        if (rc < 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "lambda-sim: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (sim_runtime_version(o) < 0)
        return -1;
    if (o->statsd_per_invoke > 0 && o->statsd_port == 0 && o->statsd_port_file == NULL) {
        fprintf(stderr, "lambda-sim: --statsd-per-invoke needs --statsd-port or --statsd-port-file\n");
        return -1;
    }
    if (o->traces_per_invoke > 0 && o->traces_port == 0 && o->traces_port_file == NULL) {
        fprintf(stderr, "lambda-sim: --traces-per-invoke needs --traces-port or --traces-port-file\n");
        return -1;
    }
    return 0;
}

static json_t *ms_or_null(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

static void sim_write_report(struct sim *s)
{
    json_t *r = json_object();
    json_object_set_new(r, "init_ms", ms_or_null(s->init_ms));
    json_object_set_new(r, "init_error", s->have_init_error ? json_string(s->init_error) : json_null());
    json_t *exts = json_array();
    for (int i = 0; i < s->n_ext; i++) {
        struct sim_ext *e = &s->ext[i];
        json_array_append_new(exts, json_pack("{s:s,s:s,s:i,s:o,s:o,s:i,s:b,s:o,s:b,s:i}",
            "name", e->name, "path", e->path, "pid", (int)e->pid,
            "register_ms", ms_or_null(e->register_ms), "ready_ms", ms_or_null(e->ready_ms),
            "registrations", e->registrations, "crashed", e->crashed,
            "exit_status", e->ever_exited && e->exit_status >= 0 ? json_integer(e->exit_status) : json_null(),
            "killed", e->killed, "lost_events", e->lost_events));
    }
    json_object_set_new(r, "extensions", exts);
    json_t *invs = json_array();
    for (int k = 0; k < s->inv_done; k++) {
        struct sim_inv *v = &s->inv[k];
        json_array_append_new(invs, json_pack("{s:s,s:s,s:o,s:f,s:f,s:f,s:I,s:i,s:o,s:b}",
            "request_id", v->request_id, "status", v->status ? v->status : "failure",
            "error_type", v->error_type[0] ? json_string(v->error_type) : json_null(),
            "runtime_ms", v->runtime_ms, "extension_overhead_ms", v->overhead_ms,
            "duration_ms", v->duration_ms, "billed_ms", (json_int_t)v->billed_ms, "max_memory_mb", v->max_memory_mb,
            "init_duration_ms", ms_or_null(v->init_duration_ms), "cold_start", v->cold_start));
    }
    json_object_set_new(r, "invocations", invs);
    json_t *crashes = json_array();
    for (int k = 0; k < s->n_crashes; k++) {
        struct sim_crash *c = &s->crashes[k];
        json_array_append_new(crashes, json_pack("{s:s,s:s,s:o,s:o}", "name", c->name, "phase", c->phase,
            "exit_status", c->exit_status >= 0 ? json_integer(c->exit_status) : json_null(),
            "signal", c->signal ? json_integer(c->signal) : json_null()));
    }
    json_object_set_new(r, "crashes", crashes);
    json_object_set_new(r, "resets", json_integer(s->resets));
    json_object_set_new(r, "shutdown_reason", json_string(s->o.shutdown_reason));
    json_object_set_new(r, "shutdown_ms", s->final_shutdown ? json_real(s->shutdown_ms) : json_null());
    /* extras: the runtime's part of the final shutdown, and the time the
     * extensions had left (deadlineMs - now) when SHUTDOWN was handed over */
    json_object_set_new(r, "runtime_shutdown_ms", s->final_shutdown ? json_real(s->rt_shutdown_ms) : json_null());
    json_object_set_new(r, "shutdown_left_ms", s->final_shutdown ? json_real(s->shutdown_left_ms) : json_null());
    json_object_set_new(r, "runtime_version", json_string(s->o.rt_version));
    json_object_set_new(r, "freeze", json_string(!s->o.freeze ? "off" : s->cg_used ? "cgroup" : "signals"));
    json_t *tel = json_array();
    for (int k = 0; k < s->n_subs; k++) {
        struct sim_sub *sub = &s->subs[k];
        json_array_append_new(tel, json_pack("{s:s,s:s,s:O,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
            "extension", s->ext[sub->ext_index].name, "uri", sub->uri, "types", sub->types,
            "batches", (json_int_t)sub->batches, "records", (json_int_t)sub->records,
            "retries", (json_int_t)sub->retries, "failed_posts", (json_int_t)sub->failed_posts,
            "dropped", (json_int_t)sub->dropped, "reconnects", (json_int_t)sub->reconnects,
            "shutdown_failures", (json_int_t)sub->shutdown_failures));
        json_object_set_new(json_array_get(tel, json_array_size(tel) - 1), "dropped_records",
                            sub->dropped_log ? json_incref(sub->dropped_log) : json_array());
    }
    json_object_set_new(r, "telemetry", tel);
    json_object_set_new(r, "function_log_lines", json_integer(s->function_log_lines));
    json_object_set_new(r, "statsd_sent", json_integer(s->statsd_sent));
    json_object_set_new(r, "traces_sent", json_integer(s->traces_sent));
    json_object_set_new(r, "traces_refused", json_integer(s->traces_refused));
    json_object_set_new(r, "trace_keys", s->trace_keys ? json_incref(s->trace_keys) : json_array());
    json_object_set_new(r, "trace_keys_truncated", json_boolean(s->trace_keys_truncated));

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->o.report_path);
    if (json_dump_file(r, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) < 0 || rename(tmp, s->o.report_path) < 0)
        sim_log("ERROR", "cannot write the report to %s", s->o.report_path);
    json_decref(r);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void sim_summary(struct sim *s)
{
    printf("lambda-sim: init %.1f ms%s%s\n", s->init_ms < 0 ? 0.0 : s->init_ms,
           s->have_init_error ? ", init error " : "", s->have_init_error ? s->init_error : "");
    for (int i = 0; i < s->n_ext; i++) {
        struct sim_ext *e = &s->ext[i];
        printf("  extension %s: register %.1f ms, ready %.1f ms%s%s\n", e->name,
               e->register_ms < 0 ? 0.0 : e->register_ms, e->ready_ms < 0 ? 0.0 : e->ready_ms,
               e->crashed ? ", CRASHED" : "", e->killed ? ", killed" : "");
    }
    if (s->inv_done > 0) {
        double *ov = calloc((size_t)s->inv_done, sizeof *ov);
        int n = 0, ok = 0;
        for (int k = 0; k < s->inv_done; k++) {
            ov[n++] = s->inv[k].overhead_ms;
            if (s->inv[k].status && strcmp(s->inv[k].status, "success") == 0)
                ok++;
        }
        qsort(ov, (size_t)n, sizeof *ov, cmp_double);
        printf("  invocations: %d (%d success), extension overhead p50 %.2f ms, p99 %.2f ms\n",
               s->inv_done, ok, ov[(n - 1) / 2], ov[(int)((n - 1) * 0.99 + 0.5)]);
        free(ov);
    }
    printf("  crashes: %d, resets: %d", s->n_crashes, s->resets);
    if (s->final_shutdown)
        printf(", shutdown %.1f ms", s->shutdown_ms);
    printf("\n");
}

void sim_finish(struct sim *s)
{
    event_base_loopbreak(s->base);
}

static void sim_sigchld(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sim_reap(arg);
}

static void sim_sigterm(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct sim *s = arg;
    sim_log("WARN", "signal %d: stopping", (int)fd);
    s->exit_code = 2;
    event_base_loopbreak(s->base);
}

int main(int argc, char **argv)
{
    struct sim *s = calloc(1, sizeof *s);
    if (!s)
        return 2;
    if (parse_args(&s->o, argc, argv) < 0)
        return 2;
    s->statsd_fd = -1;
    s->init_ms = -1;
    s->trace_keys = json_array();
    if (!s->trace_keys)
        return 2;
    s->n_ext = s->o.n_ext;
    for (int i = 0; i < s->n_ext; i++) {
        struct sim_ext *e = &s->ext[i];
        e->path = s->o.ext_paths[i];
        e->register_ms = e->ready_ms = -1;
        e->exit_status = -1;
        e->out.fd = e->err.fd = -1;
        struct stat st;
        if (stat(e->path, &st) < 0 || !S_ISREG(st.st_mode) || access(e->path, X_OK) < 0) {
            fprintf(stderr, "lambda-sim: --extension %s: not an executable file\n", e->path);
            return 2;
        }
        char *dup = strdup(e->path);
        const char *base = basename(dup);
        size_t blen = strlen(base);
        snprintf(e->name, sizeof e->name, "%s", base);
        free(dup);
        json_t *utf8 = json_string(e->path);  /* names and paths go into JSON */
        json_decref(utf8);
        if (!utf8 || blen >= sizeof e->name) {
            fprintf(stderr, "lambda-sim: --extension %s: the path must be UTF-8 and the name under %zu bytes\n",
                    e->path, sizeof e->name);
            return 2;
        }
    }
    s->rt_out.fd = s->rt_err.fd = -1;
    if (s->o.report_path) {  /* find out now, not after the run, that it cannot be written */
        char *dup = strdup(s->o.report_path);
        bool ok = dup && access(dirname(dup), W_OK) == 0;
        free(dup);
        if (!ok) {
            fprintf(stderr, "lambda-sim: --report %s: its folder is not writable\n", s->o.report_path);
            return 2;
        }
    }
    if (s->o.ext_log_path) {
        s->ext_log = fopen(s->o.ext_log_path, "a");
        if (!s->ext_log) {
            fprintf(stderr, "lambda-sim: --ext-log %s: %s\n", s->o.ext_log_path, strerror(errno));
            return 2;
        }
    }
    if (s->o.runtime_log_path) {
        s->rt_log = fopen(s->o.runtime_log_path, "a");
        if (!s->rt_log) {
            fprintf(stderr, "lambda-sim: --runtime-log %s: %s\n", s->o.runtime_log_path, strerror(errno));
            return 2;
        }
    }
    if (s->o.statsd_port > 0 || s->o.statsd_port_file) {
        s->statsd_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->statsd_fd < 0)
            return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* precise timers: libevent's default coarse clock fires deadlines early */
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return 2;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    s->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!s->base)
        return 2;
    if (sim_api_start(s) < 0) {
        fprintf(stderr, "lambda-sim: cannot listen on 127.0.0.1:%d: %s\n", s->o.port, strerror(errno));
        return 2;
    }
    if (s->o.port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", s->o.port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", s->port) < 0 || fclose(f) != 0 || rename(tmp, s->o.port_file) < 0) {
            fprintf(stderr, "lambda-sim: cannot write --port-file %s\n", s->o.port_file);
            return 2;
        }
    }
    s->sigchld_ev = evsignal_new(s->base, SIGCHLD, sim_sigchld, s);
    s->sigint_ev = evsignal_new(s->base, SIGINT, sim_sigterm, s);
    s->sigterm_ev = evsignal_new(s->base, SIGTERM, sim_sigterm, s);
    event_add(s->sigchld_ev, NULL);
    event_add(s->sigint_ev, NULL);
    event_add(s->sigterm_ev, NULL);
    sim_box_init(s);
    g_sim = s;
    atexit(sim_atexit);
    if (!s->o.quiet)
        sim_log("INFO", "listening on 127.0.0.1:%d", s->port);

    sim_start_sandbox(s);
    event_base_dispatch(s->base);

    sim_traces_free(s);
    sim_kill_all(s);
    sim_tele_drop_sandbox(s);
    if (s->o.report_path)
        sim_write_report(s);
    if (!s->o.quiet)
        sim_summary(s);
    if (s->exit_code == 0 && (s->n_crashes > 0 || s->have_init_error))
        s->exit_code = 3;
    fflush(stdout);
    return s->exit_code;
}
