/* sim_proc.c — the sandbox's processes: extensions and the external runtime
 * each in their own process group, their output captured line by line,
 * reaping, freeze/thaw, and memory use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim.h"

static void sim_pipe_line(struct sim *s, struct sim_pipe *p, bool is_err)
{
    const char *line = p->buf;
    if (p->ext_index >= 0) {
        struct sim_ext *e = &s->ext[p->ext_index];
        FILE *f = s->ext_log ? s->ext_log : stderr;
        fprintf(f, "[%s%s] %s\n", e->name, is_err ? ":err" : "", line);
        fflush(f);
        sim_tele_line(s, "extension", line);
    } else {
        sim_tele_line(s, "function", line);
    }
}

static void sim_pipe_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sim_pipe *p = arg;
    (void)what;
    bool is_err = p->ext_index >= 0 ? p == &p->sim->ext[p->ext_index].err
                                    : p == &p->sim->rt_err;
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (p->len > 0) {
            p->buf[p->len] = '\0';
            sim_pipe_line(p->sim, p, is_err);
            p->len = 0;
        }
        sim_close_pipe(p);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        char c = tmp[i];
        if (c == '\n' || p->len >= SIM_LINE_MAX - 1) {
            p->buf[p->len] = '\0';
            if (p->len > 0 && p->buf[p->len - 1] == '\r')
                p->buf[p->len - 1] = '\0';
            sim_pipe_line(p->sim, p, is_err);
            p->len = 0;
            if (c == '\n')
                continue;
        }
        p->buf[p->len++] = c;
    }
}

void sim_close_pipe(struct sim_pipe *p)
{
    if (p->ev) {
        event_free(p->ev);
        p->ev = NULL;
    }
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    p->len = 0;
}

static int sim_pipe_open(struct sim *s, struct sim_pipe *p, int fd, int ext_index)
{
    sim_close_pipe(p);
    p->sim = s;
    p->fd = fd;
    p->ext_index = ext_index;
    p->len = 0;
    evutil_make_socket_nonblocking(fd);
    p->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, sim_pipe_cb, p);
    if (!p->ev || event_add(p->ev, NULL) < 0)
        return -1;
    return 0;
}

static void sim_child_env(struct sim *s)
{
    char buf[256];
    snprintf(buf, sizeof buf, "127.0.0.1:%d", s->port);
    setenv("AWS_LAMBDA_RUNTIME_API", buf, 1);
    setenv("AWS_LAMBDA_FUNCTION_NAME", s->o.function_name, 1);
    setenv("AWS_LAMBDA_FUNCTION_VERSION", s->o.function_version, 1);
    snprintf(buf, sizeof buf, "%d", s->o.memory_mb);
    setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", buf, 1);
    setenv("AWS_REGION", s->o.region, 1);
    setenv("AWS_DEFAULT_REGION", s->o.region, 1);
    setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand", 1);
    setenv("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023", 1);
    snprintf(buf, sizeof buf, "/aws/lambda/%s", s->o.function_name);
    setenv("AWS_LAMBDA_LOG_GROUP_NAME", buf, 1);
    char id[SIM_ID_LEN + 1];
    sim_uuid(id);
    char date[32];
    sim_iso_time(date, sizeof date);
    date[10] = '\0';
    for (char *c = date; *c; c++)
        if (*c == '-')
            *c = '/';
    snprintf(buf, sizeof buf, "%s/[%s]%.32s", date, s->o.function_version, id);
    setenv("AWS_LAMBDA_LOG_STREAM_NAME", buf, 1);
}

/* Forks a child in its own process group with stdin on /dev/null and
 * stdout/stderr on two fresh pipes; argv is exec'd (execv, or execvp when
 * search is set). */
static pid_t sim_fork(struct sim *s, char *const argv[], int outfd[2], int errfd[2])
{
    if (pipe2(outfd, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(errfd, O_CLOEXEC) < 0) {
        close(outfd[0]);
        close(outfd[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(outfd[0]); close(outfd[1]); close(errfd[0]); close(errfd[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
            if (devnull > 2)
                close(devnull);
        }
        dup2(outfd[1], 1);
        dup2(errfd[1], 2);
        sim_child_env(s);
        execv(argv[0], argv);
        fprintf(stderr, "lambda-sim: cannot exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);  /* also in the parent: no race with a kill(-pid) */
    close(outfd[1]);
    close(errfd[1]);
    return pid;
}

int sim_spawn_ext(struct sim *s, int i)
{
    struct sim_ext *e = &s->ext[i];
    int outfd[2], errfd[2];
    char *argv[] = { (char *)e->path, NULL };
    e->spawn_us = sim_now_us();
    pid_t pid = sim_fork(s, argv, outfd, errfd);
    if (pid < 0) {
        sim_log("ERROR", "cannot start extension %s: %s", e->path, strerror(errno));
        return -1;
    }
    e->pid = pid;
    e->running = true;
    if (sim_pipe_open(s, &e->out, outfd[0], i) < 0 || sim_pipe_open(s, &e->err, errfd[0], i) < 0)
        return -1;
    return 0;
}

int sim_spawn_runtime(struct sim *s)
{
    int outfd[2], errfd[2];
    char *argv[] = { "/bin/sh", "-c", (char *)s->o.runtime_cmd, NULL };
    pid_t pid = sim_fork(s, argv, outfd, errfd);
    if (pid < 0) {
        sim_log("ERROR", "cannot start the runtime: %s", strerror(errno));
        return -1;
    }
    s->rt_pid = pid;
    s->rt_running = true;
    if (sim_pipe_open(s, &s->rt_out, outfd[0], -1) < 0 || sim_pipe_open(s, &s->rt_err, errfd[0], -1) < 0)
        return -1;
    return 0;
}

void sim_signal_group(pid_t pgid, int sig)
{
    if (pgid > 1)
        kill(-pgid, sig);
}

void sim_kill_all(struct sim *s)
{
    /* only live groups: a reaped leader's group was killed at reap time,
     * and its pid may since belong to someone else */
    for (int i = 0; i < s->n_ext; i++) {
        if (s->ext[i].running && s->ext[i].pid > 0) {
            sim_signal_group(s->ext[i].pid, SIGKILL);
            sim_signal_group(s->ext[i].pid, SIGCONT);
        }
    }
    if (s->rt_running && s->rt_pid > 0) {
        sim_signal_group(s->rt_pid, SIGKILL);
        sim_signal_group(s->rt_pid, SIGCONT);
    }
}

void sim_freeze(struct sim *s)
{
    if (s->frozen)
        return;
    s->frozen = true;
    for (int i = 0; i < s->n_ext; i++)
        if (s->ext[i].running)
            sim_signal_group(s->ext[i].pid, SIGSTOP);
    if (s->rt_running)
        sim_signal_group(s->rt_pid, SIGSTOP);
}

void sim_thaw(struct sim *s)
{
    if (!s->frozen)
        return;
    s->frozen = false;
    for (int i = 0; i < s->n_ext; i++)
        if (s->ext[i].running)
            sim_signal_group(s->ext[i].pid, SIGCONT);
    if (s->rt_running)
        sim_signal_group(s->rt_pid, SIGCONT);
}

void sim_reap(struct sim *s)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        bool found = false;
        for (int i = 0; i < s->n_ext; i++) {
            struct sim_ext *e = &s->ext[i];
            if (e->running && e->pid == pid) {
                e->running = false;
                found = true;
                /* children it forked die with the sandbox, as in Lambda */
                sim_signal_group(pid, SIGKILL);
                sim_on_ext_exit(s, i, status);
                break;
            }
        }
        if (!found && s->rt_running && pid == s->rt_pid) {
            s->rt_running = false;
            sim_signal_group(pid, SIGKILL);
            sim_on_rt_exit(s, status);
        }
    }
}

/* Resident memory of one process group, in KiB, from /proc. */
static long sim_group_rss_kb(pid_t pgid)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    long total = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');  /* comm may hold spaces */
        if (!p)
            continue;
        char state;
        int ppid, pgrp;
        if (sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) != 3 || pgrp != pgid)
            continue;
        /* rss is field 24; after ')' we are at field 3 */
        int field = 2;
        char *tok = p + 1;
        long rss = 0;
        while (*tok && field < 24) {
            while (*tok == ' ')
                tok++;
            field++;
            if (field == 24) {
                rss = strtol(tok, NULL, 10);
                break;
            }
            while (*tok && *tok != ' ')
                tok++;
        }
        total += rss * page_kb;
    }
    closedir(d);
    return total;
}

int sim_sandbox_memory_mb(struct sim *s)
{
    long kb = 0;
    for (int i = 0; i < s->n_ext; i++)
        if (s->ext[i].running)
            kb += sim_group_rss_kb(s->ext[i].pid);
    if (s->rt_running)
        kb += sim_group_rss_kb(s->rt_pid);
    else
        kb += 24 * 1024;  /* the synthetic function's runtime, as a provided.al2023 one */
    int mb = (int)((kb + 1023) / 1024);
    return mb > s->o.memory_mb ? s->o.memory_mb : mb;
}
