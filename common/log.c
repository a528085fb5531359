/* log.c — see log.h. Logging state is process-global by nature (like
 * stderr itself); each process sets its component once after fork. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static enum log_level cur_level = LOG_INFO;
static char component[32] = "forkcap";
static char *secrets[LOG_SECRETS_MAX];
static size_t nsecrets;
static log_sink_fn sink;
static void *sink_arg;

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};

bool log_level_parse(const char *s, enum log_level *out)
{
    static const struct { const char *name; enum log_level l; } map[] = {
        {"trace", LOG_TRACE}, {"debug", LOG_DEBUG}, {"info", LOG_INFO},
        {"warn", LOG_WARN}, {"warning", LOG_WARN}, {"error", LOG_ERROR},
        {"critical", LOG_ERROR}, {"off", LOG_OFF},
    };
    if (s == NULL)
        return false;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcasecmp(s, map[i].name) == 0) {
            *out = map[i].l;
            return true;
        }
    }
    return false;
}

const char *log_level_name(enum log_level l)
{
    return (unsigned)l <= LOG_OFF ? level_names[l] : "?";
}

void log_set_level(enum log_level l) { cur_level = l; }
enum log_level log_get_level(void) { return cur_level; }

void log_set_component(const char *name)
{
    snprintf(component, sizeof component, "%s", name ? name : "forkcap");
}

bool log_add_secret(const char *secret)
{
    if (secret == NULL || strlen(secret) < 4)
        return true;
    for (size_t i = 0; i < nsecrets; i++)
        if (strcmp(secrets[i], secret) == 0)
            return true;
    if (nsecrets == LOG_SECRETS_MAX)
        return false;
    char *dup = strdup(secret);
    if (dup == NULL)
        return false;
    secrets[nsecrets++] = dup;
    return true;
}

void log_clear_secrets(void)
{
    for (size_t i = 0; i < nsecrets; i++) {
        explicit_bzero(secrets[i], strlen(secrets[i])); /* free() leaves the bytes behind */
        free(secrets[i]);
    }
    nsecrets = 0;
}

void log_set_sink(log_sink_fn fn, void *arg)
{
    sink = fn;
    sink_arg = arg;
}

void log_mask(char *buf, const char *secret)
{
    size_t sl = secret ? strlen(secret) : 0;
    if (sl < 3)
        return; /* "***" must not be longer than what it replaces */
    char *p = buf;
    while ((p = strstr(p, secret)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + sl, strlen(p + sl) + 1);
        p += 3;
    }
}

static void mask_secrets(char *buf)
{
    for (size_t i = 0; i < nsecrets; i++)
        log_mask(buf, secrets[i]);
}

void log_msg(enum log_level l, const char *fmt, ...)
{
    if (l < cur_level || l >= LOG_OFF)
        return;
    char msg[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof msg)
        memcpy(msg + sizeof msg - 4, "...", 4);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    mask_secrets(msg);

    char line[LOG_LINE_MAX + 64];
    int len = snprintf(line, sizeof line, "%s | %s | %s\n", level_names[l], component, msg);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof line)
        len = (int)sizeof line - 1;
    /* The component and level are ours, but mask the whole line anyway. */
    mask_secrets(line);
    len = (int)strlen(line);
    if (sink) {
        sink(line, (size_t)len, sink_arg);
        return;
    }
    /* One write(2) per line so concurrent processes do not interleave. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)len);
    (void)w;
}

bool log_limit_pass(struct log_limit *l, uint64_t now_us, unsigned *held)
{
    if (l->printed && now_us < l->next_us) {
        if (l->held < UINT32_MAX)
            l->held++;
        return false;
    }
    if (held)
        *held = l->held;
    l->held = 0;
    l->printed++;
    l->gap_us = l->gap_us == 0 ? LOG_LIMIT_FIRST_US
                : l->gap_us * 2 > LOG_LIMIT_MAX_US ? LOG_LIMIT_MAX_US : l->gap_us * 2;
    l->next_us = now_us + l->gap_us;
    return true;
}

void log_limit_reset(struct log_limit *l)
{
    l->next_us = 0;
    l->gap_us = 0;
    l->held = 0;
    l->printed = 0;
}
