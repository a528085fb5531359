/* lifecycle.h — entry point of the lifecycle child: Lambda's Extensions API
 * (register, /next, events) and, later, the Telemetry API subscription. */
#ifndef FORKCAP_LIFECYCLE_H
#define FORKCAP_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define LC_EXT_ID_MAX 128u
/* Exit status meaning "a restart cannot help" (s6's convention of a
 * special code): the supervisor then leaves the slot empty. */
#define LC_EXIT_PERMANENT 125
#define LC_NAME_MAX 256u

/* What the supervisor hands a (re)started lifecycle child. */
struct lc_args {
    const struct cfg *cfg;
    int sup_fd;              /* our end of the socketpair */
    int telemetry_fd;        /* bound listening socket for Lambda's pushes, -1 if none */
    uint16_t telemetry_port; /* its actual port */
    char ext_name[LC_NAME_MAX]; /* Lambda-Extension-Name: basename(argv[0]) */
    /* Set once an earlier child registered: resume /next, do not register. */
    char ext_id[LC_EXT_ID_MAX];
    uint64_t t_start_us;     /* child start checkpoint */
    /* Started after SHUTDOWN (the previous child died): serve the telemetry
     * listener for Lambda's last records, ask the platform nothing. */
    bool after_shutdown;
};

/* Runs the child's event loop; returns the exit status for the child. */
int lc_main(const struct lc_args *a);

#endif
