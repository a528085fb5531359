/* fl_runtime.c — see fl_runtime.h. */
#include "fl_runtime.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EXEC_ENV "AWS_EXECUTION_ENV="

/* A runtime name: letters, digits, '.', '-', '_'; non-empty and fits. */
static bool set_name(char *out, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap || n >= FL_RUNTIME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
            return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

bool fl_runtime_from_version(const char *rv, char *out, size_t cap)
{
    if (!rv)
        return false;
    const char *colon = strchr(rv, ':');
    if (!colon || colon == rv)
        return false;
    size_t fl = (size_t)(colon - rv);
    const char *ver = colon + 1;
    size_t vl = strlen(ver);
    /* the runtime's own patch level: ".v<digits>" at the end */
    const char *dv = NULL;
    for (const char *p = ver; (p = strstr(p, ".v")) != NULL; p++)
        dv = p;
    if (dv && dv[2] && strspn(dv + 2, "0123456789") == strlen(dv + 2))
        vl = (size_t)(dv - ver);
    if (vl == 0)
        return false;
    char buf[FL_RUNTIME_MAX];
    int w;
    if (fl == 6 && !memcmp(rv, "nodejs", 6))
        w = snprintf(buf, sizeof buf, "nodejs%.*s%s", (int)vl, ver,
                     vl >= 2 && !memcmp(ver + vl - 2, ".x", 2) ? "" : ".x");
    else if (fl == 8 && !memcmp(rv, "provided", 8))
        w = snprintf(buf, sizeof buf, "provided.%.*s", (int)vl, ver);
    else
        w = snprintf(buf, sizeof buf, "%.*s%.*s", (int)fl, rv, (int)vl, ver);
    return w > 0 && (size_t)w < sizeof buf && set_name(out, cap, buf, (size_t)w);
}

/* Read at most max bytes of path into buf (NUL-terminated); length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n < max - 1) {
        ssize_t r = read(fd, buf + n, max - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* AWS_EXECUTION_ENV=AWS_Lambda_java8 -> java8 (what follows the last '_',
 * quotes dropped, as Datadog's extension reads it). */
static bool from_environ(const char *env, size_t n, char *out, size_t cap)
{
    const size_t kl = sizeof EXEC_ENV - 1;
    for (size_t i = 0; i < n;) {
        const char *e = env + i;
        size_t el = strnlen(e, n - i);
        if (el > kl && !memcmp(e, EXEC_ENV, kl)) {
            const char *v = e + kl;
            size_t vl = el - kl;
            const char *us = memrchr(v, '_', vl);
            if (us) {
                vl -= (size_t)(us + 1 - v);
                v = us + 1;
            }
            while (vl && v[0] == '"')
                v++, vl--;
            while (vl && v[vl - 1] == '"')
                vl--;
            return set_name(out, cap, v, vl);
        }
        i += el + 1;
    }
    return false;
}

bool fl_runtime_from_proc(const char *proc_root, char *out, size_t cap)
{
    DIR *d = opendir(proc_root);
    if (!d)
        return false;
    static char env[FL_RUNTIME_ENVIRON_MAX];
    struct dirent *de;
    bool found = false;
    unsigned seen = 0;
    while (!found && seen++ < FL_RUNTIME_PROCS_MAX && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (!nm[0] || strspn(nm, "0123456789") != strlen(nm) || !strcmp(nm, "1"))
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s/environ", proc_root, nm) >= sizeof path)
            continue;
        ssize_t n = read_small(path, env, sizeof env);
        if (n > 0)
            found = from_environ(env, (size_t)n, out, cap);
    }
    closedir(d);
    return found;
}

bool fl_runtime_from_os_release(const char *path, char *out, size_t cap)
{
    char buf[8192];
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n <= 0)
        return false;
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!strncmp(line, "PRETTY_NAME=", 12)) {
            char v[256];
            size_t k = 0;
            for (const char *p = line + 12; *p && k < sizeof v - 1; p++)
                if (*p != '"')
                    v[k++] = *p;
            v[k] = '\0';
            if (!strcmp(v, "Amazon Linux 2"))
                return set_name(out, cap, "provided.al2", 12);
            if (!strncmp(v, "Amazon Linux 2023", 17))
                return set_name(out, cap, "provided.al2023", 15);
            return false;
        }
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

enum fl_runtime_source fl_runtime_resolve(const char *proc_root, const char *os_release, char *out,
                                          size_t cap)
{
    if (fl_runtime_from_proc(proc_root ? proc_root : "/proc", out, cap))
        return FL_RT_PROC;
    if (fl_runtime_from_os_release(os_release ? os_release : "/etc/os-release", out, cap))
        return FL_RT_OS_RELEASE;
    snprintf(out, cap, "unknown");
    return FL_RT_UNKNOWN;
}

const char *fl_runtime_source_name(enum fl_runtime_source s)
{
    switch (s) {
    case FL_RT_INIT_START: return "platform.initStart";
    case FL_RT_PROC: return "/proc environ";
    case FL_RT_OS_RELEASE: return "os-release";
    case FL_RT_UNKNOWN: return "none";
    }
    return "?";
}
