/* fake_sys.c — see fake_sys.h. */
#include "fake_sys.h"

#include <string.h>
#include <sys/socket.h>

#include "frame.h"

static struct fake_sys *clock_of;

void fake_sys_init(struct fake_sys *fs, struct event_base *base, pid_t last_pid, size_t wq_max, peer_cb child_cb)
{
    memset(fs, 0, sizeof *fs);
    fs->base = base;
    fs->next_pid = last_pid;
    fs->wq_max = wq_max;
    fs->child_cb = child_cb;
}

static void ignore_frame(struct peer *p, const struct frame *f, void *arg)
{
    (void)p;
    (void)f;
    (void)arg;
}

pid_t fake_sys_spawn(struct sup_proc *t, unsigned idx, int *link_fd, void *arg)
{
    (void)t;
    struct fake_sys *fs = arg;
    if (idx >= SUP_PROC_MAX)
        return -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    fake_sys_close(fs, idx);
    /* the child end accepts what the supervisor may send either child */
    fs->child[idx] = peer_new(fs->base, sv[1], "child", FRAME_DIR_S2L | FRAME_DIR_S2F, fs->wq_max,
                              fs->child_cb ? fs->child_cb : ignore_frame, fs->child_arg[idx]);
    *link_fd = sv[0];
    fs->spawns[idx]++;
    return fs->pid_of[idx] = ++fs->next_pid;
}

static int fake_kill(pid_t pid, int sig, void *arg)
{
    struct fake_sys *fs = arg;
    if (fs->nkills < FAKE_SYS_KILLS) {
        fs->kill_pid[fs->nkills] = pid;
        fs->kill_sig[fs->nkills] = sig;
    }
    fs->nkills++;
    for (unsigned k = 0; k < SUP_PROC_MAX; k++)
        if (fs->pid_of[k] == pid) {
            fs->last_sig[k] = sig;
            fs->last_sig_pid[k] = pid;
        }
    return 0;
}

static uint64_t fake_now(void)
{
    return clock_of->now;
}

struct sup_proc_sys fake_sys_ops(struct fake_sys *fs)
{
    clock_of = fs;
    return (struct sup_proc_sys){.spawn = fake_sys_spawn, .kill = fake_kill, .now_us = fake_now, .arg = fs};
}

void fake_sys_close(struct fake_sys *fs, unsigned idx)
{
    if (fs->child[idx]) {
        peer_free(fs->child[idx]);
        fs->child[idx] = NULL;
    }
}

void fake_sys_free(struct fake_sys *fs)
{
    for (unsigned k = 0; k < SUP_PROC_MAX; k++)
        fake_sys_close(fs, k);
}
