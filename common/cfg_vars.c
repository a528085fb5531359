/* cfg_vars.c — see cfg_vars.h. */
#include "cfg_vars.h"

#include <stdio.h>
#include <string.h>

const struct cfg_var cfg_vars[] = {
    {"DD_API_KEY", "intake key; unset (and no AWS source below): forkcap runs idle (registers, follows invocations, "
                   "sends nothing)"},
    {"DD_KMS_API_KEY", "the key as a KMS ciphertext (base64), decrypted at start (wins over the sources below)"},
    {"DD_API_KEY_SECRET_ARN", "the key in a Secrets Manager secret (its ARN), read at start"},
    {"DD_API_KEY_SSM_ARN", "the key in an SSM parameter (its ARN, or name), read with decryption at start"},
    {"DD_API_KEY_SSM_NAME", "same as DD_API_KEY_SSM_ARN, by parameter name"},
    {"DD_FIPS_MODE", "true: AWS calls for the key go to <service>-fips endpoints (default false)"},
    {"FORKCAP_AWS_ENDPOINT_URL", "tests: every AWS call for the key goes to this base URL (still signed)"},
    {"DD_SITE", "intake site (default datadoghq.com)"},
    {"DD_DD_URL", "metrics intake base URL (wins over DD_URL)"},
    {"DD_URL", "metrics intake base URL"},
    {"DD_LOGS_CONFIG_LOGS_DD_URL", "logs intake base URL (host:port gets https://)"},
    {"DD_APM_DD_URL", "traces intake base URL"},
    {"DD_PROXY_HTTPS", "HTTPS proxy for the intake (wins over HTTPS_PROXY, https_proxy)"},
    {"HTTPS_PROXY", "HTTPS proxy for the intake, when DD_PROXY_HTTPS is unset"},
    {"https_proxy", "same as HTTPS_PROXY"},
    {"DD_PROXY_NO_PROXY", "hosts that bypass the proxy (wins over NO_PROXY, no_proxy)"},
    {"NO_PROXY", "hosts that bypass the proxy, when DD_PROXY_NO_PROXY is unset"},
    {"no_proxy", "same as NO_PROXY"},
    {"DD_FLUSH_TIMEOUT", "seconds per intake request and per flush (default 30, 1..900)"},
    {"DD_HTTP_PROTOCOL", "http1 forces HTTP/1.1 (default auto: HTTP/2 when offered, HTTP/1.1 through a proxy)"},
    {"DD_TLS_CERT_FILE", "PEM bundle added to the system CA roots"},
    {"DD_SKIP_SSL_VALIDATION", "true disables certificate verification (default false)"},
    {"DD_COMPRESSION_LEVEL", "zstd level of every payload (default 3, 0..22)"},
    {"DD_LOG_LEVEL", "trace, debug, info, warn, error, off (default info)"},
    {"DD_SERVERLESS_FLUSH_STRATEGY", "end, end,<ms>, periodically,<ms>, continuously,<ms> (default adaptive)"},
    {"DD_SERVERLESS_LOGS_ENABLED", "ship function and extension logs (default true; wins over DD_LOGS_ENABLED)"},
    {"DD_LOGS_ENABLED", "same as DD_SERVERLESS_LOGS_ENABLED"},
    {"DD_ENHANCED_METRICS", "aws.lambda.enhanced.* metrics (default true)"},
    {"DD_ENV", "env tag on every metric and log"},
    {"DD_SERVICE", "service tag on every metric and log"},
    {"DD_VERSION", "version tag on every metric and log"},
    {"DD_TAGS", "more tags, comma or space separated key:value"},
    {"DD_DOGSTATSD_PORT", "DogStatsD UDP port (default 8125; 0 = any, see FORKCAP_STATS_FILE)"},
    {"DD_DOGSTATSD_SO_RCVBUF", "DogStatsD socket receive buffer in bytes (default 16 MiB; 0 = kernel default)"},
    {"DD_APM_RECEIVER_PORT", "trace receiver port (default 8126)"},
    {"FORKCAP_TELEMETRY_PORT", "Telemetry API listener port (default 8999)"},
    {"FORKCAP_LAMBDA_PORT", "/lambda/* endpoints port (default 8124)"},
    {"FORKCAP_METRIC_CONTEXTS", "custom metric contexts held at once (default 1024, 16..100000; "
                                "enhanced metrics have their own)"},
    {"FORKCAP_STATS_FILE", "write the supervisor's state, checkpoints and bound ports here as JSON"},
    {"AWS_LAMBDA_RUNTIME_API", "set by Lambda: the Runtime API host:port (required, except for check)"},
    {"AWS_LAMBDA_FUNCTION_NAME", "set by Lambda: function name"},
    {"AWS_REGION", "set by Lambda: region"},
    {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "set by Lambda: memory size in MB"},
    {"AWS_LAMBDA_INITIALIZATION_TYPE", "set by Lambda: on-demand, provisioned-concurrency, snap-start"},
    {"AWS_ACCESS_KEY_ID", "set by Lambda: credentials that sign the AWS calls for the key"},
    {"AWS_SECRET_ACCESS_KEY", "set by Lambda: see AWS_ACCESS_KEY_ID (never logged)"},
    {"AWS_SESSION_TOKEN", "set by Lambda: see AWS_ACCESS_KEY_ID (never logged)"},
    {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "set under SnapStart: where the credentials come from"},
    {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "set under SnapStart: the token for that URI (never logged)"},
    {NULL, NULL},
};

/* Read by Datadog's libraries inside the function (datadog-lambda-js,
 * -python, the tracers), not by an extension: not worth a warning. */
static const char *const lib_only[] = {
    "DD_LAMBDA_HANDLER", "DD_FLUSH_TO_LOG", "DD_LOGS_INJECTION", "DD_MERGE_XRAY_TRACES",
    "DD_COLD_START_TRACING", "DD_MIN_COLD_START_DURATION", "DD_COLD_START_TRACE_SKIP_LIB",
    "DD_ENCODE_AUTHORIZER_CONTEXT", "DD_DECODE_AUTHORIZER_CONTEXT", "DD_TRACE_MANAGED_SERVICES",
    "DD_PROFILING_ENABLED", "DD_INTEGRATION_TEST", "DD_ENHANCED_METRICS_LIB", NULL,
};

static bool in_list(const char *const *list, const char *name, size_t len)
{
    for (; *list; list++)
        if (strlen(*list) == len && memcmp(*list, name, len) == 0)
            return true;
    return false;
}

bool cfg_var_honoured(const char *name, size_t len)
{
    if (len == 0)
        len = strlen(name);
    for (const struct cfg_var *v = cfg_vars; v->name; v++)
        if (strlen(v->name) == len && memcmp(v->name, name, len) == 0)
            return true;
    return false;
}

unsigned cfg_unhonoured(char *const *envp, char *out, size_t cap)
{
    unsigned n = 0;
    size_t used = 0;
    bool cut = false;
    if (cap)
        out[0] = '\0';
    for (char *const *e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL || strncmp(*e, "DD_", 3) != 0)
            continue;
        size_t len = (size_t)(eq - *e);
        if (cfg_var_honoured(*e, len) || in_list(lib_only, *e, len))
            continue;
        n++;
        if (cut || cap == 0)
            continue;
        /* room for ", " + name + ", ..." + NUL */
        if (used + 2 + len + 6 > cap) {
            cut = true;
            if (used + 6 <= cap)
                used += (size_t)snprintf(out + used, cap - used, "%s...", used ? ", " : "");
            continue;
        }
        used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? ", " : "", (int)len, *e);
    }
    return n;
}
