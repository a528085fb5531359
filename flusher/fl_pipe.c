/* fl_pipe.c — see fl_pipe.h. */
#include "refusal.h"
#include "fl_pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "clock.h"
#include "dogstatsd.h"
#include "endpoints.h"
#include "enhanced.h"
#include "fl_runtime.h"
#include "fl_tags.h"
#include "fl_traces.h"
#include "log.h"
#include "logs.h"
#include "fl_ckpt.h"
#include "metrics.h"
#include "msplit.h"
#include "series_json.h"
#include "sketch_pb.h"

#define TAG_LOGS (1ull << 63)
#define TAG_TRACES (1ull << 62)
#define TAG_DSD (1ull << 61)
#define TAG_ENH (1ull << 60) /* an enhanced-metrics payload (struct mpay) */
/* DogStatsD payloads not final yet, beyond which the oldest is dropped (counted) */
#define DSD_PENDING_BYTES_MAX (16u * 1024u * 1024u)
#define GEN_SHIFT 24
#define ID_MAX CFG_STR_MAX

/* One metrics drain: the platform frames folded before it and how many of
 * its payloads are not final yet. */
struct mgen {
    uint64_t gen;
    uint64_t first_seq; /* 0 = it took no platform frame */
    uint64_t from;      /* the frames it took: seq > from (the drain before it took the rest) */
    unsigned outstanding;
};

/* A log payload the batcher handed out, until its outcome is final. */
struct lpay {
    struct fl_logs_payload p;
    struct lpay *next;
};

/* An enhanced-metrics payload of a drain (generation gen), kept until its
 * outcome is final: a 413 replaces it with its halves. */
struct mpay {
    uint64_t id, gen;
    enum ckpt_kind kind;
    char *body;
    size_t len;
    bool submitted;
    struct mpay *next;
};

/* A DogStatsD payload from a drain (or a restored checkpoint) until its
 * outcome is final; it is in every checkpoint until then. */
struct dpay {
    uint64_t id;
    enum ckpt_kind kind;
    char *body;
    size_t len;
    bool submitted; /* handed to the intake in the running flush */
    bool half;      /* a half of a 413: goes out in the running flush's next round */
    struct dpay *next;
};

struct waiter {
    uint64_t flush_id;
    uint64_t deadline_us;
    bool final;
    fl_pipe_flushed_fn local; /* a flush the flusher asked itself (/lambda/flush) */
    void *local_arg;
    uint64_t t_added_us;      /* when it started waiting (a pending key bounds that) */
};

struct fl_pipe {
    struct fl_pipe_opts o;
    const struct cfg *cfg;
    struct met_agg *agg;     /* custom metrics (DogStatsD) */
    struct met_agg *enh_agg; /* enhanced metrics, a budget of their own */
    struct enh_state *enh;
    uint64_t ctx_dropped_told; /* custom samples over the context limit, last logged */
    uint64_t set_overflow_noted; /* set members over the limit, told to the refusal tally */
    struct log_limit ctx_log;
    struct log_limit drop413_log; /* metric payloads refused alone with 413 */
    struct fl_logs *logs;
    struct fl_traces *traces;
    struct fl_endpoints ep;
    bool idle;
    bool key_pending; /* flushes wait for the API key (o.key_pending) */
    bool logs_forbidden;
    bool shutdown_seen; /* "shutdowns" counted once, whatever the final flushes */

    /* identity */
    char fn_name[ID_MAX], fn_version[ID_MAX], account_id[ID_MAX], arn[512];
    char request_id[ID_MAX];
    bool cold_start;      /* FT_CONTEXT: request_id is the sandbox's first invocation */
    char arch[32], runtime[FL_RUNTIME_MAX];
    bool runtime_known;   /* resolved once (fl_runtime.h), then fixed */
    struct fl_tags tags;  /* the function tag set (fl_tags.h) */
    bool tags_warned;     /* its failure is logged once, not per FT_CONTEXT */
    uint64_t last_invocation_n; /* FT_INVOCATION n counted last */
    char seen[FL_PIPE_SEEN_IDS][ID_MAX]; /* request ids of the last FT_INVOCATIONs */
    unsigned seen_next;

    /* metrics watermark */
    uint64_t undrained_first; /* first platform seq folded since the last drain; 0 none */
    struct mgen gens[FL_PIPE_GENS];
    unsigned ngens; /* oldest first */
    uint64_t next_gen;
    uint64_t drained_upto; /* every data frame with seq <= this is in a drain */
    uint64_t enh_told;     /* the last FT_ACK enh_upto */

    /* log payloads out */
    struct lpay *lpays;

    /* enhanced-metrics payloads out, oldest first */
    struct mpay *mpays;
    uint64_t next_mpay;

    /* DogStatsD payloads out, oldest first, and the checkpoint */
    struct dpay *dpays;
    size_t dpay_bytes;
    uint64_t next_dpay;
    bool ckpt_dirty;
    bool ckpt_warned;

    /* flushes */
    bool flushing;
    struct waiter running[FL_PIPE_WAITERS + 1];
    unsigned nrunning;
    struct waiter waiting[FL_PIPE_WAITERS];
    unsigned nwaiting;
    uint64_t t0_us;
    uint64_t deadline_us;  /* of the running flush */
    bool split_again;      /* a 413 split payloads: send the halves before answering */
    bool final_running;    /* the running flush is the final one */
    struct fl_flush_summary acc; /* the running flush's rounds so far */
    struct fl_logs_stats ls0;    /* the batcher's counters when it started */
    unsigned n_series_posts, n_sketch_posts, n_log_posts, n_trace_posts;
    unsigned n_answered; /* posts of the running flush that got an HTTP status */
    unsigned n_split_413;   /* metric/trace payloads of the running flush split after a 413 */
    unsigned n_dropped_413; /* ... refused alone (one series, sketch or trace frame): dropped */
    bool traces_split;      /* a trace batch was split: post its halves in the next round */
    char fail_example[200]; /* the running flush's first failed post, in words */
    struct log_limit fail_log; /* failed flushes: one line, then rarely (log.h) */
    uint64_t failed_flushes;   /* in a row */
    uint64_t max_seq;    /* highest data seq received */
    uint64_t last_acked;
    uint64_t unacked_idle;

    /* forkcap's own lines shipped: a token bucket (fl_pipe.h) */
    double own_tokens;
    uint64_t own_t_us;

    struct dsd_stats dsd;
    struct fl_pipe_stats st;
};

/* ---- identity and tags --------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *s, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

static const char *nz(const char *s)
{
    return s && s[0] ? s : NULL;
}

/* The account: FT_CONTEXT's, else the invoked ARN's fifth field. */
static const char *account_of(struct fl_pipe *p, char *buf, size_t cap)
{
    if (p->account_id[0])
        return p->account_id;
    const char *a = p->arn;
    for (int i = 0; i < 4 && a; i++) {
        a = strchr(a, ':');
        if (a)
            a++;
    }
    size_t n = a ? strcspn(a, ":") : 0;
    if (n == 0 || n >= cap)
        return NULL;
    memcpy(buf, a, n);
    buf[n] = '\0';
    return buf;
}

/* Rebuild the function tag set and hand it to metrics (common tags), logs
 * (ddtags) and enhanced metrics (their own rules). Runs when an input
 * changes: FT_CONTEXT's identity, or the runtime once resolved. */
static void apply_context(struct fl_pipe *p)
{
    const struct cfg *c = p->cfg;
    char acct[ID_MAX];
    const char *account = account_of(p, acct, sizeof acct);
    bool latest = !p->fn_version[0] || !strcmp(p->fn_version, "$LATEST");
    struct fl_tags_src ts = {
        .fn_name = p->fn_name,
        .qualifier = p->fn_version,
        .account_id = account,
        .region = c->region,
        .memory_mb = c->memory_mb,
        .runtime = p->runtime_known ? p->runtime : NULL,
        .architecture = p->arch,
        .init_type = p->o.init_type,
        .env = c->env,
        .service = c->service,
        .version = c->version,
        .dd_tags = c->tags,
    };
    const char *why = NULL;
    if (fl_tags_build(&ts, &p->tags) != 0)
        why = "function tags longer than the limit: metrics and logs carry none";
    if (met_set_common_tags(p->agg, p->tags.tags, p->tags.n) != 0 ||
        met_set_common_tags(p->enh_agg, p->tags.tags, p->tags.n) != 0) {
        why = "function tags refused by the aggregator: metrics carry none";
        met_set_common_tags(p->agg, NULL, 0);
        met_set_common_tags(p->enh_agg, NULL, 0);
    }
    if (why && !p->tags_warned)
        log_warn("%s", why);
    p->tags_warned |= why != NULL;

    char resource[ID_MAX * 2];
    if (latest)
        snprintf(resource, sizeof resource, "%s", p->fn_name);
    else
        snprintf(resource, sizeof resource, "%s:%s", p->fn_name, p->fn_version);
    /* Enhanced metrics carry the set above too (it is the aggregator's
     * common tags): their own context then adds only what the set lacks, so
     * no key gets a second value (DD_SERVICE's case, or a DD_TAGS key that
     * overrides env). Runtime and architecture stay: the cost needs them.
     * Without a set, they keep the whole identity. */
    bool have_set = p->tags.n > 0;
    struct enh_tag_context ec = {
        .runtime = p->runtime_known ? p->runtime : NULL,
        .architecture = nz(p->arch),
        .memory_mb = c->memory_mb,
    };
    if (!have_set) {
        ec.function_name = nz(p->fn_name);
        ec.region = nz(c->region);
        ec.account_id = account;
        ec.resource = nz(resource);
        ec.executed_version = latest ? NULL : p->fn_version;
        ec.env = nz(c->env);
        ec.service = nz(c->service);
        ec.version = nz(c->version);
        ec.dd_tags = nz(c->tags);
    }
    if (enh_set_context(p->enh, &ec) != 0)
        log_warn("enhanced metrics: some tags were refused");

    char arn[1024] = "";
    if (p->arn[0])
        snprintf(arn, sizeof arn, "%s", p->arn);
    else if (c->region[0] && account && p->fn_name[0])
        snprintf(arn, sizeof arn, "arn:%s:lambda:%s:%s:function:%s", fl_tags_partition(c->region),
                 c->region, account, p->fn_name);
    char service[CFG_STR_MAX];
    snprintf(service, sizeof service, "%s", c->service[0] ? c->service : p->fn_name);
    struct fl_logs_ctx lc = {.arn = nz(arn), .service = service, .tags = p->tags.joined};
    if (fl_logs_set_context(p->logs, &lc) != 0)
        log_warn("logs: context not updated (out of memory)");
}

/* The runtime tag, resolved once when first needed (see fl_runtime.h):
 * platform.initStart's runtimeVersion when it came first, else the runtime
 * process's environment, else os-release. */
static void set_runtime(struct fl_pipe *p, const char *name, enum fl_runtime_source src)
{
    snprintf(p->runtime, sizeof p->runtime, "%s", name);
    p->runtime_known = true;
    log_debug("runtime %s (from %s)", p->runtime, fl_runtime_source_name(src));
    apply_context(p);
}

static void need_runtime(struct fl_pipe *p)
{
    if (p->runtime_known)
        return;
    char rt[FL_RUNTIME_MAX];
    enum fl_runtime_source src = fl_runtime_resolve(p->o.proc_root, p->o.os_release, rt, sizeof rt);
    set_runtime(p, rt, src);
}

static bool invocation_seen(const struct fl_pipe *p, const char *rid)
{
    for (unsigned i = 0; rid && i < FL_PIPE_SEEN_IDS; i++)
        if (!strcmp(p->seen[i], rid))
            return true;
    return false;
}

static void on_context(struct fl_pipe *p, const struct ft_context *m)
{
    size_t n;
    if ((n = strlen(m->fn_name)) > 0)
        copy_str(p->fn_name, sizeof p->fn_name, m->fn_name, n);
    if ((n = strlen(m->fn_version)) > 0)
        copy_str(p->fn_version, sizeof p->fn_version, m->fn_version, n);
    if (m->account_id && (n = strlen(m->account_id)) > 0)
        copy_str(p->account_id, sizeof p->account_id, m->account_id, n);
    if (m->arn && (n = strlen(m->arn)) > 0 && n < sizeof p->arn)
        copy_str(p->arn, sizeof p->arn, m->arn, n);
    if (m->has_cold_start && !m->cold_start && p->cfg->enhanced_metrics)
        enh_set_warm(p->enh); /* e.g. a restarted flusher: this sandbox has been invoked */
    if (m->has_cold_start)
        p->cold_start = m->cold_start;
    apply_context(p);
    const char *s = m->request_id;
    if (s && (n = strlen(s)) > 0 && n < ID_MAX && strncmp(p->request_id, s, sizeof p->request_id)) {
        /* the invocation itself starts with its FT_INVOCATION, in data order */
        copy_str(p->request_id, sizeof p->request_id, s, n);
        need_runtime(p);
    }
}

/* ---- data frames --------------------------------------------------------- */

static void note_platform_folded(struct fl_pipe *p, uint64_t seq)
{
    if (p->undrained_first == 0)
        p->undrained_first = seq;
}

/* Lambda dropped telemetry it could not deliver to us in time. */
static void warn_logs_dropped(struct fl_pipe *p, const struct ft_platform *m)
{
    p->st.platform_logs_dropped++;
    log_warn("Lambda dropped %lld log records (%lld bytes) before they reached the extension: %s",
             (long long)(m->has_dropped_records ? m->dropped_records : 0),
             (long long)(m->has_dropped_bytes ? m->dropped_bytes : 0),
             m->reason ? m->reason : "no reason given");
}

static void on_platform(struct fl_pipe *p, const struct ft_platform *m, uint64_t seq)
{
    p->st.frames_platform++;
    if (m->event == PE_LOGS_DROPPED)
        warn_logs_dropped(p, m);
    char rt[FL_RUNTIME_MAX];
    if (!p->runtime_known && m->event == PE_INIT_START && m->runtime_version &&
        fl_runtime_from_version(m->runtime_version, rt, sizeof rt))
        set_runtime(p, rt, FL_RT_INIT_START);
    /* the Datadog log line (START, END, REPORT, INIT_START) in batch order */
    if (p->cfg->logs_enabled && !p->idle && !p->logs_forbidden) {
        int rc = fl_logs_add_platform(p->logs, seq, m);
        if (rc < 0)
            p->st.records_bad++;
        else if (rc != FL_LOGS_NO_LINE)
            p->st.records++;
    } else {
        char probe[2];
        if (p->cfg->logs_enabled && !p->idle && fl_logs_platform_line(m, probe, sizeof probe) > 0)
            p->st.logs_dropped++; /* the intake refused our key */
        fl_logs_note_seq(p->logs, seq);
    }
    if (!p->cfg->enhanced_metrics || p->idle)
        return;
    if (m->has_enh_done && m->enh_done) {
        /* a replay: a previous flusher delivered its metrics */
        p->st.enh_replayed++;
        enh_set_muted(p->enh, true);
        enh_on_platform(p->enh, m);
        enh_set_muted(p->enh, false);
        return;
    }
    note_platform_folded(p, seq);
    if (m->event == PE_START) {
        /* anyone in the sandbox can post telemetry: a start record counts
         * no invocation here; the supervisor's FT_INVOCATION does (from
         * the INVOKE, or from this record when the INVOKE was lost) */
        if (!invocation_seen(p, m->request_id))
            p->st.starts_unannounced++;
        return;
    }
    enh_on_platform(p->enh, m);
}

/* An invocation the supervisor counted (FT_INVOCATION, in order with the
 * data): the one count of enhanced "invocations"; from an INVOKE it also
 * starts the invocation for the logs (records without an id take it). One
 * from a platform.start record (from_start: the INVOKE was lost) may come
 * after later invocations: it counts, and leaves the current invocation
 * alone (the start record behind it starts it in the logs). The supervisor
 * numbers them; a number at or below the last counted is a repeat. The
 * frame is acked only once the drain holding the count is final (as a
 * platform frame), so a restarted flusher gets it again exactly when it
 * was not delivered. */
static void on_invocation(struct fl_pipe *p, const struct ft_invocation *m, uint64_t seq)
{
    p->st.frames_invocation++;
    fl_logs_note_seq(p->logs, seq);
    bool late = m->has_from_start && m->from_start;
    size_t n = strlen(m->request_id);
    if (n > 0 && n < ID_MAX) {
        if (!late)
            copy_str(p->request_id, sizeof p->request_id, m->request_id, n);
        if (!invocation_seen(p, m->request_id)) {
            snprintf(p->seen[p->seen_next], ID_MAX, "%s", m->request_id);
            p->seen_next = (p->seen_next + 1) % FL_PIPE_SEEN_IDS;
        }
    }
    if (p->idle)
        return;
    need_runtime(p);
    if (p->cfg->logs_enabled && n > 0 && !late && !p->logs_forbidden)
        fl_logs_start_invocation(p->logs, m->request_id);
    if (!p->cfg->enhanced_metrics)
        return;
    if (m->n <= p->last_invocation_n) {
        p->st.invocations_repeated++;
        return;
    }
    p->last_invocation_n = m->n;
    if (m->has_enh_done && m->enh_done) {
        /* a replay: a previous flusher delivered this count */
        p->st.enh_replayed++;
        enh_set_muted(p->enh, true);
        enh_on_invoke(p->enh, m->time_ms, m->request_id);
        enh_set_muted(p->enh, false);
        return;
    }
    note_platform_folded(p, seq);
    enh_on_invoke(p->enh, m->time_ms, m->request_id);
    p->st.invocations_counted++;
}

/* One of forkcap's own lines ("LEVEL | component | ...", log.h)? */
static bool own_line(const char *m, size_t n)
{
    static const char *const lv[] = {"TRACE | ", "DEBUG | ", "INFO | ", "WARN | ", "ERROR | "};
    static const char *const comp[] = {"supervisor | ", "lifecycle | ", "flusher | "};
    for (size_t i = 0; i < sizeof lv / sizeof *lv; i++) {
        size_t l = strlen(lv[i]);
        if (n < l || memcmp(m, lv[i], l) != 0)
            continue;
        for (size_t j = 0; j < sizeof comp / sizeof *comp; j++) {
            size_t c = strlen(comp[j]);
            if (n - l >= c && memcmp(m + l, comp[j], c) == 0)
                return true;
        }
    }
    return false;
}

/* Whether an extension record may be shipped: other extensions' lines
 * always, ours within the bucket. */
static bool own_line_admit(struct fl_pipe *p, const char *m, size_t n)
{
    if (!own_line(m, n))
        return true;
    p->st.own_lines++;
    uint64_t now = clock_us();
    if (p->own_t_us == 0)
        p->own_tokens = FL_PIPE_OWN_BURST;
    else
        p->own_tokens += (double)(now - p->own_t_us) * FL_PIPE_OWN_PER_MIN / 60e6;
    if (p->own_tokens > FL_PIPE_OWN_BURST)
        p->own_tokens = FL_PIPE_OWN_BURST;
    p->own_t_us = now;
    if (p->own_tokens < 1.0) {
        p->st.own_lines_dropped++;
        return false;
    }
    p->own_tokens -= 1.0;
    return true;
}

static void on_logs(struct fl_pipe *p, const struct ft_logs *m, uint64_t seq)
{
    p->st.frames_logs++;
    fl_logs_note_seq(p->logs, seq);
    if (!p->cfg->logs_enabled || p->idle)
        return;
    for (uint32_t i = 0; i < m->n_records; i++) {
        const struct ft_log_record *r = &m->records[i];
        struct fl_logs_record rec = {
            .seq = seq,
            .time_ms = r->time_ms,
            .source = r->source,
            .request_id = r->request_id && r->request_id[0] ? r->request_id : NULL,
            .message = r->message,
            .message_len = r->message_len,
        };
        if (p->logs_forbidden) {
            p->st.logs_dropped++;
            continue;
        }
        if (rec.source == LOG_SRC_EXTENSION && !own_line_admit(p, rec.message, rec.message_len))
            continue;
        p->st.records++;
        if (fl_logs_add(p->logs, &rec) < 0)
            p->st.records_bad++;
    }
}

void fl_pipe_dogstatsd(struct fl_pipe *p, const char *buf, size_t len)
{
    p->st.datagrams++;
    if (p->idle)
        return;
    need_runtime(p);
    /* the library's copies of what forkcap counts itself are dropped (as
     * Datadog's extension does), but only while forkcap does count them */
    uint64_t owned = p->dsd.owned;
    int took = dsd_parse_owned(p->agg, buf, len, (int64_t)time(NULL),
                               p->cfg->enhanced_metrics ? enh_owns : NULL, &p->dsd);
    p->st.dsd_owned_dropped += p->dsd.owned - owned;
    if (took > 0)
        p->ckpt_dirty = true;
}

/* ---- DogStatsD checkpoint ------------------------------------------------ */

/* Encode a batch's series and sketches as payloads; each goes to add(). */
typedef int (*dsd_payload_fn)(struct fl_pipe *p, enum ckpt_kind k, char *body, size_t len,
                              void *arg);

/* 0, or the number of series/sketches that could not be encoded. add()
 * takes ownership of body on 0; on -1 it is freed here and encoding stops. */
static size_t encode_batch(struct fl_pipe *p, const struct met_batch *b, dsd_payload_fn add,
                           void *arg)
{
    size_t lost = 0;
    for (size_t off = 0; off < b->nseries;) {
        size_t used = 0, len = 0;
        char *out = NULL;
        int rc = sj_encode(b->series + off, b->nseries - off, 0, 0, &used, &out, &len);
        if (rc == -2) {
            lost++;
            off += used ? used : 1;
            continue;
        }
        if (rc != 0 || used == 0)
            return lost + b->nseries - off + b->nsketches;
        off += used;
        if (add(p, CKPT_SERIES, out, len, arg) != 0) {
            free(out);
            return lost + b->nseries - off + b->nsketches;
        }
    }
    for (size_t off = 0; off < b->nsketches;) {
        size_t used = 0, len = 0;
        uint8_t *out = NULL;
        int rc = spb_encode(b->sketches + off, b->nsketches - off, NULL, 0, &used, &out, &len);
        if (rc == -2) {
            lost++;
            off += used ? used : 1;
            continue;
        }
        if (rc != 0 || used == 0)
            return lost + b->nsketches - off;
        off += used;
        if (add(p, CKPT_SKETCHES, (char *)out, len, arg) != 0) {
            free(out);
            return lost + b->nsketches - off;
        }
    }
    return lost;
}

static int ckpt_add_snapshot(struct fl_pipe *p, enum ckpt_kind k, char *body, size_t len, void *arg)
{
    (void)p;
    int rc = ckpt_append(arg, k, body, len);
    if (rc == 0)
        free(body);
    return rc;
}

/* Send the DogStatsD state (see fl_ckpt.h) and wait until it is written. */
static void ckpt_emit(struct fl_pipe *p)
{
    if (p->idle)
        return;
    p->ckpt_dirty = false;
    struct ckpt_buf cb = {0};
    size_t lost = 0;
    for (struct dpay *d = p->dpays; d; d = d->next)
        if (ckpt_append(&cb, d->kind, d->body, d->len) != 0)
            lost++;
    struct met_batch b;
    if (met_snapshot(p->agg, &b) != 0) {
        lost++;
    } else {
        lost += encode_batch(p, &b, ckpt_add_snapshot, &cb);
        met_batch_free(&b);
    }
    if (lost) {
        p->st.ckpt_incomplete++;
        if (!p->ckpt_warned)
            log_warn("DogStatsD checkpoint over %u bytes: %zu payloads left out (a restart "
                     "would lose them)", CKPT_BYTES_MAX, lost);
        p->ckpt_warned = true;
    }
    struct frame_buf fb = {0};
    frame_encode_dsd_state(&fb, &(struct ft_dsd_state){.payloads = cb.p, .payloads_len = cb.len});
    ckpt_buf_free(&cb);
    p->o.emit(&fb, p->o.emit_arg);
    if (p->o.settle)
        p->o.settle(p->o.emit_arg);
    p->st.ckpts++;
}

void fl_pipe_tick(struct fl_pipe *p)
{
    if (p->ckpt_dirty)
        ckpt_emit(p);
    /* set members past the limit are not refused lines (the line counts,
     * the member does not): told to the tally as a count only */
    struct met_stats ms = met_get_stats(p->agg);
    refusal_note(REF_METRIC_SET_OVERFLOW, ms.set_overflow - p->set_overflow_noted, NULL, 0);
    p->set_overflow_noted = ms.set_overflow;
}

/* Every refused DogStatsD datagram, line or value: this process's tally
 * (the first of each reason is logged with the text). */
static void dsd_refused(enum refusal why, const char *text, size_t len, void *arg)
{
    (void)arg;
    refusal_note(why, 1, text, len);
}

static void dpay_free(struct fl_pipe *p, struct dpay *d)
{
    p->dpay_bytes -= d->len;
    free(d->body);
    free(d);
}

static int dpay_add(struct fl_pipe *p, enum ckpt_kind k, char *body, size_t len, void *arg)
{
    (void)arg;
    struct dpay *d = calloc(1, sizeof *d);
    if (d == NULL)
        return -1;
    while (p->dpays && p->dpay_bytes + len > DSD_PENDING_BYTES_MAX) {
        struct dpay *old = p->dpays;
        if (old->submitted)
            break; /* in the running flush: its outcome will free it */
        p->dpays = old->next;
        p->st.posts_dropped++;
        log_warn("DogStatsD: %zu undelivered bytes over %u: the oldest payload is dropped",
                 p->dpay_bytes + len, DSD_PENDING_BYTES_MAX);
        dpay_free(p, old);
    }
    d->id = ++p->next_dpay;
    d->kind = k;
    d->body = body;
    d->len = len;
    p->dpay_bytes += len;
    struct dpay **pp = &p->dpays;
    while (*pp)
        pp = &(*pp)->next;
    *pp = d;
    return 0;
}

/* A checkpoint from the supervisor: the payloads of a flusher that died go
 * out with our next flush. */
static void on_dsd_state(struct fl_pipe *p, const struct ft_dsd_state *m)
{
    if (p->idle)
        return;
    size_t off = 0;
    unsigned n = 0, taken = 0;
    struct ckpt_item it;
    int rc;
    while ((rc = ckpt_next(m->payloads, m->payloads_len, &off, &n, &it)) == 1) {
        char *body = malloc(it.len ? it.len : 1);
        if (body == NULL || dpay_add(p, it.kind, body, it.len, NULL) != 0) {
            free(body);
            rc = -2;
            break;
        }
        memcpy(body, it.p, it.len);
        taken++;
    }
    if (rc == -1)
        log_error("DogStatsD checkpoint malformed after %u payloads: the rest is ignored", taken);
    else if (rc == -2)
        log_error("DogStatsD checkpoint: out of memory after %u payloads", taken);
    p->st.dsd_restored += taken;
    if (taken)
        log_info("DogStatsD state of the previous flusher restored: %u payloads", taken);
    p->ckpt_dirty = true;
}

/* ---- acks ---------------------------------------------------------------- */

static uint64_t metrics_limit(const struct fl_pipe *p)
{
    uint64_t first = UINT64_MAX;
    for (unsigned i = 0; i < p->ngens; i++)
        if (p->gens[i].first_seq && p->gens[i].first_seq < first)
            first = p->gens[i].first_seq;
    if (p->undrained_first && p->undrained_first < first)
        first = p->undrained_first;
    return first == UINT64_MAX ? UINT64_MAX : first - 1;
}

/* Enhanced metrics delivered up to: the frames of every drain final so
 * far, stopping before the oldest drain with a payload not final (its
 * frames, and every later one, may have to be counted again by a restarted
 * flusher). A drain forgotten past FL_PIPE_GENS counts as final, as for
 * the acks. */
static uint64_t enh_limit(const struct fl_pipe *p)
{
    uint64_t e = p->drained_upto;
    for (unsigned i = 0; i < p->ngens; i++)
        if (p->gens[i].outstanding && p->gens[i].from < e)
            e = p->gens[i].from;
    return e;
}

static void emit_ack_upto(struct fl_pipe *p, uint64_t upto)
{
    struct frame_buf fb = {0};
    struct ft_ack a = {.upto = upto};
    if (p->cfg->enhanced_metrics && !p->idle) {
        uint64_t e = enh_limit(p);
        if (e < upto)
            e = upto;
        if (e < p->enh_told)
            e = p->enh_told;
        a.enh_upto = p->enh_told = e;
        a.has_enh_upto = true;
    }
    frame_encode_ack(&fb, &a);
    p->o.emit(&fb, p->o.emit_arg);
}

/* A drain became final: tell the supervisor at once (the ack itself may
 * wait for other payloads of the flush), and wait until it is written, so
 * a crash from here on does not count these metrics again. */
static void emit_enh_ack(struct fl_pipe *p)
{
    if (!p->cfg->enhanced_metrics || p->idle || enh_limit(p) <= p->enh_told)
        return;
    emit_ack_upto(p, p->last_acked);
    if (p->o.settle)
        p->o.settle(p->o.emit_arg);
}

static void emit_ack(struct fl_pipe *p)
{
    uint64_t upto = fl_logs_ackable(p->logs);
    uint64_t m = metrics_limit(p);
    if (m < upto)
        upto = m;
    uint64_t t = fl_traces_ackable(p->traces);
    if (t < upto)
        upto = t;
    if (upto > p->max_seq)
        upto = p->max_seq;
    if (upto <= p->last_acked) {
        emit_enh_ack(p);
        return;
    }
    p->last_acked = upto;
    p->st.acked = upto;
    emit_ack_upto(p, upto);
}

static void emit_flushed(struct fl_pipe *p, uint64_t id, bool ok, unsigned sent, unsigned failed,
                         unsigned dropped, uint64_t ms, bool unreachable);

/* A waiting flush is over: FT_FLUSHED to the supervisor, or the local callback. */
static void answer_waiter(struct fl_pipe *p, const struct waiter *w, bool ok, unsigned sent, unsigned failed,
                          unsigned dropped, uint64_t ms, bool unreachable)
{
    if (w->local)
        w->local(ok, w->local_arg);
    else
        emit_flushed(p, w->flush_id, ok, sent, failed, dropped, ms, unreachable);
}

/* unreachable: the flush failed and no post got any HTTP answer (refused,
 * TLS or connect stalled, timed out): the supervisor's circuit breaker. */
static void emit_flushed(struct fl_pipe *p, uint64_t id, bool ok, unsigned sent, unsigned failed,
                         unsigned dropped, uint64_t ms, bool unreachable)
{
    struct frame_buf fb = {0};
    const struct ft_flushed m = {.flush_id = id, .ok = ok, .sent = sent, .failed = failed,
                                 .dropped = dropped, .ms = ms, .unreachable = unreachable,
                                 .has_unreachable = unreachable};
    frame_encode_flushed(&fb, &m);
    p->o.emit(&fb, p->o.emit_arg);
}

/* ---- payload outcomes ---------------------------------------------------- */

static struct mgen *find_gen(struct fl_pipe *p, uint64_t gen)
{
    for (unsigned i = 0; i < p->ngens; i++)
        if (p->gens[i].gen == gen)
            return &p->gens[i];
    return NULL;
}

static void prune_gens(struct fl_pipe *p)
{
    unsigned w = 0;
    for (unsigned i = 0; i < p->ngens; i++)
        if (p->gens[i].outstanding)
            p->gens[w++] = p->gens[i];
    p->ngens = w;
}

static bool outcome_final(const struct fl_post_result *r)
{
    return !((r->outcome == FL_FAILED || r->outcome == FL_ABORTED) && r->kept);
}

static bool is_413(const struct fl_post_result *r)
{
    return r->outcome == FL_REJECTED && r->http_status == 413;
}

/* The halves of a metrics payload the intake answered 413: 0 (both set),
 * else the payload cannot be split (one entry, or unreadable): it is
 * dropped, counted by reason. */
static int split_413(struct fl_pipe *p, enum ckpt_kind k, const char *body, size_t len, char **a,
                     size_t *al, char **b, size_t *bl)
{
    size_t n = 0;
    int rc = msplit_halves(k == CKPT_SERIES ? MSPLIT_SERIES : MSPLIT_SKETCHES, body, len, a, al, b, bl, &n);
    if (rc == 0) {
        p->st.split_413++;
        p->n_split_413++;
        p->split_again = true;
        return 0;
    }
    refusal_note(k == CKPT_SERIES ? REF_INTAKE_413_SERIES : REF_INTAKE_413_SKETCH, n ? n : 1, NULL, 0);
    unsigned held = 0;
    if (log_limit_pass(&p->drop413_log, clock_us(), &held)) {
        /* what was lost, as far as a line can tell: a series body is text */
        if (k == CKPT_SERIES && len <= 1024)
            log_warn("metrics: one series refused with 413 is dropped: %.*s%s", (int)len, body,
                     held ? " (and earlier ones)" : "");
        else
            log_warn("metrics: a %s payload of %zu entr%s (%zu bytes) refused with 413 is dropped%s",
                     k == CKPT_SERIES ? "series" : "sketch", n, n == 1 ? "y" : "ies", len,
                     held ? " (and earlier ones)" : "");
    }
    p->st.dropped_413++;
    p->n_dropped_413++;
    return -1;
}

static struct mpay *mpay_new(struct fl_pipe *p, uint64_t gen, enum ckpt_kind k, char *body, size_t len)
{
    struct mpay *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->id = ++p->next_mpay;
    m->gen = gen;
    m->kind = k;
    m->body = body;
    m->len = len;
    return m;
}

static struct dpay *dpay_new(struct fl_pipe *p, enum ckpt_kind k, char *body, size_t len)
{
    struct dpay *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->id = ++p->next_dpay;
    d->kind = k;
    d->body = body;
    d->len = len;
    d->half = true;
    p->dpay_bytes += len;
    return d;
}

/* An enhanced-metrics payload's final outcome: its halves replace it after
 * a 413, else it is done with (its drain's outstanding count drops). */
static void on_mpay_post(struct fl_pipe *p, const struct fl_post_result *r)
{
    uint64_t id = r->tag & ~TAG_ENH;
    struct mpay **pp = &p->mpays;
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    if (*pp == NULL || !outcome_final(r))
        return;
    struct mpay *m = *pp;
    struct mgen *g = find_gen(p, m->gen);
    if (is_413(r)) {
        char *a, *b;
        size_t al, bl;
        if (split_413(p, m->kind, m->body, m->len, &a, &al, &b, &bl) == 0) {
            struct mpay *ma = mpay_new(p, m->gen, m->kind, a, al);
            struct mpay *mb = ma ? mpay_new(p, m->gen, m->kind, b, bl) : NULL;
            if (mb) {
                ma->next = mb;
                mb->next = m->next;
                *pp = ma;
                if (g)
                    g->outstanding++; /* two for one */
                free(m->body);
                free(m);
                return;
            }
            free(ma);
            free(a);
            free(b);
            log_warn("metrics: out of memory splitting a payload after 413: dropped");
        }
    }
    *pp = m->next;
    free(m->body);
    free(m);
    if (g && g->outstanding)
        g->outstanding--;
    emit_enh_ack(p);
}

static void on_post(const struct fl_post_result *r, void *arg)
{
    struct fl_pipe *p = arg;
    if (r->http_status != 0)
        p->n_answered++;
    if (r->outcome != FL_OK && p->fail_example[0] == '\0') {
        if (r->http_status)
            snprintf(p->fail_example, sizeof p->fail_example, "HTTP %ld%s%.160s", r->http_status,
                     r->error[0] ? ": " : "", r->error);
        else
            snprintf(p->fail_example, sizeof p->fail_example, "%.180s",
                     r->error[0] ? r->error : fl_outcome_name(r->outcome));
    }
    switch (r->outcome) {
    case FL_OK: p->st.posts_ok++; break;
    case FL_FAILED:
    case FL_ABORTED: p->st.posts_failed++; break;
    default: p->st.posts_dropped++; break;
    }
    if (r->tag & TAG_TRACES) {
        bool failed = r->outcome == FL_FAILED || r->outcome == FL_ABORTED;
        if (failed && r->kept)
            return; /* the intake resends these bytes: the frames stay in flight */
        if (is_413(r)) {
            if (fl_traces_split(p->traces, r->tag & ~TAG_TRACES)) {
                /* back to pending, to go out in payloads of half as many frames */
                p->st.split_413++;
                p->n_split_413++;
                p->split_again = p->traces_split = true;
                return;
            }
            refusal_note(REF_INTAKE_413_TRACE, 1, NULL, 0);
            p->st.dropped_413++;
            p->n_dropped_413++;
        }
        /* failed and not kept: back to pending for the next flush */
        fl_traces_done(p->traces, r->tag & ~TAG_TRACES, !failed, r->outcome == FL_OK);
        return;
    }
    if (r->tag & TAG_LOGS) {
        uint64_t id = r->tag & ~TAG_LOGS;
        struct lpay **pp = &p->lpays;
        while (*pp && (*pp)->p.id != id)
            pp = &(*pp)->next;
        if (*pp == NULL)
            return;
        enum fl_logs_outcome o;
        switch (r->outcome) {
        case FL_OK: o = FL_LOGS_SENT; break;
        case FL_FAILED:
        case FL_ABORTED:
            if (r->kept)
                return; /* the intake resends these bytes: records stay in flight */
            o = FL_LOGS_REQUEUE;
            break;
        case FL_REJECTED:
            if (r->http_status == 413) {
                /* too large for the intake: halves, in this flush if time allows */
                o = FL_LOGS_SPLIT;
                p->split_again = true;
                break;
            }
            o = FL_LOGS_GIVEN_UP;
            break;
        case FL_FORBIDDEN:
            if (!p->logs_forbidden)
                log_warn("logs: the intake refused the API key (403): logs are dropped from now on");
            p->logs_forbidden = true;
            o = FL_LOGS_GIVEN_UP;
            break;
        default: o = FL_LOGS_GIVEN_UP; break;
        }
        struct lpay *lp = *pp;
        *pp = lp->next;
        fl_logs_payload_done(p->logs, &lp->p, o);
        free(lp);
        return;
    }
    if (r->tag & TAG_DSD) {
        uint64_t id = r->tag & ~TAG_DSD;
        struct dpay **pp = &p->dpays;
        while (*pp && (*pp)->id != id)
            pp = &(*pp)->next;
        if (*pp == NULL || !outcome_final(r))
            return;
        struct dpay *d = *pp;
        if (r->outcome == FL_FAILED || r->outcome == FL_ABORTED) {
            d->submitted = false; /* not kept by the intake: ours to send again */
            return;
        }
        if (is_413(r)) {
            char *a, *b;
            size_t al, bl;
            if (split_413(p, d->kind, d->body, d->len, &a, &al, &b, &bl) == 0) {
                struct dpay *da = dpay_new(p, d->kind, a, al);
                struct dpay *db = da ? dpay_new(p, d->kind, b, bl) : NULL;
                if (db) {
                    /* the halves take its place, in the checkpoint too */
                    da->next = db;
                    db->next = d->next;
                    *pp = da;
                    dpay_free(p, d);
                    ckpt_emit(p);
                    return;
                }
                if (da)
                    dpay_free(p, da);
                else
                    free(a);
                free(b);
                log_warn("DogStatsD: out of memory splitting a payload after 413: dropped");
            }
        }
        *pp = d->next;
        dpay_free(p, d);
        ckpt_emit(p); /* at once: the supervisor's copy must not hold it any more */
        return;
    }
    if (r->tag & TAG_ENH) {
        on_mpay_post(p, r);
        return;
    }
    if (!outcome_final(r))
        return;
    struct mgen *g = find_gen(p, r->tag >> GEN_SHIFT);
    if (g && g->outstanding)
        g->outstanding--;
}

static void start_flush(struct fl_pipe *p);

/* Failed flushes in a row are one condition: a WARN line when it starts,
 * then rarely (log_limit), each saying what was held back; one INFO line
 * when delivery works again. (A failing intake used to print a line per
 * post per flush: billed in CloudWatch, and shipped back to us as logs.) */
static void log_flush_outcome(struct fl_pipe *p, const struct fl_flush_summary *s, bool ok,
                              bool unreachable, unsigned failed)
{
    if (ok) {
        if (s->posted && p->failed_flushes) {
            log_info("intake: delivering again after %llu failed flush%s",
                     (unsigned long long)p->failed_flushes, p->failed_flushes == 1 ? "" : "es");
            p->failed_flushes = 0;
            log_limit_reset(&p->fail_log);
        }
        return;
    }
    p->failed_flushes++;
    unsigned held = 0;
    if (!log_limit_pass(&p->fail_log, clock_us(), &held))
        return;
    char more[96] = "";
    if (held)
        snprintf(more, sizeof more, "; %u more failed flushes since the last such line", held);
    log_warn("intake %s: %u of %u payloads sent, %u failed (kept for a retry when they fit), "
             "%u dropped%s (%s)%s",
             unreachable ? "unreachable" : "failing", s->ok, s->posted, failed, s->dropped,
             s->deadline_hit ? ", flush deadline hit" : "", p->fail_example[0] ? p->fail_example : "-",
             more);
}

static int submit_round(struct fl_pipe *p);

static void on_flush_done(const struct fl_flush_summary *s0, void *arg)
{
    struct fl_pipe *p = arg;
    struct fl_flush_summary *s = &p->acc;
    s->posted += s0->posted;
    s->ok += s0->ok;
    s->rejected += s0->rejected;
    s->forbidden += s0->forbidden;
    s->failed += s0->failed;
    s->aborted += s0->aborted;
    s->dropped += s0->dropped;
    s->deadline_hit |= s0->deadline_hit;
    if (p->final_running)
        fl_logs_release_held(p->logs); /* records that came during the final flush */
    struct fl_logs_stats now_st;
    fl_logs_get_stats(p->logs, &now_st);
    if (p->split_again || (p->final_running && now_st.ready > 0 && !p->logs_forbidden)) {
        /* the halves of a 413, or (final flush) what arrived since it
         * started: another round while the deadline allows */
        p->split_again = false;
        if (clock_us() + 1000u < p->deadline_us && submit_round(p) == 0)
            return; /* this ends when they do */
    }
    prune_gens(p);
    /* a 413 that was split is not a failure: its halves are counted */
    struct fl_logs_stats ls;
    fl_logs_get_stats(p->logs, &ls);
    unsigned split = (unsigned)(ls.splits - p->ls0.splits + ls.split_truncated - p->ls0.split_truncated) +
                     p->n_split_413;
    /* metric payloads of one entry and trace frames refused alone: dropped, not failed */
    unsigned rejected = s->rejected > split ? s->rejected - split : 0;
    unsigned drop413 = rejected > p->n_dropped_413 ? p->n_dropped_413 : rejected;
    rejected -= drop413;
    unsigned failed = s->failed + s->aborted + rejected + s->forbidden;
    unsigned sdropped = s->dropped + drop413;
    bool ok = s->ok + split + drop413 == s->posted;
    bool unreachable = !ok && p->n_answered == 0 && (s->failed + s->aborted) > 0;
    uint64_t ms = (clock_us() - p->t0_us) / 1000;
    emit_ack(p);
    for (unsigned i = 0; i < p->nrunning; i++)
        answer_waiter(p, &p->running[i], ok, s->ok, failed, sdropped, ms, unreachable);
    if (ok && split == 0) {
        log_debug("flush %llu: %u series, %u sketch, %u log, %u trace payload(s) (+%u resent), ok in "
                  "%llu ms, acked to %llu",
                  (unsigned long long)p->running[0].flush_id, p->n_series_posts, p->n_sketch_posts,
                  p->n_log_posts, p->n_trace_posts,
                  s->posted - p->n_series_posts - p->n_sketch_posts - p->n_log_posts - p->n_trace_posts,
                  (unsigned long long)ms, (unsigned long long)p->last_acked);
    } else if (ok || split || drop413) {
        /* what was sent, kept and dropped, exactly: payloads, then records */
        log_info("flush %llu: %u of %u payloads sent, %u failed, %u dropped (%u refused alone with 413), "
                 "%u split after 413, "
                 "in %llu ms%s; log records: %llu sent, %llu dropped, %zu kept for a retry",
                 (unsigned long long)p->running[0].flush_id, s->ok, s->posted, failed, sdropped, drop413,
                 split,
                 (unsigned long long)ms, s->deadline_hit ? " (deadline hit)" : "",
                 (unsigned long long)(ls.sent - p->ls0.sent),
                 (unsigned long long)(ls.dropped - p->ls0.dropped), ls.ready + ls.in_flight);
    } else {
        log_debug("flush %llu: %u of %u payloads sent, %u failed (kept for a retry when possible), "
                  "%u dropped, in %llu ms%s: %s; log records: %llu sent, %llu dropped, %zu kept for a retry",
                  (unsigned long long)p->running[0].flush_id, s->ok, s->posted, failed, sdropped,
                  (unsigned long long)ms, s->deadline_hit ? " (deadline hit)" : "", p->fail_example,
                  (unsigned long long)(ls.sent - p->ls0.sent),
                  (unsigned long long)(ls.dropped - p->ls0.dropped), ls.ready + ls.in_flight);
    }
    log_flush_outcome(p, s, ok, unreachable, failed);
    p->flushing = false;
    p->nrunning = 0;
    if (p->nwaiting)
        start_flush(p);
}

/* ---- flush --------------------------------------------------------------- */

struct posts {
    struct fl_post *v;
    char **bodies; /* owned encoded bodies (series/sketches), freed after submit */
    size_t n, cap;
};

static int posts_add(struct posts *ps, const struct fl_post *post, char *owned)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 8;
        struct fl_post *v = realloc(ps->v, cap * sizeof *v);
        if (!v)
            return -1;
        ps->v = v;
        char **b = realloc(ps->bodies, cap * sizeof *b);
        if (!b)
            return -1;
        ps->bodies = b;
        ps->cap = cap;
    }
    ps->v[ps->n] = *post;
    ps->bodies[ps->n] = owned;
    ps->n++;
    return 0;
}

static void posts_free(struct posts *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free(ps->bodies[i]);
    free(ps->v);
    free(ps->bodies);
}

static const char *const LOG_HEADERS[] = {"DD-PROTOCOL: agent-json", NULL};

/* Custom metrics over their context limit: one WARN line, then rarely,
 * with the count so far (the counters are in the exit line too). */
static void log_context_drops(struct fl_pipe *p)
{
    struct met_stats ms = met_get_stats(p->agg);
    unsigned held = 0;
    if (ms.dropped_contexts == p->ctx_dropped_told || !log_limit_pass(&p->ctx_log, clock_us(), &held))
        return;
    p->ctx_dropped_told = ms.dropped_contexts;
    log_warn("custom metrics: %llu samples dropped so far: more than %u contexts (name + tags) at "
             "once (FORKCAP_METRIC_CONTEXTS); enhanced metrics are not affected",
             (unsigned long long)ms.dropped_contexts, p->cfg->metric_contexts);
}

/* A payload of drain g, kept until its outcome is final (or freed on -1). */
static int mpay_keep(struct fl_pipe *p, struct mgen *g, enum ckpt_kind k, char *body, size_t len)
{
    struct mpay *m = mpay_new(p, g->gen, k, body, len);
    if (m == NULL) {
        free(body);
        return -1;
    }
    struct mpay **pp = &p->mpays;
    while (*pp)
        pp = &(*pp)->next;
    *pp = m;
    g->outstanding++;
    return 0;
}

static void count_post(struct fl_pipe *p, enum ckpt_kind k)
{
    if (k == CKPT_SERIES)
        p->n_series_posts++;
    else
        p->n_sketch_posts++;
}

/* The post of a series or sketch payload (enhanced or DogStatsD). */
static struct fl_post metrics_post(const struct fl_pipe *p, enum ckpt_kind k, const char *body, size_t len,
                                   uint64_t tag)
{
    bool series = k == CKPT_SERIES;
    return (struct fl_post){.url = series ? p->ep.series : p->ep.sketches,
                            .content_type = series ? "application/json" : "application/x-protobuf",
                            .body = body, .len = len, .compress = true, .tag = tag};
}

/* Every enhanced-metrics payload not in flight (new ones, halves of a 413,
 * ones a submit could not take), as posts. */
static void post_mpays(struct fl_pipe *p, struct posts *ps)
{
    for (struct mpay *m = p->mpays; m; m = m->next) {
        if (m->submitted)
            continue;
        struct fl_post post = metrics_post(p, m->kind, m->body, m->len, TAG_ENH | m->id);
        if (posts_add(ps, &post, NULL) != 0)
            break;
        m->submitted = true;
        count_post(p, m->kind);
    }
}

/* The DogStatsD payloads not in flight: every one (halves_only false), or
 * only the halves of a 413 (another round of the running flush). */
static void post_dpays(struct fl_pipe *p, struct posts *ps, bool halves_only)
{
    for (struct dpay *d = p->dpays; d; d = d->next) {
        if (d->submitted || (halves_only && !d->half))
            continue;
        struct fl_post post = metrics_post(p, d->kind, d->body, d->len, TAG_DSD | d->id);
        if (posts_add(ps, &post, NULL) != 0)
            break;
        d->submitted = true;
        d->half = false;
        count_post(p, d->kind);
    }
}

/* Drain the enhanced metrics into payloads of a new generation (the
 * custom ones go out apart, checkpointed: add_dsd_posts). */
static void add_metric_posts(struct fl_pipe *p, struct posts *ps, unsigned *dropped)
{
    struct met_batch b;
    if (met_drain(p->enh_agg, (int64_t)time(NULL), true, &b) != 0) {
        log_warn("metrics: drain failed (out of memory): kept for the next flush");
        return;
    }
    if (p->ngens == FL_PIPE_GENS) { /* forget the oldest: its payloads' fate is no longer tracked */
        memmove(&p->gens[0], &p->gens[1], (FL_PIPE_GENS - 1) * sizeof p->gens[0]);
        p->ngens--;
        p->st.gens_forgotten++;
    }
    struct mgen *g = &p->gens[p->ngens++];
    g->gen = ++p->next_gen;
    g->first_seq = p->undrained_first;
    g->from = p->drained_upto;
    g->outstanding = 0;
    p->undrained_first = 0;
    p->drained_upto = p->max_seq;
    for (size_t off = 0; off < b.nseries;) {
        size_t used = 0, len = 0;
        char *out = NULL;
        int rc = sj_encode(b.series + off, b.nseries - off, 0, 0, &used, &out, &len);
        if (rc == -2) {
            p->st.series_skipped++;
            (*dropped)++;
            off += used ? used : 1;
            continue;
        }
        if (rc != 0 || used == 0) {
            p->st.series_skipped += b.nseries - off;
            (*dropped)++;
            break;
        }
        off += used;
        if (mpay_keep(p, g, CKPT_SERIES, out, len) != 0) {
            (*dropped)++;
            break;
        }
    }
    for (size_t off = 0; off < b.nsketches;) {
        size_t used = 0, len = 0;
        uint8_t *out = NULL;
        int rc = spb_encode(b.sketches + off, b.nsketches - off, NULL, 0, &used, &out, &len);
        if (rc == -2) {
            p->st.sketches_skipped++;
            (*dropped)++;
            off += used ? used : 1;
            continue;
        }
        if (rc != 0 || used == 0) {
            p->st.sketches_skipped += b.nsketches - off;
            (*dropped)++;
            break;
        }
        off += used;
        if (mpay_keep(p, g, CKPT_SKETCHES, (char *)out, len) != 0) {
            (*dropped)++;
            break;
        }
    }
    met_batch_free(&b);
    post_mpays(p, ps);
}

/* Drain the DogStatsD aggregator into payloads, checkpoint (before any of
 * them can reach the intake), and post every payload not in flight. */
static void add_dsd_posts(struct fl_pipe *p, struct posts *ps, unsigned *dropped)
{
    struct met_batch b;
    int rc = met_drain(p->agg, (int64_t)time(NULL), true, &b);
    log_context_drops(p);
    if (rc != 0) {
        log_warn("DogStatsD: drain failed (out of memory): kept for the next flush");
    } else {
        size_t lost = encode_batch(p, &b, dpay_add, NULL);
        if (lost) {
            p->st.series_skipped += lost;
            (*dropped)++;
        }
        met_batch_free(&b);
    }
    ckpt_emit(p);
    post_dpays(p, ps, false);
}

static void add_log_posts(struct fl_pipe *p, struct posts *ps, unsigned max)
{
    for (unsigned i = 0; i < max; i++) {
        struct lpay *lp = calloc(1, sizeof *lp);
        if (!lp)
            return;
        int rc = fl_logs_take_payload(p->logs, &lp->p);
        if (rc != 1) {
            free(lp);
            return;
        }
        if (p->logs_forbidden) {
            fl_logs_payload_done(p->logs, &lp->p, FL_LOGS_GIVEN_UP);
            free(lp);
            continue;
        }
        struct fl_post post = {.url = p->ep.logs, .content_type = "application/json",
                               .body = lp->p.body, .len = lp->p.len, .compress = true,
                               .headers = LOG_HEADERS, .tag = TAG_LOGS | lp->p.id};
        if (posts_add(ps, &post, NULL) != 0) {
            fl_logs_payload_done(p->logs, &lp->p, FL_LOGS_REQUEUE);
            free(lp);
            return;
        }
        lp->next = p->lpays;
        p->lpays = lp;
        p->n_log_posts++;
    }
}

/* Every pending trace and stats frame, as posts; the returned array (body
 * and header storage) must outlive the submit. */
static void add_trace_posts(struct fl_pipe *p, struct posts *ps, struct fl_traces_post **tp, size_t *ntp)
{
    *tp = NULL;
    *ntp = 0;
    if (!fl_traces_pending(p->traces))
        return;
    if (fl_traces_take(p->traces, p->ep.traces, p->ep.stats, p->cfg->env, tp, ntp) != 0) {
        log_warn("traces: payloads not built (out of memory): kept for the next flush");
        return;
    }
    for (size_t i = 0; i < *ntp; i++) {
        struct fl_post post = (*tp)[i].post;
        post.tag |= TAG_TRACES;
        if (posts_add(ps, &post, NULL) != 0) {
            /* the rest go next time */
            for (size_t k = i; k < *ntp; k++)
                fl_traces_done(p->traces, (*tp)[k].post.tag, false, false);
            break;
        }
        p->n_trace_posts++;
    }
}

/* Give back every log payload taken for a flush that could not be submitted. */
static void requeue_logs(struct fl_pipe *p)
{
    while (p->lpays) {
        struct lpay *lp = p->lpays;
        p->lpays = lp->next;
        fl_logs_payload_done(p->logs, &lp->p, FL_LOGS_REQUEUE);
        free(lp);
    }
}

/* A submit that failed: the payloads of drain gen are dropped (counted by
 * the caller), the others go out with the next flush. */
static void mpays_drop_gen(struct fl_pipe *p, uint64_t gen)
{
    struct mpay **pp = &p->mpays;
    while (*pp) {
        struct mpay *m = *pp;
        if (m->gen == gen) {
            *pp = m->next;
            free(m->body);
            free(m);
            continue;
        }
        m->submitted = false;
        pp = &m->next;
    }
}

/* Run one flush for every waiting FT_FLUSH. */
static void start_flush(struct fl_pipe *p)
{
    uint64_t now = clock_us();
    uint64_t deadline = UINT64_MAX;
    bool final = false;
    p->nrunning = 0;
    for (unsigned i = 0; i < p->nwaiting; i++) {
        struct waiter *w = &p->waiting[i];
        if (w->deadline_us <= now + 1000) { /* too late to start: answer it now */
            answer_waiter(p, w, false, 0, 0, 0, 0, false);
            continue;
        }
        if (w->deadline_us < deadline)
            deadline = w->deadline_us;
        final |= w->final;
        p->running[p->nrunning++] = *w;
    }
    if (p->nwaiting > 1)
        p->st.flushes_coalesced += p->nwaiting - 1;
    p->nwaiting = 0;
    if (p->nrunning == 0)
        return;
    p->st.flushes++;
    p->t0_us = now;
    p->deadline_us = deadline;
    p->final_running = final;
    memset(&p->acc, 0, sizeof p->acc);
    p->split_again = false;
    fl_logs_get_stats(p->logs, &p->ls0);
    p->n_series_posts = p->n_sketch_posts = p->n_log_posts = p->n_trace_posts = 0;
    p->n_answered = 0;
    p->n_split_413 = p->n_dropped_413 = 0;
    p->traces_split = false;
    p->fail_example[0] = '\0';
    if (!p->idle)
        need_runtime(p); /* logs take their ddtags now */

    if (p->idle) {
        /* nothing is sent: everything received is done with */
        if (p->max_seq > p->last_acked) {
            emit_ack_upto(p, p->max_seq);
            p->last_acked = p->st.acked = p->max_seq;
        }
        for (unsigned i = 0; i < p->nrunning; i++)
            answer_waiter(p, &p->running[i], true, 0, 0, 0, 0, false);
        p->nrunning = 0;
        return;
    }

    if (final) {
        if (p->cfg->enhanced_metrics && !p->shutdown_seen)
            enh_on_shutdown(p->enh, clock_epoch_ms());
        p->shutdown_seen = true;
        fl_logs_release_held(p->logs);
    }
    struct posts ps = {0};
    unsigned dropped = 0;
    add_metric_posts(p, &ps, &dropped);
    add_dsd_posts(p, &ps, &dropped);
    add_log_posts(p, &ps, final ? FL_PIPE_LOG_PAYLOADS_FINAL : FL_PIPE_LOG_PAYLOADS);
    struct fl_traces_post *tposts;
    size_t ntposts;
    add_trace_posts(p, &ps, &tposts, &ntposts);
    fl_pipe_flush_fn fn = p->o.flush ? p->o.flush : (fl_pipe_flush_fn)fl_intake_flush;
    p->flushing = true;
    int rc = fn(p->o.sender, ps.v, ps.n, deadline, FL_FLUSH_RESEND_KEPT, on_post, on_flush_done, p);
    posts_free(&ps);
    fl_traces_posts_free(tposts, ntposts);
    /* the sender holds its own (compressed) copy from here on; the records
     * stay in the batcher for a requeue */
    for (struct lpay *lp = p->lpays; lp; lp = lp->next) {
        free(lp->p.body);
        lp->p.body = NULL;
    }
    if (rc != 0) {
        log_warn("flush %llu could not be submitted (out of memory?): metrics of this drain dropped, "
                 "logs requeued",
                 (unsigned long long)p->running[0].flush_id);
        p->flushing = false;
        requeue_logs(p);
        for (struct dpay *d = p->dpays; d; d = d->next)
            d->submitted = false; /* still ours, still in the checkpoint */
        fl_traces_requeue(p->traces);
        if (p->ngens) {
            struct mgen *g = &p->gens[p->ngens - 1];
            g->outstanding = 0; /* dropped, counted below */
            mpays_drop_gen(p, g->gen);
        }
        prune_gens(p);
        p->st.posts_dropped += dropped + p->n_series_posts + p->n_sketch_posts;
        emit_ack(p);
        for (unsigned i = 0; i < p->nrunning; i++)
            answer_waiter(p, &p->running[i], false, 0, 0,
                         dropped + p->n_series_posts + p->n_sketch_posts,
                         (clock_us() - now) / 1000, false);
        p->nrunning = 0;
    }
}

/* Another round of the running flush, same deadline: the halves of the
 * payloads a 413 split (log payloads at the front of the batcher's queue,
 * metric halves, trace frames back to pending with a smaller group) and,
 * at the final flush, log records that came since. */
static int submit_round(struct fl_pipe *p)
{
    struct posts ps = {0};
    p->n_log_posts = 0;
    add_log_posts(p, &ps, p->final_running ? FL_PIPE_LOG_PAYLOADS_FINAL : FL_PIPE_LOG_PAYLOADS);
    post_mpays(p, &ps);
    post_dpays(p, &ps, true);
    struct fl_traces_post *tposts = NULL;
    size_t ntposts = 0;
    if (p->traces_split) {
        p->traces_split = false;
        add_trace_posts(p, &ps, &tposts, &ntposts);
    }
    if (ps.n == 0) {
        posts_free(&ps);
        return -1;
    }
    fl_pipe_flush_fn fn = p->o.flush ? p->o.flush : (fl_pipe_flush_fn)fl_intake_flush;
    int rc = fn(p->o.sender, ps.v, ps.n, p->deadline_us, 0, on_post, on_flush_done, p);
    posts_free(&ps);
    fl_traces_posts_free(tposts, ntposts);
    for (struct lpay *lp = p->lpays; lp; lp = lp->next) {
        free(lp->p.body);
        lp->p.body = NULL;
    }
    if (rc != 0) {
        requeue_logs(p);
        for (struct mpay *m = p->mpays; m; m = m->next)
            m->submitted = false; /* the next flush posts them */
        for (struct dpay *d = p->dpays; d; d = d->next)
            d->submitted = false;
        fl_traces_requeue(p->traces);
    }
    return rc;
}

static void add_waiter(struct fl_pipe *p, struct waiter w);

static void on_flush_frame(struct fl_pipe *p, const struct ft_flush *m)
{
    uint64_t id = m->flush_id, budget = m->budget_ms;
    bool final = m->has_final && m->final;
    if (budget > 15u * 60u * 1000u)
        budget = 15u * 60u * 1000u;
    add_waiter(p, (struct waiter){.flush_id = id, .deadline_us = clock_us() + budget * 1000, .final = final});
}

void fl_pipe_flush_local(struct fl_pipe *p, uint32_t budget_ms, fl_pipe_flushed_fn done, void *arg)
{
    add_waiter(p, (struct waiter){.deadline_us = clock_us() + (uint64_t)budget_ms * 1000, .local = done,
                                  .local_arg = arg});
}

static void add_waiter(struct fl_pipe *p, struct waiter w)
{
    if (p->nwaiting == FL_PIPE_WAITERS) {
        /* the supervisor asked faster than we can flush: answer the oldest waiter now */
        answer_waiter(p, &p->waiting[0], false, 0, 0, 0, 0, false);
        w.final |= p->waiting[0].final;
        memmove(&p->waiting[0], &p->waiting[1], (FL_PIPE_WAITERS - 1) * sizeof w);
        p->nwaiting--;
    }
    w.t_added_us = clock_us();
    p->waiting[p->nwaiting++] = w;
    if (!p->flushing && !p->key_pending)
        start_flush(p);
}

/* Idle mode ships nothing: acknowledge data frames in batches of 64. */
static void emit_idle_ack(struct fl_pipe *p)
{
    if (++p->unacked_idle < 64)
        return;
    p->unacked_idle = 0;
    emit_ack_upto(p, p->max_seq);
    p->last_acked = p->st.acked = p->max_seq;
}

void fl_pipe_frame(struct fl_pipe *p, const struct frame *f)
{
    switch (f->type) {
    case FT_PLATFORM:
    case FT_LOGS:
    case FT_INVOCATION:
        if (f->seq > p->max_seq)
            p->max_seq = f->seq;
        if (f->type == FT_PLATFORM)
            on_platform(p, &f->u.platform, f->seq);
        else if (f->type == FT_LOGS)
            on_logs(p, &f->u.logs, f->seq);
        else
            on_invocation(p, &f->u.invocation, f->seq);
        if (p->idle)
            emit_idle_ack(p);
        break;
    case FT_TRACES:
    case FT_TRACE_STATS:
        if (f->seq > p->max_seq)
            p->max_seq = f->seq;
        fl_logs_note_seq(p->logs, f->seq); /* no log record: the logs watermark may pass it */
        if (p->idle) {
            emit_idle_ack(p);
            break;
        }
        if (fl_traces_add(p->traces, f) != 0) {
            /* not held, so acked with the next watermark: counted as dropped */
            p->st.traces_dropped++;
            log_warn("traces: a %s frame could not be kept (out of memory): dropped",
                     frame_type_name(f->type));
        }
        break;
    case FT_CONTEXT:
        on_context(p, &f->u.context);
        break;
    case FT_FLUSH:
        on_flush_frame(p, &f->u.flush);
        break;
    case FT_DSD_STATE:
        on_dsd_state(p, &f->u.dsd_state);
        break;
    default:
        break;
    }
}

/* ---- life ---------------------------------------------------------------- */

static void machine_arch(char *out, size_t cap)
{
    struct utsname u;
    const char *a = "x86_64";
    if (uname(&u) == 0 && (!strcmp(u.machine, "aarch64") || !strcmp(u.machine, "arm64")))
        a = "arm64";
    snprintf(out, cap, "%s", a);
}

struct fl_pipe *fl_pipe_new(const struct fl_pipe_opts *o)
{
    if (!o || !o->cfg || !o->emit)
        return NULL;
    struct fl_pipe *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->o = *o;
    p->cfg = o->cfg;
    p->idle = o->sender == NULL;
    p->key_pending = o->key_pending && !p->idle;
    p->dsd.on_refused = dsd_refused;
    const struct cfg *c = o->cfg;
    snprintf(p->fn_name, sizeof p->fn_name, "%s", c->fn_name);
    if (o->architecture)
        snprintf(p->arch, sizeof p->arch, "%s", o->architecture);
    else
        machine_arch(p->arch, sizeof p->arch);

    p->agg = met_new(c->metric_contexts);
    p->enh_agg = met_new(FL_PIPE_ENH_CONTEXTS);
    p->enh = p->enh_agg ? enh_new(p->enh_agg) : NULL;
    p->logs = fl_logs_new(NULL, NULL);
    p->traces = fl_traces_new();
    if (!p->agg || !p->enh_agg || !p->enh || !p->logs || !p->traces) {
        fl_pipe_free(p);
        return NULL;
    }
    if (!p->idle) {
        struct fl_endpoint_src src = {.site = c->site, .dd_url = c->metrics_url,
                                      .logs_dd_url = c->logs_url, .apm_dd_url = c->apm_url};
        char err[256];
        if (fl_endpoints_build(&src, &p->ep, err, sizeof err) != 0) {
            log_error("intake endpoints: %s: sending nothing", err);
            p->idle = true;
        }
    }
    if (p->idle)
        p->key_pending = false;
    apply_context(p);
    return p;
}

void fl_pipe_free(struct fl_pipe *p)
{
    if (!p)
        return;
    while (p->lpays) {
        struct lpay *lp = p->lpays;
        p->lpays = lp->next;
        fl_logs_payload_done(p->logs, &lp->p, FL_LOGS_REQUEUE);
        free(lp);
    }
    fl_logs_free(p->logs);
    fl_traces_free(p->traces);
    enh_free(p->enh);
    met_free(p->enh_agg);
    met_free(p->agg);
    while (p->mpays) {
        struct mpay *m = p->mpays;
        p->mpays = m->next;
        free(m->body);
        free(m);
    }
    while (p->dpays) {
        struct dpay *d = p->dpays;
        p->dpays = d->next;
        dpay_free(p, d);
    }
    free(p);
}

unsigned fl_pipe_key_wait_over(struct fl_pipe *p, uint64_t max_wait_us, uint64_t margin_us)
{
    if (!p->key_pending)
        return 0;
    uint64_t now = clock_us();
    unsigned kept = 0, answered = 0;
    for (unsigned i = 0; i < p->nwaiting; i++) {
        const struct waiter *w = &p->waiting[i];
        bool over = now - w->t_added_us >= max_wait_us || w->deadline_us <= now + margin_us;
        if (w->final || !over)
            p->waiting[kept++] = p->waiting[i];
        else {
            answer_waiter(p, &p->waiting[i], false, 0, 0, 0, 0, false);
            answered++;
        }
    }
    p->nwaiting = kept;
    return answered;
}

void fl_pipe_key_ready(struct fl_pipe *p, bool ok)
{
    if (!p->key_pending)
        return;
    p->key_pending = false;
    if (!ok)
        p->idle = true;
    if (!p->flushing && p->nwaiting)
        start_flush(p);
}

const char *fl_pipe_function_tags(const struct fl_pipe *p)
{
    return p->tags.joined;
}

void fl_pipe_get_stats(const struct fl_pipe *p, struct fl_pipe_stats *out)
{
    struct fl_logs_stats ls;
    fl_logs_get_stats(p->logs, &ls);
    *out = p->st;
    out->dsd_metrics = p->dsd.metrics;
    out->dsd_invalid = p->dsd.invalid;
    out->logs_dropped += ls.dropped; /* ours (after a 403) + the batcher's */
    out->custom = met_get_stats(p->agg);
    out->enhanced = met_get_stats(p->enh_agg);
    out->dsd = p->dsd;
    struct fl_traces_stats ts;
    fl_traces_get_stats(p->traces, &ts);
    out->trace_frames = ts.frames;
    out->trace_spans = ts.spans;
    out->trace_stats_frames = ts.stats_frames;
    out->trace_delivered = ts.delivered;
    out->trace_given_up = ts.given_up;
    out->trace_held_bytes = ts.held_bytes;
    out->flushing = p->flushing;
}

void fl_pipe_invocation(const struct fl_pipe *p, struct fl_pipe_invocation *out)
{
    out->request_id = p->request_id;
    out->cold_start = p->cold_start;
    out->fn_name = p->fn_name;
    out->arn = p->arn;
}
