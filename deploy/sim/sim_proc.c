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
#include <sys/stat.h>
#include <time.h>
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
        if (s->rt_log) {  /* a crashing runtime's last words, without a subscriber */
            fprintf(s->rt_log, "%s%s\n", is_err ? "[err] " : "", line);
            fflush(s->rt_log);
        }
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

/* Variables only the runtime gets: Lambda withholds them from extensions
 * (AWS docs, "extension environment"; the emulator also drops every
 * variable starting with '_'). */
static const char *const sim_runtime_only[] = {
    "AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "LAMBDA_RUNTIME_DIR", "LAMBDA_TASK_ROOT",
};

extern char **environ;

static void sim_child_env(struct sim *s, bool runtime)
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
    setenv("TZ", ":UTC", 1);
    if (!runtime) {
        for (size_t k = 0; k < sizeof sim_runtime_only / sizeof sim_runtime_only[0]; k++)
            unsetenv(sim_runtime_only[k]);
        /* names starting with '_' (_HANDLER, _X_AMZN_TRACE_ID, _AWS_XRAY_*) */
        for (;;) {
            char name[256];
            bool found = false;
            for (char **e = environ; e && *e; e++) {
                if ((*e)[0] != '_')
                    continue;
                const char *eq = strchr(*e, '=');
                size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
                if (n >= sizeof name)
                    n = sizeof name - 1;
                memcpy(name, *e, n);
                name[n] = '\0';
                found = true;
                break;
            }
            if (!found || unsetenv(name) < 0)
                break;
        }
        return;
    }
    /* OS-only runtimes (provided.*) have no AWS_EXECUTION_ENV */
    if (strncmp(s->o.runtime_id, "provided", 8) == 0) {
        unsetenv("AWS_EXECUTION_ENV");
    } else {
        snprintf(buf, sizeof buf, "AWS_Lambda_%s", s->o.runtime_id);
        setenv("AWS_EXECUTION_ENV", buf, 1);
    }
    snprintf(buf, sizeof buf, "/aws/lambda/%s", s->o.function_name);
    setenv("AWS_LAMBDA_LOG_GROUP_NAME", buf, 1);
    setenv("AWS_LAMBDA_LOG_STREAM_NAME", s->log_stream, 1);
    setenv("_HANDLER", s->o.handler, 1);
    setenv("LAMBDA_TASK_ROOT", s->o.task_root, 1);
    setenv("LAMBDA_RUNTIME_DIR", s->o.runtime_dir, 1);
}

/* Forks a child in its own process group with stdin on /dev/null and
 * stdout/stderr on two fresh pipes; argv is exec'd (execv, or execvp when
 * search is set). */
static pid_t sim_fork(struct sim *s, char *const argv[], int outfd[2], int errfd[2], bool runtime)
{
    /* another simulator's sweep may have taken an empty cgroup of ours
     * (pids are not unique across PID namespaces): make sure it is there */
    if (s->cg && mkdir(s->cg_dir, 0755) < 0 && errno != EEXIST)
        sim_log("WARN", "cannot recreate the sandbox cgroup %s: %s", s->cg_dir, strerror(errno));
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
        if (s->cg && sim_box_enter(s) < 0) {
            fprintf(stderr, "lambda-sim: cannot join the sandbox cgroup %s: %s\n", s->cg_dir, strerror(errno));
            _exit(126);
        }
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
        sim_child_env(s, runtime);
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
    pid_t pid = sim_fork(s, argv, outfd, errfd, false);
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
    pid_t pid = sim_fork(s, argv, outfd, errfd, true);
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

/* ---- the process box ----
 * Lambda freezes and destroys the whole sandbox, whatever its processes did
 * (setsid, double fork). Here: a cgroup v2 of our own when the machine lets
 * us make one (cgroup.freeze, cgroup.kill), else every descendant of the
 * simulator, which is a child subreaper so that orphans stay its
 * descendants, stopped and killed one by one. */

static int box_write(const struct sim *s, const char *file, const char *val)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", s->cg_dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, val, strlen(val));
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* In the forked child, before exec: join the sandbox's cgroup (async-signal-safe calls only). */
int sim_box_enter(struct sim *s)
{
    return box_write(s, "cgroup.procs", "0");
}

/* The cgroup2 mount point, or -1. */
static int box_cg_mount(char *out, size_t n)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -1;
    char line[4096];
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        /* id parent maj:min root mountpoint options [optional...] - fstype source superoptions */
        char *dash = strstr(line, " - cgroup2 ");
        if (!dash)
            continue;
        char mnt[1024];
        if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) == 1 && strlen(mnt) < n) {
            snprintf(out, n, "%s", mnt);
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* Our own cgroup v2 path ("0::/path"), or -1. */
static int box_cg_self(char *out, size_t n)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -1;
    char line[4096];
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "0::", 3) != 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        if (strlen(line + 3) < n) {
            snprintf(out, n, "%s", strcmp(line + 3, "/") == 0 ? "" : line + 3);
            rc = 0;
        }
        break;
    }
    fclose(f);
    return rc;
}

/* Removes cgroups left by simulators that died without cleaning up (rmdir
 * fails on one that still has processes, so a live one is never touched). */
static void box_sweep_stale(const char *parent)
{
    DIR *d = opendir(parent);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int pid;
        if (sscanf(de->d_name, "lambda-sim.%d", &pid) != 1 || pid <= 0)
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[2400];
        snprintf(path, sizeof path, "%s/%s", parent, de->d_name);
        rmdir(path);
    }
    closedir(d);
}

static bool box_try_cgroup(struct sim *s)
{
    char mnt[1024], self[1024], parent[2100];
    if (box_cg_mount(mnt, sizeof mnt) < 0 || box_cg_self(self, sizeof self) < 0)
        return false;
    snprintf(parent, sizeof parent, "%s%s", mnt, self);
    box_sweep_stale(parent);
    int w = snprintf(s->cg_dir, sizeof s->cg_dir, "%s/lambda-sim.%d", parent, (int)getpid());
    if (w < 0 || (size_t)w >= sizeof s->cg_dir)
        return false;
    if (mkdir(s->cg_dir, 0755) < 0 && errno != EEXIST)
        return false;
    char probe[700];
    snprintf(probe, sizeof probe, "%s/cgroup.freeze", s->cg_dir);
    if (access(probe, W_OK) < 0) {
        rmdir(s->cg_dir);
        return false;
    }
    /* a child must be able to join it (delegation, no-internal-process rule) */
    pid_t pid = fork();
    if (pid == 0)
        _exit(sim_box_enter(s) == 0 ? 0 : 1);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        rmdir(s->cg_dir);
        return false;
    }
    return true;
}

void sim_box_init(struct sim *s)
{
    /* orphans of the sandbox (setsid and double fork) stay our descendants */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        sim_log("WARN", "cannot become a child subreaper: %s; orphaned processes may escape", strerror(errno));
    s->cg = false;
    if (strcmp(s->o.freeze_method, "signals") != 0)
        s->cg = box_try_cgroup(s);
    s->cg_used = s->cg;
    if (!s->cg) {
        s->cg_dir[0] = '\0';
        if (strcmp(s->o.freeze_method, "cgroup") == 0) {
            fprintf(stderr, "lambda-sim: --freeze-method cgroup: no writable cgroup v2 with cgroup.freeze here\n");
            exit(2);
        }
    }
}

struct box_proc {
    pid_t pid, ppid;
    char state;
    long rss_pages;
};

/* Every live (non-zombie) descendant of the simulator, from /proc. Returns
 * the count (at most max), or -1 when /proc cannot be read. */
static int box_descendants(struct box_proc *out, int max)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    size_t cap = 1024, n = 0;
    struct box_proc *all = malloc(cap * sizeof *all);
    if (!all) {
        closedir(d);
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t r = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (r <= 0)
            continue;
        buf[r] = '\0';
        char *p = strrchr(buf, ')');  /* comm may hold spaces and parentheses */
        struct box_proc bp = { .pid = (pid_t)atoi(de->d_name) };
        int ppid;
        if (!p || sscanf(p + 1, " %c %d", &bp.state, &ppid) != 2)
            continue;
        bp.ppid = (pid_t)ppid;
        /* rss is field 24; the text after ')' starts at field 3 */
        int field = 2;
        for (char *tok = p + 1; *tok; ) {
            while (*tok == ' ')
                tok++;
            if (++field == 24) {
                bp.rss_pages = strtol(tok, NULL, 10);
                break;
            }
            while (*tok && *tok != ' ')
                tok++;
        }
        if (n == cap) {
            struct box_proc *g = realloc(all, cap * 2 * sizeof *all);
            if (!g)
                break;
            all = g;
            cap *= 2;
        }
        all[n++] = bp;
    }
    closedir(d);
    /* the tree below us: repeated passes until nothing new joins (the
     * sandbox is small: parents are looked up among the members found) */
    pid_t self = getpid();
    bool *in = calloc(n ? n : 1, sizeof *in);
    pid_t *members = malloc((n + 1) * sizeof *members);
    if (!in || !members) {
        free(in);
        free(members);
        free(all);
        return -1;
    }
    size_t nm = 0;
    members[nm++] = self;
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (in[i])
                continue;
            for (size_t j = 0; j < nm; j++)
                if (members[j] == all[i].ppid) {
                    in[i] = true;
                    members[nm++] = all[i].pid;
                    grew = true;
                    break;
                }
        }
    }
    free(members);
    int k = 0;
    for (size_t i = 0; i < n && k < max; i++)
        if (in[i] && all[i].state != 'Z' && all[i].state != 'X')
            out[k++] = all[i];
    free(in);
    free(all);
    return k;
}

#define BOX_MAX 4096

static void box_signal_all(int sig)
{
    struct box_proc *ps = malloc(BOX_MAX * sizeof *ps);
    if (!ps)
        return;
    /* a few passes: a process may fork between the scan and the signal */
    for (int pass = 0; pass < 4; pass++) {
        int n = box_descendants(ps, BOX_MAX);
        int sent = 0;
        for (int i = 0; i < n; i++) {
            if (sig == SIGSTOP && ps[i].state == 'T')
                continue;
            if (kill(ps[i].pid, sig) == 0)
                sent++;
        }
        if (sent == 0 || sig == SIGCONT)
            break;
    }
    free(ps);
}

int sim_box_count(struct sim *s)
{
    if (s->cg) {
        char path[600], buf[4096];
        snprintf(path, sizeof path, "%s/cgroup.procs", s->cg_dir);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        int lines = 0;
        if (fd >= 0) {
            ssize_t r;
            while ((r = read(fd, buf, sizeof buf)) > 0)
                for (ssize_t i = 0; i < r; i++)
                    lines += buf[i] == '\n';
            close(fd);
        }
        if (lines > 0)
            return lines;
    }
    struct box_proc *ps = malloc(BOX_MAX * sizeof *ps);
    int n = ps ? box_descendants(ps, BOX_MAX) : 0;
    free(ps);
    return n < 0 ? 0 : n;
}

void sim_kill_sandbox(struct sim *s)
{
    if (s->cg && box_write(s, "cgroup.kill", "1") < 0) {
        /* kernels before 5.14: no cgroup.kill; the walk below does it */
    }
    box_signal_all(SIGKILL);
    box_signal_all(SIGCONT);
}

void sim_kill_all(struct sim *s)
{
    sim_kill_sandbox(s);
    /* reap and wait (bounded) so that nothing of the sandbox outlives us */
    for (int i = 0; i < 400; i++) {
        int st;
        while (waitpid(-1, &st, WNOHANG) > 0) {
        }
        if (sim_box_count(s) == 0)
            break;
        if (i % 50 == 49)
            sim_kill_sandbox(s);
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (s->cg) {
        box_write(s, "cgroup.freeze", "0");
        if (rmdir(s->cg_dir) == 0)
            s->cg = false;
    }
}

void sim_freeze(struct sim *s)
{
    if (s->frozen)
        return;
    s->frozen = true;
    if (s->cg && box_write(s, "cgroup.freeze", "1") == 0)
        return;
    box_signal_all(SIGSTOP);
}

void sim_thaw(struct sim *s)
{
    if (!s->frozen)
        return;
    s->frozen = false;
    if (s->cg && box_write(s, "cgroup.freeze", "0") == 0)
        return;
    box_signal_all(SIGCONT);
}

int sim_sandbox_memory_mb(struct sim *s)
{
    struct box_proc *ps = malloc(BOX_MAX * sizeof *ps);
    int n = ps ? box_descendants(ps, BOX_MAX) : 0;
    long page_kb = sysconf(_SC_PAGESIZE) / 1024, kb = 0;
    for (int i = 0; i < n; i++)
        kb += ps[i].rss_pages * page_kb;
    free(ps);
    if (!s->rt_running)
        kb += 24 * 1024;  /* the synthetic function's runtime, as a provided.al2023 one */
    int mb = (int)((kb + 1023) / 1024);
    return mb > s->o.memory_mb ? s->o.memory_mb : mb;
}
