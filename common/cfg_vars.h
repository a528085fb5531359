/* cfg_vars.h — the environment variables forkcap honours, in one table: the
 * source of `forkcap --help` and of the start-up line naming the DD_*
 * variables that are set but not honoured (so a team switching from
 * Datadog's extension sees what is ignored, instead of finding out later).
 * config.c reads exactly these names; tests/unit/cfg_vars.sh checks that
 * every name config.c (or any other module) reads is listed here. */
#ifndef FORKCAP_CFG_VARS_H
#define FORKCAP_CFG_VARS_H

#include <stdbool.h>
#include <stddef.h>

struct cfg_var {
    const char *name;
    const char *help; /* one line: default and meaning */
};

/* Every variable forkcap reads, NULL-terminated, in --help order. */
extern const struct cfg_var cfg_vars[];

/* True when name (NUL-terminated, or the first len bytes when len > 0) is
 * in cfg_vars. */
bool cfg_var_honoured(const char *name, size_t len);

/* The DD_* variables in envp (NAME=value strings, NULL-terminated) that
 * forkcap does not honour, comma-separated into out (names only, never
 * values; sorted as found; cut with ", ..." when out is short). Variables
 * read only by Datadog's in-function libraries (DD_LAMBDA_HANDLER, ...)
 * are left out: the function reads those, not the extension. Returns how
 * many were found (0: out is ""). */
unsigned cfg_unhonoured(char *const *envp, char *out, size_t cap);

#endif
