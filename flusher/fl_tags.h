/* fl_tags.h — the function tag set, built once in the flusher from
 * FT_CONTEXT, configuration and the resolved runtime, and put on every
 * DogStatsD series and sketch (the aggregator's common tags), on every log
 * (ddtags) and, for traces, joined under _dd.tags.function. Enhanced metrics
 * keep their own tag rules (enhanced.c).
 *
 * The set, as Datadog's extension builds it: functionname, region,
 * account_id and aws_account, resource (name, or name:qualifier with
 * executedversion:qualifier when the version is not $LATEST), function_arn
 * (arn:<partition>:lambda:<region>:<account>:function:<name>, lower-cased;
 * partition aws-cn for cn-*, aws-us-gov for us-gov-*), memorysize, runtime,
 * architecture, init_type (when set), dd_extension_version, env, version,
 * service (lower-cased), then DD_TAGS (canonical, common/tags.h) replacing
 * any of them with the same key. Unknown fields are left out. Sorted by key,
 * so two builds from the same inputs are byte-identical. */
#ifndef FORKCAP_FL_TAGS_H
#define FORKCAP_FL_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define FL_TAGS_MAX 64u      /* tags in the set */
#define FL_TAGS_BUF 8192u    /* bytes of the set, one copy */
#define FL_EXTENSION_VERSION "forkcap" /* dd_extension_version */

struct fl_tags_src {
    const char *fn_name;     /* FT_CONTEXT fn_name, else AWS_LAMBDA_FUNCTION_NAME */
    const char *qualifier;   /* FT_CONTEXT fn_version (the function's version) */
    const char *account_id;  /* FT_CONTEXT account_id, else from the invoked ARN */
    const char *region;      /* AWS_REGION */
    uint32_t memory_mb;      /* 0 = unknown */
    const char *runtime;     /* resolved (fl_runtime.h) */
    const char *architecture;
    const char *init_type;   /* AWS_LAMBDA_INITIALIZATION_TYPE */
    const char *env, *service, *version; /* DD_ENV, DD_SERVICE, DD_VERSION */
    const char *dd_tags;     /* canonical DD_TAGS (cfg.tags) */
};

struct fl_tags {
    struct met_str tags[FL_TAGS_MAX]; /* into store; sorted by key */
    size_t n;
    char joined[FL_TAGS_BUF];         /* "k:v,k:v": logs' ddtags, traces */
    char store[FL_TAGS_BUF];
};

/* Build the set. Returns 0, or -1 (a value does not fit; the set is then
 * empty rather than partial, and the caller logs it once). Tags that are
 * not valid UTF-8 text are left out. */
int fl_tags_build(const struct fl_tags_src *src, struct fl_tags *out);

/* The partition of a region for ARNs. */
const char *fl_tags_partition(const char *region);

#endif
