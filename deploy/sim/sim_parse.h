/* sim_parse.h — lambda-sim's parsers of request bodies from extensions:
 * pure functions (no simulator state), so a fuzz target can drive them. */
#ifndef SIM_PARSE_H
#define SIM_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* A register body: {"events":[...]} (configurationKeys must be empty). */
struct sim_reg_req {
    bool ev_invoke, ev_shutdown;
};

/* Returns 0, or -1 with *err_type set to the Extensions API errorType and
 * msg filled. body need not be NUL-terminated. */
int sim_parse_register(const char *body, size_t len, struct sim_reg_req *out,
                       const char **err_type, char *msg, size_t msglen);

/* A Telemetry API subscription, validated against Lambda's limits. */
struct sim_sub_req {
    char uri[512];
    char host[256];       /* sandbox.localdomain / sandbox / localhost -> 127.0.0.1 */
    int port;
    char path[256];
    bool want_platform, want_function, want_extension;
    int max_items, max_bytes, timeout_ms;
    bool tcp;             /* {"protocol":"TCP","port":N}: NDJSON to 127.0.0.1:port (uri "tcp://...") */
};

/* Returns 0, or -1 with msg filled (the API answers 400 ValidationError).
 * logs_api: the Logs API's body (PUT /2020-08-15/logs: schemaVersion optional). */
int sim_parse_subscribe(const char *body, size_t len, struct sim_sub_req *out, char *msg, size_t msglen);
int sim_parse_logs_subscribe(const char *body, size_t len, struct sim_sub_req *out, char *msg, size_t msglen);

#endif
