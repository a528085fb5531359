/* enhanced.h — Lambda enhanced metrics (aws.lambda.enhanced.*) derived from
 * platform telemetry and INVOKE/SHUTDOWN, fed to the aggregator as distributions. */
#ifndef FORKCAP_ENHANCED_H
#define FORKCAP_ENHANCED_H

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "metrics.h"

#define ENH_PREFIX "aws.lambda.enhanced."
#define ENH_TAGS_MAX 48         /* identity tags + DD_TAGS entries kept */
#define ENH_PENDING 256         /* request ids remembered (cold, runtimeDone, counted) */
#define ENH_PROACTIVE_MS 10000  /* sandbox init this long before the first invoke = proactive */

/* Prices (USD) used for estimated_cost, as Datadog's extension uses them. */
#define ENH_PRICE_REQUEST 0.0000002
#define ENH_PRICE_GBS_X86 0.0000166667
#define ENH_PRICE_GBS_ARM 0.0000133334

/* Identity for tags; strings are copied, NULL or "" leaves a tag out.
 * dd_tags is canonical DD_TAGS (common/tags.h, as cfg.tags holds it). */
struct enh_tag_context {
    const char *function_name, *region, *account_id, *resource, *executed_version,
        *runtime, *architecture, *env, *service, *version, *dd_tags;
    int64_t memory_mb; /* 0 = unknown */
};

struct enh_state;

/* agg is borrowed and must outlive the state. */
struct enh_state *enh_new(struct met_agg *agg);
void enh_free(struct enh_state *st);
/* 0, or -1 (ENOMEM, a tag refused by the aggregator's rules). */
int enh_set_context(struct enh_state *st, const struct enh_tag_context *ctx);

/* When the sandbox started (epoch ms; e.g. the extension's own start), for
 * telling a proactive initialisation from a cold start. An initStart event
 * sets it too unless it was set already. */
void enh_set_sandbox_init(struct enh_state *st, int64_t time_ms);

/* Each returns how many metrics the aggregator refused (0 normally). */
int enh_on_invoke(struct enh_state *st, int64_t time_ms, const char *request_id);
/* runtimeDone / report records ignored as repeats of one already counted. */
uint64_t enh_duplicates(const struct enh_state *st);
/* An FT_PLATFORM record: initStart, initReport, runtimeDone and report
 * give metrics; other events none. */
int enh_on_platform(struct enh_state *st, const struct ft_platform *ev);
int enh_on_shutdown(struct enh_state *st, int64_t time_ms);
/* An invocation of this sandbox came before (a restarted flusher learns it
 * from FT_CONTEXT): the next one is not a cold start. */
void enh_set_warm(struct enh_state *st);
/* While muted, events update the state (pending invocations, cold start,
 * duplicates) and emit nothing: a replayed frame whose metrics a previous
 * flusher delivered (FT_PLATFORM / FT_INVOCATION enh_done). */
void enh_set_muted(struct enh_state *st, bool muted);

/* True when name (len bytes, not NUL-terminated) is an enhanced metric this
 * module produces itself: aws.lambda.enhanced.{invocations, errors,
 * timeouts, out_of_memory, runtime_duration, produced_bytes, duration,
 * billed_duration, max_memory_used, memorysize, estimated_cost,
 * post_runtime_duration, init_duration, shutdowns, unused_init}. A Datadog
 * library sends some of them over DogStatsD too (datadog-lambda-js sends
 * invocations and errors); the flusher drops those copies so each is
 * counted once. */
bool enh_owns(const char *name, size_t len);

/* The cost of one invocation, rounded to 1e-12 USD; < 0 for an unknown
 * architecture ("x86_64"/"amd64", "arm64"/"aarch64" are known). */
double enh_estimated_cost(int64_t billed_ms, int64_t memory_mb, const char *architecture);

#endif
