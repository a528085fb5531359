/* log.h — one `LEVEL | component | message` line per event, on stderr.
 * Registered secrets (the API key, proxy credentials) are masked in every line. */
#ifndef FORKCAP_LOG_H
#define FORKCAP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_TRACE = 0, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

#define LOG_LINE_MAX 2048u  /* longer messages are cut, marked with "..." */
#define LOG_SECRETS_MAX 8u

/* Parse a DD_LOG_LEVEL value (trace, debug, info, warn/warning, error,
 * critical, off; any case). Returns false on an unknown value. */
bool log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level l);

void log_set_level(enum log_level l);
enum log_level log_get_level(void);
/* The component name printed in every line (e.g. "supervisor"); copied. */
void log_set_component(const char *name);
/* Never print this string: it is replaced by "***" in every later line.
 * Strings shorter than 4 bytes are ignored (they would mask ordinary text).
 * Returns false when the table is full. */
bool log_add_secret(const char *secret);
/* Forget them all, overwriting the copies (a process that must not hold
 * them, see cfg_forget_secrets). */
void log_clear_secrets(void);

/* The one masking function: every occurrence of secret in buf (NUL-
 * terminated) becomes "***", in place (never longer). Secrets shorter than
 * 3 bytes are left alone. log_msg applies it with every registered secret;
 * the intake applies it to curl's error texts. */
void log_mask(char *buf, const char *secret);

/* Formats, masks secrets, folds newlines, writes one line to the sink. */
void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Tests capture lines here instead of stderr (NULL restores stderr). */
typedef void (*log_sink_fn)(const char *line, size_t len, void *arg);
void log_set_sink(log_sink_fn fn, void *arg);

/* Repeated lines about one condition (a failing intake, say): the first is
 * printed, then at most one per gap, the gap doubling from
 * LOG_LIMIT_FIRST_US up to LOG_LIMIT_MAX_US; log_limit_pass tells how many
 * were held back since the last printed one (to say so in it).
 * log_limit_reset, when the condition clears, starts over. In Lambda every
 * line is billed (CloudWatch) and comes back as telemetry: a condition
 * that repeats per flush must not print per flush. Zero-initialised = fresh. */
#define LOG_LIMIT_FIRST_US 30000000ull /* 30 s */
#define LOG_LIMIT_MAX_US 600000000ull  /* 10 min */
struct log_limit {
    uint64_t next_us; /* no line before this (monotonic); 0 = fresh */
    uint64_t gap_us;
    unsigned held;    /* lines held back since the last one printed */
    unsigned printed;
};
/* true: print now (*held = lines held back before it). false: counted. */
bool log_limit_pass(struct log_limit *l, uint64_t now_us, unsigned *held);
void log_limit_reset(struct log_limit *l);

#define log_trace(...) log_msg(LOG_TRACE, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
