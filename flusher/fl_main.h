/* fl_main.h — entry point of the flusher child: TLS client state, the
 * function-facing receivers, and the intake pipeline fed by data frames. */
#ifndef FORKCAP_FL_MAIN_H
#define FORKCAP_FL_MAIN_H

#include <stdint.h>

#include "config.h"

/* What the supervisor hands a (re)started flusher child. */
struct fl_args {
    const struct cfg *cfg;
    int sup_fd;       /* our end of the socketpair */
    int dogstatsd_fd; /* bound UDP socket, -1 if the bind failed */
    int apm_fd;       /* listening TCP socket (trace receiver), -1 if none */
    int lambda_fd;    /* listening TCP socket (the /lambda endpoints), -1 if none */
    uint64_t t_start_us;
};

/* Runs the child's event loop; returns the exit status for the child. */
int fl_main(const struct fl_args *a);

#endif
