/* aws_secrets.c — see aws_secrets.h. One call at a time: the credentials
 * (SnapStart only), then the secret's API; each on fl_intake_raw, each
 * retried on its own, the KMS call once more with the encryption context. */
#include "aws_secrets.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "aws_sigv4.h"
#include "clock.h"
#include "errbuf.h"
#include "log.h"

#define HOST_MAX 300u
#define URL_MAX_AWS 1100u

/* ---- pure helpers -------------------------------------------------------- */

static bool region_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 32 || r[0] == '-' || r[n - 1] == '-')
        return false;
    for (; *r; r++)
        if (!(islower((unsigned char)*r) || isdigit((unsigned char)*r) || *r == '-'))
            return false;
    return true;
}

int aws_arn_region(const char *arn, char *region, size_t cap)
{
    if (arn == NULL || strncmp(arn, "arn:", 4) != 0)
        return -1;
    const char *p = arn;
    for (int field = 0; field < 3; field++) {
        p = strchr(p, ':');
        if (p == NULL)
            return -1;
        p++;
    }
    const char *end = strchr(p, ':');
    if (end == NULL || (size_t)(end - p) >= cap || end == p)
        return -1;
    memcpy(region, p, (size_t)(end - p));
    region[end - p] = '\0';
    return region_ok(region) ? 0 : -1;
}

int aws_host(const char *service, const char *region, bool fips, char *out, size_t cap)
{
    if (!region_ok(region))
        return -1;
    const char *domain = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
    int w = snprintf(out, cap, "%s%s.%s.%s", service, fips ? "-fips" : "", region, domain);
    return (w < 0 || (size_t)w >= cap) ? -1 : 0;
}

size_t aws_key_clean(char *key)
{
    size_t n = strlen(key);
    while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r'))
        key[--n] = '\0';
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (key[i] != ' ')
            key[w++] = key[i];
    key[w] = '\0';
    return w;
}

/* AWS JSON error: "__type" (possibly "namespace#Code"), else the
 * x-amzn-ErrorType convention is not available here: "HTTP <status>". */
static void error_code(json_t *j, long status, char *code, size_t ccap)
{
    const char *t = j ? json_string_value(json_object_get(j, "__type")) : NULL;
    if (t == NULL && j)
        t = json_string_value(json_object_get(j, "code"));
    if (t) {
        const char *h = strrchr(t, '#');
        if (h)
            t = h + 1;
        size_t w = 0;
        for (; *t && w + 1 < ccap; t++)
            if (isalnum((unsigned char)*t) || *t == '.' || *t == '_' || *t == '-')
                code[w++] = *t;
        code[w] = '\0';
        if (w > 0)
            return;
    }
    errbuf_set(code, ccap, "HTTP %ld", status);
}

static bool text_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == 0)
            return false;
    return true;
}

enum aws_answer aws_parse_answer(enum aws_op op, long http_status, const char *body, size_t len, char *value,
                                 size_t vcap, char *code, size_t ccap)
{
    value[0] = '\0';
    code[0] = '\0';
    json_error_t je;
    json_t *j = (body && len) ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (http_status < 200 || http_status >= 300) {
        error_code(json_is_object(j) ? j : NULL, http_status, code, ccap);
        json_decref(j);
        return AWS_ANS_ERROR;
    }
    enum aws_answer a = AWS_ANS_BAD;
    if (!json_is_object(j)) {
        errbuf_set(code, ccap, "answer is not a JSON object");
        goto out;
    }
    json_t *v = NULL;
    switch (op) {
    case AWS_OP_SM:
        v = json_object_get(j, "SecretString");
        if (!json_is_string(v)) {
            errbuf_set(code, ccap, "no SecretString (a binary secret cannot hold an API key)");
            goto out;
        }
        break;
    case AWS_OP_SSM:
        v = json_object_get(json_object_get(j, "Parameter"), "Value");
        if (!json_is_string(v)) {
            errbuf_set(code, ccap, "no Parameter.Value");
            goto out;
        }
        break;
    case AWS_OP_KMS:
        v = json_object_get(j, "Plaintext");
        if (!json_is_string(v)) {
            errbuf_set(code, ccap, "no Plaintext");
            goto out;
        }
        break;
    case AWS_OP_CREDS:
        errbuf_set(code, ccap, "not a secret call");
        goto out;
    }
    const char *s = json_string_value(v);
    size_t sl = json_string_length(v);
    if (op == AWS_OP_KMS) {
        /* base64: decoded size <= 3/4 of the text */
        if (sl == 0 || sl % 4 != 0 || sl / 4 * 3 >= vcap) {
            errbuf_set(code, ccap, "Plaintext is not base64 of a key-sized value");
            goto out;
        }
        int n = EVP_DecodeBlock((unsigned char *)value, (const unsigned char *)s, (int)sl);
        if (n < 0) {
            value[0] = '\0';
            errbuf_set(code, ccap, "Plaintext is not base64");
            goto out;
        }
        /* EVP_DecodeBlock counts the '=' padding as zero bytes */
        if (sl >= 1 && s[sl - 1] == '=')
            n--;
        if (sl >= 2 && s[sl - 2] == '=')
            n--;
        value[n] = '\0';
        if (!text_ok((const unsigned char *)value, (size_t)n)) {
            OPENSSL_cleanse(value, vcap);
            errbuf_set(code, ccap, "Plaintext is not text");
            goto out;
        }
    } else {
        if (sl >= vcap || !text_ok((const unsigned char *)s, sl)) {
            errbuf_set(code, ccap, "value longer than %zu bytes or not text", vcap - 1);
            goto out;
        }
        memcpy(value, s, sl + 1);
    }
    a = AWS_ANS_OK;
out:
    if (j) {
        /* the parsed tree holds the secret too */
        json_t *sv = op == AWS_OP_SSM ? json_object_get(json_object_get(j, "Parameter"), "Value")
                                      : json_object_get(j, op == AWS_OP_SM ? "SecretString" : "Plaintext");
        if (json_is_string(sv))
            json_string_set(sv, "");
        json_decref(j);
    }
    return a;
}

int aws_parse_creds(long http_status, const char *body, size_t len, struct aws_creds *out, char *code,
                    size_t ccap)
{
    memset(out, 0, sizeof *out);
    code[0] = '\0';
    json_error_t je;
    json_t *j = (body && len) ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    int rc = -1;
    if (http_status < 200 || http_status >= 300) {
        error_code(json_is_object(j) ? j : NULL, http_status, code, ccap);
        goto out;
    }
    if (!json_is_object(j)) {
        errbuf_set(code, ccap, "answer is not a JSON object");
        goto out;
    }
    const struct {
        const char *name;
        char *dst;
        size_t cap;
    } f[] = {{"AccessKeyId", out->access_key_id, sizeof out->access_key_id},
             {"SecretAccessKey", out->secret_access_key, sizeof out->secret_access_key},
             {"Token", out->session_token, sizeof out->session_token}};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(j, f[i].name);
        const char *s = json_string_value(v);
        size_t sl = json_string_length(v);
        if (s == NULL || sl == 0 || sl >= f[i].cap) {
            errbuf_set(code, ccap, "%s missing or too long", f[i].name);
            goto out;
        }
        for (size_t k = 0; k < sl; k++)
            if ((unsigned char)s[k] <= 0x20 || (unsigned char)s[k] >= 0x7f) {
                errbuf_set(code, ccap, "%s holds blanks or non-ASCII", f[i].name);
                goto out;
            }
        memcpy(f[i].dst, s, sl + 1);
    }
    rc = 0;
out:
    if (rc != 0)
        OPENSSL_cleanse(out, sizeof *out);
    json_decref(j);
    return rc;
}

bool aws_retryable(int curl_code, long http_status, const char *code)
{
    static const char *const throttled[] = {"Throttling",          "ThrottlingException",
                                            "ThrottledException",  "TooManyRequestsException",
                                            "RequestLimitExceeded", "RequestThrottled",
                                            "RequestThrottledException", "ProvisionedThroughputExceededException",
                                            "SlowDown",            "ServiceUnavailable",
                                            "InternalFailure",     "InternalServiceError",
                                            "InternalServiceErrorException", "KMSInternalException",
                                            "InternalServerError"};
    if (curl_code != 0 || http_status >= 500 || http_status == 429)
        return true;
    for (size_t i = 0; code && i < sizeof throttled / sizeof throttled[0]; i++)
        if (strcmp(code, throttled[i]) == 0)
            return true;
    return false;
}

/* ---- the resolver -------------------------------------------------------- */

enum step { STEP_CREDS, STEP_CALL };

struct aws_key {
    struct event_base *base;
    struct fl_intake *in;
    aws_key_done_fn done;
    void *arg;
    struct event *backoff;
    enum cfg_key_source source;
    enum aws_op op;
    enum step step;
    bool kms_ctx;     /* the call now carries the encryption context */
    bool finished;
    unsigned attempt; /* of the current call */
    uint64_t t0;
    long timeout_ms, skew_s;
    bool fips;
    char var[32];
    char region[64];    /* the call's region (the ARN's for Secrets Manager) */
    char fn_name[CFG_STR_MAX];
    char endpoint[CFG_URL_MAX];
    char creds_uri[CFG_URL_MAX];
    char creds_token[AWS_TOKEN_MAX];
    char *value;        /* ciphertext, ARN or name (heap: up to CFG_KEY_SOURCE_MAX) */
    struct aws_creds cr;
    char last_code[AWS_CODE_MAX];
    long last_status;
};

static const char *service_of(enum aws_op op)
{
    switch (op) {
    case AWS_OP_SM: return "secretsmanager";
    case AWS_OP_KMS: return "kms";
    case AWS_OP_SSM: return "ssm";
    case AWS_OP_CREDS: return "credentials";
    }
    return "?";
}

static const char *target_of(enum aws_op op)
{
    switch (op) {
    case AWS_OP_SM: return "secretsmanager.GetSecretValue";
    case AWS_OP_KMS: return "TrentService.Decrypt";
    case AWS_OP_SSM: return "AmazonSSM.GetParameter";
    case AWS_OP_CREDS: return "";
    }
    return "?";
}

static const char *api_of(enum aws_op op)
{
    switch (op) {
    case AWS_OP_SM: return "Secrets Manager GetSecretValue";
    case AWS_OP_KMS: return "KMS Decrypt";
    case AWS_OP_SSM: return "SSM GetParameter";
    case AWS_OP_CREDS: return "the SnapStart credentials endpoint";
    }
    return "?";
}

static void finish(struct aws_key *k, const char *key, const char *error)
{
    if (k->finished)
        return;
    k->finished = true;
    double ms = clock_ms_between(k->t0, clock_us());
    OPENSSL_cleanse(&k->cr, sizeof k->cr);
    k->done(key, error, ms, k->arg);
}

static void fail(struct aws_key *k, enum aws_op op, const char *code, long status, int curl_code)
{
    char line[400];
    if (curl_code != 0)
        snprintf(line, sizeof line,
                 "API key from %s not resolved: %s (%s) unreachable after %u attempt%s: %s", k->var, api_of(op),
                 op == AWS_OP_CREDS ? "AWS_CONTAINER_CREDENTIALS_FULL_URI" : k->region, k->attempt,
                 k->attempt == 1 ? "" : "s", code);
    else
        snprintf(line, sizeof line, "API key from %s not resolved: %s%s%s answered %s (HTTP %ld) after %u attempt%s",
                 k->var, api_of(op), op == AWS_OP_CREDS ? "" : " in ", op == AWS_OP_CREDS ? "" : k->region, code,
                 status, k->attempt, k->attempt == 1 ? "" : "s");
    finish(k, NULL, line);
}

static void call(struct aws_key *k);

static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    call(arg);
}

/* Another attempt after a doubling wait, or false when attempts are used up. */
static bool retry_later(struct aws_key *k)
{
    if (k->attempt >= AWS_KEY_ATTEMPTS)
        return false;
    unsigned ms = AWS_KEY_BACKOFF_MS << (k->attempt - 1);
    struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
    if (k->backoff == NULL && (k->backoff = evtimer_new(k->base, backoff_cb, k)) == NULL)
        return false;
    evtimer_add(k->backoff, &tv);
    return true;
}

static void on_creds(const struct fl_raw_resp *r, void *arg)
{
    struct aws_key *k = arg;
    char code[AWS_CODE_MAX + 64];
    if (r->curl_code != 0) {
        log_debug("secrets: credentials attempt %u failed: %s", k->attempt, r->error);
        if (retry_later(k))
            return;
        fail(k, AWS_OP_CREDS, r->error, 0, r->curl_code);
        return;
    }
    if (aws_parse_creds(r->http_status, r->body, r->len, &k->cr, code, sizeof code) != 0) {
        log_debug("secrets: credentials attempt %u: %s", k->attempt, code);
        if (aws_retryable(0, r->http_status, code) && retry_later(k))
            return;
        fail(k, AWS_OP_CREDS, code, r->http_status, 0);
        return;
    }
    log_add_secret(k->cr.secret_access_key);
    log_add_secret(k->cr.session_token);
    log_debug("secrets: SnapStart credentials fetched in %.1f ms", r->ms);
    k->step = STEP_CALL;
    k->attempt = 0;
    call(k);
}

static void on_answer(const struct fl_raw_resp *r, void *arg)
{
    struct aws_key *k = arg;
    char value[AWS_KEY_MAX];
    char code[AWS_CODE_MAX + 64];
    if (r->curl_code != 0) {
        log_debug("secrets: %s attempt %u failed: %s", api_of(k->op), k->attempt, r->error);
        if (retry_later(k))
            return;
        fail(k, k->op, r->error, 0, r->curl_code);
        return;
    }
    enum aws_answer a = aws_parse_answer(k->op, r->http_status, r->body, r->len, value, sizeof value, code, sizeof code);
    if (a == AWS_ANS_OK) {
        size_t n = aws_key_clean(value);
        if (n == 0) {
            OPENSSL_cleanse(value, sizeof value);
            fail(k, k->op, "an empty value", r->http_status, 0);
            return;
        }
        log_add_secret(value);
        log_debug("secrets: %s answered in %.1f ms (attempt %u%s)", api_of(k->op), r->ms, k->attempt,
                  k->kms_ctx ? ", with encryption context" : "");
        finish(k, value, NULL);
        OPENSSL_cleanse(value, sizeof value);
        return;
    }
    log_debug("secrets: %s attempt %u%s: %s (HTTP %ld)", api_of(k->op), k->attempt,
              k->kms_ctx ? " with encryption context" : "", code, r->http_status);
    if (a == AWS_ANS_ERROR && aws_retryable(0, r->http_status, code) && retry_later(k))
        return;
    if (a == AWS_ANS_ERROR && k->op == AWS_OP_KMS && !k->kms_ctx && k->fn_name[0]) {
        /* a console-encrypted key needs the context the console added */
        k->kms_ctx = true;
        k->attempt = 0;
        call(k);
        return;
    }
    fail(k, k->op, code, r->http_status, 0);
}

/* host[:port] of a base URL, as the Host header will carry it */
static int url_authority(const char *url, char *out, size_t cap)
{
    const char *s = strstr(url, "://");
    if (s == NULL)
        return -1;
    s += 3;
    size_t n = strcspn(s, "/?#");
    if (n == 0 || n >= cap)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static char *request_body(struct aws_key *k)
{
    json_t *j = NULL;
    switch (k->op) {
    case AWS_OP_SM:
        j = json_pack("{s:s}", "SecretId", k->value);
        break;
    case AWS_OP_SSM:
        j = json_pack("{s:s,s:b}", "Name", k->value, "WithDecryption", 1);
        break;
    case AWS_OP_KMS:
        if (k->kms_ctx)
            j = json_pack("{s:s,s:{s:s}}", "CiphertextBlob", k->value, "EncryptionContext", "LambdaFunctionName",
                          k->fn_name);
        else
            j = json_pack("{s:s}", "CiphertextBlob", k->value);
        break;
    case AWS_OP_CREDS:
        break;
    }
    if (j == NULL)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static void call(struct aws_key *k)
{
    k->attempt++;
    log_debug("secrets: %s, attempt %u%s", k->step == STEP_CREDS ? api_of(AWS_OP_CREDS) : api_of(k->op),
              k->attempt, k->step == STEP_CALL && k->kms_ctx ? ", with encryption context" : "");
    if (k->step == STEP_CREDS) {
        char auth[AWS_TOKEN_MAX + 32];
        snprintf(auth, sizeof auth, "Authorization: %s", k->creds_token);
        const char *hdrs[] = {auth, "Accept: application/json", NULL};
        struct fl_raw_req req = {.url = k->creds_uri, .headers = hdrs, .timeout_ms = k->timeout_ms, .direct = true};
        int rc = fl_intake_raw(k->in, &req, on_creds, k);
        OPENSSL_cleanse(auth, sizeof auth);
        if (rc != 0)
            fail(k, AWS_OP_CREDS, "the request could not be built", 0, 0);
        return;
    }

    char host[HOST_MAX], url[URL_MAX_AWS];
    if (k->endpoint[0]) {
        if (url_authority(k->endpoint, host, sizeof host) != 0) {
            fail(k, k->op, "FORKCAP_AWS_ENDPOINT_URL has no host", 0, 0);
            return;
        }
        snprintf(url, sizeof url, "%s/", k->endpoint);
    } else {
        if (aws_host(service_of(k->op), k->region, k->fips, host, sizeof host) != 0) {
            fail(k, k->op, "an unusable region", 0, 0);
            return;
        }
        snprintf(url, sizeof url, "https://%s/", host);
    }
    char *body = request_body(k);
    if (body == NULL) {
        fail(k, k->op, "out of memory", 0, 0);
        return;
    }
    char date[SIGV4_DATE_LEN + 1];
    sigv4_amz_date(time(NULL) + k->skew_s, date, sizeof date);
    const char *token = k->cr.session_token;
    struct sigv4_header sh[5] = {{"Content-Type", "application/x-amz-json-1.1"},
                                 {"Host", host},
                                 {"X-Amz-Date", date},
                                 {"X-Amz-Target", target_of(k->op)},
                                 {"X-Amz-Security-Token", token}};
    struct sigv4_request sr = {.method = "POST", .path = "/", .query = "", .headers = sh,
                               .nheaders = token[0] ? 5 : 4, .body = body, .body_len = strlen(body)};
    struct sigv4_scope sc = {.access_key_id = k->cr.access_key_id, .secret_access_key = k->cr.secret_access_key,
                             .region = k->region, .service = service_of(k->op), .amz_date = date};
    static struct sigv4_result sig; /* 9 KiB: off the stack; one loop thread */
    char err[160];
    if (sigv4_sign(&sr, &sc, &sig, err, sizeof err) != 0) {
        free(body);
        fail(k, k->op, err, 0, 0);
        return;
    }
    char h_auth[SIGV4_AUTH_MAX + 32], h_host[HOST_MAX + 16], h_date[64], h_target[96], h_token[AWS_TOKEN_MAX + 32];
    snprintf(h_auth, sizeof h_auth, "Authorization: %s", sig.authorization);
    snprintf(h_host, sizeof h_host, "Host: %s", host);
    snprintf(h_date, sizeof h_date, "X-Amz-Date: %s", date);
    snprintf(h_target, sizeof h_target, "X-Amz-Target: %s", target_of(k->op));
    snprintf(h_token, sizeof h_token, "X-Amz-Security-Token: %s", token);
    const char *hdrs[] = {"Content-Type: application/x-amz-json-1.1", h_host, h_date, h_target, h_auth,
                          token[0] ? h_token : NULL, NULL};
    struct fl_raw_req req = {.url = url, .post = true, .headers = hdrs, .body = body, .len = strlen(body),
                             .timeout_ms = k->timeout_ms};
    int rc = fl_intake_raw(k->in, &req, on_answer, k);
    OPENSSL_cleanse(h_token, sizeof h_token);
    OPENSSL_cleanse(&sig, sizeof sig);
    free(body);
    if (rc != 0)
        fail(k, k->op, "the request could not be built", 0, 0);
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void aws_key_opts_from_env(const struct cfg *c, struct aws_key_opts *o)
{
    static const char *const secret_vars[] = {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                              "AWS_CONTAINER_AUTHORIZATION_TOKEN"};
    for (size_t i = 0; i < sizeof secret_vars / sizeof secret_vars[0]; i++)
        if (env_or_null(secret_vars[i]))
            log_add_secret(getenv(secret_vars[i]));
    *o = (struct aws_key_opts){
        .source = c->key_source,
        .var = c->key_source_var,
        .value = c->key_source_value,
        .region = c->region,
        .fn_name = c->fn_name,
        .access_key_id = env_or_null("AWS_ACCESS_KEY_ID"),
        .secret_access_key = env_or_null("AWS_SECRET_ACCESS_KEY"),
        .session_token = env_or_null("AWS_SESSION_TOKEN"),
        .creds_uri = env_or_null("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        .creds_token = env_or_null("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        .endpoint_url = c->aws_endpoint_url[0] ? c->aws_endpoint_url : NULL,
        .fips = c->fips_mode,
        .timeout_ms = (long)c->flush_timeout_s * 1000,
    };
}

static bool copy(char *dst, size_t cap, const char *s)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s);
    if (n >= cap)
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

struct aws_key *aws_key_start(struct event_base *base, struct fl_intake *in, const struct aws_key_opts *o,
                              aws_key_done_fn done, void *arg, char *err, size_t errlen)
{
    if (!base || !in || !o || !done || !o->value || !o->value[0]) {
        errbuf_set(err, errlen, "API key from an AWS secret: nothing to resolve");
        return NULL;
    }
    const char *var = o->var ? o->var : "?";
    struct aws_key *k = calloc(1, sizeof *k);
    if (k == NULL) {
        errbuf_set(err, errlen, "API key from %s not resolved: out of memory", var);
        return NULL;
    }
    k->base = base;
    k->in = in;
    k->done = done;
    k->arg = arg;
    k->t0 = clock_us();
    k->source = o->source;
    k->fips = o->fips;
    k->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    k->skew_s = o->skew_s;
    copy(k->var, sizeof k->var, var);
    k->value = strdup(o->value);
    switch (o->source) {
    case CFG_KEY_SECRET_ARN: k->op = AWS_OP_SM; break;
    case CFG_KEY_KMS: k->op = AWS_OP_KMS; break;
    case CFG_KEY_SSM: k->op = AWS_OP_SSM; break;
    default:
        errbuf_set(err, errlen, "API key from %s: not an AWS source", var);
        goto fail;
    }
    if (k->value == NULL) {
        errbuf_set(err, errlen, "API key from %s not resolved: out of memory", var);
        goto fail;
    }
    /* the region: a Secrets Manager or SSM ARN names its own */
    if (!((k->op == AWS_OP_SM || k->op == AWS_OP_SSM) && aws_arn_region(o->value, k->region, sizeof k->region) == 0)) {
        if (!copy(k->region, sizeof k->region, o->region) || !region_ok(k->region)) {
            errbuf_set(err, errlen, "API key from %s not resolved: AWS_REGION is %s", var,
                    (o->region && o->region[0]) ? "not a region name" : "not set");
            goto fail;
        }
    }
    if (!copy(k->fn_name, sizeof k->fn_name, o->fn_name) || !copy(k->endpoint, sizeof k->endpoint, o->endpoint_url)) {
        errbuf_set(err, errlen, "API key from %s not resolved: function name or endpoint too long", var);
        goto fail;
    }
    size_t n = strlen(k->endpoint);
    while (n > 0 && k->endpoint[n - 1] == '/')
        k->endpoint[--n] = '\0';
    bool have_keys = o->access_key_id && o->access_key_id[0] && o->secret_access_key && o->secret_access_key[0];
    if (have_keys) {
        if (!copy(k->cr.access_key_id, sizeof k->cr.access_key_id, o->access_key_id) ||
            !copy(k->cr.secret_access_key, sizeof k->cr.secret_access_key, o->secret_access_key) ||
            !copy(k->cr.session_token, sizeof k->cr.session_token, o->session_token)) {
            errbuf_set(err, errlen, "API key from %s not resolved: AWS credentials too long", var);
            goto fail;
        }
        k->step = STEP_CALL;
    } else if (o->creds_uri && o->creds_uri[0] && o->creds_token && o->creds_token[0]) {
        if (!copy(k->creds_uri, sizeof k->creds_uri, o->creds_uri) ||
            !copy(k->creds_token, sizeof k->creds_token, o->creds_token) || strpbrk(o->creds_token, "\r\n")) {
            errbuf_set(err, errlen, "API key from %s not resolved: SnapStart credentials URI or token malformed", var);
            goto fail;
        }
        k->step = STEP_CREDS;
    } else {
        errbuf_set(err, errlen,
                "API key from %s not resolved: no AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN)", var);
        goto fail;
    }
    /* first request from the loop, like every later one */
    k->backoff = evtimer_new(base, backoff_cb, k);
    struct event *ev = k->backoff;
    if (ev == NULL) {
        errbuf_set(err, errlen, "API key from %s not resolved: out of memory", var);
        goto fail;
    }
    struct timeval zero = {0, 0};
    evtimer_add(ev, &zero);
    return k;
fail:
    aws_key_free(k);
    return NULL;
}

void aws_key_free(struct aws_key *k)
{
    if (k == NULL)
        return;
    if (k->backoff)
        event_free(k->backoff);
    if (k->value) {
        OPENSSL_cleanse(k->value, strlen(k->value));
        free(k->value);
    }
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}
