/* sup_sched.h — the flush scheduler: whether the supervisor asks the
 * flusher to flush before giving the lifecycle its go-ahead. One decision
 * point, so the flush strategies can replace it without touching routing. */
#ifndef FORKCAP_SUP_SCHED_H
#define FORKCAP_SUP_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct sup_sched {
    struct cfg_flush strategy;
    uint64_t invocations;
    uint64_t t_last_flush_us;
};

void sup_sched_init(struct sup_sched *s, const struct cfg_flush *strategy);
/* Called at each INVOKE; true = flush now and hold the go-ahead until the
 * flusher answers (or the budget runs out). For now the go-ahead is always
 * immediate: the strategies of DD_SERVERLESS_FLUSH_STRATEGY come later. */
bool sup_should_flush_at_end(struct sup_sched *s, uint64_t now_us);

#endif
