/* config.c — see config.h. Every value is length-checked before it is
 * copied; every parse failure is a warning with the variable's name (never
 * its value when it may be secret) and a fallback to the default. */
#include "config.h"
#include "tags.h"
#include "url.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cfg_getenv_process(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

static void warn(struct cfg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct cfg *c, const char *fmt, ...)
{
    if (c->nwarnings == CFG_WARN_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->warnings[c->nwarnings++], CFG_MSG_MAX, fmt, ap);
    va_end(ap);
}

static void go_idle(struct cfg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void go_idle(struct cfg *c, const char *fmt, ...)
{
    if (c->idle)
        return; /* the first reason is the one reported */
    c->idle = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->idle_reason, CFG_MSG_MAX, fmt, ap);
    va_end(ap);
}

/* First non-empty value among names (NULL-terminated list); *which = name used. */
static const char *lookup(cfg_getenv_fn get, void *arg, const char *const *names, const char **which)
{
    for (; *names; names++) {
        const char *v = get(*names, arg);
        if (v && *v) {
            if (which)
                *which = *names;
            return v;
        }
    }
    return NULL;
}

static const char *get1(cfg_getenv_fn get, void *arg, const char *name)
{
    const char *v = get(name, arg);
    return (v && *v) ? v : NULL;
}

/* Copy s without surrounding whitespace; false when it does not fit. */
static bool copy_trim(char *dst, size_t cap, const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const t[] = {"true", "1", "yes", "on", "y", "t"};
    static const char *const f[] = {"false", "0", "no", "off", "n", "f"};
    char b[16];
    if (!copy_trim(b, sizeof b, s))
        return false;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcasecmp(b, t[i]) == 0) {
            *out = true;
            return true;
        }
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (strcasecmp(b, f[i]) == 0) {
            *out = false;
            return true;
        }
    return false;
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char b[32];
    if (!copy_trim(b, sizeof b, s) || b[0] == '\0' || !isdigit((unsigned char)b[0]))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(b, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static void opt_bool(struct cfg *c, cfg_getenv_fn get, void *arg, const char *name, bool *dst)
{
    const char *v = get1(get, arg, name);
    if (v && !parse_bool(v, dst))
        warn(c, "%s: not a boolean, using %s", name, *dst ? "true" : "false");
}

static void opt_str(struct cfg *c, cfg_getenv_fn get, void *arg, const char *name, char *dst, size_t cap)
{
    const char *v = get1(get, arg, name);
    if (v && !copy_trim(dst, cap, v)) {
        warn(c, "%s: longer than %zu bytes, ignored", name, cap - 1);
        dst[0] = '\0';
    }
}

static void opt_port(struct cfg *c, cfg_getenv_fn get, void *arg, const char *name, uint16_t *dst)
{
    const char *v = get1(get, arg, name);
    uint64_t p;
    if (v == NULL)
        return;
    if (parse_u64(v, 0, 65535, &p))
        *dst = (uint16_t)p;
    else
        warn(c, "%s: not a port number, using %u", name, *dst);
}

static bool host_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '.' || ch == '-' || ch == '_';
}

/* Set dst to the URL (normalised by common/url.c, the one validator, so the
 * flusher can take it as is) or go idle naming the variable. */
static void set_url(struct cfg *c, const char *name, const char *v, char *dst, bool add_scheme,
                    bool proxy)
{
    char tmp[CFG_URL_MAX];
    const char *why = proxy ? url_proxy(v, tmp, sizeof tmp) : url_intake_base(v, add_scheme, tmp, sizeof tmp);
    if (why == NULL) {
        memcpy(dst, tmp, strlen(tmp) + 1);
        explicit_bzero(tmp, sizeof tmp); /* a proxy URL may hold a password */
        return;
    }
    /* a proxy URL may hold credentials: never echo it; an intake URL is
     * echoed only when it has no userinfo */
    if (proxy || strchr(tmp, '@') || strlen(tmp) > 200)
        go_idle(c, "%s is not a valid http(s) URL (%s)", name, why);
    else
        go_idle(c, "%s is not a valid http(s) URL (%s): %s", name, why, tmp);
}

/* user:password@ in a proxy URL: register both the pair and the password. */
static void proxy_secrets(const char *u)
{
    const char *ui;
    size_t n;
    char cred[CFG_URL_MAX];
    if (!url_userinfo(u, &ui, &n) || n >= sizeof cred)
        return;
    memcpy(cred, ui, n);
    cred[n] = '\0';
    log_add_secret(cred);
    char *colon = strchr(cred, ':');
    if (colon)
        log_add_secret(colon + 1);
    explicit_bzero(cred, sizeof cred);
}

/* The variables whose values are secrets (or may hold one). */
static const char *const secret_vars[] = {"DD_API_KEY", "DD_PROXY_HTTPS", "HTTPS_PROXY", "https_proxy",
                                          "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                                          "all_proxy", NULL};

void cfg_forget_secrets(struct cfg *c, char **env)
{
    explicit_bzero(c->api_key, sizeof c->api_key);
    explicit_bzero(c->proxy_https, sizeof c->proxy_https);
    for (char **e = env; e && *e; e++) {
        char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        for (const char *const *n = secret_vars; *n; n++)
            if ((size_t)(eq - *e) == strlen(*n) && memcmp(*e, *n, strlen(*n)) == 0)
                explicit_bzero(eq + 1, strlen(eq + 1));
    }
    log_clear_secrets(); /* the masking table holds copies; wiped as it is freed */
}

/* What the sealed memfd holds: the two fields as they are in struct cfg. */
struct sealed {
    char api_key[CFG_STR_MAX];
    char proxy_https[CFG_URL_MAX];
};

int cfg_seal_secrets(struct cfg *c)
{
    int fd = memfd_create("forkcap-secrets", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    static struct sealed sd; /* static: not left behind on a stack page */
    memcpy(sd.api_key, c->api_key, sizeof sd.api_key);
    memcpy(sd.proxy_https, c->proxy_https, sizeof sd.proxy_https);
    ssize_t w = pwrite(fd, &sd, sizeof sd, 0);
    explicit_bzero(&sd, sizeof sd);
    if (w != (ssize_t)sizeof sd ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
        int e = errno;
        close(fd);
        errno = w != (ssize_t)sizeof sd && w >= 0 ? EIO : e;
        return -1;
    }
    cfg_forget_secrets(c, environ);
    return fd;
}

int cfg_unseal_secrets(struct cfg *c, int fd)
{
    static struct sealed sd;
    ssize_t r = pread(fd, &sd, sizeof sd, 0);
    close(fd);
    if (r != (ssize_t)sizeof sd || memchr(sd.api_key, '\0', sizeof sd.api_key) == NULL ||
        memchr(sd.proxy_https, '\0', sizeof sd.proxy_https) == NULL) {
        explicit_bzero(&sd, sizeof sd);
        return -1;
    }
    memcpy(c->api_key, sd.api_key, sizeof c->api_key);
    memcpy(c->proxy_https, sd.proxy_https, sizeof c->proxy_https);
    explicit_bzero(&sd, sizeof sd);
    if (c->api_key[0])
        log_add_secret(c->api_key);
    if (c->proxy_https[0])
        proxy_secrets(c->proxy_https);
    return 0;
}

const char *cfg_flush_name(enum cfg_flush_kind k)
{
    switch (k) {
    case CFG_FLUSH_DEFAULT: return "default";
    case CFG_FLUSH_END: return "end";
    case CFG_FLUSH_END_PERIODIC: return "end,periodic";
    case CFG_FLUSH_PERIODICALLY: return "periodically";
    case CFG_FLUSH_CONTINUOUSLY: return "continuously";
    }
    return "?";
}

bool cfg_parse_flush(const char *s, struct cfg_flush *out)
{
    char b[64];
    if (s == NULL || !copy_trim(b, sizeof b, s))
        return false;
    char *comma = strchr(b, ',');
    char *ms = NULL;
    if (comma) {
        *comma = '\0';
        ms = comma + 1;
        while (isspace((unsigned char)*ms))
            ms++;
        size_t n = strlen(b);
        while (n > 0 && isspace((unsigned char)b[n - 1]))
            b[--n] = '\0';
    }
    uint64_t iv = 0;
    if (ms && !parse_u64(ms, 1, 86400000u, &iv))
        return false;
    if (strcasecmp(b, "default") == 0 && !ms) {
        *out = (struct cfg_flush){CFG_FLUSH_DEFAULT, 0};
    } else if (strcasecmp(b, "end") == 0) {
        *out = (struct cfg_flush){ms ? CFG_FLUSH_END_PERIODIC : CFG_FLUSH_END, (uint32_t)iv};
    } else if (strcasecmp(b, "periodically") == 0 && ms) {
        *out = (struct cfg_flush){CFG_FLUSH_PERIODICALLY, (uint32_t)iv};
    } else if (strcasecmp(b, "continuously") == 0 && ms) {
        *out = (struct cfg_flush){CFG_FLUSH_CONTINUOUSLY, (uint32_t)iv};
    } else {
        return false;
    }
    return true;
}

bool cfg_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return false;
    size_t hl = (size_t)(colon - s);
    const char *h = s;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hostlen)
        return false;
    for (size_t i = 0; i < hl; i++)
        if (!host_char(h[i]) && h[i] != ':')
            return false;
    uint64_t p;
    if (!parse_u64(colon + 1, 1, 65535, &p))
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return true;
}

int cfg_load(struct cfg *c, cfg_getenv_fn get, void *arg)
{
    memset(c, 0, sizeof *c);
    const char *v, *which = NULL;

    /* secrets first, so no later line can show them */
    v = get1(get, arg, "DD_API_KEY");
    if (v)
        log_add_secret(v);
    static const char *const proxy_names[] = {"DD_PROXY_HTTPS", "HTTPS_PROXY", "https_proxy", NULL};
    for (const char *const *n = proxy_names; *n; n++) {
        const char *pv = get1(get, arg, *n);
        if (pv)
            proxy_secrets(pv);
    }

    /* defaults */
    snprintf(c->site, sizeof c->site, "datadoghq.com");
    c->flush_timeout_s = 30;
    c->metric_contexts = 1024;
    c->http_protocol = CFG_HTTP_AUTO;
    c->compression_level = 3;
    c->log_level = LOG_INFO;
    c->flush = (struct cfg_flush){CFG_FLUSH_DEFAULT, 0};
    c->logs_enabled = true;
    c->enhanced_metrics = true;
    c->port_dogstatsd = 8125;
    c->dogstatsd_rcvbuf = CFG_DSD_RCVBUF_DEFAULT;
    c->port_apm = 8126;
    c->port_telemetry = 8999;
    c->port_lambda = 8124;

    /* Lambda's own variables: without the Runtime API nothing can run */
    v = get1(get, arg, "AWS_LAMBDA_RUNTIME_API");
    char host[CFG_STR_MAX];
    uint16_t port;
    if (v == NULL) {
        snprintf(c->error, sizeof c->error, "AWS_LAMBDA_RUNTIME_API is not set: not running in Lambda");
        return -1;
    }
    if (!copy_trim(c->runtime_api, sizeof c->runtime_api, v) ||
        !cfg_split_hostport(c->runtime_api, host, sizeof host, &port)) {
        snprintf(c->error, sizeof c->error, "AWS_LAMBDA_RUNTIME_API is not host:port: %.100s", v);
        return -1;
    }
    opt_str(c, get, arg, "AWS_LAMBDA_FUNCTION_NAME", c->fn_name, sizeof c->fn_name);
    opt_str(c, get, arg, "AWS_REGION", c->region, sizeof c->region);
    v = get1(get, arg, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
    if (v) {
        uint64_t m;
        if (parse_u64(v, 1, 1u << 20, &m))
            c->memory_mb = (uint32_t)m;
        else
            warn(c, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE: not a size in MB, ignored");
    }

    /* logging */
    v = get1(get, arg, "DD_LOG_LEVEL");
    if (v && !log_level_parse(v, &c->log_level)) {
        c->log_level = LOG_INFO;
        warn(c, "DD_LOG_LEVEL: unknown level, using info");
    }

    /* API key: an AWS secret source (resolved by the flusher) wins over DD_API_KEY */
    static const struct {
        const char *name;
        enum cfg_key_source src;
    } key_srcs[] = {{"DD_KMS_API_KEY", CFG_KEY_KMS},
                    {"DD_API_KEY_SECRET_ARN", CFG_KEY_SECRET_ARN},
                    {"DD_API_KEY_SSM_ARN", CFG_KEY_SSM},
                    {"DD_API_KEY_SSM_NAME", CFG_KEY_SSM}};
    for (size_t i = 0; i < sizeof key_srcs / sizeof key_srcs[0] && c->key_source == CFG_KEY_ENV; i++) {
        v = get1(get, arg, key_srcs[i].name);
        if (v == NULL)
            continue;
        snprintf(c->key_source_var, sizeof c->key_source_var, "%s", key_srcs[i].name);
        c->key_source = key_srcs[i].src;
        if (!copy_trim(c->key_source_value, sizeof c->key_source_value, v) || c->key_source_value[0] == '\0')
            go_idle(c, "%s is empty or longer than %u bytes", key_srcs[i].name, CFG_KEY_SOURCE_MAX - 1);
    }
    opt_bool(c, get, arg, "DD_FIPS_MODE", &c->fips_mode);
    if ((v = get1(get, arg, "FORKCAP_AWS_ENDPOINT_URL")) != NULL)
        set_url(c, "FORKCAP_AWS_ENDPOINT_URL", v, c->aws_endpoint_url, false, false);
    v = c->key_source == CFG_KEY_ENV ? get1(get, arg, "DD_API_KEY") : NULL;
    if (c->key_source != CFG_KEY_ENV) {
        /* not idle: the flusher resolves the key */
    } else if (v == NULL) {
        go_idle(c, "DD_API_KEY is not set");
    } else if (!copy_trim(c->api_key, sizeof c->api_key, v)) {
        go_idle(c, "DD_API_KEY is longer than %u bytes", CFG_STR_MAX - 1);
    } else if (c->api_key[0] == '\0') {
        go_idle(c, "DD_API_KEY is empty");
    } else {
        for (const char *p = c->api_key; *p; p++)
            if (!isalnum((unsigned char)*p)) {
                go_idle(c, "DD_API_KEY holds characters other than letters and digits");
                c->api_key[0] = '\0';
                break;
            }
    }

    /* site and endpoints */
    v = get1(get, arg, "DD_SITE");
    if (v) {
        char s[CFG_STR_MAX];
        const char *why = url_site(v, s, sizeof s);
        if (why)
            go_idle(c, "DD_SITE is not a host name (%s): %.100s", why, v);
        else
            memcpy(c->site, s, sizeof s);
    }
    snprintf(c->metrics_url, sizeof c->metrics_url, "https://api.%s", c->site);
    snprintf(c->logs_url, sizeof c->logs_url, "https://http-intake.logs.%s", c->site);
    snprintf(c->apm_url, sizeof c->apm_url, "https://trace.agent.%s", c->site);
    static const char *const dd_url[] = {"DD_DD_URL", "DD_URL", NULL};
    if ((v = lookup(get, arg, dd_url, &which)) != NULL)
        set_url(c, which, v, c->metrics_url, false, false);
    if ((v = get1(get, arg, "DD_LOGS_CONFIG_LOGS_DD_URL")) != NULL)
        set_url(c, "DD_LOGS_CONFIG_LOGS_DD_URL", v, c->logs_url, true, false);
    if ((v = get1(get, arg, "DD_APM_DD_URL")) != NULL)
        set_url(c, "DD_APM_DD_URL", v, c->apm_url, false, false);

    /* proxy */
    if ((v = lookup(get, arg, proxy_names, &which)) != NULL)
        set_url(c, which, v, c->proxy_https, false, true);
    static const char *const no_proxy[] = {"DD_PROXY_NO_PROXY", "NO_PROXY", "no_proxy", NULL};
    if ((v = lookup(get, arg, no_proxy, &which)) != NULL && !copy_trim(c->no_proxy, sizeof c->no_proxy, v)) {
        warn(c, "%s: longer than %u bytes, ignored", which, CFG_LIST_MAX - 1);
        c->no_proxy[0] = '\0';
    }

    /* transport */
    v = get1(get, arg, "DD_FLUSH_TIMEOUT");
    if (v) {
        uint64_t t;
        if (parse_u64(v, 1, 900, &t))
            c->flush_timeout_s = (uint32_t)t;
        else
            warn(c, "DD_FLUSH_TIMEOUT: not a number of seconds in 1..900, using 30");
    }
    v = get1(get, arg, "DD_DOGSTATSD_SO_RCVBUF");
    if (v) {
        uint64_t t;
        if (parse_u64(v, 0, 1u << 30, &t))
            c->dogstatsd_rcvbuf = (uint32_t)t;
        else
            warn(c, "DD_DOGSTATSD_SO_RCVBUF: not a number of bytes in 0..1073741824, using %u",
                 CFG_DSD_RCVBUF_DEFAULT);
    }
    v = get1(get, arg, "DD_HTTP_PROTOCOL");
    if (v) {
        char p[16] = "";
        copy_trim(p, sizeof p, v);
        if (strcasecmp(p, "http1") == 0)
            c->http_protocol = CFG_HTTP1;
        else if (strcasecmp(p, "auto") != 0 && strcasecmp(p, "http2") != 0)
            warn(c, "DD_HTTP_PROTOCOL: unknown value, using auto");
    }
    v = get1(get, arg, "DD_TLS_CERT_FILE");
    if (v) {
        struct stat st;
        if (!copy_trim(c->tls_cert_file, sizeof c->tls_cert_file, v)) {
            c->tls_cert_file[0] = '\0';
            go_idle(c, "DD_TLS_CERT_FILE is longer than %u bytes", CFG_PATH_MAX - 1);
        } else if (access(c->tls_cert_file, R_OK) != 0) {
            go_idle(c, "DD_TLS_CERT_FILE %.200s is not readable: %s", c->tls_cert_file, strerror(errno));
        } else if (stat(c->tls_cert_file, &st) != 0 || !S_ISREG(st.st_mode)) {
            go_idle(c, "DD_TLS_CERT_FILE %.200s is not a regular file", c->tls_cert_file);
        }
    }
    opt_bool(c, get, arg, "DD_SKIP_SSL_VALIDATION", &c->skip_ssl_validation);
    v = get1(get, arg, "DD_COMPRESSION_LEVEL");
    if (v) {
        uint64_t l;
        if (parse_u64(v, 0, 22, &l))
            c->compression_level = (int)l;
        else
            warn(c, "DD_COMPRESSION_LEVEL: not a level in 0..22, using 3");
    }

    /* behaviour */
    v = get1(get, arg, "DD_SERVERLESS_FLUSH_STRATEGY");
    if (v && !cfg_parse_flush(v, &c->flush)) {
        c->flush = (struct cfg_flush){CFG_FLUSH_DEFAULT, 0};
        warn(c, "DD_SERVERLESS_FLUSH_STRATEGY: invalid value %.64s, using default", v);
    }
    /* DD_SERVERLESS_LOGS_ENABLED wins over DD_LOGS_ENABLED when both are set */
    opt_bool(c, get, arg, "DD_LOGS_ENABLED", &c->logs_enabled);
    opt_bool(c, get, arg, "DD_SERVERLESS_LOGS_ENABLED", &c->logs_enabled);
    opt_bool(c, get, arg, "DD_ENHANCED_METRICS", &c->enhanced_metrics);
    opt_str(c, get, arg, "DD_ENV", c->env, sizeof c->env);
    opt_str(c, get, arg, "DD_SERVICE", c->service, sizeof c->service);
    opt_str(c, get, arg, "DD_VERSION", c->version, sizeof c->version);
    v = get1(get, arg, "DD_TAGS");
    if (v) {
        struct tags_parse_stats ts;
        if (tags_parse(v, c->tags, sizeof c->tags, &ts) != 0)
            warn(c, "DD_TAGS: longer than %u bytes, ignored", CFG_LIST_MAX - 1);
        else if (ts.skipped)
            warn(c, "DD_TAGS: %u item(s) not of the form key:value (or past %u items) ignored",
                 ts.skipped, TAGS_ITEMS_MAX);
    }
    v = get1(get, arg, "FORKCAP_METRIC_CONTEXTS");
    if (v) {
        uint64_t n;
        if (parse_u64(v, 16, 100000, &n))
            c->metric_contexts = (uint32_t)n;
        else
            warn(c, "FORKCAP_METRIC_CONTEXTS: not a number in 16..100000, using 1024");
    }

    opt_port(c, get, arg, "DD_DOGSTATSD_PORT", &c->port_dogstatsd);
    opt_port(c, get, arg, "DD_APM_RECEIVER_PORT", &c->port_apm);
    opt_port(c, get, arg, "FORKCAP_TELEMETRY_PORT", &c->port_telemetry);
    opt_port(c, get, arg, "FORKCAP_LAMBDA_PORT", &c->port_lambda);
    return 0;
}
