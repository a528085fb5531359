/* config.h — the extension's configuration, from the environment, with
 * Datadog's names and defaults. Bad values warn and fall back; a config that
 * cannot ship anything (no key, bad URL, unreadable cert) sets idle mode. */
#ifndef FORKCAP_CONFIG_H
#define FORKCAP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"

#define CFG_STR_MAX 256u
#define CFG_URL_MAX 1024u
#define CFG_LIST_MAX 4096u
#define CFG_PATH_MAX 1024u
#define CFG_WARN_MAX 16u
#define CFG_MSG_MAX 320u

enum cfg_flush_kind {
    CFG_FLUSH_DEFAULT,        /* adaptive (see datadog-intake.md) */
    CFG_FLUSH_END,            /* "end" */
    CFG_FLUSH_END_PERIODIC,   /* "end,<ms>": at each end and every <ms> */
    CFG_FLUSH_PERIODICALLY,   /* "periodically,<ms>" */
    CFG_FLUSH_CONTINUOUSLY,   /* "continuously,<ms>" */
};

enum cfg_http { CFG_HTTP_AUTO, CFG_HTTP1 };

/* Where the API key comes from (flusher/aws_secrets.h). */
enum cfg_key_source { CFG_KEY_ENV, CFG_KEY_KMS, CFG_KEY_SECRET_ARN, CFG_KEY_SSM };

#define CFG_KEY_SOURCE_MAX 8192u /* a KMS ciphertext in base64 */

struct cfg_flush {
    enum cfg_flush_kind kind;
    uint32_t interval_ms; /* 0 for default and end */
};

/* DogStatsD socket receive buffer: ~20,000 small datagrams, 60+ ms of a
 * 300,000/s burst while the flusher is busy or restarting */
#define CFG_DSD_RCVBUF_DEFAULT (16u * 1024u * 1024u)

struct cfg {
    /* intake */
    char api_key[CFG_STR_MAX];      /* DD_API_KEY, trimmed; never log it */
    enum cfg_key_source key_source; /* DD_KMS_API_KEY, DD_API_KEY_SECRET_ARN, DD_API_KEY_SSM_ARN,
                                       DD_API_KEY_SSM_NAME (first set wins, over
                                       DD_API_KEY): the flusher
                                       resolves it; api_key stays "" */
    char key_source_var[32];        /* the variable's name */
    char key_source_value[CFG_KEY_SOURCE_MAX]; /* ciphertext, ARN or parameter name */
    char aws_endpoint_url[CFG_URL_MAX]; /* FORKCAP_AWS_ENDPOINT_URL (tests): every AWS call here */
    bool fips_mode;                 /* DD_FIPS_MODE: AWS <service>-fips hosts */
    char site[CFG_STR_MAX];         /* DD_SITE, default datadoghq.com */
    char metrics_url[CFG_URL_MAX];  /* DD_DD_URL, DD_URL, else https://api.<site> */
    char logs_url[CFG_URL_MAX];     /* DD_LOGS_CONFIG_LOGS_DD_URL (https:// added when no
                                       scheme), else https://http-intake.logs.<site> */
    char apm_url[CFG_URL_MAX];      /* DD_APM_DD_URL, else https://trace.agent.<site> */
    char proxy_https[CFG_URL_MAX];  /* DD_PROXY_HTTPS, HTTPS_PROXY, https_proxy; "" = none */
    char no_proxy[CFG_LIST_MAX];    /* DD_PROXY_NO_PROXY, NO_PROXY, no_proxy */
    uint32_t flush_timeout_s;       /* DD_FLUSH_TIMEOUT, default 30, 1..900 */
    enum cfg_http http_protocol;    /* DD_HTTP_PROTOCOL: "http1" forces HTTP/1.1 */
    char tls_cert_file[CFG_PATH_MAX]; /* DD_TLS_CERT_FILE, "" = none; checked readable */
    bool skip_ssl_validation;       /* DD_SKIP_SSL_VALIDATION, default false */
    int compression_level;          /* DD_COMPRESSION_LEVEL, default 3, 0..22 */
    /* behaviour */
    enum log_level log_level;       /* DD_LOG_LEVEL, default info */
    struct cfg_flush flush;         /* DD_SERVERLESS_FLUSH_STRATEGY */
    bool logs_enabled;              /* DD_SERVERLESS_LOGS_ENABLED, DD_LOGS_ENABLED; true */
    bool enhanced_metrics;          /* DD_ENHANCED_METRICS, default true */
    char env[CFG_STR_MAX];          /* DD_ENV */
    char service[CFG_STR_MAX];      /* DD_SERVICE */
    char version[CFG_STR_MAX];      /* DD_VERSION */
    char tags[CFG_LIST_MAX];        /* DD_TAGS, canonical "k:v,k:v" (common/tags.h) */
    uint32_t metric_contexts;       /* FORKCAP_METRIC_CONTEXTS: custom (DogStatsD) metric
                                       contexts held at once, default 1024, 16..100000;
                                       enhanced metrics have their own */
    /* ports; 0 = any free port (tests) */
    uint16_t port_dogstatsd;        /* DD_DOGSTATSD_PORT, 8125/udp */
    uint32_t dogstatsd_rcvbuf;      /* DD_DOGSTATSD_SO_RCVBUF bytes, 0 = the kernel's default */
    uint16_t port_apm;              /* DD_APM_RECEIVER_PORT, 8126 */
    uint16_t port_telemetry;        /* FORKCAP_TELEMETRY_PORT, 8999 */
    uint16_t port_lambda;           /* FORKCAP_LAMBDA_PORT, 8124 */
    /* Lambda's own variables */
    char runtime_api[CFG_STR_MAX];  /* AWS_LAMBDA_RUNTIME_API host:port (required) */
    char fn_name[CFG_STR_MAX];      /* AWS_LAMBDA_FUNCTION_NAME */
    char region[CFG_STR_MAX];       /* AWS_REGION */
    uint32_t memory_mb;             /* AWS_LAMBDA_FUNCTION_MEMORY_SIZE, 0 = unknown */
    /* outcome */
    bool idle;                      /* nothing can be shipped: register and /next only */
    char idle_reason[CFG_MSG_MAX];
    char warnings[CFG_WARN_MAX][CFG_MSG_MAX];
    unsigned nwarnings;
    char error[CFG_MSG_MAX];        /* set when cfg_load fails */
};

/* Environment lookup, so tests need not touch the real environment. */
typedef const char *(*cfg_getenv_fn)(const char *name, void *arg);
/* The process environment (getenv). */
const char *cfg_getenv_process(const char *name, void *arg);

/* Fill c from the environment. Registers the API key and proxy credentials
 * with log_add_secret before anything else. Returns 0 (possibly idle, with
 * warnings), or -1 when forkcap cannot run at all (no usable
 * AWS_LAMBDA_RUNTIME_API), with c->error set. Nothing is printed. */
int cfg_load(struct cfg *c, cfg_getenv_fn get, void *arg);

/* Least privilege, for a process that has no use for them (the lifecycle
 * child, right after the fork): overwrite the API key and the proxy URL in
 * c, the values of those variables in env (the process environment, so
 * neither its memory nor /proc/<pid>/environ shows them) and the log
 * masking table's copies (log_clear_secrets). */
void cfg_forget_secrets(struct cfg *c, char **env);

/* The supervisor holds the secrets for the flusher's restarts without
 * keeping them in its memory: cfg_seal_secrets copies the API key and the
 * proxy URL into a sealed memfd (write, grow, shrink and further seals
 * refused; never mapped), then forgets them (cfg_forget_secrets). Returns
 * the descriptor, or -1 with errno (no memfd or sealing: the caller keeps
 * them in memory). A child that needs them calls cfg_unseal_secrets right
 * after the fork: it reads them back into its copy of c, registers them
 * with the log masking again and closes fd; 0, or -1 (fd closed, c left
 * without secrets). A child that does not need them just closes fd. */
int cfg_seal_secrets(struct cfg *c);
int cfg_unseal_secrets(struct cfg *c, int fd);

/* Parse a DD_SERVERLESS_FLUSH_STRATEGY value; false when invalid. */
bool cfg_parse_flush(const char *s, struct cfg_flush *out);
const char *cfg_flush_name(enum cfg_flush_kind k);

/* Split "host:port" (AWS_LAMBDA_RUNTIME_API); false when malformed. */
bool cfg_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

#endif
