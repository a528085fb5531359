/* fake_sys.h — the supervisor's system (struct sup_proc_sys) faked for its
 * tests and fuzz targets: a spawn is a socketpair whose far end is a peer on
 * which the test plays the child, a kill is only recorded, the clock moves
 * when the test moves it. No fork, no signal, no sleep. */
#ifndef FORKCAP_TEST_FAKE_SYS_H
#define FORKCAP_TEST_FAKE_SYS_H

#include <stdint.h>
#include <sys/types.h>

#include "peer.h"
#include "sup_proc.h"

#define FAKE_SYS_KILLS 16u

struct fake_sys {
    /* the test's settings (fake_sys_init sets them; change before a spawn) */
    struct event_base *base;
    size_t wq_max;                 /* a child end's write queue bound */
    peer_cb child_cb;              /* what a child end hears; NULL: nothing */
    void *child_arg[SUP_PROC_MAX]; /* child_cb's arg, per row */
    pid_t next_pid;                /* the last pid given: the next is one more */
    uint64_t now;                  /* the clock (µs), moved by the test */
    /* what the fake keeps */
    struct peer *child[SUP_PROC_MAX]; /* the child's end of each row's link; NULL: closed */
    pid_t pid_of[SUP_PROC_MAX];       /* each row's latest child */
    unsigned spawns[SUP_PROC_MAX];
    int last_sig[SUP_PROC_MAX];       /* the last signal a row's children got (0: none) */
    pid_t last_sig_pid[SUP_PROC_MAX]; /* and which of them got it */
    pid_t kill_pid[FAKE_SYS_KILLS];   /* the first FAKE_SYS_KILLS signals, in order */
    int kill_sig[FAKE_SYS_KILLS];
    unsigned nkills;
};

/* Zeroes fs; pids given start after last_pid. */
void fake_sys_init(struct fake_sys *fs, struct event_base *base, pid_t last_pid, size_t wq_max, peer_cb child_cb);
/* The sup_proc_sys played by fs. Its clock reads the fs of the latest call
 * (now_us takes no argument): one fake system at a time. */
struct sup_proc_sys fake_sys_ops(struct fake_sys *fs);
/* The spawn fake_sys_ops gives (arg: the fake_sys), for a test that wraps it. */
pid_t fake_sys_spawn(struct sup_proc *t, unsigned idx, int *link_fd, void *arg);
/* Row idx's child closes its end of the link, as a dying process's closes. */
void fake_sys_close(struct fake_sys *fs, unsigned idx);
/* Closes every child end (the event base is the test's). */
void fake_sys_free(struct fake_sys *fs);

#endif
