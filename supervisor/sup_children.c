/* sup_children.c — the rows of the supervisor's process table: what each
 * child is, what it may send, what it keeps, and how it is started. The
 * process table itself (sup_proc.c) reads only these descriptors. */
#include "sup.h"

#include <stdio.h>
#include <unistd.h>

#include "fl_main.h"
#include "lifecycle.h"

static int lifecycle_entry(void *owner, int link_fd, uint64_t t_start_us)
{
    struct sup *s = owner; /* this child's copy, after the fork */
    /* it talks to Lambda only: no key, no proxy credentials in its memory
     * (already sealed away, unless sealing failed), nor a way to them */
    if (s->secrets_fd >= 0)
        close(s->secrets_fd);
    s->secrets_fd = -1;
    cfg_forget_secrets(&s->cfg, environ);
    struct lc_args a = {.cfg = &s->cfg,
                        .sup_fd = link_fd,
                        .telemetry_fd = s->socks.fd[SUP_SOCK_TELEMETRY],
                        .telemetry_port = s->socks.port[SUP_SOCK_TELEMETRY],
                        .t_start_us = t_start_us,
                        /* a replacement during SHUTDOWN only serves the last telemetry */
                        .after_shutdown = sup_shutdown_active(&s->sd)};
    snprintf(a.ext_name, sizeof a.ext_name, "%s", s->ext_name);
    snprintf(a.ext_id, sizeof a.ext_id, "%s", s->ext_id);
    return lc_main(&a);
}

static int flusher_entry(void *owner, int link_fd, uint64_t t_start_us)
{
    struct sup *s = owner; /* this child's copy, after the fork */
    if (s->secrets_fd >= 0 && cfg_unseal_secrets(&s->cfg, s->secrets_fd) < 0)
        log_error("cannot read the API key back from the supervisor's sealed copy");
    s->secrets_fd = -1;
    struct fl_args a = {.cfg = &s->cfg,
                        .sup_fd = link_fd,
                        .dogstatsd_fd = s->socks.fd[SUP_SOCK_DOGSTATSD],
                        .apm_fd = s->socks.fd[SUP_SOCK_APM],
                        .lambda_fd = s->socks.fd[SUP_SOCK_LAMBDA],
                        .t_start_us = t_start_us};
    return fl_main(&a);
}

const struct sup_proc_desc sup_children[SUP_NKIND] = {
    [SUP_LIFECYCLE] = {.name = "lifecycle",
                       .title = "forkcap: lifecycle",
                       .entry = lifecycle_entry,
                       .accept_dirs = FRAME_DIR_L2S,
                       .wq_max = SUP_WQ_LIFECYCLE,
                       .keep_socks = 1u << SUP_SOCK_TELEMETRY,
                       .permanent_exit = LC_EXIT_PERMANENT,
                       .dispatch = sup_on_lifecycle,
                       .link_up = sup_link_up,
                       .changed = sup_changed},
    [SUP_FLUSHER] = {.name = "flusher",
                     .title = "forkcap: flusher",
                     .entry = flusher_entry,
                     .accept_dirs = FRAME_DIR_F2S,
                     .wq_max = SUP_WQ_FLUSHER,
                     .keep_socks = 1u << SUP_SOCK_DOGSTATSD | 1u << SUP_SOCK_APM | 1u << SUP_SOCK_LAMBDA,
                     .permanent_exit = LC_EXIT_PERMANENT,
                     .dispatch = sup_on_flusher,
                     .link_up = sup_link_up,
                     .changed = sup_changed},
};
