/* sim.h — lambda-sim's shared state: the options, the extension and runtime
 * slots, telemetry subscribers, and the functions the simulator's files offer each other. */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#define SIM_MAX_EXT 32            /* --extension slots; Lambda's limit is 10 registered */
#define SIM_MAX_REGISTERED 10
#define SIM_MAX_SUBS 64           /* subscription entries kept for the report */
#define SIM_NAME_MAX 128
#define SIM_ID_LEN 36             /* uuid text */
#define SIM_LINE_MAX 16384        /* one captured stdout/stderr line */
#define SIM_BODY_MAX (256u * 1024u)       /* API request bodies (register, subscribe) */
#define SIM_RESPONSE_MAX (6u * 1024u * 1024u + 100u) /* Runtime API response limit (6 MiB + 100 bytes, as the emulator) */
#define SIM_SHUTDOWN_MS 2000
#define SIM_FAILED_EXT_WAIT_MS 30000 /* guard: an extension that reported an error is waited for this long */
#define SIM_RT_SHUTDOWN_MS 300       /* the runtime's share of the shutdown, as Lambda documents */
#define SIM_SUB_QUEUE_MAX (8u * 1024u * 1024u) /* bytes buffered per subscriber, then drop */
#define SIM_BACKLOG_MAX 20000     /* init records kept for late subscribers */
#define SIM_TRACE_KEYS_MAX 100000 /* trace keys answered 200 listed in the report */

enum sim_phase {
    PH_INIT,        /* spawning, waiting for registers and first /next */
    PH_IDLE,        /* between invocations (maybe frozen) */
    PH_INVOKE,      /* an invocation is running */
    PH_SHUTDOWN,    /* SHUTDOWN sent (final or sandbox reset), waiting for exits */
    PH_DONE,
};

struct sim_opts {
    int port;
    const char *port_file;
    const char *ext_paths[SIM_MAX_EXT];
    int n_ext;
    const char *runtime_cmd;
    int invokes, interval_ms, fn_ms, timeout_ms;
    int period_ms; /* > 0: invocations start this far apart (a steady offered load) */
    int log_lines, log_bytes;
    bool json_logs;
    int statsd_port, statsd_per_invoke;
    const char *statsd_port_file; /* JSON with "ports":{"dogstatsd":N} (forkcap's stats file) */
    int traces_port, traces_per_invoke, traces_timeout_ms;
    const char *traces_port_file; /* JSON with "ports":{"apm":N} (forkcap's stats file) */
    int error_every, timeout_every;
    bool freeze;                  /* default on; --no-freeze turns it off */
    const char *freeze_method;    /* "auto", "cgroup", "signals" */
    int memory_mb;
    const char *runtime_id;       /* nodejs20.x, python3.12, provided.al2023 ... */
    const char *runtime_version;  /* initStart runtimeVersion; derived from runtime_id */
    const char *handler, *task_root, *runtime_dir;
    int runtime_shutdown_ms;      /* the synthetic runtime's time to exit on SIGTERM */
    const char *runtime_log_path;
    const char *trace;            /* sampled (default), unsampled, none */
    const char *function_name, *function_version, *region, *account_id, *arch;
    const char *shutdown_reason;
    int init_timeout_ms;
    const char *report_path, *ext_log_path;
    bool quiet;
    /* derived at start */
    char rt_version[64];
    char rt_version_arn[160];
};

/* One line-reader on a child's stdout or stderr pipe. */
struct sim_pipe {
    struct sim *sim;
    struct event *ev;
    int fd;
    int ext_index;               /* -1: the runtime */
    size_t len;
    char buf[SIM_LINE_MAX];
};

/* One --extension executable: its report entry (kept across sandbox resets)
 * and its live state in the current sandbox. */
struct sim_ext {
    /* report, kept across resets */
    const char *path;
    char name[SIM_NAME_MAX];
    double register_ms, ready_ms;  /* first sandbox; <0 when never */
    int registrations;
    int lost_events;               /* events handed to a dead /next connection */
    bool crashed, killed, ever_exited;
    bool killed_now;               /* SIGKILLed by us in this shutdown */
    int exit_status;               /* last exit code, -1 none */
    /* live */
    pid_t pid;                     /* 0 when not running */
    bool running;
    uint64_t spawn_us;
    bool registered;
    char id[SIM_ID_LEN + 1];
    bool ev_invoke, ev_shutdown;
    bool failed;                   /* called init/error or exit/error: no more calls */
    bool init_failed;              /* which of the two (a repeat of the same one is a no-op) */
    bool waiting;                  /* a /next is pending (maybe on a dead connection) */
    struct evhttp_request *waiting_req; /* NULL when the pending connection died */
    struct evhttp_connection *waiting_conn;
    char *queued;                  /* event body for its next /next */
    bool queued_shutdown;
    bool done;                     /* has called /next since the last event */
    bool got_shutdown;             /* SHUTDOWN handed over (or lost) */
    bool sent_next;                /* has called /next at least once this sandbox */
    uint64_t last_next_us;
    json_t *reg_events;            /* events it registered for, for its platform.extension record */
    struct sim_pipe out, err;
};

/* One telemetry subscription, and its delivery queue. */
/* dropped records named in the report (type, and a log line's text) */
#define SIM_DROPPED_LOG 256
#define SIM_DROPPED_TEXT 512

struct sim_sub {
    struct sim *sim;
    int ext_index;
    bool active;                   /* false after the sandbox that made it is gone */
    char uri[512];
    char host[256];
    int port;
    char path[256];
    bool want_platform, want_function, want_extension;
    int max_items, max_bytes, timeout_ms;
    bool logs_api;                 /* PUT /2020-08-15/logs: records in that API's shape */
    bool tcp;                      /* NDJSON over one TCP connection, no answer to wait for */
    struct bufferevent *tcp_bev;
    json_t *types;                 /* as subscribed, for the report */
    json_t *buf;                   /* records not yet in a batch: from buf_head on */
    size_t buf_head;               /* records before it are already batched */
    size_t *buf_sizes;             /* serialized size of each record in buf */
    size_t buf_sizes_cap;
    size_t buf_bytes;
    uint64_t buf_first_us;
    json_t *inflight;              /* batch being POSTed or retried */
    char *inflight_body;
    int attempt;
    bool posting;
    struct evhttp_connection *conn;
    struct event *timer;           /* batching timeout, retry backoff, or a deferred reconnect */
    bool retry_wait;
    bool reconnect;                /* the listener closes after answering (HTTP/1.0, Connection: close) */
    bool conn_used;                /* the connection has carried an answered POST */
    bool stale_retry;              /* the in-flight batch is being resent after a stale connection */
    long overflow_records, overflow_bytes;  /* dropped since the last logsDropped */
    /* report */
    long batches, records, retries, failed_posts, dropped;
    long reconnects;               /* resent at once after the listener dropped an idle connection */
    long shutdown_failures;        /* POSTs that failed after its extension got SHUTDOWN */
    json_t *dropped_log;           /* the first SIM_DROPPED_LOG dropped records, oldest first */
};

struct sim_inv {
    char request_id[SIM_ID_LEN + 1];
    const char *status;            /* "success" ... */
    char error_type[128];
    double runtime_ms, overhead_ms, duration_ms, billed_ms;
    int max_memory_mb;
    double init_duration_ms;       /* <0: null */
    bool cold_start;
};

struct sim_crash {
    char name[SIM_NAME_MAX];
    const char *phase;
    int exit_status;               /* -1 when killed by a signal */
    int signal;                    /* 0 when it exited */
};

struct sim {
    struct sim_opts o;
    struct event_base *base;
    struct evhttp *http;
    int port;
    FILE *ext_log;

    enum sim_phase phase;
    bool final_shutdown;           /* the SHUTDOWN after the last invocation */
    bool frozen;
    int exit_code;

    struct sim_ext ext[SIM_MAX_EXT];
    int n_ext;
    int n_registered;

    /* runtime (external --runtime) */
    pid_t rt_pid;
    bool rt_running;
    bool rt_ready;                 /* has called /next (init) */
    bool rt_waiting;
    bool rt_event_pending;          /* the current invocation is not yet handed to it */
    struct evhttp_request *rt_req;
    struct evhttp_connection *rt_conn;
    bool rt_responded;
    uint64_t rt_resp_first_us;     /* first byte of the /response request */
    uint64_t rt_resp_done_us;      /* the whole /response request read */
    size_t rt_produced;
    struct sim_pipe rt_out, rt_err;

    /* sandbox / init */
    uint64_t sandbox_start_us;
    uint64_t init_done_us;
    double init_ms;                /* first sandbox */
    double last_init_ms;           /* current sandbox, for initDurationMs */
    char init_error[128];
    bool have_init_error;
    bool fresh_sandbox;            /* next invocation is the first after init */
    int resets;
    struct event *init_timer;
    json_t *init_backlog;          /* telemetry since sandbox start, for subscribers */

    /* invocations */
    int inv_done;                  /* invocations started so far */
    struct sim_inv *inv;           /* grows as invocations start */
    int inv_cap;
    struct sim_inv *cur;
    uint64_t inv_start_us;
    int64_t inv_deadline_ms;
    bool fn_done;
    uint64_t fn_end_us;
    bool fn_error, fn_timeout;
    char fn_error_type[128];
    char trace_id[128];
    struct event *fn_timer;        /* synthetic function end */
    struct event *deadline_timer;
    struct event *next_timer;      /* interval between invocations */
    struct event *check_timer;     /* re-check shutdown progress from the loop */

    /* shutdown: the runtime first (SIGTERM, at most SIM_RT_SHUTDOWN_MS), then
     * SHUTDOWN to the extensions with what is left of SIM_SHUTDOWN_MS */
    uint64_t shutdown_start_us;
    int64_t shutdown_deadline_ms;   /* epoch ms: start + SIM_SHUTDOWN_MS */
    bool shutdown_agents;           /* the extensions' part has begun */
    uint64_t shutdown_sent_us;
    double shutdown_ms;
    double shutdown_left_ms;        /* deadlineMs - now when SHUTDOWN was handed over (final) */
    double rt_shutdown_ms;          /* runtime's part of the final shutdown */
    const char *shutdown_reason_now;
    struct event *shutdown_timer;
    struct event *rt_kill_timer;
    bool reset_after_shutdown;

    /* the sandbox's identity: one log stream and instance id per sandbox */
    char log_stream[200];
    char instance_id[SIM_ID_LEN + 1];
    /* the process box: a cgroup v2 (cg_dir) when one can be made, else the
     * descendants of the simulator (a child subreaper) */
    char cg_dir[512];
    bool cg;
    bool cg_used;                  /* for the report: cg is cleared when the cgroup is removed */
    FILE *rt_log;

    struct sim_crash crashes[64];
    int n_crashes;

    struct sim_sub subs[SIM_MAX_SUBS];
    int n_subs;

    long function_log_lines;
    long statsd_sent;
    int statsd_fd;

    /* --traces-per-invoke: the synthetic function's trace flush */
    struct {
        struct evhttp_connection *conn;
        struct event *step;        /* the next payload, outside libevent's callback */
        char rid[SIM_ID_LEN + 1];
        int port, k, n;            /* next payload, payloads of this flush */
        bool busy, in_flight, fresh;
        void (*then)(struct sim *); /* the function's end, once flushed */
    } trc;
    long traces_sent, traces_refused;
    json_t *trace_keys;            /* "<request id>#<index>" of each payload answered 200 */
    bool trace_keys_truncated;

    struct event *sigchld_ev, *sigint_ev, *sigterm_ev;
};

/* sim_util.c */
uint64_t sim_now_us(void);
int64_t sim_epoch_ms(void);
double sim_ms(uint64_t a_us, uint64_t b_us);
void sim_uuid(char out[SIM_ID_LEN + 1]);
bool sim_is_uuid(const char *s);
void sim_iso_time(char *out, size_t n);
void sim_iso_time_at(char *out, size_t n, int64_t epoch_us);
/* Replaces control and non-ASCII bytes with '?' (outside strings bound for JSON). */
void sim_ascii(char *s);
/* Derives rt_version and rt_version_arn from --runtime-id/--runtime-version; -1 on bad input. */
int sim_runtime_version(struct sim_opts *o);
void sim_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* sim_proc.c: child processes */
int sim_spawn_ext(struct sim *s, int i);
int sim_spawn_runtime(struct sim *s);
void sim_signal_group(pid_t pgid, int sig);
/* Sets up the process box (cgroup v2 or subreaper); logs which. */
void sim_box_init(struct sim *s);
/* In a forked child before exec: join the sandbox cgroup. */
int sim_box_enter(struct sim *s);
/* Kills every process of the sandbox (setsid ones included). */
void sim_kill_sandbox(struct sim *s);
/* At exit: kill, reap and wait until no process of the sandbox is left; remove the cgroup. */
void sim_kill_all(struct sim *s);
/* Number of live processes in the box (zombies not counted). */
int sim_box_count(struct sim *s);
void sim_freeze(struct sim *s);
void sim_thaw(struct sim *s);
void sim_reap(struct sim *s);
int sim_sandbox_memory_mb(struct sim *s);
void sim_close_pipe(struct sim_pipe *p);

/* sim_api.c: the HTTP APIs */
int sim_api_start(struct sim *s);
void sim_ext_deliver(struct sim *s, int i, const char *body, bool shutdown);
void sim_rt_deliver(struct sim *s);

/* sim_tele.c: telemetry records and delivery */
void sim_tele_emit(struct sim *s, const char *type, json_t *record);
void sim_tele_line(struct sim *s, const char *type, const char *line);
struct sim_sub_req;
void sim_tele_subscribe(struct sim *s, int ext_index, const struct sim_sub_req *req, bool logs_api);
/* -1: the extension has no live subscription; 0: Telemetry API; 1: Logs API. */
int sim_tele_sub_kind(struct sim *s, int ext_index);
void sim_tele_flush_all(struct sim *s);
void sim_tele_drop_sandbox(struct sim *s);

/* sim_traces.c: the synthetic function's trace payloads. Starts the flush
 * of the current invocation and returns true (then(s) runs when it is over),
 * or false when there is nothing to flush (then is not called). */
bool sim_traces_flush(struct sim *s, void (*then)(struct sim *));
/* The invocation is gone: what is not yet answered counts as refused. */
void sim_traces_abort(struct sim *s);
void sim_traces_free(struct sim *s);

/* sim_cycle.c: the lifecycle */
void sim_start_sandbox(struct sim *s);
void sim_on_register(struct sim *s, int i);
void sim_on_ext_next(struct sim *s, int i);
void sim_on_rt_next(struct sim *s);
void sim_on_rt_result(struct sim *s, bool error, const char *error_type);
void sim_on_init_error(struct sim *s, const char *error_type);
void sim_on_ext_exit(struct sim *s, int i, int status);
void sim_on_rt_exit(struct sim *s, int status);
void sim_finish(struct sim *s);


#endif
