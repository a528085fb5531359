/* enhanced.c — enhanced metrics with the names, units and rules of Datadog's
 * Lambda extension (bottlecap/src/metrics/enhanced), checked in its source:
 *  - every metric is a distribution; counters (invocations, errors, timeouts,
 *    out_of_memory, shutdowns, unused_init) insert the value 1;
 *  - duration, billed_duration and init_duration are in SECONDS (ms * 0.001);
 *    runtime_duration and post_runtime_duration stay in MILLISECONDS;
 *    max_memory_used and memorysize in MB; produced_bytes in bytes;
 *  - estimated_cost = $0.20/M requests + billed_ms/1000 * memory_mb/1024 GB-s
 *    at the architecture's GB-second price, rounded to 1e-12;
 *  - a runtimeDone whose status is not "success" is an error, and a
 *    "timeout" also a timeout; status "error" with errorType
 *    Runtime.OutOfMemory is an OOM; for provided.al* runtimes only (where
 *    no error type tells), a report with max memory used == memory size is
 *    one too (here counted at most once per request);
 *  - post_runtime_duration = report duration - runtimeDone duration, when
 *    a non-zero runtime duration was seen for that request;
 *  - cold_start is true for the first invocation of the sandbox, unless the
 *    sandbox was initialised proactively (first invoke more than 10 s after
 *    sandbox init), which is tagged proactive_initialization:true instead;
 *  - unused_init on SHUTDOWN when no invocation was ever received.
 * cold_start is remembered per request id so that a report arriving after
 * the next INVOKE still carries its own invocation's value. The same record
 * (runtimeDone or report of one request id) counts once: a duplicate, e.g.
 * a batch Lambda delivered twice, is ignored while its request id is among
 * the last ENH_PENDING remembered. */
#include "enhanced.h"

#include "tags.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ENH_ID_MAX 64

struct pending {
    char id[ENH_ID_MAX];
    bool used, cold, proactive, seen_rt, has_rt, oom;
    bool done_rt, done_report; /* already counted: a repeat is a duplicate */
    double rt_ms;
};

struct enh_state {
    struct met_agg *agg;
    char *tags[ENH_TAGS_MAX];
    size_t ntags;
    char *arch, *runtime;
    bool invoked, init_reported, have_init_start;
    bool muted; /* a replay whose metrics were delivered: state only */
    int64_t init_start_ms;
    struct pending pend[ENH_PENDING];
    size_t next;
    uint64_t duplicates;
};

void enh_set_muted(struct enh_state *st, bool muted)
{
    if (st)
        st->muted = muted;
}

uint64_t enh_duplicates(const struct enh_state *st)
{
    return st ? st->duplicates : 0;
}

struct enh_state *enh_new(struct met_agg *agg)
{
    struct enh_state *st = calloc(1, sizeof(*st));
    if (st)
        st->agg = agg;
    return st;
}

static void clear_tags(struct enh_state *st)
{
    for (size_t i = 0; i < st->ntags; i++)
        free(st->tags[i]);
    st->ntags = 0;
    free(st->arch);
    free(st->runtime);
    st->arch = st->runtime = NULL;
}

void enh_free(struct enh_state *st)
{
    if (!st)
        return;
    clear_tags(st);
    free(st);
}

static int add_tag(struct enh_state *st, const char *key, const char *val, size_t vlen)
{
    if (!val || vlen == 0)
        return 0;
    size_t kl = key ? strlen(key) + 1 : 0, tl = kl + vlen;
    if (st->ntags == ENH_TAGS_MAX || tl > MET_TAG_MAX)
        return -1;
    char *t = malloc(tl + 1);
    if (!t)
        return -1;
    if (key) {
        memcpy(t, key, kl - 1);
        t[kl - 1] = ':';
    }
    memcpy(t + kl, val, vlen);
    t[tl] = '\0';
    if (!met_text_ok(t, tl)) {
        free(t);
        return -1;
    }
    st->tags[st->ntags++] = t;
    return 0;
}

static int add_kv(struct enh_state *st, const char *key, const char *val)
{
    return val ? add_tag(st, key, val, strlen(val)) : 0;
}

int enh_set_context(struct enh_state *st, const struct enh_tag_context *c)
{
    clear_tags(st);
    int rc = 0;
    char mem[32];
    rc |= add_kv(st, "functionname", c->function_name);
    rc |= add_kv(st, "region", c->region);
    rc |= add_kv(st, "account_id", c->account_id);
    rc |= add_kv(st, "resource", c->resource);
    rc |= add_kv(st, "executedversion", c->executed_version);
    if (c->memory_mb > 0) {
        snprintf(mem, sizeof(mem), "%lld", (long long)c->memory_mb);
        rc |= add_kv(st, "memorysize", mem);
    }
    rc |= add_kv(st, "runtime", c->runtime);
    rc |= add_kv(st, "architecture", c->architecture);
    rc |= add_kv(st, "env", c->env);
    rc |= add_kv(st, "service", c->service);
    rc |= add_kv(st, "version", c->version);
    struct tag_item it;
    for (const char *p = c->dd_tags ? c->dd_tags : ""; tags_next(&p, &it);)
        rc |= add_tag(st, NULL, it.key, it.key_len + 1 + it.value_len);
    if (c->architecture && !(st->arch = strdup(c->architecture)))
        rc = -1;
    if (c->runtime && !(st->runtime = strdup(c->runtime)))
        rc = -1;
    return rc ? -1 : 0;
}

double enh_estimated_cost(int64_t billed_ms, int64_t memory_mb, const char *arch)
{
    double price;
    if (!arch)
        return -1;
    if (!strcmp(arch, "x86_64") || !strcmp(arch, "amd64"))
        price = ENH_PRICE_GBS_X86;
    else if (!strcmp(arch, "arm64") || !strcmp(arch, "aarch64"))
        price = ENH_PRICE_GBS_ARM;
    else
        return -1;
    double gbs = ((double)billed_ms * 0.001) * ((double)memory_mb / 1024.0);
    return round((ENH_PRICE_REQUEST + gbs * price) * 1e12) / 1e12;
}

static bool is(const char *a, const char *b)
{
    return a && !strcasecmp(a, b);
}

static struct pending *pending_get(struct enh_state *st, const char *id, bool create)
{
    if (!id || !*id || strlen(id) >= ENH_ID_MAX)
        return NULL;
    for (size_t i = 0; i < ENH_PENDING; i++)
        if (st->pend[i].used && !strcmp(st->pend[i].id, id))
            return &st->pend[i];
    if (!create)
        return NULL;
    struct pending *p = &st->pend[st->next];
    st->next = (st->next + 1) % ENH_PENDING;
    memset(p, 0, sizeof(*p));
    p->used = true;
    strcpy(p->id, id);
    return p;
}

/* One distribution sample with the identity tags and the invocation's
 * cold_start. Returns 1 when the aggregator refused it. */
static int emit(struct enh_state *st, const char *metric, double v, int64_t time_ms, bool cold,
                bool proactive)
{
    if (st->muted)
        return 0;
    char name[96];
    int nl = snprintf(name, sizeof(name), ENH_PREFIX "%s", metric);
    struct met_str tags[ENH_TAGS_MAX + 2];
    size_t n = 0;
    for (size_t i = 0; i < st->ntags; i++)
        tags[n++] = (struct met_str){ st->tags[i], strlen(st->tags[i]) };
    tags[n++] = cold ? (struct met_str){ "cold_start:true", 15 }
                     : (struct met_str){ "cold_start:false", 16 };
    if (proactive)
        tags[n++] = (struct met_str){ "proactive_initialization:true", 29 };
    int64_t ts = time_ms >= 0 ? time_ms / 1000 : 0;
    struct met_sample s = {
        .name = { name, (size_t)nl },
        .tags = tags,
        .ntags = n,
        .type = MET_DISTRIBUTION,
        .value = v,
        .rate = 1,
        .ts = ts,
    };
    return met_add(st->agg, &s) == 0 ? 0 : 1;
}

/* The cold_start of events that cannot be tied to an invocation: true
 * until the first invocation, as the init phase belongs to the cold start. */
static bool sandbox_cold(const struct enh_state *st)
{
    return !st->invoked;
}

void enh_set_sandbox_init(struct enh_state *st, int64_t time_ms)
{
    st->have_init_start = true;
    st->init_start_ms = time_ms;
}

int enh_on_invoke(struct enh_state *st, int64_t time_ms, const char *request_id)
{
    bool cold = false, proactive = false;
    if (!st->invoked) {
        /* times come from outside: compare without signed overflow */
        proactive = st->have_init_start && time_ms > st->init_start_ms &&
                    (uint64_t)time_ms - (uint64_t)st->init_start_ms > ENH_PROACTIVE_MS;
        cold = !proactive;
    }
    st->invoked = true;
    struct pending *p = pending_get(st, request_id, true);
    if (p) {
        p->cold = cold;
        p->proactive = proactive;
    }
    return emit(st, "invocations", 1, time_ms, cold, proactive);
}


static int on_runtime_done(struct enh_state *st, const struct ft_platform *ev)
{
    struct pending *p = pending_get(st, ev->request_id, true);
    if (p && p->done_rt) {
        st->duplicates++;
        return 0;
    }
    bool cold = p ? p->cold : false, pro = p ? p->proactive : false;
    int r = 0;
    if (p)
        p->seen_rt = p->done_rt = true;
    if (ev->status && !is(ev->status, "success")) {
        r += emit(st, "errors", 1, ev->time_ms, cold, pro);
        if (is(ev->status, "timeout"))
            r += emit(st, "timeouts", 1, ev->time_ms, cold, pro);
    }
    if (is(ev->status, "error") && ev->error_type &&
        !strcmp(ev->error_type, "Runtime.OutOfMemory")) {
        r += emit(st, "out_of_memory", 1, ev->time_ms, cold, pro);
        if (p)
            p->oom = true;
    }
    if (ev->has_duration_ms) {
        r += emit(st, "runtime_duration", ev->duration_ms, ev->time_ms, cold, pro);
        if (p) {
            p->has_rt = true;
            p->rt_ms = ev->duration_ms;
        }
    }
    if (ev->has_produced_bytes)
        r += emit(st, "produced_bytes", (double)ev->produced_bytes, ev->time_ms, cold, pro);
    return r;
}

static int on_report(struct enh_state *st, const struct ft_platform *ev)
{
    struct pending *p = pending_get(st, ev->request_id, true);
    if (p && p->done_report) {
        st->duplicates++;
        return 0;
    }
    if (p)
        p->done_report = true;
    bool cold = p ? p->cold : false, pro = p ? p->proactive : false;
    int64_t t = ev->time_ms;
    int r = 0;
    if (ev->has_duration_ms)
        r += emit(st, "duration", ev->duration_ms * 0.001, t, cold, pro);
    if (ev->has_billed_ms)
        r += emit(st, "billed_duration", (double)ev->billed_ms * 0.001, t, cold, pro);
    if (ev->has_max_memory_mb)
        r += emit(st, "max_memory_used", (double)ev->max_memory_mb, t, cold, pro);
    if (ev->has_memory_mb)
        r += emit(st, "memorysize", (double)ev->memory_mb, t, cold, pro);
    if (ev->has_billed_ms && ev->has_memory_mb) {
        double cost = enh_estimated_cost(ev->billed_ms, ev->memory_mb, st->arch);
        if (cost >= 0)
            r += emit(st, "estimated_cost", cost, t, cold, pro);
    }
    if (ev->has_duration_ms && p && p->has_rt && p->rt_ms != 0)
        r += emit(st, "post_runtime_duration", ev->duration_ms - p->rt_ms, t, cold, pro);
    if (ev->has_max_memory_mb && ev->has_memory_mb && ev->memory_mb > 0 &&
        ev->max_memory_mb == ev->memory_mb && st->runtime &&
        !strncmp(st->runtime, "provided.al", 11) && !(p && p->oom)) {
        r += emit(st, "out_of_memory", 1, t, cold, pro);
        if (p)
            p->oom = true;
    }
    /* a report without its runtimeDone still tells of a failed invocation */
    if (!(p && p->seen_rt) && ev->status && !is(ev->status, "success")) {
        r += emit(st, "errors", 1, t, cold, pro);
        if (is(ev->status, "timeout"))
            r += emit(st, "timeouts", 1, t, cold, pro);
    }
    if (ev->has_init_ms && !st->init_reported) {
        r += emit(st, "init_duration", ev->init_ms * 0.001, t, true, false);
        st->init_reported = true;
    }
    return r;
}

int enh_on_platform(struct enh_state *st, const struct ft_platform *ev)
{
    switch (ev->event) {
    case PE_INIT_START:
        if (!st->have_init_start)
            enh_set_sandbox_init(st, ev->time_ms);
        return 0;
    case PE_INIT_REPORT: {
        double ms;
        if (ev->has_init_ms)
            ms = ev->init_ms;
        else if (ev->has_duration_ms)
            ms = ev->duration_ms;
        else
            return 0;
        st->init_reported = true;
        return emit(st, "init_duration", ms * 0.001, ev->time_ms, sandbox_cold(st), false);
    }
    case PE_RUNTIME_DONE:
        return on_runtime_done(st, ev);
    case PE_REPORT:
        return on_report(st, ev);
    default:
        return 0;
    }
}

void enh_set_warm(struct enh_state *st)
{
    st->invoked = true;
}

int enh_on_shutdown(struct enh_state *st, int64_t time_ms)
{
    int r = emit(st, "shutdowns", 1, time_ms, false, false);
    if (!st->invoked)
        r += emit(st, "unused_init", 1, time_ms, false, false);
    return r;
}

bool enh_owns(const char *name, size_t len)
{
    static const char *const owned[] = {
        "invocations", "errors", "timeouts", "out_of_memory", "runtime_duration",
        "produced_bytes", "duration", "billed_duration", "max_memory_used", "memorysize",
        "estimated_cost", "post_runtime_duration", "init_duration", "shutdowns", "unused_init",
    };
    const size_t pl = sizeof ENH_PREFIX - 1;
    if (len <= pl || memcmp(name, ENH_PREFIX, pl) != 0)
        return false;
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (strlen(owned[i]) == len - pl && !memcmp(name + pl, owned[i], len - pl))
            return true;
    return false;
}
