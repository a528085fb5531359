/* fl_runtime.h — the function's runtime for the "runtime" tag. Lambda does
 * not give extensions AWS_EXECUTION_ENV, so, as Datadog's extension does,
 * the flusher resolves it off the register path, once, when it is first
 * needed (the first DogStatsD datagram, invocation or flush: by then the
 * runtime process exists), from the first source that answers:
 *   1. platform.initStart's runtimeVersion ("nodejs:20.v13" -> nodejs20.x,
 *      "python:3.12.v20" -> python3.12, "provided:al2023.v5" ->
 *      provided.al2023), when it has arrived;
 *   2. another process's <proc>/<pid>/environ holding
 *      AWS_EXECUTION_ENV=AWS_Lambda_<runtime> (pid 1 skipped);
 *   3. <os-release> PRETTY_NAME "Amazon Linux 2" -> provided.al2,
 *      "Amazon Linux 2023..." -> provided.al2023;
 *   4. "unknown".
 * Every read is bounded; a missing or odd file means "this source does not
 * answer". */
#ifndef FORKCAP_FL_RUNTIME_H
#define FORKCAP_FL_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#define FL_RUNTIME_MAX 64u        /* bytes of a runtime name, NUL included */
#define FL_RUNTIME_ENVIRON_MAX 65536u /* bytes of one environ file read */
#define FL_RUNTIME_PROCS_MAX 4096u    /* /proc entries looked at */

enum fl_runtime_source {
    FL_RT_INIT_START,
    FL_RT_PROC,
    FL_RT_OS_RELEASE,
    FL_RT_UNKNOWN,
};

/* Source 1 alone: false when rv is not "<family>:<version>[.v<n>]". */
bool fl_runtime_from_version(const char *rv, char *out, size_t cap);
/* Source 2 alone. */
bool fl_runtime_from_proc(const char *proc_root, char *out, size_t cap);
/* Source 3 alone. */
bool fl_runtime_from_os_release(const char *path, char *out, size_t cap);

/* Sources 2, 3, 4 in order (source 1 is the caller's: it arrives as a
 * frame). out always gets a name; cap >= FL_RUNTIME_MAX. */
enum fl_runtime_source fl_runtime_resolve(const char *proc_root, const char *os_release, char *out,
                                          size_t cap);

const char *fl_runtime_source_name(enum fl_runtime_source s);

#endif
